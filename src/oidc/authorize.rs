//! The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core §3.1.2).
//!
//! Validation order matters: until the client and its redirect URI are verified, every problem is
//! shown as a page; after that, problems go back to the client as `error` redirects.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, sha256_hex};
use crate::login::sessions::ActiveSession;
use crate::state::AppState;
use crate::store::{AuthCode, Client, Grant, PendingAuthorization};

use super::claims::RequestedClaims;
use super::errors::{AuthorizeError, PageError};
use super::pkce;
use super::response::{AuthorizationResponse, RedirectTarget, ResponseMode, error_response};
use super::scopes::{is_supported_scope, parse_scope};

/// A validated authorization request, kept while the user logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub target: RedirectTarget,
    /// Granted scopes: requested ∩ supported ∩ allowed for the client, in request order.
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub ui_locales: Option<String>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    /// `sub` of a valid `id_token_hint`.
    pub hinted_subject: Option<String>,
    /// The `claims` request parameter.
    #[serde(default)]
    pub claims: RequestedClaims,
    /// The client is third-party (asks for consent); known at validation, so not looked up again.
    #[serde(default)]
    pub third_party: bool,
}

impl AuthorizationRequest {
    pub fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }

    /// What the user allows: the scopes, and the scopes carrying claims asked for by name.
    pub fn consent_scopes(&self) -> Vec<String> {
        let mut scopes = self.scopes.clone();
        for scope in self.claims.scopes_needed() {
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_string());
            }
        }
        scopes
    }

    /// The authentication levels that satisfy this request, from `acr_values` and an `acr`
    /// requested with `value(s)` in `claims`, limited to those we support. Empty: any will do
    /// (`acr_values` is a preference, and unknown values cannot be honoured anyway).
    pub fn acceptable_acrs(&self, config: &crate::config::Config) -> Vec<&'static str> {
        let supported = super::discovery::acr_values_supported(config);
        let requested: Vec<&str> = self
            .acr_values
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .chain(self.claims.acr_values.iter().map(String::as_str))
            .collect();
        supported
            .into_iter()
            .filter(|acr| requested.contains(acr))
            .collect()
    }

    /// Whether a session at level `acr` satisfies the request.
    pub fn accepts_acr(&self, config: &crate::config::Config, acr: &str) -> bool {
        let acceptable = self.acceptable_acrs(config);
        acceptable.is_empty()
            || acceptable
                .iter()
                .any(|wanted| crate::login::methods::satisfies(acr, wanted))
    }
}

/// What the authorization endpoint decided.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// Answer the client now.
    Respond(AuthorizationResponse),
    /// The user must log in first; the request waits under `pending_id`.
    Login {
        pending_id: String,
        request: Box<AuthorizationRequest>,
    },
    /// The user is logged in but must allow the (third-party) client first.
    Consent { pending_id: String },
}

fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ()> {
    let mut found = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        Err(())
    } else {
        Ok(first.filter(|v| !v.is_empty()))
    }
}

/// Checks the client and redirect URI (errors are pages), then everything else (errors redirect).
pub async fn validate(
    state: &AppState,
    params: &[(String, String)],
) -> Result<AuthorizationRequest, AuthorizeError> {
    let page = |e| AuthorizeError::Page(e);
    let client_id = single(params, "client_id").map_err(|_| page(PageError::BadRequest))?;
    let client_id = client_id.ok_or(page(PageError::MissingClientId))?;
    let client = state
        .store
        .client_by_id(client_id)
        .await?
        .ok_or(page(PageError::UnknownClient))?;
    let redirect_uri = single(params, "redirect_uri").map_err(|_| page(PageError::BadRequest))?;
    let redirect_uri = redirect_uri.ok_or(page(PageError::MissingRedirectUri))?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(page(PageError::UnregisteredRedirectUri));
    }

    // From here on the redirect URI is trusted. Work out how to answer before anything else.
    let state_param = single(params, "state").ok().flatten().map(str::to_string);
    let mut target = RedirectTarget {
        redirect_uri: redirect_uri.to_string(),
        response_mode: ResponseMode::Query,
        state: state_param,
    };
    let fail = |target: &RedirectTarget, error: &'static str, description: &str| {
        AuthorizeError::Redirect {
            target: target.clone(),
            error,
            description: description.to_string(),
        }
    };
    match single(params, "response_mode") {
        Ok(None) | Ok(Some("query")) => {}
        Ok(Some("form_post")) => target.response_mode = ResponseMode::FormPost,
        _ => {
            return Err(fail(
                &target,
                "invalid_request",
                "Unsupported response_mode.",
            ));
        }
    }
    for name in [
        "state",
        "response_type",
        "scope",
        "nonce",
        "prompt",
        "max_age",
        "code_challenge",
        "code_challenge_method",
        "ui_locales",
        "login_hint",
        "id_token_hint",
        "acr_values",
        "claims",
    ] {
        if single(params, name).is_err() {
            return Err(fail(
                &target,
                "invalid_request",
                &format!("The parameter {name} was sent more than once."),
            ));
        }
    }
    let get = |name: &str| single(params, name).ok().flatten();

    if get("request").is_some() {
        return Err(fail(
            &target,
            "request_not_supported",
            "Request objects are not supported.",
        ));
    }
    if get("request_uri").is_some() {
        return Err(fail(
            &target,
            "request_uri_not_supported",
            "The request_uri parameter is not supported.",
        ));
    }
    match get("response_type") {
        None => {
            return Err(fail(
                &target,
                "invalid_request",
                "The response_type parameter is missing.",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                &target,
                "unsupported_response_type",
                "Only response_type=code is supported.",
            ));
        }
    }

    let requested = parse_scope(get("scope").unwrap_or_default());
    if !requested.iter().any(|s| s == "openid") {
        return Err(fail(
            &target,
            "invalid_scope",
            "The scope must include openid.",
        ));
    }
    let scopes = grantable_scopes(state, &client, &requested);

    let prompt: Vec<String> = get("prompt").map(parse_scope).unwrap_or_default();
    for p in &prompt {
        if !["none", "login", "consent", "select_account"].contains(&p.as_str()) {
            return Err(fail(&target, "invalid_request", "Unknown prompt value."));
        }
    }
    if prompt.len() > 1 && prompt.iter().any(|p| p == "none") {
        return Err(fail(
            &target,
            "invalid_request",
            "prompt=none cannot be combined with other values.",
        ));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return Err(fail(
                    &target,
                    "invalid_request",
                    "max_age must be a non-negative integer.",
                ));
            }
        },
    };

    let code_challenge = get("code_challenge").map(str::to_string);
    let code_challenge_method = match (&code_challenge, get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(fail(
                &target,
                "invalid_request",
                "code_challenge_method was sent without code_challenge.",
            ));
        }
        (Some(_), None) | (Some(_), Some("plain")) => {
            return Err(fail(
                &target,
                "invalid_request",
                "Only code_challenge_method=S256 is supported.",
            ));
        }
        (Some(challenge), Some("S256")) => {
            if !pkce::is_valid_s256_challenge(challenge) {
                return Err(fail(
                    &target,
                    "invalid_request",
                    "The code_challenge is malformed.",
                ));
            }
            Some("S256".to_string())
        }
        (Some(_), Some(_)) => {
            return Err(fail(
                &target,
                "invalid_request",
                "Only code_challenge_method=S256 is supported.",
            ));
        }
    };
    if client.is_public() && code_challenge.is_none() {
        return Err(fail(
            &target,
            "invalid_request",
            "PKCE (code_challenge with S256) is required for this client.",
        ));
    }

    let hinted_subject = match get("id_token_hint") {
        None => None,
        Some(hint) => {
            match super::tokens::subject_of_id_token_hint(state, hint, &client.id).await {
                Some(sub) => Some(sub),
                None => {
                    return Err(fail(
                        &target,
                        "invalid_request",
                        "The id_token_hint is not valid.",
                    ));
                }
            }
        }
    };

    let mut claims = match get("claims") {
        None => RequestedClaims::default(),
        Some(raw) => RequestedClaims::parse(raw)
            .map_err(|description| fail(&target, "invalid_request", description))?,
    };
    claims.limit_to_scopes(&client.allowed_scopes);

    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        target,
        scopes,
        nonce: get("nonce").map(str::to_string),
        code_challenge,
        code_challenge_method,
        prompt,
        max_age,
        ui_locales: get("ui_locales").map(str::to_string),
        login_hint: get("login_hint").map(str::to_string),
        acr_values: get("acr_values").map(str::to_string),
        hinted_subject,
        claims,
        third_party: !client.first_party,
    })
}

/// Requested ∩ supported ∩ allowed for the client; `openid` always stays.
fn grantable_scopes(state: &AppState, client: &Client, requested: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|s| {
            s.as_str() == "openid"
                || (is_supported_scope(&state.config, s) && client.allowed_scopes.contains(s))
        })
        .cloned()
        .collect()
}

/// The whole endpoint: validate, then answer silently from the session or ask for a login (or
/// for consent).
pub async fn authorize(
    state: &AppState,
    params: &[(String, String)],
    session: Option<&ActiveSession>,
) -> Result<AuthorizeOutcome, AuthorizeError> {
    let request = validate(state, params).await?;
    let now = state.clock.now();
    let usable = session.filter(|s| session_satisfies(state, &request, s, now));
    // select_account: one account per browser here, so choosing means logging in again.
    let must_log_in = request.prompts("login") || request.prompts("select_account");
    match usable {
        Some(active) if !must_log_in => {
            if !consent_needed(state, &request, &active.user.id).await? {
                return Ok(AuthorizeOutcome::Respond(
                    issue_code(state, &request, active).await?,
                ));
            }
            if request.prompts("none") {
                return Ok(AuthorizeOutcome::Respond(error_response(
                    &state.config.issuer,
                    &request.target,
                    "consent_required",
                    "The user must allow this app first.",
                )));
            }
            let pending_id = keep_pending(state, &request).await?;
            Ok(AuthorizeOutcome::Consent { pending_id })
        }
        _ if request.prompts("none") => Ok(AuthorizeOutcome::Respond(error_response(
            &state.config.issuer,
            &request.target,
            "login_required",
            "The user must log in.",
        ))),
        _ => {
            let pending_id = keep_pending(state, &request).await?;
            Ok(AuthorizeOutcome::Login {
                pending_id,
                request: Box::new(request),
            })
        }
    }
}

/// Whether `active` answers `request` (made at `requested_at`) without a new login: recent enough
/// for `max_age`, the hinted subject, an accepted authentication level.
fn session_satisfies(
    state: &AppState,
    request: &AuthorizationRequest,
    active: &ActiveSession,
    requested_at: i64,
) -> bool {
    let fresh_enough = request
        .max_age
        .is_none_or(|max| requested_at - active.session.auth_time <= max);
    let same_subject = request
        .hinted_subject
        .as_ref()
        .is_none_or(|sub| sub == &active.user.id);
    fresh_enough && same_subject && request.accepts_acr(&state.config, &active.session.acr)
}

async fn keep_pending(
    state: &AppState,
    request: &AuthorizationRequest,
) -> Result<String, AuthorizeError> {
    let now = state.clock.now();
    let pending_id = random_token(state.entropy.as_ref());
    let pending = PendingAuthorization {
        id: pending_id.clone(),
        request_json: serde_json::to_string(request)
            .map_err(|e| AuthorizeError::Internal(crate::error::InternalError::other(e)))?,
        created_at: now,
        expires_at: now + state.config.session.pending_authorization_ttl,
    };
    state.store.insert_pending_authorization(&pending).await?;
    Ok(pending_id)
}

/// `prompt=consent` always asks; otherwise only third-party clients ask, and only for scopes
/// the user has not allowed before.
async fn consent_needed(
    state: &AppState,
    request: &AuthorizationRequest,
    user_id: &str,
) -> Result<bool, AuthorizeError> {
    if request.prompts("consent") {
        return Ok(true);
    }
    if !request.third_party {
        return Ok(false);
    }
    let allowed = state
        .store
        .consent(user_id, &request.client_id)
        .await?
        .map(|c| parse_scope(&c.scope))
        .unwrap_or_default();
    Ok(!request.consent_scopes().iter().all(|s| allowed.contains(s)))
}

/// Loads a request waiting for login.
pub async fn pending_request(
    state: &AppState,
    pending_id: &str,
) -> Result<AuthorizationRequest, AuthorizeError> {
    Ok(pending_request_and_time(state, pending_id).await?.0)
}

/// [`pending_request`] and when the request was made.
async fn pending_request_and_time(
    state: &AppState,
    pending_id: &str,
) -> Result<(AuthorizationRequest, i64), AuthorizeError> {
    let pending = state
        .store
        .pending_authorization(pending_id, state.clock.now())
        .await?
        .ok_or(AuthorizeError::Page(PageError::RequestExpired))?;
    let request = serde_json::from_str(&pending.request_json)
        .map_err(|_| AuthorizeError::Page(PageError::RequestExpired))?;
    Ok((request, pending.created_at))
}

/// Continues a request after the user logged in: a code, or first the consent page. `loaded`
/// is the pending request if the caller has already read it.
pub async fn resume_after_login(
    state: &AppState,
    pending_id: &str,
    loaded: Option<AuthorizationRequest>,
    session: &ActiveSession,
) -> Result<AuthorizeOutcome, AuthorizeError> {
    let request = match loaded {
        Some(request) => request,
        None => pending_request(state, pending_id).await?,
    };
    if !request.accepts_acr(&state.config, &session.session.acr) {
        state.store.delete_pending_authorization(pending_id).await?;
        return Ok(AuthorizeOutcome::Respond(error_response(
            &state.config.issuer,
            &request.target,
            "access_denied",
            "The requested authentication level was not met.",
        )));
    }
    if consent_needed(state, &request, &session.user.id).await? {
        return Ok(AuthorizeOutcome::Consent {
            pending_id: pending_id.to_string(),
        });
    }
    Ok(AuthorizeOutcome::Respond(
        issue_code_for_pending(state, &request, session, Some(pending_id)).await?,
    ))
}

/// The user answered the consent page: remember what was allowed and issue a code, or tell the
/// client the user said no.
pub async fn finish_consent(
    state: &AppState,
    pending_id: &str,
    session: &ActiveSession,
    approved: bool,
) -> Result<AuthorizationResponse, AuthorizeError> {
    let (request, requested_at) = pending_request_and_time(state, pending_id).await?;
    // Only a request the session answers may be consented to: not one still waiting for the
    // login it demanded (BankID, prompt=login, max_age, another subject).
    let must_log_in = request.prompts("login") || request.prompts("select_account");
    let logged_in_since = session.session.auth_time >= requested_at;
    if !session_satisfies(state, &request, session, requested_at)
        || (must_log_in && !logged_in_since)
    {
        return Err(AuthorizeError::Page(PageError::BadRequest));
    }
    if !approved {
        state.store.delete_pending_authorization(pending_id).await?;
        return Ok(error_response(
            &state.config.issuer,
            &request.target,
            "access_denied",
            "The user did not allow the app.",
        ));
    }
    let mut allowed = state
        .store
        .consent(&session.user.id, &request.client_id)
        .await?
        .map(|c| parse_scope(&c.scope))
        .unwrap_or_default();
    for scope in request.consent_scopes() {
        if !allowed.contains(&scope) {
            allowed.push(scope);
        }
    }
    let consent = crate::store::Consent {
        user_id: session.user.id.clone(),
        client_id: request.client_id.clone(),
        scope: allowed.join(" "),
        granted_at: state.clock.now(),
    };
    // Remembered together with the code it leads to: both or neither.
    issue_code_with(state, &request, session, Some(pending_id), Some(&consent)).await
}

/// Creates the grant and a single-use code for it, and records the client on the session.
pub async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    active: &ActiveSession,
) -> Result<AuthorizationResponse, AuthorizeError> {
    issue_code_for_pending(state, request, active, None).await
}

/// [`issue_code`], using up the pending request `pending_id` in the same transaction.
async fn issue_code_for_pending(
    state: &AppState,
    request: &AuthorizationRequest,
    active: &ActiveSession,
    pending_id: Option<&str>,
) -> Result<AuthorizationResponse, AuthorizeError> {
    issue_code_with(state, request, active, pending_id, None).await
}

/// [`issue_code_for_pending`], also saving the consent just given, in the same transaction.
async fn issue_code_with(
    state: &AppState,
    request: &AuthorizationRequest,
    active: &ActiveSession,
    pending_id: Option<&str>,
    consent: Option<&crate::store::Consent>,
) -> Result<AuthorizationResponse, AuthorizeError> {
    let now = state.clock.now();
    let code = random_token(state.entropy.as_ref());
    let grant = Grant {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: active.user.id.clone(),
        client_id: request.client_id.clone(),
        scope: request.scopes.join(" "),
        auth_time: active.session.auth_time,
        amr: active.session.amr.clone(),
        acr: active.session.acr.clone(),
        sid: Some(active.session.sid.clone()),
        created_at: now,
        expires_at: now + state.config.tokens.refresh_token_ttl,
        revoked_at: None,
        requested_claims: (!request.claims.is_empty())
            .then(|| serde_json::to_string(&request.claims).ok())
            .flatten(),
    };
    let code_row = AuthCode {
        code_hash: sha256_hex(code.as_bytes()),
        grant_id: grant.id.clone(),
        client_id: request.client_id.clone(),
        redirect_uri: request.target.redirect_uri.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        code_challenge_method: request.code_challenge_method.clone(),
        created_at: now,
        expires_at: now + state.config.tokens.authorization_code_ttl,
        used_at: None,
    };
    state
        .store
        .record_authorization(&grant, &code_row, &active.session.sid, pending_id, consent)
        .await?;
    let mut params = vec![("code".to_string(), code)];
    if let Some(s) = &request.target.state {
        params.push(("state".into(), s.clone()));
    }
    params.push(("iss".into(), state.config.issuer.clone()));
    Ok(AuthorizationResponse {
        target: request.target.clone(),
        params,
    })
}

/// Query or form parameters as ordered pairs (duplicates kept, so they can be refused).
pub fn pairs_from_map(map: &HashMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

//! Validating an authorization request, in the order the RFC demands: until the client and its
//! redirect URI are verified every problem is a page ([`PageError`]); after that, problems go back
//! to the client as `error` redirects.

use crate::config::Config;
use crate::state::AppState;
use crate::store::Client;

use super::request::AuthorizationRequest;
use crate::oidc::claims::RequestedClaims;
use crate::oidc::errors::{AuthorizeError, PageError};
use crate::oidc::pkce;
use crate::oidc::response::{RedirectTarget, ResponseMode};
use crate::oidc::scopes::{is_supported_scope, parse_scope};

/// Parameters that may appear at most once (RFC 6749 §3.1); `client_id`, `redirect_uri` and
/// `response_mode` are checked on their own, earlier.
const SINGLE_VALUED: [&str; 14] = [
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
    "dpop_jkt",
];

const PROMPT_VALUES: [&str; 4] = ["none", "login", "consent", "select_account"];

/// Query or form parameters in the order sent, duplicates kept so they can be refused.
pub struct Params<'a>(&'a [(String, String)]);

impl<'a> Params<'a> {
    pub fn new(pairs: &'a [(String, String)]) -> Self {
        Params(pairs)
    }

    /// The one value of `name` (an empty value counts as absent); `Err` if sent more than once.
    pub fn single(&self, name: &str) -> Result<Option<&'a str>, Repeated> {
        let mut found = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            Err(Repeated)
        } else {
            Ok(first.filter(|v| !v.is_empty()))
        }
    }

    /// The value of `name`, once repeats have been refused.
    fn get(&self, name: &str) -> Option<&'a str> {
        self.single(name).ok().flatten()
    }
}

/// A parameter sent more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated;

/// Why a request with a verified redirect URI is refused: sent back to the client as `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
}

impl Refusal {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Refusal {
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Refusal::new("invalid_request", description)
    }

    fn to(self, target: &RedirectTarget) -> AuthorizeError {
        AuthorizeError::Redirect {
            target: target.clone(),
            error: self.error,
            description: self.description,
        }
    }
}

/// Where the parameters of an authorization request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The browser brought them to `/authorize`.
    Direct,
    /// The client pushed them to `/par` (RFC 9126), authenticated.
    Pushed,
}

/// Checks the client and redirect URI (errors are pages), then everything else (errors redirect).
/// A `request_uri` from `/par` stands for the whole request: only the pushed parameters count
/// (RFC 9126 §4), and the request is used up.
pub async fn validate(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<AuthorizationRequest, AuthorizeError> {
    let params = Params::new(pairs);
    let client = registered_client(state, &params).await?;
    match pushed_request_uri(&params)? {
        Some(request_uri) => {
            let pushed = super::pushed::take(state, &client, request_uri).await?;
            validate_for_client(state, &client, &pushed, Origin::Pushed).await
        }
        None => validate_for_client(state, &client, pairs, Origin::Direct).await,
    }
}

/// The `request_uri` if it names a pushed request. Any other value would be a request object
/// by reference, refused later at the verified redirect URI like `request`.
fn pushed_request_uri<'a>(params: &Params<'a>) -> Result<Option<&'a str>, AuthorizeError> {
    match params.single("request_uri") {
        Ok(Some(uri)) if uri.starts_with(super::pushed::REQUEST_URI_PREFIX) => Ok(Some(uri)),
        Ok(_) => Ok(None),
        // Which of them would be the request? Neither can be trusted.
        Err(Repeated) => Err(AuthorizeError::Page(PageError::BadRequest)),
    }
}

/// [`validate`] once the client is known (named in the request, or authenticated at `/par`).
pub async fn validate_for_client(
    state: &AppState,
    client: &Client,
    pairs: &[(String, String)],
    origin: Origin,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let params = Params::new(pairs);
    let redirect_uri = verified_redirect_uri(&params, client).map_err(AuthorizeError::Page)?;

    // From here on the redirect URI is trusted: work out how to answer before anything else.
    let mut target = RedirectTarget {
        redirect_uri: redirect_uri.to_string(),
        response_mode: ResponseMode::Query,
        state: params.get("state").map(str::to_string),
    };
    target.response_mode = response_mode(&params).map_err(|r| r.to(&target))?;
    if origin == Origin::Direct && client.require_pushed_authorization_requests {
        return Err(Refusal::invalid_request(
            "This app must send its authorization request to the pushed authorization request \
             endpoint (/par) first and bring the request_uri it gets.",
        )
        .to(&target));
    }
    let mut request = check_parameters(&state.config, client, &params, target.clone())
        .map_err(|r| r.to(&target))?;
    if let Some(hint) = params.get("id_token_hint") {
        request.hinted_subject =
            crate::oidc::tokens::subject_of_id_token_hint(state, hint, &client.id).await;
        if request.hinted_subject.is_none() {
            return Err(Refusal::invalid_request("The id_token_hint is not valid.").to(&target));
        }
    }
    Ok(request)
}

async fn registered_client(
    state: &AppState,
    params: &Params<'_>,
) -> Result<Client, AuthorizeError> {
    let page = AuthorizeError::Page;
    let client_id = params
        .single("client_id")
        .map_err(|_| page(PageError::BadRequest))?
        .ok_or(page(PageError::MissingClientId))?;
    state
        .store
        .client_by_id(client_id)
        .await?
        .ok_or(page(PageError::UnknownClient))
}

/// The `redirect_uri`, if it is exactly one the client registered.
pub fn verified_redirect_uri<'a>(
    params: &Params<'a>,
    client: &Client,
) -> Result<&'a str, PageError> {
    let redirect_uri = params
        .single("redirect_uri")
        .map_err(|_| PageError::BadRequest)?
        .ok_or(PageError::MissingRedirectUri)?;
    if client.redirect_uris.iter().any(|r| r == redirect_uri) {
        Ok(redirect_uri)
    } else {
        Err(PageError::UnregisteredRedirectUri)
    }
}

fn response_mode(params: &Params<'_>) -> Result<ResponseMode, Refusal> {
    match params.single("response_mode") {
        Ok(None) | Ok(Some("query")) => Ok(ResponseMode::Query),
        Ok(Some("form_post")) => Ok(ResponseMode::FormPost),
        _ => Err(Refusal::invalid_request("Unsupported response_mode.")),
    }
}

/// Everything after the redirect URI that needs no database: the request as far as the
/// parameters say (`hinted_subject` is filled in by the caller, which can check the signature).
pub fn check_parameters(
    config: &Config,
    client: &Client,
    params: &Params<'_>,
    target: RedirectTarget,
) -> Result<AuthorizationRequest, Refusal> {
    if let Some(name) = SINGLE_VALUED
        .iter()
        .find(|name| params.single(name).is_err())
    {
        return Err(Refusal::invalid_request(format!(
            "The parameter {name} was sent more than once."
        )));
    }
    if params.get("request").is_some() {
        return Err(Refusal::new(
            "request_not_supported",
            "Request objects are not supported.",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(Refusal::new(
            "request_uri_not_supported",
            "The request_uri parameter is not supported.",
        ));
    }
    match params.get("response_type") {
        None => {
            return Err(Refusal::invalid_request(
                "The response_type parameter is missing.",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(Refusal::new(
                "unsupported_response_type",
                "Only response_type=code is supported.",
            ));
        }
    }
    let requested = parse_scope(params.get("scope").unwrap_or_default());
    if !requested.iter().any(|s| s == "openid") {
        return Err(Refusal::new(
            "invalid_scope",
            "The scope must include openid.",
        ));
    }
    let prompt = prompt(params)?;
    let max_age = max_age(params)?;
    let (code_challenge, code_challenge_method) = pkce_parameters(params, client)?;
    let mut claims = match params.get("claims") {
        None => RequestedClaims::default(),
        Some(raw) => RequestedClaims::parse(raw).map_err(Refusal::invalid_request)?,
    };
    claims.limit_to_scopes(&client.allowed_scopes);
    let dpop_jkt = match params.get("dpop_jkt") {
        None => None,
        Some(jkt) if is_sha256_b64url(jkt) => Some(jkt.to_string()),
        Some(_) => {
            return Err(Refusal::invalid_request(
                "The dpop_jkt is not a base64url SHA-256 thumbprint.",
            ));
        }
    };

    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        target,
        scopes: grantable_scopes(config, client, &requested),
        nonce: params.get("nonce").map(str::to_string),
        code_challenge,
        code_challenge_method,
        prompt,
        max_age,
        ui_locales: params.get("ui_locales").map(str::to_string),
        login_hint: params.get("login_hint").map(str::to_string),
        acr_values: params.get("acr_values").map(str::to_string),
        hinted_subject: None,
        claims,
        third_party: !client.first_party,
        dpop_jkt,
    })
}

/// 43 base64url characters: what a SHA-256 JWK thumbprint looks like (RFC 9449 §10).
fn is_sha256_b64url(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Requested ∩ supported ∩ allowed for the client; `openid` always stays.
fn grantable_scopes(config: &Config, client: &Client, requested: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|s| {
            s.as_str() == "openid"
                || (is_supported_scope(config, s) && client.allowed_scopes.contains(s))
        })
        .cloned()
        .collect()
}

fn prompt(params: &Params<'_>) -> Result<Vec<String>, Refusal> {
    let prompt: Vec<String> = params.get("prompt").map(parse_scope).unwrap_or_default();
    if prompt.iter().any(|p| !PROMPT_VALUES.contains(&p.as_str())) {
        return Err(Refusal::invalid_request("Unknown prompt value."));
    }
    if prompt.len() > 1 && prompt.iter().any(|p| p == "none") {
        return Err(Refusal::invalid_request(
            "prompt=none cannot be combined with other values.",
        ));
    }
    Ok(prompt)
}

fn max_age(params: &Params<'_>) -> Result<Option<i64>, Refusal> {
    match params.get("max_age") {
        None => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(v) if v >= 0 => Ok(Some(v)),
            _ => Err(Refusal::invalid_request(
                "max_age must be a non-negative integer.",
            )),
        },
    }
}

/// `code_challenge` and its method: S256 only (RFC 7636; `plain` is refused, as OAuth 2.1 does),
/// and required of public clients.
fn pkce_parameters(
    params: &Params<'_>,
    client: &Client,
) -> Result<(Option<String>, Option<String>), Refusal> {
    let only_s256 = || Refusal::invalid_request("Only code_challenge_method=S256 is supported.");
    match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) if client.is_public() => Err(Refusal::invalid_request(
            "PKCE (code_challenge with S256) is required for this client.",
        )),
        (None, None) => Ok((None, None)),
        (None, Some(_)) => Err(Refusal::invalid_request(
            "code_challenge_method was sent without code_challenge.",
        )),
        (Some(challenge), Some("S256")) if pkce::is_valid_s256_challenge(challenge) => {
            Ok((Some(challenge.to_string()), Some("S256".to_string())))
        }
        (Some(_), Some("S256")) => {
            Err(Refusal::invalid_request("The code_challenge is malformed."))
        }
        (Some(_), _) => Err(only_s256()),
    }
}

//! The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core §3.1.2): validate the request,
//! then answer it from the session, or keep it while the user logs in or gives consent.

mod code;
mod pending;
mod pushed;
mod request;
mod validate;

use crate::login::sessions::ActiveSession;
use crate::state::AppState;
use crate::store::Consent;

use super::errors::{AuthorizeError, PageError};
use super::response::{AuthorizationResponse, error_response};
use super::scopes::parse_scope;
use code::{AlongWithCode, issue_code_with};
use pending::{keep_pending, pending_request_and_time};

pub use code::issue_code;
pub use pending::pending_request;
pub use pushed::{PUSHED_REQUEST_TTL, PushedAuthorization, REQUEST_URI_PREFIX, push};
pub use request::AuthorizationRequest;
pub use validate::{
    Origin, Params, Refusal, check_parameters, validate, validate_for_client, verified_redirect_uri,
};

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
    let must_log_in = request.demands_login();
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
        issue_code_with(
            state,
            &request,
            session,
            AlongWithCode {
                pending_id: Some(pending_id),
                consent: None,
            },
        )
        .await?,
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
    let must_log_in = request.demands_login();
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
    let consent = Consent {
        user_id: session.user.id.clone(),
        client_id: request.client_id.clone(),
        scope: allowed.join(" "),
        granted_at: state.clock.now(),
    };
    // Remembered together with the code it leads to: both or neither.
    issue_code_with(
        state,
        &request,
        session,
        AlongWithCode {
            pending_id: Some(pending_id),
            consent: Some(&consent),
        },
    )
    .await
}

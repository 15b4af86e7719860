//! Pushed authorization requests (RFC 9126): the client sends its authorization request to `/par`
//! over the back channel, authenticated, and gets a short-lived `request_uri` that the browser
//! brings to `/authorize` instead of the parameters. The parameters never travel through the
//! browser, so nobody on the way can read or change them.

use std::collections::HashMap;

use serde::Serialize;

use crate::crypto::{random_token, sha256_hex};
use crate::error::InternalError;
use crate::state::AppState;
use crate::store::{Client, PushedRequest};

use super::validate::{Origin, validate_for_client};
use crate::oidc::dpop::PresentedProof;
use crate::oidc::errors::{AuthorizeError, PageError, TokenError};

/// RFC 9126 §2.2: the `request_uri` of a pushed request.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Seconds a pushed request waits for the browser. The browser is sent on at once, so a minute
/// is plenty (RFC 9126 §2.2 suggests 5 to 600 s); a short life makes a leaked `request_uri`
/// worthless sooner.
pub const PUSHED_REQUEST_TTL: i64 = 60;

/// Form fields that authenticate the client at `/par`: checked there, never kept with the
/// request.
const CLIENT_CREDENTIALS: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// The answer of `/par` (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushedAuthorization {
    pub request_uri: String,
    pub expires_in: i64,
}

/// Validates an authenticated client's pushed authorization request exactly as `/authorize`
/// would, and keeps it (only the hash of its `request_uri`) until the browser brings it. Every
/// problem is a JSON error (RFC 9126 §2.3): nothing is redirected from the back channel.
pub async fn push(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
    proof: &PresentedProof,
) -> Result<PushedAuthorization, TokenError> {
    // RFC 9126 §2.1: a pushed request cannot itself point to another one.
    if form.contains_key("request_uri") {
        return Err(TokenError::invalid_request(
            "A pushed authorization request must not contain request_uri.",
        ));
    }
    if form.get("client_id").is_some_and(|id| *id != client.id) {
        return Err(TokenError::invalid_request(
            "client_id does not match the authenticated client.",
        ));
    }
    let mut pairs: Vec<(String, String)> = form
        .iter()
        .filter(|(name, _)| !CLIENT_CREDENTIALS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    // A client authenticated by the Authorization header need not repeat its id in the body, but
    // the request must name it when it is validated again at /authorize.
    if !pairs.iter().any(|(name, _)| name == "client_id") {
        pairs.push(("client_id".into(), client.id.clone()));
    }
    bind_to_proof_key(state, client, form, proof, &mut pairs)?;
    pairs.sort();
    validate_for_client(state, client, &pairs, Origin::Pushed)
        .await
        .map_err(refused_at_par)?;

    let now = state.clock.now();
    let request_uri = format!(
        "{REQUEST_URI_PREFIX}{}",
        random_token(state.entropy.as_ref())
    );
    let row = PushedRequest {
        request_uri_hash: sha256_hex(request_uri.as_bytes()),
        client_id: client.id.clone(),
        params_json: serde_json::to_string(&pairs).map_err(InternalError::other)?,
        created_at: now,
        expires_at: now + PUSHED_REQUEST_TTL,
    };
    state.store.insert_pushed_request(&row).await?;
    Ok(PushedAuthorization {
        request_uri,
        expires_in: PUSHED_REQUEST_TTL,
    })
}

/// RFC 9449 §10.1: a DPoP proof sent to `/par` binds the code to its key, as `dpop_jkt` would;
/// when both are sent they must name the same key.
fn bind_to_proof_key(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
    proof: &PresentedProof,
    pairs: &mut Vec<(String, String)>,
) -> Result<(), TokenError> {
    if proof.is_absent() {
        return Ok(());
    }
    // Not a token request: the client's "DPoP required" does not apply, its nonce rule does.
    let relaxed = Client {
        dpop_bound_access_tokens: false,
        ..client.clone()
    };
    let endpoint = crate::oidc::discovery::endpoint(&state.config, "/par");
    let key = crate::oidc::token::sender_key(state, &relaxed, proof, &endpoint)?;
    let Some(jkt) = key.jkt else {
        return Ok(());
    };
    match form.get("dpop_jkt") {
        Some(named) if *named != jkt => Err(TokenError::new(
            400,
            "invalid_dpop_proof",
            "The dpop_jkt names another key than the DPoP proof's.",
        )),
        Some(_) => Ok(()),
        None => {
            pairs.push(("dpop_jkt".into(), jkt));
            Ok(())
        }
    }
}

/// What `/authorize` would have shown or redirected, as `/par`'s JSON error. RFC 6749 has no
/// code for a bad redirect URI (it is never redirected to); RFC 9126 §2.3 allows
/// `invalid_request`, and the registered `invalid_redirect_uri` says more.
fn refused_at_par(error: AuthorizeError) -> TokenError {
    match error {
        AuthorizeError::Redirect {
            error, description, ..
        } => TokenError::new(400, error, description),
        AuthorizeError::Page(PageError::MissingRedirectUri) => {
            TokenError::invalid_request("The redirect_uri parameter is missing.")
        }
        AuthorizeError::Page(PageError::UnregisteredRedirectUri) => TokenError::new(
            400,
            "invalid_redirect_uri",
            "The redirect_uri is not registered for this client.",
        ),
        AuthorizeError::Page(_) => TokenError::invalid_request("The request is malformed."),
        AuthorizeError::Internal(e) => e.into(),
    }
}

/// The parameters pushed under `request_uri` by `client`, used up: once, before they expire.
/// Anything else (unknown, used, expired, another client's) is the page for a request that is
/// gone, since without the pushed request no redirect URI can be trusted.
pub(super) async fn take(
    state: &AppState,
    client: &Client,
    request_uri: &str,
) -> Result<Vec<(String, String)>, AuthorizeError> {
    let hash = sha256_hex(request_uri.as_bytes());
    let pushed = state
        .store
        .take_pushed_request(&hash, &client.id, state.clock.now())
        .await?
        .ok_or(AuthorizeError::Page(PageError::RequestExpired))?;
    serde_json::from_str(&pushed.params_json)
        .map_err(|e| AuthorizeError::Internal(InternalError::other(e)))
}

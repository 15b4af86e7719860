//! Requests waiting while the user logs in or answers the consent page.

use crate::crypto::random_token;
use crate::error::InternalError;
use crate::state::AppState;
use crate::store::PendingAuthorization;

use super::request::AuthorizationRequest;
use crate::oidc::errors::{AuthorizeError, PageError};

/// Stores `request` until the login it needs is done; returns the id the login pages carry.
pub(super) async fn keep_pending(
    state: &AppState,
    request: &AuthorizationRequest,
) -> Result<String, AuthorizeError> {
    let now = state.clock.now();
    let pending_id = random_token(state.entropy.as_ref());
    let pending = PendingAuthorization {
        id: pending_id.clone(),
        request_json: serde_json::to_string(request).map_err(InternalError::other)?,
        created_at: now,
        expires_at: now + state.config.session.pending_authorization_ttl,
    };
    state.store.insert_pending_authorization(&pending).await?;
    Ok(pending_id)
}

/// Loads a request waiting for login.
pub async fn pending_request(
    state: &AppState,
    pending_id: &str,
) -> Result<AuthorizationRequest, AuthorizeError> {
    Ok(pending_request_and_time(state, pending_id).await?.0)
}

/// [`pending_request`] and when the request was made.
pub(super) async fn pending_request_and_time(
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

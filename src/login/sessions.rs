//! Login sessions: a random cookie value, stored only as its SHA-256.

use crate::audit::{Event, kinds};
use crate::crypto::{random_id, random_token, sha256_hex};
use crate::login::methods::Method;
use crate::state::AppState;
use crate::store::{Session, StoreResult, User};

/// The session cookie. `__Host-` binds it to our origin: Secure, Path=/, no Domain.
pub const SESSION_COOKIE: &str = "__Host-leasify-session";

/// A live session and its (enabled) user.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub session: Session,
    pub user: User,
}

/// Starts a session after a successful authentication; returns the cookie value.
pub async fn start(
    state: &AppState,
    user: User,
    method: Method,
) -> StoreResult<(String, ActiveSession)> {
    let (cookie, active) = prepare(state, user, method);
    let event = login_succeeded(&active, method).at(active.session.created_at);
    state
        .store
        .insert_session(&active.session, &[event])
        .await?;
    Ok((cookie, active))
}

/// The audit event of a session started by `method`.
pub fn login_succeeded(active: &ActiveSession, method: Method) -> Event {
    Event::by_user(kinds::LOGIN_SUCCEEDED, &active.user.id).detail("method", method.name())
}

/// A new session and its cookie value, not yet stored (for a caller that stores it together
/// with the change that authenticated the user).
pub fn prepare(state: &AppState, user: User, method: Method) -> (String, ActiveSession) {
    let now = state.clock.now();
    let cookie = random_token(state.entropy.as_ref());
    let session = Session {
        id_hash: sha256_hex(cookie.as_bytes()),
        sid: random_id(state.entropy.as_ref()),
        user_id: user.id.clone(),
        auth_time: now,
        amr: method.amr(),
        acr: method.acr().to_string(),
        created_at: now,
        expires_at: now + state.config.session.ttl,
    };
    (cookie, ActiveSession { session, user })
}

/// The session behind a cookie value, if it is live and its user is enabled.
pub async fn current(state: &AppState, cookie: Option<&str>) -> StoreResult<Option<ActiveSession>> {
    let Some(cookie) = cookie.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let Some(session) = state
        .store
        .session_by_hash(&sha256_hex(cookie.as_bytes()), state.clock.now())
        .await?
    else {
        return Ok(None);
    };
    match state.store.user_by_id(&session.user_id).await? {
        Some(user) if !user.disabled => Ok(Some(ActiveSession { session, user })),
        _ => Ok(None),
    }
}

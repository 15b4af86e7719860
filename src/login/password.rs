//! Email + password login. Every failure looks the same from outside: same message, and an
//! unknown email costs one argon2 verification like a known one. Attempts are counted before
//! the hash is checked (see `throttle.rs`).

use std::net::IpAddr;

use crate::audit::{Event, kinds};
use crate::crypto::CryptoError;
use crate::state::AppState;
use crate::store::{StoreError, User};
use crate::telemetry::{self, LoginResult};

use super::methods::Method;
use super::{device, throttle};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong email or password, disabled account, or no password set yet.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("too many failed attempts")]
    Throttled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Where a password attempt comes from: the client's address and the browser's device cookie.
#[derive(Debug, Clone, Copy)]
pub struct AttemptSource<'a> {
    pub ip: IpAddr,
    pub device_cookie: Option<&'a str>,
}

/// A password that checked out.
#[derive(Debug)]
pub struct PasswordLogin {
    pub user: User,
    /// The device cookie value to set (renewed, or new for this browser and account).
    pub device_cookie: String,
}

/// Checks the credentials; on success returns the user (the caller starts the session).
pub async fn verify_password_login(
    state: &AppState,
    email: &str,
    password: &str,
    source: AttemptSource<'_>,
) -> Result<PasswordLogin, LoginError> {
    let email = normalize_email(email);
    let device_id = device::device_for(state, source.device_cookie, &email);
    let Some(attempt) =
        throttle::take_attempt(state, &email, source.ip, device_id.as_deref()).await?
    else {
        tracing::info!(client_ip = %source.ip, known_device = device_id.is_some(), "password login throttled");
        record_failure(state, None, "throttled").await?;
        telemetry::login("password", LoginResult::Throttled);
        return Err(LoginError::Throttled);
    };
    let user = state.store.user_by_email(&email).await?;
    let verified = match user
        .as_ref()
        .and_then(|u| u.password_hash.as_deref().map(|h| (u, h)))
    {
        Some((user, hash)) => state.passwords.verify(password, hash).await? && !user.disabled,
        None => {
            state.passwords.verify_dummy(password).await;
            false
        }
    };
    match user {
        Some(user) if verified => {
            throttle::record_success(state, &attempt).await?;
            let device_cookie = device::issue(state, device_id.as_deref(), &email);
            telemetry::login("password", LoginResult::Success);
            Ok(PasswordLogin {
                user,
                device_cookie,
            })
        }
        other => {
            tracing::info!(client_ip = %source.ip, "password login failed");
            let (user_id, reason) = match &other {
                None => (None, "unknown_email"),
                Some(user) if user.disabled => (Some(user.id.as_str()), "account_disabled"),
                Some(user) if user.password_hash.is_none() => {
                    (Some(user.id.as_str()), "no_password")
                }
                Some(user) => (Some(user.id.as_str()), "wrong_password"),
            };
            record_failure(state, user_id, reason).await?;
            telemetry::login("password", LoginResult::Failure);
            Err(LoginError::InvalidCredentials)
        }
    }
}

/// A failed attempt in the audit trail (the address is the event's origin; no email is kept).
async fn record_failure(
    state: &AppState,
    user_id: Option<&str>,
    reason: &str,
) -> Result<(), StoreError> {
    let mut event = Event::new(kinds::LOGIN_FAILED)
        .failed()
        .detail("method", Method::Password.name())
        .detail("reason", reason);
    if let Some(user_id) = user_id {
        event = event.user(user_id);
    }
    state
        .store
        .append_audit(&[event.at(state.clock.now())])
        .await
}

//! Email + password login. Every failure looks the same from outside: same message, and an
//! unknown email costs one argon2 verification like a known one.

use std::net::IpAddr;

use crate::crypto::CryptoError;
use crate::state::AppState;
use crate::store::{StoreError, User};

use super::throttle;

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

/// Checks the credentials; on success returns the user (the caller starts the session).
pub async fn verify_password_login(
    state: &AppState,
    email: &str,
    password: &str,
    ip: IpAddr,
) -> Result<User, LoginError> {
    let email = normalize_email(email);
    let throttle = throttle::check(state, &email, ip).await?;
    if throttle.blocked {
        // Same cost as a real attempt, so timing does not reveal the throttle either.
        state.passwords.verify_dummy(password).await;
        return Err(LoginError::Throttled);
    }
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
            // Nothing to clear is the common case: skip the write.
            if throttle.account_failures > 0 {
                throttle::record_success(state, &email).await?;
            }
            Ok(user)
        }
        _ => {
            throttle::record_failure(state, &email, ip).await?;
            tracing::info!(client_ip = %ip, "password login failed");
            Err(LoginError::InvalidCredentials)
        }
    }
}

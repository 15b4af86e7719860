//! "Glömt lösenord?": a reset link by email. The answer is the same whether or not the address
//! has an account, and requests are throttled per address and per IP.

use std::net::IpAddr;

use crate::crypto::sha256_hex;
use crate::login::password::normalize_email;
use crate::state::AppState;

use super::AccountError;
use super::links::{Purpose, send_link};

/// Sends a reset link if the address belongs to an enabled account. `Throttled` only when the
/// caller's IP or the address has asked too often (the page still answers neutrally).
pub async fn request_reset(
    state: &AppState,
    email: &str,
    ip: IpAddr,
    continue_request: Option<&str>,
) -> Result<(), AccountError> {
    let email = normalize_email(email);
    let now = state.clock.now();
    let account = &state.config.account;
    let address_key = format!("reset:acct:{}", sha256_hex(email.as_bytes()));
    let ip_key = format!("reset:ip:{ip}");
    let by_address = state
        .store
        .record_failure(&address_key, now, account.reset_window)
        .await?;
    let by_ip = state
        .store
        .record_failure(&ip_key, now, account.reset_window)
        .await?;
    if by_address.failures > account.max_resets_per_address
        || by_ip.failures > account.max_resets_per_ip
    {
        tracing::info!(client_ip = %ip, "password reset request throttled");
        return Err(AccountError::Throttled);
    }
    match state.store.user_by_email(&email).await? {
        Some(user) if !user.disabled => {
            send_link(state, &user, Purpose::Reset, continue_request).await?;
            tracing::info!(user_id = %user.id, "password reset link sent");
        }
        _ => tracing::info!("password reset requested for an address without an account"),
    }
    Ok(())
}

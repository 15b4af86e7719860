//! "Glömt lösenord?": a reset link by email. The page does the same work whether or not the
//! address has an account: it counts the request against the address and the client IP, and
//! queues a background job. The job finds out whether there is an account, and sends the link
//! only to an enabled one. Neither the answer nor its timing tells anything.

use crate::audit::Caller;
use std::net::IpAddr;

use crate::crypto::sha256_hex;
use crate::jobs::Failure;
use crate::jobs::tasks::{self, Task};
use crate::login::password::normalize_email;
use crate::login::throttle::ip_key;
use crate::state::AppState;

use super::AccountError;
use super::links::{Purpose, link_sent_event, prepare_link};

/// Queues a reset request. `Throttled` only when the caller's IP or the address has asked too
/// often (the page still answers neutrally).
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
    let by_address = state
        .store
        .record_failure(&address_key, now, account.reset_window)
        .await?;
    let by_ip = state
        .store
        .record_failure(&ip_key("reset", ip), now, account.reset_window)
        .await?;
    if by_address.failures > account.max_resets_per_address
        || by_ip.failures > account.max_resets_per_ip
    {
        tracing::info!(client_ip = %ip, "password reset request throttled");
        return Err(AccountError::Throttled);
    }
    let task = Task::PasswordResetRequest {
        email,
        continue_request: continue_request.map(str::to_string),
    };
    tasks::enqueue(state, &task).await?;
    Ok(())
}

/// The job behind a reset request: a link for an enabled account, stored with its email in the
/// transaction that marks the job done; nothing for an unknown or disabled address.
pub async fn send_requested_link(
    state: &AppState,
    job_id: &str,
    email: &str,
    continue_request: Option<&str>,
) -> Result<(), Failure> {
    let transient = |e: &dyn std::fmt::Display| Failure::Transient(e.to_string());
    match state
        .store
        .user_by_email(email)
        .await
        .map_err(|e| transient(&e))?
    {
        Some(user) if !user.disabled => {
            let (token, message) = prepare_link(state, &user, Purpose::Reset, continue_request)
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            let event =
                link_sent_event(&Caller::system(), &user, Purpose::Reset).at(token.created_at);
            state
                .store
                .insert_user_token(&token, &message, Some(job_id), &[event])
                .await
                .map_err(|e| transient(&e))?;
            state.mail_wakeup.notify_one();
            tracing::info!(user_id = %user.id, "password reset link sent");
        }
        _ => tracing::info!("password reset requested for an address without an account"),
    }
    Ok(())
}

//! The email outbox and the back-channel logout deliveries as the console's overview shows them
//! (what waits, since when, what was given up on), and sending a failed item again: back in the
//! queue as if new, audited with the person as actor, and the worker woken.

use crate::audit::{Caller, kinds};
use crate::error::InternalError;
use crate::oidc::logout::renew_logout_token;
use crate::state::AppState;
use crate::store::{BackchannelDelivery, OutboxEmail, QueueStats, StoreError, WorkQueue};

use super::AdminError;

/// How many failed items of each queue the overview lists, newest first.
pub const FAILED_LISTED: i64 = 50;

/// A queue's numbers and its newest failed items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus<T> {
    pub stats: QueueStats,
    pub failed: Vec<T>,
}

pub async fn outbox(state: &AppState) -> Result<QueueStatus<OutboxEmail>, AdminError> {
    Ok(QueueStatus {
        stats: state.store.queue_stats(WorkQueue::Outbox).await?,
        failed: state.store.failed_outbox(FAILED_LISTED).await?,
    })
}

pub async fn backchannel(state: &AppState) -> Result<QueueStatus<BackchannelDelivery>, AdminError> {
    Ok(QueueStatus {
        stats: state.store.queue_stats(WorkQueue::Backchannel).await?,
        failed: state.store.failed_backchannel(FAILED_LISTED).await?,
    })
}

/// Whether a failed email can be sent again: it still has its content.
pub fn can_retry(email: &OutboxEmail) -> bool {
    !email.sealed_message.is_empty()
}

/// `NotFound` for an item that is not (or no longer) failed: someone else retried it, or the
/// page was old.
fn not_failed(error: StoreError) -> AdminError {
    match error {
        StoreError::NotFound => AdminError::NotFound("no failed item with this id".into()),
        other => other.into(),
    }
}

/// Puts the failed email `id` back in the outbox, due now, and wakes this instance's sender.
pub async fn retry_email(state: &AppState, caller: &Caller, id: &str) -> Result<(), AdminError> {
    let email = state
        .store
        .outbox_email(id)
        .await?
        .ok_or_else(|| not_failed(StoreError::NotFound))?;
    let mut event = caller
        .event(kinds::EMAIL_RETRIED)
        .detail("id", id)
        .detail("email_kind", email.kind.as_str());
    // The event names the person the email is for, never their address.
    if let Some(user) = state.store.user_by_email(&email.recipient).await? {
        event = event.user(&user.id);
    }
    let now = state.clock.now();
    state
        .store
        .retry_outbox(id, now, &[event.at(now)])
        .await
        .map_err(not_failed)?;
    state.mail_wakeup.notify_one();
    Ok(())
}

/// Puts the failed back-channel delivery `id` back in its queue, due now, with a fresh logout
/// token (the queued one expired minutes after the logout), and wakes this instance's worker.
pub async fn retry_backchannel(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(), AdminError> {
    let delivery = state
        .store
        .backchannel_delivery(id)
        .await?
        .filter(|d| d.status == "failed")
        .ok_or_else(|| not_failed(StoreError::NotFound))?;
    let token = renew_logout_token(state, &delivery.logout_token)
        .await
        .map_err(|e| match e {
            InternalError::Store(e) => e.into(),
            InternalError::Keys(e) => e.into(),
            InternalError::Crypto(e) => e.into(),
            InternalError::Other(e) => AdminError::Store(StoreError::Corrupt(e.to_string())),
        })?;
    let now = state.clock.now();
    let event = caller
        .event(kinds::BACKCHANNEL_RETRIED)
        .client(&delivery.client_id)
        .detail("id", id)
        .at(now);
    state
        .store
        .retry_backchannel(id, &token, now, &[event])
        .await
        .map_err(not_failed)?;
    state.backchannel_wakeup.notify_one();
    Ok(())
}

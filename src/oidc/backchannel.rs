//! Delivers queued logout tokens to clients' back-channel logout URIs (Back-Channel Logout 1.0
//! §2.5). Every instance runs a sender; deliveries are claimed with a lease, so two instances
//! never POST the same token at once, and failures are retried with backoff from the database.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::AppState;
use crate::store::BackchannelDelivery;

/// Deliveries claimed per round trip to the database.
const BATCH: i64 = 10;
/// A lease outlasting the outbound HTTP timeout (5 s) with a wide margin.
const LEASE_SECS: i64 = 60;
/// Tries before giving up; with the backoff below that spans about a day.
pub const MAX_ATTEMPTS: i64 = 10;
const RETRY_BASE_SECS: i64 = 5;
const RETRY_MAX_SECS: i64 = 4 * 3600;
/// How often to look for deliveries queued by other instances or due for a retry.
const POLL: Duration = Duration::from_secs(5);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BackchannelReport {
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Runs until `stop` changes.
pub async fn run_sender(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        deliver_due(&state).await;
        tokio::select! {
            _ = state.backchannel_wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Delivers every logout token that is due now.
pub async fn deliver_due(state: &AppState) -> BackchannelReport {
    let mut report = BackchannelReport::default();
    loop {
        let claimed = match state
            .store
            .claim_backchannel(state.clock.now(), LEASE_SECS, BATCH)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the back-channel logout queue");
                return report;
            }
        };
        if claimed.is_empty() {
            return report;
        }
        for delivery in claimed {
            deliver_one(state, &delivery, &mut report).await;
        }
    }
}

async fn deliver_one(
    state: &AppState,
    delivery: &BackchannelDelivery,
    report: &mut BackchannelReport,
) {
    let attempt = delivery.attempts + 1;
    let outcome = state
        .http
        .post(&delivery.uri)
        .form(&[("logout_token", delivery.logout_token.as_str())])
        .send()
        .await;
    let error = match outcome {
        // §2.8: 200 (or 204) means the RP logged the user out.
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!("HTTP {}", response.status().as_u16())),
        Err(e) => Some(without_url(&e)),
    };
    let now = state.clock.now();
    let recorded = match error {
        None => {
            report.delivered += 1;
            tracing::info!(delivery_id = %delivery.id, client_id = %delivery.client_id, attempt, "back-channel logout delivered");
            state.store.backchannel_delivered(&delivery.id).await
        }
        Some(error) if attempt < MAX_ATTEMPTS => {
            report.retried += 1;
            let delay = backoff_secs(attempt);
            tracing::warn!(delivery_id = %delivery.id, client_id = %delivery.client_id, attempt, retry_in_secs = delay, %error, "back-channel logout failed; will retry");
            state
                .store
                .backchannel_failed(&delivery.id, &error, now + delay, false)
                .await
        }
        Some(error) => {
            report.failed += 1;
            tracing::error!(delivery_id = %delivery.id, client_id = %delivery.client_id, attempt, %error, "back-channel logout failed for good");
            state
                .store
                .backchannel_failed(&delivery.id, &error, now, true)
                .await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(delivery_id = %delivery.id, error = %e, "cannot record the back-channel outcome");
    }
}

/// The error without its URL (the log line names the client instead).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_string()
}

/// `base · 2^(attempt−1)`, at most the maximum.
fn backoff_secs(attempt: i64) -> i64 {
    let factor = 1i64 << (attempt - 1).clamp(0, 30);
    RETRY_BASE_SECS.saturating_mul(factor).min(RETRY_MAX_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff_secs(1), 5);
        assert_eq!(backoff_secs(2), 10);
        assert_eq!(backoff_secs(20), RETRY_MAX_SECS);
    }
}

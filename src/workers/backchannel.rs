//! Delivers queued logout tokens to clients' back-channel logout URIs (Back-Channel Logout 1.0
//! §2.5), as a job queue (see `jobs`): every instance runs a worker; deliveries are claimed with
//! a lease, so two instances never POST the same token at once, and failures are retried with
//! backoff from the database.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::jobs::{self, Claim, Failure, Policy, Queue, Report};
use crate::state::AppState;
use crate::store::{BackchannelDelivery, StoreResult, UnixTime};

/// Tries before giving up; with the backoff below that spans about a day.
pub const MAX_ATTEMPTS: i64 = 10;
/// How often to look for deliveries queued by other instances or due for a retry.
const POLL: Duration = Duration::from_secs(5);

/// The `backchannel_deliveries` table.
pub struct BackchannelLogout;

const POLICY: Policy = Policy {
    batch: 10,
    // The outbound HTTP client gives up after 5 s.
    perform_limit_secs: 10,
    retry_base: 5,
    retry_max: 4 * 3600,
    max_attempts: MAX_ATTEMPTS,
};

/// Runs the delivery worker until `stop` changes.
pub async fn run_sender(state: Arc<AppState>, stop: watch::Receiver<bool>) {
    let wakeup = state.backchannel_wakeup.clone();
    jobs::run(BackchannelLogout, state, wakeup, POLL, stop).await
}

/// Delivers every logout token that is due now.
pub async fn deliver_due(state: &Arc<AppState>) -> Report {
    jobs::work_due(&BackchannelLogout, state).await
}

#[async_trait]
impl Queue for BackchannelLogout {
    type Item = BackchannelDelivery;

    fn name(&self) -> &'static str {
        "back-channel logout"
    }

    fn metric_label(&self) -> &'static str {
        crate::telemetry::QUEUE_BACKCHANNEL
    }

    fn policy(&self, _state: &AppState) -> Policy {
        POLICY
    }

    fn claim_of(delivery: &BackchannelDelivery) -> Claim {
        Claim {
            id: delivery.id.clone(),
            attempts: delivery.attempts,
            locked_until: delivery.locked_until,
        }
    }

    fn describe(delivery: &BackchannelDelivery) -> String {
        format!("to client {}", delivery.client_id)
    }

    async fn claim(
        &self,
        state: &AppState,
        now: UnixTime,
        lease_secs: i64,
        limit: i64,
    ) -> StoreResult<Vec<BackchannelDelivery>> {
        state.store.claim_backchannel(now, lease_secs, limit).await
    }

    async fn perform(state: Arc<AppState>, delivery: BackchannelDelivery) -> Result<(), Failure> {
        let outcome = state
            .http
            .post(&delivery.uri)
            .form(&[("logout_token", delivery.logout_token.as_str())])
            .send()
            .await;
        match outcome {
            // §2.8: 200 (or 204) means the RP logged the user out.
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(Failure::Transient(format!(
                "HTTP {}",
                response.status().as_u16()
            ))),
            Err(e) => Err(Failure::Transient(without_url(&e))),
        }
    }

    async fn succeeded(
        &self,
        state: &AppState,
        delivery: &BackchannelDelivery,
        _now: UnixTime,
    ) -> StoreResult<()> {
        state.store.backchannel_delivered(&delivery.id).await
    }

    async fn failed(
        &self,
        state: &AppState,
        delivery: &BackchannelDelivery,
        error: &str,
        next_attempt_at: UnixTime,
        give_up: bool,
    ) -> StoreResult<()> {
        state
            .store
            .backchannel_failed(&delivery.id, error, next_attempt_at, give_up)
            .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(POLICY.backoff_secs(1), 5);
        assert_eq!(POLICY.backoff_secs(2), 10);
        assert_eq!(POLICY.backoff_secs(20), 4 * 3600);
    }
}

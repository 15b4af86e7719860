//! The worker every queue shares: claim what is due, perform each item in its own task with a
//! time limit, record the outcome, back off on failure.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::state::AppState;
use crate::telemetry;

use super::{Failure, LEASE_MARGIN_SECS, Queue};

/// What one pass over a queue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub done: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Runs until `stop` changes: works through what is due, then waits for a wake-up (an item was
/// queued on this instance), the poll interval (another instance queued one, or a retry came
/// due) or the stop signal.
pub async fn run<Q: Queue>(
    queue: Q,
    state: Arc<AppState>,
    wakeup: Arc<Notify>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        work_due(&queue, &state).await;
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Works through every item that is due now. Public so tests and the CLI can drive it.
pub async fn work_due<Q: Queue>(queue: &Q, state: &Arc<AppState>) -> Report {
    let mut report = Report::default();
    let policy = queue.policy(state);
    loop {
        let claimed = match queue
            .claim(state, state.clock.now(), policy.lease_secs(), policy.batch)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(queue = queue.name(), error = %e, "cannot read the queue");
                return report;
            }
        };
        if claimed.is_empty() {
            return report;
        }
        for item in claimed {
            work_one(queue, state, item, &mut report).await;
        }
    }
}

/// Performs one claimed item and records the outcome.
pub async fn work_one<Q: Queue>(
    queue: &Q,
    state: &Arc<AppState>,
    item: Q::Item,
    report: &mut Report,
) {
    let claim = Q::claim_of(&item);
    let policy = queue.policy(state);
    let attempt = claim.attempts + 1;
    let limit = policy.perform_limit_secs.max(1);
    // Later items of a batch wait for the earlier ones. Work only while the lease outlasts the
    // longest possible attempt, so no other instance can claim the item meanwhile; otherwise
    // leave it: it can be claimed again once the lease has run out.
    let lease_left = claim.locked_until.unwrap_or(0) - state.clock.now();
    if lease_left < limit + LEASE_MARGIN_SECS {
        tracing::debug!(queue = queue.name(), id = %claim.id, lease_left, "lease too short to work now; leaving the item for later");
        return;
    }
    let mut task = tokio::spawn(Q::perform(state.clone(), item.clone()));
    let outcome = match tokio::time::timeout(Duration::from_secs(limit as u64), &mut task).await {
        Ok(Ok(outcome)) => outcome,
        // A panic is this item's problem, and the same input would panic again.
        Ok(Err(joined)) if joined.is_panic() => Err(Failure::Permanent(format!(
            "the attempt panicked: {}",
            panic_message(joined.into_panic())
        ))),
        Ok(Err(joined)) => Err(Failure::Transient(format!("the attempt ended: {joined}"))),
        Err(_) => {
            task.abort();
            Err(Failure::Transient(format!(
                "no result within {limit} seconds"
            )))
        }
    };
    let what = Q::describe(&item);
    let now = state.clock.now();
    let recorded = match outcome {
        Ok(()) => {
            report.done += 1;
            telemetry::queue_done(queue.metric_label());
            tracing::info!(queue = queue.name(), id = %claim.id, %what, attempt, "done");
            queue.succeeded(state, &item, now).await
        }
        Err(Failure::Transient(error)) if attempt < policy.max_attempts => {
            report.retried += 1;
            telemetry::queue_failure(queue.metric_label(), false);
            let delay = policy.backoff_secs(attempt);
            tracing::warn!(queue = queue.name(), id = %claim.id, %what, attempt, retry_in_secs = delay, %error, "failed; will retry");
            queue.failed(state, &item, &error, now + delay, false).await
        }
        Err(Failure::Transient(error) | Failure::Permanent(error)) => {
            report.failed += 1;
            telemetry::queue_failure(queue.metric_label(), true);
            tracing::error!(queue = queue.name(), id = %claim.id, %what, attempt, %error, "failed for good");
            queue.failed(state, &item, &error, now, true).await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(queue = queue.name(), id = %claim.id, error = %e, "cannot record the outcome");
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

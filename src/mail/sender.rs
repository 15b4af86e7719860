//! The outbox sender: every instance runs one. It claims due messages (a claim is a lease, so two
//! instances never send the same message at once), delivers them, and retries transient failures
//! with exponential backoff, so an SMTP outage or a restart loses nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::AppState;
use crate::store::OutboxEmail;

use super::{MailError, outbox};

/// What one pass over the outbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Messages claimed per round trip to the database.
const BATCH: i64 = 10;

/// Runs until `stop` changes: delivers what is due, then waits for a wake-up (a message was
/// enqueued on this instance), the poll interval (another instance enqueued one, or a retry came
/// due) or the stop signal.
pub async fn run_sender(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let poll = Duration::from_secs(state.config.mail.poll_interval.max(1));
    tracing::info!(transport = %state.mailer.describe(), "email sender started");
    loop {
        if *stop.borrow() {
            return;
        }
        deliver_due(&state).await;
        tokio::select! {
            _ = state.mail_wakeup.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Seconds a lease must still have after the longest possible send, to record the outcome.
const LEASE_MARGIN_SECS: i64 = 10;

/// The longest one send may take before it counts as a transient failure: the SMTP timeout
/// applies to each step of the conversation, so allow two of them for the whole.
fn send_limit_secs(state: &AppState) -> i64 {
    i64::try_from(state.config.mail.smtp_timeout)
        .unwrap_or(i64::MAX / 4)
        .saturating_mul(2)
}

/// Delivers every message that is due now. Public so tests and the CLI can drive it.
pub async fn deliver_due(state: &AppState) -> DeliveryReport {
    let mut report = DeliveryReport::default();
    // A lease longer than any send, so a message is never sent twice because its lease ran out.
    let lease = send_limit_secs(state).saturating_add(30);
    loop {
        let claimed = match state
            .store
            .claim_outbox(state.clock.now(), lease, BATCH)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the email outbox");
                return report;
            }
        };
        if claimed.is_empty() {
            return report;
        }
        for email in claimed {
            deliver_one(state, &email, &mut report).await;
        }
    }
}

async fn deliver_one(state: &AppState, email: &OutboxEmail, report: &mut DeliveryReport) {
    let attempt = email.attempts + 1;
    let send_limit = send_limit_secs(state);
    // Later messages of a batch wait for the earlier sends. Send only while the lease outlasts
    // the longest possible send, so no other sender can claim the message meanwhile; otherwise
    // leave it: it can be claimed again once the lease has run out.
    let lease_left = email.locked_until.unwrap_or(0) - state.clock.now();
    if lease_left < send_limit + LEASE_MARGIN_SECS {
        tracing::debug!(email_id = %email.id, lease_left, "lease too short to send now; leaving the email for later");
        return;
    }
    let outcome = match outbox::open(state, email) {
        Ok(message) => {
            let send = state.mailer.send(&state.config.mail.from, &message);
            match tokio::time::timeout(Duration::from_secs(send_limit as u64), send).await {
                Ok(outcome) => outcome,
                Err(_) => Err(MailError::Transient(format!(
                    "no answer within {send_limit} seconds"
                ))),
            }
        }
        Err(e) => Err(MailError::Permanent(format!(
            "cannot open the sealed message: {e}"
        ))),
    };
    let now = state.clock.now();
    let result = match outcome {
        Ok(()) => {
            report.sent += 1;
            tracing::info!(email_id = %email.id, kind = %email.kind, to = %email.recipient, attempt, "email sent");
            state.store.outbox_sent(&email.id, now).await
        }
        Err(MailError::Transient(error)) if attempt < state.config.mail.max_attempts => {
            report.retried += 1;
            let delay = backoff(state, attempt);
            tracing::warn!(email_id = %email.id, kind = %email.kind, to = %email.recipient, attempt, retry_in_secs = delay, %error, "email delivery failed; will retry");
            state
                .store
                .outbox_failed(&email.id, &error, now + delay, false)
                .await
        }
        Err(MailError::Transient(error) | MailError::Permanent(error)) => {
            report.failed += 1;
            tracing::error!(email_id = %email.id, kind = %email.kind, to = %email.recipient, attempt, %error, "email delivery failed for good");
            state
                .store
                .outbox_failed(&email.id, &error, now, true)
                .await
        }
    };
    if let Err(e) = result {
        tracing::warn!(email_id = %email.id, error = %e, "cannot record the delivery outcome");
    }
}

fn backoff(state: &AppState, attempt: i64) -> i64 {
    backoff_secs(
        state.config.mail.retry_base,
        state.config.mail.retry_max,
        attempt,
    )
}

/// `base · 2^(attempt−1)`, at most `max`.
fn backoff_secs(base: i64, max: i64, attempt: i64) -> i64 {
    let factor = 1i64 << (attempt - 1).clamp(0, 30);
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::clock::{ManualClock, OsEntropy};
    use crate::config::Config;
    use crate::mail::{EmailMessage, Mailer};
    use crate::state::{Overrides, build_with_store};
    use crate::store::SqliteStore;

    /// Fails the first `failures` sends with the given error, then counts deliveries per subject.
    #[derive(Default)]
    struct ScriptedMailer {
        script: Mutex<Vec<MailError>>,
        delivered: Mutex<HashMap<String, usize>>,
    }

    #[async_trait]
    impl Mailer for ScriptedMailer {
        async fn send(&self, _from: &str, message: &EmailMessage) -> Result<(), MailError> {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(error) = self.script.lock().expect("lock").pop() {
                return Err(error);
            }
            *self
                .delivered
                .lock()
                .expect("lock")
                .entry(message.subject.clone())
                .or_default() += 1;
            Ok(())
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    async fn setup(script: Vec<MailError>) -> (Arc<AppState>, Arc<ScriptedMailer>, ManualClock) {
        let mut config = Config::defaults();
        config.data_dir =
            std::env::temp_dir().join(format!("leasify-sender-{}", uuid::Uuid::new_v4().simple()));
        config.mail.max_attempts = 3;
        let store = Arc::new(
            SqliteStore::connect("sqlite::memory:")
                .await
                .expect("store"),
        );
        crate::store::Store::migrate(store.as_ref())
            .await
            .expect("migrate");
        let mailer = Arc::new(ScriptedMailer {
            script: Mutex::new(script),
            ..Default::default()
        });
        let clock = ManualClock::default();
        let overrides = Overrides {
            clock: Arc::new(clock.clone()),
            entropy: Arc::new(OsEntropy),
            mailer: Some(mailer.clone()),
            bankid: false,
        };
        let state = build_with_store(config, store, overrides)
            .await
            .expect("state");
        (state, mailer, clock)
    }

    async fn enqueue(state: &AppState, subject: &str) -> String {
        let message = EmailMessage {
            to: "anna@example.se".into(),
            to_name: "Anna".into(),
            subject: subject.into(),
            text: "hej".into(),
            html: "<p>hej</p>".into(),
            locale: "sv".into(),
            action_link: None,
        };
        let email = outbox::prepare(state, "test", &message);
        state.store.enqueue_email(&email).await.expect("enqueue");
        email.id
    }

    #[tokio::test]
    async fn delivers_once_and_erases_the_content() {
        let (state, mailer, _) = setup(vec![]).await;
        let id = enqueue(&state, "one").await;
        assert_eq!(
            deliver_due(&state).await,
            DeliveryReport {
                sent: 1,
                retried: 0,
                failed: 0
            }
        );
        assert_eq!(deliver_due(&state).await, DeliveryReport::default());
        assert_eq!(mailer.delivered.lock().expect("lock")["one"], 1);
        let row = state
            .store
            .outbox_email(&id)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!(row.status, "sent");
        assert!(row.sealed_message.is_empty());
    }

    #[tokio::test]
    async fn transient_failures_back_off_then_deliver() {
        let (state, mailer, clock) = setup(vec![MailError::Transient("451".into())]).await;
        let id = enqueue(&state, "two").await;
        assert_eq!(deliver_due(&state).await.retried, 1);
        // Not before the backoff has passed.
        assert_eq!(deliver_due(&state).await, DeliveryReport::default());
        clock.advance(state.config.mail.retry_base - 2);
        assert_eq!(deliver_due(&state).await, DeliveryReport::default());
        assert!(mailer.delivered.lock().expect("lock").is_empty());
        clock.advance(2);
        assert_eq!(deliver_due(&state).await.sent, 1);
        assert_eq!(mailer.delivered.lock().expect("lock")["two"], 1);
        let row = state
            .store
            .outbox_email(&id)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 1));
    }

    #[tokio::test]
    async fn permanent_failure_gives_up_at_once() {
        let (state, _, _) = setup(vec![MailError::Permanent("550".into())]).await;
        let id = enqueue(&state, "three").await;
        assert_eq!(deliver_due(&state).await.failed, 1);
        let row = state
            .store
            .outbox_email(&id)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!(
            (row.status.as_str(), row.sealed_message.is_empty()),
            ("failed", true)
        );
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts() {
        let transient = || MailError::Transient("451".into());
        let (state, mailer, clock) = setup(vec![transient(), transient(), transient()]).await;
        let id = enqueue(&state, "four").await;
        for _ in 0..2 {
            assert_eq!(deliver_due(&state).await.retried, 1);
            clock.advance(state.config.mail.retry_max);
        }
        assert_eq!(deliver_due(&state).await.failed, 1);
        let row = state
            .store
            .outbox_email(&id)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
        assert!(mailer.delivered.lock().expect("lock").is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_senders_never_send_twice() {
        let (state, mailer, _) = setup(vec![]).await;
        for n in 0..20 {
            enqueue(&state, &format!("m{n}")).await;
        }
        let runs: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn({
                    let state = state.clone();
                    async move { deliver_due(&state).await }
                })
            })
            .collect();
        let mut sent = 0;
        let mut busy_runs = 0;
        for run in runs {
            let report = run.await.expect("task");
            sent += report.sent;
            busy_runs += usize::from(report.sent > 0);
        }
        assert_eq!(sent, 20);
        assert!(busy_runs >= 2, "the senders did not overlap");
        assert_eq!(mailer.delivered.lock().expect("lock").len(), 20);
        assert!(
            mailer
                .delivered
                .lock()
                .expect("lock")
                .values()
                .all(|n| *n == 1)
        );
    }

    #[tokio::test]
    async fn a_message_that_cannot_be_opened_fails_without_sending() {
        let (state, mailer, _) = setup(vec![]).await;
        let id = enqueue(&state, "five").await;
        let mut email = state
            .store
            .outbox_email(&id)
            .await
            .expect("row")
            .expect("exists");
        // The same sealed content under another id does not open (the id is associated data).
        email.id = uuid::Uuid::now_v7().to_string();
        state.store.enqueue_email(&email).await.expect("enqueue");
        assert_eq!(
            deliver_due(&state).await,
            DeliveryReport {
                sent: 1,
                retried: 0,
                failed: 1
            }
        );
        let row = state
            .store
            .outbox_email(&email.id)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!(row.status, "failed");
        assert_eq!(mailer.delivered.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn leaves_a_message_whose_lease_is_too_short() {
        let (state, mailer, _) = setup(vec![]).await;
        let id = enqueue(&state, "six").await;
        let mut email = state
            .store
            .claim_outbox(state.clock.now(), 5, 10)
            .await
            .expect("claim")
            .remove(0);
        let mut report = DeliveryReport::default();
        deliver_one(&state, &email, &mut report).await;
        assert_eq!(report, DeliveryReport::default());
        assert!(mailer.delivered.lock().expect("lock").is_empty());
        email.locked_until = Some(state.clock.now() + 1000);
        deliver_one(&state, &email, &mut report).await;
        assert_eq!(report.sent, 1);
        let row = state
            .store
            .outbox_email(&id)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!(row.status, "sent");
    }

    #[tokio::test]
    async fn the_running_sender_wakes_up_and_stops() {
        let (state, mailer, _) = setup(vec![]).await;
        let poll = state.config.mail.poll_interval;
        let (stop, signal) = watch::channel(false);
        let task = tokio::spawn(run_sender(state.clone(), signal));
        // Let the first (empty) pass finish, then enqueue and wake it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        enqueue(&state, "seven").await;
        state.mail_wakeup.notify_one();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(poll + 5);
        while mailer
            .delivered
            .lock()
            .expect("lock")
            .get("seven")
            .is_none()
        {
            assert!(tokio::time::Instant::now() < deadline, "not delivered");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(true).expect("send stop");
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stopped")
            .expect("task");
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        assert_eq!(backoff_secs(30, 3600, 1), 30);
        assert_eq!(backoff_secs(30, 3600, 2), 60);
        assert_eq!(backoff_secs(30, 3600, 5), 480);
        assert_eq!(backoff_secs(30, 3600, 8), 3600);
        assert_eq!(backoff_secs(30, 3600, 500), 3600);
    }
}

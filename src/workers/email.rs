//! The email outbox as a job queue: every instance runs a worker over it (see `jobs`). A claim is
//! a lease, so two instances never send the same message at once; transient failures are retried
//! with exponential backoff, so an SMTP outage or a restart loses nothing; a message that cannot
//! be built or sent fails alone, and the next one still goes out.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::jobs::{self, Claim, Failure, Policy, Queue, Report};
use crate::state::AppState;
use crate::store::{OutboxEmail, StoreResult, UnixTime};

use crate::mail::MailError;

/// The `outbox` table.
pub struct EmailOutbox;

/// Runs the outbox worker until `stop` changes.
pub async fn run_sender(state: Arc<AppState>, stop: watch::Receiver<bool>) {
    let poll = Duration::from_secs(state.config.mail.poll_interval.max(1));
    tracing::info!(transport = %state.mailer.describe(), "email sender started");
    let wakeup = state.mail_wakeup.clone();
    jobs::run(EmailOutbox, state, wakeup, poll, stop).await
}

/// Delivers every message that is due now. Public so tests and the CLI can drive it.
pub async fn deliver_due(state: &Arc<AppState>) -> Report {
    jobs::work_due(&EmailOutbox, state).await
}

#[async_trait]
impl Queue for EmailOutbox {
    type Item = OutboxEmail;

    fn name(&self) -> &'static str {
        "email"
    }

    fn metric_label(&self) -> &'static str {
        crate::telemetry::QUEUE_OUTBOX
    }

    fn policy(&self, state: &AppState) -> Policy {
        let mail = &state.config.mail;
        Policy {
            batch: 10,
            // The SMTP timeout applies to each step of the conversation: allow two for the whole.
            perform_limit_secs: i64::try_from(mail.smtp_timeout)
                .unwrap_or(i64::MAX / 4)
                .saturating_mul(2),
            retry_base: mail.retry_base,
            retry_max: mail.retry_max,
            max_attempts: mail.max_attempts,
        }
    }

    fn claim_of(email: &OutboxEmail) -> Claim {
        Claim {
            id: email.id.clone(),
            attempts: email.attempts,
            locked_until: email.locked_until,
        }
    }

    fn describe(email: &OutboxEmail) -> String {
        format!("{} to {}", email.kind, email.recipient)
    }

    async fn claim(
        &self,
        state: &AppState,
        now: UnixTime,
        lease_secs: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEmail>> {
        state.store.claim_outbox(now, lease_secs, limit).await
    }

    async fn perform(state: Arc<AppState>, email: OutboxEmail) -> Result<(), Failure> {
        let message = crate::account::emails::open_outbox(&state, &email)
            .map_err(|e| Failure::Permanent(format!("cannot open the sealed message: {e}")))?;
        state
            .mailer
            .send(&state.config.mail.from, &message)
            .await
            .map_err(|e| match e {
                MailError::Transient(error) => Failure::Transient(error),
                MailError::Permanent(error) => Failure::Permanent(error),
            })
    }

    async fn succeeded(
        &self,
        state: &AppState,
        email: &OutboxEmail,
        now: UnixTime,
    ) -> StoreResult<()> {
        state.store.outbox_sent(&email.id, now).await
    }

    async fn failed(
        &self,
        state: &AppState,
        email: &OutboxEmail,
        error: &str,
        next_attempt_at: UnixTime,
        give_up: bool,
    ) -> StoreResult<()> {
        state
            .store
            .outbox_failed(&email.id, error, next_attempt_at, give_up)
            .await
    }
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

    /// A subject the scripted mailer panics on, as lettre does on a header with a line break.
    const PANIC_SUBJECT: &str = "poison";

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
            assert_ne!(message.subject, PANIC_SUBJECT, "mailer exploded");
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
        let email = crate::account::emails::prepare_outbox(state, "test", &message);
        state.store.enqueue_email(&email).await.expect("enqueue");
        email.id
    }

    #[tokio::test]
    async fn delivers_once_and_erases_the_content() {
        let (state, mailer, _) = setup(vec![]).await;
        let id = enqueue(&state, "one").await;
        assert_eq!(
            deliver_due(&state).await,
            Report {
                done: 1,
                retried: 0,
                failed: 0
            }
        );
        assert_eq!(deliver_due(&state).await, Report::default());
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
        assert_eq!(deliver_due(&state).await, Report::default());
        clock.advance(state.config.mail.retry_base - 2);
        assert_eq!(deliver_due(&state).await, Report::default());
        assert!(mailer.delivered.lock().expect("lock").is_empty());
        clock.advance(2);
        assert_eq!(deliver_due(&state).await.done, 1);
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
        // The sealed content stays for a retry from the console.
        assert_eq!(
            (row.status.as_str(), row.sealed_message.is_empty()),
            ("failed", false)
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
            sent += report.done;
            busy_runs += usize::from(report.done > 0);
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
            Report {
                done: 1,
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
        let mut report = Report::default();
        jobs::work_one(&EmailOutbox, &state, email.clone(), &mut report).await;
        assert_eq!(report, Report::default());
        assert!(mailer.delivered.lock().expect("lock").is_empty());
        email.locked_until = Some(state.clock.now() + 1000);
        jobs::work_one(&EmailOutbox, &state, email.clone(), &mut report).await;
        assert_eq!(report.done, 1);
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
        let policy = Policy {
            batch: 1,
            perform_limit_secs: 1,
            retry_base: 30,
            retry_max: 3600,
            max_attempts: 3,
        };
        assert_eq!(policy.backoff_secs(1), 30);
        assert_eq!(policy.backoff_secs(2), 60);
        assert_eq!(policy.backoff_secs(5), 480);
        assert_eq!(policy.backoff_secs(8), 3600);
        assert_eq!(policy.backoff_secs(500), 3600);
    }

    #[tokio::test]
    async fn a_message_that_panics_the_mailer_fails_alone() {
        let (state, mailer, _) = setup(vec![]).await;
        let poison = enqueue(&state, PANIC_SUBJECT).await;
        let next = enqueue(&state, "after the poison").await;
        assert_eq!(
            deliver_due(&state).await,
            Report {
                done: 1,
                retried: 0,
                failed: 1
            }
        );
        let row = state
            .store
            .outbox_email(&poison)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!((row.status.as_str(), row.attempts), ("failed", 1));
        assert!(
            row.last_error
                .as_deref()
                .is_some_and(|e| e.contains("panicked") && e.contains("mailer exploded")),
            "{row:?}"
        );
        let row = state
            .store
            .outbox_email(&next)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!(row.status, "sent");
        assert_eq!(mailer.delivered.lock().expect("lock").len(), 1);
    }
}

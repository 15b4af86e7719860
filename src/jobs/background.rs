//! The `jobs` table: background work that must survive a restart. Each job's payload is sealed
//! (it may name a person) with the job id as associated data, and erased once the job is done.
//!
//! Kinds today: a password reset request ("Glömt lösenord?" queues one whether or not the address
//! has an account, so the page does the same work either way; the worker finds out, and sends
//! the link only to a real, enabled account).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::state::AppState;
use crate::store::{Job, StoreResult, UnixTime};

use super::{Claim, Failure, Policy, Queue, Report};

/// What a job does, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// Send a reset link to `email` if it belongs to an enabled account.
    PasswordResetRequest {
        email: String,
        /// The app's login request to continue after the new password, if it was waiting.
        continue_request: Option<String>,
    },
}

impl Task {
    pub fn kind(&self) -> &'static str {
        match self {
            Task::PasswordResetRequest { .. } => "password_reset_request",
        }
    }
}

/// A new job for `task`, due now, ready to be stored.
pub fn prepare(state: &AppState, task: &Task) -> Job {
    let id = uuid::Uuid::now_v7().to_string();
    let json = serde_json::to_vec(task).unwrap_or_default();
    let now = state.clock.now();
    Job {
        payload: state
            .secret_box
            .seal(state.entropy.as_ref(), &json, id.as_bytes()),
        id,
        kind: task.kind().into(),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        last_error: None,
        created_at: now,
        finished_at: None,
    }
}

/// Stores a job and wakes this instance's worker.
pub async fn enqueue(state: &AppState, task: &Task) -> StoreResult<()> {
    state.store.enqueue_job(&prepare(state, task)).await?;
    state.jobs_wakeup.notify_one();
    Ok(())
}

/// The `jobs` table as a queue.
pub struct BackgroundJobs;

const POLICY: Policy = Policy {
    batch: 10,
    perform_limit_secs: 30,
    retry_base: 10,
    retry_max: 3600,
    max_attempts: 10,
};
const POLL: Duration = Duration::from_secs(5);

/// Runs the worker until `stop` changes.
pub async fn run(state: Arc<AppState>, stop: watch::Receiver<bool>) {
    let wakeup = state.jobs_wakeup.clone();
    super::run(BackgroundJobs, state, wakeup, POLL, stop).await
}

/// Works through every job that is due now.
pub async fn work_due(state: &Arc<AppState>) -> Report {
    super::work_due(&BackgroundJobs, state).await
}

fn open(state: &AppState, job: &Job) -> Result<Task, Failure> {
    let json = state
        .secret_box
        .open(&job.payload, job.id.as_bytes())
        .map_err(|e| Failure::Permanent(format!("cannot open the job: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| Failure::Permanent(format!("unknown job: {e}")))
}

#[async_trait]
impl Queue for BackgroundJobs {
    type Item = Job;

    fn name(&self) -> &'static str {
        "job"
    }

    fn policy(&self, _state: &AppState) -> Policy {
        POLICY
    }

    fn claim_of(job: &Job) -> Claim {
        Claim {
            id: job.id.clone(),
            attempts: job.attempts,
            locked_until: job.locked_until,
        }
    }

    fn describe(job: &Job) -> String {
        job.kind.clone()
    }

    async fn claim(
        &self,
        state: &AppState,
        now: UnixTime,
        lease_secs: i64,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        state.store.claim_jobs(now, lease_secs, limit).await
    }

    async fn perform(state: Arc<AppState>, job: Job) -> Result<(), Failure> {
        match open(&state, &job)? {
            Task::PasswordResetRequest {
                email,
                continue_request,
            } => {
                crate::account::reset::send_requested_link(
                    &state,
                    &job.id,
                    &email,
                    continue_request.as_deref(),
                )
                .await
            }
        }
    }

    async fn succeeded(&self, state: &AppState, job: &Job, now: UnixTime) -> StoreResult<()> {
        state.store.job_done(&job.id, now).await
    }

    async fn failed(
        &self,
        state: &AppState,
        job: &Job,
        error: &str,
        next_attempt_at: UnixTime,
        give_up: bool,
    ) -> StoreResult<()> {
        state
            .store
            .job_failed(&job.id, error, next_attempt_at, give_up)
            .await
    }
}

//! The `jobs` table as a queue: each kind of job is handed to the function of its domain.
//!
//! Kinds today: a password reset request ("Glömt lösenord?" queues one whether or not the address
//! has an account, so the page does the same work either way; the job finds out, and sends the
//! link only to a real, enabled account), and a bulk invitation from the admin console.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::jobs::tasks::Task;
use crate::jobs::{self, Claim, Failure, Policy, Queue, Report};
use crate::state::AppState;
use crate::store::{Job, StoreResult, UnixTime};

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
    jobs::run(BackgroundJobs, state, wakeup, POLL, stop).await
}

/// Works through every job that is due now.
pub async fn work_due(state: &Arc<AppState>) -> Report {
    jobs::work_due(&BackgroundJobs, state).await
}

fn open(state: &AppState, job: &Job) -> Result<Task, Failure> {
    state
        .secret_box
        .open_json(&job.payload, job.id.as_bytes())
        .map_err(|e| Failure::Permanent(format!("cannot open the job: {e}")))
}

#[async_trait]
impl Queue for BackgroundJobs {
    type Item = Job;

    fn name(&self) -> &'static str {
        "job"
    }

    fn metric_label(&self) -> &'static str {
        crate::telemetry::QUEUE_JOBS
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
            Task::InviteBatch { batch_id } => {
                crate::admin::bulk_invite::work(&state, &batch_id).await
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

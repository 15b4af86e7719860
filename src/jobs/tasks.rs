//! The kinds of background work in the `jobs` table, and putting a job there. Each job's payload
//! is sealed (it may name a person) with the job id as associated data, and erased once the job
//! is done. The worker that performs them is `workers::background`.

use serde::{Deserialize, Serialize};

use crate::state::AppState;
use crate::store::{Job, StoreResult};

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
    /// Invite the pending rows of a CSV file uploaded at the admin console.
    InviteBatch { batch_id: String },
}

impl Task {
    pub fn kind(&self) -> &'static str {
        match self {
            Task::PasswordResetRequest { .. } => "password_reset_request",
            Task::InviteBatch { .. } => "invite_batch",
        }
    }
}

/// A new job for `task`, due now, ready to be stored.
pub fn prepare(state: &AppState, task: &Task) -> Job {
    let id = uuid::Uuid::now_v7().to_string();
    let now = state.clock.now();
    Job {
        payload: state
            .secret_box
            .seal_json(state.entropy.as_ref(), task, id.as_bytes()),
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

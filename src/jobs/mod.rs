//! One leased, retrying worker for every background queue: the email outbox, back-channel logout
//! deliveries and the `jobs` table (password reset requests, …); the queues are in `workers`.
//!
//! A queue says how to claim its due items (a claim is a lease, so two instances never work on
//! the same item at once), how to perform one, and how to record the outcome. The worker does the
//! rest, the same way for every queue: each item runs in a task of its own with a time limit, so
//! an item that fails, hangs or panics is that item's problem: it is recorded as failed with the
//! reason, counted against its attempts, and the worker goes on with the next.

pub mod tasks;
mod worker;

use std::sync::Arc;

use async_trait::async_trait;

use crate::state::AppState;
use crate::store::{StoreResult, UnixTime};

pub use worker::{Report, run, work_due, work_one};

/// Why performing an item did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Worth retrying later (a 4xx reply, a timeout, a connection refused).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying will not help (a 5xx reply, a message that cannot be built).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// How a queue leases and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Items claimed per round trip to the database.
    pub batch: i64,
    /// The longest one attempt may take before it counts as a transient failure.
    pub perform_limit_secs: i64,
    /// The n-th retry waits `retry_base · 2^(n−1)` seconds, at most `retry_max`.
    pub retry_base: i64,
    pub retry_max: i64,
    /// Attempts before giving up.
    pub max_attempts: i64,
}

impl Policy {
    /// A lease outlasting the longest attempt, so an item is never worked on twice because its
    /// lease ran out.
    pub fn lease_secs(&self) -> i64 {
        self.perform_limit_secs
            .saturating_add(LEASE_MARGIN_SECS)
            .saturating_add(20)
    }

    /// `base · 2^(attempt−1)`, at most `max`.
    pub fn backoff_secs(&self, attempt: i64) -> i64 {
        let factor = 1i64 << (attempt - 1).clamp(0, 30);
        self.retry_base.saturating_mul(factor).min(self.retry_max)
    }
}

/// Seconds a lease must still have after the longest possible attempt, to record the outcome.
pub const LEASE_MARGIN_SECS: i64 = 10;

/// What the worker needs to know of a claimed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: String,
    pub attempts: i64,
    pub locked_until: Option<UnixTime>,
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    type Item: Clone + Send + Sync + 'static;

    /// For logs: `email`, `back-channel logout`, `job`.
    fn name(&self) -> &'static str;
    /// The `queue` label of its metrics, one of `telemetry::QUEUE_*`.
    fn metric_label(&self) -> &'static str;
    fn policy(&self, state: &AppState) -> Policy;
    fn claim_of(item: &Self::Item) -> Claim;
    /// What the log lines say about an item besides its id (never a secret).
    fn describe(item: &Self::Item) -> String;

    async fn claim(
        &self,
        state: &AppState,
        now: UnixTime,
        lease_secs: i64,
        limit: i64,
    ) -> StoreResult<Vec<Self::Item>>;
    /// Does the work; runs in a task of its own.
    async fn perform(state: Arc<AppState>, item: Self::Item) -> Result<(), Failure>;
    async fn succeeded(
        &self,
        state: &AppState,
        item: &Self::Item,
        now: UnixTime,
    ) -> StoreResult<()>;
    async fn failed(
        &self,
        state: &AppState,
        item: &Self::Item,
        error: &str,
        next_attempt_at: UnixTime,
        give_up: bool,
    ) -> StoreResult<()>;
}

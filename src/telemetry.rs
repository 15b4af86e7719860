//! Metrics: the name and help text of every metric Leasify ID exports, the functions the rest of
//! the code records through, and the process's one Prometheus recorder.
//!
//! Recording goes through the `metrics` facade, which does nothing until [`install`] has set the
//! global recorder (only when `metrics.listen` is configured), so code records unconditionally.
//! Every label value is one of a small fixed set (route templates, never raw URLs or ids), so
//! nobody outside can grow the number of series.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "leasify_http_requests_total";
pub const HTTP_DURATION: &str = "leasify_http_request_duration_seconds";
pub const LOGINS: &str = "leasify_logins_total";
pub const TOKENS_ISSUED: &str = "leasify_tokens_issued_total";
pub const PASSWORD_HASH_WAITING: &str = "leasify_password_hash_waiting";
pub const PASSWORD_HASH_IN_FLIGHT: &str = "leasify_password_hash_in_flight";
pub const PASSWORD_HASH_WAIT: &str = "leasify_password_hash_wait_seconds";
pub const QUEUE_PENDING: &str = "leasify_queue_pending";
pub const QUEUE_OLDEST_AGE: &str = "leasify_queue_oldest_pending_age_seconds";
pub const QUEUE_GIVEN_UP: &str = "leasify_queue_given_up";
pub const QUEUE_FAILURES: &str = "leasify_queue_failures_total";
pub const QUEUE_DONE: &str = "leasify_queue_done_total";
pub const BANKID_ORDERS: &str = "leasify_bankid_orders_total";
pub const DB_POOL_CONNECTIONS: &str = "leasify_db_pool_connections";
pub const DB_POOL_MAX: &str = "leasify_db_pool_max_connections";

/// The `queue` label of each work queue (the worker's failures and the sampler's depths agree).
pub const QUEUE_OUTBOX: &str = "outbox";
pub const QUEUE_BACKCHANNEL: &str = "backchannel";
pub const QUEUE_JOBS: &str = "jobs";

/// Histogram buckets in seconds, from a fast page (5 ms) to the request timeout (30 s); argon2
/// waits and request latencies both fall in this range.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the process's global recorder, once: a second server in
/// the same process (the integration tests run many) gets the same handle, and all of them
/// record into it. Returns the handle that renders the text format.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(SECONDS_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                // Only another library's recorder could be there; ours is installed only here.
                tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
            }
            describe();
            handle
        })
        .clone()
}

/// The HELP text of every metric (the recorder keeps them; `promtool` wants one per family).
fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from receiving an HTTP request to its response, by route template and method."
    );
    describe_counter!(
        LOGINS,
        "Login attempts by method (password, bankid) and result (success, failure, throttled)."
    );
    describe_counter!(TOKENS_ISSUED, "Token responses issued, by grant type.");
    describe_gauge!(
        PASSWORD_HASH_WAITING,
        "Password hashes and verifications waiting for an argon2 slot."
    );
    describe_gauge!(
        PASSWORD_HASH_IN_FLIGHT,
        "Password hashes and verifications running now."
    );
    describe_histogram!(
        PASSWORD_HASH_WAIT,
        Unit::Seconds,
        "Time a password hash or verification waited for an argon2 slot."
    );
    describe_gauge!(
        QUEUE_PENDING,
        "Items waiting in a work queue (outbox, backchannel, jobs), retries included."
    );
    describe_gauge!(
        QUEUE_OLDEST_AGE,
        Unit::Seconds,
        "Age of the oldest item still waiting in a work queue (0 when empty)."
    );
    describe_gauge!(
        QUEUE_GIVEN_UP,
        "Items of a work queue given up on after their last attempt, kept 30 days."
    );
    describe_counter!(
        QUEUE_FAILURES,
        "Failed attempts of work-queue items, by queue and outcome (retry, given_up)."
    );
    describe_counter!(QUEUE_DONE, "Work-queue items done, by queue.");
    describe_counter!(
        BANKID_ORDERS,
        "BankID orders that ended, by purpose (login, link), outcome and BankID hint code."
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database pool connections by state (idle, in_use)."
    );
    describe_gauge!(DB_POOL_MAX, "The database pool's connection limit.");
}

/// Keeps the recorder's memory bounded (drains histogram samples nobody scraped yet).
pub fn upkeep() {
    if let Some(handle) = HANDLE.get() {
        handle.run_upkeep();
    }
}

/// One answered HTTP request on a route known at compile time, as [`http_request`] records it
/// but without allocating a label: discovery and the JWK Set are answered tens of thousands of
/// times a second.
pub fn http_request_static(
    route: &'static str,
    method: &'static str,
    status: u16,
    elapsed: Duration,
) {
    let status = match status {
        200 => "200",
        304 => "304",
        503 => "503",
        other => {
            return http_request(route, method, other, elapsed);
        }
    };
    counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status).increment(1);
    histogram!(HTTP_DURATION, "route" => route, "method" => method).record(elapsed.as_secs_f64());
}

/// One answered HTTP request. `route` is the matched route template (`unmatched` for none).
pub fn http_request(route: &str, method: &'static str, status: u16, elapsed: Duration) {
    counter!(HTTP_REQUESTS, "route" => route.to_string(), "method" => method, "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "route" => route.to_string(), "method" => method)
        .record(elapsed.as_secs_f64());
}

/// How a login attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    Success,
    Failure,
    /// Refused unchecked: the attempt budget was spent.
    Throttled,
}

/// One login attempt; `method` is `password` or `bankid`.
pub fn login(method: &'static str, result: LoginResult) {
    let result = match result {
        LoginResult::Success => "success",
        LoginResult::Failure => "failure",
        LoginResult::Throttled => "throttled",
    };
    counter!(LOGINS, "method" => method, "result" => result).increment(1);
}

/// One token response issued for `grant` (the `grant_type` value, one the endpoint supports).
pub fn token_issued(grant: &str) {
    counter!(TOKENS_ISSUED, "grant" => grant.to_string()).increment(1);
}

/// The argon2 queue now: hashes waiting for a slot and hashes running.
pub fn password_hash_queue(waiting: usize, in_flight: usize) {
    gauge!(PASSWORD_HASH_WAITING).set(waiting as f64);
    gauge!(PASSWORD_HASH_IN_FLIGHT).set(in_flight as f64);
}

/// A hash got its slot after waiting `waited`.
pub fn password_hash_waited(waited: Duration) {
    histogram!(PASSWORD_HASH_WAIT).record(waited.as_secs_f64());
}

/// What the sampler read of one work queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSample {
    pub pending: i64,
    /// Seconds since the oldest waiting item was queued (0 when none waits).
    pub oldest_age_secs: i64,
    pub given_up: i64,
}

pub fn queue_sample(queue: &'static str, sample: QueueSample) {
    gauge!(QUEUE_PENDING, "queue" => queue).set(sample.pending as f64);
    gauge!(QUEUE_OLDEST_AGE, "queue" => queue).set(sample.oldest_age_secs.max(0) as f64);
    gauge!(QUEUE_GIVEN_UP, "queue" => queue).set(sample.given_up as f64);
}

/// An attempt at an item of `queue` failed; `given_up` when it was the last.
pub fn queue_failure(queue: &'static str, given_up: bool) {
    let outcome = if given_up { "given_up" } else { "retry" };
    counter!(QUEUE_FAILURES, "queue" => queue, "outcome" => outcome).increment(1);
}

pub fn queue_done(queue: &'static str) {
    counter!(QUEUE_DONE, "queue" => queue).increment(1);
}

/// A BankID order ended. `purpose` is `login` or `link`; `outcome` one of `complete`, `failed`,
/// `cancelled`, `expired`, `error`; `hint` BankID's hint code (`none` without one, `other` for
/// a code we do not know).
pub fn bankid_order(purpose: &'static str, outcome: &'static str, hint: &'static str) {
    counter!(BANKID_ORDERS, "purpose" => purpose, "outcome" => outcome, "hint" => hint)
        .increment(1);
}

/// The database pool now: open connections, how many of them are idle, and the limit.
pub fn db_pool(size: u32, idle: usize, max: u32) {
    let idle = idle.min(size as usize);
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(idle as f64);
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set((size as usize - idle) as f64);
    gauge!(DB_POOL_MAX).set(f64::from(max));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_once_and_renders_what_was_recorded_with_help() {
        let first = install();
        let second = install();
        token_issued("authorization_code");
        queue_failure(QUEUE_OUTBOX, true);
        password_hash_waited(Duration::from_millis(3));
        // Both handles render the one recorder (other tests may record meanwhile: no equality).
        assert!(first.render().contains("leasify_tokens_issued_total"));
        let text = second.render();
        assert!(
            text.contains("# HELP leasify_tokens_issued_total Token responses issued"),
            "{text}"
        );
        assert!(
            text.contains("leasify_tokens_issued_total{grant=\"authorization_code\"}"),
            "{text}"
        );
        assert!(
            text.contains("leasify_queue_failures_total{queue=\"outbox\",outcome=\"given_up\"}"),
            "{text}"
        );
        assert!(
            text.contains("leasify_password_hash_wait_seconds_bucket{le=\"0.005\"}"),
            "a histogram with our buckets, not a summary: {text}"
        );
    }
}

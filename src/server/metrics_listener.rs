//! The metrics listener (`metrics.listen`): `/metrics` on an address of its own, and the sampler
//! that keeps the gauges read from the database (work queues, connection pool) fresh.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::store::WorkQueue;
use crate::telemetry::{self, QueueSample};

/// How often the gauges are read from the database; Prometheus scrapes every 15–60 s, and each
/// sample costs one cheap query per queue.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// The running metrics listener: its address and its tasks (the listener and the sampler).
pub(super) struct MetricsListener {
    pub addr: SocketAddr,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Binds `metrics.listen` and starts serving, or `None` when metrics are off. Binding happens
/// here, before anything is served, so a taken port stops the start with an error.
pub(super) fn start(
    state: &Arc<AppState>,
    stop: &watch::Receiver<bool>,
) -> std::io::Result<Option<MetricsListener>> {
    let Some(wanted) = state
        .config
        .metrics
        .listen_addr()
        .map_err(std::io::Error::other)?
    else {
        return Ok(None);
    };
    let listener = std::net::TcpListener::bind(wanted)?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let handle = telemetry::install();
    let router = crate::web::metrics_http::metrics_router(handle);
    let mut signal = stop.clone();
    let serve = tokio::spawn(async move {
        let stopped = async move {
            let _ = signal.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    });
    let sampler = tokio::spawn(sample_loop(state.clone(), stop.clone()));
    tracing::info!(%addr, "metrics at http://{addr}/metrics");
    Ok(Some(MetricsListener {
        addr,
        tasks: vec![serve, sampler],
    }))
}

async fn sample_loop(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(SAMPLE_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        sample(&state).await;
        telemetry::upkeep();
    }
}

/// Reads the pool and every work queue once. A query that fails or outlasts the database timeout
/// leaves that queue's gauges as they were (the log says why).
async fn sample(state: &AppState) {
    let pool = state.store.pool_stats();
    telemetry::db_pool(pool.size, pool.idle, pool.max);
    let now = state.clock.now();
    for queue in WorkQueue::ALL {
        let label = queue_label(queue);
        let read = tokio::time::timeout(
            state.config.database_timeout(),
            state.store.queue_stats(queue),
        )
        .await;
        match read {
            Ok(Ok(stats)) => telemetry::queue_sample(
                label,
                QueueSample {
                    pending: stats.pending,
                    oldest_age_secs: stats.oldest_pending_at.map_or(0, |at| now - at),
                    given_up: stats.given_up,
                },
            ),
            Ok(Err(e)) => tracing::warn!(queue = label, error = %e, "cannot sample the queue"),
            Err(_) => tracing::warn!(queue = label, "sampling the queue timed out"),
        }
    }
}

fn queue_label(queue: WorkQueue) -> &'static str {
    match queue {
        WorkQueue::Outbox => telemetry::QUEUE_OUTBOX,
        WorkQueue::Backchannel => telemetry::QUEUE_BACKCHANNEL,
        WorkQueue::Jobs => telemetry::QUEUE_JOBS,
    }
}

//! Running the server: bind, serve, background maintenance, graceful shutdown; the metrics
//! listener is in `server/metrics_listener.rs`.

mod metrics_listener;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use axum::extract::ConnectInfo;
use axum::serve::IncomingStream;
use tower::Layer;

use crate::state::AppState;
use crate::tls::TlsListener;

/// A server running in this process (the binary's `serve`, and every integration test).
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served (`metrics.listen`), `None` when metrics are off.
    pub metrics_addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Serves on an already bound listener (bind first, so tests need no sleeps).
    pub fn start(listener: TcpListener, state: Arc<AppState>) -> std::io::Result<RunningServer> {
        let addr = listener.local_addr()?;
        let tls = &state.config.tls;
        let acceptor = if tls.enabled() {
            Some(crate::tls::acceptor_from_files(
                &tls.cert_file,
                &tls.key_file,
            )?)
        } else {
            None
        };
        let (shutdown, mut signal) = watch::channel(false);
        let router = crate::web::router(state.clone());
        let maintenance = tokio::spawn(maintenance_loop(state.clone(), signal.clone()));
        let workers = crate::workers::spawn_all(&state, &signal);
        let token_watcher = {
            let state = state.clone();
            tokio::spawn(async move { state.store.follow_token_context_changes().await })
        };
        let mut plain = None;
        let tls_listener = match acceptor {
            Some(acceptor) => Some(TlsListener::spawn(
                listener,
                acceptor,
                "Leasify ID",
                signal.clone(),
            )?),
            None => {
                plain = Some(listener);
                None
            }
        };
        let metrics = metrics_listener::start(&state, &signal)?;
        let metrics_addr = metrics.as_ref().map(|m| m.addr);
        let metrics_tasks = metrics.map(|m| m.tasks).unwrap_or_default();
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = signal.wait_for(|stop| *stop).await;
            };
            let result = match (tls_listener, plain) {
                (Some(tls), _) => {
                    // Handlers read the peer address as `ConnectInfo<SocketAddr>`, as on plain TCP.
                    let app =
                        tower::service_fn(move |incoming: IncomingStream<'_, TlsListener>| {
                            let peer = ConnectInfo(*incoming.remote_addr());
                            std::future::ready(Ok::<_, std::convert::Infallible>(
                                axum::Extension(peer).layer(router.clone()),
                            ))
                        });
                    axum::serve(tls, app).with_graceful_shutdown(stopped).await
                }
                (None, Some(tcp)) => {
                    let app = router.into_make_service_with_connect_info::<SocketAddr>();
                    axum::serve(tcp, app).with_graceful_shutdown(stopped).await
                }
                (None, None) => Ok(()),
            };
            maintenance.abort();
            token_watcher.abort();
            for worker in workers.into_iter().chain(metrics_tasks) {
                worker.abort();
            }
            result
        });
        Ok(RunningServer {
            addr,
            metrics_addr,
            state,
            shutdown,
            task,
        })
    }

    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.unwrap_or(Ok(()))
    }

    /// Waits for the server to end (it ends when `stop` is called or on an I/O error).
    pub async fn wait(self, until: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        until.await;
        self.stop().await
    }
}

/// Purges expired rows and rotates signing keys on schedule. Every instance runs it; the work is
/// idempotent, so several instances doing it at once is harmless.
async fn maintenance_loop(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        let now = state.clock.now();
        match state.store.purge_expired(now).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purge failed"),
        }
        let retention = state.config.bankid.order_retention_days * 86_400;
        match state.store.purge_bankid_orders(now - retention).await {
            Ok(n) if n > 0 => {
                tracing::info!(orders = n, "purged BankID orders past their retention")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "BankID order purge failed"),
        }
        let kept = state.config.audit.retention_days.max(1) * 86_400;
        match state.store.purge_audit_events(now - kept).await {
            Ok(n) if n > 0 => {
                tracing::info!(events = n, "purged audit events past their retention")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "audit purge failed"),
        }
        let uploaded_before = now - crate::admin::bulk_invite::RETENTION_SECS;
        match state.store.purge_invite_batches(uploaded_before).await {
            Ok(n) if n > 0 => tracing::info!(batches = n, "purged invitation files"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "invitation file purge failed"),
        }
        if let Err(e) = rotate_if_due(&state).await {
            tracing::warn!(error = %e, "scheduled key rotation failed");
        }
    }
}

async fn rotate_if_due(state: &AppState) -> Result<(), crate::keys::KeyError> {
    let days = state.config.keys.rotate_after_days;
    if days == 0 {
        return Ok(());
    }
    let keys = state.keys.list().await?;
    let newest = keys.iter().map(|k| k.active_from).max().unwrap_or(0);
    if state.clock.now() - newest >= days * 86_400 {
        let kids = state
            .keys
            .rotate(
                state.entropy.as_ref(),
                state.config.keys.publish_ahead,
                state.config.keys.keep_published,
                &crate::audit::Caller::system(),
            )
            .await?;
        tracing::info!(?kids, "signing keys rotated on schedule");
    }
    Ok(())
}

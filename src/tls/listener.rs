//! Serving axum over TLS. Handshakes run in their own tasks, so a slow or silent client cannot
//! hold up the accept loop; only completed handshakes reach the HTTP server.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A handshake taking longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An [`axum::serve::Listener`] yielding TLS connections whose handshake has completed.
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener` until `shutdown` turns true. `label` names the server in
    /// log lines.
    pub fn spawn(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        label: &'static str,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<TlsListener> {
        let local_addr = listener.local_addr()?;
        let (connections, incoming) = mpsc::channel(64);
        tokio::spawn(accept_loop(
            listener,
            acceptor,
            label,
            connections,
            shutdown,
        ));
        Ok(TlsListener {
            incoming,
            local_addr,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            // The accept loop has stopped (shutdown): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    label: &'static str,
    connections: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stopped| *stopped) => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                // E.g. too many open files: wait a little instead of spinning.
                tracing::warn!(%error, server = label, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let connections = connections.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = connections.send((tls, peer)).await;
                }
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, server = label, "TLS handshake refused")
                }
                Err(_) => tracing::debug!(%peer, server = label, "TLS handshake timed out"),
            }
        });
    }
}

/// A TLS acceptor for the PEM certificate chain and key files of `[tls]` (no client
/// certificates; HTTP/1.1 only, like the plain listener).
pub fn acceptor_from_files(cert_file: &str, key_file: &str) -> std::io::Result<TlsAcceptor> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read TLS file {path}: {e}")))
    };
    let invalid = |e: crate::tls::TlsError| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("TLS: {e}"))
    };
    let chain = crate::tls::parse_certificates(&read(cert_file)?).map_err(invalid)?;
    let key = crate::tls::parse_private_key(&read(key_file)?).map_err(invalid)?;
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| std::io::Error::other(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unusable TLS certificate or key: {e}"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(std::sync::Arc::new(config)))
}

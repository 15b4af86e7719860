//! The simulator's HTTPS server: the RP API v6.0 paths under `/rp/v6.0/`, TLS with a REQUIRED
//! client certificate issued by the simulator CA, and BankID's error answers for wrong paths,
//! methods, media types and bodies.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use url::Url;

use super::SimulatorState;
use super::orders::{ApiError, OrderType};
use crate::bankid::api::{
    Endpoint, ErrorBody, OrderKind, OrderRefRequest, OrderRequest, PhoneOrderRequest,
    PhoneOrderResponse, error_codes,
};
use crate::bankid::client::BankIdSettings;
use crate::tls::TlsListener;

/// Where the RP API lives on the simulator.
pub const API_PREFIX: &str = "/rp/v6.0/";
/// Largest request body accepted (a sign order's data limits add up to about 240 kB).
const MAX_BODY_BYTES: usize = 512 * 1024;

/// A running simulator. Dropping the handle leaves the server running; call
/// [`SimulatorHandle::shutdown`] to stop it.
#[derive(Debug)]
pub struct SimulatorHandle {
    local_addr: SocketAddr,
    base_url: Url,
    state: SimulatorState,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SimulatorHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://127.0.0.1:<port>/rp/v6.0/`.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub fn state(&self) -> &SimulatorState {
        &self.state
    }

    /// Client settings for this simulator: its URL, trusting only its CA, presenting its RP
    /// certificate.
    pub fn client_settings(&self) -> BankIdSettings {
        self.state.certs().client_settings(self.base_url.clone())
    }

    /// Stops accepting connections and waits (at most 5 s) for open ones to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// The base URL of a simulator listening on `addr` (its certificate names `localhost` and
/// `127.0.0.1`).
pub fn base_url_for(addr: SocketAddr) -> Url {
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(_) => "localhost".to_string(),
    };
    Url::parse(&format!("https://{host}:{}{API_PREFIX}", addr.port())).expect("valid simulator URL")
}

/// Serves the simulator on `listener` until [`SimulatorHandle::shutdown`].
pub async fn start(listener: TcpListener, state: SimulatorState) -> SimulatorHandle {
    let local_addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let base_url = base_url_for(local_addr);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let tls_listener = TlsListener::spawn(
        listener,
        TlsAcceptor::from(state.server_tls()),
        "BankID simulator",
        shutdown_rx.clone(),
    );
    let router = Router::new().fallback(handle).with_state(state.clone());
    let mut stop = shutdown_rx;
    let task = tokio::spawn(async move {
        let served = match tls_listener {
            Ok(tls_listener) => {
                axum::serve(tls_listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|stopped| *stopped).await;
                    })
                    .await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = served {
            tracing::error!(%error, "BankID simulator server failed");
        }
    });
    tracing::info!(%base_url, "BankID simulator listening");
    SimulatorHandle {
        local_addr,
        base_url,
        state,
        shutdown,
        task: Some(task),
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error_response(error: ApiError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = ErrorBody {
        error_code: error.error_code.to_string(),
        details: error.details,
    };
    json_response(status, serde_json::to_string(&body).unwrap_or_default())
}

fn ok<T: serde::Serialize>(value: &T) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_string(value).unwrap_or_default(),
    )
}

/// Parses a request body; the error text names no values (they may be personal data).
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        if text.starts_with("missing field") {
            ApiError::invalid(text.split(" at line").next().unwrap_or(&text).to_string())
        } else {
            ApiError::invalid(format!(
                "Invalid request body ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        }
    })
}

async fn handle(State(state): State<SimulatorState>, request: Request) -> Response {
    let endpoint = request
        .uri()
        .path()
        .strip_prefix(API_PREFIX)
        .and_then(Endpoint::from_path);
    let Some(endpoint) = endpoint else {
        return error_response(ApiError::new(error_codes::NOT_FOUND, "Not found"));
    };
    let response = match check_and_read(endpoint, &state, request).await {
        Ok(body) => dispatch(endpoint, &state, &body).unwrap_or_else(error_response),
        Err(error) => error_response(error),
    };
    tracing::debug!(
        endpoint = endpoint.path(),
        status = response.status().as_u16(),
        "BankID simulator answered"
    );
    response
}

/// BankID's transport rules (POST, exact media type), injected faults, then the body.
async fn check_and_read(
    endpoint: Endpoint,
    state: &SimulatorState,
    request: Request,
) -> Result<Vec<u8>, ApiError> {
    if request.method() != Method::POST {
        return Err(ApiError::new(
            error_codes::METHOD_NOT_ALLOWED,
            "Method not allowed",
        ));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            error_codes::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
        ));
    }
    if let Some(code) = state.core().faults.take(endpoint) {
        return Err(ApiError::new(code, format!("Simulated {code}")));
    }
    let body: Body = request.into_body();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::invalid("Request body too large or unreadable"))?;
    Ok(bytes.to_vec())
}

fn dispatch(endpoint: Endpoint, state: &SimulatorState, body: &[u8]) -> Result<Response, ApiError> {
    let now = state.now();
    match endpoint {
        Endpoint::Auth | Endpoint::Sign => {
            let (kind, order_type) = if endpoint == Endpoint::Auth {
                (OrderKind::Auth, OrderType::Auth)
            } else {
                (OrderKind::Sign, OrderType::Sign)
            };
            let request: OrderRequest = parse(body)?;
            request.validate(kind).map_err(ApiError::invalid)?;
            let response = state.core().create_order(order_type, &request, now)?;
            Ok(ok(&response))
        }
        Endpoint::PhoneAuth | Endpoint::PhoneSign => {
            let (kind, order_type) = if endpoint == Endpoint::PhoneAuth {
                (OrderKind::Auth, OrderType::PhoneAuth)
            } else {
                (OrderKind::Sign, OrderType::PhoneSign)
            };
            let request: PhoneOrderRequest = parse(body)?;
            request.validate(kind).map_err(ApiError::invalid)?;
            let order_ref = state.core().create_phone_order(order_type, &request, now)?;
            Ok(ok(&PhoneOrderResponse { order_ref }))
        }
        Endpoint::Collect => {
            let request: OrderRefRequest = parse(body)?;
            let response = state.core().collect(&request.order_ref, now)?;
            Ok(ok(&response))
        }
        Endpoint::Cancel => {
            let request: OrderRefRequest = parse(body)?;
            state.core().cancel(&request.order_ref, now)?;
            Ok(json_response(StatusCode::OK, "{}".into()))
        }
    }
}

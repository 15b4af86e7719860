//! Small HTTP helpers: cookies, client address, request ids and security headers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::clock::OsEntropy;
use crate::config::Config;

/// The value of one cookie from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `__Host-` cookie: Secure, Path=/, no Domain; HttpOnly and SameSite=Lax.
pub fn host_cookie(name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie(name: &str) -> HeaderValue {
    host_cookie(name, "", Some(0))
}

/// The client's address: the peer, or — only when the peer is a trusted proxy — the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(
    config: &Config,
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
) -> IpAddr {
    let peer_ip = peer
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if !config.trusted_proxies.contains(&peer_ip) {
        return peer_ip;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !config.trusted_proxies.contains(ip))
        .unwrap_or(peer_ip)
}

/// Makes the client's address and browser the origin of every audit event the request writes.
pub async fn audit_origin_layer(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<crate::state::AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .cloned();
    let origin = crate::audit::Origin {
        ip: Some(client_ip(&state.config, peer.as_ref(), request.headers()).to_string()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    crate::audit::with_origin(origin, next.run(request)).await
}

/// A short id for each request, in the logs and the `X-Request-Id` header, so a person's error
/// reference leads to the log line.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A request id: unique within the process and unpredictable-looking, without a system call per
/// request (they are references in logs, not secrets). A random base per process keeps
/// instances' ids apart; an odd multiplier makes consecutive counts look unrelated.
fn next_request_id() -> String {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BASE: LazyLock<u64> = LazyLock::new(|| {
        let mut bytes = [0u8; 8];
        crate::clock::Entropy::fill(&OsEntropy, &mut bytes);
        u64::from_le_bytes(bytes)
    });
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let count = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}", *BASE ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// HSTS for an https issuer: two years, subdomains included (browsers then never try http).
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Gives each request its id and span, and each response the headers every page needs; `hsts`
/// when the issuer is https.
pub async fn request_id_layer(mut request: Request, next: Next, hsts: bool) -> Response {
    let id = next_request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let _entered = span.enter();
    drop(_entered);
    let started = std::time::Instant::now();
    let mut response = {
        use tracing::Instrument;
        next.run(request).instrument(span.clone()).await
    };
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    baseline_headers(response.headers_mut(), hsts);
    response
}

/// The headers every answer carries, unless its handler chose otherwise.
pub fn baseline_headers(headers: &mut HeaderMap, hsts: bool) {
    headers
        .entry("x-content-type-options")
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry("referrer-policy")
        .or_insert(HeaderValue::from_static("no-referrer"));
    headers
        .entry("x-frame-options")
        .or_insert(HeaderValue::from_static("DENY"));
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

/// The Content-Security-Policy of our pages: nothing but our own files.
pub fn page_csp(form_action: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_distinct_16_hex_digits() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| super::next_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }
}

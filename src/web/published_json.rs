//! Public JSON documents every app fetches (discovery, the JWK Set): serialized once, answered
//! with a strong `ETag`, and `304 Not Modified` when the app already has these bytes.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Answers a request for a published document. These routes sit outside the router's middleware
/// (request ids, timeouts, audit origin, error pages): they read nothing from the request but
/// `If-None-Match`, touch no database once loaded, and cannot fail for the client. They keep
/// what every answer needs: the baseline security headers and the request metrics.
pub fn answer(
    route: &'static str,
    method: &Method,
    hsts: bool,
    respond: impl FnOnce() -> Response,
) -> Response {
    let started = Instant::now();
    let mut response = respond();
    super::http::baseline_headers(response.headers_mut(), hsts);
    crate::telemetry::http_request_static(
        route,
        super::metrics_http::method_label(method),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The bytes of one version of a document and their entity tag.
#[derive(Debug, Clone)]
pub struct PublishedJson {
    body: Bytes,
    etag: HeaderValue,
}

impl PublishedJson {
    pub fn new(value: &Value) -> Self {
        let body = Bytes::from(serde_json::to_vec(value).expect("a JSON value serializes"));
        let tag = crate::crypto::sha256_b64url(&body);
        let etag = HeaderValue::from_str(&format!("\"{tag}\"")).expect("base64url is a header");
        PublishedJson { body, etag }
    }

    /// `200` with the document, or `304` when `If-None-Match` names this version.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let status = if self.matches(request) {
            StatusCode::NOT_MODIFIED
        } else {
            StatusCode::OK
        };
        let mut response = if status == StatusCode::OK {
            let mut ok = self.body.clone().into_response();
            ok.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            ok
        } else {
            status.into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        response
    }

    /// RFC 9110 §13.1.2: a list of tags (weak ones compare weakly) or `*`.
    fn matches(&self, request: &HeaderMap) -> bool {
        let ours = self.etag.as_bytes();
        request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == ours)
    }
}

/// A document that changes now and then (the JWK Set at a key rotation): the bytes are kept
/// while its source hands out the same `Arc` (a pointer comparison, no walk of the value; the
/// `Arc` held here keeps its address from being reused).
#[derive(Debug, Default)]
pub struct PublishedCache {
    last: Mutex<Option<(Arc<Value>, PublishedJson)>>,
}

impl PublishedCache {
    pub fn get(&self, value: Arc<Value>) -> PublishedJson {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match last.as_ref() {
            Some((cached, published)) if Arc::ptr_eq(cached, &value) => published.clone(),
            _ => {
                let published = PublishedJson::new(&value);
                *last = Some((value, published.clone()));
                published
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn asking(tags: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(tags).unwrap());
        headers
    }

    #[test]
    fn a_known_version_is_not_sent_again() {
        let doc = PublishedJson::new(&json!({"issuer": "https://id.example"}));
        let fresh = doc.respond(&HeaderMap::new());
        assert_eq!(fresh.status(), StatusCode::OK);
        let etag = fresh.headers()[header::ETAG].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        for tags in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"x\", {etag}"),
            "*".into(),
        ] {
            let again = doc.respond(&asking(&tags));
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{tags}");
            assert_eq!(again.headers()[header::ETAG], etag.as_str());
        }
        assert_eq!(doc.respond(&asking("\"other\"")).status(), StatusCode::OK);
    }

    #[test]
    fn a_changed_value_gets_new_bytes_and_a_new_tag() {
        let cache = PublishedCache::default();
        let first = Arc::new(json!({"keys": [1]}));
        let one = cache.get(first.clone());
        assert_eq!(cache.get(first).etag, one.etag);
        let two = cache.get(Arc::new(json!({"keys": [1, 2]})));
        assert_ne!(two.etag, one.etag);
        assert_eq!(&two.body[..], br#"{"keys":[1,2]}"#);
    }
}

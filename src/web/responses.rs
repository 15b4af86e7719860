//! Protocol answers to clients: authorization responses (redirect or form post), token-endpoint
//! JSON, and bearer challenges. Pages for people are in `pages.rs`; which error becomes which
//! answer is decided in `errors.rs`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use serde::Serialize;

use crate::oidc::response::{AuthorizationResponse, ResponseMode};
use crate::oidc::{BearerError, TokenError};
use crate::state::AppState;

use super::errors::RETRY_AFTER_SECS;
use super::http::page_csp;
use super::pages::page;

/// Sends an authorization response to the client: a 303 redirect, or an auto-submitting form.
pub fn authorization_response(
    state: &AppState,
    lang: &str,
    response: &AuthorizationResponse,
) -> Response {
    match response.target.response_mode {
        ResponseMode::Query => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(location) = HeaderValue::from_str(&response.redirect_url()) {
                r.headers_mut().insert(header::LOCATION, location);
            }
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        ResponseMode::FormPost => {
            let fields: Vec<(String, String)> = response.params.clone();
            let context = context! {
                lang => lang,
                languages => Vec::<Value>::new(),
                action => response.target.redirect_uri.clone(),
                fields => fields,
            };
            let mut r = page(state, StatusCode::OK, "pages/form_post.html", context);
            let origin = url::Url::parse(&response.target.redirect_uri)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_else(|_| "'none'".into());
            r.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, page_csp(&origin));
            r
        }
    }
}

#[derive(Serialize)]
struct OAuthErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    error_description: &'a str,
}

/// JSON that must never be cached (token endpoint, RFC 6749 §5.1).
pub fn no_store_json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub fn token_error(error: TokenError) -> Response {
    if let Some(internal) = &error.internal {
        tracing::error!(error = %internal, "token endpoint failed");
    }
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let retry_after = status == StatusCode::SERVICE_UNAVAILABLE;
    let mut response = no_store_json(
        status,
        &OAuthErrorBody {
            error: error.error,
            error_description: &error.description,
        },
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"leasify-id\""),
        );
    }
    if retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    with_dpop_nonce(response, error.dpop_nonce.as_deref())
}

/// Adds `DPoP-Nonce` (RFC 9449 §8) when there is a nonce to give.
pub fn with_dpop_nonce(mut response: Response, nonce: Option<&str>) -> Response {
    if let Some(value) = nonce.and_then(|n| HeaderValue::from_str(n).ok()) {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}

/// The `DPoP` challenge's parameter naming the algorithms we accept (RFC 9449 §7.1).
fn dpop_algs() -> String {
    format!("algs=\"{}\"", crate::oidc::dpop::signing_algs().join(" "))
}

/// RFC 6750 §3 and RFC 9449 §7.1: a challenge in `WWW-Authenticate`; no details for a missing
/// token, for which both schemes are offered.
pub fn bearer_error(error: BearerError) -> Response {
    let bearer = "Bearer realm=\"leasify-id\"";
    let dpop = |code: &str| {
        format!(
            "DPoP realm=\"leasify-id\", error=\"{code}\", {}",
            dpop_algs()
        )
    };
    let (status, code, challenges, nonce) = match &error {
        BearerError::Missing => (
            StatusCode::UNAUTHORIZED,
            "",
            vec![
                bearer.to_string(),
                format!("DPoP realm=\"leasify-id\", {}", dpop_algs()),
            ],
            None,
        ),
        BearerError::InvalidToken(_) => (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            vec![format!(
                "{bearer}, error=\"invalid_token\", error_description=\"The access token is invalid\""
            )],
            None,
        ),
        BearerError::InvalidRequest(_) => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            vec![format!("{bearer}, error=\"invalid_request\"")],
            None,
        ),
        BearerError::DpopToken(_) => (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            vec![dpop("invalid_token")],
            None,
        ),
        BearerError::DpopProof(_) => (
            StatusCode::UNAUTHORIZED,
            "invalid_dpop_proof",
            vec![dpop("invalid_dpop_proof")],
            None,
        ),
        BearerError::DpopNonce(nonce) => (
            StatusCode::UNAUTHORIZED,
            "use_dpop_nonce",
            vec![dpop("use_dpop_nonce")],
            Some(nonce.as_str()),
        ),
        BearerError::Internal(e) if crate::store::unavailable_in_chain(e) => {
            tracing::warn!(error = %e, "database unavailable");
            let mut response = no_store_json(
                StatusCode::SERVICE_UNAVAILABLE,
                &OAuthErrorBody {
                    error: "temporarily_unavailable",
                    error_description: "",
                },
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
            return response;
        }
        BearerError::Internal(e) => {
            tracing::error!(error = %e, "userinfo failed");
            return no_store_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &OAuthErrorBody {
                    error: "server_error",
                    error_description: "",
                },
            );
        }
    };
    let mut response = if code.is_empty() {
        (status, "").into_response()
    } else {
        no_store_json(
            status,
            &OAuthErrorBody {
                error: code,
                error_description: "",
            },
        )
    };
    for challenge in challenges {
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .append(header::WWW_AUTHENTICATE, value);
        }
    }
    with_dpop_nonce(response, nonce)
}

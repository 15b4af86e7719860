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
    response
}

/// RFC 6750 §3: a challenge in `WWW-Authenticate`, no details for a missing token.
pub fn bearer_error(error: BearerError) -> Response {
    let (status, challenge) = match &error {
        BearerError::Missing => (StatusCode::UNAUTHORIZED, "Bearer realm=\"leasify-id\"".to_string()),
        BearerError::InvalidToken(_) => (
            StatusCode::UNAUTHORIZED,
            "Bearer realm=\"leasify-id\", error=\"invalid_token\", error_description=\"The access token is invalid\"".to_string(),
        ),
        BearerError::InvalidRequest(_) => {
            (StatusCode::BAD_REQUEST, "Bearer realm=\"leasify-id\", error=\"invalid_request\"".to_string())
        }
        BearerError::Internal(e) if crate::store::unavailable_in_chain(e) => {
            tracing::warn!(error = %e, "database unavailable");
            let mut response = no_store_json(
                StatusCode::SERVICE_UNAVAILABLE,
                &OAuthErrorBody { error: "temporarily_unavailable", error_description: "" },
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
            return response;
        }
        BearerError::Internal(e) => {
            tracing::error!(error = %e, "userinfo failed");
            return no_store_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &OAuthErrorBody { error: "server_error", error_description: "" },
            );
        }
    };
    let error_code = match &error {
        BearerError::InvalidRequest(_) => "invalid_request",
        BearerError::InvalidToken(_) => "invalid_token",
        _ => "",
    };
    let mut response = if error_code.is_empty() {
        (status, "").into_response()
    } else {
        no_store_json(
            status,
            &OAuthErrorBody {
                error: error_code,
                error_description: "",
            },
        )
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

//! The one place where errors and results become HTTP responses: OAuth redirects and form posts,
//! token-endpoint JSON, bearer challenges, and pages for people.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use serde::Serialize;

use crate::oidc::response::{AuthorizationResponse, ResponseMode, error_response};
use crate::oidc::{AuthorizeError, BearerError, PageError, TokenError};
use crate::state::AppState;

use super::http::{RequestId, page_csp};

/// Links for the language switch, keeping the current path and query.
pub fn language_links(path_and_query: &str, lang: &str) -> Value {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let links: Vec<Value> = [("sv", "Svenska"), ("en", "English")]
        .iter()
        .map(|(code, label)| {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &kept {
                serializer.append_pair(k, v);
            }
            serializer.append_pair("lang", code);
            context! { code => *code, label => *label, href => format!("{path}?{}", serializer.finish()) }
        })
        .collect();
    let _ = lang;
    Value::from(links)
}

/// Renders a page; a template failure is our fault and becomes a plain 500.
pub fn page(state: &AppState, status: StatusCode, template: &str, context: Value) -> Response {
    match state.templates.render(template, context) {
        Ok(html) => {
            let mut response = (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_SECURITY_POLICY, page_csp("'self'"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

/// A page whose form may end in a redirect to an app (login, set password): browsers apply
/// `form-action` to the redirect after the POST too, so the app's redirect URI must be allowed.
pub fn allow_form_redirect_to(response: &mut Response, redirect_uri: &str) {
    let Ok(url) = url::Url::parse(redirect_uri) else {
        return;
    };
    let source = match url.origin() {
        url::Origin::Tuple(..) => url.origin().ascii_serialization(),
        // Native apps' private-use schemes have no origin: allow the scheme.
        url::Origin::Opaque(_) => format!("{}:", url.scheme()),
    };
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        page_csp(&format!("'self' {source}")),
    );
}

pub fn error_page(
    state: &AppState,
    lang: &str,
    status: StatusCode,
    message_key: &str,
    request_id: Option<&RequestId>,
) -> Response {
    let context = context! {
        lang => lang,
        languages => language_links("/", lang),
        message_key => message_key,
        request_id => request_id.map(|r| r.0.clone()),
    };
    page(state, status, "pages/error.html", context)
}

pub fn page_error(state: &AppState, lang: &str, error: PageError) -> Response {
    error_page(
        state,
        lang,
        StatusCode::BAD_REQUEST,
        error.message_key(),
        None,
    )
}

/// Seconds a client is asked to wait while the database is out of reach.
pub const RETRY_AFTER_SECS: &str = "5";

/// Our own failure: logged with the request id, shown as a reference only. The database being
/// out of reach is a 503 with `Retry-After`, not a 500: nothing is wrong with the request.
pub fn internal_page(
    state: &AppState,
    lang: &str,
    request_id: &RequestId,
    error: &(dyn std::error::Error + 'static),
) -> Response {
    if crate::store::unavailable_in_chain(error) {
        tracing::warn!(request_id = %request_id.0, error = %error, "database unavailable");
        let mut response = error_page(
            state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
            Some(request_id),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
        return response;
    }
    tracing::error!(request_id = %request_id.0, error = %error, "internal error");
    error_page(
        state,
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        "error-internal",
        Some(request_id),
    )
}

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

pub fn authorize_error(
    state: &AppState,
    lang: &str,
    request_id: &RequestId,
    error: AuthorizeError,
) -> Response {
    match error {
        AuthorizeError::Page(e) => page_error(state, lang, e),
        AuthorizeError::Redirect {
            target,
            error,
            description,
        } => authorization_response(
            state,
            lang,
            &error_response(&state.config.issuer, &target, error, &description),
        ),
        AuthorizeError::Internal(e) => internal_page(state, lang, request_id, &e),
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

pub fn token_error(request_id: &RequestId, error: TokenError) -> Response {
    if let Some(internal) = &error.internal {
        tracing::error!(request_id = %request_id.0, error = %internal, "token endpoint failed");
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
pub fn bearer_error(request_id: &RequestId, error: BearerError) -> Response {
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
            tracing::warn!(request_id = %request_id.0, error = %e, "database unavailable");
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
            tracing::error!(request_id = %request_id.0, error = %e, "userinfo failed");
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

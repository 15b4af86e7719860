//! Errors of the admin API as RFC 9457 `application/problem+json`, in one place: every refusal,
//! validation errors with their fields, and our own failures (logged with the request id, never
//! described).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::admin::{AdminError, FieldProblem};
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` for plain HTTP statuses).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For validation problems: what is wrong with which field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// A refusal of the admin API, with the headers it needs.
#[derive(Debug)]
pub struct ApiError {
    problem: Box<Problem>,
    /// `WWW-Authenticate` for 401 and 403.
    challenge: Option<String>,
    retry_after: bool,
}

const TYPE_BASE: &str = "https://leasify.se/problems/";

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            problem: Box::new(Problem {
                kind: format!("{TYPE_BASE}{kind}"),
                title: status.canonical_reason().unwrap_or("Error").to_string(),
                status: status.as_u16(),
                detail: Some(detail.into()),
                errors: Vec::new(),
            }),
            challenge: None,
            retry_after: false,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    pub fn invalid(errors: Vec<FieldProblem>) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request has invalid fields.",
        );
        error.problem.errors = errors;
        error
    }

    /// RFC 6750 §3: no token, or one we don't accept.
    pub fn unauthorized(error: Option<&str>, description: &str) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", description);
        e.challenge = Some(match error {
            Some(code) => format!(
                "Bearer realm=\"leasify-admin\", error=\"{code}\", error_description=\"{description}\""
            ),
            None => "Bearer realm=\"leasify-admin\"".to_string(),
        });
        e
    }

    /// RFC 6750 §3.1 `insufficient_scope`, naming the scope needed.
    pub fn insufficient_scope(scope: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            format!("This needs the scope {scope}."),
        );
        e.challenge = Some(format!(
            "Bearer realm=\"leasify-admin\", error=\"insufficient_scope\", scope=\"{scope}\""
        ));
        e
    }

    fn internal(error: &dyn std::fmt::Display, unavailable: bool) -> ApiError {
        if unavailable {
            tracing::warn!(%error, "admin API: database unavailable");
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is briefly unavailable; try again.",
            );
            e.retry_after = true;
            return e;
        }
        tracing::error!(%error, "admin API: internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side; the X-Request-Id header identifies it.",
        )
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Invalid(errors) => ApiError::invalid(errors),
            AdminError::NotFound(what) => ApiError::new(StatusCode::NOT_FOUND, "not-found", what),
            AdminError::Conflict(what) => ApiError::new(StatusCode::CONFLICT, "conflict", what),
            AdminError::Store(e) => {
                let unavailable = e.is_unavailable();
                ApiError::internal(&e, unavailable)
            }
            other => ApiError::internal(&other, false),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        AdminError::from(error).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = problem_response(status, &self.problem);
        if let Some(challenge) = self.challenge
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if self.retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(crate::web::errors::RETRY_AFTER_SECS),
            );
        }
        response
    }
}

fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Statuses the framework answers on its own (405, 413, a timeout) become problems too, keeping
/// their headers (`Allow`, say): every error of the admin API has one shape.
pub async fn problems_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let problem = Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: None,
        errors: Vec::new(),
    };
    let fresh = problem_response(status, &problem);
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in fresh.headers() {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, fresh.into_body())
}

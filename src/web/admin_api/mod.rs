//! The admin REST API at `/admin/api/v1`: HTTP only. Handlers parse, check the caller's scope,
//! call `crate::admin`, and answer JSON; every error is a problem (`problem.rs`). The OpenAPI
//! document is generated from these handlers (`openapi.rs`).

pub mod audit;
pub mod auth;
pub mod clients;
mod idempotency;
pub mod keys;
pub mod openapi;
pub mod passkeys;
pub mod problem;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Serialize;

use crate::state::AppState;

use problem::ApiError;

/// The API's routes, with their own body handling and error shape.
pub fn router() -> Router<Arc<AppState>> {
    let v1 = Router::new()
        .route("/users", get(users::list).post(users::create))
        .route(
            "/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route("/users/{id}/invitation", post(users::resend_invitation))
        .route("/users/{id}/disable", post(users::disable))
        .route("/users/{id}/enable", post(users::enable))
        .route(
            "/users/{id}/personnummer",
            axum::routing::delete(users::remove_personnummer),
        )
        .route(
            "/users/{id}/sessions",
            get(users::sessions).delete(users::revoke_access),
        )
        .route(
            "/users/{id}/sessions/{sid}",
            axum::routing::delete(users::revoke_session),
        )
        .route(
            "/users/{id}/admin-role",
            axum::routing::put(users::set_admin_role).delete(users::revoke_admin_role),
        )
        .route("/users/{id}/passkeys", get(passkeys::list))
        .route(
            "/users/{id}/passkeys/{passkey_id}",
            axum::routing::delete(passkeys::remove),
        )
        .route("/users/{id}/consents", get(users::consents))
        .route(
            "/users/{id}/consents/{client_id}",
            axum::routing::delete(users::revoke_consent),
        )
        .route("/clients", get(clients::list).post(clients::create))
        .route(
            "/clients/{id}",
            get(clients::get)
                .patch(clients::update)
                .delete(clients::delete),
        )
        .route("/clients/{id}/secret", post(clients::rotate_secret))
        .route("/keys", get(keys::list))
        .route("/keys/rotate", post(keys::rotate))
        .route("/audit-events", get(audit::query))
        .fallback(unknown);
    Router::new()
        .nest("/admin/api/v1", v1)
        .route("/admin/api/openapi.json", get(openapi::document))
        .route("/admin/api/{*rest}", any(unknown))
        .layer(middleware::from_fn(auth::fingerprint))
        .layer(middleware::from_fn(problem::problems_for_bare_errors))
}

async fn unknown() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not-found", "No such endpoint.")
}

/// A JSON answer that no cache keeps.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 201 with the new resource and where it lives.
pub fn created<T: Serialize>(location: &str, body: &T) -> Response {
    let mut response = json(StatusCode::CREATED, body);
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The answer to a retried write: the resource as it is now, marked as a replay.
pub fn replayed<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut response = if status == StatusCode::NO_CONTENT {
        no_content()
    } else {
        json(status, body)
    };
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

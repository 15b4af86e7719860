//! The HTTP surface: routes, handlers, templates, translations and security headers.

pub mod account_page;
pub mod admin_api;
pub mod admin_console;
pub mod bankid_handlers;
pub mod consent_handlers;
pub mod dev_bankid_handlers;
pub mod errors;
pub mod extract;
pub mod http;
pub mod login_handlers;
pub mod logout_handlers;
pub mod metrics_http;
pub mod oidc_handlers;
pub mod pages;
pub mod passkey_handlers;
pub mod password_links;
pub mod published_json;
pub mod responses;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::state::AppState;

/// Request bodies are small forms and JSON; anything bigger is refused early.
const BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: Arc<AppState>) -> Router {
    let simulator = state.bankid.as_ref().is_some_and(|b| b.simulator.is_some());
    let hsts = state.config.issuer.starts_with("https://");
    // Fetched by every app and resource server, answered from memory: outside the middleware
    // below (see `published_json::answer`).
    let published_documents = Router::new()
        .route(
            oidc_handlers::DISCOVERY_PATH,
            oidc_handlers::discovery_route(&state),
        )
        .route(oidc_handlers::JWKS_PATH, oidc_handlers::jwks_route(&state));
    let mut router = Router::new()
        .route("/", get(login_handlers::home))
        .route(
            "/authorize",
            get(oidc_handlers::authorize_get).post(oidc_handlers::authorize_post),
        )
        .route(
            "/login",
            get(login_handlers::login_page).post(login_handlers::login_submit),
        )
        .route("/account", get(account_page::account_page))
        .route("/account/profile", post(account_page::update_profile))
        .route("/account/password", post(account_page::change_password))
        .route("/account/personnummer", post(account_page::personnummer))
        .route("/account/bankid", post(bankid_handlers::start_link))
        .route("/account/passkeys", post(passkey_handlers::account_add))
        .route(
            "/account/passkeys/options",
            post(passkey_handlers::account_options),
        )
        .route(
            "/account/passkeys/rename",
            post(passkey_handlers::account_rename),
        )
        .route(
            "/account/passkeys/remove",
            post(passkey_handlers::account_remove),
        )
        .route("/login/passkey", post(passkey_handlers::login_submit))
        .route(
            "/login/passkey/options",
            post(passkey_handlers::login_options),
        )
        .route(
            "/account/consents/revoke",
            post(account_page::revoke_consent),
        )
        .route(
            "/consent",
            get(consent_handlers::consent_page).post(consent_handlers::consent_submit),
        )
        .route("/bankid/login", post(bankid_handlers::start_login))
        .route("/bankid/order", get(bankid_handlers::order_page))
        .route("/bankid/poll", get(bankid_handlers::poll))
        .route("/bankid/finish", get(bankid_handlers::finish))
        .route("/bankid/cancel", post(bankid_handlers::cancel))
        .route("/logout", post(logout_handlers::logout))
        .route(
            "/password/forgot",
            get(password_links::forgot_page).post(password_links::forgot_submit),
        )
        .route(
            "/password/set",
            get(password_links::set_password_page).post(password_links::set_password_submit),
        )
        .route("/password/resend", post(password_links::resend_link))
        .route("/token", post(oidc_handlers::token_endpoint))
        .route("/par", post(oidc_handlers::par_endpoint))
        .route("/revoke", post(oidc_handlers::revocation_endpoint))
        .route(
            "/session/end",
            get(logout_handlers::end_session_get).post(logout_handlers::end_session_post),
        )
        .route("/session/end/confirm", post(logout_handlers::confirm))
        .route("/introspect", post(oidc_handlers::introspection_endpoint))
        .route(
            "/userinfo",
            get(oidc_handlers::userinfo_endpoint).post(oidc_handlers::userinfo_endpoint),
        )
        .route("/health/live", get(oidc_handlers::health_live))
        .route("/health/ready", get(oidc_handlers::health_ready))
        .route("/static/{file}", get(static_file));
    // The simulated BankID app exists only in simulator mode (development): elsewhere its paths
    // are unknown, like any other.
    if simulator {
        router = router.merge(dev_bankid_handlers::routes());
    }
    router
        .merge(admin_console::routes())
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        // The console's file upload has a limit of its own.
        .merge(admin_console::bulk_invite::upload_routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            errors::render_errors,
        ))
        // The admin API answers its own errors (problem+json) and reads its own bodies.
        .merge(admin_api::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::audit_origin_layer,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(middleware::from_fn(move |request, next| {
            http::request_id_layer(request, next, hsts)
        }))
        // Outermost, so the time and status are what the client gets (timeouts included).
        .layer(middleware::from_fn(metrics_http::track_requests))
        .merge(published_documents)
        .with_state(state)
}

async fn static_file(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let content_type = match file.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match state.templates.static_file(&file) {
        Some(body) => {
            let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn not_found(State(state): State<Arc<AppState>>, lang: extract::Lang) -> Response {
    pages::error_page(
        &state,
        lang.page(),
        StatusCode::NOT_FOUND,
        "error-not-found",
        None,
    )
}

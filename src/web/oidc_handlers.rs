//! HTTP handlers of the protocol endpoints: parse, call `oidc::*`, render.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::login::sessions::{self, SESSION_COOKIE};
use crate::oidc::authorize::{self, AuthorizeOutcome};
use crate::oidc::client_auth::PresentedCredentials;
use crate::oidc::userinfo::PresentedToken;
use crate::oidc::{discovery, revocation, token, userinfo};
use crate::state::AppState;

use super::http::{RequestId, cookie};
use super::responses::{
    authorization_response, authorize_error, bearer_error, internal_page, no_store_json,
    token_error,
};
use crate::render::i18n::negotiate;

type AppStateRef = State<Arc<AppState>>;

fn public_json(value: serde_json::Value) -> Response {
    let mut response = Json(value).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

pub async fn discovery_document(State(state): AppStateRef) -> Response {
    public_json(discovery::document(&state.config))
}

pub async fn jwks(
    State(state): AppStateRef,
    Extension(request_id): Extension<RequestId>,
) -> Response {
    match state.keys.jwks().await {
        Ok(jwks) => public_json(jwks),
        Err(e) => {
            tracing::error!(request_id = %request_id.0, error = %e, "jwks failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub fn parse_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

pub async fn authorize_get(
    State(state): AppStateRef,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_pairs(query.unwrap_or_default().as_bytes());
    run_authorize(&state, &request_id, &headers, params).await
}

pub async fn authorize_post(
    State(state): AppStateRef,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_authorize(&state, &request_id, &headers, parse_pairs(&body)).await
}

async fn run_authorize(
    state: &AppState,
    request_id: &RequestId,
    headers: &HeaderMap,
    params: Vec<(String, String)>,
) -> Response {
    let ui_locales = params
        .iter()
        .find(|(k, _)| k == "ui_locales")
        .map(|(_, v)| v.as_str());
    let lang = negotiate(
        None,
        ui_locales,
        accept_language(headers),
        &state.config.default_locale,
    );
    let session = match sessions::current(state, cookie(headers, SESSION_COOKIE)).await {
        Ok(session) => session,
        Err(e) => return internal_page(state, lang, request_id, &e),
    };
    match authorize::authorize(state, &params, session.as_ref()).await {
        Ok(outcome) => outcome_response(state, lang, outcome),
        Err(e) => authorize_error(state, lang, request_id, e),
    }
}

/// The browser's next step for an authorization outcome: the app, the login page or the
/// consent page.
pub fn outcome_response(state: &AppState, lang: &str, outcome: AuthorizeOutcome) -> Response {
    let location = match outcome {
        AuthorizeOutcome::Respond(response) => {
            return authorization_response(state, lang, &response);
        }
        AuthorizeOutcome::Login { pending_id, .. } => format!("/login?req={pending_id}"),
        AuthorizeOutcome::Consent { pending_id } => format!("/consent?req={pending_id}"),
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The form and client credentials of a token, revocation or introspection request.
pub fn client_request(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(PresentedCredentials, HashMap<String, String>), crate::oidc::TokenError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(crate::oidc::TokenError::invalid_request(
            "The request must be application/x-www-form-urlencoded.",
        ));
    }
    let mut form: HashMap<String, String> = HashMap::new();
    for (k, v) in parse_pairs(body) {
        if form.insert(k.clone(), v).is_some() {
            return Err(crate::oidc::TokenError::invalid_request(format!(
                "The parameter {k} was sent more than once."
            )));
        }
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let presented = PresentedCredentials::from_request(authorization, &form)?;
    Ok((presented, form))
}

pub async fn token_endpoint(
    State(state): AppStateRef,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (presented, form) = match client_request(&headers, &body) {
        Ok(parsed) => parsed,
        Err(e) => return token_error(&request_id, e),
    };
    match token::token(&state, &presented, &form).await {
        Ok(response) => no_store_json(StatusCode::OK, &response),
        Err(e) => token_error(&request_id, e),
    }
}

/// RFC 7009: 200 with an empty body whether or not the token was known.
pub async fn revocation_endpoint(
    State(state): AppStateRef,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (presented, form) = match client_request(&headers, &body) {
        Ok(parsed) => parsed,
        Err(e) => return token_error(&request_id, e),
    };
    match revocation::revoke(&state, &presented, &form).await {
        Ok(()) => no_store_json(StatusCode::OK, &serde_json::json!({})),
        Err(e) => token_error(&request_id, e),
    }
}

pub async fn introspection_endpoint(
    State(state): AppStateRef,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (presented, form) = match client_request(&headers, &body) {
        Ok(parsed) => parsed,
        Err(e) => return token_error(&request_id, e),
    };
    match revocation::introspect(&state, &presented, &form).await {
        Ok(answer) => no_store_json(StatusCode::OK, &answer),
        Err(e) => token_error(&request_id, e),
    }
}

pub async fn userinfo_endpoint(
    State(state): AppStateRef,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(PresentedToken::bearer_from_header);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let form_token = if is_form {
        parse_pairs(&body)
            .into_iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v)
    } else {
        None
    };
    match userinfo::userinfo(
        &state,
        PresentedToken {
            header: header_token,
            form: form_token,
        },
    )
    .await
    {
        Ok(claims) => no_store_json(StatusCode::OK, &claims),
        Err(e) => bearer_error(&request_id, e),
    }
}

pub async fn health_live() -> Response {
    (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response()
}

/// Ready means this instance can write to its database within `database_timeout_ms`: a load
/// balancer takes it out when its disk is full, its SQLite file is locked or the database is
/// gone, since every login would fail there.
pub async fn health_ready(State(state): AppStateRef) -> Response {
    let write = state.store.heartbeat(&state.instance_id, state.clock.now());
    let problem = match tokio::time::timeout(state.config.database_timeout(), write).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the database cannot write");
            Some("database cannot write")
        }
        Err(_) => {
            tracing::warn!("readiness check: no write within the database timeout");
            Some("database did not answer in time")
        }
    };
    let (status, body) = match problem {
        None => (StatusCode::OK, serde_json::json!({"status": "ok"})),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "unavailable", "reason": why}),
        ),
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

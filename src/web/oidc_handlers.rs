//! HTTP handlers of the protocol endpoints: parse, call `oidc::*`, render.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use crate::oidc::authorize::{self, AuthorizeOutcome};
use crate::oidc::userinfo::PresentedToken;
use crate::oidc::{discovery, revocation, token, userinfo};
use crate::state::AppState;

use super::errors::WebError;
use super::extract::{AuthenticatedClient, Lang, MaybeSession, field, parse_pairs};
use super::pages::redirect_see_other;
use super::published_json::{self, PublishedCache, PublishedJson};
use super::responses::{authorization_response, no_store_json, with_dpop_nonce};

type AppStateRef = State<Arc<AppState>>;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/jwks.json";

/// `GET /.well-known/openid-configuration`: the configuration is fixed while the server runs, so
/// the document is serialized once. Mounted outside the middleware stack (`published_json`).
pub fn discovery_route(state: &AppState) -> MethodRouter<Arc<AppState>> {
    let document = Arc::new(PublishedJson::new(&discovery::document(&state.config)));
    let hsts = state.config.issuer.starts_with("https://");
    get(move |method: Method, headers: HeaderMap| async move {
        published_json::answer(DISCOVERY_PATH, &method, hsts, || document.respond(&headers))
    })
}

/// `GET /jwks.json`: serialized again only when a rotation changes the published keys. Mounted
/// outside the middleware stack (`published_json`).
pub fn jwks_route(state: &AppState) -> MethodRouter<Arc<AppState>> {
    let published = Arc::new(PublishedCache::default());
    let hsts = state.config.issuer.starts_with("https://");
    get(
        move |State(state): AppStateRef, method: Method, headers: HeaderMap| async move {
            let answer = match state.keys.published_jwks().await {
                Ok(jwks) => published.get(jwks).respond(&headers),
                // Only when the keys were never loaded and the database is unreachable.
                Err(error) => {
                    tracing::error!(%error, "the JWK Set cannot be published");
                    let mut unavailable = StatusCode::SERVICE_UNAVAILABLE.into_response();
                    unavailable
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                    unavailable
                }
            };
            published_json::answer(JWKS_PATH, &method, hsts, || answer)
        },
    )
}

pub async fn authorize_get(
    State(state): AppStateRef,
    lang: Lang,
    MaybeSession(session): MaybeSession,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let params = parse_pairs(query.unwrap_or_default().as_bytes());
    run_authorize(&state, &lang, session, params).await
}

pub async fn authorize_post(
    State(state): AppStateRef,
    lang: Lang,
    MaybeSession(session): MaybeSession,
    body: Bytes,
) -> Result<Response, WebError> {
    run_authorize(&state, &lang, session, parse_pairs(&body)).await
}

async fn run_authorize(
    state: &AppState,
    lang: &Lang,
    session: Option<crate::login::sessions::ActiveSession>,
    params: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let lang = lang.pick(None, field(&params, "ui_locales"));
    let outcome = authorize::authorize(state, &params, session.as_ref())
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    Ok(outcome_response(state, lang, outcome))
}

/// The browser's next step for an authorization outcome: the app, the login page or the
/// consent page.
pub fn outcome_response(state: &AppState, lang: &str, outcome: AuthorizeOutcome) -> Response {
    match outcome {
        AuthorizeOutcome::Respond(response) => authorization_response(state, lang, &response),
        AuthorizeOutcome::Login { pending_id, .. } => {
            redirect_see_other(&format!("/login?req={pending_id}"))
        }
        AuthorizeOutcome::Consent { pending_id } => {
            redirect_see_other(&format!("/consent?req={pending_id}"))
        }
    }
}

pub async fn token_endpoint(
    State(state): AppStateRef,
    request: AuthenticatedClient,
) -> Result<Response, WebError> {
    let response = token::token(&state, &request.client, &request.form, &request.dpop).await?;
    let nonce = response.dpop_nonce.clone();
    Ok(with_dpop_nonce(
        no_store_json(StatusCode::OK, &response),
        nonce.as_deref(),
    ))
}

/// RFC 9126 §2: 201 with the `request_uri`, never cached; errors are JSON like the token
/// endpoint's.
pub async fn par_endpoint(
    State(state): AppStateRef,
    request: AuthenticatedClient,
) -> Result<Response, WebError> {
    let pushed = authorize::push(&state, &request.client, &request.form, &request.dpop).await?;
    Ok(no_store_json(StatusCode::CREATED, &pushed))
}

/// RFC 7009: 200 with an empty body whether or not the token was known.
pub async fn revocation_endpoint(
    State(state): AppStateRef,
    request: AuthenticatedClient,
) -> Result<Response, WebError> {
    revocation::revoke(&state, &request.client, &request.form).await?;
    Ok(no_store_json(StatusCode::OK, &serde_json::json!({})))
}

pub async fn introspection_endpoint(
    State(state): AppStateRef,
    request: AuthenticatedClient,
) -> Result<Response, WebError> {
    let answer = revocation::introspect(&state, &request.client, &request.form).await?;
    Ok(no_store_json(StatusCode::OK, &answer))
}

pub async fn userinfo_endpoint(
    State(state): AppStateRef,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let (scheme, header_token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(PresentedToken::token_from_header)
        .map_or((Default::default(), None), |(scheme, token)| {
            (scheme, Some(token))
        });
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let form_token = is_form
        .then(|| field(&parse_pairs(&body), "access_token").map(str::to_string))
        .flatten();
    let presented = PresentedToken {
        header: header_token,
        scheme,
        form: form_token,
        dpop: super::extract::dpop_proof(&headers),
        method: method.to_string(),
    };
    let claims = userinfo::userinfo(&state, presented).await?;
    Ok(no_store_json(StatusCode::OK, &claims))
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
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

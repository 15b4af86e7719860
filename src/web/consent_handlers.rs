//! The consent page for third-party apps (and `prompt=consent`): `GET|POST /consent`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use crate::login::csrf::{self, CSRF_COOKIE};
use crate::login::sessions::{self, SESSION_COOKIE};
use crate::oidc::PageError;
use crate::oidc::authorize;
use crate::state::AppState;

use super::account_handlers::{csrf_token, with_cookie};
use super::http::{RequestId, cookie};
use super::login_handlers::{page_lang, redirect_see_other};
use super::oidc_handlers::parse_pairs;
use super::responses::{
    allow_form_redirect_to, authorization_response, authorize_error, internal_page, language_links,
    page, page_error,
};

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    req: Option<String>,
    lang: Option<String>,
}

pub async fn consent_page(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<ConsentQuery>,
) -> Response {
    let fallback_lang = page_lang(&state, query.lang.as_deref(), None, &headers);
    let Some(pending_id) = query.req.as_deref() else {
        return page_error(&state, fallback_lang, PageError::BadRequest);
    };
    let request = match authorize::pending_request(&state, pending_id).await {
        Ok(request) => request,
        Err(e) => return authorize_error(&state, fallback_lang, &request_id, e),
    };
    let lang = page_lang(&state, query.lang.as_deref(), Some(&request), &headers);
    match sessions::current(&state, cookie(&headers, SESSION_COOKIE)).await {
        Ok(Some(_)) => {}
        Ok(None) => return redirect_see_other(&format!("/login?req={pending_id}")),
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    }
    let client_name = match state.store.client_by_id(&request.client_id).await {
        Ok(Some(client)) => client.name,
        Ok(None) => return page_error(&state, lang, PageError::UnknownClient),
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    };
    let scope_keys: Vec<String> = request
        .consent_scopes()
        .iter()
        .map(|s| format!("scope-{s}"))
        .collect();
    let (csrf, set_cookie) = csrf_token(&state, &headers);
    let context = context! {
        lang => lang,
        languages => language_links(&format!("/consent?req={pending_id}"), lang),
        client_name => client_name,
        scope_keys => scope_keys,
        csrf => csrf,
        req => pending_id,
        signed_in => true,
    };
    let mut response = page(&state, StatusCode::OK, "pages/consent.html", context);
    allow_form_redirect_to(&mut response, &request.target.redirect_uri);
    with_cookie(response, set_cookie)
}

pub async fn consent_submit(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_pairs(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let lang = page_lang(&state, field("lang"), None, &headers);
    if !csrf::verify(&state, cookie(&headers, CSRF_COOKIE), field("csrf")) {
        return page_error(&state, lang, PageError::InvalidCsrf);
    }
    let Some(pending_id) = field("req") else {
        return page_error(&state, lang, PageError::BadRequest);
    };
    let active = match sessions::current(&state, cookie(&headers, SESSION_COOKIE)).await {
        Ok(Some(active)) => active,
        Ok(None) => return redirect_see_other(&format!("/login?req={pending_id}")),
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    };
    let approved = field("decision") == Some("approve");
    match authorize::finish_consent(&state, pending_id, &active, approved).await {
        Ok(response) => authorization_response(&state, lang, &response),
        Err(e) => authorize_error(&state, lang, &request_id, e),
    }
}

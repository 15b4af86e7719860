//! The consent page for third-party apps (and `prompt=consent`): `GET|POST /consent`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use crate::oidc::PageError;
use crate::oidc::authorize;
use crate::state::AppState;

use super::errors::WebError;
use super::extract::{CsrfForm, Lang, MaybeSession};
use super::pages::{CsrfToken, allow_form_redirect_to, language_links, page, redirect_see_other};
use super::responses::authorization_response;

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    req: Option<String>,
}

pub async fn consent_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    MaybeSession(session): MaybeSession,
    headers: HeaderMap,
    Query(query): Query<ConsentQuery>,
) -> Result<Response, WebError> {
    let pending_id = query.req.as_deref().ok_or(PageError::BadRequest)?;
    let request = authorize::pending_request(&state, pending_id).await?;
    let lang = lang.pick(None, request.ui_locales.as_deref());
    if session.is_none() {
        return Ok(redirect_see_other(&format!("/login?req={pending_id}")));
    }
    let client = state
        .store
        .client_by_id(&request.client_id)
        .await?
        .ok_or_else(|| WebError::page(PageError::UnknownClient).in_lang(lang))?;
    let scope_keys: Vec<String> = request
        .consent_scopes()
        .iter()
        .map(|s| format!("scope-{s}"))
        .collect();
    let csrf = CsrfToken::for_browser(&state, &headers);
    let context = context! {
        lang => lang,
        languages => language_links(&format!("/consent?req={pending_id}"), lang),
        client_name => client.name,
        scope_keys => scope_keys,
        csrf => csrf.token.clone(),
        req => pending_id,
        signed_in => true,
    };
    let mut response = page(&state, StatusCode::OK, "pages/consent.html", context);
    allow_form_redirect_to(&mut response, &request.target.redirect_uri);
    Ok(csrf.set_on(response))
}

pub async fn consent_submit(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    MaybeSession(session): MaybeSession,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.pick(form.lang(), None);
    let pending_id = form
        .get("req")
        .ok_or_else(|| WebError::page(PageError::BadRequest).in_lang(lang))?;
    let Some(active) = session else {
        return Ok(redirect_see_other(&format!("/login?req={pending_id}")));
    };
    let approved = form.get("decision") == Some("approve");
    let response = authorize::finish_consent(&state, pending_id, &active, approved)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    Ok(authorization_response(&state, lang, &response))
}

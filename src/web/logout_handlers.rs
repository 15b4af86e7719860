//! RP-Initiated Logout 1.0: `GET|POST /session/end` and the confirmation form.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::login::csrf::{self, CSRF_COOKIE};
use crate::login::sessions::{self, SESSION_COOKIE};
use crate::oidc::PageError;
use crate::oidc::logout::{self, ConfirmReason, EndSessionDecision, EndSessionRequest};
use crate::state::AppState;

use super::account_handlers::{csrf_token, message_page, with_cookie};
use super::http::{RequestId, clear_cookie, cookie};
use super::login_handlers::page_lang;
use super::oidc_handlers::parse_pairs;
use super::responses::{allow_form_redirect_to, internal_page, language_links, page, page_error};

fn request_from(pairs: Vec<(String, String)>) -> (EndSessionRequest, HashMap<String, String>) {
    let mut all: HashMap<String, String> = HashMap::new();
    for (k, v) in pairs {
        all.entry(k).or_insert(v);
    }
    let get = |name: &str| all.get(name).filter(|v| !v.is_empty()).cloned();
    let request = EndSessionRequest {
        id_token_hint: get("id_token_hint"),
        post_logout_redirect_uri: get("post_logout_redirect_uri"),
        state: get("state"),
        client_id: get("client_id"),
        logout_hint: get("logout_hint"),
    };
    (request, all)
}

pub async fn end_session_get(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = parse_pairs(query.unwrap_or_default().as_bytes());
    end_session(&state, &request_id, &headers, pairs).await
}

pub async fn end_session_post(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    end_session(&state, &request_id, &headers, parse_pairs(&body)).await
}

async fn end_session(
    state: &AppState,
    request_id: &RequestId,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
) -> Response {
    let (request, all) = request_from(pairs);
    let lang = page_lang(
        state,
        all.get("ui_locales").map(String::as_str),
        None,
        headers,
    );
    let session_user = match session_user(state, headers).await {
        Ok(user) => user,
        Err(e) => return internal_page(state, lang, request_id, &e),
    };
    let decision = match logout::decide(state, &request, session_user.as_deref()).await {
        Ok(decision) => decision,
        Err(e) => return internal_page(state, lang, request_id, &e),
    };
    match decision {
        EndSessionDecision::LogoutAndRedirect { redirect } => match log_out(state, headers).await {
            Ok(()) => redirect_clearing_session(&redirect),
            Err(e) => internal_page(state, lang, request_id, &e),
        },
        EndSessionDecision::LogoutAndShowPage => match log_out(state, headers).await {
            Ok(()) => logged_out_page(state, lang),
            Err(e) => internal_page(state, lang, request_id, &e),
        },
        EndSessionDecision::Confirm {
            reason,
            client_name,
            redirect_after,
        } => {
            let (csrf, set_cookie) = csrf_token(state, headers);
            let reason_key = match reason {
                ConfirmReason::Unverified => "logout-confirm-unverified",
                ConfirmReason::InvalidHint => "logout-confirm-invalid-hint",
                ConfirmReason::UnregisteredRedirect => "logout-confirm-unregistered",
                ConfirmReason::AnotherUser => "logout-confirm-another-user",
            };
            let context = context! {
                lang => lang,
                languages => language_links("/session/end", lang),
                csrf => csrf,
                reason_key => reason_key,
                client_name => client_name,
                id_token_hint => request.id_token_hint,
                post_logout_redirect_uri => request.post_logout_redirect_uri,
                state => request.state,
                client_id => request.client_id,
            };
            let mut response = page(state, StatusCode::OK, "pages/logout_confirm.html", context);
            // Only a URI registered for the client may be where confirming redirects to.
            if let Some(uri) = &redirect_after {
                allow_form_redirect_to(&mut response, uri);
            }
            with_cookie(response, set_cookie)
        }
    }
}

/// The user confirmed: log out, then go where the (re-checked) request may go.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (request, all) = request_from(parse_pairs(&body));
    let lang = page_lang(&state, all.get("lang").map(String::as_str), None, &headers);
    if !csrf::verify(
        &state,
        cookie(&headers, CSRF_COOKIE),
        all.get("csrf").map(String::as_str),
    ) {
        return page_error(&state, lang, PageError::InvalidCsrf);
    }
    // Decide again from the submitted parameters, so the form cannot widen where we redirect.
    let session_user = match session_user(&state, &headers).await {
        Ok(user) => user,
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    };
    let redirect = match logout::decide(&state, &request, session_user.as_deref()).await {
        Ok(EndSessionDecision::LogoutAndRedirect { redirect }) => Some(redirect),
        Ok(EndSessionDecision::Confirm { redirect_after, .. }) => redirect_after,
        Ok(EndSessionDecision::LogoutAndShowPage) => None,
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    };
    if let Err(e) = log_out(&state, &headers).await {
        return internal_page(&state, lang, &request_id, &e);
    }
    match redirect {
        Some(uri) => redirect_clearing_session(&uri),
        None => logged_out_page(&state, lang),
    }
}

/// The user of this browser's session, if it has a live one.
async fn session_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<String>, crate::store::StoreError> {
    Ok(sessions::current(state, cookie(headers, SESSION_COOKIE))
        .await?
        .map(|active| active.user.id))
}

async fn log_out(state: &AppState, headers: &HeaderMap) -> Result<(), crate::error::InternalError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(value) => crate::oidc::logout::end_session_of_cookie(state, value).await,
        None => Ok(()),
    }
}

fn redirect_clearing_session(uri: &str) -> Response {
    let mut response =
        (StatusCode::SEE_OTHER, [(header::LOCATION, uri.to_string())]).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

fn logged_out_page(state: &AppState, lang: &str) -> Response {
    let login = format!("/login?next=%2Faccount&lang={lang}");
    let mut response = message_page(
        state,
        lang,
        "logged-out-title",
        "logged-out-message",
        Some((&login, "login-again")),
    );
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    response
}

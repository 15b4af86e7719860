//! Logging out: RP-Initiated Logout 1.0 (`GET|POST /session/end` and its confirmation form) and
//! "Logga ut" in Mina uppgifter.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::login::sessions::{ActiveSession, SESSION_COOKIE};
use crate::oidc::logout::{
    self, ConfirmReason, EndSessionDecision, EndSessionRequest, end_session_of_cookie,
};
use crate::state::AppState;

use super::errors::WebError;
use super::extract::{CsrfForm, Lang, MaybeSession, parse_pairs};
use super::http::{clear_cookie, cookie};
use super::pages::{CsrfToken, allow_form_redirect_to, language_links, message_page, page};

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
    lang: Lang,
    session: MaybeSession,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let pairs = parse_pairs(query.unwrap_or_default().as_bytes());
    end_session(&state, &lang, session.0.as_ref(), &headers, pairs).await
}

pub async fn end_session_post(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    session: MaybeSession,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    end_session(
        &state,
        &lang,
        session.0.as_ref(),
        &headers,
        parse_pairs(&body),
    )
    .await
}

async fn end_session(
    state: &AppState,
    lang: &Lang,
    session: Option<&ActiveSession>,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let (request, all) = request_from(pairs);
    let lang = lang.pick(None, all.get("ui_locales").map(String::as_str));
    let session_user = session.map(|active| active.user.id.as_str());
    let decision = logout::decide(state, &request, session_user)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    match decision {
        EndSessionDecision::LogoutAndRedirect { redirect } => {
            log_out(state, headers, lang).await?;
            Ok(redirect_clearing_session(&redirect))
        }
        EndSessionDecision::LogoutAndShowPage => {
            log_out(state, headers, lang).await?;
            Ok(logged_out_page(state, lang))
        }
        EndSessionDecision::Confirm {
            reason,
            client_name,
            redirect_after,
        } => {
            let csrf = CsrfToken::for_browser(state, headers);
            let reason_key = match reason {
                ConfirmReason::Unverified => "logout-confirm-unverified",
                ConfirmReason::InvalidHint => "logout-confirm-invalid-hint",
                ConfirmReason::UnregisteredRedirect => "logout-confirm-unregistered",
                ConfirmReason::AnotherUser => "logout-confirm-another-user",
            };
            let context = context! {
                lang => lang,
                languages => language_links("/session/end", lang),
                csrf => csrf.token.clone(),
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
            Ok(csrf.set_on(response))
        }
    }
}

/// The user confirmed: log out, then go where the (re-checked) request may go.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    MaybeSession(session): MaybeSession,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let (request, _) = request_from(form.0.clone());
    let lang = lang.pick(form.lang(), None);
    // Decide again from the submitted parameters, so the form cannot widen where we redirect.
    let session_user = session.as_ref().map(|active| active.user.id.as_str());
    let redirect = match logout::decide(&state, &request, session_user)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?
    {
        EndSessionDecision::LogoutAndRedirect { redirect } => Some(redirect),
        EndSessionDecision::Confirm { redirect_after, .. } => redirect_after,
        EndSessionDecision::LogoutAndShowPage => None,
    };
    log_out(&state, &headers, lang).await?;
    Ok(match redirect {
        Some(uri) => redirect_clearing_session(&uri),
        None => logged_out_page(&state, lang),
    })
}

/// "Logga ut" in Mina uppgifter.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.pick(form.lang(), None);
    log_out(&state, &headers, lang).await?;
    Ok(logged_out_page(&state, lang))
}

async fn log_out(
    state: &AppState,
    headers: &HeaderMap,
    lang: &'static str,
) -> Result<(), WebError> {
    if let Some(value) = cookie(headers, SESSION_COOKIE) {
        end_session_of_cookie(state, value)
            .await
            .map_err(|e| WebError::from(e).in_lang(lang))?;
    }
    Ok(())
}

fn redirect_clearing_session(uri: &str) -> Response {
    let mut response =
        (StatusCode::SEE_OTHER, [(header::LOCATION, uri.to_string())]).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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

//! The hosted login page and the home page.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use crate::login::csrf::{self, CSRF_COOKIE};
use crate::login::device::{DEVICE_COOKIE, DEVICE_COOKIE_TTL};
use crate::login::methods::{ACR_PASSWORD, Method};
use crate::login::password::{LoginError, verify_password_login};
use crate::login::sessions::{self, SESSION_COOKIE};
use crate::oidc::PageError;
use crate::oidc::authorize::{self, AuthorizationRequest};
use crate::state::AppState;

use super::http::{RequestId, cookie, host_cookie};
use super::oidc_handlers::{accept_language, parse_pairs};
use super::responses::{
    allow_form_redirect_to, authorize_error, internal_page, language_links, page, page_error,
};
use crate::render::i18n::negotiate;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    req: Option<String>,
    next: Option<String>,
    lang: Option<String>,
}

/// Where a login leads: back into an app's authorization request, or to one of our own pages.
enum LoginTarget {
    Authorization {
        pending_id: String,
        request: Box<AuthorizationRequest>,
    },
    Local {
        next: String,
    },
}

/// `next` resolved against the issuer: one of our own pages, or the account page.
pub fn safe_next(state: &AppState, next: Option<&str>) -> String {
    crate::login::return_to::return_path(&state.config.issuer, next)
}

struct LoginView<'a> {
    lang: &'a str,
    target: &'a LoginTarget,
    email: &'a str,
    error_key: Option<&'a str>,
}

async fn render_login(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    view: LoginView<'_>,
) -> Result<Response, crate::store::StoreError> {
    let (client_name, req, next, self_path, forgot_href) = match view.target {
        LoginTarget::Authorization {
            pending_id,
            request,
        } => (
            state
                .store
                .client_by_id(&request.client_id)
                .await?
                .map(|c| c.name),
            Some(pending_id.as_str()),
            None,
            format!("/login?req={pending_id}"),
            format!("/password/forgot?req={pending_id}&lang={}", view.lang),
        ),
        LoginTarget::Local { next } => {
            let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            (
                None,
                None,
                Some(next.as_str()),
                format!("/login?next={encoded}"),
                format!("/password/forgot?lang={}", view.lang),
            )
        }
    };
    // An app demanding BankID (acr_values) gets only the BankID button.
    let password_allowed = match view.target {
        LoginTarget::Authorization { request, .. } => {
            request.accepts_acr(&state.config, ACR_PASSWORD) || state.bankid.is_none()
        }
        LoginTarget::Local { .. } => true,
    };
    let (csrf_cookie, is_new) = csrf::cookie_or_new(state, cookie(headers, CSRF_COOKIE));
    let context = context! {
        lang => view.lang,
        languages => language_links(&self_path, view.lang),
        req => req,
        next => next,
        forgot_href => forgot_href,
        csrf => csrf::token_for(state, &csrf_cookie),
        email => view.email,
        error_key => view.error_key,
        client_name => client_name,
        bankid_enabled => state.bankid.is_some(),
        password_allowed => password_allowed,
    };
    let mut response = page(state, status, "pages/login.html", context);
    if let LoginTarget::Authorization { request, .. } = view.target {
        allow_form_redirect_to(&mut response, &request.target.redirect_uri);
    }
    if is_new {
        response.headers_mut().append(
            header::SET_COOKIE,
            host_cookie(CSRF_COOKIE, &csrf_cookie, None),
        );
    }
    Ok(response)
}

pub fn page_lang(
    state: &AppState,
    explicit: Option<&str>,
    request: Option<&AuthorizationRequest>,
    headers: &HeaderMap,
) -> &'static str {
    negotiate(
        explicit,
        request.and_then(|r| r.ui_locales.as_deref()),
        accept_language(headers),
        &state.config.default_locale,
    )
}

pub async fn login_page(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let target = match query.req.as_deref() {
        Some(pending_id) => match authorize::pending_request(&state, pending_id).await {
            Ok(request) => LoginTarget::Authorization {
                pending_id: pending_id.to_string(),
                request: Box::new(request),
            },
            Err(e) => {
                return authorize_error(
                    &state,
                    page_lang(&state, query.lang.as_deref(), None, &headers),
                    &request_id,
                    e,
                );
            }
        },
        None => LoginTarget::Local {
            next: safe_next(&state, query.next.as_deref()),
        },
    };
    let request = match &target {
        LoginTarget::Authorization { request, .. } => Some(request.as_ref()),
        LoginTarget::Local { .. } => None,
    };
    let lang = page_lang(&state, query.lang.as_deref(), request, &headers);
    let email = request
        .and_then(|r| r.login_hint.clone())
        .unwrap_or_default();
    let view = LoginView {
        lang,
        target: &target,
        email: &email,
        error_key: None,
    };
    render_login(&state, &headers, StatusCode::OK, view)
        .await
        .unwrap_or_else(|e| internal_page(&state, lang, &request_id, &e))
}

pub async fn login_submit(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_pairs(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let explicit_lang = field("lang");
    let target = match field("req") {
        Some(pending_id) => match authorize::pending_request(&state, pending_id).await {
            Ok(request) => LoginTarget::Authorization {
                pending_id: pending_id.to_string(),
                request: Box::new(request),
            },
            Err(e) => {
                return authorize_error(
                    &state,
                    page_lang(&state, explicit_lang, None, &headers),
                    &request_id,
                    e,
                );
            }
        },
        None => LoginTarget::Local {
            next: safe_next(&state, field("next")),
        },
    };
    let request = match &target {
        LoginTarget::Authorization { request, .. } => Some(request.as_ref()),
        LoginTarget::Local { .. } => None,
    };
    let lang = page_lang(&state, explicit_lang, request, &headers);
    if !csrf::verify(&state, cookie(&headers, CSRF_COOKIE), field("csrf")) {
        return page_error(&state, lang, PageError::InvalidCsrf);
    }
    let email = field("email").unwrap_or_default();
    let password = field("password").unwrap_or_default();
    let source = super::account_handlers::attempt_source(&state, peer, &headers);
    let (user, device_cookie) = match verify_password_login(&state, email, password, source).await {
        Ok(login) => (login.user, login.device_cookie),
        Err(e @ (LoginError::InvalidCredentials | LoginError::Throttled)) => {
            let (status, key) = match e {
                LoginError::Throttled => (StatusCode::TOO_MANY_REQUESTS, "login-throttled"),
                _ => (StatusCode::UNAUTHORIZED, "login-invalid"),
            };
            let view = LoginView {
                lang,
                target: &target,
                email,
                error_key: Some(key),
            };
            return render_login(&state, &headers, status, view)
                .await
                .unwrap_or_else(|e| internal_page(&state, lang, &request_id, &e));
        }
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    };
    // A fresh session id on every login defeats session fixation.
    if let Some(old) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = crate::oidc::logout::end_session_of_cookie(&state, old).await
    {
        return internal_page(&state, lang, &request_id, &e);
    }
    let (session_cookie, active) = match sessions::start(&state, user, Method::Password).await {
        Ok(started) => started,
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    };
    tracing::info!(user_id = %active.user.id, "password login succeeded");
    let mut response = continue_after_login(
        &state,
        lang,
        &request_id,
        &headers,
        target_of(&target),
        &active,
        &session_cookie,
    )
    .await;
    response.headers_mut().append(
        header::SET_COOKIE,
        host_cookie(DEVICE_COOKIE, &device_cookie, Some(DEVICE_COOKIE_TTL)),
    );
    response
}

fn target_of(target: &LoginTarget) -> AfterLogin<'_> {
    match target {
        LoginTarget::Authorization {
            pending_id,
            request,
        } => AfterLogin::LoadedAuthorization(pending_id, request),
        LoginTarget::Local { next } => AfterLogin::Local(next),
    }
}

/// Where to go once a session exists.
pub enum AfterLogin<'a> {
    Authorization(&'a str),
    /// The same, with the pending request already read (saves reading it again).
    LoadedAuthorization(&'a str, &'a AuthorizationRequest),
    Local(&'a str),
}

/// Finishes a login (password, link, BankID): answers the waiting app or goes to `next`, and
/// sets the new session cookie.
pub async fn continue_after_login(
    state: &AppState,
    lang: &str,
    request_id: &RequestId,
    _headers: &HeaderMap,
    after: AfterLogin<'_>,
    active: &crate::login::sessions::ActiveSession,
    session_cookie: &str,
) -> Response {
    let mut response = match after {
        AfterLogin::Authorization(pending_id) => {
            match authorize::resume_after_login(state, pending_id, None, active).await {
                Ok(outcome) => super::oidc_handlers::outcome_response(state, lang, outcome),
                Err(e) => authorize_error(state, lang, request_id, e),
            }
        }
        AfterLogin::LoadedAuthorization(pending_id, request) => {
            let loaded = Some(request.clone());
            match authorize::resume_after_login(state, pending_id, loaded, active).await {
                Ok(outcome) => super::oidc_handlers::outcome_response(state, lang, outcome),
                Err(e) => authorize_error(state, lang, request_id, e),
            }
        }
        AfterLogin::Local(next) => redirect_see_other(next),
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        host_cookie(
            SESSION_COOKIE,
            session_cookie,
            Some(state.config.session.ttl),
        ),
    );
    response
}

pub fn redirect_see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    lang: Option<String>,
}

pub async fn home(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<HomeQuery>,
) -> Response {
    let lang = page_lang(&state, query.lang.as_deref(), None, &headers);
    let active = match sessions::current(&state, cookie(&headers, SESSION_COOKIE)).await {
        Ok(active) => active,
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    };
    let context = context! {
        lang => lang,
        languages => language_links("/", lang),
        signed_in => active.is_some(),
        user_name => active.as_ref().map(|a| a.user.name.clone()),
        user_email => active.as_ref().map(|a| a.user.email.clone()),
    };
    page(&state, StatusCode::OK, "pages/home.html", context)
}

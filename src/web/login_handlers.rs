//! The hosted login page, the home page, and where a login goes on from.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use crate::login::device::{DEVICE_COOKIE, DEVICE_COOKIE_TTL};
use crate::login::methods::{ACR_BANKID, ACR_PASSKEY, ACR_PASSWORD, Method};
use crate::login::password::{LoginError, verify_password_login};
use crate::login::sessions::{self, ActiveSession, SESSION_COOKIE};
use crate::oidc::authorize::{self, AuthorizationRequest};
use crate::state::AppState;

use super::errors::WebError;
use super::extract::{Client, CsrfForm, Lang, MaybeSession};
use super::http::{cookie, host_cookie};
use super::oidc_handlers::outcome_response;
use super::pages::{CsrfToken, allow_form_redirect_to, language_links, page, redirect_see_other};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    req: Option<String>,
    next: Option<String>,
    /// Someone logged in is asked to log in again (the admin console before a change).
    reauth: Option<String>,
}

/// Where a login leads: back into an app's authorization request, or to one of our own pages.
pub(super) enum LoginTarget {
    Authorization {
        pending_id: String,
        request: Box<AuthorizationRequest>,
    },
    Local {
        next: String,
    },
}

impl LoginTarget {
    /// The app's waiting request (`req`), or `next` resolved against the issuer.
    pub(super) async fn of(
        state: &AppState,
        req: Option<&str>,
        next: Option<&str>,
    ) -> Result<LoginTarget, WebError> {
        Ok(match req {
            Some(pending_id) => LoginTarget::Authorization {
                pending_id: pending_id.to_string(),
                request: Box::new(authorize::pending_request(state, pending_id).await?),
            },
            None => LoginTarget::Local {
                next: safe_next(state, next),
            },
        })
    }

    pub(super) fn request(&self) -> Option<&AuthorizationRequest> {
        match self {
            LoginTarget::Authorization { request, .. } => Some(request),
            LoginTarget::Local { .. } => None,
        }
    }

    pub(super) fn after(&self) -> AfterLogin<'_> {
        match self {
            LoginTarget::Authorization {
                pending_id,
                request,
            } => AfterLogin::LoadedAuthorization(pending_id, request),
            LoginTarget::Local { next } => AfterLogin::Local(next),
        }
    }
}

/// `next` resolved against the issuer: one of our own pages, or the account page.
pub fn safe_next(state: &AppState, next: Option<&str>) -> String {
    crate::login::return_to::return_path(&state.config.issuer, next)
}

pub(super) struct LoginView<'a> {
    pub(super) lang: &'a str,
    pub(super) target: &'a LoginTarget,
    pub(super) email: &'a str,
    pub(super) error_key: Option<&'a str>,
    pub(super) reauth: bool,
}

pub(super) async fn render_login(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    view: LoginView<'_>,
) -> Result<Response, WebError> {
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
    // An app demanding BankID or a passkey (acr_values) gets only the buttons that satisfy it.
    let accepts = |acr| {
        view.target
            .request()
            .is_none_or(|r| r.accepts_acr(&state.config, acr))
    };
    let passkeys_available = crate::login::passkey::available(&state.config.issuer);
    let bankid_allowed = state.bankid.is_some() && accepts(ACR_BANKID);
    let passkey_allowed = passkeys_available && accepts(ACR_PASSKEY);
    let password_allowed = accepts(ACR_PASSWORD) || !(bankid_allowed || passkey_allowed);
    let csrf = CsrfToken::for_browser(state, headers);
    let context = context! {
        lang => view.lang,
        languages => language_links(&self_path, view.lang),
        req => req,
        next => next,
        forgot_href => forgot_href,
        csrf => csrf.token.clone(),
        email => view.email,
        error_key => view.error_key,
        reauth => view.reauth,
        client_name => client_name,
        bankid_enabled => bankid_allowed,
        password_allowed => password_allowed,
        passkey_allowed => passkey_allowed,
    };
    let mut response = page(state, status, "pages/login.html", context);
    if let Some(request) = view.target.request() {
        allow_form_redirect_to(&mut response, &request.target.redirect_uri);
    }
    Ok(csrf.set_on(response))
}

pub async fn login_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let target = LoginTarget::of(&state, query.req.as_deref(), query.next.as_deref()).await?;
    let request = target.request();
    let lang = lang.pick(None, request.and_then(|r| r.ui_locales.as_deref()));
    let email = request
        .and_then(|r| r.login_hint.clone())
        .unwrap_or_default();
    let view = LoginView {
        lang,
        target: &target,
        email: &email,
        error_key: None,
        reauth: query.reauth.is_some(),
    };
    render_login(&state, &headers, StatusCode::OK, view).await
}

pub async fn login_submit(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    client: Client,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let fallback = lang.pick(form.lang(), None);
    let target = LoginTarget::of(&state, form.get("req"), form.get("next"))
        .await
        .map_err(|e| e.in_lang(fallback))?;
    let lang = lang.pick(
        form.lang(),
        target.request().and_then(|r| r.ui_locales.as_deref()),
    );
    let email = form.get("email").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let login = match verify_password_login(&state, email, password, client.attempt_source()).await
    {
        Ok(login) => login,
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
                reauth: false,
            };
            return render_login(&state, &headers, status, view).await;
        }
        Err(e) => return Err(super::errors::internal(e).in_lang(lang)),
    };
    // A fresh session id on every login defeats session fixation.
    if let Some(old) = cookie(&headers, SESSION_COOKIE) {
        crate::oidc::logout::end_session_of_cookie(&state, old).await?;
    }
    let (session_cookie, active) = sessions::start(&state, login.user, Method::Password).await?;
    tracing::info!(user_id = %active.user.id, "password login succeeded");
    let mut response =
        continue_after_login(&state, lang, target.after(), &active, &session_cookie).await?;
    response.headers_mut().append(
        header::SET_COOKIE,
        host_cookie(DEVICE_COOKIE, &login.device_cookie, Some(DEVICE_COOKIE_TTL)),
    );
    Ok(response)
}

/// Where to go once a session exists.
pub enum AfterLogin<'a> {
    Authorization(&'a str),
    /// The same, with the pending request already read (saves reading it again).
    LoadedAuthorization(&'a str, &'a AuthorizationRequest),
    Local(&'a str),
}

impl<'a> AfterLogin<'a> {
    /// The app's waiting request if there is one, else our own page `next`.
    pub fn pending_or(pending: Option<&'a str>, next: &'a str) -> AfterLogin<'a> {
        match pending {
            Some(pending_id) => AfterLogin::Authorization(pending_id),
            None => AfterLogin::Local(next),
        }
    }
}

/// Finishes a login (password, link, BankID): answers the waiting app or goes to `next`, and
/// sets the new session cookie.
pub async fn continue_after_login(
    state: &AppState,
    lang: &'static str,
    after: AfterLogin<'_>,
    active: &ActiveSession,
    session_cookie: &str,
) -> Result<Response, WebError> {
    let resume =
        |pending_id, loaded| authorize::resume_after_login(state, pending_id, loaded, active);
    let mut response = match after {
        AfterLogin::Authorization(pending_id) => {
            let outcome = resume(pending_id, None)
                .await
                .map_err(|e| WebError::from(e).in_lang(lang))?;
            outcome_response(state, lang, outcome)
        }
        AfterLogin::LoadedAuthorization(pending_id, request) => {
            let outcome = resume(pending_id, Some(request.clone()))
                .await
                .map_err(|e| WebError::from(e).in_lang(lang))?;
            outcome_response(state, lang, outcome)
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
    Ok(response)
}

pub async fn home(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    MaybeSession(active): MaybeSession,
) -> Response {
    let lang = lang.page();
    let context = context! {
        lang => lang,
        languages => language_links("/", lang),
        signed_in => active.is_some(),
        user_name => active.as_ref().map(|a| a.user.name.clone()),
        user_email => active.as_ref().map(|a| a.user.email.clone()),
    };
    page(&state, StatusCode::OK, "pages/home.html", context)
}

//! Mina uppgifter, logging out, and the email-link pages (set password, forgot password).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::account::change_password::{self, LinkOutcome};
use crate::account::links::{self, LinkProblem, Purpose};
use crate::account::names::validate_name;
use crate::account::{AccountError, personnummer, reset};
use crate::identity::sealed as identity;
use crate::login::csrf::{self, CSRF_COOKIE};
use crate::login::device::DEVICE_COOKIE;
use crate::login::password::AttemptSource;
use crate::login::sessions::{self, ActiveSession, SESSION_COOKIE};
use crate::oidc::PageError;
use crate::oidc::authorize;
use crate::state::AppState;

use super::http::{RequestId, clear_cookie, client_ip, cookie, host_cookie};
use super::login_handlers::{AfterLogin, continue_after_login, page_lang, redirect_see_other};
use super::oidc_handlers::parse_pairs;
use super::responses::{allow_form_redirect_to, internal_page, language_links, page, page_error};

pub(super) type Form = Vec<(String, String)>;

/// The address and device cookie a password attempt comes from.
pub(super) fn attempt_source<'a>(
    state: &AppState,
    peer: SocketAddr,
    headers: &'a HeaderMap,
) -> AttemptSource<'a> {
    AttemptSource {
        ip: client_ip(&state.config, Some(&ConnectInfo(peer)), headers),
        device_cookie: cookie(headers, DEVICE_COOKIE),
    }
}

pub(super) fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The CSRF form token for this browser, and the cookie to set if it had none.
pub(super) fn csrf_token(
    state: &AppState,
    headers: &HeaderMap,
) -> (String, Option<axum::http::HeaderValue>) {
    let (value, is_new) = csrf::cookie_or_new(state, cookie(headers, CSRF_COOKIE));
    (
        csrf::token_for(state, &value),
        is_new.then(|| host_cookie(CSRF_COOKIE, &value, None)),
    )
}

pub(super) fn with_cookie(
    mut response: Response,
    set_cookie: Option<axum::http::HeaderValue>,
) -> Response {
    if let Some(value) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    lang: Option<String>,
    notice: Option<String>,
}

fn user_lang(
    state: &AppState,
    explicit: Option<&str>,
    active: &ActiveSession,
    headers: &HeaderMap,
) -> &'static str {
    page_lang(
        state,
        explicit.or(Some(active.user.locale.as_str())),
        None,
        headers,
    )
}

struct AccountView<'a> {
    lang: &'a str,
    notice_key: Option<&'a str>,
    profile_error: Option<&'a str>,
    password_error: Option<&'a str>,
    pnr_error: Option<&'a str>,
}

async fn render_account(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    active: &ActiveSession,
    view: AccountView<'_>,
) -> Response {
    let (csrf, set_cookie) = csrf_token(state, headers);
    // Shown masked only; a number that cannot be opened (wrong key) is shown as absent.
    let stored = state
        .store
        .personnummer_of(&active.user.id)
        .await
        .ok()
        .flatten();
    let pnr_masked = match identity::personnummer_of(state, &active.user.id).await {
        Ok(Some(pnr)) => Some(pnr.masked()),
        _ => None,
    };
    let consents = consent_views(state, &active.user.id).await;
    let context = context! {
        lang => view.lang,
        languages => language_links("/account", view.lang),
        consents => consents,
        pnr_masked => pnr_masked,
        bankid_enabled => state.bankid.is_some(),
        bankid_linked => stored.as_ref().is_some_and(|s| s.bankid_linked_at.is_some()),
        pnr_error => view.pnr_error,
        signed_in => true,
        csrf => csrf,
        notice_key => view.notice_key,
        profile_error => view.profile_error,
        password_error => view.password_error,
        user_name => active.user.name.clone(),
        user_email => active.user.email.clone(),
        user_locale => active.user.locale.clone(),
        min_length => state.config.account.min_password_length,
    };
    with_cookie(
        page(state, status, "pages/account.html", context),
        set_cookie,
    )
}

/// The apps the user allowed, by name, for "Mina uppgifter".
async fn consent_views(state: &AppState, user_id: &str) -> Vec<minijinja::Value> {
    let Ok(consents) = state.store.list_consents(user_id).await else {
        return Vec::new();
    };
    let mut views = Vec::new();
    for consent in consents {
        let name = match state.store.client_by_id(&consent.client_id).await {
            Ok(Some(client)) => client.name,
            _ => continue,
        };
        let scope_keys: Vec<String> = consent
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| format!("scope-{s}"))
            .collect();
        views.push(context! {
            client_id => consent.client_id,
            client_name => name,
            scope_keys => scope_keys,
        });
    }
    views
}

/// Withdraws an app's access: the consent and every grant (refresh token) it holds.
pub async fn revoke_consent(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_pairs(&body);
    let active = match require_session(
        &state,
        &headers,
        &request_id,
        field(&form, "lang"),
        "/account",
    )
    .await
    {
        Ok(active) => active,
        Err(response) => return response,
    };
    let lang = user_lang(&state, field(&form, "lang"), &active, &headers);
    if !csrf::verify(&state, cookie(&headers, CSRF_COOKIE), field(&form, "csrf")) {
        return page_error(&state, lang, PageError::InvalidCsrf);
    }
    let Some(client_id) = field(&form, "client_id") else {
        return page_error(&state, lang, PageError::BadRequest);
    };
    let now = state.clock.now();
    if let Err(e) = state
        .store
        .revoke_consent(&active.user.id, client_id, now)
        .await
    {
        return internal_page(&state, lang, &request_id, &e);
    }
    tracing::info!(user_id = %active.user.id, %client_id, "consent withdrawn");
    redirect_see_other(&format!("/account?lang={lang}&notice=consent-revoked"))
}

/// The session, or a redirect to the login page that comes back to `next`.
async fn require_session(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &RequestId,
    lang: Option<&str>,
    next: &str,
) -> Result<ActiveSession, Response> {
    match sessions::current(state, cookie(headers, SESSION_COOKIE)).await {
        Ok(Some(active)) => Ok(active),
        Ok(None) => {
            let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            let lang = lang.map(|l| format!("&lang={l}")).unwrap_or_default();
            Err(redirect_see_other(&format!("/login?next={next}{lang}")))
        }
        Err(e) => Err(internal_page(
            state,
            page_lang(state, lang, None, headers),
            request_id,
            &e,
        )),
    }
}

pub async fn account_page(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<AccountQuery>,
) -> Response {
    let active = match require_session(
        &state,
        &headers,
        &request_id,
        query.lang.as_deref(),
        "/account",
    )
    .await
    {
        Ok(active) => active,
        Err(response) => return response,
    };
    let lang = user_lang(&state, query.lang.as_deref(), &active, &headers);
    let notice_key = match query.notice.as_deref() {
        Some("saved") => Some("account-saved"),
        Some("password") => Some("account-password-changed"),
        Some("password-set") => Some("password-set-title"),
        Some("pnr-saved") => Some("account-personnummer-saved"),
        Some("pnr-removed") => Some("account-personnummer-removed"),
        Some("bankid-linked") => Some("account-bankid-linked"),
        Some("consent-revoked") => Some("consent-revoked"),
        _ => None,
    };
    let view = AccountView {
        lang,
        notice_key,
        profile_error: None,
        password_error: None,
        pnr_error: None,
    };
    render_account(&state, &headers, StatusCode::OK, &active, view).await
}

/// Parses a form behind a session and a valid CSRF token.
pub(super) async fn session_form(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &RequestId,
    body: &Bytes,
) -> Result<(ActiveSession, Form, &'static str), Response> {
    let form = parse_pairs(body);
    let explicit = field(&form, "lang").map(str::to_string);
    let active =
        require_session(state, headers, request_id, explicit.as_deref(), "/account").await?;
    let lang = user_lang(state, explicit.as_deref(), &active, headers);
    if !csrf::verify(state, cookie(headers, CSRF_COOKIE), field(&form, "csrf")) {
        return Err(page_error(state, lang, PageError::InvalidCsrf));
    }
    Ok((active, form, lang))
}

pub async fn update_profile(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (active, form, lang) = match session_form(&state, &headers, &request_id, &body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let locale = match field(&form, "locale") {
        Some("en") => "en",
        _ => "sv",
    };
    let name = match validate_name(field(&form, "name").unwrap_or_default()) {
        Ok(name) => name,
        Err(problem) => {
            let view = AccountView {
                lang,
                notice_key: None,
                profile_error: Some(problem.message_key()),
                password_error: None,
                pnr_error: None,
            };
            return render_account(&state, &headers, StatusCode::BAD_REQUEST, &active, view).await;
        }
    };
    if let Err(e) = state
        .store
        .update_user_profile(&active.user.id, &name, locale, state.clock.now())
        .await
    {
        return internal_page(&state, lang, &request_id, &e);
    }
    redirect_see_other(&format!("/account?notice=saved&lang={locale}"))
}

/// A problem the person can fix (status and message key), or our own failure.
fn form_problem(error: AccountError) -> Result<(StatusCode, &'static str), AccountError> {
    match error {
        AccountError::Rejected(key) => Ok((StatusCode::BAD_REQUEST, key)),
        AccountError::Throttled => Ok((StatusCode::TOO_MANY_REQUESTS, "account-throttled")),
        other => Err(other),
    }
}

pub async fn change_password(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (active, form, lang) = match session_form(&state, &headers, &request_id, &body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let source = attempt_source(&state, peer, &headers);
    let current = field(&form, "current_password").unwrap_or_default();
    let new = field(&form, "new_password").unwrap_or_default();
    let confirmation = field(&form, "confirm_password").unwrap_or_default();
    let (status, key) =
        match change_password::change(&state, &active, current, new, confirmation, source)
            .await
            .map_err(form_problem)
        {
            Ok(()) => return redirect_see_other(&format!("/account?notice=password&lang={lang}")),
            Err(Ok(problem)) => problem,
            Err(Err(e)) => return internal_page(&state, lang, &request_id, &e),
        };
    let view = AccountView {
        lang,
        notice_key: None,
        profile_error: None,
        password_error: Some(key),
        pnr_error: None,
    };
    render_account(&state, &headers, status, &active, view).await
}

/// Adds, changes or removes the personnummer (the password confirms it is the account owner).
pub async fn personnummer(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (active, form, lang) = match session_form(&state, &headers, &request_id, &body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let source = attempt_source(&state, peer, &headers);
    let password = field(&form, "password").unwrap_or_default();
    let (outcome, notice) = match field(&form, "action") {
        Some("remove") => (
            personnummer::remove(&state, &active, password, source).await,
            "pnr-removed",
        ),
        _ => {
            let input = field(&form, "personnummer").unwrap_or_default();
            (
                personnummer::set(&state, &active, input, password, source).await,
                "pnr-saved",
            )
        }
    };
    let (status, key) = match outcome.map_err(form_problem) {
        Ok(()) => return redirect_see_other(&format!("/account?notice={notice}&lang={lang}")),
        Err(Ok(problem)) => problem,
        Err(Err(e)) => return internal_page(&state, lang, &request_id, &e),
    };
    let view = AccountView {
        lang,
        notice_key: None,
        profile_error: None,
        password_error: None,
        pnr_error: Some(key),
    };
    render_account(&state, &headers, status, &active, view).await
}

pub(super) fn message_page(
    state: &AppState,
    lang: &str,
    heading_key: &str,
    message_key: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let context = context! {
        lang => lang,
        languages => language_links("/", lang),
        heading_key => heading_key,
        message_key => message_key,
        link_href => link.map(|l| l.0.to_string()),
        link_key => link.map(|l| l.1.to_string()),
    };
    page(state, StatusCode::OK, "pages/message.html", context)
}

pub async fn logout(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_pairs(&body);
    let lang = page_lang(&state, field(&form, "lang"), None, &headers);
    if !csrf::verify(&state, cookie(&headers, CSRF_COOKIE), field(&form, "csrf")) {
        return page_error(&state, lang, PageError::InvalidCsrf);
    }
    if let Some(value) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = crate::oidc::logout::end_session_of_cookie(&state, value).await
    {
        return internal_page(&state, lang, &request_id, &e);
    }
    let login = format!("/login?next=%2Faccount&lang={lang}");
    let mut response = message_page(
        &state,
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

#[derive(Debug, Deserialize)]
pub struct ForgotQuery {
    req: Option<String>,
    lang: Option<String>,
    email: Option<String>,
}

pub async fn forgot_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<ForgotQuery>,
) -> Response {
    let lang = page_lang(&state, query.lang.as_deref(), None, &headers);
    let (csrf, set_cookie) = csrf_token(&state, &headers);
    let back_href = match &query.req {
        Some(req) => format!("/login?req={req}&lang={lang}"),
        None => format!("/login?next=%2Faccount&lang={lang}"),
    };
    let self_path = match &query.req {
        Some(req) => format!("/password/forgot?req={req}"),
        None => "/password/forgot".to_string(),
    };
    let context = context! {
        lang => lang,
        languages => language_links(&self_path, lang),
        csrf => csrf,
        req => query.req,
        email => query.email.unwrap_or_default(),
        back_href => back_href,
    };
    with_cookie(
        page(
            &state,
            StatusCode::OK,
            "pages/forgot_password.html",
            context,
        ),
        set_cookie,
    )
}

pub async fn forgot_submit(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_pairs(&body);
    let lang = page_lang(&state, field(&form, "lang"), None, &headers);
    if !csrf::verify(&state, cookie(&headers, CSRF_COOKIE), field(&form, "csrf")) {
        return page_error(&state, lang, PageError::InvalidCsrf);
    }
    let ip = client_ip(&state.config, Some(&ConnectInfo(peer)), &headers);
    // Keep the app's login request only while it is still waiting.
    let req = match field(&form, "req") {
        Some(req) if authorize::pending_request(&state, req).await.is_ok() => Some(req),
        _ => None,
    };
    match reset::request_reset(&state, field(&form, "email").unwrap_or_default(), ip, req).await {
        // Throttled requests get the same answer: the page must not tell anything.
        Ok(()) | Err(AccountError::Throttled) => {}
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    }
    let back = match req {
        Some(req) => format!("/login?req={req}&lang={lang}"),
        None => format!("/login?next=%2Faccount&lang={lang}"),
    };
    message_page(
        &state,
        lang,
        "forgot-sent-title",
        "forgot-sent-message",
        Some((&back, "back-to-login")),
    )
}

#[derive(Debug, Deserialize)]
pub struct SetPasswordQuery {
    token: Option<String>,
    req: Option<String>,
    lang: Option<String>,
}

fn link_problem_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    token: &str,
    problem: LinkProblem,
) -> Response {
    let (heading, message, status, offer_resend) = match problem {
        LinkProblem::Used => (
            "link-used-title",
            "link-used-message",
            StatusCode::GONE,
            true,
        ),
        LinkProblem::Expired => (
            "link-expired-title",
            "link-expired-message",
            StatusCode::GONE,
            true,
        ),
        LinkProblem::Unknown => (
            "link-unknown-title",
            "link-unknown-message",
            StatusCode::BAD_REQUEST,
            false,
        ),
    };
    let (csrf, set_cookie) = csrf_token(state, headers);
    let context = context! {
        lang => lang,
        languages => Value::from(Vec::<Value>::new()),
        heading_key => heading,
        message_key => message,
        token => offer_resend.then_some(token),
        csrf => csrf,
    };
    with_cookie(
        page(state, status, "pages/link_problem.html", context),
        set_cookie,
    )
}

struct SetPasswordView<'a> {
    lang: &'a str,
    token: &'a str,
    req: Option<&'a str>,
    purpose: Purpose,
    email: &'a str,
    error_key: Option<&'a str>,
}

async fn render_set_password(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    view: SetPasswordView<'_>,
) -> Response {
    let (csrf, set_cookie) = csrf_token(state, headers);
    let heading_key = match view.purpose {
        Purpose::Invite => "set-password-invite-title",
        Purpose::Reset => "set-password-reset-title",
    };
    let mut self_path = format!("/password/set?token={}", view.token);
    if let Some(req) = view.req {
        self_path.push_str(&format!("&req={req}"));
    }
    let context = context! {
        lang => view.lang,
        languages => language_links(&self_path, view.lang),
        csrf => csrf,
        token => view.token,
        req => view.req,
        heading_key => heading_key,
        user_email => view.email,
        error_key => view.error_key,
        min_length => state.config.account.min_password_length,
    };
    let mut response = with_cookie(
        page(state, status, "pages/set_password.html", context),
        set_cookie,
    );
    if let Some(req) = view.req
        && let Ok(request) = authorize::pending_request(state, req).await
    {
        allow_form_redirect_to(&mut response, &request.target.redirect_uri);
    }
    // The token is in this page's URL: never leak it through a Referer.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    response
}

pub async fn set_password_page(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<SetPasswordQuery>,
) -> Response {
    let token = query.token.unwrap_or_default();
    let fallback_lang = page_lang(&state, query.lang.as_deref(), None, &headers);
    let link = match links::inspect(&state, &token).await {
        Ok(Ok(link)) => link,
        Ok(Err(problem)) => {
            return link_problem_page(&state, &headers, fallback_lang, &token, problem);
        }
        Err(e) => return internal_page(&state, fallback_lang, &request_id, &e),
    };
    let lang = page_lang(
        &state,
        query.lang.as_deref().or(Some(link.user.locale.as_str())),
        None,
        &headers,
    );
    let view = SetPasswordView {
        lang,
        token: &token,
        req: query.req.as_deref(),
        purpose: link.purpose,
        email: &link.user.email,
        error_key: None,
    };
    render_set_password(&state, &headers, StatusCode::OK, view).await
}

pub async fn set_password_submit(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_pairs(&body);
    let lang = page_lang(&state, field(&form, "lang"), None, &headers);
    if !csrf::verify(&state, cookie(&headers, CSRF_COOKIE), field(&form, "csrf")) {
        return page_error(&state, lang, PageError::InvalidCsrf);
    }
    let token = field(&form, "token").unwrap_or_default();
    let password = field(&form, "new_password").unwrap_or_default();
    let confirmation = field(&form, "confirm_password").unwrap_or_default();
    let req = field(&form, "req");
    let (user, purpose) =
        match change_password::set_from_link(&state, token, password, confirmation).await {
            Ok(LinkOutcome::Done { user, purpose }) => (user, purpose),
            Ok(LinkOutcome::Problem(problem)) => {
                return link_problem_page(&state, &headers, lang, token, problem);
            }
            Err(AccountError::Rejected(key)) => {
                let link = match links::inspect(&state, token).await {
                    Ok(Ok(link)) => link,
                    Ok(Err(problem)) => {
                        return link_problem_page(&state, &headers, lang, token, problem);
                    }
                    Err(e) => return internal_page(&state, lang, &request_id, &e),
                };
                let view = SetPasswordView {
                    lang,
                    token,
                    req,
                    purpose: link.purpose,
                    email: &link.user.email,
                    error_key: Some(key),
                };
                return render_set_password(&state, &headers, StatusCode::BAD_REQUEST, view).await;
            }
            Err(e) => return internal_page(&state, lang, &request_id, &e),
        };
    // The link proved control of the mailbox: log the user in (a new session; all old ones ended).
    let (session_cookie, active) =
        match sessions::start(&state, user, crate::login::methods::Method::Password).await {
            Ok(started) => started,
            Err(e) => return internal_page(&state, lang, &request_id, &e),
        };
    let pending = match req {
        Some(req) if authorize::pending_request(&state, req).await.is_ok() => Some(req),
        _ => None,
    };
    tracing::info!(user_id = %active.user.id, purpose = purpose.as_str(), "logged in after setting a password");
    let next = format!("/account?notice=password-set&lang={lang}");
    let after = match pending {
        Some(req) => AfterLogin::Authorization(req),
        None => AfterLogin::Local(&next),
    };
    continue_after_login(
        &state,
        lang,
        &request_id,
        &headers,
        after,
        &active,
        &session_cookie,
    )
    .await
}

pub async fn resend_link(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_pairs(&body);
    let lang = page_lang(&state, field(&form, "lang"), None, &headers);
    if !csrf::verify(&state, cookie(&headers, CSRF_COOKIE), field(&form, "csrf")) {
        return page_error(&state, lang, PageError::InvalidCsrf);
    }
    let ip = client_ip(&state.config, Some(&ConnectInfo(peer)), &headers);
    let now = state.clock.now();
    let throttled = match state
        .store
        .record_failure(
            &crate::login::throttle::ip_key("reset", ip),
            now,
            state.config.account.reset_window,
        )
        .await
    {
        Ok(bucket) => bucket.failures > state.config.account.max_resets_per_ip,
        Err(e) => return internal_page(&state, lang, &request_id, &e),
    };
    if !throttled
        && let Err(e) = links::resend(&state, field(&form, "token").unwrap_or_default()).await
    {
        return internal_page(&state, lang, &request_id, &e);
    }
    let login = format!("/login?next=%2Faccount&lang={lang}");
    message_page(
        &state,
        lang,
        "link-resent-title",
        "link-resent-message",
        Some((&login, "back-to-login")),
    )
}

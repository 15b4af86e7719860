//! The email-link pages: "Glömt lösenord?", the page behind every invitation and reset link
//! where a password is chosen, and "send me a new link" for a used or expired one.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::account::change_password::{self, LinkOutcome};
use crate::account::links::{self, LinkProblem, Purpose};
use crate::account::{AccountError, reset};
use crate::login::methods::Method;
use crate::login::sessions;
use crate::login::throttle::ip_key;
use crate::oidc::authorize;
use crate::state::AppState;

use super::errors::{WebError, internal};
use super::extract::{Client, CsrfForm, Lang};
use super::login_handlers::{AfterLogin, continue_after_login};
use super::pages::{
    CsrfToken, allow_form_redirect_to, language_links, message_page, message_page_with_minutes,
    page,
};

#[derive(Debug, Deserialize)]
pub struct ForgotQuery {
    req: Option<String>,
    email: Option<String>,
}

/// Back to the login page: the app's waiting request, or our own.
fn login_href(req: Option<&str>, lang: &str) -> String {
    match req {
        Some(req) => format!("/login?req={req}&lang={lang}"),
        None => format!("/login?next=%2Faccount&lang={lang}"),
    }
}

pub async fn forgot_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<ForgotQuery>,
) -> Response {
    let lang = lang.page();
    let csrf = CsrfToken::for_browser(&state, &headers);
    let self_path = match &query.req {
        Some(req) => format!("/password/forgot?req={req}"),
        None => "/password/forgot".to_string(),
    };
    let context = context! {
        lang => lang,
        languages => language_links(&self_path, lang),
        csrf => csrf.token.clone(),
        req => query.req,
        email => query.email.unwrap_or_default(),
        back_href => login_href(query.req.as_deref(), lang),
    };
    let page = page(
        &state,
        StatusCode::OK,
        "pages/forgot_password.html",
        context,
    );
    csrf.set_on(page)
}

pub async fn forgot_submit(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    client: Client,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.pick(form.lang(), None);
    // Keep the app's login request only while it is still waiting.
    let req = match form.get("req") {
        Some(req) if authorize::pending_request(&state, req).await.is_ok() => Some(req),
        _ => None,
    };
    let email = form.get("email").unwrap_or_default();
    match reset::request_reset(&state, email, client.ip, req).await {
        // Throttled requests get the same answer: the page must not tell anything.
        Ok(()) | Err(AccountError::Throttled) => {}
        Err(e) => return Err(internal(e).in_lang(lang)),
    }
    let back = login_href(req, lang);
    Ok(message_page_with_minutes(
        &state,
        lang,
        "forgot-sent-title",
        "forgot-sent-message",
        Some((&back, "back-to-login")),
        Some(state.config.account.reset_ttl / 60),
    ))
}

#[derive(Debug, Deserialize)]
pub struct SetPasswordQuery {
    pub token: Option<String>,
    pub req: Option<String>,
    pub lang: Option<String>,
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
    let csrf = CsrfToken::for_browser(state, headers);
    let context = context! {
        lang => lang,
        languages => Value::from(Vec::<Value>::new()),
        heading_key => heading,
        message_key => message,
        token => offer_resend.then_some(token),
        csrf => csrf.token.clone(),
    };
    csrf.set_on(page(state, status, "pages/link_problem.html", context))
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
    let csrf = CsrfToken::for_browser(state, headers);
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
        csrf => csrf.token.clone(),
        token => view.token,
        req => view.req,
        heading_key => heading_key,
        user_email => view.email,
        error_key => view.error_key,
        min_length => state.config.account.min_password_length,
    };
    let mut response = csrf.set_on(page(state, status, "pages/set_password.html", context));
    if let Some(req) = view.req
        && let Ok(request) = authorize::pending_request(state, req).await
    {
        allow_form_redirect_to(&mut response, &request.target.redirect_uri);
    }
    // The token is in this page's URL: never leak it through a Referer.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub async fn set_password_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<SetPasswordQuery>,
) -> Result<Response, WebError> {
    let token = query.token.unwrap_or_default();
    let link = match links::inspect(&state, &token)
        .await
        .map_err(|e| internal(e).in_lang(lang.page()))?
    {
        Ok(link) => link,
        Err(problem) => {
            return Ok(link_problem_page(
                &state,
                &headers,
                lang.page(),
                &token,
                problem,
            ));
        }
    };
    let lang = lang.pick(
        query.lang.as_deref().or(Some(link.user.locale.as_str())),
        None,
    );
    let view = SetPasswordView {
        lang,
        token: &token,
        req: query.req.as_deref(),
        purpose: link.purpose,
        email: &link.user.email,
        error_key: None,
    };
    Ok(render_set_password(&state, &headers, StatusCode::OK, view).await)
}

pub async fn set_password_submit(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.pick(form.lang(), None);
    let token = form.get("token").unwrap_or_default();
    let password = form.get("new_password").unwrap_or_default();
    let confirmation = form.get("confirm_password").unwrap_or_default();
    let req = form.get("req");
    let (user, purpose) =
        match change_password::set_from_link(&state, token, password, confirmation).await {
            Ok(LinkOutcome::Done { user, purpose }) => (user, purpose),
            Ok(LinkOutcome::Problem(problem)) => {
                return Ok(link_problem_page(&state, &headers, lang, token, problem));
            }
            Err(AccountError::Rejected(key)) => {
                let link = match links::inspect(&state, token)
                    .await
                    .map_err(|e| internal(e).in_lang(lang))?
                {
                    Ok(link) => link,
                    Err(problem) => {
                        return Ok(link_problem_page(&state, &headers, lang, token, problem));
                    }
                };
                let view = SetPasswordView {
                    lang,
                    token,
                    req,
                    purpose: link.purpose,
                    email: &link.user.email,
                    error_key: Some(key),
                };
                let status = StatusCode::BAD_REQUEST;
                return Ok(render_set_password(&state, &headers, status, view).await);
            }
            Err(e) => return Err(internal(e).in_lang(lang)),
        };
    // The link proved control of the mailbox: log the user in (a new session; all old ones ended).
    let (session_cookie, active) = sessions::start(&state, user, Method::Password).await?;
    let pending = match req {
        Some(req) if authorize::pending_request(&state, req).await.is_ok() => Some(req),
        _ => None,
    };
    tracing::info!(user_id = %active.user.id, purpose = purpose.as_str(), "logged in after setting a password");
    let next = format!("/account?notice=password-set&lang={lang}");
    let after = AfterLogin::pending_or(pending, &next);
    continue_after_login(&state, lang, after, &active, &session_cookie).await
}

pub async fn resend_link(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    client: Client,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.pick(form.lang(), None);
    let throttled = state
        .store
        .record_failure(
            &ip_key("reset", client.ip),
            state.clock.now(),
            state.config.account.reset_window,
        )
        .await?
        .failures
        > state.config.account.max_resets_per_ip;
    if !throttled {
        links::resend(&state, form.get("token").unwrap_or_default())
            .await
            .map_err(|e| internal(e).in_lang(lang))?;
    }
    let login = format!("/login?next=%2Faccount&lang={lang}");
    Ok(message_page(
        &state,
        lang,
        "link-resent-title",
        "link-resent-message",
        Some((&login, "back-to-login")),
    ))
}

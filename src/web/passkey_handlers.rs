//! Passkeys over HTTP: the ceremony options as JSON for `passkey.js`, and the forms that carry
//! the browser's answers (add, rename, remove in Mina uppgifter; log in on the login page).
//! The domain is `login::passkey` and `account::passkeys`; these handlers parse, call, render.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::account::passkeys::{self, PasskeyAccountError};
use crate::login::passkey::{self, PasskeyError};
use crate::login::sessions::{self, ActiveSession, SESSION_COOKIE};
use crate::oidc::PageError;
use crate::state::AppState;

use super::account_page::{Problems, Section, render_account};
use super::errors::{WebError, internal};
use super::extract::{Client, CsrfForm, Lang, Session};
use super::http::cookie;
use super::login_handlers::{LoginTarget, LoginView, continue_after_login, render_login};
use super::pages::redirect_see_other;

/// The login page again, asking for a fresh login, and coming back to Mina uppgifter.
fn reauth_path(lang: &str) -> String {
    format!("/login?next=%2Faccount&reauth=1&lang={lang}")
}

/// JSON for `passkey.js`, never cached.
fn json_answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    response
}

fn options_answer(result: Result<(String, serde_json::Value), PasskeyError>) -> Response {
    match result {
        Ok((challenge, options)) => json_answer(
            StatusCode::OK,
            json!({ "challenge": challenge, "options": options }),
        ),
        Err(PasskeyError::Unavailable) => {
            json_answer(StatusCode::NOT_FOUND, json!({ "error": "unavailable" }))
        }
        Err(PasskeyError::Throttled) => json_answer(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "error": "throttled" }),
        ),
        Err(e) => internal(e).into_response(),
    }
}

/// `POST /account/passkeys/options`: creation options, or `{login}` when the login is not
/// recent enough to add a passkey.
pub async fn account_options(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Session(active): Session,
    form: CsrfForm,
) -> Response {
    let lang = lang.for_user(form.lang(), &active);
    match passkeys::begin_registration(&state, &active).await {
        Err(PasskeyAccountError::NotRecentLogin) => {
            json_answer(StatusCode::FORBIDDEN, json!({ "login": reauth_path(lang) }))
        }
        Err(PasskeyAccountError::Passkey(e)) => options_answer(Err(e)),
        Err(PasskeyAccountError::Store(e)) => options_answer(Err(e.into())),
        Err(other) => internal(other).into_response(),
        Ok(answer) => options_answer(Ok(answer)),
    }
}

/// The account page with a passkey problem, or our own failure.
/// Back to Mina uppgifter's passkeys with `notice` after a change, or the page with what went
/// wrong.
async fn account_answer<T>(
    state: &AppState,
    headers: &HeaderMap,
    active: &ActiveSession,
    lang: &'static str,
    changed: Result<T, PasskeyAccountError>,
    notice: &str,
) -> Result<Response, WebError> {
    match changed {
        Ok(_) => Ok(redirect_see_other(&format!(
            "/account?notice={notice}&lang={lang}#passkeys"
        ))),
        Err(e) => account_problem(state, headers, active, lang, e).await,
    }
}

async fn account_problem(
    state: &AppState,
    headers: &HeaderMap,
    active: &ActiveSession,
    lang: &'static str,
    error: PasskeyAccountError,
) -> Result<Response, WebError> {
    if matches!(error, PasskeyAccountError::NotRecentLogin) {
        return Ok(redirect_see_other(&reauth_path(lang)));
    }
    let Some(key) = error.message_key() else {
        return Err(internal(error).in_lang(lang));
    };
    let problems = Problems::at(Section::Passkeys, key);
    let status = StatusCode::BAD_REQUEST;
    render_account(state, headers, status, active, lang, None, problems).await
}

/// `POST /account/passkeys`: the browser's new key.
pub async fn account_add(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Session(active): Session,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.for_user(form.lang(), &active);
    let added = passkeys::finish_registration(
        &state,
        &active,
        form.get("challenge").unwrap_or_default(),
        form.get("credential").unwrap_or_default(),
        form.get("name").unwrap_or_default(),
    )
    .await;
    account_answer(&state, &headers, &active, lang, added, "passkey-added").await
}

/// `POST /account/passkeys/rename`.
pub async fn account_rename(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Session(active): Session,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.for_user(form.lang(), &active);
    let renamed = passkeys::rename(
        &state,
        &active.user.id,
        form.get("id").unwrap_or_default(),
        form.get("name").unwrap_or_default(),
    )
    .await;
    account_answer(&state, &headers, &active, lang, renamed, "passkey-renamed").await
}

/// `POST /account/passkeys/remove`: first the question (the page with a confirmation form for
/// that passkey), then, with `confirmed=yes`, the removal.
pub async fn account_remove(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Session(active): Session,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.for_user(form.lang(), &active);
    let id = form.get("id").unwrap_or_default();
    if form.get("confirmed") != Some("yes") {
        let problems = Problems::confirming_removal(id);
        return render_account(
            &state,
            &headers,
            StatusCode::OK,
            &active,
            lang,
            None,
            problems,
        )
        .await;
    }
    let removed = passkeys::remove(&state, &active.user.id, id).await;
    account_answer(&state, &headers, &active, lang, removed, "passkey-removed").await
}

/// `POST /login/passkey/options`: request options for a usernameless login.
pub async fn login_options(
    State(state): State<Arc<AppState>>,
    client: Client,
    _form: CsrfForm,
) -> Response {
    options_answer(passkey::begin_login(&state, client.ip).await)
}

/// `POST /login/passkey`: the authenticator's answer; a session, or the login page with why.
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
    let ip = client.attempt_source().ip;
    let verified = passkey::finish_login(
        &state,
        form.get("challenge").unwrap_or_default(),
        form.get("credential").unwrap_or_default(),
        ip,
    )
    .await;
    let login = match verified {
        Ok(login) => login,
        Err(e) => {
            let (status, key) = match e {
                PasskeyError::Throttled => (StatusCode::TOO_MANY_REQUESTS, "login-throttled"),
                PasskeyError::ChallengeUnknown => {
                    (StatusCode::BAD_REQUEST, "login-passkey-expired")
                }
                PasskeyError::Unavailable => {
                    return Err(WebError::page(PageError::BadRequest).in_lang(lang));
                }
                PasskeyError::Malformed
                | PasskeyError::Rejected
                | PasskeyError::CounterWentBackwards => {
                    (StatusCode::UNAUTHORIZED, "login-passkey-failed")
                }
                other => return Err(internal(other).in_lang(lang)),
            };
            let view = LoginView {
                lang,
                target: &target,
                email: "",
                error_key: Some(key),
                reauth: false,
            };
            return render_login(&state, &headers, status, view).await;
        }
    };
    // A fresh session id on every login defeats session fixation.
    if let Some(old) = cookie(&headers, SESSION_COOKIE) {
        crate::oidc::logout::end_session_of_cookie(&state, old).await?;
    }
    let (session_cookie, active) = sessions::start(&state, login.user, login.method).await?;
    tracing::info!(user_id = %active.user.id, "passkey login succeeded");
    continue_after_login(&state, lang, target.after(), &active, &session_cookie).await
}

//! "Bjud in kund": one customer (email, name, language), created with the welcome email queued
//! in the same transaction.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

use crate::admin::AdminError;
use crate::admin::roles::Area;
use crate::admin::users::{self, LOCALES, NewUser};
use crate::state::AppState;

use super::super::errors::WebError;
use super::super::extract::Lang;
use super::super::pages::redirect_see_other;
use super::gate::{Console, ConsoleForm};
use super::{ConsolePage, Section, with_notice};

/// What was typed, and what was wrong with it (text keys by field).
#[derive(Default)]
struct InviteForm<'a> {
    email: &'a str,
    name: &'a str,
    locale: &'a str,
    email_error: Option<&'static str>,
    name_error: Option<&'static str>,
    locale_error: Option<&'static str>,
    /// The address belongs to an account already.
    exists: bool,
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    console: &Console,
    lang: &'static str,
    status: StatusCode,
    form: InviteForm<'_>,
) -> Response {
    let mut find = url::form_urlencoded::Serializer::new(String::new());
    find.append_pair("q", form.email.trim());
    find.append_pair("lang", lang);
    let extra = context! {
        invite_days => state.config.account.invite_ttl / 86_400,
        find_href => format!("/admin/users?{}", find.finish()),
        email => form.email,
        name => form.name,
        // The customer's language, not the administrator's: the configured default unless chosen.
        locale => if form.locale.is_empty() { state.config.default_locale.as_str() } else { form.locale },
        email_error => form.email_error,
        name_error => form.name_error,
        locale_error => form.locale_error,
        exists => form.exists,
    };
    ConsolePage {
        console,
        lang,
        section: Section::Invite,
        self_path: "/admin/invite",
        template: "pages/admin/invite.html",
        status,
    }
    .render(state, headers, extra)
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    console.require(Area::Users)?;
    let lang = lang.for_user(None, &console.active);
    let form = InviteForm::default();
    Ok(render(
        &state,
        &headers,
        &console,
        lang,
        StatusCode::OK,
        form,
    ))
}

pub async fn submit(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    form.console.require(Area::Users)?;
    let lang = lang.for_user(form.lang(), &form.console.active);
    let mut typed = InviteForm {
        email: form.get("email").unwrap_or_default(),
        name: form.get("name").unwrap_or_default(),
        locale: form
            .get("locale")
            .filter(|l| LOCALES.contains(l))
            .unwrap_or_default(),
        ..Default::default()
    };
    let new = NewUser {
        email: typed.email.to_string(),
        name: typed.name.to_string(),
        locale: form.get("locale").unwrap_or_default().to_string(),
        password: None,
        invite: true,
    };
    let status = match users::create(&state, &form.console.caller(), new).await {
        Ok(user) => {
            let path = format!("/admin/users/{}", user.id);
            return Ok(redirect_see_other(&with_notice(&path, "invited", lang)));
        }
        Err(AdminError::Invalid(problems)) => {
            for problem in problems {
                match problem.field.as_str() {
                    "email" => typed.email_error = Some("console-invite-email-invalid"),
                    "name" => typed.name_error = Some("console-invite-name-invalid"),
                    _ => typed.locale_error = Some("console-invite-locale-invalid"),
                }
            }
            StatusCode::BAD_REQUEST
        }
        Err(AdminError::Conflict(_)) => {
            typed.exists = true;
            StatusCode::CONFLICT
        }
        Err(other) => return Err(WebError::from(other).in_lang(lang)),
    };
    Ok(render(&state, &headers, &form.console, lang, status, typed))
}

//! The admin console at `/admin`: pages for Leasify's administrators and support staff, rendered
//! on the server like every other page (same layout, texts, CSP). Handlers parse, call
//! `crate::admin`, and render; who gets in is decided once, in `gate.rs`.

pub mod apps;
pub mod audit;
pub mod bulk_invite;
pub mod gate;
pub mod invite;
pub mod keys;
pub mod overview;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{MethodRouter, any, get, post};
use minijinja::{Value, context};

use crate::state::AppState;

use super::errors::WebError;
use super::pages::{CsrfToken, language_links, page};
use gate::Console;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(overview::PATH, only_get(overview::page))
        .route("/admin/outbox/{id}/retry", only_post(overview::retry_email))
        .route(
            "/admin/backchannel/{id}/retry",
            only_post(overview::retry_backchannel),
        )
        .route("/admin/users", only_get(users::list))
        .route("/admin/users/search", only_post(users::search))
        .route("/admin/users/{id}", only_get(users::user_page))
        .route(
            "/admin/users/{id}/invitation",
            only_post(users::resend_invitation),
        )
        .route("/admin/users/{id}/disable", only_post(users::disable))
        .route("/admin/users/{id}/enable", only_post(users::enable))
        .route(
            "/admin/users/{id}/sessions/end",
            only_post(users::end_sessions),
        )
        .route(
            "/admin/users/{id}/personnummer/remove",
            only_post(users::remove_personnummer),
        )
        .route(
            "/admin/users/{id}/passkeys/{passkey_id}/remove",
            only_post(users::remove_passkey),
        )
        .route("/admin/users/{id}/delete", only_post(users::delete))
        .route(
            "/admin/invite",
            get(invite::page).post(invite::submit).fallback(unknown),
        )
        .route(bulk_invite::PATH, only_get(bulk_invite::page))
        .route("/admin/invite/bulk/{id}", only_get(bulk_invite::batch_page))
        .route(
            "/admin/invite/bulk/{id}/start",
            only_post(bulk_invite::start),
        )
        .route(
            "/admin/invite/bulk/{id}/progress",
            only_get(bulk_invite::progress),
        )
        .route(
            "/admin/invite/bulk/{id}/report.csv",
            only_get(bulk_invite::report),
        )
        .route(apps::PATH, get(apps::list).fallback(apps::unknown))
        .route(
            apps::NEW_PATH,
            get(apps::new_page)
                .post(apps::create)
                .fallback(apps::unknown),
        )
        .route(
            "/admin/apps/{id}",
            get(apps::app_page)
                .post(apps::update)
                .fallback(apps::unknown),
        )
        .route(
            "/admin/apps/{id}/secret",
            post(apps::rotate_secret).fallback(apps::unknown),
        )
        .route(
            "/admin/apps/{id}/delete",
            post(apps::delete).fallback(apps::unknown),
        )
        .route(keys::PATH, only_get(keys::page))
        .route("/admin/keys/rotate", only_post(keys::rotate))
        .route(audit::PATH, only_get(audit::list))
        .route("/admin/audit.csv", only_get(audit::export))
        // Anything else under /admin is refused like the rest to everyone but administrators.
        .route("/admin/", any(unknown))
        .route("/admin/{*rest}", any(unknown))
}

type Routed = MethodRouter<Arc<AppState>>;

/// A page; other methods are answered like an unknown page (after the gate), not with a 405
/// that would tell a non-administrator that something is here.
fn only_get<H, T>(handler: H) -> Routed
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    get(handler).fallback(unknown)
}

/// A form's target; other methods as in [`only_get`].
fn only_post<H, T>(handler: H) -> Routed
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    post(handler).fallback(unknown)
}

pub(super) async fn unknown(_: Console) -> WebError {
    WebError::NotFound
}

/// The console's sections, for the navigation.
#[derive(Clone, Copy)]
pub enum Section {
    Overview,
    Users,
    Invite,
    Apps,
    Keys,
    Audit,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Overview => "overview",
            Section::Users => "users",
            Section::Invite => "invite",
            Section::Apps => "apps",
            Section::Keys => "keys",
            Section::Audit => "audit",
        }
    }
}

/// A console page: the navigation, who is logged in, the language switch for `self_path` (with
/// its query), a CSRF token for the page's forms, and `extra` for the page itself.
pub struct ConsolePage<'a> {
    pub console: &'a Console,
    pub lang: &'static str,
    pub section: Section,
    pub self_path: &'a str,
    pub template: &'a str,
    pub status: StatusCode,
}

impl ConsolePage<'_> {
    pub fn render(self, state: &AppState, headers: &HeaderMap, extra: Value) -> Response {
        let csrf = CsrfToken::for_browser(state, headers);
        let user = &self.console.active.user;
        let context = context! {
            ..extra,
            ..context! {
                lang => self.lang,
                languages => language_links(self.self_path, self.lang),
                signed_in => true,
                csrf => csrf.token.clone(),
                section => self.section.name(),
                self_path => self.self_path,
                admin_email => user.email.clone(),
                admin_role => self.console.role.as_str(),
            }
        };
        csrf.set_on(page(state, self.status, self.template, context))
    }
}

/// A console page's path with its language, for redirects after a change.
pub fn with_notice(path: &str, notice: &str, lang: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}notice={notice}&lang={lang}")
}

//! The console's users: the list (search by email, name or personnummer; pages; status badges),
//! one user's page, and the changes made from it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::admin::AdminError;
use crate::admin::overview::{self, UserOverview};
use crate::admin::pages::Page;
use crate::admin::roles::Area;
use crate::admin::users::{self, UserDetails, UserFilter};
use crate::render::activity::swedish_time;
use crate::state::AppState;

use super::super::errors::WebError;
use super::super::extract::Lang;
use super::super::pages::redirect_see_other;
use super::gate::{Console, ConsoleForm, ConsoleQueryForm};
use super::{ConsolePage, Section, with_notice};

/// Users on one page of the list.
const PAGE_SIZE: i64 = 25;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UserQuery {
    notice: Option<String>,
}

/// A notice after a change (`?notice=`), as its text key and whether it reports a problem.
fn notice(value: Option<&str>) -> Option<(&'static str, bool)> {
    Some(match value? {
        "invited" => ("console-notice-invited", false),
        "invitation-sent" => ("console-notice-invitation-sent", false),
        "disabled" => ("console-notice-disabled", false),
        "enabled" => ("console-notice-enabled", false),
        "sessions-ended" => ("console-notice-sessions-ended", false),
        "personnummer-removed" => ("console-notice-personnummer-removed", false),
        "passkey-removed" => ("console-notice-passkey-removed", false),
        "passkey-last-way" => ("console-problem-passkey-last-way", true),
        "deleted" => ("console-notice-deleted", false),
        "enable-first" => ("console-problem-enable-first", true),
        "own-account" => ("console-problem-own-account", true),
        _ => return None,
    })
}

fn notice_context(value: Option<&str>) -> Value {
    let (key, problem) = match notice(value) {
        Some((key, problem)) => (Some(key), problem),
        None => (None, false),
    };
    context! { notice_key => key, notice_is_problem => problem }
}

pub(super) fn user_path(id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/admin/users/{id}")
}

/// The badges of a user in the list and on their page.
fn badges(user: &UserDetails) -> Vec<&'static str> {
    let mut badges = vec![match user.status {
        "invited" => "invited",
        "disabled" => "disabled",
        _ => "active",
    }];
    if user.bankid_linked {
        badges.push("bankid");
    }
    if let Some(role) = user.admin_role {
        badges.push(role.as_str());
    }
    badges
}

fn user_row(user: &UserDetails) -> Value {
    context! {
        id => user.id.clone(),
        href => user_path(&user.id),
        name => user.name.clone(),
        email => user.email.clone(),
        badges => badges(user),
    }
}

/// What the list shows: the search as typed (never a personnummer), or the masked number that
/// was searched for.
struct Listing<'a> {
    search: Option<&'a str>,
    personnummer_masked: Option<String>,
    cursor: Option<&'a str>,
    notice: Option<&'a str>,
}

fn render_list(
    state: &AppState,
    headers: &HeaderMap,
    console: &Console,
    lang: &'static str,
    listing: Listing<'_>,
    page: &Page<UserDetails>,
) -> Response {
    let mut self_query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(q) = listing.search {
        self_query.append_pair("q", q);
    }
    if let Some(cursor) = listing.cursor {
        self_query.append_pair("cursor", cursor);
    }
    let self_query = self_query.finish();
    let self_path = format!("/admin/users?{self_query}");
    let next_href = page.next_cursor.as_ref().map(|cursor| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(q) = listing.search {
            query.append_pair("q", q);
        }
        query.append_pair("cursor", cursor);
        query.append_pair("lang", lang);
        format!("/admin/users?{}", query.finish())
    });
    let first_href = listing.cursor.map(|_| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(q) = listing.search {
            query.append_pair("q", q);
        }
        query.append_pair("lang", lang);
        format!("/admin/users?{}", query.finish())
    });
    let extra = context! {
        ..notice_context(listing.notice),
        ..context! {
            q => listing.search.unwrap_or_default(),
            searched => listing.search.is_some() || listing.personnummer_masked.is_some(),
            personnummer_masked => listing.personnummer_masked,
            users => page.items.iter().map(user_row).collect::<Vec<_>>(),
            next_href => next_href,
            first_href => first_href,
        }
    };
    ConsolePage {
        console,
        lang,
        section: Section::Users,
        self_path: &self_path,
        template: "pages/admin/users.html",
        status: StatusCode::OK,
    }
    .render(state, headers, extra)
}

fn invalid_cursor(error: AdminError, lang: &'static str) -> WebError {
    match error {
        AdminError::Invalid(_) => WebError::page(crate::oidc::PageError::BadRequest).in_lang(lang),
        other => WebError::from(other).in_lang(lang),
    }
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    console.require(Area::Users)?;
    let lang = lang.for_user(None, &console.active);
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let filter = UserFilter {
        search: search.map(str::to_string),
        cursor: query.cursor.clone(),
        limit: Some(PAGE_SIZE),
        ..Default::default()
    };
    let page = users::search(&state, filter)
        .await
        .map_err(|e| invalid_cursor(e, lang))?;
    // A number typed into the address is searched for all the same, but not shown back.
    let personnummer_masked = search
        .and_then(|q| users::personnummer_in(&state, q))
        .map(|pnr| pnr.masked());
    let listing = Listing {
        search: search.filter(|_| personnummer_masked.is_none()),
        personnummer_masked,
        cursor: query.cursor.as_deref(),
        notice: query.notice.as_deref(),
    };
    Ok(render_list(
        &state, &headers, &console, lang, listing, &page,
    ))
}

/// The search form. A personnummer is answered here, so the number never appears in an address
/// (history, proxy logs); anything else goes to the list's address, which can be bookmarked.
pub async fn search(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    ConsoleQueryForm(form): ConsoleQueryForm,
) -> Result<Response, WebError> {
    form.console.require(Area::Users)?;
    let lang = lang.for_user(form.lang(), &form.console.active);
    let q = form.get("q").unwrap_or_default().trim();
    let Some(pnr) = users::personnummer_in(&state, q) else {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if !q.is_empty() {
            query.append_pair("q", q);
        }
        query.append_pair("lang", lang);
        return Ok(redirect_see_other(&format!(
            "/admin/users?{}",
            query.finish()
        )));
    };
    let filter = UserFilter {
        search: Some(q.to_string()),
        limit: Some(PAGE_SIZE),
        ..Default::default()
    };
    let page = users::search(&state, filter)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    let listing = Listing {
        search: None,
        personnummer_masked: Some(pnr.masked()),
        cursor: None,
        notice: None,
    };
    Ok(render_list(
        &state,
        &headers,
        &form.console,
        lang,
        listing,
        &page,
    ))
}

/// A user's page; `delete_error` when a deletion's confirmation did not match.
struct UserView<'a> {
    overview: UserOverview,
    notice: Option<&'a str>,
    delete_error: bool,
}

fn render_user(
    state: &AppState,
    headers: &HeaderMap,
    console: &Console,
    lang: &'static str,
    view: UserView<'_>,
) -> Response {
    let UserOverview {
        user,
        personnummer_masked,
        sessions,
        consents,
        passkeys,
        recent_events,
    } = view.overview;
    let passkeys: Vec<Value> = passkeys
        .iter()
        .map(|p| {
            context! {
                id => p.id.clone(),
                name => p.name.clone(),
                created => swedish_time(p.created_at),
                last_used => p.last_used_at.map(swedish_time),
                synced => p.backup_eligible,
            }
        })
        .collect();
    let self_path = user_path(&user.id);
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|s| {
            context! {
                started => swedish_time(s.auth_time),
                expires => swedish_time(s.expires_at),
                method => if s.amr.iter().any(|m| m == crate::login::methods::AMR_BANKID) {
                    "bankid"
                } else if s.acr == crate::login::methods::ACR_PASSKEY {
                    "passkey"
                } else {
                    "password"
                },
            }
        })
        .collect();
    let consents: Vec<Value> = consents
        .iter()
        .map(|c| {
            context! {
                client_name => c.client_name.clone(),
                scope_keys => c.scopes.iter().map(|s| format!("scope-{s}")).collect::<Vec<_>>(),
                granted => swedish_time(c.granted_at),
            }
        })
        .collect();
    let events: Vec<Value> = recent_events
        .iter()
        .map(|e| {
            context! {
                when => swedish_time(e.at),
                kind => e.kind.clone(),
                actor => e.actor_type.clone(),
                by_this_user => e.actor_id.as_deref() == Some(user.id.as_str()),
                failed => e.result != "success",
            }
        })
        .collect();
    let own_account = user.id == console.active.user.id;
    let extra = context! {
        ..notice_context(view.notice),
        ..context! {
            user => context! {
                id => user.id.clone(),
                name => user.name.clone(),
                email => user.email.clone(),
                locale => user.locale.clone(),
                status => user.status,
                disabled => user.disabled,
                has_password => user.has_password,
                has_personnummer => user.has_personnummer,
                bankid_linked => user.bankid_linked,
                role => user.admin_role.map(|r| r.as_str()),
                created => swedish_time(user.created_at),
                badges => badges(&user),
            },
            base => self_path.clone(),
            own_account => own_account,
            personnummer_masked => personnummer_masked,
            sessions => sessions,
            consents => consents,
            passkeys => passkeys,
            events => events,
            delete_error => view.delete_error,
        }
    };
    let status = if view.delete_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    ConsolePage {
        console,
        lang,
        section: Section::Users,
        self_path: &self_path,
        template: "pages/admin/user.html",
        status,
    }
    .render(state, headers, extra)
}

pub async fn user_page(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<UserQuery>,
) -> Result<Response, WebError> {
    console.require(Area::Users)?;
    let lang = lang.for_user(None, &console.active);
    let overview = overview::of(&state, &id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    let view = UserView {
        overview,
        notice: query.notice.as_deref(),
        delete_error: false,
    };
    Ok(render_user(&state, &headers, &console, lang, view))
}

/// After a change to user `id`: back to their page with `notice`, or with what went wrong when
/// the person can do something about it.
fn after_change<T>(
    id: &str,
    lang: &'static str,
    outcome: Result<T, AdminError>,
    notice: &str,
) -> Result<Response, WebError> {
    let notice = match outcome {
        Ok(_) => notice,
        Err(AdminError::Conflict(_)) => "enable-first",
        Err(e) => return Err(WebError::from(e).in_lang(lang)),
    };
    Ok(redirect_see_other(&with_notice(
        &user_path(id),
        notice,
        lang,
    )))
}

/// The form's language and, for a change the console refuses to make to one's own account
/// (locking oneself out), the way back.
fn checked(
    lang: Lang,
    form: &ConsoleForm,
    id: &str,
    not_oneself: bool,
) -> Result<(&'static str, Option<Response>), WebError> {
    form.console.require(Area::Users)?;
    let lang = lang.for_user(form.lang(), &form.console.active);
    let oneself = form.console.active.user.id == id;
    let refusal = (not_oneself && oneself)
        .then(|| redirect_see_other(&with_notice(&user_path(id), "own-account", lang)));
    Ok((lang, refusal))
}

pub async fn resend_invitation(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    let (lang, _) = checked(lang, &form, &id, false)?;
    let outcome = users::resend_invitation(&state, &form.console.caller(), &id).await;
    after_change(&id, lang, outcome, "invitation-sent")
}

async fn set_disabled(
    state: &AppState,
    lang: Lang,
    id: &str,
    form: ConsoleForm,
    disabled: bool,
) -> Result<Response, WebError> {
    let (lang, refusal) = checked(lang, &form, id, disabled)?;
    if let Some(refusal) = refusal {
        return Ok(refusal);
    }
    let outcome = users::set_disabled(state, &form.console.caller(), id, disabled).await;
    let notice = if disabled { "disabled" } else { "enabled" };
    after_change(id, lang, outcome, notice)
}

pub async fn disable(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    set_disabled(&state, lang, &id, form, true).await
}

pub async fn enable(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    set_disabled(&state, lang, &id, form, false).await
}

/// Ends every session and revokes every token (the apps are told over back-channel logout).
pub async fn end_sessions(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    let (lang, refusal) = checked(lang, &form, &id, true)?;
    if let Some(refusal) = refusal {
        return Ok(refusal);
    }
    let outcome = users::revoke_access(&state, &form.console.caller(), &id).await;
    after_change(&id, lang, outcome, "sessions-ended")
}

/// Removes the personnummer and with it the BankID link.
pub async fn remove_personnummer(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    let (lang, _) = checked(lang, &form, &id, false)?;
    let outcome = users::remove_personnummer(&state, &form.console.caller(), &id).await;
    after_change(&id, lang, outcome, "personnummer-removed")
}

/// Removes one of the user's passkeys (a lost device, a suspected clone), unless it is their
/// last way to log in.
pub async fn remove_passkey(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path((id, passkey_id)): Path<(String, String)>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    let (lang, _) = checked(lang, &form, &id, false)?;
    let caller = form.console.caller();
    let notice = match crate::admin::passkeys::remove(&state, &caller, &id, &passkey_id).await {
        Ok(()) => "passkey-removed",
        Err(AdminError::Conflict(_)) => "passkey-last-way",
        Err(e) => return Err(WebError::from(e).in_lang(lang)),
    };
    Ok(redirect_see_other(&with_notice(
        &user_path(&id),
        notice,
        lang,
    )))
}

/// Deletes the user once their email address has been typed as confirmation.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    let (lang, refusal) = checked(lang, &form, &id, true)?;
    if let Some(refusal) = refusal {
        return Ok(refusal);
    }
    let overview = overview::of(&state, &id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    let typed = form.get("confirm_email").unwrap_or_default().trim();
    if !typed.eq_ignore_ascii_case(&overview.user.email) {
        let view = UserView {
            overview,
            notice: None,
            delete_error: true,
        };
        return Ok(render_user(&state, &headers, &form.console, lang, view));
    }
    users::delete(&state, &form.console.caller(), &overview.user.id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    Ok(redirect_see_other(&with_notice(
        "/admin/users",
        "deleted",
        lang,
    )))
}

//! Mina uppgifter: the page, and its forms (name and language, password, personnummer, apps
//! allowed).

use crate::audit::{Event, kinds};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use crate::account::names::validate_name;
use crate::account::{AccountError, change_password, personnummer};
use crate::identity::sealed as identity;
use crate::login::sessions::ActiveSession;
use crate::state::AppState;

use super::errors::{WebError, internal};
use super::extract::{Client, CsrfForm, Lang, Session};
use super::pages::{CsrfToken, language_links, page, redirect_see_other};

#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    notice: Option<String>,
}

/// The form that was refused, and the message it shows.
#[derive(Default)]
pub(super) struct Problems<'a> {
    profile: Option<&'a str>,
    password: Option<&'a str>,
    personnummer: Option<&'a str>,
    passkeys: Option<&'a str>,
    /// The passkey whose removal is asked to be confirmed (not a problem: a question).
    confirm_passkey: Option<&'a str>,
}

/// The forms of Mina uppgifter, each showing its own problems.
#[derive(Clone, Copy)]
pub(super) enum Section {
    Profile,
    Password,
    Personnummer,
    Passkeys,
}

impl<'a> Problems<'a> {
    /// No problem, but the question whether to remove the passkey `id`.
    pub(super) fn confirming_removal(id: &'a str) -> Self {
        Problems {
            confirm_passkey: Some(id),
            ..Problems::default()
        }
    }

    pub(super) fn at(section: Section, key: &'a str) -> Self {
        let mut problems = Problems::default();
        let slot = match section {
            Section::Profile => &mut problems.profile,
            Section::Password => &mut problems.password,
            Section::Personnummer => &mut problems.personnummer,
            Section::Passkeys => &mut problems.passkeys,
        };
        *slot = Some(key);
        problems
    }
}

pub(super) async fn render_account(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    active: &ActiveSession,
    lang: &str,
    notice_key: Option<&str>,
    problems: Problems<'_>,
) -> Result<Response, WebError> {
    let csrf = CsrfToken::for_browser(state, headers);
    let stored = state.store.personnummer_of(&active.user.id).await?;
    // Shown masked only; a number that cannot be opened (wrong key) is shown as absent.
    let pnr_masked = stored
        .as_ref()
        .and_then(|s| identity::open(state, s).ok())
        .map(|pnr| pnr.masked());
    let context = context! {
        lang => lang,
        languages => language_links("/account", lang),
        consents => consent_views(state, &active.user.id).await?,
        activity => recent_logins(state, &active.user.id).await?,
        pnr_masked => pnr_masked,
        bankid_enabled => state.bankid.is_some(),
        bankid_linked => stored.as_ref().is_some_and(|s| s.bankid_linked_at.is_some()),
        pnr_error => problems.personnummer,
        signed_in => true,
        csrf => csrf.token.clone(),
        notice_key => notice_key,
        profile_error => problems.profile,
        password_error => problems.password,
        user_name => active.user.name.clone(),
        user_email => active.user.email.clone(),
        user_locale => active.user.locale.clone(),
        min_length => state.config.account.min_password_length,
        passkeys_available => crate::login::passkey::available(&state.config.issuer),
        passkeys => passkey_views(state, &active.user.id).await?,
        passkey_error => problems.passkeys,
        confirm_passkey => problems.confirm_passkey,
    };
    Ok(csrf.set_on(page(state, status, "pages/account.html", context)))
}

/// The user's passkeys as the page lists them: name, when made and last used (Swedish time),
/// synced or on one device.
async fn passkey_views(state: &AppState, user_id: &str) -> Result<Vec<minijinja::Value>, WebError> {
    use crate::render::activity::swedish_time;
    Ok(state
        .store
        .passkeys_of(user_id)
        .await?
        .into_iter()
        .map(|p| {
            context! {
                id => p.id,
                name => p.name,
                created => swedish_time(p.created_at),
                last_used => p.last_used_at.map(swedish_time),
                synced => p.backup_eligible,
            }
        })
        .collect())
}

/// How many logins "Senaste aktivitet" lists.
const RECENT_LOGINS: usize = 5;

/// The user's last logins (and failed attempts), newest first, from the audit trail.
async fn recent_logins(
    state: &AppState,
    user_id: &str,
) -> Result<Vec<crate::render::activity::LoginActivity>, WebError> {
    let events = state
        .store
        .audit_events(&crate::store::AuditQuery {
            user_id: Some(user_id.to_string()),
            limit: 50,
            ..Default::default()
        })
        .await?;
    Ok(events
        .iter()
        .filter(|e| e.kind == kinds::LOGIN_SUCCEEDED || e.kind == kinds::LOGIN_FAILED)
        .take(RECENT_LOGINS)
        .map(crate::render::activity::LoginActivity::of)
        .collect())
}

/// The apps the user allowed, by name.
async fn consent_views(state: &AppState, user_id: &str) -> Result<Vec<minijinja::Value>, WebError> {
    let mut views = Vec::new();
    for consent in state.store.list_consents(user_id).await? {
        let Some(client) = state.store.client_by_id(&consent.client_id).await? else {
            continue;
        };
        let scope_keys: Vec<String> = consent
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| format!("scope-{s}"))
            .collect();
        views.push(context! {
            client_id => consent.client_id,
            client_name => client.name,
            scope_keys => scope_keys,
        });
    }
    Ok(views)
}

pub async fn account_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Session(active): Session,
    headers: HeaderMap,
    Query(query): Query<AccountQuery>,
) -> Result<Response, WebError> {
    let lang = lang.for_user(None, &active);
    let notice_key = match query.notice.as_deref() {
        Some("saved") => Some("account-saved"),
        Some("password") => Some("account-password-changed"),
        Some("password-set") => Some("password-set-title"),
        Some("pnr-saved") => Some("account-personnummer-saved"),
        Some("pnr-removed") => Some("account-personnummer-removed"),
        Some("bankid-linked") => Some("account-bankid-linked"),
        Some("consent-revoked") => Some("consent-revoked"),
        Some("passkey-added") => Some("account-passkey-added"),
        Some("passkey-renamed") => Some("account-passkey-renamed"),
        Some("passkey-removed") => Some("account-passkey-removed"),
        _ => None,
    };
    render_account(
        &state,
        &headers,
        StatusCode::OK,
        &active,
        lang,
        notice_key,
        Problems::default(),
    )
    .await
}

pub async fn update_profile(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Session(active): Session,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.for_user(form.lang(), &active);
    let locale = match form.get("locale") {
        Some("en") => "en",
        _ => "sv",
    };
    let name = match validate_name(form.get("name").unwrap_or_default()) {
        Ok(name) => name,
        Err(problem) => {
            let problems = Problems::at(Section::Profile, problem.message_key());
            let status = StatusCode::BAD_REQUEST;
            return render_account(&state, &headers, status, &active, lang, None, problems).await;
        }
    };
    let now = state.clock.now();
    let event = Event::by_user(kinds::PROFILE_UPDATED, &active.user.id)
        .detail("locale", locale)
        .at(now);
    state
        .store
        .update_user_profile(&active.user.id, &name, locale, now, &[event])
        .await?;
    Ok(redirect_see_other(&format!(
        "/account?notice=saved&lang={locale}"
    )))
}

/// Answering a Mina uppgifter form.
struct FormAnswer<'a> {
    state: &'a AppState,
    headers: &'a HeaderMap,
    active: &'a ActiveSession,
    lang: &'static str,
}

impl FormAnswer<'_> {
    /// Back to the page with `notice` after a change, or the page again with the problem shown
    /// at the form `section`.
    async fn after(
        self,
        outcome: Result<(), AccountError>,
        notice: &str,
        section: Section,
    ) -> Result<Response, WebError> {
        let lang = self.lang;
        let (status, key) = match outcome {
            Ok(()) => {
                return Ok(redirect_see_other(&format!(
                    "/account?notice={notice}&lang={lang}"
                )));
            }
            Err(e) => form_problem(e).map_err(|e| e.in_lang(lang))?,
        };
        let problems = Problems::at(section, key);
        render_account(
            self.state,
            self.headers,
            status,
            self.active,
            lang,
            None,
            problems,
        )
        .await
    }
}

/// A problem the person can fix (status and message key), or our own failure.
fn form_problem(error: AccountError) -> Result<(StatusCode, &'static str), WebError> {
    match error {
        AccountError::Rejected(key) => Ok((StatusCode::BAD_REQUEST, key)),
        AccountError::Throttled => Ok((StatusCode::TOO_MANY_REQUESTS, "account-throttled")),
        other => Err(internal(other)),
    }
}

pub async fn change_password(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    client: Client,
    Session(active): Session,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.for_user(form.lang(), &active);
    let changed = change_password::change(
        &state,
        &active,
        form.get("current_password").unwrap_or_default(),
        form.get("new_password").unwrap_or_default(),
        form.get("confirm_password").unwrap_or_default(),
        client.attempt_source(),
    )
    .await;
    let answer = FormAnswer {
        state: &state,
        headers: &headers,
        active: &active,
        lang,
    };
    answer.after(changed, "password", Section::Password).await
}

/// Adds, changes or removes the personnummer (the password confirms it is the account owner).
pub async fn personnummer(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    client: Client,
    Session(active): Session,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.for_user(form.lang(), &active);
    let source = client.attempt_source();
    let password = form.get("password").unwrap_or_default();
    let (outcome, notice) = match form.get("action") {
        Some("remove") => (
            personnummer::remove(&state, &active, password, source).await,
            "pnr-removed",
        ),
        _ => {
            let input = form.get("personnummer").unwrap_or_default();
            (
                personnummer::set(&state, &active, input, password, source).await,
                "pnr-saved",
            )
        }
    };
    let answer = FormAnswer {
        state: &state,
        headers: &headers,
        active: &active,
        lang,
    };
    answer.after(outcome, notice, Section::Personnummer).await
}

/// Withdraws an app's access: the consent and every grant (refresh token) it holds.
pub async fn revoke_consent(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Session(active): Session,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.for_user(form.lang(), &active);
    let Some(client_id) = form.get("client_id") else {
        return Err(WebError::page(crate::oidc::PageError::BadRequest).in_lang(lang));
    };
    let now = state.clock.now();
    let event = Event::by_user(kinds::CONSENT_WITHDRAWN, &active.user.id)
        .client(client_id)
        .at(now);
    state
        .store
        .revoke_consent(&active.user.id, client_id, now, &[event])
        .await?;
    tracing::info!(user_id = %active.user.id, %client_id, "consent withdrawn");
    Ok(redirect_see_other(&format!(
        "/account?lang={lang}&notice=consent-revoked"
    )))
}

//! Managing customers' accounts: create and invite, find, change, disable, end their sessions,
//! remove their personnummer, delete them.

use serde::Serialize;

use crate::account::links::{Purpose, link_sent_event, prepare_link};
use std::collections::HashMap;

use crate::account::users::valid_email;
use crate::audit::{Actor, Caller, kinds};
use crate::identity::personnummer::Personnummer;
use crate::identity::sealed::{blind_index, today_in_sweden};
use crate::login::password::normalize_email;
use crate::state::AppState;
use crate::store::{Consent, Session, StoreError, User, UserQuery, UserSummary};

use super::AdminError;
use super::pages::{Page, decode_cursor, limit, page};
use super::roles::Role;

pub use crate::account::users::UserView;

/// Languages a user's pages and emails can be in.
pub const LOCALES: &[&str] = &["sv", "en"];

pub const MIN_PASSWORD_LENGTH: usize = 10;

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub locale: String,
    /// Set by an operator at the CLI; an invited user sets their own.
    pub password: Option<String>,
    /// Send the welcome email with a link to set a password, in the same transaction.
    pub invite: bool,
}

/// A user as the admin API shows them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserDetails {
    pub id: String,
    pub email: String,
    pub name: String,
    /// `sv` or `en`.
    pub locale: String,
    /// `invited` (no password yet), `active` or `disabled`.
    pub status: &'static str,
    pub disabled: bool,
    pub email_verified: bool,
    pub has_password: bool,
    pub has_personnummer: bool,
    /// BankID has verified the personnummer: the user can log in with BankID.
    pub bankid_linked: bool,
    /// Their role in the admin console, if they are an administrator.
    pub admin_role: Option<Role>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserDetails {
    fn of(summary: &UserSummary, admin_role: Option<Role>) -> UserDetails {
        let user = &summary.user;
        let status = if user.disabled {
            "disabled"
        } else if user.password_hash.is_none() && !summary.bankid_linked {
            "invited"
        } else {
            "active"
        };
        UserDetails {
            id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            locale: user.locale.clone(),
            status,
            disabled: user.disabled,
            email_verified: user.email_verified,
            has_password: user.password_hash.is_some(),
            has_personnummer: summary.has_personnummer,
            bankid_linked: summary.bankid_linked,
            admin_role,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// What to look for in the user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub search: Option<String>,
    pub disabled: Option<bool>,
    pub has_password: Option<bool>,
    pub bankid_linked: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

fn check_locale(locale: &str) -> Result<(), AdminError> {
    if LOCALES.contains(&locale) {
        Ok(())
    } else {
        Err(AdminError::invalid("locale", "must be sv or en"))
    }
}

fn check_name(raw: &str) -> Result<String, AdminError> {
    crate::account::names::validate_name(raw)
        .map_err(|problem| AdminError::invalid("name", problem.to_string()))
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    new: NewUser,
) -> Result<UserDetails, AdminError> {
    create_with_id(state, caller, new, uuid::Uuid::now_v7().to_string(), None).await
}

/// [`create`], with the account's `id` chosen by the caller (a bulk invitation chooses it at
/// upload, to recognise an account it made before a crash) and the `batch` it came from, if any,
/// in the audit event.
pub async fn create_with_id(
    state: &AppState,
    caller: &Caller,
    new: NewUser,
    id: String,
    batch: Option<&str>,
) -> Result<UserDetails, AdminError> {
    let mut problems = Vec::new();
    let email = valid_email(&new.email);
    if email.is_none() {
        problems.push(super::FieldProblem {
            field: "email".into(),
            message: "is not a valid email address".into(),
        });
    }
    let name = match check_name(&new.name) {
        Ok(name) => Some(name),
        Err(AdminError::Invalid(mut more)) => {
            problems.append(&mut more);
            None
        }
        Err(other) => return Err(other),
    };
    if let Err(AdminError::Invalid(mut more)) = check_locale(&new.locale) {
        problems.append(&mut more);
    }
    if new.invite && new.password.is_some() {
        problems.push(super::FieldProblem {
            field: "invite".into(),
            message: "an invited user sets their own password".into(),
        });
    }
    if let Some(password) = &new.password
        && password.chars().count() < MIN_PASSWORD_LENGTH
    {
        problems.push(super::FieldProblem {
            field: "password".into(),
            message: format!("must have at least {MIN_PASSWORD_LENGTH} characters"),
        });
    }
    let (Some(email), Some(name), true) = (email, name, problems.is_empty()) else {
        return Err(AdminError::Invalid(problems));
    };
    if state.store.user_by_email(&email).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let password_hash = match &new.password {
        Some(password) => Some(state.passwords.hash(password).await?),
        None => None,
    };
    let now = state.clock.now();
    let user = User {
        id,
        email,
        // An operator vouches for the address; an invitation proves it when the link is used.
        email_verified: !new.invite,
        name,
        locale: new.locale,
        password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let mut event = caller
        .event(if new.invite {
            kinds::USER_INVITED
        } else {
            kinds::USER_CREATED
        })
        .user(&user.id)
        .detail("locale", user.locale.clone());
    if let Some(batch) = batch {
        event = event.detail("batch", batch);
    }
    let event = event.at(now);
    let stored = if new.invite {
        let (token, message) = prepare_link(state, &user, Purpose::Invite, None)?;
        let stored = state
            .store
            .insert_user_with_token(&user, &token, &message, &[event])
            .await;
        state.mail_wakeup.notify_one();
        stored
    } else {
        state.store.insert_user(&user, &[event]).await
    };
    stored.map_err(|e| match e {
        StoreError::Conflict(_) => {
            AdminError::Conflict(format!("a user with email {} already exists", user.email))
        }
        other => other.into(),
    })?;
    tracing::info!(user_id = %user.id, invited = new.invite, "user created");
    Ok(UserDetails::of(
        &UserSummary {
            user,
            has_personnummer: false,
            bankid_linked: false,
        },
        None,
    ))
}

/// A search term that is a whole, valid personnummer (any of its written forms).
pub fn personnummer_in(state: &AppState, term: &str) -> Option<Personnummer> {
    Personnummer::parse(term, today_in_sweden(state)).ok()
}

/// Users matching the filter. A search that is a whole personnummer finds the accounts holding
/// it (verified or typed in), through the blind index: the number itself is never compared or
/// stored in the clear.
pub async fn search(state: &AppState, filter: UserFilter) -> Result<Page<UserDetails>, AdminError> {
    let limit = limit(filter.limit)?;
    if let Some(pnr) = filter
        .search
        .as_deref()
        .and_then(|term| personnummer_in(state, term))
    {
        return holders_of(state, &pnr, &filter).await;
    }
    let roles: HashMap<String, Role> = state
        .store
        .admin_roles()
        .await?
        .into_iter()
        .filter_map(|g| Some((g.user_id, Role::parse(&g.role)?)))
        .collect();
    let query = UserQuery {
        search: filter.search.filter(|s| !s.trim().is_empty()),
        disabled: filter.disabled,
        has_password: filter.has_password,
        bankid_linked: filter.bankid_linked,
        after: decode_cursor(filter.cursor.as_deref())?,
        limit: limit + 1,
    };
    let rows = state.store.search_users(&query).await?;
    let page = page(rows, limit, |s| (s.user.created_at, s.user.id.clone()));
    Ok(Page {
        items: page
            .items
            .iter()
            .map(|s| UserDetails::of(s, roles.get(&s.user.id).copied()))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// The accounts holding `pnr`, the filter's other conditions applied; one page (a number is on
/// at most a few accounts).
async fn holders_of(
    state: &AppState,
    pnr: &Personnummer,
    filter: &UserFilter,
) -> Result<Page<UserDetails>, AdminError> {
    let index = blind_index(state, pnr);
    let mut ids: Vec<String> = state
        .store
        .verified_personnummer_by_index(&index)
        .await?
        .map(|p| p.user_id)
        .into_iter()
        .collect();
    // No account has an empty id, so this leaves none out.
    for user in state.store.unverified_holders(&index, "").await? {
        ids.push(user.id);
    }
    let mut items = Vec::new();
    for id in ids {
        let user = details(state, &id).await?;
        let wanted = filter.disabled.is_none_or(|d| d == user.disabled)
            && filter.has_password.is_none_or(|p| p == user.has_password)
            && filter.bankid_linked.is_none_or(|b| b == user.bankid_linked);
        if wanted {
            items.push(user);
        }
    }
    items.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(Page {
        items,
        next_cursor: None,
    })
}

/// Every user, for the CLI's `user list`.
pub async fn list(state: &AppState) -> Result<Vec<UserView>, AdminError> {
    Ok(state
        .store
        .list_users()
        .await?
        .iter()
        .map(UserView::from)
        .collect())
}

/// Finds a user by id or email.
pub async fn find(state: &AppState, id_or_email: &str) -> Result<User, AdminError> {
    let found = if id_or_email.contains('@') {
        state
            .store
            .user_by_email(&normalize_email(id_or_email))
            .await?
    } else {
        state.store.user_by_id(id_or_email).await?
    };
    found.ok_or_else(|| AdminError::NotFound(format!("no user {id_or_email:?}")))
}

/// One user with what they have (password, personnummer, BankID).
pub async fn details(state: &AppState, id_or_email: &str) -> Result<UserDetails, AdminError> {
    let user = find(state, id_or_email).await?;
    let personnummer = state.store.personnummer_of(&user.id).await?;
    let role = super::roles::role_of(state, &user.id).await?;
    Ok(UserDetails::of(
        &UserSummary {
            has_personnummer: personnummer.is_some(),
            bankid_linked: personnummer.is_some_and(|p| p.bankid_linked_at.is_some()),
            user,
        },
        role,
    ))
}

/// Changes name and/or language.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    name: Option<&str>,
    locale: Option<&str>,
) -> Result<UserDetails, AdminError> {
    let user = find(state, id).await?;
    let name = match name {
        Some(raw) => check_name(raw)?,
        None => user.name.clone(),
    };
    let locale = locale.unwrap_or(&user.locale).to_string();
    check_locale(&locale)?;
    let now = state.clock.now();
    let mut event = caller.event(kinds::USER_UPDATED).user(&user.id);
    if name != user.name {
        event = event.detail("name_changed", true);
    }
    if locale != user.locale {
        event = event.detail("locale", locale.clone());
    }
    state
        .store
        .update_user_profile(&user.id, &name, &locale, now, &[event.at(now)])
        .await?;
    details(state, &user.id).await
}

pub async fn set_disabled(
    state: &AppState,
    caller: &Caller,
    id_or_email: &str,
    disabled: bool,
) -> Result<UserDetails, AdminError> {
    let user = find(state, id_or_email).await?;
    let now = state.clock.now();
    let kind = if disabled {
        kinds::USER_DISABLED
    } else {
        kinds::USER_ENABLED
    };
    let event = caller.event(kind).user(&user.id).at(now);
    state
        .store
        .set_user_disabled(&user.id, disabled, now, &[event])
        .await?;
    details(state, &user.id).await
}

/// Sends a fresh welcome email (or a reset link to a user who has set a password meanwhile).
pub async fn resend_invitation(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<UserDetails, AdminError> {
    let user = find(state, id).await?;
    if user.disabled {
        return Err(AdminError::Conflict(format!(
            "user {id:?} is disabled; enable them first"
        )));
    }
    let purpose = if user.password_hash.is_some() {
        Purpose::Reset
    } else {
        Purpose::Invite
    };
    let (token, message) = prepare_link(state, &user, purpose, None)?;
    let event = link_sent_event(caller, &user, purpose).at(token.created_at);
    state
        .store
        .insert_user_token(&token, &message, None, &[event])
        .await?;
    state.mail_wakeup.notify_one();
    details(state, &user.id).await
}

/// A session as the admin API shows it (never its cookie or hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub sid: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        SessionView {
            sid: s.sid.clone(),
            auth_time: s.auth_time,
            amr: s.amr.clone(),
            acr: s.acr.clone(),
            created_at: s.created_at,
            expires_at: s.expires_at,
        }
    }
}

pub async fn sessions(state: &AppState, id: &str) -> Result<Vec<SessionView>, AdminError> {
    let user = find(state, id).await?;
    Ok(state
        .store
        .sessions_of_user(&user.id, state.clock.now())
        .await?
        .iter()
        .map(SessionView::from)
        .collect())
}

/// Ends one session (with back-channel logout to the apps that used it).
pub async fn revoke_session(
    state: &AppState,
    caller: &Caller,
    id: &str,
    sid: &str,
) -> Result<(), AdminError> {
    let user = find(state, id).await?;
    let session = state
        .store
        .session_by_sid(sid, state.clock.now())
        .await?
        .filter(|s| s.user_id == user.id)
        .ok_or_else(|| AdminError::NotFound(format!("no session {sid:?} of this user")))?;
    crate::oidc::logout::end_session(state, &session, caller.actor.clone())
        .await
        .map_err(|e| AdminError::Mail(e.to_string()))?;
    Ok(())
}

/// Ends every session and revokes every grant (refresh and access tokens die), offline ones
/// too, telling the apps over back-channel logout.
pub async fn revoke_access(state: &AppState, caller: &Caller, id: &str) -> Result<(), AdminError> {
    let user = find(state, id).await?;
    let now = state.clock.now();
    let mut deliveries = Vec::new();
    for session in state.store.sessions_of_user(&user.id, now).await? {
        deliveries.extend(
            crate::oidc::logout::backchannel_deliveries(state, &session)
                .await
                .map_err(|e| AdminError::Mail(e.to_string()))?,
        );
    }
    let event = caller
        .event(kinds::USER_ACCESS_REVOKED)
        .user(&user.id)
        .at(now);
    state
        .store
        .revoke_user_access(&user.id, &deliveries, now, &[event])
        .await?;
    if !deliveries.is_empty() {
        state.backchannel_wakeup.notify_one();
    }
    Ok(())
}

/// A consent as the admin API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    pub client_id: String,
    pub scope: String,
    pub granted_at: i64,
}

impl From<&Consent> for ConsentView {
    fn from(c: &Consent) -> Self {
        ConsentView {
            client_id: c.client_id.clone(),
            scope: c.scope.clone(),
            granted_at: c.granted_at,
        }
    }
}

pub async fn consents(state: &AppState, id: &str) -> Result<Vec<ConsentView>, AdminError> {
    let user = find(state, id).await?;
    Ok(state
        .store
        .list_consents(&user.id)
        .await?
        .iter()
        .map(ConsentView::from)
        .collect())
}

/// Withdraws a consent: the app's grants for the user are revoked and it asks again next time.
pub async fn revoke_consent(
    state: &AppState,
    caller: &Caller,
    id: &str,
    client_id: &str,
) -> Result<(), AdminError> {
    let user = find(state, id).await?;
    if state.store.consent(&user.id, client_id).await?.is_none() {
        return Err(AdminError::NotFound(format!(
            "the user has no consent for client {client_id:?}"
        )));
    }
    let now = state.clock.now();
    let event = caller
        .event(kinds::CONSENT_WITHDRAWN)
        .user(&user.id)
        .client(client_id)
        .at(now);
    state
        .store
        .revoke_consent(&user.id, client_id, now, &[event])
        .await?;
    Ok(())
}

/// Removes the personnummer and with it the BankID link.
pub async fn remove_personnummer(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<UserDetails, AdminError> {
    let user = find(state, id).await?;
    let now = state.clock.now();
    let event = caller
        .event(kinds::PERSONNUMMER_REMOVED)
        .user(&user.id)
        .at(now);
    let unlinked = caller.event(kinds::BANKID_UNLINKED).user(&user.id).at(now);
    let linked = state
        .store
        .personnummer_of(&user.id)
        .await?
        .is_some_and(|p| p.bankid_linked_at.is_some());
    let events = if linked {
        vec![event, unlinked]
    } else {
        vec![event]
    };
    state.store.delete_personnummer(&user.id, &events).await?;
    details(state, &user.id).await
}

/// Erases the user: personal data gone, audit trail kept under a pseudonym. Deleting a user
/// who is already gone succeeds (`false`), so a retried request is harmless.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<bool, AdminError> {
    let Some(user) = state.store.user_by_id(id).await? else {
        return Ok(false);
    };
    let pseudonym = crate::audit::pseudonym(&state.hmac, &user.id);
    let mut event = caller.event(kinds::USER_DELETED).user(&pseudonym);
    // The admin deleting themself is named by their pseudonym too.
    if caller.actor == Actor::User(user.id.clone()) {
        event = event.by(Actor::User(pseudonym.clone()));
    }
    let deleted = state
        .store
        .delete_user(&user.id, &pseudonym, &[event.at(state.clock.now())])
        .await?;
    tracing::info!(user = %pseudonym, "user deleted");
    Ok(deleted)
}

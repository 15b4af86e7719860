//! Everything the admin console shows about one user on their page: what they have (password,
//! personnummer masked, BankID), their live sessions, the apps they allowed, and what happened
//! to their account lately.

use serde::Serialize;

use crate::identity::sealed as identity;
use crate::state::AppState;
use crate::store::AuditQuery;

use super::AdminError;
use super::audit_trail::AuditEventView;
use super::users::{self, SessionView, UserDetails};

/// How many audit events the user's page lists.
pub const RECENT_EVENTS: i64 = 20;

/// An app the user allowed, by name.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentOverview {
    pub client_id: String,
    /// The app's name; its id when the app is gone.
    pub client_name: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserOverview {
    pub user: UserDetails,
    /// Only the birth year (`1981****-****`); `None` without a number, or when it cannot be
    /// opened (a retired key).
    pub personnummer_masked: Option<String>,
    pub sessions: Vec<SessionView>,
    pub consents: Vec<ConsentOverview>,
    /// Oldest first.
    pub passkeys: Vec<super::passkeys::PasskeyView>,
    /// Newest first.
    pub recent_events: Vec<AuditEventView>,
}

/// The user (by id or email) with everything their page shows.
pub async fn of(state: &AppState, id_or_email: &str) -> Result<UserOverview, AdminError> {
    let user = users::details(state, id_or_email).await?;
    let personnummer_masked = state
        .store
        .personnummer_of(&user.id)
        .await?
        .and_then(|stored| identity::open(state, &stored).ok())
        .map(|pnr| pnr.masked());
    let sessions = users::sessions(state, &user.id).await?;
    let passkeys = super::passkeys::list(state, &user.id).await?;
    let mut consents = Vec::new();
    for consent in users::consents(state, &user.id).await? {
        let client_name = state
            .store
            .client_by_id(&consent.client_id)
            .await?
            .map(|c| c.name)
            .unwrap_or_else(|| consent.client_id.clone());
        consents.push(ConsentOverview {
            client_name,
            scopes: consent
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            client_id: consent.client_id,
            granted_at: consent.granted_at,
        });
    }
    let recent_events = state
        .store
        .audit_events(&AuditQuery {
            user_id: Some(user.id.clone()),
            limit: RECENT_EVENTS,
            ..Default::default()
        })
        .await?
        .iter()
        .map(AuditEventView::from)
        .collect();
    Ok(UserOverview {
        user,
        personnummer_masked,
        sessions,
        consents,
        passkeys,
        recent_events,
    })
}

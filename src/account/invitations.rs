//! Welcome invitations: the user is created without a password and gets a link to choose one.

use crate::audit::{Caller, Event, kinds};
use serde::Serialize;

use super::users::{UserView, valid_email};
use crate::state::AppState;
use crate::store::{StoreError, User};

use super::AccountError;
use super::links::{Purpose, prepare_link, send_link};

#[derive(Debug, Serialize)]
pub struct InviteOutcome {
    pub user: UserView,
    /// `invited` for a new user, `resent` when the address already had an account.
    pub outcome: &'static str,
}

/// A new user created with an invitation.
fn invited_event(caller: &Caller, user: &User) -> Event {
    caller
        .event(kinds::USER_INVITED)
        .user(&user.id)
        .detail("locale", user.locale.clone())
}

pub async fn invite(
    state: &AppState,
    caller: &Caller,
    email: &str,
    name: &str,
    locale: &str,
) -> Result<InviteOutcome, AccountError> {
    let email = valid_email(email).ok_or(AccountError::Rejected("invalid-email"))?;
    if !["sv", "en"].contains(&locale) {
        return Err(AccountError::Rejected("invalid-locale"));
    }
    if let Some(existing) = state.store.user_by_email(&email).await? {
        // Inviting an existing address sends a fresh link instead of failing.
        let purpose = if existing.password_hash.is_some() {
            Purpose::Reset
        } else {
            Purpose::Invite
        };
        send_link(state, caller, &existing, purpose, None).await?;
        return Ok(InviteOutcome {
            user: UserView::from(&existing),
            outcome: "resent",
        });
    }
    let name = super::names::validate_name(name)
        .map_err(|problem| AccountError::Rejected(problem.message_key()))?;
    let name = name.as_str();
    let now = state.clock.now();
    let user = User {
        id: uuid::Uuid::now_v7().to_string(),
        email,
        email_verified: false,
        name: name.to_string(),
        locale: locale.to_string(),
        password_hash: None,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let (token, message) = prepare_link(state, &user, Purpose::Invite, None)?;
    match state
        .store
        .insert_user_with_token(
            &user,
            &token,
            &message,
            &[invited_event(caller, &user).at(now)],
        )
        .await
    {
        Ok(()) => {}
        // Two invitations for one address at once: the other one won; send ours as a re-send.
        Err(StoreError::Conflict(_)) => {
            return Box::pin(invite(state, caller, &user.email, name, locale)).await;
        }
        Err(e) => return Err(e.into()),
    }
    state.mail_wakeup.notify_one();
    tracing::info!(user_id = %user.id, "user invited");
    Ok(InviteOutcome {
        user: UserView::from(&user),
        outcome: "invited",
    })
}

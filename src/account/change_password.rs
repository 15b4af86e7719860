//! Setting a password: from an invitation or reset link, or "Byt lösenord" in Mina uppgifter.
//! Either way the user's other sessions and every refresh token end.

use crate::audit::{Event, kinds};
use crate::login::password::{AttemptSource, verify_password_login};
use crate::login::sessions::ActiveSession;
use crate::state::AppState;
use crate::store::{Consumed, PasswordChange, User};

use super::AccountError;
use super::links::{self, LinkProblem, Purpose};
use super::password_policy;

/// What a link-based password change ended in.
pub enum LinkOutcome {
    /// The password is set; start a session for this user.
    Done { user: User, purpose: Purpose },
    /// The link cannot be used (nothing changed).
    Problem(LinkProblem),
}

/// Sets the password from a link. The policy is checked before the link is used up, so a weak
/// password does not cost the user their link.
pub async fn set_from_link(
    state: &AppState,
    raw_token: &str,
    password: &str,
    confirmation: &str,
) -> Result<LinkOutcome, AccountError> {
    let link = match links::inspect(state, raw_token).await? {
        Ok(link) => link,
        Err(problem) => return Ok(LinkOutcome::Problem(problem)),
    };
    password_policy::check(
        &state.config.account,
        password,
        confirmation,
        &[&link.user.email, &link.user.name],
    )
    .map_err(AccountError::Rejected)?;
    let hash = state.passwords.hash(password).await?;
    let notice = match link.purpose {
        // A reset changes an existing password: tell the owner, in case it was not them.
        Purpose::Reset => Some(notice(state, &link.user)?),
        Purpose::Invite => None,
    };
    let change = PasswordChange {
        user_id: link.user.id.clone(),
        password_hash: hash,
        now: state.clock.now(),
        keep_session_hash: None,
        verify_email: true,
        notice,
    };
    // The link is used up in the same transaction as the password it sets.
    let token_hash = crate::crypto::sha256_hex(raw_token.as_bytes());
    let kind = match link.purpose {
        Purpose::Reset => kinds::PASSWORD_RESET,
        Purpose::Invite => kinds::PASSWORD_SET,
    };
    let event = Event::by_user(kind, &link.user.id).at(change.now);
    match state
        .store
        .set_password_from_link(&token_hash, &change, &[event])
        .await?
    {
        Consumed::Fresh(_) => {}
        Consumed::AlreadyUsed(_) => return Ok(LinkOutcome::Problem(LinkProblem::Used)),
        Consumed::Missing => return Ok(LinkOutcome::Problem(LinkProblem::Unknown)),
    }
    state.mail_wakeup.notify_one();
    tracing::info!(user_id = %link.user.id, purpose = link.purpose.as_str(), "password set from link");
    Ok(LinkOutcome::Done {
        user: link.user,
        purpose: link.purpose,
    })
}

fn notice(state: &AppState, user: &User) -> Result<crate::store::OutboxEmail, AccountError> {
    let message =
        super::emails::compose(state, super::emails::EmailKind::PasswordChanged, user, None)
            .map_err(AccountError::Mail)?;
    Ok(super::emails::prepare_outbox(
        state,
        "password_changed",
        &message,
    ))
}

/// "Byt lösenord": needs the current password; keeps this session, ends all others.
pub async fn change(
    state: &AppState,
    active: &ActiveSession,
    current: &str,
    new: &str,
    confirmation: &str,
    source: AttemptSource<'_>,
) -> Result<(), AccountError> {
    // The same check as a login, with its throttling, so this form cannot be used to guess.
    match verify_password_login(state, &active.user.email, current, source).await {
        Ok(login) if login.user.id == active.user.id => {}
        Err(crate::login::password::LoginError::Throttled) => return Err(AccountError::Throttled),
        Err(crate::login::password::LoginError::Store(e)) => return Err(e.into()),
        Err(crate::login::password::LoginError::Crypto(e)) => return Err(e.into()),
        _ => return Err(AccountError::Rejected("current-password-wrong")),
    }
    password_policy::check(
        &state.config.account,
        new,
        confirmation,
        &[&active.user.email, &active.user.name],
    )
    .map_err(AccountError::Rejected)?;
    let hash = state.passwords.hash(new).await?;
    let now = state.clock.now();
    let change = PasswordChange {
        user_id: active.user.id.clone(),
        password_hash: hash,
        now,
        keep_session_hash: Some(active.session.id_hash.clone()),
        verify_email: false,
        notice: Some(notice(state, &active.user)?),
    };
    let event = Event::by_user(kinds::PASSWORD_CHANGED, &active.user.id).at(now);
    state
        .store
        .set_password_with_effects(&change, &[event])
        .await?;
    state.mail_wakeup.notify_one();
    tracing::info!(user_id = %active.user.id, "password changed");
    Ok(())
}

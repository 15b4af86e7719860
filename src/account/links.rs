//! Single-use email links (invitation and password reset): a random 256-bit token in the URL,
//! only its SHA-256 in the database.

use super::emails::{EmailKind, compose, prepare_outbox};
use crate::audit::{Actor, Caller, Event, kinds};
use crate::crypto::{random_token, sha256_hex};
use crate::state::AppState;
use crate::store::{OutboxEmail, User, UserToken};

use super::AccountError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }

    pub fn parse(raw: &str) -> Option<Purpose> {
        match raw {
            "invite" => Some(Purpose::Invite),
            "reset" => Some(Purpose::Reset),
            _ => None,
        }
    }

    fn ttl(self, state: &AppState) -> i64 {
        match self {
            Purpose::Invite => state.config.account.invite_ttl,
            Purpose::Reset => state.config.account.reset_ttl,
        }
    }

    fn email_kind(self) -> EmailKind {
        match self {
            Purpose::Invite => EmailKind::Invite,
            Purpose::Reset => EmailKind::Reset,
        }
    }
}

/// A new link token for `user` and the email that carries it (not yet stored).
pub fn prepare_link(
    state: &AppState,
    user: &User,
    purpose: Purpose,
    continue_request: Option<&str>,
) -> Result<(UserToken, OutboxEmail), AccountError> {
    let now = state.clock.now();
    let raw = random_token(state.entropy.as_ref());
    let token = UserToken {
        token_hash: sha256_hex(raw.as_bytes()),
        user_id: user.id.clone(),
        purpose: purpose.as_str().into(),
        created_at: now,
        expires_at: now + purpose.ttl(state),
        used_at: None,
    };
    let mut link = format!("{}/password/set?token={raw}", state.config.issuer);
    if let Some(req) = continue_request {
        link.push_str("&req=");
        link.push_str(&url::form_urlencoded::byte_serialize(req.as_bytes()).collect::<String>());
    }
    let message =
        compose(state, purpose.email_kind(), user, Some(&link)).map_err(AccountError::Mail)?;
    Ok((token, prepare_outbox(state, purpose.as_str(), &message)))
}

/// The audit event of a link sent to `user`.
pub fn link_sent_event(caller: &Caller, user: &User, purpose: Purpose) -> Event {
    match purpose {
        Purpose::Invite => caller.event(kinds::USER_INVITED).detail("resent", true),
        Purpose::Reset => caller.event(kinds::PASSWORD_RESET_REQUESTED),
    }
    .user(&user.id)
}

/// Stores a new link for an existing user and queues its email.
pub async fn send_link(
    state: &AppState,
    caller: &Caller,
    user: &User,
    purpose: Purpose,
    continue_request: Option<&str>,
) -> Result<(), AccountError> {
    let (token, email) = prepare_link(state, user, purpose, continue_request)?;
    let event = link_sent_event(caller, user, purpose).at(token.created_at);
    state
        .store
        .insert_user_token(&token, &email, None, &[event])
        .await?;
    state.mail_wakeup.notify_one();
    Ok(())
}

/// Why a link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    Unknown,
    Used,
    Expired,
}

/// A link that can still be used, and whose user is enabled.
pub struct UsableLink {
    pub token: UserToken,
    pub user: User,
    pub purpose: Purpose,
}

/// Looks at a link without using it up (to show the form).
pub async fn inspect(
    state: &AppState,
    raw: &str,
) -> Result<Result<UsableLink, LinkProblem>, AccountError> {
    let Some(token) = state.store.user_token(&sha256_hex(raw.as_bytes())).await? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    usable(state, token).await
}

async fn usable(
    state: &AppState,
    token: UserToken,
) -> Result<Result<UsableLink, LinkProblem>, AccountError> {
    if token.used_at.is_some() {
        return Ok(Err(LinkProblem::Used));
    }
    if token.expires_at <= state.clock.now() {
        return Ok(Err(LinkProblem::Expired));
    }
    let purpose = Purpose::parse(&token.purpose).ok_or(LinkProblem::Unknown);
    let user = state
        .store
        .user_by_id(&token.user_id)
        .await?
        .filter(|u| !u.disabled);
    Ok(match (purpose, user) {
        (Ok(purpose), Some(user)) => Ok(UsableLink {
            token,
            user,
            purpose,
        }),
        _ => Err(LinkProblem::Unknown),
    })
}

/// "Send me a new link" from a used or expired link: a fresh link of the same kind goes to the
/// same account, if it still exists. The caller answers with the same neutral page either way.
pub async fn resend(state: &AppState, raw: &str) -> Result<(), AccountError> {
    let Some(old) = state.store.user_token(&sha256_hex(raw.as_bytes())).await? else {
        return Ok(());
    };
    let Some(purpose) = Purpose::parse(&old.purpose) else {
        return Ok(());
    };
    match state.store.user_by_id(&old.user_id).await? {
        Some(user) if !user.disabled => {
            // An invitation for someone who has meanwhile set a password becomes a reset link.
            let purpose = if user.password_hash.is_some() {
                Purpose::Reset
            } else {
                purpose
            };
            let caller = Caller::new(Actor::User(user.id.clone()));
            send_link(state, &caller, &user, purpose, None).await
        }
        _ => Ok(()),
    }
}

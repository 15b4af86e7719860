//! A user's passkeys in Mina uppgifter: adding one (after a recent login), naming, renaming and
//! removing them; never the last way to log in. The login with a passkey is `login::passkey`.

use serde_json::Value;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use crate::audit::{Event, kinds};
use crate::login::passkey::{
    self, PURPOSE_REGISTER, PasskeyError, credential_id_text, relying_party, rp_id_of,
};
use crate::login::sessions::ActiveSession;
use crate::state::AppState;
use crate::store::{PasskeyRemoval, StoreError, StoredPasskey};

/// Adding a passkey needs a login at most this old (any method): the same person, not someone
/// at an unlocked computer, adds a way into the account.
pub const RECENT_LOGIN_SECS: i64 = 15 * 60;
/// The longest name of a passkey, in characters.
pub const MAX_NAME_CHARS: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyAccountError {
    /// The login is older than [`RECENT_LOGIN_SECS`]: log in again first.
    #[error("a recent login is needed")]
    NotRecentLogin,
    #[error("invalid passkey name")]
    InvalidName,
    #[error("the last way to log in")]
    LastWayToLogIn,
    #[error("no such passkey")]
    NotFound,
    #[error("the passkey is registered already")]
    Duplicate,
    /// The authenticator's answer did not verify, or the ceremony is unknown or expired.
    #[error("registration refused")]
    Refused,
    #[error(transparent)]
    Passkey(PasskeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PasskeyError> for PasskeyAccountError {
    fn from(e: PasskeyError) -> Self {
        match e {
            PasskeyError::Store(e) => PasskeyAccountError::Store(e),
            PasskeyError::ChallengeUnknown | PasskeyError::Malformed | PasskeyError::Rejected => {
                PasskeyAccountError::Refused
            }
            other => PasskeyAccountError::Passkey(other),
        }
    }
}

impl PasskeyAccountError {
    /// The message a person sees, when it is something they can act on.
    pub fn message_key(&self) -> Option<&'static str> {
        Some(match self {
            PasskeyAccountError::InvalidName => "account-passkey-name-invalid",
            PasskeyAccountError::LastWayToLogIn => "account-passkey-last-way",
            PasskeyAccountError::NotFound => "account-passkey-not-found",
            PasskeyAccountError::Duplicate => "account-passkey-duplicate",
            PasskeyAccountError::Refused => "account-passkey-failed",
            PasskeyAccountError::Passkey(PasskeyError::Unavailable) => {
                "account-passkey-unsupported"
            }
            _ => return None,
        })
    }
}

/// Whether the session's login is recent enough to add a passkey.
pub fn recent_login(state: &AppState, active: &ActiveSession) -> bool {
    state.clock.now() - active.session.auth_time <= RECENT_LOGIN_SECS
}

/// A passkey's name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn validate_name(name: &str) -> Result<String, PasskeyAccountError> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PasskeyAccountError::InvalidName);
    }
    Ok(name.to_string())
}

/// Starts adding a passkey: the options for `navigator.credentials.create` (JSON) and the
/// challenge id. The user's passkeys are excluded (one authenticator, one passkey), and the
/// key must be discoverable (resident), since our login is usernameless.
pub async fn begin_registration(
    state: &AppState,
    active: &ActiveSession,
) -> Result<(String, Value), PasskeyAccountError> {
    if !recent_login(state, active) {
        return Err(PasskeyAccountError::NotRecentLogin);
    }
    let rp = relying_party(state)?;
    let user = &active.user;
    let existing = state.store.passkeys_of(&user.id).await?;
    let exclude = existing
        .iter()
        .filter_map(|p| serde_json::from_str::<webauthn_rs::prelude::Passkey>(&p.credential).ok())
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    let (options, ceremony) = rp
        .start_passkey_registration(
            passkey::user_handle(&user.id),
            &user.email,
            &user.name,
            Some(exclude),
        )
        .map_err(|e| PasskeyError::State(e.to_string()))?;
    let id = passkey::save_challenge(state, PURPOSE_REGISTER, Some(&user.id), &ceremony).await?;
    let mut options =
        serde_json::to_value(options).map_err(|e| PasskeyError::State(e.to_string()))?;
    // webauthn-rs asks for a resident key only as "discouraged"; a usernameless login needs one.
    options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
    Ok((id, options))
}

/// Finishes adding a passkey: the challenge must be this user's, the login still recent, and
/// the authenticator's answer must verify for our origin and relying-party id.
pub async fn finish_registration(
    state: &AppState,
    active: &ActiveSession,
    challenge_id: &str,
    response_json: &str,
    name: &str,
) -> Result<StoredPasskey, PasskeyAccountError> {
    let name = validate_name(name)?;
    if !recent_login(state, active) {
        return Err(PasskeyAccountError::NotRecentLogin);
    }
    let rp = relying_party(state)?;
    let challenge = passkey::take_challenge(state, challenge_id, PURPOSE_REGISTER).await?;
    if challenge.user_id.as_deref() != Some(active.user.id.as_str()) {
        return Err(PasskeyAccountError::Refused);
    }
    let ceremony: PasskeyRegistration =
        serde_json::from_str(&challenge.state).map_err(|e| PasskeyError::State(e.to_string()))?;
    let response: RegisterPublicKeyCredential =
        serde_json::from_str(response_json).map_err(|_| PasskeyAccountError::Refused)?;
    let key = rp
        .finish_passkey_registration(&response, &ceremony)
        .map_err(|e| {
            tracing::info!(user_id = %active.user.id, error = %e, "passkey registration refused");
            PasskeyAccountError::Refused
        })?;
    // The flags and counter of the attestation, read from the credential we keep (webauthn-rs
    // does not expose them otherwise); absent means 0 / false.
    let credential = serde_json::to_value(&key).map_err(|e| PasskeyError::State(e.to_string()))?;
    let flag = |name: &str| credential["cred"][name].as_bool().unwrap_or(false);
    let now = state.clock.now();
    let stored = StoredPasskey {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: active.user.id.clone(),
        credential_id: credential_id_text(key.cred_id().as_ref()),
        credential: credential.to_string(),
        rp_id: rp_id_of(&state.config.issuer).unwrap_or_default(),
        name,
        created_at: now,
        last_used_at: None,
        sign_count: credential["cred"]["counter"].as_i64().unwrap_or(0),
        backup_eligible: flag("backup_eligible"),
        backup_state: flag("backup_state"),
    };
    let event = Event::by_user(kinds::PASSKEY_ADDED, &active.user.id)
        .detail("passkey_id", stored.id.as_str())
        .detail("backup_eligible", stored.backup_eligible)
        .at(now);
    match state.store.insert_passkey(&stored, &[event]).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(PasskeyAccountError::Duplicate),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user_id = %active.user.id, passkey_id = %stored.id, "passkey added");
    Ok(stored)
}

/// Renames one of the user's passkeys.
pub async fn rename(
    state: &AppState,
    user_id: &str,
    passkey_id: &str,
    name: &str,
) -> Result<(), PasskeyAccountError> {
    let name = validate_name(name)?;
    let event = Event::by_user(kinds::PASSKEY_RENAMED, user_id)
        .detail("passkey_id", passkey_id)
        .at(state.clock.now());
    match state
        .store
        .rename_passkey(user_id, passkey_id, &name, &[event])
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(PasskeyAccountError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// Removes one of the user's passkeys, unless it is their last way to log in.
pub async fn remove(
    state: &AppState,
    user_id: &str,
    passkey_id: &str,
) -> Result<(), PasskeyAccountError> {
    let event = Event::by_user(kinds::PASSKEY_REMOVED, user_id)
        .detail("passkey_id", passkey_id)
        .at(state.clock.now());
    match state
        .store
        .remove_passkey(user_id, passkey_id, &[event])
        .await?
    {
        PasskeyRemoval::Removed => {
            tracing::info!(%user_id, %passkey_id, "passkey removed");
            Ok(())
        }
        PasskeyRemoval::NotFound => Err(PasskeyAccountError::NotFound),
        PasskeyRemoval::LastWayToLogIn => Err(PasskeyAccountError::LastWayToLogIn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::methods::Method;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  Jobbdatorn ").unwrap(), "Jobbdatorn");
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"x".repeat(61)).is_err());
        assert_eq!(validate_name(&"å".repeat(60)).unwrap().chars().count(), 60);
        assert!(validate_name("a\u{0}b").is_err());
    }

    #[tokio::test]
    async fn adding_needs_a_login_within_fifteen_minutes() {
        let kit = crate::testkit::TestKit::with_config(|c| {
            c.issuer = "http://localhost:8080".into();
        })
        .await;
        let user = kit.user("karin@example.se").await;
        let active = kit.session(&user, Method::Password).await;
        let (id, options) = begin_registration(&kit.state, &active).await.unwrap();
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
        assert_eq!(
            options["publicKey"]["authenticatorSelection"]["residentKey"],
            "required"
        );
        assert_eq!(options["publicKey"]["user"]["name"], "karin@example.se");
        kit.clock.advance(RECENT_LOGIN_SECS);
        assert!(
            recent_login(&kit.state, &active),
            "exactly 15 minutes is recent"
        );
        kit.clock.advance(1);
        assert!(matches!(
            begin_registration(&kit.state, &active).await,
            Err(PasskeyAccountError::NotRecentLogin)
        ));
        assert!(matches!(
            finish_registration(&kit.state, &active, &id, "{}", "Nyckel").await,
            Err(PasskeyAccountError::NotRecentLogin)
        ));
    }

    #[tokio::test]
    async fn another_users_challenge_or_a_garbled_answer_is_refused() {
        let kit = crate::testkit::TestKit::with_config(|c| {
            c.issuer = "http://localhost:8080".into();
        })
        .await;
        let karin = kit.user("karin@example.se").await;
        let bertil = kit.user("bertil@example.se").await;
        let karins = kit.session(&karin, Method::Password).await;
        let bertils = kit.session(&bertil, Method::Password).await;
        let (id, _) = begin_registration(&kit.state, &karins).await.unwrap();
        assert!(matches!(
            finish_registration(&kit.state, &bertils, &id, "{}", "Nyckel").await,
            Err(PasskeyAccountError::Refused)
        ));
        // Taken by the refused attempt: single use.
        assert!(matches!(
            finish_registration(&kit.state, &karins, &id, "{}", "Nyckel").await,
            Err(PasskeyAccountError::Refused)
        ));
        let (id, _) = begin_registration(&kit.state, &karins).await.unwrap();
        assert!(matches!(
            finish_registration(&kit.state, &karins, &id, "{\"id\":1}", "Nyckel").await,
            Err(PasskeyAccountError::Refused)
        ));
        assert!(
            kit.state
                .store
                .passkeys_of(&karin.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

//! The personnummer stored on an account: sealed with AES-256-GCM (the user id as associated
//! data), found through a keyed blind index, opened only to compare it with BankID's answer and to
//! release it as a claim once BankID has verified it.

use crate::crypto::CryptoError;
use crate::state::AppState;
use crate::store::{StoreError, StoredPersonnummer};

use super::personnummer::{Personnummer, PersonnummerError};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A stored number opened but is not a personnummer (written by a bug, or tampered with).
    #[error("the stored personnummer is not valid: {0}")]
    Invalid(PersonnummerError),
}

/// Today's date in Sweden, the reference for the 10-digit century rule.
pub fn today_in_sweden(state: &AppState) -> time::Date {
    // Sweden is UTC+1 or UTC+2; +1 h is right except for one hour around midnight in summer,
    // which only matters for someone turning exactly 100 that night.
    let now = time::OffsetDateTime::from_unix_timestamp(state.clock.now() + 3600)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    now.date()
}

pub fn blind_index(state: &AppState, personnummer: &Personnummer) -> String {
    state.blind_index.hash_hex(personnummer.as_str().as_bytes())
}

/// The user's personnummer, opened (for comparing with BankID), verified or not.
pub async fn personnummer_of(
    state: &AppState,
    user_id: &str,
) -> Result<Option<Personnummer>, IdentityError> {
    match state.store.personnummer_of(user_id).await? {
        Some(stored) => open(state, &stored).map(Some),
        None => Ok(None),
    }
}

/// The user's personnummer only if BankID has verified it for them: the only number an app
/// may receive as a claim. A typed-in number proves nothing about whose it is.
pub async fn verified_personnummer_of(
    state: &AppState,
    user_id: &str,
) -> Result<Option<Personnummer>, IdentityError> {
    match state.store.personnummer_of(user_id).await? {
        Some(stored) if stored.bankid_linked_at.is_some() => open(state, &stored).map(Some),
        _ => Ok(None),
    }
}

/// Opens a stored number (the row is already at hand).
pub fn open(state: &AppState, stored: &StoredPersonnummer) -> Result<Personnummer, IdentityError> {
    let user_id = &stored.user_id;
    let plain = state.secret_box.open(&stored.sealed, user_id.as_bytes())?;
    let text = String::from_utf8(plain)
        .map_err(|_| IdentityError::Invalid(PersonnummerError::InvalidFormat))?;
    Personnummer::parse(&text, today_in_sweden(state)).map_err(IdentityError::Invalid)
}

/// Moves every sealed personnummer to the active encryption key; returns how many were resealed.
pub async fn reencrypt_all(state: &AppState) -> Result<usize, IdentityError> {
    let active = state.secret_box.active_key_id().to_string();
    let mut moved = 0;
    for stored in state.store.list_personnummer().await? {
        if crate::crypto::SecretBox::key_id_of(&stored.sealed) == Some(active.as_str()) {
            continue;
        }
        let plain = state
            .secret_box
            .open(&stored.sealed, stored.user_id.as_bytes())?;
        let sealed =
            state
                .secret_box
                .seal(state.entropy.as_ref(), &plain, stored.user_id.as_bytes());
        state
            .store
            .reseal_personnummer(&stored.user_id, &sealed)
            .await?;
        moved += 1;
    }
    Ok(moved)
}

//! The personnummer on an account: added, changed or removed in Mina uppgifter (after the
//! password is confirmed again), stored sealed with the user id as associated data, and found
//! again through its keyed blind index.

use crate::login::password::{AttemptSource, LoginError, verify_password_login};
use crate::login::sessions::ActiveSession;
use crate::state::AppState;
use crate::store::StoredPersonnummer;

use super::AccountError;
use super::personnummer::Personnummer;

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
) -> Result<Option<Personnummer>, AccountError> {
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
) -> Result<Option<Personnummer>, AccountError> {
    match state.store.personnummer_of(user_id).await? {
        Some(stored) if stored.bankid_linked_at.is_some() => open(state, &stored).map(Some),
        _ => Ok(None),
    }
}

fn open(state: &AppState, stored: &StoredPersonnummer) -> Result<Personnummer, AccountError> {
    let user_id = &stored.user_id;
    let plain = state.secret_box.open(&stored.sealed, user_id.as_bytes())?;
    let text =
        String::from_utf8(plain).map_err(|_| AccountError::Rejected("pnr-invalid-format"))?;
    Personnummer::parse(&text, today_in_sweden(state))
        .map_err(|e| AccountError::Rejected(e.message_key()))
}

async fn confirm_password(
    state: &AppState,
    active: &ActiveSession,
    password: &str,
    source: AttemptSource<'_>,
) -> Result<(), AccountError> {
    match verify_password_login(state, &active.user.email, password, source).await {
        Ok(login) if login.user.id == active.user.id => Ok(()),
        Err(LoginError::Throttled) => Err(AccountError::Throttled),
        Err(LoginError::Store(e)) => Err(e.into()),
        Err(LoginError::Crypto(e)) => Err(e.into()),
        _ => Err(AccountError::Rejected("current-password-wrong")),
    }
}

/// Adds or changes the personnummer (this unlinks BankID: the new number must be proven).
pub async fn set(
    state: &AppState,
    active: &ActiveSession,
    input: &str,
    password: &str,
    source: AttemptSource<'_>,
) -> Result<(), AccountError> {
    let personnummer = Personnummer::parse(input, today_in_sweden(state))
        .map_err(|e| AccountError::Rejected(e.message_key()))?;
    confirm_password(state, active, password, source).await?;
    let user_id = &active.user.id;
    let stored = StoredPersonnummer {
        user_id: user_id.clone(),
        sealed: state.secret_box.seal(
            state.entropy.as_ref(),
            personnummer.as_str().as_bytes(),
            user_id.as_bytes(),
        ),
        blind_index: blind_index(state, &personnummer),
        bankid_linked_at: None,
        updated_at: state.clock.now(),
    };
    // Saved unverified, even if another account holds the same number: the answer never says
    // whether a number has an account here, and BankID later decides whose it is.
    state.store.set_personnummer(&stored).await?;
    tracing::info!(user_id = %user_id, "personnummer saved");
    Ok(())
}

/// Removes the personnummer, and with it the BankID link.
pub async fn remove(
    state: &AppState,
    active: &ActiveSession,
    password: &str,
    source: AttemptSource<'_>,
) -> Result<(), AccountError> {
    confirm_password(state, active, password, source).await?;
    state.store.delete_personnummer(&active.user.id).await?;
    tracing::info!(user_id = %active.user.id, "personnummer removed");
    Ok(())
}

/// Moves every sealed personnummer to the active encryption key; returns how many were resealed.
pub async fn reencrypt_all(state: &AppState) -> Result<usize, AccountError> {
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

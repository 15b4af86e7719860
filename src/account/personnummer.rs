//! The personnummer in Mina uppgifter: added, changed or removed after the password is confirmed
//! again; stored sealed (see `identity::sealed`).

use crate::audit::{Event, kinds};
use crate::login::password::{AttemptSource, LoginError, verify_password_login};
use crate::login::sessions::ActiveSession;
use crate::state::AppState;
use crate::store::StoredPersonnummer;

use super::AccountError;
use crate::identity::personnummer::Personnummer;
use crate::identity::sealed::{blind_index, today_in_sweden};

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
    let mut events = vec![Event::by_user(kinds::PERSONNUMMER_ADDED, user_id).at(stored.updated_at)];
    // A new number must be proven again: a link BankID had made goes.
    let was_linked = state
        .store
        .personnummer_of(user_id)
        .await?
        .is_some_and(|p| p.bankid_linked_at.is_some());
    if was_linked {
        events.push(Event::by_user(kinds::BANKID_UNLINKED, user_id).at(stored.updated_at));
    }
    state.store.set_personnummer(&stored, &events).await?;
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
    let now = state.clock.now();
    let mut events = vec![Event::by_user(kinds::PERSONNUMMER_REMOVED, &active.user.id).at(now)];
    let linked = state
        .store
        .personnummer_of(&active.user.id)
        .await?
        .is_some_and(|p| p.bankid_linked_at.is_some());
    if linked {
        events.push(Event::by_user(kinds::BANKID_UNLINKED, &active.user.id).at(now));
    }
    state
        .store
        .delete_personnummer(&active.user.id, &events)
        .await?;
    tracing::info!(user_id = %active.user.id, "personnummer removed");
    Ok(())
}

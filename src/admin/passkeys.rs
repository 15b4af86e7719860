//! A user's passkeys for operators (the CLI and the admin API): list them, remove one (a lost
//! device, a suspected clone). Removing the last way to log in is refused here too: disable the
//! user instead.

use serde::Serialize;

use crate::audit::{Caller, kinds};
use crate::state::AppState;
use crate::store::{PasskeyRemoval, StoredPasskey};

use super::AdminError;
use super::users::find;

/// A passkey as operators see it: never the credential itself.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PasskeyView {
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The authenticator's signature counter at the last accepted use (0: it keeps none).
    pub sign_count: i64,
    /// The key may be synced to other devices (WebAuthn's BE flag): `amr` `swk`, else `hwk`.
    pub backup_eligible: bool,
    /// It was backed up (synced) at its last use (the BS flag).
    pub backup_state: bool,
}

impl From<&StoredPasskey> for PasskeyView {
    fn from(p: &StoredPasskey) -> Self {
        PasskeyView {
            id: p.id.clone(),
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            sign_count: p.sign_count,
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
        }
    }
}

/// The passkeys of the user `id` (an id or an email), oldest first.
pub async fn list(state: &AppState, id: &str) -> Result<Vec<PasskeyView>, AdminError> {
    let user = find(state, id).await?;
    Ok(state
        .store
        .passkeys_of(&user.id)
        .await?
        .iter()
        .map(PasskeyView::from)
        .collect())
}

/// Removes one of the user's passkeys, audited with the caller as actor.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    id: &str,
    passkey_id: &str,
) -> Result<(), AdminError> {
    let user = find(state, id).await?;
    let event = caller
        .event(kinds::PASSKEY_REMOVED)
        .user(&user.id)
        .detail("passkey_id", passkey_id)
        .at(state.clock.now());
    match state
        .store
        .remove_passkey(&user.id, passkey_id, &[event])
        .await?
    {
        PasskeyRemoval::Removed => Ok(()),
        PasskeyRemoval::NotFound => Err(AdminError::NotFound(format!(
            "the user has no passkey {passkey_id:?}"
        ))),
        PasskeyRemoval::LastWayToLogIn => Err(AdminError::Conflict(
            "it is the user's last way to log in (no password, no BankID, no other passkey); \
             disable the user instead"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str, user_id: &str, created_at: i64) -> StoredPasskey {
        StoredPasskey {
            id: id.into(),
            user_id: user_id.into(),
            credential_id: format!("cred-{id}"),
            credential: "{}".into(),
            rp_id: "localhost".into(),
            name: format!("Key {id}"),
            created_at,
            last_used_at: None,
            sign_count: 3,
            backup_eligible: true,
            backup_state: true,
        }
    }

    #[tokio::test]
    async fn operators_list_and_remove_but_never_the_last_way_in() {
        let kit = crate::testkit::TestKit::new().await;
        let user = kit.user("karin@example.se").await;
        for (id, at) in [("p1", 1), ("p2", 2)] {
            kit.state
                .store
                .insert_passkey(&stored(id, &user.id, at), &[])
                .await
                .unwrap();
        }
        let listed = list(&kit.state, "karin@example.se").await.unwrap();
        assert_eq!(
            listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["p1", "p2"]
        );
        let json = serde_json::to_value(&listed[0]).unwrap();
        assert!(json.get("credential").is_none(), "{json}");
        let operator = Caller::system();
        assert!(matches!(
            remove(&kit.state, &operator, &user.id, "p9").await,
            Err(AdminError::NotFound(_))
        ));
        remove(&kit.state, &operator, &user.id, "p1").await.unwrap();
        // The kit's user has no password and no BankID: the last passkey stays.
        assert!(matches!(
            remove(&kit.state, &operator, &user.id, "p2").await,
            Err(AdminError::Conflict(_))
        ));
        assert_eq!(list(&kit.state, &user.id).await.unwrap().len(), 1);
        assert!(matches!(
            list(&kit.state, "nobody@example.se").await,
            Err(AdminError::NotFound(_))
        ));
    }
}

//! Signing-key administration.

use crate::audit::Caller;
use crate::keys::KeyInfo;
use crate::state::AppState;

use super::AdminError;

pub async fn list(state: &AppState) -> Result<Vec<KeyInfo>, AdminError> {
    Ok(state.keys.list().await?)
}

/// Publishes new keys that start signing after `keys.publish_ahead` seconds.
pub async fn rotate(state: &AppState, caller: &Caller) -> Result<Vec<String>, AdminError> {
    let keys = &state.config.keys;
    Ok(state
        .keys
        .rotate(
            state.entropy.as_ref(),
            keys.publish_ahead,
            keys.keep_published,
            caller,
        )
        .await?)
}

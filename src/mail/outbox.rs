//! Putting messages into the outbox: sealed with the secret box (a message may carry a link
//! token, which must not sit readable in the database), keyed to its row id.

use crate::crypto::CryptoError;
use crate::state::AppState;
use crate::store::OutboxEmail;

use super::EmailMessage;

/// The outbox row for a message, ready to be written in the caller's transaction.
pub fn prepare(state: &AppState, kind: &str, message: &EmailMessage) -> OutboxEmail {
    let id = uuid::Uuid::now_v7().to_string();
    let json = serde_json::to_vec(message).unwrap_or_default();
    let now = state.clock.now();
    OutboxEmail {
        sealed_message: state
            .secret_box
            .seal(state.entropy.as_ref(), &json, id.as_bytes()),
        id,
        recipient: message.to.clone(),
        kind: kind.to_string(),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
    }
}

/// The message inside an outbox row.
pub fn open(state: &AppState, email: &OutboxEmail) -> Result<EmailMessage, CryptoError> {
    let json = state
        .secret_box
        .open(&email.sealed_message, email.id.as_bytes())?;
    serde_json::from_slice(&json)
        .map_err(|e| CryptoError::Internal(format!("outbox message {}: {e}", email.id)))
}

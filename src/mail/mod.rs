//! Email delivery: the message as it is handed over, and the transports that deliver it (SMTP,
//! a file outbox for development, in-memory for tests). What the emails say is the account's
//! business (`account::emails`); the outbox worker is in `workers`.

pub mod transport;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A rendered email, as sealed into the outbox and handed to a transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    pub to: String,
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The language the message was written in (`sv` or `en`).
    pub locale: String,
    /// A link the development file outbox logs, so a new user can follow it without a mail server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_link: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying later (connection refused, 4xx reply, timeout).
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Retrying will not help (5xx reply, invalid address).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Delivers one message. Implementations: SMTP, file outbox, in-memory.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, from: &str, message: &EmailMessage) -> Result<(), MailError>;
    /// For the start-up log: where email goes.
    fn describe(&self) -> String;
}

//! Mail transports, chosen by `mail.transport`.

mod file;
mod memory;
mod smtp;

use std::sync::Arc;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use crate::config::Config;

pub use file::FileMailer;
pub use memory::MemoryMailer;
pub use smtp::SmtpMailer;

use super::{EmailMessage, MailError, Mailer};

pub fn from_config(config: &Config) -> Result<Arc<dyn Mailer>, String> {
    match config.mail.transport.as_str() {
        "file" => Ok(Arc::new(FileMailer::new(config.outbox_dir()))),
        "smtp" => Ok(Arc::new(SmtpMailer::from_config(&config.mail)?)),
        other => Err(format!("unknown mail.transport {other:?}")),
    }
}

/// A multipart/alternative (text + HTML) MIME message.
pub fn mime_message(from: &str, message: &EmailMessage) -> Result<Message, MailError> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| MailError::Permanent(format!("bad from address: {e}")))?;
    let to_address = message
        .to
        .parse()
        .map_err(|e| MailError::Permanent(format!("bad recipient address: {e}")))?;
    let to = Mailbox::new(
        (!message.to_name.is_empty()).then(|| message.to_name.clone()),
        to_address,
    );
    Message::builder()
        .from(from)
        .to(to)
        .subject(&message.subject)
        .multipart(MultiPart::alternative_plain_html(
            message.text.clone(),
            message.html.clone(),
        ))
        .map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
}

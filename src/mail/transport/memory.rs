//! An in-memory transport for unit tests.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::super::{EmailMessage, MailError, Mailer};

#[derive(Clone, Default)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<EmailMessage>>>,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<EmailMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, _from: &str, message: &EmailMessage) -> Result<(), MailError> {
        self.sent
            .lock()
            .map_err(|_| MailError::Transient("mailbox lock poisoned".into()))?
            .push(message.clone());
        Ok(())
    }

    fn describe(&self) -> String {
        "in-memory (tests)".into()
    }
}

//! The development transport: each message becomes an `.eml` file, and its link is logged, so a
//! new user can follow an invitation without a mail server.

use std::path::PathBuf;

use async_trait::async_trait;

use super::super::{EmailMessage, MailError, Mailer};
use super::mime_message;

pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    pub fn new(dir: PathBuf) -> Self {
        FileMailer { dir }
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, from: &str, message: &EmailMessage) -> Result<(), MailError> {
        let mime = mime_message(from, message)?;
        let name = format!("{}.eml", uuid::Uuid::now_v7());
        let path = self.dir.join(name);
        // The messages carry links that log people in: only the server's user may read them.
        let (dir, file) = (self.dir.clone(), path.clone());
        tokio::task::spawn_blocking(move || {
            crate::private_files::create_dir(&dir)?;
            crate::private_files::write_new(&file, &mime.formatted())
        })
        .await
        .map_err(|e| MailError::Transient(format!("cannot write {}: {e}", path.display())))?
        .map_err(|e| MailError::Transient(format!("cannot write {}: {e}", path.display())))?;
        // Development only: the file outbox is the embedded default, never production delivery.
        tracing::info!(
            to = %message.to,
            subject = %message.subject,
            file = %path.display(),
            link = message.action_link.as_deref().unwrap_or("-"),
            "email written to the development outbox"
        );
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "files in {} (development outbox; links are logged)",
            self.dir.display()
        )
    }
}

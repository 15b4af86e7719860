//! SMTP delivery through lettre: STARTTLS, implicit TLS or plain, with optional authentication.

use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::MailConfig;

use super::super::{EmailMessage, MailError, Mailer};
use super::mime_message;

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    description: String,
}

impl SmtpMailer {
    pub fn from_config(config: &MailConfig) -> Result<Self, String> {
        let host = config.smtp_host.as_str();
        let mut builder = match config.smtp_tls.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| format!("mail.smtp_host: {e}"))?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| format!("mail.smtp_host: {e}"))?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        builder = builder
            .port(config.smtp_port)
            .timeout(Some(Duration::from_secs(config.smtp_timeout)));
        if !config.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.smtp_username.clone(),
                config.smtp_password.clone(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            description: format!("SMTP {}:{} ({})", host, config.smtp_port, config.smtp_tls),
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, from: &str, message: &EmailMessage) -> Result<(), MailError> {
        let mime = mime_message(from, message)?;
        match self.transport.send(mime).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

//! The emails of an account's life (welcome, reset link, password changed, personnummer removed):
//! composed from templates (`templates/emails/<kind>.html` and `.txt`) in the recipient's
//! language, and sealed into the outbox (a message may carry a link token, which must not sit
//! readable in the database), to be written in the transaction of the change that causes it.

use minijinja::context;

use crate::crypto::CryptoError;
use crate::mail::EmailMessage;
use crate::state::AppState;
use crate::store::{OutboxEmail, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    /// The welcome email with a link to choose a password.
    Invite,
    /// A password reset link.
    Reset,
    /// "Ditt lösenord har ändrats".
    PasswordChanged,
    /// The personnummer typed in on this account was verified by its holder on another account
    /// and removed here (the email never names the number).
    PersonnummerRemoved,
}

impl EmailKind {
    /// The template name, also the outbox row's `kind`.
    pub fn template(self) -> &'static str {
        match self {
            EmailKind::Invite => "invite",
            EmailKind::Reset => "reset",
            EmailKind::PasswordChanged => "password_changed",
            EmailKind::PersonnummerRemoved => "personnummer_removed",
        }
    }
}

pub fn compose(
    state: &AppState,
    kind: EmailKind,
    user: &User,
    link: Option<&str>,
) -> Result<EmailMessage, String> {
    let lang = if user.locale == "en" { "en" } else { "sv" };
    let branding = &state.config.branding;
    let account = &state.config.account;
    let context = context! {
        lang => lang,
        name => user.name.clone(),
        email => user.email.clone(),
        link => link,
        product_name => branding.product_name.clone(),
        support_email => branding.support_email.clone(),
        help_url => branding.help_url.clone(),
        bankid_help_url => branding.bankid_help_url.clone(),
        password_help_url => branding.password_help_url.clone(),
        portal_url => branding.portal_url.clone(),
        account_url => format!("{}/account", state.config.issuer),
        forgot_url => format!("{}/password/forgot", state.config.issuer),
        invite_days => account.invite_ttl / 86_400,
        reset_minutes => account.reset_ttl / 60,
    };
    let name = kind.template();
    let subject = state
        .templates
        .text(lang, &format!("email-{}-subject", name.replace('_', "-")));
    Ok(EmailMessage {
        to: user.email.clone(),
        to_name: user.name.clone(),
        subject,
        text: state
            .templates
            .render(&format!("emails/{name}.txt"), context.clone())?,
        html: state
            .templates
            .render(&format!("emails/{name}.html"), context)?,
        locale: lang.to_string(),
        action_link: link.map(str::to_string),
    })
}

/// The outbox row for a message, ready to be written in the caller's transaction.
pub fn prepare_outbox(state: &AppState, kind: &str, message: &EmailMessage) -> OutboxEmail {
    let id = uuid::Uuid::now_v7().to_string();
    let now = state.clock.now();
    OutboxEmail {
        sealed_message: state
            .secret_box
            .seal_json(state.entropy.as_ref(), message, id.as_bytes()),
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
pub fn open_outbox(state: &AppState, email: &OutboxEmail) -> Result<EmailMessage, CryptoError> {
    state
        .secret_box
        .open_json(&email.sealed_message, email.id.as_bytes())
}

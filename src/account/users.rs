//! A user as operators see it, and what an email address must look like.

use serde::Serialize;

use crate::login::password::normalize_email;
use crate::store::User;

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub locale: String,
    pub disabled: bool,
    pub has_password: bool,
    pub created_at: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            locale: u.locale.clone(),
            disabled: u.disabled,
            has_password: u.password_hash.is_some(),
            created_at: u.created_at,
        }
    }
}

/// The address normalised (trimmed, lower-cased), if it can be one.
pub fn valid_email(email: &str) -> Option<String> {
    let email = normalize_email(email);
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && email.len() <= 254
        }
        None => false,
    };
    valid.then_some(email)
}

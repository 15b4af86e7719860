//! Mina uppgifter and the account lifecycle: invitations, password resets and changes.

pub mod bankid_link;
pub mod change_password;
pub mod emails;
pub mod invitations;
pub mod links;
pub mod names;
pub mod passkeys;
pub mod password_policy;
pub mod personnummer;
pub mod reset;
pub mod users;

#[cfg(test)]
mod tests;

use crate::crypto::CryptoError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Something the person can fix; the key names the message in the locale files.
    #[error("{0}")]
    Rejected(&'static str),
    #[error("too many requests")]
    Throttled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("email: {0}")]
    Mail(String),
    #[error(transparent)]
    Identity(#[from] crate::identity::sealed::IdentityError),
}

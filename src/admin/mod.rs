//! Administration: the service functions the CLI uses today and the admin API will use later.

pub mod clients;
pub mod keys;
pub mod users;

use crate::crypto::CryptoError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database: {0}")]
    Store(StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<crate::keys::KeyError> for AdminError {
    fn from(e: crate::keys::KeyError) -> Self {
        match e {
            crate::keys::KeyError::Store(e) => e.into(),
            crate::keys::KeyError::Crypto(e) => e.into(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AdminError::Conflict(what),
            other => AdminError::Store(other),
        }
    }
}

//! Our own failures, as opposed to what a client or a person did wrong: logged with the request
//! id, never shown. Every layer's error that is not the caller's fault ends up here, keeping its
//! cause, so the one place that renders errors can still tell "the database is away" (a 503 with
//! `Retry-After`) from a bug (a 500).

use crate::crypto::CryptoError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    /// Any other error of ours, cause kept.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl InternalError {
    /// Wraps another layer's error, keeping it as the cause.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        InternalError::Other(Box::new(error))
    }
}

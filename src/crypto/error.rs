//! The one error type of the crypto layer.
//!
//! Messages name key ids, algorithms and what went wrong, never key material, plaintexts,
//! passwords or tokens.

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// JOSE library failure (key generation, parsing, signing).
    #[error("JOSE error: {0}")]
    Jose(String),
    /// Sealed data or a token names a key id we do not hold.
    #[error("unknown key id: {0}")]
    UnknownKeyId(String),
    /// Sealed data failed authentication (wrong key, wrong AAD, tampering or truncation).
    #[error("decryption failed")]
    Decrypt,
    /// A configured or stored key is unusable.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// Password hashing failed or a stored hash is malformed.
    #[error("password hashing: {0}")]
    Password(String),
    /// A JWS is malformed or its signature does not verify.
    #[error("invalid signature: {0}")]
    Signature(String),
    /// No key of this algorithm can sign right now.
    #[error("no signing key for {0}")]
    NoSigningKey(String),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

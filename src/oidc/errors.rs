//! Protocol errors, each shaped the way its RFC says it must reach the client.

use crate::crypto::CryptoError;
use crate::error::InternalError;
use crate::store::StoreError;

/// Errors shown to the person as a page and never sent to a redirect URI, because the
/// redirect URI could not be verified (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    MissingClientId,
    UnknownClient,
    MissingRedirectUri,
    UnregisteredRedirectUri,
    /// The login request was not found or has expired.
    RequestExpired,
    /// The form's CSRF token did not match.
    InvalidCsrf,
    BadRequest,
}

impl PageError {
    /// The message key in `templates/locales/*/main.ftl`.
    pub fn message_key(self) -> &'static str {
        match self {
            PageError::MissingClientId => "error-missing-client-id",
            PageError::UnknownClient => "error-unknown-client",
            PageError::MissingRedirectUri => "error-missing-redirect-uri",
            PageError::UnregisteredRedirectUri => "error-unregistered-redirect-uri",
            PageError::RequestExpired => "error-request-expired",
            PageError::InvalidCsrf => "error-invalid-csrf",
            PageError::BadRequest => "error-bad-request",
        }
    }
}

/// An authorization-endpoint failure.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    #[error("error page: {0:?}")]
    Page(PageError),
    /// Sent back to the verified redirect URI as `error`, `error_description`, `state`, `iss`.
    #[error("{error}: {description}")]
    Redirect {
        target: super::response::RedirectTarget,
        error: &'static str,
        description: String,
    },
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl From<StoreError> for AuthorizeError {
    fn from(e: StoreError) -> Self {
        AuthorizeError::Internal(e.into())
    }
}

impl From<CryptoError> for AuthorizeError {
    fn from(e: CryptoError) -> Self {
        AuthorizeError::Internal(e.into())
    }
}

/// A token-endpoint (and revocation/introspection) error: JSON per RFC 6749 §5.2.
#[derive(Debug, thiserror::Error)]
#[error("{error}: {description}")]
pub struct TokenError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    /// The internal cause for the log, when the error is ours (status 500).
    pub internal: Option<String>,
    /// A nonce for the client's next DPoP proof (`DPoP-Nonce`, RFC 9449 §8).
    pub dpop_nonce: Option<String>,
}

impl TokenError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        TokenError {
            status,
            error,
            description: description.into(),
            internal: None,
            dpop_nonce: None,
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", description)
    }
    /// 401 with `WWW-Authenticate` (the web layer adds the header for this status).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(401, "invalid_client", description)
    }
    /// A refused DPoP proof at the token endpoint (RFC 9449 §5.2, §8).
    pub fn dpop(error: super::dpop::ProofError) -> Self {
        match error {
            super::dpop::ProofError::Invalid(why) => Self::new(
                400,
                "invalid_dpop_proof",
                format!("The DPoP proof is invalid: {why}."),
            ),
            super::dpop::ProofError::UseNonce { nonce } => TokenError {
                dpop_nonce: Some(nonce),
                ..Self::new(
                    400,
                    "use_dpop_nonce",
                    "The DPoP proof must carry the nonce given in the DPoP-Nonce header.",
                )
            },
        }
    }
}

impl<E: Into<InternalError>> From<E> for TokenError {
    fn from(e: E) -> Self {
        let internal: InternalError = e.into();
        if crate::store::unavailable_in_chain(&internal) {
            // The database is out of reach: nothing the client did, and worth a retry.
            return TokenError {
                status: 503,
                error: "temporarily_unavailable",
                description: "The server is temporarily unavailable. Try again shortly.".into(),
                internal: Some(internal.to_string()),
                dpop_nonce: None,
            };
        }
        TokenError {
            status: 500,
            error: "server_error",
            description: "The server could not complete the request.".into(),
            internal: Some(internal.to_string()),
            dpop_nonce: None,
        }
    }
}

/// A protected-resource (UserInfo) error per RFC 6750 §3.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("no access token")]
    Missing,
    #[error("invalid_token: {0}")]
    InvalidToken(&'static str),
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// `invalid_token` in a `DPoP` challenge (RFC 9449 §7.1): the request used the DPoP scheme,
    /// or a DPoP-bound token came as a bearer token.
    #[error("invalid_token (DPoP): {0}")]
    DpopToken(&'static str),
    /// `invalid_dpop_proof` in a `DPoP` challenge.
    #[error("invalid_dpop_proof: {0}")]
    DpopProof(&'static str),
    /// `use_dpop_nonce` in a `DPoP` challenge, with the nonce for `DPoP-Nonce` (RFC 9449 §9).
    #[error("use_dpop_nonce")]
    DpopNonce(String),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl BearerError {
    pub fn from_presenter(error: super::sender_constraint::PresenterError) -> Self {
        use super::dpop::ProofError;
        use super::sender_constraint::PresenterError;
        match error {
            PresenterError::Token(why) => BearerError::DpopToken(why),
            PresenterError::Proof(ProofError::Invalid(why)) => BearerError::DpopProof(why),
            PresenterError::Proof(ProofError::UseNonce { nonce }) => BearerError::DpopNonce(nonce),
            PresenterError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for BearerError {
    fn from(e: StoreError) -> Self {
        BearerError::Internal(e.into())
    }
}

impl From<CryptoError> for BearerError {
    fn from(e: CryptoError) -> Self {
        BearerError::Internal(e.into())
    }
}

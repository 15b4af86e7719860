//! Administration: the service functions behind the admin API, the CLI and the console.
//! Every write takes the [`Caller`](crate::audit::Caller) it is audited as.

pub mod activity_chart;
pub mod audit_trail;
pub mod bulk_invite;
pub mod clients;
pub mod csv;
pub mod keys;
pub mod overview;
pub mod pages;
pub mod passkeys;
pub mod roles;
pub mod users;
pub mod work_queues;

use serde::Serialize;

use crate::crypto::CryptoError;
use crate::store::StoreError;

/// What the admin API is called as: the audience its tokens must carry.
pub fn api_audience(issuer: &str) -> String {
    format!("{}/admin/api", issuer.trim_end_matches('/'))
}

/// One thing wrong with a request, by the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// The field (JSON member or query parameter), e.g. `email`.
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldProblem>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database: {0}")]
    Store(StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("email: {0}")]
    Mail(String),
}

fn describe(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AdminError {
    /// A request refused for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> AdminError {
        AdminError::Invalid(vec![FieldProblem {
            field: field.into(),
            message: message.into(),
        }])
    }
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

impl From<crate::account::AccountError> for AdminError {
    fn from(e: crate::account::AccountError) -> Self {
        use crate::account::AccountError;
        match e {
            AccountError::Rejected(key) => AdminError::invalid("request", key),
            AccountError::Throttled => AdminError::Conflict("too many requests".into()),
            AccountError::Store(e) => e.into(),
            AccountError::Crypto(e) => e.into(),
            AccountError::Mail(e) => AdminError::Mail(e),
            AccountError::Identity(e) => AdminError::Mail(e.to_string()),
        }
    }
}

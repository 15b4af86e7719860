//! The UserInfo endpoint (OpenID Connect Core §5.3), a protected resource per RFC 6750.

use serde_json::{Map, Value};

use crate::state::AppState;

use super::claims::userinfo_claims;
use super::errors::BearerError;
use super::tokens::{AccessTokenError, verify_access_token};

/// Where the request carried its access token.
#[derive(Debug, Default)]
pub struct PresentedToken {
    /// The credentials of an `Authorization: Bearer` header (scheme matched case-insensitively).
    pub header: Option<String>,
    /// `access_token` from a form-encoded POST body (RFC 6750 §2.2).
    pub form: Option<String>,
}

impl PresentedToken {
    pub fn bearer_from_header(header: &str) -> Option<String> {
        let (scheme, value) = header.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| value.trim().to_string())
    }
}

pub async fn userinfo(
    state: &AppState,
    presented: PresentedToken,
) -> Result<Map<String, Value>, BearerError> {
    let token = match (presented.header, presented.form) {
        (Some(_), Some(_)) => {
            return Err(BearerError::InvalidRequest("more than one access token"));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(BearerError::Missing),
    };
    let verified = verify_access_token(state, &token)
        .await
        .map_err(|e| match e {
            AccessTokenError::Invalid(why) => BearerError::InvalidToken(why),
            AccessTokenError::Store(e) => e.into(),
        })?;
    let user = &verified.user;
    let scopes: Vec<&str> = verified.scope.split(' ').collect();
    let requested =
        super::claims::RequestedClaims::from_stored(verified.grant.requested_claims.as_deref());
    let mut claims = userinfo_claims(user, &scopes, &requested.userinfo);
    // The personnummer only for a client allowed the dedicated scope that asked for it (the
    // grant's scope is already limited to what the client is allowed), and only once BankID has
    // verified it for this user.
    if state.config.bankid.enabled()
        && scopes.contains(&state.config.bankid.personnummer_scope.as_str())
    {
        let personnummer = crate::identity::sealed::verified_personnummer_of(state, &user.id)
            .await
            .map_err(|e| BearerError::Internal(crate::error::InternalError::other(e)))?;
        if let Some(personnummer) = personnummer {
            claims.insert(
                super::scopes::PERSONNUMMER_CLAIM.into(),
                personnummer.as_str().into(),
            );
        }
    }
    Ok(claims)
}

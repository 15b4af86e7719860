//! The UserInfo endpoint (OpenID Connect Core §5.3), a protected resource per RFC 6750.

use serde_json::{Map, Value};

use crate::state::AppState;

use super::claims::userinfo_claims;
use super::dpop::PresentedProof;
use super::errors::BearerError;
use super::sender_constraint::{Presentation, Scheme, check_presenter};
use super::tokens::{AccessTokenError, verify_access_token};

/// Where the request carried its access token, and how.
#[derive(Debug, Default)]
pub struct PresentedToken {
    /// The credentials of an `Authorization: Bearer` or `Authorization: DPoP` header (scheme
    /// matched case-insensitively).
    pub header: Option<String>,
    /// The header's scheme.
    pub scheme: Scheme,
    /// `access_token` from a form-encoded POST body (RFC 6750 §2.2).
    pub form: Option<String>,
    /// The request's `DPoP` header(s).
    pub dpop: PresentedProof,
    /// The request's method, for the proof's `htm`.
    pub method: String,
}

impl PresentedToken {
    /// The token of an `Authorization` header with the `Bearer` scheme.
    pub fn bearer_from_header(header: &str) -> Option<String> {
        Self::token_from_header(header)
            .filter(|(scheme, _)| *scheme == Scheme::Bearer)
            .map(|(_, token)| token)
    }

    /// The scheme and token of an `Authorization` header with the `Bearer` or `DPoP` scheme.
    pub fn token_from_header(header: &str) -> Option<(Scheme, String)> {
        let (scheme, value) = header.trim().split_once(' ')?;
        let scheme = if scheme.eq_ignore_ascii_case("bearer") {
            Scheme::Bearer
        } else if scheme.eq_ignore_ascii_case("dpop") {
            Scheme::Dpop
        } else {
            return None;
        };
        Some((scheme, value.trim().to_string()))
    }
}

pub async fn userinfo(
    state: &AppState,
    presented: PresentedToken,
) -> Result<Map<String, Value>, BearerError> {
    let (scheme, token) = match (presented.header, presented.form) {
        (Some(_), Some(_)) => {
            return Err(BearerError::InvalidRequest("more than one access token"));
        }
        (Some(t), None) => (presented.scheme, t),
        (None, Some(t)) => (Scheme::Bearer, t),
        (None, None) => return Err(BearerError::Missing),
    };
    let dpop = scheme == Scheme::Dpop;
    let verified = verify_access_token(state, &token)
        .await
        .map_err(|e| match e {
            AccessTokenError::Invalid(why) if dpop => BearerError::DpopToken(why),
            AccessTokenError::Invalid(why) => BearerError::InvalidToken(why),
            AccessTokenError::Store(e) => e.into(),
        })?;
    let url = super::discovery::endpoint(&state.config, "/userinfo");
    let presentation = Presentation {
        scheme,
        token: &token,
        proof: &presented.dpop,
        method: &presented.method,
        url: &url,
    };
    check_presenter(state, &verified.claims, &presentation)
        .await
        .map_err(BearerError::from_presenter)?;
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

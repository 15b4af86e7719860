//! At a protected resource (UserInfo, and introspection for a resource server that forwards what
//! it received): does the presenter of an access token hold the key the token is bound to
//! (RFC 9449 §7)?

use serde_json::{Map, Value};

use crate::state::AppState;
use crate::store::StoreError;

use super::dpop::{PresentedProof, ProofContext, ProofError};
use super::tokens::bound_key;

/// The authorization scheme the token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// `Authorization: Bearer`, or the token in a form body (RFC 6750).
    #[default]
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1).
    Dpop,
}

/// An access token as a resource received it, with what a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct Presentation<'a> {
    pub scheme: Scheme,
    pub token: &'a str,
    pub proof: &'a PresentedProof,
    pub method: &'a str,
    /// The resource's URL, without query or fragment.
    pub url: &'a str,
}

/// Why the presenter was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PresenterError {
    /// The token does not fit the scheme (`invalid_token` in a DPoP challenge).
    #[error("invalid token: {0}")]
    Token(&'static str),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a verified token's `claims` against how it was presented: a bound token only with the
/// DPoP scheme and a proof of its key (which also covers this request and this token), an
/// unbound one only as a bearer token.
pub async fn check_presenter(
    state: &AppState,
    claims: &Map<String, Value>,
    presented: &Presentation<'_>,
) -> Result<(), PresenterError> {
    let jkt = match (presented.scheme, bound_key(claims)) {
        (Scheme::Bearer, None) => return Ok(()),
        // RFC 9449 §7.2: a bound token presented as a bearer token is refused, or stealing it
        // would be enough after all.
        (Scheme::Bearer, Some(_)) => {
            return Err(PresenterError::Token(
                "the token is DPoP-bound and was presented as a bearer token",
            ));
        }
        (Scheme::Dpop, None) => {
            return Err(PresenterError::Token(
                "the token is a bearer token and was presented with the DPoP scheme",
            ));
        }
        (Scheme::Dpop, Some(jkt)) => jkt,
    };
    let proof = match presented.proof {
        PresentedProof::One(proof) => proof,
        PresentedProof::Absent => {
            return Err(ProofError::Invalid("the DPoP proof is missing").into());
        }
        PresentedProof::Malformed => {
            return Err(ProofError::Invalid("send exactly one DPoP header").into());
        }
    };
    let nonce_required = match claims.get("client_id").and_then(Value::as_str) {
        Some(client_id) => state
            .clients
            .get(client_id)
            .await?
            .is_some_and(|client| client.require_dpop_nonce),
        None => false,
    };
    let context = ProofContext {
        method: presented.method,
        url: presented.url,
        access_token: Some(presented.token),
        nonce_required,
    };
    let proved = state.dpop.check(proof, &context, state.clock.now())?;
    if proved != jkt {
        return Err(
            ProofError::Invalid("the proof's key is not the key the token is bound to").into(),
        );
    }
    Ok(())
}

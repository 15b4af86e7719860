//! ID tokens (OpenID Connect Core §2) and JWT access tokens (RFC 9068).

use serde_json::{Map, Value, json};

use crate::crypto::{Alg, left_half_hash_b64url, random_id};
use crate::keys::KeyError;
use crate::state::AppState;
use crate::store::{Grant, StoreError, TokenContext, User};

use super::client_credentials::ClientGrant;

/// What an ID token needs beyond the grant.
pub struct IdTokenInput<'a> {
    pub grant: &'a Grant,
    pub nonce: Option<&'a str>,
    pub access_token: &'a str,
    /// Claims the `claims` request parameter asked to have in the ID token.
    pub extra_claims: Map<String, Value>,
}

fn alg(raw: &str) -> Alg {
    raw.parse().unwrap_or(Alg::RS256)
}

pub async fn mint_id_token(state: &AppState, input: IdTokenInput<'_>) -> Result<String, KeyError> {
    let now = state.clock.now();
    let grant = input.grant;
    let signing_alg = alg(&state.config.tokens.id_token_signing_alg);
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(state.config.issuer));
    claims.insert("sub".into(), json!(grant.user_id));
    claims.insert("aud".into(), json!(grant.client_id));
    claims.insert("exp".into(), json!(now + state.config.tokens.id_token_ttl));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert(
        "at_hash".into(),
        json!(left_half_hash_b64url(
            signing_alg.as_str(),
            input.access_token
        )),
    );
    if let Some(sid) = &grant.sid {
        claims.insert("sid".into(), json!(sid));
    }
    claims.insert("amr".into(), json!(grant.amr));
    claims.insert("acr".into(), json!(grant.acr));
    for (name, value) in input.extra_claims {
        claims.entry(name).or_insert(value);
    }
    state.keys.sign(signing_alg, None, &claims).await
}

/// A JWT access token bound to its grant (`gid`), so revoking the grant kills it at once, and
/// to the DPoP key `jkt` if there is one.
pub async fn mint_access_token(
    state: &AppState,
    grant: &Grant,
    scope: &str,
    jkt: Option<&str>,
) -> Result<String, KeyError> {
    let mut claims = access_token_claims(state, &grant.user_id, &grant.client_id, scope, jkt);
    claims.insert("aud".into(), json!(state.config.issuer));
    claims.insert("auth_time".into(), json!(grant.auth_time));
    claims.insert("acr".into(), json!(grant.acr));
    claims.insert("amr".into(), json!(grant.amr));
    claims.insert("gid".into(), json!(grant.id));
    sign_access_token(state, &claims).await
}

/// An access token a client gets for itself (`client_credentials`): no user, no grant row.
pub async fn mint_client_access_token(
    state: &AppState,
    client_id: &str,
    grant: &ClientGrant,
    jkt: Option<&str>,
) -> Result<String, KeyError> {
    let mut claims = access_token_claims(state, client_id, client_id, &grant.scope, jkt);
    claims.insert("aud".into(), json!(grant.audience));
    sign_access_token(state, &claims).await
}

/// The claims every RFC 9068 access token has (RFC 9068 §2.2), from now on for the configured
/// lifetime, and the DPoP key it is bound to (RFC 9449 §6.1).
fn access_token_claims(
    state: &AppState,
    sub: &str,
    client_id: &str,
    scope: &str,
    jkt: Option<&str>,
) -> Map<String, Value> {
    let now = state.clock.now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(state.config.issuer));
    claims.insert("sub".into(), json!(sub));
    claims.insert("client_id".into(), json!(client_id));
    claims.insert(
        "exp".into(),
        json!(now + state.config.tokens.access_token_ttl),
    );
    claims.insert("iat".into(), json!(now));
    claims.insert("jti".into(), json!(random_id(state.entropy.as_ref())));
    claims.insert("scope".into(), json!(scope));
    if let Some(jkt) = jkt {
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    claims
}

/// The thumbprint of the DPoP key an access token is bound to (`cnf.jkt`), if any.
pub fn bound_key(claims: &Map<String, Value>) -> Option<&str> {
    claims.get("cnf")?.get("jkt")?.as_str()
}

async fn sign_access_token(
    state: &AppState,
    claims: &Map<String, Value>,
) -> Result<String, KeyError> {
    state
        .keys
        .sign(
            alg(&state.config.tokens.access_token_signing_alg),
            Some("at+jwt"),
            claims,
        )
        .await
}

/// Why an access token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A verified, live access token.
pub struct VerifiedAccessToken {
    pub grant: Grant,
    /// The grant's user, enabled.
    pub user: User,
    pub scope: String,
    pub claims: Map<String, Value>,
}

/// Signature, `typ`, issuer and expiry of an access token we issued; its claims.
async fn verified_jwt(
    state: &AppState,
    token: &str,
) -> Result<Map<String, Value>, AccessTokenError> {
    let (header, claims) = state
        .keys
        .verify(token)
        .await
        .map_err(|_| AccessTokenError::Invalid("signature"))?;
    if header
        .get("typ")
        .and_then(Value::as_str)
        .map(|t| t.to_ascii_lowercase())
        != Some("at+jwt".into())
    {
        return Err(AccessTokenError::Invalid("type"));
    }
    if claims.get("iss").and_then(Value::as_str) != Some(state.config.issuer.as_str()) {
        return Err(AccessTokenError::Invalid("issuer"));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(AccessTokenError::Invalid("exp"))?;
    if exp <= state.clock.now() {
        return Err(AccessTokenError::Invalid("expired"));
    }
    Ok(claims)
}

/// A verified, live access token a client got for itself.
#[derive(Debug, Clone)]
pub struct VerifiedClientToken {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    /// Every claim, for introspection.
    pub claims: Map<String, Value>,
}

/// Checks an access token a client got for itself with `client_credentials`: signature, type,
/// issuer, expiry, no user behind it, not revoked, and its client still registered.
pub async fn verify_client_access_token(
    state: &AppState,
    token: &str,
) -> Result<VerifiedClientToken, AccessTokenError> {
    let claims = verified_jwt(state, token).await?;
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .ok_or(AccessTokenError::Invalid("client_id"))?;
    if claims.contains_key("gid") || claims.get("sub").and_then(Value::as_str) != Some(client_id) {
        return Err(AccessTokenError::Invalid("not a client's own token"));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or(AccessTokenError::Invalid("jti"))?;
    if state.store.access_token_revoked(jti).await? {
        return Err(AccessTokenError::Invalid("revoked"));
    }
    if state.clients.get(client_id).await?.is_none() {
        return Err(AccessTokenError::Invalid("client deleted"));
    }
    let audience = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let scopes = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(super::scopes::parse_scope)
        .unwrap_or_default();
    Ok(VerifiedClientToken {
        client_id: client_id.to_string(),
        scopes,
        audience,
        claims,
    })
}

/// Checks signature, type, issuer, audience and expiry, then that the grant is still live.
pub async fn verify_access_token(
    state: &AppState,
    token: &str,
) -> Result<VerifiedAccessToken, AccessTokenError> {
    let verified = verify_access_token_of_any_user(state, token).await?;
    if verified.user.disabled {
        return Err(AccessTokenError::Invalid("user"));
    }
    Ok(verified)
}

/// [`verify_access_token`] without refusing a disabled user's token: revocation must still find
/// it, or the token would come back to life if the user were enabled again before it expires.
pub async fn verify_access_token_of_any_user(
    state: &AppState,
    token: &str,
) -> Result<VerifiedAccessToken, AccessTokenError> {
    let claims = verified_jwt(state, token).await?;
    let gid = claims
        .get("gid")
        .and_then(Value::as_str)
        .ok_or(AccessTokenError::Invalid("grant"))?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or(AccessTokenError::Invalid("jti"))?;
    // One query: the grant, its user and the token's own revocation.
    let TokenContext {
        grant,
        user,
        jti_revoked,
    } = state
        .store
        .token_context(gid, jti)
        .await?
        .ok_or(AccessTokenError::Invalid("grant"))?;
    if grant.revoked_at.is_some()
        || jti_revoked
        || claims.get("sub").and_then(Value::as_str) != Some(grant.user_id.as_str())
    {
        return Err(AccessTokenError::Invalid("revoked"));
    }
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(VerifiedAccessToken {
        grant,
        user,
        scope,
        claims,
    })
}

/// The `sub` of an ID token we issued to `client_id` (expired ones are fine as hints).
/// The claims of an ID token we issued (signature, `typ` and `iss` checked; expiry not, since
/// old ID tokens are what hints are). Access and logout tokens, signed by the same keys, carry a
/// `typ` and are refused.
pub async fn verify_id_token_hint(state: &AppState, hint: &str) -> Option<Map<String, Value>> {
    let (header, claims) = state.keys.verify(hint).await.ok()?;
    if header
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
    {
        return None;
    }
    if claims.get("iss").and_then(Value::as_str) != Some(state.config.issuer.as_str()) {
        return None;
    }
    Some(claims)
}

pub async fn subject_of_id_token_hint(
    state: &AppState,
    hint: &str,
    client_id: &str,
) -> Option<String> {
    let claims = verify_id_token_hint(state, hint).await?;
    let audience_matches = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_matches {
        return None;
    }
    claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_string)
}

//! Token revocation (RFC 7009) and introspection (RFC 7662), both for authenticated clients.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::crypto::sha256_hex;
use crate::state::AppState;
use crate::store::{Client, Grant};

use super::errors::TokenError;
use super::tokens::{
    AccessTokenError, VerifiedClientToken, verify_access_token_of_any_user,
    verify_client_access_token,
};

/// A token we recognised, with the grant it belongs to. A disabled user's tokens are recognised
/// (so they can be revoked for good) but never reported active.
enum Recognised {
    Access {
        grant: Grant,
        claims: Map<String, Value>,
        user_disabled: bool,
    },
    Refresh {
        grant: Grant,
        expires_at: i64,
    },
}

impl Recognised {
    fn grant(&self) -> &Grant {
        match self {
            Recognised::Access { grant, .. } | Recognised::Refresh { grant, .. } => grant,
        }
    }
}

fn token_param(form: &HashMap<String, String>) -> Result<&str, TokenError> {
    form.get("token")
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::invalid_request("The token parameter is missing."))
}

/// Finds a live token. The hint only decides which kind is tried first (RFC 7009 §2.1).
async fn recognise(
    state: &AppState,
    token: &str,
    hint: Option<&str>,
) -> Result<Option<Recognised>, TokenError> {
    let access_first = hint != Some("refresh_token");
    for access in [access_first, !access_first] {
        let found = if access {
            recognise_access(state, token).await?
        } else {
            recognise_refresh(state, token).await?
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

async fn recognise_access(state: &AppState, token: &str) -> Result<Option<Recognised>, TokenError> {
    // Refresh tokens are opaque random strings; only a JWT can be an access token.
    if token.split('.').count() != 3 {
        return Ok(None);
    }
    match verify_access_token_of_any_user(state, token).await {
        Ok(verified) => Ok(Some(Recognised::Access {
            grant: verified.grant,
            claims: verified.claims,
            user_disabled: verified.user.disabled,
        })),
        Err(AccessTokenError::Invalid(_)) => Ok(None),
        Err(AccessTokenError::Store(e)) => Err(e.into()),
    }
}

async fn recognise_refresh(
    state: &AppState,
    token: &str,
) -> Result<Option<Recognised>, TokenError> {
    let now = state.clock.now();
    let Some(refresh) = state
        .store
        .refresh_token_by_hash(&sha256_hex(token.as_bytes()))
        .await?
    else {
        return Ok(None);
    };
    if refresh.used_at.is_some() || refresh.expires_at <= now {
        return Ok(None);
    }
    let Some(grant) = state.store.grant_by_id(&refresh.grant_id).await? else {
        return Ok(None);
    };
    if grant.revoked_at.is_some() || grant.expires_at <= now {
        return Ok(None);
    }
    Ok(Some(Recognised::Refresh {
        grant,
        expires_at: refresh.expires_at,
    }))
}

/// RFC 7009. Unknown, invalid or already revoked tokens are not an error (§2.2). Revoking a
/// refresh token revokes its whole grant, and with it every access token of that grant.
pub async fn revoke(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<(), TokenError> {
    let token = token_param(form)?;
    let hint = form.get("token_type_hint").map(String::as_str);
    let Some(found) = recognise(state, token, hint).await? else {
        // A token a client got for itself (client_credentials) has no grant: its jti goes.
        if let Ok(own) = verify_client_access_token(state, token).await {
            if own.client_id != client.id {
                return Err(TokenError::new(
                    400,
                    "unauthorized_client",
                    "The token was not issued to this client.",
                ));
            }
            let jti = own
                .claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let exp = own
                .claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            state.store.revoke_access_token(jti, exp).await?;
            tracing::info!(client_id = %client.id, "client access token revoked");
        }
        return Ok(());
    };
    if found.grant().client_id != client.id {
        return Err(TokenError::new(
            400,
            "unauthorized_client",
            "The token was not issued to this client.",
        ));
    }
    let now = state.clock.now();
    match found {
        Recognised::Access { claims, .. } => {
            let jti = claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
            state.store.revoke_access_token(jti, exp).await?;
            tracing::info!(client_id = %client.id, "access token revoked");
        }
        Recognised::Refresh { grant, .. } => {
            state.store.revoke_grant(&grant.id, now).await?;
            tracing::info!(client_id = %client.id, grant_id = %grant.id, "refresh token revoked with its grant");
        }
    }
    Ok(())
}

/// RFC 7662. Confidential clients (resource servers) may introspect any token; a public
/// client only its own. Anything not live is just `{"active": false}`.
pub async fn introspect(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<Map<String, Value>, TokenError> {
    let token = token_param(form)?;
    let hint = form.get("token_type_hint").map(String::as_str);
    let inactive = || {
        let mut out = Map::new();
        out.insert("active".into(), json!(false));
        out
    };
    let Some(found) = recognise(state, token, hint).await? else {
        return Ok(match verify_client_access_token(state, token).await {
            Ok(own) if !client.is_public() || own.client_id == client.id => {
                match forwarded_proof_refused(state, form, token, &own.claims).await? {
                    Some(refusal) => refusal,
                    None => client_token_answer(&own),
                }
            }
            _ => inactive(),
        });
    };
    if !visible_to(client, found.grant()) {
        return Ok(inactive());
    }
    // A disabled user's tokens are refused at /token and /userinfo, so not active here either.
    let user_enabled = match &found {
        Recognised::Access { user_disabled, .. } => !user_disabled,
        Recognised::Refresh { grant, .. } => state
            .store
            .user_by_id(&grant.user_id)
            .await?
            .is_some_and(|user| !user.disabled),
    };
    if !user_enabled {
        return Ok(inactive());
    }
    if let Recognised::Access { claims, .. } = &found
        && let Some(refusal) = forwarded_proof_refused(state, form, token, claims).await?
    {
        return Ok(refusal);
    }
    let mut out = Map::new();
    out.insert("active".into(), json!(true));
    match found {
        Recognised::Access { grant, claims, .. } => {
            // RFC 7662 §2.2: `aud` is the token's own audience, not the client's id.
            for name in [
                "scope",
                "sub",
                "aud",
                "exp",
                "iat",
                "iss",
                "jti",
                "auth_time",
                "acr",
            ] {
                if let Some(value) = claims.get(name) {
                    out.insert(name.into(), value.clone());
                }
            }
            out.insert("client_id".into(), json!(grant.client_id));
            insert_binding(&mut out, &claims);
        }
        Recognised::Refresh { grant, expires_at } => {
            out.insert("scope".into(), json!(grant.scope));
            out.insert("client_id".into(), json!(grant.client_id));
            out.insert("sub".into(), json!(grant.user_id));
            out.insert("exp".into(), json!(expires_at));
            out.insert("iss".into(), json!(state.config.issuer));
            out.insert("token_type".into(), json!("refresh_token"));
        }
    }
    Ok(out)
}

/// Introspection of a live token a client got for itself: its own claims, audience included.
fn client_token_answer(own: &VerifiedClientToken) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("active".into(), json!(true));
    for name in [
        "scope",
        "sub",
        "aud",
        "exp",
        "iat",
        "iss",
        "jti",
        "client_id",
    ] {
        if let Some(value) = own.claims.get(name) {
            out.insert(name.into(), value.clone());
        }
    }
    insert_binding(&mut out, &own.claims);
    out
}

/// RFC 9449 §6.2: a bound token's `cnf` and `token_type` `DPoP`, so the resource server can
/// check the proof it received; otherwise `token_type` `Bearer`.
fn insert_binding(out: &mut Map<String, Value>, claims: &Map<String, Value>) {
    match claims.get("cnf") {
        Some(cnf) if super::tokens::bound_key(claims).is_some() => {
            out.insert("cnf".into(), cnf.clone());
            out.insert("token_type".into(), json!("DPoP"));
        }
        _ => {
            out.insert("token_type".into(), json!("Bearer"));
        }
    }
}

/// An extension for resource servers that would rather not check DPoP proofs themselves (as
/// Authlete's introspection has): the proof the resource server received (`dpop`), with the
/// method (`htm`) and URL (`htu`) of its request. The proof is checked as UserInfo checks its
/// own; a refused one makes the answer inactive, with `dpop_error` (and `dpop_nonce` for
/// `use_dpop_nonce`) for the resource server to pass on in its `DPoP` challenge.
async fn forwarded_proof_refused(
    state: &AppState,
    form: &HashMap<String, String>,
    token: &str,
    claims: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, TokenError> {
    use super::dpop::{PresentedProof, ProofError};
    use super::sender_constraint::{Presentation, PresenterError, Scheme, check_presenter};
    let Some(proof) = form.get("dpop") else {
        return Ok(None);
    };
    let (Some(method), Some(url)) = (form.get("htm"), form.get("htu")) else {
        return Err(TokenError::invalid_request(
            "A forwarded dpop proof needs the htm and htu of the request it came with.",
        ));
    };
    let proof = PresentedProof::One(proof.clone());
    let presentation = Presentation {
        scheme: Scheme::Dpop,
        token,
        proof: &proof,
        method,
        url,
    };
    let (error, nonce) = match check_presenter(state, claims, &presentation).await {
        Ok(()) => return Ok(None),
        Err(PresenterError::Store(e)) => return Err(e.into()),
        Err(PresenterError::Token(_)) => ("invalid_token", None),
        Err(PresenterError::Proof(ProofError::Invalid(_))) => ("invalid_dpop_proof", None),
        Err(PresenterError::Proof(ProofError::UseNonce { nonce })) => {
            ("use_dpop_nonce", Some(nonce))
        }
    };
    let mut out = Map::new();
    out.insert("active".into(), json!(false));
    out.insert("dpop_error".into(), json!(error));
    if let Some(nonce) = nonce {
        out.insert("dpop_nonce".into(), json!(nonce));
    }
    Ok(Some(out))
}

fn visible_to(client: &Client, grant: &Grant) -> bool {
    !client.is_public() || grant.client_id == client.id
}

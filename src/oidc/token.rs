//! The token endpoint (RFC 6749 §3.2): `authorization_code`, `refresh_token` and (in
//! `client_credentials.rs`) `client_credentials` grants.

use crate::audit::{Event, kinds};
use std::collections::HashMap;

use serde::Serialize;

use crate::crypto::{random_token, sha256_hex};
use crate::state::AppState;
use crate::store::{AuthCode, Client, Consumed, Grant, RefreshToken, Rotation};
use crate::telemetry;

use super::claims::{RequestedClaims, id_token_claims};
use super::client_credentials::{GRANT_TYPE, client_credentials_grant};
use super::dpop::{PresentedProof, ProofContext};
use super::errors::TokenError;
use super::pkce;
use super::scopes::parse_scope;
use super::tokens::{IdTokenInput, mint_access_token, mint_id_token};

#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to a key (RFC 9449 §5.1).
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
    /// A nonce for the client's next DPoP proof (`DPoP-Nonce` header, not in the body).
    #[serde(skip)]
    pub dpop_nonce: Option<String>,
}

/// The key a token request proved possession of (RFC 9449 §5), if it sent a DPoP proof.
#[derive(Debug, Clone, Default)]
pub struct SenderKey {
    /// The key's RFC 7638 thumbprint: what tokens are bound to (`cnf.jkt`).
    pub jkt: Option<String>,
    /// The nonce to hand back with the answer, for a client that must send nonces.
    pub next_nonce: Option<String>,
}

impl SenderKey {
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() { "DPoP" } else { "Bearer" }
    }
}

/// Checks the request's DPoP proof, if any, for `client` at `endpoint` (RFC 9449 §5, §8).
pub fn sender_key(
    state: &AppState,
    client: &Client,
    proof: &PresentedProof,
    endpoint: &str,
) -> Result<SenderKey, TokenError> {
    let now = state.clock.now();
    let proof = match proof {
        PresentedProof::Absent if client.dpop_bound_access_tokens => {
            return Err(TokenError::invalid_request(
                "This client must send a DPoP proof with its token requests.",
            ));
        }
        PresentedProof::Absent => return Ok(SenderKey::default()),
        PresentedProof::Malformed => {
            return Err(TokenError::new(
                400,
                "invalid_dpop_proof",
                "Send exactly one DPoP header.",
            ));
        }
        PresentedProof::One(proof) => proof,
    };
    let context = ProofContext {
        method: "POST",
        url: endpoint,
        access_token: None,
        nonce_required: client.require_dpop_nonce,
    };
    let jkt = state
        .dpop
        .check(proof, &context, now)
        .map_err(TokenError::dpop)?;
    Ok(SenderKey {
        jkt: Some(jkt),
        next_nonce: client.require_dpop_nonce.then(|| state.dpop.nonce(now)),
    })
}

/// The token endpoint for an authenticated client (see `client_auth::authenticate`), with the
/// request's DPoP proof if it sent one.
pub async fn token(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
    proof: &PresentedProof,
) -> Result<TokenResponse, TokenError> {
    let endpoint = super::discovery::endpoint(&state.config, "/token");
    let key = sender_key(state, client, proof, &endpoint)?;
    let grant_type = form.get("grant_type").map(String::as_str);
    let issued = match grant_type {
        Some(grant @ ("authorization_code" | "refresh_token")) if !client.may_use_grant(grant) => {
            Err(TokenError::new(
                400,
                "unauthorized_client",
                format!("The client is not allowed the {grant} grant."),
            ))
        }
        Some("authorization_code") => authorization_code_grant(state, client, form, &key).await,
        Some("refresh_token") => refresh_token_grant(state, client, form, &key).await,
        Some(GRANT_TYPE) => client_credentials_grant(state, client, form, &key).await,
        Some(_) => Err(TokenError::new(
            400,
            "unsupported_grant_type",
            "The grant_type is not supported.",
        )),
        None => Err(TokenError::invalid_request(
            "The grant_type parameter is missing.",
        )),
    };
    // Only a grant type matched above can succeed, so the label stays one of a few values.
    if let (Ok(_), Some(grant_type)) = (&issued, grant_type) {
        telemetry::token_issued(grant_type);
    }
    issued.map_err(|e| TokenError {
        // A client that must send nonces gets a fresh one with every answer.
        dpop_nonce: e.dpop_nonce.or_else(|| key.next_nonce.clone()),
        ..e
    })
}

async fn authorization_code_grant(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
    key: &SenderKey,
) -> Result<TokenResponse, TokenError> {
    let code = form
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| TokenError::invalid_request("The code parameter is missing."))?;
    let now = state.clock.now();
    let code_hash = sha256_hex(code.as_bytes());
    let invalid =
        || TokenError::invalid_grant("The authorization code is invalid, expired or already used.");
    let Some(code) = state.store.auth_code(&code_hash).await? else {
        return Err(invalid());
    };
    if code.used_at.is_some() {
        return Err(code_replayed(state, &code, now).await?);
    }
    if let Err(refusal) = check_code(client, &code, form, key, now) {
        // A code is good for one attempt: a failed one uses it up too.
        state.store.consume_auth_code(&code_hash, now).await?;
        return Err(refusal);
    }
    let grant = live_grant(state, &code.grant_id)
        .await?
        .ok_or_else(invalid)?;
    // Everything that can fail is done before the code is used up; the code and the first
    // refresh token then go to the database in one transaction.
    let minted = mint_tokens(
        state,
        client,
        key,
        &grant,
        &grant.scope,
        code.nonce.as_deref(),
        (0, None),
    )
    .await?;
    match state
        .store
        .redeem_auth_code(&code_hash, now, &minted.refresh_row)
        .await?
    {
        Consumed::Fresh(_) => Ok(minted.response),
        Consumed::AlreadyUsed(code) => Err(code_replayed(state, &code, now).await?),
        Consumed::Missing => Err(invalid()),
    }
}

/// A code presented again means it leaked: everything issued from it dies (RFC 6749 §4.1.2).
async fn code_replayed(
    state: &AppState,
    code: &AuthCode,
    now: i64,
) -> Result<TokenError, TokenError> {
    state.store.revoke_grant(&code.grant_id, now).await?;
    tracing::warn!(client_id = %code.client_id, grant_id = %code.grant_id, "authorization code reused; grant revoked");
    Ok(TokenError::invalid_grant(
        "The authorization code is invalid, expired or already used.",
    ))
}

/// The checks of a code exchange that do not need the database: expiry, client, redirect URI,
/// the key the authorization request named (RFC 9449 §10) and PKCE.
fn check_code(
    client: &Client,
    code: &AuthCode,
    form: &HashMap<String, String>,
    key: &SenderKey,
    now: i64,
) -> Result<(), TokenError> {
    let invalid =
        || TokenError::invalid_grant("The authorization code is invalid, expired or already used.");
    if code.expires_at <= now || code.client_id != client.id {
        return Err(invalid());
    }
    if form.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(TokenError::invalid_grant(
            "The redirect_uri does not match the authorization request.",
        ));
    }
    if code.dpop_jkt.is_some() && code.dpop_jkt != key.jkt {
        return Err(TokenError::new(
            400,
            "invalid_dpop_proof",
            "The authorization request named another DPoP key than the proof's.",
        ));
    }
    match (&code.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify_s256(verifier, challenge) => Ok(()),
        (Some(_), _) => Err(TokenError::invalid_grant(
            "The code_verifier does not match the code_challenge.",
        )),
        (None, Some(_)) => Err(TokenError::invalid_grant(
            "A code_verifier was sent but the request had no code_challenge.",
        )),
        (None, None) if client.is_public() => Err(invalid()),
        (None, None) => Ok(()),
    }
}

async fn refresh_token_grant(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
    key: &SenderKey,
) -> Result<TokenResponse, TokenError> {
    let presented = form
        .get("refresh_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::invalid_request("The refresh_token parameter is missing."))?;
    let now = state.clock.now();
    let grace_since = now - state.config.tokens.refresh_token_reuse_grace;
    let presented_hash = sha256_hex(presented.as_bytes());
    let invalid = || TokenError::invalid_grant("The refresh token is invalid, expired or revoked.");
    let Some(token) = state.store.refresh_token_by_hash(&presented_hash).await? else {
        return Err(invalid());
    };
    if token.revoked_at.is_some() {
        return Err(invalid());
    }
    if token.used_at.is_some_and(|used| used < grace_since) {
        // Reuse after rotation: the token was stolen or replayed. Kill the family.
        state.store.revoke_grant(&token.grant_id, now).await?;
        tracing::warn!(grant_id = %token.grant_id, "refresh token reused; token family revoked");
        return Err(invalid());
    }
    // From memory while it is followed (`token_context_cache`); the rotation's transaction
    // checks the grant and its user again, exactly.
    let grant = state
        .store
        .grant_context(&token.grant_id)
        .await?
        .filter(|c| c.grant.revoked_at.is_none() && c.grant.expires_at > now && !c.user.disabled)
        .ok_or_else(invalid)?
        .grant;
    if grant.client_id != client.id {
        // Another client holds this client's token: treat it as leaked.
        state.store.revoke_grant(&grant.id, now).await?;
        return Err(invalid());
    }
    if token.expires_at <= now {
        return Err(invalid());
    }
    if token.dpop_jkt.is_some() && token.dpop_jkt != key.jkt {
        // RFC 9449 §5: a bound refresh token is worth nothing without a proof of its key.
        return Err(TokenError::invalid_grant(
            "The refresh token is bound to a DPoP key the request did not prove.",
        ));
    }
    let granted = parse_scope(&grant.scope);
    let scope = match form.get("scope").filter(|s| !s.is_empty()) {
        None => grant.scope.clone(),
        Some(requested) => {
            let requested = parse_scope(requested);
            if requested.iter().any(|s| !granted.contains(s)) {
                return Err(TokenError::new(
                    400,
                    "invalid_scope",
                    "The scope exceeds what was granted.",
                ));
            }
            requested.join(" ")
        }
    };
    // Signed first; the presented token is used up only together with storing its successor.
    let minted = mint_tokens(
        state,
        client,
        key,
        &grant,
        &scope,
        None,
        (token.generation + 1, token.dpop_jkt.as_deref()),
    )
    .await?;
    match state
        .store
        .rotate_refresh_token(
            &presented_hash,
            &minted.refresh_row,
            now,
            grace_since,
            &[Event::new(kinds::REFRESH_TOKEN_REUSED).failed().at(now)],
        )
        .await?
    {
        Rotation::Rotated { .. } => Ok(minted.response),
        Rotation::Reused { presented } => {
            tracing::warn!(grant_id = %presented.grant_id, "refresh token reused; token family revoked");
            Err(invalid())
        }
        Rotation::Refused | Rotation::Missing => Err(invalid()),
    }
}

/// The grant if it exists, is not revoked, and its user can still log in.
async fn live_grant(state: &AppState, grant_id: &str) -> Result<Option<Grant>, TokenError> {
    let Some(grant) = state.store.grant_by_id(grant_id).await? else {
        return Ok(None);
    };
    if grant.revoked_at.is_some() || grant.expires_at <= state.clock.now() {
        return Ok(None);
    }
    match state.store.user_by_id(&grant.user_id).await? {
        Some(user) if !user.disabled => Ok(Some(grant)),
        _ => Ok(None),
    }
}

/// Tokens signed and ready, with the refresh token's row still to be stored.
struct Minted {
    response: TokenResponse,
    refresh_row: RefreshToken,
}

/// Signs the access and ID tokens and makes a refresh token; writes nothing. `refresh` is the
/// new refresh token's generation and the key its predecessor was bound to.
async fn mint_tokens(
    state: &AppState,
    client: &Client,
    key: &SenderKey,
    grant: &Grant,
    scope: &str,
    nonce: Option<&str>,
    (generation, bound_to): (i64, Option<&str>),
) -> Result<Minted, TokenError> {
    let now = state.clock.now();
    let access_token = mint_access_token(state, grant, scope, key.jkt.as_deref()).await?;
    let scopes = parse_scope(scope);
    let id_token = if scopes.iter().any(|s| s == "openid") {
        let requested = RequestedClaims::from_stored(grant.requested_claims.as_deref());
        let extra_claims = if requested.id_token.is_empty() {
            Default::default()
        } else {
            match state.store.user_by_id(&grant.user_id).await? {
                Some(user) => id_token_claims(&user, &requested.id_token),
                None => Default::default(),
            }
        };
        Some(
            mint_id_token(
                state,
                IdTokenInput {
                    grant,
                    nonce,
                    access_token: &access_token,
                    extra_claims,
                },
            )
            .await?,
        )
    } else {
        None
    };
    let refresh = random_token(state.entropy.as_ref());
    let refresh_row = RefreshToken {
        token_hash: sha256_hex(refresh.as_bytes()),
        grant_id: grant.id.clone(),
        generation,
        created_at: now,
        expires_at: grant
            .expires_at
            .min(now + state.config.tokens.refresh_token_ttl),
        used_at: None,
        revoked_at: None,
        // A confidential client's refresh token is bound to its credentials already; a public
        // client's to the key it proved, from the first DPoP request on (RFC 9449 §5).
        dpop_jkt: bound_to
            .map(str::to_string)
            .or_else(|| key.jkt.clone().filter(|_| client.is_public())),
    };
    Ok(Minted {
        response: TokenResponse {
            access_token,
            token_type: key.token_type(),
            expires_in: state.config.tokens.access_token_ttl,
            refresh_token: Some(refresh),
            id_token,
            scope: scope.to_string(),
            dpop_nonce: key.next_nonce.clone(),
        },
        refresh_row,
    })
}

//! The `client_credentials` grant (RFC 6749 §4.4): an authenticated client gets an access token
//! for itself, an RFC 9068 JWT. Nothing is stored: the token is checked by its signature, its
//! expiry, the revocation list and the client still existing.
//!
//! The audience is the resource the client named (RFC 8707), when the client is allowed it, or
//! else the client's default audience (the first resource it is allowed), or else the issuer.

use std::collections::HashMap;

use crate::state::AppState;
use crate::store::Client;

use super::errors::TokenError;
use super::scopes::{ADMIN_SCOPES, parse_scope};
use super::token::{SenderKey, TokenResponse};
use super::tokens::mint_client_access_token;

pub const GRANT_TYPE: &str = "client_credentials";

/// Scopes a client may ask for itself: the ones it is allowed that are about no user.
fn client_scopes(client: &Client) -> Vec<String> {
    client
        .allowed_scopes
        .iter()
        .filter(|s| ADMIN_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect()
}

/// What the request asks for, checked against what the client may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrant {
    pub scope: String,
    pub audience: String,
}

/// The decision, without signing: which scope and audience the token gets. `resources` are the
/// request's `resource` parameters.
pub fn decide(
    issuer: &str,
    client: &Client,
    form: &HashMap<String, String>,
    resources: &[String],
) -> Result<ClientGrant, TokenError> {
    if client.is_public() || !client.may_use_grant(GRANT_TYPE) {
        return Err(TokenError::new(
            400,
            "unauthorized_client",
            "The client is not allowed the client_credentials grant.",
        ));
    }
    let allowed = client_scopes(client);
    let scope = match form.get("scope") {
        Some(raw) => {
            let requested = parse_scope(raw);
            if let Some(refused) = requested.iter().find(|s| !allowed.contains(s)) {
                return Err(TokenError::new(
                    400,
                    "invalid_scope",
                    format!("The client may not have the scope {refused:?}."),
                ));
            }
            requested
        }
        None => allowed,
    };
    let audience = match resources {
        [] => client
            .resources
            .first()
            .cloned()
            .unwrap_or_else(|| issuer.to_string()),
        [one] if client.resources.contains(one) => one.clone(),
        [one] => {
            return Err(TokenError::new(
                400,
                "invalid_target",
                format!("The client may not have tokens for the resource {one:?}."),
            ));
        }
        _ => {
            return Err(TokenError::new(
                400,
                "invalid_target",
                "Ask for one resource per token.",
            ));
        }
    };
    Ok(ClientGrant {
        scope: scope.join(" "),
        audience,
    })
}

pub async fn client_credentials_grant(
    state: &AppState,
    client: &Client,
    form: &HashMap<String, String>,
    key: &SenderKey,
) -> Result<TokenResponse, TokenError> {
    let resources: Vec<String> = form
        .get("resource")
        .map(|raw| raw.split(' ').map(str::to_string).collect())
        .unwrap_or_default();
    let grant = decide(&state.config.issuer, client, form, &resources)?;
    let access_token =
        mint_client_access_token(state, &client.id, &grant, key.jkt.as_deref()).await?;
    Ok(TokenResponse {
        access_token,
        token_type: key.token_type(),
        expires_in: state.config.tokens.access_token_ttl,
        refresh_token: None,
        id_token: None,
        scope: grant.scope,
        dpop_nonce: key.next_nonce.clone(),
    })
}

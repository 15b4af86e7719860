//! Clients' public keys for `private_key_jwt`: the JWK Set registered with the client, or the one
//! at its `jwks_uri`, fetched with a short timeout and a size cap and kept in memory.
//!
//! A client assertion arrives before the client is authenticated, so anyone can send one naming
//! any client. The cache is what stops that from making this server fetch the client's URI on
//! every request: see `crypto::client_jwks::ClientKeyCache` for how long sets are kept and how
//! seldom they are fetched.

use crate::crypto::client_jwks::{Freshness, MAX_JWKS_BYTES};
use crate::state::AppState;
use crate::store::Client;

/// A `jwks_uri` that does not answer within this is treated as unavailable.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The client's JWK Set: the registered one, or its `jwks_uri`'s through the cache.
pub async fn client_jwks(
    state: &AppState,
    client: &Client,
    freshness: Freshness,
) -> Option<String> {
    if let Some(jwks) = &client.jwks {
        return Some(jwks.clone());
    }
    let uri = client.jwks_uri.as_deref()?;
    let cache = &state.client_keys;
    let now = state.clock.now();
    let (cached, fetch) = cache.plan(&client.id, uri, now, freshness);
    if !fetch {
        return cached;
    }
    cache.count_fetch();
    match fetch_jwks(state, uri).await {
        Ok(jwks) => {
            cache.store(&client.id, uri, jwks.clone(), now);
            Some(jwks)
        }
        Err(why) => {
            tracing::warn!(client_id = %client.id, reason = %why, "client jwks_uri unusable; keeping the keys fetched before, if any");
            cached
        }
    }
}

async fn fetch_jwks(state: &AppState, uri: &str) -> Result<String, String> {
    let mut response = state
        .http
        .get(uri)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out".to_string()
            } else {
                "request failed".to_string()
            }
        })?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
    {
        return Err("larger than the size cap".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| "read failed".to_string())?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err("larger than the size cap".into());
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).map_err(|_| "not UTF-8".to_string())?;
    crate::crypto::client_jwks::validate_jwks_text(&text).map_err(|e| e.to_string())
}

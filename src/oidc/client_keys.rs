//! Clients' public keys for `private_key_jwt`: the JWK Set registered with the client, or the one
//! at its `jwks_uri`, fetched with a short timeout and a size cap and kept in memory.
//!
//! A client assertion arrives before the client is authenticated, so anyone can send one naming
//! any client. The cache is what stops that from making this server fetch the client's URI on
//! every request: a set is kept for [`JWKS_CACHE_SECS`]; a fetch (failed or not) is not repeated
//! within [`MIN_REFETCH_SECS`], even for an assertion naming a key the cached set lacks (the one
//! reason to fetch early: the client rotated its keys).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::state::AppState;
use crate::store::{Client, UnixTime};

/// How long a fetched JWK Set is used before it is fetched again.
pub const JWKS_CACHE_SECS: i64 = 300;
/// The shortest time between two fetches for one client.
pub const MIN_REFETCH_SECS: i64 = 60;
/// The largest JWK Set accepted from a `jwks_uri`.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// A `jwks_uri` that does not answer within this is treated as unavailable.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, Clone)]
struct Entry {
    uri: String,
    /// The last good set, if any.
    jwks: Option<String>,
    fetched_at: UnixTime,
    last_attempt: UnixTime,
}

/// Fetched JWK Sets by client id.
#[derive(Debug, Default)]
pub struct ClientKeyCache {
    entries: Mutex<HashMap<String, Entry>>,
    fetches: std::sync::atomic::AtomicUsize,
}

/// Whether a caller wants the cached set or, because it lacks the key asked for, a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Cached,
    Refresh,
}

impl ClientKeyCache {
    /// Fetches made since start (for tests and metrics).
    pub fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Decides under the lock whether this caller fetches; marks the attempt so concurrent
    /// callers do not fetch too. Returns the cached set and whether to fetch.
    fn plan(
        &self,
        client_id: &str,
        uri: &str,
        now: UnixTime,
        freshness: Freshness,
    ) -> (Option<String>, bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries
            .entry(client_id.to_string())
            .or_insert_with(|| Entry {
                uri: uri.to_string(),
                jwks: None,
                fetched_at: UnixTime::MIN,
                last_attempt: UnixTime::MIN,
            });
        if entry.uri != uri {
            // The client was re-registered with another URI: forget the old keys.
            *entry = Entry {
                uri: uri.to_string(),
                jwks: None,
                fetched_at: UnixTime::MIN,
                last_attempt: UnixTime::MIN,
            };
        }
        let stale = now.saturating_sub(entry.fetched_at) >= JWKS_CACHE_SECS;
        let wanted = stale || freshness == Freshness::Refresh || entry.jwks.is_none();
        let allowed = now.saturating_sub(entry.last_attempt) >= MIN_REFETCH_SECS;
        let fetch = wanted && allowed;
        if fetch {
            entry.last_attempt = now;
        }
        (entry.jwks.clone(), fetch)
    }

    fn store(&self, client_id: &str, uri: &str, jwks: String, now: UnixTime) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(client_id)
            && entry.uri == uri
        {
            entry.jwks = Some(jwks);
            entry.fetched_at = now;
        }
    }
}

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
    cache
        .fetches
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_at_most_once_a_minute_and_keeps_keys_five_minutes() {
        let cache = ClientKeyCache::default();
        let uri = "https://rp.example/jwks";
        // First use: fetch.
        assert_eq!(cache.plan("c", uri, 1000, Freshness::Cached), (None, true));
        // While it is being fetched (or failed), others do not fetch again.
        assert_eq!(cache.plan("c", uri, 1001, Freshness::Cached), (None, false));
        assert_eq!(
            cache.plan("c", uri, 1001, Freshness::Refresh),
            (None, false)
        );
        cache.store("c", uri, "{keys}".into(), 1000);
        let keys = Some("{keys}".to_string());
        assert_eq!(
            cache.plan("c", uri, 1059, Freshness::Cached),
            (keys.clone(), false)
        );
        // An unknown key: a refresh, but not more than once a minute.
        assert_eq!(
            cache.plan("c", uri, 1059, Freshness::Refresh),
            (keys.clone(), false)
        );
        assert_eq!(
            cache.plan("c", uri, 1060, Freshness::Refresh),
            (keys.clone(), true)
        );
        assert_eq!(
            cache.plan("c", uri, 1061, Freshness::Refresh),
            (keys.clone(), false)
        );
        // Stale after five minutes.
        assert_eq!(
            cache.plan("c", uri, 1299, Freshness::Cached),
            (keys.clone(), false)
        );
        assert_eq!(
            cache.plan("c", uri, 1300, Freshness::Cached),
            (keys.clone(), true)
        );
        // Another URI: the old keys are not used for it.
        assert_eq!(
            cache.plan("c", "https://rp.example/other", 1301, Freshness::Cached),
            (None, true)
        );
    }
}

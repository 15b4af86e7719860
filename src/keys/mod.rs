//! The set of signing keys shared by every server instance through the database: which key
//! signs and which are published (`policy`), the per-instance cache (`cache`), first-start
//! creation and rotation (`rotation`), and JWS signing and verification with them (`jws`).
//!
//! Key lifecycle: a key is published in the JWKS from creation, signs from `active_from`, stops
//! signing at `retired_at` and leaves the JWKS at `unpublish_at`. `rotate` creates the next key
//! `publish_ahead_secs` before it takes over, so relying parties that cache the JWKS have it
//! before the first token signed with it; `keep_published_secs` must be at least the longest
//! token lifetime.
//!
//! Each instance caches the loaded keys for `cache_ttl_secs` and reloads early (at most every
//! `unknown_kid_reload_secs`) when asked to verify a token with a kid it does not know, which is
//! how it learns about a key another instance just created.

mod cache;
mod jws;
mod policy;
mod rotation;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use tokio::sync::RwLock;

use crate::clock::Clock;
use crate::crypto::{CryptoError, SecretBox};
use crate::store::{Store, StoreError};

use cache::Snapshot;
pub use policy::KeyInfo;

/// Why a key operation failed: the database, or the keys themselves.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRingSettings {
    /// Reload keys from the store when the cache is older than this.
    pub cache_ttl_secs: i64,
    /// Minimum interval between early reloads caused by unknown kids.
    pub unknown_kid_reload_secs: i64,
}

impl Default for KeyRingSettings {
    fn default() -> Self {
        Self {
            cache_ttl_secs: 30,
            unknown_kid_reload_secs: 5,
        }
    }
}

pub struct KeyRing {
    store: Arc<dyn Store>,
    secret_box: Arc<SecretBox>,
    clock: Arc<dyn Clock>,
    settings: KeyRingSettings,
    cache: RwLock<Option<Arc<Snapshot>>>,
    last_unknown_kid_reload: AtomicI64,
    /// The last JWK Set built, for the snapshot and the set of published keys it was built from.
    published: std::sync::Mutex<Option<jws::PublishedJwks>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    pub fn new(store: Arc<dyn Store>, secret_box: Arc<SecretBox>, clock: Arc<dyn Clock>) -> Self {
        Self::with_settings(store, secret_box, clock, KeyRingSettings::default())
    }

    pub fn with_settings(
        store: Arc<dyn Store>,
        secret_box: Arc<SecretBox>,
        clock: Arc<dyn Clock>,
        settings: KeyRingSettings,
    ) -> Self {
        Self {
            store,
            secret_box,
            clock,
            settings,
            cache: RwLock::new(None),
            last_unknown_kid_reload: AtomicI64::new(i64::MIN),
            published: std::sync::Mutex::new(None),
        }
    }
}

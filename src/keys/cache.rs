//! Each instance's copy of the keys: loaded from the store, parsed (and private parts opened)
//! once per key, reloaded when stale or when a token names a key this instance does not know.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use josekit::jws::{JwsSigner, JwsVerifier};
use serde_json::{Map, Value};

use crate::clock::UnixTime;
use crate::crypto::Alg;
use crate::crypto::signing::{load_signer, load_verifier};
use crate::store::SigningKey;

use super::policy::{is_published, is_retired};
use super::{KeyError, KeyRing};

pub(super) struct LoadedKey {
    /// The row without its sealed private key.
    pub(super) meta: SigningKey,
    pub(super) alg: Alg,
    pub(super) public: Map<String, Value>,
    pub(super) verifier: Arc<dyn JwsVerifier>,
    /// Only for keys that were not retired when loaded.
    pub(super) signer: Option<Arc<dyn JwsSigner>>,
}

pub(super) struct Snapshot {
    pub(super) loaded_at: UnixTime,
    pub(super) keys: Vec<LoadedKey>,
    /// Tokens whose signature one of these keys verified (see `jws.rs`); a new snapshot starts
    /// empty, so a memo never outlives the keys it was made with.
    pub(super) verified: VerifiedTokens,
}

/// What a verified token said, kept so the same token presented again (a resource server
/// introspecting it on every call) costs a hash instead of a signature check.
pub(super) struct VerifiedToken {
    pub(super) kid: String,
    pub(super) header: Map<String, Value>,
    pub(super) claims: Map<String, Value>,
}

/// Verified tokens by the SHA-256 of their compact form; at most [`VerifiedTokens::MAX`], then
/// started afresh (the snapshot is replaced every `cache_ttl_secs` anyway).
#[derive(Default)]
pub(super) struct VerifiedTokens(
    std::sync::Mutex<std::collections::HashMap<[u8; 32], Arc<VerifiedToken>>>,
);

impl VerifiedTokens {
    const MAX: usize = 4096;

    pub(super) fn digest(token: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes()).into()
    }

    pub(super) fn get(&self, digest: &[u8; 32]) -> Option<Arc<VerifiedToken>> {
        self.0.lock().ok()?.get(digest).cloned()
    }

    pub(super) fn put(&self, digest: [u8; 32], token: Arc<VerifiedToken>) {
        if let Ok(mut memo) = self.0.lock() {
            if memo.len() >= Self::MAX {
                memo.clear();
            }
            memo.insert(digest, token);
        }
    }
}

impl KeyRing {
    fn is_fresh(&self, snap: &Snapshot, now: UnixTime) -> bool {
        now >= snap.loaded_at && now - snap.loaded_at < self.settings.cache_ttl_secs
    }

    /// The cached keys, reloaded when stale. If the store cannot be reached, the previous keys
    /// are served (with a warning) rather than failing every token.
    pub(super) async fn snapshot(&self) -> Result<Arc<Snapshot>, KeyError> {
        if let Some(snap) = self.cache.read().await.as_ref()
            && self.is_fresh(snap, self.clock.now())
        {
            return Ok(Arc::clone(snap));
        }
        match self.reload(false).await {
            Ok(snap) => Ok(snap),
            Err(err) => match self.cache.read().await.as_ref() {
                Some(snap) => {
                    tracing::warn!(error = %err, "reloading signing keys failed; using cached keys");
                    Ok(Arc::clone(snap))
                }
                None => Err(err),
            },
        }
    }

    /// Loads the keys from the store (unless `force` is false and another task just did).
    pub(super) async fn reload(&self, force: bool) -> Result<Arc<Snapshot>, KeyError> {
        let mut guard = self.cache.write().await;
        let now = self.clock.now();
        if !force
            && let Some(snap) = guard.as_ref()
            && self.is_fresh(snap, now)
        {
            return Ok(Arc::clone(snap));
        }
        let rows = self.store.list_signing_keys().await?;
        let snap = Arc::new(self.build(rows, guard.as_deref(), now)?);
        *guard = Some(Arc::clone(&snap));
        Ok(snap)
    }

    fn build(
        &self,
        rows: Vec<SigningKey>,
        previous: Option<&Snapshot>,
        now: UnixTime,
    ) -> Result<Snapshot, KeyError> {
        let mut keys = Vec::with_capacity(rows.len());
        let mut seen = HashSet::new();
        for mut row in rows {
            if !seen.insert(row.kid.clone()) {
                continue;
            }
            let Ok(alg) = row.alg.parse::<Alg>() else {
                tracing::warn!(kid = %row.kid, alg = %row.alg, "ignoring signing key with unsupported algorithm");
                continue;
            };
            let needs_signer = !is_retired(&row, now) && is_published(&row, now);
            // Reuse what was already parsed (and decrypted) for this kid.
            let old = previous.and_then(|p| {
                p.keys
                    .iter()
                    .find(|k| k.meta.kid == row.kid && k.meta.public_jwk == row.public_jwk)
            });
            let (verifier, public) = match old {
                Some(o) => (Arc::clone(&o.verifier), o.public.clone()),
                None => {
                    let (v, p) = load_verifier(&row).map_err(KeyError::Crypto)?;
                    (Arc::from(v), p)
                }
            };
            let signer = match (needs_signer, old.and_then(|o| o.signer.as_ref())) {
                (false, _) => None,
                (true, Some(s)) => Some(Arc::clone(s)),
                // A key that may sign but cannot be opened is a configuration error (wrong
                // secret box key): fail loudly rather than silently creating other keys.
                (true, None) => Some(Arc::from(
                    load_signer(&row, &self.secret_box).map_err(KeyError::Crypto)?,
                )),
            };
            row.private_sealed = Vec::new();
            keys.push(LoadedKey {
                meta: row,
                alg,
                public,
                verifier,
                signer,
            });
        }
        Ok(Snapshot {
            loaded_at: now,
            keys,
            verified: VerifiedTokens::default(),
        })
    }

    /// Rate-limits reloads triggered by unknown kids (which anyone can send).
    pub(super) fn may_reload_for_unknown_kid(&self, now: UnixTime) -> bool {
        let last = self.last_unknown_kid_reload.load(Ordering::SeqCst);
        let due =
            last == i64::MIN || now < last || now - last >= self.settings.unknown_kid_reload_secs;
        due && self
            .last_unknown_kid_reload
            .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

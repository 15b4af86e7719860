//! Creating keys: the first ones at first start, and the next ones on rotation (published ahead
//! of signing, the old ones kept published until their tokens have expired).

use crate::audit::{Caller, kinds};
use std::collections::HashSet;

use crate::clock::{Entropy, UnixTime};
use crate::crypto::signing::{generate_material, seal_material};
use crate::crypto::{Alg, CryptoError, random_id};
use crate::store::SigningKey;

use super::policy::{KeyInfo, is_active, select, status};
use super::{KeyError, KeyRing};

impl KeyRing {
    async fn new_key(
        &self,
        alg: Alg,
        now: UnixTime,
        active_from: UnixTime,
        entropy: &dyn Entropy,
    ) -> Result<SigningKey, KeyError> {
        let material = tokio::task::spawn_blocking(move || generate_material(alg))
            .await
            .map_err(|e| {
                KeyError::Crypto(CryptoError::Internal(format!(
                    "key generation task failed: {e}"
                )))
            })??;
        Ok(seal_material(
            alg,
            random_id(entropy),
            now,
            active_from,
            &material,
            &self.secret_box,
            entropy,
        )?)
    }

    /// Creates an RS256 and/or ES256 key, active now, if there is none that can sign now (first
    /// start). Fails if existing keys cannot be opened with the configured secret box.
    pub async fn ensure_keys(&self, entropy: &dyn Entropy) -> Result<(), KeyError> {
        let snap = self.reload(true).await?;
        let now = self.clock.now();
        let mut created = false;
        for alg in Alg::ALL {
            let usable = snap
                .keys
                .iter()
                .any(|k| k.alg == alg && k.signer.is_some() && is_active(&k.meta, now));
            if usable {
                continue;
            }
            let key = self.new_key(alg, now, now, entropy).await?;
            self.store.insert_signing_key(&key, &[]).await?;
            tracing::info!(kid = %key.kid, alg = %alg, "created signing key");
            created = true;
        }
        if created {
            self.reload(true).await?;
        }
        Ok(())
    }

    /// For each algorithm: publishes a new key that signs from `now + publish_ahead_secs`,
    /// retires the keys it replaces at that instant and unpublishes them `keep_published_secs`
    /// later. Deletes keys whose `unpublish_at` has passed. Returns the new kids.
    pub async fn rotate(
        &self,
        entropy: &dyn Entropy,
        publish_ahead_secs: i64,
        keep_published_secs: i64,
        caller: &Caller,
    ) -> Result<Vec<String>, KeyError> {
        let now = self.clock.now();
        let rows = self.store.list_signing_keys().await?;
        let active_from = now + publish_ahead_secs.max(0);
        let unpublish_at = active_from + keep_published_secs.max(0);
        let mut kids = Vec::new();
        for alg in Alg::ALL {
            // Insert first, so there is never a moment without a key.
            let key = self.new_key(alg, now, active_from, entropy).await?;
            let event = caller
                .event(kinds::KEY_ROTATED)
                .detail("kid", key.kid.clone())
                .detail("alg", alg.as_str())
                .detail("active_from", active_from)
                .at(now);
            self.store.insert_signing_key(&key, &[event]).await?;
            for old in rows.iter().filter(|k| k.alg == alg.as_str()) {
                // Every key of this alg still signing (or scheduled to) at `active_from` hands
                // over then, including a `next` key from an earlier rotation.
                if old.retired_at.is_none_or(|r| r > active_from) {
                    let unpublish = old
                        .unpublish_at
                        .map_or(unpublish_at, |u| u.max(unpublish_at));
                    self.store
                        .retire_signing_key(&old.kid, active_from, unpublish)
                        .await?;
                }
            }
            tracing::info!(kid = %key.kid, alg = %alg, active_from, "published next signing key");
            kids.push(key.kid);
        }
        let deleted = self.store.delete_unpublished_keys(now).await?;
        if deleted > 0 {
            tracing::info!(deleted, "deleted unpublished signing keys");
        }
        self.reload(true).await?;
        Ok(kids)
    }

    /// Every stored key with its status, newest first (for the CLI).
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let rows = self.store.list_signing_keys().await?;
        let now = self.clock.now();
        let signing: HashSet<&str> = Alg::ALL
            .iter()
            .filter_map(|&alg| select(&rows, |k| k, |_| true, alg, now))
            .map(|k| k.kid.as_str())
            .collect();
        let mut out: Vec<KeyInfo> = rows
            .iter()
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                alg: k.alg.clone(),
                created_at: k.created_at,
                active_from: k.active_from,
                retired_at: k.retired_at,
                unpublish_at: k.unpublish_at,
                status: status(k, &signing, now),
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.alg, b.active_from, b.created_at).cmp(&(&b.alg, a.active_from, a.created_at))
        });
        Ok(out)
    }
}

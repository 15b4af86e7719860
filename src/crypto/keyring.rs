//! The set of signing keys shared by every server instance through the database: key selection,
//! JWKS, signing, verification, first-start creation and rotation.
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

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::{self, JwsHeader, JwsSigner, JwsVerifier};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::random::random_id;
use super::signing::{Alg, generate_material, jose_err, load_signer, load_verifier, seal_material};
use super::{CryptoError, SecretBox};
use crate::clock::{Clock, Entropy};
use crate::store::{SigningKey, Store, UnixTime};

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

/// One signing key as the CLI shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub created_at: UnixTime,
    pub active_from: UnixTime,
    pub retired_at: Option<UnixTime>,
    pub unpublish_at: Option<UnixTime>,
    /// `signing` (signs now), `next` (published, signs later) or `retired`.
    pub status: &'static str,
}

struct LoadedKey {
    /// The row without its sealed private key.
    meta: SigningKey,
    alg: Alg,
    public: Map<String, Value>,
    verifier: Arc<dyn JwsVerifier>,
    /// Only for keys that were not retired when loaded.
    signer: Option<Arc<dyn JwsSigner>>,
}

struct Snapshot {
    loaded_at: UnixTime,
    keys: Vec<LoadedKey>,
}

pub struct KeyRing {
    store: Arc<dyn Store>,
    secret_box: Arc<SecretBox>,
    clock: Arc<dyn Clock>,
    settings: KeyRingSettings,
    cache: RwLock<Option<Arc<Snapshot>>>,
    last_unknown_kid_reload: AtomicI64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn is_published(k: &SigningKey, now: UnixTime) -> bool {
    k.unpublish_at.is_none_or(|u| u > now)
}

fn is_retired(k: &SigningKey, now: UnixTime) -> bool {
    k.retired_at.is_some_and(|r| r <= now)
}

fn is_active(k: &SigningKey, now: UnixTime) -> bool {
    k.active_from <= now && !is_retired(k, now) && is_published(k, now)
}

/// The key of `alg` that signs at `now`: among active keys the one with the greatest
/// `active_from` (ties broken by `created_at`, then kid, so every instance picks the same); if
/// none is active, the newest published key that can sign.
fn select<T>(
    items: &[T],
    row: impl Fn(&T) -> &SigningKey,
    can_sign: impl Fn(&T) -> bool,
    alg: Alg,
    now: UnixTime,
) -> Option<&T> {
    let order = |k: &SigningKey| (k.active_from, k.created_at, k.kid.clone());
    let candidates = || {
        items.iter().filter(|t| {
            let k = row(t);
            k.alg == alg.as_str() && is_published(k, now) && !is_retired(k, now) && can_sign(t)
        })
    };
    candidates()
        .filter(|t| is_active(row(t), now))
        .max_by_key(|t| order(row(t)))
        .or_else(|| {
            candidates().max_by_key(|t| (row(t).created_at, row(t).active_from, row(t).kid.clone()))
        })
}

fn status(k: &SigningKey, signing: &HashSet<&str>, now: UnixTime) -> &'static str {
    if signing.contains(k.kid.as_str()) {
        "signing"
    } else if k.active_from > now
        && k.retired_at.is_none_or(|r| r > k.active_from)
        && is_published(k, now)
    {
        "next"
    } else {
        "retired"
    }
}

/// Decodes the protected header of a compact JWS without verifying anything.
pub(crate) fn peek_header(token: &str) -> Result<Map<String, Value>, CryptoError> {
    let bad = |what: &str| CryptoError::Signature(what.to_owned());
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a compact JWS"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| bad("malformed header"))?;
    serde_json::from_slice(&bytes).map_err(|_| bad("malformed header"))
}

/// For error messages: a kid from an untrusted token, shortened.
pub(crate) fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
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
        }
    }

    fn is_fresh(&self, snap: &Snapshot, now: UnixTime) -> bool {
        now >= snap.loaded_at && now - snap.loaded_at < self.settings.cache_ttl_secs
    }

    /// The cached keys, reloaded when stale. If the store cannot be reached, the previous keys
    /// are served (with a warning) rather than failing every token.
    async fn snapshot(&self) -> Result<Arc<Snapshot>, CryptoError> {
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
    async fn reload(&self, force: bool) -> Result<Arc<Snapshot>, CryptoError> {
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
    ) -> Result<Snapshot, CryptoError> {
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
                    let (v, p) = load_verifier(&row)?;
                    (Arc::from(v), p)
                }
            };
            let signer = match (needs_signer, old.and_then(|o| o.signer.as_ref())) {
                (false, _) => None,
                (true, Some(s)) => Some(Arc::clone(s)),
                // A key that may sign but cannot be opened is a configuration error (wrong
                // secret box key): fail loudly rather than silently creating other keys.
                (true, None) => Some(Arc::from(load_signer(&row, &self.secret_box)?)),
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
        })
    }

    async fn new_key(
        &self,
        alg: Alg,
        now: UnixTime,
        active_from: UnixTime,
        entropy: &dyn Entropy,
    ) -> Result<SigningKey, CryptoError> {
        let material = tokio::task::spawn_blocking(move || generate_material(alg))
            .await
            .map_err(|e| CryptoError::Internal(format!("key generation task failed: {e}")))??;
        seal_material(
            alg,
            random_id(entropy),
            now,
            active_from,
            &material,
            &self.secret_box,
            entropy,
        )
    }

    /// Creates an RS256 and/or ES256 key, active now, if there is none that can sign now (first
    /// start). Fails if existing keys cannot be opened with the configured secret box.
    pub async fn ensure_keys(&self, entropy: &dyn Entropy) -> Result<(), CryptoError> {
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
            self.store.insert_signing_key(&key).await?;
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
    ) -> Result<Vec<String>, CryptoError> {
        let now = self.clock.now();
        let rows = self.store.list_signing_keys().await?;
        let active_from = now + publish_ahead_secs.max(0);
        let unpublish_at = active_from + keep_published_secs.max(0);
        let mut kids = Vec::new();
        for alg in Alg::ALL {
            // Insert first, so there is never a moment without a key.
            let key = self.new_key(alg, now, active_from, entropy).await?;
            self.store.insert_signing_key(&key).await?;
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

    /// `{"keys": [...]}`: every published key (signing, next, or retired but not yet
    /// unpublished), public members only, one entry per kid. Fails only if the keys were never
    /// loaded and the store is unreachable (a stale cache is served otherwise).
    pub async fn jwks(&self) -> Result<Value, CryptoError> {
        let snap = self.snapshot().await?;
        let now = self.clock.now();
        let mut published: Vec<&LoadedKey> = snap
            .keys
            .iter()
            .filter(|k| is_published(&k.meta, now))
            .collect();
        published.sort_by(|a, b| {
            (a.alg, b.meta.active_from, &a.meta.kid).cmp(&(b.alg, a.meta.active_from, &b.meta.kid))
        });
        let keys: Vec<Value> = published
            .into_iter()
            .map(|k| Value::Object(k.public.clone()))
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// A compact JWS over `claims` with header `alg`, `kid` and, if given, `typ`.
    pub async fn sign(
        &self,
        alg: Alg,
        typ: Option<&str>,
        claims: &Map<String, Value>,
    ) -> Result<String, CryptoError> {
        let snap = self.snapshot().await?;
        let now = self.clock.now();
        let key = select(&snap.keys, |k| &k.meta, |k| k.signer.is_some(), alg, now)
            .ok_or_else(|| CryptoError::NoSigningKey(alg.as_str().to_owned()))?;
        let signer = key
            .signer
            .as_deref()
            .ok_or_else(|| CryptoError::NoSigningKey(alg.as_str().to_owned()))?;
        let mut header = JwsHeader::new();
        if let Some(typ) = typ {
            header.set_token_type(typ);
        }
        let payload = serde_json::to_vec(claims).map_err(|e| CryptoError::Jose(e.to_string()))?;
        jws::serialize_compact(&payload, &header, signer).map_err(jose_err)
    }

    /// The kid that `sign(alg, ..)` would use now.
    pub async fn signing_kid(&self, alg: Alg) -> Result<String, CryptoError> {
        let snap = self.snapshot().await?;
        select(
            &snap.keys,
            |k| &k.meta,
            |k| k.signer.is_some(),
            alg,
            self.clock.now(),
        )
        .map(|k| k.meta.kid.clone())
        .ok_or_else(|| CryptoError::NoSigningKey(alg.as_str().to_owned()))
    }

    /// Verifies a compact JWS signed by one of our published keys; returns `(header, claims)`.
    /// The header must name the key (`kid`) and its algorithm (`alg`); `none`, other algorithms
    /// and `crit` extensions are rejected. Does not check `exp`, `iss` or `aud`.
    pub async fn verify(
        &self,
        token: &str,
    ) -> Result<(Map<String, Value>, Map<String, Value>), CryptoError> {
        let header = peek_header(token)?;
        let alg = match header.get("alg") {
            Some(Value::String(a)) => a
                .parse::<Alg>()
                .map_err(|_| CryptoError::Signature(format!("unsupported alg {:?}", shorten(a))))?,
            _ => return Err(CryptoError::Signature("missing alg".into())),
        };
        let Some(Value::String(kid)) = header.get("kid") else {
            return Err(CryptoError::Signature("missing kid".into()));
        };

        let mut snap = self.snapshot().await?;
        let now = self.clock.now();
        let find = |snap: &Snapshot| {
            snap.keys
                .iter()
                .position(|k| k.meta.kid == *kid && is_published(&k.meta, now))
        };
        let mut found = find(&snap);
        if found.is_none() && self.may_reload_for_unknown_kid(now) {
            snap = self.reload(true).await?;
            found = find(&snap);
        }
        let key = &snap.keys[found.ok_or_else(|| CryptoError::UnknownKeyId(shorten(kid)))?];
        if key.alg != alg {
            return Err(CryptoError::Signature(format!(
                "alg {alg} does not match key {}",
                key.meta.kid
            )));
        }
        let (payload, _) = jws::deserialize_compact(token, &*key.verifier).map_err(|e| {
            CryptoError::Signature(format!("verification failed: {}", shorten(&e.to_string())))
        })?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload)
            .map_err(|_| CryptoError::Signature("payload is not a JSON object".into()))?;
        Ok((header, claims))
    }

    /// Rate-limits reloads triggered by unknown kids (which anyone can send).
    fn may_reload_for_unknown_kid(&self, now: UnixTime) -> bool {
        let last = self.last_unknown_kid_reload.load(Ordering::SeqCst);
        let due =
            last == i64::MIN || now < last || now - last >= self.settings.unknown_kid_reload_secs;
        due && self
            .last_unknown_kid_reload
            .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Every stored key with its status, newest first (for the CLI).
    pub async fn list(&self) -> Result<Vec<KeyInfo>, CryptoError> {
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

#[cfg(test)]
mod tests {
    use josekit::jwk::KeyPair;

    use super::*;
    use crate::clock::{ManualClock, OsEntropy};
    use crate::crypto::generate_signing_key;
    use crate::store::SqliteStore;

    const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

    async fn store() -> Arc<dyn Store> {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        Arc::new(store)
    }

    fn secret_box() -> Arc<SecretBox> {
        Arc::new(SecretBox::new(vec![("sb1".into(), [42; 32])], "sb1").unwrap())
    }

    async fn new_ring() -> (KeyRing, ManualClock, Arc<dyn Store>) {
        let clock = ManualClock::default();
        let store = store().await;
        let ring = KeyRing::new(Arc::clone(&store), secret_box(), Arc::new(clock.clone()));
        ring.ensure_keys(&OsEntropy).await.unwrap();
        (ring, clock, store)
    }

    fn claims(sub: &str) -> Map<String, Value> {
        serde_json::json!({"iss": "https://id.example", "sub": sub, "aud": "client", "exp": 2_000_000_000u32})
            .as_object()
            .unwrap()
            .clone()
    }

    fn kids(jwks: &Value) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[tokio::test]
    async fn ensure_keys_creates_one_key_per_alg_once() {
        let (ring, _clock, store) = new_ring().await;
        let rows = store.list_signing_keys().await.unwrap();
        assert_eq!(rows.len(), 2);
        let mut algs: Vec<_> = rows.iter().map(|k| k.alg.as_str()).collect();
        algs.sort();
        assert_eq!(algs, ["ES256", "RS256"]);
        ring.ensure_keys(&OsEntropy).await.unwrap();
        assert_eq!(store.list_signing_keys().await.unwrap().len(), 2);
        let list = ring.list().await.unwrap();
        assert!(list.iter().all(|k| k.status == "signing"), "{list:?}");
    }

    #[tokio::test]
    async fn jwks_is_public_only_with_unique_kids() {
        let (ring, _clock, _store) = new_ring().await;
        ring.rotate(&OsEntropy, 3600, 7200).await.unwrap();
        let jwks = ring.jwks().await.unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 4);
        let unique: HashSet<_> = kids(&jwks).into_iter().collect();
        assert_eq!(unique.len(), 4);
        for k in keys {
            let obj = k.as_object().unwrap();
            for m in PRIVATE_MEMBERS {
                assert!(!obj.contains_key(m), "private member {m} published: {k}");
            }
            assert_eq!(k["use"], "sig");
            match k["alg"].as_str().unwrap() {
                "RS256" => assert!(k["kty"] == "RSA" && k["n"].is_string() && k["e"] == "AQAB"),
                "ES256" => assert!(
                    k["kty"] == "EC"
                        && k["crv"] == "P-256"
                        && k["x"].is_string()
                        && k["y"].is_string()
                ),
                other => panic!("unexpected alg {other}"),
            }
        }
    }

    #[tokio::test]
    async fn sign_verify_round_trip() {
        let (ring, _clock, _store) = new_ring().await;
        for (alg, typ) in [
            (Alg::RS256, None),
            (Alg::ES256, Some("at+jwt")),
            (Alg::RS256, Some("logout+jwt")),
        ] {
            let token = ring.sign(alg, typ, &claims("user-1")).await.unwrap();
            let (header, got) = ring.verify(&token).await.unwrap();
            assert_eq!(got, claims("user-1"));
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], ring.signing_kid(alg).await.unwrap().as_str());
            assert_eq!(header.get("typ").and_then(Value::as_str), typ);
            assert_eq!(header.len(), 2 + usize::from(typ.is_some()), "{header:?}");
            // Any change to the payload breaks the signature.
            let parts: Vec<&str> = token.split('.').collect();
            let forged = format!(
                "{}.{}.{}",
                parts[0],
                b64(&Value::Object(claims("user-2"))),
                parts[2]
            );
            assert!(matches!(
                ring.verify(&forged).await,
                Err(CryptoError::Signature(_))
            ));
        }
        assert!(ring.verify("garbage").await.is_err());
        assert!(ring.verify("a.b.c.d").await.is_err());
        assert!(ring.verify("").await.is_err());
    }

    #[tokio::test]
    async fn foreign_keys_are_rejected() {
        let (ring, _clock, _store) = new_ring().await;
        // Signed by another deployment: its kid is unknown here.
        let (other, _c, _s) = new_ring().await;
        let token = other.sign(Alg::RS256, None, &claims("u")).await.unwrap();
        assert!(matches!(
            ring.verify(&token).await,
            Err(CryptoError::UnknownKeyId(_))
        ));

        // Signed by a foreign key that claims one of our kids.
        let our_kid = ring.signing_kid(Alg::ES256).await.unwrap();
        let pair = jws::ES256.generate_key_pair().unwrap();
        let mut signer = jws::ES256
            .signer_from_der(pair.to_der_private_key())
            .unwrap();
        signer.set_key_id(our_kid.clone());
        let payload = serde_json::to_vec(&claims("u")).unwrap();
        let token = jws::serialize_compact(&payload, &JwsHeader::new(), &signer).unwrap();
        assert!(matches!(
            ring.verify(&token).await,
            Err(CryptoError::Signature(_))
        ));
    }

    #[tokio::test]
    async fn alg_none_and_alg_confusion_are_rejected() {
        let (ring, _clock, _store) = new_ring().await;
        let rs_kid = ring.signing_kid(Alg::RS256).await.unwrap();
        let es_kid = ring.signing_kid(Alg::ES256).await.unwrap();
        let payload = b64(&Value::Object(claims("u")));
        let none = format!(
            "{}.{payload}.",
            b64(&serde_json::json!({"alg": "none", "kid": rs_kid}))
        );
        assert!(matches!(
            ring.verify(&none).await,
            Err(CryptoError::Signature(_))
        ));
        let none = format!("{}.{payload}.", b64(&serde_json::json!({"alg": "none"})));
        assert!(ring.verify(&none).await.is_err());

        // A genuine ES256 token relabelled as RS256 (or for the RS256 kid) fails.
        let token = ring.sign(Alg::ES256, None, &claims("u")).await.unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        for header in [
            serde_json::json!({"alg": "RS256", "kid": es_kid}),
            serde_json::json!({"alg": "ES256", "kid": rs_kid}),
        ] {
            let relabelled = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
            assert!(
                matches!(
                    ring.verify(&relabelled).await,
                    Err(CryptoError::Signature(_))
                ),
                "{header}"
            );
        }

        // HS256 keyed with the public JWK (classic confusion attack).
        let jwks = ring.jwks().await.unwrap();
        let public = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == rs_kid.as_str())
            .unwrap()
            .to_string();
        let mut hs = jws::HS256.signer_from_bytes(public.as_bytes()).unwrap();
        hs.set_key_id(rs_kid.clone());
        let token = jws::serialize_compact(
            &serde_json::to_vec(&claims("u")).unwrap(),
            &JwsHeader::new(),
            &hs,
        )
        .unwrap();
        assert!(matches!(
            ring.verify(&token).await,
            Err(CryptoError::Signature(_))
        ));

        // A token without kid.
        let token = ring.sign(Alg::RS256, None, &claims("u")).await.unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let no_kid = format!(
            "{}.{}.{}",
            b64(&serde_json::json!({"alg": "RS256"})),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            ring.verify(&no_kid).await,
            Err(CryptoError::Signature(_))
        ));

        // A critical header extension.
        let crit = format!(
            "{}.{}.{}",
            b64(&serde_json::json!({"alg": "RS256", "kid": rs_kid, "crit": ["b64"], "b64": false})),
            parts[1],
            parts[2]
        );
        assert!(ring.verify(&crit).await.is_err());
    }

    #[tokio::test]
    async fn rotation_publishes_before_signing_and_unpublishes_later() {
        let (ring, clock, store) = new_ring().await;
        let old_rs = ring.signing_kid(Alg::RS256).await.unwrap();
        let old_es = ring.signing_kid(Alg::ES256).await.unwrap();
        let old_token = ring.sign(Alg::RS256, None, &claims("u")).await.unwrap();

        let new = ring.rotate(&OsEntropy, 3600, 7200).await.unwrap();
        assert_eq!(new.len(), 2);
        // Published at once, but the old keys still sign.
        let published = kids(&ring.jwks().await.unwrap());
        assert!(new.iter().all(|k| published.contains(k)));
        assert_eq!(ring.signing_kid(Alg::RS256).await.unwrap(), old_rs);
        assert_eq!(ring.signing_kid(Alg::ES256).await.unwrap(), old_es);
        let statuses: Vec<(String, &str)> = ring
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.kid, k.status))
            .collect();
        for kid in &new {
            assert!(statuses.contains(&(kid.clone(), "next")), "{statuses:?}");
        }
        assert!(statuses.contains(&(old_rs.clone(), "signing")));

        // After the hand-over the new keys sign; the old ones still verify.
        clock.advance(3600);
        let new_rs = ring.signing_kid(Alg::RS256).await.unwrap();
        assert!(new.contains(&new_rs));
        assert!(new.contains(&ring.signing_kid(Alg::ES256).await.unwrap()));
        let token = ring.sign(Alg::RS256, None, &claims("u")).await.unwrap();
        assert_eq!(ring.verify(&token).await.unwrap().0["kid"], new_rs.as_str());
        ring.verify(&old_token).await.unwrap();
        assert!(kids(&ring.jwks().await.unwrap()).contains(&old_rs));
        let list = ring.list().await.unwrap();
        assert_eq!(
            list.iter().find(|k| k.kid == old_rs).unwrap().status,
            "retired"
        );
        assert_eq!(
            list.iter().find(|k| k.kid == new_rs).unwrap().status,
            "signing"
        );
        assert_eq!(
            list.iter().find(|k| k.kid == old_rs).unwrap().unpublish_at,
            Some(list[0].active_from.max(list[1].active_from) + 7200)
        );

        // Until unpublish_at. (ManualClock also follows real time, which moved during key
        // generation: steer relative to the stored instant, with a few seconds of slack.)
        let unpublish_at = list
            .iter()
            .find(|k| k.kid == old_rs)
            .unwrap()
            .unpublish_at
            .unwrap();
        clock.advance(unpublish_at - clock.now() - 5);
        assert!(kids(&ring.jwks().await.unwrap()).contains(&old_rs));
        clock.advance(5);
        let published = kids(&ring.jwks().await.unwrap());
        assert_eq!(published.len(), 2);
        assert!(!published.contains(&old_rs) && !published.contains(&old_es));
        assert!(matches!(
            ring.verify(&old_token).await,
            Err(CryptoError::UnknownKeyId(_))
        ));

        // The next rotation deletes the unpublished rows.
        assert_eq!(store.list_signing_keys().await.unwrap().len(), 4);
        ring.rotate(&OsEntropy, 0, 60).await.unwrap();
        let rows = store.list_signing_keys().await.unwrap();
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|k| k.kid != old_rs && k.kid != old_es));
    }

    #[tokio::test]
    async fn second_rotation_replaces_a_pending_key() {
        let (ring, clock, _store) = new_ring().await;
        let first = ring.rotate(&OsEntropy, 3600, 600).await.unwrap();
        let second = ring.rotate(&OsEntropy, 1800, 600).await.unwrap();
        clock.advance(1800);
        let signing = ring.signing_kid(Alg::RS256).await.unwrap();
        assert!(second.contains(&signing));
        clock.advance(1800);
        // The first pending key never takes over and is unpublished on schedule.
        assert_eq!(ring.signing_kid(Alg::RS256).await.unwrap(), signing);
        let published = kids(&ring.jwks().await.unwrap());
        assert!(
            first.iter().all(|k| !published.contains(k)),
            "{published:?}"
        );
    }

    #[tokio::test]
    async fn not_yet_active_key_is_a_fallback() {
        let clock = ManualClock::default();
        let store = store().await;
        let sb = secret_box();
        let now = clock.now();
        let key =
            generate_signing_key(Alg::ES256, "future".into(), now, now + 600, &sb, &OsEntropy)
                .unwrap();
        store.insert_signing_key(&key).await.unwrap();
        let ring = KeyRing::new(Arc::clone(&store), sb, Arc::new(clock.clone()));
        assert_eq!(ring.signing_kid(Alg::ES256).await.unwrap(), "future");
        assert!(matches!(
            ring.sign(Alg::RS256, None, &claims("u")).await,
            Err(CryptoError::NoSigningKey(_))
        ));
        // ensure_keys wants a key that is active now.
        ring.ensure_keys(&OsEntropy).await.unwrap();
        assert_ne!(ring.signing_kid(Alg::ES256).await.unwrap(), "future");
        ring.sign(Alg::RS256, None, &claims("u")).await.unwrap();
    }

    #[tokio::test]
    async fn instances_share_keys_through_the_store() {
        let clock = ManualClock::default();
        let store = store().await;
        let sb = secret_box();
        let a = KeyRing::new(Arc::clone(&store), Arc::clone(&sb), Arc::new(clock.clone()));
        let b = KeyRing::new(Arc::clone(&store), Arc::clone(&sb), Arc::new(clock.clone()));
        a.ensure_keys(&OsEntropy).await.unwrap();
        b.ensure_keys(&OsEntropy).await.unwrap();
        assert_eq!(store.list_signing_keys().await.unwrap().len(), 2);
        assert_eq!(a.jwks().await.unwrap(), b.jwks().await.unwrap());

        // B rotates with immediate hand-over; A still has the old keys cached but verifies B's
        // tokens after an early reload for the unknown kid.
        b.rotate(&OsEntropy, 0, 600).await.unwrap();
        let token = b.sign(Alg::ES256, None, &claims("u")).await.unwrap();
        a.verify(&token).await.unwrap();
        // Reloads for unknown kids are rate-limited.
        let (other, _c, _s) = new_ring().await;
        let foreign = other.sign(Alg::ES256, None, &claims("u")).await.unwrap();
        assert!(a.verify(&foreign).await.is_err());
        assert!(!a.may_reload_for_unknown_kid(clock.now()));
        clock.advance(5);
        assert!(a.may_reload_for_unknown_kid(clock.now()));

        // A picks up the new signing key once its cache expires.
        clock.advance(30);
        assert_eq!(
            a.signing_kid(Alg::ES256).await.unwrap(),
            b.signing_kid(Alg::ES256).await.unwrap()
        );
    }

    #[tokio::test]
    async fn wrong_secret_box_fails_loudly() {
        let (_ring, clock, store) = new_ring().await;
        let other_box = Arc::new(SecretBox::new(vec![("sb2".into(), [1; 32])], "sb2").unwrap());
        let ring = KeyRing::new(Arc::clone(&store), other_box, Arc::new(clock));
        let err = ring.ensure_keys(&OsEntropy).await.unwrap_err();
        assert!(err.to_string().contains("sb1"), "{err}");
        assert_eq!(store.list_signing_keys().await.unwrap().len(), 2);
    }
}

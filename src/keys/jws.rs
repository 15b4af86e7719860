//! Signing and verifying JWS with the instance's keys, and the JWKS that publishes them.

use std::sync::Arc;

use josekit::jws::{self, JwsHeader};
use serde_json::{Map, Value};

use crate::crypto::signing::jose_err;
use crate::crypto::{Alg, CryptoError, peek_header, shorten};

use super::cache::{LoadedKey, Snapshot, VerifiedToken, VerifiedTokens};
use super::policy::{is_published, select};
use super::{KeyError, KeyRing};

/// A JWK Set and what it was built from. Holding the snapshot keeps the pointer comparison
/// sound: a snapshot's address cannot be reused while it is held here.
pub(super) struct PublishedJwks {
    snapshot: Arc<Snapshot>,
    published: Vec<bool>,
    document: Arc<Value>,
}

impl KeyRing {
    /// `{"keys": [...]}`: every published key (signing, next, or retired but not yet
    /// unpublished), public members only, one entry per kid. Fails only if the keys were never
    /// loaded and the store is unreachable (a stale cache is served otherwise).
    pub async fn jwks(&self) -> Result<Value, KeyError> {
        Ok((*self.published_jwks().await?).clone())
    }

    /// The same document, built again only when the keys or the set of published ones change:
    /// every app fetches it, and a rotation is rare. The same `Arc` is returned while nothing
    /// changed, so callers can keep what they derived from it (its serialized bytes).
    pub async fn published_jwks(&self) -> Result<Arc<Value>, KeyError> {
        let snap = self.snapshot().await?;
        let now = self.clock.now();
        let published: Vec<bool> = snap
            .keys
            .iter()
            .map(|k| is_published(&k.meta, now))
            .collect();
        let mut last = self.published.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = last.as_ref()
            && Arc::ptr_eq(&last.snapshot, &snap)
            && last.published == published
        {
            return Ok(Arc::clone(&last.document));
        }
        let mut keys: Vec<&LoadedKey> = snap
            .keys
            .iter()
            .zip(&published)
            .filter(|(_, published)| **published)
            .map(|(k, _)| k)
            .collect();
        keys.sort_by(|a, b| {
            (a.alg, b.meta.active_from, &a.meta.kid).cmp(&(b.alg, a.meta.active_from, &b.meta.kid))
        });
        let keys: Vec<Value> = keys
            .into_iter()
            .map(|k| Value::Object(k.public.clone()))
            .collect();
        let document = Arc::new(serde_json::json!({ "keys": keys }));
        *last = Some(PublishedJwks {
            snapshot: snap,
            published,
            document: Arc::clone(&document),
        });
        Ok(document)
    }

    /// A compact JWS over `claims` with header `alg`, `kid` and, if given, `typ`.
    pub async fn sign(
        &self,
        alg: Alg,
        typ: Option<&str>,
        claims: &Map<String, Value>,
    ) -> Result<String, KeyError> {
        let snap = self.snapshot().await?;
        let now = self.clock.now();
        let key = select(&snap.keys, |k| &k.meta, |k| k.signer.is_some(), alg, now)
            .ok_or_else(|| KeyError::Crypto(CryptoError::NoSigningKey(alg.as_str().to_owned())))?;
        let signer = key
            .signer
            .as_deref()
            .ok_or_else(|| KeyError::Crypto(CryptoError::NoSigningKey(alg.as_str().to_owned())))?;
        let mut header = JwsHeader::new();
        if let Some(typ) = typ {
            header.set_token_type(typ);
        }
        let payload = serde_json::to_vec(claims)
            .map_err(|e| KeyError::Crypto(CryptoError::Jose(e.to_string())))?;
        jws::serialize_compact(&payload, &header, signer).map_err(|e| KeyError::Crypto(jose_err(e)))
    }

    /// The kid that `sign(alg, ..)` would use now.
    pub async fn signing_kid(&self, alg: Alg) -> Result<String, KeyError> {
        let snap = self.snapshot().await?;
        select(
            &snap.keys,
            |k| &k.meta,
            |k| k.signer.is_some(),
            alg,
            self.clock.now(),
        )
        .map(|k| k.meta.kid.clone())
        .ok_or_else(|| KeyError::Crypto(CryptoError::NoSigningKey(alg.as_str().to_owned())))
    }

    /// Verifies a compact JWS signed by one of our published keys; returns `(header, claims)`.
    /// The header must name the key (`kid`) and its algorithm (`alg`); `none`, other algorithms
    /// and `crit` extensions are rejected. Does not check `exp`, `iss` or `aud`.
    pub async fn verify(
        &self,
        token: &str,
    ) -> Result<(Map<String, Value>, Map<String, Value>), KeyError> {
        let digest = VerifiedTokens::digest(token);
        let snap = self.snapshot().await?;
        if let Some(known) = snap.verified.get(&digest) {
            let now = self.clock.now();
            // The key that verified it must still be published.
            if snap
                .keys
                .iter()
                .any(|k| k.meta.kid == known.kid && is_published(&k.meta, now))
            {
                return Ok((known.header.clone(), known.claims.clone()));
            }
        }
        let header = peek_header(token).map_err(KeyError::Crypto)?;
        let alg = match header.get("alg") {
            Some(Value::String(a)) => a.parse::<Alg>().map_err(|_| {
                KeyError::Crypto(CryptoError::Signature(format!(
                    "unsupported alg {:?}",
                    shorten(a)
                )))
            })?,
            _ => {
                return Err(KeyError::Crypto(CryptoError::Signature(
                    "missing alg".into(),
                )));
            }
        };
        let Some(Value::String(kid)) = header.get("kid") else {
            return Err(KeyError::Crypto(CryptoError::Signature(
                "missing kid".into(),
            )));
        };

        let mut snap = snap;
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
        let key = &snap.keys
            [found.ok_or_else(|| KeyError::Crypto(CryptoError::UnknownKeyId(shorten(kid))))?];
        if key.alg != alg {
            return Err(KeyError::Crypto(CryptoError::Signature(format!(
                "alg {alg} does not match key {}",
                key.meta.kid
            ))));
        }
        let (payload, _) = jws::deserialize_compact(token, &*key.verifier).map_err(|e| {
            KeyError::Crypto(CryptoError::Signature(format!(
                "verification failed: {}",
                shorten(&e.to_string())
            )))
        })?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload).map_err(|_| {
            KeyError::Crypto(CryptoError::Signature(
                "payload is not a JSON object".into(),
            ))
        })?;
        snap.verified.put(
            digest,
            Arc::new(VerifiedToken {
                kid: key.meta.kid.clone(),
                header: header.clone(),
                claims: claims.clone(),
            }),
        );
        Ok((header, claims))
    }
}

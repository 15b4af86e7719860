//! Clients' own public keys (RFC 7523 `private_key_jwt`): checking a registered JWK Set and
//! verifying a client assertion with it.

use josekit::jwk::{Jwk, JwkSet};
use josekit::jws::{self, JwsVerifier};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Map, Value};

use crate::clock::UnixTime;

use super::CryptoError;
use super::jws_header::{peek_header, shorten};

/// Signature algorithms accepted for client assertions.
pub const CLIENT_ASSERTION_ALGS: &[&str] = &["RS256", "PS256", "ES256"];

/// Private members that must never be registered (the server would hold the client's secret).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Parses and checks a JWK Set given as JSON text; returns it normalised (compact JSON).
/// Only public RSA or EC keys are allowed.
pub fn validate_jwks_text(text: &str) -> Result<String, CryptoError> {
    let bad = |why: String| CryptoError::InvalidKey(why);
    let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("a JWK Set needs a \"keys\" array".into()))?;
    if keys.is_empty() {
        return Err(bad("the JWK Set has no keys".into()));
    }
    for key in keys {
        let object = key
            .as_object()
            .ok_or_else(|| bad("every key must be a JSON object".into()))?;
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
            return Err(bad(format!(
                "a key contains the private member {member:?}; register public keys only"
            )));
        }
        match object.get("kty").and_then(Value::as_str) {
            Some("RSA") | Some("EC") => {}
            other => return Err(bad(format!("unsupported key type {other:?} (RSA or EC)"))),
        }
        Jwk::from_map(object.clone()).map_err(|e| bad(format!("unusable key ({e})")))?;
    }
    serde_json::to_string(&value).map_err(|e| bad(e.to_string()))
}

/// A JWS header and its claims.
pub type HeaderAndClaims = (Map<String, Value>, Map<String, Value>);

/// Verifies a compact JWS with a key from `jwks` (JSON text); returns `(header, claims)`.
/// The key is picked by `kid` when the header has one, otherwise it must be the only key that
/// fits the algorithm. `none`, HMAC and `crit` are refused. Claims are not checked here.
pub fn verify_with_jwks(token: &str, jwks: &str) -> Result<HeaderAndClaims, CryptoError> {
    let header = peek_header(token)?;
    if header.contains_key("crit") {
        return Err(CryptoError::Signature("crit is not supported".into()));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .filter(|a| CLIENT_ASSERTION_ALGS.contains(a))
        .ok_or_else(|| CryptoError::Signature("unsupported or missing alg".into()))?;
    let set = JwkSet::from_bytes(jwks.as_bytes()).map_err(|e| CryptoError::Jose(e.to_string()))?;
    let kty = if alg.starts_with("ES") { "EC" } else { "RSA" };
    let kid = header.get("kid").and_then(Value::as_str);
    let candidates: Vec<&Jwk> = set
        .keys()
        .into_iter()
        .filter(|k| k.key_type() == kty)
        .filter(|k| kid.is_none_or(|kid| k.key_id() == Some(kid)))
        .filter(|k| k.algorithm().is_none_or(|a| a == alg))
        .filter(|k| k.key_use().is_none_or(|u| u == "sig"))
        .collect();
    let key = match (candidates.as_slice(), kid) {
        ([key], _) => *key,
        ([], Some(kid)) => return Err(CryptoError::UnknownKeyId(shorten(kid))),
        ([], None) => return Err(CryptoError::Signature("no key fits the alg".into())),
        (_, _) => {
            return Err(CryptoError::Signature(
                "several keys fit; the header must name one with kid".into(),
            ));
        }
    };
    let verifier = verifier_for(key, alg)?;
    let (payload, _) = jws::deserialize_compact(token, &*verifier).map_err(|e| {
        CryptoError::Signature(format!("verification failed: {}", shorten(&e.to_string())))
    })?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| CryptoError::Signature("payload is not a JSON object".into()))?;
    Ok((header, claims))
}

type SharedVerifier = Arc<dyn JwsVerifier>;
type MakeVerifier = fn(&Jwk) -> Result<SharedVerifier, josekit::JoseError>;

/// Verifiers made from registered keys, by key and algorithm. Making one from a JWK has OpenSSL
/// decode the key, which costs several times the signature check itself. Only keys of registered
/// sets get here (a header cannot bring its own), so the map stays small; it is emptied if it
/// ever holds [`MAX_CACHED_VERIFIERS`].
static VERIFIERS: LazyLock<Mutex<HashMap<(String, &'static str), SharedVerifier>>> =
    LazyLock::new(Default::default);
const MAX_CACHED_VERIFIERS: usize = 1024;

fn verifier_for(key: &Jwk, alg: &str) -> Result<SharedVerifier, CryptoError> {
    let (alg, make): (&'static str, MakeVerifier) = match alg {
        "RS256" => ("RS256", |k| Ok(Arc::new(jws::RS256.verifier_from_jwk(k)?))),
        "PS256" => ("PS256", |k| Ok(Arc::new(jws::PS256.verifier_from_jwk(k)?))),
        _ => ("ES256", |k| Ok(Arc::new(jws::ES256.verifier_from_jwk(k)?))),
    };
    // The key is chosen by the caller; josekit would also demand a header kid equal to the key's.
    let mut members = key.as_ref().clone();
    members.remove("kid");
    let id = (serde_json::to_string(&members).unwrap_or_default(), alg);
    let cache = || VERIFIERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(verifier) = cache().get(&id) {
        return Ok(Arc::clone(verifier));
    }
    let unusable = |e: josekit::JoseError| CryptoError::InvalidKey(e.to_string());
    let verifier = make(&Jwk::from_map(members).map_err(unusable)?).map_err(unusable)?;
    let mut cache = cache();
    if cache.len() >= MAX_CACHED_VERIFIERS {
        cache.clear();
    }
    cache.insert(id, Arc::clone(&verifier));
    Ok(verifier)
}

// ---------------------------------------------------------------------------------------------
// The cache of JWK Sets fetched from clients' `jwks_uri`
//
// A client assertion arrives before the client is authenticated, so anyone can send one naming
// any client: a set is kept for [`JWKS_CACHE_SECS`], and a fetch (failed or not) is not repeated
// within [`MIN_REFETCH_SECS`], even for an assertion naming a key the cached set lacks (the one
// reason to fetch early: the client rotated its keys).

/// How long a fetched JWK Set is used before it is fetched again.
pub const JWKS_CACHE_SECS: i64 = 300;
/// The shortest time between two fetches for one client.
pub const MIN_REFETCH_SECS: i64 = 60;
/// The largest JWK Set accepted from a `jwks_uri`.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

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

    /// Counts a fetch about to be made.
    pub fn count_fetch(&self) {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Decides under the lock whether this caller fetches; marks the attempt so concurrent
    /// callers do not fetch too. Returns the cached set and whether to fetch.
    pub fn plan(
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

    pub fn store(&self, client_id: &str, uri: &str, jwks: String, now: UnixTime) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(client_id)
            && entry.uri == uri
        {
            entry.jwks = Some(jwks);
            entry.fetched_at = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwk::KeyPair;
    use josekit::jwk::alg::ec::EcCurve;
    use josekit::jws::JwsHeader;

    fn es256_pair() -> josekit::jwk::alg::ec::EcKeyPair {
        jws::ES256.generate_key_pair().unwrap()
    }

    fn sign(pair: &josekit::jwk::alg::ec::EcKeyPair, kid: Option<&str>, claims: &str) -> String {
        let mut header = JwsHeader::new();
        header.set_algorithm("ES256");
        if let Some(kid) = kid {
            header.set_key_id(kid);
        }
        let signer = jws::ES256
            .signer_from_jwk(&pair.to_jwk_private_key())
            .unwrap();
        jws::serialize_compact(claims.as_bytes(), &header, &signer).unwrap()
    }

    fn jwks_of(pair: &josekit::jwk::alg::ec::EcKeyPair, kid: &str) -> String {
        let mut jwk = pair.to_jwk_public_key();
        jwk.set_key_id(kid);
        format!(
            "{{\"keys\":[{}]}}",
            serde_json::to_string(jwk.as_ref()).unwrap()
        )
    }

    #[test]
    fn verifies_with_the_named_key_and_refuses_others() {
        let _ = EcCurve::P256;
        let pair = es256_pair();
        let jwks = validate_jwks_text(&jwks_of(&pair, "k1")).unwrap();
        let token = sign(&pair, Some("k1"), r#"{"iss":"c"}"#);
        let (_, claims) = verify_with_jwks(&token, &jwks).unwrap();
        assert_eq!(claims["iss"], "c");
        // Without kid the single fitting key is used.
        assert!(verify_with_jwks(&sign(&pair, None, "{}"), &jwks).is_ok());
        // Unknown kid, other key, tampered payload.
        assert!(matches!(
            verify_with_jwks(&sign(&pair, Some("k2"), "{}"), &jwks),
            Err(CryptoError::UnknownKeyId(_))
        ));
        let other = es256_pair();
        assert!(verify_with_jwks(&sign(&other, Some("k1"), "{}"), &jwks).is_err());
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = "eyJpc3MiOiJ4In0";
        assert!(verify_with_jwks(&parts.join("."), &jwks).is_err());
    }

    #[test]
    fn registered_sets_must_be_public_rsa_or_ec() {
        let pair = es256_pair();
        let private = format!(
            "{{\"keys\":[{}]}}",
            serde_json::to_string(pair.to_jwk_private_key().as_ref()).unwrap()
        );
        assert!(validate_jwks_text(&private).is_err());
        assert!(validate_jwks_text(r#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#).is_err());
        assert!(validate_jwks_text(r#"{"keys":[]}"#).is_err());
        assert!(validate_jwks_text("not json").is_err());
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        let pair = es256_pair();
        let jwks = jwks_of(&pair, "k1");
        let none = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJjIn0.";
        assert!(verify_with_jwks(none, &jwks).is_err());
        let hs = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJjIn0.c2ln";
        assert!(verify_with_jwks(hs, &jwks).is_err());
    }

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

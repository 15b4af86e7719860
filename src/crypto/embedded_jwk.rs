//! A JWS signed by the public key in its own header (`jwk`), as DPoP proofs are (RFC 9449 §4.2),
//! and the key's RFC 7638 thumbprint, which is what tokens are bound to (`cnf.jkt`).
//!
//! The key comes from whoever sent the request, so it is checked before OpenSSL sees it: a public
//! key of a supported type only (no private members), RSA of at least 2048 bits.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::CryptoError;
use super::jws_header::peek_header;

/// The algorithms a proof may be signed with: asymmetric only (RFC 9449 §4.2 forbids `none` and
/// MACs).
pub const EMBEDDED_KEY_ALGS: &[&str] = &["ES256", "PS256", "RS256", "EdDSA"];

/// Members a private key has and a public one must not (RFC 7517 §9.2, RFC 7518 §6).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The shortest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// A verified JWS: its header, its claims and the thumbprint of the key that signed it.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// RFC 7638 SHA-256 thumbprint of the header's `jwk`, base64url.
    pub thumbprint: String,
}

/// Verifies `token` with the public key in its header. `typ` must equal `expected_typ`
/// (compared case-insensitively, RFC 7515 §4.1.9).
pub fn verify_self_signed(token: &str, expected_typ: &str) -> Result<SelfSigned, CryptoError> {
    let bad = |what: &str| CryptoError::Signature(what.to_owned());
    let header = peek_header(token)?;
    if header
        .get("typ")
        .and_then(Value::as_str)
        .is_none_or(|typ| !typ.eq_ignore_ascii_case(expected_typ))
    {
        return Err(bad("wrong typ"));
    }
    if header.contains_key("crit") {
        return Err(bad("crit is not supported"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .filter(|a| EMBEDDED_KEY_ALGS.contains(a))
        .ok_or_else(|| bad("unsupported or missing alg"))?;
    let members = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("the header has no jwk"))?;
    let thumbprint = thumbprint(members)?;
    check_key_fits(members, alg)?;
    let verifier = verifier_for(members, alg, &thumbprint)?;
    let (payload, _) = jws::deserialize_compact(token, &*verifier)
        .map_err(|_| bad("the signature does not verify"))?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&payload).map_err(|_| bad("payload is not a JSON object"))?;
    Ok(SelfSigned {
        header,
        claims,
        thumbprint,
    })
}

/// RFC 7638: SHA-256 over the key's required members in lexicographic order, no whitespace.
pub fn thumbprint(members: &Map<String, Value>) -> Result<String, CryptoError> {
    let bad = |what: &str| CryptoError::InvalidKey(what.to_owned());
    let required: &[&str] = match members.get("kty").and_then(Value::as_str) {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("RSA") => &["e", "kty", "n"],
        Some("OKP") => &["crv", "kty", "x"],
        _ => return Err(bad("unsupported kty")),
    };
    let mut canonical = Map::new();
    for name in required {
        let value = members
            .get(*name)
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a required key member is missing"))?;
        canonical.insert((*name).to_string(), Value::String(value.to_string()));
    }
    // `required` lists the names in lexicographic order, and a serde_json Map keeps either
    // that order (`preserve_order`) or sorts by key: both give RFC 7638's order.
    let json = serde_json::to_string(&canonical).map_err(|e| bad(&e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes())))
}

/// The key is public and of the type and size the algorithm needs.
fn check_key_fits(members: &Map<String, Value>, alg: &str) -> Result<(), CryptoError> {
    let bad = |what: &str| CryptoError::InvalidKey(what.to_owned());
    if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
        return Err(bad("the jwk holds private key material"));
    }
    let kty = members.get("kty").and_then(Value::as_str);
    let crv = members.get("crv").and_then(Value::as_str);
    match alg {
        "ES256" if kty == Some("EC") && crv == Some("P-256") => Ok(()),
        "EdDSA" if kty == Some("OKP") && crv == Some("Ed25519") => Ok(()),
        "RS256" | "PS256" if kty == Some("RSA") => {
            let modulus = members
                .get("n")
                .and_then(Value::as_str)
                .and_then(|n| URL_SAFE_NO_PAD.decode(n).ok())
                .ok_or_else(|| bad("malformed RSA modulus"))?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(bad("RSA keys must have at least 2048 bits"));
            }
            Ok(())
        }
        _ => Err(bad("the jwk does not fit the alg")),
    }
}

type SharedVerifier = Arc<dyn JwsVerifier>;

/// Verifiers by key thumbprint and algorithm: a client signs every proof with the same key, and
/// having OpenSSL decode a key costs several times the signature check. Anyone can send a key,
/// so the map is emptied whenever it reaches [`MAX_CACHED_VERIFIERS`].
static VERIFIERS: LazyLock<Mutex<HashMap<(String, &'static str), SharedVerifier>>> =
    LazyLock::new(Default::default);
const MAX_CACHED_VERIFIERS: usize = 4096;

fn verifier_for(
    members: &Map<String, Value>,
    alg: &str,
    thumbprint: &str,
) -> Result<SharedVerifier, CryptoError> {
    type Make = fn(&Jwk) -> Result<SharedVerifier, josekit::JoseError>;
    let (alg, make): (&'static str, Make) = match alg {
        "RS256" => ("RS256", |k| Ok(Arc::new(jws::RS256.verifier_from_jwk(k)?))),
        "PS256" => ("PS256", |k| Ok(Arc::new(jws::PS256.verifier_from_jwk(k)?))),
        "EdDSA" => ("EdDSA", |k| Ok(Arc::new(jws::EdDSA.verifier_from_jwk(k)?))),
        _ => ("ES256", |k| Ok(Arc::new(jws::ES256.verifier_from_jwk(k)?))),
    };
    let id = (thumbprint.to_string(), alg);
    let cache = || VERIFIERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(verifier) = cache().get(&id) {
        return Ok(Arc::clone(verifier));
    }
    // Only the members the thumbprint covers: `kid`, `alg` or `use` in a proof's key would make
    // josekit demand matching header values, which RFC 9449 does not ask for.
    let mut public = Map::new();
    for (name, value) in members {
        if matches!(name.as_str(), "kty" | "crv" | "x" | "y" | "n" | "e") {
            public.insert(name.clone(), value.clone());
        }
    }
    let unusable = |_| CryptoError::InvalidKey("the jwk is not a usable public key".into());
    let verifier = make(&Jwk::from_map(public).map_err(unusable)?).map_err(unusable)?;
    let mut cache = cache();
    if cache.len() >= MAX_CACHED_VERIFIERS {
        cache.clear();
    }
    cache.insert(id, Arc::clone(&verifier));
    Ok(verifier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
    use josekit::jws::JwsHeader;
    use serde_json::json;

    fn sign(pair: &EcKeyPair, header_jwk: Value, typ: &str, claims: &Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_claim("jwk", Some(header_jwk)).unwrap();
        let signer = jws::ES256
            .signer_from_jwk(&pair.to_jwk_private_key())
            .unwrap();
        jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap()
    }

    fn public_members(pair: &EcKeyPair) -> Value {
        Value::Object(pair.to_jwk_public_key().as_ref().clone())
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let key = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(key.as_object().unwrap()).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn verifies_with_the_header_key_and_gives_its_thumbprint() {
        let pair = EcKeyPair::generate(EcCurve::P256).unwrap();
        let token = sign(
            &pair,
            public_members(&pair),
            "dpop+jwt",
            &json!({"jti": "1"}),
        );
        let verified = verify_self_signed(&token, "dpop+jwt").unwrap();
        assert_eq!(verified.claims["jti"], "1");
        assert_eq!(
            verified.thumbprint,
            thumbprint(public_members(&pair).as_object().unwrap()).unwrap()
        );
    }

    #[test]
    fn refuses_another_key_private_keys_and_wrong_typ() {
        let pair = EcKeyPair::generate(EcCurve::P256).unwrap();
        let other = EcKeyPair::generate(EcCurve::P256).unwrap();
        let claims = json!({"jti": "1"});
        let forged = sign(&pair, public_members(&other), "dpop+jwt", &claims);
        assert!(verify_self_signed(&forged, "dpop+jwt").is_err());
        let private = Value::Object(pair.to_jwk_private_key().as_ref().clone());
        let leaked = sign(&pair, private, "dpop+jwt", &claims);
        assert!(verify_self_signed(&leaked, "dpop+jwt").is_err());
        let wrong_typ = sign(&pair, public_members(&pair), "JWT", &claims);
        assert!(verify_self_signed(&wrong_typ, "dpop+jwt").is_err());
    }

    #[test]
    fn refuses_none_hmac_and_a_missing_key() {
        let header = |h: Value| URL_SAFE_NO_PAD.encode(h.to_string());
        let body = URL_SAFE_NO_PAD.encode(b"{}");
        for h in [
            json!({"typ": "dpop+jwt", "alg": "none", "jwk": {"kty": "EC"}}),
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "AA"}}),
            json!({"typ": "dpop+jwt", "alg": "ES256"}),
        ] {
            let token = format!("{}.{body}.AAAA", header(h));
            assert!(verify_self_signed(&token, "dpop+jwt").is_err());
        }
    }
}

//! Clients' own public keys (RFC 7523 `private_key_jwt`): checking a registered JWK Set and
//! verifying a client assertion with it.

use josekit::jwk::{Jwk, JwkSet};
use josekit::jws::{self, JwsVerifier};
use serde_json::{Map, Value};

use super::CryptoError;
use super::keyring::{peek_header, shorten};

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
    let unusable = |e: josekit::JoseError| CryptoError::InvalidKey(e.to_string());
    // The key is chosen above; josekit would also demand a header kid equal to the key's.
    let mut members = key.as_ref().clone();
    members.remove("kid");
    let key = &Jwk::from_map(members).map_err(unusable)?;
    let verifier: Box<dyn JwsVerifier> = match alg {
        "RS256" => Box::new(jws::RS256.verifier_from_jwk(key).map_err(unusable)?),
        "PS256" => Box::new(jws::PS256.verifier_from_jwk(key).map_err(unusable)?),
        _ => Box::new(jws::ES256.verifier_from_jwk(key).map_err(unusable)?),
    };
    let (payload, _) = jws::deserialize_compact(token, &*verifier).map_err(|e| {
        CryptoError::Signature(format!("verification failed: {}", shorten(&e.to_string())))
    })?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| CryptoError::Signature("payload is not a JSON object".into()))?;
    Ok((header, claims))
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
}

//! Signing-key material: generation, the public JWK, and loading signers/verifiers from a stored
//! [`SigningKey`] row. Everything josekit stays inside `crypto`.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{self, JwsSigner, JwsVerifier};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{CryptoError, SecretBox};
use crate::clock::Entropy;
use crate::clock::UnixTime;

/// A signing key as every instance shares it through the database: the private part sealed
/// with the secret box, the public JWK, and its lifecycle times.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SigningKey {
    pub kid: String,
    /// `RS256` or `ES256`.
    pub alg: String,
    /// Private key (PKCS#8 DER) sealed with the secret box.
    pub private_sealed: Vec<u8>,
    /// Public JWK as JSON text (kid, alg, use included).
    pub public_jwk: String,
    pub created_at: UnixTime,
    /// Published from creation; signs only from this time on, so verifiers have fetched it first.
    pub active_from: UnixTime,
    /// Stops signing at this time (set when a newer key takes over).
    pub retired_at: Option<UnixTime>,
    /// Removed from the JWKS after this time (tokens it signed have expired).
    pub unpublish_at: Option<UnixTime>,
}

/// The JWS algorithms we sign with.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA 2048 (the OpenID Connect default).
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::RS256, Alg::ES256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(Alg::RS256),
            "ES256" => Ok(Alg::ES256),
            other => Err(CryptoError::InvalidKey(format!(
                "unsupported signing algorithm {other:?}"
            ))),
        }
    }
}

pub(crate) fn jose_err(e: josekit::JoseError) -> CryptoError {
    CryptoError::Jose(e.to_string())
}

/// A freshly generated private key (PKCS#8 DER) and its public JWK members.
pub(crate) struct KeyMaterial {
    pub pkcs8_der: Zeroizing<Vec<u8>>,
    pub public: Jwk,
}

/// Generates a key pair (CPU-bound: ~0.1 s for RSA 2048; run it on a blocking thread from async
/// code). Uses OpenSSL's generator.
pub(crate) fn generate_material(alg: Alg) -> Result<KeyMaterial, CryptoError> {
    let (pem, public) = match alg {
        Alg::RS256 => {
            let pair = jws::RS256.generate_key_pair(2048).map_err(jose_err)?;
            (
                Zeroizing::new(pair.to_pem_private_key()),
                pair.to_jwk_public_key(),
            )
        }
        Alg::ES256 => {
            let pair = jws::ES256.generate_key_pair().map_err(jose_err)?;
            (
                Zeroizing::new(pair.to_pem_private_key()),
                pair.to_jwk_public_key(),
            )
        }
    };
    Ok(KeyMaterial {
        pkcs8_der: pkcs8_pem_to_der(&pem)?,
        public,
    })
}

/// The body of a `-----BEGIN PRIVATE KEY-----` PEM block, i.e. PKCS#8 DER.
fn pkcs8_pem_to_der(pem: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let bad = || CryptoError::InvalidKey("generated private key is not PKCS#8 PEM".into());
    let text = std::str::from_utf8(pem).map_err(|_| bad())?;
    if !text.trim_start().starts_with("-----BEGIN PRIVATE KEY-----") {
        return Err(bad());
    }
    let body = Zeroizing::new(
        text.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect::<String>(),
    );
    STANDARD
        .decode(body.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| bad())
}

/// The public JWK we publish: `kty`, `kid`, `use`, `alg` and the public members only.
pub(crate) fn public_jwk(
    alg: Alg,
    kid: &str,
    jwk: &Jwk,
) -> Result<Map<String, Value>, CryptoError> {
    let mut out = Map::new();
    out.insert("kty".into(), Value::String(jwk.key_type().to_owned()));
    out.insert("kid".into(), Value::String(kid.to_owned()));
    out.insert("use".into(), Value::String("sig".into()));
    out.insert("alg".into(), Value::String(alg.as_str().into()));
    let members: &[&str] = match alg {
        Alg::RS256 => &["n", "e"],
        Alg::ES256 => &["crv", "x", "y"],
    };
    for &m in members {
        match jwk.parameter(m) {
            Some(v @ Value::String(_)) => {
                out.insert(m.to_owned(), v.clone());
            }
            _ => {
                return Err(CryptoError::InvalidKey(format!(
                    "public JWK of key {kid} lacks {m}"
                )));
            }
        }
    }
    Ok(out)
}

/// Re-filters a stored public JWK so that nothing but public members can ever be published.
pub(crate) fn sanitize_public_jwk(stored: &Map<String, Value>) -> Map<String, Value> {
    const PUBLIC: [&str; 9] = ["kty", "kid", "use", "alg", "n", "e", "crv", "x", "y"];
    stored
        .iter()
        .filter(|(k, _)| PUBLIC.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Generates a key and returns the row to store: the private key (PKCS#8 DER) sealed with the
/// secret box under AAD = kid, and the public JWK as JSON text. Published from `now`; signs from
/// `active_from`.
pub fn generate_signing_key(
    alg: Alg,
    kid: String,
    now: UnixTime,
    active_from: UnixTime,
    secret_box: &SecretBox,
    entropy: &dyn Entropy,
) -> Result<SigningKey, CryptoError> {
    let material = generate_material(alg)?;
    seal_material(alg, kid, now, active_from, &material, secret_box, entropy)
}

pub(crate) fn seal_material(
    alg: Alg,
    kid: String,
    now: UnixTime,
    active_from: UnixTime,
    material: &KeyMaterial,
    secret_box: &SecretBox,
    entropy: &dyn Entropy,
) -> Result<SigningKey, CryptoError> {
    let public = public_jwk(alg, &kid, &material.public)?;
    Ok(SigningKey {
        private_sealed: secret_box.seal(entropy, &material.pkcs8_der, kid.as_bytes()),
        public_jwk: Value::Object(public).to_string(),
        kid,
        alg: alg.as_str().to_owned(),
        created_at: now,
        active_from,
        retired_at: None,
        unpublish_at: None,
    })
}

/// Opens the sealed private key of `key` and returns a signer that puts its kid in the header.
pub(crate) fn load_signer(
    key: &SigningKey,
    secret_box: &SecretBox,
) -> Result<Box<dyn JwsSigner>, CryptoError> {
    let alg: Alg = key.alg.parse()?;
    let der = Zeroizing::new(
        secret_box
            .open(&key.private_sealed, key.kid.as_bytes())
            .map_err(|e| match e {
                CryptoError::UnknownKeyId(id) => CryptoError::InvalidKey(format!(
                    "signing key {} is sealed with unknown secret box key {id}",
                    key.kid
                )),
                _ => {
                    CryptoError::InvalidKey(format!("signing key {} cannot be decrypted", key.kid))
                }
            })?,
    );
    let invalid =
        || CryptoError::InvalidKey(format!("signing key {} is not a valid {alg} key", key.kid));
    Ok(match alg {
        Alg::RS256 => {
            let mut s = jws::RS256.signer_from_der(&*der).map_err(|_| invalid())?;
            s.set_key_id(key.kid.clone());
            Box::new(s)
        }
        Alg::ES256 => Box::new(
            super::es256_signer::Es256Signer::from_pkcs8_der(&der, key.kid.clone())
                .map_err(|_| invalid())?,
        ),
    })
}

/// A verifier and the sanitized public JWK.
pub(crate) type PublicKey = (Box<dyn JwsVerifier>, Map<String, Value>);

/// A verifier from the stored public JWK (no need to open the private key).
pub(crate) fn load_verifier(key: &SigningKey) -> Result<PublicKey, CryptoError> {
    let alg: Alg = key.alg.parse()?;
    let invalid =
        || CryptoError::InvalidKey(format!("public JWK of signing key {} is invalid", key.kid));
    let map: Map<String, Value> = serde_json::from_str(&key.public_jwk).map_err(|_| invalid())?;
    let public = sanitize_public_jwk(&map);
    let jwk = Jwk::from_map(public.clone()).map_err(|_| invalid())?;
    let verifier: Box<dyn JwsVerifier> = match alg {
        Alg::RS256 => {
            let mut v = jws::RS256.verifier_from_jwk(&jwk).map_err(|_| invalid())?;
            v.set_key_id(key.kid.clone());
            Box::new(v)
        }
        Alg::ES256 => {
            let mut v = jws::ES256.verifier_from_jwk(&jwk).map_err(|_| invalid())?;
            v.set_key_id(key.kid.clone());
            Box::new(v)
        }
    };
    Ok((verifier, public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsEntropy;

    fn sb() -> SecretBox {
        SecretBox::new(vec![("k1".into(), [9; 32])], "k1").unwrap()
    }

    #[test]
    fn alg_round_trip() {
        for alg in Alg::ALL {
            assert_eq!(alg.as_str().parse::<Alg>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.as_str());
        }
        assert!("none".parse::<Alg>().is_err());
        assert!("HS256".parse::<Alg>().is_err());
    }

    #[test]
    fn generated_keys_are_sealed_and_public_only() {
        let sb = sb();
        for (alg, kty, members) in [
            (Alg::RS256, "RSA", &["n", "e"][..]),
            (Alg::ES256, "EC", &["crv", "x", "y"][..]),
        ] {
            let key = generate_signing_key(alg, "kid-1".into(), 100, 200, &sb, &OsEntropy).unwrap();
            assert_eq!(
                (key.kid.as_str(), key.alg.as_str()),
                ("kid-1", alg.as_str())
            );
            assert_eq!(
                (
                    key.created_at,
                    key.active_from,
                    key.retired_at,
                    key.unpublish_at
                ),
                (100, 200, None, None)
            );
            assert_eq!(SecretBox::key_id_of(&key.private_sealed), Some("k1"));
            let jwk: Map<String, Value> = serde_json::from_str(&key.public_jwk).unwrap();
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["kid"], "kid-1");
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk.len(), 4 + members.len(), "{jwk:?}");
            for m in members {
                let v = jwk[*m].as_str().unwrap();
                assert!(
                    !v.contains('=') && !v.contains('+') && !v.contains('/'),
                    "{m}={v}"
                );
            }
            if alg == Alg::RS256 {
                assert_eq!(jwk["e"], "AQAB");
                assert_eq!(
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(jwk["n"].as_str().unwrap())
                        .unwrap()
                        .len(),
                    256
                );
            } else {
                assert_eq!(jwk["crv"], "P-256");
            }
            // The sealed private key is PKCS#8 DER bound to the kid.
            let der = sb.open(&key.private_sealed, b"kid-1").unwrap();
            assert_eq!(der[0], 0x30);
            assert!(sb.open(&key.private_sealed, b"kid-2").is_err());
            let signer = load_signer(&key, &sb).unwrap();
            let (verifier, _) = load_verifier(&key).unwrap();
            let sig = signer.sign(b"message").unwrap();
            assert_eq!(sig.len(), signer.signature_len());
            verifier.verify(b"message", &sig).unwrap();
            assert_eq!(signer.key_id(), Some("kid-1"));
            assert_eq!(signer.algorithm().name(), alg.as_str());
            assert!(verifier.verify(b"messagf", &sig).is_err());
        }
    }

    #[test]
    fn sealed_key_cannot_move_to_another_kid() {
        let sb = sb();
        let mut key = generate_signing_key(Alg::ES256, "a".into(), 0, 0, &sb, &OsEntropy).unwrap();
        key.kid = "b".into();
        let err = load_signer(&key, &sb).unwrap_err();
        assert!(matches!(err, CryptoError::InvalidKey(_)), "{err}");
        let other = SecretBox::new(vec![("k2".into(), [9; 32])], "k2").unwrap();
        key.kid = "a".into();
        assert!(
            load_signer(&key, &other)
                .unwrap_err()
                .to_string()
                .contains("k1")
        );
    }

    #[test]
    fn sanitize_drops_private_members() {
        let stored: Map<String, Value> =
            serde_json::from_str(r#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"SECRET","kid":"k","alg":"ES256","use":"sig"}"#)
                .unwrap();
        let clean = sanitize_public_jwk(&stored);
        assert!(!clean.contains_key("d"));
        assert_eq!(clean.len(), 7);
    }
}

//! DPoP (RFC 9449): checking a proof of possession against the request it came with, the server
//! nonces (§8, §9), and the `jti` replay check (§11.1).
//!
//! Nonces are stateless, so every instance accepts every other instance's: an HMAC of the current
//! [`NONCE_PERIOD_SECS`] window under a key derived from the server's secret. A nonce is accepted
//! in its own window and the next one. Replayed `jti`s are remembered in memory, per instance, for
//! as long as their proof's `iat` is inside the accepted window; a client that must not have its
//! proofs replayed at another instance asks for nonces (`require_dpop_nonce`), which bound a
//! proof's life to at most two windows everywhere.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::UnixTime;
use crate::crypto::embedded_jwk::{EMBEDDED_KEY_ALGS, verify_self_signed};
use crate::crypto::{KeyedHash, constant_time_eq, sha256_b64url};

/// The `typ` of a proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";
/// How far a proof's `iat` may be from now, either way.
pub const IAT_WINDOW_SECS: i64 = 60;
/// How long a server nonce window lasts; a nonce is good in its window and the next.
pub const NONCE_PERIOD_SECS: i64 = 60;
/// Longest proof accepted: a proof with an RSA-4096 key is about 1.5 KiB.
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest `jti` accepted (RFC 9449 asks for 96 bits of randomness; this leaves room for UUIDs
/// and the like).
const MAX_JTI_CHARS: usize = 128;
/// The most `jti`s remembered at once. Beyond it proofs are refused rather than forgotten.
const MAX_REMEMBERED_JTIS: usize = 500_000;

/// The algorithms proofs may be signed with, for discovery.
pub fn signing_algs() -> &'static [&'static str] {
    EMBEDDED_KEY_ALGS
}

/// The `DPoP` headers of a request, as the web layer found them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PresentedProof {
    #[default]
    Absent,
    One(String),
    /// More than one `DPoP` header (RFC 9449 §4.3 allows exactly one), or one that is not text.
    Malformed,
}

impl PresentedProof {
    pub fn from_header_values<'a>(mut values: impl Iterator<Item = Option<&'a str>>) -> Self {
        match (values.next(), values.next()) {
            (None, _) => PresentedProof::Absent,
            (Some(Some(proof)), None) => PresentedProof::One(proof.trim().to_string()),
            // Not visible ASCII, or repeated.
            _ => PresentedProof::Malformed,
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, PresentedProof::Absent)
    }
}

/// What the proof must say about the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    /// The request's method (`htm`).
    pub method: &'a str,
    /// The request's URL without query or fragment (`htu`).
    pub url: &'a str,
    /// The access token the request presented (`ath`), at a protected resource.
    pub access_token: Option<&'a str>,
    /// The proof must carry a nonce from this server.
    pub nonce_required: bool,
}

/// Why a proof was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// `invalid_dpop_proof`.
    #[error("invalid DPoP proof: {0}")]
    Invalid(&'static str),
    /// `use_dpop_nonce`: try again with this nonce (RFC 9449 §8).
    #[error("a DPoP nonce is required")]
    UseNonce { nonce: String },
}

/// Checks proofs; one per server process.
pub struct DpopVerifier {
    nonce_key: KeyedHash,
    seen: Mutex<SeenJtis>,
}

impl std::fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopVerifier(..)")
    }
}

impl DpopVerifier {
    /// `secret` is the server's HMAC secret; nonces use a key derived from it, so every instance
    /// sharing the secret makes and accepts the same nonces.
    pub fn new(secret: &[u8]) -> Self {
        DpopVerifier {
            nonce_key: KeyedHash::new_with_context(secret, b"dpop-nonce"),
            seen: Mutex::new(SeenJtis::default()),
        }
    }

    /// The nonce to hand out now (`DPoP-Nonce`).
    pub fn nonce(&self, now: UnixTime) -> String {
        self.nonce_of_window(now.div_euclid(NONCE_PERIOD_SECS))
    }

    fn nonce_of_window(&self, window: i64) -> String {
        URL_SAFE_NO_PAD.encode(&self.nonce_key.hash(&window.to_be_bytes())[..16])
    }

    fn nonce_is_fresh(&self, nonce: &str, now: UnixTime) -> bool {
        let window = now.div_euclid(NONCE_PERIOD_SECS);
        [window, window - 1]
            .iter()
            .any(|w| constant_time_eq(nonce.as_bytes(), self.nonce_of_window(*w).as_bytes()))
    }

    /// Checks `proof` against the request (RFC 9449 §4.3) and returns the thumbprint of its key
    /// (`jkt`). A proof that passes is used up: the same `jti` is refused until it would be too
    /// old anyway.
    pub fn check(
        &self,
        proof: &str,
        request: &ProofContext<'_>,
        now: UnixTime,
    ) -> Result<String, ProofError> {
        use ProofError::Invalid;
        if proof.len() > MAX_PROOF_BYTES {
            return Err(Invalid("the proof is too long"));
        }
        let verified = verify_self_signed(proof, PROOF_TYP)
            .map_err(|_| Invalid("the proof is not a JWT signed by the key in its header"))?;
        let claims = &verified.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let jti = text("jti")
            .filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_CHARS)
            .ok_or(Invalid("jti is missing or too long"))?;
        if text("htm") != Some(request.method) {
            return Err(Invalid("htm does not match the request method"));
        }
        if !text("htu").is_some_and(|htu| same_resource(htu, request.url)) {
            return Err(Invalid("htu does not match the request URL"));
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or(Invalid("iat is missing"))?;
        if (now - iat).abs() > IAT_WINDOW_SECS {
            return Err(Invalid("iat is too far from the current time"));
        }
        if request.nonce_required && !text("nonce").is_some_and(|n| self.nonce_is_fresh(n, now)) {
            return Err(ProofError::UseNonce {
                nonce: self.nonce(now),
            });
        }
        if let Some(token) = request.access_token {
            let expected = sha256_b64url(token.as_bytes());
            if !text("ath").is_some_and(|ath| constant_time_eq(ath.as_bytes(), expected.as_bytes()))
            {
                return Err(Invalid("ath does not match the access token"));
            }
        }
        let key = replay_key(&verified.thumbprint, jti);
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remember(key, iat + IAT_WINDOW_SECS + 1, now)?;
        Ok(verified.thumbprint)
    }
}

/// Whether `htu` names the same resource as `url`, ignoring query and fragment (RFC 9449
/// §4.3 check 9), after URL normalisation (case of scheme and host, default ports).
fn same_resource(htu: &str, url: &str) -> bool {
    let strip = |raw: &str| {
        url::Url::parse(raw).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u
        })
    };
    matches!((strip(htu), strip(url)), (Some(a), Some(b)) if a == b)
}

fn replay_key(jkt: &str, jti: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(jkt.as_bytes());
    digest.update(b" ");
    digest.update(jti.as_bytes());
    digest.finalize().into()
}

/// `jti`s of accepted proofs, each until its proof is too old to be accepted again.
#[derive(Debug, Default)]
struct SeenJtis {
    until: HashMap<[u8; 32], UnixTime>,
    next_sweep: UnixTime,
}

impl SeenJtis {
    fn remember(
        &mut self,
        key: [u8; 32],
        until: UnixTime,
        now: UnixTime,
    ) -> Result<(), ProofError> {
        if now >= self.next_sweep || self.until.len() >= MAX_REMEMBERED_JTIS {
            self.until.retain(|_, expires| *expires > now);
            self.next_sweep = now + IAT_WINDOW_SECS;
        }
        if self.until.get(&key).is_some_and(|expires| *expires > now) {
            return Err(ProofError::Invalid("the proof was used before"));
        }
        if self.until.len() >= MAX_REMEMBERED_JTIS {
            return Err(ProofError::Invalid("too many proofs; try again shortly"));
        }
        self.until.insert(key, until);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

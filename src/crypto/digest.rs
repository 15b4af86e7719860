//! Unkeyed digests: token hashes for storage, PKCE S256, `at_hash`/`c_hash`, and constant-time
//! comparison.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

/// SHA-256 as lower-case hex (how codes, refresh tokens and session cookies are stored).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// SHA-256 as base64url without padding (PKCE `S256`: `BASE64URL(SHA256(code_verifier))`).
pub fn sha256_b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(data))
}

/// `at_hash` / `c_hash` (OpenID Connect Core 3.1.3.6 / 3.3.2.11): the left half of the hash of
/// the ASCII value, base64url without padding. The hash is the one of the JWS `alg`: SHA-384 for
/// `*384`, SHA-512 for `*512` (and `EdDSA`), SHA-256 otherwise.
pub fn left_half_hash_b64url(alg: &str, value: &str) -> String {
    let digest: Vec<u8> = if alg.ends_with("384") {
        Sha384::digest(value.as_bytes()).to_vec()
    } else if alg.ends_with("512") || alg == "EdDSA" {
        Sha512::digest(value.as_bytes()).to_vec()
    } else {
        Sha256::digest(value.as_bytes()).to_vec()
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// Compares in time independent of where the inputs differ (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 7636 appendix B.
        assert_eq!(
            sha256_b64url(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn at_hash_known_answers() {
        // OpenID Connect Core A.3/A.4 example access token (values checked with python3 hashlib).
        let at = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(left_half_hash_b64url("RS256", at), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(left_half_hash_b64url("ES256", at), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(
            left_half_hash_b64url("ES384", "abc"),
            "ywB1P0WjXou1oD1pmsZQBycsMqsO3tFj"
        );
        assert_eq!(
            left_half_hash_b64url("RS512", "abc"),
            "3a81oZNherrMQXNJriBBMRLm-k6JqX6iCp7u5ktV05o"
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}

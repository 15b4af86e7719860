//! HMAC-SHA256 with a server secret: client secret hashes, CSRF tokens and the personnummer
//! blind index.
//!
//! Client secrets are 256-bit random tokens, so a fast keyed hash is the right tool (a slow
//! password hash would only add latency); the key means a database dump alone does not allow
//! even offline guessing.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct KeyedHash {
    key: Zeroizing<Vec<u8>>,
}

/// A blind index is a keyed hash under its own derived key:
/// `BlindIndex::new_with_context(secret, b"blind-index")`.
pub type BlindIndex = KeyedHash;

impl std::fmt::Debug for KeyedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHash(..)")
    }
}

impl KeyedHash {
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: Zeroizing::new(key.to_vec()),
        }
    }

    /// Uses the subkey `HMAC(key, context)`, so one configured secret can serve several purposes
    /// whose hashes can never be confused with each other.
    pub fn new_with_context(key: &[u8], context: &[u8]) -> Self {
        let subkey = Zeroizing::new(Self::new(key).hash(context));
        Self::new(&subkey[..])
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length")
    }

    /// The raw 32-byte MAC.
    pub fn hash(&self, value: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// The MAC as lower-case hex.
    pub fn hash_hex(&self, value: &[u8]) -> String {
        hex::encode(self.hash(value))
    }

    /// Whether `expected_hex` is the MAC of `value`, compared in constant time. Malformed hex is
    /// simply `false`.
    pub fn verify_hex(&self, value: &[u8], expected_hex: &str) -> bool {
        let Ok(expected) = hex::decode(expected_hex.trim()) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(value);
        mac.verify_slice(&expected).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2() {
        let h = KeyedHash::new(b"Jefe");
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(h.hash_hex(b"what do ya want for nothing?"), expected);
        assert!(h.verify_hex(b"what do ya want for nothing?", expected));
        assert!(h.verify_hex(b"what do ya want for nothing?", &expected.to_uppercase()));
        assert!(!h.verify_hex(b"what do ya want for nothing!", expected));
        assert!(!h.verify_hex(b"what do ya want for nothing?", &expected[..62]));
        assert!(!h.verify_hex(b"what do ya want for nothing?", "not hex"));
        assert!(!h.verify_hex(b"what do ya want for nothing?", ""));
    }

    #[test]
    fn context_derives_a_separate_key() {
        let plain = KeyedHash::new(b"secret");
        let blind = BlindIndex::new_with_context(b"secret", b"blind-index");
        let other = KeyedHash::new_with_context(b"secret", b"csrf");
        assert_ne!(plain.hash_hex(b"x"), blind.hash_hex(b"x"));
        assert_ne!(blind.hash_hex(b"x"), other.hash_hex(b"x"));
        // The subkey is HMAC(key, context).
        let subkey = plain.hash(b"blind-index");
        assert_eq!(KeyedHash::new(&subkey).hash_hex(b"x"), blind.hash_hex(b"x"));
        assert_eq!(format!("{blind:?}"), "KeyedHash(..)");
    }
}

//! Authenticated encryption of data at rest (signing keys, later other secrets) with AES-256-GCM
//! and named keys, so the encryption key can be rotated without re-encrypting everything at once.
//!
//! Sealed format (self-describing):
//!
//! ```text
//! 0x01 | key-id length (u8) | key-id bytes | 12-byte random nonce | ciphertext + 16-byte tag
//! ```
//!
//! The header (version and key id) is authenticated together with the caller's AAD, so neither
//! can be altered without `open` failing.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use super::CryptoError;
use crate::clock::Entropy;

const VERSION: u8 = 0x01;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

pub struct SecretBox {
    /// `(key id, cipher)`; a handful at most, so a linear search is fine.
    keys: Vec<(String, Aes256Gcm)>,
    active: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field(
                "key_ids",
                &self
                    .keys
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("active", &self.active)
            .finish()
    }
}

impl SecretBox {
    /// `keys` are `(key id, 32-byte key)`; `active` names the one new data is sealed with. Key ids
    /// are 1–255 printable ASCII characters and must be unique.
    pub fn new(keys: Vec<(String, [u8; 32])>, active: &str) -> Result<Self, CryptoError> {
        let mut ciphers: Vec<(String, Aes256Gcm)> = Vec::with_capacity(keys.len());
        for (id, key) in keys {
            let key = Zeroizing::new(key);
            if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(CryptoError::InvalidKey(format!(
                    "secret box key id {id:?} must be 1-255 printable ASCII characters"
                )));
            }
            if ciphers.iter().any(|(existing, _)| *existing == id) {
                return Err(CryptoError::InvalidKey(format!(
                    "duplicate secret box key id {id:?}"
                )));
            }
            ciphers.push((id, Aes256Gcm::new((&*key).into())));
        }
        if !ciphers.iter().any(|(id, _)| id == active) {
            return Err(CryptoError::UnknownKeyId(active.to_owned()));
        }
        Ok(Self {
            keys: ciphers,
            active: active.to_owned(),
        })
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// All key ids this box can open.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    fn cipher(&self, key_id: &str) -> Option<&Aes256Gcm> {
        self.keys
            .iter()
            .find(|(id, _)| id == key_id)
            .map(|(_, c)| c)
    }

    /// Encrypts with the active key and a fresh random nonce. `aad` is bound to the result and
    /// must be given again to `open` (e.g. the row's primary key, so sealed values cannot be
    /// swapped between rows).
    pub fn seal(&self, entropy: &dyn Entropy, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let cipher = self
            .cipher(&self.active)
            .expect("active key checked in new()");
        let header_len = 2 + self.active.len();
        let mut out = Vec::with_capacity(header_len + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.push(self.active.len() as u8);
        out.extend_from_slice(self.active.as_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce);
        out.extend_from_slice(&nonce);
        let full_aad = [&out[..header_len], aad].concat();
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &full_aad,
                },
            )
            .expect("AES-GCM encryption only fails for inputs of many gigabytes");
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Seals `value` as JSON (queued messages and jobs: the row id is the `aad`). Those types
    /// are structs of strings, which always serialise; were one not to, the empty plaintext would
    /// fail to open as JSON later rather than pass for a value.
    pub fn seal_json<T: serde::Serialize>(
        &self,
        entropy: &dyn Entropy,
        value: &T,
        aad: &[u8],
    ) -> Vec<u8> {
        let json = Zeroizing::new(serde_json::to_vec(value).unwrap_or_default());
        self.seal(entropy, &json, aad)
    }

    /// Opens what [`SecretBox::seal_json`] sealed.
    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<T, CryptoError> {
        let json = Zeroizing::new(self.open(sealed, aad)?);
        serde_json::from_slice(&json)
            .map_err(|e| CryptoError::Internal(format!("sealed JSON does not parse: {e}")))
    }

    /// Decrypts with the key named in `sealed`. Fails with `UnknownKeyId` if that key is not
    /// configured, and with `Decrypt` for anything malformed, tampered or sealed under other AAD.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (key_id, header_len) = parse_header(sealed).ok_or(CryptoError::Decrypt)?;
        let cipher = self
            .cipher(key_id)
            .ok_or_else(|| CryptoError::UnknownKeyId(key_id.to_owned()))?;
        let rest = &sealed[header_len..];
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let full_aad = [&sealed[..header_len], aad].concat();
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &full_aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }

    /// The key id embedded in sealed data (to find values still sealed with an old key).
    pub fn key_id_of(sealed: &[u8]) -> Option<&str> {
        parse_header(sealed).map(|(id, _)| id)
    }
}

/// `(key id, header length)` if `sealed` starts with a well-formed header.
fn parse_header(sealed: &[u8]) -> Option<(&str, usize)> {
    if sealed.first() != Some(&VERSION) {
        return None;
    }
    let id_len = *sealed.get(1)? as usize;
    let id = sealed.get(2..2 + id_len)?;
    if id.is_empty() || !id.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some((std::str::from_utf8(id).ok()?, 2 + id_len))
}

/// Parses a 32-byte key from base64 (standard or URL-safe alphabet, padded or not). The error
/// never echoes the input.
pub fn parse_key(b64: &str) -> Result<[u8; 32], CryptoError> {
    let b64 = b64.trim();
    let decoded = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(b64).ok())
        .map(Zeroizing::new)
        .ok_or_else(|| CryptoError::InvalidKey("secret box key is not valid base64".into()))?;
    <[u8; 32]>::try_from(&decoded[..]).map_err(|_| {
        CryptoError::InvalidKey(format!(
            "secret box key must be 32 bytes, got {}",
            decoded.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsEntropy;

    fn boxed(keys: &[(&str, u8)], active: &str) -> SecretBox {
        SecretBox::new(
            keys.iter()
                .map(|(id, b)| (id.to_string(), [*b; 32]))
                .collect(),
            active,
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_format() {
        let sb = boxed(&[("k1", 1)], "k1");
        let sealed = sb.seal(&OsEntropy, b"hello", b"row-1");
        assert_eq!(sealed[0], 0x01);
        assert_eq!(sealed[1], 2);
        assert_eq!(&sealed[2..4], b"k1");
        assert_eq!(sealed.len(), 4 + 12 + 5 + 16);
        assert_eq!(SecretBox::key_id_of(&sealed), Some("k1"));
        assert_eq!(sb.open(&sealed, b"row-1").unwrap(), b"hello");
        // Fresh nonce every time.
        assert_ne!(sb.seal(&OsEntropy, b"hello", b"row-1"), sealed);
        let empty = sb.seal(&OsEntropy, b"", b"");
        assert_eq!(sb.open(&empty, b"").unwrap(), b"");
    }

    #[test]
    fn wrong_aad_fails() {
        let sb = boxed(&[("k1", 1)], "k1");
        let sealed = sb.seal(&OsEntropy, b"hello", b"row-1");
        assert!(matches!(
            sb.open(&sealed, b"row-2"),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(sb.open(&sealed, b""), Err(CryptoError::Decrypt)));
    }

    #[test]
    fn tampering_fails() {
        let sb = boxed(&[("k1", 1), ("k2", 2)], "k1");
        let sealed = sb.seal(&OsEntropy, b"hello world", b"aad");
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(
                sb.open(&t, b"aad").is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
        // Pointing the header at another configured key fails too.
        let mut t = sealed.clone();
        t[3] = b'2';
        assert!(matches!(sb.open(&t, b"aad"), Err(CryptoError::Decrypt)));
        for len in 0..sealed.len() {
            assert!(
                sb.open(&sealed[..len], b"aad").is_err(),
                "truncation to {len} went unnoticed"
            );
        }
        assert!(SecretBox::key_id_of(&[]).is_none());
        assert!(SecretBox::key_id_of(&[0x02, 1, b'a']).is_none());
    }

    #[test]
    fn key_rotation_keeps_old_data_readable() {
        let old = boxed(&[("2024", 1)], "2024");
        let sealed_old = old.seal(&OsEntropy, b"secret", b"x");
        let new = boxed(&[("2024", 1), ("2025", 2)], "2025");
        assert_eq!(new.active_key_id(), "2025");
        assert_eq!(new.open(&sealed_old, b"x").unwrap(), b"secret");
        let sealed_new = new.seal(&OsEntropy, b"secret", b"x");
        assert_eq!(SecretBox::key_id_of(&sealed_new), Some("2025"));
        assert_eq!(new.open(&sealed_new, b"x").unwrap(), b"secret");
    }

    #[test]
    fn unknown_key_id_is_named() {
        let a = boxed(&[("alpha", 1)], "alpha");
        let b = boxed(&[("beta", 1)], "beta");
        let sealed = a.seal(&OsEntropy, b"top secret", b"");
        let err = b.open(&sealed, b"").unwrap_err();
        assert!(matches!(&err, CryptoError::UnknownKeyId(id) if id == "alpha"));
        let msg = err.to_string();
        assert!(msg.contains("alpha") && !msg.contains("top secret"));
    }

    #[test]
    fn construction_is_validated() {
        assert!(matches!(
            SecretBox::new(vec![("a".into(), [0; 32])], "b"),
            Err(CryptoError::UnknownKeyId(_))
        ));
        assert!(SecretBox::new(vec![("a".into(), [0; 32]), ("a".into(), [1; 32])], "a").is_err());
        assert!(SecretBox::new(vec![("".into(), [0; 32])], "").is_err());
        assert!(SecretBox::new(vec![("a b".into(), [0; 32])], "a b").is_err());
        assert!(SecretBox::new(vec![("x".repeat(256), [0; 32])], &"x".repeat(256)).is_err());
        let sb = boxed(&[("a", 7)], "a");
        assert!(!format!("{sb:?}").contains("7"));
    }

    #[test]
    fn parse_key_accepts_both_alphabets() {
        let key: [u8; 32] = core::array::from_fn(|i| (i * 8 + 3) as u8 | 0xf8);
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            assert_eq!(parse_key(&engine.encode(key)).unwrap(), key);
        }
        assert_eq!(
            parse_key(&format!(" {}\n", STANDARD.encode(key))).unwrap(),
            key
        );
        let err = parse_key(&STANDARD.encode([1u8; 31])).unwrap_err();
        assert!(err.to_string().contains("31"));
        assert!(parse_key(&STANDARD.encode([1u8; 33])).is_err());
        assert!(parse_key("not base64!").is_err());
        assert!(parse_key("").is_err());
    }
}

//! Random identifiers and secrets, base64url without padding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::Entropy;

/// 256 random bits as 43 base64url characters: authorization codes, refresh tokens, session
/// cookies, client secrets.
pub fn random_token(entropy: &dyn Entropy) -> String {
    random_b64url::<32>(entropy)
}

/// 128 random bits as 22 base64url characters: public identifiers (`sid`, `jti`, key ids,
/// pending request ids) that need uniqueness, not secrecy.
pub fn random_id(entropy: &dyn Entropy) -> String {
    random_b64url::<16>(entropy)
}

fn random_b64url<const N: usize>(entropy: &dyn Entropy) -> String {
    let mut buf = zeroize::Zeroizing::new([0u8; N]);
    entropy.fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(&buf[..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsEntropy;

    #[test]
    fn lengths_and_alphabet() {
        let t = random_token(&OsEntropy);
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&t).unwrap().len(), 32);
        let id = random_id(&OsEntropy);
        assert_eq!(id.len(), 22);
        assert_eq!(URL_SAFE_NO_PAD.decode(&id).unwrap().len(), 16);
        assert_ne!(random_token(&OsEntropy), t);
    }

    #[test]
    fn uses_the_given_entropy() {
        struct Zeros;
        impl Entropy for Zeros {
            fn fill(&self, buf: &mut [u8]) {
                buf.fill(0);
            }
        }
        assert_eq!(random_id(&Zeros), "AAAAAAAAAAAAAAAAAAAAAA");
    }
}

//! Cryptography: signing keys, secret box, keyed hashes (client secrets, CSRF, blind index),
//! passwords and random tokens.
//!
//! - [`random`]: 256-bit tokens and 128-bit ids from an injected [`Entropy`](crate::clock::Entropy).
//! - [`digest`]: SHA-256 for stored token hashes and PKCE, `at_hash`/`c_hash`, constant-time
//!   comparison.
//! - [`keyed_hash`]: HMAC-SHA256 with a server secret (client secrets, CSRF, blind index).
//! - [`secret_box`]: AES-256-GCM with named keys for data at rest (private signing keys).
//! - [`password`]: argon2id with a concurrency cap, on blocking threads.
//! - [`signing`]: RS256/ES256 key material, sealed private parts, public JWKs, signers and
//!   verifiers (the key ring that shares keys through the store is `keys`).
//! - [`client_jwks`]: clients' public keys for `private_key_jwt`.
//!
//! The JOSE library (josekit) stays inside this module: callers see `serde_json` maps and
//! strings. Error messages never contain key material, passwords or tokens.

pub mod client_jwks;
pub mod digest;
pub mod dpop;
pub mod embedded_jwk;
mod error;
mod es256_signer;
pub mod jws_header;
pub mod keyed_hash;
pub mod password;
pub mod random;
pub mod secret_box;
pub mod signing;

pub use digest::{constant_time_eq, left_half_hash_b64url, sha256_b64url, sha256_hex};
pub use error::CryptoError;
pub use jws_header::{peek_header, shorten};
pub use keyed_hash::{BlindIndex, KeyedHash};
pub use password::{PasswordHasher, argon2_params_description, needs_rehash};
pub use random::{random_id, random_token};
pub use secret_box::{SecretBox, parse_key};
pub use signing::{Alg, generate_signing_key};

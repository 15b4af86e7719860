//! Reading a compact JWS's protected header before anything is verified (to pick the key), and
//! shortening untrusted values for error messages.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::CryptoError;

/// Decodes the protected header of a compact JWS without verifying anything.
pub fn peek_header(token: &str) -> Result<Map<String, Value>, CryptoError> {
    let bad = |what: &str| CryptoError::Signature(what.to_owned());
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a compact JWS"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| bad("malformed header"))?;
    serde_json::from_slice(&bytes).map_err(|_| bad("malformed header"))
}

/// For error messages: a kid from an untrusted token, shortened.
pub fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

//! The BankID RP API v6.0 wire format: request and response bodies, limits and the service's
//! well-known endpoints and root certificates.
//!
//! Bodies are camelCase JSON; absent optionals are omitted from requests, unknown fields in
//! responses are ignored. `Debug` output never shows a personnummer or the `qrStartSecret`.

mod environments;
mod order;
mod requirement;
mod responses;
#[cfg(test)]
mod tests;

use std::fmt;

use base64::Engine;
use serde::{Deserialize, Serialize};

pub use environments::*;
pub use order::*;
pub use requirement::*;
pub use responses::*;

/// Maximum length of `userVisibleData` (after base64) for `/auth`.
pub const AUTH_VISIBLE_MAX_LENGTH: usize = 1_500;
/// Maximum length of `userVisibleData` (after base64) for `/sign`.
pub const SIGN_VISIBLE_MAX_LENGTH: usize = 40_000;
/// Maximum length of `userNonVisibleData` (after base64) for `/auth`.
pub const AUTH_NON_VISIBLE_MAX_LENGTH: usize = 1_500;
/// Maximum length of `userNonVisibleData` (after base64) for `/sign`.
pub const SIGN_NON_VISIBLE_MAX_LENGTH: usize = 200_000;
/// Maximum length of `returnUrl`.
pub const RETURN_URL_MAX_LENGTH: usize = 512;
/// Maximum length of `web.userAgent` (longer values are truncated by [`WebData::new`]).
pub const USER_AGENT_MAX_LENGTH: usize = 256;
/// Maximum length of `web.deviceIdentifier` / `app.deviceIdentifier` (BankID's sample code truncates here).
pub const DEVICE_IDENTIFIER_MAX_LENGTH: usize = 64;

/// The `userVisibleDataFormat` values this client sends.
pub const VISIBLE_DATA_FORMATS: &[&str] = &["simpleMarkdownV1", "plaintext"];

/// Base64 (standard alphabet, padded) of UTF-8 text, as `userVisibleData` wants it.
pub fn encode_text(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// Whether a string is a 12-digit personnummer in BankID's format (`YYYYMMDDNNNC`; format only).
pub fn is_personal_number_format(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// A 12-digit personnummer as shown to people and in logs of the simulated app: the birth year
/// only (`19811228NNNC` → `1981****-****`), so the masked form does not give away the full date
/// of birth either.
pub fn masked_personal_number(twelve: &str) -> String {
    let year: String = twelve.chars().take(4).collect();
    format!("{year}****-****")
}

fn truncate_chars(value: &str, max: usize) -> String {
    value.chars().take(max).collect()
}

/// Redacts a personnummer in `Debug` output.
struct Redacted<'a, T>(&'a Option<T>);

impl<T> fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some(<redacted>)"),
            None => f.write_str("None"),
        }
    }
}

/// The RP API endpoints, relative to the base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Endpoint {
    Auth,
    Sign,
    Collect,
    Cancel,
    PhoneAuth,
    PhoneSign,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Auth,
        Endpoint::Sign,
        Endpoint::Collect,
        Endpoint::Cancel,
        Endpoint::PhoneAuth,
        Endpoint::PhoneSign,
    ];

    /// The path below the base URL (`…/rp/v6.0/`).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Auth => "auth",
            Endpoint::Sign => "sign",
            Endpoint::Collect => "collect",
            Endpoint::Cancel => "cancel",
            Endpoint::PhoneAuth => "phone/auth",
            Endpoint::PhoneSign => "phone/sign",
        }
    }

    pub fn from_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

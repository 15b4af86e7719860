//! Device cookies (OWASP's answer to lockout abuse): a browser that has logged in to an account
//! gets a signed cookie naming a random device id and bound to that account. Later password
//! attempts from that browser for that account spend the device's own budget, so an attacker
//! guessing passwords for the account, or sharing an office NAT with its owner, cannot lock the
//! owner's browser out. Browsers without one share the account's and the address's budgets.

use crate::crypto::{random_id, sha256_hex};
use crate::state::AppState;

pub const DEVICE_COOKIE: &str = "__Host-leasify-device";

/// A device cookie is good for a year after the last login that renewed it.
pub const DEVICE_COOKIE_TTL: i64 = 365 * 86_400;

/// The signed part: device id, issue time and the account (as a hash of the normalised email,
/// so the cookie itself names nobody).
fn signature(state: &AppState, device_id: &str, issued_at: i64, email: &str) -> String {
    let account = sha256_hex(email.as_bytes());
    state
        .hmac
        .hash_hex(format!("device:{device_id}:{issued_at}:{account}").as_bytes())
}

/// The device id of a cookie value made for `email` (normalised) and not yet expired.
pub fn device_for(state: &AppState, cookie: Option<&str>, email: &str) -> Option<String> {
    let mut parts = cookie?.split('.');
    let (device_id, issued_at, mac) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || device_id.is_empty() {
        return None;
    }
    let issued_at: i64 = issued_at.parse().ok()?;
    let now = state.clock.now();
    if issued_at > now + 60 || now - issued_at > DEVICE_COOKIE_TTL {
        return None;
    }
    let account = sha256_hex(email.as_bytes());
    state
        .hmac
        .verify_hex(
            format!("device:{device_id}:{issued_at}:{account}").as_bytes(),
            mac,
        )
        .then(|| device_id.to_string())
}

/// A cookie value for this browser and `email` (normalised): the same device id when the browser
/// already had one for this account, a new one otherwise.
pub fn issue(state: &AppState, device_id: Option<&str>, email: &str) -> String {
    let device_id = device_id
        .map(str::to_string)
        .unwrap_or_else(|| random_id(state.entropy.as_ref()));
    let issued_at = state.clock.now();
    let mac = signature(state, &device_id, issued_at, email);
    format!("{device_id}.{issued_at}.{mac}")
}

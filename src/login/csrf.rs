//! CSRF protection: a random value in a `__Host-` cookie and, in each form, an HMAC of it
//! (a signed double-submit token). Stateless, so any instance can check any form.

use crate::crypto::{KeyedHash, random_token};
use crate::state::AppState;

pub const CSRF_COOKIE: &str = "__Host-leasify-csrf";

fn form_token(hmac: &KeyedHash, cookie: &str) -> String {
    hmac.hash_hex(format!("csrf:{cookie}").as_bytes())
}

/// The cookie value to use: the browser's, or a new one to set.
pub fn cookie_or_new(state: &AppState, existing: Option<&str>) -> (String, bool) {
    match existing.filter(|c| c.len() >= 32) {
        Some(c) => (c.to_string(), false),
        None => (random_token(state.entropy.as_ref()), true),
    }
}

/// The hidden form field value for a cookie value.
pub fn token_for(state: &AppState, cookie: &str) -> String {
    form_token(&state.hmac, cookie)
}

/// True when the form's token belongs to the browser's cookie.
pub fn verify(state: &AppState, cookie: Option<&str>, submitted: Option<&str>) -> bool {
    match (cookie, submitted) {
        (Some(cookie), Some(submitted)) if cookie.len() >= 32 => state
            .hmac
            .verify_hex(format!("csrf:{cookie}").as_bytes(), submitted),
        _ => false,
    }
}

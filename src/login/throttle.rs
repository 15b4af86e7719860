//! Throttling of failed logins, per account and per client IP, counted in the database so every
//! instance sees the same numbers.
//!
//! The account bucket is keyed on the normalised email, not the user id, so unknown addresses are
//! throttled exactly like real ones and the throttle tells nobody which accounts exist.

use std::net::IpAddr;

use crate::crypto::sha256_hex;
use crate::state::AppState;
use crate::store::StoreResult;

fn account_key(email: &str) -> String {
    format!("login:acct:{}", sha256_hex(email.as_bytes()))
}

fn ip_key(ip: IpAddr) -> String {
    // IPv6 clients control a whole /64: count the prefix, not the address.
    let ip = match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_default(),
        IpAddr::V4(v4) => v4.to_string(),
    };
    format!("login:ip:{ip}")
}

/// True when further attempts for this email or from this address must be refused for now.
/// Recent failures for an account and an address, and whether either is over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleCheck {
    pub blocked: bool,
    pub account_failures: i64,
}

pub async fn check(state: &AppState, email: &str, ip: IpAddr) -> StoreResult<ThrottleCheck> {
    let now = state.clock.now();
    let login = &state.config.login;
    let account = state
        .store
        .failures(&account_key(email), now, login.account_window)
        .await?;
    let address = state
        .store
        .failures(&ip_key(ip), now, login.ip_window)
        .await?;
    Ok(ThrottleCheck {
        blocked: account >= login.max_failures_per_account || address >= login.max_failures_per_ip,
        account_failures: account,
    })
}

pub async fn record_failure(state: &AppState, email: &str, ip: IpAddr) -> StoreResult<()> {
    let now = state.clock.now();
    let login = &state.config.login;
    state
        .store
        .record_failure(&account_key(email), now, login.account_window)
        .await?;
    state
        .store
        .record_failure(&ip_key(ip), now, login.ip_window)
        .await?;
    Ok(())
}

/// A successful login clears the account's count (the address keeps its count).
pub async fn record_success(state: &AppState, email: &str) -> StoreResult<()> {
    state.store.clear_failures(&account_key(email)).await
}

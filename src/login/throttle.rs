//! Throttling of password attempts, counted in the database so every instance sees the same
//! numbers.
//!
//! Every attempt is counted *before* the password is checked, and the decision comes from the
//! count the database returns, so a burst of parallel guesses gets no more attempts through to
//! argon2 than the limit, and a refused attempt costs no hash at all. A success gives its count
//! back (the account and device budgets start over; the address keeps only its failures).
//!
//! A browser with a device cookie for the account (see `device.rs`) spends only its own budget.
//! Other browsers spend the account's budget and their address's, keyed on the normalised
//! email, so unknown addresses are throttled exactly like real ones and the throttle tells
//! nobody which accounts exist.

use std::net::IpAddr;

use crate::crypto::sha256_hex;
use crate::state::AppState;
use crate::store::StoreResult;

fn account_key(email: &str) -> String {
    format!("login:acct:{}", sha256_hex(email.as_bytes()))
}

fn device_key(device_id: &str) -> String {
    format!("login:dev:{device_id}")
}

/// The bucket of a client address. IPv6 clients control a whole /64: count the prefix.
pub fn ip_key(prefix: &str, ip: IpAddr) -> String {
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
    format!("{prefix}:ip:{ip}")
}

/// The budgets one attempt was counted in, to give back on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A browser known to the account: its own budget only.
    KnownDevice { device: String },
    /// Any other browser: the account's budget and the address's.
    Unknown { account: String, address: String },
}

/// Counts an attempt; `Ok(None)` when a budget is spent (the attempt must be refused).
pub async fn take_attempt(
    state: &AppState,
    email: &str,
    ip: IpAddr,
    device_id: Option<&str>,
) -> StoreResult<Option<Attempt>> {
    let now = state.clock.now();
    let login = &state.config.login;
    if let Some(device_id) = device_id {
        let device = device_key(device_id);
        let count = state
            .store
            .record_failure(&device, now, login.account_window)
            .await?;
        return Ok((count.failures <= login.max_failures_per_account)
            .then_some(Attempt::KnownDevice { device }));
    }
    let account = account_key(email);
    let address = ip_key("login", ip);
    let by_account = state
        .store
        .record_failure(&account, now, login.account_window)
        .await?;
    let by_address = state
        .store
        .record_failure(&address, now, login.ip_window)
        .await?;
    let allowed = by_account.failures <= login.max_failures_per_account
        && by_address.failures <= login.max_failures_per_ip;
    Ok(allowed.then_some(Attempt::Unknown { account, address }))
}

/// The password was right: the account's (or device's) budget starts over, and the address gets
/// this attempt back, so an office's successful logins never use up its address.
pub async fn record_success(state: &AppState, attempt: &Attempt) -> StoreResult<()> {
    match attempt {
        Attempt::KnownDevice { device } => state.store.clear_failures(device).await,
        Attempt::Unknown { account, address } => {
            state.store.clear_failures(account).await?;
            state.store.forgive_failure(address).await
        }
    }
}

//! Which keys are published, which one signs, and how the CLI names their state: pure functions
//! of the stored rows and the time, so every instance decides the same.

use std::collections::HashSet;

use crate::clock::UnixTime;
use crate::crypto::Alg;
use crate::store::SigningKey;

/// One signing key as the CLI shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub created_at: UnixTime,
    pub active_from: UnixTime,
    pub retired_at: Option<UnixTime>,
    pub unpublish_at: Option<UnixTime>,
    /// `signing` (signs now), `next` (published, signs later) or `retired`.
    pub status: &'static str,
}

pub(super) fn is_published(k: &SigningKey, now: UnixTime) -> bool {
    k.unpublish_at.is_none_or(|u| u > now)
}

pub(super) fn is_retired(k: &SigningKey, now: UnixTime) -> bool {
    k.retired_at.is_some_and(|r| r <= now)
}

pub(super) fn is_active(k: &SigningKey, now: UnixTime) -> bool {
    k.active_from <= now && !is_retired(k, now) && is_published(k, now)
}

/// The key of `alg` that signs at `now`: among active keys the one with the greatest
/// `active_from` (ties broken by `created_at`, then kid, so every instance picks the same); if
/// none is active, the newest published key that can sign.
pub(super) fn select<T>(
    items: &[T],
    row: impl Fn(&T) -> &SigningKey,
    can_sign: impl Fn(&T) -> bool,
    alg: Alg,
    now: UnixTime,
) -> Option<&T> {
    let order = |k: &SigningKey| (k.active_from, k.created_at, k.kid.clone());
    let candidates = || {
        items.iter().filter(|t| {
            let k = row(t);
            k.alg == alg.as_str() && is_published(k, now) && !is_retired(k, now) && can_sign(t)
        })
    };
    candidates()
        .filter(|t| is_active(row(t), now))
        .max_by_key(|t| order(row(t)))
        .or_else(|| {
            candidates().max_by_key(|t| (row(t).created_at, row(t).active_from, row(t).kid.clone()))
        })
}

pub(super) fn status(k: &SigningKey, signing: &HashSet<&str>, now: UnixTime) -> &'static str {
    if signing.contains(k.kid.as_str()) {
        "signing"
    } else if k.active_from > now
        && k.retired_at.is_none_or(|r| r > k.active_from)
        && is_published(k, now)
    {
        "next"
    } else {
        "retired"
    }
}

//! What UserInfo and introspection need about an access token (its grant, its user, whether its
//! `jti` was revoked), kept in memory so the per-call endpoints answer without a database round
//! trip, and never longer than revocation allows.
//!
//! - **This instance's writes** forget everything at once: the store calls
//!   [`TokenContextCache::invalidate`] after each write that can end a token (a grant revoked or
//!   purged, a user changed or deleted, an access token revoked, a client deleted).
//! - **Other instances' and processes' writes** reach here through the database: triggers on the
//!   same tables bump `token_context_epoch` (SQLite, polled every [`POLL_INTERVAL`]) or send a
//!   `NOTIFY` on commit (PostgreSQL, a `LISTEN` connection). Either way a change is seen well
//!   within a second.
//! - **A watcher that is not running** (not started yet, its connection lost) turns the cache off:
//!   every call reads the database until the watcher is following changes again.
//!
//! A read that began before an invalidation is not stored after it (the generation check), so a
//! row read just before a revocation committed cannot be kept past the revocation.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::TokenContext;

/// How often the SQLite watcher reads the epoch and the PostgreSQL watcher sends its heartbeat;
/// also how long either waits before trying again after an error.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A watcher not heard from for this long is presumed to have lost track (a connection can die
/// without an error): nothing is served from memory until it is heard again. This bounds how
/// long another instance's revocation can go unseen even then.
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// The most contexts kept; the map is emptied when it is full. One entry per access token in use
/// (about 500 bytes with its grant and user), so this bounds the cache near 5 MiB while holding
/// every token a deployment of this size has live within a ten-minute token lifetime.
const MAX_ENTRIES: usize = 10_000;

pub struct TokenContextCache {
    /// By the token's `jti` (unique per token), with the generation it was stored in.
    entries: RwLock<HashMap<String, (TokenContext, u64)>>,
    generation: AtomicU64,
    /// A watcher is following other instances' changes; without one, nothing is served from
    /// memory.
    live: AtomicBool,
    /// When the watcher last confirmed it is following (milliseconds since `started`).
    heard_at_ms: AtomicU64,
    started: Instant,
}

impl Default for TokenContextCache {
    fn default() -> Self {
        TokenContextCache {
            entries: RwLock::default(),
            generation: AtomicU64::new(0),
            live: AtomicBool::new(false),
            heard_at_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

/// Stops the serving when dropped: held by a watcher, so the cache cannot outlive it.
pub struct LoseTrackOnDrop<'a>(pub &'a TokenContextCache);

impl Drop for LoseTrackOnDrop<'_> {
    fn drop(&mut self) {
        self.0.lose_track();
    }
}

/// Forgets the cache's contents when dropped: held by a store method across a write, so the
/// cache is emptied after the write committed, whichever way the method returns.
pub struct ForgetOnDrop<'a>(&'a TokenContextCache);

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

impl TokenContextCache {
    /// The generation to pass to [`remember`](Self::remember) for a read starting now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the watcher follows changes and was heard from lately.
    fn serving(&self) -> bool {
        self.live.load(Ordering::Acquire)
            && self
                .elapsed_ms()
                .saturating_sub(self.heard_at_ms.load(Ordering::Acquire))
                < STALE_AFTER.as_millis() as u64
    }

    pub fn get(&self, grant_id: &str, jti: &str) -> Option<TokenContext> {
        if !self.serving() {
            return None;
        }
        let generation = self.generation();
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (context, stored_at) = entries.get(jti)?;
        (*stored_at == generation && context.grant.id == grant_id).then(|| context.clone())
    }

    /// Keeps a context read from the database, unless anything was invalidated since the read
    /// began (`read_generation`).
    pub fn remember(
        &self,
        grant_id: &str,
        jti: &str,
        context: &TokenContext,
        read_generation: u64,
    ) {
        if !self.serving() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock: `invalidate` bumps first and clears under the same lock.
        if self.generation() != read_generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        if context.grant.id == grant_id {
            entries.insert(jti.to_string(), (context.clone(), read_generation));
        }
    }

    /// Forgets everything: a token may have ended.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Forgets everything when the returned guard is dropped (see [`ForgetOnDrop`]).
    pub fn forget_on_drop(&self) -> ForgetOnDrop<'_> {
        ForgetOnDrop(self)
    }

    /// The watcher follows changes from now on (after it has read its starting point).
    pub fn follow(&self) {
        self.invalidate();
        self.heard();
        self.live.store(true, Ordering::Release);
    }

    /// The watcher is still following (a poll answered, a heartbeat arrived).
    pub fn heard(&self) {
        self.heard_at_ms.store(self.elapsed_ms(), Ordering::Release);
    }

    /// The watcher lost track: serve nothing from memory until it follows again.
    pub fn lose_track(&self) {
        self.live.store(false, Ordering::Release);
        self.invalidate();
    }

    pub fn is_serving(&self) -> bool {
        self.serving()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Grant, User};

    fn context(revoked: bool) -> TokenContext {
        TokenContext {
            grant: Grant {
                id: "g1".into(),
                user_id: "u1".into(),
                client_id: "c1".into(),
                scope: "openid".into(),
                auth_time: 1,
                amr: vec!["pwd".into()],
                acr: "a".into(),
                sid: None,
                created_at: 1,
                expires_at: 2,
                revoked_at: None,
                requested_claims: None,
            },
            user: User {
                id: "u1".into(),
                email: "a@example.se".into(),
                email_verified: true,
                name: "Anna".into(),
                locale: "sv".into(),
                password_hash: None,
                disabled: false,
                created_at: 1,
                updated_at: 1,
            },
            jti_revoked: revoked,
        }
    }

    #[test]
    fn nothing_is_served_without_a_watcher() {
        let cache = TokenContextCache::default();
        cache.remember("g1", "j1", &context(false), cache.generation());
        assert!(cache.get("g1", "j1").is_none());
        cache.follow();
        cache.remember("g1", "j1", &context(false), cache.generation());
        assert!(cache.get("g1", "j1").is_some());
        cache.lose_track();
        assert!(cache.get("g1", "j1").is_none());
    }

    #[test]
    fn a_watcher_not_heard_from_for_a_second_stops_the_serving() {
        // Started two seconds ago, so "heard at 0 ms" is two seconds back (no sleeping).
        let cache = TokenContextCache {
            started: Instant::now() - 2 * STALE_AFTER,
            ..Default::default()
        };
        cache.follow();
        assert!(cache.is_serving());
        cache.heard_at_ms.store(0, Ordering::Release);
        assert!(!cache.is_serving(), "silence means the watcher lost track");
        cache.heard();
        assert!(cache.is_serving());
    }

    #[test]
    fn a_read_from_before_an_invalidation_is_not_kept() {
        let cache = TokenContextCache::default();
        cache.follow();
        let before = cache.generation();
        cache.invalidate();
        cache.remember("g1", "j1", &context(false), before);
        assert!(cache.get("g1", "j1").is_none());
        cache.remember("g1", "j1", &context(false), cache.generation());
        assert!(cache.get("g1", "j1").is_some());
        cache.invalidate();
        assert!(cache.get("g1", "j1").is_none(), "invalidation forgets");
    }
}

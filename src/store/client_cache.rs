//! Registered clients kept in memory for the endpoints every request of an app goes through
//! (`/token`, `/introspect`, `/revoke`, `/authorize`, the admin API's own tokens).
//!
//! A client row changes rarely and is read on every call; reading it from the database each time
//! cost a round trip to a database thread (SQLite) or the server (PostgreSQL) per request. An
//! entry lives at most [`CLIENT_CACHE_TTL`]: a change made by another instance, or by the CLI in
//! another process, is seen within that time. A change made through this instance's admin
//! functions calls [`ClientCache::forget`] and is seen at once.
//!
//! Only clients that exist are kept, so unknown `client_id`s sent by anyone cannot grow it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::{Client, Store, StoreResult};

/// How long a client row read from the database is used before it is read again: the longest a
/// secret rotated or a client deleted on another instance keeps working here.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(1);

struct Entry {
    client: Arc<Client>,
    loaded: Instant,
}

pub struct ClientCache {
    store: Arc<dyn Store>,
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped by every `forget`: a row read before a change was committed must not be stored
    /// after the change forgot its entry.
    generation: AtomicU64,
}

impl ClientCache {
    pub fn new(store: Arc<dyn Store>) -> Self {
        ClientCache {
            store,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The client with this id, from memory when read less than [`CLIENT_CACHE_TTL`] ago.
    pub async fn get(&self, id: &str) -> StoreResult<Option<Arc<Client>>> {
        if let Some(entry) = self.read().get(id)
            && entry.loaded.elapsed() < CLIENT_CACHE_TTL
        {
            return Ok(Some(Arc::clone(&entry.client)));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = Instant::now();
        let Some(client) = self.store.client_by_id(id).await? else {
            self.write().remove(id);
            return Ok(None);
        };
        let client = Arc::new(client);
        self.remember(id, &client, generation, loaded);
        Ok(Some(client))
    }

    /// Keeps a row read at `loaded`, unless a `forget` came after `generation` was read.
    fn remember(&self, id: &str, client: &Arc<Client>, generation: u64, loaded: Instant) {
        let mut entries = self.write();
        if self.generation.load(Ordering::Acquire) == generation {
            let client = Arc::clone(client);
            entries.insert(id.to_string(), Entry { client, loaded });
        }
    }

    /// Drops the entry of a client this instance just changed or deleted.
    pub fn forget(&self, id: &str) {
        let mut entries = self.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(id);
    }

    // A panic while holding the lock leaves a map that is still consistent (every change is one
    // insert or remove), so a poisoned lock is used as is.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TestKit;

    async fn kit_and_cache() -> (TestKit, ClientCache, Client) {
        let kit = TestKit::new().await;
        let client = kit.client("cached").await;
        let cache = ClientCache::new(Arc::clone(&kit.state.store));
        (kit, cache, client)
    }

    #[tokio::test]
    async fn a_change_forgotten_here_is_seen_at_once() {
        let (kit, cache, mut client) = kit_and_cache().await;
        assert_eq!(
            cache.get("cached").await.unwrap().unwrap().name,
            client.name
        );
        client.name = "Renamed".into();
        kit.store().update_client(&client, &[]).await.unwrap();
        // Not forgotten: the row read a moment ago is still used.
        assert_ne!(cache.get("cached").await.unwrap().unwrap().name, "Renamed");
        cache.forget("cached");
        assert_eq!(cache.get("cached").await.unwrap().unwrap().name, "Renamed");
    }

    #[tokio::test]
    async fn a_deleted_client_is_gone_once_forgotten_and_unknown_ids_are_not_kept() {
        let (kit, cache, _) = kit_and_cache().await;
        assert!(cache.get("cached").await.unwrap().is_some());
        kit.store().delete_client("cached", &[]).await.unwrap();
        cache.forget("cached");
        assert!(cache.get("cached").await.unwrap().is_none());
        assert!(cache.get("nobody").await.unwrap().is_none());
        assert!(cache.read().is_empty());
    }

    #[tokio::test]
    async fn a_row_read_before_a_forget_is_not_kept() {
        let (_kit, cache, client) = kit_and_cache().await;
        let client = Arc::new(client);
        let generation = cache.generation.load(Ordering::Acquire);
        cache.forget("cached");
        cache.remember("cached", &client, generation, Instant::now());
        assert!(cache.read().is_empty());
        let generation = cache.generation.load(Ordering::Acquire);
        cache.remember("cached", &client, generation, Instant::now());
        assert!(cache.read().contains_key("cached"));
    }

    #[tokio::test]
    async fn an_entry_older_than_the_ttl_is_read_again() {
        let (kit, cache, mut client) = kit_and_cache().await;
        let stale = Instant::now() - CLIENT_CACHE_TTL;
        let generation = cache.generation.load(Ordering::Acquire);
        cache.remember("cached", &Arc::new(client.clone()), generation, stale);
        client.name = "Renamed elsewhere".into();
        kit.store().update_client(&client, &[]).await.unwrap();
        assert_eq!(
            cache.get("cached").await.unwrap().unwrap().name,
            "Renamed elsewhere"
        );
    }
}

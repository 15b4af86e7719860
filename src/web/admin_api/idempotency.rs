//! Requests with the same `Idempotency-Key` from the same client run one at a time on an
//! instance. A portal that times out and retries while its first request is still running would
//! otherwise race it: both find no earlier write, both try, and the second is refused by the
//! unique index on the audit trail instead of getting the first one's answer. Waiting for the
//! first makes the second see its audit event and answer it again.
//!
//! Across instances the unique index still decides: the loser gets a `409` and its next retry
//! the replay.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::OwnedMutexGuard;

type Slots = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

static IN_FLIGHT: LazyLock<Slots> = LazyLock::new(Default::default);

/// Held while a request with an `Idempotency-Key` runs; dropping it lets the next one in.
pub struct InFlight {
    slot: String,
    _turn: OwnedMutexGuard<()>,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight").finish_non_exhaustive()
    }
}

/// Waits until no other request of `client_id` with `key` is running here, then takes the turn.
pub async fn take_turn(client_id: &str, key: &str) -> InFlight {
    let slot = format!("{client_id}\n{key}");
    let lock = Arc::clone(
        slots()
            .entry(slot.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(()))),
    );
    InFlight {
        slot,
        _turn: lock.lock_owned().await,
    }
}

fn slots() -> std::sync::MutexGuard<'static, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut slots = slots();
        // The map and this turn hold the lock; anyone else holding it is waiting for it, and
        // clones it only under the map's mutex, which is held here.
        if slots
            .get(&self.slot)
            .is_some_and(|lock| Arc::strong_count(lock) == 2)
        {
            slots.remove(&self.slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_same_key_waits_and_a_finished_key_leaves_nothing_behind() {
        let first = take_turn("client-a", "key-1").await;
        let other_key =
            tokio::time::timeout(Duration::from_secs(1), take_turn("client-a", "key-2"))
                .await
                .expect("another key does not wait");
        let other_client =
            tokio::time::timeout(Duration::from_secs(1), take_turn("client-b", "key-1"))
                .await
                .expect("another client does not wait");
        let mut second = tokio::spawn(take_turn("client-a", "key-1"));
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut second)
                .await
                .is_err(),
            "the same key waits for the first"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(1), second)
            .await
            .expect("the second gets its turn")
            .unwrap();
        drop((second, other_key, other_client));
        for slot in ["client-a\nkey-1", "client-a\nkey-2", "client-b\nkey-1"] {
            assert!(!slots().contains_key(slot), "{slot:?} left behind");
        }
    }
}

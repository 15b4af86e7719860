//! SQLite implementation of [`Store`](super::Store) (single instance deployments, development,
//! tests): connecting, the migration lock and how work is claimed. The SQL is in `sql.rs`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool};

use super::migrate;
use super::token_context_cache::{LoseTrackOnDrop, POLL_INTERVAL, TokenContextCache};

pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection read-then-write transactions run on ([`SqliteStore::begin_write`]).
    writer: SqlitePool,
    token_contexts: TokenContextCache,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `sqlite://path`, `sqlite:path` or
    /// `sqlite::memory:`. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Self::connect_with(url, super::DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`SqliteStore::connect`], waiting at most `acquire_timeout` for a connection of a file
    /// database (an in-memory one has a single connection that long transactions hold, so it
    /// keeps a long wait).
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Self, sqlx::Error> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            // Deleted rows are overwritten, so an erased user's data does not linger in free
            // pages of the file.
            .pragma("secure_delete", "ON")
            // A write waits this long for another writer's lock, then fails as "unavailable".
            .busy_timeout(acquire_timeout.max(Duration::from_secs(1)))
            .synchronous(SqliteSynchronous::Normal);
        if in_memory {
            // An in-memory database lives as long as its connection: keep exactly one forever
            // so every query sees the same database (and every transaction runs on it).
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            return Ok(Self {
                writer: pool.clone(),
                pool,
                token_contexts: TokenContextCache::default(),
            });
        }
        let options = options.journal_mode(SqliteJournalMode::Wal);
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            tokio::fs::create_dir_all(parent).await?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(acquire_timeout)
            .connect_with(options.clone())
            .await?;
        // Transactions that write queue here, first come first served, instead of in SQLite's
        // busy handler, which sleeps and retries and lets a waiting writer starve past its
        // timeout while others come and go (seen as 503s under 32 concurrent refresh chains).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer,
            token_contexts: TokenContextCache::default(),
        })
    }

    /// The pool, for tests that need SQL the trait does not offer (deleting a user).
    #[cfg(test)]
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// IMMEDIATE takes the write lock up front, so two processes cannot both migrate.
    async fn migrate_locked(&self) -> StoreResult<usize> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let applied = migrate::run::<Sqlite>(&mut tx, |m| m.sqlite, migrate::unix_now()).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// A transaction that reads before it writes. A deferred SQLite transaction that reads first
    /// cannot upgrade to a writer while another connection writes (SQLITE_BUSY at once, no
    /// waiting); IMMEDIATE takes the write lock up front and waits for it.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// Runs a lease-claiming `UPDATE … RETURNING` (`$1` lease end, `$2` now, `$3` limit). SQLite
    /// has no SKIP LOCKED; IMMEDIATE takes the write lock up front, so claimers run one at a time
    /// and each sees the leases of those before it.
    async fn claim_rows(
        &self,
        sql: &'static str,
        now: UnixTime,
        lease_secs: i64,
        limit: i64,
    ) -> StoreResult<Vec<SqliteRow>> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sql)
            .bind(now.saturating_add(lease_secs))
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Polls the trigger-maintained `token_context_epoch` (migration 0013) and empties the token
    /// contexts whenever another connection or process committed a change that can end a token.
    /// Runs until the task is dropped.
    async fn follow_changes(&self) {
        let _stop_serving = LoseTrackOnDrop(&self.token_contexts);
        let mut last_epoch = None;
        let mut ticks = tokio::time::interval(POLL_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let read =
                sqlx::query_scalar::<_, i64>("SELECT epoch FROM token_context_epoch WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await;
            match (read, last_epoch) {
                (Ok(epoch), Some(last)) if epoch == last => self.token_contexts.heard(),
                (Ok(epoch), Some(_)) => {
                    self.token_contexts.invalidate();
                    self.token_contexts.heard();
                    last_epoch = Some(epoch);
                }
                (Ok(epoch), None) => {
                    self.token_contexts.follow();
                    last_epoch = Some(epoch);
                }
                (Err(e), _) => {
                    if last_epoch.take().is_some() {
                        tracing::warn!(error = %e, "token context watcher cannot read the epoch; serving from the database");
                    }
                    self.token_contexts.lose_track();
                }
            }
        }
    }
}

sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    backend = "sqlite",
    skip_locked = ""
);

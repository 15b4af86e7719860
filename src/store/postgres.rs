//! PostgreSQL implementation of [`Store`](super::Store): several stateless instances share one
//! database. Connecting, the migration lock and how work is claimed; the SQL is in `sql.rs`.

use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres};

use super::migrate;
use super::token_context_cache::{LoseTrackOnDrop, POLL_INTERVAL, TokenContextCache};

pub struct PostgresStore {
    pool: PgPool,
    token_contexts: TokenContextCache,
}

/// The channel migration 0013's triggers notify on (its payload `changed`); the watcher's own
/// heartbeats say `heartbeat`.
const TOKEN_CONTEXT_CHANNEL: &str = "token_context";

impl PostgresStore {
    /// Connects to a `postgres://` URL. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Self::connect_with(url, super::DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`PostgresStore::connect`], waiting at most `acquire_timeout` for a connection.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await?;
        Ok(Self {
            pool,
            token_contexts: TokenContextCache::default(),
        })
    }

    /// The pool, for tests that need SQL the trait does not offer (deleting a user).
    #[cfg(test)]
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn migrate_locked(&self) -> StoreResult<usize> {
        let mut tx = self.pool.begin().await?;
        // Serializes concurrent instances; released when the transaction ends.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(migrate::PG_MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        let applied =
            migrate::run::<Postgres>(&mut tx, |m| m.postgres, migrate::unix_now()).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Row locks taken by each statement serialize writers; nothing to take up front.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Runs a lease-claiming `UPDATE … RETURNING` (`$1` lease end, `$2` now, `$3` limit); the
    /// query's `FOR UPDATE SKIP LOCKED` keeps instances from claiming the same rows.
    async fn claim_rows(
        &self,
        sql: &'static str,
        now: UnixTime,
        lease_secs: i64,
        limit: i64,
    ) -> StoreResult<Vec<PgRow>> {
        Ok(sqlx::query(sql)
            .bind(now.saturating_add(lease_secs))
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// LISTENs on [`TOKEN_CONTEXT_CHANNEL`] and empties the token contexts on every change
    /// notification (sent on commit by migration 0013's triggers, from any instance). A heartbeat
    /// sent through the pool every [`POLL_INTERVAL`] comes back on the same channel: the cache
    /// stops serving if none arrives for a second, so a connection that died silently cannot
    /// leave it stale. Runs until the task is dropped.
    async fn follow_changes(&self) {
        let _stop_serving = LoseTrackOnDrop(&self.token_contexts);
        let heartbeat = async {
            let mut ticks = tokio::time::interval(POLL_INTERVAL);
            loop {
                ticks.tick().await;
                let _ = sqlx::query("SELECT pg_notify($1, 'heartbeat')")
                    .bind(TOKEN_CONTEXT_CHANNEL)
                    .execute(&self.pool)
                    .await;
            }
        };
        let listen = async {
            loop {
                if let Err(e) = self.listen_for_changes().await {
                    tracing::warn!(error = %e, "token context watcher lost its connection; serving from the database");
                }
                self.token_contexts.lose_track();
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        };
        tokio::join!(heartbeat, listen);
    }

    /// One LISTEN connection's life: returns when it is lost.
    async fn listen_for_changes(&self) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(TOKEN_CONTEXT_CHANNEL).await?;
        self.token_contexts.follow();
        while let Some(notification) = listener.try_recv().await? {
            if notification.payload() != "heartbeat" {
                self.token_contexts.invalidate();
            }
            self.token_contexts.heard();
        }
        Ok(())
    }
}

sql_store!(
    PostgresStore,
    sqlx::Postgres,
    backend = "postgres",
    skip_locked = " FOR UPDATE SKIP LOCKED"
);

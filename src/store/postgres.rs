//! PostgreSQL implementation of [`Store`](super::Store): several stateless instances share one
//! database. Connecting, the migration lock and how work is claimed; the SQL is in `sql.rs`.

use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres};

use super::migrate;

pub struct PostgresStore {
    pool: PgPool,
}

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
        Ok(Self { pool })
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
}

sql_store!(
    PostgresStore,
    sqlx::Postgres,
    backend = "postgres",
    skip_locked = " FOR UPDATE SKIP LOCKED"
);

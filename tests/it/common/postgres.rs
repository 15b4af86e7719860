//! A fresh PostgreSQL schema per test (`t_<random hex>`), selected through the connection's
//! `search_path`, so tests can run in parallel on one database without seeing each other. (The
//! store's unit tests keep their own copy in `src/store/suite/databases.rs`.)

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// Used when `LEASIFY_TEST_POSTGRES_URL` is not set.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server: `LEASIFY_TEST_POSTGRES_URL`, or the local default.
pub fn postgres_base_url() -> String {
    std::env::var("LEASIFY_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_POSTGRES_URL.to_string())
}

/// Creates an empty schema `t_<hex>` and returns a URL whose connections use it as their only
/// `search_path`. Nothing is migrated yet. Panics if the server is unreachable.
pub async fn fresh_postgres_url() -> String {
    let base = postgres_base_url();
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to test PostgreSQL at {base}: {e}"));
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create schema {schema}: {e}"));
    let _ = conn.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    // `options=-c search_path=<schema>`, URL-encoded; the application name lets the clean-up find
    // (and end) connections a finished test left behind.
    format!("{base}{separator}application_name={schema}&options=-c%20search_path%3D{schema}")
}

/// The schema a URL from [`fresh_postgres_url`] points at.
fn schema_of(url: &str) -> Option<&str> {
    let start = url.find("search_path%3D")? + "search_path%3D".len();
    let schema = &url[start..];
    let end = schema.find('&').unwrap_or(schema.len());
    let schema = &schema[..end];
    let valid = schema.starts_with("t_")
        && schema[2..].bytes().all(|b| b.is_ascii_hexdigit())
        && schema.len() > 2;
    valid.then_some(schema)
}

/// Drops the schema created by [`fresh_postgres_url`] (best effort; errors are ignored).
pub async fn drop_postgres_schema(url: &str) {
    let Some(schema) = schema_of(url) else {
        return;
    };
    if let Ok(mut conn) = PgConnection::connect(&postgres_base_url()).await {
        // A test's pool may still hold a connection inside a transaction whose rollback can no
        // longer run (its runtime is being dropped); it would block DROP SCHEMA for ever.
        let _ = sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()")
            .bind(schema)
            .execute(&mut conn)
            .await;
        let _ = sqlx::raw_sql(AssertSqlSafe(format!(
            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    }
}

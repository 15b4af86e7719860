//! Schema migrations, embedded in the binary.
//!
//! Every numbered file exists twice, once per backend (`migrations/sqlite/NNNN_name.sql` and
//! `migrations/postgres/NNNN_name.sql`), with the same tables and columns. The runner records
//! applied versions in `schema_migrations`, which it creates itself.

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};

/// One numbered migration, with its SQL for each backend.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $number:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/sqlite/",
                $number,
                "_",
                $name,
                ".sql"
            )),
            postgres: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/postgres/",
                $number,
                "_",
                $name,
                ".sql"
            )),
        }
    };
}

/// All migrations, in ascending version order. Add one entry per new numbered file pair.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001", "initial"),
    migration!(2, "0002", "accounts_outbox"),
    migration!(3, "0003", "personnummer_bankid"),
    migration!(4, "0004", "consent_logout_revocation"),
    migration!(5, "0005", "safe_to_deploy"),
    migration!(6, "0006", "admin_audit"),
    migration!(7, "0007", "admin_roles"),
    migration!(8, "0008", "invite_batches"),
    migration!(9, "0009", "audit_events_by_kind"),
    migration!(10, "0010", "pushed_authorization_requests"),
    migration!(11, "0011", "dpop"),
    migration!(12, "0012", "passkeys"),
    migration!(13, "0013", "token_context_epoch"),
];

/// Creates the bookkeeping table. Identical on both backends.
const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
     version BIGINT NOT NULL PRIMARY KEY, \
     name TEXT NOT NULL, \
     applied_at BIGINT NOT NULL)";

/// Applies every migration not yet recorded in `schema_migrations` and records it; returns how
/// many were applied.
///
/// `conn` must already be inside a transaction that the caller commits afterwards (and, where
/// several processes may migrate at once, holds the lock that serializes them: `BEGIN IMMEDIATE`
/// on SQLite, `pg_advisory_xact_lock` on PostgreSQL). `sql_of` picks the backend's SQL.
/// Both backends understand the `$N` placeholders used here.
pub(crate) async fn run<DB>(
    conn: &mut DB::Connection,
    sql_of: fn(&Migration) -> &'static str,
    now: i64,
) -> Result<usize, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: Type<DB> + for<'e> Encode<'e, DB> + for<'d> Decode<'d, DB>,
    &'static str: Type<DB> + for<'e> Encode<'e, DB>,
    usize: ColumnIndex<DB::Row>,
{
    sqlx::raw_sql(CREATE_SCHEMA_MIGRATIONS)
        .execute(&mut *conn)
        .await?;
    let applied: Vec<i64> = sqlx::query_scalar::<DB, i64>("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?;
    let mut count = 0;
    for migration in MIGRATIONS {
        if applied.contains(&migration.version) {
            continue;
        }
        // Multi-statement text: `raw_sql` runs it through the simple query protocol on
        // PostgreSQL and statement by statement on SQLite.
        sqlx::raw_sql(sql_of(migration)).execute(&mut *conn).await?;
        sqlx::query::<DB>(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        count += 1;
    }
    Ok(count)
}

/// Key for `pg_advisory_xact_lock`, shared by every instance migrating the same database.
pub(crate) const PG_MIGRATION_LOCK: i64 = 0x4c65_6173_6966_7931; // "Leasify1"

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::MIGRATIONS;

    fn sql_files(backend: &str) -> BTreeMap<String, String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&path).unwrap())
            })
            .collect()
    }

    /// Table name → column names, from the statements of one file.
    fn tables(sql: &str) -> BTreeMap<String, Vec<String>> {
        let mut schema = BTreeMap::new();
        apply(&mut schema, sql);
        schema
    }

    /// Applies one file's `CREATE TABLE`, `DROP TABLE`, `ALTER TABLE … RENAME TO` and
    /// `ALTER TABLE … ADD COLUMN` statements to `schema` (table name → column names).
    fn apply(schema: &mut BTreeMap<String, Vec<String>>, sql: &str) {
        let sql: String = sql
            .lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let tables = schema;
        for statement in sql.split(';') {
            let statement = statement.trim();
            let upper = statement.to_ascii_uppercase();
            let words: Vec<String> = statement
                .split_whitespace()
                .map(|w| w.to_ascii_lowercase())
                .collect();
            if upper.starts_with("DROP TABLE") {
                tables.remove(words.last().expect("table name").as_str());
                continue;
            }
            if upper.starts_with("ALTER TABLE") {
                let table = words[2].clone();
                match (
                    words.get(3).map(String::as_str),
                    words.get(4).map(String::as_str),
                ) {
                    (Some("rename"), Some("to")) => {
                        let columns = tables.remove(&table).expect("renamed table exists");
                        tables.insert(words[5].clone(), columns);
                    }
                    (Some("add"), Some("column")) => tables
                        .get_mut(&table)
                        .expect("altered table exists")
                        .push(words[5].clone()),
                    _ => {}
                }
                continue;
            }
            if !upper.starts_with("CREATE TABLE") {
                continue;
            }
            let head = &statement[..statement.find('(').expect("column list")];
            let name = head.split_whitespace().last().unwrap().to_ascii_lowercase();
            let body = &statement[statement.find('(').unwrap() + 1..statement.rfind(')').unwrap()];
            // Split on commas outside parentheses.
            let mut parts = Vec::new();
            let (mut depth, mut start) = (0, 0);
            for (i, c) in body.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&body[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            parts.push(&body[start..]);
            let columns = parts
                .iter()
                .filter_map(|part| part.split_whitespace().next())
                .map(|word| word.to_ascii_lowercase())
                .filter(|word| {
                    !matches!(
                        word.as_str(),
                        "primary" | "foreign" | "unique" | "check" | "constraint"
                    )
                })
                .collect();
            assert!(
                tables.insert(name.clone(), columns).is_none(),
                "table {name} twice"
            );
        }
    }

    #[test]
    fn both_backends_have_the_same_files() {
        let sqlite = sql_files("sqlite");
        let postgres = sql_files("postgres");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite.keys().collect::<Vec<_>>(),
            postgres.keys().collect::<Vec<_>>()
        );
    }

    #[test]
    fn migrations_list_matches_files() {
        let files: Vec<(i64, String)> = sql_files("sqlite")
            .keys()
            .map(|file| {
                let stem = file.strip_suffix(".sql").unwrap();
                let (number, name) = stem.split_once('_').expect("NNNN_name.sql");
                (number.parse().expect("numeric prefix"), name.to_string())
            })
            .collect();
        let listed: Vec<(i64, String)> = MIGRATIONS
            .iter()
            .map(|m| (m.version, m.name.to_string()))
            .collect();
        assert_eq!(
            files, listed,
            "MIGRATIONS must list every file pair in order"
        );
        let versions: BTreeSet<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(versions.len(), MIGRATIONS.len(), "duplicate version");
    }

    #[test]
    fn both_backends_create_the_same_tables_and_columns() {
        let sqlite = sql_files("sqlite");
        let postgres = sql_files("postgres");
        let (mut sqlite_tables, mut postgres_tables) = (BTreeMap::new(), BTreeMap::new());
        // The schema after each file, so a rebuilt table (SQLite) compares with an altered one.
        for (file, sqlite_sql) in &sqlite {
            apply(&mut sqlite_tables, sqlite_sql);
            apply(&mut postgres_tables, &postgres[file]);
            assert_eq!(
                sqlite_tables.keys().collect::<Vec<_>>(),
                postgres_tables.keys().collect::<Vec<_>>(),
                "tables differ in {file}"
            );
            for (table, columns) in &sqlite_tables {
                assert_eq!(
                    columns, &postgres_tables[table],
                    "columns of {table} differ in {file}"
                );
            }
        }
    }

    #[test]
    fn table_parser_sees_columns() {
        let t = tables(
            "-- x\nCREATE TABLE a (id TEXT PRIMARY KEY, n NUMERIC(10, 2), PRIMARY KEY (id, n)) STRICT;\n\
             CREATE TABLE IF NOT EXISTS b (x BIGINT);",
        );
        assert_eq!(t["a"], vec!["id", "n"]);
        assert_eq!(t["b"], vec!["x"]);
        let initial = tables(MIGRATIONS[0].sqlite);
        assert_eq!(initial.len(), 10);
        assert_eq!(initial["session_clients"], vec!["sid", "client_id"]);
        let accounts = tables(MIGRATIONS[1].sqlite);
        assert_eq!(
            accounts.keys().collect::<Vec<_>>(),
            ["outbox", "user_tokens"]
        );
        assert_eq!(accounts["outbox"].len(), 11);
        let bankid = tables(MIGRATIONS[2].sqlite);
        assert_eq!(
            bankid.keys().collect::<Vec<_>>(),
            ["bankid_orders", "personnummer"]
        );
        assert_eq!(
            bankid["personnummer"],
            [
                "user_id",
                "sealed",
                "blind_index",
                "bankid_linked_at",
                "updated_at"
            ]
        );
        assert_eq!(bankid["bankid_orders"].len(), 17);
    }
}

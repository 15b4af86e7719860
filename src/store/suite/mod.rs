//! One behavioural test suite for every `Store` backend, a file per topic.
//!
//! Each test is an `async fn` written once, taking the store (or a [`TestStore`] when it needs SQL
//! the trait does not offer); `suite!` in its topic's file instantiates it as
//! `<topic>::sqlite_memory::<name>`, `<topic>::sqlite_file::<name>` and `<topic>::postgres::<name>`.
//! Every instance gets a fresh, migrated database (an in-memory SQLite database, a temporary SQLite
//! file, or its own PostgreSQL schema), so tests run in parallel. The PostgreSQL instances run only
//! with `LEASIFY_TEST_BACKEND=postgres` (see [`postgres_selected`]).
//!
//! The rows the tests start from are built here once: a builder per row type and [`Fixture`],
//! which inserts users, clients, sessions, grants, codes and refresh tokens in dependency order.

use std::future::Future;
use std::sync::Arc;

use super::*;
use databases::{drop_postgres_schema, fresh_postgres_url, fresh_sqlite_url, remove_sqlite_dir};
pub(crate) use databases::{postgres_base_url, postgres_selected};

/// `suite!(a, b)` in a topic's file runs that file's tests `a` and `b` on every backend.
macro_rules! suite {
    (@on $module:ident $backend:ident $($name:ident)*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    $crate::store::suite::run(
                        $crate::store::suite::Backend::$backend,
                        super::$name,
                    )
                    .await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        suite!(@on sqlite_memory SqliteMemory $($name)*);
        suite!(@on sqlite_file SqliteFile $($name)*);
        suite!(@on postgres Postgres $($name)*);
    };
}

mod accounts;
mod admin_roles;
mod bankid;
mod console_overview;
mod databases;
mod invite_batches;
mod logout;
mod oauth;
mod passkeys;
mod queues;
mod users;

const NOW: UnixTime = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Runners

#[derive(Debug, Clone, Copy)]
enum Backend {
    SqliteMemory,
    SqliteFile,
    Postgres,
}

/// The store under test, with its pool for SQL the trait does not offer (deleting a user).
struct TestStore {
    store: Arc<dyn Store>,
    pool: Pool,
}

enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl TestStore {
    /// Runs SQL the trait does not offer, as another process would.
    async fn execute(&self, sql: &'static str) {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Pool::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        }
        .unwrap();
    }

    /// Deletes a user with SQL: the trait has no method for it.
    async fn delete_user(&self, id: &str) {
        const SQL: &str = "DELETE FROM users WHERE id = $1";
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::query(SQL).bind(id).execute(pool).await.map(drop),
            Pool::Postgres(pool) => sqlx::query(SQL).bind(id).execute(pool).await.map(drop),
        }
        .unwrap();
    }
}

impl From<TestStore> for Arc<dyn Store> {
    fn from(test: TestStore) -> Self {
        test.store
    }
}

/// Runs `test` on a fresh, migrated database of `backend`, in its own task so that a panic is
/// caught, the database removed, and the panic resumed. PostgreSQL only when selected.
async fn run<A, F, Fut>(backend: Backend, test: F)
where
    A: From<TestStore>,
    F: FnOnce(A) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = match backend {
        Backend::SqliteMemory => "sqlite::memory:".to_string(),
        Backend::SqliteFile => fresh_sqlite_url(),
        Backend::Postgres if postgres_selected() => fresh_postgres_url().await,
        Backend::Postgres => return,
    };
    let (store, pool): (Arc<dyn Store>, _) = match backend {
        Backend::Postgres => {
            let store = PostgresStore::connect(&url).await.expect("connect");
            let pool = Pool::Postgres(store.pool().clone());
            (Arc::new(store), pool)
        }
        Backend::SqliteMemory | Backend::SqliteFile => {
            let store = SqliteStore::connect(&url).await.expect("connect");
            let pool = Pool::Sqlite(store.pool().clone());
            (Arc::new(store), pool)
        }
    };
    let db = TestStore { store, pool };
    assert_eq!(db.store.migrate().await.expect("migrate"), MIGRATIONS.len());
    let result = tokio::spawn(test(A::from(db))).await;
    match backend {
        Backend::SqliteMemory => {}
        Backend::SqliteFile => remove_sqlite_dir(&url),
        Backend::Postgres => drop_postgres_schema(&url).await,
    }
    if let Err(e) = result {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

/// Runs `task(store, i)` for each `i` in `0..n` at once, each in a task of its own; the results,
/// in that order.
async fn concurrently<T, Fut>(
    s: &Arc<dyn Store>,
    n: i64,
    task: impl Fn(Arc<dyn Store>, i64) -> Fut,
) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(task(s.clone(), i))).collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Rows a test starts from, inserted in dependency order. Users are `<id>@example.se`, created at
/// `NOW`; clients are [`client`]s; sessions, grants and refresh tokens live an hour, codes a minute.
struct Fixture<'a> {
    users: &'a [&'a str],
    clients: &'a [&'a str],
    /// `(id_hash, sid, user)`.
    sessions: &'a [(&'a str, &'a str, &'a str)],
    /// `(sid, client)`: the clients that got tokens through a session.
    session_clients: &'a [(&'a str, &'a str)],
    /// `(id, user, client)`.
    grants: &'a [(&'a str, &'a str, &'a str)],
    /// `(code hash, grant)`, issued to the grant's client.
    codes: &'a [(&'a str, &'a str)],
    /// `(token hash, grant)`.
    refresh_tokens: &'a [(&'a str, &'a str)],
}

impl Fixture<'static> {
    const NONE: Self = Fixture {
        users: &[],
        clients: &[],
        sessions: &[],
        session_clients: &[],
        grants: &[],
        codes: &[],
        refresh_tokens: &[],
    };
}

impl<'a> Fixture<'a> {
    /// Only these users.
    const fn users(users: &'a [&'a str]) -> Self {
        Fixture {
            users,
            ..Fixture::NONE
        }
    }

    async fn seed(&self, s: &dyn Store) {
        for id in self.users {
            let email = format!("{id}@example.se");
            s.insert_user(&user(id, &email, NOW), &[]).await.unwrap();
        }
        for id in self.clients {
            s.insert_client(&client(id, NOW), &[]).await.unwrap();
        }
        for (hash, sid, user_id) in self.sessions {
            let row = session(hash, sid, user_id, NOW + 3600);
            s.insert_session(&row, &[]).await.unwrap();
        }
        for (sid, client_id) in self.session_clients {
            s.add_session_client(sid, client_id).await.unwrap();
        }
        for (id, user_id, client_id) in self.grants {
            let row = grant(id, user_id, client_id, NOW + 3600);
            s.insert_grant(&row).await.unwrap();
        }
        for (hash, grant_id) in self.codes {
            let grant = self.grants.iter().find(|g| g.0 == *grant_id);
            let (_, _, client_id) = grant.expect("the code's grant is in the fixture");
            let row = auth_code(hash, grant_id, client_id, NOW + 60);
            s.insert_auth_code(&row).await.unwrap();
        }
        for (hash, grant_id) in self.refresh_tokens {
            let row = refresh_token(hash, grant_id, NOW + 3600);
            s.insert_refresh_token(&row).await.unwrap();
        }
    }
}

/// User `u1`.
const ONE_USER: Fixture<'static> = Fixture::users(&["u1"]);

/// Users `u1` and `u2`.
const TWO_USERS: Fixture<'static> = Fixture::users(&["u1", "u2"]);

/// User `u1`, client `c1` and a grant `g1` between them.
const ONE_GRANT: Fixture<'static> = Fixture {
    users: &["u1"],
    clients: &["c1"],
    grants: &[("g1", "u1", "c1")],
    ..Fixture::NONE
};

/// Clients `c1` and `c2` (deliveries reference their client); user `u1` with sessions `sid-1`
/// (hash `hash-1`) and `sid-2` (hash `hash-2`).
const LOGOUT_SESSIONS: Fixture<'static> = Fixture {
    users: &["u1"],
    clients: &["c1", "c2"],
    sessions: &[("hash-1", "sid-1", "u1"), ("hash-2", "sid-2", "u1")],
    ..Fixture::NONE
};

// ---------------------------------------------------------------------------------------------
// Row builders

pub(super) fn user(id: &str, email: &str, created_at: UnixTime) -> User {
    User {
        id: id.into(),
        email: email.into(),
        email_verified: true,
        name: format!("User {id}"),
        locale: "sv".into(),
        password_hash: None,
        disabled: false,
        created_at,
        updated_at: created_at,
    }
}

fn client(id: &str, created_at: UnixTime) -> Client {
    Client {
        id: id.into(),
        name: format!("Client {id}"),
        secret_hash: Some(format!("hash-{id}")),
        token_endpoint_auth_method: "client_secret_basic".into(),
        redirect_uris: vec![
            format!("https://{id}.example/cb"),
            "http://localhost:8080/cb".into(),
        ],
        post_logout_redirect_uris: vec![format!("https://{id}.example/bye")],
        allowed_scopes: vec!["openid".into(), "email".into(), "profile".into()],
        first_party: false,
        created_at,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        jwks: None,
        jwks_uri: None,
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        resources: vec![],
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        require_dpop_nonce: false,
    }
}

fn session(id_hash: &str, sid: &str, user_id: &str, expires_at: UnixTime) -> Session {
    Session {
        id_hash: id_hash.into(),
        sid: sid.into(),
        user_id: user_id.into(),
        auth_time: NOW - 10,
        amr: vec!["pwd".into(), "mfa".into()],
        acr: "urn:leasify:acr:password".into(),
        created_at: NOW - 10,
        expires_at,
    }
}

fn grant(id: &str, user_id: &str, client_id: &str, expires_at: UnixTime) -> Grant {
    Grant {
        id: id.into(),
        user_id: user_id.into(),
        client_id: client_id.into(),
        scope: "openid email".into(),
        auth_time: NOW - 5,
        amr: vec!["bankid".into()],
        acr: "urn:leasify:acr:bankid".into(),
        sid: Some("sid-1".into()),
        created_at: NOW - 5,
        expires_at,
        revoked_at: None,
        requested_claims: None,
    }
}

fn auth_code(hash: &str, grant_id: &str, client_id: &str, expires_at: UnixTime) -> AuthCode {
    AuthCode {
        code_hash: hash.into(),
        grant_id: grant_id.into(),
        client_id: client_id.into(),
        redirect_uri: format!("https://{client_id}.example/cb"),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        created_at: NOW - 1,
        expires_at,
        used_at: None,
        // Read back in full by the tests that compare rows, so the binding round-trips.
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
    }
}

fn refresh_token(hash: &str, grant_id: &str, expires_at: UnixTime) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        grant_id: grant_id.into(),
        generation: 3,
        created_at: NOW - 1,
        expires_at,
        used_at: None,
        revoked_at: None,
        dpop_jkt: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
    }
}

/// The refresh tokens' reuse grace window in these tests.
const GRACE: i64 = 5;

/// The next generation after the token `hash` (of grant `g1` if it is unknown), stored under
/// `successor_hash`.
async fn successor(s: &dyn Store, hash: &str, successor_hash: &str) -> RefreshToken {
    let (grant_id, generation) = match s.refresh_token_by_hash(hash).await.unwrap() {
        Some(token) => (token.grant_id, token.generation + 1),
        None => ("g1".to_string(), 1),
    };
    RefreshToken {
        token_hash: successor_hash.into(),
        grant_id,
        generation,
        created_at: NOW,
        expires_at: NOW + 3600,
        used_at: None,
        revoked_at: None,
        dpop_jkt: None,
    }
}

/// Presents the refresh token `hash` at `now` with a fresh successor.
async fn rotate(s: &dyn Store, hash: &str, now: UnixTime) -> Rotation {
    let next = successor(s, hash, &format!("{hash}-next-{}", uuid::Uuid::new_v4())).await;
    s.rotate_refresh_token(hash, &next, now, now - GRACE, &[])
        .await
        .unwrap()
}

async fn grant_revoked_at(s: &dyn Store, id: &str) -> Option<UnixTime> {
    s.grant_by_id(id).await.unwrap().unwrap().revoked_at
}

fn user_token(hash: &str, user_id: &str, purpose: &str, expires_at: UnixTime) -> UserToken {
    UserToken {
        token_hash: hash.into(),
        user_id: user_id.into(),
        purpose: purpose.into(),
        created_at: NOW - 1,
        expires_at,
        used_at: None,
    }
}

/// A pending message, created and due at `next_attempt_at`.
fn email(id: &str, next_attempt_at: UnixTime) -> OutboxEmail {
    OutboxEmail {
        id: id.into(),
        recipient: format!("{id}@example.se"),
        kind: "invite".into(),
        sealed_message: vec![7, 0, 255, 1, 2, 3],
        status: "pending".into(),
        attempts: 0,
        next_attempt_at,
        locked_until: None,
        last_error: None,
        created_at: next_attempt_at,
        sent_at: None,
    }
}

/// A personnummer (not linked to BankID) whose sealed bytes tell the number apart.
fn personnummer(user_id: &str, blind_index: &str, updated_at: UnixTime) -> StoredPersonnummer {
    let mut sealed = vec![0, 255, 7];
    sealed.extend_from_slice(blind_index.as_bytes());
    StoredPersonnummer {
        user_id: user_id.into(),
        sealed,
        blind_index: blind_index.into(),
        bankid_linked_at: None,
        updated_at,
    }
}

/// Types in `user_id`'s personnummer (see [`personnummer`]).
async fn type_in(s: &dyn Store, user_id: &str, blind_index: &str, updated_at: UnixTime) {
    let value = personnummer(user_id, blind_index, updated_at);
    s.set_personnummer(&value, &[]).await.unwrap();
}

/// A pending login order, created and started at `created_at`.
fn bankid_order(order_ref: &str, created_at: UnixTime) -> BankIdOrder {
    BankIdOrder {
        order_ref: order_ref.into(),
        purpose: "login".into(),
        browser_binding: format!("binding-{order_ref}"),
        user_id: None,
        pending_authorization: Some("p1".into()),
        next_path: None,
        auto_start_token: format!("ast-{order_ref}"),
        qr_start_token: format!("qst-{order_ref}"),
        qr_start_secret_sealed: vec![1, 0, 255, 42],
        started_at: created_at,
        status: "pending".into(),
        hint_code: Some("outstandingTransaction".into()),
        completion_sealed: None,
        end_user_ip: "192.0.2.1".into(),
        last_collect_at: None,
        created_at,
        finished_at: None,
    }
}

/// `order` as a collect reporting `status` at `finished_at` leaves it.
fn finished(order: BankIdOrder, status: &str, finished_at: UnixTime) -> BankIdOrder {
    BankIdOrder {
        status: status.into(),
        hint_code: None,
        completion_sealed: (status == "complete").then(|| vec![3, 1, 4, 0, 255]),
        last_collect_at: Some(finished_at),
        finished_at: Some(finished_at),
        ..order
    }
}

/// A pending delivery to `client_id`, created and due at `next_attempt_at`.
fn delivery(id: &str, client_id: &str, next_attempt_at: UnixTime) -> BackchannelDelivery {
    BackchannelDelivery {
        id: id.into(),
        client_id: client_id.into(),
        uri: format!("https://{client_id}.example/backchannel"),
        logout_token: format!("eyJ.logout-token-{id}.sig"),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at,
        locked_until: None,
        last_error: None,
        created_at: next_attempt_at,
    }
}

fn delivery_ids(deliveries: &[BackchannelDelivery]) -> Vec<&str> {
    deliveries.iter().map(|d| d.id.as_str()).collect()
}

/// The delivery `id` as `list_backchannel` shows it.
async fn delivery_row(s: &dyn Store, id: &str) -> BackchannelDelivery {
    s.list_backchannel(1000)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("delivery {id} is listed"))
}

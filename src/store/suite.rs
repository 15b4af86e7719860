//! One behavioural test suite for every `Store` backend.
//!
//! Each test is an `async fn(Arc<dyn Store>)` written once; `suite!` instantiates it as
//! `sqlite_memory::<name>`, `sqlite_file::<name>` and `postgres::<name>`. Every instance gets a
//! fresh, migrated database (an in-memory SQLite database, a temporary SQLite file, or its own
//! PostgreSQL schema), so tests run in parallel.

use std::future::Future;
use std::sync::Arc;

use super::test_support::{
    drop_postgres_schema, fresh_postgres_url, fresh_sqlite_url, remove_sqlite_dir,
};
use super::*;

const NOW: UnixTime = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Runs `test` in its own task so that a panic is caught, cleanup runs, and the panic is resumed.
async fn run_isolated<Fut>(test: Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Err(e) = tokio::spawn(test).await {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

async fn run_sqlite_memory<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("connect");
    assert_eq!(store.migrate().await.expect("migrate"), MIGRATIONS.len());
    run_isolated(test(Arc::new(store))).await;
}

async fn run_sqlite_file<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = fresh_sqlite_url();
    let store = SqliteStore::connect(&url).await.expect("connect");
    assert_eq!(store.migrate().await.expect("migrate"), MIGRATIONS.len());
    let result = tokio::spawn(test(Arc::new(store))).await;
    remove_sqlite_dir(&url);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = fresh_postgres_url().await;
    let store = PostgresStore::connect(&url).await.expect("connect");
    assert_eq!(store.migrate().await.expect("migrate"), MIGRATIONS.len());
    let result = tokio::spawn(test(Arc::new(store))).await;
    drop_postgres_schema(&url).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::run_sqlite_memory(super::$name).await;
                }
            )*
        }
        mod sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::run_sqlite_file(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::run_postgres(super::$name).await;
                }
            )*
        }
    };
}

suite!(
    migrate_twice_is_a_noop,
    users,
    clients,
    delete_client_cascades,
    signing_keys,
    pending_authorizations,
    sessions,
    grants,
    auth_code_is_consumed_exactly_once,
    refresh_token_is_consumed_exactly_once,
    throttle,
    purge_expired,
);

// ---------------------------------------------------------------------------------------------
// Row builders

fn user(id: &str, email: &str, created_at: UnixTime) -> User {
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
    }
}

fn signing_key(kid: &str, created_at: UnixTime) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        private_sealed: vec![0, 1, 2, 255, 254, 0, 42],
        public_jwk: format!(r#"{{"kid":"{kid}","kty":"EC"}}"#),
        created_at,
        active_from: created_at + 60,
        retired_at: None,
        unpublish_at: None,
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
    }
}

/// A user `u1`, a client `c1` and a grant `g1` between them, valid for an hour.
async fn seed_grant(s: &dyn Store) {
    s.insert_user(&user("u1", "u1@example.se", NOW))
        .await
        .unwrap();
    s.insert_client(&client("c1", NOW)).await.unwrap();
    s.insert_grant(&grant("g1", "u1", "c1", NOW + 3600))
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Tests

async fn migrate_twice_is_a_noop(s: Arc<dyn Store>) {
    // The fixture already applied every migration.
    assert_eq!(s.migrate().await.unwrap(), 0);
    assert_eq!(s.migrate().await.unwrap(), 0);
    s.ping().await.unwrap();
    assert!(matches!(s.backend(), "sqlite" | "postgres"));
    // The schema is usable after the no-op runs.
    s.insert_user(&user("u1", "a@example.se", NOW))
        .await
        .unwrap();
    assert!(s.user_by_id("u1").await.unwrap().is_some());
}

async fn users(s: Arc<dyn Store>) {
    let mut alice = user("u-alice", "alice@example.se", NOW);
    alice.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let bob = user("u-bob", "bob@example.se", NOW + 1);
    s.insert_user(&bob).await.unwrap();
    s.insert_user(&alice).await.unwrap();

    assert_eq!(s.user_by_id("u-alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(
        s.user_by_email("bob@example.se").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(s.user_by_id("nobody").await.unwrap(), None);
    assert_eq!(s.user_by_email("nobody@example.se").await.unwrap(), None);

    // Duplicate email (other id) and duplicate id are conflicts.
    let err = s
        .insert_user(&user("u-other", "alice@example.se", NOW))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .insert_user(&user("u-alice", "other@example.se", NOW))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    // Listed oldest first.
    let ids: Vec<String> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, ["u-alice", "u-bob"]);

    s.set_user_disabled("u-bob", true, NOW + 100).await.unwrap();
    let disabled = s.user_by_id("u-bob").await.unwrap().unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.updated_at, NOW + 100);
    s.set_user_disabled("u-bob", false, NOW + 101)
        .await
        .unwrap();
    assert!(!s.user_by_id("u-bob").await.unwrap().unwrap().disabled);

    s.set_user_password("u-bob", "$argon2id$new", NOW + 200)
        .await
        .unwrap();
    let bob2 = s.user_by_email("bob@example.se").await.unwrap().unwrap();
    assert_eq!(bob2.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(bob2.updated_at, NOW + 200);

    assert!(matches!(
        s.set_user_disabled("nobody", true, NOW).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_user_password("nobody", "x", NOW).await,
        Err(StoreError::NotFound)
    ));
}

async fn clients(s: Arc<dyn Store>) {
    let confidential = client("c-conf", NOW);
    let mut public = client("c-pub", NOW + 1);
    public.secret_hash = None;
    public.token_endpoint_auth_method = "none".into();
    public.first_party = true;
    public.post_logout_redirect_uris = vec![];
    s.insert_client(&public).await.unwrap();
    s.insert_client(&confidential).await.unwrap();

    assert_eq!(
        s.client_by_id("c-conf").await.unwrap(),
        Some(confidential.clone())
    );
    let got = s.client_by_id("c-pub").await.unwrap().unwrap();
    assert_eq!(got, public);
    assert!(got.is_public());
    assert_eq!(s.client_by_id("nope").await.unwrap(), None);

    let err = s.insert_client(&client("c-conf", NOW)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let ids: Vec<String> = s
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["c-conf", "c-pub"]);

    // Secret rotation.
    s.set_client_secret_hash("c-conf", "rotated").await.unwrap();
    assert_eq!(
        s.client_by_id("c-conf")
            .await
            .unwrap()
            .unwrap()
            .secret_hash
            .as_deref(),
        Some("rotated")
    );

    assert!(matches!(
        s.set_client_secret_hash("nope", "x").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_client("nope").await,
        Err(StoreError::NotFound)
    ));

    s.delete_client("c-pub").await.unwrap();
    assert_eq!(s.client_by_id("c-pub").await.unwrap(), None);
    assert_eq!(s.list_clients().await.unwrap().len(), 1);
}

async fn delete_client_cascades(s: Arc<dyn Store>) {
    s.insert_user(&user("u1", "u1@example.se", NOW))
        .await
        .unwrap();
    s.insert_client(&client("doomed", NOW)).await.unwrap();
    s.insert_client(&client("kept", NOW)).await.unwrap();
    for (g, c) in [("g-doomed", "doomed"), ("g-kept", "kept")] {
        s.insert_grant(&grant(g, "u1", c, NOW + 3600))
            .await
            .unwrap();
        s.insert_auth_code(&auth_code(&format!("code-{c}"), g, c, NOW + 60))
            .await
            .unwrap();
        s.insert_refresh_token(&refresh_token(&format!("rt-{c}"), g, NOW + 3600))
            .await
            .unwrap();
    }
    s.insert_session(&session("sess-hash", "sid-1", "u1", NOW + 3600))
        .await
        .unwrap();
    s.add_session_client("sid-1", "doomed").await.unwrap();
    s.add_session_client("sid-1", "kept").await.unwrap();

    s.delete_client("doomed").await.unwrap();

    assert_eq!(s.client_by_id("doomed").await.unwrap(), None);
    assert_eq!(s.grant_by_id("g-doomed").await.unwrap(), None);
    assert_eq!(
        s.consume_auth_code("code-doomed", NOW).await.unwrap(),
        Consumed::Missing
    );
    assert_eq!(
        s.consume_refresh_token("rt-doomed", NOW).await.unwrap(),
        Consumed::Missing
    );
    assert_eq!(s.session_clients("sid-1").await.unwrap(), ["kept"]);

    // The other client's rows are untouched.
    assert!(s.grant_by_id("g-kept").await.unwrap().is_some());
    assert!(matches!(
        s.consume_auth_code("code-kept", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    assert!(matches!(
        s.consume_refresh_token("rt-kept", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    assert!(s.session_by_hash("sess-hash", NOW).await.unwrap().is_some());
}

async fn signing_keys(s: Arc<dyn Store>) {
    let old = signing_key("k-old", NOW - 1000);
    let new = signing_key("k-new", NOW);
    s.insert_signing_key(&new).await.unwrap();
    s.insert_signing_key(&old).await.unwrap();
    let err = s
        .insert_signing_key(&signing_key("k-new", NOW))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    // Oldest first, bytes intact.
    assert_eq!(
        s.list_signing_keys().await.unwrap(),
        vec![old.clone(), new.clone()]
    );

    s.retire_signing_key("k-old", NOW, NOW + 600).await.unwrap();
    let keys = s.list_signing_keys().await.unwrap();
    assert_eq!(keys[0].retired_at, Some(NOW));
    assert_eq!(keys[0].unpublish_at, Some(NOW + 600));
    assert_eq!(keys[1].retired_at, None);
    assert!(matches!(
        s.retire_signing_key("k-none", NOW, NOW).await,
        Err(StoreError::NotFound)
    ));

    // Not yet time to unpublish; keys without `unpublish_at` are never deleted.
    assert_eq!(s.delete_unpublished_keys(NOW + 599).await.unwrap(), 0);
    assert_eq!(s.delete_unpublished_keys(NOW + 600).await.unwrap(), 1);
    assert_eq!(s.list_signing_keys().await.unwrap(), vec![new]);
    assert_eq!(s.delete_unpublished_keys(NOW + 1_000_000).await.unwrap(), 0);
}

async fn pending_authorizations(s: Arc<dyn Store>) {
    let pending = PendingAuthorization {
        id: "p1".into(),
        request_json: r#"{"client_id":"c1","scope":"openid"}"#.into(),
        created_at: NOW,
        expires_at: NOW + 600,
    };
    s.insert_pending_authorization(&pending).await.unwrap();
    assert!(matches!(
        s.insert_pending_authorization(&pending).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.pending_authorization("p1", NOW).await.unwrap(),
        Some(pending.clone())
    );
    assert_eq!(
        s.pending_authorization("p1", NOW + 599).await.unwrap(),
        Some(pending)
    );
    assert_eq!(
        s.pending_authorization("p1", NOW + 600).await.unwrap(),
        None
    );
    assert_eq!(s.pending_authorization("nope", NOW).await.unwrap(), None);

    s.delete_pending_authorization("p1").await.unwrap();
    assert_eq!(s.pending_authorization("p1", NOW).await.unwrap(), None);
    // Deleting again is fine.
    s.delete_pending_authorization("p1").await.unwrap();
}

async fn sessions(s: Arc<dyn Store>) {
    s.insert_user(&user("u1", "u1@example.se", NOW))
        .await
        .unwrap();
    s.insert_client(&client("c1", NOW)).await.unwrap();
    s.insert_client(&client("c2", NOW)).await.unwrap();
    let sess = session("hash-1", "sid-1", "u1", NOW + 3600);
    s.insert_session(&sess).await.unwrap();
    assert!(matches!(
        s.insert_session(&sess).await,
        Err(StoreError::Conflict(_))
    ));
    // `sid` is unique too.
    assert!(matches!(
        s.insert_session(&session("hash-2", "sid-1", "u1", NOW + 3600))
            .await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(
        s.session_by_hash("hash-1", NOW).await.unwrap(),
        Some(sess.clone())
    );
    assert_eq!(s.session_by_hash("hash-1", NOW + 3600).await.unwrap(), None);
    assert_eq!(s.session_by_hash("nope", NOW).await.unwrap(), None);

    assert!(s.session_clients("sid-1").await.unwrap().is_empty());
    s.add_session_client("sid-1", "c2").await.unwrap();
    s.add_session_client("sid-1", "c1").await.unwrap();
    s.add_session_client("sid-1", "c2").await.unwrap(); // idempotent
    assert_eq!(s.session_clients("sid-1").await.unwrap(), ["c1", "c2"]);
    assert!(matches!(
        s.add_session_client("sid-unknown", "c1").await,
        Err(StoreError::NotFound)
    ));

    s.delete_session("hash-1").await.unwrap();
    assert_eq!(s.session_by_hash("hash-1", NOW).await.unwrap(), None);
    assert!(s.session_clients("sid-1").await.unwrap().is_empty());
    s.delete_session("hash-1").await.unwrap();
}

async fn grants(s: Arc<dyn Store>) {
    seed_grant(&*s).await;
    let expected = grant("g1", "u1", "c1", NOW + 3600);
    assert_eq!(s.grant_by_id("g1").await.unwrap(), Some(expected.clone()));
    assert_eq!(s.grant_by_id("nope").await.unwrap(), None);
    assert!(matches!(
        s.insert_grant(&expected).await,
        Err(StoreError::Conflict(_))
    ));

    let mut no_sid = grant("g2", "u1", "c1", NOW + 3600);
    no_sid.sid = None;
    s.insert_grant(&no_sid).await.unwrap();
    assert_eq!(s.grant_by_id("g2").await.unwrap(), Some(no_sid));

    // A grant must belong to an existing client.
    assert!(
        s.insert_grant(&grant("g3", "u1", "no-such-client", NOW + 1))
            .await
            .is_err()
    );

    s.revoke_grant("g1", NOW + 10).await.unwrap();
    assert_eq!(
        s.grant_by_id("g1").await.unwrap().unwrap().revoked_at,
        Some(NOW + 10)
    );
    // Idempotent: the first revocation time stays.
    s.revoke_grant("g1", NOW + 20).await.unwrap();
    assert_eq!(
        s.grant_by_id("g1").await.unwrap().unwrap().revoked_at,
        Some(NOW + 10)
    );
    s.revoke_grant("nope", NOW).await.unwrap();
    assert_eq!(s.grant_by_id("g2").await.unwrap().unwrap().revoked_at, None);
}

async fn auth_code_is_consumed_exactly_once(s: Arc<dyn Store>) {
    seed_grant(&*s).await;
    let code = auth_code("code-hash", "g1", "c1", NOW + 60);
    s.insert_auth_code(&code).await.unwrap();
    assert!(matches!(
        s.insert_auth_code(&code).await,
        Err(StoreError::Conflict(_))
    ));
    let mut public = auth_code("code-public", "g1", "c1", NOW + 60);
    public.nonce = None;
    public.code_challenge = None;
    public.code_challenge_method = None;
    s.insert_auth_code(&public).await.unwrap();

    let handles: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.consume_auth_code("code-hash", NOW + i).await.unwrap() })
        })
        .collect();
    let mut fresh = Vec::new();
    let mut already_used = Vec::new();
    for handle in handles {
        match handle.await.unwrap() {
            Consumed::Fresh(c) => fresh.push(c),
            Consumed::AlreadyUsed(c) => already_used.push(c),
            Consumed::Missing => panic!("code reported missing"),
        }
    }
    assert_eq!(fresh.len(), 1, "exactly one consumer wins");
    assert_eq!(already_used.len(), 9);
    let winner = &fresh[0];
    let used_at = winner.used_at.expect("Fresh row carries used_at");
    assert_eq!(
        AuthCode {
            used_at: None,
            ..winner.clone()
        },
        code
    );
    for c in &already_used {
        assert_eq!(c.used_at, Some(used_at));
    }
    // Later attempts still see the first use.
    assert_eq!(
        s.consume_auth_code("code-hash", NOW + 100).await.unwrap(),
        Consumed::AlreadyUsed(winner.clone())
    );

    match s.consume_auth_code("code-public", NOW).await.unwrap() {
        Consumed::Fresh(c) => {
            assert_eq!(c.nonce, None);
            assert_eq!(c.code_challenge, None);
            assert_eq!(c.used_at, Some(NOW));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.consume_auth_code("unknown", NOW).await.unwrap(),
        Consumed::Missing
    );
}

async fn refresh_token_is_consumed_exactly_once(s: Arc<dyn Store>) {
    seed_grant(&*s).await;
    let token = refresh_token("rt-hash", "g1", NOW + 3600);
    s.insert_refresh_token(&token).await.unwrap();
    assert!(matches!(
        s.insert_refresh_token(&token).await,
        Err(StoreError::Conflict(_))
    ));

    let handles: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.consume_refresh_token("rt-hash", NOW + i).await.unwrap() })
        })
        .collect();
    let mut fresh = Vec::new();
    let mut already_used = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Consumed::Fresh(t) => fresh.push(t),
            Consumed::AlreadyUsed(t) => {
                assert!(t.used_at.is_some());
                already_used += 1;
            }
            Consumed::Missing => panic!("token reported missing"),
        }
    }
    assert_eq!(fresh.len(), 1, "exactly one consumer wins");
    assert_eq!(already_used, 9);
    assert_eq!(
        RefreshToken {
            used_at: None,
            ..fresh[0].clone()
        },
        token
    );
    assert_eq!(
        s.consume_refresh_token("rt-hash", NOW + 100).await.unwrap(),
        Consumed::AlreadyUsed(fresh[0].clone())
    );
    assert_eq!(
        s.consume_refresh_token("unknown", NOW).await.unwrap(),
        Consumed::Missing
    );
}

async fn throttle(s: Arc<dyn Store>) {
    const WINDOW: i64 = 300;
    assert_eq!(s.failures("ip:1", NOW, WINDOW).await.unwrap(), 0);

    for n in 1..=3 {
        let state = s.record_failure("ip:1", NOW + n, WINDOW).await.unwrap();
        assert_eq!(
            state,
            ThrottleState {
                failures: n,
                window_start: NOW + 1
            }
        );
    }
    assert_eq!(s.failures("ip:1", NOW + 10, WINDOW).await.unwrap(), 3);
    assert_eq!(s.failures("ip:1", NOW + WINDOW, WINDOW).await.unwrap(), 3);
    // Other buckets are independent.
    assert_eq!(
        s.record_failure("email:a", NOW, WINDOW)
            .await
            .unwrap()
            .failures,
        1
    );

    // The window has passed: the count reads 0 and the next failure starts a new window.
    assert_eq!(
        s.failures("ip:1", NOW + 1 + WINDOW, WINDOW).await.unwrap(),
        0
    );
    let state = s
        .record_failure("ip:1", NOW + 1 + WINDOW, WINDOW)
        .await
        .unwrap();
    assert_eq!(
        state,
        ThrottleState {
            failures: 1,
            window_start: NOW + 1 + WINDOW
        }
    );
    assert_eq!(
        s.record_failure("ip:1", NOW + 2 + WINDOW, WINDOW)
            .await
            .unwrap()
            .failures,
        2
    );

    s.clear_failures("ip:1").await.unwrap();
    assert_eq!(
        s.failures("ip:1", NOW + 2 + WINDOW, WINDOW).await.unwrap(),
        0
    );
    assert_eq!(s.failures("email:a", NOW, WINDOW).await.unwrap(), 1);
    s.clear_failures("never-seen").await.unwrap();

    // Concurrent failures are all counted.
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.record_failure("burst", NOW, WINDOW).await.unwrap() })
        })
        .collect();
    let mut counts = Vec::new();
    for handle in handles {
        counts.push(handle.await.unwrap().failures);
    }
    counts.sort();
    assert_eq!(counts, (1..=10).collect::<Vec<_>>());
    assert_eq!(s.failures("burst", NOW, WINDOW).await.unwrap(), 10);
}

async fn purge_expired(s: Arc<dyn Store>) {
    seed_grant(&*s).await; // g1: live
    s.insert_grant(&grant("g-expired", "u1", "c1", NOW - 1))
        .await
        .unwrap();

    // Deleted: 2 codes, 2 refresh tokens, 1 grant, 1 pending request, 1 session + 1 link,
    // 1 throttle row = 9.
    s.insert_auth_code(&auth_code("code-old", "g1", "c1", NOW - 1))
        .await
        .unwrap();
    s.insert_auth_code(&auth_code("code-live", "g1", "c1", NOW + 60))
        .await
        .unwrap();
    s.insert_auth_code(&auth_code(
        "code-of-expired-grant",
        "g-expired",
        "c1",
        NOW + 60,
    ))
    .await
    .unwrap();
    s.insert_refresh_token(&refresh_token("rt-old", "g1", NOW))
        .await
        .unwrap();
    s.insert_refresh_token(&refresh_token("rt-live", "g1", NOW + 3600))
        .await
        .unwrap();
    s.insert_refresh_token(&refresh_token(
        "rt-of-expired-grant",
        "g-expired",
        NOW + 3600,
    ))
    .await
    .unwrap();
    for (id, expires_at) in [("p-old", NOW - 5), ("p-live", NOW + 5)] {
        s.insert_pending_authorization(&PendingAuthorization {
            id: id.into(),
            request_json: "{}".into(),
            created_at: NOW - 600,
            expires_at,
        })
        .await
        .unwrap();
    }
    s.insert_session(&session("sess-old", "sid-old", "u1", NOW - 1))
        .await
        .unwrap();
    s.insert_session(&session("sess-live", "sid-live", "u1", NOW + 3600))
        .await
        .unwrap();
    s.add_session_client("sid-old", "c1").await.unwrap();
    s.add_session_client("sid-live", "c1").await.unwrap();
    s.record_failure("stale", NOW - 3 * 24 * 3600, 300)
        .await
        .unwrap();
    s.record_failure("recent", NOW - 60, 300).await.unwrap();

    assert_eq!(s.purge_expired(NOW).await.unwrap(), 9);
    assert_eq!(s.purge_expired(NOW).await.unwrap(), 0);

    assert!(s.grant_by_id("g1").await.unwrap().is_some());
    assert_eq!(s.grant_by_id("g-expired").await.unwrap(), None);
    for gone in ["code-old", "code-of-expired-grant"] {
        assert_eq!(
            s.consume_auth_code(gone, NOW).await.unwrap(),
            Consumed::Missing,
            "{gone}"
        );
    }
    assert!(matches!(
        s.consume_auth_code("code-live", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    for gone in ["rt-old", "rt-of-expired-grant"] {
        assert_eq!(
            s.consume_refresh_token(gone, NOW).await.unwrap(),
            Consumed::Missing,
            "{gone}"
        );
    }
    assert!(matches!(
        s.consume_refresh_token("rt-live", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    assert_eq!(
        s.pending_authorization("p-old", NOW - 10).await.unwrap(),
        None
    );
    assert!(
        s.pending_authorization("p-live", NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.session_by_hash("sess-old", NOW - 10).await.unwrap(), None);
    assert!(s.session_clients("sid-old").await.unwrap().is_empty());
    assert!(s.session_by_hash("sess-live", NOW).await.unwrap().is_some());
    assert_eq!(s.session_clients("sid-live").await.unwrap(), ["c1"]);
    assert_eq!(s.failures("recent", NOW, 300).await.unwrap(), 1);
    // The stale bucket is gone: a new failure starts from 1 even with a huge window.
    assert_eq!(
        s.record_failure("stale", NOW, i64::MAX / 4)
            .await
            .unwrap()
            .failures,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Backend-specific checks

#[tokio::test]
async fn sqlite_url_forms_create_missing_directories() {
    for prefix in ["sqlite://", "sqlite:"] {
        let dir = std::env::temp_dir()
            .join(format!("leasify-test-{}", uuid::Uuid::new_v4().simple()))
            .join("nested");
        let file = dir.join("id.db");
        let url = format!("{prefix}{}", file.display());
        let store = SqliteStore::connect(&url).await.expect(&url);
        assert_eq!(store.migrate().await.unwrap(), MIGRATIONS.len());
        assert!(file.exists(), "{url}");
        drop(store);
        // Reopening finds the schema in place.
        let store = SqliteStore::connect(&url).await.unwrap();
        assert_eq!(store.migrate().await.unwrap(), 0);
        drop(store);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}

#[tokio::test]
async fn sqlite_memory_databases_are_separate() {
    let a = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let b = SqliteStore::connect("sqlite::memory:").await.unwrap();
    a.migrate().await.unwrap();
    assert_eq!(b.migrate().await.unwrap(), MIGRATIONS.len());
    a.insert_user(&user("u1", "a@example.se", NOW))
        .await
        .unwrap();
    assert_eq!(b.user_by_id("u1").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_migrations_apply_once() {
    let url = fresh_sqlite_url();
    let first = SqliteStore::connect(&url).await.unwrap();
    let second = SqliteStore::connect(&url).await.unwrap();
    let (a, b) = tokio::join!(first.migrate(), second.migrate());
    remove_sqlite_dir(&url);
    assert_eq!(a.unwrap() + b.unwrap(), MIGRATIONS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_migrations_apply_once() {
    let url = fresh_postgres_url().await;
    let stores = [
        PostgresStore::connect(&url).await.unwrap(),
        PostgresStore::connect(&url).await.unwrap(),
        PostgresStore::connect(&url).await.unwrap(),
    ];
    let (a, b, c) = tokio::join!(
        stores[0].migrate(),
        stores[1].migrate(),
        stores[2].migrate()
    );
    drop(stores);
    drop_postgres_schema(&url).await;
    assert_eq!(a.unwrap() + b.unwrap() + c.unwrap(), MIGRATIONS.len());
}

#[test]
fn test_schema_urls_round_trip() {
    let url = "postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3Dt_00ff";
    assert_eq!(super::test_support::schema_of(url), Some("t_00ff"));
    assert_eq!(super::test_support::schema_of("postgres://x/y"), None);
    assert_eq!(
        super::test_support::schema_of("postgres://x/y?options=-c%20search_path%3Dpublic"),
        None
    );
}

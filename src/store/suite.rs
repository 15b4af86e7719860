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
    password_from_link_is_all_or_nothing,
    consent_is_saved_with_its_authorization,
    refresh_rotation_is_all_or_nothing,
    refresh_siblings_leave_one_chain,
    auth_code_redemption_is_all_or_nothing,
    throttle,
    purge_expired,
    invitation_is_consumed_exactly_once,
    user_tokens,
    set_password_with_effects,
    account_changes_are_all_or_nothing,
    update_user_profile,
    outbox_claims_due_messages_once_per_lease,
    outbox_concurrent_claimers_never_share,
    outbox_sent_and_failed,
    outbox_list_and_lookup,
    purge_expired_tokens_and_outbox,
    personnummer_set_and_lookup,
    personnummer_replace_clears_link,
    personnummer_verified_is_unique_and_typed_copies_give_way,
    bankid_login_consumes_the_order_with_its_session,
    personnummer_delete,
    set_bankid_linked_fills_an_empty_name_only,
    reseal_and_list_personnummer,
    bankid_orders_insert_get_update,
    bankid_order_is_consumed_exactly_once,
    claim_bankid_collect_once_per_interval,
    purge_bankid_orders,
    clients_keep_logout_and_key_settings,
    consents_upsert_list_and_revoke,
    access_token_revocation_is_remembered_until_expiry,
    refresh_token_by_hash_does_not_use_it,
    client_assertion_jti_is_single_use_until_expiry,
    session_by_sid,
    end_session_revokes_online_grants_and_queues_deliveries,
    end_session_is_all_or_nothing,
    backchannel_claims_due_deliveries_once_per_lease,
    backchannel_concurrent_claimers_never_share,
    backchannel_delivered_and_failed,
    backchannel_list_and_purge,
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
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        jwks: None,
        jwks_uri: None,
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
    }
}

/// Presents the refresh token `hash` at `now` with a fresh successor.
async fn rotate(s: &dyn Store, hash: &str, now: UnixTime) -> Rotation {
    let next = successor(s, hash, &format!("{hash}-next-{}", uuid::Uuid::new_v4())).await;
    s.rotate_refresh_token(hash, &next, now, now - GRACE)
        .await
        .unwrap()
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

fn ids(emails: &[OutboxEmail]) -> Vec<&str> {
    emails.iter().map(|e| e.id.as_str()).collect()
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

/// Users `u1` and `u2` (named), each without a personnummer.
async fn seed_two_users(s: &dyn Store) {
    for id in ["u1", "u2"] {
        s.insert_user(&user(id, &format!("{id}@example.se"), NOW))
            .await
            .unwrap();
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
    assert_eq!(rotate(&*s, "rt-doomed", NOW).await, Rotation::Missing);
    assert_eq!(s.session_clients("sid-1").await.unwrap(), ["kept"]);

    // The other client's rows are untouched.
    assert!(s.grant_by_id("g-kept").await.unwrap().is_some());
    assert!(matches!(
        s.consume_auth_code("code-kept", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    assert!(matches!(
        rotate(&*s, "rt-kept", NOW).await,
        Rotation::Rotated { .. }
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

    // Without a grace window, of concurrent presentations exactly one rotates; the others are
    // replays and revoke the grant.
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let next = successor(&*s, "rt-hash", &format!("rt-next-{i}")).await;
                s.rotate_refresh_token("rt-hash", &next, NOW, NOW + 1)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = Vec::new();
    let mut reused = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Rotation::Rotated { presented } => rotated.push(presented),
            Rotation::Reused { presented } => {
                assert_eq!(presented.used_at, Some(NOW));
                reused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(rotated.len(), 1, "exactly one rotation wins");
    assert_eq!(reused, 9);
    assert_eq!(
        RefreshToken {
            used_at: None,
            ..rotated[0].clone()
        },
        token
    );
    assert!(
        s.grant_by_id("g1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    // Only the winner's successor was stored.
    let mut stored = 0;
    for i in 0..10 {
        let hash = format!("rt-next-{i}");
        stored += usize::from(s.refresh_token_by_hash(&hash).await.unwrap().is_some());
    }
    assert_eq!(stored, 1);
    assert_eq!(rotate(&*s, "unknown", NOW).await, Rotation::Missing);
}

async fn auth_code_redemption_is_all_or_nothing(s: Arc<dyn Store>) {
    seed_grant(&*s).await;
    s.insert_auth_code(&auth_code("code-1", "g1", "c1", NOW + 60))
        .await
        .unwrap();
    s.insert_refresh_token(&refresh_token("rt-taken", "g1", NOW + 3600))
        .await
        .unwrap();
    let first = |hash: &str| RefreshToken {
        generation: 0,
        ..refresh_token(hash, "g1", NOW + 3600)
    };
    // Reading does not use it.
    assert_eq!(s.auth_code("code-1").await.unwrap().unwrap().used_at, None);
    assert_eq!(s.auth_code("nope").await.unwrap(), None);
    // Storing the refresh token fails: the code is not used up.
    assert!(matches!(
        s.redeem_auth_code("code-1", NOW, &first("rt-taken")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.auth_code("code-1").await.unwrap().unwrap().used_at, None);
    // Concurrent exchanges: one wins and stores its refresh token; the others store nothing.
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            let token = first(&format!("rt-first-{i}"));
            tokio::spawn(async move { s.redeem_auth_code("code-1", NOW + 1, &token).await })
        })
        .collect();
    let mut fresh = 0;
    for handle in handles {
        match handle.await.unwrap().unwrap() {
            Consumed::Fresh(code) => {
                assert_eq!(code.used_at, Some(NOW + 1));
                fresh += 1;
            }
            Consumed::AlreadyUsed(code) => assert_eq!(code.used_at, Some(NOW + 1)),
            Consumed::Missing => panic!("missing"),
        }
    }
    assert_eq!(fresh, 1);
    let mut stored = 0;
    for i in 0..8 {
        let hash = format!("rt-first-{i}");
        stored += usize::from(s.refresh_token_by_hash(&hash).await.unwrap().is_some());
    }
    assert_eq!(stored, 1);
    assert_eq!(
        s.redeem_auth_code("unknown", NOW, &first("rt-x"))
            .await
            .unwrap(),
        Consumed::Missing
    );
}

async fn refresh_rotation_is_all_or_nothing(s: Arc<dyn Store>) {
    seed_grant(&*s).await;
    s.insert_refresh_token(&refresh_token("rt-1", "g1", NOW + 3600))
        .await
        .unwrap();
    s.insert_refresh_token(&refresh_token("rt-taken", "g1", NOW + 3600))
        .await
        .unwrap();
    // Storing the successor fails after the presented token was marked used (its hash is
    // taken): the whole rotation is undone.
    let clashing = successor(&*s, "rt-1", "rt-taken").await;
    assert!(matches!(
        s.rotate_refresh_token("rt-1", &clashing, NOW, NOW - GRACE)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let after = s.refresh_token_by_hash("rt-1").await.unwrap().unwrap();
    assert_eq!((after.used_at, after.revoked_at), (None, None));
    assert_eq!(
        s.refresh_token_by_hash("rt-taken")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None,
        "the sibling revocation was undone too"
    );
    // The old token still works.
    assert!(matches!(
        rotate(&*s, "rt-1", NOW + 60).await,
        Rotation::Rotated { .. }
    ));
    // A successor of the wrong generation or grant is refused and changes nothing.
    s.insert_refresh_token(&refresh_token("rt-2", "g1", NOW + 3600))
        .await
        .unwrap();
    let mut wrong = successor(&*s, "rt-2", "rt-wrong").await;
    wrong.generation += 1;
    assert!(matches!(
        s.rotate_refresh_token("rt-2", &wrong, NOW, NOW - GRACE)
            .await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(
        s.refresh_token_by_hash("rt-2")
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );
}

async fn refresh_siblings_leave_one_chain(s: Arc<dyn Store>) {
    seed_grant(&*s).await;
    s.insert_refresh_token(&refresh_token("rt-0", "g1", NOW + 3600))
        .await
        .unwrap();
    // Three concurrent refreshes within the grace window: three siblings of generation 4.
    let mut siblings = Vec::new();
    for (i, at) in [NOW, NOW + 1, NOW + 2].into_iter().enumerate() {
        let next = successor(&*s, "rt-0", &format!("rt-1{}", ["a", "b", "c"][i])).await;
        assert!(matches!(
            s.rotate_refresh_token("rt-0", &next, at, at - GRACE)
                .await
                .unwrap(),
            Rotation::Rotated { .. }
        ));
        siblings.push(next.token_hash);
    }
    // The client kept the second answer: using it revokes the other two.
    assert!(matches!(
        rotate(&*s, "rt-1b", NOW + 3).await,
        Rotation::Rotated { .. }
    ));
    for lost in ["rt-1a", "rt-1c"] {
        let token = s.refresh_token_by_hash(lost).await.unwrap().unwrap();
        assert_eq!(token.revoked_at, Some(NOW + 3), "{lost}");
        assert_eq!(
            rotate(&*s, lost, NOW + 4).await,
            Rotation::Refused,
            "{lost}"
        );
    }
    // Presenting the parent again, even within its grace window, cannot start a second chain.
    assert_eq!(rotate(&*s, "rt-0", NOW + 4).await, Rotation::Refused);
    // None of this is a replay: the grant lives.
    assert_eq!(s.grant_by_id("g1").await.unwrap().unwrap().revoked_at, None);
    // Outside the window, presenting a used token is a replay: the grant is revoked.
    assert!(matches!(
        rotate(&*s, "rt-1b", NOW + 3 + GRACE + 1).await,
        Rotation::Reused { .. }
    ));
    assert_eq!(
        s.grant_by_id("g1").await.unwrap().unwrap().revoked_at,
        Some(NOW + 3 + GRACE + 1)
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
        assert_eq!(rotate(&*s, gone, NOW).await, Rotation::Missing, "{gone}");
    }
    assert!(matches!(
        rotate(&*s, "rt-live", NOW).await,
        Rotation::Rotated { .. }
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

async fn invitation_is_consumed_exactly_once(s: Arc<dyn Store>) {
    let mut invited = user("u-new", "new@example.se", NOW);
    invited.email_verified = false;
    let token = user_token("invite-hash", "u-new", "invite", NOW + 3600);
    let welcome = email("m-welcome", NOW);
    s.insert_user_with_token(&invited, &token, &welcome)
        .await
        .unwrap();
    assert_eq!(s.user_by_id("u-new").await.unwrap(), Some(invited.clone()));
    assert_eq!(
        s.user_token("invite-hash").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        s.outbox_email("m-welcome").await.unwrap(),
        Some(welcome.clone())
    );

    // The same email again is a conflict (and adds no second message).
    let mut again = invited.clone();
    again.id = "u-again".into();
    let err = s
        .insert_user_with_token(
            &again,
            &user_token("other-hash", "u-again", "invite", NOW + 3600),
            &email("m-again", NOW),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.outbox_email("m-again").await.unwrap(), None);
    assert_eq!(s.user_token("other-hash").await.unwrap(), None);

    let handles: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.consume_user_token("invite-hash", NOW + i).await.unwrap() })
        })
        .collect();
    let mut fresh = Vec::new();
    let mut already_used = Vec::new();
    for handle in handles {
        match handle.await.unwrap() {
            Consumed::Fresh(t) => fresh.push(t),
            Consumed::AlreadyUsed(t) => already_used.push(t),
            Consumed::Missing => panic!("token reported missing"),
        }
    }
    assert_eq!(fresh.len(), 1, "exactly one consumer wins");
    assert_eq!(already_used.len(), 9);
    let winner = &fresh[0];
    let used_at = winner.used_at.expect("Fresh row carries used_at");
    assert_eq!(
        UserToken {
            used_at: None,
            ..winner.clone()
        },
        token
    );
    for t in &already_used {
        assert_eq!(t.used_at, Some(used_at));
    }
    assert_eq!(
        s.consume_user_token("invite-hash", NOW + 100)
            .await
            .unwrap(),
        Consumed::AlreadyUsed(winner.clone())
    );
    assert_eq!(
        s.user_token("invite-hash").await.unwrap(),
        Some(winner.clone())
    );
    assert_eq!(
        s.consume_user_token("unknown", NOW).await.unwrap(),
        Consumed::Missing
    );
}

async fn user_tokens(s: Arc<dyn Store>) {
    s.insert_user(&user("u1", "u1@example.se", NOW))
        .await
        .unwrap();
    let reset = user_token("reset-hash", "u1", "reset", NOW + 1800);
    let mail = email("m-reset", NOW);
    s.insert_user_token(&reset, &mail, None).await.unwrap();
    assert_eq!(
        s.user_token("reset-hash").await.unwrap(),
        Some(reset.clone())
    );
    assert_eq!(s.outbox_email("m-reset").await.unwrap(), Some(mail));
    assert_eq!(s.user_token("unknown").await.unwrap(), None);

    // Looking a token up does not consume it.
    assert_eq!(
        s.user_token("reset-hash").await.unwrap().unwrap().used_at,
        None
    );
    assert!(matches!(
        s.consume_user_token("reset-hash", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    assert_eq!(
        s.user_token("reset-hash").await.unwrap().unwrap().used_at,
        Some(NOW)
    );

    // Same hash twice is a conflict; an unknown user is NotFound. Neither leaves an email.
    let err = s
        .insert_user_token(&reset, &email("m-dup-token", NOW), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .insert_user_token(
            &user_token("orphan-hash", "nobody", "reset", NOW + 1800),
            &email("m-orphan", NOW),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.outbox_email("m-dup-token").await.unwrap(), None);
    assert_eq!(s.outbox_email("m-orphan").await.unwrap(), None);
    assert_eq!(s.user_token("orphan-hash").await.unwrap(), None);

    // Another user, another purpose.
    s.insert_user(&user("u2", "u2@example.se", NOW))
        .await
        .unwrap();
    s.insert_user_token(
        &user_token("u2-hash", "u2", "invite", NOW + 60),
        &email("m-u2", NOW),
        None,
    )
    .await
    .unwrap();
    assert!(s.user_token("u2-hash").await.unwrap().is_some());
}

/// `u1` with three sessions (two linked to `c1`), two grants (one revoked before), two link
/// tokens (one used before); `u2` with one of each, which must never be touched.
async fn seed_password_change(s: &dyn Store) {
    let mut u1 = user("u1", "u1@example.se", NOW - 1000);
    u1.email_verified = false;
    u1.password_hash = Some("$argon2id$old".into());
    s.insert_user(&u1).await.unwrap();
    s.insert_user(&user("u2", "u2@example.se", NOW - 1000))
        .await
        .unwrap();
    s.insert_client(&client("c1", NOW)).await.unwrap();
    for (hash, sid, user_id) in [
        ("keep", "sid-keep", "u1"),
        ("other-1", "sid-other-1", "u1"),
        ("other-2", "sid-other-2", "u1"),
        ("u2-sess", "sid-u2", "u2"),
    ] {
        s.insert_session(&session(hash, sid, user_id, NOW + 3600))
            .await
            .unwrap();
        s.add_session_client(sid, "c1").await.unwrap();
    }
    s.insert_grant(&grant("g-live", "u1", "c1", NOW + 3600))
        .await
        .unwrap();
    let mut revoked = grant("g-revoked", "u1", "c1", NOW + 3600);
    revoked.revoked_at = Some(NOW - 100);
    s.insert_grant(&revoked).await.unwrap();
    s.insert_grant(&grant("g-u2", "u2", "c1", NOW + 3600))
        .await
        .unwrap();
    for (hash, user_id) in [("t-unused", "u1"), ("t-used", "u1"), ("t-u2", "u2")] {
        s.insert_user_token(
            &user_token(hash, user_id, "reset", NOW + 3600),
            &email(&format!("m-{hash}"), NOW - 10),
            None,
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        s.consume_user_token("t-used", NOW - 50).await.unwrap(),
        Consumed::Fresh(_)
    ));
}

async fn password_from_link_is_all_or_nothing(s: Arc<dyn Store>) {
    seed_two_users(&*s).await;
    s.insert_user_token(
        &user_token("t-reset", "u1", "reset", NOW + 3600),
        &email("m-reset", NOW),
        None,
    )
    .await
    .unwrap();
    // The change fails (its notice clashes with a queued message): the link stays usable.
    let clashing = password_change(None, Some(email("m-reset", NOW)));
    assert!(matches!(
        s.set_password_from_link("t-reset", &clashing).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.user_token("t-reset").await.unwrap().unwrap().used_at,
        None
    );
    assert_eq!(
        s.user_by_id("u1").await.unwrap().unwrap().password_hash,
        None
    );
    // A link of another user cannot set this user's password.
    let other = PasswordChange {
        user_id: "u2".into(),
        ..password_change(None, None)
    };
    assert!(matches!(
        s.set_password_from_link("t-reset", &other).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(
        s.user_token("t-reset").await.unwrap().unwrap().used_at,
        None
    );
    // Then it works once.
    let change = password_change(None, Some(email("m-notice", NOW)));
    assert!(matches!(
        s.set_password_from_link("t-reset", &change).await.unwrap(),
        Consumed::Fresh(_)
    ));
    assert_eq!(
        s.user_by_id("u1")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$new")
    );
    assert!(s.outbox_email("m-notice").await.unwrap().is_some());
    let again = PasswordChange {
        password_hash: "$argon2id$again".into(),
        ..password_change(None, None)
    };
    assert!(matches!(
        s.set_password_from_link("t-reset", &again).await.unwrap(),
        Consumed::AlreadyUsed(_)
    ));
    assert_eq!(
        s.user_by_id("u1")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$new")
    );
    assert_eq!(
        s.set_password_from_link("nope", &again).await.unwrap(),
        Consumed::Missing
    );
}

async fn consent_is_saved_with_its_authorization(s: Arc<dyn Store>) {
    seed_grant(&*s).await;
    s.insert_session(&session("sess-1", "sid-1", "u1", NOW + 3600))
        .await
        .unwrap();
    s.insert_auth_code(&auth_code("code-taken", "g1", "c1", NOW + 60))
        .await
        .unwrap();
    let consent = Consent {
        user_id: "u1".into(),
        client_id: "c1".into(),
        scope: "openid email".into(),
        granted_at: NOW,
    };
    // The code cannot be stored: no grant, no consent.
    let failing = grant("g-2", "u1", "c1", NOW + 3600);
    assert!(
        s.record_authorization(
            &failing,
            &auth_code("code-taken", "g-2", "c1", NOW + 60),
            "sid-1",
            None,
            Some(&consent)
        )
        .await
        .is_err()
    );
    assert_eq!(s.consent("u1", "c1").await.unwrap(), None);
    assert_eq!(s.grant_by_id("g-2").await.unwrap(), None);
    s.record_authorization(
        &failing,
        &auth_code("code-2", "g-2", "c1", NOW + 60),
        "sid-1",
        None,
        Some(&consent),
    )
    .await
    .unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), Some(consent));
}

fn password_change(keep: Option<&str>, notice: Option<OutboxEmail>) -> PasswordChange {
    PasswordChange {
        user_id: "u1".into(),
        password_hash: "$argon2id$new".into(),
        now: NOW,
        keep_session_hash: keep.map(Into::into),
        verify_email: true,
        notice,
    }
}

/// The state `seed_password_change` left, unchanged: what a failed change must leave behind.
async fn assert_password_unchanged(s: &dyn Store) {
    let u1 = s.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(u1.password_hash.as_deref(), Some("$argon2id$old"));
    assert!(!u1.email_verified);
    assert_eq!(u1.updated_at, NOW - 1000);
    for hash in ["keep", "other-1", "other-2", "u2-sess"] {
        assert!(
            s.session_by_hash(hash, NOW).await.unwrap().is_some(),
            "{hash}"
        );
    }
    assert_eq!(s.session_clients("sid-other-1").await.unwrap(), ["c1"]);
    assert_eq!(
        s.grant_by_id("g-live").await.unwrap().unwrap().revoked_at,
        None
    );
    assert_eq!(
        s.user_token("t-unused").await.unwrap().unwrap().used_at,
        None
    );
}

async fn set_password_with_effects(s: Arc<dyn Store>) {
    seed_password_change(&*s).await;
    let notice = OutboxEmail {
        kind: "password_changed".into(),
        ..email("m-notice", NOW)
    };
    s.set_password_with_effects(&password_change(Some("keep"), Some(notice.clone())))
        .await
        .unwrap();

    let u1 = s.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(u1.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(u1.updated_at, NOW);
    assert!(u1.email_verified);

    // Other sessions (and their client links) are gone; the kept one and u2's stay.
    assert!(s.session_by_hash("keep", NOW).await.unwrap().is_some());
    assert_eq!(s.session_clients("sid-keep").await.unwrap(), ["c1"]);
    for hash in ["other-1", "other-2"] {
        assert_eq!(s.session_by_hash(hash, NOW).await.unwrap(), None, "{hash}");
    }
    for sid in ["sid-other-1", "sid-other-2"] {
        assert!(s.session_clients(sid).await.unwrap().is_empty(), "{sid}");
    }
    assert!(s.session_by_hash("u2-sess", NOW).await.unwrap().is_some());

    // Grants revoked now; an earlier revocation keeps its time; u2's grant is untouched.
    assert_eq!(
        s.grant_by_id("g-live").await.unwrap().unwrap().revoked_at,
        Some(NOW)
    );
    assert_eq!(
        s.grant_by_id("g-revoked")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(NOW - 100)
    );
    assert_eq!(
        s.grant_by_id("g-u2").await.unwrap().unwrap().revoked_at,
        None
    );

    // Unused link tokens are used up; a used one keeps its time; u2's is untouched.
    assert_eq!(
        s.user_token("t-unused").await.unwrap().unwrap().used_at,
        Some(NOW)
    );
    assert_eq!(
        s.user_token("t-used").await.unwrap().unwrap().used_at,
        Some(NOW - 50)
    );
    assert_eq!(s.user_token("t-u2").await.unwrap().unwrap().used_at, None);
    assert!(matches!(
        s.consume_user_token("t-unused", NOW + 1).await.unwrap(),
        Consumed::AlreadyUsed(_)
    ));

    assert_eq!(s.outbox_email("m-notice").await.unwrap(), Some(notice));

    // Without a session to keep, every session goes; without a notice, no email; an already
    // verified address stays verified when `verify_email` is false.
    let mut change = password_change(None, None);
    change.password_hash = "$argon2id$newer".into();
    change.now = NOW + 10;
    change.verify_email = false;
    let emails_before = s.list_outbox(100).await.unwrap().len();
    s.set_password_with_effects(&change).await.unwrap();
    assert_eq!(s.session_by_hash("keep", NOW).await.unwrap(), None);
    assert!(s.session_clients("sid-keep").await.unwrap().is_empty());
    assert!(s.session_by_hash("u2-sess", NOW).await.unwrap().is_some());
    let u1 = s.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(u1.password_hash.as_deref(), Some("$argon2id$newer"));
    assert_eq!(u1.updated_at, NOW + 10);
    assert!(u1.email_verified);
    assert_eq!(s.list_outbox(100).await.unwrap().len(), emails_before);
    assert_eq!(
        s.grant_by_id("g-live").await.unwrap().unwrap().revoked_at,
        Some(NOW)
    );

    // `verify_email: false` does not verify an unverified address.
    s.insert_user(&User {
        email_verified: false,
        ..user("u3", "u3@example.se", NOW)
    })
    .await
    .unwrap();
    s.set_password_with_effects(&PasswordChange {
        user_id: "u3".into(),
        verify_email: false,
        ..password_change(None, None)
    })
    .await
    .unwrap();
    let u3 = s.user_by_id("u3").await.unwrap().unwrap();
    assert!(!u3.email_verified);
    assert_eq!(u3.password_hash.as_deref(), Some("$argon2id$new"));
}

async fn account_changes_are_all_or_nothing(s: Arc<dyn Store>) {
    seed_password_change(&*s).await;
    // Every change below writes its email with this id, so the outbox insert fails last.
    s.enqueue_email(&email("m-dup", NOW)).await.unwrap();

    let mut invited = user("u-new", "new@example.se", NOW);
    invited.email_verified = false;
    let err = s
        .insert_user_with_token(
            &invited,
            &user_token("invite-hash", "u-new", "invite", NOW + 3600),
            &email("m-dup", NOW),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.user_by_id("u-new").await.unwrap(), None);
    assert_eq!(s.user_by_email("new@example.se").await.unwrap(), None);
    assert_eq!(s.user_token("invite-hash").await.unwrap(), None);

    let err = s
        .insert_user_token(
            &user_token("reset-hash", "u1", "reset", NOW + 3600),
            &email("m-dup", NOW),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.user_token("reset-hash").await.unwrap(), None);

    let err = s
        .set_password_with_effects(&password_change(Some("keep"), Some(email("m-dup", NOW))))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_password_unchanged(&*s).await;

    // An unknown user: NotFound, and the notice is not enqueued.
    let err = s
        .set_password_with_effects(&PasswordChange {
            user_id: "nobody".into(),
            ..password_change(None, Some(email("m-nobody", NOW)))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.outbox_email("m-nobody").await.unwrap(), None);
    assert_password_unchanged(&*s).await;

    // The original message is intact, and it is the only new one.
    assert_eq!(
        s.outbox_email("m-dup").await.unwrap(),
        Some(email("m-dup", NOW))
    );
    assert_eq!(s.list_outbox(100).await.unwrap().len(), 4);

    // After all that, the same changes with fresh ids go through.
    s.insert_user_with_token(
        &invited,
        &user_token("invite-hash", "u-new", "invite", NOW + 3600),
        &email("m-welcome", NOW),
    )
    .await
    .unwrap();
    s.set_password_with_effects(&password_change(Some("keep"), Some(email("m-notice", NOW))))
        .await
        .unwrap();
    assert_eq!(s.list_outbox(100).await.unwrap().len(), 6);
}

async fn update_user_profile(s: Arc<dyn Store>) {
    let original = user("u1", "u1@example.se", NOW);
    s.insert_user(&original).await.unwrap();
    s.update_user_profile("u1", "Åsa Öberg", "en", NOW + 5)
        .await
        .unwrap();
    assert_eq!(
        s.user_by_id("u1").await.unwrap(),
        Some(User {
            name: "Åsa Öberg".into(),
            locale: "en".into(),
            updated_at: NOW + 5,
            ..original
        })
    );
    assert!(matches!(
        s.update_user_profile("nobody", "X", "sv", NOW).await,
        Err(StoreError::NotFound)
    ));
}

async fn outbox_claims_due_messages_once_per_lease(s: Arc<dyn Store>) {
    const LEASE: i64 = 60;
    // Enqueued out of order; only the first three are due at NOW.
    for (id, due) in [
        ("m-2", NOW - 5),
        ("m-future", NOW + 100),
        ("m-1", NOW - 10),
        ("m-3", NOW),
    ] {
        s.enqueue_email(&email(id, due)).await.unwrap();
    }
    // Neither a sent nor a failed message is ever claimed, due or not.
    s.enqueue_email(&email("m-sent", NOW - 20)).await.unwrap();
    s.outbox_sent("m-sent", NOW - 15).await.unwrap();
    s.enqueue_email(&email("m-failed", NOW - 20)).await.unwrap();
    s.outbox_failed("m-failed", "550 no such user", NOW, true)
        .await
        .unwrap();
    let err = s.enqueue_email(&email("m-1", NOW)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    // Oldest due first, limited, locked until NOW + LEASE.
    let first = s.claim_outbox(NOW, LEASE, 2).await.unwrap();
    assert_eq!(ids(&first), ["m-1", "m-2"]);
    for claimed in &first {
        assert_eq!(claimed.locked_until, Some(NOW + LEASE));
        assert_eq!(claimed.sealed_message, email("x", NOW).sealed_message);
        assert_eq!(claimed.status, "pending");
    }
    let second = s.claim_outbox(NOW, LEASE, 10).await.unwrap();
    assert_eq!(ids(&second), ["m-3"]);
    assert!(s.claim_outbox(NOW, LEASE, 10).await.unwrap().is_empty());

    // Still leased just before the lease ends.
    assert!(
        s.claim_outbox(NOW + LEASE - 1, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Once the lease has run out (the sender died), the messages can be claimed again, and so
    // can the one that has come due.
    let again = s.claim_outbox(NOW + LEASE, LEASE, 10).await.unwrap();
    assert_eq!(ids(&again), ["m-1", "m-2", "m-3"]);
    let later = s.claim_outbox(NOW + 100, LEASE, 10).await.unwrap();
    assert_eq!(ids(&later), ["m-future"]);
    assert_eq!(later[0].locked_until, Some(NOW + 100 + LEASE));
    assert!(s.claim_outbox(NOW, LEASE, 0).await.unwrap().is_empty());
}

async fn outbox_concurrent_claimers_never_share(s: Arc<dyn Store>) {
    for i in 0..20 {
        s.enqueue_email(&email(&format!("m-{i:02}"), NOW - 100 + i))
            .await
            .unwrap();
    }
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.claim_outbox(NOW, 60, 5).await.unwrap() })
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for handle in handles {
        let claimed = handle.await.unwrap();
        assert!(claimed.len() <= 5, "{}", claimed.len());
        for message in claimed {
            assert!(
                seen.insert(message.id.clone()),
                "{} claimed twice",
                message.id
            );
        }
    }
    // Whatever the claimers skipped is still there to claim, and nothing else.
    for message in s.claim_outbox(NOW, 60, 100).await.unwrap() {
        assert!(
            seen.insert(message.id.clone()),
            "{} claimed twice",
            message.id
        );
    }
    assert_eq!(seen.len(), 20);
    assert!(s.claim_outbox(NOW, 60, 100).await.unwrap().is_empty());
}

async fn outbox_sent_and_failed(s: Arc<dyn Store>) {
    s.enqueue_email(&email("m-ok", NOW)).await.unwrap();
    s.enqueue_email(&email("m-flaky", NOW)).await.unwrap();
    s.enqueue_email(&email("m-bad", NOW)).await.unwrap();
    assert_eq!(s.claim_outbox(NOW, 60, 10).await.unwrap().len(), 3);

    // Sent: content erased, lease released, time recorded; never claimed again.
    s.outbox_sent("m-ok", NOW + 1).await.unwrap();
    let sent = s.outbox_email("m-ok").await.unwrap().unwrap();
    assert_eq!(sent.status, "sent");
    assert_eq!(sent.sent_at, Some(NOW + 1));
    assert_eq!(sent.locked_until, None);
    assert!(sent.sealed_message.is_empty());
    assert_eq!(sent.recipient, "m-ok@example.se");

    // A failure schedules the next attempt and releases the lease; content stays.
    s.outbox_failed("m-flaky", "421 try again later", NOW + 30, false)
        .await
        .unwrap();
    let flaky = s.outbox_email("m-flaky").await.unwrap().unwrap();
    assert_eq!(flaky.status, "pending");
    assert_eq!(flaky.attempts, 1);
    assert_eq!(flaky.next_attempt_at, NOW + 30);
    assert_eq!(flaky.locked_until, None);
    assert_eq!(flaky.last_error.as_deref(), Some("421 try again later"));
    assert_eq!(flaky.sealed_message, email("x", NOW).sealed_message);
    assert!(s.claim_outbox(NOW + 29, 60, 10).await.unwrap().is_empty());
    assert_eq!(
        ids(&s.claim_outbox(NOW + 30, 60, 10).await.unwrap()),
        ["m-flaky"]
    );
    s.outbox_failed("m-flaky", "421 again", NOW + 90, false)
        .await
        .unwrap();
    let flaky = s.outbox_email("m-flaky").await.unwrap().unwrap();
    assert_eq!(flaky.attempts, 2);
    assert_eq!(flaky.last_error.as_deref(), Some("421 again"));

    // Giving up: status failed, content erased, never claimed again. Long errors are cut to
    // 500 characters (not bytes).
    let long_error = "å".repeat(600);
    s.outbox_failed("m-bad", &long_error, NOW + 1000, true)
        .await
        .unwrap();
    let bad = s.outbox_email("m-bad").await.unwrap().unwrap();
    assert_eq!(bad.status, "failed");
    assert_eq!(bad.attempts, 1);
    assert_eq!(bad.locked_until, None);
    assert!(bad.sealed_message.is_empty());
    assert_eq!(bad.sent_at, None);
    assert_eq!(bad.last_error, Some("å".repeat(500)));

    assert_eq!(
        ids(&s.claim_outbox(NOW + 10_000, 60, 10).await.unwrap()),
        ["m-flaky"]
    );

    assert!(matches!(
        s.outbox_sent("nope", NOW).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.outbox_failed("nope", "x", NOW, false).await,
        Err(StoreError::NotFound)
    ));
}

async fn outbox_list_and_lookup(s: Arc<dyn Store>) {
    assert!(s.list_outbox(10).await.unwrap().is_empty());
    for (id, created_at) in [("m-b", NOW + 2), ("m-a", NOW + 1), ("m-c", NOW + 3)] {
        s.enqueue_email(&email(id, created_at)).await.unwrap();
    }
    assert_eq!(
        ids(&s.list_outbox(10).await.unwrap()),
        ["m-c", "m-b", "m-a"]
    );
    assert_eq!(ids(&s.list_outbox(2).await.unwrap()), ["m-c", "m-b"]);
    assert_eq!(
        s.outbox_email("m-a").await.unwrap(),
        Some(email("m-a", NOW + 1))
    );
    assert_eq!(s.outbox_email("nope").await.unwrap(), None);

    // Every column round-trips, including the optional ones.
    let full = OutboxEmail {
        status: "failed".into(),
        attempts: 7,
        locked_until: Some(NOW + 9),
        last_error: Some("boom".into()),
        sent_at: Some(NOW + 8),
        sealed_message: Vec::new(),
        ..email("m-full", NOW)
    };
    s.enqueue_email(&full).await.unwrap();
    assert_eq!(s.outbox_email("m-full").await.unwrap(), Some(full));
}

async fn purge_expired_tokens_and_outbox(s: Arc<dyn Store>) {
    const DAY: i64 = 24 * 3600;
    s.insert_user(&user("u1", "u1@example.se", NOW - 60 * DAY))
        .await
        .unwrap();
    // Tokens: expired more than 7 days ago (gone), expired recently and live (kept).
    for (hash, expires_at) in [
        ("t-old", NOW - 7 * DAY),
        ("t-recent", NOW - 7 * DAY + 1),
        ("t-live", NOW + 3600),
    ] {
        s.insert_user_token(
            &user_token(hash, "u1", "reset", expires_at),
            &email(&format!("m-{hash}"), NOW - 60 * DAY),
            None,
        )
        .await
        .unwrap();
    }
    // The three token emails above are old but still pending: kept.
    // Old sent and failed messages go; recent ones stay.
    for (id, created_at) in [
        ("m-sent-old", NOW - 30 * DAY),
        ("m-failed-old", NOW - 31 * DAY),
        ("m-sent-recent", NOW - 30 * DAY + 1),
        ("m-failed-recent", NOW - DAY),
    ] {
        s.enqueue_email(&email(id, created_at)).await.unwrap();
    }
    s.outbox_sent("m-sent-old", NOW - 30 * DAY).await.unwrap();
    s.outbox_sent("m-sent-recent", NOW - 29 * DAY)
        .await
        .unwrap();
    s.outbox_failed("m-failed-old", "x", NOW, true)
        .await
        .unwrap();
    s.outbox_failed("m-failed-recent", "x", NOW, true)
        .await
        .unwrap();

    assert_eq!(s.purge_expired(NOW).await.unwrap(), 3);
    assert_eq!(s.purge_expired(NOW).await.unwrap(), 0);

    assert_eq!(s.user_token("t-old").await.unwrap(), None);
    assert!(s.user_token("t-recent").await.unwrap().is_some());
    assert!(s.user_token("t-live").await.unwrap().is_some());
    let mut left: Vec<String> = s
        .list_outbox(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "m-failed-recent",
            "m-sent-recent",
            "m-t-live",
            "m-t-old",
            "m-t-recent"
        ]
    );
}

async fn personnummer_set_and_lookup(s: Arc<dyn Store>) {
    seed_two_users(&*s).await;
    assert_eq!(s.personnummer_of("u1").await.unwrap(), None);

    let stored = personnummer("u1", "idx-a", NOW);
    s.set_personnummer(&stored).await.unwrap();
    assert_eq!(s.personnummer_of("u1").await.unwrap(), Some(stored.clone()));
    // Typed in, not verified: no login finds it.
    assert_eq!(
        s.verified_personnummer_by_index("idx-a").await.unwrap(),
        None
    );
    s.set_bankid_linked("u1", Some(NOW + 1), None)
        .await
        .unwrap();
    assert_eq!(
        s.verified_personnummer_by_index("idx-a").await.unwrap(),
        Some(StoredPersonnummer {
            bankid_linked_at: Some(NOW + 1),
            ..stored
        })
    );
    assert_eq!(s.personnummer_of("u2").await.unwrap(), None);
    assert_eq!(
        s.verified_personnummer_by_index("idx-other").await.unwrap(),
        None
    );

    // A link passed in is not stored: a number is linked only through verification.
    s.set_personnummer(&StoredPersonnummer {
        bankid_linked_at: Some(NOW),
        ..personnummer("u2", "idx-b", NOW + 1)
    })
    .await
    .unwrap();
    assert_eq!(
        s.personnummer_of("u2").await.unwrap(),
        Some(personnummer("u2", "idx-b", NOW + 1))
    );

    // An unknown user cannot have one.
    let err = s
        .set_personnummer(&personnummer("nobody", "idx-c", NOW))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn personnummer_replace_clears_link(s: Arc<dyn Store>) {
    seed_two_users(&*s).await;
    s.set_personnummer(&personnummer("u1", "idx-a", NOW))
        .await
        .unwrap();
    s.set_bankid_linked("u1", Some(NOW + 5), None)
        .await
        .unwrap();
    assert_eq!(
        s.personnummer_of("u1")
            .await
            .unwrap()
            .unwrap()
            .bankid_linked_at,
        Some(NOW + 5)
    );

    // Another number: replaced in place, the link is gone and the old index finds nothing.
    let replaced = personnummer("u1", "idx-new", NOW + 10);
    s.set_personnummer(&replaced).await.unwrap();
    assert_eq!(
        s.personnummer_of("u1").await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(
        s.verified_personnummer_by_index("idx-a").await.unwrap(),
        None
    );
    assert_eq!(
        s.verified_personnummer_by_index("idx-new").await.unwrap(),
        None
    );
    assert_eq!(s.list_personnummer().await.unwrap().len(), 1);

    // Even the same number again must be proven again.
    s.set_bankid_linked("u1", Some(NOW + 20), None)
        .await
        .unwrap();
    s.set_personnummer(&personnummer("u1", "idx-new", NOW + 30))
        .await
        .unwrap();
    assert_eq!(
        s.personnummer_of("u1").await.unwrap(),
        Some(personnummer("u1", "idx-new", NOW + 30))
    );
}

/// A complete linking order of `user_id`.
async fn complete_link_order(s: &dyn Store, order_ref: &str, user_id: &str) {
    let order = BankIdOrder {
        purpose: "link".into(),
        user_id: Some(user_id.into()),
        pending_authorization: None,
        ..bankid_order(order_ref, NOW)
    };
    s.insert_bankid_order(&order).await.unwrap();
    s.update_bankid_order(&finished(order.clone(), "complete", NOW + 1))
        .await
        .unwrap();
}

fn verification(order_ref: &str, user_id: &str, index: &str) -> PersonnummerVerification {
    PersonnummerVerification {
        order_ref: order_ref.into(),
        user_id: user_id.into(),
        blind_index: index.into(),
        verified_at: NOW + 2,
        name_if_empty: None,
        notices: vec![],
    }
}

async fn personnummer_verified_is_unique_and_typed_copies_give_way(s: Arc<dyn Store>) {
    for id in ["u1", "u2", "u3", "u4"] {
        s.insert_user(&user(id, &format!("{id}@example.se"), NOW))
            .await
            .unwrap();
    }
    // Two accounts type in the owner's number first; nothing stops them, nor the owner (u3).
    for id in ["u1", "u2", "u3"] {
        s.set_personnummer(&personnummer(id, "idx-a", NOW))
            .await
            .unwrap();
    }
    assert_eq!(
        ids_of(&s.unverified_holders("idx-a", "u3").await.unwrap()),
        ["u1", "u2"]
    );
    // BankID proves it for u3: u3 is linked, the typed-in copies are removed, and only the
    // notices of accounts whose copy was removed are queued, in the same transaction.
    complete_link_order(&*s, "o-1", "u3").await;
    let mut v = verification("o-1", "u3", "idx-a");
    v.notices = vec![
        ("u1".into(), email("m-u1", NOW)),
        ("u2".into(), email("m-u2", NOW)),
        ("u4".into(), email("m-u4", NOW)),
    ];
    assert_eq!(
        s.verify_personnummer(&v).await.unwrap(),
        VerificationOutcome::Verified {
            removed_from: vec!["u1".into(), "u2".into()]
        }
    );
    assert_eq!(
        s.verified_personnummer_by_index("idx-a")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u3"
    );
    for id in ["u1", "u2"] {
        assert_eq!(s.personnummer_of(id).await.unwrap(), None, "{id}");
    }
    let mut queued: Vec<String> = s
        .list_outbox(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    queued.sort();
    assert_eq!(queued, ["m-u1", "m-u2"]);
    // The order is used up: finishing it again does nothing.
    assert_eq!(
        s.verify_personnummer(&v).await.unwrap(),
        VerificationOutcome::OrderNotComplete
    );

    // A typed-in copy after verification is still allowed (the answer must not tell), but it
    // cannot be verified on a second account: nothing changes, not even the order.
    s.set_personnummer(&personnummer("u4", "idx-a", NOW + 3))
        .await
        .unwrap();
    complete_link_order(&*s, "o-2", "u4").await;
    assert_eq!(
        s.verify_personnummer(&verification("o-2", "u4", "idx-a"))
            .await
            .unwrap(),
        VerificationOutcome::VerifiedElsewhere
    );
    assert_eq!(
        s.bankid_order("o-2").await.unwrap().unwrap().status,
        "complete"
    );
    assert_eq!(
        s.personnummer_of("u4")
            .await
            .unwrap()
            .unwrap()
            .bankid_linked_at,
        None
    );
    // The account's number changed while BankID ran: nothing is linked.
    s.set_personnummer(&personnummer("u1", "idx-b", NOW + 3))
        .await
        .unwrap();
    complete_link_order(&*s, "o-3", "u1").await;
    assert_eq!(
        s.verify_personnummer(&verification("o-3", "u1", "idx-other"))
            .await
            .unwrap(),
        VerificationOutcome::NumberChanged
    );
    assert_eq!(
        s.bankid_order("o-3").await.unwrap().unwrap().status,
        "complete"
    );
    // The unique index holds even against writes that bypass verification.
    assert!(matches!(
        s.set_bankid_linked("u4", Some(NOW + 9), None).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn bankid_login_consumes_the_order_with_its_session(s: Arc<dyn Store>) {
    seed_two_users(&*s).await;
    let order = bankid_order("o-login", NOW);
    s.insert_bankid_order(&order).await.unwrap();
    let sess = session("sess-bankid", "sid-bankid", "u1", NOW + 3600);
    // Not complete yet: no session.
    assert!(!s.finish_bankid_login("o-login", &sess).await.unwrap());
    assert_eq!(s.session_by_hash("sess-bankid", NOW).await.unwrap(), None);
    s.update_bankid_order(&finished(order.clone(), "complete", NOW + 1))
        .await
        .unwrap();
    // A session that cannot be stored (its id is taken) leaves the order complete.
    s.insert_session(&session("sess-taken", "sid-taken", "u1", NOW + 3600))
        .await
        .unwrap();
    let clashing = Session {
        id_hash: "sess-taken".into(),
        ..sess.clone()
    };
    assert!(s.finish_bankid_login("o-login", &clashing).await.is_err());
    assert_eq!(
        s.bankid_order("o-login").await.unwrap().unwrap().status,
        "complete"
    );
    assert!(s.finish_bankid_login("o-login", &sess).await.unwrap());
    assert!(
        s.session_by_hash("sess-bankid", NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert!(!s.finish_bankid_login("o-login", &sess).await.unwrap());
}

fn ids_of(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

async fn personnummer_delete(s: Arc<dyn Store>) {
    seed_two_users(&*s).await;
    s.set_personnummer(&personnummer("u1", "idx-a", NOW))
        .await
        .unwrap();
    s.set_personnummer(&personnummer("u2", "idx-b", NOW))
        .await
        .unwrap();
    s.set_bankid_linked("u1", Some(NOW), None).await.unwrap();

    s.delete_personnummer("u1").await.unwrap();
    assert_eq!(s.personnummer_of("u1").await.unwrap(), None);
    assert_eq!(
        s.verified_personnummer_by_index("idx-a").await.unwrap(),
        None
    );
    // With the number, the link is gone too.
    assert!(matches!(
        s.set_bankid_linked("u1", Some(NOW), None).await,
        Err(StoreError::NotFound)
    ));
    // Idempotent, also for users without one or unknown users.
    s.delete_personnummer("u1").await.unwrap();
    s.delete_personnummer("nobody").await.unwrap();
    // The other user's row stays; the user row stays.
    assert!(s.personnummer_of("u2").await.unwrap().is_some());
    assert!(s.user_by_id("u1").await.unwrap().is_some());
    // The index is free again.
    s.set_personnummer(&personnummer("u2", "idx-a", NOW + 1))
        .await
        .unwrap();
}

async fn set_bankid_linked_fills_an_empty_name_only(s: Arc<dyn Store>) {
    let named = user("u-named", "named@example.se", NOW - 100);
    let empty = User {
        name: String::new(),
        ..user("u-empty", "empty@example.se", NOW - 100)
    };
    let blank = User {
        name: " \t\n ".into(),
        ..user("u-blank", "blank@example.se", NOW - 100)
    };
    let untouched = User {
        name: String::new(),
        ..user("u-untouched", "untouched@example.se", NOW - 100)
    };
    for (u, index) in [
        (&named, "idx-named"),
        (&empty, "idx-empty"),
        (&blank, "idx-blank"),
        (&untouched, "idx-untouched"),
    ] {
        s.insert_user(u).await.unwrap();
        s.set_personnummer(&personnummer(&u.id, index, NOW - 50))
            .await
            .unwrap();
    }

    // A real name is kept (and the user row is not touched at all).
    s.set_bankid_linked("u-named", Some(NOW), Some("Åsa Öberg"))
        .await
        .unwrap();
    assert_eq!(s.user_by_id("u-named").await.unwrap(), Some(named.clone()));
    assert_eq!(
        s.personnummer_of("u-named").await.unwrap(),
        Some(StoredPersonnummer {
            bankid_linked_at: Some(NOW),
            ..personnummer("u-named", "idx-named", NOW - 50)
        })
    );

    // Empty and whitespace-only names are filled in; `updated_at` moves to the link time.
    for (u, name) in [(&empty, "Åsa Öberg"), (&blank, "Per Persson")] {
        s.set_bankid_linked(&u.id, Some(NOW + 1), Some(name))
            .await
            .unwrap();
        assert_eq!(
            s.user_by_id(&u.id).await.unwrap(),
            Some(User {
                name: name.into(),
                updated_at: NOW + 1,
                ..u.clone()
            })
        );
        assert_eq!(
            s.personnummer_of(&u.id)
                .await
                .unwrap()
                .unwrap()
                .bankid_linked_at,
            Some(NOW + 1)
        );
    }
    // Once filled, a later link keeps that name.
    s.set_bankid_linked("u-empty", Some(NOW + 2), Some("Someone Else"))
        .await
        .unwrap();
    assert_eq!(
        s.user_by_id("u-empty").await.unwrap().unwrap().name,
        "Åsa Öberg"
    );

    // Without a name to offer, an empty name stays empty.
    s.set_bankid_linked("u-untouched", Some(NOW), None)
        .await
        .unwrap();
    assert_eq!(
        s.user_by_id("u-untouched").await.unwrap(),
        Some(untouched.clone())
    );

    // Unlinking.
    s.set_bankid_linked("u-named", None, None).await.unwrap();
    assert_eq!(
        s.personnummer_of("u-named")
            .await
            .unwrap()
            .unwrap()
            .bankid_linked_at,
        None
    );

    // No personnummer: NotFound, and the name is not filled either.
    let no_number = User {
        name: String::new(),
        ..user("u-none", "none@example.se", NOW - 100)
    };
    s.insert_user(&no_number).await.unwrap();
    for id in ["u-none", "nobody"] {
        let err = s
            .set_bankid_linked(id, Some(NOW), Some("X"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{id}: {err:?}");
    }
    assert_eq!(s.user_by_id("u-none").await.unwrap(), Some(no_number));
}

async fn reseal_and_list_personnummer(s: Arc<dyn Store>) {
    assert!(s.list_personnummer().await.unwrap().is_empty());
    for id in ["u-c", "u-a", "u-b"] {
        s.insert_user(&user(id, &format!("{id}@example.se"), NOW))
            .await
            .unwrap();
        s.set_personnummer(&personnummer(id, &format!("idx-{id}"), NOW))
            .await
            .unwrap();
    }
    s.set_bankid_linked("u-b", Some(NOW + 1), None)
        .await
        .unwrap();
    let before = s.personnummer_of("u-b").await.unwrap().unwrap();

    // Every row, by user id.
    let listed = s.list_personnummer().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|p| p.user_id.as_str()).collect();
    assert_eq!(ids, ["u-a", "u-b", "u-c"]);
    assert_eq!(listed[1], before);

    // Only the sealed bytes change: index, link and time stay.
    let resealed = vec![9, 9, 0, 255, 1];
    s.reseal_personnummer("u-b", &resealed).await.unwrap();
    assert_eq!(
        s.personnummer_of("u-b").await.unwrap(),
        Some(StoredPersonnummer {
            sealed: resealed.clone(),
            ..before
        })
    );
    assert_eq!(
        s.personnummer_of("u-b").await.unwrap().unwrap().sealed,
        resealed
    );
    assert_eq!(
        s.personnummer_of("u-a").await.unwrap(),
        Some(personnummer("u-a", "idx-u-a", NOW))
    );

    s.insert_user(&user("u-none", "none@example.se", NOW))
        .await
        .unwrap();
    for id in ["u-none", "nobody"] {
        let err = s.reseal_personnummer(id, &[1]).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{id}: {err:?}");
    }
    assert_eq!(s.personnummer_of("u-none").await.unwrap(), None);
}

async fn bankid_orders_insert_get_update(s: Arc<dyn Store>) {
    s.insert_user(&user("u1", "u1@example.se", NOW))
        .await
        .unwrap();
    let login = bankid_order("o-login", NOW);
    s.insert_bankid_order(&login).await.unwrap();
    assert_eq!(
        s.bankid_order("o-login").await.unwrap(),
        Some(login.clone())
    );
    assert_eq!(s.bankid_order("nope").await.unwrap(), None);

    // Same order_ref again: Conflict, the first order intact.
    let err = s
        .insert_bankid_order(&bankid_order("o-login", NOW + 5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        s.bankid_order("o-login").await.unwrap(),
        Some(login.clone())
    );

    // Every column round-trips, the optional ones set the other way round.
    let link = BankIdOrder {
        purpose: "link".into(),
        user_id: Some("u1".into()),
        pending_authorization: None,
        next_path: Some("/account".into()),
        hint_code: None,
        completion_sealed: Some(vec![0, 255]),
        last_collect_at: Some(NOW + 2),
        finished_at: Some(NOW + 3),
        status: "failed".into(),
        started_at: NOW + 1,
        ..bankid_order("o-link", NOW)
    };
    s.insert_bankid_order(&link).await.unwrap();
    assert_eq!(s.bankid_order("o-link").await.unwrap(), Some(link));

    // An order for an unknown user.
    let err = s
        .insert_bankid_order(&BankIdOrder {
            user_id: Some("nobody".into()),
            ..bankid_order("o-orphan", NOW)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.bankid_order("o-orphan").await.unwrap(), None);

    // A collect result: every mutable field written...
    let progressed = BankIdOrder {
        hint_code: Some("userSign".into()),
        last_collect_at: Some(NOW + 2),
        ..login.clone()
    };
    s.update_bankid_order(&progressed).await.unwrap();
    assert_eq!(
        s.bankid_order("o-login").await.unwrap(),
        Some(progressed.clone())
    );
    let complete = BankIdOrder {
        user_id: Some("u1".into()),
        ..finished(progressed, "complete", NOW + 4)
    };
    // ...and nothing else, even if the caller's copy differs.
    let mut sent = complete.clone();
    sent.purpose = "link".into();
    sent.browser_binding = "other".into();
    sent.qr_start_secret_sealed = vec![];
    sent.created_at = 0;
    s.update_bankid_order(&sent).await.unwrap();
    assert_eq!(
        s.bankid_order("o-login").await.unwrap(),
        Some(complete.clone())
    );

    // Optional fields can be cleared again.
    let cleared = BankIdOrder {
        status: "pending".into(),
        hint_code: None,
        completion_sealed: None,
        user_id: None,
        last_collect_at: None,
        finished_at: None,
        ..complete.clone()
    };
    s.update_bankid_order(&cleared).await.unwrap();
    assert_eq!(s.bankid_order("o-login").await.unwrap(), Some(cleared));

    let err = s
        .update_bankid_order(&bankid_order("nope", NOW))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = s
        .update_bankid_order(&BankIdOrder {
            user_id: Some("nobody".into()),
            ..complete
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn bankid_order_is_consumed_exactly_once(s: Arc<dyn Store>) {
    let order = bankid_order("o1", NOW);
    s.insert_bankid_order(&order).await.unwrap();
    // Only a complete order can be consumed.
    assert!(!s.consume_bankid_order("o1").await.unwrap());
    assert_eq!(
        s.bankid_order("o1").await.unwrap().unwrap().status,
        "pending"
    );
    for status in ["failed", "cancelled"] {
        let other = finished(bankid_order(&format!("o-{status}"), NOW), status, NOW + 1);
        s.insert_bankid_order(&other).await.unwrap();
        assert!(!s.consume_bankid_order(&other.order_ref).await.unwrap());
        assert_eq!(s.bankid_order(&other.order_ref).await.unwrap(), Some(other));
    }
    assert!(!s.consume_bankid_order("nope").await.unwrap());

    let complete = finished(order, "complete", NOW + 3);
    s.update_bankid_order(&complete).await.unwrap();
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.consume_bankid_order("o1").await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for handle in handles {
        if handle.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one consumer wins");
    let consumed = BankIdOrder {
        status: "consumed".into(),
        ..complete.clone()
    };
    assert_eq!(s.bankid_order("o1").await.unwrap(), Some(consumed.clone()));
    assert!(!s.consume_bankid_order("o1").await.unwrap());

    // A collect result arriving late does not make the order consumable again.
    s.update_bankid_order(&complete).await.unwrap();
    assert_eq!(s.bankid_order("o1").await.unwrap(), Some(consumed));
    assert!(!s.consume_bankid_order("o1").await.unwrap());
}

async fn claim_bankid_collect_once_per_interval(s: Arc<dyn Store>) {
    const INTERVAL: i64 = 2;
    s.insert_bankid_order(&bankid_order("o1", NOW))
        .await
        .unwrap();
    s.insert_bankid_order(&bankid_order("o2", NOW))
        .await
        .unwrap();

    // Never collected: the first claim wins and records the time.
    assert!(s.claim_bankid_collect("o1", NOW, INTERVAL).await.unwrap());
    assert_eq!(
        s.bankid_order("o1").await.unwrap().unwrap().last_collect_at,
        Some(NOW)
    );
    // Too soon, even for the same instant.
    assert!(!s.claim_bankid_collect("o1", NOW, INTERVAL).await.unwrap());
    assert!(
        !s.claim_bankid_collect("o1", NOW + INTERVAL - 1, INTERVAL)
            .await
            .unwrap()
    );
    assert_eq!(
        s.bankid_order("o1").await.unwrap().unwrap().last_collect_at,
        Some(NOW)
    );
    // Exactly `min_interval` later is allowed.
    assert!(
        s.claim_bankid_collect("o1", NOW + INTERVAL, INTERVAL)
            .await
            .unwrap()
    );
    assert_eq!(
        s.bankid_order("o1").await.unwrap().unwrap().last_collect_at,
        Some(NOW + INTERVAL)
    );
    // Orders are independent; unknown orders cannot be claimed.
    assert!(s.claim_bankid_collect("o2", NOW, INTERVAL).await.unwrap());
    assert!(!s.claim_bankid_collect("nope", NOW, INTERVAL).await.unwrap());
    // A huge interval does not overflow.
    assert!(
        !s.claim_bankid_collect("o2", NOW + 100, i64::MAX)
            .await
            .unwrap()
    );

    // Concurrent claimers at the same instant: exactly one may collect.
    for round in 1..=3 {
        let now = NOW + 100 * round;
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(
                    async move { s.claim_bankid_collect("o1", now, INTERVAL).await.unwrap() },
                )
            })
            .collect();
        let mut winners = 0;
        for handle in handles {
            if handle.await.unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one claimer wins");
        assert_eq!(
            s.bankid_order("o1").await.unwrap().unwrap().last_collect_at,
            Some(now)
        );
    }
}

async fn purge_bankid_orders(s: Arc<dyn Store>) {
    const DAY: i64 = 24 * 3600;
    let before = NOW - 30 * DAY;
    let orders = [
        // Pending orders go by creation time.
        bankid_order("pending-old", before - 1),
        bankid_order("pending-at-cutoff", before),
        bankid_order("pending-recent", NOW),
        // Finished orders go by finishing time, whatever their age.
        finished(
            bankid_order("complete-old", before - 10),
            "complete",
            before - 1,
        ),
        finished(
            bankid_order("consumed-old", before - 10),
            "consumed",
            before - 5,
        ),
        finished(
            bankid_order("failed-old", before - 10),
            "failed",
            before - 5,
        ),
        finished(
            bankid_order("cancelled-old", before - 10),
            "cancelled",
            before - 5,
        ),
        finished(
            bankid_order("failed-at-cutoff", before - 10),
            "failed",
            before,
        ),
        finished(
            bankid_order("consumed-recent", before - 10),
            "consumed",
            before + 1,
        ),
        // Finished without a finishing time: its creation time counts.
        BankIdOrder {
            finished_at: None,
            ..finished(
                bankid_order("failed-untimed-old", before - 1),
                "failed",
                before,
            )
        },
        BankIdOrder {
            finished_at: None,
            ..finished(
                bankid_order("failed-untimed-recent", before),
                "failed",
                before,
            )
        },
    ];
    for order in &orders {
        s.insert_bankid_order(order).await.unwrap();
    }

    // The general purge leaves every order alone, however old (separate retention).
    assert_eq!(s.purge_expired(NOW + 365 * DAY).await.unwrap(), 0);
    for order in &orders {
        assert_eq!(
            s.bankid_order(&order.order_ref).await.unwrap().as_ref(),
            Some(order)
        );
    }

    assert_eq!(s.purge_bankid_orders(before).await.unwrap(), 6);
    assert_eq!(s.purge_bankid_orders(before).await.unwrap(), 0);
    let mut left = Vec::new();
    for order in &orders {
        if let Some(kept) = s.bankid_order(&order.order_ref).await.unwrap() {
            assert_eq!(&kept, order);
            left.push(kept.order_ref);
        }
    }
    assert_eq!(
        left,
        [
            "pending-at-cutoff",
            "pending-recent",
            "failed-at-cutoff",
            "consumed-recent",
            "failed-untimed-recent"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Deleting a user (not in the trait: these tests use SQL on each backend)

const DELETE_USER: &str = "DELETE FROM users WHERE id = $1";

/// `u1` with a linked personnummer and a finished order; `u2` with the same, to be kept.
async fn seed_users_with_bankid(s: &dyn Store) {
    seed_two_users(s).await;
    for (id, index) in [("u1", "idx-1"), ("u2", "idx-2")] {
        s.set_personnummer(&personnummer(id, index, NOW))
            .await
            .unwrap();
        s.set_bankid_linked(id, Some(NOW), None).await.unwrap();
        s.insert_bankid_order(&BankIdOrder {
            user_id: Some(id.into()),
            ..finished(bankid_order(&format!("o-{id}"), NOW), "consumed", NOW)
        })
        .await
        .unwrap();
    }
}

/// After `u1` was deleted: its personnummer is gone (and its index free), its order is kept for
/// audit without the user; `u2` is untouched.
async fn assert_user_deletion_cascaded(s: &dyn Store) {
    assert_eq!(s.user_by_id("u1").await.unwrap(), None);
    assert_eq!(s.personnummer_of("u1").await.unwrap(), None);
    assert_eq!(
        s.verified_personnummer_by_index("idx-1").await.unwrap(),
        None
    );
    assert_eq!(
        s.list_personnummer()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.user_id)
            .collect::<Vec<_>>(),
        ["u2"]
    );
    let orphan = s.bankid_order("o-u1").await.unwrap().unwrap();
    assert_eq!(orphan.user_id, None);
    assert_eq!(orphan.status, "consumed");
    assert_eq!(
        s.bankid_order("o-u2")
            .await
            .unwrap()
            .unwrap()
            .user_id
            .as_deref(),
        Some("u2")
    );
    assert!(
        s.personnummer_of("u2")
            .await
            .unwrap()
            .unwrap()
            .bankid_linked_at
            .is_some()
    );
    // The number can be registered again, by someone else.
    s.insert_user(&user("u3", "u3@example.se", NOW))
        .await
        .unwrap();
    s.set_personnummer(&personnummer("u3", "idx-1", NOW))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_deleting_a_user_cascades() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    run_isolated(async move {
        seed_users_with_bankid(&store).await;
        sqlx::query(DELETE_USER)
            .bind("u1")
            .execute(store.pool())
            .await
            .unwrap();
        assert_user_deletion_cascaded(&store).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_deleting_a_user_cascades() {
    let url = fresh_sqlite_url();
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let result = tokio::spawn(async move {
        seed_users_with_bankid(&store).await;
        sqlx::query(DELETE_USER)
            .bind("u1")
            .execute(store.pool())
            .await
            .unwrap();
        assert_user_deletion_cascaded(&store).await;
    })
    .await;
    remove_sqlite_dir(&url);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_deleting_a_user_cascades() {
    let url = fresh_postgres_url().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let result = tokio::spawn(async move {
        seed_users_with_bankid(&store).await;
        sqlx::query(DELETE_USER)
            .bind("u1")
            .execute(store.pool())
            .await
            .unwrap();
        assert_user_deletion_cascaded(&store).await;
    })
    .await;
    drop_postgres_schema(&url).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
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

// ---------------------------------------------------------------------------------------------
// Consent, revocation, client assertions, logout and back-channel deliveries (migration 0004)

fn consent(user_id: &str, client_id: &str, scope: &str, granted_at: UnixTime) -> Consent {
    Consent {
        user_id: user_id.into(),
        client_id: client_id.into(),
        scope: scope.into(),
        granted_at,
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

/// Clients `c1` and `c2`, for deliveries (which reference their client).
async fn seed_two_clients(s: &dyn Store) {
    s.insert_client(&client("c1", NOW)).await.unwrap();
    s.insert_client(&client("c2", NOW)).await.unwrap();
}

async fn clients_keep_logout_and_key_settings(s: Arc<dyn Store>) {
    let mut full = client("c-jwt", NOW);
    full.secret_hash = None;
    full.token_endpoint_auth_method = "private_key_jwt".into();
    full.backchannel_logout_uri = Some("https://c-jwt.example/backchannel".into());
    full.backchannel_logout_session_required = true;
    full.jwks = Some(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}"#.into());
    full.jwks_uri = Some("https://c-jwt.example/jwks.json".into());
    s.insert_client(&full).await.unwrap();
    let plain = client("c-plain", NOW);
    s.insert_client(&plain).await.unwrap();
    assert_eq!(s.client_by_id("c-jwt").await.unwrap(), Some(full.clone()));
    assert_eq!(s.client_by_id("c-plain").await.unwrap(), Some(plain));
    assert_eq!(s.list_clients().await.unwrap()[0], full);
}

async fn consents_upsert_list_and_revoke(s: Arc<dyn Store>) {
    seed_two_users(&*s).await;
    seed_two_clients(&*s).await;
    assert_eq!(s.consent("u1", "c1").await.unwrap(), None);
    assert!(s.list_consents("u1").await.unwrap().is_empty());

    let first = consent("u1", "c1", "openid email", NOW);
    s.save_consent(&first).await.unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), Some(first));
    // Saving again replaces scope and time (one row per user and client).
    let wider = consent("u1", "c1", "openid email profile", NOW + 50);
    s.save_consent(&wider).await.unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), Some(wider.clone()));
    let other_client = consent("u1", "c2", "openid", NOW + 10);
    s.save_consent(&other_client).await.unwrap();
    let other_user = consent("u2", "c1", "openid", NOW + 5);
    s.save_consent(&other_user).await.unwrap();
    // Oldest first, only the user's own.
    assert_eq!(
        s.list_consents("u1").await.unwrap(),
        vec![other_client.clone(), wider.clone()]
    );
    assert_eq!(
        s.list_consents("u2").await.unwrap(),
        vec![other_user.clone()]
    );
    assert_eq!(s.consent("u2", "c2").await.unwrap(), None);

    // Grants: two of u1 to c1 (one already revoked), one of u1 to c2, one of u2 to c1.
    s.insert_grant(&grant("g-u1-c1", "u1", "c1", NOW + 3600))
        .await
        .unwrap();
    let mut old = grant("g-u1-c1-old", "u1", "c1", NOW + 3600);
    old.revoked_at = Some(NOW - 1);
    s.insert_grant(&old).await.unwrap();
    s.insert_grant(&grant("g-u1-c2", "u1", "c2", NOW + 3600))
        .await
        .unwrap();
    s.insert_grant(&grant("g-u2-c1", "u2", "c1", NOW + 3600))
        .await
        .unwrap();
    s.insert_refresh_token(&refresh_token("rt-u1-c1", "g-u1-c1", NOW + 3600))
        .await
        .unwrap();

    s.revoke_consent("u1", "c1", NOW + 100).await.unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), None);
    assert_eq!(s.list_consents("u1").await.unwrap(), vec![other_client]);
    let revoked_at = |id: &'static str| {
        let s = s.clone();
        async move { s.grant_by_id(id).await.unwrap().unwrap().revoked_at }
    };
    assert_eq!(revoked_at("g-u1-c1").await, Some(NOW + 100));
    // The first revocation time stays.
    assert_eq!(revoked_at("g-u1-c1-old").await, Some(NOW - 1));
    assert_eq!(revoked_at("g-u1-c2").await, None);
    assert_eq!(revoked_at("g-u2-c1").await, None);
    assert_eq!(s.consent("u2", "c1").await.unwrap(), Some(other_user));
    // Revoking what is not there is fine.
    s.revoke_consent("u1", "c1", NOW + 200).await.unwrap();
    assert_eq!(revoked_at("g-u1-c1").await, Some(NOW + 100));

    // Consents go with their client.
    s.delete_client("c2").await.unwrap();
    assert!(s.list_consents("u1").await.unwrap().is_empty());
}

async fn access_token_revocation_is_remembered_until_expiry(s: Arc<dyn Store>) {
    assert!(!s.access_token_revoked("jti-1").await.unwrap());
    s.revoke_access_token("jti-1", NOW + 600).await.unwrap();
    assert!(s.access_token_revoked("jti-1").await.unwrap());
    assert!(!s.access_token_revoked("jti-2").await.unwrap());
    // Idempotent.
    s.revoke_access_token("jti-1", NOW + 900).await.unwrap();
    assert!(s.access_token_revoked("jti-1").await.unwrap());
    s.revoke_access_token("jti-2", NOW + 1200).await.unwrap();

    // Kept while the token could still be used; purged once it has expired.
    assert_eq!(s.purge_expired(NOW + 599).await.unwrap(), 0);
    assert!(s.access_token_revoked("jti-1").await.unwrap());
    assert_eq!(s.purge_expired(NOW + 600).await.unwrap(), 1);
    assert!(!s.access_token_revoked("jti-1").await.unwrap());
    assert!(s.access_token_revoked("jti-2").await.unwrap());
}

async fn refresh_token_by_hash_does_not_use_it(s: Arc<dyn Store>) {
    seed_grant(&*s).await;
    let token = refresh_token("rt-1", "g1", NOW + 3600);
    s.insert_refresh_token(&token).await.unwrap();
    assert_eq!(s.refresh_token_by_hash("nope").await.unwrap(), None);
    assert_eq!(
        s.refresh_token_by_hash("rt-1").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        s.refresh_token_by_hash("rt-1").await.unwrap(),
        Some(token.clone())
    );
    // Looking did not use it.
    assert_eq!(
        rotate(&*s, "rt-1", NOW + 5).await,
        Rotation::Rotated {
            presented: RefreshToken {
                used_at: Some(NOW + 5),
                ..token.clone()
            }
        }
    );
    // A used token is still found, with its use recorded.
    assert_eq!(
        s.refresh_token_by_hash("rt-1").await.unwrap(),
        Some(RefreshToken {
            used_at: Some(NOW + 5),
            ..token
        })
    );
}

async fn client_assertion_jti_is_single_use_until_expiry(s: Arc<dyn Store>) {
    assert!(
        s.use_client_assertion_jti("c1", "jti-a", NOW + 60, NOW)
            .await
            .unwrap()
    );
    // A replay, even later, with another expiry.
    assert!(
        !s.use_client_assertion_jti("c1", "jti-a", NOW + 60, NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.use_client_assertion_jti("c1", "jti-a", NOW + 120, NOW + 59)
            .await
            .unwrap()
    );
    // The same jti from another client is that client's own.
    assert!(
        s.use_client_assertion_jti("c2", "jti-a", NOW + 60, NOW)
            .await
            .unwrap()
    );
    assert!(
        s.use_client_assertion_jti("c1", "jti-b", NOW + 60, NOW)
            .await
            .unwrap()
    );
    // Once the remembered entry has expired the jti may be used again, and is then remembered
    // until its new expiry.
    assert!(
        s.use_client_assertion_jti("c1", "jti-a", NOW + 200, NOW + 60)
            .await
            .unwrap()
    );
    assert!(
        !s.use_client_assertion_jti("c1", "jti-a", NOW + 300, NOW + 199)
            .await
            .unwrap()
    );
    // Purged once expired: c1/jti-b and c2/jti-a (NOW + 60), not c1/jti-a (NOW + 200).
    assert_eq!(s.purge_expired(NOW + 60).await.unwrap(), 2);
    assert!(
        !s.use_client_assertion_jti("c1", "jti-a", NOW + 300, NOW + 61)
            .await
            .unwrap()
    );
    assert!(
        s.use_client_assertion_jti("c1", "jti-b", NOW + 300, NOW + 61)
            .await
            .unwrap()
    );
}

/// User `u1` with sessions `sid-1` and `sid-2`; clients `c1` and `c2` used `sid-1`. Grants of
/// `sid-1`: `g-online` (c1, openid email), `g-offline` (c1, offline_access last), `g-offline-first`
/// (c2, offline_access first), `g-offline-like` (c2, a scope merely containing the word); of
/// `sid-2`: `g-sid-2`; without session: `g-no-sid`. Each grant has a live refresh token.
async fn seed_logout(s: &dyn Store) {
    s.insert_user(&user("u1", "u1@example.se", NOW))
        .await
        .unwrap();
    seed_two_clients(s).await;
    s.insert_session(&session("hash-1", "sid-1", "u1", NOW + 3600))
        .await
        .unwrap();
    s.insert_session(&session("hash-2", "sid-2", "u1", NOW + 3600))
        .await
        .unwrap();
    s.add_session_client("sid-1", "c1").await.unwrap();
    s.add_session_client("sid-1", "c2").await.unwrap();
    s.add_session_client("sid-2", "c1").await.unwrap();
    for (id, client_id, scope, sid) in [
        ("g-online", "c1", "openid email", Some("sid-1")),
        (
            "g-offline",
            "c1",
            "openid email offline_access",
            Some("sid-1"),
        ),
        (
            "g-offline-first",
            "c2",
            "offline_access openid",
            Some("sid-1"),
        ),
        (
            "g-offline-like",
            "c2",
            "openid offline_accessory",
            Some("sid-1"),
        ),
        ("g-sid-2", "c1", "openid", Some("sid-2")),
        ("g-no-sid", "c1", "openid", None),
    ] {
        let mut g = grant(id, "u1", client_id, NOW + 3600);
        g.scope = scope.into();
        g.sid = sid.map(str::to_string);
        s.insert_grant(&g).await.unwrap();
        s.insert_refresh_token(&refresh_token(&format!("rt-{id}"), id, NOW + 3600))
            .await
            .unwrap();
    }
}

async fn grant_revoked_at(s: &dyn Store, id: &str) -> Option<UnixTime> {
    s.grant_by_id(id).await.unwrap().unwrap().revoked_at
}

async fn session_by_sid(s: Arc<dyn Store>) {
    seed_logout(&*s).await;
    let expected = session("hash-1", "sid-1", "u1", NOW + 3600);
    assert_eq!(
        s.session_by_sid("sid-1", NOW).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        s.session_by_sid("sid-1", NOW + 3599).await.unwrap(),
        Some(expected)
    );
    assert_eq!(s.session_by_sid("sid-1", NOW + 3600).await.unwrap(), None);
    assert_eq!(s.session_by_sid("nope", NOW).await.unwrap(), None);
    // Not by hash.
    assert_eq!(s.session_by_sid("hash-1", NOW).await.unwrap(), None);
}

async fn end_session_revokes_online_grants_and_queues_deliveries(s: Arc<dyn Store>) {
    seed_logout(&*s).await;
    let queued = vec![
        delivery("d-1", "c1", NOW + 10),
        delivery("d-2", "c2", NOW + 10),
    ];
    s.end_session("sid-1", &queued, NOW + 10).await.unwrap();

    assert_eq!(s.session_by_hash("hash-1", NOW + 10).await.unwrap(), None);
    assert_eq!(s.session_by_sid("sid-1", NOW + 10).await.unwrap(), None);
    assert!(s.session_clients("sid-1").await.unwrap().is_empty());
    // The session's online grants are revoked; offline_access ones outlive it.
    assert_eq!(grant_revoked_at(&*s, "g-online").await, Some(NOW + 10));
    assert_eq!(
        grant_revoked_at(&*s, "g-offline-like").await,
        Some(NOW + 10)
    );
    assert_eq!(grant_revoked_at(&*s, "g-offline").await, None);
    assert_eq!(grant_revoked_at(&*s, "g-offline-first").await, None);
    // Other sessions and grants without a session are untouched.
    assert!(
        s.session_by_hash("hash-2", NOW + 10)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.session_clients("sid-2").await.unwrap(), ["c1"]);
    assert_eq!(grant_revoked_at(&*s, "g-sid-2").await, None);
    assert_eq!(grant_revoked_at(&*s, "g-no-sid").await, None);
    // The offline grant's refresh token still works.
    assert!(matches!(
        rotate(&*s, "rt-g-offline", NOW + 11).await,
        Rotation::Rotated { .. }
    ));

    // Queued exactly as given.
    let mut listed = s.list_backchannel(10).await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, queued);

    // Ending it again (or an unknown session) changes nothing and may queue nothing.
    s.end_session("sid-1", &[], NOW + 20).await.unwrap();
    s.end_session("nope", &[], NOW + 20).await.unwrap();
    assert_eq!(grant_revoked_at(&*s, "g-online").await, Some(NOW + 10));
    assert_eq!(s.list_backchannel(10).await.unwrap().len(), 2);
}

async fn end_session_is_all_or_nothing(s: Arc<dyn Store>) {
    seed_logout(&*s).await;
    s.end_session("sid-2", &[delivery("d-taken", "c1", NOW)], NOW)
        .await
        .unwrap();
    // The second delivery reuses an id: nothing of the logout may happen.
    let queued = vec![delivery("d-new", "c1", NOW), delivery("d-taken", "c2", NOW)];
    assert!(s.end_session("sid-1", &queued, NOW + 10).await.is_err());
    assert!(
        s.session_by_hash("hash-1", NOW + 10)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.session_clients("sid-1").await.unwrap(), ["c1", "c2"]);
    assert_eq!(grant_revoked_at(&*s, "g-online").await, None);
    assert_eq!(
        delivery_ids(&s.list_backchannel(10).await.unwrap()),
        ["d-taken"]
    );
    // A delivery to a client that does not exist is refused as well.
    let unknown = vec![delivery("d-ghost", "no-such-client", NOW)];
    assert!(s.end_session("sid-1", &unknown, NOW + 10).await.is_err());
    assert!(s.session_by_sid("sid-1", NOW + 10).await.unwrap().is_some());
    assert_eq!(grant_revoked_at(&*s, "g-online").await, None);
    // And then it works.
    s.end_session("sid-1", &[delivery("d-new", "c1", NOW)], NOW + 10)
        .await
        .unwrap();
    assert_eq!(grant_revoked_at(&*s, "g-online").await, Some(NOW + 10));
    assert_eq!(s.list_backchannel(10).await.unwrap().len(), 2);
}

async fn backchannel_claims_due_deliveries_once_per_lease(s: Arc<dyn Store>) {
    const LEASE: i64 = 60;
    seed_two_clients(&*s).await;
    seed_logout_sessions_only(&*s).await;
    // Queued out of order by two logouts; only three are due at NOW.
    s.end_session(
        "sid-1",
        &[
            delivery("d-2", "c1", NOW - 5),
            delivery("d-future", "c2", NOW + 100),
        ],
        NOW - 20,
    )
    .await
    .unwrap();
    s.end_session(
        "sid-2",
        &[
            delivery("d-1", "c2", NOW - 10),
            delivery("d-3", "c1", NOW),
            delivery("d-delivered", "c1", NOW - 30),
            delivery("d-failed", "c2", NOW - 30),
        ],
        NOW - 20,
    )
    .await
    .unwrap();
    // Neither a delivered nor a given-up delivery is ever claimed.
    s.backchannel_delivered("d-delivered").await.unwrap();
    s.backchannel_failed("d-failed", "HTTP 500", NOW - 30, true)
        .await
        .unwrap();

    let first = s.claim_backchannel(NOW, LEASE, 2).await.unwrap();
    assert_eq!(delivery_ids(&first), ["d-1", "d-2"]);
    for claimed in &first {
        assert_eq!(claimed.locked_until, Some(NOW + LEASE));
        assert_eq!(claimed.status, "pending");
        assert_eq!(
            claimed.logout_token,
            format!("eyJ.logout-token-{}.sig", claimed.id)
        );
    }
    assert_eq!(
        delivery_ids(&s.claim_backchannel(NOW, LEASE, 10).await.unwrap()),
        ["d-3"]
    );
    assert!(
        s.claim_backchannel(NOW, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Still leased just before the lease ends.
    assert!(
        s.claim_backchannel(NOW + LEASE - 1, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        delivery_row(&*s, "d-1").await.locked_until,
        Some(NOW + LEASE)
    );
    // Once the lease has run out (the sender died) they can be claimed again, with the one that
    // came due meanwhile.
    let again = s.claim_backchannel(NOW + LEASE, LEASE, 10).await.unwrap();
    assert_eq!(delivery_ids(&again), ["d-1", "d-2", "d-3"]);
    let later = s.claim_backchannel(NOW + 100, LEASE, 10).await.unwrap();
    assert_eq!(delivery_ids(&later), ["d-future"]);
    assert_eq!(later[0].locked_until, Some(NOW + 100 + LEASE));
    assert!(s.claim_backchannel(NOW, LEASE, 0).await.unwrap().is_empty());
    // Claiming counts no attempt.
    assert_eq!(delivery_row(&*s, "d-1").await.attempts, 0);
}

/// Sessions `sid-1` and `sid-2` of user `u1` (clients must exist already).
async fn seed_logout_sessions_only(s: &dyn Store) {
    s.insert_user(&user("u1", "u1@example.se", NOW))
        .await
        .unwrap();
    s.insert_session(&session("hash-1", "sid-1", "u1", NOW + 3600))
        .await
        .unwrap();
    s.insert_session(&session("hash-2", "sid-2", "u1", NOW + 3600))
        .await
        .unwrap();
}

async fn backchannel_concurrent_claimers_never_share(s: Arc<dyn Store>) {
    seed_two_clients(&*s).await;
    seed_logout_sessions_only(&*s).await;
    let queued: Vec<BackchannelDelivery> = (0..20)
        .map(|i| {
            delivery(
                &format!("d-{i:02}"),
                if i % 2 == 0 { "c1" } else { "c2" },
                NOW - 100 + i,
            )
        })
        .collect();
    s.end_session("sid-1", &queued, NOW - 100).await.unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.claim_backchannel(NOW, 60, 5).await.unwrap() })
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for handle in handles {
        let claimed = handle.await.unwrap();
        assert!(claimed.len() <= 5, "{}", claimed.len());
        for d in claimed {
            assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
        }
    }
    for d in s.claim_backchannel(NOW, 60, 100).await.unwrap() {
        assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
    }
    assert_eq!(seen.len(), 20);
    assert!(s.claim_backchannel(NOW, 60, 100).await.unwrap().is_empty());
}

async fn backchannel_delivered_and_failed(s: Arc<dyn Store>) {
    seed_two_clients(&*s).await;
    seed_logout_sessions_only(&*s).await;
    s.end_session(
        "sid-1",
        &[
            delivery("d-ok", "c1", NOW),
            delivery("d-flaky", "c2", NOW),
            delivery("d-bad", "c1", NOW),
        ],
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(s.claim_backchannel(NOW, 60, 10).await.unwrap().len(), 3);

    // Delivered: counted, lease released, token erased; never claimed again.
    s.backchannel_delivered("d-ok").await.unwrap();
    let ok = delivery_row(&*s, "d-ok").await;
    assert_eq!(ok.status, "delivered");
    assert_eq!(ok.attempts, 1);
    assert_eq!(ok.locked_until, None);
    assert!(ok.logout_token.is_empty());
    assert_eq!(ok.uri, "https://c1.example/backchannel");

    // A failure schedules the next attempt and releases the lease; the token stays.
    s.backchannel_failed("d-flaky", "HTTP 503", NOW + 5, false)
        .await
        .unwrap();
    let flaky = delivery_row(&*s, "d-flaky").await;
    assert_eq!(flaky.status, "pending");
    assert_eq!(flaky.attempts, 1);
    assert_eq!(flaky.next_attempt_at, NOW + 5);
    assert_eq!(flaky.locked_until, None);
    assert_eq!(flaky.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(flaky.logout_token, "eyJ.logout-token-d-flaky.sig");
    assert!(
        s.claim_backchannel(NOW + 4, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = s.claim_backchannel(NOW + 5, 60, 10).await.unwrap();
    assert_eq!(delivery_ids(&retried), ["d-flaky"]);
    assert_eq!(retried[0].attempts, 1);
    s.backchannel_failed("d-flaky", "connection failed", NOW + 15, false)
        .await
        .unwrap();
    let flaky = delivery_row(&*s, "d-flaky").await;
    assert_eq!(flaky.attempts, 2);
    assert_eq!(flaky.last_error.as_deref(), Some("connection failed"));

    // Giving up: status failed, never claimed again; long errors are cut to 500 characters.
    let long_error = "å".repeat(600);
    s.backchannel_failed("d-bad", &long_error, NOW + 1000, true)
        .await
        .unwrap();
    let bad = delivery_row(&*s, "d-bad").await;
    assert_eq!(bad.status, "failed");
    assert_eq!(bad.attempts, 1);
    assert_eq!(bad.locked_until, None);
    assert_eq!(bad.last_error, Some("å".repeat(500)));
    assert_eq!(
        delivery_ids(&s.claim_backchannel(NOW + 10_000, 60, 10).await.unwrap()),
        ["d-flaky"]
    );

    assert!(matches!(
        s.backchannel_delivered("nope").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.backchannel_failed("nope", "x", NOW, false).await,
        Err(StoreError::NotFound)
    ));
}

async fn backchannel_list_and_purge(s: Arc<dyn Store>) {
    const DAY: i64 = 24 * 3600;
    seed_two_clients(&*s).await;
    seed_logout_sessions_only(&*s).await;
    assert!(s.list_backchannel(10).await.unwrap().is_empty());
    s.end_session(
        "sid-1",
        &[
            delivery("d-b", "c1", NOW - 31 * DAY),
            delivery("d-a", "c2", NOW - 32 * DAY),
            delivery("d-c", "c1", NOW - DAY),
            delivery("d-pending-old", "c2", NOW - 40 * DAY),
        ],
        NOW,
    )
    .await
    .unwrap();
    // Newest first, limited.
    assert_eq!(
        delivery_ids(&s.list_backchannel(10).await.unwrap()),
        ["d-c", "d-b", "d-a", "d-pending-old"]
    );
    assert_eq!(
        delivery_ids(&s.list_backchannel(2).await.unwrap()),
        ["d-c", "d-b"]
    );
    s.backchannel_delivered("d-a").await.unwrap();
    s.backchannel_failed("d-b", "HTTP 500", NOW, true)
        .await
        .unwrap();
    s.backchannel_delivered("d-c").await.unwrap();
    // Finished deliveries older than the retention go; pending ones and recent ones stay.
    assert_eq!(s.purge_expired(NOW).await.unwrap(), 2);
    assert_eq!(
        delivery_ids(&s.list_backchannel(10).await.unwrap()),
        ["d-c", "d-pending-old"]
    );
    // Deliveries go with their client.
    s.delete_client("c2").await.unwrap();
    assert_eq!(
        delivery_ids(&s.list_backchannel(10).await.unwrap()),
        ["d-c"]
    );
}

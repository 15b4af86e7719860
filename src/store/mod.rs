//! Persistence: one `Store` trait with a SQLite and a PostgreSQL implementation.
//!
//! Every instance of the server is stateless; all shared state goes through this trait so that
//! several instances on one PostgreSQL behave as one.

// First, so its column macros are in scope in the backend modules.
#[macro_use]
mod sql;
pub(crate) mod audit_log;
pub mod client_cache;
mod migrate;
pub mod model;
mod postgres;
mod sqlite;
#[cfg(test)]
mod suite;
pub mod token_context_cache;

use std::sync::Arc;

use async_trait::async_trait;

pub use client_cache::ClientCache;
pub use migrate::{MIGRATIONS, Migration};
pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (duplicate email, client id, …).
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The database cannot be reached or cannot write right now (no connection within the
    /// timeout, connection lost, disk full, file locked, server shutting down): worth a 503 and
    /// a retry, not a 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(e) if is_unavailable(e))
    }
}

/// Whether an sqlx error means the database is out of reach rather than a bug of ours.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite primary result codes: BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN
                // (extended codes keep the primary code in their low byte).
                return code
                    .parse::<i64>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14));
            }
            // PostgreSQL classes 08 (connection), 53 (resources, e.g. disk full), 57P0x
            // (shutdown), and any FATAL error: the server ended the connection (a database not
            // accepting connections, a backend terminated by an administrator).
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P0")
                || db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some_and(|pg| {
                        matches!(
                            pg.severity(),
                            sqlx::postgres::PgSeverity::Fatal | sqlx::postgres::PgSeverity::Panic
                        )
                    })
        }
        _ => false,
    }
}

/// Whether any error in `error`'s chain is the database being out of reach.
pub fn unavailable_in_chain(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(sqlx) = e.downcast_ref::<sqlx::Error>()
            && is_unavailable(sqlx)
        {
            return true;
        }
        if let Some(store) = e.downcast_ref::<StoreError>()
            && store.is_unavailable()
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations; returns how many were applied.
    async fn migrate(&self) -> StoreResult<usize>;
    /// A cheap round trip.
    async fn ping(&self) -> StoreResult<()>;
    /// Writes this instance's heartbeat row: `/health/ready` is ready only if this can write
    /// (a full disk or a locked SQLite file fails it).
    async fn heartbeat(&self, instance_id: &str, now: UnixTime) -> StoreResult<()>;
    /// The connection pool's size, idle connections and limit (metrics; no round trip).
    fn pool_stats(&self) -> PoolStats;
    /// What waits in a work queue, the oldest waiting item, and what was given up on (metrics).
    async fn queue_stats(&self, queue: WorkQueue) -> StoreResult<QueueStats>;

    // The console's overview: logins per hour, and the queues' failed items and their retry

    /// The hours in `[since, until)` with any login (successes by method, failures), oldest
    /// first; hours without one are left out.
    async fn hourly_logins(
        &self,
        since: UnixTime,
        until: UnixTime,
    ) -> StoreResult<Vec<HourlyLogins>>;
    /// Emails given up on, newest first, at most `limit`.
    async fn failed_outbox(&self, limit: i64) -> StoreResult<Vec<OutboxEmail>>;
    /// Back-channel deliveries given up on, newest first, at most `limit`.
    async fn failed_backchannel(&self, limit: i64) -> StoreResult<Vec<BackchannelDelivery>>;
    async fn backchannel_delivery(&self, id: &str) -> StoreResult<Option<BackchannelDelivery>>;
    /// Puts a failed email back in the queue as if new (pending, due at `now`, no attempts, no
    /// error), with `events`. `NotFound`, with nothing recorded, unless it has failed and still
    /// has its content.
    async fn retry_outbox(&self, id: &str, now: UnixTime, events: &[AuditEvent])
    -> StoreResult<()>;
    /// Like [`Store::retry_outbox`] for a back-channel delivery, which carries `logout_token`
    /// from now on (the one it had has expired).
    async fn retry_backchannel(
        &self,
        id: &str,
        logout_token: &str,
        now: UnixTime,
        events: &[AuditEvent],
    ) -> StoreResult<()>;

    // Users
    async fn insert_user(&self, user: &User, events: &[AuditEvent]) -> StoreResult<()>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_user_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: UnixTime,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    async fn set_user_password(
        &self,
        id: &str,
        password_hash: &str,
        now: UnixTime,
    ) -> StoreResult<()>;

    // Clients
    async fn insert_client(&self, client: &Client, events: &[AuditEvent]) -> StoreResult<()>;
    async fn client_by_id(&self, id: &str) -> StoreResult<Option<Client>>;
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    /// Deletes the client and everything issued to it.
    async fn delete_client(&self, id: &str, events: &[AuditEvent]) -> StoreResult<()>;
    async fn set_client_secret_hash(
        &self,
        id: &str,
        secret_hash: &str,
        events: &[AuditEvent],
    ) -> StoreResult<()>;

    // Signing keys
    async fn insert_signing_key(&self, key: &SigningKey, events: &[AuditEvent]) -> StoreResult<()>;
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKey>>;
    /// Sets `retired_at` and `unpublish_at` on a key.
    async fn retire_signing_key(
        &self,
        kid: &str,
        retired_at: UnixTime,
        unpublish_at: UnixTime,
    ) -> StoreResult<()>;
    /// Deletes keys whose `unpublish_at` has passed.
    async fn delete_unpublished_keys(&self, now: UnixTime) -> StoreResult<u64>;

    // Pending authorization requests
    async fn insert_pending_authorization(&self, pending: &PendingAuthorization)
    -> StoreResult<()>;
    /// Returns the request only while it has not expired.
    async fn pending_authorization(
        &self,
        id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<PendingAuthorization>>;
    async fn delete_pending_authorization(&self, id: &str) -> StoreResult<()>;

    // Pushed authorization requests (RFC 9126)
    async fn insert_pushed_request(&self, pushed: &PushedRequest) -> StoreResult<()>;
    /// Uses up the pushed request with this `request_uri` hash, if it belongs to `client_id` and
    /// has not expired: exactly one caller gets it, and it is gone afterwards. A request of
    /// another client stays, so naming someone else's `request_uri` cannot spend it.
    async fn take_pushed_request(
        &self,
        request_uri_hash: &str,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<PushedRequest>>;

    // Passkeys (WebAuthn)
    /// Adds a passkey; `Conflict` if its credential id is registered already (to anyone).
    async fn insert_passkey(
        &self,
        passkey: &StoredPasskey,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    /// The user's passkeys, oldest first.
    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<StoredPasskey>>;
    async fn passkey_by_credential_id(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<StoredPasskey>>;
    /// Renames one of the user's passkeys; `NotFound` if they have no such passkey.
    async fn rename_passkey(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    /// Removes one of the user's passkeys, unless it is their last way to log in (no password,
    /// no BankID link, no other passkey); checked and done in one write transaction.
    async fn remove_passkey(
        &self,
        user_id: &str,
        id: &str,
        events: &[AuditEvent],
    ) -> StoreResult<PasskeyRemoval>;
    /// Records an accepted login with the passkey: `false` (nothing written) if the stored
    /// counter is not below the new one (unless both are 0), so a cloned or replayed
    /// authenticator loses even against a concurrent login.
    async fn record_passkey_use(&self, used: &PasskeyUse) -> StoreResult<bool>;
    async fn insert_passkey_challenge(&self, challenge: &PasskeyChallenge) -> StoreResult<()>;
    /// Uses up the challenge `id` of `purpose`, if it has not expired: exactly one caller gets
    /// it, and it is gone afterwards.
    async fn take_passkey_challenge(
        &self,
        id: &str,
        purpose: &str,
        now: UnixTime,
    ) -> StoreResult<Option<PasskeyChallenge>>;

    // Sessions
    async fn insert_session(&self, session: &Session, events: &[AuditEvent]) -> StoreResult<()>;
    /// Returns the session only while it has not expired.
    async fn session_by_hash(&self, id_hash: &str, now: UnixTime) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Records that a client received tokens through this session (for logout).
    async fn add_session_client(&self, sid: &str, client_id: &str) -> StoreResult<()>;
    async fn session_clients(&self, sid: &str) -> StoreResult<Vec<String>>;

    // Grants, codes and refresh tokens
    async fn insert_grant(&self, grant: &Grant) -> StoreResult<()>;
    async fn grant_by_id(&self, id: &str) -> StoreResult<Option<Grant>>;
    /// The grant `grant_id` with its user and whether `jti` is revoked, in one query; `None`
    /// without the grant.
    async fn token_context(&self, grant_id: &str, jti: &str) -> StoreResult<Option<TokenContext>>;
    /// Keeps [`token_context`](Store::token_context)'s memory honest: follows the changes other
    /// instances and processes commit (see `token_context_cache`), and until this runs nothing
    /// is served from memory. Runs until the task is dropped; the server spawns it.
    async fn follow_token_context_changes(&self);
    /// The grant `grant_id` with its user, served from the same memory as
    /// [`token_context`](Store::token_context) (and emptied by the same revocations), for a
    /// check that a transaction repeats: the refresh grant's.
    async fn grant_context(&self, grant_id: &str) -> StoreResult<Option<TokenContext>> {
        // Keyed apart from every token: no `jti` of ours contains a space.
        self.token_context(grant_id, &format!("grant {grant_id}"))
            .await
    }
    /// Revokes the grant (idempotent); its refresh and access tokens die with it.
    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()>;
    /// What an authorization issues, in one transaction: the grant, its code, the client on the
    /// session, (if given) the consent the user just gave, and (if given) the pending request
    /// deleted.
    async fn record_authorization(
        &self,
        grant: &Grant,
        code: &AuthCode,
        sid: &str,
        pending_id: Option<&str>,
        consent: Option<&Consent>,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    async fn insert_auth_code(&self, code: &AuthCode) -> StoreResult<()>;
    /// Atomically marks the code used; exactly one caller ever gets `Fresh`.
    async fn consume_auth_code(
        &self,
        code_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Consumed<AuthCode>>;
    /// The code, used or not, without using it.
    async fn auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCode>>;
    /// Exchanges a code in one transaction: marks it used and stores the grant's first refresh
    /// token. Exactly one caller gets `Fresh`; the others store nothing.
    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        first_refresh: &RefreshToken,
    ) -> StoreResult<Consumed<AuthCode>>;
    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    /// Uses the presented refresh token and stores its successor in one transaction (see
    /// [`Rotation`]). A token used at or after `grace_since` may be presented again (concurrent
    /// refreshes) and gets a sibling successor; one used before that is a replay, and revokes
    /// the grant. The grant must be live (not revoked, not expired, its user not disabled) when
    /// the transaction runs, so a caller may have checked it from memory beforehand.
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        successor: &RefreshToken,
        now: UnixTime,
        grace_since: UnixTime,
        on_reuse: &[AuditEvent],
    ) -> StoreResult<Rotation>;
    /// Removes expired codes, refresh tokens, pending requests, sessions and old grants.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;

    // Throttling
    /// Counts one failure in the bucket `key`; a window older than `window_secs` starts over.
    async fn record_failure(
        &self,
        key: &str,
        now: UnixTime,
        window_secs: i64,
    ) -> StoreResult<ThrottleState>;
    /// Failures in the current window (0 if the window has passed).
    async fn failures(&self, key: &str, now: UnixTime, window_secs: i64) -> StoreResult<i64>;
    async fn clear_failures(&self, key: &str) -> StoreResult<()>;
    /// Takes one count back from the bucket `key` (never below zero): an attempt counted up
    /// front that turned out to be a success.
    async fn forgive_failure(&self, key: &str) -> StoreResult<()>;

    // Accounts: invitations, password resets, profile (issue 3). Each method that sends email
    // writes the outbox row in the same transaction as the change that causes it.
    /// Creates a user without password, its invitation token and the welcome email, atomically.
    async fn insert_user_with_token(
        &self,
        user: &User,
        token: &UserToken,
        email: &OutboxEmail,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    /// Stores a link token and the email carrying it, atomically; and marks the background job
    /// `completes_job` done in the same transaction.
    async fn insert_user_token(
        &self,
        token: &UserToken,
        email: &OutboxEmail,
        completes_job: Option<&str>,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    /// Atomically marks the token used; exactly one caller ever gets `Fresh`.
    async fn consume_user_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Consumed<UserToken>>;
    /// The token if it exists (used or not), without consuming it (to show the form).
    async fn user_token(&self, token_hash: &str) -> StoreResult<Option<UserToken>>;
    /// Sets the password; deletes the user's other sessions; revokes all the user's grants (so
    /// refresh and access tokens die); marks the user's unused link tokens used; enqueues the
    /// notice. One transaction. `NotFound` if the user does not exist.
    async fn set_password_with_effects(
        &self,
        change: &PasswordChange,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    /// Uses up the link token and sets the password with all its effects, in one transaction.
    /// Only `Fresh` changed anything.
    async fn set_password_from_link(
        &self,
        token_hash: &str,
        change: &PasswordChange,
        events: &[AuditEvent],
    ) -> StoreResult<Consumed<UserToken>>;
    async fn update_user_profile(
        &self,
        id: &str,
        name: &str,
        locale: &str,
        now: UnixTime,
        events: &[AuditEvent],
    ) -> StoreResult<()>;

    // Background jobs
    async fn enqueue_job(&self, job: &Job) -> StoreResult<()>;
    /// Claims up to `limit` pending jobs due at `now` that no other worker holds, for
    /// `lease_secs` (like [`Store::claim_outbox`]).
    async fn claim_jobs(&self, now: UnixTime, lease_secs: i64, limit: i64)
    -> StoreResult<Vec<Job>>;
    /// Marks a pending job done and erases its payload (idempotent).
    async fn job_done(&self, id: &str, now: UnixTime) -> StoreResult<()>;
    /// Records a failed attempt (`attempts + 1`, the error, the next attempt time) or, when
    /// `give_up`, status `failed` with the payload erased.
    async fn job_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: UnixTime,
        give_up: bool,
    ) -> StoreResult<()>;
    async fn job(&self, id: &str) -> StoreResult<Option<Job>>;
    /// Recent jobs, newest first (operators and tests).
    async fn list_jobs(&self, limit: i64) -> StoreResult<Vec<Job>>;

    // Email outbox
    async fn enqueue_email(&self, email: &OutboxEmail) -> StoreResult<()>;
    /// Claims up to `limit` pending messages due at `now` that no other sender holds, locking each
    /// until `now + lease_secs`. Safe with several instances (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    async fn claim_outbox(
        &self,
        now: UnixTime,
        lease_secs: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEmail>>;
    /// Marks a message sent and erases its sealed content.
    async fn outbox_sent(&self, id: &str, now: UnixTime) -> StoreResult<()>;
    /// Records a failed attempt: `attempts + 1`, the error, and either the next attempt time or,
    /// when `give_up`, status `failed` (the sealed content kept for [`Store::retry_outbox`]).
    async fn outbox_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: UnixTime,
        give_up: bool,
    ) -> StoreResult<()>;
    async fn outbox_email(&self, id: &str) -> StoreResult<Option<OutboxEmail>>;
    /// Recent messages, newest first (operators and tests).
    async fn list_outbox(&self, limit: i64) -> StoreResult<Vec<OutboxEmail>>;

    // Personnummer and BankID (issue 4).
    /// Stores (or replaces) the user's personnummer, unverified; any BankID link is removed (a new
    /// number must be proven again). Other accounts may hold the same number unverified.
    async fn set_personnummer(
        &self,
        value: &StoredPersonnummer,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    /// Removes the personnummer (and so the BankID link). Idempotent.
    async fn delete_personnummer(&self, user_id: &str, events: &[AuditEvent]) -> StoreResult<()>;
    async fn personnummer_of(&self, user_id: &str) -> StoreResult<Option<StoredPersonnummer>>;
    /// The account on which BankID verified this number (at most one).
    async fn verified_personnummer_by_index(
        &self,
        blind_index: &str,
    ) -> StoreResult<Option<StoredPersonnummer>>;
    /// Users other than `except_user` holding this number unverified.
    async fn unverified_holders(
        &self,
        blind_index: &str,
        except_user: &str,
    ) -> StoreResult<Vec<User>>;
    /// BankID verified the user's number: consumes the order, links BankID, removes unverified
    /// copies on other accounts and queues their notices, in one transaction.
    async fn verify_personnummer(
        &self,
        verification: &PersonnummerVerification,
        events: &[AuditEvent],
    ) -> StoreResult<VerificationOutcome>;
    /// Consumes a `complete` login order and starts its session in one transaction; `false` (and
    /// no session) when the order was not complete or another request consumed it.
    async fn finish_bankid_login(
        &self,
        order_ref: &str,
        session: &Session,
        events: &[AuditEvent],
    ) -> StoreResult<bool>;
    /// Marks BankID linked (or unlinked with `None`); optionally fills an empty profile name.
    /// `NotFound` when the user has no personnummer.
    async fn set_bankid_linked(
        &self,
        user_id: &str,
        linked_at: Option<UnixTime>,
        name_if_empty: Option<&str>,
    ) -> StoreResult<()>;
    /// Every stored personnummer (for `secrets reencrypt`).
    async fn list_personnummer(&self) -> StoreResult<Vec<StoredPersonnummer>>;
    /// Replaces only the sealed value (re-encryption under another key).
    async fn reseal_personnummer(&self, user_id: &str, sealed: &[u8]) -> StoreResult<()>;
    async fn insert_bankid_order(&self, order: &BankIdOrder) -> StoreResult<()>;
    async fn bankid_order(&self, order_ref: &str) -> StoreResult<Option<BankIdOrder>>;
    /// Records a collect result: status, hint, completion (sealed), user, finished_at, last_collect_at.
    async fn update_bankid_order(
        &self,
        order: &BankIdOrder,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    /// Atomically moves a `complete` order to `consumed`; exactly one caller gets `true`.
    async fn consume_bankid_order(&self, order_ref: &str) -> StoreResult<bool>;
    /// Claims the right to call BankID's collect for this order now: sets `last_collect_at = now`
    /// only if it is NULL or at most `now - min_interval`; `true` when this caller may collect.
    async fn claim_bankid_collect(
        &self,
        order_ref: &str,
        now: UnixTime,
        min_interval: i64,
    ) -> StoreResult<bool>;
    /// Deletes finished orders older than `before` (audit retention).
    async fn purge_bankid_orders(&self, before: UnixTime) -> StoreResult<u64>;

    // Consent (third-party clients).
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    /// Inserts or replaces the user's consent for the client.
    async fn save_consent(&self, consent: &Consent) -> StoreResult<()>;
    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>>;
    /// Withdraws the consent and revokes the user's grants to that client (refresh tokens die).
    async fn revoke_consent(
        &self,
        user_id: &str,
        client_id: &str,
        now: UnixTime,
        events: &[AuditEvent],
    ) -> StoreResult<()>;

    // Revocation (RFC 7009) and client assertions.
    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()>;
    async fn access_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// A refresh token by hash, without using it (revocation, introspection).
    async fn refresh_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
    /// Records a client assertion's jti; `false` if it was already used (a replay).
    async fn use_client_assertion_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool>;

    // Logout.
    /// Ends a session in one transaction: deletes it, revokes its grants that are not
    /// `offline_access`, and queues the back-channel logout tokens.
    async fn end_session(
        &self,
        sid: &str,
        deliveries: &[BackchannelDelivery],
        now: UnixTime,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    async fn session_by_sid(&self, sid: &str, now: UnixTime) -> StoreResult<Option<Session>>;
    /// Claims up to `limit` due deliveries for `lease_secs` (one instance at a time each).
    async fn claim_backchannel(
        &self,
        now: UnixTime,
        lease_secs: i64,
        limit: i64,
    ) -> StoreResult<Vec<BackchannelDelivery>>;
    async fn backchannel_delivered(&self, id: &str) -> StoreResult<()>;
    async fn backchannel_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: UnixTime,
        give_up: bool,
    ) -> StoreResult<()>;
    async fn list_backchannel(&self, limit: i64) -> StoreResult<Vec<BackchannelDelivery>>;

    // Administration and the audit trail (every write takes the audit events it commits with)

    /// Records events that go with no other change (a failed login, a refused request).
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Newest first, at most `query.limit`.
    async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>>;
    /// The event an actor's earlier write with this `Idempotency-Key` committed.
    async fn audit_event_by_idempotency_key(
        &self,
        actor_id: &str,
        key: &str,
    ) -> StoreResult<Option<AuditEvent>>;
    /// Removes events older than `before` (retention).
    async fn purge_audit_events(&self, before: UnixTime) -> StoreResult<u64>;
    /// Users matching `query`, at most `query.limit`.
    async fn search_users(&self, query: &UserQuery) -> StoreResult<Vec<UserSummary>>;
    /// Erases a user and everything that names them (sessions, grants, tokens, personnummer,
    /// BankID orders, queued email to their address), and replaces their id in the audit trail
    /// with `pseudonym`. `false` when there was no such user (deleting twice is fine).
    async fn delete_user(
        &self,
        user_id: &str,
        pseudonym: &str,
        events: &[AuditEvent],
    ) -> StoreResult<bool>;
    /// Replaces every editable field of a client, its secret hash included (not its id or
    /// creation time).
    async fn update_client(&self, client: &Client, events: &[AuditEvent]) -> StoreResult<()>;
    /// A user's live sessions, newest first.
    async fn sessions_of_user(&self, user_id: &str, now: UnixTime) -> StoreResult<Vec<Session>>;
    /// Ends every session of a user and revokes every grant (offline ones too), queuing the
    /// back-channel logout deliveries, in one transaction.
    async fn revoke_user_access(
        &self,
        user_id: &str,
        deliveries: &[BackchannelDelivery],
        now: UnixTime,
        events: &[AuditEvent],
    ) -> StoreResult<()>;

    // Administrators' roles (the admin console)

    /// Gives the user `role`, replacing the one they had, or takes their role away with `None`
    /// (idempotent). `NotFound` when there is no such user.
    async fn set_admin_role(
        &self,
        user_id: &str,
        role: Option<&str>,
        now: UnixTime,
        events: &[AuditEvent],
    ) -> StoreResult<()>;
    async fn admin_role_of(&self, user_id: &str) -> StoreResult<Option<AdminRoleGrant>>;
    /// Every user who has a role, by user id.
    async fn admin_roles(&self) -> StoreResult<Vec<AdminRoleGrant>>;

    // Bulk invitations (the admin console's CSV upload)

    /// Stores an uploaded file's batch with all its rows, in one transaction.
    async fn insert_invite_batch(
        &self,
        batch: &InviteBatch,
        rows: &[InviteBatchRow],
    ) -> StoreResult<()>;
    async fn invite_batch(&self, id: &str) -> StoreResult<Option<InviteBatch>>;
    /// The batch's rows in file order.
    async fn invite_batch_rows(&self, id: &str) -> StoreResult<Vec<InviteBatchRow>>;
    async fn invite_batch_counts(&self, id: &str) -> StoreResult<InviteBatchCounts>;
    /// How many of the batch's pending rows name an address that has an account already.
    async fn invite_batch_existing(&self, id: &str) -> StoreResult<i64>;
    /// The latest batches, newest first.
    async fn recent_invite_batches(&self, limit: i64) -> StoreResult<Vec<InviteBatch>>;
    /// Starts a batch that is still a preview: marks it running and stores the job that works
    /// through it with its audit events, in one transaction. `false` (nothing written) when it
    /// was started already.
    async fn start_invite_batch(
        &self,
        id: &str,
        started_by: &str,
        now: UnixTime,
        job: &Job,
        events: &[AuditEvent],
    ) -> StoreResult<bool>;
    /// Up to `limit` rows still to invite, in file order.
    async fn pending_invite_rows(&self, id: &str, limit: i64) -> StoreResult<Vec<InviteBatchRow>>;
    /// Records a pending row's outcome (and the account it names: the existing one for
    /// `existed`).
    async fn set_invite_row_outcome(
        &self,
        batch_id: &str,
        line: i64,
        outcome: &str,
        user_id: &str,
    ) -> StoreResult<()>;
    /// Marks a running batch done once no row is pending; whether it is done.
    async fn finish_invite_batch(&self, id: &str, now: UnixTime) -> StoreResult<bool>;
    /// Deletes batches (their rows, which name people, with them) uploaded before `before`.
    async fn purge_invite_batches(&self, before: UnixTime) -> StoreResult<u64>;
}

/// How long a caller waits for a connection when none is free, unless configured.
pub const DEFAULT_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the store for a `sqlite:` or `postgres:` URL. A request waits at most `acquire_timeout`
/// for a connection: with the database out of reach it gets a quick "unavailable" instead.
pub async fn open(
    database_url: &str,
    acquire_timeout: std::time::Duration,
) -> StoreResult<Arc<dyn Store>> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(
            PostgresStore::connect_with(database_url, acquire_timeout).await?,
        ))
    } else {
        Ok(Arc::new(
            SqliteStore::connect_with(database_url, acquire_timeout).await?,
        ))
    }
}

#[cfg(test)]
mod unavailable_tests {
    use sqlx::Connection;

    use super::*;

    async fn admin(sql: String) {
        let mut admin = sqlx::PgConnection::connect(&suite::postgres_base_url())
            .await
            .expect("the test PostgreSQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("admin SQL");
    }

    #[tokio::test]
    async fn a_database_not_accepting_connections_is_unavailable() {
        if !suite::postgres_selected() {
            return;
        }
        let base = suite::postgres_base_url();
        let name = format!("leasify_unavail_{}", uuid::Uuid::new_v4().simple());
        admin(format!("CREATE DATABASE {name}")).await;
        admin(format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
        ))
        .await;
        let url = format!("{}/{name}", base.rsplit_once('/').expect("a path").0);
        let error = sqlx::PgConnection::connect(&url)
            .await
            .expect_err("refused");
        admin(format!("DROP DATABASE {name}")).await;
        assert!(is_unavailable(&error), "{error:?}");
        // Through the layers that wrap it.
        let internal = crate::error::InternalError::from(StoreError::Database(error));
        assert!(unavailable_in_chain(&internal));
    }

    #[tokio::test]
    async fn a_locked_or_full_sqlite_file_is_unavailable_and_a_constraint_is_not() {
        let dir = std::env::temp_dir().join(format!("leasify-unavail-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let url = format!("sqlite://{}", dir.join("db").display());
        let store = SqliteStore::connect_with(&url, std::time::Duration::from_millis(100))
            .await
            .expect("store");
        store.migrate().await.expect("migrate");
        let mut locker = sqlx::SqliteConnection::connect(&url).await.expect("second");
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut locker)
            .await
            .expect("lock");
        let busy = store
            .heartbeat("i", 1)
            .await
            .expect_err("the file is locked");
        assert!(busy.is_unavailable(), "{busy:?}");
        drop(locker);
        let user = suite::user("u", "a@example.se", 1);
        store.insert_user(&user, &[]).await.expect("user");
        let duplicate = store.insert_user(&user, &[]).await.expect_err("duplicate");
        assert!(!duplicate.is_unavailable(), "{duplicate:?}");

        // A full database (the file may not grow): SQLITE_FULL.
        let mut full = sqlx::SqliteConnection::connect(&url).await.expect("third");
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut full)
            .await
            .expect("page count");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {pages}"
        )))
        .execute(&mut full)
        .await
        .expect("cap");
        let mut error = None;
        for n in 0..10_000 {
            let written = sqlx::query(
                "INSERT INTO instance_heartbeats (instance_id, checked_at) VALUES ($1, $2)",
            )
            .bind(format!("{n:0>200}"))
            .bind(n)
            .execute(&mut full)
            .await;
            if let Err(e) = written {
                error = Some(e);
                break;
            }
        }
        let error = StoreError::Database(error.expect("the database filled up"));
        assert!(error.is_unavailable(), "{error:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

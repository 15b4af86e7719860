//! The SQL of every store method and the row mappers, written once for both backends.
//!
//! SQLite and PostgreSQL understand the same SQL here (`$N` placeholders, `RETURNING`,
//! `ON CONFLICT`), so [`sql_store!`] expands the whole `Store` implementation inside each backend
//! module, over that backend's sqlx types. What truly differs stays in the backend: connecting,
//! `migrate_locked` (the migration lock), `begin_write` (how a read-then-write transaction takes
//! its lock) and `claim_rows` plus the `FOR UPDATE SKIP LOCKED` suffix (how work is claimed).
//!
//! Each row model lists its fields once, in `row_models!`, which reads and binds them; the SQL
//! names the same columns in the `*_columns!` macros below.

/// Throttle rows whose window started longer ago than this are purged (longer than any window).
pub(crate) const THROTTLE_RETENTION_SECS: i64 = 24 * 3600;
/// Link tokens are kept this long after they expire (to tell "expired" from "unknown").
pub(crate) const USER_TOKEN_RETENTION_SECS: i64 = 7 * 24 * 3600;
/// Sent and failed outbox rows are kept this long, for operators (a failed one with its sealed
/// content, for a retry from the console).
pub(crate) const OUTBOX_RETENTION_SECS: i64 = 30 * 24 * 3600;
/// Longest delivery error kept in `outbox.last_error`, in characters.
pub(crate) const OUTBOX_ERROR_MAX_CHARS: usize = 500;

macro_rules! user_columns {
    () => {
        "id, email, email_verified, name, locale, password_hash, disabled, created_at, updated_at"
    };
}
macro_rules! client_columns {
    () => {
        "id, name, secret_hash, token_endpoint_auth_method, redirect_uris, \
         post_logout_redirect_uris, allowed_scopes, first_party, created_at, \
         backchannel_logout_uri, backchannel_logout_session_required, jwks, jwks_uri, \
         grant_types, resources, require_pushed_authorization_requests, \
         dpop_bound_access_tokens, require_dpop_nonce"
    };
}
macro_rules! signing_key_columns {
    () => {
        "kid, alg, private_sealed, public_jwk, created_at, active_from, retired_at, unpublish_at"
    };
}
macro_rules! session_columns {
    () => {
        "id_hash, sid, user_id, auth_time, amr, acr, created_at, expires_at"
    };
}
macro_rules! grant_columns {
    () => {
        "id, user_id, client_id, scope, auth_time, amr, acr, sid, created_at, expires_at, \
         revoked_at, requested_claims"
    };
}
macro_rules! auth_code_columns {
    () => {
        "code_hash, grant_id, client_id, redirect_uri, nonce, code_challenge, \
         code_challenge_method, created_at, expires_at, used_at, dpop_jkt"
    };
}
macro_rules! refresh_token_columns {
    () => {
        "token_hash, grant_id, generation, created_at, expires_at, used_at, revoked_at, dpop_jkt"
    };
}
macro_rules! user_token_columns {
    () => {
        "token_hash, user_id, purpose, created_at, expires_at, used_at"
    };
}
macro_rules! outbox_columns {
    () => {
        "id, recipient, kind, sealed_message, status, attempts, next_attempt_at, locked_until, \
         last_error, created_at, sent_at"
    };
}
macro_rules! job_columns {
    () => {
        "id, kind, payload, status, attempts, next_attempt_at, locked_until, last_error, \
         created_at, finished_at"
    };
}
macro_rules! audit_columns {
    () => {
        "id, at, kind, actor_type, actor_id, user_id, client_id, ip, user_agent, result, \
         details, idempotency_key, request_hash"
    };
}
macro_rules! personnummer_columns {
    () => {
        "user_id, sealed, blind_index, bankid_linked_at, updated_at"
    };
}
macro_rules! bankid_order_columns {
    () => {
        "order_ref, purpose, browser_binding, user_id, pending_authorization, next_path, \
         auto_start_token, qr_start_token, qr_start_secret_sealed, started_at, status, hint_code, \
         completion_sealed, end_user_ip, last_collect_at, created_at, finished_at"
    };
}

macro_rules! backchannel_columns {
    () => {
        "id, client_id, uri, logout_token, status, attempts, next_attempt_at, locked_until, \
         last_error, created_at"
    };
}
macro_rules! pending_columns {
    () => {
        "id, request_json, created_at, expires_at"
    };
}
macro_rules! pushed_request_columns {
    () => {
        "request_uri_hash, client_id, params_json, created_at, expires_at"
    };
}
macro_rules! invite_batch_columns {
    () => {
        "id, file_name, uploaded_by, started_by, status, created_at, started_at, finished_at"
    };
}
macro_rules! invite_row_columns {
    () => {
        "batch_id, line, email, name, locale, user_id, outcome, problem, problem_line"
    };
}
macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, credential, rp_id, name, created_at, last_used_at, \
         sign_count, backup_eligible, backup_state"
    };
}
macro_rules! passkey_challenge_columns {
    () => {
        "id, purpose, user_id, state, created_at, expires_at"
    };
}
macro_rules! consent_columns {
    () => {
        "user_id, client_id, scope, granted_at"
    };
}

/// The metrics of one work queue table: pending items, the oldest one's `created_at`, and the
/// items given up on. Only `pending` and `failed` rows are read (the status index finds them).
macro_rules! queue_stats_sql {
    ($table:literal) => {
        concat!(
            "SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
             MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest_pending_at, \
             COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS given_up \
             FROM ",
            $table,
            " WHERE status IN ('pending', 'failed')"
        )
    };
}

/// Leases the due items of a work queue table (`$1` lease end, `$2` now, `$3` limit): the subquery
/// picks them, oldest due first, with the backend's row-locking `$skip_locked`; the update locks
/// them.
macro_rules! claim_sql {
    ($table:literal, $columns:expr, $skip_locked:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET locked_until = $1 WHERE id IN (SELECT id FROM ",
            $table,
            " WHERE status = 'pending' AND next_attempt_at <= $2 \
             AND (locked_until IS NULL OR locked_until <= $2) \
             ORDER BY next_attempt_at, id LIMIT $3",
            $skip_locked,
            ") RETURNING ",
            $columns
        )
    };
}

/// An `INSERT` of one row: `$values` are the placeholders of `$columns`, in their order.
macro_rules! insert_sql {
    ($table:literal, $columns:expr, $values:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (",
            $columns,
            ") VALUES (",
            $values,
            ")"
        )
    };
}

/// Implements `RowModel` for models stored as a column per field, named like the field. Each
/// model lists its fields in the order of its table's `*_columns!`, which is the order `bind_row`
/// binds them in; `json` marks a list kept as JSON text.
macro_rules! row_models {
    ($($Model:ident { $($field:ident $(: $json:ident)?),* $(,)? })*) => {
        $(
            impl RowModel for $Model {
                fn from_row(row: &Row) -> StoreResult<Self> {
                    Ok(Self {
                        $($field: row_models!(@read row, $field $(, $json)?),)*
                    })
                }

                fn bind_row(&self, query: Query) -> Query {
                    query $(.bind(row_models!(@bind self.$field $(, $json)?)))*
                }
            }
        )*
    };
    (@read $row:ident, $field:ident) => {
        $row.try_get(stringify!($field))?
    };
    (@read $row:ident, $field:ident, json) => {
        from_json($row, stringify!($field))?
    };
    (@bind $value:expr) => {
        &$value
    };
    (@bind $value:expr, json) => {
        to_json(&$value)
    };
}

/// Expands, inside a backend module, to the row helpers and `impl Store for $Store`. The backend
/// provides `pool`, `migrate_locked`, `begin_write` and `claim_rows` on `$Store`.
///
/// A transaction dropped without a commit rolls back, so an early return (`?` included) from a
/// method below undoes whatever it wrote before.
macro_rules! sql_store {
    ($Store:ident, $DB:ty, backend = $backend:literal, skip_locked = $skip_locked:literal) => {
        use async_trait::async_trait;
        use sqlx::Row as _;

        use $crate::store::{
            AdminRoleGrant, AuditEvent, AuditQuery, AuthCode, BackchannelDelivery, BankIdOrder, Client, Consent,
            Consumed, Grant, HourlyLogins, PasskeyChallenge, PasskeyRemoval, PasskeyUse, StoredPasskey, InviteBatch, InviteBatchCounts, InviteBatchRow, TokenContext, Job, OutboxEmail, PasswordChange, PendingAuthorization, PushedRequest,
            PersonnummerVerification, PoolStats, QueueStats, RefreshToken, Rotation, Session,
            SigningKey, StoreError, StoreResult, StoredPersonnummer, ThrottleState, UnixTime, User,
            UserQuery, UserSummary, UserToken, VerificationOutcome, WorkQueue,
        };

        type Row = <$DB as sqlx::Database>::Row;
        type Conn = <$DB as sqlx::Database>::Connection;
        type QueryResult = <$DB as sqlx::Database>::QueryResult;
        type Query = sqlx::query::Query<'static, $DB, <$DB as sqlx::Database>::Arguments>;

        /// A model read from (and inserted as) one row; see `row_models!`.
        trait RowModel: Sized {
            fn from_row(row: &Row) -> StoreResult<Self>;
            /// Binds every column, in the order of the table's `*_columns!`.
            fn bind_row(&self, query: Query) -> Query;
        }

        row_models! {
            User {
                id, email, email_verified, name, locale, password_hash, disabled, created_at,
                updated_at,
            }
            Client {
                id, name, secret_hash, token_endpoint_auth_method, redirect_uris: json,
                post_logout_redirect_uris: json, allowed_scopes: json, first_party, created_at,
                backchannel_logout_uri, backchannel_logout_session_required, jwks, jwks_uri,
                grant_types: json, resources: json, require_pushed_authorization_requests,
                dpop_bound_access_tokens, require_dpop_nonce,
            }
            SigningKey {
                kid, alg, private_sealed, public_jwk, created_at, active_from, retired_at,
                unpublish_at,
            }
            PendingAuthorization { id, request_json, created_at, expires_at }
            PushedRequest { request_uri_hash, client_id, params_json, created_at, expires_at }
            Session { id_hash, sid, user_id, auth_time, amr: json, acr, created_at, expires_at }
            Grant {
                id, user_id, client_id, scope, auth_time, amr: json, acr, sid, created_at,
                expires_at, revoked_at, requested_claims,
            }
            AuthCode {
                code_hash, grant_id, client_id, redirect_uri, nonce, code_challenge,
                code_challenge_method, created_at, expires_at, used_at, dpop_jkt,
            }
            RefreshToken {
                token_hash, grant_id, generation, created_at, expires_at, used_at, revoked_at,
                dpop_jkt,
            }
            UserToken { token_hash, user_id, purpose, created_at, expires_at, used_at }
            OutboxEmail {
                id, recipient, kind, sealed_message, status, attempts, next_attempt_at,
                locked_until, last_error, created_at, sent_at,
            }
            Job {
                id, kind, payload, status, attempts, next_attempt_at, locked_until, last_error,
                created_at, finished_at,
            }
            AuditEvent {
                id, at, kind, actor_type, actor_id, user_id, client_id, ip, user_agent, result,
                details, idempotency_key, request_hash,
            }
            StoredPersonnummer { user_id, sealed, blind_index, bankid_linked_at, updated_at }
            BankIdOrder {
                order_ref, purpose, browser_binding, user_id, pending_authorization, next_path,
                auto_start_token, qr_start_token, qr_start_secret_sealed, started_at, status,
                hint_code, completion_sealed, end_user_ip, last_collect_at, created_at,
                finished_at,
            }
            Consent { user_id, client_id, scope, granted_at }
            StoredPasskey {
                id, user_id, credential_id, credential, rp_id, name, created_at, last_used_at,
                sign_count, backup_eligible, backup_state,
            }
            PasskeyChallenge { id, purpose, user_id, state, created_at, expires_at }
            AdminRoleGrant { user_id, role, granted_at }
            InviteBatch {
                id, file_name, uploaded_by, started_by, status, created_at, started_at,
                finished_at,
            }
            InviteBatchRow {
                batch_id, line, email, name, locale, user_id, outcome, problem, problem_line,
            }
            BackchannelDelivery {
                id, client_id, uri, logout_token, status, attempts, next_attempt_at, locked_until,
                last_error, created_at,
            }
        }

        const INSERT_USER: &str = insert_sql!(
            "users",
            user_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9"
        );
        const INSERT_CLIENT: &str = insert_sql!(
            "clients",
            client_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18"
        );
        const INSERT_SIGNING_KEY: &str = insert_sql!(
            "signing_keys",
            signing_key_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8"
        );
        const INSERT_PENDING_AUTHORIZATION: &str = insert_sql!(
            "pending_authorizations",
            pending_columns!(),
            "$1, $2, $3, $4"
        );
        const INSERT_PUSHED_REQUEST: &str = insert_sql!(
            "pushed_requests",
            pushed_request_columns!(),
            "$1, $2, $3, $4, $5"
        );
        const INSERT_PASSKEY: &str = insert_sql!(
            "passkeys",
            passkey_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11"
        );
        const INSERT_PASSKEY_CHALLENGE: &str = insert_sql!(
            "passkey_challenges",
            passkey_challenge_columns!(),
            "$1, $2, $3, $4, $5, $6"
        );
        const INSERT_SESSION: &str = insert_sql!(
            "sessions",
            session_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8"
        );
        const INSERT_GRANT: &str = insert_sql!(
            "grants",
            grant_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12"
        );
        const INSERT_AUTH_CODE: &str = insert_sql!(
            "auth_codes",
            auth_code_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11"
        );
        const INSERT_REFRESH_TOKEN: &str = insert_sql!(
            "refresh_tokens",
            refresh_token_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8"
        );
        const INSERT_USER_TOKEN: &str = insert_sql!(
            "user_tokens",
            user_token_columns!(),
            "$1, $2, $3, $4, $5, $6"
        );
        const INSERT_OUTBOX: &str = insert_sql!(
            "outbox",
            outbox_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11"
        );
        const INSERT_JOB: &str = insert_sql!(
            "jobs",
            job_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10"
        );
        const INSERT_AUDIT_EVENT: &str = insert_sql!(
            "audit_events",
            audit_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13"
        );
        const INSERT_BANKID_ORDER: &str = insert_sql!(
            "bankid_orders",
            bankid_order_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17"
        );
        const INSERT_INVITE_BATCH: &str = insert_sql!(
            "invite_batches",
            invite_batch_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8"
        );
        const INSERT_INVITE_ROW: &str = insert_sql!(
            "invite_batch_rows",
            invite_row_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9"
        );
        const INSERT_BACKCHANNEL: &str = insert_sql!(
            "backchannel_deliveries",
            backchannel_columns!(),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10"
        );

        /// A work queue table: how its due items are leased, and the order they are handed out
        /// in (RETURNING does not keep the order the subquery picked them in).
        struct WorkTable<T> {
            claim: &'static str,
            due: fn(&T) -> (UnixTime, &str),
        }
        const OUTBOX: WorkTable<OutboxEmail> = WorkTable {
            claim: claim_sql!("outbox", outbox_columns!(), $skip_locked),
            due: |email| (email.next_attempt_at, &email.id),
        };
        const JOBS: WorkTable<Job> = WorkTable {
            claim: claim_sql!("jobs", job_columns!(), $skip_locked),
            due: |job| (job.next_attempt_at, &job.id),
        };
        const BACKCHANNEL: WorkTable<BackchannelDelivery> = WorkTable {
            claim: claim_sql!(
                "backchannel_deliveries",
                backchannel_columns!(),
                $skip_locked
            ),
            due: |delivery| (delivery.next_attempt_at, &delivery.id),
        };

        /// How `consume_once` uses up a row: `consume` marks it used (`$1` the key, `$2` the time)
        /// and returns it if it was unused; `select` reads it by key.
        struct SingleUse {
            consume: &'static str,
            select: &'static str,
        }
        const AUTH_CODE: SingleUse = SingleUse {
            consume: concat!(
                "UPDATE auth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL \
                 RETURNING ",
                auth_code_columns!()
            ),
            select: concat!(
                "SELECT ",
                auth_code_columns!(),
                " FROM auth_codes WHERE code_hash = $1"
            ),
        };
        const REFRESH_TOKEN: SingleUse = SingleUse {
            consume: concat!(
                "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
                 AND revoked_at IS NULL RETURNING ",
                refresh_token_columns!()
            ),
            select: concat!(
                "SELECT ",
                refresh_token_columns!(),
                " FROM refresh_tokens WHERE token_hash = $1"
            ),
        };
        const USER_TOKEN: SingleUse = SingleUse {
            consume: concat!(
                "UPDATE user_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
                 RETURNING ",
                user_token_columns!()
            ),
            select: concat!(
                "SELECT ",
                user_token_columns!(),
                " FROM user_tokens WHERE token_hash = $1"
            ),
        };

        /// Maps unique-constraint violations to [`StoreError::Conflict`].
        fn db_err(error: sqlx::Error) -> StoreError {
            if let sqlx::Error::Database(db) = &error
                && db.is_unique_violation()
            {
                return StoreError::Conflict(db.message().to_string());
            }
            StoreError::Database(error)
        }

        /// `NotFound` for a foreign key violation: the row it refers to is gone.
        fn missing_if_foreign_key(error: StoreError) -> StoreError {
            match error {
                StoreError::Database(sqlx::Error::Database(db))
                    if db.is_foreign_key_violation() =>
                {
                    StoreError::NotFound
                }
                other => other,
            }
        }

        fn missing_or_db_err(error: sqlx::Error) -> StoreError {
            missing_if_foreign_key(db_err(error))
        }

        fn not_found_if_none_affected(result: QueryResult) -> StoreResult<()> {
            if result.rows_affected() == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        }

        fn to_json(list: &[String]) -> String {
            serde_json::to_string(list).unwrap_or_else(|_| "[]".to_string())
        }

        fn from_json(row: &Row, column: &str) -> StoreResult<Vec<String>> {
            let text: String = row.try_get(column)?;
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
        }

        /// Keeps at most the maximum characters of a delivery error.
        fn truncate_error(error: &str) -> String {
            error
                .chars()
                .take($crate::store::sql::OUTBOX_ERROR_MAX_CHARS)
                .collect()
        }

        /// The row `query` finds, if any.
        async fn fetch_optional<'c, T: RowModel>(
            executor: impl sqlx::Executor<'c, Database = $DB>,
            query: Query,
        ) -> StoreResult<Option<T>> {
            query
                .fetch_optional(executor)
                .await?
                .as_ref()
                .map(T::from_row)
                .transpose()
        }

        /// Every row `query` finds.
        async fn fetch_all<'c, T: RowModel>(
            executor: impl sqlx::Executor<'c, Database = $DB>,
            query: Query,
        ) -> StoreResult<Vec<T>> {
            query
                .fetch_all(executor)
                .await?
                .iter()
                .map(T::from_row)
                .collect()
        }

        /// Runs `sql`, an `INSERT` (or upsert) of all of `value`'s columns.
        async fn insert_row<'c>(
            executor: impl sqlx::Executor<'c, Database = $DB>,
            sql: &'static str,
            value: &impl RowModel,
        ) -> StoreResult<()> {
            let query = value.bind_row(sqlx::query(sql));
            query.execute(executor).await.map_err(db_err)?;
            Ok(())
        }

        /// Marks a single-use row used, on `conn` (a transaction's or a plain connection). The
        /// conditional update is the whole race: of concurrent callers exactly one gets `Fresh`.
        async fn consume_once<T: RowModel>(
            conn: &mut Conn,
            statements: &SingleUse,
            key: &str,
            now: UnixTime,
        ) -> StoreResult<Consumed<T>> {
            let consume = sqlx::query(statements.consume).bind(key).bind(now);
            if let Some(row) = fetch_optional(&mut *conn, consume).await? {
                return Ok(Consumed::Fresh(row));
            }
            let used = fetch_optional(&mut *conn, sqlx::query(statements.select).bind(key)).await?;
            Ok(used.map_or(Consumed::Missing, Consumed::AlreadyUsed))
        }

        /// Appends audit events on a transaction's connection: they commit with the change they
        /// record, or not at all.
        async fn insert_audit_in(conn: &mut Conn, events: &[AuditEvent]) -> StoreResult<()> {
            for event in events {
                insert_row(&mut *conn, INSERT_AUDIT_EVENT, event).await?;
            }
            Ok(())
        }

        /// Writes `events` into `tx`, commits, and only then logs them (a JSON line each).
        async fn commit_audited(
            mut tx: sqlx::Transaction<'static, $DB>,
            events: &[AuditEvent],
        ) -> StoreResult<()> {
            insert_audit_in(&mut tx, events).await?;
            tx.commit().await?;
            $crate::store::audit_log::committed(events);
            Ok(())
        }

        /// Moves a `complete` BankID order to `consumed`; `true` for the one caller that did.
        async fn consume_bankid_order_in(conn: &mut Conn, order_ref: &str) -> StoreResult<bool> {
            let result = sqlx::query(
                "UPDATE bankid_orders SET status = 'consumed' \
                 WHERE order_ref = $1 AND status = 'complete'",
            )
            .bind(order_ref)
            .execute(conn)
            .await?;
            Ok(result.rows_affected() == 1)
        }

        /// Everything a new password does, on a transaction's connection: the hash, the other
        /// sessions ended, every grant revoked (refresh and access tokens die), unused links used
        /// up, and the notice queued. `NotFound` if the user does not exist.
        async fn apply_password_change_in(
            conn: &mut Conn,
            change: &PasswordChange,
        ) -> StoreResult<()> {
            let result = sqlx::query(
                "UPDATE users SET password_hash = $2, updated_at = $3, \
                 email_verified = (email_verified OR $4) WHERE id = $1",
            )
            .bind(&change.user_id)
            .bind(&change.password_hash)
            .bind(change.now)
            .bind(change.verify_email)
            .execute(&mut *conn)
            .await?;
            not_found_if_none_affected(result)?;
            sqlx::query(
                "DELETE FROM session_clients WHERE sid IN (SELECT sid FROM sessions \
                 WHERE user_id = $1 AND ($2 IS NULL OR id_hash <> $2))",
            )
            .bind(&change.user_id)
            .bind(&change.keep_session_hash)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR id_hash <> $2)",
            )
            .bind(&change.user_id)
            .bind(&change.keep_session_hash)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(&change.user_id)
            .bind(change.now)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE user_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(&change.user_id)
            .bind(change.now)
            .execute(&mut *conn)
            .await?;
            if let Some(notice) = &change.notice {
                insert_row(&mut *conn, INSERT_OUTBOX, notice).await?;
            }
            Ok(())
        }

        /// Inserts or replaces the user's consent for the client.
        const SAVE_CONSENT: &str = concat!(
            "INSERT INTO consents (",
            consent_columns!(),
            ") VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) \
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at"
        );

        /// Marks a job done and erases its payload (it may name a person).
        async fn job_done_in(conn: &mut Conn, id: &str, now: UnixTime) -> StoreResult<()> {
            sqlx::query(
                "UPDATE jobs SET status = 'done', finished_at = $2, locked_until = NULL, \
                 payload = $3 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(now)
            .bind(Vec::<u8>::new())
            .execute(conn)
            .await?;
            Ok(())
        }

        /// Sets the user's name to `name` if it is empty or only whitespace (Rust's notion of
        /// whitespace, so both backends agree); `updated_at` moves to `now` when given. Run inside
        /// a transaction.
        async fn fill_empty_name_tx(
            conn: &mut Conn,
            user_id: &str,
            name: &str,
            now: Option<UnixTime>,
        ) -> StoreResult<()> {
            let current =
                sqlx::query_scalar::<$DB, String>("SELECT name FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(current) = current
                && current.trim().is_empty()
            {
                // `name = $4`: a profile change that committed in the meantime wins.
                sqlx::query(
                    "UPDATE users SET name = $2, updated_at = COALESCE($3, updated_at) \
                     WHERE id = $1 AND name = $4",
                )
                .bind(user_id)
                .bind(name)
                .bind(now)
                .bind(&current)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        impl $Store {
            /// Inserts `value` with `sql` and commits it with its audit `events`.
            async fn insert_audited(
                &self,
                sql: &'static str,
                value: &impl RowModel,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                insert_row(&mut *tx, sql, value).await?;
                commit_audited(tx, events).await
            }

            /// Runs an update that must change a row and commits it with its audit `events`;
            /// `NotFound`, with nothing recorded, when it changed none.
            async fn update_audited(&self, query: Query, events: &[AuditEvent]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let result = query.execute(&mut *tx).await?;
                not_found_if_none_affected(result)?;
                commit_audited(tx, events).await
            }

            /// Leases up to `limit` due items of a work queue, in the order they are due.
            async fn claim<T: RowModel>(
                &self,
                table: &WorkTable<T>,
                now: UnixTime,
                lease_secs: i64,
                limit: i64,
            ) -> StoreResult<Vec<T>> {
                let rows = self.claim_rows(table.claim, now, lease_secs, limit).await?;
                let mut claimed = rows
                    .iter()
                    .map(T::from_row)
                    .collect::<StoreResult<Vec<_>>>()?;
                claimed.sort_by(|a, b| (table.due)(a).cmp(&(table.due)(b)));
                Ok(claimed)
            }
        }

        #[async_trait]
        impl $crate::store::Store for $Store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn migrate(&self) -> StoreResult<usize> {
                self.migrate_locked().await
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn heartbeat(&self, instance_id: &str, now: UnixTime) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO instance_heartbeats (instance_id, checked_at) VALUES ($1, $2) \
                     ON CONFLICT (instance_id) DO UPDATE SET checked_at = excluded.checked_at",
                )
                .bind(instance_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            fn pool_stats(&self) -> PoolStats {
                PoolStats {
                    size: self.pool.size(),
                    idle: self.pool.num_idle(),
                    max: self.pool.options().get_max_connections(),
                }
            }

            async fn queue_stats(&self, queue: WorkQueue) -> StoreResult<QueueStats> {
                let sql = match queue {
                    WorkQueue::Outbox => queue_stats_sql!("outbox"),
                    WorkQueue::Backchannel => queue_stats_sql!("backchannel_deliveries"),
                    WorkQueue::Jobs => queue_stats_sql!("jobs"),
                };
                let row = sqlx::query(sql).fetch_one(&self.pool).await?;
                Ok(QueueStats {
                    pending: row.try_get("pending")?,
                    oldest_pending_at: row.try_get("oldest_pending_at")?,
                    given_up: row.try_get("given_up")?,
                })
            }

            // The console's overview

            async fn hourly_logins(
                &self,
                since: UnixTime,
                until: UnixTime,
            ) -> StoreResult<Vec<HourlyLogins>> {
                // `details` is compact JSON written by `audit::Event`, so the method appears
                // exactly as `"method":"…"`; the (kind, at) index finds the rows.
                let rows = sqlx::query(
                    "SELECT (at / 3600) * 3600 AS hour_start, \
                     SUM(CASE WHEN kind = 'login.succeeded' \
                         AND details LIKE '%\"method\":\"password\"%' THEN 1 ELSE 0 END) \
                         AS password, \
                     SUM(CASE WHEN kind = 'login.succeeded' \
                         AND details LIKE '%\"method\":\"bankid\"%' THEN 1 ELSE 0 END) \
                         AS bankid, \
                     SUM(CASE WHEN kind = 'login.failed' THEN 1 ELSE 0 END) AS failed \
                     FROM audit_events \
                     WHERE kind IN ('login.succeeded', 'login.failed') AND at >= $1 AND at < $2 \
                     GROUP BY hour_start ORDER BY hour_start",
                )
                .bind(since)
                .bind(until)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(HourlyLogins {
                            hour: row.try_get("hour_start")?,
                            password: row.try_get("password")?,
                            bankid: row.try_get("bankid")?,
                            failed: row.try_get("failed")?,
                        })
                    })
                    .collect()
            }

            async fn failed_outbox(&self, limit: i64) -> StoreResult<Vec<OutboxEmail>> {
                let sql = concat!(
                    "SELECT ",
                    outbox_columns!(),
                    " FROM outbox WHERE status = 'failed' \
                     ORDER BY created_at DESC, id DESC LIMIT $1"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(limit)).await
            }

            async fn failed_backchannel(
                &self,
                limit: i64,
            ) -> StoreResult<Vec<BackchannelDelivery>> {
                let sql = concat!(
                    "SELECT ",
                    backchannel_columns!(),
                    " FROM backchannel_deliveries WHERE status = 'failed' \
                     ORDER BY created_at DESC, id DESC LIMIT $1"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(limit)).await
            }

            async fn backchannel_delivery(
                &self,
                id: &str,
            ) -> StoreResult<Option<BackchannelDelivery>> {
                let sql = concat!(
                    "SELECT ",
                    backchannel_columns!(),
                    " FROM backchannel_deliveries WHERE id = $1"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(id)).await
            }

            async fn retry_outbox(
                &self,
                id: &str,
                now: UnixTime,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // Without its content (erased by an older version on giving up) there is
                // nothing to send.
                let query = sqlx::query(
                    "UPDATE outbox SET status = 'pending', attempts = 0, last_error = NULL, \
                     next_attempt_at = $2, locked_until = NULL \
                     WHERE id = $1 AND status = 'failed' AND length(sealed_message) > 0",
                )
                .bind(id)
                .bind(now);
                self.update_audited(query, events).await
            }

            async fn retry_backchannel(
                &self,
                id: &str,
                logout_token: &str,
                now: UnixTime,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let query = sqlx::query(
                    "UPDATE backchannel_deliveries SET status = 'pending', attempts = 0, \
                     last_error = NULL, next_attempt_at = $2, locked_until = NULL, \
                     logout_token = $3 WHERE id = $1 AND status = 'failed'",
                )
                .bind(id)
                .bind(now)
                .bind(logout_token);
                self.update_audited(query, events).await
            }

            // Users

            async fn insert_user(&self, user: &User, events: &[AuditEvent]) -> StoreResult<()> {
                self.insert_audited(INSERT_USER, user, events).await
            }

            async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
                let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
                fetch_optional(&self.pool, sqlx::query(sql).bind(id)).await
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
                let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
                fetch_optional(&self.pool, sqlx::query(sql).bind(email)).await
            }

            async fn list_users(&self) -> StoreResult<Vec<User>> {
                let sql = concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users ORDER BY created_at, id"
                );
                fetch_all(&self.pool, sqlx::query(sql)).await
            }

            async fn set_user_disabled(
                &self,
                id: &str,
                disabled: bool,
                now: UnixTime,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let query =
                    sqlx::query("UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1")
                        .bind(id)
                        .bind(disabled)
                        .bind(now);
                self.update_audited(query, events).await
            }

            async fn set_user_password(
                &self,
                id: &str,
                password_hash: &str,
                now: UnixTime,
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let result = sqlx::query(
                    "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(password_hash)
                .bind(now)
                .execute(&self.pool)
                .await?;
                not_found_if_none_affected(result)
            }

            // Clients

            async fn insert_client(
                &self,
                client: &Client,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                self.insert_audited(INSERT_CLIENT, client, events).await
            }

            async fn client_by_id(&self, id: &str) -> StoreResult<Option<Client>> {
                let sql = concat!("SELECT ", client_columns!(), " FROM clients WHERE id = $1");
                fetch_optional(&self.pool, sqlx::query(sql).bind(id)).await
            }

            async fn list_clients(&self) -> StoreResult<Vec<Client>> {
                let sql = concat!(
                    "SELECT ",
                    client_columns!(),
                    " FROM clients ORDER BY created_at, id"
                );
                fetch_all(&self.pool, sqlx::query(sql)).await
            }

            async fn delete_client(&self, id: &str, events: &[AuditEvent]) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                // Grants (and through them codes and refresh tokens) and session links cascade.
                let query = sqlx::query("DELETE FROM clients WHERE id = $1").bind(id);
                self.update_audited(query, events).await
            }

            async fn set_client_secret_hash(
                &self,
                id: &str,
                secret_hash: &str,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let query = sqlx::query("UPDATE clients SET secret_hash = $2 WHERE id = $1")
                    .bind(id)
                    .bind(secret_hash);
                self.update_audited(query, events).await
            }

            // Signing keys

            async fn insert_signing_key(
                &self,
                key: &SigningKey,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                self.insert_audited(INSERT_SIGNING_KEY, key, events).await
            }

            async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
                let sql = concat!(
                    "SELECT ",
                    signing_key_columns!(),
                    " FROM signing_keys ORDER BY created_at, kid"
                );
                fetch_all(&self.pool, sqlx::query(sql)).await
            }

            async fn retire_signing_key(
                &self,
                kid: &str,
                retired_at: UnixTime,
                unpublish_at: UnixTime,
            ) -> StoreResult<()> {
                let result = sqlx::query(
                    "UPDATE signing_keys SET retired_at = $2, unpublish_at = $3 WHERE kid = $1",
                )
                .bind(kid)
                .bind(retired_at)
                .bind(unpublish_at)
                .execute(&self.pool)
                .await?;
                not_found_if_none_affected(result)
            }

            async fn delete_unpublished_keys(&self, now: UnixTime) -> StoreResult<u64> {
                let result = sqlx::query(
                    "DELETE FROM signing_keys WHERE unpublish_at IS NOT NULL AND unpublish_at <= $1",
                )
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected())
            }

            // Pending authorization requests

            async fn insert_pending_authorization(
                &self,
                pending: &PendingAuthorization,
            ) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_PENDING_AUTHORIZATION, pending).await
            }

            async fn pending_authorization(
                &self,
                id: &str,
                now: UnixTime,
            ) -> StoreResult<Option<PendingAuthorization>> {
                let sql = concat!(
                    "SELECT ",
                    pending_columns!(),
                    " FROM pending_authorizations WHERE id = $1 AND expires_at > $2"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(id).bind(now)).await
            }

            async fn delete_pending_authorization(&self, id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM pending_authorizations WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            // Pushed authorization requests

            async fn insert_pushed_request(&self, pushed: &PushedRequest) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_PUSHED_REQUEST, pushed).await
            }

            async fn take_pushed_request(
                &self,
                request_uri_hash: &str,
                client_id: &str,
                now: UnixTime,
            ) -> StoreResult<Option<PushedRequest>> {
                // One statement: of concurrent takers, the one whose DELETE finds the row wins.
                let sql = concat!(
                    "DELETE FROM pushed_requests WHERE request_uri_hash = $1 AND client_id = $2 \
                     AND expires_at > $3 RETURNING ",
                    pushed_request_columns!()
                );
                let query = sqlx::query(sql)
                    .bind(request_uri_hash)
                    .bind(client_id)
                    .bind(now);
                fetch_optional(&self.pool, query).await
            }

            // Passkeys

            async fn insert_passkey(
                &self,
                passkey: &StoredPasskey,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                insert_row(&mut *tx, INSERT_PASSKEY, passkey)
                    .await
                    .map_err(missing_if_foreign_key)?;
                commit_audited(tx, events).await
            }

            async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<StoredPasskey>> {
                let sql = concat!(
                    "SELECT ",
                    passkey_columns!(),
                    " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(user_id)).await
            }

            async fn passkey_by_credential_id(
                &self,
                credential_id: &str,
            ) -> StoreResult<Option<StoredPasskey>> {
                let sql = concat!(
                    "SELECT ",
                    passkey_columns!(),
                    " FROM passkeys WHERE credential_id = $1"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(credential_id)).await
            }

            async fn rename_passkey(
                &self,
                user_id: &str,
                id: &str,
                name: &str,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let query = sqlx::query(
                    "UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2",
                )
                .bind(id)
                .bind(user_id)
                .bind(name);
                self.update_audited(query, events).await
            }

            async fn remove_passkey(
                &self,
                user_id: &str,
                id: &str,
                events: &[AuditEvent],
            ) -> StoreResult<PasskeyRemoval> {
                let mut tx = self.begin_write().await?;
                // A no-op write to the user's row: PostgreSQL locks it until commit, so two
                // removals for one user run one after the other and neither removes the other's
                // "other way in" unseen (SQLite's IMMEDIATE transaction already serializes).
                sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                // The other ways in, read in the transaction that deletes: a password, a
                // BankID link, another passkey.
                let others: i64 = sqlx::query_scalar(
                    "SELECT (SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash IS NOT NULL) \
                     + (SELECT COUNT(*) FROM personnummer WHERE user_id = $1 \
                        AND bankid_linked_at IS NOT NULL) \
                     + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1 AND id <> $2)",
                )
                .bind(user_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                let exists: Option<String> =
                    sqlx::query_scalar("SELECT id FROM passkeys WHERE id = $1 AND user_id = $2")
                        .bind(id)
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    return Ok(PasskeyRemoval::NotFound);
                }
                if others == 0 {
                    return Ok(PasskeyRemoval::LastWayToLogIn);
                }
                sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                commit_audited(tx, events).await?;
                Ok(PasskeyRemoval::Removed)
            }

            async fn record_passkey_use(&self, used: &PasskeyUse) -> StoreResult<bool> {
                let result = sqlx::query(
                    "UPDATE passkeys SET sign_count = $2, backup_state = $3, credential = $4, \
                     last_used_at = $5 WHERE id = $1 \
                     AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
                )
                .bind(&used.id)
                .bind(used.sign_count)
                .bind(used.backup_state)
                .bind(&used.credential)
                .bind(used.used_at)
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn insert_passkey_challenge(
                &self,
                challenge: &PasskeyChallenge,
            ) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_PASSKEY_CHALLENGE, challenge)
                    .await
                    .map_err(missing_if_foreign_key)
            }

            async fn take_passkey_challenge(
                &self,
                id: &str,
                purpose: &str,
                now: UnixTime,
            ) -> StoreResult<Option<PasskeyChallenge>> {
                // One statement: of concurrent takers, the one whose DELETE finds the row wins.
                let sql = concat!(
                    "DELETE FROM passkey_challenges WHERE id = $1 AND purpose = $2 \
                     AND expires_at > $3 RETURNING ",
                    passkey_challenge_columns!()
                );
                let query = sqlx::query(sql).bind(id).bind(purpose).bind(now);
                fetch_optional(&self.pool, query).await
            }

            // Sessions

            async fn insert_session(
                &self,
                session: &Session,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                self.insert_audited(INSERT_SESSION, session, events).await
            }

            async fn session_by_hash(
                &self,
                id_hash: &str,
                now: UnixTime,
            ) -> StoreResult<Option<Session>> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE id_hash = $1 AND expires_at > $2"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(id_hash).bind(now)).await
            }

            async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
                // session_clients rows cascade.
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn add_session_client(&self, sid: &str, client_id: &str) -> StoreResult<()> {
                // `NotFound` when the session (or the client) is gone.
                sqlx::query(
                    "INSERT INTO session_clients (sid, client_id) VALUES ($1, $2) \
                     ON CONFLICT (sid, client_id) DO NOTHING",
                )
                .bind(sid)
                .bind(client_id)
                .execute(&self.pool)
                .await
                .map_err(missing_or_db_err)?;
                Ok(())
            }

            async fn session_clients(&self, sid: &str) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar::<$DB, String>(
                    "SELECT client_id FROM session_clients WHERE sid = $1 ORDER BY client_id",
                )
                .bind(sid)
                .fetch_all(&self.pool)
                .await?)
            }

            // Grants, codes and refresh tokens

            async fn insert_grant(&self, grant: &Grant) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_GRANT, grant).await
            }

            async fn grant_by_id(&self, id: &str) -> StoreResult<Option<Grant>> {
                let sql = concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");
                fetch_optional(&self.pool, sqlx::query(sql).bind(id)).await
            }

            async fn token_context(
                &self,
                grant_id: &str,
                jti: &str,
            ) -> StoreResult<Option<TokenContext>> {
                if let Some(known) = self.token_contexts.get(grant_id, jti) {
                    return Ok(Some(known));
                }
                let generation = self.token_contexts.generation();
                // The grant's columns under their own names (for `Grant::from_row`), the user's
                // with a `u_` prefix.
                const SQL: &str = "SELECT g.id, g.user_id, g.client_id, g.scope, g.auth_time, \
                     g.amr, g.acr, g.sid, g.created_at, g.expires_at, g.revoked_at, \
                     g.requested_claims, u.email AS u_email, u.email_verified AS u_email_verified, \
                     u.name AS u_name, u.locale AS u_locale, u.password_hash AS u_password_hash, \
                     u.disabled AS u_disabled, u.created_at AS u_created_at, \
                     u.updated_at AS u_updated_at, \
                     EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $2) AS jti_revoked \
                     FROM grants g JOIN users u ON u.id = g.user_id WHERE g.id = $1";
                let Some(row) = sqlx::query(SQL)
                    .bind(grant_id)
                    .bind(jti)
                    .fetch_optional(&self.pool)
                    .await?
                else {
                    return Ok(None);
                };
                let grant = Grant::from_row(&row)?;
                let user = User {
                    id: grant.user_id.clone(),
                    email: row.try_get("u_email")?,
                    email_verified: row.try_get("u_email_verified")?,
                    name: row.try_get("u_name")?,
                    locale: row.try_get("u_locale")?,
                    password_hash: row.try_get("u_password_hash")?,
                    disabled: row.try_get("u_disabled")?,
                    created_at: row.try_get("u_created_at")?,
                    updated_at: row.try_get("u_updated_at")?,
                };
                let context = TokenContext {
                    grant,
                    user,
                    jti_revoked: row.try_get("jti_revoked")?,
                };
                self.token_contexts
                    .remember(grant_id, jti, &context, generation);
                Ok(Some(context))
            }

            async fn follow_token_context_changes(&self) {
                self.follow_changes().await
            }

            async fn record_authorization(
                &self,
                grant: &Grant,
                code: &AuthCode,
                sid: &str,
                pending_id: Option<&str>,
                consent: Option<&Consent>,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                insert_row(&mut *tx, INSERT_GRANT, grant).await?;
                insert_row(&mut *tx, INSERT_AUTH_CODE, code).await?;
                sqlx::query(
                    "INSERT INTO session_clients (sid, client_id) VALUES ($1, $2) \
                     ON CONFLICT (sid, client_id) DO NOTHING",
                )
                .bind(sid)
                .bind(&grant.client_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if let Some(id) = pending_id {
                    sqlx::query("DELETE FROM pending_authorizations WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(consent) = consent {
                    insert_row(&mut *tx, SAVE_CONSENT, consent).await?;
                }
                commit_audited(tx, events).await
            }

            async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                // Keeps the first revocation time; unknown ids are not an error (idempotent).
                sqlx::query(
                    "UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn insert_auth_code(&self, code: &AuthCode) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_AUTH_CODE, code).await
            }

            async fn consume_auth_code(
                &self,
                code_hash: &str,
                now: UnixTime,
            ) -> StoreResult<Consumed<AuthCode>> {
                let mut conn = self.pool.acquire().await?;
                consume_once(&mut conn, &AUTH_CODE, code_hash, now).await
            }

            async fn auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCode>> {
                fetch_optional(&self.pool, sqlx::query(AUTH_CODE.select).bind(code_hash)).await
            }

            async fn redeem_auth_code(
                &self,
                code_hash: &str,
                now: UnixTime,
                first_refresh: &RefreshToken,
            ) -> StoreResult<Consumed<AuthCode>> {
                let mut tx = self.begin_write().await?;
                let consumed: Consumed<AuthCode> =
                    consume_once(&mut tx, &AUTH_CODE, code_hash, now).await?;
                if let Consumed::Fresh(code) = &consumed {
                    if code.grant_id != first_refresh.grant_id {
                        return Err(StoreError::Corrupt(
                            "the refresh token belongs to another grant than the code".into(),
                        ));
                    }
                    insert_row(&mut *tx, INSERT_REFRESH_TOKEN, first_refresh).await?;
                    tx.commit().await?;
                }
                Ok(consumed)
            }

            async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_REFRESH_TOKEN, token).await
            }

            async fn rotate_refresh_token(
                &self,
                presented_hash: &str,
                successor: &RefreshToken,
                now: UnixTime,
                grace_since: UnixTime,
                on_reuse: &[AuditEvent],
            ) -> StoreResult<Rotation> {
                // Nothing is used up unless the successor is stored too (an early return rolls
                // back).
                let mut tx = self.begin_write().await?;
                let consumed: Consumed<RefreshToken> =
                    consume_once(&mut tx, &REFRESH_TOKEN, presented_hash, now).await?;
                let presented = match consumed {
                    Consumed::Fresh(token) => token,
                    Consumed::Missing => return Ok(Rotation::Missing),
                    Consumed::AlreadyUsed(token) if token.revoked_at.is_some() => {
                        return Ok(Rotation::Refused);
                    }
                    Consumed::AlreadyUsed(token) => {
                        if token.used_at.unwrap_or(UnixTime::MIN) < grace_since {
                            // Used before, outside the grace window: stolen or replayed. The
                            // grant ends, so its tokens' contexts are emptied after the write,
                            // however this returns. (A plain rotation ends no access token and
                            // leaves them: refreshes must not empty the cache introspection
                            // relies on.)
                            let _forget = self.token_contexts.forget_on_drop();
                            sqlx::query(
                                "UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) \
                                 WHERE id = $1",
                            )
                            .bind(&token.grant_id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                            let owner =
                                sqlx::query("SELECT user_id, client_id FROM grants WHERE id = $1")
                                    .bind(&token.grant_id)
                                    .fetch_optional(&mut *tx)
                                    .await?;
                            let mut events = on_reuse.to_vec();
                            if let Some(owner) = owner {
                                for event in &mut events {
                                    event.user_id = Some(owner.try_get("user_id")?);
                                    event.client_id = Some(owner.try_get("client_id")?);
                                }
                            }
                            commit_audited(tx, &events).await?;
                            return Ok(Rotation::Reused { presented: token });
                        }
                        // Within the grace window (concurrent refreshes): another successor,
                        // unless the chain has moved on past this token already.
                        let moved_on = sqlx::query(
                            "SELECT 1 FROM refresh_tokens WHERE grant_id = $1 \
                             AND generation > $2 AND used_at IS NOT NULL",
                        )
                        .bind(&token.grant_id)
                        .bind(token.generation)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                        if moved_on {
                            return Ok(Rotation::Refused);
                        }
                        token
                    }
                };
                if successor.grant_id != presented.grant_id
                    || successor.generation != presented.generation + 1
                {
                    return Err(StoreError::Corrupt(
                        "a successor must be the next generation of the same grant".into(),
                    ));
                }
                // The caller's check of the grant may come from memory; this one is exact.
                let live = sqlx::query(
                    "SELECT 1 FROM grants g JOIN users u ON u.id = g.user_id WHERE g.id = $1 \
                     AND g.revoked_at IS NULL AND g.expires_at > $2 AND NOT u.disabled",
                )
                .bind(&presented.grant_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
                if !live {
                    return Ok(Rotation::Refused);
                }
                // At most one chain stays alive: once a token is used, every unused token of its
                // grant up to its generation (its siblings from a grace window) is revoked.
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $3 WHERE grant_id = $1 \
                     AND generation <= $2 AND token_hash <> $4 AND used_at IS NULL \
                     AND revoked_at IS NULL",
                )
                .bind(&presented.grant_id)
                .bind(presented.generation)
                .bind(now)
                .bind(presented_hash)
                .execute(&mut *tx)
                .await?;
                insert_row(&mut *tx, INSERT_REFRESH_TOKEN, successor).await?;
                tx.commit().await?;
                Ok(Rotation::Rotated { presented })
            }

            async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                use $crate::store::sql::{
                    OUTBOX_RETENTION_SECS, THROTTLE_RETENTION_SECS, USER_TOKEN_RETENTION_SECS,
                };
                // Children before parents, so that every deleted row is counted (cascades are not).
                // BankID orders are not touched: their retention is `purge_bankid_orders`.
                let statements: [(&'static str, i64); 16] = [
                    (
                        "DELETE FROM auth_codes WHERE expires_at <= $1 \
                         OR grant_id IN (SELECT id FROM grants WHERE expires_at <= $1)",
                        now,
                    ),
                    (
                        "DELETE FROM refresh_tokens WHERE expires_at <= $1 \
                         OR grant_id IN (SELECT id FROM grants WHERE expires_at <= $1)",
                        now,
                    ),
                    ("DELETE FROM grants WHERE expires_at <= $1", now),
                    (
                        "DELETE FROM pending_authorizations WHERE expires_at <= $1",
                        now,
                    ),
                    ("DELETE FROM pushed_requests WHERE expires_at <= $1", now),
                    (
                        "DELETE FROM passkey_challenges WHERE expires_at <= $1",
                        now,
                    ),
                    (
                        "DELETE FROM session_clients \
                         WHERE sid IN (SELECT sid FROM sessions WHERE expires_at <= $1)",
                        now,
                    ),
                    ("DELETE FROM sessions WHERE expires_at <= $1", now),
                    (
                        "DELETE FROM throttle WHERE window_start <= $1",
                        now - THROTTLE_RETENTION_SECS,
                    ),
                    (
                        "DELETE FROM user_tokens WHERE expires_at <= $1",
                        now - USER_TOKEN_RETENTION_SECS,
                    ),
                    (
                        "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at <= $1",
                        now - OUTBOX_RETENTION_SECS,
                    ),
                    (
                        "DELETE FROM backchannel_deliveries \
                         WHERE status IN ('delivered', 'failed') AND created_at <= $1",
                        now - OUTBOX_RETENTION_SECS,
                    ),
                    (
                        "DELETE FROM jobs WHERE status IN ('done', 'failed') AND created_at <= $1",
                        now - OUTBOX_RETENTION_SECS,
                    ),
                    (
                        "DELETE FROM instance_heartbeats WHERE checked_at <= $1",
                        now - THROTTLE_RETENTION_SECS,
                    ),
                    (
                        "DELETE FROM revoked_access_tokens WHERE expires_at <= $1",
                        now,
                    ),
                    (
                        "DELETE FROM client_assertion_jtis WHERE expires_at <= $1",
                        now,
                    ),
                ];
                let mut tx = self.begin_write().await?;
                let mut total = 0;
                for (statement, cutoff) in statements {
                    total += sqlx::query(statement)
                        .bind(cutoff)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(total)
            }

            // Throttling

            async fn record_failure(
                &self,
                key: &str,
                now: UnixTime,
                window_secs: i64,
            ) -> StoreResult<ThrottleState> {
                let row = sqlx::query(
                    "INSERT INTO throttle (key, failures, window_start) VALUES ($1, 1, $2) \
                     ON CONFLICT (key) DO UPDATE SET \
                       failures = CASE WHEN throttle.window_start <= $2 - $3 THEN 1 \
                                       ELSE throttle.failures + 1 END, \
                       window_start = CASE WHEN throttle.window_start <= $2 - $3 THEN $2 \
                                           ELSE throttle.window_start END \
                     RETURNING failures, window_start",
                )
                .bind(key)
                .bind(now)
                .bind(window_secs)
                .fetch_one(&self.pool)
                .await?;
                Ok(ThrottleState {
                    failures: row.try_get("failures")?,
                    window_start: row.try_get("window_start")?,
                })
            }

            async fn failures(
                &self,
                key: &str,
                now: UnixTime,
                window_secs: i64,
            ) -> StoreResult<i64> {
                let failures = sqlx::query_scalar::<$DB, i64>(
                    "SELECT failures FROM throttle WHERE key = $1 AND window_start > $2 - $3",
                )
                .bind(key)
                .bind(now)
                .bind(window_secs)
                .fetch_optional(&self.pool)
                .await?;
                Ok(failures.unwrap_or(0))
            }

            async fn clear_failures(&self, key: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM throttle WHERE key = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn forgive_failure(&self, key: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
                )
                .bind(key)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            // Accounts: invitations, password resets, profile

            async fn insert_user_with_token(
                &self,
                user: &User,
                token: &UserToken,
                email: &OutboxEmail,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                insert_row(&mut *tx, INSERT_USER, user).await?;
                insert_row(&mut *tx, INSERT_USER_TOKEN, token)
                    .await
                    .map_err(missing_if_foreign_key)?;
                insert_row(&mut *tx, INSERT_OUTBOX, email).await?;
                commit_audited(tx, events).await
            }

            async fn insert_user_token(
                &self,
                token: &UserToken,
                email: &OutboxEmail,
                completes_job: Option<&str>,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                // `NotFound` if the user does not exist.
                insert_row(&mut *tx, INSERT_USER_TOKEN, token)
                    .await
                    .map_err(missing_if_foreign_key)?;
                insert_row(&mut *tx, INSERT_OUTBOX, email).await?;
                if let Some(job_id) = completes_job {
                    job_done_in(&mut tx, job_id, token.created_at).await?;
                }
                commit_audited(tx, events).await
            }

            async fn enqueue_job(&self, job: &Job) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_JOB, job).await
            }

            async fn claim_jobs(
                &self,
                now: UnixTime,
                lease_secs: i64,
                limit: i64,
            ) -> StoreResult<Vec<Job>> {
                self.claim(&JOBS, now, lease_secs, limit).await
            }

            async fn job_done(&self, id: &str, now: UnixTime) -> StoreResult<()> {
                let mut conn = self.pool.acquire().await?;
                job_done_in(&mut conn, id, now).await
            }

            async fn job_failed(
                &self,
                id: &str,
                error: &str,
                next_attempt_at: UnixTime,
                give_up: bool,
            ) -> StoreResult<()> {
                // A job given up keeps no payload; its error stays for operators.
                let result = sqlx::query(
                    "UPDATE jobs SET attempts = attempts + 1, last_error = $2, \
                     locked_until = NULL, next_attempt_at = $3, \
                     status = CASE WHEN $4 THEN 'failed' ELSE status END, \
                     finished_at = CASE WHEN $4 THEN $3 ELSE finished_at END, \
                     payload = CASE WHEN $4 THEN $5 ELSE payload END \
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(id)
                .bind(truncate_error(error))
                .bind(next_attempt_at)
                .bind(give_up)
                .bind(Vec::<u8>::new())
                .execute(&self.pool)
                .await?;
                not_found_if_none_affected(result)
            }

            async fn job(&self, id: &str) -> StoreResult<Option<Job>> {
                let sql = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");
                fetch_optional(&self.pool, sqlx::query(sql).bind(id)).await
            }

            async fn list_jobs(&self, limit: i64) -> StoreResult<Vec<Job>> {
                let sql = concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM jobs ORDER BY created_at DESC, id DESC LIMIT $1"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(limit)).await
            }

            async fn consume_user_token(
                &self,
                token_hash: &str,
                now: UnixTime,
            ) -> StoreResult<Consumed<UserToken>> {
                let mut conn = self.pool.acquire().await?;
                consume_once(&mut conn, &USER_TOKEN, token_hash, now).await
            }

            async fn user_token(&self, token_hash: &str) -> StoreResult<Option<UserToken>> {
                fetch_optional(&self.pool, sqlx::query(USER_TOKEN.select).bind(token_hash)).await
            }

            async fn set_password_with_effects(
                &self,
                change: &PasswordChange,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let mut tx = self.begin_write().await?;
                apply_password_change_in(&mut tx, change).await?;
                commit_audited(tx, events).await
            }

            async fn set_password_from_link(
                &self,
                token_hash: &str,
                change: &PasswordChange,
                events: &[AuditEvent],
            ) -> StoreResult<Consumed<UserToken>> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                // The link is used up only with the password it sets (an early return rolls
                // back).
                let mut tx = self.begin_write().await?;
                let consumed: Consumed<UserToken> =
                    consume_once(&mut tx, &USER_TOKEN, token_hash, change.now).await?;
                if let Consumed::Fresh(token) = &consumed {
                    if token.user_id != change.user_id {
                        return Err(StoreError::Corrupt(
                            "the link belongs to another user".into(),
                        ));
                    }
                    apply_password_change_in(&mut tx, change).await?;
                    commit_audited(tx, events).await?;
                }
                Ok(consumed)
            }

            async fn update_user_profile(
                &self,
                id: &str,
                name: &str,
                locale: &str,
                now: UnixTime,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let query = sqlx::query(
                    "UPDATE users SET name = $2, locale = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(name)
                .bind(locale)
                .bind(now);
                self.update_audited(query, events).await
            }

            // Email outbox

            async fn enqueue_email(&self, email: &OutboxEmail) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_OUTBOX, email).await
            }

            async fn claim_outbox(
                &self,
                now: UnixTime,
                lease_secs: i64,
                limit: i64,
            ) -> StoreResult<Vec<OutboxEmail>> {
                self.claim(&OUTBOX, now, lease_secs, limit).await
            }

            async fn outbox_sent(&self, id: &str, now: UnixTime) -> StoreResult<()> {
                let result = sqlx::query(
                    "UPDATE outbox SET status = 'sent', sent_at = $2, locked_until = NULL, \
                     sealed_message = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .bind(Vec::<u8>::new())
                .execute(&self.pool)
                .await?;
                not_found_if_none_affected(result)
            }

            async fn outbox_failed(
                &self,
                id: &str,
                error: &str,
                next_attempt_at: UnixTime,
                give_up: bool,
            ) -> StoreResult<()> {
                // A message given up on keeps its (sealed) content, so the console can send it
                // again; the retention purge deletes it with the row.
                let query = if give_up {
                    sqlx::query(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
                         locked_until = NULL, status = 'failed' WHERE id = $1",
                    )
                    .bind(id)
                    .bind(truncate_error(error))
                } else {
                    sqlx::query(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
                         locked_until = NULL, next_attempt_at = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(truncate_error(error))
                    .bind(next_attempt_at)
                };
                let result = query.execute(&self.pool).await?;
                not_found_if_none_affected(result)
            }

            async fn outbox_email(&self, id: &str) -> StoreResult<Option<OutboxEmail>> {
                let sql = concat!("SELECT ", outbox_columns!(), " FROM outbox WHERE id = $1");
                fetch_optional(&self.pool, sqlx::query(sql).bind(id)).await
            }

            async fn list_outbox(&self, limit: i64) -> StoreResult<Vec<OutboxEmail>> {
                let sql = concat!(
                    "SELECT ",
                    outbox_columns!(),
                    " FROM outbox ORDER BY created_at DESC, id DESC LIMIT $1"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(limit)).await
            }

            // Personnummer and BankID

            async fn set_personnummer(
                &self,
                value: &StoredPersonnummer,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // A new (or the same) number must be proven again: the link is cleared, whatever
                // the caller passes. Other accounts may hold the same number unverified; only a
                // verified number is unique.
                let mut tx = self.pool.begin().await?;
                sqlx::query(concat!(
                    "INSERT INTO personnummer (",
                    personnummer_columns!(),
                    ") VALUES ($1, $2, $3, NULL, $4) \
                     ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, \
                     blind_index = excluded.blind_index, bankid_linked_at = NULL, \
                     updated_at = excluded.updated_at"
                ))
                .bind(&value.user_id)
                .bind(&value.sealed)
                .bind(&value.blind_index)
                .bind(value.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(missing_or_db_err)?;
                commit_audited(tx, events).await
            }

            async fn delete_personnummer(
                &self,
                user_id: &str,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM personnummer WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                commit_audited(tx, events).await
            }

            async fn personnummer_of(
                &self,
                user_id: &str,
            ) -> StoreResult<Option<StoredPersonnummer>> {
                let sql = concat!(
                    "SELECT ",
                    personnummer_columns!(),
                    " FROM personnummer WHERE user_id = $1"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(user_id)).await
            }

            async fn verified_personnummer_by_index(
                &self,
                blind_index: &str,
            ) -> StoreResult<Option<StoredPersonnummer>> {
                let sql = concat!(
                    "SELECT ",
                    personnummer_columns!(),
                    " FROM personnummer WHERE blind_index = $1 AND bankid_linked_at IS NOT NULL"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(blind_index)).await
            }

            async fn unverified_holders(
                &self,
                blind_index: &str,
                except_user: &str,
            ) -> StoreResult<Vec<User>> {
                let sql = concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE id IN (SELECT user_id FROM personnummer \
                     WHERE blind_index = $1 AND user_id <> $2 AND bankid_linked_at IS NULL) \
                     ORDER BY id"
                );
                fetch_all(
                    &self.pool,
                    sqlx::query(sql).bind(blind_index).bind(except_user),
                )
                .await
            }

            async fn verify_personnummer(
                &self,
                verification: &PersonnummerVerification,
                events: &[AuditEvent],
            ) -> StoreResult<VerificationOutcome> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let v = verification;
                let mut tx = self.begin_write().await?;
                if !consume_bankid_order_in(&mut tx, &v.order_ref).await? {
                    return Ok(VerificationOutcome::OrderNotComplete);
                }
                let linked = sqlx::query(
                    "UPDATE personnummer SET bankid_linked_at = $3 \
                     WHERE user_id = $1 AND blind_index = $2",
                )
                .bind(&v.user_id)
                .bind(&v.blind_index)
                .bind(v.verified_at)
                .execute(&mut *tx)
                .await;
                match linked {
                    Ok(result) if result.rows_affected() == 0 => {
                        return Ok(VerificationOutcome::NumberChanged);
                    }
                    Ok(_) => {}
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        return Ok(VerificationOutcome::VerifiedElsewhere);
                    }
                    Err(e) => return Err(e.into()),
                }
                // Typed-in copies on other accounts give way to the verified owner.
                let removed: Vec<String> = sqlx::query_scalar::<$DB, String>(
                    "DELETE FROM personnummer WHERE blind_index = $1 AND user_id <> $2 \
                     AND bankid_linked_at IS NULL RETURNING user_id",
                )
                .bind(&v.blind_index)
                .bind(&v.user_id)
                .fetch_all(&mut *tx)
                .await?;
                for (user_id, notice) in &v.notices {
                    if removed.contains(user_id) {
                        insert_row(&mut *tx, INSERT_OUTBOX, notice).await?;
                    }
                }
                if let Some(name) = &v.name_if_empty {
                    fill_empty_name_tx(&mut tx, &v.user_id, name, Some(v.verified_at)).await?;
                }
                commit_audited(tx, events).await?;
                Ok(VerificationOutcome::Verified {
                    removed_from: removed,
                })
            }

            async fn finish_bankid_login(
                &self,
                order_ref: &str,
                session: &Session,
                events: &[AuditEvent],
            ) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                if !consume_bankid_order_in(&mut tx, order_ref).await? {
                    return Ok(false);
                }
                insert_row(&mut *tx, INSERT_SESSION, session).await?;
                commit_audited(tx, events).await?;
                Ok(true)
            }

            async fn set_bankid_linked(
                &self,
                user_id: &str,
                linked_at: Option<UnixTime>,
                name_if_empty: Option<&str>,
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let mut tx = self.begin_write().await?;
                let result =
                    sqlx::query("UPDATE personnummer SET bankid_linked_at = $2 WHERE user_id = $1")
                        .bind(user_id)
                        .bind(linked_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                not_found_if_none_affected(result)?;
                if let Some(name) = name_if_empty {
                    fill_empty_name_tx(&mut tx, user_id, name, linked_at).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_personnummer(&self) -> StoreResult<Vec<StoredPersonnummer>> {
                let sql = concat!(
                    "SELECT ",
                    personnummer_columns!(),
                    " FROM personnummer ORDER BY user_id"
                );
                fetch_all(&self.pool, sqlx::query(sql)).await
            }

            async fn reseal_personnummer(&self, user_id: &str, sealed: &[u8]) -> StoreResult<()> {
                let result = sqlx::query("UPDATE personnummer SET sealed = $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(sealed)
                    .execute(&self.pool)
                    .await?;
                not_found_if_none_affected(result)
            }

            async fn insert_bankid_order(&self, order: &BankIdOrder) -> StoreResult<()> {
                insert_row(&self.pool, INSERT_BANKID_ORDER, order)
                    .await
                    .map_err(missing_if_foreign_key)
            }

            async fn bankid_order(&self, order_ref: &str) -> StoreResult<Option<BankIdOrder>> {
                let sql = concat!(
                    "SELECT ",
                    bankid_order_columns!(),
                    " FROM bankid_orders WHERE order_ref = $1"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(order_ref)).await
            }

            async fn update_bankid_order(
                &self,
                order: &BankIdOrder,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // `consumed` is final: a collect result that arrives late must not make the order
                // consumable again. Such a write is ignored.
                let mut tx = self.pool.begin().await?;
                let result = sqlx::query(
                    "UPDATE bankid_orders SET status = $2, hint_code = $3, completion_sealed = $4, \
                     user_id = $5, last_collect_at = $6, finished_at = $7 \
                     WHERE order_ref = $1 AND status <> 'consumed'",
                )
                .bind(&order.order_ref)
                .bind(&order.status)
                .bind(&order.hint_code)
                .bind(&order.completion_sealed)
                .bind(&order.user_id)
                .bind(order.last_collect_at)
                .bind(order.finished_at)
                .execute(&mut *tx)
                .await
                .map_err(missing_or_db_err)?;
                if result.rows_affected() == 0 {
                    let exists = sqlx::query("SELECT 1 FROM bankid_orders WHERE order_ref = $1")
                        .bind(&order.order_ref)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    // Ignored: nothing happened to record.
                    tx.commit().await?;
                    return Ok(());
                }
                commit_audited(tx, events).await
            }

            async fn consume_bankid_order(&self, order_ref: &str) -> StoreResult<bool> {
                let mut conn = self.pool.acquire().await?;
                consume_bankid_order_in(&mut conn, order_ref).await
            }

            async fn claim_bankid_collect(
                &self,
                order_ref: &str,
                now: UnixTime,
                min_interval: i64,
            ) -> StoreResult<bool> {
                // One conditional update: of concurrent claimers, only the first sees the old time.
                let result = sqlx::query(
                    "UPDATE bankid_orders SET last_collect_at = $2 WHERE order_ref = $1 \
                     AND (last_collect_at IS NULL OR last_collect_at <= $3)",
                )
                .bind(order_ref)
                .bind(now)
                .bind(now.saturating_sub(min_interval))
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            // Administration and the audit trail

            async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
                let tx = self.pool.begin().await?;
                commit_audited(tx, events).await
            }

            async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
                let (before_at, before_id) = match &query.before {
                    Some((at, id)) => (Some(*at), Some(id.as_str())),
                    None => (None, None),
                };
                let sql = concat!(
                    "SELECT ",
                    audit_columns!(),
                    " FROM audit_events WHERE ($1 IS NULL OR user_id = $1) \
                     AND ($2 IS NULL OR client_id = $2) AND ($3 IS NULL OR kind = $3) \
                     AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
                     AND ($6 IS NULL OR at < $6 OR (at = $6 AND id < $7)) \
                     ORDER BY at DESC, id DESC LIMIT $8"
                );
                let query = sqlx::query(sql)
                    .bind(&query.user_id)
                    .bind(&query.client_id)
                    .bind(&query.kind)
                    .bind(query.from)
                    .bind(query.until)
                    .bind(before_at)
                    .bind(before_id)
                    .bind(query.limit);
                fetch_all(&self.pool, query).await
            }

            async fn audit_event_by_idempotency_key(
                &self,
                actor_id: &str,
                key: &str,
            ) -> StoreResult<Option<AuditEvent>> {
                let sql = concat!(
                    "SELECT ",
                    audit_columns!(),
                    " FROM audit_events WHERE actor_id = $1 AND idempotency_key = $2"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(actor_id).bind(key)).await
            }

            async fn purge_audit_events(&self, before: UnixTime) -> StoreResult<u64> {
                let result = sqlx::query("DELETE FROM audit_events WHERE at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(result.rows_affected())
            }

            async fn search_users(&self, query: &UserQuery) -> StoreResult<Vec<UserSummary>> {
                // LIKE with `\` as escape character, so `%` and `_` in the search are literal.
                let pattern = query.search.as_ref().map(|term| {
                    let escaped = term
                        .to_lowercase()
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    format!("%{escaped}%")
                });
                let (after_at, after_id) = match &query.after {
                    Some((at, id)) => (Some(*at), Some(id.as_str())),
                    None => (None, None),
                };
                let rows = sqlx::query(
                    "SELECT u.id, u.email, u.email_verified, u.name, u.locale, u.password_hash, \
                     u.disabled, u.created_at, u.updated_at, \
                     (p.user_id IS NOT NULL) AS has_personnummer, \
                     (p.bankid_linked_at IS NOT NULL) AS bankid_linked \
                     FROM users u LEFT JOIN personnummer p ON p.user_id = u.id \
                     WHERE ($1 IS NULL OR LOWER(u.email) LIKE $1 ESCAPE '\\' \
                            OR LOWER(u.name) LIKE $1 ESCAPE '\\') \
                     AND ($2 IS NULL OR u.disabled = $2) \
                     AND ($3 IS NULL OR (u.password_hash IS NOT NULL) = $3) \
                     AND ($4 IS NULL OR (p.bankid_linked_at IS NOT NULL) = $4) \
                     AND ($5 IS NULL OR u.created_at > $5 OR (u.created_at = $5 AND u.id > $6)) \
                     ORDER BY u.created_at, u.id LIMIT $7",
                )
                .bind(pattern)
                .bind(query.disabled)
                .bind(query.has_password)
                .bind(query.bankid_linked)
                .bind(after_at)
                .bind(after_id)
                .bind(query.limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(UserSummary {
                            user: User::from_row(row)?,
                            has_personnummer: row.try_get("has_personnummer")?,
                            bankid_linked: row.try_get("bankid_linked")?,
                        })
                    })
                    .collect()
            }

            async fn delete_user(
                &self,
                user_id: &str,
                pseudonym: &str,
                events: &[AuditEvent],
            ) -> StoreResult<bool> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let mut tx = self.begin_write().await?;
                // Queued mail names the address and the person: it goes too.
                sqlx::query(
                    "DELETE FROM outbox WHERE recipient IN (SELECT email FROM users WHERE id = $1)",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                // So do the lines of uploaded invitation files that name them.
                sqlx::query(
                    "DELETE FROM invite_batch_rows WHERE user_id = $1 \
                     OR email IN (SELECT email FROM users WHERE id = $1)",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM bankid_orders WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE audit_events SET user_id = $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(pseudonym)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE audit_events SET actor_id = $2 WHERE actor_type = 'user' AND actor_id = $1",
                )
                .bind(user_id)
                .bind(pseudonym)
                .execute(&mut *tx)
                .await?;
                // Sessions, grants (with their codes and tokens), links, consents and the
                // personnummer cascade.
                let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                commit_audited(tx, events).await?;
                Ok(deleted)
            }

            async fn update_client(
                &self,
                client: &Client,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let query = sqlx::query(
                    "UPDATE clients SET name = $2, token_endpoint_auth_method = $3, \
                     redirect_uris = $4, post_logout_redirect_uris = $5, allowed_scopes = $6, \
                     first_party = $7, backchannel_logout_uri = $8, \
                     backchannel_logout_session_required = $9, jwks = $10, jwks_uri = $11, \
                     grant_types = $12, resources = $13, secret_hash = $14, \
                     require_pushed_authorization_requests = $15, \
                     dpop_bound_access_tokens = $16, require_dpop_nonce = $17 WHERE id = $1",
                )
                .bind(&client.id)
                .bind(&client.name)
                .bind(&client.token_endpoint_auth_method)
                .bind(to_json(&client.redirect_uris))
                .bind(to_json(&client.post_logout_redirect_uris))
                .bind(to_json(&client.allowed_scopes))
                .bind(client.first_party)
                .bind(&client.backchannel_logout_uri)
                .bind(client.backchannel_logout_session_required)
                .bind(&client.jwks)
                .bind(&client.jwks_uri)
                .bind(to_json(&client.grant_types))
                .bind(to_json(&client.resources))
                .bind(&client.secret_hash)
                .bind(client.require_pushed_authorization_requests)
                .bind(client.dpop_bound_access_tokens)
                .bind(client.require_dpop_nonce);
                self.update_audited(query, events).await
            }

            async fn sessions_of_user(
                &self,
                user_id: &str,
                now: UnixTime,
            ) -> StoreResult<Vec<Session>> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE user_id = $1 AND expires_at > $2 \
                     ORDER BY created_at DESC, sid"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(user_id).bind(now)).await
            }

            async fn revoke_user_access(
                &self,
                user_id: &str,
                deliveries: &[BackchannelDelivery],
                now: UnixTime,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE user_id = $1",
                )
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                for delivery in deliveries {
                    insert_row(&mut *tx, INSERT_BACKCHANNEL, delivery).await?;
                }
                commit_audited(tx, events).await
            }

            async fn purge_bankid_orders(&self, before: UnixTime) -> StoreResult<u64> {
                // Finished orders by when they finished (by creation if that time is missing),
                // orders still pending by creation (abandoned: BankID gave up on them long ago).
                let result = sqlx::query(
                    "DELETE FROM bankid_orders WHERE \
                     (status = 'pending' AND created_at < $1) \
                     OR (status <> 'pending' AND COALESCE(finished_at, created_at) < $1)",
                )
                .bind(before)
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected())
            }

            async fn consent(
                &self,
                user_id: &str,
                client_id: &str,
            ) -> StoreResult<Option<Consent>> {
                let sql = concat!(
                    "SELECT ",
                    consent_columns!(),
                    " FROM consents WHERE user_id = $1 AND client_id = $2"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(user_id).bind(client_id)).await
            }

            async fn save_consent(&self, consent: &Consent) -> StoreResult<()> {
                insert_row(&self.pool, SAVE_CONSENT, consent).await
            }

            async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
                let sql = concat!(
                    "SELECT ",
                    consent_columns!(),
                    " FROM consents WHERE user_id = $1 ORDER BY granted_at, client_id"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(user_id)).await
            }

            async fn revoke_consent(
                &self,
                user_id: &str,
                client_id: &str,
                now: UnixTime,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                    .bind(user_id)
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE grants SET revoked_at = COALESCE(revoked_at, $3) \
                     WHERE user_id = $1 AND client_id = $2",
                )
                .bind(user_id)
                .bind(client_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                commit_audited(tx, events).await
            }

            async fn revoke_access_token(
                &self,
                jti: &str,
                expires_at: UnixTime,
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                sqlx::query(
                    "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
                let found = sqlx::query("SELECT 1 FROM revoked_access_tokens WHERE jti = $1")
                    .bind(jti)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(found.is_some())
            }

            async fn refresh_token_by_hash(
                &self,
                token_hash: &str,
            ) -> StoreResult<Option<RefreshToken>> {
                fetch_optional(
                    &self.pool,
                    sqlx::query(REFRESH_TOKEN.select).bind(token_hash),
                )
                .await
            }

            async fn use_client_assertion_jti(
                &self,
                client_id: &str,
                jti: &str,
                expires_at: UnixTime,
                now: UnixTime,
            ) -> StoreResult<bool> {
                // An expired entry may be reused: the assertion itself is refused as expired.
                let result = sqlx::query(
                    "INSERT INTO client_assertion_jtis (client_id, jti, expires_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (client_id, jti) DO UPDATE \
                     SET expires_at = excluded.expires_at \
                     WHERE client_assertion_jtis.expires_at <= $4",
                )
                .bind(client_id)
                .bind(jti)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn end_session(
                &self,
                sid: &str,
                deliveries: &[BackchannelDelivery],
                now: UnixTime,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                // A token may end here: emptied after the write, however this returns.
                let _forget = self.token_contexts.forget_on_drop();
                let mut tx = self.begin_write().await?;
                // Grants with offline_access outlive the session by design (OIDC Core 11).
                sqlx::query(
                    "UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) \
                     WHERE sid = $1 AND (' ' || scope || ' ') NOT LIKE '% offline_access %'",
                )
                .bind(sid)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM session_clients WHERE sid = $1")
                    .bind(sid)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE sid = $1")
                    .bind(sid)
                    .execute(&mut *tx)
                    .await?;
                for delivery in deliveries {
                    insert_row(&mut *tx, INSERT_BACKCHANNEL, delivery).await?;
                }
                commit_audited(tx, events).await
            }

            async fn session_by_sid(
                &self,
                sid: &str,
                now: UnixTime,
            ) -> StoreResult<Option<Session>> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE sid = $1 AND expires_at > $2"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(sid).bind(now)).await
            }

            async fn claim_backchannel(
                &self,
                now: UnixTime,
                lease_secs: i64,
                limit: i64,
            ) -> StoreResult<Vec<BackchannelDelivery>> {
                self.claim(&BACKCHANNEL, now, lease_secs, limit).await
            }

            async fn backchannel_delivered(&self, id: &str) -> StoreResult<()> {
                // The token is no longer needed once delivered; keep the row for the record.
                let result = sqlx::query(
                    "UPDATE backchannel_deliveries SET status = 'delivered', \
                     attempts = attempts + 1, locked_until = NULL, logout_token = '' \
                     WHERE id = $1",
                )
                .bind(id)
                .execute(&self.pool)
                .await?;
                not_found_if_none_affected(result)
            }

            async fn backchannel_failed(
                &self,
                id: &str,
                error: &str,
                next_attempt_at: UnixTime,
                give_up: bool,
            ) -> StoreResult<()> {
                let status = if give_up { "failed" } else { "pending" };
                let result = sqlx::query(
                    "UPDATE backchannel_deliveries SET attempts = attempts + 1, last_error = $2, \
                     locked_until = NULL, next_attempt_at = $3, status = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(truncate_error(error))
                .bind(next_attempt_at)
                .bind(status)
                .execute(&self.pool)
                .await?;
                not_found_if_none_affected(result)
            }

            async fn list_backchannel(&self, limit: i64) -> StoreResult<Vec<BackchannelDelivery>> {
                let sql = concat!(
                    "SELECT ",
                    backchannel_columns!(),
                    " FROM backchannel_deliveries ORDER BY created_at DESC, id LIMIT $1"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(limit)).await
            }

            // Administrators' roles (the admin console)

            async fn set_admin_role(
                &self,
                user_id: &str,
                role: Option<&str>,
                now: UnixTime,
                events: &[AuditEvent],
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                match role {
                    Some(role) => {
                        sqlx::query(
                            "INSERT INTO admin_roles (user_id, role, granted_at) \
                             VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE \
                             SET role = excluded.role, granted_at = excluded.granted_at",
                        )
                        .bind(user_id)
                        .bind(role)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(missing_or_db_err)?;
                    }
                    None => {
                        sqlx::query("DELETE FROM admin_roles WHERE user_id = $1")
                            .bind(user_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                commit_audited(tx, events).await
            }

            async fn admin_role_of(&self, user_id: &str) -> StoreResult<Option<AdminRoleGrant>> {
                let sql = "SELECT user_id, role, granted_at FROM admin_roles WHERE user_id = $1";
                fetch_optional(&self.pool, sqlx::query(sql).bind(user_id)).await
            }

            async fn admin_roles(&self) -> StoreResult<Vec<AdminRoleGrant>> {
                let sql = "SELECT user_id, role, granted_at FROM admin_roles ORDER BY user_id";
                fetch_all(&self.pool, sqlx::query(sql)).await
            }

            // Bulk invitations

            async fn insert_invite_batch(
                &self,
                batch: &InviteBatch,
                rows: &[InviteBatchRow],
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                insert_row(&mut *tx, INSERT_INVITE_BATCH, batch).await?;
                for row in rows {
                    insert_row(&mut *tx, INSERT_INVITE_ROW, row).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn invite_batch(&self, id: &str) -> StoreResult<Option<InviteBatch>> {
                let sql = concat!(
                    "SELECT ",
                    invite_batch_columns!(),
                    " FROM invite_batches WHERE id = $1"
                );
                fetch_optional(&self.pool, sqlx::query(sql).bind(id)).await
            }

            async fn invite_batch_rows(&self, id: &str) -> StoreResult<Vec<InviteBatchRow>> {
                let sql = concat!(
                    "SELECT ",
                    invite_row_columns!(),
                    " FROM invite_batch_rows WHERE batch_id = $1 ORDER BY line"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(id)).await
            }

            async fn invite_batch_counts(&self, id: &str) -> StoreResult<InviteBatchCounts> {
                let rows = sqlx::query(
                    "SELECT outcome, COUNT(*) AS n FROM invite_batch_rows WHERE batch_id = $1 \
                     GROUP BY outcome",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                let mut counts = InviteBatchCounts::default();
                for row in rows {
                    let n: i64 = row.try_get("n")?;
                    match row.try_get::<String, _>("outcome")?.as_str() {
                        "pending" => counts.pending = n,
                        "created" => counts.created = n,
                        "existed" => counts.existed = n,
                        _ => counts.refused += n,
                    }
                }
                Ok(counts)
            }

            async fn invite_batch_existing(&self, id: &str) -> StoreResult<i64> {
                let existing = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM invite_batch_rows r JOIN users u ON u.email = r.email \
                     WHERE r.batch_id = $1 AND r.outcome = 'pending'",
                )
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
                Ok(existing)
            }

            async fn recent_invite_batches(&self, limit: i64) -> StoreResult<Vec<InviteBatch>> {
                let sql = concat!(
                    "SELECT ",
                    invite_batch_columns!(),
                    " FROM invite_batches ORDER BY created_at DESC, id DESC LIMIT $1"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(limit)).await
            }

            async fn start_invite_batch(
                &self,
                id: &str,
                started_by: &str,
                now: UnixTime,
                job: &Job,
                events: &[AuditEvent],
            ) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let started = sqlx::query(
                    "UPDATE invite_batches SET status = 'running', started_by = $2, \
                     started_at = $3 WHERE id = $1 AND status = 'preview'",
                )
                .bind(id)
                .bind(started_by)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !started {
                    return Ok(false);
                }
                insert_row(&mut *tx, INSERT_JOB, job).await?;
                commit_audited(tx, events).await?;
                Ok(true)
            }

            async fn pending_invite_rows(
                &self,
                id: &str,
                limit: i64,
            ) -> StoreResult<Vec<InviteBatchRow>> {
                let sql = concat!(
                    "SELECT ",
                    invite_row_columns!(),
                    " FROM invite_batch_rows WHERE batch_id = $1 AND outcome = 'pending' \
                     ORDER BY line LIMIT $2"
                );
                fetch_all(&self.pool, sqlx::query(sql).bind(id).bind(limit)).await
            }

            async fn set_invite_row_outcome(
                &self,
                batch_id: &str,
                line: i64,
                outcome: &str,
                user_id: &str,
            ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE invite_batch_rows SET outcome = $3, user_id = $4 \
                     WHERE batch_id = $1 AND line = $2 AND outcome = 'pending'",
                )
                .bind(batch_id)
                .bind(line)
                .bind(outcome)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn finish_invite_batch(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
                sqlx::query(
                    "UPDATE invite_batches SET status = 'done', finished_at = $2 \
                     WHERE id = $1 AND status = 'running' AND NOT EXISTS \
                     (SELECT 1 FROM invite_batch_rows WHERE batch_id = $1 AND outcome = 'pending')",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM invite_batches WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(status.as_deref() == Some("done"))
            }

            async fn purge_invite_batches(&self, before: UnixTime) -> StoreResult<u64> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "DELETE FROM invite_batch_rows WHERE batch_id IN \
                     (SELECT id FROM invite_batches WHERE created_at < $1)",
                )
                .bind(before)
                .execute(&mut *tx)
                .await?;
                let purged = sqlx::query("DELETE FROM invite_batches WHERE created_at < $1")
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(purged)
            }
        }
    };
}

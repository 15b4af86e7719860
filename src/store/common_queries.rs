//! Queries whose SQL text and row handling are the same on SQLite and PostgreSQL, written once.
//!
//! `common_queries!(Pool, Row)` expands, inside a backend module, to a `common` module of plain
//! async functions over that backend's pool; the backend's `Store` methods call them. Only what
//! truly differs (claiming work with `SKIP LOCKED` vs `BEGIN IMMEDIATE`) stays in the backend.

macro_rules! common_queries {
    ($pool:ty, $row:ty) => {
        pub(super) mod common {
            use sqlx::Row;

            use crate::store::{
                BackchannelDelivery, Consent, RefreshToken, Session, StoreError, StoreResult,
                UnixTime,
            };

            type Pool = $pool;

            pub fn consent_from_row(row: &$row) -> StoreResult<Consent> {
                Ok(Consent {
                    user_id: row.try_get("user_id")?,
                    client_id: row.try_get("client_id")?,
                    scope: row.try_get("scope")?,
                    granted_at: row.try_get("granted_at")?,
                })
            }

            pub fn backchannel_from_row(row: &$row) -> StoreResult<BackchannelDelivery> {
                Ok(BackchannelDelivery {
                    id: row.try_get("id")?,
                    client_id: row.try_get("client_id")?,
                    uri: row.try_get("uri")?,
                    logout_token: row.try_get("logout_token")?,
                    status: row.try_get("status")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    locked_until: row.try_get("locked_until")?,
                    last_error: row.try_get("last_error")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            pub async fn consent(
                pool: &Pool,
                user_id: &str,
                client_id: &str,
            ) -> StoreResult<Option<Consent>> {
                sqlx::query(
                    "SELECT user_id, client_id, scope, granted_at FROM consents \
                     WHERE user_id = $1 AND client_id = $2",
                )
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(consent_from_row)
                .transpose()
            }

            pub async fn save_consent(pool: &Pool, consent: &Consent) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO consents (user_id, client_id, scope, granted_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) \
                     DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
                )
                .bind(&consent.user_id)
                .bind(&consent.client_id)
                .bind(&consent.scope)
                .bind(consent.granted_at)
                .execute(pool)
                .await
                .map_err(super::db_err)?;
                Ok(())
            }

            pub async fn list_consents(pool: &Pool, user_id: &str) -> StoreResult<Vec<Consent>> {
                sqlx::query(
                    "SELECT user_id, client_id, scope, granted_at FROM consents \
                     WHERE user_id = $1 ORDER BY granted_at, client_id",
                )
                .bind(user_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(consent_from_row)
                .collect()
            }

            pub async fn revoke_consent(
                pool: &Pool,
                user_id: &str,
                client_id: &str,
                now: UnixTime,
            ) -> StoreResult<()> {
                let mut tx = pool.begin().await?;
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
                tx.commit().await?;
                Ok(())
            }

            pub async fn revoke_access_token(
                pool: &Pool,
                jti: &str,
                expires_at: UnixTime,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(expires_at)
                .execute(pool)
                .await?;
                Ok(())
            }

            pub async fn access_token_revoked(pool: &Pool, jti: &str) -> StoreResult<bool> {
                Ok(
                    sqlx::query("SELECT 1 FROM revoked_access_tokens WHERE jti = $1")
                        .bind(jti)
                        .fetch_optional(pool)
                        .await?
                        .is_some(),
                )
            }

            pub async fn use_client_assertion_jti(
                pool: &Pool,
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
                .execute(pool)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            pub async fn refresh_token_by_hash(
                pool: &Pool,
                token_hash: &str,
            ) -> StoreResult<Option<RefreshToken>> {
                sqlx::query(
                    "SELECT token_hash, grant_id, generation, created_at, expires_at, used_at \
                     FROM refresh_tokens WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(super::refresh_token_from_row)
                .transpose()
            }

            pub async fn session_by_sid(
                pool: &Pool,
                sid: &str,
                now: UnixTime,
            ) -> StoreResult<Option<Session>> {
                sqlx::query(
                    "SELECT id_hash, sid, user_id, auth_time, amr, acr, created_at, expires_at \
                     FROM sessions WHERE sid = $1 AND expires_at > $2",
                )
                .bind(sid)
                .bind(now)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(super::session_from_row)
                .transpose()
            }

            pub async fn end_session(
                pool: &Pool,
                sid: &str,
                deliveries: &[BackchannelDelivery],
                now: UnixTime,
            ) -> StoreResult<()> {
                let mut tx = pool.begin().await?;
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
                    sqlx::query(
                        "INSERT INTO backchannel_deliveries (id, client_id, uri, logout_token, \
                         status, attempts, next_attempt_at, locked_until, last_error, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&delivery.id)
                    .bind(&delivery.client_id)
                    .bind(&delivery.uri)
                    .bind(&delivery.logout_token)
                    .bind(&delivery.status)
                    .bind(delivery.attempts)
                    .bind(delivery.next_attempt_at)
                    .bind(delivery.locked_until)
                    .bind(&delivery.last_error)
                    .bind(delivery.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(super::db_err)?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub async fn backchannel_delivered(pool: &Pool, id: &str) -> StoreResult<()> {
                // The token is no longer needed once delivered; keep the row for the record.
                let result = sqlx::query(
                    "UPDATE backchannel_deliveries SET status = 'delivered', \
                     attempts = attempts + 1, locked_until = NULL, logout_token = '' \
                     WHERE id = $1",
                )
                .bind(id)
                .execute(pool)
                .await?;
                if result.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            pub async fn backchannel_failed(
                pool: &Pool,
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
                .bind(super::truncate_error(error))
                .bind(next_attempt_at)
                .bind(status)
                .execute(pool)
                .await?;
                if result.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            pub async fn list_backchannel(
                pool: &Pool,
                limit: i64,
            ) -> StoreResult<Vec<BackchannelDelivery>> {
                sqlx::query(
                    "SELECT id, client_id, uri, logout_token, status, attempts, next_attempt_at, \
                     locked_until, last_error, created_at FROM backchannel_deliveries \
                     ORDER BY created_at DESC, id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(backchannel_from_row)
                .collect()
            }
        }
    };
}

pub(crate) use common_queries;

/// Claims due back-channel deliveries; PostgreSQL's variant skips rows other instances hold.
pub(crate) const CLAIM_BACKCHANNEL: &str = "UPDATE backchannel_deliveries SET locked_until = $1 \
     WHERE id IN (SELECT id FROM backchannel_deliveries WHERE status = 'pending' \
     AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2) \
     ORDER BY next_attempt_at, id LIMIT $3) RETURNING id, client_id, uri, logout_token, status, \
     attempts, next_attempt_at, locked_until, last_error, created_at";
pub(crate) const CLAIM_BACKCHANNEL_SKIP_LOCKED: &str = "UPDATE backchannel_deliveries \
     SET locked_until = $1 WHERE id IN (SELECT id FROM backchannel_deliveries \
     WHERE status = 'pending' AND next_attempt_at <= $2 \
     AND (locked_until IS NULL OR locked_until <= $2) ORDER BY next_attempt_at, id LIMIT $3 \
     FOR UPDATE SKIP LOCKED) RETURNING id, client_id, uri, logout_token, status, attempts, \
     next_attempt_at, locked_until, last_error, created_at";

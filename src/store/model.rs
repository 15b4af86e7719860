//! Rows the store keeps. Times are Unix seconds (`i64`) so both databases store them the same way.

use serde::{Deserialize, Serialize};

pub use crate::clock::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable subject identifier (UUID v7 text). Never the email, never the personnummer.
    pub id: String,
    /// Lower-cased, trimmed.
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    /// `sv` or `en`.
    pub locale: String,
    /// PHC string (argon2id); `None` until the user has set a password.
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// HMAC-SHA256 of the secret (hex) for confidential clients; `None` for public clients.
    pub secret_hash: Option<String>,
    /// `client_secret_basic`, `client_secret_post` or `none`.
    pub token_endpoint_auth_method: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes this client may be granted.
    pub allowed_scopes: Vec<String>,
    /// First-party clients get no consent screen.
    pub first_party: bool,
    pub created_at: UnixTime,
    /// Back-Channel Logout 1.0: where logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    /// The client wants `sid` in logout tokens (we always send it).
    pub backchannel_logout_session_required: bool,
    /// A JWK Set (JSON text) for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Or the URL of the client's JWK Set.
    pub jwks_uri: Option<String>,
    /// Grants the client may use: `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// Resource indicators (RFC 8707) the client may ask tokens for; the first is the audience
    /// of its `client_credentials` tokens when it names none.
    pub resources: Vec<String>,
    /// RFC 9126 §6: authorization requests are accepted only through `/par`.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2 (`dpop_bound_access_tokens`): every token request must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// RFC 9449 §8: the client's DPoP proofs must carry a nonce from this server.
    pub require_dpop_nonce: bool,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == "none"
    }

    pub fn may_use_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

pub use crate::crypto::signing::SigningKey;

/// An authorization request waiting for the user to log in (or consent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub id: String,
    /// The validated request as JSON (see `oidc::authorize::AuthorizationRequest`).
    pub request_json: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// An authorization request pushed to `/par` (RFC 9126), waiting for its `request_uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequest {
    /// SHA-256 (hex) of the `request_uri`.
    pub request_uri_hash: String,
    pub client_id: String,
    /// The pushed parameters as a JSON list of name–value pairs (client credentials left out).
    pub params_json: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 (hex) of the random cookie value.
    pub id_hash: String,
    /// Public session id, put in ID tokens as `sid`.
    pub sid: String,
    pub user_id: String,
    pub auth_time: UnixTime,
    pub amr: Vec<String>,
    pub acr: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: UnixTime,
    pub amr: Vec<String>,
    pub acr: String,
    pub sid: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    /// The `claims` request parameter's claim names (JSON of `oidc::claims::RequestedClaims`).
    pub requested_claims: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    /// RFC 9449 §10: the thumbprint of the key whose proof alone may redeem the code.
    pub dpop_jkt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    pub grant_id: String,
    pub generation: i64,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    /// Made obsolete without being used: a sibling whose chain lost (see `Rotation`).
    pub revoked_at: Option<UnixTime>,
    /// RFC 9449 §5: a public client's token, usable only with a proof of this key.
    pub dpop_jkt: Option<String>,
}

/// What presenting a refresh token at the token endpoint did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token is used up (or was, within the reuse grace window), the unused tokens of its
    /// grant up to its generation are revoked, and the successor is stored: all in one
    /// transaction.
    Rotated {
        presented: RefreshToken,
    },
    /// Used before, outside the grace window: the whole grant was revoked.
    Reused {
        presented: RefreshToken,
    },
    /// A revoked sibling, a token whose chain has already moved on, or a token whose grant is
    /// revoked or expired or whose user is disabled (checked inside the transaction): refused,
    /// nothing changed.
    Refused,
    Missing,
}

/// What a throttling bucket holds after a failure was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: i64,
    pub window_start: UnixTime,
}

/// Outcome of trying to mark a single-use row as used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed<T> {
    /// First use: the row, now marked used.
    Fresh(T),
    /// The row exists but was used before (at `used_at`).
    AlreadyUsed(T),
    Missing,
}

/// A single-use link token for an invitation or a password reset; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserToken {
    /// SHA-256 (hex) of the token in the link.
    pub token_hash: String,
    pub user_id: String,
    /// `invite` or `reset`.
    pub purpose: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

/// An email waiting in (or done with) the outbox. The message itself is sealed with the secret
/// box, because it may carry a link token, and is erased once sent (a failed one keeps it until
/// the retention purge, so it can be retried).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEmail {
    pub id: String,
    /// The recipient's address (for operators' logs; the sealed message has it too).
    pub recipient: String,
    /// Template name, e.g. `invite`, `reset`, `password_changed`.
    pub kind: String,
    /// Sealed JSON of `mail::EmailMessage`; empty after sending.
    pub sealed_message: Vec<u8>,
    /// `pending`, `sent` or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: UnixTime,
    /// While set and in the future, one sender has claimed the message.
    pub locked_until: Option<UnixTime>,
    pub last_error: Option<String>,
    pub created_at: UnixTime,
    pub sent_at: Option<UnixTime>,
}

/// Everything that happens when a password is set, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChange {
    pub user_id: String,
    pub password_hash: String,
    pub now: UnixTime,
    /// Sessions of the user other than this one (by `id_hash`) are deleted; `None` deletes all.
    pub keep_session_hash: Option<String>,
    /// Set `email_verified` (the user proved control of the address by following a link).
    pub verify_email: bool,
    /// A notice to send ("your password was changed").
    pub notice: Option<OutboxEmail>,
}

/// A user's personnummer: sealed (AES-256-GCM, the row's user id as associated data) plus a keyed
/// blind index for lookup. Never stored or logged in plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPersonnummer {
    pub user_id: String,
    pub sealed: Vec<u8>,
    /// HMAC-SHA256 (hex) of the 12-digit number with the blind-index key; unique among verified
    /// numbers (several accounts may hold a number typed in but not verified).
    pub blind_index: String,
    /// When BankID verified the number for this user (BankID is linked); `None` = typed in only.
    pub bankid_linked_at: Option<UnixTime>,
    pub updated_at: UnixTime,
}

/// BankID proved that a user holds the personnummer stored on their account. Applied in one
/// transaction with consuming the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonnummerVerification {
    /// The `complete` order that proved it; consumed.
    pub order_ref: String,
    pub user_id: String,
    /// The blind index of the number BankID returned (the account must still hold it).
    pub blind_index: String,
    pub verified_at: UnixTime,
    /// BankID's name for the person, for a profile without a name.
    pub name_if_empty: Option<String>,
    /// A notice (by user id) for each account that held the number unverified, sent only to
    /// those whose copy is removed.
    pub notices: Vec<(String, OutboxEmail)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationOutcome {
    /// Linked; the unverified copies on these accounts were removed.
    Verified { removed_from: Vec<String> },
    /// The order was not complete, or another request finished it first.
    OrderNotComplete,
    /// The account's number changed while BankID was running.
    NumberChanged,
    /// Another account already has this number verified (nothing changed).
    VerifiedElsewhere,
}

/// A BankID order we started (login or linking), kept for the flow and, once finished, for audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankIdOrder {
    pub order_ref: String,
    /// `login` or `link`.
    pub purpose: String,
    /// SHA-256 (hex) of the browser binding cookie: only that browser may poll or finish it.
    pub browser_binding: String,
    /// For `link`: the user linking. For `login`: set once complete and matched.
    pub user_id: Option<String>,
    /// For `login`: the waiting authorization request (or `None` for a login to our own pages).
    pub pending_authorization: Option<String>,
    /// For `login` without an app: where to go afterwards.
    pub next_path: Option<String>,
    pub auto_start_token: String,
    pub qr_start_token: String,
    /// The qrStartSecret, sealed (it never leaves the server).
    pub qr_start_secret_sealed: Vec<u8>,
    /// When the auth response was received (t0 of the animated QR).
    pub started_at: UnixTime,
    /// `pending`, `complete`, `failed`, `cancelled`, `consumed` (a session was made from it).
    pub status: String,
    pub hint_code: Option<String>,
    /// Sealed JSON of the completion data (audit); `None` until complete.
    pub completion_sealed: Option<Vec<u8>>,
    pub end_user_ip: String,
    pub last_collect_at: Option<UnixTime>,
    pub created_at: UnixTime,
    pub finished_at: Option<UnixTime>,
}

/// Scopes a user allowed a (third-party) client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: String,
    pub granted_at: UnixTime,
}

/// A logout token on its way to a client's back-channel logout URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackchannelDelivery {
    pub id: String,
    pub client_id: String,
    pub uri: String,
    /// The signed logout token (it names the user and session, nothing secret).
    pub logout_token: String,
    /// `pending`, `delivered` or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: UnixTime,
    pub locked_until: Option<UnixTime>,
    pub last_error: Option<String>,
    pub created_at: UnixTime,
}

/// Background work in the `jobs` table (see `jobs::background`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    /// What to do, e.g. `password_reset_request` (the payload says the rest).
    pub kind: String,
    /// Sealed JSON with the job id as associated data; empty once done or given up.
    pub payload: Vec<u8>,
    /// `pending`, `done` or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: UnixTime,
    /// While set and in the future, one worker has claimed the job.
    pub locked_until: Option<UnixTime>,
    pub last_error: Option<String>,
    pub created_at: UnixTime,
    pub finished_at: Option<UnixTime>,
}

/// One entry of the audit trail: who did what to whom, from where, with what result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// UUID v7 text.
    pub id: String,
    pub at: UnixTime,
    /// What happened, e.g. `login.succeeded`, `user.created` (see `audit::kinds`).
    pub kind: String,
    /// `user`, `client` (an admin API caller) or `system`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    /// The user the event is about.
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `success` or `failure`.
    pub result: String,
    /// JSON object text; never a secret, a password, an email or a personnummer.
    pub details: String,
    /// The admin caller's `Idempotency-Key`, unique per actor.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request the key was first used with.
    pub request_hash: Option<String>,
}

/// What an audit query asks for; every filter is optional. Newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    /// Inclusive.
    pub from: Option<UnixTime>,
    /// Exclusive.
    pub until: Option<UnixTime>,
    /// Events strictly older than this `(at, id)`: the cursor of the previous page.
    pub before: Option<(UnixTime, String)>,
    pub limit: i64,
}

/// What a user search asks for. Ordered by `(created_at, id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Matches a substring of the email or the name, case-insensitively.
    pub search: Option<String>,
    pub disabled: Option<bool>,
    pub has_password: Option<bool>,
    pub bankid_linked: Option<bool>,
    /// Users strictly after this `(created_at, id)`: the cursor of the previous page.
    pub after: Option<(UnixTime, String)>,
    pub limit: i64,
}

/// A user as listed to administrators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub user: User,
    pub has_personnummer: bool,
    pub bankid_linked: bool,
}

/// The work queues, each a table worked by the job worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkQueue {
    /// `outbox`: emails.
    Outbox,
    /// `backchannel_deliveries`: back-channel logout tokens.
    Backchannel,
    /// `jobs`: background jobs.
    Jobs,
}

impl WorkQueue {
    pub const ALL: [WorkQueue; 3] = [WorkQueue::Outbox, WorkQueue::Backchannel, WorkQueue::Jobs];
}

/// How a work queue stands (metrics): what waits, since when, and what was given up on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Items with status `pending` (due or waiting for a retry).
    pub pending: i64,
    /// `created_at` of the oldest pending item.
    pub oldest_pending_at: Option<UnixTime>,
    /// Items with status `failed`: given up after their last attempt (kept until purged).
    pub given_up: i64,
}

/// The logins of one hour, from the audit trail: successes by method, and failures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourlyLogins {
    /// The hour's start: a multiple of 3600 (a UTC hour, so also a Swedish one).
    pub hour: UnixTime,
    pub password: i64,
    pub bankid: i64,
    /// Failed logins of any method.
    pub failed: i64,
}

/// The database connection pool now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub size: u32,
    pub idle: usize,
    /// The pool's limit.
    pub max: u32,
}

/// A user's administrator role (`admin` or `support`), and since when they hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRoleGrant {
    pub user_id: String,
    pub role: String,
    pub granted_at: UnixTime,
}

/// A CSV file of customers to invite, uploaded at the admin console (`invite_batches`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteBatch {
    pub id: String,
    pub file_name: String,
    pub uploaded_by: String,
    pub started_by: Option<String>,
    /// `preview`, `running` or `done`.
    pub status: String,
    pub created_at: UnixTime,
    pub started_at: Option<UnixTime>,
    pub finished_at: Option<UnixTime>,
}

/// One line of an uploaded file and what became of it (`invite_batch_rows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteBatchRow {
    pub batch_id: String,
    /// The line in the file (the header is line 1).
    pub line: i64,
    pub email: String,
    pub name: String,
    pub locale: String,
    /// The new account's id, chosen at upload; the existing account's once `existed`.
    pub user_id: String,
    /// `pending`, `created`, `existed` or `refused`.
    pub outcome: String,
    /// Why the row was refused (a code).
    pub problem: Option<String>,
    /// The earlier line a duplicate repeats.
    pub problem_line: Option<i64>,
}

/// How many rows of a batch have each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InviteBatchCounts {
    pub pending: i64,
    pub created: i64,
    pub existed: i64,
    pub refused: i64,
}

impl InviteBatchCounts {
    pub fn total(&self) -> i64 {
        self.pending + self.created + self.existed + self.refused
    }
}

/// Everything userinfo and introspection check behind a verified access token, read in one
/// query: its grant, the grant's user, and whether the token itself (its `jti`) was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenContext {
    pub grant: Grant,
    pub user: User,
    pub jti_revoked: bool,
}

/// A user's passkey (WebAuthn credential). `credential` is webauthn-rs's serialized credential
/// (the public key and the library's own copy of the counter and flags, JSON); the other
/// columns are what we list, query and check ourselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPasskey {
    pub id: String,
    pub user_id: String,
    /// The credential id, base64url without padding; unique across all users.
    pub credential_id: String,
    pub credential: String,
    /// The relying-party id (the issuer's host) it was registered for.
    pub rp_id: String,
    /// The name its owner gave it.
    pub name: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
    /// The authenticator's signature counter at the last accepted use (0: it keeps none).
    pub sign_count: i64,
    /// The BE flag: the key may be copied to other devices (a synced passkey).
    pub backup_eligible: bool,
    /// The BS flag at the last use: the key is backed up (synced) now.
    pub backup_state: bool,
}

/// What an accepted passkey login changes on its passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUse {
    pub id: String,
    /// The counter the authenticator signed: the row is updated only if it moved forward (or
    /// both it and the stored one are 0), so of two logins with the same counter one loses.
    pub sign_count: i64,
    pub backup_state: bool,
    pub credential: String,
    pub used_at: UnixTime,
}

/// The server's half of a WebAuthn ceremony, waiting for the browser's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyChallenge {
    pub id: String,
    /// `register` or `login`.
    pub purpose: String,
    /// The user registering (a login does not know its user yet).
    pub user_id: Option<String>,
    /// webauthn-rs's ceremony state, JSON.
    pub state: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// How removing a passkey ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRemoval {
    Removed,
    /// No such passkey of this user.
    NotFound,
    /// It is the user's last way to log in (no password, no BankID link, no other passkey).
    LastWayToLogIn,
}

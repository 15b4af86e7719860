//! Every kind of audit event, in one place: the names operators filter and alert on.

pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
pub const LOGIN_FAILED: &str = "login.failed";
pub const LOGOUT: &str = "logout";
pub const PASSWORD_SET: &str = "password.set";
pub const PASSWORD_CHANGED: &str = "password.changed";
pub const PASSWORD_RESET: &str = "password.reset";
pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
pub const PERSONNUMMER_ADDED: &str = "personnummer.added";
pub const PERSONNUMMER_REMOVED: &str = "personnummer.removed";
pub const BANKID_LINKED: &str = "bankid.linked";
pub const BANKID_UNLINKED: &str = "bankid.unlinked";
pub const CONSENT_GRANTED: &str = "consent.granted";
pub const CONSENT_WITHDRAWN: &str = "consent.withdrawn";
pub const REFRESH_TOKEN_REUSED: &str = "refresh_token.reuse_detected";
pub const PROFILE_UPDATED: &str = "profile.updated";
pub const USER_CREATED: &str = "user.created";
pub const USER_INVITED: &str = "user.invited";
pub const USER_UPDATED: &str = "user.updated";
pub const USER_DISABLED: &str = "user.disabled";
pub const USER_ENABLED: &str = "user.enabled";
pub const USER_ACCESS_REVOKED: &str = "user.access_revoked";
pub const USER_DELETED: &str = "user.deleted";
pub const SESSION_REVOKED: &str = "session.revoked";
pub const CLIENT_CREATED: &str = "client.created";
pub const CLIENT_UPDATED: &str = "client.updated";
pub const CLIENT_SECRET_ROTATED: &str = "client.secret_rotated";
pub const CLIENT_DELETED: &str = "client.deleted";
pub const KEY_ROTATED: &str = "key.rotated";
pub const ADMIN_ROLE_GRANTED: &str = "admin_role.granted";
pub const ADMIN_ROLE_REVOKED: &str = "admin_role.revoked";
pub const INVITE_BATCH_STARTED: &str = "invite_batch.started";
pub const EMAIL_RETRIED: &str = "email.retried";
pub const BACKCHANNEL_RETRIED: &str = "backchannel_logout.retried";
pub const PASSKEY_ADDED: &str = "passkey.added";
pub const PASSKEY_RENAMED: &str = "passkey.renamed";
pub const PASSKEY_REMOVED: &str = "passkey.removed";
/// A passkey presented a signature counter that did not move forward: a cloned authenticator
/// (or a replay). The login was refused.
pub const PASSKEY_COUNTER_REGRESSED: &str = "passkey.counter_regressed";

/// Every kind, for validating a query's filter.
pub const ALL: &[&str] = &[
    LOGIN_SUCCEEDED,
    LOGIN_FAILED,
    LOGOUT,
    PASSWORD_SET,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    PASSWORD_RESET_REQUESTED,
    PERSONNUMMER_ADDED,
    PERSONNUMMER_REMOVED,
    BANKID_LINKED,
    BANKID_UNLINKED,
    CONSENT_GRANTED,
    CONSENT_WITHDRAWN,
    REFRESH_TOKEN_REUSED,
    PROFILE_UPDATED,
    USER_CREATED,
    USER_INVITED,
    USER_UPDATED,
    USER_DISABLED,
    USER_ENABLED,
    USER_ACCESS_REVOKED,
    USER_DELETED,
    SESSION_REVOKED,
    CLIENT_CREATED,
    CLIENT_UPDATED,
    CLIENT_SECRET_ROTATED,
    CLIENT_DELETED,
    KEY_ROTATED,
    ADMIN_ROLE_GRANTED,
    ADMIN_ROLE_REVOKED,
    INVITE_BATCH_STARTED,
    EMAIL_RETRIED,
    BACKCHANNEL_RETRIED,
    PASSKEY_ADDED,
    PASSKEY_RENAMED,
    PASSKEY_REMOVED,
    PASSKEY_COUNTER_REGRESSED,
];

/// The translation key of a kind's readable name (`login.succeeded` → `event-login-succeeded`):
/// the console shows people the name and operators the kind beside it.
pub fn label_key(kind: &str) -> String {
    format!("event-{}", kind.replace(['.', '_'], "-"))
}

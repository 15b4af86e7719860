//! Scopes we know, and the claims each releases.

/// Scopes advertised in discovery, in this order.
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Scopes a client may be granted when it was registered without an explicit list. The
/// personnummer scope is never among them: a client must be allowed it explicitly.
pub const DEFAULT_CLIENT_SCOPES: &[&str] = SUPPORTED_SCOPES;

/// Scopes of the admin API (`/admin/api/v1`), granted to clients for themselves through
/// `client_credentials`, never to a user's token.
pub const ADMIN_SCOPES: &[&str] = &[
    "admin:users:read",
    "admin:users:write",
    "admin:clients:read",
    "admin:clients:write",
    "admin:keys",
    "admin:audit:read",
];

/// Every scope this server knows: the standard ones plus the configured personnummer scope.
pub fn is_supported_scope(config: &crate::config::Config, scope: &str) -> bool {
    SUPPORTED_SCOPES.contains(&scope)
        || (config.bankid.enabled() && scope == config.bankid.personnummer_scope)
}

/// The claim that carries the 12-digit personnummer (Idura's name for it).
pub const PERSONNUMMER_CLAIM: &str = "ssn";

/// Claims released by each scope (UserInfo).
pub fn claims_for_scope(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &["name", "given_name", "family_name", "locale", "updated_at"],
        "email" => &["email", "email_verified"],
        _ => &[],
    }
}

/// Every claim we can release, for `claims_supported`.
pub const SUPPORTED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "name",
    "given_name",
    "family_name",
    "locale",
    "updated_at",
    "email",
    "email_verified",
];

/// Splits a `scope` parameter into its distinct tokens, keeping the first occurrence's order.
pub fn parse_scope(raw: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for token in raw.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_string());
        }
    }
    scopes
}

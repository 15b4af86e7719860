//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0, RFC 8414 types).

use serde_json::{Value, json};

use crate::config::Config;

use super::scopes::{PERSONNUMMER_CLAIM, SUPPORTED_CLAIMS, SUPPORTED_SCOPES};

fn scopes_supported(config: &Config) -> Vec<String> {
    let mut scopes: Vec<String> = SUPPORTED_SCOPES.iter().map(|s| s.to_string()).collect();
    if config.bankid.enabled() {
        scopes.push(config.bankid.personnummer_scope.clone());
    }
    scopes
}

fn claims_supported(config: &Config) -> Vec<&'static str> {
    let mut claims = SUPPORTED_CLAIMS.to_vec();
    if config.bankid.enabled() {
        claims.push(PERSONNUMMER_CLAIM);
    }
    claims
}

/// The `acr` values we can satisfy (see `login::methods`).
pub fn acr_values_supported(config: &Config) -> Vec<&'static str> {
    crate::login::methods::acr_values_supported(
        config.bankid.enabled(),
        crate::login::passkey::available(&config.issuer),
    )
}

pub fn endpoint(config: &Config, path: &str) -> String {
    format!("{}{}", config.issuer, path)
}

pub fn document(config: &Config) -> Value {
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": endpoint(config, "/authorize"),
        "token_endpoint": endpoint(config, "/token"),
        "userinfo_endpoint": endpoint(config, "/userinfo"),
        "jwks_uri": endpoint(config, "/jwks.json"),
        "scopes_supported": scopes_supported(config),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported":
            crate::crypto::client_jwks::CLIENT_ASSERTION_ALGS,
        "revocation_endpoint": endpoint(config, "/revoke"),
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint": endpoint(config, "/introspect"),
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "end_session_endpoint": endpoint(config, "/session/end"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "display_values_supported": ["page", "popup"],
        "claims_locales_supported": ["sv", "en"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims_supported(config),
        "acr_values_supported": acr_values_supported(config),
        "ui_locales_supported": ["sv", "en"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        // RFC 9126: the request_uri from /par is accepted although request objects are not.
        "pushed_authorization_request_endpoint": endpoint(config, "/par"),
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        // RFC 9449 §5.1.
        "dpop_signing_alg_values_supported": super::dpop::signing_algs(),
    })
}

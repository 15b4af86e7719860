//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0, RFC 8414 types).

use serde_json::{Value, json};

use crate::config::Config;

use super::scopes::{PERSONNUMMER_CLAIM, SUPPORTED_CLAIMS, SUPPORTED_SCOPES};

/// The `acr` value of a password login: a level of our own, below the Swedish eID LoA 3 that
/// BankID meets.
pub const ACR_PASSWORD: &str = "urn:leasify:acr:password";

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
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims_supported(config),
        "acr_values_supported": [ACR_PASSWORD],
        "ui_locales_supported": ["sv", "en"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

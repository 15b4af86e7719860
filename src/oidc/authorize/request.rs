//! A validated authorization request: what the client asked for, kept while the user logs in.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::oidc::claims::RequestedClaims;
use crate::oidc::response::RedirectTarget;

/// A validated authorization request, kept while the user logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub target: RedirectTarget,
    /// Granted scopes: requested ∩ supported ∩ allowed for the client, in request order.
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub ui_locales: Option<String>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    /// `sub` of a valid `id_token_hint`.
    pub hinted_subject: Option<String>,
    /// The `claims` request parameter.
    #[serde(default)]
    pub claims: RequestedClaims,
    /// The client is third-party (asks for consent); known at validation, so not looked up again.
    #[serde(default)]
    pub third_party: bool,
    /// RFC 9449 §10: the code may be redeemed only with a DPoP proof of this key.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
}

impl AuthorizationRequest {
    pub fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }

    /// `prompt=login` or `prompt=select_account`: one account per browser here, so choosing an
    /// account means logging in again.
    pub fn demands_login(&self) -> bool {
        self.prompts("login") || self.prompts("select_account")
    }

    /// What the user allows: the scopes, and the scopes carrying claims asked for by name.
    pub fn consent_scopes(&self) -> Vec<String> {
        let mut scopes = self.scopes.clone();
        for scope in self.claims.scopes_needed() {
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_string());
            }
        }
        scopes
    }

    /// The authentication levels that satisfy this request, from `acr_values` and an `acr`
    /// requested with `value(s)` in `claims`, limited to those we support. Empty: any will do
    /// (`acr_values` is a preference, and unknown values cannot be honoured anyway).
    pub fn acceptable_acrs(&self, config: &Config) -> Vec<&'static str> {
        let supported = crate::oidc::discovery::acr_values_supported(config);
        let requested: Vec<&str> = self
            .acr_values
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .chain(self.claims.acr_values.iter().map(String::as_str))
            .collect();
        supported
            .into_iter()
            .filter(|acr| requested.contains(acr))
            .collect()
    }

    /// Whether a session at level `acr` satisfies the request.
    pub fn accepts_acr(&self, config: &Config, acr: &str) -> bool {
        let acceptable = self.acceptable_acrs(config);
        acceptable.is_empty()
            || acceptable
                .iter()
                .any(|wanted| crate::login::methods::satisfies(acr, wanted))
    }
}

//! Where and how an authorization response reaches the client (RFC 6749 §4.1.2, OAuth 2.0 Form
//! Post Response Mode, RFC 9207 `iss`): the verified redirect target and the parameters sent to
//! it, success or error.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// Where and how an authorization response goes: known only once the redirect URI is verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectTarget {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
}

/// A response to send to the client: success (`code`) or error parameters, always with `iss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub target: RedirectTarget,
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// The redirect URI with the parameters added to its query (keeping the registered query).
    pub fn redirect_url(&self) -> String {
        let mut url = match url::Url::parse(&self.target.redirect_uri) {
            Ok(url) => url,
            Err(_) => return self.target.redirect_uri.clone(),
        };
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in &self.params {
                query.append_pair(k, v);
            }
        }
        url.to_string()
    }
}

/// Builds an error response for a verified target (state and iss included).
pub fn error_response(
    issuer: &str,
    target: &RedirectTarget,
    error: &str,
    description: &str,
) -> AuthorizationResponse {
    let mut params = vec![("error".to_string(), error.to_string())];
    if !description.is_empty() {
        params.push(("error_description".into(), description.into()));
    }
    if let Some(state) = &target.state {
        params.push(("state".into(), state.clone()));
    }
    params.push(("iss".into(), issuer.to_string()));
    AuthorizationResponse {
        target: target.clone(),
        params,
    }
}

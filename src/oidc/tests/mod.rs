//! Unit tests of the protocol core: the decisions of the authorization, token, UserInfo,
//! revocation and introspection endpoints, called directly on a [`TestKit`] (no HTTP). The HTTP
//! contract (status codes, headers, pages, redirects) is tested in `tests/it`.

mod authorize;
mod par;
mod resources;
mod token;

use std::collections::HashMap;

use base64::Engine;
use sha2::Digest;

use crate::login::methods::Method;
use crate::login::sessions::ActiveSession;
use crate::store::{Client, User};
use crate::testkit::{REDIRECT_URI, TestKit};

use super::authorize::{AuthorizeOutcome, authorize};
use super::response::AuthorizationResponse;
use super::token::TokenResponse;

pub(super) const STATE: &str = "st-1";

pub(super) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn form(list: &[(&str, &str)]) -> HashMap<String, String> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A code request of `client_id` for `scope openid` with `state`, followed by `extra`.
pub(super) fn code_request(client_id: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params = pairs(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("state", STATE),
    ]);
    if !extra.iter().any(|(k, _)| *k == "scope") {
        params.push(("scope".into(), "openid".into()));
    }
    params.extend(pairs(extra));
    params
}

/// A PKCE verifier and its S256 challenge.
pub(super) fn pkce_pair() -> (String, String) {
    let verifier = crate::crypto::random_token(&crate::clock::OsEntropy);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The value of `name` in an authorization response.
pub(super) fn param<'a>(response: &'a AuthorizationResponse, name: &str) -> Option<&'a str> {
    response
        .params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A first-party client `rp` and a user logged in with a password.
pub(super) struct Flow {
    pub kit: TestKit,
    pub client: Client,
    pub user: User,
    pub session: ActiveSession,
}

impl Flow {
    pub async fn new() -> Flow {
        let kit = TestKit::new().await;
        let client = kit.client("rp").await;
        let user = kit.user("anna@example.se").await;
        let session = kit.session(&user, Method::Password).await;
        Flow {
            kit,
            client,
            user,
            session,
        }
    }

    /// A code for `client` (logged in as `session`) with PKCE; returns it and its verifier.
    pub async fn code_for(
        &self,
        client: &Client,
        session: &ActiveSession,
        extra: &[(&str, &str)],
    ) -> (String, String) {
        let (verifier, challenge) = pkce_pair();
        let mut request = code_request(&client.id, extra);
        request.extend(pairs(&[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]));
        match authorize(&self.kit.state, &request, Some(session)).await {
            Ok(AuthorizeOutcome::Respond(response)) => {
                let code = param(&response, "code").expect("a code").to_string();
                (code, verifier)
            }
            other => panic!("expected a code, got {other:?}"),
        }
    }

    pub async fn code(&self, extra: &[(&str, &str)]) -> (String, String) {
        self.code_for(&self.client, &self.session, extra).await
    }

    pub fn redemption(&self, code: &str, verifier: &str) -> HashMap<String, String> {
        form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
    }

    /// Tokens for a fresh code with `extra` request parameters.
    pub async fn tokens(&self, extra: &[(&str, &str)]) -> TokenResponse {
        let (code, verifier) = self.code(extra).await;
        super::token::token(
            &self.kit.state,
            &self.client,
            &self.redemption(&code, &verifier),
            &Default::default(),
        )
        .await
        .expect("tokens")
    }

    pub async fn refresh(
        &self,
        client: &Client,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, super::TokenError> {
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(scope) = scope {
            fields.push(("scope", scope));
        }
        super::token::token(&self.kit.state, client, &form(&fields), &Default::default()).await
    }
}

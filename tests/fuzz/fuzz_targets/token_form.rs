//! The token endpoint: `Content-Type`, `Authorization` and the form body through
//! `web::extract::ClientRequest::parse` (`parse_pairs`, duplicate check,
//! `PresentedCredentials::from_request` / `parse_basic`), then `oidc::token::token` with its client
//! authentication (`oidc::client_auth::authenticate`), against the harness clients.
//!
//! Input: three lines: the `Content-Type` value, the `Authorization` value (empty: none) and the
//! form body. In the body `@CODE@` becomes a fresh authorization code and `@REFRESH@` a fresh
//! refresh token, both of `fuzz-user` for the client the request names (redirect URI
//! `https://rp.example/cb`, scope `openid offline_access`; the code has the PKCE challenge of
//! `dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk` if the client is public or the body has a
//! `code_verifier`).
//!
//! Invariants: `parse_basic` decodes what a client encodes (RFC 6749 §2.3.1) and refuses nothing
//! such; a request is answered with tokens only if the client proved who it is (right secret for
//! a confidential client; none for the public one; never an assertion, which nobody here can
//! sign) and presented a code or refresh token issued to it (same redirect URI, right PKCE
//! verifier); the tokens are ours, for that client and user; no input causes a 500.
#![no_main]

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use leasify_id::oidc::TokenError;
use leasify_id::oidc::client_auth::{PresentedCredentials, authenticate};
use leasify_id::oidc::token::TokenResponse;
use leasify_id::oidc::tokens::{verify_access_token, verify_id_token_hint};
use leasify_id::oidc::userinfo::PresentedToken;
use leasify_id::web::extract::{ClientRequest, parse_pairs};
use leasify_id_fuzz::{
    CONFIDENTIAL, CONFIDENTIAL_SECRET, Harness, PKCE_VERIFIER, POST, POST_SECRET, PUBLIC,
    REDIRECT_URI, USER, debug, fields, harness, replace, text,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECRETS: &[(&str, &str)] = &[(CONFIDENTIAL, CONFIDENTIAL_SECRET), (POST, POST_SECRET)];

/// A code or refresh token handed out for this input.
struct Issued {
    client: String,
    code: Option<(String, bool)>,
    refresh: Option<String>,
}

/// The client the request names (Basic first, then the form), if it is one we can issue for.
fn named_client(authorization: &str, body: &[u8]) -> String {
    let from_basic = PresentedCredentials::parse_basic(authorization)
        .ok()
        .flatten()
        .map(|(id, _)| id);
    let from_form = parse_pairs(body)
        .into_iter()
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v);
    from_basic
        .or(from_form)
        .filter(|c| [CONFIDENTIAL, POST, PUBLIC].contains(&c.as_str()))
        .unwrap_or_else(|| CONFIDENTIAL.into())
}

/// A refresh token for `client`: a code, exchanged with the client's real credentials.
fn refresh_token_for(h: &Harness, client: &str) -> String {
    let public = client == PUBLIC;
    let code = h.issue_code(client, public);
    let mut form = HashMap::from([
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".to_string(), code),
        ("redirect_uri".to_string(), REDIRECT_URI.to_string()),
    ]);
    let mut presented = PresentedCredentials {
        form_client_id: Some(client.into()),
        ..Default::default()
    };
    match SECRETS.iter().find(|(id, _)| *id == client) {
        Some((_, secret)) => presented.form_client_secret = Some(secret.to_string()),
        None => {
            form.insert("code_verifier".into(), PKCE_VERIFIER.into());
        }
    }
    h.block_on(token(&h.state, &presented, &form))
        .expect("the harness's own exchange works")
        .refresh_token
        .expect("offline_access gives a refresh token")
}

/// The token endpoint as the server runs it: the client authenticated for `/token`, then the
/// grant.
async fn token(
    state: &leasify_id::state::AppState,
    presented: &PresentedCredentials,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, TokenError> {
    let endpoint = format!("{}/token", state.config.issuer);
    let client = authenticate(state, presented, &endpoint).await?;
    leasify_id::oidc::token::token(state, &client, form, &Default::default()).await
}

fn prepare(h: &Harness, authorization: &str, body: &[u8]) -> (Vec<u8>, Issued) {
    let client = named_client(authorization, body);
    let mut issued = Issued {
        client: client.clone(),
        code: None,
        refresh: None,
    };
    let mut body = body.to_vec();
    if body.windows(6).any(|w| w == b"@CODE@") {
        let pkce = client == PUBLIC || body.windows(13).any(|w| w == b"code_verifier");
        let code = h.issue_code(&client, pkce);
        body = replace(&body, b"@CODE@", code.as_bytes());
        issued.code = Some((code, pkce));
    }
    if body.windows(9).any(|w| w == b"@REFRESH@") {
        let refresh = refresh_token_for(h, &client);
        body = replace(&body, b"@REFRESH@", refresh.as_bytes());
        issued.refresh = Some(refresh);
    }
    (body, issued)
}

/// RFC 6749 §2.3.1: the client form-urlencodes id and secret, joins them with `:`, base64.
fn check_basic_round_trip(id: &str, secret: &str) {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let header = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    );
    let parsed = PresentedCredentials::parse_basic(&header).expect("a well-formed Basic header");
    assert_eq!(parsed, Some((id.to_string(), secret.to_string())));
}

/// Which client, by the request's credentials, was authenticated; panics if none could be.
fn authenticated_client(presented: &PresentedCredentials) -> String {
    assert!(
        presented.client_assertion.is_none() && presented.client_assertion_type.is_none(),
        "a client assertion was accepted, but nobody here can sign one"
    );
    match (&presented.basic, &presented.form_client_id) {
        (Some((id, secret)), form_id) => {
            assert!(
                SECRETS.contains(&(id.as_str(), secret.as_str())),
                "Basic {id:?} with a wrong secret accepted"
            );
            assert!(form_id.as_ref().is_none_or(|f| f == id));
            assert!(presented.form_client_secret.is_none());
            id.clone()
        }
        (None, Some(id)) => {
            match &presented.form_client_secret {
                Some(secret) => assert!(
                    SECRETS.contains(&(id.as_str(), secret.as_str())),
                    "client_secret_post {id:?} with a wrong secret accepted"
                ),
                None => assert_eq!(id, PUBLIC, "{id:?} accepted without a secret"),
            }
            id.clone()
        }
        (None, None) => panic!("tokens without client authentication"),
    }
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let parts = fields(data, 3);
    let content_type = parts[0];
    let authorization = parts.get(1).copied().unwrap_or_default();
    let raw_body = parts.get(2).copied().unwrap_or_default();

    // Client side of Basic, with arbitrary id and secret.
    check_basic_round_trip(&text(content_type), &text(authorization));
    let authorization_text = text(authorization);
    let _ = PresentedCredentials::parse_basic(&authorization_text);
    if let Some(bearer) = PresentedToken::bearer_from_header(&authorization_text) {
        assert!(authorization_text.len() >= bearer.len() + 7);
    }

    let (body, issued) = prepare(h, &authorization_text, raw_body);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if !authorization.is_empty()
        && let Ok(value) = HeaderValue::from_bytes(authorization)
    {
        headers.insert(header::AUTHORIZATION, value);
    }
    let (presented, form) =
        match ClientRequest::parse(&headers, &body).map(|r| (r.credentials, r.form)) {
            Ok(parsed) => parsed,
            Err(e) => {
                debug(|| format!("client_request: {e:?}"));
                assert!([400, 401].contains(&e.status), "{e:?}");
                return;
            }
        };
    let pairs = parse_pairs(&body);
    assert_eq!(pairs.len(), form.len(), "duplicates must be refused");
    for (k, v) in &pairs {
        assert_eq!(form.get(k), Some(v));
    }

    let result = h.block_on(token(&h.state, &presented, &form));
    debug(|| format!("{:?}", result.as_ref().map(|r| &r.scope)));
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            assert!([400, 401].contains(&e.status), "{e:?}");
            return;
        }
    };

    let client = authenticated_client(&presented);
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let (code, pkce) = issued
                .code
                .as_ref()
                .expect("tokens for a code we never issued");
            assert_eq!(form.get("code"), Some(code));
            assert_eq!(client, issued.client, "a code redeemed by another client");
            assert_eq!(
                form.get("redirect_uri").map(String::as_str),
                Some(REDIRECT_URI)
            );
            if *pkce {
                assert_eq!(
                    form.get("code_verifier").map(String::as_str),
                    Some(PKCE_VERIFIER)
                );
            } else {
                assert!(!form.contains_key("code_verifier"));
            }
        }
        Some("refresh_token") => {
            let refresh = issued
                .refresh
                .as_ref()
                .expect("refreshed with a token we never issued");
            assert_eq!(form.get("refresh_token"), Some(refresh));
            assert_eq!(
                client, issued.client,
                "a refresh token used by another client"
            );
            for scope in response.scope.split(' ') {
                assert!(["openid", "offline_access"].contains(&scope), "{scope}");
            }
        }
        other => panic!("tokens for grant_type {other:?}"),
    }

    assert_eq!(response.token_type, "Bearer");
    let verified = h
        .block_on(verify_access_token(&h.state, &response.access_token))
        .unwrap_or_else(|e| panic!("our own access token does not verify: {e}"));
    assert_eq!(verified.grant.client_id, client);
    assert_eq!(verified.grant.user_id, USER);
    assert_eq!(
        verified.claims.get("client_id"),
        Some(&Value::from(client.clone()))
    );
    let openid = response.scope.split(' ').any(|s| s == "openid");
    assert_eq!(response.id_token.is_some(), openid);
    if let Some(id_token) = &response.id_token {
        let claims = h
            .block_on(verify_id_token_hint(&h.state, id_token))
            .expect("our own ID token verifies");
        assert_eq!(claims.get("aud"), Some(&Value::from(client)));
        assert_eq!(claims.get("sub"), Some(&Value::from(USER)));
    }
});

//! Two instances on one PostgreSQL database behave as one: a login at instance A gives a code that
//! instance B redeems, and refresh and UserInfo work at either. Only meaningful on PostgreSQL.

use crate::common;

use base64::Engine;
use common::*;
use leasify_id::config::SecretsConfig;
use openidconnect::OAuth2TokenResponse;
use reqwest::StatusCode;

fn key(seed: u8) -> String {
    let bytes: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(31).wrapping_add(seed))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The secrets both instances share (as the deployment guide requires).
fn shared_secrets() -> SecretsConfig {
    SecretsConfig {
        encryption_keys: [("k1".to_string(), key(1))].into_iter().collect(),
        active_encryption_key: "k1".into(),
        hmac_key: key(2),
        blind_index_key: key(3),
    }
}

/// Instance A on a fresh schema, then instance B on the same schema with A's issuer and its own
/// data dir and port. `None` (with a note) on SQLite.
async fn two_instances() -> Option<(TestServer, TestServer)> {
    if backend() != Backend::Postgres {
        println!(
            "note: two_instances needs PostgreSQL (LEASIFY_TEST_BACKEND=postgres); skipped on SQLite"
        );
        return None;
    }
    let a = TestServer::start_with(|config| config.secrets = shared_secrets()).await;
    let (database_url, issuer) = (a.database_url.clone(), a.base_url.clone());
    let b = TestServer::start_with(move |config| {
        config.secrets = shared_secrets();
        config.database_url = database_url;
        config.issuer = issuer;
    })
    .await;
    assert_eq!(b.issuer(), a.base_url);
    assert_ne!(b.base_url, a.base_url);
    Some((a, b))
}

#[tokio::test]
async fn a_code_from_instance_a_is_redeemed_at_instance_b() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (client_id, secret) = a.create_client("Hyresportalen").await;
    let sub = a
        .create_user("anna@example.se", "Anna Svensson", PASSWORD)
        .await;

    // Both publish the same keys.
    let jwks = |s: &TestServer| {
        let url = s.url("/jwks.json");
        async move {
            read(plain_client().get(url).send().await.unwrap())
                .await
                .json()
        }
    };
    assert_eq!(
        jwks(&a).await,
        jwks(&b).await,
        "one key set for both instances"
    );

    // The relying party discovers A; its token and UserInfo requests go to B's socket.
    let mut rp = a.relying_party(&client_id, Some(&secret)).await;
    rp.route_to = Some(b.base_url.clone());

    let authorization = rp.authorization(&["email"], true, |r| r);
    let mut browser = Browser::new(&a.base_url);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), "anna@example.se", PASSWORD)
        .await;
    let (tokens, claims) = rp.complete(authorization, &callback).await;
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(
        claims.issuer().as_str(),
        a.base_url,
        "B issues tokens as the shared issuer"
    );

    // UserInfo at B and at A.
    let access_token = tokens.access_token().secret();
    for server in [&a, &b] {
        let info = userinfo_request(&server.base_url, access_token).await;
        assert_eq!(info.status, StatusCode::OK, "{}", info.describe());
        assert_eq!(info.json()["sub"], sub.as_str());
    }

    // Refresh at B, then with the rotated token at A.
    let refreshed = rp
        .refresh(tokens.refresh_token().unwrap())
        .await
        .expect("refresh at B");
    rp.verify_id_token(&refreshed, None);
    let at_a = redeem_refresh_token(
        &a.base_url,
        (&client_id, &secret),
        refreshed.refresh_token().unwrap().secret(),
    )
    .await;
    assert_eq!(at_a.status, StatusCode::OK, "{}", at_a.describe());

    // Reuse detection spans instances: the first refresh token, replayed at A after the grace
    // window, revokes the family at B too.
    a.clock.advance(10);
    b.clock.advance(10);
    let replay = redeem_refresh_token(
        &a.base_url,
        (&client_id, &secret),
        tokens.refresh_token().unwrap().secret(),
    )
    .await;
    assert_token_error(&replay, 400, "invalid_grant");
    let latest = at_a.json()["access_token"].as_str().unwrap().to_string();
    assert_access_token_dead(&b.base_url, &latest).await;
}

#[tokio::test]
async fn a_session_and_a_code_are_shared_and_used_once() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (client_id, secret) = a.create_client("Hyresportalen").await;
    a.create_user("anna@example.se", "Anna Svensson", PASSWORD)
        .await;

    // Log in at A, then the same browser (cookies are per host, not per port) is recognised by B.
    let mut browser = Browser::new(&a.base_url);
    let (code, verifier) = browser
        .code_for(&client_id, "anna@example.se", PASSWORD)
        .await;
    let session = browser
        .cookie("__Host-leasify-session")
        .expect("a session cookie")
        .to_string();
    let (challenge, _) = pkce_pair();
    let silent = read(
        plain_client()
            .get(authorize_url(
                &b.base_url,
                &[
                    ("response_type", "code"),
                    ("client_id", &client_id),
                    ("redirect_uri", REDIRECT_URI),
                    ("scope", "openid"),
                    ("state", "b1"),
                    ("prompt", "none"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            ))
            .header("cookie", format!("__Host-leasify-session={session}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let callback = client_redirect(&silent);
    let params = query_params(&callback);
    assert!(
        params.contains_key("code"),
        "B knows A's session: {callback}"
    );
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(a.base_url.as_str())
    );

    // A code redeemed at B cannot be redeemed again at A.
    let first = redeem_code(&b.base_url, (&client_id, &secret), &code, &verifier).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.describe());
    let again = redeem_code(&a.base_url, (&client_id, &secret), &code, &verifier).await;
    assert_token_error(&again, 400, "invalid_grant");
    assert_access_token_dead(&b.base_url, first.json()["access_token"].as_str().unwrap()).await;
}

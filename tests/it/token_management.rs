//! Token revocation (RFC 7009), introspection (RFC 7662) and `private_key_jwt` client
//! authentication (RFC 7523, OpenID Connect Core §9), against a real server.

use crate::common;

use common::*;
use josekit::jwk::alg::ec::EcKeyPair;
use josekit::jws::{self, JwsHeader};
use leasify_id::admin::clients::{self, NewClient};
use leasify_id::clock::Clock;
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

const EMAIL: &str = "sam.berg@example.se";
const NAME: &str = "Sam Berg";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Tokens of one code exchange.
struct Tokens {
    access: String,
    refresh: String,
}

/// A code for `client_id` exchanged with Basic authentication; the browser logs in if needed.
async fn tokens_for(server: &TestServer, browser: &mut Browser, client: (&str, &str)) -> Tokens {
    let (code, verifier) = browser.code_for(client.0, EMAIL, PASSWORD).await;
    let response = redeem_code(&server.base_url, client, &code, &verifier).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    let body = response.json();
    Tokens {
        access: body["access_token"].as_str().expect("access_token").into(),
        refresh: body["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .into(),
    }
}

/// POSTs a form to `path` with optional Basic authentication.
async fn post(
    server: &TestServer,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Response {
    let mut request = plain_client()
        .post(server.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).expect("form"));
    if let Some((id, secret)) = basic {
        request = request.header(header::AUTHORIZATION, basic_auth(id, secret));
    }
    read(request.send().await.expect("request")).await
}

async fn revoke(server: &TestServer, client: (&str, &str), form: &[(&str, &str)]) -> Response {
    post(server, "/revoke", Some(client), form).await
}

async fn introspect(server: &TestServer, client: (&str, &str), token: &str) -> Value {
    let response = post(server, "/introspect", Some(client), &[("token", token)]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    assert_json_no_store(&response);
    response.json()
}

fn assert_ok_empty(response: &Response) {
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
}

struct Setup {
    server: TestServer,
    sub: String,
    a: (String, String),
    b: (String, String),
}

impl Setup {
    async fn start() -> Setup {
        let server = TestServer::start().await;
        let sub = server.create_user(EMAIL, NAME, PASSWORD).await;
        let a = server.create_client("Hyresportalen").await;
        let b = server.create_client("Fakturaportalen").await;
        Setup { server, sub, a, b }
    }

    fn a(&self) -> (&str, &str) {
        (&self.a.0, &self.a.1)
    }

    fn b(&self) -> (&str, &str) {
        (&self.b.0, &self.b.1)
    }
}

// ---------------------------------------------------------------------------------------------
// Revocation

#[tokio::test]
async fn revoking_a_refresh_token_kills_it_and_its_access_token() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let mut browser = Browser::new(&server.base_url);
    let tokens = tokens_for(server, &mut browser, setup.a()).await;
    assert_eq!(
        userinfo_request(&server.base_url, &tokens.access)
            .await
            .status,
        StatusCode::OK
    );
    let response = revoke(
        server,
        setup.a(),
        &[
            ("token", &tokens.refresh),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_ok_empty(&response);
    let refreshed = redeem_refresh_token(&server.base_url, setup.a(), &tokens.refresh).await;
    assert_token_error(&refreshed, 400, "invalid_grant");
    assert_access_token_dead(&server.base_url, &tokens.access).await;
    // Revoking again is fine (RFC 7009 §2.2).
    assert_ok_empty(&revoke(server, setup.a(), &[("token", &tokens.refresh)]).await);
}

#[tokio::test]
async fn revoking_a_refresh_token_with_the_wrong_hint_still_works() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let mut browser = Browser::new(&server.base_url);
    let tokens = tokens_for(server, &mut browser, setup.a()).await;
    let response = revoke(
        server,
        setup.a(),
        &[
            ("token", &tokens.refresh),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_ok_empty(&response);
    let refreshed = redeem_refresh_token(&server.base_url, setup.a(), &tokens.refresh).await;
    assert_token_error(&refreshed, 400, "invalid_grant");
}

#[tokio::test]
async fn revoking_an_access_token_leaves_the_refresh_token() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let mut browser = Browser::new(&server.base_url);
    let tokens = tokens_for(server, &mut browser, setup.a()).await;
    let response = revoke(
        server,
        setup.a(),
        &[
            ("token", &tokens.access),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_ok_empty(&response);
    assert_access_token_dead(&server.base_url, &tokens.access).await;
    let refreshed = redeem_refresh_token(&server.base_url, setup.a(), &tokens.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
    let new_access = refreshed.json()["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    assert_eq!(
        userinfo_request(&server.base_url, &new_access).await.status,
        StatusCode::OK,
        "the new access token works"
    );
    assert_access_token_dead(&server.base_url, &tokens.access).await;
}

#[tokio::test]
async fn revoking_an_unknown_token_is_ok() {
    let setup = Setup::start().await;
    let server = &setup.server;
    for token in [
        "no-such-token",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "a.b.c",
    ] {
        assert_ok_empty(&revoke(server, setup.a(), &[("token", token)]).await);
    }
    let missing = revoke(server, setup.a(), &[]).await;
    assert_token_error(&missing, 400, "invalid_request");
}

#[tokio::test]
async fn another_clients_token_cannot_be_revoked() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let mut browser = Browser::new(&server.base_url);
    let tokens = tokens_for(server, &mut browser, setup.a()).await;
    for token in [&tokens.refresh, &tokens.access] {
        let response = revoke(server, setup.b(), &[("token", token)]).await;
        assert_token_error(&response, 400, "unauthorized_client");
    }
    // Both still live.
    assert_eq!(
        userinfo_request(&server.base_url, &tokens.access)
            .await
            .status,
        StatusCode::OK
    );
    let refreshed = redeem_refresh_token(&server.base_url, setup.a(), &tokens.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
}

#[tokio::test]
async fn revocation_and_introspection_need_client_authentication() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let mut browser = Browser::new(&server.base_url);
    let tokens = tokens_for(server, &mut browser, setup.a()).await;
    for path in ["/revoke", "/introspect"] {
        let none = post(server, path, None, &[("token", &tokens.refresh)]).await;
        assert_token_error(&none, 401, "invalid_client");
        assert!(
            none.header("www-authenticate")
                .is_some_and(|c| c.to_ascii_lowercase().starts_with("basic")),
            "a Basic challenge: {}",
            none.describe()
        );
        let wrong = post(
            server,
            path,
            Some((&setup.a.0, "wrong-secret")),
            &[("token", &tokens.refresh)],
        )
        .await;
        assert_token_error(&wrong, 401, "invalid_client");
        let unknown = post(
            server,
            path,
            Some(("no-such-client", "x")),
            &[("token", &tokens.refresh)],
        )
        .await;
        assert_token_error(&unknown, 401, "invalid_client");
    }
    let refreshed = redeem_refresh_token(&server.base_url, setup.a(), &tokens.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
}

// ---------------------------------------------------------------------------------------------
// Introspection

#[tokio::test]
async fn introspection_of_live_and_dead_tokens() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let mut browser = Browser::new(&server.base_url);
    let tokens = tokens_for(server, &mut browser, setup.a()).await;
    let now = server.clock.now();

    let access = introspect(server, setup.a(), &tokens.access).await;
    assert_eq!(access["active"], true, "{access}");
    assert_eq!(access["sub"], setup.sub);
    assert_eq!(access["client_id"], setup.a.0);
    assert_eq!(access["iss"], server.issuer());
    assert_eq!(access["token_type"], "Bearer");
    assert!(
        access["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "openid")
    );
    assert!(access["exp"].as_i64().unwrap() > now);

    let refresh = introspect(server, setup.a(), &tokens.refresh).await;
    assert_eq!(refresh["active"], true, "{refresh}");
    assert_eq!(refresh["sub"], setup.sub);
    assert_eq!(refresh["client_id"], setup.a.0);
    assert!(refresh["exp"].as_i64().unwrap() > now);

    // A resource server (another confidential client) may introspect them too.
    assert_eq!(
        introspect(server, setup.b(), &tokens.access).await["active"],
        true
    );

    // Unknown and garbage tokens are inactive, and say nothing else.
    for token in ["nope", "a.b.c"] {
        assert_eq!(
            introspect(server, setup.a(), token).await,
            json!({"active": false})
        );
    }

    // A used (rotated) refresh token is inactive; its successor is active.
    let refreshed = redeem_refresh_token(&server.base_url, setup.a(), &tokens.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let next = refreshed.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        introspect(server, setup.a(), &tokens.refresh).await,
        json!({"active": false})
    );
    assert_eq!(introspect(server, setup.a(), &next).await["active"], true);

    // A revoked access token is inactive; revoking the refresh token kills the whole grant.
    assert_ok_empty(&revoke(server, setup.a(), &[("token", &tokens.access)]).await);
    assert_eq!(
        introspect(server, setup.a(), &tokens.access).await,
        json!({"active": false})
    );
    assert_ok_empty(&revoke(server, setup.a(), &[("token", &next)]).await);
    assert_eq!(
        introspect(server, setup.a(), &next).await,
        json!({"active": false})
    );

    // An expired access token is inactive.
    let mut browser = Browser::new(&server.base_url);
    let fresh = tokens_for(server, &mut browser, setup.a()).await;
    server
        .clock
        .advance(server.state.config.tokens.access_token_ttl + 1);
    assert_eq!(
        introspect(server, setup.a(), &fresh.access).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(server, setup.a(), &fresh.refresh).await["active"],
        true
    );
}

#[tokio::test]
async fn a_public_client_sees_only_its_own_tokens() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let public = server.create_public_client("Mobilappen").await;
    let mut browser = Browser::new(&server.base_url);
    let a_tokens = tokens_for(server, &mut browser, setup.a()).await;

    let as_public = |token: String| {
        let public = public.clone();
        async move {
            let response = post(
                server,
                "/introspect",
                None,
                &[("token", &token), ("client_id", &public)],
            )
            .await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
            response.json()
        }
    };
    assert_eq!(
        as_public(a_tokens.access.clone()).await,
        json!({"active": false})
    );
    assert_eq!(
        as_public(a_tokens.refresh.clone()).await,
        json!({"active": false})
    );

    // Its own tokens it may see.
    let (code, verifier) = browser.code_for(&public, EMAIL, PASSWORD).await;
    let response = token_request(
        &server.base_url,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", &public),
        ],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    let own = response.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let seen = as_public(own).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["client_id"], public);
}

// ---------------------------------------------------------------------------------------------
// private_key_jwt

struct JwtClient {
    id: String,
    pair: EcKeyPair,
}

const KID: &str = "rp-key-1";

async fn private_key_jwt_client(server: &TestServer) -> JwtClient {
    let pair = jws::ES256.generate_key_pair().expect("EC key");
    let mut public = pair.to_jwk_public_key();
    public.set_key_id(KID);
    public.set_algorithm("ES256");
    let jwks = json!({ "keys": [serde_json::to_value(public.as_ref()).unwrap()] }).to_string();
    let view = clients::create(
        &server.state,
        NewClient {
            name: "Signerande app".into(),
            redirect_uris: vec![REDIRECT_URI.to_string()],
            token_endpoint_auth_method: Some("private_key_jwt".into()),
            jwks: Some(jwks),
            ..Default::default()
        },
    )
    .await
    .expect("private_key_jwt client");
    assert!(
        view.client_secret.is_none(),
        "no secret for private_key_jwt"
    );
    JwtClient {
        id: view.client_id,
        pair,
    }
}

fn sign(pair: &EcKeyPair, claims: &Value) -> String {
    let mut header = JwsHeader::new();
    header.set_algorithm("ES256");
    header.set_key_id(KID);
    let signer = jws::ES256
        .signer_from_jwk(&pair.to_jwk_private_key())
        .expect("signer");
    jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).expect("assertion")
}

fn assertion_claims(server: &TestServer, client_id: &str, jti: &str) -> Value {
    let now = server.clock.now();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": format!("{}/token", server.issuer()),
        "iat": now,
        "exp": now + 60,
        "jti": jti,
    })
}

/// Exchanges a fresh code with `assertion` (and optionally more fields).
async fn exchange_with_assertion(
    server: &TestServer,
    browser: &mut Browser,
    client_id: &str,
    assertion: &str,
    basic: Option<(&str, &str)>,
) -> Response {
    let (code, verifier) = browser.code_for(client_id, EMAIL, PASSWORD).await;
    token_request(
        &server.base_url,
        basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

#[tokio::test]
async fn private_key_jwt_exchanges_a_code_and_refuses_replays() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let client = private_key_jwt_client(server).await;
    let mut browser = Browser::new(&server.base_url);

    let assertion = sign(&client.pair, &assertion_claims(server, &client.id, "jti-1"));
    let ok = exchange_with_assertion(server, &mut browser, &client.id, &assertion, None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.describe());
    let body = ok.json();
    assert!(body["id_token"].is_string() && body["access_token"].is_string());
    assert_eq!(
        jwt_claims(body["id_token"].as_str().unwrap())["aud"],
        client.id
    );

    // The same assertion (same jti) again, with a fresh code: a replay.
    let replay = exchange_with_assertion(server, &mut browser, &client.id, &assertion, None).await;
    assert_token_error(&replay, 401, "invalid_client");

    // The other accepted audiences: the issuer itself, and (at /revoke) that endpoint.
    let mut claims = assertion_claims(server, &client.id, "jti-2");
    claims["aud"] = json!(server.issuer());
    let ok = exchange_with_assertion(
        server,
        &mut browser,
        &client.id,
        &sign(&client.pair, &claims),
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.describe());
    let refresh = ok.json()["refresh_token"].as_str().unwrap().to_string();
    let mut claims = assertion_claims(server, &client.id, "jti-3");
    claims["aud"] = json!(server.url("/revoke"));
    let revoked = post(
        server,
        "/revoke",
        None,
        &[
            ("token", &refresh),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &sign(&client.pair, &claims)),
        ],
    )
    .await;
    assert_ok_empty(&revoked);
    let mut claims = assertion_claims(server, &client.id, "jti-4");
    claims["aud"] = json!(server.issuer());
    let refreshed = token_request(
        &server.base_url,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &sign(&client.pair, &claims)),
        ],
    )
    .await;
    assert_token_error(&refreshed, 400, "invalid_grant");

    // After the remembered jti expired, the assertion is refused as expired anyway.
    server.clock.advance(3600);
    let late = exchange_with_assertion(server, &mut browser, &client.id, &assertion, None).await;
    assert_token_error(&late, 401, "invalid_client");
}

#[tokio::test]
async fn private_key_jwt_refuses_bad_assertions() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let client = private_key_jwt_client(server).await;
    let mut browser = Browser::new(&server.base_url);

    // Signed with another key (same kid).
    let other = jws::ES256.generate_key_pair().expect("EC key");
    let wrong_key = sign(&other, &assertion_claims(server, &client.id, "k-1"));
    let response =
        exchange_with_assertion(server, &mut browser, &client.id, &wrong_key, None).await;
    assert_token_error(&response, 401, "invalid_client");

    // Expired.
    let mut claims = assertion_claims(server, &client.id, "k-2");
    let now = server.clock.now();
    claims["iat"] = json!(now - 600);
    claims["exp"] = json!(now - 300);
    let response = exchange_with_assertion(
        server,
        &mut browser,
        &client.id,
        &sign(&client.pair, &claims),
        None,
    )
    .await;
    assert_token_error(&response, 401, "invalid_client");

    // Wrong audience, wrong issuer, no jti, too long-lived.
    for (name, value) in [
        ("aud", json!("https://elsewhere.example/token")),
        ("iss", json!("someone-else")),
        ("jti", Value::Null),
        ("exp", json!(now + 24 * 3600)),
    ] {
        let mut claims = assertion_claims(server, &client.id, &format!("k-{name}"));
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value;
        }
        let response = exchange_with_assertion(
            server,
            &mut browser,
            &client.id,
            &sign(&client.pair, &claims),
            None,
        )
        .await;
        assert_token_error(&response, 401, "invalid_client");
    }

    // alg none with the right claims.
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(&assertion_claims(server, &client.id, "k-none").to_string())
    );
    let response = exchange_with_assertion(server, &mut browser, &client.id, &unsigned, None).await;
    assert_token_error(&response, 401, "invalid_client");

    // After all that, a good assertion works (none of the failures burnt the client).
    let good = sign(
        &client.pair,
        &assertion_claims(server, &client.id, "k-good"),
    );
    let response = exchange_with_assertion(server, &mut browser, &client.id, &good, None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
}

#[tokio::test]
async fn a_private_key_jwt_client_cannot_use_a_secret() {
    let setup = Setup::start().await;
    let server = &setup.server;
    let client = private_key_jwt_client(server).await;
    let mut browser = Browser::new(&server.base_url);
    for secret in ["", "guessed-secret"] {
        let (code, verifier) = browser.code_for(&client.id, EMAIL, PASSWORD).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ];
        let basic = token_request(&server.base_url, Some((&client.id, secret)), &form).await;
        assert_token_error(&basic, 401, "invalid_client");
        let mut post_form = form.to_vec();
        post_form.push(("client_id", &client.id));
        post_form.push(("client_secret", secret));
        let posted = token_request(&server.base_url, None, &post_form).await;
        assert_token_error(&posted, 401, "invalid_client");
        // Nor as a public client (client_id only).
        let mut public_form = form.to_vec();
        public_form.push(("client_id", &client.id));
        let public = token_request(&server.base_url, None, &public_form).await;
        assert_token_error(&public, 401, "invalid_client");
    }
}

#[tokio::test]
async fn a_secret_client_cannot_use_an_assertion() {
    let setup = Setup::start().await;
    let server = &setup.server;
    // A client_secret_basic client whose id someone signs an assertion for with their own key.
    let pair = jws::ES256.generate_key_pair().expect("EC key");
    let mut browser = Browser::new(&server.base_url);
    let assertion = sign(&pair, &assertion_claims(server, &setup.a.0, "x-1"));
    let response =
        exchange_with_assertion(server, &mut browser, &setup.a.0, &assertion, None).await;
    assert_token_error(&response, 401, "invalid_client");
}

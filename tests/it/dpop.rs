//! DPoP (RFC 9449) over real HTTP: tokens bound to the client's key at `/token`, a public
//! client's refresh token bound too, UserInfo refusing a bound token without a proof of its key
//! (replayed, for another URL or method, for another token, as a bearer token), nonces for a
//! client that requires them, "DPoP required", the code bound by `dpop_jkt` or by a proof at
//! `/par`, introspection reporting the binding, discovery, the CLI and the admin API.

use crate::admin_api::{ALL_ADMIN_SCOPES, admin_token, call, machine_client};
use crate::cli::Install;
use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jws::{self, JwsHeader};
use leasify_id::admin::clients::{self, NewClient};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const EMAIL: &str = "anna@example.se";

/// A client's DPoP key, making proofs.
struct DpopKey {
    pair: EcKeyPair,
}

/// What a proof says, besides its `jti` and `iat`.
#[derive(Default)]
struct ProofFor<'a> {
    method: &'a str,
    url: String,
    access_token: Option<&'a str>,
    nonce: Option<&'a str>,
}

impl DpopKey {
    fn new() -> DpopKey {
        DpopKey {
            pair: EcKeyPair::generate(EcCurve::P256).expect("P-256 key"),
        }
    }

    /// The RFC 7638 thumbprint, computed here independently of the server.
    fn thumbprint(&self) -> String {
        let jwk = self.pair.to_jwk_public_key();
        let member = |name: &str| {
            jwk.parameter(name)
                .and_then(Value::as_str)
                .unwrap()
                .to_string()
        };
        let canonical = format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv"),
            member("x"),
            member("y")
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn proof(&self, what: &ProofFor<'_>, iat: i64) -> String {
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": what.method,
            "htu": what.url,
            "iat": iat,
        });
        if let Some(token) = what.access_token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = what.nonce {
            claims["nonce"] = json!(nonce);
        }
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_jwk(self.pair.to_jwk_public_key());
        let signer = jws::ES256
            .signer_from_jwk(&self.pair.to_jwk_private_key())
            .expect("signer");
        jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).expect("proof")
    }
}

fn now(server: &TestServer) -> i64 {
    server.state.clock.now()
}

fn at_token(server: &TestServer) -> ProofFor<'static> {
    ProofFor {
        method: "POST",
        url: server.url("/token"),
        ..Default::default()
    }
}

fn at_userinfo<'a>(server: &TestServer, access_token: &'a str) -> ProofFor<'a> {
    ProofFor {
        method: "GET",
        url: server.url("/userinfo"),
        access_token: Some(access_token),
        ..Default::default()
    }
}

/// POSTs `form` to `path` with Basic authentication if given, and the DPoP header if given.
async fn post_form(
    server: &TestServer,
    path: &str,
    basic: Option<(&str, &str)>,
    proof: Option<&str>,
    form: &[(&str, &str)],
) -> Response {
    let mut request = plain_client()
        .post(server.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).expect("form encoding"));
    if let Some((id, secret)) = basic {
        request = request.header(header::AUTHORIZATION, basic_auth(id, secret));
    }
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    read(request.send().await.expect("request")).await
}

/// GET UserInfo with `Authorization: <scheme> <token>` and the DPoP header if given.
async fn userinfo(server: &TestServer, scheme: &str, token: &str, proof: Option<&str>) -> Response {
    let mut request = plain_client()
        .get(server.url("/userinfo"))
        .header(header::AUTHORIZATION, format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    read(request.send().await.expect("userinfo request")).await
}

/// A 401 from UserInfo with a `DPoP` challenge carrying `error`.
fn assert_dpop_challenge(response: &Response, error: &str) {
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        response.describe()
    );
    let challenge = response.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains(&format!("error=\"{error}\"")),
        "a DPoP challenge with {error}: {challenge}"
    );
    assert!(challenge.contains("algs=\""), "{challenge}");
}

/// A code for `client_id` with PKCE, after logging in (the browser logs in only once).
async fn code(browser: &mut Browser, client_id: &str) -> (String, String) {
    browser.code_for(client_id, EMAIL, PASSWORD).await
}

fn code_redemption<'a>(
    client_id: &'a str,
    code: &'a str,
    verifier: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ]
}

#[tokio::test]
async fn a_public_client_gets_bound_tokens_and_only_its_key_can_use_them() {
    let server = TestServer::start().await;
    server.create_user(EMAIL, "Anna Andersson", PASSWORD).await;
    let spa = server.create_public_client("Mobilappen").await;
    let key = DpopKey::new();
    let mut browser = Browser::new(&server.base_url);
    let (code, verifier) = code(&mut browser, &spa).await;

    let proof = key.proof(&at_token(&server), now(&server));
    let tokens = post_form(
        &server,
        "/token",
        None,
        Some(&proof),
        &code_redemption(&spa, &code, &verifier),
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().expect("access token");
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    assert_eq!(jwt_claims(access)["cnf"]["jkt"], key.thumbprint());

    // UserInfo: with the DPoP scheme and a proof of the key, for this request and this token.
    let ok = userinfo(
        &server,
        "DPoP",
        access,
        Some(&key.proof(&at_userinfo(&server, access), now(&server))),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.describe());
    assert_eq!(ok.json()["email"], EMAIL);
    // As a bearer token it is worth nothing (RFC 9449 §7.2).
    assert_dpop_challenge(
        &userinfo(&server, "Bearer", access, None).await,
        "invalid_token",
    );
    // Nor with another key's proof.
    let thief = DpopKey::new();
    let stolen = thief.proof(&at_userinfo(&server, access), now(&server));
    assert_dpop_challenge(
        &userinfo(&server, "DPoP", access, Some(&stolen)).await,
        "invalid_dpop_proof",
    );

    // The refresh token of a public client is bound as well.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("client_id", spa.as_str()),
        ("refresh_token", refresh),
    ];
    let without = post_form(&server, "/token", None, None, &refresh_form).await;
    assert_token_error(&without, 400, "invalid_grant");
    let with_thief = thief.proof(&at_token(&server), now(&server));
    let refused = post_form(&server, "/token", None, Some(&with_thief), &refresh_form).await;
    assert_token_error(&refused, 400, "invalid_grant");
    let proof = key.proof(&at_token(&server), now(&server));
    let refreshed = post_form(&server, "/token", None, Some(&proof), &refresh_form).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
    let refreshed = refreshed.json();
    assert_eq!(refreshed["token_type"], "DPoP");
    let access = refreshed["access_token"].as_str().expect("access token");
    assert_eq!(jwt_claims(access)["cnf"]["jkt"], key.thumbprint());
    // Its successor stays bound.
    let next = [
        ("grant_type", "refresh_token"),
        ("client_id", spa.as_str()),
        (
            "refresh_token",
            refreshed["refresh_token"].as_str().unwrap(),
        ),
    ];
    let with_thief = thief.proof(&at_token(&server), now(&server));
    let refused = post_form(&server, "/token", None, Some(&with_thief), &next).await;
    assert_token_error(&refused, 400, "invalid_grant");
}

#[tokio::test]
async fn userinfo_refuses_proofs_that_do_not_fit_the_request() {
    let server = TestServer::start().await;
    server.create_user(EMAIL, "Anna Andersson", PASSWORD).await;
    let (id, secret) = server.create_client("Hyresportalen").await;
    let key = DpopKey::new();
    let mut browser = Browser::new(&server.base_url);
    let (code, verifier) = code(&mut browser, &id).await;
    let proof = key.proof(&at_token(&server), now(&server));
    let tokens = post_form(
        &server,
        "/token",
        Some((&id, &secret)),
        Some(&proof),
        &code_redemption(&id, &code, &verifier),
    )
    .await
    .json();
    let access = tokens["access_token"].as_str().expect("access token");
    assert_eq!(tokens["token_type"], "DPoP");
    // A confidential client's refresh token is bound to its credentials, not to the key.
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let plain_refresh = token_request(
        &server.base_url,
        Some((&id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        plain_refresh.status,
        StatusCode::OK,
        "{}",
        plain_refresh.describe()
    );
    let plain_refresh = plain_refresh.json();
    assert_eq!(plain_refresh["token_type"], "Bearer");
    let next_refresh = plain_refresh["refresh_token"]
        .as_str()
        .expect("refresh token");

    let at = now(&server);
    let good = key.proof(&at_userinfo(&server, access), at);
    assert_eq!(
        userinfo(&server, "DPoP", access, Some(&good)).await.status,
        StatusCode::OK
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("the same proof again", Some(good.clone())),
        ("no proof", None),
        (
            "a proof for POST",
            Some(key.proof(
                &ProofFor {
                    method: "POST",
                    ..at_userinfo(&server, access)
                },
                at,
            )),
        ),
        (
            "a proof for another URL",
            Some(key.proof(
                &ProofFor {
                    url: server.url("/token"),
                    ..at_userinfo(&server, access)
                },
                at,
            )),
        ),
        (
            "a proof for another token",
            Some(key.proof(&at_userinfo(&server, "another.access.token"), at)),
        ),
        (
            "a proof made two minutes ago",
            Some(key.proof(&at_userinfo(&server, access), at - 120)),
        ),
    ];
    for (what, proof) in cases {
        let response = userinfo(&server, "DPoP", access, proof.as_deref()).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_dpop_challenge(&response, "invalid_dpop_proof");
    }
    // A bearer token presented with the DPoP scheme is refused too.
    let bearer = token_request(
        &server.base_url,
        Some((&id, &secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", next_refresh),
        ],
    )
    .await;
    let bearer_access = bearer.json()["access_token"].as_str().unwrap().to_string();
    let proof = key.proof(&at_userinfo(&server, &bearer_access), now(&server));
    assert_dpop_challenge(
        &userinfo(&server, "DPoP", &bearer_access, Some(&proof)).await,
        "invalid_token",
    );
    assert_eq!(
        userinfo_request(&server.base_url, &bearer_access)
            .await
            .status,
        StatusCode::OK
    );

    // Without any token, both schemes are offered.
    let anonymous = read(
        plain_client()
            .get(server.url("/userinfo"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let challenges: Vec<&str> = anonymous
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("DPoP")),
        "{challenges:?}"
    );
}

#[tokio::test]
async fn a_client_requiring_dpop_and_nonces_gets_them_asked_for() {
    let server = TestServer::start().await;
    server.create_user(EMAIL, "Anna Andersson", PASSWORD).await;
    let view = clients::create(
        &server.state,
        NewClient {
            name: "Finansportalen".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            dpop_bound_access_tokens: true,
            require_dpop_nonce: true,
            ..Default::default()
        },
    )
    .await
    .expect("client created");
    let (id, secret) = (view.client_id, view.client_secret.expect("a secret"));
    let key = DpopKey::new();
    let mut browser = Browser::new(&server.base_url);
    let (code, verifier) = code(&mut browser, &id).await;
    let form = code_redemption(&id, &code, &verifier);
    let basic = Some((id.as_str(), secret.as_str()));

    // No proof: refused before the code is looked at, so the code is still good.
    let without = post_form(&server, "/token", basic, None, &form).await;
    assert_token_error(&without, 400, "invalid_request");
    // A proof without a nonce: use_dpop_nonce, and the nonce to use.
    let proof = key.proof(&at_token(&server), now(&server));
    let asked = post_form(&server, "/token", basic, Some(&proof), &form).await;
    assert_token_error(&asked, 400, "use_dpop_nonce");
    let nonce = asked
        .header("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_string();
    let with_nonce = ProofFor {
        nonce: Some(&nonce),
        ..at_token(&server)
    };
    let proof = key.proof(&with_nonce, now(&server));
    let tokens = post_form(&server, "/token", basic, Some(&proof), &form).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());
    assert!(
        tokens.header("dpop-nonce").is_some(),
        "a fresh nonce with the answer"
    );
    let access = tokens.json()["access_token"].as_str().unwrap().to_string();

    // UserInfo asks for a nonce the same way (RFC 9449 §9).
    let proof = key.proof(&at_userinfo(&server, &access), now(&server));
    let asked = userinfo(&server, "DPoP", &access, Some(&proof)).await;
    assert_dpop_challenge(&asked, "use_dpop_nonce");
    let nonce = asked
        .header("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_string();
    let proof = key.proof(
        &ProofFor {
            nonce: Some(&nonce),
            ..at_userinfo(&server, &access)
        },
        now(&server),
    );
    let ok = userinfo(&server, "DPoP", &access, Some(&proof)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.describe());

    // Two windows later the nonce is stale and a new one is handed out.
    server.clock.advance(121);
    let proof = key.proof(
        &ProofFor {
            nonce: Some(&nonce),
            ..at_userinfo(&server, &access)
        },
        now(&server),
    );
    let stale = userinfo(&server, "DPoP", &access, Some(&proof)).await;
    assert_dpop_challenge(&stale, "use_dpop_nonce");
}

/// Redeems `code` as the confidential client `basic`, with a proof of `key` if one is given.
async fn redeem(
    server: &TestServer,
    basic: (&str, &str),
    key: Option<&DpopKey>,
    code: &str,
    verifier: &str,
) -> Response {
    let proof = key.map(|key| key.proof(&at_token(server), now(server)));
    let form = code_redemption(basic.0, code, verifier);
    post_form(server, "/token", Some(basic), proof.as_deref(), &form).await
}

/// Pushes a code request with PKCE (`challenge`) and `extra` to `/par`, with a proof of `key`.
async fn push(
    server: &TestServer,
    basic: (&str, &str),
    key: Option<&DpopKey>,
    challenge: &str,
    extra: &[(&str, &str)],
) -> Response {
    let at_par = ProofFor {
        method: "POST",
        url: server.url("/par"),
        ..Default::default()
    };
    let proof = key.map(|key| key.proof(&at_par, now(server)));
    let mut fields = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    fields.extend_from_slice(extra);
    post_form(server, "/par", Some(basic), proof.as_deref(), &fields).await
}

/// The code a logged-in browser brings back for `params` at `/authorize`.
async fn silent_code(
    server: &TestServer,
    browser: &mut Browser,
    params: &[(&str, &str)],
) -> String {
    let url = authorize_url(&server.base_url, params);
    query_params(&browser.authorize_silently(&url).await)["code"].clone()
}

#[tokio::test]
async fn the_code_can_be_bound_to_a_key_by_dpop_jkt_or_a_proof_at_par() {
    let server = TestServer::start().await;
    server.create_user(EMAIL, "Anna Andersson", PASSWORD).await;
    let (id, secret) = server.create_client("Hyresportalen").await;
    let basic = (id.as_str(), secret.as_str());
    let key = DpopKey::new();
    let other = DpopKey::new();
    let mut browser = Browser::new(&server.base_url);
    browser.code_for(&id, EMAIL, PASSWORD).await;

    // dpop_jkt at /authorize.
    let (challenge, verifier) = pkce_pair();
    let jkt = key.thumbprint();
    let code = silent_code(
        &server,
        &mut browser,
        &[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("dpop_jkt", &jkt),
        ],
    )
    .await;
    let refused = redeem(&server, basic, Some(&other), &code, &verifier).await;
    assert_token_error(&refused, 400, "invalid_dpop_proof");
    // A failed attempt uses the code up, like any other.
    let spent = redeem(&server, basic, Some(&key), &code, &verifier).await;
    assert_token_error(&spent, 400, "invalid_grant");

    // A proof at /par binds the code the same way (RFC 9449 §10.1): not without a proof…
    for (proof_at_token, expected) in [
        (None, StatusCode::BAD_REQUEST),
        (Some(&key), StatusCode::OK),
    ] {
        let (challenge, verifier) = pkce_pair();
        let pushed = push(&server, basic, Some(&key), &challenge, &[]).await;
        assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.describe());
        let request_uri = pushed.json()["request_uri"].as_str().unwrap().to_string();
        let params = [("client_id", id.as_str()), ("request_uri", &request_uri)];
        let code = silent_code(&server, &mut browser, &params).await;
        let tokens = redeem(&server, basic, proof_at_token, &code, &verifier).await;
        assert_eq!(tokens.status, expected, "{}", tokens.describe());
        if expected == StatusCode::OK {
            // …and with one of the same key.
            assert_eq!(tokens.json()["token_type"], "DPoP");
        } else {
            assert_token_error(&tokens, 400, "invalid_dpop_proof");
        }
    }

    // dpop_jkt and a proof of another key at /par contradict each other.
    let other_jkt = other.thumbprint();
    let contradicting = push(
        &server,
        basic,
        Some(&key),
        &challenge,
        &[("dpop_jkt", &other_jkt)],
    )
    .await;
    assert_token_error(&contradicting, 400, "invalid_dpop_proof");
    // A malformed dpop_jkt is refused like any malformed parameter.
    let malformed = push(
        &server,
        basic,
        None,
        &challenge,
        &[("dpop_jkt", "not-a-thumbprint")],
    )
    .await;
    assert_token_error(&malformed, 400, "invalid_request");
}

#[tokio::test]
async fn token_endpoint_errors_for_proofs_are_json() {
    let server = TestServer::start().await;
    let (machine, machine_secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let basic = Some((machine.as_str(), machine_secret.as_str()));
    let key = DpopKey::new();
    let form = [("grant_type", "client_credentials")];
    // client_credentials binds too.
    let proof = key.proof(&at_token(&server), now(&server));
    let bound = post_form(&server, "/token", basic, Some(&proof), &form).await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.describe());
    assert_eq!(bound.json()["token_type"], "DPoP");
    let access = bound.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_claims(&access)["cnf"]["jkt"], key.thumbprint());
    // A replayed proof, a proof for /userinfo, garbage, and two DPoP headers.
    let replay = post_form(&server, "/token", basic, Some(&proof), &form).await;
    assert_token_error(&replay, 400, "invalid_dpop_proof");
    let elsewhere = key.proof(
        &ProofFor {
            method: "POST",
            url: server.url("/userinfo"),
            ..Default::default()
        },
        now(&server),
    );
    assert_token_error(
        &post_form(&server, "/token", basic, Some(&elsewhere), &form).await,
        400,
        "invalid_dpop_proof",
    );
    assert_token_error(
        &post_form(&server, "/token", basic, Some("e30.e30.e30"), &form).await,
        400,
        "invalid_dpop_proof",
    );
    let twice = read(
        plain_client()
            .post(server.url("/token"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, basic_auth(&machine, &machine_secret))
            .header("DPoP", key.proof(&at_token(&server), now(&server)))
            .header("DPoP", key.proof(&at_token(&server), now(&server)))
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_token_error(&twice, 400, "invalid_dpop_proof");

    // Introspection reports the binding (RFC 9449 §6.2) and checks a forwarded proof.
    let introspected = post_form(&server, "/introspect", basic, None, &[("token", &access)]).await;
    let answer = introspected.json();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"]["jkt"], key.thumbprint());
    let resource = "https://api.leasify.se/contracts";
    let forwarded = key.proof(
        &ProofFor {
            method: "GET",
            url: resource.into(),
            access_token: Some(&access),
            nonce: None,
        },
        now(&server),
    );
    let fields = [
        ("token", access.as_str()),
        ("dpop", &forwarded),
        ("htm", "GET"),
        ("htu", resource),
    ];
    let checked = post_form(&server, "/introspect", basic, None, &fields)
        .await
        .json();
    assert_eq!(checked["active"], true, "{checked}");
    let replayed = post_form(&server, "/introspect", basic, None, &fields)
        .await
        .json();
    assert_eq!(replayed["active"], false, "{replayed}");
    assert_eq!(replayed["dpop_error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn discovery_the_cli_and_the_admin_api_know_dpop() {
    let server = TestServer::start().await;
    let document: Value = plain_client()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs = document["dpop_signing_alg_values_supported"]
        .as_array()
        .expect("dpop_signing_alg_values_supported");
    assert!(algs.contains(&json!("ES256")) && algs.contains(&json!("RS256")));
    assert!(
        !algs
            .iter()
            .any(|a| a == "none" || a.as_str().unwrap().starts_with("HS"))
    );

    let (machine, machine_secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let token = admin_token(&server, &machine, &machine_secret, ALL_ADMIN_SCOPES).await;
    let token = Some(token.as_str());
    let created = call(
        &server,
        Method::POST,
        "/clients",
        token,
        Some(json!({
            "name": "Finansportalen",
            "redirect_uris": [REDIRECT_URI],
            "dpop_bound_access_tokens": true,
        })),
        None,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["dpop_bound_access_tokens"], true);
    assert_eq!(created.body["require_dpop_nonce"], false);
    let path = format!("/clients/{}", created.body["client_id"].as_str().unwrap());
    let patched = call(
        &server,
        Method::PATCH,
        &path,
        token,
        Some(json!({"require_dpop_nonce": true, "dpop_bound_access_tokens": false})),
        None,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let got = call(&server, Method::GET, &path, token, None, None).await;
    assert_eq!(got.body["dpop_bound_access_tokens"], false);
    assert_eq!(got.body["require_dpop_nonce"], true);

    let install = Install::new().await;
    let created = install.json(&[
        "client",
        "create",
        "--name",
        "Finansportalen",
        "--redirect-uri",
        REDIRECT_URI,
        "--require-dpop",
    ]);
    assert_eq!(created["dpop_bound_access_tokens"], true);
    let id = created["client_id"].as_str().expect("client_id");
    let changed = install.json(&[
        "client",
        "update",
        id,
        "--no-require-dpop",
        "--require-dpop-nonce",
    ]);
    assert_eq!(changed["dpop_bound_access_tokens"], false);
    assert_eq!(changed["require_dpop_nonce"], true);
    let shown = install.json(&["client", "show", id]);
    assert_eq!(shown["require_dpop_nonce"], true);
}

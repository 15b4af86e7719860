//! RP-Initiated Logout 1.0 (every case of the OpenID conformance plan) and Back-Channel Logout
//! 1.0, against a real server; the back-channel receiver is a small HTTP server in the test.

use crate::common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::*;
use josekit::jwk::JwkSet;
use josekit::jws::{self, JwsHeader};
use leasify_id::admin::clients::{self, NewClient};
use leasify_id::clock::Clock;
use leasify_id::jobs::Report;
use leasify_id::workers::backchannel::deliver_due;
use openidconnect::core::{CoreAuthPrompt, CoreTokenResponse};
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use url::Url;

const EMAIL: &str = "lova.lind@example.se";
const NAME: &str = "Lova Lind";
/// The post-logout redirect URI every test client registers.
const POST_LOGOUT: &str = "https://rp.example.com/post_logout_redirect";
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Upper bound for an event that happens at once (never reached when the code works).
const EVENTUALLY: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Set-up

struct Setup {
    server: TestServer,
    rp: Rp,
    client_id: String,
    secret: String,
}

async fn setup() -> Setup {
    setup_with_backchannel(None).await
}

async fn setup_with_backchannel(backchannel_logout_uri: Option<String>) -> Setup {
    let server = TestServer::start().await;
    server.create_user(EMAIL, NAME, PASSWORD).await;
    let view = clients::create(
        &server.state,
        NewClient {
            name: "Hyresportalen".into(),
            redirect_uris: vec![REDIRECT_URI.to_string()],
            post_logout_redirect_uris: vec![POST_LOGOUT.to_string()],
            backchannel_logout_session_required: backchannel_logout_uri.is_some(),
            backchannel_logout_uri,
            scopes: vec!["openid".into(), "email".into(), "offline_access".into()],
            ..Default::default()
        },
    )
    .await
    .expect("client created");
    let secret = view.client_secret.expect("a secret");
    let rp = server.relying_party(&view.client_id, Some(&secret)).await;
    Setup {
        server,
        rp,
        client_id: view.client_id,
        secret,
    }
}

/// Logs in through the relying party; returns the tokens, the raw ID token and its claims.
async fn login(setup: &Setup, browser: &mut Browser) -> (CoreTokenResponse, String, Value) {
    let authorization = setup.rp.authorization(&["email"], true, |r| r);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, _) = setup.rp.complete(authorization, &callback).await;
    let id_token = tokens.id_token().expect("an ID token").to_string();
    let claims = jwt_claims(&id_token);
    assert!(
        claims["sid"].as_str().is_some_and(|s| !s.is_empty()),
        "the ID token carries sid: {claims}"
    );
    (tokens, id_token, claims)
}

fn end_session_url(server: &TestServer, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&server.url("/session/end")).expect("URL");
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    url.to_string()
}

/// `prompt=none` is answered with `login_required`: the user really is logged out.
async fn assert_logged_out(setup: &Setup, browser: &mut Browser) {
    let authorization = setup
        .rp
        .authorization(&[], true, |r| r.add_prompt(CoreAuthPrompt::None));
    let callback = browser.authorize_silently(authorization.url.as_str()).await;
    let params = query_params(&callback);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("login_required"),
        "prompt=none after logout: {callback}"
    );
    assert!(
        browser.cookie("__Host-leasify-session").is_none(),
        "the session cookie is gone"
    );
}

/// `prompt=none` still gets a code: nothing logged the user out.
async fn assert_still_logged_in(setup: &Setup, browser: &mut Browser) {
    let authorization = setup
        .rp
        .authorization(&[], true, |r| r.add_prompt(CoreAuthPrompt::None));
    let callback = browser.authorize_silently(authorization.url.as_str()).await;
    let params = query_params(&callback);
    assert!(
        params.contains_key("code"),
        "still logged in, prompt=none answers with a code: {callback}"
    );
}

/// The response is a page, not a redirect anywhere (in particular not to a post-logout URI).
fn assert_no_redirect(response: &Response) {
    assert_eq!(
        response.status,
        StatusCode::OK,
        "a page, not a redirect:\n{}",
        response.describe()
    );
    assert!(
        response.header("location").is_none(),
        "no Location: {}",
        response.describe()
    );
    assert!(
        !response.body.contains("http-equiv=\"refresh\""),
        "no meta refresh"
    );
}

/// The confirmation form of a confirmation page.
fn confirmation_form(page: &Response) -> Form {
    assert_no_redirect(page);
    let form = Form::find(page, "form[action=\"/session/end/confirm\"]")
        .unwrap_or_else(|| panic!("a logout confirmation form:\n{}", page.describe()));
    assert_eq!(form.method, "post");
    assert!(
        form.get("csrf").is_some_and(|c| !c.is_empty()),
        "the form carries a CSRF token: {form:?}"
    );
    form
}

/// Confirms on the page; returns the response (no redirects followed).
async fn confirm(browser: &mut Browser, page: &Response) -> Response {
    let form = confirmation_form(page);
    browser.post_form(form.action.as_str(), &form.fields).await
}

/// The "you are logged out" page.
fn assert_logged_out_page(response: &Response) {
    assert_no_redirect(response);
    assert!(
        response.body.contains("Du är utloggad"),
        "the logged-out page:\n{}",
        response.describe()
    );
    assert!(
        response
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|c| c.starts_with("__Host-leasify-session=")),
        "the session cookie is cleared"
    );
}

/// An end-session request that must not log out or redirect at once: a confirmation page; the
/// user is still logged in until confirming; confirming logs out and shows the logged-out page.
async fn assert_confirmation_then_logged_out_page(
    setup: &Setup,
    browser: &mut Browser,
    params: &[(&str, &str)],
) {
    let page = browser.get(&end_session_url(&setup.server, params)).await;
    confirmation_form(&page);
    assert_still_logged_in(setup, browser).await;
    let page = browser.get(&end_session_url(&setup.server, params)).await;
    let done = confirm(browser, &page).await;
    assert_logged_out_page(&done);
    assert_logged_out(setup, browser).await;
}

// ---------------------------------------------------------------------------------------------
// RP-Initiated Logout: the conformance plan's modules

#[tokio::test]
async fn rp_initiated_logout_redirects_with_state() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (tokens, id_token, _) = login(&setup, &mut browser).await;
    let state = "s".repeat(128);
    let response = browser
        .get(&end_session_url(
            &setup.server,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", &state),
            ],
        ))
        .await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.describe()
    );
    let location = response.location().expect("Location");
    assert_eq!(location.as_str().split('?').next(), Some(POST_LOGOUT));
    let params: Vec<(String, String)> = location
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(params, vec![("state".to_string(), state)], "only state");
    assert_logged_out(&setup, &mut browser).await;
    // The session's tokens died with it (no offline_access was asked for).
    assert_access_token_dead(&setup.server.base_url, tokens.access_token().secret()).await;
    if let Some(refresh) = tokens.refresh_token() {
        let refreshed = redeem_refresh_token(
            &setup.server.base_url,
            (&setup.client_id, &setup.secret),
            refresh.secret(),
        )
        .await;
        assert_token_error(&refreshed, 400, "invalid_grant");
    }
}

#[tokio::test]
async fn rp_initiated_logout_without_state_redirects_without_state() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, _) = login(&setup, &mut browser).await;
    let response = browser
        .get(&end_session_url(
            &setup.server,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", POST_LOGOUT),
            ],
        ))
        .await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.describe()
    );
    assert_eq!(response.header("location"), Some(POST_LOGOUT));
    assert_logged_out(&setup, &mut browser).await;
}

#[tokio::test]
async fn rp_initiated_logout_by_post_form() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, _) = login(&setup, &mut browser).await;
    let fields = vec![
        ("id_token_hint".to_string(), id_token),
        (
            "post_logout_redirect_uri".to_string(),
            POST_LOGOUT.to_string(),
        ),
        ("state".to_string(), "xyz".to_string()),
    ];
    let response = browser
        .post_form(&setup.server.url("/session/end"), &fields)
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(
        response.header("location"),
        Some(format!("{POST_LOGOUT}?state=xyz").as_str())
    );
    assert_logged_out(&setup, &mut browser).await;
}

#[tokio::test]
async fn unregistered_post_logout_redirect_uri_asks_and_never_redirects_there() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, _) = login(&setup, &mut browser).await;
    let bad = "https://attacker.example/post_logout_redirect";
    // The page does not even let a form go to the unregistered origin.
    let page = browser
        .get(&end_session_url(
            &setup.server,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", bad),
            ],
        ))
        .await;
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(!csp.contains("attacker.example"), "CSP: {csp}");
    assert_confirmation_then_logged_out_page(
        &setup,
        &mut browser,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", bad),
            ("state", "st"),
        ],
    )
    .await;
}

#[tokio::test]
async fn query_added_to_post_logout_redirect_uri_is_not_a_match() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, _) = login(&setup, &mut browser).await;
    let modified = format!("{POST_LOGOUT}?foo=bar");
    assert_confirmation_then_logged_out_page(
        &setup,
        &mut browser,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", &modified),
            ("state", "st"),
        ],
    )
    .await;
}

#[tokio::test]
async fn id_token_hint_modified_to_alg_none_is_not_trusted() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, _) = login(&setup, &mut browser).await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = id_token.split('.').nth(1).expect("payload");
    let unsigned = format!("{}.{payload}.", b64.encode(r#"{"alg":"none"}"#));
    assert_confirmation_then_logged_out_page(
        &setup,
        &mut browser,
        &[
            ("id_token_hint", &unsigned),
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("state", "st"),
        ],
    )
    .await;
}

#[tokio::test]
async fn id_token_hint_signed_by_another_key_is_not_trusted() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, claims) = login(&setup, &mut browser).await;
    // The same claims and even the server's kid, signed with a key of the attacker's.
    let pair = jws::RS256.generate_key_pair(2048).expect("RSA key");
    let mut header = JwsHeader::new();
    header.set_algorithm("RS256");
    header.set_key_id(jwt_header(&id_token)["kid"].as_str().expect("kid"));
    let signer = jws::RS256
        .signer_from_jwk(&pair.to_jwk_private_key())
        .expect("signer");
    let forged = jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer)
        .expect("forged hint");
    assert_confirmation_then_logged_out_page(
        &setup,
        &mut browser,
        &[
            ("id_token_hint", &forged),
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("state", "st"),
        ],
    )
    .await;
}

#[tokio::test]
async fn no_id_token_hint_asks_and_does_not_redirect() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    login(&setup, &mut browser).await;
    assert_confirmation_then_logged_out_page(
        &setup,
        &mut browser,
        &[("post_logout_redirect_uri", POST_LOGOUT), ("state", "st")],
    )
    .await;
}

#[tokio::test]
async fn no_params_logs_out_after_confirmation_without_redirect() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    login(&setup, &mut browser).await;
    assert_confirmation_then_logged_out_page(&setup, &mut browser, &[]).await;
}

#[tokio::test]
async fn no_post_logout_redirect_uri_logs_out_and_shows_a_page() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, _) = login(&setup, &mut browser).await;
    let response = browser
        .get(&end_session_url(
            &setup.server,
            &[("id_token_hint", &id_token), ("state", "st")],
        ))
        .await;
    // The client has a registered post-logout URI, but none was asked for: no redirect.
    assert_logged_out_page(&response);
    assert_logged_out(&setup, &mut browser).await;
}

#[tokio::test]
async fn only_state_logs_out_after_confirmation_without_redirect() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    login(&setup, &mut browser).await;
    assert_confirmation_then_logged_out_page(&setup, &mut browser, &[("state", "st")]).await;
}

// ---------------------------------------------------------------------------------------------
// RP-Initiated Logout: beyond the plan

#[tokio::test]
async fn confirmation_needs_the_csrf_token() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    login(&setup, &mut browser).await;
    let page = browser.get(&end_session_url(&setup.server, &[])).await;
    let mut form = confirmation_form(&page);
    form.set("csrf", "forged");
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_ne!(response.status, StatusCode::OK, "{}", response.describe());
    assert!(response.header("location").is_none());
    assert_still_logged_in(&setup, &mut browser).await;
}

#[tokio::test]
async fn confirming_a_registered_uri_named_by_client_id_redirects_there() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    login(&setup, &mut browser).await;
    // client_id identifies the RP but proves nothing: ask first, then go to its registered URI.
    let params = [
        ("client_id", setup.client_id.as_str()),
        ("post_logout_redirect_uri", POST_LOGOUT),
        ("state", "st"),
    ];
    let page = browser.get(&end_session_url(&setup.server, &params)).await;
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("https://rp.example.com"), "CSP: {csp}");
    let done = confirm(&mut browser, &page).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    assert_eq!(
        done.header("location"),
        Some(format!("{POST_LOGOUT}?state=st").as_str())
    );
    assert_logged_out(&setup, &mut browser).await;
}

#[tokio::test]
async fn confirmation_form_cannot_be_edited_into_a_redirect() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    login(&setup, &mut browser).await;
    let page = browser
        .get(&end_session_url(
            &setup.server,
            &[("post_logout_redirect_uri", "https://attacker.example/")],
        ))
        .await;
    let mut form = confirmation_form(&page);
    form.set("post_logout_redirect_uri", "https://attacker.example/x");
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_logged_out_page(&done);
}

#[tokio::test]
async fn a_logout_token_is_not_an_id_token_hint() {
    let (receiver, uri) = Receiver::start(vec![]).await;
    let setup = setup_with_backchannel(Some(uri)).await;
    // One login and logout yields a logout token (signed by the server, aud = the client).
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, _) = login(&setup, &mut browser).await;
    let response = browser
        .get(&end_session_url(
            &setup.server,
            &[("id_token_hint", &id_token)],
        ))
        .await;
    assert_logged_out_page(&response);
    let logout_token = receiver.next().await.logout_token();
    // Log in again; a logout token presented as the hint must not be trusted.
    let mut browser = Browser::new(&setup.server.base_url);
    login(&setup, &mut browser).await;
    assert_confirmation_then_logged_out_page(
        &setup,
        &mut browser,
        &[
            ("id_token_hint", &logout_token),
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("state", "st"),
        ],
    )
    .await;
}

#[tokio::test]
async fn offline_access_outlives_the_session() {
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let authorization = setup.rp.authorization(&["offline_access"], true, |r| r);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, _) = setup.rp.complete(authorization, &callback).await;
    let id_token = tokens.id_token().expect("ID token").to_string();
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let response = browser
        .get(&end_session_url(
            &setup.server,
            &[("id_token_hint", &id_token)],
        ))
        .await;
    assert_logged_out_page(&response);
    assert_logged_out(&setup, &mut browser).await;
    let refreshed = redeem_refresh_token(
        &setup.server.base_url,
        (&setup.client_id, &setup.secret),
        refresh.secret(),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
}

// ---------------------------------------------------------------------------------------------
// Back-Channel Logout

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    content_type: String,
    fields: Vec<(String, String)>,
}

impl Received {
    fn logout_token(&self) -> String {
        let tokens: Vec<&str> = self
            .fields
            .iter()
            .filter(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(tokens.len(), 1, "one logout_token: {self:?}");
        tokens[0].to_string()
    }
}

/// A relying party's back-channel logout endpoint on `127.0.0.1:<port>/backchannel`: records
/// every POST and answers with the next scripted status (200 once the script is used up).
struct Receiver {
    received: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
}

impl Receiver {
    async fn start(statuses: Vec<u16>) -> (Receiver, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let (tx, rx) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(VecDeque::from(statuses)));
        let handler = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            let script = script.clone();
            async move {
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let fields = url::form_urlencoded::parse(&body)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let status = script.lock().unwrap().pop_front().unwrap_or(200);
                let _ = tx.send(Received {
                    content_type,
                    fields,
                });
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        };
        let app = axum::Router::new().route("/backchannel", axum::routing::post(handler));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (
            Receiver {
                received: tokio::sync::Mutex::new(rx),
            },
            format!("http://127.0.0.1:{}/backchannel", addr.port()),
        )
    }

    /// The next POST (it is due at once; the bound only keeps a broken build from hanging).
    async fn next(&self) -> Received {
        tokio::time::timeout(EVENTUALLY, self.received.lock().await.recv())
            .await
            .expect("a back-channel logout POST arrives")
            .expect("the receiver runs")
    }

    /// Nothing else arrived so far.
    async fn assert_nothing_more(&self) {
        assert!(
            self.received.lock().await.try_recv().is_err(),
            "no further back-channel POST"
        );
    }
}

/// Verifies `token` against the server's published JWKS; returns (header, claims).
async fn verify_with_server_jwks(server: &TestServer, token: &str) -> (Value, Value) {
    let jwks = plain_client()
        .get(server.url("/jwks.json"))
        .send()
        .await
        .expect("JWKS")
        .text()
        .await
        .expect("JWKS body");
    let set = JwkSet::from_bytes(jwks.as_bytes()).expect("a JWK Set");
    let header = jwt_header(token);
    let kid = header["kid"]
        .as_str()
        .expect("the logout token names its kid");
    let keys = set.get(kid);
    assert_eq!(keys.len(), 1, "one published key with kid {kid}");
    let payload = match header["alg"].as_str() {
        Some("RS256") => {
            let verifier = jws::RS256.verifier_from_jwk(keys[0]).expect("RS256 key");
            jws::deserialize_compact(token, &verifier)
        }
        Some("ES256") => {
            let verifier = jws::ES256.verifier_from_jwk(keys[0]).expect("ES256 key");
            jws::deserialize_compact(token, &verifier)
        }
        other => panic!("unexpected alg {other:?}"),
    }
    .expect("the logout token verifies against the server's JWKS")
    .0;
    (
        header,
        serde_json::from_slice(&payload).expect("JSON claims"),
    )
}

/// Checks a logout token exactly as Back-Channel Logout 1.0 §2.4 and the conformance suite do.
async fn assert_logout_token(setup: &Setup, token: &str, id_token_claims: &Value) {
    let (header, claims) = verify_with_server_jwks(&setup.server, token).await;
    assert_eq!(header["typ"], "logout+jwt", "{header}");
    let mut names: Vec<&str> = claims
        .as_object()
        .expect("claims object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["aud", "events", "exp", "iat", "iss", "jti", "sid", "sub"],
        "exactly these claims (no nonce): {claims}"
    );
    assert_eq!(claims["iss"], setup.server.issuer());
    let aud_ok = match &claims["aud"] {
        Value::String(aud) => *aud == setup.client_id,
        Value::Array(auds) => auds.iter().any(|a| a == setup.client_id.as_str()),
        _ => false,
    };
    assert!(aud_ok, "aud names the client: {claims}");
    assert_eq!(claims["sub"], id_token_claims["sub"]);
    assert_eq!(claims["sid"], id_token_claims["sid"]);
    assert_eq!(claims["events"], json!({ LOGOUT_EVENT: {} }));
    let now = setup.server.clock.now();
    let iat = claims["iat"].as_i64().expect("iat");
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(iat <= now && iat >= now - 60, "iat {iat} is now ({now})");
    assert!(exp > now, "exp {exp} after now ({now})");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
}

fn assert_form_post(received: &Received) {
    assert!(
        received
            .content_type
            .starts_with("application/x-www-form-urlencoded"),
        "a form POST: {received:?}"
    );
    assert_eq!(received.fields.len(), 1, "only logout_token: {received:?}");
}

/// The delivery rows once the sender has recorded every outcome.
async fn delivered_rows(setup: &Setup) -> Vec<leasify_id::store::BackchannelDelivery> {
    tokio::time::timeout(EVENTUALLY, async {
        loop {
            let rows = setup.server.state.store.list_backchannel(10).await.unwrap();
            if rows.iter().all(|r| r.attempts > 0) {
                return rows;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the delivery is recorded")
}

#[tokio::test]
async fn rp_initiated_logout_posts_a_logout_token_to_the_back_channel() {
    let (receiver, uri) = Receiver::start(vec![]).await;
    let setup = setup_with_backchannel(Some(uri)).await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, id_claims) = login(&setup, &mut browser).await;
    let response = browser
        .get(&end_session_url(
            &setup.server,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", "bye"),
            ],
        ))
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(
        response.header("location"),
        Some(format!("{POST_LOGOUT}?state=bye").as_str())
    );
    let received = receiver.next().await;
    assert_form_post(&received);
    assert_logout_token(&setup, &received.logout_token(), &id_claims).await;
    assert_logged_out(&setup, &mut browser).await;

    // Recorded as delivered (the sender records it just after the receiver answered); nothing
    // is sent twice.
    let deliveries = delivered_rows(&setup).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].client_id, setup.client_id);
    assert_eq!(deliveries[0].status, "delivered");
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(deliver_due(&setup.server.state).await, Report::default());
    receiver.assert_nothing_more().await;
}

#[tokio::test]
async fn a_failed_back_channel_delivery_is_retried_after_the_backoff() {
    let (receiver, uri) = Receiver::start(vec![500]).await;
    let setup = setup_with_backchannel(Some(uri)).await;
    let state = &setup.server.state;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, id_claims) = login(&setup, &mut browser).await;
    let logged_out_at = setup.server.clock.now();
    let response = browser
        .get(&end_session_url(
            &setup.server,
            &[("id_token_hint", &id_token)],
        ))
        .await;
    assert_logged_out_page(&response);

    // The first attempt is answered 500 …
    let first = receiver.next().await;
    assert_form_post(&first);
    // … and recorded as a failure with a retry time (waiting for the sender to write it down).
    let failed = tokio::time::timeout(EVENTUALLY, async {
        loop {
            let rows = state.store.list_backchannel(10).await.unwrap();
            if rows.len() == 1 && rows[0].attempts == 1 {
                return rows[0].clone();
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the failure is recorded");
    assert_eq!(failed.status, "pending");
    assert_eq!(failed.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(failed.locked_until, None);
    let retry_at = failed.next_attempt_at;
    assert!(retry_at > logged_out_at, "a backoff: {failed:?}");

    // Not due yet: nothing is sent.
    assert_eq!(deliver_due(state).await, Report::default());
    receiver.assert_nothing_more().await;

    // Past the backoff (the injected clock, no waiting) it is sent again, the same token.
    setup
        .server
        .clock
        .advance(retry_at - setup.server.clock.now());
    let report = deliver_due(state).await;
    let second = receiver.next().await;
    assert_form_post(&second);
    assert_eq!(second.logout_token(), first.logout_token());
    // (The instance's own sender may have been quicker; either way it went exactly once.)
    assert!(report.done <= 1 && report.retried == 0, "{report:?}");
    assert_logout_token(&setup, &second.logout_token(), &id_claims).await;
    let rows = state.store.list_backchannel(10).await.unwrap();
    assert_eq!(rows[0].status, "delivered", "{rows:?}");
    assert_eq!(rows[0].attempts, 2);
    setup.server.clock.advance(10_000);
    assert_eq!(deliver_due(state).await, Report::default());
    receiver.assert_nothing_more().await;
}

#[tokio::test]
async fn logging_out_on_the_account_page_triggers_back_channel_logout() {
    let (receiver, uri) = Receiver::start(vec![]).await;
    let setup = setup_with_backchannel(Some(uri)).await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (tokens, _, id_claims) = login(&setup, &mut browser).await;

    let account = browser.navigate(&setup.server.url("/account")).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.describe());
    let form = Form::find(&account, "form[action=\"/logout\"]")
        .unwrap_or_else(|| panic!("a logout form:\n{}", account.describe()));
    assert!(form.get("csrf").is_some_and(|c| !c.is_empty()));
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_logged_out_page(&response);

    let received = receiver.next().await;
    assert_form_post(&received);
    assert_logout_token(&setup, &received.logout_token(), &id_claims).await;
    assert_logged_out(&setup, &mut browser).await;
    assert_access_token_dead(&setup.server.base_url, tokens.access_token().secret()).await;
}

#[tokio::test]
async fn clients_without_a_back_channel_uri_get_nothing_and_logout_still_works() {
    let (receiver, uri) = Receiver::start(vec![]).await;
    let setup = setup().await;
    let mut browser = Browser::new(&setup.server.base_url);
    let (_, id_token, _) = login(&setup, &mut browser).await;
    let response = browser
        .get(&end_session_url(
            &setup.server,
            &[("id_token_hint", &id_token)],
        ))
        .await;
    assert_logged_out_page(&response);
    assert!(
        setup
            .server
            .state
            .store
            .list_backchannel(10)
            .await
            .unwrap()
            .is_empty()
    );
    drop(uri);
    receiver.assert_nothing_more().await;
}

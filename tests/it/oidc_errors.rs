//! Failures, with the exact status codes, error codes and headers the specifications (and the
//! OpenID Foundation conformance suite) require.
//!
//! Which error a given request earns is decided in `src/oidc` and unit-tested there
//! (`src/oidc/tests`); these tests check how each kind of error reaches a browser or a client.

use crate::common;

use common::*;
use reqwest::StatusCode;

const EMAIL: &str = "erik.larsson@example.se";
const NAME: &str = "Erik Larsson";

struct Fixture {
    server: TestServer,
    client_id: String,
    secret: String,
    sub: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let server = TestServer::start().await;
        let (client_id, secret) = server.create_client("Hyresportalen").await;
        let sub = server.create_user(EMAIL, NAME, PASSWORD).await;
        Fixture {
            server,
            client_id,
            secret,
            sub,
        }
    }

    fn base(&self) -> &str {
        &self.server.base_url
    }

    fn client(&self) -> (&str, &str) {
        (&self.client_id, &self.secret)
    }

    fn browser(&self) -> Browser {
        Browser::new(&self.server.base_url)
    }

    /// A fresh code (logging in a new browser) and its PKCE verifier.
    async fn code(&self) -> (String, String) {
        self.browser()
            .code_for(&self.client_id, EMAIL, PASSWORD)
            .await
    }

    /// Tokens for a fresh code: the parsed JSON of a 200 token response.
    async fn tokens(&self) -> serde_json::Value {
        let (code, verifier) = self.code().await;
        let response = redeem_code(self.base(), self.client(), &code, &verifier).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
        response.json()
    }

    /// The login page of a fresh authorization request.
    async fn login_page(&self, browser: &mut Browser) -> Response {
        let url = authorize_url(
            self.base(),
            &[
                ("response_type", "code"),
                ("client_id", &self.client_id),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("state", "st"),
            ],
        );
        let page = browser.navigate(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
        assert!(
            page.login_form().is_some(),
            "a login form:\n{}",
            page.describe()
        );
        page
    }
}

/// A token request form, the expected status and the expected `error`.
type TokenCase<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);

fn assert_error_page(response: &Response, status: StatusCode) {
    assert_eq!(response.status, status, "{}", response.describe());
    assert!(
        response.header("location").is_none(),
        "an error page must not redirect:\n{}",
        response.describe()
    );
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "an HTML page, got {content_type:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_generic_401_page() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    let page = f.login_page(&mut browser).await;

    let wrong_password = browser.submit_login(&page, EMAIL, "not the password").await;
    assert_eq!(
        wrong_password.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        wrong_password.describe()
    );
    assert!(
        wrong_password.body.contains(INVALID_LOGIN_SV),
        "the generic message:\n{}",
        wrong_password.body
    );
    assert!(
        wrong_password.login_form().is_some(),
        "the form is shown again"
    );
    assert!(wrong_password.header("location").is_none());
    assert!(
        browser.cookie("__Host-leasify-session").is_none(),
        "no session after a failure"
    );

    let unknown = "nobody.at.all@example.se";
    let unknown_email = browser
        .submit_login(&page, unknown, "not the password")
        .await;
    assert_eq!(
        unknown_email.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unknown_email.describe()
    );
    assert!(unknown_email.body.contains(INVALID_LOGIN_SV));
    // The same page, but for the echoed email address.
    assert_eq!(
        wrong_password.body.replace(EMAIL, "EMAIL"),
        unknown_email.body.replace(unknown, "EMAIL"),
        "a wrong password and an unknown email look the same"
    );

    // A disabled account with the right password: the same generic answer.
    leasify_id::admin::users::set_disabled(
        &f.server.state,
        &leasify_id::audit::Caller::system(),
        EMAIL,
        true,
    )
    .await
    .unwrap();
    let disabled = browser.submit_login(&page, EMAIL, PASSWORD).await;
    assert_eq!(
        disabled.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        disabled.describe()
    );
    assert_eq!(disabled.body, wrong_password.body);
}

#[tokio::test]
async fn the_login_form_needs_its_csrf_token() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    let page = f.login_page(&mut browser).await;
    let mut form = page.login_form().unwrap();
    form.set("csrf", "0000");
    form.set("email", EMAIL);
    form.set("password", PASSWORD);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_error_page(&response, StatusCode::BAD_REQUEST);
    assert!(browser.cookie("__Host-leasify-session").is_none());

    // The right token without its cookie fails too.
    let mut stranger = f.browser();
    let mut form = page.login_form().unwrap();
    form.set("email", EMAIL);
    form.set("password", PASSWORD);
    let response = stranger.post_form(form.action.as_str(), &form.fields).await;
    assert_error_page(&response, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn five_failures_throttle_the_account_in_the_database() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    let page = f.login_page(&mut browser).await;
    for attempt in 1..=5 {
        let response = browser
            .submit_login(&page, EMAIL, &format!("wrong password {attempt}"))
            .await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}:\n{}",
            response.describe()
        );
    }
    let throttled = browser.submit_login(&page, EMAIL, PASSWORD).await;
    assert_eq!(
        throttled.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        throttled.describe()
    );
    assert!(
        throttled.body.contains("För många misslyckade försök"),
        "{}",
        throttled.body
    );
    assert!(throttled.login_form().is_some());
    assert!(
        browser.cookie("__Host-leasify-session").is_none(),
        "no session while throttled"
    );

    // The count lives in the database: another instance on the same database refuses too.
    let sibling = f.server.sibling().await;
    let mut elsewhere = Browser::new(&sibling.base_url);
    let url = authorize_url(
        &sibling.base_url,
        &[
            ("response_type", "code"),
            ("client_id", &f.client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
        ],
    );
    let other_page = elsewhere.navigate(&url).await;
    assert_eq!(
        other_page.status,
        StatusCode::OK,
        "{}",
        other_page.describe()
    );
    let response = elsewhere.submit_login(&other_page, EMAIL, PASSWORD).await;
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.describe()
    );

    // Only this account: another user from the same address still gets in.
    f.server
        .create_user("karin@example.se", "Karin Ek", PASSWORD)
        .await;
    let mut other = f.browser();
    let other_page = f.login_page(&mut other).await;
    let response = other
        .submit_login(&other_page, "karin@example.se", PASSWORD)
        .await;
    client_redirect(&response);

    // After the window the right password works again.
    f.server
        .clock
        .advance(f.server.state.config.login.account_window + 1);
    let page = f.login_page(&mut browser).await;
    let response = browser.submit_login(&page, EMAIL, PASSWORD).await;
    client_redirect(&response);
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_or_missing_client_is_an_error_page() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    for client_id in ["no-such-client", ""] {
        let url = authorize_url(
            f.base(),
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("state", "st"),
            ],
        );
        let response = browser.get(&url).await;
        assert_error_page(&response, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn unregistered_redirect_uri_is_an_error_page() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    for redirect_uri in [
        "https://rp.example.com/callback/dDBs8H2ksL",
        "https://evil.example.net/callback",
        "https://rp.example.com/callback?x=1",
        "",
    ] {
        let url = authorize_url(
            f.base(),
            &[
                ("response_type", "code"),
                ("client_id", &f.client_id),
                ("redirect_uri", redirect_uri),
                ("scope", "openid"),
                ("state", "st"),
            ],
        );
        let response = browser.get(&url).await;
        assert_error_page(&response, StatusCode::BAD_REQUEST);
    }
    // Even with a session, no code goes to an unregistered URI.
    let (code, _) = browser.code_for(&f.client_id, EMAIL, PASSWORD).await;
    assert!(!code.is_empty());
    let url = authorize_url(
        f.base(),
        &[
            ("response_type", "code"),
            ("client_id", &f.client_id),
            ("redirect_uri", "https://evil.example.net/callback"),
            ("scope", "openid"),
        ],
    );
    assert_error_page(&browser.get(&url).await, StatusCode::BAD_REQUEST);
}

/// Error parameters of a redirect to the client, checked like the conformance suite does.
fn redirect_error(response: &Response, issuer: &str, state: &str) -> String {
    let callback = client_redirect(response);
    let params = query_params(&callback);
    assert_eq!(
        params.get("state").map(String::as_str),
        Some(state),
        "state echoed: {callback}"
    );
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(issuer),
        "iss: {callback}"
    );
    assert!(
        !params.contains_key("code"),
        "no code with an error: {callback}"
    );
    if let Some(description) = params.get("error_description") {
        assert!(
            description
                .bytes()
                .all(|b| b == b'\t' || b == b'\n' || b == b'\r' || (0x20..=0x7e).contains(&b))
                && !description.contains('"')
                && !description.contains('\\'),
            "error_description charset: {description:?}"
        );
    }
    params
        .get("error")
        .unwrap_or_else(|| panic!("an error: {callback}"))
        .clone()
}

#[tokio::test]
async fn missing_response_type_redirects_with_invalid_request() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    let url = authorize_url(
        f.base(),
        &[
            ("client_id", &f.client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", "xyz-123"),
        ],
    );
    let response = browser.get(&url).await;
    assert_eq!(
        redirect_error(&response, f.base(), "xyz-123"),
        "invalid_request"
    );
}

#[tokio::test]
async fn unknown_parameters_are_ignored_and_post_works() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    browser.code_for(&f.client_id, EMAIL, PASSWORD).await;
    // oidcc-ensure-request-with-unknown-parameter-succeeds and display/ui_locales/claims_locales.
    let url = authorize_url(
        f.base(),
        &[
            ("response_type", "code"),
            ("client_id", &f.client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "email openid"),
            ("state", "s2"),
            ("extra", "foobar"),
            ("display", "popup"),
            ("ui_locales", "se"),
            ("claims_locales", "se"),
            ("login_hint", "buffy@example.com"),
        ],
    );
    let callback = browser.authorize_silently(&url).await;
    assert!(query_params(&callback).contains_key("code"), "{callback}");

    // oidcc-ensure-post-request-succeeds: the request as a POST form.
    let fields: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", f.client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "s3"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let response = browser
        .post_form(&f.server.url("/authorize"), &fields)
        .await;
    let callback = client_redirect(&response);
    let params = query_params(&callback);
    assert_eq!(params.get("state").map(String::as_str), Some("s3"));
    assert!(params.contains_key("code"));
}

// ---------------------------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn token_responses_are_json_no_store_with_bearer_and_numeric_expires_in() {
    let f = Fixture::new().await;
    let (code, verifier) = f.code().await;
    let response = redeem_code(f.base(), f.client(), &code, &verifier).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    assert_json_no_store(&response);
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"]
        .as_i64()
        .unwrap_or_else(|| panic!("expires_in is a JSON integer: {body}"));
    assert!(expires_in > 0 && expires_in <= 31_536_000);
    for field in ["access_token", "id_token", "refresh_token"] {
        let value = body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} is a string: {body}"));
        assert!(
            !value.is_empty() && value.bytes().all(|b| (0x20..=0x7e).contains(&b)),
            "{field} charset"
        );
    }
    let id_token = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id_token["iss"], f.base());
    assert_eq!(id_token["aud"], f.client_id.as_str());
    assert_eq!(id_token["sub"], f.sub.as_str());
    assert_eq!(id_token["nonce"], "n-0S6_WzA2Mj");

    // Refresh: the same rules (oidcc-refresh-token checks all three headers).
    let refreshed = redeem_refresh_token(
        f.base(),
        f.client(),
        body["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
    assert_json_no_store(&refreshed);
    let refreshed = refreshed.json();
    assert!(
        refreshed["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
    );
    assert!(refreshed["expires_in"].is_i64());
    let new_id_token = jwt_claims(refreshed["id_token"].as_str().expect("id_token on refresh"));
    assert!(
        new_id_token.get("nonce").is_none(),
        "no nonce in a refreshed ID token: {new_id_token}"
    );
    assert_eq!(new_id_token["auth_time"], id_token["auth_time"]);
    assert_eq!(new_id_token["sub"], id_token["sub"]);

    // Errors: JSON, no-store, exact codes.
    let cases: Vec<TokenCase> = vec![
        (
            vec![
                ("grant_type", "password"),
                ("username", "x"),
                ("password", "y"),
            ],
            400,
            "unsupported_grant_type",
        ),
        (vec![("code", "abc")], 400, "invalid_request"),
        (
            vec![("grant_type", "authorization_code")],
            400,
            "invalid_request",
        ),
        (
            vec![("grant_type", "refresh_token")],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "no-such-code"),
                ("redirect_uri", REDIRECT_URI),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "no-such-token"),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (form, status, error) in cases {
        let response = token_request(f.base(), Some(f.client()), &form).await;
        assert_token_error(&response, status, error);
    }
    // Not a form.
    let response = read(
        plain_client()
            .post(f.server.url("/token"))
            .header("authorization", basic_auth(&f.client_id, &f.secret))
            .header("content-type", "application/json")
            .body("{\"grant_type\":\"refresh_token\"}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_token_error(&response, 400, "invalid_request");
}

#[tokio::test]
async fn bad_client_credentials_are_invalid_client_with_a_challenge() {
    let f = Fixture::new().await;
    let (code, verifier) = f.code().await;
    for (id, secret) in [
        (f.client_id.as_str(), "wrong-secret"),
        ("no-such-client", f.secret.as_str()),
        (f.client_id.as_str(), ""),
    ] {
        let response = redeem_code(f.base(), (id, secret), &code, &verifier).await;
        assert_token_error(&response, 401, "invalid_client");
        let challenge = response.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.to_ascii_lowercase().starts_with("basic"),
            "a Basic challenge, got {challenge:?}"
        );
    }
    // client_secret_post with a wrong secret.
    let response = token_request(
        f.base(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", &f.client_id),
            ("client_secret", "wrong-secret"),
        ],
    )
    .await;
    assert_token_error(&response, 401, "invalid_client");
    // No client authentication at all for a confidential client.
    let response = token_request(
        f.base(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", &f.client_id),
        ],
    )
    .await;
    assert_token_error(&response, 401, "invalid_client");
    // The failed attempts did not use up the code.
    let response = redeem_code(f.base(), f.client(), &code, &verifier).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
}

// ---------------------------------------------------------------------------------------------
// UserInfo
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn userinfo_refuses_missing_and_bad_tokens_with_a_bearer_challenge() {
    let f = Fixture::new().await;
    let response = read(
        plain_client()
            .get(f.server.url("/userinfo"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert!(
        response
            .header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Bearer")
    );

    assert_access_token_dead(f.base(), "not-a-token").await;

    // An ID token is not an access token.
    let tokens = f.tokens().await;
    assert_access_token_dead(f.base(), tokens["id_token"].as_str().unwrap()).await;

    // A good token works with GET, POST header and POST body, and is JSON.
    let access_token = tokens["access_token"].as_str().unwrap();
    let get = userinfo_request(f.base(), access_token).await;
    assert_eq!(get.status, StatusCode::OK);
    assert!(
        get.header("content-type")
            .unwrap_or_default()
            .starts_with("application/json")
    );
    assert_eq!(get.json()["sub"], f.sub.as_str());
    assert_eq!(get.json()["email"], EMAIL);
    let post = read(
        plain_client()
            .post(f.server.url("/userinfo"))
            .header("authorization", format!("Bearer {access_token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(post.status, StatusCode::OK, "{}", post.describe());
    let body = read(
        plain_client()
            .post(f.server.url("/userinfo"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("access_token={access_token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body.status, StatusCode::OK, "{}", body.describe());

    // An expired access token (default lifetime 600 s).
    f.server
        .clock
        .advance(f.server.state.config.tokens.access_token_ttl + 1);
    assert_access_token_dead(f.base(), access_token).await;
}

#[tokio::test]
async fn an_expired_login_request_is_an_error_page() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    let page = f.login_page(&mut browser).await;
    f.server
        .clock
        .advance(f.server.state.config.session.pending_authorization_ttl + 1);
    let response = browser.submit_login(&page, EMAIL, PASSWORD).await;
    assert_error_page(&response, StatusCode::BAD_REQUEST);
    let response = browser
        .get(&f.server.url("/login?req=no-such-request"))
        .await;
    assert_error_page(&response, StatusCode::BAD_REQUEST);
    // Without an app's request, /login is the login to our own pages (Mina uppgifter).
    let response = browser.get(&f.server.url("/login")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
}

#[tokio::test]
async fn a_login_form_cannot_be_replayed_after_success() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    let page = f.login_page(&mut browser).await;
    let first = browser.submit_login(&page, EMAIL, PASSWORD).await;
    client_redirect(&first);
    let replay = browser.submit_login(&page, EMAIL, PASSWORD).await;
    assert_error_page(&replay, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_emails_are_throttled_like_real_ones() {
    let f = Fixture::new().await;
    let mut browser = f.browser();
    let page = f.login_page(&mut browser).await;
    let unknown = "ingen@example.se";
    for attempt in 1..=5 {
        let response = browser.submit_login(&page, unknown, "whatever").await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let response = browser.submit_login(&page, unknown, "whatever").await;
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.describe()
    );
}

/// Two simultaneous redemptions of one code: at most one gets tokens, the other gets
/// `invalid_grant`, and since a replayed code revokes its grant, whatever was issued is dead
/// once both answers are in. (Both may fail: the loser can revoke the grant before the winner
/// finishes, which is as safe.)
#[tokio::test]
async fn concurrent_redemptions_of_one_code_never_give_two_live_token_sets() {
    let f = Fixture::new().await;
    for _ in 0..3 {
        let (code, verifier) = f.code().await;
        let (a, b) = tokio::join!(
            redeem_code(f.base(), f.client(), &code, &verifier),
            redeem_code(f.base(), f.client(), &code, &verifier)
        );
        let winners: Vec<&Response> = [&a, &b]
            .into_iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert!(
            winners.len() <= 1,
            "at most one success:\n{}\n{}",
            a.describe(),
            b.describe()
        );
        for loser in [&a, &b].into_iter().filter(|r| r.status != StatusCode::OK) {
            assert_token_error(loser, 400, "invalid_grant");
        }
        for winner in winners {
            let tokens = winner.json();
            assert_access_token_dead(f.base(), tokens["access_token"].as_str().unwrap()).await;
            let refresh = redeem_refresh_token(
                f.base(),
                f.client(),
                tokens["refresh_token"].as_str().unwrap(),
            )
            .await;
            assert_token_error(&refresh, 400, "invalid_grant");
        }
    }
}

#[tokio::test]
async fn a_parameter_sent_twice_to_the_token_endpoint_is_invalid_request() {
    let f = Fixture::new().await;
    let (code, verifier) = f.code().await;
    let response = token_request(
        f.base(),
        Some(f.client()),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_token_error(&response, 400, "invalid_request");
    // Basic and client_secret_post together.
    let response = token_request(
        f.base(),
        Some(f.client()),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", &f.client_id),
            ("client_secret", &f.secret),
        ],
    )
    .await;
    assert_token_error(&response, 400, "invalid_request");
}

#[tokio::test]
async fn userinfo_with_two_tokens_is_invalid_request() {
    let f = Fixture::new().await;
    let tokens = f.tokens().await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let response = read(
        plain_client()
            .post(f.server.url("/userinfo"))
            .header("authorization", format!("Bearer {access_token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("access_token={access_token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{}",
        response.describe()
    );
    assert!(
        response
            .header("www-authenticate")
            .unwrap_or_default()
            .contains("invalid_request")
    );
}

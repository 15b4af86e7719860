//! Revocation stays exact (issue 14): a token revoked by `/revoke`, logout, a password reset, a
//! disabled user, a withdrawn consent or refresh-token reuse detection is refused at UserInfo and
//! at introspection at once on the instance that revoked it, and within a second on another
//! instance sharing the database.
//!
//! Every test runs two instances of one issuer on one database (SQLite or PostgreSQL, whichever
//! `LEASIFY_TEST_BACKEND` selects) and warms both before revoking: UserInfo and introspection are
//! called several times at each, so the verified-token memo (`keys/cache.rs`) and the client
//! cache (`store/client_cache.rs`) hold the token and the client when the revocation happens. A
//! cache that let a revoked token live on would show here as a token still accepted.

use crate::common;

use std::time::{Duration, Instant};

use common::smtp::TestSmtpServer;
use common::*;
use leasify_id::admin::clients::{self, NewClient};
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

const EMAIL: &str = "maja.ek@example.se";
const NAME: &str = "Maja Ek";
/// A password the reset test sets (the policy refuses nothing about it).
const NEW_PASSWORD: &str = "Hallonsaft-i-källaren-77";
/// The bound for another instance to see a revocation.
const OTHER_INSTANCE_BOUND: Duration = Duration::from_secs(1);
const POLL_EVERY: Duration = Duration::from_millis(50);
/// How often each warm-up call is repeated at each instance.
const WARM_ROUNDS: usize = 3;

// ---------------------------------------------------------------------------------------------
// Set-up: two instances, a user, an app, and tokens from a real code flow

/// Instances A and B on one database, with the user and a confidential client. B is declared
/// first: fields drop in order, and B has to stop before A removes the database it shares.
struct Setup {
    b: TestServer,
    a: TestServer,
    user_id: String,
    client: Client,
}

/// A registered app: its id and secret (it authenticates at `/introspect` and `/revoke`).
#[derive(Clone)]
struct Client {
    id: String,
    secret: String,
}

impl Client {
    fn auth(&self) -> (&str, &str) {
        (&self.id, &self.secret)
    }
}

impl Setup {
    async fn start() -> Setup {
        Setup::around(TestServer::start().await).await
    }

    /// A with mail over SMTP to a test server (for the reset link); B sends to it too.
    async fn start_with_smtp() -> (Setup, TestSmtpServer) {
        let (a, smtp) = TestServer::start_with_smtp().await;
        (Setup::around(a).await, smtp)
    }

    async fn around(a: TestServer) -> Setup {
        let b = a.sibling().await;
        let user_id = a.create_user(EMAIL, NAME, PASSWORD).await;
        let (id, secret) = a.create_client("Hyresportalen").await;
        Setup {
            b,
            a,
            user_id,
            client: Client { id, secret },
        }
    }

    /// Both instances, A first.
    fn both(&self) -> [&TestServer; 2] {
        [&self.a, &self.b]
    }
}

/// What one code flow left the relying party and the browser with.
struct Login {
    /// The browser that logged in (it holds the session cookie).
    browser: Browser,
    access: String,
    refresh: String,
    id_token: String,
}

/// A real authorization code flow at `server` for `client` (PKCE, state, nonce, the ID token
/// verified): the login form, and the consent page if the app is a third-party one.
async fn code_flow(server: &TestServer, client: &Client) -> Login {
    let rp = server.relying_party(&client.id, Some(&client.secret)).await;
    let authorization = rp.authorization(&["email"], true, |r| r);
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(authorization.url.as_str()).await;
    let mut done = browser.submit_login(&page, EMAIL, PASSWORD).await;
    if done.url.path() == "/consent" {
        let mut form = Form::find(&done, "form[action=\"/consent\"]")
            .unwrap_or_else(|| panic!("the consent form:\n{}", done.describe()));
        form.set("decision", "approve");
        done = browser.post_form(form.action.as_str(), &form.fields).await;
    }
    let (tokens, _) = rp.complete(authorization, &client_redirect(&done)).await;
    Login {
        browser,
        access: tokens.access_token().secret().clone(),
        refresh: tokens
            .refresh_token()
            .expect("a refresh token")
            .secret()
            .clone(),
        id_token: tokens.id_token().expect("an ID token").to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Probes: is a token accepted, warm-up, and refused at once / within a second

/// A token to probe. A refresh token is probed by introspection only: redeeming a live one
/// would rotate it, and the used-up token would then look revoked.
#[derive(Clone, Copy)]
enum Token<'a> {
    Access(&'a str),
    Refresh(&'a str),
}

impl Token<'_> {
    fn value(&self) -> &str {
        match self {
            Token::Access(t) | Token::Refresh(t) => t,
        }
    }
}

/// A form POSTed to `path` at `server` with the client's credentials (Basic).
async fn post_as(
    server: &TestServer,
    client: &Client,
    path: &str,
    form: &[(&str, &str)],
) -> Response {
    let request = plain_client()
        .post(server.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::AUTHORIZATION,
            basic_auth(&client.id, &client.secret),
        )
        .body(serde_urlencoded::to_string(form).expect("form"));
    read(request.send().await.expect("request")).await
}

/// RFC 7662 at `server` with the client's credentials; the answer's JSON.
async fn introspect(server: &TestServer, client: &Client, token: &str) -> Value {
    let response = post_as(server, client, "/introspect", &[("token", token)]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    response.json()
}

/// RFC 7009 at `server` with the client's credentials; the revocation must be accepted.
async fn revoke(server: &TestServer, client: &Client, token: &str, hint: &str) {
    let form = [("token", token), ("token_type_hint", hint)];
    let response = post_as(server, client, "/revoke", &form).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
}

/// Where `server` still accepts `token` (`"access token at userinfo"`, ...); empty when it is
/// refused everywhere. Refused means exactly what a resource server sees: a 401 with
/// `error="invalid_token"` from UserInfo, `{"active": false}` and nothing else from
/// introspection. Any other answer is a failure of its own.
async fn accepted_at(server: &TestServer, client: &Client, token: Token<'_>) -> Vec<&'static str> {
    let mut accepted = Vec::new();
    if let Token::Access(access) = token {
        let info = userinfo_request(&server.base_url, access).await;
        let challenge = info.header("www-authenticate").unwrap_or_default();
        match info.status {
            StatusCode::OK => accepted.push("access token at userinfo"),
            StatusCode::UNAUTHORIZED if challenge.contains("invalid_token") => {}
            _ => panic!(
                "userinfo answers 200 or invalid_token:\n{}",
                info.describe()
            ),
        }
    }
    let answer = introspect(server, client, token.value()).await;
    match (answer["active"].as_bool(), token) {
        (Some(true), Token::Access(_)) => accepted.push("access token at introspection"),
        (Some(true), Token::Refresh(_)) => accepted.push("refresh token at introspection"),
        (Some(false), _) => assert_eq!(answer, json!({"active": false}), "nothing else"),
        (None, _) => panic!("introspection says whether the token is active: {answer}"),
    }
    accepted
}

/// Uses every token at every instance, several times, and checks each is live: the caches now
/// hold them, and the client, on both instances.
async fn warm(setup: &Setup, client: &Client, tokens: &[Token<'_>]) {
    for _ in 0..WARM_ROUNDS {
        for server in setup.both() {
            for &token in tokens {
                let accepted = accepted_at(server, client, token).await;
                let everywhere: &[&str] = match token {
                    Token::Access(_) => {
                        &["access token at userinfo", "access token at introspection"]
                    }
                    Token::Refresh(_) => &["refresh token at introspection"],
                };
                assert_eq!(accepted, everywhere, "live at {} before", server.base_url);
            }
        }
    }
}

/// The instance that revoked refuses every token on the very next request.
async fn assert_refused_at_once(server: &TestServer, client: &Client, tokens: &[Token<'_>]) {
    for &token in tokens {
        let accepted = accepted_at(server, client, token).await;
        assert!(
            accepted.is_empty(),
            "the revoking instance {} still accepts a revoked token at {accepted:?}",
            server.base_url
        );
    }
}

/// Another instance refuses every token within [`OTHER_INSTANCE_BOUND`]: asked every
/// [`POLL_EVERY`] until it does, failing if it still accepts one when the time is up.
async fn assert_refused_within_a_second(
    server: &TestServer,
    client: &Client,
    tokens: &[Token<'_>],
) {
    let deadline = Instant::now() + OTHER_INSTANCE_BOUND;
    loop {
        let mut accepted = Vec::new();
        for &token in tokens {
            accepted.extend(accepted_at(server, client, token).await);
        }
        if accepted.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} still accepts a revoked token after {OTHER_INSTANCE_BOUND:?} at {accepted:?}",
            server.base_url
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Refused at `revoked_at` at once and at `other` within a second.
async fn assert_revoked_everywhere(
    revoked_at: &TestServer,
    other: &TestServer,
    client: &Client,
    tokens: &[Token<'_>],
) {
    assert_refused_at_once(revoked_at, client, tokens).await;
    assert_refused_within_a_second(other, client, tokens).await;
}

/// The token endpoint of each instance refuses the refresh token (checked last: a live token
/// would be rotated).
async fn assert_refresh_refused(setup: &Setup, client: &Client, refresh: &str) {
    for server in setup.both() {
        let refreshed = redeem_refresh_token(&server.base_url, client.auth(), refresh).await;
        assert_token_error(&refreshed, 400, "invalid_grant");
    }
}

// ---------------------------------------------------------------------------------------------
// The paths that revoke

#[tokio::test]
async fn revoking_the_refresh_token_kills_the_grant_on_both_instances() {
    let setup = Setup::start().await;
    let client = &setup.client;
    let login = code_flow(&setup.a, client).await;
    let tokens = [Token::Access(&login.access), Token::Refresh(&login.refresh)];
    warm(&setup, client, &tokens).await;

    revoke(&setup.a, client, &login.refresh, "refresh_token").await;

    // RFC 7009 §2.1: the refresh token takes the access tokens of its grant with it.
    assert_revoked_everywhere(&setup.a, &setup.b, client, &tokens).await;
    assert_refresh_refused(&setup, client, &login.refresh).await;
}

#[tokio::test]
async fn revoking_the_access_token_at_b_kills_exactly_that_token_on_both_instances() {
    let setup = Setup::start().await;
    let client = &setup.client;
    let login = code_flow(&setup.a, client).await;
    let tokens = [Token::Access(&login.access), Token::Refresh(&login.refresh)];
    warm(&setup, client, &tokens).await;

    // Revoked at B, the instance that did not issue it.
    revoke(&setup.b, client, &login.access, "access_token").await;

    let access = [Token::Access(&login.access)];
    assert_revoked_everywhere(&setup.b, &setup.a, client, &access).await;
    // Exact: only that access token went. The grant lives on, and the refresh token still
    // works (this server's choice under RFC 7009 §2.1).
    for server in setup.both() {
        let accepted = accepted_at(server, client, Token::Refresh(&login.refresh)).await;
        assert_eq!(
            accepted,
            ["refresh token at introspection"],
            "at {}",
            server.base_url
        );
    }
    let refreshed = redeem_refresh_token(&setup.a.base_url, client.auth(), &login.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
}

#[tokio::test]
async fn rp_initiated_logout_kills_the_sessions_tokens_on_both_instances() {
    let setup = Setup::start().await;
    let client = &setup.client;
    let mut login = code_flow(&setup.a, client).await;
    let tokens = [Token::Access(&login.access), Token::Refresh(&login.refresh)];
    warm(&setup, client, &tokens).await;

    // The session is in the database: the browser's cookie, sent to A, ends it there.
    let mut end_session = url::Url::parse(&setup.a.url("/session/end")).unwrap();
    end_session
        .query_pairs_mut()
        .append_pair("id_token_hint", &login.id_token);
    let response = login.browser.get(end_session.as_str()).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    assert!(
        response.body.contains("Du är utloggad"),
        "the logged-out page:\n{}",
        response.describe()
    );

    // No offline_access was asked for, so the grant ended with the session.
    assert_revoked_everywhere(&setup.a, &setup.b, client, &tokens).await;
    assert_refresh_refused(&setup, client, &login.refresh).await;
}

#[tokio::test]
async fn a_password_reset_by_email_link_kills_every_token_on_both_instances() {
    let (setup, smtp) = Setup::start_with_smtp().await;
    let client = &setup.client;
    let login = code_flow(&setup.a, client).await;
    let tokens = [Token::Access(&login.access), Token::Refresh(&login.refresh)];
    warm(&setup, client, &tokens).await;

    // "Glömt lösenordet?" at A, the link from the email, a new password: in another browser,
    // as someone who lost the password would.
    let mut browser = Browser::new(&setup.a.base_url);
    let page = browser.navigate(&setup.a.url("/password/forgot")).await;
    let mut form = Form::find(&page, "form[action='/password/forgot']").expect("forgot form");
    form.set("email", EMAIL);
    let sent = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.describe());
    let link = smtp
        .next_message(Duration::from_secs(10))
        .await
        .expect("the reset email arrives")
        .first_link()
        .expect("a link in the reset email");
    assert!(link.starts_with(&setup.a.base_url), "{link}");
    let page = browser.navigate(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    let mut form = Form::find(&page, "form[action='/password/set']").expect("set-password form");
    form.set("new_password", NEW_PASSWORD);
    form.set("confirm_password", NEW_PASSWORD);
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());

    assert_revoked_everywhere(&setup.a, &setup.b, client, &tokens).await;
    assert_refresh_refused(&setup, client, &login.refresh).await;
}

#[tokio::test]
async fn disabling_the_user_through_the_admin_api_at_b_kills_every_token_on_both_instances() {
    let setup = Setup::start().await;
    let client = &setup.client;
    let login = code_flow(&setup.a, client).await;
    let tokens = [Token::Access(&login.access), Token::Refresh(&login.refresh)];
    warm(&setup, client, &tokens).await;

    // The portal's backend disables the customer through B's admin API.
    let machine = clients::create(
        &setup.a.state,
        NewClient {
            name: "Leasify portal backend".into(),
            scopes: vec!["admin:users:write".into()],
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        },
    )
    .await
    .expect("machine client");
    let answer = token_request(
        &setup.b.base_url,
        Some((
            &machine.client_id,
            machine.client_secret.as_deref().expect("a secret"),
        )),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "admin:users:write"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.describe());
    let admin_token = answer.json()["access_token"].as_str().unwrap().to_string();
    let disabled = read(
        plain_client()
            .post(
                setup
                    .b
                    .url(&format!("/admin/api/v1/users/{}/disable", setup.user_id)),
            )
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.describe());
    assert_eq!(disabled.json()["status"], "disabled");

    assert_revoked_everywhere(&setup.b, &setup.a, client, &tokens).await;
    assert_refresh_refused(&setup, client, &login.refresh).await;

    // The app revokes the access token while the user is disabled; enabling the user again must
    // not bring that token back (its jti was recorded although the token was not active).
    revoke(&setup.a, client, &login.access, "access_token").await;
    let enabled = read(
        plain_client()
            .post(
                setup
                    .b
                    .url(&format!("/admin/api/v1/users/{}/enable", setup.user_id)),
            )
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.describe());
    assert_revoked_everywhere(&setup.a, &setup.b, client, &[Token::Access(&login.access)]).await;
}

#[tokio::test]
async fn withdrawing_consent_in_mina_uppgifter_kills_the_apps_tokens_on_both_instances() {
    let setup = Setup::start().await;
    // Consent is asked for, and so can be withdrawn, only by a third-party app.
    let view = clients::create(
        &setup.a.state,
        NewClient {
            name: "Flyttkartonger AB".into(),
            redirect_uris: vec![REDIRECT_URI.to_string()],
            third_party: true,
            ..Default::default()
        },
    )
    .await
    .expect("third-party client");
    let client = &Client {
        id: view.client_id,
        secret: view.client_secret.expect("a secret"),
    };
    let mut login = code_flow(&setup.a, client).await;
    let tokens = [Token::Access(&login.access), Token::Refresh(&login.refresh)];
    warm(&setup, client, &tokens).await;

    // "Återkalla" in Mina uppgifter at A, in the browser that logged in.
    let account = login.browser.navigate(&setup.a.url("/account")).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.describe());
    let form = Form::find(&account, "form[action=\"/account/consents/revoke\"]")
        .unwrap_or_else(|| panic!("a withdraw button:\n{}", account.describe()));
    assert_eq!(form.get("client_id"), Some(client.id.as_str()));
    let response = login
        .browser
        .post_form(form.action.as_str(), &form.fields)
        .await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.describe()
    );

    assert_revoked_everywhere(&setup.a, &setup.b, client, &tokens).await;
    assert_refresh_refused(&setup, client, &login.refresh).await;
}

#[tokio::test]
async fn a_replayed_refresh_token_kills_its_family_on_both_instances() {
    let setup = Setup::start().await;
    let client = &setup.client;
    let login = code_flow(&setup.a, client).await;

    // One rotation at A: the first refresh token is used up, its successor is the live one.
    let rotated = redeem_refresh_token(&setup.a.base_url, client.auth(), &login.refresh).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.describe());
    let rotated = rotated.json();
    let access = rotated["access_token"].as_str().unwrap();
    let refresh = rotated["refresh_token"].as_str().unwrap();

    // Past the grace window for concurrent refreshes, a second use is a replay. Warm-up comes
    // after moving the clock, so nothing expires from the caches meanwhile.
    setup
        .a
        .clock
        .advance(setup.a.state.config.tokens.refresh_token_reuse_grace + 1);
    let tokens = [
        Token::Access(&login.access),
        Token::Access(access),
        Token::Refresh(refresh),
    ];
    warm(&setup, client, &tokens).await;

    let replay = redeem_refresh_token(&setup.a.base_url, client.auth(), &login.refresh).await;
    assert_token_error(&replay, 400, "invalid_grant");

    // The whole family: both access tokens and the successor refresh token.
    assert_revoked_everywhere(&setup.a, &setup.b, client, &tokens).await;
    assert_refresh_refused(&setup, client, refresh).await;
}

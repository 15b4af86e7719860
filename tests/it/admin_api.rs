//! The admin API over real HTTP: the portal's journey (a token, a customer invited, the welcome
//! email over SMTP, a password set, a login, the list and the audit trail), every refusal of a
//! caller, bad input answered with problems, idempotent retries, and deleting a user.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    Backend, Browser, Form, REDIRECT_URI, TestServer, backend, plain_client, token_request,
};
use leasify_id::admin::clients::{self, NewClient};

const MAIL_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const ALL_ADMIN_SCOPES: &str = "admin:users:read admin:users:write admin:clients:read \
                                admin:clients:write admin:keys admin:audit:read";

/// A machine client allowed `scopes` through client_credentials; returns (id, secret).
pub(crate) async fn machine_client(server: &TestServer, scopes: &str) -> (String, String) {
    let view = clients::create(
        &server.state,
        NewClient {
            name: "Leasify portal backend".into(),
            scopes: scopes.split(' ').map(str::to_string).collect(),
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        },
    )
    .await
    .expect("machine client");
    (view.client_id, view.client_secret.expect("a secret"))
}

/// A client_credentials token for the admin API.
pub(crate) async fn admin_token(
    server: &TestServer,
    id: &str,
    secret: &str,
    scope: &str,
) -> String {
    let answer = token_request(
        &server.base_url,
        Some((id, secret)),
        &[("grant_type", "client_credentials"), ("scope", scope)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.describe());
    answer.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// An admin API call; returns status, headers and the JSON body (Null when empty).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

pub(crate) async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> Answer {
    let mut request = plain_client().request(method, server.url(&format!("/admin/api/v1{path}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.expect("admin API request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"))
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn assert_problem(answer: &Answer, status: StatusCode, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    assert_eq!(
        answer
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{what}: problem+json"
    );
    assert_eq!(answer.body["status"], json!(status.as_u16()), "{what}");
    assert!(answer.body["title"].is_string(), "{what}: a title");
}

fn field_errors(answer: &Answer) -> Vec<String> {
    answer.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_portal_invites_a_customer_who_sets_a_password_and_logs_in() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let (portal_id, portal_secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let (rp_id, rp_secret) = server.create_client("Leasify portal").await;

    // The portal gets a token for the admin API and adds the customer, with the welcome email.
    let token = admin_token(&server, &portal_id, &portal_secret, ALL_ADMIN_SCOPES).await;
    let created = call(
        &server,
        reqwest::Method::POST,
        "/users",
        Some(&token),
        Some(json!({"email": "Karin.Kund@Example.se", "name": "Karin Kund", "invite": true})),
        Some("portal-create-karin"),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let user_id = created.body["id"].as_str().expect("id").to_string();
    assert_eq!(created.body["email"], "karin.kund@example.se");
    assert_eq!(created.body["status"], "invited");
    assert_eq!(created.body["has_password"], false);
    assert!(
        created.headers.get("location").is_some(),
        "Location of the new user"
    );

    // The welcome email arrives over SMTP; the customer sets a password through its link.
    let mail = smtp
        .next_message(MAIL_TIMEOUT)
        .await
        .expect("the welcome email");
    assert!(mail.rcpt_to.iter().any(|r| r == "karin.kund@example.se"));
    let link = mail.first_link().expect("a link in the welcome email");
    let mut browser = Browser::new(&server.base_url);
    let page = browser.get(&link).await;
    let mut form = Form::find(&page, "form[action=\"/password/set\"]").expect("set-password form");
    form.set("new_password", "Blåbärssylt-på-fredag-77");
    form.set("confirm_password", "Blåbärssylt-på-fredag-77");
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());

    // She logs in to the portal through the code flow (a fresh browser, so the login page).
    let mut portal_browser = Browser::new(&server.base_url);
    let (code, verifier) = portal_browser
        .code_for(&rp_id, "karin.kund@example.se", "Blåbärssylt-på-fredag-77")
        .await;
    let tokens = token_request(
        &server.base_url,
        Some((&rp_id, &rp_secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());

    // Mina uppgifter shows her own recent activity: the two logins, with the method.
    let account = portal_browser.get(&server.url("/account")).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.describe());
    assert!(
        account.body.contains("Senaste aktivitet"),
        "{}",
        account.body
    );
    assert_eq!(
        account.body.matches("Inloggning med lösenord").count(),
        2,
        "{}",
        account.body
    );

    // The portal lists its customers and sees the password set.
    let listed = call(
        &server,
        reqwest::Method::GET,
        "/users?q=karin&has_password=true",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", listed.body);
    assert_eq!(items[0]["id"], json!(user_id));
    assert_eq!(items[0]["has_password"], true);
    assert_eq!(items[0]["status"], "active");

    // The audit trail tells the story, newest first, with the actors: setting the password
    // logged her in on Mina uppgifter, then she logged in to the portal.
    let audit = call(
        &server,
        reqwest::Method::GET,
        &format!("/audit-events?user_id={user_id}"),
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let events = audit.body["items"].as_array().expect("items");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "login.succeeded",
            "login.succeeded",
            "password.set",
            "user.invited"
        ],
        "{}",
        audit.body
    );
    let invited = &events[3];
    assert_eq!(invited["actor_type"], "client");
    assert_eq!(invited["actor_id"], json!(portal_id));
    assert_eq!(events[0]["details"]["method"], "password");
    assert_eq!(events[0]["ip"], "127.0.0.1", "the login's address");
    let everything = audit.body.to_string();
    assert!(
        !everything.contains("karin.kund@example.se") && !everything.contains("Karin Kund"),
        "no email or name in the audit trail: {everything}"
    );
}

#[tokio::test]
async fn callers_without_the_right_token_are_refused_and_told_why() {
    let server = TestServer::start().await;
    let (reader_id, reader_secret) = machine_client(&server, "admin:users:read").await;
    let reader = admin_token(&server, &reader_id, &reader_secret, "admin:users:read").await;

    // No token at all.
    let none = call(&server, reqwest::Method::GET, "/users", None, None, None).await;
    assert_problem(&none, StatusCode::UNAUTHORIZED, "no token");
    assert!(
        none.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer")),
        "a Bearer challenge"
    );

    // The scope is missing.
    let write = call(
        &server,
        reqwest::Method::POST,
        "/users",
        Some(&reader),
        Some(json!({"email": "a@example.se", "name": "A"})),
        None,
    )
    .await;
    assert_problem(&write, StatusCode::FORBIDDEN, "missing scope");
    let challenge = write.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("admin:users:write"),
        "{challenge}"
    );
    let clients = call(
        &server,
        reqwest::Method::GET,
        "/clients",
        Some(&reader),
        None,
        None,
    )
    .await;
    assert_problem(
        &clients,
        StatusCode::FORBIDDEN,
        "users scope is not clients scope",
    );

    // A token for another audience: a machine client whose tokens are for its own API.
    let other = clients::create(
        &server.state,
        NewClient {
            name: "Inventory service".into(),
            grant_types: vec!["client_credentials".into()],
            resources: vec!["https://inventory.leasify.se".into()],
            ..Default::default()
        },
    )
    .await
    .expect("client");
    let foreign = token_request(
        &server.base_url,
        Some((&other.client_id, other.client_secret.as_deref().unwrap())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(foreign.status, StatusCode::OK, "{}", foreign.describe());
    let foreign = foreign.json()["access_token"].as_str().unwrap().to_string();
    let wrong_audience = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&foreign),
        None,
        None,
    )
    .await;
    assert_problem(&wrong_audience, StatusCode::UNAUTHORIZED, "wrong audience");
    assert!(
        wrong_audience.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // A user's access token (code flow) is no admin token.
    let (rp_id, rp_secret) = server.create_client("Portal").await;
    server
        .create_user("olle@example.se", "Olle", crate::common::PASSWORD)
        .await;
    let mut browser = Browser::new(&server.base_url);
    let (code, verifier) = browser
        .code_for(&rp_id, "olle@example.se", crate::common::PASSWORD)
        .await;
    let tokens = token_request(
        &server.base_url,
        Some((&rp_id, &rp_secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let user_token = tokens.json()["access_token"].as_str().unwrap().to_string();
    let as_user = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&user_token),
        None,
        None,
    )
    .await;
    assert_problem(&as_user, StatusCode::UNAUTHORIZED, "a user's token");

    // A resource server introspects the reader's token: live, with its own audience; once
    // revoked by its client, the admin API refuses it.
    let (rs_id, rs_secret) = server.create_client("Resource server").await;
    let introspected = plain_client()
        .post(server.url("/introspect"))
        .basic_auth(&rs_id, Some(&rs_secret))
        .form(&[("token", reader.as_str())])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["client_id"], json!(reader_id));
    assert_eq!(
        introspected["aud"],
        json!(format!("{}/admin/api", server.base_url))
    );
    let (spare_id, spare_secret) = machine_client(&server, "admin:users:read").await;
    let spare = admin_token(&server, &spare_id, &spare_secret, "admin:users:read").await;
    let revoked = plain_client()
        .post(server.url("/revoke"))
        .basic_auth(&spare_id, Some(&spare_secret))
        .form(&[("token", spare.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let after = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&spare),
        None,
        None,
    )
    .await;
    assert_problem(&after, StatusCode::UNAUTHORIZED, "revoked token");

    // Garbage, and an expired token.
    let garbage = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some("abc.def.ghi"),
        None,
        None,
    )
    .await;
    assert_problem(&garbage, StatusCode::UNAUTHORIZED, "garbage");
    let fresh = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&reader),
        None,
        None,
    )
    .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    server
        .clock
        .advance(server.state.config.tokens.access_token_ttl + 1);
    let expired = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&reader),
        None,
        None,
    )
    .await;
    assert_problem(&expired, StatusCode::UNAUTHORIZED, "expired");
    assert!(expired.body["detail"].as_str().unwrap().contains("expired"));

    // A client not allowed the grant, or asking for more than it may have.
    let (rp_only, rp_only_secret) = server.create_client("Code-flow only").await;
    let refused = token_request(
        &server.base_url,
        Some((&rp_only, &rp_only_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    crate::common::assert_token_error(&refused, 400, "unauthorized_client");
    let too_much = token_request(
        &server.base_url,
        Some((&reader_id, &reader_secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "admin:keys"),
        ],
    )
    .await;
    crate::common::assert_token_error(&too_much, 400, "invalid_scope");
    let elsewhere = token_request(
        &server.base_url,
        Some((&reader_id, &reader_secret)),
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://evil.example"),
        ],
    )
    .await;
    crate::common::assert_token_error(&elsewhere, 400, "invalid_target");
}

#[tokio::test]
async fn bad_input_gets_a_problem_naming_the_field_and_nothing_is_written() {
    let server = TestServer::start().await;
    let (id, secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let token = admin_token(&server, &id, &secret, ALL_ADMIN_SCOPES).await;
    let post = |path: &'static str, body: Value| {
        let token = token.clone();
        let server = &server;
        async move {
            call(
                server,
                reqwest::Method::POST,
                path,
                Some(&token),
                Some(body),
                None,
            )
            .await
        }
    };

    let bad_email = post("/users", json!({"email": "not-an-email", "name": "X"})).await;
    assert_problem(
        &bad_email,
        StatusCode::UNPROCESSABLE_ENTITY,
        "malformed email",
    );
    assert_eq!(field_errors(&bad_email), ["email"]);

    let unknown = post(
        "/users",
        json!({"email": "a@example.se", "name": "A", "admin": true}),
    )
    .await;
    assert_problem(&unknown, StatusCode::UNPROCESSABLE_ENTITY, "unknown field");
    assert!(
        unknown.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("admin")
    );

    let wrong_type = post("/users", json!({"email": "a@example.se", "name": 7})).await;
    assert_problem(&wrong_type, StatusCode::UNPROCESSABLE_ENTITY, "wrong type");
    assert_eq!(field_errors(&wrong_type), ["name"]);

    let http_redirect = post(
        "/clients",
        json!({"name": "App", "redirect_uris": ["http://app.example.com/cb"]}),
    )
    .await;
    assert_problem(
        &http_redirect,
        StatusCode::UNPROCESSABLE_ENTITY,
        "http redirect URI",
    );
    assert_eq!(field_errors(&http_redirect), ["redirect_uris"]);

    let several = post(
        "/users",
        json!({"email": "nope", "name": "", "locale": "de"}),
    )
    .await;
    assert_eq!(
        field_errors(&several),
        ["email", "name", "locale"],
        "every field at once"
    );

    // Not JSON, the wrong content type, too big, an unknown path, a method not allowed.
    let not_json = plain_client()
        .post(server.url("/admin/api/v1/users"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let form = plain_client()
        .post(server.url("/admin/api/v1/users"))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a%40example.se&name=A")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(form.headers()["content-type"], "application/problem+json");
    let huge = plain_client()
        .post(server.url("/admin/api/v1/users"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"email\":\"a@example.se\",\"name\":\"{}\"}}",
            "x".repeat(200_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(huge.headers()["content-type"], "application/problem+json");
    let nowhere = call(
        &server,
        reqwest::Method::GET,
        "/nowhere",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_problem(&nowhere, StatusCode::NOT_FOUND, "unknown path");
    let put = call(
        &server,
        reqwest::Method::PUT,
        "/users",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_problem(&put, StatusCode::METHOD_NOT_ALLOWED, "method");
    let missing = call(
        &server,
        reqwest::Method::GET,
        "/users/no-such-user",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "unknown user");
    let bad_cursor = call(
        &server,
        reqwest::Method::GET,
        "/users?cursor=%25%25",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(field_errors(&bad_cursor), ["cursor"]);
    let bad_query = call(
        &server,
        reqwest::Method::GET,
        "/users?disabled=maybe",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_problem(&bad_query, StatusCode::UNPROCESSABLE_ENTITY, "bad query");

    let listed = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(listed.body["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_invites_once() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let (id, secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let token = admin_token(&server, &id, &secret, ALL_ADMIN_SCOPES).await;
    let body = json!({"email": "lisa@example.se", "name": "Lisa Lund", "invite": true});
    let first = call(
        &server,
        reqwest::Method::POST,
        "/users",
        Some(&token),
        Some(body.clone()),
        Some("k-1"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let retry = call(
        &server,
        reqwest::Method::POST,
        "/users",
        Some(&token),
        Some(body.clone()),
        Some("k-1"),
    )
    .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    let other_body = call(
        &server,
        reqwest::Method::POST,
        "/users",
        Some(&token),
        Some(json!({"email": "other@example.se", "name": "Other"})),
        Some("k-1"),
    )
    .await;
    assert_problem(&other_body, StatusCode::UNPROCESSABLE_ENTITY, "key reused");
    // Without a key, a second create is a conflict, not a second user.
    let again = call(
        &server,
        reqwest::Method::POST,
        "/users",
        Some(&token),
        Some(body),
        None,
    )
    .await;
    assert_problem(&again, StatusCode::CONFLICT, "same email");

    assert!(
        smtp.next_message(MAIL_TIMEOUT).await.is_some(),
        "one welcome email"
    );
    assert!(
        smtp.next_message(Duration::from_secs(2)).await.is_none(),
        "and only one"
    );
    let audit = call(
        &server,
        reqwest::Method::GET,
        "/audit-events?type=user.invited",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(
        audit.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        audit.body
    );
}

/// Clients are read through memory on the token endpoint: a secret rotated or a client deleted
/// over the admin API stops working at once, and the tokens of a deleted client are refused.
#[tokio::test]
async fn a_rotated_secret_and_a_deleted_client_stop_working_at_once() {
    let server = TestServer::start().await;
    let (admin_id, admin_secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let admin = admin_token(&server, &admin_id, &admin_secret, ALL_ADMIN_SCOPES).await;
    let (id, old_secret) = machine_client(&server, "admin:users:read").await;
    let grant = [("grant_type", "client_credentials")];
    let status = |secret: String| {
        let (base, id) = (server.base_url.clone(), id.clone());
        async move {
            token_request(&base, Some((&id, &secret)), &grant)
                .await
                .status
        }
    };
    assert_eq!(status(old_secret.clone()).await, StatusCode::OK);
    let token = admin_token(&server, &id, &old_secret, "admin:users:read").await;
    let rotated = call(
        &server,
        reqwest::Method::POST,
        &format!("/clients/{id}/secret"),
        Some(&admin),
        None,
        None,
    )
    .await;
    let new_secret = rotated.body["client_secret"].as_str().unwrap().to_string();
    assert_eq!(
        status(old_secret).await,
        StatusCode::UNAUTHORIZED,
        "old secret"
    );
    assert_eq!(
        status(new_secret.clone()).await,
        StatusCode::OK,
        "new secret"
    );
    let listed = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "its token still works");

    let gone = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/clients/{id}"),
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        status(new_secret).await,
        StatusCode::UNAUTHORIZED,
        "deleted"
    );
    let refused = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_problem(
        &refused,
        StatusCode::UNAUTHORIZED,
        "a deleted client's token",
    );
}

/// A portal that gives up waiting and retries while its first request still runs: every copy
/// gets the same user, one of them created it, and one welcome email is sent.
#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_create_and_invite_once() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let (id, secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let token = admin_token(&server, &id, &secret, ALL_ADMIN_SCOPES).await;
    let body = json!({"email": "samtidig@example.se", "name": "Sam Tidig", "invite": true});
    let answers = futures_util::future::join_all((0..6).map(|_| {
        call(
            &server,
            reqwest::Method::POST,
            "/users",
            Some(&token),
            Some(body.clone()),
            Some("same-key"),
        )
    }))
    .await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(answer.body["id"], answers[0].body["id"]);
    }
    let replayed = answers
        .iter()
        .filter(|a| a.headers.contains_key("idempotent-replayed"))
        .count();
    assert_eq!(
        replayed,
        answers.len() - 1,
        "one created, the rest replayed"
    );
    assert!(
        smtp.next_message(MAIL_TIMEOUT).await.is_some(),
        "one welcome email"
    );
    assert!(
        smtp.next_message(Duration::from_secs(2)).await.is_none(),
        "and only one"
    );
}

#[tokio::test]
async fn users_clients_and_keys_are_managed_and_every_write_is_audited() {
    let server = TestServer::start().await;
    let (id, secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let token = admin_token(&server, &id, &secret, ALL_ADMIN_SCOPES).await;
    let t = Some(token.as_str());
    use reqwest::Method;

    // Users: create without invitation, update, disable, enable, page through.
    let mut ids = Vec::new();
    for n in 0..3 {
        let created = call(
            &server,
            Method::POST,
            "/users",
            t,
            Some(json!({"email": format!("user{n}@example.se"), "name": format!("User {n}")})),
            None,
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        ids.push(created.body["id"].as_str().unwrap().to_string());
    }
    let first_page = call(&server, Method::GET, "/users?limit=2", t, None, None).await;
    assert_eq!(first_page.body["items"].as_array().unwrap().len(), 2);
    let cursor = first_page.body["next_cursor"]
        .as_str()
        .expect("a next page");
    let second_page = call(
        &server,
        Method::GET,
        &format!("/users?limit=2&cursor={cursor}"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(second_page.body["items"][0]["id"], json!(ids[2]));
    assert!(second_page.body.get("next_cursor").is_none());

    let updated = call(
        &server,
        Method::PATCH,
        &format!("/users/{}", ids[0]),
        t,
        Some(json!({"name": "Ny Namn", "locale": "en"})),
        None,
    )
    .await;
    assert_eq!(updated.body["name"], "Ny Namn");
    assert_eq!(updated.body["locale"], "en");
    let disabled = call(
        &server,
        Method::POST,
        &format!("/users/{}/disable", ids[1]),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(disabled.body["status"], "disabled");
    let only_disabled = call(&server, Method::GET, "/users?disabled=true", t, None, None).await;
    assert_eq!(only_disabled.body["items"].as_array().unwrap().len(), 1);
    let enabled = call(
        &server,
        Method::POST,
        &format!("/users/{}/enable", ids[1]),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(enabled.body["disabled"], false);
    let sessions = call(
        &server,
        Method::GET,
        &format!("/users/{}/sessions", ids[0]),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(sessions.body, json!([]));
    let revoked = call(
        &server,
        Method::DELETE,
        &format!("/users/{}/sessions", ids[0]),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);

    // Clients: create (secret once), update, rotate, delete.
    let app = call(
        &server,
        Method::POST,
        "/clients",
        t,
        Some(json!({"name": "Servicedesk", "redirect_uris": ["https://desk.example.se/cb"]})),
        None,
    )
    .await;
    assert_eq!(app.status, StatusCode::CREATED, "{}", app.body);
    let client_id = app.body["client_id"].as_str().unwrap().to_string();
    assert!(app.body["client_secret"].is_string(), "the secret, once");
    let shown = call(
        &server,
        Method::GET,
        &format!("/clients/{client_id}"),
        t,
        None,
        None,
    )
    .await;
    assert!(shown.body.get("client_secret").is_none(), "never again");
    let changed = call(
        &server,
        Method::PATCH,
        &format!("/clients/{client_id}"),
        t,
        Some(json!({"post_logout_redirect_uris": ["https://desk.example.se/bye"], "third_party": true})),
        None,
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["first_party"], false);
    let rotated = call(
        &server,
        Method::POST,
        &format!("/clients/{client_id}/secret"),
        t,
        None,
        None,
    )
    .await;
    let new_secret = rotated.body["client_secret"].as_str().unwrap();
    assert_ne!(Some(new_secret), app.body["client_secret"].as_str());
    let gone = call(
        &server,
        Method::DELETE,
        &format!("/clients/{client_id}"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let after = call(
        &server,
        Method::GET,
        &format!("/clients/{client_id}"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);

    // A client cannot delete itself (its own token would die mid-conversation).
    let itself = call(
        &server,
        Method::DELETE,
        &format!("/clients/{id}"),
        t,
        None,
        None,
    )
    .await;
    assert_problem(&itself, StatusCode::CONFLICT, "deleting itself");

    // Keys: list and rotate.
    let keys = call(&server, Method::GET, "/keys", t, None, None).await;
    let before = keys.body.as_array().unwrap().len();
    let rotated = call(&server, Method::POST, "/keys/rotate", t, None, None).await;
    assert!(
        rotated.body.as_array().unwrap().len() > before,
        "{}",
        rotated.body
    );

    // Every write above is in the audit trail, by the machine client.
    let audit = call(
        &server,
        Method::GET,
        "/audit-events?limit=200",
        t,
        None,
        None,
    )
    .await;
    let kinds: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_id"] == json!(id))
        .filter_map(|e| e["type"].as_str())
        .collect();
    for kind in [
        "user.created",
        "user.updated",
        "user.disabled",
        "user.enabled",
        "user.access_revoked",
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "client.deleted",
        "key.rotated",
    ] {
        assert!(kinds.contains(&kind), "{kind} audited: {kinds:?}");
    }
    let by_client = call(
        &server,
        Method::GET,
        &format!("/audit-events?client_id={client_id}"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(by_client.body["items"].as_array().unwrap().len(), 4);
    let unknown_type = call(
        &server,
        Method::GET,
        "/audit-events?type=nonsense",
        t,
        None,
        None,
    )
    .await;
    assert_eq!(field_errors(&unknown_type), ["type"]);
}

#[tokio::test]
async fn deleting_a_user_erases_their_data_keeps_a_pseudonymous_audit_trail_and_is_idempotent() {
    let server = TestServer::start().await;
    let (id, secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let token = admin_token(&server, &id, &secret, ALL_ADMIN_SCOPES).await;
    let t = Some(token.as_str());
    let email = "raderas.person@example.se";
    let name = "Rut Raderasdotter";
    let user_id = server
        .create_user(email, name, crate::common::PASSWORD)
        .await;
    // She logs in once, so there are sessions and audit events naming her.
    let (rp_id, _) = server.create_client("Portal").await;
    let mut browser = Browser::new(&server.base_url);
    browser
        .code_for(&rp_id, email, crate::common::PASSWORD)
        .await;
    let sessions = call(
        &server,
        reqwest::Method::GET,
        &format!("/users/{user_id}/sessions"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(
        sessions.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        sessions.body
    );

    let deleted = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/users/{user_id}"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/users/{user_id}"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::NO_CONTENT,
        "deleting twice is fine"
    );
    let lookup = call(
        &server,
        reqwest::Method::GET,
        &format!("/users/{user_id}"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(lookup.status, StatusCode::NOT_FOUND);

    // The audit trail keeps her events, under a pseudonym.
    let audit = call(
        &server,
        reqwest::Method::GET,
        "/audit-events?limit=200",
        t,
        None,
        None,
    )
    .await;
    let text = audit.body.to_string();
    assert!(
        !text.contains(&user_id),
        "the user id is gone from the trail"
    );
    let events = audit.body["items"].as_array().unwrap();
    let pseudonym = events
        .iter()
        .find(|e| e["type"] == "user.deleted")
        .and_then(|e| e["user_id"].as_str())
        .expect("the deletion is audited")
        .to_string();
    assert!(pseudonym.starts_with("deleted-"), "{pseudonym}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "login.succeeded" && e["user_id"] == json!(pseudonym)),
        "her login is still there, pseudonymised: {text}"
    );

    // Nothing in the database names her any more.
    let leftovers = rows_mentioning(&server, &[email, name, &user_id]).await;
    assert!(leftovers.is_empty(), "personal data left: {leftovers:?}");
}

/// Every table row (as text) that contains one of `needles`; on SQLite also the raw file.
async fn rows_mentioning(server: &TestServer, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    match backend() {
        Backend::Sqlite => {
            use sqlx::Connection;
            let path = server.state.config.data_dir.join("leasify-id.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open the database file");
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await
                .expect("checkpoint");
            conn.close().await.ok();
            let bytes = std::fs::read(&path).expect("the database file");
            for needle in needles {
                if bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes())
                {
                    found.push(format!("{needle:?} in the SQLite file"));
                }
            }
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&server.database_url)
                .await
                .expect("connect");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut conn)
            .await
            .expect("tables");
            assert!(tables.len() > 10, "{tables:?}");
            for table in tables {
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT t::text FROM \"{table}\" t"
                )))
                .fetch_all(&mut conn)
                .await
                .expect("rows");
                for row in rows {
                    if needles.iter().any(|n| row.contains(n)) {
                        found.push(format!("{table}: {row}"));
                    }
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let server = TestServer::start().await;
    let response = plain_client()
        .get(server.url("/admin/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().expect("paths");
    for path in [
        "/users",
        "/users/{id}",
        "/users/{id}/sessions",
        "/clients/{id}/secret",
        "/keys/rotate",
        "/audit-events",
    ] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());

    let discovery: Value = plain_client()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("client_credentials"))
    );
}

#[tokio::test]
async fn a_users_console_role_is_set_and_cleared_with_the_write_scope() {
    let server = TestServer::start().await;
    let user = server
        .create_user(
            "agnes@leasify.se",
            "Agnes Admin",
            "correct horse battery staple",
        )
        .await;
    let (id, secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let token = admin_token(&server, &id, &secret, ALL_ADMIN_SCOPES).await;
    let (reader_id, reader_secret) = machine_client(&server, "admin:users:read").await;
    let reader = admin_token(&server, &reader_id, &reader_secret, "admin:users:read").await;
    let path = format!("/users/{user}/admin-role");
    let put = async |token: &str, body: Value, key: Option<&str>| {
        call(
            &server,
            reqwest::Method::PUT,
            &path,
            Some(token),
            Some(body),
            key,
        )
        .await
    };

    let shown = call(
        &server,
        reqwest::Method::GET,
        &format!("/users/{user}"),
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(shown.body["admin_role"], Value::Null, "{}", shown.body);

    let refused = put(&reader, json!({"role": "admin"}), None).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "read scope only");
    let invalid = put(&token, json!({"role": "root"}), None).await;
    assert_problem(&invalid, StatusCode::UNPROCESSABLE_ENTITY, "unknown role");
    assert_eq!(field_errors(&invalid), ["role"]);
    let unknown = put(&token, json!({"role": "admin", "extra": 1}), None).await;
    assert_problem(&unknown, StatusCode::UNPROCESSABLE_ENTITY, "unknown field");

    let granted = put(&token, json!({"role": "support"}), Some("role-1")).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    assert_eq!(granted.body["admin_role"], "support");
    let replayed = put(&token, json!({"role": "support"}), Some("role-1")).await;
    assert_eq!(replayed.status, StatusCode::OK);
    assert_eq!(
        replayed
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let listed = call(
        &server,
        reqwest::Method::GET,
        "/users",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(
        listed.body["items"][0]["admin_role"], "support",
        "{}",
        listed.body
    );

    let cleared = call(
        &server,
        reqwest::Method::DELETE,
        &path,
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["admin_role"], Value::Null);
    let nobody = call(
        &server,
        reqwest::Method::PUT,
        "/users/nobody/admin-role",
        Some(&token),
        Some(json!({"role": "admin"})),
        None,
    )
    .await;
    assert_problem(&nobody, StatusCode::NOT_FOUND, "unknown user");

    // Audited with the calling client.
    let events = call(
        &server,
        reqwest::Method::GET,
        &format!("/audit-events?user_id={user}"),
        Some(&token),
        None,
        None,
    )
    .await;
    let kinds: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_id"] == id.as_str())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["admin_role.revoked", "admin_role.granted"]);
}

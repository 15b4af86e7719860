//! Pushed authorization requests (RFC 9126) over real HTTP: a whole code flow with PAR and PKCE,
//! the `request_uri` used once, expiring after its minute, only by its own client; `/par`'s JSON
//! errors (never a redirect); a client marked "PAR required" refused at `/authorize` without it
//! and served with it; the discovery document; and the flag through the CLI and the admin API.

use crate::admin_api::{ALL_ADMIN_SCOPES, admin_token, call, machine_client};
use crate::cli::Install;
use crate::common;

use common::*;
use leasify_id::admin::clients::{self, NewClient};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

const EMAIL: &str = "anna@example.se";
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// A request `/par` refuses: what it is, the fields that make it wrong, and the error.
type Refused<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// How a request to `/par` authenticates.
enum Auth<'a> {
    Basic(&'a str, &'a str),
    /// `client_id` in the body only (a public client), or nothing at all.
    None,
}

/// POSTs `fields` to `/par`.
async fn push(server: &TestServer, auth: Auth<'_>, fields: &[(&str, &str)]) -> Response {
    let mut request = plain_client()
        .post(server.url("/par"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).expect("form encoding"));
    if let Auth::Basic(id, secret) = auth {
        request = request.header(header::AUTHORIZATION, basic_auth(id, secret));
    }
    read(request.send().await.expect("PAR request")).await
}

/// A code request for the test redirect URI with PKCE (`challenge`), state `st`, then `extra`.
fn code_request<'a>(challenge: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid email"),
        ("state", "st"),
        ("nonce", "n-par-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        fields.retain(|(k, _)| k != name);
        fields.push((name, value));
    }
    fields
}

/// The `request_uri` of a successful push, checking the answer's shape.
fn request_uri_of(response: &Response) -> String {
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "201 from /par:\n{}",
        response.describe()
    );
    assert_json_no_store(response);
    let body = response.json();
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().expect("request_uri");
    let token = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .unwrap_or_else(|| panic!("a request_uri URN: {request_uri}"));
    assert!(
        token.len() >= 22
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "at least 128 random bits, base64url: {token}"
    );
    request_uri.to_string()
}

/// `/authorize` with nothing but `client_id` and `request_uri`.
fn authorize_by_reference(server: &TestServer, client_id: &str, request_uri: &str) -> String {
    authorize_url(
        &server.base_url,
        &[("client_id", client_id), ("request_uri", request_uri)],
    )
}

/// The page for a request that cannot be served: 400, in the browser, and no redirect.
fn assert_gone(page: &Response, what: &str) {
    assert_eq!(
        page.status,
        StatusCode::BAD_REQUEST,
        "{what}: an error page\n{}",
        page.describe()
    );
    assert!(page.location().is_none(), "{what}: no redirect");
    assert!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{what}: a page"
    );
}

async fn server_with_user() -> TestServer {
    let server = TestServer::start().await;
    server.create_user(EMAIL, "Anna Andersson", PASSWORD).await;
    server
}

#[tokio::test]
async fn a_code_flow_with_par_pkce_and_client_secret_basic() {
    let server = server_with_user().await;
    let (id, secret) = server.create_client("Hyresportalen").await;
    let (challenge, verifier) = pkce_pair();
    let pushed = push(
        &server,
        Auth::Basic(&id, &secret),
        &code_request(&challenge, &[]),
    )
    .await;
    let request_uri = request_uri_of(&pushed);

    // The browser carries only the reference; the query's own state is ignored for the pushed
    // one (RFC 9126 §4).
    let mut browser = Browser::new(&server.base_url);
    let url = authorize_url(
        &server.base_url,
        &[
            ("client_id", id.as_str()),
            ("request_uri", request_uri.as_str()),
            ("state", "not-this-one"),
        ],
    );
    let callback = browser.authorize_with_login(&url, EMAIL, PASSWORD).await;
    let params = query_params(&callback);
    assert_eq!(params.get("state").map(String::as_str), Some("st"));
    assert_eq!(params.get("iss").map(String::as_str), Some(server.issuer()));
    let code = params.get("code").expect("a code");

    let tokens = redeem_code(&server.base_url, (&id, &secret), code, &verifier).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());
    let tokens = tokens.json();
    let id_token = jwt_claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(id_token["nonce"], "n-par-1");
    assert_eq!(id_token["aud"], json!(id));
    assert_eq!(tokens["scope"], "openid email");
    let userinfo = userinfo_request(
        &server.base_url,
        tokens["access_token"].as_str().expect("an access token"),
    )
    .await;
    assert_eq!(userinfo.status, StatusCode::OK, "{}", userinfo.describe());
    assert_eq!(userinfo.json()["email"], EMAIL);

    // A PAR request from a logged-in browser is answered at once, like any other.
    let (challenge, _) = pkce_pair();
    let pushed = push(
        &server,
        Auth::Basic(&id, &secret),
        &code_request(&challenge, &[("state", "again")]),
    )
    .await;
    let callback = browser
        .authorize_silently(&authorize_by_reference(
            &server,
            &id,
            &request_uri_of(&pushed),
        ))
        .await;
    let params = query_params(&callback);
    assert_eq!(params.get("state").map(String::as_str), Some("again"));
    assert!(params.contains_key("code"), "{callback}");
}

#[tokio::test]
async fn a_request_uri_works_once() {
    let server = server_with_user().await;
    let (id, secret) = server.create_client("Hyresportalen").await;
    let (challenge, _) = pkce_pair();
    let pushed = push(
        &server,
        Auth::Basic(&id, &secret),
        &code_request(&challenge, &[]),
    )
    .await;
    let url = authorize_by_reference(&server, &id, &request_uri_of(&pushed));
    let mut browser = Browser::new(&server.base_url);
    let login = browser.navigate(&url).await;
    assert!(login.login_form().is_some(), "{}", login.describe());

    // The pending login carries the request now: the reference is spent, in any browser.
    let again = browser.navigate(&url).await;
    assert_gone(&again, "the same request_uri again");
    let elsewhere = Browser::new(&server.base_url).navigate(&url).await;
    assert_gone(&elsewhere, "the same request_uri in another browser");

    // The first login still finishes.
    let done = browser.submit_login(&login, EMAIL, PASSWORD).await;
    let params = query_params(&client_redirect(&done));
    assert!(params.contains_key("code"));
}

#[tokio::test]
async fn a_request_uri_expires_after_a_minute() {
    let server = server_with_user().await;
    let (id, secret) = server.create_client("Hyresportalen").await;
    let (challenge, _) = pkce_pair();
    let late = push(
        &server,
        Auth::Basic(&id, &secret),
        &code_request(&challenge, &[]),
    )
    .await;
    let late = request_uri_of(&late);
    server.clock.advance(61);
    let page = Browser::new(&server.base_url)
        .navigate(&authorize_by_reference(&server, &id, &late))
        .await;
    assert_gone(&page, "an expired request_uri");
    assert!(
        page.body.contains("tog för lång tid"),
        "the request-expired page:\n{}",
        page.body
    );
}

#[tokio::test]
async fn a_request_uri_is_only_for_the_client_that_pushed_it() {
    let server = server_with_user().await;
    let (id, secret) = server.create_client("Hyresportalen").await;
    let (other, _) = server.create_client("Någon annan").await;
    let (challenge, _) = pkce_pair();
    let pushed = push(
        &server,
        Auth::Basic(&id, &secret),
        &code_request(&challenge, &[]),
    )
    .await;
    let request_uri = request_uri_of(&pushed);
    let mut browser = Browser::new(&server.base_url);
    let page = browser
        .navigate(&authorize_by_reference(&server, &other, &request_uri))
        .await;
    assert_gone(&page, "another client's request_uri");
    let without_client = browser
        .navigate(&authorize_url(
            &server.base_url,
            &[("request_uri", request_uri.as_str())],
        ))
        .await;
    assert_gone(&without_client, "a request_uri without client_id");

    // Naming it with the wrong client did not spend it.
    let callback = browser
        .authorize_with_login(
            &authorize_by_reference(&server, &id, &request_uri),
            EMAIL,
            PASSWORD,
        )
        .await;
    assert!(query_params(&callback).contains_key("code"), "{callback}");

    // In the body of /par, another client_id than the authenticated one is refused.
    let refused = push(
        &server,
        Auth::Basic(&id, &secret),
        &code_request(&challenge, &[("client_id", other.as_str())]),
    )
    .await;
    assert_token_error(&refused, 400, "invalid_request");
}

#[tokio::test]
async fn par_errors_are_json_and_never_redirect() {
    let server = TestServer::start().await;
    let (id, secret) = server.create_client("Hyresportalen").await;
    let (challenge, _) = pkce_pair();
    let fields = code_request(&challenge, &[]);

    // Client authentication as at /token: none, a wrong secret, an unknown client.
    let mut anonymous = fields.clone();
    anonymous.push(("client_id", &id));
    for (what, response) in [
        ("no credentials", push(&server, Auth::None, &fields).await),
        (
            "client_id without its secret",
            push(&server, Auth::None, &anonymous).await,
        ),
        (
            "a wrong secret",
            push(&server, Auth::Basic(&id, "wrong"), &fields).await,
        ),
        (
            "an unknown client",
            push(&server, Auth::Basic("nobody", &secret), &fields).await,
        ),
    ] {
        assert_token_error(&response, 401, "invalid_client");
        assert!(
            response.header("www-authenticate").is_some(),
            "{what}: a challenge"
        );
    }

    let basic = || Auth::Basic(&id, &secret);
    let cases: &[Refused] = &[
        (
            "an unregistered redirect_uri",
            &[("redirect_uri", "https://evil.example/cb")],
            "invalid_redirect_uri",
        ),
        (
            "a request_uri inside the pushed request",
            &[("request_uri", "urn:ietf:params:oauth:request_uri:abc")],
            "invalid_request",
        ),
        (
            "only an unknown scope",
            &[("scope", "bogus")],
            "invalid_scope",
        ),
        (
            "another response_type",
            &[("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            "an unknown prompt",
            &[("prompt", "sometimes")],
            "invalid_request",
        ),
        (
            "a malformed code_challenge",
            &[("code_challenge", "short")],
            "invalid_request",
        ),
    ];
    for (what, extra, error) in cases {
        let response = push(&server, basic(), &code_request(&challenge, extra)).await;
        assert_token_error(&response, 400, error);
        assert!(response.location().is_none(), "{what}: no redirect");
    }
    let mut without_redirect = fields.clone();
    without_redirect.retain(|(k, _)| *k != "redirect_uri");
    let response = push(&server, basic(), &without_redirect).await;
    assert_token_error(&response, 400, "invalid_request");
    let mut twice = fields.clone();
    twice.push(("state", "two"));
    let response = push(&server, basic(), &twice).await;
    assert_token_error(&response, 400, "invalid_request");

    // A public client pushes with its client_id, as it would redeem a code.
    let spa = server.create_public_client("Mobilappen").await;
    let mut public = fields.clone();
    public.push(("client_id", &spa));
    request_uri_of(&push(&server, Auth::None, &public).await);
    public.retain(|(k, _)| !k.starts_with("code_challenge"));
    let response = push(&server, Auth::None, &public).await;
    assert_token_error(&response, 400, "invalid_request");
}

#[tokio::test]
async fn a_client_requiring_par_is_refused_without_it_and_served_with_it() {
    let server = server_with_user().await;
    let view = clients::create(
        &server.state,
        NewClient {
            name: "Finansportalen".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            require_pushed_authorization_requests: true,
            ..Default::default()
        },
    )
    .await
    .expect("client created");
    assert!(view.require_pushed_authorization_requests);
    let (id, secret) = (view.client_id, view.client_secret.expect("a secret"));
    let (challenge, verifier) = pkce_pair();

    // Directly: invalid_request at its registered redirect URI, saying why, with the state.
    let mut direct = code_request(&challenge, &[]);
    direct.push(("client_id", &id));
    let mut browser = Browser::new(&server.base_url);
    let refused = browser
        .navigate(&authorize_url(&server.base_url, &direct))
        .await;
    let params = query_params(&client_redirect(&refused));
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("invalid_request")
    );
    let description = params.get("error_description").expect("a description");
    assert!(
        description.contains("pushed authorization request"),
        "{description}"
    );
    assert_eq!(params.get("state").map(String::as_str), Some("st"));
    assert_eq!(params.get("iss").map(String::as_str), Some(server.issuer()));

    // Pushed first: the whole flow works.
    let pushed = push(
        &server,
        Auth::Basic(&id, &secret),
        &code_request(&challenge, &[]),
    )
    .await;
    let callback = browser
        .authorize_with_login(
            &authorize_by_reference(&server, &id, &request_uri_of(&pushed)),
            EMAIL,
            PASSWORD,
        )
        .await;
    let code = query_params(&callback).get("code").expect("a code").clone();
    let tokens = redeem_code(&server.base_url, (&id, &secret), &code, &verifier).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());
}

#[tokio::test]
async fn discovery_advertises_the_par_endpoint() {
    let server = TestServer::start().await;
    let doc: Value = plain_client()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        server.url("/par")
    );
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    // Request objects by reference are still not supported; a PAR request_uri is not one.
    assert_eq!(doc["request_uri_parameter_supported"], false);
}

#[tokio::test]
async fn the_cli_sets_and_clears_the_par_requirement() {
    let install = Install::new().await;
    let created = install.json(&[
        "client",
        "create",
        "--name",
        "Finansportalen",
        "--redirect-uri",
        REDIRECT_URI,
        "--require-par",
    ]);
    assert_eq!(created["require_pushed_authorization_requests"], true);
    let id = created["client_id"].as_str().expect("client_id");
    let shown = install.json(&["client", "show", id]);
    assert_eq!(shown["require_pushed_authorization_requests"], true);

    let cleared = install.json(&["client", "update", id, "--no-require-par"]);
    assert_eq!(cleared["require_pushed_authorization_requests"], false);
    assert_eq!(cleared["name"], "Finansportalen", "the rest stays");
    let shown = install.json(&["client", "show", id]);
    assert_eq!(shown["require_pushed_authorization_requests"], false);
    let set = install.json(&["client", "update", id, "--require-par"]);
    assert_eq!(set["require_pushed_authorization_requests"], true);

    let plain = install.json(&[
        "client",
        "create",
        "--name",
        "Hyresportalen",
        "--redirect-uri",
        REDIRECT_URI,
    ]);
    assert_eq!(plain["require_pushed_authorization_requests"], false);
}

#[tokio::test]
async fn the_admin_api_sets_shows_and_documents_the_par_requirement() {
    let server = TestServer::start().await;
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
            "require_pushed_authorization_requests": true,
        })),
        None,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["require_pushed_authorization_requests"], true);
    let id = created.body["client_id"].as_str().expect("client_id");
    let path = format!("/clients/{id}");
    let got = call(&server, Method::GET, &path, token, None, None).await;
    assert_eq!(got.body["require_pushed_authorization_requests"], true);

    let patched = call(
        &server,
        Method::PATCH,
        &path,
        token,
        Some(json!({"require_pushed_authorization_requests": false})),
        None,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["require_pushed_authorization_requests"], false);
    let got = call(&server, Method::GET, &path, token, None, None).await;
    assert_eq!(got.body["require_pushed_authorization_requests"], false);
    // A PATCH without it leaves it as it is.
    call(
        &server,
        Method::PATCH,
        &path,
        token,
        Some(json!({"require_pushed_authorization_requests": true})),
        None,
    )
    .await;
    let renamed = call(
        &server,
        Method::PATCH,
        &path,
        token,
        Some(json!({"name": "Finansportalen 2"})),
        None,
    )
    .await;
    assert_eq!(renamed.body["require_pushed_authorization_requests"], true);
    // Not a boolean: refused, naming nothing saved.
    let wrong = call(
        &server,
        Method::PATCH,
        &path,
        token,
        Some(json!({"require_pushed_authorization_requests": "yes"})),
        None,
    )
    .await;
    assert!(wrong.status.is_client_error(), "{}", wrong.body);

    // Without it, a new client does not require PAR.
    let plain = call(
        &server,
        Method::POST,
        "/clients",
        token,
        Some(json!({"name": "Hyresportalen", "redirect_uris": [REDIRECT_URI]})),
        None,
    )
    .await;
    assert_eq!(plain.body["require_pushed_authorization_requests"], false);

    let document: Value = plain_client()
        .get(server.url("/admin/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &document["components"]["schemas"];
    for schema in ["ClientView", "CreateClient", "UpdateClient"] {
        let property = &schemas[schema]["properties"]["require_pushed_authorization_requests"];
        assert!(
            property.is_object(),
            "{schema} documents require_pushed_authorization_requests: {}",
            schemas[schema]
        );
    }
    let required = schemas["ClientView"]["required"]
        .as_array()
        .expect("required members");
    assert!(required.contains(&json!("require_pushed_authorization_requests")));
}

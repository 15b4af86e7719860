//! The `claims` request parameter (claims by name for UserInfo and the ID token, kept through
//! refresh; malformed JSON is `invalid_request`), `acr_values` (BankID's LoA 3 cannot be met by a
//! password; the password level or unknown values can) and `prompt=select_account`.

use crate::bankid_support;
use crate::common;

use common::*;
use leasify_id::admin::clients::{self, NewClient};
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

const EMAIL: &str = "lena@example.se";
const NAME: &str = "Lena Ek";
const STATE: &str = "claims-state";
const ACR_PASSWORD: &str = "urn:leasify:acr:password";
const LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";

/// An authorization URL (code flow, PKCE S256, state [`STATE`]) for `scope` with `extra`
/// parameters; returns the URL and the PKCE verifier.
fn authorization(
    server: &TestServer,
    client_id: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (challenge, verifier) = pkce_pair();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", STATE),
        ("nonce", "claims-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    (authorize_url(&server.base_url, &params), verifier)
}

fn callback_params(
    server: &TestServer,
    callback: &Url,
) -> std::collections::HashMap<String, String> {
    let params = query_params(callback);
    assert_eq!(
        params.get("state").map(String::as_str),
        Some(STATE),
        "{callback}"
    );
    assert_eq!(params.get("iss").map(String::as_str), Some(server.issuer()));
    params
}

fn error_of(server: &TestServer, callback: &Url) -> String {
    let params = callback_params(server, callback);
    assert!(!params.contains_key("code"), "no code: {callback}");
    params
        .get("error")
        .unwrap_or_else(|| panic!("an error: {callback}"))
        .clone()
}

/// Redeems the code in `callback`; returns the token response and the ID token's claims.
async fn redeem(
    server: &TestServer,
    client: (&str, &str),
    callback: &Url,
    verifier: &str,
) -> (Value, Value) {
    let params = callback_params(server, callback);
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("a code: {callback}"));
    let response = redeem_code(&server.base_url, client, code, verifier).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    let tokens = response.json();
    let claims = jwt_claims(tokens["id_token"].as_str().expect("id_token"));
    (tokens, claims)
}

async fn userinfo(server: &TestServer, access_token: &str) -> Value {
    let response = userinfo_request(&server.base_url, access_token).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    response.json()
}

// ---------------------------------------------------------------------------------------------
// The claims parameter
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn claims_named_in_the_request_reach_userinfo_and_the_id_token_and_survive_refresh() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Leasify portal").await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    let rp = server.relying_party(&client_id, Some(&secret)).await;
    let mut browser = Browser::new(&server.base_url);

    // Without the parameter, scope openid gives the subject only.
    let plain = rp.authorization(&[], true, |r| r);
    let callback = browser
        .authorize_with_login(plain.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, claims) = rp.complete(plain, &callback).await;
    assert!(claims.email().is_none() && claims.name().is_none());
    let info = userinfo(&server, tokens.access_token().secret()).await;
    assert_eq!(info, json!({ "sub": user_id }));

    // name for UserInfo, email for the ID token (scope still openid only).
    let requested = r#"{"userinfo":{"name":{"essential":true}},"id_token":{"email":null}}"#;
    let asked = rp.authorization(&[], true, |r| r.add_extra_param("claims", requested));
    let callback = browser.authorize_silently(asked.url.as_str()).await;
    let (tokens, claims) = rp.complete(asked, &callback).await;
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some(EMAIL),
        "email in the ID token"
    );
    assert!(claims.name().is_none(), "name was asked for UserInfo only");
    assert_eq!(
        tokens.scopes().map(|s| s.len()),
        Some(1),
        "scope stays openid"
    );
    let info = userinfo(&server, tokens.access_token().secret()).await;
    assert_eq!(info["name"], NAME);
    assert!(
        info.get("email").is_none(),
        "email was asked for the ID token only: {info}"
    );

    // Refreshed tokens keep what the grant asked for.
    let refreshed = rp
        .refresh(tokens.refresh_token().expect("a refresh token"))
        .await
        .unwrap_or_else(|e| panic!("refresh: {}", describe_token_error(&e)));
    let id_token = refreshed.id_token().expect("a new ID token").to_string();
    let claims = jwt_claims(&id_token);
    assert_eq!(claims["email"], EMAIL, "{claims}");
    assert!(claims.get("name").is_none());
    let info = userinfo(&server, refreshed.access_token().secret()).await;
    assert_eq!(info["name"], NAME, "{info}");
    assert!(info.get("email").is_none());

    // The other way round, through raw requests.
    let (url, verifier) = authorization(
        &server,
        &client_id,
        "openid",
        &[(
            "claims",
            r#"{"userinfo":{"email":null},"id_token":{"name":null}}"#,
        )],
    );
    let callback = browser.authorize_silently(&url).await;
    let (tokens, claims) = redeem(&server, (&client_id, &secret), &callback, &verifier).await;
    assert_eq!(claims["name"], NAME, "{claims}");
    assert!(claims.get("email").is_none(), "{claims}");
    let info = userinfo(&server, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], EMAIL, "{info}");
    assert!(info.get("name").is_none(), "{info}");
}

#[tokio::test]
async fn a_malformed_claims_parameter_is_an_invalid_request() {
    let server = TestServer::start().await;
    let (client_id, _) = server.create_client("Leasify portal").await;
    let mut browser = Browser::new(&server.base_url);
    for claims in [
        "{not json",
        "[]",
        r#""userinfo""#,
        r#"{"userinfo":["name"]}"#,
        r#"{"userinfo":{"name":3}}"#,
        r#"{"id_token":{"email":"yes"}}"#,
    ] {
        let (url, _) = authorization(&server, &client_id, "openid", &[("claims", claims)]);
        let callback = browser.authorize_silently(&url).await;
        assert_eq!(error_of(&server, &callback), "invalid_request", "{claims}");
        let description = query_params(&callback)
            .get("error_description")
            .cloned()
            .unwrap_or_default();
        assert!(
            description.to_ascii_lowercase().contains("claim"),
            "{claims}: the description names the parameter: {description:?}"
        );
    }
    // Sent twice is refused as well.
    let (url, _) = authorization(&server, &client_id, "openid", &[]);
    let url = format!("{url}&claims=%7B%7D&claims=%7B%7D");
    let callback = browser.authorize_silently(&url).await;
    assert_eq!(error_of(&server, &callback), "invalid_request");
    // Unknown members are extensions and ignored.
    let (url, _) = authorization(
        &server,
        &client_id,
        "openid",
        &[("claims", r#"{"x-other":{"a":null}}"#)],
    );
    let login = browser.navigate(&url).await;
    assert!(login.login_form().is_some(), "{}", login.describe());
}

#[tokio::test]
async fn the_claims_parameter_does_not_reach_beyond_the_clients_scopes() {
    let server = TestServer::start().await;
    server.create_user(EMAIL, NAME, PASSWORD).await;
    let view = clients::create(
        &server.state,
        NewClient {
            name: "Only openid".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            scopes: vec!["openid".into()],
            ..Default::default()
        },
    )
    .await
    .expect("client");
    let client = (
        view.client_id.as_str(),
        view.client_secret.as_deref().unwrap(),
    );
    let mut browser = Browser::new(&server.base_url);
    let (url, verifier) = authorization(
        &server,
        client.0,
        "openid email profile",
        &[(
            "claims",
            r#"{"userinfo":{"email":null,"name":null},"id_token":{"email":null,"name":null}}"#,
        )],
    );
    let callback = browser.authorize_with_login(&url, EMAIL, PASSWORD).await;
    let (tokens, claims) = redeem(&server, client, &callback, &verifier).await;
    assert_eq!(tokens["scope"], "openid");
    for claim in ["email", "name"] {
        assert!(
            claims.get(claim).is_none(),
            "{claim} is not for this client: {claims}"
        );
    }
    let info = userinfo(&server, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.as_object().map(|o| o.len()), Some(1), "{info}");
}

// ---------------------------------------------------------------------------------------------
// acr_values
// ---------------------------------------------------------------------------------------------

/// The BankID button's form on a login page.
fn bankid_form(page: &Response) -> Form {
    Form::find(page, "form[action=\"/bankid/login\"]")
        .unwrap_or_else(|| panic!("the BankID button:\n{}", page.describe()))
}

/// Asserts a login page offering BankID only.
fn assert_bankid_only(page: &Response) {
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert_eq!(page.url.path(), "/login", "{}", page.describe());
    assert!(
        page.login_form().is_none(),
        "no password form: {}",
        page.body
    );
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    assert!(
        page.body.contains("Appen kräver inloggning med BankID."),
        "{}",
        page.body
    );
    bankid_form(page);
}

#[tokio::test]
async fn demanding_bankid_hides_the_password_form_and_refuses_a_password_login() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Leasify portal").await;
    server.create_user(EMAIL, NAME, PASSWORD).await;
    let mut browser = Browser::new(&server.base_url);

    let (url, _) = authorization(&server, &client_id, "openid", &[("acr_values", LOA3)]);
    let login = browser.navigate(&url).await;
    assert_bankid_only(&login);

    // A password login sent anyway (the form's fields by hand) ends in access_denied.
    let bankid = bankid_form(&login);
    let mut fields: Vec<(String, String)> = ["csrf", "req", "lang"]
        .iter()
        .map(|name| {
            let value = bankid
                .get(name)
                .unwrap_or_else(|| panic!("{name} in {bankid:?}"));
            (name.to_string(), value.to_string())
        })
        .collect();
    fields.push(("email".into(), EMAIL.into()));
    fields.push(("password".into(), PASSWORD.into()));
    let response = browser.post_form(&server.url("/login"), &fields).await;
    let response = browser.follow(response).await;
    let callback = client_redirect(&response);
    assert_eq!(error_of(&server, &callback), "access_denied");

    // The browser now has a password session: it is still not enough, silently or not.
    let (url, _) = authorization(&server, &client_id, "openid", &[("acr_values", LOA3)]);
    assert_bankid_only(&browser.navigate(&url).await);
    let (url, _) = authorization(
        &server,
        &client_id,
        "openid",
        &[("acr_values", LOA3), ("prompt", "none")],
    );
    assert_eq!(
        error_of(&server, &browser.authorize_silently(&url).await),
        "login_required"
    );
    // Asking for the acr with values in the claims parameter is the same demand.
    let essential = json!({"id_token": {"acr": {"essential": true, "values": [LOA3]}}});
    let (url, _) = authorization(
        &server,
        &client_id,
        "openid",
        &[("claims", &essential.to_string())],
    );
    assert_bankid_only(&browser.navigate(&url).await);
    let single = json!({"id_token": {"acr": {"value": LOA3}}});
    let (url, _) = authorization(
        &server,
        &client_id,
        "openid",
        &[("claims", &single.to_string())],
    );
    assert_bankid_only(&browser.navigate(&url).await);

    // Without the demand the session is used, at the password level.
    let (url, verifier) = authorization(&server, &client_id, "openid", &[]);
    let callback = browser.authorize_silently(&url).await;
    let (_, claims) = redeem(&server, (&client_id, &secret), &callback, &verifier).await;
    assert_eq!(claims["acr"], ACR_PASSWORD);
}

#[tokio::test]
async fn the_password_level_or_unknown_levels_accept_a_password_login() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Leasify portal").await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    for acr_values in [
        ACR_PASSWORD,
        "urn:example:unknown-level",
        "http://id.elegnamnden.se/loa/1.0/loa3 urn:leasify:acr:password",
    ] {
        let mut browser = Browser::new(&server.base_url);
        let (url, verifier) =
            authorization(&server, &client_id, "openid", &[("acr_values", acr_values)]);
        let login = browser.navigate(&url).await;
        assert!(login.login_form().is_some(), "{acr_values}: {}", login.body);
        assert!(!login.body.contains("Appen kräver inloggning med BankID."));
        let done = browser.submit_login(&login, EMAIL, PASSWORD).await;
        let callback = client_redirect(&done);
        let (_, claims) = redeem(&server, (&client_id, &secret), &callback, &verifier).await;
        assert_eq!(claims["sub"], user_id.as_str());
        assert_eq!(claims["acr"], ACR_PASSWORD, "{acr_values}");
        assert_eq!(claims["amr"], json!(["pwd"]));
    }
}

#[tokio::test]
async fn a_bankid_login_meets_loa3_and_its_session_answers_later_requests() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Leasify portal").await;
    let user_id = bankid_support::linked_user(&server).await;
    let mut phone = Browser::new(&server.base_url);

    let (url, verifier) = authorization(&server, &client_id, "openid", &[("acr_values", LOA3)]);
    let login = phone.navigate(&url).await;
    assert_bankid_only(&login);
    let done =
        bankid_support::bankid_login(&server, &mut phone, &login, bankid_support::PERSON).await;
    let callback = client_redirect(&done);
    let (_, claims) = redeem(&server, (&client_id, &secret), &callback, &verifier).await;
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["acr"], LOA3);

    // The BankID session meets the demand silently, through acr_values or claims.
    let essential = json!({"id_token": {"acr": {"essential": true, "values": [LOA3]}}});
    for extra in [
        vec![
            ("acr_values", LOA3.to_string()),
            ("prompt", "none".to_string()),
        ],
        vec![("claims", essential.to_string())],
    ] {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (url, verifier) = authorization(&server, &client_id, "openid", &extra);
        let callback = phone.authorize_silently(&url).await;
        let (_, claims) = redeem(&server, (&client_id, &secret), &callback, &verifier).await;
        assert_eq!(claims["acr"], LOA3, "{extra:?}");
    }
}

#[tokio::test]
async fn discovery_lists_the_levels_and_without_bankid_a_demand_for_it_is_ignored() {
    let server = TestServer::start_with(|config| config.bankid.mode = "disabled".into()).await;
    let (client_id, secret) = server.create_client("Leasify portal").await;
    server.create_user(EMAIL, NAME, PASSWORD).await;
    let doc = read(
        plain_client()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .json();
    assert_eq!(doc["acr_values_supported"], json!([ACR_PASSWORD]));

    // LoA 3 is not offered here, so it is an unknown value: the password login is the one there is.
    let mut browser = Browser::new(&server.base_url);
    let (url, verifier) = authorization(&server, &client_id, "openid", &[("acr_values", LOA3)]);
    let login = browser.navigate(&url).await;
    assert!(login.login_form().is_some(), "{}", login.body);
    let done = browser.submit_login(&login, EMAIL, PASSWORD).await;
    let (_, claims) = redeem(
        &server,
        (&client_id, &secret),
        &client_redirect(&done),
        &verifier,
    )
    .await;
    assert_eq!(claims["acr"], ACR_PASSWORD);
}

// ---------------------------------------------------------------------------------------------
// prompt=select_account
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn select_account_shows_the_login_page_even_with_a_session() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Leasify portal").await;
    let lena = server.create_user(EMAIL, NAME, PASSWORD).await;
    let per = server
        .create_user("per@example.se", "Per Holm", PASSWORD)
        .await;
    let client = (client_id.as_str(), secret.as_str());
    let mut browser = Browser::new(&server.base_url);

    let (url, verifier) = authorization(&server, &client_id, "openid", &[]);
    let callback = browser.authorize_with_login(&url, EMAIL, PASSWORD).await;
    let (_, claims) = redeem(&server, client, &callback, &verifier).await;
    assert_eq!(claims["sub"], lena.as_str());
    let first_auth_time = claims["auth_time"].as_i64().unwrap();
    // The session answers silently…
    let (url, verifier) = authorization(&server, &client_id, "openid", &[]);
    let callback = browser.authorize_silently(&url).await;
    redeem(&server, client, &callback, &verifier).await;

    // …but select_account asks who is there, and another account can be chosen.
    server.clock.advance(30);
    let (url, verifier) = authorization(
        &server,
        &client_id,
        "openid",
        &[("prompt", "select_account")],
    );
    let login = browser.navigate(&url).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.describe());
    assert!(login.login_form().is_some(), "{}", login.describe());
    let done = browser
        .submit_login(&login, "per@example.se", PASSWORD)
        .await;
    let (_, claims) = redeem(&server, client, &client_redirect(&done), &verifier).await;
    assert_eq!(claims["sub"], per.as_str());
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!(
        auth_time >= first_auth_time + 30,
        "a new login: auth_time {auth_time}, first {first_auth_time}"
    );

    // The new session is the one used from now on.
    let (url, verifier) = authorization(&server, &client_id, "openid", &[]);
    let callback = browser.authorize_silently(&url).await;
    let (_, claims) = redeem(&server, client, &callback, &verifier).await;
    assert_eq!(claims["sub"], per.as_str());

    // select_account cannot be answered without showing a page.
    let (url, _) = authorization(
        &server,
        &client_id,
        "openid",
        &[("prompt", "none select_account")],
    );
    assert_eq!(
        error_of(&server, &browser.authorize_silently(&url).await),
        "invalid_request"
    );
}

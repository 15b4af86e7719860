//! Consent: a third-party app asks once per set of scopes (remembered; more scopes ask again),
//! "Neka" sends `access_denied`, `prompt=consent` always asks (first-party apps too),
//! `prompt=none` gets `consent_required`, and Mina uppgifter lists the apps with access and
//! withdraws it (the app's refresh and access tokens stop working).

use crate::common;

use common::*;
use leasify_id::admin::clients::{self, NewClient};
use reqwest::StatusCode;
use url::Url;

const EMAIL: &str = "karin@example.se";
const NAME: &str = "Karin Björk";
const STATE: &str = "consent-state";
const LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";

/// A confidential third-party client; returns (client_id, client_secret).
async fn third_party(server: &TestServer, name: &str) -> (String, String) {
    let view = clients::create(
        &server.state,
        NewClient {
            name: name.to_string(),
            redirect_uris: vec![REDIRECT_URI.to_string()],
            third_party: true,
            ..Default::default()
        },
    )
    .await
    .expect("client created");
    assert!(!view.first_party);
    let secret = view.client_secret.expect("a secret");
    (view.client_id, secret)
}

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
        ("nonce", "consent-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    (authorize_url(&server.base_url, &params), verifier)
}

fn consent_form(page: &Response) -> Form {
    Form::find(page, "form[action=\"/consent\"]")
        .unwrap_or_else(|| panic!("the consent form:\n{}", page.describe()))
}

/// Asserts that `page` is the consent page for `app` and returns it unchanged.
fn assert_consent_page(page: &Response, app: &str) {
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert_eq!(page.url.path(), "/consent", "{}", page.describe());
    assert!(page.body.contains("Ge behörighet"), "{}", page.describe());
    assert!(
        page.body.contains(app),
        "the app's name: {}",
        page.describe()
    );
    let form = consent_form(page);
    assert_eq!(form.method, "post");
    let req = query_params(&page.url)["req"].clone();
    assert_eq!(form.get("req"), Some(req.as_str()), "the pending request");
    assert!(form.get("csrf").is_some_and(|c| !c.is_empty()), "{form:?}");
}

/// Presses "Tillåt" (`approve`) or "Neka" (`deny`) on the consent page.
async fn decide(browser: &mut Browser, page: &Response, decision: &str) -> Response {
    let mut form = consent_form(page);
    form.set("decision", decision);
    browser.post_form(form.action.as_str(), &form.fields).await
}

/// The code in a successful callback (state and iss checked).
fn code_of(server: &TestServer, callback: &Url) -> String {
    let params = query_params(callback);
    assert!(!params.contains_key("error"), "no error: {callback}");
    assert_eq!(params.get("state").map(String::as_str), Some(STATE));
    assert_eq!(params.get("iss").map(String::as_str), Some(server.issuer()));
    params
        .get("code")
        .unwrap_or_else(|| panic!("a code: {callback}"))
        .clone()
}

/// The error in an error callback (state and iss checked; no code).
fn error_of(server: &TestServer, callback: &Url) -> String {
    let params = query_params(callback);
    assert!(!params.contains_key("code"), "no code: {callback}");
    assert_eq!(params.get("state").map(String::as_str), Some(STATE));
    assert_eq!(params.get("iss").map(String::as_str), Some(server.issuer()));
    params
        .get("error")
        .unwrap_or_else(|| panic!("an error: {callback}"))
        .clone()
}

/// Redeems a code; returns the token response.
async fn tokens(
    server: &TestServer,
    client: (&str, &str),
    code: &str,
    verifier: &str,
) -> serde_json::Value {
    let response = redeem_code(&server.base_url, client, code, verifier).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    response.json()
}

/// Logs the browser in on Mina uppgifter (no app involved); returns the account page.
async fn log_in(server: &TestServer, browser: &mut Browser) -> Response {
    let page = browser.navigate(&server.url("/account")).await;
    let mut form = page.login_form().expect("login form");
    form.set("email", EMAIL);
    form.set("password", PASSWORD);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    let account = browser.follow(response).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.describe());
    assert_eq!(account.url.path(), "/account");
    account
}

/// The scope the user has allowed `client_id`, if any.
async fn stored_consent(server: &TestServer, user_id: &str, client_id: &str) -> Option<String> {
    server
        .state
        .store
        .consent(user_id, client_id)
        .await
        .expect("store")
        .map(|c| c.scope)
}

#[tokio::test]
async fn a_third_party_app_asks_once_and_again_only_for_more_scopes() {
    let server = TestServer::start().await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    let (client_id, secret) = third_party(&server, "Flyttkartonger AB").await;
    let client = (client_id.as_str(), secret.as_str());
    let mut browser = Browser::new(&server.base_url);

    // The first request: log in, then the consent page lists what was asked for, nothing more.
    let (url, verifier) = authorization(&server, &client_id, "openid email", &[]);
    let login = browser.navigate(&url).await;
    let page = browser.submit_login(&login, EMAIL, PASSWORD).await;
    assert_consent_page(&page, "Flyttkartonger AB");
    assert!(page.body.contains("Din e-postadress"), "{}", page.body);
    assert!(page.body.contains("Ditt användar-id hos Leasify ID"));
    assert!(
        !page.body.contains("Ditt namn och språk"),
        "profile was not requested"
    );
    assert!(page.body.contains("Tillåt") && page.body.contains("Neka"));
    assert_eq!(stored_consent(&server, &user_id, &client_id).await, None);

    // "Tillåt": a code for the app, and the consent is remembered.
    let callback = client_redirect(&decide(&mut browser, &page, "approve").await);
    let code = code_of(&server, &callback);
    let issued = tokens(&server, client, &code, &verifier).await;
    assert_eq!(issued["scope"], "openid email");
    assert_eq!(
        stored_consent(&server, &user_id, &client_id)
            .await
            .as_deref(),
        Some("openid email")
    );

    // The same scopes, or fewer: no page.
    for scope in ["openid email", "openid"] {
        let (url, verifier) = authorization(&server, &client_id, scope, &[]);
        let callback = browser.authorize_silently(&url).await;
        let code = code_of(&server, &callback);
        let issued = tokens(&server, client, &code, &verifier).await;
        assert_eq!(issued["scope"], scope);
    }
    // prompt=none is answered too, since nothing new is asked.
    let (url, _) = authorization(&server, &client_id, "email openid", &[("prompt", "none")]);
    code_of(&server, &browser.authorize_silently(&url).await);

    // More scopes: asked again, and the consent grows to cover them all.
    let (url, verifier) = authorization(&server, &client_id, "openid email profile", &[]);
    let page = browser.navigate(&url).await;
    assert_consent_page(&page, "Flyttkartonger AB");
    assert!(page.body.contains("Ditt namn och språk"), "{}", page.body);
    let callback = client_redirect(&decide(&mut browser, &page, "approve").await);
    let issued = tokens(&server, client, &code_of(&server, &callback), &verifier).await;
    assert_eq!(issued["scope"], "openid email profile");
    let mut allowed: Vec<String> = stored_consent(&server, &user_id, &client_id)
        .await
        .expect("consent")
        .split(' ')
        .map(str::to_string)
        .collect();
    allowed.sort();
    assert_eq!(allowed, ["email", "openid", "profile"]);

    // The consent page is used up by the answer: the same form cannot be sent twice.
    let again = decide(&mut browser, &page, "approve").await;
    assert_eq!(
        again.status,
        StatusCode::BAD_REQUEST,
        "{}",
        again.describe()
    );
    assert!(again.header("location").is_none());
}

#[tokio::test]
async fn denying_tells_the_app_access_denied_and_remembers_nothing() {
    let server = TestServer::start().await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    let (client_id, _secret) = third_party(&server, "Flyttkartonger AB").await;
    let mut browser = Browser::new(&server.base_url);

    let (url, _) = authorization(&server, &client_id, "openid profile", &[]);
    let login = browser.navigate(&url).await;
    let page = browser.submit_login(&login, EMAIL, PASSWORD).await;
    assert_consent_page(&page, "Flyttkartonger AB");
    let callback = client_redirect(&decide(&mut browser, &page, "deny").await);
    assert_eq!(error_of(&server, &callback), "access_denied");
    assert_eq!(stored_consent(&server, &user_id, &client_id).await, None);

    // The answered request cannot be approved afterwards.
    let late = decide(&mut browser, &page, "approve").await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.describe());
    assert!(late.header("location").is_none(), "{}", late.describe());

    // The next request asks again (the user is still logged in, so straight to the page).
    let (url, _) = authorization(&server, &client_id, "openid profile", &[]);
    let page = browser.navigate(&url).await;
    assert_consent_page(&page, "Flyttkartonger AB");
    // Anything but "approve" is a no.
    let mut form = consent_form(&page);
    form.set("decision", "maybe");
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        error_of(&server, &client_redirect(&response)),
        "access_denied"
    );
    assert_eq!(stored_consent(&server, &user_id, &client_id).await, None);
}

#[tokio::test]
async fn prompt_none_gets_consent_required_when_the_user_has_not_allowed_the_app() {
    let server = TestServer::start().await;
    server.create_user(EMAIL, NAME, PASSWORD).await;
    let (third_id, _) = third_party(&server, "Flyttkartonger AB").await;
    let (first_id, _) = server.create_client("Leasify portal").await;
    let mut browser = Browser::new(&server.base_url);

    // Without a session it is a login that is missing.
    let (url, _) = authorization(&server, &third_id, "openid", &[("prompt", "none")]);
    let callback = browser.authorize_silently(&url).await;
    assert_eq!(error_of(&server, &callback), "login_required");

    // Logged in: consent is what is missing; a first-party app needs none.
    log_in(&server, &mut browser).await;
    let callback = browser.authorize_silently(&url).await;
    assert_eq!(error_of(&server, &callback), "consent_required");
    let (url, _) = authorization(&server, &first_id, "openid", &[("prompt", "none")]);
    code_of(&server, &browser.authorize_silently(&url).await);
}

#[tokio::test]
async fn prompt_consent_always_asks_even_for_a_first_party_app() {
    let server = TestServer::start().await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    let (first_id, first_secret) = server.create_client("Leasify portal").await;
    let (third_id, _) = third_party(&server, "Flyttkartonger AB").await;
    let mut browser = Browser::new(&server.base_url);
    log_in(&server, &mut browser).await;

    // A first-party app is answered silently…
    let (url, _) = authorization(&server, &first_id, "openid email", &[]);
    code_of(&server, &browser.authorize_silently(&url).await);
    // …unless it asks for consent, every time.
    for _ in 0..2 {
        let (url, verifier) =
            authorization(&server, &first_id, "openid email", &[("prompt", "consent")]);
        let page = browser.navigate(&url).await;
        assert_consent_page(&page, "Leasify portal");
        let callback = client_redirect(&decide(&mut browser, &page, "approve").await);
        let code = code_of(&server, &callback);
        tokens(&server, (&first_id, &first_secret), &code, &verifier).await;
    }
    // Denying it works the same way.
    let (url, _) = authorization(&server, &first_id, "openid", &[("prompt", "consent")]);
    let page = browser.navigate(&url).await;
    let callback = client_redirect(&decide(&mut browser, &page, "deny").await);
    assert_eq!(error_of(&server, &callback), "access_denied");

    // A third-party app already allowed is asked again with prompt=consent.
    let (url, _) = authorization(&server, &third_id, "openid", &[]);
    let page = browser.navigate(&url).await;
    client_redirect(&decide(&mut browser, &page, "approve").await);
    assert!(stored_consent(&server, &user_id, &third_id).await.is_some());
    let (url, _) = authorization(&server, &third_id, "openid", &[("prompt", "consent")]);
    assert_consent_page(&browser.navigate(&url).await, "Flyttkartonger AB");

    // prompt=login consent: a fresh login first, then the page.
    let (url, _) = authorization(&server, &third_id, "openid", &[("prompt", "login consent")]);
    let login = browser.navigate(&url).await;
    assert!(login.login_form().is_some(), "{}", login.describe());
    let page = browser.submit_login(&login, EMAIL, PASSWORD).await;
    assert_consent_page(&page, "Flyttkartonger AB");
}

#[tokio::test]
async fn the_consent_form_needs_the_csrf_token_and_a_session() {
    let server = TestServer::start().await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    let (client_id, _) = third_party(&server, "Flyttkartonger AB").await;
    let mut browser = Browser::new(&server.base_url);
    let (url, _) = authorization(&server, &client_id, "openid", &[]);
    let login = browser.navigate(&url).await;
    let page = browser.submit_login(&login, EMAIL, PASSWORD).await;
    assert_consent_page(&page, "Flyttkartonger AB");

    let mut forged = consent_form(&page);
    forged.set("csrf", "not-the-token");
    forged.set("decision", "approve");
    let refused = browser
        .post_form(forged.action.as_str(), &forged.fields)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.describe()
    );
    assert!(refused.header("location").is_none());
    assert_eq!(stored_consent(&server, &user_id, &client_id).await, None);

    // Another browser without a session is sent to log in, not given a code.
    let mut other = Browser::new(&server.base_url);
    let req = consent_form(&page).get("req").unwrap().to_string();
    let login_page = other
        .navigate(&server.url(&format!("/consent?req={req}")))
        .await;
    assert_eq!(login_page.url.path(), "/login", "{}", login_page.describe());
    assert!(login_page.login_form().is_some());
    assert_eq!(stored_consent(&server, &user_id, &client_id).await, None);

    // The real form still works.
    let callback = client_redirect(&decide(&mut browser, &page, "approve").await);
    code_of(&server, &callback);
}

#[tokio::test]
async fn the_consent_form_cannot_answer_a_request_that_still_needs_a_login() {
    let server = TestServer::start().await;
    server.create_user(EMAIL, NAME, PASSWORD).await;
    let (client_id, _) = server.create_client("Leasify portal").await;
    let mut browser = Browser::new(&server.base_url);
    log_in(&server, &mut browser).await;

    // Requests a password session does not satisfy: BankID demanded, a fresh login demanded, an
    // authentication newer than the session demanded.
    server.clock.advance(120);
    for extra in [
        [("acr_values", LOA3)],
        [("prompt", "login")],
        [("max_age", "60")],
    ] {
        let (url, _) = authorization(&server, &client_id, "openid", &extra);
        let login = browser.navigate(&url).await;
        assert_eq!(
            login.url.path(),
            "/login",
            "{extra:?}: {}",
            login.describe()
        );
        let req = query_params(&login.url)["req"].clone();
        // The BankID button's form carries the same CSRF token as any form on the page.
        let bankid = Form::find(&login, "form[action=\"/bankid/login\"]").expect("BankID form");
        let fields = vec![
            ("csrf".to_string(), bankid.get("csrf").unwrap().to_string()),
            ("req".to_string(), req.clone()),
            ("decision".to_string(), "approve".to_string()),
        ];
        let response = browser.post_form(&server.url("/consent"), &fields).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{}",
            response.describe()
        );
        let code = response
            .location()
            .map(|l| query_params(&l).contains_key("code"))
            .unwrap_or(false);
        assert!(
            !code,
            "{extra:?}: the consent form issued a code without the login the app asked for:\n{}",
            response.describe()
        );
    }

    // The same demands met by a fresh login are consented to as usual, even if the user reads
    // the consent page for longer than max_age.
    let (third_id, third_secret) = third_party(&server, "Flyttkartonger AB").await;
    let (url, verifier) = authorization(
        &server,
        &third_id,
        "openid",
        &[("prompt", "login"), ("max_age", "60")],
    );
    let login = browser.navigate(&url).await;
    let page = browser.submit_login(&login, EMAIL, PASSWORD).await;
    assert_consent_page(&page, "Flyttkartonger AB");
    server.clock.advance(120);
    let callback = client_redirect(&decide(&mut browser, &page, "approve").await);
    let code = code_of(&server, &callback);
    tokens(&server, (&third_id, &third_secret), &code, &verifier).await;
}

/// The revoke form of `client_id` in the "Appar med behörighet" list of Mina uppgifter.
fn revoke_form(page: &Response, client_id: &str) -> Option<Form> {
    let document = scraper::Html::parse_document(&page.body);
    let forms = scraper::Selector::parse("form[action=\"/account/consents/revoke\"]").unwrap();
    let inputs = scraper::Selector::parse("input").unwrap();
    document.select(&forms).find_map(|form| {
        let fields: Vec<(String, String)> = form
            .select(&inputs)
            .filter_map(|i| {
                Some((
                    i.attr("name")?.to_string(),
                    i.attr("value").unwrap_or_default().to_string(),
                ))
            })
            .collect();
        fields
            .iter()
            .any(|(k, v)| k == "client_id" && v == client_id)
            .then(|| Form {
                action: page.url.join("/account/consents/revoke").unwrap(),
                method: "post".into(),
                fields,
            })
    })
}

/// Logs in (if needed) and approves `client_id` for `openid offline_access`; returns the tokens.
async fn allow_and_get_tokens(
    server: &TestServer,
    browser: &mut Browser,
    client: (&str, &str),
    app: &str,
) -> serde_json::Value {
    let (url, verifier) = authorization(server, client.0, "openid offline_access", &[]);
    let mut page = browser.navigate(&url).await;
    if page.login_form().is_some() {
        page = browser.submit_login(&page, EMAIL, PASSWORD).await;
    }
    assert_consent_page(&page, app);
    assert!(
        page.body
            .contains("Att vara inloggad i appen även när du inte använder den"),
        "{}",
        page.body
    );
    let callback = client_redirect(&decide(browser, &page, "approve").await);
    let issued = tokens(server, client, &code_of(server, &callback), &verifier).await;
    assert!(issued["refresh_token"].is_string(), "{issued}");
    issued
}

#[tokio::test]
async fn withdrawing_access_in_mina_uppgifter_stops_the_apps_tokens() {
    let server = TestServer::start().await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    let (a_id, a_secret) = third_party(&server, "Flyttkartonger AB").await;
    let (b_id, b_secret) = third_party(&server, "Hyresgästföreningen").await;
    let mut browser = Browser::new(&server.base_url);

    let account = log_in(&server, &mut browser).await;
    assert!(
        account.body.contains("Inga appar har fått behörighet."),
        "{}",
        account.body
    );
    let a_tokens = allow_and_get_tokens(
        &server,
        &mut browser,
        (&a_id, &a_secret),
        "Flyttkartonger AB",
    )
    .await;
    let b_tokens = allow_and_get_tokens(
        &server,
        &mut browser,
        (&b_id, &b_secret),
        "Hyresgästföreningen",
    )
    .await;

    // Mina uppgifter lists both apps, with what they may do.
    let account = browser.navigate(&server.url("/account")).await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("Appar med behörighet"));
    for app in ["Flyttkartonger AB", "Hyresgästföreningen"] {
        assert!(account.body.contains(app), "{app} listed: {}", account.body);
    }
    assert!(!account.body.contains("Inga appar har fått behörighet."));
    let form = revoke_form(&account, &a_id).expect("a withdraw button for app A");
    assert!(revoke_form(&account, &b_id).is_some());

    // Without the CSRF token nothing is withdrawn.
    let mut forged = form.clone();
    forged.set("csrf", "forged");
    let refused = browser
        .post_form(forged.action.as_str(), &forged.fields)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.describe()
    );
    assert!(stored_consent(&server, &user_id, &a_id).await.is_some());
    // Nor from a browser without the session.
    let mut stranger = Browser::new(&server.base_url);
    let refused = stranger.post_form(form.action.as_str(), &form.fields).await;
    assert_ne!(
        refused.location().map(|l| l.path().to_string()).as_deref(),
        Some("/account"),
        "{}",
        refused.describe()
    );
    assert!(stored_consent(&server, &user_id, &a_id).await.is_some());

    // "Återkalla" for app A.
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.describe()
    );
    let account = browser.follow(response).await;
    assert_eq!(account.url.path(), "/account");
    assert!(
        account.body.contains("Behörigheten är återkallad."),
        "{}",
        account.body
    );
    assert!(revoke_form(&account, &a_id).is_none(), "A is gone");
    assert!(!account.body.contains("Flyttkartonger AB"));
    assert!(revoke_form(&account, &b_id).is_some(), "B stays");
    assert_eq!(stored_consent(&server, &user_id, &a_id).await, None);
    assert!(stored_consent(&server, &user_id, &b_id).await.is_some());

    // A's refresh token and access token are dead; B's still work.
    let refused = redeem_refresh_token(
        &server.base_url,
        (&a_id, &a_secret),
        a_tokens["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_token_error(&refused, 400, "invalid_grant");
    assert_access_token_dead(&server.base_url, a_tokens["access_token"].as_str().unwrap()).await;
    let refreshed = redeem_refresh_token(
        &server.base_url,
        (&b_id, &b_secret),
        b_tokens["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
    let info = userinfo_request(&server.base_url, b_tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.describe());

    // App A has to ask again.
    let (url, _) = authorization(&server, &a_id, "openid", &[]);
    assert_consent_page(&browser.navigate(&url).await, "Flyttkartonger AB");
    let (url, _) = authorization(&server, &a_id, "openid", &[("prompt", "none")]);
    assert_eq!(
        error_of(&server, &browser.authorize_silently(&url).await),
        "consent_required"
    );
}

#[tokio::test]
async fn claims_asked_for_by_name_are_consented_to_like_their_scopes() {
    let server = TestServer::start().await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    let (client_id, secret) = third_party(&server, "Flyttkartonger AB").await;
    let mut browser = Browser::new(&server.base_url);

    // scope=openid, but the email by name: the page says so.
    let email_claim = [("claims", r#"{"userinfo":{"email":null}}"#)];
    let (url, verifier) = authorization(&server, &client_id, "openid", &email_claim);
    let login = browser.navigate(&url).await;
    let page = browser.submit_login(&login, EMAIL, PASSWORD).await;
    assert_consent_page(&page, "Flyttkartonger AB");
    assert!(page.body.contains("Din e-postadress"), "{}", page.body);
    assert!(!page.body.contains("Ditt namn och språk"));
    let callback = client_redirect(&decide(&mut browser, &page, "approve").await);
    let issued = tokens(
        &server,
        (&client_id, &secret),
        &code_of(&server, &callback),
        &verifier,
    )
    .await;
    let info = userinfo_request(&server.base_url, issued["access_token"].as_str().unwrap()).await;
    assert_eq!(info.json()["email"], EMAIL);
    let mut allowed: Vec<String> = stored_consent(&server, &user_id, &client_id)
        .await
        .expect("consent")
        .split(' ')
        .map(str::to_string)
        .collect();
    allowed.sort();
    assert_eq!(allowed, ["email", "openid"]);

    // Allowed now, as the claim or as the scope; the name by name asks again.
    let (url, _) = authorization(&server, &client_id, "openid", &email_claim);
    code_of(&server, &browser.authorize_silently(&url).await);
    let (url, _) = authorization(&server, &client_id, "openid email", &[]);
    code_of(&server, &browser.authorize_silently(&url).await);
    let (url, _) = authorization(
        &server,
        &client_id,
        "openid",
        &[
            ("claims", r#"{"id_token":{"name":null}}"#),
            ("prompt", "none"),
        ],
    );
    assert_eq!(
        error_of(&server, &browser.authorize_silently(&url).await),
        "consent_required"
    );
}

//! BankID through the embedded simulator over real HTTPS with mutual TLS: link BankID in Mina
//! uppgifter (after adding the personnummer), then log in with BankID through a relying party and
//! get an ID token with BankID's `acr` and `amr`; a person without a linked account is refused.

mod common;

use common::{Browser, Form, REDIRECT_URI, TestServer, jwt_claims, query_params, token_request};
use reqwest::StatusCode;

const EMAIL: &str = "oskar@example.se";
const PASSWORD: &str = "Blåbärssylt-på-taket-42";
/// The simulator's default test person.
const PERSON: &str = "199908072391";

/// Posts a form found on `page` and returns the order reference of the BankID order it started.
async fn start_order(browser: &mut Browser, page: &common::Response, selector: &str) -> String {
    let form =
        Form::find(page, selector).unwrap_or_else(|| panic!("{selector} on {}", page.describe()));
    let started = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        started.status,
        StatusCode::SEE_OTHER,
        "{}",
        started.describe()
    );
    let location = started.location().expect("to the order page");
    assert_eq!(location.path(), "/bankid/order");
    let order = query_params(&location)["order"].clone();
    let page = browser.navigate(location.as_str()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert!(
        page.body.contains("<svg"),
        "the animated QR code: {}",
        page.describe()
    );
    order
}

/// Plays the user's BankID app: scans the QR code as `person` and approves; then polls like the
/// page does until the order completes, and returns where the page goes next.
async fn approve_and_poll(
    server: &TestServer,
    browser: &mut Browser,
    order: &str,
    person: &str,
) -> String {
    let simulator = server
        .state
        .bankid
        .as_ref()
        .and_then(|b| b.simulator.as_ref())
        .expect("simulator");
    let payload = simulator
        .state()
        .current_qr_payload(order)
        .expect("a QR payload");
    simulator.state().scan(&payload, person).expect("scanned");
    simulator.state().approve(order).expect("approved");
    for _ in 0..10 {
        server
            .clock
            .advance(server.state.config.bankid.collect_interval);
        let poll = browser
            .get(&server.url(&format!("/bankid/poll?order={order}")))
            .await;
        assert_eq!(poll.status, StatusCode::OK, "{}", poll.describe());
        let state = poll.json();
        if state["status"] == "complete" {
            return state["next"].as_str().expect("next").to_string();
        }
        assert_eq!(state["status"], "pending", "{state}");
    }
    panic!("the order never completed");
}

#[tokio::test]
async fn link_bankid_then_log_in_with_it_through_an_app() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Portal").await;
    server.create_user(EMAIL, "Oskar Lindqvist", PASSWORD).await;

    // Log in with email, add the personnummer, link BankID.
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url("/account")).await;
    let mut form = Form::find(&page, "form[action='/login']").expect("login form");
    form.set("email", EMAIL);
    form.set("password", PASSWORD);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    let page = browser.follow(response).await;
    let mut form =
        Form::find(&page, "form[action='/account/personnummer']").expect("personnummer form");
    form.set("personnummer", "19990807-2391");
    form.set("password", PASSWORD);
    form.fields.push(("action".into(), "save".into()));
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    let account = browser.follow(response).await;
    let order = start_order(&mut browser, &account, "form[action='/account/bankid']").await;
    let next = approve_and_poll(&server, &mut browser, &order, PERSON).await;
    let linked = browser.get(&server.url(&next)).await;
    assert_eq!(
        linked.location().map(|l| l.path().to_string()).as_deref(),
        Some("/account"),
        "{}",
        linked.describe()
    );
    let user = leasify_id::admin::users::find(&server.state, EMAIL)
        .await
        .expect("user");
    let stored = server
        .state
        .store
        .personnummer_of(&user.id)
        .await
        .expect("store")
        .expect("saved");
    assert!(stored.bankid_linked_at.is_some(), "BankID linked");

    // A new browser logs in with BankID through the app.
    let mut phone = Browser::new(&server.base_url);
    let (challenge, verifier) = common::pkce_pair();
    let authorize = common::authorize_url(
        &server.base_url,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile"),
            ("state", "bankid-state"),
            ("nonce", "bankid-nonce"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let login = phone.navigate(&authorize).await;
    let order = start_order(&mut phone, &login, "form[action='/bankid/login']").await;
    let next = approve_and_poll(&server, &mut phone, &order, PERSON).await;
    let done = phone.get(&server.url(&next)).await;
    let callback = common::client_redirect(&done);
    let params = query_params(&callback);
    assert_eq!(params["state"], "bankid-state");
    let tokens = token_request(
        &server.base_url,
        Some((&client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());
    let claims = jwt_claims(tokens.json()["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["acr"], "http://id.elegnamnden.se/loa/1.0/loa3");
    assert_eq!(claims["amr"], serde_json::json!(["bankid"]));
    assert_eq!(claims["nonce"], "bankid-nonce");

    // A person whose BankID is linked to no account is told how to link, and gets no session.
    let mut stranger = Browser::new(&server.base_url);
    let login = stranger.navigate(&authorize).await;
    let order = start_order(&mut stranger, &login, "form[action='/bankid/login']").await;
    let next = approve_and_poll(&server, &mut stranger, &order, "196802020575").await;
    let refused = stranger.get(&server.url(&next)).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(
        refused
            .body
            .contains("Inget konto hos oss har BankID kopplat"),
        "{}",
        refused.describe()
    );
    assert_eq!(
        stranger.get(&server.url("/account")).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_order_is_bound_to_the_browser_that_started_it() {
    let server = TestServer::start().await;
    let mut browser = Browser::new(&server.base_url);
    let login = browser
        .navigate(&server.url("/login?next=%2Faccount"))
        .await;
    let order = start_order(&mut browser, &login, "form[action='/bankid/login']").await;
    let mut other = Browser::new(&server.base_url);
    let poll = other
        .get(&server.url(&format!("/bankid/poll?order={order}")))
        .await;
    assert_eq!(poll.status, StatusCode::NOT_FOUND);
    // Cancelling ends the order at BankID too.
    let page = browser
        .get(&server.url(&format!("/bankid/order?order={order}")))
        .await;
    let form = Form::find(&page, "form[action='/bankid/cancel']").expect("cancel form");
    let cancelled = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    let simulator = server
        .state
        .bankid
        .as_ref()
        .and_then(|b| b.simulator.as_ref())
        .expect("simulator");
    assert_eq!(
        simulator.state().order(&order).expect("order").status,
        "cancelled"
    );
}

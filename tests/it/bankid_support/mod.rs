//! What the BankID integration tests share: the embedded simulator of a test server, adding the
//! personnummer and linking BankID through the pages, and a BankID login through an app.

#![allow(dead_code)]

use leasify_id::bankid::simulator::SimulatorState;
use reqwest::StatusCode;

use crate::common::{self, Browser, Form, REDIRECT_URI, TestServer, query_params};

pub const EMAIL: &str = "oskar@example.se";
pub const NAME: &str = "Oskar Lindqvist";
pub const PASSWORD: &str = "Blåbärssylt-på-taket-42";
/// The simulator's default test person (a Skatteverket test number), as BankID returns it…
pub const PERSON: &str = "199908072391";
/// …and as the person types it in Mina uppgifter.
pub const PERSON_TYPED: &str = "19990807-2391";
/// Another simulated person, linked to no account.
pub const STRANGER: &str = "196802020575";
/// The Swedish RFA4 text (`alreadyInProgress`).
pub const RFA4_SV: &str = "En identifiering eller underskrift pågår redan för ditt personnummer";

pub fn simulator(server: &TestServer) -> &SimulatorState {
    server
        .state
        .bankid
        .as_ref()
        .and_then(|b| b.simulator.as_ref())
        .expect("the simulator runs")
        .state()
}

/// Posts a form found on `page` and returns the order reference of the BankID order it started.
pub async fn start_order(browser: &mut Browser, page: &common::Response, selector: &str) -> String {
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

/// Polls like the order page does until the order completes; returns where the page goes next.
pub async fn poll_until_complete(
    server: &TestServer,
    browser: &mut Browser,
    order: &str,
) -> String {
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

/// Plays the user's BankID app: scans the QR code as `person` and approves; then polls until the
/// order completes, and returns where the page goes next.
pub async fn approve_and_poll(
    server: &TestServer,
    browser: &mut Browser,
    order: &str,
    person: &str,
) -> String {
    let simulator = simulator(server);
    let payload = simulator.current_qr_payload(order).expect("a QR payload");
    simulator.scan(&payload, person).expect("scanned");
    simulator.approve(order).expect("approved");
    poll_until_complete(server, browser, order).await
}

/// Logs in with email on Mina uppgifter and adds the personnummer; returns the browser and the
/// account page it ends on.
pub async fn account_with_personnummer(server: &TestServer) -> (Browser, common::Response) {
    log_in_and_add_personnummer(server, EMAIL, PASSWORD).await
}

/// [`account_with_personnummer`] for another account.
pub async fn log_in_and_add_personnummer(
    server: &TestServer,
    email: &str,
    password: &str,
) -> (Browser, common::Response) {
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url("/account")).await;
    let mut form = Form::find(&page, "form[action='/login']").expect("login form");
    form.set("email", email);
    form.set("password", password);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    let page = browser.follow(response).await;
    let mut form =
        Form::find(&page, "form[action='/account/personnummer']").expect("personnummer form");
    form.set("personnummer", PERSON_TYPED);
    form.set("password", password);
    form.fields.push(("action".into(), "save".into()));
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    let account = browser.follow(response).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.describe());
    (browser, account)
}

/// "Koppla BankID" on the account page, approved in the simulated app; ends linked.
pub async fn link_bankid(server: &TestServer, browser: &mut Browser, account: &common::Response) {
    let order = start_order(browser, account, "form[action='/account/bankid']").await;
    let next = approve_and_poll(server, browser, &order, PERSON).await;
    let linked = browser.get(&server.url(&next)).await;
    assert_eq!(
        linked.location().map(|l| l.path().to_string()).as_deref(),
        Some("/account"),
        "{}",
        linked.describe()
    );
}

/// A user with a password, the personnummer and BankID linked; returns the user id.
pub async fn linked_user(server: &TestServer) -> String {
    linked_user_with(server, EMAIL, NAME, PASSWORD).await
}

/// [`linked_user`] with another email, name and password ([`PERSON`]'s BankID).
pub async fn linked_user_with(
    server: &TestServer,
    email: &str,
    name: &str,
    password: &str,
) -> String {
    let user_id = server.create_user(email, name, password).await;
    let (mut browser, account) = log_in_and_add_personnummer(server, email, password).await;
    link_bankid(server, &mut browser, &account).await;
    user_id
}

/// An app's authorization request (code flow, PKCE S256) with `extra` parameters; returns the URL
/// and the PKCE verifier.
pub fn authorization(
    server: &TestServer,
    client_id: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (challenge, verifier) = common::pkce_pair();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid profile"),
        ("state", "bankid-state"),
        ("nonce", "bankid-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    (common::authorize_url(&server.base_url, &params), verifier)
}

/// From an app's login page: "Logga in med BankID", approved as `person`; returns the response
/// the finished order gives (a redirect to the app, or a page).
pub async fn bankid_login(
    server: &TestServer,
    browser: &mut Browser,
    login_page: &common::Response,
    person: &str,
) -> common::Response {
    let order = start_order(browser, login_page, "form[action='/bankid/login']").await;
    let next = approve_and_poll(server, browser, &order, person).await;
    browser.get(&server.url(&next)).await
}

/// Redeems the code in `callback` and returns the ID token's claims.
pub async fn id_token_claims(
    server: &TestServer,
    client: (&str, &str),
    callback: &url::Url,
    verifier: &str,
) -> serde_json::Value {
    let params = query_params(callback);
    assert_eq!(params["state"], "bankid-state", "{callback}");
    let tokens = common::redeem_code(&server.base_url, client, &params["code"], verifier).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());
    common::jwt_claims(tokens.json()["id_token"].as_str().expect("id_token"))
}

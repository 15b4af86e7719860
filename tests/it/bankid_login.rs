//! BankID through the embedded simulator over real HTTPS with mutual TLS: link BankID in Mina
//! uppgifter (after adding the personnummer), then log in with BankID through a relying party and
//! get an ID token with BankID's `acr` and `amr`; a person without a linked account is refused;
//! `alreadyInProgress` cancels the stale order; `prompt=login` and `max_age` ask for BankID again.

use crate::bankid_support;
use crate::common;

use bankid_support::{
    EMAIL, PERSON, RFA4_SV, STRANGER, account_with_personnummer, approve_and_poll, authorization,
    bankid_login, id_token_claims, linked_user, simulator, start_order,
};
use common::{Browser, Form, TestServer};
use leasify_id::bankid::api::Endpoint;
use leasify_id::login::bankid::{self as flow, Start};
use reqwest::StatusCode;

const ACR_LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";

#[tokio::test]
async fn link_bankid_then_log_in_with_it_through_an_app() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Portal").await;
    let user_id = linked_user(&server).await;
    let stored = server
        .state
        .store
        .personnummer_of(&user_id)
        .await
        .expect("store")
        .expect("saved");
    assert!(stored.bankid_linked_at.is_some(), "BankID linked");

    // A new browser logs in with BankID through the app.
    let mut phone = Browser::new(&server.base_url);
    let (authorize, verifier) = authorization(&server, &client_id, &[]);
    let login = phone.navigate(&authorize).await;
    let done = bankid_login(&server, &mut phone, &login, PERSON).await;
    let callback = common::client_redirect(&done);
    let claims = id_token_claims(&server, (&client_id, &secret), &callback, &verifier).await;
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["acr"], ACR_LOA3);
    assert_eq!(claims["amr"], serde_json::json!(["bankid"]));
    assert_eq!(claims["nonce"], "bankid-nonce");

    // A person whose BankID is linked to no account is told how to link, and gets no session.
    let mut stranger = Browser::new(&server.base_url);
    let login = stranger.navigate(&authorize).await;
    let refused = bankid_login(&server, &mut stranger, &login, STRANGER).await;
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
    assert_eq!(
        simulator(&server).order(&order).expect("order").status,
        "cancelled"
    );
}

/// Our copy of an order's status.
async fn stored_status(server: &TestServer, order: &str) -> String {
    server
        .state
        .store
        .bankid_order(order)
        .await
        .expect("store")
        .expect("the order is stored")
        .status
}

/// "Koppla BankID" again from Mina uppgifter; BankID answers `alreadyInProgress`, so the page
/// explains it (RFA4) and offers "Försök igen". Returns that page.
async fn link_again_refused(server: &TestServer, browser: &mut Browser) -> common::Response {
    let account = browser.get(&server.url("/account")).await;
    let form = Form::find(&account, "form[action='/account/bankid']").expect("link form");
    let refused = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.describe());
    assert!(refused.body.contains(RFA4_SV), "{}", refused.describe());
    assert!(
        !refused.body.contains("<svg"),
        "no QR code without an order"
    );
    refused
}

/// "Försök igen" on a refused page starts a new order; returns its reference.
async fn try_again(browser: &mut Browser, refused: &common::Response) -> String {
    start_order(browser, refused, "form#bankid-retry").await
}

#[tokio::test]
async fn already_in_progress_cancels_the_stale_order_and_try_again_works() {
    let server = TestServer::start().await;
    server
        .create_user(EMAIL, "Oskar Lindqvist", bankid_support::PASSWORD)
        .await;
    let (mut browser, account) = account_with_personnummer(&server).await;
    let sim = simulator(&server);
    let first = start_order(&mut browser, &account, "form[action='/account/bankid']").await;

    // BankID names no order with `alreadyInProgress`: a browser can only cancel the order its own
    // binding cookie proves. A made-up cookie naming the order cancels nothing.
    sim.inject_error(Some(Endpoint::Auth), "alreadyInProgress", 1)
        .expect("fault injected");
    let forged = format!("{first}.not-the-secret");
    let start = Start::Login {
        pending_authorization: None,
        next_path: None,
    };
    let refused = flow::start(
        &server.state,
        start,
        "127.0.0.1".parse().expect("ip"),
        "sv",
        Some(&forged),
    )
    .await;
    assert!(
        matches!(refused, Err(flow::FlowError::Refused("bankid-rfa4"))),
        "RFA4"
    );
    assert_eq!(sim.order(&first).expect("order").status, "pending");
    assert_eq!(stored_status(&server, &first).await, "pending");

    // BankID answers `alreadyInProgress` but leaves the old order running (injected): the order
    // this browser started is cancelled at BankID and here, and the page explains why.
    sim.inject_error(Some(Endpoint::Auth), "alreadyInProgress", 1)
        .expect("fault injected");
    let refused = link_again_refused(&server, &mut browser).await;
    assert_eq!(
        sim.order(&first).expect("order").status,
        "cancelled",
        "cancelled at BankID by us"
    );
    assert_eq!(stored_status(&server, &first).await, "cancelled");

    // "Försök igen" starts a new order, which links BankID.
    let second = try_again(&mut browser, &refused).await;
    assert_eq!(stored_status(&server, &second).await, "pending");
    let next = approve_and_poll(&server, &mut browser, &second, PERSON).await;
    let linked = browser.get(&server.url(&next)).await;
    assert_eq!(
        linked.location().map(|l| l.path().to_string()).as_deref(),
        Some("/account"),
        "{}",
        linked.describe()
    );
}

#[tokio::test]
async fn a_refused_bankid_login_offers_to_try_again_for_the_same_app() {
    let server = TestServer::start().await;
    let (client_id, _secret) = server.create_client("Portal").await;
    let (authorize, _verifier) = authorization(&server, &client_id, &[("ui_locales", "en")]);
    let mut browser = Browser::new(&server.base_url);
    let login = browser.navigate(&authorize).await;
    let form = Form::find(&login, "form[action='/bankid/login']").expect("BankID button");
    simulator(&server)
        .inject_error(Some(Endpoint::Auth), "alreadyInProgress", 1)
        .expect("fault injected");
    let refused = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.describe());
    assert!(
        refused
            .body
            .contains("An identification or signature is already in progress for your personal identity number"),
        "{}",
        refused.describe()
    );
    let retry = Form::find(&refused, "form#bankid-retry").expect("try again");
    assert_eq!(retry.get("req"), form.get("req"), "the same app request");
    assert_eq!(retry.get("lang"), Some("en"));
    let order = start_order(&mut browser, &refused, "form#bankid-retry").await;
    assert_eq!(stored_status(&server, &order).await, "pending");
}

/// Logs in with BankID for the app's request `authorize`, which must show the login page (no
/// silent answer from the session); returns the ID token's claims.
async fn bankid_login_demanded(
    server: &TestServer,
    browser: &mut Browser,
    client: (&str, &str),
    extra: &[(&str, &str)],
) -> serde_json::Value {
    let (authorize, verifier) = authorization(server, client.0, extra);
    let login = browser.navigate(&authorize).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.describe());
    assert!(
        Form::find(&login, "form[action='/bankid/login']").is_some(),
        "the login page offers BankID again: {}",
        login.describe()
    );
    let done = bankid_login(server, browser, &login, PERSON).await;
    let callback = common::client_redirect(&done);
    id_token_claims(server, client, &callback, &verifier).await
}

#[tokio::test]
async fn prompt_login_and_max_age_demand_bankid_again() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Portal").await;
    let client = (client_id.as_str(), secret.as_str());
    linked_user(&server).await;
    let mut browser = Browser::new(&server.base_url);
    let first = bankid_login_demanded(&server, &mut browser, client, &[]).await;
    assert_eq!(first["acr"], ACR_LOA3);
    let first_time = first["auth_time"].as_i64().expect("auth_time");

    // The BankID session answers silently…
    server.clock.advance(120);
    let (authorize, verifier) = authorization(&server, &client_id, &[]);
    let callback = browser.authorize_silently(&authorize).await;
    let silent = id_token_claims(&server, client, &callback, &verifier).await;
    assert_eq!(silent["auth_time"].as_i64(), Some(first_time));

    // …but prompt=login asks for BankID again, and the new login is the one in the ID token.
    let again = bankid_login_demanded(&server, &mut browser, client, &[("prompt", "login")]).await;
    let again_time = again["auth_time"].as_i64().expect("auth_time");
    assert!(again_time > first_time, "{again_time} > {first_time}");
    assert_eq!(again["acr"], ACR_LOA3);
    assert_eq!(again["amr"], serde_json::json!(["bankid"]));
    assert_eq!(again["sub"], first["sub"]);

    // max_age: a session older than that is not enough either.
    server.clock.advance(120);
    let fresh = bankid_login_demanded(&server, &mut browser, client, &[("max_age", "60")]).await;
    let fresh_time = fresh["auth_time"].as_i64().expect("auth_time");
    assert!(fresh_time > again_time, "{fresh_time} > {again_time}");
    assert_eq!(fresh["acr"], ACR_LOA3);

    // Within max_age the session answers silently again.
    let (authorize, verifier) = authorization(&server, &client_id, &[("max_age", "60")]);
    let callback = browser.authorize_silently(&authorize).await;
    let within = id_token_claims(&server, client, &callback, &verifier).await;
    assert_eq!(within["auth_time"].as_i64(), Some(fresh_time));
    assert_eq!(within["acr"], ACR_LOA3);
}

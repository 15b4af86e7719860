//! The simulated BankID app at `/dev/bankid` (simulator mode only): its page (paste a QR payload
//! or an autostart token, pick a test person, approve or cancel; CSRF like every form) and its
//! JSON control API under `/dev/bankid/api/`.

use crate::bankid_support;
use crate::common;

use bankid_support::{PERSON, STRANGER, poll_until_complete, simulator, start_order};
use common::{Browser, Form, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A BankID login started on the login page (for our own pages); returns the order reference.
async fn bankid_login_started(server: &TestServer, browser: &mut Browser) -> String {
    let login = browser
        .navigate(&server.url("/login?next=%2Faccount"))
        .await;
    start_order(browser, &login, "form[action='/bankid/login']").await
}

/// `POST /dev/bankid/api/<action>` with a JSON body; returns the status and the JSON answer.
async fn api(server: &TestServer, action: &str, body: Value) -> (StatusCode, Value) {
    let response = common::plain_client()
        .post(server.url(&format!("/dev/bankid/api/{action}")))
        .json(&body)
        .send()
        .await
        .expect("control API request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn api_get(server: &TestServer, path: &str) -> (StatusCode, Value) {
    let response = common::plain_client()
        .get(server.url(path))
        .send()
        .await
        .expect("control API request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_control_api_scans_approves_cancels_and_opens_autostart_tokens() {
    let server = TestServer::start().await;
    let mut browser = Browser::new(&server.base_url);
    let order = bankid_login_started(&server, &mut browser).await;

    let (status, orders) = api_get(&server, "/dev/bankid/api/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(orders[0]["orderRef"], order.as_str());
    assert_eq!(orders[0]["hintCode"], "outstandingTransaction");
    let (_, identities) = api_get(&server, "/dev/bankid/api/identities").await;
    assert!(
        identities
            .as_array()
            .expect("a list")
            .iter()
            .any(|i| i["personalNumber"] == PERSON)
    );

    // The QR code the page shows this second (the browser test reads it off the screen).
    let payload = simulator(&server)
        .current_qr_payload(&order)
        .expect("payload");
    let (status, refused) = api(
        &server,
        "scan",
        json!({"qr_payload": "bankid.nope", "personal_number": PERSON}),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformedQr"))
    );
    let (status, refused) = api(
        &server,
        "scan",
        json!({"qr_payload": payload, "personal_number": "200001010000"}),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknownIdentity"))
    );
    let (status, scanned) = api(
        &server,
        "scan",
        json!({"qr_payload": payload, "personal_number": PERSON}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{scanned}");
    assert_eq!(scanned["hintCode"], "userSign");
    assert_eq!(scanned["startedBy"], "qr");
    let (status, approved) = api(&server, "approve", json!({"order_ref": order})).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "complete");
    let (status, again) = api(&server, "approve", json!({"orderRef": order})).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (StatusCode::CONFLICT, Some("wrongState"))
    );
    let next = poll_until_complete(&server, &mut browser, &order).await;
    let logged_in = browser.get(&server.url(&next)).await;
    assert_eq!(
        logged_in.status,
        StatusCode::OK,
        "no linked account: {}",
        logged_in.describe()
    );

    // Cancel in the app: the order page then shows the failure.
    let mut other = Browser::new(&server.base_url);
    let order = bankid_login_started(&server, &mut other).await;
    let (status, cancelled) = api(&server, "cancel", json!({"order_ref": order})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["hintCode"], "userCancel");

    // Autostart: the token alone or the whole launch link, as the page's button carries it.
    let mut third = Browser::new(&server.base_url);
    let order = bankid_login_started(&server, &mut third).await;
    let token = simulator(&server)
        .order(&order)
        .and_then(|o| o.auto_start_token)
        .expect("autostart token");
    let (status, opened) = api(
        &server,
        "autostart",
        json!({
            "autostart_token": format!("bankid:///?autostarttoken={token}&redirect=null"),
            "personal_number": STRANGER,
            "approve": true,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["status"], "complete");
    assert_eq!(opened["startedBy"], "autostart");

    // No JSON content type, no action: refused (the content type is what keeps other sites out).
    let response = common::plain_client()
        .post(server.url("/dev/bankid/api/approve"))
        .header("content-type", "text/plain")
        .body(format!("{{\"order_ref\":\"{order}\"}}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = api(&server, "explode", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_page_reads_a_pasted_qr_code_with_csrf() {
    let server = TestServer::start().await;
    let mut browser = Browser::new(&server.base_url);
    let order = bankid_login_started(&server, &mut browser).await;
    let payload = simulator(&server)
        .current_qr_payload(&order)
        .expect("payload");

    let mut app = Browser::new(&server.base_url);
    let page = app.get(&server.url("/dev/bankid")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&order), "the order is listed");
    let mut form = Form::find(&page, "form#dev-bankid-scan").expect("the scan form");
    form.set("qr_payload", &payload);
    form.set("personal_number", PERSON);
    form.set("approve", "on");

    // Without the CSRF token nothing happens.
    let forged: Vec<(String, String)> = form
        .fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    let refused = app.post_form(form.action.as_str(), &forged).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.describe()
    );
    assert!(
        refused.body.contains("Något gick fel"),
        "the CSRF error page"
    );
    assert_eq!(
        simulator(&server).order(&order).expect("order").status,
        "pending"
    );

    // A mistyped payload is explained, and what was typed stays in the field.
    let mut typo = form.clone();
    typo.set("qr_payload", "bankid.typo");
    let shown = app.post_form(typo.action.as_str(), &typo.fields).await;
    assert_eq!(shown.status, StatusCode::BAD_REQUEST);
    assert!(shown.body.contains("malformed"), "{}", shown.describe());
    assert!(shown.body.contains("value=\"bankid.typo\""));

    let done = app.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    let page = app.follow(done).await;
    assert!(
        page.body
            .contains("The QR code was read; the order is now complete."),
        "{}",
        page.describe()
    );
    poll_until_complete(&server, &mut browser, &order).await;

    // Cancel from the order's own buttons.
    let mut other = Browser::new(&server.base_url);
    let order = bankid_login_started(&server, &mut other).await;
    let page = app.get(&server.url("/dev/bankid")).await;
    let mut form = Form::find(&page, &format!("section[data-order='{order}'] form"))
        .expect("the order's buttons");
    form.set("action", "cancel");
    let done = app.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    assert_eq!(
        simulator(&server)
            .order(&order)
            .and_then(|o| o.hint_code)
            .as_deref(),
        Some("userCancel")
    );
}

#[tokio::test]
async fn no_simulated_app_without_the_simulator() {
    let server = TestServer::start_with(|config| config.bankid.mode = "disabled".into()).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(
        browser.get(&server.url("/dev/bankid")).await.status,
        StatusCode::NOT_FOUND
    );
    let (status, _) = api_get(&server, "/dev/bankid/api/orders").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(&server, "approve", json!({"order_ref": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

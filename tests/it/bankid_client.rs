//! The BankID RP API client against the embedded simulator, over real HTTPS with mutual TLS on
//! 127.0.0.1, with a `ManualClock` driving the simulator's timers.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use leasify_id::bankid::api::{
    self, CallInitiator, CollectStatus, Endpoint, HintCode, OrderRequest, PhoneOrderRequest,
    Requirement, Risk,
};
use leasify_id::bankid::client::{
    BankIdClient, BankIdError, BankIdSettings, ClientIdentity, RetryPolicy,
};
use leasify_id::bankid::simulator::control::qr_payload;
use leasify_id::bankid::simulator::{
    self, ControlError, SimulatorCerts, SimulatorConfig, SimulatorHandle, SimulatorState,
};
use leasify_id::clock::{Clock, ManualClock};
use leasify_id::tls;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

const OSKAR: &str = "199908072391";
const LARS: &str = "196802020575";

struct Sim {
    handle: SimulatorHandle,
    clock: ManualClock,
    client: BankIdClient,
}

impl Sim {
    fn state(&self) -> &SimulatorState {
        self.handle.state()
    }

    /// A client for this simulator with other settings.
    fn client_with(
        &self,
        tweak: impl FnOnce(&mut BankIdSettings),
    ) -> Result<BankIdClient, BankIdError> {
        let mut settings = self.handle.client_settings();
        tweak(&mut settings);
        BankIdClient::new(settings)
    }

    /// A plain HTTPS client presenting the simulator's RP certificate, for raw requests.
    fn raw_client(&self) -> reqwest::Client {
        let certs = self.state().certs();
        let tls = tls::client_config(&certs.ca_cert_pem, &certs.client_identity()).unwrap();
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .no_proxy()
            .build()
            .unwrap()
    }

    fn url(&self, path: &str) -> url::Url {
        self.handle.base_url().join(path).unwrap()
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        delays: vec![Duration::from_millis(10), Duration::from_millis(20)],
    }
}

async fn start() -> Sim {
    start_with(SimulatorConfig::default()).await
}

async fn start_with(config: SimulatorConfig) -> Sim {
    let clock = ManualClock::default();
    let certs = SimulatorCerts::generate().unwrap();
    let state = SimulatorState::new(certs, Arc::new(clock.clone()), config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = simulator::start(listener, state).await;
    let mut settings = handle.client_settings();
    settings.retry = fast_retry();
    let client = BankIdClient::new(settings).unwrap();
    Sim {
        handle,
        clock,
        client,
    }
}

fn ip() -> std::net::IpAddr {
    "192.0.2.7".parse().unwrap()
}

fn auth_request() -> OrderRequest {
    OrderRequest::new(ip())
        .visible_text("Logga in hos Leasify")
        .return_risk(true)
}

fn restricted_to(personal_number: &str) -> OrderRequest {
    OrderRequest::new(ip()).requirement(Requirement {
        personal_number: Some(personal_number.to_string()),
        ..Requirement::default()
    })
}

fn assert_api_error(result: Result<impl std::fmt::Debug, BankIdError>, status: u16, code: &str) {
    match result {
        Err(BankIdError::Api {
            status: s,
            error_code,
            ..
        }) => assert_eq!((s, error_code.as_str()), (status, code)),
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}

#[tokio::test]
async fn qr_flow_from_order_to_completion() {
    let sim = start().await;
    let order = sim.client.auth(&auth_request()).await.unwrap();
    let t0 = sim.clock.now();
    for token in [
        &order.order_ref,
        &order.auto_start_token,
        &order.qr_start_token,
        &order.qr_start_secret,
    ] {
        assert!(uuid::Uuid::parse_str(token).is_ok(), "UUIDs");
    }

    let pending = sim.client.collect(&order.order_ref).await.unwrap();
    assert_eq!(pending.status, CollectStatus::Pending);
    assert_eq!(pending.hint_code, Some(HintCode::OutstandingTransaction));

    // The RP animates the QR code; the user scans the one shown 7 seconds in.
    sim.clock.advance(7);
    let elapsed = (sim.clock.now() - t0) as u64;
    let qr = qr_payload(&order.qr_start_token, &order.qr_start_secret, elapsed);
    let view = sim.state().scan(&qr, OSKAR).unwrap();
    assert_eq!(view.hint_code.as_deref(), Some("userSign"));
    assert_eq!(view.visible_text.as_deref(), Some("Logga in hos Leasify"));

    let signing = sim.client.collect(&order.order_ref).await.unwrap();
    assert_eq!(
        (signing.status, signing.hint_code),
        (CollectStatus::Pending, Some(HintCode::UserSign))
    );

    sim.state().approve(&order.order_ref).unwrap();
    let complete = sim.client.collect(&order.order_ref).await.unwrap();
    assert_eq!(complete.status, CollectStatus::Complete);
    assert_eq!(complete.hint_code, None);
    let data = complete.completion_data.unwrap();
    assert_eq!(data.user.personal_number, OSKAR);
    assert_eq!(data.user.name, "Oskar Lindqvist");
    assert_eq!(data.user.given_name, "Oskar");
    assert_eq!(data.user.surname, "Lindqvist");
    assert_eq!(
        data.device.ip_address,
        sim.state().config().phone_ip.to_string(),
        "QR: the phone's address"
    );
    assert_eq!(data.device.uhi.as_deref().map(str::len), Some(28));
    assert_eq!(data.bank_id_issue_date, "2023-01-01");
    assert_eq!(data.risk, Some(Risk::Low));
    assert_eq!(data.step_up, None);
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&data.signature)
            .unwrap(),
    )
    .unwrap();
    assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?><Signature xmlns="http://www.w3.org/2000/09/xmldsig#">"#));
    assert!(xml.contains(&format!(
        r#"<usrVisibleData charset="UTF-8" visible="wysiwys">{}</usrVisibleData>"#,
        api::encode_text("Logga in hos Leasify")
    )));
    assert!(!data.ocsp_response.is_empty());

    // Still collectable (same answer) until 3 minutes after completion.
    sim.clock.advance(179);
    assert_eq!(
        sim.client.collect(&order.order_ref).await.unwrap().status,
        CollectStatus::Complete
    );
    sim.clock.advance(1);
    assert_api_error(
        sim.client.collect(&order.order_ref).await,
        400,
        "invalidParameters",
    );
}

#[tokio::test]
async fn autostart_sign_and_phone_flows() {
    let sim = start().await;
    let sign = OrderRequest::new(ip())
        .visible_markdown("Godkänn avtal **4711**")
        .non_visible_data(b"contract-4711");
    let order = sim.client.sign(&sign).await.unwrap();
    sim.state()
        .open_autostart(&order.auto_start_token, LARS)
        .unwrap();
    sim.state().approve(&order.order_ref).unwrap();
    let data = sim
        .client
        .collect(&order.order_ref)
        .await
        .unwrap()
        .completion_data
        .unwrap();
    assert_eq!(
        data.device.ip_address, "192.0.2.7",
        "autostart: the order's endUserIp"
    );
    assert_eq!(data.risk, None, "no risk without returnRisk");
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&data.signature)
            .unwrap(),
    )
    .unwrap();
    assert!(xml.contains("<funcId>Signing</funcId>"));
    assert!(xml.contains(r#"format="simpleMarkdownV1""#));
    assert!(xml.contains("<usrNonVisibleData>"));

    let phone =
        PhoneOrderRequest::new(OSKAR, CallInitiator::Rp).visible_text("Vi ringer från Leasify");
    let order = sim.client.phone_auth(&phone).await.unwrap();
    assert_eq!(
        sim.state().open_phone(&order.order_ref, LARS),
        Err(ControlError::WrongPerson)
    );
    sim.state().open_phone(&order.order_ref, OSKAR).unwrap();
    let waiting = sim.client.collect(&order.order_ref).await.unwrap();
    assert_eq!(waiting.hint_code, Some(HintCode::UserCallConfirm));
    sim.state().confirm_call(&order.order_ref).unwrap();
    assert_eq!(
        sim.client
            .collect(&order.order_ref)
            .await
            .unwrap()
            .hint_code,
        Some(HintCode::UserSign)
    );
    sim.state().approve(&order.order_ref).unwrap();
    assert_eq!(
        sim.client
            .collect(&order.order_ref)
            .await
            .unwrap()
            .completion_data
            .unwrap()
            .user
            .personal_number,
        OSKAR
    );

    let order = sim
        .client
        .phone_sign(&PhoneOrderRequest::new(LARS, CallInitiator::User).visible_text("Avtal"))
        .await
        .unwrap();
    sim.state().open_phone(&order.order_ref, LARS).unwrap();
    sim.state()
        .fail(&order.order_ref, "userDeclinedCall")
        .unwrap();
    let failed = sim.client.collect(&order.order_ref).await.unwrap();
    assert_eq!(
        (failed.status, failed.hint_code),
        (CollectStatus::Failed, Some(HintCode::UserDeclinedCall))
    );
}

#[tokio::test]
async fn cancel_then_cancel_again_is_invalid() {
    let sim = start().await;
    let order = sim.client.auth(&auth_request()).await.unwrap();
    sim.client.cancel(&order.order_ref).await.unwrap();
    assert_api_error(
        sim.client.cancel(&order.order_ref).await,
        400,
        "invalidParameters",
    );
    assert_api_error(
        sim.client.collect(&order.order_ref).await,
        400,
        "invalidParameters",
    );
    assert_api_error(
        sim.client
            .cancel("00000000-0000-4000-8000-000000000000")
            .await,
        400,
        "invalidParameters",
    );

    // A finished order cannot be cancelled either.
    let order = sim.client.auth(&auth_request()).await.unwrap();
    sim.state().user_cancel(&order.order_ref).unwrap();
    let failed = sim.client.collect(&order.order_ref).await.unwrap();
    assert_eq!(failed.hint_code, Some(HintCode::UserCancel));
    assert_api_error(
        sim.client.cancel(&order.order_ref).await,
        400,
        "invalidParameters",
    );
}

#[tokio::test]
async fn qr_not_scanned_in_time_fails_start_failed() {
    let sim = start().await;
    let order = sim.client.auth(&auth_request()).await.unwrap();
    let t0 = sim.clock.now();
    sim.clock.advance(31);
    let failed = sim.client.collect(&order.order_ref).await.unwrap();
    assert_eq!(
        (failed.status, failed.hint_code),
        (CollectStatus::Failed, Some(HintCode::StartFailed))
    );
    let late = qr_payload(
        &order.qr_start_token,
        &order.qr_start_secret,
        (sim.clock.now() - t0) as u64,
    );
    assert!(matches!(
        sim.state().scan(&late, OSKAR),
        Err(ControlError::WrongState(_))
    ));

    // An old QR code is refused even while the order is still waiting.
    let order = sim.client.auth(&auth_request()).await.unwrap();
    sim.clock.advance(10);
    let old = qr_payload(&order.qr_start_token, &order.qr_start_secret, 1);
    assert!(matches!(
        sim.state().scan(&old, OSKAR),
        Err(ControlError::StaleQr { .. })
    ));
    // Failed orders stay collectable for 5 minutes.
    sim.clock.advance(20 + 299);
    assert_eq!(
        sim.client
            .collect(&order.order_ref)
            .await
            .unwrap()
            .hint_code,
        Some(HintCode::StartFailed)
    );
    sim.clock.advance(1);
    assert_api_error(
        sim.client.collect(&order.order_ref).await,
        400,
        "invalidParameters",
    );
}

#[tokio::test]
async fn restricted_order_cannot_be_completed_by_someone_else() {
    let sim = start().await;
    let order = sim.client.auth(&restricted_to(OSKAR)).await.unwrap();
    let qr = qr_payload(&order.qr_start_token, &order.qr_start_secret, 0);
    assert_eq!(sim.state().scan(&qr, LARS), Err(ControlError::WrongPerson));
    assert!(sim.state().approve(&order.order_ref).is_err());
    sim.clock.advance(15);
    assert_eq!(
        sim.client
            .collect(&order.order_ref)
            .await
            .unwrap()
            .hint_code,
        Some(HintCode::OutstandingTransaction)
    );
    sim.clock.advance(16);
    let failed = sim.client.collect(&order.order_ref).await.unwrap();
    assert_eq!(
        (failed.status, failed.hint_code),
        (CollectStatus::Failed, Some(HintCode::ExpiredTransaction))
    );

    // The right person can.
    let order = sim.client.auth(&restricted_to(OSKAR)).await.unwrap();
    sim.state()
        .open_autostart(&order.auto_start_token, OSKAR)
        .unwrap();
    sim.state().approve(&order.order_ref).unwrap();
    let data = sim
        .client
        .collect(&order.order_ref)
        .await
        .unwrap()
        .completion_data
        .unwrap();
    assert_eq!(data.user.personal_number, OSKAR);
}

#[tokio::test]
async fn already_in_progress_cancels_the_old_order() {
    let sim = start().await;
    let first = sim.client.auth(&restricted_to(LARS)).await.unwrap();
    assert_api_error(
        sim.client.auth(&restricted_to(LARS)).await,
        400,
        "alreadyInProgress",
    );
    let old = sim.client.collect(&first.order_ref).await.unwrap();
    assert_eq!(
        (old.status, old.hint_code),
        (CollectStatus::Failed, Some(HintCode::Cancelled))
    );
    // Nothing is in progress any more: a new order starts.
    sim.client.auth(&restricted_to(LARS)).await.unwrap();

    // Someone else's orders are unaffected; taking a second order cancels the person's first.
    let a = sim.client.auth(&auth_request()).await.unwrap();
    let b = sim.client.auth(&auth_request()).await.unwrap();
    sim.state()
        .open_autostart(&a.auto_start_token, OSKAR)
        .unwrap();
    sim.state()
        .open_autostart(&b.auto_start_token, OSKAR)
        .unwrap();
    assert_eq!(
        sim.client.collect(&a.order_ref).await.unwrap().hint_code,
        Some(HintCode::Cancelled)
    );
    assert_eq!(
        sim.client.collect(&b.order_ref).await.unwrap().hint_code,
        Some(HintCode::UserSign)
    );
}

#[tokio::test]
async fn internal_errors_are_retried() {
    let sim = start().await;
    sim.state()
        .inject_error(Some(Endpoint::Auth), "internalError", 2)
        .unwrap();
    let order = sim.client.auth(&auth_request()).await.unwrap();
    assert_eq!(
        sim.state().injected_errors_left(),
        0,
        "two failures, then the third attempt succeeded"
    );
    assert!(sim.client.collect(&order.order_ref).await.is_ok());

    sim.state()
        .inject_error(Some(Endpoint::Auth), "internalError", 3)
        .unwrap();
    assert_api_error(sim.client.auth(&auth_request()).await, 500, "internalError");
    assert_eq!(
        sim.state().injected_errors_left(),
        0,
        "three attempts in all"
    );

    // Other errors are returned at once.
    sim.state()
        .inject_error(Some(Endpoint::Auth), "requestTimeout", 2)
        .unwrap();
    assert_api_error(
        sim.client.auth(&auth_request()).await,
        408,
        "requestTimeout",
    );
    assert_eq!(sim.state().injected_errors_left(), 1);
    sim.state().clear_errors();
}

#[tokio::test]
async fn maintenance_is_retried_then_reported() {
    let sim = start().await;
    let order = sim.client.auth(&auth_request()).await.unwrap();
    sim.state()
        .inject_error(Some(Endpoint::Collect), "maintenance", 1)
        .unwrap();
    assert_eq!(
        sim.client.collect(&order.order_ref).await.unwrap().status,
        CollectStatus::Pending
    );

    let no_retry = sim.client_with(|s| s.retry = RetryPolicy::none()).unwrap();
    sim.state().inject_error(None, "maintenance", 1).unwrap();
    assert_api_error(no_retry.cancel(&order.order_ref).await, 503, "maintenance");
    no_retry.cancel(&order.order_ref).await.unwrap();
}

#[tokio::test]
async fn headless_auto_complete() {
    let sim = start().await;
    sim.state().set_auto_complete(Some(LARS)).unwrap();
    let order = sim.client.auth(&auth_request()).await.unwrap();
    let mut hints = Vec::new();
    let data = loop {
        let response = sim.client.collect(&order.order_ref).await.unwrap();
        match response.status {
            CollectStatus::Pending => hints.push(response.hint_code.unwrap()),
            CollectStatus::Complete => break response.completion_data.unwrap(),
            CollectStatus::Failed => panic!("failed: {:?}", response.hint_code),
        }
        assert!(hints.len() < 5);
    };
    assert_eq!(
        hints,
        vec![HintCode::OutstandingTransaction, HintCode::UserSign]
    );
    assert_eq!(data.user.personal_number, LARS);
}

#[tokio::test]
async fn pkcs12_identity_works() {
    let sim = start().await;
    let certs = sim.state().certs();
    let key = PrivateKeyDer::from_pem_slice(certs.client_key_pem.as_bytes()).unwrap();
    let cert = tls::parse_certificates(&certs.client_cert_pem)
        .unwrap()
        .remove(0);
    let chain = p12_keystore::PrivateKeyChain::new(
        key.secret_der(),
        [7u8; 20],
        vec![p12_keystore::Certificate::from_der(cert.as_ref()).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("rp", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let der = store.writer("qwerty123").write().unwrap();
    let client = sim
        .client_with(|s| {
            s.client_identity = ClientIdentity::Pkcs12 {
                der: der.clone(),
                password: "qwerty123".into(),
            }
        })
        .unwrap();
    client.auth(&auth_request()).await.unwrap();

    let wrong = sim.client_with(|s| {
        s.client_identity = ClientIdentity::Pkcs12 {
            der,
            password: "wrong".into(),
        }
    });
    assert!(matches!(wrong, Err(BankIdError::Config(_))));
}

#[tokio::test]
async fn untrusted_client_certificate_is_refused() {
    let sim = start().await;
    // A certificate from another CA (another simulator's RP certificate).
    let other = SimulatorCerts::generate().unwrap();
    let client = sim
        .client_with(|s| s.client_identity = other.client_identity())
        .unwrap();
    let error = client.auth(&auth_request()).await.unwrap_err();
    // Same CA name, other key: the signature check fails in the handshake.
    assert!(
        matches!(&error, BankIdError::Transport(text) if text.contains("fatal alert")),
        "{error:?}"
    );

    // A self-signed certificate.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let client = sim
        .client_with(|s| {
            s.client_identity = ClientIdentity::Pem {
                cert_chain_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            }
        })
        .unwrap();
    let error = client
        .collect("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, BankIdError::Transport(text) if text.contains("UnknownCA")),
        "{error:?}"
    );
    assert!(sim.state().orders().is_empty());
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let sim = start().await;
    let roots = tls::root_store(&sim.state().certs().ca_cert_pem).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .no_proxy()
        .build()
        .unwrap();
    let result = http
        .post(sim.url("auth"))
        .header("Content-Type", "application/json")
        .body(r#"{"endUserIp":"192.0.2.7"}"#)
        .send()
        .await;
    let error = result.unwrap_err();
    assert!(
        format!("{error:?}").contains("CertificateRequired"),
        "{error:?}"
    );
    assert!(sim.state().orders().is_empty());
}

#[tokio::test]
async fn server_outside_the_configured_ca_is_refused() {
    let sim = start().await;
    // The client trusts only BankID's test root, so the simulator's certificate is refused.
    let client = sim
        .client_with(|s| s.ca_pem = api::TEST_ROOT_CA_PEM.to_string())
        .unwrap();
    let error = client
        .collect("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, BankIdError::Transport(text) if text.contains("UnknownIssuer")),
        "{error:?}"
    );
}

#[tokio::test]
async fn transport_rules_and_faithful_errors() {
    let sim = start().await;
    let http = sim.raw_client();
    let body = r#"{"endUserIp":"192.0.2.7"}"#;

    let response = http
        .post(sim.url("auth"))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let error: api::ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error_code, "unsupportedMediaType");
    let response = http.post(sim.url("auth")).body(body).send().await.unwrap();
    assert_eq!(response.status(), 415, "no Content-Type");

    let response = http.get(sim.url("auth")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<api::ErrorBody>().await.unwrap().error_code,
        "methodNotAllowed"
    );

    for path in ["unknown", "/rp/v5.1/auth", "/"] {
        let response = http
            .post(sim.url(path))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.json::<api::ErrorBody>().await.unwrap().error_code,
            "notFound"
        );
    }

    let post = |path: &'static str, json: String| {
        let http = http.clone();
        let url = sim.url(path);
        async move {
            http.post(url)
                .header("Content-Type", "application/json")
                .body(json)
                .send()
                .await
                .unwrap()
        }
    };
    let invalid = [
        ("auth", "{}".to_string()),
        ("auth", r#"{"endUserIp":"not-an-ip"}"#.to_string()),
        (
            "auth",
            r#"{"endUserIp":"192.0.2.7","userVisibleData":"not base64!"}"#.to_string(),
        ),
        (
            "auth",
            format!(
                r#"{{"endUserIp":"192.0.2.7","userVisibleData":"{}"}}"#,
                "QUFB".repeat(400)
            ),
        ),
        (
            "auth",
            r#"{"endUserIp":"192.0.2.7","requirement":{"personalNumber":"12345"}}"#.to_string(),
        ),
        ("sign", r#"{"endUserIp":"192.0.2.7"}"#.to_string()),
        (
            "phone/auth",
            r#"{"personalNumber":"199908072391","callInitiator":"someone"}"#.to_string(),
        ),
        ("collect", r#"{"orderRef":"no-such-order"}"#.to_string()),
        ("collect", "not json".to_string()),
        ("cancel", "{}".to_string()),
    ];
    for (path, json) in invalid {
        let response = post(path, json.clone()).await;
        assert_eq!(response.status(), 400, "{path} {json}");
        assert_eq!(
            response.json::<api::ErrorBody>().await.unwrap().error_code,
            "invalidParameters",
            "{path} {json}"
        );
    }

    // Valid raw requests; unknown request fields are tolerated, `risk` in any case.
    let response = post(
        "auth",
        r#"{"endUserIp":"192.0.2.7","requirement":{"risk":"LOW"},"somethingNew":1}"#.to_string(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let order: api::OrderResponse = response.json().await.unwrap();
    let response = post("cancel", format!(r#"{{"orderRef":"{}"}}"#, order.order_ref)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "{}");
}

#[tokio::test]
async fn client_refuses_requests_breaking_the_limits() {
    let sim = start().await;
    let too_long = OrderRequest::new(ip()).visible_text(&"x".repeat(1_200));
    assert!(matches!(
        sim.client.auth(&too_long).await,
        Err(BankIdError::InvalidRequest(_))
    ));
    assert!(
        sim.client.sign(&too_long).await.is_ok(),
        "sign allows 40 000 characters"
    );
    assert!(matches!(
        sim.client.sign(&OrderRequest::new(ip())).await,
        Err(BankIdError::InvalidRequest(_))
    ));
    assert!(sim.state().orders().len() == 1);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = start().await;
    sim.client.auth(&auth_request()).await.unwrap();
    let client = sim.client.clone();
    sim.handle.shutdown().await;
    let error = client
        .collect("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert!(matches!(error, BankIdError::Transport(_)), "{error:?}");
}

#[tokio::test]
async fn persisted_certificates_are_reused_across_starts() {
    let dir = std::env::temp_dir().join(format!("leasify-bankid-sim-{}", uuid::Uuid::new_v4()));
    let first = SimulatorCerts::load_or_create(&dir).unwrap();
    let second = SimulatorCerts::load_or_create(&dir).unwrap();
    assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
    assert_eq!(second.client_cert_path(), Some(dir.join("rp-client.pem")));
    let identity = ClientIdentity::from_files(
        &second.client_cert_path().unwrap(),
        "",
        second.client_key_path().as_deref(),
    )
    .unwrap();
    assert_eq!(identity, first.client_identity());

    drop(second);
    let handle = simulator::start_embedded(
        &dir,
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(ManualClock::default()),
        SimulatorConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(handle.state().certs().ca_cert_pem, first.ca_cert_pem);
    assert_eq!(
        handle.base_url().as_str(),
        format!("https://127.0.0.1:{}/rp/v6.0/", handle.local_addr().port())
    );
    let ca = std::fs::read_to_string(first.ca_cert_path().unwrap()).unwrap();
    let settings = BankIdSettings {
        ca_pem: ca,
        retry: RetryPolicy::none(),
        use_env_proxy: false,
        ..BankIdSettings::new(handle.base_url().clone(), identity, String::new())
    };
    BankIdClient::new(settings)
        .unwrap()
        .auth(&auth_request())
        .await
        .unwrap();
    handle.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

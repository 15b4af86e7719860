//! The wire format against the specification: names, omissions, limits and the published roots.

use super::*;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

fn fingerprint(pem: &str) -> String {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM certificate");
    hex::encode_upper(Sha256::digest(der.as_ref()))
}

#[test]
fn root_certificates_have_the_published_fingerprints() {
    assert_eq!(
        fingerprint(TEST_ROOT_CA_PEM),
        "F3D0740EBFB3700E3B81AA791FEE451472698C84E199C2EB48A443FF1D5B405C"
    );
    assert_eq!(
        fingerprint(PRODUCTION_ROOT_CA_PEM),
        "E6A2D45C0A1051C959428649F86A09A9B2152CD551993CC2EB4CF094BDACBECB"
    );
}

#[test]
fn requests_are_camel_case_and_omit_absent_fields() {
    let request = OrderRequest::new("192.0.2.7".parse().unwrap())
        .visible_markdown("Logga in hos *Leasify*")
        .requirement(Requirement {
            personal_number: Some("199908072391".into()),
            pin_code: Some(true),
            risk: Some(Risk::Low),
            card_reader: Some(CardReader::Class2),
            ..Requirement::default()
        })
        .return_risk(true)
        .web(WebData::new(Some("leasify.se"), Some("Mozilla/5.0"), None));
    let json = serde_json::to_value(&request).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "endUserIp": "192.0.2.7",
            "requirement": {"pinCode": true, "cardReader": "class2", "personalNumber": "199908072391", "risk": "low"},
            "userVisibleData": encode_text("Logga in hos *Leasify*"),
            "userVisibleDataFormat": "simpleMarkdownV1",
            "returnRisk": true,
            "web": {"referringDomain": "leasify.se", "userAgent": "Mozilla/5.0"}
        })
    );
    assert_eq!(
        serde_json::to_string(&OrderRequest::new("::1".parse().unwrap())).unwrap(),
        r#"{"endUserIp":"::1"}"#
    );
    let phone = PhoneOrderRequest::new("199908072391", CallInitiator::Rp);
    assert_eq!(
        serde_json::to_value(&phone).unwrap(),
        serde_json::json!({"personalNumber": "199908072391", "callInitiator": "RP"})
    );
}

#[test]
fn limits_are_checked() {
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    assert!(OrderRequest::new(ip).validate(OrderKind::Auth).is_ok());
    assert!(
        OrderRequest::new(ip)
            .validate(OrderKind::Sign)
            .unwrap_err()
            .contains("userVisibleData")
    );
    let long = "a".repeat(1_200);
    assert!(
        OrderRequest::new(ip)
            .visible_text(&long)
            .validate(OrderKind::Auth)
            .is_err()
    );
    assert!(
        OrderRequest::new(ip)
            .visible_text(&long)
            .validate(OrderKind::Sign)
            .is_ok()
    );
    let mut bad = OrderRequest::new(ip);
    bad.user_visible_data = Some("not base64!".into());
    assert!(
        bad.validate(OrderKind::Auth)
            .unwrap_err()
            .contains("base64")
    );
    let mut format = OrderRequest::new(ip).visible_text("x");
    format.user_visible_data_format = Some("html".into());
    assert!(format.validate(OrderKind::Auth).is_err());
    let pnr = OrderRequest::new(ip).requirement(Requirement {
        personal_number: Some("9908072391".into()),
        ..Requirement::default()
    });
    assert!(
        pnr.validate(OrderKind::Auth)
            .unwrap_err()
            .contains("personalNumber")
    );
    assert!(
        OrderRequest::new(ip)
            .return_url("")
            .validate(OrderKind::Auth)
            .is_err()
    );
    assert!(
        OrderRequest::new(ip)
            .return_url("x".repeat(513))
            .validate(OrderKind::Auth)
            .is_err()
    );
    let web = WebData::new(
        Some("leasify.se"),
        Some(&"u".repeat(400)),
        Some(&"d".repeat(100)),
    );
    assert_eq!(
        web.user_agent.as_ref().unwrap().len(),
        USER_AGENT_MAX_LENGTH
    );
    assert_eq!(
        web.device_identifier.as_ref().unwrap().len(),
        DEVICE_IDENTIFIER_MAX_LENGTH
    );
    let mut too_long = OrderRequest::new(ip).web(web);
    too_long.web.as_mut().unwrap().user_agent = Some("u".repeat(257));
    assert!(too_long.validate(OrderKind::Auth).is_err());
}

#[test]
fn unknown_response_fields_are_ignored() {
    let order: OrderResponse = serde_json::from_str(
        r#"{"orderRef":"131daac9-16c6-4618-beb0-365768f37288","autoStartToken":"7c40b5c9-fa74-49cf-b98c-bfe651f9a7c6",
            "qrStartToken":"67df3917-fa0d-44e5-b327-edcc928297f8","qrStartSecret":"d28db9a7-4cde-429e-a983-359be676944c",
            "somethingNew":{"nested":[1,2,3]},"anotherField":"x"}"#,
    )
    .unwrap();
    assert_eq!(order.qr_start_token, "67df3917-fa0d-44e5-b327-edcc928297f8");
    assert!(
        !format!("{order:?}").contains("d28db9a7"),
        "the QR secret is not in Debug output"
    );

    let collect: CollectResponse = serde_json::from_str(
        r#"{"orderRef":"131daac9-16c6-4618-beb0-365768f37288","status":"complete","unknownTopLevel":true,
            "completionData":{"user":{"personalNumber":"190000000000","name":"Karl Karlsson","givenName":"Karl",
            "surname":"Karlsson","middleName":"Extra"},"device":{"ipAddress":"192.168.0.1","uhi":"abc123","os":"x"},
            "bankIdIssueDate":"2020-02-01","setUp":{"mrtd":true},"signature":"PHNpZz4=","ocspResponse":"MAMKAQY=",
            "risk":"low","newThing":{"a":1}}}"#,
    )
    .unwrap();
    assert_eq!(collect.status, CollectStatus::Complete);
    let data = collect.completion_data.as_ref().unwrap();
    assert_eq!(data.user.personal_number, "190000000000");
    assert_eq!(data.user.name, "Karl Karlsson");
    assert_eq!(data.device.uhi.as_deref(), Some("abc123"));
    assert_eq!(
        data.step_up,
        Some(StepUp { mrtd: true }),
        "setUp is accepted for stepUp"
    );
    assert_eq!(data.risk, Some(Risk::Low));
    assert!(
        !format!("{collect:?}").contains("190000000000"),
        "the personnummer is not in Debug output"
    );

    let pending: CollectResponse = serde_json::from_str(
        r#"{"orderRef":"a","status":"pending","hintCode":"somethingBrandNew","extra":1}"#,
    )
    .unwrap();
    assert_eq!(
        pending.hint_code,
        Some(HintCode::Other("somethingBrandNew".into()))
    );
    let failed: CollectResponse =
        serde_json::from_str(r#"{"orderRef":"a","status":"failed","hintCode":"startFailed"}"#)
            .unwrap();
    assert_eq!(failed.hint_code, Some(HintCode::StartFailed));
    assert_eq!(
        serde_json::to_value(&failed).unwrap()["hintCode"],
        "startFailed"
    );

    let error: ErrorBody = serde_json::from_str(
        r#"{"errorCode":"alreadyInProgress","details":"Order already in progress","x":1}"#,
    )
    .unwrap();
    assert_eq!(error.error_code, "alreadyInProgress");
    let no_details: ErrorBody = serde_json::from_str(r#"{"errorCode":"maintenance"}"#).unwrap();
    assert_eq!(no_details.details, "");
}

//! BankID RP API v6.0 bodies (`bankid::api`), deserialized the way `bankid::client` does: a 200
//! answer as the endpoint's response type (errors through `describe_json_error`), anything else as
//! an `ErrorBody`; plus the collect checks of `BankIdClient::collect` and the re-read of a sealed
//! `completionData` in `bankid::flow::finish`.
//!
//! Input: one selector character, then the JSON body:
//! `0` /auth or /sign answer, `1` /phone/* answer, `2` /collect answer, `3` /cancel answer,
//! `4` an error answer, `5` an order request and `6` a phone order request (what the embedded
//! simulator receives), `7` a `completionData` alone.
//!
//! Invariants: what parses serializes and parses back to the same value (the flow stores
//! `completionData` as JSON and reads it again); `Debug` never depends on the personnummer, the
//! `qrStartSecret`, the signature or visible data; hint codes round-trip through strings; JSON
//! error descriptions never quote the body (only `missing field` with a known field name).
#![no_main]

use leasify_id::bankid::api::{
    CollectResponse, CollectStatus, CompletionData, Endpoint, ErrorBody, HintCode, OrderKind,
    OrderRequest, OrderResponse, PhoneOrderRequest, PhoneOrderResponse,
};
use leasify_id::bankid::client::{BankIdError, describe_json_error};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Every field name of the response types: the only text of a body an error may repeat.
const FIELDS: &[&str] = &[
    "orderRef",
    "autoStartToken",
    "qrStartToken",
    "qrStartSecret",
    "status",
    "hintCode",
    "completionData",
    "user",
    "personalNumber",
    "name",
    "givenName",
    "surname",
    "device",
    "ipAddress",
    "uhi",
    "bankIdIssueDate",
    "stepUp",
    "mrtd",
    "signature",
    "ocspResponse",
    "risk",
    "errorCode",
    "details",
    "endUserIp",
    "callInitiator",
];

const ORDER_REF: &str = "131daac9-16c6-4618-beb0-365768f37288";

fn check_description(endpoint: Endpoint, error: &serde_json::Error) {
    let BankIdError::InvalidResponse(text) = describe_json_error(endpoint, error) else {
        panic!("describe_json_error gave another kind of error");
    };
    let prefix = format!("{} answer does not match the RP API (", endpoint.path());
    let rest = text
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{text}"));
    // `WHAT at line N column M)`, the position possibly twice (see below).
    let (what, positions) = rest
        .split_once(" at line ")
        .unwrap_or_else(|| panic!("{text}"));
    for position in positions
        .strip_suffix(')')
        .unwrap_or_else(|| panic!("{text}"))
        .split(" at line ")
    {
        let (line, column) = position
            .split_once(" column ")
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            line.parse::<usize>().is_ok() && column.parse::<usize>().is_ok(),
            "{text}"
        );
    }
    match what.strip_prefix("missing field `") {
        Some(field) => {
            // serde_json's own text already ends in ` at line N column M`, so the position
            // appears twice: harmless, and not a value from the body.
            let field = field.strip_suffix('`').unwrap_or_else(|| panic!("{text}"));
            assert!(FIELDS.contains(&field), "unknown field quoted: {text}");
        }
        None => assert!(
            ["Io error", "Syntax error", "Data error", "Eof error"].contains(&what),
            "the description may quote the body: {text}"
        ),
    }
}

/// Parses like `BankIdClient::post_once` does for a 200 answer, and checks the round trip
/// (not for `serde_json::Value`: without serde_json's `float_roundtrip` feature a float such as
/// `2.222e26` may print back as a neighbour; the typed answers have no floats).
fn answer<R>(endpoint: Endpoint, body: &[u8], round_trip: bool) -> Option<R>
where
    R: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    match serde_json::from_slice::<R>(body) {
        Ok(value) => {
            let again: R = serde_json::from_slice(&serde_json::to_vec(&value).unwrap())
                .expect("what we parsed serializes to something we parse");
            if round_trip {
                assert_eq!(again, value, "round trip");
            }
            Some(value)
        }
        Err(e) => {
            check_description(endpoint, &e);
            None
        }
    }
}

fn check_hint(hint: &HintCode) {
    assert_eq!(&HintCode::from(hint.as_str()), hint);
    assert_eq!(String::from(hint.clone()), hint.as_str());
    assert_eq!(hint.to_string(), hint.as_str());
}

fn same_length(s: &str) -> String {
    "x".repeat(s.len())
}

/// `Debug` must not depend on anything secret or personal.
fn check_completion_debug(completion: &CompletionData) {
    let mut other = completion.clone();
    other.user.personal_number = "000000000000".into();
    other.signature = same_length(&completion.signature);
    other.ocsp_response = same_length(&completion.ocsp_response);
    assert_eq!(format!("{completion:?}"), format!("{other:?}"));
}

fn check_order_request_debug(request: &OrderRequest) {
    let mut other = request.clone();
    if let Some(requirement) = other.requirement.as_mut()
        && requirement.personal_number.is_some()
    {
        requirement.personal_number = Some("000000000000".into());
    }
    other.user_visible_data = request.user_visible_data.as_deref().map(same_length);
    other.user_non_visible_data = request.user_non_visible_data.as_deref().map(same_length);
    other.return_url = request.return_url.as_ref().map(|_| "https://x".into());
    assert_eq!(format!("{request:?}"), format!("{other:?}"));
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 8 {
        0 => {
            if let Some(order) = answer::<OrderResponse>(Endpoint::Auth, body, true) {
                let mut other = order.clone();
                other.qr_start_secret = "another secret".into();
                assert_eq!(format!("{order:?}"), format!("{other:?}"));
            }
        }
        1 => {
            answer::<PhoneOrderResponse>(Endpoint::PhoneAuth, body, true);
        }
        2 => {
            if let Some(collected) = answer::<CollectResponse>(Endpoint::Collect, body, true) {
                // BankIdClient::collect's own checks (the order asked about, data when complete).
                let _accepted = collected.order_ref == ORDER_REF
                    && !(collected.status == CollectStatus::Complete
                        && collected.completion_data.is_none());
                if let Some(hint) = &collected.hint_code {
                    check_hint(hint);
                }
                if let Some(completion) = &collected.completion_data {
                    check_completion_debug(completion);
                    // bankid::flow seals completionData as JSON and reads it back in `finish`.
                    let sealed = serde_json::to_vec(completion).unwrap();
                    let reread: CompletionData =
                        serde_json::from_slice(&sealed).expect("sealed completionData re-reads");
                    assert_eq!(&reread, completion);
                }
            }
        }
        3 => {
            answer::<serde_json::Value>(Endpoint::Cancel, body, false);
        }
        4 => {
            // Non-200: the error body, or a code derived from the status.
            if let Ok(error) = serde_json::from_slice::<ErrorBody>(body) {
                let again: ErrorBody =
                    serde_json::from_slice(&serde_json::to_vec(&error).unwrap()).unwrap();
                assert_eq!(again, error);
                let _ = leasify_id::bankid::api::error_codes::http_status(&error.error_code);
            }
        }
        5 => {
            if let Ok(request) = serde_json::from_slice::<OrderRequest>(body) {
                let _ = request.validate(OrderKind::Auth);
                let _ = request.validate(OrderKind::Sign);
                check_order_request_debug(&request);
                let again: OrderRequest =
                    serde_json::from_slice(&serde_json::to_vec(&request).unwrap()).unwrap();
                assert_eq!(again, request);
            }
        }
        6 => {
            if let Ok(request) = serde_json::from_slice::<PhoneOrderRequest>(body) {
                let auth = request.validate(OrderKind::Auth);
                let _ = request.validate(OrderKind::Sign);
                if auth.is_ok() {
                    assert!(leasify_id::bankid::api::is_personal_number_format(
                        &request.personal_number
                    ));
                }
                let mut other = request.clone();
                other.personal_number = "000000000000".into();
                other.user_visible_data = request.user_visible_data.as_deref().map(same_length);
                other.user_non_visible_data =
                    request.user_non_visible_data.as_deref().map(same_length);
                assert_eq!(format!("{request:?}"), format!("{other:?}"));
            }
        }
        _ => {
            if let Some(completion) = answer::<CompletionData>(Endpoint::Collect, body, true) {
                check_completion_debug(&completion);
            }
            if let Ok(hint) = std::str::from_utf8(body) {
                check_hint(&HintCode::from(hint));
            }
        }
    }
});

//! The personnummer never reaches the logs: a server in this process, with every log line of
//! every crate captured (text and JSON), goes through adding the personnummer (once mistyped),
//! linking BankID and logging in with BankID through an app, and a stranger's BankID login; then
//! no personnummer appears in the logs in any form, and where the masked form appears, nothing of
//! what it hides follows it.
//!
//! The capture is the process's global subscriber, so this test binary holds this test only.

#[path = "it/bankid_support/mod.rs"]
mod bankid_support;
#[path = "it/common/mod.rs"]
mod common;

use bankid_support::{
    PASSWORD, PERSON, STRANGER, authorization, bankid_login, id_token_claims, link_bankid,
    log_in_and_add_personnummer,
};
use common::log_capture::LogCapture;
use common::{Browser, Form, TestServer};
use reqwest::StatusCode;

/// A mistyped number (wrong check digit) is personal data too.
const MISTYPED: &str = "990807-2392";

/// Where `logs` shows more of `personnummer` (12 digits) than its masked form `YYYY****-****`
/// does: the whole date of birth, or the last four digits right after the short date (6 digits),
/// joined directly or by one separator (`-`, `+`, space…).
fn leaks(logs: &str, personnummer: &str) -> Vec<String> {
    let (date8, last4) = personnummer.split_at(8);
    let date6 = &date8[2..];
    let mut found: Vec<String> = logs
        .match_indices(date8)
        .map(|(at, _)| {
            let start = at.saturating_sub(80);
            let end = (at + date8.len() + 85).min(logs.len());
            logs.get(start..end).unwrap_or(date8).to_string()
        })
        .collect();
    for date in [date6] {
        for (at, _) in logs.match_indices(date) {
            let rest = &logs[at + date.len()..];
            let direct = rest.starts_with(last4);
            let separated = rest
                .chars()
                .next()
                .is_some_and(|c| !c.is_ascii_digit() && rest[c.len_utf8()..].starts_with(last4));
            if direct || separated {
                let start = at.saturating_sub(80);
                let end = (at + date.len() + 85).min(logs.len());
                found.push(logs.get(start..end).unwrap_or(date).to_string());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_a_personnummer() {
    let logs = LogCapture::install();
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Portal").await;
    let user_id = server
        .create_user(bankid_support::EMAIL, bankid_support::NAME, PASSWORD)
        .await;

    // Mina uppgifter: the personnummer added, then mistyped once (refused), then BankID linked.
    let (mut browser, account) =
        log_in_and_add_personnummer(&server, bankid_support::EMAIL, PASSWORD).await;
    assert!(account.body.contains("1999****-****"), "shown masked");
    let mut form =
        Form::find(&account, "form[action='/account/personnummer']").expect("personnummer form");
    form.set("personnummer", MISTYPED);
    form.set("password", PASSWORD);
    form.fields.push(("action".into(), "save".into()));
    let refused = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.describe()
    );
    let account = browser.get(&server.url("/account")).await;
    link_bankid(&server, &mut browser, &account).await;

    // BankID login through an app, and a person whose BankID is linked to no account.
    let mut phone = Browser::new(&server.base_url);
    let (authorize, verifier) = authorization(&server, &client_id, &[]);
    let login = phone.navigate(&authorize).await;
    let done = bankid_login(&server, &mut phone, &login, PERSON).await;
    let callback = common::client_redirect(&done);
    let claims = id_token_claims(&server, (&client_id, &secret), &callback, &verifier).await;
    assert_eq!(claims["sub"], user_id.as_str());
    let mut stranger = Browser::new(&server.base_url);
    let login = stranger.navigate(&authorize).await;
    let refused = bankid_login(&server, &mut stranger, &login, STRANGER).await;
    assert_eq!(refused.status, StatusCode::OK);

    let text = logs.text();
    // The capture saw the journey (at every level), so its silence about the numbers means
    // something.
    for expected in [
        "personnummer saved",
        "BankID linked",
        "BankID login succeeded",
        "BankID simulator answered",
        "\"level\":\"DEBUG\"",
    ] {
        assert!(text.contains(expected), "the logs show {expected:?}");
    }
    for personnummer in [PERSON, STRANGER, "199908072392"] {
        let (century, short) = personnummer.split_at(2);
        for form in [
            personnummer.to_string(),
            short.to_string(),
            format!("{}-{}", &personnummer[..8], &personnummer[8..]),
            format!("{}-{}", &short[..6], &short[6..]),
            format!("{}+{}", &short[..6], &short[6..]),
        ] {
            assert!(
                !text.contains(&form),
                "the logs contain {form} (century {century})"
            );
        }
        let found = leaks(&text, personnummer);
        assert!(found.is_empty(), "more than the masked form: {found:?}");
    }
}

#[test]
fn the_leak_check_sees_what_the_mask_hides() {
    assert!(leaks("user 1999****-**** saved", PERSON).is_empty());
    assert!(!leaks("user 19990807-**** saved", PERSON).is_empty());
    assert!(leaks("id 990807aa 2391", PERSON).is_empty());
    for leaked in [
        "x=199908072391",
        "pnr 19990807-2391",
        "pnr 990807+2391",
        "pnr 990807 2391",
    ] {
        assert!(!leaks(leaked, PERSON).is_empty(), "{leaked}");
    }
}

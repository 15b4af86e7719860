//! Invitations and password resets over a real SMTP conversation: links that work once and
//! expire, the neutral answer for unknown addresses, resets that end every other session and
//! refresh token, and an SMTP server that refuses mail at first.

use crate::common;

use std::time::Duration;

use common::smtp::{ReceivedMail, TestSmtpServer};
use common::{Browser, Form, REDIRECT_URI, TestServer, token_request, userinfo_request};
use reqwest::StatusCode;

const PASSWORD: &str = "Blåbärssylt-på-taket-42";
const NEW_PASSWORD: &str = "Hallonsaft-i-källaren-77";

async fn mail(smtp: &TestSmtpServer) -> ReceivedMail {
    smtp.next_message(Duration::from_secs(10))
        .await
        .expect("an email arrives")
}

/// Opens a link from an email and submits the set-password form.
async fn set_password(browser: &mut Browser, link: &str, password: &str) -> common::Response {
    let page = browser.navigate(link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    let mut form =
        Form::find(&page, "form[action='/password/set']").expect("the set-password form");
    form.set("new_password", password);
    form.set("confirm_password", password);
    browser.post_form(form.action.as_str(), &form.fields).await
}

#[tokio::test]
async fn invitation_link_works_once_expires_and_can_be_renewed() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    leasify_id::account::invitations::invite(
        &server.state,
        &leasify_id::audit::Caller::system(),
        "nils@example.se",
        "Nils Holm",
        "sv",
    )
    .await
    .expect("invite");
    let welcome = mail(&smtp).await;
    assert_eq!(
        welcome.subject(),
        "Välkommen till Leasify – välj ditt lösenord"
    );
    let link = welcome.first_link().expect("a link");
    // The HTML part carries the same link (HTML-escaped; the token itself has no special characters).
    let token = link.split("token=").nth(1).expect("a token in the link");
    assert!(welcome.html().contains(token), "{}", welcome.html());

    let mut browser = Browser::new(&server.base_url);
    // A weak password is refused with a reason and does not use up the link.
    let page = browser.navigate(&link).await;
    let mut form = Form::find(&page, "form[action='/password/set']").expect("form");
    form.set("new_password", "kort");
    form.set("confirm_password", "kort");
    let refused = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("Lösenordet är för kort"),
        "{}",
        refused.describe()
    );

    let done = set_password(&mut browser, &link, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    assert!(
        done.header("location")
            .unwrap_or_default()
            .starts_with("/account")
    );
    let account = browser.follow(done).await;
    assert!(account.body.contains("Nils Holm"), "{}", account.describe());

    // Used once: the page says so and offers a fresh link to the same address.
    let mut other = Browser::new(&server.base_url);
    let used = other.navigate(&link).await;
    assert_eq!(used.status, StatusCode::GONE);
    assert!(
        used.body.contains("Länken är redan använd"),
        "{}",
        used.describe()
    );
    let form = Form::find(&used, "form[action='/password/resend']").expect("resend form");
    let neutral = other.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(neutral.status, StatusCode::OK);
    let fresh = mail(&smtp).await;
    let fresh_link = fresh.first_link().expect("a new link");
    assert_ne!(fresh_link, link);

    // Expired: after the reset link's lifetime the fresh (reset) link no longer works.
    server
        .clock
        .advance(server.state.config.account.reset_ttl + 1);
    let expired = other.navigate(&fresh_link).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(
        expired.body.contains("Länken har gått ut"),
        "{}",
        expired.describe()
    );

    // Unknown token: no resend form.
    let unknown = other
        .navigate(&server.url("/password/set?token=nonsense"))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(Form::find(&unknown, "form[action='/password/resend']").is_none());
}

/// The forgot-password page, with the email filled in; returns the answer page.
async fn forgot(server: &TestServer, email: &str) -> common::Response {
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url("/password/forgot")).await;
    let mut form = Form::find(&page, "form[action='/password/forgot']").expect("forgot form");
    form.set("email", email);
    browser.post_form(form.action.as_str(), &form.fields).await
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_unknown_addresses_and_sends_nothing() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    server
        .create_user("eva@example.se", "Eva Lund", PASSWORD)
        .await;
    let known = forgot(&server, "eva@example.se").await;
    let reset = mail(&smtp).await;
    assert_eq!(reset.subject(), "Återställ ditt lösenord till Leasify");
    let unknown = forgot(&server, "nobody@example.se").await;
    assert_eq!(
        (known.status, unknown.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(
        known.body, unknown.body,
        "the same page whether or not the address exists"
    );
    assert!(
        smtp.next_message(Duration::from_secs(2)).await.is_none(),
        "no email for an unknown address"
    );

    // Throttled per address: the answer stays the same, but no more emails go out.
    let limit = server.state.config.account.max_resets_per_address;
    for _ in 1..limit {
        forgot(&server, "eva@example.se").await;
        mail(&smtp).await;
    }
    let throttled = forgot(&server, "eva@example.se").await;
    assert_eq!(throttled.body, known.body);
    assert!(
        smtp.next_message(Duration::from_secs(2)).await.is_none(),
        "throttled: no email"
    );
}

#[tokio::test]
async fn reset_ends_other_sessions_and_refresh_tokens_and_sends_a_notice() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let (client_id, secret) = server.create_client("Portal").await;
    server
        .create_user("ali@example.se", "Ali Berg", PASSWORD)
        .await;

    // Browser A logs in through the app and gets tokens.
    let mut a = Browser::new(&server.base_url);
    let (code, verifier) = a.code_for(&client_id, "ali@example.se", PASSWORD).await;
    let tokens = token_request(
        &server.base_url,
        Some((&client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());
    let tokens = tokens.json();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    let access = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_string();

    // Browser B resets the password through the email link.
    forgot(&server, "ali@example.se").await;
    let link = mail(&smtp).await.first_link().expect("reset link");
    let mut b = Browser::new(&server.base_url);
    let done = set_password(&mut b, &link, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    let notice = mail(&smtp).await;
    assert_eq!(notice.subject(), "Ditt lösenord har ändrats");
    assert_eq!(
        b.navigate(&server.url("/account")).await.status,
        StatusCode::OK
    );

    // A's session, refresh token and access token are dead.
    let account = a.get(&server.url("/account")).await;
    assert_eq!(account.status, StatusCode::SEE_OTHER, "A must log in again");
    let refreshed = token_request(
        &server.base_url,
        Some((&client_id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    common::assert_token_error(&refreshed, 400, "invalid_grant");
    assert_eq!(
        userinfo_request(&server.base_url, &access).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_smtp_outage_delays_the_welcome_email_but_it_arrives_exactly_once() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    smtp.set_refuse_next(2);
    leasify_id::account::invitations::invite(
        &server.state,
        &leasify_id::audit::Caller::system(),
        "ola@example.se",
        "Ola Ek",
        "sv",
    )
    .await
    .expect("invite");
    // Move the injected clock past each backoff so the sender retries without real waiting.
    let mut arrived = None;
    for _ in 0..40 {
        if let Some(mail) = smtp.next_message(Duration::from_millis(250)).await {
            arrived = Some(mail);
            break;
        }
        server
            .clock
            .advance(server.state.config.mail.retry_base * 2);
        server.state.mail_wakeup.notify_one();
    }
    let welcome = arrived.expect("the welcome email arrives after the outage");
    assert_eq!(welcome.rcpt_to, vec!["ola@example.se".to_string()]);
    assert!(
        smtp.next_message(Duration::from_secs(2)).await.is_none(),
        "sent exactly once"
    );
    let outbox = server.state.store.list_outbox(10).await.expect("outbox");
    let row = outbox
        .iter()
        .find(|e| e.recipient == "ola@example.se")
        .expect("the outbox row");
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 2));
}

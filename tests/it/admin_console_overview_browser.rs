//! The console's overview in a real browser (headless Chromium): an administrator made by the
//! CLI logs in and lands on it, reads the logins chart and its numbers, and sends a failed
//! welcome email again with its retry button; it then arrives over real SMTP. Photographed in
//! Swedish and English, at 360 px and at desktop width; any console error (the inline SVG
//! breaking the CSP, say) fails the test.

use crate::admin_console_browser::{PASSWORD, both_sizes, grant_admin_by_cli, log_in};
use crate::browser_support;
use crate::common;

use std::time::Duration;

use browser_support::cdp::Viewport;
use browser_support::{Ui, chromium_or_skip};
use common::{Browser, Form, TestServer};
use leasify_id::admin::users;
use leasify_id::audit::Caller;
use reqwest::StatusCode;

const ADMIN: &str = "agnes@leasify.se";
const CUSTOMER: &str = "karin@kund.se";
const INVITED: &str = "nora@kund.se";
const EVENTUALLY: Duration = Duration::from_secs(20);

/// A login on our page with `password`, as a customer would: the chart counts it.
async fn customer_login(server: &TestServer, password: &str) -> StatusCode {
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url("/account")).await;
    let mut form = Form::find(&page, "form[action='/login']").expect("the login form");
    form.set("email", CUSTOMER);
    form.set("password", password);
    browser
        .post_form(form.action.as_str(), &form.fields)
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_logins_and_retries_a_failed_email() {
    let test = "admin_console_overview";
    let Some(chromium) = chromium_or_skip(test) else {
        return;
    };
    let (server, smtp) = TestServer::start_with_smtp().await;
    server.create_user(ADMIN, "Agnes Admin", PASSWORD).await;
    server.create_user(CUSTOMER, "Karin Kund", PASSWORD).await;
    let granted = tokio::task::block_in_place(|| grant_admin_by_cli(&server, ADMIN));
    assert_eq!(granted["admin_role"], "admin", "{granted}");

    // Some logins over two hours, one of them failed.
    assert_eq!(
        customer_login(&server, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        customer_login(&server, "fel lösenord").await,
        StatusCode::UNAUTHORIZED
    );
    server.clock.advance(3600);
    assert_eq!(
        customer_login(&server, PASSWORD).await,
        StatusCode::SEE_OTHER
    );

    // A welcome email the mail server refuses for good.
    smtp.set_permanent_reject(true);
    users::create(
        &server.state,
        &Caller::system(),
        users::NewUser {
            email: INVITED.into(),
            name: "Nora Nilsson".into(),
            locale: "sv".into(),
            password: None,
            invite: true,
        },
    )
    .await
    .expect("invited");
    server.state.mail_wakeup.notify_one();
    tokio::time::timeout(EVENTUALLY, async {
        while server
            .state
            .store
            .failed_outbox(1)
            .await
            .unwrap()
            .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the email fails");
    smtp.set_permanent_reject(false);

    let ui = Ui::launch(&chromium, test, "sv-SE", Viewport::Phone).await;
    ui.goto("open the console", &server.url("/admin")).await;
    ui.expect_path("open the console", "/login").await;
    log_in(&ui, "log in", ADMIN).await;
    ui.expect_path("log in", "/admin").await;
    ui.expect_text("overview", "h1", "Översikt").await;
    ui.expect_text("overview", ".console-nav [aria-current=page]", "Översikt")
        .await;
    ui.expect_text("legend", ".chart-legend", "Lösenord: 3")
        .await;
    ui.expect_text("legend", ".chart-legend", "Misslyckade: 1")
        .await;
    ui.expect_text("failed email", "#failed-emails", INVITED)
        .await;
    ui.expect_text("keys", "#key-status", "Signerar nu").await;
    // The chart is drawn (an SVG with its lines), not refused by the CSP.
    let lines = ui
        .eval(
            "chart",
            "document.querySelectorAll('svg.chart polyline').length",
        )
        .await;
    assert_eq!(lines, 3, "three lines in the chart");
    let stroke = ui
        .eval(
            "chart style",
            "getComputedStyle(document.querySelector('.series-failed')).fill",
        )
        .await;
    assert_eq!(stroke, "none", "the stylesheet styles the chart");
    both_sizes(&ui, "oversikt").await;

    // The numbers behind the chart, for those who cannot see it.
    ui.eval(
        "open the numbers",
        "document.querySelector('.chart-numbers').open = true",
    )
    .await;
    ui.expect_text("numbers", "#login-numbers tfoot", "3").await;
    both_sizes(&ui, "oversikt-siffror").await;

    // Send the email again: it arrives.
    ui.click("retry", "#failed-emails form button[type=submit]")
        .await;
    ui.expect_path("retried", "/admin").await;
    ui.expect_text("retried", ".notice", "Mejlet ligger i kön igen")
        .await;
    let welcome = smtp
        .next_message(EVENTUALLY)
        .await
        .expect("the welcome email arrives after the retry");
    assert_eq!(welcome.rcpt_to, vec![INVITED.to_string()]);
    both_sizes(&ui, "oversikt-forsokt-igen").await;

    // The same page in English.
    ui.click("English", ".lang a[lang=en]").await;
    ui.expect_text("English", "h1", "Overview").await;
    ui.expect_text("English", ".chart-legend", "Password: 3")
        .await;
    ui.expect_text("English", "#key-status", "Manage the signing keys")
        .await;
    both_sizes(&ui, "overview-en").await;

    ui.finish("the end").await;
}

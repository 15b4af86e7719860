//! The admin console in a real browser (headless Chromium), as Leasify's support desk uses it:
//! an administrator made by the CLI logs in, is asked to log in again before the first change
//! (the step-up), invites a customer whose welcome email arrives over real SMTP, finds another
//! customer and disables her, and her login is refused. Every console page is photographed in
//! Swedish and English, at 360 px and at desktop width, and must fit the narrow screen; any
//! console error (a CSP violation, say) fails the test.

use crate::browser_support;
use crate::common;

use std::process::Command;
use std::time::Duration;

use browser_support::cdp::Viewport;
use browser_support::{Ui, chromium_or_skip};
use common::{Browser, Form, TestServer};
use reqwest::StatusCode;

const ADMIN: &str = "agnes@leasify.se";
const CUSTOMER: &str = "karin@kund.se";
const INVITED: &str = "nora@kund.se";
pub(crate) const PASSWORD: &str = "Blåbärssylt-på-taket-42";
const LOGIN_SUBMIT: &str = "form[action=\"/login\"] button[type=submit]";
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// `leasify-id user grant-admin EMAIL`, run as the operator would, on the server's database and
/// data dir; returns what it printed.
pub(crate) fn grant_admin_by_cli(server: &TestServer, email: &str) -> serde_json::Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leasify-id"));
    command
        .args(["user", "grant-admin", email])
        .current_dir(&server.state.config.data_dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("LEASIFY_") {
            command.env_remove(key);
        }
    }
    command.env("LEASIFY_DATA_DIR", &server.state.config.data_dir);
    command.env("NO_COLOR", "1");
    if !server.database_url.is_empty() {
        command.env("LEASIFY_DATABASE_URL", &server.database_url);
    }
    let output = command.output().expect("the binary runs");
    assert!(
        output.status.success(),
        "grant-admin: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

pub(crate) async fn log_in(ui: &Ui, step: &str, email: &str) {
    ui.fill(step, "#email", email).await;
    ui.fill(step, "#password", PASSWORD).await;
    ui.click(step, LOGIN_SUBMIT).await;
}

/// A screenshot at 360 px (checked to fit) and one at desktop width.
pub(crate) async fn both_sizes(ui: &Ui, step: &str) {
    ui.assert_fits_width(step).await;
    ui.shot(step).await;
    ui.set_viewport(Viewport::Desktop).await;
    ui.shot(&format!("{step}-desktop")).await;
    ui.set_viewport(Viewport::Phone).await;
}

async fn expect_login_refused(server: &TestServer, email: &str) {
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url("/account")).await;
    let mut form = Form::find(&page, "form[action='/login']").expect("the login form");
    form.set("email", email);
    form.set("password", PASSWORD);
    let refused = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.describe()
    );
    assert!(refused.body.contains(common::INVALID_LOGIN_SV));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_desk_journey_in_the_admin_console() {
    let test = "admin_console_journey";
    let Some(chromium) = chromium_or_skip(test) else {
        return;
    };
    let (server, smtp) = TestServer::start_with_smtp().await;
    server.create_user(ADMIN, "Agnes Admin", PASSWORD).await;
    let karin = server.create_user(CUSTOMER, "Karin Kund", PASSWORD).await;
    let granted = tokio::task::block_in_place(|| grant_admin_by_cli(&server, ADMIN));
    assert_eq!(granted["admin_role"], "admin", "{granted}");
    let ui = Ui::launch(&chromium, test, "sv-SE", Viewport::Phone).await;

    // --- In through our own login page ---------------------------------------------------------
    ui.goto("open the console", &server.url("/admin")).await;
    ui.expect_path("open the console", "/login").await;
    log_in(&ui, "log in", ADMIN).await;
    ui.expect_path("log in", "/admin/users").await;
    ui.expect_text("users", "h1", "Användare").await;
    ui.expect_text("users", ".user-list", CUSTOMER).await;
    both_sizes(&ui, "anvandare").await;

    // --- The first change asks for the login again -----------------------------------------------
    ui.click("invite page", ".console-nav a[href^=\"/admin/invite\"]")
        .await;
    ui.expect_text("invite page", "h1", "Bjud in kund").await;
    both_sizes(&ui, "bjud-in-kund").await;
    server.clock.advance(16 * 60);
    ui.fill("invite", "#email", INVITED).await;
    ui.fill("invite", "#name", "Nora Nilsson").await;
    ui.click(
        "invite",
        "form[action=\"/admin/invite\"] button[type=submit]",
    )
    .await;
    ui.expect_path("step-up", "/login").await;
    ui.expect_text("step-up", ".notice", "Bekräfta att det är du")
        .await;
    both_sizes(&ui, "logga-in-igen").await;
    log_in(&ui, "log in again", ADMIN).await;
    ui.expect_path("log in again", "/admin/invite").await;

    // --- Invite one customer: the welcome email arrives --------------------------------------------
    ui.fill("invite again", "#email", INVITED).await;
    ui.fill("invite again", "#name", "Nora Nilsson").await;
    ui.click(
        "invite again",
        "form[action=\"/admin/invite\"] button[type=submit]",
    )
    .await;
    ui.expect_text("invited", ".notice", "Inbjudan är skickad")
        .await;
    ui.expect_text("invited", "h1", "Nora Nilsson").await;
    ui.expect_text("invited", ".badges", "Inbjuden").await;
    both_sizes(&ui, "inbjuden-kund").await;
    let welcome = smtp
        .next_message(MAIL_TIMEOUT)
        .await
        .expect("the welcome email arrives");
    assert_eq!(welcome.rcpt_to, vec![INVITED.to_string()]);
    assert_eq!(
        welcome.subject(),
        "Välkommen till Leasify – välj ditt lösenord"
    );

    // --- Find Karin and disable her -------------------------------------------------------------
    ui.click("back to the list", ".back a").await;
    ui.fill("search", "#q", "karin").await;
    ui.click("search", "form[action=\"/admin/users/search\"] button")
        .await;
    ui.expect_path("search", "/admin/users").await;
    ui.expect_text("search", "#search-result", "karin").await;
    ui.shot("sok-karin").await;
    ui.click("open Karin", ".user-list a").await;
    ui.expect_path("open Karin", &format!("/admin/users/{karin}"))
        .await;
    ui.expect_text("Karin's page", "h1", "Karin Kund").await;
    both_sizes(&ui, "karin").await;
    ui.click("disable Karin", "#toggle-disabled").await;
    ui.expect_text("disabled", ".notice", "Användaren är spärrad")
        .await;
    ui.expect_text("disabled", ".badges", "Spärrad").await;
    both_sizes(&ui, "karin-sparrad").await;
    expect_login_refused(&server, CUSTOMER).await;

    // --- The same pages in English -----------------------------------------------------------------
    ui.click("English", ".lang a[lang=en]").await;
    ui.expect_text("English user page", "h1", "Karin Kund")
        .await;
    ui.expect_text("English user page", ".badges", "Disabled")
        .await;
    both_sizes(&ui, "karin-en").await;
    for (step, path, heading) in [
        ("users-en", "/admin/users?lang=en", "Users"),
        ("invite-en", "/admin/invite?lang=en", "Invite a customer"),
        ("keys-en", "/admin/keys?lang=en", "Signing keys"),
        ("audit-en", "/admin/audit?lang=en", "Event log"),
    ] {
        ui.goto(step, &server.url(path)).await;
        ui.expect_text(step, "h1", heading).await;
        ui.assert_fits_width(step).await;
        both_sizes(&ui, step).await;
    }
    // --- Rotate the signing keys ------------------------------------------------------------------
    ui.goto("keys page", &server.url("/admin/keys?lang=sv"))
        .await;
    ui.expect_text("keys page", "h1", "Signeringsnycklar").await;
    ui.expect_text("keys page", ".key-list", "Signerar nu")
        .await;
    both_sizes(&ui, "signeringsnycklar").await;
    ui.eval(
        "confirm rotation",
        "document.querySelector('input[name=confirm]').checked = true",
    )
    .await;
    ui.click(
        "rotate",
        "form[action=\"/admin/keys/rotate\"] button[type=submit]",
    )
    .await;
    ui.expect_text("rotated", ".notice", "Nya nycklar är publicerade")
        .await;
    ui.expect_text("rotated", ".key-list", "Nästa").await;
    both_sizes(&ui, "nycklar-roterade").await;

    // --- Filter the event log ----------------------------------------------------------------------
    ui.click("event log", ".console-nav a[href^=\"/admin/audit\"]")
        .await;
    ui.expect_text("event log", "h1", "Händelselogg").await;
    both_sizes(&ui, "handelselogg").await;
    ui.fill("filter", "#user", CUSTOMER).await;
    ui.fill("filter", "#type", "user.disabled").await;
    ui.click("filter", "form.audit-filter button[type=submit]")
        .await;
    ui.expect_path("filtered", "/admin/audit").await;
    ui.expect_text("filtered", ".audit-table", "user.disabled")
        .await;
    ui.expect_text("filtered", ".audit-table", &karin).await;
    both_sizes(&ui, "handelselogg-filtrerad").await;

    ui.finish("the end").await;
}

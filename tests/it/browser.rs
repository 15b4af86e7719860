//! End-to-end tests in a real browser (headless Chromium over the DevTools protocol).
//!
//! `swedish_onboarding_journey` follows the seed story (shared/seed/leasify-onboarding-sv.txt):
//! a new customer is invited, gets the welcome email over real SMTP, chooses a password, logs in
//! to an app through a real OpenID Connect code flow (PKCE S256), changes the password under
//! "Mina uppgifter" (the person icon top right), forgets it and resets it by email, and logs in
//! again. `english_login_page` checks the English login page (by `ui_locales` and by the language
//! switch) at phone and desktop sizes. `bankid_qr_login` shows the BankID QR page in English and
//! Swedish, reads the animated QR code off the screen each second, "scans" it with the simulated
//! BankID app and ends logged in at the app.
//!
//! Every page must load without console errors, uncaught exceptions or browser log errors (CSP
//! violations, failed loads). Screenshots of each step go to `$LEASIFY_SCREENSHOT_DIR/<test>` or
//! `<target dir>/screenshots/<test>`; the folder is printed at the start.
//!
//! Without `/usr/bin/chromium` the tests print SKIPPED and pass, unless `LEASIFY_REQUIRE_BROWSER`
//! is set (CI), where they fail.

use crate::bankid_support;
use crate::browser_support;
use crate::common;

use std::time::Duration;

use browser_support::cdp::Viewport;
use browser_support::{CallbackServer, Ui, chromium_or_skip};
use common::TestServer;
use common::smtp::{ReceivedMail, TestSmtpServer};
use leasify_id::admin::clients::{self, NewClient};
use url::Url;

const EMAIL: &str = "anna@example.se";
const NAME: &str = "Anna Svensson";
const TOO_SHORT: &str = "kort123";
const FIRST_PASSWORD: &str = "Blåbärssylt-på-taket-42";
const CHANGED_PASSWORD: &str = "Kanelbullar i regnet vid Slussen 1987";
const RESET_PASSWORD: &str = "Sju sorters kakor på Mälarens strand";
const MAIL_TIMEOUT: Duration = Duration::from_secs(10);
const LOGIN_SUBMIT: &str = "form[action=\"/login\"] button[type=submit]";

/// The app that sends people here to log in: a confidential client whose redirect URI is a real
/// listener, so the browser lands on a page.
struct RelyingParty {
    base_url: String,
    client_id: String,
    client_secret: String,
    callback: CallbackServer,
}

/// What the app remembers between sending the browser away and the callback.
struct PendingLogin {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

impl RelyingParty {
    async fn register(server: &TestServer, name: &str) -> RelyingParty {
        let callback = CallbackServer::start().await;
        let view = clients::create(
            &server.state,
            NewClient {
                name: name.to_string(),
                redirect_uris: vec![callback.redirect_uri()],
                post_logout_redirect_uris: vec![],
                public: false,
                scopes: vec![],
                ..Default::default()
            },
        )
        .await
        .expect("the client is registered");
        RelyingParty {
            base_url: server.base_url.clone(),
            client_id: view.client_id,
            client_secret: view
                .client_secret
                .expect("a confidential client has a secret"),
            callback,
        }
    }

    /// A code-flow request with state, nonce and PKCE S256; `extra` adds e.g. `ui_locales`.
    fn login_request(&self, extra: &[(&str, &str)]) -> PendingLogin {
        let (challenge, verifier) = common::pkce_pair();
        let state = format!("st-{}", uuid::Uuid::new_v4().simple());
        let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
        let redirect_uri = self.callback.redirect_uri();
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid email profile"),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        params.extend_from_slice(extra);
        PendingLogin {
            url: common::authorize_url(&self.base_url, &params),
            state,
            nonce,
            verifier,
        }
    }

    /// Checks where the browser landed (the callback, with our state and the issuer), that the
    /// callback server saw the same request, and redeems the code at the token endpoint with
    /// client_secret_basic. Returns the ID token's claims.
    async fn finish(&self, ui: &Ui, step: &str, pending: &PendingLogin) -> serde_json::Value {
        let landed = ui.url().await;
        if !landed.as_str().starts_with(&self.callback.redirect_uri()) {
            ui.fail(
                step,
                format!(
                    "expected the app's callback {}, the browser is at {landed}",
                    self.callback.redirect_uri()
                ),
            )
            .await;
        }
        let params = common::query_params(&landed);
        assert_eq!(
            params.get("state"),
            Some(&pending.state),
            "{step}: state in {landed}"
        );
        assert_eq!(
            params.get("iss").map(String::as_str),
            Some(self.base_url.as_str()),
            "{step}: iss in {landed}"
        );
        assert!(
            !params.contains_key("error"),
            "{step}: an error came back: {landed}"
        );
        let code = params
            .get("code")
            .unwrap_or_else(|| panic!("{step}: no code in {landed}"));
        assert!(
            self.callback.hits().iter().any(|hit| hit == &landed),
            "{step}: the callback server received {landed}; it saw {:?}",
            self.callback.hits()
        );
        assert_eq!(
            ui.text("body").await.as_deref().map(str::trim),
            Some("ok"),
            "{step}: the app's callback page"
        );
        let redirect_uri = self.callback.redirect_uri();
        let response = common::token_request(
            &self.base_url,
            Some((&self.client_id, &self.client_secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", &pending.verifier),
            ],
        )
        .await;
        assert_eq!(
            response.status.as_u16(),
            200,
            "{step}: code exchange\n{}",
            response.describe()
        );
        let body = response.json();
        let id_token = body["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{step}: an id_token in {body}"));
        assert!(
            body["access_token"].as_str().is_some_and(|t| !t.is_empty()),
            "{step}: an access token in {body}"
        );
        let claims = common::jwt_claims(id_token);
        assert_eq!(claims["iss"], self.base_url.as_str(), "{step}: iss");
        assert_eq!(claims["aud"], self.client_id.as_str(), "{step}: aud");
        assert_eq!(claims["nonce"], pending.nonce.as_str(), "{step}: nonce");
        let access_token = body["access_token"].as_str().unwrap_or_default();
        let userinfo = common::userinfo_request(&self.base_url, access_token).await;
        assert_eq!(
            userinfo.status.as_u16(),
            200,
            "{step}: userinfo\n{}",
            userinfo.describe()
        );
        let userinfo = userinfo.json();
        assert_eq!(userinfo["sub"], claims["sub"], "{step}: userinfo sub");
        assert_eq!(userinfo["email"], EMAIL, "{step}: userinfo email");
        claims
    }
}

async fn expect_mail(smtp: &TestSmtpServer, step: &str, subject: &str) -> ReceivedMail {
    let mail = smtp
        .next_message(MAIL_TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("{step}: no email arrived within {MAIL_TIMEOUT:?}"));
    assert_eq!(mail.rcpt_to, vec![EMAIL.to_string()], "{step}: recipient");
    assert_eq!(mail.subject(), subject, "{step}: subject");
    mail
}

/// The link a person would follow in the email: on this server, carrying a token.
fn link_in(mail: &ReceivedMail, server: &TestServer, step: &str) -> String {
    let link = mail
        .first_link()
        .unwrap_or_else(|| panic!("{step}: no link in the email:\n{}", mail.text()));
    assert!(
        link.starts_with(&server.url("/password/set?token=")),
        "{step}: the link leads to the set-password page: {link}"
    );
    let token = link.split("token=").nth(1).unwrap_or_default();
    assert!(
        !token.is_empty() && mail.html().contains(token),
        "{step}: the HTML part carries the same link:\n{}",
        mail.html()
    );
    link
}

/// Fills the two new-password fields and saves.
/// Fills the two new-password fields and saves; the next page must answer `status`.
async fn choose_password(ui: &Ui, step: &str, password: &str, confirmation: &str, status: u16) {
    ui.fill(step, "#new_password", password).await;
    ui.fill(step, "#confirm_password", confirmation).await;
    ui.click_expect(
        step,
        "form[action=\"/password/set\"] button[type=submit]",
        status,
    )
    .await;
}

/// Fills the login form and logs in; the next page must answer `status`.
async fn log_in(ui: &Ui, step: &str, email: &str, password: &str, status: u16) {
    ui.fill(step, "#email", email).await;
    ui.fill(step, "#password", password).await;
    ui.click_expect(step, LOGIN_SUBMIT, status).await;
}

/// Logs in on the login page of an app's request and checks that the browser lands on the app's
/// callback with a code that works.
async fn log_in_to_app(
    ui: &Ui,
    app: &RelyingParty,
    step: &str,
    pending: &PendingLogin,
    password: &str,
) -> serde_json::Value {
    ui.fill(step, "#email", EMAIL).await;
    ui.fill(step, "#password", password).await;
    match ui.page.click_and_wait(LOGIN_SUBMIT).await {
        Ok(navigation) => {
            ui.after_navigation(step, navigation, 200).await;
            app.finish(ui, step, pending).await
        }
        Err(error) => {
            // The login itself may have worked and only the way back to the app was blocked
            // (e.g. by the page's Content Security Policy). Record the failure and carry on with
            // the session, so the rest of the journey is still checked.
            ui.record_problem(
                step,
                format!("the browser did not get back to the app: {error:#}"),
            )
            .await;
            ui.assert_no_errors(step).await;
            let retry = app.login_request(&[]);
            let again = format!("{step} (again, with the session)");
            ui.goto(&again, &retry.url).await;
            app.finish(ui, &again, &retry).await
        }
    }
}

/// The "Logga ut" button at the bottom of Mina uppgifter; ends on the logged-out page.
async fn log_out(ui: &Ui, step: &str) {
    ui.expect_text(step, "form[action=\"/logout\"] button", "Logga ut")
        .await;
    ui.click(step, "form[action=\"/logout\"] button").await;
    ui.expect_text(step, "h1", "Du är utloggad").await;
}

/// A screenshot at desktop size too, then back to the phone.
async fn desktop_shot(ui: &Ui, step: &str) {
    ui.set_viewport(Viewport::Desktop).await;
    ui.shot(&format!("{step}-desktop")).await;
    ui.set_viewport(Viewport::Phone).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swedish_onboarding_journey() {
    let test = "swedish_onboarding_journey";
    let Some(chromium) = chromium_or_skip(test) else {
        return;
    };
    let smtp = TestSmtpServer::start().await;
    let smtp_port = smtp.port();
    let server = TestServer::start_with(|config| {
        config.mail.transport = "smtp".into();
        config.mail.smtp_tls = "none".into();
        config.mail.smtp_host = "127.0.0.1".into();
        config.mail.smtp_port = smtp_port;
        config.mail.smtp_timeout = 5;
    })
    .await;
    let app = RelyingParty::register(&server, "Leasify Portal").await;
    let ui = Ui::launch(&chromium, test, "sv-SE", Viewport::Phone).await;

    // --- The welcome email ------------------------------------------------------------------
    let invited = leasify_id::account::invitations::invite(
        &server.state,
        &leasify_id::audit::Caller::system(),
        EMAIL,
        NAME,
        "sv",
    )
    .await
    .expect("the invitation is sent");
    assert_eq!(invited.outcome, "invited");
    let welcome = expect_mail(
        &smtp,
        "welcome email",
        "Välkommen till Leasify – välj ditt lösenord",
    )
    .await;
    assert!(
        welcome.text().contains("Hej Anna Svensson"),
        "the welcome email greets Anna:\n{}",
        welcome.text()
    );
    let link = link_in(&welcome, &server, "welcome email");

    // --- Välj lösenord -----------------------------------------------------------------------
    ui.goto("open the welcome link", &link).await;
    ui.expect_path("open the welcome link", "/password/set")
        .await;
    ui.expect_text("set-password page", "h1", "Välj lösenord")
        .await;
    ui.expect_text("set-password page", ".lead", EMAIL).await;
    assert_eq!(ui.attribute("html", "lang").await.as_deref(), Some("sv"));
    ui.assert_fits_width("set-password page").await;
    ui.shot("valj-losenord").await;

    choose_password(&ui, "too short password", TOO_SHORT, TOO_SHORT, 400).await;
    ui.expect_path("too short password", "/password/set").await;
    ui.expect_text(
        "too short password",
        "#password-error",
        "Lösenordet är för kort",
    )
    .await;
    assert_eq!(
        ui.attribute("#new_password", "aria-invalid")
            .await
            .as_deref(),
        Some("true"),
        "the field is marked invalid"
    );
    assert!(
        ui.attribute("#new_password", "aria-describedby")
            .await
            .unwrap_or_default()
            .split_whitespace()
            .any(|id| id == "password-error"),
        "the field points at its error message"
    );
    ui.assert_fits_width("too short password").await;
    ui.shot("for-kort-losenord").await;

    choose_password(&ui, "strong password", FIRST_PASSWORD, FIRST_PASSWORD, 200).await;
    ui.expect_path("strong password", "/account").await;
    ui.expect_text("strong password", "h1", "Mina uppgifter")
        .await;
    ui.expect_text("strong password", ".notice", "Lösenordet är sparat")
        .await;
    assert_eq!(
        ui.attribute("#email", "value").await.as_deref(),
        Some(EMAIL)
    );
    ui.assert_fits_width("account page").await;
    ui.shot("mina-uppgifter").await;
    desktop_shot(&ui, "mina-uppgifter").await;

    // --- The app: already logged in, straight back with a code -------------------------------
    let first = app.login_request(&[]);
    ui.goto("authorize with a session", &first.url).await;
    let claims = app.finish(&ui, "authorize with a session", &first).await;
    let sub = claims["sub"].as_str().expect("a sub").to_string();
    assert_eq!(sub, invited.user.id, "the ID token is Anna's");

    // --- Logga ut, then log in through the app -----------------------------------------------
    ui.goto("back to Mina uppgifter", &server.url("/account"))
        .await;
    ui.expect_text("back to Mina uppgifter", "h1", "Mina uppgifter")
        .await;
    log_out(&ui, "log out").await;
    ui.assert_fits_width("logged out").await;
    ui.shot("utloggad").await;

    let second = app.login_request(&[]);
    ui.goto("authorize without a session", &second.url).await;
    ui.expect_path("authorize without a session", "/login")
        .await;
    ui.expect_text("login page", "h1", "Logga in").await;
    ui.expect_text("login page", ".lead", "Leasify Portal")
        .await;
    ui.expect_text("login page", ".form-links a", "Glömt lösenord?")
        .await;
    ui.assert_fits_width("login page").await;
    ui.shot("logga-in").await;
    desktop_shot(&ui, "logga-in").await;

    log_in(&ui, "wrong password", EMAIL, "fel-losenord-123", 401).await;
    ui.expect_path("wrong password", "/login").await;
    ui.expect_text("wrong password", "#login-error", common::INVALID_LOGIN_SV)
        .await;
    assert_eq!(
        ui.attribute("#email", "value").await.as_deref(),
        Some(EMAIL),
        "the email address is kept"
    );
    ui.assert_fits_width("wrong password").await;
    ui.shot("fel-losenord").await;

    let claims = log_in_to_app(&ui, &app, "right password", &second, FIRST_PASSWORD).await;
    assert_eq!(claims["sub"], sub.as_str());

    // --- Mina uppgifter via the person icon: change the password -----------------------------
    ui.goto("the portal", &server.url("/")).await;
    ui.click("person icon", "a[aria-label=\"Mina uppgifter\"]")
        .await;
    ui.expect_path("person icon", "/account").await;
    ui.expect_text("person icon", "h1", "Mina uppgifter").await;
    ui.fill("change password", "#current_password", FIRST_PASSWORD)
        .await;
    ui.fill("change password", "#new_password", CHANGED_PASSWORD)
        .await;
    ui.fill("change password", "#confirm_password", CHANGED_PASSWORD)
        .await;
    ui.click(
        "change password",
        "form[action=\"/account/password\"] button[type=submit]",
    )
    .await;
    ui.expect_path("change password", "/account").await;
    ui.expect_text("change password", ".notice", "Ditt lösenord är bytt")
        .await;
    ui.assert_fits_width("password changed").await;
    ui.shot("losenord-bytt").await;
    let changed = expect_mail(&smtp, "password changed email", "Ditt lösenord har ändrats").await;
    assert!(
        changed
            .text()
            .contains("Lösenordet till ditt Leasify-konto har just ändrats"),
        "{}",
        changed.text()
    );

    // --- Glömt lösenord ----------------------------------------------------------------------
    log_out(&ui, "log out before forgetting").await;
    ui.click("log in again", "p.form-links a").await;
    ui.expect_path("log in again", "/login").await;
    ui.expect_text("log in again", "h1", "Logga in").await;
    ui.click("forgot password link", ".form-links a").await;
    ui.expect_path("forgot password link", "/password/forgot")
        .await;
    ui.expect_text("forgot password page", "h1", "Glömt lösenord?")
        .await;
    ui.assert_fits_width("forgot password page").await;
    ui.shot("glomt-losenord").await;
    ui.fill("request a reset", "#email", EMAIL).await;
    ui.click(
        "request a reset",
        "form[action=\"/password/forgot\"] button[type=submit]",
    )
    .await;
    ui.expect_text("reset requested", "h1", "Kolla din e-post")
        .await;
    ui.expect_text(
        "reset requested",
        "main [role=status]",
        "Om adressen finns hos oss",
    )
    .await;
    ui.shot("kolla-din-epost").await;

    let reset = expect_mail(&smtp, "reset email", "Återställ ditt lösenord till Leasify").await;
    let link = link_in(&reset, &server, "reset email");
    ui.goto("open the reset link", &link).await;
    ui.expect_text("reset page", "h1", "Välj nytt lösenord")
        .await;
    ui.shot("valj-nytt-losenord").await;
    choose_password(&ui, "new password", RESET_PASSWORD, RESET_PASSWORD, 200).await;
    ui.expect_path("new password", "/account").await;
    ui.expect_text("new password", "h1", "Mina uppgifter").await;
    ui.expect_text("new password", ".notice", "Lösenordet är sparat")
        .await;
    ui.shot("inloggad-efter-aterstallning").await;
    // A reset changes an existing password: the owner is told, in case it was not them.
    expect_mail(&smtp, "password reset notice", "Ditt lösenord har ändrats").await;

    // --- Log in through the app with the newest password -------------------------------------
    log_out(&ui, "log out after the reset").await;
    let third = app.login_request(&[]);
    ui.goto("authorize after the reset", &third.url).await;
    ui.expect_path("authorize after the reset", "/login").await;
    let claims = log_in_to_app(&ui, &app, "newest password", &third, RESET_PASSWORD).await;
    assert_eq!(claims["sub"], sub.as_str());
    if let Some(extra) = smtp.next_message(Duration::from_millis(200)).await {
        panic!(
            "no other email was expected, got {:?}:\n{}",
            extra.subject(),
            extra.text()
        );
    }
    ui.finish("the end").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_login_page() {
    let test = "english_login_page";
    let Some(chromium) = chromium_or_skip(test) else {
        return;
    };
    let server = TestServer::start().await;
    let app = RelyingParty::register(&server, "Leasify Portal").await;
    // A Swedish browser: English only because the app or the person asks for it.
    let ui = Ui::launch(&chromium, test, "sv-SE", Viewport::Phone).await;

    // The app asks for English.
    let request = app.login_request(&[("ui_locales", "en")]);
    ui.goto("ui_locales=en", &request.url).await;
    ui.expect_path("ui_locales=en", "/login").await;
    assert_english(&ui, "ui_locales=en").await;
    ui.assert_fits_width("ui_locales=en").await;
    ui.shot("ui-locales-en-phone").await;
    ui.set_viewport(Viewport::Desktop).await;
    ui.shot("ui-locales-en-desktop").await;

    // The person switches: a Swedish login page, then "English".
    ui.set_viewport(Viewport::Phone).await;
    let request = app.login_request(&[]);
    ui.goto("Swedish login page", &request.url).await;
    ui.expect_text("Swedish login page", "h1", "Logga in").await;
    ui.expect_text("Swedish login page", "nav.lang", "English")
        .await;
    ui.shot("svenska-phone").await;
    ui.click("language switch", "nav.lang a[hreflang=en]").await;
    let url: Url = ui.expect_path("language switch", "/login").await;
    assert!(
        common::query_params(&url).contains_key("req"),
        "the switch keeps the app's login request: {url}"
    );
    assert_english(&ui, "language switch").await;
    ui.assert_fits_width("language switch").await;
    ui.shot("english-phone").await;
    ui.set_viewport(Viewport::Desktop).await;
    ui.shot("english-desktop").await;
    ui.finish("the end").await;
}

async fn assert_english(ui: &Ui, step: &str) {
    assert_eq!(
        ui.attribute("html", "lang").await.as_deref(),
        Some("en"),
        "{step}: <html lang>"
    );
    ui.expect_text(step, "h1", "Log in").await;
    ui.expect_text(
        step,
        "form[action=\"/login\"] button[type=submit]",
        "Log in",
    )
    .await;
    ui.expect_text(step, ".form-links a", "Forgot your password?")
        .await;
    ui.expect_text(step, "label[for=password]", "Password")
        .await;
}

// ---------------------------------------------------------------------------------------------
// BankID: the animated QR code, read off the screen and "scanned" by the simulated app
// ---------------------------------------------------------------------------------------------

const BANKID_BUTTON: &str = "form[action=\"/bankid/login\"] button[type=submit]";
const ACR_LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";

/// The QR code the page shows now: its SVG, and the text a phone camera reads from it.
struct ShownQr {
    svg: String,
    payload: String,
}

impl ShownQr {
    /// `bankid.<qrStartToken>.<qrTime>.<qrAuthCode>` split into its parts.
    fn parts(&self) -> (&str, u64, &str) {
        let parts: Vec<&str> = self.payload.split('.').collect();
        assert_eq!(parts.len(), 4, "a BankID QR payload: {}", self.payload);
        assert_eq!(parts[0], "bankid");
        let time = parts[2].parse().expect("qrTime is a number");
        (parts[1], time, parts[3])
    }
}

async fn read_qr(ui: &Ui, step: &str) -> ShownQr {
    let svg = ui
        .eval(
            step,
            "(() => { const el = document.querySelector('#bankid-qr svg'); \
               return el ? el.outerHTML : null; })()",
        )
        .await;
    let Some(svg) = svg.as_str().map(str::to_string) else {
        ui.fail(step, "no QR code on the page".into()).await
    };
    match browser_support::qr::decode_svg(&svg) {
        Ok(payload) => ShownQr { svg, payload },
        Err(e) => {
            ui.fail(step, format!("the QR code cannot be read: {e:#}"))
                .await
        }
    }
}

/// Waits (at most 2.5 s: the page asks every second) for the page to show another QR code.
async fn next_qr(ui: &Ui, step: &str, shown: &ShownQr) -> ShownQr {
    let condition = format!(
        "(() => {{ const el = document.querySelector('#bankid-qr svg'); \
           return !!el && el.outerHTML !== {}; }})()",
        browser_support::cdp::js_string(&shown.svg)
    );
    if let Err(e) = ui
        .page
        .wait_until(&condition, Duration::from_millis(2500))
        .await
    {
        ui.fail(step, format!("the QR code did not change: {e:#}"))
            .await;
    }
    read_qr(ui, step).await
}

/// `POST /dev/bankid/api/<action>`: what the person does in the simulated BankID app.
async fn bankid_app(
    server: &TestServer,
    action: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = common::plain_client()
        .post(server.url(&format!("/dev/bankid/api/{action}")))
        .json(&body)
        .send()
        .await
        .expect("the simulated app answers");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(status.as_u16(), 200, "{action}: {body}");
    body
}

/// The qrStartSecret of the order, opened from its sealed copy in the database.
async fn qr_start_secret(server: &TestServer, order: &str) -> String {
    let stored = server
        .state
        .store
        .bankid_order(order)
        .await
        .expect("store")
        .expect("the order is stored");
    let secret = server
        .state
        .secret_box
        .open(&stored.qr_start_secret_sealed, order.as_bytes())
        .expect("the secret opens");
    String::from_utf8(secret).expect("UTF-8")
}

#[test]
fn the_qr_reader_reads_our_svg() {
    let payload = leasify_id::bankid::qr::qr_payload(
        "67df3917-fa0d-44e5-b327-edcc928297f8",
        "d28db9a7-4cde-429e-a983-359be676944c",
        7,
    );
    let svg = leasify_id::bankid::qr::qr_svg(&payload);
    assert_eq!(
        browser_support::qr::decode_svg(&svg).expect("decodes"),
        payload
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bankid_qr_login() {
    let test = "bankid_qr_login";
    let Some(chromium) = chromium_or_skip(test) else {
        return;
    };
    let server = TestServer::start().await;
    let app = RelyingParty::register(&server, "Leasify Portal").await;
    // Anna has added her personnummer and linked BankID (through the pages, as a person would).
    let user_id = bankid_support::linked_user_with(&server, EMAIL, NAME, FIRST_PASSWORD).await;
    let ui = Ui::launch(&chromium, test, "sv-SE", Viewport::Phone).await;

    // --- The QR page in English, then "Cancel" -----------------------------------------------
    let english = app.login_request(&[("ui_locales", "en")]);
    ui.goto("English login page", &english.url).await;
    ui.expect_text("English login page", BANKID_BUTTON, "Log in with BankID")
        .await;
    ui.click("English BankID page", BANKID_BUTTON).await;
    ui.expect_path("English BankID page", "/bankid/order").await;
    ui.expect_text("English BankID page", "h1", "Log in with BankID")
        .await;
    ui.expect_text(
        "English BankID page",
        "#bankid-message",
        "Start your BankID app",
    )
    .await;
    ui.expect_text(
        "English BankID page",
        "#bankid-autostart",
        "Open BankID on this device",
    )
    .await;
    read_qr(&ui, "English BankID page").await;
    ui.assert_fits_width("English BankID page").await;
    ui.shot("bankid-qr-en-phone").await;
    ui.set_viewport(Viewport::Desktop).await;
    ui.shot("bankid-qr-en-desktop").await;
    ui.set_viewport(Viewport::Phone).await;
    ui.click("Cancel", "#bankid-cancel button").await;
    ui.expect_path("Cancel", "/login").await;
    ui.expect_text("Cancel", "h1", "Log in").await;

    // --- The QR page in Swedish ---------------------------------------------------------------
    let pending = app.login_request(&[]);
    ui.goto("Swedish login page", &pending.url).await;
    ui.expect_text("Swedish login page", BANKID_BUTTON, "Logga in med BankID")
        .await;
    ui.click("Swedish BankID page", BANKID_BUTTON).await;
    let url = ui.expect_path("Swedish BankID page", "/bankid/order").await;
    let order = common::query_params(&url)["order"].clone();
    ui.expect_text("Swedish BankID page", "h1", "Logga in med BankID")
        .await;
    ui.expect_text(
        "Swedish BankID page",
        "#bankid-message",
        "Starta BankID-appen",
    )
    .await;
    ui.assert_fits_width("Swedish BankID page").await;
    ui.shot("bankid-qr-sv-phone").await;
    ui.set_viewport(Viewport::Desktop).await;
    ui.shot("bankid-qr-sv-desktop").await;
    ui.set_viewport(Viewport::Phone).await;

    // The QR code is recomputed on the server every second; the page shows each one.
    let first = read_qr(&ui, "first QR code").await;
    let second = next_qr(&ui, "second QR code", &first).await;
    let third = next_qr(&ui, "third QR code", &second).await;
    let (token, t1, code1) = first.parts();
    for (later, earlier) in [(&second, &first), (&third, &second)] {
        let (later_token, later_time, later_code) = later.parts();
        let (_, earlier_time, earlier_code) = earlier.parts();
        assert_eq!(later_token, token, "the same order's qrStartToken");
        assert!(
            (earlier_time + 1..=earlier_time + 2).contains(&later_time),
            "qrTime moves with the seconds: {earlier_time} then {later_time}"
        );
        assert_ne!(later_code, earlier_code, "a new qrAuthCode each second");
    }
    assert!(
        t1 <= 3,
        "the first code is from the order's first seconds: {t1}"
    );
    assert_ne!(code1, "");

    // The secret the codes are made with never reaches the browser.
    let secret = qr_start_secret(&server, &order).await;
    let source = ui
        .eval("page source", "document.documentElement.outerHTML")
        .await;
    let poll = ui
        .eval(
            "poll answer",
            "fetch(document.getElementById('bankid').getAttribute('data-poll'), \
               { credentials: 'same-origin' }).then(r => r.text())",
        )
        .await;
    for (what, text) in [("page source", &source), ("poll answer", &poll)] {
        let text = text.as_str().unwrap_or_default();
        assert!(!text.is_empty(), "{what} was read");
        assert!(!text.contains(&secret), "{what} holds the qrStartSecret");
        assert!(
            !text.to_ascii_lowercase().contains("qrstartsecret"),
            "{what} mentions qrStartSecret"
        );
    }

    // The phone reads the code now on the screen.
    let shown = read_qr(&ui, "scan").await;
    let scanned = bankid_app(
        &server,
        "scan",
        serde_json::json!({ "qr_payload": shown.payload, "personal_number": bankid_support::PERSON }),
    )
    .await;
    assert_eq!(scanned["hintCode"], "userSign", "{scanned}");
    let asks_for_code =
        "document.getElementById('bankid-message').innerText.includes('säkerhetskod')";
    if let Err(e) = ui
        .page
        .wait_until(asks_for_code, Duration::from_secs(5))
        .await
    {
        ui.fail(
            "scanned",
            format!("the page did not ask for the code: {e:#}"),
        )
        .await;
    }
    assert_eq!(
        ui.eval("scanned", "document.getElementById('bankid-qr').hidden")
            .await,
        serde_json::Value::Bool(true),
        "no QR code once it has been read"
    );
    ui.shot("bankid-skriv-in-sakerhetskoden").await;

    // Approving in the app logs Anna in: the page moves on to the app by itself.
    bankid_app(
        &server,
        "approve",
        serde_json::json!({ "order_ref": order }),
    )
    .await;
    let at_app = format!(
        "location.href.startsWith({}) && document.readyState === 'complete'",
        browser_support::cdp::js_string(&app.callback.redirect_uri())
    );
    if let Err(e) = ui.page.wait_until(&at_app, Duration::from_secs(10)).await {
        ui.fail(
            "approved",
            format!("the browser did not reach the app: {e:#}"),
        )
        .await;
    }
    let claims = app.finish(&ui, "BankID login", &pending).await;
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["acr"], ACR_LOA3);
    assert_eq!(claims["amr"], serde_json::json!(["bankid"]));

    // The session is a BankID session: Mina uppgifter opens without a password.
    ui.goto("Mina uppgifter", &server.url("/account")).await;
    ui.expect_text("Mina uppgifter", "h1", "Mina uppgifter")
        .await;

    // The simulated BankID app lists what happened.
    ui.goto("simulated app", &server.url("/dev/bankid")).await;
    ui.expect_text("simulated app", "h1", "Simulated BankID app")
        .await;
    let order_card = format!("section[data-order='{order}']");
    ui.expect_text("simulated app", &order_card, "complete")
        .await;
    ui.shot("simulerad-bankid-app").await;
    ui.finish("the end").await;
}

/// The seed's way to BankID: log in with a password, add the personnummer under Mina uppgifter,
/// press "Visa QR-kod" and scan. First someone else scans: the page says at once that the number
/// does not match; then "Försök igen", and the right person links BankID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bankid_linking_journey() {
    let test = "bankid_linking_journey";
    let Some(chromium) = chromium_or_skip(test) else {
        return;
    };
    let server = TestServer::start().await;
    server.create_user(EMAIL, NAME, FIRST_PASSWORD).await;
    let ui = Ui::launch(&chromium, test, "sv-SE", Viewport::Phone).await;

    ui.goto("Mina uppgifter", &server.url("/account")).await;
    ui.expect_path("login", "/login").await;
    log_in(&ui, "login", EMAIL, FIRST_PASSWORD, 200).await;
    ui.expect_text("Mina uppgifter", "h1", "Mina uppgifter")
        .await;

    // The personnummer, confirmed with the password; shown with the birth year only.
    ui.fill(
        "personnummer",
        "#personnummer",
        bankid_support::PERSON_TYPED,
    )
    .await;
    ui.fill("personnummer", "#pnr_password", FIRST_PASSWORD)
        .await;
    ui.click_expect(
        "personnummer",
        "form[action=\"/account/personnummer\"] button[value=save]",
        200,
    )
    .await;
    ui.expect_text(
        "personnummer",
        "#pnr-heading + p + p strong",
        "1999****-****",
    )
    .await;
    ui.shot("personnummer-sparat").await;

    // "Visa QR-kod", the seed's words.
    let link_button = "form[action=\"/account/bankid\"] button";
    ui.expect_text("Visa QR-kod", link_button, "Visa QR-kod")
        .await;
    ui.click("Visa QR-kod", link_button).await;
    let url = ui.expect_path("QR code", "/bankid/order").await;
    let order = common::query_params(&url)["order"].clone();
    ui.expect_text("QR code", "h1", "Koppla BankID").await;
    let shown = read_qr(&ui, "QR code").await;
    ui.shot("koppla-bankid-qr").await;

    // Someone else scans the code on the screen and approves.
    bankid_app(
        &server,
        "scan",
        serde_json::json!({ "qr_payload": shown.payload, "personal_number": bankid_support::STRANGER }),
    )
    .await;
    bankid_app(
        &server,
        "approve",
        serde_json::json!({ "order_ref": order }),
    )
    .await;
    let told = "document.getElementById('bankid-message').innerText \
                .includes('Personnumret stämmer inte med det du angett')";
    if let Err(e) = ui.page.wait_until(told, Duration::from_secs(5)).await {
        ui.fail(
            "wrong person",
            format!("the page did not say the number does not match: {e:#}"),
        )
        .await;
    }
    assert_eq!(
        ui.eval(
            "wrong person",
            "document.getElementById('bankid-retry').hidden"
        )
        .await,
        serde_json::Value::Bool(false),
        "Försök igen is offered"
    );
    ui.assert_fits_width("wrong person").await;
    ui.shot("koppla-bankid-fel-person").await;
    desktop_shot(&ui, "koppla-bankid-fel-person").await;

    // "Försök igen": a new order, and this time the right person.
    ui.click("Försök igen", "#bankid-retry button").await;
    let url = ui.expect_path("QR code again", "/bankid/order").await;
    let second = common::query_params(&url)["order"].clone();
    assert_ne!(second, order);
    let shown = read_qr(&ui, "QR code again").await;
    bankid_app(
        &server,
        "scan",
        serde_json::json!({ "qr_payload": shown.payload, "personal_number": bankid_support::PERSON }),
    )
    .await;
    bankid_app(
        &server,
        "approve",
        serde_json::json!({ "order_ref": second }),
    )
    .await;
    let linked = "location.pathname === '/account' && document.readyState === 'complete'";
    if let Err(e) = ui.page.wait_until(linked, Duration::from_secs(10)).await {
        ui.fail("linked", format!("did not return to Mina uppgifter: {e:#}"))
            .await;
    }
    ui.expect_text("linked", "#pnr-heading + p + p", "BankID är kopplat")
        .await;
    ui.shot("bankid-kopplat").await;
    ui.finish("the end").await;
}

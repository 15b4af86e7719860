//! Onboarding and passwords by email, end to end over a real SMTP conversation (issue 3): the
//! welcome invitation and "Välj lösenord", used, expired and unknown links, "Glömt lösenord?"
//! with its neutral answer and throttling, resets and changes that end every other session and
//! refresh token, Mina uppgifter behind a login, an SMTP outage that still delivers exactly once,
//! and re-inviting an existing address.
//!
//! Every test runs on the backend `LEASIFY_TEST_BACKEND` selects, with a [`TestSmtpServer`] as
//! the server's mail relay. Emails are awaited with timeouts; the only fixed waits are the ones
//! that assert that nothing arrives.

use crate::common;

use std::time::Duration;

use common::smtp::{ReceivedMail, TestSmtpServer};
use common::{
    Browser, Form, Response, Rp, TestServer, assert_access_token_dead, assert_token_error,
    query_params, redeem_refresh_token, userinfo_request,
};
use leasify_id::account::invitations::{self, InviteOutcome};
use leasify_id::admin::users;
use openidconnect::core::{CoreAuthPrompt, CoreTokenResponse};
use openidconnect::{OAuth2TokenResponse, RefreshToken};
use reqwest::StatusCode;
use url::Url;

// ---------------------------------------------------------------------------------------------
// Texts (templates/locales/sv/main.ftl) and test data
// ---------------------------------------------------------------------------------------------

const SUBJECT_INVITE: &str = "Välkommen till Leasify – välj ditt lösenord";
const SUBJECT_RESET: &str = "Återställ ditt lösenord till Leasify";
const SUBJECT_CHANGED: &str = "Ditt lösenord har ändrats";

const SET_PASSWORD_INVITE_TITLE: &str = "Välj lösenord";
const SET_PASSWORD_RESET_TITLE: &str = "Välj nytt lösenord";
const PASSWORD_TOO_SHORT: &str = "Lösenordet är för kort. Det måste ha minst 10 tecken.";
const PASSWORD_MISMATCH: &str = "Lösenorden är inte likadana. Skriv samma lösenord i båda fälten.";
const PASSWORD_WEAK: &str = "Lösenordet är för lätt att gissa.";
const CURRENT_PASSWORD_WRONG: &str = "Det nuvarande lösenordet stämmer inte.";
const PASSWORD_SET_NOTICE: &str = "Lösenordet är sparat";
const PASSWORD_CHANGED_NOTICE: &str = "Ditt lösenord är bytt. Du har loggats ut på andra enheter.";
const LOGGED_OUT_TITLE: &str = "Du är utloggad";
const LINK_USED_TITLE: &str = "Länken är redan använd";
const LINK_EXPIRED_TITLE: &str = "Länken har gått ut";
const LINK_UNKNOWN_TITLE: &str = "Länken fungerar inte";
const LINK_RESEND: &str = "Skicka en ny länk";
const LINK_RESENT_MESSAGE: &str =
    "Om kontot finns kvar har vi skickat en ny länk till samma e-postadress.";
const FORGOT_SENT_TITLE: &str = "Kolla din e-post";
const FORGOT_SENT_MESSAGE: &str = "Om adressen finns hos oss har vi skickat en länk";
const INVALID_CSRF: &str = "Formuläret hade gått ut. Ladda om sidan och försök igen.";
const LOGIN_INVALID: &str = "Fel e-post eller lösenord.";

const SESSION_COOKIE: &str = "__Host-leasify-session";

/// Passwords the policy accepts (long, zxcvbn score ≥ 3).
const PASSWORD: &str = "Blåbärssylt-på-taket-42";
const NEW_PASSWORD: &str = "Hallonsaft-i-källaren-77";
const THIRD_PASSWORD: &str = "Lingonris-under-bron-1905";

/// How long an email may take to arrive before a test fails.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to wait when asserting that no email arrives.
const QUIET: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

async fn invite(server: &TestServer, email: &str, name: &str) -> InviteOutcome {
    invitations::invite(
        &server.state,
        &leasify_id::audit::Caller::system(),
        email,
        name,
        "sv",
    )
    .await
    .unwrap_or_else(|e| panic!("invite {email}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

/// The next email; fails the test if none arrives in time.
async fn next_mail(smtp: &TestSmtpServer, what: &str) -> ReceivedMail {
    smtp.next_message(MAIL_TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("{what}: no email arrived within {MAIL_TIMEOUT:?}"))
}

/// Fails the test if an email arrives within [`QUIET`].
async fn assert_no_mail(smtp: &TestSmtpServer, why: &str) {
    if let Some(mail) = smtp.next_message(QUIET).await {
        panic!(
            "{why}: no email expected, got {:?} to {:?}:\n{}",
            mail.subject(),
            mail.rcpt_to,
            mail.text()
        );
    }
}

/// Checks recipient and subject, that the message is multipart text + HTML, and returns the
/// set-password link (present in both parts).
fn link_mail(server: &TestServer, mail: &ReceivedMail, to: &str, subject: &str) -> String {
    assert_common_mail(mail, to, subject);
    let link = mail
        .first_link()
        .unwrap_or_else(|| panic!("a link in the text part:\n{}", mail.text()));
    let prefix = format!("{}/password/set?token=", server.issuer());
    assert!(
        link.starts_with(&prefix),
        "the link points at {prefix}…, got {link}"
    );
    let token = query_params(&Url::parse(&link).expect("the link is a URL"))
        .remove("token")
        .expect("a token in the link");
    // At least 128 bits of randomness (22 base64url characters).
    assert!(token.len() >= 22, "the token is long enough: {token:?}");
    let hrefs = html_links(&mail.html());
    assert!(
        hrefs.contains(&link),
        "the HTML part links to {link}; its links: {hrefs:?}"
    );
    link
}

/// Recipient, Swedish subject and a multipart/alternative body with a text and an HTML part.
fn assert_common_mail(mail: &ReceivedMail, to: &str, subject: &str) {
    assert_eq!(mail.rcpt_to, vec![to.to_string()], "recipient");
    assert_eq!(mail.subject(), subject, "subject");
    let content_type = mail.header("Content-Type").unwrap_or_default();
    assert!(
        content_type
            .to_ascii_lowercase()
            .starts_with("multipart/alternative"),
        "a multipart/alternative message, got Content-Type {content_type:?}"
    );
    assert!(
        mail.part("text/plain")
            .is_some_and(|t| !t.trim().is_empty()),
        "a text part:\n{}",
        mail.data
    );
    assert!(
        mail.part("text/html").is_some_and(|t| !t.trim().is_empty()),
        "an HTML part:\n{}",
        mail.data
    );
    assert!(
        mail.text().contains("Hej"),
        "a Swedish greeting in the text part:\n{}",
        mail.text()
    );
}

/// Every `href` in an HTML document (entities decoded).
fn html_links(html: &str) -> Vec<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("a[href]").expect("selector");
    document
        .select(&selector)
        .filter_map(|a| a.attr("href"))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

/// The visible text of a page's `<main>` (or the whole body), whitespace collapsed.
fn page_text(page: &Response) -> String {
    let document = scraper::Html::parse_document(&page.body);
    let main = scraper::Selector::parse("main").expect("selector");
    let text: String = match document.select(&main).next() {
        Some(element) => element.text().collect(),
        None => document.root_element().text().collect(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_page(page: &Response, status: StatusCode, texts: &[&str]) {
    assert_eq!(page.status, status, "status of\n{}", page.describe());
    let text = page_text(page);
    for expected in texts {
        assert!(
            text.contains(expected),
            "the page shows {expected:?}; its text: {text}\n{}",
            page.describe()
        );
    }
}

/// Mina uppgifter for `name` and `email`: 200, the title, and the name and address in the form.
fn assert_account_page(page: &Response, name: &str, email: &str, texts: &[&str]) {
    let mut expected = vec!["Mina uppgifter"];
    expected.extend_from_slice(texts);
    assert_page(page, StatusCode::OK, &expected);
    let document = scraper::Html::parse_document(&page.body);
    let value = |selector: &str| {
        let selector = scraper::Selector::parse(selector).expect("selector");
        document
            .select(&selector)
            .next()
            .and_then(|input| input.attr("value"))
            .map(str::to_string)
    };
    assert_eq!(
        value("input#name").as_deref(),
        Some(name),
        "the name is shown"
    );
    assert_eq!(
        value("input#email").as_deref(),
        Some(email),
        "the address is shown"
    );
}

/// A page's body with every `csrf` field value removed, for comparing two answers.
fn without_csrf_values(body: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find(marker) {
        let value_start = start + marker.len();
        out.push_str(&rest[..value_start]);
        let after = &rest[value_start..];
        let end = after.find('"').unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn set_password_form(page: &Response) -> Form {
    Form::find(page, "form[action=\"/password/set\"]")
        .unwrap_or_else(|| panic!("a set-password form:\n{}", page.describe()))
}

fn set_password_form_absent(page: &Response) -> bool {
    Form::find(page, "form[action=\"/password/set\"]").is_none()
}

/// Submits the set-password form of `page` (not following redirects).
async fn submit_new_password(
    browser: &mut Browser,
    page: &Response,
    password: &str,
    confirmation: &str,
) -> Response {
    let mut form = set_password_form(page);
    assert_eq!(form.method, "post");
    assert!(
        form.get("csrf").is_some_and(|v| !v.is_empty()),
        "a CSRF token: {form:?}"
    );
    form.set("new_password", password);
    form.set("confirm_password", confirmation);
    browser.post_form(form.action.as_str(), &form.fields).await
}

/// Opens a link from an email, expects the set-password form with `title`, sets `password`, and
/// expects to be logged in and sent to Mina uppgifter.
async fn set_password_via_link(browser: &mut Browser, link: &str, title: &str, password: &str) {
    let page = browser.get(link).await;
    assert_page(&page, StatusCode::OK, &[title]);
    let done = submit_new_password(browser, &page, password, password).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    let location = done.location().expect("Location");
    assert_eq!(location.path(), "/account", "lands on Mina uppgifter");
    assert!(
        browser.cookie(SESSION_COOKIE).is_some(),
        "setting the password logged the user in"
    );
}

/// The "Skicka en ny länk" form of a link problem page.
fn resend_form(page: &Response) -> Option<Form> {
    Form::find(page, "form[action=\"/password/resend\"]")
}

/// The CSRF and token fields of a resend form plus a new password, to post to /password/set.
fn set_password_fields(resend: &Form, password: &str) -> Vec<(String, String)> {
    let mut post: Vec<(String, String)> = resend
        .fields
        .iter()
        .filter(|(k, _)| k == "csrf" || k == "token")
        .cloned()
        .collect();
    post.push(("new_password".into(), password.into()));
    post.push(("confirm_password".into(), password.into()));
    post
}

async fn forgot(browser: &mut Browser, server: &TestServer, email: &str) -> Response {
    let page = browser.get(&server.url("/password/forgot")).await;
    assert_page(&page, StatusCode::OK, &["Glömt lösenord?"]);
    let mut form = Form::find(&page, "form[action=\"/password/forgot\"]")
        .unwrap_or_else(|| panic!("the forgot-password form:\n{}", page.describe()));
    form.set("email", email);
    browser.post_form(form.action.as_str(), &form.fields).await
}

/// Logs in on the local login page (`/login?next=/account`); returns the response to the form.
async fn local_login(
    browser: &mut Browser,
    server: &TestServer,
    email: &str,
    password: &str,
) -> Response {
    let page = browser.get(&server.url("/login?next=%2Faccount")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    let mut form = page
        .login_form()
        .unwrap_or_else(|| panic!("a login form:\n{}", page.describe()));
    assert_eq!(form.get("next"), Some("/account"), "{form:?}");
    form.set("email", email);
    form.set("password", password);
    browser.post_form(form.action.as_str(), &form.fields).await
}

fn assert_redirect_to_account(response: &Response) {
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.describe()
    );
    assert_eq!(
        response.header("location"),
        Some("/account"),
        "{}",
        response.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Relying party
// ---------------------------------------------------------------------------------------------

struct App {
    id: String,
    secret: String,
    rp: Rp,
}

async fn app(server: &TestServer) -> App {
    let (id, secret) = server.create_client("Leasify portal").await;
    let rp = server.relying_party(&id, Some(&secret)).await;
    App { id, secret, rp }
}

/// Logs in through the relying party (authorize → login form → code → tokens); returns the
/// tokens and the `sub`.
async fn rp_login(
    app: &App,
    browser: &mut Browser,
    email: &str,
    password: &str,
) -> (CoreTokenResponse, String) {
    let authorization = app.rp.authorization(&["email"], true, |r| r);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), email, password)
        .await;
    let (tokens, claims) = app.rp.complete(authorization, &callback).await;
    assert!(
        tokens.refresh_token().is_some(),
        "a refresh token for the confidential client"
    );
    (tokens, claims.subject().as_str().to_string())
}

/// A `prompt=none` authorization in `browser`: the error the client gets, or `None` for a code.
async fn silent_authorize_error(app: &App, browser: &mut Browser) -> Option<String> {
    let authorization = app
        .rp
        .authorization(&[], true, |r| r.add_prompt(CoreAuthPrompt::None));
    let callback = browser.authorize_silently(authorization.url.as_str()).await;
    let params = query_params(&callback);
    match params.get("error") {
        Some(error) => Some(error.clone()),
        None => {
            assert!(
                params.contains_key("code"),
                "a code or an error: {callback}"
            );
            None
        }
    }
}

async fn assert_refresh_token_dead(server: &TestServer, app: &App, refresh: &RefreshToken) {
    let response =
        redeem_refresh_token(&server.base_url, (&app.id, &app.secret), refresh.secret()).await;
    assert_token_error(&response, 400, "invalid_grant");
}

async fn password_hash_of(server: &TestServer, email: &str) -> Option<String> {
    server
        .state
        .store
        .user_by_email(email)
        .await
        .expect("store")
        .expect("the user exists")
        .password_hash
}

async fn has_password(server: &TestServer, email: &str) -> bool {
    users::list(&server.state)
        .await
        .expect("user list")
        .into_iter()
        .find(|u| u.email == email)
        .unwrap_or_else(|| panic!("{email} is in the user list"))
        .has_password
}

// ---------------------------------------------------------------------------------------------
// 1. Invitation → Välj lösenord → Mina uppgifter → log out → log in through an app
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn invitation_sets_a_password_logs_in_and_works_with_a_relying_party() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let app = app(&server).await;
    let email = "anna.svensson@example.se";

    let outcome = invite(&server, email, "Anna Svensson").await;
    assert_eq!(outcome.outcome, "invited");
    assert!(!outcome.user.has_password);

    let mail = next_mail(&smtp, "the welcome email").await;
    let link = link_mail(&server, &mail, email, SUBJECT_INVITE);
    assert!(
        mail.text().contains("Anna Svensson"),
        "the email greets by name:\n{}",
        mail.text()
    );

    let mut browser = Browser::new(&server.base_url);
    let page = browser.get(&link).await;
    assert_page(&page, StatusCode::OK, &[SET_PASSWORD_INVITE_TITLE, email]);
    assert_eq!(
        page.header("referrer-policy"),
        Some("no-referrer"),
        "the token in the URL must not leak through a Referer"
    );

    // Rejected passwords: a 400 page with the reason, and the link still works afterwards.
    let rejected = [
        ("kort", "kort", PASSWORD_TOO_SHORT),
        (PASSWORD, "Blåbärssylt-på-taket-43", PASSWORD_MISMATCH),
        ("leasify123456", "leasify123456", PASSWORD_WEAK),
        ("anna.svensson1", "anna.svensson1", PASSWORD_WEAK),
    ];
    for (password, confirmation, message) in rejected {
        let page = browser.get(&link).await;
        assert_page(&page, StatusCode::OK, &[SET_PASSWORD_INVITE_TITLE]);
        let answer = submit_new_password(&mut browser, &page, password, confirmation).await;
        assert_page(
            &answer,
            StatusCode::BAD_REQUEST,
            &[SET_PASSWORD_INVITE_TITLE, message],
        );
        assert!(
            set_password_form(&answer).get("token").is_some(),
            "the form is shown again"
        );
        assert!(
            browser.cookie(SESSION_COOKIE).is_none(),
            "a rejected password logs nobody in"
        );
        let again = browser.get(&link).await;
        assert_page(&again, StatusCode::OK, &[SET_PASSWORD_INVITE_TITLE]);
    }
    assert!(!has_password(&server, email).await);
    assert_no_mail(&smtp, "rejected passwords send nothing").await;

    // A good password: logged in, on Mina uppgifter.
    let page = browser.get(&link).await;
    let done = submit_new_password(&mut browser, &page, PASSWORD, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    let location = done.location().expect("Location");
    assert_eq!(location.path(), "/account", "{}", done.describe());
    assert!(browser.cookie(SESSION_COOKIE).is_some(), "a session cookie");
    let account = browser.follow(done).await;
    assert_account_page(&account, "Anna Svensson", email, &[PASSWORD_SET_NOTICE]);
    assert!(has_password(&server, email).await);

    // Log out with the page's CSRF token.
    let logout =
        Form::find(&account, "form[action=\"/logout\"]").expect("a log-out form on Mina uppgifter");
    assert!(logout.get("csrf").is_some_and(|v| !v.is_empty()));
    let logged_out = browser
        .post_form(logout.action.as_str(), &logout.fields)
        .await;
    assert_page(&logged_out, StatusCode::OK, &[LOGGED_OUT_TITLE]);
    assert!(
        browser.cookie(SESSION_COOKIE).is_none(),
        "the session cookie is cleared"
    );
    let account = browser.get(&server.url("/account")).await;
    assert_eq!(
        account.status,
        StatusCode::SEE_OTHER,
        "logged out: /account asks for a login\n{}",
        account.describe()
    );

    // Log in through a relying party with the new password.
    let (tokens, sub) = rp_login(&app, &mut browser, email, PASSWORD).await;
    assert_eq!(sub, outcome.user.id);
    let info = userinfo_request(&server.base_url, tokens.access_token().secret()).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.describe());
    assert_eq!(info.json()["email"], email);
    assert_eq!(
        info.json()["email_verified"],
        true,
        "the link verified the address"
    );

    // The link is spent.
    let reused = Browser::new(&server.base_url).get(&link).await;
    assert_page(&reused, StatusCode::GONE, &[LINK_USED_TITLE]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Used, expired and unknown links
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn used_expired_and_unknown_links_explain_themselves_and_offer_a_new_link() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let email = "bo.berg@example.se";
    invite(&server, email, "Bo Berg").await;
    let link = link_mail(
        &server,
        &next_mail(&smtp, "the welcome email").await,
        email,
        SUBJECT_INVITE,
    );
    let mut browser = Browser::new(&server.base_url);
    set_password_via_link(&mut browser, &link, SET_PASSWORD_INVITE_TITLE, PASSWORD).await;

    // The same link again, in another browser: used, with an offer of a new link.
    let mut other = Browser::new(&server.base_url);
    let used = other.get(&link).await;
    assert_page(&used, StatusCode::GONE, &[LINK_USED_TITLE, LINK_RESEND]);
    assert!(
        set_password_form_absent(&used),
        "no password form on a used link"
    );
    // Submitting a password with the used token changes nothing.
    let hash = password_hash_of(&server, email).await;
    let resend = resend_form(&used).expect("a resend form");
    let replay = other
        .post_form(
            &server.url("/password/set"),
            &set_password_fields(&resend, NEW_PASSWORD),
        )
        .await;
    assert_page(&replay, StatusCode::GONE, &[LINK_USED_TITLE]);
    assert!(other.cookie(SESSION_COOKIE).is_none(), "nobody logged in");
    assert_eq!(password_hash_of(&server, email).await, hash);

    // "Skicka en ny länk": a neutral page, and a new, working link by email.
    let answer = other
        .post_form(resend.action.as_str(), &resend.fields)
        .await;
    assert_page(&answer, StatusCode::OK, &[LINK_RESENT_MESSAGE]);
    let mail = next_mail(&smtp, "the new link").await;
    // Bo has a password by now, so the new link is a reset link.
    let new_link = link_mail(&server, &mail, email, SUBJECT_RESET);
    assert_ne!(new_link, link, "a new link");
    set_password_via_link(
        &mut other,
        &new_link,
        SET_PASSWORD_RESET_TITLE,
        NEW_PASSWORD,
    )
    .await;
    let notice = next_mail(&smtp, "the password-changed notice").await;
    assert_common_mail(&notice, email, SUBJECT_CHANGED);

    // An expired invitation.
    let late = "cecilia.ek@example.se";
    invite(&server, late, "Cecilia Ek").await;
    let late_link = link_mail(
        &server,
        &next_mail(&smtp, "the second welcome email").await,
        late,
        SUBJECT_INVITE,
    );
    server
        .clock
        .advance(server.state.config.account.invite_ttl + 1);
    let mut third = Browser::new(&server.base_url);
    let expired = third.get(&late_link).await;
    assert_page(
        &expired,
        StatusCode::GONE,
        &[LINK_EXPIRED_TITLE, LINK_RESEND],
    );
    let resend = resend_form(&expired).expect("a resend form on an expired link");
    let too_late = third
        .post_form(
            &server.url("/password/set"),
            &set_password_fields(&resend, PASSWORD),
        )
        .await;
    assert_page(&too_late, StatusCode::GONE, &[LINK_EXPIRED_TITLE]);
    assert!(!has_password(&server, late).await);
    let answer = third
        .post_form(resend.action.as_str(), &resend.fields)
        .await;
    assert_page(&answer, StatusCode::OK, &[LINK_RESENT_MESSAGE]);
    let fresh = link_mail(
        &server,
        &next_mail(&smtp, "a fresh invitation").await,
        late,
        SUBJECT_INVITE,
    );
    set_password_via_link(
        &mut third,
        &fresh,
        SET_PASSWORD_INVITE_TITLE,
        THIRD_PASSWORD,
    )
    .await;
    assert!(has_password(&server, late).await);

    // An unknown token: 400, no resend form.
    let mut fourth = Browser::new(&server.base_url);
    for url in [
        server.url("/password/set?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        server.url("/password/set"),
    ] {
        let unknown = fourth.get(&url).await;
        assert_page(&unknown, StatusCode::BAD_REQUEST, &[LINK_UNKNOWN_TITLE]);
        assert!(resend_form(&unknown).is_none(), "no resend form: {url}");
        assert!(set_password_form_absent(&unknown));
    }
    // A resend for an unknown token answers the same neutral page and sends nothing.
    let csrf_page = fourth.get(&server.url("/password/forgot")).await;
    let csrf = Form::find(&csrf_page, "form[action=\"/password/forgot\"]")
        .and_then(|f| f.get("csrf").map(str::to_string))
        .expect("a CSRF token");
    let answer = fourth
        .post_form(
            &server.url("/password/resend"),
            &[
                ("csrf".into(), csrf),
                ("token".into(), "not-a-token".into()),
            ],
        )
        .await;
    assert_page(&answer, StatusCode::OK, &[LINK_RESENT_MESSAGE]);
    assert_no_mail(&smtp, "a resend for an unknown token").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Forgot password: neutral answer, no email for unknown addresses, throttling per address
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn forgot_password_answers_neutrally_sends_only_to_accounts_and_throttles_per_address() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let email = "dora.dahl@example.se";
    server.create_user(email, "Dora Dahl", PASSWORD).await;
    let mut browser = Browser::new(&server.base_url);

    // The login page offers "Glömt lösenord?".
    let login = browser.get(&server.url("/login?next=%2Faccount")).await;
    assert!(
        html_links(&login.body)
            .iter()
            .any(|href| href.starts_with("/password/forgot")),
        "the login page links to /password/forgot:\n{}",
        login.body
    );

    let known = forgot(&mut browser, &server, email).await;
    assert_page(
        &known,
        StatusCode::OK,
        // The validity follows account.reset_ttl (3600 s by default).
        &[
            FORGOT_SENT_TITLE,
            FORGOT_SENT_MESSAGE,
            "Länken gäller i 60 minuter.",
        ],
    );
    let mail = next_mail(&smtp, "the reset email").await;
    let link = link_mail(&server, &mail, email, SUBJECT_RESET);
    let page = Browser::new(&server.base_url).get(&link).await;
    assert_page(&page, StatusCode::OK, &[SET_PASSWORD_RESET_TITLE, email]);

    // An unknown address: the same page, and no email.
    let unknown = forgot(&mut browser, &server, "nobody@example.se").await;
    assert_eq!(unknown.status, known.status);
    assert_eq!(
        without_csrf_values(&unknown.body),
        without_csrf_values(&known.body),
        "the same answer for an unknown address"
    );
    assert_eq!(unknown.header("content-type"), known.header("content-type"));
    assert_no_mail(&smtp, "an unknown address").await;

    // Throttling per address: up to max_resets_per_address emails, then the same page and none.
    let limit = server.state.config.account.max_resets_per_address;
    assert!(limit >= 2, "the default allows a few resets");
    let mut latest = link;
    for n in 2..=limit {
        let answer = forgot(&mut browser, &server, email).await;
        assert_eq!(
            without_csrf_values(&answer.body),
            without_csrf_values(&known.body)
        );
        let mail = next_mail(&smtp, &format!("reset email {n} of {limit}")).await;
        latest = link_mail(&server, &mail, email, SUBJECT_RESET);
    }
    for _ in 0..2 {
        let answer = forgot(&mut browser, &server, email).await;
        assert_eq!(answer.status, known.status);
        assert_eq!(
            without_csrf_values(&answer.body),
            without_csrf_values(&known.body),
            "a throttled request gets the same page"
        );
    }
    assert_no_mail(&smtp, "throttled reset requests").await;
    // The throttle is per address: another account still gets its email.
    let other = "erik.ek@example.se";
    server.create_user(other, "Erik Ek", PASSWORD).await;
    forgot(&mut browser, &server, other).await;
    let mail = next_mail(&smtp, "another address's reset email").await;
    link_mail(&server, &mail, other, SUBJECT_RESET);

    // The latest link works.
    let mut resetter = Browser::new(&server.base_url);
    set_password_via_link(
        &mut resetter,
        &latest,
        SET_PASSWORD_RESET_TITLE,
        NEW_PASSWORD,
    )
    .await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 4. A reset ends every old session and token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reset_ends_old_sessions_and_tokens_notifies_and_logs_in() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let app = app(&server).await;
    let email = "frida.falk@example.se";
    let sub = server.create_user(email, "Frida Falk", PASSWORD).await;

    let mut a = Browser::new(&server.base_url);
    let (tokens, got_sub) = rp_login(&app, &mut a, email, PASSWORD).await;
    assert_eq!(got_sub, sub);
    let refresh = tokens.refresh_token().expect("refresh token").clone();
    let access = tokens.access_token().secret().clone();
    let info = userinfo_request(&server.base_url, &access).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.describe());
    assert_eq!(
        silent_authorize_error(&app, &mut a).await,
        None,
        "A has a session before the reset"
    );

    let mut b = Browser::new(&server.base_url);
    let answer = forgot(&mut b, &server, email).await;
    assert_page(&answer, StatusCode::OK, &[FORGOT_SENT_TITLE]);
    let link = link_mail(
        &server,
        &next_mail(&smtp, "the reset email").await,
        email,
        SUBJECT_RESET,
    );
    set_password_via_link(&mut b, &link, SET_PASSWORD_RESET_TITLE, NEW_PASSWORD).await;

    // A's session, refresh token and access token are dead.
    assert_eq!(
        silent_authorize_error(&app, &mut a).await.as_deref(),
        Some("login_required"),
        "A's session ended with the reset"
    );
    assert_refresh_token_dead(&server, &app, &refresh).await;
    assert_access_token_dead(&server.base_url, &access).await;

    let notice = next_mail(&smtp, "the password-changed notice").await;
    assert_common_mail(&notice, email, SUBJECT_CHANGED);

    // B is logged in.
    let account = b.get(&server.url("/account")).await;
    assert_account_page(&account, "Frida Falk", email, &[]);

    // The old password no longer works; the new one does.
    let mut c = Browser::new(&server.base_url);
    let old = local_login(&mut c, &server, email, PASSWORD).await;
    assert_page(&old, StatusCode::UNAUTHORIZED, &[LOGIN_INVALID]);
    let (_, again) = rp_login(&app, &mut c, email, NEW_PASSWORD).await;
    assert_eq!(again, sub);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Byt lösenord in Mina uppgifter
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn change_password_keeps_this_session_ends_the_others_and_checks_csrf() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let app = app(&server).await;
    let email = "gustav.gren@example.se";
    server.create_user(email, "Gustav Gren", PASSWORD).await;

    // Another browser with a session and tokens through an app.
    let mut other = Browser::new(&server.base_url);
    let (other_tokens, _) = rp_login(&app, &mut other, email, PASSWORD).await;
    let other_refresh = other_tokens.refresh_token().expect("refresh").clone();

    // This browser: log in and open Mina uppgifter.
    let mut browser = Browser::new(&server.base_url);
    let login = local_login(&mut browser, &server, email, PASSWORD).await;
    assert_redirect_to_account(&login);
    let account = browser.get(&server.url("/account")).await;
    assert_account_page(&account, "Gustav Gren", email, &["Byt lösenord"]);
    let form = Form::find(&account, "form[action=\"/account/password\"]")
        .expect("the change-password form");
    let filled = |current: &str, new: &str, confirmation: &str| {
        let mut form = form.clone();
        form.set("current_password", current);
        form.set("new_password", new);
        form.set("confirm_password", confirmation);
        form
    };
    let hash_before = password_hash_of(&server, email).await;

    // CSRF: without the field, and with a wrong one: an error page, nothing changed.
    let mut no_csrf = filled(PASSWORD, NEW_PASSWORD, NEW_PASSWORD);
    no_csrf.fields.retain(|(k, _)| k != "csrf");
    let answer = browser
        .post_form(no_csrf.action.as_str(), &no_csrf.fields)
        .await;
    assert_page(&answer, StatusCode::BAD_REQUEST, &[INVALID_CSRF]);
    let mut wrong_csrf = filled(PASSWORD, NEW_PASSWORD, NEW_PASSWORD);
    wrong_csrf.set("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let answer = browser
        .post_form(wrong_csrf.action.as_str(), &wrong_csrf.fields)
        .await;
    assert_page(&answer, StatusCode::BAD_REQUEST, &[INVALID_CSRF]);
    assert_eq!(
        password_hash_of(&server, email).await,
        hash_before,
        "a request without a valid CSRF token changes nothing"
    );

    // The wrong current password.
    let wrong = filled("Fel-lösenord-helt-klart-9", NEW_PASSWORD, NEW_PASSWORD);
    let answer = browser
        .post_form(wrong.action.as_str(), &wrong.fields)
        .await;
    assert_page(&answer, StatusCode::BAD_REQUEST, &[CURRENT_PASSWORD_WRONG]);
    // A weak new password.
    let weak = filled(PASSWORD, "leasify123456", "leasify123456");
    let answer = browser.post_form(weak.action.as_str(), &weak.fields).await;
    assert_page(&answer, StatusCode::BAD_REQUEST, &[PASSWORD_WEAK]);
    assert_eq!(password_hash_of(&server, email).await, hash_before);
    assert_no_mail(&smtp, "no password was changed yet").await;
    assert_eq!(
        silent_authorize_error(&app, &mut other).await,
        None,
        "the other browser still has its session"
    );

    // Success.
    let good = filled(PASSWORD, NEW_PASSWORD, NEW_PASSWORD);
    let done = browser.post_form(good.action.as_str(), &good.fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    let location = done.location().expect("Location");
    assert_eq!(location.path(), "/account");
    assert_eq!(
        query_params(&location).get("notice").map(String::as_str),
        Some("password"),
        "{location}"
    );
    let page = browser.follow(done).await;
    assert_page(&page, StatusCode::OK, &[PASSWORD_CHANGED_NOTICE]);
    assert_ne!(password_hash_of(&server, email).await, hash_before);

    // This session goes on; the other one and its refresh token are gone.
    let account = browser.get(&server.url("/account")).await;
    assert_account_page(&account, "Gustav Gren", email, &[]);
    assert_eq!(
        silent_authorize_error(&app, &mut other).await.as_deref(),
        Some("login_required"),
        "the other browser's session ended"
    );
    assert_refresh_token_dead(&server, &app, &other_refresh).await;

    let notice = next_mail(&smtp, "the password-changed notice").await;
    assert_common_mail(&notice, email, SUBJECT_CHANGED);

    // Old password out, new password in.
    let mut fresh = Browser::new(&server.base_url);
    let old = local_login(&mut fresh, &server, email, PASSWORD).await;
    assert_page(&old, StatusCode::UNAUTHORIZED, &[LOGIN_INVALID]);
    let new = local_login(&mut fresh, &server, email, NEW_PASSWORD).await;
    assert_redirect_to_account(&new);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Mina uppgifter asks for a login first and returns there
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn account_page_requires_a_login_and_returns_there() {
    let (server, _smtp) = TestServer::start_with_smtp().await;
    let email = "hanna.holm@example.se";
    server.create_user(email, "Hanna Holm", PASSWORD).await;
    let mut browser = Browser::new(&server.base_url);

    let first = browser.get(&server.url("/account")).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.describe());
    assert_eq!(
        first.header("location"),
        Some("/login?next=%2Faccount"),
        "{}",
        first.describe()
    );
    let login_page = browser.follow(first).await;
    assert_eq!(login_page.status, StatusCode::OK);
    let mut form = login_page.login_form().expect("a login form");
    assert_eq!(form.get("next"), Some("/account"));
    form.set("email", email);
    form.set("password", PASSWORD);
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_redirect_to_account(&done);
    let account = browser.follow(done).await;
    assert_account_page(&account, "Hanna Holm", email, &[]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 7. An SMTP outage delays the email; it arrives exactly once
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn smtp_refusals_delay_the_email_which_then_arrives_exactly_once() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let email = "ivar.isaksson@example.se";
    smtp.set_refuse_next(2);
    invite(&server, email, "Ivar Isaksson").await;

    // Move the clock past each backoff and wake the sender until the message is through.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut step = server.state.config.mail.retry_base;
    let mail = loop {
        if let Some(mail) = smtp.next_message(Duration::from_millis(500)).await {
            break mail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the invitation never arrived; outbox: {:?}",
            server.state.store.list_outbox(10).await
        );
        server.clock.advance(step);
        step = (step * 2).min(server.state.config.mail.retry_max);
        server.state.mail_wakeup.notify_one();
    };
    link_mail(&server, &mail, email, SUBJECT_INVITE);

    // Exactly once: keep the sender busy for a while longer and count.
    for _ in 0..4 {
        server.clock.advance(server.state.config.mail.retry_max);
        server.state.mail_wakeup.notify_one();
        if let Some(extra) = smtp.next_message(Duration::from_secs(1)).await {
            panic!("a second delivery: {:?}", extra.subject());
        }
    }
    let delivered = smtp
        .received()
        .iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == email))
        .count();
    assert_eq!(delivered, 1, "delivered exactly once");

    let outbox = server.state.store.list_outbox(10).await.expect("outbox");
    let row = outbox
        .iter()
        .find(|row| row.recipient == email)
        .unwrap_or_else(|| panic!("the invitation is in the outbox: {outbox:?}"));
    assert_eq!(row.kind, "invite");
    assert_eq!(row.status, "sent", "{row:?}");
    assert_eq!(
        row.attempts, 2,
        "both refused attempts are recorded: {row:?}"
    );
    assert!(
        row.last_error.as_deref().is_some_and(|e| e.contains("451")),
        "the SMTP refusal is recorded: {row:?}"
    );
    assert!(row.sent_at.is_some(), "{row:?}");
    assert!(
        row.sealed_message.is_empty(),
        "the content is erased once sent"
    );
    assert_eq!(outbox.len(), 1, "one message only: {outbox:?}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 8. Inviting an existing address re-sends; the user list shows who has no password yet
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn inviting_an_existing_address_resends_and_the_list_shows_who_has_no_password() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let email = "jonna.juhl@example.se";

    let first = invite(&server, email, "Jonna Juhl").await;
    assert_eq!(first.outcome, "invited");
    let first_link = link_mail(
        &server,
        &next_mail(&smtp, "the welcome email").await,
        email,
        SUBJECT_INVITE,
    );
    assert!(!has_password(&server, email).await);

    // The same address again (in other letters' case): re-sent, not an error, no second user.
    let again = invite(&server, "Jonna.Juhl@Example.se", "Jonna Juhl").await;
    assert_eq!(again.outcome, "resent");
    assert_eq!(again.user.id, first.user.id);
    let second_link = link_mail(
        &server,
        &next_mail(&smtp, "the re-sent welcome email").await,
        email,
        SUBJECT_INVITE,
    );
    assert_ne!(second_link, first_link);
    let listed = users::list(&server.state).await.expect("list");
    assert_eq!(
        listed.iter().filter(|u| u.email == email).count(),
        1,
        "one account: {listed:?}"
    );
    assert!(!has_password(&server, email).await);

    let mut browser = Browser::new(&server.base_url);
    set_password_via_link(
        &mut browser,
        &second_link,
        SET_PASSWORD_INVITE_TITLE,
        PASSWORD,
    )
    .await;
    assert!(has_password(&server, email).await);
    assert_no_mail(&smtp, "setting the first password sends no notice").await;

    // Once the password is set, a re-invitation sends a reset link.
    let third = invite(&server, email, "Jonna Juhl").await;
    assert_eq!(third.outcome, "resent");
    assert!(third.user.has_password);
    link_mail(
        &server,
        &next_mail(&smtp, "the re-invitation of a user with a password").await,
        email,
        SUBJECT_RESET,
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 9. "Glömt lösenord?" from an app's login page leads back to the app
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn forgot_password_from_an_apps_login_returns_to_the_app() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let app = app(&server).await;
    let email = "karin.kvist@example.se";
    let sub = server.create_user(email, "Karin Kvist", PASSWORD).await;

    let authorization = app.rp.authorization(&["email"], true, |r| r);
    let mut browser = Browser::new(&server.base_url);
    let login = browser.navigate(authorization.url.as_str()).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.describe());
    let req = login
        .login_form()
        .and_then(|f| f.get("req").map(str::to_string))
        .expect("the login page carries the app's request");
    let forgot_href = html_links(&login.body)
        .into_iter()
        .find(|href| href.starts_with("/password/forgot"))
        .unwrap_or_else(|| panic!("a \"Glömt lösenord?\" link:\n{}", login.body));
    let page = browser.get(&server.url(&forgot_href)).await;
    let mut form = Form::find(&page, "form[action=\"/password/forgot\"]")
        .unwrap_or_else(|| panic!("the forgot-password form:\n{}", page.describe()));
    assert_eq!(
        form.get("req"),
        Some(req.as_str()),
        "the form keeps the request"
    );
    form.set("email", email);
    let answer = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_page(&answer, StatusCode::OK, &[FORGOT_SENT_TITLE]);

    let link = link_mail(
        &server,
        &next_mail(&smtp, "the reset email").await,
        email,
        SUBJECT_RESET,
    );
    let page = browser.get(&link).await;
    assert_page(&page, StatusCode::OK, &[SET_PASSWORD_RESET_TITLE]);
    let done = submit_new_password(&mut browser, &page, NEW_PASSWORD, NEW_PASSWORD).await;
    let callback = common::client_redirect(&done);
    let (_, claims) = app.rp.complete(authorization, &callback).await;
    assert_eq!(claims.subject().as_str(), sub);
    let notice = next_mail(&smtp, "the password-changed notice").await;
    assert_common_mail(&notice, email, SUBJECT_CHANGED);
    server.stop().await;
}

//! The console's overview over real HTTP: real logins (and a failed one) counted hour by hour in
//! the chart's table of numbers; a failed email listed and sent again over real SMTP; a failed
//! back-channel logout delivered again with a fresh token; the retry a change like any other
//! (CSRF token, recent login, audited with the person as actor); support sees the page without
//! the signing keys, and a customer is refused.

use std::time::Duration;

use reqwest::StatusCode;
use scraper::{Html, Selector};

use crate::common::{Browser, Form, Response, TestServer, jwt_claims};
use leasify_id::admin::roles::{self, Role};
use leasify_id::admin::{activity_chart, users};
use leasify_id::audit::{Caller, kinds};
use leasify_id::clock::Clock;
use leasify_id::render::activity::swedish_time;
use leasify_id::store::{AuditQuery, BackchannelDelivery, OutboxEmail};

const PASSWORD: &str = "Blåbärssylt-på-taket-42";
const ADMIN: &str = "admin@leasify.se";
const CUSTOMER: &str = "karin@kund.se";
/// Upper bound for what happens at once (never reached when the code works).
const EVENTUALLY: Duration = Duration::from_secs(20);

/// A user with a password and, if given, a role in the console; returns their id.
async fn person(server: &TestServer, email: &str, role: Option<Role>) -> String {
    let id = server
        .create_user(email, "Person Personsson", PASSWORD)
        .await;
    if let Some(role) = role {
        roles::grant(&server.state, &Caller::system(), &id, role)
            .await
            .expect("role granted");
    }
    id
}

/// Logs in with `password` on our own login page, reached by opening `path`; returns the browser
/// and the page the login ended on.
async fn log_in_at(
    server: &TestServer,
    email: &str,
    password: &str,
    path: &str,
) -> (Browser, Response) {
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url(path)).await;
    let page = submit_login(&mut browser, &page, email, password).await;
    (browser, page)
}

async fn submit_login(
    browser: &mut Browser,
    page: &Response,
    email: &str,
    password: &str,
) -> Response {
    let mut form = Form::find(page, "form[action='/login']")
        .unwrap_or_else(|| panic!("a login form:\n{}", page.describe()));
    form.set("email", email);
    form.set("password", password);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    browser.follow(response).await
}

/// An administrator with `role`, logged in at the overview.
async fn at_the_overview(server: &TestServer, role: Role) -> (Browser, String, Response) {
    let id = person(server, ADMIN, Some(role)).await;
    let (browser, page) = log_in_at(server, ADMIN, PASSWORD, "/admin").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert_eq!(page.url.path(), "/admin");
    (browser, id, page)
}

fn location(response: &Response) -> String {
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.describe()
    );
    let url = response.location().expect("a Location");
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

/// Password, BankID and failed logins.
type Counts = (i64, i64, i64);

/// The rows of the chart's table of numbers (the hour and its counts), and the totals.
fn login_numbers(page: &Response) -> (Vec<(String, Counts)>, Counts) {
    let document = Html::parse_document(&page.body);
    let row = |tr: scraper::ElementRef| {
        let cells: Vec<String> = tr
            .select(&Selector::parse("th, td").unwrap())
            .map(|c| c.text().collect::<String>().trim().to_string())
            .collect();
        let n = |i: usize| cells[i].parse::<i64>().expect("a number");
        (cells[0].clone(), (n(1), n(2), n(3)))
    };
    let rows = document
        .select(&Selector::parse("#login-numbers tbody tr").unwrap())
        .map(row)
        .collect();
    let total = document
        .select(&Selector::parse("#login-numbers tfoot tr").unwrap())
        .map(row)
        .next()
        .expect("a row of totals");
    (rows, total.1)
}

fn text_of(page: &Response, selector: &str) -> String {
    let document = Html::parse_document(&page.body);
    document
        .select(&Selector::parse(selector).unwrap())
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn real_logins_are_counted_per_hour_in_the_chart_numbers() {
    let server = TestServer::start().await;
    person(&server, CUSTOMER, None).await;
    // Thirty seconds before the next hour starts.
    let now = server.clock.now();
    server.clock.advance(3600 - now.rem_euclid(3600) - 30);
    let first_hour = server.clock.now() / 3600 * 3600;

    // In the first hour: a login, and a wrong password.
    let (_, account) = log_in_at(&server, CUSTOMER, PASSWORD, "/account").await;
    assert_eq!(account.url.path(), "/account", "{}", account.describe());
    let (_, refused) = log_in_at(&server, CUSTOMER, "fel lösenord", "/account").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // In the next: the customer again, and the administrator at the console.
    server.clock.advance(60);
    let second_hour = first_hour + 3600;
    log_in_at(&server, CUSTOMER, PASSWORD, "/account").await;
    let (mut browser, _, page) = at_the_overview(&server, Role::Admin).await;

    let (rows, total) = login_numbers(&page);
    assert_eq!(
        rows,
        [
            (swedish_time(first_hour), (1, 0, 1)),
            (swedish_time(second_hour), (2, 0, 0)),
        ],
        "{}",
        page.body
    );
    assert_eq!(total, (3, 0, 1));
    // The legend says the same, and the chart is an accessible image drawn in the page.
    let legend = text_of(&page, ".chart-legend");
    assert!(
        legend.contains("Lösenord: 3") && legend.contains("BankID: 0"),
        "{legend}"
    );
    assert!(legend.contains("Misslyckade: 1"), "{legend}");
    assert!(
        page.body.contains(
            r#"<title id="logins-chart-title">Inloggningar per timme, senaste sju dagarna</title>"#
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"role="img""#));
    assert_eq!(page.body.matches("<polyline ").count(), 3);

    // In English, the same numbers.
    let english = browser.get(&server.url("/admin?lang=en")).await;
    assert!(
        english.body.contains("<h1>Overview</h1>"),
        "{}",
        english.body
    );
    assert!(text_of(&english, ".chart-legend").contains("Password: 3"));
    assert_eq!(login_numbers(&english).1, (3, 0, 1));

    // Seven days on, the first hour has left the chart and the second is its first.
    server.clock.advance(7 * 24 * 3600 - 3600);
    let week = activity_chart::last_week(&server.state).await.unwrap();
    assert_eq!(week.len(), 7 * 24);
    assert_eq!(week[0].hour, second_hour);
    assert_eq!(
        (week[0].password, week[0].bankid, week[0].failed),
        (2, 0, 0)
    );
    assert!(
        week[1..]
            .iter()
            .all(|h| h.password + h.bankid + h.failed == 0)
    );
}

/// The outbox row once the sender has given up on it.
async fn failed_email(server: &TestServer) -> OutboxEmail {
    tokio::time::timeout(EVENTUALLY, async {
        loop {
            let failed = server.state.store.failed_outbox(10).await.unwrap();
            if let Some(email) = failed.into_iter().next() {
                return email;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the email fails")
}

#[tokio::test]
async fn a_failed_email_is_listed_and_sent_again_by_the_retry_button() {
    let (server, smtp) = TestServer::start_with_smtp().await;
    let admin = person(&server, ADMIN, Some(Role::Admin)).await;
    smtp.set_permanent_reject(true);
    let customer = users::create(
        &server.state,
        &Caller::system(),
        users::NewUser {
            email: CUSTOMER.into(),
            name: "Karin Kund".into(),
            locale: "sv".into(),
            password: None,
            invite: true,
        },
    )
    .await
    .unwrap();
    server.state.mail_wakeup.notify_one();
    let email = failed_email(&server).await;
    assert_eq!(email.recipient, CUSTOMER);
    smtp.set_permanent_reject(false);

    let (mut browser, page) = log_in_at(&server, ADMIN, PASSWORD, "/admin").await;
    let listed = text_of(&page, "#failed-emails");
    assert!(listed.contains(CUSTOMER), "{}", page.body);
    assert!(listed.contains("550"), "the SMTP error: {listed}");
    assert_eq!(text_of(&page, "#outbox-failed"), "1");
    let action = format!("/admin/outbox/{}/retry", email.id);
    let form = Form::find(&page, &format!("form[action='{action}']"))
        .unwrap_or_else(|| panic!("a retry button:\n{}", page.body));

    // Without the page's CSRF token: refused, nothing retried.
    let mut forged = form.clone();
    forged.fields.retain(|(k, _)| k != "csrf");
    let refused = browser
        .post_form(form.action.as_str(), &forged.fields)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.describe()
    );
    let row = server
        .state
        .store
        .outbox_email(&email.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "failed");

    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(location(&done), "/admin?notice=email-retried&lang=sv");
    let shown = browser.follow(done).await;
    assert!(
        text_of(&shown, ".notice").contains("Mejlet ligger i kön igen"),
        "{}",
        shown.body
    );
    let mail = smtp
        .next_message(EVENTUALLY)
        .await
        .expect("the welcome email arrives after the retry");
    assert_eq!(mail.rcpt_to, vec![CUSTOMER.to_string()]);
    assert_eq!(
        mail.subject(),
        "Välkommen till Leasify – välj ditt lösenord"
    );
    let sent = tokio::time::timeout(EVENTUALLY, async {
        loop {
            let row = server
                .state
                .store
                .outbox_email(&email.id)
                .await
                .unwrap()
                .unwrap();
            if row.status == "sent" {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("recorded as sent");
    // It had failed once; the retry started its attempts over (a success is not counted).
    assert_eq!(email.attempts, 1);
    assert_eq!(sent.attempts, 0, "attempts start over");

    // Audited with the person as actor, about the customer (never their address).
    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            kind: Some(kinds::EMAIL_RETRIED.into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_type, "user");
    assert_eq!(events[0].actor_id.as_deref(), Some(admin.as_str()));
    assert_eq!(events[0].user_id.as_deref(), Some(customer.id.as_str()));
    assert!(
        !events[0].details.contains(CUSTOMER),
        "{}",
        events[0].details
    );

    // The same button again (an old tab): a clear notice, not an error page.
    let again = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(location(&again), "/admin?notice=not-failed&lang=sv");
    let shown = browser.follow(again).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        text_of(&shown, ".alert").contains("inte längre misslyckat"),
        "{}",
        shown.body
    );
    assert!(!shown.body.contains(&action), "nothing left to retry");
    assert_eq!(smtp.received().len(), 1, "sent once");
}

/// A failed email to `to`, as the sender leaves it after giving up.
async fn given_up_email(server: &TestServer, to: &str) -> OutboxEmail {
    let message = leasify_id::mail::EmailMessage {
        to: to.into(),
        to_name: "Karin Kund".into(),
        subject: "Hej".into(),
        text: "hej".into(),
        html: "<p>hej</p>".into(),
        locale: "sv".into(),
        action_link: None,
    };
    let mut email = leasify_id::account::emails::prepare_outbox(&server.state, "test", &message);
    // Stored as failed at once, so no sender can claim it first.
    email.status = "failed".into();
    email.attempts = 3;
    email.last_error = Some("550 mailbox unavailable".into());
    server.state.store.enqueue_email(&email).await.unwrap();
    email
}

#[tokio::test]
async fn a_retry_needs_a_recent_login_and_comes_back_to_the_overview() {
    let server = TestServer::start_with(|config| config.admin.step_up_minutes = 5).await;
    let (mut browser, _, _) = at_the_overview(&server, Role::Admin).await;
    let email = given_up_email(&server, CUSTOMER).await;
    server.clock.advance(5 * 60 + 1);

    let page = browser.get(&server.url("/admin")).await;
    let action = format!("/admin/outbox/{}/retry", email.id);
    let form = Form::find(&page, &format!("form[action='{action}']"))
        .unwrap_or_else(|| panic!("a retry button:\n{}", page.body));
    let asked = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(location(&asked), "/login?next=%2Fadmin&reauth=1&lang=sv");
    let row = server
        .state
        .store
        .outbox_email(&email.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "failed", "not retried yet");

    let login = browser.follow(asked).await;
    let back = submit_login(&mut browser, &login, ADMIN, PASSWORD).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.describe());
    assert_eq!(back.url.path(), "/admin");
    let form = Form::find(&back, &format!("form[action='{action}']")).unwrap();
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(location(&done), "/admin?notice=email-retried&lang=sv");
    let row = server
        .state
        .store
        .outbox_email(&email.id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(row.status, "failed", "{row:?}");
}

#[tokio::test]
async fn support_sees_the_overview_without_the_keys_and_retries_only_emails() {
    let server = TestServer::start().await;
    let (mut browser, _, page) = at_the_overview(&server, Role::Support).await;
    assert!(page.body.contains("<h1>Översikt</h1>"), "{}", page.body);
    assert!(page.body.contains(r#"class="chart""#));
    assert!(!page.body.contains("key-status"), "{}", page.body);
    assert!(!page.body.contains("/admin/keys"), "no way to the keys");

    let admin_view = {
        let server = TestServer::start().await;
        let (_, _, page) = at_the_overview(&server, Role::Admin).await;
        page
    };
    assert!(
        text_of(&admin_view, "#key-status").contains("Signerar nu"),
        "{}",
        admin_view.body
    );
    assert!(admin_view.body.contains(r#"href="/admin/keys?lang=sv""#));

    // An email waiting for its next attempt since three hours: the queue's depth and age.
    let mut waiting = given_up_email(&server, "nora@kund.se").await;
    waiting.id = format!("{}-waiting", waiting.id);
    waiting.status = "pending".into();
    waiting.created_at = server.clock.now() - 3 * 3600 - 59;
    waiting.next_attempt_at = server.clock.now() + 24 * 3600;
    server.state.store.enqueue_email(&waiting).await.unwrap();

    // An email may be sent again by support; a logout to an app may not.
    let email = given_up_email(&server, CUSTOMER).await;
    let page = browser.get(&server.url("/admin")).await;
    assert_eq!(text_of(&page, "#outbox-pending"), "1");
    assert!(
        text_of(&page, "#outbox-heading + dl").contains("(för 3 timmar sedan)"),
        "{}",
        page.body
    );
    assert_eq!(text_of(&page, "#outbox-failed"), "2");
    let form = Form::find(
        &page,
        &format!("form[action='/admin/outbox/{}/retry']", email.id),
    )
    .expect("support may retry an email");
    let refused = browser
        .post_form(&server.url("/admin/backchannel/d-1/retry"), &form.fields)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "{}",
        refused.describe()
    );
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(location(&done), "/admin?notice=email-retried&lang=sv");
}

#[tokio::test]
async fn a_customer_is_refused_the_overview_and_its_retries() {
    let server = TestServer::start().await;
    person(&server, CUSTOMER, None).await;
    let email = given_up_email(&server, CUSTOMER).await;
    let (mut browser, account) = log_in_at(&server, CUSTOMER, PASSWORD, "/account").await;
    let csrf = Form::find(&account, "form[action='/account/profile']")
        .and_then(|f| f.get("csrf").map(str::to_string))
        .expect("a CSRF token");
    let page = browser.get(&server.url("/admin")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.describe());
    assert!(!page.body.contains("Översikt"), "{}", page.body);
    let fields = vec![
        ("csrf".to_string(), csrf),
        ("lang".to_string(), "sv".to_string()),
    ];
    for path in [
        format!("/admin/outbox/{}/retry", email.id),
        "/admin/backchannel/d-1/retry".to_string(),
    ] {
        let refused = browser.post_form(&server.url(&path), &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "POST {path}");
    }
    let row = server
        .state
        .store
        .outbox_email(&email.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "failed");
}

/// A relying party's back-channel logout endpoint that records the logout tokens it is sent.
async fn backchannel_receiver() -> (tokio::sync::mpsc::UnboundedReceiver<String>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |body: axum::body::Bytes| {
        let tx = tx.clone();
        async move {
            if let Some((_, token)) =
                url::form_urlencoded::parse(&body).find(|(k, _)| k == "logout_token")
            {
                let _ = tx.send(token.into_owned());
            }
            axum::http::StatusCode::OK
        }
    };
    let app = axum::Router::new().route("/backchannel", axum::routing::post(handler));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (rx, format!("http://127.0.0.1:{}/backchannel", addr.port()))
}

/// An unsigned stand-in for the logout token queued at logout: only its claims are read again.
fn expired_logout_token(client_id: &str, user_id: &str, sid: &str, exp: i64) -> String {
    use base64::Engine;
    let encode = |json: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    };
    format!(
        "{}.{}.c2ln",
        encode(serde_json::json!({"alg": "RS256", "typ": "logout+jwt"})),
        encode(serde_json::json!({"aud": client_id, "sub": user_id, "sid": sid, "exp": exp}))
    )
}

#[tokio::test]
async fn a_failed_backchannel_logout_is_delivered_again_with_a_fresh_token() {
    let server = TestServer::start().await;
    let (mut tokens, uri) = backchannel_receiver().await;
    let client = leasify_id::admin::clients::create(
        &server.state,
        leasify_id::admin::clients::NewClient {
            name: "Hyresportalen".into(),
            redirect_uris: vec!["https://rp.example/callback".into()],
            backchannel_logout_uri: Some(uri.clone()),
            backchannel_logout_session_required: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let customer = person(&server, CUSTOMER, None).await;
    let (mut browser, admin, _) = at_the_overview(&server, Role::Admin).await;
    let queued_at = server.clock.now() - 3 * 24 * 3600;
    let delivery = BackchannelDelivery {
        id: "d-1".into(),
        client_id: client.client_id.clone(),
        uri,
        logout_token: expired_logout_token(&client.client_id, &customer, "sid-1", queued_at + 120),
        status: "failed".into(),
        attempts: 10,
        next_attempt_at: queued_at,
        locked_until: None,
        last_error: Some("connection failed".into()),
        created_at: queued_at,
    };
    server
        .state
        .store
        .end_session("sid-1", &[delivery], queued_at, &[])
        .await
        .unwrap();

    let page = browser.get(&server.url("/admin")).await;
    let listed = text_of(&page, "#failed-deliveries");
    assert!(listed.contains("Hyresportalen"), "{}", page.body);
    assert!(listed.contains("connection failed"), "{listed}");
    assert_eq!(text_of(&page, "#backchannel-failed"), "1");
    let form = Form::find(&page, "form[action='/admin/backchannel/d-1/retry']")
        .unwrap_or_else(|| panic!("a retry button:\n{}", page.body));
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(location(&done), "/admin?notice=backchannel-retried&lang=sv");

    let token = tokio::time::timeout(EVENTUALLY, tokens.recv())
        .await
        .expect("the logout token is delivered")
        .expect("the receiver runs");
    let claims = jwt_claims(&token);
    assert_eq!(claims["aud"], client.client_id.as_str());
    assert_eq!(claims["sub"], customer.as_str());
    assert_eq!(claims["sid"], "sid-1");
    let now = server.clock.now();
    assert!(
        claims["exp"].as_i64().is_some_and(|exp| exp > now),
        "{claims}"
    );
    assert_eq!(crate::common::jwt_header(&token)["typ"], "logout+jwt");

    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            kind: Some(kinds::BACKCHANNEL_RETRIED.into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_id.as_deref(), Some(admin.as_str()));
    assert_eq!(
        events[0].client_id.as_deref(),
        Some(client.client_id.as_str())
    );
}

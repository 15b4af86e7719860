//! What makes a deployment safe (issue 9), over real HTTP on the backend `LEASIFY_TEST_BACKEND`
//! selects: development shortcuts only in development, return-to values that stay on our origin,
//! throttling that holds under a burst and spares known browsers, a logout link that cannot log
//! someone else out, private files, HSTS, one live refresh chain, a sender that survives a poison
//! message over real SMTP, and a quick 503 (not a hang, not a 500) while the database is away.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::postgres::postgres_base_url;
use common::smtp::TestSmtpServer;
use common::*;
use leasify_id::mail::EmailMessage;
use reqwest::StatusCode;
use reqwest::header;

// ---------------------------------------------------------------------------------------------
// Development vs production
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_simulated_bankid_app_exists_only_in_simulator_mode() {
    let development = TestServer::start().await;
    assert_eq!(development.state.config.bankid.mode, "simulator");
    let mut browser = Browser::new(&development.base_url);
    let page = browser.get(&development.url("/dev/bankid")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());

    let disabled = TestServer::start_with(|config| config.bankid.mode = "disabled".into()).await;
    let mut browser = Browser::new(&disabled.base_url);
    for path in [
        "/dev/bankid",
        "/dev/bankid/api/orders",
        "/dev/bankid/api/identities",
    ] {
        let page = browser.get(&disabled.url(path)).await;
        assert_eq!(
            page.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            page.describe()
        );
    }
    let posted = plain_client()
        .post(disabled.url("/dev/bankid/api/approve"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(posted.status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_production_issuer_defaults_to_bankid_disabled() {
    let mut config = leasify_id::config::Config::defaults();
    config.issuer = "https://id.example.com".into();
    config.bankid.mode = String::new();
    config.resolve_defaults();
    assert_eq!(config.bankid.mode, "disabled");
    let mut config = leasify_id::config::Config::defaults();
    config.bankid.mode = String::new();
    config.resolve_defaults();
    assert_eq!(config.bankid.mode, "simulator", "loopback is development");
}

// ---------------------------------------------------------------------------------------------
// Return-to values
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_return_to_value_never_leaves_our_origin() {
    let server = TestServer::start().await;
    server
        .create_user("anna@example.se", "Anna", PASSWORD)
        .await;
    for next in [
        "/%09/evil.example",
        "/%0a/evil.example",
        "%2F%2Fevil.example",
        "/%5Cevil.example",
        "https://evil.example/account",
        "http%3A%2F%2Fevil.example",
    ] {
        let mut browser = Browser::new(&server.base_url);
        let page = browser
            .navigate(&server.url(&format!("/login?next={next}")))
            .await;
        let mut form = page.login_form().expect("login form");
        form.set("email", "anna@example.se");
        form.set("password", PASSWORD);
        let done = browser.post_form(form.action.as_str(), &form.fields).await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "{next}: {}",
            done.describe()
        );
        let location = done.header("location").expect("a redirect").to_string();
        assert_eq!(location, "/account", "{next} led to {location:?}");
    }
    // Our own pages are kept.
    let mut browser = Browser::new(&server.base_url);
    let page = browser
        .navigate(&server.url("/login?next=%2Faccount%3Flang%3Den"))
        .await;
    let mut form = page.login_form().expect("login form");
    form.set("email", "anna@example.se");
    form.set("password", PASSWORD);
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(done.header("location"), Some("/account?lang=en"));
}

// ---------------------------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------------------------

/// A browser on the login page (our own, back to Mina uppgifter), ready to submit.
async fn on_login_page(server: &TestServer, browser: &mut Browser) -> Form {
    let page = browser
        .navigate(&server.url("/login?next=%2Faccount"))
        .await;
    page.login_form().expect("login form")
}

async fn submit(browser: &mut Browser, mut form: Form, email: &str, password: &str) -> Response {
    form.set("email", email);
    form.set("password", password);
    browser.post_form(form.action.as_str(), &form.fields).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_wrong_passwords_gets_only_the_limit_through_to_argon2() {
    let server = TestServer::start().await;
    server
        .create_user("anna@example.se", "Anna", PASSWORD)
        .await;
    server.state.passwords.warm_up().await.expect("dummy hash");
    let limit = server.state.config.login.max_failures_per_account;
    assert_eq!(limit, 5);
    // 40 browsers, each on the login page, then all submit at once.
    let mut ready = Vec::new();
    for _ in 0..40 {
        let mut browser = Browser::new(&server.base_url);
        let form = on_login_page(&server, &mut browser).await;
        ready.push((browser, form));
    }
    let before = server.state.passwords.computed();
    let attempts: Vec<_> = ready
        .into_iter()
        .map(|(mut browser, form)| {
            tokio::spawn(async move {
                submit(&mut browser, form, "anna@example.se", "wrong password 1")
                    .await
                    .status
            })
        })
        .collect();
    let mut throttled = 0;
    for attempt in attempts {
        let status = attempt.await.expect("task");
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        throttled += usize::from(status == StatusCode::TOO_MANY_REQUESTS);
    }
    let hashed = server.state.passwords.computed() - before;
    assert!(hashed <= limit as usize, "{hashed} reached argon2");
    assert_eq!(
        throttled,
        40 - hashed,
        "every other attempt was refused unhashed"
    );
    // The right password at the end of the burst does not get through either (nor clear the
    // count): the account's budget is spent for browsers it does not know.
    let mut browser = Browser::new(&server.base_url);
    let form = on_login_page(&server, &mut browser).await;
    let late = submit(&mut browser, form, "anna@example.se", PASSWORD).await;
    assert_eq!(
        late.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        late.describe()
    );
    assert_eq!(server.state.passwords.computed() - before, hashed);
}

#[tokio::test]
async fn a_known_browser_keeps_its_own_budget_when_its_office_address_is_throttled() {
    let server = TestServer::start_with(|config| {
        config.login.max_failures_per_ip = 6;
        config.login.max_failures_per_account = 3;
    })
    .await;
    server
        .create_user("anna@example.se", "Anna", PASSWORD)
        .await;
    server.create_user("bo@example.se", "Bo", PASSWORD).await;

    // Anna logged in from this browser before: it holds a device cookie for her account.
    let mut annas = Browser::new(&server.base_url);
    let form = on_login_page(&server, &mut annas).await;
    let first = submit(&mut annas, form, "anna@example.se", PASSWORD).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.describe());
    assert!(annas.cookie("__Host-leasify-device").is_some());
    let cookie = first
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-leasify-device="))
        .expect("device cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("Path=/"));

    // An attacker in the same office (same address) guesses at both accounts until the address
    // and Anna's account are throttled for unknown browsers.
    for round in 0..4 {
        for email in ["anna@example.se", "bo@example.se"] {
            let mut attacker = Browser::new(&server.base_url);
            let form = on_login_page(&server, &mut attacker).await;
            submit(&mut attacker, form, email, &format!("guess {round}")).await;
        }
    }
    // A colleague's new browser: throttled by the address.
    let mut new_browser = Browser::new(&server.base_url);
    let form = on_login_page(&server, &mut new_browser).await;
    let refused = submit(&mut new_browser, form, "bo@example.se", PASSWORD).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.describe()
    );

    // Anna's own browser still logs her in (only its device cookie kept, no session).
    let device = annas
        .cookie("__Host-leasify-device")
        .expect("device cookie")
        .to_string();
    let mut annas = Browser::new(&server.base_url);
    annas.set_cookie("__Host-leasify-device", &device);
    let form = on_login_page(&server, &mut annas).await;
    let again = submit(&mut annas, form, "anna@example.se", PASSWORD).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.describe());
    assert_eq!(again.header("location"), Some("/account"));

    // A device cookie is worth nothing for another account.
    let form = on_login_page(&server, &mut annas).await;
    let other = submit(&mut annas, form, "bo@example.se", PASSWORD).await;
    assert_eq!(
        other.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        other.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Logout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_logout_link_with_someone_elses_id_token_asks_first() {
    let server = TestServer::start().await;
    let client = leasify_id::admin::clients::create(
        &server.state,
        leasify_id::admin::clients::NewClient {
            name: "Portal".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            post_logout_redirect_uris: vec!["https://rp.example.com/bye".into()],
            ..Default::default()
        },
    )
    .await
    .expect("client");
    let secret = client.client_secret.clone().expect("secret");
    server
        .create_user("victim@example.se", "Vera", PASSWORD)
        .await;
    server
        .create_user("attacker@example.se", "Adam", PASSWORD)
        .await;

    // The attacker gets an ID token of their own.
    let mut attacker = Browser::new(&server.base_url);
    let (code, verifier) = attacker
        .code_for(&client.client_id, "attacker@example.se", PASSWORD)
        .await;
    let tokens = token_request(
        &server.base_url,
        Some((&client.client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .json();
    let id_token = tokens["id_token"].as_str().expect("id token");

    // The victim is logged in and follows the attacker's link.
    let mut victim = Browser::new(&server.base_url);
    victim
        .code_for(&client.client_id, "victim@example.se", PASSWORD)
        .await;
    let link = format!(
        "/session/end?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Frp.example.com%2Fbye&state=x"
    );
    let page = victim.get(&server.url(&link)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert!(
        page.body.contains("en annan användare"),
        "a confirmation page: {}",
        page.describe()
    );
    let account = victim.get(&server.url("/account")).await;
    assert_eq!(
        account.status,
        StatusCode::OK,
        "still logged in: {}",
        account.describe()
    );

    // The attacker's own session with the same link is logged out at once.
    let own = attacker.get(&server.url(&link)).await;
    assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.describe());
    assert!(
        own.header("location")
            .is_some_and(|l| l.starts_with("https://rp.example.com/bye"))
    );
}

// ---------------------------------------------------------------------------------------------
// Files and headers
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
#[tokio::test]
async fn everything_in_the_data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    server
        .create_user("anna@example.se", "Anna", PASSWORD)
        .await;
    // An email in the development outbox (the file transport is the test server's default).
    leasify_id::account::invitations::invite(
        &server.state,
        &leasify_id::audit::Caller::system(),
        "bo@example.se",
        "Bo",
        "sv",
    )
    .await
    .expect("invited");
    // The server's own sender may have claimed the message first: wait until one of us wrote it.
    let outbox = server.state.config.outbox_dir();
    let written = || std::fs::read_dir(&outbox).is_ok_and(|mut d| d.next().is_some());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !written() && std::time::Instant::now() < deadline {
        leasify_id::workers::email::deliver_due(&server.state).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let data_dir = server.state.config.data_dir.clone();
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data_dir), 0o700, "{}", data_dir.display());
    let mut files = 0;
    let mut dirs = vec![data_dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                dirs.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(
        written(),
        "an .eml file was written to {}",
        outbox.display()
    );
    assert!(
        files >= 3,
        "database, secrets, simulator keys, outbox: {files} files"
    );
}

#[tokio::test]
async fn hsts_only_on_an_https_issuer() {
    let plain = TestServer::start().await;
    let response = plain_client()
        .get(plain.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("request");
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens
// ---------------------------------------------------------------------------------------------

async fn refresh(server: &TestServer, client: (&str, &str), token: &str) -> Response {
    token_request(
        &server.base_url,
        Some(client),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_refreshes_leave_one_live_chain() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Portal").await;
    server
        .create_user("anna@example.se", "Anna", PASSWORD)
        .await;
    let mut browser = Browser::new(&server.base_url);
    let (code, verifier) = browser
        .code_for(&client_id, "anna@example.se", PASSWORD)
        .await;
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
    .await
    .json();
    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    // Six refreshes of the same token at once (within the grace window): six successors.
    let server = Arc::new(server);
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let server = server.clone();
            let (client_id, secret, first) = (client_id.clone(), secret.clone(), first.clone());
            tokio::spawn(async move { refresh(&server, (&client_id, &secret), &first).await })
        })
        .collect();
    let mut successors = Vec::new();
    for handle in handles {
        let response = handle.await.expect("task");
        assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
        successors.push(
            response.json()["refresh_token"]
                .as_str()
                .expect("rt")
                .to_string(),
        );
    }
    // The client keeps one; using it revokes the five others.
    let kept = &successors[3];
    let next = refresh(&server, (&client_id, &secret), kept).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.describe());
    for (_, lost) in successors.iter().enumerate().filter(|(i, _)| *i != 3) {
        let refused = refresh(&server, (&client_id, &secret), lost).await;
        assert_token_error(&refused, 400, "invalid_grant");
    }
    // The surviving chain goes on: the grant was not revoked by the refused siblings.
    let next_token = next.json()["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    let after = refresh(&server, (&client_id, &secret), &next_token).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.describe());
}

// ---------------------------------------------------------------------------------------------
// Email never stops
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_poison_message_fails_alone_and_the_next_one_is_delivered_over_smtp() {
    let smtp = TestSmtpServer::start().await;
    let port = smtp.port();
    let server = TestServer::start_with(|config| {
        config.mail.transport = "smtp".into();
        config.mail.smtp_tls = "none".into();
        config.mail.smtp_host = "127.0.0.1".into();
        config.mail.smtp_port = port;
        config.mail.smtp_timeout = 5;
        config.mail.poll_interval = 1;
    })
    .await;
    // A message queued before names were checked: a line break in the display name makes the
    // mail library panic while it builds the message.
    let poison = leasify_id::account::emails::prepare_outbox(
        &server.state,
        "invite",
        &EmailMessage {
            to: "poison@example.se".into(),
            to_name: "Anna\r\nBcc: everyone@example.se".into(),
            subject: "Välkommen".into(),
            text: "hej".into(),
            html: "<p>hej</p>".into(),
            locale: "sv".into(),
            action_link: None,
        },
    );
    server
        .state
        .store
        .enqueue_email(&poison)
        .await
        .expect("queued");
    // Names are checked now: the same name is refused with a clear message.
    let refused = leasify_id::account::invitations::invite(
        &server.state,
        &leasify_id::audit::Caller::system(),
        "x@example.se",
        "A\r\nB",
        "sv",
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(leasify_id::account::AccountError::Rejected(
                "name-control-characters"
            ))
        ),
        "{refused:?}"
    );
    leasify_id::account::invitations::invite(
        &server.state,
        &leasify_id::audit::Caller::system(),
        "bo@example.se",
        "Bo Ek",
        "sv",
    )
    .await
    .expect("invited");
    let mail = smtp
        .next_message(Duration::from_secs(20))
        .await
        .expect("the invitation arrives after the poison message");
    assert_eq!(mail.rcpt_to, ["bo@example.se"]);
    // The poison message is failed with its reason, counted as an attempt.
    let deadline = Instant::now() + Duration::from_secs(10);
    let row = loop {
        let row = server
            .state
            .store
            .outbox_email(&poison.id)
            .await
            .expect("store")
            .expect("row");
        if row.status != "pending" || Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (row.status.as_str(), row.attempts),
        ("failed", 1),
        "{row:?}"
    );
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("panicked")),
        "{row:?}"
    );
    assert!(
        smtp.received()
            .iter()
            .all(|m| !m.data.contains("everyone@example.se"))
    );
}

// ---------------------------------------------------------------------------------------------
// Glömt lösenord?
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn forgot_password_does_the_same_work_whether_or_not_the_address_exists() {
    let server = TestServer::start().await;
    server
        .create_user("anna@example.se", "Anna", PASSWORD)
        .await;
    let mut answers = Vec::new();
    for email in ["anna@example.se", "nobody@example.se"] {
        let jobs_before = server.state.store.list_jobs(100).await.expect("jobs").len();
        let outbox_before = server
            .state
            .store
            .list_outbox(100)
            .await
            .expect("outbox")
            .len();
        let mut browser = Browser::new(&server.base_url);
        let page = browser.navigate(&server.url("/password/forgot")).await;
        let mut form = Form::find(&page, "form[action='/password/forgot']").expect("form");
        form.set("email", email);
        let answer = browser.post_form(form.action.as_str(), &form.fields).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.describe());
        // The request itself queued one job and no email, either way. The worker may already
        // have run the job: an email then exists only together with the job done (one
        // transaction), never without it.
        let jobs = server.state.store.list_jobs(100).await.expect("jobs");
        assert_eq!(jobs.len(), jobs_before + 1, "{email}");
        assert_eq!(jobs[0].kind, "password_reset_request");
        let outbox_now = server
            .state
            .store
            .list_outbox(100)
            .await
            .expect("outbox")
            .len();
        let job_now = server
            .state
            .store
            .job(&jobs[0].id)
            .await
            .expect("store")
            .expect("job");
        assert!(
            outbox_now == outbox_before || job_now.status == "done",
            "{email}: no email from the request itself"
        );
        answers.push(answer.body.replace(&page.body, ""));
        // The server's worker then finds out, and only a real account gets a link.
        let deadline = Instant::now() + Duration::from_secs(10);
        let job = loop {
            let job = server
                .state
                .store
                .job(&jobs[0].id)
                .await
                .expect("store")
                .expect("job");
            if job.status != "pending" || Instant::now() > deadline {
                break job;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(job.status, "done");
        assert!(job.payload.is_empty(), "the address is erased with the job");
    }
    let strip = |body: &str| {
        body.lines()
            .filter(|l| !l.contains("csrf"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&answers[0]), strip(&answers[1]), "the same answer");
    let outbox = server.state.store.list_outbox(100).await.expect("outbox");
    assert_eq!(
        outbox.iter().filter(|e| e.kind == "reset").count(),
        1,
        "one reset email, for the real account"
    );
    assert_eq!(outbox[0].recipient, "anna@example.se");
}

// ---------------------------------------------------------------------------------------------
// The database away
// ---------------------------------------------------------------------------------------------

/// Holds the SQLite file's write lock from another connection, as a stuck process would.
async fn lock_sqlite(server: &TestServer) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let path = server.state.config.data_dir.join("leasify-id.db");
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("a second connection");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut connection)
        .await
        .expect("the lock");
    connection
}

#[tokio::test]
async fn readiness_fails_quickly_while_sqlite_is_locked() {
    if backend() != Backend::Sqlite {
        return;
    }
    let server = TestServer::start().await;
    let ready = plain_client()
        .get(server.url("/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), StatusCode::OK);
    let lock = lock_sqlite(&server).await;
    let started = Instant::now();
    let ready = plain_client()
        .get(server.url("/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    // A write through a page: 503 with Retry-After, in about a second, not a 500.
    let mut browser = Browser::new(&server.base_url);
    let started = Instant::now();
    let form = on_login_page(&server, &mut browser).await;
    let answer = submit(&mut browser, form, "anna@example.se", "whatever it is").await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.describe()
    );
    assert_eq!(answer.header("retry-after"), Some("5"));
    assert!(
        answer.body.contains("tillfälligt otillgänglig"),
        "{}",
        answer.describe()
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    drop(lock);
    let ready = plain_client()
        .get(server.url("/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), StatusCode::OK);
}

/// A PostgreSQL database of its own that the test can take offline the way a restart does: new
/// connections refused, every open one terminated (a transaction in progress rolls back; one
/// committing completes and is acknowledged first).
struct OfflineDatabase {
    name: String,
    url: String,
}

impl OfflineDatabase {
    async fn create() -> OfflineDatabase {
        let name = format!("leasify_outage_{}", uuid::Uuid::new_v4().simple());
        admin(&format!("CREATE DATABASE {name}")).await;
        let base = postgres_base_url();
        let url = match base.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("{base} names no database"),
        };
        OfflineDatabase { name, url }
    }

    async fn take_offline(&self) {
        admin(&format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
            self.name
        ))
        .await;
        admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .await;
    }

    async fn bring_online(&self) {
        admin(&format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true",
            self.name
        ))
        .await;
    }

    async fn drop(self) {
        self.take_offline().await;
        admin(&format!("DROP DATABASE IF EXISTS {}", self.name)).await;
    }
}

/// Runs SQL as the test server's administrator (on the test database).
async fn admin(sql: &str) {
    use sqlx::Connection;
    let base = postgres_base_url();
    let mut connection = sqlx::PgConnection::connect(&base)
        .await
        .expect("the test PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The first tokens of a code flow for a new user of `client`.
async fn first_tokens(server: &TestServer, client: (&str, &str), email: &str) -> String {
    server.create_user(email, "Kund", PASSWORD).await;
    let mut browser = Browser::new(&server.base_url);
    let (code, verifier) = browser.code_for(client.0, email, PASSWORD).await;
    let tokens = token_request(
        &server.base_url,
        Some(client),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.describe());
    tokens.json()["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string()
}

/// What a refreshing client saw.
#[derive(Debug, Default)]
struct ChainLog {
    rotated: usize,
    unavailable: usize,
    slowest_unavailable: Duration,
}

/// Refreshes like a well-behaved client until `stop`: the new token after a 200, the same token
/// again after a 503 (as `Retry-After` asks, shortened for the test). Returns the last token and
/// what happened; panics if the chain is lost (any other answer).
async fn keep_refreshing(
    base_url: String,
    client: (String, String),
    mut token: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (String, ChainLog) {
    let mut log = ChainLog::default();
    while !*stop.borrow() {
        let started = Instant::now();
        let response = token_request(
            &base_url,
            Some((&client.0, &client.1)),
            &[("grant_type", "refresh_token"), ("refresh_token", &token)],
        )
        .await;
        match response.status {
            StatusCode::OK => {
                token = response.json()["refresh_token"]
                    .as_str()
                    .expect("rt")
                    .to_string();
                log.rotated += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(
                    response.header("retry-after").is_some(),
                    "{}",
                    response.describe()
                );
                assert_eq!(response.json()["error"], "temporarily_unavailable");
                log.unavailable += 1;
                log.slowest_unavailable = log.slowest_unavailable.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => panic!("the chain was lost: {}", response.describe()),
        }
    }
    (token, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_chains_survive_a_postgresql_outage_with_quick_503s() {
    if backend() != Backend::Postgres {
        return;
    }
    let database = OfflineDatabase::create().await;
    let url = database.url.clone();
    let server = TestServer::start_with(|config| config.database_url = url).await;
    let (client_id, secret) = server.create_client("Portal").await;
    let mut tokens = Vec::new();
    for n in 0..6 {
        let email = format!("kund{n}@example.se");
        tokens.push(first_tokens(&server, (&client_id, &secret), &email).await);
    }
    let (stop, signal) = tokio::sync::watch::channel(false);
    let chains: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            tokio::spawn(keep_refreshing(
                server.base_url.clone(),
                (client_id.clone(), secret.clone()),
                token,
                signal.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    database.take_offline().await;
    // While it is away: readiness says so, pages answer 503 quickly.
    let started = Instant::now();
    let ready = plain_client()
        .get(server.url("/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let authorize = authorize_url(
        &server.base_url,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
        ],
    );
    let page = Browser::new(&server.base_url).get(&authorize).await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.describe()
    );
    assert_eq!(page.header("retry-after"), Some("5"));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    database.bring_online().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(true).expect("stop");
    let mut total = ChainLog::default();
    for chain in chains {
        let (token, log) = chain.await.expect("the chain survived");
        // And it goes on.
        let next = refresh(&server, (&client_id, &secret), &token).await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.describe());
        total.rotated += log.rotated;
        total.unavailable += log.unavailable;
        total.slowest_unavailable = total.slowest_unavailable.max(log.slowest_unavailable);
    }
    assert!(total.unavailable > 0, "the outage was seen: {total:?}");
    assert!(
        total.rotated > 12,
        "refreshes went on before and after: {total:?}"
    );
    assert!(
        total.slowest_unavailable < Duration::from_millis(2500),
        "503s came quickly: {total:?}"
    );
    server.stop().await;
    database.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_chains_survive_a_locked_sqlite_file_with_quick_503s() {
    if backend() != Backend::Sqlite {
        return;
    }
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Portal").await;
    let mut tokens = Vec::new();
    for n in 0..6 {
        let email = format!("kund{n}@example.se");
        tokens.push(first_tokens(&server, (&client_id, &secret), &email).await);
    }
    let (stop, signal) = tokio::sync::watch::channel(false);
    let chains: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            tokio::spawn(keep_refreshing(
                server.base_url.clone(),
                (client_id.clone(), secret.clone()),
                token,
                signal.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lock = lock_sqlite(&server).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(lock);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.send(true).expect("stop");
    let mut unavailable = 0;
    for chain in chains {
        let (token, log) = chain.await.expect("the chain survived");
        let next = refresh(&server, (&client_id, &secret), &token).await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.describe());
        assert!(
            log.slowest_unavailable < Duration::from_millis(2500),
            "{log:?}"
        );
        unavailable += log.unavailable;
    }
    assert!(unavailable > 0, "the lock was felt");
}

/// Each passkey login options answer stores a ceremony for five minutes: an address that asks
/// without end is refused before it can fill the database.
#[tokio::test]
async fn passkey_login_options_are_limited_per_address() {
    let server = TestServer::start_on_localhost(|config| {
        config.login.max_failures_per_ip = 1;
    })
    .await;
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url("/login")).await;
    let form = Form::find(&page, "#passkey-login").expect("passkey login form");
    let options_url = server.url("/login/passkey/options");
    for _ in 0..leasify_id::login::passkey::LOGIN_OPTIONS_PER_ALLOWED_FAILURE {
        let answer = browser.post_form(&options_url, &form.fields).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.describe());
        assert!(answer.json()["challenge"].is_string());
    }
    let refused = browser.post_form(&options_url, &form.fields).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.describe()
    );
    assert_eq!(refused.json()["error"], "throttled");
}

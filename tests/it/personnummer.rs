//! The personnummer in Mina uppgifter: validated with a clear message, saved only after the
//! password is confirmed, shown masked, and never stored readable.

use crate::bankid_support;
use crate::common;

use common::smtp::TestSmtpServer;
use common::{Browser, Form, TestServer};
use reqwest::StatusCode;

const EMAIL: &str = "karin@example.se";
const PASSWORD: &str = "Blåbärssylt-på-taket-42";
/// 811228-9874: the worked example of the Luhn check digit.
const NUMBER: &str = "198112289874";

/// Logs in on our own login page (no app involved), which returns to Mina uppgifter.
async fn log_in(server: &TestServer, email: &str) -> Browser {
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url("/account")).await;
    let mut form = Form::find(&page, "form[action='/login']").expect("the login form");
    form.set("email", email);
    form.set("password", PASSWORD);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    let page = browser.follow(response).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert!(page.body.contains("Mina uppgifter"), "{}", page.describe());
    browser
}

async fn logged_in(server: &TestServer) -> Browser {
    server.create_user(EMAIL, "Karin Berg", PASSWORD).await;
    log_in(server, EMAIL).await
}

async fn submit(
    browser: &mut Browser,
    server: &TestServer,
    number: &str,
    password: &str,
    action: &str,
) -> common::Response {
    let page = browser.get(&server.url("/account")).await;
    let mut form =
        Form::find(&page, "form[action='/account/personnummer']").expect("the personnummer form");
    form.set("personnummer", number);
    form.set("password", password);
    form.fields.push(("action".into(), action.into()));
    browser.post_form(form.action.as_str(), &form.fields).await
}

#[tokio::test]
async fn personnummer_is_validated_confirmed_masked_and_sealed() {
    let server = TestServer::start().await;
    let mut browser = logged_in(&server).await;

    let bad_checksum = submit(&mut browser, &server, "811228-9875", PASSWORD, "save").await;
    assert_eq!(bad_checksum.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_checksum.body.contains("Personnumret stämmer inte"),
        "{}",
        bad_checksum.describe()
    );
    let bad_date = submit(&mut browser, &server, "19810230-1234", PASSWORD, "save").await;
    assert!(
        bad_date.body.contains("inget giltigt datum"),
        "{}",
        bad_date.describe()
    );
    let wrong_password = submit(&mut browser, &server, "811228-9874", "fel lösenord", "save").await;
    assert_eq!(wrong_password.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong_password
            .body
            .contains("Det nuvarande lösenordet stämmer inte")
    );
    let user = leasify_id::admin::users::find(&server.state, EMAIL)
        .await
        .expect("user");
    assert!(
        server
            .state
            .store
            .personnummer_of(&user.id)
            .await
            .expect("store")
            .is_none()
    );

    let saved = submit(&mut browser, &server, "811228-9874", PASSWORD, "save").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.describe());
    let page = browser.follow(saved).await;
    assert!(
        page.body.contains("1981****-****") && !page.body.contains("19811228"),
        "masked: {}",
        page.describe()
    );
    assert!(
        !page.body.contains(NUMBER) && !page.body.contains("9874"),
        "never shown in full"
    );

    // Stored sealed (with a blind index), never readable.
    let stored = server
        .state
        .store
        .personnummer_of(&user.id)
        .await
        .expect("store")
        .expect("saved");
    assert!(
        !stored
            .sealed
            .windows(NUMBER.len())
            .any(|w| w == NUMBER.as_bytes())
    );
    assert!(!stored.blind_index.contains(NUMBER));
    // Typed in, not verified by BankID: no BankID login can find the account through it.
    let found = server
        .state
        .store
        .verified_personnummer_by_index(&stored.blind_index)
        .await
        .expect("lookup");
    assert_eq!(found, None);
    if server.database_url.is_empty() {
        // SQLite: the raw database files hold no plain personnummer.
        for entry in std::fs::read_dir(&server.state.config.data_dir).expect("data dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("read");
                for needle in [NUMBER, "811228-9874", "8112289874"] {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                        "{needle} in {}",
                        path.display()
                    );
                }
            }
        }
    }

    // Another account typing the same number gets the answer any number gets: the page is no
    // way to find out whether a number has an account. Until BankID verifies it, neither holds it.
    server
        .create_user("other@example.se", "Other Person", PASSWORD)
        .await;
    let mut other = log_in(&server, "other@example.se").await;
    let same = submit(&mut other, &server, NUMBER, PASSWORD, "save").await;
    assert_eq!(same.status, StatusCode::SEE_OTHER, "{}", same.describe());
    let page = other.follow(same).await;
    assert!(page.body.contains("1981****-****"), "{}", page.describe());
    assert!(!page.body.contains("annat konto"), "{}", page.describe());

    let removed = submit(&mut browser, &server, "", PASSWORD, "remove").await;
    assert_eq!(
        removed.status,
        StatusCode::SEE_OTHER,
        "{}",
        removed.describe()
    );
    assert!(
        server
            .state
            .store
            .personnummer_of(&user.id)
            .await
            .expect("store")
            .is_none()
    );
}

#[tokio::test]
async fn reencrypt_moves_personnummer_to_the_new_active_key() {
    use base64::Engine;
    let key = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let server = TestServer::start_with(|config| {
        config.secrets.encryption_keys = [("k1".to_string(), key(1))].into_iter().collect();
        config.secrets.active_encryption_key = "k1".into();
        config.secrets.hmac_key = key(3);
        config.secrets.blind_index_key = key(4);
    })
    .await;
    let mut browser = logged_in(&server).await;
    let saved = submit(&mut browser, &server, "811228-9874", PASSWORD, "save").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.describe());

    // The operator adds k2, makes it active, and runs `leasify-id secrets reencrypt`.
    let mut config = server.state.config.clone();
    config.secrets.encryption_keys.insert("k2".into(), key(2));
    config.secrets.active_encryption_key = "k2".into();
    let overrides = leasify_id::state::Overrides {
        bankid: false,
        ..Default::default()
    };
    let rotated =
        leasify_id::state::build_with_store(config, server.state.store.clone(), overrides)
            .await
            .expect("state with the new key");
    let moved = leasify_id::identity::sealed::reencrypt_all(&rotated)
        .await
        .expect("reencrypt");
    assert_eq!(moved, 1);
    assert_eq!(
        leasify_id::identity::sealed::reencrypt_all(&rotated)
            .await
            .expect("again"),
        0
    );
    let user = leasify_id::admin::users::find(&server.state, EMAIL)
        .await
        .expect("user");
    let stored = server
        .state
        .store
        .personnummer_of(&user.id)
        .await
        .expect("store")
        .expect("saved");
    assert_eq!(
        leasify_id::crypto::SecretBox::key_id_of(&stored.sealed),
        Some("k2")
    );
    let opened = leasify_id::identity::sealed::personnummer_of(&rotated, &user.id)
        .await
        .expect("opens");
    assert_eq!(
        opened.map(|p| p.as_str().to_string()).as_deref(),
        Some(NUMBER)
    );
}

/// UserInfo for a fresh code with `scope`, through an already logged-in browser.
async fn userinfo_with_scope(
    server: &TestServer,
    browser: &mut Browser,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> serde_json::Value {
    let (challenge, verifier) = common::pkce_pair();
    let url = common::authorize_url(
        &server.base_url,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", common::REDIRECT_URI),
            ("scope", scope),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let callback = browser.authorize_silently(&url).await;
    let code = common::query_params(&callback)["code"].clone();
    let tokens = common::token_request(
        &server.base_url,
        Some((client_id, secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", common::REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let access = tokens.json()["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    common::userinfo_request(&server.base_url, &access)
        .await
        .json()
}

#[tokio::test]
async fn the_personnummer_claim_needs_a_verified_number_and_the_dedicated_scope() {
    let server = TestServer::start().await;
    server
        .create_user(bankid_support::EMAIL, bankid_support::NAME, PASSWORD)
        .await;
    let (mut browser, account) = bankid_support::account_with_personnummer(&server).await;
    let discovery = browser
        .get(&server.url("/.well-known/openid-configuration"))
        .await
        .json();
    assert!(
        discovery["scopes_supported"]
            .as_array()
            .expect("scopes")
            .iter()
            .any(|s| s == "personnummer")
    );

    let allowed = leasify_id::admin::clients::create(
        &server.state,
        leasify_id::admin::clients::NewClient {
            name: "Kreditprövning".into(),
            redirect_uris: vec![common::REDIRECT_URI.into()],
            post_logout_redirect_uris: vec![],
            public: false,
            scopes: vec!["openid".into(), "personnummer".into()],
            ..Default::default()
        },
    )
    .await
    .expect("client");
    let allowed_secret = allowed.client_secret.clone().expect("secret");
    let (plain_id, plain_secret) = server.create_client("Portal").await;

    // Typed in, not verified: the number says nothing about who the user is, so no app gets it.
    let typed_only = userinfo_with_scope(
        &server,
        &mut browser,
        &allowed.client_id,
        &allowed_secret,
        "openid personnummer",
    )
    .await;
    assert!(typed_only.get("ssn").is_none(), "{typed_only}");

    bankid_support::link_bankid(&server, &mut browser, &account).await;
    let claims = userinfo_with_scope(
        &server,
        &mut browser,
        &allowed.client_id,
        &allowed_secret,
        "openid personnummer",
    )
    .await;
    assert_eq!(claims["ssn"], bankid_support::PERSON, "{claims}");
    let not_asked = userinfo_with_scope(
        &server,
        &mut browser,
        &allowed.client_id,
        &allowed_secret,
        "openid",
    )
    .await;
    assert!(not_asked.get("ssn").is_none(), "{not_asked}");
    let not_allowed = userinfo_with_scope(
        &server,
        &mut browser,
        &plain_id,
        &plain_secret,
        "openid personnummer",
    )
    .await;
    assert!(not_allowed.get("ssn").is_none(), "{not_allowed}");
}

/// A server that delivers its mail over SMTP to a capturing server.
async fn server_with_smtp() -> (TestServer, TestSmtpServer) {
    let smtp = TestSmtpServer::start().await;
    let port = smtp.port();
    let server = TestServer::start_with(|config| {
        config.mail.transport = "smtp".into();
        config.mail.smtp_tls = "none".into();
        config.mail.smtp_host = "127.0.0.1".into();
        config.mail.smtp_port = port;
        config.mail.poll_interval = 1;
    })
    .await;
    (server, smtp)
}

#[tokio::test]
async fn a_typed_in_copy_cannot_block_the_owner_and_gives_way_to_bankid() {
    let (server, smtp) = server_with_smtp().await;
    // Someone types in the owner's number first.
    server
        .create_user("squatter@example.se", "Sven Squatter", PASSWORD)
        .await;
    let (_squatter, page) =
        bankid_support::log_in_and_add_personnummer(&server, "squatter@example.se", PASSWORD).await;
    assert!(page.body.contains("1999****-****"), "{}", page.describe());
    // The owner can still add it, and link it with BankID.
    let owner = server
        .create_user(bankid_support::EMAIL, bankid_support::NAME, PASSWORD)
        .await;
    let (mut browser, account) = bankid_support::account_with_personnummer(&server).await;
    assert!(account.body.contains("1999****-****"));
    bankid_support::link_bankid(&server, &mut browser, &account).await;

    // The typed-in copy is gone, and its account told so, without the number.
    let squatter = server
        .state
        .store
        .user_by_email("squatter@example.se")
        .await
        .expect("store")
        .expect("user");
    assert_eq!(
        server
            .state
            .store
            .personnummer_of(&squatter.id)
            .await
            .expect("store"),
        None
    );
    let notice = loop {
        let mail = smtp
            .next_message(std::time::Duration::from_secs(10))
            .await
            .expect("the squatter is told");
        if mail.rcpt_to == ["squatter@example.se"] {
            break mail;
        }
    };
    let subject = notice.subject();
    assert!(
        subject.contains("Personnumret har tagits bort"),
        "{subject}"
    );
    for text in [&notice.text(), &notice.html(), &subject] {
        for needle in [bankid_support::PERSON, "990807", "19990807", "2391"] {
            assert!(!text.contains(needle), "the email names the number: {text}");
        }
    }
    // The owner is the one BankID login finds.
    let stored = server
        .state
        .store
        .personnummer_of(&owner)
        .await
        .expect("store")
        .expect("stored");
    assert!(stored.bankid_linked_at.is_some());
    // The audit trail has it, for both accounts, with no number in it.
    let kinds_of = |events: &[leasify_id::store::AuditEvent]| {
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>()
    };
    let trail = |user_id: String| {
        let store = server.state.store.clone();
        async move {
            store
                .audit_events(&leasify_id::store::AuditQuery {
                    user_id: Some(user_id),
                    limit: 50,
                    ..Default::default()
                })
                .await
                .expect("audit")
        }
    };
    let owner_events = trail(owner.clone()).await;
    let owner_kinds = kinds_of(&owner_events);
    assert!(
        owner_kinds.contains(&"bankid.linked".to_string())
            && owner_kinds.contains(&"personnummer.added".to_string()),
        "{owner_kinds:?}"
    );
    let squatter_kinds = kinds_of(&trail(squatter.id.clone()).await);
    assert_eq!(
        squatter_kinds.first().map(String::as_str),
        Some("personnummer.removed"),
        "{squatter_kinds:?}"
    );
    for event in &owner_events {
        assert!(!event.details.contains("19990807"), "{event:?}");
    }

    // Typing the verified number on a third account answers like any number…
    server
        .create_user("third@example.se", "Tredje Person", PASSWORD)
        .await;
    let (mut third, page) =
        bankid_support::log_in_and_add_personnummer(&server, "third@example.se", PASSWORD).await;
    assert!(page.body.contains("1999****-****"), "{}", page.describe());
    assert!(!page.body.contains("annat konto"), "{}", page.describe());
    // …and only the number's holder, proven by BankID, learns that it is linked elsewhere.
    let order =
        bankid_support::start_order(&mut third, &page, "form[action='/account/bankid']").await;
    let next =
        bankid_support::approve_and_poll(&server, &mut third, &order, bankid_support::PERSON).await;
    let answer = third.get(&server.url(&next)).await;
    assert!(
        answer.body.contains("redan kopplat till ett annat konto"),
        "{}",
        answer.describe()
    );
    let third_user = server
        .state
        .store
        .user_by_email("third@example.se")
        .await
        .expect("store")
        .expect("user");
    assert_eq!(
        server
            .state
            .store
            .personnummer_of(&third_user.id)
            .await
            .expect("store")
            .expect("kept")
            .bankid_linked_at,
        None
    );
}

#[tokio::test]
async fn the_wrong_person_scanning_is_told_at_once() {
    let server = TestServer::start().await;
    server
        .create_user(bankid_support::EMAIL, bankid_support::NAME, PASSWORD)
        .await;
    let (mut browser, account) = bankid_support::account_with_personnummer(&server).await;
    assert!(
        account.body.contains("Visa QR-kod"),
        "the seed's words: {}",
        account.describe()
    );
    let order =
        bankid_support::start_order(&mut browser, &account, "form[action='/account/bankid']").await;
    let simulator = bankid_support::simulator(&server);
    let payload = simulator.current_qr_payload(&order).expect("a QR payload");
    simulator
        .scan(&payload, bankid_support::STRANGER)
        .expect("anyone may scan");
    simulator.approve(&order).expect("approved");
    server
        .clock
        .advance(server.state.config.bankid.collect_interval);
    let poll = browser
        .get(&server.url(&format!("/bankid/poll?order={order}")))
        .await
        .json();
    assert_eq!(poll["status"], "failed", "{poll}");
    assert!(
        poll["message"]
            .as_str()
            .is_some_and(|m| m.contains("Personnumret stämmer inte med det du angett")),
        "{poll}"
    );
    // Nothing of the stranger is kept, and nothing is linked.
    let stored = server
        .state
        .store
        .bankid_order(&order)
        .await
        .expect("store")
        .expect("order");
    assert_eq!(stored.completion_sealed, None);
    let user = server
        .state
        .store
        .user_by_email(bankid_support::EMAIL)
        .await
        .expect("store")
        .expect("user");
    assert_eq!(
        server
            .state
            .store
            .personnummer_of(&user.id)
            .await
            .expect("store")
            .expect("kept")
            .bankid_linked_at,
        None
    );
    // In English too.
    let poll = browser
        .get(&server.url(&format!("/bankid/poll?order={order}&lang=en")))
        .await
        .json();
    assert!(
        poll["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not match the one you entered")),
        "{poll}"
    );
}

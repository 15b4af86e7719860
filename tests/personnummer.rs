//! The personnummer in Mina uppgifter: validated with a clear message, saved only after the
//! password is confirmed, shown masked, and never stored readable.

mod common;

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
    let found = server
        .state
        .store
        .personnummer_by_index(&stored.blind_index)
        .await
        .expect("lookup");
    assert_eq!(found.map(|f| f.user_id), Some(user.id.clone()));
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

    // Another account cannot take the same number.
    server
        .create_user("other@example.se", "Other Person", PASSWORD)
        .await;
    let mut other = log_in(&server, "other@example.se").await;
    let taken = submit(&mut other, &server, NUMBER, PASSWORD, "save").await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(
        taken.body.contains("redan kopplat till ett annat konto"),
        "{}",
        taken.describe()
    );

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
    let moved = leasify_id::account::identity::reencrypt_all(&rotated)
        .await
        .expect("reencrypt");
    assert_eq!(moved, 1);
    assert_eq!(
        leasify_id::account::identity::reencrypt_all(&rotated)
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
    let opened = leasify_id::account::identity::personnummer_of(&rotated, &user.id)
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
async fn the_personnummer_claim_needs_the_dedicated_scope_allowed_and_requested() {
    let server = TestServer::start().await;
    let mut browser = logged_in(&server).await;
    let saved = submit(&mut browser, &server, "811228-9874", PASSWORD, "save").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.describe());
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

    let claims = userinfo_with_scope(
        &server,
        &mut browser,
        &allowed.client_id,
        &allowed_secret,
        "openid personnummer",
    )
    .await;
    assert_eq!(claims["ssn"], NUMBER, "{claims}");
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

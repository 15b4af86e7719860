//! Passkeys end to end in headless Chromium with a virtual authenticator (the DevTools
//! protocol's `WebAuthn` domain: CTAP2, internal transport, resident keys, user verification).
//!
//! `passkey_journey`: a customer logs in with her password, adds a passkey in Mina uppgifter,
//! logs out and in again with "Logga in med nyckel" (usernameless), the login page starts an
//! autofill (conditional mediation) request, a clone of the key with a lower signature counter
//! is refused and audited, the same key made to sign for another host name of the deployment
//! is refused there, the admin console's step-up (a change with a login older than 15 minutes)
//! is answered with the passkey, a synced (backup-eligible) passkey logs in with `swk`, and
//! she removes the first passkey after confirming.
//!
//! The server's issuer is `http://localhost:<port>`: WebAuthn needs a host name as
//! relying-party id, and `localhost` (and `*.localhost`) is a secure context in Chromium.

use crate::browser_support;
use crate::common;

use std::time::Duration;

use browser_support::cdp::Viewport;
use browser_support::{Ui, chromium_or_skip};
use common::TestServer;
use leasify_id::login::methods::ACR_PASSKEY;
use leasify_id::store::AuditQuery;
use serde_json::{Value, json};

const EMAIL: &str = "mia@example.se";
const NAME: &str = "Mia Larsson";
const PASSWORD: &str = "Hjortron-i-fjällen-1999";
const LOGIN_SUBMIT: &str = "form[action=\"/login\"] button[type=submit]";
const PASSKEY_BUTTON: &str = "#passkey-button";
const LOGOUT: &str = "form.logout button";

/// Run before every document: records each `navigator.credentials.get` request's mediation (in
/// `sessionStorage.mediations`, which outlives the page), and
/// (while `window.name` is not `autofill`) hides conditional mediation, so the button is what
/// starts the login in those steps.
const INSTRUMENT: &str = r#"
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) { return; }
  var get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = function (options) {
    var seen = JSON.parse(sessionStorage.getItem("mediations") || "[]");
    seen.push(options && options.mediation ? options.mediation : "modal");
    sessionStorage.setItem("mediations", JSON.stringify(seen));
    return get(options);
  };
  if (window.name !== "autofill") { PublicKeyCredential.isConditionalMediationAvailable = undefined; }
})();
"#;

async fn call(ui: &Ui, method: &str, params: Value) -> Value {
    match ui.page.call(method, params).await {
        Ok(value) => value,
        Err(e) => ui.fail(method, format!("{e:#}")).await,
    }
}

/// A virtual platform authenticator that keeps resident keys and verifies the user.
async fn add_authenticator(ui: &Ui) -> String {
    add_authenticator_with(ui, false).await
}

/// The same; `synced` makes its keys backup eligible and backed up (like a password manager's).
async fn add_authenticator_with(ui: &Ui, synced: bool) -> String {
    let added = call(
        ui,
        "WebAuthn.addVirtualAuthenticator",
        json!({ "options": {
            "protocol": "ctap2",
            "ctap2Version": "ctap2_1",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "automaticPresenceSimulation": true,
            "defaultBackupEligibility": synced,
            "defaultBackupState": synced,
        }}),
    )
    .await;
    added["authenticatorId"]
        .as_str()
        .expect("an authenticator id")
        .to_string()
}

async fn credentials(ui: &Ui, authenticator: &str) -> Vec<Value> {
    let listed = call(
        ui,
        "WebAuthn.getCredentials",
        json!({ "authenticatorId": authenticator }),
    )
    .await;
    listed["credentials"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Puts a copy of `credential` (its private key included) into `authenticator`, for `rp_id`,
/// with the signature counter `sign_count`.
async fn add_copy(ui: &Ui, authenticator: &str, credential: &Value, rp_id: &str, sign_count: u64) {
    call(
        ui,
        "WebAuthn.addCredential",
        json!({
            "authenticatorId": authenticator,
            "credential": {
                "credentialId": credential["credentialId"],
                "isResidentCredential": true,
                "rpId": rp_id,
                "privateKey": credential["privateKey"],
                "userHandle": credential["userHandle"],
                "signCount": sign_count,
            },
        }),
    )
    .await;
}

async fn audit_kinds(server: &TestServer, user_id: &str) -> Vec<(String, String)> {
    let query = AuditQuery {
        user_id: Some(user_id.to_string()),
        limit: 100,
        ..Default::default()
    };
    server
        .state
        .store
        .audit_events(&query)
        .await
        .expect("audit events")
        .into_iter()
        .map(|e| (e.kind, e.details))
        .collect()
}

async fn password_login(ui: &Ui, server: &TestServer, step: &str) {
    ui.goto(step, &server.url("/login?next=%2Faccount")).await;
    ui.fill(step, "#email", EMAIL).await;
    ui.fill(step, "#password", PASSWORD).await;
    ui.click(step, LOGIN_SUBMIT).await;
    ui.expect_path(step, "/account").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_journey() {
    let Some(chromium) = chromium_or_skip("passkey_journey") else {
        return;
    };
    let server = TestServer::start_on_localhost(|_| {}).await;
    assert!(server.base_url.starts_with("http://localhost:"));
    // The same deployment (same database) reached under another host name.
    let other = server.sibling_named(Some("other.localhost")).await;
    let user_id = server.create_user(EMAIL, NAME, PASSWORD).await;
    let ui = Ui::launch(&chromium, "passkey_journey", "sv-SE", Viewport::Desktop).await;
    call(&ui, "WebAuthn.enable", json!({ "enableUI": false })).await;
    call(
        &ui,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": INSTRUMENT }),
    )
    .await;
    let authenticator = add_authenticator(&ui).await;

    // Adding a passkey in Mina uppgifter, right after a password login.
    password_login(&ui, &server, "password login").await;
    ui.fill("name the passkey", "#passkey-name", "Jobbdatorn")
        .await;
    ui.click("add a passkey", "#passkey-add").await;
    ui.expect_path("passkey added", "/account").await;
    ui.expect_text("passkey listed", ".passkey-name", "Jobbdatorn")
        .await;
    ui.shot("passkey-added").await;
    let stored = server.state.store.passkeys_of(&user_id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].backup_eligible,
        "a virtual platform key is device-bound"
    );
    assert_eq!(stored[0].rp_id, "localhost");
    let made = credentials(&ui, &authenticator).await;
    assert_eq!(made.len(), 1, "one resident credential");
    assert_eq!(made[0]["rpId"], "localhost");
    assert_eq!(made[0]["isResidentCredential"], true);

    // Usernameless login with the button.
    ui.click("log out", LOGOUT).await;
    ui.goto("login page", &server.url("/login")).await;
    ui.shot("login-page").await;
    assert_eq!(
        ui.attribute("#email", "autocomplete").await.as_deref(),
        Some("username webauthn")
    );
    ui.click("log in with the passkey", PASSKEY_BUTTON).await;
    ui.expect_path("logged in with the passkey", "/account")
        .await;
    let sessions = server
        .state
        .store
        .sessions_of_user(&user_id, leasify_id::clock::Clock::now(&server.clock))
        .await
        .unwrap();
    let newest = sessions
        .iter()
        .max_by_key(|s| (s.auth_time, s.created_at))
        .expect("a session");
    assert_eq!(newest.acr, ACR_PASSKEY);
    assert_eq!(newest.amr, ["hwk", "user"]);
    let used = server.state.store.passkeys_of(&user_id).await.unwrap();
    assert!(used[0].last_used_at.is_some());
    assert!(used[0].sign_count >= 1, "the virtual key counts its uses");
    let counted = credentials(&ui, &authenticator).await;
    assert_eq!(
        counted[0]["signCount"].as_i64(),
        Some(used[0].sign_count),
        "the stored counter is the authenticator's"
    );

    // Autofill: the login page asks for a conditional (autofill) credential on its own; the
    // virtual authenticator answers it as a person picking the key in the email field's list
    // would, and the login goes through without the button.
    ui.click("log out again", LOGOUT).await;
    ui.eval(
        "allow autofill",
        "window.name = 'autofill'; sessionStorage.removeItem('mediations')",
    )
    .await;
    ui.goto("login page with autofill", &server.url("/login"))
        .await;
    ui.wait_for(
        "logged in through autofill",
        "location.pathname === '/account' && document.readyState === 'complete'",
        Duration::from_secs(15),
    )
    .await;
    let mediations = ui
        .eval("mediations", "sessionStorage.getItem('mediations')")
        .await;
    assert_eq!(
        mediations,
        json!("[\"conditional\"]"),
        "autofill only, no button"
    );
    ui.shot("logged-in-through-autofill").await;
    ui.eval("autofill off", "window.name = ''").await;

    // A clone of the key with a lower counter: refused, and audited.
    ui.goto("login page for the clone", &server.url("/login"))
        .await;
    call(
        &ui,
        "WebAuthn.removeVirtualAuthenticator",
        json!({ "authenticatorId": authenticator }),
    )
    .await;
    let clone = add_authenticator(&ui).await;
    add_copy(&ui, &clone, &counted[0], "localhost", 0).await;
    ui.click_expect("log in with the clone", PASSKEY_BUTTON, 401)
        .await;
    ui.expect_text(
        "the clone is refused",
        "#login-error",
        "Inloggningen med nyckel misslyckades",
    )
    .await;
    ui.shot("clone-refused").await;
    let kinds = audit_kinds(&server, &user_id).await;
    assert!(
        kinds.iter().any(|(k, _)| k == "passkey.counter_regressed"),
        "{kinds:?}"
    );

    // The same key signing for another host name of the deployment: refused there.
    // (An authenticator holds a credential id once: a fresh one for this copy.)
    call(
        &ui,
        "WebAuthn.removeVirtualAuthenticator",
        json!({ "authenticatorId": clone }),
    )
    .await;
    let elsewhere = add_authenticator(&ui).await;
    add_copy(&ui, &elsewhere, &counted[0], "other.localhost", 1000).await;
    ui.goto("the other host's login page", &other.url("/login"))
        .await;
    ui.click_expect("log in on the other host", PASSKEY_BUTTON, 401)
        .await;
    ui.expect_text(
        "refused on the other host",
        "#login-error",
        "Inloggningen med nyckel misslyckades",
    )
    .await;
    let kinds = audit_kinds(&server, &user_id).await;
    assert!(
        kinds
            .iter()
            .any(|(k, d)| k == "login.failed" && d.contains("other_relying_party")),
        "{kinds:?}"
    );

    // The admin console's step-up accepts a passkey: a change with a login older than 15
    // minutes goes to the login page, a passkey login there comes back to the console page.
    leasify_id::admin::roles::grant(
        &server.state,
        &leasify_id::audit::Caller::system(),
        &user_id,
        leasify_id::admin::roles::Role::Support,
    )
    .await
    .expect("role granted");
    call(
        &ui,
        "WebAuthn.removeVirtualAuthenticator",
        json!({ "authenticatorId": elsewhere }),
    )
    .await;
    let restored = add_authenticator(&ui).await;
    add_copy(&ui, &restored, &counted[0], "localhost", 5000).await;
    password_login(&ui, &server, "password login before the console").await;
    server.clock.advance(16 * 60);
    let user_page = format!("/admin/users/{user_id}");
    ui.goto("the console's user page", &server.url(&user_page))
        .await;
    let reset = format!("form[action=\"{user_page}/invitation\"] button");
    ui.click("a change with an old login", &reset).await;
    ui.expect_path("asked to log in again", "/login").await;
    ui.click("step up with the passkey", PASSKEY_BUTTON).await;
    ui.expect_path("back at the console page", &user_page).await;
    ui.click("the change again", &reset).await;
    ui.expect_text(
        "the change is made",
        "[role=status]",
        "Ett nytt mejl är skickat",
    )
    .await;
    let kinds = audit_kinds(&server, &user_id).await;
    let logins: Vec<&String> = kinds
        .iter()
        .filter(|(k, _)| k == "login.succeeded")
        .map(|(_, d)| d)
        .collect();
    assert!(logins[0].contains("passkey"), "newest login: {logins:?}");

    // A synced passkey (backup eligible): its login says `swk`.
    call(
        &ui,
        "WebAuthn.removeVirtualAuthenticator",
        json!({ "authenticatorId": restored }),
    )
    .await;
    add_authenticator_with(&ui, true).await;
    ui.goto("Mina uppgifter", &server.url("/account")).await;
    ui.fill(
        "name the synced passkey",
        "#passkey-name",
        "Lösenordshanteraren",
    )
    .await;
    ui.click("add the synced passkey", "#passkey-add").await;
    let both = server.state.store.passkeys_of(&user_id).await.unwrap();
    assert_eq!(both.len(), 2);
    assert!(both[1].backup_eligible && both[1].backup_state, "{both:?}");
    ui.click("log out before the synced login", LOGOUT).await;
    ui.goto("login page for the synced key", &server.url("/login"))
        .await;
    ui.click("log in with the synced passkey", PASSKEY_BUTTON)
        .await;
    let sessions = server
        .state
        .store
        .sessions_of_user(&user_id, leasify_id::clock::Clock::now(&server.clock))
        .await
        .unwrap();
    let newest = sessions
        .iter()
        .max_by_key(|s| (s.auth_time, s.created_at))
        .expect("a session");
    assert_eq!(newest.amr, ["swk", "user"]);

    // Removing it, after confirming.
    password_login(&ui, &server, "password login again").await;
    ui.click("remove the passkey", ".passkey-remove").await;
    ui.shot("remove-confirm").await;
    ui.click(
        "confirm the removal",
        ".passkey-confirm button[name=confirmed]",
    )
    .await;
    ui.expect_path("passkey removed", "/account").await;
    ui.expect_text(
        "the other one stays",
        ".passkey-name",
        "Lösenordshanteraren",
    )
    .await;
    let left = server.state.store.passkeys_of(&user_id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, "Lösenordshanteraren");
    ui.finish("passkey journey").await;
    other.stop().await;
    server.stop().await;
}

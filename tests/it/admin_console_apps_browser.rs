//! The console's apps in a real browser (headless Chromium): an administrator made by the CLI
//! registers an app whose redirect URI is a real listener, copies its secret off the page (shown
//! once), and a relying party (the `openidconnect` crate) completes a code flow with that client
//! id and secret; then edits the app, makes a new secret (the old one stops working at once) and
//! deletes the app after typing its name. The list, the form, the secret page and the app's page
//! are photographed in Swedish and English at 360 px and desktop width; any console error (a CSP
//! violation from the copy button's script, say) fails the test.

use crate::admin_console_browser::{PASSWORD, both_sizes, grant_admin_by_cli, log_in};
use crate::browser_support;
use crate::common;

use std::time::Duration;

use browser_support::cdp::{Viewport, js_string};
use browser_support::{CallbackServer, Ui, chromium_or_skip};
use common::{Rp, TestServer, oauth_error};
use openidconnect::RedirectUrl;
use openidconnect::core::CoreErrorResponseType;
use reqwest::StatusCode;
use url::Url;

const ADMIN: &str = "agnes@leasify.se";
const NEW_SUBMIT: &str = "form[action=\"/admin/apps/new\"] button[type=submit]";
const EDIT_SUBMIT: &str = "form.app-form button[type=submit]";

/// A string property of the page, read with a script.
async fn read(ui: &Ui, step: &str, script: &str) -> String {
    match ui.eval(step, script).await {
        serde_json::Value::String(value) => value,
        other => ui.fail(step, format!("{script} gave {other}")).await,
    }
}

/// Presses the copy button on the secret page and returns the secret: from the clipboard when
/// the browser lets the test read it back, and always from the read-only field, which must
/// agree.
async fn copy_secret(ui: &Ui, step: &str) -> String {
    // The button is hidden until its script runs: shown means the script loaded under the CSP.
    let shown = ui
        .page
        .wait_until(
            "!document.getElementById('copy-secret').hidden",
            Duration::from_secs(5),
        )
        .await;
    if let Err(e) = shown {
        ui.fail(step, format!("the copy button never appeared: {e:#}"))
            .await;
    }
    let _ = ui
        .page
        .call(
            "Browser.grantPermissions",
            serde_json::json!({ "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
        )
        .await;
    ui.eval(step, "document.getElementById('copy-secret').click()")
        .await;
    let said = ui
        .page
        .wait_until(
            "document.getElementById('copy-status').textContent.length > 0",
            Duration::from_secs(5),
        )
        .await;
    if let Err(e) = said {
        ui.fail(step, format!("the copy button said nothing: {e:#}"))
            .await;
    }
    let status = ui.require_text(step, "#copy-status").await;
    let secret = read(ui, step, "document.getElementById('client-secret').value").await;
    if secret.len() < 32 {
        ui.fail(step, format!("no secret on the page: {secret:?}"))
            .await;
    }
    let copied = status.contains("kopierad") || status.contains("copied");
    let marked = status.contains("markerad") || status.contains("selected");
    if !copied && !marked {
        ui.fail(step, format!("unexpected copy status {status:?}"))
            .await;
    }
    let clipboard = ui
        .eval(
            step,
            "navigator.clipboard.readText().then(t => t, () => null)",
        )
        .await;
    if copied && let Some(text) = clipboard.as_str() {
        assert_eq!(text, secret, "{step}: the clipboard holds the secret");
    }
    if marked {
        // The fallback leaves the whole secret selected for Ctrl+C.
        let selected = read(
            ui,
            step,
            "(() => { const f = document.getElementById('client-secret'); \
             return f.value.substring(f.selectionStart, f.selectionEnd); })()",
        )
        .await;
        assert_eq!(selected, secret, "{step}: the secret is selected");
    }
    secret
}

/// The relying party for the app, sending people back to the test's callback listener.
async fn relying_party(server: &TestServer, id: &str, secret: &str, callback: &str) -> Rp {
    let mut rp = server.relying_party(id, Some(secret)).await;
    rp.client = rp
        .client
        .set_redirect_uri(RedirectUrl::new(callback.to_string()).expect("redirect URI"));
    rp
}

/// Sends the browser (logged in already) through the app's login and returns where it landed,
/// which must be the app's callback.
async fn log_in_to_app(
    ui: &Ui,
    step: &str,
    rp: &Rp,
    callback: &CallbackServer,
) -> (common::Authorization, Url) {
    let authorization = rp.authorization(&["email"], true, |r| r);
    ui.goto(step, authorization.url.as_str()).await;
    let landed = ui.url().await;
    if !landed.as_str().starts_with(&callback.redirect_uri()) {
        ui.fail(step, format!("expected the app's callback, got {landed}"))
            .await;
    }
    assert!(
        callback.hits().iter().any(|hit| hit == &landed),
        "{step}: the callback listener got {landed}"
    );
    (authorization, landed)
}

/// Whether the app's token endpoint accepts `secret` (client_credentials is not among its grants:
/// a known client with the right secret is refused for the grant, anything else for itself).
async fn secret_accepted(server: &TestServer, id: &str, secret: &str) -> bool {
    let response = common::token_request(
        &server.base_url,
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    match response.status {
        StatusCode::BAD_REQUEST => {
            assert!(
                response.body.contains("unauthorized_client"),
                "{}",
                response.body
            );
            true
        }
        StatusCode::UNAUTHORIZED => false,
        _ => panic!("unexpected answer: {}", response.describe()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_registered_in_the_console_logs_a_person_in() {
    let test = "admin_console_apps_journey";
    let Some(chromium) = chromium_or_skip(test) else {
        return;
    };
    let server = TestServer::start().await;
    server.create_user(ADMIN, "Agnes Admin", PASSWORD).await;
    let granted = tokio::task::block_in_place(|| grant_admin_by_cli(&server, ADMIN));
    assert_eq!(granted["admin_role"], "admin", "{granted}");
    let callback = CallbackServer::start().await;
    let ui = Ui::launch(&chromium, test, "sv-SE", Viewport::Phone).await;

    // --- The empty list, the form, and a refused address -----------------------------------------
    ui.goto("open the apps", &server.url("/admin/apps")).await;
    ui.expect_path("open the apps", "/login").await;
    log_in(&ui, "log in", ADMIN).await;
    ui.expect_path("log in", "/admin/apps").await;
    ui.expect_text("no apps", "h1", "Appar").await;
    ui.expect_text("no apps", "main", "Inga appar är registrerade än.")
        .await;
    both_sizes(&ui, "appar-tom-lista").await;
    ui.click("new app", "#new-app").await;
    ui.expect_path("new app", "/admin/apps/new").await;
    ui.expect_text("new app", "h1", "Registrera app").await;
    both_sizes(&ui, "registrera-app").await;
    ui.fill("refused", "#name", "Hyresportalen").await;
    ui.fill(
        "refused",
        "#redirect_uris",
        "http://rp.example.com/callback",
    )
    .await;
    ui.click_expect("refused", NEW_SUBMIT, 400).await;
    ui.expect_text("refused", "#form-problem", "Appen sparades inte")
        .await;
    ui.expect_text(
        "refused",
        "#redirect_uris-error",
        "http://rp.example.com/callback",
    )
    .await;
    let invalid = ui
        .attribute("#redirect_uris", "aria-invalid")
        .await
        .unwrap_or_default();
    assert_eq!(invalid, "true", "the field is marked");
    both_sizes(&ui, "registrera-app-fel").await;

    // --- Registered: the secret once, copied off the page ---------------------------------------
    ui.fill("register", "#redirect_uris", &callback.redirect_uri())
        .await;
    ui.click("register", NEW_SUBMIT).await;
    ui.expect_path("secret page", "/admin/apps/new").await;
    ui.expect_text("secret page", "h1", "Appen är registrerad")
        .await;
    ui.expect_text(
        "secret page",
        "#secret-warning",
        "Den visas bara den här gången",
    )
    .await;
    let secret = copy_secret(&ui, "copy the secret").await;
    let id = read(
        &ui,
        "client id",
        "document.getElementById('client-id').value",
    )
    .await;
    both_sizes(&ui, "hemligheten-visas-en-gang").await;

    ui.click("the app's page", "#saved-secret").await;
    ui.expect_path("the app's page", &format!("/admin/apps/{id}"))
        .await;
    ui.expect_text("the app's page", "h1", "Hyresportalen")
        .await;
    ui.expect_text(
        "the app's page",
        "#snippet",
        &format!("OIDC_CLIENT_ID={id}"),
    )
    .await;
    ui.expect_text(
        "the app's page",
        "#snippet",
        &format!("OIDC_REDIRECT_URI={}", callback.redirect_uri()),
    )
    .await;
    ui.expect_text(
        "the app's page",
        "#discovery-url",
        "/.well-known/openid-configuration",
    )
    .await;
    let page = ui.require_text("the app's page", "body").await;
    assert!(!page.contains(&secret), "the secret is not shown again");
    both_sizes(&ui, "appens-sida").await;

    // --- A real code flow with the copied id and secret ------------------------------------------
    let rp = relying_party(&server, &id, &secret, &callback.redirect_uri()).await;
    let (authorization, landed) = log_in_to_app(&ui, "code flow", &rp, &callback).await;
    let nonce = authorization.nonce.clone();
    let (_, claims) = rp.complete(authorization, &landed).await;
    assert_eq!(claims.nonce().map(|n| n.secret()), Some(nonce.secret()));
    assert_eq!(
        claims.audiences().first().map(|a| a.as_str()),
        Some(id.as_str())
    );

    // --- Edit ------------------------------------------------------------------------------------
    ui.goto("edit", &server.url(&format!("/admin/apps/{id}?lang=sv")))
        .await;
    ui.eval(
        "edit",
        "document.querySelector('details.edit-app summary').click()",
    )
    .await;
    ui.page
        .wait_until(
            "document.querySelector('details.edit-app').open",
            Duration::from_secs(5),
        )
        .await
        .expect("the edit form opens");
    ui.fill("edit", "#name", "Hyresportalen Väst").await;
    ui.fill(
        "edit",
        "#post_logout_redirect_uris",
        &format!("http://127.0.0.1:{}/bye", callback.port),
    )
    .await;
    ui.eval(
        "edit",
        "document.querySelector('input[name=party][value=third]').checked = true",
    )
    .await;
    // PAR and DPoP nonces required, ticked as a person would.
    ui.eval(
        "edit",
        "document.querySelector('input[name=require_par]').click(); \
         document.querySelector('input[name=require_dpop_nonce]').click()",
    )
    .await;
    ui.click("save", EDIT_SUBMIT).await;
    ui.expect_text("saved", ".notice", "Ändringarna är sparade")
        .await;
    ui.expect_text("saved", "h1", "Hyresportalen Väst").await;
    ui.expect_text("saved", ".badges", "Extern").await;
    ui.expect_text("saved", "#snippet", "OIDC_POST_LOGOUT_REDIRECT_URI=")
        .await;
    ui.expect_text("saved", "dl.facts", "Nonce krävs").await;
    let saved = leasify_id::admin::clients::show(&server.state, &id)
        .await
        .expect("the app");
    assert!(saved.require_pushed_authorization_requests && saved.require_dpop_nonce);
    assert!(!saved.dpop_bound_access_tokens, "only what was ticked");
    both_sizes(&ui, "appen-andrad").await;
    // Back to first-party, so the next logins need no consent page.
    ui.eval(
        "first-party again",
        "document.querySelector('input[name=party][value=first]').checked = true; \
         document.querySelector('input[name=require_par]').click(); \
         document.querySelector('input[name=require_dpop_nonce]').click()",
    )
    .await;
    ui.click("first-party again", EDIT_SUBMIT).await;
    ui.expect_text("first-party again", ".badges", "Leasifys egen")
        .await;

    // --- A new secret: the old one stops working at once ------------------------------------------
    ui.eval(
        "confirm new secret",
        "document.querySelector('input[name=confirm]').checked = true",
    )
    .await;
    ui.click(
        "new secret",
        &format!(
            "form[action={}] button[type=submit]",
            js_string(&format!("/admin/apps/{id}/secret"))
        ),
    )
    .await;
    ui.expect_text("new secret", "h1", "Ny hemlighet").await;
    let rotated = copy_secret(&ui, "copy the new secret").await;
    assert_ne!(rotated, secret);
    both_sizes(&ui, "ny-hemlighet").await;
    let old_rp = relying_party(&server, &id, &secret, &callback.redirect_uri()).await;
    let (authorization, landed) = log_in_to_app(&ui, "old secret", &old_rp, &callback).await;
    let code = old_rp.code_from_callback(&authorization, &landed);
    let refused = old_rp
        .exchange(&code, authorization.pkce_verifier)
        .await
        .expect_err("the old secret is refused");
    assert_eq!(oauth_error(&refused), CoreErrorResponseType::InvalidClient);
    let new_rp = relying_party(&server, &id, &rotated, &callback.redirect_uri()).await;
    let (authorization, landed) = log_in_to_app(&ui, "new secret", &new_rp, &callback).await;
    new_rp.complete(authorization, &landed).await;

    // --- The same pages in English, with a second app registered there ----------------------------
    ui.goto("apps in English", &server.url("/admin/apps?lang=en"))
        .await;
    ui.expect_text("apps in English", "h1", "Apps").await;
    ui.expect_text("apps in English", ".app-list", "Hyresportalen Väst")
        .await;
    both_sizes(&ui, "apps-en").await;
    ui.click("register in English", "#new-app").await;
    ui.expect_text("register in English", "h1", "Register an app")
        .await;
    both_sizes(&ui, "register-app-en").await;
    ui.fill("register in English", "#name", "Leasing calculator")
        .await;
    ui.fill(
        "register in English",
        "#redirect_uris",
        "https://calc.example.com/callback",
    )
    .await;
    ui.click("register in English", NEW_SUBMIT).await;
    ui.expect_text("secret in English", "h1", "The app is registered")
        .await;
    ui.expect_text(
        "secret in English",
        "#secret-warning",
        "It is shown only this once",
    )
    .await;
    let english_secret = copy_secret(&ui, "copy in English").await;
    both_sizes(&ui, "secret-shown-once-en").await;
    ui.click("app page in English", "#saved-secret").await;
    ui.expect_text("app page in English", "h1", "Leasing calculator")
        .await;
    ui.expect_text(
        "app page in English",
        "#configure-heading",
        "Configuring the app",
    )
    .await;
    let page = ui.require_text("app page in English", "body").await;
    assert!(!page.contains(&english_secret));
    both_sizes(&ui, "app-page-en").await;

    // --- Delete, after typing the name -------------------------------------------------------------
    ui.goto("delete", &server.url(&format!("/admin/apps/{id}?lang=sv")))
        .await;
    ui.fill("delete", "#confirm_name", "Hyresportalen").await;
    ui.click_expect(
        "delete with the wrong name",
        &format!(
            "form[action={}] button[type=submit]",
            js_string(&format!("/admin/apps/{id}/delete"))
        ),
        400,
    )
    .await;
    ui.expect_text(
        "delete with the wrong name",
        "#delete-error",
        "stämmer inte med appens namn",
    )
    .await;
    both_sizes(&ui, "ta-bort-fel-namn").await;
    assert!(secret_accepted(&server, &id, &rotated).await, "not deleted");
    ui.fill("delete", "#confirm_name", "Hyresportalen Väst")
        .await;
    ui.click(
        "delete",
        &format!(
            "form[action={}] button[type=submit]",
            js_string(&format!("/admin/apps/{id}/delete"))
        ),
    )
    .await;
    ui.expect_path("deleted", "/admin/apps").await;
    ui.expect_text("deleted", ".notice", "Appen är borttagen")
        .await;
    let list = ui.require_text("deleted", ".app-list").await;
    assert!(!list.contains("Hyresportalen"), "{list}");
    assert!(list.contains("Leasing calculator"), "{list}");
    both_sizes(&ui, "appar-efter-borttagning").await;
    assert!(
        !secret_accepted(&server, &id, &rotated).await,
        "a deleted app's secret is refused"
    );

    ui.finish("the end").await;
}

//! Onboarding a whole company in a real browser (headless Chromium): an administrator uploads a
//! 1,000-row CSV file, reviews the preview with its refused rows, starts the run and watches the
//! progress bar (driven by the page's own script) reach 100 %; every valid row is invited exactly
//! once. The same file uploaded again invites nobody. Each page is photographed in Swedish and
//! English at 360 px and desktop width; any console error fails the test.

use crate::browser_support;
use crate::common;

use std::time::Duration;

use browser_support::cdp::Viewport;
use browser_support::{Ui, chromium_or_skip};
use common::TestServer;
use leasify_id::admin::roles::{self, Role};
use leasify_id::audit::Caller;

const ADMIN: &str = "agnes@leasify.se";
const PASSWORD: &str = "Blåbärssylt-på-taket-42";
const VALID_ROWS: usize = 995;
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// 1,000 rows: 995 customers and five that cannot be used (a bad address, a duplicate, an
/// unknown language, no name, and a duplicate in another case).
fn thousand_rows() -> String {
    let mut file = String::from("e-post;namn;språk\n");
    for n in 0..VALID_ROWS {
        let language = if n % 3 == 0 { "en" } else { "sv" };
        file.push_str(&format!(
            "person{n}@foretaget.se;Person {n} Åkesson;{language}\n"
        ));
    }
    file.push_str("inte en adress;Fel Adress;sv\n");
    file.push_str("person1@foretaget.se;Dubblett;sv\n");
    file.push_str("sprak@foretaget.se;Fel Språk;fi\n");
    file.push_str("utan.namn@foretaget.se;;sv\n");
    file.push_str("PERSON2@FORETAGET.SE;Dubblett Två;sv\n");
    file
}

async fn both_sizes(ui: &Ui, step: &str) {
    ui.assert_fits_width(step).await;
    ui.shot(step).await;
    ui.set_viewport(Viewport::Desktop).await;
    ui.shot(&format!("{step}-desktop")).await;
    ui.set_viewport(Viewport::Phone).await;
}

async fn invitations(server: &TestServer) -> Vec<String> {
    server
        .state
        .store
        .list_outbox(100_000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|m| m.kind == "invite")
        .map(|m| m.recipient)
        .collect()
}

/// Uploads the file, checks the preview, starts the run and waits for the page's script to
/// bring the done page.
async fn upload_and_run(
    ui: &Ui,
    server: &TestServer,
    file: &std::path::Path,
    round: &str,
    new: usize,
) {
    ui.goto(round, &server.url("/admin/invite/bulk?lang=sv"))
        .await;
    ui.expect_text(round, "h1", "Bjud in från fil").await;
    ui.choose_file(round, "#file", file).await;
    ui.click(
        round,
        "form[action=\"/admin/invite/bulk/upload\"] button[type=submit]",
    )
    .await;
    ui.expect_text(round, "h2", "Granska innan du bjuder in")
        .await;
    ui.expect_text(round, "#count-new", &new.to_string()).await;
    ui.expect_text(round, "#count-refused", "5").await;
    ui.expect_text(round, "#refused-rows", "Samma e-postadress som rad 3.")
        .await;
    ui.expect_text(round, "#refused-rows", "Okänt språk").await;
    both_sizes(ui, &format!("{round}-granska")).await;

    ui.click(round, "#start").await;
    ui.expect_text(round, ".notice", "Inbjudan har startat")
        .await;
    ui.shot(&format!("{round}-pagar")).await;
    // The script polls the progress and loads the page again when the run is done.
    ui.wait_for(
        round,
        "document.querySelector('#report') !== null",
        RUN_TIMEOUT,
    )
    .await;
    let percent = ui
        .eval(round, "document.getElementById('bulk-progress').value")
        .await;
    assert_eq!(percent, serde_json::json!(100), "{round}");
    ui.expect_text(round, "#bulk-progress-text", "1000 av 1000 rader klara")
        .await;
    both_sizes(ui, &format!("{round}-klar")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_row_file_invites_each_customer_once() {
    let test = "admin_console_bulk_invite";
    let Some(chromium) = chromium_or_skip(test) else {
        return;
    };
    let server = TestServer::start().await;
    let admin = server.create_user(ADMIN, "Agnes Admin", PASSWORD).await;
    roles::grant(&server.state, &Caller::system(), &admin, Role::Admin)
        .await
        .expect("role");
    let file = server.state.config.data_dir.join("foretaget.csv");
    std::fs::write(&file, thousand_rows()).expect("the file");
    let ui = Ui::launch(&chromium, test, "sv-SE", Viewport::Phone).await;

    ui.goto("log in", &server.url("/admin/invite/bulk")).await;
    ui.fill("log in", "#email", ADMIN).await;
    ui.fill("log in", "#password", PASSWORD).await;
    ui.click("log in", "form[action=\"/login\"] button[type=submit]")
        .await;
    ui.expect_path("log in", "/admin/invite/bulk").await;
    both_sizes(&ui, "bjud-in-fran-fil").await;

    // --- The first upload: 995 invited, 5 refused, each once ----------------------------------------
    upload_and_run(&ui, &server, &file, "forsta", VALID_ROWS).await;
    ui.expect_text("first", "#count-created", &VALID_ROWS.to_string())
        .await;
    ui.expect_text("first", "#count-refused", "5").await;
    let sent = invitations(&server).await;
    assert_eq!(sent.len(), VALID_ROWS);
    let distinct: std::collections::HashSet<_> = sent.iter().collect();
    assert_eq!(distinct.len(), VALID_ROWS, "nobody twice");
    assert!(sent.contains(&"person994@foretaget.se".to_string()));

    // --- The same file again: nobody is invited twice ----------------------------------------------
    upload_and_run(&ui, &server, &file, "andra", 0).await;
    ui.expect_text("second", "#count-created", "0").await;
    ui.expect_text("second", "#count-existed", &VALID_ROWS.to_string())
        .await;
    assert_eq!(invitations(&server).await.len(), VALID_ROWS);

    // --- In English ------------------------------------------------------------------------------
    ui.click("English", ".lang a[lang=en]").await;
    ui.expect_text("English", "#progress-heading", "The invitation is done")
        .await;
    both_sizes(&ui, "done-en").await;
    ui.goto(
        "upload page in English",
        &server.url("/admin/invite/bulk?lang=en"),
    )
    .await;
    ui.expect_text("upload page in English", "h1", "Invite from a file")
        .await;
    both_sizes(&ui, "upload-en").await;

    ui.finish("the end").await;
}

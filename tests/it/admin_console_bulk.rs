//! Bulk invitations at the admin console over real HTTP: a CSV file uploaded, previewed with its
//! refused rows, run by the background job (each valid row invited once, with its welcome email
//! queued), its report (formula cells made text), the same file again (nobody invited twice),
//! files that are no list of customers (not text, UTF-16, Latin-1, 20 MB), who may do it, and
//! what deleting an invited person leaves of the file.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::{Browser, Form, Response, TestServer};
use leasify_id::admin::roles::{self, Role};
use leasify_id::audit::{Caller, kinds};
use leasify_id::store::AuditQuery;

const PASSWORD: &str = "Blåbärssylt-på-taket-42";
const ADMIN: &str = "admin@leasify.se";
const UPLOAD: &str = "/admin/invite/bulk/upload";

/// The file a customer's HR department sends: Swedish Excel (semicolons), a header in Swedish,
/// a few rows that cannot be used, and a name that a spreadsheet would run as a formula.
fn company_file(valid: usize) -> String {
    let mut file = String::from("E-post;Namn;Språk\r\n");
    for n in 0..valid {
        file.push_str(&format!("anstalld{n}@kund.se;Anställd Nummer {n};sv\r\n"));
    }
    file.push_str("inte-en-adress;Per Fel;sv\r\n");
    file.push_str("ANSTALLD0@kund.se;Dubblett;en\r\n");
    file.push_str("okänt@kund.se;Okänt Språk;klingon\r\n");
    file.push_str("formel@kund.se;=cmd|' /C calc'!A0;en\r\n");
    file
}

async fn log_in(server: &TestServer, email: &str, role: Option<Role>) -> Browser {
    let id = server.create_user(email, "Agnes Admin", PASSWORD).await;
    if let Some(role) = role {
        roles::grant(&server.state, &Caller::system(), &id, role)
            .await
            .expect("role granted");
    }
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url("/account")).await;
    let mut form = Form::find(&page, "form[action='/login']")
        .unwrap_or_else(|| panic!("a login form:\n{}", page.describe()));
    form.set("email", email);
    form.set("password", PASSWORD);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    let done = browser.follow(response).await;
    assert_eq!(done.url.path(), "/account", "{}", done.describe());
    browser
}

/// The upload form's hidden fields (its CSRF token), as the page gives them.
async fn upload_fields(browser: &mut Browser, server: &TestServer) -> Vec<(String, String)> {
    let page = browser.get(&server.url("/admin/invite/bulk")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    Form::find(&page, &format!("form[action='{UPLOAD}']"))
        .unwrap_or_else(|| panic!("the upload form:\n{}", page.describe()))
        .fields
}

async fn upload(browser: &mut Browser, server: &TestServer, name: &str, file: &[u8]) -> Response {
    let fields = upload_fields(browser, server).await;
    browser
        .post_multipart(&server.url(UPLOAD), &fields, "file", name, file)
        .await
}

/// Uploads `file` and returns the batch page's path (the upload redirects there).
async fn upload_ok(browser: &mut Browser, server: &TestServer, file: &[u8]) -> String {
    let response = upload(browser, server, "kunder.csv", file).await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.describe()
    );
    let url = response.location().expect("a Location");
    assert!(url.path().starts_with("/admin/invite/bulk/"), "{url}");
    url.path().to_string()
}

fn text_of(page: &Response, selector: &str) -> String {
    let document = scraper::Html::parse_document(&page.body);
    let selector = scraper::Selector::parse(selector).expect("selector");
    document
        .select(&selector)
        .next()
        .unwrap_or_else(|| panic!("{selector:?} on the page:\n{}", page.body))
        .text()
        .collect::<String>()
        .trim()
        .to_string()
}

/// Starts the batch from its page's button and waits (on its progress URL, as the page's script
/// does) until it is done; returns the done page.
async fn start_and_wait(browser: &mut Browser, server: &TestServer, path: &str) -> Response {
    let page = browser.get(&server.url(path)).await;
    let form = Form::find(&page, &format!("form[action='{path}/start']"))
        .unwrap_or_else(|| panic!("a start button:\n{}", page.describe()));
    let started = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        started.status,
        StatusCode::SEE_OTHER,
        "{}",
        started.describe()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let progress = browser.get(&server.url(&format!("{path}/progress"))).await;
        assert_eq!(progress.status, StatusCode::OK, "{}", progress.describe());
        let progress: serde_json::Value = serde_json::from_str(&progress.body).expect("JSON");
        if progress["status"] == "done" {
            assert_eq!(progress["percent"], 100, "{progress}");
            break;
        }
        assert!(Instant::now() < deadline, "still running: {progress}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.get(&server.url(path)).await
}

async fn invitations_to(server: &TestServer, recipient: &str) -> usize {
    server
        .state
        .store
        .list_outbox(100_000)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.recipient == recipient && m.kind == "invite")
        .count()
}

#[tokio::test]
async fn a_company_file_is_previewed_invited_once_and_reported() {
    let server = TestServer::start().await;
    let mut browser = log_in(&server, ADMIN, Some(Role::Admin)).await;
    server
        .create_user("anstalld3@kund.se", "Har Redan Konto", PASSWORD)
        .await;
    let file = company_file(25);

    // The preview: nothing invited yet; what will happen, and the rows that cannot be used.
    let path = upload_ok(&mut browser, &server, file.as_bytes()).await;
    let preview = browser.get(&server.url(&path)).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.describe());
    assert_eq!(text_of(&preview, "#count-new"), "25");
    assert_eq!(text_of(&preview, "#count-existing"), "1");
    assert_eq!(text_of(&preview, "#count-refused"), "3");
    let refused = text_of(&preview, "#refused-rows");
    assert!(refused.contains("Ingen giltig e-postadress."), "{refused}");
    assert!(
        refused.contains("Samma e-postadress som rad 2."),
        "{refused}"
    );
    assert!(refused.contains("Okänt språk"), "{refused}");
    assert_eq!(invitations_to(&server, "anstalld0@kund.se").await, 0);
    assert!(
        server
            .state
            .store
            .user_by_email("anstalld0@kund.se")
            .await
            .unwrap()
            .is_none()
    );

    // The run: every valid new row invited once, with its email; the existing one left alone.
    let done = start_and_wait(&mut browser, &server, &path).await;
    assert_eq!(text_of(&done, "#count-created"), "25", "{}", done.body);
    assert_eq!(text_of(&done, "#count-existed"), "1");
    assert_eq!(text_of(&done, "#count-refused"), "3");
    for n in [0, 1, 24] {
        let email = format!("anstalld{n}@kund.se");
        assert_eq!(invitations_to(&server, &email).await, 1, "{email}");
    }
    assert_eq!(invitations_to(&server, "anstalld3@kund.se").await, 0);
    assert_eq!(invitations_to(&server, "formel@kund.se").await, 1);
    let admin = server
        .state
        .store
        .user_by_email(ADMIN)
        .await
        .unwrap()
        .expect("admin");
    let invited = server
        .state
        .store
        .user_by_email("anstalld0@kund.se")
        .await
        .unwrap()
        .expect("invited");
    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            user_id: Some(invited.id.clone()),
            kind: Some(kinds::USER_INVITED.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].actor_id.as_deref(), Some(admin.id.as_str()));
    let started = server
        .state
        .store
        .audit_events(&AuditQuery {
            kind: Some(kinds::INVITE_BATCH_STARTED.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(started.len(), 1, "{started:?}");

    // The report: every row, and the formula cell made text.
    let report = browser
        .get(&server.url(&format!("{path}/report.csv?lang=en")))
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.describe());
    assert_eq!(
        report.headers["content-type"],
        "text/csv; charset=utf-8",
        "{}",
        report.describe()
    );
    let csv = report.body.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 29, "{csv}");
    assert_eq!(lines[0], "Line,Email address,Name,Language,Result,Reason");
    assert!(
        lines.contains(&"5,anstalld3@kund.se,Anställd Nummer 3,sv,Already had an account,"),
        "{csv}"
    );
    assert!(
        lines.contains(
            &"28,anstalld0@kund.se,Dubblett,en,Not invited,Same email address as line 2."
        ),
        "{csv}"
    );
    assert!(
        lines.contains(&"30,formel@kund.se,'=cmd|' /C calc'!A0,en,Invited,"),
        "the formula comes back as text: {csv}"
    );
    assert!(!csv.contains(",=cmd"), "{csv}");

    // The same file again: nobody is invited twice.
    let again = upload_ok(&mut browser, &server, file.as_bytes()).await;
    let preview = browser.get(&server.url(&again)).await;
    assert_eq!(text_of(&preview, "#count-new"), "0");
    assert_eq!(text_of(&preview, "#count-existing"), "26");
    let done = start_and_wait(&mut browser, &server, &again).await;
    assert_eq!(text_of(&done, "#count-created"), "0");
    assert_eq!(text_of(&done, "#count-existed"), "26");
    for n in [0, 1, 24] {
        let email = format!("anstalld{n}@kund.se");
        assert_eq!(invitations_to(&server, &email).await, 1, "{email}");
    }

    // A second start of a file that ran changes nothing.
    let page = browser.get(&server.url(&path)).await;
    assert!(
        Form::find(&page, &format!("form[action='{path}/start']")).is_none(),
        "a done file has no start button"
    );
}

#[tokio::test]
async fn files_that_are_no_list_of_customers_get_a_clear_answer() {
    let server = TestServer::start().await;
    let mut browser = log_in(&server, ADMIN, Some(Role::Support)).await;
    let refused = |response: &Response, status: StatusCode, text: &str| {
        assert_eq!(response.status, status, "{}", response.describe());
        let alert = text_of(response, "#file-error");
        assert!(alert.contains(text), "{alert}");
    };

    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    let response = upload(&mut browser, &server, "logo.png", png).await;
    refused(
        &response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Det här är ingen CSV-fil.",
    );

    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("email,name".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let response = upload(&mut browser, &server, "kunder.txt", &utf16).await;
    refused(&response, StatusCode::UNPROCESSABLE_ENTITY, "UTF-16");

    let response = upload(
        &mut browser,
        &server,
        "kunder.csv",
        b"id,telefon\n1,0701234567\n",
    )
    .await;
    refused(
        &response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "e-post och namn",
    );

    let response = upload(
        &mut browser,
        &server,
        "kunder.csv",
        b"email,name\n\"a@b.se,A\n",
    )
    .await;
    refused(&response, StatusCode::UNPROCESSABLE_ENTITY, "(rad 2)");

    // 20 MB: read to its end and answered with a page, not a cut connection.
    let huge = "e-post;namn\n".to_string() + &"x@kund.se;X\n".repeat(20 * 1024 * 1024 / 12);
    let response = upload(&mut browser, &server, "stor.csv", huge.as_bytes()).await;
    refused(&response, StatusCode::PAYLOAD_TOO_LARGE, "för stor");

    // Windows-1252 from an old Excel: å, ä and ö read as written.
    let latin1 = b"e-post;namn\n\xe5sa@kund.se;\xc5sa \xd6berg\n";
    let path = upload_ok(&mut browser, &server, latin1).await;
    let preview = browser.get(&server.url(&path)).await;
    assert!(
        text_of(&preview, "#to-invite").contains("Åsa Öberg"),
        "{}",
        preview.body
    );
    let done = start_and_wait(&mut browser, &server, &path).await;
    assert_eq!(text_of(&done, "#count-created"), "1");
    let user = server
        .state
        .store
        .user_by_email("åsa@kund.se")
        .await
        .unwrap()
        .expect("invited by the support desk");
    assert_eq!(user.name, "Åsa Öberg");
    assert!(
        !server
            .state
            .store
            .list_outbox(100)
            .await
            .unwrap()
            .is_empty(),
        "the welcome email is queued"
    );
}

#[tokio::test]
async fn only_the_console_may_upload_and_a_start_needs_a_recent_login() {
    let server = TestServer::start_with(|config| config.admin.step_up_minutes = 5).await;
    let mut admin = log_in(&server, ADMIN, Some(Role::Admin)).await;
    let path = upload_ok(&mut admin, &server, b"email,name\nkarin@kund.se,Karin\n").await;

    // A customer: 403 on every page and the upload, with nothing stored.
    let mut customer = log_in(&server, "karin.kund@kund.se", None).await;
    for page in [
        "/admin/invite/bulk".to_string(),
        path.clone(),
        format!("{path}/progress"),
        format!("{path}/report.csv"),
    ] {
        let response = customer.get(&server.url(&page)).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{page}");
    }
    let fields = vec![("csrf".to_string(), "0".repeat(64))];
    let response = customer
        .post_multipart(
            &server.url(UPLOAD),
            &fields,
            "file",
            "a.csv",
            b"email,name\nx@y.se,X\n",
        )
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let response = customer
        .post_form(&server.url(&format!("{path}/start")), &fields)
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);

    // An administrator without the page's CSRF token: refused.
    let forged = vec![
        ("csrf".to_string(), "0".repeat(64)),
        ("lang".to_string(), "sv".to_string()),
    ];
    let response = admin
        .post_multipart(
            &server.url(UPLOAD),
            &forged,
            "file",
            "a.csv",
            b"email,name\nx@y.se,X\n",
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{}",
        response.describe()
    );
    assert_eq!(
        server
            .state
            .store
            .recent_invite_batches(10)
            .await
            .unwrap()
            .len(),
        1
    );

    // Starting with a login older than the step-up limit: the login page first, nothing started.
    let page = admin.get(&server.url(&path)).await;
    let form = Form::find(&page, &format!("form[action='{path}/start']")).expect("start");
    server.clock.advance(5 * 60 + 1);
    let response = admin.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    let login = response.location().expect("the login page");
    assert_eq!(login.path(), "/login");
    assert!(
        login.query().unwrap_or_default().contains("reauth=1"),
        "{login}"
    );
    let batch_id = path.rsplit('/').next().unwrap();
    let batch = server
        .state
        .store
        .invite_batch(batch_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batch.status, "preview");

    // Unknown batches are unknown.
    let response = admin
        .get(&server.url("/admin/invite/bulk/00000000-0000-0000-0000-000000000000"))
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_an_invited_person_takes_their_line_of_the_file_with_them() {
    let server = TestServer::start().await;
    let mut browser = log_in(&server, ADMIN, Some(Role::Admin)).await;
    let path = upload_ok(
        &mut browser,
        &server,
        b"email,name\nkarin@kund.se,Karin Ek\nper@kund.se,Per Persson\n",
    )
    .await;
    start_and_wait(&mut browser, &server, &path).await;
    let karin = server
        .state
        .store
        .user_by_email("karin@kund.se")
        .await
        .unwrap()
        .expect("invited");
    leasify_id::admin::users::delete(&server.state, &Caller::system(), &karin.id)
        .await
        .expect("deleted");
    let batch_id = path.rsplit('/').next().unwrap();
    let rows = server
        .state
        .store
        .invite_batch_rows(batch_id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].email, "per@kund.se");
    assert!(!format!("{rows:?}").contains("Karin"));
}

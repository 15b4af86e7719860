//! The admin console over real HTTP: who gets in (a login through our page, a role; everyone
//! else a 403 everywhere under /admin), the CSRF token and the recent login every change needs,
//! the support role, and the users' pages: search (a personnummer only ever shown masked),
//! pages of the list, invitations, disabling and deleting with its typed confirmation; the
//! signing keys (admin only) and their rotation; the event log's filters, pages and CSV export.

use reqwest::StatusCode;

use crate::common::{Browser, Form, Response, TestServer};
use leasify_id::admin::roles::{self, Role};
use leasify_id::audit::{Caller, Origin, kinds, with_origin};
use leasify_id::store::AuditQuery;

const PASSWORD: &str = "Blåbärssylt-på-taket-42";
const ADMIN: &str = "admin@leasify.se";
const CUSTOMER: &str = "karin@kund.se";
/// 811228-9874: the worked example of the Luhn check digit.
const NUMBER: &str = "198112289874";

/// Logs in on our own login page, reached by opening `path`; returns the browser and the page
/// the login came back to.
async fn log_in_at(server: &TestServer, email: &str, path: &str) -> (Browser, Response) {
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url(path)).await;
    let page = submit_login(&mut browser, &page, email).await;
    (browser, page)
}

/// Fills and sends the login form of `page`, following the redirects.
async fn submit_login(browser: &mut Browser, page: &Response, email: &str) -> Response {
    let mut form = Form::find(page, "form[action='/login']")
        .unwrap_or_else(|| panic!("a login form:\n{}", page.describe()));
    form.set("email", email);
    form.set("password", PASSWORD);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    browser.follow(response).await
}

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

/// An administrator logged in at the console, and a customer.
async fn admin_and_customer(server: &TestServer, role: Role) -> (Browser, String, String) {
    let admin = person(server, ADMIN, Some(role)).await;
    let customer = server.create_user(CUSTOMER, "Karin Kund", PASSWORD).await;
    let (browser, page) = log_in_at(server, ADMIN, "/admin").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    (browser, admin, customer)
}

/// The form posting to `action` on the page at `path`, as the browser sees it.
async fn form_on(browser: &mut Browser, server: &TestServer, path: &str, action: &str) -> Form {
    let page = browser.get(&server.url(path)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    Form::find(&page, &format!("form[action='{action}']"))
        .unwrap_or_else(|| panic!("a form posting to {action}:\n{}", page.describe()))
}

async fn is_disabled(server: &TestServer, id: &str) -> bool {
    server
        .state
        .store
        .user_by_id(id)
        .await
        .unwrap()
        .expect("the user")
        .disabled
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

#[tokio::test]
async fn the_console_asks_for_a_login_on_our_page_and_comes_back() {
    let server = TestServer::start().await;
    person(&server, ADMIN, Some(Role::Admin)).await;
    let mut browser = Browser::new(&server.base_url);

    let first = browser.get(&server.url("/admin/users?q=kund")).await;
    assert_eq!(location(&first), "/login?next=%2Fadmin%2Fusers%3Fq%3Dkund");
    let page = browser.follow(first).await;
    let back = submit_login(&mut browser, &page, ADMIN).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.describe());
    assert_eq!(back.url.path(), "/admin/users");
    assert_eq!(back.url.query(), Some("q=kund"));
    assert!(back.body.contains("<h1>Användare</h1>"), "{}", back.body);

    // /admin itself is the overview (admin_console_overview.rs).
    let home = browser.get(&server.url("/admin")).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.describe());
    assert!(home.body.contains("<h1>Översikt</h1>"), "{}", home.body);
    // The same pages in English, by the language switch.
    let english = browser.get(&server.url("/admin/users?lang=en")).await;
    assert!(english.body.contains("<h1>Users</h1>"), "{}", english.body);
    assert!(english.body.contains(r#"<html lang="en">"#));
}

#[tokio::test]
async fn a_customer_is_refused_with_a_plain_403_everywhere_under_admin() {
    let server = TestServer::start().await;
    let customer = person(&server, CUSTOMER, None).await;
    let other = person(&server, "other@kund.se", None).await;
    let (mut browser, account) = log_in_at(&server, CUSTOMER, "/account").await;
    assert!(account.body.contains("Mina uppgifter"));
    let csrf = Form::find(&account, "form[action='/account/profile']")
        .and_then(|f| f.get("csrf").map(str::to_string))
        .expect("a CSRF token");

    for path in [
        "/admin".to_string(),
        "/admin/".to_string(),
        "/admin/users".to_string(),
        format!("/admin/users/{other}"),
        "/admin/users/nobody".to_string(),
        "/admin/invite".to_string(),
        "/admin/users/search".to_string(),
        "/admin/clients".to_string(),
        "/admin/keys/rotate".to_string(),
    ] {
        let page = browser.get(&server.url(&path)).await;
        assert_refused(&page, &format!("GET {path}"));
    }
    let fields = vec![
        ("csrf".to_string(), csrf),
        ("lang".to_string(), "sv".to_string()),
        ("email".to_string(), "new@kund.se".to_string()),
        ("name".to_string(), "Ny Kund".to_string()),
        ("q".to_string(), "kund".to_string()),
        ("confirm_email".to_string(), "other@kund.se".to_string()),
    ];
    for action in [
        "disable",
        "enable",
        "invitation",
        "sessions/end",
        "personnummer/remove",
        "delete",
    ] {
        let path = format!("/admin/users/{other}/{action}");
        let page = browser.post_form(&server.url(&path), &fields).await;
        assert_refused(&page, &format!("POST {path}"));
    }
    for path in ["/admin/invite", "/admin/users/search", "/admin/users"] {
        let page = browser.post_form(&server.url(path), &fields).await;
        assert_refused(&page, &format!("POST {path}"));
    }
    assert!(!is_disabled(&server, &other).await);
    assert!(
        server
            .state
            .store
            .user_by_id(&other)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        server
            .state
            .store
            .user_by_email("new@kund.se")
            .await
            .unwrap()
            .is_none()
    );

    // A role taken away closes the console at the next request.
    roles::grant(&server.state, &Caller::system(), &customer, Role::Support)
        .await
        .unwrap();
    let open = browser.get(&server.url("/admin/users")).await;
    assert_eq!(open.status, StatusCode::OK, "{}", open.describe());
    roles::revoke(&server.state, &Caller::system(), &customer)
        .await
        .unwrap();
    let closed = browser.get(&server.url("/admin/users")).await;
    assert_refused(&closed, "after the role was revoked");
}

/// The normal error page with a 403, saying nothing about the console.
fn assert_refused(page: &Response, what: &str) {
    assert_eq!(
        page.status,
        StatusCode::FORBIDDEN,
        "{what}: {}",
        page.describe()
    );
    assert!(
        page.body
            .contains("Du har inte behörighet att se den här sidan."),
        "{what}: {}",
        page.body
    );
    for hint in ["console", "Administration", "Användare", "Bjud in"] {
        assert!(
            !page.body.contains(hint),
            "{what}: {hint:?} in {}",
            page.body
        );
    }
    assert!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.contains("default-src 'none'")),
        "{what}: the pages' CSP"
    );
}

#[tokio::test]
async fn support_manages_customers_but_no_apps_or_keys() {
    let server = TestServer::start().await;
    let (mut browser, _, customer) = admin_and_customer(&server, Role::Support).await;
    let page = browser.get(&server.url("/admin/users")).await;
    assert!(page.body.contains(CUSTOMER), "{}", page.body);
    assert!(page.body.contains("(support)"), "{}", page.body);

    let user_page = format!("/admin/users/{customer}");
    let form = form_on(
        &mut browser,
        &server,
        &user_page,
        &format!("{user_page}/disable"),
    )
    .await;
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        location(&done),
        format!("{user_page}?notice=disabled&lang=sv")
    );
    assert!(is_disabled(&server, &customer).await);

    // What support may not touch: the check every apps and keys page will make.
    for area in [roles::Area::Clients, roles::Area::Keys] {
        assert!(!Role::Support.may(area), "{area:?}");
        assert!(Role::Admin.may(area), "{area:?}");
    }
    assert!(Role::Support.may(roles::Area::Audit));
}

#[tokio::test]
async fn a_change_without_the_pages_csrf_token_is_refused() {
    let server = TestServer::start().await;
    let (mut browser, _, customer) = admin_and_customer(&server, Role::Admin).await;
    let user_page = format!("/admin/users/{customer}");
    let form = form_on(
        &mut browser,
        &server,
        &user_page,
        &format!("{user_page}/disable"),
    )
    .await;

    let mut missing = form.clone();
    missing.fields.retain(|(k, _)| k != "csrf");
    let mut forged = form.clone();
    forged.set("csrf", &"0".repeat(64));
    for (what, fields) in [
        ("no token", missing.fields),
        ("a forged token", forged.fields),
    ] {
        let refused = browser.post_form(form.action.as_str(), &fields).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{what}");
        assert!(
            refused.body.contains("Formuläret hade gått ut"),
            "{what}: {}",
            refused.body
        );
    }
    // Another browser's cookie with this page's token.
    let mut stranger = Browser::new(&server.base_url);
    let cookie = browser
        .cookie("__Host-leasify-session")
        .unwrap()
        .to_string();
    stranger.set_cookie("__Host-leasify-session", &cookie);
    stranger.set_cookie("__Host-leasify-csrf", &"a".repeat(43));
    let refused = stranger.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(!is_disabled(&server, &customer).await);

    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    assert!(is_disabled(&server, &customer).await);
}

#[tokio::test]
async fn a_change_needs_a_login_no_older_than_the_step_up_limit() {
    let server = TestServer::start_with(|config| config.admin.step_up_minutes = 5).await;
    let (mut browser, admin, customer) = admin_and_customer(&server, Role::Admin).await;
    let user_page = format!("/admin/users/{customer}");
    server.clock.advance(5 * 60 + 1);

    // Reading needs no fresh login; the change does.
    let form = form_on(
        &mut browser,
        &server,
        &user_page,
        &format!("{user_page}/disable"),
    )
    .await;
    let asked = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        location(&asked),
        format!("/login?next=%2Fadmin%2Fusers%2F{customer}&reauth=1&lang=sv")
    );
    assert!(!is_disabled(&server, &customer).await, "not done yet");
    let login = browser.follow(asked).await;
    assert!(
        login
            .body
            .contains("Bekräfta att det är du: logga in igen för att fortsätta."),
        "{}",
        login.body
    );

    // Logging in again comes back to the same page, where the change now goes through.
    let back = submit_login(&mut browser, &login, ADMIN).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.describe());
    assert_eq!(back.url.path(), user_page);
    let form = Form::find(&back, &format!("form[action='{user_page}/disable']")).unwrap();
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(
        location(&done),
        format!("{user_page}?notice=disabled&lang=sv")
    );
    assert!(is_disabled(&server, &customer).await);
    let shown = browser.follow(done).await;
    assert!(
        shown.body.contains("Användaren är spärrad"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("badge-disabled"));

    // Audited with the person as actor.
    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            user_id: Some(customer.clone()),
            kind: Some(kinds::USER_DISABLED.into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_type, "user");
    assert_eq!(events[0].actor_id.as_deref(), Some(admin.as_str()));
    assert!(events[0].ip.is_some(), "the request's origin is recorded");
}

#[tokio::test]
async fn a_personnummer_is_searched_through_the_blind_index_and_never_shown() {
    let server = TestServer::start().await;
    let (mut admin, _, customer) = admin_and_customer(&server, Role::Admin).await;

    // The customer types in their number in Mina uppgifter.
    let (mut browser, account) = log_in_at(&server, CUSTOMER, "/account").await;
    let mut form = Form::find(&account, "form[action='/account/personnummer']").unwrap();
    form.set("personnummer", NUMBER);
    form.set("password", PASSWORD);
    form.fields.push(("action".into(), "save".into()));
    let saved = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.describe());

    let mut search = form_on(&mut admin, &server, "/admin/users", "/admin/users/search").await;
    search.set("q", "19811228-9874");
    let found = admin
        .post_form(search.action.as_str(), &search.fields)
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.describe());
    assert!(found.body.contains(CUSTOMER), "{}", found.body);
    assert!(found.body.contains("1981****-****"), "{}", found.body);
    // (Digits alone could occur in a token or an id by chance; the number's forms cannot.)
    for clear in ["8112289874", "811228-9874", "19811228"] {
        assert!(!found.body.contains(clear), "{clear} shown: {}", found.body);
    }
    // Only the holder is listed.
    assert!(
        !found.body.contains(&format!(">{ADMIN}<")),
        "{}",
        found.body
    );

    // The user's page shows it masked.
    let page = admin
        .get(&server.url(&format!("/admin/users/{customer}")))
        .await;
    assert!(page.body.contains("1981****-****"), "{}", page.body);
    assert!(!page.body.contains("8112289874") && !page.body.contains("-9874"));

    // Anything else is a search of email and name at a bookmarkable address.
    search.set("q", "karin");
    let moved = admin
        .post_form(search.action.as_str(), &search.fields)
        .await;
    assert_eq!(location(&moved), "/admin/users?q=karin&lang=sv");
    let listed = admin.follow(moved).await;
    assert!(listed.body.contains(CUSTOMER));
    assert!(!listed.body.contains(&format!(">{ADMIN}<")));
    // A number that is not valid finds nobody, and says so.
    search.set("q", "19811228-9875");
    let moved = admin
        .post_form(search.action.as_str(), &search.fields)
        .await;
    let nothing = admin.follow(moved).await;
    assert!(
        nothing.body.contains("Ingen användare matchar"),
        "{}",
        nothing.body
    );
}

#[tokio::test]
async fn the_list_comes_in_pages_with_status_badges() {
    let server = TestServer::start().await;
    let (mut browser, _, _) = admin_and_customer(&server, Role::Admin).await;
    for n in 0..30 {
        leasify_id::admin::users::create(
            &server.state,
            &Caller::system(),
            leasify_id::admin::users::NewUser {
                email: format!("kund{n:02}@kund.se"),
                name: format!("Kund {n}"),
                locale: "sv".into(),
                password: None,
                invite: n % 2 == 0,
            },
        )
        .await
        .unwrap();
    }
    let first = browser.get(&server.url("/admin/users")).await;
    let items = first.body.matches("<li>").count();
    assert_eq!(items, 25, "{}", first.body);
    assert!(first.body.contains("badge-invited"));
    assert!(first.body.contains("badge-active"));
    assert!(first.body.contains("badge-admin"));
    let document = scraper::Html::parse_document(&first.body);
    let next = document
        .select(&scraper::Selector::parse("a[rel=next]").unwrap())
        .next()
        .and_then(|a| a.attr("href"))
        .expect("a next page")
        .to_string();
    let second = browser.get(&server.url(&next)).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body.matches("<li>").count(), 32 - 25);
    assert!(!second.body.contains("rel=\"next\""));
    assert!(second.body.contains("Första sidan"));
    let garbage = browser.get(&server.url("/admin/users?cursor=%25%25")).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn one_customer_is_invited_with_the_welcome_email_queued() {
    let server = TestServer::start().await;
    let (mut browser, admin, _) = admin_and_customer(&server, Role::Support).await;
    let mut form = form_on(&mut browser, &server, "/admin/invite", "/admin/invite").await;

    form.set("email", "inte-en-adress");
    form.set("name", "");
    let refused = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("Ange en giltig e-postadress."));
    assert!(refused.body.contains("Ange ett namn"));

    form.set("email", "Nora@Kund.se");
    form.set("name", "Nora Nilsson");
    form.set("locale", "en");
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    let created = server
        .state
        .store
        .user_by_email("nora@kund.se")
        .await
        .unwrap()
        .expect("the user exists");
    assert_eq!(
        location(&done),
        format!("/admin/users/{}?notice=invited&lang=sv", created.id)
    );
    assert_eq!(created.locale, "en");
    assert!(created.password_hash.is_none());
    let outbox = server.state.store.list_outbox(10).await.unwrap();
    assert!(
        outbox
            .iter()
            .any(|m| m.recipient == "nora@kund.se" && m.kind == "invite"),
        "{outbox:?}"
    );
    let page = browser.follow(done).await;
    assert!(page.body.contains("Inbjudan är skickad."), "{}", page.body);
    assert!(page.body.contains("badge-invited"));
    let invited = server
        .state
        .store
        .audit_events(&AuditQuery {
            user_id: Some(created.id.clone()),
            kind: Some(kinds::USER_INVITED.into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(invited[0].actor_id.as_deref(), Some(admin.as_str()));

    // The same address again.
    let again = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("Det finns redan en användare"));
}

#[tokio::test]
async fn deleting_needs_the_email_typed_and_not_ones_own_account() {
    let server = TestServer::start().await;
    let (mut browser, admin, customer) = admin_and_customer(&server, Role::Admin).await;
    let user_page = format!("/admin/users/{customer}");
    let mut form = form_on(
        &mut browser,
        &server,
        &user_page,
        &format!("{user_page}/delete"),
    )
    .await;

    form.set("confirm_email", "karin@kund.s");
    let refused = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .body
            .contains("stämmer inte med användarens e-postadress")
    );
    assert!(
        server
            .state
            .store
            .user_by_id(&customer)
            .await
            .unwrap()
            .is_some()
    );

    form.set("confirm_email", " Karin@Kund.se ");
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(location(&done), "/admin/users?notice=deleted&lang=sv");
    assert!(
        server
            .state
            .store
            .user_by_id(&customer)
            .await
            .unwrap()
            .is_none()
    );
    let gone = browser.get(&server.url(&user_page)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // One's own page has no way to lock oneself out, and the forms refuse it anyway.
    let own = format!("/admin/users/{admin}");
    let page = browser.get(&server.url(&own)).await;
    assert!(Form::find(&page, &format!("form[action='{own}/delete']")).is_none());
    assert!(Form::find(&page, &format!("form[action='{own}/disable']")).is_none());
    let mut fields = Form::find(&page, &format!("form[action='{own}/invitation']"))
        .unwrap()
        .fields;
    fields.push(("confirm_email".into(), ADMIN.into()));
    for action in ["delete", "disable"] {
        let refused = browser
            .post_form(&server.url(&format!("{own}/{action}")), &fields)
            .await;
        assert_eq!(
            location(&refused),
            format!("{own}?notice=own-account&lang=sv")
        );
    }
    assert!(!is_disabled(&server, &admin).await);
}

#[tokio::test]
async fn the_keys_page_shows_the_keys_and_rotates_them_after_a_fresh_login() {
    let server = TestServer::start_with(|config| config.admin.step_up_minutes = 5).await;
    let (mut browser, admin, _) = admin_and_customer(&server, Role::Admin).await;
    let before = server.state.keys.list().await.unwrap();
    assert!(!before.is_empty());

    let page = browser.get(&server.url("/admin/keys")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert!(
        page.body.contains("<h1>Signeringsnycklar</h1>"),
        "{}",
        page.body
    );
    for key in &before {
        assert!(page.body.contains(&key.kid), "{} not shown", key.kid);
    }
    assert!(page.body.contains("Signerar nu"), "{}", page.body);
    assert!(
        page.body
            .contains(r#"aria-current="page">Signeringsnycklar"#)
    );
    let english = browser.get(&server.url("/admin/keys?lang=en")).await;
    assert!(english.body.contains("<h1>Signing keys</h1>"));

    // Without the box ticked nothing happens.
    let form = Form::find(&page, "form[action='/admin/keys/rotate']").expect("a rotate form");
    let mut unconfirmed = form.fields.clone();
    unconfirmed.retain(|(k, _)| k != "confirm");
    let refused = browser
        .post_form(&server.url("/admin/keys/rotate"), &unconfirmed)
        .await;
    assert_eq!(
        location(&refused),
        "/admin/keys?notice=confirm-first&lang=sv"
    );
    assert_eq!(server.state.keys.list().await.unwrap().len(), before.len());

    // A login older than the step-up limit is asked for again, and comes back here.
    server.clock.advance(5 * 60 + 1);
    let mut confirmed = form.fields.clone();
    confirmed.retain(|(k, _)| k != "confirm");
    confirmed.push(("confirm".into(), "yes".into()));
    let asked = browser
        .post_form(&server.url("/admin/keys/rotate"), &confirmed)
        .await;
    assert_eq!(
        location(&asked),
        "/login?next=%2Fadmin%2Fkeys&reauth=1&lang=sv"
    );
    assert_eq!(server.state.keys.list().await.unwrap().len(), before.len());
    let login = browser.follow(asked).await;
    let back = submit_login(&mut browser, &login, ADMIN).await;
    assert_eq!(back.url.path(), "/admin/keys", "{}", back.describe());
    let mut form = Form::find(&back, "form[action='/admin/keys/rotate']").unwrap();
    form.fields.retain(|(k, _)| k != "confirm");
    form.fields.push(("confirm".into(), "yes".into()));
    let done = browser.post_form(form.action.as_str(), &form.fields).await;
    assert_eq!(location(&done), "/admin/keys?notice=rotated&lang=sv");

    let after = server.state.keys.list().await.unwrap();
    assert!(after.len() > before.len(), "{after:?}");
    let shown = browser.follow(done).await;
    assert!(shown.body.contains("Nya nycklar är publicerade."));
    assert!(shown.body.contains("Nästa"), "{}", shown.body);
    for key in after.iter().filter(|k| k.status == "next") {
        assert!(shown.body.contains(&key.kid));
    }

    // Audited with the person as actor.
    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            kind: Some(kinds::KEY_ROTATED.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!events.is_empty());
    for event in &events {
        assert_eq!(event.actor_type, "user");
        assert_eq!(event.actor_id.as_deref(), Some(admin.as_str()));
    }
}

#[tokio::test]
async fn support_is_refused_the_keys_but_reads_the_audit_trail() {
    let server = TestServer::start().await;
    let (mut browser, _, _) = admin_and_customer(&server, Role::Support).await;
    let before = server.state.keys.list().await.unwrap().len();
    let users = browser.get(&server.url("/admin/users")).await;
    assert!(!users.body.contains("/admin/keys"), "no link to the keys");
    assert!(users.body.contains("/admin/audit"));

    let keys = browser.get(&server.url("/admin/keys")).await;
    assert_refused(&keys, "GET /admin/keys as support");
    let csrf = Form::find(&users, "form[action='/admin/users/search']")
        .and_then(|f| f.get("csrf").map(str::to_string))
        .unwrap();
    let fields = vec![
        ("csrf".to_string(), csrf),
        ("confirm".to_string(), "yes".to_string()),
    ];
    let rotate = browser
        .post_form(&server.url("/admin/keys/rotate"), &fields)
        .await;
    assert_refused(&rotate, "POST /admin/keys/rotate as support");
    assert_eq!(server.state.keys.list().await.unwrap().len(), before);

    let audit = browser.get(&server.url("/admin/audit")).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.describe());
    assert!(audit.body.contains("<h1>Händelselogg</h1>"));
    assert!(
        audit.body.contains("<code>login.succeeded</code>"),
        "{}",
        audit.body
    );
    let csv = browser.get(&server.url("/admin/audit.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
}

#[tokio::test]
async fn a_customer_is_refused_the_keys_and_the_audit_trail() {
    let server = TestServer::start().await;
    person(&server, CUSTOMER, None).await;
    let (mut browser, account) = log_in_at(&server, CUSTOMER, "/account").await;
    let csrf = Form::find(&account, "form[action='/account/profile']")
        .and_then(|f| f.get("csrf").map(str::to_string))
        .expect("a CSRF token");
    for path in [
        "/admin/keys",
        "/admin/audit",
        "/admin/audit.csv",
        "/admin/audit?type=login.succeeded",
    ] {
        let page = browser.get(&server.url(path)).await;
        assert_refused(&page, &format!("GET {path}"));
    }
    let before = server.state.keys.list().await.unwrap().len();
    let fields = vec![
        ("csrf".to_string(), csrf),
        ("confirm".to_string(), "yes".to_string()),
    ];
    let page = browser
        .post_form(&server.url("/admin/keys/rotate"), &fields)
        .await;
    assert_refused(&page, "POST /admin/keys/rotate");
    assert_eq!(server.state.keys.list().await.unwrap().len(), before);
}

#[tokio::test]
async fn the_audit_trail_is_filtered_in_pages_and_exported_as_safe_csv() {
    let server = TestServer::start().await;
    let (mut browser, admin, customer) = admin_and_customer(&server, Role::Admin).await;

    // An event of the customer's, from a browser whose user agent is a spreadsheet formula
    // (the way such text reaches the trail; names never do), with a detail needing quotes.
    let origin = Origin {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("=cmd|' /C calc'!A0".into()),
    };
    let event = with_origin(origin, async {
        Caller::new(leasify_id::audit::Actor::User(customer.clone()))
            .event(kinds::LOGIN_FAILED)
            .user(&customer)
            .failed()
            .detail("reason", "a, \"quoted\"\nline")
            .at(server.state.clock.now())
    })
    .await;
    server.state.store.append_audit(&[event]).await.unwrap();

    let all = browser.get(&server.url("/admin/audit")).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.describe());
    assert!(
        all.body.contains("<code>login.failed</code>"),
        "{}",
        all.body
    );
    assert!(
        all.body.contains("<code>login.succeeded</code>"),
        "{}",
        all.body
    );
    let rows = |body: &str| body.matches("<tr>").count() - 1;

    // By email and type: the customer's failed login only.
    let only = browser
        .get(&server.url(&format!(
            "/admin/audit?user={}&type=login.failed",
            CUSTOMER.replace('@', "%40")
        )))
        .await;
    assert_eq!(only.status, StatusCode::OK, "{}", only.describe());
    assert_eq!(rows(&only.body), 1, "{}", only.body);
    assert!(only.body.contains(&customer));
    assert!(!only.body.contains("<code>login.succeeded</code>"));
    // By id: the administrator logged in, and never failed.
    let admins = browser
        .get(&server.url(&format!("/admin/audit?user={admin}&type=login.succeeded")))
        .await;
    assert!(rows(&admins.body) >= 1, "{}", admins.body);
    assert!(!admins.body.contains(&format!(">{customer}<")));
    let none = browser
        .get(&server.url(&format!("/admin/audit?user={admin}&type=login.failed")))
        .await;
    assert!(
        none.body.contains("Inga händelser matchar filtret."),
        "{}",
        none.body
    );
    let nobody = browser
        .get(&server.url("/admin/audit?user=nobody%40kund.se"))
        .await;
    assert!(nobody.body.contains("Inga händelser matchar filtret."));
    // A day range: today has them, a day long ago has none.
    let today = time::OffsetDateTime::from_unix_timestamp(server.state.clock.now())
        .unwrap()
        .date();
    let day = |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    let range = browser
        .get(&server.url(&format!(
            "/admin/audit?from={}&to={}&type=login.failed",
            day(today.previous_day().unwrap()),
            day(today.next_day().unwrap())
        )))
        .await;
    assert_eq!(rows(&range.body), 1, "{}", range.body);
    let old = browser
        .get(&server.url("/admin/audit?from=2001-01-01&to=2001-01-31"))
        .await;
    assert!(old.body.contains("Inga händelser matchar filtret."));
    let bad = browser
        .get(&server.url("/admin/audit?from=2001-13-01&type=nonsense"))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Pages: one event per admin login, in pages of 50.
    for n in 0..60 {
        let event = Caller::system()
            .event(kinds::USER_UPDATED)
            .user(&customer)
            .detail("n", n)
            .at(server.state.clock.now());
        server.state.store.append_audit(&[event]).await.unwrap();
    }
    let first = browser
        .get(&server.url("/admin/audit?type=user.updated"))
        .await;
    assert_eq!(rows(&first.body), 50, "{}", first.body);
    let document = scraper::Html::parse_document(&first.body);
    let next = document
        .select(&scraper::Selector::parse("a[rel=next]").unwrap())
        .next()
        .and_then(|a| a.attr("href"))
        .expect("a next page")
        .to_string();
    assert!(next.contains("type=user.updated"), "{next}");
    let second = browser.get(&server.url(&next)).await;
    assert_eq!(rows(&second.body), 10, "{}", second.body);
    assert!(!second.body.contains("rel=\"next\""));

    // The export: the same filters, a header row, the formula made text.
    let csv = browser
        .get(&server.url(&format!(
            "/admin/audit.csv?user={customer}&type=login.failed"
        )))
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.describe());
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    assert!(
        csv.header("content-disposition")
            .is_some_and(|d| d.contains("attachment"))
    );
    let mut lines = csv.body.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("id,time_utc,type,result,actor_type,actor_id,user_id,client_id,ip,user_agent,details")
    );
    assert!(csv.body.contains(",'=cmd|' /C calc'!A0,"), "{}", csv.body);
    assert!(!csv.body.contains(",=cmd"), "{}", csv.body);
    assert!(
        csv.body
            .contains(r#""{""reason"":""a, \""quoted\""\nline""}""#),
        "{}",
        csv.body
    );
    assert_eq!(csv.body.matches("login.failed").count(), 1);
    let everything = browser
        .get(&server.url("/admin/audit.csv?type=user.updated"))
        .await;
    assert_eq!(everything.body.matches("\r\n").count(), 61);
}

#[tokio::test]
async fn the_user_page_lists_passkeys_and_removes_one_but_not_the_last_way_in() {
    let server = TestServer::start().await;
    person(&server, ADMIN, Some(Role::Support)).await;
    // A customer without a password (never chose one) who logs in with passkeys.
    let customer = leasify_id::admin::users::create(
        &server.state,
        &Caller::system(),
        leasify_id::admin::users::NewUser {
            email: "ines@kund.se".into(),
            name: "Ines Kund".into(),
            locale: "sv".into(),
            password: None,
            invite: false,
        },
    )
    .await
    .expect("customer")
    .id;
    for (key, at) in [("p1", 1), ("p2", 2)] {
        let passkey = leasify_id::store::StoredPasskey {
            id: key.into(),
            user_id: customer.clone(),
            credential_id: format!("cred-{key}"),
            credential: "{}".into(),
            rp_id: "localhost".into(),
            name: format!("Telefon {key}"),
            created_at: at,
            last_used_at: None,
            sign_count: 0,
            backup_eligible: true,
            backup_state: true,
        };
        server
            .state
            .store
            .insert_passkey(&passkey, &[])
            .await
            .unwrap();
    }
    let (mut browser, page) = log_in_at(&server, ADMIN, "/admin").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    let user_page = format!("/admin/users/{customer}");
    let shown = browser.get(&server.url(&user_page)).await;
    assert!(shown.body.contains("Telefon p1") && shown.body.contains("Telefon p2"));
    assert!(shown.body.contains("Synkas mellan dina enheter"));

    let action = format!("{user_page}/passkeys/p1/remove");
    let form = form_on(&mut browser, &server, &user_page, &action).await;
    let removed = browser.post_form(form.action.as_str(), &form.fields).await;
    assert!(location(&removed).contains("notice=passkey-removed"));
    let action = format!("{user_page}/passkeys/p2/remove");
    let form = form_on(&mut browser, &server, &user_page, &action).await;
    let refused = browser.post_form(form.action.as_str(), &form.fields).await;
    assert!(location(&refused).contains("notice=passkey-last-way"));
    let page = browser.follow(refused).await;
    assert!(
        page.body.contains("enda sätt att logga in"),
        "{}",
        page.describe()
    );
    assert_eq!(
        server
            .state
            .store
            .passkeys_of(&customer)
            .await
            .unwrap()
            .len(),
        1
    );
    let events = server
        .state
        .store
        .audit_events(&leasify_id::store::AuditQuery {
            user_id: Some(customer.clone()),
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap();
    let removal = events
        .iter()
        .find(|e| e.kind == "passkey.removed")
        .expect("the removal is audited");
    assert_eq!(
        removal.actor_id.as_deref(),
        Some(admin_id(&server).await.as_str())
    );
}

async fn admin_id(server: &TestServer) -> String {
    server
        .state
        .store
        .user_by_email(ADMIN)
        .await
        .unwrap()
        .expect("the administrator")
        .id
}

//! The console's apps over real HTTP: only the `admin` role gets in (support and customers see
//! the plain 403 on every route); registering through the form, with bad input shown field by
//! field and nothing made; the secret shown once, in the answer to the form and never again,
//! and working at the token endpoint; a new secret replacing the old at once; editing; deleting
//! after the name is typed; and the CSRF token and recent login every change needs.

use reqwest::StatusCode;
use reqwest::header;

use crate::common::{self, Browser, Form, REDIRECT_URI, Response, TestServer};
use leasify_id::admin::clients::{self, NewClient};
use leasify_id::admin::roles::{self, Role};
use leasify_id::audit::{Caller, kinds};
use leasify_id::store::AuditQuery;

const PASSWORD: &str = "Blåbärssylt-på-taket-42";
const ADMIN: &str = "admin@leasify.se";
const CUSTOMER: &str = "karin@kund.se";
const NEW: &str = "/admin/apps/new";

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

async fn submit_login(browser: &mut Browser, page: &Response, email: &str) -> Response {
    let mut form = Form::find(page, "form[action='/login']")
        .unwrap_or_else(|| panic!("a login form:\n{}", page.describe()));
    form.set("email", email);
    form.set("password", PASSWORD);
    let response = browser.post_form(form.action.as_str(), &form.fields).await;
    browser.follow(response).await
}

/// Logs in on our login page, reached by opening `path`; returns the browser and the page the
/// login came back to.
async fn log_in_at(server: &TestServer, email: &str, path: &str) -> (Browser, Response) {
    let mut browser = Browser::new(&server.base_url);
    let page = browser.navigate(&server.url(path)).await;
    let page = submit_login(&mut browser, &page, email).await;
    (browser, page)
}

/// An administrator with `role`, logged in at the console; returns the browser and their id.
async fn console_as(server: &TestServer, role: Role) -> (Browser, String) {
    let id = person(server, ADMIN, Some(role)).await;
    let (browser, page) = log_in_at(server, ADMIN, "/admin").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    (browser, id)
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

/// The plain error page with a 403, saying nothing about the console.
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
    for hint in ["Appar", "Registrera", "Administration", "client_id"] {
        assert!(
            !page.body.contains(hint),
            "{what}: {hint:?} in {}",
            page.body
        );
    }
}

/// The hidden fields (CSRF token, language, way back) of the form posting to `action` on the
/// page at `path`.
async fn hidden_fields(
    browser: &mut Browser,
    server: &TestServer,
    path: &str,
    action: &str,
) -> Vec<(String, String)> {
    let page = browser.get(&server.url(path)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    let form = Form::find(&page, &format!("form[action='{action}']"))
        .unwrap_or_else(|| panic!("a form posting to {action}:\n{}", page.describe()));
    form.fields
        .into_iter()
        .filter(|(k, _)| ["csrf", "lang", "back"].contains(&k.as_str()))
        .collect()
}

/// The hidden fields plus `fields`, as a browser would send the app form.
fn with(hidden: &[(String, String)], fields: &[(&str, &str)]) -> Vec<(String, String)> {
    hidden
        .iter()
        .cloned()
        .chain(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// A login app through the form: code flow with refresh and client_credentials, a secret in the
/// Authorization header, first-party.
fn good_app(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_string()),
        ("redirect_uris", format!("{REDIRECT_URI}\n")),
        ("post_logout_redirect_uris", String::new()),
        ("grant", "authorization_code".into()),
        ("grant", "refresh_token".into()),
        ("grant", "client_credentials".into()),
        ("auth_method", "client_secret_basic".into()),
        ("scope", "openid".into()),
        ("scope", "email".into()),
        ("scope", "profile".into()),
        ("party", "first".into()),
        ("backchannel_logout_uri", String::new()),
    ]
}

fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The page as text with the template's escapes undone (it writes `/` as `&#x2f;`), for
/// looking for addresses and settings in it.
fn text(page: &Response) -> String {
    page.body
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the read-only field `#id` on a page.
fn field_value(page: &Response, id: &str) -> Option<String> {
    let document = scraper::Html::parse_document(&page.body);
    let selector = scraper::Selector::parse(&format!("input#{id}")).expect("selector");
    document
        .select(&selector)
        .next()
        .and_then(|input| input.attr("value"))
        .map(str::to_string)
}

async fn app_count(server: &TestServer) -> usize {
    clients::list(&server.state).await.expect("apps").len()
}

/// A token for the app itself: 200 with the right secret, 401 with a wrong one.
async fn client_credentials(server: &TestServer, id: &str, secret: &str) -> Response {
    common::token_request(
        &server.base_url,
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
}

/// Registers an app through the console form; returns (client_id, secret, the secret page).
async fn register(browser: &mut Browser, server: &TestServer, name: &str) -> (String, String) {
    let hidden = hidden_fields(browser, server, NEW, NEW).await;
    let fields = good_app(name);
    let page = browser
        .post_form(&server.url(NEW), &with(&hidden, &borrowed(&fields)))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    let secret = field_value(&page, "client-secret").expect("the secret on the page");
    let id = field_value(&page, "client-id").expect("the client id on the page");
    (id, secret)
}

#[tokio::test]
async fn support_and_customers_are_refused_every_apps_route() {
    let server = TestServer::start().await;
    let (id, secret) = server.create_client("Hyresportalen").await;
    let app = format!("/admin/apps/{id}");
    let (mut browser, _) = console_as(&server, Role::Support).await;
    let users = browser.get(&server.url("/admin/users")).await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(!users.body.contains("/admin/apps"), "no link to the apps");
    let csrf = Form::find(&users, "form[action='/admin/users/search']")
        .and_then(|f| f.get("csrf").map(str::to_string))
        .expect("a CSRF token");

    person(&server, CUSTOMER, None).await;
    let (mut customer, account) = log_in_at(&server, CUSTOMER, "/account").await;
    assert!(account.body.contains("Mina uppgifter"));
    let customer_csrf = Form::find(&account, "form[action='/account/profile']")
        .and_then(|f| f.get("csrf").map(str::to_string))
        .expect("a CSRF token");

    for (who, browser, csrf) in [
        ("support", &mut browser, csrf),
        ("a customer", &mut customer, customer_csrf),
    ] {
        for path in [
            "/admin/apps".to_string(),
            NEW.to_string(),
            app.clone(),
            "/admin/apps/nobody".to_string(),
            format!("{app}/secret"),
        ] {
            let page = browser.get(&server.url(&path)).await;
            assert_refused(&page, &format!("{who}: GET {path}"));
        }
        let mut fields = vec![
            ("csrf".to_string(), csrf),
            ("lang".to_string(), "sv".to_string()),
            ("confirm".to_string(), "yes".to_string()),
            ("confirm_name".to_string(), "Hyresportalen".to_string()),
        ];
        fields.extend(
            good_app("Inbrottsappen")
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
        for path in [
            NEW.to_string(),
            app.clone(),
            format!("{app}/secret"),
            format!("{app}/delete"),
            "/admin/apps".to_string(),
        ] {
            let page = browser.post_form(&server.url(&path), &fields).await;
            assert_refused(&page, &format!("{who}: POST {path}"));
        }
    }

    // Nothing changed: the app is there, with its name and its secret.
    let apps = clients::list(&server.state).await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].name, "Hyresportalen");
    let token = client_credentials(&server, &id, &secret).await;
    assert_eq!(
        token.status,
        StatusCode::BAD_REQUEST,
        "the secret still authenticates (the app may not use client_credentials): {}",
        token.describe()
    );
    assert!(token.body.contains("unauthorized_client"), "{}", token.body);

    // Another method on an apps route is an unknown page to an administrator, and refused to
    // support like everything else here.
    let session = browser
        .cookie("__Host-leasify-session")
        .unwrap()
        .to_string();
    let refused = common::read(
        common::plain_client()
            .delete(server.url(&app))
            .header(header::COOKIE, format!("__Host-leasify-session={session}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn only_administrators_see_the_apps_and_other_methods_are_unknown() {
    let server = TestServer::start().await;
    let (id, _) = server.create_client("Hyresportalen").await;
    let (mut browser, _) = console_as(&server, Role::Admin).await;
    let users = browser.get(&server.url("/admin/users")).await;
    assert!(
        users
            .body
            .contains(r#"<a href="/admin/apps?lang=sv">Appar</a>"#),
        "{}",
        users.body
    );
    let list = browser.get(&server.url("/admin/apps")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.describe());
    assert!(list.body.contains("<h1>Appar</h1>"), "{}", list.body);
    assert!(list.body.contains(&id));
    assert!(text(&list).contains(&format!(r#"href="/admin/apps/{id}?lang=sv""#)));
    assert!(list.body.contains("Registrera app"));
    assert!(list.body.contains(r#"aria-current="page">Appar"#));
    let english = browser.get(&server.url("/admin/apps?lang=en")).await;
    assert!(english.body.contains("<h1>Apps</h1>"), "{}", english.body);
    assert!(english.body.contains("Register an app"));

    let session = browser
        .cookie("__Host-leasify-session")
        .unwrap()
        .to_string();
    for path in [
        "/admin/apps".to_string(),
        NEW.to_string(),
        format!("/admin/apps/{id}"),
        format!("/admin/apps/{id}/delete"),
    ] {
        let response = common::read(
            common::plain_client()
                .put(server.url(&path))
                .header(header::COOKIE, format!("__Host-leasify-session={session}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "PUT {path}");
    }
    let unknown = browser.get(&server.url("/admin/apps/no-such-app")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(app_count(&server).await, 1);
}

#[tokio::test]
async fn bad_input_is_shown_field_by_field_and_nothing_is_made() {
    let server = TestServer::start().await;
    let (mut browser, _) = console_as(&server, Role::Admin).await;
    let hidden = hidden_fields(&mut browser, &server, NEW, NEW).await;

    let refused = browser
        .post_form(
            &server.url(NEW),
            &with(
                &hidden,
                &[
                    ("name", "   "),
                    (
                        "redirect_uris",
                        "https://ok.example.com/cb\r\nhttp://rp.example.com/cb\r\n",
                    ),
                    ("post_logout_redirect_uris", "https://ok.example.com/#bye"),
                    ("grant", "authorization_code"),
                    ("grant", "password"),
                    ("auth_method", "client_secret_basic"),
                    ("scope", "openid"),
                    ("party", "third"),
                    ("backchannel_logout_uri", "http://rp.example.com/logout"),
                ],
            ),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.describe()
    );
    let body = &text(&refused);
    assert!(body.contains("Appen sparades inte."), "{body}");
    for (field, message) in [
        ("name", "Namnet får inte vara tomt."),
        ("redirect_uris", "Adresserna nedan godtas inte."),
        ("post_logout", "Adresserna nedan godtas inte."),
        ("grants", "Välj bara bland flödena i listan."),
        ("backchannel", "Adressen ska vara fullständig"),
    ] {
        assert!(
            body.contains(&format!(r#"id="{field}-error""#)),
            "{field}: {body}"
        );
        assert!(body.contains(message), "{field}: {message}: {body}");
    }
    for described in [
        r#"aria-invalid="true" aria-describedby="name-error""#,
        r#"aria-describedby="redirect_uris-help redirect_uris-error""#,
        r#"aria-describedby="backchannel-help backchannel-error""#,
        r#"aria-invalid="true" aria-describedby="grants-error""#,
    ] {
        assert!(body.contains(described), "{described}: {body}");
    }
    // The refused address is named; the good one only in the kept text.
    assert!(body.contains("<li><code>http://rp.example.com/cb</code></li>"));
    assert!(!body.contains("<li><code>https://ok.example.com/cb</code></li>"));
    assert!(body.contains("https://ok.example.com/cb\r\nhttp://rp.example.com/cb"));
    assert!(body.contains(r#"value="third" checked"#), "kept: {body}");
    assert!(body.contains(r#"value="http://rp.example.com/logout""#));
    assert_eq!(app_count(&server).await, 0);

    let long_name = "x".repeat(201);
    // Each reason its own message, in the form's language, and never a 500.
    for (fields, message) in [
        (
            vec![("name", "Utan flöde"), ("redirect_uris", REDIRECT_URI)],
            "Välj minst ett flöde.",
        ),
        (
            vec![
                ("name", "Publik server"),
                ("grant", "client_credentials"),
                ("auth_method", "none"),
            ],
            "En publik app kan inte använda flödet",
        ),
        (
            vec![("name", "Utan adress"), ("grant", "authorization_code")],
            "Ange minst en återanropsadress",
        ),
        (
            vec![
                ("name", "Konstig typ"),
                ("grant", "client_credentials"),
                ("auth_method", "magic"),
            ],
            "Välj en typ av app i listan.",
        ),
        (
            vec![
                ("name", "Egna nycklar"),
                ("grant", "client_credentials"),
                ("auth_method", "private_key_jwt"),
            ],
            "Appens egna nycklar har inte registrerats",
        ),
        (
            vec![
                ("name", "Fel scope"),
                ("grant", "authorization_code"),
                ("redirect_uris", REDIRECT_URI),
                ("scope", "everything"),
            ],
            "Välj bara bland behörigheterna i listan.",
        ),
        (
            vec![
                ("name", "Admin utan flöde"),
                ("grant", "authorization_code"),
                ("redirect_uris", REDIRECT_URI),
                ("scope", "admin:users:write"),
            ],
            "admin:-behörigheter kräver flödet",
        ),
        (
            vec![("name", "Rad\nbrytning"), ("grant", "client_credentials")],
            "Namnet får inte innehålla radbrytningar",
        ),
        (
            vec![
                ("name", long_name.as_str()),
                ("grant", "client_credentials"),
            ],
            "Namnet får vara högst 200 tecken.",
        ),
        (
            vec![
                ("name", "Trasig adress"),
                ("grant", "authorization_code"),
                ("redirect_uris", "not a url\n\u{0}\nhttps://[::1"),
            ],
            "Adresserna nedan godtas inte.",
        ),
    ] {
        let page = browser
            .post_form(&server.url(NEW), &with(&hidden, &fields))
            .await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{fields:?}: {}",
            page.describe()
        );
        assert!(
            page.body.contains(message),
            "{fields:?}: {message}: {}",
            page.body
        );
    }
    let mut english = hidden.clone();
    english.retain(|(k, _)| k != "lang");
    english.push(("lang".into(), "en".into()));
    let page = browser
        .post_form(
            &server.url(NEW),
            &with(&english, &[("name", ""), ("grant", "authorization_code")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("The name must not be empty."));
    assert!(page.body.contains("Enter at least one redirect URI"));
    assert_eq!(app_count(&server).await, 0);
}

#[tokio::test]
async fn the_secret_is_shown_once_and_works_at_the_token_endpoint() {
    let server = TestServer::start().await;
    let (mut browser, admin) = console_as(&server, Role::Admin).await;
    let hidden = hidden_fields(&mut browser, &server, NEW, NEW).await;
    let fields = good_app("Hyresportalen");
    let page = browser
        .post_form(&server.url(NEW), &with(&hidden, &borrowed(&fields)))
        .await;

    // Shown in the answer to the form, not behind a redirect, and kept by no cache.
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert!(page.header("location").is_none());
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.contains("Appen är registrerad"), "{}", page.body);
    assert!(
        page.body
            .contains("Den visas bara den här gången och kan inte hämtas senare."),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<script src="/static/copy.js"></script>"#)
    );
    assert!(page.body.contains(r#"id="copy-secret""#));
    let secret = field_value(&page, "client-secret").expect("the secret");
    let id = field_value(&page, "client-id").expect("the client id");
    assert!(secret.len() >= 32, "{secret:?}");
    assert!(page.body.contains(r#"readonly value=""#), "{}", page.body);
    let apps = clients::list(&server.state).await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].client_id, id);
    assert_eq!(apps[0].name, "Hyresportalen");
    assert_eq!(apps[0].redirect_uris, vec![REDIRECT_URI.to_string()]);
    assert_eq!(apps[0].scopes, vec!["openid", "email", "profile"]);
    assert!(apps[0].first_party);
    assert_eq!(apps[0].token_endpoint_auth_method, "client_secret_basic");

    // The copy button's script is served like our other files, under the pages' CSP.
    let script = browser.get(&server.url("/static/copy.js")).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.contains("navigator.clipboard"));
    assert!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.contains("script-src 'self'"))
    );

    // The secret works: for the app itself, and in a code flow.
    let token = client_credentials(&server, &id, &secret).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.describe());
    person(&server, CUSTOMER, None).await;
    let mut customer = Browser::new(&server.base_url);
    let (code, verifier) = customer.code_for(&id, CUSTOMER, PASSWORD).await;
    let exchanged = common::token_request(
        &server.base_url,
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.describe());
    assert!(exchanged.json()["id_token"].as_str().is_some());

    // Never shown again: not on the app's page, not in the list.
    let app_page = browser.get(&server.url(&format!("/admin/apps/{id}"))).await;
    assert_eq!(app_page.status, StatusCode::OK, "{}", app_page.describe());
    let list = browser.get(&server.url("/admin/apps")).await;
    for (what, shown) in [("app page", &app_page), ("list", &list)] {
        assert!(!shown.body.contains(&secret), "{what} shows the secret");
        assert!(shown.body.contains("Hyresportalen"), "{what}");
    }
    // The page says how to configure the app, the secret as a placeholder.
    let issuer = server.issuer().trim_end_matches('/');
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    let shown = text(&app_page);
    assert!(shown.contains(&discovery), "{shown}");
    for line in [
        format!("OIDC_ISSUER={issuer}"),
        format!("OIDC_CLIENT_ID={id}"),
        format!("OIDC_REDIRECT_URI={REDIRECT_URI}"),
        "OIDC_SCOPES=\"openid email profile\"".to_string(),
        "OIDC_CLIENT_SECRET=<hemligheten som visades när den skapades>".to_string(),
    ] {
        assert!(shown.contains(&line), "{line}: {shown}");
    }
    let english = browser
        .get(&server.url(&format!("/admin/apps/{id}?lang=en")))
        .await;
    assert!(english.body.contains("Configuring the app"));
    assert!(text(&english).contains("OIDC_CLIENT_SECRET=<the secret shown when it was made>"));

    // Audited with the person as actor.
    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            client_id: Some(id.clone()),
            kind: Some(kinds::CLIENT_CREATED.into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_type, "user");
    assert_eq!(events[0].actor_id.as_deref(), Some(admin.as_str()));
}

#[tokio::test]
async fn a_new_secret_replaces_the_old_one_at_once() {
    let server = TestServer::start().await;
    let (mut browser, admin) = console_as(&server, Role::Admin).await;
    let (id, old) = register(&mut browser, &server, "Hyresportalen").await;
    let app = format!("/admin/apps/{id}");
    let action = format!("{app}/secret");
    let hidden = hidden_fields(&mut browser, &server, &app, &action).await;

    // Without the box ticked nothing happens.
    let unconfirmed = browser.post_form(&server.url(&action), &hidden).await;
    assert_eq!(
        location(&unconfirmed),
        format!("{app}?notice=confirm-first&lang=sv")
    );
    let shown = browser.follow(unconfirmed).await;
    assert!(shown.body.contains("Kryssa i rutan"), "{}", shown.body);
    assert_eq!(
        client_credentials(&server, &id, &old).await.status,
        StatusCode::OK
    );

    let rotated = browser
        .post_form(&server.url(&action), &with(&hidden, &[("confirm", "yes")]))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.describe());
    assert_eq!(rotated.header("cache-control"), Some("no-store"));
    assert!(
        rotated.body.contains("<h1>Ny hemlighet</h1>"),
        "{}",
        rotated.body
    );
    let new = field_value(&rotated, "client-secret").expect("the new secret");
    assert_ne!(new, old);

    let refused = client_credentials(&server, &id, &old).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.describe()
    );
    assert!(refused.body.contains("invalid_client"));
    let works = client_credentials(&server, &id, &new).await;
    assert_eq!(works.status, StatusCode::OK, "{}", works.describe());
    let page = browser.get(&server.url(&app)).await;
    assert!(!page.body.contains(&new));

    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            client_id: Some(id.clone()),
            kind: Some(kinds::CLIENT_SECRET_ROTATED.into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_id.as_deref(), Some(admin.as_str()));

    // A public app has no secret: no rotate form, and the change is refused with a notice.
    let public = server.create_public_client("Mobilappen").await;
    let public_page = format!("/admin/apps/{public}");
    let page = browser.get(&server.url(&public_page)).await;
    assert!(Form::find(&page, &format!("form[action='{public_page}/secret']")).is_none());
    let refused = browser
        .post_form(
            &server.url(&format!("{public_page}/secret")),
            &with(&hidden, &[("confirm", "yes")]),
        )
        .await;
    assert_eq!(
        location(&refused),
        format!("{public_page}?notice=no-secret&lang=sv")
    );
}

#[tokio::test]
async fn editing_keeps_what_was_typed_when_refused_and_saves_when_right() {
    let server = TestServer::start().await;
    let (mut browser, admin) = console_as(&server, Role::Admin).await;
    let (id, secret) = register(&mut browser, &server, "Hyresportalen").await;
    let app = format!("/admin/apps/{id}");
    let hidden = hidden_fields(&mut browser, &server, &app, &app).await;
    let page = browser.get(&server.url(&app)).await;
    // The form shows the app as it is.
    assert!(page.body.contains(r#"value="Hyresportalen""#));
    assert!(text(&page).contains(&format!(">{REDIRECT_URI}</textarea>")));
    assert!(page.body.contains(r#"value="client_credentials" checked"#));

    let mut fields = good_app("Hyresportalen 2");
    fields.retain(|(k, _)| *k != "redirect_uris");
    fields.push(("redirect_uris", "ftp://rp.example.com/cb".into()));
    let refused = browser
        .post_form(&server.url(&app), &with(&hidden, &borrowed(&fields)))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.describe()
    );
    assert!(text(&refused).contains("<li><code>ftp://rp.example.com/cb</code></li>"));
    assert!(refused.body.contains(r#"value="Hyresportalen 2""#), "kept");
    assert!(
        refused.body.contains("<h1>Hyresportalen</h1>"),
        "the app as saved"
    );
    assert!(
        refused
            .body
            .contains(r#"<details class="card edit-app" open>"#),
        "the form is open with its errors"
    );
    assert!(
        !page.body.contains(r#"edit-app" open"#),
        "closed until needed"
    );
    assert_eq!(
        clients::show(&server.state, &id).await.unwrap().name,
        "Hyresportalen"
    );

    let mut fields = good_app("Hyresportalen 2");
    let replaced = [
        "party",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
    ];
    fields.retain(|(k, v)| !replaced.contains(k) && (*k, v.as_str()) != ("scope", "profile"));
    fields.push(("party", "third".into()));
    fields.push((
        "post_logout_redirect_uris",
        "https://rp.example.com/bye".into(),
    ));
    fields.push(("backchannel_logout_uri", "https://rp.example.com/bc".into()));
    fields.push(("backchannel_session_required", "yes".into()));
    fields.push(("require_par", "yes".into()));
    // Nonces only: requiring DPoP itself would refuse the client_credentials call below.
    fields.push(("require_dpop_nonce", "yes".into()));
    let saved = browser
        .post_form(&server.url(&app), &with(&hidden, &borrowed(&fields)))
        .await;
    assert_eq!(location(&saved), format!("{app}?notice=updated&lang=sv"));
    let view = clients::show(&server.state, &id).await.unwrap();
    assert_eq!(view.name, "Hyresportalen 2");
    assert!(!view.first_party);
    assert_eq!(view.scopes, vec!["openid", "email"]);
    assert_eq!(
        view.post_logout_redirect_uris,
        vec!["https://rp.example.com/bye".to_string()]
    );
    assert_eq!(
        view.backchannel_logout_uri.as_deref(),
        Some("https://rp.example.com/bc")
    );
    assert!(view.backchannel_logout_session_required);
    assert!(view.require_pushed_authorization_requests);
    assert!(view.require_dpop_nonce && !view.dpop_bound_access_tokens);
    let shown = browser.follow(saved).await;
    assert!(shown.body.contains("Ändringarna är sparade."));
    assert!(shown.body.contains("Extern"));
    assert!(
        shown.body.contains(r#"<dd>Krävs</dd>"#),
        "the PAR requirement is shown"
    );
    assert!(
        shown
            .body
            .contains(r#"name="require_par" value="yes" checked"#),
        "and ticked in the form"
    );
    assert!(
        shown.body.contains("<dd>Krävs inte · Nonce krävs</dd>"),
        "the DPoP requirements are shown:\n{}",
        shown.body
    );
    assert!(
        shown
            .body
            .contains(r#"name="require_dpop_nonce" value="yes" checked"#)
            && !shown
                .body
                .contains(r#"name="require_dpop" value="yes" checked"#),
        "and ticked in the form as saved"
    );
    assert_eq!(
        client_credentials(&server, &id, &secret).await.status,
        StatusCode::OK,
        "an edit keeps the secret"
    );

    // Public, then confidential again: the app gets a new secret, shown once, then.
    let public: Vec<(&str, &str)> = vec![
        ("name", "Hyresportalen 2"),
        ("redirect_uris", REDIRECT_URI),
        ("grant", "authorization_code"),
        ("auth_method", "none"),
        ("scope", "openid"),
    ];
    let saved = browser
        .post_form(&server.url(&app), &with(&hidden, &public))
        .await;
    assert_eq!(location(&saved), format!("{app}?notice=updated&lang=sv"));
    let view = clients::show(&server.state, &id).await.unwrap();
    assert!(view.public);
    assert!(
        !view.require_pushed_authorization_requests,
        "an unticked box turns PAR off"
    );
    let mut confidential = public.clone();
    confidential.retain(|(k, _)| *k != "auth_method");
    confidential.push(("auth_method", "client_secret_post"));
    confidential.push(("grant", "client_credentials"));
    let page = browser
        .post_form(&server.url(&app), &with(&hidden, &confidential))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let fresh = field_value(&page, "client-secret").expect("a new secret");
    assert_ne!(fresh, secret);
    let token = common::token_request(
        &server.base_url,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &fresh),
        ],
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.describe());

    // A scope no longer offered (as after BankID is turned off) is shown, ticked and marked,
    // and refused until it is unticked, instead of vanishing unseen on the next save.
    let mut stored = server
        .state
        .store
        .client_by_id(&id)
        .await
        .unwrap()
        .expect("the app");
    stored.allowed_scopes.push("legacy-scope".into());
    server
        .state
        .store
        .update_client(&stored, &[])
        .await
        .unwrap();
    let page = browser.get(&server.url(&app)).await;
    assert!(
        page.body.contains(r#"value="legacy-scope" checked"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("inte tillgänglig längre: avmarkera den"));
    let mut kept = confidential.clone();
    kept.push(("scope", "legacy-scope"));
    let refused = browser
        .post_form(&server.url(&app), &with(&hidden, &kept))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .body
            .contains("Välj bara bland behörigheterna i listan.")
    );

    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            client_id: Some(id.clone()),
            kind: Some(kinds::CLIENT_UPDATED.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e.actor_id.as_deref() == Some(admin.as_str()))
    );
}

#[tokio::test]
async fn deleting_needs_the_name_typed_exactly() {
    let server = TestServer::start().await;
    let (mut browser, admin) = console_as(&server, Role::Admin).await;
    let (id, secret) = register(&mut browser, &server, "Hyresportalen").await;
    let app = format!("/admin/apps/{id}");
    let action = format!("{app}/delete");
    let hidden = hidden_fields(&mut browser, &server, &app, &action).await;

    for typed in ["", "hyresportalen", "Hyresportale", &id] {
        let refused = browser
            .post_form(
                &server.url(&action),
                &with(&hidden, &[("confirm_name", typed)]),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{typed:?}: {}",
            refused.describe()
        );
        assert!(
            refused
                .body
                .contains("Det du skrev stämmer inte med appens namn."),
            "{typed:?}"
        );
        assert!(
            refused
                .body
                .contains(r#"aria-describedby="delete-help delete-error" aria-invalid="true""#)
        );
    }
    assert_eq!(app_count(&server).await, 1);

    let done = browser
        .post_form(
            &server.url(&action),
            &with(&hidden, &[("confirm_name", " Hyresportalen ")]),
        )
        .await;
    assert_eq!(location(&done), "/admin/apps?notice=deleted&lang=sv");
    assert_eq!(app_count(&server).await, 0);
    let shown = browser.follow(done).await;
    assert!(shown.body.contains("Appen är borttagen."));
    assert!(shown.body.contains("Inga appar är registrerade än."));
    let gone = browser.get(&server.url(&app)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let refused = client_credentials(&server, &id, &secret).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let events = server
        .state
        .store
        .audit_events(&AuditQuery {
            client_id: Some(id.clone()),
            kind: Some(kinds::CLIENT_DELETED.into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_id.as_deref(), Some(admin.as_str()));
}

#[tokio::test]
async fn a_change_without_the_pages_csrf_token_is_refused() {
    let server = TestServer::start().await;
    let (mut browser, _) = console_as(&server, Role::Admin).await;
    let (id, secret) = register(&mut browser, &server, "Hyresportalen").await;
    let app = format!("/admin/apps/{id}");
    let hidden = hidden_fields(&mut browser, &server, NEW, NEW).await;
    let fields = good_app("Utan token");
    let mut missing = with(&hidden, &borrowed(&fields));
    missing.retain(|(k, _)| k != "csrf");
    let mut forged = with(&hidden, &borrowed(&fields));
    forged.retain(|(k, _)| k != "csrf");
    forged.push(("csrf".into(), "0".repeat(64)));
    for (what, body) in [("no token", &missing), ("a forged token", &forged)] {
        for (path, extra) in [
            (NEW.to_string(), vec![]),
            (app.clone(), vec![]),
            (format!("{app}/secret"), vec![("confirm", "yes")]),
            (
                format!("{app}/delete"),
                vec![("confirm_name", "Hyresportalen")],
            ),
        ] {
            let mut body = body.clone();
            body.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let refused = browser.post_form(&server.url(&path), &body).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{what}: {path}");
            assert!(
                refused.body.contains("Formuläret hade gått ut"),
                "{what}: {path}: {}",
                refused.body
            );
        }
    }
    let apps = clients::list(&server.state).await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].name, "Hyresportalen");
    assert_eq!(
        client_credentials(&server, &id, &secret).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_change_needs_a_login_no_older_than_the_step_up_limit() {
    let server = TestServer::start_with(|config| config.admin.step_up_minutes = 5).await;
    let (mut browser, _) = console_as(&server, Role::Admin).await;
    let existing = clients::create(
        &server.state,
        NewClient {
            name: "Hyresportalen".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            grant_types: vec!["authorization_code".into(), "client_credentials".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let secret = existing.client_secret.clone().unwrap();
    let app = format!("/admin/apps/{}", existing.client_id);
    server.clock.advance(5 * 60 + 1);

    // Reading needs no fresh login; a change does, and comes back to the form's page.
    let hidden = hidden_fields(&mut browser, &server, NEW, NEW).await;
    let fields = good_app("Ny app");
    let asked = browser
        .post_form(&server.url(NEW), &with(&hidden, &borrowed(&fields)))
        .await;
    assert_eq!(
        location(&asked),
        "/login?next=%2Fadmin%2Fapps%2Fnew&reauth=1&lang=sv"
    );
    assert_eq!(app_count(&server).await, 1, "nothing made yet");
    let rotate = format!("{app}/secret");
    let hidden_rotate = hidden_fields(&mut browser, &server, &app, &rotate).await;
    let asked_rotate = browser
        .post_form(
            &server.url(&rotate),
            &with(&hidden_rotate, &[("confirm", "yes")]),
        )
        .await;
    assert_eq!(
        location(&asked_rotate),
        format!(
            "/login?next={}&reauth=1&lang=sv",
            url::form_urlencoded::byte_serialize(app.as_bytes()).collect::<String>()
        )
    );
    assert_eq!(
        client_credentials(&server, &existing.client_id, &secret)
            .await
            .status,
        StatusCode::OK,
        "the secret is the same"
    );

    let login = browser.follow(asked).await;
    assert!(
        login.body.contains("Bekräfta att det är du"),
        "{}",
        login.body
    );
    let back = submit_login(&mut browser, &login, ADMIN).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.describe());
    assert_eq!(back.url.path(), NEW);
    let hidden = hidden_fields(&mut browser, &server, NEW, NEW).await;
    let done = browser
        .post_form(&server.url(NEW), &with(&hidden, &borrowed(&fields)))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.describe());
    assert!(field_value(&done, "client-secret").is_some());
    assert_eq!(app_count(&server).await, 2);
}

//! Shared harness for the integration tests: an in-process server on a real socket, a tiny
//! browser with a manual cookie jar, and an HTTP client for the `openidconnect` crate.
//!
//! The backend comes from `LEASIFY_TEST_BACKEND` (`sqlite`, the default, or `postgres`). Time is a
//! [`ManualClock`]: tests move it forward instead of sleeping.

#![allow(dead_code)]

pub mod log_capture;
pub mod postgres;
pub mod smtp;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use leasify_id::admin::{clients, users};
use leasify_id::clock::{ManualClock, OsEntropy};
use leasify_id::config::Config;
use leasify_id::server::RunningServer;
use leasify_id::state::{self, AppState, Overrides};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClient, CoreErrorResponseType, CoreIdTokenClaims,
    CoreJsonWebKey, CoreProviderMetadata, CoreResponseType, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardErrorResponse, TokenResponse,
};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use url::Url;

/// The redirect URI every test client registers. Nothing listens there: the browser stops as soon
/// as a response points at it.
pub const REDIRECT_URI: &str = "https://rp.example.com/callback";
pub const PASSWORD: &str = "correct horse battery staple";
/// The generic Swedish message for wrong credentials (default locale `sv`).
pub const INVALID_LOGIN_SV: &str = "Fel e-post eller lösenord";

// ---------------------------------------------------------------------------------------------
// Backend and temporary directories
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend selected by `LEASIFY_TEST_BACKEND`.
pub fn backend() -> Backend {
    match std::env::var("LEASIFY_TEST_BACKEND")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "sqlite" => Backend::Sqlite,
        "postgres" | "postgresql" | "pg" => Backend::Postgres,
        other => panic!("LEASIFY_TEST_BACKEND={other:?}: expected sqlite or postgres"),
    }
}

/// A directory under the system temp dir, removed (best effort) on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "leasify-{prefix}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh PostgreSQL schema (see [`postgres::fresh_postgres_url`]), dropped on drop.
#[derive(Debug)]
pub struct PgSchema {
    pub url: String,
}

impl PgSchema {
    pub async fn create() -> PgSchema {
        PgSchema {
            url: postgres::fresh_postgres_url().await,
        }
    }

    /// For synchronous tests (the CLI tests).
    pub fn create_blocking() -> PgSchema {
        run_blocking(async { PgSchema::create().await })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        // Drop may run inside a test's runtime: do the async work on a thread of its own.
        let _ =
            std::thread::spawn(move || run_blocking(postgres::drop_postgres_schema(&url))).join();
    }
}

fn run_blocking<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// A server running in this process on `127.0.0.1:<random port>`.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`: the address this instance listens on.
    pub base_url: String,
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when the configuration set `metrics.listen`.
    pub metrics_addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    pub clock: ManualClock,
    /// The database URL the instance uses (empty for the SQLite file in the data dir).
    pub database_url: String,
    running: Option<RunningServer>,
    // Dropped after the server handle (field order). `None` for a sibling instance.
    _schema: Option<PgSchema>,
    _data_dir: Option<TempDir>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server; `tweak` may change the configuration after the defaults, the data dir and
    /// the issuer are set. If `tweak` leaves `database_url` empty, the backend selection decides
    /// (a fresh schema on PostgreSQL, a file in the data dir on SQLite).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_named("127.0.0.1", tweak).await
    }

    /// A server whose issuer (and base URL) is `http://localhost:<port>`: WebAuthn needs a
    /// relying-party id that is a host name, never an address (the passkey tests).
    pub async fn start_on_localhost(tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_named("localhost", tweak).await
    }

    /// Listens on 127.0.0.1; the issuer and base URL name it `host` (which must resolve there).
    async fn start_named(host: &str, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let base_url = format!("http://{host}:{}", addr.port());
        let data_dir = TempDir::new("server");

        let mut config = Config::defaults();
        config.issuer = base_url.clone();
        config.listen = addr.to_string();
        config.data_dir = data_dir.path().to_path_buf();
        tweak(&mut config);
        let mut schema = None;
        if config.database_url.is_empty() && backend() == Backend::Postgres {
            let created = PgSchema::create().await;
            config.database_url = created.url.clone();
            schema = Some(created);
        }
        config.validate().expect("the test configuration is valid");
        let database_url = config.database_url.clone();

        let clock = ManualClock::default();
        let overrides = Overrides {
            clock: Arc::new(clock.clone()),
            entropy: Arc::new(OsEntropy),
            ..Overrides::default()
        };
        let state = state::build(config, overrides)
            .await
            .expect("the server state builds");
        let running = RunningServer::start(listener, state.clone()).expect("the server starts");
        TestServer {
            base_url,
            addr,
            metrics_addr: running.metrics_addr,
            state,
            clock,
            database_url,
            running: Some(running),
            _schema: schema,
            _data_dir: Some(data_dir),
        }
    }

    /// A server that delivers its mail over SMTP to a fresh [`smtp::TestSmtpServer`], retrying
    /// after a second; both are returned.
    pub async fn start_with_smtp() -> (TestServer, smtp::TestSmtpServer) {
        let smtp = smtp::TestSmtpServer::start().await;
        let port = smtp.port();
        let server = TestServer::start_with(|config| {
            config.mail.transport = "smtp".into();
            config.mail.smtp_tls = "none".into();
            config.mail.smtp_host = "127.0.0.1".into();
            config.mail.smtp_port = port;
            config.mail.smtp_timeout = 5;
            config.mail.retry_base = 1;
            config.mail.poll_interval = 1;
        })
        .await;
        (server, smtp)
    }

    /// A second instance on the same database, data dir (so the same generated secrets), issuer
    /// and clock, listening on a port of its own.
    pub async fn sibling(&self) -> TestServer {
        self.sibling_named(None).await
    }

    /// A sibling whose issuer is `http://<host>:<its port>` (a deployment reached under another
    /// host name, on the same database): with `None`, the same issuer as this one.
    pub async fn sibling_named(&self, host: Option<&str>) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let mut config = self.state.config.clone();
        let mut base_url = format!("http://127.0.0.1:{}", addr.port());
        if let Some(host) = host {
            base_url = format!("http://{host}:{}", addr.port());
            config.issuer = base_url.clone();
        }
        let clock = self.clock.clone();
        let overrides = Overrides {
            clock: Arc::new(clock.clone()),
            entropy: Arc::new(OsEntropy),
            ..Overrides::default()
        };
        let state = state::build(config, overrides)
            .await
            .expect("the sibling state builds");
        let running = RunningServer::start(listener, state.clone()).expect("the sibling starts");
        TestServer {
            base_url,
            addr,
            metrics_addr: running.metrics_addr,
            state,
            clock,
            database_url: self.database_url.clone(),
            running: Some(running),
            _schema: None,
            _data_dir: None,
        }
    }

    /// The issuer this instance puts in tokens (normally `base_url`).
    pub fn issuer(&self) -> &str {
        &self.state.config.issuer
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops serving (graceful shutdown); the database and data dir go when `self` is dropped.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop().await;
        }
    }

    /// A confidential client with the test redirect URI; returns (client_id, client_secret).
    pub async fn create_client(&self, name: &str) -> (String, String) {
        let view = self
            .create_client_with(name, false, vec![REDIRECT_URI.to_string()])
            .await;
        let secret = view
            .client_secret
            .expect("a confidential client has a secret");
        (view.client_id, secret)
    }

    /// A public client (no secret, PKCE required); returns its client_id.
    pub async fn create_public_client(&self, name: &str) -> String {
        self.create_client_with(name, true, vec![REDIRECT_URI.to_string()])
            .await
            .client_id
    }

    pub async fn create_client_with(
        &self,
        name: &str,
        public: bool,
        redirect_uris: Vec<String>,
    ) -> clients::ClientView {
        let new = clients::NewClient {
            name: name.to_string(),
            redirect_uris,
            post_logout_redirect_uris: vec![],
            public,
            scopes: vec![],
            ..Default::default()
        };
        clients::create(&self.state, new)
            .await
            .expect("client created")
    }

    /// A user with a password; returns the user id (the `sub`).
    pub async fn create_user(&self, email: &str, name: &str, password: &str) -> String {
        let new = users::NewUser {
            email: email.to_string(),
            name: name.to_string(),
            locale: "sv".into(),
            password: Some(password.to_string()),
            invite: false,
        };
        users::create(&self.state, &leasify_id::audit::Caller::system(), new)
            .await
            .expect("user created")
            .id
    }

    /// A relying party for `client_id`, configured from this server's discovery document.
    pub async fn relying_party(&self, client_id: &str, client_secret: Option<&str>) -> Rp {
        Rp::discover(&self.base_url, client_id, client_secret).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // The server task ends with the test's runtime; the schema and data dir are removed by
        // their own Drop.
        self.running.take();
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny browser
// ---------------------------------------------------------------------------------------------

/// One HTTP response, with the body read.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    /// The URL that was requested.
    pub url: Url,
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Location` header resolved against the request URL.
    pub fn location(&self) -> Option<Url> {
        self.header("location").map(|l| {
            self.url
                .join(l)
                .unwrap_or_else(|e| panic!("bad Location {l:?}: {e}"))
        })
    }

    pub fn is_redirect(&self) -> bool {
        self.status.is_redirection() && self.headers.contains_key(header::LOCATION)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response of {} is not JSON ({e}): {}", self.url, self.body))
    }

    /// The login form on this page, if it shows one.
    pub fn login_form(&self) -> Option<Form> {
        Form::find(self, "form[action=\"/login\"]")
    }

    pub fn describe(&self) -> String {
        format!(
            "{} {}\n{:?}\n{}",
            self.status, self.url, self.headers, self.body
        )
    }
}

/// An HTML form: where it posts and every named `<input>` with its value.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: Url,
    pub method: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    pub fn find(page: &Response, selector: &str) -> Option<Form> {
        let document = scraper::Html::parse_document(&page.body);
        let form_selector = scraper::Selector::parse(selector).expect("form selector");
        let input_selector = scraper::Selector::parse("input").expect("input selector");
        let form = document.select(&form_selector).next()?;
        let action = page
            .url
            .join(form.attr("action").unwrap_or(""))
            .expect("form action URL");
        let method = form.attr("method").unwrap_or("get").to_ascii_lowercase();
        let fields = form
            .select(&input_selector)
            .filter_map(|input| {
                let name = input.attr("name")?;
                Some((
                    name.to_string(),
                    input.attr("value").unwrap_or_default().to_string(),
                ))
            })
            .collect();
        Some(Form {
            action,
            method,
            fields,
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set(&mut self, name: &str, value: &str) {
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value.to_string(),
            None => self.fields.push((name.to_string(), value.to_string())),
        }
    }
}

/// A browser: no automatic redirects, and a cookie jar that keeps `Secure` cookies over http
/// (reqwest's own store would refuse the `__Host-` cookies of a plain-http test server).
pub struct Browser {
    http: reqwest::Client,
    /// Only this origin is followed by `navigate`; cookies are kept for it.
    origin: Url,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(base_url: &str) -> Browser {
        Browser {
            http: plain_client(),
            origin: Url::parse(base_url).expect("base URL"),
            cookies: BTreeMap::new(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
    }

    /// Sets a cookie as if the server had (a browser that kept only this one, say).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_string(), value.to_string());
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn remember_cookies(&mut self, headers: &HeaderMap) {
        for value in headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let mut parts = value.split(';');
            let Some((name, val)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let expired = parts.any(|attr| attr.trim().eq_ignore_ascii_case("max-age=0"));
            if expired || val.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), val.to_string());
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Response {
        let request = match self.cookie_header() {
            Some(cookies) => request.header(header::COOKIE, cookies),
            None => request,
        };
        let response = request.send().await.expect("HTTP request");
        let status = response.status();
        let url = response.url().clone();
        let headers = response.headers().clone();
        let body = response.text().await.expect("response body");
        if url.origin() == self.origin.origin() {
            self.remember_cookies(&headers);
        }
        Response {
            status,
            url,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, url: &str) -> Response {
        let request = self.http.get(url);
        self.send(request).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(String, String)]) -> Response {
        let body = serde_urlencoded::to_string(fields).expect("form encoding");
        let request = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Posts a form with a file (`multipart/form-data`), as a browser does for `<input
    /// type=file>`: the `fields` first, then the file as `file_field`.
    pub async fn post_multipart(
        &mut self,
        url: &str,
        fields: &[(String, String)],
        file_field: &str,
        file_name: &str,
        file: &[u8],
    ) -> Response {
        let boundary = "----LeasifyTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self
            .http
            .post(url)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        self.send(request).await
    }

    /// Follows redirects while they stay on the server; returns the first response that is not
    /// such a redirect (a page, or a redirect to the client).
    pub async fn follow(&mut self, mut response: Response) -> Response {
        for _ in 0..10 {
            match response.location() {
                Some(next) if response.is_redirect() && next.origin() == self.origin.origin() => {
                    response = self.get(next.as_str()).await;
                }
                _ => return response,
            }
        }
        panic!("too many redirects: {}", response.describe());
    }

    /// GET and follow redirects within the server.
    pub async fn navigate(&mut self, url: &str) -> Response {
        let first = self.get(url).await;
        self.follow(first).await
    }

    /// Fills the login form of `page` as a person would and submits it; follows redirects within
    /// the server.
    pub async fn submit_login(&mut self, page: &Response, email: &str, password: &str) -> Response {
        let mut form = page
            .login_form()
            .unwrap_or_else(|| panic!("no login form on the page:\n{}", page.describe()));
        assert_eq!(form.method, "post", "the login form posts");
        for hidden in ["csrf", "req", "lang"] {
            assert!(
                form.get(hidden).is_some_and(|v| !v.is_empty()),
                "hidden field {hidden} is filled in: {form:?}"
            );
        }
        form.set("email", email);
        form.set("password", password);
        let response = self.post_form(form.action.as_str(), &form.fields).await;
        self.follow(response).await
    }

    /// Opens an authorization URL, expects the login page, logs in, and returns the redirect to
    /// the client (its full URL).
    pub async fn authorize_with_login(
        &mut self,
        authorize_url: &str,
        email: &str,
        password: &str,
    ) -> Url {
        let page = self.navigate(authorize_url).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "login page expected:\n{}",
            page.describe()
        );
        let done = self.submit_login(&page, email, password).await;
        client_redirect(&done)
    }

    /// A code for `client_id` (scope `openid email`, state `st`, PKCE S256), logging in with
    /// `email`/`password` if the browser has no session yet. Returns (code, PKCE verifier).
    pub async fn code_for(
        &mut self,
        client_id: &str,
        email: &str,
        password: &str,
    ) -> (String, String) {
        let base_url = self.origin.as_str().trim_end_matches('/').to_string();
        let (challenge, verifier) = pkce_pair();
        let url = authorize_url(
            &base_url,
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid email"),
                ("state", "st"),
                ("nonce", "n-0S6_WzA2Mj"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let mut response = self.navigate(&url).await;
        if response.status == StatusCode::OK && response.login_form().is_some() {
            response = self.submit_login(&response, email, password).await;
        }
        let callback = client_redirect(&response);
        let params = query_params(&callback);
        assert_eq!(
            params.get("state").map(String::as_str),
            Some("st"),
            "{callback}"
        );
        let code = params
            .get("code")
            .unwrap_or_else(|| panic!("a code: {callback}"))
            .clone();
        (code, verifier)
    }

    /// Opens an authorization URL that must be answered without a login; returns the redirect to
    /// the client.
    pub async fn authorize_silently(&mut self, authorize_url: &str) -> Url {
        let response = self.navigate(authorize_url).await;
        client_redirect(&response)
    }
}

/// An authorization URL built by hand (for requests `openidconnect` would not send).
pub fn authorize_url(base_url: &str, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&format!("{base_url}/authorize")).expect("authorize URL");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// A PKCE pair built by `openidconnect`: (challenge, verifier).
pub fn pkce_pair() -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    (challenge.as_str().to_string(), verifier.secret().clone())
}

/// The redirect to `REDIRECT_URI` carried by a response (303 with a Location outside the server).
pub fn client_redirect(response: &Response) -> Url {
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "a redirect to the client:\n{}",
        response.describe()
    );
    let location = response.location().expect("Location");
    assert!(
        location.as_str().starts_with(REDIRECT_URI),
        "the redirect goes to the client's redirect_uri: {location}"
    );
    location
}

/// The query parameters of a URL (last value wins; duplicates are checked separately).
pub fn query_params(url: &Url) -> HashMap<String, String> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A reqwest client that never follows redirects.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

/// Reads a whole response into a [`Response`].
pub async fn read(response: reqwest::Response) -> Response {
    let status = response.status();
    let url = response.url().clone();
    let headers = response.headers().clone();
    let body = response.text().await.expect("response body");
    Response {
        status,
        url,
        headers,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// Raw protocol requests (for exact status codes and headers)
// ---------------------------------------------------------------------------------------------

/// POSTs a form to the token endpoint, with Basic authentication if `basic` is given.
pub async fn token_request(
    base_url: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Response {
    let mut request = plain_client()
        .post(format!("{base_url}/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).expect("form encoding"));
    if let Some((id, secret)) = basic {
        request = request.header(header::AUTHORIZATION, basic_auth(id, secret));
    }
    read(request.send().await.expect("token request")).await
}

/// `Authorization: Basic` per RFC 6749 §2.3.1 (both parts form-urlencoded first).
pub fn basic_auth(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", encode(id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// GET UserInfo with a Bearer token.
pub async fn userinfo_request(base_url: &str, access_token: &str) -> Response {
    let request = plain_client()
        .get(format!("{base_url}/userinfo"))
        .header(header::AUTHORIZATION, format!("Bearer {access_token}"));
    read(request.send().await.expect("userinfo request")).await
}

/// Asserts an OAuth error response from the token endpoint: status, JSON body with `error`,
/// `Cache-Control: no-store` and a JSON content type.
pub fn assert_token_error(response: &Response, status: u16, error: &str) {
    assert_eq!(
        response.status.as_u16(),
        status,
        "token endpoint status:\n{}",
        response.describe()
    );
    assert_json_no_store(response);
    assert_eq!(
        response.json()["error"],
        error,
        "token endpoint error:\n{}",
        response.describe()
    );
}

pub fn assert_json_no_store(response: &Response) {
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "JSON content type, got {content_type:?}"
    );
    let cache = response.header("cache-control").unwrap_or_default();
    assert!(
        cache
            .split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-store")),
        "Cache-Control: no-store, got {cache:?}"
    );
}

/// Asserts that UserInfo refuses the token: 401 with a Bearer challenge.
pub async fn assert_access_token_dead(base_url: &str, access_token: &str) {
    let response = userinfo_request(base_url, access_token).await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "userinfo refuses the token:\n{}",
        response.describe()
    );
    let challenge = response.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.to_ascii_lowercase().starts_with("bearer"),
        "a Bearer challenge, got {challenge:?}"
    );
    assert!(
        challenge.contains("invalid_token"),
        "error=invalid_token in the challenge, got {challenge:?}"
    );
}

/// The claims of a compact JWS, without verifying it (use only after it was verified).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).expect("a compact JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

pub fn jwt_header(jwt: &str) -> serde_json::Value {
    let header = jwt.split('.').next().expect("a compact JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url header");
    serde_json::from_slice(&bytes).expect("JSON header")
}

// ---------------------------------------------------------------------------------------------
// openidconnect: HTTP client and a relying party
// ---------------------------------------------------------------------------------------------

/// The error of [`oidc_http`].
#[derive(Debug)]
pub struct HttpError(pub String);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// The HTTP client handed to `openidconnect` (`&oidc_http` is an `AsyncHttpClient`): reqwest,
/// without redirects. A new reqwest client per call, so no connection pool outlives a test's
/// runtime.
pub async fn oidc_http(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let request = reqwest::Request::try_from(request).map_err(|e| HttpError(e.to_string()))?;
    let response = plain_client()
        .execute(request)
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    builder
        .body(body.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

/// The client type `CoreClient::from_provider_metadata` gives.
pub type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A relying party built by discovery.
pub struct Rp {
    pub metadata: CoreProviderMetadata,
    pub client: DiscoveredClient,
    /// When set, token requests go to this base URL instead of the discovered host (another
    /// instance of the same issuer).
    pub route_to: Option<String>,
}

impl Rp {
    pub async fn discover(issuer: &str, client_id: &str, client_secret: Option<&str>) -> Rp {
        let issuer = IssuerUrl::new(issuer.to_string()).expect("issuer URL");
        let metadata = CoreProviderMetadata::discover_async(issuer, &oidc_http)
            .await
            .expect("discovery");
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(client_id.to_string()),
            client_secret.map(|s| ClientSecret::new(s.to_string())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_string()).expect("redirect URI"));
        Rp {
            metadata,
            client,
            route_to: None,
        }
    }

    /// The same client with another client authentication method.
    pub fn with_auth_type(self, auth_type: openidconnect::AuthType) -> Rp {
        Rp {
            client: self.client.set_auth_type(auth_type),
            ..self
        }
    }
}

/// [`oidc_http`], sent to `base_url` (scheme, host and port replaced) when one is given.
pub async fn oidc_http_to(
    mut request: HttpRequest,
    base_url: Option<String>,
) -> Result<HttpResponse, HttpError> {
    if let Some(base) = base_url {
        let path = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        *request.uri_mut() = format!("{base}{path}")
            .parse()
            .map_err(|e| HttpError(format!("{e}")))?;
    }
    oidc_http(request).await
}

/// The error type of token requests made through `openidconnect`.
pub type TokenRequestError =
    RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>;

/// An authorization request the relying party sent, with what it must remember.
pub struct Authorization {
    pub url: Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub pkce_verifier: Option<PkceCodeVerifier>,
}

/// The request builder `openidconnect` gives for an authorization request.
pub type AuthRequest<'a> =
    openidconnect::AuthorizationRequest<'a, CoreAuthDisplay, CoreAuthPrompt, CoreResponseType>;

impl Rp {
    /// An authorization-code request for `openid` plus `scopes`, with state, nonce and (if `pkce`)
    /// an S256 challenge. `configure` may add prompt, max_age or extra parameters.
    pub fn authorization(
        &self,
        scopes: &[&str],
        pkce: bool,
        configure: impl FnOnce(AuthRequest<'_>) -> AuthRequest<'_>,
    ) -> Authorization {
        let mut request = self.client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in scopes {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        let mut pkce_verifier = None;
        if pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            pkce_verifier = Some(verifier);
        }
        let (url, state, nonce) = configure(request).url();
        Authorization {
            url,
            state,
            nonce,
            pkce_verifier,
        }
    }

    /// Checks the callback like a careful client (no error, state and iss match) and returns the
    /// code.
    pub fn code_from_callback(&self, authorization: &Authorization, callback: &Url) -> String {
        let params = query_params(callback);
        assert!(
            !params.contains_key("error"),
            "no error in the callback: {callback}"
        );
        assert_eq!(
            params.get("state").map(String::as_str),
            Some(authorization.state.secret().as_str()),
            "state"
        );
        assert_eq!(
            params.get("iss").map(String::as_str),
            Some(self.metadata.issuer().as_str()),
            "iss"
        );
        let code = params
            .get("code")
            .unwrap_or_else(|| panic!("a code in the callback: {callback}"));
        // OIDF oidcc-server: at least 128 bits.
        assert!(code.len() >= 22, "the code is long enough: {code:?}");
        code.clone()
    }

    pub async fn exchange(
        &self,
        code: &str,
        verifier: Option<PkceCodeVerifier>,
    ) -> Result<CoreTokenResponse, TokenRequestError> {
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .expect("the token endpoint is known");
        if let Some(verifier) = verifier {
            request = request.set_pkce_verifier(verifier);
        }
        let route = self.route_to.clone();
        let http = move |r: HttpRequest| oidc_http_to(r, route.clone());
        request.request_async(&http).await
    }

    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
    ) -> Result<CoreTokenResponse, TokenRequestError> {
        let route = self.route_to.clone();
        let http = move |r: HttpRequest| oidc_http_to(r, route.clone());
        self.client
            .exchange_refresh_token(refresh_token)
            .expect("the token endpoint is known")
            .request_async(&http)
            .await
    }

    /// Verifies the response's ID token against the JWKS (signature, iss, aud, exp, nonce) and its
    /// `at_hash` against the access token. `nonce: None` requires that the token has none.
    pub fn verify_id_token(
        &self,
        tokens: &CoreTokenResponse,
        nonce: Option<&Nonce>,
    ) -> CoreIdTokenClaims {
        let id_token = tokens
            .id_token()
            .expect("the token response has an id_token");
        let verifier = self.client.id_token_verifier();
        let claims = match nonce {
            Some(nonce) => id_token.claims(&verifier, nonce),
            None => id_token.claims(&verifier, |found: Option<&Nonce>| match found {
                None => Ok(()),
                Some(_) => Err("a nonce was not requested".to_string()),
            }),
        }
        .unwrap_or_else(|e| panic!("the ID token verifies: {e}"))
        .clone();
        let alg = id_token.signing_alg().expect("a signed ID token");
        let key: &CoreJsonWebKey = id_token
            .signing_key(&verifier)
            .expect("the signing key is in the JWKS");
        let expected = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .expect("at_hash computable");
        assert_eq!(
            claims.access_token_hash(),
            Some(&expected),
            "at_hash matches the access token"
        );
        claims
    }

    /// Exchanges and verifies; returns the tokens and the verified claims.
    pub async fn complete(
        &self,
        authorization: Authorization,
        callback: &Url,
    ) -> (CoreTokenResponse, CoreIdTokenClaims) {
        let code = self.code_from_callback(&authorization, callback);
        let tokens = self
            .exchange(&code, authorization.pkce_verifier)
            .await
            .unwrap_or_else(|e| panic!("code exchange: {}", describe_token_error(&e)));
        let claims = self.verify_id_token(&tokens, Some(&authorization.nonce));
        (tokens, claims)
    }
}

/// The OAuth error code of a failed token request (panics on transport errors).
pub fn oauth_error(error: &TokenRequestError) -> CoreErrorResponseType {
    match error {
        RequestTokenError::ServerResponse(response) => response.error().clone(),
        other => panic!(
            "expected an OAuth error response, got {}",
            describe_token_error(other)
        ),
    }
}

pub fn describe_token_error(error: &TokenRequestError) -> String {
    match error {
        RequestTokenError::ServerResponse(response) => format!("server response {response:?}"),
        RequestTokenError::Request(e) => format!("request failed: {e}"),
        RequestTokenError::Parse(e, body) => format!(
            "unparsable response ({e}): {}",
            String::from_utf8_lossy(body)
        ),
        RequestTokenError::Other(e) => format!("other: {e}"),
    }
}

/// Redeems a code at the token endpoint with Basic authentication (raw response).
pub async fn redeem_code(
    base_url: &str,
    client: (&str, &str),
    code: &str,
    verifier: &str,
) -> Response {
    token_request(
        base_url,
        Some(client),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Uses a refresh token at the token endpoint with Basic authentication (raw response).
pub async fn redeem_refresh_token(
    base_url: &str,
    client: (&str, &str),
    refresh_token: &str,
) -> Response {
    token_request(
        base_url,
        Some(client),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

//! The `leasify-id` binary's administration commands, run as a separate process against a data dir
//! (and, with `LEASIFY_TEST_BACKEND=postgres`, a fresh PostgreSQL schema).

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

/// One installation: a data dir and, on PostgreSQL, a schema of its own.
pub(crate) struct Install {
    dir: TempDir,
    schema: Option<PgSchema>,
}

impl Install {
    pub(crate) async fn new() -> Install {
        let schema = match backend() {
            Backend::Postgres => Some(PgSchema::create().await),
            Backend::Sqlite => None,
        };
        Install {
            dir: TempDir::new("cli"),
            schema,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_leasify-id"));
        command.args(args).current_dir(self.dir.path());
        // Nothing from the test's own environment leaks into the configuration.
        for (key, _) in std::env::vars() {
            if key.starts_with("LEASIFY_") {
                command.env_remove(key);
            }
        }
        command.env("LEASIFY_DATA_DIR", self.dir.path());
        command.env("NO_COLOR", "1");
        if let Some(schema) = &self.schema {
            command.env("LEASIFY_DATABASE_URL", &schema.url);
        }
        command
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        command.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("the binary starts");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("the binary finishes")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[], None)
    }

    /// Runs a command that must succeed and print JSON.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        self.json_with(args, None)
    }

    fn json_with(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let output = self.run_with(args, &[], stdin);
        assert_success(&output, args);
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?} prints JSON ({e}):\n{}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// A server in this process on the same database and data dir (so the same secrets).
    async fn server(&self) -> TestServer {
        let dir = self.dir.path().to_path_buf();
        let url = self
            .schema
            .as_ref()
            .map(|s| s.url.clone())
            .unwrap_or_default();
        TestServer::start_with(move |config| {
            config.data_dir = dir;
            config.database_url = url;
        })
        .await
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(output: &Output, args: &[&str]) {
    assert!(
        output.status.success(),
        "{args:?} succeeds; status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn assert_failure(output: &Output, args: &[&str]) {
    assert!(
        !output.status.success(),
        "{args:?} fails\nstdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Lines of stderr that are not log records (the log goes to stderr too).
fn error_lines(output: &Output) -> Vec<String> {
    text(&output.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Creates the database, the local secrets and the signing keys, so that later commands log
/// nothing but their own result.
fn warm_up(install: &Install) {
    assert_success(&install.run(&["migrate"]), &["migrate"]);
    assert_success(&install.run(&["client", "list"]), &["client", "list"]);
}

/// Client authentication check through the token endpoint: a bogus refresh token gives
/// `invalid_grant` (400) when the credentials are right and `invalid_client` (401) when not.
async fn client_auth_status(server: &TestServer, client_id: &str, secret: &str) -> u16 {
    redeem_refresh_token(&server.base_url, (client_id, secret), "bogus")
        .await
        .status
        .as_u16()
}

/// Refused (401) within the client cache's lifetime plus a margin for a slow machine.
async fn assert_eventually_401(server: &TestServer, client_id: &str, secret: &str, what: &str) {
    let deadline = std::time::Instant::now()
        + leasify_id::store::client_cache::CLIENT_CACHE_TTL
        + std::time::Duration::from_millis(500);
    loop {
        let status = client_auth_status(server, client_id, secret).await;
        if status == 401 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_runs_and_is_idempotent() {
    let install = Install::new().await;
    for _ in 0..2 {
        let output = install.run(&["migrate"]);
        assert_success(&output, &["migrate"]);
        assert!(
            text(&output.stdout).contains("migrations are up to date"),
            "{}",
            text(&output.stdout)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn client_create_list_show_rotate_delete() {
    let install = Install::new().await;
    let created = install.json(&[
        "client",
        "create",
        "--name",
        "Hyresportalen",
        "--redirect-uri",
        REDIRECT_URI,
        "--redirect-uri",
        "http://127.0.0.1:3000/cb",
    ]);
    let client_id = created["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();
    let secret = created["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_string();
    assert!(!client_id.is_empty() && secret.len() >= 32, "{created}");
    assert_eq!(created["public"], false);
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        created["redirect_uris"],
        serde_json::json!([REDIRECT_URI, "http://127.0.0.1:3000/cb"])
    );

    let public = install.json(&[
        "client",
        "create",
        "--name",
        "Mobilappen",
        "--redirect-uri",
        "se.leasify.app:/cb",
        "--public",
    ]);
    let public_id = public["client_id"].as_str().expect("client_id").to_string();
    assert!(
        public.get("client_secret").is_none(),
        "a public client has no secret: {public}"
    );
    assert_eq!(public["public"], true);
    assert_eq!(public["token_endpoint_auth_method"], "none");

    let list = install.json(&["client", "list"]);
    let ids: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&client_id.as_str()) && ids.contains(&public_id.as_str()),
        "{list}"
    );
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c.get("client_secret").is_none()),
        "list never shows secrets"
    );
    assert!(!text(&install.run(&["client", "list"]).stdout).contains(&secret));

    let shown = install.json(&["client", "show", &client_id]);
    assert_eq!(shown["client_id"], client_id.as_str());
    assert_eq!(shown["name"], "Hyresportalen");
    assert!(
        shown.get("client_secret").is_none(),
        "show never shows the secret: {shown}"
    );

    let server = install.server().await;
    assert_eq!(
        client_auth_status(&server, &client_id, &secret).await,
        400,
        "the created secret works"
    );

    let rotated = install.json(&["client", "rotate-secret", &client_id]);
    let new_secret = rotated["client_secret"]
        .as_str()
        .expect("the new secret")
        .to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(
        client_auth_status(&server, &client_id, &new_secret).await,
        400,
        "the new secret works"
    );
    // The server keeps client rows in memory for up to a second (CLIENT_CACHE_TTL): a change
    // made by another process reaches it within that time.
    assert_eventually_401(&server, &client_id, &secret, "the old secret stops").await;

    let output = install.run(&["client", "rotate-secret", &public_id]);
    assert_failure(&output, &["client", "rotate-secret", "<public>"]);
    assert!(
        text(&output.stderr).contains("public"),
        "{}",
        text(&output.stderr)
    );

    let output = install.run(&["client", "delete", &client_id]);
    assert_success(&output, &["client", "delete"]);
    assert_eventually_401(
        &server,
        &client_id,
        &new_secret,
        "a deleted client cannot authenticate",
    )
    .await;
    assert_failure(
        &install.run(&["client", "show", &client_id]),
        &["client", "show", "<deleted>"],
    );
    assert_failure(
        &install.run(&["client", "delete", &client_id]),
        &["client", "delete", "<deleted>"],
    );
    let list = install.json(&["client", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_redirect_uri_fails_with_one_line() {
    let install = Install::new().await;
    warm_up(&install);
    for bad in [
        "not a uri",
        "http://rp.example.com/cb",
        "https://rp.example.com/cb#fragment",
        "javascript:alert(1)",
    ] {
        let args = ["client", "create", "--name", "X", "--redirect-uri", bad];
        let output = install.run(&args);
        assert_failure(&output, &args);
        assert!(
            output.stdout.is_empty(),
            "nothing on stdout: {}",
            text(&output.stdout)
        );
        let lines = error_lines(&output);
        assert_eq!(
            lines.len(),
            1,
            "exactly one line on stderr for {bad:?}: {lines:?}"
        );
        assert!(
            lines[0].contains("redirect URI"),
            "the message names the problem: {lines:?}"
        );
    }
    let list = install.json(&["client", "list"]);
    assert_eq!(list, serde_json::json!([]), "no client was created");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_create_disable_enable_and_log_in() {
    let install = Install::new().await;
    let password = "ett långt lösenord 42";
    let args = [
        "user",
        "create",
        "--email",
        "  Anna.Svensson@Example.SE ",
        "--name",
        "Anna Svensson",
        "--password-stdin",
    ];
    let user = install.json_with(&args, Some(&format!("{password}\n")));
    assert_eq!(
        user["email"], "anna.svensson@example.se",
        "normalised email: {user}"
    );
    assert_eq!(user["has_password"], true);
    assert_eq!(user["disabled"], false);
    assert!(!text(&serde_json::to_vec(&user).unwrap()).contains(password));
    let user_id = user["id"].as_str().unwrap().to_string();

    // Duplicate email (in another case): refused with a clear message.
    let dup = [
        "user",
        "create",
        "--email",
        "ANNA.SVENSSON@example.se",
        "--name",
        "Someone Else",
        "--password-stdin",
    ];
    let output = install.run_with(&dup, &[], Some("another password 123\n"));
    assert_failure(&output, &dup);
    assert!(
        text(&output.stderr).contains("already exists"),
        "{}",
        text(&output.stderr)
    );

    // Too short a password, an empty stdin and a bad email are refused too.
    let short = [
        "user",
        "create",
        "--email",
        "b@example.se",
        "--name",
        "B",
        "--password-stdin",
    ];
    assert_failure(&install.run_with(&short, &[], Some("short\n")), &short);
    assert_failure(&install.run_with(&short, &[], Some("")), &short);
    let bad = ["user", "create", "--email", "not-an-email", "--name", "C"];
    assert_failure(&install.run(&bad), &bad);

    // Without a password.
    let invited = install.json(&[
        "user",
        "create",
        "--email",
        "c@example.se",
        "--name",
        "C C",
        "--lang",
        "en",
    ]);
    assert_eq!(invited["has_password"], false);
    assert_eq!(invited["locale"], "en");

    let list = install.json(&["user", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // The password set through stdin logs in.
    let client = install.json(&[
        "client",
        "create",
        "--name",
        "App",
        "--redirect-uri",
        REDIRECT_URI,
    ]);
    let client_id = client["client_id"].as_str().unwrap().to_string();
    let server = install.server().await;
    let (code, _) = Browser::new(&server.base_url)
        .code_for(&client_id, "anna.svensson@example.se", password)
        .await;
    assert!(!code.is_empty());

    // Disable (by email), then enable (by id).
    let disabled = install.json(&["user", "disable", "anna.svensson@example.se"]);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(disabled["id"], user_id.as_str());
    let mut browser = Browser::new(&server.base_url);
    let url = authorize_url(
        &server.base_url,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
        ],
    );
    let page = browser.navigate(&url).await;
    let refused = browser
        .submit_login(&page, "anna.svensson@example.se", password)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user cannot log in"
    );

    let enabled = install.json(&["user", "enable", &user_id]);
    assert_eq!(enabled["disabled"], false);
    let page = browser.navigate(&url).await;
    let accepted = browser
        .submit_login(&page, "anna.svensson@example.se", password)
        .await;
    client_redirect(&accepted);

    assert_failure(
        &install.run(&["user", "disable", "nobody@example.se"]),
        &["user", "disable", "<unknown>"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_list_and_rotate() {
    let install = Install::new().await;
    let keys = install.json(&["keys", "list"]);
    let keys = keys.as_array().expect("an array");
    assert_eq!(
        keys.len(),
        2,
        "one RS256 and one ES256 key on first start: {keys:?}"
    );
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "RS256"]);
    assert!(keys.iter().all(|k| k["status"] == "signing"), "{keys:?}");
    let output = text(&install.run(&["keys", "list"]).stdout);
    assert!(
        !output.contains("private") && !output.contains("\"d\""),
        "no key material: {output}"
    );

    let rotated = install.json(&["keys", "rotate"]);
    let new_keys: Vec<String> = rotated["new_keys"]
        .as_array()
        .expect("new_keys")
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(new_keys.len(), 2, "{rotated}");
    assert!(rotated["signing_starts_in_seconds"].is_i64(), "{rotated}");

    let keys = install.json(&["keys", "list"]);
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 4, "old and new keys: {keys:?}");
    for key in keys {
        let kid = key["kid"].as_str().unwrap();
        let expected = if new_keys.iter().any(|k| k == kid) {
            "next"
        } else {
            "signing"
        };
        assert_eq!(key["status"], expected, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_check_validates_and_redacts() {
    let install = Install::new().await;
    let output = install.run_with(&["config", "check"], &[("LEASIFY_ISSUER", "ftp://x")], None);
    assert_failure(&output, &["config", "check"]);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("issuer"),
        "the error names the key: {stderr}"
    );
    assert_eq!(error_lines(&output).len(), 1, "one line: {stderr}");

    let output = install.run_with(
        &["config", "check"],
        &[("LEASIFY_TOKENS__ACCESS_TOKEN_TTL", "0")],
        None,
    );
    assert_failure(&output, &["config", "check"]);
    assert!(
        text(&output.stderr).contains("tokens.access_token_ttl"),
        "{}",
        text(&output.stderr)
    );

    let output = install.run_with(&["config", "check"], &[("LEASIFY_NO_SUCH_KEY", "1")], None);
    assert_success(
        &output,
        &[
            "config",
            "check",
            "(unknown LEASIFY_ variables are ignored)",
        ],
    );

    let missing = install.dir.path().join("missing.toml");
    let output = install.run(&["--config", missing.to_str().unwrap(), "config", "check"]);
    assert_failure(&output, &["--config", "<missing>", "config", "check"]);

    // Generated secrets never appear in the output.
    warm_up(&install);
    let secrets = std::fs::read_to_string(install.dir.path().join("secrets.toml"))
        .expect("generated secrets.toml");
    let values: Vec<String> = secrets
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
        })
        .filter(|v| v.len() >= 40)
        .collect();
    assert!(values.len() >= 3, "secrets found in {secrets}");
    let output = install.run(&["config", "check"]);
    assert_success(&output, &["config", "check"]);
    let stdout = text(&output.stdout);
    for value in &values {
        assert!(
            !stdout.contains(value.as_str()),
            "config check prints a generated secret"
        );
    }

    // Configured secrets and database passwords are redacted.
    let key = |n: u8| base64_of(&[n; 32]);
    let (k1, hmac, blind) = (key(1), key(2), key(3));
    let encryption_keys = format!("{{k1=\"{k1}\"}}");
    let env = [
        ("LEASIFY_SECRETS__ENCRYPTION_KEYS", encryption_keys.as_str()),
        ("LEASIFY_SECRETS__ACTIVE_ENCRYPTION_KEY", "k1"),
        ("LEASIFY_SECRETS__HMAC_KEY", hmac.as_str()),
        ("LEASIFY_SECRETS__BLIND_INDEX_KEY", blind.as_str()),
        (
            "LEASIFY_DATABASE_URL",
            "postgres://leasify:s3cretpw@db.internal:5432/leasify",
        ),
    ];
    let output = install.run_with(&["config", "check"], &env, None);
    assert_success(&output, &["config", "check", "(with secrets)"]);
    let stdout = text(&output.stdout);
    for secret in [&k1, &hmac, &blind] {
        assert!(
            !stdout.contains(secret.as_str()),
            "a configured secret is printed:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("s3cretpw"),
        "the database password is printed:\n{stdout}"
    );
    assert!(stdout.contains("redacted"), "{stdout}");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `serve` as an operator runs it: the process answers, and in the default BankID mode the
/// simulator is up (the login page offers BankID and the simulated app answers).
#[tokio::test]
async fn serve_starts_with_the_bankid_simulator() {
    let install = Install::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = install
        .command(&["serve"])
        .env("LEASIFY_LISTEN", format!("127.0.0.1:{port}"))
        .env("LEASIFY_ISSUER", &base)
        .env("LEASIFY_BANKID__SIMULATOR_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop_guard();
    let http = reqwest::Client::new();
    // A separate process: poll until it listens (it takes milliseconds; give up after 30 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(response) = http.get(format!("{base}/health/live")).send().await
            && response.status() == StatusCode::OK
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not answer within 30 s"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let dev = http
        .get(format!("{base}/dev/bankid"))
        .send()
        .await
        .expect("dev app");
    assert_eq!(
        dev.status(),
        StatusCode::OK,
        "the simulated BankID app runs"
    );
    let discovery: Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert!(
        discovery["acr_values_supported"]
            .as_array()
            .expect("array")
            .iter()
            .any(|acr| acr == "http://id.elegnamnden.se/loa/1.0/loa3"),
        "BankID is enabled: {discovery}"
    );
    child.stop();
}

/// Kills the server process when the test ends, even on a failed assertion.
struct ChildGuard(std::process::Child);

impl ChildGuard {
    fn stop(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

trait SpawnGuarded {
    fn kill_on_drop_guard(&mut self) -> ChildGuard;
}

impl SpawnGuarded for Command {
    fn kill_on_drop_guard(&mut self) -> ChildGuard {
        ChildGuard(self.spawn().expect("serve starts"))
    }
}

/// The one line a refused start or `config check` prints, which must name `key`.
fn assert_refused(install: &Install, args: &[&str], env: &[(&str, &str)], key: &str) -> String {
    let output = install.run_with(args, env, None);
    assert_failure(&output, args);
    let lines = error_lines(&output);
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(
        lines[0].contains(&format!("`{key}`")),
        "{args:?} names {key}: {}",
        lines[0]
    );
    lines[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_production_issuer_refuses_every_development_shortcut() {
    let install = Install::new().await;
    let production = ("LEASIFY_ISSUER", "https://id.example.com");
    let smtp = [
        ("LEASIFY_MAIL__TRANSPORT", "smtp"),
        ("LEASIFY_MAIL__SMTP_HOST", "smtp.example.com"),
    ];
    for args in [&["config", "check"][..], &["serve"][..]] {
        // The defaults (file outbox) on a production issuer.
        let line = assert_refused(&install, args, &[production], "mail.transport");
        assert!(
            line.contains("allow_file_outbox"),
            "says how to fix: {line}"
        );
        // The simulator, asked for by name.
        let mut env = vec![production, ("LEASIFY_BANKID__MODE", "simulator")];
        env.extend(smtp);
        let line = assert_refused(&install, args, &env, "bankid.mode");
        assert!(line.contains("production"), "says how to fix: {line}");
        // BankID's test service without the staging opt-in.
        let mut env = vec![
            production,
            ("LEASIFY_BANKID__MODE", "test"),
            ("LEASIFY_BANKID__CLIENT_CERT", "/etc/leasify/rp.p12"),
        ];
        env.extend(smtp);
        let line = assert_refused(&install, args, &env, "bankid.mode");
        assert!(
            line.contains("allow_test_service"),
            "says how to fix: {line}"
        );
        // A plain http issuer that is not this machine.
        let mut env = vec![("LEASIFY_ISSUER", "http://id.example.com")];
        env.extend(smtp);
        assert_refused(&install, args, &env, "issuer");
    }

    // With the opt-ins a staging deployment passes the check, and BankID defaults to disabled.
    let mut env = vec![
        production,
        ("LEASIFY_BANKID__MODE", "test"),
        ("LEASIFY_BANKID__CLIENT_CERT", "/etc/leasify/rp.p12"),
        ("LEASIFY_BANKID__ALLOW_TEST_SERVICE", "true"),
        ("LEASIFY_MAIL__ALLOW_FILE_OUTBOX", "true"),
    ];
    let output = install.run_with(&["config", "check"], &env, None);
    assert_success(&output, &["config", "check", "(staging)"]);
    env.truncate(1);
    env.extend(smtp);
    let output = install.run_with(&["config", "check"], &env, None);
    assert_success(&output, &["config", "check", "(production)"]);
    assert!(
        text(&output.stdout).contains("mode = \"disabled\""),
        "BankID is off unless configured: {}",
        text(&output.stdout)
    );
    // Development needs nothing.
    let output = install.run(&["config", "check"]);
    assert_success(&output, &["config", "check", "(development)"]);
    assert!(text(&output.stdout).contains("mode = \"simulator\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_that_fails_says_why_once() {
    if backend() != Backend::Sqlite {
        return;
    }
    let install = Install::new().await;
    // The database file is not a database.
    std::fs::write(
        install.dir.path().join("leasify-id.db"),
        "this is not a database, it is a text file that is long enough to have a header".repeat(20),
    )
    .expect("write");
    let output = install.run(&["serve"]);
    assert_failure(&output, &["serve"]);
    let lines = error_lines(&output)
        .into_iter()
        .filter(|l| l.starts_with("error:"))
        .collect::<Vec<_>>();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    let reason = "file is not a database";
    assert_eq!(line.matches(reason).count(), 1, "said once: {line}");
    assert!(line.contains("leasify-id.db"), "{line}");
}

/// Starts `serve` on `port` and waits until it answers.
async fn serve_on(install: &Install, port: u16) -> ChildGuard {
    let base = format!("http://127.0.0.1:{port}");
    let child = install
        .command(&["serve"])
        .env("LEASIFY_LISTEN", format!("127.0.0.1:{port}"))
        .env("LEASIFY_ISSUER", &base)
        .env("LEASIFY_BANKID__MODE", "disabled")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop_guard();
    let http = reqwest::Client::new();
    // A separate process: poll until it listens (it takes milliseconds; give up after 30 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(response) = http.get(format!("{base}/health/ready")).send().await
            && response.status() == StatusCode::OK
        {
            return child;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not answer");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Refreshes until `stop`, as a client does: the new token after a 200; the same token again
/// after no answer (the server is gone) or a 503. Panics if the chain is lost.
async fn refresh_through_restarts(
    base: String,
    client: (String, String),
    mut token: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (String, usize, usize) {
    let http = plain_client();
    let (mut rotated, mut unanswered) = (0, 0);
    while !*stop.borrow() {
        let sent = http
            .post(format!("{base}/token"))
            .basic_auth(&client.0, Some(&client.1))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == StatusCode::OK => {
                let body: Value = response.json().await.expect("json");
                token = body["refresh_token"].as_str().expect("rt").to_string();
                rotated += 1;
            }
            Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
                unanswered += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                panic!("the chain was lost: {status} {body}");
            }
            Err(_) => {
                unanswered += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
    (token, rotated, unanswered)
}

/// `kill -9` in the middle of refreshes: after the restart every chain goes on (a refresh
/// either committed with its successor or not at all, and the client retrying with the old
/// token within the grace window gets a successor).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_chains_survive_kill_9() {
    let install = Install::new().await;
    let client = install.json(&[
        "client",
        "create",
        "--name",
        "Portal",
        "--redirect-uri",
        REDIRECT_URI,
    ]);
    let client = (
        client["client_id"].as_str().expect("id").to_string(),
        client["client_secret"]
            .as_str()
            .expect("secret")
            .to_string(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve_on(&install, port).await;
    let mut tokens = Vec::new();
    for n in 0..4 {
        let email = format!("kund{n}@example.se");
        let args = [
            "user",
            "create",
            "--email",
            &email,
            "--name",
            "Kund",
            "--password-stdin",
        ];
        install.json_with(&args, Some(&format!("{PASSWORD}\n")));
        let mut browser = Browser::new(&base);
        let (code, verifier) = browser.code_for(&client.0, &email, PASSWORD).await;
        let tokens_json = token_request(
            &base,
            Some((&client.0, &client.1)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
            ],
        )
        .await
        .json();
        tokens.push(
            tokens_json["refresh_token"]
                .as_str()
                .expect("rt")
                .to_string(),
        );
    }
    let (stop, signal) = tokio::sync::watch::channel(false);
    let chains: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            tokio::spawn(refresh_through_restarts(
                base.clone(),
                client.clone(),
                token,
                signal.clone(),
            ))
        })
        .collect();
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        server.stop(); // SIGKILL: no shutdown, no flush beyond what committed.
        server = serve_on(&install, port).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.send(true).expect("stop");
    let http = plain_client();
    let mut rotated_total = 0;
    for chain in chains {
        let (token, rotated, _) = chain.await.expect("the chain survived");
        rotated_total += rotated;
        let next = http
            .post(format!("{base}/token"))
            .basic_auth(&client.0, Some(&client.1))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
            .send()
            .await
            .expect("answer");
        assert_eq!(next.status(), StatusCode::OK);
    }
    assert!(rotated_total > 8, "refreshes went on: {rotated_total}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn grant_and_revoke_admin_roles() {
    let install = Install::new().await;
    let created = install.json(&[
        "user",
        "create",
        "--email",
        "agnes@leasify.se",
        "--name",
        "Agnes",
    ]);
    assert_eq!(created["admin_role"], Value::Null);

    let granted = install.json(&["user", "grant-admin", "agnes@leasify.se"]);
    assert_eq!(granted["admin_role"], "admin", "{granted}");
    let id = granted["id"].as_str().unwrap().to_string();
    let support = install.json(&["user", "grant-admin", &id, "--role", "support"]);
    assert_eq!(support["admin_role"], "support", "{support}");
    let listed = install.json(&["user", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    let unknown_role = ["user", "grant-admin", "agnes@leasify.se", "--role", "root"];
    assert_failure(&install.run(&unknown_role), &unknown_role);
    let unknown_user = ["user", "grant-admin", "nobody@leasify.se"];
    assert_failure(&install.run(&unknown_user), &unknown_user);

    let revoked = install.json(&["user", "revoke-admin", "agnes@leasify.se"]);
    assert_eq!(revoked["admin_role"], Value::Null, "{revoked}");
    // Twice is fine.
    install.json(&["user", "revoke-admin", "agnes@leasify.se"]);

    // Audited as the system, the role named.
    let server = install.server().await;
    let events = server
        .state
        .store
        .audit_events(&leasify_id::store::AuditQuery {
            user_id: Some(id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut roles: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.kind.starts_with("admin_role."))
        .map(|e| (e.kind.clone(), e.details.clone()))
        .collect();
    roles.reverse();
    assert_eq!(
        roles,
        [
            ("admin_role.granted".into(), r#"{"role":"admin"}"#.into()),
            ("admin_role.granted".into(), r#"{"role":"support"}"#.into()),
            ("admin_role.revoked".into(), r#"{"role":"support"}"#.into()),
        ]
    );
    assert!(events.iter().all(|e| e.actor_type == "system"));

    // The step-up limit is a configuration key like the others, with an environment override.
    let output = install.run_with(
        &["config", "check"],
        &[("LEASIFY_ADMIN__STEP_UP_MINUTES", "5")],
        None,
    );
    assert_success(&output, &["config", "check"]);
    assert!(text(&output.stdout).contains("step_up_minutes = 5"));
    let output = install.run_with(
        &["config", "check"],
        &[("LEASIFY_ADMIN__STEP_UP_MINUTES", "0")],
        None,
    );
    assert_failure(&output, &["config", "check"]);
    assert!(text(&output.stderr).contains("admin.step_up_minutes"));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_remove_a_users_passkeys() {
    let install = Install::new().await;
    let created = install.json(&[
        "user",
        "create",
        "--email",
        "ines@leasify.se",
        "--name",
        "Ines",
    ]);
    let id = created["id"].as_str().unwrap().to_string();
    let server = install.server().await;
    for (key, at) in [("p1", 1), ("p2", 2)] {
        let passkey = leasify_id::store::StoredPasskey {
            id: key.into(),
            user_id: id.clone(),
            credential_id: format!("cred-{key}"),
            credential: "{}".into(),
            rp_id: "localhost".into(),
            name: format!("Nyckel {key}"),
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
    let listed = install.json(&["user", "passkeys", "ines@leasify.se"]);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[0]["name"], "Nyckel p1");
    let removed = install.json(&["user", "remove-passkey", "ines@leasify.se", "p1"]);
    assert_eq!(removed["removed"], "p1");
    // No password and no BankID: the last passkey stays, and the command says why.
    let last = ["user", "remove-passkey", "ines@leasify.se", "p2"];
    let output = install.run(&last);
    assert_failure(&output, &last);
    assert!(
        text(&output.stderr).contains("last way to log in"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        install
            .json(&["user", "passkeys", &id])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.stop().await;
}

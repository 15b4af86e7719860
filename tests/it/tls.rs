//! HTTPS served directly (`[tls] cert_file/key_file`): discovery over https with a client trusting
//! the certificate's CA, pages and forms work over it, plain http to the same port gets nothing,
//! and a client not trusting the certificate refuses it. `config check` reads the `[tls]` keys
//! from the environment and refuses half a configuration.

use crate::common;

use std::net::SocketAddr;
use std::process::Command;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use reqwest::StatusCode;

/// A CA and a server certificate for `localhost` it issued, written as PEM files.
struct Certs {
    dir: TempDir,
    ca_pem: String,
}

impl Certs {
    fn generate() -> Certs {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let server_params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");

        let dir = TempDir::new("tls");
        // The chain: the server certificate, then the CA.
        let chain = format!("{}{}", server_cert.pem(), ca_cert.pem());
        std::fs::write(dir.path().join("cert.pem"), chain).expect("write cert");
        std::fs::write(
            dir.path().join("key.pem"),
            server_key.serialize_pem().as_bytes(),
        )
        .expect("write key");
        Certs {
            dir,
            ca_pem: ca_cert.pem(),
        }
    }

    fn cert_file(&self) -> String {
        self.dir.path().join("cert.pem").display().to_string()
    }

    fn key_file(&self) -> String {
        self.dir.path().join("key.pem").display().to_string()
    }
}

/// A server on https://localhost:<port> with `certs`.
async fn https_server(certs: &Certs) -> TestServer {
    let (cert_file, key_file) = (certs.cert_file(), certs.key_file());
    TestServer::start_with(move |config| {
        let port = config
            .listen
            .parse::<SocketAddr>()
            .expect("listen address")
            .port();
        config.issuer = format!("https://localhost:{port}");
        config.tls.cert_file = cert_file;
        config.tls.key_file = key_file;
    })
    .await
}

/// A client that trusts `ca_pem` and reaches `localhost` at `addr`; no redirects followed.
fn trusting_client(ca_pem: &str, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM"))
        .resolve("localhost", addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn discovery_is_served_over_https_and_plain_http_gets_nothing() {
    let certs = Certs::generate();
    let server = https_server(&certs).await;
    let issuer = server.issuer().to_string();
    assert!(issuer.starts_with("https://localhost:"), "{issuer}");
    let client = trusting_client(&certs.ca_pem, server.addr);

    let discovery = read(
        client
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery over https"),
    )
    .await;
    assert_eq!(discovery.status, StatusCode::OK, "{}", discovery.describe());
    // Browsers are told to use nothing but https for this host from now on.
    assert_eq!(
        discovery.header("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
    let doc = discovery.json();
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    let jwks = read(
        client
            .get(doc["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .expect("JWKS over https"),
    )
    .await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert!(!jwks.json()["keys"].as_array().unwrap().is_empty());

    // Plain http to the same port: the TLS listener answers no HTTP at all.
    let port = server.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/.well-known/openid-configuration"),
        format!("http://127.0.0.1:{port}/health/live"),
    ] {
        let plain = plain_client().get(&url).send().await;
        assert!(
            plain.is_err(),
            "{url} must fail, got {:?}",
            plain.map(|r| r.status())
        );
    }

    // A client that does not trust the certificate refuses the connection.
    let untrusting = reqwest::Client::builder()
        .resolve("localhost", server.addr)
        .build()
        .expect("client");
    let refused = untrusting.get(format!("{issuer}/health/live")).send().await;
    assert!(refused.is_err(), "an untrusted certificate is refused");

    // After the failed handshakes the server still serves.
    let live = client
        .get(format!("{issuer}/health/live"))
        .send()
        .await
        .expect("still serving");
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn pages_and_forms_work_over_https() {
    let certs = Certs::generate();
    let server = https_server(&certs).await;
    server
        .create_user("anna@example.se", "Anna", PASSWORD)
        .await;
    let (client_id, _) = server.create_client("Portal").await;
    let issuer = server.issuer().to_string();
    let client = trusting_client(&certs.ca_pem, server.addr);

    // /authorize sends the browser to the login page on the https origin.
    let (challenge, _) = pkce_pair();
    let url = authorize_url(
        &issuer,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", "tls"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let authorize = read(client.get(&url).send().await.expect("authorize")).await;
    assert_eq!(
        authorize.status,
        StatusCode::SEE_OTHER,
        "{}",
        authorize.describe()
    );
    let login_url = authorize.location().expect("to the login page");
    assert_eq!(login_url.scheme(), "https");
    assert_eq!(login_url.path(), "/login");

    // The login page sets the CSRF cookie; a wrong password is answered by the page (the handler
    // reads the peer address, which the TLS listener must supply).
    let page = read(client.get(login_url.as_str()).send().await.expect("login")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    let cookies: Vec<String> = page
        .headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next().map(str::to_string))
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-leasify-csrf=")),
        "{cookies:?}"
    );
    let mut form = page.login_form().expect("login form");
    form.set("email", "anna@example.se");
    form.set("password", "not the password");
    let refused = read(
        client
            .post(form.action.as_str())
            .header(reqwest::header::COOKIE, cookies.join("; "))
            .form(&form.fields)
            .send()
            .await
            .expect("login post"),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.describe()
    );
    assert!(refused.body.contains(INVALID_LOGIN_SV), "{}", refused.body);

    // And the right one leads on to the app.
    form.set("password", PASSWORD);
    let done = read(
        client
            .post(form.action.as_str())
            .header(reqwest::header::COOKIE, cookies.join("; "))
            .form(&form.fields)
            .send()
            .await
            .expect("login post"),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.describe());
    let callback = done.location().expect("to the app");
    assert!(callback.as_str().starts_with(REDIRECT_URI), "{callback}");
    assert_eq!(query_params(&callback)["iss"], issuer);
}

/// `leasify-id config check` with only the given `LEASIFY_*` variables.
fn config_check(data_dir: &TempDir, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leasify-id"));
    command
        .args(["config", "check"])
        .current_dir(data_dir.path());
    for (key, _) in std::env::vars() {
        if key.starts_with("LEASIFY_") {
            command.env_remove(key);
        }
    }
    command.env("LEASIFY_DATA_DIR", data_dir.path());
    command.env("NO_COLOR", "1");
    command.envs(env.iter().copied());
    command.output().expect("the binary runs")
}

#[test]
fn the_tls_keys_come_from_the_environment_and_must_come_in_pairs() {
    let certs = Certs::generate();
    let data_dir = TempDir::new("tls-config");
    let (cert_file, key_file) = (certs.cert_file(), certs.key_file());

    let ok = config_check(
        &data_dir,
        &[
            ("LEASIFY_TLS__CERT_FILE", &cert_file),
            ("LEASIFY_TLS__KEY_FILE", &key_file),
        ],
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.contains(&cert_file),
        "the cert file is shown: {stdout}"
    );

    for half in [
        ("LEASIFY_TLS__CERT_FILE", cert_file.as_str()),
        ("LEASIFY_TLS__KEY_FILE", key_file.as_str()),
    ] {
        let refused = config_check(&data_dir, &[half]);
        assert!(!refused.status.success(), "{half:?} alone is refused");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("tls"),
            "the message names the key: {stderr}"
        );
    }
}

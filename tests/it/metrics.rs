//! `/metrics` on its own listener (`metrics.listen`): after a password login, a code exchange, a
//! refresh and a cancelled BankID order over real HTTP, the Prometheus text shows every metric
//! family with route templates (never raw URLs) as labels, `promtool check metrics` finds no
//! problem in it, and the main listener does not serve it.
//!
//! Every server of this test binary records into the one recorder of the process, and other tests
//! run at the same time: counters are compared before and after (they only grow), never exact.

use crate::bankid_support::start_order;
use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;

const EMAIL: &str = "mats.metrisk@example.se";

/// The metrics text of `server`'s metrics listener.
async fn scrape(server: &TestServer) -> String {
    let addr = server.metrics_addr.expect("metrics.listen is set");
    let response = plain_client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics request");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "the Prometheus text format, got {content_type:?}"
    );
    response.text().await.expect("metrics body")
}

/// The value of one series (`name{labels}` exactly as rendered), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(series)?;
            rest.strip_prefix(' ')?.trim().parse::<f64>().ok()
        })
        .unwrap_or(0.0)
}

fn assert_grew(before: &str, after: &str, series: &str) {
    let (was, is) = (value(before, series), value(after, series));
    assert!(
        is >= was + 1.0,
        "{series} went from {was} to {is}:\n{after}"
    );
}

fn assert_has(text: &str, prefix: &str) {
    assert!(
        text.lines().any(|line| line.starts_with(prefix)),
        "a line starting with {prefix:?} in:\n{text}"
    );
}

/// Scrapes until the sampler has set the gauges it reads from the database.
async fn scrape_with_samples(server: &TestServer) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape(server).await;
        if text.contains("leasify_queue_pending{queue=\"jobs\"}")
            && text.contains("leasify_db_pool_connections{")
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the sampler set the queue and pool gauges:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn metrics_listener_shows_every_family_and_passes_promtool() {
    let server = TestServer::start_with(|c| c.metrics.listen = "127.0.0.1:0".into()).await;
    let metrics_addr = server.metrics_addr.expect("the metrics listener is bound");
    assert_ne!(metrics_addr, server.addr);
    let (client_id, secret) = server.create_client("Metrics portal").await;
    server.create_user(EMAIL, "Mats Metrisk", PASSWORD).await;
    let rp = server.relying_party(&client_id, Some(&secret)).await;
    let before = scrape(&server).await;

    // A wrong password, then a login, a code exchange and a refresh, all over HTTP.
    let mut browser = Browser::new(&server.base_url);
    let authorization = rp.authorization(&["email", "offline_access"], true, |r| r);
    let page = browser.navigate(authorization.url.as_str()).await;
    let refused = browser.submit_login(&page, EMAIL, "not the password").await;
    assert!(
        refused.body.contains(INVALID_LOGIN_SV),
        "{}",
        refused.describe()
    );
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, _) = rp.complete(authorization, &callback).await;
    let refresh = openidconnect::OAuth2TokenResponse::refresh_token(&tokens)
        .expect("a refresh token")
        .clone();
    rp.refresh(&refresh).await.expect("the refresh succeeds");
    // A BankID order, cancelled on its page.
    let login = browser
        .navigate(&server.url("/login?next=%2Faccount"))
        .await;
    let order = start_order(&mut browser, &login, "form[action='/bankid/login']").await;
    let page = browser
        .get(&server.url(&format!("/bankid/order?order={order}")))
        .await;
    let cancel = Form::find(&page, "form[action='/bankid/cancel']").expect("cancel form");
    let cancelled = browser
        .post_form(cancel.action.as_str(), &cancel.fields)
        .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    // A path no route matches.
    let unknown = browser.get(&server.url("/no/such/page?secret=1")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let after = scrape_with_samples(&server).await;
    for series in [
        "leasify_logins_total{method=\"password\",result=\"failure\"}",
        "leasify_logins_total{method=\"password\",result=\"success\"}",
        "leasify_tokens_issued_total{grant=\"authorization_code\"}",
        "leasify_tokens_issued_total{grant=\"refresh_token\"}",
        "leasify_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"}",
        "leasify_http_requests_total{route=\"/login\",method=\"POST\",status=\"401\"}",
        "leasify_http_requests_total{route=\"/bankid/order\",method=\"GET\",status=\"200\"}",
        "leasify_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}",
        "leasify_http_request_duration_seconds_count{route=\"/token\",method=\"POST\"}",
        "leasify_bankid_orders_total{purpose=\"login\",outcome=\"cancelled\",hint=\"none\"}",
        "leasify_password_hash_wait_seconds_count",
    ] {
        assert_grew(&before, &after, series);
    }
    for prefix in [
        "leasify_http_request_duration_seconds_bucket{route=\"/token\",method=\"POST\",le=\"0.005\"}",
        "leasify_password_hash_waiting ",
        "leasify_password_hash_in_flight ",
        "leasify_queue_pending{queue=\"outbox\"}",
        "leasify_queue_pending{queue=\"backchannel\"}",
        "leasify_queue_oldest_pending_age_seconds{queue=\"outbox\"}",
        "leasify_queue_given_up{queue=\"jobs\"}",
        "leasify_db_pool_connections{state=\"idle\"}",
        "leasify_db_pool_connections{state=\"in_use\"}",
        "leasify_db_pool_max_connections ",
        "# HELP leasify_logins_total ",
        "# TYPE leasify_http_request_duration_seconds histogram",
        "# TYPE leasify_queue_pending gauge",
    ] {
        assert_has(&after, prefix);
    }
    // Labels are route templates: no path, query or order reference anyone sent.
    assert!(
        !after.contains("secret=1") && !after.contains("/no/such"),
        "{after}"
    );
    assert!(!after.contains(&order), "{after}");

    // Not on the main listener.
    let public = browser.get(&server.url("/metrics")).await;
    assert_eq!(public.status, StatusCode::NOT_FOUND);

    std::fs::write("/tmp/metrics-sample.txt", &after).unwrap();
    promtool_finds_no_problem(&after);
    server.stop().await;
}

/// Whether a missing promtool must fail (CI sets `LEASIFY_REQUIRE_BROWSER`, which installs it).
fn promtool_required() -> bool {
    std::env::var("LEASIFY_REQUIRE_BROWSER")
        .map(|v| !v.trim().is_empty() && v.trim() != "0")
        .unwrap_or(false)
}

/// `promtool check metrics` (Debian package `prometheus`) lints the text on its standard input.
fn promtool_finds_no_problem(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !promtool_required() => {
            println!(
                "SKIPPED promtool check: promtool is not installed (the Debian package \
                 prometheus; set LEASIFY_REQUIRE_BROWSER=1 to make this a failure)"
            );
            return;
        }
        Err(e) => panic!("promtool check metrics cannot run: {e}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool ran");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && printed.trim().is_empty(),
        "promtool check metrics: {}\n{printed}\non:\n{text}",
        output.status
    );
}

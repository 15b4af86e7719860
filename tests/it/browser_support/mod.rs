//! What the browser tests need besides the shared harness: a real Chromium driven over the
//! DevTools protocol ([`cdp`]), numbered screenshots, and a tiny relying-party callback server.

#![allow(dead_code)]

pub mod cdp;
pub mod qr;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use url::Url;

use cdp::{Chromium, Connection, Navigation, Page, Viewport};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether a missing browser must fail the test (CI sets `LEASIFY_REQUIRE_BROWSER=1`).
fn browser_required() -> bool {
    std::env::var("LEASIFY_REQUIRE_BROWSER")
        .map(|v| !v.trim().is_empty() && v.trim() != "0")
        .unwrap_or(false)
}

/// The Chromium binary (`LEASIFY_CHROMIUM` may point elsewhere), or `None` when the test should
/// be skipped: a missing browser is a skip locally and a failure where one is required.
pub fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("LEASIFY_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMIUM));
    if path.is_file() {
        return Some(path);
    }
    if browser_required() {
        panic!(
            "{test}: {} is missing and LEASIFY_REQUIRE_BROWSER is set (install the Debian package \
             chromium)",
            path.display()
        );
    }
    println!(
        "SKIPPED {test}: no browser at {} (install the Debian package chromium; set \
         LEASIFY_REQUIRE_BROWSER=1 to make this a failure)",
        path.display()
    );
    None
}

// ---------------------------------------------------------------------------------------------
// Screenshots
// ---------------------------------------------------------------------------------------------

/// The folder of a test's screenshots: `$LEASIFY_SCREENSHOT_DIR/<test>` if set, otherwise
/// `<target dir>/screenshots/<test>` (the target dir is `$CARGO_TARGET_DIR` or `./target`).
pub fn screenshot_dir(test: &str) -> PathBuf {
    let base = match std::env::var_os("LEASIFY_SCREENSHOT_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("screenshots"),
            _ => Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join("screenshots"),
        },
    };
    base.join(test)
}

// ---------------------------------------------------------------------------------------------
// A browser session for one test
// ---------------------------------------------------------------------------------------------

/// Chromium, one tab, and the test's screenshot folder. Every helper panics with the step, the
/// URL and a screenshot of the failure, so a failing CI run shows what the person would see.
pub struct Ui {
    pub page: Page,
    _connection: Arc<Connection>,
    _chromium: Chromium,
    pub dir: PathBuf,
    shots: Mutex<u32>,
    pub viewport: Mutex<Viewport>,
    /// Console errors (and other recorded problems) seen so far, with the step that found them.
    /// They fail the test at [`Ui::finish`], so one error does not hide what the rest of the
    /// journey would show.
    console_problems: Mutex<Vec<String>>,
}

impl Ui {
    /// Launches Chromium with `locale` (e.g. `sv-SE`) and opens a tab at `viewport` size.
    pub async fn launch(binary: &Path, test: &str, locale: &str, viewport: Viewport) -> Ui {
        let dir = screenshot_dir(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        // Straight to the process's stderr: the test harness captures `println!`, and CI logs
        // should show where the artifacts are even when the test passes.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("{test}: screenshots in {}\n", dir.display()).as_bytes(),
        );
        let chromium = Chromium::launch(binary, locale).expect("Chromium starts");
        let connection = Connection::connect(&chromium.ws_url)
            .await
            .expect("DevTools connection");
        let page = Page::open(connection.clone()).await.expect("a new tab");
        page.set_language(locale).await.expect("language override");
        page.set_viewport(viewport).await.expect("viewport");
        Ui {
            page,
            _connection: connection,
            _chromium: chromium,
            dir,
            shots: Mutex::new(0),
            viewport: Mutex::new(viewport),
            console_problems: Mutex::new(Vec::new()),
        }
    }

    fn viewport_now(&self) -> Viewport {
        *self.viewport.lock().expect("viewport lock")
    }

    pub async fn set_viewport(&self, viewport: Viewport) {
        self.page
            .set_viewport(viewport)
            .await
            .expect("viewport change");
        *self.viewport.lock().expect("viewport lock") = viewport;
        // The layout follows the new size before the next screenshot or measurement.
        self.page
            .wait_until(
                &format!("window.innerWidth === {}", viewport.width()),
                Duration::from_secs(5),
            )
            .await
            .expect("the viewport took the new size");
    }

    /// Saves `NN-<step>.png` and returns its path.
    pub async fn shot(&self, step: &str) -> PathBuf {
        let n = {
            let mut shots = self.shots.lock().expect("shot counter");
            *shots += 1;
            *shots
        };
        let path = self.dir.join(format!("{n:02}-{step}.png"));
        self.page
            .screenshot(&path)
            .await
            .unwrap_or_else(|e| panic!("screenshot {}: {e:#}", path.display()));
        path
    }

    /// Panics after saving a screenshot of what the page shows now.
    pub async fn fail(&self, step: &str, message: String) -> ! {
        let url = self.page.url().await.unwrap_or_default();
        let body = self
            .page
            .text("body")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let path = self
            .dir
            .join(format!("FAILED-{}.png", step.replace(' ', "-")));
        let saved = match self.page.screenshot(&path).await {
            Ok(()) => format!("screenshot: {}", path.display()),
            Err(e) => format!("no screenshot: {e:#}"),
        };
        panic!(
            "step {step:?} failed: {message}\n  at {url}\n  {saved}\n  console errors: {:?} {:?}\n  page text:\n{body}",
            self.console_problems
                .lock()
                .map(|p| p.clone())
                .unwrap_or_default(),
            self.page.errors()
        );
    }

    async fn check<T>(&self, step: &str, result: anyhow::Result<T>) -> T {
        match result {
            Ok(value) => value,
            Err(e) => self.fail(step, format!("{e:#}")).await,
        }
    }

    /// Opens `url`; the page it ends on (after redirects) must answer 200.
    pub async fn goto(&self, step: &str, url: &str) {
        self.goto_expect(step, url, 200).await;
    }

    pub async fn goto_expect(&self, step: &str, url: &str, status: u16) {
        let result = self.page.goto(url).await;
        let navigation = self.check(step, result).await;
        self.after_navigation(step, navigation, status).await;
    }

    pub async fn fill(&self, step: &str, selector: &str, value: &str) {
        let result = self.page.fill(selector, value).await;
        self.check(step, result).await;
    }

    /// Clicks and waits for the next page, which must answer 200.
    pub async fn click(&self, step: &str, selector: &str) {
        self.click_expect(step, selector, 200).await;
    }

    /// Clicks and waits for the next page, which must answer `status` (a form shown again with
    /// its error, e.g. 400 or 401).
    pub async fn click_expect(&self, step: &str, selector: &str, status: u16) {
        let result = self.page.click_and_wait(selector).await;
        let navigation = self.check(step, result).await;
        self.after_navigation(step, navigation, status).await;
    }

    /// Checks the document's status; Chromium logs every 4xx/5xx document as a console error
    /// ("Failed to load resource"), so exactly that entry is accepted when the status was
    /// expected. Every other error is recorded.
    pub async fn after_navigation(&self, step: &str, navigation: Navigation, status: u16) {
        if navigation.status != Some(status) {
            self.fail(
                step,
                format!("expected a {status} page, got {navigation:?}"),
            )
            .await;
        }
        let expected_entry = (status >= 400).then(|| {
            format!(
                "log error [network]: Failed to load resource: the server responded with a status of {status} "
            )
        });
        let mut accepted = false;
        let errors: Vec<String> = self
            .page
            .errors()
            .into_iter()
            .filter(|error| {
                let expected = !accepted
                    && expected_entry
                        .as_deref()
                        .is_some_and(|e| error.starts_with(e))
                    && error.ends_with(&format!("({})", navigation.url));
                accepted |= expected;
                !expected
            })
            .collect();
        self.page.accept_errors();
        self.record_errors(step, errors).await;
    }

    /// Chooses the file at `path` in the file input `selector`, as a person picking it would.
    pub async fn choose_file(&self, step: &str, selector: &str, path: &Path) {
        let result = async {
            let expression = format!(
                "document.querySelector({})",
                serde_json::to_string(selector)?
            );
            let found = self
                .page
                .call(
                    "Runtime.evaluate",
                    serde_json::json!({ "expression": expression }),
                )
                .await?;
            let object_id = found["result"]["objectId"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no element {selector}"))?
                .to_string();
            self.page
                .call(
                    "DOM.setFileInputFiles",
                    serde_json::json!({ "files": [path], "objectId": object_id }),
                )
                .await?;
            anyhow::Ok(())
        }
        .await;
        self.check(step, result).await;
    }

    /// Waits until the page's JavaScript `condition` holds (the page may load again meanwhile,
    /// by its own doing).
    pub async fn wait_for(&self, step: &str, condition: &str, timeout: Duration) {
        let result = self.page.wait_until(condition, timeout).await;
        self.check(step, result).await;
    }

    pub async fn eval(&self, step: &str, script: &str) -> serde_json::Value {
        let result = self.page.eval(script).await;
        self.check(step, result).await
    }

    pub async fn url(&self) -> Url {
        let href = self.page.url().await.expect("location.href");
        Url::parse(&href).unwrap_or_else(|e| panic!("bad location {href:?}: {e}"))
    }

    pub async fn text(&self, selector: &str) -> Option<String> {
        self.page.text(selector).await.expect("reading the page")
    }

    pub async fn attribute(&self, selector: &str, name: &str) -> Option<String> {
        self.page
            .attribute(selector, name)
            .await
            .expect("reading the page")
    }

    /// The text of `selector`, failing the step if it is missing.
    pub async fn require_text(&self, step: &str, selector: &str) -> String {
        match self.text(selector).await {
            Some(text) => text,
            None => self.fail(step, format!("no element {selector}")).await,
        }
    }

    /// Asserts that `selector`'s text contains `expected`.
    pub async fn expect_text(&self, step: &str, selector: &str, expected: &str) {
        let text = self.require_text(step, selector).await;
        if !text.contains(expected) {
            self.fail(
                step,
                format!("{selector} should contain {expected:?}, it reads {text:?}"),
            )
            .await;
        }
    }

    pub async fn expect_path(&self, step: &str, path: &str) -> Url {
        let url = self.url().await;
        if url.path() != path {
            self.fail(
                step,
                format!("expected to be on {path}, the browser is at {url}"),
            )
            .await;
        }
        url
    }

    /// Records the console errors, uncaught exceptions and browser log errors (CSP violations,
    /// failed loads) the page produced since the last check; they fail the test at
    /// [`Ui::finish`].
    pub async fn assert_no_errors(&self, step: &str) {
        let errors = self.page.errors();
        self.page.accept_errors();
        self.record_errors(step, errors).await;
    }

    pub async fn record_errors(&self, step: &str, errors: Vec<String>) {
        if errors.is_empty() {
            return;
        }
        let url = self.page.url().await.unwrap_or_default();
        let mut problems = self.console_problems.lock().expect("problem list");
        for error in errors {
            eprintln!("console error found at step {step:?} ({url}): {error}");
            problems.push(format!("at step {step:?} ({url}): {error}"));
        }
    }

    /// Records a failure that should not stop the journey (so the rest of it is still checked),
    /// with a screenshot; it fails the test at [`Ui::finish`].
    pub async fn record_problem(&self, step: &str, message: String) {
        let url = self.page.url().await.unwrap_or_default();
        let path = self
            .dir
            .join(format!("FAILED-{}.png", step.replace(' ', "-")));
        let saved = match self.page.screenshot(&path).await {
            Ok(()) => format!("screenshot {}", path.display()),
            Err(e) => format!("no screenshot: {e:#}"),
        };
        eprintln!("problem at step {step:?} ({url}): {message} ({saved})");
        self.console_problems
            .lock()
            .expect("problem list")
            .push(format!("at step {step:?} ({url}): {message} ({saved})"));
    }

    /// Ends the test: fails if any page logged an error on the way.
    pub async fn finish(&self, step: &str) {
        self.assert_no_errors(step).await;
        let problems = self.console_problems.lock().expect("problem list").clone();
        if !problems.is_empty() {
            panic!(
                "{} problem(s) on the way (screenshots in {}):\n    {}",
                problems.len(),
                self.dir.display(),
                problems.join("\n    ")
            );
        }
    }

    /// The page fits the viewport: no sideways scrolling at this width.
    pub async fn assert_fits_width(&self, step: &str) {
        let width = self.viewport_now().width();
        let measured = self
            .eval(
                step,
                "({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, \
                  inner: window.innerWidth })",
            )
            .await;
        let doc = measured["doc"].as_u64().unwrap_or(u64::MAX);
        let body = measured["body"].as_u64().unwrap_or(u64::MAX);
        let inner = measured["inner"].as_u64().unwrap_or(0);
        if inner != u64::from(width) || doc > u64::from(width) || body > u64::from(width) {
            self.fail(
                step,
                format!("the page is wider than the {width} px viewport: {measured}"),
            )
            .await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The relying party's callback
// ---------------------------------------------------------------------------------------------

/// A tiny HTTP server standing in for the relying party: answers every request with `200 ok`
/// and remembers the requests to `/callback`.
pub struct CallbackServer {
    pub port: u16,
    hits: Arc<Mutex<Vec<Url>>>,
    arrived: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CallbackServer {
    pub async fn start() -> CallbackServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the callback listener");
        let port = listener.local_addr().expect("local address").port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (task_hits, task_arrived) = (hits.clone(), arrived.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let hits = task_hits.clone();
                let arrived = task_arrived.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 2048];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let target = head
                        .lines()
                        .next()
                        .and_then(|line| line.split_whitespace().nth(1))
                        .unwrap_or("/")
                        .to_string();
                    if let Ok(url) = Url::parse(&format!("http://127.0.0.1:{port}{target}"))
                        && url.path() == "/callback"
                    {
                        if let Ok(mut hits) = hits.lock() {
                            hits.push(url);
                        }
                        arrived.notify_waiters();
                    }
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
                              Content-Length: 2\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        CallbackServer {
            port,
            hits,
            arrived,
            task,
        }
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// Every `/callback` request so far.
    pub fn hits(&self) -> Vec<Url> {
        self.hits.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

//! A small Chrome DevTools Protocol client: launches headless Chromium, opens a page target and
//! drives it over one websocket (tokio-tungstenite), recording every event so the tests can wait
//! for page loads and fail on console errors.
//!
//! One connection to the browser; the page is attached with `flatten: true`, so its commands and
//! events carry a `sessionId` on the same socket.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one protocol command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a page load (navigation or form submission) may take.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(20);
/// How often `wait_until` looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// The browser process
// ---------------------------------------------------------------------------------------------

/// A headless Chromium in a process group of its own; killed (the whole group) on drop.
pub struct Chromium {
    child: Child,
    user_data_dir: PathBuf,
    /// `ws://127.0.0.1:<port>/devtools/browser/<id>`.
    pub ws_url: String,
}

impl Chromium {
    /// Starts `binary` with a fresh profile; `lang` (e.g. `sv-SE`) is its UI and Accept-Language.
    pub fn launch(binary: &Path, lang: &str) -> Result<Chromium> {
        let user_data_dir = std::env::temp_dir().join(format!(
            "leasify-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&user_data_dir)
            .with_context(|| format!("creating {}", user_data_dir.display()))?;
        let mut command = Command::new(binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--disable-features=Translate,MediaRouter,OptimizationHints",
                "--metrics-recording-only",
                "--password-store=basic",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--lang={lang}"))
            .arg(format!("--accept-lang={lang}"))
            .arg(format!("--user-data-dir={}", user_data_dir.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so drop can end the renderers and helpers too.
            .process_group(0);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, receiver) = std::sync::mpsc::channel::<String>();
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let thread_log = log.clone();
        // Reads stderr to its end (so Chromium never blocks on a full pipe); hands over the
        // DevTools URL when it appears.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = sender.send(url.trim().to_string());
                }
                if let Ok(mut log) = thread_log.lock()
                    && log.len() < 200
                {
                    log.push(line);
                }
            }
        });
        let mut chromium = Chromium {
            child,
            user_data_dir,
            ws_url: String::new(),
        };
        match receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => chromium.ws_url = url,
            Err(_) => {
                let log = log.lock().map(|l| l.join("\n")).unwrap_or_default();
                bail!("Chromium printed no DevTools URL within 30 s; its stderr:\n{log}");
            }
        }
        Ok(chromium)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: signals the process group this struct created (its leader is our child).
        unsafe {
            libc::kill(-group, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above; whatever is left of the group goes now.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.user_data_dir);
    }
}

// ---------------------------------------------------------------------------------------------
// The protocol connection
// ---------------------------------------------------------------------------------------------

/// One protocol event as received.
#[derive(Debug, Clone)]
pub struct Event {
    pub method: String,
    pub session_id: Option<String>,
    pub params: Value,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    events: Mutex<Vec<Event>>,
    arrived: Notify,
}

type WsSink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// The websocket to the browser: commands with ids, replies matched to them, events recorded.
pub struct Connection {
    sink: tokio::sync::Mutex<WsSink>,
    next_id: AtomicU64,
    shared: Arc<Shared>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    pub async fn connect(ws_url: &str) -> Result<Arc<Connection>> {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .with_context(|| format!("connecting to {ws_url}"))?;
        let (sink, mut stream) = socket.split();
        let shared = Arc::new(Shared::default());
        let reader_shared = shared.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let text = match message {
                    Message::Text(text) => text.to_string(),
                    Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if let Some(id) = value.get("id").and_then(Value::as_u64) {
                    let waiter = reader_shared
                        .pending
                        .lock()
                        .ok()
                        .and_then(|mut p| p.remove(&id));
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(value);
                    }
                } else if let Some(method) = value.get("method").and_then(Value::as_str) {
                    let event = Event {
                        method: method.to_string(),
                        session_id: value
                            .get("sessionId")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        params: value.get("params").cloned().unwrap_or(Value::Null),
                    };
                    if let Ok(mut events) = reader_shared.events.lock() {
                        events.push(event);
                    }
                    reader_shared.arrived.notify_waiters();
                }
            }
            // The socket is gone: fail every command still waiting.
            if let Ok(mut pending) = reader_shared.pending.lock() {
                pending.clear();
            }
            reader_shared.arrived.notify_waiters();
        });
        Ok(Arc::new(Connection {
            sink: tokio::sync::Mutex::new(sink),
            next_id: AtomicU64::new(1),
            shared,
            reader,
        }))
    }

    /// Sends a command (to a page session when `session` is given) and waits for its reply.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let (sender, receiver) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .map_err(|_| anyhow!("poisoned lock"))?
            .insert(id, sender);
        self.sink
            .lock()
            .await
            .send(Message::text(message.to_string()))
            .await
            .with_context(|| format!("sending {method}"))?;
        let reply = tokio::time::timeout(COMMAND_TIMEOUT, receiver)
            .await
            .map_err(|_| anyhow!("{method}: no reply within {COMMAND_TIMEOUT:?}"))?
            .map_err(|_| anyhow!("{method}: the browser connection closed"))?;
        if let Some(error) = reply.get("error") {
            bail!("{method} failed: {error}");
        }
        Ok(reply.get("result").cloned().unwrap_or(Value::Null))
    }

    /// The number of events received so far (a mark for `wait_event`).
    pub fn event_count(&self) -> usize {
        self.shared.events.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Events from index `since` on, for `session`.
    pub fn events_since(&self, since: usize, session: Option<&str>) -> Vec<Event> {
        self.shared
            .events
            .lock()
            .map(|events| {
                events
                    .iter()
                    .skip(since)
                    .filter(|e| e.session_id.as_deref() == session)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for an event named `method` for `session`, received at index `since` or later.
    pub async fn wait_event(
        &self,
        method: &str,
        session: Option<&str>,
        since: usize,
        timeout: Duration,
    ) -> Result<Event> {
        self.wait_event_where(session, since, timeout, |e| e.method == method)
            .await
            .with_context(|| format!("waiting for {method}"))
    }

    /// Waits for the first event for `session` at index `since` or later that `matches`.
    pub async fn wait_event_where(
        &self,
        session: Option<&str>,
        since: usize,
        timeout: Duration,
        matches: impl Fn(&Event) -> bool,
    ) -> Result<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            if let Some(event) = self
                .events_since(since, session)
                .into_iter()
                .find(|e| matches(e))
            {
                return Ok(event);
            }
            if self.reader.is_finished() {
                bail!("the browser connection closed");
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("nothing within {timeout:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A page
// ---------------------------------------------------------------------------------------------

/// Where a navigation ended: the last top-level document response received for it (after any
/// redirects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Navigation {
    pub status: Option<u16>,
    pub url: String,
}

/// One tab, attached with its own session id.
pub struct Page {
    pub connection: Arc<Connection>,
    pub session_id: String,
    pub target_id: String,
    /// Console errors before this event index were already accepted (see `accept_errors`).
    errors_from: Mutex<usize>,
}

/// A phone (360×740, touch, mobile viewport) and a desktop (1280×800).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    Phone,
    Desktop,
}

impl Viewport {
    pub fn width(self) -> u32 {
        match self {
            Viewport::Phone => 360,
            Viewport::Desktop => 1280,
        }
    }

    pub fn height(self) -> u32 {
        match self {
            Viewport::Phone => 740,
            Viewport::Desktop => 800,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Viewport::Phone => "phone",
            Viewport::Desktop => "desktop",
        }
    }
}

impl Page {
    /// Opens a new tab on `connection` (a browser connection) and enables the domains the tests
    /// listen to.
    pub async fn open(connection: Arc<Connection>) -> Result<Page> {
        let created = connection
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = created["targetId"]
            .as_str()
            .ok_or_else(|| anyhow!("no targetId in {created}"))?
            .to_string();
        let attached = connection
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        let session_id = attached["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no sessionId in {attached}"))?
            .to_string();
        let page = Page {
            connection,
            session_id,
            target_id,
            errors_from: Mutex::new(0),
        };
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
        ] {
            page.call(domain, json!({})).await?;
        }
        Ok(page)
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.connection
            .call(Some(&self.session_id), method, params)
            .await
    }

    /// The language the browser asks for (`Accept-Language`) and reports (`navigator.language`,
    /// `Intl`), e.g. `sv-SE`.
    pub async fn set_language(&self, locale: &str) -> Result<()> {
        let primary = locale.split('-').next().unwrap_or(locale);
        let accept = format!("{locale},{primary};q=0.9");
        self.call(
            "Network.setExtraHTTPHeaders",
            json!({ "headers": { "Accept-Language": accept } }),
        )
        .await?;
        // Only one override may be in effect at a time: clear the previous one first.
        self.call("Emulation.setLocaleOverride", json!({})).await?;
        self.call("Emulation.setLocaleOverride", json!({ "locale": locale }))
            .await?;
        Ok(())
    }

    pub async fn set_viewport(&self, viewport: Viewport) -> Result<()> {
        let mobile = viewport == Viewport::Phone;
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": viewport.width(),
                "height": viewport.height(),
                "deviceScaleFactor": 1,
                "mobile": mobile,
            }),
        )
        .await?;
        // Overlay-free screenshots: the page's own width, no scrollbar strip.
        self.call("Emulation.setScrollbarsHidden", json!({ "hidden": true }))
            .await?;
        self.call(
            "Emulation.setTouchEmulationEnabled",
            json!({ "enabled": mobile, "maxTouchPoints": if mobile { 5 } else { 1 } }),
        )
        .await?;
        Ok(())
    }

    /// An event index: what happens from now on is at or after it.
    pub fn mark(&self) -> usize {
        self.connection.event_count()
    }

    /// The last top-level document response since `since` (Network.responseReceived).
    pub fn navigation_since(&self, since: usize) -> Navigation {
        let last = self
            .connection
            .events_since(since, Some(&self.session_id))
            .into_iter()
            .rfind(|e| e.method == "Network.responseReceived" && e.params["type"] == "Document");
        Navigation {
            status: last
                .as_ref()
                .and_then(|e| e.params["response"]["status"].as_u64())
                .and_then(|s| u16::try_from(s).ok()),
            url: last
                .and_then(|e| e.params["response"]["url"].as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    }

    /// Waits for the load event of the next page. A navigation that the page's Content Security
    /// Policy blocks (`form-action`, which also covers redirects after a form post) never loads:
    /// that ends the wait at once.
    async fn wait_load(&self, since: usize, what: &str) -> Result<()> {
        let event = self
            .connection
            .wait_event_where(Some(&self.session_id), since, LOAD_TIMEOUT, |e| {
                e.method == "Page.loadEventFired" || is_blocked_navigation(e)
            })
            .await
            .with_context(|| {
                format!(
                    "waiting for the page to load after {what}; errors so far: {:?}",
                    self.errors()
                )
            })?;
        if is_blocked_navigation(&event) {
            bail!(
                "the browser blocked the navigation after {what}: {}",
                event.params["entry"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .trim()
            );
        }
        Ok(())
    }

    /// Navigates and waits for the load event of the page the navigation ends on (after any
    /// redirects).
    pub async fn goto(&self, url: &str) -> Result<Navigation> {
        let since = self.mark();
        let result = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = result.get("errorText").and_then(Value::as_str) {
            bail!("navigating to {url}: {error}");
        }
        self.wait_load(since, &format!("navigating to {url}"))
            .await?;
        Ok(self.navigation_since(since))
    }

    /// Evaluates `expression` (promises awaited) and returns its value as JSON.
    pub async fn eval(&self, expression: &str) -> Result<Value> {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": expression,
                    "returnByValue": true,
                    "awaitPromise": true,
                    "userGesture": true,
                }),
            )
            .await?;
        if let Some(details) = result.get("exceptionDetails") {
            bail!("script failed: {expression}\n{details}");
        }
        Ok(result["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Evaluates a script that starts a navigation (a click on a submit button or a link) and
    /// waits for the next page to load.
    pub async fn eval_and_wait_load(&self, expression: &str) -> Result<Navigation> {
        let since = self.mark();
        self.eval(expression).await?;
        self.wait_load(since, expression).await?;
        Ok(self.navigation_since(since))
    }

    pub async fn url(&self) -> Result<String> {
        Ok(self
            .eval("location.href")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The visible text of the first element matching `selector`, if there is one.
    pub async fn text(&self, selector: &str) -> Result<Option<String>> {
        let script = format!(
            "(() => {{ const el = document.querySelector({}); return el ? el.innerText : null; }})()",
            js_string(selector)
        );
        Ok(self.eval(&script).await?.as_str().map(str::to_string))
    }

    /// An attribute of the first element matching `selector`.
    pub async fn attribute(&self, selector: &str, name: &str) -> Result<Option<String>> {
        let script = format!(
            "(() => {{ const el = document.querySelector({}); return el ? el.getAttribute({}) : null; }})()",
            js_string(selector),
            js_string(name)
        );
        Ok(self.eval(&script).await?.as_str().map(str::to_string))
    }

    /// Types into a field the way a script can: focus, set the value, `input` and `change`.
    pub async fn fill(&self, selector: &str, value: &str) -> Result<()> {
        let script = format!(
            "(() => {{ const el = document.querySelector({}); if (!el) return false; el.focus(); \
             el.value = {}; el.dispatchEvent(new Event('input', {{ bubbles: true }})); \
             el.dispatchEvent(new Event('change', {{ bubbles: true }})); return true; }})()",
            js_string(selector),
            js_string(value)
        );
        if self.eval(&script).await? != Value::Bool(true) {
            bail!("no field {selector} on {}", self.url().await?);
        }
        Ok(())
    }

    /// Clicks the first element matching `selector` and waits for the page it leads to.
    pub async fn click_and_wait(&self, selector: &str) -> Result<Navigation> {
        let script = format!(
            "(() => {{ const el = document.querySelector({}); if (!el) return false; \
             el.scrollIntoView({{ block: 'center' }}); el.click(); return true; }})()",
            js_string(selector)
        );
        let since = self.mark();
        if self.eval(&script).await? != Value::Bool(true) {
            bail!("nothing to click: {selector} on {}", self.url().await?);
        }
        self.wait_load(since, &format!("clicking {selector}"))
            .await?;
        Ok(self.navigation_since(since))
    }

    /// Polls `condition` (a JS expression) every 50 ms until it is truthy.
    pub async fn wait_until(&self, condition: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(condition).await.unwrap_or(Value::Null);
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "still false after {timeout:?}: {condition} (at {})",
                    self.url().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// A PNG of the whole page (not only the viewport), written to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let size = &metrics["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(0.0).ceil().max(1.0);
        let height = size["height"].as_f64().unwrap_or(0.0).ceil().max(1.0);
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
                }),
            )
            .await?;
        let data = shot["data"]
            .as_str()
            .ok_or_else(|| anyhow!("no screenshot data"))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .context("screenshot base64")?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Every console error, uncaught exception and browser log error (CSP violations, failed
    /// loads) of this page not yet accepted, one line each.
    pub fn errors(&self) -> Vec<String> {
        let from = self.errors_from.lock().map(|f| *f).unwrap_or(0);
        self.connection
            .events_since(from, Some(&self.session_id))
            .iter()
            .filter_map(describe_error)
            .collect()
    }

    /// Forgets the errors seen so far (after a test has checked them).
    pub fn accept_errors(&self) {
        if let Ok(mut from) = self.errors_from.lock() {
            *from = self.connection.event_count();
        }
    }
}

/// A CSP violation that stops a navigation (a form post or its redirect).
fn is_blocked_navigation(event: &Event) -> bool {
    event.method == "Log.entryAdded"
        && event.params["entry"]["source"] == "security"
        && event.params["entry"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Content Security Policy directive: \"form-action"))
}

/// A console or log error, described; `None` for any other event.
fn describe_error(event: &Event) -> Option<String> {
    let p = &event.params;
    match event.method.as_str() {
        "Runtime.exceptionThrown" => {
            let details = &p["exceptionDetails"];
            let description = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("an exception");
            Some(format!(
                "uncaught exception: {description} ({}:{})",
                details["url"].as_str().unwrap_or("?"),
                details["lineNumber"]
            ))
        }
        "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
            let args: Vec<String> = p["args"]
                .as_array()
                .map(|args| {
                    args.iter()
                        .map(|a| {
                            a.get("value")
                                .map(|v| v.to_string())
                                .or_else(|| a["description"].as_str().map(str::to_string))
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(format!(
                "console.{}: {}",
                p["type"].as_str().unwrap_or("error"),
                args.join(" ")
            ))
        }
        "Log.entryAdded" if p["entry"]["level"] == "error" => {
            let entry = &p["entry"];
            let url = entry["url"].as_str().unwrap_or_default();
            Some(format!(
                "log error [{}]: {}{}",
                entry["source"].as_str().unwrap_or("?"),
                entry["text"].as_str().unwrap_or_default().trim(),
                if url.is_empty() {
                    String::new()
                } else {
                    format!(" ({url})")
                }
            ))
        }
        _ => None,
    }
}

/// A Rust string as a JavaScript string literal.
pub fn js_string(value: &str) -> String {
    serde_json::to_string(value).expect("a string serialises")
}

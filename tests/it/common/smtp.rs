//! A real SMTP server for tests: listens on 127.0.0.1, speaks enough SMTP for lettre's plain
//! client, and hands every received message to the test. It can refuse mail for a while (4xx) or
//! for good (5xx) to test that the outbox loses nothing and sends nothing twice.
//!
//! Test-only: it lives in the test tree, never in the library; its own tests are in `tests/it/smtp.rs`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The raw RFC 5322 message (dot-stuffing undone).
    pub data: String,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<ReceivedMail>>,
    arrived: Notify,
    refuse_next: AtomicUsize,
    reject_permanently: AtomicBool,
}

pub struct TestSmtpServer {
    port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    /// Index of the next message `next_message` returns.
    cursor: Mutex<usize>,
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestSmtpServer {
    pub async fn start() -> TestSmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port for the test SMTP server");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, accept_shared.clone()));
            }
        });
        TestSmtpServer {
            port,
            shared,
            task,
            cursor: Mutex::new(0),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The next message not yet returned by this method, waiting up to `timeout`.
    pub async fn next_message(&self, timeout: Duration) -> Option<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            {
                let received = self.shared.received.lock().ok()?;
                let mut cursor = self.cursor.lock().ok()?;
                if let Some(mail) = received.get(*cursor) {
                    *cursor += 1;
                    return Some(mail.clone());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The next `n` transactions are refused with `451` (try again later).
    pub fn set_refuse_next(&self, n: usize) {
        self.shared.refuse_next.store(n, Ordering::SeqCst);
    }

    /// Every transaction is refused with `550` while set.
    pub fn set_permanent_reject(&self, reject: bool) {
        self.shared
            .reject_permanently
            .store(reject, Ordering::SeqCst);
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader);
    if writer
        .write_all(b"220 test-smtp ESMTP ready\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            "250-test-smtp\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8".to_string()
        } else if upper.starts_with("HELO") {
            "250 test-smtp".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            if shared.reject_permanently.load(Ordering::SeqCst) {
                "550 5.7.1 mail refused".to_string()
            } else if shared
                .refuse_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                "451 4.3.0 try again later".to_string()
            } else {
                mail_from = address_of(&command[10..]);
                rcpt_to.clear();
                "250 2.1.0 ok".to_string()
            }
        } else if upper.starts_with("RCPT TO:") {
            rcpt_to.push(address_of(&command[8..]));
            "250 2.1.5 ok".to_string()
        } else if upper == "DATA" {
            if writer
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let unstuffed = line
                    .strip_prefix('.')
                    .filter(|_| line.starts_with(".."))
                    .unwrap_or(&line);
                data.push_str(unstuffed);
            }
            if let Ok(mut received) = shared.received.lock() {
                received.push(ReceivedMail {
                    mail_from: mail_from.clone(),
                    rcpt_to: rcpt_to.clone(),
                    data,
                });
            }
            shared.arrived.notify_waiters();
            "250 2.0.0 queued".to_string()
        } else if upper == "RSET" {
            mail_from.clear();
            rcpt_to.clear();
            "250 2.0.0 ok".to_string()
        } else if upper == "NOOP" {
            "250 2.0.0 ok".to_string()
        } else if upper == "QUIT" {
            let _ = writer.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            "502 5.5.2 command not implemented".to_string()
        };
        if writer
            .write_all(format!("{answer}\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

fn address_of(argument: &str) -> String {
    let argument = argument.trim();
    let inner = argument.split_whitespace().next().unwrap_or_default();
    inner
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

impl ReceivedMail {
    /// The raw value of a top-level header (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self
            .data
            .split_once("\r\n\r\n")
            .or_else(|| self.data.split_once("\n\n"))?;
        let unfolded = head
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ")
            .replace("\n ", " ");
        unfolded.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }

    /// The subject, with RFC 2047 encoded words decoded.
    pub fn subject(&self) -> String {
        decode_encoded_words(&self.header("Subject").unwrap_or_default())
    }

    /// The decoded body of the first part with this content type (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let boundary = self
            .data
            .split("boundary=")
            .skip(1)
            .filter_map(|rest| {
                rest.trim_start_matches('"')
                    .split(['"', '\r', '\n', ';'])
                    .next()
            })
            .map(str::to_string)
            .collect::<Vec<_>>();
        let sections: Vec<&str> = if boundary.is_empty() {
            vec![self.data.as_str()]
        } else {
            boundary
                .iter()
                .flat_map(|b| {
                    self.data
                        .split(format!("--{b}").as_str())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        for section in sections {
            let section = section.trim_start_matches(['\r', '\n']);
            let Some((head, body)) = section
                .split_once("\r\n\r\n")
                .or_else(|| section.split_once("\n\n"))
            else {
                continue;
            };
            let head_lower = head.to_ascii_lowercase();
            if !head_lower.contains(&format!("content-type: {content_type}")) {
                continue;
            }
            // The line break before the next boundary belongs to the boundary.
            let body = body
                .strip_suffix("\r\n")
                .or_else(|| body.strip_suffix('\n'))
                .unwrap_or(body);
            if head_lower.contains("content-transfer-encoding: base64") {
                let joined: String = body.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .ok()?;
                return String::from_utf8(bytes)
                    .ok()
                    .map(|text| text.replace("\r\n", "\n"));
            }
            if head_lower.contains("content-transfer-encoding: quoted-printable") {
                return Some(decode_quoted_printable(body));
            }
            return Some(body.replace("\r\n", "\n"));
        }
        None
    }

    pub fn text(&self) -> String {
        self.part("text/plain").unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.part("text/html").unwrap_or_default()
    }

    /// The first http(s) link in the text part.
    pub fn first_link(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("http://").or_else(|| text.find("https://"))?;
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '"')
            .collect();
        Some(link)
    }
}

/// Quoted-printable (RFC 2045) to bytes: soft line breaks removed, `=XX` decoded.
fn quoted_printable_bytes(body: &str) -> Vec<u8> {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(byte) = hex_byte(bytes[i + 1], bytes[i + 2])
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

fn decode_quoted_printable(body: &str) -> String {
    String::from_utf8_lossy(&quoted_printable_bytes(body)).replace("\r\n", "\n")
}

/// Decodes RFC 2047 `=?charset?B|Q?text?=` words (UTF-8 and ASCII, which is what lettre writes).
/// The bytes of adjacent words are joined before decoding (an encoder may split a character
/// between two words), and the whitespace between adjacent words is dropped.
pub fn decode_encoded_words(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        if !(after_word && before.trim().is_empty()) {
            out.extend_from_slice(before.as_bytes());
        }
        let word = &rest[start + 2..];
        let mut parts = word.splitn(3, '?');
        let (Some(_charset), Some(encoding), Some(text_and_rest)) =
            (parts.next(), parts.next(), parts.next())
        else {
            break;
        };
        let Some(end) = text_and_rest.find("?=") else {
            break;
        };
        let text = &text_and_rest[..end];
        if encoding.eq_ignore_ascii_case("b") {
            match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(_) => out.extend_from_slice(text.as_bytes()),
            }
        } else {
            out.extend_from_slice(&quoted_printable_bytes(&text.replace('_', " ")));
        }
        rest = &text_and_rest[end + 2..];
        after_word = true;
    }
    out.extend_from_slice(rest.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

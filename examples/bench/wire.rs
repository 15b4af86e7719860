//! A minimal HTTP/1.1 keep-alive client for the load phases of the cheap endpoints.
//!
//! The benchmark shares the machine's cores with the server. reqwest spends more CPU on a request
//! than the server spends answering discovery or issuing a `client_credentials` token, so with it
//! the load generator, not the server, set the ceiling. This client sends requests prepared once,
//! on one connection per task, and reads just enough of each answer: the status line,
//! `Content-Length` and the body.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The bytes of one request. `Content-Length` is added when there is a body.
pub fn request(
    method: &str,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// One keep-alive connection; it reconnects after an error.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends `request` and returns the status and body of the answer.
    pub async fn send(&mut self, request: &[u8]) -> anyhow::Result<(u16, &[u8])> {
        match self.exchange(request).await {
            Ok((status, body_start)) => Ok((status, &self.buf[body_start..])),
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    /// Sends `request` and fails unless the answer is `expected`.
    pub async fn expect(&mut self, request: &[u8], expected: u16) -> anyhow::Result<&[u8]> {
        let (status, body) = self.send(request).await?;
        if status != expected {
            let body = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            bail!("expected {expected}, got {status}: {body}");
        }
        Ok(body)
    }

    async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<(u16, usize)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await.context("connecting")?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(request).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at + 4;
            }
            read_more(stream, &mut self.buf).await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("answer head")?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("status line {:?}", head.lines().next()))?;
        let mut length = None;
        for line in head.lines().skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>()?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!(
                    "the answer is {}-encoded; only Content-Length is read",
                    value.trim()
                );
            }
        }
        let total = head_end + length.unwrap_or(0);
        while self.buf.len() < total {
            read_more(stream, &mut self.buf).await?;
        }
        Ok((status, head_end))
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    buf.reserve(8 * 1024);
    if stream.read_buf(buf).await? == 0 {
        bail!("the server closed the connection");
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_request_names_its_length() {
        let bytes = request("POST", "h:1", "/token", &[("A", "b")], b"x=1");
        assert_eq!(
            bytes,
            b"POST /token HTTP/1.1\r\nHost: h:1\r\nA: b\r\nContent-Length: 3\r\n\r\nx=1"
        );
    }
}

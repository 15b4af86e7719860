//! The animated QR code (BankID RP API v6 spec section 4).
//!
//! Every second the QR code shows `bankid.<qrStartToken>.<qrTime>.<qrAuthCode>`, where `qrTime` is
//! the whole seconds since the `/auth` (or `/sign`) response arrived and `qrAuthCode` is the
//! lowercase hex HMAC-SHA256 of `qrTime` keyed with the `qrStartSecret`. The secret stays on the
//! server: only the payload, or the SVG made from it, goes to the browser.

use std::fmt::Write;

use hmac::{Hmac, Mac};
use qrcode::{Color, EcLevel, QrCode};
use sha2::Sha256;

/// Modules of white border around the code; the QR standard asks for four.
const QUIET_ZONE: usize = 4;
/// Pixels per module in the `width`/`height` attributes (pages scale the SVG with CSS).
const MODULE_PIXELS: usize = 4;
/// The accessible name when the caller has no translated one.
pub const DEFAULT_LABEL: &str = "BankID QR";

/// The QR payload `elapsed_secs` whole seconds after the order was created.
pub fn qr_payload(qr_start_token: &str, qr_start_secret: &str, elapsed_secs: u64) -> String {
    let qr_time = elapsed_secs.to_string();
    // HMAC accepts keys of any length; the error case cannot happen.
    let mut mac = Hmac::<Sha256>::new_from_slice(qr_start_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(qr_time.as_bytes());
    let auth_code = hex::encode(mac.finalize().into_bytes());
    format!("bankid.{qr_start_token}.{qr_time}.{auth_code}")
}

/// The payload as a standalone SVG QR code labelled [`DEFAULT_LABEL`].
pub fn qr_svg(payload: &str) -> String {
    qr_svg_with_label(payload, DEFAULT_LABEL)
}

/// The payload as a standalone SVG QR code (no external resources, no XML prolog, so it can be
/// inlined in HTML), error correction level L (BankID payloads are ~110 bytes: level L keeps the
/// code at version 6, 41 modules, which phone cameras read easily from a screen), with a quiet
/// zone and `role="img"` plus `aria-label="<label>"` for screen readers.
///
/// A payload too long for any QR code (over 2 953 bytes; BankID's are ~110) gives the same SVG
/// frame with no code in it.
pub fn qr_svg_with_label(payload: &str, label: &str) -> String {
    let (width, dark) = match QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::L) {
        Ok(code) => (code.width(), code.to_colors()),
        Err(_) => (0, Vec::new()),
    };
    let size = width + 2 * QUIET_ZONE;
    let pixels = size * MODULE_PIXELS;
    let mut svg = String::with_capacity(4096);
    let _ = write!(
        svg,
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" "#,
            r#"width="{pixels}" height="{pixels}" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">"#,
            r##"<rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d=""##,
        ),
        label = escape_attribute(label),
        pixels = pixels,
        size = size,
    );
    // One rectangle per horizontal run of dark modules.
    for y in 0..width {
        let row = &dark[y * width..(y + 1) * width];
        let mut x = 0;
        while x < width {
            if row[x] == Color::Dark {
                let start = x;
                while x < width && row[x] == Color::Dark {
                    x += 1;
                }
                let run = x - start;
                let _ = write!(
                    svg,
                    "M{} {}h{run}v1h-{run}z",
                    start + QUIET_ZONE,
                    y + QUIET_ZONE
                );
            } else {
                x += 1;
            }
        }
    }
    svg.push_str(r#""/></svg>"#);
    svg
}

/// Escapes text for a double-quoted XML attribute.
fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "67df3917-fa0d-44e5-b327-edcc928297f8";
    const SECRET: &str = "d28db9a7-4cde-429e-a983-359be676944c";

    #[test]
    fn official_test_vector() {
        assert_eq!(
            qr_payload(TOKEN, SECRET, 0),
            "bankid.67df3917-fa0d-44e5-b327-edcc928297f8.0.dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8"
        );
        assert_eq!(
            qr_payload(TOKEN, SECRET, 1),
            "bankid.67df3917-fa0d-44e5-b327-edcc928297f8.1.949d559bf23403952a94d103e67743126381eda00f0b3cbddbf7c96b1adcbce2"
        );
        assert_eq!(
            qr_payload(TOKEN, SECRET, 2),
            "bankid.67df3917-fa0d-44e5-b327-edcc928297f8.2.a9e5ec59cb4eee4ef4117150abc58fad7a85439a6a96ccbecc3668b41795b3f3"
        );
    }

    #[test]
    fn qr_time_is_plain_decimal() {
        let payload = qr_payload(TOKEN, SECRET, 30);
        let parts: Vec<&str> = payload.split('.').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[2], "30");
        assert_eq!(parts[3].len(), 64);
        assert!(
            parts[3]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
    }

    /// Checks that every tag is closed in order and every attribute value is quoted and free of
    /// `<` and unescaped `&`: enough to know the SVG is well-formed XML.
    fn assert_well_formed(xml: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = xml;
        while let Some(open) = rest.find('<') {
            assert!(!rest[..open].contains('>'), "stray '>' in text");
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().expect("tag name");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric()),
                "tag name {name}"
            );
            let mut attrs = tag[name.len()..].trim();
            while !attrs.is_empty() {
                let (attr, value) = attrs
                    .split_once("=\"")
                    .expect("attribute with a quoted value");
                assert!(
                    attr.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                    "attr {attr}"
                );
                let end = value.find('"').expect("closing quote");
                let text = &value[..end];
                assert!(!text.contains('<'));
                for (i, _) in text.match_indices('&') {
                    let entity = &text[i..];
                    assert!(
                        ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                            .iter()
                            .any(|e| entity.starts_with(e))
                    );
                }
                attrs = value[end + 1..].trim_start();
            }
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        assert!(rest.trim().is_empty());
        assert!(stack.is_empty(), "unclosed {stack:?}");
    }

    /// The dark modules drawn by the SVG path, as a grid of the code's width.
    fn drawn_modules(svg: &str, width: usize) -> Vec<bool> {
        let d = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut grid = vec![false; width * width];
        for segment in d.split('M').filter(|s| !s.is_empty()) {
            let (xy, rest) = segment.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (run, _) = rest.split_once('v').unwrap();
            let (x, y, run): (usize, usize, usize) =
                (x.parse().unwrap(), y.parse().unwrap(), run.parse().unwrap());
            for dx in 0..run {
                let (mx, my) = (x + dx - QUIET_ZONE, y - QUIET_ZONE);
                assert!(mx < width && my < width, "module outside the code");
                assert!(!grid[my * width + mx], "module drawn twice");
                grid[my * width + mx] = true;
            }
        }
        grid
    }

    #[test]
    fn svg_is_well_formed_accessible_and_draws_the_code() {
        let payload = qr_payload(TOKEN, SECRET, 0);
        let svg = qr_svg(&payload);
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert_well_formed(&svg);
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r#"aria-label="BankID QR""#));
        assert_eq!(
            svg.matches("http").count(),
            1,
            "nothing but the namespace refers outside"
        );
        assert!(!svg.contains("href"));
        assert!(!svg.contains(SECRET));

        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::L).unwrap();
        let width = code.width();
        assert_eq!(width, 41, "version 6 at level L");
        let size = width + 2 * QUIET_ZONE;
        assert!(svg.contains(&format!(r#"viewBox="0 0 {size} {size}""#)));
        let expected: Vec<bool> = code.to_colors().iter().map(|c| *c == Color::Dark).collect();
        assert_eq!(drawn_modules(&svg, width), expected);
    }

    #[test]
    fn label_is_escaped() {
        let svg = qr_svg_with_label("bankid.x.0.y", r#"QR-kod för "BankID" & <mer>"#);
        assert!(svg.contains(r#"aria-label="QR-kod för &quot;BankID&quot; &amp; &lt;mer&gt;""#));
        assert_well_formed(&svg);
    }

    #[test]
    fn oversized_payload_gives_an_empty_frame() {
        let svg = qr_svg(&"x".repeat(5000));
        assert_well_formed(&svg);
        assert!(svg.contains(r#"d="""#));
    }
}

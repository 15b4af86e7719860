//! Page language: `render::i18n::negotiate` and the `Accept-Language` header it is fed from
//! (`web::oidc_handlers::accept_language`).
//!
//! Input: four lines, `explicit` (`?lang=`), `ui_locales`, the `Accept-Language` header bytes and
//! the configured default; a line that is exactly `~` (or a missing line) is "not given".
//!
//! Invariants: the answer is a supported locale and equals what an independent model of the
//! documented rules (explicit, then ui_locales, then the best-q supported tag with q > 0, then the
//! default, then `sv`) answers; the header reaches `negotiate` byte for byte whenever it is
//! visible ASCII.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use leasify_id::render::i18n::{LOCALES, negotiate};
use leasify_id::web::extract::accept_language;
use leasify_id_fuzz::{fields, text};
use libfuzzer_sys::fuzz_target;

fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    LOCALES.iter().copied().find(|l| *l == primary)
}

/// The rules as the doc comment and RFC 9110 §12.5.4 state them, written independently.
fn model(
    explicit: Option<&str>,
    ui: Option<&str>,
    header: Option<&str>,
    default: &str,
) -> &'static str {
    if let Some(found) = explicit.and_then(supported) {
        return found;
    }
    if let Some(found) = ui.and_then(|u| u.split(' ').find_map(supported)) {
        return found;
    }
    if let Some(header) = header {
        let mut best: Option<(f32, &'static str)> = None;
        for range in header.split(',') {
            let mut params = range.split(';');
            let tag = params.next().unwrap_or_default();
            let q = params
                .find_map(|p| p.trim().strip_prefix("q=")?.parse::<f32>().ok())
                .unwrap_or(1.0);
            // q = 0 means "not acceptable"; NaN is not > 0 either. Ties keep the first.
            if q > 0.0
                && let Some(locale) = supported(tag)
                && best.is_none_or(|(b, _)| q > b)
            {
                best = Some((q, locale));
            }
        }
        if let Some((_, locale)) = best {
            return locale;
        }
    }
    supported(default).unwrap_or("sv")
}

fn given(line: Option<&[u8]>) -> Option<&[u8]> {
    line.filter(|l| *l != b"~")
}

fuzz_target!(|data: &[u8]| {
    let parts = fields(data, 4);
    let explicit = given(parts.first().copied()).map(text);
    let ui = given(parts.get(1).copied()).map(text);
    let header_bytes = given(parts.get(2).copied());
    let default = given(parts.get(3).copied()).map(text).unwrap_or_default();

    // The header as the server sees it.
    let mut headers = HeaderMap::new();
    if let Some(bytes) = header_bytes
        && let Ok(value) = HeaderValue::from_bytes(bytes)
    {
        headers.insert(header::ACCEPT_LANGUAGE, value);
    }
    let from_header = accept_language(&headers);
    if let Some(bytes) = header_bytes {
        let visible = bytes
            .iter()
            .all(|b| *b == b'\t' || (0x20..0x7f).contains(b));
        let valid = HeaderValue::from_bytes(bytes).is_ok();
        if visible && valid {
            assert_eq!(from_header.map(str::as_bytes), Some(bytes));
        }
        if let Some(seen) = from_header {
            assert_eq!(seen.as_bytes(), bytes);
        }
    } else {
        assert_eq!(from_header, None);
    }

    let answer = negotiate(explicit.as_deref(), ui.as_deref(), from_header, &default);
    assert!(LOCALES.contains(&answer), "{answer}");
    assert_eq!(
        answer,
        model(explicit.as_deref(), ui.as_deref(), from_header, &default)
    );

    // The same text given directly (any UTF-8, as a proxy might pass it on).
    let raw = header_bytes.map(text);
    let answer = negotiate(explicit.as_deref(), ui.as_deref(), raw.as_deref(), &default);
    assert_eq!(
        answer,
        model(explicit.as_deref(), ui.as_deref(), raw.as_deref(), &default)
    );
});

//! Where to send a person back to after logging in (`next`): only a page of ours.
//!
//! The value is resolved against the issuer the way a browser resolves a `Location` header, and
//! only a result on the issuer's own origin is kept. Control characters and whitespace are
//! refused outright, because browsers strip tabs and newlines from URLs: `/\t/evil.example`
//! would otherwise pass as a path here and arrive as `//evil.example` there.

/// Where to go when there is no usable `next`.
pub const DEFAULT_RETURN_PATH: &str = "/account";

/// The path (with query and fragment) to return to, or [`DEFAULT_RETURN_PATH`].
pub fn return_path(issuer: &str, next: Option<&str>) -> String {
    next.and_then(|next| same_origin_path(issuer, next))
        .unwrap_or_else(|| DEFAULT_RETURN_PATH.to_string())
}

fn same_origin_path(issuer: &str, next: &str) -> Option<String> {
    if next.is_empty() || next.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    // Browsers treat `\` as `/` in http(s) URLs; the URL parser does too, but say it plainly.
    if next.contains('\\') {
        return None;
    }
    let base = url::Url::parse(issuer).ok()?;
    let resolved = base.join(next).ok()?;
    if resolved.origin() != base.origin() || !resolved.username().is_empty() {
        return None;
    }
    let mut path = resolved.path().to_string();
    if !path.starts_with('/') || path.starts_with("//") {
        return None;
    }
    if let Some(query) = resolved.query() {
        path.push('?');
        path.push_str(query);
    }
    if let Some(fragment) = resolved.fragment() {
        path.push('#');
        path.push_str(fragment);
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://id.example.com";

    fn ret(next: &str) -> String {
        return_path(ISSUER, Some(next))
    }

    #[test]
    fn own_paths_are_kept() {
        assert_eq!(ret("/account"), "/account");
        assert_eq!(ret("/account?lang=en#pnr"), "/account?lang=en#pnr");
        assert_eq!(ret("https://id.example.com/account"), "/account");
        assert_eq!(ret("/a/../account"), "/account");
        assert_eq!(return_path(ISSUER, None), DEFAULT_RETURN_PATH);
    }

    #[test]
    fn other_origins_are_refused() {
        for next in [
            "//evil.example",
            "https://evil.example/account",
            "http://id.example.com/account",
            "https://id.example.com:8443/account",
            "https://user@id.example.com/account",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "data:text/html,hi",
            "",
        ] {
            let path = ret(next);
            assert!(
                path == DEFAULT_RETURN_PATH || (path.starts_with('/') && !path.starts_with("//")),
                "{next:?} gave {path:?}"
            );
            assert!(
                !next.contains("evil") || path == DEFAULT_RETURN_PATH,
                "{next:?} gave {path:?}"
            );
        }
        // A relative name resolves on our origin: harmless, but it is ours.
        assert_eq!(ret("evil.example"), "/evil.example");
    }

    #[test]
    fn control_characters_and_whitespace_are_refused() {
        for next in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/ /evil.example",
            "/account\u{0}",
            "/\u{85}/evil.example",
            "/\u{a0}/x",
            " /account",
        ] {
            assert_eq!(ret(next), DEFAULT_RETURN_PATH, "{next:?}");
        }
    }
}

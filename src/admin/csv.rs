//! Writing CSV for a spreadsheet: every value quoted when it needs to be, and a value a
//! spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) made
//! text with a leading `'`.

/// One cell, safe for a spreadsheet and escaped for CSV.
pub fn cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// The rows as CSV, each line ending in CRLF (RFC 4180).
pub fn write<R, C>(rows: R) -> String
where
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: AsRef<str>,
{
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.into_iter().map(|c| cell(c.as_ref())).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_is_made_text() {
        assert_eq!(cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        for start in ["+1", "-1", "@SUM(A1)", "\tx"] {
            assert_eq!(cell(start), format!("'{start}"));
        }
        assert_eq!(cell("\r=1"), "\"'\r=1\"");
        assert_eq!(cell("a=1"), "a=1");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn commas_quotes_and_newlines_are_quoted() {
        assert_eq!(cell("a, \"b\"\nc"), "\"a, \"\"b\"\"\nc\"");
        assert_eq!(cell("=1,2"), "\"'=1,2\"");
        assert_eq!(
            write([vec!["id", "name"], vec!["1", "Karin, \"K\""]]),
            "id,name\r\n1,\"Karin, \"\"K\"\"\"\r\n"
        );
    }
}

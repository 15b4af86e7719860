//! CSV as spreadsheets write and read it. Writing: every value quoted when it needs to be, and a
//! value a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return first)
//! made text with a leading `'`. Reading an uploaded file: UTF-8 (with or without a byte-order
//! mark) or Windows-1252, which Excel on a Swedish Windows still saves; comma, semicolon (the
//! Swedish Excel default) or tab between values; quotes as RFC 4180 has them.

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

/// Why an uploaded file cannot be read as CSV at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadProblem {
    #[error("the file is empty")]
    Empty,
    /// UTF-16, which Excel writes as "Unicode text".
    #[error("the file is UTF-16 text")]
    Utf16,
    /// Control characters or bytes no text encoding we read has: a spreadsheet, an image, …
    #[error("the file is not text")]
    NotText,
    #[error("a quoted value on line {0} is never closed")]
    UnclosedQuote(usize),
}

/// The file's text, and whether it had to be read as Windows-1252.
pub fn decode(bytes: &[u8]) -> Result<(String, bool), ReadProblem> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(ReadProblem::Utf16);
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let (text, windows_1252) = match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (decode_windows_1252(bytes)?, true),
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    {
        return Err(ReadProblem::NotText);
    }
    if text.trim().is_empty() {
        return Err(ReadProblem::Empty);
    }
    Ok((text, windows_1252))
}

/// Windows-1252 is Latin-1 with printable characters where Latin-1 has C1 controls.
const WINDOWS_1252_80_9F: [Option<char>; 32] = [
    Some('€'),
    None,
    Some('‚'),
    Some('ƒ'),
    Some('„'),
    Some('…'),
    Some('†'),
    Some('‡'),
    Some('ˆ'),
    Some('‰'),
    Some('Š'),
    Some('‹'),
    Some('Œ'),
    None,
    Some('Ž'),
    None,
    None,
    Some('‘'),
    Some('’'),
    Some('“'),
    Some('”'),
    Some('•'),
    Some('–'),
    Some('—'),
    Some('˜'),
    Some('™'),
    Some('š'),
    Some('›'),
    Some('œ'),
    None,
    Some('ž'),
    Some('Ÿ'),
];

fn decode_windows_1252(bytes: &[u8]) -> Result<String, ReadProblem> {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => WINDOWS_1252_80_9F[usize::from(b - 0x80)].ok_or(ReadProblem::NotText),
            _ => Ok(char::from(b)),
        })
        .collect()
}

/// One record of a file and the line it starts on (the first line is 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub values: Vec<String>,
}

/// The separator the header line uses most: `;`, `,` or tab (`,` when it has none).
fn separator_of(text: &str) -> char {
    let header = text.lines().next().unwrap_or_default();
    let count = |c: char| header.chars().filter(|&h| h == c).count();
    [';', '\t']
        .into_iter()
        .fold(',', |best, c| if count(c) > count(best) { c } else { best })
}

/// The file's records, each with its values as written (quotes removed); lines with nothing on
/// them are left out.
pub fn read(text: &str) -> Result<Vec<Record>, ReadProblem> {
    let separator = separator_of(text);
    let mut records = Vec::new();
    let mut values = Vec::new();
    let mut value = String::new();
    let (mut line, mut record_line) = (1, 1);
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut finish = |values: &mut Vec<String>, value: &mut String, at: usize| {
        values.push(std::mem::take(value));
        if values.iter().any(|v| !v.trim().is_empty()) {
            records.push(Record {
                line: at,
                values: std::mem::take(values),
            });
        }
        values.clear();
    };
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    value.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    value.push('\n');
                }
                _ => value.push(c),
            }
            continue;
        }
        match c {
            '"' if value.trim().is_empty() => {
                value.clear();
                quoted = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => {
                finish(&mut values, &mut value, record_line);
                line += 1;
                record_line = line;
            }
            c if c == separator => values.push(std::mem::take(&mut value)),
            _ => value.push(c),
        }
    }
    if quoted {
        return Err(ReadProblem::UnclosedQuote(record_line));
    }
    finish(&mut values, &mut value, record_line);
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(records: &[Record]) -> Vec<(usize, Vec<&str>)> {
        records
            .iter()
            .map(|r| (r.line, r.values.iter().map(String::as_str).collect()))
            .collect()
    }

    #[test]
    fn reads_commas_semicolons_and_tabs_with_quotes() {
        let comma =
            read("email,name\r\nkarin@kund.se,\"Ek, Karin\"\r\n\r\nper@kund.se,Per\n").unwrap();
        assert_eq!(
            values(&comma),
            [
                (1, vec!["email", "name"]),
                (2, vec!["karin@kund.se", "Ek, Karin"]),
                (4, vec!["per@kund.se", "Per"]),
            ]
        );
        let semicolon = read("e-post;namn;språk\nå@kund.se;Åsa, \"Å\";sv").unwrap();
        assert_eq!(semicolon[1].values, ["å@kund.se", "Åsa, \"Å\"", "sv"]);
        let tab = read("email\tname\na@b.se\tA, B").unwrap();
        assert_eq!(tab[1].values, ["a@b.se", "A, B"]);
    }

    #[test]
    fn quoted_values_keep_separators_quotes_and_line_breaks() {
        let records = read("email;name\n\"a@b.se\";\"Karin \"\"K\"\"\nEk; AB\"\nc@d.se;C").unwrap();
        assert_eq!(
            values(&records),
            [
                (1, vec!["email", "name"]),
                (2, vec!["a@b.se", "Karin \"K\"\nEk; AB"]),
                (4, vec!["c@d.se", "C"]),
            ]
        );
        assert_eq!(read("email\n\"open"), Err(ReadProblem::UnclosedQuote(2)));
    }

    #[test]
    fn decodes_utf8_with_or_without_bom_and_windows_1252() {
        assert_eq!(
            decode("namn\nÅsa".as_bytes()).unwrap(),
            ("namn\nÅsa".into(), false)
        );
        let bom = [&[0xEF, 0xBB, 0xBF][..], "namn".as_bytes()].concat();
        assert_eq!(decode(&bom).unwrap(), ("namn".into(), false));
        // "Åsa Öberg – €" as Excel on Windows saves it.
        let latin = b"\xC5sa \xD6berg \x96 \x80";
        assert_eq!(decode(latin).unwrap(), ("Åsa Öberg – €".into(), true));
        assert_eq!(decode(&[0xFF, 0xFE, b'a', 0]), Err(ReadProblem::Utf16));
        assert_eq!(decode(b"PK\x03\x04\x00\x00"), Err(ReadProblem::NotText));
        assert_eq!(decode(b"\x81"), Err(ReadProblem::NotText));
        assert_eq!(decode(b" \r\n"), Err(ReadProblem::Empty));
    }

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

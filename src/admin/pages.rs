//! Cursor pagination: a page of items and the opaque cursor of the next one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::AdminError;

/// Most items on one page, and the default.
pub const MAX_LIMIT: i64 = 200;
pub const DEFAULT_LIMIT: i64 = 50;

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The page size asked for, checked.
pub fn limit(requested: Option<i64>) -> Result<i64, AdminError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AdminError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// A cursor names the last item of a page by its sort key `(time, id)`.
pub fn encode_cursor(at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at}:{id}"))
}

pub fn decode_cursor(raw: Option<&str>) -> Result<Option<(i64, String)>, AdminError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let invalid = || AdminError::invalid("cursor", "is not a cursor this API gave out");
    let text = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(invalid)?;
    let (at, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok(Some((at.parse().map_err(|_| invalid())?, id.to_string())))
}

/// Fetches one more than `limit` to know whether another page follows.
pub fn page<T, K>(mut rows: Vec<T>, limit: i64, key: K) -> Page<T>
where
    K: Fn(&T) -> (i64, String),
{
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|last| {
            let (at, id) = key(last);
            encode_cursor(at, &id)
        })
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_a_field_problem() {
        let cursor = encode_cursor(1_700_000_000, "0190-abc");
        assert_eq!(
            decode_cursor(Some(&cursor)).unwrap(),
            Some((1_700_000_000, "0190-abc".to_string()))
        );
        assert!(matches!(
            decode_cursor(Some("%%%")),
            Err(AdminError::Invalid(p)) if p[0].field == "cursor"
        ));
        assert!(matches!(limit(Some(0)), Err(AdminError::Invalid(_))));
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
    }

    #[test]
    fn a_full_page_has_a_cursor_and_the_last_does_not() {
        let full = page(vec![1, 2, 3], 2, |n| (*n as i64, n.to_string()));
        assert_eq!(full.items, vec![1, 2]);
        assert_eq!(
            decode_cursor(full.next_cursor.as_deref()).unwrap(),
            Some((2, "2".into()))
        );
        let last = page(vec![1, 2], 2, |n| (*n as i64, n.to_string()));
        assert!(last.next_cursor.is_none());
    }
}

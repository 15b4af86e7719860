//! "Senaste aktivitet" in Mina uppgifter: a login as a person reads it (when, in Swedish time;
//! how; which browser on which system), from its audit event.

use time::{Date, Month, OffsetDateTime, Weekday};

use crate::store::AuditEvent;

/// A login, ready for the page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoginActivity {
    /// `YYYY-MM-DD HH:MM`, Swedish local time.
    pub when: String,
    /// `password` or `bankid`: the page translates `activity-method-…`.
    pub method: String,
    pub succeeded: bool,
    /// "Firefox, Linux"; empty when the browser is not known.
    pub browser: String,
}

impl LoginActivity {
    pub fn of(event: &AuditEvent) -> LoginActivity {
        let details: serde_json::Value = serde_json::from_str(&event.details).unwrap_or_default();
        LoginActivity {
            when: swedish_time(event.at),
            method: details["method"].as_str().unwrap_or_default().to_string(),
            succeeded: event.result == "success",
            browser: event.user_agent.as_deref().map(browser).unwrap_or_default(),
        }
    }
}

/// The last Sunday of `month` (the EU's daylight-saving changes are on those, at 01:00 UTC).
fn last_sunday(year: i32, month: Month) -> Date {
    let mut day = Date::from_calendar_date(year, month, month.length(year)).unwrap_or(Date::MIN);
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day().unwrap_or(Date::MIN);
    }
    day
}

/// Sweden's offset from UTC at `unix`: +2 h in summer time, +1 h otherwise.
pub fn sweden_offset_secs(unix: i64) -> i64 {
    let utc = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let year = utc.year();
    let change = |month| {
        last_sunday(year, month)
            .with_hms(1, 0, 0)
            .map(|t| t.assume_utc().unix_timestamp())
            .unwrap_or(0)
    };
    if unix >= change(Month::March) && unix < change(Month::October) {
        7200
    } else {
        3600
    }
}

pub fn swedish_time(unix: i64) -> String {
    let local = OffsetDateTime::from_unix_timestamp(unix + sweden_offset_secs(unix))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute()
    )
}

/// A browser and system a person recognises, from a user agent; empty if neither is known.
pub fn browser(user_agent: &str) -> String {
    let name = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    let system = [
        ("Windows", "Windows"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Mac OS X", "macOS"),
        ("Android", "Android"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    match (name, system) {
        (Some(n), Some(s)) => format!("{n}, {s}"),
        (Some(one), None) | (None, Some(one)) => one.to_string(),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swedish_time_follows_summer_time() {
        // 2026-12-02 12:00 UTC is 13:00 in Stockholm; 2026-07-01 12:00 UTC is 14:00.
        assert_eq!(swedish_time(1_796_212_800), "2026-12-02 13:00");
        assert_eq!(swedish_time(1_782_907_200), "2026-07-01 14:00");
        // Summer time starts 2026-03-29 01:00 UTC.
        assert_eq!(swedish_time(1_774_745_999), "2026-03-29 01:59");
        assert_eq!(swedish_time(1_774_746_000), "2026-03-29 03:00");
    }

    #[test]
    fn browsers_are_named_the_way_people_know_them() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(browser(firefox), "Firefox, Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                    Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(browser(edge), "Edge, Windows");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
        assert_eq!(browser(iphone), "Safari, iOS");
        assert_eq!(browser("curl/8.5"), "");
    }
}

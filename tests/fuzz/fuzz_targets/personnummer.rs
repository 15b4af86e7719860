//! `Personnummer::parse` with an arbitrary "today".
//!
//! Input: `YYYY-MM-DD\n<what the person typed>`. A first line that is not such a date is folded
//! into an arbitrary date anywhere in `time`'s range, so every date gets tried.
//!
//! Invariants of a parsed number: 12 ASCII digits; parsing it again (and its 10-digit form with
//! the right separator) gives it back; the date is real (or a lenient coordination date), not
//! before 1800 and not after today; the Luhn digit checks; the input's digits are kept;
//! `masked()` never shows the last four digits (nor depends on them: compared with a number of
//! the same date and another serial), and `Debug` shows only the masked form.
#![no_main]

use leasify_id::identity::personnummer::Personnummer;
use leasify_id_fuzz::{fields, text};
use libfuzzer_sys::fuzz_target;
use time::{Date, Month};

fn today_from(line: &[u8]) -> Date {
    let parsed = std::str::from_utf8(line).ok().and_then(|s| {
        let mut parts = s.trim().splitn(3, '-');
        let year: i32 = parts.next()?.parse().ok()?;
        let month: u8 = parts.next()?.parse().ok()?;
        let day: u8 = parts.next()?.parse().ok()?;
        Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
    });
    parsed.unwrap_or_else(|| {
        let min = Date::MIN.to_julian_day() as i64;
        let span = Date::MAX.to_julian_day() as i64 - min + 1;
        let folded = line
            .iter()
            .fold(0i64, |acc, b| (acc * 257 + i64::from(*b)) % span);
        Date::from_julian_day((min + folded) as i32).expect("in range")
    })
}

/// Textbook Luhn over the nine digits after the century, independent of the crate's.
fn luhn_ok(twelve: &str) -> bool {
    let digits: Vec<u32> = twelve[2..]
        .chars()
        .map(|c| c.to_digit(10).unwrap())
        .collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    sum % 10 == 0
}

/// The same date with another serial number (and its check digit), if that is valid too.
fn other_serial(s: &str, today: Date) -> Option<Personnummer> {
    let serial: u32 = s[8..11].parse().unwrap();
    let body = format!("{}{:03}", &s[..8], (serial + 1) % 1000);
    (0..10)
        .map(|check| format!("{body}{check}"))
        .find_map(|candidate| Personnummer::parse(&candidate, today).ok())
}

fuzz_target!(|data: &[u8]| {
    let parts = fields(data, 2);
    let today = today_from(parts[0]);
    let input = text(parts.get(1).copied().unwrap_or_default());
    let Ok(pnr) = Personnummer::parse(&input, today) else {
        return;
    };
    let s = pnr.as_str();
    assert_eq!(s.len(), 12, "{s:?}");
    assert!(s.bytes().all(|b| b.is_ascii_digit()), "{s:?}");
    assert_eq!(Personnummer::parse(s, today).as_ref(), Ok(&pnr), "re-parse");

    // The date: real (coordination numbers: day + 60, leniently), from 1800, not in the future.
    let year: i32 = s[0..4].parse().unwrap();
    let month: u8 = s[4..6].parse().unwrap();
    let day: u8 = s[6..8].parse().unwrap();
    assert!(year >= 1800, "{s}");
    assert!(year <= today.year(), "{s} after {today}");
    assert_eq!(pnr.is_coordination_number(), day >= 60, "{s}");
    if day < 60 {
        let date = Date::from_calendar_date(year, Month::try_from(month).unwrap(), day)
            .expect("a personnummer's date exists");
        assert!(date <= today, "{s} after {today}");
    } else {
        assert!(month <= 12 && day - 60 <= 31, "{s}");
    }
    assert!(luhn_ok(s), "check digit of {s}");

    // The digits typed are the digits kept (10-digit form: the century is added).
    let typed: String = input.chars().filter(char::is_ascii_digit).collect();
    match typed.len() {
        12 => assert_eq!(typed, s),
        10 => assert_eq!(typed, &s[2..]),
        n => panic!("{n} digits typed, yet parsed as {s}"),
    }

    // The 10-digit form finds the same century: `-` below 100 years of age, `+` from 100 to 199.
    let age = today.year() - year;
    let short = |sep: &str| format!("{}{sep}{}", &s[2..8], &s[8..]);
    if (0..100).contains(&age) {
        assert_eq!(Personnummer::parse(&short("-"), today).as_ref(), Ok(&pnr));
        assert_eq!(Personnummer::parse(&short(""), today).as_ref(), Ok(&pnr));
    } else if (100..200).contains(&age) {
        assert_eq!(Personnummer::parse(&short("+"), today).as_ref(), Ok(&pnr));
    }

    // Masking hides at least the last four digits, whatever the exact format (the date part
    // shown or starred): `-****`-terminated, showing only digits of the number's first eight,
    // in place, and the same for another number of that date.
    let masked = pnr.masked();
    assert!(masked.ends_with("-****"), "{masked}");
    let shown = &masked[..masked.len() - 5];
    assert_eq!(shown.len(), 8, "{masked}");
    for (m, d) in shown.bytes().zip(s.bytes()) {
        assert!(m == b'*' || m == d, "{masked} for {s}");
    }
    if let Some(sibling) = other_serial(s, today) {
        assert_eq!(sibling.masked(), masked, "masked() depends on the serial");
    }
    let debug = format!("{pnr:?}");
    assert!(!debug.contains(s), "Debug leaks the number: {debug}");
    assert_eq!(debug, format!("Personnummer({masked:?})"));
});

//! Swedish personnummer and samordningsnummer (coordination numbers), as the BankID spec section 8
//! describes them: parsed from the 10- or 12-digit form with an optional `-`/`+`, date- and
//! Luhn-checked, normalised to the 12 digits `YYYYMMDDNNNC` that BankID sends and that we store.
//!
//! A [`Personnummer`] deliberately has no `Display`: the full number must never end up in a log
//! line or an error message by a stray `{}`. `Debug` prints the masked form; the full number is
//! only available through [`Personnummer::as_str`], for sealing, the blind index and BankID.

use std::fmt;

use time::{Date, Month};

/// A valid personnummer or samordningsnummer, always the 12 digits `YYYYMMDDNNNC`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Personnummer(String);

/// Why an input is not a personnummer. Each variant names its message in the locale files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersonnummerError {
    /// Not 10 or 12 digits (with at most one `-`/`+` before the last four), or other characters.
    #[error("not 10 or 12 digits")]
    InvalidFormat,
    /// The birth date (or the coordination number's date) does not exist.
    #[error("no such date")]
    InvalidDate,
    /// The last digit is not the Luhn check digit of the nine before it.
    #[error("wrong check digit")]
    InvalidChecksum,
    /// The date lies after today.
    #[error("date in the future")]
    FutureDate,
}

impl PersonnummerError {
    /// The key of the message for the person in `templates/locales/*/main.ftl`.
    pub fn message_key(&self) -> &'static str {
        match self {
            PersonnummerError::InvalidFormat => "pnr-invalid-format",
            PersonnummerError::InvalidDate => "pnr-invalid-date",
            PersonnummerError::InvalidChecksum => "pnr-invalid-checksum",
            PersonnummerError::FutureDate => "pnr-future-date",
        }
    }
}

/// Coordination numbers add this to the day of the month.
const COORDINATION_DAY_OFFSET: u8 = 60;
/// Anything earlier is a typing error, not a birth year.
const EARLIEST_YEAR: i32 = 1800;

impl Personnummer {
    /// Parses `YYMMDD-NNNC`, `YYMMDD+NNNC`, `YYMMDDNNNC`, `YYYYMMDD-NNNC` or `YYYYMMDDNNNC`;
    /// spaces anywhere are ignored. `today` (the date in Europe/Stockholm) decides the century
    /// of the 10-digit form: the most recent year ending in `YY` that is not after this year,
    /// one century earlier with `+` (the person is 100 or older this year). In the 12-digit form
    /// the century is explicit and a `+` changes nothing.
    pub fn parse(input: &str, today: Date) -> Result<Personnummer, PersonnummerError> {
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let (digits, separator) = split_separator(&compact)?;
        let twelve = match digits.len() {
            12 => digits.to_string(),
            10 => {
                let yy = i32::from(two_digits(&digits[0..2]));
                let mut year = today.year() - today.year().rem_euclid(100) + yy;
                if year > today.year() {
                    year -= 100;
                }
                if separator == Some('+') {
                    year -= 100;
                }
                if !(0..=9999).contains(&year) {
                    return Err(PersonnummerError::InvalidDate);
                }
                format!("{year:04}{}", &digits[2..])
            }
            _ => return Err(PersonnummerError::InvalidFormat),
        };

        let year: i32 = twelve[0..4]
            .parse()
            .map_err(|_| PersonnummerError::InvalidFormat)?;
        let month = two_digits(&twelve[4..6]);
        let day = two_digits(&twelve[6..8]);
        let date = checked_date(year, month, day)?;
        if date > today {
            return Err(PersonnummerError::FutureDate);
        }
        let bytes = twelve.as_bytes();
        if luhn_check_digit(&bytes[2..11]) != bytes[11] - b'0' {
            return Err(PersonnummerError::InvalidChecksum);
        }
        Ok(Personnummer(twelve))
    }

    /// The 12 digits `YYYYMMDDNNNC`. Never log this.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Only the birth year, e.g. `1981****-****`, for showing the person that a number is
    /// stored without giving away the date of birth.
    pub fn masked(&self) -> String {
        crate::bankid::api::masked_personal_number(&self.0)
    }

    /// A samordningsnummer (day of month + 60) rather than a personnummer.
    pub fn is_coordination_number(&self) -> bool {
        two_digits(&self.0[6..8]) >= COORDINATION_DAY_OFFSET
    }
}

impl fmt::Debug for Personnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Personnummer").field(&self.masked()).finish()
    }
}

/// Splits off one `-` or `+` standing right before the last four digits; everything else must
/// be ASCII digits.
fn split_separator(compact: &str) -> Result<(String, Option<char>), PersonnummerError> {
    let mut digits = String::with_capacity(12);
    let mut separator = None;
    let chars: Vec<char> = compact.chars().collect();
    for (i, c) in chars.iter().copied().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | '+' if separator.is_none() && i + 5 == chars.len() && i > 0 => {
                separator = Some(c)
            }
            _ => return Err(PersonnummerError::InvalidFormat),
        }
    }
    Ok((digits, separator))
}

/// Two ASCII digits as a number (the caller has checked they are digits).
fn two_digits(s: &str) -> u8 {
    let b = s.as_bytes();
    (b[0] - b'0') * 10 + (b[1] - b'0')
}

/// The date the number stands for. Personnummer need a real calendar date. Coordination numbers
/// (day 60–91) are lenient as Skatteverket's own test data is: month `00`, day `60`, and a day
/// past the end of a short month are allowed; the returned date is then the nearest real one,
/// used only for the future-date check.
fn checked_date(year: i32, month: u8, day: u8) -> Result<Date, PersonnummerError> {
    if year < EARLIEST_YEAR {
        return Err(PersonnummerError::InvalidDate);
    }
    if day >= COORDINATION_DAY_OFFSET {
        let day = day - COORDINATION_DAY_OFFSET;
        if month > 12 || day > 31 {
            return Err(PersonnummerError::InvalidDate);
        }
        let month = Month::try_from(month.max(1)).map_err(|_| PersonnummerError::InvalidDate)?;
        let day = day.clamp(1, month.length(year));
        return Date::from_calendar_date(year, month, day)
            .map_err(|_| PersonnummerError::InvalidDate);
    }
    let month = Month::try_from(month).map_err(|_| PersonnummerError::InvalidDate)?;
    Date::from_calendar_date(year, month, day).map_err(|_| PersonnummerError::InvalidDate)
}

/// The Luhn check digit of ASCII digits, weights 2, 1, 2, … from the left (nine digits here).
fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let product = u32::from(d - b'0') * if i % 2 == 0 { 2 } else { 1 };
            product / 10 + product % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2025 - 06 - 15);

    /// Independent Luhn for the tests: doubles every second digit from the right of the
    /// nine-digit body plus a check-digit slot, the textbook way.
    fn luhn_digit(body9: &str) -> char {
        let mut sum = 0;
        for (i, c) in body9.chars().rev().enumerate() {
            let mut d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                d *= 2;
                if d > 9 {
                    d -= 9;
                }
            }
            sum += d;
        }
        char::from_digit((10 - sum % 10) % 10, 10).unwrap()
    }

    /// A 12-digit number with a correct check digit from `YYYYMMDDNNN`.
    fn with_check(eleven: &str) -> String {
        format!("{eleven}{}", luhn_digit(&eleven[2..]))
    }

    fn parse(input: &str) -> Result<Personnummer, PersonnummerError> {
        Personnummer::parse(input, TODAY)
    }

    #[test]
    fn test_luhn_helper_agrees_with_the_spec_example() {
        assert_eq!(luhn_digit("811228987"), '4');
        assert_eq!(luhn_check_digit(b"811228987"), 4);
        assert_eq!(with_check("19990807239"), "199908072391");
        assert_eq!(with_check("19680202057"), "196802020575");
    }

    #[test]
    fn valid_forms_normalise_to_twelve_digits() {
        for input in [
            "811228-9874",
            "8112289874",
            "198112289874",
            "19811228-9874",
            " 19811228 - 9874 ",
            "811228 9874",
        ] {
            assert_eq!(parse(input).unwrap().as_str(), "198112289874", "{input}");
        }
        assert_eq!(parse("199908072391").unwrap().as_str(), "199908072391");
        assert_eq!(parse("990807-2391").unwrap().as_str(), "199908072391");
        assert_eq!(parse("196802020575").unwrap().as_str(), "196802020575");
        assert_eq!(parse("680202-0575").unwrap().as_str(), "196802020575");
        // Skatteverket test number from the spec, born 1890.
        assert_eq!(parse("189001019802").unwrap().as_str(), "189001019802");
        assert_eq!(parse("900101+9802").unwrap().as_str(), "189001019802");
    }

    #[test]
    fn plus_means_a_hundred_years_earlier() {
        let n = with_check("19120101123");
        let ten = &n[2..];
        let plus = format!("{}+{}", &ten[..6], &ten[6..]);
        let minus = format!("{}-{}", &ten[..6], &ten[6..]);
        assert_eq!(parse(&plus).unwrap().as_str(), n);
        assert_eq!(parse(&minus).unwrap().as_str(), format!("20{ten}"));
        // 811228+9874 is someone born in 1881.
        assert_eq!(parse("811228+9874").unwrap().as_str(), "188112289874");
        // In the 12-digit form the century is explicit; a `+` changes nothing.
        assert_eq!(parse("19811228+9874").unwrap().as_str(), "198112289874");
    }

    #[test]
    fn ten_digit_century_follows_the_reference_year() {
        // This year's YY: this century if the date has passed, else it is in the future.
        let this_year = with_check("20250101123");
        assert_eq!(parse(&this_year[2..]).unwrap().as_str(), this_year);
        let later_this_year = with_check("20251224123");
        assert_eq!(
            parse(&later_this_year[2..]),
            Err(PersonnummerError::FutureDate)
        );
        // Next year's YY belongs to the previous century.
        let next_year = with_check("19260101123");
        assert_eq!(parse(&next_year[2..]).unwrap().as_str(), next_year);
        // Last year's YY: this century.
        let last_year = with_check("20241231123");
        assert_eq!(parse(&last_year[2..]).unwrap().as_str(), last_year);
        // The same digits a year later, from 2026, mean 2026 no longer 1926.
        let born_2026 = with_check("20260101123");
        assert_eq!(
            Personnummer::parse(&born_2026[2..], date!(2026 - 01 - 01))
                .unwrap()
                .as_str(),
            born_2026
        );
        // Turning 100 is decided by year, not birthday: someone born 1925-12-31 writes `+`
        // from 2025-01-01.
        let old = with_check("19251231123");
        let ten = &old[2..];
        assert_eq!(
            parse(&format!("{}+{}", &ten[..6], &ten[6..]))
                .unwrap()
                .as_str(),
            old
        );
    }

    #[test]
    fn samordningsnummer() {
        let n = with_check("19701063239");
        let ten = format!("{}-{}", &n[2..8], &n[8..]);
        let parsed = parse(&ten).unwrap();
        assert_eq!(parsed.as_str(), n);
        assert!(parsed.is_coordination_number());
        assert_eq!(n, "197010632391");
        assert_eq!(parse("701063-2391").unwrap().as_str(), "197010632391");
        assert_eq!(parse("701063-2391").unwrap().masked(), "1970****-****");
        assert!(!parse("198112289874").unwrap().is_coordination_number());
        // Lenient only for coordination numbers: month 00, day 60, day 91 in February.
        for body in [
            "19700060239",
            "19700160239",
            "19700291239",
            "19800289239",
            "19800491239",
        ] {
            assert!(
                parse(&with_check(body)).unwrap().is_coordination_number(),
                "{body}"
            );
        }
        for body in [
            "19700000239",
            "19700230239",
            "19810229239",
            "19800431239",
            "19801331239",
            "19801392239",
        ] {
            assert_eq!(
                parse(&with_check(body)),
                Err(PersonnummerError::InvalidDate),
                "{body}"
            );
        }
        // Day 32–59 is neither.
        assert_eq!(
            parse(&with_check("19700145239")),
            Err(PersonnummerError::InvalidDate)
        );
        // A future coordination number is still in the future.
        assert_eq!(
            parse(&with_check("20251271239")),
            Err(PersonnummerError::FutureDate)
        );
    }

    #[test]
    fn leap_years() {
        assert!(parse(&with_check("20000229123")).is_ok());
        assert!(parse(&with_check("19960229123")).is_ok());
        assert_eq!(
            parse(&with_check("19000229123")),
            Err(PersonnummerError::InvalidDate)
        );
        assert_eq!(
            parse(&with_check("19970229123")),
            Err(PersonnummerError::InvalidDate)
        );
    }

    #[test]
    fn invalid_checksum() {
        assert_eq!(
            parse("811228-9875"),
            Err(PersonnummerError::InvalidChecksum)
        );
        assert_eq!(
            parse("198112289870"),
            Err(PersonnummerError::InvalidChecksum)
        );
        assert_eq!(
            parse("199908072392"),
            Err(PersonnummerError::InvalidChecksum)
        );
    }

    #[test]
    fn invalid_date() {
        assert_eq!(
            parse(&with_check("19810230123")),
            Err(PersonnummerError::InvalidDate)
        );
        assert_eq!(parse("19810230-1234"), Err(PersonnummerError::InvalidDate));
        assert_eq!(
            parse(&with_check("19811301123")),
            Err(PersonnummerError::InvalidDate)
        );
        assert_eq!(
            parse(&with_check("19810001123")),
            Err(PersonnummerError::InvalidDate)
        );
        assert_eq!(
            parse(&with_check("19810100123")),
            Err(PersonnummerError::InvalidDate)
        );
        // `190000000000`-style placeholders fail the date check.
        assert_eq!(parse("190000000000"), Err(PersonnummerError::InvalidDate));
        assert_eq!(
            parse(&with_check("17990101123")),
            Err(PersonnummerError::InvalidDate)
        );
    }

    #[test]
    fn future_date() {
        assert_eq!(
            parse(&with_check("20991231123")),
            Err(PersonnummerError::FutureDate)
        );
        assert_eq!(
            parse(&with_check("20250616123")),
            Err(PersonnummerError::FutureDate)
        );
        assert!(parse(&with_check("20250615123")).is_ok());
    }

    #[test]
    fn invalid_format() {
        for input in [
            "",
            "81122898",
            "81122898745",
            "1981122898745",
            "8112289874-",
            "-8112289874",
            "81122-89874",
            "811228--9874",
            "811228-+9874",
            "1981-12289874",
            "81122a-9874",
            "811228/9874",
            "８１１２２８-９８７４",
            "abcdefghij",
        ] {
            assert_eq!(
                parse(input),
                Err(PersonnummerError::InvalidFormat),
                "{input:?}"
            );
        }
    }

    #[test]
    fn masked_debug_and_no_leak() {
        let n = parse("811228-9874").unwrap();
        assert_eq!(n.masked(), "1981****-****");
        let debug = format!("{n:?}");
        assert_eq!(debug, "Personnummer(\"1981****-****\")");
        assert!(!debug.contains("1228"));
        assert!(!debug.contains("9874"));
        assert!(!format!("{:?}", Some(&n)).contains("9874"));
    }

    #[test]
    fn message_keys() {
        assert_eq!(
            PersonnummerError::InvalidFormat.message_key(),
            "pnr-invalid-format"
        );
        assert_eq!(
            PersonnummerError::InvalidDate.message_key(),
            "pnr-invalid-date"
        );
        assert_eq!(
            PersonnummerError::InvalidChecksum.message_key(),
            "pnr-invalid-checksum"
        );
        assert_eq!(
            PersonnummerError::FutureDate.message_key(),
            "pnr-future-date"
        );
    }

    #[test]
    fn every_message_key_is_translated() {
        let mut catalogs = crate::render::i18n::Catalogs::default();
        catalogs
            .add_ftl("sv", include_str!("../../templates/locales/sv/main.ftl"))
            .unwrap();
        catalogs
            .add_ftl("en", include_str!("../../templates/locales/en/main.ftl"))
            .unwrap();
        for error in [
            PersonnummerError::InvalidFormat,
            PersonnummerError::InvalidDate,
            PersonnummerError::InvalidChecksum,
            PersonnummerError::FutureDate,
        ] {
            for locale in ["sv", "en"] {
                assert!(
                    catalogs
                        .keys(locale)
                        .iter()
                        .any(|k| k == error.message_key()),
                    "{locale}: {}",
                    error.message_key()
                );
            }
        }
    }
}

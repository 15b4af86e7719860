//! Translations in Fluent (`templates/locales/{sv,en}/main.ftl`), parsed and formatted by the
//! Fluent crates (`fluent-bundle`), so the texts can use everything Fluent has, plural selectors
//! included: `{ $days -> [one] { $days } dag *[other] { $days } dagar }`. Numbers are passed as
//! Fluent numbers (see [`Catalogs::get`]), so the selectors follow each language's plural rules.
//! Unicode isolation marks around placeables are off: pages and plain-text emails get the bare
//! text.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, PoisonError};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use fluent_syntax::ast;

pub use fluent_bundle::FluentValue;

pub const LOCALES: &[&str] = &["sv", "en"];

/// The texts of each language, one Fluent bundle per language.
#[derive(Default)]
pub struct Catalogs {
    bundles: HashMap<String, FluentBundle<FluentResource>>,
    /// Message ids per language, in file order.
    keys: HashMap<String, Vec<String>>,
    /// The problems already logged (`locale/key: problem`), so each is logged once.
    reported: Mutex<HashSet<String>>,
}

impl fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for locale in LOCALES {
            if let Some(keys) = self.keys.get(*locale) {
                map.entry(locale, &keys.len());
            }
        }
        map.finish()
    }
}

/// The 1-based line of byte offset `at` in `source`.
fn line_of(source: &str, at: usize) -> usize {
    source
        .get(..at.min(source.len()))
        .unwrap_or(source)
        .matches('\n')
        .count()
        + 1
}

impl Catalogs {
    /// Adds a Fluent file's messages to `locale`. A syntax error, or a message defined twice,
    /// is an error naming the line (`line 12: …`).
    pub fn add_ftl(&mut self, locale: &str, source: &str) -> Result<(), String> {
        let resource = FluentResource::try_new(source.to_string()).map_err(|(_, errors)| {
            errors
                .iter()
                .map(|e| format!("line {}: {}", line_of(source, e.pos.start), e.kind))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let keys = self.keys.entry(locale.to_string()).or_default();
        for entry in resource.entries() {
            if let ast::Entry::Message(message) = entry {
                let id = message.id.name;
                if keys.iter().any(|k| k == id) {
                    // The second definition's line: the AST keeps no positions.
                    let lines: Vec<usize> = source
                        .lines()
                        .enumerate()
                        .filter(|(_, l)| l.split_once('=').is_some_and(|(k, _)| k.trim_end() == id))
                        .map(|(n, _)| n + 1)
                        .collect();
                    let line = lines.get(1).or(lines.first()).copied().unwrap_or(1);
                    return Err(format!("line {line}: message `{id}` is defined twice"));
                }
                keys.push(id.to_string());
            }
        }
        let bundle = self.bundles.entry(locale.to_string()).or_insert_with(|| {
            let id = locale.parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            bundle.set_use_isolating(false);
            bundle
        });
        bundle.add_resource(resource).map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The message `key` in `locale` with `args` filled in, falling back to Swedish, then to the
    /// key itself; a missing text (or a placeable that could not be filled) is logged once.
    /// Pass counts as numbers (`FluentValue::from(7)`), so plural selectors work.
    pub fn get(&self, locale: &str, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let args = (!args.is_empty()).then(|| {
            let mut fluent = FluentArgs::with_capacity(args.len());
            for (name, value) in args {
                fluent.set(*name, value.clone());
            }
            fluent
        });
        if let Some(text) = self.format(locale, key, args.as_ref()) {
            return text;
        }
        if locale != "sv"
            && let Some(text) = self.format("sv", key, args.as_ref())
        {
            self.report_once(locale, key, "text missing; the Swedish text is shown");
            return text;
        }
        self.report_once(locale, key, "text missing; the key is shown");
        key.to_string()
    }

    fn format(&self, locale: &str, key: &str, args: Option<&FluentArgs<'_>>) -> Option<String> {
        let bundle = self.bundles.get(locale)?;
        let pattern = bundle.get_message(key)?.value()?;
        let mut errors = Vec::new();
        let text = bundle
            .format_pattern(pattern, args, &mut errors)
            .into_owned();
        if !errors.is_empty() {
            let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
            self.report_once(locale, key, &problems.join("; "));
        }
        Some(text)
    }

    fn report_once(&self, locale: &str, key: &str, problem: &str) {
        let first = self
            .reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(format!("{locale}/{key}: {problem}"));
        if first {
            tracing::warn!(locale, key, "translation: {problem}");
        }
    }

    /// The message ids of `locale`, in file order.
    pub fn keys(&self, locale: &str) -> Vec<String> {
        self.keys.get(locale).cloned().unwrap_or_default()
    }
}

/// Chooses the page language: an explicit choice, then `ui_locales`, then `Accept-Language`,
/// then the configured default.
pub fn negotiate(
    explicit: Option<&str>,
    ui_locales: Option<&str>,
    accept_language: Option<&str>,
    default: &str,
) -> &'static str {
    let supported = |tag: &str| {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        LOCALES.iter().copied().find(|l| *l == primary)
    };
    if let Some(found) = explicit.and_then(supported) {
        return found;
    }
    if let Some(found) = ui_locales.and_then(|u| u.split(' ').find_map(supported)) {
        return found;
    }
    if let Some(header) = accept_language {
        let mut ranked: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        if let Some(found) = ranked
            .iter()
            .filter(|(q, _)| *q > 0.0)
            .find_map(|(_, tag)| supported(tag))
        {
            return found;
        }
    }
    supported(default).unwrap_or("sv")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SV: &str = include_str!("../../templates/locales/sv/main.ftl");
    const EN: &str = include_str!("../../templates/locales/en/main.ftl");

    fn built_in() -> Catalogs {
        let mut catalogs = Catalogs::default();
        catalogs.add_ftl("sv", SV).expect("sv/main.ftl");
        catalogs.add_ftl("en", EN).expect("en/main.ftl");
        catalogs
    }

    /// Every variable the templates and the code pass to a text, with a value.
    fn all_args() -> Vec<(&'static str, FluentValue<'static>)> {
        vec![
            ("days", FluentValue::from(7)),
            ("minutes", FluentValue::from(60)),
            ("hours", FluentValue::from(24)),
            ("min", FluentValue::from(10)),
            ("email", FluentValue::from("agnes@example.se")),
            ("term", FluentValue::from("karin")),
            ("number", FluentValue::from("1981****-****")),
            ("rows", FluentValue::from(5000)),
            ("megabytes", FluentValue::from(2)),
            ("line", FluentValue::from(12)),
            ("count", FluentValue::from(995)),
            ("done", FluentValue::from(500)),
            ("total", FluentValue::from(1000)),
            ("name", FluentValue::from("Jobbdatorn")),
        ]
    }

    #[test]
    fn negotiation_order() {
        assert_eq!(negotiate(Some("en"), Some("sv"), None, "sv"), "en");
        assert_eq!(negotiate(None, Some("de en-GB"), Some("sv"), "sv"), "en");
        assert_eq!(
            negotiate(None, None, Some("de, en;q=0.8, sv;q=0.9"), "en"),
            "sv"
        );
        assert_eq!(negotiate(None, Some("se"), None, "sv"), "sv");
        assert_eq!(negotiate(None, None, None, "en"), "en");
    }

    #[test]
    fn fluent_messages_variables_and_fallback() {
        let mut c = Catalogs::default();
        c.add_ftl(
            "sv",
            "# comment\nhello = Hej { $name }!\nlong = one\n    two\nonly-sv = bara svenska\n",
        )
        .unwrap();
        c.add_ftl("en", "hello = Hello { $name }!\n").unwrap();
        assert_eq!(
            c.get("sv", "hello", &[("name", "Anna".into())]),
            "Hej Anna!"
        );
        assert_eq!(
            c.get("en", "hello", &[("name", "Anna".into())]),
            "Hello Anna!"
        );
        // Fluent keeps the line break of a multi-line text.
        assert_eq!(c.get("sv", "long", &[]), "one\ntwo");
        // Missing in English: Swedish; missing everywhere: the key.
        assert_eq!(c.get("en", "only-sv", &[]), "bara svenska");
        assert_eq!(c.get("sv", "missing", &[]), "missing");
        assert_eq!(c.get("en", "missing", &[]), "missing");
        assert_eq!(c.keys("sv"), ["hello", "long", "only-sv"]);
    }

    #[test]
    fn syntax_errors_and_duplicates_name_the_line() {
        let mut c = Catalogs::default();
        let error = c
            .add_ftl("sv", "a = A\nb = B\nthis line is not fluent\n")
            .unwrap_err();
        assert!(error.starts_with("line 3: "), "{error}");
        let error = c.add_ftl("sv", "a = A\n\nb = B\na = again\n").unwrap_err();
        assert_eq!(error, "line 4: message `a` is defined twice");
        let error = c.add_ftl("en", "x = { $n ->\n [one] one\n}\n").unwrap_err();
        assert!(
            error.starts_with("line "),
            "a selector needs a default: {error}"
        );
    }

    #[test]
    fn both_languages_parse_with_fluents_parser() {
        for (name, source) in [("sv", SV), ("en", EN)] {
            if let Err((_, errors)) = FluentResource::try_new(source.to_string()) {
                panic!("{name}/main.ftl: {errors:?}");
            }
        }
        built_in();
    }

    #[test]
    fn every_key_exists_in_both_languages() {
        let catalogs = built_in();
        let sv: HashSet<String> = catalogs.keys("sv").into_iter().collect();
        let en: HashSet<String> = catalogs.keys("en").into_iter().collect();
        let mut only_sv: Vec<&String> = sv.difference(&en).collect();
        let mut only_en: Vec<&String> = en.difference(&sv).collect();
        only_sv.sort();
        only_en.sort();
        assert!(only_sv.is_empty(), "missing in en/main.ftl: {only_sv:?}");
        assert!(only_en.is_empty(), "missing in sv/main.ftl: {only_en:?}");
        assert!(sv.len() > 100, "{} keys", sv.len());
    }

    #[test]
    fn every_audit_event_kind_has_a_readable_name_in_both_languages() {
        let catalogs = built_in();
        for locale in LOCALES {
            let keys: HashSet<String> = catalogs.keys(locale).into_iter().collect();
            for kind in crate::audit::kinds::ALL {
                let key = crate::audit::kinds::label_key(kind);
                assert!(keys.contains(&key), "{locale}: no {key} for {kind}");
            }
        }
        assert_eq!(
            catalogs.get(
                "en",
                &crate::audit::kinds::label_key("login.succeeded"),
                &[]
            ),
            "Signed in"
        );
    }

    #[test]
    fn every_text_formats_cleanly_without_isolation_marks() {
        let catalogs = built_in();
        for locale in LOCALES {
            for key in catalogs.keys(locale) {
                let bundle = &catalogs.bundles[*locale];
                let pattern = bundle
                    .get_message(&key)
                    .and_then(|m| m.value())
                    .unwrap_or_else(|| panic!("{locale}: {key} has no value"));
                let mut args = FluentArgs::new();
                for (name, value) in all_args() {
                    args.set(name, value);
                }
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{locale}: {key}: {errors:?}");
                assert!(!text.is_empty(), "{locale}: {key}");
                assert!(
                    !text.contains(['\u{2068}', '\u{2069}']),
                    "{locale}: {key}: {text:?}"
                );
            }
        }
        assert_eq!(
            catalogs.get("en", "password-rules", &all_args()),
            "At least 10 characters. Choose something hard to guess, such as several words in a sentence."
        );
    }

    #[test]
    fn plurals_follow_each_language() {
        let catalogs = built_in();
        let validity = |locale: &str, days: i64| {
            catalogs.get(
                locale,
                "email-invite-validity",
                &[("days", FluentValue::from(days))],
            )
        };
        assert_eq!(validity("sv", 1), "Länken gäller i 1 dag.");
        assert_eq!(validity("sv", 7), "Länken gäller i 7 dagar.");
        assert_eq!(validity("en", 1), "The link is valid for 1 day.");
        assert_eq!(validity("en", 7), "The link is valid for 7 days.");
        let minutes = |locale: &str, minutes: i64| {
            catalogs.get(
                locale,
                "email-reset-validity",
                &[("minutes", FluentValue::from(minutes))],
            )
        };
        assert_eq!(minutes("sv", 1), "Länken gäller i 1 minut.");
        assert_eq!(minutes("sv", 60), "Länken gäller i 60 minuter.");
        assert_eq!(minutes("en", 1), "The link is valid for 1 minute.");
        assert_eq!(minutes("en", 60), "The link is valid for 60 minutes.");
        let too_short = |locale: &str, min: i64| {
            catalogs.get(
                locale,
                "password-too-short",
                &[("min", FluentValue::from(min))],
            )
        };
        assert_eq!(
            too_short("sv", 12),
            "Lösenordet är för kort. Det måste ha minst 12 tecken."
        );
        assert_eq!(
            too_short("en", 1),
            "The password is too short. It must have at least 1 character."
        );
        assert_eq!(
            too_short("en", 10),
            "The password is too short. It must have at least 10 characters."
        );
    }
}

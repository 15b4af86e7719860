//! Translations in Fluent syntax (`templates/locales/{sv,en}/*.ftl`). We use the subset our
//! texts need: `key = value` messages, indented continuation lines and `{ $variable }`
//! placeholders; comments start with `#`.

use std::collections::HashMap;

pub const LOCALES: &[&str] = &["sv", "en"];

#[derive(Debug, Default, Clone)]
pub struct Catalogs {
    messages: HashMap<String, HashMap<String, String>>,
}

impl Catalogs {
    pub fn add_ftl(&mut self, locale: &str, source: &str) -> Result<(), String> {
        let catalog = self.messages.entry(locale.to_string()).or_default();
        let mut current: Option<String> = None;
        for (number, line) in source.lines().enumerate() {
            if line.trim_start().starts_with('#') || line.trim().is_empty() {
                current = None;
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                let key = current.as_ref().ok_or_else(|| {
                    format!(
                        "{locale}: line {}: continuation without a message",
                        number + 1
                    )
                })?;
                let text = catalog.get_mut(key).expect("current message exists");
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(line.trim());
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("{locale}: line {}: expected `key = value`", number + 1))?;
            let key = key.trim().to_string();
            catalog.insert(key.clone(), value.trim().to_string());
            current = Some(key);
        }
        Ok(())
    }

    /// The message in `locale`, falling back to Swedish, then to the key itself.
    pub fn get(&self, locale: &str, key: &str, args: &[(&str, String)]) -> String {
        let text = self
            .messages
            .get(locale)
            .and_then(|c| c.get(key))
            .or_else(|| self.messages.get("sv").and_then(|c| c.get(key)))
            .cloned()
            .unwrap_or_else(|| key.to_string());
        args.iter().fold(text, |text, (name, value)| {
            text.replace(&format!("{{ ${name} }}"), value)
        })
    }

    pub fn keys(&self, locale: &str) -> Vec<String> {
        self.messages
            .get(locale)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
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
    fn ftl_subset() {
        let mut c = Catalogs::default();
        c.add_ftl(
            "sv",
            "# comment\nhello = Hej { $name }!\nlong = one\n    two\n",
        )
        .unwrap();
        assert_eq!(
            c.get("sv", "hello", &[("name", "Anna".into())]),
            "Hej Anna!"
        );
        assert_eq!(c.get("en", "long", &[]), "one two");
        assert_eq!(c.get("sv", "missing", &[]), "missing");
    }
}

//! Names people and apps are known by (a user's name, an app's name): shown in pages and put in
//! email headers, so one rule everywhere: not empty, at most 200 characters, and no control
//! characters (a line break in a `To:` display name would otherwise reach the mail library).

/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Why a name is refused. Each names its message in the locale files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("the name must not be empty")]
    Empty,
    #[error("the name must be at most 200 characters")]
    TooLong,
    #[error("the name must not contain line breaks, tabs or other control characters")]
    ControlCharacter,
}

impl NameProblem {
    pub fn message_key(self) -> &'static str {
        match self {
            NameProblem::Empty => "invalid-name",
            NameProblem::TooLong => "name-too-long",
            NameProblem::ControlCharacter => "name-control-characters",
        }
    }
}

/// The name trimmed, or why it cannot be used.
pub fn validate_name(raw: &str) -> Result<String, NameProblem> {
    let name = raw.trim();
    if name.chars().any(char::is_control) {
        return Err(NameProblem::ControlCharacter);
    }
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameProblem::TooLong);
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            validate_name("  Anna Svensson ").as_deref(),
            Ok("Anna Svensson")
        );
        assert_eq!(
            validate_name("Åsa Öberg-Ärlig").as_deref(),
            Ok("Åsa Öberg-Ärlig")
        );
        assert_eq!(validate_name("   "), Err(NameProblem::Empty));
        for bad in [
            "Anna\r\nBcc: x@example.com",
            "Anna\nX",
            "A\tB",
            "A\u{0}B",
            "A\u{7f}",
            "A\u{85}B",
        ] {
            assert_eq!(
                validate_name(bad),
                Err(NameProblem::ControlCharacter),
                "{bad:?}"
            );
        }
        // Whitespace around the name (a line break typed after it) is trimmed, not refused.
        assert_eq!(validate_name("Anna\n").as_deref(), Ok("Anna"));
        assert_eq!(validate_name(&"a".repeat(200)).map(|n| n.len()), Ok(200));
        assert_eq!(validate_name(&"å".repeat(201)), Err(NameProblem::TooLong));
    }

    #[test]
    fn every_message_is_translated() {
        for locale in ["sv", "en"] {
            let ftl = match locale {
                "sv" => include_str!("../../templates/locales/sv/main.ftl"),
                _ => include_str!("../../templates/locales/en/main.ftl"),
            };
            for problem in [
                NameProblem::Empty,
                NameProblem::TooLong,
                NameProblem::ControlCharacter,
            ] {
                assert!(
                    ftl.lines()
                        .any(|l| l.starts_with(&format!("{} =", problem.message_key()))),
                    "{locale}: {}",
                    problem.message_key()
                );
            }
        }
    }
}

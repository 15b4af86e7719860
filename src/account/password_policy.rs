//! What a new password must be: long enough, confirmed, and not guessable (zxcvbn score).

use crate::config::AccountConfig;

/// Checks a new password; the error is a message key for the form.
pub fn check(
    config: &AccountConfig,
    password: &str,
    confirmation: &str,
    personal: &[&str],
) -> Result<(), &'static str> {
    if password.chars().count() < config.min_password_length {
        return Err("password-too-short");
    }
    if password.chars().count() > 1024 {
        return Err("password-too-long");
    }
    if password != confirmation {
        return Err("password-mismatch");
    }
    if strength(password, personal) < config.min_password_score {
        return Err("password-weak");
    }
    Ok(())
}

/// zxcvbn's 0–4 score, with the user's own name and email counted as guessable words.
pub fn strength(password: &str, personal: &[&str]) -> u8 {
    let mut inputs: Vec<String> = Vec::new();
    for value in personal {
        let lower = value.to_lowercase();
        let local = lower.split('@').next().unwrap_or_default().to_string();
        inputs.extend(
            lower
                .split(['@', '.', ' ', '-', '_'])
                .filter(|s| s.len() > 2)
                .map(str::to_string),
        );
        inputs.push(local.replace(['.', '-', '_'], ""));
        inputs.push(local);
        inputs.push(lower.replace(' ', ""));
    }
    inputs.extend(["leasify", "lösenord", "losenord", "password"].map(str::to_string));
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    u8::from(zxcvbn::zxcvbn(password, &inputs).score())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn rules() {
        let config = Config::defaults().account;
        assert_eq!(
            check(&config, "kort", "kort", &[]),
            Err("password-too-short")
        );
        assert_eq!(
            check(
                &config,
                "Blåbärssylt-på-taket-42",
                "Blåbärssylt-på-taket-43",
                &[]
            ),
            Err("password-mismatch")
        );
        assert_eq!(
            check(&config, "leasify123456", "leasify123456", &[]),
            Err("password-weak")
        );
        assert_eq!(
            check(
                &config,
                "anna.svensson1",
                "anna.svensson1",
                &["anna.svensson@example.se"]
            ),
            Err("password-weak")
        );
        assert_eq!(
            check(
                &config,
                "Blåbärssylt-på-taket-42",
                "Blåbärssylt-på-taket-42",
                &[]
            ),
            Ok(())
        );
    }
}

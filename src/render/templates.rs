//! Page and email templates (minijinja). Built-in templates are compiled into the binary; an
//! operator's `templates_dir` overrides any of them, file by file, without rebuilding.

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, State, Value};

use crate::config::Config;

use crate::render::i18n::{Catalogs, FluentValue, LOCALES};

/// Built-in files, by path relative to `templates/`.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "pages/layout.html",
        include_str!("../../templates/pages/layout.html"),
    ),
    (
        "pages/login.html",
        include_str!("../../templates/pages/login.html"),
    ),
    (
        "pages/error.html",
        include_str!("../../templates/pages/error.html"),
    ),
    (
        "pages/form_post.html",
        include_str!("../../templates/pages/form_post.html"),
    ),
    (
        "pages/home.html",
        include_str!("../../templates/pages/home.html"),
    ),
    (
        "pages/account.html",
        include_str!("../../templates/pages/account.html"),
    ),
    (
        "pages/admin/layout.html",
        include_str!("../../templates/pages/admin/layout.html"),
    ),
    (
        "pages/admin/overview.html",
        include_str!("../../templates/pages/admin/overview.html"),
    ),
    (
        "pages/admin/users.html",
        include_str!("../../templates/pages/admin/users.html"),
    ),
    (
        "pages/admin/user.html",
        include_str!("../../templates/pages/admin/user.html"),
    ),
    (
        "pages/admin/invite.html",
        include_str!("../../templates/pages/admin/invite.html"),
    ),
    (
        "pages/admin/keys.html",
        include_str!("../../templates/pages/admin/keys.html"),
    ),
    (
        "pages/admin/audit.html",
        include_str!("../../templates/pages/admin/audit.html"),
    ),
    (
        "pages/admin/bulk_invite.html",
        include_str!("../../templates/pages/admin/bulk_invite.html"),
    ),
    (
        "pages/admin/bulk_batch.html",
        include_str!("../../templates/pages/admin/bulk_batch.html"),
    ),
    (
        "static/bulk_invite.js",
        include_str!("../../templates/static/bulk_invite.js"),
    ),
    (
        "pages/admin/apps.html",
        include_str!("../../templates/pages/admin/apps.html"),
    ),
    (
        "pages/admin/app_new.html",
        include_str!("../../templates/pages/admin/app_new.html"),
    ),
    (
        "pages/admin/app.html",
        include_str!("../../templates/pages/admin/app.html"),
    ),
    (
        "pages/admin/app_form.html",
        include_str!("../../templates/pages/admin/app_form.html"),
    ),
    (
        "pages/admin/app_secret.html",
        include_str!("../../templates/pages/admin/app_secret.html"),
    ),
    (
        "pages/set_password.html",
        include_str!("../../templates/pages/set_password.html"),
    ),
    (
        "pages/forgot_password.html",
        include_str!("../../templates/pages/forgot_password.html"),
    ),
    (
        "pages/link_problem.html",
        include_str!("../../templates/pages/link_problem.html"),
    ),
    (
        "pages/bankid.html",
        include_str!("../../templates/pages/bankid.html"),
    ),
    (
        "pages/dev_bankid.html",
        include_str!("../../templates/pages/dev_bankid.html"),
    ),
    (
        "static/bankid.js",
        include_str!("../../templates/static/bankid.js"),
    ),
    (
        "pages/message.html",
        include_str!("../../templates/pages/message.html"),
    ),
    (
        "pages/logout_confirm.html",
        include_str!("../../templates/pages/logout_confirm.html"),
    ),
    (
        "pages/consent.html",
        include_str!("../../templates/pages/consent.html"),
    ),
    (
        "emails/layout.html",
        include_str!("../../templates/emails/layout.html"),
    ),
    (
        "emails/invite.html",
        include_str!("../../templates/emails/invite.html"),
    ),
    (
        "emails/invite.txt",
        include_str!("../../templates/emails/invite.txt"),
    ),
    (
        "emails/reset.html",
        include_str!("../../templates/emails/reset.html"),
    ),
    (
        "emails/reset.txt",
        include_str!("../../templates/emails/reset.txt"),
    ),
    (
        "emails/password_changed.html",
        include_str!("../../templates/emails/password_changed.html"),
    ),
    (
        "emails/password_changed.txt",
        include_str!("../../templates/emails/password_changed.txt"),
    ),
    (
        "emails/personnummer_removed.html",
        include_str!("../../templates/emails/personnummer_removed.html"),
    ),
    (
        "emails/personnummer_removed.txt",
        include_str!("../../templates/emails/personnummer_removed.txt"),
    ),
    (
        "locales/sv/main.ftl",
        include_str!("../../templates/locales/sv/main.ftl"),
    ),
    (
        "locales/en/main.ftl",
        include_str!("../../templates/locales/en/main.ftl"),
    ),
    (
        "static/style.css",
        include_str!("../../templates/static/style.css"),
    ),
    (
        "static/autosubmit.js",
        include_str!("../../templates/static/autosubmit.js"),
    ),
    (
        "static/copy.js",
        include_str!("../../templates/static/copy.js"),
    ),
    (
        "static/passkey.js",
        include_str!("../../templates/static/passkey.js"),
    ),
];

pub struct Templates {
    env: Environment<'static>,
    catalogs: Arc<Catalogs>,
    override_dir: Option<PathBuf>,
}

fn read_file(override_dir: Option<&PathBuf>, name: &str) -> Option<String> {
    if name.contains("..") {
        return None;
    }
    if let Some(dir) = override_dir
        && let Ok(text) = std::fs::read_to_string(dir.join(name))
    {
        return Some(text);
    }
    BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| text.to_string())
}

/// Where a file comes from, for start-up errors: the operator's file or the built-in one.
fn origin(override_dir: Option<&PathBuf>, name: &str) -> String {
    match override_dir.map(|dir| dir.join(name)) {
        Some(path) if path.is_file() => path.display().to_string(),
        _ => format!("built-in templates/{name}"),
    }
}

/// A template value as a Fluent argument: numbers stay numbers (plural selectors need them);
/// an undefined or none value is left out (Fluent then shows `{$name}` and the gap is logged).
fn fluent_value(value: &Value) -> Option<FluentValue<'static>> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => None,
        ValueKind::Number => Some(match value.as_i64() {
            Some(n) => FluentValue::from(n),
            None => FluentValue::from(f64::try_from(value.clone()).unwrap_or(f64::NAN)),
        }),
        _ => Some(FluentValue::from(value.to_string())),
    }
}

impl Templates {
    pub fn load(config: &Config) -> Result<Templates, String> {
        let override_dir =
            (!config.templates_dir.is_empty()).then(|| PathBuf::from(&config.templates_dir));
        if let Some(dir) = &override_dir
            && !dir.is_dir()
        {
            return Err(format!(
                "templates_dir {} is not a directory",
                dir.display()
            ));
        }
        let mut catalogs = Catalogs::default();
        for locale in LOCALES {
            let name = format!("locales/{locale}/main.ftl");
            let text = read_file(override_dir.as_ref(), &name)
                .ok_or_else(|| format!("{name} is missing"))?;
            catalogs
                .add_ftl(locale, &text)
                .map_err(|e| format!("{}: {e}", origin(override_dir.as_ref(), &name)))?;
        }
        let catalogs = Arc::new(catalogs);
        let mut env = Environment::new();
        let loader_dir = override_dir.clone();
        env.set_loader(move |name| Ok(read_file(loader_dir.as_ref(), name)));
        let for_t = catalogs.clone();
        // `t("key")`, or with variables: `t("email-invite-validity", days=invite_days)`.
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let lang = state
                    .lookup("lang")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "sv".into());
                let mut args = Vec::new();
                for name in kwargs.args() {
                    if let Some(value) = fluent_value(&kwargs.get::<Value>(name)?) {
                        args.push((name, value));
                    }
                }
                Ok(for_t.get(&lang, key, &args))
            },
        );
        // `kind|event_key`: the key of an audit event kind's readable name, for `t`.
        env.add_filter("event_key", |kind: &str| {
            crate::audit::kinds::label_key(kind)
        });
        let templates = Templates {
            env,
            catalogs,
            override_dir,
        };
        // Fail at start, not on the first visitor, if an override does not parse.
        let pages = BUILT_IN
            .iter()
            .map(|(name, _)| *name)
            .filter(|n| n.ends_with(".html") || n.ends_with(".txt"));
        for name in pages {
            templates
                .env
                .get_template(name)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(templates)
    }

    pub fn render(&self, name: &str, context: Value) -> Result<String, String> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| format!("{name}: {e:#}"))?;
        template
            .render(context)
            .map_err(|e| format!("{name}: {e:#}"))
    }

    pub fn text(&self, lang: &str, key: &str) -> String {
        self.catalogs.get(lang, key, &[])
    }

    /// A text with numbers in it (`{ $name }` in the catalog).
    pub fn text_with_numbers(&self, lang: &str, key: &str, numbers: &[(&str, i64)]) -> String {
        let args: Vec<(&str, FluentValue<'_>)> = numbers
            .iter()
            .map(|&(name, n)| (name, FluentValue::from(n)))
            .collect();
        self.catalogs.get(lang, key, &args)
    }

    pub fn static_file(&self, name: &str) -> Option<String> {
        read_file(self.override_dir.as_ref(), &format!("static/{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_directory_overrides_files_one_by_one() {
        let dir = std::env::temp_dir().join(format!(
            "leasify-templates-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(dir.join("locales/sv")).expect("dir");
        std::fs::create_dir_all(dir.join("static")).expect("dir");
        let swedish = read_file(None, "locales/sv/main.ftl").expect("built-in");
        std::fs::write(
            dir.join("locales/sv/main.ftl"),
            swedish.replace("product-name = Leasify ID", "product-name = Kund-ID"),
        )
        .expect("write");
        std::fs::write(dir.join("static/style.css"), ":root { --brand: #123456; }").expect("write");
        let mut config = Config::defaults();
        config.templates_dir = dir.display().to_string();
        let templates = Templates::load(&config).expect("templates load");
        assert_eq!(templates.text("sv", "product-name"), "Kund-ID");
        assert_eq!(
            templates.text("en", "product-name"),
            "Leasify ID",
            "files not overridden stay built in"
        );
        assert!(
            templates
                .static_file("style.css")
                .expect("css")
                .contains("#123456")
        );
        assert!(templates.static_file("autosubmit.js").is_some());
        // A broken override stops the start instead of failing the first visitor.
        std::fs::create_dir_all(dir.join("pages")).expect("dir");
        std::fs::write(dir.join("pages/login.html"), "{% if %}").expect("write");
        assert!(Templates::load(&config).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_broken_translation_file_stops_the_start_naming_file_and_line() {
        let dir = std::env::temp_dir().join(format!(
            "leasify-templates-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(dir.join("locales/en")).expect("dir");
        let path = dir.join("locales/en/main.ftl");
        std::fs::write(&path, "product-name = Leasify ID\n\nnot a message\n").expect("write");
        let mut config = Config::defaults();
        config.templates_dir = dir.display().to_string();
        let error = Templates::load(&config).err().expect("refused");
        assert!(
            error.starts_with(&format!("{}: line 3: ", path.display())),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn templates_pass_numbers_so_plurals_are_chosen() {
        let templates = Templates::load(&Config::defaults()).expect("templates load");
        let invite = |lang: &str, days: i64| {
            templates
                .render(
                    "emails/invite.txt",
                    minijinja::context! { lang => lang, name => "Anna", invite_days => days },
                )
                .expect("render")
        };
        for (lang, days, line) in [
            (
                "sv",
                1,
                "Länken gäller i 1 dag. Den kan bara användas en gång.",
            ),
            (
                "sv",
                7,
                "Länken gäller i 7 dagar. Den kan bara användas en gång.",
            ),
            (
                "en",
                1,
                "The link is valid for 1 day. It can only be used once.",
            ),
            (
                "en",
                7,
                "The link is valid for 7 days. It can only be used once.",
            ),
        ] {
            let text = invite(lang, days);
            assert!(text.contains(line), "{lang} {days}: {text}");
            assert!(!text.contains(['\u{2068}', '\u{2069}']), "{text:?}");
        }
        let reset = templates
            .render(
                "emails/reset.html",
                minijinja::context! { lang => "sv", name => "Anna", reset_minutes => 60 },
            )
            .expect("render");
        assert!(
            reset.contains("<p>Länken gäller i 60 minuter. Den kan bara användas en gång.</p>")
        );
        let page = templates
            .render(
                "pages/set_password.html",
                minijinja::context! {
                    lang => "en", min_length => 12, error_key => "password-too-short",
                    heading_key => "set-password-reset-title",
                },
            )
            .expect("render");
        assert!(page.contains("At least 12 characters."), "{page}");
        assert!(
            page.contains("It must have at least 12 characters."),
            "{page}"
        );
    }
}

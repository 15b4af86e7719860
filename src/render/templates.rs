//! Page and email templates (minijinja). Built-in templates are compiled into the binary; an
//! operator's `templates_dir` overrides any of them, file by file, without rebuilding.

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::{Environment, State, Value};

use crate::config::Config;

use crate::render::i18n::{Catalogs, LOCALES};

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
            catalogs.add_ftl(locale, &text)?;
        }
        let catalogs = Arc::new(catalogs);
        let mut env = Environment::new();
        let loader_dir = override_dir.clone();
        env.set_loader(move |name| Ok(read_file(loader_dir.as_ref(), name)));
        let for_t = catalogs.clone();
        env.add_function("t", move |state: &State, key: &str| -> String {
            let lang = state
                .lookup("lang")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "sv".into());
            for_t.get(&lang, key, &[])
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
}

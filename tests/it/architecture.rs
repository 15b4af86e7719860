//! The layering of `src/` (docs/architecture.md), checked on the source: every `crate::` path
//! points to a lower layer, and the protocol and domain modules never name the web framework.
//! Unit tests (`tests.rs`, `tests/`, `suite/`, `testkit.rs`, `#[cfg(test)]` tails) may reach
//! anywhere and are not checked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level modules, lowest layer first. A module may use only modules of lower layers.
const LAYERS: &[&[&str]] = &[
    &["clock", "private_files", "telemetry"],
    &["crypto", "tls"],
    &["config", "store"],
    &["audit"],
    &["keys", "mail", "render", "bankid"],
    &["error"],
    &["state"],
    &["identity", "jobs"],
    &["login"],
    &["account", "oidc"],
    &["admin"],
    // The background job worker performs domain work, a bulk invitation among it.
    &["workers"],
    &["web"],
    &["server"],
    &["cli"],
];

/// Modules that must not depend on axum or HTTP extractors: handlers parse, call, render.
const FRAMEWORK_FREE: &[&str] = &[
    "account",
    "admin",
    "audit",
    "clock",
    "config",
    "crypto",
    "error",
    "identity",
    "jobs",
    "keys",
    "login",
    "mail",
    "oidc",
    "render",
    "state",
    "store",
    "telemetry",
    "workers",
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Production source files under `dir`, with their top-level module.
fn production_files(src: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src is readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "tests" && name != "suite" {
                production_files(src, &path, out);
            }
            continue;
        }
        if !name.ends_with(".rs") || ["tests.rs", "testkit.rs", "lib.rs", "main.rs"].contains(&name)
        {
            continue;
        }
        let relative = path.strip_prefix(src).expect("under src");
        let first = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default();
        let module = first.trim_end_matches(".rs").to_string();
        out.push((module, path));
    }
}

/// The source without its `#[cfg(test)]` tail (unit tests sit at the end of a file here).
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// The modules named as `crate::<module>` in `text`, with the line they appear on.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((number + 1, name));
            }
            rest = after;
        }
    }
    found
}

#[test]
fn every_module_uses_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    production_files(&src, &src, &mut files);
    assert!(
        files.len() > 50,
        "found the sources ({} files)",
        files.len()
    );
    let mut problems = Vec::new();
    let mut modules = BTreeSet::new();
    for (module, path) in &files {
        modules.insert(module.clone());
        let Some(own) = layer_of(module) else {
            problems.push(format!("{module} ({}) is in no layer", path.display()));
            continue;
        };
        let text = std::fs::read_to_string(path).expect("readable");
        for (line, used) in crate_paths(without_tests(&text)) {
            if used == *module {
                continue;
            }
            match layer_of(&used) {
                Some(theirs) if theirs < own => {}
                _ => problems.push(format!(
                    "{}:{line}: {module} uses crate::{used}, which is not below it",
                    path.display()
                )),
            }
        }
    }
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter())
        .map(|m| m.to_string())
        .collect();
    for stale in listed.difference(&modules) {
        problems.push(format!(
            "the layer list names {stale}, which does not exist"
        ));
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn protocol_and_domain_code_does_not_know_the_web_framework() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    production_files(&src, &src, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|(module, _)| FRAMEWORK_FREE.contains(&module.as_str()))
        .filter(|(_, path)| {
            let text = std::fs::read_to_string(path).expect("readable");
            let code = without_tests(&text);
            code.contains("axum::") || code.contains("use axum") || code.contains("http::Request")
        })
        .map(|(_, path)| path.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files use the web framework; move the HTTP part to src/web:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_checker_sees_a_violation() {
    let text = "use crate::web::pages;\n// crate::cli in a comment\nfn f() { crate::store::x() }";
    let used: Vec<(usize, String)> = crate_paths(text);
    assert_eq!(used, [(1, "web".to_string()), (3, "store".to_string())]);
    assert!(layer_of("web") > layer_of("oidc"));
    assert_eq!(
        without_tests("a\n#[cfg(test)]\nmod tests { crate::cli }"),
        "a\n"
    );
}

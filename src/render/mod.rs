//! Rendering for people: the page and email templates (minijinja, embedded, overridable from
//! `templates_dir`) and their texts in Swedish and English (Fluent files). Below the web layer:
//! the core renders emails with it, the web layer renders pages.

pub mod activity;
pub mod i18n;
pub mod svg_chart;
pub mod templates;

pub use templates::Templates;

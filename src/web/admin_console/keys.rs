//! The console's signing keys: which key signs now, which is next and which are retiring, with
//! their dates, and rotating them (confirmed with a checkbox).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::admin::keys;
use crate::admin::roles::Area;
use crate::keys::KeyInfo;
use crate::render::activity::swedish_time;
use crate::state::AppState;

use super::super::errors::WebError;
use super::super::extract::Lang;
use super::super::pages::redirect_see_other;
use super::gate::{Console, ConsoleForm};
use super::{ConsolePage, Section, with_notice};

pub const PATH: &str = "/admin/keys";

#[derive(Debug, Deserialize)]
pub struct KeysQuery {
    notice: Option<String>,
}

/// A notice after a rotation (`?notice=`), as its text key and whether it reports a problem.
fn notice(value: Option<&str>) -> (Option<&'static str>, bool) {
    match value {
        Some("rotated") => (Some("console-notice-keys-rotated"), false),
        Some("confirm-first") => (Some("console-problem-keys-confirm"), true),
        _ => (None, false),
    }
}

/// What the console calls a key's status: `active`, `next`, `retiring` or `retired`.
pub(super) fn shown_status(key: &KeyInfo) -> &'static str {
    // A key that signs now but has a retirement date is on its way out.
    match key.status {
        "signing" if key.retired_at.is_some() => "retiring",
        "signing" => "active",
        "next" => "next",
        _ => "retired",
    }
}

pub(super) fn key_row(key: &KeyInfo, now: i64) -> Value {
    context! {
        kid => key.kid.clone(),
        alg => key.alg.clone(),
        status => shown_status(key),
        created => swedish_time(key.created_at),
        active_from => swedish_time(key.active_from),
        starts_later => key.active_from > now,
        retired => key.retired_at.map(swedish_time),
        unpublish => key.unpublish_at.map(swedish_time),
    }
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<KeysQuery>,
) -> Result<Response, WebError> {
    console.require(Area::Keys)?;
    let lang = lang.for_user(None, &console.active);
    let list = keys::list(&state)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    let now = state.clock.now();
    let (notice_key, notice_is_problem) = notice(query.notice.as_deref());
    let extra = context! {
        keys => list.iter().map(|k| key_row(k, now)).collect::<Vec<_>>(),
        // Rounded up: "in 0 hours" only when it is at once.
        publish_ahead_hours => (state.config.keys.publish_ahead + 3599) / 3600,
        notice_key => notice_key,
        notice_is_problem => notice_is_problem,
    };
    Ok(ConsolePage {
        console: &console,
        lang,
        section: Section::Keys,
        self_path: PATH,
        template: "pages/admin/keys.html",
        status: StatusCode::OK,
    }
    .render(&state, &headers, extra))
}

/// Publishes new keys, once the box saying so is ticked; audited with the person as actor.
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    form.console.require(Area::Keys)?;
    let lang = lang.for_user(form.lang(), &form.console.active);
    if form.get("confirm") != Some("yes") {
        return Ok(redirect_see_other(&with_notice(
            PATH,
            "confirm-first",
            lang,
        )));
    }
    keys::rotate(&state, &form.console.caller())
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    Ok(redirect_see_other(&with_notice(PATH, "rotated", lang)))
}

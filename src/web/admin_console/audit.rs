//! The console's audit trail: a table filtered by user (id or email), app, event type and a
//! range of days, in pages, and the same selection as CSV.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;
use time::{
    Date, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description,
};

use crate::admin::audit_trail::{self, AuditEventView, AuditFilter};
use crate::admin::pages::MAX_LIMIT;
use crate::admin::roles::Area;
use crate::admin::{AdminError, csv, users};
use crate::audit::kinds;
use crate::render::activity::{sweden_offset_secs, swedish_time};
use crate::state::AppState;

use super::super::errors::WebError;
use super::super::extract::Lang;
use super::gate::Console;
use super::{ConsolePage, Section};

pub const PATH: &str = "/admin/audit";

/// Events on one page of the table.
const PAGE_SIZE: i64 = 50;
/// Most events in one export.
const EXPORT_MAX: usize = 10_000;

/// The filters as they come in the address; empty fields mean no filter.
#[derive(Debug, Default, Deserialize)]
pub struct AuditParams {
    user: Option<String>,
    client: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl AuditParams {
    /// The filters as a query string (without the cursor), to carry them to other pages.
    fn query(&self) -> url::form_urlencoded::Serializer<'static, String> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("user", &self.user),
            ("client", &self.client),
            ("type", &self.kind),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(value) = given(value) {
                query.append_pair(name, value);
            }
        }
        query
    }
}

/// Midnight at the start of `date` in Sweden, in Unix seconds.
fn swedish_midnight(date: Date) -> i64 {
    let utc = date.midnight().assume_utc().unix_timestamp();
    utc - sweden_offset_secs(utc)
}

fn parse_date(value: &str) -> Option<Date> {
    Date::parse(value, format_description!("[year]-[month]-[day]")).ok()
}

/// What the filters ask for; `None` when they name a user by an email nobody has (nothing to
/// show); an error names the field that is wrong.
async fn filter(
    state: &AppState,
    params: &AuditParams,
) -> Result<Option<AuditFilter>, &'static str> {
    let user_id = match given(&params.user) {
        None => None,
        Some(user) if user.contains('@') => match users::find(state, user).await {
            Ok(found) => Some(found.id),
            Err(AdminError::NotFound(_)) => return Ok(None),
            Err(_) => return Err("user"),
        },
        Some(user) => Some(user.to_string()),
    };
    let kind = given(&params.kind).map(str::to_string);
    if kind
        .as_deref()
        .is_some_and(|kind| !kinds::ALL.contains(&kind))
    {
        return Err("type");
    }
    let from = match given(&params.from) {
        None => None,
        Some(raw) => Some(swedish_midnight(parse_date(raw).ok_or("from")?)),
    };
    let until = match given(&params.to) {
        None => None,
        // The whole of the last day.
        Some(raw) => Some(swedish_midnight(
            parse_date(raw).and_then(Date::next_day).ok_or("to")?,
        )),
    };
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        return Err("to");
    }
    Ok(Some(AuditFilter {
        user_id,
        client_id: given(&params.client).map(str::to_string),
        kind,
        from,
        until,
        cursor: given(&params.cursor).map(str::to_string),
        limit: None,
    }))
}

fn event_row(event: &AuditEventView) -> minijinja::Value {
    context! {
        when => swedish_time(event.at),
        kind => event.kind.clone(),
        actor => event.actor_type.clone(),
        actor_id => event.actor_id.clone(),
        user_id => event.user_id.clone(),
        user_href => event.user_id.as_deref().map(super::users::user_path),
        client_id => event.client_id.clone(),
        ip => event.ip.clone(),
        failed => event.result != "success",
    }
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
    Query(params): Query<AuditParams>,
) -> Result<Response, WebError> {
    console.require(Area::Audit)?;
    let lang = lang.for_user(None, &console.active);
    let (events, next_cursor, problem) = match filter(&state, &params).await {
        Ok(Some(filter)) => {
            let filter = AuditFilter {
                limit: Some(PAGE_SIZE),
                ..filter
            };
            match audit_trail::query(&state, filter).await {
                Ok(page) => (page.items, page.next_cursor, None),
                Err(AdminError::Invalid(_)) => (vec![], None, Some("cursor")),
                Err(e) => return Err(WebError::from(e).in_lang(lang)),
            }
        }
        Ok(None) => (vec![], None, None),
        Err(field) => (vec![], None, Some(field)),
    };
    let filters = params.query().finish();
    let with_lang = |mut query: url::form_urlencoded::Serializer<'static, String>| {
        query.append_pair("lang", lang);
        query.finish()
    };
    let next_href = next_cursor.as_ref().map(|cursor| {
        let mut query = params.query();
        query.append_pair("cursor", cursor);
        format!("{PATH}?{}", with_lang(query))
    });
    let first_href = given(&params.cursor).map(|_| format!("{PATH}?{}", with_lang(params.query())));
    let csv_href = format!("{PATH}.csv?{}", params.query().finish());
    let self_path = match given(&params.cursor) {
        Some(cursor) => {
            let mut query = params.query();
            query.append_pair("cursor", cursor);
            format!("{PATH}?{}", query.finish())
        }
        None => format!("{PATH}?{filters}"),
    };
    let extra = context! {
        user => given(&params.user).unwrap_or_default(),
        client => given(&params.client).unwrap_or_default(),
        kind => given(&params.kind).unwrap_or_default(),
        from => given(&params.from).unwrap_or_default(),
        to => given(&params.to).unwrap_or_default(),
        kinds => kinds::ALL,
        filtered => !filters.is_empty(),
        problem => problem,
        events => events.iter().map(event_row).collect::<Vec<_>>(),
        next_href => next_href,
        first_href => first_href,
        csv_href => csv_href,
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(ConsolePage {
        console: &console,
        lang,
        section: Section::Audit,
        self_path: &self_path,
        template: "pages/admin/audit.html",
        status,
    }
    .render(&state, &headers, extra))
}

/// The columns of the export.
const HEADER: [&str; 11] = [
    "id",
    "time_utc",
    "type",
    "result",
    "actor_type",
    "actor_id",
    "user_id",
    "client_id",
    "ip",
    "user_agent",
    "details",
];

fn csv_row(event: &AuditEventView) -> Vec<String> {
    let time = OffsetDateTime::from_unix_timestamp(event.at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let details = if event.details.is_null() {
        String::new()
    } else {
        event.details.to_string()
    };
    vec![
        event.id.clone(),
        time,
        event.kind.clone(),
        event.result.clone(),
        event.actor_type.clone(),
        event.actor_id.clone().unwrap_or_default(),
        event.user_id.clone().unwrap_or_default(),
        event.client_id.clone().unwrap_or_default(),
        event.ip.clone().unwrap_or_default(),
        event.user_agent.clone().unwrap_or_default(),
        details,
    ]
}

/// The filtered events, newest first, as CSV (at most [`EXPORT_MAX`]).
pub async fn export(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    Query(params): Query<AuditParams>,
) -> Result<Response, WebError> {
    console.require(Area::Audit)?;
    let lang = lang.for_user(None, &console.active);
    let bad_request = || WebError::page(crate::oidc::PageError::BadRequest).in_lang(lang);
    let mut rows = vec![HEADER.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    if let Some(mut filter) = filter(&state, &params).await.map_err(|_| bad_request())? {
        filter.limit = Some(MAX_LIMIT);
        loop {
            let page = audit_trail::query(&state, filter.clone())
                .await
                .map_err(|e| match e {
                    AdminError::Invalid(_) => bad_request(),
                    other => WebError::from(other).in_lang(lang),
                })?;
            rows.extend(page.items.iter().map(csv_row));
            match page.next_cursor {
                Some(cursor) if rows.len() <= EXPORT_MAX => filter.cursor = Some(cursor),
                _ => break,
            }
        }
    }
    rows.truncate(EXPORT_MAX + 1);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leasify-audit.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        csv::write(rows),
    )
        .into_response())
}

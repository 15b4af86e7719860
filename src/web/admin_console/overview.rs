//! The console's front page: the logins of the last seven days as a chart (with its numbers in a
//! table), the email and back-channel queues with their failed items and a retry for each, and,
//! for administrators, which signing keys sign now and next.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::admin::roles::Area;
use crate::admin::{AdminError, activity_chart, keys, work_queues};
use crate::clock::UnixTime;
use crate::render::activity::swedish_time;
use crate::render::svg_chart::{HourlyChart, Series};
use crate::state::AppState;
use crate::store::{HourlyLogins, QueueStats};

use super::super::errors::WebError;
use super::super::extract::Lang;
use super::super::pages::redirect_see_other;
use super::gate::{Console, ConsoleForm};
use super::keys::{key_row, shown_status};
use super::{ConsolePage, Section, with_notice};

pub const PATH: &str = "/admin";

#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    notice: Option<String>,
}

/// A notice after a retry (`?notice=`), as its text key and whether it reports a problem.
fn notice(value: Option<&str>) -> (Option<&'static str>, bool) {
    match value {
        Some("email-retried") => (Some("console-notice-email-retried"), false),
        Some("backchannel-retried") => (Some("console-notice-backchannel-retried"), false),
        Some("not-failed") => (Some("console-problem-not-failed"), true),
        _ => (None, false),
    }
}

/// How long ago `then` was, in the largest whole unit that reads well: (text key, number).
fn age(now: UnixTime, then: UnixTime) -> (&'static str, i64) {
    let minutes = (now - then).max(0) / 60;
    if minutes == 0 {
        ("console-overview-age-now", 0)
    } else if minutes < 120 {
        ("console-overview-age-minutes", minutes)
    } else if minutes < 48 * 60 {
        ("console-overview-age-hours", minutes / 60)
    } else {
        ("console-overview-age-days", minutes / (24 * 60))
    }
}

fn stats_view(stats: &QueueStats, now: UnixTime) -> Value {
    let oldest = stats.oldest_pending_at.map(|at| {
        let (age_key, age_n) = age(now, at);
        context! { when => swedish_time(at), age_key => age_key, age_n => age_n }
    });
    context! {
        pending => stats.pending,
        given_up => stats.given_up,
        oldest => oldest,
    }
}

/// A path segment for an item's id (ours, but kept safe in a URL all the same).
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn chart_svg(state: &AppState, lang: &str, hours: &[HourlyLogins]) -> String {
    let series = [
        Series {
            class: "password",
            values: hours.iter().map(|h| h.password).collect(),
        },
        Series {
            class: "bankid",
            values: hours.iter().map(|h| h.bankid).collect(),
        },
        Series {
            class: "failed",
            values: hours.iter().map(|h| h.failed).collect(),
        },
    ];
    let title = state.templates.text(lang, "console-overview-logins");
    let description = state
        .templates
        .text(lang, "console-overview-chart-description");
    HourlyChart {
        id: "logins-chart",
        title: &title,
        description: &description,
        start: hours.first().map_or(0, |h| h.hour),
        series: &series,
    }
    .render()
}

async fn logins(state: &AppState, lang: &str) -> Result<Value, AdminError> {
    let hours = activity_chart::last_week(state).await?;
    let rows: Vec<Value> = hours
        .iter()
        .filter(|h| h.password + h.bankid + h.failed > 0)
        .map(|h| {
            context! {
                when => swedish_time(h.hour),
                password => h.password,
                bankid => h.bankid,
                failed => h.failed,
            }
        })
        .collect();
    let total = activity_chart::total(&hours);
    Ok(context! {
        svg => chart_svg(state, lang, &hours),
        rows => rows,
        password => total.password,
        bankid => total.bankid,
        failed => total.failed,
    })
}

async fn outbox(state: &AppState, now: UnixTime) -> Result<Value, AdminError> {
    let queue = work_queues::outbox(state).await?;
    let failed: Vec<Value> = queue
        .failed
        .iter()
        .map(|email| {
            context! {
                action => format!("/admin/outbox/{}/retry", segment(&email.id)),
                to => email.recipient.clone(),
                kind => email.kind.clone(),
                attempts => email.attempts,
                error => email.last_error.clone(),
                queued => swedish_time(email.created_at),
                can_retry => work_queues::can_retry(email),
            }
        })
        .collect();
    Ok(context! {
        stats => stats_view(&queue.stats, now),
        failed => failed,
        more => queue.stats.given_up > queue.failed.len() as i64,
    })
}

async fn backchannel(state: &AppState, now: UnixTime) -> Result<Value, AdminError> {
    let queue = work_queues::backchannel(state).await?;
    let mut failed = Vec::new();
    for delivery in &queue.failed {
        let client_name = state
            .store
            .client_by_id(&delivery.client_id)
            .await?
            .map(|c| c.name);
        failed.push(context! {
            action => format!("/admin/backchannel/{}/retry", segment(&delivery.id)),
            client_id => delivery.client_id.clone(),
            client_name => client_name,
            uri => delivery.uri.clone(),
            attempts => delivery.attempts,
            error => delivery.last_error.clone(),
            queued => swedish_time(delivery.created_at),
        });
    }
    Ok(context! {
        stats => stats_view(&queue.stats, now),
        failed => failed,
        more => queue.stats.given_up > queue.failed.len() as i64,
    })
}

/// The keys by what they do now: signing, next, on their way out.
async fn key_status(state: &AppState, now: UnixTime) -> Result<Vec<Value>, AdminError> {
    let mut list = keys::list(state).await?;
    let order = |status| match status {
        "active" => 0,
        "next" => 1,
        "retiring" => 2,
        _ => 3,
    };
    list.sort_by_key(|key| order(shown_status(key)));
    Ok(list.iter().map(|key| key_row(key, now)).collect())
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<OverviewQuery>,
) -> Result<Response, WebError> {
    let lang = lang.for_user(None, &console.active);
    let now = state.clock.now();
    let in_lang = |e: AdminError| WebError::from(e).in_lang(lang);
    let logins = logins(&state, lang).await.map_err(in_lang)?;
    let outbox = outbox(&state, now).await.map_err(in_lang)?;
    let backchannel = backchannel(&state, now).await.map_err(in_lang)?;
    let keys = if console.role.may(Area::Keys) {
        Some(key_status(&state, now).await.map_err(in_lang)?)
    } else {
        None
    };
    let (notice_key, notice_is_problem) = notice(query.notice.as_deref());
    let extra = context! {
        logins => logins,
        outbox => outbox,
        backchannel => backchannel,
        may_retry_email => console.role.may(Area::Users),
        may_retry_backchannel => console.role.may(Area::Clients),
        keys => keys,
        notice_key => notice_key,
        notice_is_problem => notice_is_problem,
    };
    Ok(ConsolePage {
        console: &console,
        lang,
        section: Section::Overview,
        self_path: PATH,
        template: "pages/admin/overview.html",
        status: StatusCode::OK,
    }
    .render(&state, &headers, extra))
}

/// Back to the overview with the outcome of a retry: done, or the item was not failed (any
/// more): another administrator retried it, or the page was old.
fn after_retry(
    outcome: Result<(), AdminError>,
    done: &str,
    lang: &'static str,
) -> Result<Response, WebError> {
    let notice = match outcome {
        Ok(()) => done,
        Err(AdminError::NotFound(_)) => "not-failed",
        Err(e) => return Err(WebError::from(e).in_lang(lang)),
    };
    Ok(redirect_see_other(&with_notice(PATH, notice, lang)))
}

/// Sends a failed email again; support may, since emails go to customers.
pub async fn retry_email(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    form.console.require(Area::Users)?;
    let lang = lang.for_user(form.lang(), &form.console.active);
    let outcome = work_queues::retry_email(&state, &form.console.caller(), &id).await;
    after_retry(outcome, "email-retried", lang)
}

/// Delivers a failed logout token again; only for those who may manage apps.
pub async fn retry_backchannel(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    form.console.require(Area::Clients)?;
    let lang = lang.for_user(form.lang(), &form.console.active);
    let outcome = work_queues::retry_backchannel(&state, &form.console.caller(), &id).await;
    after_retry(outcome, "backchannel-retried", lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_minutes_then_hours_then_days() {
        assert_eq!(age(1000, 1000), ("console-overview-age-now", 0));
        // A queue row from another instance whose clock is a little ahead.
        assert_eq!(age(1000, 2000), ("console-overview-age-now", 0));
        assert_eq!(age(1059, 999), ("console-overview-age-minutes", 1));
        assert_eq!(age(119 * 60, 0), ("console-overview-age-minutes", 119));
        assert_eq!(age(120 * 60, 0), ("console-overview-age-hours", 2));
        assert_eq!(age(48 * 3600 - 1, 0), ("console-overview-age-hours", 47));
        assert_eq!(age(50 * 3600, 0), ("console-overview-age-days", 2));
    }
}

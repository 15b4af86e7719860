//! "Bjud in från fil": a CSV file of customers uploaded, previewed with each refused row and why,
//! then invited by a background job while the page follows its progress, and a report to
//! download at the end. The work is `crate::admin::bulk_invite`'s.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use minijinja::{Value, context};

use crate::admin::AdminError;
use crate::admin::bulk_invite::{self, BatchStatus, FileProblem, MAX_UPLOAD_BYTES, UploadError};
use crate::admin::roles::Area;
use crate::render::activity::swedish_time;
use crate::state::AppState;
use crate::store::InviteBatchRow;

use super::super::errors::WebError;
use super::super::extract::Lang;
use super::super::pages::redirect_see_other;
use super::gate::{Console, ConsoleForm, ConsoleUpload, UploadedFile};
use super::{ConsolePage, Section, with_notice};

pub const PATH: &str = "/admin/invite/bulk";
const UPLOAD_PATH: &str = "/admin/invite/bulk/upload";
/// Batches listed under the upload form.
const RECENT: i64 = 10;
/// Rows to be invited shown in a preview (all refused rows are shown).
const PREVIEW_ROWS: usize = 10;

/// What an upload request may be at all: a file over [`MAX_UPLOAD_BYTES`] up to this size is
/// read to its end and answered with a page that says it is too large; past it the connection
/// is cut.
const UPLOAD_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The upload, outside the site-wide body limit.
pub fn upload_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(UPLOAD_PATH, post(upload).fallback(super::unknown))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
}

fn batch_path(id: &str) -> String {
    format!("{PATH}/{id}")
}

fn render_form(
    state: &AppState,
    headers: &HeaderMap,
    console: &Console,
    lang: &'static str,
    status: StatusCode,
    recent: Vec<Value>,
    problem: Option<FileProblem>,
) -> Response {
    let extra = context! {
        recent => recent,
        max_rows => bulk_invite::MAX_ROWS,
        max_megabytes => MAX_UPLOAD_BYTES / (1024 * 1024),
        problem_key => problem.map(FileProblem::text_key),
        problem_line => problem.and_then(FileProblem::line),
    };
    ConsolePage {
        console,
        lang,
        section: Section::Invite,
        self_path: PATH,
        template: "pages/admin/bulk_invite.html",
        status,
    }
    .render(state, headers, extra)
}

async fn recent_batches(state: &AppState) -> Result<Vec<Value>, WebError> {
    let batches = state
        .store
        .recent_invite_batches(RECENT)
        .await
        .map_err(|e| WebError::from(AdminError::from(e)))?;
    Ok(batches
        .into_iter()
        .map(|b| {
            context! {
                href => batch_path(&b.id),
                file_name => b.file_name,
                status => b.status,
                uploaded => swedish_time(b.created_at),
            }
        })
        .collect())
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    console.require(Area::Users)?;
    let lang = lang.for_user(None, &console.active);
    let recent = recent_batches(&state).await.map_err(|e| e.in_lang(lang))?;
    Ok(render_form(
        &state,
        &headers,
        &console,
        lang,
        StatusCode::OK,
        recent,
        None,
    ))
}

pub async fn upload(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    upload: ConsoleUpload,
) -> Result<Response, WebError> {
    let console = &upload.form.console;
    console.require(Area::Users)?;
    let lang = lang.for_user(upload.form.lang(), &console.active);
    let uploaded = match &upload.file {
        UploadedFile::Missing => Err(UploadError::File(FileProblem::Unreadable(
            crate::admin::csv::ReadProblem::Empty,
        ))),
        UploadedFile::TooLarge => Err(UploadError::File(FileProblem::TooLarge)),
        UploadedFile::Read(bytes) => {
            bulk_invite::upload(&state, &console.active.user.id, &upload.file_name, bytes).await
        }
    };
    let problem = match uploaded {
        Ok(id) => {
            return Ok(redirect_see_other(&format!(
                "{}?lang={lang}",
                batch_path(&id)
            )));
        }
        Err(UploadError::File(problem)) => problem,
        Err(UploadError::Admin(e)) => return Err(WebError::from(e).in_lang(lang)),
    };
    let status = match problem {
        FileProblem::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let recent = recent_batches(&state).await.map_err(|e| e.in_lang(lang))?;
    Ok(render_form(
        &state,
        &headers,
        console,
        lang,
        status,
        recent,
        Some(problem),
    ))
}

/// A row as its table shows it; the reason's text key (with the line a duplicate repeats).
fn row_view(row: &InviteBatchRow) -> Value {
    context! {
        line => row.line,
        email => row.email.clone(),
        name => row.name.clone(),
        locale => row.locale.clone(),
        outcome => row.outcome.clone(),
        reason_key => row.problem.as_ref().map(|p| format!("console-bulk-reason-{p}")),
        duplicate_of => row.problem_line,
    }
}

async fn batch_status(
    state: &AppState,
    id: &str,
    lang: &'static str,
) -> Result<BatchStatus, WebError> {
    bulk_invite::status(state, id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))
}

fn notice(value: Option<&str>) -> (Option<&'static str>, bool) {
    match value {
        Some("started") => (Some("console-bulk-notice-started"), false),
        Some("already-started") => (Some("console-bulk-notice-already-started"), true),
        _ => (None, false),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct BatchQuery {
    notice: Option<String>,
}

pub async fn batch_page(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<BatchQuery>,
) -> Result<Response, WebError> {
    console.require(Area::Users)?;
    let lang = lang.for_user(None, &console.active);
    let status = batch_status(&state, &id, lang).await?;
    let rows = state
        .store
        .invite_batch_rows(&id)
        .await
        .map_err(|e| WebError::from(AdminError::from(e)).in_lang(lang))?;
    let refused: Vec<Value> = rows
        .iter()
        .filter(|r| r.outcome == "refused")
        .map(row_view)
        .collect();
    let to_invite: Vec<Value> = rows
        .iter()
        .filter(|r| r.outcome == "pending")
        .take(PREVIEW_ROWS)
        .map(row_view)
        .collect();
    let counts = status.counts;
    let (notice_key, notice_is_problem) = notice(query.notice.as_deref());
    let path = batch_path(&id);
    let extra = context! {
        batch_id => id.clone(),
        batch_path => path.clone(),
        file_name => status.batch.file_name.clone(),
        batch_status => status.batch.status.clone(),
        uploaded => swedish_time(status.batch.created_at),
        finished => status.batch.finished_at.map(swedish_time),
        total => counts.total(),
        pending => counts.pending,
        created => counts.created,
        existed => counts.existed,
        refused_count => counts.refused,
        existing => status.existing,
        new_accounts => counts.pending - status.existing,
        percent => status.percent(),
        refused => refused,
        to_invite => to_invite,
        more_to_invite => (counts.pending as usize).saturating_sub(PREVIEW_ROWS),
        progress_url => format!("{path}/progress?lang={lang}"),
        report_href => format!("{path}/report.csv?lang={lang}"),
        notice_key => notice_key,
        notice_is_problem => notice_is_problem,
    };
    Ok(ConsolePage {
        console: &console,
        lang,
        section: Section::Invite,
        self_path: &path,
        template: "pages/admin/bulk_batch.html",
        status: StatusCode::OK,
    }
    .render(&state, &headers, extra))
}

/// Starts the run (a change: CSRF and a recent login); a second start changes nothing.
pub async fn start(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    form.console.require(Area::Users)?;
    let lang = lang.for_user(form.lang(), &form.console.active);
    let started = bulk_invite::start(&state, &form.console.caller(), &id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    let notice = if started {
        "started"
    } else {
        "already-started"
    };
    Ok(redirect_see_other(&with_notice(
        &batch_path(&id),
        notice,
        lang,
    )))
}

/// How far a run is, for the page's progress bar (`bulk_invite.js`), with its text in the
/// administrator's language.
pub async fn progress(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    console.require(Area::Users)?;
    let lang = lang.for_user(None, &console.active);
    let status = batch_status(&state, &id, lang).await?;
    let counts = status.counts;
    let done = counts.total() - counts.pending;
    let text = state.templates.text_with_numbers(
        lang,
        "console-bulk-progress",
        &[("done", done), ("total", counts.total())],
    );
    let body = serde_json::json!({
        "status": status.batch.status,
        "percent": status.percent(),
        "done": done,
        "total": counts.total(),
        "created": counts.created,
        "existed": counts.existed,
        "refused": counts.refused,
        "text": text,
    });
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response())
}

/// The report as a CSV download, in the administrator's language.
pub async fn report(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    console.require(Area::Users)?;
    let lang = lang.for_user(None, &console.active);
    let csv = bulk_invite::report(&state, &id, lang)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    // A byte-order mark, so Excel reads the UTF-8 (å, ä, ö) as such.
    let body = format!("\u{feff}{csv}");
    let disposition = format!("attachment; filename=\"inbjudningar-{id}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

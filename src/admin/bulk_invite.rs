//! Inviting a whole company from a CSV file, the way Leasify onboards a new customer: the file is
//! read and checked row by row into a batch (the preview), then a background job invites each
//! valid row, each in its own transaction with its welcome email, so a row that fails never stops
//! the others. Every row gets an outcome (created, already existed, refused and why) for the
//! report.
//!
//! Nobody is invited twice: an address that has an account already (from an earlier upload of the
//! same file, say) is `existed`; and each new account's id is chosen at upload, so a run that dies
//! between creating an account and recording it finds the account is its own when it runs again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::account::names::validate_name;
use crate::account::users::valid_email;
use crate::audit::{Actor, Caller, kinds};
use crate::jobs::Failure;
use crate::jobs::tasks::{self, Task};
use crate::state::AppState;
use crate::store::{InviteBatch, InviteBatchCounts, InviteBatchRow, StoreError};

use super::AdminError;
use super::csv::{self, ReadProblem, Record};
use super::users::{self, NewUser};

/// The largest file accepted: about 20,000 rows of a typical export.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;
/// The most rows one file may have.
pub const MAX_ROWS: usize = 5_000;
/// Uploaded files (which name people) are kept this long for their report, then purged.
pub const RETENTION_SECS: i64 = 30 * 86_400;
/// How long one run of the job works before handing the rest to a successor job, well inside
/// the jobs queue's time limit.
const RUN_BUDGET: Duration = Duration::from_secs(15);
/// Rows read per round trip.
const CHUNK: i64 = 100;

/// Column names as people write them, in Swedish and English.
const EMAIL_COLUMNS: &[&str] = &["email", "e-mail", "e-post", "epost", "mail", "e-postadress"];
const NAME_COLUMNS: &[&str] = &["name", "namn", "full name", "fullständigt namn"];
const LANGUAGE_COLUMNS: &[&str] = &["language", "språk", "locale", "lang"];

/// Why a file was refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error(transparent)]
    Unreadable(#[from] ReadProblem),
    #[error("the first line does not name an email and a name column")]
    NoHeader,
    #[error("the file has no rows below its header")]
    NoRows,
    #[error("the file has more than {MAX_ROWS} rows")]
    TooManyRows,
    #[error("the file is larger than {MAX_UPLOAD_BYTES} bytes")]
    TooLarge,
}

impl FileProblem {
    /// The text key of the explanation shown to the administrator.
    pub fn text_key(self) -> &'static str {
        match self {
            FileProblem::Unreadable(ReadProblem::Empty) | FileProblem::NoRows => {
                "console-bulk-problem-empty"
            }
            FileProblem::Unreadable(ReadProblem::Utf16) => "console-bulk-problem-utf16",
            FileProblem::Unreadable(ReadProblem::NotText) => "console-bulk-problem-not-text",
            FileProblem::Unreadable(ReadProblem::UnclosedQuote(_)) => "console-bulk-problem-quote",
            FileProblem::NoHeader => "console-bulk-problem-header",
            FileProblem::TooManyRows => "console-bulk-problem-rows",
            FileProblem::TooLarge => "console-bulk-problem-size",
        }
    }

    /// The line a problem is on, when it is on one.
    pub fn line(self) -> Option<usize> {
        match self {
            FileProblem::Unreadable(ReadProblem::UnclosedQuote(line)) => Some(line),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    File(#[from] FileProblem),
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl From<StoreError> for UploadError {
    fn from(e: StoreError) -> Self {
        UploadError::Admin(e.into())
    }
}

/// Where each column is; the language column is optional.
struct Columns {
    email: usize,
    name: usize,
    language: Option<usize>,
}

fn columns(header: &Record) -> Option<Columns> {
    let find = |names: &[&str]| {
        header
            .values
            .iter()
            .position(|v| names.contains(&v.trim().to_lowercase().as_str()))
    };
    Some(Columns {
        email: find(EMAIL_COLUMNS)?,
        name: find(NAME_COLUMNS)?,
        language: find(LANGUAGE_COLUMNS),
    })
}

/// The language a cell names (`sv`, `en`), the configured default when it is empty.
fn locale_of(cell: &str, default: &str) -> Option<String> {
    match cell.trim().to_lowercase().as_str() {
        "" => Some(default.to_string()),
        "sv" | "sv-se" | "svenska" | "swedish" => Some("sv".into()),
        "en" | "en-gb" | "en-us" | "engelska" | "english" => Some("en".into()),
        _ => None,
    }
}

/// A row as read and checked: what the administrator wrote, and what is wrong with it.
fn check_row(
    batch_id: &str,
    record: &Record,
    columns: &Columns,
    default_locale: &str,
    first_line_of: &mut HashMap<String, usize>,
) -> InviteBatchRow {
    let cell = |i: usize| record.values.get(i).map(|v| v.trim()).unwrap_or_default();
    let (raw_email, raw_name) = (cell(columns.email), cell(columns.name));
    let raw_language = columns.language.map(cell).unwrap_or_default();
    let email = valid_email(raw_email);
    let name = validate_name(raw_name).ok();
    let locale = locale_of(raw_language, default_locale);
    let mut problem_line = None;
    let problem = match (&email, &name, &locale) {
        (None, _, _) => Some("email"),
        (_, None, _) => Some("name"),
        (_, _, None) => Some("language"),
        (Some(email), _, _) => match first_line_of.get(email) {
            Some(&first) => {
                problem_line = Some(first as i64);
                Some("duplicate")
            }
            None => {
                first_line_of.insert(email.clone(), record.line);
                None
            }
        },
    };
    InviteBatchRow {
        batch_id: batch_id.to_string(),
        line: record.line as i64,
        email: email.unwrap_or_else(|| raw_email.to_string()),
        name: name.unwrap_or_else(|| raw_name.to_string()),
        locale: locale.unwrap_or_else(|| raw_language.to_string()),
        user_id: uuid::Uuid::now_v7().to_string(),
        outcome: if problem.is_some() {
            "refused"
        } else {
            "pending"
        }
        .into(),
        problem: problem.map(str::to_string),
        problem_line,
    }
}

/// The file's rows, checked; refused as a whole when it cannot be read or has no header.
pub fn read_rows(
    batch_id: &str,
    bytes: &[u8],
    default_locale: &str,
) -> Result<Vec<InviteBatchRow>, FileProblem> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(FileProblem::TooLarge);
    }
    let (text, _windows_1252) = csv::decode(bytes)?;
    let records = csv::read(&text)?;
    let (header, records) = records.split_first().ok_or(FileProblem::NoRows)?;
    let columns = columns(header).ok_or(FileProblem::NoHeader)?;
    if records.is_empty() {
        return Err(FileProblem::NoRows);
    }
    if records.len() > MAX_ROWS {
        return Err(FileProblem::TooManyRows);
    }
    let mut first_line_of = HashMap::new();
    Ok(records
        .iter()
        .map(|record| {
            check_row(
                batch_id,
                record,
                &columns,
                default_locale,
                &mut first_line_of,
            )
        })
        .collect())
}

/// The file name as shown on the batch's page: its last path part, printable, at most 100
/// characters.
fn shown_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = base.chars().filter(|c| !c.is_control()).take(100).collect();
    if name.trim().is_empty() {
        "upload.csv".into()
    } else {
        name
    }
}

/// Reads and checks an uploaded file and stores it as a batch to preview; its id.
pub async fn upload(
    state: &AppState,
    uploaded_by: &str,
    file_name: &str,
    bytes: &[u8],
) -> Result<String, UploadError> {
    let id = uuid::Uuid::now_v7().to_string();
    let rows = read_rows(&id, bytes, &state.config.default_locale)?;
    let batch = InviteBatch {
        id: id.clone(),
        file_name: shown_file_name(file_name),
        uploaded_by: uploaded_by.to_string(),
        started_by: None,
        status: "preview".into(),
        created_at: state.clock.now(),
        started_at: None,
        finished_at: None,
    };
    state.store.insert_invite_batch(&batch, &rows).await?;
    tracing::info!(batch = %id, rows = rows.len(), "invitation file uploaded");
    Ok(id)
}

/// A batch with its counts, as its page shows it.
#[derive(Debug, Clone)]
pub struct BatchStatus {
    pub batch: InviteBatch,
    pub counts: InviteBatchCounts,
    /// Pending rows whose address has an account already (they will be `existed`).
    pub existing: i64,
}

impl BatchStatus {
    /// How far the run is, 0–100: the rows with an outcome, of all of them.
    pub fn percent(&self) -> i64 {
        let total = self.counts.total();
        if total == 0 {
            100
        } else {
            (total - self.counts.pending) * 100 / total
        }
    }
}

pub async fn status(state: &AppState, id: &str) -> Result<BatchStatus, AdminError> {
    let batch = state
        .store
        .invite_batch(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no invitation file {id}")))?;
    let counts = state.store.invite_batch_counts(id).await?;
    let existing = if batch.status == "preview" {
        state.store.invite_batch_existing(id).await?
    } else {
        0
    };
    Ok(BatchStatus {
        batch,
        counts,
        existing,
    })
}

/// Starts inviting the batch's valid rows, audited as `caller` (who becomes the actor of every
/// invitation); `false` when it was started already (a second click changes nothing).
pub async fn start(state: &AppState, caller: &Caller, id: &str) -> Result<bool, AdminError> {
    let Actor::User(started_by) = &caller.actor else {
        return Err(AdminError::invalid(
            "actor",
            "a person starts a bulk invitation",
        ));
    };
    let status = status(state, id).await?;
    let job = tasks::prepare(
        state,
        &Task::InviteBatch {
            batch_id: id.to_string(),
        },
    );
    let now = state.clock.now();
    let event = caller
        .event(kinds::INVITE_BATCH_STARTED)
        .detail("batch", id)
        .detail("rows", status.counts.pending)
        .at(now);
    let started = state
        .store
        .start_invite_batch(id, started_by, now, &job, &[event])
        .await?;
    if started {
        state.jobs_wakeup.notify_one();
    }
    Ok(started)
}

/// The outcome of inviting one row, and the account it names.
async fn invite_row(
    state: &AppState,
    caller: &Caller,
    row: &InviteBatchRow,
) -> Result<(&'static str, String), Failure> {
    let new = NewUser {
        email: row.email.clone(),
        name: row.name.clone(),
        locale: row.locale.clone(),
        password: None,
        invite: true,
    };
    let created =
        users::create_with_id(state, caller, new, row.user_id.clone(), Some(&row.batch_id)).await;
    match created {
        Ok(_) => Ok(("created", row.user_id.clone())),
        Err(AdminError::Conflict(_)) => {
            let existing = state
                .store
                .user_by_email(&row.email)
                .await
                .map_err(|e| Failure::Transient(e.to_string()))?;
            Ok(match existing {
                // Made by this row before the run was cut short.
                Some(user) if user.id == row.user_id => ("created", user.id),
                Some(user) => ("existed", user.id),
                // Deleted in the meantime: the row is worth another try.
                None => return Err(Failure::Transient("the account went away".into())),
            })
        }
        Err(AdminError::Invalid(_)) => Ok(("refused", row.user_id.clone())),
        Err(other) => Err(Failure::Transient(other.to_string())),
    }
}

/// The background job: invites the batch's pending rows, for at most [`RUN_BUDGET`], then
/// queues a successor for the rest. Safe to run twice at once (an address gets one account).
pub async fn work(state: &AppState, batch_id: &str) -> Result<(), Failure> {
    let transient = |e: StoreError| Failure::Transient(e.to_string());
    let Some(batch) = state
        .store
        .invite_batch(batch_id)
        .await
        .map_err(transient)?
    else {
        // Purged before it ran.
        return Ok(());
    };
    let Some(started_by) = batch.started_by else {
        return Err(Failure::Permanent("the batch was never started".into()));
    };
    let caller = Caller::new(Actor::User(started_by));
    let began = Instant::now();
    loop {
        let rows = state
            .store
            .pending_invite_rows(batch_id, CHUNK)
            .await
            .map_err(transient)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let (outcome, user_id) = invite_row(state, &caller, &row).await?;
            state
                .store
                .set_invite_row_outcome(batch_id, row.line, outcome, &user_id)
                .await
                .map_err(transient)?;
        }
        if began.elapsed() >= RUN_BUDGET {
            let next = Task::InviteBatch {
                batch_id: batch_id.to_string(),
            };
            tasks::enqueue(state, &next).await.map_err(transient)?;
            return Ok(());
        }
    }
    let now = state.clock.now();
    state
        .store
        .finish_invite_batch(batch_id, now)
        .await
        .map_err(transient)?;
    tracing::info!(batch = %batch_id, "invitation file done");
    Ok(())
}

/// The report of a batch as CSV, in `lang`: every row with its outcome and, for a refused one,
/// why. Cells a spreadsheet would run as formulas come back as text.
pub async fn report(state: &AppState, id: &str, lang: &str) -> Result<String, AdminError> {
    status(state, id).await?;
    let rows = state.store.invite_batch_rows(id).await?;
    let text = |key: &str| state.templates.text(lang, key);
    let header = [
        text("console-bulk-col-line"),
        text("field-email"),
        text("field-name"),
        text("console-bulk-col-language"),
        text("console-bulk-col-result"),
        text("console-bulk-col-reason"),
    ];
    let lines = rows.iter().map(|row| {
        let reason = match (&row.problem, row.problem_line) {
            (Some(_), Some(first)) => state.templates.text_with_numbers(
                lang,
                "console-bulk-reason-duplicate",
                &[("line", first)],
            ),
            (Some(problem), None) => text(&format!("console-bulk-reason-{problem}")),
            (None, _) if row.outcome == "refused" => text("console-bulk-reason-invalid"),
            (None, _) => String::new(),
        };
        vec![
            row.line.to_string(),
            row.email.clone(),
            row.name.clone(),
            row.locale.clone(),
            text(&format!("console-bulk-outcome-{}", row.outcome)),
            reason,
        ]
    });
    Ok(csv::write(std::iter::once(header.to_vec()).chain(lines)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(file: &str) -> Vec<InviteBatchRow> {
        read_rows("b", file.as_bytes(), "sv").expect("readable")
    }

    fn outcomes(rows: &[InviteBatchRow]) -> Vec<(i64, &str, Option<&str>, Option<i64>)> {
        rows.iter()
            .map(|r| {
                (
                    r.line,
                    r.outcome.as_str(),
                    r.problem.as_deref(),
                    r.problem_line,
                )
            })
            .collect()
    }

    #[test]
    fn each_row_is_checked_and_duplicates_name_the_first_line() {
        let rows = rows(
            "E-post;Namn;Språk\n\
             karin@kund.se;Karin Ek;\n\
             inte-en-adress;Per;sv\n\
             Karin@Kund.se;Karin igen;en\n\
             ola@kund.se;;sv\n\
             eva@kund.se;Eva;klingon\n\
             =cmd@kund.se;=cmd|' /C calc'!A0;english\n",
        );
        assert_eq!(
            outcomes(&rows),
            [
                (2, "pending", None, None),
                (3, "refused", Some("email"), None),
                (4, "refused", Some("duplicate"), Some(2)),
                (5, "refused", Some("name"), None),
                (6, "refused", Some("language"), None),
                (7, "pending", None, None),
            ]
        );
        assert_eq!(
            rows[0].locale, "sv",
            "the default language when none is given"
        );
        assert_eq!(rows[5].locale, "en");
        assert_eq!(
            rows[2].email, "karin@kund.se",
            "addresses are compared normalised"
        );
        // Ids are chosen at upload, one per row.
        assert_ne!(rows[0].user_id, rows[5].user_id);
    }

    #[test]
    fn a_file_that_is_not_a_list_of_customers_is_refused_whole() {
        let refuse = |bytes: &[u8]| read_rows("b", bytes, "sv").expect_err("refused");
        assert_eq!(refuse(b"a,b\n1,2\n"), FileProblem::NoHeader);
        assert_eq!(refuse(b"email,name\n"), FileProblem::NoRows);
        assert_eq!(refuse(b""), FileProblem::Unreadable(ReadProblem::Empty));
        assert_eq!(
            refuse(b"\x89PNG\r\n\x1a\n\x00\x00"),
            FileProblem::Unreadable(ReadProblem::NotText)
        );
        let too_long = format!("email,name\n{}", "a@b.se,A\n".repeat(MAX_ROWS + 1));
        assert_eq!(refuse(too_long.as_bytes()), FileProblem::TooManyRows);
        assert_eq!(
            refuse(&vec![b'a'; MAX_UPLOAD_BYTES + 1]),
            FileProblem::TooLarge
        );
    }

    #[test]
    fn latin_1_names_are_read_as_written() {
        let rows = read_rows("b", b"email;namn\n\xe5sa@kund.se;\xc5sa \xd6berg\n", "en")
            .expect("Windows-1252");
        assert_eq!(
            (rows[0].email.as_str(), rows[0].name.as_str()),
            ("åsa@kund.se", "Åsa Öberg")
        );
        assert_eq!(rows[0].locale, "en");
    }

    #[test]
    fn file_names_are_shown_short_and_printable() {
        assert_eq!(shown_file_name("C:\\Users\\a\\kunder.csv"), "kunder.csv");
        assert_eq!(shown_file_name("../../x\u{0}y.csv"), "xy.csv");
        assert_eq!(shown_file_name(""), "upload.csv");
        assert_eq!(shown_file_name(&"å".repeat(300)).chars().count(), 100);
    }
}

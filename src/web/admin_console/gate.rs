//! Who gets into the console: [`Console`] for a page (a session through our own login page, and
//! an administrator's role), [`ConsoleForm`] for a change (the same, a CSRF token that belongs
//! to this browser, and a login recent enough, or the login page again first).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};

use crate::admin::roles::{self, Area, Role};
use crate::audit::{Actor, Caller};
use crate::login::csrf::{self, CSRF_COOKIE};
use crate::login::sessions::{self, ActiveSession, SESSION_COOKIE};
use crate::oidc::PageError;
use crate::render::i18n::negotiate;
use crate::state::AppState;

use super::super::errors::WebError;
use super::super::extract::{AppStateArc, accept_language, field, parse_pairs};
use super::super::http::cookie;

/// Where the console starts (its overview), and where a change goes back to when its form names
/// no page.
pub const HOME: &str = "/admin";

/// An administrator at the console: their session and role.
pub struct Console {
    pub active: ActiveSession,
    pub role: Role,
}

impl Console {
    /// How their changes are audited: the person is the actor.
    pub fn caller(&self) -> Caller {
        Caller::new(Actor::User(self.active.user.id.clone()))
    }

    /// Refuses the request (403) unless their role may use `area`.
    pub fn require(&self, area: Area) -> Result<(), WebError> {
        if self.role.may(area) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }
}

/// The login page, coming back to `back` (a console page); `reauth` asks an administrator who
/// is logged in to prove it again.
fn login_redirect(back: &str, reauth: bool, lang: Option<&str>) -> WebError {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("next", back);
    if reauth {
        query.append_pair("reauth", "1");
    }
    if let Some(lang) = lang {
        query.append_pair("lang", lang);
    }
    WebError::Redirect(format!("/login?{}", query.finish()))
}

/// The administrator behind the session cookie; without a session the login page, which comes
/// back to `back`; a session without a role is refused.
async fn admit(
    state: &AppState,
    parts: &Parts,
    back: &str,
    lang: Option<&str>,
) -> Result<Console, WebError> {
    let Some(active) = sessions::current(state, cookie(&parts.headers, SESSION_COOKIE)).await?
    else {
        return Err(login_redirect(back, false, lang));
    };
    match roles::role_of(state, &active.user.id).await? {
        Some(role) => Ok(Console { active, role }),
        None => Err(WebError::Forbidden),
    }
}

fn query_lang(parts: &Parts) -> Option<String> {
    parts.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
    })
}

impl FromRequestParts<AppStateArc> for Console {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppStateArc,
    ) -> Result<Self, Self::Rejection> {
        let back = match (parts.method.clone(), parts.uri.path_and_query()) {
            (Method::GET, Some(path)) => path.as_str().to_string(),
            _ => HOME.to_string(),
        };
        admit(state, parts, &back, query_lang(parts).as_deref()).await
    }
}

/// A console form: the administrator, the form's fields (its CSRF token checked), and a login
/// no older than `admin.step_up_minutes`. An older one is sent to the login page, which comes
/// back to the form's page (`back`); the change is not made, the person makes it again.
pub struct ConsoleForm {
    pub console: Console,
    pub fields: Vec<(String, String)>,
}

impl ConsoleForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        field(&self.fields, name)
    }

    pub fn lang(&self) -> Option<&str> {
        self.get("lang")
    }
}

/// The console page a form came from (its `back` field), if it is one; otherwise [`HOME`].
fn console_page(state: &AppState, back: Option<&str>) -> String {
    let path = crate::login::return_to::return_path(&state.config.issuer, back);
    if path == "/admin" || path.starts_with("/admin/") || path.starts_with("/admin?") {
        path
    } else {
        HOME.to_string()
    }
}

/// Reads a console form; `step_up` when it makes a change.
async fn console_form(
    request: Request,
    state: &AppStateArc,
    step_up: bool,
) -> Result<ConsoleForm, WebError> {
    let (parts, body) = request.into_parts();
    let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(|_| WebError::page(PageError::BadRequest))?;
    admit_form(state, &parts, parse_pairs(&body), step_up).await
}

/// Admits a form's sender: an administrator, the form's CSRF token, and (with `step_up`) a
/// recent login.
async fn admit_form(
    state: &AppStateArc,
    parts: &Parts,
    fields: Vec<(String, String)>,
    step_up: bool,
) -> Result<ConsoleForm, WebError> {
    let back = console_page(state, field(&fields, "back"));
    let lang = field(&fields, "lang").map(str::to_string);
    let console = admit(state, parts, &back, lang.as_deref()).await?;
    let in_lang = negotiate(
        lang.as_deref(),
        None,
        accept_language(&parts.headers),
        &console.active.user.locale,
    );
    if !csrf::verify(
        state,
        cookie(&parts.headers, CSRF_COOKIE),
        field(&fields, "csrf"),
    ) {
        return Err(WebError::page(PageError::InvalidCsrf).in_lang(in_lang));
    }
    if step_up && roles::needs_step_up(state, &console.active) {
        return Err(login_redirect(&back, true, Some(in_lang)));
    }
    Ok(ConsoleForm { console, fields })
}

impl FromRequest<AppStateArc> for ConsoleForm {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppStateArc) -> Result<Self, Self::Rejection> {
        console_form(request, state, true).await
    }
}

/// A console form that changes nothing (a search): the administrator and a checked CSRF token,
/// with no need for a recent login.
pub struct ConsoleQueryForm(pub ConsoleForm);

impl FromRequest<AppStateArc> for ConsoleQueryForm {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppStateArc) -> Result<Self, Self::Rejection> {
        console_form(request, state, false)
            .await
            .map(ConsoleQueryForm)
    }
}

/// A console form with a file (`multipart/form-data`): the form's other fields admitted like a
/// [`ConsoleQueryForm`] (a file to look at changes nothing yet), and the file, unless it is
/// larger than `max_file_bytes`.
pub struct ConsoleUpload {
    pub form: ConsoleForm,
    pub file_name: String,
    pub file: UploadedFile,
}

/// The file field of an upload.
pub enum UploadedFile {
    /// No file was chosen.
    Missing,
    /// Larger than the limit: read to its end (so the browser gets the answer rather than a
    /// reset connection) but not kept.
    TooLarge,
    Read(Bytes),
}

/// The largest file an upload keeps; the route's body limit caps what is read at all.
pub const MAX_FILE_BYTES: usize = crate::admin::bulk_invite::MAX_UPLOAD_BYTES;

async fn read_file(
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<UploadedFile, WebError> {
    let named = field.file_name().is_some_and(|n| !n.is_empty());
    let mut kept = Vec::new();
    let mut too_large = false;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) if too_large || kept.len() + chunk.len() > MAX_FILE_BYTES => {
                too_large = true;
                kept = Vec::new();
            }
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Ok(UploadedFile::TooLarge);
            }
            Err(_) => return Err(WebError::page(PageError::BadRequest)),
        }
    }
    Ok(match (too_large, kept.is_empty() && !named) {
        (true, _) => UploadedFile::TooLarge,
        (false, true) => UploadedFile::Missing,
        (false, false) => UploadedFile::Read(Bytes::from(kept)),
    })
}

impl FromRequest<AppStateArc> for ConsoleUpload {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppStateArc) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        // Only an administrator's upload is read at all.
        admit(state, &parts, HOME, query_lang(&parts).as_deref()).await?;
        let mut multipart =
            Multipart::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|_| WebError::page(PageError::BadRequest))?;
        let mut fields = Vec::new();
        let (mut file_name, mut file) = (String::new(), UploadedFile::Missing);
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    file = UploadedFile::TooLarge;
                    break;
                }
                Err(_) => return Err(WebError::page(PageError::BadRequest)),
            };
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                file_name = field.file_name().unwrap_or_default().to_string();
                file = read_file(field).await?;
            } else if let Ok(value) = field.text().await {
                fields.push((name, value));
            }
        }
        let form = admit_form(state, &parts, fields, false).await?;
        Ok(ConsoleUpload {
            form,
            file_name,
            file,
        })
    }
}

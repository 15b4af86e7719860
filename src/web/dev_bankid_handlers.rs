//! The simulated BankID app (simulator mode only; 404 otherwise): the page at `/dev/bankid`, where
//! a developer pastes a QR payload or an autostart token, picks a test person and approves or
//! cancels, and the same actions as a JSON control API under `/dev/bankid/api/` for tests and
//! scripts. What each action does lives in `bankid::simulator::dev_app`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;

use crate::bankid::simulator::SimulatorState;
use crate::bankid::simulator::control::ControlError;
use crate::bankid::simulator::dev_app::{AppAction, error_code};
use crate::state::AppState;

use super::extract::CsrfForm;
use super::pages::{CsrfToken, page, redirect_see_other};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/dev/bankid", get(app_page).post(app_form))
        .route("/dev/bankid/api/orders", get(api_orders))
        .route("/dev/bankid/api/identities", get(api_identities))
        .route("/dev/bankid/api/{action}", post(api_action))
}

fn simulator(state: &AppState) -> Option<&SimulatorState> {
    state
        .bankid
        .as_ref()
        .and_then(|b| b.simulator.as_ref())
        .map(|handle| handle.state())
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// What the last action did (after its redirect).
    done: Option<String>,
    order: Option<String>,
}

/// What the page shows besides the orders: a notice or a problem, and the form values to keep.
#[derive(Default)]
struct PageView<'a> {
    notice: Option<String>,
    problem: Option<String>,
    qr_payload: &'a str,
    autostart_token: &'a str,
    personal_number: &'a str,
}

fn render(
    state: &AppState,
    simulator: &SimulatorState,
    headers: &HeaderMap,
    status: StatusCode,
    view: PageView<'_>,
) -> Response {
    let csrf = CsrfToken::for_browser(state, headers);
    let context = context! {
        lang => "en",
        languages => Vec::<minijinja::Value>::new(),
        csrf => csrf.token.clone(),
        notice => view.notice,
        problem => view.problem,
        qr_payload => view.qr_payload,
        autostart_token => view.autostart_token,
        personal_number => view.personal_number,
        orders => minijinja::Value::from_serialize(simulator.orders()),
        identities => minijinja::Value::from_serialize(simulator.identities()),
    };
    csrf.set_on(page(state, status, "pages/dev_bankid.html", context))
}

pub async fn app_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(simulator) = simulator(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let notice = query.done.as_deref().map(|done| {
        let what = match done {
            "scan" | "scan_shown" => "The QR code was read",
            "autostart" => "BankID was opened with the autostart token",
            "approve" => "The order was approved",
            "cancel" => "The order was cancelled in the app",
            _ => "Done",
        };
        let order = query.order.as_deref().unwrap_or_default();
        let status = simulator
            .order(order)
            .map(|o| {
                format!(
                    "; the order is now {}",
                    o.hint_code.unwrap_or(o.status.into())
                )
            })
            .unwrap_or_default();
        format!("{what}{status}.")
    });
    let view = PageView {
        notice,
        ..PageView::default()
    };
    render(&state, simulator, &headers, StatusCode::OK, view)
}

fn form_value<'a>(form: &'a CsrfForm, name: &str) -> &'a str {
    form.get(name).unwrap_or_default()
}

/// The page's forms: after an action, back to the page (so a reload does not repeat it); a
/// refused action shows the page again with the reason and what was typed.
pub async fn app_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    form: CsrfForm,
) -> Response {
    let Some(simulator) = simulator(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let refused = |status: StatusCode, problem: String| {
        let view = PageView {
            problem: Some(problem),
            qr_payload: form_value(&form, "qr_payload"),
            autostart_token: form_value(&form, "autostart_token"),
            personal_number: form_value(&form, "personal_number"),
            ..PageView::default()
        };
        render(&state, simulator, &headers, status, view)
    };
    let action = match AppAction::from_form(&form.0) {
        Ok(action) => action,
        Err(e) => return refused(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match simulator.perform(&action) {
        Ok(order) => redirect_see_other(&format!(
            "/dev/bankid?done={}&order={}",
            form_value(&form, "action"),
            order.order_ref
        )),
        Err(e) => refused(status_of(&e), e.to_string()),
    }
}

fn status_of(error: &ControlError) -> StatusCode {
    match error {
        ControlError::UnknownOrder | ControlError::UnknownToken => StatusCode::NOT_FOUND,
        ControlError::MalformedQr | ControlError::UnknownIdentity | ControlError::Invalid(_) => {
            StatusCode::BAD_REQUEST
        }
        ControlError::BadQrCode
        | ControlError::StaleQr { .. }
        | ControlError::WrongPerson
        | ControlError::WrongState(_)
        | ControlError::NotPhoneOrder => StatusCode::CONFLICT,
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json_error(status: StatusCode, code: &str, message: String) -> Response {
    json(
        status,
        serde_json::json!({ "error": code, "message": message }),
    )
}

pub async fn api_orders(State(state): State<Arc<AppState>>) -> Response {
    match simulator(&state) {
        Some(simulator) => json(StatusCode::OK, serde_json::json!(simulator.orders())),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub async fn api_identities(State(state): State<Arc<AppState>>) -> Response {
    match simulator(&state) {
        Some(simulator) => json(StatusCode::OK, serde_json::json!(simulator.identities())),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Whether the request says its body is JSON. The API has no CSRF token: requiring this header
/// is what keeps other sites out, since a cross-site form or a CORS-less `fetch` cannot send it.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// `POST /dev/bankid/api/{scan,autostart,scan_shown,approve,cancel}`: the order afterwards.
pub async fn api_action(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(simulator) = simulator(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !is_json(&headers) {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupportedMediaType",
            "send Content-Type: application/json".into(),
        );
    }
    if !AppAction::NAMES.contains(&name.as_str()) {
        return json_error(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("no action {name:?}"),
        );
    }
    let action = match AppAction::from_json(&name, &body) {
        Ok(action) => action,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, "badRequest", e.to_string()),
    };
    match simulator.perform(&action) {
        Ok(order) => json(StatusCode::OK, serde_json::json!(order)),
        Err(e) => json_error(status_of(&e), error_code(&e), e.to_string()),
    }
}

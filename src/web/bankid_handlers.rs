//! The BankID pages: start an order (login or linking), the order page with the animated QR, the
//! poll the page makes every second, finishing, cancelling, and the simulated BankID app.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use crate::bankid::flow::{self, BINDING_COOKIE, Finished, FlowError, Start};
use crate::bankid::qr::qr_svg_with_label;
use crate::login::csrf::{self, CSRF_COOKIE};
use crate::oidc::PageError;
use crate::state::AppState;

use super::account_handlers::{Form, csrf_token, field, message_page, session_form, with_cookie};
use super::http::{RequestId, client_ip, cookie, host_cookie};
use super::login_handlers::{
    AfterLogin, continue_after_login, page_lang, redirect_see_other, safe_next,
};
use super::oidc_handlers::parse_pairs;
use super::responses::{internal_page, page, page_error};

fn flow_failure(
    state: &AppState,
    lang: &str,
    request_id: &RequestId,
    error: FlowError,
) -> Response {
    match error {
        FlowError::Refused(key) => message_page(
            state,
            lang,
            "bankid-title",
            key,
            Some(("/", "back-to-login")),
        ),
        FlowError::UnknownOrder | FlowError::NoPersonnummer => {
            page_error(state, lang, PageError::RequestExpired)
        }
        FlowError::Disabled => page_error(state, lang, PageError::BadRequest),
        other => internal_page(state, lang, request_id, &other),
    }
}

fn order_page_redirect(started: &flow::Started, lang: &str) -> Response {
    let mut response = redirect_see_other(&format!(
        "/bankid/order?order={}&lang={lang}",
        started.order_ref
    ));
    response.headers_mut().append(
        header::SET_COOKIE,
        host_cookie(BINDING_COOKIE, &started.binding, Some(600)),
    );
    response
}

fn verified_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Form, &'static str), Box<Response>> {
    let form = parse_pairs(body);
    let lang = page_lang(state, field(&form, "lang"), None, headers);
    if !csrf::verify(state, cookie(headers, CSRF_COOKIE), field(&form, "csrf")) {
        return Err(Box::new(page_error(state, lang, PageError::InvalidCsrf)));
    }
    Ok((form, lang))
}

/// "Logga in med BankID" (from the login page, for an app or for our own pages).
pub async fn start_login(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, lang) = match verified_form(&state, &headers, &body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let pending = field(&form, "req").filter(|r| !r.is_empty());
    let next = pending.is_none().then(|| safe_next(field(&form, "next")));
    let ip = client_ip(&state.config, Some(&ConnectInfo(peer)), &headers);
    let what = Start::Login {
        pending_authorization: pending,
        next_path: next.as_deref(),
    };
    match flow::start(&state, what, ip, lang).await {
        Ok(started) => order_page_redirect(&started, lang),
        Err(e) => flow_failure(&state, lang, &request_id, e),
    }
}

/// Mina uppgifter → "Koppla BankID": an order only the stored personnummer can complete.
pub async fn start_link(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (active, _form, lang) = match session_form(&state, &headers, &request_id, &body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let ip = client_ip(&state.config, Some(&ConnectInfo(peer)), &headers);
    match flow::start(
        &state,
        Start::Link {
            user_id: &active.user.id,
        },
        ip,
        lang,
    )
    .await
    {
        Ok(started) => order_page_redirect(&started, lang),
        Err(e) => flow_failure(&state, lang, &request_id, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct OrderQuery {
    order: String,
    lang: Option<String>,
}

fn qr_svg(state: &AppState, lang: &str, payload: Option<&str>) -> String {
    payload
        .map(|p| qr_svg_with_label(p, &state.templates.text(lang, "bankid-qr-label")))
        .unwrap_or_default()
}

pub async fn order_page(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<OrderQuery>,
) -> Response {
    let lang = page_lang(&state, query.lang.as_deref(), None, &headers);
    let binding = cookie(&headers, BINDING_COOKIE);
    let order = match flow::bound_order(&state, &query.order, binding).await {
        Ok(order) => order,
        Err(e) => return flow_failure(&state, lang, &request_id, e),
    };
    let progress = match flow::progress(&state, &query.order, binding).await {
        Ok(progress) => progress,
        Err(e) => return flow_failure(&state, lang, &request_id, e),
    };
    let (csrf, set_cookie) = csrf_token(&state, &headers);
    let (heading_key, retry_action, retry_fields): (&str, &str, Vec<(String, String)>) =
        match order.purpose.as_str() {
            "link" => ("bankid-link-title", "/account/bankid", vec![]),
            _ => (
                "bankid-title",
                "/bankid/login",
                match (&order.pending_authorization, &order.next_path) {
                    (Some(req), _) => vec![("req".into(), req.clone())],
                    (None, Some(next)) => vec![("next".into(), next.clone())],
                    _ => vec![],
                },
            ),
        };
    let context = context! {
        lang => lang,
        languages => Vec::<minijinja::Value>::new(),
        heading_key => heading_key,
        order_ref => query.order.clone(),
        poll_url => format!("/bankid/poll?order={}&lang={lang}", query.order),
        qr_svg => qr_svg(&state, lang, progress.qr_payload.as_deref()),
        message_key => progress.message_key,
        autostart_url => format!("bankid:///?autostarttoken={}&redirect=null", progress.auto_start_token),
        csrf => csrf,
        retry_action => retry_action,
        retry_fields => retry_fields,
    };
    with_cookie(
        page(&state, StatusCode::OK, "pages/bankid.html", context),
        set_cookie,
    )
}

pub async fn poll(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<OrderQuery>,
) -> Response {
    let lang = page_lang(&state, query.lang.as_deref(), None, &headers);
    match flow::progress(&state, &query.order, cookie(&headers, BINDING_COOKIE)).await {
        Ok(progress) => {
            let next = (progress.status == "complete")
                .then(|| format!("/bankid/finish?order={}&lang={lang}", query.order));
            let body = serde_json::json!({
                "status": progress.status,
                "message": state.templates.text(lang, progress.message_key),
                "qr_svg": qr_svg(&state, lang, progress.qr_payload.as_deref()),
                "next": next,
            });
            let mut response = Json(body).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(FlowError::UnknownOrder) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"status": "unknown"})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "BankID poll failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "pending"})),
            )
                .into_response()
        }
    }
}

pub async fn finish(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<OrderQuery>,
) -> Response {
    let lang = page_lang(&state, query.lang.as_deref(), None, &headers);
    let login_again = format!("/login?next=%2Faccount&lang={lang}");
    match flow::finish(&state, &query.order, cookie(&headers, BINDING_COOKIE)).await {
        Ok(Finished::LoggedIn {
            cookie: session_cookie,
            active,
            order,
        }) => {
            let next = order.next_path.clone().unwrap_or_else(|| "/account".into());
            let after = match &order.pending_authorization {
                Some(req) => AfterLogin::Authorization(req),
                None => AfterLogin::Local(&next),
            };
            continue_after_login(
                &state,
                lang,
                &request_id,
                &headers,
                after,
                &active,
                &session_cookie,
            )
            .await
        }
        Ok(Finished::Linked) => {
            redirect_see_other(&format!("/account?notice=bankid-linked&lang={lang}"))
        }
        Ok(Finished::NoLinkedAccount) => message_page(
            &state,
            lang,
            "bankid-title",
            "bankid-no-linked-account",
            Some((&login_again, "login-again")),
        ),
        Ok(Finished::Disabled) => message_page(
            &state,
            lang,
            "bankid-title",
            "bankid-account-disabled",
            None,
        ),
        Ok(Finished::WrongPerson) => message_page(
            &state,
            lang,
            "bankid-link-title",
            "bankid-wrong-person",
            Some(("/account", "account-title")),
        ),
        Ok(Finished::NotComplete) => {
            redirect_see_other(&format!("/bankid/order?order={}&lang={lang}", query.order))
        }
        Err(e) => flow_failure(&state, lang, &request_id, e),
    }
}

pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, lang) = match verified_form(&state, &headers, &body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    match flow::cancel(
        &state,
        field(&form, "order").unwrap_or_default(),
        cookie(&headers, BINDING_COOKIE),
    )
    .await
    {
        Ok(order) => match (order.purpose.as_str(), &order.pending_authorization) {
            ("link", _) => redirect_see_other(&format!("/account?lang={lang}")),
            (_, Some(req)) => redirect_see_other(&format!("/login?req={req}&lang={lang}")),
            _ => redirect_see_other(&format!("/login?next=%2Faccount&lang={lang}")),
        },
        Err(e) => flow_failure(&state, lang, &request_id, e),
    }
}

/// The simulated BankID app (simulator mode only): pending orders, and buttons that scan the
/// current QR code as a test person and approve, or cancel as the user.
pub async fn dev_app(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(simulator) = state.bankid.as_ref().and_then(|b| b.simulator.as_ref()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let lang = page_lang(&state, None, None, &headers);
    let (csrf, set_cookie) = csrf_token(&state, &headers);
    let orders: Vec<_> = simulator
        .state()
        .orders()
        .into_iter()
        .filter(|o| o.status == "pending")
        .collect();
    let context = context! {
        lang => lang,
        languages => Vec::<minijinja::Value>::new(),
        csrf => csrf,
        orders => minijinja::Value::from_serialize(&orders),
        identities => minijinja::Value::from_serialize(simulator.state().identities()),
    };
    with_cookie(
        page(&state, StatusCode::OK, "pages/dev_bankid.html", context),
        set_cookie,
    )
}

pub async fn dev_app_action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(simulator) = state.bankid.as_ref().and_then(|b| b.simulator.as_ref()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (form, lang) = match verified_form(&state, &headers, &body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let order = field(&form, "order").unwrap_or_default();
    let person = field(&form, "personal_number").unwrap_or_default();
    let sim = simulator.state();
    let outcome = match field(&form, "action") {
        Some("cancel") => sim.user_cancel(order).map(|_| ()),
        _ => sim
            .current_qr_payload(order)
            .and_then(|payload| sim.scan(&payload, person))
            .and_then(|_| sim.approve(order))
            .map(|_| ()),
    };
    if let Err(e) = outcome {
        tracing::info!(error = %e, "simulated BankID app action failed");
    }
    redirect_see_other(&format!("/dev/bankid?lang={lang}"))
}

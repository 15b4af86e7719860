//! The BankID pages: start an order (login or linking), the order page with the animated QR, the
//! poll the page makes every second, finishing and cancelling. The simulated BankID app is in
//! `dev_bankid_handlers.rs`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use crate::account::bankid_link::{self, LinkError, LinkFinished};
use crate::bankid::qr::qr_svg_with_label;
use crate::login::bankid::{self as flow, BINDING_COOKIE, FlowError, LoginFinished, Start};
use crate::login::csrf::{self, CSRF_COOKIE};
use crate::oidc::PageError;
use crate::state::AppState;
use crate::store::BankIdOrder;

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

/// Where "Försök igen" posts and what it sends again, and the way back without BankID.
struct Retry {
    heading_key: &'static str,
    action: &'static str,
    fields: Vec<(String, String)>,
    back_href: String,
    back_key: &'static str,
}

impl Retry {
    fn login(pending: Option<&str>, next: Option<&str>, lang: &str) -> Retry {
        let (fields, back_href) = match (pending, next) {
            (Some(req), _) => (
                vec![("req".to_string(), req.to_string())],
                format!("/login?req={req}&lang={lang}"),
            ),
            (None, Some(next)) => {
                let encoded: String =
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                (
                    vec![("next".to_string(), next.to_string())],
                    format!("/login?next={encoded}&lang={lang}"),
                )
            }
            (None, None) => (vec![], format!("/login?next=%2Faccount&lang={lang}")),
        };
        Retry {
            heading_key: "bankid-title",
            action: "/bankid/login",
            fields,
            back_href,
            back_key: "back-to-login",
        }
    }

    fn link(lang: &str) -> Retry {
        Retry {
            heading_key: "bankid-link-title",
            action: "/account/bankid",
            fields: vec![],
            back_href: format!("/account?lang={lang}"),
            back_key: "account-title",
        }
    }

    fn of(order: &BankIdOrder, lang: &str) -> Retry {
        match order.purpose.as_str() {
            "link" => Retry::link(lang),
            _ => Retry::login(
                order.pending_authorization.as_deref(),
                order.next_path.as_deref(),
                lang,
            ),
        }
    }
}

/// BankID refused to start an order (`alreadyInProgress`, `maintenance`…): its message, and
/// "Försök igen", which starts a new order the same way.
fn refused_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    message_key: &str,
    retry: Retry,
) -> Response {
    let (csrf, set_cookie) = csrf_token(state, headers);
    let context = context! {
        lang => lang,
        languages => Vec::<minijinja::Value>::new(),
        heading_key => retry.heading_key,
        message_key => message_key,
        csrf => csrf,
        retry_action => retry.action,
        retry_fields => retry.fields,
        back_href => retry.back_href,
        back_key => retry.back_key,
    };
    with_cookie(
        page(state, StatusCode::OK, "pages/bankid.html", context),
        set_cookie,
    )
}

/// The answer to a start that failed.
fn start_failure(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    request_id: &RequestId,
    error: FlowError,
    retry: Retry,
) -> Response {
    match error {
        FlowError::Refused(key) => refused_page(state, headers, lang, key, retry),
        other => flow_failure(state, lang, request_id, other),
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

/// The form, once its CSRF token checks out, and the page language.
pub(super) fn verified_form(
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
    let next = pending
        .is_none()
        .then(|| safe_next(&state, field(&form, "next")));
    let ip = client_ip(&state.config, Some(&ConnectInfo(peer)), &headers);
    let what = Start::Login {
        pending_authorization: pending,
        next_path: next.as_deref(),
    };
    let previous = cookie(&headers, BINDING_COOKIE);
    match flow::start(&state, what, ip, lang, previous).await {
        Ok(started) => order_page_redirect(&started, lang),
        Err(e) => {
            let retry = Retry::login(pending, next.as_deref(), lang);
            start_failure(&state, &headers, lang, &request_id, e, retry)
        }
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
        cookie(&headers, BINDING_COOKIE),
    )
    .await
    {
        Ok(started) => order_page_redirect(&started, lang),
        Err(e) => start_failure(&state, &headers, lang, &request_id, e, Retry::link(lang)),
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
    let retry = Retry::of(&order, lang);
    let context = context! {
        lang => lang,
        languages => Vec::<minijinja::Value>::new(),
        heading_key => retry.heading_key,
        order_ref => query.order.clone(),
        poll_url => format!("/bankid/poll?order={}&lang={lang}", query.order),
        qr_svg => qr_svg(&state, lang, progress.qr_payload.as_deref()),
        message_key => progress.message_key,
        autostart_url => format!("bankid:///?autostarttoken={}&redirect=null", progress.auto_start_token),
        csrf => csrf,
        retry_action => retry.action,
        retry_fields => retry.fields,
        back_href => retry.back_href,
        back_key => retry.back_key,
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
    let not_complete =
        || redirect_see_other(&format!("/bankid/order?order={}&lang={lang}", query.order));
    let (order, completion) =
        match flow::completed(&state, &query.order, cookie(&headers, BINDING_COOKIE)).await {
            Ok(Some(done)) => done,
            Ok(None) => return not_complete(),
            Err(e) => return flow_failure(&state, lang, &request_id, e),
        };
    if order.purpose == "link" {
        let (heading, message) = match bankid_link::finish_link(&state, order, &completion).await {
            Ok(LinkFinished::Linked) => {
                return redirect_see_other(&format!("/account?notice=bankid-linked&lang={lang}"));
            }
            Ok(LinkFinished::NotComplete) => return not_complete(),
            Ok(LinkFinished::WrongPerson) => ("bankid-link-title", "bankid-wrong-person"),
            Ok(LinkFinished::VerifiedElsewhere) => {
                ("bankid-link-title", "bankid-verified-elsewhere")
            }
            Err(LinkError::Flow(e)) => return flow_failure(&state, lang, &request_id, e),
            Err(e) => return internal_page(&state, lang, &request_id, &e),
        };
        return message_page(
            &state,
            lang,
            heading,
            message,
            Some(("/account", "account-title")),
        );
    }
    let login_again = format!("/login?next=%2Faccount&lang={lang}");
    match flow::finish_login(&state, order, &completion).await {
        Ok(LoginFinished::LoggedIn {
            cookie: session_cookie,
            active,
            order,
        }) => {
            // Checked when the order started; checked again, as every return-to value is.
            let next = safe_next(&state, order.next_path.as_deref());
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
        Ok(LoginFinished::NoLinkedAccount) => message_page(
            &state,
            lang,
            "bankid-title",
            "bankid-no-linked-account",
            Some((&login_again, "login-again")),
        ),
        Ok(LoginFinished::Disabled) => message_page(
            &state,
            lang,
            "bankid-title",
            "bankid-account-disabled",
            None,
        ),
        Ok(LoginFinished::NotComplete) => not_complete(),
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
        Ok(order) => redirect_see_other(&Retry::of(&order, lang).back_href),
        Err(e) => flow_failure(&state, lang, &request_id, e),
    }
}

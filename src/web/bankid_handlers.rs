//! The BankID pages: start an order (login or linking), the order page with the animated QR, the
//! poll the page makes every second, finishing and cancelling. The simulated BankID app is in
//! `dev_bankid_handlers.rs`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use crate::account::bankid_link::{self, LinkError, LinkFinished};
use crate::bankid::qr::qr_svg_with_label;
use crate::login::bankid::{self as flow, BINDING_COOKIE, FlowError, LoginFinished, Start};
use crate::oidc::PageError;
use crate::state::AppState;
use crate::store::BankIdOrder;

use super::errors::{WebError, internal};
use super::extract::{Client, CsrfForm, Lang, Session};
use super::http::{cookie, host_cookie};
use super::login_handlers::{AfterLogin, continue_after_login, safe_next};
use super::pages::{CsrfToken, message_page, page, redirect_see_other};

/// How a failed BankID step reaches the person: BankID's message, an expired-request page, or
/// our own failure.
fn flow_failure(
    state: &AppState,
    lang: &'static str,
    error: FlowError,
) -> Result<Response, WebError> {
    match error {
        FlowError::Refused(key) => Ok(message_page(
            state,
            lang,
            "bankid-title",
            key,
            Some(("/", "back-to-login")),
        )),
        FlowError::UnknownOrder | FlowError::NoPersonnummer => {
            Err(WebError::page(PageError::RequestExpired).in_lang(lang))
        }
        FlowError::Disabled => Err(WebError::page(PageError::BadRequest).in_lang(lang)),
        other => Err(internal(other).in_lang(lang)),
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
    let csrf = CsrfToken::for_browser(state, headers);
    let context = context! {
        lang => lang,
        languages => Vec::<minijinja::Value>::new(),
        heading_key => retry.heading_key,
        message_key => message_key,
        csrf => csrf.token.clone(),
        retry_action => retry.action,
        retry_fields => retry.fields,
        back_href => retry.back_href,
        back_key => retry.back_key,
    };
    csrf.set_on(page(state, StatusCode::OK, "pages/bankid.html", context))
}

/// The answer to a start that failed.
fn start_failure(
    state: &AppState,
    headers: &HeaderMap,
    lang: &'static str,
    error: FlowError,
    retry: Retry,
) -> Result<Response, WebError> {
    match error {
        FlowError::Refused(key) => Ok(refused_page(state, headers, lang, key, retry)),
        other => flow_failure(state, lang, other),
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

/// "Logga in med BankID" (from the login page, for an app or for our own pages).
pub async fn start_login(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    client: Client,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.pick(form.lang(), None);
    let pending = form.get("req").filter(|r| !r.is_empty());
    let next = pending
        .is_none()
        .then(|| safe_next(&state, form.get("next")));
    let what = Start::Login {
        pending_authorization: pending,
        next_path: next.as_deref(),
    };
    let previous = cookie(&headers, BINDING_COOKIE);
    match flow::start(&state, what, client.ip, lang, previous).await {
        Ok(started) => Ok(order_page_redirect(&started, lang)),
        Err(e) => {
            let retry = Retry::login(pending, next.as_deref(), lang);
            start_failure(&state, &headers, lang, e, retry)
        }
    }
}

/// Mina uppgifter → "Visa QR-kod": an order whose BankID must be the stored personnummer's.
pub async fn start_link(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    client: Client,
    Session(active): Session,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.for_user(form.lang(), &active);
    let what = Start::Link {
        user_id: &active.user.id,
    };
    match flow::start(
        &state,
        what,
        client.ip,
        lang,
        cookie(&headers, BINDING_COOKIE),
    )
    .await
    {
        Ok(started) => Ok(order_page_redirect(&started, lang)),
        Err(e) => start_failure(&state, &headers, lang, e, Retry::link(lang)),
    }
}

#[derive(Debug, Deserialize)]
pub struct OrderQuery {
    order: String,
}

fn qr_svg(state: &AppState, lang: &str, payload: Option<&str>) -> String {
    payload
        .map(|p| qr_svg_with_label(p, &state.templates.text(lang, "bankid-qr-label")))
        .unwrap_or_default()
}

pub async fn order_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<OrderQuery>,
) -> Result<Response, WebError> {
    let lang = lang.page();
    let binding = cookie(&headers, BINDING_COOKIE);
    let step = async {
        let order = flow::bound_order(&state, &query.order, binding).await?;
        let progress = flow::progress(&state, &query.order, binding).await?;
        Ok::<_, FlowError>((order, progress))
    };
    let (order, progress) = match step.await {
        Ok(done) => done,
        Err(e) => return flow_failure(&state, lang, e),
    };
    let csrf = CsrfToken::for_browser(&state, &headers);
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
        csrf => csrf.token.clone(),
        retry_action => retry.action,
        retry_fields => retry.fields,
        back_href => retry.back_href,
        back_key => retry.back_key,
    };
    Ok(csrf.set_on(page(&state, StatusCode::OK, "pages/bankid.html", context)))
}

/// What the order page asks every second: the status, BankID's message and this second's QR.
pub async fn poll(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<OrderQuery>,
) -> Response {
    let lang = lang.page();
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
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<OrderQuery>,
) -> Result<Response, WebError> {
    let lang = lang.page();
    let not_complete =
        || redirect_see_other(&format!("/bankid/order?order={}&lang={lang}", query.order));
    let (order, completion) =
        match flow::completed(&state, &query.order, cookie(&headers, BINDING_COOKIE)).await {
            Ok(Some(done)) => done,
            Ok(None) => return Ok(not_complete()),
            Err(e) => return flow_failure(&state, lang, e),
        };
    if order.purpose == "link" {
        let message = match bankid_link::finish_link(&state, order, &completion).await {
            Ok(LinkFinished::Linked) => {
                return Ok(redirect_see_other(&format!(
                    "/account?notice=bankid-linked&lang={lang}"
                )));
            }
            Ok(LinkFinished::NotComplete) => return Ok(not_complete()),
            Ok(LinkFinished::WrongPerson) => "bankid-wrong-person",
            Ok(LinkFinished::VerifiedElsewhere) => "bankid-verified-elsewhere",
            Err(LinkError::Flow(e)) => return flow_failure(&state, lang, e),
            Err(e) => return Err(internal(e).in_lang(lang)),
        };
        let back = Some(("/account", "account-title"));
        return Ok(message_page(
            &state,
            lang,
            "bankid-link-title",
            message,
            back,
        ));
    }
    match flow::finish_login(&state, order, &completion).await {
        Ok(LoginFinished::LoggedIn {
            cookie: session_cookie,
            active,
            order,
        }) => {
            // Checked when the order started; checked again, as every return-to value is.
            let next = safe_next(&state, order.next_path.as_deref());
            let after = AfterLogin::pending_or(order.pending_authorization.as_deref(), &next);
            continue_after_login(&state, lang, after, &active, &session_cookie).await
        }
        Ok(LoginFinished::NoLinkedAccount) => {
            let login_again = format!("/login?next=%2Faccount&lang={lang}");
            Ok(message_page(
                &state,
                lang,
                "bankid-title",
                "bankid-no-linked-account",
                Some((&login_again, "login-again")),
            ))
        }
        Ok(LoginFinished::Disabled) => Ok(message_page(
            &state,
            lang,
            "bankid-title",
            "bankid-account-disabled",
            None,
        )),
        Ok(LoginFinished::NotComplete) => Ok(not_complete()),
        Err(e) => flow_failure(&state, lang, e),
    }
}

pub async fn cancel(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, WebError> {
    let lang = lang.pick(form.lang(), None);
    let order = form.get("order").unwrap_or_default();
    match flow::cancel(&state, order, cookie(&headers, BINDING_COOKIE)).await {
        Ok(order) => Ok(redirect_see_other(&Retry::of(&order, lang).back_href)),
        Err(e) => flow_failure(&state, lang, e),
    }
}

//! Pages for people: rendering a template with the security headers every page needs, the
//! language switch, the error and message pages, the CSRF token a page's forms carry, and the
//! 303 redirects between pages.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};

use crate::login::csrf::{self, CSRF_COOKIE};
use crate::state::AppState;

use super::http::{RequestId, cookie, host_cookie, page_csp};

/// Links for the language switch, keeping the current path and query.
pub fn language_links(path_and_query: &str, lang: &str) -> Value {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let links: Vec<Value> = [("sv", "Svenska"), ("en", "English")]
        .iter()
        .map(|(code, label)| {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &kept {
                serializer.append_pair(k, v);
            }
            serializer.append_pair("lang", code);
            context! { code => *code, label => *label, href => format!("{path}?{}", serializer.finish()) }
        })
        .collect();
    let _ = lang;
    Value::from(links)
}

/// Renders a page; a template failure is our fault and becomes a plain 500.
pub fn page(state: &AppState, status: StatusCode, template: &str, context: Value) -> Response {
    match state.templates.render(template, context) {
        Ok(html) => {
            let mut response = (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_SECURITY_POLICY, page_csp("'self'"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

/// A page whose form may end in a redirect to an app (login, set password): browsers apply
/// `form-action` to the redirect after the POST too, so the app's redirect URI must be allowed.
pub fn allow_form_redirect_to(response: &mut Response, redirect_uri: &str) {
    let Ok(url) = url::Url::parse(redirect_uri) else {
        return;
    };
    let source = match url.origin() {
        url::Origin::Tuple(..) => url.origin().ascii_serialization(),
        // Native apps' private-use schemes have no origin: allow the scheme.
        url::Origin::Opaque(_) => format!("{}:", url.scheme()),
    };
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        page_csp(&format!("'self' {source}")),
    );
}

/// An error page: the message, and the request id as a reference when the error is ours.
pub fn error_page(
    state: &AppState,
    lang: &str,
    status: StatusCode,
    message_key: &str,
    request_id: Option<&RequestId>,
) -> Response {
    let context = context! {
        lang => lang,
        languages => language_links("/", lang),
        message_key => message_key,
        request_id => request_id.map(|r| r.0.clone()),
    };
    page(state, status, "pages/error.html", context)
}

/// A page with a heading, a message and an optional link (`href`, text key).
pub fn message_page(
    state: &AppState,
    lang: &str,
    heading_key: &str,
    message_key: &str,
    link: Option<(&str, &str)>,
) -> Response {
    message_page_with_minutes(state, lang, heading_key, message_key, link, None)
}

/// [`message_page`] whose message says a number of minutes (`$minutes` in the message).
pub fn message_page_with_minutes(
    state: &AppState,
    lang: &str,
    heading_key: &str,
    message_key: &str,
    link: Option<(&str, &str)>,
    minutes: Option<i64>,
) -> Response {
    let context = context! {
        minutes => minutes,
        lang => lang,
        languages => language_links("/", lang),
        heading_key => heading_key,
        message_key => message_key,
        link_href => link.map(|l| l.0.to_string()),
        link_key => link.map(|l| l.1.to_string()),
    };
    page(state, StatusCode::OK, "pages/message.html", context)
}

/// 303 to a page of ours (after a form, or to the login page).
pub fn redirect_see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The CSRF token for a page's forms, and the cookie it belongs to when the browser had none.
pub struct CsrfToken {
    pub token: String,
    set_cookie: Option<HeaderValue>,
}

impl CsrfToken {
    pub fn for_browser(state: &AppState, headers: &HeaderMap) -> CsrfToken {
        let (value, is_new) = csrf::cookie_or_new(state, cookie(headers, CSRF_COOKIE));
        CsrfToken {
            token: csrf::token_for(state, &value),
            set_cookie: is_new.then(|| host_cookie(CSRF_COOKIE, &value, None)),
        }
    }

    /// The page, with the cookie set if it is new.
    pub fn set_on(self, mut response: Response) -> Response {
        if let Some(value) = self.set_cookie {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }
}

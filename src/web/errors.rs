//! The one place where errors become responses.
//!
//! Handlers return `Result<Response, WebError>` and use `?`. Protocol errors that are JSON (the
//! token endpoint, UserInfo) become responses at once. Errors a person sees (an error page, our
//! own failure with its reference, an OAuth error sent back to a verified redirect URI) need the
//! templates, the page language and the request id; `WebError::into_response` leaves them in the
//! response for [`render_errors`], the middleware that renders them.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::InternalError;
use crate::oidc::{AuthorizeError, BearerError, PageError, TokenError};
use crate::render::i18n::negotiate;
use crate::state::AppState;
use crate::store::StoreError;

use super::http::RequestId;
use super::pages::error_page;
use super::responses::{authorization_response, bearer_error, token_error};

/// Why a request did not get what it asked for.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A page for the person: the request cannot be served as asked.
    #[error("{0:?}")]
    Page(PageError),
    /// Our own failure (or the database out of reach): logged, shown as a reference.
    #[error(transparent)]
    Internal(InternalError),
    /// An authorization-endpoint error: a page, or `error` at the verified redirect URI.
    #[error(transparent)]
    Authorize(AuthorizeError),
    /// JSON per RFC 6749 §5.2 (token, revocation and introspection endpoints).
    #[error(transparent)]
    Token(TokenError),
    /// A protected-resource challenge per RFC 6750 §3 (UserInfo).
    #[error(transparent)]
    Bearer(BearerError),
    /// Not an error for the person: go there first (a login page, say).
    #[error("redirect to {0}")]
    Redirect(String),
    /// The person is logged in but may not see this (the admin console to a customer): the
    /// plain error page, saying nothing about what is here.
    #[error("forbidden")]
    Forbidden,
    /// No such page, or nothing behind the id in it.
    #[error("not found")]
    NotFound,
    /// The error, shown in this language (the one of the form the person sent).
    #[error("{1}")]
    InLang(&'static str, Box<WebError>),
}

impl WebError {
    pub fn page(error: PageError) -> Self {
        WebError::Page(error)
    }

    /// JSON and redirects need no page: no templates, no language.
    fn renders_itself(&self) -> bool {
        matches!(
            self,
            WebError::Token(_) | WebError::Bearer(_) | WebError::Redirect(_)
        )
    }

    /// Shown in `lang` (when the request named its language where the renderer cannot see it,
    /// in a form body or in the app's request).
    pub fn in_lang(self, lang: &'static str) -> Self {
        match self {
            WebError::InLang(_, inner) => WebError::InLang(lang, inner),
            other => WebError::InLang(lang, Box::new(other)),
        }
    }
}

impl From<PageError> for WebError {
    fn from(error: PageError) -> Self {
        WebError::page(error)
    }
}

impl From<InternalError> for WebError {
    fn from(error: InternalError) -> Self {
        WebError::Internal(error)
    }
}

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> Self {
        WebError::Internal(error.into())
    }
}

impl From<crate::admin::AdminError> for WebError {
    /// What a console handler did not answer itself: an unknown id is a 404, a refused request
    /// a 400 page, anything else ours.
    fn from(error: crate::admin::AdminError) -> Self {
        use crate::admin::AdminError;
        match error {
            AdminError::NotFound(_) => WebError::NotFound,
            AdminError::Invalid(_) | AdminError::Conflict(_) => {
                WebError::page(PageError::BadRequest)
            }
            AdminError::Store(e) => e.into(),
            other => internal(other),
        }
    }
}

impl From<AuthorizeError> for WebError {
    fn from(error: AuthorizeError) -> Self {
        WebError::Authorize(error)
    }
}

impl From<TokenError> for WebError {
    fn from(error: TokenError) -> Self {
        WebError::Token(error)
    }
}

impl From<BearerError> for WebError {
    fn from(error: BearerError) -> Self {
        WebError::Bearer(error)
    }
}

/// Wraps an error of another layer that is ours, not the caller's, keeping its cause.
pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> WebError {
    WebError::Internal(InternalError::other(error))
}

/// An error left in a response for [`render_errors`].
#[derive(Clone)]
struct Unrendered(Arc<Mutex<Option<WebError>>>);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Token(error) => token_error(error),
            WebError::Bearer(error) => bearer_error(error),
            WebError::Redirect(location) => super::pages::redirect_see_other(&location),
            WebError::InLang(_, inner) if inner.renders_itself() => inner.into_response(),
            other => {
                let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                response
                    .extensions_mut()
                    .insert(Unrendered(Arc::new(Mutex::new(Some(other)))));
                response
            }
        }
    }
}

/// Renders the errors handlers left unrendered: pages in the request's language (its `lang` or
/// `ui_locales` parameter, then `Accept-Language`), with the request id as a reference.
pub async fn render_errors(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let query = request.uri().query().unwrap_or_default().to_string();
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let (explicit, ui_locales) = (param("lang"), param("ui_locales"));
    let accept_language = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let request_id = request.extensions().get::<RequestId>().cloned();
    let mut response = next.run(request).await;
    let Some(Unrendered(slot)) = response.extensions_mut().remove::<Unrendered>() else {
        return response;
    };
    let Some(error) = slot.lock().ok().and_then(|mut e| e.take()) else {
        return response;
    };
    let negotiated = negotiate(
        explicit.as_deref(),
        ui_locales.as_deref(),
        accept_language.as_deref(),
        &state.config.default_locale,
    );
    render(&state, error, negotiated, request_id.as_ref())
}

fn render(
    state: &AppState,
    error: WebError,
    negotiated: &'static str,
    request_id: Option<&RequestId>,
) -> Response {
    match error {
        WebError::InLang(lang, inner) => render(state, *inner, lang, request_id),
        WebError::Page(error) => error_page(
            state,
            negotiated,
            StatusCode::BAD_REQUEST,
            error.message_key(),
            None,
        ),
        WebError::Internal(error) => internal_page(state, negotiated, request_id, &error),
        WebError::Forbidden => error_page(
            state,
            negotiated,
            StatusCode::FORBIDDEN,
            "error-forbidden",
            None,
        ),
        WebError::NotFound => error_page(
            state,
            negotiated,
            StatusCode::NOT_FOUND,
            "error-not-found",
            None,
        ),
        WebError::Authorize(AuthorizeError::Page(error)) => {
            render(state, WebError::page(error), negotiated, request_id)
        }
        WebError::Authorize(AuthorizeError::Redirect {
            target,
            error,
            description,
        }) => authorization_response(
            state,
            negotiated,
            &crate::oidc::response::error_response(
                &state.config.issuer,
                &target,
                error,
                &description,
            ),
        ),
        WebError::Authorize(AuthorizeError::Internal(error)) => {
            internal_page(state, negotiated, request_id, &error)
        }
        // Rendered by `into_response` already.
        other => other.into_response(),
    }
}

/// Seconds a client is asked to wait while the database is out of reach.
pub const RETRY_AFTER_SECS: &str = "5";

/// Our own failure: logged with the request id, shown as a reference only. The database being
/// out of reach is a 503 with `Retry-After`, not a 500: nothing is wrong with the request.
pub fn internal_page(
    state: &AppState,
    lang: &str,
    request_id: Option<&RequestId>,
    error: &(dyn std::error::Error + 'static),
) -> Response {
    let id = request_id.map(|r| r.0.as_str()).unwrap_or("-");
    if crate::store::unavailable_in_chain(error) {
        tracing::warn!(request_id = %id, error = %error, "database unavailable");
        let mut response = error_page(
            state,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
            request_id,
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
        return response;
    }
    tracing::error!(request_id = %id, error = %error, "internal error");
    error_page(
        state,
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        "error-internal",
        request_id,
    )
}

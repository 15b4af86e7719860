//! The parts every handler needs, parsed once: the page language, the client's address, a form
//! whose CSRF token checked out, the browser's session, and a client's token-endpoint request.
//! A handler names what it needs in its arguments; a rejection is a [`WebError`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::oidc::dpop::PresentedProof;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

use crate::login::csrf::{self, CSRF_COOKIE};
use crate::login::device::DEVICE_COOKIE;
use crate::login::password::AttemptSource;
use crate::login::sessions::{self, ActiveSession, SESSION_COOKIE};
use crate::oidc::client_auth::PresentedCredentials;
use crate::oidc::{PageError, TokenError};
use crate::render::i18n::negotiate;
use crate::state::AppState;

use super::errors::WebError;
use super::http::{client_ip, cookie};

pub(crate) type AppStateArc = Arc<AppState>;

/// Name–value pairs of a query string or form body, in order, duplicates kept.
pub fn parse_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in `pairs`.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// What decides a page's language: the query's `lang`, the browser's `Accept-Language`, and the
/// configured default; a form's `lang` field or an app's `ui_locales` come first when given.
#[derive(Debug, Clone)]
pub struct Lang {
    query: Option<String>,
    accept: Option<String>,
    default: String,
}

impl Lang {
    /// `explicit` (a form's `lang`), the query's `lang`, `ui_locales`, `Accept-Language`, the
    /// default.
    pub fn pick(&self, explicit: Option<&str>, ui_locales: Option<&str>) -> &'static str {
        negotiate(
            explicit.or(self.query.as_deref()),
            ui_locales,
            self.accept.as_deref(),
            &self.default,
        )
    }

    /// The language of a page with nothing else to go by.
    pub fn page(&self) -> &'static str {
        self.pick(None, None)
    }

    /// A logged-in person's page: `explicit`, the query's `lang`, then their own language.
    pub fn for_user(&self, explicit: Option<&str>, active: &ActiveSession) -> &'static str {
        self.pick(
            explicit
                .or(self.query.as_deref())
                .or(Some(active.user.locale.as_str())),
            None,
        )
    }
}

impl FromRequestParts<AppStateArc> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppStateArc,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        });
        Ok(Lang {
            query,
            accept: accept_language(&parts.headers).map(str::to_string),
            default: state.config.default_locale.clone(),
        })
    }
}

/// The client's address (the peer, or what a trusted proxy says) and the browser's device cookie:
/// where a password attempt comes from.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    device_cookie: Option<String>,
}

impl Client {
    pub fn attempt_source(&self) -> AttemptSource<'_> {
        AttemptSource {
            ip: self.ip,
            device_cookie: self.device_cookie.as_deref(),
        }
    }
}

impl FromRequestParts<AppStateArc> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppStateArc,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned();
        Ok(Client {
            ip: client_ip(&state.config, peer.as_ref(), &parts.headers),
            device_cookie: cookie(&parts.headers, DEVICE_COOKIE).map(str::to_string),
        })
    }
}

/// A form body (`application/x-www-form-urlencoded`) whose CSRF token belongs to this browser's
/// CSRF cookie. Rejected with the CSRF error page, in the form's language.
#[derive(Debug, Clone)]
pub struct CsrfForm(pub Vec<(String, String)>);

impl CsrfForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        field(&self.0, name)
    }

    /// The language the page that sent the form was in.
    pub fn lang(&self) -> Option<&str> {
        self.get("lang")
    }
}

impl FromRequest<AppStateArc> for CsrfForm {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppStateArc) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| WebError::page(PageError::BadRequest))?;
        let pairs = parse_pairs(&body);
        if !csrf::verify(state, cookie(&headers, CSRF_COOKIE), field(&pairs, "csrf")) {
            let lang = negotiate(
                field(&pairs, "lang"),
                None,
                accept_language(&headers),
                &state.config.default_locale,
            );
            return Err(WebError::page(PageError::InvalidCsrf).in_lang(lang));
        }
        Ok(CsrfForm(pairs))
    }
}

/// The browser's live session, if it has one.
pub struct MaybeSession(pub Option<ActiveSession>);

impl FromRequestParts<AppStateArc> for MaybeSession {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppStateArc,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeSession(
            sessions::current(state, cookie(&parts.headers, SESSION_COOKIE)).await?,
        ))
    }
}

/// The browser's live session; without one, the login page, which comes back here (for a page)
/// or to Mina uppgifter (for a form).
pub struct Session(pub ActiveSession);

impl FromRequestParts<AppStateArc> for Session {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppStateArc,
    ) -> Result<Self, Self::Rejection> {
        if let Some(active) =
            sessions::current(state, cookie(&parts.headers, SESSION_COOKIE)).await?
        {
            return Ok(Session(active));
        }
        let back = match parts.method {
            Method::GET => parts.uri.path().to_string(),
            _ => "/account".to_string(),
        };
        let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
        let lang = parts
            .uri
            .query()
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "lang")
                    .map(|(_, v)| format!("&lang={v}"))
            })
            .unwrap_or_default();
        Err(WebError::Redirect(format!("/login?next={next}{lang}")))
    }
}

/// A client's request to the token, revocation or introspection endpoint: its form (each
/// parameter at most once) and the credentials it presented (RFC 6749 §2.3, RFC 7523).
pub struct ClientRequest {
    pub credentials: PresentedCredentials,
    pub form: HashMap<String, String>,
    /// The request's `DPoP` header(s) (RFC 9449): checked by the token and PAR endpoints.
    pub dpop: PresentedProof,
}

impl ClientRequest {
    /// Parses the request; errors are the endpoint's JSON errors.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<ClientRequest, TokenError> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(TokenError::invalid_request(
                "The request must be application/x-www-form-urlencoded.",
            ));
        }
        let mut form: HashMap<String, String> = HashMap::new();
        for (k, v) in parse_pairs(body) {
            // RFC 8707 lets `resource` repeat; the values are kept space-separated (a URI has
            // no spaces, and one with spaces is refused as a resource later).
            if k == "resource"
                && let Some(earlier) = form.get_mut("resource")
            {
                earlier.push(' ');
                earlier.push_str(&v);
                continue;
            }
            if form.insert(k.clone(), v).is_some() {
                return Err(TokenError::invalid_request(format!(
                    "The parameter {k} was sent more than once."
                )));
            }
        }
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let credentials = PresentedCredentials::from_request(authorization, &form)?;
        Ok(ClientRequest {
            credentials,
            form,
            dpop: dpop_proof(headers),
        })
    }
}

impl FromRequest<AppStateArc> for ClientRequest {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppStateArc) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| TokenError::invalid_request("The request body could not be read."))?;
        Ok(ClientRequest::parse(&headers, &body)?)
    }
}

/// A client's request to the token, revocation or introspection endpoint, the client
/// authenticated (secret, assertion or public client) for the endpoint it was sent to.
pub struct AuthenticatedClient {
    pub client: std::sync::Arc<crate::store::Client>,
    pub form: HashMap<String, String>,
    pub dpop: PresentedProof,
}

/// The request's `DPoP` header(s), as RFC 9449 §4.3 wants them counted.
pub fn dpop_proof(headers: &HeaderMap) -> PresentedProof {
    PresentedProof::from_header_values(headers.get_all("dpop").iter().map(|v| v.to_str().ok()))
}

impl FromRequest<AppStateArc> for AuthenticatedClient {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppStateArc) -> Result<Self, Self::Rejection> {
        let endpoint = format!("{}{}", state.config.issuer, request.uri().path());
        let parsed = ClientRequest::from_request(request, state).await?;
        let client =
            crate::oidc::client_auth::authenticate(state, &parsed.credentials, &endpoint).await?;
        Ok(AuthenticatedClient {
            client,
            form: parsed.form,
            dpop: parsed.dpop,
        })
    }
}

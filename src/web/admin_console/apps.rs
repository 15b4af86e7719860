//! The console's apps (the OAuth clients that log people in through us): the list, registering
//! one, an app's page (its settings, how to configure it, editing it), a new secret, and deleting
//! it once its name has been typed. A secret is shown once, in the answer to the form that made
//! it: never in a URL, a redirect or a later page.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::account::names::validate_name;
use crate::admin::AdminError;
use crate::admin::clients::{self, ClientView, GRANT_TYPES, NewClient, validate_redirect_uri};
use crate::admin::roles::Area;
use crate::oidc::scopes::{ADMIN_SCOPES, DEFAULT_CLIENT_SCOPES, SUPPORTED_SCOPES};
use crate::render::activity::swedish_time;
use crate::state::AppState;

use super::super::errors::WebError;
use super::super::extract::Lang;
use super::super::pages::redirect_see_other;
use super::gate::{Console, ConsoleForm};
use super::{ConsolePage, Section, with_notice};

pub const PATH: &str = "/admin/apps";
pub const NEW_PATH: &str = "/admin/apps/new";

/// Client authentication methods the form offers. `private_key_jwt` needs the app's public keys,
/// which only the admin API and the CLI take: it is offered only to an app that has them.
const FORM_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// A notice after a change (`?notice=`), as its text key and whether it reports a problem.
fn notice(value: Option<&str>) -> (Option<&'static str>, bool) {
    match value {
        Some("created") => (Some("console-notice-app-created"), false),
        Some("updated") => (Some("console-notice-app-updated"), false),
        Some("deleted") => (Some("console-notice-app-deleted"), false),
        Some("confirm-first") => (Some("console-problem-app-rotate-confirm"), true),
        Some("no-secret") => (Some("console-problem-app-no-secret"), true),
        _ => (None, false),
    }
}

/// Another method on an apps route: refused like the routes themselves to a role without the
/// apps (support), and unknown to an administrator, like everywhere else in the console.
pub async fn unknown(console: Console) -> WebError {
    match console.require(Area::Clients) {
        Ok(()) => WebError::NotFound,
        Err(refused) => refused,
    }
}

pub(super) fn app_path(id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("{PATH}/{id}")
}

/// Whether the app authenticates with a secret we hold (a hash of), so a new one can be made.
fn has_secret(view: &ClientView) -> bool {
    matches!(
        view.token_endpoint_auth_method.as_str(),
        "client_secret_basic" | "client_secret_post"
    )
}

/// Scopes an app may be allowed, in the form's order, with the text key describing each to a
/// person (`None` for the admin API's, which are shown by name).
fn offered_scopes(state: &AppState) -> Vec<(String, Option<&'static str>)> {
    let mut scopes: Vec<(String, Option<&'static str>)> = SUPPORTED_SCOPES
        .iter()
        .map(|s| {
            let key = match *s {
                "openid" => "scope-openid",
                "profile" => "scope-profile",
                "email" => "scope-email",
                _ => "scope-offline_access",
            };
            (s.to_string(), Some(key))
        })
        .collect();
    if state.config.bankid.enabled() {
        scopes.push((
            state.config.bankid.personnummer_scope.clone(),
            Some("scope-personnummer"),
        ));
    }
    scopes.extend(ADMIN_SCOPES.iter().map(|s| (s.to_string(), None)));
    scopes
}

/// The non-empty lines of a text area, trimmed, each once.
fn lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|seen| seen == line) {
            out.push(line.to_string());
        }
    }
    out
}

/// The app form as typed (kept when it is refused) and what is wrong with it, by field.
#[derive(Debug, Clone, Default)]
struct AppForm {
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: Vec<String>,
    grants: Vec<String>,
    auth_method: String,
    third_party: bool,
    backchannel_logout_uri: String,
    backchannel_session_required: bool,
    /// Authorization requests only through `/par` (RFC 9126).
    require_par: bool,
    /// Token requests only with a DPoP proof (RFC 9449 §5.2).
    require_dpop: bool,
    /// DPoP proofs only with a nonce from us (RFC 9449 §8).
    require_dpop_nonce: bool,
    /// (field, text key), at most one per field.
    errors: Vec<(&'static str, &'static str)>,
    /// The values a field's error is about (the refused addresses, say), by field.
    refused: Vec<(&'static str, String)>,
}

impl AppForm {
    /// A new app's form: the usual login app (code flow with refresh, a secret, first-party).
    fn blank() -> AppForm {
        AppForm {
            scopes: DEFAULT_CLIENT_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            grants: vec!["authorization_code".into(), "refresh_token".into()],
            auth_method: "client_secret_basic".into(),
            ..Default::default()
        }
    }

    fn of(view: &ClientView) -> AppForm {
        AppForm {
            name: view.name.clone(),
            redirect_uris: view.redirect_uris.join("\n"),
            post_logout_redirect_uris: view.post_logout_redirect_uris.join("\n"),
            scopes: view.scopes.clone(),
            grants: view.grant_types.clone(),
            auth_method: view.token_endpoint_auth_method.clone(),
            third_party: !view.first_party,
            backchannel_logout_uri: view.backchannel_logout_uri.clone().unwrap_or_default(),
            backchannel_session_required: view.backchannel_logout_session_required,
            require_par: view.require_pushed_authorization_requests,
            require_dpop: view.dpop_bound_access_tokens,
            require_dpop_nonce: view.require_dpop_nonce,
            ..Default::default()
        }
    }

    fn typed(form: &ConsoleForm) -> AppForm {
        let all = |name: &str| -> Vec<String> {
            form.fields
                .iter()
                .filter(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
                .collect()
        };
        let text = |name: &str| form.get(name).unwrap_or_default().to_string();
        AppForm {
            name: text("name"),
            redirect_uris: text("redirect_uris"),
            post_logout_redirect_uris: text("post_logout_redirect_uris"),
            scopes: all("scope"),
            grants: all("grant"),
            auth_method: text("auth_method").trim().to_string(),
            third_party: form.get("party") == Some("third"),
            backchannel_logout_uri: text("backchannel_logout_uri"),
            backchannel_session_required: form.get("backchannel_session_required") == Some("yes"),
            require_par: form.get("require_par") == Some("yes"),
            require_dpop: form.get("require_dpop") == Some("yes"),
            require_dpop_nonce: form.get("require_dpop_nonce") == Some("yes"),
            ..Default::default()
        }
    }

    /// Writes what was typed over `spec` (a new app's, or an existing app's settings).
    fn apply(&self, spec: &mut NewClient) {
        spec.name = self.name.clone();
        spec.redirect_uris = lines(&self.redirect_uris);
        spec.post_logout_redirect_uris = lines(&self.post_logout_redirect_uris);
        spec.scopes = self.scopes.clone();
        // The service reads no grants as "the usual ones"; in this form it means none was
        // ticked, so it is sent as a grant it refuses: nothing is saved, and every other field
        // is still checked in the same round.
        spec.grant_types = if self.grants.is_empty() {
            vec![String::new()]
        } else {
            self.grants.clone()
        };
        spec.public = self.auth_method == "none";
        spec.token_endpoint_auth_method =
            (!self.auth_method.is_empty()).then(|| self.auth_method.clone());
        spec.third_party = self.third_party;
        let backchannel = self.backchannel_logout_uri.trim();
        spec.backchannel_logout_uri = (!backchannel.is_empty()).then(|| backchannel.to_string());
        spec.backchannel_logout_session_required = self.backchannel_session_required;
        spec.require_pushed_authorization_requests = self.require_par;
        spec.dpop_bound_access_tokens = self.require_dpop;
        spec.require_dpop_nonce = self.require_dpop_nonce;
    }

    fn new_client(&self) -> NewClient {
        let mut spec = NewClient::default();
        self.apply(&mut spec);
        spec
    }

    fn refuse(&mut self, field: &'static str, key: &'static str) {
        if !self.errors.iter().any(|(f, _)| *f == field) {
            self.errors.push((field, key));
        }
    }

    /// Turns the service's refusal into messages by field, in the person's language: the
    /// service says which field, the form's values say which of its reasons applies.
    fn explain(&mut self, state: &AppState, problems: &[crate::admin::FieldProblem]) {
        let offered = offered_scopes(state);
        for problem in problems {
            match problem.field.as_str() {
                "name" => {
                    let key = validate_name(&self.name)
                        .err()
                        .map_or("invalid-name", |p| p.message_key());
                    self.refuse("name", key);
                }
                "redirect_uris" => {
                    let uris = lines(&self.redirect_uris);
                    let bad: Vec<String> = uris
                        .iter()
                        .filter(|u| validate_redirect_uri(u).is_err())
                        .cloned()
                        .collect();
                    if bad.is_empty() {
                        self.refuse("redirect_uris", "console-app-redirect-required");
                    } else {
                        self.refuse("redirect_uris", "console-app-redirect-invalid");
                        self.refused
                            .extend(bad.into_iter().map(|u| ("redirect_uris", u)));
                    }
                }
                "post_logout_redirect_uris" => {
                    self.refuse("post_logout_redirect_uris", "console-app-redirect-invalid");
                    let bad = lines(&self.post_logout_redirect_uris)
                        .into_iter()
                        .filter(|u| validate_redirect_uri(u).is_err());
                    self.refused
                        .extend(bad.map(|u| ("post_logout_redirect_uris", u)));
                }
                "scopes" => {
                    let unknown = self
                        .scopes
                        .iter()
                        .any(|s| !offered.iter().any(|(o, _)| o == s));
                    let key = if unknown {
                        "console-app-scopes-unknown"
                    } else {
                        "console-app-scopes-admin"
                    };
                    self.refuse("scopes", key);
                }
                "grant_types" => {
                    let key = if self.grants.is_empty() {
                        "console-app-grants-none"
                    } else if self
                        .grants
                        .iter()
                        .any(|g| !GRANT_TYPES.contains(&g.as_str()))
                    {
                        "console-app-grants-unknown"
                    } else {
                        "console-app-grants-public"
                    };
                    self.refuse("grants", key);
                }
                "token_endpoint_auth_method" => {
                    self.refuse("auth_method", "console-app-auth-method-invalid");
                }
                "jwks" | "jwks_uri" => {
                    self.refuse("auth_method", "console-app-auth-method-keys");
                }
                "backchannel_logout_uri" => {
                    self.refuse("backchannel_logout_uri", "console-app-backchannel-invalid");
                }
                // Settings the form does not show (an app's resources, set through the API).
                _ => self.refuse("other", "console-app-other-invalid"),
            }
        }
    }

    fn error(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, key)| *key)
    }

    fn refused_values(&self, field: &str) -> Vec<String> {
        self.refused
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The form's values for the template; `keys_registered` when the app has public keys of
    /// its own, so `private_key_jwt` can be kept.
    fn context(&self, state: &AppState, keys_registered: bool) -> Value {
        let offered = offered_scopes(state);
        let mut scopes: Vec<Value> = offered
            .iter()
            .map(|(value, key)| {
                context! {
                    checked => self.scopes.contains(value),
                    value => value.clone(),
                    key => *key,
                }
            })
            .collect();
        // A scope the app has that is no longer offered (the personnummer scope after BankID
        // was turned off) stays in the form, ticked and marked, so saving does not drop it
        // unseen: the service refuses it until it is unticked.
        scopes.extend(
            self.scopes
                .iter()
                .filter(|s| !offered.iter().any(|(o, _)| o == *s))
                .map(|s| {
                    context! {
                        checked => true,
                        value => s.clone(),
                        key => "console-app-scope-unavailable",
                    }
                }),
        );
        let grants: Vec<Value> = GRANT_TYPES
            .iter()
            .map(|g| context! { value => *g, checked => self.grants.iter().any(|c| c == g) })
            .collect();
        let mut methods: Vec<&str> = FORM_AUTH_METHODS.to_vec();
        if keys_registered || self.auth_method == "private_key_jwt" {
            methods.push("private_key_jwt");
        }
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|(field, key)| context! { field => *field, key => *key })
            .collect();
        context! {
            name => self.name.clone(),
            redirect_uris => self.redirect_uris.clone(),
            post_logout_redirect_uris => self.post_logout_redirect_uris.clone(),
            scopes => scopes,
            grants => grants,
            auth_methods => methods,
            auth_method => self.auth_method.clone(),
            third_party => self.third_party,
            backchannel_logout_uri => self.backchannel_logout_uri.clone(),
            backchannel_session_required => self.backchannel_session_required,
            require_par => self.require_par,
            require_dpop => self.require_dpop,
            require_dpop_nonce => self.require_dpop_nonce,
            invalid => !self.errors.is_empty(),
            errors => errors,
            name_error => self.error("name"),
            redirect_uris_error => self.error("redirect_uris"),
            redirect_uris_refused => self.refused_values("redirect_uris"),
            post_logout_error => self.error("post_logout_redirect_uris"),
            post_logout_refused => self.refused_values("post_logout_redirect_uris"),
            scopes_error => self.error("scopes"),
            grants_error => self.error("grants"),
            auth_method_error => self.error("auth_method"),
            backchannel_error => self.error("backchannel_logout_uri"),
            other_error => self.error("other"),
        }
    }
}

fn row(view: &ClientView) -> Value {
    context! {
        name => view.name.clone(),
        client_id => view.client_id.clone(),
        href => app_path(&view.client_id),
        first_party => view.first_party,
        public => view.public,
        grants => view.grant_types.clone(),
    }
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    console.require(Area::Clients)?;
    let lang = lang.for_user(None, &console.active);
    let mut apps = clients::list(&state)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    apps.sort_by_key(|a| (a.name.to_lowercase(), a.client_id.clone()));
    let (notice_key, notice_is_problem) = notice(query.notice.as_deref());
    let extra = context! {
        apps => apps.iter().map(row).collect::<Vec<_>>(),
        notice_key => notice_key,
        notice_is_problem => notice_is_problem,
    };
    Ok(ConsolePage {
        console: &console,
        lang,
        section: Section::Apps,
        self_path: PATH,
        template: "pages/admin/apps.html",
        status: StatusCode::OK,
    }
    .render(&state, &headers, extra))
}

fn render_new(
    state: &AppState,
    headers: &HeaderMap,
    console: &Console,
    lang: &'static str,
    status: StatusCode,
    form: &AppForm,
) -> Response {
    let extra = context! { form => form.context(state, false) };
    ConsolePage {
        console,
        lang,
        section: Section::Apps,
        self_path: NEW_PATH,
        template: "pages/admin/app_new.html",
        status,
    }
    .render(state, headers, extra)
}

pub async fn new_page(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    console.require(Area::Clients)?;
    let lang = lang.for_user(None, &console.active);
    Ok(render_new(
        &state,
        &headers,
        &console,
        lang,
        StatusCode::OK,
        &AppForm::blank(),
    ))
}

/// The page that shows a secret, once: in the answer to the form that made it, never stored
/// by the browser or a proxy.
fn render_secret(
    state: &AppState,
    headers: &HeaderMap,
    console: &Console,
    lang: &'static str,
    view: &ClientView,
    secret: &str,
    created: bool,
) -> Response {
    let path = app_path(&view.client_id);
    let extra = context! {
        app => context! {
            name => view.name.clone(),
            client_id => view.client_id.clone(),
            href => path.clone(),
        },
        secret => secret,
        created => created,
    };
    let mut response = ConsolePage {
        console,
        lang,
        section: Section::Apps,
        // The language switch must not repeat the POST: it leads to the app's page.
        self_path: &path,
        template: "pages/admin/app_secret.html",
        status: StatusCode::OK,
    }
    .render(state, headers, extra);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    form.console.require(Area::Clients)?;
    let lang = lang.for_user(form.lang(), &form.console.active);
    let mut typed = AppForm::typed(&form);
    match clients::create_as(&state, &form.console.caller(), typed.new_client()).await {
        Ok(view) => {
            return Ok(match &view.client_secret {
                Some(secret) => {
                    render_secret(&state, &headers, &form.console, lang, &view, secret, true)
                }
                None => {
                    redirect_see_other(&with_notice(&app_path(&view.client_id), "created", lang))
                }
            });
        }
        Err(AdminError::Invalid(problems)) => typed.explain(&state, &problems),
        Err(other) => return Err(WebError::from(other).in_lang(lang)),
    }
    Ok(render_new(
        &state,
        &headers,
        &form.console,
        lang,
        StatusCode::BAD_REQUEST,
        &typed,
    ))
}

/// An app's page: what it is, how to configure it, the edit form (`edit`, as typed when it was
/// refused), a new secret and deleting it.
struct AppView<'a> {
    app: ClientView,
    edit: AppForm,
    notice: Option<&'a str>,
    delete_error: bool,
    status: StatusCode,
}

/// Settings for the app's own configuration, in the environment-variable style most OpenID
/// Connect libraries' examples use; the secret is a placeholder, it is never shown again.
fn snippet(state: &AppState, lang: &str, view: &ClientView) -> String {
    let issuer = state.config.issuer.trim_end_matches('/');
    let mut out = vec![
        format!("OIDC_ISSUER={issuer}"),
        format!("OIDC_DISCOVERY_URL={issuer}/.well-known/openid-configuration"),
        format!("OIDC_CLIENT_ID={}", view.client_id),
    ];
    if has_secret(view) {
        let placeholder = state
            .templates
            .text(lang, "console-app-snippet-secret-placeholder");
        out.push(format!("OIDC_CLIENT_SECRET={placeholder}"));
    }
    out.push(format!(
        "OIDC_TOKEN_ENDPOINT_AUTH_METHOD={}",
        view.token_endpoint_auth_method
    ));
    if let Some(uri) = view.redirect_uris.first() {
        out.push(format!("OIDC_REDIRECT_URI={uri}"));
    }
    if let Some(uri) = view.post_logout_redirect_uris.first() {
        out.push(format!("OIDC_POST_LOGOUT_REDIRECT_URI={uri}"));
    }
    if !view.scopes.is_empty() {
        out.push(format!("OIDC_SCOPES=\"{}\"", view.scopes.join(" ")));
    }
    if view.public {
        out.push("OIDC_PKCE=S256".to_string());
    }
    out.join("\n")
}

fn render_app(
    state: &AppState,
    headers: &HeaderMap,
    console: &Console,
    lang: &'static str,
    view: AppView<'_>,
) -> Response {
    let app = &view.app;
    let path = app_path(&app.client_id);
    let (notice_key, notice_is_problem) = notice(view.notice);
    let issuer = state.config.issuer.trim_end_matches('/');
    let extra = context! {
        app => context! {
            name => app.name.clone(),
            client_id => app.client_id.clone(),
            public => app.public,
            first_party => app.first_party,
            auth_method => app.token_endpoint_auth_method.clone(),
            has_secret => has_secret(app),
            grants => app.grant_types.clone(),
            scopes => app.scopes.clone(),
            redirect_uris => app.redirect_uris.clone(),
            post_logout_redirect_uris => app.post_logout_redirect_uris.clone(),
            backchannel_logout_uri => app.backchannel_logout_uri.clone(),
            resources => app.resources.clone(),
            require_par => app.require_pushed_authorization_requests,
            require_dpop => app.dpop_bound_access_tokens,
            require_dpop_nonce => app.require_dpop_nonce,
            created => swedish_time(app.created_at),
        },
        base => path.clone(),
        discovery_url => format!("{issuer}/.well-known/openid-configuration"),
        snippet => snippet(state, lang, app),
        form => view.edit.context(state, app.has_jwks || app.jwks_uri.is_some()),
        delete_error => view.delete_error,
        notice_key => notice_key,
        notice_is_problem => notice_is_problem,
    };
    ConsolePage {
        console,
        lang,
        section: Section::Apps,
        self_path: &path,
        template: "pages/admin/app.html",
        status: view.status,
    }
    .render(state, headers, extra)
}

pub async fn app_page(
    State(state): State<Arc<AppState>>,
    console: Console,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    console.require(Area::Clients)?;
    let lang = lang.for_user(None, &console.active);
    let app = clients::show(&state, &id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    let view = AppView {
        edit: AppForm::of(&app),
        app,
        notice: query.notice.as_deref(),
        delete_error: false,
        status: StatusCode::OK,
    };
    Ok(render_app(&state, &headers, &console, lang, view))
}

/// The administrator's role and the form's language, for a change to an app.
fn admitted(lang: Lang, form: &ConsoleForm) -> Result<&'static str, WebError> {
    form.console.require(Area::Clients)?;
    Ok(lang.for_user(form.lang(), &form.console.active))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    let lang = admitted(lang, &form)?;
    let mut typed = AppForm::typed(&form);
    let outcome = clients::update(&state, &form.console.caller(), &id, |spec| {
        typed.apply(spec)
    })
    .await;
    match outcome {
        // An app that comes to need a secret (it was public) gets one: shown now, only now.
        Ok(view) => {
            return Ok(match &view.client_secret {
                Some(secret) => {
                    render_secret(&state, &headers, &form.console, lang, &view, secret, false)
                }
                None => redirect_see_other(&with_notice(&app_path(&id), "updated", lang)),
            });
        }
        Err(AdminError::Invalid(problems)) => typed.explain(&state, &problems),
        Err(other) => return Err(WebError::from(other).in_lang(lang)),
    }
    let app = clients::show(&state, &id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    let view = AppView {
        app,
        edit: typed,
        notice: None,
        delete_error: false,
        status: StatusCode::BAD_REQUEST,
    };
    Ok(render_app(&state, &headers, &form.console, lang, view))
}

/// A new secret, once the box saying so is ticked; the old one stops working at once.
pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    let lang = admitted(lang, &form)?;
    if form.get("confirm") != Some("yes") {
        // Only after the app is known to exist: an unknown id is a 404 like its page.
        clients::show(&state, &id)
            .await
            .map_err(|e| WebError::from(e).in_lang(lang))?;
        return Ok(redirect_see_other(&with_notice(
            &app_path(&id),
            "confirm-first",
            lang,
        )));
    }
    match clients::rotate_secret(&state, &form.console.caller(), &id).await {
        Ok(view) => match &view.client_secret {
            Some(secret) => Ok(render_secret(
                &state,
                &headers,
                &form.console,
                lang,
                &view,
                secret,
                false,
            )),
            None => Ok(redirect_see_other(&with_notice(
                &app_path(&id),
                "no-secret",
                lang,
            ))),
        },
        // A public app, or one that authenticates with its own keys, has no secret.
        Err(AdminError::Conflict(_)) => Ok(redirect_see_other(&with_notice(
            &app_path(&id),
            "no-secret",
            lang,
        ))),
        Err(other) => Err(WebError::from(other).in_lang(lang)),
    }
}

/// Deletes the app with its grants and tokens, once its name has been typed exactly.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, WebError> {
    let lang = admitted(lang, &form)?;
    let app = clients::show(&state, &id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    let typed = form.get("confirm_name").unwrap_or_default().trim();
    if typed != app.name {
        let view = AppView {
            edit: AppForm::of(&app),
            app,
            notice: None,
            delete_error: true,
            status: StatusCode::BAD_REQUEST,
        };
        return Ok(render_app(&state, &headers, &form.console, lang, view));
    }
    clients::delete(&state, &form.console.caller(), &app.client_id)
        .await
        .map_err(|e| WebError::from(e).in_lang(lang))?;
    Ok(redirect_see_other(&with_notice(PATH, "deleted", lang)))
}

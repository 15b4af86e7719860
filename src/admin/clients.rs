//! Registering relying parties.

use serde::Serialize;

use crate::audit::{Caller, kinds};
use crate::crypto::random_token;
use crate::oidc::scopes::{
    ADMIN_SCOPES, DEFAULT_CLIENT_SCOPES, SUPPORTED_SCOPES, is_supported_scope,
};
use crate::state::AppState;
use crate::store::Client;

use super::AdminError;

#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub scopes: Vec<String>,
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt` or `none`.
    pub token_endpoint_auth_method: Option<String>,
    /// Third-party clients get a consent screen; first-party ones (the default) do not.
    pub third_party: bool,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    /// A JWK Set (JSON text) with the client's public keys, for `private_key_jwt`.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    /// Grants the client may use; empty means `authorization_code` and `refresh_token`.
    pub grant_types: Vec<String>,
    /// Resource indicators (RFC 8707) the client may ask tokens for; the first is its default
    /// audience. A client allowed admin scopes gets the admin API by default.
    pub resources: Vec<String>,
    /// RFC 9126 §6: the client's authorization requests are accepted only when pushed to `/par`.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: every token request must carry a DPoP proof, so every token is bound.
    pub dpop_bound_access_tokens: bool,
    /// RFC 9449 §8: the client's DPoP proofs must carry a nonce from this server.
    pub require_dpop_nonce: bool,
}

/// Grants a client may be allowed.
pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

/// Token endpoint authentication methods a client may register.
pub const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

/// A client as shown to admins; `client_secret` only right after creation or rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub token_endpoint_auth_method: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    pub has_jwks: bool,
    pub grant_types: Vec<String>,
    pub resources: Vec<String>,
    /// Authorization requests are accepted only through the pushed authorization request
    /// endpoint, `/par` (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Token requests must carry a DPoP proof, so every access token is bound to the client's
    /// key (RFC 9449 `dpop_bound_access_tokens`).
    pub dpop_bound_access_tokens: bool,
    /// DPoP proofs must carry a nonce from this server (RFC 9449 §8).
    pub require_dpop_nonce: bool,
    pub created_at: i64,
}

impl ClientView {
    pub fn of(client: &Client, secret: Option<String>) -> Self {
        ClientView {
            client_id: client.id.clone(),
            name: client.name.clone(),
            client_secret: secret,
            token_endpoint_auth_method: client.token_endpoint_auth_method.clone(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            scopes: client.allowed_scopes.clone(),
            public: client.is_public(),
            first_party: client.first_party,
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: client.backchannel_logout_session_required,
            jwks_uri: client.jwks_uri.clone(),
            has_jwks: client.jwks.is_some(),
            grant_types: client.grant_types.clone(),
            resources: client.resources.clone(),
            require_pushed_authorization_requests: client.require_pushed_authorization_requests,
            dpop_bound_access_tokens: client.dpop_bound_access_tokens,
            require_dpop_nonce: client.require_dpop_nonce,
            created_at: client.created_at,
        }
    }
}

/// Redirect URIs must be absolute, without fragment; https unless they point at this machine
/// (or use a private-use scheme for native apps, RFC 8252).
pub fn validate_redirect_uri(raw: &str) -> Result<(), AdminError> {
    let url = absolute_without_fragment("redirect URI", raw)?;
    match url.scheme() {
        _ if https_or_loopback(&url) => Ok(()),
        "http" => Err(invalid(
            "redirect URI",
            raw,
            "must use https (http only for localhost)",
        )),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(invalid(
            "redirect URI",
            raw,
            "must use https, http on localhost, or a reverse-domain private scheme",
        )),
    }
}

/// Back-channel logout and JWKS URIs: absolute, no fragment, https unless on this machine.
fn validate_https_or_loopback(what: &str, raw: &str) -> Result<(), AdminError> {
    let url = absolute_without_fragment(what, raw)?;
    if https_or_loopback(&url) {
        Ok(())
    } else {
        Err(invalid(
            what,
            raw,
            "must use https (http only for localhost)",
        ))
    }
}

fn invalid(what: &str, raw: &str, why: &str) -> AdminError {
    AdminError::invalid(field_of(what), format!("{what} {raw:?}: {why}"))
}

/// The request field a URI problem is about.
fn field_of(what: &str) -> &'static str {
    match what {
        "redirect URI" => "redirect_uris",
        "post-logout redirect URI" => "post_logout_redirect_uris",
        "back-channel logout URI" => "backchannel_logout_uri",
        "JWKS URI" => "jwks_uri",
        "resource" => "resources",
        _ => "request",
    }
}

fn absolute_without_fragment(what: &str, raw: &str) -> Result<url::Url, AdminError> {
    let url = url::Url::parse(raw).map_err(|e| invalid(what, raw, &e.to_string()))?;
    if url.fragment().is_some() {
        return Err(invalid(what, raw, "must not contain a fragment"));
    }
    Ok(url)
}

fn https_or_loopback(url: &url::Url) -> bool {
    url.scheme() == "https"
        || (url.scheme() == "http"
            && crate::config::is_loopback_host(url.host_str().unwrap_or_default()))
}

/// Everything about a client an administrator sets, checked: the fields of a new client, or of
/// an existing one after an update.
fn checked(state: &AppState, id: &str, new: &NewClient) -> Result<Client, AdminError> {
    let mut problems = Vec::new();
    let mut note = |result: Result<(), AdminError>| match result {
        Err(AdminError::Invalid(mut more)) => {
            problems.append(&mut more);
            Ok(())
        }
        other => other,
    };
    let name = match crate::account::names::validate_name(&new.name) {
        Ok(name) => name,
        Err(problem) => {
            note(Err(AdminError::invalid("name", problem.to_string())))?;
            String::new()
        }
    };
    let grant_types: Vec<String> = if new.grant_types.is_empty() {
        vec!["authorization_code".into(), "refresh_token".into()]
    } else {
        new.grant_types.clone()
    };
    if let Some(unknown) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        note(Err(AdminError::invalid(
            "grant_types",
            format!(
                "unknown grant {unknown:?}; supported: {}",
                GRANT_TYPES.join(" ")
            ),
        )))?;
    }
    let uses_redirects = grant_types.iter().any(|g| g == "authorization_code");
    if uses_redirects && new.redirect_uris.is_empty() {
        note(Err(AdminError::invalid(
            "redirect_uris",
            "at least one redirect URI is required for authorization_code",
        )))?;
    }
    for uri in &new.redirect_uris {
        note(validate_redirect_uri(uri))?;
    }
    for uri in &new.post_logout_redirect_uris {
        note(validate_redirect_uri(uri).map_err(|_| {
            invalid(
                "post-logout redirect URI",
                uri,
                "must use https, http on localhost, or a reverse-domain private scheme",
            )
        }))?;
    }
    let mut scopes: Vec<String> = if new.scopes.is_empty() && uses_redirects {
        DEFAULT_CLIENT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        new.scopes.clone()
    };
    if let Some(unknown) = scopes
        .iter()
        .find(|s| !is_supported_scope(&state.config, s) && !ADMIN_SCOPES.contains(&s.as_str()))
    {
        note(Err(AdminError::invalid(
            "scopes",
            format!(
                "unknown scope {unknown:?}; supported: {} {}",
                SUPPORTED_SCOPES.join(" "),
                ADMIN_SCOPES.join(" ")
            ),
        )))?;
    }
    let admin = scopes.iter().any(|s| ADMIN_SCOPES.contains(&s.as_str()));
    if admin && !grant_types.iter().any(|g| g == "client_credentials") {
        note(Err(AdminError::invalid(
            "scopes",
            "admin scopes are for client_credentials tokens: allow that grant",
        )))?;
    }
    if uses_redirects && !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let method = match (&new.token_endpoint_auth_method, new.public) {
        (None, true) => "none".to_string(),
        (None, false) => "client_secret_basic".to_string(),
        (Some(m), public) => {
            if !AUTH_METHODS.contains(&m.as_str()) {
                note(Err(AdminError::invalid(
                    "token_endpoint_auth_method",
                    format!(
                        "unknown token endpoint auth method {m:?}; supported: {}",
                        AUTH_METHODS.join(" ")
                    ),
                )))?;
            }
            if public && m != "none" {
                note(Err(AdminError::invalid(
                    "token_endpoint_auth_method",
                    "a public client authenticates with \"none\"",
                )))?;
            }
            m.clone()
        }
    };
    if method == "none" && grant_types.iter().any(|g| g == "client_credentials") {
        note(Err(AdminError::invalid(
            "grant_types",
            "client_credentials needs a confidential client",
        )))?;
    }
    let jwks = match &new.jwks {
        Some(text) => match crate::crypto::client_jwks::validate_jwks_text(text) {
            Ok(jwks) => Some(jwks),
            Err(e) => {
                note(Err(AdminError::invalid(
                    "jwks",
                    format!("client JWKS: {e}"),
                )))?;
                None
            }
        },
        None => None,
    };
    if let Some(uri) = &new.jwks_uri {
        note(validate_https_or_loopback("JWKS URI", uri))?;
    }
    if method == "private_key_jwt" && new.jwks.is_none() && new.jwks_uri.is_none() {
        note(Err(AdminError::invalid(
            "jwks",
            "private_key_jwt needs the client's keys: --jwks FILE or --jwks-uri URI",
        )))?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        note(validate_https_or_loopback("back-channel logout URI", uri))?;
    }
    let mut resources = new.resources.clone();
    for uri in &resources {
        note(validate_https_or_loopback("resource", uri))?;
    }
    let admin_api = super::api_audience(&state.config.issuer);
    if admin && resources.is_empty() {
        resources.push(admin_api);
    }
    if !problems.is_empty() {
        return Err(AdminError::Invalid(problems));
    }
    Ok(Client {
        id: id.to_string(),
        name,
        secret_hash: None,
        token_endpoint_auth_method: method,
        redirect_uris: new.redirect_uris.clone(),
        post_logout_redirect_uris: new.post_logout_redirect_uris.clone(),
        allowed_scopes: scopes,
        first_party: !new.third_party,
        created_at: state.clock.now(),
        backchannel_logout_uri: new.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: new.backchannel_logout_session_required,
        jwks,
        jwks_uri: new.jwks_uri.clone(),
        grant_types,
        resources,
        require_pushed_authorization_requests: new.require_pushed_authorization_requests,
        dpop_bound_access_tokens: new.dpop_bound_access_tokens,
        require_dpop_nonce: new.require_dpop_nonce,
    })
}

fn needs_secret(method: &str) -> bool {
    matches!(method, "client_secret_basic" | "client_secret_post")
}

/// Registers a client as the operator at the CLI.
pub async fn create(state: &AppState, new: NewClient) -> Result<ClientView, AdminError> {
    create_as(state, &Caller::system(), new).await
}

/// Registers a client; its secret (if it has one) is in the answer and nowhere else.
pub async fn create_as(
    state: &AppState,
    caller: &Caller,
    new: NewClient,
) -> Result<ClientView, AdminError> {
    let mut client = checked(state, &uuid::Uuid::new_v4().to_string(), &new)?;
    let secret = needs_secret(&client.token_endpoint_auth_method)
        .then(|| random_token(state.entropy.as_ref()));
    client.secret_hash = secret.as_ref().map(|s| state.hmac.hash_hex(s.as_bytes()));
    let event = caller
        .event(kinds::CLIENT_CREATED)
        .client(&client.id)
        .detail("grant_types", client.grant_types.clone())
        .at(client.created_at);
    state.store.insert_client(&client, &[event]).await?;
    Ok(ClientView::of(&client, secret))
}

/// Changes a client: every field given replaces the stored one. A client that comes to need a
/// secret (from `none` or `private_key_jwt`) gets a new one, shown in the answer.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    change: impl FnOnce(&mut NewClient),
) -> Result<ClientView, AdminError> {
    let existing = get(state, id).await?;
    let mut spec = NewClient {
        name: existing.name.clone(),
        redirect_uris: existing.redirect_uris.clone(),
        post_logout_redirect_uris: existing.post_logout_redirect_uris.clone(),
        public: existing.is_public(),
        scopes: existing.allowed_scopes.clone(),
        token_endpoint_auth_method: Some(existing.token_endpoint_auth_method.clone()),
        third_party: !existing.first_party,
        backchannel_logout_uri: existing.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: existing.backchannel_logout_session_required,
        jwks: existing.jwks.clone(),
        jwks_uri: existing.jwks_uri.clone(),
        grant_types: existing.grant_types.clone(),
        resources: existing.resources.clone(),
        require_pushed_authorization_requests: existing.require_pushed_authorization_requests,
        dpop_bound_access_tokens: existing.dpop_bound_access_tokens,
        require_dpop_nonce: existing.require_dpop_nonce,
    };
    change(&mut spec);
    let mut client = checked(state, id, &spec)?;
    client.created_at = existing.created_at;
    let mut secret = None;
    client.secret_hash = if needs_secret(&client.token_endpoint_auth_method) {
        match existing.secret_hash.clone() {
            Some(hash) => Some(hash),
            None => {
                let fresh = random_token(state.entropy.as_ref());
                let hash = state.hmac.hash_hex(fresh.as_bytes());
                secret = Some(fresh);
                Some(hash)
            }
        }
    } else {
        None
    };
    let now = state.clock.now();
    let event = caller.event(kinds::CLIENT_UPDATED).client(id).at(now);
    state.store.update_client(&client, &[event]).await?;
    state.clients.forget(id);
    Ok(ClientView::of(&client, secret))
}

pub async fn list(state: &AppState) -> Result<Vec<ClientView>, AdminError> {
    Ok(state
        .store
        .list_clients()
        .await?
        .iter()
        .map(|c| ClientView::of(c, None))
        .collect())
}

async fn get(state: &AppState, id: &str) -> Result<Client, AdminError> {
    state
        .store
        .client_by_id(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no client with id {id:?}")))
}

pub async fn show(state: &AppState, id: &str) -> Result<ClientView, AdminError> {
    Ok(ClientView::of(&get(state, id).await?, None))
}

/// Deletes a client with its grants and tokens.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<(), AdminError> {
    get(state, id).await?;
    if caller.actor == crate::audit::Actor::Client(id.to_string()) {
        // Its own token would die with it, mid-conversation: another client must do it.
        return Err(AdminError::Conflict(
            "a client cannot delete itself; use another admin client".into(),
        ));
    }
    let event = caller
        .event(kinds::CLIENT_DELETED)
        .client(id)
        .at(state.clock.now());
    state.store.delete_client(id, &[event]).await?;
    state.clients.forget(id);
    Ok(())
}

/// A new secret replaces the old one at once.
pub async fn rotate_secret(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ClientView, AdminError> {
    let mut client = get(state, id).await?;
    if !needs_secret(&client.token_endpoint_auth_method) {
        let kind = if client.is_public() {
            "is public".to_string()
        } else {
            format!("authenticates with {}", client.token_endpoint_auth_method)
        };
        return Err(AdminError::Conflict(format!(
            "client {id:?} {kind} and has no secret"
        )));
    }
    let secret = random_token(state.entropy.as_ref());
    let hash = state.hmac.hash_hex(secret.as_bytes());
    let event = caller
        .event(kinds::CLIENT_SECRET_ROTATED)
        .client(id)
        .at(state.clock.now());
    state
        .store
        .set_client_secret_hash(id, &hash, &[event])
        .await?;
    state.clients.forget(id);
    client.secret_hash = Some(hash);
    Ok(ClientView::of(&client, Some(secret)))
}

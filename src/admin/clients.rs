//! Registering relying parties.

use serde::Serialize;

use crate::crypto::random_token;
use crate::oidc::scopes::{DEFAULT_CLIENT_SCOPES, SUPPORTED_SCOPES, is_supported_scope};
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
}

/// Token endpoint authentication methods a client may register.
pub const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

/// A client as shown to admins; `client_secret` only right after creation or rotation.
#[derive(Debug, Serialize)]
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
    pub created_at: i64,
}

impl ClientView {
    fn of(client: &Client, secret: Option<String>) -> Self {
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
    AdminError::Invalid(format!("{what} {raw:?}: {why}"))
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

pub async fn create(state: &AppState, new: NewClient) -> Result<ClientView, AdminError> {
    let name = crate::account::names::validate_name(&new.name)
        .map_err(|problem| AdminError::Invalid(format!("client name: {problem}")))?;
    let name = name.as_str();
    if new.redirect_uris.is_empty() {
        return Err(AdminError::Invalid(
            "at least one redirect URI is required".into(),
        ));
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
    {
        validate_redirect_uri(uri)?;
    }
    let mut scopes: Vec<String> = if new.scopes.is_empty() {
        DEFAULT_CLIENT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        new.scopes.clone()
    };
    if let Some(unknown) = scopes
        .iter()
        .find(|s| !is_supported_scope(&state.config, s))
    {
        return Err(AdminError::Invalid(format!(
            "unknown scope {unknown:?}; supported: {}",
            SUPPORTED_SCOPES.join(" ")
        )));
    }
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let method = match (&new.token_endpoint_auth_method, new.public) {
        (None, true) => "none".to_string(),
        (None, false) => "client_secret_basic".to_string(),
        (Some(m), public) => {
            if !AUTH_METHODS.contains(&m.as_str()) {
                return Err(AdminError::Invalid(format!(
                    "unknown token endpoint auth method {m:?}; supported: {}",
                    AUTH_METHODS.join(" ")
                )));
            }
            if public && m != "none" {
                return Err(AdminError::Invalid(
                    "a public client authenticates with \"none\"".into(),
                ));
            }
            m.clone()
        }
    };
    let jwks = match &new.jwks {
        Some(text) => Some(
            crate::crypto::client_jwks::validate_jwks_text(text)
                .map_err(|e| AdminError::Invalid(format!("client JWKS: {e}")))?,
        ),
        None => None,
    };
    if let Some(uri) = &new.jwks_uri {
        validate_https_or_loopback("JWKS URI", uri)?;
    }
    if method == "private_key_jwt" && jwks.is_none() && new.jwks_uri.is_none() {
        return Err(AdminError::Invalid(
            "private_key_jwt needs the client's keys: --jwks FILE or --jwks-uri URI".into(),
        ));
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        validate_https_or_loopback("back-channel logout URI", uri)?;
    }
    let needs_secret = matches!(
        method.as_str(),
        "client_secret_basic" | "client_secret_post"
    );
    let secret = needs_secret.then(|| random_token(state.entropy.as_ref()));
    let client = Client {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        secret_hash: secret.as_ref().map(|s| state.hmac.hash_hex(s.as_bytes())),
        token_endpoint_auth_method: method,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        allowed_scopes: scopes,
        first_party: !new.third_party,
        created_at: state.clock.now(),
        backchannel_logout_uri: new.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: new.backchannel_logout_session_required,
        jwks,
        jwks_uri: new.jwks_uri.clone(),
    };
    state.store.insert_client(&client).await?;
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

pub async fn delete(state: &AppState, id: &str) -> Result<(), AdminError> {
    get(state, id).await?;
    Ok(state.store.delete_client(id).await?)
}

/// A new secret replaces the old one at once.
pub async fn rotate_secret(state: &AppState, id: &str) -> Result<ClientView, AdminError> {
    let mut client = get(state, id).await?;
    if client.is_public() {
        return Err(AdminError::Invalid(format!(
            "client {id:?} is public and has no secret"
        )));
    }
    let secret = random_token(state.entropy.as_ref());
    let hash = state.hmac.hash_hex(secret.as_bytes());
    state.store.set_client_secret_hash(id, &hash).await?;
    client.secret_hash = Some(hash);
    Ok(ClientView::of(&client, Some(secret)))
}

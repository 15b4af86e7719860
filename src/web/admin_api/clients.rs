//! `/admin/api/v1/clients`: registering and changing the apps that use Leasify ID.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::admin::clients::{self, ClientView, NewClient};
use crate::store::AuditEvent;
use crate::web::extract::AppStateArc;

use super::auth::{AdminCaller, ApiJson};
use super::problem::ApiError;
use super::{created, json, no_content, replayed};

const READ: &str = "admin:clients:read";
const WRITE: &str = "admin:clients:write";

/// A client to register. Omitted lists take their defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (SPA, native app): no secret, PKCE required.
    #[serde(default)]
    pub public: bool,
    /// Default: openid profile email offline_access (for authorization_code clients).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt` or `none`.
    pub token_endpoint_auth_method: Option<String>,
    /// Default: authorization_code and refresh_token.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// RFC 8707 resources for client_credentials tokens; the first is the default audience.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Users see a consent page for a third-party app.
    #[serde(default)]
    pub third_party: bool,
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// The client's public JWK Set, for private_key_jwt.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
    /// Accept the client's authorization requests only when pushed to `/par` first (RFC 9126
    /// §6). Default: false.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Refuse the client's token requests without a DPoP proof, so every access token is bound
    /// to its key (RFC 9449 §5.2). Default: false.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// The client's DPoP proofs must carry a nonce from this server (RFC 9449 §8). Default:
    /// false.
    #[serde(default)]
    pub require_dpop_nonce: bool,
}

/// Fields to change; absent ones stay. `null` clears an optional URI.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
    pub third_party: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub backchannel_logout_uri: Option<Option<String>>,
    pub backchannel_logout_session_required: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub jwks_uri: Option<Option<String>>,
    /// Accept the client's authorization requests only when pushed to `/par` first (RFC 9126
    /// §6).
    pub require_pushed_authorization_requests: Option<bool>,
    /// Refuse the client's token requests without a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: Option<bool>,
    /// The client's DPoP proofs must carry a nonce from this server (RFC 9449 §8).
    pub require_dpop_nonce: Option<bool>,
}

/// Tells a member sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClientPath {
    pub id: String,
}

async fn replay_client(state: &AppStateArc, event: &AuditEvent, status: StatusCode) -> Response {
    match event.client_id.as_deref() {
        Some(id) => match clients::show(state, id).await {
            Ok(client) => replayed(status, &client),
            Err(e) => ApiError::from(e).into_response(),
        },
        None => replayed(StatusCode::NO_CONTENT, &serde_json::json!({})),
    }
}

#[utoipa::path(get, path = "/clients", tag = "clients",
    responses((status = 200, body = Vec<ClientView>)),
    security(("bearer" = ["admin:clients:read"])))]
pub async fn list(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
) -> Result<Response, ApiError> {
    caller.require(READ)?;
    Ok(json(StatusCode::OK, &clients::list(&state).await?))
}

#[utoipa::path(post, path = "/clients", tag = "clients", request_body = CreateClient,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = ClientView, description = "client_secret is shown only here")),
    security(("bearer" = ["admin:clients:write"])))]
pub async fn create(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    ApiJson(body): ApiJson<CreateClient>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if let Some(event) = &caller.replay {
        // The secret exists only as a hash now: a replay cannot show it again.
        return Ok(replay_client(&state, event, StatusCode::CREATED).await);
    }
    let new = NewClient {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        public: body.public,
        scopes: body.scopes,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        third_party: body.third_party,
        backchannel_logout_uri: body.backchannel_logout_uri,
        backchannel_logout_session_required: body.backchannel_logout_session_required,
        jwks: body.jwks.map(|j| j.to_string()),
        jwks_uri: body.jwks_uri,
        grant_types: body.grant_types,
        resources: body.resources,
        require_pushed_authorization_requests: body.require_pushed_authorization_requests,
        dpop_bound_access_tokens: body.dpop_bound_access_tokens,
        require_dpop_nonce: body.require_dpop_nonce,
    };
    let client = clients::create_as(&state, &caller.caller, new).await?;
    Ok(created(
        &format!("/admin/api/v1/clients/{}", client.client_id),
        &client,
    ))
}

#[utoipa::path(get, path = "/clients/{id}", tag = "clients", params(ClientPath),
    responses((status = 200, body = ClientView)),
    security(("bearer" = ["admin:clients:read"])))]
pub async fn get(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<ClientPath>,
) -> Result<Response, ApiError> {
    caller.require(READ)?;
    Ok(json(
        StatusCode::OK,
        &clients::show(&state, &path.id).await?,
    ))
}

#[utoipa::path(patch, path = "/clients/{id}", tag = "clients", params(ClientPath),
    request_body = UpdateClient,
    responses((status = 200, body = ClientView)),
    security(("bearer" = ["admin:clients:write"])))]
pub async fn update(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<ClientPath>,
    ApiJson(body): ApiJson<UpdateClient>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if let Some(event) = &caller.replay {
        return Ok(replay_client(&state, event, StatusCode::OK).await);
    }
    let client = clients::update(&state, &caller.caller, &path.id, |spec| {
        if let Some(v) = body.name {
            spec.name = v;
        }
        if let Some(v) = body.redirect_uris {
            spec.redirect_uris = v;
        }
        if let Some(v) = body.post_logout_redirect_uris {
            spec.post_logout_redirect_uris = v;
        }
        if let Some(v) = body.scopes {
            spec.scopes = v;
        }
        if let Some(v) = body.token_endpoint_auth_method {
            spec.public = v == "none";
            spec.token_endpoint_auth_method = Some(v);
        }
        if let Some(v) = body.grant_types {
            spec.grant_types = v;
        }
        if let Some(v) = body.resources {
            spec.resources = v;
        }
        if let Some(v) = body.third_party {
            spec.third_party = v;
        }
        if let Some(v) = body.backchannel_logout_uri {
            spec.backchannel_logout_uri = v;
        }
        if let Some(v) = body.backchannel_logout_session_required {
            spec.backchannel_logout_session_required = v;
        }
        if let Some(v) = body.jwks {
            spec.jwks = v.map(|j| j.to_string());
        }
        if let Some(v) = body.jwks_uri {
            spec.jwks_uri = v;
        }
        if let Some(v) = body.require_pushed_authorization_requests {
            spec.require_pushed_authorization_requests = v;
        }
        if let Some(v) = body.dpop_bound_access_tokens {
            spec.dpop_bound_access_tokens = v;
        }
        if let Some(v) = body.require_dpop_nonce {
            spec.require_dpop_nonce = v;
        }
    })
    .await?;
    Ok(json(StatusCode::OK, &client))
}

#[utoipa::path(post, path = "/clients/{id}/secret", tag = "clients", params(ClientPath),
    responses((status = 200, body = ClientView, description = "The new client_secret, shown once")),
    security(("bearer" = ["admin:clients:write"])))]
pub async fn rotate_secret(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<ClientPath>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if let Some(event) = &caller.replay {
        return Ok(replay_client(&state, event, StatusCode::OK).await);
    }
    let client = clients::rotate_secret(&state, &caller.caller, &path.id).await?;
    Ok(json(StatusCode::OK, &client))
}

#[utoipa::path(delete, path = "/clients/{id}", tag = "clients", params(ClientPath),
    responses((status = 204, description = "Deleted with its grants and tokens")),
    security(("bearer" = ["admin:clients:write"])))]
pub async fn delete(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<ClientPath>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if caller.replay.is_none() {
        clients::delete(&state, &caller.caller, &path.id).await?;
    }
    Ok(no_content())
}

//! `/admin/api/v1/users`: the portal and support tools manage customers' accounts.

use std::future::Future;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::admin::pages::Page;
use crate::admin::roles::{self, Role};
use crate::admin::users::{self, ConsentView, NewUser, SessionView, UserDetails, UserFilter};
use crate::store::AuditEvent;
use crate::web::extract::AppStateArc;

use super::auth::{AdminCaller, ApiJson, ApiQuery};
use super::problem::ApiError;
use super::{created, json, no_content, replayed};

const READ: &str = "admin:users:read";
const WRITE: &str = "admin:users:write";

/// A new customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    /// `sv` (default) or `en`.
    #[serde(default = "default_locale")]
    pub locale: String,
    /// Send the welcome email with a link to choose a password, in the same transaction.
    #[serde(default)]
    pub invite: bool,
}

fn default_locale() -> String {
    "sv".into()
}

/// Fields to change; absent ones stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub locale: Option<String>,
}

/// An administrator's role in the console.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAdminRole {
    /// `admin` (everything) or `support` (customers' accounts only: no apps, no keys).
    #[schema(example = "support")]
    pub role: String,
}

/// Search and filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// A part of the email or the name, or a whole personnummer (found through its blind index).
    pub q: Option<String>,
    pub disabled: Option<bool>,
    pub has_password: Option<bool>,
    pub bankid_linked: Option<bool>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// A user id, or their email address.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    pub id: String,
}

/// The user an earlier write with the same `Idempotency-Key` was about, as it is now.
async fn replay_user(state: &AppStateArc, event: &AuditEvent, status: StatusCode) -> Response {
    match event.user_id.as_deref() {
        Some(id) => match users::details(state, id).await {
            Ok(user) => replayed(status, &user),
            Err(e) => ApiError::from(e).into_response(),
        },
        None => replayed(StatusCode::NO_CONTENT, &serde_json::json!({})),
    }
}

/// A write that answers with the user: the scope checked, a replay answered from the earlier
/// write's event, otherwise `change` done.
async fn user_write<F>(
    state: &AppStateArc,
    caller: &AdminCaller,
    status: StatusCode,
    change: F,
) -> Result<Response, ApiError>
where
    F: Future<Output = Result<UserDetails, crate::admin::AdminError>>,
{
    caller.require(WRITE)?;
    if let Some(event) = &caller.replay {
        return Ok(replay_user(state, event, status).await);
    }
    Ok(json(status, &change.await?))
}

#[utoipa::path(get, path = "/users", tag = "users", params(UserListParams),
    responses((status = 200, body = Page<UserDetails>)),
    security(("bearer" = ["admin:users:read"])))]
pub async fn list(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    ApiQuery(params): ApiQuery<UserListParams>,
) -> Result<Response, ApiError> {
    caller.require(READ)?;
    let page = users::search(
        &state,
        UserFilter {
            search: params.q,
            disabled: params.disabled,
            has_password: params.has_password,
            bankid_linked: params.bankid_linked,
            cursor: params.cursor,
            limit: params.limit,
        },
    )
    .await?;
    Ok(json(StatusCode::OK, &page))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = UserDetails)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn create(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if let Some(event) = &caller.replay {
        return Ok(replay_user(&state, event, StatusCode::CREATED).await);
    }
    let user = users::create(
        &state,
        &caller.caller,
        NewUser {
            email: body.email,
            name: body.name,
            locale: body.locale,
            password: None,
            invite: body.invite,
        },
    )
    .await?;
    Ok(created(&format!("/admin/api/v1/users/{}", user.id), &user))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", params(UserPath),
    responses((status = 200, body = UserDetails)),
    security(("bearer" = ["admin:users:read"])))]
pub async fn get(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    caller.require(READ)?;
    Ok(json(
        StatusCode::OK,
        &users::details(&state, &path.id).await?,
    ))
}

#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(UserPath),
    request_body = UpdateUser,
    responses((status = 200, body = UserDetails)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn update(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Response, ApiError> {
    let change = users::update(
        &state,
        &caller.caller,
        &path.id,
        body.name.as_deref(),
        body.locale.as_deref(),
    );
    user_write(&state, &caller, StatusCode::OK, change).await
}

#[utoipa::path(post, path = "/users/{id}/invitation", tag = "users", params(UserPath),
    responses((status = 200, body = UserDetails)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn resend_invitation(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    let change = users::resend_invitation(&state, &caller.caller, &path.id);
    user_write(&state, &caller, StatusCode::OK, change).await
}

#[utoipa::path(post, path = "/users/{id}/disable", tag = "users", params(UserPath),
    responses((status = 200, body = UserDetails)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn disable(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    set_disabled(state, caller, path, true).await
}

#[utoipa::path(post, path = "/users/{id}/enable", tag = "users", params(UserPath),
    responses((status = 200, body = UserDetails)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn enable(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    set_disabled(state, caller, path, false).await
}

async fn set_disabled(
    state: AppStateArc,
    caller: AdminCaller,
    path: UserPath,
    disabled: bool,
) -> Result<Response, ApiError> {
    let change = users::set_disabled(&state, &caller.caller, &path.id, disabled);
    user_write(&state, &caller, StatusCode::OK, change).await
}

#[utoipa::path(delete, path = "/users/{id}/personnummer", tag = "users", params(UserPath),
    responses((status = 200, body = UserDetails)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn remove_personnummer(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    let change = users::remove_personnummer(&state, &caller.caller, &path.id);
    user_write(&state, &caller, StatusCode::OK, change).await
}

#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(UserPath),
    responses((status = 204, description = "Deleted, or already gone")),
    security(("bearer" = ["admin:users:write"])))]
pub async fn delete(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if caller.replay.is_none() {
        users::delete(&state, &caller.caller, &path.id).await?;
    }
    Ok(no_content())
}

#[utoipa::path(get, path = "/users/{id}/sessions", tag = "users", params(UserPath),
    responses((status = 200, body = Vec<SessionView>)),
    security(("bearer" = ["admin:users:read"])))]
pub async fn sessions(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    caller.require(READ)?;
    Ok(json(
        StatusCode::OK,
        &users::sessions(&state, &path.id).await?,
    ))
}

#[utoipa::path(delete, path = "/users/{id}/sessions", tag = "users", params(UserPath),
    responses((status = 204, description = "Every session ended, every token revoked")),
    security(("bearer" = ["admin:users:write"])))]
pub async fn revoke_access(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if caller.replay.is_none() {
        users::revoke_access(&state, &caller.caller, &path.id).await?;
    }
    Ok(no_content())
}

/// A user and one of their sessions.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SessionPath {
    pub id: String,
    pub sid: String,
}

#[utoipa::path(delete, path = "/users/{id}/sessions/{sid}", tag = "users", params(SessionPath),
    responses((status = 204, description = "Session ended")),
    security(("bearer" = ["admin:users:write"])))]
pub async fn revoke_session(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<SessionPath>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if caller.replay.is_none() {
        users::revoke_session(&state, &caller.caller, &path.id, &path.sid).await?;
    }
    Ok(no_content())
}

#[utoipa::path(get, path = "/users/{id}/consents", tag = "users", params(UserPath),
    responses((status = 200, body = Vec<ConsentView>)),
    security(("bearer" = ["admin:users:read"])))]
pub async fn consents(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    caller.require(READ)?;
    Ok(json(
        StatusCode::OK,
        &users::consents(&state, &path.id).await?,
    ))
}

/// A user and an app they consented to.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConsentPath {
    pub id: String,
    pub client_id: String,
}

#[utoipa::path(delete, path = "/users/{id}/consents/{client_id}", tag = "users",
    params(ConsentPath),
    responses((status = 204, description = "Consent withdrawn")),
    security(("bearer" = ["admin:users:write"])))]
pub async fn revoke_consent(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<ConsentPath>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if caller.replay.is_none() {
        users::revoke_consent(&state, &caller.caller, &path.id, &path.client_id).await?;
    }
    Ok(no_content())
}

#[utoipa::path(put, path = "/users/{id}/admin-role", tag = "users", params(UserPath),
    request_body = SetAdminRole,
    responses((status = 200, body = UserDetails)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn set_admin_role(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
    ApiJson(body): ApiJson<SetAdminRole>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| crate::admin::AdminError::invalid("role", "must be admin or support"))?;
    let change = roles::grant(&state, &caller.caller, &path.id, role);
    user_write(&state, &caller, StatusCode::OK, change).await
}

#[utoipa::path(delete, path = "/users/{id}/admin-role", tag = "users", params(UserPath),
    responses((status = 200, body = UserDetails)),
    security(("bearer" = ["admin:users:write"])))]
pub async fn revoke_admin_role(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<UserPath>,
) -> Result<Response, ApiError> {
    let change = roles::revoke(&state, &caller.caller, &path.id);
    user_write(&state, &caller, StatusCode::OK, change).await
}

//! `/admin/api/v1/users/{id}/passkeys`: a user's passkeys, and removing one (a lost device, a
//! suspected clone).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::admin::passkeys::{self, PasskeyView};
use crate::web::extract::AppStateArc;

use super::auth::AdminCaller;
use super::problem::ApiError;
use super::{json, no_content};

const READ: &str = "admin:users:read";
const WRITE: &str = "admin:users:write";

/// A user (id or email).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PasskeysPath {
    pub id: String,
}

/// A user and one of their passkeys.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PasskeyPath {
    pub id: String,
    pub passkey_id: String,
}

#[utoipa::path(get, path = "/users/{id}/passkeys", tag = "users", params(PasskeysPath),
    responses((status = 200, body = Vec<PasskeyView>)),
    security(("bearer" = ["admin:users:read"])))]
pub async fn list(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<PasskeysPath>,
) -> Result<Response, ApiError> {
    caller.require(READ)?;
    Ok(json(
        StatusCode::OK,
        &passkeys::list(&state, &path.id).await?,
    ))
}

/// Refused with 409 when it is the user's last way to log in.
#[utoipa::path(delete, path = "/users/{id}/passkeys/{passkey_id}", tag = "users",
    params(PasskeyPath),
    responses((status = 204, description = "Passkey removed")),
    security(("bearer" = ["admin:users:write"])))]
pub async fn remove(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    Path(path): Path<PasskeyPath>,
) -> Result<Response, ApiError> {
    caller.require(WRITE)?;
    if caller.replay.is_none() {
        passkeys::remove(&state, &caller.caller, &path.id, &path.passkey_id).await?;
    }
    Ok(no_content())
}

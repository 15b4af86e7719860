//! `/admin/api/v1/keys`: the signing keys, and rotating them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::admin::keys;
use crate::web::extract::AppStateArc;

use super::auth::AdminCaller;
use super::json;
use super::problem::ApiError;

const KEYS: &str = "admin:keys";

#[utoipa::path(get, path = "/keys", tag = "keys",
    responses((status = 200, description = "Keys with their state and dates",
        body = Vec<Object>)),
    security(("bearer" = ["admin:keys"])))]
pub async fn list(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
) -> Result<Response, ApiError> {
    caller.require(KEYS)?;
    Ok(json(StatusCode::OK, &keys::list(&state).await?))
}

#[utoipa::path(post, path = "/keys/rotate", tag = "keys",
    responses((status = 200, description = "The keys after rotation; new ones sign after keys.publish_ahead",
        body = Vec<Object>)),
    security(("bearer" = ["admin:keys"])))]
pub async fn rotate(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
) -> Result<Response, ApiError> {
    caller.require(KEYS)?;
    if caller.replay.is_none() {
        keys::rotate(&state, &caller.caller).await?;
    }
    Ok(json(StatusCode::OK, &keys::list(&state).await?))
}

//! `/admin/api/v1/audit-events`: what happened, newest first.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::admin::audit_trail::{self, AuditEventView, AuditFilter};
use crate::admin::pages::Page;
use crate::web::extract::AppStateArc;

use super::auth::{AdminCaller, ApiQuery};
use super::json;
use super::problem::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    /// An event type, e.g. `login.succeeded`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// From this Unix time (inclusive).
    pub from: Option<i64>,
    /// Until this Unix time (exclusive).
    pub until: Option<i64>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/audit-events", tag = "audit", params(AuditParams),
    responses((status = 200, body = Page<AuditEventView>)),
    security(("bearer" = ["admin:audit:read"])))]
pub async fn query(
    State(state): State<AppStateArc>,
    caller: AdminCaller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Response, ApiError> {
    caller.require("admin:audit:read")?;
    let page = audit_trail::query(
        &state,
        AuditFilter {
            user_id: params.user_id,
            client_id: params.client_id,
            kind: params.kind,
            from: params.from,
            until: params.until,
            cursor: params.cursor,
            limit: params.limit,
        },
    )
    .await?;
    Ok(json(StatusCode::OK, &page))
}

//! Reading the audit trail.

use serde::Serialize;

use crate::audit::kinds;
use crate::state::AppState;
use crate::store::{AuditEvent, AuditQuery};

use super::AdminError;
use super::pages::{Page, decode_cursor, limit, page};

/// An audit event as the admin API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEventView {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    #[serde(rename = "type")]
    pub kind: String,
    /// `user`, `client` or `system`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `success` or `failure`.
    pub result: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<&AuditEvent> for AuditEventView {
    fn from(e: &AuditEvent) -> Self {
        AuditEventView {
            id: e.id.clone(),
            at: e.at,
            kind: e.kind.clone(),
            actor_type: e.actor_type.clone(),
            actor_id: e.actor_id.clone(),
            user_id: e.user_id.clone(),
            client_id: e.client_id.clone(),
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            result: e.result.clone(),
            details: serde_json::from_str(&e.details).unwrap_or_default(),
        }
    }
}

/// What to look for in the audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    pub from: Option<i64>,
    pub until: Option<i64>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Newest first.
pub async fn query(
    state: &AppState,
    filter: AuditFilter,
) -> Result<Page<AuditEventView>, AdminError> {
    if let Some(kind) = &filter.kind
        && !kinds::ALL.contains(&kind.as_str())
    {
        return Err(AdminError::invalid(
            "type",
            format!("unknown event type; known: {}", kinds::ALL.join(" ")),
        ));
    }
    if let (Some(from), Some(until)) = (filter.from, filter.until)
        && from >= until
    {
        return Err(AdminError::invalid("until", "must be after from"));
    }
    let limit = limit(filter.limit)?;
    let query = AuditQuery {
        user_id: filter.user_id,
        client_id: filter.client_id,
        kind: filter.kind,
        from: filter.from,
        until: filter.until,
        before: decode_cursor(filter.cursor.as_deref())?,
        limit: limit + 1,
    };
    let rows = state.store.audit_events(&query).await?;
    let page = page(rows, limit, |e| (e.at, e.id.clone()));
    Ok(Page {
        items: page.items.iter().map(AuditEventView::from).collect(),
        next_cursor: page.next_cursor,
    })
}

/// The event an earlier write of this caller with this `Idempotency-Key` committed.
pub async fn by_idempotency_key(
    state: &AppState,
    actor_id: &str,
    key: &str,
) -> Result<Option<AuditEvent>, AdminError> {
    Ok(state
        .store
        .audit_event_by_idempotency_key(actor_id, key)
        .await?)
}

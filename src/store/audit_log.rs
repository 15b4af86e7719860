//! Every committed audit event is also one JSON log line (target `audit`), for shipping to a
//! SIEM. Logged after the commit, so the log never shows an event the database does not have.

use super::AuditEvent;

pub fn committed(events: &[AuditEvent]) {
    for event in events {
        match serde_json::to_string(event) {
            Ok(line) => tracing::info!(target: "audit", event = %line, "{}", event.kind),
            Err(error) => tracing::warn!(%error, kind = %event.kind, "audit event not loggable"),
        }
    }
}

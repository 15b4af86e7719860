//! The audit trail: what happened, who did it, to whom, from where.
//!
//! Events are built here and handed to the store method that makes the change they record, so
//! both commit in one transaction (`store::audit_log` then logs each as a JSON line). Where the
//! request came from (address, browser) is ambient: the web layer sets it for the request's task
//! with [`with_origin`], and [`Event::at`] picks it up, so service functions don't thread it
//! through every call. Background work has no origin.

pub mod kinds;

use std::future::Future;

use serde_json::{Map, Value};

use crate::clock::UnixTime;
use crate::store::AuditEvent;

/// Longest user agent kept, in characters.
const USER_AGENT_MAX_CHARS: usize = 256;

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Runs `work` with `origin` as the origin of every event it builds.
pub async fn with_origin<F: Future>(origin: Origin, work: F) -> F::Output {
    let origin = Origin {
        ip: origin.ip,
        user_agent: origin
            .user_agent
            .map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect()),
    };
    ORIGIN.scope(origin, work).await
}

fn current_origin() -> Origin {
    ORIGIN.try_with(Origin::clone).unwrap_or_default()
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person (a customer, or an administrator in the console).
    User(String),
    /// An admin API caller, by client_id.
    Client(String),
    /// The server itself (key rotation, retention, a job).
    System,
}

impl Actor {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Actor::User(id) => ("user", Some(id.clone())),
            Actor::Client(id) => ("client", Some(id.clone())),
            Actor::System => ("system", None),
        }
    }
}

/// Who is asking for a change, and the `Idempotency-Key` (with its request's hash) they sent:
/// what every event of their change carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub idempotency: Option<(String, String)>,
}

impl Caller {
    pub fn new(actor: Actor) -> Caller {
        Caller {
            actor,
            idempotency: None,
        }
    }

    pub fn system() -> Caller {
        Caller::new(Actor::System)
    }

    /// An event of this caller's change.
    pub fn event(&self, kind: &'static str) -> Event {
        Event::new(kind)
            .by(self.actor.clone())
            .idempotency(self.idempotency.as_ref())
    }
}

/// An event being described; [`Event::at`] makes the row.
#[derive(Debug, Clone)]
pub struct Event {
    kind: &'static str,
    actor: Actor,
    user_id: Option<String>,
    client_id: Option<String>,
    success: bool,
    details: Map<String, Value>,
    idempotency: Option<(String, String)>,
}

impl Event {
    /// A successful `kind` by the system; say who with [`Event::by`].
    pub fn new(kind: &'static str) -> Event {
        Event {
            kind,
            actor: Actor::System,
            user_id: None,
            client_id: None,
            success: true,
            details: Map::new(),
            idempotency: None,
        }
    }

    /// Something a user did to their own account.
    pub fn by_user(kind: &'static str, user_id: &str) -> Event {
        Event::new(kind)
            .by(Actor::User(user_id.into()))
            .user(user_id)
    }

    pub fn by(mut self, actor: Actor) -> Event {
        self.actor = actor;
        self
    }

    /// The user the event is about.
    pub fn user(mut self, user_id: &str) -> Event {
        self.user_id = Some(user_id.into());
        self
    }

    pub fn client(mut self, client_id: &str) -> Event {
        self.client_id = Some(client_id.into());
        self
    }

    pub fn failed(mut self) -> Event {
        self.success = false;
        self
    }

    /// A detail; never a secret, a password, an email or a personnummer.
    pub fn detail(mut self, name: &str, value: impl Into<Value>) -> Event {
        self.details.insert(name.into(), value.into());
        self
    }

    /// The caller's `Idempotency-Key` and the hash of its request (admin writes).
    pub fn idempotency(mut self, key: Option<&(String, String)>) -> Event {
        self.idempotency = key.cloned();
        self
    }

    /// The row, at `now`, from the current origin.
    pub fn at(self, now: UnixTime) -> AuditEvent {
        let origin = current_origin();
        let (actor_type, actor_id) = self.actor.parts();
        let (idempotency_key, request_hash) = match self.idempotency {
            Some((key, hash)) => (Some(key), Some(hash)),
            None => (None, None),
        };
        AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at: now,
            kind: self.kind.into(),
            actor_type: actor_type.into(),
            actor_id,
            user_id: self.user_id,
            client_id: self.client_id,
            ip: origin.ip,
            user_agent: origin.user_agent,
            result: if self.success { "success" } else { "failure" }.into(),
            details: Value::Object(self.details).to_string(),
            idempotency_key,
            request_hash,
        }
    }
}

/// What a deleted user's id becomes in the audit trail: stable (their events stay together),
/// but not the id, and not reversible without the server's key.
pub fn pseudonym(hmac: &crate::crypto::KeyedHash, user_id: &str) -> String {
    let digest = hmac.hash_hex(format!("audit-pseudonym:{user_id}").as_bytes());
    format!("deleted-{}", &digest[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_event_takes_its_origin_from_the_request_it_was_built_in() {
        let outside = Event::by_user(kinds::LOGOUT, "u1").at(5);
        assert_eq!((outside.ip, outside.user_agent), (None, None));
        let origin = Origin {
            ip: Some("192.0.2.7".into()),
            user_agent: Some("x".repeat(1000)),
        };
        let inside = with_origin(origin, async { Event::by_user(kinds::LOGOUT, "u1").at(5) }).await;
        assert_eq!(inside.ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(
            inside.user_agent.map(|ua| ua.len()),
            Some(USER_AGENT_MAX_CHARS)
        );
        assert_eq!(inside.actor_type, "user");
        assert_eq!(inside.actor_id.as_deref(), Some("u1"));
        assert_eq!(inside.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn details_are_a_json_object_and_failures_say_so() {
        let event = Event::new(kinds::LOGIN_FAILED)
            .failed()
            .detail("method", "password")
            .at(1);
        assert_eq!(event.result, "failure");
        assert_eq!(event.actor_type, "system");
        assert_eq!(event.details, r#"{"method":"password"}"#);
    }
}

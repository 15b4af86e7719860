//! The console's overview: logins counted per hour from the audit trail, and the work queues'
//! failed items, listed and put back in the queue with their audit event.

use super::*;
use crate::audit::{Actor, Event, kinds};

suite!(
    logins_are_counted_per_hour_by_method,
    a_failed_email_is_listed_and_retried_once,
    a_failed_backchannel_delivery_is_retried_with_a_fresh_token,
);

/// The start of the hour `NOW` falls in.
const HOUR: UnixTime = NOW / 3600 * 3600;

fn login(method: &str, succeeded: bool, at: UnixTime) -> AuditEvent {
    if succeeded {
        Event::by_user(kinds::LOGIN_SUCCEEDED, "u1")
            .detail("method", method)
            .at(at)
    } else {
        Event::new(kinds::LOGIN_FAILED)
            .failed()
            .detail("method", method)
            .detail("reason", "wrong_password")
            .at(at)
    }
}

async fn logins_are_counted_per_hour_by_method(s: Arc<dyn Store>) {
    let since = HOUR - 5 * 3600;
    let until = HOUR + 3600;
    s.append_audit(&[
        // Before the range, and at its end: not counted.
        login("password", true, since - 1),
        login("password", false, until),
        // The first hour, from its first second.
        login("password", true, since),
        login("password", true, since + 3599),
        login("bankid", true, since + 60),
        // Two hours later: failures of either method, and events that are not logins.
        login("password", false, HOUR - 3 * 3600 + 5),
        login("bankid", false, HOUR - 3 * 3600 + 6),
        Event::by_user(kinds::LOGOUT, "u1").at(HOUR - 3 * 3600 + 7),
        Event::by_user(kinds::PASSWORD_CHANGED, "u1")
            .detail("method", "password")
            .at(HOUR - 3 * 3600 + 8),
        // The current hour, up to its last second.
        login("bankid", true, HOUR),
        login("bankid", true, until - 1),
    ])
    .await
    .unwrap();

    let counts = s.hourly_logins(since, until).await.unwrap();
    assert_eq!(
        counts,
        [
            HourlyLogins {
                hour: since,
                password: 2,
                bankid: 1,
                failed: 0,
            },
            HourlyLogins {
                hour: HOUR - 3 * 3600,
                password: 0,
                bankid: 0,
                failed: 2,
            },
            HourlyLogins {
                hour: HOUR,
                password: 0,
                bankid: 2,
                failed: 0,
            },
        ]
    );
    // A range of one hour sees only that hour; an empty range nothing.
    assert_eq!(
        s.hourly_logins(HOUR, HOUR + 3600).await.unwrap(),
        [HourlyLogins {
            hour: HOUR,
            password: 0,
            bankid: 2,
            failed: 0,
        }]
    );
    assert!(s.hourly_logins(HOUR, HOUR).await.unwrap().is_empty());
}

/// The console's retry event, by the administrator `admin`.
fn retried(kind: &'static str, id: &str, at: UnixTime) -> AuditEvent {
    Event::new(kind)
        .by(Actor::User("admin-1".into()))
        .detail("id", id)
        .at(at)
}

async fn events_of(s: &dyn Store, kind: &str) -> Vec<AuditEvent> {
    s.audit_events(&AuditQuery {
        kind: Some(kind.into()),
        limit: 10,
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn a_failed_email_is_listed_and_retried_once(s: Arc<dyn Store>) {
    for (id, created) in [("m-old", NOW - 300), ("m-new", NOW - 100)] {
        s.enqueue_email(&email(id, created)).await.unwrap();
        s.outbox_failed(id, "550 no such user", NOW - 50, true)
            .await
            .unwrap();
    }
    s.enqueue_email(&email("m-waiting", NOW - 200))
        .await
        .unwrap();
    s.enqueue_email(&email("m-sent", NOW - 400)).await.unwrap();
    s.outbox_sent("m-sent", NOW - 390).await.unwrap();
    // Given up with its content already gone (as older versions left them): nothing to send.
    let mut emptied = email("m-emptied", NOW - 500);
    emptied.sealed_message.clear();
    s.enqueue_email(&emptied).await.unwrap();
    s.outbox_failed("m-emptied", "550", NOW - 490, true)
        .await
        .unwrap();

    let failed = s.failed_outbox(10).await.unwrap();
    assert_eq!(ids(&failed), ["m-new", "m-old", "m-emptied"]);
    assert_eq!(failed[0].last_error.as_deref(), Some("550 no such user"));
    assert_eq!(failed[0].attempts, 1);
    assert_eq!(ids(&s.failed_outbox(1).await.unwrap()), ["m-new"]);

    // Only a failed message with its content is put back; anything else is NotFound with no
    // event recorded.
    for id in ["m-waiting", "m-sent", "m-emptied", "m-unknown"] {
        let refused = s
            .retry_outbox(id, NOW, &[retried(kinds::EMAIL_RETRIED, id, NOW)])
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::NotFound), "{id}: {refused:?}");
    }
    assert!(events_of(&*s, kinds::EMAIL_RETRIED).await.is_empty());

    s.retry_outbox("m-new", NOW, &[retried(kinds::EMAIL_RETRIED, "m-new", NOW)])
        .await
        .unwrap();
    let row = s.outbox_email("m-new").await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.attempts, row.next_attempt_at),
        ("pending", 0, NOW)
    );
    assert_eq!((row.last_error, row.locked_until), (None, None));
    assert_eq!(row.sealed_message, email("x", NOW).sealed_message);
    let events = events_of(&*s, kinds::EMAIL_RETRIED).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_id.as_deref(), Some("admin-1"));

    // It is due now, and claimed with the message that was waiting anyway.
    assert_eq!(
        ids(&s.failed_outbox(10).await.unwrap()),
        ["m-old", "m-emptied"]
    );
    assert_eq!(
        ids(&s.claim_outbox(NOW, 60, 10).await.unwrap()),
        ["m-waiting", "m-new"]
    );
    // A second retry (another tab) finds it no longer failed.
    let again = s.retry_outbox("m-new", NOW, &[]).await.unwrap_err();
    assert!(matches!(again, StoreError::NotFound), "{again:?}");
}

async fn a_failed_backchannel_delivery_is_retried_with_a_fresh_token(s: Arc<dyn Store>) {
    LOGOUT_SESSIONS.seed(&*s).await;
    s.end_session(
        "sid-1",
        &[
            delivery("d-old", "c1", NOW - 300),
            delivery("d-new", "c2", NOW - 100),
            delivery("d-waiting", "c1", NOW - 50),
        ],
        NOW - 400,
        &[],
    )
    .await
    .unwrap();
    for id in ["d-old", "d-new"] {
        s.backchannel_failed(id, "HTTP 500", NOW - 10, true)
            .await
            .unwrap();
    }
    let failed = s.failed_backchannel(10).await.unwrap();
    assert_eq!(delivery_ids(&failed), ["d-new", "d-old"]);
    assert_eq!(failed[0].client_id, "c2");
    assert_eq!(failed[0].last_error.as_deref(), Some("HTTP 500"));

    let refused = s
        .retry_backchannel("d-waiting", "eyJ.fresh.sig", NOW, &[])
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::NotFound), "{refused:?}");
    assert_eq!(
        delivery_row(&*s, "d-waiting").await.logout_token,
        "eyJ.logout-token-d-waiting.sig"
    );

    s.retry_backchannel(
        "d-new",
        "eyJ.fresh.sig",
        NOW,
        &[retried(kinds::BACKCHANNEL_RETRIED, "d-new", NOW)],
    )
    .await
    .unwrap();
    let row = s
        .backchannel_delivery("d-new")
        .await
        .unwrap()
        .expect("the row");
    assert_eq!(row, delivery_row(&*s, "d-new").await);
    assert!(s.backchannel_delivery("d-unknown").await.unwrap().is_none());
    assert_eq!(
        (row.status.as_str(), row.attempts, row.next_attempt_at),
        ("pending", 0, NOW)
    );
    assert_eq!(row.logout_token, "eyJ.fresh.sig");
    assert_eq!((row.last_error, row.locked_until), (None, None));
    assert_eq!(events_of(&*s, kinds::BACKCHANNEL_RETRIED).await.len(), 1);
    assert_eq!(
        delivery_ids(&s.failed_backchannel(10).await.unwrap()),
        ["d-old"]
    );
    assert_eq!(
        delivery_ids(&s.claim_backchannel(NOW, 60, 10).await.unwrap()),
        ["d-waiting", "d-new"]
    );
}

fn ids(emails: &[OutboxEmail]) -> Vec<&str> {
    emails.iter().map(|e| e.id.as_str()).collect()
}

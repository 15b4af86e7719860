//! Logout: ending a session, and the back-channel deliveries it queues.

use super::*;

suite!(
    session_by_sid,
    end_session_revokes_online_grants_and_queues_deliveries,
    end_session_is_all_or_nothing,
    backchannel_delivered_and_failed,
    backchannel_list_and_purge,
);

/// User `u1` with sessions `sid-1` and `sid-2`; clients `c1` and `c2` used `sid-1`. Grants of
/// `sid-1`: `g-online` (c1, openid email), `g-offline` (c1, offline_access last), `g-offline-first`
/// (c2, offline_access first), `g-offline-like` (c2, a scope merely containing the word); of
/// `sid-2`: `g-sid-2`; without session: `g-no-sid`. Each grant has a live refresh token.
async fn seed_logout(s: &dyn Store) {
    Fixture {
        session_clients: &[("sid-1", "c1"), ("sid-1", "c2"), ("sid-2", "c1")],
        ..LOGOUT_SESSIONS
    }
    .seed(s)
    .await;
    for (id, client_id, scope, sid) in [
        ("g-online", "c1", "openid email", Some("sid-1")),
        (
            "g-offline",
            "c1",
            "openid email offline_access",
            Some("sid-1"),
        ),
        (
            "g-offline-first",
            "c2",
            "offline_access openid",
            Some("sid-1"),
        ),
        (
            "g-offline-like",
            "c2",
            "openid offline_accessory",
            Some("sid-1"),
        ),
        ("g-sid-2", "c1", "openid", Some("sid-2")),
        ("g-no-sid", "c1", "openid", None),
    ] {
        let mut g = grant(id, "u1", client_id, NOW + 3600);
        g.scope = scope.into();
        g.sid = sid.map(str::to_string);
        s.insert_grant(&g).await.unwrap();
        s.insert_refresh_token(&refresh_token(&format!("rt-{id}"), id, NOW + 3600))
            .await
            .unwrap();
    }
}

async fn session_by_sid(s: Arc<dyn Store>) {
    seed_logout(&*s).await;
    let expected = session("hash-1", "sid-1", "u1", NOW + 3600);
    assert_eq!(
        s.session_by_sid("sid-1", NOW).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        s.session_by_sid("sid-1", NOW + 3599).await.unwrap(),
        Some(expected)
    );
    assert_eq!(s.session_by_sid("sid-1", NOW + 3600).await.unwrap(), None);
    assert_eq!(s.session_by_sid("nope", NOW).await.unwrap(), None);
    // Not by hash.
    assert_eq!(s.session_by_sid("hash-1", NOW).await.unwrap(), None);
}

async fn end_session_revokes_online_grants_and_queues_deliveries(s: Arc<dyn Store>) {
    seed_logout(&*s).await;
    let queued = vec![
        delivery("d-1", "c1", NOW + 10),
        delivery("d-2", "c2", NOW + 10),
    ];
    s.end_session("sid-1", &queued, NOW + 10, &[])
        .await
        .unwrap();

    assert_eq!(s.session_by_hash("hash-1", NOW + 10).await.unwrap(), None);
    assert_eq!(s.session_by_sid("sid-1", NOW + 10).await.unwrap(), None);
    assert!(s.session_clients("sid-1").await.unwrap().is_empty());
    // The session's online grants are revoked; offline_access ones outlive it.
    assert_eq!(grant_revoked_at(&*s, "g-online").await, Some(NOW + 10));
    assert_eq!(
        grant_revoked_at(&*s, "g-offline-like").await,
        Some(NOW + 10)
    );
    assert_eq!(grant_revoked_at(&*s, "g-offline").await, None);
    assert_eq!(grant_revoked_at(&*s, "g-offline-first").await, None);
    // Other sessions and grants without a session are untouched.
    assert!(
        s.session_by_hash("hash-2", NOW + 10)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.session_clients("sid-2").await.unwrap(), ["c1"]);
    assert_eq!(grant_revoked_at(&*s, "g-sid-2").await, None);
    assert_eq!(grant_revoked_at(&*s, "g-no-sid").await, None);
    // The offline grant's refresh token still works.
    assert!(matches!(
        rotate(&*s, "rt-g-offline", NOW + 11).await,
        Rotation::Rotated { .. }
    ));

    // Queued exactly as given.
    let mut listed = s.list_backchannel(10).await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, queued);

    // Ending it again (or an unknown session) changes nothing and may queue nothing.
    s.end_session("sid-1", &[], NOW + 20, &[]).await.unwrap();
    s.end_session("nope", &[], NOW + 20, &[]).await.unwrap();
    assert_eq!(grant_revoked_at(&*s, "g-online").await, Some(NOW + 10));
    assert_eq!(s.list_backchannel(10).await.unwrap().len(), 2);
}

async fn end_session_is_all_or_nothing(s: Arc<dyn Store>) {
    seed_logout(&*s).await;
    s.end_session("sid-2", &[delivery("d-taken", "c1", NOW)], NOW, &[])
        .await
        .unwrap();
    // The second delivery reuses an id: nothing of the logout may happen.
    let queued = vec![delivery("d-new", "c1", NOW), delivery("d-taken", "c2", NOW)];
    assert!(
        s.end_session("sid-1", &queued, NOW + 10, &[])
            .await
            .is_err()
    );
    assert!(
        s.session_by_hash("hash-1", NOW + 10)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.session_clients("sid-1").await.unwrap(), ["c1", "c2"]);
    assert_eq!(grant_revoked_at(&*s, "g-online").await, None);
    assert_eq!(
        delivery_ids(&s.list_backchannel(10).await.unwrap()),
        ["d-taken"]
    );
    // A delivery to a client that does not exist is refused as well.
    let unknown = vec![delivery("d-ghost", "no-such-client", NOW)];
    assert!(
        s.end_session("sid-1", &unknown, NOW + 10, &[])
            .await
            .is_err()
    );
    assert!(s.session_by_sid("sid-1", NOW + 10).await.unwrap().is_some());
    assert_eq!(grant_revoked_at(&*s, "g-online").await, None);
    // And then it works.
    s.end_session("sid-1", &[delivery("d-new", "c1", NOW)], NOW + 10, &[])
        .await
        .unwrap();
    assert_eq!(grant_revoked_at(&*s, "g-online").await, Some(NOW + 10));
    assert_eq!(s.list_backchannel(10).await.unwrap().len(), 2);
}

async fn backchannel_delivered_and_failed(s: Arc<dyn Store>) {
    LOGOUT_SESSIONS.seed(&*s).await;
    s.end_session(
        "sid-1",
        &[
            delivery("d-ok", "c1", NOW),
            delivery("d-flaky", "c2", NOW),
            delivery("d-bad", "c1", NOW),
        ],
        NOW,
        &[],
    )
    .await
    .unwrap();
    assert_eq!(s.claim_backchannel(NOW, 60, 10).await.unwrap().len(), 3);

    // Delivered: counted, lease released, token erased; never claimed again.
    s.backchannel_delivered("d-ok").await.unwrap();
    let ok = delivery_row(&*s, "d-ok").await;
    assert_eq!(ok.status, "delivered");
    assert_eq!(ok.attempts, 1);
    assert_eq!(ok.locked_until, None);
    assert!(ok.logout_token.is_empty());
    assert_eq!(ok.uri, "https://c1.example/backchannel");

    // A failure schedules the next attempt and releases the lease; the token stays.
    s.backchannel_failed("d-flaky", "HTTP 503", NOW + 5, false)
        .await
        .unwrap();
    let flaky = delivery_row(&*s, "d-flaky").await;
    assert_eq!(flaky.status, "pending");
    assert_eq!(flaky.attempts, 1);
    assert_eq!(flaky.next_attempt_at, NOW + 5);
    assert_eq!(flaky.locked_until, None);
    assert_eq!(flaky.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(flaky.logout_token, "eyJ.logout-token-d-flaky.sig");
    assert!(
        s.claim_backchannel(NOW + 4, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = s.claim_backchannel(NOW + 5, 60, 10).await.unwrap();
    assert_eq!(delivery_ids(&retried), ["d-flaky"]);
    assert_eq!(retried[0].attempts, 1);
    s.backchannel_failed("d-flaky", "connection failed", NOW + 15, false)
        .await
        .unwrap();
    let flaky = delivery_row(&*s, "d-flaky").await;
    assert_eq!(flaky.attempts, 2);
    assert_eq!(flaky.last_error.as_deref(), Some("connection failed"));

    // Giving up: status failed, never claimed again; long errors are cut to 500 characters.
    let long_error = "å".repeat(600);
    s.backchannel_failed("d-bad", &long_error, NOW + 1000, true)
        .await
        .unwrap();
    let bad = delivery_row(&*s, "d-bad").await;
    assert_eq!(bad.status, "failed");
    assert_eq!(bad.attempts, 1);
    assert_eq!(bad.locked_until, None);
    assert_eq!(bad.last_error, Some("å".repeat(500)));
    assert_eq!(
        delivery_ids(&s.claim_backchannel(NOW + 10_000, 60, 10).await.unwrap()),
        ["d-flaky"]
    );

    assert!(matches!(
        s.backchannel_delivered("nope").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.backchannel_failed("nope", "x", NOW, false).await,
        Err(StoreError::NotFound)
    ));
}

async fn backchannel_list_and_purge(s: Arc<dyn Store>) {
    const DAY: i64 = 24 * 3600;
    LOGOUT_SESSIONS.seed(&*s).await;
    assert!(s.list_backchannel(10).await.unwrap().is_empty());
    s.end_session(
        "sid-1",
        &[
            delivery("d-b", "c1", NOW - 31 * DAY),
            delivery("d-a", "c2", NOW - 32 * DAY),
            delivery("d-c", "c1", NOW - DAY),
            delivery("d-pending-old", "c2", NOW - 40 * DAY),
        ],
        NOW,
        &[],
    )
    .await
    .unwrap();
    // Newest first, limited.
    assert_eq!(
        delivery_ids(&s.list_backchannel(10).await.unwrap()),
        ["d-c", "d-b", "d-a", "d-pending-old"]
    );
    assert_eq!(
        delivery_ids(&s.list_backchannel(2).await.unwrap()),
        ["d-c", "d-b"]
    );
    s.backchannel_delivered("d-a").await.unwrap();
    s.backchannel_failed("d-b", "HTTP 500", NOW, true)
        .await
        .unwrap();
    s.backchannel_delivered("d-c").await.unwrap();
    // Finished deliveries older than the retention go; pending ones and recent ones stay.
    assert_eq!(s.purge_expired(NOW).await.unwrap(), 2);
    assert_eq!(
        delivery_ids(&s.list_backchannel(10).await.unwrap()),
        ["d-c", "d-pending-old"]
    );
    // Deliveries go with their client.
    s.delete_client("c2", &[]).await.unwrap();
    assert_eq!(
        delivery_ids(&s.list_backchannel(10).await.unwrap()),
        ["d-c"]
    );
}

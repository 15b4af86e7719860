//! Work queues and retention: the email outbox, claiming back-channel deliveries, purging.

use super::*;

suite!(
    outbox_claims_due_messages_once_per_lease,
    outbox_concurrent_claimers_never_share,
    outbox_sent_and_failed,
    outbox_list_and_lookup,
    backchannel_claims_due_deliveries_once_per_lease,
    backchannel_concurrent_claimers_never_share,
    purge_expired,
    purge_expired_tokens_and_outbox,
    purge_bankid_orders,
    queue_stats_count_pending_and_given_up,
    pool_stats_see_the_pool,
);

fn ids(emails: &[OutboxEmail]) -> Vec<&str> {
    emails.iter().map(|e| e.id.as_str()).collect()
}

async fn outbox_claims_due_messages_once_per_lease(s: Arc<dyn Store>) {
    const LEASE: i64 = 60;
    // Enqueued out of order; only the first three are due at NOW.
    for (id, due) in [
        ("m-2", NOW - 5),
        ("m-future", NOW + 100),
        ("m-1", NOW - 10),
        ("m-3", NOW),
    ] {
        s.enqueue_email(&email(id, due)).await.unwrap();
    }
    // Neither a sent nor a failed message is ever claimed, due or not.
    s.enqueue_email(&email("m-sent", NOW - 20)).await.unwrap();
    s.outbox_sent("m-sent", NOW - 15).await.unwrap();
    s.enqueue_email(&email("m-failed", NOW - 20)).await.unwrap();
    s.outbox_failed("m-failed", "550 no such user", NOW, true)
        .await
        .unwrap();
    let err = s.enqueue_email(&email("m-1", NOW)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    // Oldest due first, limited, locked until NOW + LEASE.
    let first = s.claim_outbox(NOW, LEASE, 2).await.unwrap();
    assert_eq!(ids(&first), ["m-1", "m-2"]);
    for claimed in &first {
        assert_eq!(claimed.locked_until, Some(NOW + LEASE));
        assert_eq!(claimed.sealed_message, email("x", NOW).sealed_message);
        assert_eq!(claimed.status, "pending");
    }
    let second = s.claim_outbox(NOW, LEASE, 10).await.unwrap();
    assert_eq!(ids(&second), ["m-3"]);
    assert!(s.claim_outbox(NOW, LEASE, 10).await.unwrap().is_empty());

    // Still leased just before the lease ends.
    assert!(
        s.claim_outbox(NOW + LEASE - 1, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Once the lease has run out (the sender died), the messages can be claimed again, and so
    // can the one that has come due.
    let again = s.claim_outbox(NOW + LEASE, LEASE, 10).await.unwrap();
    assert_eq!(ids(&again), ["m-1", "m-2", "m-3"]);
    let later = s.claim_outbox(NOW + 100, LEASE, 10).await.unwrap();
    assert_eq!(ids(&later), ["m-future"]);
    assert_eq!(later[0].locked_until, Some(NOW + 100 + LEASE));
    assert!(s.claim_outbox(NOW, LEASE, 0).await.unwrap().is_empty());
}

async fn outbox_concurrent_claimers_never_share(s: Arc<dyn Store>) {
    for i in 0..20 {
        s.enqueue_email(&email(&format!("m-{i:02}"), NOW - 100 + i))
            .await
            .unwrap();
    }
    let claimers = concurrently(&s, 4, |s, _| async move {
        s.claim_outbox(NOW, 60, 5).await.unwrap()
    });
    let mut seen = std::collections::BTreeSet::new();
    for claimed in claimers.await {
        assert!(claimed.len() <= 5, "{}", claimed.len());
        for message in claimed {
            assert!(
                seen.insert(message.id.clone()),
                "{} claimed twice",
                message.id
            );
        }
    }
    // Whatever the claimers skipped is still there to claim, and nothing else.
    for message in s.claim_outbox(NOW, 60, 100).await.unwrap() {
        assert!(
            seen.insert(message.id.clone()),
            "{} claimed twice",
            message.id
        );
    }
    assert_eq!(seen.len(), 20);
    assert!(s.claim_outbox(NOW, 60, 100).await.unwrap().is_empty());
}

async fn outbox_sent_and_failed(s: Arc<dyn Store>) {
    s.enqueue_email(&email("m-ok", NOW)).await.unwrap();
    s.enqueue_email(&email("m-flaky", NOW)).await.unwrap();
    s.enqueue_email(&email("m-bad", NOW)).await.unwrap();
    assert_eq!(s.claim_outbox(NOW, 60, 10).await.unwrap().len(), 3);

    // Sent: content erased, lease released, time recorded; never claimed again.
    s.outbox_sent("m-ok", NOW + 1).await.unwrap();
    let sent = s.outbox_email("m-ok").await.unwrap().unwrap();
    assert_eq!(sent.status, "sent");
    assert_eq!(sent.sent_at, Some(NOW + 1));
    assert_eq!(sent.locked_until, None);
    assert!(sent.sealed_message.is_empty());
    assert_eq!(sent.recipient, "m-ok@example.se");

    // A failure schedules the next attempt and releases the lease; content stays.
    s.outbox_failed("m-flaky", "421 try again later", NOW + 30, false)
        .await
        .unwrap();
    let flaky = s.outbox_email("m-flaky").await.unwrap().unwrap();
    assert_eq!(flaky.status, "pending");
    assert_eq!(flaky.attempts, 1);
    assert_eq!(flaky.next_attempt_at, NOW + 30);
    assert_eq!(flaky.locked_until, None);
    assert_eq!(flaky.last_error.as_deref(), Some("421 try again later"));
    assert_eq!(flaky.sealed_message, email("x", NOW).sealed_message);
    assert!(s.claim_outbox(NOW + 29, 60, 10).await.unwrap().is_empty());
    assert_eq!(
        ids(&s.claim_outbox(NOW + 30, 60, 10).await.unwrap()),
        ["m-flaky"]
    );
    s.outbox_failed("m-flaky", "421 again", NOW + 90, false)
        .await
        .unwrap();
    let flaky = s.outbox_email("m-flaky").await.unwrap().unwrap();
    assert_eq!(flaky.attempts, 2);
    assert_eq!(flaky.last_error.as_deref(), Some("421 again"));

    // Giving up: status failed, never claimed again, the content kept for a retry from the
    // console. Long errors are cut to 500 characters (not bytes).
    let long_error = "å".repeat(600);
    s.outbox_failed("m-bad", &long_error, NOW + 1000, true)
        .await
        .unwrap();
    let bad = s.outbox_email("m-bad").await.unwrap().unwrap();
    assert_eq!(bad.status, "failed");
    assert_eq!(bad.attempts, 1);
    assert_eq!(bad.locked_until, None);
    assert_eq!(bad.sealed_message, email("x", NOW).sealed_message);
    assert_eq!(bad.sent_at, None);
    assert_eq!(bad.last_error, Some("å".repeat(500)));

    assert_eq!(
        ids(&s.claim_outbox(NOW + 10_000, 60, 10).await.unwrap()),
        ["m-flaky"]
    );

    assert!(matches!(
        s.outbox_sent("nope", NOW).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.outbox_failed("nope", "x", NOW, false).await,
        Err(StoreError::NotFound)
    ));
}

async fn outbox_list_and_lookup(s: Arc<dyn Store>) {
    assert!(s.list_outbox(10).await.unwrap().is_empty());
    for (id, created_at) in [("m-b", NOW + 2), ("m-a", NOW + 1), ("m-c", NOW + 3)] {
        s.enqueue_email(&email(id, created_at)).await.unwrap();
    }
    assert_eq!(
        ids(&s.list_outbox(10).await.unwrap()),
        ["m-c", "m-b", "m-a"]
    );
    assert_eq!(ids(&s.list_outbox(2).await.unwrap()), ["m-c", "m-b"]);
    assert_eq!(
        s.outbox_email("m-a").await.unwrap(),
        Some(email("m-a", NOW + 1))
    );
    assert_eq!(s.outbox_email("nope").await.unwrap(), None);

    // Every column round-trips, including the optional ones.
    let full = OutboxEmail {
        status: "failed".into(),
        attempts: 7,
        locked_until: Some(NOW + 9),
        last_error: Some("boom".into()),
        sent_at: Some(NOW + 8),
        sealed_message: Vec::new(),
        ..email("m-full", NOW)
    };
    s.enqueue_email(&full).await.unwrap();
    assert_eq!(s.outbox_email("m-full").await.unwrap(), Some(full));
}

async fn backchannel_claims_due_deliveries_once_per_lease(s: Arc<dyn Store>) {
    const LEASE: i64 = 60;
    LOGOUT_SESSIONS.seed(&*s).await;
    // Queued out of order by two logouts; only three are due at NOW.
    s.end_session(
        "sid-1",
        &[
            delivery("d-2", "c1", NOW - 5),
            delivery("d-future", "c2", NOW + 100),
        ],
        NOW - 20,
        &[],
    )
    .await
    .unwrap();
    s.end_session(
        "sid-2",
        &[
            delivery("d-1", "c2", NOW - 10),
            delivery("d-3", "c1", NOW),
            delivery("d-delivered", "c1", NOW - 30),
            delivery("d-failed", "c2", NOW - 30),
        ],
        NOW - 20,
        &[],
    )
    .await
    .unwrap();
    // Neither a delivered nor a given-up delivery is ever claimed.
    s.backchannel_delivered("d-delivered").await.unwrap();
    s.backchannel_failed("d-failed", "HTTP 500", NOW - 30, true)
        .await
        .unwrap();

    let first = s.claim_backchannel(NOW, LEASE, 2).await.unwrap();
    assert_eq!(delivery_ids(&first), ["d-1", "d-2"]);
    for claimed in &first {
        assert_eq!(claimed.locked_until, Some(NOW + LEASE));
        assert_eq!(claimed.status, "pending");
        assert_eq!(
            claimed.logout_token,
            format!("eyJ.logout-token-{}.sig", claimed.id)
        );
    }
    assert_eq!(
        delivery_ids(&s.claim_backchannel(NOW, LEASE, 10).await.unwrap()),
        ["d-3"]
    );
    assert!(
        s.claim_backchannel(NOW, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Still leased just before the lease ends.
    assert!(
        s.claim_backchannel(NOW + LEASE - 1, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        delivery_row(&*s, "d-1").await.locked_until,
        Some(NOW + LEASE)
    );
    // Once the lease has run out (the sender died) they can be claimed again, with the one that
    // came due meanwhile.
    let again = s.claim_backchannel(NOW + LEASE, LEASE, 10).await.unwrap();
    assert_eq!(delivery_ids(&again), ["d-1", "d-2", "d-3"]);
    let later = s.claim_backchannel(NOW + 100, LEASE, 10).await.unwrap();
    assert_eq!(delivery_ids(&later), ["d-future"]);
    assert_eq!(later[0].locked_until, Some(NOW + 100 + LEASE));
    assert!(s.claim_backchannel(NOW, LEASE, 0).await.unwrap().is_empty());
    // Claiming counts no attempt.
    assert_eq!(delivery_row(&*s, "d-1").await.attempts, 0);
}

async fn backchannel_concurrent_claimers_never_share(s: Arc<dyn Store>) {
    LOGOUT_SESSIONS.seed(&*s).await;
    let queued: Vec<BackchannelDelivery> = (0..20)
        .map(|i| {
            delivery(
                &format!("d-{i:02}"),
                if i % 2 == 0 { "c1" } else { "c2" },
                NOW - 100 + i,
            )
        })
        .collect();
    s.end_session("sid-1", &queued, NOW - 100, &[])
        .await
        .unwrap();
    let claimers = concurrently(&s, 4, |s, _| async move {
        s.claim_backchannel(NOW, 60, 5).await.unwrap()
    });
    let mut seen = std::collections::BTreeSet::new();
    for claimed in claimers.await {
        assert!(claimed.len() <= 5, "{}", claimed.len());
        for d in claimed {
            assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
        }
    }
    for d in s.claim_backchannel(NOW, 60, 100).await.unwrap() {
        assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
    }
    assert_eq!(seen.len(), 20);
    assert!(s.claim_backchannel(NOW, 60, 100).await.unwrap().is_empty());
}

async fn purge_expired(s: Arc<dyn Store>) {
    // Live: the grant g1 with a code, a refresh token and a session linked to c1.
    Fixture {
        sessions: &[("sess-live", "sid-live", "u1")],
        session_clients: &[("sid-live", "c1")],
        codes: &[("code-live", "g1")],
        refresh_tokens: &[("rt-live", "g1")],
        ..ONE_GRANT
    }
    .seed(&*s)
    .await;
    s.insert_grant(&grant("g-expired", "u1", "c1", NOW - 1))
        .await
        .unwrap();

    // Deleted: 2 codes, 2 refresh tokens, 1 grant, 1 pending request, 1 session + 1 link,
    // 1 throttle row = 9.
    s.insert_auth_code(&auth_code("code-old", "g1", "c1", NOW - 1))
        .await
        .unwrap();
    s.insert_auth_code(&auth_code(
        "code-of-expired-grant",
        "g-expired",
        "c1",
        NOW + 60,
    ))
    .await
    .unwrap();
    s.insert_refresh_token(&refresh_token("rt-old", "g1", NOW))
        .await
        .unwrap();
    s.insert_refresh_token(&refresh_token(
        "rt-of-expired-grant",
        "g-expired",
        NOW + 3600,
    ))
    .await
    .unwrap();
    for (id, expires_at) in [("p-old", NOW - 5), ("p-live", NOW + 5)] {
        s.insert_pending_authorization(&PendingAuthorization {
            id: id.into(),
            request_json: "{}".into(),
            created_at: NOW - 600,
            expires_at,
        })
        .await
        .unwrap();
    }
    s.insert_session(&session("sess-old", "sid-old", "u1", NOW - 1), &[])
        .await
        .unwrap();
    s.add_session_client("sid-old", "c1").await.unwrap();
    s.record_failure("stale", NOW - 3 * 24 * 3600, 300)
        .await
        .unwrap();
    s.record_failure("recent", NOW - 60, 300).await.unwrap();

    assert_eq!(s.purge_expired(NOW).await.unwrap(), 9);
    assert_eq!(s.purge_expired(NOW).await.unwrap(), 0);

    assert!(s.grant_by_id("g1").await.unwrap().is_some());
    assert_eq!(s.grant_by_id("g-expired").await.unwrap(), None);
    for gone in ["code-old", "code-of-expired-grant"] {
        assert_eq!(
            s.consume_auth_code(gone, NOW).await.unwrap(),
            Consumed::Missing,
            "{gone}"
        );
    }
    assert!(matches!(
        s.consume_auth_code("code-live", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    for gone in ["rt-old", "rt-of-expired-grant"] {
        assert_eq!(rotate(&*s, gone, NOW).await, Rotation::Missing, "{gone}");
    }
    assert!(matches!(
        rotate(&*s, "rt-live", NOW).await,
        Rotation::Rotated { .. }
    ));
    assert_eq!(
        s.pending_authorization("p-old", NOW - 10).await.unwrap(),
        None
    );
    assert!(
        s.pending_authorization("p-live", NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.session_by_hash("sess-old", NOW - 10).await.unwrap(), None);
    assert!(s.session_clients("sid-old").await.unwrap().is_empty());
    assert!(s.session_by_hash("sess-live", NOW).await.unwrap().is_some());
    assert_eq!(s.session_clients("sid-live").await.unwrap(), ["c1"]);
    assert_eq!(s.failures("recent", NOW, 300).await.unwrap(), 1);
    // The stale bucket is gone: a new failure starts from 1 even with a huge window.
    assert_eq!(
        s.record_failure("stale", NOW, i64::MAX / 4)
            .await
            .unwrap()
            .failures,
        1
    );
}

async fn purge_expired_tokens_and_outbox(s: Arc<dyn Store>) {
    const DAY: i64 = 24 * 3600;
    ONE_USER.seed(&*s).await;
    // Tokens: expired more than 7 days ago (gone), expired recently and live (kept).
    for (hash, expires_at) in [
        ("t-old", NOW - 7 * DAY),
        ("t-recent", NOW - 7 * DAY + 1),
        ("t-live", NOW + 3600),
    ] {
        s.insert_user_token(
            &user_token(hash, "u1", "reset", expires_at),
            &email(&format!("m-{hash}"), NOW - 60 * DAY),
            None,
            &[],
        )
        .await
        .unwrap();
    }
    // The three token emails above are old but still pending: kept.
    // Old sent and failed messages go; recent ones stay.
    for (id, created_at) in [
        ("m-sent-old", NOW - 30 * DAY),
        ("m-failed-old", NOW - 31 * DAY),
        ("m-sent-recent", NOW - 30 * DAY + 1),
        ("m-failed-recent", NOW - DAY),
    ] {
        s.enqueue_email(&email(id, created_at)).await.unwrap();
    }
    s.outbox_sent("m-sent-old", NOW - 30 * DAY).await.unwrap();
    s.outbox_sent("m-sent-recent", NOW - 29 * DAY)
        .await
        .unwrap();
    s.outbox_failed("m-failed-old", "x", NOW, true)
        .await
        .unwrap();
    s.outbox_failed("m-failed-recent", "x", NOW, true)
        .await
        .unwrap();

    assert_eq!(s.purge_expired(NOW).await.unwrap(), 3);
    assert_eq!(s.purge_expired(NOW).await.unwrap(), 0);

    assert_eq!(s.user_token("t-old").await.unwrap(), None);
    assert!(s.user_token("t-recent").await.unwrap().is_some());
    assert!(s.user_token("t-live").await.unwrap().is_some());
    let mut left: Vec<String> = s
        .list_outbox(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "m-failed-recent",
            "m-sent-recent",
            "m-t-live",
            "m-t-old",
            "m-t-recent"
        ]
    );
}

async fn purge_bankid_orders(s: Arc<dyn Store>) {
    const DAY: i64 = 24 * 3600;
    let before = NOW - 30 * DAY;
    let orders = [
        // Pending orders go by creation time.
        bankid_order("pending-old", before - 1),
        bankid_order("pending-at-cutoff", before),
        bankid_order("pending-recent", NOW),
        // Finished orders go by finishing time, whatever their age.
        finished(
            bankid_order("complete-old", before - 10),
            "complete",
            before - 1,
        ),
        finished(
            bankid_order("consumed-old", before - 10),
            "consumed",
            before - 5,
        ),
        finished(
            bankid_order("failed-old", before - 10),
            "failed",
            before - 5,
        ),
        finished(
            bankid_order("cancelled-old", before - 10),
            "cancelled",
            before - 5,
        ),
        finished(
            bankid_order("failed-at-cutoff", before - 10),
            "failed",
            before,
        ),
        finished(
            bankid_order("consumed-recent", before - 10),
            "consumed",
            before + 1,
        ),
        // Finished without a finishing time: its creation time counts.
        BankIdOrder {
            finished_at: None,
            ..finished(
                bankid_order("failed-untimed-old", before - 1),
                "failed",
                before,
            )
        },
        BankIdOrder {
            finished_at: None,
            ..finished(
                bankid_order("failed-untimed-recent", before),
                "failed",
                before,
            )
        },
    ];
    for order in &orders {
        s.insert_bankid_order(order).await.unwrap();
    }

    // The general purge leaves every order alone, however old (separate retention).
    assert_eq!(s.purge_expired(NOW + 365 * DAY).await.unwrap(), 0);
    for order in &orders {
        assert_eq!(
            s.bankid_order(&order.order_ref).await.unwrap().as_ref(),
            Some(order)
        );
    }

    assert_eq!(s.purge_bankid_orders(before).await.unwrap(), 6);
    assert_eq!(s.purge_bankid_orders(before).await.unwrap(), 0);
    let mut left = Vec::new();
    for order in &orders {
        if let Some(kept) = s.bankid_order(&order.order_ref).await.unwrap() {
            assert_eq!(&kept, order);
            left.push(kept.order_ref);
        }
    }
    assert_eq!(
        left,
        [
            "pending-at-cutoff",
            "pending-recent",
            "failed-at-cutoff",
            "consumed-recent",
            "failed-untimed-recent"
        ]
    );
}

async fn queue_stats_count_pending_and_given_up(s: Arc<dyn Store>) {
    for queue in WorkQueue::ALL {
        assert_eq!(
            s.queue_stats(queue).await.unwrap(),
            QueueStats::default(),
            "{queue:?} starts empty"
        );
    }

    // Outbox: two waiting (one of them retrying), one sent, one given up.
    s.enqueue_email(&email("m-new", NOW)).await.unwrap();
    s.enqueue_email(&email("m-old", NOW - 50)).await.unwrap();
    s.outbox_failed("m-old", "421 try later", NOW + 30, false)
        .await
        .unwrap();
    s.enqueue_email(&email("m-sent", NOW - 90)).await.unwrap();
    s.outbox_sent("m-sent", NOW).await.unwrap();
    s.enqueue_email(&email("m-failed", NOW - 80)).await.unwrap();
    s.outbox_failed("m-failed", "550 no such user", NOW, true)
        .await
        .unwrap();
    assert_eq!(
        s.queue_stats(WorkQueue::Outbox).await.unwrap(),
        QueueStats {
            pending: 2,
            oldest_pending_at: Some(NOW - 50),
            given_up: 1,
        }
    );

    // Back-channel deliveries: one waiting, one delivered, one given up.
    LOGOUT_SESSIONS.seed(&*s).await;
    s.end_session(
        "sid-1",
        &[
            delivery("d-wait", "c1", NOW - 7),
            delivery("d-done", "c2", NOW - 60),
            delivery("d-failed", "c1", NOW - 70),
        ],
        NOW - 20,
        &[],
    )
    .await
    .unwrap();
    s.backchannel_delivered("d-done").await.unwrap();
    s.backchannel_failed("d-failed", "HTTP 500", NOW, true)
        .await
        .unwrap();
    assert_eq!(
        s.queue_stats(WorkQueue::Backchannel).await.unwrap(),
        QueueStats {
            pending: 1,
            oldest_pending_at: Some(NOW - 7),
            given_up: 1,
        }
    );

    // Jobs: one done, so nothing waits.
    s.enqueue_job(&Job {
        id: "j-1".into(),
        kind: "password_reset_request".into(),
        payload: vec![1, 2, 3],
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: NOW,
        locked_until: None,
        last_error: None,
        created_at: NOW - 5,
        finished_at: None,
    })
    .await
    .unwrap();
    assert_eq!(
        s.queue_stats(WorkQueue::Jobs)
            .await
            .unwrap()
            .oldest_pending_at,
        Some(NOW - 5)
    );
    s.job_done("j-1", NOW).await.unwrap();
    assert_eq!(
        s.queue_stats(WorkQueue::Jobs).await.unwrap(),
        QueueStats::default()
    );
}

async fn pool_stats_see_the_pool(s: Arc<dyn Store>) {
    s.ping().await.unwrap();
    let stats = s.pool_stats();
    assert!(stats.max >= 1, "{stats:?}");
    assert!(stats.size >= 1 && stats.size <= stats.max, "{stats:?}");
    assert!(stats.idle <= stats.size as usize, "{stats:?}");
}

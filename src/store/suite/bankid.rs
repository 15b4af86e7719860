//! Personnummer and BankID: storing and looking up numbers, verification, orders.

use super::*;

suite!(
    personnummer_set_and_lookup,
    personnummer_replace_clears_link,
    personnummer_verified_is_unique_and_typed_copies_give_way,
    bankid_login_consumes_the_order_with_its_session,
    personnummer_delete,
    set_bankid_linked_fills_an_empty_name_only,
    reseal_and_list_personnummer,
    bankid_orders_insert_get_update,
    bankid_order_is_consumed_exactly_once,
    claim_bankid_collect_once_per_interval,
);

/// A complete linking order of `user_id`.
async fn complete_link_order(s: &dyn Store, order_ref: &str, user_id: &str) {
    let order = BankIdOrder {
        purpose: "link".into(),
        user_id: Some(user_id.into()),
        pending_authorization: None,
        ..bankid_order(order_ref, NOW)
    };
    s.insert_bankid_order(&order).await.unwrap();
    s.update_bankid_order(&finished(order.clone(), "complete", NOW + 1), &[])
        .await
        .unwrap();
}

fn verification(order_ref: &str, user_id: &str, index: &str) -> PersonnummerVerification {
    PersonnummerVerification {
        order_ref: order_ref.into(),
        user_id: user_id.into(),
        blind_index: index.into(),
        verified_at: NOW + 2,
        name_if_empty: None,
        notices: vec![],
    }
}

fn ids_of(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

async fn personnummer_set_and_lookup(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    assert_eq!(s.personnummer_of("u1").await.unwrap(), None);

    let stored = personnummer("u1", "idx-a", NOW);
    s.set_personnummer(&stored, &[]).await.unwrap();
    assert_eq!(s.personnummer_of("u1").await.unwrap(), Some(stored.clone()));
    // Typed in, not verified: no login finds it.
    assert_eq!(
        s.verified_personnummer_by_index("idx-a").await.unwrap(),
        None
    );
    s.set_bankid_linked("u1", Some(NOW + 1), None)
        .await
        .unwrap();
    assert_eq!(
        s.verified_personnummer_by_index("idx-a").await.unwrap(),
        Some(StoredPersonnummer {
            bankid_linked_at: Some(NOW + 1),
            ..stored
        })
    );
    assert_eq!(s.personnummer_of("u2").await.unwrap(), None);
    assert_eq!(
        s.verified_personnummer_by_index("idx-other").await.unwrap(),
        None
    );

    // A link passed in is not stored: a number is linked only through verification.
    s.set_personnummer(
        &StoredPersonnummer {
            bankid_linked_at: Some(NOW),
            ..personnummer("u2", "idx-b", NOW + 1)
        },
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        s.personnummer_of("u2").await.unwrap(),
        Some(personnummer("u2", "idx-b", NOW + 1))
    );

    // An unknown user cannot have one.
    let err = s
        .set_personnummer(&personnummer("nobody", "idx-c", NOW), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn personnummer_replace_clears_link(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    type_in(&*s, "u1", "idx-a", NOW).await;
    s.set_bankid_linked("u1", Some(NOW + 5), None)
        .await
        .unwrap();
    assert_eq!(
        s.personnummer_of("u1")
            .await
            .unwrap()
            .unwrap()
            .bankid_linked_at,
        Some(NOW + 5)
    );

    // Another number: replaced in place, the link is gone and the old index finds nothing.
    let replaced = personnummer("u1", "idx-new", NOW + 10);
    s.set_personnummer(&replaced, &[]).await.unwrap();
    assert_eq!(
        s.personnummer_of("u1").await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(
        s.verified_personnummer_by_index("idx-a").await.unwrap(),
        None
    );
    assert_eq!(
        s.verified_personnummer_by_index("idx-new").await.unwrap(),
        None
    );
    assert_eq!(s.list_personnummer().await.unwrap().len(), 1);

    // Even the same number again must be proven again.
    s.set_bankid_linked("u1", Some(NOW + 20), None)
        .await
        .unwrap();
    type_in(&*s, "u1", "idx-new", NOW + 30).await;
    assert_eq!(
        s.personnummer_of("u1").await.unwrap(),
        Some(personnummer("u1", "idx-new", NOW + 30))
    );
}

async fn personnummer_verified_is_unique_and_typed_copies_give_way(s: Arc<dyn Store>) {
    Fixture::users(&["u1", "u2", "u3", "u4"]).seed(&*s).await;
    // Two accounts type in the owner's number first; nothing stops them, nor the owner (u3).
    for id in ["u1", "u2", "u3"] {
        type_in(&*s, id, "idx-a", NOW).await;
    }
    assert_eq!(
        ids_of(&s.unverified_holders("idx-a", "u3").await.unwrap()),
        ["u1", "u2"]
    );
    // BankID proves it for u3: u3 is linked, the typed-in copies are removed, and only the
    // notices of accounts whose copy was removed are queued, in the same transaction.
    complete_link_order(&*s, "o-1", "u3").await;
    let mut v = verification("o-1", "u3", "idx-a");
    v.notices = vec![
        ("u1".into(), email("m-u1", NOW)),
        ("u2".into(), email("m-u2", NOW)),
        ("u4".into(), email("m-u4", NOW)),
    ];
    assert_eq!(
        s.verify_personnummer(&v, &[]).await.unwrap(),
        VerificationOutcome::Verified {
            removed_from: vec!["u1".into(), "u2".into()]
        }
    );
    assert_eq!(
        s.verified_personnummer_by_index("idx-a")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u3"
    );
    for id in ["u1", "u2"] {
        assert_eq!(s.personnummer_of(id).await.unwrap(), None, "{id}");
    }
    let mut queued: Vec<String> = s
        .list_outbox(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    queued.sort();
    assert_eq!(queued, ["m-u1", "m-u2"]);
    // The order is used up: finishing it again does nothing.
    assert_eq!(
        s.verify_personnummer(&v, &[]).await.unwrap(),
        VerificationOutcome::OrderNotComplete
    );

    // A typed-in copy after verification is still allowed (the answer must not tell), but it
    // cannot be verified on a second account: nothing changes, not even the order.
    type_in(&*s, "u4", "idx-a", NOW + 3).await;
    complete_link_order(&*s, "o-2", "u4").await;
    assert_eq!(
        s.verify_personnummer(&verification("o-2", "u4", "idx-a"), &[])
            .await
            .unwrap(),
        VerificationOutcome::VerifiedElsewhere
    );
    assert_eq!(
        s.bankid_order("o-2").await.unwrap().unwrap().status,
        "complete"
    );
    assert_eq!(
        s.personnummer_of("u4")
            .await
            .unwrap()
            .unwrap()
            .bankid_linked_at,
        None
    );
    // The account's number changed while BankID ran: nothing is linked.
    type_in(&*s, "u1", "idx-b", NOW + 3).await;
    complete_link_order(&*s, "o-3", "u1").await;
    assert_eq!(
        s.verify_personnummer(&verification("o-3", "u1", "idx-other"), &[])
            .await
            .unwrap(),
        VerificationOutcome::NumberChanged
    );
    assert_eq!(
        s.bankid_order("o-3").await.unwrap().unwrap().status,
        "complete"
    );
    // The unique index holds even against writes that bypass verification.
    assert!(matches!(
        s.set_bankid_linked("u4", Some(NOW + 9), None).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn bankid_login_consumes_the_order_with_its_session(s: Arc<dyn Store>) {
    Fixture {
        sessions: &[("sess-taken", "sid-taken", "u1")],
        ..TWO_USERS
    }
    .seed(&*s)
    .await;
    let order = bankid_order("o-login", NOW);
    s.insert_bankid_order(&order).await.unwrap();
    let sess = session("sess-bankid", "sid-bankid", "u1", NOW + 3600);
    // Not complete yet: no session.
    assert!(!s.finish_bankid_login("o-login", &sess, &[]).await.unwrap());
    assert_eq!(s.session_by_hash("sess-bankid", NOW).await.unwrap(), None);
    s.update_bankid_order(&finished(order.clone(), "complete", NOW + 1), &[])
        .await
        .unwrap();
    // A session that cannot be stored (its id is taken) leaves the order complete.
    let clashing = Session {
        id_hash: "sess-taken".into(),
        ..sess.clone()
    };
    assert!(
        s.finish_bankid_login("o-login", &clashing, &[])
            .await
            .is_err()
    );
    assert_eq!(
        s.bankid_order("o-login").await.unwrap().unwrap().status,
        "complete"
    );
    assert!(s.finish_bankid_login("o-login", &sess, &[]).await.unwrap());
    assert!(
        s.session_by_hash("sess-bankid", NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert!(!s.finish_bankid_login("o-login", &sess, &[]).await.unwrap());
}

async fn personnummer_delete(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    type_in(&*s, "u1", "idx-a", NOW).await;
    type_in(&*s, "u2", "idx-b", NOW).await;
    s.set_bankid_linked("u1", Some(NOW), None).await.unwrap();

    s.delete_personnummer("u1", &[]).await.unwrap();
    assert_eq!(s.personnummer_of("u1").await.unwrap(), None);
    assert_eq!(
        s.verified_personnummer_by_index("idx-a").await.unwrap(),
        None
    );
    // With the number, the link is gone too.
    assert!(matches!(
        s.set_bankid_linked("u1", Some(NOW), None).await,
        Err(StoreError::NotFound)
    ));
    // Idempotent, also for users without one or unknown users.
    s.delete_personnummer("u1", &[]).await.unwrap();
    s.delete_personnummer("nobody", &[]).await.unwrap();
    // The other user's row stays; the user row stays.
    assert!(s.personnummer_of("u2").await.unwrap().is_some());
    assert!(s.user_by_id("u1").await.unwrap().is_some());
    // The index is free again.
    type_in(&*s, "u2", "idx-a", NOW + 1).await;
}

async fn set_bankid_linked_fills_an_empty_name_only(s: Arc<dyn Store>) {
    let named = user("u-named", "named@example.se", NOW - 100);
    let empty = User {
        name: String::new(),
        ..user("u-empty", "empty@example.se", NOW - 100)
    };
    let blank = User {
        name: " \t\n ".into(),
        ..user("u-blank", "blank@example.se", NOW - 100)
    };
    let untouched = User {
        name: String::new(),
        ..user("u-untouched", "untouched@example.se", NOW - 100)
    };
    for (u, index) in [
        (&named, "idx-named"),
        (&empty, "idx-empty"),
        (&blank, "idx-blank"),
        (&untouched, "idx-untouched"),
    ] {
        s.insert_user(u, &[]).await.unwrap();
        type_in(&*s, &u.id, index, NOW - 50).await;
    }

    // A real name is kept (and the user row is not touched at all).
    s.set_bankid_linked("u-named", Some(NOW), Some("Åsa Öberg"))
        .await
        .unwrap();
    assert_eq!(s.user_by_id("u-named").await.unwrap(), Some(named.clone()));
    assert_eq!(
        s.personnummer_of("u-named").await.unwrap(),
        Some(StoredPersonnummer {
            bankid_linked_at: Some(NOW),
            ..personnummer("u-named", "idx-named", NOW - 50)
        })
    );

    // Empty and whitespace-only names are filled in; `updated_at` moves to the link time.
    for (u, name) in [(&empty, "Åsa Öberg"), (&blank, "Per Persson")] {
        s.set_bankid_linked(&u.id, Some(NOW + 1), Some(name))
            .await
            .unwrap();
        assert_eq!(
            s.user_by_id(&u.id).await.unwrap(),
            Some(User {
                name: name.into(),
                updated_at: NOW + 1,
                ..u.clone()
            })
        );
        assert_eq!(
            s.personnummer_of(&u.id)
                .await
                .unwrap()
                .unwrap()
                .bankid_linked_at,
            Some(NOW + 1)
        );
    }
    // Once filled, a later link keeps that name.
    s.set_bankid_linked("u-empty", Some(NOW + 2), Some("Someone Else"))
        .await
        .unwrap();
    assert_eq!(
        s.user_by_id("u-empty").await.unwrap().unwrap().name,
        "Åsa Öberg"
    );

    // Without a name to offer, an empty name stays empty.
    s.set_bankid_linked("u-untouched", Some(NOW), None)
        .await
        .unwrap();
    assert_eq!(
        s.user_by_id("u-untouched").await.unwrap(),
        Some(untouched.clone())
    );

    // Unlinking.
    s.set_bankid_linked("u-named", None, None).await.unwrap();
    assert_eq!(
        s.personnummer_of("u-named")
            .await
            .unwrap()
            .unwrap()
            .bankid_linked_at,
        None
    );

    // No personnummer: NotFound, and the name is not filled either.
    let no_number = User {
        name: String::new(),
        ..user("u-none", "none@example.se", NOW - 100)
    };
    s.insert_user(&no_number, &[]).await.unwrap();
    for id in ["u-none", "nobody"] {
        let err = s
            .set_bankid_linked(id, Some(NOW), Some("X"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{id}: {err:?}");
    }
    assert_eq!(s.user_by_id("u-none").await.unwrap(), Some(no_number));
}

async fn reseal_and_list_personnummer(s: Arc<dyn Store>) {
    Fixture::users(&["u-c", "u-a", "u-b", "u-none"])
        .seed(&*s)
        .await;
    assert!(s.list_personnummer().await.unwrap().is_empty());
    for id in ["u-c", "u-a", "u-b"] {
        type_in(&*s, id, &format!("idx-{id}"), NOW).await;
    }
    s.set_bankid_linked("u-b", Some(NOW + 1), None)
        .await
        .unwrap();
    let before = s.personnummer_of("u-b").await.unwrap().unwrap();

    // Every row, by user id.
    let listed = s.list_personnummer().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|p| p.user_id.as_str()).collect();
    assert_eq!(ids, ["u-a", "u-b", "u-c"]);
    assert_eq!(listed[1], before);

    // Only the sealed bytes change: index, link and time stay.
    let resealed = vec![9, 9, 0, 255, 1];
    s.reseal_personnummer("u-b", &resealed).await.unwrap();
    assert_eq!(
        s.personnummer_of("u-b").await.unwrap(),
        Some(StoredPersonnummer {
            sealed: resealed.clone(),
            ..before
        })
    );
    assert_eq!(
        s.personnummer_of("u-b").await.unwrap().unwrap().sealed,
        resealed
    );
    assert_eq!(
        s.personnummer_of("u-a").await.unwrap(),
        Some(personnummer("u-a", "idx-u-a", NOW))
    );

    for id in ["u-none", "nobody"] {
        let err = s.reseal_personnummer(id, &[1]).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{id}: {err:?}");
    }
    assert_eq!(s.personnummer_of("u-none").await.unwrap(), None);
}

async fn bankid_orders_insert_get_update(s: Arc<dyn Store>) {
    ONE_USER.seed(&*s).await;
    let login = bankid_order("o-login", NOW);
    s.insert_bankid_order(&login).await.unwrap();
    assert_eq!(
        s.bankid_order("o-login").await.unwrap(),
        Some(login.clone())
    );
    assert_eq!(s.bankid_order("nope").await.unwrap(), None);

    // Same order_ref again: Conflict, the first order intact.
    let err = s
        .insert_bankid_order(&bankid_order("o-login", NOW + 5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        s.bankid_order("o-login").await.unwrap(),
        Some(login.clone())
    );

    // Every column round-trips, the optional ones set the other way round.
    let link = BankIdOrder {
        purpose: "link".into(),
        user_id: Some("u1".into()),
        pending_authorization: None,
        next_path: Some("/account".into()),
        hint_code: None,
        completion_sealed: Some(vec![0, 255]),
        last_collect_at: Some(NOW + 2),
        finished_at: Some(NOW + 3),
        status: "failed".into(),
        started_at: NOW + 1,
        ..bankid_order("o-link", NOW)
    };
    s.insert_bankid_order(&link).await.unwrap();
    assert_eq!(s.bankid_order("o-link").await.unwrap(), Some(link));

    // An order for an unknown user.
    let err = s
        .insert_bankid_order(&BankIdOrder {
            user_id: Some("nobody".into()),
            ..bankid_order("o-orphan", NOW)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.bankid_order("o-orphan").await.unwrap(), None);

    // A collect result: every mutable field written...
    let progressed = BankIdOrder {
        hint_code: Some("userSign".into()),
        last_collect_at: Some(NOW + 2),
        ..login.clone()
    };
    s.update_bankid_order(&progressed, &[]).await.unwrap();
    assert_eq!(
        s.bankid_order("o-login").await.unwrap(),
        Some(progressed.clone())
    );
    let complete = BankIdOrder {
        user_id: Some("u1".into()),
        ..finished(progressed, "complete", NOW + 4)
    };
    // ...and nothing else, even if the caller's copy differs.
    let mut sent = complete.clone();
    sent.purpose = "link".into();
    sent.browser_binding = "other".into();
    sent.qr_start_secret_sealed = vec![];
    sent.created_at = 0;
    s.update_bankid_order(&sent, &[]).await.unwrap();
    assert_eq!(
        s.bankid_order("o-login").await.unwrap(),
        Some(complete.clone())
    );

    // Optional fields can be cleared again.
    let cleared = BankIdOrder {
        status: "pending".into(),
        hint_code: None,
        completion_sealed: None,
        user_id: None,
        last_collect_at: None,
        finished_at: None,
        ..complete.clone()
    };
    s.update_bankid_order(&cleared, &[]).await.unwrap();
    assert_eq!(s.bankid_order("o-login").await.unwrap(), Some(cleared));

    let err = s
        .update_bankid_order(&bankid_order("nope", NOW), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = s
        .update_bankid_order(
            &BankIdOrder {
                user_id: Some("nobody".into()),
                ..complete
            },
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn bankid_order_is_consumed_exactly_once(s: Arc<dyn Store>) {
    let order = bankid_order("o1", NOW);
    s.insert_bankid_order(&order).await.unwrap();
    // Only a complete order can be consumed.
    assert!(!s.consume_bankid_order("o1").await.unwrap());
    assert_eq!(
        s.bankid_order("o1").await.unwrap().unwrap().status,
        "pending"
    );
    for status in ["failed", "cancelled"] {
        let other = finished(bankid_order(&format!("o-{status}"), NOW), status, NOW + 1);
        s.insert_bankid_order(&other).await.unwrap();
        assert!(!s.consume_bankid_order(&other.order_ref).await.unwrap());
        assert_eq!(s.bankid_order(&other.order_ref).await.unwrap(), Some(other));
    }
    assert!(!s.consume_bankid_order("nope").await.unwrap());

    let complete = finished(order, "complete", NOW + 3);
    s.update_bankid_order(&complete, &[]).await.unwrap();
    let consumers = concurrently(&s, 10, |s, _| async move {
        s.consume_bankid_order("o1").await.unwrap()
    });
    let winners = consumers.await.into_iter().filter(|won| *won).count();
    assert_eq!(winners, 1, "exactly one consumer wins");
    let consumed = BankIdOrder {
        status: "consumed".into(),
        ..complete.clone()
    };
    assert_eq!(s.bankid_order("o1").await.unwrap(), Some(consumed.clone()));
    assert!(!s.consume_bankid_order("o1").await.unwrap());

    // A collect result arriving late does not make the order consumable again.
    s.update_bankid_order(&complete, &[]).await.unwrap();
    assert_eq!(s.bankid_order("o1").await.unwrap(), Some(consumed));
    assert!(!s.consume_bankid_order("o1").await.unwrap());
}

async fn claim_bankid_collect_once_per_interval(s: Arc<dyn Store>) {
    const INTERVAL: i64 = 2;
    s.insert_bankid_order(&bankid_order("o1", NOW))
        .await
        .unwrap();
    s.insert_bankid_order(&bankid_order("o2", NOW))
        .await
        .unwrap();

    // Never collected: the first claim wins and records the time.
    assert!(s.claim_bankid_collect("o1", NOW, INTERVAL).await.unwrap());
    assert_eq!(
        s.bankid_order("o1").await.unwrap().unwrap().last_collect_at,
        Some(NOW)
    );
    // Too soon, even for the same instant.
    assert!(!s.claim_bankid_collect("o1", NOW, INTERVAL).await.unwrap());
    assert!(
        !s.claim_bankid_collect("o1", NOW + INTERVAL - 1, INTERVAL)
            .await
            .unwrap()
    );
    assert_eq!(
        s.bankid_order("o1").await.unwrap().unwrap().last_collect_at,
        Some(NOW)
    );
    // Exactly `min_interval` later is allowed.
    assert!(
        s.claim_bankid_collect("o1", NOW + INTERVAL, INTERVAL)
            .await
            .unwrap()
    );
    assert_eq!(
        s.bankid_order("o1").await.unwrap().unwrap().last_collect_at,
        Some(NOW + INTERVAL)
    );
    // Orders are independent; unknown orders cannot be claimed.
    assert!(s.claim_bankid_collect("o2", NOW, INTERVAL).await.unwrap());
    assert!(!s.claim_bankid_collect("nope", NOW, INTERVAL).await.unwrap());
    // A huge interval does not overflow.
    assert!(
        !s.claim_bankid_collect("o2", NOW + 100, i64::MAX)
            .await
            .unwrap()
    );

    // Concurrent claimers at the same instant: exactly one may collect.
    for round in 1..=3 {
        let now = NOW + 100 * round;
        let claimers = concurrently(&s, 10, |s, _| async move {
            s.claim_bankid_collect("o1", now, INTERVAL).await.unwrap()
        });
        let winners = claimers.await.into_iter().filter(|won| *won).count();
        assert_eq!(winners, 1, "round {round}: exactly one claimer wins");
        assert_eq!(
            s.bankid_order("o1").await.unwrap().unwrap().last_collect_at,
            Some(now)
        );
    }
}

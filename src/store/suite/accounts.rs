//! Accounts: invitations and link tokens, password changes, the profile, login throttling.

use super::*;

suite!(
    invitation_is_consumed_exactly_once,
    user_tokens,
    password_from_link_is_all_or_nothing,
    set_password_with_effects,
    account_changes_are_all_or_nothing,
    update_user_profile,
    throttle,
);

fn password_change(keep: Option<&str>, notice: Option<OutboxEmail>) -> PasswordChange {
    PasswordChange {
        user_id: "u1".into(),
        password_hash: "$argon2id$new".into(),
        now: NOW,
        keep_session_hash: keep.map(Into::into),
        verify_email: true,
        notice,
    }
}

/// `u1` with three sessions (two linked to `c1`), two grants (one revoked before), two link
/// tokens (one used before); `u2` with one of each, which must never be touched.
async fn seed_password_change(s: &dyn Store) {
    let mut u1 = user("u1", "u1@example.se", NOW - 1000);
    u1.email_verified = false;
    u1.password_hash = Some("$argon2id$old".into());
    s.insert_user(&u1, &[]).await.unwrap();
    Fixture {
        users: &["u2"],
        clients: &["c1"],
        sessions: &[
            ("keep", "sid-keep", "u1"),
            ("other-1", "sid-other-1", "u1"),
            ("other-2", "sid-other-2", "u1"),
            ("u2-sess", "sid-u2", "u2"),
        ],
        session_clients: &[
            ("sid-keep", "c1"),
            ("sid-other-1", "c1"),
            ("sid-other-2", "c1"),
            ("sid-u2", "c1"),
        ],
        grants: &[("g-live", "u1", "c1"), ("g-u2", "u2", "c1")],
        ..Fixture::NONE
    }
    .seed(s)
    .await;
    let mut revoked = grant("g-revoked", "u1", "c1", NOW + 3600);
    revoked.revoked_at = Some(NOW - 100);
    s.insert_grant(&revoked).await.unwrap();
    for (hash, user_id) in [("t-unused", "u1"), ("t-used", "u1"), ("t-u2", "u2")] {
        s.insert_user_token(
            &user_token(hash, user_id, "reset", NOW + 3600),
            &email(&format!("m-{hash}"), NOW - 10),
            None,
            &[],
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        s.consume_user_token("t-used", NOW - 50).await.unwrap(),
        Consumed::Fresh(_)
    ));
}

/// The state `seed_password_change` left, unchanged: what a failed change must leave behind.
async fn assert_password_unchanged(s: &dyn Store) {
    let u1 = s.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(u1.password_hash.as_deref(), Some("$argon2id$old"));
    assert!(!u1.email_verified);
    assert_eq!(u1.updated_at, NOW - 1000);
    for hash in ["keep", "other-1", "other-2", "u2-sess"] {
        assert!(
            s.session_by_hash(hash, NOW).await.unwrap().is_some(),
            "{hash}"
        );
    }
    assert_eq!(s.session_clients("sid-other-1").await.unwrap(), ["c1"]);
    assert_eq!(grant_revoked_at(s, "g-live").await, None);
    assert_eq!(
        s.user_token("t-unused").await.unwrap().unwrap().used_at,
        None
    );
}

async fn invitation_is_consumed_exactly_once(s: Arc<dyn Store>) {
    let mut invited = user("u-new", "new@example.se", NOW);
    invited.email_verified = false;
    let token = user_token("invite-hash", "u-new", "invite", NOW + 3600);
    let welcome = email("m-welcome", NOW);
    s.insert_user_with_token(&invited, &token, &welcome, &[])
        .await
        .unwrap();
    assert_eq!(s.user_by_id("u-new").await.unwrap(), Some(invited.clone()));
    assert_eq!(
        s.user_token("invite-hash").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        s.outbox_email("m-welcome").await.unwrap(),
        Some(welcome.clone())
    );

    // The same email again is a conflict (and adds no second message).
    let mut again = invited.clone();
    again.id = "u-again".into();
    let err = s
        .insert_user_with_token(
            &again,
            &user_token("other-hash", "u-again", "invite", NOW + 3600),
            &email("m-again", NOW),
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.outbox_email("m-again").await.unwrap(), None);
    assert_eq!(s.user_token("other-hash").await.unwrap(), None);

    let consumers = concurrently(&s, 10, |s, i| async move {
        s.consume_user_token("invite-hash", NOW + i).await.unwrap()
    });
    let mut fresh = Vec::new();
    let mut already_used = Vec::new();
    for consumed in consumers.await {
        match consumed {
            Consumed::Fresh(t) => fresh.push(t),
            Consumed::AlreadyUsed(t) => already_used.push(t),
            Consumed::Missing => panic!("token reported missing"),
        }
    }
    assert_eq!(fresh.len(), 1, "exactly one consumer wins");
    assert_eq!(already_used.len(), 9);
    let winner = &fresh[0];
    let used_at = winner.used_at.expect("Fresh row carries used_at");
    assert_eq!(
        UserToken {
            used_at: None,
            ..winner.clone()
        },
        token
    );
    for t in &already_used {
        assert_eq!(t.used_at, Some(used_at));
    }
    assert_eq!(
        s.consume_user_token("invite-hash", NOW + 100)
            .await
            .unwrap(),
        Consumed::AlreadyUsed(winner.clone())
    );
    assert_eq!(
        s.user_token("invite-hash").await.unwrap(),
        Some(winner.clone())
    );
    assert_eq!(
        s.consume_user_token("unknown", NOW).await.unwrap(),
        Consumed::Missing
    );
}

async fn user_tokens(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    let reset = user_token("reset-hash", "u1", "reset", NOW + 1800);
    let mail = email("m-reset", NOW);
    s.insert_user_token(&reset, &mail, None, &[]).await.unwrap();
    assert_eq!(
        s.user_token("reset-hash").await.unwrap(),
        Some(reset.clone())
    );
    assert_eq!(s.outbox_email("m-reset").await.unwrap(), Some(mail));
    assert_eq!(s.user_token("unknown").await.unwrap(), None);

    // Looking a token up does not consume it.
    assert_eq!(
        s.user_token("reset-hash").await.unwrap().unwrap().used_at,
        None
    );
    assert!(matches!(
        s.consume_user_token("reset-hash", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    assert_eq!(
        s.user_token("reset-hash").await.unwrap().unwrap().used_at,
        Some(NOW)
    );

    // Same hash twice is a conflict; an unknown user is NotFound. Neither leaves an email.
    let err = s
        .insert_user_token(&reset, &email("m-dup-token", NOW), None, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .insert_user_token(
            &user_token("orphan-hash", "nobody", "reset", NOW + 1800),
            &email("m-orphan", NOW),
            None,
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.outbox_email("m-dup-token").await.unwrap(), None);
    assert_eq!(s.outbox_email("m-orphan").await.unwrap(), None);
    assert_eq!(s.user_token("orphan-hash").await.unwrap(), None);

    // Another user, another purpose.
    s.insert_user_token(
        &user_token("u2-hash", "u2", "invite", NOW + 60),
        &email("m-u2", NOW),
        None,
        &[],
    )
    .await
    .unwrap();
    assert!(s.user_token("u2-hash").await.unwrap().is_some());
}

async fn password_from_link_is_all_or_nothing(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    s.insert_user_token(
        &user_token("t-reset", "u1", "reset", NOW + 3600),
        &email("m-reset", NOW),
        None,
        &[],
    )
    .await
    .unwrap();
    // The change fails (its notice clashes with a queued message): the link stays usable.
    let clashing = password_change(None, Some(email("m-reset", NOW)));
    assert!(matches!(
        s.set_password_from_link("t-reset", &clashing, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.user_token("t-reset").await.unwrap().unwrap().used_at,
        None
    );
    assert_eq!(
        s.user_by_id("u1").await.unwrap().unwrap().password_hash,
        None
    );
    // A link of another user cannot set this user's password.
    let other = PasswordChange {
        user_id: "u2".into(),
        ..password_change(None, None)
    };
    assert!(matches!(
        s.set_password_from_link("t-reset", &other, &[]).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(
        s.user_token("t-reset").await.unwrap().unwrap().used_at,
        None
    );
    // Then it works once.
    let change = password_change(None, Some(email("m-notice", NOW)));
    assert!(matches!(
        s.set_password_from_link("t-reset", &change, &[])
            .await
            .unwrap(),
        Consumed::Fresh(_)
    ));
    assert_eq!(
        s.user_by_id("u1")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$new")
    );
    assert!(s.outbox_email("m-notice").await.unwrap().is_some());
    let again = PasswordChange {
        password_hash: "$argon2id$again".into(),
        ..password_change(None, None)
    };
    assert!(matches!(
        s.set_password_from_link("t-reset", &again, &[])
            .await
            .unwrap(),
        Consumed::AlreadyUsed(_)
    ));
    assert_eq!(
        s.user_by_id("u1")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$new")
    );
    assert_eq!(
        s.set_password_from_link("nope", &again, &[]).await.unwrap(),
        Consumed::Missing
    );
}

async fn set_password_with_effects(s: Arc<dyn Store>) {
    seed_password_change(&*s).await;
    let notice = OutboxEmail {
        kind: "password_changed".into(),
        ..email("m-notice", NOW)
    };
    s.set_password_with_effects(&password_change(Some("keep"), Some(notice.clone())), &[])
        .await
        .unwrap();

    let u1 = s.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(u1.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(u1.updated_at, NOW);
    assert!(u1.email_verified);

    // Other sessions (and their client links) are gone; the kept one and u2's stay.
    assert!(s.session_by_hash("keep", NOW).await.unwrap().is_some());
    assert_eq!(s.session_clients("sid-keep").await.unwrap(), ["c1"]);
    for hash in ["other-1", "other-2"] {
        assert_eq!(s.session_by_hash(hash, NOW).await.unwrap(), None, "{hash}");
    }
    for sid in ["sid-other-1", "sid-other-2"] {
        assert!(s.session_clients(sid).await.unwrap().is_empty(), "{sid}");
    }
    assert!(s.session_by_hash("u2-sess", NOW).await.unwrap().is_some());

    // Grants revoked now; an earlier revocation keeps its time; u2's grant is untouched.
    assert_eq!(grant_revoked_at(&*s, "g-live").await, Some(NOW));
    assert_eq!(grant_revoked_at(&*s, "g-revoked").await, Some(NOW - 100));
    assert_eq!(grant_revoked_at(&*s, "g-u2").await, None);

    // Unused link tokens are used up; a used one keeps its time; u2's is untouched.
    assert_eq!(
        s.user_token("t-unused").await.unwrap().unwrap().used_at,
        Some(NOW)
    );
    assert_eq!(
        s.user_token("t-used").await.unwrap().unwrap().used_at,
        Some(NOW - 50)
    );
    assert_eq!(s.user_token("t-u2").await.unwrap().unwrap().used_at, None);
    assert!(matches!(
        s.consume_user_token("t-unused", NOW + 1).await.unwrap(),
        Consumed::AlreadyUsed(_)
    ));

    assert_eq!(s.outbox_email("m-notice").await.unwrap(), Some(notice));

    // Without a session to keep, every session goes; without a notice, no email; an already
    // verified address stays verified when `verify_email` is false.
    let mut change = password_change(None, None);
    change.password_hash = "$argon2id$newer".into();
    change.now = NOW + 10;
    change.verify_email = false;
    let emails_before = s.list_outbox(100).await.unwrap().len();
    s.set_password_with_effects(&change, &[]).await.unwrap();
    assert_eq!(s.session_by_hash("keep", NOW).await.unwrap(), None);
    assert!(s.session_clients("sid-keep").await.unwrap().is_empty());
    assert!(s.session_by_hash("u2-sess", NOW).await.unwrap().is_some());
    let u1 = s.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(u1.password_hash.as_deref(), Some("$argon2id$newer"));
    assert_eq!(u1.updated_at, NOW + 10);
    assert!(u1.email_verified);
    assert_eq!(s.list_outbox(100).await.unwrap().len(), emails_before);
    assert_eq!(grant_revoked_at(&*s, "g-live").await, Some(NOW));

    // `verify_email: false` does not verify an unverified address.
    s.insert_user(
        &User {
            email_verified: false,
            ..user("u3", "u3@example.se", NOW)
        },
        &[],
    )
    .await
    .unwrap();
    s.set_password_with_effects(
        &PasswordChange {
            user_id: "u3".into(),
            verify_email: false,
            ..password_change(None, None)
        },
        &[],
    )
    .await
    .unwrap();
    let u3 = s.user_by_id("u3").await.unwrap().unwrap();
    assert!(!u3.email_verified);
    assert_eq!(u3.password_hash.as_deref(), Some("$argon2id$new"));
}

async fn account_changes_are_all_or_nothing(s: Arc<dyn Store>) {
    seed_password_change(&*s).await;
    // Every change below writes its email with this id, so the outbox insert fails last.
    s.enqueue_email(&email("m-dup", NOW)).await.unwrap();

    let mut invited = user("u-new", "new@example.se", NOW);
    invited.email_verified = false;
    let err = s
        .insert_user_with_token(
            &invited,
            &user_token("invite-hash", "u-new", "invite", NOW + 3600),
            &email("m-dup", NOW),
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.user_by_id("u-new").await.unwrap(), None);
    assert_eq!(s.user_by_email("new@example.se").await.unwrap(), None);
    assert_eq!(s.user_token("invite-hash").await.unwrap(), None);

    let err = s
        .insert_user_token(
            &user_token("reset-hash", "u1", "reset", NOW + 3600),
            &email("m-dup", NOW),
            None,
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.user_token("reset-hash").await.unwrap(), None);

    let err = s
        .set_password_with_effects(
            &password_change(Some("keep"), Some(email("m-dup", NOW))),
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_password_unchanged(&*s).await;

    // An unknown user: NotFound, and the notice is not enqueued.
    let err = s
        .set_password_with_effects(
            &PasswordChange {
                user_id: "nobody".into(),
                ..password_change(None, Some(email("m-nobody", NOW)))
            },
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.outbox_email("m-nobody").await.unwrap(), None);
    assert_password_unchanged(&*s).await;

    // The original message is intact, and it is the only new one.
    assert_eq!(
        s.outbox_email("m-dup").await.unwrap(),
        Some(email("m-dup", NOW))
    );
    assert_eq!(s.list_outbox(100).await.unwrap().len(), 4);

    // After all that, the same changes with fresh ids go through.
    s.insert_user_with_token(
        &invited,
        &user_token("invite-hash", "u-new", "invite", NOW + 3600),
        &email("m-welcome", NOW),
        &[],
    )
    .await
    .unwrap();
    s.set_password_with_effects(
        &password_change(Some("keep"), Some(email("m-notice", NOW))),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(s.list_outbox(100).await.unwrap().len(), 6);
}

async fn update_user_profile(s: Arc<dyn Store>) {
    let original = user("u1", "u1@example.se", NOW);
    s.insert_user(&original, &[]).await.unwrap();
    s.update_user_profile("u1", "Åsa Öberg", "en", NOW + 5, &[])
        .await
        .unwrap();
    assert_eq!(
        s.user_by_id("u1").await.unwrap(),
        Some(User {
            name: "Åsa Öberg".into(),
            locale: "en".into(),
            updated_at: NOW + 5,
            ..original
        })
    );
    assert!(matches!(
        s.update_user_profile("nobody", "X", "sv", NOW, &[]).await,
        Err(StoreError::NotFound)
    ));
}

async fn throttle(s: Arc<dyn Store>) {
    const WINDOW: i64 = 300;
    assert_eq!(s.failures("ip:1", NOW, WINDOW).await.unwrap(), 0);

    for n in 1..=3 {
        let state = s.record_failure("ip:1", NOW + n, WINDOW).await.unwrap();
        assert_eq!(
            state,
            ThrottleState {
                failures: n,
                window_start: NOW + 1
            }
        );
    }
    assert_eq!(s.failures("ip:1", NOW + 10, WINDOW).await.unwrap(), 3);
    assert_eq!(s.failures("ip:1", NOW + WINDOW, WINDOW).await.unwrap(), 3);
    // Other buckets are independent.
    assert_eq!(
        s.record_failure("email:a", NOW, WINDOW)
            .await
            .unwrap()
            .failures,
        1
    );

    // The window has passed: the count reads 0 and the next failure starts a new window.
    assert_eq!(
        s.failures("ip:1", NOW + 1 + WINDOW, WINDOW).await.unwrap(),
        0
    );
    let state = s
        .record_failure("ip:1", NOW + 1 + WINDOW, WINDOW)
        .await
        .unwrap();
    assert_eq!(
        state,
        ThrottleState {
            failures: 1,
            window_start: NOW + 1 + WINDOW
        }
    );
    assert_eq!(
        s.record_failure("ip:1", NOW + 2 + WINDOW, WINDOW)
            .await
            .unwrap()
            .failures,
        2
    );

    s.clear_failures("ip:1").await.unwrap();
    assert_eq!(
        s.failures("ip:1", NOW + 2 + WINDOW, WINDOW).await.unwrap(),
        0
    );
    assert_eq!(s.failures("email:a", NOW, WINDOW).await.unwrap(), 1);
    s.clear_failures("never-seen").await.unwrap();

    // Concurrent failures are all counted.
    let failures = concurrently(&s, 10, |s, _| async move {
        s.record_failure("burst", NOW, WINDOW).await.unwrap()
    });
    let mut counts: Vec<_> = failures.await.iter().map(|f| f.failures).collect();
    counts.sort();
    assert_eq!(counts, (1..=10).collect::<Vec<_>>());
    assert_eq!(s.failures("burst", NOW, WINDOW).await.unwrap(), 10);
}

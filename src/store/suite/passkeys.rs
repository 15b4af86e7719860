//! Passkeys: unique credential ids, listing, renaming, removal that keeps a way to log in, the
//! counter that only moves forward, and single-use, expiring ceremony challenges.

use super::*;

suite!(
    passkeys_are_listed_found_renamed_and_unique,
    the_last_way_to_log_in_is_not_removed,
    a_passkey_use_needs_a_counter_that_moved_forward,
    passkey_challenges_are_taken_once_before_they_expire,
);

fn passkey(id: &str, user_id: &str, created_at: UnixTime) -> StoredPasskey {
    StoredPasskey {
        id: id.into(),
        user_id: user_id.into(),
        credential_id: format!("cred-{id}"),
        credential: format!(r#"{{"cred":"{id}"}}"#),
        rp_id: "localhost".into(),
        name: format!("Key {id}"),
        created_at,
        last_used_at: None,
        sign_count: 0,
        backup_eligible: true,
        backup_state: false,
    }
}

fn passkey_event(kind: &'static str, user_id: &str) -> AuditEvent {
    crate::audit::Event::by_user(kind, user_id).at(NOW)
}

async fn passkeys_are_listed_found_renamed_and_unique(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    let first = passkey("p1", "u1", NOW);
    let second = passkey("p2", "u1", NOW + 1);
    let added = passkey_event("passkey.added", "u1");
    s.insert_passkey(&second, &[]).await.unwrap();
    s.insert_passkey(&first, &[added]).await.unwrap();
    assert_eq!(
        s.passkeys_of("u1").await.unwrap(),
        vec![first.clone(), second.clone()],
        "oldest first"
    );
    assert!(s.passkeys_of("u2").await.unwrap().is_empty());
    assert_eq!(
        s.passkey_by_credential_id("cred-p2").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(s.passkey_by_credential_id("cred-p9").await.unwrap(), None);

    // A credential id belongs to one passkey, whoever registers it again.
    let mut copy = passkey("p3", "u2", NOW);
    copy.credential_id = first.credential_id.clone();
    assert!(matches!(
        s.insert_passkey(&copy, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    // A passkey needs its user.
    assert!(matches!(
        s.insert_passkey(&passkey("p4", "nobody", NOW), &[]).await,
        Err(StoreError::NotFound)
    ));

    // Renaming: only the owner's own passkey.
    s.rename_passkey("u1", "p1", "Jobbdatorn", &[])
        .await
        .unwrap();
    assert!(matches!(
        s.rename_passkey("u2", "p1", "Stulen", &[]).await,
        Err(StoreError::NotFound)
    ));
    let names: Vec<String> = s
        .passkeys_of("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Jobbdatorn", "Key p2"]);
    let audited = s
        .audit_events(&AuditQuery {
            user_id: Some("u1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audited.len(), 1, "the insert's event committed with it");

    // They go with their user.
    s.delete_user("u1", "pseudonym", &[]).await.unwrap();
    assert!(s.passkeys_of("u1").await.unwrap().is_empty());
    assert_eq!(s.passkey_by_credential_id("cred-p1").await.unwrap(), None);
}

async fn the_last_way_to_log_in_is_not_removed(s: Arc<dyn Store>) {
    // u1 has no password and no BankID: passkeys are its only way in.
    TWO_USERS.seed(&*s).await;
    s.insert_passkey(&passkey("p1", "u1", NOW), &[])
        .await
        .unwrap();
    s.insert_passkey(&passkey("p2", "u1", NOW + 1), &[])
        .await
        .unwrap();
    let removed = passkey_event("passkey.removed", "u1");
    assert_eq!(
        s.remove_passkey("u2", "p1", &[]).await.unwrap(),
        PasskeyRemoval::NotFound,
        "not someone else's"
    );
    assert_eq!(
        s.remove_passkey("u1", "p1", &[removed]).await.unwrap(),
        PasskeyRemoval::Removed
    );
    assert_eq!(
        s.remove_passkey("u1", "p1", &[]).await.unwrap(),
        PasskeyRemoval::NotFound
    );
    let refused = passkey_event("passkey.removed", "u1");
    assert_eq!(
        s.remove_passkey("u1", "p2", &[refused]).await.unwrap(),
        PasskeyRemoval::LastWayToLogIn
    );
    assert_eq!(s.passkeys_of("u1").await.unwrap().len(), 1);
    let events = s
        .audit_events(&AuditQuery {
            user_id: Some("u1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "a refused removal writes no event");

    // With a password, the last passkey may go.
    let mut with_password = user("u3", "u3@example.se", NOW);
    with_password.password_hash = Some("$argon2id$…".into());
    s.insert_user(&with_password, &[]).await.unwrap();
    s.insert_passkey(&passkey("p3", "u3", NOW), &[])
        .await
        .unwrap();
    assert_eq!(
        s.remove_passkey("u3", "p3", &[]).await.unwrap(),
        PasskeyRemoval::Removed
    );
}

async fn a_passkey_use_needs_a_counter_that_moved_forward(s: Arc<dyn Store>) {
    ONE_USER.seed(&*s).await;
    let mut counted = passkey("p1", "u1", NOW);
    counted.sign_count = 5;
    s.insert_passkey(&counted, &[]).await.unwrap();
    let used = |count: i64, at: UnixTime| PasskeyUse {
        id: "p1".into(),
        sign_count: count,
        backup_state: true,
        credential: format!(r#"{{"count":{count}}}"#),
        used_at: at,
    };
    assert!(
        !s.record_passkey_use(&used(5, NOW + 1)).await.unwrap(),
        "equal"
    );
    assert!(
        !s.record_passkey_use(&used(3, NOW + 1)).await.unwrap(),
        "lower"
    );
    assert!(
        !s.record_passkey_use(&used(0, NOW + 1)).await.unwrap(),
        "reset to 0"
    );
    let unchanged = s
        .passkey_by_credential_id("cred-p1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged, counted, "a refused use writes nothing");
    assert!(s.record_passkey_use(&used(6, NOW + 2)).await.unwrap());
    let after = s
        .passkey_by_credential_id("cred-p1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.sign_count, 6);
    assert_eq!(after.last_used_at, Some(NOW + 2));
    assert!(after.backup_state);
    assert_eq!(after.credential, r#"{"count":6}"#);

    // Of two logins presenting the same counter, one wins.
    let racers = concurrently(&s, 2, move |s, _| async move {
        s.record_passkey_use(&used(7, NOW + 3)).await.unwrap()
    })
    .await;
    assert_eq!(racers.iter().filter(|won| **won).count(), 1);

    // An authenticator that keeps no counter (synced passkeys) stays at 0.
    let mut uncounted = passkey("p2", "u1", NOW);
    uncounted.credential_id = "cred-p2".into();
    s.insert_passkey(&uncounted, &[]).await.unwrap();
    let zero = PasskeyUse {
        id: "p2".into(),
        ..used(0, NOW + 4)
    };
    assert!(s.record_passkey_use(&zero).await.unwrap());
    assert!(s.record_passkey_use(&zero).await.unwrap());
}

async fn passkey_challenges_are_taken_once_before_they_expire(s: Arc<dyn Store>) {
    ONE_USER.seed(&*s).await;
    let challenge = |id: &str, purpose: &str, user_id: Option<&str>| PasskeyChallenge {
        id: id.into(),
        purpose: purpose.into(),
        user_id: user_id.map(str::to_string),
        state: r#"{"rs":{}}"#.into(),
        created_at: NOW,
        expires_at: NOW + 300,
    };
    let login = challenge("ch-1", "login", None);
    let register = challenge("ch-2", "register", Some("u1"));
    s.insert_passkey_challenge(&login).await.unwrap();
    s.insert_passkey_challenge(&register).await.unwrap();
    assert!(matches!(
        s.insert_passkey_challenge(&challenge("ch-3", "register", Some("nobody")))
            .await,
        Err(StoreError::NotFound)
    ));
    // The purpose must match, and a mismatch does not spend it.
    assert_eq!(
        s.take_passkey_challenge("ch-1", "register", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_passkey_challenge("ch-1", "login", NOW)
            .await
            .unwrap(),
        Some(login.clone())
    );
    assert_eq!(
        s.take_passkey_challenge("ch-1", "login", NOW)
            .await
            .unwrap(),
        None,
        "single use"
    );
    // Expired at its expiry time, and purged.
    assert_eq!(
        s.take_passkey_challenge("ch-2", "register", NOW + 300)
            .await
            .unwrap(),
        None
    );
    assert!(s.purge_expired(NOW + 300).await.unwrap() >= 1);
    assert_eq!(
        s.take_passkey_challenge("ch-2", "register", NOW)
            .await
            .unwrap(),
        None,
        "purged"
    );

    // Concurrent takers: exactly one gets it.
    s.insert_passkey_challenge(&challenge("ch-4", "login", None))
        .await
        .unwrap();
    let takers = concurrently(&s, 4, |s, _| async move {
        s.take_passkey_challenge("ch-4", "login", NOW + 1)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert_eq!(takers.iter().filter(|got| **got).count(), 1);
}

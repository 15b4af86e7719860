//! Users: insert, look up, list, disable, set a password; deleting one (SQL, not in the trait).

use super::*;

suite!(users, deleting_a_user_cascades,);

async fn users(s: Arc<dyn Store>) {
    let mut alice = user("u-alice", "alice@example.se", NOW);
    alice.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let bob = user("u-bob", "bob@example.se", NOW + 1);
    s.insert_user(&bob, &[]).await.unwrap();
    s.insert_user(&alice, &[]).await.unwrap();

    assert_eq!(s.user_by_id("u-alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(
        s.user_by_email("bob@example.se").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(s.user_by_id("nobody").await.unwrap(), None);
    assert_eq!(s.user_by_email("nobody@example.se").await.unwrap(), None);

    // Duplicate email (other id) and duplicate id are conflicts.
    let err = s
        .insert_user(&user("u-other", "alice@example.se", NOW), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .insert_user(&user("u-alice", "other@example.se", NOW), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    // Listed oldest first.
    let ids: Vec<String> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, ["u-alice", "u-bob"]);

    s.set_user_disabled("u-bob", true, NOW + 100, &[])
        .await
        .unwrap();
    let disabled = s.user_by_id("u-bob").await.unwrap().unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.updated_at, NOW + 100);
    s.set_user_disabled("u-bob", false, NOW + 101, &[])
        .await
        .unwrap();
    assert!(!s.user_by_id("u-bob").await.unwrap().unwrap().disabled);

    s.set_user_password("u-bob", "$argon2id$new", NOW + 200)
        .await
        .unwrap();
    let bob2 = s.user_by_email("bob@example.se").await.unwrap().unwrap();
    assert_eq!(bob2.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(bob2.updated_at, NOW + 200);

    assert!(matches!(
        s.set_user_disabled("nobody", true, NOW, &[]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_user_password("nobody", "x", NOW).await,
        Err(StoreError::NotFound)
    ));
}

async fn deleting_a_user_cascades(db: TestStore) {
    seed_users_with_bankid(&*db.store).await;
    db.delete_user("u1").await;
    assert_user_deletion_cascaded(&*db.store).await;
}

/// `u1` with a linked personnummer and a finished order; `u2` with the same, to be kept.
async fn seed_users_with_bankid(s: &dyn Store) {
    TWO_USERS.seed(s).await;
    for (id, index) in [("u1", "idx-1"), ("u2", "idx-2")] {
        type_in(s, id, index, NOW).await;
        s.set_bankid_linked(id, Some(NOW), None).await.unwrap();
        s.insert_bankid_order(&BankIdOrder {
            user_id: Some(id.into()),
            ..finished(bankid_order(&format!("o-{id}"), NOW), "consumed", NOW)
        })
        .await
        .unwrap();
    }
}

/// After `u1` was deleted: its personnummer is gone (and its index free), its order is kept for
/// audit without the user; `u2` is untouched.
async fn assert_user_deletion_cascaded(s: &dyn Store) {
    assert_eq!(s.user_by_id("u1").await.unwrap(), None);
    assert_eq!(s.personnummer_of("u1").await.unwrap(), None);
    assert_eq!(
        s.verified_personnummer_by_index("idx-1").await.unwrap(),
        None
    );
    assert_eq!(
        s.list_personnummer()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.user_id)
            .collect::<Vec<_>>(),
        ["u2"]
    );
    let orphan = s.bankid_order("o-u1").await.unwrap().unwrap();
    assert_eq!(orphan.user_id, None);
    assert_eq!(orphan.status, "consumed");
    assert_eq!(
        s.bankid_order("o-u2")
            .await
            .unwrap()
            .unwrap()
            .user_id
            .as_deref(),
        Some("u2")
    );
    assert!(
        s.personnummer_of("u2")
            .await
            .unwrap()
            .unwrap()
            .bankid_linked_at
            .is_some()
    );
    // The number can be registered again, by someone else.
    Fixture::users(&["u3"]).seed(s).await;
    type_in(s, "u3", "idx-1", NOW).await;
}

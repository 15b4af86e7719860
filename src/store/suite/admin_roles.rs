//! Administrators' roles: granted, replaced, taken away, each with its audit event in the same
//! transaction; gone with their user.

use super::*;

suite!(
    admin_roles_are_granted_replaced_and_revoked,
    an_admin_role_needs_a_user_and_goes_with_them,
);

fn role_event(kind: &'static str, user_id: &str, at: UnixTime) -> AuditEvent {
    crate::audit::Event::new(kind)
        .by(crate::audit::Actor::System)
        .user(user_id)
        .at(at)
}

async fn kinds_of(s: &dyn Store, user_id: &str) -> Vec<String> {
    let query = AuditQuery {
        user_id: Some(user_id.into()),
        limit: 10,
        ..Default::default()
    };
    let mut kinds: Vec<String> = s
        .audit_events(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    kinds.reverse();
    kinds
}

async fn admin_roles_are_granted_replaced_and_revoked(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    assert_eq!(s.admin_role_of("u1").await.unwrap(), None);
    assert!(s.admin_roles().await.unwrap().is_empty());

    let granted = role_event("admin_role.granted", "u1", NOW);
    s.set_admin_role("u1", Some("support"), NOW, &[granted])
        .await
        .unwrap();
    s.set_admin_role("u2", Some("admin"), NOW + 1, &[])
        .await
        .unwrap();
    assert_eq!(
        s.admin_role_of("u1").await.unwrap(),
        Some(AdminRoleGrant {
            user_id: "u1".into(),
            role: "support".into(),
            granted_at: NOW,
        })
    );

    // A second grant replaces the role (one per user).
    let replaced = role_event("admin_role.granted", "u1", NOW + 5);
    s.set_admin_role("u1", Some("admin"), NOW + 5, &[replaced])
        .await
        .unwrap();
    let all = s.admin_roles().await.unwrap();
    assert_eq!(
        all.iter()
            .map(|g| (g.user_id.as_str(), g.role.as_str(), g.granted_at))
            .collect::<Vec<_>>(),
        [("u1", "admin", NOW + 5), ("u2", "admin", NOW + 1)]
    );

    // Revoking is idempotent; only u1 loses the role.
    let revoked = role_event("admin_role.revoked", "u1", NOW + 10);
    s.set_admin_role("u1", None, NOW + 10, &[revoked])
        .await
        .unwrap();
    s.set_admin_role("u1", None, NOW + 11, &[]).await.unwrap();
    assert_eq!(s.admin_role_of("u1").await.unwrap(), None);
    assert_eq!(s.admin_roles().await.unwrap().len(), 1);
    assert_eq!(
        kinds_of(&*s, "u1").await,
        [
            "admin_role.granted",
            "admin_role.granted",
            "admin_role.revoked"
        ]
    );

    // The database refuses a role it does not know, and nothing of that write is kept.
    let refused = role_event("admin_role.granted", "u2", NOW + 20);
    assert!(
        s.set_admin_role("u2", Some("root"), NOW + 20, &[refused])
            .await
            .is_err()
    );
    assert_eq!(
        s.admin_role_of("u2").await.unwrap().map(|g| g.role),
        Some("admin".into())
    );
    assert!(kinds_of(&*s, "u2").await.is_empty());
}

async fn an_admin_role_needs_a_user_and_goes_with_them(db: TestStore) {
    let s = &*db.store;
    let event = role_event("admin_role.granted", "nobody", NOW);
    assert!(matches!(
        s.set_admin_role("nobody", Some("admin"), NOW, &[event])
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(kinds_of(s, "nobody").await.is_empty());

    TWO_USERS.seed(s).await;
    s.set_admin_role("u1", Some("admin"), NOW, &[])
        .await
        .unwrap();
    s.set_admin_role("u2", Some("support"), NOW, &[])
        .await
        .unwrap();
    db.delete_user("u1").await;
    assert_eq!(s.admin_role_of("u1").await.unwrap(), None);
    assert_eq!(
        s.admin_roles()
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.user_id)
            .collect::<Vec<_>>(),
        ["u2"]
    );
}

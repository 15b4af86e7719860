//! OAuth and OpenID Connect state: clients, signing keys, pending requests, sessions, grants, codes,
//! refresh tokens, consents, revocation and client assertions.

use super::*;

suite!(
    clients,
    delete_client_cascades,
    clients_keep_logout_and_key_settings,
    signing_keys,
    pending_authorizations,
    pushed_requests_are_taken_once_by_their_client,
    sessions,
    grants,
    auth_code_is_consumed_exactly_once,
    refresh_token_is_consumed_exactly_once,
    auth_code_redemption_is_all_or_nothing,
    refresh_rotation_is_all_or_nothing,
    refresh_of_a_dead_grant_is_refused_inside_the_transaction,
    refresh_siblings_leave_one_chain,
    consent_is_saved_with_its_authorization,
    consents_upsert_list_and_revoke,
    access_token_revocation_is_remembered_until_expiry,
    a_token_context_is_its_grant_user_and_revocation_in_one_read,
    token_contexts_are_served_from_memory_only_while_followed,
    refresh_token_by_hash_does_not_use_it,
    client_assertion_jti_is_single_use_until_expiry,
);

fn signing_key(kid: &str, created_at: UnixTime) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        private_sealed: vec![0, 1, 2, 255, 254, 0, 42],
        public_jwk: format!(r#"{{"kid":"{kid}","kty":"EC"}}"#),
        created_at,
        active_from: created_at + 60,
        retired_at: None,
        unpublish_at: None,
    }
}

fn consent(user_id: &str, client_id: &str, scope: &str, granted_at: UnixTime) -> Consent {
    Consent {
        user_id: user_id.into(),
        client_id: client_id.into(),
        scope: scope.into(),
        granted_at,
    }
}

async fn clients(s: Arc<dyn Store>) {
    let confidential = client("c-conf", NOW);
    let mut public = client("c-pub", NOW + 1);
    public.secret_hash = None;
    public.token_endpoint_auth_method = "none".into();
    public.first_party = true;
    public.post_logout_redirect_uris = vec![];
    s.insert_client(&public, &[]).await.unwrap();
    s.insert_client(&confidential, &[]).await.unwrap();

    assert_eq!(
        s.client_by_id("c-conf").await.unwrap(),
        Some(confidential.clone())
    );
    let got = s.client_by_id("c-pub").await.unwrap().unwrap();
    assert_eq!(got, public);
    assert!(got.is_public());
    assert_eq!(s.client_by_id("nope").await.unwrap(), None);

    let err = s
        .insert_client(&client("c-conf", NOW), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let ids: Vec<String> = s
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["c-conf", "c-pub"]);

    // Secret rotation.
    s.set_client_secret_hash("c-conf", "rotated", &[])
        .await
        .unwrap();
    assert_eq!(
        s.client_by_id("c-conf")
            .await
            .unwrap()
            .unwrap()
            .secret_hash
            .as_deref(),
        Some("rotated")
    );

    assert!(matches!(
        s.set_client_secret_hash("nope", "x", &[]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_client("nope", &[]).await,
        Err(StoreError::NotFound)
    ));

    s.delete_client("c-pub", &[]).await.unwrap();
    assert_eq!(s.client_by_id("c-pub").await.unwrap(), None);
    assert_eq!(s.list_clients().await.unwrap().len(), 1);
}

async fn delete_client_cascades(s: Arc<dyn Store>) {
    Fixture {
        users: &["u1"],
        clients: &["doomed", "kept"],
        sessions: &[("sess-hash", "sid-1", "u1")],
        session_clients: &[("sid-1", "doomed"), ("sid-1", "kept")],
        grants: &[("g-doomed", "u1", "doomed"), ("g-kept", "u1", "kept")],
        codes: &[("code-doomed", "g-doomed"), ("code-kept", "g-kept")],
        refresh_tokens: &[("rt-doomed", "g-doomed"), ("rt-kept", "g-kept")],
    }
    .seed(&*s)
    .await;

    s.delete_client("doomed", &[]).await.unwrap();

    assert_eq!(s.client_by_id("doomed").await.unwrap(), None);
    assert_eq!(s.grant_by_id("g-doomed").await.unwrap(), None);
    assert_eq!(
        s.consume_auth_code("code-doomed", NOW).await.unwrap(),
        Consumed::Missing
    );
    assert_eq!(rotate(&*s, "rt-doomed", NOW).await, Rotation::Missing);
    assert_eq!(s.session_clients("sid-1").await.unwrap(), ["kept"]);

    // The other client's rows are untouched.
    assert!(s.grant_by_id("g-kept").await.unwrap().is_some());
    assert!(matches!(
        s.consume_auth_code("code-kept", NOW).await.unwrap(),
        Consumed::Fresh(_)
    ));
    assert!(matches!(
        rotate(&*s, "rt-kept", NOW).await,
        Rotation::Rotated { .. }
    ));
    assert!(s.session_by_hash("sess-hash", NOW).await.unwrap().is_some());
}

async fn clients_keep_logout_and_key_settings(s: Arc<dyn Store>) {
    let mut full = client("c-jwt", NOW);
    full.secret_hash = None;
    full.token_endpoint_auth_method = "private_key_jwt".into();
    full.backchannel_logout_uri = Some("https://c-jwt.example/backchannel".into());
    full.backchannel_logout_session_required = true;
    full.jwks = Some(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}"#.into());
    full.jwks_uri = Some("https://c-jwt.example/jwks.json".into());
    full.require_pushed_authorization_requests = true;
    s.insert_client(&full, &[]).await.unwrap();
    let plain = client("c-plain", NOW);
    s.insert_client(&plain, &[]).await.unwrap();
    assert_eq!(s.client_by_id("c-jwt").await.unwrap(), Some(full.clone()));
    assert_eq!(
        s.client_by_id("c-plain").await.unwrap(),
        Some(plain.clone())
    );
    assert_eq!(s.list_clients().await.unwrap()[0], full);
    // An update keeps the PAR requirement it is given, either way.
    let mut pushed_only = plain;
    pushed_only.require_pushed_authorization_requests = true;
    s.update_client(&pushed_only, &[]).await.unwrap();
    assert_eq!(s.client_by_id("c-plain").await.unwrap(), Some(pushed_only));
    full.require_pushed_authorization_requests = false;
    s.update_client(&full, &[]).await.unwrap();
    assert_eq!(s.client_by_id("c-jwt").await.unwrap(), Some(full));
}

async fn signing_keys(s: Arc<dyn Store>) {
    let old = signing_key("k-old", NOW - 1000);
    let new = signing_key("k-new", NOW);
    s.insert_signing_key(&new, &[]).await.unwrap();
    s.insert_signing_key(&old, &[]).await.unwrap();
    let err = s
        .insert_signing_key(&signing_key("k-new", NOW), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    // Oldest first, bytes intact.
    assert_eq!(
        s.list_signing_keys().await.unwrap(),
        vec![old.clone(), new.clone()]
    );

    s.retire_signing_key("k-old", NOW, NOW + 600).await.unwrap();
    let keys = s.list_signing_keys().await.unwrap();
    assert_eq!(keys[0].retired_at, Some(NOW));
    assert_eq!(keys[0].unpublish_at, Some(NOW + 600));
    assert_eq!(keys[1].retired_at, None);
    assert!(matches!(
        s.retire_signing_key("k-none", NOW, NOW).await,
        Err(StoreError::NotFound)
    ));

    // Not yet time to unpublish; keys without `unpublish_at` are never deleted.
    assert_eq!(s.delete_unpublished_keys(NOW + 599).await.unwrap(), 0);
    assert_eq!(s.delete_unpublished_keys(NOW + 600).await.unwrap(), 1);
    assert_eq!(s.list_signing_keys().await.unwrap(), vec![new]);
    assert_eq!(s.delete_unpublished_keys(NOW + 1_000_000).await.unwrap(), 0);
}

async fn pending_authorizations(s: Arc<dyn Store>) {
    let pending = PendingAuthorization {
        id: "p1".into(),
        request_json: r#"{"client_id":"c1","scope":"openid"}"#.into(),
        created_at: NOW,
        expires_at: NOW + 600,
    };
    s.insert_pending_authorization(&pending).await.unwrap();
    assert!(matches!(
        s.insert_pending_authorization(&pending).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.pending_authorization("p1", NOW).await.unwrap(),
        Some(pending.clone())
    );
    assert_eq!(
        s.pending_authorization("p1", NOW + 599).await.unwrap(),
        Some(pending)
    );
    assert_eq!(
        s.pending_authorization("p1", NOW + 600).await.unwrap(),
        None
    );
    assert_eq!(s.pending_authorization("nope", NOW).await.unwrap(), None);

    s.delete_pending_authorization("p1").await.unwrap();
    assert_eq!(s.pending_authorization("p1", NOW).await.unwrap(), None);
    // Deleting again is fine.
    s.delete_pending_authorization("p1").await.unwrap();
}

fn pushed(hash: &str, client_id: &str, expires_at: UnixTime) -> PushedRequest {
    PushedRequest {
        request_uri_hash: hash.into(),
        client_id: client_id.into(),
        params_json: r#"[["response_type","code"],["scope","openid"]]"#.into(),
        created_at: NOW,
        expires_at,
    }
}

async fn pushed_requests_are_taken_once_by_their_client(s: Arc<dyn Store>) {
    Fixture {
        clients: &["c1", "c2"],
        ..Fixture::NONE
    }
    .seed(&*s)
    .await;
    let first = pushed("uri-1", "c1", NOW + 60);
    s.insert_pushed_request(&first).await.unwrap();
    assert!(matches!(
        s.insert_pushed_request(&first).await,
        Err(StoreError::Conflict(_))
    ));

    // Another client naming it gets nothing and does not spend it.
    assert_eq!(
        s.take_pushed_request("uri-1", "c2", NOW).await.unwrap(),
        None
    );
    let takers = concurrently(&s, 10, |s, i| async move {
        s.take_pushed_request("uri-1", "c1", NOW + i).await.unwrap()
    })
    .await;
    let taken: Vec<PushedRequest> = takers.into_iter().flatten().collect();
    assert_eq!(taken, vec![first], "exactly one taker gets it");
    assert_eq!(
        s.take_pushed_request("uri-1", "c1", NOW).await.unwrap(),
        None
    );
    assert_eq!(
        s.take_pushed_request("nope", "c1", NOW).await.unwrap(),
        None
    );

    // Usable until just before it expires, and never after; purged once expired.
    s.insert_pushed_request(&pushed("uri-2", "c1", NOW + 60))
        .await
        .unwrap();
    s.insert_pushed_request(&pushed("uri-3", "c1", NOW + 60))
        .await
        .unwrap();
    assert_eq!(
        s.take_pushed_request("uri-2", "c1", NOW + 60)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_pushed_request("uri-3", "c1", NOW + 59)
            .await
            .unwrap(),
        Some(pushed("uri-3", "c1", NOW + 60))
    );
    assert_eq!(s.purge_expired(NOW + 59).await.unwrap(), 0);
    assert_eq!(s.purge_expired(NOW + 60).await.unwrap(), 1);

    // A deleted client's pushed requests go with it.
    s.insert_pushed_request(&pushed("uri-4", "c2", NOW + 60))
        .await
        .unwrap();
    s.delete_client("c2", &[]).await.unwrap();
    assert_eq!(
        s.take_pushed_request("uri-4", "c2", NOW).await.unwrap(),
        None
    );
    assert_eq!(s.purge_expired(NOW + 60).await.unwrap(), 0);
}

async fn sessions(s: Arc<dyn Store>) {
    Fixture {
        users: &["u1"],
        clients: &["c1", "c2"],
        ..Fixture::NONE
    }
    .seed(&*s)
    .await;
    let sess = session("hash-1", "sid-1", "u1", NOW + 3600);
    s.insert_session(&sess, &[]).await.unwrap();
    assert!(matches!(
        s.insert_session(&sess, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    // `sid` is unique too.
    assert!(matches!(
        s.insert_session(&session("hash-2", "sid-1", "u1", NOW + 3600), &[])
            .await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(
        s.session_by_hash("hash-1", NOW).await.unwrap(),
        Some(sess.clone())
    );
    assert_eq!(s.session_by_hash("hash-1", NOW + 3600).await.unwrap(), None);
    assert_eq!(s.session_by_hash("nope", NOW).await.unwrap(), None);

    assert!(s.session_clients("sid-1").await.unwrap().is_empty());
    s.add_session_client("sid-1", "c2").await.unwrap();
    s.add_session_client("sid-1", "c1").await.unwrap();
    s.add_session_client("sid-1", "c2").await.unwrap(); // idempotent
    assert_eq!(s.session_clients("sid-1").await.unwrap(), ["c1", "c2"]);
    assert!(matches!(
        s.add_session_client("sid-unknown", "c1").await,
        Err(StoreError::NotFound)
    ));

    s.delete_session("hash-1").await.unwrap();
    assert_eq!(s.session_by_hash("hash-1", NOW).await.unwrap(), None);
    assert!(s.session_clients("sid-1").await.unwrap().is_empty());
    s.delete_session("hash-1").await.unwrap();
}

async fn grants(s: Arc<dyn Store>) {
    ONE_GRANT.seed(&*s).await;
    let expected = grant("g1", "u1", "c1", NOW + 3600);
    assert_eq!(s.grant_by_id("g1").await.unwrap(), Some(expected.clone()));
    assert_eq!(s.grant_by_id("nope").await.unwrap(), None);
    assert!(matches!(
        s.insert_grant(&expected).await,
        Err(StoreError::Conflict(_))
    ));

    let mut no_sid = grant("g2", "u1", "c1", NOW + 3600);
    no_sid.sid = None;
    s.insert_grant(&no_sid).await.unwrap();
    assert_eq!(s.grant_by_id("g2").await.unwrap(), Some(no_sid));

    // A grant must belong to an existing client.
    assert!(
        s.insert_grant(&grant("g3", "u1", "no-such-client", NOW + 1))
            .await
            .is_err()
    );

    s.revoke_grant("g1", NOW + 10).await.unwrap();
    assert_eq!(grant_revoked_at(&*s, "g1").await, Some(NOW + 10));
    // Idempotent: the first revocation time stays.
    s.revoke_grant("g1", NOW + 20).await.unwrap();
    assert_eq!(grant_revoked_at(&*s, "g1").await, Some(NOW + 10));
    s.revoke_grant("nope", NOW).await.unwrap();
    assert_eq!(grant_revoked_at(&*s, "g2").await, None);
}

async fn auth_code_is_consumed_exactly_once(s: Arc<dyn Store>) {
    ONE_GRANT.seed(&*s).await;
    let code = auth_code("code-hash", "g1", "c1", NOW + 60);
    s.insert_auth_code(&code).await.unwrap();
    assert!(matches!(
        s.insert_auth_code(&code).await,
        Err(StoreError::Conflict(_))
    ));
    let mut public = auth_code("code-public", "g1", "c1", NOW + 60);
    public.nonce = None;
    public.code_challenge = None;
    public.code_challenge_method = None;
    s.insert_auth_code(&public).await.unwrap();

    let consumers = concurrently(&s, 10, |s, i| async move {
        s.consume_auth_code("code-hash", NOW + i).await.unwrap()
    });
    let mut fresh = Vec::new();
    let mut already_used = Vec::new();
    for consumed in consumers.await {
        match consumed {
            Consumed::Fresh(c) => fresh.push(c),
            Consumed::AlreadyUsed(c) => already_used.push(c),
            Consumed::Missing => panic!("code reported missing"),
        }
    }
    assert_eq!(fresh.len(), 1, "exactly one consumer wins");
    assert_eq!(already_used.len(), 9);
    let winner = &fresh[0];
    let used_at = winner.used_at.expect("Fresh row carries used_at");
    assert_eq!(
        AuthCode {
            used_at: None,
            ..winner.clone()
        },
        code
    );
    for c in &already_used {
        assert_eq!(c.used_at, Some(used_at));
    }
    // Later attempts still see the first use.
    assert_eq!(
        s.consume_auth_code("code-hash", NOW + 100).await.unwrap(),
        Consumed::AlreadyUsed(winner.clone())
    );

    match s.consume_auth_code("code-public", NOW).await.unwrap() {
        Consumed::Fresh(c) => {
            assert_eq!(c.nonce, None);
            assert_eq!(c.code_challenge, None);
            assert_eq!(c.used_at, Some(NOW));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.consume_auth_code("unknown", NOW).await.unwrap(),
        Consumed::Missing
    );
}

async fn refresh_token_is_consumed_exactly_once(s: Arc<dyn Store>) {
    ONE_GRANT.seed(&*s).await;
    let token = refresh_token("rt-hash", "g1", NOW + 3600);
    s.insert_refresh_token(&token).await.unwrap();
    assert!(matches!(
        s.insert_refresh_token(&token).await,
        Err(StoreError::Conflict(_))
    ));

    // Without a grace window, of concurrent presentations exactly one rotates; the others are
    // replays and revoke the grant.
    let rotations = concurrently(&s, 10, |s, i| async move {
        let next = successor(&*s, "rt-hash", &format!("rt-next-{i}")).await;
        s.rotate_refresh_token("rt-hash", &next, NOW, NOW + 1, &[])
            .await
            .unwrap()
    });
    let mut rotated = Vec::new();
    let mut reused = 0;
    for rotation in rotations.await {
        match rotation {
            Rotation::Rotated { presented } => rotated.push(presented),
            Rotation::Reused { presented } => {
                assert_eq!(presented.used_at, Some(NOW));
                reused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(rotated.len(), 1, "exactly one rotation wins");
    assert_eq!(reused, 9);
    assert_eq!(
        RefreshToken {
            used_at: None,
            ..rotated[0].clone()
        },
        token
    );
    assert!(grant_revoked_at(&*s, "g1").await.is_some());
    // Only the winner's successor was stored.
    let mut stored = 0;
    for i in 0..10 {
        let hash = format!("rt-next-{i}");
        stored += usize::from(s.refresh_token_by_hash(&hash).await.unwrap().is_some());
    }
    assert_eq!(stored, 1);
    assert_eq!(rotate(&*s, "unknown", NOW).await, Rotation::Missing);
}

async fn auth_code_redemption_is_all_or_nothing(s: Arc<dyn Store>) {
    Fixture {
        codes: &[("code-1", "g1")],
        refresh_tokens: &[("rt-taken", "g1")],
        ..ONE_GRANT
    }
    .seed(&*s)
    .await;
    let first = |hash: &str| RefreshToken {
        generation: 0,
        ..refresh_token(hash, "g1", NOW + 3600)
    };
    // Reading does not use it.
    assert_eq!(s.auth_code("code-1").await.unwrap().unwrap().used_at, None);
    assert_eq!(s.auth_code("nope").await.unwrap(), None);
    // Storing the refresh token fails: the code is not used up.
    assert!(matches!(
        s.redeem_auth_code("code-1", NOW, &first("rt-taken")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.auth_code("code-1").await.unwrap().unwrap().used_at, None);
    // Concurrent exchanges: one wins and stores its refresh token; the others store nothing.
    let exchanges = concurrently(&s, 8, |s, i| {
        let token = first(&format!("rt-first-{i}"));
        async move { s.redeem_auth_code("code-1", NOW + 1, &token).await }
    });
    let mut fresh = 0;
    for exchange in exchanges.await {
        match exchange.unwrap() {
            Consumed::Fresh(code) => {
                assert_eq!(code.used_at, Some(NOW + 1));
                fresh += 1;
            }
            Consumed::AlreadyUsed(code) => assert_eq!(code.used_at, Some(NOW + 1)),
            Consumed::Missing => panic!("missing"),
        }
    }
    assert_eq!(fresh, 1);
    let mut stored = 0;
    for i in 0..8 {
        let hash = format!("rt-first-{i}");
        stored += usize::from(s.refresh_token_by_hash(&hash).await.unwrap().is_some());
    }
    assert_eq!(stored, 1);
    assert_eq!(
        s.redeem_auth_code("unknown", NOW, &first("rt-x"))
            .await
            .unwrap(),
        Consumed::Missing
    );
}

/// The refresh grant may check the grant from memory; the rotation checks it again, exactly,
/// and changes nothing when it is not live.
async fn refresh_of_a_dead_grant_is_refused_inside_the_transaction(s: Arc<dyn Store>) {
    Fixture {
        refresh_tokens: &[("rt-dead", "g1")],
        ..ONE_GRANT
    }
    .seed(&*s)
    .await;
    let unchanged = |s: Arc<dyn Store>| async move {
        let token = s.refresh_token_by_hash("rt-dead").await.unwrap().unwrap();
        assert_eq!((token.used_at, token.revoked_at), (None, None));
    };
    // The grant expires at NOW + 3600.
    assert_eq!(rotate(&*s, "rt-dead", NOW + 3600).await, Rotation::Refused);
    unchanged(s.clone()).await;
    s.set_user_disabled("u1", true, NOW, &[]).await.unwrap();
    assert_eq!(rotate(&*s, "rt-dead", NOW).await, Rotation::Refused);
    unchanged(s.clone()).await;
    s.set_user_disabled("u1", false, NOW, &[]).await.unwrap();
    s.revoke_grant("g1", NOW).await.unwrap();
    assert_eq!(rotate(&*s, "rt-dead", NOW).await, Rotation::Refused);
    unchanged(s.clone()).await;
}

async fn refresh_rotation_is_all_or_nothing(s: Arc<dyn Store>) {
    Fixture {
        refresh_tokens: &[("rt-1", "g1"), ("rt-taken", "g1")],
        ..ONE_GRANT
    }
    .seed(&*s)
    .await;
    // Storing the successor fails after the presented token was marked used (its hash is
    // taken): the whole rotation is undone.
    let clashing = successor(&*s, "rt-1", "rt-taken").await;
    assert!(matches!(
        s.rotate_refresh_token("rt-1", &clashing, NOW, NOW - GRACE, &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    let after = s.refresh_token_by_hash("rt-1").await.unwrap().unwrap();
    assert_eq!((after.used_at, after.revoked_at), (None, None));
    assert_eq!(
        s.refresh_token_by_hash("rt-taken")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None,
        "the sibling revocation was undone too"
    );
    // The old token still works.
    assert!(matches!(
        rotate(&*s, "rt-1", NOW + 60).await,
        Rotation::Rotated { .. }
    ));
    // A successor of the wrong generation or grant is refused and changes nothing.
    s.insert_refresh_token(&refresh_token("rt-2", "g1", NOW + 3600))
        .await
        .unwrap();
    let mut wrong = successor(&*s, "rt-2", "rt-wrong").await;
    wrong.generation += 1;
    assert!(matches!(
        s.rotate_refresh_token("rt-2", &wrong, NOW, NOW - GRACE, &[])
            .await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(
        s.refresh_token_by_hash("rt-2")
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );
}

async fn refresh_siblings_leave_one_chain(s: Arc<dyn Store>) {
    Fixture {
        refresh_tokens: &[("rt-0", "g1")],
        ..ONE_GRANT
    }
    .seed(&*s)
    .await;
    // Three concurrent refreshes within the grace window: three siblings of generation 4.
    let mut siblings = Vec::new();
    for (i, at) in [NOW, NOW + 1, NOW + 2].into_iter().enumerate() {
        let next = successor(&*s, "rt-0", &format!("rt-1{}", ["a", "b", "c"][i])).await;
        assert!(matches!(
            s.rotate_refresh_token("rt-0", &next, at, at - GRACE, &[])
                .await
                .unwrap(),
            Rotation::Rotated { .. }
        ));
        siblings.push(next.token_hash);
    }
    // The client kept the second answer: using it revokes the other two.
    assert!(matches!(
        rotate(&*s, "rt-1b", NOW + 3).await,
        Rotation::Rotated { .. }
    ));
    for lost in ["rt-1a", "rt-1c"] {
        let token = s.refresh_token_by_hash(lost).await.unwrap().unwrap();
        assert_eq!(token.revoked_at, Some(NOW + 3), "{lost}");
        assert_eq!(
            rotate(&*s, lost, NOW + 4).await,
            Rotation::Refused,
            "{lost}"
        );
    }
    // Presenting the parent again, even within its grace window, cannot start a second chain.
    assert_eq!(rotate(&*s, "rt-0", NOW + 4).await, Rotation::Refused);
    // None of this is a replay: the grant lives.
    assert_eq!(grant_revoked_at(&*s, "g1").await, None);
    // Outside the window, presenting a used token is a replay: the grant is revoked.
    assert!(matches!(
        rotate(&*s, "rt-1b", NOW + 3 + GRACE + 1).await,
        Rotation::Reused { .. }
    ));
    assert_eq!(grant_revoked_at(&*s, "g1").await, Some(NOW + 3 + GRACE + 1));
}

async fn consent_is_saved_with_its_authorization(s: Arc<dyn Store>) {
    Fixture {
        sessions: &[("sess-1", "sid-1", "u1")],
        codes: &[("code-taken", "g1")],
        ..ONE_GRANT
    }
    .seed(&*s)
    .await;
    let consent = consent("u1", "c1", "openid email", NOW);
    // The code cannot be stored: no grant, no consent.
    let failing = grant("g-2", "u1", "c1", NOW + 3600);
    assert!(
        s.record_authorization(
            &failing,
            &auth_code("code-taken", "g-2", "c1", NOW + 60),
            "sid-1",
            None,
            Some(&consent),
            &[]
        )
        .await
        .is_err()
    );
    assert_eq!(s.consent("u1", "c1").await.unwrap(), None);
    assert_eq!(s.grant_by_id("g-2").await.unwrap(), None);
    s.record_authorization(
        &failing,
        &auth_code("code-2", "g-2", "c1", NOW + 60),
        "sid-1",
        None,
        Some(&consent),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), Some(consent));
}

async fn consents_upsert_list_and_revoke(s: Arc<dyn Store>) {
    // Grants: two of u1 to c1 (one already revoked), one of u1 to c2, one of u2 to c1.
    Fixture {
        users: &["u1", "u2"],
        clients: &["c1", "c2"],
        grants: &[
            ("g-u1-c1", "u1", "c1"),
            ("g-u1-c2", "u1", "c2"),
            ("g-u2-c1", "u2", "c1"),
        ],
        refresh_tokens: &[("rt-u1-c1", "g-u1-c1")],
        ..Fixture::NONE
    }
    .seed(&*s)
    .await;
    let mut old = grant("g-u1-c1-old", "u1", "c1", NOW + 3600);
    old.revoked_at = Some(NOW - 1);
    s.insert_grant(&old).await.unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), None);
    assert!(s.list_consents("u1").await.unwrap().is_empty());

    let first = consent("u1", "c1", "openid email", NOW);
    s.save_consent(&first).await.unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), Some(first));
    // Saving again replaces scope and time (one row per user and client).
    let wider = consent("u1", "c1", "openid email profile", NOW + 50);
    s.save_consent(&wider).await.unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), Some(wider.clone()));
    let other_client = consent("u1", "c2", "openid", NOW + 10);
    s.save_consent(&other_client).await.unwrap();
    let other_user = consent("u2", "c1", "openid", NOW + 5);
    s.save_consent(&other_user).await.unwrap();
    // Oldest first, only the user's own.
    assert_eq!(
        s.list_consents("u1").await.unwrap(),
        vec![other_client.clone(), wider.clone()]
    );
    assert_eq!(
        s.list_consents("u2").await.unwrap(),
        vec![other_user.clone()]
    );
    assert_eq!(s.consent("u2", "c2").await.unwrap(), None);

    s.revoke_consent("u1", "c1", NOW + 100, &[]).await.unwrap();
    assert_eq!(s.consent("u1", "c1").await.unwrap(), None);
    assert_eq!(s.list_consents("u1").await.unwrap(), vec![other_client]);
    assert_eq!(grant_revoked_at(&*s, "g-u1-c1").await, Some(NOW + 100));
    // The first revocation time stays.
    assert_eq!(grant_revoked_at(&*s, "g-u1-c1-old").await, Some(NOW - 1));
    assert_eq!(grant_revoked_at(&*s, "g-u1-c2").await, None);
    assert_eq!(grant_revoked_at(&*s, "g-u2-c1").await, None);
    assert_eq!(s.consent("u2", "c1").await.unwrap(), Some(other_user));
    // Revoking what is not there is fine.
    s.revoke_consent("u1", "c1", NOW + 200, &[]).await.unwrap();
    assert_eq!(grant_revoked_at(&*s, "g-u1-c1").await, Some(NOW + 100));

    // Consents go with their client.
    s.delete_client("c2", &[]).await.unwrap();
    assert!(s.list_consents("u1").await.unwrap().is_empty());
}

async fn access_token_revocation_is_remembered_until_expiry(s: Arc<dyn Store>) {
    assert!(!s.access_token_revoked("jti-1").await.unwrap());
    s.revoke_access_token("jti-1", NOW + 600).await.unwrap();
    assert!(s.access_token_revoked("jti-1").await.unwrap());
    assert!(!s.access_token_revoked("jti-2").await.unwrap());
    // Idempotent.
    s.revoke_access_token("jti-1", NOW + 900).await.unwrap();
    assert!(s.access_token_revoked("jti-1").await.unwrap());
    s.revoke_access_token("jti-2", NOW + 1200).await.unwrap();

    // Kept while the token could still be used; purged once it has expired.
    assert_eq!(s.purge_expired(NOW + 599).await.unwrap(), 0);
    assert!(s.access_token_revoked("jti-1").await.unwrap());
    assert_eq!(s.purge_expired(NOW + 600).await.unwrap(), 1);
    assert!(!s.access_token_revoked("jti-1").await.unwrap());
    assert!(s.access_token_revoked("jti-2").await.unwrap());
}

async fn refresh_token_by_hash_does_not_use_it(s: Arc<dyn Store>) {
    ONE_GRANT.seed(&*s).await;
    let token = refresh_token("rt-1", "g1", NOW + 3600);
    s.insert_refresh_token(&token).await.unwrap();
    assert_eq!(s.refresh_token_by_hash("nope").await.unwrap(), None);
    assert_eq!(
        s.refresh_token_by_hash("rt-1").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        s.refresh_token_by_hash("rt-1").await.unwrap(),
        Some(token.clone())
    );
    // Looking did not use it.
    assert_eq!(
        rotate(&*s, "rt-1", NOW + 5).await,
        Rotation::Rotated {
            presented: RefreshToken {
                used_at: Some(NOW + 5),
                ..token.clone()
            }
        }
    );
    // A used token is still found, with its use recorded.
    assert_eq!(
        s.refresh_token_by_hash("rt-1").await.unwrap(),
        Some(RefreshToken {
            used_at: Some(NOW + 5),
            ..token
        })
    );
}

async fn client_assertion_jti_is_single_use_until_expiry(s: Arc<dyn Store>) {
    assert!(
        s.use_client_assertion_jti("c1", "jti-a", NOW + 60, NOW)
            .await
            .unwrap()
    );
    // A replay, even later, with another expiry.
    assert!(
        !s.use_client_assertion_jti("c1", "jti-a", NOW + 60, NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.use_client_assertion_jti("c1", "jti-a", NOW + 120, NOW + 59)
            .await
            .unwrap()
    );
    // The same jti from another client is that client's own.
    assert!(
        s.use_client_assertion_jti("c2", "jti-a", NOW + 60, NOW)
            .await
            .unwrap()
    );
    assert!(
        s.use_client_assertion_jti("c1", "jti-b", NOW + 60, NOW)
            .await
            .unwrap()
    );
    // Once the remembered entry has expired the jti may be used again, and is then remembered
    // until its new expiry.
    assert!(
        s.use_client_assertion_jti("c1", "jti-a", NOW + 200, NOW + 60)
            .await
            .unwrap()
    );
    assert!(
        !s.use_client_assertion_jti("c1", "jti-a", NOW + 300, NOW + 199)
            .await
            .unwrap()
    );
    // Purged once expired: c1/jti-b and c2/jti-a (NOW + 60), not c1/jti-a (NOW + 200).
    assert_eq!(s.purge_expired(NOW + 60).await.unwrap(), 2);
    assert!(
        !s.use_client_assertion_jti("c1", "jti-a", NOW + 300, NOW + 61)
            .await
            .unwrap()
    );
    assert!(
        s.use_client_assertion_jti("c1", "jti-b", NOW + 300, NOW + 61)
            .await
            .unwrap()
    );
}

async fn a_token_context_is_its_grant_user_and_revocation_in_one_read(s: Arc<dyn Store>) {
    ONE_GRANT.seed(&*s).await;
    let context = s
        .token_context("g1", "jti-1")
        .await
        .unwrap()
        .expect("the grant");
    assert_eq!(
        Some(context.grant.clone()),
        s.grant_by_id("g1").await.unwrap()
    );
    assert_eq!(
        Some(context.user.clone()),
        s.user_by_id("u1").await.unwrap()
    );
    assert!(!context.jti_revoked);

    s.revoke_access_token("jti-1", NOW + 600).await.unwrap();
    assert!(
        s.token_context("g1", "jti-1")
            .await
            .unwrap()
            .unwrap()
            .jti_revoked
    );
    assert!(
        !s.token_context("g1", "jti-2")
            .await
            .unwrap()
            .unwrap()
            .jti_revoked
    );
    s.set_user_disabled("u1", true, NOW, &[]).await.unwrap();
    assert!(
        s.token_context("g1", "jti-2")
            .await
            .unwrap()
            .unwrap()
            .user
            .disabled
    );
    s.revoke_grant("g1", NOW).await.unwrap();
    let revoked = s.token_context("g1", "jti-2").await.unwrap().unwrap();
    assert_eq!(revoked.grant.revoked_at, Some(NOW));
    assert!(s.token_context("nope", "jti-1").await.unwrap().is_none());
}

/// With the watcher running, a context comes from memory (a change no trigger watches, made
/// with SQL behind the store's back, stays unseen); this store's own revocation is seen at once;
/// a revocation another process commits (SQL behind its back) within a second; and once the
/// watcher stops, every read goes to the database again.
async fn token_contexts_are_served_from_memory_only_while_followed(db: TestStore) {
    use std::time::{Duration, Instant};
    let s = db.store.clone();
    Fixture {
        refresh_tokens: &[("rt-warm", "g1")],
        ..ONE_GRANT
    }
    .seed(&*s)
    .await;
    let watcher = tokio::spawn({
        let s = s.clone();
        async move { s.follow_token_context_changes().await }
    });
    let scope = |s: &Arc<dyn Store>, jti: &'static str| {
        let s = s.clone();
        async move {
            s.token_context("g1", jti)
                .await
                .unwrap()
                .unwrap()
                .grant
                .scope
        }
    };
    // Serving starts once the watcher has its starting point.
    let started = Instant::now();
    loop {
        let before = scope(&s, "jti-1").await;
        db.execute("UPDATE grants SET scope = scope || ' x' WHERE id = 'g1'")
            .await;
        if scope(&s, "jti-1").await == before {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never served from memory"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A plain rotation ends no access token: what is in memory stays there (refreshes must not
    // empty the cache introspection relies on).
    let before = scope(&s, "jti-1").await;
    db.execute("UPDATE grants SET scope = scope || ' z' WHERE id = 'g1'")
        .await;
    assert!(matches!(
        rotate(&*s, "rt-warm", NOW).await,
        Rotation::Rotated { .. }
    ));
    assert_eq!(scope(&s, "jti-1").await, before, "kept across a rotation");

    s.revoke_access_token("jti-1", NOW + 600).await.unwrap();
    assert!(
        s.token_context("g1", "jti-1")
            .await
            .unwrap()
            .unwrap()
            .jti_revoked,
        "this store's own revocation is seen at once"
    );

    let cached = s.token_context("g1", "jti-2").await.unwrap().unwrap();
    assert!(cached.grant.revoked_at.is_none());
    db.execute("UPDATE grants SET revoked_at = 1 WHERE id = 'g1'")
        .await;
    let revoked_at = Instant::now();
    while s
        .token_context("g1", "jti-2")
        .await
        .unwrap()
        .unwrap()
        .grant
        .revoked_at
        .is_none()
    {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "another process's revocation unseen after a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    watcher.abort();
    let _ = watcher.await;
    let before = scope(&s, "jti-2").await;
    db.execute("UPDATE grants SET scope = scope || ' y' WHERE id = 'g1'")
        .await;
    assert_ne!(
        scope(&s, "jti-2").await,
        before,
        "without a watcher, from the database"
    );
}

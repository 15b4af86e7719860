//! Operators and passkeys over HTTP: the admin API lists a user's passkeys (never the
//! credential) and removes one, audited, refusing the last way to log in with a 409; the
//! OpenAPI document describes both operations.

use reqwest::{Method, StatusCode};

use crate::admin_api::{ALL_ADMIN_SCOPES, admin_token, call, machine_client};
use crate::common::{TestServer, plain_client};
use leasify_id::store::StoredPasskey;

fn stored(id: &str, user_id: &str, created_at: i64) -> StoredPasskey {
    StoredPasskey {
        id: id.into(),
        user_id: user_id.into(),
        credential_id: format!("cred-{id}"),
        credential: r#"{"cred":"secret-ish"}"#.into(),
        rp_id: "localhost".into(),
        name: format!("Nyckel {id}"),
        created_at,
        last_used_at: None,
        sign_count: 7,
        backup_eligible: false,
        backup_state: false,
    }
}

#[tokio::test]
async fn the_admin_api_lists_and_removes_passkeys_but_not_the_last_way_in() {
    let server = TestServer::start().await;
    let (id, secret) = machine_client(&server, ALL_ADMIN_SCOPES).await;
    let token = admin_token(&server, &id, &secret, ALL_ADMIN_SCOPES).await;
    // A user without a password (invited, never chose one) with two passkeys.
    let user = leasify_id::admin::users::create(
        &server.state,
        &leasify_id::audit::Caller::system(),
        leasify_id::admin::users::NewUser {
            email: "ines@example.se".into(),
            name: "Ines Ek".into(),
            locale: "en".into(),
            password: None,
            invite: false,
        },
    )
    .await
    .expect("user")
    .id;
    for (key, at) in [("p1", 1), ("p2", 2)] {
        server
            .state
            .store
            .insert_passkey(&stored(key, &user, at), &[])
            .await
            .unwrap();
    }

    let listed = call(
        &server,
        Method::GET,
        "/users/ines@example.se/passkeys",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body[0]["id"], "p1");
    assert_eq!(listed.body[0]["sign_count"], 7);
    assert_eq!(listed.body[1]["name"], "Nyckel p2");
    assert!(
        !listed.body.to_string().contains("secret-ish"),
        "{}",
        listed.body
    );

    let path = format!("/users/{user}/passkeys/p1");
    let removed = call(
        &server,
        Method::DELETE,
        &path,
        Some(&token),
        None,
        Some("rm-p1"),
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let unknown = call(
        &server,
        Method::DELETE,
        &path,
        Some(&token),
        None,
        Some("rm-p1-again"),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let last = format!("/users/{user}/passkeys/p2");
    let refused = call(
        &server,
        Method::DELETE,
        &last,
        Some(&token),
        None,
        Some("rm-p2"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(
        server.state.store.passkeys_of(&user).await.unwrap().len(),
        1
    );

    // Reading needs the read scope.
    let (weak_id, weak_secret) = machine_client(&server, "admin:audit:read").await;
    let weak = admin_token(&server, &weak_id, &weak_secret, "admin:audit:read").await;
    let forbidden = call(
        &server,
        Method::GET,
        "/users/ines@example.se/passkeys",
        Some(&weak),
        None,
        None,
    )
    .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    let document: serde_json::Value = plain_client()
        .get(server.url("/admin/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = &document["paths"];
    assert!(paths["/users/{id}/passkeys"]["get"].is_object(), "{paths}");
    assert!(paths["/users/{id}/passkeys/{passkey_id}"]["delete"].is_object());
    server.stop().await;
}

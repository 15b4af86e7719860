//! UserInfo, revocation (RFC 7009) and introspection (RFC 7662): who may see or end which token.

use super::*;
use crate::oidc::errors::{BearerError, TokenError};
use crate::oidc::revocation::{introspect, revoke};
use crate::oidc::userinfo::{PresentedToken, userinfo};

fn bearer(token: &str) -> PresentedToken {
    PresentedToken {
        header: Some(token.to_string()),
        ..Default::default()
    }
}

async fn active(flow: &Flow, client: &Client, token: &str) -> bool {
    let answer = introspect(&flow.kit.state, client, &form(&[("token", token)]))
        .await
        .expect("introspection answers");
    answer["active"] == serde_json::json!(true)
}

#[tokio::test]
async fn userinfo_needs_exactly_one_live_token() {
    let flow = Flow::new().await;
    let state = &flow.kit.state;
    let tokens = flow.tokens(&[("scope", "openid email")]).await;
    let claims = userinfo(state, bearer(&tokens.access_token))
        .await
        .expect("claims");
    assert_eq!(claims["sub"], serde_json::json!(flow.user.id));
    assert_eq!(claims["email"], serde_json::json!("anna@example.se"));
    assert!(!claims.contains_key("name"), "profile was not granted");

    assert!(matches!(
        userinfo(state, PresentedToken::default()).await,
        Err(BearerError::Missing)
    ));
    let both = PresentedToken {
        header: Some(tokens.access_token.clone()),
        form: Some(tokens.access_token.clone()),
        ..Default::default()
    };
    assert!(matches!(
        userinfo(state, both).await,
        Err(BearerError::InvalidRequest(_))
    ));
    assert!(matches!(
        userinfo(state, bearer("eyJhbGciOiJub25lIn0.e30.")).await,
        Err(BearerError::InvalidToken(_))
    ));
    flow.kit.clock.advance(state.config.tokens.access_token_ttl);
    assert!(matches!(
        userinfo(state, bearer(&tokens.access_token)).await,
        Err(BearerError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn userinfo_stops_for_a_disabled_user() {
    let flow = Flow::new().await;
    let tokens = flow.tokens(&[]).await;
    crate::admin::users::set_disabled(
        &flow.kit.state,
        &crate::audit::Caller::system(),
        &flow.user.id,
        true,
    )
    .await
    .expect("disabled");
    assert!(matches!(
        userinfo(&flow.kit.state, bearer(&tokens.access_token)).await,
        Err(BearerError::InvalidToken(_))
    ));
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    assert_eq!(
        PresentedToken::bearer_from_header("bEaReR abc").as_deref(),
        Some("abc")
    );
    assert_eq!(PresentedToken::bearer_from_header("Basic abc"), None);
    assert_eq!(PresentedToken::bearer_from_header("Bearer"), None);
}

#[tokio::test]
async fn revoking_an_access_token_ends_it_alone() {
    let flow = Flow::new().await;
    let state = &flow.kit.state;
    let tokens = flow.tokens(&[]).await;
    revoke(
        state,
        &flow.client,
        &form(&[("token", &tokens.access_token)]),
    )
    .await
    .expect("revoked");
    assert!(userinfo(state, bearer(&tokens.access_token)).await.is_err());
    assert!(!active(&flow, &flow.client, &tokens.access_token).await);
    let refresh = tokens.refresh_token.expect("refresh");
    assert!(flow.refresh(&flow.client, &refresh, None).await.is_ok());
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_grant() {
    let flow = Flow::new().await;
    let state = &flow.kit.state;
    let tokens = flow.tokens(&[]).await;
    let refresh = tokens.refresh_token.expect("refresh");
    assert!(active(&flow, &flow.client, &refresh).await);
    revoke(
        state,
        &flow.client,
        &form(&[("token", &refresh), ("token_type_hint", "refresh_token")]),
    )
    .await
    .expect("revoked");
    assert!(!active(&flow, &flow.client, &refresh).await);
    assert!(!active(&flow, &flow.client, &tokens.access_token).await);
    assert!(userinfo(state, bearer(&tokens.access_token)).await.is_err());
    // Unknown and already revoked tokens are not an error (RFC 7009 §2.2).
    for token in [refresh.as_str(), "never-issued"] {
        revoke(state, &flow.client, &form(&[("token", token)]))
            .await
            .expect("quietly accepted");
    }
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let flow = Flow::new().await;
    let other = flow.kit.client("other").await;
    let tokens = flow.tokens(&[]).await;
    let refused = revoke(
        &flow.kit.state,
        &other,
        &form(&[("token", &tokens.access_token)]),
    )
    .await;
    assert!(matches!(
        refused,
        Err(TokenError {
            error: "unauthorized_client",
            ..
        })
    ));
    assert!(active(&flow, &flow.client, &tokens.access_token).await);
    assert!(matches!(
        revoke(&flow.kit.state, &flow.client, &form(&[])).await,
        Err(TokenError {
            error: "invalid_request",
            ..
        })
    ));
}

#[tokio::test]
async fn introspection_shows_a_public_client_only_its_own_tokens() {
    let flow = Flow::new().await;
    let resource_server = flow.kit.client("api").await;
    let spa = flow
        .kit
        .client_with("spa", |c| {
            c.token_endpoint_auth_method = "none".into();
            c.secret_hash = None;
        })
        .await;
    let tokens = flow.tokens(&[]).await;
    let answer = introspect(
        &flow.kit.state,
        &resource_server,
        &form(&[("token", &tokens.access_token)]),
    )
    .await
    .expect("answer");
    assert_eq!(answer["active"], serde_json::json!(true));
    assert_eq!(answer["client_id"], serde_json::json!("rp"));
    assert_eq!(answer["sub"], serde_json::json!(flow.user.id));
    assert!(!active(&flow, &spa, &tokens.access_token).await);
    assert!(!active(&flow, &flow.client, "never-issued").await);
}

/// RFC 7662 §2.2: `aud` is the token's intended audience, as the token itself says it.
#[tokio::test]
async fn introspection_reports_the_tokens_own_audience() {
    let flow = Flow::new().await;
    let tokens = flow.tokens(&[]).await;
    let answer = introspect(
        &flow.kit.state,
        &flow.client,
        &form(&[("token", &tokens.access_token)]),
    )
    .await
    .expect("introspection answers");
    let payload = tokens.access_token.split('.').nth(1).expect("a JWS");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    assert_eq!(answer["aud"], claims["aud"]);
    assert_eq!(answer["client_id"], serde_json::json!(flow.client.id));
}

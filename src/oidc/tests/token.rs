//! The token endpoint's decisions: what a code or refresh token is good for, and what a replay,
//! a wrong verifier, another client or the clock does to it.

use super::*;
use crate::oidc::errors::TokenError;
use crate::oidc::tokens::verify_access_token;
use crate::state::AppState;
use crate::store::Client;

/// A token request without a DPoP proof.
async fn token(
    state: &AppState,
    client: &Client,
    form: &std::collections::HashMap<String, String>,
) -> Result<TokenResponse, TokenError> {
    crate::oidc::token::token(state, client, form, &Default::default()).await
}

fn assert_refused(result: Result<TokenResponse, TokenError>, status: u16, error: &str) {
    match result {
        Err(e) => {
            assert_eq!((e.status, e.error), (status, error), "{e}");
            assert!(
                !e.description.contains('"') && !e.description.contains('\\'),
                "error_description charset: {}",
                e.description
            );
        }
        Ok(tokens) => panic!("expected {error}, got tokens for {}", tokens.scope),
    }
}

async fn access_token_live(flow: &Flow, access_token: &str) -> bool {
    verify_access_token(&flow.kit.state, access_token)
        .await
        .is_ok()
}

#[tokio::test]
async fn a_code_gives_id_access_and_refresh_tokens() {
    let flow = Flow::new().await;
    let tokens = flow
        .tokens(&[("scope", "openid email offline_access")])
        .await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.scope, "openid email offline_access");
    assert_eq!(
        tokens.expires_in,
        flow.kit.state.config.tokens.access_token_ttl
    );
    assert!(tokens.id_token.is_some() && tokens.refresh_token.is_some());
    assert!(access_token_live(&flow, &tokens.access_token).await);
}

#[tokio::test]
async fn grant_types_and_missing_parameters() {
    let flow = Flow::new().await;
    let state = &flow.kit.state;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "invalid_request"),
        (&[("grant_type", "password")], "unsupported_grant_type"),
        (&[("grant_type", "authorization_code")], "invalid_request"),
        (&[("grant_type", "refresh_token")], "invalid_request"),
        (
            &[("grant_type", "authorization_code"), ("code", "nonsense")],
            "invalid_grant",
        ),
        (
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "nonsense"),
            ],
            "invalid_grant",
        ),
    ];
    for (fields, expected) in cases {
        assert_refused(
            token(state, &flow.client, &form(fields)).await,
            400,
            expected,
        );
    }
}

#[tokio::test]
async fn a_wrong_or_missing_verifier_is_invalid_grant_and_uses_the_code_up() {
    let flow = Flow::new().await;
    let state = &flow.kit.state;
    let (code, verifier) = flow.code(&[]).await;
    let (other_verifier, _) = pkce_pair();
    assert_refused(
        token(
            state,
            &flow.client,
            &flow.redemption(&code, &other_verifier),
        )
        .await,
        400,
        "invalid_grant",
    );
    // One attempt per code: the right verifier is now too late.
    assert_refused(
        token(state, &flow.client, &flow.redemption(&code, &verifier)).await,
        400,
        "invalid_grant",
    );

    let (code, _) = flow.code(&[]).await;
    let mut missing = flow.redemption(&code, "");
    missing.remove("code_verifier");
    assert_refused(
        token(state, &flow.client, &missing).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn the_redirect_uri_must_match_the_request() {
    let flow = Flow::new().await;
    let (code, verifier) = flow.code(&[]).await;
    let mut fields = flow.redemption(&code, &verifier);
    fields.insert("redirect_uri".into(), "https://rp.example/other".into());
    assert_refused(
        token(&flow.kit.state, &flow.client, &fields).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_reused_code_revokes_what_it_gave() {
    let flow = Flow::new().await;
    let state = &flow.kit.state;
    let (code, verifier) = flow.code(&[]).await;
    let first = token(state, &flow.client, &flow.redemption(&code, &verifier))
        .await
        .expect("tokens");
    assert!(access_token_live(&flow, &first.access_token).await);
    assert_refused(
        token(state, &flow.client, &flow.redemption(&code, &verifier)).await,
        400,
        "invalid_grant",
    );
    assert!(!access_token_live(&flow, &first.access_token).await);
    let refresh = first.refresh_token.expect("a refresh token");
    assert_refused(
        flow.refresh(&flow.client, &refresh, None).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_code_expires_on_the_injected_clock() {
    let flow = Flow::new().await;
    let (code, verifier) = flow.code(&[]).await;
    flow.kit
        .clock
        .advance(flow.kit.state.config.tokens.authorization_code_ttl);
    assert_refused(
        token(
            &flow.kit.state,
            &flow.client,
            &flow.redemption(&code, &verifier),
        )
        .await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_code_is_only_for_its_client() {
    let flow = Flow::new().await;
    let other = flow.kit.client("other").await;
    let (code, verifier) = flow.code(&[]).await;
    assert_refused(
        token(&flow.kit.state, &other, &flow.redemption(&code, &verifier)).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn another_clients_refresh_token_is_treated_as_leaked() {
    let flow = Flow::new().await;
    let other = flow.kit.client("other").await;
    let refresh = flow.tokens(&[]).await.refresh_token.expect("refresh");
    assert_refused(
        flow.refresh(&other, &refresh, None).await,
        400,
        "invalid_grant",
    );
    // The grant is revoked: not even its own client can use it now.
    assert_refused(
        flow.refresh(&flow.client, &refresh, None).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let flow = Flow::new().await;
    let tokens = flow.tokens(&[("scope", "openid email")]).await;
    let refresh = tokens.refresh_token.expect("refresh");
    assert_refused(
        flow.refresh(&flow.client, &refresh, Some("openid email profile"))
            .await,
        400,
        "invalid_scope",
    );
    let narrower = flow
        .refresh(&flow.client, &refresh, Some("openid"))
        .await
        .expect("narrower");
    assert_eq!(narrower.scope, "openid");
    // The grant keeps its scope: the successor may ask for all of it again.
    let successor = narrower.refresh_token.expect("rotated");
    let same = flow
        .refresh(&flow.client, &successor, None)
        .await
        .expect("same scope");
    assert_eq!(same.scope, "openid email");
}

#[tokio::test]
async fn a_rotated_refresh_token_replayed_after_the_grace_kills_the_family() {
    let flow = Flow::new().await;
    let first = flow.tokens(&[]).await.refresh_token.expect("refresh");
    let second = flow
        .refresh(&flow.client, &first, None)
        .await
        .expect("rotated")
        .refresh_token
        .expect("successor");
    flow.kit
        .clock
        .advance(flow.kit.state.config.tokens.refresh_token_reuse_grace + 1);
    assert_refused(
        flow.refresh(&flow.client, &first, None).await,
        400,
        "invalid_grant",
    );
    assert_refused(
        flow.refresh(&flow.client, &second, None).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_refresh_token_expires_on_the_injected_clock() {
    let flow = Flow::new().await;
    let refresh = flow.tokens(&[]).await.refresh_token.expect("refresh");
    flow.kit
        .clock
        .advance(flow.kit.state.config.tokens.refresh_token_ttl);
    assert_refused(
        flow.refresh(&flow.client, &refresh, None).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_disabled_user_gets_no_more_tokens() {
    let flow = Flow::new().await;
    let tokens = flow.tokens(&[]).await;
    let (code, verifier) = flow.code(&[]).await;
    crate::admin::users::set_disabled(
        &flow.kit.state,
        &crate::audit::Caller::system(),
        &flow.user.id,
        true,
    )
    .await
    .expect("disabled");
    let refresh = tokens.refresh_token.expect("refresh");
    assert_refused(
        flow.refresh(&flow.client, &refresh, None).await,
        400,
        "invalid_grant",
    );
    assert_refused(
        token(
            &flow.kit.state,
            &flow.client,
            &flow.redemption(&code, &verifier),
        )
        .await,
        400,
        "invalid_grant",
    );
}

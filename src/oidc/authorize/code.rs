//! Issuing the authorization code: the grant, the single-use code and the session's record of the
//! client, stored in one transaction (with the pending request used up and any consent given).

use crate::audit::{Event, kinds};
use crate::crypto::{random_token, sha256_hex};
use crate::login::sessions::ActiveSession;
use crate::state::AppState;
use crate::store::{AuthCode, Consent, Grant};

use super::request::AuthorizationRequest;
use crate::oidc::errors::AuthorizeError;
use crate::oidc::response::AuthorizationResponse;

/// What else the code's transaction does.
#[derive(Default)]
pub(super) struct AlongWithCode<'a> {
    /// The pending request this code answers, used up.
    pub pending_id: Option<&'a str>,
    /// Consent just given, remembered: both or neither.
    pub consent: Option<&'a Consent>,
}

/// Creates the grant and a single-use code for it, and records the client on the session.
pub async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    active: &ActiveSession,
) -> Result<AuthorizationResponse, AuthorizeError> {
    issue_code_with(state, request, active, AlongWithCode::default()).await
}

/// [`issue_code`], also doing `along` in the same transaction.
pub(super) async fn issue_code_with(
    state: &AppState,
    request: &AuthorizationRequest,
    active: &ActiveSession,
    along: AlongWithCode<'_>,
) -> Result<AuthorizationResponse, AuthorizeError> {
    let now = state.clock.now();
    let code = random_token(state.entropy.as_ref());
    let grant = Grant {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: active.user.id.clone(),
        client_id: request.client_id.clone(),
        scope: request.scopes.join(" "),
        auth_time: active.session.auth_time,
        amr: active.session.amr.clone(),
        acr: active.session.acr.clone(),
        sid: Some(active.session.sid.clone()),
        created_at: now,
        expires_at: now + state.config.tokens.refresh_token_ttl,
        revoked_at: None,
        requested_claims: (!request.claims.is_empty())
            .then(|| serde_json::to_string(&request.claims).ok())
            .flatten(),
    };
    let code_row = AuthCode {
        code_hash: sha256_hex(code.as_bytes()),
        grant_id: grant.id.clone(),
        client_id: request.client_id.clone(),
        redirect_uri: request.target.redirect_uri.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        code_challenge_method: request.code_challenge_method.clone(),
        created_at: now,
        expires_at: now + state.config.tokens.authorization_code_ttl,
        used_at: None,
        dpop_jkt: request.dpop_jkt.clone(),
    };
    // A consent given on this request is recorded with it.
    let consent_event = along.consent.map(|consent| {
        Event::by_user(kinds::CONSENT_GRANTED, &active.user.id)
            .client(&consent.client_id)
            .detail("scope", consent.scope.clone())
            .at(now)
    });
    state
        .store
        .record_authorization(
            &grant,
            &code_row,
            &active.session.sid,
            along.pending_id,
            along.consent,
            consent_event.as_slice(),
        )
        .await?;
    let mut params = vec![("code".to_string(), code)];
    if let Some(s) = &request.target.state {
        params.push(("state".into(), s.clone()));
    }
    params.push(("iss".into(), state.config.issuer.clone()));
    Ok(AuthorizationResponse {
        target: request.target.clone(),
        params,
    })
}

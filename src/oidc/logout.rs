//! Ending sessions: RP-Initiated Logout 1.0 (`end_session_endpoint`) and the logout tokens of
//! Back-Channel Logout 1.0, queued in the same transaction that ends the session.

use serde_json::{Map, Value, json};

use crate::audit::{Actor, Event, kinds};
use crate::crypto::{Alg, random_id, sha256_hex};
use crate::state::AppState;
use crate::store::{BackchannelDelivery, Client, Session};

use crate::error::InternalError;

/// The event a logout token carries (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Logout tokens are short-lived: the receiver only has to check them once.
const LOGOUT_TOKEN_TTL_SECS: i64 = 120;

/// An end-session request as the relying party sent it (query or form).
#[derive(Debug, Default, Clone)]
pub struct EndSessionRequest {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub logout_hint: Option<String>,
}

/// What to do with the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessionDecision {
    /// The relying party is verified: log out now, then redirect here (with `state`).
    LogoutAndRedirect { redirect: String },
    /// Log out now and show the "you are logged out" page.
    LogoutAndShowPage,
    /// The request cannot be trusted (unverifiable hint, unregistered URI, no hint): ask the
    /// user. Confirming logs out and shows the page (or redirects to `redirect_after`, a URI
    /// registered for the named client).
    Confirm {
        reason: ConfirmReason,
        client_name: Option<String>,
        redirect_after: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmReason {
    /// No id_token_hint: anyone could have sent the browser here.
    Unverified,
    /// The id_token_hint is not one of ours, or is not for this client.
    InvalidHint,
    /// The post_logout_redirect_uri is not registered for the client.
    UnregisteredRedirect,
    /// The id_token_hint names someone other than the user of this browser's session: a link
    /// made with another person's ID token must not log this user out unasked.
    AnotherUser,
}

/// Decides how to handle an end-session request (nothing is changed yet). `session_user` is the
/// user of the browser's session, if it has one.
pub async fn decide(
    state: &AppState,
    request: &EndSessionRequest,
    session_user: Option<&str>,
) -> Result<EndSessionDecision, InternalError> {
    let hint_client = match &request.id_token_hint {
        Some(hint) => match hinted_client(state, hint).await? {
            Some((client, subject)) => {
                if session_user.is_some_and(|user| user != subject) {
                    let registered = request
                        .post_logout_redirect_uri
                        .as_ref()
                        .filter(|uri| client.post_logout_redirect_uris.iter().any(|u| u == *uri));
                    return Ok(EndSessionDecision::Confirm {
                        reason: ConfirmReason::AnotherUser,
                        redirect_after: registered
                            .map(|uri| redirect_with_state(uri, request.state.as_deref())),
                        client_name: Some(client.name),
                    });
                }
                Some(client)
            }
            None => {
                return Ok(EndSessionDecision::Confirm {
                    reason: ConfirmReason::InvalidHint,
                    client_name: None,
                    redirect_after: None,
                });
            }
        },
        None => None,
    };
    if let (Some(client), Some(id)) = (&hint_client, &request.client_id)
        && client.id != *id
    {
        return Ok(EndSessionDecision::Confirm {
            reason: ConfirmReason::InvalidHint,
            client_name: None,
            redirect_after: None,
        });
    }
    let Some(uri) = &request.post_logout_redirect_uri else {
        // Nowhere to send the browser: a verified RP gets an immediate logout; otherwise the
        // user confirms, so a stray link cannot log anyone out.
        return Ok(if hint_client.is_some() {
            EndSessionDecision::LogoutAndShowPage
        } else {
            EndSessionDecision::Confirm {
                reason: ConfirmReason::Unverified,
                client_name: None,
                redirect_after: None,
            }
        });
    };
    let named_client = match (&hint_client, &request.client_id) {
        (Some(client), _) => Some(client.clone()),
        (None, Some(id)) => state.store.client_by_id(id).await?,
        (None, None) => None,
    };
    let registered = named_client
        .as_ref()
        .filter(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri));
    match (registered, &hint_client) {
        (Some(_), Some(_)) => Ok(EndSessionDecision::LogoutAndRedirect {
            redirect: redirect_with_state(uri, request.state.as_deref()),
        }),
        (Some(client), None) => Ok(EndSessionDecision::Confirm {
            reason: ConfirmReason::Unverified,
            client_name: Some(client.name.clone()),
            redirect_after: Some(redirect_with_state(uri, request.state.as_deref())),
        }),
        (None, _) => Ok(EndSessionDecision::Confirm {
            reason: if named_client.is_some() {
                ConfirmReason::UnregisteredRedirect
            } else {
                ConfirmReason::Unverified
            },
            client_name: named_client.map(|c| c.name),
            redirect_after: None,
        }),
    }
}

/// The client an id_token_hint was issued to, and its subject, if the hint is a genuine ID token
/// of ours. Expired hints are fine: logging out is exactly when old ID tokens come back.
async fn hinted_client(
    state: &AppState,
    hint: &str,
) -> Result<Option<(Client, String)>, InternalError> {
    let Some(claims) = super::tokens::verify_id_token_hint(state, hint).await else {
        return Ok(None);
    };
    let Some(subject) = claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let client_id = match claims.get("aud") {
        Some(Value::String(aud)) => aud.clone(),
        Some(Value::Array(auds)) if auds.len() == 1 => match auds[0].as_str() {
            Some(aud) => aud.to_string(),
            None => return Ok(None),
        },
        Some(Value::Array(_)) => match claims.get("azp").and_then(Value::as_str) {
            Some(azp) => azp.to_string(),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(state
        .store
        .client_by_id(&client_id)
        .await?
        .map(|client| (client, subject)))
}

/// `uri` with `state` appended to its query (RP-Initiated Logout §3).
fn redirect_with_state(uri: &str, state: Option<&str>) -> String {
    match (url::Url::parse(uri), state) {
        (Ok(mut url), Some(value)) => {
            url.query_pairs_mut().append_pair("state", value);
            url.to_string()
        }
        _ => uri.to_string(),
    }
}

/// Ends the session behind a cookie value (idempotent): a new login in the same browser, "Logga
/// ut", or a confirmed `/session/end`.
pub async fn end_session_of_cookie(state: &AppState, cookie: &str) -> Result<(), InternalError> {
    let Some(session) = state
        .store
        .session_by_hash(&sha256_hex(cookie.as_bytes()), state.clock.now())
        .await?
    else {
        return Ok(());
    };
    let actor = Actor::User(session.user_id.clone());
    end_session(state, &session, actor).await?;
    Ok(())
}

fn ended_event(session: &Session, actor: Actor) -> Event {
    let kind = if actor == Actor::User(session.user_id.clone()) {
        kinds::LOGOUT
    } else {
        kinds::SESSION_REVOKED
    };
    Event::new(kind)
        .by(actor)
        .user(&session.user_id)
        .detail("sid", session.sid.clone())
}

/// Ends a session: deletes it, revokes its online grants and queues a logout token for every
/// client that used it and registered a back-channel logout URI, all in one transaction. Audited
/// as a logout when the session's own user ends it, as a revocation otherwise.
pub async fn end_session(
    state: &AppState,
    session: &Session,
    actor: Actor,
) -> Result<usize, InternalError> {
    let now = state.clock.now();
    let deliveries = backchannel_deliveries(state, session).await?;
    state
        .store
        .end_session(
            &session.sid,
            &deliveries,
            now,
            &[ended_event(session, actor).at(now)],
        )
        .await?;
    if !deliveries.is_empty() {
        state.backchannel_wakeup.notify_one();
    }
    tracing::info!(sid = %session.sid, backchannel = deliveries.len(), "session ended");
    Ok(deliveries.len())
}

/// A logout token for every client that used `session` and registered a back-channel logout
/// URI, ready to be queued with the change that ends the session.
pub async fn backchannel_deliveries(
    state: &AppState,
    session: &Session,
) -> Result<Vec<BackchannelDelivery>, InternalError> {
    let now = state.clock.now();
    let mut deliveries = Vec::new();
    for client_id in state.store.session_clients(&session.sid).await? {
        let Some(client) = state.store.client_by_id(&client_id).await? else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        let logout_token =
            mint_logout_token(state, &client.id, &session.user_id, &session.sid).await?;
        deliveries.push(BackchannelDelivery {
            id: random_id(state.entropy.as_ref()),
            client_id: client.id,
            uri,
            logout_token,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            locked_until: None,
            last_error: None,
            created_at: now,
        });
    }
    Ok(deliveries)
}

/// A fresh logout token for the same client, user and session as `stored`, one of ours that has
/// expired (a delivery retried from the console long after it was queued).
pub async fn renew_logout_token(state: &AppState, stored: &str) -> Result<String, InternalError> {
    use base64::Engine as _;
    let corrupt = || {
        InternalError::from(crate::store::StoreError::Corrupt(
            "a queued logout token".into(),
        ))
    };
    let payload = stored.split('.').nth(1).ok_or_else(corrupt)?;
    let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(corrupt)?;
    match (
        claims["aud"].as_str(),
        claims["sub"].as_str(),
        claims["sid"].as_str(),
    ) {
        (Some(client_id), Some(user_id), Some(sid)) => {
            mint_logout_token(state, client_id, user_id, sid).await
        }
        _ => Err(corrupt()),
    }
}

/// A logout token (Back-Channel Logout 1.0 §2.4): `sub` and `sid`, the event, never a nonce.
async fn mint_logout_token(
    state: &AppState,
    client_id: &str,
    user_id: &str,
    sid: &str,
) -> Result<String, InternalError> {
    let now = state.clock.now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(state.config.issuer));
    claims.insert("sub".into(), json!(user_id));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + LOGOUT_TOKEN_TTL_SECS));
    claims.insert("jti".into(), json!(random_id(state.entropy.as_ref())));
    claims.insert("sid".into(), json!(sid));
    claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    let alg = state
        .config
        .tokens
        .id_token_signing_alg
        .parse()
        .unwrap_or(Alg::RS256);
    Ok(state.keys.sign(alg, Some("logout+jwt"), &claims).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_appended_to_the_registered_uri() {
        assert_eq!(
            redirect_with_state("https://rp.example/out?x=1", Some("a b")),
            "https://rp.example/out?x=1&state=a+b"
        );
        assert_eq!(
            redirect_with_state("https://rp.example/out", None),
            "https://rp.example/out"
        );
    }
}

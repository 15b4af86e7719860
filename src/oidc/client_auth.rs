//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523, OIDC Core 9) and
//! `none` (public clients, which must use PKCE).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value};

use crate::crypto::CryptoError;
use crate::crypto::client_jwks::verify_with_jwks;
use crate::state::AppState;

use super::client_keys::client_jwks;
use crate::crypto::client_jwks::Freshness;
use crate::store::Client;

use super::errors::TokenError;

/// What the request carried, as parsed by the web layer.
#[derive(Debug, Default, Clone)]
pub struct PresentedCredentials {
    /// From `Authorization: Basic …`, already decoded.
    pub basic: Option<(String, String)>,
    pub form_client_id: Option<String>,
    pub form_client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// The only client assertion type (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Assertions valid for longer than this are refused (their jti is remembered until expiry).
const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const ASSERTION_SKEW_SECS: i64 = 30;

impl PresentedCredentials {
    /// From the `Authorization` header (if any) and the form fields of a request.
    pub fn from_request(
        authorization: Option<&str>,
        form: &HashMap<String, String>,
    ) -> Result<Self, TokenError> {
        let basic = match authorization {
            Some(value) => Self::parse_basic(value)?,
            None => None,
        };
        Ok(PresentedCredentials {
            basic,
            form_client_id: form.get("client_id").cloned(),
            form_client_secret: form.get("client_secret").cloned(),
            client_assertion_type: form.get("client_assertion_type").cloned(),
            client_assertion: form.get("client_assertion").cloned(),
        })
    }

    /// Parses an `Authorization` header value; `None` if it is not Basic.
    /// Errors are `invalid_client` because the header was meant as client authentication.
    pub fn parse_basic(header: &str) -> Result<Option<(String, String)>, TokenError> {
        let Some((scheme, value)) = header.trim().split_once(' ') else {
            return Ok(None);
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Ok(None);
        }
        let bad = || TokenError::invalid_client("The Basic authorization header is malformed.");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .ok_or_else(bad)
        };
        Ok(Some((unescape(id)?, unescape(secret)?)))
    }
}

/// The client, once authenticated (or identified, for public clients). `endpoint` is the URL
/// the request was sent to; a client assertion's `aud` may name it, the token endpoint or the
/// issuer.
pub async fn authenticate(
    state: &AppState,
    presented: &PresentedCredentials,
    endpoint: &str,
) -> Result<Arc<Client>, TokenError> {
    let methods = [
        presented.basic.is_some(),
        presented.form_client_secret.is_some(),
        presented.client_assertion.is_some() || presented.client_assertion_type.is_some(),
    ];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(TokenError::invalid_request(
            "Use only one client authentication method.",
        ));
    }
    if methods[2] {
        return authenticate_assertion(state, presented, endpoint).await;
    }
    let (client_id, secret) = match (&presented.basic, &presented.form_client_id) {
        (Some((id, secret)), form_id) => {
            if form_id.as_ref().is_some_and(|f| f != id) {
                return Err(TokenError::invalid_request(
                    "client_id does not match the authenticated client.",
                ));
            }
            (id.clone(), Some(secret.clone()))
        }
        (None, Some(id)) => (id.clone(), presented.form_client_secret.clone()),
        (None, None) => {
            return Err(TokenError::invalid_client(
                "Client authentication is required.",
            ));
        }
    };
    let unknown = || TokenError::invalid_client("Client authentication failed.");
    let client = state.clients.get(&client_id).await?.ok_or_else(unknown)?;
    if accepts(state, &client, secret.as_deref()) {
        return Ok(client);
    }
    // The row in memory may predate a new secret set by the CLI or another instance: read it
    // again before refusing, so a new secret works at once (a rotated-out one lasts at most the
    // cache's lifetime).
    state.clients.forget(&client_id);
    let client = state.clients.get(&client_id).await?.ok_or_else(unknown)?;
    if accepts(state, &client, secret.as_deref()) {
        return Ok(client);
    }
    Err(unknown())
}

/// Whether `secret` (or its absence, for a public client) authenticates `client`.
fn accepts(state: &AppState, client: &Client, secret: Option<&str>) -> bool {
    match (
        client.token_endpoint_auth_method.as_str(),
        &client.secret_hash,
        secret,
    ) {
        ("client_secret_basic" | "client_secret_post", Some(hash), Some(secret)) => {
            state.hmac.verify_hex(secret.as_bytes(), hash)
        }
        ("none", _, None) => true,
        _ => false,
    }
}

async fn authenticate_assertion(
    state: &AppState,
    presented: &PresentedCredentials,
    endpoint: &str,
) -> Result<Arc<Client>, TokenError> {
    let failed = |why: &str| {
        tracing::info!(reason = why, "client assertion refused");
        TokenError::invalid_client("Client authentication failed.")
    };
    if presented.client_assertion_type.as_deref() != Some(JWT_BEARER_ASSERTION) {
        return Err(TokenError::invalid_request(format!(
            "client_assertion_type must be {JWT_BEARER_ASSERTION}."
        )));
    }
    let assertion = presented
        .client_assertion
        .as_deref()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| TokenError::invalid_request("The client_assertion parameter is missing."))?;
    let unverified = peek_claims(assertion).ok_or_else(|| failed("malformed"))?;
    let client_id = unverified
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| failed("no sub"))?
        .to_string();
    if presented
        .form_client_id
        .as_ref()
        .is_some_and(|id| *id != client_id)
    {
        return Err(TokenError::invalid_request(
            "client_id does not match the client assertion.",
        ));
    }
    let client = state
        .clients
        .get(&client_id)
        .await?
        .ok_or_else(|| failed("unknown client"))?;
    if client.token_endpoint_auth_method != "private_key_jwt" {
        return Err(failed("client not registered for private_key_jwt"));
    }
    let jwks = client_jwks(state, &client, Freshness::Cached)
        .await
        .ok_or_else(|| failed("client keys unavailable"))?;
    let verified = match verify_with_jwks(assertion, &jwks) {
        // A key the cached set lacks: the client may have rotated its keys.
        Err(CryptoError::UnknownKeyId(_)) if client.jwks.is_none() => {
            let fresh = client_jwks(state, &client, Freshness::Refresh)
                .await
                .ok_or_else(|| failed("client keys unavailable"))?;
            verify_with_jwks(assertion, &fresh)
        }
        other => other,
    };
    let (_, claims) = verified.map_err(|_| failed("signature"))?;
    let now = state.clock.now();
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    if string("iss") != Some(client_id.as_str()) || string("sub") != Some(client_id.as_str()) {
        return Err(failed("iss and sub must be the client_id"));
    }
    let token_endpoint = format!("{}/token", state.config.issuer);
    let accepted = [
        state.config.issuer.as_str(),
        token_endpoint.as_str(),
        endpoint,
    ];
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => accepted.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|a| accepted.contains(&a)),
        _ => false,
    };
    if !audience_ok {
        return Err(failed("aud"));
    }
    let number = |name: &str| claims.get(name).and_then(numeric_date);
    let exp = number("exp").ok_or_else(|| failed("no exp"))?;
    if exp.saturating_add(ASSERTION_SKEW_SECS) <= now || exp > now + MAX_ASSERTION_LIFETIME_SECS {
        return Err(failed("exp"));
    }
    if number("nbf").is_some_and(|nbf| nbf > now + ASSERTION_SKEW_SECS)
        || number("iat").is_some_and(|iat| iat > now + ASSERTION_SKEW_SECS)
    {
        return Err(failed("not yet valid"));
    }
    let jti = string("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| failed("no jti"))?;
    if !state
        .store
        .use_client_assertion_jti(&client.id, jti, exp + ASSERTION_SKEW_SECS, now)
        .await?
    {
        return Err(failed("jti replayed"));
    }
    Ok(client)
}

/// A JWT NumericDate (RFC 7519 §2): seconds, which may have a fraction (josekit, for one,
/// writes them); whole seconds are enough here.
fn numeric_date(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.floor() as i64)
    })
}

/// The payload of a compact JWS, unverified (only to learn which client claims to send it).
fn peek_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_dates_may_have_a_fraction() {
        assert_eq!(
            numeric_date(&serde_json::json!(1_796_218_663)),
            Some(1_796_218_663)
        );
        assert_eq!(
            numeric_date(&serde_json::json!(1_796_218_663.634_682)),
            Some(1_796_218_663)
        );
        assert_eq!(numeric_date(&serde_json::json!("1796218663")), None);
        assert_eq!(numeric_date(&serde_json::json!(1e300)), None);
    }

    #[test]
    fn basic_header_is_form_decoded() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret")
        );
        let parsed = PresentedCredentials::parse_basic(&header).unwrap().unwrap();
        assert_eq!(parsed, ("my app".to_string(), "s:cret".to_string()));
        assert!(
            PresentedCredentials::parse_basic("Bearer abc")
                .unwrap()
                .is_none()
        );
        assert!(PresentedCredentials::parse_basic("Basic !!!").is_err());
    }
}

//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post` and `none` (public clients, which must use PKCE).

use base64::Engine;

use crate::state::AppState;
use crate::store::Client;

use super::errors::TokenError;

/// What the request carried, as parsed by the web layer.
#[derive(Debug, Default, Clone)]
pub struct PresentedCredentials {
    /// From `Authorization: Basic …`, already decoded.
    pub basic: Option<(String, String)>,
    pub form_client_id: Option<String>,
    pub form_client_secret: Option<String>,
}

impl PresentedCredentials {
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

/// The client, once authenticated (or identified, for public clients).
pub async fn authenticate(
    state: &AppState,
    presented: &PresentedCredentials,
) -> Result<Client, TokenError> {
    let methods = [
        presented.basic.is_some(),
        presented.form_client_secret.is_some(),
    ];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(TokenError::invalid_request(
            "Use only one client authentication method.",
        ));
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
    let client = state
        .store
        .client_by_id(&client_id)
        .await?
        .ok_or_else(unknown)?;
    match (&client.secret_hash, secret) {
        (Some(hash), Some(secret)) if state.hmac.verify_hex(secret.as_bytes(), hash) => Ok(client),
        (None, None) => Ok(client),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

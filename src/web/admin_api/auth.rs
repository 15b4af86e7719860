//! Who calls the admin API: a client with a `client_credentials` access token for the admin
//! API's audience, and the scopes it holds. Also the request's fingerprint (for
//! `Idempotency-Key`) and its JSON body.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::admin::{FieldProblem, api_audience};
use crate::audit::{Actor, Caller};
use crate::crypto::sha256_hex;
use crate::oidc::dpop::ProofError;
use crate::oidc::sender_constraint::{Presentation, PresenterError, Scheme, check_presenter};
use crate::oidc::tokens::verify_client_access_token;
use crate::oidc::userinfo::PresentedToken;
use crate::store::AuditEvent;
use crate::web::extract::AppStateArc;

use super::problem::ApiError;

/// Largest request body the admin API reads.
pub const BODY_LIMIT: usize = 32 * 1024;

/// The SHA-256 of method, path, query and body: what an `Idempotency-Key` was first used with.
#[derive(Debug, Clone)]
pub struct Fingerprint(pub String);

/// Reads the body once (refusing one over [`BODY_LIMIT`]), fingerprints the request, and passes
/// it on with the body in memory.
pub async fn fingerprint(request: Request, next: Next) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("The body may have at most {BODY_LIMIT} bytes."),
        )
    })?;
    let mut material = Vec::with_capacity(bytes.len() + 128);
    material.extend_from_slice(parts.method.as_str().as_bytes());
    material.push(b' ');
    material.extend_from_slice(parts.uri.path().as_bytes());
    material.push(b'?');
    material.extend_from_slice(parts.uri.query().unwrap_or_default().as_bytes());
    material.push(b'\n');
    material.extend_from_slice(&bytes);
    parts.extensions.insert(Fingerprint(sha256_hex(&material)));
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// The authenticated caller of the admin API.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    pub client_id: String,
    scopes: Vec<String>,
    /// How its writes are audited (with its `Idempotency-Key`, if it sent one).
    pub caller: Caller,
    /// The event of an earlier write with the same key and request: answer that again.
    pub replay: Option<AuditEvent>,
    /// This request's turn among those with its `Idempotency-Key`, held until it is answered.
    _turn: Option<std::sync::Arc<super::idempotency::InFlight>>,
}

impl AdminCaller {
    /// Refuses the request unless the token holds `scope`.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(scope))
        }
    }
}

/// A DPoP-bound token only with the `DPoP` scheme and a proof of its key for this request
/// (RFC 9449 §7), as at UserInfo; otherwise a stolen bound token would be a bearer token here.
async fn check_sender(
    state: &AppStateArc,
    parts: &Parts,
    scheme: Scheme,
    token: &str,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ApiError> {
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path().to_string(), |o| o.path().to_string());
    let url = format!("{}{path}", state.config.issuer);
    let proof = crate::web::extract::dpop_proof(&parts.headers);
    let presentation = Presentation {
        scheme,
        token,
        proof: &proof,
        method: parts.method.as_str(),
        url: &url,
    };
    match check_presenter(state, claims, &presentation).await {
        Ok(()) => Ok(()),
        Err(PresenterError::Store(e)) => Err(ApiError::from(e)),
        Err(PresenterError::Token(why)) => Err(ApiError::unauthorized(
            Some("invalid_token"),
            &format!("The access token is not valid ({why})."),
        )),
        Err(PresenterError::Proof(ProofError::Invalid(why))) => Err(ApiError::unauthorized(
            Some("invalid_dpop_proof"),
            &format!("The DPoP proof is not valid ({why})."),
        )),
        Err(PresenterError::Proof(ProofError::UseNonce { .. })) => Err(ApiError::unauthorized(
            Some("use_dpop_nonce"),
            "The admin API does not hand out DPoP nonces; call it with a client that does not require them.",
        )),
    }
}

/// Longest `Idempotency-Key` accepted.
const IDEMPOTENCY_KEY_MAX: usize = 255;

impl FromRequestParts<AppStateArc> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppStateArc,
    ) -> Result<Self, Self::Rejection> {
        let (scheme, token) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(PresentedToken::token_from_header)
            .filter(|(_, t)| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized(None, "A bearer token is required."))?;
        let token = token.as_str();
        let verified = verify_client_access_token(state, token)
            .await
            .map_err(|e| match e {
                crate::oidc::tokens::AccessTokenError::Store(e) => ApiError::from(e),
                crate::oidc::tokens::AccessTokenError::Invalid(why) => ApiError::unauthorized(
                    Some("invalid_token"),
                    &format!("The access token is not valid ({why})."),
                ),
            })?;
        check_sender(state, parts, scheme, token, &verified.claims).await?;
        let audience = api_audience(&state.config.issuer);
        if !verified.audience.contains(&audience) {
            return Err(ApiError::unauthorized(
                Some("invalid_token"),
                &format!("The access token is not for this API (audience {audience})."),
            ));
        }
        let mut caller = Caller::new(Actor::Client(verified.client_id.clone()));
        let mut replay = None;
        let mut turn = None;
        if let Some(raw) = parts.headers.get("idempotency-key") {
            let key = raw
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_MAX)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "The Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible characters."
                    ))
                })?
                .to_string();
            let fingerprint = parts
                .extensions
                .get::<Fingerprint>()
                .map(|f| f.0.clone())
                .unwrap_or_default();
            turn = Some(std::sync::Arc::new(
                super::idempotency::take_turn(&verified.client_id, &key).await,
            ));
            if let Some(earlier) =
                crate::admin::audit_trail::by_idempotency_key(state, &verified.client_id, &key)
                    .await?
            {
                if earlier.request_hash.as_deref() != Some(fingerprint.as_str()) {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "idempotency-key-reused",
                        "This Idempotency-Key was used with a different request.",
                    ));
                }
                replay = Some(earlier);
            }
            caller.idempotency = Some((key, fingerprint));
        }
        Ok(AdminCaller {
            client_id: verified.client_id,
            scopes: verified.scopes,
            caller,
            replay,
            _turn: turn,
        })
    }
}

/// A JSON body (`application/json`) of type `T`; unknown fields and wrong types are refused as
/// validation problems naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppStateArc> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppStateArc) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "The body must be application/json.",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::bad_request("The body could not be read."))?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut deserializer) {
            Ok(value) => Ok(ApiJson(value)),
            Err(error) => {
                let path = error.path().to_string();
                let inner = error.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    return Err(ApiError::bad_request(format!(
                        "The body is not JSON: {inner}"
                    )));
                }
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                Err(ApiError::invalid(vec![FieldProblem {
                    field,
                    message: inner.to_string(),
                }]))
            }
        }
    }
}

/// Query parameters of type `T`; unknown or malformed ones are validation problems.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|e| {
                ApiError::invalid(vec![FieldProblem {
                    field: "query".into(),
                    message: e.to_string(),
                }])
            })
    }
}

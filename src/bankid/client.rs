//! The BankID RP API v6.0 client: JSON over HTTPS with mutual TLS, trusting only the configured
//! BankID root CA, with a small retry policy for BankID's transient errors.
//!
//! Nothing here logs a personnummer, a request body or the `qrStartSecret`.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::api::{
    self, CollectResponse, Endpoint, ErrorBody, OrderKind, OrderRefRequest, OrderRequest,
    OrderResponse, PhoneOrderRequest, PhoneOrderResponse, error_codes,
};
pub use crate::tls::ClientIdentity;

/// How to reach BankID. The lead wires this from `[bankid]` in the configuration; see
/// [`BankIdSettings::test_environment`], [`BankIdSettings::production`] and the simulator's
/// `SimulatorHandle::client_settings`.
#[derive(Clone)]
pub struct BankIdSettings {
    /// The RP API base, ending in `/rp/v6.0/`.
    pub base_url: Url,
    /// The RP certificate presented to BankID.
    pub client_identity: ClientIdentity,
    /// PEM of the only CA trusted for the server (no operating-system or webpki roots).
    pub ca_pem: String,
    pub connect_timeout: Duration,
    /// Whole-request timeout (connect, send, wait, read).
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Honour `HTTPS_PROXY`/`NO_PROXY` from the environment (off for the local simulator).
    pub use_env_proxy: bool,
}

impl fmt::Debug for BankIdSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankIdSettings")
            .field("base_url", &self.base_url.as_str())
            .field("client_identity", &self.client_identity)
            .field("ca_pem_len", &self.ca_pem.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("use_env_proxy", &self.use_env_proxy)
            .finish()
    }
}

impl BankIdSettings {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

    /// Settings with the default timeouts and retry policy.
    pub fn new(base_url: Url, client_identity: ClientIdentity, ca_pem: impl Into<String>) -> Self {
        BankIdSettings {
            base_url,
            client_identity,
            ca_pem: ca_pem.into(),
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            use_env_proxy: true,
        }
    }

    /// BankID's public test environment (`appapi2.test.bankid.com`) with its test root CA. The
    /// identity is normally the public test certificate `FPTestcert5_20240610.p12` (password
    /// `qwerty123`), read from a file (see [`ClientIdentity::from_files`]).
    pub fn test_environment(client_identity: ClientIdentity) -> Self {
        Self::new(
            Url::parse(api::TEST_BASE_URL).expect("valid constant URL"),
            client_identity,
            api::TEST_ROOT_CA_PEM,
        )
    }

    /// BankID production with its root CA. The identity must be the RP certificate your bank
    /// issued under your BankID agreement.
    pub fn production(client_identity: ClientIdentity) -> Self {
        Self::new(
            Url::parse(api::PRODUCTION_BASE_URL).expect("valid constant URL"),
            client_identity,
            api::PRODUCTION_ROOT_CA_PEM,
        )
    }
}

impl BankIdSettings {
    /// Settings for `[bankid]` in `test` or `production` mode: the mode's URL and root CA unless
    /// `base_url` / `ca_cert` override them, and the RP certificate from `client_cert` (PKCS#12
    /// with `client_cert_password`, or PEM with `client_key`). The simulator's settings come from
    /// its running handle instead.
    pub fn from_config(config: &crate::config::BankIdConfig) -> Result<Self, BankIdError> {
        let production = match config.mode.as_str() {
            "test" => false,
            "production" => true,
            other => {
                return Err(BankIdError::Config(format!(
                    "mode {other:?} has no fixed BankID service"
                )));
            }
        };
        if config.client_cert.is_empty() {
            return Err(BankIdError::Config(
                "client_cert must name the RP certificate file".into(),
            ));
        }
        let key_path =
            (!config.client_key.is_empty()).then(|| std::path::Path::new(&config.client_key));
        let identity = ClientIdentity::from_files(
            std::path::Path::new(&config.client_cert),
            &config.client_cert_password,
            key_path,
        )
        .map_err(|e| BankIdError::Config(e.to_string()))?;
        let mut settings = if production {
            Self::production(identity)
        } else {
            Self::test_environment(identity)
        };
        if !config.base_url.is_empty() {
            settings.base_url = Url::parse(&config.base_url)
                .map_err(|e| BankIdError::Config(format!("base_url: {e}")))?;
        }
        if !config.ca_cert.is_empty() {
            settings.ca_pem = std::fs::read_to_string(&config.ca_cert)
                .map_err(|e| BankIdError::Config(format!("ca_cert {}: {e}", config.ca_cert)))?;
        }
        Ok(settings)
    }
}

/// Which failures are retried, and how long to wait before each retry.
///
/// `internalError` and `maintenance` (and a 500/503 without a JSON body) are retried on every
/// endpoint; transport failures (connection, TLS, timeout) only for `collect`, which is safe to
/// repeat. Everything else is returned at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// One entry per retry: `[200 ms, 400 ms]` means at most 3 attempts.
    pub delays: Vec<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            delays: vec![Duration::from_millis(200), Duration::from_millis(400)],
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy { delays: Vec::new() }
    }

    /// `retries` retries, the first after `first`, each following one twice as long as before.
    pub fn exponential(retries: usize, first: Duration) -> Self {
        RetryPolicy {
            delays: (0..retries)
                .map(|i| first.saturating_mul(1 << i.min(16) as u32))
                .collect(),
        }
    }

    pub fn max_attempts(&self) -> usize {
        self.delays.len() + 1
    }
}

/// A failed RP API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankIdError {
    /// BankID answered with an error status. `error_code` is BankID's `errorCode` (when the body
    /// was not JSON, one derived from the HTTP status); `details` is free text for logs.
    #[error("BankID answered {status} {error_code}: {details}")]
    Api {
        status: u16,
        error_code: String,
        details: String,
    },
    /// No usable answer: connection, TLS handshake or timeout.
    #[error("BankID could not be reached: {0}")]
    Transport(String),
    /// A 200 answer whose body does not match the RP API.
    #[error("BankID sent an unexpected response: {0}")]
    InvalidResponse(String),
    /// The request was refused before sending: it breaks the RP API's rules (lengths, base64…).
    #[error("invalid BankID request: {0}")]
    InvalidRequest(String),
    /// The client cannot be built: bad URL, certificate, key or CA.
    #[error("BankID client configuration: {0}")]
    Config(String),
}

impl BankIdError {
    /// BankID's `errorCode` for [`BankIdError::Api`].
    pub fn error_code(&self) -> Option<&str> {
        match self {
            BankIdError::Api { error_code, .. } => Some(error_code),
            _ => None,
        }
    }

    /// The HTTP status for [`BankIdError::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            BankIdError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the failure is one the retry policy repeats (transport errors only if
    /// `transport_too`).
    pub fn is_retryable(&self, transport_too: bool) -> bool {
        match self {
            BankIdError::Api { error_code, .. } => {
                error_code == error_codes::INTERNAL_ERROR || error_code == error_codes::MAINTENANCE
            }
            BankIdError::Transport(_) => transport_too,
            _ => false,
        }
    }
}

/// The BankID RP API v6.0 client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct BankIdClient {
    http: reqwest::Client,
    base_url: Url,
    retry: RetryPolicy,
}

impl fmt::Debug for BankIdClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankIdClient")
            .field("base_url", &self.base_url.as_str())
            .field("retry", &self.retry)
            .finish()
    }
}

impl BankIdClient {
    pub fn new(settings: BankIdSettings) -> Result<Self, BankIdError> {
        let mut base_url = settings.base_url;
        if base_url.scheme() != "https" {
            return Err(BankIdError::Config(
                "the BankID base URL must be https".into(),
            ));
        }
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let tls = crate::tls::client_config(&settings.ca_pem, &settings.client_identity)
            .map_err(|e| BankIdError::Config(e.to_string()))?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("leasify-id/", env!("CARGO_PKG_VERSION")));
        if !settings.use_env_proxy {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| BankIdError::Config(error_chain(&e)))?;
        Ok(BankIdClient {
            http,
            base_url,
            retry: settings.retry,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// `POST /auth`: starts an identification order.
    pub async fn auth(&self, request: &OrderRequest) -> Result<OrderResponse, BankIdError> {
        request
            .validate(OrderKind::Auth)
            .map_err(BankIdError::InvalidRequest)?;
        self.post(Endpoint::Auth, request, false).await
    }

    /// `POST /sign`: starts a signing order (`userVisibleData` is required).
    pub async fn sign(&self, request: &OrderRequest) -> Result<OrderResponse, BankIdError> {
        request
            .validate(OrderKind::Sign)
            .map_err(BankIdError::InvalidRequest)?;
        self.post(Endpoint::Sign, request, false).await
    }

    /// `POST /phone/auth`: identification of the person the RP is in a phone call with.
    pub async fn phone_auth(
        &self,
        request: &PhoneOrderRequest,
    ) -> Result<PhoneOrderResponse, BankIdError> {
        request
            .validate(OrderKind::Auth)
            .map_err(BankIdError::InvalidRequest)?;
        self.post(Endpoint::PhoneAuth, request, false).await
    }

    /// `POST /phone/sign`.
    pub async fn phone_sign(
        &self,
        request: &PhoneOrderRequest,
    ) -> Result<PhoneOrderResponse, BankIdError> {
        request
            .validate(OrderKind::Sign)
            .map_err(BankIdError::InvalidRequest)?;
        self.post(Endpoint::PhoneSign, request, false).await
    }

    /// `POST /collect`: the order's status (call every 2 s while pending).
    pub async fn collect(&self, order_ref: &str) -> Result<CollectResponse, BankIdError> {
        let response: CollectResponse = self
            .post(
                Endpoint::Collect,
                &OrderRefRequest {
                    order_ref: order_ref.to_string(),
                },
                true,
            )
            .await?;
        if response.order_ref != order_ref {
            return Err(BankIdError::InvalidResponse(
                "collect answered for another orderRef".into(),
            ));
        }
        if response.status == api::CollectStatus::Complete && response.completion_data.is_none() {
            return Err(BankIdError::InvalidResponse(
                "complete order without completionData".into(),
            ));
        }
        Ok(response)
    }

    /// `POST /cancel`: cancels a pending order.
    pub async fn cancel(&self, order_ref: &str) -> Result<(), BankIdError> {
        let _: serde_json::Value = self
            .post(
                Endpoint::Cancel,
                &OrderRefRequest {
                    order_ref: order_ref.to_string(),
                },
                false,
            )
            .await?;
        Ok(())
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        body: &B,
        retry_transport: bool,
    ) -> Result<R, BankIdError> {
        let url = self
            .base_url
            .join(endpoint.path())
            .map_err(|e| BankIdError::Config(e.to_string()))?;
        let mut attempt = 0;
        loop {
            match self.post_once(endpoint, &url, body).await {
                Ok(response) => return Ok(response),
                Err(error)
                    if error.is_retryable(retry_transport) && attempt < self.retry.delays.len() =>
                {
                    let delay = self.retry.delays[attempt];
                    attempt += 1;
                    tracing::warn!(
                        endpoint = endpoint.path(),
                        attempt,
                        error_code = error.error_code().unwrap_or("transport"),
                        delay_ms = delay.as_millis() as u64,
                        "BankID call failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(error) => {
                    match &error {
                        BankIdError::Api {
                            status,
                            error_code,
                            details,
                        } => tracing::warn!(
                            endpoint = endpoint.path(),
                            status,
                            error_code = error_code.as_str(),
                            details = details.as_str(),
                            "BankID answered with an error"
                        ),
                        other => {
                            tracing::warn!(endpoint = endpoint.path(), error = %other, "BankID call failed")
                        }
                    }
                    return Err(error);
                }
            }
        }
    }

    async fn post_once<B: Serialize, R: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        url: &Url,
        body: &B,
    ) -> Result<R, BankIdError> {
        // `.json` sets `Content-Type: application/json` without a charset, as BankID requires.
        let response = self
            .http
            .post(url.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| BankIdError::Transport(error_chain(&e)))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| BankIdError::Transport(error_chain(&e)))?;
        tracing::debug!(endpoint = endpoint.path(), status, "BankID answered");
        if status == 200 {
            return serde_json::from_slice(&bytes).map_err(|e| describe_json_error(endpoint, &e));
        }
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => BankIdError::Api {
                status,
                error_code: body.error_code,
                details: body.details,
            },
            Err(_) => BankIdError::Api {
                status,
                error_code: code_for_status(status).to_string(),
                details: format!(
                    "HTTP {status} without a JSON error body; errorCode derived from the status"
                ),
            },
        })
    }
}

/// The error code BankID uses with an HTTP status, for error answers without a JSON body (e.g.
/// from a proxy).
fn code_for_status(status: u16) -> &'static str {
    match status {
        401 | 403 => error_codes::UNAUTHORIZED,
        404 => error_codes::NOT_FOUND,
        405 => error_codes::METHOD_NOT_ALLOWED,
        408 => error_codes::REQUEST_TIMEOUT,
        415 => error_codes::UNSUPPORTED_MEDIA_TYPE,
        429 => error_codes::TOO_MANY_REQUESTS,
        500 => error_codes::INTERNAL_ERROR,
        502..=504 => error_codes::MAINTENANCE,
        _ => "unknown",
    }
}

/// Describes a JSON error without quoting values from the body (they may be personal data).
pub fn describe_json_error(endpoint: Endpoint, error: &serde_json::Error) -> BankIdError {
    let text = error.to_string();
    let safe = if text.starts_with("missing field") {
        text
    } else {
        format!("{:?} error", error.classify())
    };
    BankIdError::InvalidResponse(format!(
        "{} answer does not match the RP API ({safe} at line {} column {})",
        endpoint.path(),
        error.line(),
        error.column()
    ))
}

/// An error and its sources, e.g. `error sending request: … : invalid peer certificate: …`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_policy_shapes() {
        assert_eq!(RetryPolicy::default().max_attempts(), 3);
        assert_eq!(
            RetryPolicy::exponential(3, Duration::from_millis(100)).delays,
            vec![
                Duration::from_millis(100),
                Duration::from_millis(200),
                Duration::from_millis(400)
            ]
        );
        assert_eq!(RetryPolicy::none().max_attempts(), 1);
    }

    #[test]
    fn which_errors_are_retried() {
        let api = |code: &str| BankIdError::Api {
            status: 500,
            error_code: code.into(),
            details: String::new(),
        };
        assert!(api("internalError").is_retryable(false));
        assert!(api("maintenance").is_retryable(false));
        assert!(!api("invalidParameters").is_retryable(true));
        assert!(!api("alreadyInProgress").is_retryable(true));
        assert!(BankIdError::Transport("x".into()).is_retryable(true));
        assert!(!BankIdError::Transport("x".into()).is_retryable(false));
        assert_eq!(api("maintenance").error_code(), Some("maintenance"));
        assert_eq!(BankIdError::Transport("x".into()).error_code(), None);
        assert_eq!(code_for_status(503), "maintenance");
        assert_eq!(code_for_status(418), "unknown");
    }

    #[test]
    fn json_errors_do_not_quote_values() {
        let error =
            serde_json::from_str::<CollectResponse>(r#"{"orderRef":"a","status":"199908072391"}"#)
                .unwrap_err();
        let described = describe_json_error(Endpoint::Collect, &error).to_string();
        assert!(!described.contains("199908072391"), "{described}");
        let error = serde_json::from_str::<CollectResponse>(r#"{"status":"pending"}"#).unwrap_err();
        assert!(
            describe_json_error(Endpoint::Collect, &error)
                .to_string()
                .contains("missing field `orderRef`")
        );
    }

    #[test]
    fn settings_from_the_configuration() {
        let mut config = crate::config::Config::defaults().bankid;
        assert!(
            BankIdSettings::from_config(&config).is_err(),
            "simulator mode has no fixed service"
        );
        let dir =
            std::env::temp_dir().join(format!("leasify-bankid-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let p12 = dir.join("rp.p12");
        std::fs::write(&p12, [0x30, 0x00]).unwrap();
        config.mode = "test".into();
        config.client_cert = p12.display().to_string();
        config.client_cert_password = "qwerty123".into();
        let settings = BankIdSettings::from_config(&config).unwrap();
        assert_eq!(settings.base_url.as_str(), api::TEST_BASE_URL);
        assert!(matches!(
            settings.client_identity,
            ClientIdentity::Pkcs12 { .. }
        ));
        config.mode = "production".into();
        config.base_url = "https://bankid.example/rp/v6.0/".into();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, api::TEST_ROOT_CA_PEM).unwrap();
        config.ca_cert = ca.display().to_string();
        let settings = BankIdSettings::from_config(&config).unwrap();
        assert_eq!(
            settings.base_url.as_str(),
            "https://bankid.example/rp/v6.0/"
        );
        assert_eq!(settings.ca_pem, api::TEST_ROOT_CA_PEM);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn settings_for_the_public_environments() {
        let identity = ClientIdentity::Pkcs12 {
            der: vec![],
            password: "qwerty123".into(),
        };
        let test = BankIdSettings::test_environment(identity.clone());
        assert_eq!(
            test.base_url.as_str(),
            "https://appapi2.test.bankid.com/rp/v6.0/"
        );
        assert_eq!(test.ca_pem, api::TEST_ROOT_CA_PEM);
        let production = BankIdSettings::production(identity);
        assert_eq!(
            production.base_url.as_str(),
            "https://appapi2.bankid.com/rp/v6.0/"
        );
        assert!(!format!("{production:?}").contains("qwerty123"));
    }
}

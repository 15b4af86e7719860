//! The application state every layer works with, and how it is built from the configuration.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, Entropy, OsEntropy, SystemClock};
use crate::config::{Config, SecretsConfig};
use crate::crypto::{KeyedHash, PasswordHasher, SecretBox, parse_key};
use crate::keys::KeyRing;
use crate::mail::Mailer;
use crate::render::templates::Templates;
use crate::store::{self, Store};

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    /// Registered clients, read through memory on the per-request paths.
    pub clients: store::ClientCache,
    pub keys: KeyRing,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub passwords: PasswordHasher,
    /// Keyed hash for client secrets and CSRF tokens.
    pub hmac: KeyedHash,
    /// Keyed hash for looking up a personnummer without storing it readable.
    pub blind_index: KeyedHash,
    /// DPoP proofs: this instance's replay memory and the nonces all instances share.
    pub dpop: crate::crypto::dpop::DpopVerifier,
    pub secret_box: Arc<SecretBox>,
    pub templates: Templates,
    /// Delivers what the outbox sender takes from the outbox.
    pub mailer: Arc<dyn Mailer>,
    /// Wakes this instance's outbox sender when a message was enqueued here.
    pub mail_wakeup: Arc<tokio::sync::Notify>,
    /// BankID, unless `bankid.mode` is `disabled`.
    pub bankid: Option<BankIdService>,
    /// Outbound HTTP to relying parties (back-channel logout, client JWKS): short timeouts, no
    /// redirects, system trust roots.
    pub http: reqwest::Client,
    /// Wakes this instance's back-channel logout sender when a logout queued deliveries.
    pub backchannel_wakeup: Arc<tokio::sync::Notify>,
    /// Wakes this instance's background job worker when a job was queued here.
    pub jobs_wakeup: Arc<tokio::sync::Notify>,
    /// JWK Sets fetched from clients' `jwks_uri`.
    pub client_keys: crate::crypto::client_jwks::ClientKeyCache,
    /// This process among the instances sharing the database (its heartbeat row).
    pub instance_id: String,
}

/// The BankID RP API client, and the embedded simulator it talks to in simulator mode.
pub struct BankIdService {
    pub client: crate::bankid::client::BankIdClient,
    pub simulator: Option<crate::bankid::simulator::SimulatorHandle>,
}

async fn start_bankid(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Option<BankIdService>, StartupError> {
    use crate::bankid::client::{BankIdClient, BankIdSettings};
    let failed = |e: &dyn std::fmt::Display| StartupError::BankId(e.to_string());
    match config.bankid.mode.as_str() {
        "disabled" => Ok(None),
        "simulator" => {
            let listen = config
                .bankid
                .simulator_listen
                .parse()
                .map_err(|e| failed(&e))?;
            let handle = crate::bankid::simulator::start_embedded(
                &config.data_dir.join("bankid-simulator"),
                listen,
                clock,
                crate::bankid::simulator::SimulatorConfig::default(),
            )
            .await
            .map_err(|e| failed(&e))?;
            let client = BankIdClient::new(handle.client_settings()).map_err(|e| failed(&e))?;
            tracing::info!(url = %client.base_url(), "BankID simulator running (simulated app at /dev/bankid)");
            Ok(Some(BankIdService {
                client,
                simulator: Some(handle),
            }))
        }
        _ => {
            let settings = BankIdSettings::from_config(&config.bankid).map_err(|e| failed(&e))?;
            let client = BankIdClient::new(settings).map_err(|e| failed(&e))?;
            Ok(Some(BankIdService {
                client,
                simulator: None,
            }))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("database {url}: {source}")]
    Database {
        url: String,
        source: store::StoreError,
    },
    #[error("secrets: {0}")]
    Secrets(String),
    #[error("data directory: {0}")]
    DataDir(String),
    #[error("signing keys: {0}")]
    Keys(#[from] crate::keys::KeyError),
    #[error("templates: {0}")]
    Templates(String),
    #[error("mail: {0}")]
    Mail(String),
    #[error("outbound HTTP client: {0}")]
    Http(String),
    #[error("bankid: {0}")]
    BankId(String),
}

/// Options tests and benchmarks use to replace time and randomness.
pub struct Overrides {
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    /// Replaces the transport chosen by `mail.transport` (tests use an in-memory one).
    pub mailer: Option<Arc<dyn Mailer>>,
    /// Whether to connect to BankID (and start the embedded simulator); admin commands do not.
    pub bankid: bool,
}

impl Default for Overrides {
    fn default() -> Self {
        Overrides {
            clock: Arc::new(SystemClock),
            entropy: Arc::new(OsEntropy),
            mailer: None,
            bankid: true,
        }
    }
}

/// Opens the database and applies migrations.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    let url = config.effective_database_url();
    if url.starts_with("sqlite:") {
        prepare_sqlite_file(config, &url)?;
    }
    let redacted = redact(&url);
    let store = store::open(&url, config.database_timeout())
        .await
        .map_err(|source| StartupError::Database {
            url: redacted.clone(),
            source,
        })?;
    let applied = store
        .migrate()
        .await
        .map_err(|source| StartupError::Database {
            url: redacted,
            source,
        })?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(store)
}

/// The data directory (0700) and the SQLite file (0600) before SQLite opens it: SQLite would
/// create the file world-readable, and its `-wal` and `-shm` files copy the file's mode.
fn prepare_sqlite_file(config: &Config, url: &str) -> Result<(), StartupError> {
    let failed = |path: &Path, e: std::io::Error| {
        StartupError::DataDir(format!("cannot prepare {}: {e}", path.display()))
    };
    crate::private_files::create_dir(&config.data_dir).map_err(|e| failed(&config.data_dir, e))?;
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::private_files::create_dir(parent).map_err(|e| failed(parent, e))?;
    }
    crate::private_files::create_file(&path).map_err(|e| failed(&path, e))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.clone().into_os_string();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        crate::private_files::restrict_file(&side).map_err(|e| failed(&side, e))?;
    }
    Ok(())
}

/// The file of a `sqlite://path` or `sqlite:path` URL (`None` for an in-memory database).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Builds the state: store, secrets, keys (generated on first start) and templates.
pub async fn build(config: Config, overrides: Overrides) -> Result<Arc<AppState>, StartupError> {
    let store = open_store(&config).await?;
    build_with_store(config, store, overrides).await
}

pub async fn build_with_store(
    config: Config,
    store: Arc<dyn Store>,
    overrides: Overrides,
) -> Result<Arc<AppState>, StartupError> {
    let secrets = resolve_secrets(&config, overrides.entropy.as_ref())?;
    let encryption_keys = secrets
        .encryption_keys
        .iter()
        .map(|(id, value)| parse_key(value).map(|k| (id.clone(), k)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartupError::Secrets(e.to_string()))?;
    let secret_box = Arc::new(
        SecretBox::new(encryption_keys, &secrets.active_encryption_key)
            .map_err(|e| StartupError::Secrets(e.to_string()))?,
    );
    let hmac_key =
        parse_key(&secrets.hmac_key).map_err(|e| StartupError::Secrets(e.to_string()))?;
    let hmac = KeyedHash::new(&hmac_key);
    let dpop = crate::crypto::dpop::DpopVerifier::new(&hmac_key);
    let blind_index = KeyedHash::new_with_context(
        &parse_key(&secrets.blind_index_key).map_err(|e| StartupError::Secrets(e.to_string()))?,
        b"personnummer",
    );
    let keys = KeyRing::new(store.clone(), secret_box.clone(), overrides.clock.clone());
    keys.ensure_keys(overrides.entropy.as_ref()).await?;
    let templates = Templates::load(&config).map_err(StartupError::Templates)?;
    let passwords = PasswordHasher::new(config.login.hash_slots());
    let bankid = if overrides.bankid {
        start_bankid(&config, overrides.clock.clone()).await?
    } else {
        None
    };
    let mailer = match overrides.mailer {
        Some(mailer) => mailer,
        None => crate::mail::transport::from_config(&config).map_err(StartupError::Mail)?,
    };
    Ok(Arc::new(AppState {
        config,
        clients: store::ClientCache::new(store.clone()),
        store,
        keys,
        clock: overrides.clock,
        entropy: overrides.entropy,
        passwords,
        hmac,
        blind_index,
        dpop,
        secret_box,
        templates,
        mailer,
        mail_wakeup: Arc::new(tokio::sync::Notify::new()),
        bankid,
        http: outbound_http_client()?,
        backchannel_wakeup: Arc::new(tokio::sync::Notify::new()),
        jobs_wakeup: Arc::new(tokio::sync::Notify::new()),
        client_keys: Default::default(),
        instance_id: uuid::Uuid::now_v7().to_string(),
    }))
}

fn outbound_http_client() -> Result<reqwest::Client, StartupError> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("leasify-id/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| StartupError::Http(e.to_string()))
}

#[derive(Serialize, Deserialize)]
struct LocalSecretsFile {
    secrets: SecretsConfig,
}

/// Configured secrets, or the ones generated once into `<data_dir>/secrets.toml`.
fn resolve_secrets(config: &Config, entropy: &dyn Entropy) -> Result<SecretsConfig, StartupError> {
    if !config.secrets.is_empty() {
        return Ok(config.secrets.clone());
    }
    let path = config.data_dir.join("secrets.toml");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| StartupError::Secrets(format!("{}: {e}", path.display())))?;
        let file: LocalSecretsFile = toml::from_str(&text)
            .map_err(|e| StartupError::Secrets(format!("{}: {e}", path.display())))?;
        return Ok(file.secrets);
    }
    let key = || {
        let mut bytes = [0u8; 32];
        entropy.fill(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let secrets = SecretsConfig {
        encryption_keys: [("k1".to_string(), key())].into_iter().collect(),
        active_encryption_key: "k1".into(),
        hmac_key: key(),
        blind_index_key: key(),
    };
    crate::private_files::create_dir(&config.data_dir)
        .and_then(|()| {
            let text = toml::to_string(&LocalSecretsFile {
                secrets: secrets.clone(),
            })
            .unwrap_or_default();
            crate::private_files::write_new(&path, text.as_bytes())
        })
        .map_err(|e| StartupError::Secrets(format!("{}: {e}", path.display())))?;
    tracing::warn!(
        path = %path.display(),
        "generated local secrets; back this file up, and configure [secrets] explicitly before running several instances"
    );
    Ok(secrets)
}

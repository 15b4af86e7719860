//! Configuration: `config/default.toml` (embedded) → `--config FILE` → `LEASIFY_*` environment.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

const TOP_LEVEL_KEYS: &[&str] = &[
    "issuer",
    "listen",
    "data_dir",
    "database_url",
    "database_timeout_ms",
    "trusted_proxies",
    "default_locale",
    "templates_dir",
    "log_format",
    "tokens",
    "session",
    "login",
    "keys",
    "secrets",
    "mail",
    "branding",
    "account",
    "audit",
    "admin",
    "bankid",
    "tls",
    "metrics",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub issuer: String,
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// How long a request waits for a database connection, and the readiness check for a write,
    /// before answering 503 with `Retry-After`.
    pub database_timeout_ms: u64,
    pub trusted_proxies: Vec<IpAddr>,
    pub default_locale: String,
    pub templates_dir: String,
    pub log_format: String,
    pub tokens: TokenConfig,
    pub session: SessionConfig,
    pub login: LoginConfig,
    pub keys: KeysConfig,
    pub secrets: SecretsConfig,
    pub mail: MailConfig,
    pub branding: BrandingConfig,
    pub account: AccountConfig,
    pub audit: AuditConfig,
    pub admin: AdminConfig,
    pub bankid: BankIdConfig,
    pub tls: TlsConfig,
    pub metrics: MetricsConfig,
}

/// The Prometheus `/metrics` endpoint, on a listener of its own so that it is never served to
/// the public by accident: off unless `listen` names an address.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: String,
}

impl MetricsConfig {
    /// The address to serve `/metrics` on, `None` when metrics are off.
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.listen.trim().is_empty() {
            return Ok(None);
        }
        self.listen.trim().parse().map(Some).map_err(|_| {
            invalid(
                "metrics.listen",
                "must be empty (off) or an address and port such as 127.0.0.1:9090",
            )
        })
    }
}

/// HTTPS served by Leasify ID itself (without a reverse proxy in front).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: String,
    pub key_file: String,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        !self.cert_file.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub authorization_code_ttl: i64,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub refresh_token_reuse_grace: i64,
    pub id_token_signing_alg: String,
    pub access_token_signing_alg: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub ttl: i64,
    pub pending_authorization_ttl: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginConfig {
    pub max_failures_per_account: i64,
    pub account_window: i64,
    pub max_failures_per_ip: i64,
    pub ip_window: i64,
    /// Argon2 hashes at once; 0 for one per CPU the process may run on, at most
    /// [`AUTO_HASH_SLOTS_MAX`] ([`LoginConfig::hash_slots`]).
    pub password_hash_concurrency: usize,
}

/// The most hash slots the automatic setting gives: each holds 19 MiB while it hashes, and a
/// flood of login attempts keeps every slot busy, so a big machine (or a container that sees
/// all of one) must not turn it into hundreds of MiB unasked.
pub const AUTO_HASH_SLOTS_MAX: usize = 4;

impl LoginConfig {
    /// How many password hashes run at once: as configured, or one per CPU this process may run
    /// on (its affinity and CPU quota, as `available_parallelism` reads them), at most
    /// [`AUTO_HASH_SLOTS_MAX`].
    pub fn hash_slots(&self) -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        hash_slots_for(self.password_hash_concurrency, cpus)
    }
}

fn hash_slots_for(configured: usize, cpus: usize) -> usize {
    match configured {
        0 => cpus.clamp(1, AUTO_HASH_SLOTS_MAX),
        n => n,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    pub rotate_after_days: i64,
    pub publish_ahead: i64,
    pub keep_published: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    pub encryption_keys: BTreeMap<String, String>,
    pub active_encryption_key: String,
    pub hmac_key: String,
    pub blind_index_key: String,
}

impl SecretsConfig {
    pub fn is_empty(&self) -> bool {
        self.encryption_keys.is_empty()
            && self.hmac_key.is_empty()
            && self.blind_index_key.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub transport: String,
    pub outbox_dir: String,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: String,
    pub smtp_username: String,
    pub smtp_password: String,
    pub smtp_timeout: u64,
    pub retry_base: i64,
    pub retry_max: i64,
    pub max_attempts: i64,
    pub poll_interval: u64,
    /// Lets a production (non-loopback) issuer keep the file outbox, for a staging deployment
    /// whose mail nobody needs to receive.
    pub allow_file_outbox: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingConfig {
    pub product_name: String,
    pub support_email: String,
    pub help_url: String,
    pub bankid_help_url: String,
    pub password_help_url: String,
    pub portal_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Days an audit event is kept.
    pub retention_days: i64,
}

/// The admin console.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// A change in the console needs a login (password or BankID) at most this many minutes
    /// old; an older one is asked again first.
    pub step_up_minutes: i64,
}

impl AdminConfig {
    pub fn step_up_secs(&self) -> i64 {
        self.step_up_minutes * 60
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub invite_ttl: i64,
    pub reset_ttl: i64,
    pub max_resets_per_address: i64,
    pub max_resets_per_ip: i64,
    pub reset_window: i64,
    pub min_password_length: usize,
    pub min_password_score: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankIdConfig {
    /// `simulator`, `test`, `production` or `disabled`; empty means the simulator on a loopback
    /// issuer and `disabled` on any other (resolved by [`Config::load`]).
    pub mode: String,
    /// Lets a production (non-loopback) issuer use BankID's test service, for a staging
    /// deployment: test BankIDs are not real people.
    pub allow_test_service: bool,
    pub base_url: String,
    pub client_cert: String,
    pub client_cert_password: String,
    pub client_key: String,
    pub ca_cert: String,
    pub simulator_listen: String,
    pub collect_interval: i64,
    pub refuse_moderate_risk: bool,
    pub order_retention_days: i64,
    pub personnummer_scope: String,
}

impl BankIdConfig {
    pub fn enabled(&self) -> bool {
        self.mode != "disabled"
    }
}

impl Config {
    /// Loads defaults, then `file` (if any), then the `LEASIFY_*` environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("LEASIFY_").split("__").filter(|key| {
            let top = key
                .as_str()
                .split('.')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            TOP_LEVEL_KEYS.contains(&top.as_str())
        }));
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        config.resolve_defaults();
        config.validate()?;
        Ok(config)
    }

    /// Loads only the embedded defaults (tests and benchmarks start from these).
    pub fn defaults() -> Config {
        let mut config: Config =
            toml::from_str(DEFAULT_TOML).expect("the embedded default configuration parses");
        config.resolve_defaults();
        config
    }

    /// Fills the defaults that depend on the issuer: an empty `bankid.mode` is the simulator in
    /// development and `disabled` in production.
    pub fn resolve_defaults(&mut self) {
        if self.bankid.mode.trim().is_empty() {
            self.bankid.mode = if self.is_development() {
                "simulator"
            } else {
                "disabled"
            }
            .into();
        }
    }

    /// A loopback issuer (`localhost`, `127.0.0.1`, `[::1]`) is development, where the
    /// simulator, the file outbox and plain http are fine. Any other issuer is production.
    pub fn is_development(&self) -> bool {
        url::Url::parse(&self.issuer)
            .ok()
            .and_then(|u| u.host_str().map(is_loopback_host))
            .unwrap_or(false)
    }

    /// Refuses, on a production issuer, every development shortcut that could let someone in or
    /// lose mail. Each message names the key and the fix, on one line.
    fn validate_production(&self) -> Result<(), ConfigError> {
        if self.is_development() {
            return Ok(());
        }
        if self.issuer.starts_with("http://") {
            return Err(invalid(
                "issuer",
                "a production issuer must be https:// (plain http is only for localhost)",
            ));
        }
        match self.bankid.mode.as_str() {
            "simulator" => {
                return Err(invalid(
                    "bankid.mode",
                    "the BankID simulator lets anyone log in as anyone; on a production issuer \
                     set bankid.mode = \"production\" (or \"disabled\")",
                ));
            }
            "test" if !self.bankid.allow_test_service => {
                return Err(invalid(
                    "bankid.mode",
                    "BankID's test service accepts test BankIDs that are not real people; set \
                     bankid.mode = \"production\", or bankid.allow_test_service = true for a \
                     staging deployment",
                ));
            }
            _ => {}
        }
        if self.mail.transport == "file" && !self.mail.allow_file_outbox {
            return Err(invalid(
                "mail.transport",
                "the file outbox keeps every email on this server's disk, so nobody receives \
                 it; set mail.transport = \"smtp\" and mail.smtp_host, or \
                 mail.allow_file_outbox = true for a staging deployment",
            ));
        }
        Ok(())
    }

    /// Warnings for the start log about settings that are allowed but not for real customers.
    pub fn startup_warnings(&self) -> Vec<&'static str> {
        let mut warnings = Vec::new();
        if self.is_development() {
            return warnings;
        }
        if self.bankid.mode == "test" {
            warnings.push(
                "bankid.allow_test_service: BankID's test service is in use; test BankIDs are \
                 not real people, so this deployment must not hold real customers",
            );
        }
        if self.mail.transport == "file" {
            warnings.push(
                "mail.allow_file_outbox: emails are written to the file outbox and never delivered",
            );
        }
        warnings
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let issuer = url::Url::parse(&self.issuer)
            .map_err(|e| invalid("issuer", format!("not a URL ({e})")))?;
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(invalid("issuer", "must not have a query or fragment"));
        }
        if !issuer.username().is_empty() || issuer.password().is_some() {
            return Err(invalid("issuer", "must not contain user information"));
        }
        if self.issuer.ends_with('/') {
            return Err(invalid("issuer", "must not end with a slash"));
        }
        if !["https", "http"].contains(&issuer.scheme()) {
            return Err(invalid("issuer", "must be an https URL"));
        }
        self.validate_production()?;
        let listen = self.listen_addr()?;
        if let Some(metrics) = self.metrics.listen_addr()?
            && metrics == listen
            && metrics.port() != 0
        {
            return Err(invalid(
                "metrics.listen",
                "must differ from listen: metrics are served on a listener of their own",
            ));
        }
        if !(50..=60_000).contains(&self.database_timeout_ms) {
            return Err(invalid(
                "database_timeout_ms",
                "must be between 50 and 60000 milliseconds",
            ));
        }
        if self.tls.cert_file.is_empty() != self.tls.key_file.is_empty() {
            return Err(invalid(
                "tls",
                "set both tls.cert_file and tls.key_file, or neither",
            ));
        }
        if !self.database_url.is_empty()
            && !["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|p| self.database_url.starts_with(p))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if !["sv", "en"].contains(&self.default_locale.as_str()) {
            return Err(invalid("default_locale", "must be \"sv\" or \"en\""));
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            return Err(invalid("log_format", "must be \"text\" or \"json\""));
        }
        let positive: [(&'static str, i64); 10] = [
            (
                "tokens.authorization_code_ttl",
                self.tokens.authorization_code_ttl,
            ),
            ("tokens.access_token_ttl", self.tokens.access_token_ttl),
            ("tokens.id_token_ttl", self.tokens.id_token_ttl),
            ("tokens.refresh_token_ttl", self.tokens.refresh_token_ttl),
            ("session.ttl", self.session.ttl),
            (
                "session.pending_authorization_ttl",
                self.session.pending_authorization_ttl,
            ),
            (
                "login.max_failures_per_account",
                self.login.max_failures_per_account,
            ),
            ("login.account_window", self.login.account_window),
            ("login.max_failures_per_ip", self.login.max_failures_per_ip),
            ("login.ip_window", self.login.ip_window),
        ];
        for (key, value) in positive {
            if value <= 0 {
                return Err(invalid(key, "must be a positive number"));
            }
        }
        if self.tokens.access_token_ttl > 31_536_000 {
            return Err(invalid(
                "tokens.access_token_ttl",
                "must be at most one year",
            ));
        }
        if self.tokens.refresh_token_reuse_grace < 0 {
            return Err(invalid(
                "tokens.refresh_token_reuse_grace",
                "must not be negative",
            ));
        }
        for (key, alg) in [
            (
                "tokens.id_token_signing_alg",
                &self.tokens.id_token_signing_alg,
            ),
            (
                "tokens.access_token_signing_alg",
                &self.tokens.access_token_signing_alg,
            ),
        ] {
            if alg.parse::<crate::crypto::Alg>().is_err() {
                return Err(invalid(key, "must be \"RS256\" or \"ES256\""));
            }
        }
        if self.keys.rotate_after_days < 0
            || self.keys.publish_ahead < 0
            || self.keys.keep_published < 0
        {
            return Err(invalid("keys", "values must not be negative"));
        }
        if !self.secrets.is_empty() {
            if self.secrets.encryption_keys.is_empty() {
                return Err(invalid(
                    "secrets.encryption_keys",
                    "must hold at least one key when secrets are configured",
                ));
            }
            if !self
                .secrets
                .encryption_keys
                .contains_key(&self.secrets.active_encryption_key)
            {
                return Err(invalid(
                    "secrets.active_encryption_key",
                    "must name one of secrets.encryption_keys",
                ));
            }
            for value in self.secrets.encryption_keys.values() {
                crate::crypto::parse_key(value).map_err(|_| {
                    invalid(
                        "secrets.encryption_keys",
                        "each key must be 32 bytes, base64",
                    )
                })?;
            }
            crate::crypto::parse_key(&self.secrets.hmac_key)
                .map_err(|_| invalid("secrets.hmac_key", "must be 32 bytes, base64"))?;
            crate::crypto::parse_key(&self.secrets.blind_index_key)
                .map_err(|_| invalid("secrets.blind_index_key", "must be 32 bytes, base64"))?;
        }
        if !["file", "smtp"].contains(&self.mail.transport.as_str()) {
            return Err(invalid("mail.transport", "must be \"file\" or \"smtp\""));
        }
        if !["starttls", "tls", "none"].contains(&self.mail.smtp_tls.as_str()) {
            return Err(invalid(
                "mail.smtp_tls",
                "must be \"starttls\", \"tls\" or \"none\"",
            ));
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "mail.from",
                "must be an address such as \"Leasify <no-reply@leasify.se>\"",
            ));
        }
        if self.mail.transport == "smtp" && self.mail.smtp_host.trim().is_empty() {
            return Err(invalid(
                "mail.smtp_host",
                "must be set when mail.transport is \"smtp\"",
            ));
        }
        if self.mail.retry_base <= 0
            || self.mail.retry_max < self.mail.retry_base
            || self.mail.max_attempts <= 0
        {
            return Err(invalid(
                "mail.retry_base",
                "retry_base and max_attempts must be positive and retry_max >= retry_base",
            ));
        }
        if self.mail.poll_interval == 0 || self.mail.smtp_timeout == 0 {
            return Err(invalid(
                "mail.poll_interval",
                "poll_interval and smtp_timeout must be positive",
            ));
        }
        for (key, value) in [
            ("account.invite_ttl", self.account.invite_ttl),
            ("account.reset_ttl", self.account.reset_ttl),
            (
                "account.max_resets_per_address",
                self.account.max_resets_per_address,
            ),
            ("account.max_resets_per_ip", self.account.max_resets_per_ip),
            ("account.reset_window", self.account.reset_window),
        ] {
            if value <= 0 {
                return Err(invalid(key, "must be a positive number"));
            }
        }
        match self.bankid.mode.as_str() {
            "simulator" | "disabled" => {}
            "test" | "production" => {
                if self.bankid.client_cert.is_empty() {
                    return Err(invalid(
                        "bankid.client_cert",
                        "must name the RP certificate file in test and production mode",
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    "bankid.mode",
                    "must be \"simulator\", \"test\", \"production\", \"disabled\" or empty",
                ));
            }
        }
        if !self.bankid.base_url.is_empty()
            && url::Url::parse(&self.bankid.base_url)
                .map(|u| u.scheme() != "https")
                .unwrap_or(true)
        {
            return Err(invalid("bankid.base_url", "must be an https URL"));
        }
        if self.bankid.simulator_listen.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "bankid.simulator_listen",
                "must be an address and port such as 127.0.0.1:0",
            ));
        }
        if self.bankid.collect_interval < 1 || self.bankid.order_retention_days < 1 {
            return Err(invalid(
                "bankid.collect_interval",
                "collect_interval and order_retention_days must be at least 1",
            ));
        }
        if !is_scope_token(&self.bankid.personnummer_scope) {
            return Err(invalid(
                "bankid.personnummer_scope",
                "must be a single scope token",
            ));
        }
        if !(1..=24 * 60).contains(&self.admin.step_up_minutes) {
            return Err(invalid(
                "admin.step_up_minutes",
                "must be between 1 and 1440 minutes",
            ));
        }
        if self.account.min_password_length < 8 {
            return Err(invalid("account.min_password_length", "must be at least 8"));
        }
        if self.account.min_password_score > 4 {
            return Err(invalid(
                "account.min_password_score",
                "must be between 0 and 4",
            ));
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            invalid(
                "listen",
                "must be an address and port such as 127.0.0.1:8080",
            )
        })
    }

    pub fn database_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.database_timeout_ms)
    }

    /// The database URL, with the embedded SQLite default filled in.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("leasify-id.db").display())
        } else {
            self.database_url.clone()
        }
    }

    pub fn outbox_dir(&self) -> PathBuf {
        if self.mail.outbox_dir.is_empty() {
            self.data_dir.join("outbox")
        } else {
            PathBuf::from(&self.mail.outbox_dir)
        }
    }

    /// The configuration as TOML with secrets and database passwords replaced by `<redacted>`.
    pub fn redacted_toml(&self) -> String {
        let mut copy = self.clone();
        copy.database_url = redact_url_password(&self.effective_database_url());
        for value in copy.secrets.encryption_keys.values_mut() {
            *value = "<redacted>".into();
        }
        for value in [
            &mut copy.secrets.hmac_key,
            &mut copy.secrets.blind_index_key,
            &mut copy.mail.smtp_password,
            &mut copy.bankid.client_cert_password,
        ] {
            if !value.is_empty() {
                *value = "<redacted>".into();
            }
        }
        toml::to_string_pretty(&copy).unwrap_or_else(|e| format!("# could not render: {e}"))
    }
}

/// A scope-token per RFC 6749 §3.3: printable ASCII except space, `"` and `\`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn redact_url_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        _ => raw.to_string(),
    }
}

fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            if key.is_empty() {
                e.kind.to_string()
            } else {
                format!("key `{key}`: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::defaults().validate().unwrap();
    }

    #[test]
    fn automatic_hash_slots_follow_the_cpus_up_to_a_limit() {
        assert_eq!(Config::defaults().login.password_hash_concurrency, 0);
        assert_eq!(hash_slots_for(0, 1), 1);
        assert_eq!(hash_slots_for(0, 2), 2);
        assert_eq!(hash_slots_for(0, 64), AUTO_HASH_SLOTS_MAX);
        assert_eq!(hash_slots_for(8, 1), 8, "an explicit setting is kept");
    }

    #[test]
    fn non_https_issuer_is_refused_by_key() {
        let mut config = Config::defaults();
        config.issuer = "http://id.example.com".into();
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("`issuer`"), "{message}");
    }

    #[test]
    fn metrics_are_off_by_default_and_a_bad_address_is_refused_by_key() {
        let mut config = Config::defaults();
        assert_eq!(config.metrics.listen_addr().unwrap(), None);
        config.metrics.listen = "127.0.0.1:9090".into();
        assert_eq!(
            config.metrics.listen_addr().unwrap(),
            Some("127.0.0.1:9090".parse().unwrap())
        );
        config.metrics.listen = "localhost".into();
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("`metrics.listen`"), "{message}");
    }

    #[test]
    fn the_console_step_up_is_fifteen_minutes_and_bounded() {
        let mut config = Config::defaults();
        assert_eq!(config.admin.step_up_secs(), 15 * 60);
        config.admin.step_up_minutes = 0;
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("`admin.step_up_minutes`"), "{message}");
    }

    #[test]
    fn redaction_hides_secrets() {
        let mut config = Config::defaults();
        config.secrets.hmac_key = "c2VjcmV0".into();
        config.database_url = "postgres://u:pw@localhost/db".into();
        let text = config.redacted_toml();
        assert!(
            !text.contains("c2VjcmV0") && !text.contains(":pw@"),
            "{text}"
        );
    }
}

//! An embedded simulator of the BankID RP API v6.0 (spec section 10).
//!
//! It serves the real wire protocol over HTTPS with required client certificates
//! ([`server::start`]), so the RP client talks to it exactly as to BankID. What the BankID app
//! would do (scan a QR code, open an autostart link, approve, cancel…) is driven through the
//! control functions on [`SimulatorState`] (`control.rs`), which the application exposes at
//! `/dev/bankid` and tests call directly. All timers use the injected [`Clock`].
//!
//! ```text
//! let handle = simulator::start_embedded(&data_dir.join("bankid-simulator"), listen, clock,
//!     SimulatorConfig::default()).await?;
//! let client = BankIdClient::new(handle.client_settings())?;
//! handle.state().scan(&qr_payload, "199908072391")?;   // the simulated app
//! ```
//!
//! Orders live in this process's memory: several instances of the application each run their
//! own simulator, so an order started through one instance is unknown to the others.

pub mod certs;
pub mod control;
pub mod dev_app;
pub mod orders;
pub mod server;
mod signature;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

pub use self::certs::SimulatorCerts;
pub use self::control::{ControlError, OrderView};
pub use self::server::{SimulatorHandle, start};
use crate::bankid::api::{HintCode, Risk};
use crate::clock::Clock;
use crate::tls::TlsError;

/// Why the embedded simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("BankID simulator certificates: {0}")]
    Tls(#[from] TlsError),
    #[error("BankID simulator cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Starts the simulator as the application embeds it: certificates kept in `cert_dir` (normally
/// `<data_dir>/bankid-simulator`, made on first start), listening on `listen` (e.g.
/// `127.0.0.1:0`). Connect with [`SimulatorHandle::client_settings`].
pub async fn start_embedded(
    cert_dir: &Path,
    listen: SocketAddr,
    clock: Arc<dyn Clock>,
    config: SimulatorConfig,
) -> Result<SimulatorHandle, SimulatorError> {
    let certs = SimulatorCerts::load_or_create(cert_dir)?;
    let state = SimulatorState::new(certs, clock, config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| SimulatorError::Listen {
            addr: listen,
            source,
        })?;
    Ok(start(listener, state).await)
}

/// A simulated BankID holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestIdentity {
    /// 12 digits.
    pub personal_number: String,
    pub given_name: String,
    pub surname: String,
    /// `YYYY-MM-DD`.
    pub bank_id_issue_date: String,
    /// The risk BankID reports for this person's orders (with `returnRisk`), and compares with
    /// `requirement.risk`.
    pub risk: Risk,
}

impl TestIdentity {
    pub fn new(
        personal_number: &str,
        given_name: &str,
        surname: &str,
        bank_id_issue_date: &str,
        risk: Risk,
    ) -> Self {
        TestIdentity {
            personal_number: personal_number.into(),
            given_name: given_name.into(),
            surname: surname.into(),
            bank_id_issue_date: bank_id_issue_date.into(),
            risk,
        }
    }

    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }
}

/// The default simulated people: Skatteverket test personnummer (never real people), with
/// made-up names.
pub fn default_identities() -> Vec<TestIdentity> {
    vec![
        TestIdentity::new(
            "199908072391",
            "Oskar",
            "Lindqvist",
            "2023-01-01",
            Risk::Low,
        ),
        TestIdentity::new("196802020575", "Lars", "Svensson", "2019-05-14", Risk::Low),
        // Reported with moderate risk, to try `refuse_moderate_risk`.
        TestIdentity::new(
            "189001019802",
            "Astrid",
            "Nilsson",
            "2015-03-02",
            Risk::Moderate,
        ),
    ]
}

/// What happens when a person other than `requirement.personalNumber` tries to take an order.
/// BankID's app refuses; which failure then reaches the RP is not documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome", content = "hintCode")]
pub enum WrongPersonOutcome {
    /// The order stays pending (`outstandingTransaction`; the right person may still take it)
    /// and fails with this hint when the pick-up window ends.
    ExpireWith(HintCode),
    /// The order fails at once with this hint.
    FailWith(HintCode),
}

/// The simulator's timings and data. Every timing is in seconds of the injected clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimulatorConfig {
    /// An order nobody took (scan, autostart, phone) fails `startFailed` after this long.
    pub pickup_window_secs: i64,
    /// A taken order the user does not finish fails `expiredTransaction` after this long.
    pub sign_window_secs: i64,
    /// How long a complete order can be collected.
    pub complete_collectable_secs: i64,
    /// How long a failed order can be collected.
    pub failed_collectable_secs: i64,
    /// A scanned QR code's `qrTime` may differ this much from the order's real age.
    pub qr_time_tolerance_secs: i64,
    /// `completionData.device.ipAddress` for QR and phone orders (the phone's address); autostart
    /// orders report the order's `endUserIp`.
    pub phone_ip: IpAddr,
    pub wrong_person: WrongPersonOutcome,
    pub identities: Vec<TestIdentity>,
    /// At most this many orders are kept; the oldest finished ones go first.
    pub max_orders: usize,
    /// The RP name put into the signature's `srvInfo`.
    pub rp_display_name: String,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            pickup_window_secs: 30,
            sign_window_secs: 180,
            complete_collectable_secs: 180,
            failed_collectable_secs: 300,
            qr_time_tolerance_secs: 3,
            phone_ip: IpAddr::from([192, 0, 2, 55]),
            wrong_person: WrongPersonOutcome::ExpireWith(HintCode::ExpiredTransaction),
            identities: default_identities(),
            max_orders: 10_000,
            rp_display_name: "Leasify ID (BankID simulator)".into(),
        }
    }
}

/// The simulator: its certificates, configuration, orders and injected faults. Cheap to clone.
#[derive(Clone)]
pub struct SimulatorState {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    certs: SimulatorCerts,
    server_tls: Arc<rustls::ServerConfig>,
    core: Mutex<orders::Core>,
}

impl std::fmt::Debug for SimulatorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorState")
            .field("certs", &self.inner.certs)
            .finish_non_exhaustive()
    }
}

impl SimulatorState {
    /// Builds the simulator; fails if the certificates cannot be used for TLS.
    pub fn new(
        certs: SimulatorCerts,
        clock: Arc<dyn Clock>,
        config: SimulatorConfig,
    ) -> Result<Self, TlsError> {
        let server_tls = Arc::new(crate::tls::server_config(
            &certs.server_cert_pem,
            &certs.server_key_pem,
            &certs.ca_cert_pem,
        )?);
        Ok(SimulatorState {
            inner: Arc::new(Inner {
                clock,
                certs,
                server_tls,
                core: Mutex::new(orders::Core::new(config)),
            }),
        })
    }

    pub fn certs(&self) -> &SimulatorCerts {
        &self.inner.certs
    }

    pub(crate) fn server_tls(&self) -> Arc<rustls::ServerConfig> {
        self.inner.server_tls.clone()
    }

    pub(crate) fn now(&self) -> crate::clock::UnixTime {
        self.inner.clock.now()
    }

    /// The orders, with every timer brought up to the clock's present.
    pub(crate) fn core(&self) -> MutexGuard<'_, orders::Core> {
        let now = self.now();
        let mut core = self
            .inner
            .core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        core.tick(now);
        core
    }

    /// A copy of the configuration.
    pub fn config(&self) -> SimulatorConfig {
        self.core().config.clone()
    }

    /// Replaces the configuration (existing orders keep their state).
    pub fn set_config(&self, config: SimulatorConfig) {
        self.core().config = config;
    }
}

//! The simulator's certificates: its own CA, a server certificate for `localhost`/`127.0.0.1` and
//! a relying-party client certificate, all issued by that CA (ECDSA P-256, made with rcgen).
//!
//! They are made once and kept as PEM files in a directory (normally
//! `<data_dir>/bankid-simulator/`; private keys with mode 0600), so that tools such as
//! `curl --cacert ca.pem --cert rp-client.pem --key rp-client-key.pem` keep working across
//! restarts. The CA's private key is never written: when any file is missing, unreadable,
//! inconsistent or expired, all of them are made anew.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};

use crate::bankid::client::BankIdSettings;
use crate::tls::{self, ClientIdentity, TlsError};

pub const CA_CERT_FILE: &str = "ca.pem";
pub const SERVER_CERT_FILE: &str = "server.pem";
pub const SERVER_KEY_FILE: &str = "server-key.pem";
pub const CLIENT_CERT_FILE: &str = "rp-client.pem";
pub const CLIENT_KEY_FILE: &str = "rp-client-key.pem";
const FILES: [&str; 5] = [
    CA_CERT_FILE,
    SERVER_CERT_FILE,
    SERVER_KEY_FILE,
    CLIENT_CERT_FILE,
    CLIENT_KEY_FILE,
];

/// How long made certificates are valid.
const VALIDITY_DAYS: i64 = 3650;

/// The simulator's certificates, as PEM.
#[derive(Clone)]
pub struct SimulatorCerts {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    dir: Option<PathBuf>,
}

impl std::fmt::Debug for SimulatorCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorCerts")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn tls_error(context: &str, e: impl std::fmt::Display) -> TlsError {
    TlsError(format!("{context}: {e}"))
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALIDITY_DAYS);
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "SE");
    dn.push(DnType::OrganizationName, "Leasify ID (development)");
    dn.push(DnType::CommonName, common_name);
    dn
}

impl SimulatorCerts {
    /// Makes a fresh set in memory (not written anywhere).
    pub fn generate() -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate().map_err(|e| tls_error("CA key", e))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_error("CA", e))?;
        ca_params.distinguished_name = name("Leasify ID BankID Simulator CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut ca_params);
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| tls_error("CA certificate", e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(|e| tls_error("server key", e))?;
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|e| tls_error("server", e))?;
        server_params.distinguished_name = name("localhost");
        server_params.is_ca = IsCa::ExplicitNoCa;
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server_params.use_authority_key_identifier_extension = true;
        validity(&mut server_params);
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(|e| tls_error("server certificate", e))?;

        let client_key = KeyPair::generate().map_err(|e| tls_error("client key", e))?;
        let mut client_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_error("client", e))?;
        client_params.distinguished_name = name("Leasify ID simulated RP");
        client_params.is_ca = IsCa::ExplicitNoCa;
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client_params.use_authority_key_identifier_extension = true;
        validity(&mut client_params);
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .map_err(|e| tls_error("client certificate", e))?;

        Ok(SimulatorCerts {
            ca_cert_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            dir: None,
        })
    }

    /// Reads the set kept in `dir`, or makes and writes a new one (also when the kept one is
    /// incomplete, inconsistent or expired).
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        // Within one process, one thread at a time: the staging/rename dance below only has to
        // settle races between processes.
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match Self::load(dir) {
            Ok(certs) => return Ok(certs),
            Err(reason) if dir.join(CA_CERT_FILE).exists() => {
                tracing::warn!(dir = %dir.display(), %reason, "BankID simulator certificates unusable; making new ones");
            }
            Err(_) => {}
        }
        let mut certs = Self::generate()?;
        certs
            .install(dir)
            .map_err(|e| tls_error(&dir.display().to_string(), e))?;
        // Another process starting at the same moment may have installed its set first.
        if let Ok(winner) = Self::load(dir)
            && winner.ca_cert_pem != certs.ca_cert_pem
        {
            return Ok(winner);
        }
        certs.dir = Some(dir.to_path_buf());
        tracing::info!(dir = %dir.display(), "made BankID simulator certificates");
        Ok(certs)
    }

    /// Puts the set into `dir` as a whole: written into a fresh sibling directory that is then
    /// renamed into place, so that processes starting together never see a mixed set.
    fn install(&self, dir: &Path) -> std::io::Result<()> {
        let staging = dir.with_file_name(format!(
            "{}.tmp-{}",
            dir.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("bankid-simulator"),
            uuid::Uuid::new_v4().simple()
        ));
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        self.write(&staging)?;
        if Self::load(dir).is_ok() {
            // Another process installed a usable set meanwhile: keep it.
            let _ = std::fs::remove_dir_all(&staging);
            return Ok(());
        }
        // Remove an unusable old set (only our files; a directory holding anything else stays).
        for file in FILES {
            match std::fs::remove_file(dir.join(file)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let _ = std::fs::remove_dir(dir);
        match std::fs::rename(&staging, dir) {
            Ok(()) => Ok(()),
            Err(_) if Self::load(dir).is_ok() => {
                let _ = std::fs::remove_dir_all(&staging);
                Ok(())
            }
            Err(_) => {
                // The directory holds other files: write ours into it one by one.
                let _ = std::fs::remove_dir_all(&staging);
                self.write(dir)
            }
        }
    }

    /// Reads and checks the set kept in `dir`.
    pub fn load(dir: &Path) -> Result<Self, TlsError> {
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read_to_string(&path).map_err(|e| tls_error(&path.display().to_string(), e))
        };
        let certs = SimulatorCerts {
            ca_cert_pem: read(CA_CERT_FILE)?,
            server_cert_pem: read(SERVER_CERT_FILE)?,
            server_key_pem: read(SERVER_KEY_FILE)?,
            client_cert_pem: read(CLIENT_CERT_FILE)?,
            client_key_pem: read(CLIENT_KEY_FILE)?,
            dir: Some(dir.to_path_buf()),
        };
        certs.check()?;
        Ok(certs)
    }

    /// Checks that the server and client certificates chain to the CA, are valid now and match
    /// their keys.
    pub fn check(&self) -> Result<(), TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(tls::root_store(&self.ca_cert_pem)?);
        let now = UnixTime::now();
        let server_chain = tls::parse_certificates(&self.server_cert_pem)?;
        let server_verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .map_err(|e| tls_error("server verifier", e))?;
        let server_name =
            ServerName::try_from("127.0.0.1").map_err(|e| tls_error("server name", e))?;
        server_verifier
            .verify_server_cert(&server_chain[0], &server_chain[1..], &server_name, &[], now)
            .map_err(|e| tls_error("server certificate", e))?;
        let client_chain = tls::parse_certificates(&self.client_cert_pem)?;
        let client_verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| tls_error("client verifier", e))?;
        client_verifier
            .verify_client_cert(&client_chain[0], &client_chain[1..], now)
            .map_err(|e| tls_error("client certificate", e))?;
        // Building both configurations checks that each key belongs to its certificate.
        tls::server_config(
            &self.server_cert_pem,
            &self.server_key_pem,
            &self.ca_cert_pem,
        )?;
        tls::client_config(&self.ca_cert_pem, &self.client_identity())?;
        Ok(())
    }

    fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        write_file(&dir.join(CA_CERT_FILE), &self.ca_cert_pem, 0o600)?;
        write_file(&dir.join(SERVER_CERT_FILE), &self.server_cert_pem, 0o600)?;
        write_file(&dir.join(SERVER_KEY_FILE), &self.server_key_pem, 0o600)?;
        write_file(&dir.join(CLIENT_CERT_FILE), &self.client_cert_pem, 0o600)?;
        write_file(&dir.join(CLIENT_KEY_FILE), &self.client_key_pem, 0o600)?;
        Ok(())
    }

    /// The directory the files are kept in (`None` for an in-memory set).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(CA_CERT_FILE))
    }

    pub fn client_cert_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(CLIENT_CERT_FILE))
    }

    pub fn client_key_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(CLIENT_KEY_FILE))
    }

    /// The RP identity a client presents to the simulator.
    pub fn client_identity(&self) -> ClientIdentity {
        ClientIdentity::Pem {
            cert_chain_pem: self.client_cert_pem.clone(),
            key_pem: self.client_key_pem.clone(),
        }
    }

    /// Client settings for a simulator at `base_url` (`https://127.0.0.1:<port>/rp/v6.0/`): trusts
    /// only the simulator CA, presents the simulated RP certificate, no proxy.
    pub fn client_settings(&self, base_url: url::Url) -> BankIdSettings {
        let mut settings =
            BankIdSettings::new(base_url, self.client_identity(), self.ca_cert_pem.clone());
        settings.use_env_proxy = false;
        settings
    }
}

/// Writes `contents` to `path` through a temporary file and a rename, with `mode` on Unix.
fn write_file(path: &Path, contents: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("leasify-bankid-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn made_once_then_reused() {
        let root = temp_dir("certs");
        let dir = root.join("bankid-simulator");
        let first = SimulatorCerts::load_or_create(&dir).unwrap();
        assert_eq!(first.dir(), Some(dir.as_path()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for file in [SERVER_KEY_FILE, CLIENT_KEY_FILE] {
                let mode = std::fs::metadata(dir.join(file))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777;
                assert_eq!(mode, 0o600, "{file}");
            }
        }
        let second = SimulatorCerts::load_or_create(&dir).unwrap();
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        assert_eq!(first.client_key_pem, second.client_key_pem);

        // A broken set is replaced as a whole.
        std::fs::write(
            dir.join(SERVER_CERT_FILE),
            second.client_cert_pem.as_bytes(),
        )
        .unwrap();
        let third = SimulatorCerts::load_or_create(&dir).unwrap();
        assert_ne!(third.ca_cert_pem, first.ca_cert_pem);
        third.check().unwrap();
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn servers_starting_together_agree_on_one_set() {
        let root = temp_dir("race");
        let dir = root.join("bankid-simulator");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || SimulatorCerts::load_or_create(&dir).unwrap())
            })
            .collect();
        let sets: Vec<SimulatorCerts> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let on_disk = SimulatorCerts::load(&dir).unwrap();
        assert!(sets.iter().any(|s| s.ca_cert_pem == on_disk.ca_cert_pem));
        let leftovers: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "no staging directories left: {leftovers:?}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn certificates_from_another_ca_are_inconsistent() {
        let a = SimulatorCerts::generate().unwrap();
        let b = SimulatorCerts::generate().unwrap();
        a.check().unwrap();
        let mixed = SimulatorCerts {
            client_cert_pem: b.client_cert_pem.clone(),
            client_key_pem: b.client_key_pem,
            ..a
        };
        assert!(mixed.check().is_err());
    }
}

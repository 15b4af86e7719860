//! TLS material for BankID: PEM and PKCS#12 parsing, and the rustls configurations of the RP client
//! (trusts exactly one CA, presents the RP certificate) and of the simulator's server (requires a
//! client certificate issued by its own CA).
//!
//! Only the `ring` crypto provider is used; no operating-system or webpki root store is consulted.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// Errors in certificates, keys and TLS configuration. Never contains key material or passwords.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

fn err(message: impl Into<String>) -> TlsError {
    TlsError(message.into())
}

/// The relying-party certificate the client presents to BankID.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// A PKCS#12 archive (`.p12`/`.pfx`), e.g. BankID's `FPTestcert5_20240610.p12` (password
    /// `qwerty123`). PBES2 (AES) and the legacy RC2/3DES encryptions are understood.
    Pkcs12 { der: Vec<u8>, password: String },
    /// The certificate chain (leaf first) and an unencrypted private key (PKCS#8, PKCS#1 or SEC1).
    Pem {
        cert_chain_pem: String,
        key_pem: String,
    },
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientIdentity::Pkcs12 { der, .. } => f
                .debug_struct("Pkcs12")
                .field("der_len", &der.len())
                .field("password", &"<redacted>")
                .finish(),
            ClientIdentity::Pem { cert_chain_pem, .. } => f
                .debug_struct("Pem")
                .field("cert_chain_pem_len", &cert_chain_pem.len())
                .field("key_pem", &"<redacted>")
                .finish(),
        }
    }
}

impl ClientIdentity {
    /// Reads the RP certificate as the configuration names it: a PKCS#12 file (with `password`),
    /// or a PEM file holding the certificate chain, with the key in `key_path` or in the same file.
    pub fn from_files(
        cert_path: &Path,
        password: &str,
        key_path: Option<&Path>,
    ) -> Result<Self, TlsError> {
        let bytes =
            std::fs::read(cert_path).map_err(|e| err(format!("{}: {e}", cert_path.display())))?;
        let looks_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
        if !looks_pem {
            return Ok(ClientIdentity::Pkcs12 {
                der: bytes,
                password: password.to_string(),
            });
        }
        let cert_chain_pem = String::from_utf8(bytes)
            .map_err(|_| err(format!("{}: not a UTF-8 PEM file", cert_path.display())))?;
        let key_pem = match key_path {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| err(format!("{}: {e}", path.display())))?,
            None => cert_chain_pem.clone(),
        };
        Ok(ClientIdentity::Pem {
            cert_chain_pem,
            key_pem,
        })
    }

    /// The certificate chain (leaf first) and private key.
    pub fn load(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
        match self {
            ClientIdentity::Pem {
                cert_chain_pem,
                key_pem,
            } => {
                let chain = parse_certificates(cert_chain_pem)?;
                let key = parse_private_key(key_pem)?;
                Ok((chain, key))
            }
            ClientIdentity::Pkcs12 { der, password } => parse_pkcs12(der, password),
        }
    }
}

/// All certificates in a PEM text, in order.
pub fn parse_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("invalid PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(err("no certificate found in the PEM text"));
    }
    Ok(certs)
}

/// The first private key in a PEM text. Encrypted keys are refused with advice.
pub fn parse_private_key(pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(err(
            "the private key is encrypted: use the PKCS#12 (.p12) file with its password, or decrypt the key \
             (openssl pkcs8 -in key.pem -out plain.pem)",
        ));
    }
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| err(format!("no usable private key in the PEM text: {e}")))
}

/// The key and certificate chain (leaf first) of a PKCS#12 archive.
pub fn parse_pkcs12(
    der: &[u8],
    password: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let store = p12_keystore::KeyStore::from_pkcs12(der, password).map_err(|e| {
        err(format!(
            "cannot read the PKCS#12 file (wrong password or unsupported format): {e}"
        ))
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| err("the PKCS#12 file holds no private key"))?;
    // The chain is ordered leaf first (the archive's certificates linked by issuer).
    let certs: Vec<CertificateDer<'static>> = chain
        .chain()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(err(
            "the PKCS#12 file holds no certificate for its private key",
        ));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().to_vec()));
    Ok((certs, key))
}

/// A root store holding exactly the certificates in `ca_pem`.
pub fn root_store(ca_pem: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certificates(ca_pem)? {
        roots
            .add(cert)
            .map_err(|e| err(format!("unusable CA certificate: {e}")))?;
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client side of BankID's mutual TLS: trusts only `ca_pem`, presents `identity`, HTTP/1.1.
pub fn client_config(ca_pem: &str, identity: &ClientIdentity) -> Result<ClientConfig, TlsError> {
    let roots = root_store(ca_pem)?;
    let (chain, key) = identity.load()?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| err(format!("unusable client certificate or key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A server configuration that requires a client certificate issued by one of `client_ca_pem`.
pub fn server_config(
    cert_chain_pem: &str,
    key_pem: &str,
    client_ca_pem: &str,
) -> Result<ServerConfig, TlsError> {
    let roots = Arc::new(root_store(client_ca_pem)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| err(format!("client verifier: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            parse_certificates(cert_chain_pem)?,
            parse_private_key(key_pem)?,
        )
        .map_err(|e| err(format!("unusable server certificate or key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_pem_keys_are_refused_with_advice() {
        let error = parse_private_key(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(error.0.contains("PKCS#12"));
        assert!(parse_certificates("nothing here").is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let identity = ClientIdentity::Pkcs12 {
            der: vec![1, 2, 3],
            password: "qwerty123".into(),
        };
        assert!(!format!("{identity:?}").contains("qwerty123"));
        let identity = ClientIdentity::Pem {
            cert_chain_pem: "c".into(),
            key_pem: "SECRETKEY".into(),
        };
        assert!(!format!("{identity:?}").contains("SECRETKEY"));
    }

    #[test]
    fn pkcs12_round_trip() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["rp.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let chain = p12_keystore::PrivateKeyChain::new(
            key.serialize_der(),
            [1u8; 20],
            vec![p12_keystore::Certificate::from_der(cert.der()).unwrap()],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("rp", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        let der = store.writer("secret").write().unwrap();
        let (certs, parsed_key) = parse_pkcs12(&der, "secret").unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].as_ref(), cert.der().as_ref());
        assert_eq!(parsed_key.secret_der(), key.serialize_der().as_slice());
        assert!(parse_pkcs12(&der, "wrong").is_err());
    }
}

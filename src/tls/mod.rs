//! TLS with rustls (the `ring` provider only): certificates and keys from PEM and PKCS#12, client
//! and server configurations that trust exactly the roots they are given, and the listener that
//! serves HTTPS directly. Used by the server, the BankID client and the BankID simulator.

pub mod listener;
pub mod material;

pub use listener::{TlsListener, acceptor_from_files};
pub use material::*;

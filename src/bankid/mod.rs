//! Swedish BankID (RP API v6.0): the relying-party client, and an embedded simulator of the BankID
//! service for development and tests.

pub mod api;
pub mod client;
pub mod simulator;
pub mod tls;

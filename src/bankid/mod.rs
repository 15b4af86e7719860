//! Swedish BankID (RP API v6.0): the relying-party client, and an embedded simulator of the BankID
//! service for development and tests.
//!
//! - [`api`], [`client`], [`tls`]: the RP API v6.0 types and the mutual-TLS client.
//! - [`qr`]: the animated QR code (spec section 4): the payload for each second and its SVG.
//! - [`messages`]: the recommended user messages (RFA, spec section 3.1) for hint and error codes.
//! - [`simulator`]: the embedded BankID service and the control API that plays the user's app.

pub mod api;
pub mod client;
pub mod messages;
pub mod qr;
pub mod simulator;

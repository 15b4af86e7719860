//! Leasify ID: a standalone OpenID Connect identity provider.

pub mod clock;
pub mod crypto;
pub mod store;

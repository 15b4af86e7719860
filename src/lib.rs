//! Leasify ID: a standalone OpenID Connect identity provider.

pub mod account;
pub mod admin;
pub mod audit;
pub mod bankid;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod identity;
pub mod jobs;
pub mod keys;
pub mod login;
pub mod mail;
pub mod oidc;
pub mod private_files;
pub mod render;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod testkit;
pub mod tls;
pub mod web;
pub mod workers;

//! Leasify ID: a standalone OpenID Connect identity provider.

pub mod clock;
pub mod crypto;
pub mod store;
pub mod account;
pub mod admin;
pub mod bankid;
pub mod cli;
pub mod config;
pub mod login;
pub mod mail;
pub mod oidc;
pub mod server;
pub mod state;
pub mod web;

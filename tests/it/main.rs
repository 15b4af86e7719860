//! The integration tests: the real server on port 0, driven over HTTP as a relying party and a
//! browser would (and by a real Chromium, and over real SMTP), on the backend
//! `LEASIFY_TEST_BACKEND` selects. One test binary, so the suite links once; each module is one
//! area. `tests/bankid_logs.rs` stays a binary of its own: it captures the process's log output.

mod bankid_support;
mod browser_support;
mod common;

mod account_emails;
mod accounts;
mod admin_api;
mod admin_console;
mod admin_console_apps;
mod admin_console_apps_browser;
mod admin_console_browser;
mod admin_console_bulk;
mod admin_console_bulk_browser;
mod admin_console_overview;
mod admin_console_overview_browser;
mod architecture;
mod bankid_client;
mod bankid_dev_app;
mod bankid_login;
mod browser;
mod claims_and_acr;
mod cli;
mod consent;
mod deploy_safety;
mod discovery;
mod dpop;
mod logout;
mod metrics;
mod oidc_errors;
mod oidc_flow;
mod par;
mod passkeys_admin;
mod passkeys_browser;
mod personnummer;
mod revocation_everywhere;
mod smtp;
mod tls;
mod token_management;
mod two_instances;

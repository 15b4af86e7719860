//! The OAuth 2.0 / OpenID Connect protocol core. Nothing here knows about HTTP frameworks: the
//! handlers in `web/` parse requests into plain values, call these functions and render what they
//! return, so the protocol is tested directly.

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod client_credentials;
pub mod client_keys;
pub mod discovery;
// DPoP proofs are checked in `crypto` (state holds the replay memory); the protocol uses them here.
pub use crate::crypto::dpop;
pub mod errors;
pub mod logout;
pub mod pkce;
pub mod response;
pub mod revocation;
pub mod scopes;
pub mod sender_constraint;
pub mod token;
pub mod tokens;
pub mod userinfo;

#[cfg(test)]
mod tests;

pub use errors::{AuthorizeError, BearerError, PageError, TokenError};

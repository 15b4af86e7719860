//! Logging people in: password checks, throttling, sessions and CSRF tokens.

pub mod bankid;
pub mod csrf;
pub mod device;
pub mod methods;
pub mod passkey;
pub mod password;
pub mod return_to;
pub mod sessions;
pub mod throttle;

//! Values a browser sends back that steer the server: the `next` return-to value of the login
//! page (`login::return_to::return_path`) and the device cookie of the login throttle
//! (`login::device::device_for`).
//!
//! Input: two lines, the `next` value and the device cookie value.
//!
//! Invariants: the return path is one of our own pages (starts with `/`, never `//`, no control
//! character or whitespace, resolves against the issuer to the issuer's own origin); a device
//! cookie is accepted only if it is exactly one the server issued for that account (a cookie
//! issued for the fuzz user is accepted, and no mutation of it is).
#![no_main]

use leasify_id::login::device::{device_for, issue};
use leasify_id::login::return_to::return_path;
use leasify_id_fuzz::{ISSUER, fields, harness, text};
use libfuzzer_sys::fuzz_target;

const EMAIL: &str = "fuzz@example.se";

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let parts = fields(data, 2);
    let next = parts.first().map(|p| text(p));
    let cookie = parts.get(1).map(|p| text(p));

    let path = return_path(ISSUER, next.as_deref());
    assert!(
        path.starts_with('/') && !path.starts_with("//"),
        "{next:?} → {path:?}"
    );
    assert!(
        !path
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\'),
        "{next:?} → {path:?}"
    );
    let issuer = url::Url::parse(ISSUER).expect("issuer");
    let resolved = issuer.join(&path).expect("resolves");
    assert_eq!(resolved.origin(), issuer.origin(), "{next:?} → {path:?}");

    let issued = issue(&h.state, Some("fuzz-device"), EMAIL);
    assert_eq!(
        device_for(&h.state, Some(&issued), EMAIL).as_deref(),
        Some("fuzz-device")
    );
    if let Some(cookie) = cookie.as_deref() {
        let accepted = device_for(&h.state, Some(cookie), EMAIL);
        if cookie != issued {
            // Another issue time (of the same device) is the only other value that may pass.
            if let Some(device) = accepted {
                assert_eq!(device, cookie.split('.').next().unwrap_or_default());
                assert!(cookie.split('.').count() == 3);
            }
        }
        // Never for another account.
        assert_eq!(device_for(&h.state, Some(cookie), "other@example.se"), None);
    }
});

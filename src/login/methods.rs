//! The ways to log in, and what each tells an app: the `acr` level and the `amr` method in the
//! ID token (OpenID Connect Core §2). One place for all of them, so the login pages, the
//! authorization endpoint and discovery agree.

/// A way a person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    BankId,
    /// A passkey (WebAuthn): its `amr` says whether the key is device-bound or synced and
    /// whether the authenticator verified the user (see `passkey::amr_of`).
    Passkey {
        backup_eligible: bool,
        user_verified: bool,
    },
}

/// The `acr` of a password login: a level of our own, below the Swedish eID LoA 3 that BankID
/// meets.
pub const ACR_PASSWORD: &str = "urn:leasify:acr:password";
/// The `acr` of a BankID login: the Swedish eID level of assurance 3.
pub const ACR_BANKID: &str = "http://id.elegnamnden.se/loa/1.0/loa3";
/// The `acr` of a passkey login: a level of our own, phishing-resistant (the key signs only
/// for our origin), above a password. Apps may demand it with `acr_values`.
pub const ACR_PASSKEY: &str = "urn:leasify:acr:passkey";
/// `amr` values (RFC 8176 `pwd`; BankID has no registered value).
pub const AMR_PASSWORD: &str = "pwd";
pub const AMR_BANKID: &str = "bankid";

impl Method {
    /// The method's name in the audit trail and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::BankId => "bankid",
            Method::Passkey { .. } => "passkey",
        }
    }

    pub fn acr(self) -> &'static str {
        match self {
            Method::Password => ACR_PASSWORD,
            Method::BankId => ACR_BANKID,
            Method::Passkey { .. } => ACR_PASSKEY,
        }
    }

    pub fn amr(self) -> Vec<String> {
        match self {
            Method::Password => vec![AMR_PASSWORD.into()],
            Method::BankId => vec![AMR_BANKID.into()],
            Method::Passkey {
                backup_eligible,
                user_verified,
            } => super::passkey::amr_of(backup_eligible, user_verified),
        }
    }
}

/// The `acr` values we can satisfy, weakest first: a password always, a passkey when the
/// issuer has a host name, BankID when enabled.
pub fn acr_values_supported(bankid_enabled: bool, passkeys_available: bool) -> Vec<&'static str> {
    let mut acrs = vec![ACR_PASSWORD];
    if passkeys_available {
        acrs.push(ACR_PASSKEY);
    }
    if bankid_enabled {
        acrs.push(ACR_BANKID);
    }
    acrs
}

/// Whether a session at level `have` satisfies a request for `wanted`: the same level, or
/// BankID (LoA 3) or a passkey where a password was asked for. A passkey and BankID do not
/// stand in for each other: one is phishing-resistant, the other a verified identity.
pub fn satisfies(have: &str, wanted: &str) -> bool {
    have == wanted || ((have == ACR_BANKID || have == ACR_PASSKEY) && wanted == ACR_PASSWORD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bankid_satisfies_a_password_request_not_the_other_way_round() {
        assert!(satisfies(ACR_BANKID, ACR_PASSWORD));
        assert!(satisfies(ACR_PASSWORD, ACR_PASSWORD));
        assert!(!satisfies(ACR_PASSWORD, ACR_BANKID));
        assert_eq!(acr_values_supported(false, false), [ACR_PASSWORD]);
        assert_eq!(
            acr_values_supported(true, false),
            [ACR_PASSWORD, ACR_BANKID]
        );
        assert_eq!(
            acr_values_supported(true, true),
            [ACR_PASSWORD, ACR_PASSKEY, ACR_BANKID]
        );
        assert_eq!(Method::BankId.amr(), ["bankid"]);
    }

    #[test]
    fn a_passkey_satisfies_a_password_request_and_only_its_own() {
        assert!(satisfies(ACR_PASSKEY, ACR_PASSWORD));
        assert!(satisfies(ACR_PASSKEY, ACR_PASSKEY));
        assert!(!satisfies(ACR_PASSWORD, ACR_PASSKEY));
        assert!(!satisfies(ACR_BANKID, ACR_PASSKEY));
        assert!(!satisfies(ACR_PASSKEY, ACR_BANKID));
        let synced = Method::Passkey {
            backup_eligible: true,
            user_verified: true,
        };
        assert_eq!(synced.amr(), ["swk", "user"]);
        assert_eq!(synced.acr(), ACR_PASSKEY);
        assert_eq!(synced.name(), "passkey");
    }
}

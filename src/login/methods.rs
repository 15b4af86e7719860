//! The ways to log in, and what each tells an app: the `acr` level and the `amr` method in the
//! ID token (OpenID Connect Core §2). One place for all of them, so the login pages, the
//! authorization endpoint and discovery agree.

/// A way a person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    BankId,
}

/// The `acr` of a password login: a level of our own, below the Swedish eID LoA 3 that BankID
/// meets.
pub const ACR_PASSWORD: &str = "urn:leasify:acr:password";
/// The `acr` of a BankID login: the Swedish eID level of assurance 3.
pub const ACR_BANKID: &str = "http://id.elegnamnden.se/loa/1.0/loa3";
/// `amr` values (RFC 8176 `pwd`; BankID has no registered value).
pub const AMR_PASSWORD: &str = "pwd";
pub const AMR_BANKID: &str = "bankid";

impl Method {
    /// The method's name in the audit trail and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::BankId => "bankid",
        }
    }

    pub fn acr(self) -> &'static str {
        match self {
            Method::Password => ACR_PASSWORD,
            Method::BankId => ACR_BANKID,
        }
    }

    pub fn amr(self) -> Vec<String> {
        match self {
            Method::Password => vec![AMR_PASSWORD.into()],
            Method::BankId => vec![AMR_BANKID.into()],
        }
    }
}

/// The `acr` values we can satisfy, weakest first: a password always, BankID when enabled.
pub fn acr_values_supported(bankid_enabled: bool) -> Vec<&'static str> {
    let mut acrs = vec![ACR_PASSWORD];
    if bankid_enabled {
        acrs.push(ACR_BANKID);
    }
    acrs
}

/// Whether a session at level `have` satisfies a request for `wanted`: the same level, or
/// BankID (LoA 3) where a password was asked for.
pub fn satisfies(have: &str, wanted: &str) -> bool {
    have == wanted || (have == ACR_BANKID && wanted == ACR_PASSWORD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bankid_satisfies_a_password_request_not_the_other_way_round() {
        assert!(satisfies(ACR_BANKID, ACR_PASSWORD));
        assert!(satisfies(ACR_PASSWORD, ACR_PASSWORD));
        assert!(!satisfies(ACR_PASSWORD, ACR_BANKID));
        assert_eq!(acr_values_supported(false), [ACR_PASSWORD]);
        assert_eq!(acr_values_supported(true), [ACR_PASSWORD, ACR_BANKID]);
        assert_eq!(Method::BankId.amr(), ["bankid"]);
    }
}

//! What an order may demand and tell BankID: `requirement`, and the `web` or `app` context that
//! improves BankID's risk assessment.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    DEVICE_IDENTIFIER_MAX_LENGTH, Redacted, USER_AGENT_MAX_LENGTH, is_personal_number_format,
    truncate_chars,
};

/// `requirement.cardReader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CardReader {
    Class1,
    Class2,
}

/// A risk level: `requirement.risk` (highest acceptable) and `completionData.risk` (assessed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Risk {
    #[serde(alias = "LOW", alias = "Low")]
    Low,
    #[serde(alias = "MODERATE", alias = "Moderate")]
    Moderate,
    #[serde(alias = "HIGH", alias = "High")]
    High,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Moderate => "moderate",
            Risk::High => "high",
        }
    }
}

/// `requirement`: conditions the order must meet.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    /// Require the PIN even when biometrics are enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_code: Option<bool>,
    /// Require an ID document check (NFC passport / national ID card).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrtd: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_reader: Option<CardReader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_policies: Option<Vec<String>>,
    /// Only this person's BankID can complete the order (12 digits). Never start an order from
    /// a personnummer the user typed; use this to restrict an order for a known, stored number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_number: Option<String>,
    /// Highest acceptable risk; a higher one fails the order with `transactionRiskBlocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requirement")
            .field("pin_code", &self.pin_code)
            .field("mrtd", &self.mrtd)
            .field("card_reader", &self.card_reader)
            .field("certificate_policies", &self.certificate_policies)
            .field("personal_number", &Redacted(&self.personal_number))
            .field("risk", &self.risk)
            .finish()
    }
}

impl Requirement {
    pub fn is_empty(&self) -> bool {
        *self == Requirement::default()
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if self
            .personal_number
            .as_deref()
            .is_some_and(|pnr| !is_personal_number_format(pnr))
        {
            return Err("requirement.personalNumber must be 12 digits".into());
        }
        if self
            .certificate_policies
            .as_ref()
            .is_some_and(|policies| policies.iter().any(String::is_empty))
        {
            return Err("requirement.certificatePolicies must not contain empty values".into());
        }
        Ok(())
    }
}

/// `web`: the browser's context, which improves BankID's risk assessment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebData {
    /// The RP's registrable domain, e.g. `leasify.se`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referring_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// A stable per-browser identifier not tied to a user (e.g. a hash of a long-lived cookie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_identifier: Option<String>,
}

impl WebData {
    /// Builds `web`, truncating the user agent and device identifier to BankID's limits.
    pub fn new(
        referring_domain: Option<&str>,
        user_agent: Option<&str>,
        device_identifier: Option<&str>,
    ) -> Self {
        fn non_empty(value: Option<&str>) -> Option<&str> {
            value.map(str::trim).filter(|v| !v.is_empty())
        }
        WebData {
            referring_domain: non_empty(referring_domain).map(str::to_string),
            user_agent: non_empty(user_agent).map(|v| truncate_chars(v, USER_AGENT_MAX_LENGTH)),
            device_identifier: non_empty(device_identifier)
                .map(|v| truncate_chars(v, DEVICE_IDENTIFIER_MAX_LENGTH)),
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if self
            .user_agent
            .as_deref()
            .is_some_and(|v| v.chars().count() > USER_AGENT_MAX_LENGTH)
        {
            return Err(format!(
                "web.userAgent is longer than {USER_AGENT_MAX_LENGTH} characters"
            ));
        }
        if self
            .device_identifier
            .as_deref()
            .is_some_and(|v| v.chars().count() > DEVICE_IDENTIFIER_MAX_LENGTH)
        {
            return Err(format!(
                "web.deviceIdentifier is longer than {DEVICE_IDENTIFIER_MAX_LENGTH} characters"
            ));
        }
        Ok(())
    }
}

/// `app`: a native app's context (send `web` or `app`, not both).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_identifier: Option<String>,
    #[serde(rename = "deviceOS", default, skip_serializing_if = "Option::is_none")]
    pub device_os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_model_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_identifier: Option<String>,
}

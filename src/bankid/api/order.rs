//! Starting an order: the bodies of `/auth`, `/sign`, `/phone/auth` and `/phone/sign`, and the
//! limits BankID enforces on them.

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::*;

/// Which operation an order request is for (their limits differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderKind {
    Auth,
    Sign,
}

/// Body of `POST /auth` and `POST /sign`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    /// The end user's IP address as the RP sees it (not the RP server's).
    pub end_user_ip: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<Requirement>,
    /// Base64 of UTF-8 text shown to the user (required for sign).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_visible_data: Option<String>,
    /// Base64 data not shown to the user but included in the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_non_visible_data: Option<String>,
    /// `simpleMarkdownV1` (or `plaintext`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_visible_data_format: Option<String>,
    /// Where the BankID app returns after an autostarted order (put a one-time nonce in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_risk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppData>,
}

impl fmt::Debug for OrderRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderRequest")
            .field("end_user_ip", &self.end_user_ip)
            .field("requirement", &self.requirement)
            .field(
                "user_visible_data_len",
                &self.user_visible_data.as_ref().map(String::len),
            )
            .field(
                "user_non_visible_data_len",
                &self.user_non_visible_data.as_ref().map(String::len),
            )
            .field("user_visible_data_format", &self.user_visible_data_format)
            .field("return_url", &self.return_url.as_ref().map(|_| "<set>"))
            .field("return_risk", &self.return_risk)
            .field("web", &self.web)
            .field("app", &self.app)
            .finish()
    }
}

impl OrderRequest {
    pub fn new(end_user_ip: IpAddr) -> Self {
        OrderRequest {
            end_user_ip,
            requirement: None,
            user_visible_data: None,
            user_non_visible_data: None,
            user_visible_data_format: None,
            return_url: None,
            return_risk: None,
            web: None,
            app: None,
        }
    }

    /// Sets `userVisibleData` to the base64 of `text` (plain text, no format).
    pub fn visible_text(mut self, text: &str) -> Self {
        self.user_visible_data = Some(encode_text(text));
        self
    }

    /// Sets `userVisibleData` to the base64 of `markdown` with format `simpleMarkdownV1`.
    pub fn visible_markdown(mut self, markdown: &str) -> Self {
        self.user_visible_data = Some(encode_text(markdown));
        self.user_visible_data_format = Some("simpleMarkdownV1".into());
        self
    }

    /// Sets `userNonVisibleData` to the base64 of `data`.
    pub fn non_visible_data(mut self, data: &[u8]) -> Self {
        self.user_non_visible_data = Some(base64::engine::general_purpose::STANDARD.encode(data));
        self
    }

    pub fn requirement(mut self, requirement: Requirement) -> Self {
        self.requirement = if requirement.is_empty() {
            None
        } else {
            Some(requirement)
        };
        self
    }

    pub fn return_url(mut self, url: impl Into<String>) -> Self {
        self.return_url = Some(url.into());
        self
    }

    pub fn return_risk(mut self, value: bool) -> Self {
        self.return_risk = Some(value);
        self
    }

    pub fn web(mut self, web: WebData) -> Self {
        self.web = Some(web);
        self
    }

    /// Checks the request against the RP API's limits for `kind`; the error text names the field.
    pub fn validate(&self, kind: OrderKind) -> Result<(), String> {
        let (visible_max, non_visible_max) = match kind {
            OrderKind::Auth => (AUTH_VISIBLE_MAX_LENGTH, AUTH_NON_VISIBLE_MAX_LENGTH),
            OrderKind::Sign => (SIGN_VISIBLE_MAX_LENGTH, SIGN_NON_VISIBLE_MAX_LENGTH),
        };
        match (&self.user_visible_data, kind) {
            (None, OrderKind::Sign) => return Err("userVisibleData is required for sign".into()),
            (Some(data), _) => validate_base64_field("userVisibleData", data, visible_max)?,
            (None, OrderKind::Auth) => {}
        }
        if let Some(data) = &self.user_non_visible_data {
            validate_base64_field("userNonVisibleData", data, non_visible_max)?;
        }
        if let Some(format) = &self.user_visible_data_format {
            if !VISIBLE_DATA_FORMATS.contains(&format.as_str()) {
                return Err("userVisibleDataFormat must be simpleMarkdownV1 or plaintext".into());
            }
            if self.user_visible_data.is_none() {
                return Err("userVisibleDataFormat needs userVisibleData".into());
            }
        }
        if self
            .return_url
            .as_deref()
            .is_some_and(|url| url.is_empty() || url.chars().count() > RETURN_URL_MAX_LENGTH)
        {
            return Err(format!(
                "returnUrl must be 1 to {RETURN_URL_MAX_LENGTH} characters"
            ));
        }
        if let Some(requirement) = &self.requirement {
            requirement.validate()?;
        }
        if let Some(web) = &self.web {
            web.validate()?;
        }
        if self.web.is_some() && self.app.is_some() {
            return Err("send web or app, not both".into());
        }
        Ok(())
    }
}

/// Checks that a field is non-empty standard base64 of at most `max` characters.
pub fn validate_base64_field(name: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{name} must not be empty"));
    }
    if value.len() > max {
        return Err(format!("{name} is longer than {max} characters"));
    }
    if base64::engine::general_purpose::STANDARD
        .decode(value)
        .is_err()
    {
        return Err(format!("{name} is not valid base64"));
    }
    Ok(())
}

/// Who started the call in a phone order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallInitiator {
    #[serde(rename = "user")]
    User,
    #[serde(rename = "RP")]
    Rp,
}

/// Body of `POST /phone/auth` and `POST /phone/sign`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneOrderRequest {
    /// The person in the call (12 digits).
    pub personal_number: String,
    pub call_initiator: CallInitiator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<Requirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_visible_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_non_visible_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_visible_data_format: Option<String>,
}

impl fmt::Debug for PhoneOrderRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneOrderRequest")
            .field("personal_number", &"<redacted>")
            .field("call_initiator", &self.call_initiator)
            .field("requirement", &self.requirement)
            .field(
                "user_visible_data_len",
                &self.user_visible_data.as_ref().map(String::len),
            )
            .field(
                "user_non_visible_data_len",
                &self.user_non_visible_data.as_ref().map(String::len),
            )
            .field("user_visible_data_format", &self.user_visible_data_format)
            .finish()
    }
}

impl PhoneOrderRequest {
    pub fn new(personal_number: impl Into<String>, call_initiator: CallInitiator) -> Self {
        PhoneOrderRequest {
            personal_number: personal_number.into(),
            call_initiator,
            requirement: None,
            user_visible_data: None,
            user_non_visible_data: None,
            user_visible_data_format: None,
        }
    }

    pub fn visible_text(mut self, text: &str) -> Self {
        self.user_visible_data = Some(encode_text(text));
        self
    }

    pub fn validate(&self, kind: OrderKind) -> Result<(), String> {
        if !is_personal_number_format(&self.personal_number) {
            return Err("personalNumber must be 12 digits".into());
        }
        let mut as_order = OrderRequest::new(IpAddr::from([127, 0, 0, 1]));
        as_order.requirement = self.requirement.clone();
        as_order.user_visible_data = self.user_visible_data.clone();
        as_order.user_non_visible_data = self.user_non_visible_data.clone();
        as_order.user_visible_data_format = self.user_visible_data_format.clone();
        as_order.validate(kind)
    }
}

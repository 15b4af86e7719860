//! What BankID answers: order references, collect status and hint codes, the completion data of
//! a finished order, and error bodies with their codes.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Risk;

/// Response of `/auth` and `/sign`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderResponse {
    pub order_ref: String,
    pub auto_start_token: String,
    pub qr_start_token: String,
    /// The HMAC key of the animated QR code: keep it on the server, never send it to a browser.
    pub qr_start_secret: String,
}

impl fmt::Debug for OrderResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderResponse")
            .field("order_ref", &self.order_ref)
            .field("auto_start_token", &self.auto_start_token)
            .field("qr_start_token", &self.qr_start_token)
            .field("qr_start_secret", &"<redacted>")
            .finish()
    }
}

/// Response of `/phone/auth` and `/phone/sign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneOrderResponse {
    pub order_ref: String,
}

/// Body of `/collect` and `/cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRefRequest {
    pub order_ref: String,
}

/// `status` of a collect response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CollectStatus {
    Pending,
    Failed,
    Complete,
}

/// A collect `hintCode`. Unknown codes are kept as [`HintCode::Other`] (BankID adds codes
/// without notice: an unknown pending hint means "keep polling", an unknown failure is final).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum HintCode {
    // pending
    OutstandingTransaction,
    NoClient,
    Started,
    UserMrtd,
    UserCallConfirm,
    UserSign,
    Processing,
    // failed
    ExpiredTransaction,
    CertificateErr,
    UserCancel,
    Cancelled,
    StartFailed,
    UserDeclinedCall,
    NotSupportedByUserApp,
    TransactionRiskBlocked,
    Other(String),
}

impl HintCode {
    pub fn as_str(&self) -> &str {
        match self {
            HintCode::OutstandingTransaction => "outstandingTransaction",
            HintCode::NoClient => "noClient",
            HintCode::Started => "started",
            HintCode::UserMrtd => "userMrtd",
            HintCode::UserCallConfirm => "userCallConfirm",
            HintCode::UserSign => "userSign",
            HintCode::Processing => "processing",
            HintCode::ExpiredTransaction => "expiredTransaction",
            HintCode::CertificateErr => "certificateErr",
            HintCode::UserCancel => "userCancel",
            HintCode::Cancelled => "cancelled",
            HintCode::StartFailed => "startFailed",
            HintCode::UserDeclinedCall => "userDeclinedCall",
            HintCode::NotSupportedByUserApp => "notSupportedByUserApp",
            HintCode::TransactionRiskBlocked => "transactionRiskBlocked",
            HintCode::Other(other) => other,
        }
    }
}

impl From<String> for HintCode {
    fn from(value: String) -> Self {
        match value.as_str() {
            "outstandingTransaction" => HintCode::OutstandingTransaction,
            "noClient" => HintCode::NoClient,
            "started" => HintCode::Started,
            "userMrtd" => HintCode::UserMrtd,
            "userCallConfirm" => HintCode::UserCallConfirm,
            "userSign" => HintCode::UserSign,
            "processing" => HintCode::Processing,
            "expiredTransaction" => HintCode::ExpiredTransaction,
            "certificateErr" => HintCode::CertificateErr,
            "userCancel" => HintCode::UserCancel,
            "cancelled" => HintCode::Cancelled,
            "startFailed" => HintCode::StartFailed,
            "userDeclinedCall" => HintCode::UserDeclinedCall,
            "notSupportedByUserApp" => HintCode::NotSupportedByUserApp,
            "transactionRiskBlocked" => HintCode::TransactionRiskBlocked,
            _ => HintCode::Other(value),
        }
    }
}

impl From<&str> for HintCode {
    fn from(value: &str) -> Self {
        HintCode::from(value.to_string())
    }
}

impl From<HintCode> for String {
    fn from(value: HintCode) -> Self {
        match value {
            HintCode::Other(other) => other,
            known => known.as_str().to_string(),
        }
    }
}

impl fmt::Display for HintCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Response of `/collect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectResponse {
    pub order_ref: String,
    pub status: CollectStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint_code: Option<HintCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_data: Option<CompletionData>,
}

/// `completionData.user`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// 12 digits, `YYYYMMDDNNNC`.
    pub personal_number: String,
    pub name: String,
    pub given_name: String,
    pub surname: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("personal_number", &"<redacted>")
            .field("name", &self.name)
            .field("given_name", &self.given_name)
            .field("surname", &self.surname)
            .finish()
    }
}

/// `completionData.device`: the BankID app's device as BankID saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub ip_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uhi: Option<String>,
}

/// `completionData.stepUp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepUp {
    pub mrtd: bool,
}

/// `completionData` of a complete order. Keep all of it (signature and OCSP response) for audit.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletionData {
    pub user: User,
    pub device: Device,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub bank_id_issue_date: String,
    /// BankID's sample code names this `setUp` (a typo); both spellings are accepted.
    #[serde(default, alias = "setUp", skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
    /// Base64 of the XML-DSig signature.
    #[serde(default)]
    pub signature: String,
    /// Base64 of the DER OCSP response for the user's certificate.
    #[serde(default)]
    pub ocsp_response: String,
    /// Only with `returnRisk: true`, and even then it may be absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
}

impl fmt::Debug for CompletionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionData")
            .field("user", &self.user)
            .field("device", &self.device)
            .field("bank_id_issue_date", &self.bank_id_issue_date)
            .field("step_up", &self.step_up)
            .field("signature_len", &self.signature.len())
            .field("ocsp_response_len", &self.ocsp_response.len())
            .field("risk", &self.risk)
            .finish()
    }
}

/// Body of a non-200 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: String,
    #[serde(default)]
    pub details: String,
}

/// The RP API error codes, with the HTTP status BankID sends them with.
pub mod error_codes {
    pub const ALREADY_IN_PROGRESS: &str = "alreadyInProgress";
    pub const INVALID_PARAMETERS: &str = "invalidParameters";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const NOT_FOUND: &str = "notFound";
    pub const METHOD_NOT_ALLOWED: &str = "methodNotAllowed";
    pub const REQUEST_TIMEOUT: &str = "requestTimeout";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupportedMediaType";
    pub const TOO_MANY_REQUESTS: &str = "tooManyRequests";
    pub const INTERNAL_ERROR: &str = "internalError";
    pub const MAINTENANCE: &str = "maintenance";

    /// The HTTP status BankID uses for an error code (400 for codes it does not know).
    pub fn http_status(code: &str) -> u16 {
        match code {
            UNAUTHORIZED => 401,
            NOT_FOUND => 404,
            METHOD_NOT_ALLOWED => 405,
            REQUEST_TIMEOUT => 408,
            UNSUPPORTED_MEDIA_TYPE => 415,
            TOO_MANY_REQUESTS => 429,
            INTERNAL_ERROR => 500,
            MAINTENANCE => 503,
            _ => 400,
        }
    }
}

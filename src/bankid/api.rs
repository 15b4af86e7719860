//! The BankID RP API v6.0 wire format: request and response bodies, limits and the service's
//! well-known endpoints and root certificates.
//!
//! Bodies are camelCase JSON; absent optionals are omitted from requests, unknown fields in
//! responses are ignored. `Debug` output never shows a personnummer or the `qrStartSecret`.

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use serde::{Deserialize, Serialize};

/// Base URL of BankID's public test environment.
pub const TEST_BASE_URL: &str = "https://appapi2.test.bankid.com/rp/v6.0/";

/// Base URL of BankID production. Production also needs the relying-party certificate that your
/// bank issues under your BankID agreement (you create the key and CSR, the bank issues the
/// certificate, you build the PKCS#12); the public test certificate is refused there.
pub const PRODUCTION_BASE_URL: &str = "https://appapi2.bankid.com/rp/v6.0/";

/// File name of BankID's public test RP certificate, published on developers.bankid.com
/// ("Environments") with the password [`TEST_RP_CERT_PASSWORD`]. It is not shipped with Leasify ID:
/// download it and point the configuration at the file.
pub const TEST_RP_CERT_FILE_NAME: &str = "FPTestcert5_20240610.p12";

/// Password of the public test RP certificate (published by BankID; not a secret).
pub const TEST_RP_CERT_PASSWORD: &str = "qwerty123";

/// `CN=Test BankID SSL Root CA v1 Test`, the only CA to trust for the test environment
/// (SHA-256 fingerprint `F3:D0:74:0E:…:1D:5B:40:5C`, valid 2014-11-21 → 2034-12-31).
pub const TEST_ROOT_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIF0DCCA7igAwIBAgIIIhYaxu4khgAwDQYJKoZIhvcNAQENBQAwbDEkMCIGA1UE
CgwbRmluYW5zaWVsbCBJRC1UZWtuaWsgQklEIEFCMRowGAYDVQQLDBFJbmZyYXN0
cnVjdHVyZSBDQTEoMCYGA1UEAwwfVGVzdCBCYW5rSUQgU1NMIFJvb3QgQ0EgdjEg
VGVzdDAeFw0xNDExMjExMjM5MzFaFw0zNDEyMzExMjM5MzFaMGwxJDAiBgNVBAoM
G0ZpbmFuc2llbGwgSUQtVGVrbmlrIEJJRCBBQjEaMBgGA1UECwwRSW5mcmFzdHJ1
Y3R1cmUgQ0ExKDAmBgNVBAMMH1Rlc3QgQmFua0lEIFNTTCBSb290IENBIHYxIFRl
c3QwggIiMA0GCSqGSIb3DQEBAQUAA4ICDwAwggIKAoICAQCAKWsJc/kV/0434d+S
qn19mIr85RZ/PgRFaUplSrnhuzAmaXihPLCEsd3Mh/YErygcxhQ/MAzi5OZ/anfu
WSCwceRlQINtvlRPdMoeZtu29FsntK1Z5r2SYNdFwbRFb8WN9FsU0KvC5zVnuDMg
s5dUZwTmdzX5ZdLP7pdgB3zhTnra5ORtkiWiUxJVev9keRgAo00ZHIRJ+xTfiSPd
Jc314maigVRQZdGKSyQcQMTWi1YLwd2zwOacNxleYf8xqKgkZsmkrc4Dp2mR5Pkr
nnKB6A7sAOSNatua7M86EgcGi9AaEyaRMkYJImbBfzaNlaBPyMSvwmBZzp2xKc9O
D3U06ogV6CJjJL7hSuVc5x/2H04d+2I+DKwep6YBoVL9L81gRYRycqg+w+cTZ1TF
/s6NC5YRKSeOCrLw3ombhjyyuPl8T/h9cpXt6m3y2xIVLYVzeDhaql3hdi6IpRh6
rwkMhJ/XmOpbDinXb1fWdFOyQwqsXQWOEwKBYIkM6cPnuid7qwaxfP22hDgAolGM
LY7TPKUPRwV+a5Y3VPl7h0YSK7lDyckTJdtBqI6d4PWQLnHakUgRQy69nZhGRtUt
PMSJ7I4Qtt3B6AwDq+SJTggwtJQHeid0jPki6pouenhPQ6dZT532x16XD+WIcD2f
//XzzOueS29KB7lt/wH5K6EuxwIDAQABo3YwdDAdBgNVHQ4EFgQUDY6XJ/FIRFX3
dB4Wep3RVM84RXowDwYDVR0TAQH/BAUwAwEB/zAfBgNVHSMEGDAWgBQNjpcn8UhE
Vfd0HhZ6ndFUzzhFejARBgNVHSAECjAIMAYGBCoDBAUwDgYDVR0PAQH/BAQDAgEG
MA0GCSqGSIb3DQEBDQUAA4ICAQA5s59/Olio4svHXiKu7sPQRvrf4GfGB7hUjBGk
YW2YOHTYnHavSqlBASHc8gGGwuc7v7+H+vmOfSLZfGDqxnBqeJx1H5E0YqEXtNqW
G1JusIFa9xWypcONjg9v7IMnxxQzLYws4YwgPychpMzWY6B5hZsjUyKgB+1igxnf
uaBueLPw3ZaJhcCL8gz6SdCKmQpX4VaAadS0vdMrBOmd826H+aDGZek1vMjuH11F
fJoXY2jyDnlol7Z4BfHc011toWNMxojI7w+U4KKCbSxpWFVYITZ8WlYHcj+b2A1+
dFQZFzQN+Y1Wx3VIUqSks6P7F5aF/l4RBngy08zkP7iLA/C7rm61xWxTmpj3p6SG
fUBsrsBvBgfJQHD/Mx8U3iQCa0Vj1XPogE/PXQQq2vyWiAP662hD6og1/om3l1PJ
TBUyYXxqJO75ux8IWblUwAjsmTlF/Pcj8QbcMPXLMTgNQAgarV6guchjivYqb6Zr
hq+Nh3JrF0HYQuMgExQ6VX8T56saOEtmlp6LSQi4HvKatCNfWUJGoYeT5SrcJ6sn
By7XLMhQUCOXcBwKbNvX6aP79VA3yeJHZO7XParX7V9BB+jtf4tz/usmAT/+qXtH
CCv9Xf4lv8jgdOnFfXbXuT8I4gz8uq8ElBlpbJntO6p/NY5a08E6C7FWVR+WJ5vZ
OP2HsA==
-----END CERTIFICATE-----
";

/// `CN=BankID SSL Root CA v1`, the only CA to trust for production
/// (SHA-256 fingerprint `E6:A2:D4:5C:…:BD:AC:BE:CB`, valid 2011-12-07 → 2034-12-31).
pub const PRODUCTION_ROOT_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIFvjCCA6agAwIBAgIITyTh/u1bExowDQYJKoZIhvcNAQENBQAwYjEkMCIGA1UE
CgwbRmluYW5zaWVsbCBJRC1UZWtuaWsgQklEIEFCMRowGAYDVQQLDBFJbmZyYXN0
cnVjdHVyZSBDQTEeMBwGA1UEAwwVQmFua0lEIFNTTCBSb290IENBIHYxMB4XDTEx
MTIwNzEyMzQwN1oXDTM0MTIzMTEyMzQwN1owYjEkMCIGA1UECgwbRmluYW5zaWVs
bCBJRC1UZWtuaWsgQklEIEFCMRowGAYDVQQLDBFJbmZyYXN0cnVjdHVyZSBDQTEe
MBwGA1UEAwwVQmFua0lEIFNTTCBSb290IENBIHYxMIICIjANBgkqhkiG9w0BAQEF
AAOCAg8AMIICCgKCAgEAwVA4snZiSFI3r64LvYu4mOsI42A9aLKEQGq4IZo257iq
vPH82SMvgBJgE52kCx7gQMmZ7iSm39CEA19hlILh8JEJNTyJNxMxVDN6cfJP1jMH
JeTES1TmVbWUqGyLpyT8LCJhC9Vq4W3t/O1svGJNOUQIQL4eAHSvWTVoalxzomJh
On97ENjXAt4BLb6sHfVBvmB5ReK0UfwpNACFM1RN8btEaDdWC4PfA72yzV3wK/cY
5h2k1RM1s19PjoxnpJqrmn4qZmP4tN/nk2d7c4FErJAP0pnNsll1+JfkdMfiPD35
+qcclpspzP2LpauQVyPbO21Nh+EPtr7+Iic2tkgz0g1kK0IL/foFrJ0Ievyr3Drm
2uRnA0esZ45GOmZhE22mycEX9l7w9jrdsKtqs7N/T46hil4xBiGblXkqKNG6TvAR
k6XqOp3RtUvGGaKZnGllsgTvP38/nrSMlszNojrlbDnm16GGoRTQnwr8l+Yvbz/e
v/e6wVFDjb52ZB0Z/KTfjXOl5cAJ7OCbODMWf8Na56OTlIkrk5NyU/uGzJFUQSvG
dLHUipJ/sTZCbqNSZUwboI0oQNO/Ygez2J6zgWXGpDWiN4LGLDmBhB3T8CMQu9J/
BcFvgjnUyhyim35kDpjVPC8nrSir5OkaYgGdYWdDuv1456lFNPNNQcdZdt5fcmMC
AwEAAaN4MHYwHQYDVR0OBBYEFPgqsux5RtcrIhAVeuLBSgBuRDFVMA8GA1UdEwEB
/wQFMAMBAf8wHwYDVR0jBBgwFoAU+Cqy7HlG1ysiEBV64sFKAG5EMVUwEwYDVR0g
BAwwCjAIBgYqhXBOAQQwDgYDVR0PAQH/BAQDAgEGMA0GCSqGSIb3DQEBDQUAA4IC
AQAJOjUOS2GJPNrrrqf539aN1/EbUj5ZVRjG4wzVtX5yVqPGcRZjUQlNTcfOpwPo
czKBnNX2OMF+Qm94bb+xXc/08AERqJJ3FPKu8oDNeK+Rv1X4nh95J4RHZcvl4AGh
ECmGMyhyCea0qZBFBsBqQR7oC9afYOxsSovaPqX31QMLULWUYoBKWWHLVVIoHjAm
GtAzMkLwe0/lrVyApr9iyXWhVr+qYGmFGw1+rwmvDmmSLWNWawYgH4NYxTf8z5hB
iDOdAgilvyiAF8Yl0kCKUB2fAPhRNYlEcN+UP/KL24h/pB+hZ9mvR0tM6nW3HVZa
DrvRz4VihZ8vRi3fYnOAkNE6kZdrrdO7LdBc9yYkfQdTcy0N+Aw7q4TkQ8npomrV
mTKaPhtGhA7VICyRNBVcvyoxr+CY7aRQyHn/C7n/jRsQYxs7uc+msq6jRS4HPK8o
lnF9usWZX6KY+8mweJiTE4uN4ZUUBUtt8WcXXDiK/bxEG2amjPcZ/b4LXwGCJb+a
NWP4+iY6kBKrMANs01pLvtVjUS9RtRrY3cNEOhmKhO0qJSDXhsTcVtpbDr37UTSq
QVw83dReiARPwGdURmmkaheH6z4k6qEUSXuFch0w53UAc+1aBXR1bgyFqMdy7Yxi
b2AYu7wnrHioDWqP6DTkUSUeMB/zqWPM/qx6QNNOcaOcjA==
-----END CERTIFICATE-----
";

/// Maximum length of `userVisibleData` (after base64) for `/auth`.
pub const AUTH_VISIBLE_MAX_LENGTH: usize = 1_500;
/// Maximum length of `userVisibleData` (after base64) for `/sign`.
pub const SIGN_VISIBLE_MAX_LENGTH: usize = 40_000;
/// Maximum length of `userNonVisibleData` (after base64) for `/auth`.
pub const AUTH_NON_VISIBLE_MAX_LENGTH: usize = 1_500;
/// Maximum length of `userNonVisibleData` (after base64) for `/sign`.
pub const SIGN_NON_VISIBLE_MAX_LENGTH: usize = 200_000;
/// Maximum length of `returnUrl`.
pub const RETURN_URL_MAX_LENGTH: usize = 512;
/// Maximum length of `web.userAgent` (longer values are truncated by [`WebData::new`]).
pub const USER_AGENT_MAX_LENGTH: usize = 256;
/// Maximum length of `web.deviceIdentifier` / `app.deviceIdentifier` (BankID's sample code truncates here).
pub const DEVICE_IDENTIFIER_MAX_LENGTH: usize = 64;

/// The `userVisibleDataFormat` values this client sends.
pub const VISIBLE_DATA_FORMATS: &[&str] = &["simpleMarkdownV1", "plaintext"];

/// Base64 (standard alphabet, padded) of UTF-8 text, as `userVisibleData` wants it.
pub fn encode_text(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// Whether a string is a 12-digit personnummer in BankID's format (`YYYYMMDDNNNC`; format only).
pub fn is_personal_number_format(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// A 12-digit personnummer as shown to people and in logs of the simulated app: the birth year
/// only (`19811228NNNC` → `1981****-****`), so the masked form does not give away the full date
/// of birth either.
pub fn masked_personal_number(twelve: &str) -> String {
    let year: String = twelve.chars().take(4).collect();
    format!("{year}****-****")
}

fn truncate_chars(value: &str, max: usize) -> String {
    value.chars().take(max).collect()
}

/// Redacts a personnummer in `Debug` output.
struct Redacted<'a, T>(&'a Option<T>);

impl<T> fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some(<redacted>)"),
            None => f.write_str("None"),
        }
    }
}

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

    fn validate(&self) -> Result<(), String> {
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

    fn validate(&self) -> Result<(), String> {
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

/// The RP API endpoints, relative to the base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Endpoint {
    Auth,
    Sign,
    Collect,
    Cancel,
    PhoneAuth,
    PhoneSign,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Auth,
        Endpoint::Sign,
        Endpoint::Collect,
        Endpoint::Cancel,
        Endpoint::PhoneAuth,
        Endpoint::PhoneSign,
    ];

    /// The path below the base URL (`…/rp/v6.0/`).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Auth => "auth",
            Endpoint::Sign => "sign",
            Endpoint::Collect => "collect",
            Endpoint::Cancel => "cancel",
            Endpoint::PhoneAuth => "phone/auth",
            Endpoint::PhoneSign => "phone/sign",
        }
    }

    pub fn from_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::{Digest, Sha256};

    fn fingerprint(pem: &str) -> String {
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM certificate");
        hex::encode_upper(Sha256::digest(der.as_ref()))
    }

    #[test]
    fn root_certificates_have_the_published_fingerprints() {
        assert_eq!(
            fingerprint(TEST_ROOT_CA_PEM),
            "F3D0740EBFB3700E3B81AA791FEE451472698C84E199C2EB48A443FF1D5B405C"
        );
        assert_eq!(
            fingerprint(PRODUCTION_ROOT_CA_PEM),
            "E6A2D45C0A1051C959428649F86A09A9B2152CD551993CC2EB4CF094BDACBECB"
        );
    }

    #[test]
    fn requests_are_camel_case_and_omit_absent_fields() {
        let request = OrderRequest::new("192.0.2.7".parse().unwrap())
            .visible_markdown("Logga in hos *Leasify*")
            .requirement(Requirement {
                personal_number: Some("199908072391".into()),
                pin_code: Some(true),
                risk: Some(Risk::Low),
                card_reader: Some(CardReader::Class2),
                ..Requirement::default()
            })
            .return_risk(true)
            .web(WebData::new(Some("leasify.se"), Some("Mozilla/5.0"), None));
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "endUserIp": "192.0.2.7",
                "requirement": {"pinCode": true, "cardReader": "class2", "personalNumber": "199908072391", "risk": "low"},
                "userVisibleData": encode_text("Logga in hos *Leasify*"),
                "userVisibleDataFormat": "simpleMarkdownV1",
                "returnRisk": true,
                "web": {"referringDomain": "leasify.se", "userAgent": "Mozilla/5.0"}
            })
        );
        assert_eq!(
            serde_json::to_string(&OrderRequest::new("::1".parse().unwrap())).unwrap(),
            r#"{"endUserIp":"::1"}"#
        );
        let phone = PhoneOrderRequest::new("199908072391", CallInitiator::Rp);
        assert_eq!(
            serde_json::to_value(&phone).unwrap(),
            serde_json::json!({"personalNumber": "199908072391", "callInitiator": "RP"})
        );
    }

    #[test]
    fn limits_are_checked() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(OrderRequest::new(ip).validate(OrderKind::Auth).is_ok());
        assert!(
            OrderRequest::new(ip)
                .validate(OrderKind::Sign)
                .unwrap_err()
                .contains("userVisibleData")
        );
        let long = "a".repeat(1_200);
        assert!(
            OrderRequest::new(ip)
                .visible_text(&long)
                .validate(OrderKind::Auth)
                .is_err()
        );
        assert!(
            OrderRequest::new(ip)
                .visible_text(&long)
                .validate(OrderKind::Sign)
                .is_ok()
        );
        let mut bad = OrderRequest::new(ip);
        bad.user_visible_data = Some("not base64!".into());
        assert!(
            bad.validate(OrderKind::Auth)
                .unwrap_err()
                .contains("base64")
        );
        let mut format = OrderRequest::new(ip).visible_text("x");
        format.user_visible_data_format = Some("html".into());
        assert!(format.validate(OrderKind::Auth).is_err());
        let pnr = OrderRequest::new(ip).requirement(Requirement {
            personal_number: Some("9908072391".into()),
            ..Requirement::default()
        });
        assert!(
            pnr.validate(OrderKind::Auth)
                .unwrap_err()
                .contains("personalNumber")
        );
        assert!(
            OrderRequest::new(ip)
                .return_url("")
                .validate(OrderKind::Auth)
                .is_err()
        );
        assert!(
            OrderRequest::new(ip)
                .return_url("x".repeat(513))
                .validate(OrderKind::Auth)
                .is_err()
        );
        let web = WebData::new(
            Some("leasify.se"),
            Some(&"u".repeat(400)),
            Some(&"d".repeat(100)),
        );
        assert_eq!(
            web.user_agent.as_ref().unwrap().len(),
            USER_AGENT_MAX_LENGTH
        );
        assert_eq!(
            web.device_identifier.as_ref().unwrap().len(),
            DEVICE_IDENTIFIER_MAX_LENGTH
        );
        let mut too_long = OrderRequest::new(ip).web(web);
        too_long.web.as_mut().unwrap().user_agent = Some("u".repeat(257));
        assert!(too_long.validate(OrderKind::Auth).is_err());
    }

    #[test]
    fn unknown_response_fields_are_ignored() {
        let order: OrderResponse = serde_json::from_str(
            r#"{"orderRef":"131daac9-16c6-4618-beb0-365768f37288","autoStartToken":"7c40b5c9-fa74-49cf-b98c-bfe651f9a7c6",
                "qrStartToken":"67df3917-fa0d-44e5-b327-edcc928297f8","qrStartSecret":"d28db9a7-4cde-429e-a983-359be676944c",
                "somethingNew":{"nested":[1,2,3]},"anotherField":"x"}"#,
        )
        .unwrap();
        assert_eq!(order.qr_start_token, "67df3917-fa0d-44e5-b327-edcc928297f8");
        assert!(
            !format!("{order:?}").contains("d28db9a7"),
            "the QR secret is not in Debug output"
        );

        let collect: CollectResponse = serde_json::from_str(
            r#"{"orderRef":"131daac9-16c6-4618-beb0-365768f37288","status":"complete","unknownTopLevel":true,
                "completionData":{"user":{"personalNumber":"190000000000","name":"Karl Karlsson","givenName":"Karl",
                "surname":"Karlsson","middleName":"Extra"},"device":{"ipAddress":"192.168.0.1","uhi":"abc123","os":"x"},
                "bankIdIssueDate":"2020-02-01","setUp":{"mrtd":true},"signature":"PHNpZz4=","ocspResponse":"MAMKAQY=",
                "risk":"low","newThing":{"a":1}}}"#,
        )
        .unwrap();
        assert_eq!(collect.status, CollectStatus::Complete);
        let data = collect.completion_data.as_ref().unwrap();
        assert_eq!(data.user.personal_number, "190000000000");
        assert_eq!(data.user.name, "Karl Karlsson");
        assert_eq!(data.device.uhi.as_deref(), Some("abc123"));
        assert_eq!(
            data.step_up,
            Some(StepUp { mrtd: true }),
            "setUp is accepted for stepUp"
        );
        assert_eq!(data.risk, Some(Risk::Low));
        assert!(
            !format!("{collect:?}").contains("190000000000"),
            "the personnummer is not in Debug output"
        );

        let pending: CollectResponse = serde_json::from_str(
            r#"{"orderRef":"a","status":"pending","hintCode":"somethingBrandNew","extra":1}"#,
        )
        .unwrap();
        assert_eq!(
            pending.hint_code,
            Some(HintCode::Other("somethingBrandNew".into()))
        );
        let failed: CollectResponse =
            serde_json::from_str(r#"{"orderRef":"a","status":"failed","hintCode":"startFailed"}"#)
                .unwrap();
        assert_eq!(failed.hint_code, Some(HintCode::StartFailed));
        assert_eq!(
            serde_json::to_value(&failed).unwrap()["hintCode"],
            "startFailed"
        );

        let error: ErrorBody = serde_json::from_str(
            r#"{"errorCode":"alreadyInProgress","details":"Order already in progress","x":1}"#,
        )
        .unwrap();
        assert_eq!(error.error_code, "alreadyInProgress");
        let no_details: ErrorBody = serde_json::from_str(r#"{"errorCode":"maintenance"}"#).unwrap();
        assert_eq!(no_details.details, "");
    }
}

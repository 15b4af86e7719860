//! What the simulated BankID app at `/dev/bankid` does, as one set of actions shared by its HTML
//! forms and its JSON control API (`/dev/bankid/api/...`): read a QR code or open an autostart
//! token as one of the configured test people, then approve or cancel. Each action calls the
//! control functions of `control.rs`; the web layer only parses, calls and renders.

use serde::Deserialize;

use super::SimulatorState;
use super::control::{ControlError, OrderView};

/// The app reads a QR code: the payload `bankid.<qrStartToken>.<qrTime>.<qrAuthCode>` as the
/// relying party's page shows it this second.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Scan {
    #[serde(alias = "qrPayload", alias = "qrData")]
    pub qr_payload: String,
    #[serde(alias = "personalNumber")]
    pub personal_number: String,
    /// Also approve at once (the person enters the security code straight away).
    #[serde(default)]
    pub approve: bool,
}

/// The app is opened with an autostart token (same device). The launch URL
/// `bankid:///?autostarttoken=<token>&redirect=…` is accepted as well as the bare token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Autostart {
    #[serde(alias = "autoStartToken", alias = "autostartToken")]
    pub autostart_token: String,
    #[serde(alias = "personalNumber")]
    pub personal_number: String,
    #[serde(default)]
    pub approve: bool,
}

/// An action on one order the app holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderAction {
    #[serde(alias = "orderRef")]
    pub order_ref: String,
}

/// The dev page's shortcut: read the QR code the relying party shows for this order right now
/// (computed by the simulator), as if the phone were held up to the screen.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScanShown {
    #[serde(alias = "orderRef")]
    pub order_ref: String,
    #[serde(alias = "personalNumber")]
    pub personal_number: String,
    #[serde(default)]
    pub approve: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppAction {
    Scan(Scan),
    Autostart(Autostart),
    ScanShown(ScanShown),
    /// The person confirms with the security code: the order completes.
    Approve(OrderAction),
    /// The person presses "Avbryt" in the app: the order fails `userCancel`.
    Cancel(OrderAction),
}

/// An action whose name or fields are not understood.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadAction(pub String);

impl AppAction {
    /// Names of the actions, as in `/dev/bankid/api/<name>` and the form's `action` field.
    pub const NAMES: [&'static str; 5] = ["scan", "autostart", "scan_shown", "approve", "cancel"];

    /// The JSON body of `POST /dev/bankid/api/<name>`.
    pub fn from_json(name: &str, body: &[u8]) -> Result<AppAction, BadAction> {
        fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, BadAction> {
            serde_json::from_slice(body).map_err(|e| BadAction(format!("bad JSON body: {e}")))
        }
        Ok(match name {
            "scan" => AppAction::Scan(parse(body)?),
            "autostart" => AppAction::Autostart(parse(body)?),
            "scan_shown" => AppAction::ScanShown(parse(body)?),
            "approve" => AppAction::Approve(parse(body)?),
            "cancel" => AppAction::Cancel(parse(body)?),
            other => return Err(BadAction(format!("no action {other:?}"))),
        })
    }

    /// The dev page's form: `action` names the action, the other fields as in JSON; a checkbox
    /// `approve` counts when present.
    pub fn from_form(fields: &[(String, String)]) -> Result<AppAction, BadAction> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let approve = fields.iter().any(|(k, _)| k == "approve");
        Ok(match get("action").as_str() {
            "scan" => AppAction::Scan(Scan {
                qr_payload: get("qr_payload"),
                personal_number: get("personal_number"),
                approve,
            }),
            "autostart" => AppAction::Autostart(Autostart {
                autostart_token: get("autostart_token"),
                personal_number: get("personal_number"),
                approve,
            }),
            "scan_shown" => AppAction::ScanShown(ScanShown {
                order_ref: get("order"),
                personal_number: get("personal_number"),
                approve,
            }),
            "approve" => AppAction::Approve(OrderAction {
                order_ref: get("order"),
            }),
            "cancel" => AppAction::Cancel(OrderAction {
                order_ref: get("order"),
            }),
            other => return Err(BadAction(format!("no action {other:?}"))),
        })
    }
}

/// The token in an autostart launch URL (`bankid:///?autostarttoken=…&redirect=…`), or the
/// input itself when it is a bare token.
pub fn autostart_token_of(input: &str) -> &str {
    let input = input.trim();
    let Some((_, query)) = input.split_once('?') else {
        return input;
    };
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.eq_ignore_ascii_case("autostarttoken"))
        .map(|(_, token)| token)
        .unwrap_or(input)
}

/// A short, stable name for a failed action, for the JSON API and the dev page's notice.
pub fn error_code(error: &ControlError) -> &'static str {
    match error {
        ControlError::UnknownOrder => "unknownOrder",
        ControlError::UnknownToken => "unknownToken",
        ControlError::MalformedQr => "malformedQr",
        ControlError::BadQrCode => "badQrCode",
        ControlError::StaleQr { .. } => "staleQr",
        ControlError::UnknownIdentity => "unknownIdentity",
        ControlError::WrongPerson => "wrongPerson",
        ControlError::WrongState(_) => "wrongState",
        ControlError::NotPhoneOrder => "notPhoneOrder",
        ControlError::Invalid(_) => "invalid",
    }
}

impl SimulatorState {
    /// Does what the person would do in the app; returns the order as it is afterwards.
    pub fn perform(&self, action: &AppAction) -> Result<OrderView, ControlError> {
        let (picked, approve) = match action {
            AppAction::Scan(scan) => (
                self.scan(&scan.qr_payload, &scan.personal_number)?,
                scan.approve,
            ),
            AppAction::Autostart(start) => (
                self.open_autostart(
                    autostart_token_of(&start.autostart_token),
                    &start.personal_number,
                )?,
                start.approve,
            ),
            AppAction::ScanShown(shown) => {
                let payload = self.current_qr_payload(&shown.order_ref)?;
                (self.scan(&payload, &shown.personal_number)?, shown.approve)
            }
            AppAction::Approve(order) => return self.approve(&order.order_ref),
            AppAction::Cancel(order) => return self.user_cancel(&order.order_ref),
        };
        if approve {
            self.approve(&picked.order_ref)
        } else {
            Ok(picked)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autostart_token_from_a_launch_url_or_bare() {
        assert_eq!(
            autostart_token_of("bankid:///?autostarttoken=abc-123&redirect=null"),
            "abc-123"
        );
        assert_eq!(autostart_token_of("  abc-123 "), "abc-123");
        assert_eq!(
            autostart_token_of("bankid:///?redirect=null"),
            "bankid:///?redirect=null"
        );
    }

    #[test]
    fn actions_from_json_and_forms() {
        let scan = AppAction::from_json(
            "scan",
            br#"{"qr_payload":"bankid.a.0.b","personal_number":"199908072391"}"#,
        )
        .unwrap();
        assert_eq!(
            scan,
            AppAction::Scan(Scan {
                qr_payload: "bankid.a.0.b".into(),
                personal_number: "199908072391".into(),
                approve: false,
            })
        );
        let camel = AppAction::from_json("approve", br#"{"orderRef":"o-1"}"#).unwrap();
        assert_eq!(
            camel,
            AppAction::Approve(OrderAction {
                order_ref: "o-1".into()
            })
        );
        assert!(AppAction::from_json("approve", b"{}").is_err());
        assert!(AppAction::from_json("explode", b"{}").is_err());
        let form = [
            ("action".to_string(), "autostart".to_string()),
            ("autostart_token".to_string(), "t-1".to_string()),
            ("personal_number".to_string(), "199908072391".to_string()),
            ("approve".to_string(), "on".to_string()),
        ];
        assert_eq!(
            AppAction::from_form(&form).unwrap(),
            AppAction::Autostart(Autostart {
                autostart_token: "t-1".into(),
                personal_number: "199908072391".into(),
                approve: true,
            })
        );
        assert!(AppAction::from_form(&[]).is_err());
    }
}

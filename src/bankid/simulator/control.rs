//! The simulated BankID app and test controls: plain functions on [`SimulatorState`], which the
//! application exposes at `/dev/bankid` (and as a JSON control API) and tests call directly.
//! None of this is part of BankID's API.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::orders::{Order, OrderStatus, OrderType, StartMethod};
use super::{SimulatorState, TestIdentity};
use crate::bankid::api::{
    Endpoint, HintCode, error_codes, is_personal_number_format, masked_personal_number,
};
use crate::clock::UnixTime;

pub use super::orders::AppError as ControlError;

/// An order as the simulated app and the dev page see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_ref: String,
    pub order_type: OrderType,
    /// `pending`, `failed`, `complete` or `cancelled` (by the RP).
    pub status: &'static str,
    pub hint_code: Option<String>,
    pub created_at: UnixTime,
    pub age_secs: i64,
    pub started_by: Option<StartMethod>,
    /// The simulated person who took the order, masked (`1981****-****`): the control API needs
    /// no authentication, so it never shows a whole number.
    pub personal_number: Option<String>,
    /// `requirement.personalNumber`, masked the same way.
    pub required_personal_number: Option<String>,
    /// `userVisibleData` decoded (what the app shows).
    pub visible_text: Option<String>,
    pub visible_format: Option<String>,
    pub auto_start_token: Option<String>,
    pub qr_start_token: Option<String>,
    pub end_user_ip: Option<String>,
}

fn view(order: &Order, now: UnixTime) -> OrderView {
    let (status, hint_code) = match &order.status {
        OrderStatus::Pending(hint) => ("pending", Some(hint.to_string())),
        OrderStatus::Failed(hint) => ("failed", Some(hint.to_string())),
        OrderStatus::Complete(_) => ("complete", None),
        OrderStatus::Cancelled => ("cancelled", None),
    };
    OrderView {
        order_ref: order.order_ref.clone(),
        order_type: order.order_type,
        status,
        hint_code,
        created_at: order.created_at,
        age_secs: now - order.created_at,
        started_by: order.started_by,
        personal_number: order.user.as_deref().map(masked_personal_number),
        required_personal_number: order
            .required_personal_number
            .as_deref()
            .map(masked_personal_number),
        visible_text: order.user_visible_data.as_ref().and_then(|data| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .ok()?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }),
        visible_format: order.user_visible_data_format.clone(),
        auto_start_token: order.auto_start_token.clone(),
        qr_start_token: order.qr_start_token.clone(),
        end_user_ip: order.end_user_ip.map(|ip| ip.to_string()),
    }
}

/// `HMAC-SHA256(qrStartSecret, qrTime)` as lowercase hex (spec section 4). The simulator checks
/// QR codes with its own implementation so that it also catches mistakes in the RP's.
fn qr_auth_code(qr_start_secret: &str, qr_time: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(qr_start_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(qr_time.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The QR payload `bankid.<qrStartToken>.<qrTime>.<qrAuthCode>`.
pub fn qr_payload(qr_start_token: &str, qr_start_secret: &str, qr_time: u64) -> String {
    let time = qr_time.to_string();
    format!(
        "bankid.{qr_start_token}.{time}.{}",
        qr_auth_code(qr_start_secret, &time)
    )
}

struct ParsedQr<'a> {
    token: &'a str,
    time: &'a str,
    code: &'a str,
}

fn parse_qr(payload: &str) -> Result<ParsedQr<'_>, ControlError> {
    let parts: Vec<&str> = payload.trim().split('.').collect();
    let [prefix, token, time, code] = parts.as_slice() else {
        return Err(ControlError::MalformedQr);
    };
    let decimal = !time.is_empty() && time.len() <= 9 && time.bytes().all(|b| b.is_ascii_digit());
    let hex64 = code.len() == 64
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if *prefix != "bankid" || token.is_empty() || !decimal || !hex64 {
        return Err(ControlError::MalformedQr);
    }
    Ok(ParsedQr { token, time, code })
}

fn known_error_code(code: &str) -> Option<&'static str> {
    [
        error_codes::ALREADY_IN_PROGRESS,
        error_codes::INVALID_PARAMETERS,
        error_codes::UNAUTHORIZED,
        error_codes::NOT_FOUND,
        error_codes::METHOD_NOT_ALLOWED,
        error_codes::REQUEST_TIMEOUT,
        error_codes::UNSUPPORTED_MEDIA_TYPE,
        error_codes::TOO_MANY_REQUESTS,
        error_codes::INTERNAL_ERROR,
        error_codes::MAINTENANCE,
    ]
    .into_iter()
    .find(|known| *known == code)
}

impl SimulatorState {
    /// The simulated BankID holders.
    pub fn identities(&self) -> Vec<TestIdentity> {
        self.core().config.identities.clone()
    }

    /// Adds a simulated holder (or replaces the one with the same personnummer).
    pub fn add_identity(&self, identity: TestIdentity) -> Result<(), ControlError> {
        if !is_personal_number_format(&identity.personal_number) {
            return Err(ControlError::Invalid(
                "the personnummer must be 12 digits".into(),
            ));
        }
        let mut core = self.core();
        core.config
            .identities
            .retain(|i| i.personal_number != identity.personal_number);
        core.config.identities.push(identity);
        Ok(())
    }

    /// All known orders, newest first.
    pub fn orders(&self) -> Vec<OrderView> {
        let now = self.now();
        let core = self.core();
        let mut views: Vec<OrderView> = core.orders.values().map(|o| view(o, now)).collect();
        views.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.order_ref.cmp(&b.order_ref))
        });
        views
    }

    pub fn order(&self, order_ref: &str) -> Option<OrderView> {
        let now = self.now();
        self.core().orders.get(order_ref).map(|o| view(o, now))
    }

    /// The QR payload an RP would show for the order right now (for the dev page's "scan").
    pub fn current_qr_payload(&self, order_ref: &str) -> Result<String, ControlError> {
        let now = self.now();
        let core = self.core();
        let order = core
            .orders
            .get(order_ref)
            .ok_or(ControlError::UnknownOrder)?;
        let (Some(token), Some(secret)) = (&order.qr_start_token, &order.qr_start_secret) else {
            return Err(ControlError::WrongState(
                "a phone order has no QR code".into(),
            ));
        };
        Ok(qr_payload(
            token,
            secret,
            (now - order.created_at).max(0) as u64,
        ))
    }

    /// The app scans a QR code as `personal_number`: checks the HMAC and that `qrTime` matches the
    /// order's age (± the configured tolerance), then the order waits for the user (`userSign`,
    /// or `userMrtd` when an ID document check is required).
    pub fn scan(&self, qr_payload: &str, personal_number: &str) -> Result<OrderView, ControlError> {
        let qr = parse_qr(qr_payload)?;
        let now = self.now();
        let mut core = self.core();
        let tolerance = core.config.qr_time_tolerance_secs;
        let order = core
            .orders
            .values()
            .find(|o| o.qr_start_token.as_deref() == Some(qr.token))
            .ok_or(ControlError::UnknownToken)?;
        let secret = order.qr_start_secret.as_deref().unwrap_or_default();
        let expected = qr_auth_code(secret, qr.time);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            qr.code.as_bytes(),
        )) {
            return Err(ControlError::BadQrCode);
        }
        let qr_time: i64 = qr.time.parse().map_err(|_| ControlError::MalformedQr)?;
        let age = now - order.created_at;
        if (qr_time - age).abs() > tolerance {
            return Err(ControlError::StaleQr { qr_time, age });
        }
        let order_ref = order.order_ref.clone();
        core.pick_up(&order_ref, personal_number, StartMethod::Qr, now)?;
        Ok(view(&core.orders[&order_ref], now))
    }

    /// The app is opened with an autostart token as `personal_number` (same device).
    pub fn open_autostart(
        &self,
        auto_start_token: &str,
        personal_number: &str,
    ) -> Result<OrderView, ControlError> {
        let now = self.now();
        let mut core = self.core();
        let order_ref = core
            .orders
            .values()
            .find(|o| o.auto_start_token.as_deref() == Some(auto_start_token))
            .map(|o| o.order_ref.clone())
            .ok_or(ControlError::UnknownToken)?;
        core.pick_up(&order_ref, personal_number, StartMethod::Autostart, now)?;
        Ok(view(&core.orders[&order_ref], now))
    }

    /// The called person opens a phone order in the app (`userCallConfirm`).
    pub fn open_phone(
        &self,
        order_ref: &str,
        personal_number: &str,
    ) -> Result<OrderView, ControlError> {
        let now = self.now();
        let mut core = self.core();
        core.pick_up(order_ref, personal_number, StartMethod::Phone, now)?;
        Ok(view(&core.orders[order_ref], now))
    }

    /// The user confirms the call (phone orders: `userCallConfirm` → `userSign`).
    pub fn confirm_call(&self, order_ref: &str) -> Result<OrderView, ControlError> {
        let now = self.now();
        let mut core = self.core();
        core.confirm_call(order_ref)?;
        Ok(view(&core.orders[order_ref], now))
    }

    /// The user identifies/signs: the order completes (or fails `transactionRiskBlocked` when the
    /// person's risk is above `requirement.risk`).
    pub fn approve(&self, order_ref: &str) -> Result<OrderView, ControlError> {
        let now = self.now();
        let mut core = self.core();
        core.approve(order_ref, now)?;
        Ok(view(&core.orders[order_ref], now))
    }

    /// The user cancels in the app (`userCancel`).
    pub fn user_cancel(&self, order_ref: &str) -> Result<OrderView, ControlError> {
        self.fail(order_ref, HintCode::UserCancel)
    }

    /// Fails the order with a final hint: `certificateErr`, `transactionRiskBlocked`,
    /// `notSupportedByUserApp`, `userDeclinedCall`, `startFailed`, `expiredTransaction`…
    pub fn fail(
        &self,
        order_ref: &str,
        hint: impl Into<HintCode>,
    ) -> Result<OrderView, ControlError> {
        let hint = hint.into();
        let pending_hint = matches!(
            hint,
            HintCode::OutstandingTransaction
                | HintCode::NoClient
                | HintCode::Started
                | HintCode::UserMrtd
                | HintCode::UserCallConfirm
                | HintCode::UserSign
                | HintCode::Processing
        );
        if pending_hint || hint.as_str().is_empty() {
            return Err(ControlError::Invalid(format!(
                "{hint:?} is not a failure hint"
            )));
        }
        let now = self.now();
        let mut core = self.core();
        core.fail(order_ref, hint, now)?;
        Ok(view(&core.orders[order_ref], now))
    }

    /// Makes the next `count` calls of `endpoint` (of any endpoint when `None`) fail with
    /// `error_code` (`internalError` → 500, `maintenance` → 503, any RP API code with its status).
    /// At most 1 000 are queued per endpoint.
    pub fn inject_error(
        &self,
        endpoint: Option<Endpoint>,
        error_code: &str,
        count: usize,
    ) -> Result<(), ControlError> {
        let code = known_error_code(error_code)
            .ok_or_else(|| ControlError::Invalid(format!("unknown error code {error_code:?}")))?;
        self.core().faults.inject(endpoint, code, count);
        Ok(())
    }

    /// How many injected errors have not been used yet.
    pub fn injected_errors_left(&self) -> usize {
        self.core().faults.pending()
    }

    /// Drops all injected errors not yet used.
    pub fn clear_errors(&self) {
        self.core().faults.clear();
    }

    /// Headless mode: when set, this person takes every pending order on its 2nd collect
    /// (autostart, or the phone call) and approves it on the 3rd. `None` turns it off.
    pub fn set_auto_complete(&self, personal_number: Option<&str>) -> Result<(), ControlError> {
        let mut core = self.core();
        if personal_number.is_some_and(|pnr| core.identity(pnr).is_none()) {
            return Err(ControlError::UnknownIdentity);
        }
        core.auto_complete = personal_number.map(str::to_string);
        Ok(())
    }

    pub fn auto_complete(&self) -> Option<String> {
        self.core().auto_complete.clone()
    }

    /// Forgets all orders and injected errors, and turns auto-complete off.
    pub fn reset(&self) {
        let mut core = self.core();
        core.orders.clear();
        core.faults.clear();
        core.auto_complete = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::bankid::api::{OrderRequest, Requirement, Risk};
    use crate::bankid::simulator::{SimulatorCerts, SimulatorConfig, WrongPersonOutcome};
    use crate::clock::ManualClock;

    const OSKAR: &str = "199908072391";
    const LARS: &str = "196802020575";

    fn luhn_ok(pnr: &str) -> bool {
        let digits: Vec<u32> = pnr[2..].bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = digits[..9]
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let p = d * if i % 2 == 0 { 2 } else { 1 };
                p / 10 + p % 10
            })
            .sum();
        (10 - sum % 10) % 10 == digits[9]
    }

    fn simulator() -> (SimulatorState, ManualClock) {
        let clock = ManualClock::default();
        let certs = SimulatorCerts::generate().unwrap();
        let state = SimulatorState::new(certs, Arc::new(clock.clone()), SimulatorConfig::default())
            .unwrap();
        (state, clock)
    }

    fn auth(
        state: &SimulatorState,
        requirement: Option<Requirement>,
    ) -> crate::bankid::api::OrderResponse {
        let mut request = OrderRequest::new("192.0.2.7".parse().unwrap()).return_risk(true);
        request.requirement = requirement;
        let now = state.now();
        state
            .core()
            .create_order(OrderType::Auth, &request, now)
            .unwrap()
    }

    fn collect(state: &SimulatorState, order_ref: &str) -> crate::bankid::api::CollectResponse {
        let now = state.now();
        state.core().collect(order_ref, now).unwrap()
    }

    #[test]
    fn default_identities_are_valid_test_numbers() {
        for identity in super::super::default_identities() {
            assert!(
                luhn_ok(&identity.personal_number),
                "{}",
                identity.personal_number
            );
        }
    }

    #[test]
    fn qr_payload_matches_the_official_vector() {
        let token = "67df3917-fa0d-44e5-b327-edcc928297f8";
        let secret = "d28db9a7-4cde-429e-a983-359be676944c";
        assert_eq!(
            qr_payload(token, secret, 0),
            "bankid.67df3917-fa0d-44e5-b327-edcc928297f8.0.dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8"
        );
        assert_eq!(
            qr_payload(token, secret, 1),
            "bankid.67df3917-fa0d-44e5-b327-edcc928297f8.1.949d559bf23403952a94d103e67743126381eda00f0b3cbddbf7c96b1adcbce2"
        );
        assert!(
            qr_payload(token, secret, 2)
                .ends_with(".2.a9e5ec59cb4eee4ef4117150abc58fad7a85439a6a96ccbecc3668b41795b3f3")
        );
    }

    #[test]
    fn scan_checks_hmac_and_age() {
        let (state, clock) = simulator();
        let order = auth(&state, None);
        clock.advance(5);
        let stale = qr_payload(&order.qr_start_token, &order.qr_start_secret, 0);
        assert!(matches!(
            state.scan(&stale, OSKAR),
            Err(ControlError::StaleQr { .. })
        ));
        let forged = qr_payload(&order.qr_start_token, "another-secret", 5);
        assert_eq!(state.scan(&forged, OSKAR), Err(ControlError::BadQrCode));
        assert_eq!(
            state.scan("bankid.x.1", OSKAR),
            Err(ControlError::MalformedQr)
        );
        let good = qr_payload(&order.qr_start_token, &order.qr_start_secret, 5);
        assert_eq!(
            state.scan(&good, "200001010000"),
            Err(ControlError::UnknownIdentity)
        );
        let view = state.scan(&good, OSKAR).unwrap();
        assert_eq!(view.hint_code.as_deref(), Some("userSign"));
        assert!(
            matches!(state.scan(&good, OSKAR), Err(ControlError::WrongState(_))),
            "a taken order cannot be scanned again"
        );
        state.approve(&order.order_ref).unwrap();
        let done = collect(&state, &order.order_ref);
        let data = done.completion_data.unwrap();
        assert_eq!(data.user.personal_number, OSKAR);
        assert_eq!(
            data.device.ip_address, "192.0.2.55",
            "QR orders report the phone's address"
        );
        assert_eq!(data.risk, Some(Risk::Low));
        assert_eq!(
            data.device.uhi,
            Some(crate::bankid::simulator::orders::uhi(OSKAR))
        );
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(&data.signature)
                .unwrap(),
        )
        .unwrap();
        assert!(xml.contains(r#"<bankIdSignedData xmlns="http://www.bankid.com/signature/v1.0.0/types" Id="bidSignedData">"#));
        assert!(xml.contains("<funcId>Identification</funcId>"));
    }

    #[test]
    fn timers_and_retention() {
        let (state, clock) = simulator();
        let order = auth(&state, None);
        clock.advance(29);
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::OutstandingTransaction)
        );
        clock.advance(1);
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::StartFailed)
        );
        clock.advance(299);
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::StartFailed)
        );
        clock.advance(1);
        let now = state.now();
        assert_eq!(
            state
                .core()
                .collect(&order.order_ref, now)
                .unwrap_err()
                .error_code,
            "invalidParameters"
        );

        let order = auth(&state, None);
        state.open_autostart(&order.auto_start_token, LARS).unwrap();
        clock.advance(179);
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::UserSign)
        );
        clock.advance(1);
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::ExpiredTransaction)
        );

        let order = auth(&state, None);
        state.open_autostart(&order.auto_start_token, LARS).unwrap();
        state.approve(&order.order_ref).unwrap();
        let data = collect(&state, &order.order_ref).completion_data.unwrap();
        assert_eq!(
            data.device.ip_address, "192.0.2.7",
            "autostart orders report endUserIp"
        );
        clock.advance(180);
        let now = state.now();
        assert!(
            state.core().collect(&order.order_ref, now).is_err(),
            "complete orders are collectable for 3 minutes"
        );
    }

    #[test]
    fn one_order_per_person() {
        let (state, _clock) = simulator();
        let first = auth(&state, None);
        state
            .open_autostart(&first.auto_start_token, OSKAR)
            .unwrap();
        let second = auth(&state, None);
        state
            .open_autostart(&second.auto_start_token, OSKAR)
            .unwrap();
        assert_eq!(
            collect(&state, &first.order_ref).hint_code,
            Some(HintCode::Cancelled)
        );
        assert_eq!(
            collect(&state, &second.order_ref).hint_code,
            Some(HintCode::UserSign)
        );

        let restricted = Requirement {
            personal_number: Some(OSKAR.into()),
            ..Requirement::default()
        };
        let mut request = OrderRequest::new("192.0.2.7".parse().unwrap());
        request.requirement = Some(restricted);
        let now = state.now();
        let error = state
            .core()
            .create_order(OrderType::Auth, &request, now)
            .unwrap_err();
        assert_eq!((error.status, error.error_code), (400, "alreadyInProgress"));
        assert_eq!(
            collect(&state, &second.order_ref).hint_code,
            Some(HintCode::Cancelled),
            "the old order is cancelled too"
        );
        assert!(
            state
                .core()
                .create_order(OrderType::Auth, &request, now)
                .is_ok(),
            "then a new order can start"
        );
    }

    #[test]
    fn wrong_person_outcomes_and_risk() {
        let (state, clock) = simulator();
        let restricted = Some(Requirement {
            personal_number: Some(OSKAR.into()),
            ..Requirement::default()
        });
        let order = auth(&state, restricted.clone());
        assert_eq!(
            state.open_autostart(&order.auto_start_token, LARS),
            Err(ControlError::WrongPerson)
        );
        assert!(state.approve(&order.order_ref).is_err());
        clock.advance(30);
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::ExpiredTransaction)
        );

        let mut config = state.config();
        config.wrong_person = WrongPersonOutcome::FailWith(HintCode::CertificateErr);
        state.set_config(config);
        let order = auth(&state, restricted);
        assert_eq!(
            state.open_autostart(&order.auto_start_token, LARS),
            Err(ControlError::WrongPerson)
        );
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::CertificateErr)
        );

        let low_only = Some(Requirement {
            risk: Some(Risk::Low),
            mrtd: Some(true),
            ..Requirement::default()
        });
        let order = auth(&state, low_only.clone());
        state
            .open_autostart(&order.auto_start_token, "189001019802")
            .unwrap();
        state.approve(&order.order_ref).unwrap();
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::TransactionRiskBlocked)
        );
        let order = auth(&state, low_only);
        assert_eq!(
            state
                .open_autostart(&order.auto_start_token, LARS)
                .unwrap()
                .hint_code
                .as_deref(),
            Some("userMrtd")
        );
        state.approve(&order.order_ref).unwrap();
        let data = collect(&state, &order.order_ref).completion_data.unwrap();
        assert_eq!(
            data.step_up,
            Some(crate::bankid::api::StepUp { mrtd: true })
        );
    }

    #[test]
    fn auto_complete_and_controls() {
        let (state, _clock) = simulator();
        assert_eq!(
            state.set_auto_complete(Some("200001010000")),
            Err(ControlError::UnknownIdentity)
        );
        state.set_auto_complete(Some(LARS)).unwrap();
        let order = auth(&state, None);
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::OutstandingTransaction)
        );
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::UserSign)
        );
        let done = collect(&state, &order.order_ref);
        assert_eq!(done.completion_data.unwrap().user.name, "Lars Svensson");
        state.set_auto_complete(None).unwrap();

        let order = auth(&state, None);
        assert!(state.fail(&order.order_ref, "userSign").is_err());
        state
            .fail(&order.order_ref, "notSupportedByUserApp")
            .unwrap();
        assert_eq!(
            collect(&state, &order.order_ref).hint_code,
            Some(HintCode::NotSupportedByUserApp)
        );
        let order = auth(&state, None);
        state.user_cancel(&order.order_ref).unwrap();
        assert_eq!(
            state.order(&order.order_ref).unwrap().hint_code.as_deref(),
            Some("userCancel")
        );
        assert!(
            state
                .inject_error(Some(Endpoint::Auth), "noSuchCode", 1)
                .is_err()
        );
        state.inject_error(None, "maintenance", 2).unwrap();
        assert_eq!(state.core().faults.pending(), 2);
        state.reset();
        assert!(state.orders().is_empty());
        assert_eq!(state.core().faults.pending(), 0);

        let payload = {
            let order = auth(&state, None);
            state.current_qr_payload(&order.order_ref).unwrap()
        };
        assert!(payload.starts_with("bankid."));
        assert_eq!(state.orders().len(), 1);
    }
}

//! The simulator's orders and their state machine.
//!
//! ```text
//! pending outstandingTransaction ──scan QR / autostart──▶ pending userSign (userMrtd with mrtd)
//!        │                         phone order opened ──▶ pending userCallConfirm ──confirm──▶ userSign
//!        │ pick-up window (30 s)                              │ sign window (180 s) → failed expiredTransaction
//!        ▼                                                    ├─approve──▶ complete (collectable 3 min)
//!  failed startFailed                                         └─cancel / fail──▶ failed <hint> (collectable 5 min)
//! ```
//!
//! Timers are evaluated lazily against the injected clock whenever the orders are looked at.
//! One order per person: a new order restricted to someone with an order in progress is refused
//! with `alreadyInProgress` (and the old one fails `cancelled`); a person taking a second order
//! fails their older one with `cancelled`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{SimulatorConfig, TestIdentity, WrongPersonOutcome, signature};
use crate::bankid::api::{
    CollectResponse, CollectStatus, CompletionData, Device, Endpoint, HintCode, OrderRequest,
    OrderResponse, PhoneOrderRequest, Requirement, StepUp, User, error_codes,
};
use crate::clock::UnixTime;

/// Which RP API call created the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderType {
    Auth,
    Sign,
    PhoneAuth,
    PhoneSign,
}

impl OrderType {
    pub fn is_phone(self) -> bool {
        matches!(self, OrderType::PhoneAuth | OrderType::PhoneSign)
    }

    pub fn is_sign(self) -> bool {
        matches!(self, OrderType::Sign | OrderType::PhoneSign)
    }
}

/// How the simulated app took the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StartMethod {
    Qr,
    Autostart,
    Phone,
}

#[derive(Debug, Clone)]
pub enum OrderStatus {
    Pending(HintCode),
    Complete(Box<CompletionData>),
    Failed(HintCode),
    /// Cancelled by the RP through `/cancel`: unknown to the RP API from then on.
    Cancelled,
}

/// One order.
#[derive(Debug, Clone)]
pub struct Order {
    pub order_ref: String,
    pub order_type: OrderType,
    pub auto_start_token: Option<String>,
    pub qr_start_token: Option<String>,
    pub qr_start_secret: Option<String>,
    pub created_at: UnixTime,
    pub end_user_ip: Option<IpAddr>,
    pub requirement: Requirement,
    pub user_visible_data: Option<String>,
    pub user_non_visible_data: Option<String>,
    pub user_visible_data_format: Option<String>,
    pub return_risk: bool,
    /// From `requirement.personalNumber`, or the phone order's `personalNumber`.
    pub required_personal_number: Option<String>,
    pub status: OrderStatus,
    pub started_by: Option<StartMethod>,
    /// The simulated person who took the order.
    pub user: Option<String>,
    pub device_ip: Option<IpAddr>,
    pub picked_up_at: Option<UnixTime>,
    pub finished_at: Option<UnixTime>,
    pub wrong_person_tried: bool,
    pub collects: u32,
}

impl Order {
    pub fn is_pending(&self) -> bool {
        matches!(self.status, OrderStatus::Pending(_))
    }

    pub fn hint(&self) -> Option<&HintCode> {
        match &self.status {
            OrderStatus::Pending(hint) | OrderStatus::Failed(hint) => Some(hint),
            _ => None,
        }
    }

    /// Whether the order is in progress for `personal_number` (taken by them, or restricted to them).
    fn in_progress_for(&self, personal_number: &str) -> bool {
        self.is_pending()
            && (self.user.as_deref() == Some(personal_number)
                || self.required_personal_number.as_deref() == Some(personal_number))
    }

    fn finish(&mut self, status: OrderStatus, at: UnixTime) {
        self.status = status;
        self.finished_at = Some(at);
    }
}

/// An RP API error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub error_code: &'static str,
    pub details: String,
}

impl ApiError {
    pub fn new(error_code: &'static str, details: impl Into<String>) -> Self {
        ApiError {
            status: error_codes::http_status(error_code),
            error_code,
            details: details.into(),
        }
    }

    pub fn invalid(details: impl Into<String>) -> Self {
        Self::new(error_codes::INVALID_PARAMETERS, details)
    }
}

/// Why the simulated app could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("no such order")]
    UnknownOrder,
    #[error("no order has this QR code or autostart token")]
    UnknownToken,
    #[error("the QR code is malformed")]
    MalformedQr,
    #[error("the QR code's authentication code is wrong")]
    BadQrCode,
    #[error("the QR code is too old (or from the future): qrTime {qr_time}, order age {age} s")]
    StaleQr { qr_time: i64, age: i64 },
    #[error("no simulated BankID holder has this personnummer")]
    UnknownIdentity,
    #[error("the order is restricted to another person")]
    WrongPerson,
    #[error("the order is not waiting for this step (it is {0})")]
    WrongState(String),
    #[error("the order is not a phone order")]
    NotPhoneOrder,
    #[error("{0}")]
    Invalid(String),
}

/// Injected failures of the RP API.
#[derive(Debug, Default)]
pub struct Faults {
    queue: HashMap<Option<Endpoint>, VecDeque<&'static str>>,
}

impl Faults {
    /// At most this many faults are queued per endpoint.
    pub const MAX_QUEUED: usize = 1_000;

    /// Makes the next `count` calls of `endpoint` (any endpoint when `None`) fail with `code`.
    pub fn inject(&mut self, endpoint: Option<Endpoint>, code: &'static str, count: usize) {
        let queue = self.queue.entry(endpoint).or_default();
        let room = Self::MAX_QUEUED.saturating_sub(queue.len());
        queue.extend(std::iter::repeat_n(code, count.min(room)));
    }

    /// The fault for this call of `endpoint`, if one is queued.
    pub fn take(&mut self, endpoint: Endpoint) -> Option<&'static str> {
        if let Some(code) = self
            .queue
            .get_mut(&Some(endpoint))
            .and_then(VecDeque::pop_front)
        {
            return Some(code);
        }
        self.queue.get_mut(&None).and_then(VecDeque::pop_front)
    }

    pub fn clear(&mut self) {
        self.queue.clear();
    }

    pub fn pending(&self) -> usize {
        self.queue.values().map(VecDeque::len).sum()
    }
}

/// Everything mutable in the simulator, behind one lock.
#[derive(Debug)]
pub struct Core {
    pub config: SimulatorConfig,
    pub orders: HashMap<String, Order>,
    pub faults: Faults,
    /// Headless mode: this person takes every new order on the 2nd collect and approves it on
    /// the 3rd.
    pub auto_complete: Option<String>,
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Core {
    pub fn new(config: SimulatorConfig) -> Self {
        Core {
            config,
            orders: HashMap::new(),
            faults: Faults::default(),
            auto_complete: None,
        }
    }

    pub fn identity(&self, personal_number: &str) -> Option<&TestIdentity> {
        self.config
            .identities
            .iter()
            .find(|i| i.personal_number == personal_number)
    }

    /// Applies the timers up to `now` and forgets orders that can no longer be collected.
    pub fn tick(&mut self, now: UnixTime) {
        let config = &self.config;
        for order in self.orders.values_mut() {
            if !order.is_pending() {
                continue;
            }
            match order.picked_up_at {
                None => {
                    let deadline = order.created_at + config.pickup_window_secs;
                    if now >= deadline {
                        let hint = match (&config.wrong_person, order.wrong_person_tried) {
                            (WrongPersonOutcome::ExpireWith(hint), true) => hint.clone(),
                            _ => HintCode::StartFailed,
                        };
                        order.finish(OrderStatus::Failed(hint), deadline);
                    }
                }
                Some(picked_up_at) => {
                    let deadline = picked_up_at + config.sign_window_secs;
                    if now >= deadline {
                        order.finish(OrderStatus::Failed(HintCode::ExpiredTransaction), deadline);
                    }
                }
            }
        }
        self.orders.retain(|_, order| {
            let Some(finished_at) = order.finished_at else {
                return true;
            };
            let keep_for = match order.status {
                OrderStatus::Complete(_) => config.complete_collectable_secs,
                _ => config.failed_collectable_secs,
            };
            now < finished_at + keep_for
        });
        if self.orders.len() > config.max_orders {
            let mut finished: Vec<(UnixTime, String)> = self
                .orders
                .values()
                .filter(|o| !o.is_pending())
                .map(|o| (o.finished_at.unwrap_or(o.created_at), o.order_ref.clone()))
                .collect();
            finished.sort();
            let excess = self.orders.len() - config.max_orders;
            for (_, order_ref) in finished.into_iter().take(excess) {
                self.orders.remove(&order_ref);
            }
        }
    }

    /// Enforces one order per person for an order restricted to `personal_number`.
    fn check_not_in_progress(
        &mut self,
        personal_number: &str,
        now: UnixTime,
    ) -> Result<(), ApiError> {
        let mut conflict = false;
        for order in self
            .orders
            .values_mut()
            .filter(|o| o.in_progress_for(personal_number))
        {
            order.finish(OrderStatus::Failed(HintCode::Cancelled), now);
            conflict = true;
        }
        if conflict {
            return Err(ApiError::new(
                error_codes::ALREADY_IN_PROGRESS,
                "Order already in progress for pno",
            ));
        }
        Ok(())
    }

    fn insert(&mut self, order: Order) {
        self.orders.insert(order.order_ref.clone(), order);
        self.tick_capacity();
    }

    fn tick_capacity(&mut self) {
        if self.orders.len() > self.config.max_orders {
            // Over capacity even after dropping finished orders: drop the oldest pending ones.
            let mut all: Vec<(UnixTime, String)> = self
                .orders
                .values()
                .map(|o| (o.created_at, o.order_ref.clone()))
                .collect();
            all.sort();
            let excess = self.orders.len() - self.config.max_orders;
            for (_, order_ref) in all.into_iter().take(excess) {
                self.orders.remove(&order_ref);
            }
        }
    }

    /// `/auth` and `/sign` (the request was validated already).
    pub fn create_order(
        &mut self,
        order_type: OrderType,
        request: &OrderRequest,
        now: UnixTime,
    ) -> Result<OrderResponse, ApiError> {
        let requirement = request.requirement.clone().unwrap_or_default();
        if let Some(pnr) = &requirement.personal_number {
            self.check_not_in_progress(pnr, now)?;
        }
        let response = OrderResponse {
            order_ref: uuid(),
            auto_start_token: uuid(),
            qr_start_token: uuid(),
            qr_start_secret: uuid(),
        };
        self.insert(Order {
            order_ref: response.order_ref.clone(),
            order_type,
            auto_start_token: Some(response.auto_start_token.clone()),
            qr_start_token: Some(response.qr_start_token.clone()),
            qr_start_secret: Some(response.qr_start_secret.clone()),
            created_at: now,
            end_user_ip: Some(request.end_user_ip),
            required_personal_number: requirement.personal_number.clone(),
            requirement,
            user_visible_data: request.user_visible_data.clone(),
            user_non_visible_data: request.user_non_visible_data.clone(),
            user_visible_data_format: request.user_visible_data_format.clone(),
            return_risk: request.return_risk.unwrap_or(false),
            status: OrderStatus::Pending(HintCode::OutstandingTransaction),
            started_by: None,
            user: None,
            device_ip: None,
            picked_up_at: None,
            finished_at: None,
            wrong_person_tried: false,
            collects: 0,
        });
        Ok(response)
    }

    /// `/phone/auth` and `/phone/sign`.
    pub fn create_phone_order(
        &mut self,
        order_type: OrderType,
        request: &PhoneOrderRequest,
        now: UnixTime,
    ) -> Result<String, ApiError> {
        self.check_not_in_progress(&request.personal_number, now)?;
        let order_ref = uuid();
        self.insert(Order {
            order_ref: order_ref.clone(),
            order_type,
            auto_start_token: None,
            qr_start_token: None,
            qr_start_secret: None,
            created_at: now,
            end_user_ip: None,
            requirement: request.requirement.clone().unwrap_or_default(),
            user_visible_data: request.user_visible_data.clone(),
            user_non_visible_data: request.user_non_visible_data.clone(),
            user_visible_data_format: request.user_visible_data_format.clone(),
            return_risk: false,
            required_personal_number: Some(request.personal_number.clone()),
            status: OrderStatus::Pending(HintCode::OutstandingTransaction),
            started_by: None,
            user: None,
            device_ip: None,
            picked_up_at: None,
            finished_at: None,
            wrong_person_tried: false,
            collects: 0,
        });
        Ok(order_ref)
    }

    /// `/collect`.
    pub fn collect(&mut self, order_ref: &str, now: UnixTime) -> Result<CollectResponse, ApiError> {
        let auto = self.auto_complete.clone();
        let order = self
            .orders
            .get_mut(order_ref)
            .ok_or_else(|| ApiError::invalid("No such order"))?;
        if matches!(order.status, OrderStatus::Cancelled) {
            return Err(ApiError::invalid("No such order"));
        }
        order.collects = order.collects.saturating_add(1);
        let collects = order.collects;
        let picked_up = order.picked_up_at.is_some();
        let is_phone = order.order_type.is_phone();
        if let (Some(person), true) = (auto, order.is_pending()) {
            if collects == 2 && !picked_up {
                let method = if is_phone {
                    StartMethod::Phone
                } else {
                    StartMethod::Autostart
                };
                // A refusal (wrong person) leaves the order pending, as with a real app.
                let _ = self.pick_up(order_ref, &person, method, now);
            } else if collects >= 3 && picked_up {
                let _ = self.approve(order_ref, now);
            }
        }
        let order = self
            .orders
            .get(order_ref)
            .ok_or_else(|| ApiError::invalid("No such order"))?;
        let (status, hint_code, completion_data) = match &order.status {
            OrderStatus::Pending(hint) => (CollectStatus::Pending, Some(hint.clone()), None),
            OrderStatus::Failed(hint) => (CollectStatus::Failed, Some(hint.clone()), None),
            OrderStatus::Complete(data) => (CollectStatus::Complete, None, Some((**data).clone())),
            OrderStatus::Cancelled => return Err(ApiError::invalid("No such order")),
        };
        Ok(CollectResponse {
            order_ref: order.order_ref.clone(),
            status,
            hint_code,
            completion_data,
        })
    }

    /// `/cancel`.
    pub fn cancel(&mut self, order_ref: &str, now: UnixTime) -> Result<(), ApiError> {
        let order = self
            .orders
            .get_mut(order_ref)
            .ok_or_else(|| ApiError::invalid("No such order"))?;
        if !order.is_pending() {
            return Err(ApiError::invalid("No such order"));
        }
        order.finish(OrderStatus::Cancelled, now);
        Ok(())
    }

    /// The simulated app takes the order for `personal_number`.
    pub fn pick_up(
        &mut self,
        order_ref: &str,
        personal_number: &str,
        method: StartMethod,
        now: UnixTime,
    ) -> Result<(), AppError> {
        if self.identity(personal_number).is_none() {
            return Err(AppError::UnknownIdentity);
        }
        let wrong_person = self.config.wrong_person.clone();
        let phone_ip = self.config.phone_ip;
        let order = self
            .orders
            .get_mut(order_ref)
            .ok_or(AppError::UnknownOrder)?;
        if order.picked_up_at.is_some() || !order.is_pending() {
            return Err(AppError::WrongState(describe(order)));
        }
        if order.order_type.is_phone() != (method == StartMethod::Phone) {
            return Err(AppError::WrongState(
                "a phone order is opened from the call, other orders by QR or autostart".into(),
            ));
        }
        if order
            .required_personal_number
            .as_deref()
            .is_some_and(|required| required != personal_number)
        {
            order.wrong_person_tried = true;
            if let WrongPersonOutcome::FailWith(hint) = wrong_person {
                order.finish(OrderStatus::Failed(hint), now);
            }
            return Err(AppError::WrongPerson);
        }
        // One order per person: taking this one fails the person's older one.
        for other in self
            .orders
            .values_mut()
            .filter(|o| o.order_ref != order_ref && o.in_progress_for(personal_number))
        {
            other.finish(OrderStatus::Failed(HintCode::Cancelled), now);
        }
        let order = self
            .orders
            .get_mut(order_ref)
            .ok_or(AppError::UnknownOrder)?;
        order.picked_up_at = Some(now);
        order.started_by = Some(method);
        order.user = Some(personal_number.to_string());
        order.device_ip = Some(match method {
            StartMethod::Autostart => order.end_user_ip.unwrap_or(phone_ip),
            StartMethod::Qr | StartMethod::Phone => phone_ip,
        });
        let hint = if method == StartMethod::Phone {
            HintCode::UserCallConfirm
        } else if order.requirement.mrtd == Some(true) {
            HintCode::UserMrtd
        } else {
            HintCode::UserSign
        };
        order.status = OrderStatus::Pending(hint);
        Ok(())
    }

    /// The user confirms in the app that they are in a call with the RP (phone orders).
    pub fn confirm_call(&mut self, order_ref: &str) -> Result<(), AppError> {
        let order = self
            .orders
            .get_mut(order_ref)
            .ok_or(AppError::UnknownOrder)?;
        if !order.order_type.is_phone() {
            return Err(AppError::NotPhoneOrder);
        }
        if !matches!(
            order.status,
            OrderStatus::Pending(HintCode::UserCallConfirm)
        ) {
            return Err(AppError::WrongState(describe(order)));
        }
        let hint = if order.requirement.mrtd == Some(true) {
            HintCode::UserMrtd
        } else {
            HintCode::UserSign
        };
        order.status = OrderStatus::Pending(hint);
        Ok(())
    }

    /// The user identifies/signs in the app. Completes the order, or fails it
    /// `transactionRiskBlocked` when the person's risk is above `requirement.risk`.
    pub fn approve(&mut self, order_ref: &str, now: UnixTime) -> Result<(), AppError> {
        let order = self.orders.get(order_ref).ok_or(AppError::UnknownOrder)?;
        let ready = order.picked_up_at.is_some()
            && (matches!(
                order.status,
                OrderStatus::Pending(HintCode::UserSign | HintCode::UserMrtd)
            ) || (order.order_type.is_phone()
                && matches!(
                    order.status,
                    OrderStatus::Pending(HintCode::UserCallConfirm)
                )));
        if !ready {
            return Err(AppError::WrongState(describe(order)));
        }
        let person = order.user.as_deref().unwrap_or_default();
        let identity = self
            .identity(person)
            .cloned()
            .ok_or(AppError::UnknownIdentity)?;
        let order = self.orders.get(order_ref).ok_or(AppError::UnknownOrder)?;
        if order
            .requirement
            .risk
            .is_some_and(|max| identity.risk > max)
        {
            let order = self
                .orders
                .get_mut(order_ref)
                .ok_or(AppError::UnknownOrder)?;
            order.finish(OrderStatus::Failed(HintCode::TransactionRiskBlocked), now);
            return Ok(());
        }
        let data = completion_data(order, &identity, &self.config.rp_display_name);
        let order = self
            .orders
            .get_mut(order_ref)
            .ok_or(AppError::UnknownOrder)?;
        order.finish(OrderStatus::Complete(Box::new(data)), now);
        Ok(())
    }

    /// Fails a pending order with `hint` (userCancel, certificateErr, userDeclinedCall…).
    pub fn fail(&mut self, order_ref: &str, hint: HintCode, now: UnixTime) -> Result<(), AppError> {
        let order = self
            .orders
            .get_mut(order_ref)
            .ok_or(AppError::UnknownOrder)?;
        if !order.is_pending() {
            return Err(AppError::WrongState(describe(order)));
        }
        order.finish(OrderStatus::Failed(hint), now);
        Ok(())
    }
}

/// The order's state in words, for error messages.
pub fn describe(order: &Order) -> String {
    match &order.status {
        OrderStatus::Pending(hint) => format!("pending {hint}"),
        OrderStatus::Complete(_) => "complete".into(),
        OrderStatus::Failed(hint) => format!("failed {hint}"),
        OrderStatus::Cancelled => "cancelled by the RP".into(),
    }
}

/// A stable, base64 "unique hardware id" for a simulated person's device.
pub fn uhi(personal_number: &str) -> String {
    let digest =
        Sha256::digest(format!("leasify-bankid-simulator-uhi:{personal_number}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..20])
}

fn completion_data(
    order: &Order,
    identity: &TestIdentity,
    rp_display_name: &str,
) -> CompletionData {
    let device_ip = order.device_ip.map(|ip| ip.to_string()).unwrap_or_default();
    let uhi = uhi(&identity.personal_number);
    CompletionData {
        user: User {
            personal_number: identity.personal_number.clone(),
            name: identity.name(),
            given_name: identity.given_name.clone(),
            surname: identity.surname.clone(),
        },
        device: Device {
            ip_address: device_ip,
            uhi: Some(uhi.clone()),
        },
        bank_id_issue_date: identity.bank_id_issue_date.clone(),
        step_up: (order.requirement.mrtd == Some(true)).then_some(StepUp { mrtd: true }),
        signature: signature::signature(order, &uhi, rp_display_name),
        ocsp_response: signature::OCSP_RESPONSE.to_string(),
        risk: order.return_risk.then_some(identity.risk),
    }
}

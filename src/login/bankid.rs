//! Logging in with BankID, and the BankID orders behind it: start an order, follow it (the browser
//! polls us, we collect from BankID at most every `bankid.collect_interval` seconds), and finish
//! it as a login. Linking BankID to an account (`account::bankid_link`) uses the same orders.
//! Orders live in the database, bound to the browser that started them by a cookie, so any
//! instance can serve any poll and no other browser can take the result.

use std::net::IpAddr;

use crate::audit::{Event, kinds};
use crate::bankid::api::{
    CollectStatus, CompletionData, OrderRequest, Requirement, Risk, error_codes,
};
use crate::bankid::client::BankIdError;
use crate::bankid::messages::{FlowKind, client_error_message, failed_message, pending_message};
use crate::bankid::qr::qr_payload;
use crate::crypto::{random_token, sha256_hex};
use crate::identity::sealed::{self as identity, IdentityError};
use crate::state::AppState;
use crate::store::{BankIdOrder, StoreError, StoreResult};
use crate::telemetry::{self, LoginResult};

use super::methods::Method;
use super::sessions::{self, ActiveSession};

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("BankID is not enabled")]
    Disabled,
    /// Unknown order, or one started by another browser.
    #[error("no such order")]
    UnknownOrder,
    /// BankID refused to start the order; the key names the message for the person.
    #[error("BankID: {0}")]
    Refused(&'static str),
    #[error("the account has no personnummer")]
    NoPersonnummer,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
}

/// What an order is for.
pub enum Start<'a> {
    Login {
        pending_authorization: Option<&'a str>,
        next_path: Option<&'a str>,
    },
    Link {
        user_id: &'a str,
    },
}

/// A started order: its reference and the value of the browser-binding cookie.
pub struct Started {
    pub order_ref: String,
    pub binding: String,
}

/// The browser-binding cookie: `<orderRef>.<random secret>`; the database keeps only its SHA-256.
/// The order reference in it tells which order this browser started last, so a stale one can be
/// cancelled when BankID answers `alreadyInProgress`.
pub const BINDING_COOKIE: &str = "__Host-leasify-bankid";

/// The order a binding cookie was made for (it is proven only by [`bound_order`]).
fn order_ref_of_binding(binding: &str) -> Option<&str> {
    binding
        .split_once('.')
        .map(|(order_ref, _)| order_ref)
        .filter(|order_ref| !order_ref.is_empty())
}

/// Starts an order. `previous_binding` is the browser's binding cookie, if it has one: when
/// BankID answers `alreadyInProgress`, the order it names is the stale one and gets cancelled.
pub async fn start(
    state: &AppState,
    what: Start<'_>,
    ip: IpAddr,
    lang: &str,
    previous_binding: Option<&str>,
) -> Result<Started, FlowError> {
    let service = state.bankid.as_ref().ok_or(FlowError::Disabled)?;
    let product = &state.config.branding.product_name;
    let (purpose, text, requirement, user_id, pending, next) = match what {
        Start::Login {
            pending_authorization,
            next_path,
        } => {
            let text = if lang == "en" {
                format!("Log in to {product}")
            } else {
                format!("Logga in hos {product}")
            };
            (
                "login",
                text,
                Requirement::default(),
                None,
                pending_authorization,
                next_path,
            )
        }
        Start::Link { user_id } => {
            identity::personnummer_of(state, user_id)
                .await?
                .ok_or(FlowError::NoPersonnummer)?;
            let text = if lang == "en" {
                format!("Link BankID to your account at {product}")
            } else {
                format!("Koppla BankID till ditt konto hos {product}")
            };
            // No `requirement.personalNumber`: with it, BankID's app refuses another person and
            // the order just runs out, with no word to the page (the spec leaves the failure
            // unnamed). Without it we see at once whose BankID was used, compare it with the
            // stored number ourselves, and say so when it is someone else.
            (
                "link",
                text,
                Requirement::default(),
                Some(user_id.to_string()),
                None,
                None,
            )
        }
    };
    let mut request = OrderRequest::new(ip).visible_text(&text).return_risk(true);
    if !requirement.is_empty() {
        request = request.requirement(requirement);
    }
    let order = match service.client.auth(&request).await {
        Ok(order) => order,
        Err(e) => {
            tracing::warn!(error = %e, "BankID auth failed");
            if e.error_code() == Some(error_codes::ALREADY_IN_PROGRESS) {
                cancel_stale_order(state, previous_binding).await;
            }
            return Err(FlowError::Refused(client_error_message(&e).message_key()));
        }
    };
    let now = state.clock.now();
    let binding = format!(
        "{}.{}",
        order.order_ref,
        random_token(state.entropy.as_ref())
    );
    state
        .store
        .insert_bankid_order(&BankIdOrder {
            order_ref: order.order_ref.clone(),
            purpose: purpose.into(),
            browser_binding: sha256_hex(binding.as_bytes()),
            user_id,
            pending_authorization: pending.map(str::to_string),
            next_path: next.map(str::to_string),
            auto_start_token: order.auto_start_token.clone(),
            qr_start_token: order.qr_start_token.clone(),
            qr_start_secret_sealed: state.secret_box.seal(
                state.entropy.as_ref(),
                order.qr_start_secret.as_bytes(),
                order.order_ref.as_bytes(),
            ),
            started_at: now,
            status: "pending".into(),
            hint_code: None,
            completion_sealed: None,
            end_user_ip: ip.to_string(),
            last_collect_at: None,
            created_at: now,
            finished_at: None,
        })
        .await?;
    Ok(Started {
        order_ref: order.order_ref,
        binding,
    })
}

/// The order, if this browser started it.
pub async fn bound_order(
    state: &AppState,
    order_ref: &str,
    binding: Option<&str>,
) -> Result<BankIdOrder, FlowError> {
    let order = state
        .store
        .bankid_order(order_ref)
        .await?
        .ok_or(FlowError::UnknownOrder)?;
    match binding {
        Some(b)
            if crate::crypto::constant_time_eq(
                sha256_hex(b.as_bytes()).as_bytes(),
                order.browser_binding.as_bytes(),
            ) =>
        {
            Ok(order)
        }
        _ => Err(FlowError::UnknownOrder),
    }
}

/// Our own hint for a linking order that a BankID other than the stored number's completed.
const WRONG_PERSON_HINT: &str = "personnummerMismatch";

/// Whether the BankID that completed a linking order is the one of the number on the account.
async fn is_stored_number(
    state: &AppState,
    order: &BankIdOrder,
    completion: Option<&CompletionData>,
) -> Result<bool, FlowError> {
    let (Some(user_id), Some(completion)) = (order.user_id.as_deref(), completion) else {
        return Ok(false);
    };
    let stored = identity::personnummer_of(state, user_id).await?;
    Ok(stored.is_some_and(|p| p.as_str() == completion.user.personal_number))
}

/// What the order page shows now.
pub struct Progress {
    /// `pending`, `complete`, `failed` or `cancelled`.
    pub status: String,
    pub message_key: &'static str,
    /// The animated QR payload for this second, while nobody has scanned it yet.
    pub qr_payload: Option<String>,
    pub auto_start_token: String,
}

pub async fn progress(
    state: &AppState,
    order_ref: &str,
    binding: Option<&str>,
) -> Result<Progress, FlowError> {
    let service = state.bankid.as_ref().ok_or(FlowError::Disabled)?;
    let mut order = bound_order(state, order_ref, binding).await?;
    let now = state.clock.now();
    if order.status == "pending"
        && state
            .store
            .claim_bankid_collect(order_ref, now, state.config.bankid.collect_interval)
            .await?
    {
        match service.client.collect(order_ref).await {
            Ok(collected) => {
                order.hint_code = collected.hint_code.as_ref().map(|h| h.as_str().to_string());
                match collected.status {
                    CollectStatus::Pending => {}
                    CollectStatus::Failed => {
                        order.status = "failed".into();
                        order.finished_at = Some(now);
                    }
                    CollectStatus::Complete => {
                        let completion = collected.completion_data.as_ref();
                        let risky = completion
                            .and_then(|c| c.risk.as_ref())
                            .is_some_and(|risk| {
                                matches!(risk, Risk::High)
                                    || (state.config.bankid.refuse_moderate_risk
                                        && matches!(risk, Risk::Moderate))
                            });
                        if risky {
                            tracing::warn!(
                                order_ref,
                                "BankID order refused for its risk assessment"
                            );
                            order.status = "failed".into();
                            order.hint_code = Some("transactionRiskBlocked".into());
                        } else if order.purpose == "link"
                            && !is_stored_number(state, &order, completion).await?
                        {
                            // Someone else's BankID: say so now, and keep nothing of them.
                            tracing::info!(
                                order_ref,
                                "BankID linking: the BankID belongs to another person"
                            );
                            order.status = "failed".into();
                            order.hint_code = Some(WRONG_PERSON_HINT.into());
                        } else {
                            order.status = "complete".into();
                            let json = serde_json::to_vec(&completion).unwrap_or_default();
                            order.completion_sealed = Some(state.secret_box.seal(
                                state.entropy.as_ref(),
                                &json,
                                order_ref.as_bytes(),
                            ));
                        }
                        order.finished_at = Some(now);
                    }
                }
                let events = failed_login_event(&order).map(|e| e.at(now));
                state
                    .store
                    .update_bankid_order(&order, events.as_slice())
                    .await?;
                if order.status != "pending" {
                    record_order_end(&order);
                }
            }
            // A transport hiccup: keep the order and try again on the next poll.
            Err(BankIdError::Transport(e)) => {
                tracing::warn!(order_ref, error = %e, "BankID collect failed; retrying")
            }
            Err(e) => {
                tracing::warn!(order_ref, error = %e, "BankID collect refused");
                order.status = "failed".into();
                order.finished_at = Some(now);
                let events = failed_login_event(&order).map(|e| e.at(now));
                state
                    .store
                    .update_bankid_order(&order, events.as_slice())
                    .await?;
                telemetry::bankid_order(purpose_label(&order), "error", "none");
                return Ok(Progress {
                    status: order.status,
                    message_key: client_error_message(&e).message_key(),
                    qr_payload: None,
                    auto_start_token: order.auto_start_token,
                });
            }
        }
    }
    let hint = order
        .hint_code
        .clone()
        .unwrap_or_else(|| "outstandingTransaction".into());
    let message_key = match order.status.as_str() {
        "pending" => pending_message(&hint, FlowKind::Qr, false).message_key(),
        "failed" if hint == WRONG_PERSON_HINT => "bankid-wrong-person",
        "failed" => failed_message(&hint, FlowKind::Qr).message_key(),
        "cancelled" => "bankid-rfa6",
        _ => "bankid-complete",
    };
    let qr_payload = (order.status == "pending" && hint == "outstandingTransaction")
        .then(|| {
            let secret = state
                .secret_box
                .open(&order.qr_start_secret_sealed, order_ref.as_bytes())
                .ok()?;
            let secret = String::from_utf8(secret).ok()?;
            Some(qr_payload(
                &order.qr_start_token,
                &secret,
                (now - order.started_at).max(0) as u64,
            ))
        })
        .flatten();
    Ok(Progress {
        status: order.status,
        message_key,
        qr_payload,
        auto_start_token: order.auto_start_token,
    })
}

/// A completed order of this browser, with what BankID said; `None` while it is not complete
/// (or already used).
pub async fn completed(
    state: &AppState,
    order_ref: &str,
    binding: Option<&str>,
) -> Result<Option<(BankIdOrder, CompletionData)>, FlowError> {
    let order = bound_order(state, order_ref, binding).await?;
    if order.status != "complete" {
        return Ok(None);
    }
    let sealed = order
        .completion_sealed
        .as_deref()
        .ok_or(FlowError::UnknownOrder)?;
    let completion: CompletionData =
        serde_json::from_slice(&state.secret_box.open(sealed, order_ref.as_bytes())?)
            .map_err(|_| FlowError::UnknownOrder)?;
    Ok(Some((order, completion)))
}

/// The audit event of a login order that just failed (nothing for other purposes or states).
fn failed_login_event(order: &BankIdOrder) -> Option<Event> {
    (order.purpose == "login" && order.status == "failed").then(|| {
        Event::new(kinds::LOGIN_FAILED)
            .failed()
            .detail("method", Method::BankId.name())
            .detail("reason", order.hint_code.clone().unwrap_or_default())
    })
}

/// A login order whose person has no usable account: recorded as a failed login.
async fn refused_login(state: &AppState, reason: &str, user_id: Option<&str>) -> StoreResult<()> {
    let mut event = Event::new(kinds::LOGIN_FAILED)
        .failed()
        .detail("method", Method::BankId.name())
        .detail("reason", reason);
    if let Some(user_id) = user_id {
        event = event.user(user_id);
    }
    state
        .store
        .append_audit(&[event.at(state.clock.now())])
        .await
}

/// How a completed login order ended.
pub enum LoginFinished {
    /// A session for the linked account; continue the login.
    LoggedIn {
        cookie: String,
        active: Box<ActiveSession>,
        order: Box<BankIdOrder>,
    },
    /// No account has BankID linked (verified) for this person.
    NoLinkedAccount,
    Disabled,
    /// Not complete (yet), or already used.
    NotComplete,
}

/// Finishes a login order: the account whose verified personnummer BankID returned gets a
/// session, stored in the transaction that uses the order up.
pub async fn finish_login(
    state: &AppState,
    order: BankIdOrder,
    completion: &CompletionData,
) -> Result<LoginFinished, FlowError> {
    let index = state
        .blind_index
        .hash_hex(completion.user.personal_number.as_bytes());
    let Some(stored) = state.store.verified_personnummer_by_index(&index).await? else {
        refused_login(state, "no_linked_account", None).await?;
        telemetry::login("bankid", LoginResult::Failure);
        return Ok(LoginFinished::NoLinkedAccount);
    };
    let Some(user) = state.store.user_by_id(&stored.user_id).await? else {
        refused_login(state, "no_linked_account", None).await?;
        telemetry::login("bankid", LoginResult::Failure);
        return Ok(LoginFinished::NoLinkedAccount);
    };
    if user.disabled {
        refused_login(state, "account_disabled", Some(&user.id)).await?;
        telemetry::login("bankid", LoginResult::Failure);
        return Ok(LoginFinished::Disabled);
    }
    let (cookie, active) = sessions::prepare(state, user, Method::BankId);
    let event = sessions::login_succeeded(&active, Method::BankId).at(active.session.created_at);
    if !state
        .store
        .finish_bankid_login(&order.order_ref, &active.session, &[event])
        .await?
    {
        return Ok(LoginFinished::NotComplete);
    }
    tracing::info!(user_id = %active.user.id, "BankID login succeeded");
    telemetry::login("bankid", LoginResult::Success);
    Ok(LoginFinished::LoggedIn {
        cookie,
        active: Box::new(active),
        order: Box::new(order),
    })
}

/// The failure hint codes of BankID's RP API v6 and our own, as metric label values.
const FAILURE_HINTS: &[&str] = &[
    "expiredTransaction",
    "certificateErr",
    "userCancel",
    "cancelled",
    "startFailed",
    "userDeclinedCall",
    "notSupportedByUserApp",
    "transactionRiskBlocked",
    WRONG_PERSON_HINT,
];

fn purpose_label(order: &BankIdOrder) -> &'static str {
    if order.purpose == "link" {
        "link"
    } else {
        "login"
    }
}

/// Counts an order that has just ended: `complete`, `cancelled` (here, or by the person in the
/// app), `expired` (nobody used it in time) or `failed`, with BankID's hint code; an unknown
/// code counts as `other`, so BankID adding codes cannot grow the series without bound.
fn record_order_end(order: &BankIdOrder) {
    let hint = order
        .hint_code
        .as_deref()
        .map(|hint| {
            FAILURE_HINTS
                .iter()
                .find(|known| **known == hint)
                .copied()
                .unwrap_or("other")
        })
        .unwrap_or("none");
    let outcome = match (order.status.as_str(), hint) {
        ("complete", _) => "complete",
        ("cancelled", _) | ("failed", "userCancel" | "cancelled") => "cancelled",
        ("failed", "expiredTransaction") => "expired",
        _ => "failed",
    };
    // A complete order's last hint was a pending one, which says nothing about the end.
    let hint = if outcome == "complete" || order.status == "cancelled" {
        "none"
    } else {
        hint
    };
    telemetry::bankid_order(purpose_label(order), outcome, hint);
}

/// "Avbryt": cancels the order at BankID and here.
pub async fn cancel(
    state: &AppState,
    order_ref: &str,
    binding: Option<&str>,
) -> Result<BankIdOrder, FlowError> {
    let service = state.bankid.as_ref().ok_or(FlowError::Disabled)?;
    let mut order = bound_order(state, order_ref, binding).await?;
    if order.status == "pending" {
        if let Err(e) = service.client.cancel(order_ref).await {
            tracing::info!(order_ref, error = %e, "BankID cancel answered with an error");
        }
        order.status = "cancelled".into();
        order.finished_at = Some(state.clock.now());
        state.store.update_bankid_order(&order, &[]).await?;
        record_order_end(&order);
    }
    Ok(order)
}

/// After `alreadyInProgress` (spec 1.6): the person already has an order in progress, and the
/// one this browser started last is the one we can name, so it is cancelled at BankID and here;
/// "Försök igen" then starts afresh. BankID does not say which order is in progress, so one
/// started from another browser cannot be named; BankID is observed to cancel it itself, and our
/// copy ends at its next collect.
async fn cancel_stale_order(state: &AppState, previous_binding: Option<&str>) {
    let Some(order_ref) = previous_binding.and_then(order_ref_of_binding) else {
        tracing::info!("BankID order already in progress, none known from this browser");
        return;
    };
    match cancel(state, order_ref, previous_binding).await {
        Ok(order) => tracing::info!(
            order_ref,
            status = %order.status,
            "BankID order already in progress: this browser's previous order is cancelled"
        ),
        Err(e) => {
            tracing::info!(order_ref, error = %e, "BankID: no stale order of this browser to cancel")
        }
    }
}

//! Linking BankID to an account: Mina uppgifter → "Visa QR-kod" starts an order (see
//! `login::bankid`); when the BankID of the number stored on the account completes it, the number
//! is verified, typed-in copies of it on other accounts are removed and their owners told.

use crate::audit::{Event, kinds};
use crate::bankid::api::CompletionData;
use crate::login::bankid::FlowError;
use crate::state::AppState;
use crate::store::{BankIdOrder, PersonnummerVerification, VerificationOutcome};

use super::emails::{EmailKind, compose, prepare_outbox};
use crate::identity::sealed as identity;

/// How a completed linking order ended.
pub enum LinkFinished {
    /// BankID is now linked to the account.
    Linked,
    /// The BankID belonged to someone else (or the account's number changed meanwhile).
    WrongPerson,
    /// The person proved the number, but another account of theirs already has it verified.
    VerifiedElsewhere,
    /// Not complete (yet), or already used.
    NotComplete,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error("email: {0}")]
    Mail(String),
}

impl From<crate::store::StoreError> for LinkError {
    fn from(e: crate::store::StoreError) -> Self {
        LinkError::Flow(e.into())
    }
}

impl From<crate::identity::sealed::IdentityError> for LinkError {
    fn from(e: crate::identity::sealed::IdentityError) -> Self {
        LinkError::Flow(e.into())
    }
}

/// Finishes a linking order in one transaction: the order used up, the number verified, the
/// copies on other accounts removed and their notices queued.
pub async fn finish_link(
    state: &AppState,
    order: BankIdOrder,
    completion: &CompletionData,
) -> Result<LinkFinished, LinkError> {
    let returned = &completion.user.personal_number;
    let user_id = order.user_id.clone().ok_or(FlowError::UnknownOrder)?;
    let stored = identity::personnummer_of(state, &user_id).await?;
    // Defence in depth: the poll compared already; compare again before linking.
    if stored.as_ref().map(|p| p.as_str()) != Some(returned.as_str()) {
        tracing::warn!(user_id = %user_id, "BankID linking: the BankID belongs to another person");
        return Ok(LinkFinished::WrongPerson);
    }
    let index = state.blind_index.hash_hex(returned.as_bytes());
    let mut notices = Vec::new();
    for holder in state.store.unverified_holders(&index, &user_id).await? {
        let message = compose(state, EmailKind::PersonnummerRemoved, &holder, None)
            .map_err(LinkError::Mail)?;
        let kind = EmailKind::PersonnummerRemoved.template();
        notices.push((holder.id.clone(), prepare_outbox(state, kind, &message)));
    }
    let verification = PersonnummerVerification {
        order_ref: order.order_ref.clone(),
        user_id: user_id.clone(),
        blind_index: index,
        verified_at: state.clock.now(),
        name_if_empty: super::names::validate_name(&completion.user.name).ok(),
        notices,
    };
    // Committed only when the number is verified.
    let now = verification.verified_at;
    let mut events = vec![Event::by_user(kinds::BANKID_LINKED, &user_id).at(now)];
    for (holder_id, _) in &verification.notices {
        events.push(
            Event::new(kinds::PERSONNUMMER_REMOVED)
                .user(holder_id)
                .detail("reason", "verified_by_owner")
                .at(now),
        );
    }
    match state
        .store
        .verify_personnummer(&verification, &events)
        .await?
    {
        VerificationOutcome::Verified { removed_from } => {
            if !removed_from.is_empty() {
                state.mail_wakeup.notify_one();
                tracing::info!(user_id = %user_id, accounts = removed_from.len(), "unverified copies of the number removed from other accounts");
            }
            tracing::info!(user_id = %user_id, "BankID linked");
            Ok(LinkFinished::Linked)
        }
        VerificationOutcome::OrderNotComplete => Ok(LinkFinished::NotComplete),
        VerificationOutcome::NumberChanged => Ok(LinkFinished::WrongPerson),
        VerificationOutcome::VerifiedElsewhere => {
            tracing::info!(user_id = %user_id, "BankID linking: the number is verified on another account");
            Ok(LinkFinished::VerifiedElsewhere)
        }
    }
}

//! Unit tests of the account flows on a [`TestKit`]: "Glömt lösenord?" from request to the
//! email in the (in-memory) mailbox to the new password, and what setting a password ends.

use std::net::{IpAddr, Ipv4Addr};

use crate::account::AccountError;
use crate::account::change_password::{LinkOutcome, set_from_link};
use crate::account::links::LinkProblem;
use crate::account::reset::request_reset;
use crate::login::methods::Method;
use crate::testkit::TestKit;

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const NEW_PASSWORD: &str = "Sommarstuga vid sjön 1987";

/// Runs the background jobs, then the email sender; returns the raw link token of each message
/// delivered to `to` so far.
async fn deliver_and_read_links(kit: &TestKit, to: &str) -> Vec<String> {
    crate::workers::background::work_due(&kit.state).await;
    crate::workers::email::deliver_due(&kit.state).await;
    kit.mailer
        .sent()
        .into_iter()
        .filter(|m| m.to == to)
        .filter_map(|m| m.action_link)
        .filter_map(|link| {
            let url = url::Url::parse(&link).ok()?;
            url.query_pairs()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_reset_link_sets_a_password_once_and_ends_other_sessions() {
    let kit = TestKit::new().await;
    let user = kit.user("anna@example.se").await;
    let old_session = kit.session(&user, Method::Password).await;

    request_reset(&kit.state, " Anna@Example.se ", IP, None)
        .await
        .expect("queued");
    let links = deliver_and_read_links(&kit, "anna@example.se").await;
    assert_eq!(links.len(), 1, "one reset link");
    let token = &links[0];
    assert!(token.len() >= 43, "at least 256 bits");
    // Only the hash is stored.
    let stored = kit
        .store()
        .user_token(&crate::crypto::sha256_hex(token.as_bytes()))
        .await
        .expect("store")
        .expect("stored by hash");
    assert_ne!(&stored.token_hash, token);

    // A weak password is refused without using up the link.
    assert!(matches!(
        set_from_link(&kit.state, token, "kort", "kort").await,
        Err(AccountError::Rejected(_))
    ));
    let outcome = set_from_link(&kit.state, token, NEW_PASSWORD, NEW_PASSWORD)
        .await
        .expect("set");
    assert!(matches!(outcome, LinkOutcome::Done { .. }));
    let again = set_from_link(&kit.state, token, NEW_PASSWORD, NEW_PASSWORD)
        .await
        .expect("answered");
    assert!(matches!(again, LinkOutcome::Problem(LinkProblem::Used)));

    let user = kit
        .store()
        .user_by_id(&user.id)
        .await
        .expect("store")
        .expect("user");
    assert!(user.password_hash.is_some());
    let session_left = kit
        .store()
        .session_by_hash(
            &old_session.session.id_hash,
            crate::clock::Clock::now(&kit.clock),
        )
        .await
        .expect("store");
    assert!(session_left.is_none(), "the old session ended");
    // The owner hears that the password changed.
    crate::workers::email::deliver_due(&kit.state).await;
    assert_eq!(kit.mailer.sent().len(), 2, "the link and the notice");
}

#[tokio::test]
async fn unknown_and_disabled_addresses_get_nothing_but_the_same_answer() {
    let kit = TestKit::new().await;
    let disabled = kit.user("bertil@example.se").await;
    crate::admin::users::set_disabled(
        &kit.state,
        &crate::audit::Caller::system(),
        &disabled.id,
        true,
    )
    .await
    .expect("disabled");
    for email in ["nobody@example.se", "bertil@example.se"] {
        request_reset(&kit.state, email, IP, None)
            .await
            .expect("the same answer");
    }
    crate::workers::background::work_due(&kit.state).await;
    crate::workers::email::deliver_due(&kit.state).await;
    assert!(kit.mailer.sent().is_empty(), "{:?}", kit.mailer.sent());
}

#[tokio::test]
async fn reset_links_expire_on_the_injected_clock() {
    let kit = TestKit::new().await;
    kit.user("anna@example.se").await;
    request_reset(&kit.state, "anna@example.se", IP, None)
        .await
        .expect("queued");
    let token = deliver_and_read_links(&kit, "anna@example.se")
        .await
        .remove(0);
    kit.clock.advance(kit.state.config.account.reset_ttl);
    let outcome = set_from_link(&kit.state, &token, NEW_PASSWORD, NEW_PASSWORD)
        .await
        .expect("answered");
    assert!(matches!(
        outcome,
        LinkOutcome::Problem(LinkProblem::Expired)
    ));
}

#[tokio::test]
async fn reset_requests_are_throttled_per_address_in_the_database() {
    let kit = TestKit::new().await;
    let limit = kit.state.config.account.max_resets_per_address;
    for n in 0..limit {
        let ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, n as u8));
        request_reset(&kit.state, "anna@example.se", ip, None)
            .await
            .expect("within the limit");
    }
    assert!(matches!(
        request_reset(&kit.state, "anna@example.se", IP, None).await,
        Err(AccountError::Throttled)
    ));
    kit.clock.advance(kit.state.config.account.reset_window + 1);
    request_reset(&kit.state, "anna@example.se", IP, None)
        .await
        .expect("a new window");
}

//! Email link tokens (`account::links`): the `/password/set?token=…&req=…&lang=…` query as axum
//! reads it (`web::account_handlers::SetPasswordQuery`) and the submitted form as the handler
//! reads it (`parse_pairs`, first `token`), then `links::inspect`, `change_password::set_from_link`
//! and `links::resend`; and `links::Purpose::parse`.
//!
//! Input: the query string or form body, e.g. `token=link-valid-invite-0123456789abcdef`. The
//! harness stores six links (see `leasify_id_fuzz::LINK_*`): a valid invitation and reset, a used
//! one, an expired one, one of a disabled user and one with an unknown purpose.
//!
//! Invariants: `inspect` says exactly what the stored link is (usable with its purpose and user,
//! used, expired, or unknown) and says "unknown" for every other token; `set_from_link` and `resend`
//! of an unknown token change nothing and fail nothing; `Purpose::parse` accepts exactly the two
//! purposes and round-trips them; no input is an internal error.
#![no_main]

use leasify_id::account::change_password::{LinkOutcome, set_from_link};
use leasify_id::account::links::{self, LinkProblem, Purpose};
use leasify_id::web::extract::parse_pairs;
use leasify_id::web::password_links::SetPasswordQuery;
use leasify_id_fuzz::{
    LINK_BOGUS_PURPOSE, LINK_DISABLED_USER, LINK_EXPIRED, LINK_USED, LINK_VALID_INVITE,
    LINK_VALID_RESET, USER, debug, harness,
};
use libfuzzer_sys::fuzz_target;

enum Expected {
    Usable(Purpose),
    Problem(LinkProblem),
}

fn expected(raw: &str) -> Option<Expected> {
    Some(match raw {
        LINK_VALID_INVITE => Expected::Usable(Purpose::Invite),
        LINK_VALID_RESET => Expected::Usable(Purpose::Reset),
        LINK_USED => Expected::Problem(LinkProblem::Used),
        LINK_EXPIRED => Expected::Problem(LinkProblem::Expired),
        LINK_DISABLED_USER | LINK_BOGUS_PURPOSE => Expected::Problem(LinkProblem::Unknown),
        _ => return None,
    })
}

fn check_purpose(raw: &str) {
    match Purpose::parse(raw) {
        Some(purpose) => assert_eq!(purpose.as_str(), raw),
        None => assert!(!["invite", "reset"].contains(&raw), "{raw}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    // GET: axum's Query extractor (serde_urlencoded); a failure is a 400 before any lookup.
    let _ = serde_urlencoded::from_bytes::<SetPasswordQuery>(data);
    // POST: the handler's own form reading.
    let form = parse_pairs(data);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let raw = field("token").unwrap_or_default();
    check_purpose(raw);
    if let Some(purpose) = field("purpose") {
        check_purpose(purpose);
    }

    let inspected = h
        .block_on(links::inspect(&h.state, raw))
        .unwrap_or_else(|e| panic!("internal error on link input: {e}"));
    debug(|| format!("{raw:?}: usable {}", inspected.is_ok()));
    match (expected(raw), inspected) {
        (Some(Expected::Usable(purpose)), Ok(link)) => {
            assert_eq!(link.purpose, purpose);
            assert_eq!(link.user.id, USER);
            assert!(link.token.used_at.is_none());
        }
        (Some(Expected::Problem(problem)), Err(got)) => assert_eq!(got, problem, "{raw}"),
        (None, Err(got)) => assert_eq!(got, LinkProblem::Unknown, "{raw:?}"),
        (_, Ok(_)) => panic!("{raw:?} opened a link it does not belong to"),
        (Some(Expected::Usable(_)), Err(got)) => panic!("valid link {raw} refused: {got:?}"),
    }

    // Using up or resending an unknown token must do nothing (the stored ones are left alone,
    // so that the table above stays true for the whole run).
    if expected(raw).is_none() {
        let outcome = h
            .block_on(set_from_link(&h.state, raw, "pw", "pw"))
            .unwrap_or_else(|e| panic!("internal error on link input: {e}"));
        assert!(
            matches!(outcome, LinkOutcome::Problem(LinkProblem::Unknown)),
            "{raw:?}"
        );
        h.block_on(links::resend(&h.state, raw))
            .unwrap_or_else(|e| panic!("internal error on link input: {e}"));
    }
});

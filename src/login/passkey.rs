//! Passkeys (WebAuthn Level 3) with webauthn-rs: who we are to the authenticator (the
//! relying party), the ceremony state kept in the database between the two requests of a
//! ceremony, and the usernameless login. Registering and managing passkeys is in
//! `account::passkeys`.
//!
//! The relying-party id is the issuer's host and the only accepted origin is the issuer's
//! origin. WebAuthn refuses IP addresses as relying-party ids, so an issuer such as
//! `http://127.0.0.1:8080` has no passkeys at all (`http://localhost:8080` has).

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

use crate::audit::{Event, kinds};
use crate::crypto::random_token;
use crate::state::AppState;
use crate::store::{PasskeyChallenge, PasskeyUse, StoreError, StoredPasskey, User};
use crate::telemetry::{self, LoginResult};

use super::methods::Method;
use super::throttle;

/// How long the browser has to answer a ceremony (WebAuthn's recommended timeout is 5 min).
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// `purpose` of a registration challenge.
pub const PURPOSE_REGISTER: &str = "register";
/// `purpose` of a login challenge.
pub const PURPOSE_LOGIN: &str = "login";

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The issuer has no host name (an IP address): WebAuthn cannot work here.
    #[error("passkeys need an issuer with a host name")]
    Unavailable,
    /// Unknown, used or expired ceremony.
    #[error("unknown or expired passkey challenge")]
    ChallengeUnknown,
    /// The browser's answer does not parse.
    #[error("malformed passkey response")]
    Malformed,
    /// The authenticator's answer did not verify (signature, origin, relying party, user
    /// verification, a credential we do not know, a disabled account): one answer for all, so
    /// nothing is learnt about accounts.
    #[error("passkey not accepted")]
    Rejected,
    /// The signature counter did not move forward: a cloned authenticator, or a replay.
    #[error("passkey counter went backwards")]
    CounterWentBackwards,
    #[error("too many failed attempts")]
    Throttled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("passkey state: {0}")]
    State(String),
}

/// The relying-party id for an issuer: its host, unless that is an IP address (WebAuthn
/// accepts only domains, and `localhost`).
pub fn rp_id_of(issuer: &str) -> Option<String> {
    let url = Url::parse(issuer).ok()?;
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.parse::<IpAddr>().is_ok() {
        return None;
    }
    url.domain().map(str::to_ascii_lowercase)
}

/// Whether this deployment offers passkeys (its issuer has a host name).
pub fn available(issuer: &str) -> bool {
    rp_id_of(issuer).is_some()
}

/// Us as a WebAuthn relying party: id = the issuer's host, origin = the issuer's origin.
pub fn relying_party(state: &AppState) -> Result<Webauthn, PasskeyError> {
    let issuer = &state.config.issuer;
    let rp_id = rp_id_of(issuer).ok_or(PasskeyError::Unavailable)?;
    let origin = Url::parse(issuer).map_err(|_| PasskeyError::Unavailable)?;
    let origin = Url::parse(&origin.origin().ascii_serialization())
        .map_err(|_| PasskeyError::Unavailable)?;
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(&state.config.branding.product_name).build())
        .map_err(|_| PasskeyError::Unavailable)
}

/// The WebAuthn user handle of an account: the user id when it is a UUID (as every id we
/// create is), otherwise a UUID derived from it. It goes into the authenticator, so it holds
/// nothing personal.
pub fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id).unwrap_or_else(|_| {
        let digest = crate::crypto::sha256_hex(user_id.as_bytes());
        let bytes: [u8; 16] = hex::decode(&digest[..32])
            .ok()
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; 16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    })
}

/// The credential id as stored: base64url without padding.
pub fn credential_id_text(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// The `amr` of a passkey login. RFC 8176 `hwk` (proof of possession of a hardware-secured
/// key) when the key is device-bound (not backup eligible); `swk` (a software-secured key)
/// when it is backup eligible, since a key that can be synced to other devices is not bound to
/// one piece of hardware; plus `user` when the authenticator verified the user (PIN,
/// biometrics).
pub fn amr_of(backup_eligible: bool, user_verified: bool) -> Vec<String> {
    let mut amr = vec![if backup_eligible { "swk" } else { "hwk" }.to_string()];
    if user_verified {
        amr.push("user".to_string());
    }
    amr
}

/// Stores a ceremony's state; returns its id (the browser sends it back with its answer).
pub async fn save_challenge(
    state: &AppState,
    purpose: &str,
    user_id: Option<&str>,
    ceremony: &impl serde::Serialize,
) -> Result<String, PasskeyError> {
    let now = state.clock.now();
    let challenge = PasskeyChallenge {
        id: random_token(state.entropy.as_ref()),
        purpose: purpose.to_string(),
        user_id: user_id.map(str::to_string),
        state: serde_json::to_string(ceremony).map_err(|e| PasskeyError::State(e.to_string()))?,
        created_at: now,
        expires_at: now + CHALLENGE_TTL_SECS,
    };
    state.store.insert_passkey_challenge(&challenge).await?;
    Ok(challenge.id)
}

/// Takes (uses up) a ceremony's state, if it is live and of `purpose`.
pub async fn take_challenge(
    state: &AppState,
    id: &str,
    purpose: &str,
) -> Result<PasskeyChallenge, PasskeyError> {
    state
        .store
        .take_passkey_challenge(id, purpose, state.clock.now())
        .await?
        .ok_or(PasskeyError::ChallengeUnknown)
}

/// Login options one address may ask for per `login.ip_window`, as a multiple of its failed
/// logins (`login.max_failures_per_ip`). Each answer stores a ceremony for five minutes, so
/// without a limit anyone could fill the database; the login page asks once per visit (for
/// autofill) and again per button press, so an office behind one address needs far more than
/// its failure budget.
pub const LOGIN_OPTIONS_PER_ALLOWED_FAILURE: i64 = 10;

/// Starts a usernameless login: the options for `navigator.credentials.get` (JSON, with an
/// empty allow list so the authenticator offers its discoverable credentials) and the
/// challenge id. Counted per client address ([`LOGIN_OPTIONS_PER_ALLOWED_FAILURE`]).
pub async fn begin_login(
    state: &AppState,
    ip: IpAddr,
) -> Result<(String, serde_json::Value), PasskeyError> {
    let rp = relying_party(state)?;
    let login = &state.config.login;
    let asked = state
        .store
        .record_failure(
            &throttle::ip_key("passkey-options", ip),
            state.clock.now(),
            login.ip_window,
        )
        .await?;
    if asked.failures
        > login
            .max_failures_per_ip
            .saturating_mul(LOGIN_OPTIONS_PER_ALLOWED_FAILURE)
    {
        return Err(PasskeyError::Throttled);
    }
    let (options, ceremony) = rp
        .start_discoverable_authentication()
        .map_err(|e| PasskeyError::State(e.to_string()))?;
    let id = save_challenge(state, PURPOSE_LOGIN, None, &ceremony).await?;
    let options = serde_json::to_value(options).map_err(|e| PasskeyError::State(e.to_string()))?;
    Ok((id, options))
}

/// A passkey login that verified.
#[derive(Debug)]
pub struct PasskeyLogin {
    pub user: User,
    pub method: Method,
}

/// Finishes a usernameless login: the attempt is counted against the client's address first
/// (as a password attempt is), then the challenge is taken, the credential found by its id,
/// the signature, origin, relying party and user verification checked, and the counter and
/// backup flags checked and stored.
pub async fn finish_login(
    state: &AppState,
    challenge_id: &str,
    response_json: &str,
    ip: IpAddr,
) -> Result<PasskeyLogin, PasskeyError> {
    let address = throttle::ip_key("login", ip);
    let login = &state.config.login;
    let count = state
        .store
        .record_failure(&address, state.clock.now(), login.ip_window)
        .await?;
    if count.failures > login.max_failures_per_ip {
        record_failure(state, None, "throttled").await?;
        telemetry::login("passkey", LoginResult::Throttled);
        return Err(PasskeyError::Throttled);
    }
    match verify_login(state, challenge_id, response_json).await {
        Ok(login) => {
            state.store.forgive_failure(&address).await?;
            telemetry::login("passkey", LoginResult::Success);
            Ok(login)
        }
        Err(failure) => {
            let (user_id, reason) = match &failure {
                Failure::Refused(user_id, reason) => (user_id.as_deref(), *reason),
                Failure::Error(_) => (None, "error"),
            };
            if !matches!(failure, Failure::Error(_)) {
                record_failure(state, user_id, reason).await?;
            }
            telemetry::login("passkey", LoginResult::Failure);
            Err(match failure {
                Failure::Refused(_, "counter_went_backwards") => PasskeyError::CounterWentBackwards,
                Failure::Refused(_, "challenge_unknown") => PasskeyError::ChallengeUnknown,
                Failure::Refused(_, "malformed") => PasskeyError::Malformed,
                Failure::Refused(..) => PasskeyError::Rejected,
                Failure::Error(e) => e,
            })
        }
    }
}

/// Why a login was refused (the user if known, the reason audited), or our own failure.
enum Failure {
    Refused(Option<String>, &'static str),
    Error(PasskeyError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Error(e.into())
    }
}

async fn verify_login(
    state: &AppState,
    challenge_id: &str,
    response_json: &str,
) -> Result<PasskeyLogin, Failure> {
    let rp = relying_party(state).map_err(Failure::Error)?;
    let challenge = match take_challenge(state, challenge_id, PURPOSE_LOGIN).await {
        Ok(challenge) => challenge,
        Err(PasskeyError::ChallengeUnknown) => {
            return Err(Failure::Refused(None, "challenge_unknown"));
        }
        Err(e) => return Err(Failure::Error(e)),
    };
    let ceremony: DiscoverableAuthentication = serde_json::from_str(&challenge.state)
        .map_err(|e| Failure::Error(PasskeyError::State(e.to_string())))?;
    let response: PublicKeyCredential =
        serde_json::from_str(response_json).map_err(|_| Failure::Refused(None, "malformed"))?;
    let (handle, raw_id) = rp
        .identify_discoverable_authentication(&response)
        .map_err(|_| Failure::Refused(None, "malformed"))?;
    let Some(stored) = state
        .store
        .passkey_by_credential_id(&credential_id_text(raw_id))
        .await?
    else {
        return Err(Failure::Refused(None, "unknown_passkey"));
    };
    let user_id = Some(stored.user_id.clone());
    let refused = |reason| Failure::Refused(user_id.clone(), reason);
    // The handle the authenticator keeps must be this account's (WebAuthn §7.2 step 6).
    if handle != user_handle(&stored.user_id) {
        return Err(refused("wrong_user_handle"));
    }
    // Registered for another host: not ours to accept, even if it signs for this one.
    if Some(stored.rp_id.as_str()) != rp_id_of(&state.config.issuer).as_deref() {
        return Err(refused("other_relying_party"));
    }
    let mut passkey: Passkey = serde_json::from_str(&stored.credential)
        .map_err(|e| Failure::Error(PasskeyError::State(e.to_string())))?;
    let result = match rp.finish_discoverable_authentication(
        &response,
        ceremony,
        &[DiscoverableKey::from(&passkey)],
    ) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            return Err(counter_went_backwards(state, &stored, None).await);
        }
        Err(e) => {
            tracing::info!(user_id = %stored.user_id, error = %e, "passkey assertion refused");
            return Err(refused("invalid_assertion"));
        }
    };
    // BE is fixed when a key is made (WebAuthn §6.3.3): a change means another key or a lie.
    if result.backup_eligible() != stored.backup_eligible {
        return Err(refused("backup_eligibility_changed"));
    }
    let Some(user) = state.store.user_by_id(&stored.user_id).await? else {
        return Err(Failure::Refused(None, "unknown_passkey"));
    };
    if user.disabled {
        return Err(refused("account_disabled"));
    }
    passkey.update_credential(&result);
    let used = PasskeyUse {
        id: stored.id.clone(),
        sign_count: i64::from(result.counter()),
        backup_state: result.backup_state(),
        credential: serde_json::to_string(&passkey)
            .map_err(|e| Failure::Error(PasskeyError::State(e.to_string())))?,
        used_at: state.clock.now(),
    };
    // The counter check again, in the database: of two logins with one counter, one loses.
    if !state.store.record_passkey_use(&used).await? {
        return Err(counter_went_backwards(state, &stored, Some(used.sign_count)).await);
    }
    Ok(PasskeyLogin {
        user,
        method: Method::Passkey {
            backup_eligible: stored.backup_eligible,
            user_verified: result.user_verified(),
        },
    })
}

/// Audits a counter that did not move forward (a cloned authenticator?) and refuses.
async fn counter_went_backwards(
    state: &AppState,
    stored: &StoredPasskey,
    presented: Option<i64>,
) -> Failure {
    tracing::warn!(user_id = %stored.user_id, passkey_id = %stored.id, "passkey counter went backwards: cloned authenticator?");
    let mut event = Event::by_user(kinds::PASSKEY_COUNTER_REGRESSED, &stored.user_id)
        .failed()
        .detail("passkey_id", stored.id.as_str())
        .detail("stored_counter", stored.sign_count);
    if let Some(presented) = presented {
        event = event.detail("presented_counter", presented);
    }
    if let Err(e) = state
        .store
        .append_audit(&[event.at(state.clock.now())])
        .await
    {
        return Failure::Error(e.into());
    }
    Failure::Refused(Some(stored.user_id.clone()), "counter_went_backwards")
}

/// A failed attempt in the audit trail, like a failed password login.
async fn record_failure(
    state: &AppState,
    user_id: Option<&str>,
    reason: &str,
) -> Result<(), StoreError> {
    let mut event = Event::new(kinds::LOGIN_FAILED)
        .failed()
        .detail("method", "passkey")
        .detail("reason", reason);
    if let Some(user_id) = user_id {
        event = event.user(user_id);
    }
    state
        .store
        .append_audit(&[event.at(state.clock.now())])
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 9));

    #[test]
    fn the_relying_party_id_is_the_issuers_host_never_an_address() {
        assert_eq!(
            rp_id_of("http://localhost:8080").as_deref(),
            Some("localhost")
        );
        assert_eq!(
            rp_id_of("https://ID.Example.com:8443/base").as_deref(),
            Some("id.example.com")
        );
        assert_eq!(rp_id_of("http://127.0.0.1:8080"), None);
        assert_eq!(rp_id_of("http://[::1]:8080"), None);
        assert_eq!(rp_id_of("not a url"), None);
        assert!(available("https://id.leasify.se"));
        assert!(!available("http://10.0.0.1"));
    }

    #[test]
    fn amr_says_device_bound_or_synced_and_whether_the_user_was_verified() {
        assert_eq!(amr_of(false, true), ["hwk", "user"]);
        assert_eq!(amr_of(true, true), ["swk", "user"]);
        assert_eq!(amr_of(false, false), ["hwk"]);
        assert_eq!(amr_of(true, false), ["swk"]);
    }

    #[test]
    fn the_user_handle_is_the_uuid_or_derived_stably() {
        let id = "0191e6a2-7c3b-7e5f-9a1b-2c3d4e5f6a7b";
        assert_eq!(user_handle(id).to_string(), id);
        assert_eq!(user_handle("u1"), user_handle("u1"));
        assert_ne!(user_handle("u1"), user_handle("u2"));
    }

    #[tokio::test]
    async fn a_login_challenge_is_single_use_and_expires() {
        let kit = crate::testkit::TestKit::with_config(|c| {
            c.issuer = "http://localhost:8080".into();
        })
        .await;
        let (id, options) = begin_login(&kit.state, TEST_IP).await.unwrap();
        assert_eq!(options["publicKey"]["rpId"], "localhost");
        assert!(
            take_challenge(&kit.state, &id, PURPOSE_REGISTER)
                .await
                .is_err()
        );
        take_challenge(&kit.state, &id, PURPOSE_LOGIN)
            .await
            .unwrap();
        assert!(matches!(
            take_challenge(&kit.state, &id, PURPOSE_LOGIN).await,
            Err(PasskeyError::ChallengeUnknown)
        ));
        let (late, _) = begin_login(&kit.state, TEST_IP).await.unwrap();
        kit.clock.advance(CHALLENGE_TTL_SECS);
        assert!(matches!(
            take_challenge(&kit.state, &late, PURPOSE_LOGIN).await,
            Err(PasskeyError::ChallengeUnknown)
        ));
    }

    #[tokio::test]
    async fn a_garbled_or_unknown_answer_is_refused_and_counted() {
        let kit = crate::testkit::TestKit::with_config(|c| {
            c.issuer = "http://localhost:8080".into();
        })
        .await;
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let (id, _) = begin_login(&kit.state, TEST_IP).await.unwrap();
        assert!(matches!(
            finish_login(&kit.state, &id, "{not json", ip).await,
            Err(PasskeyError::Malformed)
        ));
        // The challenge went with the failed attempt.
        assert!(matches!(
            finish_login(&kit.state, &id, "{}", ip).await,
            Err(PasskeyError::ChallengeUnknown)
        ));
        let unknown = serde_json::json!({
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {
                "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA",
                "userHandle": URL_SAFE_NO_PAD.encode(user_handle("u1").as_bytes()),
            },
        });
        let (id, _) = begin_login(&kit.state, TEST_IP).await.unwrap();
        assert!(matches!(
            finish_login(&kit.state, &id, &unknown.to_string(), ip).await,
            Err(PasskeyError::Rejected)
        ));
        // Passkeys are unavailable on an issuer that is an address.
        let plain = crate::testkit::TestKit::new().await;
        if !available(&plain.state.config.issuer) {
            assert!(matches!(
                begin_login(&plain.state, TEST_IP).await,
                Err(PasskeyError::Unavailable)
            ));
        }
    }

    #[tokio::test]
    async fn login_options_are_limited_per_address() {
        let kit = crate::testkit::TestKit::with_config(|c| {
            c.issuer = "http://localhost:8080".into();
            c.login.max_failures_per_ip = 2;
        })
        .await;
        let allowed = 2 * LOGIN_OPTIONS_PER_ALLOWED_FAILURE;
        for _ in 0..allowed {
            begin_login(&kit.state, TEST_IP).await.unwrap();
        }
        assert!(matches!(
            begin_login(&kit.state, TEST_IP).await,
            Err(PasskeyError::Throttled)
        ));
        // Another address has its own count, and the window passes.
        begin_login(&kit.state, "198.51.100.1".parse().unwrap())
            .await
            .unwrap();
        kit.clock.advance(kit.state.config.login.ip_window);
        begin_login(&kit.state, TEST_IP).await.unwrap();
    }
}

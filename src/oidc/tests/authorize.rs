//! The authorization endpoint's decisions: pages before the redirect URI is verified, `error`
//! redirects after, and what a session, `prompt`, `max_age`, `id_token_hint`, `acr_values` and
//! consent lead to.

use super::*;
use crate::login::methods::{ACR_BANKID, ACR_PASSKEY, ACR_PASSWORD};
use crate::oidc::authorize::{
    AuthorizationRequest, finish_consent, pending_request, resume_after_login, validate,
};
use crate::oidc::errors::{AuthorizeError, PageError};
use crate::oidc::response::ResponseMode;

async fn page_error(kit: &TestKit, params: &[(String, String)]) -> PageError {
    match validate(&kit.state, params).await {
        Err(AuthorizeError::Page(error)) => error,
        other => panic!("expected an error page for {params:?}, got {other:?}"),
    }
}

/// The `error` of a refused request, checking it goes to the verified URI with the state.
async fn refusal(kit: &TestKit, params: &[(String, String)]) -> &'static str {
    match validate(&kit.state, params).await {
        Err(AuthorizeError::Redirect { target, error, .. }) => {
            assert_eq!(target.redirect_uri, REDIRECT_URI);
            assert_eq!(target.state.as_deref(), Some(STATE));
            error
        }
        other => panic!("expected a refusal for {params:?}, got {other:?}"),
    }
}

async fn outcome(
    flow: &Flow,
    extra: &[(&str, &str)],
    session: Option<&ActiveSession>,
) -> AuthorizeOutcome {
    authorize(
        &flow.kit.state,
        &code_request(&flow.client.id, extra),
        session,
    )
    .await
    .expect("an outcome")
}

/// The `error` of an outcome that answers the client with one (state and `iss` included).
fn error_of(flow: &Flow, outcome: &AuthorizeOutcome) -> String {
    let AuthorizeOutcome::Respond(response) = outcome else {
        panic!("expected a response, got {outcome:?}");
    };
    assert_eq!(param(response, "state"), Some(STATE));
    assert_eq!(
        param(response, "iss"),
        Some(flow.kit.state.config.issuer.as_str())
    );
    assert_eq!(param(response, "code"), None);
    param(response, "error").expect("an error").to_string()
}

fn is_code(outcome: &AuthorizeOutcome) -> bool {
    matches!(outcome, AuthorizeOutcome::Respond(r) if param(r, "code").is_some())
}

#[tokio::test]
async fn unverifiable_clients_and_redirect_uris_are_pages() {
    let flow = Flow::new().await;
    let kit = &flow.kit;
    let without = |name: &str| {
        let mut params = code_request("rp", &[]);
        params.retain(|(k, _)| k != name);
        params
    };
    assert_eq!(
        page_error(kit, &without("client_id")).await,
        PageError::MissingClientId
    );
    assert_eq!(
        page_error(kit, &code_request("nobody", &[])).await,
        PageError::UnknownClient
    );
    assert_eq!(
        page_error(kit, &code_request("rp", &[("client_id", "rp")])).await,
        PageError::BadRequest
    );
    assert_eq!(
        page_error(kit, &without("redirect_uri")).await,
        PageError::MissingRedirectUri
    );
    for uri in [
        "https://rp.example/cb/x",
        "https://rp.example/cb?x=1",
        "https://RP.example/cb",
        "https://evil.example/cb",
    ] {
        let mut params = without("redirect_uri");
        params.push(("redirect_uri".into(), uri.into()));
        assert_eq!(
            page_error(kit, &params).await,
            PageError::UnregisteredRedirectUri,
            "{uri}"
        );
        // Not even a logged-in user's code goes there.
        assert!(matches!(
            authorize(&kit.state, &params, Some(&flow.session)).await,
            Err(AuthorizeError::Page(PageError::UnregisteredRedirectUri))
        ));
    }
}

#[tokio::test]
async fn invalid_requests_are_refused_to_the_verified_redirect_uri() {
    let flow = Flow::new().await;
    let kit = &flow.kit;
    let (_, challenge) = pkce_pair();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("response_type", "token")], "invalid_request"),
        (&[("scope", "profile")], "invalid_scope"),
        (&[("nonce", "a"), ("nonce", "b")], "invalid_request"),
        (&[("prompt", "none login")], "invalid_request"),
        (&[("prompt", "sometimes")], "invalid_request"),
        (&[("max_age", "-1")], "invalid_request"),
        (&[("max_age", "soon")], "invalid_request"),
        (
            &[("code_challenge", "abc"), ("code_challenge_method", "S256")],
            "invalid_request",
        ),
        (
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (&[("code_challenge", &challenge)], "invalid_request"),
        (&[("code_challenge_method", "S256")], "invalid_request"),
        (
            &[("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (
            &[("request_uri", "https://rp.example/r")],
            "request_uri_not_supported",
        ),
        (&[("response_mode", "fragment")], "invalid_request"),
        (&[("claims", "{not json")], "invalid_request"),
        (&[("id_token_hint", "not.a.token")], "invalid_request"),
    ];
    for (extra, expected) in cases {
        assert_eq!(
            &refusal(kit, &code_request("rp", extra)).await,
            expected,
            "{extra:?}"
        );
    }
    // Without response_type at all (the two-token case above sends it twice).
    let mut params = code_request("rp", &[]);
    params.retain(|(k, _)| k != "response_type");
    assert_eq!(refusal(kit, &params).await, "invalid_request");
    let params = code_request("rp", &[("response_type", "token")]);
    let only_token: Vec<_> = params
        .into_iter()
        .filter(|(k, v)| k != "response_type" || v == "token")
        .collect();
    assert_eq!(refusal(kit, &only_token).await, "unsupported_response_type");
}

#[tokio::test]
async fn public_clients_must_use_pkce() {
    let flow = Flow::new().await;
    let kit = &flow.kit;
    kit.client_with("spa", |c| {
        c.token_endpoint_auth_method = "none".into();
        c.secret_hash = None;
    })
    .await;
    assert_eq!(
        refusal(kit, &code_request("spa", &[])).await,
        "invalid_request"
    );
    let (_, challenge) = pkce_pair();
    let request = validate(
        &kit.state,
        &code_request(
            "spa",
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        ),
    )
    .await
    .expect("valid with PKCE");
    assert_eq!(request.code_challenge.as_deref(), Some(challenge.as_str()));
}

#[tokio::test]
async fn scopes_are_limited_and_unknown_parameters_ignored() {
    let flow = Flow::new().await;
    let kit = &flow.kit;
    kit.client_with("narrow", |c| {
        c.allowed_scopes = vec!["openid".into(), "email".into()]
    })
    .await;
    let request: AuthorizationRequest = validate(
        &kit.state,
        &code_request(
            "narrow",
            &[
                ("scope", "profile openid unknown email"),
                ("response_mode", "form_post"),
                ("display", "popup"),
                ("extra", "foobar"),
                ("ui_locales", "se"),
                ("max_age", "0"),
            ],
        ),
    )
    .await
    .expect("valid");
    assert_eq!(request.scopes, ["openid", "email"]);
    assert_eq!(request.target.response_mode, ResponseMode::FormPost);
    assert_eq!(request.max_age, Some(0));
    assert!(!request.third_party);
}

#[tokio::test]
async fn without_a_session_the_user_logs_in_unless_prompt_is_none() {
    let flow = Flow::new().await;
    let AuthorizeOutcome::Login {
        pending_id,
        request,
    } = outcome(&flow, &[], None).await
    else {
        panic!("expected a login");
    };
    assert_eq!(
        pending_request(&flow.kit.state, &pending_id)
            .await
            .expect("kept"),
        *request
    );
    let answer = outcome(&flow, &[("prompt", "none")], None).await;
    assert_eq!(error_of(&flow, &answer), "login_required");
}

#[tokio::test]
async fn a_session_answers_with_a_code_and_the_code_is_stored() {
    let flow = Flow::new().await;
    let answer = outcome(&flow, &[("nonce", "n-1")], Some(&flow.session)).await;
    let AuthorizeOutcome::Respond(response) = &answer else {
        panic!("expected a response, got {answer:?}");
    };
    assert_eq!(param(response, "state"), Some(STATE));
    assert_eq!(
        param(response, "iss"),
        Some(flow.kit.state.config.issuer.as_str())
    );
    let code = param(response, "code").expect("a code");
    assert!(code.len() >= 43, "at least 256 bits: {code}");
    let stored = flow
        .kit
        .store()
        .auth_code(&crate::crypto::sha256_hex(code.as_bytes()))
        .await
        .expect("store")
        .expect("the code's hash is stored");
    assert_eq!(stored.nonce.as_deref(), Some("n-1"));
    assert_eq!(stored.redirect_uri, REDIRECT_URI);
}

#[tokio::test]
async fn prompt_login_and_select_account_ask_again() {
    let flow = Flow::new().await;
    for prompt in ["login", "select_account", "login consent"] {
        let answer = outcome(&flow, &[("prompt", prompt)], Some(&flow.session)).await;
        assert!(matches!(answer, AuthorizeOutcome::Login { .. }), "{prompt}");
    }
}

#[tokio::test]
async fn max_age_counts_from_the_login_on_the_injected_clock() {
    let flow = Flow::new().await;
    flow.kit.clock.advance(100);
    let stale = outcome(&flow, &[("max_age", "50")], Some(&flow.session)).await;
    assert!(matches!(stale, AuthorizeOutcome::Login { .. }));
    let fresh = outcome(&flow, &[("max_age", "500")], Some(&flow.session)).await;
    assert!(is_code(&fresh));
    let silent = outcome(
        &flow,
        &[("max_age", "50"), ("prompt", "none")],
        Some(&flow.session),
    )
    .await;
    assert_eq!(error_of(&flow, &silent), "login_required");
}

#[tokio::test]
async fn an_id_token_hint_for_someone_else_needs_their_login() {
    let flow = Flow::new().await;
    let own = flow.tokens(&[]).await.id_token.expect("an ID token");
    let with_own = outcome(&flow, &[("id_token_hint", &own)], Some(&flow.session)).await;
    assert!(is_code(&with_own));

    let bertil = flow.kit.user("bertil@example.se").await;
    let bertil_session = flow.kit.session(&bertil, Method::Password).await;
    let (code, verifier) = flow.code_for(&flow.client, &bertil_session, &[]).await;
    let theirs = super::super::token::token(
        &flow.kit.state,
        &flow.client,
        &flow.redemption(&code, &verifier),
        &Default::default(),
    )
    .await
    .expect("tokens")
    .id_token
    .expect("an ID token");
    let hinted = outcome(&flow, &[("id_token_hint", &theirs)], Some(&flow.session)).await;
    assert!(matches!(hinted, AuthorizeOutcome::Login { .. }));
    let silent = outcome(
        &flow,
        &[("id_token_hint", &theirs), ("prompt", "none")],
        Some(&flow.session),
    )
    .await;
    assert_eq!(error_of(&flow, &silent), "login_required");
}

#[tokio::test]
async fn acr_values_for_bankid_are_not_met_by_a_password() {
    let flow = Flow::new().await;
    let answer = outcome(&flow, &[("acr_values", ACR_BANKID)], Some(&flow.session)).await;
    let AuthorizeOutcome::Login { pending_id, .. } = answer else {
        panic!("expected a login, got {answer:?}");
    };
    // Logging in with a password again does not satisfy it: the client hears access_denied.
    let again = flow.kit.session(&flow.user, Method::Password).await;
    let answer = resume_after_login(&flow.kit.state, &pending_id, None, &again)
        .await
        .expect("an answer");
    assert_eq!(error_of(&flow, &answer), "access_denied");
    assert!(pending_request(&flow.kit.state, &pending_id).await.is_err());

    // A BankID session satisfies it, and unknown values are a preference nobody can honour.
    let bankid = flow.kit.session(&flow.user, Method::BankId).await;
    let answer = outcome(&flow, &[("acr_values", ACR_BANKID)], Some(&bankid)).await;
    assert!(is_code(&answer));
    let answer = outcome(&flow, &[("acr_values", "urn:unknown")], Some(&flow.session)).await;
    assert!(is_code(&answer));
}

#[tokio::test]
async fn acr_values_for_a_passkey_are_met_by_a_passkey_only() {
    let flow = Flow::new().await;
    assert!(crate::login::passkey::available(
        &flow.kit.state.config.issuer
    ));
    let wanted = [("acr_values", ACR_PASSKEY)];
    let answer = outcome(&flow, &wanted, Some(&flow.session)).await;
    let AuthorizeOutcome::Login { pending_id, .. } = answer else {
        panic!("a password session does not do: expected a login, got {answer:?}");
    };
    let bankid = flow.kit.session(&flow.user, Method::BankId).await;
    let answer = resume_after_login(&flow.kit.state, &pending_id, None, &bankid)
        .await
        .expect("an answer");
    assert_eq!(error_of(&flow, &answer), "access_denied", "nor does BankID");

    let passkey = Method::Passkey {
        backup_eligible: false,
        user_verified: true,
    };
    let with_key = flow.kit.session(&flow.user, passkey).await;
    assert!(is_code(&outcome(&flow, &wanted, Some(&with_key)).await));
    // A passkey also meets a request for the password level.
    let password = [("acr_values", ACR_PASSWORD)];
    assert!(is_code(&outcome(&flow, &password, Some(&with_key)).await));
}

#[tokio::test]
async fn resuming_after_login_uses_up_the_pending_request() {
    let flow = Flow::new().await;
    let AuthorizeOutcome::Login { pending_id, .. } = outcome(&flow, &[], None).await else {
        panic!("expected a login");
    };
    let answer = resume_after_login(&flow.kit.state, &pending_id, None, &flow.session)
        .await
        .expect("a code");
    assert!(is_code(&answer));
    assert!(matches!(
        resume_after_login(&flow.kit.state, &pending_id, None, &flow.session).await,
        Err(AuthorizeError::Page(PageError::RequestExpired))
    ));
}

#[tokio::test]
async fn a_pending_request_expires() {
    let flow = Flow::new().await;
    let AuthorizeOutcome::Login { pending_id, .. } = outcome(&flow, &[], None).await else {
        panic!("expected a login");
    };
    flow.kit
        .clock
        .advance(flow.kit.state.config.session.pending_authorization_ttl + 1);
    assert!(matches!(
        pending_request(&flow.kit.state, &pending_id).await,
        Err(AuthorizeError::Page(PageError::RequestExpired))
    ));
}

/// A third-party client `partner` and a request of it.
async fn third_party(flow: &Flow) -> Vec<(String, String)> {
    flow.kit
        .client_with("partner", |c| c.first_party = false)
        .await;
    code_request("partner", &[("scope", "openid email")])
}

#[tokio::test]
async fn third_party_clients_ask_for_consent_once() {
    let flow = Flow::new().await;
    let request = third_party(&flow).await;
    let state = &flow.kit.state;
    let answer = authorize(state, &request, Some(&flow.session))
        .await
        .expect("ok");
    let AuthorizeOutcome::Consent { pending_id } = answer else {
        panic!("expected consent, got {answer:?}");
    };
    let mut silent = request.clone();
    silent.push(("prompt".into(), "none".into()));
    let answer = authorize(state, &silent, Some(&flow.session))
        .await
        .expect("ok");
    assert_eq!(error_of(&flow, &answer), "consent_required");

    let response = finish_consent(state, &pending_id, &flow.session, true)
        .await
        .expect("a code");
    assert!(param(&response, "code").is_some());
    let consent = flow
        .kit
        .store()
        .consent(&flow.user.id, "partner")
        .await
        .expect("store")
        .expect("remembered");
    assert_eq!(consent.scope, "openid email");

    // Remembered: no question next time, unless the client asks for it.
    let answer = authorize(state, &request, Some(&flow.session))
        .await
        .expect("ok");
    assert!(is_code(&answer));
    let mut ask = request.clone();
    ask.push(("prompt".into(), "consent".into()));
    let answer = authorize(state, &ask, Some(&flow.session))
        .await
        .expect("ok");
    assert!(matches!(answer, AuthorizeOutcome::Consent { .. }));
    // A scope not allowed before is asked for.
    let mut wider = request;
    wider.retain(|(k, _)| k != "scope");
    wider.push(("scope".into(), "openid email profile".into()));
    let answer = authorize(state, &wider, Some(&flow.session))
        .await
        .expect("ok");
    assert!(matches!(answer, AuthorizeOutcome::Consent { .. }));
}

#[tokio::test]
async fn declining_consent_tells_the_client_and_remembers_nothing() {
    let flow = Flow::new().await;
    let request = third_party(&flow).await;
    let state = &flow.kit.state;
    let AuthorizeOutcome::Consent { pending_id } = authorize(state, &request, Some(&flow.session))
        .await
        .expect("ok")
    else {
        panic!("expected consent");
    };
    let response = finish_consent(state, &pending_id, &flow.session, false)
        .await
        .expect("an answer");
    assert_eq!(param(&response, "error"), Some("access_denied"));
    assert_eq!(param(&response, "state"), Some(STATE));
    assert!(pending_request(state, &pending_id).await.is_err());
    assert!(
        flow.kit
            .store()
            .consent(&flow.user.id, "partner")
            .await
            .expect("store")
            .is_none()
    );
}

#[tokio::test]
async fn consent_cannot_skip_a_login_the_request_demanded() {
    let flow = Flow::new().await;
    let mut request = third_party(&flow).await;
    request.push(("prompt".into(), "login".into()));
    let state = &flow.kit.state;
    // The session is older than the request, and does not log in again.
    flow.kit.clock.advance(1);
    let AuthorizeOutcome::Login { pending_id, .. } =
        authorize(state, &request, Some(&flow.session))
            .await
            .expect("ok")
    else {
        panic!("expected a login");
    };
    assert!(matches!(
        finish_consent(state, &pending_id, &flow.session, true).await,
        Err(AuthorizeError::Page(PageError::BadRequest))
    ));
    let fresh = flow.kit.session(&flow.user, Method::Password).await;
    let response = finish_consent(state, &pending_id, &fresh, true)
        .await
        .expect("a code after the new login");
    assert!(param(&response, "code").is_some());
}

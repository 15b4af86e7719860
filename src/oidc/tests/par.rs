//! Pushed authorization requests (RFC 9126): what `/par` accepts and refuses, and how
//! `/authorize` uses a `request_uri`: only the pushed parameters, for its own client, once,
//! within a minute; and a client marked "PAR required" refused without one.

use super::*;
use crate::clock::Clock;
use crate::oidc::authorize::{
    PUSHED_REQUEST_TTL, PushedAuthorization, REQUEST_URI_PREFIX, push, resume_after_login, validate,
};
use crate::oidc::errors::{AuthorizeError, PageError, TokenError};

/// `/par`'s form for a code request of `client_id` (PKCE S256) with `extra` fields.
fn pushed_form(client_id: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let (_, challenge) = pkce_pair();
    let mut fields: HashMap<String, String> = code_request(client_id, &[])
        .into_iter()
        .chain(pairs(&[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("nonce", "n-1"),
        ]))
        .collect();
    fields.extend(form(extra));
    fields
}

async fn pushed(flow: &Flow, extra: &[(&str, &str)]) -> PushedAuthorization {
    push(
        &flow.kit.state,
        &flow.client,
        &pushed_form(&flow.client.id, extra),
        &Default::default(),
    )
    .await
    .expect("the request is pushed")
}

/// `/authorize` with only `client_id` and the `request_uri`.
fn by_reference(client_id: &str, request_uri: &str) -> Vec<(String, String)> {
    pairs(&[("client_id", client_id), ("request_uri", request_uri)])
}

async fn push_error(flow: &Flow, client: &Client, fields: HashMap<String, String>) -> TokenError {
    match push(&flow.kit.state, client, &fields, &Default::default()).await {
        Err(error) => error,
        Ok(answer) => panic!("expected /par to refuse {fields:?}, got {answer:?}"),
    }
}

#[tokio::test]
async fn a_pushed_request_becomes_the_authorization_request() {
    let flow = Flow::new().await;
    let answer = pushed(&flow, &[("scope", "openid email"), ("ui_locales", "en")]).await;
    assert_eq!(answer.expires_in, PUSHED_REQUEST_TTL);
    let token = answer
        .request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .expect("a request_uri URN");
    // 256 random bits, base64url without padding.
    assert_eq!(token.len(), 43);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );

    // Only the hash is kept: the request_uri itself is nowhere in the database.
    let hash = crate::crypto::sha256_hex(answer.request_uri.as_bytes());
    let now = flow.kit.clock.now();
    let row = flow
        .kit
        .store()
        .take_pushed_request(&hash, "rp", now)
        .await
        .unwrap()
        .expect("stored under the hash");
    assert!(!row.params_json.contains(token));
    assert!(!row.params_json.contains("secret"));

    // Taken above, so push again and follow it through /authorize: the pushed parameters are
    // the request, and the query's others (a different state and scope here) are ignored.
    let answer = pushed(&flow, &[("scope", "openid email"), ("ui_locales", "en")]).await;
    let mut query = by_reference("rp", &answer.request_uri);
    query.extend(pairs(&[("state", "from-the-query"), ("scope", "openid")]));
    let request = validate(&flow.kit.state, &query).await.expect("valid");
    assert_eq!(request.client_id, "rp");
    assert_eq!(request.target.redirect_uri, REDIRECT_URI);
    assert_eq!(request.target.state.as_deref(), Some(STATE));
    assert_eq!(request.scopes, vec!["openid", "email"]);
    assert_eq!(request.nonce.as_deref(), Some("n-1"));
    assert_eq!(request.ui_locales.as_deref(), Some("en"));
    assert!(request.code_challenge.is_some());
}

#[tokio::test]
async fn a_request_uri_is_used_once_within_its_minute_by_its_own_client() {
    let flow = Flow::new().await;
    let other = flow.kit.client("other").await;

    // Used once; a second time it is gone.
    let answer = pushed(&flow, &[]).await;
    let query = by_reference("rp", &answer.request_uri);
    let outcome = authorize(&flow.kit.state, &query, Some(&flow.session))
        .await
        .expect("a code");
    assert!(matches!(&outcome, AuthorizeOutcome::Respond(r) if param(r, "code").is_some()));
    assert!(matches!(
        authorize(&flow.kit.state, &query, Some(&flow.session)).await,
        Err(AuthorizeError::Page(PageError::RequestExpired))
    ));

    // Another client naming it gets the page and does not spend it for its owner.
    let answer = pushed(&flow, &[]).await;
    assert!(matches!(
        validate(
            &flow.kit.state,
            &by_reference(&other.id, &answer.request_uri)
        )
        .await,
        Err(AuthorizeError::Page(PageError::RequestExpired))
    ));
    validate(&flow.kit.state, &by_reference("rp", &answer.request_uri))
        .await
        .expect("still there for its client");

    // Good for PUSHED_REQUEST_TTL seconds and not one more.
    let late = pushed(&flow, &[]).await;
    let in_time = pushed(&flow, &[]).await;
    flow.kit.clock.advance(PUSHED_REQUEST_TTL - 1);
    validate(&flow.kit.state, &by_reference("rp", &in_time.request_uri))
        .await
        .expect("in time");
    flow.kit.clock.advance(1);
    assert!(matches!(
        validate(&flow.kit.state, &by_reference("rp", &late.request_uri)).await,
        Err(AuthorizeError::Page(PageError::RequestExpired))
    ));

    // Unknown, without client_id, or twice in the query: pages, never redirects.
    let unknown = format!("{REQUEST_URI_PREFIX}nothing-was-pushed-here");
    assert!(matches!(
        validate(&flow.kit.state, &by_reference("rp", &unknown)).await,
        Err(AuthorizeError::Page(PageError::RequestExpired))
    ));
    let answer = pushed(&flow, &[]).await;
    assert!(matches!(
        validate(
            &flow.kit.state,
            &pairs(&[("request_uri", &answer.request_uri)])
        )
        .await,
        Err(AuthorizeError::Page(PageError::MissingClientId))
    ));
    let mut twice = by_reference("rp", &answer.request_uri);
    twice.push(("request_uri".into(), unknown));
    assert!(matches!(
        validate(&flow.kit.state, &twice).await,
        Err(AuthorizeError::Page(PageError::BadRequest))
    ));
}

#[tokio::test]
async fn a_pushed_request_waits_through_the_login() {
    let flow = Flow::new().await;
    // prompt=login keeps it pending even with a session; the login picks it up from there.
    let answer = pushed(&flow, &[("prompt", "login")]).await;
    let outcome = authorize(
        &flow.kit.state,
        &by_reference("rp", &answer.request_uri),
        Some(&flow.session),
    )
    .await
    .expect("an outcome");
    let AuthorizeOutcome::Login {
        pending_id,
        request,
    } = outcome
    else {
        panic!("expected the login page, got {outcome:?}");
    };
    assert!(request.prompts("login"));
    let again = flow.kit.session(&flow.user, Method::Password).await;
    let answer = resume_after_login(&flow.kit.state, &pending_id, None, &again)
        .await
        .expect("a code");
    let AuthorizeOutcome::Respond(response) = answer else {
        panic!("expected a code, got {answer:?}");
    };
    assert_eq!(param(&response, "state"), Some(STATE));
    assert!(param(&response, "code").is_some());
}

#[tokio::test]
async fn par_refuses_with_json_errors_what_authorize_would_refuse() {
    let flow = Flow::new().await;
    let rp = flow.client.clone();
    // Every refusal is a 400 (client authentication, the only 401, happens before).
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("redirect_uri", "https://evil.example/cb")],
            "invalid_redirect_uri",
        ),
        (&[("redirect_uri", "")], "invalid_request"),
        (
            &[("request_uri", "urn:ietf:params:oauth:request_uri:x")],
            "invalid_request",
        ),
        (&[("scope", "profile bogus")], "invalid_scope"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("prompt", "sometimes")], "invalid_request"),
        (&[("client_id", "other")], "invalid_request"),
        (
            &[("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
    ];
    for (extra, error) in cases {
        let refused = push_error(&flow, &rp, pushed_form("rp", extra)).await;
        assert_eq!((refused.status, refused.error), (400, *error), "{extra:?}");
    }
    // A public client pushes with PKCE like it authorizes, and is refused without it.
    let spa = flow
        .kit
        .client_with("spa", |c| {
            c.token_endpoint_auth_method = "none".into();
            c.secret_hash = None;
        })
        .await;
    let mut without_pkce = pushed_form("spa", &[]);
    without_pkce.remove("code_challenge");
    without_pkce.remove("code_challenge_method");
    let refused = push_error(&flow, &spa, without_pkce).await;
    assert_eq!(refused.error, "invalid_request");
    push(
        &flow.kit.state,
        &spa,
        &pushed_form("spa", &[]),
        &Default::default(),
    )
    .await
    .expect("with PKCE");
    // The client may leave client_id out of the body (it authenticated with it already), and
    // its credentials are never kept with the request.
    let mut fields = pushed_form("rp", &[("client_secret", "secret")]);
    fields.remove("client_id");
    let answer = push(&flow.kit.state, &rp, &fields, &Default::default())
        .await
        .expect("pushed");
    validate(&flow.kit.state, &by_reference("rp", &answer.request_uri))
        .await
        .expect("its client_id was filled in");
}

#[tokio::test]
async fn a_client_that_requires_par_is_refused_without_it() {
    let flow = Flow::new().await;
    let strict = flow
        .kit
        .client_with("strict", |c| c.require_pushed_authorization_requests = true)
        .await;
    // Directly: an error at its (verified) redirect URI, with the state.
    match validate(&flow.kit.state, &code_request("strict", &[])).await {
        Err(AuthorizeError::Redirect {
            target,
            error,
            description,
        }) => {
            assert_eq!(target.redirect_uri, REDIRECT_URI);
            assert_eq!(target.state.as_deref(), Some(STATE));
            assert_eq!(error, "invalid_request");
            assert!(description.contains("/par"), "{description}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // An unregistered redirect URI is still a page, never a redirect.
    let mut params = code_request("strict", &[]);
    params.retain(|(k, _)| k != "redirect_uri");
    params.push(("redirect_uri".into(), "https://evil.example/cb".into()));
    assert!(matches!(
        validate(&flow.kit.state, &params).await,
        Err(AuthorizeError::Page(PageError::UnregisteredRedirectUri))
    ));
    // Pushed: accepted.
    let answer = push(
        &flow.kit.state,
        &strict,
        &pushed_form("strict", &[]),
        &Default::default(),
    )
    .await
    .expect("pushed");
    let outcome = authorize(
        &flow.kit.state,
        &by_reference("strict", &answer.request_uri),
        Some(&flow.session),
    )
    .await
    .expect("a code");
    assert!(matches!(&outcome, AuthorizeOutcome::Respond(r) if param(r, "code").is_some()));
}

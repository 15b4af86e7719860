//! The authorization endpoint's request validation: a query string (or form body) through
//! `web::oidc_handlers::parse_pairs` into `oidc::authorize::validate`, against a state with the
//! harness clients (`fuzz-confidential`, `fuzz-post`, `fuzz-public`, `fuzz-jwt`, redirect URIs
//! `https://rp.example/cb`, `https://rp.example/cb?tenant=1`, `se.example.app:/cb`).
//!
//! Input: the raw query, e.g. `response_type=code&client_id=fuzz-confidential&…`. The
//! placeholders `@ID_TOKEN@` / `@ID_TOKEN_PUBLIC@` / `@ACCESS_TOKEN@` become real tokens of this
//! run, so `id_token_hint` is exercised with valid, foreign-audience and wrong-type tokens.
//!
//! Invariants: an error is only ever redirected to a redirect URI registered for the client named
//! (once) in the request; problems with the client or redirect URI are pages, and only they are;
//! an accepted request meets every rule of `validate` (single parameters, `response_type=code`,
//! `openid` among scopes that are allowed, PKCE S256 for public clients, valid prompt/max_age, the
//! hinted subject from a valid hint for this client) and survives the JSON round trip it makes
//! while the user logs in; its redirect keeps the registered URI and its query.
#![no_main]

use leasify_id::oidc::authorize::{AuthorizationRequest, REQUEST_URI_PREFIX, validate};
use leasify_id::oidc::errors::AuthorizeError;
use leasify_id::oidc::pkce::is_valid_s256_challenge;
use leasify_id::oidc::response::{AuthorizationResponse, ResponseMode, error_response};
use leasify_id::web::extract::parse_pairs;
use leasify_id_fuzz::{
    CONFIDENTIAL, ISSUER, JWT, NATIVE_REDIRECT_URI, POST, PUBLIC, REDIRECT_URI,
    REDIRECT_URI_WITH_QUERY, USER, debug, harness,
};
use libfuzzer_sys::fuzz_target;

const CLIENTS: &[&str] = &[CONFIDENTIAL, POST, PUBLIC, JWT];
const REGISTERED: &[&str] = &[REDIRECT_URI, REDIRECT_URI_WITH_QUERY, NATIVE_REDIRECT_URI];
const SINGLE: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_mode",
    "state",
    "response_type",
    "scope",
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "ui_locales",
    "login_hint",
    "id_token_hint",
    "acr_values",
    "claims",
];

struct Params<'a>(&'a [(String, String)]);

impl Params<'_> {
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value if sent exactly once and non-empty.
    fn one(&self, name: &str) -> Option<&str> {
        match self.all(name).as_slice() {
            [v] if !v.is_empty() => Some(v),
            _ => None,
        }
    }
}

fn check_redirect(target_uri: &str, response: &AuthorizationResponse) {
    let url = response.redirect_url();
    let parsed = url::Url::parse(&url).expect("the redirect is a URL");
    let registered = url::Url::parse(target_uri).unwrap();
    assert_eq!(parsed.scheme(), registered.scheme(), "{url}");
    assert_eq!(parsed.host_str(), registered.host_str(), "{url}");
    assert_eq!(parsed.port(), registered.port(), "{url}");
    assert_eq!(parsed.path(), registered.path(), "{url}");
    assert!(parsed.fragment().is_none(), "{url}");
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    for kept in registered.query_pairs().into_owned() {
        assert!(pairs.contains(&kept), "registered query lost: {url}");
    }
    for (k, v) in &response.params {
        assert!(pairs.contains(&(k.clone(), v.clone())), "{k} lost: {url}");
    }
    assert!(
        pairs.contains(&("iss".into(), ISSUER.into())),
        "no iss: {url}"
    );
}

fn check_accepted(p: &Params, request: &AuthorizationRequest) {
    let h = harness();
    assert_eq!(p.one("client_id"), Some(request.client_id.as_str()));
    assert!(CLIENTS.contains(&request.client_id.as_str()));
    let client = h
        .block_on(h.state.store.client_by_id(&request.client_id))
        .unwrap()
        .unwrap();
    assert_eq!(
        p.one("redirect_uri"),
        Some(request.target.redirect_uri.as_str())
    );
    assert!(client.redirect_uris.contains(&request.target.redirect_uri));
    for name in SINGLE {
        assert!(p.all(name).len() <= 1, "{name} sent twice, yet accepted");
    }
    assert_eq!(p.one("response_type"), Some("code"));
    assert!(p.one("request").is_none() && p.one("request_uri").is_none());
    assert_eq!(request.target.state.as_deref(), p.one("state"));
    let mode = match p.one("response_mode") {
        Some("form_post") => ResponseMode::FormPost,
        None | Some("query") => ResponseMode::Query,
        Some(other) => panic!("response_mode {other:?} accepted"),
    };
    assert_eq!(request.target.response_mode, mode);

    let requested: Vec<&str> = p.one("scope").unwrap_or_default().split(' ').collect();
    assert!(request.scopes.iter().any(|s| s == "openid"));
    for (i, scope) in request.scopes.iter().enumerate() {
        assert!(requested.contains(&scope.as_str()), "{scope} not requested");
        assert!(
            scope == "openid" || client.allowed_scopes.contains(scope),
            "{scope} not allowed for {}",
            client.id
        );
        assert!(!request.scopes[..i].contains(scope), "{scope} twice");
    }

    for prompt in &request.prompt {
        assert!(["none", "login", "consent", "select_account"].contains(&prompt.as_str()));
    }
    assert!(!(request.prompt.len() > 1 && request.prompts("none")));
    assert!(request.max_age.is_none_or(|m| m >= 0));
    assert_eq!(request.max_age.is_some(), p.one("max_age").is_some());

    match &request.code_challenge {
        Some(challenge) => {
            assert!(is_valid_s256_challenge(challenge), "{challenge:?}");
            assert_eq!(request.code_challenge_method.as_deref(), Some("S256"));
        }
        None => {
            assert!(!client.is_public(), "public client without PKCE");
            assert!(request.code_challenge_method.is_none());
        }
    }

    match p.one("id_token_hint") {
        Some(hint) => {
            assert_eq!(request.hinted_subject.as_deref(), Some(USER));
            let expected = match request.client_id.as_str() {
                PUBLIC => &h.id_token_public,
                CONFIDENTIAL => &h.id_token_confidential,
                other => panic!("a hint for {other} was accepted"),
            };
            // JWS malleability aside, the hint must carry the token we issued to this client.
            let payload = |t: &str| t.split('.').nth(1).map(str::to_string);
            let (_, ours) = h.block_on(h.state.keys.verify(expected)).unwrap();
            let (_, theirs) = h.block_on(h.state.keys.verify(hint)).unwrap();
            assert_eq!(ours, theirs, "{:?}", payload(hint));
        }
        None => assert!(request.hinted_subject.is_none()),
    }
    assert_eq!(request.third_party, !client.first_party);
    let acceptable = request.acceptable_acrs(&h.state.config);
    for acr in acceptable {
        assert!(request.accepts_acr(&h.state.config, acr));
    }

    // Kept as JSON while the user logs in (pending authorization), then read back.
    let json = serde_json::to_string(request).expect("serializes");
    let back: AuthorizationRequest = serde_json::from_str(&json).expect("reads back");
    assert_eq!(&back, request);

    let success = AuthorizationResponse {
        target: request.target.clone(),
        params: vec![
            ("code".into(), "c0de".into()),
            ("iss".into(), ISSUER.into()),
        ],
    };
    check_redirect(&request.target.redirect_uri, &success);
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let query = h.with_tokens(data);
    let params = parse_pairs(&query);
    let p = Params(&params);
    let result = h.block_on(validate(&h.state, &params));
    debug(|| format!("{result:?}"));

    let client_ok = p.one("client_id").is_some_and(|c| CLIENTS.contains(&c));
    let redirect_ok = p
        .one("redirect_uri")
        .is_some_and(|r| REGISTERED.contains(&r));
    // A pushed request's request_uri (none exists in this harness) or several request_uris:
    // no redirect URI can be trusted, whatever the query says.
    let names_pushed_request = p.all("request_uri").len() > 1
        || p.one("request_uri")
            .is_some_and(|u| u.starts_with(REQUEST_URI_PREFIX));
    match result {
        Ok(request) => check_accepted(&p, &request),
        Err(AuthorizeError::Page(page)) => {
            assert!(
                !(client_ok && redirect_ok) || names_pushed_request,
                "{page:?} shown as a page although client and redirect URI are fine"
            );
        }
        Err(AuthorizeError::Redirect {
            target,
            error,
            description,
        }) => {
            assert!(client_ok, "redirected without a known client ({error})");
            assert!(redirect_ok, "redirected to {:?}", target.redirect_uri);
            assert_eq!(Some(target.redirect_uri.as_str()), p.one("redirect_uri"));
            assert!(
                [
                    "invalid_request",
                    "request_not_supported",
                    "request_uri_not_supported",
                    "unsupported_response_type",
                    "invalid_scope",
                ]
                .contains(&error),
                "{error}"
            );
            let response = error_response(ISSUER, &target, error, &description);
            check_redirect(&target.redirect_uri, &response);
        }
        Err(AuthorizeError::Internal(e)) => panic!("internal error on request input: {e}"),
    }
});

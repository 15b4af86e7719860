//! The authorization-code flow as a relying party sees it, driven by the `openidconnect` crate and
//! a browser that fills in the login form.

use crate::common;

use std::time::Duration;

use common::*;
use openidconnect::core::{
    CoreAuthPrompt, CoreErrorResponseType, CoreTokenType, CoreUserInfoClaims,
};
use openidconnect::{AuthenticationMethodReference, OAuth2TokenResponse, SubjectIdentifier};
use reqwest::StatusCode;

const EMAIL: &str = "anna.svensson@example.se";
const NAME: &str = "Anna Svensson";

/// A server with one confidential client and one user.
async fn setup() -> (TestServer, Rp, String) {
    let (server, rp, sub, _) = setup_with_secret().await;
    (server, rp, sub)
}

async fn setup_with_secret() -> (TestServer, Rp, String, String) {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Hyresportalen").await;
    let sub = server.create_user(EMAIL, NAME, PASSWORD).await;
    let rp = server.relying_party(&client_id, Some(&secret)).await;
    (server, rp, sub, secret)
}

fn amr(claims: &openidconnect::core::CoreIdTokenClaims) -> Vec<String> {
    claims
        .auth_method_refs()
        .map(|v| {
            v.iter()
                .map(|a: &AuthenticationMethodReference| a.to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn happy_path_with_refresh_rotation_and_reuse_detection() {
    let (server, rp, sub, secret) = setup_with_secret().await;
    assert_eq!(
        rp.metadata.issuer().as_str(),
        server.base_url,
        "discovery issuer is the base URL"
    );

    let authorization = rp.authorization(&["email"], true, |r| r);
    let mut browser = Browser::new(&server.base_url);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), EMAIL, PASSWORD)
        .await;
    assert!(
        browser.cookie("__Host-leasify-session").is_some(),
        "the login set the session cookie"
    );
    let nonce = authorization.nonce.clone();
    let (tokens, claims) = rp.complete(authorization, &callback).await;

    // Token response.
    assert_eq!(*tokens.token_type(), CoreTokenType::Bearer);
    let expires_in = tokens.expires_in().expect("expires_in");
    assert!(expires_in > Duration::ZERO && expires_in <= Duration::from_secs(31_536_000));
    let first_refresh = tokens.refresh_token().expect("a refresh token").clone();

    // ID token (signature, iss, aud, exp, nonce and at_hash were verified by openidconnect).
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(claims.nonce().map(|n| n.secret()), Some(nonce.secret()));
    let auth_time = claims.auth_time().expect("auth_time is always present");
    assert_eq!(amr(&claims), vec!["pwd".to_string()]);
    let raw = jwt_claims(
        &openidconnect::TokenResponse::id_token(&tokens)
            .unwrap()
            .to_string(),
    );
    assert!(
        raw["sid"].as_str().is_some_and(|s| !s.is_empty()),
        "sid present: {raw}"
    );
    assert!(
        raw.get("email").is_none(),
        "email belongs in UserInfo, not the ID token: {raw}"
    );
    let header = jwt_header(
        &openidconnect::TokenResponse::id_token(&tokens)
            .unwrap()
            .to_string(),
    );
    assert_eq!(header["alg"], "RS256");
    assert!(
        header["kid"].as_str().is_some_and(|k| !k.is_empty()),
        "kid in the header: {header}"
    );

    // UserInfo: same sub (checked by openidconnect too), email for scope email.
    let info: CoreUserInfoClaims = rp
        .client
        .user_info(
            tokens.access_token().clone(),
            Some(SubjectIdentifier::new(sub.clone())),
        )
        .expect("userinfo endpoint known")
        .request_async(&oidc_http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.email().map(|e| e.as_str()), Some(EMAIL));
    assert_eq!(info.email_verified(), Some(true));

    // Refresh twice: new tokens each time, same subject and auth_time, a later iat, no nonce.
    server.clock.advance(1);
    let second = rp
        .refresh(&first_refresh)
        .await
        .unwrap_or_else(|e| panic!("refresh: {}", describe_token_error(&e)));
    let second_claims = rp.verify_id_token(&second, None);
    assert_eq!(second_claims.subject(), claims.subject());
    assert_eq!(second_claims.auth_time(), Some(auth_time));
    assert!(
        second_claims.issue_time() > claims.issue_time(),
        "a refreshed ID token has a new iat"
    );
    let second_refresh = second
        .refresh_token()
        .expect("rotated refresh token")
        .clone();
    assert_ne!(second_refresh.secret(), first_refresh.secret());
    assert_ne!(
        second.access_token().secret(),
        tokens.access_token().secret()
    );

    server.clock.advance(1);
    let third = rp
        .refresh(&second_refresh)
        .await
        .unwrap_or_else(|e| panic!("refresh: {}", describe_token_error(&e)));
    rp.verify_id_token(&third, None);
    let third_refresh = third
        .refresh_token()
        .expect("rotated refresh token")
        .clone();
    let latest_access = third.access_token().secret().clone();
    assert_eq!(
        userinfo_request(&server.base_url, &latest_access)
            .await
            .status,
        StatusCode::OK
    );

    // Reusing the first refresh token after the grace window kills the whole family.
    server.clock.advance(6);
    let reuse = rp
        .refresh(&first_refresh)
        .await
        .expect_err("reuse of a rotated refresh token fails");
    assert_eq!(oauth_error(&reuse), CoreErrorResponseType::InvalidGrant);
    let client_id = rp.client.client_id().to_string();
    let latest = token_request(
        &server.base_url,
        Some((&client_id, &secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", third_refresh.secret()),
        ],
    )
    .await;
    assert_token_error(&latest, 400, "invalid_grant");
    assert_access_token_dead(&server.base_url, &latest_access).await;
}

#[tokio::test]
async fn refresh_token_reuse_within_the_grace_window_is_tolerated() {
    let (server, rp, _) = setup().await;
    let authorization = rp.authorization(&[], true, |r| r);
    let mut browser = Browser::new(&server.base_url);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, _) = rp.complete(authorization, &callback).await;
    let refresh = tokens.refresh_token().unwrap().clone();
    let a = rp.refresh(&refresh).await.expect("first refresh");
    // Two tabs refreshing at once: the second use within 5 s still works.
    server.clock.advance(2);
    let b = rp
        .refresh(&refresh)
        .await
        .expect("second use within the grace window");
    assert_eq!(
        userinfo_request(&server.base_url, a.access_token().secret())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        userinfo_request(&server.base_url, b.access_token().secret())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn client_secret_post_flow() {
    let (server, rp, sub) = setup().await;
    let rp = rp.with_auth_type(openidconnect::AuthType::RequestBody);
    let authorization = rp.authorization(&["profile"], true, |r| r);
    let mut browser = Browser::new(&server.base_url);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, claims) = rp.complete(authorization, &callback).await;
    assert_eq!(claims.subject().as_str(), sub);
    let refreshed = rp
        .refresh(tokens.refresh_token().unwrap())
        .await
        .expect("refresh with client_secret_post");
    rp.verify_id_token(&refreshed, None);
    let info = userinfo_request(&server.base_url, refreshed.access_token().secret()).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(
        info.json()["name"],
        NAME,
        "scope profile releases name: {}",
        info.body
    );
}

#[tokio::test]
async fn client_secret_post_without_pkce() {
    let (server, rp, _) = setup().await;
    let rp = rp.with_auth_type(openidconnect::AuthType::RequestBody);
    let authorization = rp.authorization(&[], false, |r| r);
    let mut browser = Browser::new(&server.base_url);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, _) = rp.complete(authorization, &callback).await;
    assert!(tokens.refresh_token().is_some());
}

#[tokio::test]
async fn public_client_requires_pkce() {
    let server = TestServer::start().await;
    let client_id = server.create_public_client("Mobilappen").await;
    let sub = server.create_user(EMAIL, NAME, PASSWORD).await;
    let rp = server.relying_party(&client_id, None).await;
    let mut browser = Browser::new(&server.base_url);

    // Without a code_challenge: an error back to the client, before any login.
    let without = rp.authorization(&[], false, |r| r);
    let response = browser.navigate(without.url.as_str()).await;
    let callback = client_redirect(&response);
    let params = query_params(&callback);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("invalid_request"),
        "{callback}"
    );
    assert_eq!(
        params.get("state").map(String::as_str),
        Some(without.state.secret().as_str())
    );
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(server.base_url.as_str())
    );
    assert!(!params.contains_key("code"));

    // With PKCE: the whole flow, client authentication `none`.
    let with = rp.authorization(&["email"], true, |r| r);
    let callback = browser
        .authorize_with_login(with.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, claims) = rp.complete(with, &callback).await;
    assert_eq!(claims.subject().as_str(), sub);
    let refreshed = rp
        .refresh(tokens.refresh_token().expect("refresh token"))
        .await
        .expect("public refresh");
    rp.verify_id_token(&refreshed, None);
}

#[tokio::test]
async fn a_second_request_uses_the_session_and_prompt_none_answers_silently() {
    let (server, rp, sub) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let first = rp.authorization(&[], true, |r| r);
    let callback = browser
        .authorize_with_login(first.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (_, first_claims) = rp.complete(first, &callback).await;

    // No login page this time.
    server.clock.advance(3);
    let second = rp.authorization(&[], true, |r| r);
    let callback = browser.authorize_silently(second.url.as_str()).await;
    let (_, second_claims) = rp.complete(second, &callback).await;
    assert_eq!(second_claims.subject().as_str(), sub);
    assert_eq!(
        second_claims.auth_time(),
        first_claims.auth_time(),
        "same login, same auth_time"
    );

    // prompt=none with a session: silent success.
    let silent = rp.authorization(&[], true, |r| r.add_prompt(CoreAuthPrompt::None));
    let callback = browser.authorize_silently(silent.url.as_str()).await;
    let (_, silent_claims) = rp.complete(silent, &callback).await;
    assert_eq!(silent_claims.subject().as_str(), sub);
    assert_eq!(silent_claims.auth_time(), first_claims.auth_time());

    // max_age large enough: also silent.
    let recent = rp.authorization(&[], true, |r| r.set_max_age(Duration::from_secs(10_000)));
    let callback = browser.authorize_silently(recent.url.as_str()).await;
    let (_, recent_claims) = rp.complete(recent, &callback).await;
    assert_eq!(recent_claims.auth_time(), first_claims.auth_time());
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let (server, rp, _) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let long_state = "s".repeat(100) + "-._~0123456789abcdefABCDEF";
    let authorization = rp.authorization(&[], true, |r| r.add_prompt(CoreAuthPrompt::None));
    // Replace the random state by a long one with every unreserved character (sent as is).
    let mut url = authorization.url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                long_state.clone()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);

    let response = browser.navigate(url.as_str()).await;
    let callback = client_redirect(&response);
    let params = query_params(&callback);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("login_required"),
        "{callback}"
    );
    assert_eq!(
        params.get("state"),
        Some(&long_state),
        "state comes back unchanged"
    );
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(server.base_url.as_str())
    );
    assert!(!params.contains_key("code"));
    for key in params.keys() {
        assert!(
            ["error", "error_description", "state", "iss"].contains(&key.as_str()),
            "unexpected {key}"
        );
    }
    if let Some(description) = params.get("error_description") {
        assert!(
            !description.contains('"') && !description.contains('\\'),
            "error_description charset"
        );
    }
    assert!(browser.cookie("__Host-leasify-session").is_none());
}

#[tokio::test]
async fn form_post_response_mode() {
    let (server, rp, sub) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let authorization = rp.authorization(&[], true, |r| {
        r.add_extra_param("response_mode", "form_post")
    });
    let page = browser.navigate(authorization.url.as_str()).await;
    assert_eq!(page.status, StatusCode::OK);
    let done = browser.submit_login(&page, EMAIL, PASSWORD).await;
    assert_eq!(
        done.status,
        StatusCode::OK,
        "form_post answers with a page:\n{}",
        done.describe()
    );
    assert!(done.header("location").is_none());
    assert!(
        done.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    let form = Form::find(&done, "form").expect("an auto-submitting form");
    assert_eq!(form.action.as_str(), REDIRECT_URI);
    assert_eq!(form.method, "post");
    let names: Vec<&str> = form.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"code") && names.contains(&"state") && names.contains(&"iss"),
        "{names:?}"
    );
    assert!(!names.contains(&"error"));
    assert_eq!(
        form.get("state"),
        Some(authorization.state.secret().as_str())
    );
    assert_eq!(form.get("iss"), Some(server.base_url.as_str()));

    // The code in the form works like a query code.
    let code = form.get("code").unwrap().to_string();
    let tokens = rp
        .exchange(&code, authorization.pkce_verifier)
        .await
        .expect("code exchange");
    let claims = rp.verify_id_token(&tokens, Some(&authorization.nonce));
    assert_eq!(claims.subject().as_str(), sub);

    // An error in form_post mode is posted too.
    browser.clear_cookies();
    let failing = rp.authorization(&[], true, |r| {
        r.add_prompt(CoreAuthPrompt::None)
            .add_extra_param("response_mode", "form_post")
    });
    let page = browser.navigate(failing.url.as_str()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    let form = Form::find(&page, "form").expect("an auto-submitting form");
    assert_eq!(form.action.as_str(), REDIRECT_URI);
    assert_eq!(form.get("error"), Some("login_required"));
    assert_eq!(form.get("state"), Some(failing.state.secret().as_str()));
    assert!(form.get("code").is_none());
}

#[tokio::test]
async fn max_age_zero_forces_a_new_login() {
    let (server, rp, _) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let first = rp.authorization(&[], true, |r| r);
    let callback = browser
        .authorize_with_login(first.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (_, first_claims) = rp.complete(first, &callback).await;

    server.clock.advance(2);
    let again = rp.authorization(&[], true, |r| r.set_max_age(Duration::from_secs(0)));
    let page = browser.navigate(again.url.as_str()).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "the login page, not a redirect:\n{}",
        page.describe()
    );
    assert!(
        page.login_form().is_some(),
        "max_age=0 shows the login form"
    );
    let done = browser.submit_login(&page, EMAIL, PASSWORD).await;
    let (_, claims) = rp.complete(again, &client_redirect(&done)).await;
    let (before, after) = (
        first_claims.auth_time().unwrap(),
        claims.auth_time().unwrap(),
    );
    assert!(
        after > before,
        "re-authentication gives a later auth_time ({before} → {after})"
    );
}

#[tokio::test]
async fn prompt_login_forces_a_new_login_with_a_later_auth_time() {
    let (server, rp, _) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let first = rp.authorization(&[], true, |r| r);
    let callback = browser
        .authorize_with_login(first.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (_, first_claims) = rp.complete(first, &callback).await;
    let first_session = browser.cookie("__Host-leasify-session").map(str::to_string);

    server.clock.advance(2);
    let again = rp.authorization(&[], true, |r| r.add_prompt(CoreAuthPrompt::Login));
    let page = browser.navigate(again.url.as_str()).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "the login page, not a redirect:\n{}",
        page.describe()
    );
    let done = browser.submit_login(&page, EMAIL, PASSWORD).await;
    let (_, claims) = rp.complete(again, &client_redirect(&done)).await;
    assert_eq!(claims.subject(), first_claims.subject());
    assert!(
        claims.auth_time().unwrap() > first_claims.auth_time().unwrap(),
        "auth_time is strictly later"
    );
    assert_ne!(
        browser.cookie("__Host-leasify-session").map(str::to_string),
        first_session,
        "a new login gets a new session id"
    );
}

#[tokio::test]
async fn the_query_of_a_registered_redirect_uri_is_kept() {
    let server = TestServer::start().await;
    let registered = format!("{REDIRECT_URI}?dummy1=lorem&dummy2=ipsum");
    let client = server
        .create_client_with("Med query", false, vec![registered.clone()])
        .await;
    server.create_user(EMAIL, NAME, PASSWORD).await;
    let url = authorize_url(
        &server.base_url,
        &[
            ("response_type", "code"),
            ("client_id", &client.client_id),
            ("redirect_uri", &registered),
            ("scope", "openid"),
            ("state", "q1"),
        ],
    );
    let mut browser = Browser::new(&server.base_url);
    let callback = browser.authorize_with_login(&url, EMAIL, PASSWORD).await;
    let params = query_params(&callback);
    assert_eq!(
        params.get("dummy1").map(String::as_str),
        Some("lorem"),
        "{callback}"
    );
    assert_eq!(
        params.get("dummy2").map(String::as_str),
        Some("ipsum"),
        "{callback}"
    );
    assert_eq!(params.get("state").map(String::as_str), Some("q1"));
    let code = &params["code"];
    let response = token_request(
        &server.base_url,
        Some((&client.client_id, client.client_secret.as_deref().unwrap())),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &registered),
        ],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
}

#[tokio::test]
async fn id_token_hint_with_prompt_none() {
    let (server, rp, sub) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let first = rp.authorization(&[], true, |r| r);
    let callback = browser
        .authorize_with_login(first.url.as_str(), EMAIL, PASSWORD)
        .await;
    let (tokens, first_claims) = rp.complete(first, &callback).await;
    let hint = openidconnect::TokenResponse::id_token(&tokens)
        .unwrap()
        .to_string();

    // The hinted user is logged in: silent success, same sub and auth_time.
    let hinted = rp.authorization(&[], true, |r| {
        r.add_prompt(CoreAuthPrompt::None)
            .add_extra_param("id_token_hint", hint.clone())
    });
    let callback = browser.authorize_silently(hinted.url.as_str()).await;
    let (_, claims) = rp.complete(hinted, &callback).await;
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(claims.auth_time(), first_claims.auth_time());

    // Another user is logged in: prompt=none cannot answer for the hinted one.
    server.create_user("bo@example.se", "Bo Ek", PASSWORD).await;
    let mut other = Browser::new(&server.base_url);
    let login = rp.authorization(&[], true, |r| r);
    other
        .authorize_with_login(login.url.as_str(), "bo@example.se", PASSWORD)
        .await;
    let hinted = rp.authorization(&[], true, |r| {
        r.add_prompt(CoreAuthPrompt::None)
            .add_extra_param("id_token_hint", hint.clone())
    });
    let response = other.navigate(hinted.url.as_str()).await;
    let params = query_params(&client_redirect(&response));
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("login_required"),
        "{params:?}"
    );

    // A hint that is not our ID token is refused.
    let forged = rp.authorization(&[], true, |r| {
        r.add_extra_param("id_token_hint", "e30.e30.e30")
    });
    let response = browser.navigate(forged.url.as_str()).await;
    let params = query_params(&client_redirect(&response));
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("invalid_request"),
        "{params:?}"
    );
}

#[tokio::test]
async fn prompt_none_with_a_stale_session_is_login_required() {
    let (server, rp, _) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let first = rp.authorization(&[], true, |r| r);
    browser
        .authorize_with_login(first.url.as_str(), EMAIL, PASSWORD)
        .await;
    server.clock.advance(5);
    let stale = rp.authorization(&[], true, |r| {
        r.add_prompt(CoreAuthPrompt::None)
            .set_max_age(Duration::from_secs(1))
    });
    let response = browser.navigate(stale.url.as_str()).await;
    let params = query_params(&client_redirect(&response));
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("login_required"),
        "{params:?}"
    );
    assert_eq!(
        params.get("state").map(String::as_str),
        Some(stale.state.secret().as_str())
    );
}

#[tokio::test]
async fn the_session_ends_after_its_lifetime() {
    let (server, rp, _) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let first = rp.authorization(&[], true, |r| r);
    browser
        .authorize_with_login(first.url.as_str(), EMAIL, PASSWORD)
        .await;
    server.clock.advance(server.state.config.session.ttl + 1);
    let later = rp.authorization(&[], true, |r| r);
    let page = browser.navigate(later.url.as_str()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.describe());
    assert!(
        page.login_form().is_some(),
        "an expired session means a new login"
    );
}

#[tokio::test]
async fn cookies_and_pages_carry_the_security_attributes() {
    let (server, rp, _) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let authorization = rp.authorization(&[], true, |r| r);
    let page = browser.navigate(authorization.url.as_str()).await;
    assert_eq!(
        page.header("cache-control"),
        Some("no-store"),
        "login page is not cached"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let csrf_cookie = page.header("set-cookie").expect("the CSRF cookie is set");
    assert_host_cookie(csrf_cookie, "__Host-leasify-csrf");

    let done = browser.submit_login(&page, EMAIL, PASSWORD).await;
    let session_cookie = done
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-leasify-session="))
        .expect("the session cookie is set");
    assert_host_cookie(session_cookie, "__Host-leasify-session");
    assert_eq!(
        done.header("cache-control"),
        Some("no-store"),
        "the redirect with the code is not cached"
    );
}

fn assert_host_cookie(cookie: &str, name: &str) {
    assert!(cookie.starts_with(&format!("{name}=")), "{cookie}");
    let attributes: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for required in ["secure", "httponly", "path=/", "samesite=lax"] {
        assert!(
            attributes.iter().any(|a| a == required),
            "{required} in {cookie}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "a __Host- cookie has no Domain: {cookie}"
    );
}

#[tokio::test]
async fn es256_id_tokens_and_rs256_access_tokens_when_configured() {
    let server = TestServer::start_with(|config| {
        config.tokens.id_token_signing_alg = "ES256".into();
        config.tokens.access_token_signing_alg = "RS256".into();
    })
    .await;
    let (client_id, secret) = server.create_client("Hyresportalen").await;
    let sub = server.create_user(EMAIL, NAME, PASSWORD).await;
    let rp = server.relying_party(&client_id, Some(&secret)).await;
    let authorization = rp.authorization(&["email"], true, |r| r);
    let mut browser = Browser::new(&server.base_url);
    let callback = browser
        .authorize_with_login(authorization.url.as_str(), EMAIL, PASSWORD)
        .await;
    // verify_id_token checks the ES256 signature and the SHA-256 at_hash.
    let (tokens, claims) = rp.complete(authorization, &callback).await;
    assert_eq!(claims.subject().as_str(), sub);
    let id_token = openidconnect::TokenResponse::id_token(&tokens)
        .unwrap()
        .to_string();
    assert_eq!(jwt_header(&id_token)["alg"], "ES256");
    assert_eq!(jwt_header(tokens.access_token().secret())["alg"], "RS256");
    assert_eq!(
        userinfo_request(&server.base_url, tokens.access_token().secret())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn markup_in_state_and_email_is_escaped() {
    let (server, rp, _) = setup().await;
    let evil = "\"><script>alert(1)</script><x y=\"";
    let mut browser = Browser::new(&server.base_url);
    let authorization = rp.authorization(&[], true, |r| {
        r.add_extra_param("response_mode", "form_post")
    });
    let mut url = authorization.url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                evil.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);

    let page = browser.navigate(url.as_str()).await;
    let failed = browser.submit_login(&page, evil, "wrong password").await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert!(
        !failed.body.contains("<script>alert(1)</script>"),
        "the echoed email is escaped:\n{}",
        failed.body
    );
    assert_eq!(
        failed.login_form().unwrap().get("email"),
        Some(evil),
        "and still shown as typed"
    );

    let done = browser.submit_login(&page, EMAIL, PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.describe());
    assert!(
        !done.body.contains("<script>alert(1)</script>"),
        "the state is escaped in the form:\n{}",
        done.body
    );
    let form = Form::find(&done, "form").expect("the form_post form");
    assert_eq!(
        form.get("state"),
        Some(evil),
        "the state is posted back unchanged"
    );
}

#[tokio::test]
async fn the_login_page_speaks_english_when_asked() {
    let (server, rp, _) = setup().await;
    let mut browser = Browser::new(&server.base_url);
    let authorization = rp.authorization(&[], true, |r| r.add_extra_param("ui_locales", "en"));
    let page = browser.navigate(authorization.url.as_str()).await;
    assert_eq!(
        page.login_form().unwrap().get("lang"),
        Some("en"),
        "ui_locales=en picks English"
    );
    let failed = browser.submit_login(&page, EMAIL, "wrong password").await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert!(
        failed.body.contains("Wrong email or password"),
        "{}",
        failed.body
    );
    assert!(!failed.body.contains(INVALID_LOGIN_SV));
}

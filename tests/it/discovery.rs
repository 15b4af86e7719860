//! The discovery document and the JWKS, checked against the OpenID Foundation conformance notes
//! (sections 1.5 and 2.4 of `oidf-conformance-checks.md`), except the https-only checks.

use crate::common;

use std::collections::HashSet;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

/// The metadata members that are JSON booleans (every other `*_supported` is a list of strings).
const BOOLEAN_KEYS: &[&str] = &[
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "require_pushed_authorization_requests",
    "authorization_response_iss_parameter_supported",
    "frontchannel_logout_supported",
    "frontchannel_logout_session_supported",
    "backchannel_logout_supported",
    "backchannel_logout_session_supported",
];

async fn get_json(url: &str) -> (Response, Value) {
    let response = read(plain_client().get(url).send().await.expect("GET")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.describe());
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "JSON content type, got {content_type:?}"
    );
    let json = response.json();
    (response, json)
}

#[tokio::test]
async fn discovery_document_has_the_right_fields_and_types() {
    let server = TestServer::start().await;
    let (_, doc) = get_json(&server.url("/.well-known/openid-configuration")).await;
    let doc = doc.as_object().expect("a JSON object");

    assert_eq!(
        doc["issuer"],
        server.base_url.as_str(),
        "issuer equals the base URL"
    );
    for (key, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks.json"),
    ] {
        assert_eq!(doc[key], format!("{}{path}", server.base_url), "{key}");
    }
    for (key, value) in doc {
        if key.ends_with("_endpoint") || key == "jwks_uri" || key == "issuer" {
            let url = value
                .as_str()
                .unwrap_or_else(|| panic!("{key} is a string"));
            assert!(
                url.starts_with(&server.base_url),
                "{key} is under the issuer: {url}"
            );
        }
        if key.ends_with("_supported") && !BOOLEAN_KEYS.contains(&key.as_str()) {
            let items = value
                .as_array()
                .unwrap_or_else(|| panic!("{key} is an array: {value}"));
            assert!(!items.is_empty(), "{key} is not empty");
            assert!(
                items.iter().all(Value::is_string),
                "{key} holds strings: {value}"
            );
        }
    }
    for key in BOOLEAN_KEYS {
        if let Some(value) = doc.get(*key) {
            assert!(value.is_boolean(), "{key} is a JSON boolean, got {value}");
        }
    }
    assert_eq!(
        doc["authorization_response_iss_parameter_supported"], true,
        "we send iss in responses"
    );

    let strings = |key: &str| -> Vec<String> {
        doc[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(strings("response_types_supported").contains(&"code".to_string()));
    assert!(
        strings("subject_types_supported")
            .iter()
            .any(|s| s == "public" || s == "pairwise")
    );
    assert!(strings("id_token_signing_alg_values_supported").contains(&"RS256".to_string()));
    let scopes = strings("scopes_supported");
    assert!(scopes.contains(&"openid".to_string()));
    for scope in &scopes {
        assert!(
            !scope.is_empty()
                && scope
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)),
            "scope-token syntax: {scope:?}"
        );
    }
    let grants = strings("grant_types_supported");
    assert!(
        grants.contains(&"authorization_code".to_string())
            && grants.contains(&"refresh_token".to_string())
    );
    let methods = strings("token_endpoint_auth_methods_supported");
    for method in ["client_secret_basic", "client_secret_post", "none"] {
        assert!(methods.contains(&method.to_string()), "{method} advertised");
    }
    assert!(strings("response_modes_supported").contains(&"form_post".to_string()));
    assert!(strings("code_challenge_methods_supported").contains(&"S256".to_string()));
    assert!(
        doc["claims_supported"].is_array(),
        "claims_supported present"
    );

    // Logout, revocation and introspection are advertised, each at its own endpoint.
    for (key, path) in [
        ("end_session_endpoint", "/session/end"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(doc[key], format!("{}{path}", server.base_url), "{key}");
    }
    for key in [
        "claims_parameter_supported",
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
    ] {
        assert_eq!(doc[key], true, "{key}");
    }
    for key in [
        "request_parameter_supported",
        "request_uri_parameter_supported",
    ] {
        assert_eq!(doc[key], false, "{key}");
    }
    for key in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
    ] {
        let methods = strings(key);
        for method in [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ] {
            assert!(
                methods.contains(&method.to_string()),
                "{method} in {key}: {methods:?}"
            );
        }
    }
    // private_key_jwt needs the assertion algorithms, and they must be asymmetric.
    let assertion_algs = strings("token_endpoint_auth_signing_alg_values_supported");
    assert!(
        assertion_algs.contains(&"RS256".to_string()),
        "{assertion_algs:?}"
    );
    assert!(
        assertion_algs
            .iter()
            .all(|alg| alg != "none" && !alg.starts_with("HS")),
        "{assertion_algs:?}"
    );
    // The test server runs the BankID simulator: both authentication levels are offered.
    assert_eq!(
        strings("acr_values_supported"),
        [
            "urn:leasify:acr:password",
            "http://id.elegnamnden.se/loa/1.0/loa3"
        ]
    );

    // Every advertised endpoint is routed (a wrong method may be refused, but nothing is 404).
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = doc[key].as_str().unwrap();
        let answer = plain_client().post(url).send().await.expect("POST");
        assert_ne!(answer.status(), StatusCode::NOT_FOUND, "{key} {url}");
    }

    // openidconnect accepts it (its discovery checks the issuer too).
    let rp = Rp::discover(&server.base_url, "any-client", None).await;
    assert_eq!(rp.metadata.issuer().as_str(), server.base_url);
}

#[tokio::test]
async fn without_bankid_only_the_password_level_and_no_personnummer_are_offered() {
    let server = TestServer::start_with(|config| config.bankid.mode = "disabled".into()).await;
    let (_, doc) = get_json(&server.url("/.well-known/openid-configuration")).await;
    assert_eq!(
        doc["acr_values_supported"],
        serde_json::json!(["urn:leasify:acr:password"])
    );
    let scopes = doc["scopes_supported"].as_array().unwrap();
    assert!(
        !scopes.iter().any(|s| s == "personnummer"),
        "no personnummer scope without BankID: {scopes:?}"
    );
    assert_eq!(doc["claims_parameter_supported"], true);
}

#[tokio::test]
async fn jwks_holds_public_keys_only_with_unique_kids() {
    let server = TestServer::start().await;
    let (_, jwks) = get_json(&server.url("/jwks.json")).await;
    let keys = jwks["keys"].as_array().expect("a keys array");
    assert!(!keys.is_empty());
    let mut kids = HashSet::new();
    let mut algs = HashSet::new();
    for key in keys {
        let key = key.as_object().expect("each key is an object");
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(
                !key.contains_key(private),
                "no private member {private:?} in {key:?}"
            );
        }
        let kty = key["kty"].as_str().expect("kty");
        assert_ne!(kty, "oct", "no symmetric keys");
        let kid = key["kid"].as_str().expect("kid");
        assert!(!kid.trim().is_empty(), "non-blank kid");
        assert!(kids.insert(kid.to_string()), "kid {kid} is unique");
        if let Some(usage) = key.get("use") {
            assert_eq!(usage, "sig");
        }
        let b64url = |member: &str| {
            let value = key[member]
                .as_str()
                .unwrap_or_else(|| panic!("{member} in {key:?}"));
            assert!(
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{member} is unpadded base64url: {value}"
            );
        };
        match kty {
            "RSA" => {
                b64url("n");
                b64url("e");
            }
            "EC" => {
                b64url("x");
                b64url("y");
                assert_eq!(key["crv"], "P-256");
            }
            other => panic!("unexpected kty {other}"),
        }
        algs.insert(key["alg"].as_str().expect("alg").to_string());
    }
    assert!(
        algs.contains("RS256") && algs.contains("ES256"),
        "an RS256 and an ES256 key: {algs:?}"
    );

    // After a rotation both generations are published, still with unique kids.
    leasify_id::admin::keys::rotate(&server.state, &leasify_id::audit::Caller::system())
        .await
        .expect("rotation");
    let (_, jwks) = get_json(&server.url("/jwks.json")).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 4, "old and next keys published: {kids:?}");
    assert_eq!(
        kids.iter().collect::<HashSet<_>>().len(),
        4,
        "unique kids: {kids:?}"
    );
}

#[tokio::test]
async fn tokens_are_signed_with_a_published_key_and_keep_verifying_across_a_rotation() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.create_client("Hyresportalen").await;
    server
        .create_user("anna@example.se", "Anna", PASSWORD)
        .await;
    let (code, verifier) = Browser::new(&server.base_url)
        .code_for(&client_id, "anna@example.se", PASSWORD)
        .await;
    let response = redeem_code(&server.base_url, (&client_id, &secret), &code, &verifier).await;
    let tokens = response.json();
    let (_, jwks) = get_json(&server.url("/jwks.json")).await;
    let published: HashSet<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    for field in ["id_token", "access_token"] {
        let header = jwt_header(tokens[field].as_str().unwrap());
        assert!(
            published.contains(header["kid"].as_str().unwrap()),
            "{field} kid is published: {header}"
        );
    }
    assert_eq!(
        jwt_header(tokens["access_token"].as_str().unwrap())["typ"],
        "at+jwt"
    );

    // Rotate: the next keys sign only after publish_ahead; the old access token still works,
    // and after the hand-over new tokens use the new keys while the old ones stay published.
    let new_kids =
        leasify_id::admin::keys::rotate(&server.state, &leasify_id::audit::Caller::system())
            .await
            .expect("rotation");
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo_request(&server.base_url, access_token)
            .await
            .status,
        StatusCode::OK
    );
    let before = redeem_refresh_token(
        &server.base_url,
        (&client_id, &secret),
        tokens["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        before.status,
        StatusCode::OK,
        "tokens are issued during publish_ahead:\n{}",
        before.describe()
    );
    let before = before.json();
    let kid = jwt_header(before["id_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !new_kids.contains(&kid),
        "the next key does not sign before its time"
    );
    server
        .clock
        .advance(server.state.config.keys.publish_ahead + 1);
    let refreshed = redeem_refresh_token(
        &server.base_url,
        (&client_id, &secret),
        before["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.describe());
    let refreshed = refreshed.json();
    let kid = jwt_header(refreshed["id_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        new_kids.contains(&kid),
        "the new key signs after the hand-over: {kid} not in {new_kids:?}"
    );
    assert_eq!(
        userinfo_request(
            &server.base_url,
            refreshed["access_token"].as_str().unwrap()
        )
        .await
        .status,
        StatusCode::OK
    );
    let (_, jwks) = get_json(&server.url("/jwks.json")).await;
    let published: HashSet<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    let old_kid = jwt_header(tokens["id_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        published.contains(&old_kid),
        "the old key stays published for keep_published"
    );
}

#[tokio::test]
async fn health_endpoints_answer() {
    let server = TestServer::start().await;
    for path in ["/health/live", "/health/ready"] {
        let (_, body) = get_json(&server.url(path)).await;
        assert_eq!(body["status"], "ok");
    }
    let missing = read(
        plain_client()
            .get(server.url("/no/such/page"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// An app that already has the document gets `304 Not Modified` instead of the same bytes again;
/// the entity tags stay the same while nothing changes.
#[tokio::test]
async fn discovery_and_jwks_answer_a_known_etag_with_304() {
    let server = TestServer::start().await;
    for path in ["/.well-known/openid-configuration", "/jwks.json"] {
        let (first, _) = get_json(&server.url(path)).await;
        let etag = first.header("etag").expect("an ETag").to_string();
        let (second, _) = get_json(&server.url(path)).await;
        assert_eq!(second.header("etag"), Some(etag.as_str()), "{path}: stable");
        let revalidated = plain_client()
            .get(server.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("GET");
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(revalidated.headers()["etag"], etag.as_str());
        let other = plain_client()
            .get(server.url(path))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .expect("GET");
        assert_eq!(other.status(), StatusCode::OK, "{path}: another tag");
    }
}

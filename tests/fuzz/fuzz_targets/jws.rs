//! Compact JWS from outside: `id_token_hint` (`oidc::tokens::verify_id_token_hint`,
//! `subject_of_id_token_hint`, `keys::KeyRing::verify`) and `private_key_jwt` client assertions
//! (`oidc::client_auth::authenticate`, `crypto::client_jwks::verify_with_jwks`).
//!
//! Input: a mode character, then:
//! - `0` (mode 0, 3, 6, …): a token. `@ID_TOKEN@`, `@ID_TOKEN_PUBLIC@` and `@ACCESS_TOKEN@` become
//!   tokens of this run, so mutations start from valid signatures. Invariants: nothing is accepted
//!   that we did not sign (a hint that verifies carries exactly the claims of an ID token we
//!   issued, for the audience it names; an access token is never a hint; no client assertion
//!   passes: nobody here holds the client's key).
//! - `1`: `ALG [TYP]\nCLAIMS-JSON`: the claims are signed by the server's key ring (`RS256` or
//!   `ES256`, header `typ` if given). Invariants: `verify_id_token_hint` accepts exactly when `typ`
//!   is absent or `JWT` and `iss` is ours, and returns the claims signed; `subject_of_…` also
//!   needs the audience and a string `sub`; a server-signed token never authenticates a client.
//! - `2`: `HEADER-BYTES\nPAYLOAD-BYTES`: a JWS with exactly this protected header, signed with the
//!   `private_key_jwt` client's ES256 key whatever the header says. Invariant: the assertion is
//!   accepted if and only if every RFC 7523 rule that `authenticate` documents holds (header:
//!   `alg` ES256, a `kid` naming the key or none, no `crit`; `iss` = `sub` = client; `aud` the
//!   issuer or token endpoint; `exp` within (now − 30 s, now + 600 s]; `nbf`/`iat` not after
//!   now + 30 s; a new `jti` of 1–256 bytes). The clock stands at `NOW` (1 800 000 000).
#![no_main]

use std::collections::HashSet;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leasify_id::crypto::Alg;
use leasify_id::crypto::client_jwks::verify_with_jwks;
use leasify_id::oidc::client_auth::{JWT_BEARER_ASSERTION, PresentedCredentials, authenticate};
use leasify_id::oidc::tokens::{subject_of_id_token_hint, verify_id_token_hint};
use leasify_id_fuzz::{
    CLIENT_KID, CONFIDENTIAL, Harness, ISSUER, JWT, NOW, PUBLIC, debug, fields, harness, text,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// `jti`s of accepted assertions (the server must refuse them from then on).
static ACCEPTED_JTIS: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn token_endpoint() -> String {
    format!("{ISSUER}/token")
}

fn assertion(token: &str) -> PresentedCredentials {
    PresentedCredentials {
        client_assertion_type: Some(JWT_BEARER_ASSERTION.into()),
        client_assertion: Some(token.into()),
        ..Default::default()
    }
}

fn jwks(h: &Harness) -> String {
    let client = h
        .block_on(h.state.store.client_by_id(JWT))
        .unwrap()
        .unwrap();
    client.jwks.unwrap()
}

fn payload_of(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn raw_token(h: &Harness, token: &str) {
    let ours = [
        (&h.id_token_confidential, CONFIDENTIAL),
        (&h.id_token_public, PUBLIC),
    ];
    if let Ok((header, _)) = h.block_on(h.state.keys.verify(token)) {
        let alg = header.get("alg").and_then(Value::as_str);
        assert!(matches!(alg, Some("RS256" | "ES256")), "{header:?}");
        assert!(header.get("kid").is_some_and(Value::is_string));
    }
    let hint = h.block_on(verify_id_token_hint(&h.state, token));
    debug(|| format!("hint: {hint:?}"));
    if let Some(claims) = hint {
        let issued = ours
            .iter()
            .any(|(t, _)| payload_of(t).as_ref() == Some(&claims));
        assert!(issued, "a hint we never issued was accepted: {claims:?}");
    }
    for client in [CONFIDENTIAL, PUBLIC, JWT] {
        if let Some(sub) = h.block_on(subject_of_id_token_hint(&h.state, token, client)) {
            assert_eq!(sub, leasify_id_fuzz::USER);
            let claims = h
                .block_on(verify_id_token_hint(&h.state, token))
                .expect("a subject without a valid hint");
            let (expected, _) = ours.iter().find(|(_, c)| *c == client).expect("audience");
            assert_eq!(Some(claims), payload_of(expected), "hint for {client}");
        }
    }
    assert!(verify_with_jwks(token, &jwks(h)).is_err());
    let result = h.block_on(authenticate(&h.state, &assertion(token), &token_endpoint()));
    assert!(result.is_err(), "an assertion nobody signed was accepted");
}

fn server_signed(h: &Harness, params: &[u8], claims: &[u8]) {
    let params = text(params);
    let mut words = params.splitn(2, ' ');
    let alg: Alg = words
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap_or(Alg::RS256);
    let typ = words.next();
    let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(claims) else {
        return;
    };
    let token = h
        .block_on(h.state.keys.sign(alg, typ, &claims))
        .expect("signing");
    let expected_hint = typ.is_none_or(|t| t.eq_ignore_ascii_case("JWT"))
        && claims.get("iss").and_then(Value::as_str) == Some(ISSUER);
    let hint = h.block_on(verify_id_token_hint(&h.state, &token));
    debug(|| format!("server-signed hint accepted: {}", hint.is_some()));
    assert_eq!(
        hint.is_some(),
        expected_hint,
        "typ {typ:?}, claims {claims:?}"
    );
    if let Some(verified) = hint {
        assert_eq!(verified, claims);
    }
    for client in [CONFIDENTIAL, PUBLIC, JWT, "", "x"] {
        let audience = match claims.get("aud") {
            Some(Value::String(aud)) => aud == client,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client)),
            _ => false,
        };
        let expected = (expected_hint && audience)
            .then(|| {
                claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .flatten();
        let subject = h.block_on(subject_of_id_token_hint(&h.state, &token, client));
        assert_eq!(
            subject,
            expected,
            "aud {:?} for {client:?}",
            claims.get("aud")
        );
    }
    assert!(verify_with_jwks(&token, &jwks(h)).is_err());
    let result = h.block_on(authenticate(
        &h.state,
        &assertion(&token),
        &token_endpoint(),
    ));
    assert!(
        result.is_err(),
        "a server-signed token authenticated a client"
    );
}

/// Why the rules refuse this assertion, or `None` if they accept it (jti freshness aside).
fn refusal(header: &Map<String, Value>, claims: &Map<String, Value>) -> Option<&'static str> {
    if header.contains_key("crit") {
        return Some("crit");
    }
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Some("alg");
    }
    if header
        .get("kid")
        .and_then(Value::as_str)
        .is_some_and(|kid| kid != CLIENT_KID)
    {
        return Some("kid");
    }
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    if string("iss") != Some(JWT) || string("sub") != Some(JWT) {
        return Some("iss/sub");
    }
    let endpoint = token_endpoint();
    let accepted = [ISSUER, endpoint.as_str()];
    let audience = match claims.get("aud") {
        Some(Value::String(aud)) => accepted.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|a| accepted.contains(&a)),
        _ => false,
    };
    if !audience {
        return Some("aud");
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_i64).map(i128::from);
    let now = i128::from(NOW);
    match number("exp") {
        Some(exp) if exp + 30 > now && exp <= now + 600 => {}
        _ => return Some("exp"),
    }
    if number("nbf").is_some_and(|nbf| nbf > now + 30)
        || number("iat").is_some_and(|iat| iat > now + 30)
    {
        return Some("nbf/iat");
    }
    match string("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= 256 => None,
        _ => Some("jti"),
    }
}

fn client_signed(h: &Harness, header_bytes: &[u8], payload: &[u8]) {
    let token = h.client_signed(header_bytes, payload);
    let header = serde_json::from_slice::<Map<String, Value>>(header_bytes).ok();
    let claims = serde_json::from_slice::<Map<String, Value>>(payload).ok();
    // Headers that josekit may read differently from the server's own peek (`b64`, `zip`, a
    // non-string `kid`, …) get the one-way check only: refusing them is always allowed.
    let plain_header = header.as_ref().is_some_and(|h| {
        h.iter().all(|(k, v)| match k.as_str() {
            "alg" => true,
            "kid" | "typ" => v.is_string(),
            _ => false,
        })
    });

    if let Ok((verified_header, verified_claims)) = verify_with_jwks(&token, &jwks(h)) {
        assert_eq!(Some(&verified_header), header.as_ref());
        assert_eq!(Some(&verified_claims), claims.as_ref());
        assert_eq!(
            verified_header.get("alg").and_then(Value::as_str),
            Some("ES256")
        );
        assert!(!verified_header.contains_key("crit"));
    }

    let result = h.block_on(authenticate(
        &h.state,
        &assertion(&token),
        &token_endpoint(),
    ));
    let jti = claims
        .as_ref()
        .and_then(|c| c.get("jti"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut accepted = ACCEPTED_JTIS.lock().unwrap();
    let accepted = accepted.get_or_insert_with(HashSet::new);
    let replayed = jti.as_ref().is_some_and(|j| accepted.contains(j));
    let why = match (&header, &claims) {
        (Some(header), Some(claims)) => refusal(header, claims),
        _ => Some("not JSON objects"),
    };
    debug(|| {
        format!(
            "assertion: {:?}, rules: {why:?}",
            result.as_ref().map(|c| &c.id)
        )
    });
    match result {
        Ok(client) => {
            assert_eq!(client.id, JWT);
            assert_eq!(why, None, "accepted although the rules refuse it ({why:?})");
            assert!(!replayed, "jti {jti:?} replayed");
            accepted.insert(jti.expect("accepted without jti"));
        }
        Err(e) => {
            if why.is_none() && !replayed && plain_header {
                panic!(
                    "refused ({} {}) although every rule holds: {:?} {:?}",
                    e.error, e.description, header, claims
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let h = harness();
    match mode % 3 {
        0 => raw_token(h, &text(&h.with_tokens(rest))),
        1 => {
            let parts = fields(rest, 2);
            server_signed(h, parts[0], parts.get(1).copied().unwrap_or_default());
        }
        _ => {
            let parts = fields(rest, 2);
            client_signed(h, parts[0], parts.get(1).copied().unwrap_or_default());
        }
    }
});

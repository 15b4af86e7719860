use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jws::{self, JwsHeader};
use serde_json::{Value, json};

use super::*;

const NOW: UnixTime = 1_800_000_000;
const TOKEN_URL: &str = "https://id.leasify.se/token";

struct Key(EcKeyPair);

impl Key {
    fn new() -> Self {
        Key(EcKeyPair::generate(EcCurve::P256).unwrap())
    }

    fn proof(&self, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type(PROOF_TYP);
        header.set_jwk(self.0.to_jwk_public_key());
        let signer = jws::ES256
            .signer_from_jwk(&self.0.to_jwk_private_key())
            .unwrap();
        jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap()
    }

    fn token_proof(&self, jti: &str, iat: UnixTime) -> String {
        self.proof(json!({"jti": jti, "htm": "POST", "htu": TOKEN_URL, "iat": iat}))
    }
}

fn at_token_endpoint() -> ProofContext<'static> {
    ProofContext {
        method: "POST",
        url: TOKEN_URL,
        access_token: None,
        nonce_required: false,
    }
}

fn verifier() -> DpopVerifier {
    DpopVerifier::new(b"server secret for the tests, 32 bytes")
}

#[test]
fn a_good_proof_gives_its_key_thumbprint_once() {
    let verifier = verifier();
    let key = Key::new();
    let proof = key.token_proof("j1", NOW);
    let jkt = verifier.check(&proof, &at_token_endpoint(), NOW).unwrap();
    let expected =
        crate::crypto::embedded_jwk::thumbprint(key.0.to_jwk_public_key().as_ref()).unwrap();
    assert_eq!(jkt, expected);
    assert_eq!(
        verifier.check(&proof, &at_token_endpoint(), NOW + 1),
        Err(ProofError::Invalid("the proof was used before"))
    );
    // The same jti from another key is another proof.
    assert!(
        verifier
            .check(
                &Key::new().token_proof("j1", NOW),
                &at_token_endpoint(),
                NOW
            )
            .is_ok()
    );
}

#[test]
fn a_replayed_jti_is_forgotten_only_once_its_proof_is_too_old() {
    let verifier = verifier();
    let key = Key::new();
    let proof = key.token_proof("j1", NOW);
    verifier.check(&proof, &at_token_endpoint(), NOW).unwrap();
    let last_accepted = NOW + IAT_WINDOW_SECS;
    assert!(
        verifier
            .check(&proof, &at_token_endpoint(), last_accepted)
            .is_err()
    );
    assert_eq!(
        verifier.check(&proof, &at_token_endpoint(), last_accepted + 1),
        Err(ProofError::Invalid("iat is too far from the current time"))
    );
}

#[test]
fn method_url_and_time_must_match_the_request() {
    let verifier = verifier();
    let key = Key::new();
    let check = |claims: Value| verifier.check(&key.proof(claims), &at_token_endpoint(), NOW);
    let refused = |claims: Value, why: &'static str| {
        assert_eq!(check(claims), Err(ProofError::Invalid(why)));
    };
    refused(
        json!({"jti": "a", "htm": "GET", "htu": TOKEN_URL, "iat": NOW}),
        "htm does not match the request method",
    );
    refused(
        json!({"jti": "b", "htm": "POST", "htu": "https://id.leasify.se/userinfo", "iat": NOW}),
        "htu does not match the request URL",
    );
    refused(
        json!({"jti": "c", "htm": "POST", "htu": "https://evil.example/token", "iat": NOW}),
        "htu does not match the request URL",
    );
    refused(
        json!({"jti": "d", "htm": "POST", "htu": TOKEN_URL, "iat": NOW - 61}),
        "iat is too far from the current time",
    );
    refused(
        json!({"jti": "e", "htm": "POST", "htu": TOKEN_URL, "iat": NOW + 61}),
        "iat is too far from the current time",
    );
    refused(
        json!({"htm": "POST", "htu": TOKEN_URL, "iat": NOW}),
        "jti is missing or too long",
    );
    // Query and fragment are ignored; scheme and host case and the default port normalised.
    assert!(
        check(json!({"jti": "f", "htm": "POST",
        "htu": "HTTPS://ID.leasify.se:443/token?x=1#y", "iat": NOW}))
        .is_ok()
    );
}

#[test]
fn at_a_resource_the_proof_must_hash_the_access_token() {
    let verifier = verifier();
    let key = Key::new();
    let url = "https://id.leasify.se/userinfo";
    let resource = ProofContext {
        method: "GET",
        url,
        access_token: Some("the.access.token"),
        nonce_required: false,
    };
    let ath = sha256_b64url(b"the.access.token");
    let wrong = key.proof(json!({"jti": "1", "htm": "GET", "htu": url, "iat": NOW,
        "ath": sha256_b64url(b"another.access.token")}));
    assert_eq!(
        verifier.check(&wrong, &resource, NOW),
        Err(ProofError::Invalid("ath does not match the access token"))
    );
    let missing = key.proof(json!({"jti": "2", "htm": "GET", "htu": url, "iat": NOW}));
    assert!(verifier.check(&missing, &resource, NOW).is_err());
    let good = key.proof(json!({"jti": "3", "htm": "GET", "htu": url, "iat": NOW, "ath": ath}));
    assert!(verifier.check(&good, &resource, NOW).is_ok());
}

#[test]
fn a_required_nonce_is_handed_out_and_then_accepted_for_two_windows() {
    let verifier = verifier();
    let key = Key::new();
    let context = ProofContext {
        nonce_required: true,
        ..at_token_endpoint()
    };
    let without = key.token_proof("1", NOW);
    let Err(ProofError::UseNonce { nonce }) = verifier.check(&without, &context, NOW) else {
        panic!("a proof without a nonce must be answered with use_dpop_nonce");
    };
    assert_eq!(nonce, verifier.nonce(NOW));
    let with = |jti: &str, at: UnixTime| {
        key.proof(
            json!({"jti": jti, "htm": "POST", "htu": TOKEN_URL, "iat": at,
            "nonce": nonce}),
        )
    };
    assert!(verifier.check(&with("2", NOW), &context, NOW).is_ok());
    let next_window = NOW + NONCE_PERIOD_SECS;
    assert!(
        verifier
            .check(&with("3", next_window), &context, next_window)
            .is_ok()
    );
    let stale = NOW + 2 * NONCE_PERIOD_SECS;
    assert!(matches!(
        verifier.check(&with("4", stale), &context, stale),
        Err(ProofError::UseNonce { .. })
    ));
    // Another server's nonce is no nonce of ours.
    let foreign = DpopVerifier::new(b"another server's secret, 32 bytes").nonce(NOW);
    let proof = key.proof(
        json!({"jti": "5", "htm": "POST", "htu": TOKEN_URL, "iat": NOW,
        "nonce": foreign}),
    );
    assert!(matches!(
        verifier.check(&proof, &context, NOW),
        Err(ProofError::UseNonce { .. })
    ));
    // Two instances sharing the secret accept each other's nonces.
    assert_eq!(
        verifier.nonce(NOW),
        super::DpopVerifier::new(b"server secret for the tests, 32 bytes").nonce(NOW)
    );
}

#[test]
fn headers_are_one_proof_or_none() {
    let one = PresentedProof::from_header_values([Some(" abc ")].into_iter());
    assert_eq!(one, PresentedProof::One("abc".into()));
    assert!(PresentedProof::from_header_values(std::iter::empty()).is_absent());
    assert_eq!(
        PresentedProof::from_header_values([Some("a"), Some("b")].into_iter()),
        PresentedProof::Malformed
    );
    assert_eq!(
        PresentedProof::from_header_values([None].into_iter()),
        PresentedProof::Malformed
    );
}

//! The key ring against a real (in-memory) store.

use josekit::jwk::KeyPair;
use josekit::jws::{self, JwsHeader};

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::*;
use crate::clock::{ManualClock, OsEntropy};
use crate::crypto::generate_signing_key;
use crate::crypto::{Alg, CryptoError, SecretBox};
use crate::store::SqliteStore;
use crate::store::Store;

const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

async fn store() -> Arc<dyn Store> {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

fn secret_box() -> Arc<SecretBox> {
    Arc::new(SecretBox::new(vec![("sb1".into(), [42; 32])], "sb1").unwrap())
}

async fn new_ring() -> (KeyRing, ManualClock, Arc<dyn Store>) {
    let clock = ManualClock::default();
    let store = store().await;
    let ring = KeyRing::new(Arc::clone(&store), secret_box(), Arc::new(clock.clone()));
    ring.ensure_keys(&OsEntropy).await.unwrap();
    (ring, clock, store)
}

fn claims(sub: &str) -> Map<String, Value> {
    serde_json::json!({"iss": "https://id.example", "sub": sub, "aud": "client", "exp": 2_000_000_000u32})
        .as_object()
        .unwrap()
        .clone()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn ensure_keys_creates_one_key_per_alg_once() {
    let (ring, _clock, store) = new_ring().await;
    let rows = store.list_signing_keys().await.unwrap();
    assert_eq!(rows.len(), 2);
    let mut algs: Vec<_> = rows.iter().map(|k| k.alg.as_str()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "RS256"]);
    ring.ensure_keys(&OsEntropy).await.unwrap();
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 2);
    let list = ring.list().await.unwrap();
    assert!(list.iter().all(|k| k.status == "signing"), "{list:?}");
}

#[tokio::test]
async fn jwks_is_public_only_with_unique_kids() {
    let (ring, _clock, _store) = new_ring().await;
    ring.rotate(&OsEntropy, 3600, 7200, &crate::audit::Caller::system())
        .await
        .unwrap();
    let jwks = ring.jwks().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4);
    let unique: HashSet<_> = kids(&jwks).into_iter().collect();
    assert_eq!(unique.len(), 4);
    for k in keys {
        let obj = k.as_object().unwrap();
        for m in PRIVATE_MEMBERS {
            assert!(!obj.contains_key(m), "private member {m} published: {k}");
        }
        assert_eq!(k["use"], "sig");
        match k["alg"].as_str().unwrap() {
            "RS256" => assert!(k["kty"] == "RSA" && k["n"].is_string() && k["e"] == "AQAB"),
            "ES256" => assert!(
                k["kty"] == "EC" && k["crv"] == "P-256" && k["x"].is_string() && k["y"].is_string()
            ),
            other => panic!("unexpected alg {other}"),
        }
    }
}

#[tokio::test]
async fn sign_verify_round_trip() {
    let (ring, _clock, _store) = new_ring().await;
    for (alg, typ) in [
        (Alg::RS256, None),
        (Alg::ES256, Some("at+jwt")),
        (Alg::RS256, Some("logout+jwt")),
    ] {
        let token = ring.sign(alg, typ, &claims("user-1")).await.unwrap();
        let (header, got) = ring.verify(&token).await.unwrap();
        assert_eq!(got, claims("user-1"));
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], ring.signing_kid(alg).await.unwrap().as_str());
        assert_eq!(header.get("typ").and_then(Value::as_str), typ);
        assert_eq!(header.len(), 2 + usize::from(typ.is_some()), "{header:?}");
        // Any change to the payload breaks the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&Value::Object(claims("user-2"))),
            parts[2]
        );
        assert!(matches!(
            ring.verify(&forged).await,
            Err(KeyError::Crypto(CryptoError::Signature(_)))
        ));
    }
    assert!(ring.verify("garbage").await.is_err());
    assert!(ring.verify("a.b.c.d").await.is_err());
    assert!(ring.verify("").await.is_err());
}

#[tokio::test]
async fn foreign_keys_are_rejected() {
    let (ring, _clock, _store) = new_ring().await;
    // Signed by another deployment: its kid is unknown here.
    let (other, _c, _s) = new_ring().await;
    let token = other.sign(Alg::RS256, None, &claims("u")).await.unwrap();
    assert!(matches!(
        ring.verify(&token).await,
        Err(KeyError::Crypto(CryptoError::UnknownKeyId(_)))
    ));

    // Signed by a foreign key that claims one of our kids.
    let our_kid = ring.signing_kid(Alg::ES256).await.unwrap();
    let pair = jws::ES256.generate_key_pair().unwrap();
    let mut signer = jws::ES256
        .signer_from_der(pair.to_der_private_key())
        .unwrap();
    signer.set_key_id(our_kid.clone());
    let payload = serde_json::to_vec(&claims("u")).unwrap();
    let token = jws::serialize_compact(&payload, &JwsHeader::new(), &signer).unwrap();
    assert!(matches!(
        ring.verify(&token).await,
        Err(KeyError::Crypto(CryptoError::Signature(_)))
    ));
}

#[tokio::test]
async fn alg_none_and_alg_confusion_are_rejected() {
    let (ring, _clock, _store) = new_ring().await;
    let rs_kid = ring.signing_kid(Alg::RS256).await.unwrap();
    let es_kid = ring.signing_kid(Alg::ES256).await.unwrap();
    let payload = b64(&Value::Object(claims("u")));
    let none = format!(
        "{}.{payload}.",
        b64(&serde_json::json!({"alg": "none", "kid": rs_kid}))
    );
    assert!(matches!(
        ring.verify(&none).await,
        Err(KeyError::Crypto(CryptoError::Signature(_)))
    ));
    let none = format!("{}.{payload}.", b64(&serde_json::json!({"alg": "none"})));
    assert!(ring.verify(&none).await.is_err());

    // A genuine ES256 token relabelled as RS256 (or for the RS256 kid) fails.
    let token = ring.sign(Alg::ES256, None, &claims("u")).await.unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    for header in [
        serde_json::json!({"alg": "RS256", "kid": es_kid}),
        serde_json::json!({"alg": "ES256", "kid": rs_kid}),
    ] {
        let relabelled = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
        assert!(
            matches!(
                ring.verify(&relabelled).await,
                Err(KeyError::Crypto(CryptoError::Signature(_)))
            ),
            "{header}"
        );
    }

    // HS256 keyed with the public JWK (classic confusion attack).
    let jwks = ring.jwks().await.unwrap();
    let public = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == rs_kid.as_str())
        .unwrap()
        .to_string();
    let mut hs = jws::HS256.signer_from_bytes(public.as_bytes()).unwrap();
    hs.set_key_id(rs_kid.clone());
    let token = jws::serialize_compact(
        &serde_json::to_vec(&claims("u")).unwrap(),
        &JwsHeader::new(),
        &hs,
    )
    .unwrap();
    assert!(matches!(
        ring.verify(&token).await,
        Err(KeyError::Crypto(CryptoError::Signature(_)))
    ));

    // A token without kid.
    let token = ring.sign(Alg::RS256, None, &claims("u")).await.unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let no_kid = format!(
        "{}.{}.{}",
        b64(&serde_json::json!({"alg": "RS256"})),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        ring.verify(&no_kid).await,
        Err(KeyError::Crypto(CryptoError::Signature(_)))
    ));

    // A critical header extension.
    let crit = format!(
        "{}.{}.{}",
        b64(&serde_json::json!({"alg": "RS256", "kid": rs_kid, "crit": ["b64"], "b64": false})),
        parts[1],
        parts[2]
    );
    assert!(ring.verify(&crit).await.is_err());
}

#[tokio::test]
async fn rotation_publishes_before_signing_and_unpublishes_later() {
    let (ring, clock, store) = new_ring().await;
    let old_rs = ring.signing_kid(Alg::RS256).await.unwrap();
    let old_es = ring.signing_kid(Alg::ES256).await.unwrap();
    let old_token = ring.sign(Alg::RS256, None, &claims("u")).await.unwrap();

    let new = ring
        .rotate(&OsEntropy, 3600, 7200, &crate::audit::Caller::system())
        .await
        .unwrap();
    assert_eq!(new.len(), 2);
    // Published at once, but the old keys still sign.
    let published = kids(&ring.jwks().await.unwrap());
    assert!(new.iter().all(|k| published.contains(k)));
    assert_eq!(ring.signing_kid(Alg::RS256).await.unwrap(), old_rs);
    assert_eq!(ring.signing_kid(Alg::ES256).await.unwrap(), old_es);
    let statuses: Vec<(String, &str)> = ring
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.status))
        .collect();
    for kid in &new {
        assert!(statuses.contains(&(kid.clone(), "next")), "{statuses:?}");
    }
    assert!(statuses.contains(&(old_rs.clone(), "signing")));

    // After the hand-over the new keys sign; the old ones still verify.
    clock.advance(3600);
    let new_rs = ring.signing_kid(Alg::RS256).await.unwrap();
    assert!(new.contains(&new_rs));
    assert!(new.contains(&ring.signing_kid(Alg::ES256).await.unwrap()));
    let token = ring.sign(Alg::RS256, None, &claims("u")).await.unwrap();
    assert_eq!(ring.verify(&token).await.unwrap().0["kid"], new_rs.as_str());
    ring.verify(&old_token).await.unwrap();
    assert!(kids(&ring.jwks().await.unwrap()).contains(&old_rs));
    let list = ring.list().await.unwrap();
    assert_eq!(
        list.iter().find(|k| k.kid == old_rs).unwrap().status,
        "retired"
    );
    assert_eq!(
        list.iter().find(|k| k.kid == new_rs).unwrap().status,
        "signing"
    );
    assert_eq!(
        list.iter().find(|k| k.kid == old_rs).unwrap().unpublish_at,
        Some(list[0].active_from.max(list[1].active_from) + 7200)
    );

    // Until unpublish_at. (ManualClock also follows real time, which moved during key
    // generation: steer relative to the stored instant, with a few seconds of slack.)
    let unpublish_at = list
        .iter()
        .find(|k| k.kid == old_rs)
        .unwrap()
        .unpublish_at
        .unwrap();
    clock.advance(unpublish_at - clock.now() - 5);
    assert!(kids(&ring.jwks().await.unwrap()).contains(&old_rs));
    // Verified (and remembered) just before: the memo does not outlive the key's publication.
    ring.verify(&old_token).await.unwrap();
    ring.verify(&old_token).await.unwrap();
    clock.advance(5);
    let published = kids(&ring.jwks().await.unwrap());
    assert_eq!(published.len(), 2);
    assert!(!published.contains(&old_rs) && !published.contains(&old_es));
    assert!(matches!(
        ring.verify(&old_token).await,
        Err(KeyError::Crypto(CryptoError::UnknownKeyId(_)))
    ));

    // The next rotation deletes the unpublished rows.
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 4);
    ring.rotate(&OsEntropy, 0, 60, &crate::audit::Caller::system())
        .await
        .unwrap();
    let rows = store.list_signing_keys().await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|k| k.kid != old_rs && k.kid != old_es));
}

#[tokio::test]
async fn second_rotation_replaces_a_pending_key() {
    let (ring, clock, _store) = new_ring().await;
    let first = ring
        .rotate(&OsEntropy, 3600, 600, &crate::audit::Caller::system())
        .await
        .unwrap();
    let second = ring
        .rotate(&OsEntropy, 1800, 600, &crate::audit::Caller::system())
        .await
        .unwrap();
    clock.advance(1800);
    let signing = ring.signing_kid(Alg::RS256).await.unwrap();
    assert!(second.contains(&signing));
    clock.advance(1800);
    // The first pending key never takes over and is unpublished on schedule.
    assert_eq!(ring.signing_kid(Alg::RS256).await.unwrap(), signing);
    let published = kids(&ring.jwks().await.unwrap());
    assert!(
        first.iter().all(|k| !published.contains(k)),
        "{published:?}"
    );
}

#[tokio::test]
async fn not_yet_active_key_is_a_fallback() {
    let clock = ManualClock::default();
    let store = store().await;
    let sb = secret_box();
    let now = clock.now();
    let key =
        generate_signing_key(Alg::ES256, "future".into(), now, now + 600, &sb, &OsEntropy).unwrap();
    store.insert_signing_key(&key, &[]).await.unwrap();
    let ring = KeyRing::new(Arc::clone(&store), sb, Arc::new(clock.clone()));
    assert_eq!(ring.signing_kid(Alg::ES256).await.unwrap(), "future");
    assert!(matches!(
        ring.sign(Alg::RS256, None, &claims("u")).await,
        Err(KeyError::Crypto(CryptoError::NoSigningKey(_)))
    ));
    // ensure_keys wants a key that is active now.
    ring.ensure_keys(&OsEntropy).await.unwrap();
    assert_ne!(ring.signing_kid(Alg::ES256).await.unwrap(), "future");
    ring.sign(Alg::RS256, None, &claims("u")).await.unwrap();
}

#[tokio::test]
async fn instances_share_keys_through_the_store() {
    let clock = ManualClock::default();
    let store = store().await;
    let sb = secret_box();
    let a = KeyRing::new(Arc::clone(&store), Arc::clone(&sb), Arc::new(clock.clone()));
    let b = KeyRing::new(Arc::clone(&store), Arc::clone(&sb), Arc::new(clock.clone()));
    a.ensure_keys(&OsEntropy).await.unwrap();
    b.ensure_keys(&OsEntropy).await.unwrap();
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 2);
    assert_eq!(a.jwks().await.unwrap(), b.jwks().await.unwrap());

    // B rotates with immediate hand-over; A still has the old keys cached but verifies B's
    // tokens after an early reload for the unknown kid.
    b.rotate(&OsEntropy, 0, 600, &crate::audit::Caller::system())
        .await
        .unwrap();
    let token = b.sign(Alg::ES256, None, &claims("u")).await.unwrap();
    a.verify(&token).await.unwrap();
    // Reloads for unknown kids are rate-limited.
    let (other, _c, _s) = new_ring().await;
    let foreign = other.sign(Alg::ES256, None, &claims("u")).await.unwrap();
    assert!(a.verify(&foreign).await.is_err());
    assert!(!a.may_reload_for_unknown_kid(clock.now()));
    clock.advance(5);
    assert!(a.may_reload_for_unknown_kid(clock.now()));

    // A picks up the new signing key once its cache expires.
    clock.advance(30);
    assert_eq!(
        a.signing_kid(Alg::ES256).await.unwrap(),
        b.signing_kid(Alg::ES256).await.unwrap()
    );
}

#[tokio::test]
async fn wrong_secret_box_fails_loudly() {
    let (_ring, clock, store) = new_ring().await;
    let other_box = Arc::new(SecretBox::new(vec![("sb2".into(), [1; 32])], "sb2").unwrap());
    let ring = KeyRing::new(Arc::clone(&store), other_box, Arc::new(clock));
    let err = ring.ensure_keys(&OsEntropy).await.unwrap_err();
    assert!(err.to_string().contains("sb1"), "{err}");
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_published_jwks_is_built_again_only_when_it_changes() {
    let (ring, clock, _store) = new_ring().await;
    let first = ring.published_jwks().await.unwrap();
    assert!(Arc::ptr_eq(&first, &ring.published_jwks().await.unwrap()));

    let new = ring
        .rotate(&OsEntropy, 3600, 7200, &crate::audit::Caller::system())
        .await
        .unwrap();
    let rotated = ring.published_jwks().await.unwrap();
    assert!(!Arc::ptr_eq(&first, &rotated));
    assert!(new.iter().all(|kid| kids(&rotated).contains(kid)));
    assert_eq!(kids(&rotated).len(), 4);

    // Once the old keys' unpublish time has passed, the document follows.
    clock.advance(3600 + 7200 + 10);
    let later = ring.published_jwks().await.unwrap();
    assert_eq!(kids(&later).len(), 2, "{later}");
    assert!(new.iter().all(|kid| kids(&later).contains(kid)));
}

//! What the fuzz targets share: one Leasify ID application state per process (in-memory SQLite,
//! fixed clock, no BankID, in-memory mail), with known clients, users and link tokens, driven from
//! a current-thread tokio runtime that is also created once.
//!
//! The clock is fixed at [`NOW`], so seed inputs can carry absolute times (`exp`, `iat`, …) that
//! stay meaningful from run to run.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use josekit::jwk::alg::ec::EcKeyPair;
use josekit::jws::{self, JwsSigner};
use leasify_id::clock::{Clock, OsEntropy};
use leasify_id::config::{Config, SecretsConfig};
use leasify_id::login::methods::{ACR_PASSWORD, Method};
use leasify_id::login::sessions::{self, ActiveSession};
use leasify_id::mail::transport::MemoryMailer;
use leasify_id::oidc::tokens::{IdTokenInput, mint_access_token, mint_id_token};
use leasify_id::state::{AppState, Overrides, build_with_store};
use leasify_id::store::{Client, Grant, SqliteStore, Store, User, UserToken};

/// The time every target runs at (2027-01-15T08:00:00Z).
pub const NOW: i64 = 1_800_000_000;
pub const ISSUER: &str = "https://id.example.test";

/// `client_secret_basic`, first party, every standard scope.
pub const CONFIDENTIAL: &str = "fuzz-confidential";
pub const CONFIDENTIAL_SECRET: &str = "fuzz-secret";
/// `client_secret_post`, third party.
pub const POST: &str = "fuzz-post";
pub const POST_SECRET: &str = "fuzz-post-secret";
/// A public client (`none`, PKCE required), third party, `openid profile` only.
pub const PUBLIC: &str = "fuzz-public";
/// `private_key_jwt` with the ES256 key [`Harness::client_key`] (kid [`CLIENT_KID`]).
pub const JWT: &str = "fuzz-jwt";
pub const CLIENT_KID: &str = "fuzz-key";

pub const REDIRECT_URI: &str = "https://rp.example/cb";
pub const REDIRECT_URI_WITH_QUERY: &str = "https://rp.example/cb?tenant=1";
pub const NATIVE_REDIRECT_URI: &str = "se.example.app:/cb";

pub const USER: &str = "fuzz-user";
pub const DISABLED_USER: &str = "fuzz-disabled-user";

/// The PKCE verifier behind the codes handed out for `@CODE@` (see the token target).
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Email link tokens stored at start, and what `links::inspect` must say about each.
pub const LINK_VALID_INVITE: &str = "link-valid-invite-0123456789abcdef";
pub const LINK_VALID_RESET: &str = "link-valid-reset-0123456789abcdef";
pub const LINK_USED: &str = "link-used-0123456789abcdef";
pub const LINK_EXPIRED: &str = "link-expired-0123456789abcdef";
pub const LINK_DISABLED_USER: &str = "link-disabled-user-0123456789abcdef";
pub const LINK_BOGUS_PURPOSE: &str = "link-bogus-purpose-0123456789abcdef";

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        NOW
    }
}

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub state: Arc<AppState>,
    /// The private key of the `private_key_jwt` client.
    pub client_key: EcKeyPair,
    /// A logged-in session of [`USER`], for issuing authorization codes.
    pub session: ActiveSession,
    /// ID tokens of [`USER`] for [`CONFIDENTIAL`] and [`PUBLIC`] (valid for the whole run: the
    /// clock stands still), and an access token (which must never pass as an ID token).
    pub id_token_confidential: String,
    pub id_token_public: String,
    pub access_token: String,
}

impl Harness {
    /// Runs a future to completion on the harness runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// A compact JWS whose protected header is exactly `header` (any bytes), signed with the
    /// client's ES256 key whatever the header claims.
    pub fn client_signed(&self, header: &[u8], payload: &[u8]) -> String {
        let signer = jws::ES256
            .signer_from_jwk(&self.client_key.to_jwk_private_key())
            .expect("ES256 signer");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = signer.sign(input.as_bytes()).expect("ES256 signature");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Replaces the placeholders `@ID_TOKEN@`, `@ID_TOKEN_PUBLIC@` and `@ACCESS_TOKEN@` by the
    /// tokens of this run (seeds cannot hold valid signatures: the keys are new every run).
    pub fn with_tokens(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        for (placeholder, token) in [
            ("@ID_TOKEN_PUBLIC@", &self.id_token_public),
            ("@ID_TOKEN@", &self.id_token_confidential),
            ("@ACCESS_TOKEN@", &self.access_token),
        ] {
            out = replace(&out, placeholder.as_bytes(), token.as_bytes());
        }
        out
    }

    /// A fresh authorization code for `client_id` (redirect URI [`REDIRECT_URI`], scope
    /// `openid offline_access`, nonce `n-0S6_WzA2Mj`, PKCE with [`PKCE_VERIFIER`] if `pkce`).
    pub fn issue_code(&self, client_id: &str, pkce: bool) -> String {
        use leasify_id::oidc::authorize::{AuthorizationRequest, issue_code};
        use leasify_id::oidc::response::{RedirectTarget, ResponseMode};
        let request = AuthorizationRequest {
            client_id: client_id.into(),
            target: RedirectTarget {
                redirect_uri: REDIRECT_URI.into(),
                response_mode: ResponseMode::Query,
                state: None,
            },
            scopes: vec!["openid".into(), "offline_access".into()],
            nonce: Some("n-0S6_WzA2Mj".into()),
            code_challenge: pkce.then(|| PKCE_CHALLENGE.into()),
            code_challenge_method: pkce.then(|| "S256".into()),
            prompt: vec![],
            max_age: None,
            ui_locales: None,
            login_hint: None,
            acr_values: None,
            hinted_subject: None,
            claims: Default::default(),
            third_party: false,
            dpop_jkt: None,
        };
        let response = self
            .block_on(issue_code(&self.state, &request, &self.session))
            .expect("code issued");
        response
            .params
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .expect("a code")
    }
}

/// `haystack` with every `from` replaced by `to`.
pub fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

static HARNESS: OnceLock<Harness> = OnceLock::new();

/// The process-wide harness (built on first use, about a second: it generates the signing keys).
pub fn harness() -> &'static Harness {
    HARNESS.get_or_init(build)
}

fn key(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

fn client(id: &str, method: &str, first_party: bool, scopes: &[&str]) -> Client {
    Client {
        id: id.into(),
        name: format!("Fuzz {id}"),
        secret_hash: None,
        token_endpoint_auth_method: method.into(),
        redirect_uris: vec![
            REDIRECT_URI.into(),
            REDIRECT_URI_WITH_QUERY.into(),
            NATIVE_REDIRECT_URI.into(),
        ],
        post_logout_redirect_uris: vec![],
        allowed_scopes: scopes.iter().map(|s| s.to_string()).collect(),
        first_party,
        created_at: NOW - 86_400,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        jwks: None,
        jwks_uri: None,
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        resources: vec![],
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        require_dpop_nonce: false,
    }
}

fn user(id: &str, email: &str, disabled: bool) -> User {
    User {
        id: id.into(),
        email: email.into(),
        email_verified: true,
        name: "Anna Maria Svensson".into(),
        locale: "sv".into(),
        password_hash: None,
        disabled,
        created_at: NOW - 86_400,
        updated_at: NOW - 86_400,
    }
}

fn build() -> Harness {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut config = Config::defaults();
    config.issuer = ISSUER.into();
    // Nothing is written there: secrets are configured and mail stays in memory.
    config.data_dir = std::env::temp_dir().join("leasify-fuzz-unused");
    config.secrets = SecretsConfig {
        encryption_keys: BTreeMap::from([("k1".to_string(), key(1))]),
        active_encryption_key: "k1".into(),
        hmac_key: key(2),
        blind_index_key: key(3),
    };
    let client_key = jws::ES256.generate_key_pair().expect("ES256 key");
    let (state, session, tokens) = rt.block_on(async {
        let store = Arc::new(
            SqliteStore::connect("sqlite::memory:")
                .await
                .expect("in-memory SQLite"),
        );
        store.migrate().await.expect("migrations");
        let overrides = Overrides {
            clock: Arc::new(FixedClock),
            entropy: Arc::new(OsEntropy),
            mailer: Some(Arc::new(MemoryMailer::default())),
            bankid: false,
        };
        let state = build_with_store(config, store, overrides)
            .await
            .expect("application state");
        let all = ["openid", "profile", "email", "offline_access"];
        let mut confidential = client(CONFIDENTIAL, "client_secret_basic", true, &all);
        confidential.secret_hash = Some(state.hmac.hash_hex(CONFIDENTIAL_SECRET.as_bytes()));
        let mut post = client(POST, "client_secret_post", false, &all);
        post.secret_hash = Some(state.hmac.hash_hex(POST_SECRET.as_bytes()));
        let public = client(PUBLIC, "none", false, &["openid", "profile"]);
        let mut jwt = client(JWT, "private_key_jwt", true, &all);
        let mut public_jwk = client_key.to_jwk_public_key();
        public_jwk.set_key_id(CLIENT_KID);
        jwt.jwks = Some(format!(
            "{{\"keys\":[{}]}}",
            serde_json::to_string(public_jwk.as_ref()).expect("JWK JSON")
        ));
        for c in [confidential, post, public, jwt] {
            state.store.insert_client(&c, &[]).await.expect("client");
        }
        let anna = user(USER, "anna@example.se", false);
        state.store.insert_user(&anna, &[]).await.expect("user");
        let disabled = user(DISABLED_USER, "off@example.se", true);
        state.store.insert_user(&disabled, &[]).await.expect("user");
        insert_links(&state, &anna, &disabled).await;
        let (_, session) = sessions::start(&state, anna, Method::Password)
            .await
            .expect("session");
        let grant = |client_id: &str| Grant {
            id: format!("grant-{client_id}"),
            user_id: USER.into(),
            client_id: client_id.into(),
            scope: "openid".into(),
            auth_time: NOW - 60,
            amr: vec!["pwd".into()],
            acr: ACR_PASSWORD.into(),
            sid: Some(session.session.sid.clone()),
            created_at: NOW - 60,
            expires_at: NOW + 3_600,
            revoked_at: None,
            requested_claims: None,
        };
        let id_token_confidential = mint_id(&state, &grant(CONFIDENTIAL)).await;
        let id_token_public = mint_id(&state, &grant(PUBLIC)).await;
        let access_token = mint_access_token(&state, &grant(CONFIDENTIAL), "openid", None)
            .await
            .expect("access token");
        (
            state,
            session,
            [id_token_confidential, id_token_public, access_token],
        )
    });
    let [id_token_confidential, id_token_public, access_token] = tokens;
    Harness {
        rt,
        state,
        client_key,
        session,
        id_token_confidential,
        id_token_public,
        access_token,
    }
}

async fn mint_id(state: &AppState, grant: &Grant) -> String {
    let input = IdTokenInput {
        grant,
        nonce: Some("n-0S6_WzA2Mj"),
        access_token: "at",
        extra_claims: Default::default(),
    };
    mint_id_token(state, input).await.expect("ID token")
}

async fn insert_links(state: &AppState, anna: &User, disabled: &User) {
    use leasify_id::account::links::{Purpose, prepare_link};
    use leasify_id::crypto::sha256_hex;
    let rows: [(&str, &User, &str, i64, Option<i64>); 6] = [
        (LINK_VALID_INVITE, anna, "invite", NOW + 3_600, None),
        (LINK_VALID_RESET, anna, "reset", NOW + 3_600, None),
        (LINK_USED, anna, "reset", NOW + 3_600, Some(NOW - 60)),
        (LINK_EXPIRED, anna, "reset", NOW, None),
        (LINK_DISABLED_USER, disabled, "reset", NOW + 3_600, None),
        (LINK_BOGUS_PURPOSE, anna, "bogus", NOW + 3_600, None),
    ];
    for (raw, user, purpose, expires_at, used_at) in rows {
        let (_, email) = prepare_link(state, user, Purpose::Reset, None).expect("link email");
        let token = UserToken {
            token_hash: sha256_hex(raw.as_bytes()),
            user_id: user.id.clone(),
            purpose: purpose.into(),
            created_at: NOW - 600,
            expires_at,
            used_at,
        };
        state
            .store
            .insert_user_token(&token, &email, None, &[])
            .await
            .expect("link token");
    }
}

/// Prints what a target decided when `LEASIFY_FUZZ_DEBUG` is set (for checking seeds by hand:
/// `LEASIFY_FUZZ_DEBUG=1 <binary> -runs=0 <corpus copy>`).
pub fn debug(what: impl FnOnce() -> String) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("LEASIFY_FUZZ_DEBUG").is_some()) {
        eprintln!("leasify-fuzz: {}", what());
    }
}

/// Splits fuzz input into at most `n` parts at `\n` (the last part keeps any further newlines).
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |b| *b == b'\n').collect()
}

/// Lossy UTF-8 (targets whose real input is already a `&str` see only valid UTF-8).
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

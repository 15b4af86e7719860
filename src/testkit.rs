//! Fixtures for unit tests of the protocol and domain logic: the real [`AppState`] on an
//! in-memory SQLite database, a manual clock, an in-memory mailer and no BankID connection, so
//! the logic runs without HTTP, a network or sleeping. The HTTP contract is tested in `tests/`.

use std::sync::Arc;

use crate::clock::{ManualClock, OsEntropy};
use crate::config::Config;
use crate::login::methods::Method;
use crate::login::sessions::{self, ActiveSession};
use crate::mail::transport::MemoryMailer;
use crate::state::{AppState, Overrides, build_with_store};
use crate::store::{Client, SqliteStore, Store, User};

/// A redirect URI every fixture client registers.
pub const REDIRECT_URI: &str = "https://rp.example/cb";

pub struct TestKit {
    pub state: Arc<AppState>,
    pub clock: ManualClock,
    pub mailer: MemoryMailer,
}

impl TestKit {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A kit on the default (development) configuration after `adjust`.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::defaults();
        config.data_dir =
            std::env::temp_dir().join(format!("leasify-unit-{}", uuid::Uuid::new_v4().simple()));
        config.secrets = fixed_secrets();
        adjust(&mut config);
        let store = Arc::new(
            SqliteStore::connect("sqlite::memory:")
                .await
                .expect("in-memory SQLite"),
        );
        store.migrate().await.expect("migrations");
        let clock = ManualClock::default();
        let mailer = MemoryMailer::default();
        let overrides = Overrides {
            clock: Arc::new(clock.clone()),
            entropy: Arc::new(OsEntropy),
            mailer: Some(Arc::new(mailer.clone())),
            bankid: false,
        };
        let state = build_with_store(config, store, overrides)
            .await
            .expect("state");
        TestKit {
            state,
            clock,
            mailer,
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    /// A first-party confidential client `id` registering [`REDIRECT_URI`], allowed every scope.
    pub async fn client(&self, id: &str) -> Client {
        self.client_with(id, |_| {}).await
    }

    /// [`TestKit::client`] after `adjust`.
    pub async fn client_with(&self, id: &str, adjust: impl FnOnce(&mut Client)) -> Client {
        let mut client = Client {
            id: id.to_string(),
            name: format!("Client {id}"),
            secret_hash: Some(self.state.hmac.hash_hex(b"secret")),
            token_endpoint_auth_method: "client_secret_basic".into(),
            redirect_uris: vec![REDIRECT_URI.to_string()],
            post_logout_redirect_uris: vec![],
            allowed_scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            first_party: true,
            created_at: crate::clock::Clock::now(&self.clock),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            jwks: None,
            jwks_uri: None,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            resources: vec![],
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            require_dpop_nonce: false,
        };
        adjust(&mut client);
        self.store()
            .insert_client(&client, &[])
            .await
            .expect("client");
        client
    }

    /// An enabled user with a verified email and no password.
    pub async fn user(&self, email: &str) -> User {
        let now = crate::clock::Clock::now(&self.clock);
        let user = User {
            id: uuid::Uuid::now_v7().to_string(),
            email: email.to_string(),
            email_verified: true,
            name: "Anna Andersson".into(),
            locale: "sv".into(),
            password_hash: None,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        self.store().insert_user(&user, &[]).await.expect("user");
        user
    }

    /// A stored session for `user`, authenticated now with `method`.
    pub async fn session(&self, user: &User, method: Method) -> ActiveSession {
        sessions::start(&self.state, user.clone(), method)
            .await
            .expect("session")
            .1
    }
}

fn fixed_secrets() -> crate::config::SecretsConfig {
    let key = |byte: u8| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    };
    crate::config::SecretsConfig {
        encryption_keys: [("k1".to_string(), key(1))].into_iter().collect(),
        active_encryption_key: "k1".into(),
        hmac_key: key(2),
        blind_index_key: key(3),
    }
}

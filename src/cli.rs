//! The command line: `serve` and the administration commands.

use crate::audit::Caller;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::admin::{clients, keys, passkeys, roles, users};
use crate::config::Config;
use crate::server::RunningServer;
use crate::state::{self, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "leasify-id",
    version,
    about = "Leasify ID: an OpenID Connect identity provider"
)]
pub struct Cli {
    /// A TOML file overriding config/default.toml (environment variables LEASIFY_* override both).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Relying-party applications (OAuth clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// User accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Encryption keys.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-seal every stored personnummer with the active encryption key (after adding a new key
    /// and making it active), so the old key can be retired.
    Reencrypt,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it with secrets redacted.
    Check,
}

// Parsed once per run: the size of the `Create` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints JSON with client_id (and client_secret, shown only now).
    Create {
        #[arg(long)]
        name: String,
        /// Where authorization responses may go (needed for authorization_code).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (SPA, native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Scopes the client may request (default: all supported).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// client_secret_basic (default), client_secret_post, private_key_jwt or none.
        #[arg(long = "token-endpoint-auth-method")]
        token_endpoint_auth_method: Option<String>,
        /// A third-party app: users see a consent page listing the scopes (remembered).
        #[arg(long = "third-party")]
        third_party: bool,
        /// Back-Channel Logout 1.0: where logout tokens are POSTed.
        #[arg(long = "backchannel-logout-uri")]
        backchannel_logout_uri: Option<String>,
        /// The client requires `sid` in logout tokens (always sent).
        #[arg(long = "backchannel-logout-session-required")]
        backchannel_logout_session_required: bool,
        /// A file with the client's public JWK Set (for private_key_jwt).
        #[arg(long = "jwks")]
        jwks: Option<std::path::PathBuf>,
        /// The URL of the client's JWK Set (for private_key_jwt).
        #[arg(long = "jwks-uri")]
        jwks_uri: Option<String>,
        /// A grant the client may use: authorization_code, refresh_token, client_credentials
        /// (repeat; default: authorization_code and refresh_token).
        #[arg(long = "grant")]
        grant_types: Vec<String>,
        /// A resource (RFC 8707) the client may ask client_credentials tokens for (repeat; the
        /// first is the default audience). Admin-scoped clients default to the admin API.
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// Accept the client's authorization requests only when pushed to /par first (RFC 9126
        /// pushed authorization requests; FAPI 2.0 needs it).
        #[arg(long = "require-par", alias = "require-pushed-authorization-requests")]
        require_par: bool,
        /// Refuse the client's token requests without a DPoP proof, so all its tokens are bound
        /// to its key (RFC 9449 sender-constrained tokens; FAPI 2.0 needs them).
        #[arg(long = "require-dpop", alias = "dpop-bound-access-tokens")]
        require_dpop: bool,
        /// Make the client's DPoP proofs carry a nonce from this server (RFC 9449 §8): a proof
        /// made ahead of time is then refused.
        #[arg(long = "require-dpop-nonce")]
        require_dpop_nonce: bool,
    },
    /// Change a client's settings; those not named stay as they are.
    Update {
        id: String,
        /// Accept its authorization requests only when pushed to /par first (RFC 9126).
        #[arg(
            long = "require-par",
            alias = "require-pushed-authorization-requests",
            conflicts_with = "no_require_par"
        )]
        require_par: bool,
        /// Accept its authorization requests at /authorize directly again.
        #[arg(long = "no-require-par")]
        no_require_par: bool,
        /// Refuse its token requests without a DPoP proof (RFC 9449).
        #[arg(
            long = "require-dpop",
            alias = "dpop-bound-access-tokens",
            conflicts_with = "no_require_dpop"
        )]
        require_dpop: bool,
        /// Accept its token requests without a DPoP proof again.
        #[arg(long = "no-require-dpop")]
        no_require_dpop: bool,
        /// Make its DPoP proofs carry a nonce from this server (RFC 9449 §8).
        #[arg(long = "require-dpop-nonce", conflicts_with = "no_require_dpop_nonce")]
        require_dpop_nonce: bool,
        /// Accept its DPoP proofs without a nonce again.
        #[arg(long = "no-require-dpop-nonce")]
        no_require_dpop_nonce: bool,
    },
    List,
    Show {
        id: String,
    },
    Delete {
        id: String,
    },
    /// Replace the client's secret; the old one stops working at once.
    RotateSecret {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin the user has no password yet.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "sv")]
        lang: String,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Invite a user: creates the account without a password and emails a link to choose one
    /// (valid account.invite_ttl). An existing address gets a fresh link instead.
    Invite {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "sv")]
        lang: String,
    },
    /// List users; `has_password: false` marks those who have not yet chosen a password.
    List,
    /// Disable a user (by id or email): logins and tokens stop working.
    Disable {
        user: String,
    },
    Enable {
        user: String,
    },
    /// Make a user (by id or email) an administrator of the console at /admin: `admin` (everything)
    /// or `support` (customers' accounts only).
    GrantAdmin {
        user: String,
        #[arg(long, default_value = "admin", value_parser = ["admin", "support"])]
        role: String,
    },
    /// Take a user's administrator role away (their console access ends at once).
    RevokeAdmin {
        user: String,
    },
    /// List a user's passkeys (by id or email): name, dates, counter, synced or device-bound.
    Passkeys {
        user: String,
    },
    /// Remove one of a user's passkeys (a lost device, a suspected clone); refused when it is
    /// their last way to log in.
    RemovePasskey {
        user: String,
        passkey_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    List,
    /// Publish new signing keys; they start signing after keys.publish_ahead seconds.
    Rotate,
}

/// Admin commands need the database and keys, not a BankID connection.
fn admin_overrides() -> Overrides {
    Overrides {
        bankid: false,
        ..Overrides::default()
    }
}

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn init_logging(config: Option<&Config>) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("LEASIFY_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.is_some_and(|c| c.log_format == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    init_logging(Some(&config));
    match cli.command {
        Command::Config(ConfigCommand::Check) => {
            println!("# configuration is valid\n{}", config.redacted_toml());
            Ok(())
        }
        Command::Migrate => {
            state::open_store(&config).await?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::Serve => serve(config).await,
        Command::Client(command) => {
            let state = state::build(config, admin_overrides()).await?;
            match command {
                ClientCommand::Create {
                    name,
                    redirect_uris,
                    post_logout_redirect_uris,
                    public,
                    scopes,
                    token_endpoint_auth_method,
                    third_party,
                    backchannel_logout_uri,
                    backchannel_logout_session_required,
                    jwks,
                    jwks_uri,
                    grant_types,
                    resources,
                    require_par,
                    require_dpop,
                    require_dpop_nonce,
                } => {
                    let jwks = match jwks {
                        Some(path) => Some(std::fs::read_to_string(&path).with_context(|| {
                            format!("cannot read the JWKS file {}", path.display())
                        })?),
                        None => None,
                    };
                    let new = clients::NewClient {
                        name,
                        redirect_uris,
                        post_logout_redirect_uris,
                        public,
                        scopes,
                        token_endpoint_auth_method,
                        third_party,
                        backchannel_logout_uri,
                        backchannel_logout_session_required,
                        jwks,
                        jwks_uri,
                        grant_types,
                        resources,
                        require_pushed_authorization_requests: require_par,
                        dpop_bound_access_tokens: require_dpop,
                        require_dpop_nonce,
                    };
                    print_json(&clients::create(&state, new).await?)
                }
                ClientCommand::Update {
                    id,
                    require_par,
                    no_require_par,
                    require_dpop,
                    no_require_dpop,
                    require_dpop_nonce,
                    no_require_dpop_nonce,
                } => {
                    let switch = |on: bool, off: bool| match (on, off) {
                        (true, _) => Some(true),
                        (_, true) => Some(false),
                        _ => None,
                    };
                    let par = switch(require_par, no_require_par);
                    let dpop = switch(require_dpop, no_require_dpop);
                    let nonce = switch(require_dpop_nonce, no_require_dpop_nonce);
                    let view = clients::update(&state, &Caller::system(), &id, |spec| {
                        if let Some(required) = par {
                            spec.require_pushed_authorization_requests = required;
                        }
                        if let Some(required) = dpop {
                            spec.dpop_bound_access_tokens = required;
                        }
                        if let Some(required) = nonce {
                            spec.require_dpop_nonce = required;
                        }
                    })
                    .await?;
                    print_json(&view)
                }
                ClientCommand::List => print_json(&clients::list(&state).await?),
                ClientCommand::Show { id } => print_json(&clients::show(&state, &id).await?),
                ClientCommand::Delete { id } => {
                    clients::delete(&state, &Caller::system(), &id).await?;
                    println!("deleted client {id}");
                    Ok(())
                }
                ClientCommand::RotateSecret { id } => {
                    print_json(&clients::rotate_secret(&state, &Caller::system(), &id).await?)
                }
            }
        }
        Command::User(command) => {
            let state = state::build(config, admin_overrides()).await?;
            match command {
                UserCommand::Create {
                    email,
                    name,
                    lang,
                    password_stdin,
                } => {
                    let password = if password_stdin {
                        Some(read_password_line()?)
                    } else {
                        None
                    };
                    let new = users::NewUser {
                        email,
                        name,
                        locale: lang,
                        password,
                        invite: false,
                    };
                    print_json(&users::create(&state, &Caller::system(), new).await?)
                }
                UserCommand::Invite { email, name, lang } => {
                    let outcome = crate::account::invitations::invite(
                        &state,
                        &Caller::system(),
                        &email,
                        &name,
                        &lang,
                    )
                    .await
                    .map_err(|e| match e {
                        crate::account::AccountError::Rejected(key) => {
                            anyhow::anyhow!(invite_rejection(key))
                        }
                        other => other.into(),
                    })?;
                    // Deliver now rather than waiting for a running server's sender.
                    crate::workers::email::deliver_due(&state).await;
                    print_json(&outcome)
                }
                UserCommand::List => print_json(&users::list(&state).await?),
                UserCommand::Disable { user } => {
                    print_json(&users::set_disabled(&state, &Caller::system(), &user, true).await?)
                }
                UserCommand::Enable { user } => {
                    print_json(&users::set_disabled(&state, &Caller::system(), &user, false).await?)
                }
                UserCommand::GrantAdmin { user, role } => {
                    let role = roles::Role::parse(&role).context("the role is admin or support")?;
                    print_json(&roles::grant(&state, &Caller::system(), &user, role).await?)
                }
                UserCommand::RevokeAdmin { user } => {
                    print_json(&roles::revoke(&state, &Caller::system(), &user).await?)
                }
                UserCommand::Passkeys { user } => print_json(&passkeys::list(&state, &user).await?),
                UserCommand::RemovePasskey { user, passkey_id } => {
                    passkeys::remove(&state, &Caller::system(), &user, &passkey_id).await?;
                    print_json(&serde_json::json!({ "removed": passkey_id }))
                }
            }
        }
        Command::Secrets(SecretsCommand::Reencrypt) => {
            let state = state::build(config, admin_overrides()).await?;
            let moved = crate::identity::sealed::reencrypt_all(&state).await?;
            print_json(&serde_json::json!({
                "resealed": moved,
                "active_key": state.secret_box.active_key_id(),
            }))
        }
        Command::Keys(command) => {
            let state = state::build(config, admin_overrides()).await?;
            match command {
                KeysCommand::List => print_json(&keys::list(&state).await?),
                KeysCommand::Rotate => {
                    let kids = keys::rotate(&state, &Caller::system()).await?;
                    print_json(
                        &serde_json::json!({ "new_keys": kids, "signing_starts_in_seconds": state.config.keys.publish_ahead }),
                    )
                }
            }
        }
    }
}

fn invite_rejection(key: &str) -> &'static str {
    match key {
        "invalid-email" => "that is not a valid email address",
        "invalid-locale" => "the language must be sv or en",
        "invalid-name" => "the name must not be empty",
        "name-too-long" => "the name must be at most 200 characters",
        "name-control-characters" => {
            "the name must not contain line breaks, tabs or other control characters"
        }
        _ => "the invitation was refused",
    }
}

fn read_password_line() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the password from standard input")?;
    let password = input.lines().next().unwrap_or_default().to_string();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let addr = config.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let state = state::build(config, Overrides::default()).await?;
    let config = &state.config;
    let database = match url::Url::parse(&config.effective_database_url()) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        _ => config.effective_database_url(),
    };
    let mail = match config.mail.transport.as_str() {
        "file" => format!(
            "files in {} (dev outbox; links are also logged)",
            config.outbox_dir().display()
        ),
        other => other.to_string(),
    };
    tracing::info!(
        issuer = %config.issuer,
        listen = %addr,
        database = %database,
        backend = state.store.backend(),
        mail = %mail,
        startup_ms = started.elapsed().as_millis() as u64,
        "Leasify ID is ready: discovery at {}/.well-known/openid-configuration",
        config.issuer
    );
    for warning in config.startup_warnings() {
        tracing::warn!("{warning}");
    }
    let server = RunningServer::start(listener, state.clone())?;
    server.wait(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

//! Startup, memory and throughput benchmark of the release server. See docs/benchmarks.md.
//!
//! ```text
//! cargo build --release
//! cargo run --release --example bench -- [--duration 10] [--concurrency 32] [--database-url postgres://...]
//! ```
//!
//! Runs `target/release/leasify-id` (it builds nothing itself) as a child process in a fresh
//! temporary data directory on a free port, drives it over HTTP from this process, prints a
//! Markdown table and writes it to `<target dir>/bench-results.md`.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine;
use clap::Parser;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};

mod peers;
mod wire;
use wire::Conn;

const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
const USER_EMAIL: &str = "bench@example.com";
const USER_PASSWORD: &str = "correct horse battery staple, benchmark edition";
const CSRF_COOKIE: &str = "__Host-leasify-csrf";

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Benchmark the release build of leasify-id (run `cargo build --release` first)"
)]
struct Args {
    /// Seconds per load phase (and for the argon2 reference).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Concurrent client tasks per load phase.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Run the server on PostgreSQL (a fresh schema, dropped afterwards) instead of SQLite.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Measure only the load phases whose name contains this text (repeatable), e.g.
    /// `--only client_credentials` while profiling the server with `perf record -p PID`.
    #[arg(long, value_name = "TEXT")]
    only: Vec<String>,
    /// Pin every server to the first CPU and this load generator to the second, so a server's
    /// figures are one core's worth (implied by `--peers`).
    #[arg(long)]
    pin: bool,
    /// Also measure node-oidc-provider and nginx on the same pinned core, with the same
    /// requests, and add the ratio table (see docs/benchmarks.md, "Peers").
    #[arg(long)]
    peers: bool,
}

/// `--only`: the phases to measure (all when empty).
static ONLY: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

fn measured(phase: &str) -> bool {
    ONLY.get()
        .is_none_or(|only| only.is_empty() || only.iter().any(|o| phase.contains(o.as_str())))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.pin || args.peers {
        // Before the runtime exists, so that all of its threads inherit the load generator's CPU.
        if let Err(e) = peers::pin_load_generator() {
            eprintln!("bench: error: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Orchestration
// ---------------------------------------------------------------------------------------------

async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.duration > 0.0, "--duration must be positive");
    ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let _ = ONLY.set(args.only.clone());
    let duration = Duration::from_secs_f64(args.duration);
    let (bin, target_dir) = locate_server_binary()?;

    let data_dir =
        std::env::temp_dir().join(format!("leasify-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let _remove_dir = RemoveDirOnDrop(data_dir.clone());

    let postgres = match &args.database_url {
        Some(base) => Some(PgSchema::create(base).await?),
        None => None,
    };
    let result = bench(
        &args,
        duration,
        &bin,
        &target_dir,
        &data_dir,
        postgres.as_ref(),
    )
    .await;
    if let Some(pg) = &postgres {
        pg.drop_schema().await;
    }
    result
}

async fn bench(
    args: &Args,
    duration: Duration,
    bin: &Path,
    target_dir: &Path,
    data_dir: &Path,
    postgres: Option<&PgSchema>,
) -> anyhow::Result<()> {
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    let cpus = online_cpus();
    if loadavg
        .split(' ')
        .next()
        .and_then(|l| l.parse::<f64>().ok())
        .is_some_and(|l| l > 0.5 * cpus as f64)
    {
        eprintln!(
            "bench: warning: load average {loadavg} on {cpus} CPUs: the figures will be low and noisy"
        );
    }
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut env: Vec<(String, String)> = vec![
        ("LEASIFY_DATA_DIR".into(), data_dir.display().to_string()),
        ("LEASIFY_LISTEN".into(), format!("127.0.0.1:{port}")),
        ("LEASIFY_ISSUER".into(), base.clone()),
        ("LEASIFY_LOG_FORMAT".into(), "json".into()),
        // Only failures count towards these limits, but make sure nothing is ever throttled.
        (
            "LEASIFY_LOGIN__MAX_FAILURES_PER_IP".into(),
            "1000000000".into(),
        ),
        (
            "LEASIFY_LOGIN__MAX_FAILURES_PER_ACCOUNT".into(),
            "1000000000".into(),
        ),
    ];
    if let Some(pg) = postgres {
        env.push(("LEASIFY_DATABASE_URL".into(), pg.url.clone()));
    }
    let cli = Cli {
        bin: bin.to_path_buf(),
        env,
    };

    // Provisioning through the server's own CLI. The first command migrates the empty database
    // and generates secrets and signing keys.
    eprintln!("bench: server binary {}", bin.display());
    eprintln!(
        "bench: data dir {}, {}",
        data_dir.display(),
        postgres.map_or("SQLite".to_string(), |p| format!(
            "PostgreSQL schema {}",
            p.schema
        ))
    );
    let started = Instant::now();
    let client_json = cli.run(
        &[
            "client",
            "create",
            "--name",
            "Benchmark",
            "--redirect-uri",
            REDIRECT_URI,
        ],
        None,
    )?;
    let first_cli = started.elapsed();
    let client: serde_json::Value =
        serde_json::from_str(&client_json).context("parsing `client create` output")?;
    let client_id = json_str(&client, "client_id")?;
    let client_secret = json_str(&client, "client_secret")?;
    cli.run(
        &[
            "user",
            "create",
            "--email",
            USER_EMAIL,
            "--name",
            "Bench User",
            "--lang",
            "en",
            "--password-stdin",
        ],
        Some(&format!("{USER_PASSWORD}\n")),
    )?;

    // Machine clients for the client_credentials phases: one with a secret, one with a key.
    let machine: serde_json::Value = serde_json::from_str(&cli.run(
        &[
            "client",
            "create",
            "--name",
            "Bench machine",
            "--grant",
            "client_credentials",
            "--scope",
            "admin:users:read",
        ],
        None,
    )?)?;
    let machine = (
        json_str(&machine, "client_id")?,
        json_str(&machine, "client_secret")?,
    );
    let key_pair = josekit::jws::ES256.generate_key_pair()?;
    let mut public = key_pair.to_jwk_public_key();
    public.set_key_id("bench-key");
    public.set_algorithm("ES256");
    let jwks_file = data_dir.join("bench-client-jwks.json");
    std::fs::write(
        &jwks_file,
        serde_json::json!({ "keys": [public] }).to_string(),
    )?;
    let keyed: serde_json::Value = serde_json::from_str(&cli.run(
        &[
            "client",
            "create",
            "--name",
            "Bench keyed machine",
            "--grant",
            "client_credentials",
            "--scope",
            "admin:users:read",
            "--token-endpoint-auth-method",
            "private_key_jwt",
            "--jwks",
            &jwks_file.display().to_string(),
        ],
        None,
    )?)?;
    let keyed_id = json_str(&keyed, "client_id")?;
    let signer = Arc::new(josekit::jws::ES256.signer_from_der(key_pair.to_der_private_key())?);

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;

    // Startup: spawn `serve`, poll /health/live about every millisecond until it answers 200.
    eprintln!("bench: starting the server on {base}");
    let mut server = Server::spawn(&cli)?;
    let startup = server
        .wait_until_live(&http, &format!("{base}/health/live"))
        .await?;
    let pid = server.pid;
    eprintln!("bench: server pid {pid}");

    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = proc_status_kib(pid, "VmRSS")?;
    let idle_anon = proc_status_kib(pid, "RssAnon")?;
    let ready = server.ready_line.lock().unwrap().clone();

    // Argon2 reference while the server is idle: the benchmark and the server share the CPUs.
    eprintln!(
        "bench: argon2 reference ({:.0} s, 2 verifiers)",
        duration.as_secs_f64()
    );
    let argon2 = argon2_reference(duration).await?;

    let ctx = Arc::new(Ctx {
        http,
        base: base.clone(),
        client_id,
        client_secret,
    });
    let leasify = Target {
        label: "Leasify ID",
        pid,
        addr: format!("127.0.0.1:{port}").parse()?,
        ctx: ctx.clone(),
        machine,
        keyed_id,
        signer,
        login: LoginKind::Leasify,
    };
    let phases = measure_phases(&leasify, args.concurrency, duration, Scope::All).await?;
    let after_rss = proc_status_kib(pid, "VmRSS")?;
    let after_anon = proc_status_kib(pid, "RssAnon")?;
    let peak_hwm = proc_status_kib(pid, "VmHWM")?;
    let documents = match args.peers {
        true => Some(peers::StaticDocuments::fetch(&ctx.http, &base).await?),
        false => None,
    };
    let shutdown = server.stop()?;
    let peers = match &documents {
        Some(documents) => {
            Some(peers::measure(&leasify, documents, data_dir, args.concurrency, duration).await?)
        }
        None => None,
    };

    let report = Report {
        args,
        loadavg,
        backend: match postgres {
            Some(_) => ready.backend.clone().unwrap_or_else(|| "postgres".into()),
            None => ready.backend.clone().unwrap_or_else(|| "sqlite".into()),
        },
        first_cli,
        startup,
        server_startup_ms: ready.startup_ms,
        idle_rss,
        idle_anon,
        after_rss,
        after_anon,
        peak_hwm,
        shutdown,
        argon2,
        phases,
        peers,
    };
    let markdown = report.markdown();
    println!("{markdown}");
    let out = target_dir.join("bench-results.md");
    std::fs::write(&out, &markdown).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("bench: results written to {}", out.display());
    Ok(())
}

/// `target/release/leasify-id`, next to this example's own directory; and the target directory.
fn locate_server_binary() -> anyhow::Result<(PathBuf, PathBuf)> {
    let exe = std::env::current_exe().context("locating the benchmark executable")?;
    // target/<profile>/examples/bench → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("unexpected executable path {}", exe.display()))?;
    let bin = profile_dir.join(format!("leasify-id{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "the server binary {} does not exist: build it first with `cargo build --release` \
             (this benchmark runs the release binary and never builds it)",
            bin.display()
        );
    }
    if profile_dir.file_name().is_some_and(|n| n != "release") {
        eprintln!(
            "bench: warning: not a release build ({}); use `cargo run --release --example bench`",
            profile_dir.display()
        );
    }
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(b), Some(e)) = (modified(&bin), modified(&exe))
        && b < e
    {
        eprintln!(
            "bench: note: {} is older than this benchmark build; run `cargo build --release` if src/ changed",
            bin.display()
        );
    }
    let target_dir = profile_dir.parent().unwrap_or(profile_dir).to_path_buf();
    Ok((bin, target_dir))
}

/// The machine's CPUs (not this process's share: `--pin` narrows that to one).
fn online_cpus() -> usize {
    // SAFETY: sysconf only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn json_str(value: &serde_json::Value, key: &str) -> anyhow::Result<String> {
    value
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no string `{key}` in {value}"))
}

struct RemoveDirOnDrop(PathBuf);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

/// Runs the server binary with the benchmark's environment (and nothing inherited from `LEASIFY_*`
/// except `LEASIFY_LOG`).
struct Cli {
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command.args(args);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("LEASIFY_") && key != "LEASIFY_LOG" {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        peers::pin_server(&mut command);
        command
    }

    /// Runs an administration command and returns its standard output.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
        let mut child = self
            .command(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", self.bin.display()))?;
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("piped stdin")
                .write_all(input.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "`leasify-id {}` failed ({}):\n{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[derive(Debug, Clone, Default)]
struct ReadyLine {
    startup_ms: Option<u64>,
    backend: Option<String>,
}

struct Server {
    child: Option<Child>,
    pid: u32,
    spawned: Instant,
    ready_line: Arc<Mutex<ReadyLine>>,
    log_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    fn spawn(cli: &Cli) -> anyhow::Result<Server> {
        Server::spawn_command(cli.command(&["serve"]))
    }

    /// Starts `command` (a server of any kind), draining its standard error.
    fn spawn_command(mut command: Command) -> anyhow::Result<Server> {
        let spawned = Instant::now();
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let ready_line = Arc::new(Mutex::new(ReadyLine::default()));
        let log_tail = Arc::new(Mutex::new(VecDeque::new()));
        // Drain the log so the server never blocks on a full pipe; keep what we need.
        let stderr = child.stderr.take().expect("piped stderr");
        {
            let (ready_line, log_tail) = (ready_line.clone(), log_tail.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("startup_ms")
                        && let Ok(value) = serde_json::from_str::<serde_json::Value>(&line)
                    {
                        let fields = &value["fields"];
                        let mut ready = ready_line.lock().unwrap();
                        ready.startup_ms = fields["startup_ms"].as_u64();
                        ready.backend = fields["backend"].as_str().map(str::to_string);
                    }
                    if std::env::var_os("BENCH_SERVER_LOG").is_some() && line.contains("assertion")
                    {
                        eprintln!("server: {line}");
                    }
                    let mut tail = log_tail.lock().unwrap();
                    if tail.len() == 20 {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        let pid = child.id();
        Ok(Server {
            child: Some(child),
            pid,
            spawned,
            ready_line,
            log_tail,
        })
    }

    fn log_tail(&self) -> String {
        self.log_tail
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Time from spawning the process to the first 200 from `url`.
    async fn wait_until_live(
        &mut self,
        http: &reqwest::Client,
        url: &str,
    ) -> anyhow::Result<Duration> {
        loop {
            if let Ok(response) = http.get(url).send().await
                && response.status() == StatusCode::OK
            {
                return Ok(self.spawned.elapsed());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                std::thread::sleep(Duration::from_millis(100));
                bail!(
                    "the server exited ({status}) before answering; its last log lines:\n{}",
                    self.log_tail()
                );
            }
            if self.spawned.elapsed() > Duration::from_secs(60) {
                bail!(
                    "the server did not answer {url} within 60 s; its last log lines:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// SIGTERM, then wait (up to 10 s) for a graceful exit; returns how long that took.
    fn stop(&mut self) -> anyhow::Result<Option<Duration>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        let asked = Instant::now();
        let signalled = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if signalled {
            while asked.elapsed() < Duration::from_secs(10) {
                if child.try_wait()?.is_some() {
                    return Ok(Some(asked.elapsed()));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            eprintln!("bench: warning: the server did not stop within 10 s of SIGTERM; killing it");
        }
        let _ = child.kill();
        let _ = child.wait();
        Ok(None)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// CPU time (user + system) and minor page faults of a process, from /proc/<pid>/stat.
#[derive(Debug, Clone, Copy, Default)]
struct ProcCounters {
    cpu: Duration,
    minor_faults: u64,
}

fn proc_counters(pid: Option<u32>) -> ProcCounters {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_string(),
        |pid| format!("/proc/{pid}/stat"),
    );
    let Ok(stat) = std::fs::read_to_string(path) else {
        return ProcCounters::default();
    };
    // Fields after the command name: state is field 3; minflt 10, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // USER_HZ is 100 on Linux.
    ProcCounters {
        cpu: Duration::from_millis((field(14) + field(15)) * 10),
        minor_faults: field(10),
    }
}

/// A field of /proc/<pid>/status, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no {field} in {path}"))
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

/// A fresh schema for one run, selected through the connection's `search_path` (as the tests do).
struct PgSchema {
    base: String,
    schema: String,
    url: String,
}

impl PgSchema {
    async fn create(base: &str) -> anyhow::Result<PgSchema> {
        use sqlx::{AssertSqlSafe, Connection, PgConnection};
        ensure!(
            base.starts_with("postgres://") || base.starts_with("postgresql://"),
            "--database-url must be a postgres:// URL"
        );
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(base)
            .await
            .with_context(|| format!("connecting to {base}"))?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating schema {schema}"))?;
        let _ = conn.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Ok(PgSchema {
            base: base.to_string(),
            schema,
            url,
        })
    }

    async fn drop_schema(&self) {
        use sqlx::{AssertSqlSafe, Connection, PgConnection};
        match PgConnection::connect(&self.base).await {
            Ok(mut conn) => {
                let dropped = sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    self.schema
                )))
                .execute(&mut conn)
                .await;
                if let Err(e) = dropped {
                    eprintln!("bench: warning: could not drop schema {}: {e}", self.schema);
                }
                let _ = conn.close().await;
            }
            Err(e) => eprintln!("bench: warning: could not drop schema {}: {e}", self.schema),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Load generation
// ---------------------------------------------------------------------------------------------

struct Ctx {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: String,
}

impl Ctx {
    /// `client_secret_basic`: both parts form-urlencoded, then base64 (RFC 6749 §2.3.1).
    fn basic_auth(&self) -> String {
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!(
            "{}:{}",
            encode(&self.client_id),
            encode(&self.client_secret)
        );
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

struct Phase {
    name: String,
    elapsed: Duration,
    /// Successful operations' latencies, microseconds, sorted.
    latencies: Vec<u32>,
    errors: u64,
    /// The server process's CPU time and minor page faults during the phase.
    server: ProcCounters,
    /// The server's resident memory (KiB) at the end of the phase.
    server_rss: u64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted_us.len() - 1) as f64 * p).round() as usize;
    sorted_us[index] as f64 / 1000.0
}

/// Runs `concurrency` tasks for `duration`; each repeats `op` on its own state, timing every call.
async fn load_phase<S, F, Fut>(
    name: &str,
    server_pid: u32,
    concurrency: usize,
    duration: Duration,
    states: Vec<S>,
    op: F,
) -> Phase
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (S, anyhow::Result<()>)> + Send + 'static,
{
    assert_eq!(states.len(), concurrency);
    if !measured(name) {
        return Phase {
            name: name.to_string(),
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
            errors: 0,
            server: ProcCounters::default(),
            server_rss: 0,
        };
    }
    let op = Arc::new(op);
    let before = proc_counters(Some(server_pid));
    let started = Instant::now();
    let deadline = started + duration;
    let handles: Vec<_> = states
        .into_iter()
        .map(|mut state| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies: Vec<u32> = Vec::with_capacity(1 << 14);
                let mut errors = 0u64;
                let mut first_error = None;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let (next, result) = op(state).await;
                    state = next;
                    match result {
                        Ok(()) => {
                            latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32)
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for handle in handles {
        let (l, e, f) = handle.await.expect("load task panicked");
        latencies.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let elapsed = started.elapsed();
    let after = proc_counters(Some(server_pid));
    let server = ProcCounters {
        cpu: after.cpu.saturating_sub(before.cpu),
        minor_faults: after.minor_faults.saturating_sub(before.minor_faults),
    };
    let server_rss = proc_status_kib(server_pid, "VmRSS").unwrap_or(0);
    let server_threads = proc_status_kib(server_pid, "Threads").unwrap_or(0);
    latencies.sort_unstable();
    if let Some(e) = first_error {
        eprintln!("bench:   {errors} errors; the first: {e:#}");
    }
    let phase = Phase {
        name: name.to_string(),
        elapsed,
        latencies,
        errors,
        server,
        server_rss,
    };
    eprintln!(
        "bench:   {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, server CPU {:.0} ms ({:.0}% of one core), \
         {} minor faults, RSS {}, {} threads",
        phase.rate(),
        percentile_ms(&phase.latencies, 0.50),
        percentile_ms(&phase.latencies, 0.99),
        server.cpu.as_secs_f64() * 1000.0,
        100.0 * server.cpu.as_secs_f64() / elapsed.as_secs_f64(),
        server.minor_faults,
        mib(server_rss),
        server_threads
    );
    phase
}

/// A server under load (Leasify ID or a peer) and the clients the phases use on it.
struct Target {
    label: &'static str,
    pid: u32,
    addr: std::net::SocketAddr,
    /// The web client (code flow, refresh, introspection), authenticated with `client_secret_basic`.
    ctx: Arc<Ctx>,
    /// A `client_credentials` client with a secret: (client_id, client_secret).
    machine: (String, String),
    /// A `client_credentials` client authenticated with `private_key_jwt`, signed by `signer`.
    keyed_id: String,
    signer: Arc<josekit::jws::alg::ecdsa::EcdsaJwsSigner>,
    login: LoginKind,
}

/// How a browser logs in: each server has its own login pages.
#[derive(Debug, Clone, Copy)]
enum LoginKind {
    Leasify,
    NodeOidcProvider,
}

/// Which phases a target can answer: nginx serves only the two static documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    StaticDocuments,
}

const DISCOVERY_PHASE: &str = "GET /.well-known/openid-configuration";
const JWKS_PHASE: &str = "GET /jwks.json";

/// The load phases, in order, against one target. The same requests go to every target.
async fn measure_phases(
    target: &Target,
    concurrency: usize,
    duration: Duration,
    scope: Scope,
) -> anyhow::Result<Vec<Phase>> {
    let pid = target.pid;
    let addr = target.addr;
    let authority = Arc::new(addr.to_string());
    let connections = || {
        (0..concurrency)
            .map(|_| Conn::new(addr))
            .collect::<Vec<_>>()
    };
    let mut phases = Vec::new();
    for (name, path) in [
        (DISCOVERY_PHASE, "/.well-known/openid-configuration"),
        (JWKS_PHASE, "/jwks.json"),
    ] {
        eprintln!("bench: {}: {name}", target.label);
        let request = Arc::new(wire::request("GET", &authority, path, &[], b""));
        phases.push(
            load_phase(name, pid, concurrency, duration, connections(), {
                move |mut conn: Conn| {
                    let request = request.clone();
                    async move {
                        let result = conn.expect(&request, 200).await.map(|_| ());
                        (conn, result)
                    }
                }
            })
            .await,
        );
    }
    if scope == Scope::StaticDocuments {
        return Ok(phases);
    }

    let ctx = &target.ctx;
    let name = "POST /token (client_credentials, client_secret_basic)";
    eprintln!("bench: {}: {name}", target.label);
    let machine_ctx = Ctx {
        http: ctx.http.clone(),
        base: ctx.base.clone(),
        client_id: target.machine.0.clone(),
        client_secret: target.machine.1.clone(),
    };
    let request = Arc::new(wire::request(
        "POST",
        &authority,
        "/token",
        &[
            ("Authorization", &machine_ctx.basic_auth()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"grant_type=client_credentials",
    ));
    phases.push(
        load_phase(
            name,
            pid,
            concurrency,
            duration,
            connections(),
            move |mut conn: Conn| {
                let request = request.clone();
                async move {
                    let result = conn.expect(&request, 200).await.map(|_| ());
                    (conn, result)
                }
            },
        )
        .await,
    );

    let name = "POST /token (client_credentials, private_key_jwt)";
    eprintln!("bench: {}: {name}", target.label);
    let token_url = Arc::new(format!("{}/token", ctx.base));
    phases.push(
        load_phase(name, pid, concurrency, duration, connections(), {
            let (authority, token_url, signer, id) = (
                authority.clone(),
                token_url.clone(),
                target.signer.clone(),
                target.keyed_id.clone(),
            );
            move |mut conn: Conn| {
                let (authority, token_url, signer, id) = (
                    authority.clone(),
                    token_url.clone(),
                    signer.clone(),
                    id.clone(),
                );
                async move {
                    let result =
                        keyed_client_credentials(&mut conn, &authority, &token_url, &signer, &id)
                            .await;
                    (conn, result)
                }
            }
        })
        .await,
    );

    // One real login per task gives each task its own refresh token chain.
    let tokens = initial_logins(target, concurrency).await?;

    let name = "POST /token (refresh_token)";
    eprintln!("bench: {}: {name}", target.label);
    let chains: Vec<(Conn, String)> = tokens
        .iter()
        .map(|t| (Conn::new(addr), t.refresh_token.clone()))
        .collect();
    let basic = Arc::new(ctx.basic_auth());
    phases.push(
        load_phase(name, pid, concurrency, duration, chains, {
            let (authority, basic) = (authority.clone(), basic.clone());
            move |(mut conn, refresh_token): (Conn, String)| {
                let (authority, basic) = (authority.clone(), basic.clone());
                async move {
                    match refresh(&mut conn, &authority, &basic, &refresh_token).await {
                        Ok(next) => ((conn, next), Ok(())),
                        Err(e) => ((conn, refresh_token), Err(e)),
                    }
                }
            }
        })
        .await,
    );

    // Fresh access tokens for the per-call phases: a server may keep only so many tokens (the
    // in-memory adapter node-oidc-provider ships with holds 1,000 entries, which the refresh
    // phase fills with its own).
    let tokens = initial_logins(target, concurrency).await?;
    let name = "GET /userinfo (Bearer)";
    eprintln!("bench: {}: {name}", target.label);
    let requests = per_token(&tokens, addr, |token| {
        let bearer = format!("Bearer {token}");
        wire::request(
            "GET",
            &authority,
            "/userinfo",
            &[("Authorization", &bearer)],
            b"",
        )
    });
    phases.push(
        load_phase(
            name,
            pid,
            concurrency,
            duration,
            requests,
            |(mut conn, request): (Conn, Arc<Vec<u8>>)| async move {
                let result = conn.expect(&request, 200).await.map(|_| ());
                ((conn, request), result)
            },
        )
        .await,
    );

    let name = "POST /introspect (access token)";
    eprintln!("bench: {}: {name}", target.label);
    let requests = per_token(&tokens, addr, |token| {
        wire::request(
            "POST",
            &authority,
            "/introspect",
            &[
                ("Authorization", basic.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            format!("token={token}").as_bytes(),
        )
    });
    phases.push(
        load_phase(
            name,
            pid,
            concurrency,
            duration,
            requests,
            |(mut conn, request): (Conn, Arc<Vec<u8>>)| async move {
                // An inactive answer is cheap and proves nothing: only active ones count.
                let result = conn.expect(&request, 200).await.and_then(|body| {
                    ensure!(
                        find_subslice(body, br#""active":true"#),
                        "the token was not active: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    );
                    Ok(())
                });
                ((conn, request), result)
            },
        )
        .await,
    );

    let name = LOGIN_PHASE;
    eprintln!("bench: {}: complete password logins", target.label);
    phases.push(
        load_phase(name, pid, concurrency, duration, vec![(); concurrency], {
            let (ctx, login) = (ctx.clone(), target.login);
            move |()| {
                let ctx = ctx.clone();
                async move { ((), login_flow(&ctx, login).await.map(|_| ())) }
            }
        })
        .await,
    );
    Ok(phases)
}

/// One login per task, all at once: each task's own tokens.
async fn initial_logins(target: &Target, concurrency: usize) -> anyhow::Result<Vec<Tokens>> {
    eprintln!(
        "bench: {}: {concurrency} logins to obtain tokens",
        target.label
    );
    let handles: Vec<_> = (0..concurrency)
        .map(|_| {
            let (ctx, login) = (target.ctx.clone(), target.login);
            tokio::spawn(async move { login_flow(&ctx, login).await })
        })
        .collect();
    let mut tokens = Vec::with_capacity(concurrency);
    for handle in handles {
        tokens.push(handle.await?.context("initial login")?);
    }
    eprintln!(
        "bench:   server RSS after {concurrency} logins: {}",
        mib(proc_status_kib(target.pid, "VmRSS")?)
    );
    Ok(tokens)
}

/// One connection per task, each with its request for its own access token, prepared once.
fn per_token(
    tokens: &[Tokens],
    addr: std::net::SocketAddr,
    request: impl Fn(&str) -> Vec<u8>,
) -> Vec<(Conn, Arc<Vec<u8>>)> {
    tokens
        .iter()
        .map(|t| (Conn::new(addr), Arc::new(request(&t.access_token))))
        .collect()
}

fn find_subslice(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

const LOGIN_PHASE: &str = "Password login (authorize → login page → POST login → code exchange)";

async fn expect_status(
    response: reqwest::Response,
    expected: StatusCode,
    what: &str,
) -> anyhow::Result<reqwest::Response> {
    if response.status() == expected {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    bail!("{what}: expected {expected}, got {status}: {body}")
}

struct Tokens {
    access_token: String,
    refresh_token: String,
}

fn parse_tokens(body: &[u8]) -> anyhow::Result<Tokens> {
    let value: serde_json::Value =
        serde_json::from_slice(body).context("token response is not JSON")?;
    Ok(Tokens {
        access_token: json_str(&value, "access_token")?,
        refresh_token: json_str(&value, "refresh_token")?,
    })
}

async fn token_request(ctx: &Ctx, form: &[(&str, &str)]) -> anyhow::Result<Tokens> {
    let response = ctx
        .http
        .post(format!("{}/token", ctx.base))
        .header(AUTHORIZATION, ctx.basic_auth())
        .form(form)
        .send()
        .await?;
    let response = expect_status(response, StatusCode::OK, "POST /token").await?;
    parse_tokens(&response.bytes().await?)
}

/// A client_credentials token for a `private_key_jwt` client: a fresh assertion each time (the
/// server refuses a `jti` twice), signed here, in the load generator.
async fn keyed_client_credentials(
    conn: &mut Conn,
    authority: &str,
    token_url: &str,
    signer: &josekit::jws::alg::ecdsa::EcdsaJwsSigner,
    client_id: &str,
) -> anyhow::Result<()> {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id("bench-key");
    let mut payload = josekit::jwt::JwtPayload::new();
    payload.set_issuer(client_id);
    payload.set_subject(client_id);
    payload.set_audience(vec![token_url]);
    payload.set_jwt_id(uuid::Uuid::new_v4().simple().to_string());
    let now = std::time::SystemTime::now();
    payload.set_issued_at(&now);
    payload.set_expires_at(&(now + Duration::from_secs(60)));
    let assertion = josekit::jwt::encode_with_signer(&payload, &header, signer)?;
    let body = serde_urlencoded_pairs(&[
        ("grant_type".into(), "client_credentials".into()),
        (
            "client_assertion_type".into(),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion".into(), assertion),
    ]);
    let request = wire::request(
        "POST",
        authority,
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    );
    conn.expect(&request, 200)
        .await
        .context("POST /token (private_key_jwt)")?;
    Ok(())
}

/// One rotation step: returns the next refresh token of the chain.
async fn refresh(
    conn: &mut Conn,
    authority: &str,
    basic: &str,
    refresh_token: &str,
) -> anyhow::Result<String> {
    let body = serde_urlencoded_pairs(&[
        ("grant_type".into(), "refresh_token".into()),
        ("refresh_token".into(), refresh_token.into()),
    ]);
    let request = wire::request(
        "POST",
        authority,
        "/token",
        &[
            ("Authorization", basic),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    );
    let answer = conn.expect(&request, 200).await.context("POST /token")?;
    Ok(parse_tokens(answer)?.refresh_token)
}

fn location(response: &reqwest::Response) -> anyhow::Result<String> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no Location header"))
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The login form's hidden inputs (`csrf`, `req`, `lang`). A plain scan of our own markup
/// (`<input type="hidden" name="…" value="…">`): the load generator shares the server's two CPUs,
/// so it must not spend them on a full HTML parse.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].replace("&amp;", "&").replace("&#x2f;", "/"))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((
                attribute(tag, "name")?,
                attribute(tag, "value").unwrap_or_default(),
            ))
        })
        .collect()
}

/// A complete browser login as a new visitor on `kind`'s login pages, then the code exchange.
async fn login_flow(ctx: &Ctx, kind: LoginKind) -> anyhow::Result<Tokens> {
    match kind {
        LoginKind::Leasify => leasify_login_flow(ctx).await,
        LoginKind::NodeOidcProvider => peers::node_login_flow(ctx).await,
    }
}

/// The authorization request every login starts with.
fn authorize_url(ctx: &Ctx) -> anyhow::Result<url::Url> {
    Ok(url::Url::parse_with_params(
        &format!("{}/authorize", ctx.base),
        &[
            ("response_type", "code"),
            ("client_id", ctx.client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile email offline_access"),
            ("state", "bench-state"),
            ("nonce", "bench-nonce"),
        ],
    )?)
}

/// Leasify ID's login: GET /authorize → GET /login → POST /login → (redirect with code) →
/// POST /token.
async fn leasify_login_flow(ctx: &Ctx) -> anyhow::Result<Tokens> {
    let response = ctx.http.get(authorize_url(ctx)?).send().await?;
    let response = expect_status(response, StatusCode::SEE_OTHER, "GET /authorize").await?;
    let login_path = location(&response)?;
    response.bytes().await?;

    let login_url = if login_path.starts_with('/') {
        format!("{}{login_path}", ctx.base)
    } else {
        login_path
    };
    let response = ctx.http.get(&login_url).send().await?;
    let response = expect_status(response, StatusCode::OK, "GET /login").await?;
    let csrf_cookie = cookie_value(&response, CSRF_COOKIE)
        .ok_or_else(|| anyhow!("GET /login set no CSRF cookie"))?;
    let html = response.text().await?;
    let mut form = hidden_inputs(&html);
    ensure!(
        form.iter().any(|(k, _)| k == "csrf") && form.iter().any(|(k, _)| k == "req"),
        "login form lacks csrf/req"
    );
    form.push(("email".into(), USER_EMAIL.into()));
    form.push(("password".into(), USER_PASSWORD.into()));

    let response = ctx
        .http
        .post(format!("{}/login", ctx.base))
        .header(COOKIE, format!("{CSRF_COOKIE}={csrf_cookie}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded_pairs(&form))
        .send()
        .await?;
    let response = expect_status(response, StatusCode::SEE_OTHER, "POST /login").await?;
    let callback = location(&response)?;
    response.bytes().await?;
    exchange_code(ctx, &callback).await
}

/// The relying party's half: the callback's `state` and `code`, then the code exchange.
async fn exchange_code(ctx: &Ctx, callback: &str) -> anyhow::Result<Tokens> {
    let callback = url::Url::parse(callback).context("callback Location")?;
    ensure!(
        callback.as_str().starts_with(REDIRECT_URI),
        "unexpected callback {callback}"
    );
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    ensure!(
        param("state").as_deref() == Some("bench-state"),
        "callback state mismatch: {callback}"
    );
    let code = param("code").ok_or_else(|| anyhow!("no code in callback {callback}"))?;

    token_request(
        ctx,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await
}

fn serde_urlencoded_pairs(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

// ---------------------------------------------------------------------------------------------
// Argon2 reference
// ---------------------------------------------------------------------------------------------

struct Argon2Figures {
    verifies_per_sec: f64,
    p50_ms: f64,
    cpu_per_verify_ms: f64,
}

/// Verifications per second of the crate's own hasher (production parameters), 2 at a time.
async fn argon2_reference(duration: Duration) -> anyhow::Result<Argon2Figures> {
    let hasher = leasify_id::crypto::PasswordHasher::new(2);
    let phc = Arc::new(hasher.hash(USER_PASSWORD).await?);
    let before = proc_counters(None);
    let started = Instant::now();
    let deadline = started + duration;
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (hasher, phc) = (hasher.clone(), phc.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok = hasher.verify(USER_PASSWORD, &phc).await?;
                    ensure!(ok, "argon2 verification of the right password failed");
                    latencies.push(t.elapsed().as_micros() as u32);
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await??);
    }
    let elapsed = started.elapsed();
    let after = proc_counters(None);
    let count = latencies.len().max(1) as f64;
    let cpu_per_verify_ms = after.cpu.saturating_sub(before.cpu).as_secs_f64() * 1000.0 / count;
    eprintln!(
        "bench:   {} verifies, {cpu_per_verify_ms:.1} ms CPU and {:.0} minor faults per verify",
        latencies.len(),
        after.minor_faults.saturating_sub(before.minor_faults) as f64 / count
    );
    latencies.sort_unstable();
    let figures = Argon2Figures {
        verifies_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.5),
        cpu_per_verify_ms,
    };
    eprintln!(
        "bench:   {:.1} verifies/s, {:.1} ms each",
        figures.verifies_per_sec, figures.p50_ms
    );
    Ok(figures)
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

struct Report<'a> {
    args: &'a Args,
    loadavg: String,
    backend: String,
    first_cli: Duration,
    startup: Duration,
    server_startup_ms: Option<u64>,
    idle_rss: u64,
    idle_anon: u64,
    after_rss: u64,
    after_anon: u64,
    peak_hwm: u64,
    shutdown: Option<Duration>,
    argon2: Argon2Figures,
    phases: Vec<Phase>,
    peers: Option<peers::PeerRun>,
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

impl Report<'_> {
    fn markdown(&self) -> String {
        let cpus = online_cpus();
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut md = String::new();
        let mut line = |s: String| {
            md.push_str(&s);
            md.push('\n');
        };
        line("## Leasify ID benchmark".into());
        line(String::new());
        line(format!("- Date: {now}"));
        line(format!("- Machine: {cpus} CPUs, {}", cpu_model()));
        line(format!("- Backend: {}", self.backend));
        line(format!("- Load average before the run: {}", self.loadavg));
        line(format!(
            "- Load: {} concurrent tasks, {:.0} s per phase, client and server on the same machine{}",
            self.args.concurrency,
            self.args.duration,
            if self.args.pin || self.args.peers {
                " (server pinned to CPU 0, load generator to CPU 1)"
            } else {
                ""
            }
        ));
        line(String::new());
        line("| Figure | Value |".into());
        line("|---|---|".into());
        line(format!(
            "| First CLI command on an empty database (migrations, secrets, key generation) | {:.0} ms |",
            self.first_cli.as_secs_f64() * 1000.0
        ));
        line(format!(
            "| Startup to first answered request (spawn `serve` → 200 from /health/live) | {:.1} ms |",
            self.startup.as_secs_f64() * 1000.0
        ));
        if let Some(ms) = self.server_startup_ms {
            line(format!(
                "| Server's own `startup_ms` (log line) | {ms} ms |"
            ));
        }
        line(format!(
            "| Idle memory (VmRSS, 1 s after startup) | {} |",
            mib(self.idle_rss)
        ));
        line(format!(
            "| Memory after the load phases (VmRSS) | {} |",
            mib(self.after_rss)
        ));
        line(format!("| Peak memory (VmHWM) | {} |", mib(self.peak_hwm)));
        line(format!(
            "| Private memory (RssAnon: heap, stacks, buffers; not the file-backed code), idle \
             → after the load phases | {} → {} |",
            mib(self.idle_anon),
            mib(self.after_anon)
        ));
        if let Some(d) = self.shutdown {
            line(format!(
                "| Graceful shutdown (SIGTERM → exit) | {:.0} ms |",
                d.as_secs_f64() * 1000.0
            ));
        }
        line(format!(
            "| Argon2 alone (2 concurrent verifiers, m=19456 KiB, t=2, p=1) | {:.1} verifies/s \
             ({:.1} ms each, {:.1} ms CPU) |",
            self.argon2.verifies_per_sec, self.argon2.p50_ms, self.argon2.cpu_per_verify_ms
        ));
        if let Some(login) = self.phases.last() {
            line(format!(
                "| Complete password logins as a share of argon2 alone | {:.0} % |",
                100.0 * login.rate() / self.argon2.verifies_per_sec
            ));
        }
        line(String::new());
        line(
            "| Load phase | Requests/s | p50 | p99 | Completed | Errors | Server CPU per request \
             | Server RSS after |"
                .into(),
        );
        line("|---|---:|---:|---:|---:|---:|---:|---:|".into());
        for phase in self.phases.iter().filter(|p| measured(&p.name)) {
            let cpu_per_request =
                phase.server.cpu.as_secs_f64() * 1000.0 / phase.latencies.len().max(1) as f64;
            line(format!(
                "| {} | {:.1} | {:.2} ms | {:.2} ms | {} | {} | {:.3} ms | {} |",
                phase.name,
                phase.rate(),
                percentile_ms(&phase.latencies, 0.50),
                percentile_ms(&phase.latencies, 0.99),
                phase.latencies.len(),
                phase.errors,
                cpu_per_request,
                mib(phase.server_rss)
            ));
        }
        if let Some(peers) = &self.peers {
            md.push_str(&peers.markdown(&self.phases));
        }
        md
    }
}

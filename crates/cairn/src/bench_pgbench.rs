//! `cairn bench pgbench`: pgbench against Cairn and against PostgreSQL 15, side by side on
//! this machine, in one run.
//!
//! Each system gets a fresh data directory and a free port: Cairn is this binary's own
//! `cairn start`; PostgreSQL is started from the system packages (`initdb` + `postgres`, with
//! `fsync=on`, `synchronous_commit=on`, `shared_buffers=1GB`; as root, through
//! `runuser -u nobody`, since PostgreSQL refuses to run as root). Then `pgbench -i -s SCALE`
//! loads it, and each script runs for the given duration with `-M prepared` (or the protocol
//! `--protocol` names: `simple`, `extended`, `prepared`). Latencies come
//! from pgbench's per-transaction log (`-l`), so p99 is exact. After the tpcb-like script the
//! run checks pgbench's invariant: sum(abalance) of accounts = sum(delta) of history, and the
//! same for tellers and branches.
//!
//! Both servers run on the same cores as pgbench itself; report medians of several runs and
//! ratios, not single absolute numbers.
//!
//! The servers are children of this process (this module's [`Server`], also used by
//! `cairn bench queries`): dropping one stops it, and SIGINT or SIGTERM to this process
//! stops every one still running and removes its directory before exiting
//! ([`stop_on_signal`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

#[derive(Debug, Args)]
pub struct PgbenchArgs {
    /// pgbench scale factor (100,000 accounts per unit).
    #[arg(long, default_value_t = 10)]
    pub scale: u32,
    /// Concurrent clients (pgbench -c and -j).
    #[arg(long, default_value_t = 8)]
    pub clients: u32,
    /// Seconds per script.
    #[arg(long, default_value_t = 60)]
    pub duration: u32,
    /// Systems to run: cairn (one node), postgres, cluster-leader and cluster-gateway (a
    /// three-node local cluster, pgbench connected to the node that leads the SQL range, or
    /// to one that does not and runs each transaction on the leader over gRPC).
    #[arg(long, value_delimiter = ',', default_value = "cairn,postgres")]
    pub systems: Vec<String>,
    /// Scripts: select-only, tpcb-like.
    #[arg(long, value_delimiter = ',', default_value = "select-only,tpcb-like")]
    pub scripts: Vec<String>,
    /// One JSON object per system and script instead of a table.
    #[arg(long)]
    pub json: bool,
    /// pgbench `--max-tries`: how often a transaction that failed with 40001 (serialization
    /// failure) or 40P01 (deadlock) is retried, as applications do; 1 = no retries.
    #[arg(long, default_value_t = 100)]
    pub max_tries: u32,
    /// Isolation level of every benchmark transaction on both systems: `default` (each
    /// system's own default: SERIALIZABLE for Cairn, READ COMMITTED for PostgreSQL),
    /// `read-committed`, `repeatable-read` or `serializable`.
    #[arg(long, default_value = "default")]
    pub isolation: String,
    /// pgbench `-M`: `simple` (one Query message per statement), `extended` (Parse, Bind,
    /// Execute of an unnamed statement every time) or `prepared` (Parse once per
    /// connection, then Bind and Execute).
    #[arg(long, default_value = "prepared")]
    pub protocol: String,
}

/// What one system of the run is: a single server process, or a local cluster and the SQL
/// port pgbench uses.
enum Target {
    One(Server),
    /// The nodes are held only to stop them when the run ends.
    Cluster {
        _nodes: crate::demo::LocalCluster,
        port: u16,
    },
}

impl Target {
    fn port(&self) -> u16 {
        match self {
            Target::One(s) => s.port,
            Target::Cluster { port, .. } => *port,
        }
    }
}

/// A three-node cluster; `leader`: connect to the node leading the SQL range, else to another.
fn start_cluster(leader: bool) -> anyhow::Result<Target> {
    let cluster = crate::demo::LocalCluster::start(None, 4)?;
    for pid in cluster.pids() {
        stop_on_signal(pid, &cluster.root);
    }
    let l = cluster.sql_leader(Duration::from_secs(30))?;
    let node = if leader {
        l
    } else {
        (l + 1) % cluster.sql_ports.len()
    };
    let port = cluster.sql_ports[node];
    wait_for_port(port, "cairn cluster node")?;
    Ok(Target::Cluster {
        _nodes: cluster,
        port,
    })
}

pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn new(child: Child, port: u16, dir: tempfile::TempDir) -> Server {
        stop_on_signal(child.id(), dir.path());
        Server {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let id = self.child.id();
        running().retain(|(pid, _)| *pid != id);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` still runs (a child that exited but is not yet reaped, state `Z`
/// in `/proc/PID/stat`, does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // "pid (comm) state ...": the state follows the last ')'.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Servers of this process still running: child process id and data directory.
static RUNNING: std::sync::Mutex<Vec<(u32, PathBuf)>> = std::sync::Mutex::new(Vec::new());

fn running() -> std::sync::MutexGuard<'static, Vec<(u32, PathBuf)>> {
    RUNNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers a server child to be stopped if this process is interrupted (SIGINT, SIGTERM):
/// `Drop` does not run then, and PostgreSQL, unlike `cairn start --exit-on-stdin-eof`,
/// would outlive the benchmark. On the first registration a thread starts that waits for
/// those signals, sends each child SIGTERM (`runuser` passes it on to PostgreSQL, which
/// shuts down once its clients are gone), waits up to 10 s for them, removes their
/// directories and exits with status 130.
fn stop_on_signal(pid: u32, dir: &Path) {
    static WATCHER: std::sync::Once = std::sync::Once::new();
    running().push((pid, dir.to_path_buf()));
    WATCHER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("bench-signals".into())
            .spawn(|| {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    use tokio::signal::unix::{signal, SignalKind};
                    let Ok(mut term) = signal(SignalKind::terminate()) else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                });
                let servers = std::mem::take(&mut *running());
                for (pid, _) in &servers {
                    let _ = Command::new("kill")
                        .args(["-TERM", &pid.to_string()])
                        .status();
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline && servers.iter().any(|(pid, _)| alive(*pid)) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                for (_, dir) in &servers {
                    let _ = std::fs::remove_dir_all(dir);
                }
                eprintln!("interrupted: stopped {} server(s)", servers.len());
                std::process::exit(130);
            });
        if let Err(e) = spawned {
            eprintln!("cannot watch for signals ({e}): an interrupted run may leave servers");
        }
    });
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn wait_for_port(port: u16, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} did not listen on port {port} within 60 s")
}

pub(crate) fn start_cairn() -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let port_file = dir.path().join("port");
    let child = Command::new(std::env::current_exe()?)
        .arg("start")
        .arg("--store")
        .arg(dir.path().join("data"))
        .args([
            "--sql-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--exit-on-stdin-eof",
        ])
        .arg("--port-file")
        .arg(&port_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("server.log"))?)
        .spawn()
        .context("start cairn")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let port = loop {
        if let Some(p) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        if Instant::now() > deadline {
            bail!("cairn start did not listen within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Server::new(child, port, dir))
}

fn pg_bin(name: &str) -> PathBuf {
    for dir in ["/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `cmd` run as an unprivileged user when we are root.
fn as_postgres_user(bin: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

pub(crate) fn start_postgres() -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("pgdata");
    std::fs::create_dir_all(&data)?;
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "nobody"])
            .arg(dir.path())
            .status()?
            .success();
        if !ok {
            bail!("chown the PostgreSQL data directory to nobody");
        }
    }
    let out = as_postgres_user(&pg_bin("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "--no-sync"])
        .output()
        .context("run initdb (install PostgreSQL 15 server packages)")?;
    if !out.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let port = free_port()?;
    let child = as_postgres_user(&pg_bin("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir.path())
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=on",
            "-c",
            "synchronous_commit=on",
        ])
        .args(["-c", "shared_buffers=1GB", "-c", "max_connections=100"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start postgres")?;
    let server = Server::new(child, port, dir);
    wait_for_port(port, "postgres")?;
    std::thread::sleep(Duration::from_millis(500));
    Ok(server)
}

fn pgbench(port: u16, args: &[String], cwd: &Path, isolation: &str) -> anyhow::Result<String> {
    let mut cmd = Command::new("pgbench");
    if let Some(level) = isolation_setting(isolation)? {
        // libpq sends PGOPTIONS at startup: the session default for every transaction.
        cmd.env(
            "PGOPTIONS",
            format!(
                "-c default_transaction_isolation={}",
                level.replace(' ', "\\ ")
            ),
        );
    }
    let out = cmd
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(args)
        .arg("postgres")
        .current_dir(cwd)
        .output()
        .context("run pgbench (install postgresql-client)")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("pgbench {} failed:\n{text}", args.join(" "));
    }
    Ok(text)
}

/// `--isolation` as a `default_transaction_isolation` value (`None`: leave the default).
fn isolation_setting(isolation: &str) -> anyhow::Result<Option<&'static str>> {
    Ok(match isolation {
        "default" => None,
        "read-committed" => Some("read committed"),
        "repeatable-read" => Some("repeatable read"),
        "serializable" => Some("serializable"),
        other => bail!(
            "unknown isolation {other} (default, read-committed, repeatable-read, serializable)"
        ),
    })
}

fn psql_value(port: u16, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-X",
            "-A",
            "-t",
            "-c",
            sql,
        ])
        .output()
        .context("run psql")?;
    if !out.status.success() {
        bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct PgbenchReport {
    pub system: String,
    pub script: String,
    pub clients: u32,
    pub tps: f64,
    pub lat_avg_ms: f64,
    pub lat_p99_ms: f64,
    pub failed: u64,
    /// Transactions that succeeded after one or more retries.
    pub retried: u64,
}

impl PgbenchReport {
    pub fn to_json(&self) -> String {
        format!(
            "{{\"system\":\"{}\",\"script\":\"{}\",\"clients\":{},\"tps\":{:.1},\"lat_avg_ms\":{:.3},\"lat_p99_ms\":{:.3},\"failed\":{},\"retried\":{}}}",
            self.system, self.script, self.clients, self.tps, self.lat_avg_ms, self.lat_p99_ms, self.failed, self.retried
        )
    }
}

fn parse_tps(out: &str) -> Option<f64> {
    out.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn parse_failed(out: &str) -> u64 {
    parse_count(out, "number of failed transactions:")
}

fn parse_retried(out: &str) -> u64 {
    parse_count(out, "number of transactions retried:")
}

fn parse_count(out: &str, prefix: &str) -> u64 {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Average and p99 latency (ms) from pgbench's per-transaction logs (`pgbench_log.*`; field 3
/// is the latency in microseconds).
fn log_latencies(dir: &Path) -> anyhow::Result<(f64, f64)> {
    let mut lat = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("pgbench_log"))
        {
            for line in std::fs::read_to_string(&p)?.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    lat.push(us / 1000.0);
                }
            }
            std::fs::remove_file(&p)?;
        }
    }
    if lat.is_empty() {
        bail!("pgbench wrote no latency log");
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let avg = lat.iter().sum::<f64>() / lat.len() as f64;
    let p99 = lat[((lat.len() as f64 * 0.99) as usize).min(lat.len() - 1)];
    Ok((avg, p99))
}

fn check_consistency(port: u16) -> anyhow::Result<()> {
    let history = psql_value(port, "SELECT coalesce(sum(delta), 0) FROM pgbench_history")?;
    for (table, col) in [
        ("pgbench_accounts", "abalance"),
        ("pgbench_tellers", "tbalance"),
        ("pgbench_branches", "bbalance"),
    ] {
        let sum = psql_value(
            port,
            &format!("SELECT coalesce(sum({col}), 0) FROM {table}"),
        )?;
        if sum != history {
            bail!("consistency check failed: sum({col}) of {table} = {sum}, sum(delta) of pgbench_history = {history}");
        }
    }
    Ok(())
}

pub fn run(args: &PgbenchArgs) -> anyhow::Result<()> {
    if !matches!(args.protocol.as_str(), "simple" | "extended" | "prepared") {
        bail!(
            "unknown protocol {} (simple, extended, prepared)",
            args.protocol
        );
    }
    let work = tempfile::tempdir()?;
    let mut reports = Vec::new();
    if !args.json {
        println!(
            "cairn bench pgbench: scale={} clients={} duration={} s, -M {}, max-tries={}, isolation={}\n{:<15} {:<12} {:>10} {:>12} {:>12} {:>7} {:>8}",
            args.scale, args.clients, args.duration, args.protocol, args.max_tries, args.isolation, "system", "script", "tps", "lat avg ms", "lat p99 ms", "failed", "retried"
        );
    }
    for system in &args.systems {
        let server = match system.as_str() {
            "cairn" => Target::One(start_cairn()?),
            "postgres" => Target::One(start_postgres()?),
            "cluster-leader" => start_cluster(true)?,
            "cluster-gateway" => start_cluster(false)?,
            other => {
                bail!("unknown system {other} (cairn, postgres, cluster-leader, cluster-gateway)")
            }
        };
        pgbench(
            server.port(),
            &[
                "-i".into(),
                "-q".into(),
                "-s".into(),
                args.scale.to_string(),
            ],
            work.path(),
            "default",
        )
        .with_context(|| format!("load {system}"))?;
        for script in &args.scripts {
            let mut a: Vec<String> = vec![
                "-n".into(),
                "-M".into(),
                args.protocol.clone(),
                "-c".into(),
                args.clients.to_string(),
                "-j".into(),
                args.clients.to_string(),
                "-T".into(),
                args.duration.to_string(),
                "-l".into(),
                format!("--max-tries={}", args.max_tries.max(1)),
            ];
            match script.as_str() {
                "select-only" => a.push("-S".into()),
                "tpcb-like" => {}
                other => bail!("unknown script {other} (select-only, tpcb-like)"),
            }
            let out = pgbench(server.port(), &a, work.path(), &args.isolation)
                .with_context(|| format!("{system} {script}"))?;
            let tps =
                parse_tps(&out).with_context(|| format!("no tps in pgbench output:\n{out}"))?;
            let (lat_avg_ms, lat_p99_ms) = log_latencies(work.path())?;
            let r = PgbenchReport {
                system: system.clone(),
                script: script.clone(),
                clients: args.clients,
                tps,
                lat_avg_ms,
                lat_p99_ms,
                failed: parse_failed(&out),
                retried: parse_retried(&out),
            };
            if args.json {
                println!("{}", r.to_json());
            } else {
                println!(
                    "{:<15} {:<12} {:>10.1} {:>12.3} {:>12.3} {:>7} {:>8}",
                    r.system, r.script, r.tps, r.lat_avg_ms, r.lat_p99_ms, r.failed, r.retried
                );
            }
            reports.push(r);
            if script == "tpcb-like" {
                check_consistency(server.port())
                    .with_context(|| format!("{system} after tpcb-like"))?;
            }
        }
    }
    if !args.json {
        for script in &args.scripts {
            let find = |s: &str| {
                reports
                    .iter()
                    .find(|r| r.system == s && &r.script == script)
                    .map(|r| r.tps)
            };
            for (a, b) in [
                ("cairn", "postgres"),
                ("cluster-leader", "cairn"),
                ("cluster-gateway", "cluster-leader"),
            ] {
                if let (Some(x), Some(y)) = (find(a), find(b)) {
                    println!("ratio {a}/{b} {script}: {:.2}x tps", x / y);
                }
            }
        }
    }
    Ok(())
}

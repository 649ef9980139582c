//! `cairn bench queries`: analytical queries on Cairn and PostgreSQL 15, side by side on this
//! machine: a TPC-H-shaped workload (8 tables, the 22 query shapes) and a join-order
//! workload (3- to 8-way joins over Zipf-skewed foreign keys).
//!
//! Role: `main.rs` dispatches `cairn bench queries` to [`run`]. It starts the servers with
//! `bench_pgbench` (Cairn is this binary's `cairn start`; PostgreSQL 15 from the system
//! packages, as `nobody` when we are root), generates the data with [`gen`] (deterministic
//! for a scale factor and seed), creates the same tables, primary keys and secondary indexes
//! on both ([`tpch`], [`joins`]), loads them the same way (`COPY ... FROM STDIN`, text
//! format, [`gen::CHUNK_ROWS`] rows per statement), runs `ANALYZE` on both, then times each
//! query: one warm-up, then `--runs` timed runs, median reported. Results are compared as
//! sorted text rows (the simple query protocol's text values). For the join workload it
//! also times Cairn running each query in other, forced join orders (`joins` module header)
//! and reports the chosen plan's time over the best alternative's.
//!
//! Timeouts: PostgreSQL gets `statement_timeout`; Cairn a client-side timeout, after which
//! the query is cancelled (a CancelRequest) and the connection replaced. A timeout or an
//! error is reported for that query, never fatal.
//!
//! Both servers run on the same cores as this client; compare ratios, not absolute times.

mod gen;
mod joins;
mod tpch;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use futures::SinkExt;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::bench_pgbench::{start_cairn, start_postgres, Server};

#[derive(Debug, Args)]
pub struct QueriesArgs {
    /// Scale factor: lineitem has about 6,000,000 × sf rows.
    #[arg(long, default_value_t = 0.1)]
    pub sf: f64,
    /// One JSON object per query instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Timed runs per query and system (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Workloads: tpch, joins.
    #[arg(long, value_delimiter = ',', default_value = "tpch,joins")]
    pub workloads: Vec<String>,
    /// Only these queries (e.g. `q1,q6,j3`); default all.
    #[arg(long, value_delimiter = ',')]
    pub queries: Vec<String>,
    /// Systems: cairn, postgres.
    #[arg(long, value_delimiter = ',', default_value = "cairn,postgres")]
    pub systems: Vec<String>,
    /// Per-query timeout, seconds (each run).
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// Seed of the data generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Forced join orders timed per join query on Cairn (0: none).
    #[arg(long, default_value_t = 6)]
    pub alternatives: usize,
    /// Load, then print each server's port and wait for a line on stdin (or its end)
    /// before timing anything: for EXPLAIN, psql and profilers by hand.
    #[arg(long)]
    pub hold: bool,
}

/// One system under test: its server process and a connection to it.
struct System {
    name: &'static str,
    _server: Server,
    port: u16,
    client: Client,
    /// Client-side limit per statement.
    timeout: Duration,
}

async fn connect(port: u16, statement_timeout_secs: Option<u64>) -> anyhow::Result<Client> {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        NoTls,
    )
    .await
    .with_context(|| format!("connect to port {port}"))?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped or the server goes away; the
        // query that was running reports the error.
        let _ = conn.await;
    });
    if let Some(secs) = statement_timeout_secs {
        client
            .batch_execute(&format!("SET statement_timeout = '{secs}s'"))
            .await?;
    }
    Ok(client)
}

/// Why a query produced no rows.
#[derive(Debug, Clone)]
enum QueryError {
    Timeout(u64),
    Db { code: String, message: String },
    Other(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Timeout(s) => write!(f, "timeout after {s} s"),
            QueryError::Db { code, message } => write!(f, "{code}: {message}"),
            QueryError::Other(m) => write!(f, "{m}"),
        }
    }
}

impl System {
    fn is_postgres(&self) -> bool {
        self.name == "postgres"
    }

    /// Runs `sql` and returns its rows as sorted text (`|` between values, NULL as `NULL`).
    async fn query(&mut self, sql: &str) -> Result<Vec<String>, QueryError> {
        let limit = self.timeout;
        match tokio::time::timeout(limit, self.client.simple_query(sql)).await {
            Ok(Ok(msgs)) => {
                let mut rows: Vec<String> = msgs
                    .iter()
                    .filter_map(|m| match m {
                        SimpleQueryMessage::Row(r) => Some(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("NULL"))
                                .collect::<Vec<_>>()
                                .join("|"),
                        ),
                        _ => None,
                    })
                    .collect();
                rows.sort();
                Ok(rows)
            }
            Ok(Err(e)) => {
                let err = match e.as_db_error() {
                    Some(db) => QueryError::Db {
                        code: db.code().code().to_string(),
                        message: db.message().to_string(),
                    },
                    None => QueryError::Other(e.to_string()),
                };
                // PostgreSQL's own statement_timeout (57014) is a timeout too.
                if self.is_postgres()
                    && matches!(&err, QueryError::Db { code, .. } if code == "57014")
                {
                    return Err(QueryError::Timeout(limit.as_secs()));
                }
                if self.client.is_closed() {
                    self.reconnect().await;
                }
                Err(err)
            }
            Err(_) => {
                let token = self.client.cancel_token();
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), token.cancel_query(NoTls)).await;
                self.reconnect().await;
                Err(QueryError::Timeout(limit.as_secs()))
            }
        }
    }

    async fn reconnect(&mut self) {
        let secs = self
            .is_postgres()
            .then_some(self.timeout.as_secs().saturating_sub(5));
        match connect(self.port, secs).await {
            Ok(c) => self.client = c,
            Err(e) => eprintln!("{}: reconnect failed: {e:#}", self.name),
        }
    }
}

/// The measurement of one query on one system.
#[derive(Debug, Clone)]
struct Measure {
    median_ms: Option<f64>,
    rows: Option<Vec<String>>,
    error: Option<QueryError>,
}

/// One warm-up (whose rows are kept for the comparison), then `runs` timed runs.
async fn measure(sys: &mut System, sql: &str, runs: u32) -> Measure {
    let rows = match sys.query(sql).await {
        Ok(r) => r,
        Err(e) => {
            return Measure {
                median_ms: None,
                rows: None,
                error: Some(e),
            }
        }
    };
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        if let Err(e) = sys.query(sql).await {
            return Measure {
                median_ms: None,
                rows: Some(rows),
                error: Some(e),
            };
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Measure {
        median_ms: times.get(times.len() / 2).copied(),
        rows: Some(rows),
        error: None,
    }
}

/// Chosen plan vs forced join orders, for one join query on Cairn.
#[derive(Debug, Default)]
struct Alternatives {
    /// (order, median ms or error, rows equal to the query's).
    tried: Vec<(String, Result<f64, String>, bool)>,
    /// Join order of Cairn's chosen plan (scans in EXPLAIN order).
    chosen_order: String,
}

impl Alternatives {
    fn best(&self) -> Option<(&str, f64)> {
        self.tried
            .iter()
            .filter_map(|(o, r, _)| r.as_ref().ok().map(|ms| (o.as_str(), *ms)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

struct Outcome {
    workload: &'static str,
    query: String,
    cairn: Option<Measure>,
    postgres: Option<Measure>,
    alternatives: Option<Alternatives>,
}

impl Outcome {
    fn ms(m: &Option<Measure>) -> Option<f64> {
        m.as_ref().and_then(|m| m.median_ms)
    }

    fn ratio(&self) -> Option<f64> {
        match (Self::ms(&self.cairn), Self::ms(&self.postgres)) {
            (Some(c), Some(p)) if p > 0.0 => Some(c / p),
            _ => None,
        }
    }

    /// `None` when one system was not run; false when either failed to return rows.
    fn rows_match(&self) -> Option<bool> {
        match (&self.cairn, &self.postgres) {
            (Some(c), Some(p)) => Some(matches!((&c.rows, &p.rows), (Some(a), Some(b)) if a == b)),
            _ => None,
        }
    }

    fn error(&self) -> Option<String> {
        let mut parts = Vec::new();
        for (name, m) in [("cairn", &self.cairn), ("postgres", &self.postgres)] {
            if let Some(e) = m.as_ref().and_then(|m| m.error.as_ref()) {
                parts.push(format!("{name}: {e}"));
            }
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn to_json(&self) -> String {
        let num = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.3}"));
        let mut s = format!(
            "{{\"workload\":\"{}\",\"query\":{},\"cairn_ms\":{},\"postgres_ms\":{},\"ratio\":{},\"rows_match\":{}",
            self.workload,
            json_string(&self.query),
            num(Self::ms(&self.cairn)),
            num(Self::ms(&self.postgres)),
            num(self.ratio()),
            self.rows_match().map_or("null".to_string(), |b| b.to_string()),
        );
        if let Some(e) = self.error() {
            let _ = write!(s, ",\"error\":{}", json_string(&e));
        }
        if let Some(a) = &self.alternatives {
            let _ = write!(s, ",\"chosen_order\":{}", json_string(&a.chosen_order));
            if let Some((order, ms)) = a.best() {
                let _ = write!(
                    s,
                    ",\"best_alternative_order\":{},\"best_alternative_ms\":{ms:.3},\"chosen_vs_best\":{}",
                    json_string(order),
                    num(Self::ms(&self.cairn).map(|c| c / ms))
                );
            }
            let tried: Vec<String> = a
                .tried
                .iter()
                .map(|(o, r, same)| match r {
                    Ok(ms) => format!(
                        "{{\"order\":{},\"ms\":{ms:.3},\"rows_match\":{same}}}",
                        json_string(o)
                    ),
                    Err(e) => format!(
                        "{{\"order\":{},\"error\":{}}}",
                        json_string(o),
                        json_string(e)
                    ),
                })
                .collect();
            let _ = write!(s, ",\"alternatives\":[{}]", tried.join(","));
        }
        s.push('}');
        s
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Creates, loads and analyses one workload's tables on one system; returns the seconds it
/// took.
async fn load(
    sys: &System,
    schema: &[&str],
    indexes: &[&str],
    tables: &[gen::TableData],
) -> anyhow::Result<f64> {
    let start = Instant::now();
    for stmt in schema.iter().chain(indexes) {
        sys.client
            .batch_execute(stmt)
            .await
            .with_context(|| format!("{}: {stmt}", sys.name))?;
    }
    for t in tables {
        for chunk in &t.chunks {
            let sink = sys
                .client
                .copy_in::<str, bytes::Bytes>(format!("COPY {} FROM STDIN", t.name).as_str())
                .await
                .with_context(|| format!("{}: COPY {}", sys.name, t.name))?;
            futures::pin_mut!(sink);
            sink.send(bytes::Bytes::copy_from_slice(chunk.as_bytes()))
                .await
                .with_context(|| format!("{}: COPY {} data", sys.name, t.name))?;
            sink.finish()
                .await
                .with_context(|| format!("{}: COPY {} end", sys.name, t.name))?;
        }
    }
    for t in tables {
        sys.client
            .batch_execute(&format!("ANALYZE {}", t.name))
            .await
            .with_context(|| format!("{}: ANALYZE {}", sys.name, t.name))?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// The relations of Cairn's plan for `sql` in join order (the scans of its EXPLAIN, top to
/// bottom, which for left-deep hash joins is probe side first).
async fn cairn_plan_order(sys: &mut System, sql: &str) -> String {
    match sys.query(&format!("EXPLAIN {sql}")).await {
        Ok(_) => {}
        Err(e) => return format!("(EXPLAIN failed: {e})"),
    }
    // `query` sorts rows; EXPLAIN needs them in order, so ask again unsorted.
    let Ok(msgs) = sys.client.simple_query(&format!("EXPLAIN {sql}")).await else {
        return String::new();
    };
    let mut out = Vec::new();
    for m in msgs {
        if let SimpleQueryMessage::Row(r) = m {
            let line = r.get(0).unwrap_or("");
            // "Seq Scan on t", "Index Scan using i on t (...)".
            if line.contains("Scan ") {
                if let Some(pos) = line.find(" on ") {
                    let rest = &line[pos + " on ".len()..];
                    let name = rest.split_whitespace().next().unwrap_or("");
                    out.push(name.trim_start_matches("j_").to_string());
                }
            }
        }
    }
    out.join(">")
}

pub fn run(args: &QueriesArgs) -> anyhow::Result<()> {
    if !(args.sf > 0.0 && args.sf <= 10.0) {
        bail!("--sf must be in (0, 10], got {}", args.sf);
    }
    for w in &args.workloads {
        if !matches!(w.as_str(), "tpch" | "joins") {
            bail!("unknown workload {w} (tpch, joins)");
        }
    }
    let known: Vec<String> = tpch::QUERIES
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(joins::QUERIES.iter().map(|q| q.name.to_string()))
        .collect();
    for q in &args.queries {
        if !known.contains(q) {
            bail!("unknown query {q} (q1..q22, j1..j10)");
        }
    }
    let mut servers = Vec::new();
    for s in &args.systems {
        let (name, server) = match s.as_str() {
            "cairn" => ("cairn", start_cairn()?),
            "postgres" => ("postgres", start_postgres()?),
            other => bail!("unknown system {other} (cairn, postgres)"),
        };
        servers.push((name, server));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(args, servers))
}

async fn run_async(args: &QueriesArgs, servers: Vec<(&'static str, Server)>) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let mut systems = Vec::new();
    for (name, server) in servers {
        let port = server.port;
        let is_pg = name == "postgres";
        // PostgreSQL enforces the limit itself; the client waits a little longer.
        let client = connect(port, is_pg.then_some(args.timeout_secs.max(1))).await?;
        systems.push(System {
            name,
            _server: server,
            port,
            client,
            timeout: if is_pg {
                timeout + Duration::from_secs(5)
            } else {
                timeout
            },
        });
    }
    let selected = |name: &str| args.queries.is_empty() || args.queries.iter().any(|q| q == name);
    let mut outcomes = Vec::new();
    if !args.json {
        println!(
            "cairn bench queries: sf={} runs={} timeout={} s seed={}",
            args.sf, args.runs, args.timeout_secs, args.seed
        );
    }
    for workload in ["tpch", "joins"] {
        if !args.workloads.iter().any(|w| w == workload) {
            continue;
        }
        let gen_start = Instant::now();
        let (tables, schema, indexes) = if workload == "tpch" {
            (
                gen::tpch_tables(args.sf, args.seed),
                tpch::SCHEMA,
                tpch::INDEXES,
            )
        } else {
            (
                gen::join_tables(args.sf, args.seed),
                joins::SCHEMA,
                joins::INDEXES,
            )
        };
        let counts: Vec<String> = tables
            .iter()
            .map(|t| format!("{} {}", t.name, t.row_count))
            .collect();
        eprintln!(
            "{workload}: generated in {:.1} s: {}",
            gen_start.elapsed().as_secs_f64(),
            counts.join(", ")
        );
        for sys in &systems {
            let secs = load(sys, schema, indexes, &tables).await?;
            eprintln!(
                "{workload}: loaded {} in {secs:.1} s (create, COPY, ANALYZE)",
                sys.name
            );
        }
        drop(tables);
        if args.hold {
            for sys in &systems {
                eprintln!(
                    "{workload}: {} listens on 127.0.0.1:{} (psql -h 127.0.0.1 -p {} -U postgres)",
                    sys.name, sys.port, sys.port
                );
            }
            eprintln!("{workload}: holding; press Enter (or close stdin) to go on");
            let mut line = String::new();
            tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await??;
        }
        let queries: Vec<(String, String)> = if workload == "tpch" {
            tpch::QUERIES
                .iter()
                .map(|(n, q)| (n.to_string(), q.to_string()))
                .collect()
        } else {
            joins::QUERIES
                .iter()
                .map(|q| (q.name.to_string(), q.sql()))
                .collect()
        };
        for (name, sql) in queries {
            if !selected(&name) {
                continue;
            }
            let mut outcome = Outcome {
                workload,
                query: name.clone(),
                cairn: None,
                postgres: None,
                alternatives: None,
            };
            for sys in systems.iter_mut() {
                let m = measure(sys, &sql, args.runs).await;
                eprintln!(
                    "{workload} {name} {}: {}",
                    sys.name,
                    match (&m.median_ms, &m.error) {
                        (_, Some(e)) => format!("error {e}"),
                        (Some(ms), None) => format!("{ms:.1} ms"),
                        (None, None) => "no time".to_string(),
                    }
                );
                if sys.is_postgres() {
                    outcome.postgres = Some(m);
                } else {
                    outcome.cairn = Some(m);
                }
            }
            if workload == "joins" && args.alternatives > 0 {
                if let (Some(jq), Some(sys)) = (
                    joins::QUERIES.iter().find(|q| q.name == name),
                    systems.iter_mut().find(|s| !s.is_postgres()),
                ) {
                    let reference = outcome.cairn.as_ref().and_then(|m| m.rows.clone());
                    let mut alts = Alternatives {
                        chosen_order: cairn_plan_order(sys, &sql).await,
                        ..Default::default()
                    };
                    for order in jq.alternatives(args.alternatives) {
                        let text = jq.order_text(&order);
                        let m = measure(sys, &jq.forced_sql(&order), args.runs).await;
                        let same = reference.is_some() && m.rows == reference;
                        let r = match (m.median_ms, m.error) {
                            (_, Some(e)) => Err(e.to_string()),
                            (Some(ms), None) => Ok(ms),
                            (None, None) => Err("no time".to_string()),
                        };
                        eprintln!("joins {name} forced {text}: {r:?} rows_match={same}");
                        alts.tried.push((text, r, same));
                    }
                    outcome.alternatives = Some(alts);
                }
            }
            if args.json {
                println!("{}", outcome.to_json());
            }
            outcomes.push(outcome);
        }
    }
    if !args.json {
        print_table(&outcomes);
    }
    Ok(())
}

fn print_table(outcomes: &[Outcome]) {
    let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    println!(
        "{:<8} {:<6} {:>12} {:>12} {:>8} {:>10}  error",
        "workload", "query", "cairn_ms", "postgres_ms", "ratio", "rows_match"
    );
    for o in outcomes {
        println!(
            "{:<8} {:<6} {:>12} {:>12} {:>8} {:>10}  {}",
            o.workload,
            o.query,
            fmt(Outcome::ms(&o.cairn)),
            fmt(Outcome::ms(&o.postgres)),
            o.ratio().map_or("-".to_string(), |r| format!("{r:.2}")),
            o.rows_match().map_or("-".to_string(), |b| b.to_string()),
            o.error().unwrap_or_default()
        );
    }
    let ratios: Vec<f64> = outcomes.iter().filter_map(Outcome::ratio).collect();
    if !ratios.is_empty() {
        let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        let over = ratios.iter().filter(|&&r| r > 3.0).count();
        let failed = outcomes.iter().filter(|o| o.ratio().is_none()).count();
        let mismatched = outcomes
            .iter()
            .filter(|o| o.rows_match() == Some(false))
            .count();
        println!(
            "geometric mean cairn/postgres over {} queries with both times: {geo:.2}; over 3x: {over}; without a ratio (error or timeout): {failed}; rows_match false: {mismatched}",
            ratios.len()
        );
    }
    let with_alts: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.alternatives.is_some())
        .collect();
    if !with_alts.is_empty() {
        println!(
            "\njoin order (Cairn): chosen plan vs forced alternatives\n{:<6} {:>10} {:>10} {:>8}  {:<50} best order",
            "query", "chosen_ms", "best_ms", "ratio", "chosen order (EXPLAIN scans)"
        );
        for o in with_alts {
            let Some(a) = &o.alternatives else { continue };
            let best = a.best();
            let chosen = Outcome::ms(&o.cairn);
            let ratio = match (chosen, best) {
                (Some(c), Some((_, b))) if b > 0.0 => format!("{:.2}", c / b),
                _ => "-".to_string(),
            };
            println!(
                "{:<6} {:>10} {:>10} {:>8}  {:<50} {}",
                o.query,
                fmt(chosen),
                fmt(best.map(|b| b.1)),
                ratio,
                a.chosen_order,
                best.map_or("-", |b| b.0)
            );
            let bad: Vec<&str> = a
                .tried
                .iter()
                .filter(|(_, r, same)| r.is_ok() && !same)
                .map(|(o, _, _)| o.as_str())
                .collect();
            if !bad.is_empty() {
                println!(
                    "       rows differ from the query's for forced orders: {}",
                    bad.join(", ")
                );
            }
        }
    }
}

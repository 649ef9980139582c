//! The `cairn` binary: one executable for every Cairn role and tool.
//!
//! Subcommands are grouped as nested enums (`cairn <group> <command>`), so new groups
//! (`start`, `sql`, ...) add a variant to [`Command`] and a handler, without touching the
//! others. Handlers live beside their group: `bench` here (a thin layer over `cairn-bench`),
//! `debug` in [`debug`].

mod bench_pgbench;
mod bench_queries;
mod cluster_cli;
mod debug;
mod demo;

/// mimalloc: the storage engine allocates and frees one block per memtable entry and per
/// cached block; mimalloc's thread-local free lists make both markedly cheaper than glibc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cairn_bench::engine::{self, EngineBenchConfig, EngineKind, Workload, WorkloadReport};
use cairn_bench::kv::{self, KvBenchConfig, KvReport};
use cairn_bench::txn::{self, TxnBenchConfig, TxnReport};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: a distributed, transactional database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a single-node server: SQL over the PostgreSQL protocol, data in ./cairn-data.
    Start(Box<cairn::start::StartArgs>),
    /// Runs a local three-node cluster (three child processes) until Ctrl-C.
    Demo(demo::DemoArgs),
    /// Initialises a new cluster through one of its nodes (started with --join).
    Init(cluster_cli::InitArgs),
    /// The replicated key-value API of a cluster.
    #[command(subcommand)]
    Kv(cluster_cli::KvCommand),
    /// Cluster nodes.
    #[command(subcommand)]
    Node(cluster_cli::NodeCommand),
    /// Checks a history recorded by a chaos test (linearizability of registers, bank
    /// invariants, list-append serializability); `cairn check-history --help`.
    #[command(disable_help_flag = true)]
    CheckHistory {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Offline inspection of storage files.
    #[command(subcommand)]
    Debug(debug::DebugCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// db_bench-style storage engine benchmark (Cairn's LSM and, if built in, RocksDB, fjall).
    Engine(EngineBenchArgs),
    /// YCSB workloads as transactions (Cairn's embedded Db and, if built in, RocksDB's
    /// OptimisticTransactionDB).
    Txn(TxnBenchArgs),
    /// pgbench (select-only and tpcb-like, -M prepared) against Cairn and PostgreSQL 15.
    Pgbench(bench_pgbench::PgbenchArgs),
    /// Analytical queries (TPC-H-shaped and join-order workloads) against PostgreSQL 15.
    Queries(bench_queries::QueriesArgs),
    /// Puts and linearizable gets against a running Cairn or etcd cluster, over gRPC.
    Kv(KvBenchArgs),
}

/// Flags of `cairn bench kv`; the rules behind them are documented in `cairn_bench::kv`.
#[derive(Debug, Args)]
struct KvBenchArgs {
    /// gRPC addresses of the cluster's nodes (Cairn: --grpc-addr; etcd: client URLs'
    /// HOST:PORT). Each client starts on one host and moves to the next after a failure.
    #[arg(long, value_delimiter = ',', required = true)]
    hosts: Vec<String>,

    /// System under test: cairn (cairn.kv.Kv) or etcd (etcdserverpb.KV, v3 API).
    #[arg(long, default_value = "cairn")]
    target: kv::Target,

    /// Concurrent clients, each with one request in flight; each workload runs once per
    /// count.
    #[arg(long, value_delimiter = ',', default_value = "16")]
    clients: Vec<usize>,

    /// Workloads, in order: put (100-byte values), get (linearizable; loads every key first,
    /// untimed).
    #[arg(long, value_delimiter = ',', default_value = "put")]
    workload: Vec<kv::KvWorkload>,

    /// Operations per (workload, clients).
    #[arg(long, default_value_t = 100_000)]
    num: u64,

    /// Seconds per (workload, clients) instead of --num operations.
    #[arg(long)]
    duration: Option<f64>,

    /// Number of distinct keys; operations pick one uniformly.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,

    /// Value size in bytes.
    #[arg(long = "value-size", default_value_t = 100)]
    value_bytes: usize,

    /// gRPC connections per host, shared by the clients.
    #[arg(long, default_value_t = 1)]
    conns: usize,

    /// Print one JSON object per (workload, clients) instead of a table.
    #[arg(long)]
    json: bool,

    /// Seed of key choices and values.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Flags of `cairn bench txn`; the rules behind them are documented in `cairn_bench::txn`.
#[derive(Debug, Args)]
struct TxnBenchArgs {
    /// YCSB workloads to run, in order: A (50% read, 50% update), B (95/5), C (read only),
    /// F (50% read, 50% read-modify-write).
    #[arg(long, value_delimiter = ',', default_value = "A,B,C,F")]
    workloads: Vec<txn::Workload>,

    /// Thread counts; each workload runs once per count.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,

    /// Records loaded before the workloads (untimed).
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,

    /// Operations per (workload, thread count).
    #[arg(long, default_value_t = 100_000)]
    ops: u64,

    /// Engines: cairn, rocksdb (the latter only if built with `--features rocksdb`).
    #[arg(long, value_delimiter = ',', default_value = "cairn")]
    engines: Vec<String>,

    /// Parent directory for the databases (DIR/txn-<engine> is deleted and recreated).
    /// Default: a temporary directory removed at exit.
    #[arg(long = "db", value_name = "DIR")]
    db_dir: Option<PathBuf>,

    /// Print one JSON object per (engine, workload, threads) instead of a table.
    #[arg(long)]
    json: bool,

    /// Value size in bytes.
    #[arg(long = "value-size", default_value_t = 100)]
    value_bytes: usize,

    /// Block cache size of each engine in MiB.
    #[arg(long = "cache-mb", default_value_t = 256)]
    cache_mb: u64,

    /// Do not fsync at commit (both engines). The default fsyncs every commit.
    #[arg(long)]
    no_sync: bool,

    /// Seed of values and key choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Flags of `cairn bench engine`; the rules behind them are documented in
/// `cairn_bench::engine`.
#[derive(Debug, Args)]
struct EngineBenchArgs {
    /// Workloads to run, in order, on one database per engine: fillseq, fillrandom, overwrite,
    /// fillsync, readrandom, readmissing, seekrandom. Fills start from an empty database;
    /// fillsync uses a scratch database of its own.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fillseq,fillrandom,overwrite,fillsync,readrandom,readmissing,seekrandom"
    )]
    workloads: Vec<Workload>,

    /// Threads per workload, sharing one engine; the operations are split among them.
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// Operations per workload; fills write keys 0..num. fillsync writes min(num, 20000).
    #[arg(long, default_value_t = 1_000_000)]
    num: u64,

    /// Engines to compare, one after the other: cairn, rocksdb, fjall (the last two only if
    /// built with `--features rocksdb,fjall`).
    #[arg(long, value_delimiter = ',', default_value = "cairn")]
    engines: Vec<EngineKind>,

    /// Parent directory for the databases (DIR/<engine> is deleted and recreated, and left
    /// behind for inspection). Default: a temporary directory removed at exit.
    #[arg(long = "db", value_name = "DIR")]
    db_dir: Option<PathBuf>,

    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    json: bool,

    /// Value size in bytes (half random, half compressible); keys are always 16 bytes.
    #[arg(long = "value-size", default_value_t = 100)]
    value_bytes: usize,

    /// Block cache size of each engine in MiB.
    #[arg(long = "cache-mb", default_value_t = 256)]
    cache_mb: u64,

    /// Seed of keys, values and random orders; a seed always gives the same data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Start(args) => cairn::start::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Init(args) => cluster_cli::init(args),
        Command::Kv(cmd) => cluster_cli::kv(cmd),
        Command::Node(cmd) => cluster_cli::node(cmd),
        Command::CheckHistory { args } => {
            let code = cairn_check::run_cli(args, &mut std::io::stdout());
            return ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
        Command::Bench(BenchCommand::Engine(args)) => run_engine_bench(args),
        Command::Bench(BenchCommand::Txn(args)) => run_txn_bench(args),
        Command::Bench(BenchCommand::Pgbench(args)) => bench_pgbench::run(args),
        Command::Bench(BenchCommand::Queries(args)) => bench_queries::run(args),
        Command::Bench(BenchCommand::Kv(args)) => run_kv_bench(args),
        Command::Debug(command) => debug::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_engine_bench(args: &EngineBenchArgs) -> anyhow::Result<()> {
    let cache_bytes = args
        .cache_mb
        .checked_mul(1 << 20)
        .context("--cache-mb is too large")?;
    let config = EngineBenchConfig {
        workloads: args.workloads.clone(),
        engines: args.engines.clone(),
        threads: args.threads,
        num: args.num,
        db_dir: args.db_dir.clone(),
        value_bytes: args.value_bytes,
        cache_bytes,
        seed: args.seed,
    };
    config.validate()?;
    let header = format!(
        "cairn bench engine: num={} threads={} key=16 B value={} B cache={} MiB seed={}\n{}",
        config.num,
        config.threads,
        config.value_bytes,
        args.cache_mb,
        config.seed,
        WorkloadReport::table_header()
    );
    print_reports(
        args.json,
        &header,
        |on_report| engine::run(&config, on_report).context("bench engine"),
        |r: &WorkloadReport, json| {
            if json {
                r.to_json_line()
            } else {
                r.table_row()
            }
        },
    )
}

/// Prints `header` (unless `json`) and then one line per report as soon as it arrives, so
/// a long run shows progress and a crash keeps the lines before it.
fn print_reports<R>(
    json: bool,
    header: &str,
    run: impl FnOnce(&mut dyn FnMut(&R)) -> anyhow::Result<()>,
    line: impl Fn(&R, bool) -> String,
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if !json {
        writeln!(stdout, "{header}")?;
    }
    let mut write_error = None;
    run(&mut |report| {
        let text = line(report, json);
        if let Err(e) = writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
            write_error.get_or_insert(e);
        }
    })?;
    match write_error {
        Some(e) => Err(e).context("write results to stdout"),
        None => Ok(()),
    }
}

fn run_txn_bench(args: &TxnBenchArgs) -> anyhow::Result<()> {
    let config = TxnBenchConfig {
        engines: args.engines.clone(),
        workloads: args.workloads.clone(),
        threads: args.threads.clone(),
        records: args.records,
        ops: args.ops,
        value_bytes: args.value_bytes,
        cache_bytes: args
            .cache_mb
            .checked_mul(1 << 20)
            .context("--cache-mb is too large")?,
        sync: !args.no_sync,
        db_dir: args.db_dir.clone(),
        seed: args.seed,
    };
    config.validate()?;
    let header = format!(
        "cairn bench txn: records={} ops={} value={} B sync={} seed={}\n{}",
        config.records,
        config.ops,
        config.value_bytes,
        config.sync,
        config.seed,
        TxnReport::table_header()
    );
    print_reports(
        args.json,
        &header,
        |on_report| txn::run(&config, on_report).context("bench txn"),
        |r: &TxnReport, json| {
            if json {
                r.to_json_line()
            } else {
                r.table_row()
            }
        },
    )
}

fn run_kv_bench(args: &KvBenchArgs) -> anyhow::Result<()> {
    let duration = match args.duration {
        None => None,
        Some(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => {
            Some(std::time::Duration::from_secs_f64(secs))
        }
        Some(_) => anyhow::bail!("--duration must be a positive number of seconds"),
    };
    let config = KvBenchConfig {
        target: args.target,
        hosts: args.hosts.clone(),
        clients: args.clients.clone(),
        workloads: args.workload.clone(),
        num: args.num,
        duration,
        keys: args.keys,
        value_bytes: args.value_bytes,
        conns: args.conns,
        seed: args.seed,
    };
    config.validate()?;
    let run_length = match args.duration {
        Some(secs) => format!("duration={secs} s"),
        None => format!("num={}", config.num),
    };
    let header = format!(
        "cairn bench kv: target={} hosts={} {run_length} keys={} key=16 B value={} B conns={} seed={}\n{}",
        config.target.name(),
        config.hosts.join(","),
        config.keys,
        config.value_bytes,
        config.conns,
        config.seed,
        KvReport::table_header()
    );
    print_reports(
        args.json,
        &header,
        |on_report| kv::run(&config, on_report).context("bench kv"),
        |r: &KvReport, json| {
            if json {
                r.to_json_line()
            } else {
                r.table_row()
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bench_engine_parses_lists_and_defaults() {
        let cli = Cli::try_parse_from([
            "cairn",
            "bench",
            "engine",
            "--workloads",
            "fillrandom,readrandom",
            "--engines",
            "cairn,rocksdb",
            "--threads",
            "4",
            "--json",
        ])
        .expect("valid command line");
        let Command::Bench(BenchCommand::Engine(args)) = cli.command else {
            panic!("parsed into the wrong subcommand");
        };
        assert_eq!(args.workloads, [Workload::FillRandom, Workload::ReadRandom]);
        assert_eq!(args.engines, [EngineKind::Cairn, EngineKind::RocksDb]);
        assert_eq!(
            (
                args.threads,
                args.num,
                args.value_bytes,
                args.cache_mb,
                args.seed
            ),
            (4, 1_000_000, 100, 256, 42)
        );
        assert!(args.json);
        assert!(
            Cli::try_parse_from(["cairn", "bench", "engine", "--workloads", "fillfast"]).is_err()
        );
    }

    #[test]
    fn bench_kv_parses_hosts_clients_and_target() {
        let cli = Cli::try_parse_from([
            "cairn",
            "bench",
            "kv",
            "--hosts",
            "127.0.0.1:1,127.0.0.1:2",
            "--clients",
            "1,16,64",
            "--workload",
            "put,get",
            "--target",
            "etcd",
        ])
        .expect("valid command line");
        let Command::Bench(BenchCommand::Kv(args)) = cli.command else {
            panic!("parsed into the wrong subcommand");
        };
        assert_eq!(args.hosts, ["127.0.0.1:1", "127.0.0.1:2"]);
        assert_eq!(args.clients, [1, 16, 64]);
        assert_eq!(args.workload, [kv::KvWorkload::Put, kv::KvWorkload::Get]);
        assert_eq!(args.target, kv::Target::Etcd);
        assert_eq!(
            (args.num, args.keys, args.value_bytes),
            (100_000, 10_000, 100)
        );
        // --hosts is required; the target defaults to cairn.
        assert!(Cli::try_parse_from(["cairn", "bench", "kv"]).is_err());
        let cli = Cli::try_parse_from(["cairn", "bench", "kv", "--hosts", "h:1"]).unwrap();
        let Command::Bench(BenchCommand::Kv(args)) = cli.command else {
            panic!("parsed into the wrong subcommand");
        };
        assert_eq!(args.target, kv::Target::Cairn);
    }

    #[test]
    fn debug_subcommands_parse_into_the_debug_group() {
        for args in [
            ["cairn", "debug", "sst", "000001.sst"],
            ["cairn", "debug", "manifest", "db"],
            ["cairn", "debug", "check", "db"],
        ] {
            let cli = Cli::try_parse_from(args).expect("valid command line");
            assert!(matches!(cli.command, Command::Debug(_)), "{args:?}");
        }
    }
}

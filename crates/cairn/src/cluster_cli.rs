//! The cluster subcommands: `cairn init`, `cairn kv ...` and `cairn node status`, clients of a
//! node's gRPC API (`cairn.node.Node`, `cairn.kv.Kv`). Keys and values are taken and printed
//! as UTF-8 text (bytes that are not UTF-8 print escaped).

use std::time::Duration;

use anyhow::{bail, Context};
use cairn_proto::kv::kv_client::KvClient;
use cairn_proto::kv::{
    CasRequest, DeleteRequest, ErrorCode, GetRequest, KvError, PutRequest, ScanRequest,
};
use cairn_proto::node::node_client::NodeClient;
use cairn_proto::node::{InitRequest, StatusRequest};
use clap::{Args, Subcommand};

/// `println!` for command output: a closed stdout (`cairn node status | head`) drops the
/// rest of the output instead of failing (or panicking, as `println!` does).
macro_rules! say {
    ($($arg:tt)*) => {
        emit_line(&format!($($arg)*))
    };
}

fn emit_line(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[derive(Debug, Args)]
pub struct HostArg {
    /// A node's gRPC address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7444")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub host: HostArg,
    /// User ranges to split the key space into (default: the node's --user-ranges).
    #[arg(long, default_value_t = 0)]
    pub user_ranges: u32,
}

#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Prints a key's value (linearizable read).
    Get {
        key: String,
        #[command(flatten)]
        host: HostArg,
    },
    /// Sets a key.
    Put {
        key: String,
        value: String,
        #[command(flatten)]
        host: HostArg,
    },
    /// Deletes a key.
    Del {
        key: String,
        #[command(flatten)]
        host: HostArg,
    },
    /// Lists keys in [start, end).
    Scan {
        #[arg(long, default_value = "")]
        start: String,
        #[arg(long, default_value = "")]
        end: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        host: HostArg,
    },
    /// Compare-and-set: sets KEY to --new (or deletes it with --delete) if its value is
    /// --expected (or, with --expect-absent, if it has none).
    Cas {
        key: String,
        #[arg(long, conflicts_with = "expect_absent")]
        expected: Option<String>,
        #[arg(long)]
        expect_absent: bool,
        #[arg(long, conflicts_with = "delete")]
        new: Option<String>,
        #[arg(long)]
        delete: bool,
        #[command(flatten)]
        host: HostArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Moves every replica on node --from to node --to (which must have joined): per range,
    /// --to is added as a learner, catches up, then one joint change promotes it and removes
    /// --from.
    Replace {
        #[command(flatten)]
        host: HostArg,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
    /// Hands the leadership of --range to the replica on node --to (a voter); returns once
    /// that node leads.
    TransferLeader {
        #[command(flatten)]
        host: HostArg,
        #[arg(long)]
        range: u64,
        #[arg(long)]
        to: u64,
    },
    /// Nodes, and every replica on the node: role, term, leader, commit and applied index.
    Status {
        #[command(flatten)]
        host: HostArg,
        /// Also print a checksum of each replica's data.
        #[arg(long)]
        checksums: bool,
    },
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
}

pub(crate) async fn channel(host: &str) -> anyhow::Result<tonic::transport::Channel> {
    tonic::transport::Endpoint::from_shared(format!("http://{host}"))
        .with_context(|| format!("bad address {host}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("connect to {host}"))
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn check(error: Option<KvError>) -> anyhow::Result<()> {
    match error {
        None => Ok(()),
        Some(e) => {
            let code = ErrorCode::try_from(e.code).map_or_else(
                |_| format!("code {}", e.code),
                |c| c.as_str_name().to_string(),
            );
            if e.leader_hint != 0 {
                bail!(
                    "{code}: {} (leader hint: node {})",
                    e.message,
                    e.leader_hint
                )
            }
            bail!("{code}: {}", e.message)
        }
    }
}

/// Whether an error means "nothing was done; try again shortly" (no leader yet, an election).
fn retryable(error: &Option<KvError>) -> bool {
    error.as_ref().is_some_and(|e| {
        e.code == ErrorCode::NotLeader as i32 || e.code == ErrorCode::Unavailable as i32
    })
}

/// Runs `call` until its error is not retryable or 10 s have passed.
async fn with_retry<T, F, Fut>(
    mut call: F,
    error_of: fn(&T) -> &Option<KvError>,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = call()
            .await
            .map_err(|s| anyhow::anyhow!("{}", s.message()))?
            .into_inner();
        if retryable(error_of(&r)) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        return Ok(r);
    }
}

fn replace(host: &str, from: u64, to: u64) -> anyhow::Result<()> {
    use cairn_proto::node::ChangeReplicasRequest;
    runtime()?.block_on(async {
        let mut c = NodeClient::new(channel(host).await?);
        let s = c
            .status(StatusRequest { checksums: false })
            .await
            .map_err(|s| anyhow::anyhow!("status: {}", s.message()))?
            .into_inner();
        let ranges: Vec<u64> = s
            .ranges
            .iter()
            .filter(|r| r.replicas.iter().any(|x| x.node_id == from))
            .map(|r| r.range_id)
            .collect();
        for range in ranges {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let r = c
                    .change_replicas(ChangeReplicasRequest {
                        range_id: range,
                        add_voters: vec![to],
                        remove: vec![from],
                        forwarded: false,
                    })
                    .await;
                match r {
                    Ok(_) => {
                        say!("range {range}: node {from} replaced by node {to}")?;
                        break;
                    }
                    Err(s) if std::time::Instant::now() < deadline => {
                        retry_note(range, s.message());
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    Err(s) => bail!("range {range}: {}", s.message()),
                }
            }
        }
        Ok(())
    })
}

fn transfer_leader(host: &str, range: u64, to: u64) -> anyhow::Result<()> {
    use cairn_proto::node::TransferLeaderRequest;
    runtime()?.block_on(async {
        let mut c = NodeClient::new(channel(host).await?);
        let r = c
            .transfer_leader(TransferLeaderRequest {
                range_id: range,
                to_node: to,
                forwarded: false,
            })
            .await
            .map_err(|s| anyhow::anyhow!("range {range}: {}", s.message()))?
            .into_inner();
        say!("range {range}: node {to} leads (term {})", r.term)?;
        Ok(())
    })
}

fn retry_note(range: u64, msg: &str) {
    eprintln!("range {range}: {msg}; retrying");
}

pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let mut c = NodeClient::new(channel(&args.host.host).await?);
        let r = c
            .init(InitRequest {
                user_ranges: args.user_ranges,
            })
            .await
            .map_err(|s| anyhow::anyhow!("init: {}", s.message()))?
            .into_inner();
        say!("cluster initialised with {} node(s):", r.nodes.len())?;
        for n in r.nodes {
            say!("  node {} at {}", n.node_id, n.grpc_addr)?;
        }
        Ok(())
    })
}

pub fn kv(cmd: &KvCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        match cmd {
            KvCommand::Get { key, host } => {
                let c = KvClient::new(channel(&host.host).await?);
                let r = with_retry(
                    || {
                        let mut c = c.clone();
                        let key = key.as_bytes().to_vec();
                        async move { c.get(GetRequest { key }).await }
                    },
                    |r| &r.error,
                )
                .await?;
                check(r.error)?;
                if r.found {
                    say!("{}", show(&r.value))?;
                } else {
                    say!("(not found)")?;
                }
            }
            KvCommand::Put { key, value, host } => {
                let c = KvClient::new(channel(&host.host).await?);
                let r = with_retry(
                    || {
                        let mut c = c.clone();
                        let req = PutRequest {
                            key: key.as_bytes().to_vec(),
                            value: value.as_bytes().to_vec(),
                        };
                        async move { c.put(req).await }
                    },
                    |r| &r.error,
                )
                .await?;
                check(r.error)?;
                say!("OK")?;
            }
            KvCommand::Del { key, host } => {
                let c = KvClient::new(channel(&host.host).await?);
                let r = with_retry(
                    || {
                        let mut c = c.clone();
                        let key = key.as_bytes().to_vec();
                        async move { c.delete(DeleteRequest { key }).await }
                    },
                    |r| &r.error,
                )
                .await?;
                check(r.error)?;
                say!("OK")?;
            }
            KvCommand::Scan {
                start,
                end,
                limit,
                host,
            } => {
                let c = KvClient::new(channel(&host.host).await?);
                let r = with_retry(
                    || {
                        let mut c = c.clone();
                        let req = ScanRequest {
                            start: start.as_bytes().to_vec(),
                            end: end.as_bytes().to_vec(),
                            limit: *limit,
                        };
                        async move { c.scan(req).await }
                    },
                    |r| &r.error,
                )
                .await?;
                check(r.error)?;
                for kv in &r.pairs {
                    say!("{}\t{}", show(&kv.key), show(&kv.value))?;
                }
                if r.more {
                    say!("(more; raise --limit or scan from the last key)")?;
                }
            }
            KvCommand::Cas {
                key,
                expected,
                expect_absent,
                new,
                delete,
                host,
            } => {
                if expected.is_none() && !expect_absent {
                    bail!("give --expected VALUE or --expect-absent");
                }
                if new.is_none() && !delete {
                    bail!("give --new VALUE or --delete");
                }
                let c = KvClient::new(channel(&host.host).await?);
                let r = with_retry(
                    || {
                        let mut c = c.clone();
                        let req = CasRequest {
                            key: key.as_bytes().to_vec(),
                            expected_present: expected.is_some(),
                            expected: expected.clone().unwrap_or_default().into_bytes(),
                            new_present: new.is_some(),
                            new_value: new.clone().unwrap_or_default().into_bytes(),
                        };
                        async move { c.cas(req).await }
                    },
                    |r| &r.error,
                )
                .await?;
                check(r.error)?;
                if r.succeeded {
                    say!("OK")?;
                } else if r.current_present {
                    bail!("compare failed: current value is {}", show(&r.current));
                } else {
                    bail!("compare failed: the key has no value");
                }
            }
        }
        Ok(())
    })
}

pub fn node(cmd: &NodeCommand) -> anyhow::Result<()> {
    let (host, checksums) = match cmd {
        NodeCommand::Status { host, checksums } => (host, checksums),
        NodeCommand::Replace { host, from, to } => return replace(&host.host, *from, *to),
        NodeCommand::TransferLeader { host, range, to } => {
            return transfer_leader(&host.host, *range, *to)
        }
    };
    runtime()?.block_on(async {
        let mut c = NodeClient::new(channel(&host.host).await?);
        let s = c
            .status(StatusRequest {
                checksums: *checksums,
            })
            .await
            .map_err(|s| anyhow::anyhow!("status: {}", s.message()))?
            .into_inner();
        if s.node_id == 0 {
            say!("node at {}: not part of a cluster yet", s.grpc_addr)?;
            return Ok(());
        }
        say!("node {} at {}", s.node_id, s.grpc_addr)?;
        say!("nodes:")?;
        for n in &s.nodes {
            let heard = match (n.liveness.as_str(), n.last_heard_ms) {
                ("unreachable", 0) => " (never heard from)".to_string(),
                ("unreachable", ms) => format!(" (last heard {:.1} s ago)", ms as f64 / 1000.0),
                _ => String::new(),
            };
            say!("  {}\t{}\t{}{heard}", n.node_id, n.grpc_addr, n.liveness)?;
        }
        let quiesced = s.replicas.iter().filter(|r| r.quiesced).count();
        say!("replicas: {} ({quiesced} quiesced)", s.replicas.len())?;
        say!(
            "  range\treplica\trole\tterm\tleader\tcommit\tapplied\tvoters\tlearners\tquiesced{}",
            if *checksums { "\tkeys\tchecksum" } else { "" }
        )?;
        for r in &s.replicas {
            let extra = if *checksums {
                format!("\t{}\t{:08x}", r.data_keys, r.data_checksum)
            } else {
                String::new()
            };
            say!(
                "  {}\t{}\t{}\t{}\t{}\t{}\t{}\t{:?}\t{:?}\t{}{extra}",
                r.range_id,
                r.replica_id,
                r.role,
                r.term,
                r.leader_node,
                r.commit_index,
                r.applied_index,
                r.voters,
                r.learners,
                if r.quiesced { "yes" } else { "no" }
            )?;
        }
        Ok(())
    })
}

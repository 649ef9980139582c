//! `cairn demo`: a local three-node cluster on loopback for trying replicated SQL and the
//! replicated KV API; [`LocalCluster`] also serves `cairn bench pgbench --systems cluster-*`.
//!
//! It starts three `cairn start` child processes (this same executable) with `--join` and
//! `--exit-on-stdin-eof`, initialises the cluster, prints how to reach it, and waits for
//! Ctrl-C. The children hold a pipe from the demo as their standard input, so they exit when
//! the demo does — even if it is killed — and no process is left behind. Data lives in a
//! temporary directory (removed at exit) unless `--store DIR` is given.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::cluster_cli::{channel, runtime};
use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the nodes' data in DIR/n1, DIR/n2, DIR/n3 (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// User ranges to split the key space into.
    #[arg(long, default_value_t = 4)]
    pub user_ranges: u32,
}

struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        // Closing stdin asks each node to stop; give them a moment, then make sure.
        for c in &mut self.0 {
            drop(c.stdin.take());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &mut self.0 {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(l.local_addr()?.port())
}

/// The SQL range's id in every cluster's initial layout (docs/replication.md).
const SQL_RANGE: u64 = 2;

/// Three `cairn start` children on loopback forming one initialised cluster. Dropping it
/// stops them (and removes the temporary directory, when there is one).
pub(crate) struct LocalCluster {
    children: Children,
    /// gRPC addresses, node 1 first.
    pub(crate) addrs: Vec<String>,
    pub(crate) sql_ports: Vec<u16>,
    pub(crate) root: PathBuf,
    /// Declared after `children`, so the nodes stop before their directory goes.
    _temp: Option<tempfile::TempDir>,
}

impl LocalCluster {
    /// Starts three nodes with data under `store` (a temporary directory if `None`) and
    /// initialises the cluster with `user_ranges` user ranges.
    pub(crate) fn start(store: Option<&Path>, user_ranges: u32) -> anyhow::Result<LocalCluster> {
        let (root, temp) = match store {
            Some(d) => (d.to_path_buf(), None),
            None => {
                let t = tempfile::tempdir().context("create a temporary directory")?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let exe = std::env::current_exe().context("find the cairn executable")?;
        let ports = [free_port()?, free_port()?, free_port()?];
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let sql_ports = vec![free_port()?, free_port()?, free_port()?];
        let join = addrs.join(",");
        let mut children = Children(Vec::new());
        for (i, addr) in addrs.iter().enumerate() {
            let dir = root.join(format!("n{}", i + 1));
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            let log = std::fs::File::create(dir.join("node.log")).context("create the node log")?;
            let child = Command::new(&exe)
                .arg("start")
                .arg("--store")
                .arg(&dir)
                .arg("--sql-addr")
                .arg(format!("127.0.0.1:{}", sql_ports[i]))
                .args(["--http-addr", "127.0.0.1:0"])
                .args(["--grpc-addr", addr, "--join", &join, "--exit-on-stdin-eof"])
                .args(["--user-ranges", &user_ranges.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("start a node")?;
            children.0.push(child);
        }
        let cluster = LocalCluster {
            children,
            addrs,
            sql_ports,
            root,
            _temp: temp,
        };
        runtime()?.block_on(async {
            // Wait until every node answers, then initialise through the first.
            let deadline = Instant::now() + Duration::from_secs(60);
            for a in &cluster.addrs {
                while channel(a).await.is_err() {
                    if Instant::now() > deadline {
                        bail!(
                            "node {a} did not start in 60 s (logs in {})",
                            cluster.root.display()
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            cairn_proto::node::node_client::NodeClient::new(channel(&cluster.addrs[0]).await?)
                .init(cairn_proto::node::InitRequest { user_ranges })
                .await
                .map_err(|s| anyhow::anyhow!("init: {}", s.message()))?;
            Ok(())
        })?;
        Ok(cluster)
    }

    /// Process ids of the nodes, node 1 first.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.0.iter().map(Child::id).collect()
    }

    /// Which node (0-based, as in `addrs`) leads the SQL range, waiting up to `wait` for
    /// every node to agree on one.
    pub(crate) fn sql_leader(&self, wait: Duration) -> anyhow::Result<usize> {
        let deadline = Instant::now() + wait;
        runtime()?.block_on(async {
            loop {
                let mut ids = Vec::new();
                let mut leaders = Vec::new();
                for a in &self.addrs {
                    let Ok(ch) = channel(a).await else { break };
                    let Ok(s) = cairn_proto::node::node_client::NodeClient::new(ch)
                        .status(cairn_proto::node::StatusRequest { checksums: false })
                        .await
                    else {
                        break;
                    };
                    let s = s.into_inner();
                    ids.push(s.node_id);
                    leaders.extend(
                        s.replicas
                            .iter()
                            .filter(|r| r.range_id == SQL_RANGE && r.leader_node != 0)
                            .map(|r| r.leader_node),
                    );
                }
                if ids.len() == self.addrs.len() && leaders.len() == ids.len() {
                    if let Some(i) = ids.iter().position(|id| leaders.iter().all(|l| l == id)) {
                        return Ok(i);
                    }
                }
                if Instant::now() > deadline {
                    bail!("the SQL range had no leader every node agrees on within {wait:?}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    }
}

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let cluster = LocalCluster::start(args.store.as_deref(), args.user_ranges)?;
    let (addrs, sql_ports, root) = (&cluster.addrs, &cluster.sql_ports, &cluster.root);
    println!("A three-node Cairn cluster is running on this machine.");
    for (i, a) in addrs.iter().enumerate() {
        println!(
            "  node {}: gRPC {a} SQL 127.0.0.1:{} (log: {})",
            i + 1,
            sql_ports[i],
            root.join(format!("n{}/node.log", i + 1)).display()
        );
    }
    println!("SQL through any node (the data is replicated on all three):");
    for p in sql_ports {
        println!("  psql \"postgresql://postgres@127.0.0.1:{p}/postgres\"");
    }
    println!("Key-value, against any node:");
    println!("  cairn kv put hello world --host {}", addrs[1]);
    println!("  cairn kv get hello --host {}", addrs[2]);
    println!("  cairn kv scan --host {}", addrs[0]);
    println!("  cairn node status --host {}", addrs[0]);
    println!("Stop with Ctrl-C (the nodes stop with the demo).");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    runtime()?.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    println!("stopping the nodes...");
    drop(cluster);
    println!("stopped.");
    Ok(())
}

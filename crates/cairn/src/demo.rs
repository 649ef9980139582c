//! `cairn demo`: a local three-node cluster on loopback for trying replicated SQL and the
//! replicated KV API.
//!
//! It starts three `cairn start` child processes (this same executable) with `--join` and
//! `--exit-on-stdin-eof`, initialises the cluster, prints how to reach it, and waits for
//! Ctrl-C. The children hold a pipe from the demo as their standard input, so they exit when
//! the demo does — even if it is killed — and no process is left behind. Data lives in a
//! temporary directory (removed at exit) unless `--store DIR` is given.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
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

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let temp;
    let root = match &args.store {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir().context("create a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    let exe = std::env::current_exe().context("find the cairn executable")?;
    let ports = [free_port()?, free_port()?, free_port()?];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let sql_ports = [free_port()?, free_port()?, free_port()?];
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
            .args(["--user-ranges", &args.user_ranges.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("start a node")?;
        children.0.push(child);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async {
        // Wait until every node answers, then initialise through the first.
        let deadline = Instant::now() + Duration::from_secs(60);
        for a in &addrs {
            loop {
                let ok = match tonic::transport::Endpoint::from_shared(format!("http://{a}")) {
                    Ok(ep) => ep
                        .connect_timeout(Duration::from_millis(300))
                        .connect()
                        .await
                        .is_ok(),
                    Err(_) => false,
                };
                if ok {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "node {a} did not start in 60 s (logs in {})",
                        root.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let ch = tonic::transport::Endpoint::from_shared(format!("http://{}", addrs[0]))?
            .connect()
            .await
            .context("connect to node 1")?;
        cairn_proto::node::node_client::NodeClient::new(ch)
            .init(cairn_proto::node::InitRequest {
                user_ranges: args.user_ranges,
            })
            .await
            .map_err(|s| anyhow::anyhow!("init: {}", s.message()))?;
        Ok(())
    })?;
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
    runtime.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    println!("stopping the nodes...");
    drop(children);
    println!("stopped.");
    Ok(())
}

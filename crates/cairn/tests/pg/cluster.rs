//! A real three-node cluster: three `cairn start` processes on loopback, initialised with
//! `cairn init`, driven through the gRPC KV API of every node.
//!
//! `three_nodes_survive_a_leader_kill`: 10,000 writes spread over all nodes; the node leading
//! the most ranges is SIGKILLed mid-load and writes go on through the others (the longest gap
//! between acknowledged writes is printed as the unavailability window); the node restarts,
//! catches up, and every range's replicas end with equal applied indexes and equal data
//! checksums; every acknowledged write reads back.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_proto::kv::kv_client::KvClient;
use cairn_proto::kv::{GetRequest, PutRequest};
use cairn_proto::node::node_client::NodeClient;
use cairn_proto::node::StatusRequest;

use crate::server::TestServer;

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn kv_client(addr: &str) -> Option<KvClient<tonic::transport::Channel>> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(6))
        .connect_lazy();
    Some(KvClient::new(ch))
}

async fn status(addr: &str, checksums: bool) -> Option<cairn_proto::node::StatusResponse> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .ok()?;
    NodeClient::new(ch)
        .status(StatusRequest { checksums })
        .await
        .ok()
        .map(|r| r.into_inner())
}

/// Writes keys `prefix-i` for i in `range`, round-robin over `addrs`, `concurrency` at a time,
/// retrying each until acknowledged (or 30 s). Returns the acknowledgement times.
async fn write_keys(
    addrs: &[String],
    prefix: &str,
    range: std::ops::Range<u32>,
    concurrency: usize,
    acked: Arc<Mutex<BTreeMap<String, String>>>,
) -> Vec<Instant> {
    let next = Arc::new(Mutex::new(range.clone()));
    let times = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let next = next.clone();
        let times = times.clone();
        let acked = acked.clone();
        let addrs = addrs.to_vec();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let mut clients = Vec::new();
            for a in &addrs {
                clients.push(kv_client(a).await.expect("client"));
            }
            let mut turn = w;
            loop {
                let Some(i) = next.lock().unwrap().next() else {
                    break;
                };
                let key = format!("{prefix}-{i:06}");
                let value = format!("v{i}-{}", key.len());
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    turn += 1;
                    let n = clients.len();
                    let c = &mut clients[turn % n];
                    let r = c
                        .put(PutRequest {
                            key: key.clone().into_bytes(),
                            value: value.clone().into_bytes(),
                        })
                        .await;
                    if let Ok(r) = r {
                        if r.get_ref().error.is_none() {
                            acked.lock().unwrap().insert(key.clone(), value.clone());
                            times.lock().unwrap().push(Instant::now());
                            break;
                        }
                    }
                    assert!(Instant::now() < deadline, "{key} not written in 30 s");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let mut t = std::mem::take(&mut *times.lock().unwrap());
    t.sort();
    t
}

#[test]
fn three_nodes_survive_a_leader_kill() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let join = addrs.join(",");
    let start = |i: usize, dir: Option<tempfile::TempDir>| {
        let args = [
            "--grpc-addr",
            &addrs[i],
            "--join",
            &join,
            "--user-ranges",
            "4",
        ];
        match dir {
            Some(d) => TestServer::start_in(d, &args),
            None => TestServer::start_with(&args),
        }
    };
    let mut nodes: Vec<Option<TestServer>> = (0..3).map(|i| Some(start(i, None))).collect();

    let init = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["init", "--host", &addrs[0]])
        .output()
        .expect("cairn init");
    assert!(
        init.status.success(),
        "cairn init failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert!(String::from_utf8_lossy(&init.stdout).contains("3 node(s)"));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    rt.block_on(async {
        let t0 = Instant::now();
        write_keys(&addrs, "a", 0..8_000, 16, acked.clone()).await;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "8,000 writes through 3 nodes in {secs:.1} s ({:.0}/s)",
            8_000.0 / secs
        );
    });

    // The node leading the most ranges.
    let victim = rt.block_on(async {
        let mut leads = [0usize; 3];
        for a in &addrs {
            if let Some(s) = status(a, false).await {
                for r in s.replicas {
                    if r.role == "leader" {
                        leads[(s.node_id - 1) as usize] += 1;
                    }
                }
            }
        }
        (0..3).max_by_key(|&i| leads[i]).unwrap_or(0)
    });
    let others: Vec<String> = (0..3)
        .filter(|&i| i != victim)
        .map(|i| addrs[i].clone())
        .collect();

    // Kill it while writes run through the other two.
    let writer = {
        let others = others.clone();
        let acked = acked.clone();
        rt.spawn(async move { write_keys(&others, "b", 0..2_000, 16, acked).await })
    };
    std::thread::sleep(Duration::from_millis(300));
    let killed_at = Instant::now();
    let dir = nodes[victim].take().expect("victim").kill();
    let times = rt.block_on(writer).expect("writer");
    let gap = times
        .windows(2)
        .filter(|w| w[1] > killed_at)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default();
    println!(
        "node {} (leading most ranges) SIGKILLed; longest gap between acknowledged writes after: {} ms",
        victim + 1,
        gap.as_millis()
    );
    assert!(
        gap < Duration::from_secs(10),
        "writes stalled {gap:?} after the kill"
    );

    // Restart; it must catch up and every range's replicas must agree.
    nodes[victim] = Some(start(victim, Some(dir)));
    let deadline = Instant::now() + Duration::from_secs(60);
    let agreed = loop {
        let snapshot = rt.block_on(async {
            let mut per_range: BTreeMap<u64, Vec<(u64, u64, u32, u64)>> = BTreeMap::new();
            for a in &addrs {
                let s = status(a, true).await?;
                for r in s.replicas {
                    per_range.entry(r.range_id).or_default().push((
                        s.node_id,
                        r.applied_index,
                        r.data_checksum,
                        r.data_keys,
                    ));
                }
            }
            Some(per_range)
        });
        if let Some(per_range) = snapshot {
            let ok = per_range.len() == 5
                && per_range.values().all(|reps| {
                    reps.len() == 3
                        && reps
                            .iter()
                            .all(|r| (r.1, r.2, r.3) == (reps[0].1, reps[0].2, reps[0].3))
                });
            if ok {
                break per_range;
            }
            if Instant::now() > deadline {
                panic!("replicas did not converge in 60 s: {per_range:?}");
            }
        } else if Instant::now() > deadline {
            panic!("a node did not answer status");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let keys: u64 = agreed.values().map(|r| r[0].3).sum();
    println!("replicas agree: {keys} keys over {} ranges", agreed.len());

    // Every acknowledged write reads back, through every node.
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), 10_000);
    assert_eq!(keys, 10_000);
    rt.block_on(async {
        let mut clients = Vec::new();
        for a in &addrs {
            clients.push(kv_client(a).await.expect("client"));
        }
        for (n, (k, v)) in acked.iter().enumerate().step_by(7) {
            let c = &mut clients[n % 3];
            let r = c
                .get(GetRequest {
                    key: k.clone().into_bytes(),
                })
                .await
                .expect("get")
                .into_inner();
            assert!(r.error.is_none(), "get {k}: {:?}", r.error);
            assert!(r.found, "{k} lost");
            assert_eq!(r.value, v.as_bytes(), "{k}");
        }
    });
    for n in nodes.iter_mut().flatten() {
        assert!(n.alive(), "a node exited: {}", n.log());
    }
}

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

/// A free port for a node whose address must be known before it starts (nodes restart on
/// their address). Taken below Linux's ephemeral range (32768-60999), which bind(0) and
/// outgoing connections draw from: a port bound to 0 by a test running alongside once took
/// the port between this check and the node's own bind ("Address already in use"). A
/// counter, started at an offset from the process id, keeps this process's picks apart.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() % 1_000) * 11,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let Ok(port) = u16::try_from(LOW + n % SPAN) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Ranges a new cluster has besides its user ranges: the meta range and the SQL range.
const SYSTEM_RANGES: usize = 2;
/// The SQL range's id in the initial layout (meta 1, SQL 2, user ranges after).
const SQL_RANGE: u64 = 2;

/// Starts the node at `addr` of a cluster formed with `join`, or restarts it in `dir` (kept
/// from a killed node), with `extra` flags.
fn cluster_node(
    addr: &str,
    join: &str,
    extra: &[&str],
    dir: Option<tempfile::TempDir>,
) -> TestServer {
    let mut args = vec!["--grpc-addr", addr, "--join", join];
    args.extend_from_slice(extra);
    match dir {
        Some(d) => TestServer::start_in(d, &args),
        None => TestServer::start_with(&args),
    }
}

async fn kv_client(addr: &str) -> Option<KvClient<tonic::transport::Channel>> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(6))
        .connect_lazy();
    Some(KvClient::new(ch))
}

/// Runs `cairn init --host addr`, which must succeed; returns its output.
fn cairn_init(addr: &str) -> String {
    let init = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["init", "--host", addr])
        .output()
        .expect("cairn init");
    assert!(
        init.status.success(),
        "cairn init failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    String::from_utf8_lossy(&init.stdout).into_owned()
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
    let start = |i: usize, dir| cluster_node(&addrs[i], &join, &["--user-ranges", "4"], dir);
    let mut nodes: Vec<Option<TestServer>> = (0..3).map(|i| Some(start(i, None))).collect();

    let init = cairn_init(&addrs[0]);
    assert!(init.contains("3 node(s)"), "{init}");

    let rt = crate::server::multi_thread_runtime();
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
            let ok = per_range.len() == 4 + SYSTEM_RANGES
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
    // The KV API's keys (the SQL range holds the SQL catalog).
    let keys: u64 = agreed
        .iter()
        .filter(|(range, _)| **range != SQL_RANGE)
        .map(|(_, r)| r[0].3)
        .sum();
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

// ---------------------------------------------------------------------------------------
// Linearizability under a nemesis.

use cairn_proto::kv::{CasRequest, ErrorCode, KvError};
use cairn_proto::node::SetPartitionRequest;
use rand::{Rng, SeedableRng};

/// The history of one run: JSON lines in `shared/conformance/history-format.md`'s format, in
/// the order the events happened, times from one monotonic clock.
struct Recorder {
    base: Instant,
    lines: Mutex<Vec<String>>,
}

impl Recorder {
    fn event(&self, process: u64, kind: &str, f: &str, key: &str, value: &str, error: &str) {
        let mut lines = self.lines.lock().unwrap();
        let time = self.base.elapsed().as_nanos();
        let error = if error.is_empty() {
            String::new()
        } else {
            format!(r#","error":{:?}"#, error)
        };
        lines.push(format!(
            r#"{{"process":{process},"type":"{kind}","f":"{f}","key":"{key}","value":{value},"time":{time}{error}}}"#
        ));
    }
}

fn definite_failure(e: &KvError) -> bool {
    [
        ErrorCode::NotLeader,
        ErrorCode::RangeNotFound,
        ErrorCode::InvalidArgument,
        ErrorCode::Unavailable,
    ]
    .iter()
    .any(|c| *c as i32 == e.code)
}

async fn set_partition(addr: &str, isolated_from: Vec<u64>) {
    if let Ok(ep) = tonic::transport::Endpoint::from_shared(format!("http://{addr}")) {
        if let Ok(ch) = ep
            .connect_timeout(Duration::from_millis(500))
            .connect()
            .await
        {
            let _ = NodeClient::new(ch)
                .set_partition(SetPartitionRequest { isolated_from })
                .await;
        }
    }
}

/// One client process loop: read / write / cas on `keys` through random nodes until `stop`.
async fn nemesis_client(
    addrs: Vec<String>,
    keys: Vec<String>,
    rec: Arc<Recorder>,
    next_process: Arc<std::sync::atomic::AtomicU64>,
    next_value: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    seed: u64,
) -> (u64, u64, u64) {
    use std::sync::atomic::Ordering::SeqCst;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut clients = Vec::new();
    for a in &addrs {
        let ch = tonic::transport::Endpoint::from_shared(format!("http://{a}"))
            .expect("endpoint")
            .connect_timeout(Duration::from_millis(300))
            .timeout(Duration::from_secs(3))
            .connect_lazy();
        clients.push(KvClient::new(ch));
    }
    let mut process = next_process.fetch_add(1, SeqCst);
    let mut last_seen: BTreeMap<String, Option<u64>> = BTreeMap::new();
    let (mut ok, mut fail, mut info) = (0, 0, 0);
    while !stop.load(SeqCst) {
        let key = keys[rng.gen_range(0..keys.len())].clone();
        let c = &mut clients[rng.gen_range(0..addrs.len())];
        let roll = rng.gen_range(0..10);
        // (f, invoke value, outcome, ok value, error text)
        let (f, invoke, outcome, done, why): (&str, String, &str, String, String) = if roll < 4 {
            rec.event(process, "invoke", "read", &key, "null", "");
            match c
                .get(GetRequest {
                    key: key.clone().into_bytes(),
                })
                .await
            {
                Ok(r) => match r.into_inner() {
                    r if r.error.is_none() => {
                        let v = if r.found {
                            String::from_utf8_lossy(&r.value).into_owned()
                        } else {
                            "null".to_string()
                        };
                        last_seen.insert(key.clone(), v.parse().ok());
                        ("read", "null".into(), "ok", v, String::new())
                    }
                    r => (
                        "read",
                        "null".into(),
                        "fail",
                        "null".into(),
                        format!("{:?}", r.error),
                    ),
                },
                Err(s) => (
                    "read",
                    "null".into(),
                    "info",
                    "null".into(),
                    s.message().to_string(),
                ),
            }
        } else if roll < 8 {
            let v = next_value.fetch_add(1, SeqCst);
            rec.event(process, "invoke", "write", &key, &v.to_string(), "");
            let r = c
                .put(PutRequest {
                    key: key.clone().into_bytes(),
                    value: v.to_string().into_bytes(),
                })
                .await;
            let (outcome, why) = match r {
                Ok(r) => match r.into_inner().error {
                    None => {
                        last_seen.insert(key.clone(), Some(v));
                        ("ok", String::new())
                    }
                    Some(e) if definite_failure(&e) => ("fail", e.message),
                    Some(e) => ("info", e.message),
                },
                Err(s) => ("info", s.message().to_string()),
            };
            ("write", v.to_string(), outcome, v.to_string(), why)
        } else {
            let expected = last_seen.get(&key).copied().flatten();
            let v = next_value.fetch_add(1, SeqCst);
            let arg = format!(
                "[{},{v}]",
                expected.map_or("null".to_string(), |e| e.to_string())
            );
            rec.event(process, "invoke", "cas", &key, &arg, "");
            let r = c
                .cas(CasRequest {
                    key: key.clone().into_bytes(),
                    expected_present: expected.is_some(),
                    expected: expected
                        .map(|e| e.to_string().into_bytes())
                        .unwrap_or_default(),
                    new_present: true,
                    new_value: v.to_string().into_bytes(),
                })
                .await;
            let (outcome, why) = match r {
                Ok(r) => {
                    let r = r.into_inner();
                    match r.error {
                        None if r.succeeded => {
                            last_seen.insert(key.clone(), Some(v));
                            ("ok", String::new())
                        }
                        None => ("fail", "compare failed".to_string()),
                        Some(e) if definite_failure(&e) => ("fail", e.message),
                        Some(e) => ("info", e.message),
                    }
                }
                Err(s) => ("info", s.message().to_string()),
            };
            ("cas", arg.clone(), outcome, arg, why)
        };
        let _ = invoke;
        rec.event(process, outcome, f, &key, &done, &why);
        match outcome {
            "ok" => ok += 1,
            "fail" => fail += 1,
            _ => {
                info += 1;
                process = next_process.fetch_add(1, SeqCst);
            }
        }
    }
    (ok, fail, info)
}

/// Runs a 3-node cluster for `duration` under a nemesis that SIGKILLs and restarts nodes
/// and partitions them (through the transport's fault-injection hook), with 6 clients doing
/// read / write / cas on 4 keys in 2 ranges; checks the history for linearizability.
fn nemesis_run(seed: u64, duration: Duration) {
    println!(
        "CAIRN_SEED={seed} (nemesis run of {} s)",
        duration.as_secs()
    );
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let join = addrs.join(",");
    let start = |i: usize, dir| cluster_node(&addrs[i], &join, &["--fault-injection"], dir);
    let mut nodes: Vec<Option<TestServer>> = (0..3).map(|i| Some(start(i, None))).collect();
    cairn_init(&addrs[0]);

    let rt = crate::server::multi_thread_runtime();
    let rec = Arc::new(Recorder {
        base: Instant::now(),
        lines: Mutex::new(Vec::new()),
    });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let next_process = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let next_value = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let keys: Vec<String> = ["0a", "0b", "Pa", "Pb"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let clients: Vec<_> = (0..6)
        .map(|i| {
            rt.spawn(nemesis_client(
                addrs.clone(),
                keys.clone(),
                rec.clone(),
                next_process.clone(),
                next_value.clone(),
                stop.clone(),
                seed.wrapping_mul(31).wrapping_add(i),
            ))
        })
        .collect();

    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let end = Instant::now() + duration;
    let (mut kills, mut partitions) = (0, 0);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(rng.gen_range(1_000..2_500)));
        let victim = rng.gen_range(0..3);
        let hold = Duration::from_millis(rng.gen_range(500..2_500));
        if rng.gen_bool(0.5) {
            kills += 1;
            let dir = nodes[victim].take().expect("node").kill();
            std::thread::sleep(hold);
            nodes[victim] = Some(start(victim, Some(dir)));
        } else {
            partitions += 1;
            let others: Vec<u64> = (0..3u64)
                .filter(|&n| n != victim as u64)
                .map(|n| n + 1)
                .collect();
            rt.block_on(async {
                set_partition(&addrs[victim], others.clone()).await;
                for &o in &others {
                    set_partition(&addrs[(o - 1) as usize], vec![victim as u64 + 1]).await;
                }
            });
            std::thread::sleep(hold);
            rt.block_on(async {
                for a in &addrs {
                    set_partition(a, Vec::new()).await;
                }
            });
        }
    }
    // Healed and all up: let the clients run a little more, then stop.
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut ok, mut fail, mut info) = (0, 0, 0);
    for c in clients {
        let (o, f, i) = rt.block_on(c).expect("client");
        ok += o;
        fail += f;
        info += i;
    }
    let lines = rec.lines.lock().unwrap().clone();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("nemesis-histories");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("seed-{seed}.jsonl"));
    let _ = std::fs::write(&path, lines.join("\n") + "\n");
    println!(
        "  {kills} kills, {partitions} partitions; ops ok {ok}, fail {fail}, info {info}; history {}",
        path.display()
    );
    assert!(
        ok > 100,
        "too few successful operations ({ok}) to mean anything"
    );
    let history =
        cairn_check::history::parse((lines.join("\n") + "\n").as_bytes()).expect("history");
    let report = cairn_check::register::check(&history, &Default::default()).expect("checker");
    assert_eq!(
        report.verdict,
        cairn_check::Verdict::Valid,
        "history not linearizable (seed {seed}); see {} and `cairn check-history {}`",
        path.display(),
        path.display()
    );
    for n in nodes.iter_mut().flatten() {
        assert!(n.alive(), "a node exited: {}", n.log());
    }
}

fn seed_from_env() -> u64 {
    std::env::var("CAIRN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        })
}

#[test]
fn linearizable_under_kills_and_partitions() {
    nemesis_run(seed_from_env(), Duration::from_secs(15));
}

/// The long suite: `CAIRN_NEMESIS_RUNS` (default 20) runs of `CAIRN_NEMESIS_SECS` (default 60)
/// seconds, each with its own fault schedule.
#[test]
#[ignore = "long suite: 20 runs of 60 s"]
fn linearizable_under_kills_and_partitions_long() {
    let runs: u64 = std::env::var("CAIRN_NEMESIS_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let secs: u64 = std::env::var("CAIRN_NEMESIS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let first = seed_from_env();
    for i in 0..runs {
        nemesis_run(first + i, Duration::from_secs(secs));
    }
}

/// `cairn demo` starts three nodes, serves the KV API, and on Ctrl-C (SIGINT) stops them all
/// promptly, leaving no listener behind.
#[test]
fn demo_runs_three_nodes_and_stops_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let mut demo = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("demo")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn cairn demo");
    let stdout = demo.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut hosts = Vec::new();
    let mut sql_ports = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(rest) = line.split("gRPC ").nth(1) {
            hosts.push(rest.split_whitespace().next().unwrap_or("").to_string());
        }
        if let Some(rest) = line.split("postgresql://postgres@127.0.0.1:").nth(1) {
            sql_ports.push(rest.split('/').next().unwrap_or("").to_string());
        }
        if line.starts_with("Stop with Ctrl-C") {
            break;
        }
    }
    assert_eq!(hosts.len(), 3, "demo did not print three nodes");
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(args)
            .output()
            .expect("cairn");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    cli(&["kv", "put", "hello", "world", "--host", &hosts[1]]);
    assert_eq!(cli(&["kv", "get", "hello", "--host", &hosts[2]]), "world");
    // SQL written through one node reads back through another.
    assert_eq!(sql_ports.len(), 3, "demo did not print three psql lines");
    let rt = crate::server::runtime();
    rt.block_on(async {
        let config = |p: &str| format!("host=127.0.0.1 port={p} user=postgres dbname=postgres");
        let a = crate::server::connect(&config(&sql_ports[0])).await;
        a.batch_execute("CREATE TABLE greeting (word text); INSERT INTO greeting VALUES ('hi')")
            .await
            .expect("write through node 1");
        let c = crate::server::connect(&config(&sql_ports[2])).await;
        let row = c
            .query_one("SELECT word FROM greeting", &[])
            .await
            .expect("read through node 3");
        assert_eq!(row.get::<_, String>(0), "hi");
    });

    let sent = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let t0 = Instant::now();
    loop {
        if demo.try_wait().expect("wait").is_some() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = demo.kill();
            panic!("cairn demo did not stop within 20 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("demo stopped {} ms after SIGINT", t0.elapsed().as_millis());
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "nodes did not stop promptly"
    );
    for h in &hosts {
        assert!(
            std::net::TcpStream::connect(h).is_err(),
            "a node still listens on {h} after the demo stopped"
        );
    }
}

/// (node, applied index, data checksum, voters) of one replica.
type ReplicaView = (u64, u64, u32, Vec<u64>);

/// A fourth node joins a running cluster and takes over every replica of node 1 while
/// writes go on; no acknowledged write is lost, and every range ends on nodes 2, 3, 4 with
/// equal data.
#[test]
fn fourth_node_joins_and_replaces_one_under_load() {
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let first3 = addrs[..3].join(",");
    let mut nodes: Vec<TestServer> = (0..3)
        .map(|i| TestServer::start_with(&["--grpc-addr", &addrs[i], "--join", &first3]))
        .collect();
    cairn_init(&addrs[0]);

    let rt = crate::server::multi_thread_runtime();
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    // Writes through nodes 2 and 3 for the whole change.
    let writer = {
        let targets = addrs[1..3].to_vec();
        let acked = acked.clone();
        rt.spawn(async move { write_keys(&targets, "j", 0..4_000, 8, acked).await })
    };
    // Node 4 joins through node 2.
    nodes.push(TestServer::start_with(&[
        "--grpc-addr",
        &addrs[3],
        "--join",
        &addrs[1],
    ]));
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt
        .block_on(status(&addrs[3], false))
        .map_or(0, |s| s.node_id)
        != 4
    {
        assert!(
            Instant::now() < deadline,
            "node 4 did not join: {}",
            nodes[3].log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args([
            "node", "replace", "--from", "1", "--to", "4", "--host", &addrs[2],
        ])
        .output()
        .expect("cairn node replace");
    assert!(
        out.status.success(),
        "replace failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let times = rt.block_on(writer).expect("writer");
    println!(
        "node 4 joined and replaced node 1 in every range during {} acknowledged writes",
        times.len()
    );

    // Every range: replicas on nodes 2, 3, 4 only, equal applied index and data.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let per_range = rt.block_on(async {
            let mut per_range: BTreeMap<u64, Vec<ReplicaView>> = BTreeMap::new();
            for a in &addrs[1..] {
                let s = status(a, true).await?;
                for r in s.replicas {
                    per_range.entry(r.range_id).or_default().push((
                        s.node_id,
                        r.applied_index,
                        r.data_checksum,
                        r.voters.clone(),
                    ));
                }
            }
            Some(per_range)
        });
        let done = per_range.as_ref().is_some_and(|p| {
            p.len() == 4 + SYSTEM_RANGES
                && p.values().all(|reps| {
                    let mut on: Vec<u64> = reps.iter().map(|r| r.0).collect();
                    on.sort();
                    on == [2, 3, 4]
                        && reps
                            .iter()
                            .all(|r| (r.1, r.2) == (reps[0].1, reps[0].2) && r.3.len() == 3)
                })
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not converge on nodes 2-4: {per_range:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Node 1 holds no replica any more. A replica that missed the entry removing it (the
    // leader stops sending to it once the removal commits without its ack) learns it when it
    // next campaigns, an election timeout later: wait for that.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s1 = rt
            .block_on(status(&addrs[0], false))
            .expect("node 1 status");
        if s1.replicas.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 1 still has replicas: {:?}",
            s1.replicas
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Every acknowledged write reads back through the new node.
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), 4_000);
    rt.block_on(async {
        let mut c = kv_client(&addrs[3]).await.expect("client");
        for (k, v) in acked.iter().step_by(5) {
            let r = c
                .get(GetRequest {
                    key: k.clone().into_bytes(),
                })
                .await
                .expect("get")
                .into_inner();
            assert!(r.error.is_none() && r.found, "{k}: {:?}", r.error);
            assert_eq!(r.value, v.as_bytes());
        }
    });
}

/// A node started without --join is a one-node cluster of its own; atomic operations and
/// one-range transactions work through its KV API, and a transaction over two ranges is
/// refused without writing anything.
#[test]
fn single_node_cluster_atomic_ops_and_transactions() {
    use cairn_proto::kv::{txn_op, AtomicOpRequest, AtomicOpType, Compare, TxnOp, TxnRequest};
    let addr = format!("127.0.0.1:{}", free_port());
    let node = TestServer::start_with(&["--grpc-addr", &addr]);
    let rt = crate::server::multi_thread_runtime();
    rt.block_on(async {
        let c = kv_client(&addr).await.expect("client");
        // 20 concurrent increments of one counter.
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let mut c = c.clone();
            tasks.push(tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    let r = c
                        .atomic_op(AtomicOpRequest {
                            key: b"counter".to_vec(),
                            op: AtomicOpType::Add as i32,
                            operand: 1u64.to_le_bytes().to_vec(),
                        })
                        .await
                        .expect("atomic op")
                        .into_inner();
                    if r.error.is_none() {
                        break;
                    }
                    assert!(Instant::now() < deadline, "{:?}", r.error);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let mut c = c.clone();
        let v = c
            .get(GetRequest {
                key: b"counter".to_vec(),
            })
            .await
            .expect("get")
            .into_inner();
        assert_eq!(v.value, 20u64.to_le_bytes().to_vec());

        let put = |k: &str, v: &str| TxnOp {
            op: Some(txn_op::Op::Put(PutRequest {
                key: k.into(),
                value: v.into(),
            })),
        };
        let cmp = |k: &str, v: Option<&str>| Compare {
            key: k.into(),
            expected_present: v.is_some(),
            expected: v.unwrap_or("").into(),
        };
        // "Pa" and "Pb" share a range; compare-and-swap two keys at once.
        let t = TxnRequest {
            compares: vec![cmp("Pa", None)],
            success: vec![put("Pa", "1"), put("Pb", "1")],
            failure: vec![put("Pa", "lost")],
        };
        let r = c.txn(t.clone()).await.expect("txn").into_inner();
        assert!(r.error.is_none() && r.succeeded, "{r:?}");
        let r = c.txn(t).await.expect("txn").into_inner();
        assert!(
            r.error.is_none() && !r.succeeded,
            "second run takes the failure branch"
        );
        let pa = c
            .get(GetRequest {
                key: b"Pa".to_vec(),
            })
            .await
            .expect("get")
            .into_inner();
        assert_eq!(pa.value, b"lost");
        // "0x" (first user range) and "zz" (last): two ranges, refused, nothing written.
        let spanning = TxnRequest {
            compares: vec![],
            success: vec![put("0x", "1"), put("zz", "1")],
            failure: vec![],
        };
        let r = c.txn(spanning).await.expect("txn").into_inner();
        let code = r.error.as_ref().map(|e| e.code);
        assert_eq!(code, Some(ErrorCode::InvalidArgument as i32), "{r:?}");
        let x = c
            .get(GetRequest {
                key: b"0x".to_vec(),
            })
            .await
            .expect("get")
            .into_inner();
        assert!(!x.found, "a refused transaction wrote a key");
    });
    // `cairn node status | head -0`: the reader is gone before the first line; the
    // command stops quietly instead of panicking on the broken pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["node", "status", "--host", &addr])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn cairn node status");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("cairn node status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "{:?}: {stderr}",
        out.status
    );
    drop(node);
}

// ---------------------------------------------------------------------------------------
// Quiescence: idle ranges stop ticking and heartbeating.

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    ticks / hz
}

/// Three nodes with `ranges` user ranges, initialised. Extra `cairn start` flags in `extra`.
fn idle_cluster(ranges: u32, extra: &[&str]) -> (Vec<TestServer>, Vec<String>) {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let join = addrs.join(",");
    let ranges = ranges.to_string();
    let nodes: Vec<TestServer> = (0..3)
        .map(|i| {
            let mut args = vec![
                "--grpc-addr",
                &addrs[i],
                "--join",
                &join,
                "--user-ranges",
                &ranges,
            ];
            args.extend_from_slice(extra);
            TestServer::start_with(&args)
        })
        .collect();
    cairn_init(&addrs[0]);
    (nodes, addrs)
}

/// (ranges with a leader, replicas, quiesced replicas) over the whole cluster.
async fn leaders_and_quiesced(addrs: &[String]) -> Option<(usize, usize, usize)> {
    let mut led = std::collections::BTreeSet::new();
    let (mut replicas, mut quiesced) = (0, 0);
    for a in addrs {
        let s = status(a, false).await?;
        for r in s.replicas {
            replicas += 1;
            quiesced += usize::from(r.quiesced);
            if r.role == "leader" {
                led.insert(r.range_id);
            }
        }
    }
    Some((led.len(), replicas, quiesced))
}

/// Waits until every one of `ranges` ranges has a leader and, with `all_quiesced`, every
/// replica is quiesced. Returns the time it took.
fn await_idle(
    rt: &tokio::runtime::Runtime,
    addrs: &[String],
    ranges: usize,
    all_quiesced: bool,
    limit: Duration,
) -> Duration {
    let t0 = Instant::now();
    let mut last = None;
    loop {
        let seen = rt.block_on(leaders_and_quiesced(addrs));
        if let Some((led, replicas, quiesced)) = seen {
            if led == ranges && replicas == 3 * ranges && (!all_quiesced || quiesced == replicas) {
                return t0.elapsed();
            }
        }
        last = seen.or(last);
        assert!(
            t0.elapsed() < limit,
            "after {limit:?}: (ranges led, replicas, quiesced) = {last:?} of {ranges} ranges"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// CPU seconds per second each node used over `window`.
fn cpu_rates(nodes: &[TestServer], window: Duration) -> Vec<f64> {
    let before: Vec<f64> = nodes.iter().map(|n| cpu_seconds(n.pid())).collect();
    std::thread::sleep(window);
    nodes
        .iter()
        .zip(before)
        .map(|(n, b)| (cpu_seconds(n.pid()) - b) / window.as_secs_f64())
        .collect()
}

#[test]
fn idle_ranges_quiesce_and_wake_on_demand() {
    let user_ranges = 100;
    let total = user_ranges as usize + SYSTEM_RANGES;
    let (mut nodes, addrs) = idle_cluster(user_ranges, &[]);
    let rt = crate::server::runtime();
    let took = await_idle(&rt, &addrs, total, true, Duration::from_secs(90));
    println!("{total} ranges elected and quiesced in {took:?}");
    let cpu = cpu_rates(&nodes, Duration::from_secs(3));
    println!("idle CPU per node (CPU-s/s, debug build): {cpu:.3?}");

    // A write wakes its range, is acknowledged and read back through another node; then the
    // range quiesces again.
    rt.block_on(async {
        let mut a = kv_client(&addrs[0]).await.expect("client");
        let r = a
            .put(PutRequest {
                key: b"wake-up".to_vec(),
                value: b"yes".to_vec(),
            })
            .await
            .expect("put")
            .into_inner();
        assert!(r.error.is_none(), "put: {:?}", r.error);
        let mut b = kv_client(&addrs[1]).await.expect("client");
        let g = b
            .get(GetRequest {
                key: b"wake-up".to_vec(),
            })
            .await
            .expect("get")
            .into_inner();
        assert!(g.error.is_none() && g.found && g.value == b"yes", "{g:?}");
    });
    let again = await_idle(&rt, &addrs, total, true, Duration::from_secs(30));
    println!("quiesced again {again:?} after the write");

    // `cairn node transfer-leader` moves a quiesced range's leadership, asked through a node
    // that does not lead it.
    let leader = rt.block_on(async {
        let s = status(&addrs[0], false).await.expect("status");
        s.replicas
            .iter()
            .find(|r| r.range_id == 2)
            .expect("node 1 holds range 2")
            .leader_node
    });
    let others: Vec<u64> = (1..=3).filter(|&n| n != leader).collect();
    let (other, via_node) = (others[0], others[1]);
    let via = &addrs[via_node as usize - 1];
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["node", "transfer-leader", "--range", "2", "--to"])
        .arg(other.to_string())
        .args(["--host", via])
        .output()
        .expect("cairn node transfer-leader");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&format!("range 2: node {other} leads")),
        "transfer-leader: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let now = rt.block_on(async {
        let s = status(&addrs[other as usize - 1], false)
            .await
            .expect("status");
        s.replicas
            .iter()
            .find(|r| r.range_id == 2)
            .map(|r| r.role.clone())
    });
    assert_eq!(
        now.as_deref(),
        Some("leader"),
        "node {other} after the transfer"
    );
    // A node without a voting replica is refused.
    let refused = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["node", "transfer-leader", "--range", "2", "--to", "9"])
        .args(["--host", &addrs[0]])
        .output()
        .expect("cairn node transfer-leader");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no replica"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    await_idle(&rt, &addrs, total, true, Duration::from_secs(30));
    for n in &mut nodes {
        assert!(n.alive(), "a node exited: {}", n.log());
    }
}

/// The measurement behind docs/benchmarks.md's idle-range figures: `CAIRN_IDLE_RANGES`
/// (default 10,000) user ranges on three nodes, CPU per node once every range has a leader,
/// with quiescence and without (`--no-quiesce`).
#[test]
#[ignore = "long: thousands of ranges; run with --release for meaningful figures"]
fn many_idle_ranges_cpu() {
    let user_ranges: u32 = std::env::var("CAIRN_IDLE_RANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let total = user_ranges as usize + SYSTEM_RANGES;
    let rt = crate::server::runtime();
    for quiesce in [true, false] {
        let extra: &[&str] = if quiesce { &[] } else { &["--no-quiesce"] };
        let (mut nodes, addrs) = idle_cluster(user_ranges, extra);
        let took = await_idle(&rt, &addrs, total, quiesce, Duration::from_secs(600));
        let cpu = cpu_rates(&nodes, Duration::from_secs(10));
        let seen = rt.block_on(leaders_and_quiesced(&addrs));
        println!(
            "{total} ranges, quiesce {quiesce}: every range led{} after {took:?}; \
             idle CPU per node over 10 s (CPU-s/s): {cpu:.3?}; (led, replicas, quiesced) {seen:?}",
            if quiesce { " and quiesced" } else { "" }
        );
        for n in &mut nodes {
            assert!(n.alive(), "a node exited: {}", n.log());
        }
    }
}

/// A node that is down while another joins learns the newcomer's address from its peers
/// after it restarts (the join's broadcast missed it).
#[test]
fn a_node_down_during_a_join_learns_the_new_address() {
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let first3 = addrs[..3].join(",");
    let start = |i: usize, dir| cluster_node(&addrs[i], &first3, &[], dir);
    let mut nodes: Vec<Option<TestServer>> = (0..3).map(|i| Some(start(i, None))).collect();
    cairn_init(&addrs[0]);
    let rt = crate::server::runtime();
    let dir = nodes[2].take().expect("node 3").kill();

    nodes.push(Some(start(3, None)));
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt
        .block_on(status(&addrs[3], false))
        .map_or(0, |s| s.node_id)
        != 4
    {
        assert!(Instant::now() < deadline, "node 4 did not join");
        std::thread::sleep(Duration::from_millis(100));
    }

    nodes[2] = Some(start(2, Some(dir)));
    let knows_node_4 = |s: &cairn_proto::node::StatusResponse| {
        s.nodes
            .iter()
            .any(|n| n.node_id == 4 && n.grpc_addr == addrs[3])
    };
    let first = rt.block_on(status(&addrs[2], false));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = rt.block_on(status(&addrs[2], false));
        if s.as_ref().is_some_and(knows_node_4) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 3 never learned node 4's address: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "node 3 knew node 4 right after its restart: {}",
        first.as_ref().is_some_and(knows_node_4)
    );
    for n in nodes.iter_mut().flatten() {
        assert!(n.alive(), "a node exited: {}", n.log());
    }
}

// ---------------------------------------------------------------------------------------
// SQL over the replicated SQL range.

/// The node (1-based) that leads `range`, as `addr` sees it.
async fn leader_of(addr: &str, range: u64) -> Option<u64> {
    let s = status(addr, false).await?;
    s.replicas
        .iter()
        .find(|r| r.range_id == range)
        .map(|r| r.leader_node)
        .filter(|&n| n != 0)
}

/// Bank transfers through the given SQL servers: every committed transfer also inserts its
/// id into `log`. Returns (committed ids, ids whose commit outcome is unknown, commit times).
async fn transfers(
    configs: Vec<String>,
    clients: usize,
    per_client: usize,
) -> (Vec<i64>, Vec<i64>, Vec<Instant>) {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let config = configs[c % configs.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut done = (Vec::new(), Vec::new(), Vec::new());
            let mut client = crate::server::connect(&config).await;
            let mut n = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while n < per_client && Instant::now() < deadline {
                let id = (c * 1_000_000 + n) as i64;
                let (a, b) = ((n % 10) as i32, ((n + c + 1) % 10) as i32);
                let sql = format!(
                    "BEGIN; UPDATE acct SET bal = bal - 1 WHERE id = {a}; \
                     UPDATE acct SET bal = bal + 1 WHERE id = {b}; \
                     INSERT INTO log VALUES ({id}); COMMIT"
                );
                match client.batch_execute(&sql).await {
                    Ok(()) => {
                        done.0.push(id);
                        done.2.push(Instant::now());
                        n += 1;
                    }
                    Err(e) => {
                        let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
                        if code == "40003" {
                            done.1.push(id);
                            n += 1;
                        }
                        if client.is_closed() {
                            client = crate::server::connect(&config).await;
                        } else {
                            let _ = client.batch_execute("ROLLBACK").await;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            done
        }));
    }
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for t in tasks {
        let (a, b, c) = t.await.expect("client task");
        out.0.extend(a);
        out.1.extend(b);
        out.2.extend(c);
    }
    out.2.sort();
    out
}

/// The SQLSTATE of the error `sql` must fail with on `c`.
async fn failure(c: &tokio_postgres::Client, sql: &str) -> String {
    match c.execute(sql, &[]).await {
        Ok(n) => panic!("{sql} succeeded ({n} rows), expected an error"),
        Err(e) => e
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or(e.to_string()),
    }
}

/// A gateway (a node that does not lead the SQL range) pipelines a transaction's writes to
/// the leader without waiting for each answer. A write the leader refuses must still fail the
/// statement that made it, not a later one, and bulk writes must all arrive.
#[test]
fn a_gateway_reports_a_refused_pipelined_write_in_the_statement_that_wrote_it() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let join = addrs.join(",");
    let nodes: Vec<TestServer> = (0..3)
        .map(|i| cluster_node(&addrs[i], &join, &[], None))
        .collect();
    cairn_init(&addrs[0]);
    let rt = crate::server::multi_thread_runtime();
    let deadline = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        if let Some(l) = rt.block_on(leader_of(&addrs[0], SQL_RANGE)) {
            break l as usize - 1;
        }
        assert!(Instant::now() < deadline, "the SQL range has no leader");
        std::thread::sleep(Duration::from_millis(50));
    };
    let gateway = nodes[(leader + 1) % 3].config();
    let other = nodes[(leader + 2) % 3].config();
    rt.block_on(async {
        let a = crate::server::connect(&gateway).await;
        a.batch_execute(
            "CREATE TABLE kv (k int PRIMARY KEY, v int NOT NULL); \
             INSERT INTO kv SELECT g, 0 FROM generate_series(1, 2000) g",
        )
        .await
        .expect("setup through the gateway");
        let row = a
            .query_one("SELECT count(*), sum(k) FROM kv", &[])
            .await
            .expect("count");
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i64>(1)),
            (2000, 2001000)
        );

        // A's snapshot predates B's commit of k = 1, so A's write of k = 1 conflicts.
        a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .expect("begin");
        let v: i32 = a
            .query_one("SELECT v FROM kv WHERE k = 1", &[])
            .await
            .expect("read")
            .get(0);
        assert_eq!(v, 0);
        let b = crate::server::connect(&other).await;
        b.execute("UPDATE kv SET v = 10 WHERE k = 1", &[])
            .await
            .expect("B's update");
        // A's conflicting update fails itself; the transaction is aborted after it.
        assert_eq!(
            failure(&a, "UPDATE kv SET v = 20 WHERE k = 1").await,
            "40001"
        );
        assert_eq!(failure(&a, "SELECT 1").await, "25P02");
        a.batch_execute("ROLLBACK").await.expect("rollback");
        let v: i32 = a
            .query_one("SELECT v FROM kv WHERE k = 1", &[])
            .await
            .expect("read")
            .get(0);
        assert_eq!(v, 10, "B's commit stands, A's write is gone");

        // A row over the store's value limit is refused by the leader's put, which nothing
        // in the INSERT waits for: the statement end must report it.
        a.batch_execute("CREATE TABLE blob (t text)")
            .await
            .expect("create");
        a.batch_execute("BEGIN").await.expect("begin");
        a.execute("INSERT INTO blob VALUES ('small')", &[])
            .await
            .expect("a small row");
        assert_eq!(
            failure(&a, "INSERT INTO blob VALUES (repeat('x', 200000))").await,
            "54000"
        );
        a.batch_execute("ROLLBACK").await.expect("rollback");
        let n: i64 = a
            .query_one("SELECT count(*) FROM blob", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 0);

        // Outside a block the statement's own commit follows at once: the small row must not
        // commit without the refused one.
        assert_eq!(
            failure(
                &a,
                "INSERT INTO blob VALUES ('small'), (repeat('x', 200000))"
            )
            .await,
            "54000"
        );
        let n: i64 = a
            .query_one("SELECT count(*) FROM blob", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 0, "a statement that failed committed part of its rows");
    });
}

#[test]
fn sql_runs_on_every_node_and_survives_the_sql_leaders_kill() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let join = addrs.join(",");
    let start = |i: usize, dir| cluster_node(&addrs[i], &join, &[], dir);
    let mut nodes: Vec<Option<TestServer>> = (0..3).map(|i| Some(start(i, None))).collect();
    cairn_init(&addrs[0]);
    let configs: Vec<String> = nodes.iter().flatten().map(TestServer::config).collect();
    let rt = crate::server::multi_thread_runtime();

    // DDL and writes through one node are read through the others, whichever leads.
    rt.block_on(async {
        let c0 = crate::server::connect(&configs[0]).await;
        c0.batch_execute(
            "CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL); \
             CREATE TABLE log (id bigint PRIMARY KEY); \
             INSERT INTO acct SELECT g, 100 FROM generate_series(0, 9) g",
        )
        .await
        .expect("setup");
        for (i, cfg) in configs.iter().enumerate() {
            let c = crate::server::connect(cfg).await;
            let row = c
                .query_one("SELECT count(*), sum(bal) FROM acct", &[])
                .await
                .expect("read");
            assert_eq!(
                (row.get::<_, i64>(0), row.get::<_, i64>(1)),
                (10, 1000),
                "node {}",
                i + 1
            );
            c.execute("INSERT INTO log VALUES ($1)", &[&(-1 - i as i64)])
                .await
                .expect("write through every node");
        }
    });

    // Load through the two nodes that do not lead the SQL range; kill its leader mid-way.
    let victim = rt
        .block_on(leader_of(&addrs[0], SQL_RANGE))
        .expect("the SQL range has a leader") as usize
        - 1;
    let gateways: Vec<String> = (0..3)
        .filter(|&i| i != victim)
        .map(|i| configs[i].clone())
        .collect();
    let load = rt.spawn(transfers(gateways, 8, 150));
    std::thread::sleep(Duration::from_millis(1500));
    let killed_at = Instant::now();
    let dir = nodes[victim].take().expect("victim").kill();
    let (committed, unknown, times) = rt.block_on(load).expect("load");
    let gap = times
        .windows(2)
        .filter(|w| w[1] > killed_at)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default();
    println!(
        "SQL: {} transfers committed, {} with unknown outcome; the SQL range's leader (node {}) \
         SIGKILLed, longest gap between commits after: {} ms",
        committed.len(),
        unknown.len(),
        victim + 1,
        gap.as_millis()
    );
    assert!(
        times.iter().any(|t| *t > killed_at),
        "no commit after the kill"
    );
    assert!(gap < Duration::from_secs(10), "SQL stalled {gap:?}");

    // Restarted, the old leader serves SQL again; every node sees every committed transfer
    // and the bank's total is intact.
    nodes[victim] = Some(start(victim, Some(dir)));
    let configs: Vec<String> = nodes.iter().flatten().map(TestServer::config).collect();
    rt.block_on(async {
        for (i, cfg) in configs.iter().enumerate() {
            let c = crate::server::connect(cfg).await;
            let deadline = Instant::now() + Duration::from_secs(30);
            let rows = loop {
                match c.query("SELECT id FROM log", &[]).await {
                    Ok(rows) => break rows,
                    Err(e) if Instant::now() < deadline => {
                        println!("node {}: {e}; retrying", i + 1);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => panic!("node {}: {e}", i + 1),
                }
            };
            let ids: std::collections::BTreeSet<i64> = rows.iter().map(|r| r.get(0)).collect();
            for id in &committed {
                assert!(
                    ids.contains(id),
                    "node {}: committed transfer {id} lost",
                    i + 1
                );
            }
            for id in ids.iter().filter(|&&id| id >= 0) {
                assert!(
                    committed.contains(id) || unknown.contains(id),
                    "node {}: transfer {id} was never acknowledged nor in doubt",
                    i + 1
                );
            }
            let row = c
                .query_one("SELECT sum(bal) FROM acct", &[])
                .await
                .expect("sum");
            assert_eq!(row.get::<_, i64>(0), 1000, "node {}", i + 1);
        }
    });

    // The SQL range's replicas converge to the same applied index and data.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reps: Vec<(u64, u32)> = rt.block_on(async {
            let mut v = Vec::new();
            for a in &addrs {
                if let Some(s) = status(a, true).await {
                    v.extend(
                        s.replicas
                            .iter()
                            .filter(|r| r.range_id == SQL_RANGE)
                            .map(|r| (r.applied_index, r.data_checksum)),
                    );
                }
            }
            v
        });
        if reps.len() == 3 && reps.iter().all(|r| *r == reps[0]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SQL range replicas differ: {reps:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for n in nodes.iter_mut().flatten() {
        assert!(n.alive(), "a node exited: {}", n.log());
    }
}

async fn stall_loop(addr: &str, millis: u64) {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("connect");
    NodeClient::new(ch)
        .stall_loop(cairn_proto::node::StallLoopRequest { millis })
        .await
        .expect("stall_loop");
}

/// Per range: (leader node, term) as the given nodes' replicas report them; a range whose
/// replicas disagree gets the highest term's view.
async fn leaders_and_terms(addrs: &[String]) -> BTreeMap<u64, (u64, u64)> {
    let mut out: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for a in addrs {
        let Some(s) = status(a, false).await else {
            continue;
        };
        for r in s.replicas {
            let e = out.entry(r.range_id).or_insert((r.leader_node, r.term));
            if r.term > e.1 {
                *e = (r.leader_node, r.term);
            }
        }
    }
    out
}

/// A node's Raft loop held for 1.2 s inside one turn (as a large commit's apply holds it) keeps
/// the leadership of its ranges: while it is stuck, its transport sends busy notices and its
/// peers neither campaign nor wake their quiesced replicas. Run twice: with idle (quiesced)
/// ranges, and with quiescence off, where Raft's own election timers are what must hold. Both
/// followers held at once do not depose the leader (check-quorum). A loop held past the busy
/// limit (2 s) is taken for wedged: its ranges fail over.
#[test]
fn a_busy_leader_keeps_its_ranges_and_a_wedged_one_loses_them() {
    for extra in [
        &["--fault-injection"][..],
        &["--fault-injection", "--no-quiesce"][..],
    ] {
        let (_nodes, addrs) = idle_cluster(1, extra);
        let rt = crate::server::runtime();
        let ranges = SYSTEM_RANGES + 1;
        await_idle(&rt, &addrs, ranges, false, Duration::from_secs(30));
        // Leadership settles (initial elections may still move a range).
        std::thread::sleep(Duration::from_secs(1));
        let before = rt.block_on(leaders_and_terms(&addrs));
        let Some(&(busy_node, _)) = before.get(&SQL_RANGE) else {
            panic!("no leader for the SQL range: {before:?}");
        };
        let busy_addr = &addrs[busy_node as usize - 1];
        rt.block_on(stall_loop(busy_addr, 1_200));
        std::thread::sleep(Duration::from_millis(2_000));
        let after = rt.block_on(leaders_and_terms(&addrs));
        assert_eq!(
            before, after,
            "{extra:?}: a leader busy for 1.2 s lost or re-elected a range (before, after)"
        );
        // The busy node still serves.
        let mut kv = rt.block_on(kv_client(busy_addr)).expect("client");
        let put = rt
            .block_on(kv.put(PutRequest {
                key: b"after-busy".to_vec(),
                value: b"1".to_vec(),
            }))
            .expect("a put through the node that was busy");
        assert_eq!(
            put.into_inner().error,
            None,
            "{extra:?}: put after the stall"
        );

        // Both followers busy at once: the leader keeps its quorum (check-quorum counts them).
        let followers: Vec<&String> = (0..3)
            .filter(|&i| i + 1 != busy_node as usize)
            .map(|i| &addrs[i])
            .collect();
        for f in &followers {
            rt.block_on(stall_loop(f, 1_200));
        }
        std::thread::sleep(Duration::from_millis(2_000));
        let after_followers = rt.block_on(leaders_and_terms(&addrs));
        assert_eq!(
            after, after_followers,
            "{extra:?}: a leader whose followers were busy for 1.2 s lost a range"
        );

        // Wedged: held 5 s. The others elect new leaders for the ranges it led while it is
        // still stuck.
        let led: Vec<u64> = after
            .iter()
            .filter(|(_, &(leader, _))| leader == busy_node)
            .map(|(&range, _)| range)
            .collect();
        assert!(led.contains(&SQL_RANGE));
        let others: Vec<String> = (0..3)
            .filter(|&i| i + 1 != busy_node as usize)
            .map(|i| addrs[i].clone())
            .collect();
        rt.block_on(stall_loop(busy_addr, 5_000));
        let t0 = Instant::now();
        loop {
            let now = rt.block_on(leaders_and_terms(&others));
            let moved = led.iter().all(|r| {
                now.get(r).is_some_and(|&(leader, term)| {
                    leader != busy_node && leader != 0 && term > after[r].1
                })
            });
            if moved {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_millis(4_500),
                "{extra:?}: no failover from a loop held 5 s: {now:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

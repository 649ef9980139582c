//! `cairn bench kv --target cairn` against a real one-node cluster (a `cairn start
//! --grpc-addr` process that initialises itself): a few hundred puts and linearizable gets at
//! 1 and 4 clients. The JSON lines must be complete and consistent, and the cluster must hold
//! exactly the keys the benchmark wrote, with 100-byte values. The three-node comparison with
//! etcd is `bench/kv.sh`.

use std::process::Command;
use std::time::Duration;

use cairn_proto::kv::kv_client::KvClient;
use cairn_proto::kv::ScanRequest;

use crate::server::{runtime, TestServer};

#[test]
fn bench_kv_runs_against_a_one_node_cluster_and_prints_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port_file = dir.path().join("grpc-port");
    let port_arg = port_file.to_str().expect("utf-8 temp path").to_owned();
    let server = TestServer::start_in(
        dir,
        &["--grpc-addr", "127.0.0.1:0", "--grpc-port-file", &port_arg],
    );
    // The gRPC port file is written before the SQL port file TestServer waited for.
    let grpc_port: u16 = std::fs::read_to_string(&port_file)
        .expect("grpc port file")
        .trim()
        .parse()
        .expect("grpc port");
    let host = format!("127.0.0.1:{grpc_port}");

    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args([
            "bench",
            "kv",
            "--hosts",
            &host,
            "--clients",
            "1,4",
            "--workload",
            "put,get",
            "--num",
            "300",
            "--keys",
            "100",
            "--json",
        ])
        .output()
        .expect("run cairn bench kv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cairn bench kv failed: {}\n{stdout}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );

    let reports: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let order: Vec<(String, u64)> = reports
        .iter()
        .map(|r| {
            (
                r["workload"].as_str().unwrap().to_owned(),
                r["clients"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("put".to_owned(), 1),
            ("put".to_owned(), 4),
            ("get".to_owned(), 1),
            ("get".to_owned(), 4)
        ]
    );
    for r in &reports {
        let f = |name: &str| {
            r[name]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} missing in {r}"))
        };
        assert_eq!(r["target"], "cairn", "{r}");
        assert_eq!(r["ops"], 300, "{r}");
        assert!(f("ops_per_sec") > 0.0, "{r}");
        assert!(f("elapsed_secs") > 0.0, "{r}");
        assert!(f("p50_us") > 0.0, "{r}");
        assert!(f("p50_us") <= f("p99_us"), "{r}");
        assert!(f("p99_us") <= f("p999_us"), "{r}");
        assert!(f("p999_us") <= f("max_us"), "{r}");
        // Steady state on one node: acknowledgements never stop for seconds.
        assert!(f("max_gap_ms") < 5_000.0, "{r}");
        assert!(r["retries"].as_u64().is_some(), "{r}");
    }

    // Exactly the benchmark's 100 keys, each with a 100-byte value.
    let pairs = runtime().block_on(async {
        let ch = tonic::transport::Endpoint::from_shared(format!("http://{host}"))
            .expect("endpoint")
            .timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connect");
        let resp = KvClient::new(ch)
            .scan(ScanRequest {
                start: Vec::new(),
                end: Vec::new(),
                limit: 1000,
            })
            .await
            .expect("scan")
            .into_inner();
        assert!(resp.error.is_none(), "{:?}", resp.error);
        resp.pairs
    });
    assert_eq!(pairs.len(), 100);
    for p in &pairs {
        assert_eq!(p.key.len(), 16);
        assert_eq!(p.value.len(), 100);
    }
}

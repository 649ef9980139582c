//! Tests of `cairn bench kv` against in-process fake servers of both protocols: a map behind
//! Cairn's `cairn.kv.Kv` and etcd's `etcdserverpb.KV`, which refuse some requests the way a
//! cluster without a leader does. They check the runner's retries, counting and value checks;
//! a real cluster is driven by `crates/cairn/tests/pg/bench_kv.rs` and by `bench/kv.sh`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cairn_proto::kv::kv_server::{Kv, KvServer};
use cairn_proto::kv::{
    CasRequest, CasResponse, DeleteRequest, DeleteResponse, ErrorCode, GetRequest, GetResponse,
    KvError, PutRequest, PutResponse, ScanRequest, ScanResponse,
};
use tonic::{Request, Response, Status};

use super::*;

/// The state both fakes keep: the data, a request counter, and which requests to refuse.
#[derive(Default)]
struct FakeStore {
    data: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    requests: AtomicU64,
    /// Refuse every n-th request (0 = never) with a retryable error.
    refuse_every: u64,
    /// Flip the first byte of every value returned (a buggy server).
    corrupt_reads: bool,
}

impl FakeStore {
    fn refuse_now(&self) -> bool {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        self.refuse_every != 0 && n.is_multiple_of(self.refuse_every)
    }

    fn put(&self, key: Vec<u8>, value: Vec<u8>) {
        self.data.lock().unwrap().insert(key, value);
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut v = self.data.lock().unwrap().get(key).cloned()?;
        if self.corrupt_reads {
            if let Some(b) = v.first_mut() {
                *b ^= 0xFF;
            }
        }
        Some(v)
    }
}

struct FakeCairn(Arc<FakeStore>);

fn not_leader() -> Option<KvError> {
    Some(KvError {
        code: ErrorCode::NotLeader as i32,
        message: "fake: not the leader".into(),
        leader_hint: 0,
    })
}

#[tonic::async_trait]
impl Kv for FakeCairn {
    async fn get(&self, req: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        if self.0.refuse_now() {
            return Ok(Response::new(GetResponse {
                error: not_leader(),
                ..Default::default()
            }));
        }
        let v = self.0.get(&req.into_inner().key);
        Ok(Response::new(GetResponse {
            error: None,
            found: v.is_some(),
            value: v.unwrap_or_default(),
        }))
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        if self.0.refuse_now() {
            return Ok(Response::new(PutResponse {
                error: not_leader(),
            }));
        }
        let r = req.into_inner();
        self.0.put(r.key, r.value);
        Ok(Response::new(PutResponse { error: None }))
    }

    async fn delete(&self, _: Request<DeleteRequest>) -> Result<Response<DeleteResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn cas(&self, _: Request<CasRequest>) -> Result<Response<CasResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn scan(&self, _: Request<ScanRequest>) -> Result<Response<ScanResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn atomic_op(
        &self,
        _: Request<cairn_proto::kv::AtomicOpRequest>,
    ) -> Result<Response<cairn_proto::kv::AtomicOpResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn txn(
        &self,
        _: Request<cairn_proto::kv::TxnRequest>,
    ) -> Result<Response<cairn_proto::kv::TxnResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

struct FakeEtcd(Arc<FakeStore>);

#[tonic::async_trait]
impl etcd::kv_server::Kv for FakeEtcd {
    async fn range(
        &self,
        req: Request<etcd::RangeRequest>,
    ) -> Result<Response<etcd::RangeResponse>, Status> {
        let r = req.into_inner();
        // The benchmark's gets must be linearizable.
        if r.serializable {
            return Err(Status::invalid_argument("fake: serializable range"));
        }
        if self.0.refuse_now() {
            return Err(Status::unavailable("etcdserver: leader changed"));
        }
        let kvs = self
            .0
            .get(&r.key)
            .map(|value| etcd::KeyValue {
                key: r.key.clone(),
                value,
                ..Default::default()
            })
            .into_iter()
            .collect::<Vec<_>>();
        Ok(Response::new(etcd::RangeResponse {
            count: kvs.len() as i64,
            kvs,
            ..Default::default()
        }))
    }

    async fn put(
        &self,
        req: Request<etcd::PutRequest>,
    ) -> Result<Response<etcd::PutResponse>, Status> {
        if self.0.refuse_now() {
            return Err(Status::unavailable("etcdserver: no leader"));
        }
        let r = req.into_inner();
        self.0.put(r.key, r.value);
        Ok(Response::new(etcd::PutResponse::default()))
    }
}

/// Serves `store` under `target`'s protocol on `hosts` loopback ports; returns the addresses.
async fn serve(target: Target, store: &Arc<FakeStore>, hosts: usize) -> Vec<String> {
    let mut addrs = Vec::new();
    for _ in 0..hosts {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap().to_string());
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let router = match target {
            Target::Cairn => tonic::transport::Server::builder()
                .add_service(KvServer::new(FakeCairn(store.clone()))),
            Target::Etcd => tonic::transport::Server::builder()
                .add_service(etcd::kv_server::KvServer::new(FakeEtcd(store.clone()))),
        };
        tokio::spawn(router.serve_with_incoming(incoming));
    }
    addrs
}

fn config(target: Target, hosts: Vec<String>, workloads: Vec<KvWorkload>) -> KvBenchConfig {
    KvBenchConfig {
        target,
        hosts,
        clients: vec![1, 4],
        workloads,
        num: 300,
        duration: None,
        keys: 200,
        value_bytes: 100,
        conns: 1,
        seed: 7,
    }
}

async fn run_collect(config: &KvBenchConfig) -> Result<Vec<KvReport>> {
    let mut reports = Vec::new();
    run_async(config, &mut |r| reports.push(r.clone())).await?;
    Ok(reports)
}

async fn puts_and_gets_retry_refusals_and_count_every_op(target: Target) {
    let store = Arc::new(FakeStore {
        refuse_every: 7,
        ..Default::default()
    });
    let hosts = serve(target, &store, 3).await;
    let c = config(target, hosts, vec![KvWorkload::Put, KvWorkload::Get]);
    let reports = run_collect(&c).await.unwrap();
    assert_eq!(reports.len(), 4);
    for r in &reports {
        assert_eq!(r.target, target.name());
        assert_eq!(r.ops, 300, "{r:?}");
        assert!(r.retries > 0, "every 7th request was refused: {r:?}");
        assert!(r.ops_per_sec > 0.0);
        assert!(r.p50_us <= r.p99_us && r.p99_us <= r.p999_us && r.p999_us <= r.max_us);
        assert!(r.max_gap_ms.is_some());
    }
    // The get workload loaded every key first.
    assert_eq!(store.data.lock().unwrap().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cairn_puts_and_gets_retry_refusals_and_count_every_op() {
    puts_and_gets_retry_refusals_and_count_every_op(Target::Cairn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_puts_and_gets_retry_refusals_and_count_every_op() {
    puts_and_gets_retry_refusals_and_count_every_op(Target::Etcd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_checks_every_value() {
    for target in [Target::Cairn, Target::Etcd] {
        let store = Arc::new(FakeStore {
            corrupt_reads: true,
            ..Default::default()
        });
        let hosts = serve(target, &store, 1).await;
        let c = config(target, hosts, vec![KvWorkload::Get]);
        let err = run_collect(&c).await.unwrap_err();
        assert!(
            matches!(
                err,
                BenchError::WrongResult {
                    workload: "get",
                    ..
                }
            ),
            "{target:?}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_run_stops_on_time() {
    let store = Arc::new(FakeStore::default());
    let hosts = serve(Target::Cairn, &store, 2).await;
    let mut c = config(Target::Cairn, hosts, vec![KvWorkload::Put]);
    c.clients = vec![3];
    c.duration = Some(Duration::from_millis(300));
    let reports = run_collect(&c).await.unwrap();
    let r = &reports[0];
    assert!(r.ops > 0);
    assert!(
        (0.3..5.0).contains(&r.elapsed_secs),
        "elapsed {}",
        r.elapsed_secs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_host_fails_at_connect() {
    // A port that was just free: nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let c = config(Target::Etcd, vec![addr], vec![KvWorkload::Put]);
    let err = run_collect(&c).await.unwrap_err();
    assert!(matches!(err, BenchError::Connect { .. }), "{err}");
}

#[test]
fn keys_are_distinct_and_spread_over_first_bytes() {
    let mut seen = std::collections::HashSet::new();
    let mut first_byte_quarters = [0u32; 4];
    for i in 0..10_000u64 {
        let k = key_of(i);
        assert!(seen.insert(k), "key {i} repeats");
        assert_eq!(&k[8..], &i.to_be_bytes());
        first_byte_quarters[usize::from(k[0] / 64)] += 1;
    }
    // Cairn's default 4 user ranges split on the first byte at 64, 128, 192.
    for q in first_byte_quarters {
        assert!((2_000..3_000).contains(&q), "{first_byte_quarters:?}");
    }
    // The module doc's example.
    let hex: String = key_of(1).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "5692161d100b05e50000000000000001");
}

#[test]
fn longest_gap_is_over_sorted_times() {
    assert_eq!(longest_gap_us(vec![]), 0);
    assert_eq!(longest_gap_us(vec![5]), 0);
    assert_eq!(longest_gap_us(vec![30, 10, 11, 100, 12]), 70);
}

#[test]
fn config_rejects_what_cannot_run() {
    let ok = config(Target::Cairn, vec!["h:1".into()], vec![KvWorkload::Put]);
    assert!(ok.validate().is_ok());
    let mut c = ok.clone();
    c.hosts.clear();
    assert!(c.validate().is_err());
    let mut c = ok.clone();
    c.clients = vec![0];
    assert!(c.validate().is_err());
    let mut c = ok.clone();
    c.num = 0;
    assert!(c.validate().is_err());
    c.duration = Some(Duration::from_secs(1));
    assert!(c.validate().is_ok());
    let mut c = ok.clone();
    c.value_bytes = 0;
    assert!(c.validate().is_err());
    let mut c = ok;
    c.conns = 0;
    assert!(c.validate().is_err());
}

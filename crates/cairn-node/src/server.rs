//! The node server: opens the store, starts the Raft loop once the node belongs to a cluster,
//! and serves the gRPC services (`Kv`, `Node`, `RaftTransport`) on one listener.
//!
//! Lifecycle: a store that already has a node id starts at once. A new store with no `--join`
//! initialises a one-node cluster (node 1 holding every range), so `cairn start` alone works.
//! A new store with `--join` waits, serving `Status`, until `cairn init` (through any of the
//! nodes) sends every node its `Bootstrap`: node ids, addresses and the range layout.
//!
//! The key space: the meta range `[ "", "s" )` (cluster metadata), the SQL range
//! `[ "s", "u" )` (the replicated MVCC database that SQL runs on, `sql_range.rs`), and
//! `user_ranges` ranges splitting `[ "u", +∞ )` at evenly spaced 32-bit prefixes; a client
//! key `k` is stored as `"u" + k`. Each range has up to three replicas, spread round-robin over the nodes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cairn_proto::kv::kv_server::KvServer;
use cairn_proto::node::node_server::NodeServer;
use cairn_proto::raft::raft_transport_server::RaftTransportServer;
use cairn_proto::sqltxn::sql_txn_server::SqlTxnServer;
use cairn_raft::engine::Batch;
use cairn_raft::kv::KvStateMachine;
use cairn_raft::{Engine, NodeId, RaftConfig, RaftNode, RangeDescriptor, ReplicaDescriptor};
use parking_lot::{Mutex, RwLock};

use crate::error::{err, Result};
use crate::identity::Identity;
use crate::lsm_engine::{LsmEngine, SQL_PREFIX};
use crate::raft_loop::{self, Input, LoopConfig, LoopHandle, RoutingView};
use crate::sql_range::{sql_range, SqlReplicator};
use crate::transport::{Addresses, Transport};

/// The first byte of every client key as stored.
pub const USER_PREFIX: u8 = b'u';
pub const REPLICATION_FACTOR: usize = 3;

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub store: PathBuf,
    /// Address to listen on for gRPC (port 0 picks one).
    pub listen_addr: String,
    /// Address other nodes reach this one at (default: the listening address).
    pub advertise_addr: Option<String>,
    /// Peers of a cluster to be initialised with `cairn init`.
    pub join: Vec<String>,
    /// User ranges of a cluster this node initialises by itself.
    pub user_ranges: u32,
    pub tick: Duration,
    /// Accept `SetPartition` (tests only): drop traffic to and from chosen nodes.
    pub fault_injection: bool,
    /// Quiesce idle ranges (RaftConfig::quiesce).
    pub quiesce: bool,
    /// Settings of the node's MVCC database (its `replicator` is set by the node).
    pub db: cairn_mvcc::DbOptions,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            store: PathBuf::from("cairn-data/cluster"),
            listen_addr: "127.0.0.1:7444".into(),
            advertise_addr: None,
            join: Vec::new(),
            user_ranges: 4,
            tick: Duration::from_millis(10),
            fault_injection: false,
            quiesce: true,
            db: cairn_mvcc::DbOptions::default(),
        }
    }
}

/// A node that belongs to a cluster.
pub struct Running {
    pub node_id: NodeId,
    pub loop_handle: LoopHandle,
    pub routing: Arc<RwLock<RoutingView>>,
    pub layout: Vec<RangeDescriptor>,
}

/// State shared by the services.
pub struct Shared {
    pub cfg: NodeConfig,
    pub advertise: String,
    pub engine: Arc<dyn Engine>,
    /// The replicated MVCC database in the same engine: the SQL range's state.
    pub sql_db: cairn_mvcc::Db,
    pub sql: Arc<SqlReplicator>,
    pub addrs: Addresses,
    pub running: OnceLock<Running>,
    pub runtime: tokio::runtime::Handle,
    /// Serialises bootstrap and init.
    pub init_lock: tokio::sync::Mutex<()>,
    pub loop_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Nodes this node is partitioned from by fault injection (both directions).
    pub faults: Faults,
    /// When a Raft message last arrived from each node (liveness in `Status`).
    pub last_heard: Arc<RwLock<HashMap<NodeId, std::time::Instant>>>,
    /// This node's loop turns and its peers' busy notices (`busy.rs`).
    pub busy: Arc<crate::busy::Busy>,
}

/// The set of nodes fault injection cuts this node off from.
pub type Faults = Arc<RwLock<std::collections::HashSet<NodeId>>>;

/// The range layout of a new cluster.
pub fn initial_layout(nodes: &[NodeId], user_ranges: u32) -> Vec<RangeDescriptor> {
    let n = user_ranges.max(1);
    let mut bounds: Vec<Vec<u8>> = vec![Vec::new(), vec![SQL_PREFIX], vec![USER_PREFIX]];
    for i in 1..n {
        // The split point i/n of the 32-bit key prefix space, without trailing zero bytes
        // (four ranges split at "u\x40", "u\x80", "u\xc0"); distinct for any n.
        let point = u32::try_from((u64::from(i) << 32) / u64::from(n)).unwrap_or(u32::MAX);
        let mut b = vec![USER_PREFIX];
        b.extend_from_slice(&point.to_be_bytes());
        while b.len() > 2 && b.last() == Some(&0) {
            b.pop();
        }
        bounds.push(b);
    }
    bounds.push(Vec::new());
    let mut out = Vec::new();
    for (i, w) in bounds.windows(2).enumerate() {
        let range_id = i as u64 + 1;
        let k = REPLICATION_FACTOR.min(nodes.len());
        let replicas: Vec<ReplicaDescriptor> = (0..k)
            .filter_map(|j| nodes.get((i + j) % nodes.len()))
            .enumerate()
            .map(|(j, &node_id)| ReplicaDescriptor {
                replica_id: j as u64 + 1,
                node_id,
            })
            .collect();
        out.push(RangeDescriptor {
            range_id,
            generation: 1,
            start_key: w.first().cloned().unwrap_or_default(),
            end_key: w.get(1).cloned().unwrap_or_default(),
            next_replica_id: replicas.len() as u64 + 1,
            replicas,
        });
    }
    out
}

impl Shared {
    /// Makes this node part of a cluster: persists its identity, bootstraps its replicas and
    /// starts the Raft loop. Idempotent for the same node id.
    pub fn bootstrap(
        self: &Arc<Self>,
        node_id: NodeId,
        nodes: HashMap<NodeId, String>,
        layout: Vec<RangeDescriptor>,
    ) -> Result<()> {
        if let Some(r) = self.running.get() {
            if r.node_id == node_id {
                return Ok(());
            }
            return Err(err(format!(
                "this node is already node {} of a cluster",
                r.node_id
            )));
        }
        let ident = Identity {
            node_id: Some(node_id),
            nodes: nodes.iter().map(|(k, v)| (*k, v.clone())).collect(),
            layout: layout.clone(),
        };
        let mut b = Batch::new();
        ident.stage(&mut b);
        for d in &layout {
            if d.replica_on(node_id).is_some() {
                RaftNode::<KvStateMachine>::bootstrap_range(self.engine.as_ref(), d)
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        self.engine.write(b, true).map_err(|e| err(e.to_string()))?;
        self.start(ident)
    }

    /// Starts the loop for a node with an identity.
    pub fn start(self: &Arc<Self>, ident: Identity) -> Result<()> {
        let Some(node_id) = ident.node_id else {
            return Err(err("no node id"));
        };
        {
            let mut a = self.addrs.write();
            for (id, addr) in &ident.nodes {
                a.insert(*id, addr.clone());
            }
        }
        let seed = node_id
            ^ u64::from(std::process::id()).rotate_left(32)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos().into());
        let node = RaftNode::open(
            node_id,
            self.engine.clone(),
            KvStateMachine,
            RaftConfig {
                quiesce: self.cfg.quiesce,
                ..RaftConfig::default()
            },
            seed,
        )
        .map_err(|e| err(format!("open replicas: {e}")))?;
        let (tx, rx) = std::sync::mpsc::channel::<Input>();
        let handle = LoopHandle::new(tx);
        let routing = Arc::new(RwLock::new(RoutingView::default()));
        let transport = Transport::new(
            node_id,
            self.addrs.clone(),
            self.runtime.clone(),
            self.faults.clone(),
        );
        transport.set_loop(handle.clone());
        self.runtime.spawn(crate::busy::send_notices(
            node_id,
            self.busy.clone(),
            self.addrs.clone(),
            transport.clone(),
        ));
        let running = Running {
            node_id,
            loop_handle: handle.clone(),
            routing: routing.clone(),
            layout: ident.layout.clone(),
        };
        if self.running.set(running).is_err() {
            return Err(err("node already running"));
        }
        if let Some(range) = sql_range(&ident.layout) {
            self.sql.connect(node_id, handle, routing.clone(), range);
        }
        let tick = self.cfg.tick;
        let busy = self.busy.clone();
        let t = std::thread::Builder::new()
            .name(format!("cairn-raft-{node_id}"))
            .spawn(move || {
                if let Err(e) =
                    raft_loop::run(node, rx, transport, routing, LoopConfig { tick, busy })
                {
                    tracing::error!(error = %e, "raft loop stopped");
                    eprintln!("cairn: replication stopped: {e}");
                }
            })
            .map_err(|e| err(format!("spawn raft loop: {e}")))?;
        *self.loop_thread.lock() = Some(t);
        Ok(())
    }
}

/// A started node: where it listens, and how to stop it.
pub struct NodeHandle {
    pub local_addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl NodeHandle {
    pub fn node_id(&self) -> Option<NodeId> {
        self.shared.running.get().map(|r| r.node_id)
    }

    /// Stops serving and the Raft loop, and waits for both.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        // Peers' Raft streams never end by themselves: give in-flight requests a second,
        // then drop the remaining connections.
        if tokio::time::timeout(Duration::from_secs(1), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        if let Some(r) = self.shared.running.get() {
            r.loop_handle.send(Input::Stop);
        }
        let t = self.shared.loop_thread.lock().take();
        if let Some(t) = t {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Opens the store and starts serving. Returns once listening.
pub async fn start(cfg: NodeConfig) -> Result<NodeHandle> {
    std::fs::create_dir_all(&cfg.store)
        .map_err(|e| err(format!("create {}: {e}", cfg.store.display())))?;
    let store = cfg.store.clone();
    let sql = Arc::new(SqlReplicator::new(tokio::runtime::Handle::current()));
    let mut db_opts = cfg.db.clone();
    db_opts.replicator = Some(sql.clone());
    let sql_db = tokio::task::spawn_blocking(move || cairn_mvcc::Db::open(&store, db_opts))
        .await
        .map_err(|e| err(e.to_string()))?
        .map_err(|e| err(format!("open {}: {e}", cfg.store.display())))?;
    let engine: Arc<dyn Engine> = Arc::new(LsmEngine::new(Arc::new(sql_db.engine().clone())));
    let listener = tokio::net::TcpListener::bind(&cfg.listen_addr)
        .await
        .map_err(|e| err(format!("listen on {}: {e}", cfg.listen_addr)))?;
    let local_addr = listener.local_addr().map_err(|e| err(e.to_string()))?;
    let advertise = cfg
        .advertise_addr
        .clone()
        .unwrap_or_else(|| local_addr.to_string());
    let ident = Identity::load(engine.as_ref()).map_err(|e| err(e.to_string()))?;
    let shared = Arc::new(Shared {
        advertise: advertise.clone(),
        engine,
        sql_db,
        sql,
        addrs: Arc::new(RwLock::new(HashMap::new())),
        running: OnceLock::new(),
        runtime: tokio::runtime::Handle::current(),
        init_lock: tokio::sync::Mutex::new(()),
        loop_thread: Mutex::new(None),
        faults: Arc::new(RwLock::new(Default::default())),
        last_heard: Arc::new(RwLock::new(HashMap::new())),
        busy: Arc::new(crate::busy::Busy::default()),
        cfg,
    });
    if ident.node_id.is_some() {
        shared.start(ident)?;
    } else if shared.cfg.join.is_empty() {
        let layout = initial_layout(&[1], shared.cfg.user_ranges);
        shared.bootstrap(1, [(1, advertise)].into(), layout)?;
    } else {
        tokio::spawn(join_when_possible(shared.clone()));
    }
    tokio::spawn(crate::node_service::learn_addresses(Arc::downgrade(
        &shared,
    )));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let kv = crate::kv_service::KvService::new(shared.clone());
    let node = crate::node_service::NodeService::new(shared.clone());
    let sqltxn = crate::sqltxn_service::SqlTxnService::new(shared.clone());
    let transport = crate::transport::LazyTransportService {
        shared: shared.clone(),
    };
    // `Server::tcp_nodelay` applies only to listeners tonic binds itself: set it on each
    // accepted socket, or Nagle's algorithm holds a streamed response behind the peer's
    // delayed ACK (tens of milliseconds per SqlTxn round trip, measured).
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |s| {
            if let Ok(s) = &s {
                let _ = s.set_nodelay(true);
            }
            s
        },
    );
    let server = tokio::spawn(async move {
        let r = tonic::transport::Server::builder()
            .add_service(RaftTransportServer::new(transport).max_decoding_message_size(64 << 20))
            .add_service(KvServer::new(kv))
            .add_service(NodeServer::new(node))
            .add_service(SqlTxnServer::new(sqltxn))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop_rx.await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "gRPC server stopped");
        }
    });
    Ok(NodeHandle {
        local_addr,
        shared,
        stop: Some(stop_tx),
        server,
    })
}

/// A new node started with `--join`: asks its peers to let it join a running cluster, every
/// second, until it has joined or `cairn init` has bootstrapped it.
async fn join_when_possible(shared: Arc<Shared>) {
    use cairn_proto::node::node_client::NodeClient;
    use cairn_proto::node::JoinRequest;
    loop {
        if shared.running.get().is_some() {
            return;
        }
        for peer in shared.cfg.join.clone() {
            if peer == shared.advertise {
                continue;
            }
            let Ok(ep) = tonic::transport::Endpoint::from_shared(format!("http://{peer}")) else {
                continue;
            };
            let Ok(ch) = ep
                .connect_timeout(Duration::from_millis(500))
                .connect()
                .await
            else {
                continue;
            };
            let resp = NodeClient::new(ch)
                .join(JoinRequest {
                    grpc_addr: shared.advertise.clone(),
                })
                .await;
            let Ok(resp) = resp else { continue };
            let resp = resp.into_inner();
            let _guard = shared.init_lock.lock().await;
            if shared.running.get().is_some() {
                return;
            }
            let nodes: HashMap<NodeId, String> = resp
                .nodes
                .iter()
                .map(|n| (n.node_id, n.grpc_addr.clone()))
                .collect();
            let layout: Vec<RangeDescriptor> = resp
                .ranges
                .iter()
                .map(crate::node_service::descriptor)
                .collect();
            let s2 = shared.clone();
            let r = tokio::task::spawn_blocking(move || s2.bootstrap(resp.node_id, nodes, layout))
                .await;
            match r {
                Ok(Ok(())) => {
                    eprintln!("cairn: joined the cluster as node {}", resp.node_id);
                    return;
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "joining failed"),
                Err(e) => tracing::warn!(error = %e, "joining failed"),
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The services' view of a running node, or UNAVAILABLE.
pub fn running(shared: &Shared) -> std::result::Result<&Running, tonic::Status> {
    shared.running.get().ok_or_else(|| {
        tonic::Status::unavailable(
            "this node is not part of an initialized cluster yet (run `cairn init`)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_layout_covers_the_key_space_with_three_replicas_each() {
        let l = initial_layout(&[1, 2, 3, 4], 4);
        assert_eq!(l.len(), 6);
        assert_eq!(l[0].start_key, b"");
        assert_eq!(l[0].end_key, b"s");
        assert_eq!(l[1].end_key, b"u");
        for w in l.windows(2) {
            assert_eq!(w[0].end_key, w[1].start_key);
        }
        assert_eq!(l[5].end_key, b"");
        for d in &l {
            assert_eq!(d.replicas.len(), 3);
            let mut nodes: Vec<_> = d.replicas.iter().map(|r| r.node_id).collect();
            nodes.dedup();
            assert_eq!(nodes.len(), 3);
        }
        assert_eq!(l[2].end_key, b"u\x40");
        let one = initial_layout(&[1], 2);
        assert!(one.iter().all(|d| d.replicas.len() == 1));
    }

    #[test]
    fn many_ranges_get_distinct_increasing_bounds() {
        let l = initial_layout(&[1, 2, 3], 10_000);
        assert_eq!(l.len(), 10_002);
        for d in &l[1..l.len() - 1] {
            assert!(d.start_key < d.end_key, "{d:?}");
        }
        for w in l.windows(2) {
            assert_eq!(w[0].end_key, w[1].start_key);
        }
    }
}

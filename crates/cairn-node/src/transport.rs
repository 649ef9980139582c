//! The Raft transport over gRPC (`cairn.raft.RaftTransport`).
//!
//! Outbound: one queue and one task per peer node. The task keeps a client stream open to the
//! peer and sends whatever is queued as one `RaftBatch` (so many ranges' messages share a
//! frame). The loop never waits on the network: a full queue, or a peer that cannot be reached,
//! drops messages, which Raft retransmits. Snapshot messages go on their own `Snapshot` stream
//! in 1 MiB chunks, and the outcome is reported to the loop so the leader can retry.
//!
//! Inbound: each received envelope is decoded (a malformed one ends that stream with
//! `INVALID_ARGUMENT`, never the node) and queued to the loop; a busy notice
//! (`NODE_BUSY_RANGE`, `busy.rs`) is recorded here instead, since the loop that would read it
//! may be the one that is stuck.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_proto::raft::raft_transport_client::RaftTransportClient;
use cairn_proto::raft::raft_transport_server::RaftTransport;
use cairn_proto::raft::{RaftBatch, RaftEnvelope, SnapshotChunk, TransportAck};
use cairn_raft::eraftpb::{Message, MessageType};
use cairn_raft::{NodeId, RaftMessage, NODE_BUSY_RANGE};
use parking_lot::{Mutex, RwLock};
use protobuf::Message as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::raft_loop::{Input, LoopHandle, Outbox};

const QUEUE: usize = 8192;
const BATCH_MAX: usize = 1024;
const CHUNK: usize = 1 << 20;
/// The most a received snapshot may hold (a range is split well before this).
const SNAPSHOT_BYTES_MAX: usize = 1 << 30;

/// Node addresses, shared by the transport and the services.
pub type Addresses = Arc<RwLock<HashMap<NodeId, String>>>;

type ControlClient = RaftTransportClient<tonic::transport::Channel>;

#[derive(Clone)]
pub struct Transport {
    me: NodeId,
    addrs: Addresses,
    peers: Arc<Mutex<HashMap<NodeId, mpsc::Sender<RaftMessage>>>>,
    /// Per peer node, a second connection (and the address it goes to) for control messages.
    control: Arc<Mutex<HashMap<NodeId, (String, ControlClient)>>>,
    loop_handle: Arc<Mutex<Option<LoopHandle>>>,
    runtime: tokio::runtime::Handle,
    faults: crate::server::Faults,
}

impl Transport {
    pub fn new(
        me: NodeId,
        addrs: Addresses,
        runtime: tokio::runtime::Handle,
        faults: crate::server::Faults,
    ) -> Self {
        Self {
            me,
            addrs,
            peers: Arc::new(Mutex::new(HashMap::new())),
            control: Arc::new(Mutex::new(HashMap::new())),
            loop_handle: Arc::new(Mutex::new(None)),
            runtime,
            faults,
        }
    }

    /// Where snapshot outcomes are reported.
    pub fn set_loop(&self, h: LoopHandle) {
        *self.loop_handle.lock() = Some(h);
    }

    /// Sends `m` on its own on the peer's control connection, not behind what the Raft stream
    /// to that peer is carrying (a large append takes a while to cross, and a busy notice must
    /// arrive while the node is busy). Dropped if the peer is unknown, partitioned away by
    /// fault injection, or does not take it within 500 ms.
    pub fn send_control(&self, m: RaftMessage) {
        if m.to_node == self.me || self.faults.read().contains(&m.to_node) {
            return;
        }
        let Some(addr) = self.addrs.read().get(&m.to_node).cloned() else {
            return;
        };
        let client = {
            let mut control = self.control.lock();
            match control.get(&m.to_node) {
                Some((a, c)) if *a == addr => c.clone(),
                _ => {
                    let Ok(endpoint) =
                        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    else {
                        return;
                    };
                    let c = RaftTransportClient::new(
                        endpoint
                            .connect_timeout(Duration::from_millis(500))
                            .tcp_nodelay(true)
                            .connect_lazy(),
                    );
                    control.insert(m.to_node, (addr, c.clone()));
                    c
                }
            }
        };
        let batch = RaftBatch {
            messages: vec![envelope(&m)],
        };
        self.runtime.spawn(async move {
            let mut client = client;
            let _ = tokio::time::timeout(
                Duration::from_millis(500),
                client.send(tokio_stream::once(batch)),
            )
            .await;
        });
    }

    fn queue_for(&self, to: NodeId) -> Option<mpsc::Sender<RaftMessage>> {
        let mut peers = self.peers.lock();
        if let Some(q) = peers.get(&to) {
            if !q.is_closed() {
                return Some(q.clone());
            }
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        peers.insert(to, tx.clone());
        let t = self.clone();
        self.runtime.spawn(async move { t.peer_task(to, rx).await });
        Some(tx)
    }

    async fn peer_task(self, to: NodeId, mut rx: mpsc::Receiver<RaftMessage>) {
        loop {
            let addr = self.addrs.read().get(&to).cloned();
            let Some(addr) = addr else {
                // Unknown address: drop what is queued, look again later.
                while rx.try_recv().is_ok() {}
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let endpoint = match tonic::transport::Endpoint::from_shared(format!("http://{addr}")) {
                Ok(e) => e
                    .connect_timeout(Duration::from_millis(500))
                    .tcp_nodelay(true),
                Err(e) => {
                    tracing::warn!(to, %addr, error = %e, "bad peer address");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let channel = match endpoint.connect().await {
                Ok(c) => c,
                Err(_) => {
                    while let Ok(m) = rx.try_recv() {
                        self.snapshot_failed(&m);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let client = RaftTransportClient::new(channel);
            let (btx, brx) = mpsc::channel::<RaftBatch>(16);
            let mut call_client = client.clone();
            let call =
                tokio::spawn(async move { call_client.send(ReceiverStream::new(brx)).await });
            loop {
                let Some(first) = rx.recv().await else {
                    return; // transport dropped
                };
                let mut msgs = vec![first];
                while msgs.len() < BATCH_MAX {
                    match rx.try_recv() {
                        Ok(m) => msgs.push(m),
                        Err(_) => break,
                    }
                }
                let mut batch = RaftBatch::default();
                for m in msgs {
                    if m.msg.msg_type == MessageType::MsgSnapshot {
                        let t = self.clone();
                        let c = client.clone();
                        tokio::spawn(async move { t.send_snapshot(c, m).await });
                        continue;
                    }
                    batch.messages.push(envelope(&m));
                }
                if !batch.messages.is_empty() && btx.send(batch).await.is_err() {
                    break; // the stream broke; reconnect
                }
                if call.is_finished() {
                    break;
                }
            }
            drop(btx);
            let _ = call.await;
        }
    }

    fn snapshot_failed(&self, m: &RaftMessage) {
        if m.msg.msg_type == MessageType::MsgSnapshot {
            if let Some(h) = self.loop_handle.lock().as_ref() {
                h.send(Input::ReportSnapshot {
                    range: m.range_id,
                    to: m.to_node,
                    delivered: false,
                });
            }
        }
    }

    async fn send_snapshot(
        &self,
        mut client: RaftTransportClient<tonic::transport::Channel>,
        mut m: RaftMessage,
    ) {
        let data = std::mem::take(&mut m.msg.mut_snapshot().data);
        let env = envelope(&m);
        let mut chunks = Vec::new();
        let mut pieces = data.chunks(CHUNK).peekable();
        let mut first = true;
        if pieces.peek().is_none() {
            chunks.push(SnapshotChunk {
                envelope: Some(env.clone()),
                data: Vec::new(),
                last: true,
            });
        }
        while let Some(p) = pieces.next() {
            chunks.push(SnapshotChunk {
                envelope: first.then(|| env.clone()),
                data: p.to_vec(),
                last: pieces.peek().is_none(),
            });
            first = false;
        }
        let ok = client.snapshot(tokio_stream::iter(chunks)).await.is_ok();
        if let Some(h) = self.loop_handle.lock().as_ref() {
            h.send(Input::ReportSnapshot {
                range: m.range_id,
                to: m.to_node,
                delivered: ok,
            });
        }
    }
}

fn envelope(m: &RaftMessage) -> RaftEnvelope {
    RaftEnvelope {
        range_id: m.range_id,
        from_node: m.from_node,
        to_node: m.to_node,
        message: m.msg.write_to_bytes().unwrap_or_default(),
    }
}

fn decode(env: RaftEnvelope) -> Result<RaftMessage, Status> {
    let msg = Message::parse_from_bytes(&env.message)
        .map_err(|e| Status::invalid_argument(format!("malformed raft message: {e}")))?;
    Ok(RaftMessage {
        range_id: env.range_id,
        from_node: env.from_node,
        to_node: env.to_node,
        msg,
    })
}

impl Outbox for Transport {
    fn send(&self, m: RaftMessage) {
        if m.to_node == self.me || self.faults.read().contains(&m.to_node) {
            return;
        }
        if let Some(q) = self.queue_for(m.to_node) {
            if let Err(mpsc::error::TrySendError::Full(m)) = q.try_send(m) {
                self.snapshot_failed(&m);
            }
        }
    }
}

/// The inbound side, served by tonic; refuses messages until the node runs.
pub struct LazyTransportService {
    pub shared: Arc<crate::server::Shared>,
}

impl LazyTransportService {
    fn target(&self) -> Result<(NodeId, LoopHandle), Status> {
        let r = crate::server::running(&self.shared)?;
        Ok((r.node_id, r.loop_handle.clone()))
    }
}

#[tonic::async_trait]
impl RaftTransport for LazyTransportService {
    async fn send(
        &self,
        req: Request<Streaming<RaftBatch>>,
    ) -> Result<Response<TransportAck>, Status> {
        let (me, handle) = self.target()?;
        let mut stream = req.into_inner();
        while let Some(batch) = stream.message().await? {
            if let Some(from) = batch.messages.first().map(|e| e.from_node) {
                if !self.shared.faults.read().contains(&from) {
                    self.shared
                        .last_heard
                        .write()
                        .insert(from, std::time::Instant::now());
                }
            }
            for env in batch.messages {
                if env.to_node != me {
                    return Err(Status::invalid_argument(format!(
                        "message for node {} sent to node {me}",
                        env.to_node
                    )));
                }
                let m = decode(env)?;
                if self.shared.faults.read().contains(&m.from_node) {
                    continue; // fault injection: partitioned from the sender
                }
                if m.range_id == NODE_BUSY_RANGE {
                    self.shared.busy.note_peer_busy(m.from_node);
                    continue;
                }
                if !handle.send(Input::Message(m)) {
                    return Err(Status::unavailable("node is stopping"));
                }
            }
        }
        Ok(Response::new(TransportAck {}))
    }

    async fn snapshot(
        &self,
        req: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<TransportAck>, Status> {
        let (_, handle) = self.target()?;
        let mut stream = req.into_inner();
        let mut env = None;
        let mut data = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if env.is_none() {
                env = chunk.envelope;
                if env.is_none() {
                    return Err(Status::invalid_argument(
                        "first snapshot chunk has no envelope",
                    ));
                }
            }
            if data.len() + chunk.data.len() > SNAPSHOT_BYTES_MAX {
                return Err(Status::invalid_argument("snapshot too large"));
            }
            data.extend_from_slice(&chunk.data);
            if chunk.last {
                let Some(e) = env.take() else {
                    return Err(Status::invalid_argument("snapshot without envelope"));
                };
                let mut m = decode(e)?;
                if self.shared.faults.read().contains(&m.from_node) {
                    return Err(Status::unavailable("partitioned (fault injection)"));
                }
                if m.msg.msg_type != MessageType::MsgSnapshot {
                    return Err(Status::invalid_argument(
                        "snapshot stream carried another message",
                    ));
                }
                m.msg.mut_snapshot().data = std::mem::take(&mut data).into();
                if !handle.send(Input::Message(m)) {
                    return Err(Status::unavailable("node is stopping"));
                }
                return Ok(Response::new(TransportAck {}));
            }
        }
        Err(Status::invalid_argument(
            "snapshot stream ended before its last chunk",
        ))
    }
}

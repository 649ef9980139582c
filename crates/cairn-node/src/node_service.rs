//! The node service (`cairn.node.Node`): status, cluster init and bootstrap, membership.
//!
//! `Init` (what `cairn init --host` calls) runs on one node started with `--join`: it asks
//! every peer in its join list for its status (each must be up and uninitialized), numbers the
//! nodes (itself 1, then the join list's order), builds the range layout and sends every node,
//! itself included, a `Bootstrap` with its id, all addresses and the layout.
//!
//! `ChangeReplicas` moves a range's replicas: new nodes join as learners, then one joint
//! change promotes them and removes the old ones (it runs on the range's leader).
//!
//! Addresses: a joining node's address is recorded in the meta range and pushed to every node
//! (`AddNode`); a node that was down then, or missed the push, learns it from `Nodes`, which
//! [`learn_addresses`] asks every peer every few seconds. Only unknown node ids are learned.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_proto::node::node_client::NodeClient;
use cairn_proto::node::node_server::Node;
use cairn_proto::node::{
    AddNodeResponse, BootstrapRequest, BootstrapResponse, ChangeReplicasRequest,
    ChangeReplicasResponse, InitRequest, InitResponse, JoinRequest, JoinResponse, NodeInfo,
    NodesRequest, NodesResponse, RangeInfo, ReplicaInfo, ReplicaStatus, SetPartitionRequest,
    SetPartitionResponse, StallLoopRequest, StallLoopResponse, StatusRequest, StatusResponse,
    TransferLeaderRequest, TransferLeaderResponse,
};
use cairn_raft::kv::{Command, Response as KvResponse};
use cairn_raft::{MembershipChange, NodeId, RangeDescriptor, ReplicaDescriptor};

use crate::raft_loop::{Input, ReadKind, ReadResult};
use tonic::{Request, Response, Status};

use crate::server::{initial_layout, running, Shared};

pub struct NodeService {
    shared: Arc<Shared>,
}

impl NodeService {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn range_info(d: &RangeDescriptor) -> RangeInfo {
    RangeInfo {
        range_id: d.range_id,
        start_key: d.start_key.clone(),
        end_key: d.end_key.clone(),
        generation: d.generation,
        next_replica_id: d.next_replica_id,
        replicas: d
            .replicas
            .iter()
            .map(|r| ReplicaInfo {
                range_id: d.range_id,
                replica_id: r.replica_id,
                node_id: r.node_id,
            })
            .collect(),
    }
}

pub fn descriptor(r: &RangeInfo) -> RangeDescriptor {
    RangeDescriptor {
        range_id: r.range_id,
        generation: r.generation,
        start_key: r.start_key.clone(),
        end_key: r.end_key.clone(),
        replicas: r
            .replicas
            .iter()
            .map(|x| ReplicaDescriptor {
                replica_id: x.replica_id,
                node_id: x.node_id,
            })
            .collect(),
        next_replica_id: r.next_replica_id,
    }
}

async fn connect(addr: &str) -> Result<NodeClient<tonic::transport::Channel>, Status> {
    let ep = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| Status::invalid_argument(format!("bad address {addr}: {e}")))?
        .connect_timeout(Duration::from_secs(2));
    let ch = ep
        .connect()
        .await
        .map_err(|e| Status::unavailable(format!("cannot reach {addr}: {e}")))?;
    Ok(NodeClient::new(ch))
}

/// Records a node's address in memory and in the engine.
fn remember(shared: &Shared, node: NodeId, addr: &str) -> Result<(), Status> {
    shared.addrs.write().insert(node, addr.to_string());
    let mut b = cairn_raft::Batch::new();
    crate::identity::Identity::stage_address(&mut b, node, addr);
    shared
        .engine
        .write(b, true)
        .map_err(|e| Status::internal(format!("persist node address: {e}")))
}

/// How often a node asks its peers for addresses it lacks.
const LEARN_EVERY: Duration = Duration::from_secs(3);

/// Asks every peer for its address table every [`LEARN_EVERY`] and records the node ids this
/// node did not know. Ends when the node is gone.
pub async fn learn_addresses(shared: std::sync::Weak<Shared>) {
    // One connection per peer, kept across rounds (dropped after a failure).
    let mut clients: HashMap<String, NodeClient<tonic::transport::Channel>> = HashMap::new();
    loop {
        tokio::time::sleep(LEARN_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(me) = shared.running.get().map(|r| r.node_id) else {
            continue;
        };
        let peers: Vec<(NodeId, String)> = shared
            .addrs
            .read()
            .iter()
            .filter(|(id, _)| **id != me && !shared.faults.read().contains(id))
            .map(|(id, a)| (*id, a.clone()))
            .collect();
        for (_, addr) in peers {
            let mut c = match clients.get(&addr) {
                Some(c) => c.clone(),
                None => match connect(&addr).await {
                    Ok(c) => c,
                    Err(_) => continue,
                },
            };
            let asked = tokio::time::timeout(
                Duration::from_secs(2),
                c.nodes(cairn_proto::node::NodesRequest {}),
            )
            .await;
            let Ok(Ok(resp)) = asked else {
                clients.remove(&addr);
                continue;
            };
            clients.insert(addr, c);
            for n in resp.into_inner().nodes {
                let known = shared.addrs.read().contains_key(&n.node_id);
                if n.node_id != 0 && !n.grpc_addr.is_empty() && !known {
                    tracing::info!(node = n.node_id, addr = %n.grpc_addr, "learned a node's address");
                    if let Err(e) = remember(&shared, n.node_id, &n.grpc_addr) {
                        tracing::warn!(error = %e.message(), "could not record a node's address");
                    }
                }
            }
        }
    }
}

const FORWARDED: &str = "cairn-forwarded";
/// The meta range: node ids and addresses live there.
const META_RANGE: u64 = 1;

impl NodeService {
    /// Every range: local descriptors where this node has a replica, the layout otherwise.
    fn ranges(&self, r: &crate::server::Running) -> Vec<RangeDescriptor> {
        let routing = r.routing.read();
        r.layout
            .iter()
            .map(|d| {
                routing
                    .ranges
                    .get(&d.range_id)
                    .map_or_else(|| d.clone(), |(local, _)| local.clone())
            })
            .collect()
    }

    /// A client of another node's `Node` service, by id.
    async fn connect_node(
        &self,
        node: NodeId,
    ) -> Result<NodeClient<tonic::transport::Channel>, Status> {
        let addr = self.shared.addrs.read().get(&node).cloned();
        let Some(addr) = addr else {
            return Err(Status::unavailable(format!("no address for node {node}")));
        };
        connect(&addr).await
    }

    /// Every node's id and address as this node knows them, by id.
    fn address_table(&self) -> Vec<NodeInfo> {
        let mut nodes: Vec<NodeInfo> = self
            .shared
            .addrs
            .read()
            .iter()
            .map(|(id, a)| NodeInfo {
                node_id: *id,
                grpc_addr: a.clone(),
                ..Default::default()
            })
            .collect();
        nodes.sort_by_key(|n| n.node_id);
        nodes
    }

    /// Takes the next node id from the meta range's counter (compare-and-set, retried).
    async fn allocate_node_id(&self, r: &crate::server::Running) -> Result<NodeId, Status> {
        let key = b"m/next-node".to_vec();
        for _ in 0..20 {
            let current = match r
                .loop_handle
                .read(META_RANGE, ReadKind::Get(key.clone()))
                .await
                .map_err(|e| Status::unavailable(format!("read the node counter: {e}")))?
            {
                ReadResult::Value(v) => v,
                ReadResult::Pairs { .. } | ReadResult::Term(_) => None,
            };
            let next: NodeId = match &current {
                Some(b) => std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Status::internal("corrupt node counter"))?,
                None => self.shared.addrs.read().keys().max().copied().unwrap_or(0) + 1,
            };
            let cmd = Command::Cas {
                key: key.clone(),
                expected: current,
                new: Some((next + 1).to_string().into_bytes()),
            };
            let resp = r
                .loop_handle
                .propose(META_RANGE, cmd.encode())
                .await
                .map_err(|e| Status::unavailable(format!("allocate a node id: {e}")))?;
            match KvResponse::decode(&resp) {
                Ok(KvResponse::Done) => return Ok(next),
                Ok(KvResponse::CompareFailed { .. }) => continue,
                _ => return Err(Status::internal("unexpected answer allocating a node id")),
            }
        }
        Err(Status::unavailable("could not allocate a node id; retry"))
    }
}

impl NodeService {
    /// Refuses the fault-injection calls unless the node runs with `--fault-injection`.
    fn fault_injection_on(&self) -> Result<(), Status> {
        if self.shared.cfg.fault_injection {
            Ok(())
        } else {
            Err(Status::permission_denied(
                "fault injection is off (start the node with --fault-injection)",
            ))
        }
    }
}

#[tonic::async_trait]
impl Node for NodeService {
    async fn status(
        &self,
        req: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let checksums = req.into_inner().checksums;
        let mut resp = StatusResponse {
            node_id: 0,
            grpc_addr: self.shared.advertise.clone(),
            ..Default::default()
        };
        let me = self.shared.running.get().map(|r| r.node_id);
        let heard = self.shared.last_heard.read().clone();
        let mut nodes: Vec<NodeInfo> = self
            .shared
            .addrs
            .read()
            .iter()
            .map(|(id, a)| {
                let since = heard.get(id).map(|t| t.elapsed());
                let liveness = if Some(*id) == me {
                    "self"
                } else if since.is_some_and(|d| d < Duration::from_secs(2)) {
                    "live"
                } else {
                    "unreachable"
                };
                NodeInfo {
                    node_id: *id,
                    grpc_addr: a.clone(),
                    liveness: liveness.to_string(),
                    last_heard_ms: since
                        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                }
            })
            .collect();
        nodes.sort_by_key(|n| n.node_id);
        resp.nodes = nodes;
        if let Some(r) = self.shared.running.get() {
            resp.node_id = r.node_id;
            resp.ranges = self.ranges(r).iter().map(range_info).collect();
            for rep in r.loop_handle.status(checksums).await {
                let s = rep.status;
                resp.replicas.push(ReplicaStatus {
                    range_id: s.range_id,
                    replica_id: s.replica_id,
                    role: format!("{:?}", s.role).to_lowercase(),
                    term: s.term,
                    leader_node: s.leader_node.unwrap_or(0),
                    commit_index: s.commit,
                    applied_index: s.applied,
                    last_index: s.last_index,
                    voters: s.conf_state.voters.clone(),
                    learners: s.conf_state.learners.clone(),
                    data_checksum: rep.data_checksum,
                    data_keys: rep.data_keys,
                    quiesced: s.quiesced,
                });
            }
        }
        Ok(Response::new(resp))
    }

    async fn init(&self, req: Request<InitRequest>) -> Result<Response<InitResponse>, Status> {
        let _guard = self.shared.init_lock.lock().await;
        if self.shared.running.get().is_some() {
            return Err(Status::already_exists(
                "this node already belongs to a cluster",
            ));
        }
        let user_ranges = match req.into_inner().user_ranges {
            0 => self.shared.cfg.user_ranges,
            n => n.min(256),
        };
        // Number the nodes: this one, then the join list (skipping itself and duplicates).
        let mut addrs = vec![self.shared.advertise.clone()];
        for a in &self.shared.cfg.join {
            if !addrs.contains(a) {
                addrs.push(a.clone());
            }
        }
        let mut clients = Vec::new();
        for a in addrs.iter().skip(1) {
            let mut c = connect(a).await?;
            let st = c
                .status(StatusRequest { checksums: false })
                .await
                .map_err(|e| Status::unavailable(format!("node {a}: {}", e.message())))?
                .into_inner();
            if st.node_id != 0 {
                return Err(Status::failed_precondition(format!(
                    "node {a} already belongs to a cluster (node {})",
                    st.node_id
                )));
            }
            clients.push(c);
        }
        let ids: Vec<NodeId> = (1..=addrs.len() as u64).collect();
        let nodes: Vec<NodeInfo> = ids
            .iter()
            .zip(&addrs)
            .map(|(id, a)| NodeInfo {
                node_id: *id,
                grpc_addr: a.clone(),
                ..Default::default()
            })
            .collect();
        let layout = initial_layout(&ids, user_ranges);
        let ranges: Vec<RangeInfo> = layout.iter().map(range_info).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            c.bootstrap(BootstrapRequest {
                node_id: i as u64 + 2,
                nodes: nodes.clone(),
                ranges: ranges.clone(),
            })
            .await
            .map_err(|e| {
                Status::unavailable(format!("bootstrap node {}: {}", i + 2, e.message()))
            })?;
        }
        let map: HashMap<NodeId, String> = nodes
            .iter()
            .map(|n| (n.node_id, n.grpc_addr.clone()))
            .collect();
        self.shared
            .bootstrap(1, map, layout)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(InitResponse { nodes }))
    }

    async fn bootstrap(
        &self,
        req: Request<BootstrapRequest>,
    ) -> Result<Response<BootstrapResponse>, Status> {
        let _guard = self.shared.init_lock.lock().await;
        let req = req.into_inner();
        if req.node_id == 0 {
            return Err(Status::invalid_argument("node id 0"));
        }
        let nodes: HashMap<NodeId, String> = req
            .nodes
            .iter()
            .map(|n| (n.node_id, n.grpc_addr.clone()))
            .collect();
        let layout: Vec<RangeDescriptor> = req.ranges.iter().map(descriptor).collect();
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.bootstrap(req.node_id, nodes, layout))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::failed_precondition(e.to_string()))?;
        Ok(Response::new(BootstrapResponse {}))
    }

    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        let forwarded = req.metadata().contains_key(FORWARDED);
        let addr = req.into_inner().grpc_addr;
        let r = self.shared.running.get().ok_or_else(|| {
            Status::failed_precondition("this node is not part of an initialized cluster yet")
        })?;
        // A node already in the table (e.g. named by `cairn init` and polling us before its
        // own Bootstrap arrived) keeps its id.
        let known = self
            .shared
            .addrs
            .read()
            .iter()
            .find(|(_, a)| **a == addr)
            .map(|(id, _)| *id);
        let node_id = match known {
            Some(id) => id,
            None => {
                // Ids are allocated in the meta range, on its leader.
                let leader = r
                    .routing
                    .read()
                    .ranges
                    .get(&META_RANGE)
                    .and_then(|(_, l)| *l);
                if leader != Some(r.node_id) {
                    let Some(l) = leader.filter(|_| !forwarded) else {
                        return Err(Status::unavailable(
                            "the meta range has no leader here; retry",
                        ));
                    };
                    let mut c = self.connect_node(l).await?;
                    let mut fwd = Request::new(JoinRequest { grpc_addr: addr });
                    fwd.metadata_mut()
                        .insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
                    return c.join(fwd).await;
                }
                let id = self.allocate_node_id(r).await?;
                let key = format!("m/node/{id:020}").into_bytes();
                r.loop_handle
                    .propose(
                        META_RANGE,
                        Command::Put {
                            key,
                            value: addr.clone().into_bytes(),
                        }
                        .encode(),
                    )
                    .await
                    .map_err(|e| Status::unavailable(format!("record the node: {e}")))?;
                id
            }
        };
        remember(&self.shared, node_id, &addr)?;
        // Tell every other node (best effort; they also learn it from later joins' tables).
        let others: Vec<(NodeId, String)> = self
            .shared
            .addrs
            .read()
            .iter()
            .filter(|(id, _)| **id != r.node_id && **id != node_id)
            .map(|(id, a)| (*id, a.clone()))
            .collect();
        for (_, a) in others {
            let info = NodeInfo {
                node_id,
                grpc_addr: addr.clone(),
                ..Default::default()
            };
            tokio::spawn(async move {
                if let Ok(mut c) = connect(&a).await {
                    let _ = c.add_node(info).await;
                }
            });
        }
        Ok(Response::new(JoinResponse {
            node_id,
            nodes: self.address_table(),
            ranges: self.ranges(r).iter().map(range_info).collect(),
        }))
    }

    async fn add_node(&self, req: Request<NodeInfo>) -> Result<Response<AddNodeResponse>, Status> {
        let n = req.into_inner();
        if n.node_id == 0 || n.grpc_addr.is_empty() {
            return Err(Status::invalid_argument("node id and address required"));
        }
        remember(&self.shared, n.node_id, &n.grpc_addr)?;
        Ok(Response::new(AddNodeResponse {}))
    }

    async fn change_replicas(
        &self,
        req: Request<ChangeReplicasRequest>,
    ) -> Result<Response<ChangeReplicasResponse>, Status> {
        let r = running(&self.shared)?;
        let req = req.into_inner();
        let range = req.range_id;
        // Run on the range's leader.
        let leader = r.routing.read().ranges.get(&range).and_then(|(_, l)| *l);
        if leader != Some(r.node_id) {
            let Some(l) = leader.filter(|_| !req.forwarded) else {
                return Err(Status::unavailable(
                    "this node does not lead the range; retry",
                ));
            };
            return self
                .connect_node(l)
                .await?
                .change_replicas(ChangeReplicasRequest {
                    forwarded: true,
                    ..req
                })
                .await;
        }
        if req.remove.contains(&r.node_id) {
            // Hand leadership to a voter that stays, then let the caller retry there.
            let stays = r.routing.read().ranges.get(&range).and_then(|(d, _)| {
                d.replicas.iter().map(|x| x.node_id).find(|n| {
                    *n != r.node_id && !req.remove.contains(n) && !req.add_voters.contains(n)
                })
            });
            if let Some(to) = stays {
                r.loop_handle.send(crate::raft_loop::Input::TransferLeader {
                    range,
                    to,
                    reply: None,
                });
            }
            return Err(Status::unavailable(
                "this node leads the range and is being removed: leadership is moving; retry",
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let fail = |e: cairn_raft::ProposalError| Status::failed_precondition(e.to_string());
        // Idempotent: work out what is still to do from the current configuration (a retry
        // after a lost answer finds part or all of it done).
        let current = |reports: &[crate::raft_loop::ReplicaReport]| {
            reports
                .iter()
                .find(|x| x.status.range_id == range)
                .map(|x| x.status.clone())
        };
        let Some(st) = current(&r.loop_handle.status(false).await) else {
            return Err(Status::not_found("range not on this node"));
        };
        let role_of = |st: &cairn_raft::ReplicaStatus, n: NodeId| {
            st.desc.replica_on(n).map(|d| {
                if st.conf_state.learners.contains(&d.replica_id) {
                    "learner"
                } else {
                    "voter"
                }
            })
        };
        let new_learners: Vec<NodeId> = req
            .add_voters
            .iter()
            .copied()
            .filter(|n| role_of(&st, *n).is_none())
            .collect();
        let to_promote: Vec<NodeId> = req
            .add_voters
            .iter()
            .copied()
            .filter(|n| role_of(&st, *n) != Some("voter"))
            .collect();
        let to_remove: Vec<NodeId> = req
            .remove
            .iter()
            .copied()
            .filter(|n| role_of(&st, *n).is_some())
            .collect();
        // 1. Learners.
        if !new_learners.is_empty() {
            let adds: Vec<MembershipChange> = new_learners
                .iter()
                .map(|&n| MembershipChange::AddLearner(n))
                .collect();
            r.loop_handle.membership(range, adds).await.map_err(fail)?;
        }
        // 2. Wait until they have caught up with the leader.
        if !to_promote.is_empty() {
            loop {
                let Some(st) = current(&r.loop_handle.status(false).await) else {
                    return Err(Status::not_found("range not on this node"));
                };
                let caught_up = to_promote.iter().all(|n| {
                    st.desc
                        .replica_on(*n)
                        .and_then(|d| st.progress.iter().find(|p| p.0 == d.replica_id))
                        .is_some_and(|p| p.1 + 10 >= st.commit)
                });
                if caught_up {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(Status::deadline_exceeded(
                        "new replicas did not catch up in 30 s",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // 3. Promote and remove in one joint change.
        let mut changes: Vec<MembershipChange> = to_promote
            .iter()
            .map(|&n| MembershipChange::AddVoter(n))
            .collect();
        changes.extend(to_remove.iter().map(|&n| MembershipChange::Remove(n)));
        if !changes.is_empty() {
            r.loop_handle
                .membership(range, changes)
                .await
                .map_err(fail)?;
        }
        Ok(Response::new(ChangeReplicasResponse {}))
    }

    async fn transfer_leader(
        &self,
        req: Request<TransferLeaderRequest>,
    ) -> Result<Response<TransferLeaderResponse>, Status> {
        let r = running(&self.shared)?;
        let req = req.into_inner();
        let (range, to) = (req.range_id, req.to_node);
        let leader_now = || r.routing.read().ranges.get(&range).and_then(|(_, l)| *l);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if leader_now() == Some(to) {
                let term = r
                    .loop_handle
                    .status(false)
                    .await
                    .iter()
                    .find(|x| x.status.range_id == range)
                    .map_or(0, |x| x.status.term);
                return Ok(Response::new(TransferLeaderResponse { term }));
            }
            if Instant::now() > deadline {
                return Err(Status::deadline_exceeded(format!(
                    "node {to} did not take over range {range} in 10 s"
                )));
            }
            if leader_now() == Some(r.node_id) {
                let (reply, rx) = tokio::sync::oneshot::channel();
                r.loop_handle.send(crate::raft_loop::Input::TransferLeader {
                    range,
                    to,
                    reply: Some(reply),
                });
                match rx.await {
                    Ok(Ok(())) => {}
                    Ok(Err(cairn_raft::ProposalError::Refused(why))) => {
                        return Err(Status::failed_precondition(why))
                    }
                    // Lost the lead meanwhile: look again.
                    Ok(Err(_)) | Err(_) => {}
                }
                // raft-rs gives up a transfer after an election timeout; try again after that.
                for _ in 0..30 {
                    if leader_now() != Some(r.node_id) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                continue;
            }
            match leader_now() {
                Some(l) if !req.forwarded => {
                    return self
                        .connect_node(l)
                        .await?
                        .transfer_leader(TransferLeaderRequest {
                            forwarded: true,
                            ..req
                        })
                        .await;
                }
                None if !r.routing.read().ranges.contains_key(&range) && !req.forwarded => {
                    return Err(Status::not_found(format!(
                        "range {range} has no replica on this node; ask a node that holds it"
                    )));
                }
                // No leader known yet, or forwarded to a node that no longer leads: wait.
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn nodes(&self, _: Request<NodesRequest>) -> Result<Response<NodesResponse>, Status> {
        Ok(Response::new(NodesResponse {
            nodes: self.address_table(),
        }))
    }

    async fn set_partition(
        &self,
        req: Request<SetPartitionRequest>,
    ) -> Result<Response<SetPartitionResponse>, Status> {
        self.fault_injection_on()?;
        let set = req.into_inner().isolated_from.into_iter().collect();
        *self.shared.faults.write() = set;
        Ok(Response::new(SetPartitionResponse {}))
    }

    async fn stall_loop(
        &self,
        req: Request<StallLoopRequest>,
    ) -> Result<Response<StallLoopResponse>, Status> {
        self.fault_injection_on()?;
        let millis = req.into_inner().millis;
        if millis > 60_000 {
            return Err(Status::invalid_argument("a stall is at most 60,000 ms"));
        }
        let r = crate::server::running(&self.shared)?;
        if !r
            .loop_handle
            .send(Input::Stall(std::time::Duration::from_millis(millis)))
        {
            return Err(Status::unavailable("node is stopping"));
        }
        Ok(Response::new(StallLoopResponse {}))
    }
}

//! The node service (`cairn.node.Node`): status, cluster init and bootstrap, membership.
//!
//! `Init` (what `cairn init --host` calls) runs on one node started with `--join`: it asks
//! every peer in its join list for its status (each must be up and uninitialized), numbers the
//! nodes (itself 1, then the join list's order), builds the range layout and sends every node,
//! itself included, a `Bootstrap` with its id, all addresses and the layout.
//!
//! `ChangeReplicas` moves a range's replicas: new nodes join as learners, then one joint
//! change promotes them and removes the old ones (it runs on the range's leader).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_proto::node::node_client::NodeClient;
use cairn_proto::node::node_server::Node;
use cairn_proto::node::{
    BootstrapRequest, BootstrapResponse, ChangeReplicasRequest, ChangeReplicasResponse,
    InitRequest, InitResponse, JoinRequest, JoinResponse, NodeInfo, RangeInfo, ReplicaInfo,
    ReplicaStatus, SetPartitionRequest, SetPartitionResponse, StatusRequest, StatusResponse,
};
use cairn_raft::{MembershipChange, NodeId, RangeDescriptor, ReplicaDescriptor};
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

fn descriptor(r: &RangeInfo) -> RangeDescriptor {
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
        let mut nodes: Vec<NodeInfo> = self
            .shared
            .addrs
            .read()
            .iter()
            .map(|(id, a)| NodeInfo {
                node_id: *id,
                grpc_addr: a.clone(),
            })
            .collect();
        nodes.sort_by_key(|n| n.node_id);
        resp.nodes = nodes;
        if let Some(r) = self.shared.running.get() {
            resp.node_id = r.node_id;
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

    async fn join(&self, _req: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        Err(Status::unimplemented(
            "joining a running cluster is not supported yet: start every node with --join and run `cairn init`",
        ))
    }

    async fn change_replicas(
        &self,
        req: Request<ChangeReplicasRequest>,
    ) -> Result<Response<ChangeReplicasResponse>, Status> {
        let r = running(&self.shared)?;
        let req = req.into_inner();
        let range = req.range_id;
        let deadline = Instant::now() + Duration::from_secs(30);
        let fail = |e: cairn_raft::ProposalError| Status::failed_precondition(e.to_string());
        // 1. Learners.
        if !req.add_voters.is_empty() {
            let adds: Vec<MembershipChange> = req
                .add_voters
                .iter()
                .map(|&n| MembershipChange::AddLearner(n))
                .collect();
            r.loop_handle.membership(range, adds).await.map_err(fail)?;
            // 2. Wait until they have caught up with the leader.
            loop {
                let reports = r.loop_handle.status(false).await;
                let Some(me) = reports.iter().find(|x| x.status.range_id == range) else {
                    return Err(Status::not_found("range not on this node"));
                };
                let caught_up = req.add_voters.iter().all(|n| {
                    me.status
                        .desc
                        .replica_on(*n)
                        .and_then(|d| me.status.progress.iter().find(|p| p.0 == d.replica_id))
                        .is_some_and(|p| p.1 + 10 >= me.status.commit)
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
        let mut changes: Vec<MembershipChange> = req
            .add_voters
            .iter()
            .map(|&n| MembershipChange::AddVoter(n))
            .collect();
        changes.extend(req.remove.iter().map(|&n| MembershipChange::Remove(n)));
        if !changes.is_empty() {
            r.loop_handle
                .membership(range, changes)
                .await
                .map_err(fail)?;
        }
        Ok(Response::new(ChangeReplicasResponse {}))
    }

    async fn set_partition(
        &self,
        req: Request<SetPartitionRequest>,
    ) -> Result<Response<SetPartitionResponse>, Status> {
        if !self.shared.cfg.fault_injection {
            return Err(Status::permission_denied(
                "fault injection is off (start the node with --fault-injection)",
            ));
        }
        let set = req.into_inner().isolated_from.into_iter().collect();
        *self.shared.faults.write() = set;
        Ok(Response::new(SetPartitionResponse {}))
    }
}

//! The node's Raft loop: one OS thread owns the [`RaftNode`] and everything reaches it through
//! a channel of [`Input`]s.
//!
//! Each turn: wait for inputs until the next tick is due (10 ms ticks), take every queued
//! input, tick if due, run `handle_ready` (one synced write for all ranges), hand messages to
//! the transport (which never blocks the loop) and answer the clients whose proposals or reads
//! completed. Replies go through tokio oneshot channels, so async gRPC handlers can await them.
//!
//! A linearizable read is answered here, right after its ReadIndex (or lease) completes, by
//! reading the applied state: nothing can be applied between the completion and the read.
//! Every turn is marked in [`crate::busy::Busy`] (a long one makes the node send busy notices
//! to its peers), and before each tick the driver is told which peers are busy. A turn of
//! [`SLOW_TURN`] or more is logged.
//!
//! After each turn the loop publishes a [`RoutingView`] (every local replica's descriptor and
//! leader) for the gRPC handlers to route with.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_raft::kv::KvStateMachine;
use cairn_raft::{
    keys, Completion, Engine, MembershipChange, NodeId, ProposalError, RaftMessage, RaftNode,
    RangeDescriptor, RangeId, ReplicaStatus,
};
use parking_lot::RwLock;
use tokio::sync::oneshot;

/// A turn (log write plus apply) at least this long is logged: peers heard nothing from this
/// node meanwhile, and an election timeout is 150 ms.
const SLOW_TURN: Duration = Duration::from_millis(100);

pub type Reply<T> = oneshot::Sender<Result<T, ProposalError>>;

/// A read served after a linearizable confirmation.
#[derive(Debug)]
pub enum ReadKind {
    Get(Vec<u8>),
    /// Engine-independent user keys `[start, end)`, at most `limit` pairs.
    Scan {
        start: Vec<u8>,
        end: Vec<u8>,
        limit: usize,
    },
    /// Nothing is read: the answer is the term in which leadership was confirmed, once the
    /// replica has applied everything committed before (the replicated MVCC database's
    /// barrier).
    Barrier,
}

#[derive(Debug)]
pub enum ReadResult {
    Value(Option<Vec<u8>>),
    Pairs {
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        more: bool,
    },
    Term(u64),
}

/// A replica's status plus, when asked, a checksum of its applied data.
#[derive(Debug, Clone)]
pub struct ReplicaReport {
    pub status: ReplicaStatus,
    pub data_checksum: u32,
    pub data_keys: u64,
}

pub enum Input {
    Message(RaftMessage),
    Propose {
        range: RangeId,
        command: Vec<u8>,
        reply: Reply<Vec<u8>>,
    },
    Read {
        range: RangeId,
        kind: ReadKind,
        reply: Reply<ReadResult>,
    },
    Membership {
        range: RangeId,
        changes: Vec<MembershipChange>,
        reply: Reply<Vec<u8>>,
    },
    /// Hands leadership to the replica on `to`; the reply (if any) says whether the
    /// transfer started (it completes when `to` is elected).
    TransferLeader {
        range: RangeId,
        to: NodeId,
        reply: Option<Reply<()>>,
    },
    ReportSnapshot {
        range: RangeId,
        to: NodeId,
        delivered: bool,
    },
    /// Adds ranges bootstrapped into the engine since the node opened.
    LoadRanges(Vec<RangeId>),
    Status {
        checksums: bool,
        reply: oneshot::Sender<Vec<ReplicaReport>>,
    },
    /// Fault injection: the loop sleeps this long inside one turn, as a large apply or a
    /// stalled disk would hold it.
    Stall(Duration),
    Stop,
}

/// What the gRPC handlers route by: per local range, its descriptor and believed leader node.
#[derive(Debug, Default, Clone)]
pub struct RoutingView {
    pub ranges: BTreeMap<RangeId, (RangeDescriptor, Option<NodeId>)>,
}

/// Where the loop sends Raft messages.
pub trait Outbox: Send + 'static {
    fn send(&self, m: RaftMessage);
}

enum Waiter {
    Proposal(Reply<Vec<u8>>),
    Read(ReadKind, RangeId, Reply<ReadResult>),
}

pub struct LoopConfig {
    pub tick: Duration,
    /// Where turns are marked and peers' busy notices read (`busy.rs`).
    pub busy: Arc<crate::busy::Busy>,
}

/// Runs the loop until [`Input::Stop`] or every sender is gone. Returns an error if the node
/// must stop (its engine failed).
pub fn run<O: Outbox>(
    mut node: RaftNode<KvStateMachine>,
    inputs: Receiver<Input>,
    outbox: O,
    routing: Arc<RwLock<RoutingView>>,
    cfg: LoopConfig,
) -> cairn_raft::Result<()> {
    let mut next_tick = Instant::now() + cfg.tick;
    let mut waiters: BTreeMap<u64, Waiter> = BTreeMap::new();
    let mut next_id: u64 = 1;
    let mut last_epoch = 0u64;
    loop {
        let now = Instant::now();
        let mut batch = Vec::new();
        match inputs.recv_timeout(next_tick.saturating_duration_since(now)) {
            Ok(i) => batch.push(i),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        cfg.busy.begin_turn();
        while batch.len() < 4096 {
            match inputs.try_recv() {
                Ok(i) => batch.push(i),
                Err(_) => break,
            }
        }
        for input in batch {
            match input {
                Input::Stop => return Ok(()),
                Input::Message(m) => node.step(m)?,
                Input::Propose {
                    range,
                    command,
                    reply,
                } => {
                    let id = next_id;
                    next_id += 1;
                    match node.propose(range, id, command) {
                        Ok(()) => {
                            waiters.insert(id, Waiter::Proposal(reply));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
                Input::Read { range, kind, reply } => {
                    let id = next_id;
                    next_id += 1;
                    match node.read(range, id) {
                        Ok(()) => {
                            waiters.insert(id, Waiter::Read(kind, range, reply));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
                Input::Membership {
                    range,
                    changes,
                    reply,
                } => {
                    let id = next_id;
                    next_id += 1;
                    match node.propose_membership(range, id, &changes) {
                        Ok(()) => {
                            waiters.insert(id, Waiter::Proposal(reply));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
                Input::TransferLeader { range, to, reply } => {
                    let started = node.transfer_leader(range, to);
                    if let Some(reply) = reply {
                        let _ = reply.send(started);
                    }
                }
                Input::ReportSnapshot {
                    range,
                    to,
                    delivered,
                } => node.report_snapshot(range, to, delivered),
                Input::LoadRanges(ranges) => {
                    for r in ranges {
                        if node.status(r).is_none() {
                            node.load_range(r)?;
                        }
                    }
                }
                Input::Status { checksums, reply } => {
                    let _ = reply.send(status(&node, checksums)?);
                }
                Input::Stall(d) => std::thread::sleep(d),
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            let late = now - next_tick;
            if late >= SLOW_TURN {
                tracing::debug!(
                    late_ms = u64::try_from(late.as_millis()).unwrap_or(u64::MAX),
                    "raft tick late"
                );
            }
            node.set_busy_peers(cfg.busy.busy_peers());
            node.tick();
            next_tick += cfg.tick;
            if next_tick < now {
                next_tick = now + cfg.tick;
            }
        }
        let started = Instant::now();
        let out = node.handle_ready_sending(&mut |early| {
            for m in early {
                outbox.send(m);
            }
        })?;
        let took = started.elapsed();
        if took >= SLOW_TURN {
            tracing::warn!(
                took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                appended_bytes = out.appended_bytes,
                applied_entries = out.applied_entries,
                applied_bytes = out.applied_bytes,
                "slow raft turn: the node answered no peer meanwhile"
            );
        }
        for m in out.messages {
            outbox.send(m);
        }
        for c in out.completions {
            match c {
                Completion::Proposal { id, result, .. } => {
                    if let Some(Waiter::Proposal(reply)) = waiters.remove(&id) {
                        let _ = reply.send(result);
                    }
                }
                Completion::Read { id, result, .. } => {
                    if let Some(Waiter::Read(kind, range, reply)) = waiters.remove(&id) {
                        let answer = match result {
                            Ok(()) => Ok(serve_read(&node, range, kind)?),
                            Err(e) => Err(e),
                        };
                        let _ = reply.send(answer);
                    }
                }
            }
        }
        // Publish routing when leaders or descriptors may have changed.
        if node.routing_epoch() != last_epoch {
            let mut v = RoutingView::default();
            for r in node.ranges() {
                if let Some((desc, leader)) = node.route(r) {
                    v.ranges.insert(r, (desc.clone(), leader));
                }
            }
            *routing.write() = v;
            last_epoch = node.routing_epoch();
        }
        cfg.busy.end_turn();
    }
}

fn serve_read(
    node: &RaftNode<KvStateMachine>,
    range: RangeId,
    kind: ReadKind,
) -> cairn_raft::Result<ReadResult> {
    let engine = node.engine();
    match kind {
        ReadKind::Barrier => Ok(ReadResult::Term(node.term(range).unwrap_or(0))),
        ReadKind::Get(key) => Ok(ReadResult::Value(cairn_raft::kv::get(
            engine.as_ref(),
            &key,
        )?)),
        ReadKind::Scan { start, end, limit } => {
            let Some(st) = node.status(range) else {
                return Ok(ReadResult::Pairs {
                    pairs: Vec::new(),
                    more: false,
                });
            };
            let (span_start, span_end) = keys::data_span(&st.desc);
            let s = keys::data(&start).max(span_start);
            let e = if end.is_empty() {
                span_end
            } else {
                keys::data(&end).min(span_end)
            };
            let mut pairs = Vec::new();
            let mut more = false;
            engine.scan(&s, &e, &mut |k, v| {
                if pairs.len() >= limit {
                    more = true;
                    return false;
                }
                if let Some(user) = keys::user_key(k) {
                    pairs.push((user.to_vec(), v.to_vec()));
                }
                true
            })?;
            Ok(ReadResult::Pairs { pairs, more })
        }
    }
}

fn status(
    node: &RaftNode<KvStateMachine>,
    checksums: bool,
) -> cairn_raft::Result<Vec<ReplicaReport>> {
    let mut out = Vec::new();
    for r in node.ranges().collect::<Vec<_>>() {
        let Some(status) = node.status(r) else {
            continue;
        };
        let (mut crc, mut n) = (0u32, 0u64);
        if checksums {
            let (s, e) = keys::data_span(&status.desc);
            let mut h = Vec::new();
            node.engine().scan(&s, &e, &mut |k, v| {
                h.clear();
                h.extend_from_slice(&(k.len() as u64).to_le_bytes());
                h.extend_from_slice(k);
                h.extend_from_slice(v);
                crc = cairn_codec::crc::crc32c(&[&crc.to_le_bytes()[..], &h].concat());
                n += 1;
                true
            })?;
        }
        out.push(ReplicaReport {
            status,
            data_checksum: crc,
            data_keys: n,
        });
    }
    Ok(out)
}

/// A handle to send inputs to the loop.
#[derive(Clone)]
pub struct LoopHandle {
    tx: Sender<Input>,
}

impl LoopHandle {
    pub fn new(tx: Sender<Input>) -> Self {
        Self { tx }
    }

    /// Queues an input; false when the loop has stopped.
    pub fn send(&self, input: Input) -> bool {
        self.tx.send(input).is_ok()
    }

    pub async fn propose(
        &self,
        range: RangeId,
        command: Vec<u8>,
    ) -> Result<Vec<u8>, ProposalError> {
        let (reply, rx) = oneshot::channel();
        if !self.send(Input::Propose {
            range,
            command,
            reply,
        }) {
            return Err(ProposalError::RangeNotFound(range));
        }
        rx.await.unwrap_or(Err(ProposalError::Ambiguous))
    }

    pub async fn read(&self, range: RangeId, kind: ReadKind) -> Result<ReadResult, ProposalError> {
        let (reply, rx) = oneshot::channel();
        if !self.send(Input::Read { range, kind, reply }) {
            return Err(ProposalError::RangeNotFound(range));
        }
        rx.await.unwrap_or(Err(ProposalError::ReadTimeout))
    }

    pub async fn membership(
        &self,
        range: RangeId,
        changes: Vec<MembershipChange>,
    ) -> Result<Vec<u8>, ProposalError> {
        let (reply, rx) = oneshot::channel();
        if !self.send(Input::Membership {
            range,
            changes,
            reply,
        }) {
            return Err(ProposalError::RangeNotFound(range));
        }
        rx.await.unwrap_or(Err(ProposalError::Ambiguous))
    }

    pub async fn status(&self, checksums: bool) -> Vec<ReplicaReport> {
        let (reply, rx) = oneshot::channel();
        if !self.send(Input::Status { checksums, reply }) {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

/// The engine as the loop's owner shares it (for bootstrap writes before the loop starts).
pub type SharedEngine = Arc<dyn Engine>;

//! The multi-Raft driver: one node's replicas of many ranges, each a raft-rs group, driven from
//! one loop.
//!
//! The driver is synchronous and deterministic: it has no threads, no clock and no sockets. Its
//! owner (the node server, or the simulator) calls [`RaftNode::tick`] every tick interval,
//! [`RaftNode::step`] for each message from a peer, [`RaftNode::propose`] / [`RaftNode::read`]
//! for clients, then [`RaftNode::handle_ready`] (or [`RaftNode::handle_ready_sending`]) and
//! sends the returned messages. Given the same
//! calls in the same order and the same seed it does the same thing (raft-rs draws election
//! timeouts from the thread RNG; the driver replaces every draw with one from its seeded RNG).
//!
//! One turn of `handle_ready`:
//! 1. collect `Ready` from every replica that has one; messages that may go before persisting
//!    are handed to the owner at once ([`RaftNode::handle_ready_sending`]);
//! 2. stage snapshots, log entries and hard states of **all** replicas into one batch and write
//!    it with **one sync**;
//! 3. hand out the messages that waited for the write (a follower's acknowledgements, votes);
//! 4. per replica: apply committed entries (state machine writes go to a second batch),
//!    `advance`, apply the LightReady's entries, compact the log;
//! 5. write the apply batch (data + apply states + log truncation) **without** a sync. After a
//!    crash the engine keeps a prefix of writes (see `engine`), so the apply state on disk never
//!    claims more than the data on disk, and the log is re-applied from it.
//!
//! **Quiescence.** An idle range costs nothing: a leader whose every replica has its whole log
//! (committed and applied, nothing pending, no recent reads, every follower's node heard from
//! lately) sends each follower a heartbeat carrying [`QUIESCE_CONTEXT`] and stops ticking. A
//! follower that receives it with a log ending exactly at the leader's commit stops ticking too.
//! Any other message, proposal, read or membership change wakes a replica. So that a follower
//! notices a dead leader, nodes exchange one node-level heartbeat per peer every heartbeat
//! interval (range id [`NODE_HEARTBEAT_RANGE`]); a quiesced replica whose leader's node (or, on a
//! leader, any follower's node) has been silent for an election timeout wakes up, and Raft's
//! own timers take over. A quiesced follower ticks less than a live one, so it grants votes
//! later, never earlier: leases stay safe.
//!
//! **Busy peers.** A node whose loop spends long in one turn (a large entry written or applied,
//! a stalled disk) sends nothing meanwhile, and its peers would take the silence for a death:
//! followers would campaign against a leader that is only busy, and a leader would step down
//! (check-quorum) from followers that are only busy. The owner may tell the driver which peer
//! nodes are known to be alive but busy ([`RaftNode::set_busy_peers`], from notices the peer's
//! transport sends while its loop is stuck, and only for a bounded time). While a node is busy:
//! a follower does not advance the election timer of a replica whose leader is on it (it
//! grants votes later, never earlier, so leases stay safe), a leader counts its replicas on it
//! as recently active, and it counts as heard from for quiescence. Without such notices (the
//! simulator) nothing changes.
//!
//! Proposals are matched to their outcome by (index, term): the entry a leader appended at
//! propose time. If the entry that commits at that index has another term, the proposal was
//! overwritten and is reported `Dropped` (it will never apply); an entry skipped by a snapshot
//! or a replica destroyed is reported `Ambiguous`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry,
    EntryType, Message, MessageType,
};
use raft::{RawNode, ReadOnlyOption, StateRole};

use crate::engine::{Batch, Engine};
use crate::error::{Error, ProposalError, Result};
use crate::keys;
use crate::logger::raft_logger;
use crate::sm::{ApplyContext, Overlay, StateMachine};
use crate::state::encode_pb;
use crate::storage::PeerStorage;
use crate::types::{NodeId, RangeDescriptor, RangeId, ReplicaDescriptor, ReplicaId};

pub type ProposalId = u64;
pub type ReadId = u64;

/// The context of the heartbeat with which a leader quiesces its followers.
pub const QUIESCE_CONTEXT: &[u8] = b"cairn/quiesce";
/// The context of the heartbeat that tells a replica it has been removed from its range: its
/// `index` carries the sender's descriptor generation.
pub const REMOVED_CONTEXT: &[u8] = b"cairn/removed";
/// Range id 0 is never a range: a message to it is a node-level liveness heartbeat.
pub const NODE_HEARTBEAT_RANGE: RangeId = 0;
/// Nor is `u64::MAX`: a message to it says that the sending node's loop is in the middle of a
/// long turn (see [`RaftNode::set_busy_peers`]). The node's transport consumes it; the driver
/// never sees one.
pub const NODE_BUSY_RANGE: RangeId = u64::MAX;
/// Ticks a leader's range must have been idle in a row before it quiesces.
const QUIET_TICKS: u32 = 2;

/// How a leader confirms it still leads before serving a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// ReadIndex: a heartbeat round to a quorum per batch of reads.
    ReadIndex,
    /// Leader lease (needs check-quorum): a leader that heard from a quorum within the election
    /// timeout serves reads at once. Assumes clocks tick at similar rates.
    Lease,
}

#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// Ticks without a leader before a follower campaigns; the timeout is drawn in
    /// `[election_tick, 2 × election_tick)`.
    pub election_tick: usize,
    pub heartbeat_tick: usize,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub read_mode: ReadMode,
    pub max_size_per_msg: u64,
    pub max_inflight_msgs: usize,
    /// Compact a log once it holds this many applied entries...
    pub log_compact_threshold: u64,
    /// ...keeping this many applied entries for followers that lag a little.
    pub log_keep_applied: u64,
    /// A leader also keeps every entry a follower still needs, unless that follower is more
    /// than this many entries behind the applied index: it gets a snapshot instead.
    pub log_max_lag: u64,
    /// A read whose ReadIndex has not come back in this many ticks fails (no effect).
    pub read_timeout_ticks: u64,
    /// A snapshot sent to a follower that has not been acknowledged in this many ticks is
    /// reported failed, so the leader sends another (a lost snapshot message would otherwise
    /// leave the follower behind forever). The transport reports delivery sooner.
    pub snapshot_timeout_ticks: u64,
    /// Report every applied entry in [`Output::applied`] (the simulator's checks).
    pub observe_applies: bool,
    /// Quiesce idle ranges (see the module header).
    pub quiesce: bool,
}

impl Default for RaftConfig {
    fn default() -> Self {
        // With a 10 ms tick: elections after 150–300 ms, heartbeats every 30 ms.
        Self {
            election_tick: 15,
            heartbeat_tick: 3,
            pre_vote: true,
            check_quorum: true,
            read_mode: ReadMode::Lease,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            log_compact_threshold: 2048,
            log_keep_applied: 512,
            log_max_lag: 16_384,
            read_timeout_ticks: 60,
            snapshot_timeout_ticks: 500,
            observe_applies: false,
            quiesce: true,
        }
    }
}

/// A Raft message between nodes: raft-rs's message (whose `from`/`to` are replica ids) and the
/// range and nodes it goes between.
#[derive(Debug, Clone)]
pub struct RaftMessage {
    pub range_id: RangeId,
    pub from_node: NodeId,
    pub to_node: NodeId,
    pub msg: Message,
}

/// A membership change, by node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// Add a replica on this node as a learner (it catches up without voting).
    AddLearner(NodeId),
    /// Promote the learner on this node, or add a new voting replica there.
    AddVoter(NodeId),
    /// Remove the replica on this node.
    Remove(NodeId),
}

/// The outcome of a proposal or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Proposal {
        id: ProposalId,
        range_id: RangeId,
        result: std::result::Result<Vec<u8>, ProposalError>,
    },
    /// The read may now be served from this replica's applied state.
    Read {
        id: ReadId,
        range_id: RangeId,
        result: std::result::Result<(), ProposalError>,
    },
}

/// An applied entry, reported when `observe_applies` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub range_id: RangeId,
    pub index: u64,
    pub term: u64,
    /// CRC-32C of the entry's type and data.
    pub digest: u32,
    /// True when this index was reached by installing a snapshot rather than an entry.
    pub snapshot: bool,
}

#[derive(Debug, Default)]
pub struct Output {
    pub messages: Vec<RaftMessage>,
    pub completions: Vec<Completion>,
    pub applied: Vec<Applied>,
    /// Whether this turn synced the engine.
    pub synced: bool,
    /// Bytes of log entries this turn wrote (for slow-turn reports).
    pub appended_bytes: usize,
    /// Entries this turn applied, and the bytes of their commands.
    pub applied_entries: usize,
    pub applied_bytes: usize,
}

/// One replica's view, for status pages and tests.
#[derive(Debug, Clone)]
pub struct ReplicaStatus {
    pub range_id: RangeId,
    pub replica_id: ReplicaId,
    pub role: StateRole,
    pub term: u64,
    pub leader: Option<ReplicaId>,
    pub leader_node: Option<NodeId>,
    pub commit: u64,
    pub applied: u64,
    pub last_index: u64,
    pub truncated_index: u64,
    pub conf_state: ConfState,
    pub desc: RangeDescriptor,
    pub initialized: bool,
    /// On a leader: each replica's matched index and replication state (probe, replicate,
    /// snapshot), in replica id order.
    pub progress: Vec<(ReplicaId, u64, String)>,
    /// Idle: neither ticking nor heartbeating until something wakes it.
    pub quiesced: bool,
}

#[derive(Debug)]
enum PendingKind {
    Command,
    ConfChange,
}

#[derive(Debug)]
struct Pending {
    id: ProposalId,
    index: u64,
    term: u64,
    kind: PendingKind,
}

#[derive(Debug)]
struct PendingRead {
    id: ReadId,
    ctx: Vec<u8>,
    started: u64,
    index: Option<u64>,
}

/// SplitMix64: a small seeded generator for election timeouts.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

struct Replica {
    id: ReplicaId,
    raw: RawNode<PeerStorage>,
    proposals: VecDeque<Pending>,
    reads: VecDeque<PendingRead>,
    rng: SplitMix,
    /// (term, role, leader) when the election timeout was last drawn.
    seen: Option<(u64, StateRole, u64)>,
    /// Nodes of replicas learned from incoming messages (replicas not yet in the descriptor).
    routes: BTreeMap<ReplicaId, NodeId>,
    /// Set when a conf change removed this replica; destroyed at the end of the turn.
    removed: bool,
    /// Snapshots sent by this leader and not yet acknowledged: replica → tick sent.
    snapshots_sent: BTreeMap<ReplicaId, u64>,
    /// Lease reads: this leader may serve reads without a heartbeat round until this node
    /// tick (exclusive); 0 = no lease.
    lease_until: u64,
    /// The node tick of the last client read (leases are renewed only for ranges being read).
    last_read_tick: u64,
    /// An outstanding lease renewal: its ReadIndex context and the tick it was sent.
    renewal: Option<(Vec<u8>, u64)>,
    /// Quiesced: not ticked; `handle_ready` skips it unless it stepped a quiesce heartbeat
    /// this turn (`RaftNode::fresh`).
    quiesced: bool,
    /// On a leader: consecutive ticks the range has been idle.
    quiet_ticks: u32,
}

impl Replica {
    /// Replaces raft-rs's randomly drawn election timeout by a seeded draw whenever raft-rs
    /// may have redrawn it (it does on every term, role or leader change).
    /// Returns true when the term, role or leader changed.
    fn fix_election_timeout(&mut self) -> bool {
        let raft = &mut self.raw.raft;
        let now = (raft.term, raft.state, raft.leader_id);
        let changed = self.seen != Some(now);
        if changed {
            self.seen = Some(now);
            // A new term, role or leader ends any lease.
            self.lease_until = 0;
            self.renewal = None;
            let min = raft.election_timeout();
            // Uniform in [min, 2·min), raft-rs's default range.
            let span = u64::try_from(min).unwrap_or(u64::MAX).max(1);
            let t = min + usize::try_from(self.rng.next() % span).unwrap_or(0);
            raft.set_randomized_election_timeout(t);
        }
        changed
    }

    fn node_of(&self, replica: ReplicaId) -> Option<NodeId> {
        self.raw
            .store()
            .desc()
            .replica(replica)
            .map(|r| r.node_id)
            .or_else(|| self.routes.get(&replica).copied())
    }

    fn leader(&self) -> Option<ReplicaId> {
        let l = self.raw.raft.leader_id;
        (l != raft::INVALID_ID).then_some(l)
    }

    /// Prepares a tick while some peer nodes are busy (see the module header). A leader
    /// counts its replicas on busy nodes as active, so check-quorum does not depose it. A
    /// follower whose leader is on a busy node skips the tick (true): its election timer
    /// stands still.
    fn hold_for_busy(&mut self, busy: &BTreeSet<NodeId>) -> bool {
        let on_busy = |r: &Self, id: ReplicaId| r.node_of(id).is_some_and(|n| busy.contains(&n));
        match self.raw.raft.state {
            StateRole::Leader => {
                let me = self.id;
                let ids: Vec<ReplicaId> = self
                    .raw
                    .raft
                    .prs()
                    .iter()
                    .map(|(&id, _)| id)
                    .filter(|&id| id != me && on_busy(self, id))
                    .collect();
                for id in ids {
                    if let Some(p) = self.raw.raft.mut_prs().get_mut(id) {
                        p.recent_active = true;
                    }
                }
                false
            }
            StateRole::Follower => self.leader().is_some_and(|l| on_busy(self, l)),
            StateRole::Candidate | StateRole::PreCandidate => false,
        }
    }

    /// Un-quiesces this replica (of `range`) and puts it back in the node's awake set: the
    /// one way to wake, so the set never misses an awake replica.
    fn wake(&mut self, range: RangeId, awake: &mut BTreeSet<RangeId>) {
        self.quiesced = false;
        self.quiet_ticks = 0;
        awake.insert(range);
    }

    /// Whether this leader's range is idle: every replica holds the whole log, committed and
    /// applied; nothing proposed, read, sent or changing; every follower's node heard from
    /// within `live_ticks`.
    fn idle_leader(&self, ticks: u64, live_ticks: u64, last_heard: &BTreeMap<NodeId, u64>) -> bool {
        let raft = &self.raw.raft;
        let last = raft.raft_log.last_index();
        let st = self.raw.store().apply_state();
        raft.state == StateRole::Leader
            && self.proposals.is_empty()
            && self.reads.is_empty()
            && self.renewal.is_none()
            && self.snapshots_sent.is_empty()
            && ticks.saturating_sub(self.last_read_tick) > live_ticks
            && raft.lead_transferee.is_none()
            && !raft.has_pending_conf()
            && st.conf_state.voters_outgoing.is_empty()
            && raft.raft_log.committed == last
            && st.applied_index == last
            && raft.commit_to_current_term()
            && raft.prs().iter().all(|(&id, pr)| {
                pr.matched == last
                    && (id == self.id
                        || self
                            .node_of(id)
                            .is_some_and(|n| heard_within(last_heard, n, ticks, live_ticks)))
            })
    }

    /// Whether a quiesced replica must wake because a node it depends on went silent: on a
    /// follower the leader's node, on a leader any follower's node.
    fn lost_contact(
        &self,
        me: NodeId,
        ticks: u64,
        live_ticks: u64,
        last_heard: &BTreeMap<NodeId, u64>,
    ) -> bool {
        let silent = |replica: ReplicaId| match self.node_of(replica) {
            Some(n) if n == me => false,
            Some(n) => !heard_within(last_heard, n, ticks, live_ticks),
            None => true,
        };
        if self.raw.raft.state == StateRole::Leader {
            self.raw
                .raft
                .prs()
                .iter()
                .any(|(&id, _)| id != self.id && silent(id))
        } else {
            self.leader().is_none_or(silent)
        }
    }
}

pub struct RaftNode<S> {
    node_id: NodeId,
    cfg: RaftConfig,
    engine: Arc<dyn Engine>,
    sm: S,
    seed: u64,
    replicas: BTreeMap<RangeId, Replica>,
    /// Ranges whose replica here was removed: the last replica id it had.
    tombstones: BTreeMap<RangeId, ReplicaId>,
    ticks: u64,
    /// Completions produced outside `handle_ready` (failed reads on tick, ...).
    early: Vec<Completion>,
    /// Messages produced outside `handle_ready` (quiesce and node heartbeats).
    outbound: Vec<RaftMessage>,
    /// The node tick at which a message last arrived from each node.
    last_heard: BTreeMap<NodeId, u64>,
    /// Bumped whenever a replica's leader or descriptor may have changed, or a replica came
    /// or went (see [`RaftNode::routing_epoch`]).
    routing_epoch: u64,
    /// Other nodes holding replicas of this node's ranges, as of `peers_epoch`.
    peers: BTreeSet<NodeId>,
    peers_epoch: u64,
    /// Times a leader here quiesced its range.
    quiesces: u64,
    /// Every range whose replica is not quiesced (and perhaps some that are, pruned each
    /// tick): ticks and `handle_ready` visit only these, so idle ranges cost nothing.
    /// Whatever wakes a replica adds its range.
    awake: BTreeSet<RangeId>,
    /// Quiesced replicas that stepped a quiesce heartbeat since the last `handle_ready`.
    fresh: Vec<RangeId>,
    /// Peer nodes silent for an election timeout as of the last tick.
    silent: BTreeSet<NodeId>,
    /// Peer nodes alive but busy in a long turn, as the owner last said.
    busy_peers: BTreeSet<NodeId>,
}

fn raft_config(cfg: &RaftConfig, id: ReplicaId, applied: u64) -> raft::Config {
    raft::Config {
        id,
        election_tick: cfg.election_tick,
        heartbeat_tick: cfg.heartbeat_tick,
        applied,
        max_size_per_msg: cfg.max_size_per_msg,
        max_inflight_msgs: cfg.max_inflight_msgs,
        check_quorum: cfg.check_quorum,
        pre_vote: cfg.pre_vote,
        // Leases are the driver's own (see `RaftNode::read`); raft-rs always confirms with a
        // heartbeat round. Its lease-based mode can serve stale reads: its leader checks
        // quorum contact only once per election timeout, so it can lead on for almost two
        // timeouts after losing contact while a new leader is elected after one (the nemesis
        // test caught this).
        read_only_option: ReadOnlyOption::Safe,
        ..Default::default()
    }
}

fn in_conf(cs: &ConfState, id: ReplicaId) -> bool {
    cs.voters.contains(&id)
        || cs.learners.contains(&id)
        || cs.voters_outgoing.contains(&id)
        || cs.learners_next.contains(&id)
}

/// Conf change context: the (replica, node) pairs the change adds.
fn encode_additions(adds: &[ReplicaDescriptor]) -> Vec<u8> {
    let mut out = Vec::new();
    cairn_codec::varint::put_u64(&mut out, adds.len() as u64);
    for r in adds {
        cairn_codec::varint::put_u64(&mut out, r.replica_id);
        cairn_codec::varint::put_u64(&mut out, r.node_id);
    }
    out
}

fn decode_additions(bytes: &[u8]) -> Option<Vec<ReplicaDescriptor>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut d = cairn_codec::Decoder::new(bytes);
    let n = d.varint_len("additions").ok()?;
    let mut out = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        let replica_id = d.varint_u64().ok()?;
        let node_id = d.varint_u64().ok()?;
        out.push(ReplicaDescriptor {
            replica_id,
            node_id,
        });
    }
    Some(out)
}

impl<S: StateMachine> RaftNode<S> {
    /// Opens the node's replicas from the engine. `seed` drives election timeouts.
    pub fn open(
        node_id: NodeId,
        engine: Arc<dyn Engine>,
        sm: S,
        cfg: RaftConfig,
        seed: u64,
    ) -> Result<Self> {
        let mut node = Self {
            node_id,
            cfg,
            engine,
            sm,
            seed,
            replicas: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            ticks: 0,
            early: Vec::new(),
            outbound: Vec::new(),
            last_heard: BTreeMap::new(),
            routing_epoch: 1,
            peers: BTreeSet::new(),
            peers_epoch: 0,
            quiesces: 0,
            awake: BTreeSet::new(),
            fresh: Vec::new(),
            silent: BTreeSet::new(),
            busy_peers: BTreeSet::new(),
        };
        let (s, e) = keys::tombstones_span();
        let mut tombstones = BTreeMap::new();
        node.engine.scan(&s, &e, &mut |k, v| {
            if let (Some(range), Ok(id)) = (keys::range_of(k), <[u8; 8]>::try_from(v)) {
                tombstones.insert(range, u64::from_be_bytes(id));
            }
            true
        })?;
        node.tombstones = tombstones;
        let (s, e) = keys::apply_states_span();
        let mut ranges = Vec::new();
        node.engine.scan(&s, &e, &mut |k, _| {
            if let Some(r) = keys::range_of(k) {
                ranges.push(r);
            }
            true
        })?;
        for range in ranges {
            let store = PeerStorage::load(node.engine.clone(), range)?;
            let Some(me) = store.desc().replica_on(node_id).copied() else {
                tracing::warn!(
                    range,
                    "replica state without this node in its descriptor; skipped"
                );
                continue;
            };
            node.insert_replica(me.replica_id, store)?;
        }
        Ok(node)
    }

    /// Writes the initial state of this node's replica of a new range (synced). Every node in
    /// `desc` must bootstrap the same descriptor before the range can elect a leader.
    pub fn bootstrap_range(engine: &dyn Engine, desc: &RangeDescriptor) -> Result<()> {
        let mut b = Batch::new();
        PeerStorage::bootstrap(&mut b, desc);
        engine.write(b, true)
    }

    /// Adds a bootstrapped range to a running node (after [`Self::bootstrap_range`]).
    pub fn load_range(&mut self, range_id: RangeId) -> Result<()> {
        let store = PeerStorage::load(self.engine.clone(), range_id)?;
        let me = store
            .desc()
            .replica_on(self.node_id)
            .copied()
            .ok_or(Error::RangeNotFound(range_id))?;
        self.insert_replica(me.replica_id, store)
    }

    fn insert_replica(&mut self, id: ReplicaId, store: PeerStorage) -> Result<()> {
        let range = store.range_id();
        let applied = store.apply_state().applied_index;
        let logger = raft_logger(self.node_id, range);
        let raw = RawNode::new(&raft_config(&self.cfg, id, applied), store, &logger)?;
        let mut r = Replica {
            id,
            raw,
            proposals: VecDeque::new(),
            reads: VecDeque::new(),
            rng: SplitMix(
                self.seed ^ range.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ id.rotate_left(32),
            ),
            seen: None,
            routes: BTreeMap::new(),
            removed: false,
            snapshots_sent: BTreeMap::new(),
            lease_until: 0,
            last_read_tick: 0,
            renewal: None,
            quiesced: false,
            quiet_ticks: 0,
        };
        r.fix_election_timeout();
        self.replicas.insert(range, r);
        self.awake.insert(range);
        self.routing_epoch += 1;
        Ok(())
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    pub fn ranges(&self) -> impl Iterator<Item = RangeId> + '_ {
        self.replicas.keys().copied()
    }

    pub fn status(&self, range: RangeId) -> Option<ReplicaStatus> {
        let r = self.replicas.get(&range)?;
        let store = r.raw.store();
        Some(ReplicaStatus {
            range_id: range,
            replica_id: r.id,
            role: r.raw.raft.state,
            term: r.raw.raft.term,
            leader: r.leader(),
            leader_node: r.leader().and_then(|l| r.node_of(l)),
            commit: r.raw.raft.raft_log.committed,
            applied: store.apply_state().applied_index,
            last_index: r.raw.raft.raft_log.last_index(),
            truncated_index: store.apply_state().truncated_index,
            conf_state: store.apply_state().conf_state.clone(),
            desc: store.desc().clone(),
            initialized: store.is_initialized(),
            progress: if r.raw.raft.state == StateRole::Leader {
                let mut p: Vec<(ReplicaId, u64, String)> = r
                    .raw
                    .raft
                    .prs()
                    .iter()
                    .map(|(&id, pr)| (id, pr.matched, format!("{:?}", pr.state)))
                    .collect();
                p.sort();
                p
            } else {
                Vec::new()
            },
            quiesced: r.quiesced,
        })
    }

    /// The current term of this node's replica of `range`.
    pub fn term(&self, range: RangeId) -> Option<u64> {
        Some(self.replicas.get(&range)?.raw.raft.term)
    }

    /// `range`'s descriptor and the node its replica here believes leads it (what routing
    /// needs, without building a whole [`ReplicaStatus`]).
    pub fn route(&self, range: RangeId) -> Option<(&RangeDescriptor, Option<NodeId>)> {
        let r = self.replicas.get(&range)?;
        Some((r.raw.store().desc(), r.leader().and_then(|l| r.node_of(l))))
    }

    /// Changes whenever any replica's leader or descriptor may have changed, or a replica was
    /// created or destroyed: a cheap test of whether a routing table needs rebuilding.
    pub fn routing_epoch(&self) -> u64 {
        self.routing_epoch
    }

    /// How many replicas here are quiesced, and how many times a leader here has quiesced its
    /// range since the node opened.
    pub fn quiescence(&self) -> (usize, u64) {
        (
            self.replicas.values().filter(|r| r.quiesced).count(),
            self.quiesces,
        )
    }

    /// Other nodes with replicas of this node's ranges (recomputed when descriptors change).
    fn peer_nodes(&mut self) -> &BTreeSet<NodeId> {
        if self.peers_epoch != self.routing_epoch {
            let me = self.node_id;
            self.peers = self
                .replicas
                .values()
                .flat_map(|r| {
                    r.raw
                        .store()
                        .desc()
                        .replicas
                        .iter()
                        .map(|d| d.node_id)
                        .chain(r.routes.values().copied())
                        .collect::<Vec<_>>()
                })
                .filter(|&n| n != me)
                .collect();
            self.peers_epoch = self.routing_epoch;
        }
        &self.peers
    }

    /// Advances every replica's logical clock by one tick.
    /// Sets the peer nodes known to be alive but busy in a long turn (see the module header);
    /// it holds until the next call.
    pub fn set_busy_peers(&mut self, peers: BTreeSet<NodeId>) {
        self.busy_peers = peers;
    }

    pub fn tick(&mut self) {
        self.ticks += 1;
        for &n in &self.busy_peers {
            self.last_heard.insert(n, self.ticks);
        }
        let timeout = self.cfg.read_timeout_ticks;
        let lease_mode = self.cfg.read_mode == ReadMode::Lease;
        let lease_ticks = self.lease_ticks();
        let election_tick = self.cfg.election_tick as u64;
        let quiesce = self.cfg.quiesce;
        if quiesce
            && self
                .ticks
                .is_multiple_of(self.cfg.heartbeat_tick.max(1) as u64)
        {
            self.send_node_heartbeats();
        }
        let me = self.node_id;
        if quiesce {
            self.wake_on_silence();
        }
        let mut asleep = Vec::new();
        for &range in &self.awake {
            let Some(r) = self.replicas.get_mut(&range) else {
                asleep.push(range);
                continue;
            };
            let ticks = self.ticks;
            if r.quiesced {
                asleep.push(range);
                continue;
            }
            if quiesce && r.idle_leader(ticks, election_tick, &self.last_heard) {
                r.quiet_ticks = r.quiet_ticks.saturating_add(1);
                if r.quiet_ticks >= QUIET_TICKS && !r.raw.has_ready() {
                    quiesce_followers(me, range, r, &mut self.outbound);
                    r.quiesced = true;
                    self.quiesces += 1;
                    asleep.push(range);
                    continue;
                }
            } else {
                r.quiet_ticks = 0;
            }
            if !self.busy_peers.is_empty() && r.hold_for_busy(&self.busy_peers) {
                continue;
            }
            r.raw.tick();
            if r.fix_election_timeout() {
                self.routing_epoch += 1;
            }
            // Renew the lease of a leader being read before it runs out.
            if lease_mode
                && r.raw.raft.state == StateRole::Leader
                && ticks.saturating_sub(r.last_read_tick) < election_tick
                && r.lease_until < ticks + lease_ticks / 2
                && r.renewal
                    .as_ref()
                    .is_none_or(|(_, sent)| ticks - sent > timeout)
            {
                let mut ctx = vec![0xFF];
                ctx.extend_from_slice(&ticks.to_be_bytes());
                r.raw.read_index(ctx.clone());
                r.renewal = Some((ctx, ticks));
            }
            if !r.snapshots_sent.is_empty() {
                let snapshot_timeout = self.cfg.snapshot_timeout_ticks;
                let leading = r.raw.raft.state == StateRole::Leader;
                let mut failed = Vec::new();
                r.snapshots_sent.retain(|&to, &mut sent| {
                    let waiting = leading
                        && r.raw
                            .raft
                            .prs()
                            .get(to)
                            .is_some_and(|p| p.state == raft::ProgressState::Snapshot);
                    if waiting && ticks.saturating_sub(sent) > snapshot_timeout {
                        failed.push(to);
                        return false;
                    }
                    waiting
                });
                for to in failed {
                    r.raw.report_snapshot(to, raft::SnapshotStatus::Failure);
                }
            }
            while let Some(front) = r.reads.front() {
                if front.index.is_none() && ticks.saturating_sub(front.started) > timeout {
                    if let Some(p) = r.reads.pop_front() {
                        self.early.push(Completion::Read {
                            id: p.id,
                            range_id: range,
                            result: Err(ProposalError::ReadTimeout),
                        });
                    }
                } else {
                    break;
                }
            }
        }
        for range in asleep {
            self.awake.remove(&range);
        }
    }

    /// Wakes the quiesced replicas that depend on a peer node that has just gone silent for
    /// an election timeout (see `Replica::lost_contact`). Runs each tick over the peers;
    /// scans the replicas only when a node newly falls silent.
    fn wake_on_silence(&mut self) {
        let ticks = self.ticks;
        let live_ticks = self.cfg.election_tick as u64;
        let peers: Vec<NodeId> = self.peer_nodes().iter().copied().collect();
        let silent: BTreeSet<NodeId> = peers
            .into_iter()
            .filter(|&n| !heard_within(&self.last_heard, n, ticks, live_ticks))
            .collect();
        let newly = silent.difference(&self.silent).next().is_some();
        self.silent = silent;
        if !newly {
            return;
        }
        tracing::debug!(silent = ?self.silent, ticks, "peer nodes silent for an election timeout");
        let me = self.node_id;
        for (&range, r) in self.replicas.iter_mut() {
            if r.quiesced && r.lost_contact(me, ticks, live_ticks, &self.last_heard) {
                r.wake(range, &mut self.awake);
            }
        }
    }

    /// Queues one liveness heartbeat to every peer node (see the module header).
    fn send_node_heartbeats(&mut self) {
        let me = self.node_id;
        let peers: Vec<NodeId> = self.peer_nodes().iter().copied().collect();
        for to_node in peers {
            let mut msg = Message::default();
            msg.msg_type = MessageType::MsgHeartbeat;
            self.outbound.push(RaftMessage {
                range_id: NODE_HEARTBEAT_RANGE,
                from_node: me,
                to_node,
                msg,
            });
        }
    }

    /// The transport's report on a snapshot it carried to the replica on node `to`: on failure
    /// the leader sends another later.
    pub fn report_snapshot(&mut self, range: RangeId, to: NodeId, delivered: bool) {
        let Some(r) = self.replicas.get_mut(&range) else {
            return;
        };
        let Some(target) = r.raw.store().desc().replica_on(to).map(|d| d.replica_id) else {
            return;
        };
        r.snapshots_sent.remove(&target);
        r.wake(range, &mut self.awake);
        let status = if delivered {
            raft::SnapshotStatus::Finish
        } else {
            raft::SnapshotStatus::Failure
        };
        r.raw.report_snapshot(target, status);
    }

    /// Makes this node's replica of `range` campaign now (bootstrap, tests).
    pub fn campaign(&mut self, range: RangeId) -> Result<()> {
        let r = self
            .replicas
            .get_mut(&range)
            .ok_or(Error::RangeNotFound(range))?;
        r.wake(range, &mut self.awake);
        r.raw.campaign()?;
        if r.fix_election_timeout() {
            self.routing_epoch += 1;
        }
        Ok(())
    }

    /// Asks the leader of `range` (this node) to hand leadership to the replica on `to`.
    pub fn transfer_leader(&mut self, range: RangeId, to: NodeId) -> Result<(), ProposalError> {
        let r = self
            .replicas
            .get_mut(&range)
            .ok_or(ProposalError::RangeNotFound(range))?;
        if r.raw.raft.state != StateRole::Leader {
            return Err(ProposalError::NotLeader { leader: r.leader() });
        }
        let target = r
            .raw
            .store()
            .desc()
            .replica_on(to)
            .map(|d| d.replica_id)
            .ok_or_else(|| {
                ProposalError::Refused(format!("node {to} has no replica of range {range}"))
            })?;
        if !r
            .raw
            .store()
            .apply_state()
            .conf_state
            .voters
            .contains(&target)
        {
            return Err(ProposalError::Refused(format!(
                "the replica of range {range} on node {to} is not a voter"
            )));
        }
        if target == r.id {
            return Ok(());
        }
        // The transferee may win at once (raft-rs lets it bypass followers' lease checks).
        r.lease_until = 0;
        r.wake(range, &mut self.awake);
        r.raw.transfer_leader(target);
        if r.fix_election_timeout() {
            self.routing_epoch += 1;
        }
        Ok(())
    }

    /// Steps a message from a peer. Messages for unknown ranges create an uninitialized
    /// replica when they come from a leader (append, heartbeat, snapshot); stale or
    /// misaddressed messages are dropped. Never fails on the message's content.
    pub fn step(&mut self, m: RaftMessage) -> Result<()> {
        if m.to_node != self.node_id {
            tracing::debug!(to = m.to_node, "message for another node dropped");
            return Ok(());
        }
        self.last_heard.insert(m.from_node, self.ticks);
        if m.range_id == NODE_HEARTBEAT_RANGE {
            return Ok(());
        }
        let range = m.range_id;
        let to = m.msg.to;
        if m.msg.msg_type == MessageType::MsgHeartbeat && m.msg.context.as_ref() == REMOVED_CONTEXT
        {
            // A member at a later generation says this replica is no longer in the range (see
            // `step`'s check of removed senders); it is destroyed at the end of the turn.
            if let Some(r) = self.replicas.get_mut(&range) {
                if r.id == to && r.raw.store().desc().generation < m.msg.index {
                    tracing::info!(range, replica = to, "removed from the range; destroying");
                    r.removed = true;
                    r.wake(range, &mut self.awake);
                }
            }
            return Ok(());
        }
        let creates = matches!(
            m.msg.msg_type,
            MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot
        );
        if let Some(&dead) = self.tombstones.get(&range) {
            if to <= dead {
                return Ok(());
            }
        }
        match self.replicas.get(&range) {
            Some(r) if r.id == to => {}
            Some(r) if to < r.id => return Ok(()),
            Some(r) => {
                // A newer replica id for this node: ours was removed and the node re-added.
                if !creates {
                    return Ok(());
                }
                let old = r.id;
                let mut b = Batch::new();
                self.destroy_replica(range, old, &mut b);
                self.engine.write(b, true)?;
                self.create_uninitialized(range, to)?;
            }
            None => {
                if !creates || to == raft::INVALID_ID {
                    return Ok(());
                }
                self.create_uninitialized(range, to)?;
            }
        }
        let Some(r) = self.replicas.get_mut(&range) else {
            return Ok(());
        };
        let from = m.msg.from;
        let desc = r.raw.store().desc();
        if r.raw.store().is_initialized()
            && from != raft::INVALID_ID
            && from < desc.next_replica_id
            && desc.replica(from).is_none()
        {
            // Replica ids are never reused, so a sender below the next id and absent from
            // this applied descriptor was removed for good: drop its message (it must not
            // disrupt or wake the range) and tell it.
            let mut msg = Message::default();
            msg.msg_type = MessageType::MsgHeartbeat;
            msg.to = from;
            msg.from = r.id;
            msg.index = desc.generation;
            msg.context = REMOVED_CONTEXT.to_vec().into();
            self.outbound.push(RaftMessage {
                range_id: range,
                from_node: self.node_id,
                to_node: m.from_node,
                msg,
            });
            return Ok(());
        }
        if r.routes.insert(m.msg.from, m.from_node) != Some(m.from_node) {
            self.routing_epoch += 1;
        }
        let quiesce = (self.cfg.quiesce
            && m.msg.msg_type == MessageType::MsgHeartbeat
            && m.msg.context.as_ref() == QUIESCE_CONTEXT)
            .then_some((m.msg.from, m.msg.term, m.msg.commit));
        if quiesce.is_some() {
            self.fresh.push(range);
        } else {
            r.wake(range, &mut self.awake);
        }
        if let Err(e) = r.raw.step(m.msg) {
            tracing::debug!(range, error = %e, "raft message refused");
        }
        if let Some((leader, term, commit)) = quiesce {
            let raft = &mut r.raw.raft;
            let caught_up = raft.state == StateRole::Follower
                && raft.term == term
                && raft.leader_id == leader
                && raft.raft_log.last_index() == commit
                && raft.raft_log.committed == commit;
            if caught_up {
                // The leader needs no answer: it has already stopped.
                raft.msgs.retain(|x| {
                    !(x.msg_type == MessageType::MsgHeartbeatResponse
                        && x.context.as_ref() == QUIESCE_CONTEXT)
                });
                r.quiesced = true;
            } else {
                // Refused: the answer reaches the leader and wakes it.
                r.wake(range, &mut self.awake);
            }
        }
        if r.fix_election_timeout() {
            self.routing_epoch += 1;
        }
        Ok(())
    }

    fn create_uninitialized(&mut self, range: RangeId, id: ReplicaId) -> Result<()> {
        // Persist who we are, so a vote cast before the first snapshot survives a restart.
        let desc = RangeDescriptor {
            range_id: range,
            replicas: vec![ReplicaDescriptor {
                replica_id: id,
                node_id: self.node_id,
            }],
            ..Default::default()
        };
        let state = crate::state::ApplyState {
            desc,
            ..Default::default()
        };
        let mut b = Batch::new();
        b.put(keys::apply_state(range), state.encode());
        self.engine.write(b, true)?;
        let store = PeerStorage::load(self.engine.clone(), range)?;
        self.insert_replica(id, store)
    }

    fn replica_for_client(
        &mut self,
        range: RangeId,
    ) -> std::result::Result<&mut Replica, ProposalError> {
        let r = self
            .replicas
            .get_mut(&range)
            .ok_or(ProposalError::RangeNotFound(range))?;
        if r.raw.raft.state != StateRole::Leader {
            return Err(ProposalError::NotLeader { leader: r.leader() });
        }
        r.wake(range, &mut self.awake);
        Ok(r)
    }

    /// Proposes a state machine command on this node's replica of `range`, which must lead.
    /// The outcome arrives as a [`Completion::Proposal`] with `id`.
    pub fn propose(
        &mut self,
        range: RangeId,
        id: ProposalId,
        command: Vec<u8>,
    ) -> std::result::Result<(), ProposalError> {
        if command.is_empty() {
            return Err(ProposalError::Refused("empty command".into()));
        }
        let r = self.replica_for_client(range)?;
        if r.raw.propose(Vec::new(), command).is_err() {
            return Err(ProposalError::NotLeader { leader: r.leader() });
        }
        let index = r.raw.raft.raft_log.last_index();
        let term = r.raw.raft.term;
        r.proposals.push_back(Pending {
            id,
            index,
            term,
            kind: PendingKind::Command,
        });
        Ok(())
    }

    /// Proposes membership changes of `range` (more than one → joint consensus, left
    /// automatically). Only one membership change can be in flight per range.
    pub fn propose_membership(
        &mut self,
        range: RangeId,
        id: ProposalId,
        changes: &[MembershipChange],
    ) -> std::result::Result<(), ProposalError> {
        let r = self.replica_for_client(range)?;
        if r.raw.raft.has_pending_conf()
            || !r
                .raw
                .store()
                .apply_state()
                .conf_state
                .voters_outgoing
                .is_empty()
        {
            return Err(ProposalError::Refused(
                "another membership change is in progress".into(),
            ));
        }
        let desc = r.raw.store().desc().clone();
        let cs = r.raw.store().apply_state().conf_state.clone();
        let mut next = desc.next_replica_id.max(
            desc.replicas
                .iter()
                .map(|d| d.replica_id)
                .max()
                .unwrap_or(0)
                + 1,
        );
        let mut singles = Vec::new();
        let mut adds = Vec::new();
        for c in changes {
            let mut s = ConfChangeSingle::default();
            match *c {
                MembershipChange::AddLearner(node) => {
                    if desc.replica_on(node).is_some() {
                        return Err(ProposalError::Refused(format!(
                            "node {node} already has a replica"
                        )));
                    }
                    adds.push(ReplicaDescriptor {
                        replica_id: next,
                        node_id: node,
                    });
                    s.change_type = ConfChangeType::AddLearnerNode;
                    s.node_id = next;
                    next += 1;
                }
                MembershipChange::AddVoter(node) => {
                    s.change_type = ConfChangeType::AddNode;
                    match desc.replica_on(node) {
                        Some(d) if cs.learners.contains(&d.replica_id) => s.node_id = d.replica_id,
                        Some(_) => {
                            return Err(ProposalError::Refused(format!(
                                "node {node} is already a voter"
                            )))
                        }
                        None => {
                            adds.push(ReplicaDescriptor {
                                replica_id: next,
                                node_id: node,
                            });
                            s.node_id = next;
                            next += 1;
                        }
                    }
                }
                MembershipChange::Remove(node) => {
                    let d = desc.replica_on(node).ok_or_else(|| {
                        ProposalError::Refused(format!(
                            "node {node} has no replica of range {range}"
                        ))
                    })?;
                    s.change_type = ConfChangeType::RemoveNode;
                    s.node_id = d.replica_id;
                }
            }
            singles.push(s);
        }
        let mut cc = ConfChangeV2::default();
        cc.transition = ConfChangeTransition::Auto;
        cc.set_changes(singles.into());
        cc.context = encode_additions(&adds).into();
        if r.raw.propose_conf_change(Vec::new(), cc).is_err() {
            return Err(ProposalError::NotLeader { leader: r.leader() });
        }
        let index = r.raw.raft.raft_log.last_index();
        let term = r.raw.raft.term;
        r.proposals.push_back(Pending {
            id,
            index,
            term,
            kind: PendingKind::ConfChange,
        });
        Ok(())
    }

    /// Starts a linearizable read on this node's replica of `range` (which must lead); when
    /// [`Completion::Read`] reports success, the applied state may be read.
    ///
    /// With [`ReadMode::Lease`], a leader holding a lease serves the read at its commit index
    /// without a heartbeat round. The lease: when a quorum acknowledges the heartbeats of a
    /// ReadIndex round started at tick `t`, each of those followers has reset its election
    /// timer after `t`, and raft-rs's followers (check-quorum) grant no vote until an election
    /// timeout after hearing from their leader; so no other leader can exist before
    /// `t + election_tick`. The lease runs to `t + election_tick - 2` ticks (a margin for
    /// clock rate differences), is renewed in the background while the range is being read,
    /// and ends with any change of term, role or leader, and when leadership is handed over.
    pub fn read(&mut self, range: RangeId, id: ReadId) -> std::result::Result<(), ProposalError> {
        let ticks = self.ticks;
        let lease_mode = self.cfg.read_mode == ReadMode::Lease;
        let r = self.replica_for_client(range)?;
        r.last_read_tick = ticks;
        if lease_mode && r.lease_until > ticks && r.raw.raft.commit_to_current_term() {
            let index = r.raw.raft.raft_log.committed;
            r.reads.push_back(PendingRead {
                id,
                ctx: Vec::new(),
                started: ticks,
                index: Some(index),
            });
            return Ok(());
        }
        let ctx = id.to_be_bytes().to_vec();
        r.raw.read_index(ctx.clone());
        r.reads.push_back(PendingRead {
            id,
            ctx,
            started: ticks,
            index: None,
        });
        Ok(())
    }

    fn lease_ticks(&self) -> u64 {
        (self.cfg.election_tick as u64).saturating_sub(2).max(1)
    }

    /// Persists, sends and applies whatever every replica has ready. See the module header.
    /// Every message is returned in `Output::messages`; [`Self::handle_ready_sending`] hands
    /// out those that may go before persisting earlier.
    pub fn handle_ready(&mut self) -> Result<Output> {
        let mut early = Vec::new();
        let mut out = self.handle_ready_sending(&mut |m| early.extend(m))?;
        early.append(&mut out.messages);
        out.messages = early;
        Ok(out)
    }

    /// [`Self::handle_ready`], but the messages that may go before this turn's log write
    /// (a leader's appends, heartbeats, votes granted earlier) are passed to `send` as soon
    /// as they are collected, before the sync and the apply: followers persist a new entry
    /// while the leader does, and learn a commit index while the leader applies, instead of
    /// waiting out both (a large entry's apply kept them waiting past their election timeout).
    /// `Output::messages` holds the rest, to send after it returns; sending those in order
    /// after the early ones keeps each peer's messages in the order Raft produced them.
    pub fn handle_ready_sending(
        &mut self,
        send: &mut dyn FnMut(Vec<RaftMessage>),
    ) -> Result<Output> {
        let mut out = Output {
            completions: std::mem::take(&mut self.early),
            messages: std::mem::take(&mut self.outbound),
            ..Default::default()
        };
        let node_id = self.node_id;
        let ticks = self.ticks;
        let lease_mode = self.cfg.read_mode == ReadMode::Lease;
        let lease_ticks = self.lease_ticks();
        let mut log_batch = Batch::new();
        let mut must_sync = false;
        let mut readies = Vec::new();
        // Only awake replicas, and quiesced ones that stepped a quiesce heartbeat, can have
        // anything ready.
        let fresh: BTreeSet<RangeId> = std::mem::take(&mut self.fresh).into_iter().collect();
        let visit: Vec<RangeId> = self.awake.union(&fresh).copied().collect();
        for &range in &visit {
            let Some(r) = self.replicas.get_mut(&range) else {
                continue;
            };
            if r.quiesced && !fresh.contains(&range) {
                continue;
            }
            if !r.raw.has_ready() {
                continue;
            }
            let mut rd = r.raw.ready();
            route(
                node_id,
                range,
                r,
                rd.take_messages(),
                &mut out.messages,
                ticks,
            );
            if !rd.snapshot().is_empty() {
                let snap = rd.snapshot().clone();
                r.raw.mut_store().stage_snapshot(&snap, &mut log_batch)?;
                must_sync = true;
                self.routing_epoch += 1;
                let idx = snap.get_metadata().index;
                while r.proposals.front().is_some_and(|p| p.index <= idx) {
                    if let Some(p) = r.proposals.pop_front() {
                        out.completions.push(Completion::Proposal {
                            id: p.id,
                            range_id: range,
                            result: Err(ProposalError::Ambiguous),
                        });
                    }
                }
                if self.cfg.observe_applies {
                    out.applied.push(Applied {
                        range_id: range,
                        index: idx,
                        term: snap.get_metadata().term,
                        digest: 0,
                        snapshot: true,
                    });
                }
                // The snapshot's descriptor may remove this replica (a stale snapshot).
                let cs = r.raw.store().apply_state().conf_state.clone();
                if !in_conf(&cs, r.id) {
                    r.removed = true;
                }
            }
            if !rd.entries().is_empty() {
                out.appended_bytes += rd.entries().iter().map(|e| e.data.len()).sum::<usize>();
                r.raw.mut_store().stage_append(rd.entries(), &mut log_batch);
                must_sync = true;
            }
            if let Some(hs) = rd.hs() {
                let hs = hs.clone();
                r.raw.mut_store().stage_hard_state(&hs, &mut log_batch);
                must_sync = true;
            }
            for rs in rd.take_read_states() {
                let mut confirmed_at = None;
                if let Some(p) = r
                    .reads
                    .iter_mut()
                    .find(|p| !p.ctx.is_empty() && p.ctx == rs.request_ctx.as_slice())
                {
                    p.index = Some(rs.index);
                    confirmed_at = Some(p.started);
                } else if r
                    .renewal
                    .as_ref()
                    .is_some_and(|(ctx, _)| ctx.as_slice() == rs.request_ctx.as_slice())
                {
                    confirmed_at = r.renewal.take().map(|(_, sent)| sent);
                }
                if let (true, Some(t)) = (lease_mode, confirmed_at) {
                    if r.raw.raft.state == StateRole::Leader {
                        r.lease_until = r.lease_until.max(t + lease_ticks);
                    }
                }
            }
            let committed = rd.take_committed_entries();
            readies.push((range, rd, committed));
        }
        if !out.messages.is_empty() {
            send(std::mem::take(&mut out.messages));
        }
        if !log_batch.is_empty() {
            self.engine.write(log_batch, must_sync)?;
            out.synced = must_sync;
        }

        // Messages that had to wait for the log write (a follower's append acknowledgements,
        // votes) leave now, before the apply: a follower applying a large entry still tells the
        // leader at once that it holds the next one.
        for (range, rd, _) in readies.iter_mut() {
            if let Some(r) = self.replicas.get_mut(range) {
                route(
                    node_id,
                    *range,
                    r,
                    rd.take_persisted_messages(),
                    &mut out.messages,
                    ticks,
                );
            }
        }
        if !out.messages.is_empty() {
            send(std::mem::take(&mut out.messages));
        }

        let mut apply_batch = Batch::new();
        let mut overlay = Overlay::new();
        for (range, rd, committed) in readies {
            let Some(r) = self.replicas.get_mut(&range) else {
                continue;
            };
            let generation = r.raw.store().desc().generation;
            apply_entries(
                &self.cfg,
                self.engine.as_ref(),
                &mut self.sm,
                range,
                r,
                committed,
                &mut apply_batch,
                &mut overlay,
                &mut out,
            )?;
            let mut light = r.raw.advance(rd);
            if let Some(commit) = light.commit_index() {
                r.raw.mut_store().stage_commit(commit, &mut apply_batch);
            }
            route(
                node_id,
                range,
                r,
                light.take_messages(),
                &mut out.messages,
                ticks,
            );
            let more = light.take_committed_entries();
            apply_entries(
                &self.cfg,
                self.engine.as_ref(),
                &mut self.sm,
                range,
                r,
                more,
                &mut apply_batch,
                &mut overlay,
                &mut out,
            )?;
            r.raw.advance_apply();
            if r.raw.store().desc().generation != generation {
                self.routing_epoch += 1;
            }
            let st = r.raw.store().apply_state();
            if st.applied_index.saturating_sub(st.truncated_index) >= self.cfg.log_compact_threshold
            {
                let to = compaction_point(&self.cfg, r);
                if to > st.truncated_index {
                    r.raw.mut_store().stage_compact(to, &mut apply_batch);
                }
            }
            if r.fix_election_timeout() {
                self.routing_epoch += 1;
            }
        }

        // Reads whose index has been applied; reads of replicas that stopped leading. (A
        // replica with reads is awake.)
        for &range in &visit {
            let Some(r) = self.replicas.get_mut(&range) else {
                continue;
            };
            if r.reads.is_empty() {
                continue;
            }
            let applied = r.raw.store().apply_state().applied_index;
            let leading = r.raw.raft.state == StateRole::Leader;
            let leader = r.leader();
            r.reads.retain(|p| match p.index {
                Some(i) if i <= applied => {
                    out.completions.push(Completion::Read {
                        id: p.id,
                        range_id: range,
                        result: Ok(()),
                    });
                    false
                }
                None if !leading => {
                    out.completions.push(Completion::Read {
                        id: p.id,
                        range_id: range,
                        result: Err(ProposalError::NotLeader { leader }),
                    });
                    false
                }
                _ => true,
            });
        }

        let removed: Vec<(RangeId, ReplicaId)> = visit
            .iter()
            .filter_map(|range| self.replicas.get(range).map(|r| (*range, r)))
            .filter(|(_, r)| r.removed)
            .map(|(range, r)| (range, r.id))
            .collect();
        for (range, id) in removed {
            if let Some(r) = self.replicas.get_mut(&range) {
                for p in r.proposals.drain(..) {
                    out.completions.push(Completion::Proposal {
                        id: p.id,
                        range_id: range,
                        result: Err(ProposalError::Ambiguous),
                    });
                }
                for p in r.reads.drain(..) {
                    out.completions.push(Completion::Read {
                        id: p.id,
                        range_id: range,
                        result: Err(ProposalError::RangeNotFound(range)),
                    });
                }
            }
            self.destroy_replica(range, id, &mut apply_batch);
        }
        if !apply_batch.is_empty() {
            self.engine.write(apply_batch, false)?;
        }
        Ok(out)
    }

    /// Stages the removal of a replica's log, states and data and writes its tombstone.
    fn destroy_replica(&mut self, range: RangeId, id: ReplicaId, batch: &mut Batch) {
        self.routing_epoch += 1;
        if let Some(r) = self.replicas.remove(&range) {
            let st = r.raw.store().apply_state();
            if r.raw.store().is_initialized() {
                let (s, e) = keys::data_span(&st.desc);
                batch.delete_range(s, e);
            }
            batch.delete_range(keys::entry(range, 0), keys::entry(range, u64::MAX));
            batch.delete(keys::entry(range, u64::MAX));
            batch.delete(keys::hard_state(range));
            batch.delete(keys::apply_state(range));
        }
        batch.put(keys::tombstone(range), id.to_be_bytes().to_vec());
        self.tombstones.insert(range, id);
    }
}

/// Whether a message arrived from `node` within `live_ticks` of node tick `ticks`.
fn heard_within(
    last_heard: &BTreeMap<NodeId, u64>,
    node: NodeId,
    ticks: u64,
    live_ticks: u64,
) -> bool {
    last_heard
        .get(&node)
        .is_some_and(|&t| ticks.saturating_sub(t) <= live_ticks)
}

/// Where to truncate `r`'s log: `log_keep_applied` entries behind the applied index, and on a
/// leader no further than any follower within `log_max_lag` of it has matched (a follower
/// that was down a while catches up from the log rather than a snapshot).
fn compaction_point(cfg: &RaftConfig, r: &Replica) -> u64 {
    let applied = r.raw.store().apply_state().applied_index;
    let mut to = applied.saturating_sub(cfg.log_keep_applied);
    if r.raw.raft.state == StateRole::Leader {
        let floor = applied.saturating_sub(cfg.log_max_lag);
        for (&id, pr) in r.raw.raft.prs().iter() {
            if id != r.id && pr.matched >= floor {
                to = to.min(pr.matched);
            }
        }
    }
    to
}

/// Queues the heartbeat that quiesces each follower of the idle leader `r`: its term and
/// commit index, with [`QUIESCE_CONTEXT`].
fn quiesce_followers(me: NodeId, range: RangeId, r: &Replica, out: &mut Vec<RaftMessage>) {
    let raft = &r.raw.raft;
    for (&id, pr) in raft.prs().iter() {
        if id == r.id {
            continue;
        }
        let Some(to_node) = r.node_of(id) else {
            continue;
        };
        let mut msg = Message::default();
        msg.msg_type = MessageType::MsgHeartbeat;
        msg.to = id;
        msg.from = r.id;
        msg.term = raft.term;
        // As raft-rs's own heartbeats: never beyond what the follower is known to hold.
        msg.commit = raft.raft_log.committed.min(pr.matched);
        msg.context = QUIESCE_CONTEXT.to_vec().into();
        out.push(RaftMessage {
            range_id: range,
            from_node: me,
            to_node,
            msg,
        });
    }
}

fn route(
    node_id: NodeId,
    range: RangeId,
    r: &mut Replica,
    msgs: Vec<Message>,
    out: &mut Vec<RaftMessage>,
    ticks: u64,
) {
    for msg in msgs {
        if msg.msg_type == MessageType::MsgSnapshot {
            r.snapshots_sent.insert(msg.to, ticks);
        }
        match r.node_of(msg.to) {
            Some(to_node) => out.push(RaftMessage {
                range_id: range,
                from_node: node_id,
                to_node,
                msg,
            }),
            None => tracing::debug!(range, to = msg.to, "no route to replica; message dropped"),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_entries<S: StateMachine>(
    cfg: &RaftConfig,
    engine: &dyn Engine,
    sm: &mut S,
    range: RangeId,
    r: &mut Replica,
    entries: Vec<Entry>,
    batch: &mut Batch,
    overlay: &mut Overlay,
    out: &mut Output,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    for e in entries {
        let applied = r.raw.store().apply_state().applied_index;
        if e.index <= applied {
            // Already applied (re-delivered after a snapshot); skip.
            continue;
        }
        out.applied_entries += 1;
        out.applied_bytes += e.data.len();
        let result: std::result::Result<Vec<u8>, ProposalError> = match e.entry_type {
            EntryType::EntryNormal if e.data.is_empty() => Ok(Vec::new()),
            EntryType::EntryNormal => {
                let desc = r.raw.store().desc().clone();
                let mut cx = ApplyContext {
                    engine,
                    overlay,
                    batch,
                    desc: &desc,
                    term: e.term,
                };
                Ok(sm.apply(&mut cx, e.index, &e.data)?)
            }
            EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => apply_conf_change(r, &e),
        };
        r.raw.mut_store().set_applied(e.index, e.term);
        if cfg.observe_applies {
            let mut digest_input = vec![e.entry_type as u8];
            digest_input.extend_from_slice(&e.data);
            out.applied.push(Applied {
                range_id: range,
                index: e.index,
                term: e.term,
                digest: cairn_codec::crc::crc32c(&digest_input),
                snapshot: false,
            });
        }
        while let Some(p) = r.proposals.front() {
            if p.index > e.index {
                break;
            }
            let Some(p) = r.proposals.pop_front() else {
                break;
            };
            let outcome = if p.index < e.index {
                Err(ProposalError::Ambiguous)
            } else if p.term != e.term {
                Err(ProposalError::Dropped)
            } else {
                match (&p.kind, e.entry_type) {
                    (PendingKind::ConfChange, EntryType::EntryNormal) => Err(
                        ProposalError::Refused("another membership change is in progress".into()),
                    ),
                    _ => result.clone(),
                }
            };
            out.completions.push(Completion::Proposal {
                id: p.id,
                range_id: range,
                result: outcome,
            });
        }
    }
    r.raw.store().stage_apply_state(batch);
    Ok(())
}

/// Applies a committed conf change: raft-rs's configuration, then the descriptor. Identical on
/// every replica (a change raft-rs refuses is refused everywhere).
fn apply_conf_change(r: &mut Replica, e: &Entry) -> std::result::Result<Vec<u8>, ProposalError> {
    let cc: ConfChangeV2 = match e.entry_type {
        EntryType::EntryConfChangeV2 => match ConfChangeV2::parse_from_bytes(&e.data) {
            Ok(cc) => cc,
            Err(err) => {
                return Err(ProposalError::Refused(format!(
                    "malformed conf change: {err}"
                )))
            }
        },
        _ => match raft::eraftpb::ConfChange::parse_from_bytes(&e.data) {
            Ok(v1) => {
                let mut single = ConfChangeSingle::default();
                single.change_type = v1.change_type;
                single.node_id = v1.node_id;
                let mut cc = ConfChangeV2::default();
                cc.set_changes(vec![single].into());
                cc.context = v1.context;
                cc
            }
            Err(err) => {
                return Err(ProposalError::Refused(format!(
                    "malformed conf change: {err}"
                )))
            }
        },
    };
    let cs = match r.raw.apply_conf_change(&cc) {
        Ok(cs) => cs,
        Err(err) => {
            return Err(ProposalError::Refused(format!(
                "conf change refused: {err}"
            )))
        }
    };
    let mut desc = r.raw.store().desc().clone();
    for add in decode_additions(&cc.context).unwrap_or_default() {
        if desc.replica(add.replica_id).is_none() {
            desc.replicas.push(add);
        }
        desc.next_replica_id = desc.next_replica_id.max(add.replica_id + 1);
    }
    desc.replicas.retain(|d| in_conf(&cs, d.replica_id));
    desc.replicas.sort();
    desc.generation += 1;
    if !in_conf(&cs, r.id) {
        r.removed = true;
    }
    r.raw.mut_store().set_conf(cs.clone(), desc);
    Ok(encode_pb(&cs))
}

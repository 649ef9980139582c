//! A whole Raft cluster in one process, on virtual time.
//!
//! Each node is a real [`RaftNode`] over a [`MemEngine`]; the network is a queue of messages
//! with seeded delays (so reordering), loss, duplication, and directed link blocks
//! (asymmetric partitions). Crashes drop a node's in-memory state and a random suffix of its
//! unsynced engine writes, then reopen it from what survived. Clients issue register
//! operations (read, write, compare-and-set) against whichever node they believe leads, and
//! record a history in the format of `shared/conformance/history-format.md`.
//!
//! Time advances in 1 ms steps. In each step, in this fixed order: due messages are delivered
//! (by delivery time, then send order), nodes whose tick is due tick, faults and clients act,
//! then every live node runs `handle_ready` and its messages enter the network. Everything
//! random comes from one [`Rng`] seeded by the run's seed, and nodes and ranges are visited in
//! id order, so a seed replays exactly (the report's `trace_hash` proves it).
//!
//! Checked throughout (any breach is a violation in the report):
//! - **election safety**: at most one leader per (range, term);
//! - **state machine safety**: every replica applies, at each index of a range, the same entry
//!   (term and digest) as every other replica, and applies indexes in order without gaps
//!   (except by installing a snapshot);
//!
//! and at the end, once faults are healed and crashed nodes restarted:
//! - **convergence** within `converge_ms` of virtual time: each range has a leader, every
//!   replica in its descriptor has applied the leader's commit index, and all replicas hold
//!   byte-identical data and the same descriptor;
//! - **quiescence** (when the Raft config quiesces): within `quiesce_ms` after that, with no
//!   client or membership traffic, every replica of every range is quiesced.
//!
//! In half the seeds (`idle_windows`) the clients pause every other 1.5 s of the fault phase,
//! so ranges quiesce and then meet crashes and partitions while idle.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use cairn_raft::kv::{self, Command, Response};
use cairn_raft::{
    Applied, Completion, Engine, MemEngine, MembershipChange, NodeId, ProposalError, RaftConfig,
    RaftMessage, RaftNode, RangeDescriptor, RangeId, ReadMode, ReplicaDescriptor, StateRole,
};

use crate::rng::Rng;

/// Network faults of the fault phase.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Mean virtual time between crashes (0 = no crashes).
    pub crash_every_ms: u64,
    /// Mean virtual time between partitions (0 = none).
    pub partition_every_ms: u64,
    /// Crash with loss of unsynced writes (a random suffix of them).
    pub lose_unsynced: bool,
    /// A broken disk, to show the checks catch what it breaks: a crash rolls the node back to
    /// its durable state of up to this many ms earlier, losing synced writes (0 = off).
    pub amnesia_ms: u64,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    /// Nodes that start with a replica of every range.
    pub nodes: u64,
    /// Extra nodes with no replicas, for membership changes.
    pub spare_nodes: u64,
    /// `[start, end)` of each range (empty end = unbounded).
    pub ranges: Vec<(Vec<u8>, Vec<u8>)>,
    pub fault_ms: u64,
    pub converge_ms: u64,
    pub clients: usize,
    pub keys_per_range: usize,
    pub tick_ms: u64,
    pub op_timeout_ms: u64,
    pub faults: Faults,
    /// Move range 1 from one node to a spare node (learner, then joint promote + remove).
    pub membership: bool,
    /// Clients pause every other `IDLE_WINDOW_MS` of the fault phase.
    pub idle_windows: bool,
    /// After converging, every replica must be quiesced within this much virtual time.
    pub quiesce_ms: u64,
    pub raft: RaftConfig,
}

/// Length of the clients' busy and idle windows (with `idle_windows`).
const IDLE_WINDOW_MS: u64 = 1_500;

impl SimConfig {
    /// The configuration of a seed: fault rates, read mode, log compaction and membership
    /// changes vary with the seed so that a run of many seeds covers the combinations.
    pub fn for_seed(seed: u64) -> Self {
        let mut r = Rng::new(seed.rotate_left(17) ^ 0xA5A5);
        let raft = RaftConfig {
            read_mode: if r.chance(0.5) {
                ReadMode::Lease
            } else {
                ReadMode::ReadIndex
            },
            // Small logs so followers that fall behind need snapshots.
            log_compact_threshold: r.range(20, 200),
            log_keep_applied: r.range(0, 10),
            // Small enough that followers down for a while get snapshots.
            log_max_lag: r.range(0, 300),
            observe_applies: true,
            snapshot_timeout_ticks: 100,
            ..RaftConfig::default()
        };
        let max_delay_ms = r.range(2, 40);
        let mut cfg = Self {
            seed,
            nodes: 3,
            spare_nodes: 1,
            ranges: vec![(Vec::new(), b"m".to_vec()), (b"m".to_vec(), Vec::new())],
            fault_ms: 12_000,
            converge_ms: 20_000,
            clients: 4,
            keys_per_range: 3,
            tick_ms: 10,
            op_timeout_ms: 2_000,
            faults: Faults {
                loss: r.range(0, 10) as f64 / 100.0,
                duplicate: r.range(0, 5) as f64 / 100.0,
                min_delay_ms: 1,
                max_delay_ms,
                crash_every_ms: r.range(1_500, 5_000),
                partition_every_ms: r.range(1_500, 5_000),
                lose_unsynced: true,
                amnesia_ms: 0,
            },
            membership: r.chance(0.5),
            idle_windows: false,
            quiesce_ms: 3_000,
            raft,
        };
        cfg.idle_windows = r.chance(0.5);
        cfg
    }
}

/// What a run did and found.
#[derive(Debug, Default, Clone)]
pub struct SimReport {
    pub seed: u64,
    pub ops_ok: u64,
    pub ops_fail: u64,
    pub ops_info: u64,
    pub leader_terms: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub snapshots: u64,
    pub membership_done: bool,
    /// Virtual time at which the cluster was seen converged.
    pub converged_at_ms: Option<u64>,
    /// Virtual time at which every replica was seen quiesced after converging.
    pub quiesced_at_ms: Option<u64>,
    /// Times a leader quiesced its range, over all nodes and incarnations.
    pub quiesces: u64,
    /// A hash of everything that happened, in order: equal for two runs of one seed.
    pub trace_hash: u64,
    /// The client history, one JSON object per line.
    pub history: Vec<String>,
    pub violations: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Read,
    Write,
    Cas,
}

#[derive(Debug, Clone)]
struct Op {
    id: u64,
    process: u64,
    kind: OpKind,
    key: String,
    /// write: the value; cas: [expected, new] (None = null).
    value: u64,
    expected: Option<u64>,
    node: NodeId,
    started: u64,
}

struct Client {
    process: u64,
    pending: Option<Op>,
    next_at: u64,
    hints: BTreeMap<RangeId, NodeId>,
    /// Last value this client saw per key (for cas guesses).
    seen: BTreeMap<String, Option<u64>>,
}

struct SimNode {
    engine: Arc<MemEngine>,
    node: Option<RaftNode<kv::KvStateMachine>>,
    next_tick: u64,
    restart_at: Option<u64>,
    /// Times this node was started (seeds its election timeouts differently each time).
    incarnation: u64,
    /// With amnesia: durable states saved over time (time, state), oldest first.
    saved: Vec<(u64, DurableState)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberPhase {
    Idle,
    AddLearner,
    Promote,
    Done,
}

pub struct Sim {
    cfg: SimConfig,
    rng: Rng,
    now: u64,
    nodes: BTreeMap<NodeId, SimNode>,
    in_flight: BTreeMap<(u64, u64), RaftMessage>,
    send_seq: u64,
    blocked: BTreeSet<(NodeId, NodeId)>,
    heal_at: Option<u64>,
    clients: Vec<Client>,
    next_process: u64,
    next_id: u64,
    next_value: u64,
    /// Proposal/read id → client index (or usize::MAX for the membership driver).
    waiting: BTreeMap<u64, usize>,
    safety: Safety,
    member_phase: MemberPhase,
    member_next_at: u64,
    member_victim: Option<NodeId>,
    member_started: u64,
    report: SimReport,
    trace: u64,
    clients_stopped: bool,
    /// No more membership changes (the quiescence check).
    admin_stopped: bool,
    /// Messages of ranges (not node heartbeats) handed to the network.
    range_messages: u64,
}

const ADMIN: usize = usize::MAX;

/// A copy of an engine's durable keys and values.
type DurableState = BTreeMap<Vec<u8>, Vec<u8>>;

/// Election safety and state machine safety over what the nodes report.
#[derive(Debug, Default)]
pub struct Safety {
    leaders: BTreeMap<(RangeId, u64), NodeId>,
    applied: BTreeMap<(RangeId, u64), (u64, u32)>,
    last_applied: BTreeMap<(NodeId, RangeId), u64>,
}

impl Safety {
    /// `node` leads `range` in `term`. Ok(true) the first time the term's leader is seen;
    /// Err if another node led that term.
    pub fn leader(&mut self, range: RangeId, term: u64, node: NodeId) -> Result<bool, String> {
        match self.leaders.get(&(range, term)) {
            Some(&other) if other != node => Err(format!(
                "two leaders of range {range} in term {term}: nodes {other} and {node}"
            )),
            Some(_) => Ok(false),
            None => {
                self.leaders.insert((range, term), node);
                Ok(true)
            }
        }
    }

    /// `node` applied `a`: it must follow the node's previous index (or be a snapshot) and
    /// match what every other replica applied at that index.
    pub fn applied(&mut self, node: NodeId, a: &Applied) -> Result<(), String> {
        let key = (node, a.range_id);
        let last = self.last_applied.insert(key, a.index);
        if a.snapshot {
            return Ok(());
        }
        if let Some(last) = last {
            if a.index != last + 1 {
                return Err(format!(
                    "node {node} range {} applied index {} after {last}",
                    a.range_id, a.index
                ));
            }
        }
        match self.applied.get(&(a.range_id, a.index)) {
            Some(&(term, digest)) if (term, digest) != (a.term, a.digest) => Err(format!(
                "range {} index {}: node {node} applied term {} digest {:08x}, another replica term {term} digest {digest:08x}",
                a.range_id, a.index, a.term, a.digest
            )),
            Some(_) => Ok(()),
            None => {
                self.applied.insert((a.range_id, a.index), (a.term, a.digest));
                Ok(())
            }
        }
    }

    /// A node restarted with `applied` as its persisted applied index of `range`.
    pub fn restarted(&mut self, node: NodeId, range: RangeId, applied: u64) {
        self.last_applied.insert((node, range), applied);
    }

    pub fn crashed(&mut self, node: NodeId) {
        self.last_applied.retain(|(n, _), _| *n != node);
    }

    pub fn leader_terms(&self) -> u64 {
        self.leaders.len() as u64
    }
}

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    let mut h = h;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

fn json_value(v: Option<u64>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Self {
        let rng = Rng::new(cfg.seed);
        let mut nodes = BTreeMap::new();
        let voters: Vec<NodeId> = (1..=cfg.nodes).collect();
        for id in 1..=cfg.nodes + cfg.spare_nodes {
            let engine = Arc::new(MemEngine::new());
            if id <= cfg.nodes {
                for (i, (start, end)) in cfg.ranges.iter().enumerate() {
                    let desc = RangeDescriptor {
                        range_id: i as u64 + 1,
                        generation: 1,
                        start_key: start.clone(),
                        end_key: end.clone(),
                        replicas: voters
                            .iter()
                            .map(|&n| ReplicaDescriptor {
                                replica_id: n,
                                node_id: n,
                            })
                            .collect(),
                        next_replica_id: cfg.nodes + 1,
                    };
                    // A fresh MemEngine cannot fail.
                    let _ = RaftNode::<kv::KvStateMachine>::bootstrap_range(engine.as_ref(), &desc);
                }
            }
            nodes.insert(
                id,
                SimNode {
                    engine,
                    node: None,
                    next_tick: 0,
                    restart_at: None,
                    incarnation: 0,
                    saved: Vec::new(),
                },
            );
        }
        let clients = (0..cfg.clients)
            .map(|i| Client {
                process: i as u64,
                pending: None,
                next_at: 0,
                hints: BTreeMap::new(),
                seen: BTreeMap::new(),
            })
            .collect();
        let mut sim = Self {
            report: SimReport {
                seed: cfg.seed,
                ..Default::default()
            },
            next_process: cfg.clients as u64,
            cfg,
            rng,
            now: 0,
            nodes,
            in_flight: BTreeMap::new(),
            send_seq: 0,
            blocked: BTreeSet::new(),
            heal_at: None,
            clients,
            next_id: 1,
            next_value: 1,
            waiting: BTreeMap::new(),
            safety: Safety::default(),
            member_phase: MemberPhase::Idle,
            member_next_at: 0,
            member_victim: None,
            member_started: 0,
            trace: 0xCBF2_9CE4_8422_2325,
            clients_stopped: false,
            admin_stopped: false,
            range_messages: 0,
        };
        let ids: Vec<NodeId> = sim.nodes.keys().copied().collect();
        for id in ids {
            sim.start_node(id);
        }
        sim
    }

    fn violation(&mut self, what: String) {
        if self.report.violations.len() < 50 {
            self.report
                .violations
                .push(format!("t={}ms: {what}", self.now));
        }
    }

    fn start_node(&mut self, id: NodeId) {
        let cfg = self.cfg.raft.clone();
        let seed = self.cfg.seed;
        let tick_phase = self.rng.range(0, self.cfg.tick_ms - 1);
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        n.incarnation += 1;
        let engine: Arc<dyn Engine> = n.engine.clone();
        let node_seed = seed ^ id.wrapping_mul(0x1000_0001) ^ n.incarnation.rotate_left(40);
        match RaftNode::open(id, engine, kv::KvStateMachine, cfg, node_seed) {
            Ok(node) => {
                for range in node.ranges().collect::<Vec<_>>() {
                    if let Some(st) = node.status(range) {
                        self.safety.restarted(id, range, st.applied);
                    }
                }
                n.node = Some(node);
                n.next_tick = self.now + tick_phase;
                n.restart_at = None;
            }
            Err(e) => {
                let msg = format!("node {id} failed to reopen: {e}");
                self.violation(msg);
            }
        }
    }

    fn crash_node(&mut self, id: NodeId) {
        let keep_all = !self.cfg.faults.lose_unsynced;
        let down_for = self.rng.range(100, 3_000);
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(old) = n.node.take() else {
            return;
        };
        let quiesces = old.quiescence().1;
        let unsynced = n.engine.unsynced_batches();
        let keep = if keep_all {
            unsynced
        } else {
            self.rng.range(0, unsynced as u64) as usize
        };
        n.engine.crash(keep);
        let amnesia = self.cfg.faults.amnesia_ms;
        if amnesia > 0 {
            let cutoff = self.now.saturating_sub(amnesia);
            if let Some((_, old)) = n.saved.iter().find(|(t, _)| *t >= cutoff) {
                n.engine.reset_to(old.clone());
            }
            n.saved.clear();
        }
        n.restart_at = Some(self.now + down_for);
        self.report.crashes += 1;
        self.report.quiesces += quiesces;
        self.safety.crashed(id);
        // Operations waiting on that node: outcome unknown.
        for c in 0..self.clients.len() {
            if self
                .clients
                .get(c)
                .and_then(|cl| cl.pending.as_ref())
                .is_some_and(|op| op.node == id)
            {
                self.finish(c, "info", None, "node crashed");
            }
        }
    }

    /// Runs the whole schedule and returns the report.
    pub fn run(mut self) -> SimReport {
        let end = self.cfg.fault_ms + self.cfg.converge_ms;
        let stop_clients_at = self.cfg.fault_ms + self.cfg.converge_ms / 4;
        let mut healed = false;
        while self.now < end {
            if !healed && self.now >= self.cfg.fault_ms {
                self.heal_all();
                healed = true;
            }
            if self.now >= stop_clients_at {
                self.clients_stopped = true;
            }
            self.step();
            if self.clients_stopped
                && self.clients.iter().all(|c| c.pending.is_none())
                && self.now.is_multiple_of(50)
                && self.converged()
            {
                self.report.converged_at_ms = Some(self.now);
                break;
            }
            self.now += 1;
        }
        if self.report.converged_at_ms.is_none() {
            let detail = self.describe();
            self.violation(format!("cluster did not converge by {end} ms: {detail}"));
        } else if self.cfg.raft.quiesce {
            self.await_quiescence();
        }
        for n in self.nodes.values() {
            if let Some(node) = n.node.as_ref() {
                self.report.quiesces += node.quiescence().1;
            }
        }
        self.report.leader_terms = self.safety.leader_terms();
        self.report.trace_hash = self.trace;
        self.report
    }

    /// With clients and membership changes stopped, every replica must quiesce in time.
    fn await_quiescence(&mut self) {
        self.admin_stopped = true;
        let deadline = self.now + self.cfg.quiesce_ms;
        while self.now < deadline {
            self.now += 1;
            self.step();
            if self.now.is_multiple_of(10) && self.all_quiesced() {
                self.report.quiesced_at_ms = Some(self.now);
                return;
            }
        }
        let detail = self.describe();
        self.violation(format!(
            "ranges did not quiesce within {} ms of converging: {detail}",
            self.cfg.quiesce_ms
        ));
    }

    /// Runs `ms` of virtual time (test scenarios; `run` is the whole schedule).
    pub fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step();
            self.now += 1;
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.now
    }

    /// Crashes a node for good (no restart).
    pub fn crash_for_good(&mut self, id: NodeId) {
        self.crash_node(id);
        if let Some(n) = self.nodes.get_mut(&id) {
            n.restart_at = None;
        }
    }

    /// The live node that believes it leads `range` with the highest term, and that term.
    pub fn leader_and_term(&self, range: RangeId) -> Option<(NodeId, u64)> {
        let id = self.leader_of(range)?;
        let st = self.nodes.get(&id)?.node.as_ref()?.status(range)?;
        Some((id, st.term))
    }

    /// Restarts a crashed node now.
    pub fn restart(&mut self, id: NodeId) {
        if self.nodes.get(&id).is_some_and(|n| n.node.is_none()) {
            self.start_node(id);
        }
    }

    /// Clients issue no more operations (pending ones still finish).
    pub fn stop_clients(&mut self) {
        self.clients_stopped = true;
    }

    pub fn report(&self) -> &SimReport {
        &self.report
    }

    /// Messages of ranges (node heartbeats excluded) sent so far.
    pub fn range_messages(&self) -> u64 {
        self.range_messages
    }

    pub fn violations(&self) -> &[String] {
        &self.report.violations
    }

    /// Every live node's every replica is quiesced.
    pub fn all_quiesced(&self) -> bool {
        self.nodes.values().all(|n| {
            n.node.as_ref().is_none_or(|node| {
                node.ranges()
                    .all(|r| node.status(r).is_some_and(|st| st.quiesced))
            })
        })
    }

    fn heal_all(&mut self) {
        self.blocked.clear();
        self.heal_at = None;
        self.cfg.faults.loss = 0.0;
        self.cfg.faults.duplicate = 0.0;
        let down: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.node.is_none())
            .map(|(&id, _)| id)
            .collect();
        for id in down {
            self.start_node(id);
        }
    }

    fn step(&mut self) {
        // 1. Deliver due messages.
        while let Some((&(at, seq), _)) = self.in_flight.first_key_value() {
            if at > self.now {
                break;
            }
            let Some(m) = self.in_flight.remove(&(at, seq)) else {
                break;
            };
            if self.blocked.contains(&(m.from_node, m.to_node)) {
                continue;
            }
            let to = m.to_node;
            if let Some(node) = self.nodes.get_mut(&to).and_then(|n| n.node.as_mut()) {
                match guarded(|| node.step(m)) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => self.violation(format!("node {to} step failed: {e}")),
                    Err(p) => self.node_panicked(to, &p),
                }
            }
        }
        // 2. Ticks and restarts.
        let tick_ms = self.cfg.tick_ms;
        let now = self.now;
        let mut restart = Vec::new();
        let mut panicked = Vec::new();
        for (&id, n) in self.nodes.iter_mut() {
            if let Some(node) = n.node.as_mut() {
                if n.next_tick <= now {
                    if let Err(p) = guarded(|| node.tick()) {
                        panicked.push((id, p));
                    }
                    n.next_tick += tick_ms;
                }
            } else if n.restart_at.is_some_and(|t| t <= now) {
                restart.push(id);
            }
        }
        for (id, p) in panicked {
            self.node_panicked(id, &p);
        }
        for id in restart {
            self.start_node(id);
        }
        if self.cfg.faults.amnesia_ms > 0 && self.now.is_multiple_of(250) {
            let now = self.now;
            let keep_from = now.saturating_sub(self.cfg.faults.amnesia_ms);
            for n in self.nodes.values_mut() {
                if n.node.is_some() {
                    n.saved.retain(|(t, _)| *t >= keep_from);
                    n.saved.push((now, n.engine.durable_copy()));
                }
            }
        }
        // 3. Faults, membership, clients.
        if self.now < self.cfg.fault_ms {
            self.maybe_fault();
        }
        if self.cfg.membership && !self.admin_stopped {
            self.drive_membership();
        }
        self.drive_clients();
        // 4. Ready.
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.ready(id);
        }
    }

    fn maybe_fault(&mut self) {
        if let Some(t) = self.heal_at {
            if t <= self.now {
                self.blocked.clear();
                self.heal_at = None;
            }
        }
        let crash_every = self.cfg.faults.crash_every_ms;
        if crash_every > 0 && self.rng.range(1, crash_every) == 1 {
            let up: Vec<NodeId> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.node.is_some())
                .map(|(&id, _)| id)
                .collect();
            // Keep at most one node down at a time so the fault phase makes progress too.
            if up.len() == self.nodes.len() {
                if let Some(&victim) = self.rng.pick(&up) {
                    self.crash_node(victim);
                }
            }
        }
        let part_every = self.cfg.faults.partition_every_ms;
        if part_every > 0 && self.heal_at.is_none() && self.rng.range(1, part_every) == 1 {
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            let kind = self.rng.range(0, 2);
            let a = self.rng.pick(&ids).copied().unwrap_or(1);
            match kind {
                0 => {
                    // Isolate one node both ways.
                    for &b in &ids {
                        if b != a {
                            self.blocked.insert((a, b));
                            self.blocked.insert((b, a));
                        }
                    }
                }
                1 => {
                    // One-way: a cannot send to anyone (it still hears them).
                    for &b in &ids {
                        if b != a {
                            self.blocked.insert((a, b));
                        }
                    }
                }
                _ => {
                    // One directed link.
                    let b = self.rng.pick(&ids).copied().unwrap_or(2);
                    if a != b {
                        self.blocked.insert((a, b));
                    }
                }
            }
            self.heal_at = Some(self.now + self.rng.range(200, 4_000));
            self.report.partitions += 1;
        }
    }

    fn leader_of(&self, range: RangeId) -> Option<NodeId> {
        // The live node that believes it leads with the highest term.
        let mut best: Option<(u64, NodeId)> = None;
        for (&id, n) in &self.nodes {
            if let Some(st) = n.node.as_ref().and_then(|node| node.status(range)) {
                if st.role == StateRole::Leader && best.is_none_or(|(t, _)| st.term > t) {
                    best = Some((st.term, id));
                }
            }
        }
        best.map(|(_, id)| id)
    }

    fn drive_membership(&mut self) {
        let range: RangeId = 1;
        let spare = self.cfg.nodes + 1;
        if self.cfg.spare_nodes == 0 || self.member_phase == MemberPhase::Done {
            return;
        }
        if self.now < self.cfg.fault_ms / 4 || self.now < self.member_next_at {
            return;
        }
        if self.waiting.values().any(|&c| c == ADMIN) {
            if self.now.saturating_sub(self.member_started) < 3_000 {
                return;
            }
            // Its node crashed or the outcome got lost: look again.
            self.waiting.retain(|_, c| *c != ADMIN);
        }
        let Some(leader) = self.leader_of(range) else {
            return;
        };
        let Some(st) = self
            .nodes
            .get(&leader)
            .and_then(|n| n.node.as_ref())
            .and_then(|n| n.status(range))
        else {
            return;
        };
        let in_desc = st.desc.replica_on(spare).copied();
        let phase = match in_desc {
            None => MemberPhase::AddLearner,
            Some(r) if st.conf_state.learners.contains(&r.replica_id) => MemberPhase::Promote,
            Some(_) => {
                // Promoted; the victim must be gone too.
                if self
                    .member_victim
                    .is_some_and(|v| st.desc.replica_on(v).is_none())
                {
                    self.member_phase = MemberPhase::Done;
                    self.report.membership_done = true;
                    return;
                }
                MemberPhase::Promote
            }
        };
        self.member_phase = phase;
        let changes = match phase {
            MemberPhase::AddLearner => vec![MembershipChange::AddLearner(spare)],
            MemberPhase::Promote => {
                // Wait for the learner to catch up (it reports its applied index through
                // its own status; the sim can look).
                let learner_applied = self
                    .nodes
                    .get(&spare)
                    .and_then(|n| n.node.as_ref())
                    .and_then(|n| n.status(range))
                    .map_or(0, |s| s.applied);
                if learner_applied + 5 < st.commit {
                    self.member_next_at = self.now + 50;
                    return;
                }
                let victim = match self.member_victim {
                    Some(v) => v,
                    None => {
                        let candidates: Vec<NodeId> = st
                            .desc
                            .replicas
                            .iter()
                            .map(|r| r.node_id)
                            .filter(|&n| n != leader && n != spare)
                            .collect();
                        let Some(&v) = self.rng.pick(&candidates) else {
                            return;
                        };
                        self.member_victim = Some(v);
                        v
                    }
                };
                if st.desc.replica_on(victim).is_some() {
                    if victim == leader {
                        // Leadership moved to the victim since: hand it back first.
                        if let Some(node) =
                            self.nodes.get_mut(&leader).and_then(|n| n.node.as_mut())
                        {
                            let _ = node.transfer_leader(range, spare);
                        }
                        self.member_next_at = self.now + 200;
                        return;
                    }
                    vec![
                        MembershipChange::AddVoter(spare),
                        MembershipChange::Remove(victim),
                    ]
                } else {
                    vec![MembershipChange::AddVoter(spare)]
                }
            }
            _ => return,
        };
        let id = self.next_id;
        self.next_id += 1;
        let Some(node) = self.nodes.get_mut(&leader).and_then(|n| n.node.as_mut()) else {
            return;
        };
        match node.propose_membership(range, id, &changes) {
            Ok(()) => {
                self.waiting.insert(id, ADMIN);
                self.member_started = self.now;
            }
            Err(_) => self.member_next_at = self.now + 100,
        }
    }

    fn drive_clients(&mut self) {
        for c in 0..self.clients.len() {
            // Timeouts.
            let timed_out = self
                .clients
                .get(c)
                .and_then(|cl| cl.pending.as_ref())
                .is_some_and(|op| self.now.saturating_sub(op.started) > self.cfg.op_timeout_ms);
            if timed_out {
                if let Some(op) = self.clients.get(c).and_then(|cl| cl.pending.as_ref()) {
                    self.waiting.remove(&op.id);
                }
                self.finish(c, "info", None, "timeout");
                continue;
            }
            let idle = self.cfg.idle_windows
                && self.now < self.cfg.fault_ms
                && (self.now / IDLE_WINDOW_MS) % 2 == 1;
            if self.clients_stopped || idle {
                continue;
            }
            let ready = self
                .clients
                .get(c)
                .is_some_and(|cl| cl.pending.is_none() && cl.next_at <= self.now);
            if ready {
                self.issue(c);
            }
        }
    }

    fn issue(&mut self, c: usize) {
        let nranges = self.cfg.ranges.len() as u64;
        let range = self.rng.range(1, nranges);
        let k = self.rng.range(0, self.cfg.keys_per_range as u64 - 1);
        let prefix = match self.cfg.ranges.get((range - 1) as usize) {
            Some((start, _)) if !start.is_empty() => String::from_utf8_lossy(start).into_owned(),
            _ => "a".to_string(),
        };
        let key = format!("{prefix}{k}");
        let kind = match self.rng.range(0, 9) {
            0..=3 => OpKind::Read,
            4..=7 => OpKind::Write,
            _ => OpKind::Cas,
        };
        let value = self.next_value;
        self.next_value += 1;
        let node_ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let random_node = self.rng.pick(&node_ids).copied().unwrap_or(1);
        let Some(cl) = self.clients.get_mut(c) else {
            return;
        };
        let node = cl.hints.get(&range).copied().unwrap_or(random_node);
        let expected = cl.seen.get(&key).copied().flatten();
        let id = self.next_id;
        self.next_id += 1;
        let op = Op {
            id,
            process: cl.process,
            kind,
            key: key.clone(),
            value,
            expected,
            node,
            started: self.now,
        };
        let (f, v) = match kind {
            OpKind::Read => ("read", "null".to_string()),
            OpKind::Write => ("write", value.to_string()),
            OpKind::Cas => ("cas", format!("[{},{}]", json_value(expected), value)),
        };
        self.report.history.push(format!(
            r#"{{"process":{},"type":"invoke","f":"{f}","key":"{key}","value":{v},"time":{}}}"#,
            op.process,
            self.now * 1_000_000
        ));
        cl.pending = Some(op);
        let submitted = match self.nodes.get_mut(&node).and_then(|n| n.node.as_mut()) {
            None => Err(ProposalError::RangeNotFound(range)),
            Some(n) => match kind {
                OpKind::Read => n.read(range, id),
                OpKind::Write => n.propose(
                    range,
                    id,
                    Command::Put {
                        key: key.into_bytes(),
                        value: value.to_string().into_bytes(),
                    }
                    .encode(),
                ),
                OpKind::Cas => n.propose(
                    range,
                    id,
                    Command::Cas {
                        key: key.into_bytes(),
                        expected: expected.map(|e| e.to_string().into_bytes()),
                        new: Some(value.to_string().into_bytes()),
                    }
                    .encode(),
                ),
            },
        };
        match submitted {
            Ok(()) => {
                self.waiting.insert(id, c);
            }
            Err(e) => {
                self.redirect(c, range, node, &e);
                self.finish(c, "fail", None, &e.to_string());
            }
        }
    }

    /// Updates a client's leader hint after a refusal.
    fn redirect(&mut self, c: usize, range: RangeId, node: NodeId, e: &ProposalError) {
        let hint = match e {
            ProposalError::NotLeader { .. } => self
                .nodes
                .get(&node)
                .and_then(|n| n.node.as_ref())
                .and_then(|n| n.status(range))
                .and_then(|s| s.leader_node),
            _ => None,
        };
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let fallback = self.rng.pick(&ids).copied().unwrap_or(1);
        if let Some(cl) = self.clients.get_mut(c) {
            cl.hints.insert(range, hint.unwrap_or(fallback));
        }
    }

    /// Completes client `c`'s pending operation.
    fn finish(&mut self, c: usize, outcome: &str, read: Option<Option<u64>>, why: &str) {
        let think = self.rng.range(0, 20);
        let now = self.now;
        let Some(cl) = self.clients.get_mut(c) else {
            return;
        };
        let Some(op) = cl.pending.take() else { return };
        self.waiting.remove(&op.id);
        let (f, v) = match op.kind {
            OpKind::Read => ("read", json_value(read.flatten())),
            OpKind::Write => ("write", op.value.to_string()),
            OpKind::Cas => ("cas", format!("[{},{}]", json_value(op.expected), op.value)),
        };
        let error = if outcome == "ok" {
            String::new()
        } else {
            format!(r#","error":"{}""#, why.replace('"', "'"))
        };
        self.report.history.push(format!(
            r#"{{"process":{},"type":"{outcome}","f":"{f}","key":"{}","value":{v},"time":{}{error}}}"#,
            op.process,
            op.key,
            now * 1_000_000
        ));
        match outcome {
            "ok" => {
                self.report.ops_ok += 1;
                let seen = match op.kind {
                    OpKind::Read => read.flatten(),
                    _ => Some(op.value),
                };
                cl.seen.insert(op.key.clone(), seen);
            }
            "fail" => self.report.ops_fail += 1,
            _ => {
                self.report.ops_info += 1;
                cl.process = self.next_process;
                self.next_process += 1;
            }
        }
        cl.next_at = now + think;
        self.trace = fnv(self.trace, outcome.as_bytes());
        self.trace = fnv(self.trace, &op.id.to_le_bytes());
        self.trace = fnv(self.trace, &now.to_le_bytes());
    }

    /// raft-rs panics when it finds its own state impossible (a log that lost committed
    /// entries): a violation; the node stays down.
    fn node_panicked(&mut self, id: NodeId, what: &str) {
        self.violation(format!("node {id} panicked: {what}"));
        if let Some(n) = self.nodes.get_mut(&id) {
            n.node = None;
            n.restart_at = None;
        }
    }

    fn ready(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get_mut(&id).and_then(|n| n.node.as_mut()) else {
            return;
        };
        let out = match guarded(|| node.handle_ready()) {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => {
                let msg = format!("node {id} handle_ready failed: {e}");
                self.violation(msg);
                return;
            }
            Err(p) => {
                self.node_panicked(id, &p);
                return;
            }
        };
        // Election safety.
        let statuses: Vec<_> = node.ranges().filter_map(|r| node.status(r)).collect();
        for st in statuses {
            if st.role == StateRole::Leader {
                match self.safety.leader(st.range_id, st.term, id) {
                    Err(v) => self.violation(v),
                    Ok(true) => {
                        self.trace = fnv(self.trace, &[b'L', id as u8, st.range_id as u8]);
                        self.trace = fnv(self.trace, &st.term.to_le_bytes());
                    }
                    Ok(false) => {}
                }
            }
        }
        // State machine safety.
        for a in &out.applied {
            if a.snapshot {
                self.report.snapshots += 1;
            }
            if let Err(v) = self.safety.applied(id, a) {
                self.violation(v);
            }
            self.trace = fnv(self.trace, &a.index.to_le_bytes());
            self.trace = fnv(self.trace, &a.digest.to_le_bytes());
        }
        // Network.
        for m in out.messages {
            self.send(m);
        }
        // Completions.
        for comp in out.completions {
            self.complete(id, comp);
        }
    }

    fn send(&mut self, m: RaftMessage) {
        if m.range_id != cairn_raft::NODE_HEARTBEAT_RANGE {
            self.range_messages += 1;
        }
        if self.rng.chance(self.cfg.faults.loss) {
            return;
        }
        let copies = if self.rng.chance(self.cfg.faults.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self
                .rng
                .range(self.cfg.faults.min_delay_ms, self.cfg.faults.max_delay_ms);
            self.send_seq += 1;
            self.in_flight
                .insert((self.now + delay, self.send_seq), m.clone());
        }
    }

    fn complete(&mut self, node: NodeId, comp: Completion) {
        let (id, range, result) = match comp {
            Completion::Proposal {
                id,
                range_id,
                result,
            } => (id, range_id, result.map(Some)),
            Completion::Read {
                id,
                range_id,
                result,
            } => (id, range_id, result.map(|()| None)),
        };
        let Some(c) = self.waiting.remove(&id) else {
            return;
        };
        if c == ADMIN {
            if result.is_err() {
                self.member_next_at = self.now + 100;
            }
            return;
        }
        let Some(op) = self.clients.get(c).and_then(|cl| cl.pending.clone()) else {
            return;
        };
        if op.id != id {
            return;
        }
        match result {
            Ok(Some(resp)) => match Response::decode(&resp) {
                Ok(Response::Done) => self.finish(c, "ok", None, ""),
                Ok(Response::CompareFailed { .. }) => {
                    self.finish(c, "fail", None, "compare failed")
                }
                Ok(Response::Refused(why)) => self.finish(c, "fail", None, &why),
                Ok(other @ (Response::TxnDone { .. } | Response::StaleTerm)) => {
                    // The simulator sends no transactions or term batches.
                    let msg = format!("unexpected response {other:?}");
                    self.violation(msg.clone());
                    self.finish(c, "info", None, &msg);
                }
                Err(e) => {
                    let msg = format!("undecodable response: {e}");
                    self.violation(msg.clone());
                    self.finish(c, "info", None, &msg);
                }
            },
            Ok(None) => {
                let value = self
                    .nodes
                    .get(&node)
                    .map(|n| kv::get(n.engine.as_ref(), op.key.as_bytes()));
                match value {
                    Some(Ok(v)) => {
                        let parsed = v
                            .and_then(|b| String::from_utf8(b).ok())
                            .and_then(|s| s.parse::<u64>().ok());
                        self.finish(c, "ok", Some(parsed), "");
                    }
                    _ => self.finish(c, "fail", None, "read failed"),
                }
            }
            Err(e) => {
                let outcome = match e {
                    ProposalError::Ambiguous => "info",
                    _ => "fail",
                };
                self.redirect(c, range, node, &e);
                self.finish(c, outcome, None, &e.to_string());
            }
        }
    }

    /// True when every range has a leader whose commit every replica in its descriptor has
    /// applied, with identical data and descriptors.
    fn converged(&mut self) -> bool {
        for i in 0..self.cfg.ranges.len() {
            let range = i as u64 + 1;
            let Some(leader) = self.leader_of(range) else {
                return false;
            };
            let Some(lst) = self
                .nodes
                .get(&leader)
                .and_then(|n| n.node.as_ref())
                .and_then(|n| n.status(range))
            else {
                return false;
            };
            if lst.applied != lst.commit {
                return false;
            }
            let (s, e) = cairn_raft::keys::data_span(&lst.desc);
            let Some(reference) = self.nodes.get(&leader).map(|n| n.engine.dump(&s, &e)) else {
                return false;
            };
            for r in &lst.desc.replicas {
                let Some(n) = self.nodes.get(&r.node_id) else {
                    return false;
                };
                let Some(st) = n.node.as_ref().and_then(|x| x.status(range)) else {
                    return false;
                };
                if st.applied != lst.commit || st.desc != lst.desc {
                    return false;
                }
                if n.engine.dump(&s, &e) != reference {
                    return false;
                }
            }
        }
        true
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        for (&id, n) in &self.nodes {
            let Some(node) = n.node.as_ref() else {
                let _ = write!(s, "[node {id} down] ");
                continue;
            };
            for range in node.ranges() {
                if let Some(st) = node.status(range) {
                    let _ = write!(
                        s,
                        "[node {id} r{range} {:?} term {} leader {:?} commit {} applied {} last {} voters {:?} learners {:?} progress {:?} quiesced {}] ",
                        st.role, st.term, st.leader, st.commit, st.applied, st.last_index,
                        st.conf_state.voters, st.conf_state.learners, st.progress, st.quiesced
                    );
                }
            }
        }
        s
    }
}

/// Runs `f`, turning a panic into its message.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string())
    })
}

/// Runs one seed with its default configuration.
pub fn run_seed(seed: u64) -> SimReport {
    Sim::new(SimConfig::for_seed(seed)).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(range: RangeId, index: u64, term: u64, digest: u32) -> Applied {
        Applied {
            range_id: range,
            index,
            term,
            digest,
            snapshot: false,
        }
    }

    #[test]
    fn safety_flags_two_leaders_in_one_term() {
        let mut s = Safety::default();
        assert_eq!(s.leader(1, 7, 1), Ok(true));
        assert_eq!(s.leader(1, 7, 1), Ok(false));
        assert_eq!(
            s.leader(2, 7, 2),
            Ok(true),
            "another range may have its own leader"
        );
        assert_eq!(s.leader(1, 8, 2), Ok(true));
        let err = s.leader(1, 7, 3).unwrap_err();
        assert!(err.contains("two leaders of range 1 in term 7"), "{err}");
    }

    #[test]
    fn safety_flags_divergent_and_out_of_order_applies() {
        let mut s = Safety::default();
        s.restarted(1, 1, 5);
        s.restarted(2, 1, 5);
        assert!(s.applied(1, &entry(1, 6, 2, 0xAA)).is_ok());
        assert!(s.applied(2, &entry(1, 6, 2, 0xAA)).is_ok());
        // Same index, other entry.
        let err = s
            .applied(2, &entry(1, 7, 3, 0xBB))
            .and(s.applied(1, &entry(1, 7, 3, 0xBC)));
        assert!(err.unwrap_err().contains("index 7"));
        // A gap.
        let err = s.applied(1, &entry(1, 9, 3, 0x01)).unwrap_err();
        assert!(err.contains("applied index 9 after 7"), "{err}");
        // A snapshot may jump; the next entry follows it.
        let snap = Applied {
            snapshot: true,
            ..entry(1, 20, 3, 0)
        };
        assert!(s.applied(2, &snap).is_ok());
        assert!(s.applied(2, &entry(1, 21, 3, 0x02)).is_ok());
        // A restart re-applies from the persisted index.
        s.crashed(2);
        s.restarted(2, 1, 20);
        assert!(s.applied(2, &entry(1, 21, 3, 0x02)).is_ok());
    }
}

//! Isolation checked from the outside: random concurrent transactions over a few keys are
//! run without retries, their history is recorded, and Adya's dependency graph of the
//! committed transactions is built from what they actually read.
//!
//! How the history identifies versions: every value written is unique (`t{txn}:k{key}:{n}`),
//! so a value read names the transaction that wrote it and whether it was that
//! transaction's last write of the key. An absent key is a delete (or the initial state,
//! which the setup transaction writes as a delete); absent versions cannot be told apart by
//! value, so an absent read is attributed to the newest delete visible at the read's
//! timestamp bound (at SNAPSHOT and SERIALIZABLE the snapshot, as `read_ts()` reports it
//! after the read: a transaction may move its snapshot forward on a write, at SNAPSHOT only
//! before its first read, at SERIALIZABLE when all its reads still hold; at READ COMMITTED
//! `Db::now` after the statement). The version order of a key is
//! the commit-timestamp order of its writers, and it is cross-checked against the versions
//! stored in the engine (exactly the committed writes, nothing of aborted transactions).
//!
//! Edges: ww (writer of a version -> writer of the next one), wr (writer of the version read
//! -> reader), rw (reader of a version -> writer of the next one). A scan of the whole prefix
//! reads every key of the (known, finite) key space, so a scan that missed a key a later
//! transaction created gets the predicate anti-dependency as an rw edge on that key.
//!
//! What is asserted, per level (with the proof in the comment of `check`):
//! - SERIALIZABLE: the whole graph (ww + wr + rw) is acyclic, so a serial order of the
//!   committed transactions exists that explains every value they read.
//! - SNAPSHOT, READ COMMITTED: no G0 (ww cycle), no G1a (a committed transaction read a
//!   value of an aborted one), no G1b (it read a value its writer later overwrote), no G1c
//!   (ww + wr cycle).
//! - Every level: no read of a value nobody wrote, reads see the transaction's own writes,
//!   and every read returns the version the level promises (SNAPSHOT, SERIALIZABLE: the
//!   newest version at or below the read timestamp; READ COMMITTED: one between the newest
//!   version committed before the statement and the newest one committed after it). At
//!   SNAPSHOT all of a transaction's reads are at one snapshot; at SERIALIZABLE every read
//!   is also the newest version at the transaction's final snapshot (a snapshot that moved
//!   after reads moved only past commits that changed none of them).
//!
//! The checker is itself tested: a write skew run at SNAPSHOT must show a cycle, and
//! hand-made histories with dirty, intermediate and circular reads must be flagged.
//! `CAIRN_SERIAL_CASES=2000 cargo test -p cairn-mvcc --test it serializability` for a long run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Barrier;
use std::time::Duration;

use cairn_mvcc::{Db, DbOptions, Error, IsolationLevel, ScanOptions, Timestamp, Transaction};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const PREFIX: &[u8] = b"s/";
/// The first key after every key that starts with `s/`.
const PREFIX_END: &[u8] = b"s0";

fn key(k: usize) -> Vec<u8> {
    format!("s/k{k}").into_bytes()
}

fn key_index(raw: &[u8]) -> Option<usize> {
    std::str::from_utf8(raw)
        .ok()?
        .strip_prefix("s/k")?
        .parse()
        .ok()
}

fn value(txn: usize, k: usize, n: usize) -> String {
    format!("t{txn}:k{k}:{n}")
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

// ---------------------------------------------------------------------------------------
// Workload

#[derive(Debug, Clone, Copy)]
enum Op {
    Get(usize),
    Put(usize),
    Delete(usize),
    Scan,
}

#[derive(Debug, Clone)]
struct Step {
    op: Op,
    /// Sleep after the step, so that transactions of different threads interleave.
    pause_us: u64,
}

#[derive(Debug, Clone)]
struct Workload {
    keys: usize,
    /// Which keys the setup transaction creates (the others it deletes).
    initial: Vec<bool>,
    /// Per thread, its transactions, each a list of steps.
    threads: Vec<Vec<Vec<Step>>>,
}

fn workload() -> impl Strategy<Value = Workload> {
    (3usize..=4).prop_flat_map(|keys| {
        let op = prop_oneof![
            3 => (0..keys).prop_map(Op::Get),
            3 => (0..keys).prop_map(Op::Put),
            1 => (0..keys).prop_map(Op::Delete),
            1 => Just(Op::Scan),
        ];
        let pause = prop_oneof![2 => Just(0u64), 1 => 1u64..300];
        let step = (op, pause).prop_map(|(op, pause_us)| Step { op, pause_us });
        let txn = prop::collection::vec(step, 1..=4);
        let thread = prop::collection::vec(txn, 2..=6);
        (
            Just(keys),
            prop::collection::vec(any::<bool>(), keys),
            prop::collection::vec(thread, 3..=4),
        )
            .prop_map(|(keys, initial, threads)| Workload {
                keys,
                initial,
                threads,
            })
    })
}

// ---------------------------------------------------------------------------------------
// Recording

#[derive(Debug, Clone)]
enum Event {
    /// A `get`: what it returned, with `Db::now` just before and just after the call and the
    /// transaction's `read_ts` after it (its snapshot, except at READ COMMITTED).
    Get {
        key: usize,
        value: Option<String>,
        before: Timestamp,
        after: Timestamp,
        snapshot: Timestamp,
    },
    /// A scan of the whole prefix: the raw rows.
    Scan {
        rows: Vec<(Vec<u8>, String)>,
        before: Timestamp,
        after: Timestamp,
        snapshot: Timestamp,
    },
    Put {
        key: usize,
        value: String,
    },
    Delete {
        key: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// `commit_ts` is `None` for a transaction that wrote nothing.
    Committed(Option<Timestamp>),
    Aborted(String),
}

#[derive(Debug, Clone)]
struct Record {
    no: usize,
    /// `read_ts()` when the transaction ended (it may have moved since `begin`).
    read_ts: Timestamp,
    events: Vec<Event>,
    outcome: Outcome,
}

/// A transaction that records what it does. No retries: a retryable error ends it as
/// aborted; any other error fails the test.
struct Recorder<'a> {
    db: &'a Db,
    txn: Transaction,
    rec: Record,
    writes: usize,
}

impl<'a> Recorder<'a> {
    fn begin(db: &'a Db, isolation: IsolationLevel, no: usize) -> Recorder<'a> {
        let txn = db.begin(isolation).expect("begin");
        let rec = Record {
            no,
            read_ts: txn.read_ts(),
            events: Vec::new(),
            outcome: Outcome::Committed(None),
        };
        Recorder {
            db,
            txn,
            rec,
            writes: 0,
        }
    }

    /// Runs one step; `false` when the transaction failed (it is then over).
    fn step(&mut self, op: Op) -> bool {
        let before = self.db.now();
        let result = match op {
            Op::Get(k) => self.txn.get(&key(k)).map(|v| Event::Get {
                key: k,
                value: v.as_deref().map(text),
                before,
                after: self.db.now(),
                snapshot: self.txn.read_ts(),
            }),
            Op::Scan => self
                .txn
                .scan(PREFIX, Some(PREFIX_END), ScanOptions::default())
                .map(|rows| Event::Scan {
                    rows: rows.into_iter().map(|(k, v)| (k, text(&v))).collect(),
                    before,
                    after: self.db.now(),
                    snapshot: self.txn.read_ts(),
                }),
            Op::Put(k) => {
                let v = value(self.rec.no, k, self.writes);
                self.writes += 1;
                self.txn
                    .put(&key(k), v.as_bytes())
                    .map(|()| Event::Put { key: k, value: v })
            }
            Op::Delete(k) => self.txn.delete(&key(k)).map(|()| Event::Delete { key: k }),
        };
        match result {
            Ok(e) => {
                self.rec.events.push(e);
                true
            }
            Err(e) => {
                self.rec.read_ts = self.txn.read_ts();
                self.rec.outcome = aborted(e);
                false
            }
        }
    }

    fn commit(mut self) -> Record {
        if self.rec.outcome == Outcome::Committed(None) {
            self.rec.read_ts = self.txn.read_ts();
            self.rec.outcome = match self.txn.commit() {
                Ok(info) => Outcome::Committed(info.commit_ts),
                Err(e) => aborted(e),
            };
        }
        self.rec
    }
}

fn aborted(e: Error) -> Outcome {
    assert!(e.is_retryable(), "unexpected error: {e:?}");
    Outcome::Aborted(e.to_string())
}

/// The setup transaction (number 0): creates the keys `initial` marks and deletes the others,
/// so that every key starts with a version, present or absent.
fn setup(db: &Db, initial: &[bool]) -> Record {
    let mut r = Recorder::begin(db, IsolationLevel::Serializable, 0);
    for (k, present) in initial.iter().enumerate() {
        let op = if *present { Op::Put(k) } else { Op::Delete(k) };
        assert!(r.step(op), "setup failed");
    }
    let rec = r.commit();
    assert!(
        matches!(rec.outcome, Outcome::Committed(Some(_))),
        "setup: {rec:?}"
    );
    rec
}

/// Runs the workload at `isolation` on one thread per list, all starting together; returns
/// every transaction's record, the setup first, in transaction-number order.
fn run(db: &Db, isolation: IsolationLevel, w: &Workload) -> Vec<Record> {
    let mut records = vec![setup(db, &w.initial)];
    let mut first_no = 1;
    let mut numbered = Vec::new();
    for txns in &w.threads {
        numbered.push((first_no, txns));
        first_no += txns.len();
    }
    let start = Barrier::new(w.threads.len());
    let per_thread: Vec<Vec<Record>> = std::thread::scope(|s| {
        let handles: Vec<_> = numbered
            .iter()
            .map(|&(first, txns)| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    let mut out = Vec::new();
                    for (i, steps) in txns.iter().enumerate() {
                        let mut r = Recorder::begin(db, isolation, first + i);
                        for step in steps {
                            if !r.step(step.op) {
                                break;
                            }
                            if step.pause_us > 0 {
                                std::thread::sleep(Duration::from_micros(step.pause_us));
                            }
                        }
                        out.push(r.commit());
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .collect()
    });
    records.extend(per_thread.into_iter().flatten());
    records.sort_by_key(|r| r.no);
    records
}

// ---------------------------------------------------------------------------------------
// Analysis

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Ww,
    Wr,
    Rw,
}

#[derive(Debug, Clone, Copy)]
struct Edge {
    from: usize,
    to: usize,
    kind: Kind,
    key: usize,
}

#[derive(Debug, Clone)]
struct Version {
    writer: usize,
    ts: Timestamp,
    value: Option<String>,
}

/// A read of a key this transaction had not written itself.
#[derive(Debug, Clone)]
struct Read {
    key: usize,
    value: Option<String>,
    before: Timestamp,
    after: Timestamp,
    snapshot: Timestamp,
}

struct Analysis {
    /// Committed transactions' numbers.
    committed: BTreeSet<usize>,
    /// Per key, its versions in commit-timestamp order.
    versions: Vec<Vec<Version>>,
    edges: Vec<Edge>,
    /// Everything wrong found outside the graph (G1a, G1b, reads of unknown values, reads
    /// that no correct snapshot returns).
    violations: Vec<String>,
}

/// Per transaction, each key's writes in order (`None` = delete).
fn writes_of(r: &Record) -> BTreeMap<usize, Vec<Option<String>>> {
    let mut out: BTreeMap<usize, Vec<Option<String>>> = BTreeMap::new();
    for e in &r.events {
        match e {
            Event::Put { key, value } => out.entry(*key).or_default().push(Some(value.clone())),
            Event::Delete { key } => out.entry(*key).or_default().push(None),
            _ => {}
        }
    }
    out
}

/// The reads of other transactions' data `r` made, checking on the way that it read its
/// own writes back and that scans returned well-formed rows.
fn external_reads(r: &Record, keys: usize, violations: &mut Vec<String>) -> Vec<Read> {
    // Every key read, with what the transaction had written to it before (if it had).
    let mut observed: Vec<(Read, Option<Option<String>>)> = Vec::new();
    let mut own: BTreeMap<usize, Option<String>> = BTreeMap::new();
    for e in &r.events {
        let mut observe = |key: usize, value: Option<String>, before, after, snapshot| {
            let read = Read {
                key,
                value,
                before,
                after,
                snapshot,
            };
            observed.push((read, own.get(&key).cloned()));
        };
        match e {
            Event::Get {
                key,
                value,
                before,
                after,
                snapshot,
            } => observe(*key, value.clone(), *before, *after, *snapshot),
            Event::Scan {
                rows,
                before,
                after,
                snapshot,
            } => {
                if rows.windows(2).any(|w| w[0].0 >= w[1].0) {
                    violations.push(format!("T{} scan rows out of order: {rows:?}", r.no));
                }
                let mut seen: BTreeMap<usize, String> = BTreeMap::new();
                for (raw, v) in rows {
                    match key_index(raw) {
                        Some(k) if k < keys => {
                            seen.insert(k, v.clone());
                        }
                        _ => violations.push(format!("T{} scan returned key {raw:?}", r.no)),
                    }
                }
                for k in 0..keys {
                    observe(k, seen.get(&k).cloned(), *before, *after, *snapshot);
                }
            }
            Event::Put { key, value } => {
                own.insert(*key, Some(value.clone()));
            }
            Event::Delete { key } => {
                own.insert(*key, None);
            }
        }
    }
    let mut reads = Vec::new();
    for (read, mine) in observed {
        match mine {
            None => reads.push(read),
            Some(mine) if mine == read.value => {}
            Some(mine) => violations.push(format!(
                "T{} read k{} as {:?} after writing {mine:?} itself",
                r.no, read.key, read.value
            )),
        }
    }
    reads
}

/// The newest version at or below `ts` (the setup's version is below every read).
fn visible_at(versions: &[Version], ts: Timestamp) -> Option<usize> {
    versions.iter().rposition(|v| v.ts <= ts)
}

fn analyse(records: &[Record], keys: usize, isolation: IsolationLevel) -> Analysis {
    let mut violations = Vec::new();
    let by_no: HashMap<usize, &Record> = records.iter().map(|r| (r.no, r)).collect();
    let committed: BTreeSet<usize> = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Committed(_)))
        .map(|r| r.no)
        .collect();

    // Every value ever written: its writer, key, and whether it was the writer's last write
    // of that key.
    let mut written: HashMap<String, (usize, usize, bool)> = HashMap::new();
    let mut versions: Vec<Vec<Version>> = vec![Vec::new(); keys];
    for r in records {
        let commit_ts = match r.outcome {
            Outcome::Committed(ts) => ts,
            Outcome::Aborted(_) => None,
        };
        let writes = writes_of(r);
        if commit_ts.is_none() && !writes.is_empty() && committed.contains(&r.no) {
            violations.push(format!(
                "T{} wrote and committed without a commit timestamp",
                r.no
            ));
        }
        for (k, ws) in writes {
            for (i, w) in ws.iter().enumerate() {
                if let Some(v) = w {
                    written.insert(v.clone(), (r.no, k, i + 1 == ws.len()));
                }
            }
            if let Some(ts) = commit_ts {
                versions[k].push(Version {
                    writer: r.no,
                    ts,
                    value: ws.last().cloned().flatten(),
                });
            }
        }
    }
    for (k, vs) in versions.iter_mut().enumerate() {
        vs.sort_by_key(|v| v.ts);
        for w in vs.windows(2) {
            if w[0].ts == w[1].ts {
                violations.push(format!(
                    "T{} and T{} both wrote k{k} at {}",
                    w[0].writer, w[1].writer, w[0].ts
                ));
            }
        }
    }

    let mut edges = Vec::new();
    // ww: each version's writer precedes the next version's writer.
    for (k, vs) in versions.iter().enumerate() {
        for w in vs.windows(2) {
            edges.push(Edge {
                from: w[0].writer,
                to: w[1].writer,
                kind: Kind::Ww,
                key: k,
            });
        }
    }

    for r in records {
        let reads = external_reads(r, keys, &mut violations);
        if !committed.contains(&r.no) {
            // Aborted readers only have to read values someone wrote.
            for rd in &reads {
                if let Some(v) = &rd.value {
                    if !written.contains_key(v) {
                        violations.push(format!("T{} read {v:?}, which nobody wrote", r.no));
                    }
                }
            }
            continue;
        }
        // SNAPSHOT moves only before its first read; SERIALIZABLE may move after reads,
        // each of which must then still hold at the final snapshot (checked below).
        if isolation == IsolationLevel::Snapshot {
            let snapshots: BTreeSet<Timestamp> = reads.iter().map(|rd| rd.snapshot).collect();
            if snapshots.len() > 1 {
                violations.push(format!(
                    "T{} read at several snapshots: {snapshots:?}",
                    r.no
                ));
            }
        }
        for rd in reads {
            let vs = &versions[rd.key];
            // The timestamp bound of the read: every version it may see is at or below it.
            let bound = match isolation {
                IsolationLevel::ReadCommitted => rd.after,
                _ => rd.snapshot,
            };
            let index = match &rd.value {
                Some(v) => {
                    let Some(&(writer, k, last)) = written.get(v) else {
                        violations.push(format!("T{} read {v:?}, which nobody wrote", r.no));
                        continue;
                    };
                    if k != rd.key {
                        violations.push(format!(
                            "T{} read k{}'s value {v:?} at k{}",
                            r.no, k, rd.key
                        ));
                        continue;
                    }
                    if !committed.contains(&writer) {
                        violations.push(format!(
                            "G1a: T{} read {v:?} of aborted T{writer} ({:?})",
                            r.no,
                            by_no.get(&writer).map(|w| &w.outcome)
                        ));
                        continue;
                    }
                    if !last {
                        violations.push(format!(
                            "G1b: T{} read {v:?}, an intermediate write of T{writer}",
                            r.no
                        ));
                        continue;
                    }
                    match vs.iter().position(|x| x.writer == writer) {
                        Some(i) => i,
                        None => {
                            violations.push(format!("T{} read {v:?}, not a version", r.no));
                            continue;
                        }
                    }
                }
                None => {
                    let newest_absent = vs
                        .iter()
                        .rposition(|x| x.value.is_none() && x.ts <= bound)
                        .or_else(|| vs.iter().position(|x| x.value.is_none()));
                    match newest_absent {
                        Some(i) => i,
                        None => {
                            violations.push(format!(
                                "T{} read k{} as absent, but no delete of it committed",
                                r.no, rd.key
                            ));
                            continue;
                        }
                    }
                }
            };
            // The version the level promises.
            let (lo, hi) = match isolation {
                IsolationLevel::ReadCommitted => {
                    (visible_at(vs, rd.before), visible_at(vs, rd.after))
                }
                _ => (visible_at(vs, rd.snapshot), visible_at(vs, rd.snapshot)),
            };
            if isolation == IsolationLevel::Serializable && visible_at(vs, r.read_ts) != Some(index)
            {
                violations.push(format!(
                    "T{} read k{} at {:?}, and it changed before its final snapshot {:?}",
                    r.no, rd.key, rd.snapshot, r.read_ts
                ));
            }
            if !(lo.is_some_and(|lo| lo <= index) && hi.is_some_and(|hi| index <= hi)) {
                violations.push(format!(
                    "T{} read k{} = {:?} (version of T{} at {}), but at {:?} it should read a \
                     version from {:?} to {:?}; versions: {vs:?}",
                    r.no,
                    rd.key,
                    rd.value,
                    vs[index].writer,
                    vs[index].ts,
                    isolation,
                    lo.map(|i| (vs[i].writer, vs[i].ts)),
                    hi.map(|i| (vs[i].writer, vs[i].ts)),
                ));
            }
            let writer = vs[index].writer;
            if writer != r.no {
                edges.push(Edge {
                    from: writer,
                    to: r.no,
                    kind: Kind::Wr,
                    key: rd.key,
                });
            }
            if let Some(next) = vs.get(index + 1) {
                if next.writer != r.no {
                    edges.push(Edge {
                        from: r.no,
                        to: next.writer,
                        kind: Kind::Rw,
                        key: rd.key,
                    });
                }
            }
        }
    }
    Analysis {
        committed,
        versions,
        edges,
        violations,
    }
}

/// A cycle among the edges of the given kinds, as the list of its edges.
fn find_cycle(edges: &[Edge], kinds: &[Kind]) -> Option<Vec<Edge>> {
    let mut adj: BTreeMap<usize, Vec<Edge>> = BTreeMap::new();
    for e in edges.iter().filter(|e| kinds.contains(&e.kind)) {
        adj.entry(e.from).or_default().push(*e);
    }
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut colour: HashMap<usize, u8> = HashMap::new();
    fn visit(
        u: usize,
        adj: &BTreeMap<usize, Vec<Edge>>,
        colour: &mut HashMap<usize, u8>,
        path: &mut Vec<Edge>,
    ) -> Option<Vec<Edge>> {
        colour.insert(u, 1);
        for e in adj.get(&u).into_iter().flatten() {
            match colour.get(&e.to).copied().unwrap_or(0) {
                1 => {
                    let start = path
                        .iter()
                        .position(|p| p.from == e.to)
                        .unwrap_or(path.len());
                    let mut cycle = path[start..].to_vec();
                    cycle.push(*e);
                    return Some(cycle);
                }
                0 => {
                    path.push(*e);
                    if let Some(c) = visit(e.to, adj, colour, path) {
                        return Some(c);
                    }
                    path.pop();
                }
                _ => {}
            }
        }
        colour.insert(u, 2);
        None
    }
    let nodes: Vec<usize> = adj.keys().copied().collect();
    for n in nodes {
        if colour.get(&n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, &adj, &mut colour, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn describe_cycle(cycle: &[Edge], records: &[Record]) -> String {
    let mut s = String::new();
    if let Some(first) = cycle.first() {
        let _ = write!(s, "T{}", first.from);
    }
    for e in cycle {
        let _ = write!(s, " -{:?}(k{})-> T{}", e.kind, e.key, e.to);
    }
    s.push('\n');
    let involved: BTreeSet<usize> = cycle.iter().map(|e| e.from).collect();
    for r in records.iter().filter(|r| involved.contains(&r.no)) {
        let _ = writeln!(
            s,
            "  T{}: read_ts {} {:?}\n    {:?}",
            r.no, r.read_ts, r.outcome, r.events
        );
    }
    s
}

/// The engine holds exactly the committed writes: per key, one version at each committed
/// writer's commit timestamp with its last value, and nothing of aborted transactions.
fn check_storage(db: &Db, a: &Analysis, keys: usize) -> Vec<String> {
    let mut problems = Vec::new();
    for k in 0..keys {
        let mut stored = db.stored_versions(&key(k)).expect("stored versions");
        stored.reverse();
        let expected: Vec<Timestamp> = a.versions[k].iter().map(|v| v.ts).collect();
        if stored != expected {
            problems.push(format!(
                "k{k}: stored versions at {stored:?}, committed writes at {expected:?}"
            ));
            continue;
        }
        for v in &a.versions[k] {
            let mut snap = db.snapshot_at(v.ts).expect("snapshot_at");
            let got = snap.get(&key(k)).expect("get").as_deref().map(text);
            if got != v.value {
                problems.push(format!(
                    "k{k} at {}: stored {got:?}, T{} wrote {:?}",
                    v.ts, v.writer, v.value
                ));
            }
        }
    }
    problems
}

/// Runs one workload at `isolation` and checks its history.
///
/// Why acyclic at SERIALIZABLE: a committed writer T read at `read_ts(T)` (its snapshot
/// once it first read; checked to be one timestamp for all its reads) and commit-time
/// validation proved no key it read or range it scanned changed in `(read_ts(T),
/// commit_ts(T)]`, so T read exactly what it would have read at `commit_ts(T)`; a read-only
/// T read at `read_ts(T)`. Ordering writers by commit timestamp and read-only transactions
/// by read timestamp is then a serial order in which every edge points forward, so any
/// cycle is a bug. At SNAPSHOT and READ COMMITTED, ww and wr edges still point forward in
/// commit-timestamp order (versions are ordered that way, and a committed version is read
/// only after its commit), so G0 and G1c cycles are bugs too; rw edges may point backward
/// (write skew), which is allowed there.
fn check(isolation: IsolationLevel, w: &Workload) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(
        dir.path(),
        DbOptions {
            sync_commits: false,
            ..DbOptions::default()
        },
    )
    .expect("open");
    let records = run(&db, isolation, w);
    let a = analyse(&records, w.keys, isolation);
    let history = || {
        records
            .iter()
            .map(|r| {
                format!(
                    "  T{}: read_ts {} {:?}\n    {:?}",
                    r.no, r.read_ts, r.outcome, r.events
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut problems = a.violations.clone();
    problems.extend(check_storage(&db, &a, w.keys));
    if !problems.is_empty() {
        return Err(TestCaseError::fail(format!(
            "{isolation:?}: {}\nhistory:\n{}",
            problems.join("\n"),
            history()
        )));
    }
    let checks: &[(&str, &[Kind])] = match isolation {
        IsolationLevel::Serializable => &[
            ("G0", &[Kind::Ww]),
            ("G1c", &[Kind::Ww, Kind::Wr]),
            ("G2 (dependency cycle)", &[Kind::Ww, Kind::Wr, Kind::Rw]),
        ],
        _ => &[("G0", &[Kind::Ww]), ("G1c", &[Kind::Ww, Kind::Wr])],
    };
    for (name, kinds) in checks {
        if let Some(cycle) = find_cycle(&a.edges, kinds) {
            return Err(TestCaseError::fail(format!(
                "{isolation:?}: {name}: {}\nhistory:\n{}",
                describe_cycle(&cycle, &records),
                history()
            )));
        }
    }
    let aborted = records.len() - a.committed.len();
    let count = |k: Kind| a.edges.iter().filter(|e| e.kind == k).count();
    println!(
        "{isolation:?}: {} txns, {aborted} aborted; edges ww {} wr {} rw {}",
        records.len(),
        count(Kind::Ww),
        count(Kind::Wr),
        count(Kind::Rw)
    );
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("CAIRN_SERIAL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    ProptestConfig {
        cases,
        failure_persistence: None,
        // Runs are not repeatable (thread timing), so long shrinking rarely pays.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn serializable_histories_have_acyclic_dependency_graphs(w in workload()) {
        check(IsolationLevel::Serializable, &w)?;
    }

    #[test]
    fn snapshot_histories_have_no_g0_or_g1(w in workload()) {
        check(IsolationLevel::Snapshot, &w)?;
    }

    #[test]
    fn read_committed_histories_have_no_g0_or_g1(w in workload()) {
        check(IsolationLevel::ReadCommitted, &w)?;
    }
}

// ---------------------------------------------------------------------------------------
// The checker catches what it should.

/// A write skew, interleaved by hand: at SNAPSHOT both transactions commit and the graph has
/// the rw cycle; at SERIALIZABLE the second commit fails and the graph is acyclic.
#[test]
fn checker_finds_write_skew_cycle_at_snapshot_only() {
    for isolation in [IsolationLevel::Snapshot, IsolationLevel::Serializable] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(
            dir.path(),
            DbOptions {
                sync_commits: false,
                ..DbOptions::default()
            },
        )
        .expect("open");
        let mut records = vec![setup(&db, &[true, true])];
        let mut t1 = Recorder::begin(&db, isolation, 1);
        let mut t2 = Recorder::begin(&db, isolation, 2);
        for op in [Op::Get(0), Op::Get(1)] {
            assert!(t1.step(op) && t2.step(op));
        }
        assert!(t1.step(Op::Put(0)));
        assert!(t2.step(Op::Put(1)));
        records.push(t1.commit());
        records.push(t2.commit());
        let a = analyse(&records, 2, isolation);
        assert!(a.violations.is_empty(), "{:?}", a.violations);
        assert!(check_storage(&db, &a, 2).is_empty());
        assert!(find_cycle(&a.edges, &[Kind::Ww, Kind::Wr]).is_none());
        let cycle = find_cycle(&a.edges, &[Kind::Ww, Kind::Wr, Kind::Rw]);
        match isolation {
            IsolationLevel::Snapshot => {
                let cycle = cycle.expect("write skew at SNAPSHOT is a dependency cycle");
                assert!(cycle.iter().all(|e| e.kind == Kind::Rw), "{cycle:?}");
                assert_eq!(cycle.len(), 2, "{cycle:?}");
            }
            _ => {
                assert!(cycle.is_none(), "{cycle:?}");
                assert!(
                    matches!(records[2].outcome, Outcome::Aborted(_)),
                    "{:?}",
                    records[2]
                );
            }
        }
    }
}

/// Hand-made histories: a read of an aborted write (G1a), of an overwritten write (G1b), and
/// a ww + wr cycle (G1c).
#[test]
fn checker_flags_g1a_g1b_and_g1c() {
    let ts = |n: u64| Timestamp::new(n, 0);
    let put = |key, value: &str| Event::Put {
        key,
        value: value.to_string(),
    };
    let get = |key, value: &str, at: u64| Event::Get {
        key,
        value: Some(value.to_string()),
        before: ts(at),
        after: ts(at),
        snapshot: ts(at),
    };
    let rec = |no, read_ts: u64, events, outcome| Record {
        no,
        read_ts: ts(read_ts),
        events,
        outcome,
    };
    let setup = rec(
        0,
        1,
        vec![put(0, "t0:k0:0"), put(1, "t0:k1:1")],
        Outcome::Committed(Some(ts(10))),
    );

    let dirty = vec![
        setup.clone(),
        rec(
            1,
            11,
            vec![put(0, "t1:k0:0")],
            Outcome::Aborted("conflict".into()),
        ),
        rec(2, 12, vec![get(0, "t1:k0:0", 12)], Outcome::Committed(None)),
    ];
    let a = analyse(&dirty, 2, IsolationLevel::ReadCommitted);
    assert!(
        a.violations.iter().any(|v| v.starts_with("G1a")),
        "{:?}",
        a.violations
    );

    let intermediate = vec![
        setup.clone(),
        rec(
            1,
            11,
            vec![put(0, "t1:k0:0"), put(0, "t1:k0:1")],
            Outcome::Committed(Some(ts(20))),
        ),
        rec(2, 30, vec![get(0, "t1:k0:0", 30)], Outcome::Committed(None)),
    ];
    let a = analyse(&intermediate, 2, IsolationLevel::ReadCommitted);
    assert!(
        a.violations.iter().any(|v| v.starts_with("G1b")),
        "{:?}",
        a.violations
    );

    // T1 writes k0 before T2 does (ww T1 -> T2) yet reads T2's k1 (wr T2 -> T1).
    let circular = vec![
        setup,
        rec(
            1,
            11,
            vec![get(1, "t2:k1:1", 25), put(0, "t1:k0:0")],
            Outcome::Committed(Some(ts(20))),
        ),
        rec(
            2,
            11,
            vec![put(0, "t2:k0:0"), put(1, "t2:k1:1")],
            Outcome::Committed(Some(ts(30))),
        ),
    ];
    let a = analyse(&circular, 2, IsolationLevel::ReadCommitted);
    let cycle = find_cycle(&a.edges, &[Kind::Ww, Kind::Wr]).expect("G1c cycle");
    assert_eq!(cycle.len(), 2, "{cycle:?}");
    assert!(find_cycle(&a.edges, &[Kind::Ww]).is_none());
}

//! Linearizability checker for read/write/compare-and-set registers.
//!
//! **What**: decides whether a register history is linearizable, key by key, and explains a
//! violation (the operation at which the history stops being linearizable, a minimal window of
//! operations around it, the longest partial linearization found).
//! **Role**: called by [`crate::run_cli`] for `--workload register`; reads a parsed
//! [`History`]; calls nothing else of ours.
//!
//! **Model.** Each key is an independent register (P-compositionality: a history is
//! linearizable iff each key's sub-history is), initially `null` or the `--initial` value.
//! Operations: `read` (ok value = value read), `write v`, `cas [e, n]`. `fail`ed operations are
//! dropped, reads that did not complete `ok` are dropped, and `info` (or never completed)
//! writes and cas are *optional*: they may take effect at any moment after their invocation,
//! even after their `info` line, or never. Operation A must precede B when A completed strictly
//! before B was invoked (`A.complete_time < B.invoke_time`); equal times are concurrent.
//!
//! **Search** (`search`): a depth-first search over configurations `(L, v)`, where `L` is the
//! set of operations linearized so far and `v` the register value, in the style of Wing & Gong
//! and Lowe, with two refinements:
//! - *just-in-time linearization*: the next operation that *must* be linearized is the `ok`
//!   operation with the earliest completion not yet in `L` (call it `o`); the choices are `o`
//!   itself or any operation not in `L` that was invoked no later than `o` completed (which
//!   therefore may come before `o`). An optional operation is never forced, so "it never took
//!   effect" needs no branch;
//! - *eager state-preserving steps*: an operation that is legal now and leaves the value
//!   unchanged wherever it is legal (a read of `v`, a cas `[v, v]`; *not* a write of `v`, which
//!   may be needed later to overwrite another value) is linearized immediately without
//!   branching. Moving it earlier to "now" never breaks a linearization: everything that must
//!   precede it is already in `L` (it was invoked before `o` completed and `o` completes first
//!   among the rest), and removing it from its later place changes no value.
//!
//! - *no unused optional operation before a write*: linearizing an optional operation and then,
//!   before anything observed its effect, a blind write is equivalent to never linearizing the
//!   optional one; such branches are skipped (and their failures, being relative to that rule,
//!   are not memoised). For the same reason an optional write or cas is only tried when the
//!   value it sets is one that some remaining candidate reads or expects.
//!
//! The outcome from `(L, v)` does not depend on where in the history the search is (the forced
//! operation is a function of `L`), so failed configurations are memoised. The memo is keyed by
//! the `ok` part of `L` and `v`, and holds the optional part of `L` as a set: a configuration
//! whose optional part is a *superset* of a failed one also fails (it has fewer optional
//! operations left, and optional operations are never required). This subsumption is what keeps
//! pending `info` writes from multiplying the search on failing branches.
//!
//! **Explaining a violation**: linearizability of a prefix of the history (events up to the
//! completion of the r-th `ok` operation in completion order, operations still in flight then
//! made optional) is monotone in r, so a binary search finds the first failing prefix; its last
//! completion is *the* failing operation. A window starting at time T keeps the operations
//! invoked at or after T, makes those invoked earlier but not completed by T optional (reads
//! among them are dropped) and starts from an unknown register value. If a window has no
//! linearization neither has the prefix, and the property is monotone in T, so a second binary
//! search finds the latest start. If even the whole prefix has a linearization from an unknown
//! value, the window is the whole prefix with the known initial value.
//!
//! **Invariants**
//! 1. A history produced by a linearizable register is reported linearizable (property test
//!    `it::register_prop::simulated_register_histories_are_linearizable`).
//! 2. A read of a value never written, and a stale read strictly after a newer write completed,
//!    are violations (`it::register_prop::*_is_rejected` and the hand-written cases).
//! 3. The search performs at most `max_steps` branch steps per key search; beyond it the key is
//!    `unknown`, never guessed (`it::register::step_budget_gives_unknown`).
//!
//! **Concurrency**: single-threaded; keys are checked one after the other.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use crate::error::{CheckError, Malformed};
use crate::history::{canonical, History, Op, Outcome};

/// Options of the register checker.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// Value of every register before the first write.
    pub initial: Value,
    /// Branch steps allowed per search before the verdict is `unknown`.
    pub max_steps: u64,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions {
            initial: Value::Null,
            max_steps: 10_000_000,
        }
    }
}

/// Verdict of a checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Linearizable (register) or no anomaly found (bank, list-append).
    Valid,
    /// A violation was found.
    Invalid,
    /// The search budget ran out before a decision.
    Unknown,
}

/// One operation as shown in a report.
#[derive(Debug, Clone, Serialize)]
pub struct OpView {
    pub process: i64,
    pub f: String,
    /// The invocation's argument.
    pub value: Value,
    /// The `ok` result, `null` otherwise.
    pub result: Value,
    pub outcome: Outcome,
    /// True when the operation may or may not have taken effect in the window (shown as `?`).
    pub maybe: bool,
    pub invoke_line: usize,
    pub complete_line: Option<usize>,
    pub invoke_time: u64,
    pub complete_time: Option<u64>,
}

/// Explanation of a key that is not linearizable.
#[derive(Debug, Clone, Serialize)]
pub struct Counterexample {
    /// The operation at whose completion the key's history stops being linearizable.
    pub op: OpView,
    /// The minimal window around it, in invocation order.
    pub window: Vec<OpView>,
    /// Register value at the window's start; `None` when unknown (any value).
    pub window_initial: Option<Value>,
    /// The longest partial linearization of the window found, in linearization order.
    pub longest_linearization: Vec<OpView>,
    /// Number of `ok` operations in the window (the longest partial linearization holds fewer).
    pub window_ok_count: usize,
    /// True when a search step budget ran out while explaining, so the window or failing
    /// operation may not be minimal.
    pub approximate: bool,
}

/// Result for one key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub key: Value,
    pub verdict: Verdict,
    /// Operations of the key that take part in the check (`ok` ones and optional ones).
    pub op_count: usize,
    /// Branch steps of the main search.
    pub steps: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Counterexample>,
}

/// Result of the register checker.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterReport {
    pub verdict: Verdict,
    pub key_count: usize,
    pub op_count: usize,
    /// Keys that are not linearizable or unknown (linearizable keys are not listed).
    pub keys: Vec<KeyReport>,
}

/// Checks a register history.
pub fn check(history: &History, options: &RegisterOptions) -> Result<RegisterReport, CheckError> {
    let mut values = Interner::default();
    let initial = values.intern(&options.initial);
    // Keys in order of first appearance.
    let mut key_order: Vec<(String, Value)> = Vec::new();
    let mut by_key: HashMap<String, Vec<RegOp>> = HashMap::new();
    for (hist, op) in history.ops.iter().enumerate() {
        let Some(reg) = RegOp::from_op(hist, op, &mut values)? else {
            continue;
        };
        let key = op.key.clone().unwrap_or(Value::Null);
        let name = canonical(&key);
        by_key
            .entry(name.clone())
            .or_insert_with(|| {
                key_order.push((name, key));
                Vec::new()
            })
            .push(reg);
    }

    let mut report = RegisterReport {
        verdict: Verdict::Valid,
        key_count: key_order.len(),
        op_count: 0,
        keys: Vec::new(),
    };
    for (name, key) in key_order {
        let ops = by_key.remove(&name).unwrap_or_default();
        report.op_count += ops.len();
        let key_report = check_key(key, &ops, initial, options, history, &values);
        match key_report.verdict {
            Verdict::Valid => {}
            Verdict::Invalid => {
                report.verdict = Verdict::Invalid;
                report.keys.push(key_report);
            }
            Verdict::Unknown => {
                if report.verdict == Verdict::Valid {
                    report.verdict = Verdict::Unknown;
                }
                report.keys.push(key_report);
            }
        }
    }
    Ok(report)
}

/// Interned register values: equal values (by canonical form) get equal ids.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    values: Vec<Value>,
}

impl Interner {
    fn intern(&mut self, value: &Value) -> u32 {
        let name = canonical(value);
        if let Some(&id) = self.ids.get(&name) {
            return id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(name, id);
        self.values.push(value.clone());
        id
    }

    fn value(&self, id: u32) -> Value {
        self.values.get(id as usize).cloned().unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum State {
    Known(u32),
    /// Any value: the first operation that depends on it decides it.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read(u32),
    Write(u32),
    Cas(u32, u32),
}

impl Kind {
    /// The register value after applying `self` in `state`, or `None` if illegal there.
    fn apply(self, state: State) -> Option<State> {
        match (self, state) {
            (Kind::Read(x), State::Known(v)) => (x == v).then_some(state),
            (Kind::Read(x), State::Unknown) => Some(State::Known(x)),
            (Kind::Write(x), _) => Some(State::Known(x)),
            (Kind::Cas(e, n), State::Known(v)) => (e == v).then_some(State::Known(n)),
            (Kind::Cas(_, n), State::Unknown) => Some(State::Known(n)),
        }
    }

    /// Whether the operation leaves the value unchanged wherever it is legal (a read, a cas
    /// `[x, x]`). A write of the current value does not qualify: placed later, it may
    /// overwrite another value.
    fn never_changes_state(self) -> bool {
        match self {
            Kind::Read(_) => true,
            Kind::Cas(e, n) => e == n,
            Kind::Write(_) => false,
        }
    }

    fn is_read(self) -> bool {
        matches!(self, Kind::Read(_))
    }
}

/// A register operation of one key.
#[derive(Debug, Clone, Copy)]
struct RegOp {
    /// Index in `History::ops`.
    hist: usize,
    kind: Kind,
    invoke: u64,
    /// Completion time for `ok` operations; `None` for optional ones.
    complete: Option<u64>,
}

impl RegOp {
    /// The register operation of `op`, or `None` when it takes no part in the check.
    fn from_op(hist: usize, op: &Op, values: &mut Interner) -> Result<Option<RegOp>, CheckError> {
        let kind = match op.f.as_str() {
            "read" => {
                if op.outcome != Outcome::Ok {
                    return Ok(None);
                }
                Kind::Read(values.intern(&op.complete_value))
            }
            "write" => Kind::Write(values.intern(&op.invoke_value)),
            "cas" => match &op.invoke_value {
                Value::Array(pair) if pair.len() == 2 => match (pair.first(), pair.get(1)) {
                    (Some(e), Some(n)) => Kind::Cas(values.intern(e), values.intern(n)),
                    _ => return Err(bad_cas(op)),
                },
                _ => return Err(bad_cas(op)),
            },
            other => {
                return Err(CheckError::at(
                    op.invoke_line,
                    Malformed::UnknownFunction {
                        workload: "register",
                        f: other.to_owned(),
                        expected: "read, write or cas",
                    },
                ))
            }
        };
        let complete = match op.outcome {
            Outcome::Fail => return Ok(None),
            Outcome::Info => None,
            Outcome::Ok => op.complete_time,
        };
        Ok(Some(RegOp {
            hist,
            kind,
            invoke: op.invoke_time,
            complete,
        }))
    }

    fn optional(self) -> RegOp {
        RegOp {
            complete: None,
            ..self
        }
    }
}

fn bad_cas(op: &Op) -> CheckError {
    CheckError::at(
        op.invoke_line,
        Malformed::BadValue {
            f: "cas",
            expected: "a pair [expected, new]",
        },
    )
}

/// A fixed-size bit set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bits {
    words: Vec<u64>,
}

impl Bits {
    fn new(len: usize) -> Bits {
        Bits {
            words: vec![0; len.div_ceil(64)],
        }
    }

    fn get(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize, on: bool) {
        if let Some(w) = self.words.get_mut(i / 64) {
            if on {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }

    /// Index of the first clear bit at or after `from`'s word, or `len` rounded up.
    fn first_clear(&self, from: usize) -> usize {
        let mut word = from / 64;
        while let Some(&w) = self.words.get(word) {
            if w != u64::MAX {
                return word * 64 + (!w).trailing_zeros() as usize;
            }
            word += 1;
        }
        self.words.len() * 64
    }

    /// A compact memo key: the index of the first word not full, then the words from there up
    /// to the last non-zero one. Words before the first non-full word are all ones, so this
    /// identifies the set.
    fn compact(&self) -> Box<[u64]> {
        let first = self
            .words
            .iter()
            .position(|&w| w != u64::MAX)
            .unwrap_or(self.words.len());
        let last = self
            .words
            .iter()
            .rposition(|&w| w != 0)
            .map_or(0, |i| i + 1);
        let mut out = Vec::with_capacity(1 + last.saturating_sub(first));
        out.push(first as u64);
        if let Some(tail) = self.words.get(first..last) {
            out.extend_from_slice(tail);
        }
        out.into_boxed_slice()
    }

    fn trimmed(&self) -> Box<[u64]> {
        let last = self
            .words
            .iter()
            .rposition(|&w| w != 0)
            .map_or(0, |i| i + 1);
        self.words.get(..last).unwrap_or(&[]).into()
    }

    /// Whether the set `sub` (as returned by [`Bits::trimmed`]) is a subset of `self`.
    fn contains_all(&self, sub: &[u64]) -> bool {
        sub.iter()
            .enumerate()
            .all(|(i, &w)| w & !self.words.get(i).copied().unwrap_or(0) == 0)
    }
}

/// Reference to an operation of a [`Problem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Index into `Problem::required` (an `ok` operation).
    Required(usize),
    /// Index into `Problem::optional`.
    Optional(usize),
}

/// One search problem: the operations of a key (or of a prefix or window of it).
struct Problem {
    /// `ok` operations, sorted by completion time (then invocation time, then history index).
    required: Vec<RegOp>,
    /// Completion time of each required operation.
    required_complete: Vec<u64>,
    /// Optional operations, sorted by invocation time.
    optional: Vec<RegOp>,
    /// For required operation i: the required operations j > i invoked no later than i completed.
    overlap: Vec<Vec<usize>>,
    initial: State,
}

impl Problem {
    fn new(mut required: Vec<RegOp>, mut optional: Vec<RegOp>, initial: State) -> Problem {
        required.sort_by_key(|op| (op.complete.unwrap_or(u64::MAX), op.invoke, op.hist));
        optional.sort_by_key(|op| (op.invoke, op.hist));
        let required_complete: Vec<u64> = required
            .iter()
            .map(|op| op.complete.unwrap_or(u64::MAX))
            .collect();
        // Sweep over invocation and completion events; at equal times invocations come first,
        // because equal times are concurrent.
        let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(required.len() * 2);
        for (i, op) in required.iter().enumerate() {
            events.push((op.invoke, 0, i));
            events.push((required_complete.get(i).copied().unwrap_or(u64::MAX), 1, i));
        }
        events.sort_unstable();
        let mut active: BTreeSet<usize> = BTreeSet::new();
        let mut overlap = vec![Vec::new(); required.len()];
        for (_, kind, i) in events {
            if kind == 0 {
                active.insert(i);
            } else {
                active.remove(&i);
                if let Some(list) = overlap.get_mut(i) {
                    list.extend(active.range(i + 1..).copied());
                }
            }
        }
        Problem {
            required,
            required_complete,
            optional,
            overlap,
            initial,
        }
    }

    fn op(&self, slot: Slot) -> RegOp {
        let op = match slot {
            Slot::Required(i) => self.required.get(i),
            Slot::Optional(i) => self.optional.get(i),
        };
        op.copied().unwrap_or(RegOp {
            hist: 0,
            kind: Kind::Read(0),
            invoke: 0,
            complete: None,
        })
    }

    /// Number of optional operations invoked no later than `time`.
    fn optional_invoked_by(&self, time: u64) -> usize {
        self.optional.partition_point(|op| op.invoke <= time)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchOutcome {
    Linearizable,
    NotLinearizable,
    Unknown,
}

struct SearchResult {
    outcome: SearchOutcome,
    steps: u64,
    /// The longest partial linearization (most required operations), when asked for.
    longest: Vec<Slot>,
}

struct Frame {
    /// Operations linearized on entering this configuration, in order.
    added: Vec<Slot>,
    /// Register value before `added`.
    previous: State,
    /// Branches still to try: an operation and the value after it.
    choices: Vec<(Slot, State)>,
    next: usize,
    /// Entered by an unused optional operation, so writes were not tried (see `enter`).
    restricted: bool,
}

enum Entered {
    /// Every required operation is linearized.
    Done,
    /// The configuration is known to fail; `added` must be undone.
    Dead(Vec<Slot>),
    Open(Frame),
}

/// Failed configurations: compact required set (see [`Bits::compact`]) -> pairs of register
/// value and optional set (see [`Bits::trimmed`]).
type FailedMemo = HashMap<Box<[u64]>, Vec<(State, Box<[u64]>)>>;

struct Searcher<'p> {
    problem: &'p Problem,
    required_set: Bits,
    optional_set: Bits,
    required_count: usize,
    state: State,
    /// Failed configurations.
    failed: FailedMemo,
}

impl<'p> Searcher<'p> {
    fn mark(&mut self, slot: Slot, on: bool) {
        match slot {
            Slot::Required(i) => {
                self.required_set.set(i, on);
                if on {
                    self.required_count += 1;
                } else {
                    self.required_count -= 1;
                }
            }
            Slot::Optional(i) => self.optional_set.set(i, on),
        }
    }

    fn is_marked(&self, slot: Slot) -> bool {
        match slot {
            Slot::Required(i) => self.required_set.get(i),
            Slot::Optional(i) => self.optional_set.get(i),
        }
    }

    fn undo(&mut self, added: &[Slot], previous: State) {
        for &slot in added {
            self.mark(slot, false);
        }
        self.state = previous;
    }

    /// The operations that may be linearized next, given the forced operation `forced`:
    /// `forced` itself, the required operations overlapping its completion, and the optional
    /// operations invoked by then. Only unmarked ones.
    fn candidates(&self, forced: usize) -> Vec<Slot> {
        let p = self.problem;
        let time = p.required_complete.get(forced).copied().unwrap_or(u64::MAX);
        let mut out = vec![Slot::Required(forced)];
        if let Some(list) = p.overlap.get(forced) {
            out.extend(
                list.iter()
                    .map(|&j| Slot::Required(j))
                    .filter(|&s| !self.is_marked(s)),
            );
        }
        out.extend(
            (0..p.optional_invoked_by(time))
                .map(Slot::Optional)
                .filter(|&s| !self.is_marked(s)),
        );
        out
    }

    /// Enters the configuration reached by linearizing `chosen` (if any) from the current one.
    fn enter(&mut self, chosen: Option<(Slot, State)>) -> Entered {
        let mut added = Vec::new();
        if let Some((slot, next)) = chosen {
            self.mark(slot, true);
            added.push(slot);
            self.state = next;
        }
        let n = self.problem.required.len();
        // Eager state-preserving steps, until the forced operation stays the same.
        let forced = loop {
            let forced = self.required_set.first_clear(0);
            if forced >= n {
                return Entered::Done;
            }
            let mut forced_done = false;
            for slot in self.candidates(forced) {
                let kind = self.problem.op(slot).kind;
                if kind.never_changes_state()
                    && self.state != State::Unknown
                    && kind.apply(self.state) == Some(self.state)
                {
                    self.mark(slot, true);
                    added.push(slot);
                    forced_done |= slot == Slot::Required(forced);
                }
            }
            if !forced_done {
                break forced;
            }
        };
        let key = self.required_set.compact();
        if let Some(entries) = self.failed.get(&key) {
            if entries
                .iter()
                .any(|(state, sub)| *state == self.state && self.optional_set.contains_all(sub))
            {
                return Entered::Dead(added);
            }
        }
        // An optional operation that nothing has used yet (no eager step followed it) is
        // pointless if a blind write comes next: dropping it gives the same run. So after one,
        // writes are not tried. The configuration's failure is then relative to how it was
        // reached, and is not memoised.
        let restricted = matches!(chosen, Some((Slot::Optional(_), _))) && added.len() == 1;
        let candidates = self.candidates(forced);
        // Values some candidate needs to find in the register (a read's value, a cas's
        // expected value). By the rule above, an optional operation setting a value nobody
        // here needs would be followed by nothing at all, so it is not tried.
        let needed: HashSet<u32> = candidates
            .iter()
            .filter_map(|&slot| match self.problem.op(slot).kind {
                Kind::Read(x) | Kind::Cas(x, _) => Some(x),
                Kind::Write(_) => None,
            })
            .collect();
        let mut choices = Vec::new();
        for slot in candidates {
            let kind = self.problem.op(slot).kind;
            if restricted && matches!(kind, Kind::Write(_)) {
                continue;
            }
            if let (Slot::Optional(_), Kind::Write(x) | Kind::Cas(_, x)) = (slot, kind) {
                if !needed.contains(&x) {
                    continue;
                }
            }
            // A read is only ever linearized by the eager step, unless the value is unknown:
            // a read that is not legal now cannot become legal by being chosen.
            if let Some(next) = kind.apply(self.state) {
                choices.push((slot, next));
            }
        }
        if choices.is_empty() {
            if !restricted {
                self.remember_failed();
            }
            return Entered::Dead(added);
        }
        Entered::Open(Frame {
            added,
            previous: State::Unknown, // set by the caller
            choices,
            next: 0,
            restricted,
        })
    }

    fn remember_failed(&mut self) {
        let key = self.required_set.compact();
        let entry = (self.state, self.optional_set.trimmed());
        self.failed.entry(key).or_default().push(entry);
    }
}

/// Depth-first search for a linearization of `problem`.
fn search(problem: &Problem, max_steps: u64, track_longest: bool) -> SearchResult {
    let mut s = Searcher {
        problem,
        required_set: Bits::new(problem.required.len()),
        optional_set: Bits::new(problem.optional.len()),
        required_count: 0,
        state: problem.initial,
        failed: HashMap::new(),
    };
    let mut result = SearchResult {
        outcome: SearchOutcome::NotLinearizable,
        steps: 0,
        longest: Vec::new(),
    };
    let mut best = 0usize;
    let mut stack: Vec<Frame> = Vec::new();
    let initial = s.state;
    match s.enter(None) {
        Entered::Done => {
            result.outcome = SearchOutcome::Linearizable;
            return result;
        }
        Entered::Dead(added) => {
            if track_longest {
                result.longest = added;
            }
            return result;
        }
        Entered::Open(mut frame) => {
            frame.previous = initial;
            stack.push(frame);
        }
    }
    if track_longest {
        best = s.required_count;
        result.longest = stack.iter().flat_map(|f| f.added.iter().copied()).collect();
    }
    loop {
        let Some(top) = stack.last_mut() else {
            return result;
        };
        if let Some(&choice) = top.choices.get(top.next) {
            top.next += 1;
            result.steps += 1;
            if result.steps > max_steps {
                result.outcome = SearchOutcome::Unknown;
                return result;
            }
            let previous = s.state;
            let entered = s.enter(Some(choice));
            if track_longest && s.required_count > best {
                best = s.required_count;
                let mut seq: Vec<Slot> =
                    stack.iter().flat_map(|f| f.added.iter().copied()).collect();
                match &entered {
                    Entered::Dead(added) => seq.extend(added.iter().copied()),
                    Entered::Open(frame) => seq.extend(frame.added.iter().copied()),
                    Entered::Done => {}
                }
                result.longest = seq;
            }
            match entered {
                Entered::Done => {
                    result.outcome = SearchOutcome::Linearizable;
                    return result;
                }
                Entered::Dead(added) => s.undo(&added, previous),
                Entered::Open(mut frame) => {
                    frame.previous = previous;
                    stack.push(frame);
                }
            }
        } else {
            if !top.restricted {
                s.remember_failed();
            }
            if let Some(frame) = stack.pop() {
                s.undo(&frame.added, frame.previous);
            }
        }
    }
}

fn check_key(
    key: Value,
    ops: &[RegOp],
    initial: u32,
    options: &RegisterOptions,
    history: &History,
    values: &Interner,
) -> KeyReport {
    let (required, optional): (Vec<RegOp>, Vec<RegOp>) =
        ops.iter().partition(|op| op.complete.is_some());
    let problem = Problem::new(required, optional, State::Known(initial));
    let result = search(&problem, options.max_steps, false);
    let mut report = KeyReport {
        key,
        verdict: match result.outcome {
            SearchOutcome::Linearizable => Verdict::Valid,
            SearchOutcome::NotLinearizable => Verdict::Invalid,
            SearchOutcome::Unknown => Verdict::Unknown,
        },
        op_count: ops.len(),
        steps: result.steps,
        counterexample: None,
    };
    if report.verdict == Verdict::Invalid {
        report.counterexample = Some(explain(&problem, options.max_steps, history, values));
    }
    report
}

/// The prefix of `full` up to the completion of its r-th required operation.
fn prefix(full: &Problem, r: usize) -> Problem {
    let time = full.required_complete.get(r).copied().unwrap_or(u64::MAX);
    let required: Vec<RegOp> = full.required.iter().take(r + 1).copied().collect();
    let mut optional: Vec<RegOp> = full
        .required
        .iter()
        .skip(r + 1)
        .filter(|op| op.invoke <= time && !op.kind.is_read())
        .map(|op| op.optional())
        .collect();
    optional.extend(full.optional.iter().filter(|op| op.invoke <= time).copied());
    Problem::new(required, optional, full.initial)
}

/// The window of `problem` starting at `start`, from an unknown value.
fn window(problem: &Problem, start: u64) -> Problem {
    let mut required = Vec::new();
    let mut optional = Vec::new();
    for (op, &complete) in problem.required.iter().zip(&problem.required_complete) {
        if op.invoke >= start {
            required.push(*op);
        } else if complete >= start && !op.kind.is_read() {
            optional.push(op.optional());
        }
    }
    optional.extend(problem.optional.iter().copied());
    Problem::new(required, optional, State::Unknown)
}

fn explain(full: &Problem, max_steps: u64, history: &History, values: &Interner) -> Counterexample {
    let mut approximate = false;
    // Smallest r whose prefix fails; the whole history fails, so r = len - 1 does.
    let (mut lo, mut hi) = (0usize, full.required.len().saturating_sub(1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match search(&prefix(full, mid), max_steps, false).outcome {
            SearchOutcome::NotLinearizable => hi = mid,
            SearchOutcome::Linearizable => lo = mid + 1,
            SearchOutcome::Unknown => {
                approximate = true;
                lo = mid + 1;
            }
        }
    }
    let failing = prefix(full, hi);
    let failing_op = full.required.get(hi).copied();

    // Latest window start (an invocation time of a required op, at most the failing op's).
    let limit = failing_op.map_or(0, |op| op.invoke);
    let mut starts: Vec<u64> = failing
        .required
        .iter()
        .map(|op| op.invoke)
        .filter(|&t| t <= limit)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let fails = |start: u64, approximate: &mut bool| match search(
        &window(&failing, start),
        max_steps,
        false,
    )
    .outcome
    {
        SearchOutcome::NotLinearizable => true,
        SearchOutcome::Linearizable => false,
        SearchOutcome::Unknown => {
            *approximate = true;
            false
        }
    };
    let chosen = match starts.first() {
        Some(&earliest) if fails(earliest, &mut approximate) => {
            // Largest index whose window still fails; index 0 does.
            let (mut lo, mut hi) = (0usize, starts.len() - 1);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if fails(starts.get(mid).copied().unwrap_or(0), &mut approximate) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            Some(window(&failing, starts.get(lo).copied().unwrap_or(0)))
        }
        _ => None,
    };
    let shown = chosen.unwrap_or(failing);
    let longest = search(&shown, max_steps, true);
    if longest.outcome == SearchOutcome::Unknown {
        approximate = true;
    }

    let view = |op: RegOp, maybe: bool| op_view(history, op.hist, maybe);
    let mut window_ops: Vec<(RegOp, bool)> = shown
        .required
        .iter()
        .map(|op| (*op, false))
        .chain(shown.optional.iter().map(|op| (*op, true)))
        .collect();
    window_ops.sort_by_key(|(op, _)| (op.invoke, op.hist));
    Counterexample {
        op: failing_op.map_or_else(|| op_view(history, 0, false), |op| view(op, false)),
        window: window_ops
            .into_iter()
            .map(|(op, maybe)| view(op, maybe))
            .collect(),
        window_initial: match shown.initial {
            State::Known(id) => Some(values.value(id)),
            State::Unknown => None,
        },
        longest_linearization: longest
            .longest
            .iter()
            .map(|&slot| view(shown.op(slot), matches!(slot, Slot::Optional(_))))
            .collect(),
        window_ok_count: shown.required.len(),
        approximate,
    }
}

fn op_view(history: &History, hist: usize, maybe: bool) -> OpView {
    match history.ops.get(hist) {
        Some(op) => OpView {
            process: op.process,
            f: op.f.clone(),
            value: op.invoke_value.clone(),
            result: if op.outcome == Outcome::Ok {
                op.complete_value.clone()
            } else {
                Value::Null
            },
            outcome: op.outcome,
            maybe,
            invoke_line: op.invoke_line,
            complete_line: op.complete_line,
            invoke_time: op.invoke_time,
            complete_time: op.complete_time,
        },
        None => OpView {
            process: 0,
            f: String::new(),
            value: Value::Null,
            result: Value::Null,
            outcome: Outcome::Info,
            maybe,
            invoke_line: 0,
            complete_line: None,
            invoke_time: 0,
            complete_time: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(hist: usize, kind: Kind, invoke: u64, complete: Option<u64>) -> RegOp {
        RegOp {
            hist,
            kind,
            invoke,
            complete,
        }
    }

    #[test]
    fn overlap_lists_ops_invoked_by_each_completion() {
        // a: [0,10], b: [5,20], c: [10,30] (c invoked exactly when a completes: concurrent),
        // d: [11,12].
        let p = Problem::new(
            vec![
                op(0, Kind::Write(1), 0, Some(10)),
                op(1, Kind::Write(2), 5, Some(20)),
                op(2, Kind::Write(3), 10, Some(30)),
                op(3, Kind::Write(4), 11, Some(12)),
            ],
            vec![],
            State::Known(0),
        );
        // Completion order: a(10), d(12), b(20), c(30).
        assert_eq!(p.overlap[0], vec![2, 3]); // b and c overlap a's completion
        assert_eq!(p.overlap[1], vec![2, 3]); // b, c overlap d's completion
        assert_eq!(p.overlap[2], vec![3]); // c overlaps b's completion
        assert!(p.overlap[3].is_empty());
    }

    #[test]
    fn compact_key_distinguishes_sets_with_equal_tails() {
        let mut a = Bits::new(200);
        let mut b = Bits::new(200);
        for i in 0..64 {
            a.set(i, true);
        }
        a.set(70, true);
        b.set(70, true);
        assert_ne!(a.compact(), b.compact());
        assert_eq!(a.first_clear(0), 64);
        assert!(a.contains_all(&b.trimmed()));
        assert!(!b.contains_all(&a.trimmed()));
    }
}

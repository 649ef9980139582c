//! List-append (Elle-style) serializability checker.
//!
//! **What**: finds anomalies in a list-append history: per-read anomalies (`garbage-read`,
//! `duplicate-elements`, `G1a`, `G1b`, `internal`), version orders that reads disagree on
//! (`incompatible-order`), and dependency cycles classified `G0`, `G1c`, `G-single`, `G2-item`
//! (with a `-realtime` suffix when the cycle needs a real-time edge).
//! **Role**: called by [`crate::run_cli`] for `--workload list-append`; reads a parsed
//! [`History`].
//!
//! **Format read**: `f` = `"txn"`; `value` is a list of micro-operations `["append", key, e]`
//! and `["r", key, list]` (`list` is `null` in the invocation, the whole list read in the `ok`
//! completion; `null` there is read as the empty list). An `ok` transaction is analysed with its
//! completion's micro-operations, `fail`/`info` ones with their invocation's.
//!
//! **Analysis**
//! 1. Every appended element names its writer (elements are unique per key; a second append of
//!    the same element is a malformed history).
//! 2. The version order of a key is its longest `ok` read; every other read must be a prefix of
//!    it (else `incompatible-order`).
//! 3. Edges between non-failed transactions: `ww` between writers of consecutive elements of a
//!    version order; `wr` from the writer of the last element a read saw (ignoring the reader's
//!    own trailing appends) to the reader; `rw` from a reader to the writer of the next element
//!    after what it saw; appends of `ok` transactions that no read observed come after every
//!    version read (`ww` from the last observed writer, `rw` from every reader); with `--realtime`, `rt` from every `ok` transaction to each transaction
//!    invoked after it completed (transitively reduced: an edge A→B is left out when some C
//!    begins after A completes and completes before B begins).
//! 4. Cycles are searched inside strongly connected components: for up to [`SEEDS_PER_SCC_MAX`]
//!    edges of the component, the cheapest cycle through it (cost: `rw` ≫ `rt` ≫ `wr` > `ww`)
//!    is classified by its edges; one example per class and component is kept.
//!
//! **Invariants**
//! 1. A serial history (each transaction sees all earlier ones) has no anomaly
//!    (`it::list_append::serial_history_is_valid`).
//! 2. At most [`EXAMPLES_PER_KIND_MAX`] examples of each anomaly kind are kept; the counts cover
//!    all of them.
//!
//! **Concurrency**: pure function.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use crate::error::{CheckError, Malformed};
use crate::history::{canonical, History, Op, Outcome};
use crate::register::Verdict;

/// Upper bound on the edges of one strongly connected component used as cycle seeds.
pub const SEEDS_PER_SCC_MAX: usize = 256;
/// Upper bound on the examples kept per anomaly kind.
pub const EXAMPLES_PER_KIND_MAX: usize = 8;

/// Options of the list-append checker.
#[derive(Debug, Clone, Default)]
pub struct ListAppendOptions {
    /// Add real-time edges (strict serializability).
    pub realtime: bool,
}

/// A transaction as shown in a report.
#[derive(Debug, Clone, Serialize)]
pub struct TxnView {
    pub process: i64,
    pub outcome: Outcome,
    pub invoke_line: usize,
    pub complete_line: Option<usize>,
    /// The micro-operations as analysed.
    pub value: Value,
}

/// A dependency edge of a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    Ww,
    Wr,
    Rw,
    Rt,
}

impl EdgeKind {
    fn cost(self) -> u64 {
        match self {
            EdgeKind::Ww => 0,
            EdgeKind::Wr => 1,
            EdgeKind::Rt => 1 << 20,
            EdgeKind::Rw => 1 << 40,
        }
    }

    fn name(self) -> &'static str {
        match self {
            EdgeKind::Ww => "ww",
            EdgeKind::Wr => "wr",
            EdgeKind::Rw => "rw",
            EdgeKind::Rt => "rt",
        }
    }
}

/// One step of a cycle: `from` → `to` by `kind` (on `key`, except for `rt`).
#[derive(Debug, Clone, Serialize)]
pub struct CycleStep {
    /// Invocation line of the source transaction.
    pub from_line: usize,
    pub to_line: usize,
    pub kind: EdgeKind,
    pub key: Option<Value>,
}

/// One anomaly.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// `G0`, `G1a`, `G-single-realtime`, `incompatible-order`, ...
    pub kind: String,
    /// One sentence for people.
    pub explanation: String,
    /// The transactions involved.
    pub txns: Vec<TxnView>,
    /// For cycles: the edges, ending where they started.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<CycleStep>,
}

/// Result of the list-append checker.
#[derive(Debug, Clone, Serialize)]
pub struct ListAppendReport {
    pub verdict: Verdict,
    pub txn_count: usize,
    /// Number of anomalies found per kind.
    pub counts: BTreeMap<String, usize>,
    /// Examples, at most [`EXAMPLES_PER_KIND_MAX`] per kind.
    pub anomalies: Vec<Anomaly>,
}

#[derive(Debug, Clone)]
enum Micro {
    Append {
        key: String,
        element: String,
    },
    Read {
        key: String,
        /// `None` in invocations.
        list: Option<Vec<String>>,
    },
}

struct Txn<'h> {
    op: &'h Op,
    micro: Vec<Micro>,
    value: &'h Value,
}

struct Writer {
    txn: usize,
    /// Whether this is the writer's last append to the key.
    last_in_txn: bool,
}

/// Checks a list-append history.
pub fn check(
    history: &History,
    options: &ListAppendOptions,
) -> Result<ListAppendReport, CheckError> {
    let mut keys: HashMap<String, Value> = HashMap::new();
    let txns = parse_txns(history, &mut keys)?;
    let mut found = Found::default();

    // Writers of every element.
    let mut writers: HashMap<(String, String), Writer> = HashMap::new();
    for (t, txn) in txns.iter().enumerate() {
        let mut last_append: HashMap<&str, &str> = HashMap::new();
        for m in &txn.micro {
            if let Micro::Append { key, element } = m {
                last_append.insert(key, element);
            }
        }
        for m in &txn.micro {
            if let Micro::Append { key, element } = m {
                let slot = (key.clone(), element.clone());
                if let Some(first) = writers.get(&slot) {
                    let first_line = txns.get(first.txn).map_or(0, |t| t.op.invoke_line);
                    return Err(CheckError::at(
                        txn.op.invoke_line,
                        Malformed::DuplicateAppend {
                            key: key.clone(),
                            element: element.clone(),
                            first_line,
                        },
                    ));
                }
                let last_in_txn = last_append.get(key.as_str()) == Some(&element.as_str());
                writers.insert(
                    slot,
                    Writer {
                        txn: t,
                        last_in_txn,
                    },
                );
            }
        }
    }
    let view = |t: usize| txn_view(&txns, t);

    // Per-read anomalies, and the reads of each key for the version orders.
    let mut reads_of: HashMap<&str, Vec<(usize, &Vec<String>)>> = HashMap::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.op.outcome != Outcome::Ok {
            continue;
        }
        check_internal(t, txn, &view, &mut found);
        for m in &txn.micro {
            let Micro::Read {
                key,
                list: Some(list),
            } = m
            else {
                continue;
            };
            reads_of.entry(key).or_default().push((t, list));
            let mut seen = HashSet::new();
            if let Some(dup) = list.iter().find(|e| !seen.insert(e.as_str())) {
                found.add(Anomaly {
                    kind: "duplicate-elements".into(),
                    explanation: format!("read of key {key} contains element {dup} more than once"),
                    txns: vec![view(t)],
                    cycle: Vec::new(),
                });
            }
            for e in list {
                match writers.get(&(key.clone(), e.clone())) {
                    None => found.add(Anomaly {
                        kind: "garbage-read".into(),
                        explanation: format!("read of key {key} contains element {e}, which no transaction appended"),
                        txns: vec![view(t)],
                        cycle: Vec::new(),
                    }),
                    Some(w) if txns.get(w.txn).is_some_and(|x| x.op.outcome == Outcome::Fail) => {
                        found.add(Anomaly {
                            kind: "G1a".into(),
                            explanation: format!("read of key {key} contains element {e}, appended by a failed transaction"),
                            txns: vec![view(t), view(w.txn)],
                            cycle: Vec::new(),
                        })
                    }
                    Some(_) => {}
                }
            }
            if let Some(last) = list.last() {
                if let Some(w) = writers.get(&(key.clone(), last.clone())) {
                    if w.txn != t && !w.last_in_txn {
                        found.add(Anomaly {
                            kind: "G1b".into(),
                            explanation: format!("read of key {key} ends with element {last}, which its writer later followed with another append to {key}: an intermediate state"),
                            txns: vec![view(t), view(w.txn)],
                            cycle: Vec::new(),
                        });
                    }
                }
            }
        }
    }

    // Version orders: the longest read of each key; others must be its prefixes.
    let mut orders: HashMap<&str, &Vec<String>> = HashMap::new();
    let mut sorted_keys: Vec<&&str> = reads_of.keys().collect();
    sorted_keys.sort();
    for key in sorted_keys {
        let Some(reads) = reads_of.get(*key) else {
            continue;
        };
        let Some(&(longest_txn, longest)) =
            reads.iter().max_by_key(|(t, l)| (l.len(), Reverse(*t)))
        else {
            continue;
        };
        for &(t, list) in reads {
            if !longest.starts_with(list) {
                found.add(Anomaly {
                    kind: "incompatible-order".into(),
                    explanation: format!(
                        "reads of key {key} disagree on its order: {} is not a prefix of {}",
                        show_list(list),
                        show_list(longest)
                    ),
                    txns: vec![view(t), view(longest_txn)],
                    cycle: Vec::new(),
                });
            }
        }
        orders.insert(key, longest);
    }

    // Dependency graph.
    let mut graph = Graph::new(txns.len());
    let writer_of = |key: &str, e: &str| -> Option<usize> {
        writers
            .get(&(key.to_owned(), e.to_owned()))
            .map(|w| w.txn)
            .filter(|&w| txns.get(w).is_some_and(|x| x.op.outcome != Outcome::Fail))
    };
    for (key, order) in &orders {
        for pair in order.windows(2) {
            if let [a, b] = pair {
                if let (Some(wa), Some(wb)) = (writer_of(key, a), writer_of(key, b)) {
                    graph.add(wa, wb, EdgeKind::Ww, Some(key));
                }
            }
        }
    }
    // Appends of ok transactions that no read observed: their versions come after every
    // version read, since a list only grows.
    let mut unobserved: HashMap<&str, Vec<usize>> = HashMap::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.op.outcome != Outcome::Ok {
            continue;
        }
        for m in &txn.micro {
            if let Micro::Append { key, element } = m {
                let observed = orders
                    .get(key.as_str())
                    .is_some_and(|o| o.contains(element));
                if !observed {
                    unobserved.entry(key).or_default().push(t);
                }
            }
        }
    }
    for (key, late) in &unobserved {
        let last = orders
            .get(key)
            .and_then(|o| o.last())
            .and_then(|e| writer_of(key, e));
        if let Some(w) = last {
            for &t in late {
                graph.add(w, t, EdgeKind::Ww, Some(key));
            }
        }
    }
    for (t, txn) in txns.iter().enumerate() {
        if txn.op.outcome != Outcome::Ok {
            continue;
        }
        for m in &txn.micro {
            let Micro::Read {
                key,
                list: Some(list),
            } = m
            else {
                continue;
            };
            // What the transaction saw of others: drop its own trailing appends.
            let mut seen = list.as_slice();
            while let Some((last, rest)) = seen.split_last() {
                if writer_of(key, last) == Some(t) {
                    seen = rest;
                } else {
                    break;
                }
            }
            if let Some(w) = seen.last().and_then(|e| writer_of(key, e)) {
                graph.add(w, t, EdgeKind::Wr, Some(key));
            }
            if let Some(order) = orders.get(key.as_str()) {
                if order.starts_with(seen) {
                    if let Some(w) = order.get(seen.len()).and_then(|e| writer_of(key, e)) {
                        graph.add(t, w, EdgeKind::Rw, Some(key));
                    }
                }
            }
            // Unobserved appends come after what this read saw (an anti-dependency, possibly
            // through versions in between: the classes of cycles are the same).
            for &w in unobserved
                .get(key.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                graph.add(t, w, EdgeKind::Rw, Some(key));
            }
        }
    }
    if options.realtime {
        add_realtime_edges(&txns, &mut graph);
    }
    find_cycles(&graph, &keys, &view, &mut found);

    let verdict = if found.counts.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    Ok(ListAppendReport {
        verdict,
        txn_count: txns.len(),
        counts: found.counts,
        anomalies: found.examples,
    })
}

#[derive(Default)]
struct Found {
    counts: BTreeMap<String, usize>,
    examples: Vec<Anomaly>,
}

impl Found {
    fn add(&mut self, anomaly: Anomaly) {
        let count = self.counts.entry(anomaly.kind.clone()).or_insert(0);
        *count += 1;
        if *count <= EXAMPLES_PER_KIND_MAX {
            self.examples.push(anomaly);
        }
    }
}

fn show_list(list: &[String]) -> String {
    format!("[{}]", list.join(","))
}

fn txn_view(txns: &[Txn<'_>], t: usize) -> TxnView {
    match txns.get(t) {
        Some(txn) => TxnView {
            process: txn.op.process,
            outcome: txn.op.outcome,
            invoke_line: txn.op.invoke_line,
            complete_line: txn.op.complete_line,
            value: txn.value.clone(),
        },
        None => TxnView {
            process: 0,
            outcome: Outcome::Info,
            invoke_line: 0,
            complete_line: None,
            value: Value::Null,
        },
    }
}

fn parse_txns<'h>(
    history: &'h History,
    keys: &mut HashMap<String, Value>,
) -> Result<Vec<Txn<'h>>, CheckError> {
    let mut txns = Vec::with_capacity(history.ops.len());
    for op in &history.ops {
        if op.f != "txn" {
            return Err(CheckError::at(
                op.invoke_line,
                Malformed::UnknownFunction {
                    workload: "list-append",
                    f: op.f.clone(),
                    expected: "txn",
                },
            ));
        }
        let (value, line, completed) = if op.outcome == Outcome::Ok {
            (
                &op.complete_value,
                op.complete_line.unwrap_or(op.invoke_line),
                true,
            )
        } else {
            (&op.invoke_value, op.invoke_line, false)
        };
        let Value::Array(items) = value else {
            return Err(CheckError::at(
                line,
                Malformed::BadValue {
                    f: "txn",
                    expected: "a list of micro-operations",
                },
            ));
        };
        let mut micro = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let bad = |expected| CheckError::at(line, Malformed::BadMicroOp { index, expected });
            let Value::Array(parts) = item else {
                return Err(bad(r#"["append", key, element] or ["r", key, list]"#));
            };
            let (Some(Value::String(f)), Some(key), Some(arg), 3) =
                (parts.first(), parts.get(1), parts.get(2), parts.len())
            else {
                return Err(bad(r#"["append", key, element] or ["r", key, list]"#));
            };
            let key_name = canonical(key);
            keys.entry(key_name.clone()).or_insert_with(|| key.clone());
            match f.as_str() {
                "append" => micro.push(Micro::Append {
                    key: key_name,
                    element: canonical(arg),
                }),
                "r" => {
                    let list = match (completed, arg) {
                        (false, _) => None,
                        (true, Value::Null) => Some(Vec::new()),
                        (true, Value::Array(elements)) => {
                            Some(elements.iter().map(canonical).collect())
                        }
                        (true, _) => return Err(bad("a read whose result is a list (or null)")),
                    };
                    micro.push(Micro::Read {
                        key: key_name,
                        list,
                    });
                }
                _ => return Err(bad(r#"an "append" or "r" micro-operation"#)),
            }
        }
        txns.push(Txn { op, micro, value });
    }
    Ok(txns)
}

/// `internal`: a read inside a transaction that does not agree with the transaction's own
/// earlier reads and appends of that key.
fn check_internal(t: usize, txn: &Txn<'_>, view: &dyn Fn(usize) -> TxnView, found: &mut Found) {
    enum Expect {
        /// The whole list is known.
        Known(Vec<String>),
        /// Only the elements this transaction appended (at the end) are known.
        Suffix(Vec<String>),
    }
    let mut state: HashMap<&str, Expect> = HashMap::new();
    for m in &txn.micro {
        match m {
            Micro::Append { key, element } => match state.get_mut(key.as_str()) {
                Some(Expect::Known(list)) | Some(Expect::Suffix(list)) => {
                    list.push(element.clone())
                }
                None => {
                    state.insert(key, Expect::Suffix(vec![element.clone()]));
                }
            },
            Micro::Read {
                key,
                list: Some(list),
            } => {
                let consistent = match state.get(key.as_str()) {
                    None => true,
                    Some(Expect::Known(expected)) => expected == list,
                    Some(Expect::Suffix(own)) => list.ends_with(own),
                };
                if !consistent {
                    found.add(Anomaly {
                        kind: "internal".into(),
                        explanation: format!(
                            "read of key {key} gives {}, which does not match the transaction's own earlier reads and appends",
                            show_list(list)
                        ),
                        txns: vec![view(t)],
                        cycle: Vec::new(),
                    });
                    return;
                }
                state.insert(key, Expect::Known(list.clone()));
            }
            Micro::Read { list: None, .. } => {}
        }
    }
}

#[derive(Debug, Clone)]
struct Edge {
    to: usize,
    kind: EdgeKind,
    key: Option<String>,
}

struct Graph {
    out: Vec<Vec<Edge>>,
    seen: HashSet<(usize, usize, EdgeKind)>,
}

impl Graph {
    fn new(n: usize) -> Graph {
        Graph {
            out: vec![Vec::new(); n],
            seen: HashSet::new(),
        }
    }

    fn add(&mut self, from: usize, to: usize, kind: EdgeKind, key: Option<&str>) {
        if from == to || !self.seen.insert((from, to, kind)) {
            return;
        }
        if let Some(list) = self.out.get_mut(from) {
            list.push(Edge {
                to,
                kind,
                key: key.map(str::to_owned),
            });
        }
    }
}

fn add_realtime_edges(txns: &[Txn<'_>], graph: &mut Graph) {
    // Completed (ok) transactions sorted by completion time, with the running maximum of their
    // invocation times.
    let mut done: Vec<(u64, u64, usize)> = txns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.op.outcome == Outcome::Ok)
        .filter_map(|(i, t)| t.op.complete_time.map(|c| (c, t.op.invoke_time, i)))
        .collect();
    done.sort_unstable();
    let mut max_invoke = Vec::with_capacity(done.len());
    let mut running = 0u64;
    for &(_, invoke, _) in &done {
        running = running.max(invoke);
        max_invoke.push(running);
    }
    for (b, txn) in txns.iter().enumerate() {
        if txn.op.outcome == Outcome::Fail {
            continue;
        }
        let start = txn.op.invoke_time;
        // Transactions completed strictly before b began.
        let before = done.partition_point(|&(c, _, _)| c < start);
        if before == 0 {
            continue;
        }
        // Any C completed before b began with invocation time x makes A→B redundant for every A
        // that completed before x.
        let frontier = max_invoke.get(before - 1).copied().unwrap_or(0);
        for &(complete, _, a) in done.get(..before).unwrap_or(&[]).iter().rev() {
            if complete < frontier {
                break;
            }
            graph.add(a, b, EdgeKind::Rt, None);
        }
    }
}

/// Strongly connected components (iterative Tarjan); returns a component id per node.
fn components(graph: &Graph) -> Vec<usize> {
    let n = graph.out.len();
    let unvisited = usize::MAX;
    let mut index = vec![unvisited; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![unvisited; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut next_index = 0usize;
    let mut next_comp = 0usize;
    for root in 0..n {
        if index[root] != unvisited {
            continue;
        }
        // (node, next edge to look at)
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut edge)) = call.last_mut() {
            if let Some(e) = graph.out[v].get(*edge) {
                *edge += 1;
                let w = e.to;
                if index[w] == unvisited {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp[w] = next_comp;
                        if w == v {
                            break;
                        }
                    }
                    next_comp += 1;
                }
            }
        }
    }
    comp
}

fn find_cycles(
    graph: &Graph,
    keys: &HashMap<String, Value>,
    view: &dyn Fn(usize) -> TxnView,
    found: &mut Found,
) {
    let comp = components(graph);
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (v, &c) in comp.iter().enumerate() {
        members.entry(c).or_default().push(v);
    }
    for nodes in members.values().filter(|m| m.len() > 1) {
        let c = comp[nodes[0]];
        // Seed edges inside the component, cheapest kinds first.
        let mut seeds: Vec<(usize, &Edge)> = nodes
            .iter()
            .flat_map(|&v| graph.out[v].iter().map(move |e| (v, e)))
            .filter(|(_, e)| comp[e.to] == c)
            .collect();
        seeds.sort_by_key(|(v, e)| (e.kind, *v, e.to));
        let mut classes: HashSet<String> = HashSet::new();
        for &(from, seed) in seeds.iter().take(SEEDS_PER_SCC_MAX) {
            let Some(path) = cheapest_path(graph, &comp, c, seed.to, from) else {
                continue;
            };
            let mut cycle: Vec<(usize, &Edge)> = vec![(from, seed)];
            cycle.extend(path);
            let kind = classify(cycle.iter().map(|(_, e)| e.kind));
            if !classes.insert(kind.clone()) {
                continue;
            }
            let steps: Vec<CycleStep> = cycle
                .iter()
                .map(|(f, e)| CycleStep {
                    from_line: view(*f).invoke_line,
                    to_line: view(e.to).invoke_line,
                    kind: e.kind,
                    key: e
                        .key
                        .as_ref()
                        .map(|k| keys.get(k).cloned().unwrap_or(Value::Null)),
                })
                .collect();
            let explanation = cycle
                .iter()
                .map(|(f, e)| {
                    format!(
                        "T@{} -{}{}->",
                        view(*f).invoke_line,
                        e.kind.name(),
                        e.key.as_ref().map(|k| format!(" {k}")).unwrap_or_default()
                    )
                })
                .chain(std::iter::once(format!("T@{}", view(from).invoke_line)))
                .collect::<Vec<_>>()
                .join(" ");
            found.add(Anomaly {
                kind,
                explanation: format!("dependency cycle {explanation}"),
                txns: cycle.iter().map(|(f, _)| view(*f)).collect(),
                cycle: steps,
            });
        }
    }
}

fn classify(kinds: impl Iterator<Item = EdgeKind>) -> String {
    let (mut rw, mut wr, mut rt) = (0usize, false, false);
    for k in kinds {
        match k {
            EdgeKind::Rw => rw += 1,
            EdgeKind::Wr => wr = true,
            EdgeKind::Rt => rt = true,
            EdgeKind::Ww => {}
        }
    }
    let base = match (rw, wr) {
        (0, false) => "G0",
        (0, true) => "G1c",
        (1, _) => "G-single",
        _ => "G2-item",
    };
    if rt {
        format!("{base}-realtime")
    } else {
        base.to_owned()
    }
}

/// Cheapest path (by [`EdgeKind::cost`]) from `from` to `to` inside component `c`.
fn cheapest_path<'g>(
    graph: &'g Graph,
    comp: &[usize],
    c: usize,
    from: usize,
    to: usize,
) -> Option<Vec<(usize, &'g Edge)>> {
    let mut dist: HashMap<usize, u64> = HashMap::new();
    let mut via: HashMap<usize, (usize, &'g Edge)> = HashMap::new();
    let mut heap = BinaryHeap::new();
    dist.insert(from, 0);
    heap.push(Reverse((0u64, from)));
    while let Some(Reverse((d, v))) = heap.pop() {
        if v == to {
            break;
        }
        if dist.get(&v).is_some_and(|&best| d > best) {
            continue;
        }
        for e in graph.out.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if comp.get(e.to) != Some(&c) {
                continue;
            }
            let nd = d + e.kind.cost();
            if dist.get(&e.to).is_none_or(|&best| nd < best) {
                dist.insert(e.to, nd);
                via.insert(e.to, (v, e));
                heap.push(Reverse((nd, e.to)));
            }
        }
    }
    if from == to {
        return Some(Vec::new());
    }
    let mut path = Vec::new();
    let mut at = to;
    while at != from {
        let &(prev, e) = via.get(&at)?;
        path.push((prev, e));
        at = prev;
    }
    path.reverse();
    Some(path)
}

//! Join order and join algorithm: the cost-based part of the optimiser.
//!
//! Role: `rules::optimize` calls [`plan_inner_joins`] at the top of every tree of inner joins
//! (and the filters between them) and [`physical_join`] for every other join. The first
//! flattens the tree into relations plus predicates, pushes each single-relation predicate
//! into its relation, picks an order, and rebuilds the tree; the second turns a join whose ON
//! holds equalities between the two sides into a hash join.
//!
//! Order search (formulas in `docs/optimizer.md`): left-deep trees; each step joins one more
//! relation, either as a hash join's build side, by index lookups (when the join's
//! equalities fix a key prefix of one of its indexes from the rows so far), or by a nested
//! loop. The cost of an order is the sum over its steps of the rows read and produced (hash
//! join: `left + read(right) + 1.5 * right + out`; lookups: `left * (4 + rows per lookup,
//! times 5 through a secondary index) + out`; nested loop: `left * right + out`), with row
//! counts from `cost::Estimator`. Before that, equalities between columns spread constants:
//! `a = b AND b = 7` adds `a = 7` (equivalence classes), and an OR over several relations
//! whose every branch restricts one of them adds the OR of those restrictions to that
//! relation (`add_or_restrictions`). Up to
//! [`DP_MAX_RELATIONS`] relations the search is exhaustive over connected orders (dynamic
//! programming over subsets); above it, greedy (start from the smallest relation, then always
//! the connected relation that keeps the result smallest). A relation joins with no predicate
//! linking it to those before it (a cross product) only when no linked one is left.
//!
//! Invariants:
//! 1. The rebuilt plan has the layout of the original (columns in FROM order): a `Project`
//!    on top restores it when the order changed. Every predicate is applied exactly once, at
//!    the lowest join where all its columns are present (or in the relation's scan).
//!    Test: `tests/slt/joins.slt`, `tests/pg/optimizer.rs`.
//! 2. The written order is kept unless the chosen order's estimated cost is below
//!    [`REORDER_GAIN`] times the written order's (plans, and the order of rows in results
//!    without ORDER BY, change only for a clear gain).
//! 3. A hash join's keys have the same type class on both sides, so `=` on them is equality
//!    of their grouping bytes (`exec.rs` `group_key`): integers with integers, text with
//!    text, numeric with numeric, and so on. Other equalities stay in the residual.

use crate::cost::Estimator;
use crate::expr::{BinaryOp, Expr};
use crate::plan::{JoinKind, Plan};
use crate::rules::{and_all, conjuncts, flatten_refs, or_all, push_filter};
use crate::types::DataType;

/// Relations searched exhaustively; more are ordered greedily.
pub const DP_MAX_RELATIONS: usize = 10;
/// Most relations whose order is searched at all (a relation set is a 128-bit mask).
pub const MAX_REORDERED_RELATIONS: usize = 128;
/// Cost of inserting a row into a hash table, relative to probing with one.
pub const HASH_BUILD_WEIGHT: f64 = 1.5;
/// A new order must cost less than this fraction of the written order's to replace it (a
/// margin for estimates' error, not a preference for what was written: at 0.5, the join
/// workload's j3 kept its written order at 0.55 of the cost and ran 2.2× slower than the
/// order chosen at 0.8).
pub const REORDER_GAIN: f64 = 0.8;

type RelSet = u128;

fn bit(i: usize) -> RelSet {
    1u128 << i
}

/// One predicate over several relations, in the flattened (FROM order) layout.
struct JoinPred {
    expr: Expr,
    rels: RelSet,
    /// Estimated fraction of the relations' cross product it keeps.
    selectivity: f64,
    /// An equality usable as a hash join key.
    equi: bool,
    /// For an equality with a plain column on a side: that column (flattened position) and
    /// the relations the other side reads (an index lookup can take its value from them).
    columns: Vec<(usize, RelSet)>,
}

struct Region {
    leaves: Vec<Plan>,
    /// First column of each leaf in the flattened layout.
    offsets: Vec<usize>,
    preds: Vec<Expr>,
}

impl Region {
    fn width(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0) + self.leaves.last().map_or(0, Plan::width)
    }

    /// Collects the relations and predicates of a tree of inner joins and filters over them.
    fn flatten(&mut self, plan: Plan, offset: usize) {
        match plan {
            Plan::Join {
                left,
                right,
                kind: JoinKind::Inner,
                on,
            } => {
                let lw = left.width();
                self.flatten(*left, offset);
                self.flatten(*right, offset + lw);
                if let Some(on) = on {
                    self.add_pred(on, offset);
                }
            }
            Plan::Filter { input, predicate } if is_inner_join(&input) => {
                self.flatten(*input, offset);
                self.add_pred(predicate, offset);
            }
            leaf => {
                self.offsets.push(offset);
                self.leaves.push(leaf);
            }
        }
    }

    fn add_pred(&mut self, mut pred: Expr, offset: usize) {
        if offset > 0 {
            pred.map_columns(&mut |i| i + offset);
        }
        conjuncts(pred, &mut self.preds);
    }

    /// The set of leaves whose columns `e` reads.
    fn rels_of(&self, e: &Expr) -> RelSet {
        let mut set = 0;
        e.visit(&mut |x| {
            if let Expr::Column { index, .. } = x {
                let leaf = self
                    .offsets
                    .partition_point(|&o| o <= *index)
                    .saturating_sub(1);
                set |= bit(leaf);
            }
        });
        set
    }
}

/// Whether `plan` is the top of a tree of inner joins (possibly under filters) small enough
/// for [`plan_inner_joins`] (at most [`MAX_REORDERED_RELATIONS`] relations; a bigger tree is
/// optimised join by join, each subtree small enough planned as a whole).
pub fn is_plannable_join_tree(p: &Plan) -> bool {
    is_inner_join(p) && relations(p) <= MAX_REORDERED_RELATIONS
}

/// The relations [`Region::flatten`] would find.
fn relations(p: &Plan) -> usize {
    match p {
        Plan::Join {
            left,
            right,
            kind: JoinKind::Inner,
            ..
        } => relations(left) + relations(right),
        Plan::Filter { input, .. } if is_inner_join(input) => relations(input),
        _ => 1,
    }
}

fn is_inner_join(p: &Plan) -> bool {
    match p {
        Plan::Join {
            kind: JoinKind::Inner,
            ..
        } => true,
        Plan::Filter { input, .. } => is_inner_join(input),
        _ => false,
    }
}

/// Plans a tree of inner joins (see the module header). `optimize_leaf` is applied to each
/// relation before it is estimated.
pub fn plan_inner_joins(
    plan: Plan,
    est: &Estimator,
    optimize_leaf: &mut dyn FnMut(Plan) -> Plan,
) -> Plan {
    let original_schema = plan.schema();
    let mut region = Region {
        leaves: Vec::new(),
        offsets: Vec::new(),
        preds: Vec::new(),
    };
    region.flatten(plan, 0);
    let n = region.leaves.len();
    let total_width = region.width();
    let implied = add_implied_equalities(&mut region.preds);
    add_or_restrictions(&mut region);

    // Sort the predicates: one relation -> into it; none -> on top; several -> joins.
    let mut local: Vec<Vec<Expr>> = (0..n).map(|_| Vec::new()).collect();
    let mut on_top = Vec::new();
    let mut multi = Vec::new();
    for p in std::mem::take(&mut region.preds) {
        let rels = region.rels_of(&p);
        match rels.count_ones() {
            0 => on_top.push(p),
            1 => {
                let leaf = rels.trailing_zeros() as usize;
                let mut p = p;
                let off = region.offsets[leaf];
                p.map_columns(&mut |i| i - off);
                local[leaf].push(p);
            }
            _ => multi.push((p, rels)),
        }
    }
    let leaves: Vec<Plan> = std::mem::take(&mut region.leaves)
        .into_iter()
        .zip(local)
        .map(|(leaf, preds)| {
            let leaf = optimize_leaf(leaf);
            match and_all(preds) {
                Some(p) => push_filter(leaf, p, est),
                None => leaf,
            }
        })
        .collect();
    region.leaves = leaves;

    // Estimates.
    let rows: Vec<f64> = region.leaves.iter().map(|l| est.rows(l)).collect();
    let mut origins = Vec::with_capacity(total_width);
    for leaf in &region.leaves {
        origins.extend(est.origins(leaf));
    }
    let mut preds: Vec<JoinPred> = multi
        .into_iter()
        .map(|(expr, rels)| {
            // Selectivity over the cross product of its relations.
            let cross: f64 = (0..n)
                .filter(|&i| rels & bit(i) != 0)
                .map(|i| rows[i])
                .product();
            let selectivity = if implied.contains(&expr) {
                1.0
            } else {
                est.selectivity(&expr, &origins, cross)
            };
            let sides = equi_sides(&expr, &region, rels);
            let equi = sides.is_some();
            let mut columns = Vec::new();
            if let Some((l, r)) = sides {
                for (a, b) in [(l, r), (r, l)] {
                    if let Expr::Column { index, .. } = a {
                        columns.push((*index, region.rels_of(b)));
                    }
                }
            }
            JoinPred {
                expr,
                rels,
                selectivity,
                equi,
                columns,
            }
        })
        .collect();
    // Equalities that together match a multi-column unique key (`Estimator::
    // unique_key_groups`): the group's first keeps the key's selectivity, the others none.
    // Implied equalities already count as 1.
    {
        let own: Vec<usize> = (0..preds.len())
            .filter(|&i| !implied.contains(&preds[i].expr))
            .collect();
        let exprs: Vec<&Expr> = own.iter().map(|&i| &preds[i].expr).collect();
        for (members, s) in est.unique_key_groups(&exprs, &origins) {
            for (k, &m) in members.iter().enumerate() {
                preds[own[m]].selectivity = if k == 0 { s } else { 1.0 };
            }
        }
    }

    let written: Vec<usize> = (0..n).collect();
    let order = if n < 2 {
        written.clone()
    } else {
        let read: Vec<f64> = region.leaves.iter().map(|l| read_rows(l, est)).collect();
        let lookups: Vec<Vec<Lookup>> = region
            .leaves
            .iter()
            .zip(&region.offsets)
            .map(|(l, &off)| lookups_of(l, off, est))
            .collect();
        let search = Search {
            rows: &rows,
            read: &read,
            preds: &preds,
            lookups: &lookups,
        };
        let best = if n <= DP_MAX_RELATIONS {
            search.dynamic()
        } else {
            search.greedy()
        };
        let written_cost = search.cost(&written);
        if search.cost(&best) < REORDER_GAIN * written_cost {
            best
        } else {
            written
        }
    };

    // Rebuild, left-deep, in `order`.
    let mut new_offset = vec![0usize; n];
    let mut at = 0;
    for &leaf in &order {
        new_offset[leaf] = at;
        at += region.leaves[leaf].width();
    }
    let offsets = region.offsets.clone();
    let remap = |e: &mut Expr| {
        e.map_columns(&mut |i| {
            let leaf = offsets.partition_point(|&o| o <= i).saturating_sub(1);
            new_offset[leaf] + (i - offsets[leaf])
        })
    };
    let mut leaves: Vec<Option<Plan>> = region.leaves.into_iter().map(Some).collect();
    let mut applied = vec![false; preds.len()];
    let mut joined: RelSet = 0;
    let mut tree: Option<Plan> = None;
    for &leaf in &order {
        let Some(next) = leaves[leaf].take() else {
            continue;
        };
        joined |= bit(leaf);
        tree = Some(match tree {
            None => next,
            Some(acc) => {
                let mut on = Vec::new();
                for (i, p) in preds.iter().enumerate() {
                    if !applied[i] && p.rels & !joined == 0 {
                        applied[i] = true;
                        let mut e = p.expr.clone();
                        remap(&mut e);
                        on.push(e);
                    }
                }
                physical_join(acc, next, JoinKind::Inner, and_all(on), est)
            }
        });
    }
    let Some(mut tree) = tree else {
        return Plan::Unit;
    };
    // Predicates left over (only when a leaf was missing, which flatten never produces) and
    // the ones over no relation go on top, over the original layout.
    let identity = order.iter().enumerate().all(|(i, &l)| i == l);
    if !identity {
        let exprs = (0..total_width)
            .map(|i| {
                let mut e = Expr::Column {
                    index: i,
                    ty: original_schema
                        .get(i)
                        .map_or(DataType::Unknown, |c| c.ty.clone()),
                };
                remap(&mut e);
                e
            })
            .collect();
        tree = Plan::Project {
            input: Box::new(tree),
            exprs,
            schema: original_schema,
        };
    }
    for (i, p) in preds.into_iter().enumerate() {
        if !applied[i] {
            on_top.push(p.expr);
        }
    }
    match and_all(on_top) {
        Some(predicate) => Plan::Filter {
            input: Box::new(tree),
            predicate,
        },
        None => tree,
    }
}

/// An index of a relation that a join can look rows up in: the flattened positions of a
/// prefix of its key columns, and the rows one lookup returns.
struct Lookup {
    columns: Vec<usize>,
    rows: f64,
    /// A secondary index: each row found costs one more read (the row by its primary key).
    secondary: bool,
}

/// Cost of one index lookup (a seek), in rows read. Measured on the join workload at scale
/// 0.1 (2026-11-23, `docs/optimizer.md`): a sequential scan of `j_item` took 0.33 µs a row,
/// and TPC-H q3's lookups of lineitem by `l_orderkey` about 7 µs each for a seek and its
/// four rows, so a seek is worth about 12 rows. (It was 7, measured when a scanned row cost
/// 0.6 µs; scans have got cheaper since, seeks much less.)
pub const SEEK_COST: f64 = 12.0;

/// Cost of reading one row by its primary key after finding it in a secondary index, in
/// rows read: a `j_item_order` range of 36,000 rows took 3.4-4.4 µs a row against 0.33 µs a
/// row scanned, so about 10 rows beyond the index entry itself.
pub const ROW_FETCH_COST: f64 = 10.0;

/// Cost of one index lookup returning `rows` rows: a seek, the rows, and for a secondary
/// index a point read of each row by its primary key.
pub(crate) fn lookup_cost(rows: f64, secondary: bool) -> f64 {
    if secondary {
        SEEK_COST + rows * (1.0 + ROW_FETCH_COST)
    } else {
        SEEK_COST + rows
    }
}

/// Rows a relation's own plan reads (its scan's key range, or the whole table).
fn read_rows(leaf: &Plan, est: &Estimator) -> f64 {
    match leaf {
        Plan::Scan {
            table,
            access: None,
            ..
        } => est.table_rows(table),
        other => est.rows(other),
    }
}

/// The index lookups a scan leaf offers (every key prefix of every index).
fn lookups_of(leaf: &Plan, offset: usize, est: &Estimator) -> Vec<Lookup> {
    let Plan::Scan { table, .. } = leaf else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for idx in std::iter::once(&table.primary).chain(&table.indexes) {
        let mut columns = Vec::new();
        for ic in &idx.columns {
            let Some((pos, _)) = table.column_by_id(ic.column_id) else {
                break;
            };
            columns.push(offset + pos);
            out.push(Lookup {
                columns: columns.clone(),
                rows: est.lookup_rows(table, idx, columns.len()),
                secondary: idx.id != crate::catalog::PRIMARY_INDEX_ID,
            });
        }
    }
    out
}

struct Search<'a> {
    rows: &'a [f64],
    read: &'a [f64],
    preds: &'a [JoinPred],
    lookups: &'a [Vec<Lookup>],
}

impl Search<'_> {
    /// Joining relation `r` to the set `acc` of `acc_rows` rows: the rows out and the
    /// cheapest step's cost (hash join, nested loop, or index lookups into `r`).
    fn step(&self, acc: RelSet, acc_rows: f64, r: usize) -> (f64, f64) {
        let with = acc | bit(r);
        let mut rows = acc_rows * self.rows[r];
        let mut equi = false;
        let mut bound = Vec::new();
        for p in self.preds {
            if p.rels & bit(r) != 0 && p.rels & !with == 0 {
                rows *= p.selectivity;
                equi |= p.equi;
                for &(c, other) in &p.columns {
                    if other & !acc == 0 {
                        bound.push(c);
                    }
                }
            }
        }
        let out = rows.max(1.0);
        let mut cost = self.read[r] + Self::join_cost(acc_rows, self.rows[r], out, equi);
        for l in &self.lookups[r] {
            if l.columns.iter().all(|c| bound.contains(c)) {
                cost = cost.min(acc_rows * lookup_cost(l.rows, l.secondary) + out);
            }
        }
        (out, cost)
    }

    fn join_cost(acc_rows: f64, right_rows: f64, out: f64, equi: bool) -> f64 {
        if equi {
            acc_rows + HASH_BUILD_WEIGHT * right_rows + out
        } else {
            acc_rows * right_rows + out
        }
    }

    /// Estimated cost of joining in `order` (left-deep).
    fn cost(&self, order: &[usize]) -> f64 {
        let Some(&first) = order.first() else {
            return 0.0;
        };
        let (mut set, mut rows, mut cost) = (bit(first), self.rows[first], self.read[first]);
        for &r in &order[1..] {
            let (out, c) = self.step(set, rows, r);
            cost += c;
            set |= bit(r);
            rows = out;
        }
        cost
    }

    fn linked_to(&self, set: RelSet, r: usize) -> bool {
        self.preds
            .iter()
            .any(|p| p.rels & bit(r) != 0 && p.rels & set != 0)
    }

    /// The relations that may join `set` next: the linked ones, or all if none is linked.
    fn candidates(&self, set: RelSet) -> Vec<usize> {
        let n = self.rows.len();
        let rest: Vec<usize> = (0..n).filter(|&r| set & bit(r) == 0).collect();
        let linked: Vec<usize> = rest
            .iter()
            .copied()
            .filter(|&r| self.linked_to(set, r))
            .collect();
        if linked.is_empty() {
            rest
        } else {
            linked
        }
    }

    /// Exhaustive search over left-deep orders (subsets in order of size).
    fn dynamic(&self) -> Vec<usize> {
        let n = self.rows.len();
        // best[set] = (cost, rows, order)
        let mut best: std::collections::HashMap<RelSet, (f64, f64, Vec<usize>)> =
            std::collections::HashMap::new();
        let mut frontier: Vec<RelSet> = Vec::new();
        for r in 0..n {
            best.insert(bit(r), (self.read[r], self.rows[r], vec![r]));
            frontier.push(bit(r));
        }
        for _ in 1..n {
            let mut next = Vec::new();
            for set in frontier {
                let Some((cost, rows, order)) = best.get(&set).cloned() else {
                    continue;
                };
                for r in self.candidates(set) {
                    let (out, step) = self.step(set, rows, r);
                    let c = cost + step;
                    let with = set | bit(r);
                    let better = best.get(&with).is_none_or(|(bc, _, _)| c < *bc);
                    if better {
                        if !best.contains_key(&with) {
                            next.push(with);
                        }
                        let mut o = order.clone();
                        o.push(r);
                        best.insert(with, (c, out, o));
                    }
                }
            }
            frontier = next;
        }
        let all: RelSet = if n == 128 { !0 } else { bit(n) - 1 };
        best.remove(&all)
            .map(|(_, _, o)| o)
            .unwrap_or_else(|| (0..n).collect())
    }

    /// Greedy: the relation read most cheaply first, then the candidate that keeps the
    /// result smallest (ties: the cheaper step, then the written order).
    fn greedy(&self) -> Vec<usize> {
        let n = self.rows.len();
        let first = (0..n)
            .min_by(|&a, &b| {
                (self.rows[a], self.read[a])
                    .partial_cmp(&(self.rows[b], self.read[b]))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .unwrap_or(0);
        let mut order = vec![first];
        let (mut set, mut rows) = (bit(first), self.rows[first]);
        while order.len() < n {
            let mut pick: Option<(f64, f64, usize)> = None;
            for r in self.candidates(set) {
                let (out, c) = self.step(set, rows, r);
                if pick.is_none_or(|(po, pc, _)| (out, c) < (po, pc)) {
                    pick = Some((out, c, r));
                }
            }
            let Some((out, _, r)) = pick else { break };
            order.push(r);
            set |= bit(r);
            rows = out;
        }
        order
    }
}

/// For an equality between two disjoint groups of relations, the two sides.
fn equi_sides<'e>(e: &'e Expr, region: &Region, rels: RelSet) -> Option<(&'e Expr, &'e Expr)> {
    let Expr::Binary {
        op: BinaryOp::Eq,
        left,
        right,
        ..
    } = e
    else {
        return None;
    };
    let (l, r) = (region.rels_of(left), region.rels_of(right));
    if l == 0 || r == 0 || l & r != 0 || l | r != rels || !hashable(left, right) {
        return None;
    }
    Some((left, right))
}

/// The type class under which `=` is equality of grouping bytes (invariant 3); `None` for
/// types whose equality is looser than their bytes (char(n) padding, interval spans, json).
fn hash_class(ty: &DataType) -> Option<u8> {
    Some(match ty {
        DataType::Bool => 1,
        DataType::Int2 | DataType::Int4 | DataType::Int8 => 2,
        DataType::Float4 | DataType::Float8 => 3,
        DataType::Text | DataType::Varchar(_) => 4,
        DataType::Bytea => 5,
        DataType::Numeric(_) => 6,
        DataType::Date => 7,
        DataType::Time(_) => 8,
        DataType::Timestamp(_) => 9,
        DataType::Timestamptz(_) => 10,
        DataType::Uuid => 11,
        _ => return None,
    })
}

/// Whether an equality of these two expressions can be a hash key: same type class, and no
/// subquery or function (each key is evaluated once per row instead of once per pair).
fn hashable(a: &Expr, b: &Expr) -> bool {
    let plain = |e: &Expr| {
        let mut ok = true;
        e.visit(&mut |x| {
            if matches!(x, Expr::Subquery { .. } | Expr::Func { .. }) {
                ok = false;
            }
        });
        ok
    };
    match (hash_class(&a.ty()), hash_class(&b.ty())) {
        (Some(x), Some(y)) => x == y && plain(a) && plain(b),
        _ => false,
    }
}

/// The executable form of a join: a hash join when ON has `left = right` conjuncts of
/// hashable types (the rest is the residual), else the nested loop. An outer join's ON
/// conjuncts over its nullable side only are pushed into that side first.
pub fn physical_join(
    left: Plan,
    right: Plan,
    kind: JoinKind,
    on: Option<Expr>,
    est: &Estimator,
) -> Plan {
    let Some(on) = on else {
        return Plan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            on: None,
        };
    };
    let lw = left.width();
    let mut parts = Vec::new();
    conjuncts(on, &mut parts);
    // An outer (semi, anti) join's ON conjuncts over its nullable (right) side alone filter
    // that side before the join (a row they reject would only have matched nothing).
    let (mut left, mut right) = (left, right);
    let (mut to_left, mut to_right, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for p in parts {
        let (lo, hi) = sides(&p, lw);
        match kind {
            JoinKind::Left | JoinKind::Semi | JoinKind::Anti if hi && !lo && !has_subquery(&p) => {
                let mut p = p;
                p.map_columns(&mut |i| i - lw);
                to_right.push(p);
            }
            JoinKind::Right if lo && !hi && !has_subquery(&p) => to_left.push(p),
            _ => rest.push(p),
        }
    }
    if let Some(p) = and_all(to_right) {
        right = push_filter(right, p, est);
    }
    if let Some(p) = and_all(to_left) {
        left = push_filter(left, p, est);
    }
    if let Some((index_id, eq_prefix)) = index_join(&left, &right, kind, &rest, est) {
        if let Plan::Scan {
            table,
            qualifier,
            filter,
            ..
        } = right
        {
            return Plan::IndexJoin {
                table,
                qualifier,
                access: crate::plan::IndexRange {
                    index_id,
                    range: crate::plan::KeyRange {
                        eq_prefix,
                        lower: None,
                        upper: None,
                    },
                    reverse: false,
                },
                filter,
                kind,
                residual: and_all(rest),
                left: Box::new(left),
                needed: None,
            };
        }
    }
    let (mut left_keys, mut right_keys, mut residual) = (Vec::new(), Vec::new(), Vec::new());
    for p in rest {
        match key_pair(&p, lw) {
            Some((l, mut r)) => {
                r.map_columns(&mut |i| i - lw);
                left_keys.push(l);
                right_keys.push(r);
            }
            None => residual.push(p),
        }
    }
    if left_keys.is_empty() {
        return Plan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            on: and_all(residual),
        };
    }
    Plan::HashJoin {
        left: Box::new(left),
        right: Box::new(right),
        kind,
        left_keys,
        right_keys,
        residual: and_all(residual),
    }
}

/// Whether to join `left` with `right` by index lookups: when `right` is a table scan whose
/// index key prefix the ON conjuncts `on` fix from the left row, and that costs less than
/// hashing (or looping over) the whole right side. Returns the index and the key prefix's
/// expressions over the left row.
fn index_join(
    left: &Plan,
    right: &Plan,
    kind: JoinKind,
    on: &[Expr],
    est: &Estimator,
) -> Option<(u32, Vec<Expr>)> {
    if matches!(kind, JoinKind::Right | JoinKind::Full) {
        return None;
    }
    let Plan::Scan { table, .. } = right else {
        return None;
    };
    let lw = left.width();
    // Table column position -> an expression over the left row it must equal.
    let mut fixed: Vec<(usize, &Expr)> = Vec::new();
    for p in on {
        let Expr::Binary {
            op: BinaryOp::Eq,
            left: a,
            right: b,
            ..
        } = p
        else {
            continue;
        };
        for (col, other) in [(a, b), (b, a)] {
            let Expr::Column { index, ty } = col.as_ref() else {
                continue;
            };
            if *index < lw || has_subquery(other) {
                continue;
            }
            let (lo, hi) = sides(other, lw);
            if hi || !lo || other.ty().unconstrained() != ty.unconstrained() {
                continue;
            }
            fixed.push((*index - lw, other.as_ref()));
        }
    }
    // The index whose fixed key prefix returns the fewest rows per lookup.
    let mut best: Option<(f64, f64, u32, Vec<Expr>)> = None;
    for idx in std::iter::once(&table.primary).chain(&table.indexes) {
        let mut prefix = Vec::new();
        for ic in &idx.columns {
            let Some((pos, _)) = table.column_by_id(ic.column_id) else {
                break;
            };
            match fixed.iter().find(|(c, _)| *c == pos) {
                Some((_, e)) => prefix.push((*e).clone()),
                None => break,
            }
        }
        if prefix.is_empty() {
            continue;
        }
        let rows = est.lookup_rows(table, idx, prefix.len());
        let cost = lookup_cost(rows, idx.id != crate::catalog::PRIMARY_INDEX_ID);
        if best.as_ref().is_none_or(|(c, _, _, _)| cost < *c) {
            best = Some((cost, rows, idx.id, prefix));
        }
    }
    let (per_lookup_cost, _, index_id, eq_prefix) = best?;
    let left_rows = est.rows(left);
    let right_rows = est.rows(right);
    let has_key = on.iter().any(|p| key_pair(p, lw).is_some());
    let other_cost = read_rows(right, est)
        + if has_key {
            left_rows + HASH_BUILD_WEIGHT * right_rows
        } else {
            left_rows * right_rows
        };
    (left_rows * per_lookup_cost < other_cost).then_some((index_id, eq_prefix))
}

/// Adds `c = k` for every column `c` that an equality between plain columns of one type
/// links to a column fixed by `= k` (a literal or parameter of that type): from
/// `o.cust = c.id AND c.id = 7`, `o.cust = 7`, which can select an index of `o`. Returns the
/// column equalities that the constants make redundant (their selectivity is 1).
fn add_implied_equalities(preds: &mut Vec<Expr>) -> Vec<Expr> {
    // Union-find over column positions.
    let mut parent: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    fn find(parent: &mut std::collections::HashMap<usize, usize>, x: usize) -> usize {
        let p = *parent.entry(x).or_insert(x);
        if p == x {
            return x;
        }
        let root = find(parent, p);
        parent.insert(x, root);
        root
    }
    let mut column_eqs = Vec::new();
    let mut constants: Vec<(usize, Expr, DataType)> = Vec::new();
    for p in preds.iter() {
        let Some((left, right)) = p.as_equality() else {
            continue;
        };
        match (left, right) {
            (Expr::Column { index: a, ty: ta }, Expr::Column { index: b, ty: tb })
                if ta.unconstrained() == tb.unconstrained() && a != b =>
            {
                let (ra, rb) = (find(&mut parent, *a), find(&mut parent, *b));
                parent.insert(ra, rb);
                column_eqs.push(p.clone());
            }
            (Expr::Column { index, ty }, k) | (k, Expr::Column { index, ty })
                if matches!(k, Expr::Literal { .. } | Expr::Param { .. })
                    && k.ty().unconstrained() == ty.unconstrained() =>
            {
                constants.push((*index, k.clone(), ty.clone()));
            }
            _ => {}
        }
    }
    if constants.is_empty() || column_eqs.is_empty() {
        return Vec::new();
    }
    // One constant per class (the first written).
    let mut class_constant: std::collections::HashMap<usize, (Expr, DataType)> =
        std::collections::HashMap::new();
    let mut has_constant: std::collections::HashSet<usize> = std::collections::HashSet::new();
    for (c, k, ty) in &constants {
        has_constant.insert(*c);
        let root = find(&mut parent, *c);
        class_constant
            .entry(root)
            .or_insert_with(|| (k.clone(), ty.clone()));
    }
    let members: Vec<usize> = parent.keys().copied().collect();
    let mut added = Vec::new();
    for m in members {
        if has_constant.contains(&m) {
            continue;
        }
        let root = find(&mut parent, m);
        if let Some((k, ty)) = class_constant.get(&root) {
            added.push(Expr::Binary {
                op: BinaryOp::Eq,
                left: Box::new(Expr::Column {
                    index: m,
                    ty: ty.clone(),
                }),
                right: Box::new(k.clone()),
                ty: DataType::Bool,
            });
        }
    }
    added.sort_by_key(|e| e.max_column());
    preds.extend(added);
    column_eqs
        .into_iter()
        .filter(|e| {
            e.max_column()
                .is_some_and(|c| class_constant.contains_key(&find(&mut parent, c)))
        })
        .collect()
}

/// For an OR over several relations whose every branch restricts one relation `r` on its
/// own, adds the OR of those restrictions as a predicate of `r` (the original stays): from
/// `(p.brand = 1 AND l.qty < 5 AND p.id = l.part) OR (p.brand = 2 AND ...)`, `p.brand = 1
/// OR p.brand = 2`, which filters `p` before the join and lets its estimate (and so the join
/// order and algorithm) see it. Each branch implies its restriction, so the OR implies theirs.
fn add_or_restrictions(region: &mut Region) {
    let mut added = Vec::new();
    for p in &region.preds {
        if !matches!(
            p,
            Expr::Binary {
                op: BinaryOp::Or,
                ..
            }
        ) || has_subquery(p)
        {
            continue;
        }
        let rels = region.rels_of(p);
        if rels.count_ones() < 2 {
            continue;
        }
        let mut branches = Vec::new();
        flatten_refs(p, BinaryOp::Or, &mut branches);
        for leaf in (0..region.leaves.len()).filter(|&i| rels & bit(i) != 0) {
            let mut restrictions = Vec::with_capacity(branches.len());
            for b in &branches {
                let mut parts = Vec::new();
                flatten_refs(b, BinaryOp::And, &mut parts);
                let own: Vec<Expr> = parts
                    .into_iter()
                    .filter(|c| region.rels_of(c) == bit(leaf))
                    .cloned()
                    .collect();
                match and_all(own) {
                    Some(r) => restrictions.push(r),
                    None => break,
                }
            }
            if restrictions.len() == branches.len() {
                added.extend(or_all(restrictions));
            }
        }
    }
    region.preds.extend(added);
}

/// Whether `e` reads columns of the left input (below `lw`) and of the right input.
fn sides(e: &Expr, lw: usize) -> (bool, bool) {
    let (mut lo, mut hi) = (false, false);
    e.visit(&mut |x| {
        if let Expr::Column { index, .. } = x {
            if *index < lw {
                lo = true;
            } else {
                hi = true;
            }
        }
    });
    (lo, hi)
}

pub(crate) fn has_subquery(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| found |= matches!(x, Expr::Subquery { .. }));
    found
}

/// `l = r` with `l` over the left input only and `r` over the right only (either way round).
fn key_pair(p: &Expr, lw: usize) -> Option<(Expr, Expr)> {
    let (left, right) = p.as_equality()?;
    let side = |e: &Expr| -> Option<bool> {
        match sides(e, lw) {
            (true, false) => Some(false),
            (false, true) => Some(true),
            _ => None,
        }
    };
    if !hashable(left, right) {
        return None;
    }
    match (side(left)?, side(right)?) {
        (false, true) => Some((left.clone(), right.clone())),
        (true, false) => Some((right.clone(), left.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::TableDef;
    use crate::cost::NoStats;
    use crate::explain::explain;
    use crate::types::Value;

    /// `t{id}(a int primary key, b int)`.
    fn table(id: u32, b_ty: DataType) -> Arc<TableDef> {
        crate::catalog::test_table(id, &id.to_string(), b_ty)
    }

    fn scan(id: u32) -> Plan {
        Plan::Scan {
            table: table(id, DataType::Int4),
            qualifier: format!("t{id}"),
            access: None,
            filter: None,
            needed: None,
        }
    }

    fn col(i: usize, ty: DataType) -> Expr {
        Expr::Column { index: i, ty }
    }

    fn eq(l: Expr, r: Expr) -> Expr {
        Expr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(l),
            right: Box::new(r),
            ty: DataType::Bool,
        }
    }

    fn and(l: Expr, r: Expr) -> Expr {
        Expr::Binary {
            op: BinaryOp::And,
            left: Box::new(l),
            right: Box::new(r),
            ty: DataType::Bool,
        }
    }

    fn int(i: usize) -> Expr {
        col(i, DataType::Int4)
    }

    /// `FROM t1, t2, ..., tn WHERE <pred>` as the binder builds it: cross joins in FROM
    /// order under one filter.
    fn from_where(n: u32, pred: Expr) -> Plan {
        let mut p = scan(1);
        for id in 2..=n {
            p = Plan::Join {
                left: Box::new(p),
                right: Box::new(scan(id)),
                kind: JoinKind::Inner,
                on: None,
            };
        }
        Plan::Filter {
            input: Box::new(p),
            predicate: pred,
        }
    }

    fn plan(p: Plan) -> Plan {
        crate::rules::optimize_with(p, &Estimator::new(&NoStats))
    }

    #[test]
    fn two_way_key_equality_becomes_a_hash_join_in_written_order() {
        // t1.b1 = t2.a2
        let p = plan(from_where(2, eq(int(1), int(2))));
        assert_eq!(
            explain(&p),
            vec![
                "Hash Join",
                "  Hash Cond: (t1.b1 = t2.a2)",
                "  ->  Seq Scan on t1",
                "  ->  Hash",
                "        ->  Seq Scan on t2",
            ]
        );
    }

    #[test]
    fn a_chain_starts_from_the_key_lookup_and_avoids_cross_products() {
        // FROM t1, t2, t3 WHERE t1.b1 = t3.a3 AND t3.b3 = t2.a2 AND t3.a3 = 5: the written
        // order starts with t1 x t2, a cross product of two 1,000-row tables.
        let five = Expr::literal(Value::Int(5), DataType::Int4);
        let pred = and(
            and(eq(int(1), int(4)), eq(int(5), int(2))),
            eq(int(4), five),
        );
        let p = plan(from_where(3, pred));
        let text = explain(&p).join("\n");
        assert!(!has_loop_without_index(&p), "{text}");
        let Plan::Project { exprs, schema, .. } = &p else {
            panic!("a reordered join restores the FROM layout: {text}");
        };
        assert_eq!((schema.len(), exprs.len()), (6, 6));
        // t3 (one row by its key) is read first; t2 is looked up by its key from t3's row;
        // t1 gets the implied `t1.b1 = 5`.
        assert!(
            text.contains("Index Scan using t3_pkey on t3 (1 equal)")
                && text.contains("Index Cond: (a2 = t3.b3)"),
            "{text}"
        );
        let mut t1_filtered = false;
        visit_scans(&p, &mut |table, filter| {
            t1_filtered |= table == "t1" && filter.is_some();
        });
        assert!(t1_filtered, "{text}");
    }

    fn has_loop_without_index(p: &Plan) -> bool {
        match p {
            Plan::Join { .. } => true,
            Plan::HashJoin { left, right, .. } => {
                has_loop_without_index(left) || has_loop_without_index(right)
            }
            Plan::IndexJoin { left, .. }
            | Plan::Project { input: left, .. }
            | Plan::Filter { input: left, .. } => has_loop_without_index(left),
            _ => false,
        }
    }

    fn visit_scans(p: &Plan, f: &mut dyn FnMut(&str, Option<&Expr>)) {
        match p {
            Plan::Scan { table, filter, .. } => f(&table.name, filter.as_ref()),
            Plan::Join { left, right, .. } | Plan::HashJoin { left, right, .. } => {
                visit_scans(left, f);
                visit_scans(right, f);
            }
            Plan::IndexJoin {
                left,
                table,
                filter,
                ..
            } => {
                visit_scans(left, f);
                f(&table.name, filter.as_ref());
            }
            Plan::Project { input, .. } | Plan::Filter { input, .. } => visit_scans(input, f),
            _ => {}
        }
    }

    #[test]
    fn many_relations_are_ordered_greedily_without_cross_products() {
        // 14 tables in a chain linked in reverse FROM order: t_{i+1}.b = t_i.a, t1.a = 3.
        let n = 14u32;
        let mut pred = eq(int(0), Expr::literal(Value::Int(3), DataType::Int4));
        for i in 1..n as usize {
            // t_{i+1}.b is column 2*i+1; t_i.a is column 2*(i-1).
            pred = and(pred, eq(int(2 * i + 1), int(2 * (i - 1))));
        }
        let p = plan(from_where(n, pred));
        let text = explain(&p).join("\n");
        assert!(!has_loop_without_index(&p), "{text}");
        assert_eq!(
            text.matches("Hash Join").count() + text.matches("Index Cond").count(),
            n as usize - 1,
            "{text}"
        );
    }

    #[test]
    fn more_relations_than_a_set_holds_are_planned_in_parts() {
        let n = MAX_REORDERED_RELATIONS as u32 + 6;
        let mut pred = eq(int(0), Expr::literal(Value::Int(3), DataType::Int4));
        for i in 1..n as usize {
            pred = and(pred, eq(int(2 * i + 1), int(2 * (i - 1))));
        }
        let p = plan(from_where(n, pred));
        assert_eq!(p.width(), 2 * n as usize);
        let text = explain(&p).join("\n");
        assert_eq!(text.matches(" Scan ").count(), n as usize);
    }

    #[test]
    fn equalities_across_type_classes_stay_in_a_nested_loop() {
        let t1 = Plan::Scan {
            table: table(1, DataType::Text),
            qualifier: "t1".into(),
            access: None,
            filter: None,
            needed: None,
        };
        // text = int4 cannot be a hash key (the binder would cast; this checks the guard).
        let est = Estimator::new(&NoStats);
        let p = physical_join(
            t1,
            scan(2),
            JoinKind::Left,
            Some(eq(col(1, DataType::Text), int(2))),
            &est,
        );
        assert!(matches!(p, Plan::Join { .. }), "{p:?}");
        // int4 = int8 can.
        let p = physical_join(
            scan(1),
            scan(2),
            JoinKind::Full,
            Some(and(
                eq(int(1), col(2, DataType::Int8)),
                Expr::Binary {
                    op: BinaryOp::Lt,
                    left: Box::new(int(0)),
                    right: Box::new(int(3)),
                    ty: DataType::Bool,
                },
            )),
            &est,
        );
        let Plan::HashJoin {
            left_keys,
            right_keys,
            residual,
            ..
        } = p
        else {
            panic!("expected a hash join");
        };
        assert_eq!(left_keys, vec![int(1)]);
        assert_eq!(right_keys, vec![col(0, DataType::Int8)]);
        assert!(residual.is_some());
    }
}

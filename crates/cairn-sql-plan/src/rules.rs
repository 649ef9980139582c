//! Rewrite rules that turn a bound (logical) plan into the plan the executor runs.
//!
//! Role: `optimize` is the one entry point; the session calls it on every bound plan. Rules
//! here are heuristics that are always right to apply; the cost-based choices (join order,
//! index choice by statistics) come with the optimiser.
//!
//! Rules:
//! 0. Constant subexpressions are folded first (`Expr::fold_constants`), so filters compare
//!    with values and the estimator can look them up in statistics.
//! 1. `Filter` directly over a `Scan` merges into the scan's `filter`, so rows are filtered as
//!    they are read.
//! 2. A scan filter whose conjuncts fix leading columns of the primary key or an index by
//!    `=` (and optionally bound the next one by `<`, `<=`, `>`, `>=`) offers a key range;
//!    `derive_access` takes the cheapest of those ranges and the whole table, by estimated
//!    rows read (docs/optimizer.md, "Access paths"). The filter is kept whole, so the range
//!    only needs to be a superset of the matching rows. Test:
//!    `pk_equality_becomes_point_range`.
//! 3. A filter over an inner join whose conjuncts reference one side only is pushed to that
//!    side.
//! 4. A WHERE over a LEFT (RIGHT) join moves its conjuncts over the preserved side into
//!    that side.
//! 5. Correlated `EXISTS`, `NOT EXISTS` and `IN` conjuncts of a WHERE become semi and anti
//!    joins (`decorrelate.rs`).
//! 6. A tree of inner joins is planned as a whole by `join_order::plan_inner_joins` (its
//!    predicates pushed down, its order chosen by cost, hash joins where keys allow); every
//!    other join gets its algorithm from `join_order::physical_join`.

use crate::catalog::{IndexDef, TableDef, PRIMARY_INDEX_ID};
use crate::cost::{Estimator, NoStats};
use crate::decorrelate;
use crate::expr::{BinaryOp, Expr};
use crate::join_order;
use crate::plan::{IndexRange, JoinKind, KeyRange, Plan};

/// Applies the rules bottom-up, without table statistics.
pub fn optimize(plan: Plan) -> Plan {
    optimize_with(plan, &Estimator::new(&NoStats))
}

/// Applies the rules bottom-up, estimating with `est`, to the plan and to the plans of the
/// subqueries in its expressions (a correlated subquery's outer values are constants to
/// its plan, so its scans get key ranges from them).
pub fn optimize_with(mut plan: Plan, est: &Estimator) -> Plan {
    fold_constants(&mut plan);
    let mut plan = rewrite(plan, est);
    optimize_subqueries(&mut plan, est);
    plan
}

/// Constant folding ([`Expr::fold_constants`]) in every expression of the plan's operators
/// (subquery plans are folded when [`optimize_with`] reaches them).
fn fold_constants(plan: &mut Plan) {
    plan.exprs_mut(&mut |e| e.fold_constants());
    for child in plan.children_mut() {
        fold_constants(child);
    }
}

fn optimize_subqueries(plan: &mut Plan, est: &Estimator) {
    plan.exprs_mut(&mut |e| {
        e.subquery_plans_mut(&mut |p| {
            let taken = std::mem::replace(p, Plan::Unit);
            *p = optimize_with(taken, est);
        })
    });
    for child in plan.children_mut() {
        optimize_subqueries(child, est);
    }
}

fn rewrite(plan: Plan, est: &Estimator) -> Plan {
    let optimize = |p: Plan| rewrite(p, est);
    let plan = decorrelate::semi_joins(plan);
    if join_order::is_plannable_join_tree(&plan) {
        return join_order::plan_inner_joins(plan, est, &mut |p| rewrite(p, est));
    }
    match plan {
        Plan::Filter { input, predicate } => match *input {
            join @ Plan::Join {
                kind: JoinKind::Left | JoinKind::Right,
                ..
            } => {
                let (join, rest) = filter_outer_join(join, predicate);
                let join = optimize(join);
                match rest {
                    Some(predicate) => push_filter(join, predicate, est),
                    None => join,
                }
            }
            input => push_filter(optimize(input), predicate, est),
        },
        // Operators the rules leave in place: only their inputs are rewritten.
        mut plan @ (Plan::Project { .. }
        | Plan::Aggregate { .. }
        | Plan::Sort { .. }
        | Plan::Limit { .. }
        | Plan::Distinct { .. }
        | Plan::LockRows { .. }
        | Plan::Rename { .. }
        | Plan::Materialize { .. }
        | Plan::ProjectSet { .. }
        | Plan::Window { .. }
        | Plan::LateralJoin { .. }
        | Plan::RecursiveUnion { .. }
        | Plan::SetOp { .. }) => {
            for child in plan.children_mut() {
                let taken = std::mem::replace(child, Plan::Unit);
                *child = optimize(taken);
            }
            plan
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => join_order::physical_join(optimize(*left), optimize(*right), kind, on, est),
        Plan::Scan {
            table,
            qualifier,
            access,
            filter,
            needed,
        } => {
            let access =
                access.or_else(|| filter.as_ref().and_then(|f| derive_access(&table, f, est)));
            Plan::Scan {
                table,
                qualifier,
                access,
                filter,
                needed,
            }
        }
        other => other,
    }
}

/// Splits `e` into its AND-ed parts. A part that is an OR whose every disjunct has some
/// conjuncts in common yields those once, then the OR of what is left of each disjunct:
/// `(a AND b) OR (a AND c)` gives `a` and `b OR c` (nothing more when a disjunct was `a`
/// alone), which holds in SQL's three-valued logic too. The common part can then select an
/// index, filter one side of a join, or be a hash join's key.
pub(crate) fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
            ..
        } => {
            conjuncts(*left, out);
            conjuncts(*right, out);
        }
        or @ Expr::Binary {
            op: BinaryOp::Or, ..
        } => factor_or(or, out),
        other => out.push(other),
    }
}

/// The operands of a chain of `op` (AND or OR), left to right.
fn flatten(e: Expr, op: BinaryOp, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: o, left, right, ..
        } if o == op => {
            flatten(*left, op, out);
            flatten(*right, op, out);
        }
        other => out.push(other),
    }
}

/// [`flatten`] by reference.
pub(crate) fn flatten_refs<'e>(e: &'e Expr, op: BinaryOp, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary {
            op: o, left, right, ..
        } if *o == op => {
            flatten_refs(left, op, out);
            flatten_refs(right, op, out);
        }
        other => out.push(other),
    }
}

/// The OR part of [`conjuncts`].
fn factor_or(or: Expr, out: &mut Vec<Expr>) {
    let mut ds = Vec::new();
    flatten_refs(&or, BinaryOp::Or, &mut ds);
    let parts: Vec<Vec<&Expr>> = ds
        .iter()
        .map(|d| {
            let mut v = Vec::new();
            flatten_refs(d, BinaryOp::And, &mut v);
            v
        })
        .collect();
    let Some((first, rest)) = parts.split_first() else {
        out.push(or);
        return;
    };
    let mut common: Vec<Expr> = Vec::new();
    for c in first {
        if rest.iter().all(|p| p.contains(c)) && !common.contains(*c) {
            common.push((*c).clone());
        }
    }
    drop(parts);
    if common.is_empty() {
        out.push(or);
        return;
    }
    let mut ds = Vec::new();
    flatten(or, BinaryOp::Or, &mut ds);
    let mut remaining = Vec::with_capacity(ds.len());
    let mut always = false;
    for d in ds {
        let mut cs = Vec::new();
        flatten(d, BinaryOp::And, &mut cs);
        cs.retain(|c| !common.contains(c));
        match and_all(cs) {
            Some(r) => remaining.push(r),
            None => always = true,
        }
    }
    out.extend(common);
    if !always {
        if let Some(r) = or_all(remaining) {
            out.push(r);
        }
    }
}

pub(crate) fn or_all(parts: Vec<Expr>) -> Option<Expr> {
    parts.into_iter().reduce(|acc, p| Expr::Binary {
        op: BinaryOp::Or,
        left: Box::new(acc),
        right: Box::new(p),
        ty: crate::types::DataType::Bool,
    })
}

pub(crate) fn and_all(mut parts: Vec<Expr>) -> Option<Expr> {
    let first = parts.pop()?;
    Some(parts.into_iter().rev().fold(first, |acc, p| Expr::Binary {
        op: BinaryOp::And,
        left: Box::new(p),
        right: Box::new(acc),
        ty: crate::types::DataType::Bool,
    }))
}

pub(crate) fn push_filter(input: Plan, predicate: Expr, est: &Estimator) -> Plan {
    match input {
        Plan::Scan {
            table,
            qualifier,
            access: _,
            filter,
            needed,
        } => {
            let filter = match filter {
                Some(f) => Expr::Binary {
                    op: BinaryOp::And,
                    left: Box::new(f),
                    right: Box::new(predicate),
                    ty: crate::types::DataType::Bool,
                },
                None => predicate,
            };
            let access = derive_access(&table, &filter, est);
            Plan::Scan {
                table,
                qualifier,
                access,
                filter: Some(filter),
                needed,
            }
        }
        Plan::Join {
            left,
            right,
            kind: JoinKind::Inner,
            on,
        } => {
            let left_width = left.width();
            let mut parts = Vec::new();
            conjuncts(predicate, &mut parts);
            let (mut lp, mut rp, mut keep) = (Vec::new(), Vec::new(), Vec::new());
            for p in parts {
                let mut min = usize::MAX;
                p.visit(&mut |e| {
                    if let Expr::Column { index, .. } = e {
                        min = min.min(*index);
                    }
                });
                let max = p.max_column();
                match max {
                    Some(m) if m < left_width => lp.push(p),
                    Some(_) if min >= left_width => {
                        let mut p = p;
                        p.map_columns(&mut |i| i - left_width);
                        rp.push(p);
                    }
                    _ => keep.push(p),
                }
            }
            let left = match and_all(lp) {
                Some(p) => push_filter(*left, p, est),
                None => *left,
            };
            let right = match and_all(rp) {
                Some(p) => push_filter(*right, p, est),
                None => *right,
            };
            let on = match (on, and_all(keep)) {
                (Some(o), Some(k)) => Some(Expr::Binary {
                    op: BinaryOp::And,
                    left: Box::new(o),
                    right: Box::new(k),
                    ty: crate::types::DataType::Bool,
                }),
                (o, k) => o.or(k),
            };
            Plan::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind: JoinKind::Inner,
                on,
            }
        }
        // Conjuncts over the left side alone filter it before the lateral subquery runs
        // (for a LEFT join too: the left rows are the preserved ones).
        Plan::LateralJoin {
            left,
            right,
            correlation,
            kind,
            on,
        } => {
            let left_width = left.width();
            let mut parts = Vec::new();
            conjuncts(predicate, &mut parts);
            let (down, keep): (Vec<Expr>, Vec<Expr>) = parts
                .into_iter()
                .partition(|p| p.max_column().is_some_and(|m| m < left_width));
            let left = match and_all(down) {
                Some(p) => push_filter(*left, p, est),
                None => *left,
            };
            let join = Plan::LateralJoin {
                left: Box::new(left),
                right,
                correlation,
                kind,
                on,
            };
            match and_all(keep) {
                Some(predicate) => Plan::Filter {
                    input: Box::new(join),
                    predicate,
                },
                None => join,
            }
        }
        other => Plan::Filter {
            input: Box::new(other),
            predicate,
        },
    }
}

/// A WHERE over a LEFT (RIGHT) join: its conjuncts over the preserved side alone move into
/// that side (a row they reject would only have produced rows they reject); the rest stays
/// above the join. Returns the join with the moved conjuncts (logical, to be optimised) and
/// the conjuncts left for above it.
fn filter_outer_join(join: Plan, predicate: Expr) -> (Plan, Option<Expr>) {
    let Plan::Join {
        left,
        right,
        kind,
        on,
    } = join
    else {
        return (join, Some(predicate));
    };
    let lw = left.width();
    let mut parts = Vec::new();
    conjuncts(predicate, &mut parts);
    let (mut to_left, mut to_right, mut keep) = (Vec::new(), Vec::new(), Vec::new());
    for p in parts {
        let mut subquery = false;
        let (mut lo, mut hi) = (false, false);
        p.visit(&mut |e| match e {
            Expr::Column { index, .. } if *index < lw => lo = true,
            Expr::Column { .. } => hi = true,
            Expr::Subquery { .. } => subquery = true,
            _ => {}
        });
        match kind {
            JoinKind::Left if lo && !hi && !subquery => to_left.push(p),
            JoinKind::Right if hi && !lo && !subquery => {
                let mut p = p;
                p.map_columns(&mut |i| i - lw);
                to_right.push(p);
            }
            _ => keep.push(p),
        }
    }
    let wrap = |input: Box<Plan>, preds: Vec<Expr>| match and_all(preds) {
        Some(predicate) => Box::new(Plan::Filter { input, predicate }),
        None => input,
    };
    let join = Plan::Join {
        left: wrap(left, to_left),
        right: wrap(right, to_right),
        kind,
        on,
    };
    (join, and_all(keep))
}

/// `column op constant` with the column on either side, normalised to column-first.
fn column_comparison(e: &Expr) -> Option<(usize, BinaryOp, &Expr)> {
    let Expr::Binary {
        op, left, right, ..
    } = e
    else {
        return None;
    };
    if !op.is_comparison() || *op == BinaryOp::NotEq {
        return None;
    }
    match (key_column(left), key_column(right)) {
        (Some(index), _) if right.is_constant_or_param() => Some((index, *op, right)),
        (_, Some(index)) if left.is_constant_or_param() => Some((index, op.flipped(), left)),
        _ => None,
    }
}

/// The column a comparison operand reads: a plain column, or a date column widened to a
/// timestamp (`l_shipdate < date '...' + interval '1 year'` compares as timestamps; the
/// widening keeps order, so the bound still bounds the column: see [`date_bound`]).
fn key_column(e: &Expr) -> Option<usize> {
    use crate::types::DataType;
    match e {
        Expr::Column { index, .. } => Some(*index),
        Expr::Cast {
            expr,
            ty: DataType::Timestamp(_) | DataType::Timestamptz(_),
        } => match expr.as_ref() {
            Expr::Column {
                index,
                ty: DataType::Date,
            } => Some(*index),
            _ => None,
        },
        _ => None,
    }
}

impl Expr {
    /// No column references (parameters allowed): the value is fixed for the whole scan.
    fn is_constant_or_param(&self) -> bool {
        self.max_column().is_none()
    }
}

/// Whether a value of type `v` can bound a key column of type `col`: the same type, type
/// modifiers aside (keys encode the value, not the modifier, so `numeric(5,2)` keys and a
/// `numeric` constant compare correctly).
fn same_type(v: &crate::types::DataType, col: &crate::types::DataType) -> bool {
    v.unconstrained() == col.unconstrained()
}

/// For a date key column bounded by a timestamp (`d < date '1995-01-01' + interval '1
/// year'`), the bound's date: `d < ts` and `d <= ts` imply `d <= date(ts)`, and `d > ts`
/// and `d >= ts` imply `d >= date(ts)` (the cast floors to the day), so an inclusive bound
/// at `date(ts)` reads a superset of the rows.
fn date_bound(v: &Expr, col: &crate::types::DataType) -> Option<Expr> {
    use crate::types::DataType;
    (matches!(col, DataType::Date)
        && matches!(v.ty(), DataType::Timestamp(_) | DataType::Timestamptz(_)))
    .then(|| Expr::Cast {
        expr: Box::new(v.clone()),
        ty: DataType::Date,
    })
}

/// The key range `conjuncts` allow on one index: equality on a prefix of its columns, then
/// optionally bounds on the next column.
fn range_for(table: &TableDef, index: &IndexDef, parts: &[Expr]) -> KeyRange {
    let mut range = KeyRange::default();
    for ic in &index.columns {
        let Some((pos, col)) = table.column_by_id(ic.column_id) else {
            break;
        };
        let col_ty = &col.ty;
        let eq = parts.iter().find_map(|p| match column_comparison(p) {
            Some((c, BinaryOp::Eq, v)) if c == pos && same_type(&v.ty(), col_ty) => Some(v.clone()),
            _ => None,
        });
        if let Some(v) = eq {
            range.eq_prefix.push(v);
            continue;
        }
        for p in parts {
            if let Some((c, op, v)) = column_comparison(p) {
                if c != pos {
                    continue;
                }
                // A bound of another type that converts to a looser one of the column's
                // type (the filter, kept whole, removes the extra rows).
                let (v, loose) = if same_type(&v.ty(), col_ty) {
                    (v.clone(), false)
                } else if let Some(mut d) = date_bound(v, col_ty) {
                    d.fold_constants();
                    (d, true)
                } else {
                    continue;
                };
                match op {
                    BinaryOp::Gt | BinaryOp::GtEq if range.lower.is_none() => {
                        range.lower = Some((v, loose || op == BinaryOp::GtEq))
                    }
                    BinaryOp::Lt | BinaryOp::LtEq if range.upper.is_none() => {
                        range.upper = Some((v, loose || op == BinaryOp::LtEq))
                    }
                    _ => {}
                }
            }
        }
        break;
    }
    range
}

/// Picks the cheapest way to read the rows `filter` keeps: the whole table, or the key range
/// the filter allows on one index. Costs are in rows read (docs/optimizer.md, "Access
/// paths"): a full scan reads every row; a range costs [`join_order::lookup_cost`] of the
/// rows it holds (a seek, the rows, and on a secondary index a point read of each row), and
/// it holds the table's rows times the selectivity of the conjuncts that bound it. The
/// primary index is tried first and keeps ties.
///
/// Equality on the whole primary key is taken whatever the table's size: it reads one key
/// (a point read), where a full scan of a small table would look as cheap by rows but puts
/// the whole table into a SERIALIZABLE transaction's read set (then any write to the table
/// fails its commit) and gives UPDATE/DELETE no row to lock before reading (`exec.rs`,
/// `lock_point_first`). Test: `whole_key_equality_is_a_point_read_even_on_a_tiny_table`.
fn derive_access(
    table: &std::sync::Arc<TableDef>,
    filter: &Expr,
    est: &Estimator,
) -> Option<IndexRange> {
    let mut parts = Vec::new();
    conjuncts(filter.clone(), &mut parts);
    let point = range_for(table, &table.primary, &parts);
    if point.eq_prefix.len() == table.primary.columns.len() {
        return Some(IndexRange {
            index_id: PRIMARY_INDEX_ID,
            range: point,
            reverse: false,
        });
    }
    let whole = Plan::Scan {
        table: table.clone(),
        qualifier: String::new(),
        access: None,
        filter: None,
        needed: None,
    };
    let origins = est.origins(&whole);
    let table_rows = est.table_rows(table);
    let mut best: Option<(f64, u32, KeyRange)> = None;
    for idx in std::iter::once(&table.primary).chain(table.indexes.iter()) {
        let r = range_for(table, idx, &parts);
        let Some(bounds) = range_predicate(table, idx, &r) else {
            continue;
        };
        let rows = table_rows * est.selectivity(&bounds, &origins, table_rows);
        let cost = join_order::lookup_cost(rows, idx.id != PRIMARY_INDEX_ID);
        if best.as_ref().is_none_or(|(b, _, _)| cost < *b) {
            best = Some((cost, idx.id, r));
        }
    }
    best.filter(|(cost, _, _)| *cost < table_rows)
        .map(|(_, index_id, range)| IndexRange {
            index_id,
            range,
            reverse: false,
        })
}

/// The conjuncts a key range stands for (`key1 = v AND key2 >= lo AND key2 < hi`), for
/// estimating how many rows it holds; `None` for the full range.
fn range_predicate(table: &TableDef, index: &IndexDef, range: &KeyRange) -> Option<Expr> {
    let column = |i: usize| -> Option<Expr> {
        let (index, col) = table.column_by_id(index.columns.get(i)?.column_id)?;
        Some(Expr::Column {
            index,
            ty: col.ty.clone(),
        })
    };
    let cmp = |op: BinaryOp, l: Expr, r: &Expr| Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r.clone()),
        ty: crate::types::DataType::Bool,
    };
    let mut parts = Vec::new();
    for (i, v) in range.eq_prefix.iter().enumerate() {
        parts.push(cmp(BinaryOp::Eq, column(i)?, v));
    }
    let next = range.eq_prefix.len();
    let bounds = [
        (&range.lower, BinaryOp::GtEq, BinaryOp::Gt),
        (&range.upper, BinaryOp::LtEq, BinaryOp::Lt),
    ];
    for (bound, inclusive_op, exclusive_op) in bounds {
        if let Some((v, inclusive)) = bound {
            let op = if *inclusive {
                inclusive_op
            } else {
                exclusive_op
            };
            parts.push(cmp(op, column(next)?, v));
        }
    }
    and_all(parts)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::types::{DataType, Value};

    fn table() -> Arc<TableDef> {
        crate::catalog::test_table(100, "", DataType::Int4)
    }

    fn cmp(op: BinaryOp, col: usize, v: i64) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(Expr::Column {
                index: col,
                ty: DataType::Int4,
            }),
            right: Box::new(Expr::literal(Value::Int(v), DataType::Int4)),
            ty: DataType::Bool,
        }
    }

    fn scan_with(pred: Expr) -> Plan {
        let t = table();
        optimize(Plan::Filter {
            input: Box::new(Plan::Scan {
                table: t,
                qualifier: "t".into(),
                access: None,
                filter: None,
                needed: None,
            }),
            predicate: pred,
        })
    }

    #[test]
    fn pk_equality_becomes_point_range() {
        let Plan::Scan {
            access: Some(a),
            filter: Some(_),
            ..
        } = scan_with(cmp(BinaryOp::Eq, 0, 7))
        else {
            panic!("expected a scan with an access range");
        };
        assert_eq!(
            a.range.eq_prefix,
            vec![Expr::literal(Value::Int(7), DataType::Int4)]
        );
    }

    #[test]
    fn pk_bounds_become_a_range_and_other_columns_do_not() {
        let pred = Expr::Binary {
            op: BinaryOp::And,
            left: Box::new(cmp(BinaryOp::GtEq, 0, 3)),
            right: Box::new(cmp(BinaryOp::Lt, 0, 9)),
            ty: DataType::Bool,
        };
        let Plan::Scan {
            access: Some(a), ..
        } = scan_with(pred)
        else {
            panic!("no range")
        };
        assert!(a.range.eq_prefix.is_empty());
        assert_eq!(a.range.lower.as_ref().map(|l| l.1), Some(true));
        assert_eq!(a.range.upper.as_ref().map(|u| u.1), Some(false));
        let Plan::Scan { access, .. } = scan_with(cmp(BinaryOp::Eq, 1, 3)) else {
            panic!("not a scan")
        };
        assert!(
            access.is_none(),
            "a non-key column must not narrow the scan"
        );
    }

    #[test]
    fn whole_key_equality_is_a_point_read_even_on_a_tiny_table() {
        struct Tiny;
        impl crate::cost::StatsSource for Tiny {
            fn stats(&self, table: &TableDef) -> Option<Arc<crate::stats::TableStats>> {
                Some(Arc::new(crate::stats::TableStats {
                    table_id: table.id,
                    row_count: 2.0,
                    size_bytes: 0,
                    sample_rows: 2,
                    analyzed_at_micros: 0,
                    auto: false,
                    columns: Vec::new(),
                    indexes: Vec::new(),
                }))
            }
        }
        let scan = |pred: Expr| {
            optimize_with(
                Plan::Filter {
                    input: Box::new(Plan::Scan {
                        table: table(),
                        qualifier: "t".into(),
                        access: None,
                        filter: None,
                        needed: None,
                    }),
                    predicate: pred,
                },
                &Estimator::new(&Tiny),
            )
        };
        let Plan::Scan {
            access: Some(a), ..
        } = scan(cmp(BinaryOp::Eq, 0, 7))
        else {
            panic!("a whole-key equality on a 2-row table is not a point read");
        };
        assert_eq!(a.index_id, PRIMARY_INDEX_ID);
        assert_eq!(a.range.eq_prefix.len(), 1);
        // A range on the same tiny table is cheaper as a full scan (the cost rule stands).
        let Plan::Scan { access, .. } = scan(cmp(BinaryOp::GtEq, 0, 7)) else {
            panic!("not a scan")
        };
        assert!(access.is_none(), "{access:?}");
    }

    fn bool_col(i: usize) -> Expr {
        Expr::Column {
            index: i,
            ty: DataType::Bool,
        }
    }

    fn bool_op(op: BinaryOp, parts: Vec<Expr>) -> Expr {
        parts
            .into_iter()
            .reduce(|a, b| Expr::Binary {
                op,
                left: Box::new(a),
                right: Box::new(b),
                ty: DataType::Bool,
            })
            .unwrap_or(Expr::literal(
                Value::Bool(op == BinaryOp::And),
                DataType::Bool,
            ))
    }

    /// `d >= date AND d < timestamp`, where the binder widened `d` to a timestamp for the
    /// second comparison, bounds an index on `d` on both sides: constant folding turns the
    /// second comparison into `d < date` (`Expr::compare_dates_as_dates`), an exclusive
    /// bound. (A widened comparison with a parameter keeps the cast and gets the inclusive
    /// bound of `date_bound`, the filter deciding the boundary day.)
    #[test]
    fn a_widened_date_column_gets_both_bounds() {
        let mut t = (*crate::catalog::test_table(1, "", DataType::Date)).clone();
        t.indexes.push(crate::catalog::IndexDef {
            id: 2,
            name: "t1_b".into(),
            columns: vec![crate::catalog::IndexColumn {
                column_id: 2,
                descending: false,
            }],
            unique: false,
            constraint: false,
        });
        let d = Expr::Column {
            index: 1,
            ty: DataType::Date,
        };
        let lower = Expr::Binary {
            op: BinaryOp::GtEq,
            left: Box::new(d.clone()),
            right: Box::new(Expr::literal(Value::Int(100), DataType::Date)),
            ty: DataType::Bool,
        };
        let upper = Expr::Binary {
            op: BinaryOp::Lt,
            left: Box::new(Expr::Cast {
                expr: Box::new(d),
                ty: DataType::Timestamp(None),
            }),
            right: Box::new(Expr::literal(
                Value::Int(465 * 86_400_000_000),
                DataType::Timestamp(None),
            )),
            ty: DataType::Bool,
        };
        let p = optimize(Plan::Filter {
            input: Box::new(Plan::Scan {
                table: Arc::new(t),
                qualifier: "t1".into(),
                access: None,
                filter: None,
                needed: None,
            }),
            predicate: Expr::Binary {
                op: BinaryOp::And,
                left: Box::new(lower),
                right: Box::new(upper),
                ty: DataType::Bool,
            },
        });
        let Plan::Scan {
            access: Some(a), ..
        } = p
        else {
            panic!("no access path: {p:?}");
        };
        assert_eq!(a.index_id, 2);
        assert_eq!(a.range.lower.as_ref().map(|l| l.1), Some(true));
        let (bound, inclusive) = a.range.upper.expect("an upper bound");
        assert!(!inclusive);
        assert_eq!(bound, Expr::literal(Value::Int(465), DataType::Date));
    }

    #[test]
    fn common_conjuncts_come_out_of_an_or() {
        let (a, b, c) = (bool_col(0), bool_col(1), bool_col(2));
        let or = bool_op(
            BinaryOp::Or,
            vec![
                bool_op(BinaryOp::And, vec![a.clone(), b.clone()]),
                bool_op(BinaryOp::And, vec![c.clone(), a.clone()]),
            ],
        );
        let mut out = Vec::new();
        conjuncts(or, &mut out);
        assert_eq!(
            out,
            vec![a.clone(), bool_op(BinaryOp::Or, vec![b.clone(), c])]
        );
        // A disjunct that is the common part alone leaves nothing else.
        let or = bool_op(
            BinaryOp::Or,
            vec![
                a.clone(),
                bool_op(BinaryOp::And, vec![a.clone(), b.clone()]),
            ],
        );
        let mut out = Vec::new();
        conjuncts(or, &mut out);
        assert_eq!(out, vec![a.clone()]);
        // Nothing in common: the OR as written.
        let or = bool_op(BinaryOp::Or, vec![a, b]);
        let mut out = Vec::new();
        conjuncts(or.clone(), &mut out);
        assert_eq!(out, vec![or]);
    }

    proptest::proptest! {
        /// Factoring never changes the value, NULLs included: an OR of ANDs over five
        /// boolean columns, against its conjuncts AND-ed again, for all 3^5 rows.
        #[test]
        fn factored_or_has_the_same_value(
            ds in proptest::collection::vec(proptest::collection::vec(0usize..5, 1..4), 1..4)
        ) {
            let or = bool_op(
                BinaryOp::Or,
                ds.iter()
                    .map(|d| bool_op(BinaryOp::And, d.iter().map(|&i| bool_col(i)).collect()))
                    .collect(),
            );
            let mut parts = Vec::new();
            conjuncts(or.clone(), &mut parts);
            let factored = bool_op(BinaryOp::And, parts);
            let ctx = crate::expr::EvalContext::default();
            for n in 0..243u32 {
                let row: Vec<Value> = (0..5)
                    .map(|k| match n / 3u32.pow(k) % 3 {
                        0 => Value::Null,
                        1 => Value::Bool(false),
                        _ => Value::Bool(true),
                    })
                    .collect();
                proptest::prop_assert_eq!(
                    or.eval(&row, &ctx).ok(),
                    factored.eval(&row, &ctx).ok(),
                    "row {:?}", row
                );
            }
        }
    }
}

//! Column pruning: marks, on each table scan, the columns that the operators above it read,
//! so the executor decodes only those (a TPC-H query reads 4 to 7 of lineitem's 16
//! columns; decoding the others, text comments included, was most of a scan's cost).
//!
//! Role: the session calls [`prune_columns`] on a query's optimised plan (and on the rows
//! source of `INSERT ... SELECT`), never on the input of UPDATE or DELETE, which write
//! whole rows back.
//!
//! Invariants:
//! 1. Conservative: an operator this pass does not analyse in detail (set operations,
//!    DISTINCT, windows, lateral and recursive queries, row locking, set-returning
//!    projections) needs every column of its inputs, so a column can only be left out when
//!    no expression of any operator between it and the output reads it.
//! 2. A scan's `needed` covers its own filter, so the rows it keeps are exactly the rows it
//!    would keep decoding everything; only the values of unneeded columns differ (NULL).
//! 3. Expressions read columns only through `Expr::Column` (subqueries get outer values
//!    through their correlation expressions, which are children of the subquery expression),
//!    so collecting `Expr::Column` indices finds every read. A subquery's own plan is pruned
//!    on its own, every output column needed.
//!
//! Test: `prune::tests` (what is marked) and every query test, which runs pruned plans.

use crate::expr::Expr;
use crate::plan::Plan;

/// Prunes `plan`, whose every output column is needed.
pub fn prune_columns(plan: &mut Plan) {
    let width = plan.width();
    prune(plan, vec![true; width]);
}

/// Marks in `needed` the columns `e` reads ([`Expr::mark_columns`]).
fn mark(e: &Expr, needed: &mut [bool]) {
    e.mark_columns(needed);
}

fn all(plan: &Plan) -> Vec<bool> {
    vec![true; plan.width()]
}

/// Prunes the plans of the subqueries in `plan`'s own expressions.
fn prune_subqueries(plan: &mut Plan) {
    plan.exprs_mut(&mut |e| e.subquery_plans_mut(&mut |p| prune_columns(p)));
}

/// `needed` has one entry per output column of `plan`.
fn prune(plan: &mut Plan, mut needed: Vec<bool>) {
    prune_subqueries(plan);
    match plan {
        Plan::Scan {
            filter,
            needed: slot,
            table,
            ..
        } => {
            needed.resize(table.columns.len(), true);
            if let Some(f) = filter {
                mark(f, &mut needed);
            }
            *slot = (!needed.iter().all(|n| *n)).then_some(needed);
        }
        Plan::Filter { input, predicate } => {
            mark(predicate, &mut needed);
            prune(input, needed);
        }
        Plan::Project { input, exprs, .. } => {
            let mut below = vec![false; input.width()];
            for e in exprs.iter() {
                mark(e, &mut below);
            }
            prune(input, below);
        }
        Plan::Aggregate {
            input,
            group_by,
            aggs,
            ..
        } => {
            let mut below = vec![false; input.width()];
            for e in group_by.iter() {
                mark(e, &mut below);
            }
            for a in aggs.iter_mut() {
                a.exprs_mut(&mut |e| mark(e, &mut below));
            }
            prune(input, below);
        }
        Plan::Sort { input, keys } => {
            for k in keys.iter() {
                match needed.get_mut(k.column) {
                    Some(n) => *n = true,
                    None => needed.iter_mut().for_each(|n| *n = true),
                }
            }
            prune(input, needed);
        }
        Plan::Limit { input, .. } | Plan::Rename { input, .. } => prune(input, needed),
        Plan::Join {
            left, right, on, ..
        } => {
            let (lw, rw) = (left.width(), right.width());
            needed.resize(lw + rw, false);
            if let Some(on) = on {
                mark(on, &mut needed);
            }
            let right_needed = needed.split_off(lw);
            prune(left, needed);
            prune(right, right_needed);
        }
        Plan::HashJoin {
            left,
            right,
            left_keys,
            right_keys,
            residual,
            ..
        } => {
            let (lw, rw) = (left.width(), right.width());
            needed.resize(lw + rw, false);
            if let Some(r) = residual {
                mark(r, &mut needed);
            }
            let mut right_needed = needed.split_off(lw);
            for k in left_keys.iter() {
                mark(k, &mut needed);
            }
            for k in right_keys.iter() {
                mark(k, &mut right_needed);
            }
            prune(left, needed);
            prune(right, right_needed);
        }
        Plan::IndexJoin {
            left,
            table,
            access,
            filter,
            residual,
            kind,
            needed: slot,
            ..
        } => {
            // The left side needs what the output, the residual and the key range read of
            // it; the inner table what the output (none of it for semi and anti joins), the
            // residual and its own filter read.
            let lw = left.width();
            let tw = table.columns.len();
            if !kind.emits_right() {
                needed.truncate(lw);
            }
            needed.resize(lw + tw, false);
            if let Some(r) = residual {
                mark(r, &mut needed);
            }
            let mut inner = needed.split_off(lw);
            if let Some(f) = filter {
                mark(f, &mut inner);
            }
            *slot = (!inner.iter().all(|n| *n)).then_some(inner);
            access.range.exprs_mut(&mut |e| mark(e, &mut needed));
            prune(left, needed);
        }
        // Invariant 1: everything below these is needed.
        // A materialized CTE's rows serve every reference: all of its columns are kept.
        Plan::Distinct { input }
        | Plan::Materialize { input, .. }
        | Plan::ProjectSet { input, .. }
        | Plan::LockRows { input, .. }
        | Plan::Window { input, .. } => {
            let below = all(input);
            prune(input, below);
        }
        Plan::SetOp { left, right, .. }
        | Plan::LateralJoin { left, right, .. }
        | Plan::RecursiveUnion {
            base: left,
            recursive: right,
            ..
        } => {
            let (l, r) = (all(left), all(right));
            prune(left, l);
            prune(right, r);
        }
        Plan::Unit | Plan::Values { .. } | Plan::WorkTable { .. } | Plan::Rows { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_table;
    use crate::expr::BinaryOp;
    use crate::plan::OutputColumn;
    use crate::types::DataType;

    fn col(i: usize) -> Expr {
        Expr::Column {
            index: i,
            ty: DataType::Int4,
        }
    }

    fn scan(id: u32, filter: Option<Expr>) -> Plan {
        Plan::Scan {
            table: test_table(id, "", DataType::Int4),
            qualifier: format!("t{id}"),
            access: None,
            filter,
            needed: None,
        }
    }

    fn needed_of(p: &Plan) -> Vec<Option<Vec<bool>>> {
        let mut out = Vec::new();
        fn walk(p: &mut Plan, out: &mut Vec<Option<Vec<bool>>>) {
            if let Plan::Scan { needed, .. } | Plan::IndexJoin { needed, .. } = p {
                out.push(needed.clone());
            }
            for c in p.children_mut() {
                walk(c, out);
            }
        }
        walk(&mut p.clone(), &mut out);
        out
    }

    fn project(input: Plan, exprs: Vec<Expr>) -> Plan {
        let schema = exprs
            .iter()
            .map(|_| OutputColumn::new("x", DataType::Int4))
            .collect();
        Plan::Project {
            input: Box::new(input),
            exprs,
            schema,
        }
    }

    #[test]
    fn a_projection_reads_only_its_columns() {
        // SELECT a FROM t1: b is not decoded.
        let mut p = project(scan(1, None), vec![col(0)]);
        prune_columns(&mut p);
        assert_eq!(needed_of(&p), vec![Some(vec![true, false])]);
        // The scan's own filter counts: SELECT a FROM t1 WHERE b > 1 reads both.
        let gt = Expr::Binary {
            op: BinaryOp::Gt,
            left: Box::new(col(1)),
            right: Box::new(Expr::literal(crate::types::Value::Int(1), DataType::Int4)),
            ty: DataType::Bool,
        };
        let mut p = project(scan(1, Some(gt)), vec![col(0)]);
        prune_columns(&mut p);
        assert_eq!(needed_of(&p), vec![None]);
    }

    #[test]
    fn join_sides_get_their_own_columns() {
        // SELECT t2.b FROM t1 JOIN t2 ON t1.a = t2.a: t1 needs a, t2 needs a and b.
        let on = Expr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(col(0)),
            right: Box::new(col(2)),
            ty: DataType::Bool,
        };
        let join = Plan::Join {
            left: Box::new(scan(1, None)),
            right: Box::new(scan(2, None)),
            kind: crate::plan::JoinKind::Inner,
            on: Some(on),
        };
        let mut p = project(join, vec![col(3)]);
        prune_columns(&mut p);
        assert_eq!(needed_of(&p), vec![Some(vec![true, false]), None]);
    }

    #[test]
    fn an_index_join_decodes_only_the_inner_columns_read() {
        let index_join = |kind, filter: Option<Expr>, residual: Option<Expr>| Plan::IndexJoin {
            left: Box::new(scan(1, None)),
            table: test_table(2, "", DataType::Int4),
            qualifier: "t2".into(),
            access: crate::plan::IndexRange {
                index_id: crate::catalog::PRIMARY_INDEX_ID,
                range: crate::plan::KeyRange {
                    eq_prefix: vec![col(0)],
                    lower: None,
                    upper: None,
                },
                reverse: false,
            },
            filter,
            kind,
            residual,
            needed: None,
        };
        let eq = |l: usize, r: usize| Expr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(col(l)),
            right: Box::new(col(r)),
            ty: DataType::Bool,
        };
        use crate::plan::JoinKind;
        // SELECT t1.b FROM t1 JOIN t2 ON t2.a = t1.a (residual repeats the key): t2's b is
        // not decoded; t1 needs a (the key) and b (the output).
        let mut p = project(
            index_join(JoinKind::Inner, None, Some(eq(0, 2))),
            vec![col(1)],
        );
        prune_columns(&mut p);
        assert_eq!(needed_of(&p), vec![Some(vec![true, false]), None]);
        // Outputting t2.b, or filtering t2 on b, reads it.
        let mut p = project(
            index_join(JoinKind::Inner, None, Some(eq(0, 2))),
            vec![col(3)],
        );
        prune_columns(&mut p);
        assert_eq!(
            needed_of(&p),
            vec![None, Some(vec![true, false])],
            "t2 needs a (residual) and b; t1 only a"
        );
        // A semi join outputs none of t2; its filter's columns are still read.
        let mut p = project(
            index_join(JoinKind::Semi, Some(eq(1, 1)), None),
            vec![col(1)],
        );
        prune_columns(&mut p);
        assert_eq!(
            needed_of(&p),
            vec![Some(vec![false, true]), None],
            "t2 reads b for its filter; t1 a (key) and b (output)"
        );
    }

    #[test]
    fn distinct_needs_every_column() {
        let mut p = project(
            Plan::Distinct {
                input: Box::new(scan(1, None)),
            },
            vec![col(0)],
        );
        prune_columns(&mut p);
        assert_eq!(needed_of(&p), vec![None]);
    }
}

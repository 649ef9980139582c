//! Decorrelation: correlated `EXISTS`, `NOT EXISTS` and `IN` subqueries in a WHERE clause
//! become semi and anti joins, which the optimiser can run as hash or index joins instead of
//! running the subquery once per row.
//!
//! Role: `rules::rewrite` calls [`semi_joins`] on every `Filter` before anything else. A
//! conjunct of the filter's predicate is turned into a join when it is
//! - `EXISTS (q)` (semi join) or `NOT EXISTS (q)` (anti join), or `x IN (q)` (semi join on
//!   `x = q's column`; `NOT IN` is left alone: its NULL rules are not an anti join's),
//! - with `q` correlated, and every outer reference of `q` in the conjuncts of `q`'s top
//!   WHERE: `q` is `[Sort|Distinct]* [Project] Filter(source)` with no outer reference in
//!   `source` (nor in the projected column of an `IN`).
//!
//! The join's right input is `source` under the uncorrelated conjuncts of that WHERE; its
//! condition is the correlated conjuncts with each outer reference replaced by the outer
//! column it stands for (plus `x = column` for `IN`), over the joined layout (the filter's
//! input, then `source`).
//!
//! Invariants:
//! 1. Same rows, same order: a semi join emits each left row once, in order, when some right
//!    row satisfies the condition (exactly when the subquery would return a row, or for IN
//!    a row whose column equals `x`: in a WHERE clause, NULL and false both reject); an anti
//!    join emits it when none does (exactly when `NOT EXISTS` is true). Tests:
//!    `tests/slt/subquery_joins.slt` (on Cairn and PostgreSQL), unit tests below.
//! 2. The rebuilt filter is `Filter(others, Join*(Filter(plain, input)))`: conjuncts without
//!    subqueries or with only uncorrelated ones (computed once per statement) first, then
//!    the joins in written order, then the conjuncts whose correlated subqueries stay
//!    subqueries. The layout is the filter input's throughout. Test:
//!    `uncorrelated_subquery_conjuncts_filter_before_the_joins`.

use crate::expr::{BinaryOp, Expr, SubqueryKind};
use crate::join_order::has_subquery;
use crate::plan::{JoinKind, Plan};
use crate::rules::{and_all, conjuncts};
use crate::types::DataType;

/// Rewrites `plan` if it is a `Filter` with decorrelatable conjuncts (module header);
/// returns any other plan unchanged.
pub fn semi_joins(plan: Plan) -> Plan {
    let Plan::Filter { input, predicate } = plan else {
        return plan;
    };
    let lw = input.width();
    let mut parts = Vec::new();
    conjuncts(predicate, &mut parts);
    let (mut plain, mut joins, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for p in parts {
        if !has_subquery(&p) || only_uncorrelated_subqueries(&p) {
            plain.push(p);
            continue;
        }
        match as_join(p, lw) {
            Ok(j) => joins.push(j),
            Err(p) => others.push(p),
        }
    }
    if joins.is_empty() {
        let predicate = and_all(plain.into_iter().chain(others).collect());
        return match predicate {
            Some(predicate) => Plan::Filter { input, predicate },
            None => *input,
        };
    }
    let mut plan = match and_all(plain) {
        Some(predicate) => Plan::Filter { input, predicate },
        None => *input,
    };
    for (kind, right, on) in joins {
        plan = Plan::Join {
            left: Box::new(plan),
            right: Box::new(right),
            kind,
            on,
        };
    }
    match and_all(others) {
        Some(predicate) => Plan::Filter {
            input: Box::new(plan),
            predicate,
        },
        None => plan,
    }
}

/// Whether every subquery in `p` is uncorrelated (runs once per statement, so `p` costs
/// about what a conjunct without subqueries costs per row), with no subquery in its
/// correlation (there is none to be in). Such a conjunct filters the rows before the
/// joins, not after: a semi or anti join passes left rows through unchanged, so the
/// filter commutes with it, and the joins probe fewer rows (TPC-H q22's
/// `c_acctbal > (SELECT avg(...))` before its `NOT EXISTS`).
fn only_uncorrelated_subqueries(p: &Expr) -> bool {
    let mut all = true;
    p.visit(&mut |x| {
        if let Expr::Subquery { correlation, .. } = x {
            all &= correlation.is_empty();
        }
    });
    all
}

/// The join that conjunct `p` (over a row of width `lw`) becomes, or `p` back.
fn as_join(p: Expr, lw: usize) -> Result<(JoinKind, Plan, Option<Expr>), Expr> {
    let Expr::Subquery {
        plan,
        kind,
        correlation,
        ty,
    } = p
    else {
        return Err(p);
    };
    let restore = |plan, kind| Expr::Subquery {
        plan,
        kind,
        correlation: correlation.clone(),
        ty: ty.clone(),
    };
    let (join_kind, operand) = match &kind {
        SubqueryKind::Exists { negated } => (
            if *negated {
                JoinKind::Anti
            } else {
                JoinKind::Semi
            },
            None,
        ),
        SubqueryKind::In {
            expr,
            negated: false,
        } => (JoinKind::Semi, Some(expr.as_ref().clone())),
        _ => return Err(restore(plan, kind)),
    };
    if correlation.is_empty()
        || correlation.iter().any(has_subquery)
        || operand.as_ref().is_some_and(has_subquery)
    {
        return Err(restore(plan, kind));
    }
    let mut plan = plan;
    if !decorrelatable(&mut plan, operand.is_some()) {
        return Err(restore(plan, kind));
    }
    let (source, local, correlated, column) = take_apart(*plan, operand.is_some());
    let mut on = Vec::new();
    if let (Some(x), Some(mut c)) = (operand, column) {
        c.map_columns(&mut |i| i + lw);
        on.push(Expr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(x),
            right: Box::new(c),
            ty: DataType::Bool,
        });
    }
    for mut c in correlated {
        c.map_columns(&mut |i| i + lw);
        replace_outer_refs(&mut c, &correlation);
        on.push(c);
    }
    let right = match and_all(local) {
        Some(predicate) => Plan::Filter {
            input: Box::new(source),
            predicate,
        },
        None => source,
    };
    Ok((join_kind, right, and_all(on)))
}

/// The operators above the filter that the subquery's result does not depend on for
/// `EXISTS` / `IN`: row order and duplicates.
fn strip_order(plan: &mut Plan) -> &mut Plan {
    match plan {
        Plan::Sort { input, .. } | Plan::Distinct { input } => strip_order(input),
        other => other,
    }
}

/// Whether `plan` has the shape [`take_apart`] takes: `[Sort|Distinct]* [Project]
/// Filter(source)`, outer references only in the filter's conjuncts (and, for `EXISTS`, in
/// the ignored projection), none of those conjuncts with a subquery, and for `IN`
/// (`want_column`) one projected column.
fn decorrelatable(plan: &mut Plan, want_column: bool) -> bool {
    let filter = match strip_order(plan) {
        Plan::Project { input, exprs, .. } => {
            if want_column && (exprs.len() != 1 || has_outer_ref(&exprs[0])) {
                return false;
            }
            input.as_mut()
        }
        _ if want_column => return false,
        other => other,
    };
    let Plan::Filter { input, predicate } = filter else {
        return false;
    };
    if plan_has_outer_ref(input) {
        return false;
    }
    let mut parts = Vec::new();
    conjuncts(predicate.clone(), &mut parts);
    !parts.iter().any(|p| has_outer_ref(p) && has_subquery(p))
}

/// A plan [`decorrelatable`] accepted, taken apart: `source`, the uncorrelated and the
/// correlated conjuncts of the filter, and (`want_column`) the projected column over
/// `source`'s layout.
fn take_apart(plan: Plan, want_column: bool) -> (Plan, Vec<Expr>, Vec<Expr>, Option<Expr>) {
    let mut plan = plan;
    while let Plan::Sort { input, .. } | Plan::Distinct { input } = plan {
        plan = *input;
    }
    let (filter, column) = match plan {
        Plan::Project {
            input, mut exprs, ..
        } => (*input, if want_column { exprs.pop() } else { None }),
        other => (other, None),
    };
    let (source, predicate) = match filter {
        Plan::Filter { input, predicate } => (*input, Some(predicate)),
        other => (other, None),
    };
    let mut parts = Vec::new();
    if let Some(p) = predicate {
        conjuncts(p, &mut parts);
    }
    let (correlated, local) = parts.into_iter().partition(has_outer_ref);
    (source, local, correlated, column)
}

fn has_outer_ref(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| found |= matches!(x, Expr::OuterRef { .. }));
    found
}

/// Whether an outer reference appears in any expression of `plan` or its inputs (those
/// inside nested subqueries' plans refer to those subqueries' own correlation, and do not
/// count; their correlation values, over this plan's rows, do).
fn plan_has_outer_ref(plan: &mut Plan) -> bool {
    let mut found = false;
    plan.exprs_mut(&mut |e| found |= has_outer_ref(e));
    for c in plan.children_mut() {
        found |= plan_has_outer_ref(c);
    }
    found
}

/// Replaces each `OuterRef { slot }` with `values[slot]`.
fn replace_outer_refs(e: &mut Expr, values: &[Expr]) {
    if let Expr::OuterRef { slot, .. } = e {
        if let Some(v) = values.get(*slot) {
            *e = v.clone();
        }
        return;
    }
    for c in e.children_mut() {
        replace_outer_refs(c, values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_table;
    use crate::plan::{AggCall, AggFunc, OutputColumn};
    use crate::rules::optimize;
    use crate::types::Value;

    fn scan(id: u32) -> Plan {
        Plan::Scan {
            table: test_table(id, &id.to_string(), DataType::Int4),
            qualifier: format!("t{id}"),
            access: None,
            filter: None,
            needed: None,
        }
    }

    fn col(index: usize) -> Expr {
        Expr::Column {
            index,
            ty: DataType::Int4,
        }
    }

    fn outer(slot: usize) -> Expr {
        Expr::OuterRef {
            slot,
            ty: DataType::Int4,
        }
    }

    fn bin(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            ty: DataType::Bool,
        }
    }

    fn project(input: Plan, exprs: Vec<Expr>) -> Plan {
        let schema = exprs
            .iter()
            .map(|e| OutputColumn::new("x", e.ty()))
            .collect();
        Plan::Project {
            input: Box::new(input),
            exprs,
            schema,
        }
    }

    /// `SELECT b2 FROM t2 WHERE a2 = outer.b1 AND b2 > 5`, correlated to t1's column 1.
    fn subquery_plan() -> Plan {
        let filter = Plan::Filter {
            input: Box::new(scan(2)),
            predicate: bin(
                BinaryOp::And,
                bin(BinaryOp::Eq, col(0), outer(0)),
                bin(
                    BinaryOp::Gt,
                    col(1),
                    Expr::literal(Value::Int(5), DataType::Int4),
                ),
            ),
        };
        project(filter, vec![col(1)])
    }

    fn where_t1(kind: SubqueryKind, plan: Plan) -> Plan {
        Plan::Filter {
            input: Box::new(scan(1)),
            predicate: Expr::Subquery {
                plan: Box::new(plan),
                kind,
                correlation: vec![col(1)],
                ty: DataType::Bool,
            },
        }
    }

    #[test]
    fn exists_becomes_a_hash_semi_join_and_not_exists_an_anti_join() {
        for (negated, want) in [(false, JoinKind::Semi), (true, JoinKind::Anti)] {
            let p = optimize(where_t1(SubqueryKind::Exists { negated }, subquery_plan()));
            let Plan::HashJoin {
                kind,
                left,
                right,
                left_keys,
                right_keys,
                residual,
            } = &p
            else {
                panic!("{p:?}");
            };
            assert_eq!(*kind, want);
            assert_eq!(p.width(), 2, "the output is the left layout");
            assert!(matches!(**left, Plan::Scan { .. }));
            // The uncorrelated conjunct filters t2's scan; the correlated one is the key.
            assert!(
                matches!(
                    **right,
                    Plan::Scan {
                        filter: Some(_),
                        ..
                    }
                ),
                "{right:?}"
            );
            assert_eq!(left_keys, &vec![col(1)]);
            assert_eq!(right_keys, &vec![col(0)]);
            assert!(residual.is_none());
        }
    }

    #[test]
    fn correlated_in_joins_on_the_operand_and_the_column() {
        let p = optimize(where_t1(
            SubqueryKind::In {
                expr: Box::new(col(0)),
                negated: false,
            },
            subquery_plan(),
        ));
        let Plan::HashJoin {
            kind: JoinKind::Semi,
            left_keys,
            right_keys,
            ..
        } = &p
        else {
            panic!("{p:?}");
        };
        assert_eq!(left_keys, &vec![col(0), col(1)]);
        assert_eq!(right_keys, &vec![col(1), col(0)]);
    }

    fn stays_a_subquery(p: Plan) {
        let p = semi_joins(p);
        assert!(
            matches!(
                &p,
                Plan::Filter {
                    predicate: Expr::Subquery { .. },
                    ..
                }
            ),
            "{p:?}"
        );
    }

    #[test]
    fn not_in_aggregates_and_deep_outer_references_stay_subqueries() {
        stays_a_subquery(where_t1(
            SubqueryKind::In {
                expr: Box::new(col(0)),
                negated: true,
            },
            subquery_plan(),
        ));
        // EXISTS (SELECT count(*) ... WHERE correlated): one row whatever the filter keeps.
        let Plan::Project { input, .. } = subquery_plan() else {
            unreachable!()
        };
        let agg = Plan::Aggregate {
            input,
            group_by: vec![],
            grouping_sets: vec![],
            aggs: vec![AggCall {
                func: AggFunc::CountStar,
                arg: None,
                extra: None,
                distinct: false,
                filter: None,
                ty: DataType::Int8,
                order_by: vec![],
            }],
            schema: vec![OutputColumn::new("count", DataType::Int8)],
        };
        stays_a_subquery(where_t1(SubqueryKind::Exists { negated: false }, agg));
        // The outer reference inside a join's ON below the top filter.
        let join = Plan::Join {
            left: Box::new(scan(2)),
            right: Box::new(scan(3)),
            kind: JoinKind::Inner,
            on: Some(bin(BinaryOp::Eq, col(2), outer(0))),
        };
        let deep = project(
            Plan::Filter {
                input: Box::new(join),
                predicate: bin(BinaryOp::Eq, col(0), col(3)),
            },
            vec![col(0)],
        );
        stays_a_subquery(where_t1(SubqueryKind::Exists { negated: false }, deep));
        // Uncorrelated: runs once per statement already.
        let mut plain = where_t1(SubqueryKind::Exists { negated: false }, scan(2));
        if let Plan::Filter {
            predicate: Expr::Subquery { correlation, .. },
            ..
        } = &mut plain
        {
            correlation.clear();
        }
        stays_a_subquery(plain);
    }

    #[test]
    fn uncorrelated_subquery_conjuncts_filter_before_the_joins() {
        // WHERE NOT EXISTS (correlated) AND b1 > (SELECT b2 FROM t2) AND EXISTS (correlated,
        // over t1's column 1 inside a correlated subquery: stays above).
        let uncorrelated = bin(
            BinaryOp::Gt,
            col(1),
            Expr::Subquery {
                plan: Box::new(project(scan(2), vec![col(1)])),
                kind: SubqueryKind::Scalar,
                correlation: vec![],
                ty: DataType::Int4,
            },
        );
        let correlated_scalar = bin(
            BinaryOp::Gt,
            col(0),
            Expr::Subquery {
                plan: Box::new(subquery_plan()),
                kind: SubqueryKind::Scalar,
                correlation: vec![col(1)],
                ty: DataType::Int4,
            },
        );
        let Plan::Filter {
            predicate: anti, ..
        } = where_t1(SubqueryKind::Exists { negated: true }, subquery_plan())
        else {
            unreachable!()
        };
        let p = semi_joins(Plan::Filter {
            input: Box::new(scan(1)),
            predicate: and_all(vec![anti, uncorrelated.clone(), correlated_scalar.clone()])
                .unwrap_or_else(|| unreachable!()),
        });
        // Filter(correlated scalar, Join(anti, Filter(uncorrelated, scan t1), ...)).
        let Plan::Filter { input, predicate } = &p else {
            panic!("{p:?}");
        };
        assert_eq!(predicate, &correlated_scalar);
        let Plan::Join {
            kind: JoinKind::Anti,
            left,
            ..
        } = input.as_ref()
        else {
            panic!("{input:?}");
        };
        let Plan::Filter { predicate, input } = left.as_ref() else {
            panic!("{left:?}");
        };
        assert_eq!(predicate, &uncorrelated);
        assert!(matches!(input.as_ref(), Plan::Scan { .. }), "{input:?}");
    }
}

//! EXPLAIN: a plan as indented text lines, one operator per line, children indented below
//! their parent with PostgreSQL's `->` marker.
//!
//! Role: the session returns these lines as the rows of `EXPLAIN`'s single `QUERY PLAN`
//! column. The format is for people and tests; it is not stable across versions.

use crate::catalog::{TableDef, PRIMARY_INDEX_ID};
use crate::cost::Estimator;
use crate::expr::{Expr, Func, SubqueryKind, UnaryOp};
use crate::plan::{IndexRange, JoinKind, OutputColumn, Plan, SetOpKind};
use crate::types::DataType;

pub fn explain(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    walk(plan, 0, &mut out, Notes::default());
    out
}

/// As [`explain`], each operator followed by its estimated output rows (`(rows=N)`).
pub fn explain_estimated(plan: &Plan, est: &Estimator) -> Vec<String> {
    let mut out = Vec::new();
    let notes = Notes {
        est: Some(est),
        actual: None,
    };
    walk(plan, 0, &mut out, notes);
    out
}

/// What an operator did when the plan ran (`EXPLAIN ANALYZE`).
#[derive(Clone, Copy, Debug)]
pub struct Actual {
    /// Rows produced over all loops.
    pub rows: u64,
    pub loops: u64,
    /// Time over all loops, in milliseconds.
    pub millis: f64,
}

/// As [`explain_estimated`], each operator also followed by what it did, from `actual`
/// (`None`: it never ran): rows per loop (rounded, as PostgreSQL prints them), loops, and
/// the time over all loops.
pub fn explain_analyzed(
    plan: &Plan,
    est: &Estimator,
    actual: &dyn Fn(&Plan) -> Option<Actual>,
) -> Vec<String> {
    let mut out = Vec::new();
    let notes = Notes {
        est: Some(est),
        actual: Some(actual),
    };
    walk(plan, 0, &mut out, notes);
    out
}

/// What each operator's line is annotated with.
#[derive(Clone, Copy, Default)]
struct Notes<'a> {
    est: Option<&'a Estimator<'a>>,
    actual: Option<ActualOf<'a>>,
}

/// Looks up what an operator did (`None`: it never ran).
type ActualOf<'a> = &'a dyn Fn(&Plan) -> Option<Actual>;

/// One operator's line, with its row estimate and what it did when those are known.
fn node(plan: &Plan, est: Notes, depth: usize, text: String, out: &mut Vec<String>) {
    let mut text = text;
    if let Some(e) = est.est {
        text = format!(
            "{text}  (cost={:.0} rows={:.0})",
            plan_cost(plan, e),
            e.rows(plan)
        );
    }
    if let Some(actual) = est.actual {
        text = match actual(plan) {
            Some(a) => format!(
                "{text} (actual rows={} loops={} time={:.3} ms)",
                (a.rows as f64 / a.loops.max(1) as f64).round(),
                a.loops,
                a.millis
            ),
            None => format!("{text} (never executed)"),
        };
    }
    line(depth, text, out)
}

fn line(depth: usize, text: String, out: &mut Vec<String>) {
    if depth == 0 {
        out.push(text);
    } else {
        out.push(format!("{}->  {text}", "      ".repeat(depth - 1) + "  "));
    }
}

fn walk(plan: &Plan, depth: usize, out: &mut Vec<String>, est: Notes) {
    match plan {
        Plan::Unit => node(plan, est, depth, "Result".into(), out),
        Plan::Values { rows, .. } => node(
            plan,
            est,
            depth,
            format!("Values Scan ({} rows)", rows.len()),
            out,
        ),
        Plan::Rows { rows, .. } => node(
            plan,
            est,
            depth,
            format!("Function Scan ({} rows)", rows.len()),
            out,
        ),
        Plan::Scan {
            table,
            qualifier,
            access,
            filter,
            ..
        } => {
            let text = scan_text(table, qualifier, access.as_ref());
            node(plan, est, depth, text, out);
            if let Some(f) = filter {
                let schema = plan.schema();
                out.push(format!(
                    "{}  Filter: {}",
                    indent(depth),
                    expr_text(f, &schema)
                ));
            }
        }
        Plan::Filter { input, predicate } => {
            node(plan, est, depth, "Filter".into(), out);
            let schema = input.schema();
            out.push(format!(
                "{}  Filter: {}",
                indent(depth),
                expr_text(predicate, &schema)
            ));
            walk(input, depth + 1, out, est);
        }
        Plan::Project { input, exprs, .. } => {
            node(
                plan,
                est,
                depth,
                format!("Project ({} columns)", exprs.len()),
                out,
            );
            walk(input, depth + 1, out, est);
        }
        Plan::Aggregate {
            input,
            group_by,
            aggs,
            grouping_sets,
            ..
        } => {
            let kind = if group_by.is_empty() {
                "Aggregate"
            } else {
                "HashAggregate"
            };
            let sets = match grouping_sets.len() {
                0 => String::new(),
                n => format!(", {n} grouping sets"),
            };
            node(
                plan,
                est,
                depth,
                format!(
                    "{kind} ({} group keys, {} aggregates{sets})",
                    group_by.len(),
                    aggs.len()
                ),
                out,
            );
            walk(input, depth + 1, out, est);
        }
        Plan::Sort { input, keys } => {
            node(plan, est, depth, format!("Sort ({} keys)", keys.len()), out);
            walk(input, depth + 1, out, est);
        }
        Plan::Limit { input, .. } => {
            node(plan, est, depth, "Limit".into(), out);
            walk(input, depth + 1, out, est);
        }
        Plan::Distinct { input } => {
            node(plan, est, depth, "Unique".into(), out);
            walk(input, depth + 1, out, est);
        }
        Plan::LockRows { input, .. } => {
            node(plan, est, depth, "LockRows".into(), out);
            walk(input, depth + 1, out, est);
        }
        Plan::Rename { input, .. } => {
            node(plan, est, depth, "Subquery Scan".into(), out);
            walk(input, depth + 1, out, est);
        }
        Plan::ProjectSet { input, .. } => {
            node(plan, est, depth, "ProjectSet".into(), out);
            walk(input, depth + 1, out, est);
        }
        Plan::Window { input, .. } => {
            node(plan, est, depth, "WindowAgg".into(), out);
            walk(input, depth + 1, out, est);
        }
        Plan::LateralJoin {
            left, right, kind, ..
        } => {
            let k = match kind {
                JoinKind::Left => "Nested Loop Left Join (lateral)",
                _ => "Nested Loop (lateral)",
            };
            node(plan, est, depth, k.into(), out);
            walk(left, depth + 1, out, est);
            walk(right, depth + 1, out, est);
        }
        Plan::RecursiveUnion {
            base, recursive, ..
        } => {
            node(plan, est, depth, "Recursive Union".into(), out);
            walk(base, depth + 1, out, est);
            walk(recursive, depth + 1, out, est);
        }
        Plan::WorkTable { .. } => node(plan, est, depth, "WorkTable Scan".into(), out),
        Plan::Materialize { id, input } => {
            node(
                plan,
                est,
                depth,
                format!("CTE Scan (materialized once, #{id})"),
                out,
            );
            walk(input, depth + 1, out, est);
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            let k = match kind {
                JoinKind::Inner if on.is_none() => "Nested Loop (cross)",
                JoinKind::Inner => "Nested Loop",
                JoinKind::Left => "Nested Loop Left Join",
                JoinKind::Right => "Nested Loop Right Join",
                JoinKind::Full => "Nested Loop Full Join",
                JoinKind::Semi => "Nested Loop Semi Join",
                JoinKind::Anti => "Nested Loop Anti Join",
            };
            node(plan, est, depth, k.into(), out);
            if let Some(on) = on {
                let joined: Vec<OutputColumn> =
                    left.schema().into_iter().chain(right.schema()).collect();
                out.push(format!(
                    "{}  Join Filter: {}",
                    indent(depth),
                    expr_text(on, &joined)
                ));
            }
            walk(left, depth + 1, out, est);
            walk(right, depth + 1, out, est);
        }
        Plan::HashJoin {
            left,
            right,
            kind,
            left_keys,
            right_keys,
            residual,
        } => {
            let k = match kind {
                JoinKind::Inner => "Hash Join",
                JoinKind::Left => "Hash Left Join",
                JoinKind::Right => "Hash Right Join",
                JoinKind::Full => "Hash Full Join",
                JoinKind::Semi => "Hash Semi Join",
                JoinKind::Anti => "Hash Anti Join",
            };
            node(plan, est, depth, k.into(), out);
            let (ls, rs) = (left.schema(), right.schema());
            let conds: Vec<String> = left_keys
                .iter()
                .zip(right_keys)
                .map(|(l, r)| format!("{} = {}", expr_text(l, &ls), expr_text(r, &rs)))
                .collect();
            out.push(format!(
                "{}  Hash Cond: ({})",
                indent(depth),
                conds.join(") AND (")
            ));
            if let Some(r) = residual {
                let joined: Vec<OutputColumn> = ls.iter().chain(&rs).cloned().collect();
                out.push(format!(
                    "{}  Join Filter: {}",
                    indent(depth),
                    expr_text(r, &joined)
                ));
            }
            walk(left, depth + 1, out, est);
            line(depth + 1, "Hash".into(), out);
            walk(right, depth + 2, out, est);
        }
        Plan::IndexJoin {
            left,
            table,
            qualifier,
            access,
            filter,
            kind,
            ..
        } => {
            let k = match kind {
                JoinKind::Left => "Nested Loop Left Join",
                JoinKind::Semi => "Nested Loop Semi Join",
                JoinKind::Anti => "Nested Loop Anti Join",
                _ => "Nested Loop",
            };
            node(plan, est, depth, k.into(), out);
            walk(left, depth + 1, out, est);
            let ls = left.schema();
            let index = index_name(table, access.index_id);
            let cond: Vec<String> = access
                .range
                .eq_prefix
                .iter()
                .zip(
                    table
                        .index_by_id(access.index_id)
                        .map_or(&[][..], |i| &i.columns[..]),
                )
                .map(|(e, ic)| {
                    let col = table
                        .column_by_id(ic.column_id)
                        .map_or("?".to_string(), |(_, c)| c.name.clone());
                    format!("{col} = {}", expr_text(e, &ls))
                })
                .collect();
            line(
                depth + 1,
                format!(
                    "Index Scan using {index} on {}{}",
                    table.name,
                    alias(table, qualifier)
                ),
                out,
            );
            out.push(format!(
                "{}  Index Cond: ({})",
                indent(depth + 1),
                cond.join(") AND (")
            ));
            if let Some(f) = filter {
                let row = crate::bind::table_scope(table, qualifier).columns;
                out.push(format!(
                    "{}  Filter: {}",
                    indent(depth + 1),
                    expr_text(f, &row)
                ));
            }
        }
        Plan::SetOp {
            kind,
            all,
            left,
            right,
            ..
        } => {
            let k = match kind {
                SetOpKind::Union => "Append",
                SetOpKind::Intersect => "SetOp Intersect",
                SetOpKind::Except => "SetOp Except",
            };
            node(
                plan,
                est,
                depth,
                format!("{k}{}", if *all { " All" } else { "" }),
                out,
            );
            walk(left, depth + 1, out, est);
            walk(right, depth + 1, out, est);
        }
    }
}

fn alias(table: &TableDef, qualifier: &str) -> String {
    if qualifier != table.name {
        format!(" {qualifier}")
    } else {
        String::new()
    }
}

fn index_name(table: &TableDef, index_id: u32) -> String {
    if index_id == PRIMARY_INDEX_ID {
        table.primary.name.clone()
    } else {
        table
            .indexes
            .iter()
            .find(|i| i.id == index_id)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| format!("index {index_id}"))
    }
}

/// A scan's line: sequential, or which index and how its key range is bounded.
fn scan_text(table: &TableDef, qualifier: &str, access: Option<&IndexRange>) -> String {
    let alias = alias(table, qualifier);
    match access {
        None => format!("Seq Scan on {}{alias}", table.name),
        Some(a) => {
            let index = index_name(table, a.index_id);
            let mut bounds = Vec::new();
            if !a.range.eq_prefix.is_empty() {
                bounds.push(format!("{} equal", a.range.eq_prefix.len()));
            }
            if a.range.lower.is_some() {
                bounds.push("lower bound".into());
            }
            if a.range.upper.is_some() {
                bounds.push("upper bound".into());
            }
            format!(
                "Index Scan using {index} on {}{alias} ({})",
                table.name,
                bounds.join(", ")
            )
        }
    }
}

/// A hash key as text: `qualifier.column` for a column (through casts), else `expr`.
/// An operator's estimated cost with its inputs', in the join planner's unit (one row read;
/// an index seek costs `SEEK_COST` rows, a secondary-index row `ROW_FETCH_COST` more, a hash table
/// `HASH_BUILD_WEIGHT` per row built; see docs/optimizer.md, "Cost model"): what the planner
/// compares, summed up the tree, plus `n log2 n` for a sort or window over n rows and n for
/// an aggregate or DISTINCT. Subqueries inside expressions are not counted.
fn plan_cost(plan: &Plan, est: &Estimator) -> f64 {
    use crate::join_order::{lookup_cost, HASH_BUILD_WEIGHT};
    let rows = |p: &Plan| est.rows(p);
    let cost = |p: &Plan| plan_cost(p, est);
    let sort = |n: f64| n * n.max(2.0).log2();
    match plan {
        Plan::Unit | Plan::Values { .. } | Plan::Rows { .. } | Plan::WorkTable { .. } => rows(plan),
        Plan::Scan { table, access, .. } => match access {
            None => est.table_rows(table),
            Some(a) => lookup_cost(rows(plan), a.index_id != PRIMARY_INDEX_ID),
        },
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Rename { input, .. }
        | Plan::Limit { input, .. }
        | Plan::LockRows { input, .. }
        | Plan::Materialize { input, .. }
        | Plan::ProjectSet { input, .. } => cost(input),
        Plan::Distinct { input } | Plan::Aggregate { input, .. } => cost(input) + rows(input),
        Plan::Sort { input, .. } | Plan::Window { input, .. } => cost(input) + sort(rows(input)),
        Plan::Join { left, right, .. } | Plan::LateralJoin { left, right, .. } => {
            cost(left) + cost(right) + rows(left) * rows(right) + rows(plan)
        }
        Plan::HashJoin { left, right, .. } => {
            cost(left) + cost(right) + rows(left) + HASH_BUILD_WEIGHT * rows(right) + rows(plan)
        }
        Plan::IndexJoin { left, access, .. } => {
            let outer = rows(left).max(1.0);
            let per_lookup = rows(plan) / outer;
            cost(left) + outer * lookup_cost(per_lookup, access.index_id != PRIMARY_INDEX_ID)
        }
        Plan::SetOp { left, right, .. } => cost(left) + cost(right) + rows(left) + rows(right),
        Plan::RecursiveUnion {
            base, recursive, ..
        } => cost(base) + 10.0 * cost(recursive),
    }
}

/// An expression as EXPLAIN shows it, PostgreSQL-style: columns by (qualified) name from
/// `schema`, operators parenthesised, constants with their type when it is not obvious.
fn expr_text(e: &Expr, schema: &[OutputColumn]) -> String {
    let t = |x: &Expr| expr_text(x, schema);
    let list = |xs: &[Expr]| xs.iter().map(t).collect::<Vec<_>>().join(", ");
    match e {
        Expr::Column { index, .. } => match schema.get(*index) {
            Some(c) => match &c.qualifier {
                Some(q) => format!("{q}.{}", c.name),
                None => c.name.clone(),
            },
            None => format!("${index}"),
        },
        Expr::Literal { value, ty } => match value.to_text(ty) {
            None => "NULL".into(),
            Some(v) if ty.is_numeric() || *ty == DataType::Bool => v,
            Some(v) => format!("'{}'::{}", v.replace('\'', "''"), ty.sql_name()),
        },
        Expr::Param { index, .. } => format!("${}", index + 1),
        Expr::OuterRef { slot, .. } => format!("outer.${}", slot + 1),
        Expr::Unary { op, expr, .. } => match op {
            UnaryOp::Not => format!("(NOT {})", t(expr)),
            UnaryOp::Neg => format!("(- {})", t(expr)),
        },
        Expr::Binary {
            op, left, right, ..
        } => format!("({} {} {})", t(left), op.symbol(), t(right)),
        Expr::IsNull { expr, negated } => {
            format!(
                "({} IS {}NULL)",
                t(expr),
                if *negated { "NOT " } else { "" }
            )
        }
        Expr::IsBool {
            expr,
            value,
            negated,
        } => format!(
            "({} IS {}{})",
            t(expr),
            if *negated { "NOT " } else { "" },
            if *value { "TRUE" } else { "FALSE" }
        ),
        Expr::IsDistinctFrom {
            left,
            right,
            negated,
        } => format!(
            "({} IS {}DISTINCT FROM {})",
            t(left),
            if *negated { "NOT " } else { "" },
            t(right)
        ),
        Expr::InList {
            expr,
            list: items,
            negated,
        } => format!(
            "({} {}IN ({}))",
            t(expr),
            if *negated { "NOT " } else { "" },
            list(items)
        ),
        Expr::Case {
            operand,
            whens,
            else_result,
            ..
        } => {
            let mut out = "CASE".to_string();
            if let Some(o) = operand {
                out.push_str(&format!(" {}", t(o)));
            }
            for (w, r) in whens {
                out.push_str(&format!(" WHEN {} THEN {}", t(w), t(r)));
            }
            if let Some(x) = else_result {
                out.push_str(&format!(" ELSE {}", t(x)));
            }
            out + " END"
        }
        Expr::Cast { expr, ty } => format!("({})::{}", t(expr), ty.sql_name()),
        Expr::Func { func, args, .. } => {
            let name = match func {
                Func::Builtin(b) => format!("{b:?}"),
                Func::Pg(p) => format!("{p:?}"),
                other => format!("{other:?}"),
            };
            format!("{}({})", name.to_lowercase(), list(args))
        }
        Expr::Subquery { kind, .. } => match kind {
            SubqueryKind::Exists { negated: true } => "(NOT EXISTS (SubPlan))".into(),
            SubqueryKind::Exists { negated: false } => "(EXISTS (SubPlan))".into(),
            SubqueryKind::In { expr, .. } => format!("({} IN (SubPlan))", t(expr)),
            _ => "(SubPlan)".into(),
        },
    }
}

fn indent(depth: usize) -> String {
    if depth == 0 {
        String::new()
    } else {
        format!("{}    ", "      ".repeat(depth - 1) + "  ")
    }
}

//! EXPLAIN: a plan as indented text lines, one operator per line, children indented below
//! their parent with PostgreSQL's `->` marker.
//!
//! Role: the session returns these lines as the rows of `EXPLAIN`'s single `QUERY PLAN`
//! column. The format is for people and tests; it is not stable across versions.

use crate::catalog::PRIMARY_INDEX_ID;
use crate::plan::{JoinKind, Plan, SetOpKind};

pub fn explain(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    walk(plan, 0, &mut out);
    out
}

fn line(depth: usize, text: String, out: &mut Vec<String>) {
    if depth == 0 {
        out.push(text);
    } else {
        out.push(format!("{}->  {text}", "      ".repeat(depth - 1) + "  "));
    }
}

fn walk(plan: &Plan, depth: usize, out: &mut Vec<String>) {
    match plan {
        Plan::Unit => line(depth, "Result".into(), out),
        Plan::Values { rows, .. } => line(depth, format!("Values Scan ({} rows)", rows.len()), out),
        Plan::Rows { rows, .. } => line(depth, format!("Function Scan ({} rows)", rows.len()), out),
        Plan::Scan {
            table,
            qualifier,
            access,
            filter,
        } => {
            let alias = if *qualifier != table.name {
                format!(" {qualifier}")
            } else {
                String::new()
            };
            let text = match access {
                None => format!("Seq Scan on {}{alias}", table.name),
                Some(a) => {
                    let index = if a.index_id == PRIMARY_INDEX_ID {
                        table.primary.name.clone()
                    } else {
                        table
                            .indexes
                            .iter()
                            .find(|i| i.id == a.index_id)
                            .map(|i| i.name.clone())
                            .unwrap_or_else(|| format!("index {}", a.index_id))
                    };
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
            };
            line(depth, text, out);
            if filter.is_some() {
                out.push(format!("{}  Filter: yes", indent(depth)));
            }
        }
        Plan::Filter { input, .. } => {
            line(depth, "Filter".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::Project { input, exprs, .. } => {
            line(depth, format!("Project ({} columns)", exprs.len()), out);
            walk(input, depth + 1, out);
        }
        Plan::Aggregate {
            input,
            group_by,
            aggs,
            ..
        } => {
            let kind = if group_by.is_empty() {
                "Aggregate"
            } else {
                "HashAggregate"
            };
            line(
                depth,
                format!(
                    "{kind} ({} groups keys, {} aggregates)",
                    group_by.len(),
                    aggs.len()
                ),
                out,
            );
            walk(input, depth + 1, out);
        }
        Plan::Sort { input, keys } => {
            line(depth, format!("Sort ({} keys)", keys.len()), out);
            walk(input, depth + 1, out);
        }
        Plan::Limit { input, .. } => {
            line(depth, "Limit".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::Distinct { input } => {
            line(depth, "Unique".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::LockRows { input, .. } => {
            line(depth, "LockRows".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::Rename { input, .. } => {
            line(depth, "Subquery Scan".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::ProjectSet { input, .. } => {
            line(depth, "ProjectSet".into(), out);
            walk(input, depth + 1, out);
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
            };
            line(depth, k.into(), out);
            walk(left, depth + 1, out);
            walk(right, depth + 1, out);
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
            line(depth, format!("{k}{}", if *all { " All" } else { "" }), out);
            walk(left, depth + 1, out);
            walk(right, depth + 1, out);
        }
    }
}

fn indent(depth: usize) -> String {
    if depth == 0 {
        String::new()
    } else {
        format!("{}    ", "      ".repeat(depth - 1) + "  ")
    }
}

//! Binding of `WITH RECURSIVE` common table expressions into `Plan::RecursiveUnion`.
//!
//! Role: a child of `bind`. `bind_query` hands a CTE of a `WITH RECURSIVE` clause that names
//! itself to [`Binder::bind_recursive_cte`]; one that does not is an ordinary CTE, as in
//! PostgreSQL. The non-recursive term is bound first and fixes the column names and types;
//! while the recursive term is bound, the CTE's name resolves to a `Plan::WorkTable` of that
//! shape, and `bind_table_factor` counts each reference through
//! [`Binder::note_recursive_reference`].
//!
//! Invariants:
//! 1. The CTE has PostgreSQL's form `non-recursive-term UNION [ALL] recursive-term`; the
//!    recursive term names the CTE exactly once, not inside an expression subquery, and has
//!    no aggregate; the non-recursive term does not name it (42P19 otherwise).
//! 2. The output types are the non-recursive term's (`unknown` as text). A recursive-term
//!    column is converted to them when its type shares their family; one whose common type
//!    with them differs is 42804, as PostgreSQL reports it.
//! 3. ORDER BY, LIMIT, OFFSET and FETCH on the recursive CTE's own query are 0A000.

use sqlparser::ast;

use super::{contains_aggregate, ident_name, rename, visible, Binder};
use crate::error::{code, Result, SqlError};
use crate::plan::{OutputColumn, Plan};
use crate::types::DataType;

/// A recursive CTE whose recursive term is being bound.
pub(super) struct RecursiveRef {
    pub name: String,
    pub id: usize,
    /// `Binder::outer.len()` when the term's binding began: deeper means a subquery.
    pub outer_depth: usize,
    pub uses: usize,
}

fn recursion_error(message: String) -> SqlError {
    SqlError::new(code::INVALID_RECURSION, message)
}

/// Whether `node` names the relation `name` (unqualified) anywhere, subqueries included.
pub(super) fn names_relation<V: ast::Visit>(node: &V, name: &str) -> bool {
    let found = ast::visit_relations(node, |r: &ast::ObjectName| {
        let single = r.0.len() == 1;
        let matches = single
            && r.0
                .first()
                .and_then(|p| p.as_ident())
                .is_some_and(|id| ident_name(id) == name);
        if matches {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
    found.is_break()
}

impl Binder<'_> {
    /// Binds `cte` (which names itself) as a recursive union; the result is renamed by the
    /// caller as any CTE is.
    pub(super) fn bind_recursive_cte(&mut self, name: &str, cte: &ast::Cte) -> Result<Plan> {
        let q = &cte.query;
        if q.order_by.is_some() {
            return Err(SqlError::not_supported("ORDER BY in a recursive query"));
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            return Err(SqlError::not_supported("OFFSET/LIMIT in a recursive query"));
        }
        if q.with.is_some() {
            return Err(SqlError::not_supported("WITH inside a recursive query"));
        }
        let ast::SetExpr::SetOperation {
            left,
            op: ast::SetOperator::Union,
            set_quantifier,
            right,
        } = q.body.as_ref()
        else {
            return Err(recursion_error(format!(
                "recursive query \"{name}\" does not have the form non-recursive-term UNION [ALL] recursive-term"
            )));
        };
        let all = match set_quantifier {
            ast::SetQuantifier::All => true,
            ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
            other => return Err(SqlError::not_supported(format!("UNION {other}"))),
        };
        if names_relation(left.as_ref(), name) {
            return Err(recursion_error(format!(
                "recursive reference to query \"{name}\" must not appear within its non-recursive term"
            )));
        }
        if let ast::SetExpr::Select(sel) = right.as_ref() {
            let aggregating = sel.projection.iter().any(|item| match item {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => contains_aggregate(e),
                _ => false,
            }) || sel.having.is_some()
                || !matches!(&sel.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty());
            if aggregating {
                return Err(recursion_error(
                    "aggregate functions are not allowed in a recursive query's recursive term"
                        .to_string(),
                ));
            }
        }
        let base = self.bind_set_expr(left)?;
        let base_columns = visible(base.schema());
        let types: Vec<DataType> = base_columns
            .iter()
            .map(|c| match c.ty {
                DataType::Unknown => DataType::Text,
                ref t => t.clone(),
            })
            .collect();
        let base = self.project_to_types(base, &types)?;
        let schema: Vec<OutputColumn> = base_columns
            .iter()
            .zip(&types)
            .map(|(c, t)| OutputColumn::new(c.name.clone(), t.clone()))
            .collect();
        let id = self.next_work_table;
        self.next_work_table += 1;
        let work = rename(
            Plan::WorkTable {
                id,
                schema: schema.clone(),
            },
            name,
            &cte.alias.columns,
        )?;
        self.ctes.push((name.to_string(), work));
        self.recursive.push(RecursiveRef {
            name: name.to_string(),
            id,
            outer_depth: self.outer.len(),
            uses: 0,
        });
        let bound = self.bind_set_expr(right);
        self.ctes.pop();
        let uses = self.recursive.pop().map_or(0, |r| r.uses);
        let recursive = bound?;
        if uses > 1 {
            return Err(recursion_error(format!(
                "recursive reference to query \"{name}\" must not appear more than once"
            )));
        }
        let rec_columns = visible(recursive.schema());
        if rec_columns.len() != types.len() {
            return Err(SqlError::syntax(
                "each UNION query must have the same number of columns",
            ));
        }
        for (i, (c, t)) in rec_columns.iter().zip(&types).enumerate() {
            let same_family = DataType::common(t, &c.ty)
                .is_some_and(|common| common.unconstrained() == t.unconstrained());
            if !same_family {
                return Err(SqlError::new(
                    code::DATATYPE_MISMATCH,
                    format!(
                        "recursive query \"{name}\" column {} has type {} in non-recursive term but type {} overall",
                        i + 1,
                        t.sql_name(),
                        DataType::common(t, &c.ty).unwrap_or(c.ty.clone()).sql_name()
                    ),
                )
                .with_hint("Cast the output of the non-recursive term to the correct type."));
            }
        }
        let recursive = self.project_to_types(recursive, &types)?;
        Ok(Plan::RecursiveUnion {
            id,
            all,
            base: Box::new(base),
            recursive: Box::new(recursive),
            schema,
        })
    }

    /// Called when a FROM item resolves to the work table `id`: counts the reference and
    /// rejects one inside an expression subquery (invariant 1).
    pub(super) fn note_recursive_reference(&mut self, id: usize) -> Result<()> {
        let depth = self.outer.len();
        let Some(r) = self.recursive.iter_mut().rev().find(|r| r.id == id) else {
            return Ok(());
        };
        if depth > r.outer_depth {
            return Err(recursion_error(format!(
                "recursive reference to query \"{}\" must not appear within a subquery",
                r.name
            )));
        }
        r.uses += 1;
        Ok(())
    }
}

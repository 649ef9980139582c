//! The binder: turns sqlparser's AST for queries and DML into typed [`Plan`]s and [`Bound`]
//! statements, resolving names against a [`Catalog`] and inferring parameter types.
//!
//! Role: called by the session (`cairn-sql-exec`) once per statement (or once per Parse for
//! prepared statements); everything it needs from outside comes through `Catalog` and
//! [`SessionInfo`], so it does no I/O.
//!
//! Invariants:
//! 1. Names are case-folded as PostgreSQL folds them: unquoted identifiers are lowercased,
//!    quoted ones are kept. Test: `quoted_identifiers_keep_case`.
//! 2. Every `Expr` this module returns is typed, and operands of every operator have been
//!    coerced to one type (see `expr` invariant 1); a type error is reported here, with
//!    PostgreSQL's SQLSTATE, never at execution.
//! 3. A parameter's type is the client's hint if it gave one, else the type the first context
//!    that constrains it demands, else `text` (as PostgreSQL resolves `unknown`).
//! 4. Anything the binder does not handle returns 0A000 naming the construct.

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast;

use crate::catalog::{Catalog, TableDef};
use crate::error::{code, Result, SqlError};
use crate::expr::{BinaryOp, Expr, Func, SubqueryKind, UnaryOp};
use crate::plan::{
    AggCall, AggFunc, AggOrder, Bound, JoinKind, OnConflict, OutputColumn, Plan, RowLockStrength,
    RowLockWait, SetOpKind, SortKey, WindowCall, WindowFrame, WindowFunc,
};
use crate::types::{assignable, castable, parse_text, DataType, Value};

mod recursive;
mod types_ext;
mod window;

/// The start of the 0A000 message for a column reference two or more query levels up.
const MULTI_LEVEL_CORRELATION: &str = "a correlated reference more than one query level up";

/// Values the binder folds into constants: `version()`, `current_database()`, ...
pub trait SessionInfo {
    fn current_database(&self) -> String;
    fn current_user(&self) -> String;
    fn server_version(&self) -> String;

    /// Every setting with its value, for `current_setting()` and `pg_settings` (none by
    /// default: contexts without a session, such as stored expressions).
    fn settings(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Folds an identifier as PostgreSQL does (invariant 1).
pub fn ident_name(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// `(schema, name)` of an object name (`name`, `schema.name` or `db.schema.name`).
pub fn object_name(name: &ast::ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => Ok(ident_name(i)),
            other => Err(SqlError::not_supported(format!("object name part {other}"))),
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [n] => Ok((None, n.clone())),
        [s, n] | [_, s, n] => Ok((Some(s.clone()), n.clone())),
        _ => Err(SqlError::new(
            code::SYNTAX_ERROR,
            format!("improper qualified name (too many dotted names): {name}"),
        )),
    }
}

/// Maps a SQL type name to a Cairn type (0A000 for types Cairn lacks).
pub fn data_type(t: &ast::DataType) -> Result<DataType> {
    if let Some(sys) = pg_ext::data_type_pg(t)? {
        return Ok(sys);
    }
    use ast::DataType as T;
    let char_len = |l: &Option<ast::CharacterLength>| -> Result<Option<u32>> {
        match l {
            None | Some(ast::CharacterLength::Max) => Ok(None),
            Some(ast::CharacterLength::IntegerLength { length, .. }) => {
                if *length == 0 || *length > 10_485_760 {
                    Err(SqlError::new(
                        code::INVALID_PARAMETER_VALUE,
                        format!(
                            "length for type varchar must be between 1 and 10485760, not {length}"
                        ),
                    ))
                } else {
                    Ok(Some(*length as u32))
                }
            }
        }
    };
    Ok(match t {
        T::Bool | T::Boolean => DataType::Bool,
        T::SmallInt(_) | T::Int2(_) => DataType::Int2,
        T::Int(_) | T::Integer(_) | T::Int4(_) => DataType::Int4,
        T::BigInt(_) | T::Int8(_) => DataType::Int8,
        T::Real | T::Float4 => DataType::Float4,
        T::Float(info) => match info {
            ast::ExactNumberInfo::Precision(p) | ast::ExactNumberInfo::PrecisionAndScale(p, _)
                if *p <= 24 =>
            {
                DataType::Float4
            }
            _ => DataType::Float8,
        },
        T::Double(_) | T::DoublePrecision | T::Float8 => DataType::Float8,
        T::Text | T::String(None) => DataType::Text,
        T::Varchar(l) | T::CharacterVarying(l) | T::CharVarying(l) => {
            DataType::Varchar(char_len(l)?)
        }
        T::Char(l) | T::Character(l) => DataType::Char(char_len(l)?.unwrap_or(1)),
        T::Bytea => DataType::Bytea,
        // regclass values are relation names here (`'seq'::regclass` in nextval defaults).
        T::Regclass => DataType::Text,
        T::Custom(name, mods) if mods.is_empty() => {
            let (_, n) = object_name(name)?;
            match n.as_str() {
                "int2" => DataType::Int2,
                "int4" => DataType::Int4,
                "int8" => DataType::Int8,
                "float4" => DataType::Float4,
                "float8" => DataType::Float8,
                "bool" => DataType::Bool,
                "name" => DataType::Text,
                "bpchar" => DataType::Char(1),
                n if types_ext::custom_type(n)?.is_some() => {
                    types_ext::custom_type(n)?.unwrap_or(DataType::Unknown)
                }
                "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2" => {
                    return Err(SqlError::new(
                        code::SYNTAX_ERROR,
                        format!("type \"{n}\" is only allowed in a column definition"),
                    ));
                }
                _ => {
                    return Err(SqlError::new(
                        code::UNDEFINED_OBJECT,
                        format!("type \"{n}\" does not exist"),
                    ))
                }
            }
        }
        other => types_ext::data_type_ext(other)?,
    })
}

/// One level of names visible to an expression.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub columns: Vec<OutputColumn>,
}

impl Scope {
    pub fn new(columns: Vec<OutputColumn>) -> Scope {
        Scope { columns }
    }

    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Result<Option<(usize, DataType)>> {
        let mut found: Option<(usize, DataType)> = None;
        for (i, c) in self.columns.iter().enumerate() {
            if c.name != name {
                continue;
            }
            match qualifier {
                Some(q) if c.qualifier.as_deref() != Some(q) => continue,
                None if c.merged => continue,
                _ => {}
            }
            if found.is_some() {
                return Err(SqlError::new(
                    code::AMBIGUOUS_COLUMN,
                    format!("column reference \"{name}\" is ambiguous"),
                ));
            }
            found = Some((i, c.ty.clone()));
        }
        Ok(found)
    }
}

/// State while binding the select list and HAVING of an aggregating query.
struct AggState {
    group_ast: Vec<ast::Expr>,
    group_exprs: Vec<Expr>,
    aggs: Vec<AggCall>,
    input: Scope,
    /// GROUPING SETS / ROLLUP / CUBE as positions in `group_exprs` (empty: plain GROUP BY).
    sets: Vec<Vec<usize>>,
}

pub struct Binder<'a> {
    catalog: &'a dyn Catalog,
    session: &'a dyn SessionInfo,
    /// Parameter types so far (`Unknown` = not yet inferred).
    params: Vec<DataType>,
    ctes: Vec<(String, Plan)>,
    agg: Option<AggState>,
    /// Scopes of the queries enclosing the subquery being bound (innermost last).
    outer: Vec<Scope>,
    /// For each enclosing level, the outer columns the subquery references: `(index in the
    /// outer row, type)`; position = `OuterRef` slot.
    correlations: Vec<Vec<(usize, DataType)>>,
    /// Views being expanded (guards against cycles).
    view_depth: usize,
    /// The locking clause of the query block being bound (taken by its `bind_select`).
    locking: Option<LockRequest>,
    /// What `bind_select` found to lock, for its `bind_select_tail`.
    lock_target: Option<(LockRequest, Arc<TableDef>)>,
    /// The window calls of the query block whose select list or ORDER BY is being bound.
    windows: Option<window::WindowState>,
    /// Recursive CTEs whose recursive term is being bound (innermost last).
    recursive: Vec<recursive::RecursiveRef>,
    /// The next `Plan::WorkTable` id.
    next_work_table: usize,
    /// The next `Plan::Materialize` id.
    next_materialize: usize,
    /// The columns left of the FROM item about to be bound, which a LATERAL subquery there
    /// may reference (taken by `bind_table_factor`).
    lateral_scope: Option<Scope>,
    /// Set by `bind_table_factor` when the LATERAL subquery it bound references them: the
    /// correlation expressions over the left row, for the caller's `Plan::LateralJoin`.
    pending_lateral: Option<Vec<Expr>>,
}

/// What a query's `FOR UPDATE / FOR SHARE` clauses ask for.
#[derive(Clone, Debug)]
struct LockRequest {
    strength: RowLockStrength,
    wait: RowLockWait,
    /// `OF` names, if given.
    of: Vec<String>,
}

/// The position of `item` in `items`, added at the end if no equal item is there (equal
/// aggregate or window calls are computed once).
fn intern<T: PartialEq>(items: &mut Vec<T>, item: T) -> usize {
    match items.iter().position(|x| *x == item) {
        Some(i) => i,
        None => {
            items.push(item);
            items.len() - 1
        }
    }
}

fn unsupported<T>(what: impl std::fmt::Display) -> Result<T> {
    Err(SqlError::not_supported(what))
}

fn lock_clause_name(req: &LockRequest) -> &'static str {
    match req.strength {
        RowLockStrength::Update => "FOR UPDATE",
        RowLockStrength::Share => "FOR SHARE",
    }
}

/// PostgreSQL's `FOR UPDATE is not allowed with ...` (0A000).
fn unsupported_lock<T>(req: &LockRequest, with: &str) -> Result<T> {
    Err(SqlError::new(
        code::FEATURE_NOT_SUPPORTED,
        format!("{} is not allowed with {with}", lock_clause_name(req)),
    ))
}

/// Hands the LIMIT/OFFSET of a locking query to its LockRows node (under the projection
/// that drops hidden columns), so it stops locking once it has enough rows.
fn set_lock_limit(plan: &mut Plan, limit: &Option<Expr>, offset: &Option<Expr>) {
    match plan {
        Plan::LockRows {
            limit: l,
            offset: o,
            ..
        } => {
            *l = limit.clone();
            *o = offset.clone();
        }
        Plan::Project { input, .. } => set_lock_limit(input, limit, offset),
        _ => {}
    }
}

fn is_aggregate_name(name: &str) -> bool {
    matches!(
        name,
        "count"
            | "sum"
            | "avg"
            | "min"
            | "max"
            | "bool_and"
            | "bool_or"
            | "every"
            | "string_agg"
            | "array_agg"
    )
}

fn function_name(f: &ast::Function) -> Result<String> {
    Ok(object_name(&f.name)?.1)
}

/// Whether an AST expression contains an aggregate call (not looking inside subqueries).
fn contains_aggregate(e: &ast::Expr) -> bool {
    use sqlparser::ast::Visit;
    // Depth counts enclosing subqueries: aggregates inside them belong to them.
    struct Finder(bool, usize);
    impl ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _q: &ast::Query) -> std::ops::ControlFlow<()> {
            self.1 += 1;
            std::ops::ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _q: &ast::Query) -> std::ops::ControlFlow<()> {
            self.1 -= 1;
            std::ops::ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &ast::Expr) -> std::ops::ControlFlow<()> {
            if self.1 > 0 {
                return std::ops::ControlFlow::Continue(());
            }
            match e {
                // An aggregate with OVER is a window call; its arguments may hold aggregates.
                ast::Expr::Function(f) if f.over.is_none() => {
                    if let Ok(n) = function_name(f) {
                        if is_aggregate_name(&n) {
                            self.0 = true;
                            return std::ops::ControlFlow::Break(());
                        }
                    }
                }
                ast::Expr::Subquery(_)
                | ast::Expr::Exists { .. }
                | ast::Expr::InSubquery { .. } => {
                    // Aggregates inside a subquery belong to the subquery.
                    return std::ops::ControlFlow::Continue(());
                }
                _ => {}
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut f = Finder(false, 0);
    let _ = e.visit(&mut f);
    f.0
}

/// A numeric literal as PostgreSQL types it: int4 if it fits, else int8, else (and whenever
/// it has a point or an exponent) numeric.
fn literal_number(s: &str) -> Result<Expr> {
    if let Ok(i) = s.parse::<i64>() {
        let ty = if i32::try_from(i).is_ok() {
            DataType::Int4
        } else {
            DataType::Int8
        };
        return Ok(Expr::literal(Value::Int(i), ty));
    }
    crate::types::Numeric::parse(s)
        .map(|n| Expr::literal(Value::numeric(n), DataType::Numeric(None)))
        .map_err(|e| {
            if e.code == code::NUMERIC_VALUE_OUT_OF_RANGE {
                e
            } else {
                SqlError::syntax(format!("invalid number \"{s}\""))
            }
        })
}

impl<'a> Binder<'a> {
    pub fn new(
        catalog: &'a dyn Catalog,
        session: &'a dyn SessionInfo,
        param_hints: Vec<DataType>,
    ) -> Self {
        Binder {
            catalog,
            session,
            params: param_hints,
            ctes: Vec::new(),
            agg: None,
            outer: Vec::new(),
            correlations: Vec::new(),
            view_depth: 0,
            locking: None,
            lock_target: None,
            windows: None,
            recursive: Vec::new(),
            next_work_table: 0,
            next_materialize: 0,
            lateral_scope: None,
            pending_lateral: None,
        }
    }

    /// Final parameter types (invariant 3).
    pub fn param_types(&self) -> Vec<DataType> {
        self.params
            .iter()
            .map(|t| match t {
                DataType::Unknown => DataType::Text,
                t => t.clone(),
            })
            .collect()
    }

    /// Binds a query or DML statement.
    pub fn bind_statement(&mut self, stmt: &ast::Statement) -> Result<Bound> {
        let mut bound = match stmt {
            ast::Statement::Query(q) => {
                let plan = self.bind_query(q)?;
                let plan = self.name_reg_outputs(plan);
                let columns = plan.schema().into_iter().filter(|c| !c.hidden).collect();
                Bound::Query { plan, columns }
            }
            ast::Statement::Insert(ins) => self.bind_insert(ins)?,
            ast::Statement::Update(up) => self.bind_update(up)?,
            ast::Statement::Delete(del) => self.bind_delete(del)?,
            other => return unsupported(format!("statement {}", statement_kind(other))),
        };
        let types = self.param_types();
        fix_param_types_bound(&mut bound, &types);
        Ok(bound)
    }

    fn table(&self, name: &ast::ObjectName) -> Result<Arc<TableDef>> {
        let (schema, n) = object_name(name)?;
        self.catalog
            .table(schema.as_deref(), &n)?
            .ok_or_else(|| SqlError::undefined_table(&n))
    }

    // ----- queries -----

    pub fn bind_query(&mut self, q: &ast::Query) -> Result<Plan> {
        let saved = self.ctes.len();
        // Materialized CTEs of this WITH: id, and whether `AS MATERIALIZED` asked for it.
        let mut shared: Vec<(usize, bool)> = Vec::new();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = ident_name(&cte.alias.name);
                // In WITH RECURSIVE, a CTE that names itself is recursive; others are plain.
                let mut plan = if with.recursive && recursive::names_relation(&*cte.query, &name) {
                    self.bind_recursive_cte(&name, cte)?
                } else {
                    self.bind_query(&cte.query)?
                };
                let hint = cte.materialized.as_ref();
                if !matches!(hint, Some(ast::CteAsMaterialized::NotMaterialized))
                    && !reads_outer_row(&mut plan)
                {
                    let id = self.next_materialize;
                    self.next_materialize += 1;
                    shared.push((
                        id,
                        matches!(hint, Some(ast::CteAsMaterialized::Materialized)),
                    ));
                    plan = Plan::Materialize {
                        id,
                        input: Box::new(plan),
                    };
                }
                let plan = rename(plan, &name, &cte.alias.columns)?;
                self.ctes.push((name, plan));
            }
        }
        // An enclosing query block's window calls are not this query's.
        let outer_windows = self.windows.take();
        let result = self.bind_query_body(q);
        self.windows = outer_windows;
        self.ctes.truncate(saved);
        let mut plan = result?;
        // As PostgreSQL (12 and later): a CTE referenced once is inlined, unless it said
        // AS MATERIALIZED.
        if shared.iter().any(|(_, forced)| !forced) {
            let mut uses = HashMap::new();
            count_materialized(&mut plan, &mut uses);
            let inline: Vec<usize> = shared
                .iter()
                .filter(|(id, forced)| !forced && uses.get(id).copied().unwrap_or(0) <= 1)
                .map(|(id, _)| *id)
                .collect();
            if !inline.is_empty() {
                inline_materialized(&mut plan, &inline);
            }
        }
        Ok(plan)
    }

    fn bind_query_body(&mut self, q: &ast::Query) -> Result<Plan> {
        if q.fetch.is_some() {
            return unsupported("FETCH");
        }
        let locking = self.lock_request(q)?;
        let order: &[ast::OrderByExpr] = match &q.order_by {
            None => &[],
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(e) => e,
                ast::OrderByKind::All(_) => return unsupported("ORDER BY ALL"),
            },
        };
        let mut plan = match q.body.as_ref() {
            ast::SetExpr::Select(sel) => {
                self.locking = locking.clone();
                let r = self.bind_select(sel, order);
                self.locking = None;
                r?
            }
            other => {
                if let Some(l) = &locking {
                    return unsupported_lock(l, "UNION/INTERSECT/EXCEPT");
                }
                let plan = self.bind_set_expr(other)?;
                if order.is_empty() {
                    plan
                } else {
                    // ORDER BY over a set operation may name output columns only.
                    let scope = Scope::new(plan.schema());
                    let mut keys = Vec::new();
                    for o in order {
                        let col = match self.output_reference(&o.expr, &scope)? {
                            Some(i) => i,
                            None => {
                                let e = self.bind_expr(&o.expr, &scope)?;
                                match e {
                                    Expr::Column { index, .. } => index,
                                    _ => {
                                        return unsupported(
                                            "ORDER BY expression over UNION/INTERSECT/EXCEPT",
                                        )
                                    }
                                }
                            }
                        };
                        keys.push(sort_key(col, o));
                    }
                    Plan::Sort {
                        input: Box::new(plan),
                        keys,
                    }
                }
            }
        };
        if let Some(limit) = &q.limit_clause {
            let (limit, offset) = match limit {
                ast::LimitClause::LimitOffset {
                    limit,
                    offset,
                    limit_by,
                } => {
                    if !limit_by.is_empty() {
                        return unsupported("LIMIT BY");
                    }
                    (limit.clone(), offset.as_ref().map(|o| o.value.clone()))
                }
                ast::LimitClause::OffsetCommaLimit { offset, limit } => {
                    (Some(limit.clone()), Some(offset.clone()))
                }
            };
            let empty = Scope::default();
            let limit = match limit {
                // `LIMIT ALL` parses as no limit or as NULL.
                Some(e) => Some(self.bind_coerced(&e, &empty, &DataType::Int8)?),
                None => None,
            };
            let offset = match offset {
                Some(e) => Some(self.bind_coerced(&e, &empty, &DataType::Int8)?),
                None => None,
            };
            if locking.is_some() {
                set_lock_limit(&mut plan, &limit, &offset);
            }
            plan = Plan::Limit {
                input: Box::new(plan),
                limit,
                offset,
            };
        }
        Ok(plan)
    }

    /// The query's `FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE` clauses,
    /// merged: the strongest lock, and the wait policy of the first clause that gives one.
    fn lock_request(&mut self, q: &ast::Query) -> Result<Option<LockRequest>> {
        let mut req: Option<LockRequest> = None;
        for l in &q.locks {
            let strength = match l.lock_type {
                ast::LockType::Update => RowLockStrength::Update,
                ast::LockType::Share => RowLockStrength::Share,
            };
            let wait = match l.nonblock {
                None => RowLockWait::Block,
                Some(ast::NonBlock::Nowait) => RowLockWait::NoWait,
                Some(ast::NonBlock::SkipLocked) => RowLockWait::SkipLocked,
            };
            let of = match &l.of {
                Some(n) => vec![object_name(n)?.1],
                None => Vec::new(),
            };
            req = Some(match req {
                None => LockRequest { strength, wait, of },
                Some(mut r) => {
                    if strength == RowLockStrength::Update {
                        r.strength = strength;
                    }
                    if r.wait == RowLockWait::Block {
                        r.wait = wait;
                    }
                    if r.of.is_empty() || of.is_empty() {
                        r.of.clear();
                    } else {
                        r.of.extend(of);
                    }
                    r
                }
            });
        }
        Ok(req)
    }
    fn bind_set_expr(&mut self, body: &ast::SetExpr) -> Result<Plan> {
        match body {
            ast::SetExpr::Select(sel) => self.bind_select(sel, &[]),
            ast::SetExpr::Query(q) => self.bind_query(q),
            ast::SetExpr::Values(values) => self.bind_values(values, None),
            ast::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let l = self.bind_set_expr(left)?;
                let r = self.bind_set_expr(right)?;
                let kind = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
                };
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    other => return unsupported(format!("set quantifier {other}")),
                };
                let ls = visible(l.schema());
                let rs = visible(r.schema());
                if ls.len() != rs.len() {
                    return Err(SqlError::syntax(format!(
                        "each {} query must have the same number of columns",
                        op.to_string().to_uppercase()
                    )));
                }
                let mut types = Vec::new();
                for (a, b) in ls.iter().zip(&rs) {
                    let t = DataType::common(&a.ty, &b.ty).ok_or_else(|| {
                        SqlError::new(
                            code::DATATYPE_MISMATCH,
                            format!(
                                "{} types {} and {} cannot be matched",
                                op.to_string().to_uppercase(),
                                a.ty.short_name(),
                                b.ty.short_name()
                            ),
                        )
                    })?;
                    types.push(if t == DataType::Unknown {
                        DataType::Text
                    } else {
                        t
                    });
                }
                let l = self.project_to_types(l, &types)?;
                let r = self.project_to_types(r, &types)?;
                let schema = ls
                    .iter()
                    .zip(&types)
                    .map(|(c, t)| OutputColumn::new(c.name.clone(), t.clone()))
                    .collect();
                Ok(Plan::SetOp {
                    kind,
                    all,
                    left: Box::new(l),
                    right: Box::new(r),
                    schema,
                })
            }
            ast::SetExpr::Table(_) => unsupported("TABLE statement"),
            other => unsupported(format!("query body {other}")),
        }
    }

    /// Projects the visible columns of `plan` to `types` (casting where needed).
    fn project_to_types(&mut self, plan: Plan, types: &[DataType]) -> Result<Plan> {
        let schema = plan.schema();
        let mut exprs = Vec::new();
        let mut out = Vec::new();
        let mut k = 0;
        for (i, c) in schema.iter().enumerate() {
            if c.hidden {
                continue;
            }
            let e = Expr::Column {
                index: i,
                ty: c.ty.clone(),
            };
            exprs.push(self.coerce(e, &types[k])?);
            out.push(OutputColumn::new(c.name.clone(), types[k].clone()));
            k += 1;
        }
        Ok(Plan::Project {
            input: Box::new(plan),
            exprs,
            schema: out,
        })
    }

    fn bind_values(&mut self, values: &ast::Values, targets: Option<&[DataType]>) -> Result<Plan> {
        let empty = Scope::default();
        let mut rows: Vec<Vec<Expr>> = Vec::with_capacity(values.rows.len());
        for row in &values.rows {
            let mut out = Vec::with_capacity(row.content.len());
            for (i, e) in row.content.iter().enumerate() {
                let bound = self.bind_expr(e, &empty)?;
                let bound = match targets.and_then(|t| t.get(i)) {
                    Some(t) => self.coerce_assign(bound, t, None)?,
                    None => bound,
                };
                out.push(bound);
            }
            if let Some(first) = rows.first() {
                if first.len() != out.len() {
                    return Err(SqlError::syntax("VALUES lists must all be the same length"));
                }
            }
            rows.push(out);
        }
        let width = rows.first().map_or(0, |r| r.len());
        let mut types = Vec::with_capacity(width);
        for c in 0..width {
            let mut t = DataType::Unknown;
            for r in &rows {
                t = DataType::common(&t, &r[c].ty()).ok_or_else(|| {
                    SqlError::new(
                        code::DATATYPE_MISMATCH,
                        format!(
                            "VALUES types {} and {} cannot be matched",
                            t.short_name(),
                            r[c].ty().short_name()
                        ),
                    )
                })?;
            }
            if t == DataType::Unknown {
                t = DataType::Text;
            }
            types.push(t);
        }
        for r in rows.iter_mut() {
            for (c, e) in r.iter_mut().enumerate() {
                let owned = std::mem::replace(e, Expr::literal(Value::Null, DataType::Unknown));
                *e = self.coerce(owned, &types[c])?;
            }
        }
        let schema = types
            .into_iter()
            .enumerate()
            .map(|(i, t)| OutputColumn::new(format!("column{}", i + 1), t))
            .collect();
        Ok(Plan::Values { rows, schema })
    }

    fn bind_select(&mut self, sel: &ast::Select, order: &[ast::OrderByExpr]) -> Result<Plan> {
        // Only this query block locks rows; subqueries and views bound below do not.
        let locking = self.locking.take();
        if sel.top.is_some() || sel.into.is_some() || !sel.lateral_views.is_empty() {
            return unsupported("this SELECT form");
        }
        if sel.qualify.is_some() {
            return unsupported("QUALIFY");
        }
        // FROM
        let mut plan = Plan::Unit;
        for (i, twj) in sel.from.iter().enumerate() {
            self.lateral_scope = (i > 0).then(|| Scope::new(plan.schema()));
            let p = self.bind_table_with_joins(twj)?;
            plan = if i == 0 {
                p
            } else {
                lateral_or_join(plan, p, self.pending_lateral.take(), JoinKind::Inner, None)?
            };
        }
        let scope = Scope::new(plan.schema());
        // WHERE
        if let Some(w) = &sel.selection {
            if contains_aggregate(w) {
                return Err(SqlError::new(
                    code::GROUPING_ERROR,
                    "aggregate functions are not allowed in WHERE",
                ));
            }
            window::forbid_window(w, "WHERE")?;
            let pred = self.bind_predicate(w, &scope, "WHERE")?;
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: pred,
            };
        }
        // Select list items (expanded wildcards keep their AST-less column refs).
        enum Item<'e> {
            Ast(&'e ast::Expr, String),
            Column(usize),
        }
        let mut items: Vec<Item> = Vec::new();
        for item in &sel.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => items.push(Item::Ast(e, column_label(e))),
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    items.push(Item::Ast(expr, ident_name(alias)))
                }
                ast::SelectItem::Wildcard(_) => {
                    if sel.from.is_empty() {
                        return Err(SqlError::syntax(
                            "SELECT * with no tables specified is not valid",
                        ));
                    }
                    for (i, c) in scope.columns.iter().enumerate() {
                        if !c.hidden && !c.merged {
                            items.push(Item::Column(i));
                        }
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let q = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => object_name(n)?.1,
                        ast::SelectItemQualifiedWildcardKind::Expr(e) => {
                            return unsupported(format!("{e}.*"))
                        }
                    };
                    let before = items.len();
                    for (i, c) in scope.columns.iter().enumerate() {
                        if !c.hidden && c.qualifier.as_deref() == Some(q.as_str()) {
                            items.push(Item::Column(i));
                        }
                    }
                    if items.len() == before {
                        return Err(SqlError::new(
                            code::UNDEFINED_TABLE,
                            format!("missing FROM-clause entry for table \"{q}\""),
                        ));
                    }
                }
                other => return unsupported(format!("select item {other}")),
            }
        }
        let (group_ast, grouping_sets) = match &sel.group_by {
            ast::GroupByExpr::Expressions(e, mods) => {
                if !mods.is_empty() {
                    return unsupported("GROUP BY modifiers");
                }
                expand_grouping(e)?
            }
            ast::GroupByExpr::All(_) => return unsupported("GROUP BY ALL"),
        };
        let aggregating = !group_ast.is_empty()
            || !grouping_sets.is_empty()
            || sel.having.is_some()
            || items
                .iter()
                .any(|i| matches!(i, Item::Ast(e, _) if contains_aggregate(e)))
            || order.iter().any(|o| contains_aggregate(&o.expr));
        // The scope expressions of the select list are bound in.
        let mut post_scope = scope.clone();
        if aggregating {
            // GROUP BY may name select-list aliases or ordinals.
            let mut resolved_group = Vec::new();
            for g in &group_ast {
                let g = match g {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::Number(n, _) => {
                            let pos: usize = n.parse().unwrap_or(0);
                            match items.get(pos.wrapping_sub(1)) {
                                Some(Item::Ast(e, _)) => (*e).clone(),
                                Some(Item::Column(i)) => column_ast(&scope.columns[*i]),
                                None => {
                                    return Err(SqlError::new(
                                        code::INVALID_COLUMN_REFERENCE,
                                        format!("GROUP BY position {n} is not in select list"),
                                    ))
                                }
                            }
                        }
                        _ => g.clone(),
                    },
                    ast::Expr::Identifier(id)
                        if scope.resolve(None, &ident_name(id))?.is_none() =>
                    {
                        let name = ident_name(id);
                        match items
                            .iter()
                            .find(|i| matches!(i, Item::Ast(_, n) if *n == name))
                        {
                            Some(Item::Ast(e, _)) => (*e).clone(),
                            _ => g.clone(),
                        }
                    }
                    _ => g.clone(),
                };
                resolved_group.push(g);
            }
            let mut group_exprs = Vec::new();
            for g in &resolved_group {
                if contains_aggregate(g) {
                    return Err(SqlError::new(
                        code::GROUPING_ERROR,
                        "aggregate functions are not allowed in GROUP BY",
                    ));
                }
                window::forbid_window(g, "GROUP BY")?;
                group_exprs.push(self.bind_expr(g, &scope)?);
            }
            self.agg = Some(AggState {
                group_ast: resolved_group,
                group_exprs,
                aggs: Vec::new(),
                input: scope.clone(),
                sets: grouping_sets,
            });
            post_scope = Scope::default();
        }
        self.lock_target = match &locking {
            Some(l) => self.find_lock_target(l, sel, &plan, aggregating)?,
            None => None,
        };
        self.windows = Some(window::WindowState {
            calls: Vec::new(),
            named: sel.named_window.clone(),
        });
        let result = self.bind_select_tail(
            sel,
            order,
            plan,
            &scope,
            &post_scope,
            items
                .iter()
                .map(|i| match i {
                    Item::Ast(e, n) => SelectEntry::Ast(e, n.clone()),
                    Item::Column(c) => SelectEntry::Column(*c),
                })
                .collect(),
        );
        self.agg = None;
        result.and_then(|p| self.expand_set_returning(p))
    }

    fn bind_select_tail(
        &mut self,
        sel: &ast::Select,
        order: &[ast::OrderByExpr],
        mut plan: Plan,
        scope: &Scope,
        post_scope: &Scope,
        items: Vec<SelectEntry>,
    ) -> Result<Plan> {
        let lock = self.lock_target.take();
        let aggregating = self.agg.is_some();
        let mut exprs = Vec::new();
        let mut schema = Vec::new();
        for item in &items {
            match item {
                SelectEntry::Ast(e, name) => {
                    let b = self.bind_expr(e, post_scope)?;
                    let b = if b.ty() == DataType::Unknown {
                        self.coerce(b, &DataType::Text)?
                    } else {
                        b
                    };
                    let mut col = OutputColumn::new(name.clone(), b.ty());
                    if let Expr::Column { index, .. } = &b {
                        // (A window call's placeholder is past the scope: no source.)
                        if !aggregating {
                            col.source = scope.columns.get(*index).and_then(|c| c.source);
                        }
                    }
                    schema.push(col);
                    exprs.push(b);
                }
                SelectEntry::Column(i) => {
                    let c = &scope.columns[*i];
                    let e = if aggregating {
                        self.bind_expr(&column_ast(c), post_scope)?
                    } else {
                        Expr::Column {
                            index: *i,
                            ty: c.ty.clone(),
                        }
                    };
                    let mut col = OutputColumn::new(c.name.clone(), c.ty.clone());
                    col.source = c.source;
                    schema.push(col);
                    exprs.push(e);
                }
            }
        }
        let having = match &sel.having {
            Some(h) => {
                window::forbid_window(h, "HAVING")?;
                Some(self.bind_predicate(h, post_scope, "HAVING")?)
            }
            None => None,
        };
        // ORDER BY: output ordinals and aliases first, then expressions (appended as hidden
        // columns when they are not already projected).
        let visible_count = exprs.len();
        let mut keys = Vec::new();
        for o in order {
            let out_scope = Scope::new(schema.clone());
            let col = match self.output_reference(&o.expr, &out_scope)? {
                Some(i) => i,
                None => {
                    let e = self.bind_expr(&o.expr, post_scope)?;
                    match exprs.iter().position(|x| *x == e) {
                        Some(i) => i,
                        None => {
                            let distinct = matches!(sel.distinct, Some(ast::Distinct::Distinct));
                            if distinct {
                                return Err(SqlError::new(
                                    code::INVALID_COLUMN_REFERENCE,
                                    "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                                ));
                            }
                            push_hidden(&mut exprs, &mut schema, e, "?sort?")
                        }
                    }
                }
            };
            keys.push(sort_key(col, o));
        }
        let distinct_on = match &sel.distinct {
            Some(ast::Distinct::On(on)) => {
                Some(self.distinct_on_columns(on, &keys, post_scope, &mut exprs, &mut schema)?)
            }
            _ => None,
        };
        // Window calls: the placeholders become the columns a Window node appends after
        // its input's (the aggregate's output, or the FROM/WHERE rows).
        let calls = self.windows.take().map(|w| w.calls).unwrap_or_default();
        if !calls.is_empty() {
            if lock.is_some() {
                return Err(SqlError::new(
                    code::FEATURE_NOT_SUPPORTED,
                    "FOR UPDATE is not allowed with window functions",
                ));
            }
            let width = match &self.agg {
                Some(agg) => agg.group_exprs.len() + agg.aggs.len(),
                None => scope.columns.len(),
            };
            for e in &mut exprs {
                window::resolve_slots(e, width);
            }
        }
        if let Some(agg) = self.agg.take() {
            let mut agg_schema: Vec<OutputColumn> = agg
                .group_exprs
                .iter()
                .map(|e| OutputColumn::new("?group?", e.ty()))
                .collect();
            agg_schema.extend(
                agg.aggs
                    .iter()
                    .map(|a| OutputColumn::new("?agg?", a.ty.clone())),
            );
            plan = Plan::Aggregate {
                input: Box::new(plan),
                group_by: agg.group_exprs,
                aggs: agg.aggs,
                grouping_sets: agg.sets,
                schema: agg_schema,
            };
        }
        if let Some(h) = having {
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: h,
            };
        }
        if !calls.is_empty() {
            let mut schema = plan.schema();
            schema.extend(
                calls
                    .iter()
                    .map(|c| OutputColumn::new("?window?", c.ty.clone())),
            );
            plan = Plan::Window {
                input: Box::new(plan),
                calls,
                schema,
            };
        }
        // FOR UPDATE: the primary-key columns ride along hidden, so rows are locked after
        // sorting and before LIMIT, where PostgreSQL's LockRows sits.
        let mut lock_node = None;
        if let Some((req, table)) = lock {
            let recheck_filter = match &plan {
                Plan::Filter { predicate, .. } => Some(predicate.clone()),
                _ => None,
            };
            let mut key_columns = Vec::new();
            for pos in table.primary_key_positions() {
                let ty = table.columns[pos].ty.clone();
                let mut col = OutputColumn::new("?key?", ty.clone());
                col.hidden = true;
                schema.push(col);
                exprs.push(Expr::Column { index: pos, ty });
                key_columns.push(exprs.len() - 1);
            }
            lock_node = Some((req, table, key_columns, recheck_filter, exprs.clone()));
        }
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
            schema: schema.clone(),
        };
        match &sel.distinct {
            None | Some(ast::Distinct::All) => {}
            Some(ast::Distinct::Distinct) => {
                plan = Plan::Distinct {
                    input: Box::new(plan),
                }
            }
            Some(ast::Distinct::On(_)) => {
                let on = distinct_on.unwrap_or_default();
                plan = distinct_on_plan(plan, &on, &keys, &schema);
            }
        }
        if !keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
        }
        if let Some((req, table, key_columns, recheck_filter, recheck_exprs)) = lock_node {
            plan = Plan::LockRows {
                input: Box::new(plan),
                table,
                key_columns,
                strength: req.strength,
                wait: req.wait,
                recheck_filter,
                recheck_exprs,
                limit: None,
                offset: None,
            };
        }
        if schema.len() > visible_count || matches!(sel.distinct, Some(ast::Distinct::On(_))) {
            let exprs = (0..visible_count)
                .map(|i| Expr::Column {
                    index: i,
                    ty: schema[i].ty.clone(),
                })
                .collect();
            schema.truncate(visible_count);
            plan = Plan::Project {
                input: Box::new(plan),
                exprs,
                schema,
            };
        }
        Ok(plan)
    }

    /// The projected columns `SELECT DISTINCT ON (on)` groups by: output ordinals and aliases,
    /// or expressions (appended as hidden columns when not projected). PostgreSQL's rule: the
    /// leading ORDER BY keys must be DISTINCT ON expressions until all of them are named.
    fn distinct_on_columns(
        &mut self,
        on: &[ast::Expr],
        keys: &[SortKey],
        post_scope: &Scope,
        exprs: &mut Vec<Expr>,
        schema: &mut Vec<OutputColumn>,
    ) -> Result<Vec<usize>> {
        let mut cols = Vec::new();
        for e in on {
            let out_scope = Scope::new(schema.clone());
            let col = match self.output_reference(e, &out_scope)? {
                Some(i) => i,
                None => {
                    let b = self.bind_expr(e, post_scope)?;
                    match exprs.iter().position(|x| *x == b) {
                        Some(i) => i,
                        None => push_hidden(exprs, schema, b, "?distinct?"),
                    }
                }
            };
            if !cols.contains(&col) {
                cols.push(col);
            }
        }
        let mut named = Vec::new();
        for k in keys {
            if cols.contains(&k.column) {
                if !named.contains(&k.column) {
                    named.push(k.column);
                }
            } else if named.len() < cols.len() {
                return Err(SqlError::new(
                    code::INVALID_COLUMN_REFERENCE,
                    "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                ));
            }
        }
        Ok(cols)
    }

    /// The table a `FOR UPDATE` query block locks: PostgreSQL's restrictions (0A000 with
    /// GROUP BY, aggregates, DISTINCT, HAVING), `OF` names checked against FROM (42P01), and
    /// Cairn's own: one base table in FROM.
    fn find_lock_target(
        &mut self,
        req: &LockRequest,
        sel: &ast::Select,
        plan: &Plan,
        aggregating: bool,
    ) -> Result<Option<(LockRequest, Arc<TableDef>)>> {
        if matches!(
            sel.distinct,
            Some(ast::Distinct::Distinct | ast::Distinct::On(_))
        ) {
            return unsupported_lock(req, "DISTINCT clause");
        }
        let grouped = match &sel.group_by {
            ast::GroupByExpr::Expressions(e, _) => !e.is_empty(),
            ast::GroupByExpr::All(_) => true,
        };
        if grouped {
            return unsupported_lock(req, "GROUP BY clause");
        }
        if sel.having.is_some() {
            return unsupported_lock(req, "HAVING clause");
        }
        if aggregating {
            return unsupported_lock(req, "aggregate functions");
        }
        let scan = match plan {
            Plan::Unit => return Ok(None),
            Plan::Filter { input, .. } => input.as_ref(),
            other => other,
        };
        let Plan::Scan {
            table, qualifier, ..
        } = scan
        else {
            return unsupported(format!(
                "SELECT ... {} over joins, subqueries or several tables",
                lock_clause_name(req)
            ));
        };
        for name in &req.of {
            if name != qualifier {
                return Err(SqlError::new(
                    code::UNDEFINED_TABLE,
                    format!(
                        "relation \"{name}\" in {} clause not found in FROM clause",
                        lock_clause_name(req)
                    ),
                ));
            }
        }
        if table.primary_key_positions().is_empty() {
            return Err(SqlError::internal(format!(
                "table \"{}\" has no primary key to lock",
                table.name
            )));
        }
        Ok(Some((req.clone(), table.clone())))
    }

    /// `ORDER BY 2` or `ORDER BY alias`: the output column it names, if any.
    fn output_reference(&mut self, e: &ast::Expr, out: &Scope) -> Result<Option<usize>> {
        match e {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => {
                    let pos: usize = n.parse().unwrap_or(0);
                    let visible: Vec<usize> = out
                        .columns
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| !c.hidden)
                        .map(|(i, _)| i)
                        .collect();
                    match visible.get(pos.wrapping_sub(1)) {
                        Some(i) => Ok(Some(*i)),
                        None => Err(SqlError::new(
                            code::INVALID_COLUMN_REFERENCE,
                            format!("ORDER BY position {n} is not in select list"),
                        )),
                    }
                }
                _ => Ok(None),
            },
            ast::Expr::Identifier(id) => {
                let name = ident_name(id);
                let hits: Vec<usize> = out
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.hidden && c.name == name)
                    .map(|(i, _)| i)
                    .collect();
                match hits.as_slice() {
                    [i] => Ok(Some(*i)),
                    [] => Ok(None),
                    _ => Err(SqlError::new(
                        code::AMBIGUOUS_COLUMN,
                        format!("ORDER BY \"{name}\" is ambiguous"),
                    )),
                }
            }
            _ => Ok(None),
        }
    }

    fn bind_table_with_joins(&mut self, twj: &ast::TableWithJoins) -> Result<Plan> {
        let mut plan = self.bind_table_factor(&twj.relation)?;
        // A LATERAL first item joins what is left of this FROM entry: the caller's job.
        let first_lateral = self.pending_lateral.take();
        for join in &twj.joins {
            self.lateral_scope = Some(Scope::new(plan.schema()));
            let right = self.bind_table_factor(&join.relation)?;
            let lateral = self.pending_lateral.take();
            use ast::JoinOperator as J;
            let (kind, constraint) = match &join.join_operator {
                J::Join(c) | J::Inner(c) => (JoinKind::Inner, Some(c)),
                J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, Some(c)),
                J::Right(c) | J::RightOuter(c) => (JoinKind::Right, Some(c)),
                J::FullOuter(c) => (JoinKind::Full, Some(c)),
                J::CrossJoin(_) => (JoinKind::Inner, None),
                other => return unsupported(format!("join {other:?}")),
            };
            let mut scope_cols = plan.schema();
            let left_width = scope_cols.len();
            scope_cols.extend(right.schema());
            let scope = Scope::new(scope_cols);
            let using: Vec<String> = match constraint {
                Some(ast::JoinConstraint::Using(cols)) => cols
                    .iter()
                    .map(|c| object_name(c).map(|n| n.1))
                    .collect::<Result<_>>()?,
                Some(ast::JoinConstraint::Natural) => natural_columns(&scope, left_width)?,
                _ => Vec::new(),
            };
            let mut merged: Vec<(String, Expr, Expr, DataType)> = Vec::new();
            let on = match constraint {
                None | Some(ast::JoinConstraint::None) => None,
                Some(ast::JoinConstraint::On(e)) => {
                    Some(self.bind_predicate(e, &scope, "JOIN/ON")?)
                }
                Some(ast::JoinConstraint::Using(_) | ast::JoinConstraint::Natural) => {
                    let mut equalities = Vec::with_capacity(using.len());
                    for name in &using {
                        if merged.iter().any(|(n, ..)| n == name) {
                            return Err(SqlError::new(
                                code::DUPLICATE_COLUMN,
                                format!("column \"{name}\" appears more than once in USING clause"),
                            ));
                        }
                        let l = Scope::new(scope.columns[..left_width].to_vec())
                            .resolve(None, name)?
                            .ok_or_else(|| using_missing(name, "left"))?;
                        let r = Scope::new(scope.columns[left_width..].to_vec())
                            .resolve(None, name)?
                            .ok_or_else(|| using_missing(name, "right"))?;
                        let (left, right) = (
                            Expr::Column {
                                index: l.0,
                                ty: l.1.clone(),
                            },
                            Expr::Column {
                                index: left_width + r.0,
                                ty: r.1.clone(),
                            },
                        );
                        equalities.push(self.binary(BinaryOp::Eq, left.clone(), right.clone())?);
                        let ty = DataType::common(&l.1, &r.1).unwrap_or(l.1);
                        merged.push((name.clone(), left, right, ty));
                    }
                    crate::rules::and_all(equalities)
                }
            };
            plan = lateral_or_join(plan, right, lateral, kind, on)?;
            if !merged.is_empty() {
                plan = self.merge_using_columns(plan, kind, merged)?;
            }
        }
        self.pending_lateral = first_lateral;
        Ok(plan)
    }

    /// The output of `JOIN ... USING (c, ...)` / `NATURAL JOIN` as PostgreSQL gives it:
    /// each merged column first (the left input's value, the right's for a RIGHT join, the
    /// first non-NULL of the two for a FULL join, in their common type), then every input
    /// column, those merged marked `merged` (left out of `*`; still there as `a.c`).
    fn merge_using_columns(
        &mut self,
        plan: Plan,
        kind: JoinKind,
        merged: Vec<(String, Expr, Expr, DataType)>,
    ) -> Result<Plan> {
        let mut schema = plan.schema();
        let mut exprs = Vec::with_capacity(merged.len() + schema.len());
        let mut out = Vec::with_capacity(merged.len() + schema.len());
        for (name, left, right, ty) in merged {
            for side in [&left, &right] {
                if let Expr::Column { index, .. } = side {
                    if let Some(c) = schema.get_mut(*index) {
                        c.merged = true;
                    }
                }
            }
            let value = match kind {
                JoinKind::Right => self.coerce(right, &ty)?,
                JoinKind::Full => Expr::Func {
                    func: Func::Coalesce,
                    args: vec![self.coerce(left, &ty)?, self.coerce(right, &ty)?],
                    ty: ty.clone(),
                },
                _ => self.coerce(left, &ty)?,
            };
            exprs.push(value);
            out.push(OutputColumn::new(name, ty));
        }
        for (i, c) in schema.into_iter().enumerate() {
            exprs.push(Expr::Column {
                index: i,
                ty: c.ty.clone(),
            });
            out.push(c);
        }
        Ok(Plan::Project {
            input: Box::new(plan),
            exprs,
            schema: out,
        })
    }

    /// A set-returning function in FROM. It may use the columns to its left (implicitly
    /// LATERAL, as in PostgreSQL): they are outer references while it binds, and the
    /// caller joins it laterally when it did use them (`pending_lateral`). The left columns
    /// are then the innermost outer level; a function inside a subquery that references the
    /// enclosing query's columns is bound again without them (psql's trigger query does
    /// this). Known gap: one that references both fails (0A000, "more than one query level
    /// up").
    fn bind_from_function(
        &mut self,
        call: &FromCall,
        alias: Option<&ast::TableAlias>,
        lateral_scope: Option<Scope>,
    ) -> Result<Plan> {
        let Some(scope) = lateral_scope else {
            return self.bind_table_function(call, alias);
        };
        self.outer.push(scope);
        self.correlations.push(Vec::new());
        let plan = self.bind_table_function(call, alias);
        let correlation = self.correlations.pop().unwrap_or_default();
        self.outer.pop();
        let plan = match plan {
            Err(e)
                if e.code == code::FEATURE_NOT_SUPPORTED
                    && e.message.starts_with(MULTI_LEVEL_CORRELATION) =>
            {
                // Only the enclosing query's columns: not lateral to the left ones.
                return self.bind_table_function(call, alias);
            }
            other => other?,
        };
        if !correlation.is_empty() {
            self.pending_lateral = Some(
                correlation
                    .into_iter()
                    .map(|(index, ty)| Expr::Column { index, ty })
                    .collect(),
            );
        }
        Ok(plan)
    }

    fn bind_table_factor(&mut self, tf: &ast::TableFactor) -> Result<Plan> {
        // Only this factor may see the columns to its left; what it binds inside may not.
        let lateral_scope = self.lateral_scope.take();
        match tf {
            ast::TableFactor::Table {
                name,
                alias,
                args,
                with_ordinality,
                ..
            } => {
                if let Some(args) = args {
                    let call = FromCall {
                        name,
                        args,
                        ordinality: *with_ordinality,
                    };
                    return self.bind_from_function(&call, alias.as_ref(), lateral_scope);
                }
                if *with_ordinality {
                    return unsupported("WITH ORDINALITY on a table");
                }
                let (schema, n) = object_name(name)?;
                if schema.is_none() {
                    if let Some((_, plan)) = self.ctes.iter().rev().find(|(c, _)| *c == n) {
                        let plan = plan.clone();
                        if let Plan::Rename { input, .. } = &plan {
                            if let Plan::WorkTable { id, .. } = input.as_ref() {
                                self.note_recursive_reference(*id)?;
                            }
                        }
                        let q = alias.as_ref().map(|a| ident_name(&a.name)).unwrap_or(n);
                        let cols = alias
                            .as_ref()
                            .map(|a| a.columns.clone())
                            .unwrap_or_default();
                        return rename(plan, &q, &cols);
                    }
                }
                let table = match self.catalog.table(schema.as_deref(), &n)? {
                    Some(t) => t,
                    None => match self.catalog.view(schema.as_deref(), &n)? {
                        Some(view) => return self.bind_view(&view, alias.as_ref()),
                        None => return Err(SqlError::undefined_table(&n)),
                    },
                };
                let qualifier = alias
                    .as_ref()
                    .map(|a| ident_name(&a.name))
                    .unwrap_or_else(|| table.name.clone());
                let scan = Plan::Scan {
                    table,
                    qualifier: qualifier.clone(),
                    access: None,
                    filter: None,
                    needed: None,
                };
                match alias {
                    Some(a) if !a.columns.is_empty() => rename(scan, &qualifier, &a.columns),
                    _ => Ok(scan),
                }
            }
            ast::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                let plan = match lateral_scope.filter(|_| *lateral) {
                    Some(scope) => {
                        let (plan, correlation) = self.bind_subquery(subquery, &scope, false)?;
                        if !correlation.is_empty() {
                            self.pending_lateral = Some(correlation);
                        }
                        plan
                    }
                    None => self.bind_query(subquery)?,
                };
                let (q, cols) = match alias {
                    Some(a) => (ident_name(&a.name), a.columns.clone()),
                    None => ("subquery".to_string(), Vec::new()),
                };
                rename(plan, &q, &cols)
            }
            ast::TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality,
                ..
            } => {
                let args = ast::TableFunctionArgs {
                    args: array_exprs
                        .iter()
                        .map(|e| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e.clone())))
                        .collect(),
                    settings: None,
                };
                let name = ast::ObjectName::from(ast::Ident::new("unnest"));
                let call = FromCall {
                    name: &name,
                    args: &args,
                    ordinality: *with_ordinality,
                };
                self.bind_from_function(&call, alias.as_ref(), lateral_scope)
            }
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias,
                ..
            } => {
                let plan = self.bind_table_with_joins(table_with_joins)?;
                match alias {
                    Some(a) => rename(plan, &ident_name(&a.name), &a.columns),
                    None => Ok(plan),
                }
            }
            other => unsupported(format!("FROM item {other}")),
        }
    }

    /// A view in FROM: its query, bound now (views may reference other views, up to a depth
    /// that stops cycles).
    fn bind_view(
        &mut self,
        view: &crate::catalog::ViewDef,
        alias: Option<&ast::TableAlias>,
    ) -> Result<Plan> {
        self.view_depth += 1;
        if self.view_depth > 32 {
            self.view_depth -= 1;
            return Err(SqlError::new(
                code::PROGRAM_LIMIT_EXCEEDED,
                format!("views nest more than 32 deep at \"{}\"", view.name),
            ));
        }
        let saved_outer = std::mem::take(&mut self.outer);
        let saved_corr = std::mem::take(&mut self.correlations);
        let saved_agg = self.agg.take();
        let result = (|| {
            let stmts = crate::parse(&view.sql)?;
            let Some(ast::Statement::Query(q)) = stmts.first() else {
                return Err(SqlError::new(
                    code::DATA_CORRUPTED,
                    format!("view \"{}\" does not hold a query", view.name),
                ));
            };
            self.bind_query(q)
        })();
        self.outer = saved_outer;
        self.correlations = saved_corr;
        self.agg = saved_agg;
        self.view_depth -= 1;
        let plan = result?;
        let qualifier = alias
            .map(|a| ident_name(&a.name))
            .unwrap_or_else(|| view.name.clone());
        let cols: Vec<ast::TableAliasColumnDef> = match alias {
            Some(a) if !a.columns.is_empty() => a.columns.clone(),
            _ => view
                .columns
                .iter()
                .map(|c| ast::TableAliasColumnDef {
                    name: ast::Ident::with_quote('"', c),
                    data_type: None,
                })
                .collect(),
        };
        rename(plan, &qualifier, &cols)
    }

    // ----- DML -----

    fn bind_insert(&mut self, ins: &ast::Insert) -> Result<Bound> {
        let name = match &ins.table {
            ast::TableObject::TableName(n) => n,
            other => return unsupported(format!("INSERT INTO {other}")),
        };
        if ins.or.is_some() || ins.ignore || ins.overwrite || !ins.assignments.is_empty() {
            return unsupported("this INSERT form");
        }
        let table = self.table(name)?;
        let targets: Vec<usize> = if ins.columns.is_empty() {
            table.visible_columns().map(|(i, _)| i).collect()
        } else {
            let mut t = Vec::new();
            for c in &ins.columns {
                let n = object_name(c)?.1;
                let i = table
                    .column_index(&n)
                    .filter(|i| !table.columns[*i].hidden)
                    .ok_or_else(|| {
                        SqlError::new(
                            code::UNDEFINED_COLUMN,
                            format!(
                                "column \"{n}\" of relation \"{}\" does not exist",
                                table.name
                            ),
                        )
                    })?;
                if t.contains(&i) {
                    return Err(SqlError::new(
                        code::DUPLICATE_COLUMN,
                        format!("column \"{n}\" specified more than once"),
                    ));
                }
                t.push(i);
            }
            t
        };
        let target_types: Vec<DataType> = targets
            .iter()
            .map(|i| table.columns[*i].ty.clone())
            .collect();
        let source = match &ins.source {
            None => Plan::Values {
                rows: vec![Vec::new()],
                schema: Vec::new(),
            },
            Some(q) => match q.body.as_ref() {
                ast::SetExpr::Values(v)
                    if q.order_by.is_none() && q.limit_clause.is_none() && q.with.is_none() =>
                {
                    self.bind_insert_values(&table, &targets, v)?
                }
                _ => {
                    let p = self.bind_query(q)?;
                    let schema = visible(p.schema());
                    if schema.len() > targets.len() {
                        return Err(SqlError::syntax(
                            "INSERT has more expressions than target columns",
                        ));
                    }
                    let mut exprs = Vec::new();
                    let all = p.schema();
                    let mut k = 0;
                    for (i, c) in all.iter().enumerate() {
                        if c.hidden {
                            continue;
                        }
                        let e = Expr::Column {
                            index: i,
                            ty: c.ty.clone(),
                        };
                        exprs.push(self.coerce_assign(
                            e,
                            &target_types[k],
                            Some(&table.columns[targets[k]].name),
                        )?);
                        k += 1;
                    }
                    let schema = targets[..k]
                        .iter()
                        .map(|i| {
                            OutputColumn::new(
                                table.columns[*i].name.clone(),
                                table.columns[*i].ty.clone(),
                            )
                        })
                        .collect();
                    Plan::Project {
                        input: Box::new(p),
                        exprs,
                        schema,
                    }
                }
            },
        };
        let supplied = visible(source.schema()).len();
        let targets = if ins.source.is_none() {
            Vec::new()
        } else {
            targets[..supplied.min(targets.len())].to_vec()
        };
        let defaults = self.defaults_for(&table, &targets)?;
        let on_conflict = match &ins.on {
            None => OnConflict::Error,
            Some(ast::OnInsert::OnConflict(oc)) => match &oc.action {
                ast::OnConflictAction::DoNothing => OnConflict::DoNothing,
                ast::OnConflictAction::DoUpdate(du) => {
                    // Layout: existing row ++ excluded row.
                    let mut cols = table_scope(&table, &table.name).columns;
                    cols.extend(table_scope(&table, "excluded").columns);
                    let scope = Scope::new(cols);
                    let assignments = self.bind_assignments(&table, &du.assignments, &scope)?;
                    let predicate = match &du.selection {
                        Some(s) => Some(self.bind_predicate(s, &scope, "WHERE")?),
                        None => None,
                    };
                    OnConflict::DoUpdate {
                        assignments,
                        predicate,
                    }
                }
            },
            Some(other) => return unsupported(format!("{other}")),
        };
        let returning = self.bind_returning(&table, ins.returning.as_deref())?;
        Ok(Bound::Insert {
            table,
            source,
            targets,
            defaults,
            on_conflict,
            returning,
        })
    }

    fn bind_insert_values(
        &mut self,
        table: &TableDef,
        targets: &[usize],
        v: &ast::Values,
    ) -> Result<Plan> {
        let empty = Scope::default();
        let mut rows = Vec::with_capacity(v.rows.len());
        for row in &v.rows {
            if row.content.len() > targets.len() {
                return Err(SqlError::syntax(
                    "INSERT has more expressions than target columns",
                ));
            }
            let mut out = Vec::with_capacity(targets.len());
            for (k, &ti) in targets.iter().enumerate() {
                let col = &table.columns[ti];
                let e = match row.content.get(k) {
                    None => self.default_expr(table, ti)?,
                    Some(ast::Expr::Identifier(id))
                        if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default") =>
                    {
                        self.default_expr(table, ti)?
                    }
                    Some(e) => {
                        let b = self.bind_expr(e, &empty)?;
                        self.coerce_assign(b, &col.ty, Some(&col.name))?
                    }
                };
                out.push(e);
            }
            rows.push(out);
        }
        let schema = targets
            .iter()
            .map(|i| {
                OutputColumn::new(table.columns[*i].name.clone(), table.columns[*i].ty.clone())
            })
            .collect();
        Ok(Plan::Values { rows, schema })
    }

    /// The DEFAULT of column `i`, bound and coerced (NULL when it has none).
    pub fn default_expr(&mut self, table: &TableDef, i: usize) -> Result<Expr> {
        let col = &table.columns[i];
        match &col.default {
            None => Ok(Expr::literal(Value::Null, col.ty.clone())),
            Some(sql) => {
                let ast = parse_expr(sql)?;
                let b = self.bind_expr(&ast, &Scope::default())?;
                self.coerce_assign(b, &col.ty, Some(&col.name))
            }
        }
    }

    fn defaults_for(&mut self, table: &TableDef, targets: &[usize]) -> Result<Vec<(usize, Expr)>> {
        let mut out = Vec::new();
        for (i, c) in table.columns.iter().enumerate() {
            if targets.contains(&i) || c.hidden {
                continue;
            }
            out.push((i, self.default_expr(table, i)?));
        }
        Ok(out)
    }

    fn bind_assignments(
        &mut self,
        table: &TableDef,
        assignments: &[ast::Assignment],
        scope: &Scope,
    ) -> Result<Vec<(usize, Expr)>> {
        let mut out: Vec<(usize, Expr)> = Vec::new();
        for a in assignments {
            let names = match &a.target {
                ast::AssignmentTarget::ColumnName(n) => vec![n.clone()],
                ast::AssignmentTarget::Tuple(_) => return unsupported("multi-column assignment"),
            };
            let (_, n) = object_name(&names[0])?;
            let i = table
                .column_index(&n)
                .filter(|i| !table.columns[*i].hidden)
                .ok_or_else(|| {
                    SqlError::new(
                        code::UNDEFINED_COLUMN,
                        format!(
                            "column \"{n}\" of relation \"{}\" does not exist",
                            table.name
                        ),
                    )
                })?;
            if out.iter().any(|(j, _)| *j == i) {
                return Err(SqlError::syntax(format!(
                    "multiple assignments to same column \"{n}\""
                )));
            }
            let col = &table.columns[i];
            let e = match &a.value {
                ast::Expr::Identifier(id)
                    if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default") =>
                {
                    self.default_expr(table, i)?
                }
                v => {
                    let b = self.bind_expr(v, scope)?;
                    self.coerce_assign(b, &col.ty, Some(&col.name))?
                }
            };
            out.push((i, e));
        }
        Ok(out)
    }

    fn bind_returning(
        &mut self,
        table: &TableDef,
        items: Option<&[ast::SelectItem]>,
    ) -> Result<Option<(Vec<Expr>, Vec<OutputColumn>)>> {
        let Some(items) = items else { return Ok(None) };
        let scope = table_scope(table, &table.name);
        let mut exprs = Vec::new();
        let mut schema = Vec::new();
        for item in items {
            match item {
                ast::SelectItem::Wildcard(_) => {
                    for (i, c) in scope.columns.iter().enumerate() {
                        if !c.hidden {
                            exprs.push(Expr::Column {
                                index: i,
                                ty: c.ty.clone(),
                            });
                            schema.push(c.clone());
                        }
                    }
                }
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                    let name = match item {
                        ast::SelectItem::ExprWithAlias { alias, .. } => ident_name(alias),
                        _ => column_label(e),
                    };
                    let b = self.bind_expr(e, &scope)?;
                    let b = if b.ty() == DataType::Unknown {
                        self.coerce(b, &DataType::Text)?
                    } else {
                        b
                    };
                    schema.push(OutputColumn::new(name, b.ty()));
                    exprs.push(b);
                }
                other => return unsupported(format!("RETURNING {other}")),
            }
        }
        Ok(Some((exprs, schema)))
    }

    fn bind_update(&mut self, up: &ast::Update) -> Result<Bound> {
        if up.from.is_some() || !up.table.joins.is_empty() {
            return unsupported("UPDATE ... FROM");
        }
        if up.limit.is_some() || !up.order_by.is_empty() {
            return unsupported("UPDATE with ORDER BY or LIMIT");
        }
        let (table, qualifier) = match &up.table.relation {
            ast::TableFactor::Table { name, alias, .. } => {
                let t = self.table(name)?;
                let q = alias
                    .as_ref()
                    .map(|a| ident_name(&a.name))
                    .unwrap_or_else(|| t.name.clone());
                (t, q)
            }
            other => return unsupported(format!("UPDATE {other}")),
        };
        let scope = table_scope(&table, &qualifier);
        let mut input = Plan::Scan {
            table: table.clone(),
            qualifier,
            access: None,
            filter: None,
            needed: None,
        };
        let mut predicate = None;
        if let Some(w) = &up.selection {
            let pred = self.bind_predicate(w, &scope, "WHERE")?;
            predicate = Some(pred.clone());
            input = Plan::Filter {
                input: Box::new(input),
                predicate: pred,
            };
        }
        let assignments = self.bind_assignments(&table, &up.assignments, &scope)?;
        let returning = self.bind_returning(&table, up.returning.as_deref())?;
        Ok(Bound::Update {
            table,
            input,
            assignments,
            predicate,
            returning,
        })
    }

    fn bind_delete(&mut self, del: &ast::Delete) -> Result<Bound> {
        if del.using.is_some() || !del.tables.is_empty() {
            return unsupported("DELETE ... USING");
        }
        if del.limit.is_some() || !del.order_by.is_empty() {
            return unsupported("DELETE with ORDER BY or LIMIT");
        }
        let from = match &del.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
        };
        let [twj] = from.as_slice() else {
            return unsupported("DELETE from several tables");
        };
        if !twj.joins.is_empty() {
            return unsupported("DELETE with joins");
        }
        let (table, qualifier) = match &twj.relation {
            ast::TableFactor::Table { name, alias, .. } => {
                let t = self.table(name)?;
                let q = alias
                    .as_ref()
                    .map(|a| ident_name(&a.name))
                    .unwrap_or_else(|| t.name.clone());
                (t, q)
            }
            other => return unsupported(format!("DELETE FROM {other}")),
        };
        let scope = table_scope(&table, &qualifier);
        let mut input = Plan::Scan {
            table: table.clone(),
            qualifier,
            access: None,
            filter: None,
            needed: None,
        };
        let mut predicate = None;
        if let Some(w) = &del.selection {
            let pred = self.bind_predicate(w, &scope, "WHERE")?;
            predicate = Some(pred.clone());
            input = Plan::Filter {
                input: Box::new(input),
                predicate: pred,
            };
        }
        let returning = self.bind_returning(&table, del.returning.as_deref())?;
        Ok(Bound::Delete {
            table,
            input,
            predicate,
            returning,
        })
    }

    // ----- expressions -----

    fn bind_predicate(&mut self, e: &ast::Expr, scope: &Scope, clause: &str) -> Result<Expr> {
        let b = self.bind_expr(e, scope)?;
        match b.ty() {
            DataType::Bool => Ok(b),
            DataType::Unknown => self.coerce(b, &DataType::Bool),
            other => Err(SqlError::new(
                code::DATATYPE_MISMATCH,
                format!(
                    "argument of {clause} must be type boolean, not type {}",
                    other.short_name()
                ),
            )),
        }
    }

    fn bind_coerced(&mut self, e: &ast::Expr, scope: &Scope, ty: &DataType) -> Result<Expr> {
        let b = self.bind_expr(e, scope)?;
        if b.ty() == *ty || b.ty() == DataType::Unknown || (b.ty().is_numeric() && ty.is_numeric())
        {
            self.coerce(b, ty)
        } else {
            Err(SqlError::new(
                code::DATATYPE_MISMATCH,
                format!(
                    "argument must be type {}, not type {}",
                    ty.short_name(),
                    b.ty().short_name()
                ),
            ))
        }
    }

    /// Implicit conversion of `e` to `to` (the caller has checked it is allowed).
    pub fn coerce(&mut self, e: Expr, to: &DataType) -> Result<Expr> {
        let from = e.ty();
        if &from == to {
            return Ok(e);
        }
        // A type modifier never matters to an operator: numeric(5,2) is already a numeric.
        if from != DataType::Unknown
            && from.unconstrained() == *to
            && !matches!(to, DataType::Array(_))
        {
            return Ok(e);
        }
        match e {
            // 'now', 'today', ...: evaluated when the statement runs, not when it is bound.
            Expr::Literal {
                value: Value::Text(s),
                ty: DataType::Unknown,
            } if (to.is_datetime() || matches!(to, DataType::Time(_)))
                && crate::types::datetime::is_relative_word(&s) =>
            {
                Ok(Expr::Cast {
                    expr: Box::new(Expr::literal(Value::Text(s), DataType::Unknown)),
                    ty: to.clone(),
                })
            }
            Expr::Literal {
                value,
                ty: DataType::Unknown,
            } => {
                let v = match value {
                    Value::Text(s) => parse_text(&s, to)?,
                    other => other,
                };
                Ok(Expr::literal(v, to.clone()))
            }
            Expr::Param {
                index,
                ty: DataType::Unknown,
            } => {
                if let Some(p) = self.params.get_mut(index) {
                    if *p == DataType::Unknown {
                        *p = to.clone();
                    }
                }
                let ty = self.params.get(index).cloned().unwrap_or(to.clone());
                if &ty == to {
                    Ok(Expr::Param { index, ty })
                } else {
                    Ok(Expr::Cast {
                        expr: Box::new(Expr::Param { index, ty }),
                        ty: to.clone(),
                    })
                }
            }
            Expr::Literal { value, ty } if !matches!(to, DataType::Unknown) => {
                // Fold casts of constants now, so errors surface at bind time as in PostgreSQL.
                let v = crate::types::cast(value, &ty, to, false)?;
                Ok(Expr::literal(v, to.clone()))
            }
            e => Ok(Expr::Cast {
                expr: Box::new(e),
                ty: to.clone(),
            }),
        }
    }

    /// Assignment conversion to a column type (INSERT values, UPDATE SET).
    fn coerce_assign(&mut self, e: Expr, to: &DataType, column: Option<&str>) -> Result<Expr> {
        let from = e.ty();
        if !assignable(&from, to) {
            return Err(SqlError::new(
                code::DATATYPE_MISMATCH,
                format!(
                    "column \"{}\" is of type {} but expression is of type {}",
                    column.unwrap_or("?"),
                    to.sql_name(),
                    from.sql_name()
                ),
            )
            .with_hint("You will need to rewrite or cast the expression."));
        }
        self.coerce(e, to)
    }

    fn binary(&mut self, op: BinaryOp, l: Expr, r: Expr) -> Result<Expr> {
        let (l, r) = match self.binary_ext(op, l, r)? {
            Ok(e) => return Ok(e),
            Err(operands) => operands,
        };
        let (lt, rt) = (l.ty(), r.ty());
        let mismatch = |lt: &DataType, rt: &DataType| {
            SqlError::new(
                code::UNDEFINED_FUNCTION,
                format!("operator does not exist: {} {} {}", lt.short_name(), op.symbol(), rt.short_name()),
            )
            .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
        };
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let mut sides = Vec::new();
                for side in [l, r] {
                    let t = side.ty();
                    let side = match t {
                        DataType::Bool => side,
                        DataType::Unknown => self.coerce(side, &DataType::Bool)?,
                        other => {
                            return Err(SqlError::new(
                                code::DATATYPE_MISMATCH,
                                format!(
                                    "argument of {} must be type boolean, not type {}",
                                    op.symbol(),
                                    other.short_name()
                                ),
                            ))
                        }
                    };
                    sides.push(side);
                }
                let r = sides.pop().ok_or_else(|| SqlError::internal("operand"))?;
                let l = sides.pop().ok_or_else(|| SqlError::internal("operand"))?;
                Ok(Expr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty: DataType::Bool,
                })
            }
            BinaryOp::Concat => {
                if lt == DataType::Bytea && rt == DataType::Bytea {
                    return Ok(Expr::Binary {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                        ty: DataType::Bytea,
                    });
                }
                if !lt.is_string() && !rt.is_string() {
                    return Err(mismatch(&lt, &rt));
                }
                let l = self.coerce(l, &DataType::Text)?;
                let r = self.coerce(r, &DataType::Text)?;
                Ok(Expr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty: DataType::Text,
                })
            }
            BinaryOp::Like | BinaryOp::NotLike | BinaryOp::ILike | BinaryOp::NotILike => {
                if !lt.is_string() || !rt.is_string() {
                    return Err(mismatch(&lt, &rt));
                }
                let l = self.coerce(l, &DataType::Text)?;
                let r = self.coerce(r, &DataType::Text)?;
                Ok(Expr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty: DataType::Bool,
                })
            }
            _ => {
                let mut common = DataType::common(&lt, &rt).ok_or_else(|| mismatch(&lt, &rt))?;
                if common == DataType::Unknown {
                    common = if op.is_comparison() {
                        DataType::Text
                    } else {
                        return Err(mismatch(&lt, &rt));
                    };
                }
                if common.is_string() && !op.is_comparison() {
                    return Err(mismatch(&lt, &rt));
                }
                if !op.is_comparison() && !common.is_numeric() {
                    return Err(mismatch(&lt, &rt));
                }
                if common.is_string() {
                    common = if lt == rt { lt.clone() } else { DataType::Text };
                    if matches!(common, DataType::Varchar(_)) {
                        common = DataType::Text;
                    }
                }
                let l = self.coerce(l, &common)?;
                let r = self.coerce(r, &common)?;
                let ty = if op.is_comparison() {
                    DataType::Bool
                } else {
                    common
                };
                Ok(Expr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty,
                })
            }
        }
    }

    pub fn bind_expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        // In an aggregating query, a whole expression equal to a GROUP BY expression is that
        // group value.
        if let Some(agg) = &self.agg {
            if let Some(i) = agg.group_ast.iter().position(|g| g == e) {
                return Ok(Expr::Column {
                    index: i,
                    ty: agg.group_exprs[i].ty(),
                });
            }
        }
        if let Some(pg) = self.bind_expr_pg(e, scope)? {
            return Ok(pg);
        }
        use ast::Expr as E;
        match e {
            E::Identifier(id) => self.column_ref(None, &ident_name(id), scope),
            E::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(ident_name).collect();
                match names.as_slice() {
                    [q, c] => self.column_ref(Some(q), c, scope),
                    [_, q, c] | [_, _, q, c] => self.column_ref(Some(q), c, scope),
                    _ => unsupported(format!("column reference {e}")),
                }
            }
            E::Value(v) => self.bind_value(&v.value),
            E::Nested(inner) => self.bind_expr(inner, scope),
            E::BinaryOp { left, op, right } => {
                let bop = match op {
                    ast::BinaryOperator::Plus => BinaryOp::Add,
                    ast::BinaryOperator::Minus => BinaryOp::Sub,
                    ast::BinaryOperator::Multiply => BinaryOp::Mul,
                    ast::BinaryOperator::Divide => BinaryOp::Div,
                    ast::BinaryOperator::Modulo => BinaryOp::Mod,
                    ast::BinaryOperator::Eq => BinaryOp::Eq,
                    ast::BinaryOperator::NotEq => BinaryOp::NotEq,
                    ast::BinaryOperator::Lt => BinaryOp::Lt,
                    ast::BinaryOperator::LtEq => BinaryOp::LtEq,
                    ast::BinaryOperator::Gt => BinaryOp::Gt,
                    ast::BinaryOperator::GtEq => BinaryOp::GtEq,
                    ast::BinaryOperator::And => BinaryOp::And,
                    ast::BinaryOperator::Or => BinaryOp::Or,
                    ast::BinaryOperator::StringConcat => BinaryOp::Concat,
                    other => return self.operator_ext(other, left, right, scope),
                };
                let l = self.bind_expr(left, scope)?;
                let r = self.bind_expr(right, scope)?;
                self.binary(bop, l, r)
            }
            E::UnaryOp { op, expr } => {
                let inner = self.bind_expr(expr, scope)?;
                match op {
                    ast::UnaryOperator::Not => {
                        let inner = match inner.ty() {
                            DataType::Bool => inner,
                            DataType::Unknown => self.coerce(inner, &DataType::Bool)?,
                            other => {
                                return Err(SqlError::new(
                                    code::DATATYPE_MISMATCH,
                                    format!(
                                        "argument of NOT must be type boolean, not type {}",
                                        other.short_name()
                                    ),
                                ))
                            }
                        };
                        Ok(Expr::Unary {
                            op: UnaryOp::Not,
                            expr: Box::new(inner),
                            ty: DataType::Bool,
                        })
                    }
                    ast::UnaryOperator::Minus => {
                        // -9223372036854775808: the digits alone are numeric, negated they
                        // are an int8 (PostgreSQL's make_const).
                        if let ast::Expr::Value(v) = expr.as_ref() {
                            if let ast::Value::Number(n, _) = &v.value {
                                if let Ok(i) = format!("-{n}").parse::<i64>() {
                                    let ty = if i32::try_from(i).is_ok() {
                                        DataType::Int4
                                    } else {
                                        DataType::Int8
                                    };
                                    return Ok(Expr::literal(Value::Int(i), ty));
                                }
                            }
                        }
                        // Fold negative literals so that -2147483648 is an int4 as in PostgreSQL.
                        if let Expr::Literal {
                            value: Value::Int(i),
                            ..
                        } = &inner
                        {
                            if let Some(n) = i.checked_neg() {
                                let ty = if i32::try_from(n).is_ok() {
                                    DataType::Int4
                                } else {
                                    DataType::Int8
                                };
                                return Ok(Expr::literal(Value::Int(n), ty));
                            }
                        }
                        let inner = if inner.ty() == DataType::Unknown {
                            self.coerce(inner, &DataType::Float8)?
                        } else {
                            inner
                        };
                        let ty = inner.ty();
                        if !ty.is_numeric() && ty != DataType::Interval {
                            return Err(SqlError::new(
                                code::UNDEFINED_FUNCTION,
                                format!("operator does not exist: - {}", ty.short_name()),
                            ));
                        }
                        Ok(Expr::Unary {
                            op: UnaryOp::Neg,
                            expr: Box::new(inner),
                            ty,
                        })
                    }
                    ast::UnaryOperator::Plus => {
                        let ty = inner.ty();
                        if !ty.is_numeric() {
                            return Err(SqlError::new(
                                code::UNDEFINED_FUNCTION,
                                format!("operator does not exist: + {}", ty.short_name()),
                            ));
                        }
                        Ok(inner)
                    }
                    other => unsupported(format!("operator {other}")),
                }
            }
            E::IsNull(x) | E::IsNotNull(x) => {
                let b = self.bind_expr(x, scope)?;
                Ok(Expr::IsNull {
                    expr: Box::new(b),
                    negated: matches!(e, E::IsNotNull(_)),
                })
            }
            E::IsTrue(x)
            | E::IsNotTrue(x)
            | E::IsFalse(x)
            | E::IsNotFalse(x)
            | E::IsUnknown(x)
            | E::IsNotUnknown(x) => {
                let b = self.bind_expr(x, scope)?;
                let b = self.coerce(b, &DataType::Bool)?;
                if b.ty() != DataType::Bool {
                    return Err(SqlError::new(
                        code::DATATYPE_MISMATCH,
                        "argument of IS TRUE must be type boolean",
                    ));
                }
                Ok(match e {
                    E::IsTrue(_) => Expr::IsBool {
                        expr: Box::new(b),
                        value: true,
                        negated: false,
                    },
                    E::IsNotTrue(_) => Expr::IsBool {
                        expr: Box::new(b),
                        value: true,
                        negated: true,
                    },
                    E::IsFalse(_) => Expr::IsBool {
                        expr: Box::new(b),
                        value: false,
                        negated: false,
                    },
                    E::IsNotFalse(_) => Expr::IsBool {
                        expr: Box::new(b),
                        value: false,
                        negated: true,
                    },
                    E::IsUnknown(_) => Expr::IsNull {
                        expr: Box::new(b),
                        negated: false,
                    },
                    _ => Expr::IsNull {
                        expr: Box::new(b),
                        negated: true,
                    },
                })
            }
            E::IsDistinctFrom(l, r) | E::IsNotDistinctFrom(l, r) => {
                let l = self.bind_expr(l, scope)?;
                let r = self.bind_expr(r, scope)?;
                // Reuse comparison typing, then take the operands back out.
                let Expr::Binary { left, right, .. } = self.binary(BinaryOp::Eq, l, r)? else {
                    return Err(SqlError::internal(
                        "comparison did not bind to a binary expression",
                    ));
                };
                Ok(Expr::IsDistinctFrom {
                    left,
                    right,
                    negated: matches!(e, E::IsNotDistinctFrom(..)),
                })
            }
            E::InList {
                expr,
                list,
                negated,
            } => {
                let x = self.bind_expr(expr, scope)?;
                let mut items = Vec::new();
                let mut ty = x.ty();
                for item in list {
                    let b = self.bind_expr(item, scope)?;
                    ty = DataType::common(&ty, &b.ty()).ok_or_else(|| {
                        SqlError::new(
                            code::UNDEFINED_FUNCTION,
                            format!(
                                "operator does not exist: {} = {}",
                                ty.short_name(),
                                b.ty().short_name()
                            ),
                        )
                    })?;
                    items.push(b);
                }
                if ty == DataType::Unknown {
                    ty = DataType::Text;
                }
                if ty.is_string() {
                    ty = DataType::Text;
                }
                let x = self.coerce(x, &ty)?;
                let mut list = Vec::new();
                for i in items {
                    list.push(self.coerce(i, &ty)?);
                }
                Ok(Expr::InList {
                    expr: Box::new(x),
                    list,
                    negated: *negated,
                })
            }
            E::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.bind_expr(expr, scope)?;
                let lo = self.bind_expr(low, scope)?;
                let hi = self.bind_expr(high, scope)?;
                let ge = self.binary(BinaryOp::GtEq, x.clone(), lo)?;
                let le = self.binary(BinaryOp::LtEq, x, hi)?;
                let both = self.binary(BinaryOp::And, ge, le)?;
                Ok(if *negated {
                    Expr::Unary {
                        op: UnaryOp::Not,
                        expr: Box::new(both),
                        ty: DataType::Bool,
                    }
                } else {
                    both
                })
            }
            E::Like {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            }
            | E::ILike {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            } => {
                if *any || escape_char.is_some() {
                    return unsupported("LIKE ANY / ESCAPE");
                }
                let ci = matches!(e, E::ILike { .. });
                let op = match (ci, negated) {
                    (false, false) => BinaryOp::Like,
                    (false, true) => BinaryOp::NotLike,
                    (true, false) => BinaryOp::ILike,
                    (true, true) => BinaryOp::NotILike,
                };
                let l = self.bind_expr(expr, scope)?;
                let r = self.bind_expr(pattern, scope)?;
                self.binary(op, l, r)
            }
            E::Cast {
                kind: _,
                expr,
                data_type,
                format,
            } => {
                if format.is_some() {
                    return unsupported("CAST ... FORMAT");
                }
                let target = data_type_in_expr(data_type)?;
                if let Some(e) = self.empty_array_cast(expr, &target) {
                    return Ok(e);
                }
                let inner = self.bind_expr(expr, scope)?;
                self.explicit_cast(inner, &target)
            }
            E::TypedString(ts) => {
                let target = data_type_in_expr(&ts.data_type)?;
                match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => {
                        Ok(Expr::literal(parse_text(s, &target)?, target))
                    }
                    other => unsupported(format!("typed literal {other}")),
                }
            }
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand_b = match operand {
                    Some(o) => Some(self.bind_expr(o, scope)?),
                    None => None,
                };
                let mut whens = Vec::new();
                let mut results = Vec::new();
                for cw in conditions {
                    let w = self.bind_expr(&cw.condition, scope)?;
                    let w = match &operand_b {
                        Some(o) => {
                            // Type the comparison `operand = when`, keep the coerced when value.
                            let Expr::Binary { right, .. } =
                                self.binary(BinaryOp::Eq, o.clone(), w)?
                            else {
                                return Err(SqlError::internal("CASE comparison"));
                            };
                            *right
                        }
                        None => {
                            let w = self.coerce(w, &DataType::Bool)?;
                            if w.ty() != DataType::Bool {
                                return Err(SqlError::new(
                                    code::DATATYPE_MISMATCH,
                                    format!(
                                        "argument of CASE/WHEN must be type boolean, not type {}",
                                        w.ty().short_name()
                                    ),
                                ));
                            }
                            w
                        }
                    };
                    whens.push(w);
                    results.push(self.bind_expr(&cw.result, scope)?);
                }
                let else_b = match else_result {
                    Some(x) => Some(self.bind_expr(x, scope)?),
                    None => None,
                };
                let mut ty = DataType::Unknown;
                for r in results.iter().chain(else_b.iter()) {
                    ty = DataType::common(&ty, &r.ty()).ok_or_else(|| {
                        SqlError::new(
                            code::DATATYPE_MISMATCH,
                            format!(
                                "CASE types {} and {} cannot be matched",
                                ty.short_name(),
                                r.ty().short_name()
                            ),
                        )
                    })?;
                }
                if ty == DataType::Unknown {
                    ty = DataType::Text;
                }
                let mut pairs = Vec::new();
                for (w, r) in whens.into_iter().zip(results) {
                    pairs.push((w, self.coerce(r, &ty)?));
                }
                let else_b = match else_b {
                    Some(x) => Some(Box::new(self.coerce(x, &ty)?)),
                    None => None,
                };
                // The operand must compare with each WHEN value in one type.
                let operand_b = match operand_b {
                    Some(o) => {
                        let wt = pairs.first().map(|(w, _)| w.ty()).unwrap_or(o.ty());
                        Some(Box::new(self.coerce(o, &wt)?))
                    }
                    None => None,
                };
                Ok(Expr::Case {
                    operand: operand_b,
                    whens: pairs,
                    else_result: else_b,
                    ty,
                })
            }
            E::Function(f) => self.bind_function(f, scope),
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.bind_expr(expr, scope)?];
                args.push(match substring_from {
                    Some(f) => self.bind_expr(f, scope)?,
                    None => Expr::literal(Value::Int(1), DataType::Int4),
                });
                if let Some(f) = substring_for {
                    args.push(self.bind_expr(f, scope)?);
                }
                self.scalar_function("substr", args)
            }
            E::Trim {
                expr,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                if trim_characters.is_some() {
                    return unsupported("TRIM with a character list");
                }
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![self.bind_expr(expr, scope)?];
                if let Some(w) = trim_what {
                    args.push(self.bind_expr(w, scope)?);
                }
                self.scalar_function(name, args)
            }
            E::Ceil { expr, field: _ } => {
                let a = self.bind_expr(expr, scope)?;
                self.scalar_function("ceil", vec![a])
            }
            E::Floor { expr, field: _ } => {
                let a = self.bind_expr(expr, scope)?;
                self.scalar_function("floor", vec![a])
            }
            E::Position { expr, r#in } => {
                let hay = self.bind_expr(r#in, scope)?;
                let needle = self.bind_expr(expr, scope)?;
                self.scalar_function("strpos", vec![hay, needle])
            }
            E::Subquery(q) => {
                let (plan, correlation) = self.bind_subquery(q, scope, true)?;
                let mut ty = plan.schema()[0].ty.clone();
                if ty == DataType::Unknown {
                    ty = DataType::Text;
                }
                Ok(Expr::Subquery {
                    plan: Box::new(plan),
                    kind: SubqueryKind::Scalar,
                    correlation,
                    ty,
                })
            }
            E::Exists { subquery, negated } => {
                let (plan, correlation) = self.bind_subquery(subquery, scope, false)?;
                Ok(Expr::Subquery {
                    plan: Box::new(plan),
                    kind: SubqueryKind::Exists { negated: *negated },
                    correlation,
                    ty: DataType::Bool,
                })
            }
            E::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let x = self.bind_expr(expr, scope)?;
                let (plan, correlation) = self.bind_subquery(subquery, scope, true)?;
                let col = plan.schema()[0].clone();
                let mut t = DataType::common(&x.ty(), &col.ty).ok_or_else(|| {
                    SqlError::new(
                        code::UNDEFINED_FUNCTION,
                        format!(
                            "operator does not exist: {} = {}",
                            x.ty().short_name(),
                            col.ty.short_name()
                        ),
                    )
                })?;
                if t == DataType::Unknown || t.is_string() {
                    t = DataType::Text;
                }
                let x = self.coerce(x, &t)?;
                let plan = if col.ty != t {
                    let e = self.coerce(
                        Expr::Column {
                            index: 0,
                            ty: col.ty.clone(),
                        },
                        &t,
                    )?;
                    Plan::Project {
                        input: Box::new(plan),
                        exprs: vec![e],
                        schema: vec![OutputColumn::new(col.name, t.clone())],
                    }
                } else {
                    plan
                };
                Ok(Expr::Subquery {
                    plan: Box::new(plan),
                    kind: SubqueryKind::In {
                        expr: Box::new(x),
                        negated: *negated,
                    },
                    correlation,
                    ty: DataType::Bool,
                })
            }
            other => self.bind_expr_ext(other, scope),
        }
    }

    fn explicit_cast(&mut self, inner: Expr, target: &DataType) -> Result<Expr> {
        let from = inner.ty();
        if from == DataType::Unknown {
            return self.coerce(inner, target);
        }
        if !castable(&from, target) {
            return Err(SqlError::new(
                code::CANNOT_COERCE,
                format!(
                    "cannot cast type {} to {}",
                    from.sql_name(),
                    target.sql_name()
                ),
            ));
        }
        if let Expr::Literal { value, ty } = inner {
            let v = crate::types::cast(value, &ty, target, true)?;
            return Ok(Expr::literal(v, target.clone()));
        }
        Ok(Expr::Cast {
            expr: Box::new(inner),
            ty: target.clone(),
        })
    }

    fn column_ref(&mut self, qualifier: Option<&str>, name: &str, scope: &Scope) -> Result<Expr> {
        if let Some(agg) = &self.agg {
            // In an aggregating query a bare column must be a GROUP BY value.
            let input = agg.input.clone();
            if let Some((idx, ty)) = input.resolve(qualifier, name)? {
                let want = Expr::Column { index: idx, ty };
                if let Some(i) = agg.group_exprs.iter().position(|g| *g == want) {
                    return Ok(Expr::Column {
                        index: i,
                        ty: agg.group_exprs[i].ty(),
                    });
                }
                let q = qualifier.map(|q| format!("{q}.")).unwrap_or_default();
                return Err(SqlError::new(
                    code::GROUPING_ERROR,
                    format!("column \"{q}{name}\" must appear in the GROUP BY clause or be used in an aggregate function"),
                ));
            }
        } else if let Some((index, ty)) = scope.resolve(qualifier, name)? {
            return Ok(Expr::Column { index, ty });
        }
        // A correlated reference to the enclosing query.
        let depth = self.outer.len();
        if depth > 0 {
            if let Some((index, ty)) = self.outer[depth - 1].resolve(qualifier, name)? {
                let corr = self
                    .correlations
                    .last_mut()
                    .ok_or_else(|| SqlError::internal("correlation stack out of step"))?;
                let slot = match corr.iter().position(|(i, _)| *i == index) {
                    Some(s) => s,
                    None => {
                        corr.push((index, ty.clone()));
                        corr.len() - 1
                    }
                };
                return Ok(Expr::OuterRef { slot, ty });
            }
            for s in &self.outer[..depth - 1] {
                if s.resolve(qualifier, name)?.is_some() {
                    return unsupported(MULTI_LEVEL_CORRELATION);
                }
            }
        }
        Err(undefined_column(qualifier, name))
    }

    /// Binds a subquery of an expression over `scope`; returns its plan (one visible column
    /// first when `single_column`) and the correlation expressions over `scope`'s row.
    fn bind_subquery(
        &mut self,
        q: &ast::Query,
        scope: &Scope,
        single_column: bool,
    ) -> Result<(Plan, Vec<Expr>)> {
        // In an aggregating query the row a subquery sees is the aggregate's output: group
        // values first, so only grouped columns can be referenced.
        let outer_scope = match &self.agg {
            Some(agg) => Scope::new(
                agg.group_exprs
                    .iter()
                    .map(|g| match g {
                        Expr::Column { index, .. } => agg.input.columns[*index].clone(),
                        other => OutputColumn::new("?group?", other.ty()),
                    })
                    .collect(),
            ),
            None => scope.clone(),
        };
        let saved_agg = self.agg.take();
        self.outer.push(outer_scope);
        self.correlations.push(Vec::new());
        let r = self.bind_query(q);
        let corr = self.correlations.pop().unwrap_or_default();
        self.outer.pop();
        self.agg = saved_agg;
        let mut plan = r?;
        if single_column {
            let schema = plan.schema();
            let vis: Vec<usize> = schema
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.hidden)
                .map(|(i, _)| i)
                .collect();
            if vis.len() != 1 {
                return Err(SqlError::syntax("subquery must return only one column"));
            }
            if vis[0] != 0 || schema.len() != 1 {
                let c = schema[vis[0]].clone();
                plan = Plan::Project {
                    input: Box::new(plan),
                    exprs: vec![Expr::Column {
                        index: vis[0],
                        ty: c.ty.clone(),
                    }],
                    schema: vec![c],
                };
            }
        }
        let correlation = corr
            .into_iter()
            .map(|(index, ty)| Expr::Column { index, ty })
            .collect();
        Ok((plan, correlation))
    }

    fn bind_value(&mut self, v: &ast::Value) -> Result<Expr> {
        match v {
            ast::Value::Number(n, _) => literal_number(n),
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::DollarQuotedString(ast::DollarQuotedString { value: s, .. }) => {
                Ok(Expr::literal(Value::Text(s.clone()), DataType::Unknown))
            }
            ast::Value::Boolean(b) => Ok(Expr::literal(Value::Bool(*b), DataType::Bool)),
            ast::Value::Null => Ok(Expr::literal(Value::Null, DataType::Unknown)),
            ast::Value::Placeholder(p) => {
                let n: usize = p
                    .strip_prefix('$')
                    .and_then(|d| d.parse().ok())
                    .filter(|n| *n >= 1 && *n <= 65535)
                    .ok_or_else(|| SqlError::syntax(format!("invalid parameter reference {p}")))?;
                if self.params.len() < n {
                    self.params.resize(n, DataType::Unknown);
                }
                Ok(Expr::Param {
                    index: n - 1,
                    ty: self.params[n - 1].clone(),
                })
            }
            other => unsupported(format!("literal {other}")),
        }
    }

    fn bind_function(&mut self, f: &ast::Function, scope: &Scope) -> Result<Expr> {
        let name = function_name(f)?;
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::None => (Vec::new(), false, false),
            ast::FunctionArguments::List(list) => {
                if !list.clauses.is_empty() {
                    return unsupported(format!("{name} with ORDER BY/clauses in arguments"));
                }
                let distinct = matches!(
                    list.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                let mut args = Vec::new();
                let mut star = false;
                for a in &list.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                            args.push(e.clone())
                        }
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        other => return unsupported(format!("function argument {other}")),
                    }
                }
                (args, distinct, star)
            }
            ast::FunctionArguments::Subquery(_) => {
                return unsupported("subquery function arguments")
            }
        };
        if f.over.is_some() {
            return self.bind_window_call(f, &name, &args, distinct, star, scope);
        }
        window::check_needs_over(&name)?;
        if name == "grouping" {
            return self.bind_grouping(&args);
        }
        if is_aggregate_name(&name) {
            return self.bind_aggregate(&name, &args, distinct, star, f.filter.as_deref());
        }
        if f.filter.is_some() || distinct {
            return Err(SqlError::syntax(format!(
                "DISTINCT or FILTER specified, but {name} is not an aggregate function"
            )));
        }
        // Session constants.
        let constant = match name.as_str() {
            "version" => Some(format!(
                "PostgreSQL {} (Cairn {})",
                self.session.server_version(),
                env!("CARGO_PKG_VERSION")
            )),
            "current_database" => Some(self.session.current_database()),
            "current_user" | "session_user" | "user" => Some(self.session.current_user()),
            "current_schema" => Some("public".to_string()),
            _ => None,
        };
        if let Some(c) = constant {
            if !args.is_empty() {
                return Err(no_function(&name, &[]));
            }
            return Ok(Expr::Func {
                func: Func::SessionConstant,
                args: vec![Expr::literal(Value::Text(c), DataType::Text)],
                ty: DataType::Text,
            });
        }
        let mut bound = Vec::new();
        for a in &args {
            bound.push(self.bind_expr(a, scope)?);
        }
        self.scalar_function(&name, bound)
    }

    fn scalar_function(&mut self, name: &str, args: Vec<Expr>) -> Result<Expr> {
        let mut args = match self.scalar_function_ext(name, args)? {
            Ok(e) => return Ok(e),
            Err(args) => args,
        };
        let types: Vec<DataType> = args.iter().map(|a| a.ty()).collect();
        let arity = |n: std::ops::RangeInclusive<usize>| -> Result<()> {
            if n.contains(&types.len()) {
                Ok(())
            } else {
                Err(no_function(name, &types))
            }
        };
        let text_args = |b: &mut Binder, args: Vec<Expr>, ints: &[usize]| -> Result<Vec<Expr>> {
            let mut out = Vec::new();
            for (i, a) in args.into_iter().enumerate() {
                let t = if ints.contains(&i) {
                    DataType::Int4
                } else {
                    DataType::Text
                };
                let at = a.ty();
                if ints.contains(&i) && !(at.is_integer() || at == DataType::Unknown) {
                    return Err(no_function(name, &[at]));
                }
                if !ints.contains(&i) && !at.is_string() {
                    return Err(no_function(name, &[at]));
                }
                out.push(b.coerce(a, &t)?);
            }
            Ok(out)
        };
        let (func, args, ty) = match name {
            "abs" | "round" | "floor" | "ceil" | "ceiling" | "sign" => {
                arity(if name == "round" { 1..=2 } else { 1..=1 })?;
                let mut a0 = args.remove(0);
                if a0.ty() == DataType::Unknown {
                    a0 = self.coerce(a0, &DataType::Float8)?;
                }
                if !a0.ty().is_numeric() {
                    return Err(no_function(name, &types));
                }
                let func = match name {
                    "abs" => Func::Abs,
                    "round" => Func::Round,
                    "floor" => Func::Floor,
                    "sign" => Func::Sign,
                    _ => Func::Ceil,
                };
                // round/floor/ceil of an integer argument are float8 in PostgreSQL (it casts to
                // numeric or double); keep floats for now (numeric comes with NUMERIC).
                let ty = if func == Func::Abs {
                    a0.ty()
                } else if a0.ty().is_integer() {
                    DataType::Float8
                } else {
                    a0.ty()
                };
                let a0 = if func != Func::Abs && a0.ty().is_integer() {
                    self.coerce(a0, &DataType::Float8)?
                } else {
                    a0
                };
                let mut v = vec![a0];
                if !args.is_empty() {
                    let s = args.remove(0);
                    v.push(self.coerce(s, &DataType::Int4)?);
                }
                (func, v, ty)
            }
            "sqrt" | "power" | "pow" => {
                arity(if name == "sqrt" { 1..=1 } else { 2..=2 })?;
                let mut v = Vec::new();
                for a in args {
                    if !(a.ty().is_numeric() || a.ty() == DataType::Unknown) {
                        return Err(no_function(name, &types));
                    }
                    v.push(self.coerce(a, &DataType::Float8)?);
                }
                (
                    if name == "sqrt" {
                        Func::Sqrt
                    } else {
                        Func::Power
                    },
                    v,
                    DataType::Float8,
                )
            }
            "lower" | "upper" | "reverse" => {
                arity(1..=1)?;
                let f = match name {
                    "lower" => Func::Lower,
                    "upper" => Func::Upper,
                    _ => Func::Reverse,
                };
                (f, text_args(self, args, &[])?, DataType::Text)
            }
            "length" | "char_length" | "character_length" | "octet_length" => {
                arity(1..=1)?;
                let f = if name == "octet_length" {
                    Func::OctetLength
                } else {
                    Func::Length
                };
                if types[0] == DataType::Bytea {
                    (f, args, DataType::Int4)
                } else {
                    (f, text_args(self, args, &[])?, DataType::Int4)
                }
            }
            "substr" | "substring" => {
                arity(2..=3)?;
                (
                    Func::Substr,
                    text_args(self, args, &[1, 2])?,
                    DataType::Text,
                )
            }
            "btrim" | "ltrim" | "rtrim" => {
                arity(1..=2)?;
                let f = match name {
                    "ltrim" => Func::LTrim,
                    "rtrim" => Func::RTrim,
                    _ => Func::Trim,
                };
                (f, text_args(self, args, &[])?, DataType::Text)
            }
            "replace" => {
                arity(3..=3)?;
                (Func::Replace, text_args(self, args, &[])?, DataType::Text)
            }
            "strpos" => {
                arity(2..=2)?;
                (Func::Strpos, text_args(self, args, &[])?, DataType::Int4)
            }
            "left" | "right" => {
                arity(2..=2)?;
                (
                    if name == "left" {
                        Func::Left
                    } else {
                        Func::Right
                    },
                    text_args(self, args, &[1])?,
                    DataType::Text,
                )
            }
            "repeat" => {
                arity(2..=2)?;
                (Func::Repeat, text_args(self, args, &[1])?, DataType::Text)
            }
            "concat" => (Func::Concat, args, DataType::Text),
            "nextval" | "currval" => {
                arity(1..=1)?;
                let f = if name == "nextval" {
                    Func::NextVal
                } else {
                    Func::CurrVal
                };
                (f, text_args(self, args, &[])?, DataType::Int8)
            }
            "lastval" => {
                arity(0..=0)?;
                (Func::LastVal, args, DataType::Int8)
            }
            "setval" => {
                arity(2..=3)?;
                let mut it = args.into_iter();
                let mut v = Vec::new();
                if let Some(n) = it.next() {
                    v.push(self.coerce(n, &DataType::Text)?);
                }
                if let Some(x) = it.next() {
                    v.push(self.coerce(x, &DataType::Int8)?);
                }
                if let Some(c) = it.next() {
                    v.push(self.coerce(c, &DataType::Bool)?);
                }
                (Func::SetVal, v, DataType::Int8)
            }
            "coalesce" | "nullif" | "greatest" | "least" => {
                if name == "nullif" {
                    arity(2..=2)?;
                } else {
                    arity(1..=usize::MAX)?;
                }
                let mut ty = DataType::Unknown;
                for t in &types {
                    ty = DataType::common(&ty, t).ok_or_else(|| {
                        SqlError::new(
                            code::DATATYPE_MISMATCH,
                            format!(
                                "{} types {} and {} cannot be matched",
                                name.to_uppercase(),
                                ty.short_name(),
                                t.short_name()
                            ),
                        )
                    })?;
                }
                if ty == DataType::Unknown {
                    ty = DataType::Text;
                }
                let mut v = Vec::new();
                for a in args {
                    v.push(self.coerce(a, &ty)?);
                }
                let f = match name {
                    "coalesce" => Func::Coalesce,
                    "nullif" => Func::NullIf,
                    "greatest" => Func::Greatest,
                    _ => Func::Least,
                };
                (f, v, ty)
            }
            _ => return Err(no_function(name, &types)),
        };
        Ok(Expr::Func { func, args, ty })
    }

    fn bind_aggregate(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        distinct: bool,
        star: bool,
        filter: Option<&ast::Expr>,
    ) -> Result<Expr> {
        let Some(mut agg) = self.agg.take() else {
            return Err(SqlError::new(
                code::GROUPING_ERROR,
                format!("aggregate function {name} is not allowed here"),
            ));
        };
        let result = self.bind_aggregate_in(&mut agg, name, args, distinct, star, filter);
        self.agg = Some(agg);
        result
    }

    fn bind_aggregate_in(
        &mut self,
        agg: &mut AggState,
        name: &str,
        args: &[ast::Expr],
        distinct: bool,
        star: bool,
        filter: Option<&ast::Expr>,
    ) -> Result<Expr> {
        let input = agg.input.clone();
        for a in args {
            if contains_aggregate(a) {
                return Err(SqlError::new(
                    code::GROUPING_ERROR,
                    "aggregate function calls cannot be nested",
                ));
            }
        }
        for a in args.iter().chain(filter) {
            if window::contains_window(a) {
                return Err(SqlError::new(
                    code::GROUPING_ERROR,
                    "aggregate function calls cannot contain window function calls",
                ));
            }
        }
        let mut bound = Vec::new();
        for a in args {
            bound.push(self.bind_expr(a, &input)?);
        }
        let filter = match filter {
            Some(f) => Some(self.bind_predicate(f, &input, "FILTER")?),
            None => None,
        };
        let (func, arg, extra, ty) = self.aggregate_signature(name, star, bound)?;
        let call = AggCall {
            func,
            arg,
            extra,
            distinct,
            filter,
            ty: ty.clone(),
            order_by: Vec::new(),
        };
        Ok(Expr::Column {
            index: agg.group_exprs.len() + intern(&mut agg.aggs, call),
            ty,
        })
    }

    /// `GROUPING(a, ...)`: each argument must be a GROUP BY expression (42803).
    fn bind_grouping(&mut self, args: &[ast::Expr]) -> Result<Expr> {
        let not_grouped = || {
            SqlError::new(
                code::GROUPING_ERROR,
                "arguments to GROUPING must be grouping expressions of the associated query level",
            )
        };
        let Some(mut agg) = self.agg.take() else {
            return Err(not_grouped());
        };
        let result = (|| -> Result<Expr> {
            if args.is_empty() || args.len() > 31 {
                return Err(SqlError::new(
                    code::PROGRAM_LIMIT_EXCEEDED,
                    "GROUPING must have fewer than 32 arguments",
                ));
            }
            let mut positions = Vec::with_capacity(args.len());
            for a in args {
                let p = match agg.group_ast.iter().position(|g| g == a) {
                    Some(p) => p,
                    None => {
                        let b = self.bind_expr(a, &agg.input)?;
                        agg.group_exprs
                            .iter()
                            .position(|g| *g == b)
                            .ok_or_else(not_grouped)?
                    }
                };
                positions.push(Value::Int(p as i64));
            }
            let call = AggCall {
                func: AggFunc::Grouping,
                arg: Some(Expr::literal(
                    Value::Array(positions),
                    DataType::Array(Box::new(DataType::Int4)),
                )),
                extra: None,
                distinct: false,
                filter: None,
                ty: DataType::Int4,
                order_by: Vec::new(),
            };
            Ok(Expr::Column {
                index: agg.group_exprs.len() + intern(&mut agg.aggs, call),
                ty: DataType::Int4,
            })
        })();
        self.agg = Some(agg);
        result
    }

    /// An aggregate's function, argument, extra argument (string_agg's delimiter) and result
    /// type, from its name and bound arguments, with PostgreSQL's typing.
    fn aggregate_signature(
        &mut self,
        name: &str,
        star: bool,
        mut bound: Vec<Expr>,
    ) -> Result<(AggFunc, Option<Expr>, Option<Expr>, DataType)> {
        let types: Vec<DataType> = bound.iter().map(|b| b.ty()).collect();
        Ok(match (name, star, bound.len()) {
            ("count", true, 0) => (AggFunc::CountStar, None, None, DataType::Int8),
            ("count", false, 1) => (AggFunc::Count, bound.pop(), None, DataType::Int8),
            ("sum" | "avg", false, 1) => {
                let mut a = bound.remove(0);
                if a.ty() == DataType::Unknown {
                    a = self.coerce(a, &DataType::Float8)?;
                }
                let t = a.ty();
                if !t.is_numeric() && t != DataType::Interval {
                    return Err(no_function(name, &types));
                }
                // PostgreSQL's result types: sum(int2/int4) is bigint, sum(int8) and
                // avg(integers) numeric, avg(floats) double precision.
                let ty = match (name, &t) {
                    ("sum", DataType::Int2 | DataType::Int4) => DataType::Int8,
                    ("sum", DataType::Int8 | DataType::Numeric(_)) => DataType::Numeric(None),
                    ("sum", t) => t.clone(),
                    ("avg", t) if t.is_integer() || matches!(t, DataType::Numeric(_)) => {
                        DataType::Numeric(None)
                    }
                    ("avg", DataType::Interval) => DataType::Interval,
                    _ => DataType::Float8,
                };
                // The running sum is kept in the result type (int8 adds int2/int4 directly).
                let a = if ty != DataType::Int8 {
                    self.coerce(a, &ty)?
                } else {
                    a
                };
                (
                    if name == "sum" {
                        AggFunc::Sum
                    } else {
                        AggFunc::Avg
                    },
                    Some(a),
                    None,
                    ty,
                )
            }
            ("min" | "max", false, 1) => {
                let mut a = bound.remove(0);
                if a.ty() == DataType::Unknown {
                    a = self.coerce(a, &DataType::Text)?;
                }
                let t = a.ty();
                (
                    if name == "min" {
                        AggFunc::Min
                    } else {
                        AggFunc::Max
                    },
                    Some(a),
                    None,
                    t,
                )
            }
            ("bool_and" | "every" | "bool_or", false, 1) => {
                let a = self.coerce(bound.remove(0), &DataType::Bool)?;
                if a.ty() != DataType::Bool {
                    return Err(no_function(name, &types));
                }
                (
                    if name == "bool_or" {
                        AggFunc::BoolOr
                    } else {
                        AggFunc::BoolAnd
                    },
                    Some(a),
                    None,
                    DataType::Bool,
                )
            }
            ("string_agg", false, 2) => {
                let d = bound
                    .pop()
                    .ok_or_else(|| SqlError::internal("string_agg arity"))?;
                let a = bound
                    .pop()
                    .ok_or_else(|| SqlError::internal("string_agg arity"))?;
                if !a.ty().is_string() || !d.ty().is_string() {
                    return Err(no_function(name, &types));
                }
                let a = self.coerce(a, &DataType::Text)?;
                let d = self.coerce(d, &DataType::Text)?;
                (AggFunc::StringAgg, Some(a), Some(d), DataType::Text)
            }
            _ => return Err(no_function(name, &types)),
        })
    }
}

enum SelectEntry<'e> {
    Ast(&'e ast::Expr, String),
    Column(usize),
}

fn undefined_column(qualifier: Option<&str>, name: &str) -> SqlError {
    match qualifier {
        Some(q) => SqlError::new(
            code::UNDEFINED_COLUMN,
            format!("column {q}.{name} does not exist"),
        ),
        None => SqlError::undefined_column(name),
    }
}

fn no_function(name: &str, types: &[DataType]) -> SqlError {
    let args: Vec<&str> = types.iter().map(|t| t.short_name()).collect();
    SqlError::new(
        code::UNDEFINED_FUNCTION,
        format!("function {name}({}) does not exist", args.join(", ")),
    )
    .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

/// Type names inside expressions: `serial` is not allowed there, everything else as
/// [`data_type`].
fn data_type_in_expr(t: &ast::DataType) -> Result<DataType> {
    data_type(t)
}

/// The label PostgreSQL gives an unaliased select-list expression.
fn column_label(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => ident_name(id),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        ast::Expr::Function(f) => function_name(f).unwrap_or_else(|_| "?column?".into()),
        ast::Expr::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            ast::Expr::Identifier(_)
            | ast::Expr::CompoundIdentifier(_)
            | ast::Expr::Function(_) => column_label(expr),
            _ => data_type_label(data_type),
        },
        ast::Expr::Nested(inner) => column_label(inner),
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Exists { .. } => "exists".into(),
        ast::Expr::Substring { .. } => "substring".into(),
        ast::Expr::Trim { .. } => "btrim".into(),
        ast::Expr::Ceil { .. } => "ceil".into(),
        ast::Expr::Floor { .. } => "floor".into(),
        ast::Expr::Position { .. } => "position".into(),
        ast::Expr::TypedString(ts) => data_type_label(&ts.data_type),
        // A scalar subquery is labelled as its first output column is.
        ast::Expr::Subquery(q) => match q.body.as_ref() {
            ast::SetExpr::Select(sel) => match sel.projection.first() {
                Some(ast::SelectItem::UnnamedExpr(e)) => column_label(e),
                Some(ast::SelectItem::ExprWithAlias { alias, .. }) => ident_name(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        other => types_ext::column_label(other).unwrap_or_else(|| "?column?".into()),
    }
}

fn data_type_label(t: &ast::DataType) -> String {
    match data_type(t) {
        Ok(DataType::Int2) => "int2".into(),
        Ok(DataType::Int4) => "int4".into(),
        Ok(DataType::Int8) => "int8".into(),
        Ok(DataType::Float4) => "float4".into(),
        Ok(DataType::Float8) => "float8".into(),
        Ok(DataType::Bool) => "bool".into(),
        Ok(DataType::Varchar(_)) => "varchar".into(),
        Ok(DataType::Char(_)) => "bpchar".into(),
        Ok(DataType::Text) => "text".into(),
        Ok(DataType::Bytea) => "bytea".into(),
        Ok(t) => types_ext::type_label(&t).unwrap_or("?column?").into(),
        _ => "?column?".into(),
    }
}

fn column_ast(c: &OutputColumn) -> ast::Expr {
    let id = |s: &str| ast::Ident::with_quote('"', s);
    match &c.qualifier {
        Some(q) => ast::Expr::CompoundIdentifier(vec![id(q), id(&c.name)]),
        None => ast::Expr::Identifier(id(&c.name)),
    }
}

/// Appends `e` to a select list as a hidden column (an ORDER BY or DISTINCT ON expression
/// not in the list) and returns its position.
fn push_hidden(
    exprs: &mut Vec<Expr>,
    schema: &mut Vec<OutputColumn>,
    e: Expr,
    label: &str,
) -> usize {
    let mut c = OutputColumn::new(label, e.ty());
    c.hidden = true;
    schema.push(c);
    exprs.push(e);
    exprs.len() - 1
}

/// `left` joined with `right`: a `Plan::LateralJoin` when `right` is a LATERAL subquery that
/// references `left` (`correlation`), else an ordinary join. A lateral reference needs an
/// INNER or LEFT join (42P10, as in PostgreSQL).
fn lateral_or_join(
    left: Plan,
    right: Plan,
    correlation: Option<Vec<Expr>>,
    kind: JoinKind,
    on: Option<Expr>,
) -> Result<Plan> {
    let Some(correlation) = correlation else {
        return Ok(Plan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            on,
        });
    };
    if !matches!(kind, JoinKind::Inner | JoinKind::Left) {
        return Err(SqlError::new(
            code::INVALID_COLUMN_REFERENCE,
            "the combining JOIN type must be INNER or LEFT for a LATERAL reference",
        ));
    }
    Ok(Plan::LateralJoin {
        left: Box::new(left),
        right: Box::new(right),
        correlation,
        kind,
        on,
    })
}

/// GROUP BY's elements as distinct leaf expressions and, when ROLLUP, CUBE or GROUPING SETS
/// appear, the grouping sets over them (positions in the leaves): the cross product of each
/// element's sets, as PostgreSQL expands them. A plain GROUP BY has no sets.
fn expand_grouping(elements: &[ast::Expr]) -> Result<(Vec<ast::Expr>, Vec<Vec<usize>>)> {
    let mut leaves: Vec<ast::Expr> = Vec::new();
    let positions = |list: &[ast::Expr], leaves: &mut Vec<ast::Expr>| -> Result<Vec<usize>> {
        let mut out = Vec::with_capacity(list.len());
        for e in list {
            // (Inside GROUPING SETS the parser reads `ROLLUP (a)` as a function call.)
            let nested = match e {
                ast::Expr::Rollup(_) | ast::Expr::Cube(_) | ast::Expr::GroupingSets(_) => true,
                ast::Expr::Function(f) => {
                    matches!(function_name(f).as_deref(), Ok("rollup" | "cube"))
                }
                _ => false,
            };
            if nested {
                return unsupported("nested GROUPING SETS, ROLLUP or CUBE");
            }
            out.push(intern(leaves, e.clone()));
        }
        Ok(out)
    };
    let mut sets: Vec<Vec<usize>> = vec![Vec::new()];
    let mut has_sets = false;
    for el in elements {
        let options: Vec<Vec<usize>> = match el {
            ast::Expr::Rollup(lists) => {
                has_sets = true;
                let parts = lists
                    .iter()
                    .map(|l| positions(l, &mut leaves))
                    .collect::<Result<Vec<_>>>()?;
                (0..=parts.len())
                    .rev()
                    .map(|k| parts[..k].concat())
                    .collect()
            }
            ast::Expr::Cube(lists) => {
                has_sets = true;
                if lists.len() > 12 {
                    return Err(SqlError::new(
                        code::PROGRAM_LIMIT_EXCEEDED,
                        "CUBE is limited to 12 elements",
                    ));
                }
                let parts = lists
                    .iter()
                    .map(|l| positions(l, &mut leaves))
                    .collect::<Result<Vec<_>>>()?;
                let n = parts.len();
                (0..1usize << n)
                    .rev()
                    .map(|mask| {
                        (0..n)
                            .filter(|i| mask & (1 << (n - 1 - i)) != 0)
                            .flat_map(|i| parts[i].iter().copied())
                            .collect()
                    })
                    .collect()
            }
            ast::Expr::GroupingSets(lists) => {
                has_sets = true;
                lists
                    .iter()
                    .map(|l| positions(l, &mut leaves))
                    .collect::<Result<Vec<_>>>()?
            }
            other => vec![positions(std::slice::from_ref(other), &mut leaves)?],
        };
        let mut product = Vec::with_capacity(sets.len() * options.len());
        for s in &sets {
            for o in &options {
                let mut set = s.clone();
                for p in o {
                    if !set.contains(p) {
                        set.push(*p);
                    }
                }
                product.push(set);
            }
        }
        if product.len() > 4096 {
            return Err(SqlError::new(
                code::PROGRAM_LIMIT_EXCEEDED,
                "too many grouping sets present (maximum 4096)",
            ));
        }
        sets = product;
    }
    Ok((leaves, if has_sets { sets } else { Vec::new() }))
}

/// `SELECT DISTINCT ON (on) ... ORDER BY keys` over the projected rows of `input` (layout
/// `schema`): the first row of each `on` group in `keys` order, found as `row_number() OVER
/// (PARTITION BY on ORDER BY keys) = 1`. The row number rides after `schema`'s columns,
/// for the caller's final projection to drop.
fn distinct_on_plan(input: Plan, on: &[usize], keys: &[SortKey], schema: &[OutputColumn]) -> Plan {
    let column = |i: usize| Expr::Column {
        index: i,
        ty: schema[i].ty.clone(),
    };
    let call = WindowCall {
        func: WindowFunc::RowNumber,
        args: Vec::new(),
        partition_by: on.iter().map(|&i| column(i)).collect(),
        order_by: keys
            .iter()
            .map(|k| AggOrder {
                expr: column(k.column),
                descending: k.descending,
                nulls_first: k.nulls_first,
            })
            .collect(),
        frame: WindowFrame::default_frame(),
        ty: DataType::Int8,
    };
    let mut window_schema = schema.to_vec();
    window_schema.push(OutputColumn::new("?row?", DataType::Int8));
    let window = Plan::Window {
        input: Box::new(input),
        calls: vec![call],
        schema: window_schema,
    };
    Plan::Filter {
        input: Box::new(window),
        predicate: Expr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(Expr::Column {
                index: schema.len(),
                ty: DataType::Int8,
            }),
            right: Box::new(Expr::literal(Value::Int(1), DataType::Int8)),
            ty: DataType::Bool,
        },
    }
}

fn sort_key(column: usize, o: &ast::OrderByExpr) -> SortKey {
    let descending = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
    SortKey {
        column,
        descending,
        // PostgreSQL: NULLs are larger than every value, so they come last ascending and first
        // descending unless told otherwise.
        nulls_first: o.options.nulls_first.unwrap_or(descending),
    }
}

fn visible(schema: Vec<OutputColumn>) -> Vec<OutputColumn> {
    schema.into_iter().filter(|c| !c.hidden).collect()
}

/// The scope of a table's full stored row under `qualifier`.
pub fn table_scope(table: &TableDef, qualifier: &str) -> Scope {
    Scope::new(crate::plan::scan_schema(table, qualifier))
}

/// Whether a bound CTE reads a column of an enclosing query's row (an `OuterRef` in its own
/// expressions; a subquery inside it passes such values in through its correlation
/// expressions, which are the CTE's): then it cannot be computed once per statement.
fn reads_outer_row(plan: &mut Plan) -> bool {
    let mut found = false;
    plan.exprs_mut(&mut |e| {
        e.visit(&mut |x| found |= matches!(x, Expr::OuterRef { .. }));
    });
    found || plan.children_mut().into_iter().any(reads_outer_row)
}

/// Counts the `Materialize` nodes of each id in `plan`, its inputs and its subqueries.
fn count_materialized(plan: &mut Plan, uses: &mut HashMap<usize, usize>) {
    if let Plan::Materialize { id, .. } = plan {
        *uses.entry(*id).or_insert(0) += 1;
    }
    plan.exprs_mut(&mut |e| e.subquery_plans_mut(&mut |p| count_materialized(p, uses)));
    for c in plan.children_mut() {
        count_materialized(c, uses);
    }
}

/// Replaces each `Materialize` whose id is in `ids` by its input.
fn inline_materialized(plan: &mut Plan, ids: &[usize]) {
    if let Plan::Materialize { id, input } = plan {
        if ids.contains(id) {
            let inner = std::mem::replace(input.as_mut(), Plan::Unit);
            *plan = inner;
            inline_materialized(plan, ids);
            return;
        }
    }
    plan.exprs_mut(&mut |e| e.subquery_plans_mut(&mut |p| inline_materialized(p, ids)));
    for c in plan.children_mut() {
        inline_materialized(c, ids);
    }
}

/// A function call in FROM: `name(args) [WITH ORDINALITY]`.
pub(crate) struct FromCall<'a> {
    pub name: &'a ast::ObjectName,
    pub args: &'a ast::TableFunctionArgs,
    pub ordinality: bool,
}

/// The columns `NATURAL JOIN` joins on: the names both inputs have (the left's order); a
/// name twice on one side is an error (42702), as in PostgreSQL.
fn natural_columns(scope: &Scope, left_width: usize) -> Result<Vec<String>> {
    let names = |cols: &[OutputColumn]| -> Vec<String> {
        cols.iter()
            .filter(|c| !c.hidden && !c.merged)
            .map(|c| c.name.clone())
            .collect()
    };
    let (left, right) = (
        names(&scope.columns[..left_width]),
        names(&scope.columns[left_width..]),
    );
    let mut common = Vec::new();
    for n in &left {
        if !right.contains(n) || common.contains(n) {
            continue;
        }
        for (side, cols) in [("left", &left), ("right", &right)] {
            if cols.iter().filter(|c| *c == n).count() > 1 {
                return Err(SqlError::new(
                    code::AMBIGUOUS_COLUMN,
                    format!("common column name \"{n}\" appears more than once in {side} table"),
                ));
            }
        }
        common.push(n.clone());
    }
    Ok(common)
}

/// The error for a USING column one input lacks (42703, PostgreSQL's wording).
fn using_missing(name: &str, side: &str) -> SqlError {
    SqlError::new(
        code::UNDEFINED_COLUMN,
        format!("column \"{name}\" specified in USING clause does not exist in {side} table"),
    )
}

/// Renames the visible output of `plan` to `qualifier` (and `columns`, when given).
fn rename(plan: Plan, qualifier: &str, columns: &[ast::TableAliasColumnDef]) -> Result<Plan> {
    let mut schema = plan.schema();
    // Behind an alias, the columns a USING join merged are gone (PostgreSQL exposes only the
    // merged one): hidden, and found by no name.
    for c in schema.iter_mut().filter(|c| c.merged) {
        c.hidden = true;
    }
    let visible_count = schema.iter().filter(|c| !c.hidden).count();
    if columns.len() > visible_count {
        return Err(SqlError::new(
            code::INVALID_COLUMN_REFERENCE,
            format!("table \"{qualifier}\" has {visible_count} columns available but {} columns specified", columns.len()),
        ));
    }
    let mut k = 0;
    let out = schema
        .into_iter()
        .map(|mut c| {
            c.qualifier = (!c.merged).then(|| qualifier.to_string());
            if !c.hidden {
                if let Some(a) = columns.get(k) {
                    c.name = ident_name(&a.name);
                }
                k += 1;
            }
            c
        })
        .collect();
    Ok(Plan::Rename {
        input: Box::new(plan),
        schema: out,
    })
}

mod pg_ext;
pub use pg_ext::split_qualified_name;

/// Parses one SQL expression (stored DEFAULT and CHECK texts).
pub fn parse_expr(sql: &str) -> Result<ast::Expr> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    sqlparser::parser::Parser::new(&dialect)
        .with_recursion_limit(crate::NESTING_DEPTH_MAX)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::syntax(e.to_string()))
}

fn statement_kind(s: &ast::Statement) -> String {
    let text = s.to_string();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn fix_param_types(e: &mut Expr, types: &[DataType]) {
    match e {
        Expr::Param { index, ty } => {
            if let Some(t) = types.get(*index) {
                if *ty == DataType::Unknown {
                    *ty = t.clone();
                }
            }
        }
        Expr::Subquery { plan, .. } => fix_param_types_plan(plan, types),
        _ => {}
    }
    for c in e.children_mut() {
        fix_param_types(c, types);
    }
}

fn fix_param_types_plan(p: &mut Plan, types: &[DataType]) {
    p.exprs_mut(&mut |e| fix_param_types(e, types));
    for child in p.children_mut() {
        fix_param_types_plan(child, types);
    }
}

fn fix_param_types_bound(b: &mut Bound, types: &[DataType]) {
    let fix_ret = |r: &mut Option<(Vec<Expr>, Vec<OutputColumn>)>| {
        if let Some((exprs, _)) = r {
            exprs.iter_mut().for_each(|e| fix_param_types(e, types));
        }
    };
    match b {
        Bound::Query { plan, .. } => fix_param_types_plan(plan, types),
        Bound::Insert {
            source,
            defaults,
            on_conflict,
            returning,
            ..
        } => {
            fix_param_types_plan(source, types);
            defaults
                .iter_mut()
                .for_each(|(_, e)| fix_param_types(e, types));
            if let OnConflict::DoUpdate {
                assignments,
                predicate,
            } = on_conflict
            {
                assignments
                    .iter_mut()
                    .for_each(|(_, e)| fix_param_types(e, types));
                if let Some(p) = predicate {
                    fix_param_types(p, types);
                }
            }
            fix_ret(returning);
        }
        Bound::Update {
            input,
            assignments,
            predicate,
            returning,
            ..
        } => {
            fix_param_types_plan(input, types);
            assignments
                .iter_mut()
                .for_each(|(_, e)| fix_param_types(e, types));
            if let Some(p) = predicate {
                fix_param_types(p, types);
            }
            fix_ret(returning);
        }
        Bound::Delete {
            input,
            predicate,
            returning,
            ..
        } => {
            fix_param_types_plan(input, types);
            if let Some(p) = predicate {
                fix_param_types(p, types);
            }
            fix_ret(returning);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The GROUP BY clause of `SELECT 1 FROM t GROUP BY <clause>`.
    fn group_by(clause: &str) -> Vec<ast::Expr> {
        let stmts = crate::parse(&format!("SELECT 1 FROM t GROUP BY {clause}")).expect("parse");
        let Some(ast::Statement::Query(q)) = stmts.into_iter().next() else {
            panic!("not a query");
        };
        let ast::SetExpr::Select(sel) = *q.body else {
            panic!("not a select");
        };
        match sel.group_by {
            ast::GroupByExpr::Expressions(e, _) => e,
            other => panic!("{other:?}"),
        }
    }

    fn sets(clause: &str) -> (Vec<String>, Vec<Vec<usize>>) {
        let (leaves, sets) = expand_grouping(&group_by(clause)).expect("expand");
        (leaves.iter().map(|e| e.to_string()).collect(), sets)
    }

    #[test]
    fn grouping_sets_expand_as_postgres_does() {
        assert_eq!(sets("a, b"), (vec!["a".into(), "b".into()], vec![]));
        assert_eq!(sets("ROLLUP (a, b)").1, vec![vec![0, 1], vec![0], vec![]]);
        assert_eq!(
            sets("CUBE (a, b)").1,
            vec![vec![0, 1], vec![0], vec![1], vec![]]
        );
        // A plain element is in every set; the sets multiply.
        assert_eq!(
            sets("a, ROLLUP (b, c)").1,
            vec![vec![0, 1, 2], vec![0, 1], vec![0]]
        );
        assert_eq!(
            sets("ROLLUP (a), CUBE (b)").1,
            vec![vec![0, 1], vec![0], vec![1], vec![]]
        );
        // A parenthesised list rolls up as one element; repeated expressions are one leaf.
        assert_eq!(
            sets("ROLLUP (a, (b, c))").1,
            vec![vec![0, 1, 2], vec![0], vec![]]
        );
        assert_eq!(
            sets("GROUPING SETS ((a, b), (b), ())"),
            (
                vec!["a".into(), "b".into()],
                vec![vec![0, 1], vec![1], vec![]]
            )
        );
        assert!(expand_grouping(&group_by("GROUPING SETS (ROLLUP (a), b)")).is_err());
    }
}

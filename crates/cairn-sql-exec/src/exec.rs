//! The executor: runs plans and DML over a transaction.
//!
//! Role: the session hands [`run`] an optimised `Plan` (and [`run_dml`] a bound DML statement)
//! with the statement's transaction and parameters. Operators read table rows through
//! `KvTxn::scan` (in batches of [`SCAN_BATCH_ROWS`]), or `KvTxn::get` when equalities fix
//! the whole primary key (one possible row key: keycode is prefix-free, so no other row key
//! starts with it, and the read set is the same), and write through `put`/`delete`.
//!
//! Execution model (this increment): each operator produces its whole output as a `Vec` of
//! rows before its parent runs. Scans read in bounded batches, but sorts, joins and
//! aggregations hold their inputs; [`ExecLimits::rows_max`] bounds every intermediate result
//! and a statement that exceeds it fails with 54000 instead of exhausting memory. Streaming
//! operators replace this in the next increment without changing the interface.
//!
//! Invariants:
//! 1. A row written to table T has exactly `T.columns.len()` values, each already cast to its
//!    column's type, NOT NULL and CHECK constraints hold, and its primary key is unique (the
//!    key is locked with `get_for_update` before the existence check, so a concurrent insert
//!    of the same key waits or fails with 40001 rather than overwriting). Tests:
//!    `tests/sql.rs` (`primary_key_violation_is_23505`, `not_null_violation_is_23502`, ...).
//! 2. Operators never reorder rows unless they are `Sort` (or set operations); `Limit` without
//!    `Sort` returns rows in scan (primary key) order. A hash join returns its rows in the
//!    nested loop's order; a join order the optimiser changed changes the order of rows of a
//!    query without ORDER BY (`join_order.rs` invariant 2), as in PostgreSQL.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

use cairn_sql_plan::bind::{table_scope, Binder, SessionInfo};
use cairn_sql_plan::catalog::{Catalog, IndexDef, TableDef, PRIMARY_INDEX_ID};
use cairn_sql_plan::expr::{EvalContext, Expr, Func, SubqueryRunner, Volatile};
use cairn_sql_plan::plan::{
    AggCall, AggFunc, Bound, JoinKind, KeyRange, OnConflict, OutputColumn, Plan, RowLockStrength,
    RowLockWait, SetOpKind, SortKey,
};
use cairn_sql_plan::types::datetime::UNIX_EPOCH_OFFSET_MICROS;
use cairn_sql_plan::types::{compare, sort_cmp, DataType, Numeric, Value};
use cairn_sql_plan::{code, Result, SqlError};

use crate::catalog::SequenceDesc;
use crate::index;
use crate::keys;
use crate::kv::{IsolationLevel, KvTxn};
use crate::row::{decode_row, decode_row_needed, encode_row};
use crate::sequence::{Sequences, SessionSequences};

mod window;

pub type Row = Vec<Value>;

/// Rows fetched per `KvTxn::scan` call.
pub const SCAN_BATCH_ROWS: usize = 1024;

/// Bounds on one statement's execution.
#[derive(Clone, Copy, Debug)]
pub struct ExecLimits {
    /// Most rows any one operator may hold (54000 beyond).
    pub rows_max: usize,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            rows_max: 10_000_000,
        }
    }
}

/// The statement's transaction, shared by the operators and the subqueries they run (each
/// borrows it only for the duration of one KV call).
pub type TxnCell<'t> = RefCell<&'t mut dyn KvTxn>;

/// What one statement computes once and reuses: the results of uncorrelated subqueries (by
/// plan address) and its view of the system catalog (`pg_catalog::Snapshot`, built when a
/// catalog table or function is first used).
#[derive(Default)]
pub struct StatementCache {
    subqueries: RefCell<HashMap<usize, Rc<Vec<Row>>>>,
    /// Hash sets of uncorrelated `IN (subquery)` values, by plan address.
    in_sets: RefCell<HashMap<usize, Rc<InSet>>>,
    pub(crate) catalog: RefCell<Option<std::rc::Rc<crate::pg_catalog::Snapshot>>>,
    /// The previous step's rows of each running `RecursiveUnion`, by its id.
    work_tables: RefCell<HashMap<usize, Rc<Vec<Row>>>>,
    /// The rows of each materialized CTE (`Plan::Materialize`), by its id, once computed.
    materialized: RefCell<HashMap<usize, Rc<Vec<Row>>>>,
    /// `EXPLAIN ANALYZE`: what each operator did, by plan address; `None` when not asked.
    profile: RefCell<Option<HashMap<usize, NodeStats>>>,
}

/// What one operator did during an `EXPLAIN ANALYZE` run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeStats {
    /// Rows produced, over all loops.
    pub rows: u64,
    /// Times the operator was run (a subquery's plan once per outer row it is evaluated
    /// for).
    pub loops: u64,
    /// Time in the operator and its inputs, over all loops; a streaming operator's time
    /// excludes what the operators it hands rows to spend on them.
    pub nanos: u128,
}

impl StatementCache {
    /// A cache that records [`NodeStats`] per operator as the statement runs.
    pub fn profiling() -> StatementCache {
        let cache = StatementCache::default();
        *cache.profile.borrow_mut() = Some(HashMap::new());
        cache
    }

    /// The stats recorded for `plan` (an operator of the statement run with this cache).
    pub fn node_stats(&self, plan: &Plan) -> Option<NodeStats> {
        let key = plan as *const Plan as usize;
        self.profile.borrow().as_ref()?.get(&key).copied()
    }

    fn profiling_on(&self) -> bool {
        self.profile.borrow().is_some()
    }

    fn record(&self, plan: &Plan, rows: u64, nanos: u128) {
        if let Some(map) = self.profile.borrow_mut().as_mut() {
            let s = map.entry(plan as *const Plan as usize).or_default();
            s.rows += rows;
            s.loops += 1;
            s.nanos += nanos;
        }
    }
}

/// The first values of a subquery's rows, hashed for `IN` when they all have one variant
/// whose `=` is equality of grouping bytes (integers and the types stored as integers,
/// text, bytea, uuid, bool).
pub(crate) struct InSet {
    keys: HashSet<Vec<u8>>,
    /// The one variant of every non-NULL value; `None` when mixed or not hashable.
    variant: Option<std::mem::Discriminant<Value>>,
    has_null: bool,
    /// Values of several variants, or of one not hashable: the set says nothing.
    mixed: bool,
}

impl InSet {
    fn hashable(v: &Value) -> bool {
        matches!(
            v,
            Value::Int(_) | Value::Text(_) | Value::Bytes(_) | Value::Uuid(_) | Value::Bool(_)
        )
    }

    fn build(rows: &[Row]) -> InSet {
        let mut set = InSet {
            keys: HashSet::new(),
            variant: None,
            has_null: false,
            mixed: false,
        };
        let mut mixed = false;
        for r in rows {
            match r.first() {
                None | Some(Value::Null) => set.has_null = true,
                Some(v) if Self::hashable(v) && !mixed => {
                    let d = std::mem::discriminant(v);
                    if set.variant.is_some_and(|x| x != d) {
                        mixed = true;
                    }
                    set.variant = Some(d);
                    set.keys.insert(group_key(std::slice::from_ref(v)));
                }
                Some(_) => mixed = true,
            }
        }
        if mixed {
            set.variant = None;
            set.keys.clear();
            set.mixed = true;
        }
        set
    }

    /// The answer of `contains_value`, or `None` when the set cannot tell (`v` of another
    /// variant, or values that are not hashable): then compare row by row.
    fn contains(&self, v: &Value) -> Option<Option<bool>> {
        match self.variant {
            Some(d) if d == std::mem::discriminant(v) => {
                Some(if self.keys.contains(&group_key(std::slice::from_ref(v))) {
                    Some(true)
                } else if self.has_null {
                    None
                } else {
                    Some(false)
                })
            }
            // No rows, or only NULLs: nothing equals v.
            None if !self.mixed => Some(if self.has_null { None } else { Some(false) }),
            _ => None,
        }
    }
}

/// The per-statement cache under the name the session uses.
pub type SubqueryCache = StatementCache;

#[derive(Clone, Copy)]
pub struct ExecCtx<'c, 't> {
    pub txn: &'c TxnCell<'t>,
    pub params: &'c [Value],
    /// Values of the enclosing row's correlated columns while a subquery runs.
    pub outer: &'c [Value],
    pub limits: ExecLimits,
    pub session: &'c dyn SessionInfo,
    pub cache: &'c SubqueryCache,
    pub sequences: &'c Sequences,
    pub seq_session: &'c RefCell<SessionSequences>,
    pub database_id: u32,
    /// The engine's per-table change counters (`pg_stat_user_tables`).
    pub activity: &'c crate::auto_analyze::Activity,
}

impl ExecCtx<'_, '_> {
    fn eval(&self, e: &Expr, row: &[Value]) -> Result<Value> {
        e.eval(row, &self.eval_context())
    }

    /// [`Expr::eval_cow`]: a column or literal borrowed rather than copied.
    fn eval_cow<'v>(&self, e: &'v Expr, row: &'v [Value]) -> Result<std::borrow::Cow<'v, Value>> {
        e.eval_cow(row, &self.eval_context())
    }

    fn eval_context(&self) -> EvalContext<'_> {
        EvalContext {
            params: self.params,
            outer: self.outer,
            subqueries: Some(self),
            // The transaction's timestamp; the cell is only borrowed during KV calls
            // (TxnCell), so try_borrow succeeds, and the clock covers the impossible case.
            now_micros: self.txn.try_borrow().map_or_else(
                |_| crate::volatile::SYSTEM.clock_micros(),
                |t| {
                    t.timestamp_micros()
                        .saturating_sub(UNIX_EPOCH_OFFSET_MICROS)
                },
            ),
            volatile: Some(&crate::volatile::SYSTEM),
        }
    }

    /// Evaluates `e` over `row` (for operators outside this module, such as catalog scans).
    pub(crate) fn eval_row(&self, e: &Expr, row: &[Value]) -> Result<Value> {
        self.eval(e, row)
    }

    fn check_size(&self, n: usize) -> Result<()> {
        if n > self.limits.rows_max {
            return Err(SqlError::new(
                code::PROGRAM_LIMIT_EXCEEDED,
                format!(
                    "statement holds more than {} rows in one operator",
                    self.limits.rows_max
                ),
            )
            .with_hint("Add a WHERE clause or LIMIT, or raise the row limit."));
        }
        Ok(())
    }
}

fn truthy(v: Value) -> Result<bool> {
    Ok(v.as_bool()? == Some(true))
}

impl SubqueryRunner for ExecCtx<'_, '_> {
    fn run_subquery(&self, plan: &Plan, outer: &[Value]) -> Result<Rc<Vec<Row>>> {
        let key = plan as *const Plan as usize;
        if outer.is_empty() {
            if let Some(rows) = self.cache.subqueries.borrow().get(&key) {
                return Ok(rows.clone());
            }
        }
        let child = ExecCtx { outer, ..*self };
        let rows = Rc::new(run(plan, &child)?);
        if outer.is_empty() {
            self.cache.subqueries.borrow_mut().insert(key, rows.clone());
        }
        Ok(rows)
    }

    fn subquery_contains(&self, plan: &Plan, outer: &[Value], v: &Value) -> Result<Option<bool>> {
        let rows = self.run_subquery(plan, outer)?;
        if !outer.is_empty() {
            return Ok(cairn_sql_plan::expr::contains_value(&rows, v));
        }
        let key = plan as *const Plan as usize;
        let set = self
            .cache
            .in_sets
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| Rc::new(InSet::build(&rows)))
            .clone();
        Ok(match set.contains(v) {
            Some(answer) => answer,
            None => cairn_sql_plan::expr::contains_value(&rows, v),
        })
    }

    fn call_host(&self, func: Func, args: &[Value]) -> Result<Value> {
        if let Func::Pg(f) = func {
            return crate::pg_catalog::call(self, f, args);
        }
        if func == Func::LastVal {
            return self
                .seq_session
                .borrow()
                .last
                .map(Value::Int)
                .ok_or_else(|| {
                    SqlError::new("55000", "lastval is not yet defined in this session")
                });
        }
        let name = match args.first() {
            Some(Value::Text(s)) => s.clone(),
            _ => return Err(SqlError::internal("sequence function without a name")),
        };
        let seq = self.sequence(&name)?;
        match func {
            Func::NextVal => {
                let mut txn = self.txn.borrow_mut();
                self.sequences
                    .nextval(&mut **txn, &seq, self.seq_session)
                    .map(Value::Int)
            }
            Func::CurrVal => self
                .seq_session
                .borrow()
                .current
                .get(&seq.id)
                .copied()
                .map(Value::Int)
                .ok_or_else(|| {
                    SqlError::new(
                        "55000",
                        format!(
                            "currval of sequence \"{}\" is not yet defined in this session",
                            seq.name
                        ),
                    )
                }),
            Func::SetVal => {
                let v = match args.get(1) {
                    Some(Value::Int(v)) => *v,
                    _ => return Err(SqlError::internal("setval without a value")),
                };
                let called = !matches!(args.get(2), Some(Value::Bool(false)));
                let mut txn = self.txn.borrow_mut();
                self.sequences
                    .setval(&mut **txn, &seq, v, called, self.seq_session)
                    .map(Value::Int)
            }
            other => Err(SqlError::internal(format!(
                "{other:?} is not a host function"
            ))),
        }
    }
}

impl ExecCtx<'_, '_> {
    /// The sequence a `nextval('name')` argument names (`schema.name` or `name`).
    fn sequence(&self, name: &str) -> Result<SequenceDesc> {
        let unquoted = name.trim_matches('"');
        let (schema, n) = match unquoted.split_once('.') {
            Some((s, n)) => (s.to_string(), n.to_string()),
            None => (
                crate::catalog::PUBLIC_SCHEMA.to_string(),
                unquoted.to_string(),
            ),
        };
        let mut txn = self.txn.borrow_mut();
        let found = match crate::catalog::lookup_id(&mut **txn, self.database_id, &schema, &n)? {
            Some(id) => crate::catalog::read_descriptor(&mut **txn, id)?,
            None => None,
        };
        match found {
            Some(crate::catalog::Descriptor::Sequence(s)) => Ok(s),
            _ => Err(SqlError::undefined_table(&n)),
        }
    }
}

/// Runs a query plan to completion.
pub fn run(plan: &Plan, cx: &ExecCtx) -> Result<Vec<Row>> {
    // Streaming operators are recorded by `each`, which `run_operator` calls for them.
    if !cx.cache.profiling_on() || streams(plan) {
        return run_operator(plan, cx);
    }
    let start = std::time::Instant::now();
    let rows = run_operator(plan, cx)?;
    cx.cache
        .record(plan, rows.len() as u64, start.elapsed().as_nanos());
    Ok(rows)
}

/// The operators `each` streams (the others it runs to completion through `run`). The same
/// list is `run_operator`'s streaming arm, spelled out there so that its match stays
/// exhaustive.
fn streams(plan: &Plan) -> bool {
    matches!(
        plan,
        Plan::Scan { .. }
            | Plan::Filter { .. }
            | Plan::Project { .. }
            | Plan::Join { .. }
            | Plan::HashJoin { .. }
            | Plan::IndexJoin { .. }
            | Plan::LateralJoin { .. }
    )
}

fn run_operator(plan: &Plan, cx: &ExecCtx) -> Result<Vec<Row>> {
    match plan {
        Plan::Unit => Ok(vec![Vec::new()]),
        Plan::Values { rows, .. } => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let mut row = Vec::with_capacity(r.len());
                for e in r {
                    row.push(cx.eval(e, &[])?);
                }
                out.push(row);
            }
            Ok(out)
        }
        Plan::Rows { rows, .. } => Ok(rows.clone()),
        Plan::Materialize { id, input } => {
            let done = cx.cache.materialized.borrow().get(id).cloned();
            let rows = match done {
                Some(rows) => rows,
                None => {
                    let rows = Rc::new(run(input, cx)?);
                    cx.cache.materialized.borrow_mut().insert(*id, rows.clone());
                    rows
                }
            };
            Ok(rows.as_ref().clone())
        }
        Plan::Scan { .. }
        | Plan::Filter { .. }
        | Plan::Project { .. }
        | Plan::Join { .. }
        | Plan::HashJoin { .. }
        | Plan::IndexJoin { .. }
        | Plan::LateralJoin { .. } => {
            let mut out = Vec::new();
            each(plan, cx, &mut |r| {
                out.push(r);
                cx.check_size(out.len())
            })?;
            Ok(out)
        }
        Plan::Rename { input, .. } => run(input, cx),
        Plan::LockRows {
            input,
            table,
            key_columns,
            strength,
            wait,
            recheck_filter,
            recheck_exprs,
            limit,
            offset,
        } => {
            lock_point_first(cx, table, input, (*strength, *wait))?;
            let rows = run(input, cx)?;
            let wanted = match (
                eval_count(limit, cx, "LIMIT")?,
                eval_count(offset, cx, "OFFSET")?,
            ) {
                (Some(l), o) => Some(l.saturating_add(o.unwrap_or(0))),
                (None, _) => None,
            };
            let read_committed = cx.txn.borrow().isolation() == IsolationLevel::ReadCommitted;
            let mut out = Vec::new();
            for row in rows {
                if wanted.is_some_and(|w| out.len() >= w) {
                    break;
                }
                let key = index::primary_key_from(table, key_columns.iter().map(|&i| &row[i]));
                let locked = lock_newest(
                    cx,
                    table,
                    &key,
                    (*strength, *wait),
                    recheck_filter.as_ref().filter(|_| read_committed),
                    None,
                )?;
                // Skipped (SKIP LOCKED), deleted since it was read, or no longer matching.
                let Some(stored) = locked else {
                    continue;
                };
                if !read_committed {
                    // A newer version would have been a 40001: the row read is the row locked.
                    out.push(row);
                    continue;
                }
                let mut fresh = Vec::with_capacity(recheck_exprs.len());
                for e in recheck_exprs {
                    fresh.push(cx.eval(e, &stored)?);
                }
                out.push(fresh);
            }
            Ok(out)
        }
        Plan::ProjectSet {
            input,
            expand,
            ordinality,
            ..
        } => {
            let rows = run(input, cx)?;
            project_set(rows, expand, *ordinality, cx)
        }
        Plan::Window { input, calls, .. } => {
            let rows = run(input, cx)?;
            window::window(rows, calls, cx)
        }
        Plan::RecursiveUnion {
            id,
            all,
            base,
            recursive,
            ..
        } => recursive_union(*id, *all, base, recursive, cx),
        Plan::WorkTable { id, .. } => match cx.cache.work_tables.borrow().get(id) {
            Some(rows) => Ok(rows.as_ref().clone()),
            None => Err(SqlError::internal(format!(
                "work table {id} read outside its recursive union"
            ))),
        },
        Plan::Aggregate {
            input,
            group_by,
            aggs,
            grouping_sets,
            ..
        } => aggregate(input, group_by, grouping_sets, aggs, cx),
        Plan::Sort { input, keys } => {
            let mut rows = run(input, cx)?;
            rows.sort_by(|a, b| {
                for k in keys {
                    let ord = order_values(&a[k.column], &b[k.column], k.descending, k.nulls_first);
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            });
            Ok(rows)
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            let limit = eval_count(limit, cx, "LIMIT")?;
            let offset = eval_count(offset, cx, "OFFSET")?.unwrap_or(0);
            // ORDER BY ... LIMIT: only the first offset + limit rows are sorted (through
            // the projection that drops the sort columns, which maps rows one to one).
            let (projection, sort) = match input.as_ref() {
                Plan::Project {
                    input: inner,
                    exprs,
                    ..
                } => (Some(exprs), inner.as_ref()),
                other => (None, other),
            };
            let rows = match (sort, limit) {
                (
                    Plan::Sort {
                        input: unsorted,
                        keys,
                    },
                    Some(l),
                ) => {
                    let start = std::time::Instant::now();
                    let mut rows = top_n(unsorted, keys, offset.saturating_add(l), cx)?;
                    cx.cache
                        .record(sort, rows.len() as u64, start.elapsed().as_nanos());
                    if let Some(exprs) = projection {
                        rows = rows
                            .iter()
                            .map(|r| exprs.iter().map(|e| cx.eval(e, r)).collect())
                            .collect::<Result<Vec<Row>>>()?;
                        cx.cache
                            .record(input, rows.len() as u64, start.elapsed().as_nanos());
                    }
                    rows
                }
                _ => run(input, cx)?,
            };
            Ok(rows
                .into_iter()
                .skip(offset)
                .take(limit.unwrap_or(usize::MAX))
                .collect())
        }
        Plan::Distinct { input } => {
            let rows = run(input, cx)?;
            let mut seen = HashSet::new();
            Ok(rows
                .into_iter()
                .filter(|r| seen.insert(group_key(r)))
                .collect())
        }
        Plan::SetOp {
            kind,
            all,
            left,
            right,
            ..
        } => {
            let l = run(left, cx)?;
            let r = run(right, cx)?;
            Ok(set_op(*kind, *all, l, r))
        }
    }
}

/// The order of two values under one ORDER BY key.
/// The value of a LIMIT or OFFSET expression: `None` for none or NULL; negative values are
/// PostgreSQL's 2201W / 2201X.
/// The first `n` rows of `input` in `keys` order, the same rows a stable sort of all of them
/// would put first (ties keep input order): rows stream into a buffer that is cut back to
/// the best `n` whenever it holds `2n` (at least 1,024), so memory stays O(n).
fn top_n(input: &Plan, keys: &[SortKey], n: usize, cx: &ExecCtx) -> Result<Vec<Row>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let cmp = |a: &(usize, Row), b: &(usize, Row)| {
        for k in keys {
            let ord = order_values(&a.1[k.column], &b.1[k.column], k.descending, k.nulls_first);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.0.cmp(&b.0)
    };
    let cap = n.saturating_mul(2).max(1024);
    let mut kept: Vec<(usize, Row)> = Vec::new();
    let mut seq = 0;
    each(input, cx, &mut |row| {
        kept.push((seq, row));
        seq += 1;
        if kept.len() >= cap {
            kept.select_nth_unstable_by(n - 1, cmp);
            kept.truncate(n);
        }
        cx.check_size(kept.len())
    })?;
    kept.sort_by(cmp);
    kept.truncate(n);
    Ok(kept.into_iter().map(|(_, r)| r).collect())
}

fn eval_count(e: &Option<Expr>, cx: &ExecCtx, what: &str) -> Result<Option<usize>> {
    let Some(e) = e else {
        return Ok(None);
    };
    match cx.eval(e, &[])? {
        Value::Null => Ok(None),
        Value::Int(n) if n < 0 => Err(SqlError::new(
            if what == "LIMIT" {
                code::INVALID_ROW_COUNT_IN_LIMIT
            } else {
                code::INVALID_ROW_COUNT_IN_OFFSET
            },
            format!("{what} must not be negative"),
        )),
        Value::Int(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        other => Err(SqlError::internal(format!("{what} value {other:?}"))),
    }
}

fn order_values(x: &Value, y: &Value, descending: bool, nulls_first: bool) -> Ordering {
    match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        _ => {
            let o = compare(x, y).unwrap_or(Ordering::Equal);
            if descending {
                o.reverse()
            } else {
                o
            }
        }
    }
}

/// Bytes that are equal exactly when two rows are equal for grouping purposes (NULLs equal).
fn group_key(row: &[Value]) -> Vec<u8> {
    let mut k = Vec::new();
    for v in row {
        push_group_key(&mut k, v);
    }
    k
}

/// Appends `v`'s grouping bytes to `k` (a row's grouping key is its values' keys in order).
fn push_group_key(k: &mut Vec<u8>, v: &Value) {
    match v {
        // -0.0 and 0.0 are one group, as every NaN is.
        Value::Float(f) if *f == 0.0 => keys::encode_value(k, &Value::Float(0.0), false),
        Value::Float(f) if f.is_nan() => keys::encode_value(k, &Value::Float(f64::NAN), false),
        v => keys::encode_value(k, v, false),
    }
}

/// Runs `plan`, handing each output row to `f`, in order. Scans, filters, projections and
/// the left (probe) side of joins stream: no operator between a scan and `f` holds all
/// rows. Other operators (and a join's right side) run to completion first.
fn each(plan: &Plan, cx: &ExecCtx, f: &mut dyn FnMut(Row) -> Result<()>) -> Result<()> {
    if !cx.cache.profiling_on() || !streams(plan) {
        return each_operator(plan, cx, f);
    }
    let start = std::time::Instant::now();
    let (mut rows, mut downstream) = (0u64, std::time::Duration::ZERO);
    each_operator(plan, cx, &mut |r| {
        rows += 1;
        let t = std::time::Instant::now();
        let result = f(r);
        downstream += t.elapsed();
        result
    })?;
    let own = start.elapsed().saturating_sub(downstream);
    cx.cache.record(plan, rows, own.as_nanos());
    Ok(())
}

fn each_operator(plan: &Plan, cx: &ExecCtx, f: &mut dyn FnMut(Row) -> Result<()>) -> Result<()> {
    match plan {
        Plan::Scan {
            table,
            access,
            filter,
            needed,
            ..
        } => scan_each(
            table,
            access.as_ref(),
            filter.as_ref(),
            needed.as_deref(),
            &[],
            cx,
            &mut |row| f(row).map(|()| true),
        ),
        Plan::Filter { input, predicate } => each(input, cx, &mut |r| {
            if truthy(cx.eval(predicate, &r)?)? {
                f(r)
            } else {
                Ok(())
            }
        }),
        Plan::Project { input, exprs, .. } => each(input, cx, &mut |r| {
            let mut row = Vec::with_capacity(exprs.len());
            for e in exprs {
                row.push(cx.eval(e, &r)?);
            }
            f(row)
        }),
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            let r = run(right, cx)?;
            join_each(left, r, right.width(), *kind, on.as_ref(), None, cx, f)
        }
        // The same rows, in the same order, as the nested loop with the key equalities in
        // its ON (the optimiser only picks key types whose `=` is equality of grouping
        // bytes).
        Plan::HashJoin {
            left,
            right,
            kind,
            left_keys,
            right_keys,
            residual,
        } => {
            let r = run(right, cx)?;
            let mut table = JoinTable::new();
            for (i, row) in r.iter().enumerate() {
                if let Some(k) = join_key(right_keys, row, cx)? {
                    table.entry(k).or_default().push(i);
                }
            }
            let probe = Some((left_keys.as_slice(), &table));
            join_each(
                left,
                r,
                right.width(),
                *kind,
                residual.as_ref(),
                probe,
                cx,
                f,
            )
        }
        Plan::IndexJoin {
            left,
            table,
            access,
            filter,
            kind,
            residual,
            needed,
            ..
        } => each(left, cx, &mut |lr| {
            // Rows stream from the index; a semi or anti join stops reading at the first
            // match, which is all it needs to know.
            let mut matched = false;
            scan_each(
                table,
                Some(access),
                filter.as_ref(),
                needed.as_deref(),
                &lr,
                cx,
                &mut |rr| {
                    let mut joined = lr.clone();
                    joined.extend(rr);
                    let ok = match residual {
                        Some(p) => truthy(cx.eval(p, &joined)?)?,
                        None => true,
                    };
                    if ok {
                        matched = true;
                        if !kind.emits_right() {
                            return Ok(false);
                        }
                        f(joined)?;
                    }
                    Ok(true)
                },
            )?;
            finish_left_row(*kind, matched, lr, table.columns.len(), f)
        }),
        Plan::LateralJoin {
            left,
            right,
            correlation,
            kind,
            on,
        } => {
            let rw = right.width();
            each(left, cx, &mut |lr| {
                let mut outer = Vec::with_capacity(correlation.len());
                for c in correlation {
                    outer.push(cx.eval(c, &lr)?);
                }
                let rows = cx.run_subquery(right, &outer)?;
                let mut matched = false;
                for rr in rows.iter() {
                    let mut joined = lr.clone();
                    joined.extend(rr.iter().cloned());
                    let keep = match on {
                        Some(p) => truthy(cx.eval(p, &joined)?)?,
                        None => true,
                    };
                    if keep {
                        matched = true;
                        f(joined)?;
                    }
                }
                finish_left_row(*kind, matched, lr, rw, f)
            })
        }
        other => {
            for r in run(other, cx)? {
                f(r)?;
            }
            Ok(())
        }
    }
}

/// Reads the rows of `table` in `access`'s key range (whose expressions are evaluated over
/// `key_row`: empty for a plain scan, the outer row for an index join) that pass `filter`,
/// handing each to `f` as it is read, until `f` returns `false`. The columns `needed` marks
/// `false` are left NULL (`Plan::Scan::needed`).
fn scan_each(
    table: &TableDef,
    access: Option<&cairn_sql_plan::plan::IndexRange>,
    filter: Option<&Expr>,
    needed: Option<&[bool]>,
    key_row: &[Value],
    cx: &ExecCtx,
    f: &mut dyn FnMut(Row) -> Result<bool>,
) -> Result<()> {
    if crate::pg_catalog::is_catalog_table(table.id) {
        for row in crate::pg_catalog::scan(table, filter, cx)? {
            if !f(row)? {
                break;
            }
        }
        return Ok(());
    }
    let index = match access {
        None => &table.primary,
        Some(a) if a.index_id == PRIMARY_INDEX_ID => &table.primary,
        Some(a) => table
            .indexes
            .iter()
            .find(|i| i.id == a.index_id)
            .ok_or_else(|| {
                SqlError::internal(format!(
                    "index {} of \"{}\" is gone",
                    a.index_id, table.name
                ))
            })?,
    };
    let prefix = keys::index_prefix(table.id, index.id);
    let (mut start, end) = match access {
        None => (prefix.clone(), keys::prefix_end(&prefix)),
        Some(a) => {
            let mut p = prefix.clone();
            if !encode_eq_prefix(&mut p, index, &a.range, key_row, cx)? {
                return Ok(());
            }
            let next_desc = index
                .columns
                .get(a.range.eq_prefix.len())
                .is_some_and(|c| c.descending);
            let mut start = p.clone();
            let mut end = keys::prefix_end(&p);
            if !next_desc {
                if let Some((e, inclusive)) = &a.range.lower {
                    let v = cx.eval(e, key_row)?;
                    if v.is_null() {
                        return Ok(());
                    }
                    let mut k = p.clone();
                    keys::encode_value(&mut k, &v, false);
                    start = if *inclusive { k } else { keys::prefix_end(&k) };
                }
                if let Some((e, inclusive)) = &a.range.upper {
                    let v = cx.eval(e, key_row)?;
                    if v.is_null() {
                        return Ok(());
                    }
                    let mut k = p.clone();
                    keys::encode_value(&mut k, &v, false);
                    end = if *inclusive { keys::prefix_end(&k) } else { k };
                }
            }
            (start, end)
        }
    };
    let secondary = index.id != PRIMARY_INDEX_ID;
    if !secondary && access.is_some_and(|a| is_whole_key(index, &a.range)) {
        // A point read: `start` is the only row key in `[start, end)` (module docs).
        let found = cx.txn.borrow_mut().get(&start)?;
        if let Some(v) = found {
            let row = decode_row_needed(table, &v, needed)?;
            let keep = match filter {
                Some(f) => truthy(cx.eval(f, &row)?)?,
                None => true,
            };
            if keep {
                f(row)?;
            }
        }
        return Ok(());
    }
    // A primary-index scan whose filter reads fewer columns than the scan needs decodes the
    // filter's columns first and the others only for the rows the filter keeps (q6 keeps 2%
    // of lineitem): `(filter, its columns, the other needed columns)`.
    let split = match (secondary, filter, needed) {
        (false, Some(pred), Some(n)) if n.len() == table.columns.len() => {
            let mut first = vec![false; n.len()];
            pred.mark_columns(&mut first);
            let rest: Vec<bool> = n.iter().zip(&first).map(|(&n, &f)| n && !f).collect();
            let first_within = first.iter().zip(n).all(|(&f, &n)| !f || n);
            (first_within && rest.contains(&true)).then_some((pred, first, rest))
        }
        _ => None,
    };
    // The split path's row for the next key: all NULL, kept from a row the filter rejected
    // so that rejected rows cost no allocation.
    let mut spare: Option<Row> = None;
    while start < end {
        let batch = cx
            .txn
            .borrow_mut()
            .scan(&start, &end, SCAN_BATCH_ROWS, false)?;
        let n = batch.len();
        for (k, v) in batch {
            let kept = if let Some((pred, first, rest)) = &split {
                let mut row = spare.take().unwrap_or_else(|| crate::row::null_row(table));
                crate::row::decode_into(table, &v, Some(first), &mut row)?;
                if truthy(cx.eval(pred, &row)?)? {
                    crate::row::decode_into(table, &v, Some(rest), &mut row)?;
                    Some(row)
                } else {
                    // Only `first`'s positions were written: NULL again, the row is spare.
                    for (slot, &written) in row.iter_mut().zip(first) {
                        if written {
                            *slot = Value::Null;
                        }
                    }
                    spare = Some(row);
                    None
                }
            } else {
                let row = if secondary {
                    match index::fetch_by_entry_needed(
                        &mut **cx.txn.borrow_mut(),
                        table,
                        &v,
                        needed,
                    )? {
                        Some(r) => r,
                        None => {
                            return Err(SqlError::new(
                                code::DATA_CORRUPTED,
                                format!(
                                    "index \"{}\" points at a missing row of \"{}\"",
                                    index.name, table.name
                                ),
                            ))
                        }
                    }
                } else {
                    decode_row_needed(table, &v, needed)?
                };
                let keep = match filter {
                    Some(f) => truthy(cx.eval(f, &row)?)?,
                    None => true,
                };
                keep.then_some(row)
            };
            if let Some(row) = kept {
                if !f(row)? {
                    return Ok(());
                }
            }
            start = k;
            start.push(0);
        }
        if n < SCAN_BATCH_ROWS {
            break;
        }
    }
    Ok(())
}

/// Appends to `key` the values of `range`'s equality prefix (over `key_row`), encoded as
/// `index` orders its columns; false (key unfinished) when one is NULL: no key matches.
fn encode_eq_prefix(
    key: &mut Vec<u8>,
    index: &IndexDef,
    range: &KeyRange,
    key_row: &[Value],
    cx: &ExecCtx,
) -> Result<bool> {
    for (i, e) in range.eq_prefix.iter().enumerate() {
        let v = cx.eval(e, key_row)?;
        if v.is_null() {
            return Ok(false);
        }
        let desc = index.columns.get(i).is_some_and(|c| c.descending);
        keys::encode_value(key, &v, desc);
    }
    Ok(true)
}

/// Whether `range` fixes every column of `index`: at most one row on the primary index.
fn is_whole_key(index: &IndexDef, range: &KeyRange) -> bool {
    range.eq_prefix.len() == index.columns.len() && range.lower.is_none() && range.upper.is_none()
}

/// The primary key of the one row a statement's `input` reads, when `input` is a point read
/// of `table` by its whole primary key (`WHERE id = $1`, under projections and filters);
/// `None` otherwise, or when a key value is NULL.
fn point_read_key(table: &TableDef, input: &Plan, cx: &ExecCtx) -> Result<Option<Vec<u8>>> {
    match input {
        Plan::Project { input, .. }
        | Plan::Filter { input, .. }
        | Plan::Rename { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. } => point_read_key(table, input, cx),
        Plan::Scan {
            table: scanned,
            access: Some(a),
            ..
        } if scanned.id == table.id
            && a.index_id == PRIMARY_INDEX_ID
            && is_whole_key(&table.primary, &a.range) =>
        {
            let mut key = keys::index_prefix(table.id, PRIMARY_INDEX_ID);
            let complete = encode_eq_prefix(&mut key, &table.primary, &a.range, &[], cx)?;
            Ok(complete.then_some(key))
        }
        _ => Ok(None),
    }
}

/// UPDATE, DELETE and `SELECT ... FOR UPDATE / FOR SHARE` of one row named by its whole
/// primary key, at SNAPSHOT or SERIALIZABLE: locks the row before the statement reads it.
/// A transaction that waited behind another writer of the row then reads the row after
/// that writer's commit; at SERIALIZABLE its snapshot moves past that commit when nothing
/// else it read changed (`KvTxn::lock_row`), where reading first and locking second would
/// have been a 40001 (the row read would be stale). READ COMMITTED locks and re-reads each
/// row after the read anyway (`lock_newest`).
fn lock_point_first(
    cx: &ExecCtx,
    table: &TableDef,
    input: &Plan,
    lock: (RowLockStrength, RowLockWait),
) -> Result<()> {
    if cx.txn.borrow().isolation() == IsolationLevel::ReadCommitted {
        return Ok(());
    }
    if let Some(key) = point_read_key(table, input, cx)? {
        cx.txn.borrow_mut().lock_row(&key, lock.0, lock.1)?;
    }
    Ok(())
}

#[derive(Clone)]
enum AggState {
    Count(i64),
    Sum(Option<Value>),
    /// Running sum (in the result type: float8, numeric or interval) and count.
    Avg(Option<Value>, i64),
    MinMax(Option<Value>),
    Bool(Option<bool>),
    Str(Option<String>),
    /// array_agg's values (`None` until the first row: no rows give NULL).
    Array(Option<Vec<Value>>),
    /// sum or avg of numeric values while the running sum is exactly `sum × 10^-scale` in
    /// an i128 (no numeric allocated per row); `n` values so far. The first value or sum
    /// that does not fit turns it into `Sum` / `Avg` (see [`small_sum_step`]).
    SmallSum {
        sum: i128,
        scale: u32,
        n: i64,
        avg: bool,
    },
}

/// Steps a sum or avg with numeric `x` in the exact i128 form; false (and the state turned
/// into the general `Sum` / `Avg` when it was `SmallSum`) when `x` or the new sum does not
/// fit. The result is the general path's: numeric addition is exact and its scale is the
/// larger of the operands'.
fn small_sum_step(st: &mut AggState, x: &Numeric) -> bool {
    fn add(sum: i128, scale: u32, x: (i128, u32)) -> Option<(i128, u32)> {
        let (xv, xs) = x;
        let s = scale.max(xs);
        let lift = |v: i128, from: u32| v.checked_mul(10i128.checked_pow(s - from)?);
        Some((lift(sum, scale)?.checked_add(lift(xv, xs)?)?, s))
    }
    let small = x.to_i128_scaled();
    match st {
        AggState::Sum(None) | AggState::Avg(None, 0) => {
            let Some((sum, scale)) = small else {
                return false;
            };
            let avg = matches!(st, AggState::Avg(..));
            *st = AggState::SmallSum {
                sum,
                scale,
                n: 1,
                avg,
            };
            true
        }
        AggState::SmallSum { sum, scale, n, avg } => {
            if let Some((s2, sc2)) = small.and_then(|x| add(*sum, *scale, x)) {
                (*sum, *scale, *n) = (s2, sc2, *n + 1);
                return true;
            }
            let acc = Some(Value::numeric(Numeric::from_i128(*sum, *scale)));
            *st = if *avg {
                AggState::Avg(acc, *n)
            } else {
                AggState::Sum(acc)
            };
            false
        }
        _ => false,
    }
}

fn agg_init(a: &AggCall) -> AggState {
    match a.func {
        AggFunc::CountStar | AggFunc::Count | AggFunc::Grouping => AggState::Count(0),
        AggFunc::Sum => AggState::Sum(None),
        AggFunc::Avg => AggState::Avg(None, 0),
        AggFunc::Min | AggFunc::Max => AggState::MinMax(None),
        AggFunc::BoolAnd | AggFunc::BoolOr => AggState::Bool(None),
        AggFunc::StringAgg => AggState::Str(None),
        AggFunc::ArrayAgg => AggState::Array(None),
    }
}

/// Steps aggregate `a`'s state with value `v`; borrowed, it is copied only where the state
/// keeps or combines an owned value (a numeric sum adds a borrowed column in place).
fn agg_step(
    a: &AggCall,
    st: &mut AggState,
    v: std::borrow::Cow<'_, Value>,
    extra: Option<Value>,
) -> Result<()> {
    if a.func == AggFunc::CountStar {
        if let AggState::Count(n) = st {
            *n += 1;
        }
        return Ok(());
    }
    if let AggState::Array(items) = st {
        // array_agg keeps NULLs.
        items.get_or_insert_with(Vec::new).push(v.into_owned());
        return Ok(());
    }
    if v.is_null() {
        return Ok(());
    }
    if let Value::Numeric(x) = &*v {
        if matches!(a.func, AggFunc::Sum | AggFunc::Avg) && small_sum_step(st, x) {
            return Ok(());
        }
    }
    let v = v.into_owned();
    match st {
        AggState::Count(n) => *n += 1,
        AggState::Sum(acc) => {
            *acc = Some(match acc.take() {
                None => match v {
                    Value::Int(i) => Value::Int(i),
                    other => other,
                },
                Some(prev) => cairn_sql_plan::expr::binary(
                    cairn_sql_plan::expr::BinaryOp::Add,
                    prev,
                    v,
                    &a.ty,
                )?,
            })
        }
        AggState::Avg(sum, n) => {
            *sum = Some(match sum.take() {
                None => v,
                Some(prev) => cairn_sql_plan::expr::binary(
                    cairn_sql_plan::expr::BinaryOp::Add,
                    prev,
                    v,
                    &a.ty,
                )?,
            });
            *n += 1;
        }
        AggState::MinMax(cur) => {
            let replace = match cur {
                None => true,
                Some(c) => {
                    let o = compare(&v, c).unwrap_or(Ordering::Equal);
                    if a.func == AggFunc::Min {
                        o == Ordering::Less
                    } else {
                        o == Ordering::Greater
                    }
                }
            };
            if replace {
                *cur = Some(v);
            }
        }
        AggState::Bool(cur) => {
            let b = v.as_bool()?.unwrap_or(false);
            *cur = Some(match (*cur, a.func) {
                (None, _) => b,
                (Some(c), AggFunc::BoolAnd) => c && b,
                (Some(c), _) => c || b,
            });
        }
        AggState::Str(cur) => {
            let Value::Text(s) = v else { return Ok(()) };
            match cur {
                None => *cur = Some(s),
                Some(c) => {
                    if let Some(Value::Text(d)) = extra {
                        c.push_str(&d);
                    }
                    c.push_str(&s);
                }
            }
        }
        AggState::Array(_) => {}
        AggState::SmallSum { .. } => {
            return Err(SqlError::internal(format!(
                "{:?} over {v:?} after numeric values",
                a.func
            )))
        }
    }
    Ok(())
}

fn agg_final(st: AggState) -> Result<Value> {
    Ok(match st {
        AggState::Count(n) => Value::Int(n),
        AggState::Sum(v) | AggState::MinMax(v) => v.unwrap_or(Value::Null),
        AggState::Avg(None, _) | AggState::Avg(_, 0) => Value::Null,
        // avg is sum / count with the division rules of the sum's type (numeric_div's scale,
        // interval_div's cascading).
        AggState::Avg(Some(s), n) => match s {
            Value::Float(f) => Value::Float(f / n as f64),
            Value::Numeric(x) => Value::numeric(x.div(&Numeric::from_i64(n))?),
            Value::Interval(iv) => Value::Interval(iv.div(n as f64)?),
            other => return Err(SqlError::internal(format!("avg over {other:?}"))),
        },
        AggState::Bool(b) => b.map_or(Value::Null, Value::Bool),
        AggState::Str(s) => s.map_or(Value::Null, Value::Text),
        AggState::Array(items) => items.map_or(Value::Null, Value::Array),
        AggState::SmallSum {
            sum, scale, n, avg, ..
        } => {
            let total = Numeric::from_i128(sum, scale);
            Value::numeric(if avg {
                total.div(&Numeric::from_i64(n))?
            } else {
                total
            })
        }
    })
}

/// `Plan::RecursiveUnion`: the base rows, then each step's new rows run through
/// `recursive` until a step adds none. Without `all`, rows already produced are dropped, so
/// a cycle in the data ends the loop; with it, a query that never stops producing rows ends
/// at the per-operator row limit (54000).
fn recursive_union(
    id: usize,
    all: bool,
    base: &Plan,
    recursive: &Plan,
    cx: &ExecCtx,
) -> Result<Vec<Row>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut step = Vec::new();
    let mut keep = |rows: Vec<Row>, out: &mut Vec<Row>, step: &mut Vec<Row>| -> Result<()> {
        for r in rows {
            if all || seen.insert(group_key(&r)) {
                step.push(r.clone());
                out.push(r);
            }
        }
        cx.check_size(out.len())
    };
    keep(run(base, cx)?, &mut out, &mut step)?;
    while !step.is_empty() {
        cx.cache
            .work_tables
            .borrow_mut()
            .insert(id, Rc::new(std::mem::take(&mut step)));
        let produced = run(recursive, cx);
        let produced = match produced {
            Ok(rows) => rows,
            Err(e) => {
                cx.cache.work_tables.borrow_mut().remove(&id);
                return Err(e);
            }
        };
        keep(produced, &mut out, &mut step)?;
    }
    cx.cache.work_tables.borrow_mut().remove(&id);
    Ok(out)
}

/// `Plan::ProjectSet`: expands the array columns at `expand` of each row in lockstep. The
/// arrays are moved out of the row first, so each output row copies only the other columns
/// (copying the row with its arrays made `generate_series(1, n)` cost n² value copies).
fn project_set(
    rows: Vec<Row>,
    expand: &[usize],
    ordinality: bool,
    cx: &ExecCtx,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for mut row in rows {
        let mut arrays: Vec<std::vec::IntoIter<Value>> = Vec::with_capacity(expand.len());
        let mut len = 0;
        for &i in expand {
            let items = match row.get_mut(i).map(|v| std::mem::replace(v, Value::Null)) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            len = len.max(items.len());
            arrays.push(items.into_iter());
        }
        for n in 0..len {
            let mut r = row.clone();
            for (&i, items) in expand.iter().zip(arrays.iter_mut()) {
                if let Some(slot) = r.get_mut(i) {
                    *slot = items.next().unwrap_or(Value::Null);
                }
            }
            if ordinality {
                r.push(Value::Int(n as i64 + 1));
            }
            out.push(r);
        }
        cx.check_size(out.len())?;
    }
    Ok(out)
}

/// Groups the rows of `input` as they stream in (they are not held).
fn aggregate(
    input: &Plan,
    group_by: &[Expr],
    grouping_sets: &[Vec<usize>],
    aggs: &[AggCall],
    cx: &ExecCtx,
) -> Result<Vec<Row>> {
    struct Group {
        /// Index in `sets`.
        set: usize,
        key: Row,
        states: Vec<AggState>,
        seen: Vec<HashSet<Vec<u8>>>,
        /// Inputs of aggregates with their own ORDER BY: `(sort keys, value, extra)`, fed to
        /// the aggregate once sorted.
        ordered: Vec<Vec<(Row, Value, Option<Value>)>>,
    }
    // Without grouping sets, one set holding every group-by position.
    let all_positions: Vec<Vec<usize>>;
    let sets: &[Vec<usize>] = if grouping_sets.is_empty() {
        all_positions = vec![(0..group_by.len()).collect()];
        &all_positions
    } else {
        grouping_sets
    };
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut group_indexes = Vec::with_capacity(sets.len());
    let new_group = |si: usize, key: Row| Group {
        set: si,
        key,
        states: aggs.iter().map(agg_init).collect(),
        seen: aggs.iter().map(|_| Default::default()).collect(),
        ordered: aggs.iter().map(|_| Vec::new()).collect(),
    };
    // No GROUP BY: every row feeds the one group, no key to compute or look up.
    if group_by.is_empty() && sets.len() == 1 {
        let mut g = new_group(0, Vec::new());
        each(input, cx, &mut |row| feed_group(&mut g, aggs, &row, cx))?;
        groups.push(g);
    } else {
        let mut values: Row = Vec::with_capacity(group_by.len());
        let mut k = Vec::new();
        each(input, cx, &mut |row| {
            let r = &row;
            values.clear();
            for g in group_by {
                values.push(cx.eval(g, r)?);
            }
            group_indexes.clear();
            for (si, set) in sets.iter().enumerate() {
                // The group-by values of this grouping set (NULL for the positions it
                // leaves out).
                let in_set = |i: usize| sets.len() == 1 || set.contains(&i);
                let set_values = || {
                    values
                        .iter()
                        .enumerate()
                        .map(move |(i, v)| if in_set(i) { v } else { &Value::Null })
                };
                k.clear();
                for v in set_values() {
                    push_group_key(&mut k, v);
                }
                if sets.len() > 1 {
                    k.extend_from_slice(&(si as u64).to_be_bytes());
                }
                let gi = match index.get(k.as_slice()) {
                    Some(i) => *i,
                    None => {
                        groups.push(new_group(si, set_values().cloned().collect()));
                        index.insert(k.clone(), groups.len() - 1);
                        cx.check_size(groups.len())?;
                        groups.len() - 1
                    }
                };
                group_indexes.push(gi);
            }
            for &gi in &group_indexes {
                feed_group(&mut groups[gi], aggs, r, cx)?;
            }
            Ok(())
        })?;
    }
    /// Steps group `g`'s aggregates with input row `r`.
    fn feed_group(g: &mut Group, aggs: &[AggCall], r: &[Value], cx: &ExecCtx) -> Result<()> {
        for (ai, a) in aggs.iter().enumerate() {
            if let Some(f) = &a.filter {
                if !truthy(cx.eval(f, r)?)? {
                    continue;
                }
            }
            let v = match &a.arg {
                Some(e) => cx.eval_cow(e, r)?,
                None => std::borrow::Cow::Owned(Value::Null),
            };
            if a.distinct {
                if v.is_null() {
                    continue;
                }
                if !g.seen[ai].insert(group_key(std::slice::from_ref(&*v))) {
                    continue;
                }
            }
            let extra = match &a.extra {
                Some(e) => Some(cx.eval(e, r)?),
                None => None,
            };
            if a.order_by.is_empty() {
                agg_step(a, &mut g.states[ai], v, extra)?;
            } else {
                let mut keys = Vec::with_capacity(a.order_by.len());
                for o in &a.order_by {
                    keys.push(cx.eval(&o.expr, r)?);
                }
                g.ordered[ai].push((keys, v.into_owned(), extra));
            }
        }
        Ok(())
    }
    for g in groups.iter_mut() {
        for (ai, a) in aggs.iter().enumerate() {
            let Some(mut pending) = g.ordered.get_mut(ai).map(std::mem::take) else {
                continue;
            };
            pending.sort_by(|x, y| {
                for (k, o) in a.order_by.iter().enumerate() {
                    let ord = order_values(&x.0[k], &y.0[k], o.descending, o.nulls_first);
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            });
            for (_, v, extra) in pending {
                agg_step(a, &mut g.states[ai], std::borrow::Cow::Owned(v), extra)?;
            }
        }
    }
    // An empty grouping set (no GROUP BY, or `()` in GROUPING SETS) has its one row even
    // over no input.
    for (si, set) in sets.iter().enumerate() {
        if set.is_empty() && !groups.iter().any(|g| g.set == si) {
            groups.push(Group {
                set: si,
                key: vec![Value::Null; group_by.len()],
                states: aggs.iter().map(agg_init).collect(),
                seen: Vec::new(),
                ordered: Vec::new(),
            });
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let mut row = g.key;
            for (a, st) in aggs.iter().zip(g.states) {
                row.push(match a.func {
                    AggFunc::Grouping => grouping_bits(a, &sets[g.set])?,
                    _ => agg_final(st)?,
                });
            }
            Ok(row)
        })
        .collect()
}

/// `GROUPING(...)`'s value in a group of grouping set `set` (see `AggFunc::Grouping`).
fn grouping_bits(a: &AggCall, set: &[usize]) -> Result<Value> {
    let Some(Expr::Literal {
        value: Value::Array(positions),
        ..
    }) = &a.arg
    else {
        return Err(SqlError::internal("GROUPING without its positions"));
    };
    let mut bits = 0i64;
    for p in positions {
        let Value::Int(p) = p else {
            return Err(SqlError::internal("GROUPING position"));
        };
        let absent = usize::try_from(*p).map_or(true, |p| !set.contains(&p));
        bits = (bits << 1) | i64::from(absent);
    }
    Ok(Value::Int(bits))
}

/// A hash join's table: right rows (by position) by the grouping bytes of their key.
type JoinTable = HashMap<Vec<u8>, Vec<usize>>;

/// The rows of a join, nested-loop style: each left row against its candidate right rows
/// (every right row, or with `probe` those whose hashed key equals the left row's), kept
/// when `on` holds; unmatched rows padded with NULLs as `kind` asks (a semi join keeps a
/// left row at its first match, an anti join one with none). Output order: left rows in
/// order, each followed by its matches in right order, then unmatched right rows.
#[allow(clippy::too_many_arguments)]
fn join_each(
    left: &Plan,
    r: Vec<Row>,
    rw: usize,
    kind: JoinKind,
    on: Option<&Expr>,
    probe: Option<(&[Expr], &JoinTable)>,
    cx: &ExecCtx,
    f: &mut dyn FnMut(Row) -> Result<()>,
) -> Result<()> {
    let lw = left.width();
    let all: Vec<usize> = if probe.is_none() {
        (0..r.len()).collect()
    } else {
        Vec::new()
    };
    let mut right_matched = vec![false; r.len()];
    let mut joined = Vec::with_capacity(lw + rw);
    let mut key = Vec::new();
    each(left, cx, &mut |lr| {
        let mut matched = false;
        let candidates: &[usize] = match probe {
            None => &all,
            Some((keys, table)) => {
                if join_key_into(keys, &lr, cx, &mut key)? {
                    table.get(key.as_slice()).map(Vec::as_slice).unwrap_or(&[])
                } else {
                    &[]
                }
            }
        };
        for &ri in candidates {
            let Some(p) = on else {
                // Every candidate matches: no combined row unless one is emitted.
                matched = true;
                if !kind.emits_right() {
                    break;
                }
                right_matched[ri] = true;
                let mut row = Vec::with_capacity(lw + rw);
                row.extend_from_slice(&lr);
                row.extend_from_slice(&r[ri]);
                f(row)?;
                continue;
            };
            joined.clear();
            joined.extend_from_slice(&lr);
            joined.extend_from_slice(&r[ri]);
            if !truthy(cx.eval(p, &joined)?)? {
                continue;
            }
            matched = true;
            if !kind.emits_right() {
                break;
            }
            right_matched[ri] = true;
            // The combined row goes out as it is; the next candidate starts a new one.
            f(std::mem::replace(&mut joined, Vec::with_capacity(lw + rw)))?;
        }
        finish_left_row(kind, matched, lr, rw, f)
    })?;
    if matches!(kind, JoinKind::Right | JoinKind::Full) {
        for (ri, rr) in r.into_iter().enumerate() {
            if !right_matched[ri] {
                let mut row = vec![Value::Null; lw];
                row.extend(rr);
                f(row)?;
            }
        }
    }
    Ok(())
}

/// What a join emits for left row `lr` once its matches are known: padded with `rw` NULLs
/// when unmatched (Left, Full), itself once when matched (Semi) or unmatched (Anti).
fn finish_left_row(
    kind: JoinKind,
    matched: bool,
    lr: Row,
    rw: usize,
    f: &mut dyn FnMut(Row) -> Result<()>,
) -> Result<()> {
    match kind {
        JoinKind::Left | JoinKind::Full if !matched => {
            let mut row = lr;
            row.extend(std::iter::repeat_n(Value::Null, rw));
            f(row)
        }
        JoinKind::Semi if matched => f(lr),
        JoinKind::Anti if !matched => f(lr),
        _ => Ok(()),
    }
}

/// The grouping bytes of a row's join key, `None` if a key value is NULL (never matches).
fn join_key(keys: &[Expr], row: &[Value], cx: &ExecCtx) -> Result<Option<Vec<u8>>> {
    let mut k = Vec::new();
    Ok(join_key_into(keys, row, cx, &mut k)?.then_some(k))
}

/// [`join_key`] into `k` (cleared first): false, and `k` unspecified, when a value is NULL.
fn join_key_into(keys: &[Expr], row: &[Value], cx: &ExecCtx, k: &mut Vec<u8>) -> Result<bool> {
    k.clear();
    for e in keys {
        let v = cx.eval(e, row)?;
        if v.is_null() {
            return Ok(false);
        }
        push_group_key(k, &v);
    }
    Ok(true)
}

fn set_op(kind: SetOpKind, all: bool, l: Vec<Row>, r: Vec<Row>) -> Vec<Row> {
    match kind {
        SetOpKind::Union => {
            let mut rows = l;
            rows.extend(r);
            if all {
                rows
            } else {
                let mut seen = HashSet::new();
                rows.into_iter()
                    .filter(|x| seen.insert(group_key(x)))
                    .collect()
            }
        }
        SetOpKind::Intersect | SetOpKind::Except => {
            let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
            for x in &r {
                *counts.entry(group_key(x)).or_default() += 1;
            }
            let mut out = Vec::new();
            let mut emitted = HashSet::new();
            for x in l {
                let k = group_key(&x);
                let c = counts.get(&k).copied().unwrap_or(0);
                let keep = match (kind, all) {
                    (SetOpKind::Intersect, true) => {
                        if c > 0 {
                            counts.insert(k.clone(), c - 1);
                            true
                        } else {
                            false
                        }
                    }
                    (SetOpKind::Intersect, false) => c > 0 && emitted.insert(k.clone()),
                    (_, true) => {
                        if c > 0 {
                            counts.insert(k.clone(), c - 1);
                            false
                        } else {
                            true
                        }
                    }
                    (_, false) => c == 0 && emitted.insert(k.clone()),
                };
                if keep {
                    out.push(x);
                }
            }
            out
        }
    }
}

/// Source of unique values for the hidden `rowid` of tables without a primary key:
/// microseconds since the epoch shifted left by 8, then incremented, so ids grow across
/// restarts while the clock does.
static NEXT_ROWID: AtomicI64 = AtomicI64::new(0);

fn unique_rowid(now_micros: i64) -> i64 {
    let floor = now_micros.saturating_mul(256);
    let mut cur = NEXT_ROWID.load(AtomicOrdering::Relaxed);
    loop {
        let next = (cur + 1).max(floor);
        match NEXT_ROWID.compare_exchange_weak(
            cur,
            next,
            AtomicOrdering::Relaxed,
            AtomicOrdering::Relaxed,
        ) {
            Ok(_) => return next,
            Err(actual) => cur = actual,
        }
    }
}

/// Session values for expressions stored in descriptors (DEFAULT, CHECK), which cannot
/// depend on the session.
struct NoSession;
impl SessionInfo for NoSession {
    fn current_database(&self) -> String {
        String::new()
    }
    fn current_user(&self) -> String {
        String::new()
    }
    fn server_version(&self) -> String {
        String::new()
    }
}

/// The DEFAULT of column `i` evaluated once (ALTER TABLE ADD COLUMN fills existing rows).
pub fn eval_default(table: &TableDef, i: usize) -> Result<Value> {
    let mut b = Binder::new(&EmptyCatalog, &NoSession, Vec::new());
    let e = b.default_expr(table, i)?;
    e.eval(
        &[],
        &EvalContext {
            params: &[],
            outer: &[],
            subqueries: None,
            // No transaction here: the wall clock stands in for now().
            now_micros: crate::volatile::SYSTEM.clock_micros(),
            volatile: Some(&crate::volatile::SYSTEM),
        },
    )
}

/// Fails with 23514 if a row violates the CHECK `expr` named `name` (ALTER TABLE ADD CHECK).
pub fn check_rows(
    table: &TableDef,
    expr: &sqlparser::ast::Expr,
    name: &str,
    rows: &[Row],
) -> Result<()> {
    let mut b = Binder::new(&EmptyCatalog, &NoSession, Vec::new());
    let e = b.bind_expr(expr, &table_scope(table, &table.name))?;
    for r in rows {
        if e.eval(
            r,
            &EvalContext {
                params: &[],
                outer: &[],
                subqueries: None,
                now_micros: crate::volatile::SYSTEM.clock_micros(),
                volatile: Some(&crate::volatile::SYSTEM),
            },
        )?
        .as_bool()?
            == Some(false)
        {
            return Err(SqlError::new(
                code::CHECK_VIOLATION,
                format!(
                    "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                    table.name
                ),
            ));
        }
    }
    Ok(())
}

struct EmptyCatalog;
impl Catalog for EmptyCatalog {
    fn table(&self, _: Option<&str>, _: &str) -> Result<Option<std::sync::Arc<TableDef>>> {
        Ok(None)
    }
}

/// Bound CHECK expressions of a table, over its full row.
pub(crate) fn checks(table: &TableDef, session: &dyn SessionInfo) -> Result<Vec<(String, Expr)>> {
    let mut out = Vec::new();
    let scope = table_scope(table, &table.name);
    for c in &table.checks {
        let mut b = Binder::new(&EmptyCatalog, session, Vec::new());
        let ast = cairn_sql_plan::bind::parse_expr(&c.expr)?;
        out.push((c.name.clone(), b.bind_expr(&ast, &scope)?));
    }
    Ok(out)
}

pub(crate) fn validate_row(
    table: &TableDef,
    row: &[Value],
    checks: &[(String, Expr)],
    cx: &ExecCtx,
) -> Result<()> {
    for (c, v) in table.columns.iter().zip(row) {
        if v.is_null() && !c.nullable {
            return Err(SqlError::new(
                code::NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, table.name
                ),
            )
            .with_table(table.name.clone()));
        }
    }
    for (name, e) in checks {
        if cx.eval(e, row)?.as_bool()? == Some(false) {
            return Err(SqlError::new(
                code::CHECK_VIOLATION,
                format!(
                    "new row for relation \"{}\" violates check constraint \"{name}\"",
                    table.name
                ),
            )
            .with_constraint(name.clone())
            .with_table(table.name.clone()));
        }
    }
    Ok(())
}

/// What a DML statement did: the affected row count and, with RETURNING, the returned rows.
pub struct DmlOutcome {
    pub count: u64,
    pub returned: Vec<Row>,
}

/// Runs INSERT / UPDATE / DELETE.
pub fn run_dml(bound: &Bound, cx: &ExecCtx) -> Result<DmlOutcome> {
    let returning_row = |returning: &Option<(Vec<Expr>, Vec<OutputColumn>)>,
                         row: &[Value],
                         out: &mut DmlOutcome|
     -> Result<()> {
        if let Some((exprs, _)) = returning {
            let mut r = Vec::with_capacity(exprs.len());
            for e in exprs {
                r.push(cx.eval(e, row)?);
            }
            out.returned.push(r);
        }
        Ok(())
    };
    if let Bound::Insert { table, .. } | Bound::Update { table, .. } | Bound::Delete { table, .. } =
        bound
    {
        crate::pg_catalog::check_writable(table)?;
    }
    match bound {
        Bound::Query { .. } => Err(SqlError::internal("run_dml called with a query")),
        Bound::Insert {
            table,
            source,
            targets,
            defaults,
            on_conflict,
            returning,
        } => {
            let rows = run(source, cx)?;
            let checks = checks(table, cx.session)?;
            let now = cx.txn.borrow().timestamp_micros();
            let rowid_pos = if table.has_declared_primary_key {
                None
            } else {
                table.primary_key_positions().first().copied()
            };
            let mut out = DmlOutcome {
                count: 0,
                returned: Vec::new(),
            };
            let mut fk_events = Vec::new();
            for src in rows {
                let mut row = vec![Value::Null; table.columns.len()];
                for (k, &ti) in targets.iter().enumerate() {
                    row[ti] = src.get(k).cloned().unwrap_or(Value::Null);
                }
                for (i, e) in defaults {
                    row[*i] = cx.eval(e, &[])?;
                }
                if let Some(p) = rowid_pos {
                    row[p] = Value::Int(unique_rowid(now));
                }
                validate_row(table, &row, &checks, cx)?;
                let key = index::primary_key(table, &row);
                let existing = cx.txn.borrow_mut().get_for_update(&key)?;
                let (old, final_row) = match (existing, on_conflict) {
                    (None, _) => (None, row),
                    (Some(_), OnConflict::Error) => {
                        return Err(index::unique_violation(table, &table.primary, &row))
                    }
                    (Some(_), OnConflict::DoNothing) => continue,
                    (
                        Some(old),
                        OnConflict::DoUpdate {
                            assignments,
                            predicate,
                        },
                    ) => {
                        let old = decode_row(table, &old)?;
                        let mut both = old.clone();
                        both.extend(row.iter().cloned());
                        if let Some(p) = predicate {
                            if !truthy(cx.eval(p, &both)?)? {
                                continue;
                            }
                        }
                        let mut new = old.clone();
                        for (i, e) in assignments {
                            new[*i] = cx.eval(e, &both)?;
                        }
                        validate_row(table, &new, &checks, cx)?;
                        if index::primary_key(table, &new) != key {
                            return Err(SqlError::not_supported(
                                "ON CONFLICT DO UPDATE that changes the primary key",
                            ));
                        }
                        (Some(old), new)
                    }
                };
                let mut txn = cx.txn.borrow_mut();
                index::write_indexes(&mut **txn, table, old.as_deref(), Some(&final_row))?;
                txn.put(&key, &encode_row(table, &final_row))?;
                drop(txn);
                out.count += 1;
                returning_row(returning, &final_row, &mut out)?;
                if crate::fk::involved(table) {
                    fk_events.push(match old {
                        Some(old) => crate::fk::Event::Update {
                            table: table.clone(),
                            old,
                            new: final_row,
                        },
                        None => crate::fk::Event::Insert {
                            table: table.clone(),
                            new: final_row,
                        },
                    });
                }
            }
            crate::fk::fire(cx, fk_events)?;
            Ok(out)
        }
        Bound::Update {
            table,
            input,
            assignments,
            predicate,
            returning,
        } => {
            let (rows, read_committed) = rows_to_write(cx, table, input)?;
            let checks = checks(table, cx.session)?;
            let mut out = DmlOutcome {
                count: 0,
                returned: Vec::new(),
            };
            let mut fk_events = Vec::new();
            for old in rows {
                let Some(old) = lock_for_write(cx, table, predicate.as_ref(), old, read_committed)?
                else {
                    continue;
                };
                let old_key = index::primary_key(table, &old);
                let mut new = old.clone();
                for (i, e) in assignments {
                    new[*i] = cx.eval(e, &old)?;
                }
                validate_row(table, &new, &checks, cx)?;
                let new_key = index::primary_key(table, &new);
                let mut txn = cx.txn.borrow_mut();
                if new_key != old_key {
                    if txn.get_for_update(&new_key)?.is_some() {
                        return Err(index::unique_violation(table, &table.primary, &new));
                    }
                    txn.delete(&old_key)?;
                }
                index::write_indexes(&mut **txn, table, Some(&old), Some(&new))?;
                txn.put(&new_key, &encode_row(table, &new))?;
                drop(txn);
                out.count += 1;
                returning_row(returning, &new, &mut out)?;
                if crate::fk::involved(table) {
                    fk_events.push(crate::fk::Event::Update {
                        table: table.clone(),
                        old,
                        new,
                    });
                }
            }
            crate::fk::fire(cx, fk_events)?;
            Ok(out)
        }
        Bound::Delete {
            table,
            input,
            predicate,
            returning,
        } => {
            let (rows, read_committed) = rows_to_write(cx, table, input)?;
            let mut out = DmlOutcome {
                count: 0,
                returned: Vec::new(),
            };
            let mut fk_events = Vec::new();
            for old in rows {
                let Some(old) = lock_for_write(cx, table, predicate.as_ref(), old, read_committed)?
                else {
                    continue;
                };
                let mut txn = cx.txn.borrow_mut();
                index::write_indexes(&mut **txn, table, Some(&old), None)?;
                txn.delete(&index::primary_key(table, &old))?;
                drop(txn);
                out.count += 1;
                returning_row(returning, &old, &mut out)?;
                if crate::fk::involved(table) {
                    fk_events.push(crate::fk::Event::Delete {
                        table: table.clone(),
                        old,
                    });
                }
            }
            crate::fk::fire(cx, fk_events)?;
            Ok(out)
        }
    }
}

/// The rows an UPDATE or DELETE of `table` reads from `input` (a point read's row locked
/// first, `lock_point_first`), and whether the transaction is READ COMMITTED (each row is
/// then locked and re-read by [`lock_for_write`]).
fn rows_to_write(cx: &ExecCtx, table: &TableDef, input: &Plan) -> Result<(Vec<Row>, bool)> {
    lock_point_first(
        cx,
        table,
        input,
        (RowLockStrength::Update, RowLockWait::Block),
    )?;
    let rows = run(input, cx)?;
    let read_committed = cx.txn.borrow().isolation() == IsolationLevel::ReadCommitted;
    Ok((rows, read_committed))
}

/// UPDATE/DELETE at READ COMMITTED (otherwise `read` as it is): locks the row `read` was read from and returns its newest
/// version, or `None` when it was deleted meanwhile or its newest version no longer passes
/// the statement's WHERE clause — so a concurrent change is never overwritten with a value
/// computed from an older version (a lost update). SNAPSHOT and SERIALIZABLE need none of
/// this: a write over a commit newer than the row read is a 40001 there (the row is in the
/// read set, so the snapshot cannot move past it; see `lock_point_first` for the case
/// where the lock comes before the read).
fn lock_for_write(
    cx: &ExecCtx,
    table: &TableDef,
    predicate: Option<&Expr>,
    read: Row,
    read_committed: bool,
) -> Result<Option<Row>> {
    if !read_committed {
        return Ok(Some(read));
    }
    let key = index::primary_key(table, &read);
    lock_newest(
        cx,
        table,
        &key,
        (RowLockStrength::Update, RowLockWait::Block),
        predicate,
        Some(&read),
    )
}

/// Locks the row at `key` and returns its newest version, or `None` when the lock was
/// skipped (`SKIP LOCKED`), the row is gone, or its newest version fails `predicate`. A
/// version equal to `read` (the one the statement saw) is not re-checked, so a volatile
/// WHERE is evaluated once per row.
fn lock_newest(
    cx: &ExecCtx,
    table: &TableDef,
    key: &[u8],
    (strength, wait): (RowLockStrength, RowLockWait),
    predicate: Option<&Expr>,
    read: Option<&Row>,
) -> Result<Option<Row>> {
    let locked = cx.txn.borrow_mut().lock_row(key, strength, wait)?;
    let Some(Some(bytes)) = locked else {
        return Ok(None);
    };
    let current = decode_row(table, &bytes)?;
    if read == Some(&current) {
        return Ok(Some(current));
    }
    if let Some(p) = predicate {
        if !truthy(cx.eval(p, &current)?)? {
            return Ok(None);
        }
    }
    Ok(Some(current))
}

/// Sort helper shared with the session (ORDER BY of catalog rows).
pub fn sort_rows(rows: &mut [Row], column: usize) {
    rows.sort_by(|a, b| sort_cmp(&a[column], &b[column]));
}

/// The type of each column of a DML's RETURNING list or a query.
pub fn column_types(cols: &[cairn_sql_plan::plan::OutputColumn]) -> Vec<DataType> {
    cols.iter().map(|c| c.ty.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(tag: u8, n: i64) -> Value {
        match tag % 4 {
            0 => Value::Null,
            1 => Value::Int(n),
            2 => Value::Text(format!("v{n}")),
            _ => Value::Float(n as f64),
        }
    }

    /// sum and avg over numerics give, through the i128 fast path (and its fall back
    /// mid-way when a value or the running sum stops fitting), exactly the value of
    /// adding the numerics one by one.
    #[test]
    fn numeric_sums_match_adding_one_by_one() {
        let num = |s: &str| Value::numeric(Numeric::parse(s).unwrap());
        let big = "170141183460469231731687303715884105727"; // i128::MAX
        let cases: Vec<Vec<Value>> = vec![
            vec![num("1.5"), num("2.25"), Value::Null, num("-0.75")],
            vec![num("12.50"), num("-12.5")],
            vec![
                num("99999999999999999999999999999999999.9"),
                num("0.01"),
                num("0.01"),
            ],
            vec![num("1"), num(big), num("1"), num("-2")],
            vec![num("1"), num("NaN"), num("2")],
            vec![
                num("0.000000000000000000000000000000000000001"),
                num("1e30"),
            ],
            vec![],
            vec![Value::Null],
        ];
        for values in cases {
            for func in [AggFunc::Sum, AggFunc::Avg] {
                let a = AggCall {
                    func,
                    arg: None,
                    extra: None,
                    distinct: false,
                    filter: None,
                    ty: DataType::Numeric(None),
                    order_by: Vec::new(),
                };
                let mut st = agg_init(&a);
                for v in &values {
                    agg_step(&a, &mut st, std::borrow::Cow::Borrowed(v), None).unwrap();
                }
                let got = agg_final(st).unwrap();
                let present: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
                let want = match present.split_first() {
                    None => Value::Null,
                    Some((first, rest)) => {
                        let mut acc = (*first).clone();
                        for v in rest {
                            acc = cairn_sql_plan::expr::binary(
                                cairn_sql_plan::expr::BinaryOp::Add,
                                acc,
                                (*v).clone(),
                                &a.ty,
                            )
                            .unwrap();
                        }
                        match (func, acc) {
                            (AggFunc::Avg, Value::Numeric(x)) => Value::numeric(
                                x.div(&Numeric::from_i64(present.len() as i64)).unwrap(),
                            ),
                            (_, acc) => acc,
                        }
                    }
                };
                let ty = DataType::Numeric(None);
                assert_eq!(got.to_text(&ty), want.to_text(&ty), "{func:?} {values:?}");
            }
        }
    }

    proptest::proptest! {
        /// Wherever the hash set answers `x IN (subquery)`, it answers as the row-by-row
        /// comparison does (NULLs, mixed variants and int/float equality included).
        #[test]
        fn in_set_agrees_with_row_by_row(
            rows in proptest::collection::vec((0u8..4, -3i64..3), 0..8),
            probe in (1u8..4, -3i64..3),
        ) {
            let rows: Vec<Row> = rows.into_iter().map(|(t, n)| vec![value(t, n)]).collect();
            let v = value(probe.0, probe.1);
            let want = cairn_sql_plan::expr::contains_value(&rows, &v);
            let set = InSet::build(&rows);
            if let Some(got) = set.contains(&v) {
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn in_set_answers_for_one_hashable_variant() {
        let rows: Vec<Row> = (0..100).map(|i| vec![Value::Int(i)]).collect();
        let set = InSet::build(&rows);
        assert_eq!(set.contains(&Value::Int(42)), Some(Some(true)));
        assert_eq!(set.contains(&Value::Int(420)), Some(Some(false)));
        // A float probe is compared row by row (1.0 = 1 is true in SQL).
        assert_eq!(set.contains(&Value::Float(1.0)), None);
    }
}

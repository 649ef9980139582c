//! Query plans: the tree of relational operators the binder produces ([`Plan`]), the rules
//! rewrite, and the executor runs, plus bound DML statements.
//!
//! Role: `bind` builds a logical `Plan`; `rules::optimize` rewrites it (filters pushed into
//! scans, key ranges derived from them) into the physical form the executor runs. The same
//! enum serves both stages: a `Scan` with `range = None` is a logical scan and becomes a full
//! table scan if no rule narrows it.
//!
//! Invariants:
//! 1. Every operator's output row layout is [`Plan::schema`]; `Expr::Column` indexes inside an
//!    operator refer to its *input* layout (for `Join`, left columns then right columns).
//! 2. `Aggregate` outputs its group-by values first, then one value per aggregate call.
//! 3. A `Scan` outputs every column of the table in `TableDef::columns` order (hidden ones
//!    included), whatever its `range`; `filter` is applied to those rows.

use std::sync::Arc;

use crate::catalog::TableDef;
use crate::expr::Expr;
use crate::types::{DataType, Value};

/// One column of an operator's output.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub ty: DataType,
    /// The table alias (or name) the column can be qualified with.
    pub qualifier: Option<String>,
    /// Left out of `*` expansions (the implicit rowid).
    pub hidden: bool,
    /// A join input's column that `JOIN ... USING` or `NATURAL JOIN` merged into one output
    /// column (which comes first in the join's output): left out of `*`, not found by its
    /// bare name (that finds the merged column), still found qualified and by `alias.*`.
    pub merged: bool,
    /// Source table id and column id, when the column is a plain table column (reported in
    /// RowDescription as table OID and attribute number).
    pub source: Option<(u32, u32)>,
}

impl OutputColumn {
    pub fn new(name: impl Into<String>, ty: DataType) -> OutputColumn {
        OutputColumn {
            name: name.into(),
            ty,
            qualifier: None,
            hidden: false,
            merged: false,
            source: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    StringAgg,
    /// `array_agg(x)`: every value, NULLs included, in input (or `AggCall::order_by`) order.
    ArrayAgg,
    /// `GROUPING(a, b, ...)`: `arg` is a literal int array of the arguments' positions in
    /// `group_by`; the value has bit `n-1-i` set when argument i is not in the row's grouping
    /// set (int4).
    Grouping,
}

/// One key of an aggregate's own `ORDER BY` (`array_agg(x ORDER BY y DESC)`).
#[derive(Clone, Debug, PartialEq)]
pub struct AggOrder {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AggCall {
    pub func: AggFunc,
    /// The argument (none for `count(*)`); `string_agg` has its delimiter in `extra`.
    pub arg: Option<Expr>,
    pub extra: Option<Expr>,
    pub distinct: bool,
    pub filter: Option<Expr>,
    pub ty: DataType,
    /// The aggregate's own ORDER BY: the values it sees are sorted by these keys first.
    pub order_by: Vec<AggOrder>,
}

impl AggCall {
    pub fn exprs_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        self.arg
            .iter_mut()
            .chain(self.extra.iter_mut())
            .chain(self.filter.iter_mut())
            .chain(self.order_by.iter_mut().map(|o| &mut o.expr))
            .for_each(f);
    }
}

/// One window function call of a [`Plan::Window`]; every expression is over the window's
/// input layout.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowCall {
    pub func: WindowFunc,
    /// `lag`/`lead`: value, offset, default; `ntile`: bucket count; `first_value`,
    /// `last_value`: value; `nth_value`: value, position. Empty for the rest (an aggregate
    /// holds its own arguments).
    pub args: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<AggOrder>,
    pub frame: WindowFrame,
    pub ty: DataType,
}

impl WindowCall {
    pub fn exprs_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        if let WindowFunc::Aggregate(a) = &mut self.func {
            a.exprs_mut(f);
        }
        self.args
            .iter_mut()
            .chain(self.partition_by.iter_mut())
            .chain(self.order_by.iter_mut().map(|o| &mut o.expr))
            .for_each(&mut *f);
        for b in [&mut self.frame.start, &mut self.frame.end] {
            if let FrameBound::Preceding(o) | FrameBound::Following(o) = b {
                f(&mut o.offset);
                if let Some((bound, key)) = &mut o.range {
                    f(bound);
                    f(key);
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    /// An aggregate over the frame (not DISTINCT and without its own ORDER BY).
    Aggregate(Box<AggCall>),
}

/// A window frame: the rows of the current row's partition an aggregate or `first_value`,
/// `last_value`, `nth_value` sees. `start` is never `UnboundedFollowing` and `end` never
/// `UnboundedPreceding` (the binder rejects them, as PostgreSQL does).
#[derive(Clone, Debug, PartialEq)]
pub struct WindowFrame {
    pub units: FrameUnits,
    pub start: FrameBound,
    pub end: FrameBound,
}

impl WindowFrame {
    /// The frame without a frame clause: `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`
    /// (with no ORDER BY every row is a peer of the current one, so that is the partition).
    pub fn default_frame() -> WindowFrame {
        WindowFrame {
            units: FrameUnits::Range,
            start: FrameBound::UnboundedPreceding,
            end: FrameBound::CurrentRow,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameUnits {
    Rows,
    Range,
    Groups,
}

/// One end of a frame.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(FrameOffset),
    CurrentRow,
    Following(FrameOffset),
    UnboundedFollowing,
}

/// `<offset> PRECEDING` or `<offset> FOLLOWING`.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameOffset {
    /// The offset as written, over the current row: a count of rows (ROWS) or peer groups
    /// (GROUPS) as int8, or for RANGE a distance in the ORDER BY key's terms. Never negative
    /// (22013 when it is).
    pub offset: Expr,
    /// RANGE only: `(bound, key)`, where `bound` is the key value the frame reaches from the
    /// current row (`key - offset` or `key + offset`, as the sort direction makes it preceding
    /// or following) and `key` the (single) ORDER BY key in `bound`'s type, to compare the
    /// other rows' keys with.
    pub range: Option<(Expr, Expr)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    /// Position in the input row.
    pub column: usize,
    pub descending: bool,
    pub nulls_first: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    /// Each left row once if some right row satisfies the condition (`EXISTS`, `IN`); the
    /// output has the left columns only.
    Semi,
    /// Each left row that no right row satisfies the condition with (`NOT EXISTS`); the
    /// output has the left columns only.
    Anti,
}

impl JoinKind {
    /// Whether the join's output rows carry the right input's columns (all but semi and
    /// anti joins, whose output is the left layout).
    pub fn emits_right(self) -> bool {
        !matches!(self, JoinKind::Semi | JoinKind::Anti)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

/// A range of primary-key prefixes for a scan: each bound is a list of leading key column
/// values (all `=` constraints, then optionally one range column).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct KeyRange {
    /// Values of the leading key columns fixed by equality (`a = 1 AND b = 2`).
    pub eq_prefix: Vec<Expr>,
    /// Bound on the next key column: `(value expression, inclusive)`.
    pub lower: Option<(Expr, bool)>,
    pub upper: Option<(Expr, bool)>,
}

impl KeyRange {
    /// Calls `f` on each bound's expression.
    pub fn exprs_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        self.eq_prefix.iter_mut().for_each(&mut *f);
        for (e, _) in self.lower.iter_mut().chain(self.upper.iter_mut()) {
            f(e);
        }
    }

    pub fn is_full(&self) -> bool {
        self.eq_prefix.is_empty() && self.lower.is_none() && self.upper.is_none()
    }
}

/// Which index a scan reads and over which key range.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexRange {
    /// Index id (`PRIMARY_INDEX_ID` for the table itself).
    pub index_id: u32,
    pub range: KeyRange,
    /// Read the index in descending key order.
    pub reverse: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// One row with no columns (`SELECT` without `FROM`).
    Unit,
    Values {
        rows: Vec<Vec<Expr>>,
        schema: Vec<OutputColumn>,
    },
    Scan {
        table: Arc<TableDef>,
        qualifier: String,
        /// Set by the rules: the index and key range to read; `None` reads the whole table.
        access: Option<IndexRange>,
        /// Applied to each row read.
        filter: Option<Expr>,
        /// Set by `prune::prune_columns`: the columns (by position) that anything above
        /// reads, filter included; the others may be left NULL in the rows the scan
        /// produces, which then need not be decoded. `None`: every column.
        needed: Option<Vec<bool>>,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
        schema: Vec<OutputColumn>,
    },
    /// With `grouping_sets` empty, one group per distinct `group_by` value list. Otherwise
    /// (GROUPING SETS, ROLLUP, CUBE) the rows are grouped once per set, by the `group_by`
    /// expressions at the set's positions; the others are NULL in that set's output rows.
    /// An empty set over no input rows still gives one row, as an empty `group_by` does.
    Aggregate {
        input: Box<Plan>,
        group_by: Vec<Expr>,
        aggs: Vec<AggCall>,
        grouping_sets: Vec<Vec<usize>>,
        schema: Vec<OutputColumn>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    Distinct {
        input: Box<Plan>,
    },
    /// Nested-loop join; `on` is over the joined layout (left columns, then right), also
    /// for semi and anti joins, whose output is the left layout alone.
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Option<Expr>,
    },
    /// A join by equality of keys (the optimiser's physical form of a `Join` whose ON holds
    /// `left expr = right expr` conjuncts of hashable types): builds a hash table of `right`'s
    /// rows by `right_keys` (over `right`'s layout), then probes it with each `left` row's
    /// `left_keys`; a key with a NULL never matches. `residual` (over the joined layout, like
    /// `Join::on`) must hold too. Output layout and row order are the nested loop's: left rows
    /// in order, each followed by its matches in right order (Semi: once if it has any;
    /// Anti: only if it has none), then (Right, Full) the unmatched right rows in right order.
    HashJoin {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
        residual: Option<Expr>,
    },
    /// Index nested-loop join (Inner, Left, Semi or Anti): for each `left` row, reads the rows of `table`
    /// in `access`'s key range, whose expressions are evaluated over the left row (a NULL
    /// key value matches nothing), keeps those passing `filter` (over a table row), then
    /// those passing `residual` (over the joined layout, which repeats the key equalities so
    /// that the result never depends on the range alone). Output: left columns, then every
    /// column of `table` (not for Semi and Anti); rows in left order, each followed by its
    /// matches in key order.
    IndexJoin {
        left: Box<Plan>,
        table: Arc<TableDef>,
        qualifier: String,
        access: IndexRange,
        filter: Option<Expr>,
        kind: JoinKind,
        residual: Option<Expr>,
        /// As a scan's `needed`, for `table`'s columns (`prune::prune_columns`).
        needed: Option<Vec<bool>>,
    },
    SetOp {
        kind: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
        schema: Vec<OutputColumn>,
    },
    /// Rows of a named CTE or derived table, renamed.
    Rename {
        input: Box<Plan>,
        schema: Vec<OutputColumn>,
    },
    /// A common table expression referenced more than once (or `AS MATERIALIZED`), as
    /// PostgreSQL materialises those: `input` runs once per execution of the statement and
    /// every `Materialize` with the same `id` reads its rows (so a volatile function in the
    /// CTE has one value for all references). The binder makes one only for a CTE that reads
    /// no column of an enclosing query. Filters are not pushed into it.
    Materialize {
        id: usize,
        input: Box<Plan>,
    },
    /// PostgreSQL's ProjectSet: for each row of `input`, the columns at `expand` (which hold
    /// arrays: the values of set-returning functions such as `unnest` and
    /// `generate_series`) are expanded in lockstep into as many rows as the longest has
    /// elements, shorter ones padded with NULL; the other columns repeat. A NULL or empty
    /// array in every expanded column yields no row. With `ordinality` (`WITH ORDINALITY`)
    /// each output row ends with one more column: its 1-based number among the rows its
    /// input row expanded into. Output layout: `schema`.
    ProjectSet {
        input: Box<Plan>,
        expand: Vec<usize>,
        schema: Vec<OutputColumn>,
        ordinality: bool,
    },
    /// `SELECT ... FOR UPDATE / FOR SHARE` over one table: locks the primary-key row of
    /// each input row, in input order, and passes on the rows it locked. At READ COMMITTED
    /// the lock returns the row's newest version: a row deleted meanwhile, or one that no
    /// longer passes `recheck_filter`, is dropped, and the others are recomputed from the
    /// new version with `recheck_exprs` (PostgreSQL's EvalPlanQual). `limit` (and
    /// `offset`) stop it after enough rows are locked, so skipped rows (`SKIP LOCKED`) do
    /// not count and rows past the LIMIT are not locked.
    LockRows {
        input: Box<Plan>,
        table: Arc<TableDef>,
        /// Positions in input rows of the primary-key columns, in primary-key order.
        key_columns: Vec<usize>,
        strength: RowLockStrength,
        wait: RowLockWait,
        /// The WHERE clause over a table row.
        recheck_filter: Option<Expr>,
        /// Expressions over a table row that produce one input row.
        recheck_exprs: Vec<Expr>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    /// Window functions: all input rows are read, then each call adds one column (in
    /// `calls` order) after the input's. Output rows are the input rows ordered by the last
    /// call's PARTITION BY and ORDER BY (input order among its peers), as PostgreSQL's
    /// WindowAgg leaves them; a query that needs an order still says ORDER BY.
    Window {
        input: Box<Plan>,
        calls: Vec<WindowCall>,
        schema: Vec<OutputColumn>,
    },
    /// `LATERAL` (Inner or Left): for each `left` row, `right` runs with `correlation`
    /// (evaluated over the left row) bound to its `OuterRef` slots; each of its rows joins
    /// the left row when `on` (over the joined layout) holds; a Left join pads an unmatched
    /// left row with NULLs. Output: left columns, then right's; left order, each left row's
    /// matches in right order.
    LateralJoin {
        left: Box<Plan>,
        right: Box<Plan>,
        correlation: Vec<Expr>,
        kind: JoinKind,
        on: Option<Expr>,
    },
    /// `WITH RECURSIVE`: the rows of `base`, then, as long as the last step produced rows,
    /// the rows of `recursive` run over them (its `WorkTable { id }` leaf reads the previous
    /// step's new rows). Without `all`, a row equal to one already produced is dropped
    /// (also within `base`), so a cycle ends. Output: every row produced, in step order.
    RecursiveUnion {
        id: usize,
        all: bool,
        base: Box<Plan>,
        recursive: Box<Plan>,
        schema: Vec<OutputColumn>,
    },
    /// The rows the enclosing `RecursiveUnion { id }` produced in its previous step.
    WorkTable {
        id: usize,
        schema: Vec<OutputColumn>,
    },
    /// Rows the session computes itself (`SHOW`, catalog views).
    Rows {
        rows: Vec<Vec<Value>>,
        schema: Vec<OutputColumn>,
    },
}

/// How strongly `SELECT ... FOR ...` locks rows: `FOR UPDATE` / `FOR NO KEY UPDATE` take an
/// exclusive lock, `FOR SHARE` / `FOR KEY SHARE` a shared one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowLockStrength {
    Update,
    Share,
}

/// What a row-lock request does when another transaction holds the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowLockWait {
    /// Wait (up to the lock timeout; deadlocks are detected).
    Block,
    /// `NOWAIT`: fail with 55P03.
    NoWait,
    /// `SKIP LOCKED`: leave the row out.
    SkipLocked,
}

impl Plan {
    pub fn schema(&self) -> Vec<OutputColumn> {
        match self {
            Plan::Unit => Vec::new(),
            Plan::Values { schema, .. }
            | Plan::Project { schema, .. }
            | Plan::Aggregate { schema, .. }
            | Plan::SetOp { schema, .. }
            | Plan::Rename { schema, .. }
            | Plan::ProjectSet { schema, .. }
            | Plan::Window { schema, .. }
            | Plan::RecursiveUnion { schema, .. }
            | Plan::WorkTable { schema, .. }
            | Plan::Rows { schema, .. } => schema.clone(),
            Plan::Scan {
                table, qualifier, ..
            } => scan_schema(table, qualifier),
            Plan::IndexJoin {
                left,
                table,
                qualifier,
                kind,
                ..
            } => {
                let mut s = left.schema();
                if kind.emits_right() {
                    s.extend(scan_schema(table, qualifier));
                }
                s
            }
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::LockRows { input, .. }
            | Plan::Materialize { input, .. }
            | Plan::Distinct { input } => input.schema(),
            Plan::Join {
                left, right, kind, ..
            }
            | Plan::HashJoin {
                left, right, kind, ..
            }
            | Plan::LateralJoin {
                left, right, kind, ..
            } => {
                let mut s = left.schema();
                if kind.emits_right() {
                    s.extend(right.schema());
                }
                s
            }
        }
    }

    /// Calls `f` on every expression of this operator (not of its inputs).
    pub fn exprs_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        match self {
            Plan::Unit
            | Plan::Rows { .. }
            | Plan::Sort { .. }
            | Plan::Distinct { .. }
            | Plan::Rename { .. }
            | Plan::ProjectSet { .. }
            | Plan::RecursiveUnion { .. }
            | Plan::WorkTable { .. }
            | Plan::Materialize { .. }
            | Plan::SetOp { .. } => {}
            Plan::Values { rows, .. } => rows.iter_mut().flatten().for_each(f),
            Plan::Scan { filter, access, .. } => {
                filter.iter_mut().for_each(&mut *f);
                if let Some(a) = access {
                    a.range.exprs_mut(f);
                }
            }
            Plan::Filter { predicate, .. } => f(predicate),
            Plan::Project { exprs, .. } => exprs.iter_mut().for_each(f),
            Plan::Aggregate { group_by, aggs, .. } => {
                group_by.iter_mut().for_each(&mut *f);
                for a in aggs {
                    a.exprs_mut(f);
                }
            }
            Plan::Limit { limit, offset, .. } => {
                limit.iter_mut().chain(offset.iter_mut()).for_each(f)
            }
            Plan::LockRows {
                recheck_filter,
                recheck_exprs,
                limit,
                offset,
                ..
            } => recheck_filter
                .iter_mut()
                .chain(recheck_exprs.iter_mut())
                .chain(limit.iter_mut())
                .chain(offset.iter_mut())
                .for_each(f),
            Plan::Join { on, .. } => on.iter_mut().for_each(f),
            Plan::LateralJoin {
                correlation, on, ..
            } => correlation.iter_mut().chain(on.iter_mut()).for_each(f),
            Plan::Window { calls, .. } => {
                for c in calls {
                    c.exprs_mut(f);
                }
            }
            Plan::HashJoin {
                left_keys,
                right_keys,
                residual,
                ..
            } => left_keys
                .iter_mut()
                .chain(right_keys.iter_mut())
                .chain(residual.iter_mut())
                .for_each(f),
            Plan::IndexJoin {
                access,
                filter,
                residual,
                ..
            } => {
                access.range.exprs_mut(f);
                filter.iter_mut().chain(residual.iter_mut()).for_each(f);
            }
        }
    }

    /// This operator's inputs.
    pub fn children_mut(&mut self) -> Vec<&mut Plan> {
        match self {
            Plan::Unit
            | Plan::Rows { .. }
            | Plan::Values { .. }
            | Plan::Scan { .. }
            | Plan::WorkTable { .. } => Vec::new(),
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input }
            | Plan::Rename { input, .. }
            | Plan::ProjectSet { input, .. }
            | Plan::Window { input, .. }
            | Plan::LockRows { input, .. }
            | Plan::Materialize { input, .. }
            | Plan::IndexJoin { left: input, .. } => vec![input.as_mut()],
            Plan::Join { left, right, .. }
            | Plan::HashJoin { left, right, .. }
            | Plan::LateralJoin { left, right, .. }
            | Plan::SetOp { left, right, .. } => vec![left.as_mut(), right.as_mut()],
            Plan::RecursiveUnion {
                base, recursive, ..
            } => vec![base.as_mut(), recursive.as_mut()],
        }
    }

    pub fn width(&self) -> usize {
        match self {
            Plan::Scan { table, .. } => table.columns.len(),
            Plan::Join {
                left, right, kind, ..
            }
            | Plan::HashJoin {
                left, right, kind, ..
            }
            | Plan::LateralJoin {
                left, right, kind, ..
            } => left.width() + if kind.emits_right() { right.width() } else { 0 },
            Plan::IndexJoin {
                left, table, kind, ..
            } => {
                left.width()
                    + if kind.emits_right() {
                        table.columns.len()
                    } else {
                        0
                    }
            }
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::LockRows { input, .. }
            | Plan::Distinct { input } => input.width(),
            other => other.schema().len(),
        }
    }
}

/// The output columns of a scan of `table` under the name `qualifier`.
pub fn scan_schema(table: &TableDef, qualifier: &str) -> Vec<OutputColumn> {
    table
        .columns
        .iter()
        .map(|c| OutputColumn {
            name: c.name.clone(),
            ty: c.ty.clone(),
            qualifier: Some(qualifier.to_string()),
            hidden: c.hidden,
            merged: false,
            source: Some((table.id, c.id)),
        })
        .collect()
}

/// How `INSERT ... ON CONFLICT` resolves a unique violation.
#[derive(Clone, Debug, PartialEq)]
pub enum OnConflict {
    /// Raise 23505 (no ON CONFLICT clause).
    Error,
    DoNothing,
    /// `DO UPDATE SET ...`: assignments over the row layout `existing columns ++ excluded
    /// columns`, with an optional WHERE over the same layout.
    DoUpdate {
        assignments: Vec<(usize, Expr)>,
        predicate: Option<Expr>,
    },
}

/// A bound statement that reads or writes table rows.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    Query {
        plan: Plan,
        /// Output columns (the visible ones, in order).
        columns: Vec<OutputColumn>,
    },
    Insert {
        table: Arc<TableDef>,
        /// Source rows: one value per target column in `targets`.
        source: Plan,
        /// Positions in `table.columns` that `source` supplies.
        targets: Vec<usize>,
        /// Expressions for the remaining columns (defaults), over no input.
        defaults: Vec<(usize, Expr)>,
        on_conflict: OnConflict,
        /// Expressions over the full stored row.
        returning: Option<(Vec<Expr>, Vec<OutputColumn>)>,
    },
    Update {
        table: Arc<TableDef>,
        /// Produces the current full rows to update (a scan with the WHERE filter; joined rows
        /// for `UPDATE ... FROM` with the table's columns first).
        input: Plan,
        /// New values for columns, over `input`'s layout.
        assignments: Vec<(usize, Expr)>,
        /// The WHERE clause over a table row, as written: at READ COMMITTED each row is
        /// locked and re-read before it is changed, and a row changed meanwhile is updated
        /// only if its newest version still passes it (PostgreSQL's EvalPlanQual).
        predicate: Option<Expr>,
        returning: Option<(Vec<Expr>, Vec<OutputColumn>)>,
    },
    Delete {
        table: Arc<TableDef>,
        input: Plan,
        /// As for `Update`.
        predicate: Option<Expr>,
        returning: Option<(Vec<Expr>, Vec<OutputColumn>)>,
    },
}

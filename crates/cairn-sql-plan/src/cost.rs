//! Cardinality estimates: how many rows a plan, a predicate or a join produces.
//!
//! Role: the join-order search (`join_order.rs`) asks an [`Estimator`] for the rows of each
//! relation and the selectivity of each predicate; `docs/optimizer.md` states the formulas.
//! Statistics come from ANALYZE through a [`StatsSource`] (the session reads them outside the
//! transaction's read set: they steer the plan, never the result). Without statistics the
//! estimator falls back on PostgreSQL's defaults and on what the schema guarantees (a
//! single-column primary key or unique index has one row per value).
//!
//! Invariants:
//! 1. Every selectivity is within `0.0..=1.0` and every row estimate is at least 1 (a
//!    relation is never assumed empty: that would make every order look free).
//!    Test: `estimates_stay_in_range`.
//! 2. Estimation never fails and never reads data: a plan or predicate it does not understand
//!    gets a default, never an error.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::TableDef;
use crate::expr::{BinaryOp, Expr, UnaryOp};
use crate::plan::{JoinKind, Plan, SetOpKind};
use crate::stats::{TableStats, DEFAULT_EQ_SEL, DEFAULT_INEQ_SEL, DEFAULT_RANGE_SEL};
use crate::types::Value;

/// Rows assumed for a table never analysed.
pub const DEFAULT_TABLE_ROWS: f64 = 1000.0;
/// Distinct values assumed for a column nothing is known about (PostgreSQL's default).
pub const DEFAULT_DISTINCT: f64 = 200.0;
/// Selectivity of a predicate the estimator does not understand.
pub const DEFAULT_SEL: f64 = DEFAULT_INEQ_SEL;

/// Where the planner gets a table's statistics.
pub trait StatsSource {
    /// The table's statistics as of its last ANALYZE, if any.
    fn stats(&self, table: &TableDef) -> Option<Arc<TableStats>>;
}

/// No statistics at all (unit tests, and plans made before any ANALYZE).
pub struct NoStats;

impl StatsSource for NoStats {
    fn stats(&self, _table: &TableDef) -> Option<Arc<TableStats>> {
        None
    }
}

/// The table column an output column of a plan is a plain copy of.
#[derive(Clone, Debug)]
pub struct Origin {
    pub table: Arc<TableDef>,
    /// Position in `table.columns`.
    pub position: usize,
}

/// Estimates over one statement's plans; remembers each table's statistics once read.
pub struct Estimator<'s> {
    source: &'s dyn StatsSource,
    cache: RefCell<HashMap<u32, Option<Arc<TableStats>>>>,
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() {
        DEFAULT_SEL
    } else {
        x.clamp(0.0, 1.0)
    }
}

fn at_least_one(x: f64) -> f64 {
    if x.is_nan() || x < 1.0 {
        1.0
    } else {
        x
    }
}

fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
            ..
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        other => out.push(other),
    }
}

/// Combines the selectivities of ANDed predicates: the most selective counts fully, the next
/// by its square root, the next by its fourth root, and so on ("exponential back-off"), a
/// damped form of independence: correlated conjuncts are the common case, and full
/// independence underestimates them badly.
pub fn damped_product(mut sels: Vec<f64>) -> f64 {
    sels.sort_by(|a, b| a.total_cmp(b));
    let mut out = 1.0;
    let mut exponent = 1.0;
    for s in sels {
        out *= clamp01(s).powf(exponent);
        exponent /= 2.0;
    }
    clamp01(out)
}

impl<'s> Estimator<'s> {
    pub fn new(source: &'s dyn StatsSource) -> Estimator<'s> {
        Estimator {
            source,
            cache: RefCell::new(HashMap::new()),
        }
    }

    pub fn stats(&self, table: &TableDef) -> Option<Arc<TableStats>> {
        if let Some(s) = self.cache.borrow().get(&table.id) {
            return s.clone();
        }
        let s = self.source.stats(table);
        self.cache.borrow_mut().insert(table.id, s.clone());
        s
    }

    /// Rows in the whole table: its last ANALYZE's count, else the default.
    pub fn table_rows(&self, table: &TableDef) -> f64 {
        match self.stats(table) {
            Some(s) => at_least_one(s.row_count),
            None => DEFAULT_TABLE_ROWS,
        }
    }

    /// For each output column of `plan`, the table column it copies, if it is one.
    pub fn origins(&self, plan: &Plan) -> Vec<Option<Origin>> {
        match plan {
            Plan::Scan { table, .. } => (0..table.columns.len())
                .map(|position| {
                    Some(Origin {
                        table: table.clone(),
                        position,
                    })
                })
                .collect(),
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input }
            | Plan::LockRows { input, .. }
            | Plan::Materialize { input, .. }
            | Plan::Rename { input, .. } => self.origins(input),
            Plan::Project { input, exprs, .. } => {
                let inner = self.origins(input);
                exprs
                    .iter()
                    .map(|e| match e {
                        Expr::Column { index, .. } => inner.get(*index).cloned().flatten(),
                        _ => None,
                    })
                    .collect()
            }
            Plan::Join {
                left, right, kind, ..
            }
            | Plan::HashJoin {
                left, right, kind, ..
            } => {
                let mut o = self.origins(left);
                if kind.emits_right() {
                    o.extend(self.origins(right));
                }
                o
            }
            Plan::IndexJoin {
                left, table, kind, ..
            } => {
                let mut o = self.origins(left);
                let cols = if kind.emits_right() {
                    table.columns.len()
                } else {
                    0
                };
                o.extend((0..cols).map(|position| {
                    Some(Origin {
                        table: table.clone(),
                        position,
                    })
                }));
                o
            }
            Plan::LateralJoin {
                left, right, kind, ..
            } => {
                let mut o = self.origins(left);
                if kind.emits_right() {
                    o.extend(std::iter::repeat_n(None, right.width()));
                }
                o
            }
            Plan::Window { input, calls, .. } => {
                let mut o = self.origins(input);
                o.extend(calls.iter().map(|_| None));
                o
            }
            other => vec![None; other.width()],
        }
    }

    /// Whether the column alone is a unique key of its table (a one-column primary key or
    /// unique index).
    fn is_unique(origin: &Origin) -> bool {
        let Some(col) = origin.table.columns.get(origin.position) else {
            return false;
        };
        std::iter::once(&origin.table.primary)
            .chain(origin.table.indexes.iter())
            .any(|idx| idx.unique && idx.columns.len() == 1 && idx.columns[0].column_id == col.id)
    }

    /// Groups of equalities among `parts` that together match every column of a
    /// multi-column unique key of one relation to columns of one other relation
    /// (`ps_partkey = l_partkey AND ps_suppkey = l_suppkey`, partsupp's primary key): each
    /// row of the other relation matches at most one row of the table, so the group keeps
    /// 1/N(table) of the cross product, where treating its columns as independent would
    /// keep 1/(nd(partkey) × nd(suppkey)), 250 times fewer rows in TPC-H's q9. Returns each
    /// group's part indexes and that selectivity. A relation is told apart from another
    /// copy of its table by where its columns start in the layout (`index - position`).
    pub fn unique_key_groups(
        &self,
        parts: &[&Expr],
        origins: &[Option<Origin>],
    ) -> Vec<(Vec<usize>, f64)> {
        /// Equalities between two relations, each told by (table id, first column in the
        /// layout), with the key side's table and the key side's column ids.
        struct Group {
            key: (u32, usize),
            other: (u32, usize),
            table: Arc<TableDef>,
            members: Vec<usize>,
            ids: Vec<u32>,
        }
        let mut groups: Vec<Group> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let Some((left, right)) = p.as_equality() else {
                continue;
            };
            let side = |e: &Expr| match strip_casts(e) {
                Expr::Column { index, .. } => {
                    let o = origins.get(*index)?.as_ref()?;
                    let id = o.table.columns.get(o.position)?.id;
                    Some(((o.table.id, index.checked_sub(o.position)?), id, &o.table))
                }
                _ => None,
            };
            let (Some(l), Some(r)) = (side(left), side(right)) else {
                continue;
            };
            for ((key, key_id, table), (other, _, _)) in [(l, r), (r, l)] {
                match groups.iter_mut().find(|g| g.key == key && g.other == other) {
                    Some(g) => {
                        g.members.push(i);
                        g.ids.push(key_id);
                    }
                    None => groups.push(Group {
                        key,
                        other,
                        table: table.clone(),
                        members: vec![i],
                        ids: vec![key_id],
                    }),
                }
            }
        }
        let mut out: Vec<(Vec<usize>, f64)> = Vec::new();
        for g in groups {
            if out
                .iter()
                .any(|(m, _)| m.iter().any(|i| g.members.contains(i)))
            {
                continue;
            }
            let covers = std::iter::once(&g.table.primary)
                .chain(g.table.indexes.iter())
                .any(|idx| {
                    idx.unique
                        && idx.columns.len() > 1
                        && idx.columns.iter().all(|c| g.ids.contains(&c.column_id))
                });
            if covers {
                out.push((g.members, 1.0 / self.table_rows(&g.table)));
            }
        }
        out
    }

    /// Distinct non-NULL values of a table column, in the whole table.
    pub fn column_distinct(&self, origin: &Origin) -> f64 {
        let rows = self.table_rows(&origin.table);
        if Self::is_unique(origin) {
            return rows;
        }
        let stats = self.stats(&origin.table);
        let col = origin.table.columns.get(origin.position);
        match (stats, col) {
            (Some(s), Some(c)) => match s.column(c.id) {
                Some(cs) => at_least_one(cs.distinct_count(rows)),
                None => DEFAULT_DISTINCT.min(rows),
            },
            _ => DEFAULT_DISTINCT.min(rows),
        }
    }

    /// Rows of `table` with one given value of the first `k` columns of `index` (at most
    /// one for a whole unique key; may be below 1: the expected number of matches).
    pub fn lookup_rows(
        &self,
        table: &Arc<TableDef>,
        index: &crate::catalog::IndexDef,
        k: usize,
    ) -> f64 {
        if index.unique && k >= index.columns.len() {
            return 1.0;
        }
        let total = self.table_rows(table);
        let mut rows = total;
        for ic in index.columns.iter().take(k) {
            if let Some((position, _)) = table.column_by_id(ic.column_id) {
                rows /= self.column_distinct(&Origin {
                    table: table.clone(),
                    position,
                });
            }
        }
        // Columns of one key are rarely independent (lineitem's (l_partkey, l_suppkey) has
        // 80,000 distinct pairs, not 20,000 × 1,000): a prefix of the key keeps at least the
        // rows per distinct whole key that ANALYZE counted.
        let whole_key = self.stats(table).and_then(|s| {
            s.indexes
                .iter()
                .find(|i| i.index_id == index.id)
                .map(|i| total / at_least_one(i.distinct_keys))
        });
        match whole_key {
            Some(per_key) if k >= 1 => rows.max(per_key),
            _ => rows,
        }
    }

    /// Distinct values of `expr` over a relation of `rows` rows whose columns come from
    /// `origins`.
    pub fn expr_distinct(&self, expr: &Expr, origins: &[Option<Origin>], rows: f64) -> f64 {
        let nd = match strip_casts(expr) {
            Expr::Column { index, .. } => match origins.get(*index).cloned().flatten() {
                Some(o) => self.column_distinct(&o),
                None => DEFAULT_DISTINCT,
            },
            _ => DEFAULT_DISTINCT,
        };
        at_least_one(nd.min(rows))
    }

    /// Estimated output rows of `plan`.
    pub fn rows(&self, plan: &Plan) -> f64 {
        at_least_one(match plan {
            Plan::Unit => 1.0,
            Plan::Values { rows, .. } => rows.len() as f64,
            Plan::Rows { rows, .. } => rows.len() as f64,
            // PostgreSQL's guesses: ten steps of the base's size, a step the base's size.
            Plan::RecursiveUnion { base, .. } => self.rows(base) * 10.0,
            Plan::LateralJoin { left, right, .. } => self.rows(left) * self.rows(right),
            Plan::WorkTable { .. } => 10.0,
            Plan::Scan { table, filter, .. } => {
                let base = self.table_rows(table);
                match filter {
                    Some(f) => base * self.selectivity(f, &self.origins(plan), base),
                    None => base,
                }
            }
            Plan::Filter { input, predicate } => {
                let n = self.rows(input);
                n * self.selectivity(predicate, &self.origins(input), n)
            }
            Plan::Project { input, .. }
            | Plan::Rename { input, .. }
            | Plan::Sort { input, .. }
            | Plan::LockRows { input, .. }
            | Plan::ProjectSet { input, .. }
            | Plan::Window { input, .. }
            | Plan::Materialize { input, .. }
            | Plan::Distinct { input } => self.rows(input),
            Plan::Limit { input, limit, .. } => {
                let n = self.rows(input);
                match limit {
                    Some(Expr::Literal {
                        value: Value::Int(l),
                        ..
                    }) => n.min(*l as f64),
                    _ => n,
                }
            }
            Plan::Aggregate {
                input, group_by, ..
            } => {
                if group_by.is_empty() {
                    1.0
                } else {
                    let n = self.rows(input);
                    let origins = self.origins(input);
                    let groups: f64 = group_by
                        .iter()
                        .map(|g| self.expr_distinct(g, &origins, n))
                        .product();
                    groups.min(n)
                }
            }
            Plan::Join {
                left,
                right,
                kind,
                on,
            } => {
                let (l, r) = (self.rows(left), self.rows(right));
                let inner = match on {
                    Some(p) => {
                        let mut origins = self.origins(left);
                        origins.extend(self.origins(right));
                        l * r * self.selectivity(p, &origins, l * r)
                    }
                    None => l * r,
                };
                outer_rows(*kind, inner, l, r)
            }
            Plan::HashJoin {
                left,
                right,
                kind,
                left_keys,
                right_keys,
                residual,
            } => {
                let (l, r) = (self.rows(left), self.rows(right));
                let (lo, ro) = (self.origins(left), self.origins(right));
                let mut sel = 1.0;
                for (a, b) in left_keys.iter().zip(right_keys) {
                    let nd = self
                        .expr_distinct(a, &lo, l)
                        .max(self.expr_distinct(b, &ro, r));
                    sel *= 1.0 / nd;
                }
                if let Some(p) = residual {
                    let mut origins = lo;
                    origins.extend(ro);
                    sel *= self.selectivity(p, &origins, l * r);
                }
                outer_rows(*kind, l * r * sel, l, r)
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
                let l = self.rows(left);
                let per_lookup = match table.index_by_id(access.index_id) {
                    Some(idx) => self.lookup_rows(table, idx, access.range.eq_prefix.len()),
                    None => self.table_rows(table),
                };
                // The filter's equalities on the looked-up key columns restate the key (the
                // optimiser derives them from it): they select nothing more.
                let key_positions: Vec<usize> = table
                    .index_by_id(access.index_id)
                    .map(|idx| {
                        idx.columns
                            .iter()
                            .take(access.range.eq_prefix.len())
                            .filter_map(|ic| table.column_by_id(ic.column_id).map(|(p, _)| p))
                            .collect()
                    })
                    .unwrap_or_default();
                let kept = match filter {
                    Some(f) => {
                        let scan = Plan::Scan {
                            table: table.clone(),
                            qualifier: qualifier.clone(),
                            access: None,
                            filter: None,
                            needed: None,
                        };
                        let origins = self.origins(&scan);
                        let mut parts = Vec::new();
                        conjuncts(f, &mut parts);
                        damped_product(
                            parts
                                .into_iter()
                                .filter(|p| !restates_key(p, &key_positions))
                                .map(|p| self.one_selectivity(p, &origins, self.table_rows(table)))
                                .collect(),
                        )
                    }
                    None => 1.0,
                };
                outer_rows(*kind, l * per_lookup * kept, l, 0.0)
            }
            Plan::SetOp {
                kind, left, right, ..
            } => {
                let (l, r) = (self.rows(left), self.rows(right));
                match kind {
                    SetOpKind::Union => l + r,
                    SetOpKind::Intersect => l.min(r),
                    SetOpKind::Except => l,
                }
            }
        })
    }

    /// The fraction of rows of a relation (of `rows` rows, columns from `origins`) for which
    /// `pred` is true.
    pub fn selectivity(&self, pred: &Expr, origins: &[Option<Origin>], rows: f64) -> f64 {
        let mut parts = Vec::new();
        conjuncts(pred, &mut parts);
        if parts.len() == 1 {
            return self.one_selectivity(pred, origins, rows);
        }
        // A lower and an upper bound on one column are one range, not two independent
        // conditions (PostgreSQL's clauselist_selectivity): `lo < x AND x < hi` keeps
        // sel(x > lo) + sel(x < hi) - 1 of the rows.
        let mut sels = Vec::new();
        let mut ranges: Vec<(usize, f64, f64)> = Vec::new();
        let groups = self.unique_key_groups(&parts, origins);
        for (_, s) in &groups {
            sels.push(*s);
        }
        let grouped = |i: usize| groups.iter().any(|(m, _)| m.contains(&i));
        for (i, p) in parts.into_iter().enumerate() {
            if grouped(i) {
                continue;
            }
            let s = self.one_selectivity(p, origins, rows);
            match range_side(p) {
                Some((column, upper)) => {
                    let at = match ranges.iter().position(|r| r.0 == column) {
                        Some(at) => at,
                        None => {
                            ranges.push((column, 1.0, 1.0));
                            ranges.len() - 1
                        }
                    };
                    let r = &mut ranges[at];
                    if upper {
                        r.2 = r.2.min(s);
                    } else {
                        r.1 = r.1.min(s);
                    }
                }
                None => sels.push(s),
            }
        }
        for (_, lo, hi) in ranges {
            sels.push(if lo == 1.0 || hi == 1.0 {
                lo.min(hi)
            } else if lo == DEFAULT_INEQ_SEL || hi == DEFAULT_INEQ_SEL {
                DEFAULT_RANGE_SEL
            } else {
                (lo + hi - 1.0).max(1.0 / at_least_one(rows))
            });
        }
        damped_product(sels)
    }

    fn one_selectivity(&self, pred: &Expr, origins: &[Option<Origin>], rows: f64) -> f64 {
        let origin_of = |e: &Expr| match strip_casts(e) {
            Expr::Column { index, .. } => origins.get(*index).cloned().flatten(),
            _ => None,
        };
        let column_stats = |o: &Origin| {
            let s = self.stats(&o.table)?;
            let id = o.table.columns.get(o.position)?.id;
            s.column(id).cloned().map(|c| (c, s.row_count))
        };
        clamp01(match pred {
            Expr::Literal {
                value: Value::Bool(b),
                ..
            } => f64::from(u8::from(*b)),
            Expr::Literal {
                value: Value::Null, ..
            } => 0.0,
            Expr::Binary {
                op: BinaryOp::Or,
                left,
                right,
                ..
            } => {
                let a = self.selectivity(left, origins, rows);
                let b = self.selectivity(right, origins, rows);
                a + b - a * b
            }
            Expr::Binary {
                op: BinaryOp::And, ..
            } => self.selectivity(pred, origins, rows),
            Expr::Unary {
                op: UnaryOp::Not,
                expr,
                ..
            } => 1.0 - self.selectivity(expr, origins, rows),
            Expr::IsNull { expr, negated } => {
                let null_frac = origin_of(expr)
                    .and_then(|o| column_stats(&o))
                    .map_or(DEFAULT_EQ_SEL, |(c, _)| c.null_frac);
                if *negated {
                    1.0 - null_frac
                } else {
                    null_frac
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let one = self.eq_selectivity(expr, None, origins, rows);
                let s = (one * list.len() as f64).min(1.0);
                if *negated {
                    1.0 - s
                } else {
                    s
                }
            }
            Expr::Binary {
                op: op @ (BinaryOp::Like | BinaryOp::NotLike | BinaryOp::ILike | BinaryOp::NotILike),
                left,
                right,
                ..
            } => {
                let pattern = match right.as_ref() {
                    Expr::Literal { value, .. } => Some(value),
                    _ => None,
                };
                let stats = origin_of(left).and_then(|o| column_stats(&o));
                let holds = |v: &Value| match crate::expr::binary(
                    *op,
                    v.clone(),
                    pattern?.clone(),
                    &crate::types::DataType::Bool,
                ) {
                    Ok(Value::Bool(b)) => Some(b),
                    _ => None,
                };
                match (stats, pattern) {
                    (Some((c, _)), Some(_)) => c.sample_selectivity(&holds),
                    _ => None,
                }
                .unwrap_or(DEFAULT_SEL)
            }
            Expr::Binary {
                op, left, right, ..
            } if op.is_comparison() => {
                let (l_const, r_const) =
                    (left.max_column().is_none(), right.max_column().is_none());
                match (l_const, r_const) {
                    // Both sides vary: a join (or same-row) comparison.
                    (false, false) => {
                        if *op == BinaryOp::Eq {
                            let nd = self
                                .expr_distinct(left, origins, rows)
                                .max(self.expr_distinct(right, origins, rows));
                            1.0 / nd
                        } else if *op == BinaryOp::NotEq {
                            1.0 - DEFAULT_EQ_SEL
                        } else {
                            DEFAULT_INEQ_SEL
                        }
                    }
                    (true, true) => DEFAULT_SEL,
                    _ => {
                        let (col, value, op) = if r_const {
                            (left.as_ref(), right.as_ref(), *op)
                        } else {
                            (right.as_ref(), left.as_ref(), op.flipped())
                        };
                        let literal = literal_as_column(col, value);
                        let literal = literal.as_ref();
                        match op {
                            BinaryOp::Eq => self.eq_selectivity(col, literal, origins, rows),
                            BinaryOp::NotEq => {
                                1.0 - self.eq_selectivity(col, literal, origins, rows)
                            }
                            _ => {
                                let stats = origin_of(col).and_then(|o| column_stats(&o));
                                match (stats, literal) {
                                    (Some((c, _)), Some(v)) => match op {
                                        BinaryOp::Lt => c.lt_selectivity(v, false),
                                        BinaryOp::LtEq => c.lt_selectivity(v, true),
                                        BinaryOp::Gt => c.gt_selectivity(v, false),
                                        BinaryOp::GtEq => c.gt_selectivity(v, true),
                                        _ => DEFAULT_INEQ_SEL,
                                    },
                                    _ => DEFAULT_INEQ_SEL,
                                }
                            }
                        }
                    }
                }
            }
            _ => DEFAULT_SEL,
        })
    }

    /// Selectivity of `col = value` (`value` known when it is a literal).
    fn eq_selectivity(
        &self,
        col: &Expr,
        value: Option<&Value>,
        origins: &[Option<Origin>],
        rows: f64,
    ) -> f64 {
        let origin = match strip_casts(col) {
            Expr::Column { index, .. } => origins.get(*index).cloned().flatten(),
            _ => None,
        };
        let Some(o) = origin else {
            return DEFAULT_EQ_SEL;
        };
        if Self::is_unique(&o) {
            return 1.0 / self.table_rows(&o.table);
        }
        let stats = self.stats(&o.table);
        let cs = o
            .table
            .columns
            .get(o.position)
            .and_then(|c| stats.as_ref().and_then(|s| s.column(c.id)));
        match (cs, value, stats.as_ref()) {
            (Some(c), Some(v), Some(s)) => c.eq_selectivity(v, s.row_count),
            (Some(c), None, Some(s)) => {
                (1.0 - c.null_frac) / at_least_one(c.distinct_count(s.row_count))
            }
            _ => {
                let _ = rows;
                DEFAULT_EQ_SEL
            }
        }
    }
}

/// For `column op constant` with `op` one of `<`, `<=`, `>`, `>=` (either side, casts
/// aside): the column and whether the constant bounds it from above.
fn range_side(p: &Expr) -> Option<(usize, bool)> {
    let Expr::Binary {
        op, left, right, ..
    } = p
    else {
        return None;
    };
    let upper = match op {
        BinaryOp::Lt | BinaryOp::LtEq => true,
        BinaryOp::Gt | BinaryOp::GtEq => false,
        _ => return None,
    };
    let column = |e: &Expr| match strip_casts(e) {
        Expr::Column { index, .. } => Some(*index),
        _ => None,
    };
    match (column(left), column(right)) {
        (Some(c), None) if right.max_column().is_none() => Some((c, upper)),
        (None, Some(c)) if left.max_column().is_none() => Some((c, !upper)),
        _ => None,
    }
}

/// `col = something` on one of `positions`.
fn restates_key(p: &Expr, positions: &[usize]) -> bool {
    match p {
        Expr::Binary {
            op: BinaryOp::Eq,
            left,
            right,
            ..
        } => [left, right].iter().any(
            |e| matches!(strip_casts(e), Expr::Column { index, .. } if positions.contains(index)),
        ),
        _ => false,
    }
}

/// Rows of a join of `kind` from its inner-join rows: every preserved row of an outer join
/// appears at least once; a semi join keeps a left row once however many rows match it (at
/// most every left row, at most one per match), an anti join the other left rows.
pub(crate) fn outer_rows(kind: JoinKind, inner: f64, l: f64, r: f64) -> f64 {
    match kind {
        JoinKind::Inner => inner,
        JoinKind::Left => inner.max(l),
        JoinKind::Right => inner.max(r),
        JoinKind::Full => inner.max(l).max(r),
        JoinKind::Semi => inner.min(l),
        JoinKind::Anti => (l - inner.min(l)).max(l.min(1.0)),
    }
}

/// The constant `value` as a value of the column under `col`'s casts, for a lookup in that
/// column's statistics (`d::timestamp <= timestamp '1998-09-02 00:00'` looks up date
/// `1998-09-02`; values of another type would compare as different units). `None` when
/// `value` is not a literal or does not convert.
fn literal_as_column(col: &Expr, value: &Expr) -> Option<Value> {
    let Expr::Literal { value, ty } = value else {
        return None;
    };
    let column_ty = strip_casts(col).ty();
    if column_ty.unconstrained() == ty.unconstrained() {
        return Some(value.clone());
    }
    crate::types::cast(value.clone(), ty, &column_ty, true).ok()
}

/// The expression under any casts (a cast keeps the distinct values of what it casts, near
/// enough for estimates).
fn strip_casts(e: &Expr) -> &Expr {
    match e {
        Expr::Cast { expr, .. } => strip_casts(expr),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::types::DataType;

    fn table(id: u32) -> Arc<TableDef> {
        crate::catalog::test_table(id, "", DataType::Int4)
    }

    fn col(i: usize) -> Expr {
        Expr::Column {
            index: i,
            ty: DataType::Int4,
        }
    }

    fn cmp(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
            ty: DataType::Bool,
        }
    }

    fn int(v: i64) -> Expr {
        Expr::literal(Value::Int(v), DataType::Int4)
    }

    fn scan(id: u32, filter: Option<Expr>) -> Plan {
        Plan::Scan {
            table: table(id),
            qualifier: format!("t{id}"),
            access: None,
            filter,
            needed: None,
        }
    }

    #[test]
    fn unique_key_equality_keeps_one_row() {
        let est = Estimator::new(&NoStats);
        let p = scan(1, Some(cmp(BinaryOp::Eq, col(0), int(7))));
        assert_eq!(est.rows(&p), 1.0);
        // A non-key column keeps the default equality fraction of the default table.
        let p = scan(1, Some(cmp(BinaryOp::Eq, col(1), int(7))));
        assert_eq!(est.rows(&p), DEFAULT_TABLE_ROWS * DEFAULT_EQ_SEL);
    }

    #[test]
    fn key_join_keeps_the_foreign_side_rows() {
        // t1.b = t2.a, t2.a unique: each t1 row matches at most one t2 row.
        let est = Estimator::new(&NoStats);
        let j = Plan::Join {
            left: Box::new(scan(1, None)),
            right: Box::new(scan(2, None)),
            kind: JoinKind::Inner,
            on: Some(cmp(BinaryOp::Eq, col(1), col(2))),
        };
        assert_eq!(est.rows(&j), DEFAULT_TABLE_ROWS);
    }

    #[test]
    fn a_join_on_a_whole_composite_key_keeps_the_other_side_rows() {
        // t1's primary key is (a, b); t2.a = t1.a AND t2.b = t1.b matches each t2 row with
        // at most one t1 row, so the join keeps t2's 1,000 rows, not 1000²/(200 × 200).
        let mut t1 = (*table(1)).clone();
        t1.primary.columns.push(crate::catalog::IndexColumn {
            column_id: 2,
            descending: false,
        });
        let t1 = Plan::Scan {
            table: Arc::new(t1),
            qualifier: "t1".into(),
            access: None,
            filter: None,
            needed: None,
        };
        let on = cmp(
            BinaryOp::And,
            cmp(BinaryOp::Eq, col(2), col(0)),
            cmp(BinaryOp::Eq, col(3), col(1)),
        );
        let est = Estimator::new(&NoStats);
        let j = Plan::Join {
            left: Box::new(t1.clone()),
            right: Box::new(scan(2, None)),
            kind: JoinKind::Inner,
            on: Some(on),
        };
        assert_eq!(est.rows(&j), DEFAULT_TABLE_ROWS);
        // One column of the key alone is no such guarantee (t2.b is not unique).
        let j = Plan::Join {
            left: Box::new(t1),
            right: Box::new(scan(2, None)),
            kind: JoinKind::Inner,
            on: Some(cmp(BinaryOp::Eq, col(3), col(0))),
        };
        assert!(est.rows(&j) > DEFAULT_TABLE_ROWS);
    }

    #[test]
    fn estimates_stay_in_range() {
        let est = Estimator::new(&NoStats);
        let preds = [
            cmp(BinaryOp::Eq, col(0), int(1)),
            cmp(BinaryOp::Lt, col(1), int(1)),
            cmp(BinaryOp::NotEq, col(1), col(0)),
            Expr::literal(Value::Bool(false), DataType::Bool),
            Expr::literal(Value::Null, DataType::Bool),
            cmp(
                BinaryOp::Or,
                cmp(BinaryOp::Eq, col(0), int(1)),
                cmp(BinaryOp::Eq, col(0), int(2)),
            ),
        ];
        let origins = est.origins(&scan(1, None));
        for p in &preds {
            let s = est.selectivity(p, &origins, 1000.0);
            assert!((0.0..=1.0).contains(&s), "{p:?}: {s}");
            assert!(est.rows(&scan(1, Some(p.clone()))) >= 1.0);
        }
        assert!(damped_product(vec![0.1, 0.1]) > 0.01);
        assert!(damped_product(vec![0.1, 0.1]) <= 0.1);
        assert_eq!(damped_product(vec![]), 1.0);
    }

    /// Statistics of `t<id>` whose column b (a date) holds days 0..100 evenly.
    #[derive(Debug)]
    struct DaysStats;

    impl StatsSource for DaysStats {
        fn stats(&self, table: &TableDef) -> Option<Arc<TableStats>> {
            Some(Arc::new(TableStats {
                table_id: table.id,
                row_count: 1000.0,
                size_bytes: 0,
                sample_rows: 1000,
                analyzed_at_micros: 0,
                auto: false,
                columns: vec![crate::stats::ColumnStats {
                    column_id: 2,
                    type_name: "date".into(),
                    null_frac: 0.0,
                    avg_width: 4,
                    n_distinct: 100.0,
                    mcv: Vec::new(),
                    histogram: (0..=10).map(|d| Value::Int(d * 10)).collect(),
                    correlation: None,
                }],
                indexes: Vec::new(),
            }))
        }
    }

    /// t<id> with 1,000 rows whose index 2 on (b, c) has 250 distinct keys.
    #[derive(Debug)]
    struct PairIndexStats;

    impl StatsSource for PairIndexStats {
        fn stats(&self, table: &TableDef) -> Option<Arc<TableStats>> {
            let mut s = (*DaysStats.stats(table)?).clone();
            s.indexes.push(crate::stats::IndexStats {
                index_id: 2,
                column_ids: vec![2, 3],
                distinct_keys: 250.0,
            });
            Some(Arc::new(s))
        }
    }

    #[test]
    fn a_key_lookup_keeps_the_rows_per_distinct_key() {
        // b has 100 distinct values and c (no statistics) counts 200: independence would
        // give 1000 / (100 × 200) = 0.05 rows per (b, c); ANALYZE saw 250 distinct pairs,
        // so a lookup finds 4.
        let mut t = (*table(1)).clone();
        t.columns.push(crate::catalog::ColumnDef {
            id: 3,
            name: "c".into(),
            ty: DataType::Int4,
            nullable: true,
            default: None,
            hidden: false,
        });
        let index = crate::catalog::IndexDef {
            id: 2,
            name: "t1_b_c".into(),
            columns: [2, 3]
                .map(|column_id| crate::catalog::IndexColumn {
                    column_id,
                    descending: false,
                })
                .to_vec(),
            unique: false,
            constraint: false,
        };
        t.indexes.push(index.clone());
        let t = Arc::new(t);
        let est = Estimator::new(&PairIndexStats);
        assert_eq!(est.lookup_rows(&t, &index, 2), 4.0);
        // One column: 1000 / 100 = 10 rows per b, more than per whole key.
        assert_eq!(est.lookup_rows(&t, &index, 1), 10.0);
    }

    #[test]
    fn a_date_column_widened_to_timestamp_is_estimated_in_days() {
        // `b::timestamp <= timestamp 'day 90'` (the binder's form of `b <= date + interval`)
        // must look day 90 up in b's histogram, not 90 days' worth of microseconds.
        let table = crate::catalog::test_table(1, "", DataType::Date);
        let plan = Plan::Scan {
            table,
            qualifier: "t1".into(),
            access: None,
            filter: None,
            needed: None,
        };
        let est = Estimator::new(&DaysStats);
        let origins = est.origins(&plan);
        let widened = Expr::Cast {
            expr: Box::new(Expr::Column {
                index: 1,
                ty: DataType::Date,
            }),
            ty: DataType::Timestamp(None),
        };
        let day_90 = Expr::literal(Value::Int(90 * 86_400_000_000), DataType::Timestamp(None));
        let s = est.selectivity(
            &cmp(BinaryOp::LtEq, widened.clone(), day_90.clone()),
            &origins,
            1000.0,
        );
        assert!((0.8..=0.95).contains(&s), "selectivity {s}");
        // With a lower bound on the same column it is one range: days 80..=90, about a
        // tenth of the rows, not the product of 0.2 and 0.9.
        let day_80 = Expr::literal(Value::Int(80), DataType::Date);
        let b = Expr::Column {
            index: 1,
            ty: DataType::Date,
        };
        let range = cmp(
            BinaryOp::And,
            cmp(BinaryOp::GtEq, b, day_80),
            cmp(BinaryOp::LtEq, widened, day_90),
        );
        let s = est.selectivity(&range, &origins, 1000.0);
        assert!((0.05..=0.15).contains(&s), "range selectivity {s}");
    }
}

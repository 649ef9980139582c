//! Window functions: runs a `Plan::Window` over its input rows.
//!
//! Role: a child of `exec` (it shares its aggregate states, NULL-aware ordering and grouping
//! bytes). Each call is computed on its own: the rows' PARTITION BY bytes and ORDER BY
//! values are evaluated once, row numbers are sorted by (partition bytes, ORDER BY) with a
//! stable sort (so input order decides among peers), and each partition is walked in that
//! order. The output is every input row with one value per call appended, in the last call's
//! sorted order.
//!
//! Invariants:
//! 1. Peers are rows of one partition whose ORDER BY values are all equal (NULLs equal);
//!    without ORDER BY every row of the partition is a peer of every other. rank, dense_rank,
//!    percent_rank, cume_dist and the RANGE and GROUPS frame modes are defined by peers
//!    alone, as in PostgreSQL.
//! 2. A frame is a half-open range `[start, end)` of partition positions; both ends move
//!    forward (never back) as the current row does, so an aggregate whose frame start stays
//!    put adds only the rows that entered. When the start moves, count, sum and avg over
//!    exact types subtract the rows that left (`Moving`); other aggregates are recomputed
//!    over the frame. An empty frame gives the aggregate's value over no rows (count 0,
//!    sum NULL).
//! 3. Frame offsets hold no column references (the binder checks it), so they are evaluated
//!    once per call and checked as PostgreSQL does: NULL is 22004, negative 22013.
//! 4. A RANGE offset bound is found by binary search over the partition's ORDER BY key in
//!    sort order; the current row's own peers are always in its frame when the bound is
//!    CURRENT ROW, and a row with a NULL key has exactly its NULL peers as the offset
//!    bounds' frame, as PostgreSQL has it.

use std::cmp::Ordering;

use cairn_sql_plan::plan::{
    AggCall, AggOrder, FrameBound, FrameOffset, FrameUnits, WindowCall, WindowFunc,
};
use cairn_sql_plan::types::datetime::Interval;
use cairn_sql_plan::types::{compare, Numeric, Value};
use cairn_sql_plan::{code, Result, SqlError};

use cairn_sql_plan::expr::BinaryOp;
use cairn_sql_plan::plan::AggFunc;

use super::{
    agg_final, agg_init, agg_step, group_key, order_values, truthy, AggState, ExecCtx, Row,
};

/// `Plan::Window`: `rows` with one column per call appended (module docs).
pub(super) fn window(rows: Vec<Row>, calls: &[WindowCall], cx: &ExecCtx) -> Result<Vec<Row>> {
    let mut columns = Vec::with_capacity(calls.len());
    let mut order: Vec<usize> = (0..rows.len()).collect();
    for call in calls {
        let (values, sorted) = compute(&rows, call, cx)?;
        columns.push(values);
        order = sorted;
    }
    let mut slots: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for i in order {
        let Some(mut row) = slots.get_mut(i).and_then(Option::take) else {
            return Err(SqlError::internal("window row order repeats a row"));
        };
        for c in columns.iter_mut() {
            row.push(std::mem::replace(&mut c[i], Value::Null));
        }
        out.push(row);
    }
    Ok(out)
}

fn order_cmp(a: &[Value], b: &[Value], keys: &[AggOrder]) -> Ordering {
    for (k, o) in keys.iter().enumerate() {
        let ord = order_values(&a[k], &b[k], o.descending, o.nulls_first);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// One call's value for every row (by input position) and the sorted row order.
fn compute(rows: &[Row], call: &WindowCall, cx: &ExecCtx) -> Result<(Vec<Value>, Vec<usize>)> {
    let n = rows.len();
    let mut parts = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    for r in rows {
        let mut p = Vec::with_capacity(call.partition_by.len());
        for e in &call.partition_by {
            p.push(cx.eval(e, r)?);
        }
        parts.push(group_key(&p));
        let mut k = Vec::with_capacity(call.order_by.len());
        for o in &call.order_by {
            k.push(cx.eval(&o.expr, r)?);
        }
        keys.push(k);
    }
    let mut sorted: Vec<usize> = (0..n).collect();
    sorted.sort_by(|&a, &b| {
        parts[a]
            .cmp(&parts[b])
            .then_with(|| order_cmp(&keys[a], &keys[b], &call.order_by))
    });
    let mut out = vec![Value::Null; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && parts[sorted[end]] == parts[sorted[start]] {
            end += 1;
        }
        let part = Partition::new(&sorted[start..end], rows, &keys, &call.order_by);
        part.compute(call, cx, &mut out)?;
        start = end;
    }
    Ok((out, sorted))
}

/// One partition in sort order, with its peer groups.
struct Partition<'a> {
    /// Input positions of its rows, in sort order.
    rows: &'a [usize],
    input: &'a [Row],
    /// Per position: peer group number.
    group_of: Vec<usize>,
    /// Per peer group: `[start, end)` positions.
    groups: Vec<(usize, usize)>,
}

impl<'a> Partition<'a> {
    fn new(
        rows: &'a [usize],
        input: &'a [Row],
        keys: &[Vec<Value>],
        order_by: &[AggOrder],
    ) -> Partition<'a> {
        let mut group_of = Vec::with_capacity(rows.len());
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for (j, &r) in rows.iter().enumerate() {
            let peer = j > 0 && order_cmp(&keys[rows[j - 1]], &keys[r], order_by).is_eq();
            match groups.last_mut() {
                Some(g) if peer => g.1 = j + 1,
                _ => groups.push((j, j + 1)),
            }
            group_of.push(groups.len() - 1);
        }
        Partition {
            rows,
            input,
            group_of,
            groups,
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn row(&self, j: usize) -> &'a Row {
        &self.input[self.rows[j]]
    }

    fn peers(&self, j: usize) -> (usize, usize) {
        self.groups[self.group_of[j]]
    }

    /// Evaluates `e` over every row of the partition, in order.
    fn eval_all(&self, e: &cairn_sql_plan::expr::Expr, cx: &ExecCtx) -> Result<Vec<Value>> {
        (0..self.len()).map(|j| cx.eval(e, self.row(j))).collect()
    }

    fn compute(&self, call: &WindowCall, cx: &ExecCtx, out: &mut [Value]) -> Result<()> {
        let m = self.len();
        let mut set = |j: usize, v: Value| out[self.rows[j]] = v;
        match &call.func {
            WindowFunc::RowNumber => (0..m).for_each(|j| set(j, Value::Int(j as i64 + 1))),
            WindowFunc::Rank => (0..m).for_each(|j| set(j, Value::Int(self.peers(j).0 as i64 + 1))),
            WindowFunc::DenseRank => {
                (0..m).for_each(|j| set(j, Value::Int(self.group_of[j] as i64 + 1)))
            }
            WindowFunc::PercentRank => (0..m).for_each(|j| {
                let v = if m > 1 {
                    self.peers(j).0 as f64 / (m - 1) as f64
                } else {
                    0.0
                };
                set(j, Value::Float(v))
            }),
            WindowFunc::CumeDist => {
                (0..m).for_each(|j| set(j, Value::Float(self.peers(j).1 as f64 / m as f64)))
            }
            WindowFunc::Ntile => {
                let arg = call
                    .args
                    .first()
                    .ok_or_else(|| SqlError::internal("ntile arity"))?;
                // Evaluated at the partition's first row, as PostgreSQL does.
                let buckets = match cx.eval(arg, self.row(0))? {
                    Value::Null => None,
                    Value::Int(b) if b > 0 => Some(b as usize),
                    _ => {
                        return Err(SqlError::new(
                            code::INVALID_ARGUMENT_FOR_NTILE,
                            "argument of ntile must be greater than zero",
                        ))
                    }
                };
                for (j, b) in ntile(m, buckets).into_iter().enumerate() {
                    set(j, b.map_or(Value::Null, |b| Value::Int(b as i64)));
                }
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                let [value, offset, default] = call.args.as_slice() else {
                    return Err(SqlError::internal("lag/lead arity"));
                };
                for j in 0..m {
                    let here = self.row(j);
                    let Value::Int(off) = cx.eval(offset, here)? else {
                        set(j, Value::Null);
                        continue;
                    };
                    let target = if matches!(call.func, WindowFunc::Lag) {
                        (j as i64).checked_sub(off)
                    } else {
                        (j as i64).checked_add(off)
                    };
                    let v = match target.and_then(|t| usize::try_from(t).ok()) {
                        Some(t) if t < m => cx.eval(value, self.row(t))?,
                        _ => cx.eval(default, here)?,
                    };
                    set(j, v);
                }
            }
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
                let value = call
                    .args
                    .first()
                    .ok_or_else(|| SqlError::internal("value function arity"))?;
                let values = self.eval_all(value, cx)?;
                let frames = self.frames(call, cx)?;
                for (j, (fs, fe)) in frames.into_iter().enumerate() {
                    let pos = match &call.func {
                        WindowFunc::FirstValue => Some(fs),
                        WindowFunc::LastValue => fe.checked_sub(1),
                        _ => {
                            let n_expr = call
                                .args
                                .get(1)
                                .ok_or_else(|| SqlError::internal("nth_value arity"))?;
                            match cx.eval(n_expr, self.row(j))? {
                                Value::Null => None,
                                Value::Int(k) if k > 0 => {
                                    fs.checked_add(usize::try_from(k - 1).unwrap_or(usize::MAX))
                                }
                                _ => {
                                    return Err(SqlError::new(
                                        code::INVALID_ARGUMENT_FOR_NTH_VALUE,
                                        "argument of nth_value must be greater than zero",
                                    ))
                                }
                            }
                        }
                    };
                    let v = match pos {
                        Some(p) if p >= fs && p < fe => values[p].clone(),
                        _ => Value::Null,
                    };
                    set(j, v);
                }
            }
            WindowFunc::Aggregate(a) => {
                let frames = self.frames(call, cx)?;
                for (j, v) in self.aggregate(a, &frames, cx)?.into_iter().enumerate() {
                    set(j, v);
                }
            }
        }
        Ok(())
    }

    /// The aggregate's value over each row's frame (invariant 2).
    fn aggregate(
        &self,
        a: &AggCall,
        frames: &[(usize, usize)],
        cx: &ExecCtx,
    ) -> Result<Vec<Value>> {
        // Per position: the (argument, extra) it feeds, or None when FILTER rejects it.
        let mut inputs = Vec::with_capacity(self.len());
        for j in 0..self.len() {
            let r = self.row(j);
            if let Some(f) = &a.filter {
                if !truthy(cx.eval(f, r)?)? {
                    inputs.push(None);
                    continue;
                }
            }
            let v = match &a.arg {
                Some(e) => cx.eval(e, r)?,
                None => Value::Null,
            };
            let extra = match &a.extra {
                Some(e) => Some(cx.eval(e, r)?),
                None => None,
            };
            inputs.push(Some((v, extra)));
        }
        if let Some(moving) = Moving::for_call(a) {
            return moving.run(&inputs, frames);
        }
        let step = |st: &mut _, p: usize| -> Result<()> {
            match &inputs[p] {
                Some((v, extra)) => agg_step(a, st, std::borrow::Cow::Borrowed(v), extra.clone()),
                None => Ok(()),
            }
        };
        let mut out = Vec::with_capacity(frames.len());
        let mut state = agg_init(a);
        // The frame `state` holds: [held_start, held_end).
        let (mut held_start, mut held_end) = (0, 0);
        let mut last: Option<((usize, usize), Value)> = None;
        for &(fs, fe) in frames {
            if let Some((f, v)) = &last {
                if *f == (fs, fe) {
                    out.push(v.clone());
                    continue;
                }
            }
            if fs == held_start && fe >= held_end {
                for p in held_end..fe {
                    step(&mut state, p)?;
                }
            } else {
                state = agg_init(a);
                for p in fs..fe {
                    step(&mut state, p)?;
                }
                held_start = fs;
            }
            held_end = fe.max(fs);
            let v = agg_final(state.clone())?;
            last = Some(((fs, fe), v.clone()));
            out.push(v);
        }
        Ok(out)
    }

    /// Each row's frame as `[start, end)` positions (`start >= end`: empty).
    fn frames(&self, call: &WindowCall, cx: &ExecCtx) -> Result<Vec<(usize, usize)>> {
        let m = self.len();
        let units = call.frame.units;
        let start = Bound::new(&call.frame.start, units, true, self, cx)?;
        let end = Bound::new(&call.frame.end, units, false, self, cx)?;
        let mut frames = Vec::with_capacity(m);
        for j in 0..m {
            let s = start.position(j, self, units, &call.order_by, false)?;
            let e = end.position(j, self, units, &call.order_by, true)?;
            frames.push((s, e));
        }
        Ok(frames)
    }
}

/// count, sum and avg over exact types on sliding frames: rows leaving the frame are
/// subtracted instead of the frame being summed again (PostgreSQL's moving-aggregate
/// transition). Floats are left to recomputation: subtracting them loses precision.
struct Moving<'a> {
    a: &'a AggCall,
    /// The running sum (sum and avg), in the aggregate's type.
    sum: Option<Value>,
    /// Rows counted: non-NULL inputs (count(*): every row) that passed FILTER.
    n: i64,
}

impl<'a> Moving<'a> {
    fn for_call(a: &'a AggCall) -> Option<Moving<'a>> {
        let exact = !matches!(
            a.ty,
            cairn_sql_plan::types::DataType::Float4 | cairn_sql_plan::types::DataType::Float8
        );
        let func_ok = match a.func {
            AggFunc::CountStar | AggFunc::Count => true,
            AggFunc::Sum | AggFunc::Avg => exact,
            _ => false,
        };
        (func_ok && !a.distinct && a.order_by.is_empty()).then_some(Moving { a, sum: None, n: 0 })
    }

    fn apply(&mut self, input: &Option<(Value, Option<Value>)>, add: bool) -> Result<()> {
        let Some((v, _)) = input else {
            return Ok(());
        };
        if self.a.func == AggFunc::CountStar {
            self.n += if add { 1 } else { -1 };
            return Ok(());
        }
        if v.is_null() {
            return Ok(());
        }
        self.n += if add { 1 } else { -1 };
        if matches!(self.a.func, AggFunc::Sum | AggFunc::Avg) {
            self.sum = Some(match self.sum.take() {
                None if add => v.clone(),
                None => return Err(SqlError::internal("moving aggregate removes from nothing")),
                Some(s) => {
                    let op = if add { BinaryOp::Add } else { BinaryOp::Sub };
                    cairn_sql_plan::expr::binary(op, s, v.clone(), &self.a.ty)?
                }
            });
        }
        Ok(())
    }

    fn value(&self) -> Result<Value> {
        Ok(match self.a.func {
            AggFunc::CountStar | AggFunc::Count => Value::Int(self.n),
            _ if self.n == 0 => Value::Null,
            AggFunc::Sum => self.sum.clone().unwrap_or(Value::Null),
            _ => agg_final(AggState::Avg(self.sum.clone(), self.n))?,
        })
    }

    fn run(
        mut self,
        inputs: &[Option<(Value, Option<Value>)>],
        frames: &[(usize, usize)],
    ) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(frames.len());
        // The frame the state holds: [hs, he).
        let (mut hs, mut he) = (0, 0);
        for &(fs, fe) in frames {
            let fe = fe.max(fs);
            if fs < hs || fe < he || fs >= he {
                // Not a forward slide over overlapping frames: start again.
                self.sum = None;
                self.n = 0;
                (hs, he) = (fs, fs);
            }
            for input in &inputs[he..fe] {
                self.apply(input, true)?;
            }
            for input in &inputs[hs..fs] {
                self.apply(input, false)?;
            }
            (hs, he) = (fs, fe);
            out.push(self.value()?);
        }
        Ok(out)
    }
}

/// Bucket numbers (1-based) of `m` rows split into `buckets` as even as can be, the first
/// `m % buckets` buckets one row larger; all NULL when `buckets` is NULL.
fn ntile(m: usize, buckets: Option<usize>) -> Vec<Option<usize>> {
    let Some(k) = buckets else {
        return vec![None; m];
    };
    let (per, extra) = (m / k, m % k);
    let mut out = Vec::with_capacity(m);
    let mut bucket = 1;
    let mut left = per + usize::from(extra > 0);
    for _ in 0..m {
        if left == 0 {
            bucket += 1;
            left = per + usize::from(bucket <= extra);
        }
        out.push(Some(bucket));
        left -= 1;
    }
    out
}

/// One frame bound, ready to place for any row of a partition.
enum Bound {
    UnboundedPreceding,
    UnboundedFollowing,
    CurrentRow,
    /// ROWS or GROUPS offset (a count), preceding when `preceding`.
    Count {
        n: usize,
        preceding: bool,
    },
    /// RANGE offset: per position, the bound value and the row's key in the bound's type.
    Range {
        bounds: Vec<Value>,
        keys: Vec<Value>,
    },
}

impl Bound {
    fn new(
        b: &FrameBound,
        units: FrameUnits,
        is_start: bool,
        part: &Partition,
        cx: &ExecCtx,
    ) -> Result<Bound> {
        let (o, preceding): (&FrameOffset, bool) = match b {
            FrameBound::UnboundedPreceding => return Ok(Bound::UnboundedPreceding),
            FrameBound::UnboundedFollowing => return Ok(Bound::UnboundedFollowing),
            FrameBound::CurrentRow => return Ok(Bound::CurrentRow),
            FrameBound::Preceding(o) => (o, true),
            FrameBound::Following(o) => (o, false),
        };
        let which = if is_start { "starting" } else { "ending" };
        let offset = cx.eval(&o.offset, part.row(0))?;
        if offset.is_null() {
            return Err(SqlError::new(
                code::NULL_VALUE_NOT_ALLOWED,
                format!("frame {which} offset must not be null"),
            ));
        }
        if is_negative(&offset) {
            let message = if units == FrameUnits::Range {
                "invalid preceding or following size in window function".to_string()
            } else {
                format!("frame {which} offset must not be negative")
            };
            return Err(SqlError::new(
                code::INVALID_PRECEDING_OR_FOLLOWING_SIZE,
                message,
            ));
        }
        match (&o.range, offset) {
            (Some((bound, key)), _) => Ok(Bound::Range {
                bounds: part.eval_all(bound, cx)?,
                keys: part.eval_all(key, cx)?,
            }),
            (None, Value::Int(n)) => Ok(Bound::Count {
                n: usize::try_from(n).unwrap_or(usize::MAX),
                preceding,
            }),
            (None, other) => Err(SqlError::internal(format!(
                "frame offset {other:?} is not a count"
            ))),
        }
    }

    /// The position this bound gives row `j`: a start is the first position in the frame,
    /// an end (`is_end`) the first position after it.
    fn position(
        &self,
        j: usize,
        part: &Partition,
        units: FrameUnits,
        order_by: &[AggOrder],
        is_end: bool,
    ) -> Result<usize> {
        let m = part.len();
        let (peer_start, peer_end) = part.peers(j);
        Ok(match self {
            Bound::UnboundedPreceding => 0,
            Bound::UnboundedFollowing => m,
            Bound::CurrentRow => match (units, is_end) {
                (FrameUnits::Rows, false) => j,
                (FrameUnits::Rows, true) => j + 1,
                (_, false) => peer_start,
                (_, true) => peer_end,
            },
            Bound::Count { n, preceding } => {
                // The row (ROWS) or peer group (GROUPS) `n` away; None: before the first.
                let (here, count) = match units {
                    FrameUnits::Rows => (j, m),
                    _ => (part.group_of[j], part.groups.len()),
                };
                let target = if *preceding {
                    here.checked_sub(*n)
                } else {
                    Some(here.saturating_add(*n))
                };
                match target {
                    None => 0,
                    Some(t) if t >= count => m,
                    Some(t) => match (units, is_end) {
                        (FrameUnits::Rows, false) => t,
                        (FrameUnits::Rows, true) => t + 1,
                        (_, false) => part.groups[t].0,
                        (_, true) => part.groups[t].1,
                    },
                }
            }
            Bound::Range { bounds, keys } => {
                let key = &keys[j];
                if key.is_null() {
                    return Ok(if is_end { peer_end } else { peer_start });
                }
                let o = order_by
                    .first()
                    .ok_or_else(|| SqlError::internal("RANGE offset without ORDER BY"))?;
                let b = &bounds[j];
                let side = |p: usize| order_values(&keys[p], b, o.descending, o.nulls_first);
                if is_end {
                    partition_point(m, |p| side(p) != Ordering::Greater)
                } else {
                    partition_point(m, |p| side(p) == Ordering::Less)
                }
            }
        })
    }
}

/// The first position in `0..m` where `pred` is false (`pred` holds on a prefix).
fn partition_point(m: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, m);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn is_negative(v: &Value) -> bool {
    let zero = match v {
        Value::Int(_) => Value::Int(0),
        Value::Float(_) => Value::Float(0.0),
        Value::Numeric(_) => Value::numeric(Numeric::from_i64(0)),
        Value::Interval(_) => Value::Interval(Interval {
            months: 0,
            days: 0,
            micros: 0,
        }),
        _ => return false,
    };
    compare(v, &zero) == Some(Ordering::Less)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(m: usize, k: usize) -> Vec<usize> {
        let mut counts = vec![0; k];
        for b in ntile(m, Some(k)).into_iter().flatten() {
            counts[b - 1] += 1;
        }
        counts
    }

    #[test]
    fn ntile_makes_the_first_buckets_one_larger() {
        assert_eq!(sizes(10, 3), vec![4, 3, 3]);
        assert_eq!(sizes(11, 3), vec![4, 4, 3]);
        assert_eq!(sizes(9, 3), vec![3, 3, 3]);
        // More buckets than rows: one row each, the rest empty.
        assert_eq!(sizes(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(ntile(3, None), vec![None, None, None]);
        // Bucket numbers never decrease along the partition.
        let b: Vec<usize> = ntile(7, Some(3)).into_iter().flatten().collect();
        assert!(b.windows(2).all(|w| w[0] <= w[1]), "{b:?}");
    }

    #[test]
    fn partition_point_finds_the_end_of_the_true_prefix() {
        let keys = [1, 3, 3, 5, 8];
        assert_eq!(partition_point(keys.len(), |p| keys[p] < 3), 1);
        assert_eq!(partition_point(keys.len(), |p| keys[p] <= 3), 3);
        assert_eq!(partition_point(keys.len(), |p| keys[p] < 0), 0);
        assert_eq!(partition_point(keys.len(), |p| keys[p] < 100), 5);
        assert_eq!(partition_point(0, |_| true), 0);
    }

    #[test]
    fn offsets_below_zero_are_negative() {
        assert!(is_negative(&Value::Int(-1)));
        assert!(!is_negative(&Value::Int(0)));
        assert!(is_negative(&Value::Float(-0.5)));
        assert!(is_negative(&Value::numeric(Numeric::from_i64(-3))));
        assert!(is_negative(&Value::Interval(Interval {
            months: 0,
            days: -1,
            micros: 0,
        })));
        assert!(!is_negative(&Value::Interval(Interval {
            months: 0,
            days: 1,
            micros: 0,
        })));
    }
}

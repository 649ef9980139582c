//! Table and column statistics as the optimiser reads them, and the selectivity estimators
//! over them (PostgreSQL's `eqsel`, `scalarineqsel` and `nulltestsel` ideas).
//!
//! Role: `ANALYZE` in `cairn-sql-exec` (`analyze.rs`) builds a [`TableStats`] per table and
//! stores it in a system table; the planner reads it through
//! [`crate::catalog::Catalog::table_stats`] and asks a [`ColumnStats`] how many rows a
//! predicate keeps. This module is pure: no I/O, no state. The distinct-count sketch is in
//! [`hll`].
//!
//! What a `ColumnStats` holds (PostgreSQL's `pg_statistic` slots, by the same rules):
//! - `null_frac`: fraction of rows where the column is NULL;
//! - `n_distinct`: `> 0` a distinct count; `< 0` minus the fraction of rows that are distinct
//!   (used when the count grows with the table, as PostgreSQL does when it is above 10% of
//!   the rows); `0` unknown;
//! - `mcv`: the most common values with their frequencies (fractions of *all* rows), most
//!   frequent first;
//! - `histogram`: equi-depth bucket bounds, ascending, over the non-NULL values that are not
//!   in `mcv` (each bucket holds about the same number of those rows);
//! - `correlation`: Pearson correlation in -1..=1 between the physical (primary key) order of
//!   the rows and the order of this column's values.
//!
//! Invariants:
//! 1. Every selectivity an estimator returns is within `0.0..=1.0`, whatever the stats hold
//!    (stored stats may be stale or odd). Test: `estimators_stay_in_unit_interval`.
//! 2. `mcv` frequencies plus `null_frac` never exceed 1 after [`ColumnStats::normalise`], and
//!    histogram bounds are ascending by `types::compare`. `normalise` enforces both on data
//!    read from disk. Test: `normalise_repairs_inconsistent_stats`.
//! 3. Estimates on uniform, Zipf-skewed and NULL-heavy data are within the tolerances stated
//!    in the tests (`uniform_*`, `zipf_*`, `null_heavy_*`).

pub mod hll;

use std::cmp::Ordering;

use crate::types::{compare, Value};

/// The default `default_statistics_target`: up to this many MCVs and histogram buckets.
pub const DEFAULT_STATISTICS_TARGET: usize = 100;

/// Selectivity of `col = const` when nothing is known (PostgreSQL's DEFAULT_EQ_SEL).
pub const DEFAULT_EQ_SEL: f64 = 0.005;
/// Selectivity of `col < const` when nothing is known (PostgreSQL's DEFAULT_INEQ_SEL).
pub const DEFAULT_INEQ_SEL: f64 = 1.0 / 3.0;
/// Selectivity of a range `a < col < b` when nothing is known (DEFAULT_RANGE_INEQ_SEL).
pub const DEFAULT_RANGE_SEL: f64 = 0.005;

/// Statistics of one table, as of its last ANALYZE.
#[derive(Clone, Debug, PartialEq)]
pub struct TableStats {
    pub table_id: u32,
    /// Live rows counted (every row is counted, even when only a sample is analysed).
    pub row_count: f64,
    /// Bytes of the table's rows (keys and values of its primary index).
    pub size_bytes: u64,
    /// Rows the column statistics were computed from (all rows, or the reservoir sample).
    pub sample_rows: u64,
    /// Wall-clock time of the ANALYZE, microseconds since the Unix epoch.
    pub analyzed_at_micros: i64,
    /// Whether the automatic refresh (not a user's ANALYZE) computed it.
    pub auto: bool,
    pub columns: Vec<ColumnStats>,
    pub indexes: Vec<IndexStats>,
}

/// Statistics of one column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStats {
    pub column_id: u32,
    /// `DataType::sql_name` of the column when analysed: stats of a column whose type has
    /// changed since are stale and are dropped when read.
    pub type_name: String,
    pub null_frac: f64,
    /// Average width in bytes of the non-NULL values (as stored).
    pub avg_width: u32,
    pub n_distinct: f64,
    /// Most common values and their frequencies (fractions of all rows), most frequent first.
    pub mcv: Vec<(Value, f64)>,
    /// Equi-depth histogram bounds (ascending) of the non-NULL values not in `mcv`.
    pub histogram: Vec<Value>,
    /// Physical-order correlation; `None` when fewer than two non-NULL values were seen.
    pub correlation: Option<f64>,
}

/// Statistics of one index (primary or secondary).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexStats {
    pub index_id: u32,
    /// The indexed columns, in index order.
    pub column_ids: Vec<u32>,
    /// Estimated distinct values of the whole index key (rows with a NULL key column count).
    pub distinct_keys: f64,
}

impl TableStats {
    pub fn column(&self, column_id: u32) -> Option<&ColumnStats> {
        self.columns.iter().find(|c| c.column_id == column_id)
    }

    pub fn index(&self, index_id: u32) -> Option<&IndexStats> {
        self.indexes.iter().find(|i| i.index_id == index_id)
    }

    /// Size in PostgreSQL's 8 KiB pages (`pg_class.relpages`), at least 1 for a non-empty table.
    pub fn pages(&self) -> u64 {
        self.size_bytes.div_ceil(8192)
    }
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// The PostgreSQL `n_distinct` convention for `distinct` values among `rows` rows.
pub fn n_distinct_convention(distinct: f64, rows: f64) -> f64 {
    if rows <= 0.0 || distinct <= 0.0 {
        return 0.0;
    }
    if distinct > 0.1 * rows {
        -(distinct / rows).min(1.0)
    } else {
        distinct.round().max(1.0)
    }
}

impl ColumnStats {
    /// Makes stats read from disk self-consistent (invariant 2): fractions clamped, MCV
    /// frequencies scaled down if they and `null_frac` exceed 1, histogram sorted.
    pub fn normalise(&mut self) {
        self.null_frac = clamp01(self.null_frac);
        for (_, f) in self.mcv.iter_mut() {
            *f = clamp01(*f);
        }
        let total: f64 = self.mcv.iter().map(|(_, f)| *f).sum();
        let room = 1.0 - self.null_frac;
        if total > room && total > 0.0 {
            let scale = room / total;
            for (_, f) in self.mcv.iter_mut() {
                *f *= scale;
            }
        }
        self.mcv.retain(|(v, _)| !v.is_null());
        self.histogram.retain(|v| !v.is_null());
        self.histogram
            .sort_by(|a, b| compare(a, b).unwrap_or(Ordering::Equal));
        if let Some(c) = self.correlation {
            self.correlation = if c.is_nan() {
                None
            } else {
                Some(c.clamp(-1.0, 1.0))
            };
        }
        if self.n_distinct.is_nan() {
            self.n_distinct = 0.0;
        }
        self.n_distinct = self.n_distinct.max(-1.0);
    }

    /// Estimated number of distinct non-NULL values in a table of `row_count` rows.
    pub fn distinct_count(&self, row_count: f64) -> f64 {
        if self.n_distinct < 0.0 {
            (-self.n_distinct * row_count).max(1.0)
        } else if self.n_distinct > 0.0 {
            self.n_distinct
        } else {
            // Unknown: PostgreSQL's default of 200 distinct values.
            200f64.min(row_count.max(1.0))
        }
    }

    fn mcv_total(&self) -> f64 {
        self.mcv.iter().map(|(_, f)| *f).sum()
    }

    /// Selectivity of `col IS NULL`.
    pub fn is_null_selectivity(&self) -> f64 {
        clamp01(self.null_frac)
    }

    /// Selectivity of `col IS NOT NULL`.
    pub fn is_not_null_selectivity(&self) -> f64 {
        clamp01(1.0 - self.null_frac)
    }

    /// Selectivity of `col = v` in a table of `row_count` rows (PostgreSQL's `var_eq_const`):
    /// an MCV's own frequency; otherwise the rest of the non-NULL rows spread evenly over the
    /// distinct values that are not MCVs, never more than the least common MCV.
    pub fn eq_selectivity(&self, v: &Value, row_count: f64) -> f64 {
        if v.is_null() {
            return 0.0; // `col = NULL` is never true
        }
        if let Some((_, f)) = self
            .mcv
            .iter()
            .find(|(m, _)| compare(m, v) == Some(Ordering::Equal))
        {
            return clamp01(*f);
        }
        let rest = 1.0 - self.null_frac - self.mcv_total();
        let other_distinct = self.distinct_count(row_count) - self.mcv.len() as f64;
        let mut sel = if other_distinct > 1.0 {
            rest / other_distinct
        } else {
            rest
        };
        if let Some(least) = self.mcv.iter().map(|(_, f)| *f).reduce(f64::min) {
            sel = sel.min(least);
        }
        // A value outside the histogram's range is rarer than one inside it, but PostgreSQL
        // does not special-case it for equality; neither do we.
        clamp01(sel)
    }

    /// Selectivity of a condition that statistics cannot order (`LIKE '%green%'`), from the
    /// values ANALYZE kept (PostgreSQL's `histogram_selectivity` with the MCVs): the MCVs
    /// for which `holds` is true, plus the fraction of histogram bounds for which it is,
    /// times the rows the histogram stands for. `None` with fewer than 10 histogram bounds
    /// (too few to say) or when `holds` cannot decide (`None`) for some value.
    pub fn sample_selectivity(&self, holds: &dyn Fn(&Value) -> Option<bool>) -> Option<f64> {
        if self.histogram.len() < 10 {
            return None;
        }
        let mut mcv_sel = 0.0;
        for (m, f) in &self.mcv {
            if holds(m)? {
                mcv_sel += f;
            }
        }
        let mut hits = 0usize;
        for v in &self.histogram {
            if holds(v)? {
                hits += 1;
            }
        }
        // Never quite 0 or 1: the sample saw a few hundred values, not all of them.
        let frac = (hits as f64 / self.histogram.len() as f64).clamp(0.0001, 0.9999);
        let hist_rows = (1.0 - self.null_frac - self.mcv_total()).max(0.0);
        Some(clamp01(mcv_sel + frac * hist_rows))
    }

    /// Selectivity of `col <> v` (NULLs excluded, as SQL does).
    pub fn ne_selectivity(&self, v: &Value, row_count: f64) -> f64 {
        if v.is_null() {
            return 0.0;
        }
        clamp01(1.0 - self.null_frac - self.eq_selectivity(v, row_count))
    }

    /// Selectivity of `col < v` (`inclusive`: `col <= v`) over all rows (PostgreSQL's
    /// `scalarineqsel`): the MCVs below `v` exactly, plus the histogram's fraction below `v`
    /// (interpolated inside its bucket) times the rows the histogram stands for.
    pub fn lt_selectivity(&self, v: &Value, inclusive: bool) -> f64 {
        if v.is_null() {
            return 0.0;
        }
        let mut mcv_sel = 0.0;
        for (m, f) in &self.mcv {
            let keep = match compare(m, v) {
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => inclusive,
                _ => false,
            };
            if keep {
                mcv_sel += f;
            }
        }
        let hist_rows = (1.0 - self.null_frac - self.mcv_total()).max(0.0);
        let hist_frac = match histogram_fraction_below(&self.histogram, v, inclusive) {
            Some(f) => f,
            // No histogram: every non-MCV value is unknown; the default guess.
            None if hist_rows > 0.0 => DEFAULT_INEQ_SEL,
            None => 0.0,
        };
        clamp01(mcv_sel + hist_frac * hist_rows)
    }

    /// Selectivity of `col > v` (`inclusive`: `col >= v`).
    pub fn gt_selectivity(&self, v: &Value, inclusive: bool) -> f64 {
        if v.is_null() {
            return 0.0;
        }
        clamp01(1.0 - self.null_frac - self.lt_selectivity(v, !inclusive))
    }

    /// Selectivity of a range: `lo < col < hi` with each bound optional and each `(value,
    /// inclusive)`. PostgreSQL's `clauselist_selectivity` pairs the two inequalities the same
    /// way: P(col below hi) - P(col below lo).
    pub fn range_selectivity(&self, lo: Option<(&Value, bool)>, hi: Option<(&Value, bool)>) -> f64 {
        let below_hi = match hi {
            Some((v, inclusive)) => self.lt_selectivity(v, inclusive),
            None => 1.0 - self.null_frac,
        };
        let below_lo = match lo {
            Some((v, inclusive)) => self.lt_selectivity(v, !inclusive),
            None => 0.0,
        };
        let sel = below_hi - below_lo;
        if sel <= 0.0 {
            // An empty-looking range still keeps some rows in PostgreSQL's estimate (the
            // histogram is a sample); keep a small positive selectivity.
            return clamp01((1.0 - self.null_frac) * 1e-4);
        }
        clamp01(sel)
    }
}

/// Fraction (0..=1) of the histogram's population below `v` (or at most `v`), with linear
/// interpolation inside the bucket that holds `v`; `None` if there is no usable histogram.
fn histogram_fraction_below(bounds: &[Value], v: &Value, inclusive: bool) -> Option<f64> {
    let n = bounds.len();
    if n < 2 {
        return None;
    }
    let first = bounds.first()?;
    let last = bounds.last()?;
    match compare(v, first)? {
        Ordering::Less => return Some(0.0),
        Ordering::Equal => return Some(if inclusive { 0.5 / (n - 1) as f64 } else { 0.0 }),
        Ordering::Greater => {}
    }
    match compare(v, last)? {
        Ordering::Greater => return Some(1.0),
        Ordering::Equal => {
            return Some(if inclusive {
                1.0
            } else {
                1.0 - 0.5 / (n - 1) as f64
            })
        }
        Ordering::Less => {}
    }
    // Find the bucket i with bounds[i] <= v < bounds[i + 1] (binary search).
    let (mut lo, mut hi) = (0usize, n - 1);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        match compare(bounds.get(mid)?, v)? {
            Ordering::Greater => hi = mid,
            _ => lo = mid,
        }
    }
    let a = bounds.get(lo)?;
    let b = bounds.get(hi)?;
    let within = position_in(a, b, v).unwrap_or(0.5);
    Some(clamp01((lo as f64 + within) / (n - 1) as f64))
}

/// Where `v` sits between `a` and `b` (0 at `a`, 1 at `b`), for types with a numeric or
/// byte-wise scale; `None` when the values have no such scale.
fn position_in(a: &Value, b: &Value, v: &Value) -> Option<f64> {
    let (x0, x1, x) = match (a, b, v) {
        (Value::Text(p), Value::Text(q), Value::Text(r)) => {
            bytes_scale(p.as_bytes(), q.as_bytes(), r.as_bytes())
        }
        (Value::Bytes(p), Value::Bytes(q), Value::Bytes(r)) => bytes_scale(p, q, r),
        _ => (scalar(a)?, scalar(b)?, scalar(v)?),
    };
    if x0.is_nan() || x1.is_nan() || x1 <= x0 || !x.is_finite() {
        return None;
    }
    Some(clamp01((x - x0) / (x1 - x0)))
}

/// A value as a point on a line, for interpolation.
pub fn scalar(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        Value::Numeric(n) => Some(n.to_f64()).filter(|f| f.is_finite()),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Interval(iv) => {
            Some(iv.micros as f64 + iv.days as f64 * 86_400e6 + iv.months as f64 * 30.0 * 86_400e6)
        }
        _ => None,
    }
}

/// Maps three byte strings to numbers that keep their order: the 8 bytes after the common
/// prefix of all three, read big-endian (PostgreSQL's `convert_string_to_scalar` idea).
fn bytes_scale(a: &[u8], b: &[u8], v: &[u8]) -> (f64, f64, f64) {
    let common = a
        .iter()
        .zip(b)
        .zip(v)
        .take_while(|((x, y), z)| x == y && y == z)
        .count();
    let num = |s: &[u8]| {
        let mut acc = 0f64;
        for k in 0..8 {
            let byte = s.get(common + k).copied().unwrap_or(0);
            acc = acc * 256.0 + byte as f64;
        }
        acc
    };
    (num(a), num(b), num(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator so the tests need no `rand`.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }
        fn unit(&mut self) -> f64 {
            (self.next() as f64) / ((1u64 << 53) as f64)
        }
    }

    /// Builds column stats from a full column, a simplified ANALYZE (exact counts): MCVs are
    /// the values that appear more than 1.25x the average, up to `target`.
    fn build(values: &[Value], target: usize) -> ColumnStats {
        let rows = values.len() as f64;
        let mut non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
        non_null.sort_by(|a, b| compare(a, b).unwrap_or(Ordering::Equal));
        let mut groups: Vec<(Value, usize)> = Vec::new();
        for v in &non_null {
            match groups.last_mut() {
                Some((g, c)) if compare(g, v) == Some(Ordering::Equal) => *c += 1,
                _ => groups.push(((*v).clone(), 1)),
            }
        }
        let avg = non_null.len() as f64 / groups.len().max(1) as f64;
        let mut by_count = groups.clone();
        by_count.sort_by_key(|g| std::cmp::Reverse(g.1));
        let mcv: Vec<(Value, f64)> = by_count
            .iter()
            .filter(|(_, c)| groups.len() <= target || ((*c as f64) > 1.25 * avg && *c > 1))
            .take(target)
            .map(|(v, c)| (v.clone(), *c as f64 / rows))
            .collect();
        let rest: Vec<&Value> = non_null
            .iter()
            .copied()
            .filter(|v| {
                !mcv.iter()
                    .any(|(m, _)| compare(m, v) == Some(Ordering::Equal))
            })
            .collect();
        let mut histogram = Vec::new();
        if rest.len() >= 2 {
            let buckets = target.min(rest.len() - 1);
            for i in 0..=buckets {
                histogram.push(rest[i * (rest.len() - 1) / buckets].clone());
            }
        }
        ColumnStats {
            column_id: 1,
            type_name: "integer".into(),
            null_frac: (values.len() - non_null.len()) as f64 / rows,
            avg_width: 4,
            n_distinct: n_distinct_convention(groups.len() as f64, rows),
            mcv,
            histogram,
            correlation: None,
        }
    }

    fn truth(values: &[Value], pred: impl Fn(&Value) -> bool) -> f64 {
        values.iter().filter(|v| !v.is_null() && pred(v)).count() as f64 / values.len() as f64
    }

    /// |estimate - truth| <= abs_tol, or within rel_tol of the truth.
    fn close(est: f64, truth: f64, abs_tol: f64, rel_tol: f64) -> bool {
        (est - truth).abs() <= abs_tol || (est - truth).abs() <= rel_tol * truth
    }

    #[test]
    fn uniform_estimates_are_within_two_percent() {
        // 100 000 rows, values 0..10 000 uniformly.
        let mut g = Lcg(7);
        let values: Vec<Value> = (0..100_000)
            .map(|_| Value::Int((g.next() % 10_000) as i64))
            .collect();
        let s = build(&values, 100);
        let rows = values.len() as f64;
        for c in [0i64, 17, 2500, 5000, 9999] {
            let v = Value::Int(c);
            let eq = s.eq_selectivity(&v, rows);
            let t = truth(&values, |x| x == &v);
            // Each value holds ~1e-4 of the rows; the estimate is the average.
            assert!(close(eq, t, 1.5e-4, 0.0), "eq {c}: est {eq} truth {t}");
            let lt = s.lt_selectivity(&v, false);
            let t = truth(&values, |x| compare(x, &v) == Some(Ordering::Less));
            assert!(close(lt, t, 0.02, 0.0), "lt {c}: est {lt} truth {t}");
            let ge = s.gt_selectivity(&v, true);
            let t = truth(&values, |x| compare(x, &v) != Some(Ordering::Less));
            assert!(close(ge, t, 0.02, 0.0), "ge {c}: est {ge} truth {t}");
        }
        let r = s.range_selectivity(
            Some((&Value::Int(1000), true)),
            Some((&Value::Int(3000), false)),
        );
        let t = truth(
            &values,
            |x| matches!(x, Value::Int(i) if (1000..3000).contains(i)),
        );
        assert!(close(r, t, 0.02, 0.0), "range: est {r} truth {t}");
        // At most 10% of the rows are distinct: PostgreSQL keeps a count up to 10%.
        assert!(
            (9_900.0..=10_000.0).contains(&s.n_distinct),
            "{}",
            s.n_distinct
        );
    }

    #[test]
    fn zipf_estimates_use_the_mcvs() {
        // Zipf(s = 1) over 1000 values: value k has weight 1/k.
        let n = 1000usize;
        let weights: Vec<f64> = (1..=n).map(|k| 1.0 / k as f64).collect();
        let total: f64 = weights.iter().sum();
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for w in &weights {
            acc += w / total;
            cdf.push(acc);
        }
        let mut g = Lcg(11);
        let values: Vec<Value> = (0..200_000)
            .map(|_| {
                let u = g.unit();
                let k = cdf.partition_point(|c| *c < u).min(n - 1);
                Value::Int(k as i64 + 1)
            })
            .collect();
        let s = build(&values, 100);
        let rows = values.len() as f64;
        // Heavy hitters: exact MCV frequencies (within 5% of the truth).
        for k in [1i64, 2, 5, 10, 50] {
            let v = Value::Int(k);
            let est = s.eq_selectivity(&v, rows);
            let t = truth(&values, |x| x == &v);
            assert!(close(est, t, 1e-4, 0.05), "eq {k}: est {est} truth {t}");
        }
        // The tail: within a factor of 3 (the tail's values differ by up to 9x among
        // themselves, and the estimate is their average).
        for k in [300i64, 600, 900] {
            let v = Value::Int(k);
            let est = s.eq_selectivity(&v, rows);
            let t = truth(&values, |x| x == &v);
            assert!(
                est <= 3.0 * t + 1e-5 && t <= 3.0 * est + 1e-5,
                "eq {k}: {est} vs {t}"
            );
        }
        for k in [2i64, 10, 100, 500] {
            let v = Value::Int(k);
            let est = s.lt_selectivity(&v, true);
            let t = truth(&values, |x| compare(x, &v) != Some(Ordering::Greater));
            assert!(close(est, t, 0.02, 0.0), "le {k}: est {est} truth {t}");
        }
    }

    #[test]
    fn null_heavy_estimates_exclude_nulls() {
        // 90% NULL, the rest uniform over 0..100.
        let mut g = Lcg(3);
        let values: Vec<Value> = (0..50_000)
            .map(|_| {
                if !g.next().is_multiple_of(10) {
                    Value::Null
                } else {
                    Value::Int((g.next() % 100) as i64)
                }
            })
            .collect();
        let s = build(&values, 100);
        let rows = values.len() as f64;
        let t_null = values.iter().filter(|v| v.is_null()).count() as f64 / rows;
        assert!((s.is_null_selectivity() - t_null).abs() < 1e-9);
        assert!((s.is_not_null_selectivity() - (1.0 - t_null)).abs() < 1e-9);
        let v = Value::Int(42);
        let est = s.eq_selectivity(&v, rows);
        let t = truth(&values, |x| x == &v);
        assert!(close(est, t, 3e-4, 0.0), "eq: est {est} truth {t}");
        let est = s.lt_selectivity(&Value::Int(50), false);
        let t = truth(&values, |x| matches!(x, Value::Int(i) if *i < 50));
        assert!(close(est, t, 0.01, 0.0), "lt: est {est} truth {t}");
        assert_eq!(s.eq_selectivity(&Value::Null, rows), 0.0);
    }

    #[test]
    fn pattern_selectivity_comes_from_the_sampled_values() {
        // One name in eight holds "green", as in TPC-H's p_name.
        let colours = [
            "green", "red", "blue", "navy", "plum", "rose", "teal", "sand",
        ];
        let values: Vec<Value> = (0..8_000)
            .map(|i| Value::Text(format!("{} part {i:05}", colours[i % 8])))
            .collect();
        let s = build(&values, 100);
        let like = |v: &Value| match v {
            Value::Text(t) => Some(t.contains("green")),
            _ => None,
        };
        let est = s.sample_selectivity(&like).expect("a histogram to sample");
        assert!((est - 0.125).abs() < 0.04, "est {est}");
        // Too few bounds to sample: no estimate.
        let small = build(&values[..5], 100);
        assert_eq!(small.sample_selectivity(&like), None);
    }

    #[test]
    fn text_histograms_interpolate() {
        let values: Vec<Value> = (0..10_000)
            .map(|i| Value::Text(format!("k{:05}", i)))
            .collect();
        let s = build(&values, 100);
        let est = s.lt_selectivity(&Value::Text("k02500".into()), false);
        assert!((est - 0.25).abs() < 0.02, "est {est}");
        assert!(s.mcv.is_empty(), "unique values have no MCVs");
        assert_eq!(s.n_distinct, -1.0);
    }

    #[test]
    fn estimators_stay_in_unit_interval() {
        let odd = ColumnStats {
            column_id: 1,
            type_name: "integer".into(),
            null_frac: 0.7,
            avg_width: 4,
            n_distinct: 3.0,
            mcv: vec![(Value::Int(1), 0.6), (Value::Int(2), 0.5)],
            histogram: vec![Value::Int(10), Value::Int(5)],
            correlation: Some(2.0),
        };
        for v in [Value::Int(0), Value::Int(1), Value::Int(7), Value::Int(99)] {
            for sel in [
                odd.eq_selectivity(&v, 100.0),
                odd.ne_selectivity(&v, 100.0),
                odd.lt_selectivity(&v, true),
                odd.gt_selectivity(&v, false),
                odd.range_selectivity(Some((&v, true)), Some((&Value::Int(3), true))),
            ] {
                assert!((0.0..=1.0).contains(&sel), "{sel}");
            }
        }
    }

    #[test]
    fn normalise_repairs_inconsistent_stats() {
        let mut s = ColumnStats {
            column_id: 1,
            type_name: "integer".into(),
            null_frac: 0.5,
            avg_width: 4,
            n_distinct: f64::NAN,
            mcv: vec![(Value::Int(1), 0.6), (Value::Int(2), 0.4)],
            histogram: vec![Value::Int(10), Value::Int(5), Value::Int(7)],
            correlation: Some(f64::NAN),
        };
        s.normalise();
        let total: f64 = s.mcv.iter().map(|(_, f)| f).sum::<f64>() + s.null_frac;
        assert!(total <= 1.0 + 1e-12, "{total}");
        assert_eq!(
            s.histogram,
            vec![Value::Int(5), Value::Int(7), Value::Int(10)]
        );
        assert_eq!(s.correlation, None);
        assert_eq!(s.n_distinct, 0.0);
    }

    #[test]
    fn n_distinct_follows_postgres_convention() {
        assert_eq!(n_distinct_convention(50.0, 10_000.0), 50.0);
        assert_eq!(n_distinct_convention(5_000.0, 10_000.0), -0.5);
        assert_eq!(n_distinct_convention(10_000.0, 10_000.0), -1.0);
        assert_eq!(n_distinct_convention(0.0, 10.0), 0.0);
    }
}

//! ANALYZE: collecting table statistics, storing them in the statistics system table, and
//! reading them back for the planner and the catalog views (`pg_stats`, `pg_class.reltuples`).
//!
//! Role: the session runs `ANALYZE` / `VACUUM ANALYZE` through [`run`]; the auto-analyze
//! worker (`auto_analyze.rs`) calls [`analyze_table`]; `TxnCatalog::table_stats` and
//! `pg_catalog.rs` call [`read_stats`].
//!
//! Dropped tables: DROP TABLE and DROP DATABASE do not write the statistics key, so they can
//! never conflict with a background ANALYZE writing it at the same time (a user's DROP would
//! otherwise fail with 40001 now and then). Their statistics become unreachable at once —
//! every read is by the id of an existing table, and ids are never reused — and are deleted
//! by the next `ANALYZE` of a whole database ([`delete_orphans`]) or when the auto-analyze
//! worker finds a due table gone.
//! The statistics types and estimators are `cairn_sql_plan::stats` (the planner crate may
//! not depend on this one).
//!
//! Collection ([`collect`]): one streaming pass over the primary index, [`SCAN_BATCH_ROWS`]
//! rows at a time, never holding more than the sample. Every row is counted (row count,
//! bytes, NULLs, widths) and fed to a HyperLogLog sketch per column and per index key; a
//! uniform sample of [`sample_rows_max`] rows (300 × statistics target, as PostgreSQL) is
//! kept by reservoir sampling (Vitter's algorithm R) with a seeded SplitMix64, so a table
//! analysed twice unchanged gets the same statistics. A table with at most that many rows is
//! its own sample. MCVs, histogram and correlation come from the sample; null fraction and
//! average width from every row; distinct counts from the sample when it is the whole table
//! (exact) and from the sketch otherwise.
//!
//! Transactions: outside a transaction block the scan runs in a read-only SNAPSHOT
//! transaction (it conflicts with nobody) and the statistics are written at the end in a
//! short transaction of their own, retried on serialization failures, as PostgreSQL updates
//! `pg_statistic` at the end of ANALYZE. Inside a block ANALYZE reads through the block's
//! transaction (so it sees the block's own rows and tables, as PostgreSQL does) and the
//! statistics write joins that transaction: a ROLLBACK discards them, a table created in the
//! block leaves no statistics behind, and the block's COMMIT publishes them.
//!
//! Format (the value under `Int(6) Int(1) Int(table_id)`, `keys::stats_key`; also
//! `docs/format/sql.md`), little-endian:
//!
//! ```text
//! u8   version = 1
//! u32  CRC-32C (masked, cairn_codec::crc::mask) of everything after it
//! varint table_id
//! f64  row_count            u64 varint size_bytes      varint sample_rows
//! i64  analyzed_at_micros   u8 flags (bit 0: automatic)
//! varint column count, then per column:
//!   varint column_id        varint len + UTF-8 type name (DataType::sql_name)
//!   f64 null_frac           varint avg_width          f64 n_distinct
//!   f64 correlation (NaN = none)
//!   varint mcv count, then per MCV: value (row.rs value encoding), f64 frequency
//!   varint bound count, then per bound: value
//! varint index count, then per index:
//!   varint index_id  varint column count  varint column_id...  f64 distinct_keys
//! ```
//!
//! Example (table 100, 3 rows, 60 bytes, 3 sampled, at 0 µs, manual, no columns, no
//! indexes): `01 | crc(4) | 64 | 00 00 00 00 00 00 08 40 | 3c | 03 | 00 x8 | 00 | 00 | 00`.
//!
//! Invariants:
//! 1. Decoding never panics and rejects a wrong version, a bad checksum, truncation and
//!    trailing bytes with XX001 naming the table. Test: `corrupt_stats_are_errors`.
//! 2. What [`read_stats`] returns matches the current schema: stats of dropped columns and of
//!    columns whose type changed are left out (column ids are never reused), as are stats of
//!    dropped indexes. Test: `read_drops_stale_columns`.
//! 3. `encode` then `decode` is the identity. Test: `stats_round_trip`.
//! 4. The sample never holds more than `sample_rows_max` rows, and a table at most that
//!    large is sampled whole. Test: `reservoir_is_bounded_and_uniform`.

use std::collections::HashMap;

use cairn_codec::{crc, varint, Decoder};
use cairn_sql_plan::catalog::{TableDef, PRIMARY_INDEX_ID};
use cairn_sql_plan::stats::hll::HyperLogLog;
use cairn_sql_plan::stats::{
    n_distinct_convention, ColumnStats, IndexStats, TableStats, DEFAULT_STATISTICS_TARGET,
};
use cairn_sql_plan::types::Value;
use cairn_sql_plan::{code, Result, SqlError};

use cairn_sql_plan::maintenance::AnalyzeStmt;

use crate::auto_analyze::Activity;
use crate::catalog::{self, DatabaseDesc, Descriptor};
use crate::keys;
use crate::kv::{IsolationLevel, KvStore, KvTxn};
use crate::row;

/// Rows read per scan call.
pub const SCAN_BATCH_ROWS: usize = 1024;
/// Current stats format version.
const FORMAT_VERSION: u8 = 1;
/// Most MCVs or histogram bounds decoded per column (a bound on corrupt input; the
/// statistics target caps real data at 10 000, PostgreSQL's maximum).
const ENTRIES_MAX: u64 = 10_001;

/// Rows in the reservoir sample for a statistics target (PostgreSQL: 300 × target).
pub fn sample_rows_max(target: usize) -> usize {
    300 * target.max(1)
}

// ----- collection -----

/// What to analyse.
#[derive(Clone, Debug)]
pub struct CollectOptions {
    /// `default_statistics_target`: MCV list length and histogram buckets.
    pub target: usize,
    /// Column positions (in `table.columns`) to analyse; `None`: every visible column.
    pub columns: Option<Vec<usize>>,
    /// Set by auto-analyze.
    pub auto: bool,
    /// Wall-clock time to record, µs since the Unix epoch.
    pub now_micros: i64,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            target: DEFAULT_STATISTICS_TARGET,
            columns: None,
            auto: false,
            now_micros: 0,
        }
    }
}

/// SplitMix64: the sampler's deterministic generator.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..=bound` (the modulo bias is below 2^-40 for the bounds used here).
    fn up_to(&mut self, bound: u64) -> u64 {
        self.next() % (bound + 1)
    }
}

/// Algorithm R: keeps a uniform sample of at most `capacity` items of a stream.
struct Reservoir<T> {
    capacity: usize,
    seen: u64,
    items: Vec<T>,
    rng: SplitMix,
}

impl<T> Reservoir<T> {
    fn new(capacity: usize, seed: u64) -> Self {
        Reservoir {
            capacity,
            seen: 0,
            items: Vec::new(),
            rng: SplitMix(seed),
        }
    }

    fn offer(&mut self, item: T) {
        if self.items.len() < self.capacity {
            self.items.push(item);
        } else {
            let j = self.rng.up_to(self.seen);
            if let Some(slot) = usize::try_from(j).ok().and_then(|j| self.items.get_mut(j)) {
                *slot = item;
            }
        }
        self.seen += 1;
    }
}

/// Per-column counters over every row.
struct ColumnAcc {
    pos: usize,
    nulls: u64,
    width_sum: u64,
    sketch: HyperLogLog,
}

/// Width of a stored value, as PostgreSQL reports it: the type's fixed length, or the
/// variable-length payload plus a one-byte header.
fn value_width(ty_len: i16, v: &Value, scratch: &mut Vec<u8>) -> u64 {
    if ty_len > 0 {
        return ty_len as u64;
    }
    match v {
        Value::Text(s) => s.len() as u64 + 1,
        Value::Bytes(b) => b.len() as u64 + 1,
        other => {
            scratch.clear();
            row::encode_datum(scratch, other);
            scratch.len() as u64
        }
    }
}

fn key_bytes(v: &Value, out: &mut Vec<u8>) {
    out.clear();
    keys::encode_value(out, v, false);
}

/// Streams the table once and computes its statistics.
pub fn collect(txn: &mut dyn KvTxn, table: &TableDef, opts: &CollectOptions) -> Result<TableStats> {
    let positions: Vec<usize> = match &opts.columns {
        Some(c) => c.clone(),
        None => table.visible_columns().map(|(i, _)| i).collect(),
    };
    let target = opts.target.clamp(1, 10_000);
    let capacity = sample_rows_max(target);
    let mut accs: Vec<ColumnAcc> = positions
        .iter()
        .map(|&pos| ColumnAcc {
            pos,
            nulls: 0,
            width_sum: 0,
            sketch: HyperLogLog::new(),
        })
        .collect();
    let type_lens: Vec<i16> = positions
        .iter()
        .map(|&p| table.columns.get(p).map_or(-1, |c| c.ty.type_len()))
        .collect();
    // Secondary, non-unique indexes get a sketch of their whole key; the primary index and
    // unique indexes have one distinct key per row (NULLs are distinct in unique indexes).
    let index_cols: Vec<(u32, Vec<usize>)> = table
        .indexes
        .iter()
        .filter(|i| !i.unique)
        .map(|i| {
            let cols = i
                .columns
                .iter()
                .filter_map(|c| table.column_by_id(c.column_id).map(|(p, _)| p))
                .collect();
            (i.id, cols)
        })
        .collect();
    let mut index_sketches: Vec<HyperLogLog> =
        index_cols.iter().map(|_| HyperLogLog::new()).collect();
    // Sample entries: (row number, the analysed columns' values).
    let mut reservoir: Reservoir<(u64, Vec<Value>)> =
        Reservoir::new(capacity, 0x5EED_0000_0000_0000 ^ table.id as u64);
    let mut row_count: u64 = 0;
    let mut size_bytes: u64 = 0;
    let mut scratch = Vec::new();
    let (mut start, end) = keys::index_span(table.id, PRIMARY_INDEX_ID);
    loop {
        let batch = txn.scan(&start, &end, SCAN_BATCH_ROWS, false)?;
        let n = batch.len();
        for (k, v) in batch {
            size_bytes += (k.len() + v.len()) as u64;
            let row = row::decode_row(table, &v)?;
            for (acc, ty_len) in accs.iter_mut().zip(&type_lens) {
                match row.get(acc.pos) {
                    None | Some(Value::Null) => acc.nulls += 1,
                    Some(val) => {
                        acc.width_sum += value_width(*ty_len, val, &mut scratch);
                        key_bytes(val, &mut scratch);
                        acc.sketch.add_bytes(&scratch);
                    }
                }
            }
            for ((_, cols), sketch) in index_cols.iter().zip(index_sketches.iter_mut()) {
                scratch.clear();
                for &p in cols {
                    keys::encode_value(&mut scratch, row.get(p).unwrap_or(&Value::Null), false);
                }
                sketch.add_bytes(&scratch);
            }
            let sampled: Vec<Value> = positions
                .iter()
                .map(|&p| row.get(p).cloned().unwrap_or(Value::Null))
                .collect();
            reservoir.offer((row_count, sampled));
            row_count += 1;
            start = k;
            start.push(0);
        }
        if n < SCAN_BATCH_ROWS {
            break;
        }
    }
    let whole = reservoir.seen <= capacity as u64;
    let mut sample = reservoir.items;
    // Physical order: the sample sorted by row number.
    sample.sort_by_key(|(n, _)| *n);
    let sample_len = sample.len();
    let rows_f = row_count as f64;
    let mut columns = Vec::with_capacity(accs.len());
    for (ci, acc) in accs.iter().enumerate() {
        let Some(col) = table.columns.get(acc.pos) else {
            continue;
        };
        let non_null_rows = row_count - acc.nulls;
        // (key bytes, value, physical rank in the sample)
        let mut values: Vec<(Vec<u8>, Value, usize)> = Vec::new();
        for (rank, (_, vals)) in sample.iter().enumerate() {
            if let Some(v) = vals.get(ci).filter(|v| !v.is_null()) {
                let mut kb = Vec::new();
                keys::encode_value(&mut kb, v, false);
                values.push((kb, v.clone(), rank));
            }
        }
        values.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
        // Groups of equal values: (first index in `values`, count).
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for (i, (kb, _, _)) in values.iter().enumerate() {
            match groups.last_mut() {
                Some((g, c)) if values.get(*g).is_some_and(|x| &x.0 == kb) => *c += 1,
                _ => groups.push((i, 1)),
            }
        }
        let distinct = if non_null_rows == 0 {
            0.0
        } else if whole {
            groups.len() as f64
        } else {
            acc.sketch
                .estimate()
                .round()
                .clamp(groups.len() as f64, non_null_rows as f64)
        };
        let n_distinct = n_distinct_convention(distinct, rows_f);
        let stats = summarise(
            &values,
            &groups,
            sample_len,
            rows_f,
            target,
            n_distinct > 0.0,
            distinct,
        );
        columns.push(ColumnStats {
            column_id: col.id,
            type_name: col.ty.sql_name(),
            null_frac: if row_count == 0 {
                0.0
            } else {
                acc.nulls as f64 / rows_f
            },
            avg_width: acc
                .width_sum
                .checked_div(non_null_rows)
                .map_or(0, |w| u32::try_from(w).unwrap_or(u32::MAX)),
            n_distinct,
            mcv: stats.0,
            histogram: stats.1,
            correlation: correlation(&values),
        });
    }
    let mut indexes = vec![IndexStats {
        index_id: PRIMARY_INDEX_ID,
        column_ids: table.primary.columns.iter().map(|c| c.column_id).collect(),
        distinct_keys: rows_f,
    }];
    for idx in &table.indexes {
        let distinct_keys = if idx.unique {
            rows_f
        } else {
            index_cols
                .iter()
                .position(|(id, _)| *id == idx.id)
                .and_then(|i| index_sketches.get(i))
                .map_or(0.0, |s| s.estimate().round().min(rows_f))
        };
        indexes.push(IndexStats {
            index_id: idx.id,
            column_ids: idx.columns.iter().map(|c| c.column_id).collect(),
            distinct_keys,
        });
    }
    Ok(TableStats {
        table_id: table.id,
        row_count: rows_f,
        size_bytes,
        sample_rows: sample_len as u64,
        analyzed_at_micros: opts.now_micros,
        auto: opts.auto,
        columns,
        indexes,
    })
}

/// MCVs and histogram bounds from the sorted non-NULL sample values (PostgreSQL's
/// `compute_scalar_stats` and `analyze_mcv_list`). Candidates are values seen at least twice,
/// most frequent first, at most `target`. If every sampled value is a candidate, they all fit
/// and the distinct count does not grow with the table, all are MCVs and there is no
/// histogram. Otherwise the list is cut after the least common value that is still
/// significantly more common than the values left out: its count exceeds their average count
/// by two standard errors of a count in a sample of `sample_len` out of `total_rows` rows
/// (plus 0.5, a continuity correction). The histogram covers the values not chosen.
fn summarise(
    values: &[(Vec<u8>, Value, usize)],
    groups: &[(usize, usize)],
    sample_len: usize,
    total_rows: f64,
    target: usize,
    distinct_is_fixed: bool,
    distinct: f64,
) -> (Vec<(Value, f64)>, Vec<Value>) {
    if values.is_empty() || sample_len == 0 {
        return (Vec::new(), Vec::new());
    }
    let mut candidates: Vec<(usize, usize)> =
        groups.iter().copied().filter(|(_, c)| *c >= 2).collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let all_fit = distinct_is_fixed
        && candidates.len() == groups.len()
        && groups.len() <= target
        && (groups.len() as f64) >= distinct;
    candidates.truncate(target);
    if !all_fit {
        let n = sample_len as f64;
        let big_n = total_rows.max(n);
        let null_frac = 1.0 - values.len() as f64 / n;
        let mut sum: f64 = candidates.iter().map(|(_, c)| *c as f64).sum();
        let mut keep = candidates.len();
        while keep > 0 {
            let i = keep - 1;
            let count = candidates.get(i).map_or(0.0, |c| c.1 as f64);
            sum -= count;
            // Fraction of rows in the values left out (this one included), per value.
            let mut rest = (1.0 - sum / n - null_frac).clamp(0.0, 1.0);
            let other_distinct = distinct - i as f64;
            if other_distinct > 1.0 {
                rest /= other_distinct;
            }
            let k = big_n * count / n;
            let variance = if big_n > 1.0 {
                n * k * (big_n - k) * (big_n - n) / (big_n * big_n * (big_n - 1.0))
            } else {
                0.0
            };
            if count > rest * n + 2.0 * variance.max(0.0).sqrt() + 0.5 {
                break;
            }
            keep -= 1;
        }
        candidates.truncate(keep);
    }
    let chosen = candidates;
    let mcv: Vec<(Value, f64)> = chosen
        .iter()
        .filter_map(|(i, c)| {
            values
                .get(*i)
                .map(|v| (v.1.clone(), *c as f64 / sample_len as f64))
        })
        .collect();
    // The rest, in value order, with their multiplicities.
    let mut in_mcv = vec![false; values.len()];
    for (i, c) in &chosen {
        for flag in in_mcv.iter_mut().skip(*i).take(*c) {
            *flag = true;
        }
    }
    let rest: Vec<&Value> = values
        .iter()
        .zip(&in_mcv)
        .filter(|(_, m)| !**m)
        .map(|(v, _)| &v.1)
        .collect();
    let rest_distinct = groups.len() - chosen.len();
    let mut histogram = Vec::new();
    if rest_distinct >= 2 {
        let bounds = rest_distinct.min(target + 1);
        let last = rest.len() - 1;
        for i in 0..bounds {
            if let Some(v) = rest.get(i * last / (bounds - 1)) {
                histogram.push((*v).clone());
            }
        }
        histogram.dedup();
    }
    (mcv, histogram)
}

/// Correlation between value order and physical order over the sorted sample: Pearson's r
/// of (position in value order, physical rank), PostgreSQL's `corr_xysum` formula.
fn correlation(values: &[(Vec<u8>, Value, usize)]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    // Physical ranks are the sample's positions, possibly with gaps for NULLs: re-rank.
    let mut phys: Vec<usize> = values.iter().map(|v| v.2).collect();
    phys.sort_unstable();
    let rank_of: HashMap<usize, usize> = phys.iter().enumerate().map(|(r, p)| (*p, r)).collect();
    let nf = n as f64;
    let mean = (nf - 1.0) / 2.0;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in values.iter().enumerate() {
        let y = *rank_of.get(&v.2)? as f64;
        sxy += (i as f64 - mean) * (y - mean);
        sxx += (i as f64 - mean) * (i as f64 - mean);
    }
    if sxx == 0.0 {
        return None;
    }
    Some((sxy / sxx).clamp(-1.0, 1.0))
}

/// Keeps the stats of columns not re-analysed by a column-list ANALYZE (PostgreSQL updates
/// only the named columns' rows of `pg_statistic`).
pub fn merge_columns(new: &mut TableStats, old: Option<TableStats>) {
    if let Some(old) = old {
        for c in old.columns {
            if new.column(c.column_id).is_none() {
                new.columns.push(c);
            }
        }
    }
}

// ----- storage -----

fn corrupt(table: &TableDef, what: impl std::fmt::Display) -> SqlError {
    SqlError::new(
        code::DATA_CORRUPTED,
        format!(
            "statistics of table \"{}\" are corrupt (run ANALYZE again to replace them): {what}",
            table.name
        ),
    )
}

fn put_f64(out: &mut Vec<u8>, f: f64) {
    out.extend_from_slice(&f.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    varint::put_len_prefixed(out, s.as_bytes());
}

/// Encodes statistics (format in the module header).
pub fn encode_stats(s: &TableStats) -> Vec<u8> {
    let mut p = Vec::with_capacity(256);
    varint::put_u32(&mut p, s.table_id);
    put_f64(&mut p, s.row_count);
    varint::put_u64(&mut p, s.size_bytes);
    varint::put_u64(&mut p, s.sample_rows);
    p.extend_from_slice(&s.analyzed_at_micros.to_le_bytes());
    p.push(u8::from(s.auto));
    varint::put_u64(&mut p, s.columns.len() as u64);
    for c in &s.columns {
        varint::put_u32(&mut p, c.column_id);
        put_str(&mut p, &c.type_name);
        put_f64(&mut p, c.null_frac);
        varint::put_u32(&mut p, c.avg_width);
        put_f64(&mut p, c.n_distinct);
        put_f64(&mut p, c.correlation.unwrap_or(f64::NAN));
        varint::put_u64(&mut p, c.mcv.len() as u64);
        for (v, f) in &c.mcv {
            row::encode_datum(&mut p, v);
            put_f64(&mut p, *f);
        }
        varint::put_u64(&mut p, c.histogram.len() as u64);
        for v in &c.histogram {
            row::encode_datum(&mut p, v);
        }
    }
    varint::put_u64(&mut p, s.indexes.len() as u64);
    for i in &s.indexes {
        varint::put_u32(&mut p, i.index_id);
        varint::put_u64(&mut p, i.column_ids.len() as u64);
        for c in &i.column_ids {
            varint::put_u32(&mut p, *c);
        }
        put_f64(&mut p, i.distinct_keys);
    }
    let mut out = Vec::with_capacity(p.len() + 5);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&crc::mask(crc::crc32c(&p)).to_le_bytes());
    out.extend_from_slice(&p);
    out
}

fn get_f64(
    d: &mut Decoder,
    what: &'static str,
) -> std::result::Result<f64, cairn_codec::DecodeError> {
    d.u64_le(what).map(f64::from_bits)
}

fn count(d: &mut Decoder, table: &TableDef, what: &str) -> Result<u64> {
    let n = d.varint_u64().map_err(|e| corrupt(table, e))?;
    if n > ENTRIES_MAX || n > d.remaining().len() as u64 {
        return Err(corrupt(table, format!("{what} count {n} is too large")));
    }
    Ok(n)
}

/// Decodes statistics of `table` exactly as stored (invariant 1).
pub fn decode_stats(table: &TableDef, bytes: &[u8]) -> Result<TableStats> {
    let e = |e: cairn_codec::DecodeError| corrupt(table, e);
    let mut d = Decoder::new(bytes);
    let version = d.u8("stats version").map_err(e)?;
    if version != FORMAT_VERSION {
        return Err(corrupt(table, format!("unknown format version {version}")));
    }
    let stored = d.u32_le("stats checksum").map_err(e)?;
    let payload = d.remaining();
    let actual = crc::crc32c(payload);
    if crc::unmask(stored) != actual {
        return Err(corrupt(
            table,
            format!(
                "checksum mismatch (stored {:08x}, computed {actual:08x})",
                crc::unmask(stored)
            ),
        ));
    }
    let table_id = d.varint_u32().map_err(e)?;
    if table_id != table.id {
        return Err(corrupt(
            table,
            format!("stored for table id {table_id}, not {}", table.id),
        ));
    }
    let row_count = get_f64(&mut d, "row count").map_err(e)?;
    let size_bytes = d.varint_u64().map_err(e)?;
    let sample_rows = d.varint_u64().map_err(e)?;
    let analyzed_at_micros = d.u64_le("analyzed at").map_err(e)? as i64;
    let auto = d.u8("flags").map_err(e)? & 1 == 1;
    let ncols = count(&mut d, table, "column")?;
    let mut columns = Vec::new();
    for _ in 0..ncols {
        let column_id = d.varint_u32().map_err(e)?;
        let type_name = String::from_utf8(d.len_prefixed("type name").map_err(e)?.to_vec())
            .map_err(|_| corrupt(table, "type name is not UTF-8"))?;
        let null_frac = get_f64(&mut d, "null_frac").map_err(e)?;
        let avg_width = d.varint_u32().map_err(e)?;
        let n_distinct = get_f64(&mut d, "n_distinct").map_err(e)?;
        let corr = get_f64(&mut d, "correlation").map_err(e)?;
        let nmcv = count(&mut d, table, "MCV")?;
        let mut mcv = Vec::new();
        for _ in 0..nmcv {
            let v = row::decode_datum(table, &mut d)?;
            let f = get_f64(&mut d, "MCV frequency").map_err(e)?;
            mcv.push((v, f));
        }
        let nhist = count(&mut d, table, "histogram bound")?;
        let mut histogram = Vec::new();
        for _ in 0..nhist {
            histogram.push(row::decode_datum(table, &mut d)?);
        }
        columns.push(ColumnStats {
            column_id,
            type_name,
            null_frac,
            avg_width,
            n_distinct,
            mcv,
            histogram,
            correlation: (!corr.is_nan()).then_some(corr),
        });
    }
    let nidx = count(&mut d, table, "index")?;
    let mut indexes = Vec::new();
    for _ in 0..nidx {
        let index_id = d.varint_u32().map_err(e)?;
        let n = count(&mut d, table, "index column")?;
        let mut column_ids = Vec::new();
        for _ in 0..n {
            column_ids.push(d.varint_u32().map_err(e)?);
        }
        let distinct_keys = get_f64(&mut d, "distinct keys").map_err(e)?;
        indexes.push(IndexStats {
            index_id,
            column_ids,
            distinct_keys,
        });
    }
    if !d.is_empty() {
        return Err(corrupt(
            table,
            format!("{} trailing bytes", d.remaining().len()),
        ));
    }
    Ok(TableStats {
        table_id,
        row_count,
        size_bytes,
        sample_rows,
        analyzed_at_micros,
        auto,
        columns,
        indexes,
    })
}

/// Leaves out what no longer matches the schema (invariant 2) and repairs odd numbers.
fn fit_to_schema(table: &TableDef, mut s: TableStats) -> TableStats {
    s.columns.retain(|c| {
        table
            .column_by_id(c.column_id)
            .is_some_and(|(_, col)| col.ty.sql_name() == c.type_name)
    });
    for c in s.columns.iter_mut() {
        c.normalise();
    }
    s.indexes.retain(|i| {
        let current = if i.index_id == PRIMARY_INDEX_ID {
            Some(&table.primary)
        } else {
            table.indexes.iter().find(|x| x.id == i.index_id)
        };
        current.is_some_and(|x| {
            x.columns
                .iter()
                .map(|c| c.column_id)
                .eq(i.column_ids.iter().copied())
        })
    });
    if !s.row_count.is_finite() || s.row_count < 0.0 {
        s.row_count = 0.0;
    }
    s
}

/// The statistics of `table` as the current schema sees them, or `None` if it was never
/// analysed.
/// The statistics the planner estimates with: read outside the transaction's read set (they
/// steer the plan, never the result, so a concurrent ANALYZE must not make a SERIALIZABLE
/// transaction fail). Unreadable statistics are reported and planned without.
pub struct PlannerStats<'t, 'a> {
    txn: std::cell::RefCell<&'t mut (dyn KvTxn + 'a)>,
}

impl<'t, 'a> PlannerStats<'t, 'a> {
    pub fn new(txn: &'t mut (dyn KvTxn + 'a)) -> Self {
        PlannerStats {
            txn: std::cell::RefCell::new(txn),
        }
    }
}

impl cairn_sql_plan::cost::StatsSource for PlannerStats<'_, '_> {
    fn stats(&self, table: &TableDef) -> Option<std::sync::Arc<TableStats>> {
        if crate::pg_catalog::is_catalog_table(table.id) {
            return None;
        }
        let mut txn = self.txn.try_borrow_mut().ok()?;
        let read = txn
            .get_untracked(&keys::stats_key(table.id))
            .and_then(|b| b.map(|b| decode_stats(table, &b)).transpose());
        match read {
            Ok(s) => s.map(|s| std::sync::Arc::new(fit_to_schema(table, s))),
            Err(e) => {
                tracing::warn!(table = %table.name, error = %e, "statistics unreadable; planning without them");
                None
            }
        }
    }
}

pub fn read_stats(txn: &mut dyn KvTxn, table: &TableDef) -> Result<Option<TableStats>> {
    match txn.get(&keys::stats_key(table.id))? {
        None => Ok(None),
        Some(b) => decode_stats(table, &b).map(|s| Some(fit_to_schema(table, s))),
    }
}

/// Raw stored statistics of every table (for the catalog snapshot), by table id.
pub fn read_all_raw(txn: &mut dyn KvTxn) -> Result<HashMap<u32, Vec<u8>>> {
    let (start, end) = keys::index_span(keys::STATS_TABLE, 1);
    let mut out = HashMap::new();
    let mut from = start;
    loop {
        let batch = txn.scan(&from, &end, SCAN_BATCH_ROWS, false)?;
        let n = batch.len();
        for (k, v) in batch {
            if let Some(id) = keys::stats_key_table(&k) {
                out.insert(id, v);
            }
            from = k;
            from.push(0);
        }
        if n < SCAN_BATCH_ROWS {
            return Ok(out);
        }
    }
}

/// Decodes raw stored statistics for the catalog views; corrupt ones read as absent there
/// (the catalog must stay readable so the user can find and re-analyse the table).
pub fn decode_for_catalog(table: &TableDef, raw: Option<&Vec<u8>>) -> Option<TableStats> {
    raw.and_then(|b| decode_stats(table, b).ok())
        .map(|s| fit_to_schema(table, s))
}

/// Stores a table's statistics and raises the statistics generation, so prepared
/// statements plan again with them (plan_cache.rs invariant 1).
pub fn write_stats(txn: &mut dyn KvTxn, s: &TableStats) -> Result<()> {
    txn.put(&keys::stats_key(s.table_id), &encode_stats(s))?;
    txn.add_u64(&keys::stats_generation_key(), 1)
}

/// Removes a table's statistics.
pub fn delete_stats(txn: &mut dyn KvTxn, table_id: u32) -> Result<()> {
    txn.delete(&keys::stats_key(table_id))?;
    txn.add_u64(&keys::stats_generation_key(), 1)
}

/// Deletes the statistics of tables that no longer exist (any database), in a transaction
/// of its own; returns how many. Nothing else writes those keys any more, so this conflicts
/// only with another cleanup (and then retries).
pub fn delete_orphans(store: &dyn KvStore) -> Result<usize> {
    let mut attempt = 0;
    loop {
        let mut txn = store.begin(IsolationLevel::Serializable, false)?;
        let r = (|| -> Result<usize> {
            let ids: Vec<u32> = read_all_raw(&mut *txn)?.into_keys().collect();
            let mut n = 0;
            for id in ids {
                if !matches!(
                    catalog::read_descriptor(&mut *txn, id)?,
                    Some(Descriptor::Table(_))
                ) {
                    delete_stats(&mut *txn, id)?;
                    n += 1;
                }
            }
            txn.commit()?;
            Ok(n)
        })();
        match r {
            Err(e) if e.is_retryable() && attempt < WRITE_RETRIES_MAX => attempt += 1,
            other => return other,
        }
    }
}

// ----- running ANALYZE -----

/// Retries of the statistics write on serialization failures.
const WRITE_RETRIES_MAX: usize = 10;

/// Analyses one table in transactions of its own (outside a block, and auto-analyze): a
/// read-only snapshot for the scan, then a short write. Returns `None` if the table was
/// dropped meanwhile.
pub fn analyze_table(
    store: &dyn KvStore,
    table: &TableDef,
    opts: &CollectOptions,
) -> Result<Option<TableStats>> {
    let mut read = store.begin(IsolationLevel::Snapshot, true)?;
    let mut opts = opts.clone();
    opts.now_micros = read.timestamp_micros();
    let mut stats = collect(&mut *read, table, &opts)?;
    read.rollback();
    let mut attempt = 0;
    loop {
        let mut txn = store.begin(IsolationLevel::Serializable, false)?;
        let r = (|| -> Result<bool> {
            // The table may have been dropped (or re-created) since the scan.
            match catalog::read_descriptor(&mut *txn, table.id)? {
                Some(Descriptor::Table(current)) => {
                    if opts.columns.is_some() {
                        let old = read_stats(&mut *txn, &current)?;
                        merge_columns(&mut stats, old);
                    }
                    write_stats(&mut *txn, &stats)?;
                    txn.commit()?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })();
        match r {
            Ok(true) => return Ok(Some(stats)),
            Ok(false) => return Ok(None),
            Err(e) if e.is_retryable() && attempt < WRITE_RETRIES_MAX => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// One auto-analyze pass over a due table (called by the worker in auto_analyze.rs).
pub fn auto_analyze_one(store: &dyn KvStore, activity: &Activity, table_id: u32) -> Result<()> {
    if !activity.still_due(table_id) {
        // Analysed since it was queued (an explicit ANALYZE after a bulk load).
        return Ok(());
    }
    let mods_at_start = activity.get(table_id).map_or(0, |a| a.mod_since_analyze);
    let table = {
        let mut txn = store.begin(IsolationLevel::Snapshot, true)?;
        let t = match catalog::read_descriptor(&mut *txn, table_id)? {
            Some(Descriptor::Table(t)) => t,
            _ => {
                activity.forget(table_id);
                delete_orphans(store)?;
                return Ok(());
            }
        };
        if activity.get(table_id).is_none_or(|a| a.reltuples.is_none()) {
            // First time this node sees the table due: compare with the stored row count.
            let stored = match read_stats(&mut *txn, &t) {
                Ok(s) => s.map_or(0.0, |s| s.row_count),
                Err(_) => 0.0, // corrupt: analysing again replaces them
            };
            if !activity.learn_reltuples(table_id, stored) {
                return Ok(());
            }
        }
        t
    };
    let opts = CollectOptions {
        auto: true,
        ..Default::default()
    };
    match analyze_table(store, &table, &opts)? {
        Some(s) => {
            activity.analyzed(
                table_id,
                s.row_count,
                s.analyzed_at_micros,
                true,
                mods_at_start,
            );
            tracing::debug!(rows = s.row_count, "auto-analyzed table {}", table.name);
        }
        None => {
            activity.forget(table_id);
            delete_orphans(store)?;
        }
    }
    Ok(())
}

/// A table to analyse, with the columns named (positions; `None` = all).
type Target = (TableDef, Option<Vec<usize>>);

/// Resolves an ANALYZE's targets (42P01, 42703, 42701 as PostgreSQL); objects that are not
/// tables are skipped with PostgreSQL's warning.
fn resolve(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    stmt: &AnalyzeStmt,
    notices: &mut Vec<String>,
) -> Result<Vec<Target>> {
    if stmt.targets.is_empty() {
        return Ok(catalog::objects_in(txn, db.id)?
            .into_iter()
            .filter_map(|d| match d {
                Descriptor::Table(t) => Some((t, None)),
                _ => None,
            })
            .collect());
    }
    let mut out = Vec::new();
    for target in &stmt.targets {
        let name = &target.table;
        if crate::pg_catalog::lookup(target.schema.as_deref(), name).is_some() {
            // The system catalogs are computed, not stored: nothing to analyse.
            continue;
        }
        if target
            .schema
            .as_deref()
            .is_some_and(crate::pg_catalog::is_catalog_schema)
        {
            return Err(SqlError::undefined_table(name));
        }
        let schema = target.schema.as_deref().unwrap_or(catalog::PUBLIC_SCHEMA);
        let Some(table) = catalog::table(txn, db.id, schema, name)? else {
            if catalog::lookup_name(txn, db.id, schema, name)?.is_some() {
                notices.push(format!(
                    "skipping \"{name}\" --- cannot analyze non-tables or special system tables"
                ));
                continue;
            }
            return Err(SqlError::undefined_table(name));
        };
        let columns = if target.columns.is_empty() {
            None
        } else {
            let mut pos = Vec::new();
            for c in &target.columns {
                let p = table
                    .column_index(c)
                    .filter(|p| table.columns.get(*p).is_some_and(|col| !col.hidden))
                    .ok_or_else(|| {
                        SqlError::new(
                            code::UNDEFINED_COLUMN,
                            format!("column \"{c}\" of relation \"{name}\" does not exist"),
                        )
                    })?;
                if pos.contains(&p) {
                    return Err(SqlError::new(
                        code::DUPLICATE_COLUMN,
                        format!("column \"{c}\" of relation \"{name}\" appears more than once"),
                    ));
                }
                pos.push(p);
            }
            Some(pos)
        };
        out.push((table, columns));
    }
    Ok(out)
}

fn verbose_notices(table: &TableDef, s: &TableStats, notices: &mut Vec<String>) {
    notices.push(format!("analyzing \"{}.{}\"", table.schema, table.name));
    notices.push(format!(
        "\"{}\": scanned {} of {} pages, containing {} live rows and 0 dead rows; {} rows in sample, {} estimated total rows",
        table.name,
        s.pages(),
        s.pages(),
        s.row_count,
        s.sample_rows,
        s.row_count
    ));
}

/// Runs an ANALYZE statement. `block`: the session's open transaction block, which the scan
/// and the statistics write then join (module header); otherwise each table gets
/// transactions of its own.
pub fn run(
    store: &dyn KvStore,
    activity: &Activity,
    block: Option<&mut dyn KvTxn>,
    db: &DatabaseDesc,
    stmt: &AnalyzeStmt,
    notices: &mut Vec<String>,
) -> Result<()> {
    match block {
        Some(txn) => {
            let targets = resolve(txn, db, stmt, notices)?;
            let now = txn.timestamp_micros();
            for (table, columns) in targets {
                let mods = activity.get(table.id).map_or(0, |a| a.mod_since_analyze);
                let opts = CollectOptions {
                    columns: columns.clone(),
                    now_micros: now,
                    ..Default::default()
                };
                let mut s = collect(txn, &table, &opts)?;
                if columns.is_some() {
                    let old = read_stats(txn, &table)?;
                    merge_columns(&mut s, old);
                }
                write_stats(txn, &s)?;
                if stmt.verbose {
                    verbose_notices(&table, &s, notices);
                }
                activity.analyzed(table.id, s.row_count, now, false, mods);
            }
        }
        None => {
            let targets = {
                let mut txn = store.begin(IsolationLevel::Snapshot, true)?;
                resolve(&mut *txn, db, stmt, notices)?
            };
            for (table, columns) in targets {
                let mods = activity.get(table.id).map_or(0, |a| a.mod_since_analyze);
                let opts = CollectOptions {
                    columns,
                    ..Default::default()
                };
                if let Some(s) = analyze_table(store, &table, &opts)? {
                    if stmt.verbose {
                        verbose_notices(&table, &s, notices);
                    }
                    activity.analyzed(table.id, s.row_count, s.analyzed_at_micros, false, mods);
                }
            }
            if stmt.targets.is_empty() {
                delete_orphans(store)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sql_plan::catalog::{ColumnDef, IndexColumn, IndexDef};
    use cairn_sql_plan::types::DataType;

    fn table() -> TableDef {
        let col = |id: u32, name: &str, ty: DataType| ColumnDef {
            id,
            name: name.into(),
            ty,
            nullable: true,
            default: None,
            hidden: false,
        };
        TableDef {
            id: 100,
            database_id: 1,
            schema: "public".into(),
            name: "t".into(),
            columns: vec![
                col(1, "id", DataType::Int8),
                col(2, "a", DataType::Int4),
                col(3, "s", DataType::Text),
            ],
            primary: IndexDef {
                id: PRIMARY_INDEX_ID,
                name: "t_pkey".into(),
                columns: vec![IndexColumn {
                    column_id: 1,
                    descending: false,
                }],
                unique: true,
                constraint: true,
            },
            indexes: vec![IndexDef {
                id: 2,
                name: "t_a".into(),
                columns: vec![IndexColumn {
                    column_id: 2,
                    descending: false,
                }],
                unique: false,
                constraint: false,
            }],
            checks: Vec::new(),
            next_column_id: 4,
            next_index_id: 3,
            has_declared_primary_key: true,
            foreign_keys: Vec::new(),
            referenced_by: Vec::new(),
        }
    }

    fn sample_stats() -> TableStats {
        TableStats {
            table_id: 100,
            row_count: 1000.0,
            size_bytes: 40_000,
            sample_rows: 1000,
            analyzed_at_micros: 1_700_000_000_000_000,
            auto: true,
            columns: vec![
                ColumnStats {
                    column_id: 2,
                    type_name: "integer".into(),
                    null_frac: 0.1,
                    avg_width: 4,
                    n_distinct: 10.0,
                    mcv: vec![(Value::Int(1), 0.5), (Value::Int(2), 0.25)],
                    histogram: vec![Value::Int(3), Value::Int(9)],
                    correlation: Some(0.5),
                },
                ColumnStats {
                    column_id: 3,
                    type_name: "text".into(),
                    null_frac: 0.0,
                    avg_width: 6,
                    n_distinct: -1.0,
                    mcv: Vec::new(),
                    histogram: vec![Value::Text("a".into()), Value::Text("z".into())],
                    correlation: None,
                },
            ],
            indexes: vec![
                IndexStats {
                    index_id: 1,
                    column_ids: vec![1],
                    distinct_keys: 1000.0,
                },
                IndexStats {
                    index_id: 2,
                    column_ids: vec![2],
                    distinct_keys: 10.0,
                },
            ],
        }
    }

    #[test]
    fn stats_round_trip() {
        let t = table();
        let s = sample_stats();
        assert_eq!(decode_stats(&t, &encode_stats(&s)).expect("decode"), s);
    }

    #[test]
    fn corrupt_stats_are_errors() {
        let t = table();
        let good = encode_stats(&sample_stats());
        // Every truncation, every single-bit flip and a trailing byte give XX001.
        for len in 0..good.len() {
            let e = decode_stats(&t, &good[..len]).expect_err("truncated");
            assert_eq!(e.code, code::DATA_CORRUPTED);
        }
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x10;
            let e = decode_stats(&t, &b).expect_err("flipped");
            assert_eq!(e.code, code::DATA_CORRUPTED, "byte {i}");
        }
        let mut b = good.clone();
        b.push(0);
        assert!(decode_stats(&t, &b).is_err());
        assert!(e_message(&t, &[2]).contains("version 2"));
    }

    fn e_message(t: &TableDef, b: &[u8]) -> String {
        decode_stats(t, b).expect_err("bad").message
    }

    #[test]
    fn read_drops_stale_columns() {
        let mut t = table();
        // Column 3 changes type; index 2 is dropped; column 2 is renamed (kept).
        t.columns[2].ty = DataType::Int4;
        t.columns[1].name = "renamed".into();
        t.indexes.clear();
        let s = fit_to_schema(&t, sample_stats());
        assert_eq!(s.columns.len(), 1);
        assert_eq!(s.columns[0].column_id, 2);
        assert_eq!(s.indexes.len(), 1);
        assert_eq!(s.indexes[0].index_id, PRIMARY_INDEX_ID);
    }

    #[test]
    fn reservoir_is_bounded_and_uniform() {
        // 100 000 items into 1 000 slots: each tenth of the stream holds about a tenth of
        // the sample (binomial sd ~ 9.5; allow 5 sd).
        let mut r = Reservoir::new(1000, 42);
        for i in 0..100_000u64 {
            r.offer(i);
            assert!(r.items.len() <= 1000);
        }
        let mut deciles = [0usize; 10];
        for &i in &r.items {
            deciles[(i / 10_000) as usize] += 1;
        }
        for d in deciles {
            assert!((52..=148).contains(&d), "{deciles:?}");
        }
        // A short stream is kept whole.
        let mut r = Reservoir::new(1000, 1);
        for i in 0..500u64 {
            r.offer(i);
        }
        assert_eq!(r.items, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn summarise_picks_frequent_values_and_histogram_of_the_rest() {
        // 1000 sampled values: 0 x 500, then 1..=500 once each.
        let mut vals: Vec<Value> = (0..500).map(|_| Value::Int(0)).collect();
        vals.extend((1..=500).map(Value::Int));
        let mut entries: Vec<(Vec<u8>, Value, usize)> = vals
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let mut k = Vec::new();
                keys::encode_value(&mut k, &v, false);
                (k, v, i)
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            match groups.last_mut() {
                Some((g, c)) if entries[*g].0 == e.0 => *c += 1,
                _ => groups.push((i, 1)),
            }
        }
        let (mcv, hist) = summarise(&entries, &groups, 1000, 1000.0, 100, false, 501.0);
        assert_eq!(mcv, vec![(Value::Int(0), 0.5)]);
        assert_eq!(hist.len(), 101);
        assert_eq!(hist.first(), Some(&Value::Int(1)));
        assert_eq!(hist.last(), Some(&Value::Int(500)));
        // Sorted physical order equals value order for the tail: correlation is high.
        let c = correlation(&entries).expect("correlation");
        assert!(c > 0.5, "{c}");
    }

    #[test]
    fn format_matches_the_documented_example() {
        let s = TableStats {
            table_id: 100,
            row_count: 3.0,
            size_bytes: 60,
            sample_rows: 3,
            analyzed_at_micros: 0,
            auto: false,
            columns: Vec::new(),
            indexes: Vec::new(),
        };
        let b = encode_stats(&s);
        let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(hex[0], "01");
        assert_eq!(
            hex[5..].join(" "),
            "64 00 00 00 00 00 00 08 40 3c 03 00 00 00 00 00 00 00 00 00 00 00"
        );
    }
}

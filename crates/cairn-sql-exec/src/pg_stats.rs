//! Rows of the statistics views `pg_stats` and `pg_stat_user_tables`, and the statistics
//! columns of `pg_class` (`relpages`, `reltuples`).
//!
//! Role: `pg_catalog.rs` declares the views and calls these functions with the statement's
//! snapshot: the tables, their stored statistics (`analyze::read_all_raw`, decoded and
//! fitted to the current schema) and this node's change counters (`auto_analyze.rs`).
//!
//! PostgreSQL's `anyarray` columns (`most_common_vals`, `histogram_bounds`) are `text[]` here:
//! each value in its column type's text form, so clients print the same `{1,2,3}`.
//!
//! Invariants:
//! 1. A table without statistics has no `pg_stats` rows and `reltuples` -1, `relpages` 0, as
//!    a never-analysed table in PostgreSQL 14+. Test (cairn): `analyze_fills_pg_stats_...`.
//! 2. Only columns that exist with the type they were analysed with have rows
//!    (`analyze::read_stats` invariant 2).

use std::collections::HashMap;

use cairn_sql_plan::catalog::TableDef;
use cairn_sql_plan::stats::TableStats;
use cairn_sql_plan::types::Value;

use crate::auto_analyze::TableActivity;
use crate::exec::Row;

/// Microseconds from the Unix epoch to PostgreSQL's 2000-01-01.
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

fn real(f: f64) -> Value {
    Value::Float(f as f32 as f64)
}

fn ts(unix_micros: i64) -> Value {
    Value::Int(unix_micros.saturating_sub(PG_EPOCH_OFFSET_MICROS))
}

fn text_array(values: impl Iterator<Item = Option<String>>) -> Value {
    Value::Array(values.map(|v| v.map_or(Value::Null, Value::Text)).collect())
}

/// `(relpages, reltuples)` of a table for `pg_class`.
pub fn class_numbers(stats: Option<&TableStats>) -> (Value, Value) {
    match stats {
        Some(s) => (
            Value::Int(
                i64::try_from(s.pages())
                    .unwrap_or(i64::MAX)
                    .min(i32::MAX as i64),
            ),
            real(s.row_count),
        ),
        None => (Value::Int(0), real(-1.0)),
    }
}

/// `pg_stats` rows: one per analysed column.
pub fn pg_stats_rows(tables: &[TableDef], stats: &HashMap<u32, TableStats>) -> Vec<Row> {
    let mut out = Vec::new();
    for t in tables {
        let Some(s) = stats.get(&t.id) else {
            continue;
        };
        for (_, col) in t.visible_columns() {
            let Some(c) = s.column(col.id) else {
                continue;
            };
            let mcv_vals = if c.mcv.is_empty() {
                Value::Null
            } else {
                text_array(c.mcv.iter().map(|(v, _)| v.to_text(&col.ty)))
            };
            let mcv_freqs = if c.mcv.is_empty() {
                Value::Null
            } else {
                Value::Array(c.mcv.iter().map(|(_, f)| real(*f)).collect())
            };
            let hist = if c.histogram.is_empty() {
                Value::Null
            } else {
                text_array(c.histogram.iter().map(|v| v.to_text(&col.ty)))
            };
            out.push(vec![
                Value::Text(t.schema.clone()),
                Value::Text(t.name.clone()),
                Value::Text(col.name.clone()),
                Value::Bool(false),
                real(c.null_frac),
                Value::Int(c.avg_width as i64),
                real(c.n_distinct),
                mcv_vals,
                mcv_freqs,
                hist,
                c.correlation.map_or(Value::Null, real),
                Value::Null,
                Value::Null,
                Value::Null,
            ]);
        }
    }
    out
}

/// `pg_stat_user_tables` rows. Scans are not counted (0); the tuple counters are this node's
/// since it started; the analyze times come from the counters, or from the stored
/// statistics after a restart.
pub fn pg_stat_user_tables_rows(
    tables: &[TableDef],
    stats: &HashMap<u32, TableStats>,
    activity: &HashMap<u32, TableActivity>,
) -> Vec<Row> {
    let mut out = Vec::new();
    for t in tables {
        let s = stats.get(&t.id);
        let a = activity.get(&t.id).cloned().unwrap_or_default();
        let stored_manual = s.filter(|s| !s.auto).map(|s| s.analyzed_at_micros);
        let stored_auto = s.filter(|s| s.auto).map(|s| s.analyzed_at_micros);
        let last_analyze = a.last_analyze_micros.or(stored_manual);
        let last_auto = a.last_autoanalyze_micros.or(stored_auto);
        let analyzed_rows = a.reltuples.or(s.map(|s| s.row_count)).unwrap_or(0.0);
        let live = (analyzed_rows as i64)
            .saturating_add(a.live_delta_since_analyze)
            .max(0);
        let count = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        out.push(vec![
            Value::Int(t.id as i64),
            Value::Text(t.schema.clone()),
            Value::Text(t.name.clone()),
            Value::Int(0),
            Value::Int(0),
            if t.indexes.is_empty() && !t.has_declared_primary_key {
                Value::Null
            } else {
                Value::Int(0)
            },
            if t.indexes.is_empty() && !t.has_declared_primary_key {
                Value::Null
            } else {
                Value::Int(0)
            },
            count(a.inserted),
            count(a.updated),
            count(a.deleted),
            Value::Int(0),
            Value::Int(live),
            Value::Int(0),
            count(a.mod_since_analyze),
            count(a.inserted),
            Value::Null,
            Value::Null,
            last_analyze.map_or(Value::Null, ts),
            last_auto.map_or(Value::Null, ts),
            Value::Int(0),
            Value::Int(0),
            count(a.analyze_count.max(u64::from(stored_manual.is_some()))),
            count(a.autoanalyze_count.max(u64::from(stored_auto.is_some()))),
        ]);
    }
    out
}

//! Secondary index entries: how a row appears in each index of its table, and keeping the
//! indexes in step with the rows.
//!
//! Role: the executor calls [`write_indexes`] for every row it inserts, updates or deletes,
//! and [`fetch_by_entry`] when it scans an index; DDL calls [`backfill`] when CREATE INDEX
//! runs on a populated table.
//!
//! Format (keys in `keys.rs` notation; `pk` = the row's primary-key values, keycode-encoded):
//!
//! ```text
//! unique index, no NULL in the indexed columns:
//!     Int(table_id) Int(index_id) <indexed values>        -> pk
//! otherwise (non-unique index, or a NULL in a unique one):
//!     Int(table_id) Int(index_id) <indexed values> pk     -> pk
//! ```
//!
//! The value is always the primary-key suffix, so a reader never has to parse the key to
//! find the row. Two rows with the same indexed values collide in the first form, which is
//! what enforces uniqueness; NULLs never collide (PostgreSQL's NULLS DISTINCT).
//!
//! Invariants:
//! 1. Every row of a table has exactly one entry in each of its indexes, written or deleted
//!    in the same transaction as the row. Tests: `tests/pg/sql_session.rs`
//!    `secondary_indexes_answer_queries_and_stay_in_step`.
//! 2. A unique entry is written only after `get_for_update` found its key free, so two
//!    transactions cannot both commit the same unique values (the second waits, then sees the
//!    first's entry, or fails with 40001).

use cairn_sql_plan::catalog::{IndexDef, TableDef, PRIMARY_INDEX_ID};
use cairn_sql_plan::types::Value;
use cairn_sql_plan::{code, Result, SqlError};

use crate::exec::Row;
use crate::keys;
use crate::kv::KvTxn;
use crate::row::{decode_row, encode_row};

/// The primary-key suffix of a row (its key without the table/index prefix).
pub fn pk_suffix(table: &TableDef, row: &[Value]) -> Vec<u8> {
    let mut k = Vec::new();
    for ic in &table.primary.columns {
        if let Some((i, _)) = table.column_by_id(ic.column_id) {
            keys::encode_value(&mut k, &row[i], ic.descending);
        }
    }
    k
}

/// The row's key in the primary index.
pub fn primary_key(table: &TableDef, row: &[Value]) -> Vec<u8> {
    let mut k = keys::index_prefix(table.id, PRIMARY_INDEX_ID);
    k.extend_from_slice(&pk_suffix(table, row));
    k
}

/// The primary-index key of the row whose primary-key values are `values` (in primary-key
/// order).
pub fn primary_key_from<'v>(table: &TableDef, values: impl Iterator<Item = &'v Value>) -> Vec<u8> {
    let mut k = keys::index_prefix(table.id, PRIMARY_INDEX_ID);
    for (ic, v) in table.primary.columns.iter().zip(values) {
        keys::encode_value(&mut k, v, ic.descending);
    }
    k
}

/// `(key, value, unique_form)` of `row` in `idx`.
pub fn entry(table: &TableDef, idx: &IndexDef, row: &[Value]) -> (Vec<u8>, Vec<u8>, bool) {
    let mut key = keys::index_prefix(table.id, idx.id);
    let mut has_null = false;
    for ic in &idx.columns {
        if let Some((i, _)) = table.column_by_id(ic.column_id) {
            has_null |= row[i].is_null();
            keys::encode_value(&mut key, &row[i], ic.descending);
        }
    }
    let pk = pk_suffix(table, row);
    if idx.unique && !has_null {
        (key, pk, true)
    } else {
        key.extend_from_slice(&pk);
        (key, pk, false)
    }
}

fn describe(table: &TableDef, idx: &IndexDef, row: &[Value]) -> String {
    let mut names = Vec::new();
    let mut vals = Vec::new();
    for ic in &idx.columns {
        if let Some((i, c)) = table.column_by_id(ic.column_id) {
            names.push(c.name.clone());
            vals.push(row[i].to_text(&c.ty).unwrap_or_else(|| "null".into()));
        }
    }
    format!(
        "Key ({})=({}) already exists.",
        names.join(", "),
        vals.join(", ")
    )
}

/// The 23505 error for a duplicate in `idx`.
pub fn unique_violation(table: &TableDef, idx: &IndexDef, row: &[Value]) -> SqlError {
    SqlError::new(
        code::UNIQUE_VIOLATION,
        format!(
            "duplicate key value violates unique constraint \"{}\"",
            idx.name
        ),
    )
    .with_detail(describe(table, idx, row))
    .with_constraint(idx.name.clone())
    .with_table(table.name.clone())
}

/// Brings every secondary index from `old` (the row before, if any) to `new` (after, if any).
pub fn write_indexes(
    txn: &mut dyn KvTxn,
    table: &TableDef,
    old: Option<&[Value]>,
    new: Option<&[Value]>,
) -> Result<()> {
    for idx in &table.indexes {
        let before = old.map(|r| entry(table, idx, r));
        let after = new.map(|r| entry(table, idx, r));
        if let (Some(b), Some(a)) = (&before, &after) {
            if b.0 == a.0 && b.1 == a.1 {
                continue;
            }
        }
        if let Some((k, _, _)) = &before {
            txn.delete(k)?;
        }
        if let Some((k, v, unique)) = &after {
            if *unique {
                if let Some(existing) = txn.get_for_update(k)? {
                    if &existing != v {
                        let row = new.unwrap_or_default();
                        return Err(unique_violation(table, idx, row));
                    }
                }
            }
            txn.put(k, v)?;
        }
    }
    Ok(())
}

/// The row an index entry points at (`None` if it is gone, which a consistent index never
/// shows).
pub fn fetch_by_entry(
    txn: &mut dyn KvTxn,
    table: &TableDef,
    entry_value: &[u8],
) -> Result<Option<Row>> {
    fetch_by_entry_needed(txn, table, entry_value, None)
}

/// [`fetch_by_entry`], decoding only the `needed` columns (`row::decode_row_needed`).
pub fn fetch_by_entry_needed(
    txn: &mut dyn KvTxn,
    table: &TableDef,
    entry_value: &[u8],
    needed: Option<&[bool]>,
) -> Result<Option<Row>> {
    let mut k = keys::index_prefix(table.id, PRIMARY_INDEX_ID);
    k.extend_from_slice(entry_value);
    match txn.get(&k)? {
        Some(v) => crate::row::decode_row_needed(table, &v, needed).map(Some),
        None => Ok(None),
    }
}

/// Writes `idx`'s entries for every existing row of `table` (CREATE INDEX).
pub fn backfill(txn: &mut dyn KvTxn, table: &TableDef, idx: &IndexDef) -> Result<u64> {
    let (mut start, end) = keys::index_span(table.id, PRIMARY_INDEX_ID);
    let mut n = 0;
    loop {
        let batch = txn.scan(&start, &end, 1024, false)?;
        let len = batch.len();
        for (k, v) in batch {
            let row = decode_row(table, &v)?;
            let (ek, ev, unique) = entry(table, idx, &row);
            if unique && txn.get_for_update(&ek)?.is_some() {
                return Err(SqlError::new(
                    code::UNIQUE_VIOLATION,
                    format!("could not create unique index \"{}\"", idx.name),
                )
                .with_detail(
                    describe(table, idx, &row).replace("already exists", "is duplicated"),
                ));
            }
            txn.put(&ek, &ev)?;
            n += 1;
            start = k;
            start.push(0);
        }
        if len < 1024 {
            return Ok(n);
        }
    }
}

/// Re-encodes a row (used by ALTER TABLE paths that rewrite rows).
pub fn rewrite_row(txn: &mut dyn KvTxn, table: &TableDef, row: &[Value]) -> Result<()> {
    txn.put(&primary_key(table, row), &encode_row(table, row))
}

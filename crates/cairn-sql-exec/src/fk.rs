//! FOREIGN KEY constraints: defining them (CREATE TABLE, ALTER TABLE ADD), checking rows
//! against them, and the referential actions (NO ACTION, RESTRICT, CASCADE, SET NULL,
//! SET DEFAULT), with PostgreSQL 15's semantics and messages.
//!
//! Role: DDL (`ddl.rs`, `alter.rs`) calls [`define`], [`attach`], [`detach`] and
//! [`validate_existing`]; the executor (`exec.rs`) records one [`Event`] per written row of a
//! table that has or is referenced by a foreign key, and calls [`fire`] once the statement's
//! own rows are written. Everything reads and writes through the statement's `KvTxn`.
//!
//! Timing, as in PostgreSQL (whose RI triggers are AFTER ROW triggers fired at the end of the
//! statement): a statement first writes all its rows, then the queued events are processed in
//! order, and the writes of cascaded actions queue further events behind them. So a
//! self-referencing `INSERT ... VALUES (2, 1), (1, NULL)` succeeds, and NO ACTION accepts a
//! parent key that the same statement removed and re-created (`UPDATE p SET id = id + 1`),
//! while RESTRICT does not (it skips that re-check, as PostgreSQL's does).
//!
//! Lookups: a child row's parent is found through the unique index the constraint names
//! (`ForeignKeyDef::ref_index`: the primary index or a unique secondary one). A parent's
//! children are found through a child index whose leading columns are the foreign-key columns
//! (primary or secondary) if one exists, else by scanning the child table (PostgreSQL creates
//! no index on the referencing side, and neither does Cairn).
//!
//! Concurrency: at SERIALIZABLE the parent lookup and the child scan are ordinary reads, so the
//! read set makes a child insert and a concurrent delete of its parent conflict (one of the two
//! fails with 40001 at commit). At READ COMMITTED and REPEATABLE READ the child side locks the
//! parent row in shared mode ([`KvTxn::lock_row`] with `RowLockStrength::Share`, Cairn's
//! `FOR KEY SHARE`) and the parent side locks the parent row exclusively before it looks for
//! children, so whichever comes second waits for the first to finish and then sees its effect (READ COMMITTED) or
//! fails with 40001 (REPEATABLE READ). One window stays open at REPEATABLE READ (documented in
//! `docs/sql.md`): a parent delete that waits for a child insert's lock checks for children at
//! its snapshot, which predates that insert.
//!
//! Invariants:
//! 1. After a statement that returns `Ok`, every row of a table with a foreign key whose
//!    key columns are all non-NULL (MATCH SIMPLE) or non-NULL (MATCH FULL, where a partly
//!    NULL key is an error) has a row with equal referenced values in the referenced table.
//!    Tests: `tests/slt/foreign_keys.slt`.
//! 2. `ForeignKeyDef::ref_index` always names a unique index of the referenced table over
//!    exactly `ref_columns`: [`define`] picks it, and DDL refuses to drop it (2BP01) while the
//!    constraint exists.
//! 3. The referenced table's `referenced_by` lists the referencing table's id exactly while
//!    the referencing table has at least one foreign key to it ([`attach`], [`detach`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use sqlparser::ast;

use cairn_sql_plan::bind::{ident_name, object_name};
use cairn_sql_plan::catalog::{FkAction, ForeignKeyDef, TableDef, PRIMARY_INDEX_ID};
use cairn_sql_plan::expr::Expr;
use cairn_sql_plan::plan::{RowLockStrength, RowLockWait};
use cairn_sql_plan::types::{cast, DataType, Value};
use cairn_sql_plan::{code, Result, SqlError};

use crate::catalog::{self, DatabaseDesc, Descriptor, PUBLIC_SCHEMA};
use crate::exec::{ExecCtx, Row, SCAN_BATCH_ROWS};
use crate::index;
use crate::keys;
use crate::kv::{IsolationLevel, KvTxn};
use crate::row::{decode_row, encode_row};

// ----- definition (DDL) -----

fn referential_action(a: Option<&ast::ReferentialAction>) -> FkAction {
    match a {
        None | Some(ast::ReferentialAction::NoAction) => FkAction::NoAction,
        Some(ast::ReferentialAction::Restrict) => FkAction::Restrict,
        Some(ast::ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ast::ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ast::ReferentialAction::SetDefault) => FkAction::SetDefault,
    }
}

/// Every constraint name of a table (PRIMARY KEY, UNIQUE, CHECK, FOREIGN KEY).
fn constraint_names(t: &TableDef) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    if t.has_declared_primary_key {
        out.push(&t.primary.name);
    }
    out.extend(
        t.indexes
            .iter()
            .filter(|i| i.constraint)
            .map(|i| i.name.as_str()),
    );
    out.extend(t.checks.iter().map(|c| c.name.as_str()));
    out.extend(t.foreign_keys.iter().map(|f| f.name.as_str()));
    out
}

fn fk_column_missing(name: &str) -> SqlError {
    SqlError::new(
        code::UNDEFINED_COLUMN,
        format!("column \"{name}\" referenced in foreign key constraint does not exist"),
    )
}

fn column_id(t: &TableDef, name: &str) -> Result<u32> {
    t.columns
        .iter()
        .find(|c| c.name == name && !c.hidden)
        .map(|c| c.id)
        .ok_or_else(|| fk_column_missing(name))
}

/// The type of column `id` of `t` (`Unknown` for a column that is not there, which a valid
/// descriptor never has).
fn column_type(t: &TableDef, id: u32) -> DataType {
    t.column_by_id(id)
        .map(|(_, c)| c.ty.clone())
        .unwrap_or(DataType::Unknown)
}

fn column_name(t: &TableDef, id: u32) -> String {
    t.column_by_id(id)
        .map(|(_, c)| c.name.clone())
        .unwrap_or_default()
}

/// Whether PostgreSQL finds an equality operator between a referencing column of type `fk`
/// and a referenced one of type `pk`: the same type, a cross-type operator of one btree family
/// (integers among themselves, floats among themselves, date/timestamp/timestamptz, the
/// string types but for `char(n)` referenced by another string type), or an implicit cast
/// from `fk` to `pk` (integer to numeric or float, numeric to float).
fn types_compatible(fk: &DataType, pk: &DataType) -> bool {
    if fk.unconstrained() == pk.unconstrained() {
        return true;
    }
    let rank = |t: &DataType| {
        if t.is_integer() {
            Some(0)
        } else if matches!(t, DataType::Numeric(_)) {
            Some(1)
        } else if t.is_float() {
            Some(2)
        } else {
            None
        }
    };
    if let (Some(f), Some(p)) = (rank(fk), rank(pk)) {
        return f <= p;
    }
    if fk.is_string() && pk.is_string() {
        return !matches!(pk, DataType::Char(_)) || matches!(fk, DataType::Char(_));
    }
    fk.is_datetime() && pk.is_datetime()
}

/// Builds the constraint `c` for `child` (which may not be stored yet). `column` is the
/// column a column-constraint form (`col REFERENCES p`) is attached to; `name` the name from
/// `CONSTRAINT name` there. Returns the definition and, unless the constraint references
/// `child` itself, the referenced table's descriptor (for [`attach`]).
pub(crate) fn define(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    child: &TableDef,
    c: &ast::ForeignKeyConstraint,
    column: Option<&str>,
    name: Option<String>,
) -> Result<(ForeignKeyDef, Option<TableDef>)> {
    if let Some(ch) = &c.characteristics {
        if ch.deferrable == Some(true)
            || matches!(ch.initially, Some(ast::DeferrableInitial::Deferred))
        {
            return Err(SqlError::not_supported(
                "DEFERRABLE foreign key constraints",
            ));
        }
        if ch.enforced == Some(false) {
            return Err(SqlError::not_supported("NOT ENFORCED constraints"));
        }
    }
    let match_full = match c.match_kind {
        None | Some(ast::ConstraintReferenceMatchKind::Simple) => false,
        Some(ast::ConstraintReferenceMatchKind::Full) => true,
        Some(ast::ConstraintReferenceMatchKind::Partial) => {
            return Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                "MATCH PARTIAL not yet implemented",
            ))
        }
    };
    let child_cols: Vec<String> = match column {
        Some(col) => vec![col.to_string()],
        None => c.columns.iter().map(ident_name).collect(),
    };
    let columns = child_cols
        .iter()
        .map(|n| column_id(child, n))
        .collect::<Result<Vec<u32>>>()?;
    let (schema, pname) = object_name(&c.foreign_table)?;
    let schema = schema.unwrap_or_else(|| PUBLIC_SCHEMA.to_string());
    let parent: Option<TableDef> = if pname == child.name && schema == child.schema {
        None
    } else {
        Some(
            catalog::table(txn, db.id, &schema, &pname)?
                .ok_or_else(|| SqlError::undefined_table(&pname))?,
        )
    };
    let p: &TableDef = parent.as_ref().unwrap_or(child);
    let ref_columns: Vec<u32> = if c.referred_columns.is_empty() {
        if !p.has_declared_primary_key {
            return Err(SqlError::new(
                code::UNDEFINED_OBJECT,
                format!(
                    "there is no primary key for referenced table \"{}\"",
                    p.name
                ),
            ));
        }
        p.primary.columns.iter().map(|c| c.column_id).collect()
    } else {
        c.referred_columns
            .iter()
            .map(|n| column_id(p, &ident_name(n)))
            .collect::<Result<Vec<u32>>>()?
    };
    if ref_columns.len() != columns.len() {
        return Err(SqlError::new(
            code::INVALID_FOREIGN_KEY,
            "number of referencing and referenced columns for foreign key disagree",
        ));
    }
    let mut sorted = ref_columns.clone();
    sorted.sort_unstable();
    let ref_index = std::iter::once(&p.primary)
        .filter(|_| p.has_declared_primary_key)
        .chain(p.indexes.iter().filter(|i| i.unique))
        .find(|i| {
            let mut ids: Vec<u32> = i.columns.iter().map(|c| c.column_id).collect();
            ids.sort_unstable();
            ids == sorted
        })
        .map(|i| i.id)
        .ok_or_else(|| {
            SqlError::new(
                code::INVALID_FOREIGN_KEY,
                format!(
                    "there is no unique constraint matching given keys for referenced table \"{}\"",
                    p.name
                ),
            )
        })?;
    let name = match name.or_else(|| c.name.as_ref().map(ident_name)) {
        Some(n) => {
            if constraint_names(child).contains(&n.as_str()) {
                return Err(SqlError::new(
                    code::DUPLICATE_OBJECT,
                    format!(
                        "constraint \"{n}\" for relation \"{}\" already exists",
                        child.name
                    ),
                ));
            }
            n
        }
        None => {
            let base = format!("{}_{}_fkey", child.name, child_cols.join("_"));
            let taken = constraint_names(child);
            let mut candidate = base.clone();
            let mut k = 1;
            while taken.contains(&candidate.as_str()) {
                candidate = format!("{base}{k}");
                k += 1;
            }
            candidate
        }
    };
    for (fc, pc) in columns.iter().zip(&ref_columns) {
        let (ft, pt) = (column_type(child, *fc), column_type(p, *pc));
        if !types_compatible(&ft, &pt) {
            return Err(SqlError::new(
                code::DATATYPE_MISMATCH,
                format!("foreign key constraint \"{name}\" cannot be implemented"),
            )
            .with_detail(format!(
                "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                column_name(child, *fc),
                column_name(p, *pc),
                ft.unconstrained().sql_name(),
                pt.unconstrained().sql_name()
            )));
        }
    }
    let def = ForeignKeyDef {
        name,
        columns,
        ref_table: p.id,
        ref_columns,
        ref_index,
        on_delete: referential_action(c.on_delete.as_ref()),
        on_update: referential_action(c.on_update.as_ref()),
        match_full,
    };
    Ok((def, parent))
}

/// Adds `def` to `child` and records the reference on the parent (`parent = None`: `child`
/// references itself). Invariant 3.
pub(crate) fn attach(child: &mut TableDef, parent: Option<&mut TableDef>, def: ForeignKeyDef) {
    let child_id = child.id;
    child.foreign_keys.push(def);
    let p = match parent {
        Some(p) => p,
        None => child,
    };
    if !p.referenced_by.contains(&child_id) {
        p.referenced_by.push(child_id);
    }
}

/// Removes the foreign keys of `child` that `drop` selects and updates the parents'
/// `referenced_by` (writing every parent other than `child` itself). Invariant 3.
pub(crate) fn detach(
    txn: &mut dyn KvTxn,
    child: &mut TableDef,
    drop: impl Fn(&ForeignKeyDef) -> bool,
) -> Result<()> {
    let (gone, kept): (Vec<ForeignKeyDef>, Vec<ForeignKeyDef>) =
        child.foreign_keys.drain(..).partition(|f| drop(f));
    child.foreign_keys = kept;
    for f in gone {
        if child
            .foreign_keys
            .iter()
            .any(|k| k.ref_table == f.ref_table)
        {
            continue;
        }
        if f.ref_table == child.id {
            let id = child.id;
            child.referenced_by.retain(|r| *r != id);
            continue;
        }
        if let Some(Descriptor::Table(mut p)) = catalog::read_descriptor(txn, f.ref_table)? {
            p.referenced_by.retain(|r| *r != child.id);
            catalog::write_descriptor(txn, p.id, &Descriptor::Table(p))?;
        }
    }
    Ok(())
}

/// The foreign keys of other tables (and of `t` itself) that reference `t`, as
/// `(referencing table, constraint)`; `t` stands for itself in the list.
pub(crate) fn referencing(
    txn: &mut dyn KvTxn,
    t: &TableDef,
) -> Result<Vec<(TableDef, ForeignKeyDef)>> {
    let mut out = Vec::new();
    for id in &t.referenced_by {
        let child = if *id == t.id {
            t.clone()
        } else {
            match catalog::read_descriptor(txn, *id)? {
                Some(Descriptor::Table(c)) => c,
                _ => continue,
            }
        };
        for f in child.foreign_keys.iter().filter(|f| f.ref_table == t.id) {
            out.push((child.clone(), f.clone()));
        }
    }
    Ok(out)
}

/// The 2BP01 error for dropping `object` (`"index p_u_key"`, `"column u of table p"`, ...)
/// that the foreign keys `deps` depend on (as `on`, the object they name in DETAIL).
pub(crate) fn dependents_error(
    object: &str,
    deps: &[(TableDef, ForeignKeyDef)],
    on: &str,
) -> SqlError {
    let detail: Vec<String> = deps
        .iter()
        .map(|(c, f)| format!("constraint {} on table {} depends on {on}", f.name, c.name))
        .collect();
    SqlError::new(
        code::DEPENDENT_OBJECTS_STILL_EXIST,
        format!("cannot drop {object} because other objects depend on it"),
    )
    .with_detail(detail.join("\n"))
    .with_hint("Use DROP ... CASCADE to drop the dependent objects too.")
}

/// Drops the foreign keys `deps` (which reference `t`, the table being altered and written
/// by the caller), writing their tables. Returns the NOTICE PostgreSQL gives, if any.
pub(crate) fn drop_dependents(
    txn: &mut dyn KvTxn,
    t: &mut TableDef,
    deps: &[(TableDef, ForeignKeyDef)],
) -> Result<Option<String>> {
    let mut what = Vec::new();
    for (c, f) in deps {
        let fname = f.name.clone();
        let parent_id = t.id;
        if c.id == t.id {
            let self_id = t.id;
            t.foreign_keys.retain(|k| k.name != fname);
            if !t.foreign_keys.iter().any(|k| k.ref_table == self_id) {
                t.referenced_by.retain(|r| *r != self_id);
            }
        } else if let Some(Descriptor::Table(mut child)) = catalog::read_descriptor(txn, c.id)? {
            child
                .foreign_keys
                .retain(|k| !(k.ref_table == parent_id && k.name == fname));
            if !child.foreign_keys.iter().any(|k| k.ref_table == parent_id) {
                t.referenced_by.retain(|r| *r != c.id);
            }
            catalog::write_descriptor(txn, child.id, &Descriptor::Table(child))?;
        }
        what.push(format!("constraint {} on table {}", f.name, c.name));
    }
    Ok(match what.as_slice() {
        [] => None,
        [one] => Some(format!("drop cascades to {one}")),
        many => Some(format!("drop cascades to {} other objects", many.len())),
    })
}

/// Checks every existing row of `child` against `def` (ALTER TABLE ADD FOREIGN KEY).
pub(crate) fn validate_existing(
    txn: &mut dyn KvTxn,
    child: &TableDef,
    parent: Option<&TableDef>,
    def: &ForeignKeyDef,
) -> Result<()> {
    let p = parent.unwrap_or(child);
    let (mut start, end) = keys::index_span(child.id, PRIMARY_INDEX_ID);
    let lock = txn.isolation() != IsolationLevel::Serializable;
    loop {
        let batch = txn.scan(&start, &end, SCAN_BATCH_ROWS, false)?;
        let n = batch.len();
        for (k, v) in batch {
            let row = decode_row(child, &v)?;
            check_child_row(txn, child, def, p, &row, lock)?;
            start = k;
            start.push(0);
        }
        if n < SCAN_BATCH_ROWS {
            return Ok(());
        }
    }
}

// ----- keys, lookups -----

/// `Key (a, b)=(1, 2)` for columns `ids` of `t` with values `vals`.
fn describe_key(t: &TableDef, ids: &[u32], vals: &[Value]) -> String {
    let names: Vec<String> = ids.iter().map(|id| column_name(t, *id)).collect();
    let texts: Vec<String> = ids
        .iter()
        .zip(vals)
        .map(|(id, v)| {
            v.to_text(&column_type(t, *id))
                .unwrap_or_else(|| "null".into())
        })
        .collect();
    format!("Key ({})=({})", names.join(", "), texts.join(", "))
}

/// Values of columns `ids` in `row` of `t`.
fn values(t: &TableDef, ids: &[u32], row: &[Value]) -> Vec<Value> {
    ids.iter()
        .map(|id| {
            t.column_by_id(*id)
                .and_then(|(i, _)| row.get(i).cloned())
                .unwrap_or(Value::Null)
        })
        .collect()
}

/// The ascending key encoding of `vals`: equal SQL values give equal bytes.
fn key_bytes(vals: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in vals {
        keys::encode_value(&mut out, v, false);
    }
    out
}

/// `vals` (of columns `from_ids` of `from`) cast to the types of columns `to_ids` of `to`;
/// `None` when some value has no equal counterpart there (the cast fails or loses
/// information, so no row of `to` can hold an equal value).
fn convert(
    vals: &[Value],
    from: &TableDef,
    from_ids: &[u32],
    to: &TableDef,
    to_ids: &[u32],
) -> Option<Vec<Value>> {
    let mut out = Vec::with_capacity(vals.len());
    for ((v, f), t) in vals.iter().zip(from_ids).zip(to_ids) {
        let (ft, tt) = (column_type(from, *f), column_type(to, *t));
        if ft == tt {
            out.push(v.clone());
            continue;
        }
        let c = cast(v.clone(), &ft, &tt, false).ok()?;
        let back = cast(c.clone(), &tt, &ft, false).ok()?;
        if key_bytes(std::slice::from_ref(&back)) != key_bytes(std::slice::from_ref(v)) {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// The referenced row of `parent` whose `def.ref_columns` equal `pvals` (in the parent's
/// types), found through `def.ref_index`; with `lock`, the row is locked FOR KEY SHARE.
fn parent_row(
    txn: &mut dyn KvTxn,
    parent: &TableDef,
    def: &ForeignKeyDef,
    pvals: &[Value],
    lock: bool,
) -> Result<Option<Row>> {
    let idx = parent.index_by_id(def.ref_index).ok_or_else(|| {
        SqlError::internal(format!(
            "foreign key \"{}\" names a missing index {}",
            def.name, def.ref_index
        ))
    })?;
    let mut key = keys::index_prefix(parent.id, idx.id);
    for ic in &idx.columns {
        let j = def
            .ref_columns
            .iter()
            .position(|c| *c == ic.column_id)
            .ok_or_else(|| SqlError::internal("foreign key index does not match its columns"))?;
        keys::encode_value(&mut key, &pvals[j], ic.descending);
    }
    let row_key = if idx.id == PRIMARY_INDEX_ID {
        key
    } else {
        match txn.get(&key)? {
            None => return Ok(None),
            Some(pk) => {
                let mut k = keys::index_prefix(parent.id, PRIMARY_INDEX_ID);
                k.extend_from_slice(&pk);
                k
            }
        }
    };
    let found = if lock {
        // FOR KEY SHARE: Cairn's shared row lock (`docs/sql.md`).
        txn.lock_row(&row_key, RowLockStrength::Share, RowLockWait::Block)?
            .ok_or_else(|| SqlError::internal("a blocking row lock was skipped"))?
    } else {
        txn.get(&row_key)?
    };
    let Some(v) = found else { return Ok(None) };
    let row = decode_row(parent, &v)?;
    // At READ COMMITTED the row may have changed between the index read and the lock.
    if key_bytes(&values(parent, &def.ref_columns, &row)) != key_bytes(pvals) {
        return Ok(None);
    }
    Ok(Some(row))
}

/// Rows of `child` whose `def.columns` equal `pvals` (values of the parent's referenced
/// columns), at most `limit`.
fn child_rows(
    txn: &mut dyn KvTxn,
    child: &TableDef,
    def: &ForeignKeyDef,
    parent: &TableDef,
    pvals: &[Value],
    limit: usize,
) -> Result<Vec<Row>> {
    let Some(cvals) = convert(pvals, parent, &def.ref_columns, child, &def.columns) else {
        return Ok(Vec::new());
    };
    let want = key_bytes(&cvals);
    let n = def.columns.len();
    let mut sorted = def.columns.clone();
    sorted.sort_unstable();
    let usable = std::iter::once(&child.primary)
        .chain(child.indexes.iter())
        .find(|i| {
            let mut ids: Vec<u32> = i.columns.iter().take(n).map(|c| c.column_id).collect();
            ids.sort_unstable();
            ids == sorted
        });
    let (start, end) = match usable {
        Some(idx) => {
            let mut prefix = keys::index_prefix(child.id, idx.id);
            for ic in idx.columns.iter().take(n) {
                let j = def
                    .columns
                    .iter()
                    .position(|c| *c == ic.column_id)
                    .ok_or_else(|| SqlError::internal("foreign key column vanished"))?;
                keys::encode_value(&mut prefix, &cvals[j], ic.descending);
            }
            let end = keys::prefix_end(&prefix);
            (prefix, end)
        }
        None => keys::index_span(child.id, PRIMARY_INDEX_ID),
    };
    let via_secondary = usable.is_some_and(|i| i.id != PRIMARY_INDEX_ID);
    let mut out = Vec::new();
    let mut start = start;
    loop {
        let batch = txn.scan(&start, &end, SCAN_BATCH_ROWS, false)?;
        let len = batch.len();
        for (k, v) in batch {
            let row = if via_secondary {
                match index::fetch_by_entry(txn, child, &v)? {
                    Some(r) => r,
                    None => continue,
                }
            } else {
                decode_row(child, &v)?
            };
            if key_bytes(&values(child, &def.columns, &row)) == want {
                out.push(row);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            start = k;
            start.push(0);
        }
        if len < SCAN_BATCH_ROWS {
            return Ok(out);
        }
    }
}

/// The 23503 error of a referencing row.
fn not_present(child: &TableDef, def: &ForeignKeyDef, detail: String) -> SqlError {
    SqlError::new(
        code::FOREIGN_KEY_VIOLATION,
        format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            child.name, def.name
        ),
    )
    .with_detail(detail)
    .with_constraint(def.name.clone())
    .with_table(child.name.clone())
}

/// Checks one row of `child` against `def` (whose referenced table is `parent`).
fn check_child_row(
    txn: &mut dyn KvTxn,
    child: &TableDef,
    def: &ForeignKeyDef,
    parent: &TableDef,
    row: &[Value],
    lock: bool,
) -> Result<()> {
    let cvals = values(child, &def.columns, row);
    let nulls = cvals.iter().filter(|v| v.is_null()).count();
    if nulls == cvals.len() {
        return Ok(());
    }
    if nulls > 0 {
        if def.match_full {
            return Err(not_present(
                child,
                def,
                "MATCH FULL does not allow mixing of null and nonnull key values.".into(),
            ));
        }
        return Ok(());
    }
    let found = match convert(&cvals, child, &def.columns, parent, &def.ref_columns) {
        Some(pvals) => parent_row(txn, parent, def, &pvals, lock)?.is_some(),
        None => false,
    };
    if found {
        return Ok(());
    }
    Err(not_present(
        child,
        def,
        format!(
            "{} is not present in table \"{}\".",
            describe_key(child, &def.columns, &cvals),
            parent.name
        ),
    ))
}

// ----- statement-end enforcement -----

/// A row change of a table with foreign keys (child side) or referenced by some (parent
/// side), recorded by the executor and processed by [`fire`].
pub(crate) enum Event {
    Insert {
        table: Arc<TableDef>,
        new: Row,
    },
    Update {
        table: Arc<TableDef>,
        old: Row,
        new: Row,
    },
    Delete {
        table: Arc<TableDef>,
        old: Row,
    },
}

/// Whether writes to `t` need events at all.
pub(crate) fn involved(t: &TableDef) -> bool {
    !t.foreign_keys.is_empty() || !t.referenced_by.is_empty()
}

/// Descriptors and bound CHECKs one statement's enforcement needs, read once.
#[derive(Default)]
struct Tables {
    by_id: HashMap<u32, Arc<TableDef>>,
    checks: HashMap<u32, Arc<Vec<(String, Expr)>>>,
}

impl Tables {
    fn get(&mut self, cx: &ExecCtx, id: u32) -> Result<Arc<TableDef>> {
        if let Some(t) = self.by_id.get(&id) {
            return Ok(t.clone());
        }
        let d = {
            let mut txn = cx.txn.borrow_mut();
            catalog::read_descriptor(&mut **txn, id)?
        };
        match d {
            Some(Descriptor::Table(t)) => {
                let t = Arc::new(t);
                self.by_id.insert(id, t.clone());
                Ok(t)
            }
            _ => Err(SqlError::new(
                code::DATA_CORRUPTED,
                format!("foreign key names a missing table {id}"),
            )),
        }
    }

    fn checks(&mut self, cx: &ExecCtx, t: &TableDef) -> Result<Arc<Vec<(String, Expr)>>> {
        if let Some(c) = self.checks.get(&t.id) {
            return Ok(c.clone());
        }
        let c = Arc::new(crate::exec::checks(t, cx.session)?);
        self.checks.insert(t.id, c.clone());
        Ok(c)
    }
}

/// Whether FK checks lock what they read (READ COMMITTED, REPEATABLE READ) rather than rely
/// on SERIALIZABLE's read-set validation.
fn locking(cx: &ExecCtx) -> bool {
    cx.txn.borrow().isolation() != IsolationLevel::Serializable
}

/// Processes the statement's events and the events of the actions they cause, in order.
pub(crate) fn fire(cx: &ExecCtx, events: Vec<Event>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut queue: VecDeque<Event> = events.into();
    let mut tables = Tables::default();
    let lock = locking(cx);
    let mut processed = 0usize;
    while let Some(e) = queue.pop_front() {
        processed += 1;
        if processed > cx.limits.rows_max {
            return Err(SqlError::new(
                code::PROGRAM_LIMIT_EXCEEDED,
                format!(
                    "foreign key actions of one statement touch more than {} rows",
                    cx.limits.rows_max
                ),
            ));
        }
        match e {
            Event::Insert { table, new } => child_side(cx, &mut tables, &table, None, &new, lock)?,
            Event::Update { table, old, new } => {
                child_side(cx, &mut tables, &table, Some(&old), &new, lock)?;
                parent_side(cx, &mut tables, &mut queue, &table, &old, Some(&new), lock)?;
            }
            Event::Delete { table, old } => {
                parent_side(cx, &mut tables, &mut queue, &table, &old, None, lock)?
            }
        }
    }
    Ok(())
}

/// Checks a written row of `table` against its foreign keys, unless the statement has since
/// removed or changed the row (a later event covers the new version).
fn child_side(
    cx: &ExecCtx,
    tables: &mut Tables,
    table: &TableDef,
    old: Option<&[Value]>,
    new: &[Value],
    lock: bool,
) -> Result<()> {
    if table.foreign_keys.is_empty() {
        return Ok(());
    }
    let current = {
        let mut txn = cx.txn.borrow_mut();
        match txn.get(&index::primary_key(table, new))? {
            Some(v) => decode_row(table, &v)?,
            None => return Ok(()),
        }
    };
    for def in &table.foreign_keys {
        let nv = key_bytes(&values(table, &def.columns, new));
        if key_bytes(&values(table, &def.columns, &current)) != nv {
            continue;
        }
        if let Some(o) = old {
            if key_bytes(&values(table, &def.columns, o)) == nv {
                continue;
            }
        }
        let parent = if def.ref_table == table.id {
            Arc::new(table.clone())
        } else {
            tables.get(cx, def.ref_table)?
        };
        let mut txn = cx.txn.borrow_mut();
        check_child_row(&mut **txn, table, def, &parent, &current, lock)?;
    }
    Ok(())
}

/// Applies the referential actions of every foreign key referencing `table` to a deleted
/// (`new = None`) or updated row.
fn parent_side(
    cx: &ExecCtx,
    tables: &mut Tables,
    queue: &mut VecDeque<Event>,
    table: &Arc<TableDef>,
    old: &[Value],
    new: Option<&[Value]>,
    lock: bool,
) -> Result<()> {
    if table.referenced_by.is_empty() {
        return Ok(());
    }
    let mut locked = false;
    for child_id in &table.referenced_by {
        let child = if *child_id == table.id {
            table.clone()
        } else {
            tables.get(cx, *child_id)?
        };
        for def in child
            .foreign_keys
            .iter()
            .filter(|f| f.ref_table == table.id)
        {
            let pvals = values(table, &def.ref_columns, old);
            if pvals.iter().any(Value::is_null) {
                continue;
            }
            let new_vals = new.map(|n| values(table, &def.ref_columns, n));
            if let Some(nv) = &new_vals {
                if key_bytes(nv) == key_bytes(&pvals) {
                    continue;
                }
            }
            if lock && !locked {
                // The parent row is locked before looking for children, so a concurrent
                // child insert holding FOR KEY SHARE is waited for (module header).
                let mut txn = cx.txn.borrow_mut();
                txn.get_for_update(&index::primary_key(table, old))?;
                locked = true;
            }
            let action = if new.is_some() {
                def.on_update
            } else {
                def.on_delete
            };
            match action {
                FkAction::NoAction | FkAction::Restrict => {
                    still_referenced(cx, table, &child, def, &pvals, action == FkAction::NoAction)?
                }
                FkAction::Cascade | FkAction::SetNull | FkAction::SetDefault => {
                    let rows = {
                        let mut txn = cx.txn.borrow_mut();
                        child_rows(&mut **txn, &child, def, table, &pvals, cx.limits.rows_max)?
                    };
                    let any = !rows.is_empty();
                    for row in rows {
                        act(cx, tables, queue, &child, def, table, action, row, new)?;
                    }
                    // A default equal to the removed key leaves the rows referencing it
                    // unchanged (so no check of theirs fires): PostgreSQL runs the NO ACTION
                    // check then, and so does Cairn.
                    if action == FkAction::SetDefault && any {
                        still_referenced(cx, table, &child, def, &pvals, true)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// NO ACTION (`recheck`: first looks whether the statement left a parent row with the key)
/// and RESTRICT: 23503 if a row of `child` still references `pvals`.
fn still_referenced(
    cx: &ExecCtx,
    table: &TableDef,
    child: &TableDef,
    def: &ForeignKeyDef,
    pvals: &[Value],
    recheck: bool,
) -> Result<()> {
    let mut txn = cx.txn.borrow_mut();
    if recheck && parent_row(&mut **txn, table, def, pvals, false)?.is_some() {
        return Ok(());
    }
    if child_rows(&mut **txn, child, def, table, pvals, 1)?.is_empty() {
        return Ok(());
    }
    Err(SqlError::new(
        code::FOREIGN_KEY_VIOLATION,
        format!(
            "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
            table.name, def.name, child.name
        ),
    )
    .with_detail(format!(
        "{} is still referenced from table \"{}\".",
        describe_key(table, &def.ref_columns, pvals),
        child.name
    ))
    .with_constraint(def.name.clone())
    .with_table(child.name.clone()))
}

/// Applies `action` to one referencing `row` of `child` and queues the events of the change.
#[expect(
    clippy::too_many_arguments,
    reason = "one referential action: the rows, tables and constraint it connects"
)]
fn act(
    cx: &ExecCtx,
    tables: &mut Tables,
    queue: &mut VecDeque<Event>,
    child: &Arc<TableDef>,
    def: &ForeignKeyDef,
    parent: &TableDef,
    action: FkAction,
    row: Row,
    parent_new: Option<&[Value]>,
) -> Result<()> {
    let mut updated = row.clone();
    match (action, parent_new) {
        (FkAction::Cascade, None) => {
            let mut txn = cx.txn.borrow_mut();
            index::write_indexes(&mut **txn, child, Some(&row), None)?;
            txn.delete(&index::primary_key(child, &row))?;
            drop(txn);
            queue.push_back(Event::Delete {
                table: child.clone(),
                old: row,
            });
            return Ok(());
        }
        (FkAction::Cascade, Some(pnew)) => {
            let pvals = values(parent, &def.ref_columns, pnew);
            for ((cid, pid), v) in def.columns.iter().zip(&def.ref_columns).zip(pvals) {
                if let Some((i, c)) = child.column_by_id(*cid) {
                    updated[i] = cast(v, &column_type(parent, *pid), &c.ty, false)?;
                }
            }
        }
        (FkAction::SetNull, _) => {
            for cid in &def.columns {
                if let Some((i, _)) = child.column_by_id(*cid) {
                    updated[i] = Value::Null;
                }
            }
        }
        (FkAction::SetDefault, _) => {
            for cid in &def.columns {
                if let Some((i, _)) = child.column_by_id(*cid) {
                    updated[i] = default_value(cx, child, i)?;
                }
            }
        }
        (FkAction::NoAction | FkAction::Restrict, _) => {
            return Err(SqlError::internal("act called for a checking action"))
        }
    }
    let checks = tables.checks(cx, child)?;
    crate::exec::validate_row(child, &updated, &checks, cx)?;
    let old_key = index::primary_key(child, &row);
    let new_key = index::primary_key(child, &updated);
    let mut txn = cx.txn.borrow_mut();
    if new_key != old_key {
        if txn.get_for_update(&new_key)?.is_some() {
            return Err(index::unique_violation(child, &child.primary, &updated));
        }
        txn.delete(&old_key)?;
    }
    index::write_indexes(&mut **txn, child, Some(&row), Some(&updated))?;
    txn.put(&new_key, &encode_row(child, &updated))?;
    drop(txn);
    queue.push_back(Event::Update {
        table: child.clone(),
        old: row,
        new: updated,
    });
    Ok(())
}

/// The DEFAULT of column `i` of `t` (NULL without one), evaluated in the statement.
fn default_value(cx: &ExecCtx, t: &TableDef, i: usize) -> Result<Value> {
    if t.columns.get(i).and_then(|c| c.default.as_ref()).is_none() {
        return Ok(Value::Null);
    }
    let mut b = cairn_sql_plan::bind::Binder::new(&NoTables, cx.session, Vec::new());
    let e = b.default_expr(t, i)?;
    cx.eval_row(&e, &[])
}

struct NoTables;
impl cairn_sql_plan::catalog::Catalog for NoTables {
    fn table(&self, _: Option<&str>, _: &str) -> Result<Option<Arc<TableDef>>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatible_types_follow_postgres_families() {
        assert!(types_compatible(&DataType::Int4, &DataType::Int8));
        assert!(types_compatible(&DataType::Int8, &DataType::Int2));
        assert!(types_compatible(&DataType::Int4, &DataType::Numeric(None)));
        assert!(!types_compatible(&DataType::Numeric(None), &DataType::Int4));
        assert!(types_compatible(
            &DataType::Numeric(None),
            &DataType::Float8
        ));
        assert!(!types_compatible(
            &DataType::Float8,
            &DataType::Numeric(None)
        ));
        assert!(!types_compatible(&DataType::Text, &DataType::Char(3)));
        assert!(types_compatible(
            &DataType::Varchar(Some(3)),
            &DataType::Text
        ));
        assert!(types_compatible(
            &DataType::Date,
            &DataType::Timestamp(None)
        ));
        assert!(!types_compatible(&DataType::Text, &DataType::Int4));
        assert!(!types_compatible(&DataType::Uuid, &DataType::Text));
        assert!(!types_compatible(&DataType::Bool, &DataType::Int4));
    }

    #[test]
    fn fk_actions_have_postgres_codes() {
        let all = [
            (FkAction::NoAction, 'a', "NO ACTION"),
            (FkAction::Restrict, 'r', "RESTRICT"),
            (FkAction::Cascade, 'c', "CASCADE"),
            (FkAction::SetNull, 'n', "SET NULL"),
            (FkAction::SetDefault, 'd', "SET DEFAULT"),
        ];
        for (a, c, s) in all {
            assert_eq!(a.pg_code(), c, "{a:?}");
            assert_eq!(a.sql(), s, "{a:?}");
        }
    }

    #[test]
    fn key_bytes_equal_for_equal_numeric_values() {
        let num = |s: &str| {
            Value::Numeric(Box::new(
                cairn_sql_plan::types::Numeric::parse(s).expect("literal"),
            ))
        };
        let (a, b) = (num("1.0"), num("1.00"));
        assert_eq!(key_bytes(&[a]), key_bytes(&[b]));
        assert_ne!(key_bytes(&[Value::Int(1)]), key_bytes(&[Value::Int(2)]));
    }
}

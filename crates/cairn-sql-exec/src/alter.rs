//! ALTER TABLE: ADD / DROP / RENAME COLUMN, ALTER COLUMN SET / DROP NOT NULL and DEFAULT,
//! ADD PRIMARY KEY / UNIQUE / CHECK constraints, DROP CONSTRAINT, RENAME TO, all inside the
//! current transaction.
//!
//! Role: the session calls [`alter_table`]; it validates each operation against the table's
//! rows where PostgreSQL would (NOT NULL, CHECK, UNIQUE, PRIMARY KEY), rewrites rows and index
//! entries when the key changes, and writes the new descriptor.
//!
//! Invariants:
//! 1. Operations apply in order to one descriptor and are written once at the end: an error in
//!    any of them leaves the table unchanged (the statement fails, and with it the
//!    transaction or block).
//! 2. ADD PRIMARY KEY on a table keyed by its hidden rowid re-keys every row and rebuilds every
//!    secondary index (their values are primary-key suffixes). Test: `tests/pg/sql_session.rs`
//!    `alter_table_adds_primary_key_and_columns`.

use std::ops::ControlFlow;

use sqlparser::ast::{self, VisitMut};

use cairn_sql_plan::bind::{data_type, ident_name, object_name};
use cairn_sql_plan::catalog::{CheckDef, ColumnDef, IndexColumn, IndexDef, TableDef};
use cairn_sql_plan::types::{cast, Value};
use cairn_sql_plan::{code, Result, SqlError};

use crate::catalog::{self, DatabaseDesc, Descriptor, PUBLIC_SCHEMA};
use crate::exec::Row;
use crate::index;
use crate::keys;
use crate::kv::KvTxn;
use crate::row::decode_row;

/// Every row of the table (ALTER works on the whole table).
fn all_rows(txn: &mut dyn KvTxn, table: &TableDef) -> Result<Vec<Row>> {
    let (mut start, end) = keys::index_span(table.id, cairn_sql_plan::catalog::PRIMARY_INDEX_ID);
    let mut out = Vec::new();
    loop {
        let batch = txn.scan(&start, &end, 1024, false)?;
        let n = batch.len();
        for (k, v) in batch {
            out.push(decode_row(table, &v)?);
            start = k;
            start.push(0);
        }
        if n < 1024 {
            return Ok(out);
        }
    }
}

fn column_index(table: &TableDef, name: &str) -> Result<usize> {
    table
        .column_index(name)
        .filter(|i| !table.columns[*i].hidden)
        .ok_or_else(|| {
            SqlError::new(
                code::UNDEFINED_COLUMN,
                format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    table.name
                ),
            )
        })
}

fn index_cols(table: &TableDef, cols: &[ast::IndexColumn]) -> Result<Vec<IndexColumn>> {
    let mut out = Vec::new();
    for c in cols {
        let name = match &c.column.expr {
            ast::Expr::Identifier(id) => ident_name(id),
            other => {
                return Err(SqlError::not_supported(format!(
                    "key on expression {other}"
                )))
            }
        };
        let i = column_index(table, &name)?;
        out.push(IndexColumn {
            column_id: table.columns[i].id,
            descending: matches!(c.column.options.sort, Some(ast::OrderBySort::Desc)),
        });
    }
    Ok(out)
}

/// Renames column references `old` to `new` inside stored SQL expression text.
fn rename_in_expr(sql: &str, old: &str, new: &str) -> Result<String> {
    let mut e = cairn_sql_plan::bind::parse_expr(sql)?;
    let _ = e.visit(&mut Renamer { old, new });
    Ok(e.to_string())
}

struct Renamer<'a> {
    old: &'a str,
    new: &'a str,
}

impl ast::VisitorMut for Renamer<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
        match e {
            ast::Expr::Identifier(id) if ident_name(id) == self.old => {
                *id = ast::Ident::with_quote('"', self.new);
            }
            ast::Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last_mut() {
                    if ident_name(last) == self.old {
                        *last = ast::Ident::with_quote('"', self.new);
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Mentions of `name` as a column inside stored expression text.
fn mentions(sql: &str, name: &str) -> bool {
    rename_in_expr(sql, name, "\u{1}")
        .map(|s| s.contains('\u{1}'))
        .unwrap_or(true)
}

/// Runs ALTER TABLE; returns the notices to send (objects a CASCADE took along).
pub fn alter_table(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    at: &ast::AlterTable,
) -> Result<Vec<String>> {
    let eval_default = crate::exec::eval_default;
    let (schema, name) = object_name(&at.name)?;
    let schema = schema.unwrap_or_else(|| PUBLIC_SCHEMA.to_string());
    let Some(mut t) = catalog::table(txn, db.id, &schema, &name)? else {
        if at.if_exists {
            return Ok(Vec::new());
        }
        return Err(SqlError::undefined_table(&name));
    };
    let original_name = t.name.clone();
    let mut notices = Vec::new();
    // Index names to bind / unbind once the descriptor is final.
    let mut added_index_names: Vec<(String, u32)> = Vec::new();
    let mut dropped_index_names: Vec<String> = Vec::new();
    for op in &at.operations {
        use ast::AlterTableOperation as Op;
        match op {
            Op::AddColumn {
                if_not_exists,
                column_def,
                column_position,
                ..
            } => {
                if column_position.is_some() {
                    return Err(SqlError::not_supported("column positions"));
                }
                let cname = ident_name(&column_def.name);
                if t.column_index(&cname).is_some() {
                    if *if_not_exists {
                        continue;
                    }
                    return Err(SqlError::new(
                        code::DUPLICATE_COLUMN,
                        format!(
                            "column \"{cname}\" of relation \"{}\" already exists",
                            t.name
                        ),
                    ));
                }
                let mut col = ColumnDef {
                    id: t.next_column_id,
                    name: cname.clone(),
                    ty: data_type(&column_def.data_type)?,
                    nullable: true,
                    default: None,
                    hidden: false,
                };
                let mut checks = Vec::new();
                let mut fks = Vec::new();
                for o in &column_def.options {
                    match &o.option {
                        ast::ColumnOption::Null => {}
                        ast::ColumnOption::NotNull => col.nullable = false,
                        ast::ColumnOption::Default(e) => col.default = Some(e.to_string()),
                        ast::ColumnOption::Check(c) => checks.push(CheckDef {
                            name: o
                                .name
                                .as_ref()
                                .or(c.name.as_ref())
                                .map(ident_name)
                                .unwrap_or_else(|| format!("{}_{cname}_check", t.name)),
                            expr: c.expr.to_string(),
                        }),
                        ast::ColumnOption::ForeignKey(fk) => {
                            fks.push((fk, o.name.as_ref().map(ident_name)))
                        }
                        other => {
                            return Err(SqlError::not_supported(format!("ADD COLUMN with {other}")))
                        }
                    }
                }
                t.next_column_id += 1;
                t.columns.push(col);
                t.checks.extend(checks);
                let pos = t.columns.len() - 1;
                let rows = all_rows(txn, &t)?;
                if !rows.is_empty() {
                    let has_default = t.columns[pos].default.is_some();
                    for mut r in rows {
                        // Rows decode with the new descriptor, so the column is there as NULL.
                        r[pos] = if has_default {
                            eval_default(&t, pos)?
                        } else {
                            Value::Null
                        };
                        if r[pos].is_null() && !t.columns[pos].nullable {
                            return Err(SqlError::new(
                                code::NOT_NULL_VIOLATION,
                                format!(
                                    "column \"{cname}\" of relation \"{}\" contains null values",
                                    t.name
                                ),
                            ));
                        }
                        if has_default {
                            index::rewrite_row(txn, &t, &r)?;
                        }
                    }
                }
                for (fk, fname) in fks {
                    add_foreign_key(txn, db, &mut t, fk, Some(&cname), fname)?;
                }
            }
            Op::DropColumn {
                column_names,
                if_exists,
                drop_behavior,
                ..
            } => {
                for c in column_names {
                    let cname = ident_name(c);
                    let Some(i) = t.column_index(&cname).filter(|i| !t.columns[*i].hidden) else {
                        if *if_exists {
                            continue;
                        }
                        return Err(SqlError::undefined_column(&cname));
                    };
                    let id = t.columns[i].id;
                    if t.primary.columns.iter().any(|c| c.column_id == id) {
                        return Err(SqlError::new(
                            code::DEPENDENT_OBJECTS_STILL_EXIST,
                            format!("cannot drop column {cname} of table {} because the primary key depends on it", t.name),
                        ));
                    }
                    let deps: Vec<_> = crate::fk::referencing(txn, &t)?
                        .into_iter()
                        .filter(|(_, f)| f.ref_columns.contains(&id))
                        .collect();
                    if !deps.is_empty() {
                        if !matches!(drop_behavior, Some(ast::DropBehavior::Cascade)) {
                            let on = format!("column {cname} of table {}", t.name);
                            return Err(crate::fk::dependents_error(&on, &deps, &on));
                        }
                        notices.extend(crate::fk::drop_dependents(txn, &mut t, &deps)?);
                    }
                    // Foreign keys over the column go with it, as in PostgreSQL.
                    crate::fk::detach(txn, &mut t, |f| f.columns.contains(&id))?;
                    // Indexes on the column go with it, as in PostgreSQL.
                    let (gone, kept): (Vec<IndexDef>, Vec<IndexDef>) = t
                        .indexes
                        .drain(..)
                        .partition(|x| x.columns.iter().any(|c| c.column_id == id));
                    t.indexes = kept;
                    for g in gone {
                        delete_index_entries(txn, &t, g.id)?;
                        dropped_index_names.push(g.name);
                    }
                    t.checks.retain(|c| !mentions(&c.expr, &cname));
                    t.columns.remove(i);
                }
            }
            Op::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let old = ident_name(old_column_name);
                let new = ident_name(new_column_name);
                let i = column_index(&t, &old)?;
                if t.column_index(&new).is_some() {
                    return Err(SqlError::new(
                        code::DUPLICATE_COLUMN,
                        format!("column \"{new}\" of relation \"{}\" already exists", t.name),
                    ));
                }
                t.columns[i].name = new.clone();
                for c in t.checks.iter_mut() {
                    c.expr = rename_in_expr(&c.expr, &old, &new)?;
                }
            }
            Op::RenameTable { table_name } => {
                let new = match table_name {
                    ast::RenameTableNameKind::To(n) | ast::RenameTableNameKind::As(n) => {
                        object_name(n)?.1
                    }
                };
                if catalog::lookup_name(txn, db.id, &schema, &new)?.is_some() {
                    return Err(SqlError::new(
                        code::DUPLICATE_TABLE,
                        format!("relation \"{new}\" already exists"),
                    ));
                }
                t.name = new;
            }
            Op::AlterColumn { column_name, op } => {
                let cname = ident_name(column_name);
                let i = column_index(&t, &cname)?;
                match op {
                    ast::AlterColumnOperation::SetNotNull => {
                        if all_rows(txn, &t)?.iter().any(|r| r[i].is_null()) {
                            return Err(SqlError::new(
                                code::NOT_NULL_VIOLATION,
                                format!(
                                    "column \"{cname}\" of relation \"{}\" contains null values",
                                    t.name
                                ),
                            ));
                        }
                        t.columns[i].nullable = false;
                    }
                    ast::AlterColumnOperation::DropNotNull => {
                        let id = t.columns[i].id;
                        if t.primary.columns.iter().any(|c| c.column_id == id)
                            && t.has_declared_primary_key
                        {
                            return Err(SqlError::new(
                                code::INVALID_TABLE_DEFINITION,
                                format!("column \"{cname}\" is in a primary key"),
                            ));
                        }
                        t.columns[i].nullable = true;
                    }
                    ast::AlterColumnOperation::SetDefault { value } => {
                        t.columns[i].default = Some(value.to_string())
                    }
                    ast::AlterColumnOperation::DropDefault => t.columns[i].default = None,
                    ast::AlterColumnOperation::SetDataType {
                        data_type: dt,
                        using,
                        ..
                    } => {
                        if using.is_some() {
                            return Err(SqlError::not_supported("ALTER COLUMN TYPE ... USING"));
                        }
                        let new_ty = data_type(dt)?;
                        let old_ty = t.columns[i].ty.clone();
                        let id = t.columns[i].id;
                        let keyed = t
                            .primary
                            .columns
                            .iter()
                            .chain(t.indexes.iter().flat_map(|x| x.columns.iter()))
                            .any(|c| c.column_id == id);
                        if keyed && new_ty != old_ty {
                            return Err(SqlError::not_supported(
                                "changing the type of an indexed column",
                            ));
                        }
                        if t.foreign_keys.iter().any(|f| f.columns.contains(&id))
                            && new_ty != old_ty
                        {
                            return Err(SqlError::not_supported(
                                "changing the type of a foreign key column",
                            ));
                        }
                        let rows = all_rows(txn, &t)?;
                        t.columns[i].ty = new_ty.clone();
                        for mut r in rows {
                            r[i] = cast(
                                std::mem::replace(&mut r[i], Value::Null),
                                &old_ty,
                                &new_ty,
                                false,
                            )?;
                            index::rewrite_row(txn, &t, &r)?;
                        }
                    }
                    other => return Err(SqlError::not_supported(format!("ALTER COLUMN {other}"))),
                }
            }
            Op::AddConstraint { constraint, .. } => match constraint {
                ast::TableConstraint::PrimaryKey(pk) => {
                    if t.has_declared_primary_key {
                        return Err(SqlError::new(
                            code::INVALID_TABLE_DEFINITION,
                            format!(
                                "multiple primary keys for table \"{}\" are not allowed",
                                t.name
                            ),
                        ));
                    }
                    let cols = index_cols(&t, &pk.columns)?;
                    rekey(txn, &mut t, cols, pk.name.as_ref().map(ident_name))?;
                }
                ast::TableConstraint::Unique(u) => {
                    let cols = index_cols(&t, &u.columns)?;
                    let iname = u.name.as_ref().map(ident_name).unwrap_or_else(|| {
                        let names: Vec<String> = cols
                            .iter()
                            .filter_map(|c| {
                                t.column_by_id(c.column_id).map(|(_, x)| x.name.clone())
                            })
                            .collect();
                        format!("{}_{}_key", t.name, names.join("_"))
                    });
                    if catalog::lookup_name(txn, db.id, &schema, &iname)?.is_some() {
                        return Err(SqlError::new(
                            code::DUPLICATE_TABLE,
                            format!("relation \"{iname}\" already exists"),
                        ));
                    }
                    let idx = IndexDef {
                        id: t.next_index_id,
                        name: iname.clone(),
                        columns: cols,
                        unique: true,
                        constraint: true,
                    };
                    t.next_index_id += 1;
                    index::backfill(txn, &t, &idx)?;
                    added_index_names.push((iname, idx.id));
                    t.indexes.push(idx);
                }
                ast::TableConstraint::Check(c) => {
                    let cname = c
                        .name
                        .as_ref()
                        .map(ident_name)
                        .unwrap_or_else(|| format!("{}_check", t.name));
                    t.checks.push(CheckDef {
                        name: cname.clone(),
                        expr: c.expr.to_string(),
                    });
                    // Existing rows must satisfy it: checked by the caller-provided evaluator.
                    check_existing(txn, &t, &cname)?;
                }
                ast::TableConstraint::ForeignKey(fk) => {
                    add_foreign_key(txn, db, &mut t, fk, None, None)?
                }
                other => return Err(SqlError::not_supported(format!("constraint {other}"))),
            },
            Op::DropConstraint {
                if_exists,
                name: cname,
                drop_behavior,
            } => {
                let cname = ident_name(cname);
                let before = t.checks.len();
                t.checks.retain(|c| c.name != cname);
                if t.checks.len() != before {
                    continue;
                }
                if t.foreign_keys.iter().any(|f| f.name == cname) {
                    crate::fk::detach(txn, &mut t, |f| f.name == cname)?;
                    continue;
                }
                if let Some(pos) = t.indexes.iter().position(|x| x.name == cname && x.unique) {
                    let index_id = t.indexes[pos].id;
                    let deps: Vec<_> = crate::fk::referencing(txn, &t)?
                        .into_iter()
                        .filter(|(_, f)| f.ref_index == index_id)
                        .collect();
                    if !deps.is_empty() {
                        if !matches!(drop_behavior, Some(ast::DropBehavior::Cascade)) {
                            return Err(crate::fk::dependents_error(
                                &format!("constraint {cname} on table {}", t.name),
                                &deps,
                                &format!("index {cname}"),
                            ));
                        }
                        notices.extend(crate::fk::drop_dependents(txn, &mut t, &deps)?);
                    }
                    let Some(pos) = t.indexes.iter().position(|x| x.id == index_id) else {
                        continue;
                    };
                    let g = t.indexes.remove(pos);
                    delete_index_entries(txn, &t, g.id)?;
                    dropped_index_names.push(g.name);
                    continue;
                }
                if t.primary.name == cname && t.has_declared_primary_key {
                    return Err(SqlError::not_supported("dropping a primary key"));
                }
                if !*if_exists {
                    return Err(SqlError::new(
                        code::UNDEFINED_OBJECT,
                        format!(
                            "constraint \"{cname}\" of relation \"{}\" does not exist",
                            t.name
                        ),
                    ));
                }
            }
            other => return Err(SqlError::not_supported(format!("ALTER TABLE {other}"))),
        }
    }
    if t.name != original_name {
        catalog::unbind_name(txn, db.id, &schema, &original_name)?;
        catalog::bind_name(txn, db.id, &schema, &t.name, t.id)?;
    }
    for n in dropped_index_names {
        catalog::unbind_name(txn, db.id, &schema, &n)?;
    }
    for (n, id) in added_index_names {
        catalog::bind_index_name(txn, db.id, &schema, &n, t.id, id)?;
    }
    catalog::write_descriptor(txn, t.id, &Descriptor::Table(t))?;
    Ok(notices)
}

/// ADD [CONSTRAINT name] FOREIGN KEY (also a REFERENCES column constraint of ADD COLUMN):
/// defines the constraint on `t`, checks the existing rows (23503 on the first violation, as
/// PostgreSQL) and records the reference on the referenced table, which is written now (`t`
/// is written at the end of the ALTER).
fn add_foreign_key(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    t: &mut TableDef,
    fk: &ast::ForeignKeyConstraint,
    column: Option<&str>,
    name: Option<String>,
) -> Result<()> {
    let (def, parent) = crate::fk::define(txn, db, t, fk, column, name)?;
    match parent {
        None => {
            crate::fk::attach(t, None, def.clone());
            crate::fk::validate_existing(txn, t, None, &def)
        }
        Some(mut p) => {
            crate::fk::validate_existing(txn, t, Some(&p), &def)?;
            crate::fk::attach(t, Some(&mut p), def);
            catalog::write_descriptor(txn, p.id, &Descriptor::Table(p))
        }
    }
}

fn delete_index_entries(txn: &mut dyn KvTxn, t: &TableDef, index_id: u32) -> Result<()> {
    let (mut start, end) = keys::index_span(t.id, index_id);
    loop {
        let batch = txn.scan(&start, &end, 1024, false)?;
        let n = batch.len();
        for (k, _) in batch {
            txn.delete(&k)?;
            start = k;
            start.push(0);
        }
        if n < 1024 {
            return Ok(());
        }
    }
}

/// Re-keys every row under a new primary key (ADD PRIMARY KEY on a rowid table).
fn rekey(
    txn: &mut dyn KvTxn,
    t: &mut TableDef,
    cols: Vec<IndexColumn>,
    name: Option<String>,
) -> Result<()> {
    let rows = all_rows(txn, t)?;
    let old = t.clone();
    let mut new = t.clone();
    new.primary.columns = cols;
    if let Some(n) = name {
        new.primary.name = n;
    }
    new.has_declared_primary_key = true;
    for ic in &new.primary.columns {
        if let Some(c) = new.columns.iter_mut().find(|c| c.id == ic.column_id) {
            c.nullable = false;
        }
    }
    // Drop the hidden rowid column (its id stays retired).
    let hidden: Vec<usize> = old
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.hidden)
        .map(|(i, _)| i)
        .collect();
    new.columns.retain(|c| !c.hidden);
    for idx in &old.indexes {
        delete_index_entries(txn, &old, idx.id)?;
    }
    for r in &rows {
        txn.delete(&index::primary_key(&old, r))?;
    }
    for r in rows {
        let r: Row = r
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !hidden.contains(i))
            .map(|(_, v)| v)
            .collect();
        for ic in &new.primary.columns {
            if let Some((i, c)) = new.column_by_id(ic.column_id) {
                if r[i].is_null() {
                    return Err(SqlError::new(
                        code::NOT_NULL_VIOLATION,
                        format!(
                            "column \"{}\" of relation \"{}\" contains null values",
                            c.name, new.name
                        ),
                    ));
                }
            }
        }
        let key = index::primary_key(&new, &r);
        if txn.get_for_update(&key)?.is_some() {
            return Err(SqlError::new(
                code::UNIQUE_VIOLATION,
                format!("could not create unique index \"{}\"", new.primary.name),
            ));
        }
        index::rewrite_row(txn, &new, &r)?;
    }
    for idx in &new.indexes {
        index::backfill(txn, &new, idx)?;
    }
    *t = new;
    Ok(())
}

/// Fails if an existing row violates the CHECK named `name`.
fn check_existing(txn: &mut dyn KvTxn, t: &TableDef, name: &str) -> Result<()> {
    let check = t
        .checks
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| SqlError::internal("check vanished"))?;
    let expr = cairn_sql_plan::bind::parse_expr(&check.expr)?;
    let rows = all_rows(txn, t)?;
    crate::exec::check_rows(t, &expr, name, &rows)
}

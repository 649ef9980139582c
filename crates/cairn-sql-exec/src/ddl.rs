//! DDL: CREATE / DROP TABLE, CREATE / DROP DATABASE, TRUNCATE, executed inside the current
//! transaction (so they commit or roll back with it).
//!
//! Role: the session calls these with the statement's transaction; they validate the request
//! against the catalog, then write descriptors and namespace entries (`catalog.rs`) and, for
//! DROP and TRUNCATE, delete the table's rows.
//!
//! Invariants:
//! 1. A table descriptor written here satisfies `cairn_sql_plan::catalog` invariants 1–3
//!    (fresh column ids, a primary index, declaration order). Test: `tests/sql.rs`.
//! 2. DROP TABLE deletes every row of every index of the table before its descriptor, in the
//!    same transaction, so no orphan rows survive a committed drop.

use sqlparser::ast;

use cairn_sql_plan::bind::{data_type, ident_name, object_name};
use cairn_sql_plan::catalog::{
    CheckDef, ColumnDef, IndexColumn, IndexDef, TableDef, PRIMARY_INDEX_ID, ROWID_COLUMN,
};
use cairn_sql_plan::types::DataType;
use cairn_sql_plan::{code, Result, SqlError};

use crate::catalog::{self, DatabaseDesc, Descriptor, PUBLIC_SCHEMA};
use crate::keys;
use crate::kv::KvTxn;

fn schema_of(schema: Option<String>) -> Result<String> {
    match schema.as_deref() {
        None | Some(PUBLIC_SCHEMA) => Ok(PUBLIC_SCHEMA.to_string()),
        Some(s) => Err(SqlError::new(
            code::INVALID_NAME,
            format!("schema \"{s}\" does not exist"),
        )),
    }
}

fn index_columns(table: &TableDef, cols: &[ast::IndexColumn]) -> Result<Vec<IndexColumn>> {
    let mut out = Vec::new();
    for c in cols {
        let name = match &c.column.expr {
            ast::Expr::Identifier(id) => ident_name(id),
            other => {
                return Err(SqlError::not_supported(format!(
                    "index on expression {other}"
                )))
            }
        };
        let (_, col) = table
            .columns
            .iter()
            .enumerate()
            .find(|(_, col)| col.name == name)
            .ok_or_else(|| {
                SqlError::new(
                    code::UNDEFINED_COLUMN,
                    format!("column \"{name}\" named in key does not exist"),
                )
            })?;
        out.push(IndexColumn {
            column_id: col.id,
            descending: matches!(c.column.options.sort, Some(ast::OrderBySort::Desc)),
        });
    }
    Ok(out)
}

/// CREATE TABLE. Returns false when `IF NOT EXISTS` found the table already there.
pub fn create_table(txn: &mut dyn KvTxn, db: &DatabaseDesc, ct: &ast::CreateTable) -> Result<bool> {
    if ct.query.is_some() {
        // The session makes CREATE TABLE AS from a plain CREATE TABLE and an INSERT.
        return Err(SqlError::internal(
            "CREATE TABLE ... AS reached ddl::create_table",
        ));
    }
    if ct.temporary || ct.external {
        return Err(SqlError::not_supported("temporary and external tables"));
    }
    let (schema, name) = object_name(&ct.name)?;
    let schema = schema_of(schema)?;
    if catalog::lookup_id(txn, db.id, &schema, &name)?.is_some() {
        if ct.if_not_exists {
            return Ok(false);
        }
        return Err(SqlError::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        ));
    }
    let id = catalog::allocate_id(txn)?;
    let mut table = TableDef {
        id,
        database_id: db.id,
        schema: schema.clone(),
        name: name.clone(),
        columns: Vec::new(),
        primary: IndexDef {
            id: PRIMARY_INDEX_ID,
            name: format!("{name}_pkey"),
            columns: Vec::new(),
            unique: true,
            constraint: true,
        },
        indexes: Vec::new(),
        checks: Vec::new(),
        next_column_id: 1,
        next_index_id: PRIMARY_INDEX_ID + 1,
        has_declared_primary_key: false,
        foreign_keys: Vec::new(),
        referenced_by: Vec::new(),
    };
    let mut pk: Option<Vec<ast::IndexColumn>> = None;
    // UNIQUE constraints: (constraint name, columns), made into unique indexes below.
    let mut uniques: Vec<(Option<String>, Vec<ast::IndexColumn>)> = Vec::new();
    // SERIAL / IDENTITY columns: (column id, sequence name, sequence options).
    let mut serials: Vec<(u32, String, Option<Vec<ast::SequenceOptions>>)> = Vec::new();
    let mut pk_name: Option<String> = None;
    // FOREIGN KEYs: (constraint, column of a column constraint, CONSTRAINT name there),
    // defined once the table's columns and unique indexes exist.
    let mut fks: Vec<(&ast::ForeignKeyConstraint, Option<String>, Option<String>)> = Vec::new();
    for c in &ct.columns {
        let cname = ident_name(&c.name);
        if table.column_index(&cname).is_some() {
            return Err(SqlError::new(
                code::DUPLICATE_COLUMN,
                format!("column \"{cname}\" specified more than once"),
            ));
        }
        let mut serial = false;
        let ty = match &c.data_type {
            ast::DataType::Custom(n, m) if m.is_empty() => {
                let tn = object_name(n)?.1;
                serial = true;
                match tn.as_str() {
                    "serial" | "serial4" => DataType::Int4,
                    "bigserial" | "serial8" => DataType::Int8,
                    "smallserial" | "serial2" => DataType::Int2,
                    _ => {
                        serial = false;
                        data_type(&c.data_type)?
                    }
                }
            }
            t => data_type(t)?,
        };
        let mut col = ColumnDef {
            id: table.next_column_id,
            name: cname.clone(),
            ty,
            nullable: true,
            default: None,
            hidden: false,
        };
        if serial {
            serials.push((col.id, format!("{name}_{cname}_seq"), None));
            col.nullable = false;
        }
        table.next_column_id += 1;
        for opt in &c.options {
            match &opt.option {
                ast::ColumnOption::Null => col.nullable = true,
                ast::ColumnOption::NotNull => col.nullable = false,
                ast::ColumnOption::Default(e) => col.default = Some(e.to_string()),
                ast::ColumnOption::Generated {
                    generated_as,
                    sequence_options,
                    generation_expr: None,
                    ..
                } => {
                    if matches!(generated_as, ast::GeneratedAs::ExpStored) {
                        return Err(SqlError::not_supported("generated columns"));
                    }
                    serials.push((
                        col.id,
                        format!("{name}_{cname}_seq"),
                        sequence_options.clone(),
                    ));
                    col.nullable = false;
                }
                ast::ColumnOption::PrimaryKey(_) => {
                    if pk.is_some() {
                        return Err(SqlError::new(
                            code::INVALID_TABLE_DEFINITION,
                            format!("multiple primary keys for table \"{name}\" are not allowed"),
                        ));
                    }
                    pk = Some(vec![ast::IndexColumn {
                        column: ast::OrderByExpr {
                            expr: ast::Expr::Identifier(c.name.clone()),
                            options: ast::OrderByOptions {
                                sort: None,
                                nulls_first: None,
                            },
                            with_fill: None,
                        },
                        operator_class: None,
                    }]);
                    pk_name = opt.name.as_ref().map(ident_name);
                }
                ast::ColumnOption::Check(chk) => table.checks.push(CheckDef {
                    name: opt
                        .name
                        .as_ref()
                        .or(chk.name.as_ref())
                        .map(ident_name)
                        .unwrap_or_else(|| format!("{name}_{cname}_check")),
                    expr: chk.expr.to_string(),
                }),
                ast::ColumnOption::Unique(u) => uniques.push((
                    opt.name.as_ref().or(u.name.as_ref()).map(ident_name),
                    vec![ast::IndexColumn {
                        column: ast::OrderByExpr {
                            expr: ast::Expr::Identifier(c.name.clone()),
                            options: ast::OrderByOptions {
                                sort: None,
                                nulls_first: None,
                            },
                            with_fill: None,
                        },
                        operator_class: None,
                    }],
                )),
                ast::ColumnOption::ForeignKey(fk) => {
                    fks.push((fk, Some(cname.clone()), opt.name.as_ref().map(ident_name)))
                }
                other => return Err(SqlError::not_supported(format!("column option {other}"))),
            }
        }
        table.columns.push(col);
    }
    for c in &ct.constraints {
        match c {
            ast::TableConstraint::PrimaryKey(p) => {
                if pk.is_some() {
                    return Err(SqlError::new(
                        code::INVALID_TABLE_DEFINITION,
                        format!("multiple primary keys for table \"{name}\" are not allowed"),
                    ));
                }
                pk = Some(p.columns.clone());
                pk_name = p.name.as_ref().map(ident_name);
            }
            ast::TableConstraint::Check(chk) => {
                let n = table.checks.len();
                table.checks.push(CheckDef {
                    name: chk.name.as_ref().map(ident_name).unwrap_or_else(|| {
                        if n == 0 {
                            format!("{name}_check")
                        } else {
                            format!("{name}_check{n}")
                        }
                    }),
                    expr: chk.expr.to_string(),
                })
            }
            ast::TableConstraint::Unique(u) => {
                uniques.push((u.name.as_ref().map(ident_name), u.columns.clone()))
            }
            ast::TableConstraint::ForeignKey(fk) => fks.push((fk, None, None)),
            other => return Err(SqlError::not_supported(format!("table constraint {other}"))),
        }
    }
    match pk {
        Some(cols) => {
            table.primary.columns = index_columns(&table, &cols)?;
            for ic in &table.primary.columns {
                if let Some(c) = table.columns.iter_mut().find(|c| c.id == ic.column_id) {
                    c.nullable = false;
                }
            }
            if let Some(n) = pk_name {
                table.primary.name = n;
            }
            table.has_declared_primary_key = true;
        }
        None => {
            let mut hidden_name = ROWID_COLUMN.to_string();
            while table.column_index(&hidden_name).is_some() {
                hidden_name.push('_');
            }
            let col = ColumnDef {
                id: table.next_column_id,
                name: hidden_name,
                ty: DataType::Int8,
                nullable: false,
                default: None,
                hidden: true,
            };
            table.next_column_id += 1;
            table.primary.columns = vec![IndexColumn {
                column_id: col.id,
                descending: false,
            }];
            table.columns.push(col);
        }
    }
    let mut index_names = Vec::new();
    for (cname, cols) in uniques {
        let columns = index_columns(&table, &cols)?;
        let iname = cname.unwrap_or_else(|| {
            let names: Vec<String> = columns
                .iter()
                .filter_map(|c| {
                    table
                        .column_by_id(c.column_id)
                        .map(|(_, col)| col.name.clone())
                })
                .collect();
            format!("{name}_{}_key", names.join("_"))
        });
        if index_names.contains(&iname)
            || catalog::lookup_name(txn, db.id, &schema, &iname)?.is_some()
        {
            return Err(SqlError::new(
                code::DUPLICATE_TABLE,
                format!("relation \"{iname}\" already exists"),
            ));
        }
        let idx = IndexDef {
            id: table.next_index_id,
            name: iname.clone(),
            columns,
            unique: true,
            constraint: true,
        };
        table.next_index_id += 1;
        index_names.push(iname);
        table.indexes.push(idx);
    }
    for idx in &table.indexes {
        catalog::bind_index_name(txn, db.id, &schema, &idx.name, id, idx.id)?;
    }
    for (col_id, seq_name, opts) in serials {
        let ty = table
            .column_by_id(col_id)
            .map(|(_, c)| c.ty.clone())
            .unwrap_or(DataType::Int8);
        let seq = create_sequence_desc(
            txn,
            db,
            &schema,
            &seq_name,
            ty,
            opts.as_deref().unwrap_or(&[]),
            Some((id, col_id)),
        )?;
        if let Some(c) = table.columns.iter_mut().find(|c| c.id == col_id) {
            c.default = Some(format!("nextval('{}')", seq.name));
        }
    }
    // Validate CHECK and DEFAULT expressions now, so a bad one fails the CREATE.
    for chk in &table.checks {
        cairn_sql_plan::bind::parse_expr(&chk.expr)?;
    }
    // Referenced tables changed so far (several constraints may reference one table).
    let mut parents: Vec<TableDef> = Vec::new();
    for (fk, column, cname) in fks {
        let (def, parent) = crate::fk::define(txn, db, &table, fk, column.as_deref(), cname)?;
        match parent {
            None => crate::fk::attach(&mut table, None, def),
            Some(p) => {
                let pos = match parents.iter().position(|x| x.id == p.id) {
                    Some(pos) => pos,
                    None => {
                        parents.push(p);
                        parents.len() - 1
                    }
                };
                crate::fk::attach(&mut table, parents.get_mut(pos), def);
            }
        }
    }
    for p in parents {
        catalog::write_descriptor(txn, p.id, &Descriptor::Table(p))?;
    }
    catalog::write_descriptor(txn, id, &Descriptor::Table(table))?;
    catalog::bind_name(txn, db.id, &schema, &name, id)?;
    Ok(true)
}

fn delete_index_rows(txn: &mut dyn KvTxn, table: &TableDef, index_id: u32) -> Result<u64> {
    let (mut start, end) = keys::index_span(table.id, index_id);
    let mut n = 0;
    loop {
        let batch = txn.scan(&start, &end, 1024, false)?;
        let len = batch.len();
        for (k, _) in batch {
            txn.delete(&k)?;
            n += 1;
            start = k;
            start.push(0);
        }
        if len < 1024 {
            return Ok(n);
        }
    }
}

fn delete_rows(txn: &mut dyn KvTxn, table: &TableDef) -> Result<()> {
    delete_index_rows(txn, table, PRIMARY_INDEX_ID)?;
    for idx in &table.indexes {
        delete_index_rows(txn, table, idx.id)?;
    }
    Ok(())
}

/// The NOTICE PostgreSQL gives for objects a CASCADE took along (`what` lists them).
fn cascade_notice(verb: &str, what: &[String]) -> Option<String> {
    match what {
        [] => None,
        [one] => Some(format!("{verb} cascades to {one}")),
        many => Some(format!("{verb} cascades to {} other objects", many.len())),
    }
}

/// DROP TABLE name [, ...] [CASCADE]. Returns how many tables were dropped and the notices
/// to send. A table referenced by a foreign key of a table not dropped with it is refused
/// (2BP01) unless `cascade`, which drops those constraints (not the referencing tables), as
/// PostgreSQL does.
pub fn drop_tables(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    names: &[ast::ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<(usize, Vec<String>)> {
    // Resolve every name first, so the dependency check knows what goes together.
    let mut targets: Vec<(String, String, u32)> = Vec::new();
    for n in names {
        let (schema, name) = object_name(n)?;
        let schema = schema.unwrap_or_else(|| PUBLIC_SCHEMA.to_string());
        match catalog::table(txn, db.id, &schema, &name)? {
            Some(t) => targets.push((schema, name, t.id)),
            None if if_exists => {}
            None => return Err(SqlError::undefined_table(&name)),
        }
    }
    let dropping: Vec<u32> = targets.iter().map(|(_, _, id)| *id).collect();
    let mut cascaded = Vec::new();
    for (schema, name, _) in &targets {
        let Some(mut table) = catalog::table(txn, db.id, schema, name)? else {
            continue;
        };
        let deps: Vec<(TableDef, cairn_sql_plan::catalog::ForeignKeyDef)> =
            crate::fk::referencing(txn, &table)?
                .into_iter()
                .filter(|(c, _)| !dropping.contains(&c.id))
                .collect();
        if !deps.is_empty() && !cascade {
            let detail: Vec<String> = deps
                .iter()
                .map(|(c, f)| {
                    format!(
                        "constraint {} on table {} depends on table {}",
                        f.name, c.name, table.name
                    )
                })
                .collect();
            return Err(SqlError::new(
                code::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop table {} because other objects depend on it",
                    table.name
                ),
            )
            .with_detail(detail.join("\n"))
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        for (c, f) in deps {
            // Re-read: an earlier constraint of this loop may have changed the descriptor.
            let Some(Descriptor::Table(mut child)) = catalog::read_descriptor(txn, c.id)? else {
                continue;
            };
            let parent_id = table.id;
            let fk_name = f.name.clone();
            child
                .foreign_keys
                .retain(|k| !(k.ref_table == parent_id && k.name == fk_name));
            catalog::write_descriptor(txn, child.id, &Descriptor::Table(child))?;
            cascaded.push(format!("constraint {} on table {}", f.name, c.name));
        }
        // Referenced tables that stay forget this one.
        crate::fk::detach(txn, &mut table, |_| true)?;
        delete_rows(txn, &table)?;
        for idx in &table.indexes {
            catalog::unbind_name(txn, db.id, schema, &idx.name)?;
        }
        for d in catalog::objects_in(txn, db.id)? {
            if let Descriptor::Sequence(s) = d {
                if s.owned_by.map(|(t, _)| t) == Some(table.id) {
                    drop_sequence_desc(txn, db, &s)?;
                }
            }
        }
        catalog::delete_descriptor(txn, table.id)?;
        catalog::unbind_name(txn, db.id, schema, name)?;
    }
    Ok((
        targets.len(),
        cascade_notice("drop", &cascaded).into_iter().collect(),
    ))
}

/// TRUNCATE name [, ...] [CASCADE]. A table referenced by a foreign key of a table not
/// truncated with it is refused (0A000, as PostgreSQL) unless `cascade`, which truncates the
/// referencing tables too (recursively). Returns the notices to send.
pub fn truncate(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    names: &[ast::ObjectName],
    cascade: bool,
) -> Result<Vec<String>> {
    let mut tables: Vec<TableDef> = Vec::new();
    for n in names {
        let (schema, name) = object_name(n)?;
        let schema = schema.unwrap_or_else(|| PUBLIC_SCHEMA.to_string());
        let table = catalog::table(txn, db.id, &schema, &name)?
            .ok_or_else(|| SqlError::undefined_table(&name))?;
        if !tables.iter().any(|t| t.id == table.id) {
            tables.push(table);
        }
    }
    let mut notices = Vec::new();
    let mut i = 0;
    // `tables` grows while CASCADE adds referencing tables; each table is added once, so
    // this ends after at most the number of tables in the database.
    while i < tables.len() {
        let ids: Vec<u32> = tables.iter().map(|t| t.id).collect();
        let mut added = Vec::new();
        for r in tables[i].referenced_by.iter().filter(|r| !ids.contains(r)) {
            let Some(Descriptor::Table(child)) = catalog::read_descriptor(txn, *r)? else {
                continue;
            };
            if !cascade {
                return Err(SqlError::new(
                    code::FEATURE_NOT_SUPPORTED,
                    "cannot truncate a table referenced in a foreign key constraint",
                )
                .with_detail(format!(
                    "Table \"{}\" references \"{}\".",
                    child.name, tables[i].name
                ))
                .with_hint(format!(
                    "Truncate table \"{}\" at the same time, or use TRUNCATE ... CASCADE.",
                    child.name
                )));
            }
            if !added.iter().any(|t: &TableDef| t.id == child.id) {
                notices.push(format!("truncate cascades to table \"{}\"", child.name));
                added.push(child);
            }
        }
        tables.extend(added);
        i += 1;
    }
    for t in &tables {
        delete_rows(txn, t)?;
    }
    Ok(notices)
}

pub fn create_database(
    txn: &mut dyn KvTxn,
    name: &str,
    owner: &str,
    if_not_exists: bool,
) -> Result<()> {
    if catalog::database(txn, name)?.is_some() {
        if if_not_exists {
            return Ok(());
        }
        return Err(SqlError::new(
            code::DUPLICATE_DATABASE,
            format!("database \"{name}\" already exists"),
        ));
    }
    let id = catalog::allocate_id(txn)?;
    let db = DatabaseDesc {
        id,
        name: name.to_string(),
        owner: owner.to_string(),
    };
    catalog::write_descriptor(txn, id, &Descriptor::Database(db))?;
    catalog::bind_name(txn, 0, "", name, id)
}

pub fn drop_database(
    txn: &mut dyn KvTxn,
    name: &str,
    current: &str,
    if_exists: bool,
) -> Result<()> {
    let Some(db) = catalog::database(txn, name)? else {
        if if_exists {
            return Ok(());
        }
        return Err(SqlError::new(
            code::UNDEFINED_DATABASE,
            format!("database \"{name}\" does not exist"),
        ));
    };
    if name == current {
        return Err(SqlError::new(
            code::OBJECT_IN_USE,
            "cannot drop the currently open database",
        ));
    }
    for d in catalog::objects_in(txn, db.id)? {
        match d {
            Descriptor::Table(t) => {
                delete_rows(txn, &t)?;
                for idx in &t.indexes {
                    catalog::unbind_name(txn, db.id, &t.schema, &idx.name)?;
                }
                catalog::delete_descriptor(txn, t.id)?;
                catalog::unbind_name(txn, db.id, &t.schema, &t.name)?;
            }
            Descriptor::Sequence(s) => {
                txn.delete(&keys::sequence_key(s.id))?;
                catalog::delete_descriptor(txn, s.id)?;
                catalog::unbind_name(txn, db.id, &s.schema, &s.name)?;
            }
            Descriptor::View(v) => {
                catalog::delete_descriptor(txn, v.id)?;
                catalog::unbind_name(txn, db.id, &v.schema, &v.name)?;
            }
            Descriptor::Database(_) => {}
        }
    }
    catalog::delete_descriptor(txn, db.id)?;
    catalog::unbind_name(txn, 0, "", name)
}

/// CREATE [UNIQUE] INDEX. Backfills existing rows in the same transaction. Returns false
/// when `IF NOT EXISTS` found the name taken.
pub fn create_index(txn: &mut dyn KvTxn, db: &DatabaseDesc, ci: &ast::CreateIndex) -> Result<bool> {
    if ci.predicate.is_some() {
        return Err(SqlError::not_supported("partial indexes"));
    }
    if !ci.include.is_empty() {
        return Err(SqlError::not_supported("INCLUDE columns"));
    }
    if let Some(u) = &ci.using {
        if !u.to_string().eq_ignore_ascii_case("btree") {
            return Err(SqlError::not_supported(format!("index method {u}")));
        }
    }
    let (schema, tname) = object_name(&ci.table_name)?;
    let schema = schema_of(schema)?;
    let mut table = catalog::table(txn, db.id, &schema, &tname)?
        .ok_or_else(|| SqlError::undefined_table(&tname))?;
    let columns = index_columns(&table, &ci.columns)?;
    let name = match &ci.name {
        Some(n) => object_name(n)?.1,
        None => {
            let cols: Vec<String> = columns
                .iter()
                .filter_map(|c| {
                    table
                        .column_by_id(c.column_id)
                        .map(|(_, col)| col.name.clone())
                })
                .collect();
            let base = format!("{}_{}_idx", table.name, cols.join("_"));
            let mut candidate = base.clone();
            let mut n = 1;
            while catalog::lookup_name(txn, db.id, &schema, &candidate)?.is_some() {
                candidate = format!("{base}{n}");
                n += 1;
            }
            candidate
        }
    };
    if catalog::lookup_name(txn, db.id, &schema, &name)?.is_some() || name == table.primary.name {
        if ci.if_not_exists {
            return Ok(false);
        }
        return Err(SqlError::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        ));
    }
    let idx = IndexDef {
        id: table.next_index_id,
        name: name.clone(),
        columns,
        unique: ci.unique,
        constraint: false,
    };
    table.next_index_id += 1;
    crate::index::backfill(txn, &table, &idx)?;
    let index_id = idx.id;
    table.indexes.push(idx);
    catalog::write_descriptor(txn, table.id, &Descriptor::Table(table.clone()))?;
    catalog::bind_index_name(txn, db.id, &schema, &name, table.id, index_id)?;
    Ok(true)
}

/// DROP INDEX name [, ...] [CASCADE]. An index a foreign key looks its parents up in is
/// refused (2BP01) unless `cascade`, which drops those constraints. Returns the notices.
pub fn drop_indexes(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    names: &[ast::ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<Vec<String>> {
    let mut notices = Vec::new();
    for n in names {
        let (schema, name) = object_name(n)?;
        let schema = schema.unwrap_or_else(|| PUBLIC_SCHEMA.to_string());
        let Some(catalog::NameEntry::Index { table_id, index_id }) =
            catalog::lookup_name(txn, db.id, &schema, &name)?
        else {
            if if_exists {
                continue;
            }
            return Err(SqlError::new(
                code::UNDEFINED_OBJECT,
                format!("index \"{name}\" does not exist"),
            ));
        };
        let Some(Descriptor::Table(mut table)) = catalog::read_descriptor(txn, table_id)? else {
            return Err(SqlError::new(
                code::DATA_CORRUPTED,
                format!("index \"{name}\" names a missing table"),
            ));
        };
        let deps: Vec<_> = crate::fk::referencing(txn, &table)?
            .into_iter()
            .filter(|(_, f)| f.ref_index == index_id)
            .collect();
        if !deps.is_empty() {
            if !cascade {
                return Err(crate::fk::dependents_error(
                    &format!("index {name}"),
                    &deps,
                    &format!("index {name}"),
                ));
            }
            notices.extend(crate::fk::drop_dependents(txn, &mut table, &deps)?);
        }
        delete_index_rows(txn, &table, index_id)?;
        table.indexes.retain(|i| i.id != index_id);
        catalog::write_descriptor(txn, table.id, &Descriptor::Table(table))?;
        catalog::unbind_name(txn, db.id, &schema, &name)?;
    }
    Ok(notices)
}

fn seq_option_value(e: &ast::Expr) -> Result<i64> {
    let text = e.to_string();
    text.trim().parse::<i64>().map_err(|_| {
        SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("invalid sequence option value {text}"),
        )
    })
}

/// Writes a new sequence descriptor and binds its name.
pub fn create_sequence_desc(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    schema: &str,
    name: &str,
    ty: DataType,
    options: &[ast::SequenceOptions],
    owned_by: Option<(u32, u32)>,
) -> Result<catalog::SequenceDesc> {
    if catalog::lookup_name(txn, db.id, schema, name)?.is_some() {
        return Err(SqlError::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        ));
    }
    let type_max = match ty {
        DataType::Int2 => i16::MAX as i64,
        DataType::Int4 => i32::MAX as i64,
        _ => i64::MAX,
    };
    let mut increment = 1i64;
    let mut min = None;
    let mut max = None;
    let mut start = None;
    let mut cycle = false;
    for o in options {
        match o {
            ast::SequenceOptions::IncrementBy(e, _) => increment = seq_option_value(e)?,
            ast::SequenceOptions::MinValue(Some(e)) => min = Some(seq_option_value(e)?),
            ast::SequenceOptions::MaxValue(Some(e)) => max = Some(seq_option_value(e)?),
            ast::SequenceOptions::MinValue(None) | ast::SequenceOptions::MaxValue(None) => {}
            ast::SequenceOptions::StartWith(e, _) => start = Some(seq_option_value(e)?),
            ast::SequenceOptions::Cache(_) => {}
            ast::SequenceOptions::Cycle(no) => cycle = !*no,
        }
    }
    if increment == 0 {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            "INCREMENT must not be zero",
        ));
    }
    let (min_value, max_value) = if increment > 0 {
        (min.unwrap_or(1), max.unwrap_or(type_max))
    } else {
        (min.unwrap_or(-type_max - 1), max.unwrap_or(-1))
    };
    let start = start.unwrap_or(if increment > 0 { min_value } else { max_value });
    if start < min_value || start > max_value {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("START value ({start}) cannot be outside the range {min_value}..{max_value}"),
        ));
    }
    let id = catalog::allocate_id(txn)?;
    let seq = catalog::SequenceDesc {
        id,
        database_id: db.id,
        schema: schema.to_string(),
        name: name.to_string(),
        increment,
        start,
        min_value,
        max_value,
        cycle,
        owned_by,
    };
    catalog::write_descriptor(txn, id, &Descriptor::Sequence(seq.clone()))?;
    catalog::bind_name(txn, db.id, schema, name, id)?;
    Ok(seq)
}

fn drop_sequence_desc(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    s: &catalog::SequenceDesc,
) -> Result<()> {
    txn.delete(&keys::sequence_key(s.id))?;
    catalog::delete_descriptor(txn, s.id)?;
    catalog::unbind_name(txn, db.id, &s.schema, &s.name)
}

/// CREATE SEQUENCE.
pub fn create_sequence(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    name: &ast::ObjectName,
    if_not_exists: bool,
    data_type_ast: Option<&ast::DataType>,
    options: &[ast::SequenceOptions],
) -> Result<()> {
    let (schema, n) = object_name(name)?;
    let schema = schema_of(schema)?;
    if if_not_exists && catalog::lookup_name(txn, db.id, &schema, &n)?.is_some() {
        return Ok(());
    }
    let ty = match data_type_ast {
        Some(t) => data_type(t)?,
        None => DataType::Int8,
    };
    create_sequence_desc(txn, db, &schema, &n, ty, options, None).map(|_| ())
}

/// DROP SEQUENCE name [, ...].
pub fn drop_sequences(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    names: &[ast::ObjectName],
    if_exists: bool,
) -> Result<Vec<u32>> {
    let mut dropped = Vec::new();
    for n in names {
        let (schema, name) = object_name(n)?;
        let schema = schema.unwrap_or_else(|| PUBLIC_SCHEMA.to_string());
        let found = match catalog::lookup_id(txn, db.id, &schema, &name)? {
            Some(id) => catalog::read_descriptor(txn, id)?,
            None => None,
        };
        match found {
            Some(Descriptor::Sequence(s)) => {
                drop_sequence_desc(txn, db, &s)?;
                dropped.push(s.id);
            }
            _ if if_exists => {}
            _ => {
                return Err(SqlError::new(
                    code::UNDEFINED_TABLE,
                    format!("sequence \"{name}\" does not exist"),
                ))
            }
        }
    }
    Ok(dropped)
}

/// Stores a view whose query has been bound (by the session) to `columns`.
pub fn create_view(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    name: &ast::ObjectName,
    sql: String,
    columns: Vec<String>,
    or_replace: bool,
) -> Result<()> {
    let (schema, n) = object_name(name)?;
    let schema = schema_of(schema)?;
    let id = match catalog::lookup_name(txn, db.id, &schema, &n)? {
        None => {
            let id = catalog::allocate_id(txn)?;
            catalog::bind_name(txn, db.id, &schema, &n, id)?;
            id
        }
        Some(catalog::NameEntry::Object(id)) if or_replace => {
            match catalog::read_descriptor(txn, id)? {
                Some(Descriptor::View(_)) => id,
                _ => {
                    return Err(SqlError::new(
                        code::WRONG_OBJECT_TYPE,
                        format!("\"{n}\" is not a view"),
                    ))
                }
            }
        }
        Some(_) => {
            return Err(SqlError::new(
                code::DUPLICATE_TABLE,
                format!("relation \"{n}\" already exists"),
            ))
        }
    };
    let v = cairn_sql_plan::catalog::ViewDef {
        id,
        database_id: db.id,
        schema,
        name: n,
        sql,
        columns,
    };
    catalog::write_descriptor(txn, id, &Descriptor::View(v))
}

/// DROP VIEW name [, ...].
pub fn drop_views(
    txn: &mut dyn KvTxn,
    db: &DatabaseDesc,
    names: &[ast::ObjectName],
    if_exists: bool,
) -> Result<()> {
    for n in names {
        let (schema, name) = object_name(n)?;
        let schema = schema.unwrap_or_else(|| PUBLIC_SCHEMA.to_string());
        match catalog::view(txn, db.id, &schema, &name)? {
            Some(v) => {
                catalog::delete_descriptor(txn, v.id)?;
                catalog::unbind_name(txn, db.id, &schema, &name)?;
            }
            None if if_exists => {}
            None => {
                return Err(SqlError::new(
                    code::UNDEFINED_TABLE,
                    format!("view \"{name}\" does not exist"),
                ))
            }
        }
    }
    Ok(())
}

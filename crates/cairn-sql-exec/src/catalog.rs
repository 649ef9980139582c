//! The catalog in the key space: databases, tables and sequences as JSON descriptors in system
//! tables, read and written inside the user's transaction.
//!
//! Role: DDL (`ddl.rs`) writes descriptors through this module; the binder reads them through
//! [`TxnCatalog`], which implements `cairn_sql_plan::catalog::Catalog` over a transaction.
//! Because both go through the same `KvTxn` as the data, DDL is transactional: a CREATE TABLE
//! in a rolled-back transaction leaves nothing, and concurrent transactions see a schema
//! change only once it commits (MVCC). Key layout: `keys.rs`.
//!
//! Invariants:
//! 1. A namespace entry `(parent, schema, name) -> id` exists iff descriptor `id` exists and
//!    names that `(parent, schema, name)`; both are written or deleted in one transaction.
//!    Test: `cairn-sql-exec` session tests `rolled_back_create_table_leaves_nothing`.
//! 2. Ids come from one counter read with `get_for_update`, so two transactions never get the
//!    same id (the second waits or fails with 40001).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use cairn_sql_plan::catalog::{Catalog, TableDef, ViewDef};
use cairn_sql_plan::stats::TableStats;
use cairn_sql_plan::{code, Result, SqlError};

use crate::keys;
use crate::kv::KvTxn;

/// The schema every user table lives in (CREATE SCHEMA is not there yet).
pub const PUBLIC_SCHEMA: &str = "public";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseDesc {
    pub id: u32,
    pub name: String,
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceDesc {
    pub id: u32,
    pub database_id: u32,
    pub schema: String,
    pub name: String,
    pub increment: i64,
    pub start: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cycle: bool,
    /// `(table id, column id)` of the SERIAL column that owns it (dropped with the table).
    pub owned_by: Option<(u32, u32)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Descriptor {
    Database(DatabaseDesc),
    Table(TableDef),
    Sequence(SequenceDesc),
    View(ViewDef),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleDesc {
    pub name: String,
    pub superuser: bool,
    /// The SCRAM-SHA-256 verifier, if the role has a password (never the password itself).
    pub scram: Option<ScramSecret>,
}

/// What PostgreSQL keeps in `pg_authid.rolpassword` for SCRAM-SHA-256, hex-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramSecret {
    pub salt_hex: String,
    pub iterations: u32,
    pub stored_key_hex: String,
    pub server_key_hex: String,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> SqlError {
    SqlError::new(
        code::DATA_CORRUPTED,
        format!("catalog {what} is corrupt: {e}"),
    )
}

pub fn read_descriptor(txn: &mut dyn KvTxn, id: u32) -> Result<Option<Descriptor>> {
    match txn.get(&keys::descriptor_key(id))? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| corrupt("descriptor", e)),
    }
}

pub fn write_descriptor(txn: &mut dyn KvTxn, id: u32, d: &Descriptor) -> Result<()> {
    let bytes = serde_json::to_vec(d).map_err(|e| SqlError::internal(e.to_string()))?;
    txn.put(&keys::descriptor_key(id), &bytes)
}

fn read_u32(b: &[u8]) -> Result<u32> {
    let a: [u8; 4] = b
        .try_into()
        .map_err(|_| corrupt("namespace entry", "not 4 bytes"))?;
    Ok(u32::from_be_bytes(a))
}

/// What a name in a schema refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameEntry {
    /// A descriptor (database, table, sequence): namespace value = 4-byte id.
    Object(u32),
    /// An index: namespace value = 4-byte table id + 4-byte index id.
    Index { table_id: u32, index_id: u32 },
}

pub fn lookup_name(
    txn: &mut dyn KvTxn,
    parent: u32,
    schema: &str,
    name: &str,
) -> Result<Option<NameEntry>> {
    match txn.get(&keys::namespace_key(parent, schema, name))? {
        None => Ok(None),
        Some(b) if b.len() == 8 => Ok(Some(NameEntry::Index {
            table_id: read_u32(&b[..4])?,
            index_id: read_u32(&b[4..])?,
        })),
        Some(b) => read_u32(&b).map(|id| Some(NameEntry::Object(id))),
    }
}

/// The descriptor id bound to a name (`None` if the name is free or names an index).
pub fn lookup_id(
    txn: &mut dyn KvTxn,
    parent: u32,
    schema: &str,
    name: &str,
) -> Result<Option<u32>> {
    Ok(match lookup_name(txn, parent, schema, name)? {
        Some(NameEntry::Object(id)) => Some(id),
        _ => None,
    })
}

pub fn bind_index_name(
    txn: &mut dyn KvTxn,
    parent: u32,
    schema: &str,
    name: &str,
    table_id: u32,
    index_id: u32,
) -> Result<()> {
    let mut v = table_id.to_be_bytes().to_vec();
    v.extend_from_slice(&index_id.to_be_bytes());
    txn.put(&keys::namespace_key(parent, schema, name), &v)
}

pub fn bind_name(
    txn: &mut dyn KvTxn,
    parent: u32,
    schema: &str,
    name: &str,
    id: u32,
) -> Result<()> {
    txn.put(
        &keys::namespace_key(parent, schema, name),
        &id.to_be_bytes(),
    )
}

pub fn unbind_name(txn: &mut dyn KvTxn, parent: u32, schema: &str, name: &str) -> Result<()> {
    txn.delete(&keys::namespace_key(parent, schema, name))
}

/// Allocates a fresh descriptor id (invariant 2).
pub fn allocate_id(txn: &mut dyn KvTxn) -> Result<u32> {
    let key = keys::id_counter_key();
    let next = match txn.get_for_update(&key)? {
        None => keys::FIRST_USER_ID as u64,
        Some(b) => {
            let a: [u8; 8] = b
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("id counter", "not 8 bytes"))?;
            u64::from_be_bytes(a)
        }
    };
    let id = u32::try_from(next)
        .map_err(|_| SqlError::new(code::PROGRAM_LIMIT_EXCEEDED, "out of descriptor ids"))?;
    txn.put(&key, &(next + 1).to_be_bytes())?;
    Ok(id)
}

pub fn database(txn: &mut dyn KvTxn, name: &str) -> Result<Option<DatabaseDesc>> {
    let Some(id) = lookup_id(txn, 0, "", name)? else {
        return Ok(None);
    };
    match read_descriptor(txn, id)? {
        Some(Descriptor::Database(d)) => Ok(Some(d)),
        _ => Err(corrupt(
            "database entry",
            format!("{name} -> {id} is not a database"),
        )),
    }
}

pub fn databases(txn: &mut dyn KvTxn) -> Result<Vec<DatabaseDesc>> {
    let prefix = keys::namespace_prefix(0);
    let end = keys::prefix_end(&prefix);
    let mut out = Vec::new();
    for (_, v) in txn.scan(&prefix, &end, usize::MAX, false)? {
        if let Some(Descriptor::Database(d)) = read_descriptor(txn, read_u32(&v)?)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// Every descriptor of one database (tables and sequences), in namespace order.
pub fn objects_in(txn: &mut dyn KvTxn, database_id: u32) -> Result<Vec<Descriptor>> {
    let prefix = keys::namespace_prefix(database_id);
    let end = keys::prefix_end(&prefix);
    let mut out = Vec::new();
    for (_, v) in txn.scan(&prefix, &end, usize::MAX, false)? {
        if v.len() != 4 {
            continue; // an index name
        }
        if let Some(d) = read_descriptor(txn, read_u32(&v)?)? {
            out.push(d);
        }
    }
    Ok(out)
}

pub fn role(txn: &mut dyn KvTxn, name: &str) -> Result<Option<RoleDesc>> {
    match txn.get(&keys::role_key(name))? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| corrupt("role", e)),
    }
}

/// Every role, in name order.
pub fn roles(txn: &mut dyn KvTxn) -> Result<Vec<RoleDesc>> {
    let (start, end) = keys::index_span(keys::ROLE_TABLE, 1);
    let mut out = Vec::new();
    for (_, v) in txn.scan(&start, &end, usize::MAX, false)? {
        out.push(serde_json::from_slice(&v).map_err(|e| corrupt("role", e))?);
    }
    Ok(out)
}

pub fn write_role(txn: &mut dyn KvTxn, r: &RoleDesc) -> Result<()> {
    let bytes = serde_json::to_vec(r).map_err(|e| SqlError::internal(e.to_string()))?;
    txn.put(&keys::role_key(&r.name), &bytes)
}

/// Creates the `postgres` database and role on an empty store. Returns whether it did.
pub fn bootstrap(txn: &mut dyn KvTxn) -> Result<bool> {
    if database(txn, "postgres")?.is_some() {
        return Ok(false);
    }
    let id = allocate_id(txn)?;
    let db = DatabaseDesc {
        id,
        name: "postgres".into(),
        owner: "postgres".into(),
    };
    write_descriptor(txn, id, &Descriptor::Database(db))?;
    bind_name(txn, 0, "", "postgres", id)?;
    if role(txn, "postgres")?.is_none() {
        write_role(
            txn,
            &RoleDesc {
                name: "postgres".into(),
                superuser: true,
                scram: None,
            },
        )?;
    }
    Ok(true)
}

/// Tables already looked up by one statement, by `(schema, name)` (`None`: not there).
type TableCache = HashMap<(String, String), Option<Arc<TableDef>>>;

/// `Catalog` over one transaction, for one database.
pub struct TxnCatalog<'a> {
    txn: RefCell<&'a mut dyn KvTxn>,
    database_id: u32,
    cache: RefCell<TableCache>,
}

impl<'a> TxnCatalog<'a> {
    pub fn new(txn: &'a mut dyn KvTxn, database_id: u32) -> Self {
        TxnCatalog {
            txn: RefCell::new(txn),
            database_id,
            cache: RefCell::new(HashMap::new()),
        }
    }
}

/// Reads the table `schema.name` of a database.
pub fn table(
    txn: &mut dyn KvTxn,
    database_id: u32,
    schema: &str,
    name: &str,
) -> Result<Option<TableDef>> {
    let Some(id) = lookup_id(txn, database_id, schema, name)? else {
        return Ok(None);
    };
    match read_descriptor(txn, id)? {
        Some(Descriptor::Table(t)) => Ok(Some(t)),
        Some(_) => Ok(None),
        None => Err(corrupt(
            "namespace",
            format!("{schema}.{name} -> {id} has no descriptor"),
        )),
    }
}

/// Reads the view `schema.name` of a database.
pub fn view(
    txn: &mut dyn KvTxn,
    database_id: u32,
    schema: &str,
    name: &str,
) -> Result<Option<ViewDef>> {
    let Some(id) = lookup_id(txn, database_id, schema, name)? else {
        return Ok(None);
    };
    match read_descriptor(txn, id)? {
        Some(Descriptor::View(v)) => Ok(Some(v)),
        _ => Ok(None),
    }
}

impl Catalog for TxnCatalog<'_> {
    fn view(&self, schema: Option<&str>, name: &str) -> Result<Option<Arc<ViewDef>>> {
        let schema = schema.unwrap_or(PUBLIC_SCHEMA);
        let mut txn = self.txn.borrow_mut();
        Ok(view(&mut **txn, self.database_id, schema, name)?.map(Arc::new))
    }

    fn table(&self, schema: Option<&str>, name: &str) -> Result<Option<Arc<TableDef>>> {
        // pg_catalog is searched first, as PostgreSQL does when it is not on the search path.
        if let Some(t) = crate::pg_catalog::lookup(schema, name) {
            return Ok(Some(t));
        }
        if schema.is_some_and(crate::pg_catalog::is_catalog_schema) {
            return Ok(None);
        }
        let schema = schema.unwrap_or(PUBLIC_SCHEMA).to_string();
        let key = (schema.clone(), name.to_string());
        if let Some(hit) = self.cache.borrow().get(&key) {
            return Ok(hit.clone());
        }
        let mut txn = self.txn.borrow_mut();
        let t = table(&mut **txn, self.database_id, &schema, name)?.map(Arc::new);
        self.cache.borrow_mut().insert(key, t.clone());
        Ok(t)
    }

    fn table_stats(&self, table: &TableDef) -> Result<Option<Arc<TableStats>>> {
        if crate::pg_catalog::is_catalog_table(table.id) {
            return Ok(None);
        }
        let mut txn = self.txn.borrow_mut();
        Ok(crate::analyze::read_stats(&mut **txn, table)?.map(Arc::new))
    }

    fn relation_oid(&self, schema: Option<&str>, name: &str) -> Result<Option<u32>> {
        if let Some(t) = crate::pg_catalog::lookup(schema, name) {
            return Ok(Some(t.id));
        }
        if !matches!(schema, None | Some(PUBLIC_SCHEMA)) {
            return Ok(None);
        }
        let mut txn = self.txn.borrow_mut();
        match lookup_name(&mut **txn, self.database_id, PUBLIC_SCHEMA, name)? {
            Some(NameEntry::Object(id)) => return Ok(Some(id)),
            Some(NameEntry::Index { table_id, index_id }) => {
                return Ok(crate::pg_catalog::index_oid(table_id, index_id))
            }
            None => {}
        }
        // Primary-key indexes have no namespace entry of their own.
        for d in objects_in(&mut **txn, self.database_id)? {
            if let Descriptor::Table(t) = d {
                if t.has_declared_primary_key && t.primary.name == name {
                    return Ok(crate::pg_catalog::index_oid(t.id, t.primary.id));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table descriptor as written before foreign keys existed (no `foreign_keys`, no
    /// `referenced_by`) still reads, with both empty; one without foreign keys is written
    /// without them, so older binaries can read it too.
    #[test]
    fn old_table_descriptor_reads_without_foreign_keys() {
        let old = r#"{"Table":{"id":100,"database_id":1,"schema":"public","name":"t",
            "columns":[{"id":1,"name":"a","ty":"Int4","nullable":false,"default":null,"hidden":false}],
            "primary":{"id":1,"name":"t_pkey","columns":[{"column_id":1,"descending":false}],"unique":true},
            "indexes":[],"checks":[],"next_column_id":2,"next_index_id":2,
            "has_declared_primary_key":true}}"#;
        let d: Descriptor = serde_json::from_str(old).expect("old descriptor parses");
        let Descriptor::Table(t) = &d else {
            panic!("not a table: {d:?}")
        };
        assert!(t.foreign_keys.is_empty());
        assert!(t.referenced_by.is_empty());
        let written = serde_json::to_string(&d).expect("serialises");
        assert!(!written.contains("foreign_keys"), "{written}");
        assert!(!written.contains("referenced_by"), "{written}");
    }
}

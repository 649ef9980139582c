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
//! 3. Every write of a descriptor or a name goes through this module and adds 1 to the
//!    catalog generation in the same transaction (an atomic add at commit: concurrent DDL does
//!    not conflict on it), so one committed generation is one committed catalog. The caches
//!    (`catalog_cache.rs`, prepared statements' plans) rest on this. Test:
//!    `tests::every_catalog_write_raises_the_generation`.
//!
//! Reads: [`TxnCatalog`] with an engine's [`CatalogCache`] serves tables from it (see that
//! module); without one, and everywhere DDL reads, the store is read directly.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use cairn_sql_plan::catalog::{Catalog, TableDef, ViewDef};
use cairn_sql_plan::stats::TableStats;
use cairn_sql_plan::{code, Result, SqlError};

use crate::catalog_cache::{CatalogCache, TableEntry};
use crate::keys;
use crate::kv::{IsolationLevel, KvTxn};

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
    txn.put(&keys::descriptor_key(id), &bytes)?;
    raise_generation(txn)
}

pub fn delete_descriptor(txn: &mut dyn KvTxn, id: u32) -> Result<()> {
    txn.delete(&keys::descriptor_key(id))?;
    raise_generation(txn)
}

/// Marks a catalog change in `txn` (invariant 3).
fn raise_generation(txn: &mut dyn KvTxn) -> Result<()> {
    txn.add_u64(&keys::catalog_generation_key(), 1)
}

/// The catalog generation `txn` sees (0 before the first change). Read without joining the
/// read set: it only says which cached descriptors are current (`catalog_cache.rs`).
pub fn generation(txn: &mut dyn KvTxn) -> Result<u64> {
    read_counter(txn, &keys::catalog_generation_key())
}

/// The statistics generation `txn` sees (0 before the first ANALYZE), read as `generation`
/// is: it says whether a cached plan was made with the current statistics.
pub fn stats_generation(txn: &mut dyn KvTxn) -> Result<u64> {
    read_counter(txn, &keys::stats_generation_key())
}

fn read_counter(txn: &mut dyn KvTxn, key: &[u8]) -> Result<u64> {
    match txn.get_untracked(key)? {
        None => Ok(0),
        Some(b) => {
            let a: [u8; 8] = b
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("generation", "not 8 bytes"))?;
            Ok(u64::from_le_bytes(a))
        }
    }
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
    txn.put(&keys::namespace_key(parent, schema, name), &v)?;
    raise_generation(txn)
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
    )?;
    raise_generation(txn)
}

pub fn unbind_name(txn: &mut dyn KvTxn, parent: u32, schema: &str, name: &str) -> Result<()> {
    txn.delete(&keys::namespace_key(parent, schema, name))?;
    raise_generation(txn)
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
///
/// With [`TxnCatalog::with_cache`] table lookups go through the engine's [`CatalogCache`]
/// (only for a transaction that has not changed the catalog: `catalog_cache.rs` invariant 2).
/// With [`TxnCatalog::recording`] it also remembers every catalog key it read, for a
/// prepared statement's cached plan to report on later executions.
pub struct TxnCatalog<'a> {
    txn: RefCell<&'a mut dyn KvTxn>,
    database_id: u32,
    cache: RefCell<TableCache>,
    shared: Option<&'a CatalogCache>,
    /// The catalog generation this statement reads at, once read.
    generation: Cell<Option<u64>>,
    /// The catalog keys read so far, when recording.
    reads: Option<RefCell<Vec<Vec<u8>>>>,
    /// Cleared by a lookup whose reads cannot be replayed as keys (a range scan).
    replayable: Cell<bool>,
}

impl<'a> TxnCatalog<'a> {
    pub fn new(txn: &'a mut dyn KvTxn, database_id: u32) -> Self {
        TxnCatalog {
            txn: RefCell::new(txn),
            database_id,
            cache: RefCell::new(HashMap::new()),
            shared: None,
            generation: Cell::new(None),
            reads: None,
            replayable: Cell::new(true),
        }
    }

    /// Serves tables from `cache` as of the catalog generation `txn` sees (`generation`, if the
    /// caller has read it already). `txn` must not have changed the catalog.
    pub fn with_cache(
        txn: &'a mut dyn KvTxn,
        database_id: u32,
        cache: &'a CatalogCache,
        generation: Option<u64>,
    ) -> Self {
        TxnCatalog {
            shared: Some(cache),
            generation: Cell::new(generation),
            ..TxnCatalog::new(txn, database_id)
        }
    }

    /// Remembers the catalog keys read (see [`TxnCatalog::take_reads`]).
    pub fn recording(mut self) -> Self {
        self.reads = Some(RefCell::new(Vec::new()));
        self
    }

    /// The catalog keys read since [`TxnCatalog::recording`], or `None` if not recording
    /// or some read was a range scan (which a list of keys cannot stand for).
    pub fn take_reads(&self) -> Option<Vec<Vec<u8>>> {
        if !self.replayable.get() {
            return None;
        }
        self.reads.as_ref().map(|r| r.take())
    }

    fn record(&self, keys: &[Vec<u8>]) {
        if let Some(r) = &self.reads {
            r.borrow_mut().extend(keys.iter().cloned());
        }
    }

    fn current_generation(&self, txn: &mut dyn KvTxn) -> Result<u64> {
        if let Some(v) = self.generation.get() {
            return Ok(v);
        }
        let v = generation(txn)?;
        self.generation.set(Some(v));
        Ok(v)
    }

    /// One table lookup, from the shared cache if there is one and it has the generation.
    fn table_entry(&self, schema: &str, name: &str) -> Result<Arc<TableEntry>> {
        let mut txn = self.txn.borrow_mut();
        let txn: &mut dyn KvTxn = &mut **txn;
        let Some(shared) = self.shared else {
            return Ok(Arc::new(read_table_entry(
                txn,
                self.database_id,
                schema,
                name,
            )?));
        };
        let v = self.current_generation(txn)?;
        if let Some(e) = shared.get(v, self.database_id, schema, name) {
            // catalog_cache.rs invariant 3.
            for k in &e.read_keys {
                txn.track_read(k)?;
            }
            return Ok(e);
        }
        let e = Arc::new(read_table_entry(txn, self.database_id, schema, name)?);
        // At READ COMMITTED each read takes a fresh snapshot: the entry is the generation's
        // only if no catalog change committed since the generation was read.
        if txn.isolation() != IsolationLevel::ReadCommitted || generation(txn)? == v {
            shared.insert(v, self.database_id, schema, name, e.clone());
        }
        Ok(e)
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

/// [`table`], with the keys it read.
fn read_table_entry(
    txn: &mut dyn KvTxn,
    database_id: u32,
    schema: &str,
    name: &str,
) -> Result<TableEntry> {
    let mut read_keys = vec![keys::namespace_key(database_id, schema, name)];
    let Some(id) = lookup_id(txn, database_id, schema, name)? else {
        return Ok(TableEntry {
            table: None,
            read_keys,
        });
    };
    read_keys.push(keys::descriptor_key(id));
    let table = match read_descriptor(txn, id)? {
        Some(Descriptor::Table(t)) => Some(Arc::new(t)),
        Some(_) => None,
        None => {
            return Err(corrupt(
                "namespace",
                format!("{schema}.{name} -> {id} has no descriptor"),
            ))
        }
    };
    Ok(TableEntry { table, read_keys })
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
        let v = view(&mut **txn, self.database_id, schema, name)?;
        if self.reads.is_some() {
            let mut keys = vec![keys::namespace_key(self.database_id, schema, name)];
            if let Some(id) = lookup_id(&mut **txn, self.database_id, schema, name)? {
                keys.push(keys::descriptor_key(id));
            }
            self.record(&keys);
        }
        Ok(v.map(Arc::new))
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
        let e = self.table_entry(&schema, name)?;
        self.record(&e.read_keys);
        self.cache.borrow_mut().insert(key, e.table.clone());
        Ok(e.table.clone())
    }

    fn table_stats(&self, table: &TableDef) -> Result<Option<Arc<TableStats>>> {
        if crate::pg_catalog::is_catalog_table(table.id) {
            return Ok(None);
        }
        // Statistics are not part of the catalog generation: a plan that used them must not
        // be cached as if it were a function of the generation alone.
        // TODO(#4): invalidate plans when ANALYZE changes statistics, once the binder uses them.
        self.replayable.set(false);
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
        self.record(&[keys::namespace_key(self.database_id, PUBLIC_SCHEMA, name)]);
        let mut txn = self.txn.borrow_mut();
        match lookup_name(&mut **txn, self.database_id, PUBLIC_SCHEMA, name)? {
            Some(NameEntry::Object(id)) => return Ok(Some(id)),
            Some(NameEntry::Index { table_id, index_id }) => {
                return Ok(crate::pg_catalog::index_oid(table_id, index_id))
            }
            None => {}
        }
        // Primary-key indexes have no namespace entry of their own.
        self.replayable.set(false);
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
    use cairn_sql_plan::plan::{RowLockStrength, RowLockWait};
    use std::collections::BTreeMap;

    /// A transaction over a map: enough for the catalog's own reads and writes.
    #[derive(Default)]
    struct MapTxn {
        data: BTreeMap<Vec<u8>, Vec<u8>>,
        tracked: Vec<Vec<u8>>,
    }

    impl KvTxn for MapTxn {
        fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.tracked.push(key.to_vec());
            Ok(self.data.get(key).cloned())
        }
        fn get_untracked(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            Ok(self.data.get(key).cloned())
        }
        fn track_read(&mut self, key: &[u8]) -> Result<()> {
            self.tracked.push(key.to_vec());
            Ok(())
        }
        fn add_u64(&mut self, key: &[u8], delta: u64) -> Result<()> {
            let old = self
                .data
                .get(key)
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map_or(0, u64::from_le_bytes);
            self.data
                .insert(key.to_vec(), (old + delta).to_le_bytes().to_vec());
            Ok(())
        }
        fn get_for_update(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.get(key)
        }
        fn lock_row(
            &mut self,
            key: &[u8],
            _: RowLockStrength,
            _: RowLockWait,
        ) -> Result<Option<Option<Vec<u8>>>> {
            self.get(key).map(Some)
        }
        fn scan(
            &mut self,
            start: &[u8],
            end: &[u8],
            limit: usize,
            _reverse: bool,
        ) -> Result<Vec<crate::kv::KvPair>> {
            Ok(self
                .data
                .range(start.to_vec()..end.to_vec())
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        }
        fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
            self.data.insert(key.to_vec(), value.to_vec());
            Ok(())
        }
        fn delete(&mut self, key: &[u8]) -> Result<()> {
            self.data.remove(key);
            Ok(())
        }
        fn commit(&mut self) -> Result<()> {
            Ok(())
        }
        fn rollback(&mut self) {}
        fn savepoint(&mut self) -> Result<()> {
            Ok(())
        }
        fn rollback_to_savepoint(&mut self, _: usize) -> Result<()> {
            Ok(())
        }
        fn release_savepoint(&mut self, _: usize) -> Result<()> {
            Ok(())
        }
        fn isolation(&self) -> IsolationLevel {
            IsolationLevel::Serializable
        }
        fn new_statement(&mut self) -> Result<()> {
            Ok(())
        }
        fn timestamp_micros(&self) -> i64 {
            0
        }
    }

    fn table_def(id: u32, name: &str) -> TableDef {
        let json = format!(
            r#"{{"id":{id},"database_id":1,"schema":"public","name":"{name}",
            "columns":[{{"id":1,"name":"a","ty":"Int4","nullable":false,"default":null,"hidden":false}}],
            "primary":{{"id":1,"name":"{name}_pkey","columns":[{{"column_id":1,"descending":false}}],"unique":true}},
            "indexes":[],"checks":[],"next_column_id":2,"next_index_id":2,
            "has_declared_primary_key":true}}"#
        );
        serde_json::from_str(&json).expect("test descriptor parses")
    }

    /// Invariant 3: each kind of catalog write raises the generation; other writes do not.
    #[test]
    fn every_catalog_write_raises_the_generation() {
        let mut txn = MapTxn::default();
        let mut seen = generation(&mut txn).unwrap();
        assert_eq!(seen, 0);
        let mut check = |txn: &mut MapTxn, what: &str, raised: bool| {
            let v = generation(txn).unwrap();
            assert_eq!(v > seen, raised, "{what}: generation {seen} -> {v}");
            seen = v;
        };
        let d = Descriptor::Table(table_def(100, "t"));
        write_descriptor(&mut txn, 100, &d).unwrap();
        check(&mut txn, "write_descriptor", true);
        bind_name(&mut txn, 1, "public", "t", 100).unwrap();
        check(&mut txn, "bind_name", true);
        bind_index_name(&mut txn, 1, "public", "t_i", 100, 2).unwrap();
        check(&mut txn, "bind_index_name", true);
        unbind_name(&mut txn, 1, "public", "t_i").unwrap();
        check(&mut txn, "unbind_name", true);
        delete_descriptor(&mut txn, 100).unwrap();
        check(&mut txn, "delete_descriptor", true);
        allocate_id(&mut txn).unwrap();
        check(&mut txn, "allocate_id", false);
        txn.put(b"row", b"value").unwrap();
        check(&mut txn, "a row", false);
    }

    /// A cached lookup answers as the store does, reports the keys a read would have read,
    /// and stops serving once the generation moves.
    #[test]
    fn cached_lookups_match_the_store_and_report_their_keys() {
        let mut txn = MapTxn::default();
        write_descriptor(&mut txn, 100, &Descriptor::Table(table_def(100, "t"))).unwrap();
        bind_name(&mut txn, 1, "public", "t", 100).unwrap();
        let cache = CatalogCache::new();
        let v = generation(&mut txn).unwrap();
        for round in 0..2 {
            txn.tracked.clear();
            let cat = TxnCatalog::with_cache(&mut txn, 1, &cache, None).recording();
            let t = cat.table(None, "t").unwrap().expect("t exists");
            assert_eq!(t.name, "t");
            assert!(cat.table(None, "missing").unwrap().is_none());
            let reads = cat.take_reads().expect("replayable");
            drop(cat);
            assert_eq!(
                reads,
                vec![
                    keys::namespace_key(1, "public", "t"),
                    keys::descriptor_key(100),
                    keys::namespace_key(1, "public", "missing"),
                ],
                "round {round}"
            );
            // From the store (round 0) or the cache (round 1): the same keys reach the read
            // set either way.
            assert_eq!(txn.tracked, reads, "round {round}");
            assert_eq!(cache.state(), (v, 2));
        }
        // A change the cache does not see must not be served at the new generation.
        write_descriptor(&mut txn, 100, &Descriptor::Table(table_def(100, "t2"))).unwrap();
        let cat = TxnCatalog::with_cache(&mut txn, 1, &cache, None);
        assert_eq!(cat.table(None, "t").unwrap().expect("t").name, "t2");
    }

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

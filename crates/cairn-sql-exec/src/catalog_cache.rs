//! Decoded table descriptors shared by every session of an engine, so a statement that names
//! a table does not read and JSON-decode its descriptor again.
//!
//! Role: [`crate::catalog::TxnCatalog`] consults the [`CatalogCache`] of the
//! [`crate::session::Engine`] when the session lets it (see invariant 2) and fills it on a
//! miss. It caches what the binder asks for: "which table does `schema.name` of database
//! `db` name", including "none".
//!
//! Validity: every transaction that changes a descriptor or a name also adds to the catalog
//! generation (`catalog.rs` invariant 3), so the committed catalog is one function of the
//! generation: two snapshots that read the same generation see the same descriptors. An entry is
//! stored under the generation its reader saw and served only to statements that read that same
//! generation; the cache holds one generation at a time and only moves forward (a reader of an
//! older snapshot misses and reads the store itself).
//!
//! Invariants:
//! 1. An entry is a copy of what the store held at its generation: it is inserted only by a
//!    reader whose transaction has not changed the catalog itself, and (at READ COMMITTED,
//!    where each read takes a fresh snapshot) only if the generation read again after the
//!    entry's reads is unchanged. Tests: `catalog_cache::tests`, and in `tests/pg/clients.rs`
//!    `prepared_statements_follow_schema_changes_like_postgres`.
//! 2. A transaction that changed the catalog never reads from the cache: its own uncommitted
//!    descriptors are not the generation's (the session marks such a block `catalog_dirty`).
//!    Test: `tests/pg/clients.rs` `ddl_in_a_block_is_seen_by_it_alone_until_commit`.
//! 3. A hit reports the keys the miss would have read (namespace entry, descriptor) to the
//!    transaction's read set (`KvTxn::track_read`), so SERIALIZABLE conflicts with DDL on
//!    the same table are what they are without the cache. Test: `tests/pg/clients.rs`
//!    `serializable_writer_conflicts_with_ddl_on_its_table_despite_cache`.
//! 4. At most [`TABLE_ENTRIES_MAX`] entries; a full cache is emptied before it takes another.
//!
//! Concurrency: one `RwLock` around the map; lookups take it shared, fills and generation moves
//! exclusive. Nothing is read from the store while it is held.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use cairn_sql_plan::catalog::TableDef;

/// Most table lookups kept (one per `(database, schema, name)`).
pub const TABLE_ENTRIES_MAX: usize = 4096;

/// The answer to one table lookup and the keys reading it took.
#[derive(Debug)]
pub struct TableEntry {
    /// `None`: no table of that name (the name is free, or names something else).
    pub table: Option<Arc<TableDef>>,
    /// Namespace key, and the descriptor key if the name was bound: what a hit reports to
    /// the transaction's read set (invariant 3).
    pub read_keys: Vec<Vec<u8>>,
}

#[derive(Default)]
struct Entries {
    generation: u64,
    /// By table name, then `(database id, schema)`: lookups by `&str` without building a key.
    by_name: HashMap<String, Vec<(u32, String, Arc<TableEntry>)>>,
    count: usize,
}

/// See the module docs.
#[derive(Default)]
pub struct CatalogCache {
    entries: RwLock<Entries>,
}

impl CatalogCache {
    pub fn new() -> CatalogCache {
        CatalogCache::default()
    }

    /// The entry for `schema.name` of `database_id`, if one was stored at `generation`.
    pub fn get(
        &self,
        generation: u64,
        database_id: u32,
        schema: &str,
        name: &str,
    ) -> Option<Arc<TableEntry>> {
        // A poisoned lock (a panic while held) is treated as an empty cache.
        let e = self.entries.read().ok()?;
        if e.generation != generation {
            return None;
        }
        e.by_name
            .get(name)?
            .iter()
            .find(|(db, s, _)| *db == database_id && s == schema)
            .map(|(_, _, t)| t.clone())
    }

    /// Stores an entry read at `generation` (invariant 1 is the caller's). An older generation
    /// than the cache's is dropped; a newer one replaces every entry.
    pub fn insert(
        &self,
        generation: u64,
        database_id: u32,
        schema: &str,
        name: &str,
        entry: Arc<TableEntry>,
    ) {
        let Ok(mut e) = self.entries.write() else {
            return;
        };
        if generation < e.generation {
            return;
        }
        if generation > e.generation || e.count >= TABLE_ENTRIES_MAX {
            e.by_name.clear();
            e.count = 0;
            e.generation = generation;
        }
        let list = e.by_name.entry(name.to_string()).or_default();
        if let Some(slot) = list
            .iter_mut()
            .find(|(db, s, _)| *db == database_id && s == schema)
        {
            slot.2 = entry;
            return;
        }
        list.push((database_id, schema.to_string(), entry));
        e.count += 1;
    }

    /// The generation the entries belong to, and how many there are.
    pub fn state(&self) -> (u64, usize) {
        self.entries
            .read()
            .map(|e| (e.generation, e.count))
            .unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: u8) -> Arc<TableEntry> {
        Arc::new(TableEntry {
            table: None,
            read_keys: vec![vec![tag]],
        })
    }

    #[test]
    fn entries_serve_only_their_version_and_the_cache_only_moves_forward() {
        let c = CatalogCache::new();
        c.insert(5, 1, "public", "t", entry(1));
        assert_eq!(
            c.get(5, 1, "public", "t").map(|e| e.read_keys.clone()),
            Some(vec![vec![1]])
        );
        assert!(c.get(4, 1, "public", "t").is_none(), "older generation");
        assert!(c.get(6, 1, "public", "t").is_none(), "newer generation");
        assert!(c.get(5, 2, "public", "t").is_none(), "other database");
        assert!(c.get(5, 1, "other", "t").is_none(), "other schema");
        // An older reader does not evict the newer entries.
        c.insert(4, 1, "public", "u", entry(2));
        assert_eq!(c.state(), (5, 1));
        assert!(c.get(5, 1, "public", "t").is_some());
        // A newer one replaces them all.
        c.insert(6, 1, "public", "u", entry(3));
        assert_eq!(c.state(), (6, 1));
        assert!(c.get(6, 1, "public", "t").is_none());
        assert_eq!(
            c.get(6, 1, "public", "u").map(|e| e.read_keys.clone()),
            Some(vec![vec![3]])
        );
    }

    #[test]
    fn a_full_cache_is_emptied_before_it_takes_another_entry() {
        let c = CatalogCache::new();
        for i in 0..TABLE_ENTRIES_MAX {
            c.insert(1, 1, "public", &format!("t{i}"), entry(0));
        }
        assert_eq!(c.state(), (1, TABLE_ENTRIES_MAX));
        c.insert(1, 1, "public", "one_more", entry(0));
        assert_eq!(c.state(), (1, 1));
        assert!(c.get(1, 1, "public", "one_more").is_some());
        // Replacing an existing entry does not count twice.
        c.insert(1, 1, "public", "one_more", entry(1));
        assert_eq!(c.state(), (1, 1));
    }
}

//! Versions: the set of live SSTables per level at one moment, and the table cache.
//!
//! **Role**: the engine keeps one current [`FileSet`]; every flush, compaction, ingestion or
//! trivial move produces a new one from a [`ManifestEdit`] (logged to the MANIFEST first).
//! Readers and iterators hold an `Arc<FileSet>` so the files they read stay on disk.
//!
//! **File lifetime**: each table is one [`LiveFile`], shared by every file set that lists it.
//! When an edit removes a file for good it is marked obsolete; the file is deleted when the
//! last file set (and so the last reader) holding it is dropped. A crash before that leaves an
//! orphan that the next open deletes (it is not in the MANIFEST).
//!
//! **Invariants** (checked by `FileSet::check_invariants`, run after every edit in debug
//! builds and by the tests):
//! 1. L0 files are ordered newest first (by largest seqno, then file number).
//! 2. In every level >= 1, files are sorted by smallest key and do not overlap (in
//!    internal-key order: `prev.largest < next.smallest`).
//! 3. A file number appears at most once in a file set.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::file_meta::FileMeta;
use crate::filename;
use crate::ikey;
use crate::manifest::ManifestEdit;
use crate::sst::{BlockCache, Table};

/// Open tables by file number, bounded in count.
pub struct TableCache {
    dir: PathBuf,
    tables: quick_cache::sync::Cache<u64, Arc<Table>>,
    block_cache: Arc<BlockCache>,
}

impl TableCache {
    pub fn new(dir: &Path, files_max: usize, block_cache: Arc<BlockCache>) -> TableCache {
        TableCache {
            dir: dir.to_path_buf(),
            tables: quick_cache::sync::Cache::new(files_max.max(16)),
            block_cache,
        }
    }

    /// The open table for `meta`, opening it on a miss.
    pub fn get(&self, meta: &FileMeta) -> Result<Arc<Table>> {
        self.tables.get_or_insert_with(&meta.number, || {
            Table::open(
                filename::table_path(&self.dir, meta.number),
                meta.number,
                meta.global_seqno,
                Some(Arc::clone(&self.block_cache)),
            )
        })
    }

    pub fn evict(&self, number: u64) {
        self.tables.remove(&number);
    }

    pub fn block_cache(&self) -> &Arc<BlockCache> {
        &self.block_cache
    }
}

/// A live SSTable. Deletes its file on drop once marked obsolete.
pub struct LiveFile {
    pub meta: FileMeta,
    obsolete: AtomicBool,
    path: PathBuf,
    table_cache: Arc<TableCache>,
}

impl LiveFile {
    pub fn new(meta: FileMeta, dir: &Path, table_cache: Arc<TableCache>) -> Arc<LiveFile> {
        let path = filename::table_path(dir, meta.number);
        Arc::new(LiveFile {
            meta,
            obsolete: AtomicBool::new(false),
            path,
            table_cache,
        })
    }

    /// The open table.
    pub fn table(&self) -> Result<Arc<Table>> {
        self.table_cache.get(&self.meta)
    }

    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, AtomicOrdering::Release);
    }

    /// Smallest user key.
    pub fn smallest_user_key(&self) -> &[u8] {
        ikey::user_key(&self.meta.smallest)
    }

    /// Largest user key (for a range tombstone's exclusive end, that end).
    pub fn largest_user_key(&self) -> &[u8] {
        ikey::user_key(&self.meta.largest)
    }

    /// True when the file's user-key range intersects `[lo, hi]` (inclusive on both sides:
    /// conservative, as compaction input selection needs).
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        self.smallest_user_key() <= hi && self.largest_user_key() >= lo
    }
}

impl Drop for LiveFile {
    fn drop(&mut self) {
        if self.obsolete.load(AtomicOrdering::Acquire) {
            self.table_cache.evict(self.meta.number);
            if let Err(e) = std::fs::remove_file(&self.path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), error = %e, "delete obsolete sstable");
                }
            }
        }
    }
}

/// The live files, per level.
#[derive(Clone, Default)]
pub struct FileSet {
    pub levels: Vec<Vec<Arc<LiveFile>>>,
}

fn l0_order(a: &Arc<LiveFile>, b: &Arc<LiveFile>) -> Ordering {
    b.meta
        .seqno_largest
        .cmp(&a.meta.seqno_largest)
        .then(b.meta.number.cmp(&a.meta.number))
}

impl FileSet {
    pub fn empty(levels: usize) -> FileSet {
        FileSet {
            levels: vec![Vec::new(); levels],
        }
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        self.levels
            .get(level)
            .map_or(0, |l| l.iter().map(|f| f.meta.size_bytes).sum())
    }

    pub fn files(&self) -> impl Iterator<Item = (usize, &Arc<LiveFile>)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(l, fs)| fs.iter().map(move |f| (l, f)))
    }

    /// In a level >= 1, the file that may hold internal key `target` (the first whose largest
    /// key is >= target), if its range starts at or before the target.
    pub fn file_for_key(&self, level: usize, target: &[u8]) -> Option<&Arc<LiveFile>> {
        let files = self.levels.get(level)?;
        let idx =
            files.partition_point(|f| ikey::compare(&f.meta.largest, target) == Ordering::Less);
        let f = files.get(idx)?;
        (f.smallest_user_key() <= ikey::user_key(target)).then_some(f)
    }

    /// Files of `level` overlapping user keys `[lo, hi]`.
    pub fn overlapping(&self, level: usize, lo: &[u8], hi: &[u8]) -> Vec<Arc<LiveFile>> {
        self.levels
            .get(level)
            .map(|fs| fs.iter().filter(|f| f.overlaps(lo, hi)).cloned().collect())
            .unwrap_or_default()
    }

    /// A new file set with `edit` applied. Files removed for good are marked obsolete, so they
    /// are deleted once no older file set holds them.
    pub fn apply(
        &self,
        edit: &ManifestEdit,
        dir: &Path,
        table_cache: &Arc<TableCache>,
    ) -> Result<FileSet> {
        let mut levels = self.levels.clone();
        let mut removed: HashMap<u64, Arc<LiveFile>> = HashMap::new();
        for (level, number) in &edit.deleted_files {
            let files = levels.get_mut(*level).ok_or(Error::InvalidArgument(
                "manifest edit names a level out of range",
            ))?;
            let Some(pos) = files.iter().position(|f| f.meta.number == *number) else {
                return Err(Error::InvalidArgument(
                    "manifest edit deletes a file not in the file set",
                ));
            };
            let f = files.remove(pos);
            removed.insert(*number, f);
        }
        for (level, meta) in &edit.added_files {
            let files = levels.get_mut(*level).ok_or(Error::InvalidArgument(
                "manifest edit names a level out of range",
            ))?;
            // A file moved between levels keeps its LiveFile (and is not deleted).
            let f = match removed.remove(&meta.number) {
                Some(f) => f,
                None => LiveFile::new(meta.clone(), dir, Arc::clone(table_cache)),
            };
            files.push(f);
        }
        for f in removed.values() {
            f.mark_obsolete();
        }
        if let Some(l0) = levels.first_mut() {
            l0.sort_by(l0_order);
        }
        for files in levels.iter_mut().skip(1) {
            files.sort_by(|a, b| ikey::compare(&a.meta.smallest, &b.meta.smallest));
        }
        let v = FileSet { levels };
        v.check_invariants()?;
        Ok(v)
    }

    /// Verifies the module invariants; a violation is a bug or a damaged MANIFEST.
    pub fn check_invariants(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for (_, f) in self.files() {
            if !seen.insert(f.meta.number) {
                return Err(Error::InvalidArgument("file listed twice in a file set"));
            }
            if ikey::compare(&f.meta.smallest, &f.meta.largest) == Ordering::Greater {
                return Err(Error::InvalidArgument(
                    "file with smallest key above largest",
                ));
            }
        }
        for files in self.levels.iter().skip(1) {
            for w in files.windows(2) {
                if let [a, b] = w {
                    if ikey::compare(&a.meta.largest, &b.meta.smallest) != Ordering::Less {
                        return Err(Error::InvalidArgument("overlapping files in a level >= 1"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The full content as one edit (the base record of a new MANIFEST).
    pub fn snapshot_edit(&self) -> ManifestEdit {
        ManifestEdit {
            added_files: self.files().map(|(l, f)| (l, f.meta.clone())).collect(),
            ..ManifestEdit::default()
        }
    }
}

//! The engine: open and recover, group-commit writes, reads, snapshots, flush, background work.
//!
//! **Role**: the public face of the crate ([`Db`]). Writers go through the group-commit queue
//! to the WAL and the memtable; readers pin a [`ReadView`] (memtables + file set) and read
//! without locks; one flush thread turns frozen memtables into L0 tables; compaction threads
//! (see `compaction`) merge levels.
//!
//! **Write path** (group commit): a writer enqueues its batch. If no leader is active it
//! becomes the leader; otherwise it waits. The leader takes a group of queued batches (at most
//! [`GROUP_BYTES_MAX`]), makes room (may freeze the memtable or stall), assigns consecutive
//! sequence numbers, appends all batches with one WAL write, syncs once if any writer asked,
//! inserts them into the memtable, publishes the last sequence number (making the group
//! visible to readers), wakes the group, and hands leadership to the next queued writer.
//!
//! **Invariants**:
//! 1. Sequence numbers are assigned in WAL order and published in order: a reader at snapshot
//!    `s` sees every write with seqno `<= s` and none above (`last_seqno` is stored only after
//!    the memtable inserts of its group) — the model test and
//!    `concurrent_writers_share_groups_and_readers_see_acknowledged_writes`.
//! 2. A write with `sync` returns only after the WAL holding it was fsynced (crash test).
//! 3. After a WAL write or sync fails, or a flush/compaction/MANIFEST write fails, the engine
//!    is poisoned: every later write returns [`Error::Poisoned`]; nothing is retried (test
//!    `poisoned_engine_refuses_writes_until_reopened`).
//! 4. A WAL is deleted only after a MANIFEST edit whose `log_number` is above it is durable.
//! 5. Manifest edits are serialised by the MANIFEST lock; the current file set only changes
//!    inside `log_and_apply`.
//!
//! **Concurrency**: lock order is `wal` -> `manifest` -> `state`; `write_queue` and waiter
//! locks are leaves. `state` is held only briefly (no I/O under it).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::batch::{BatchOps, WriteBatch};
use crate::compaction::{self, CompactionState};
use crate::db_iter::DbIterator;
use crate::error::{CorruptionKind, Error, Result};
use crate::file_meta::FileMeta;
use crate::file_set::{FileSet, LiveFile, TableCache};
use crate::filename::{self, FileKind};
use crate::ikey::{self, SeqNo, ValueKind};
use crate::iter::{InternalIterator, LevelIter, MergingIter};
use crate::manifest::{self, ManifestEdit, ManifestWriter};
use crate::memtable::{Lookup, Memtable};
use crate::options::{Options, ReadOptions, WriteOptions};
use crate::range_del::{RangeDelIndex, RangeTombstone};
use crate::sst::{BlockCache, Table, TableBuilder, TableBuilderOptions};
use crate::stats::{Counters, LevelStats, Stats};
use crate::wal::{self, WalWriter};

/// Largest group of batches one leader writes at once (bytes of encoded batches).
pub const GROUP_BYTES_MAX: usize = 4 << 20;

/// How long a stalled writer sleeps per slowdown step.
const SLOWDOWN_STEP: Duration = Duration::from_millis(1);

/// Memtables plus the file set: everything a read needs, swapped as one.
pub(crate) struct ReadView {
    pub mem: Arc<Memtable>,
    /// Frozen memtables, newest first.
    pub imm: Vec<Arc<Memtable>>,
    pub files: Arc<FileSet>,
    /// `compaction::pending_compaction_bytes` of `file set`, computed once per file set.
    pub pending_compaction_bytes: u64,
}

pub(crate) struct State {
    pub sv: Arc<ReadView>,
    /// Frozen memtables waiting for flush, oldest first.
    pub imm: VecDeque<Arc<Memtable>>,
    pub compaction: CompactionState,
    /// A background failure; writes are refused once set.
    pub bg_error: Option<String>,
    pub flush_requested: bool,
}

impl State {
    fn install(&mut self, mem: Arc<Memtable>, file_set: Arc<FileSet>, opts: &Options) {
        let imm = self.imm.iter().rev().cloned().collect();
        let pending_compaction_bytes = compaction::pending_compaction_bytes(&file_set, opts);
        self.sv = Arc::new(ReadView {
            mem,
            imm,
            files: file_set,
            pending_compaction_bytes,
        });
    }
}

struct WalState {
    writer: WalWriter,
    /// Next sequence number to assign (leader-owned).
    next_seqno: SeqNo,
}

enum WaitState {
    Pending,
    Leader,
    Done(Result<(), ()>),
}

struct WriteReq {
    batch: Mutex<Option<WriteBatch>>,
    sync: bool,
    state: Mutex<WaitState>,
    cv: Condvar,
}

#[derive(Default)]
struct WriteQueue {
    pending: VecDeque<Arc<WriteReq>>,
    leader_active: bool,
}

pub(crate) struct DbInner {
    pub dir: PathBuf,
    pub opts: Options,
    _lock: File,
    pub table_cache: Arc<TableCache>,
    pub block_cache: Arc<BlockCache>,
    pub state: Mutex<State>,
    /// Signalled when background work finishes (flush, compaction) or fails.
    pub state_cv: Condvar,
    /// Wakes background threads.
    pub bg_cv: Condvar,
    write_queue: Mutex<WriteQueue>,
    wal: Mutex<WalState>,
    pub manifest: Mutex<ManifestWriter>,
    pub next_file_number: AtomicU64,
    pub last_seqno: AtomicU64,
    snapshots: Mutex<BTreeMap<SeqNo, usize>>,
    poisoned: AtomicBool,
    pub shutting_down: AtomicBool,
    pub counters: Counters,
    pub limiter: compaction::RateLimiter,
}

/// An open database. Cheap to clone; all clones share one engine, which shuts down (background
/// threads stopped, WAL synced) when the last clone is dropped or [`Db::close`] is called.
#[derive(Clone)]
pub struct Db {
    handle: Arc<Handle>,
}

struct Handle {
    inner: Arc<DbInner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(error = %e, "close database");
        }
    }
}

impl Handle {
    fn shutdown(&self) -> Result<()> {
        if self.inner.shutting_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let _st = self.inner.state.lock();
            self.inner.bg_cv.notify_all();
            self.inner.state_cv.notify_all();
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
        if self.inner.is_poisoned() {
            return Ok(());
        }
        let mut wal = self.inner.wal.lock();
        wal.writer.sync()
    }
}

/// A consistent read view: reads with `ReadOptions { snapshot: Some(s.seqno()), .. }` see the
/// database as it was when the snapshot was taken. Compaction keeps the versions it needs
/// until it is dropped.
pub struct Snapshot {
    inner: Arc<DbInner>,
    seqno: SeqNo,
}

impl Snapshot {
    pub fn seqno(&self) -> SeqNo {
        self.seqno
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut snaps = self.inner.snapshots.lock();
        if let Some(n) = snaps.get_mut(&self.seqno) {
            *n -= 1;
            if *n == 0 {
                snaps.remove(&self.seqno);
            }
        }
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("seqno", &self.seqno)
            .finish()
    }
}

impl Db {
    /// Opens (or with `create_if_missing`, creates) the database in `path`, recovering from
    /// the MANIFEST and any WALs a crash left.
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Db> {
        let inner = Arc::new(recover(path.as_ref(), opts)?);
        let mut threads = Vec::new();
        {
            let inner = Arc::clone(&inner);
            threads.push(spawn("cairn-flush", move || flush_loop(&inner))?);
        }
        for i in 0..inner.opts.compaction_threads.max(1) {
            let inner = Arc::clone(&inner);
            threads.push(spawn(&format!("cairn-compact-{i}"), move || {
                compaction::compaction_loop(&inner)
            })?);
        }
        inner.bg_cv.notify_all();
        Ok(Db {
            handle: Arc::new(Handle {
                inner,
                threads: Mutex::new(threads),
            }),
        })
    }

    fn inner(&self) -> &Arc<DbInner> {
        &self.handle.inner
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.inner().dir
    }

    /// Stops background work and syncs the WAL. Other clones of this `Db` become unusable.
    pub fn close(self) -> Result<()> {
        self.handle.shutdown()
    }

    pub fn put(&self, key: &[u8], value: &[u8], wo: &WriteOptions) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b, wo)
    }

    pub fn delete(&self, key: &[u8], wo: &WriteOptions) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b, wo)
    }

    /// Deletes every key in `[start, end)` with one range tombstone.
    pub fn delete_range(&self, start: &[u8], end: &[u8], wo: &WriteOptions) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete_range(start, end);
        self.write(b, wo)
    }

    /// Applies `batch` atomically.
    pub fn write(&self, batch: WriteBatch, wo: &WriteOptions) -> Result<()> {
        self.inner().write(batch, wo)
    }

    /// The value of `key`, as of the snapshot in `ro` (default: latest).
    pub fn get(&self, key: &[u8], ro: &ReadOptions) -> Result<Option<Vec<u8>>> {
        self.inner().get(key, ro)
    }

    /// An iterator over user keys; it starts unpositioned (call a `seek*`).
    pub fn iter(&self, ro: ReadOptions) -> Result<DbIterator> {
        self.inner().iter(ro)
    }

    /// Visits the latest entries with user keys in `[start, end)` source by source, newest
    /// source first: the active memtable, the frozen ones, L0 tables newest first, then each
    /// deeper level. Within a source, keys come in order, each once, as `Some(value)` for a
    /// put or `None` for a deletion (a point tombstone, or a put hidden by a range tombstone);
    /// the same key may come again from an older source, where it is shadowed. `prefix`, as
    /// in `ReadOptions::prefix`, lets tables whose filter rules it out be skipped.
    ///
    /// This is a point read for layers whose keys of one prefix are written in order (MVCC
    /// versions): the first acceptable entry in source order is the newest, and the visitor
    /// stops there, so older sources are never touched. Use [`Db::iter`] for merged scans.
    pub fn visit_newest_first(
        &self,
        start: &[u8],
        end: &[u8],
        prefix: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.inner().visit_newest_first(start, end, prefix, visit)
    }

    /// Pins the current state for consistent reads.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.inner();
        let mut snaps = inner.snapshots.lock();
        let seqno = inner.last_seqno.load(Ordering::Acquire);
        *snaps.entry(seqno).or_insert(0) += 1;
        Snapshot {
            inner: Arc::clone(inner),
            seqno,
        }
    }

    /// Sequence number of the newest visible write.
    pub fn last_seqno(&self) -> SeqNo {
        self.inner().last_seqno.load(Ordering::Acquire)
    }

    /// Writes every memtable to L0 tables and waits until done.
    pub fn flush(&self) -> Result<()> {
        self.inner().flush()
    }

    /// Waits until no flush or compaction is pending or running.
    pub fn wait_for_compactions(&self) -> Result<()> {
        self.inner().wait_idle()
    }

    /// Flushes, then compacts until every level is within its target and L0 is empty (used by
    /// tools and tests to reach a fully compacted state). With a compaction filter, every
    /// entry passes through it: nothing moves down without being rewritten, and the bottom
    /// level's files are rewritten once each.
    pub fn compact_all(&self) -> Result<()> {
        self.flush()?;
        let inner = self.inner();
        {
            let mut st = inner.state.lock();
            st.compaction.force_full = true;
            if inner.opts.compaction_filter.is_some() {
                st.compaction.rewrite_below = Some(inner.next_file_number.load(Ordering::Acquire));
            }
            inner.bg_cv.notify_all();
        }
        let r = inner.wait_idle();
        let mut st = inner.state.lock();
        st.compaction.force_full = false;
        st.compaction.rewrite_below = None;
        r
    }

    /// Engine statistics.
    pub fn stats(&self) -> Stats {
        self.inner().stats()
    }

    /// Adds externally built SSTables (see [`crate::sst::TableBuilder`]) whose entries were
    /// all written with seqno 0. Each file gets a new sequence number, newer than every write
    /// so far; files are hard-linked (or copied) into the database. The caller's files are
    /// left in place.
    pub fn ingest(&self, paths: &[PathBuf]) -> Result<()> {
        self.inner().ingest(paths)
    }

    /// Writes a consistent, openable copy of the database into the new directory `dest`
    /// (hard links for tables where the file system allows, copies otherwise).
    pub fn checkpoint(&self, dest: &Path) -> Result<()> {
        self.inner().checkpoint(dest)
    }
}

/// The files of level `level` whose user-key ranges meet `[lo, hi)` (a bound `None`: open),
/// in the level's order. L0 files overlap one another and are each tested; a deeper level is
/// sorted by key and disjoint, so its candidates are one run, found by binary search (a point
/// read must not test every file of a level of hundreds).
fn candidate_files<'a>(
    level: usize,
    files: &'a [Arc<LiveFile>],
    lo: Option<&'a [u8]>,
    hi: Option<&'a [u8]>,
) -> impl Iterator<Item = &'a Arc<LiveFile>> + 'a {
    let first = match lo {
        Some(lo) if level > 0 => files.partition_point(|f| f.largest_user_key() < lo),
        _ => 0,
    };
    let sorted = level > 0;
    files
        .iter()
        .skip(first)
        .take_while(move |f| !sorted || hi.is_none_or(|hi| f.smallest_user_key() < hi))
        .filter(move |f| {
            lo.is_none_or(|lo| f.largest_user_key() >= lo)
                && hi.is_none_or(|hi| f.smallest_user_key() < hi)
        })
}

/// The callback of [`Db::visit_newest_first`]: a user key and its value (`None`: deleted).
pub type Visitor<'a> = dyn FnMut(&[u8], Option<&[u8]>) -> Visit + 'a;

/// What a [`Db::visit_newest_first`] visitor wants after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    Continue,
    Stop,
}

/// Feeds one source's entries in `[seek's user key, end)` to `visit`: the newest entry of
/// each user key visible at `snapshot`, a deletion as `None`.
fn visit_source(
    it: &mut dyn InternalIterator,
    seek: &[u8],
    end: &[u8],
    snapshot: SeqNo,
    tombs: &[RangeTombstone],
    visit: &mut Visitor<'_>,
) -> Result<Visit> {
    it.seek(seek)?;
    let mut prev: Vec<u8> = Vec::new();
    let mut have_prev = false;
    while it.valid() {
        let Some(p) = ikey::ParsedKey::parse(it.key()) else {
            return Err(Error::InvalidArgument(
                "engine iterator returned a malformed key",
            ));
        };
        if p.user_key >= end {
            break;
        }
        let shadowed_in_source = have_prev && prev.as_slice() == p.user_key;
        if p.seqno > snapshot || shadowed_in_source || p.kind == ValueKind::RangeDelete {
            it.next()?;
            continue;
        }
        prev.clear();
        prev.extend_from_slice(p.user_key);
        have_prev = true;
        let hidden = tombs
            .iter()
            .any(|t| t.seqno > p.seqno && t.covers(p.user_key, snapshot));
        let value = if p.kind == ValueKind::Put && !hidden {
            Some(it.value())
        } else {
            None
        };
        if visit(p.user_key, value) == Visit::Stop {
            return Ok(Visit::Stop);
        }
        it.next()?;
    }
    Ok(Visit::Continue)
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| Error::io("spawn background thread", PathBuf::from(name), e))
}

// ---------------------------------------------------------------------------------------------
// Open and recovery

fn recover(dir: &Path, opts: Options) -> Result<DbInner> {
    opts.validate().map_err(Error::InvalidArgument)?;
    if !dir.exists() {
        if !opts.create_if_missing {
            return Err(Error::io(
                "open database",
                dir,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create database directory", dir, e))?;
        if let Some(parent) = dir.parent() {
            if !parent.as_os_str().is_empty() {
                let _ = filename::sync_dir(parent);
            }
        }
    }
    let lock_path = filename::lock_path(dir);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io("open lock file", &lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked { path: dir.into() }),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::io("lock database directory", &lock_path, e))
        }
    }

    let block_cache = BlockCache::new(opts.block_cache_bytes);
    let table_cache = Arc::new(TableCache::new(
        dir,
        opts.table_cache_files_max,
        Arc::clone(&block_cache),
    ));

    // Read the directory.
    let mut wal_numbers = Vec::new();
    let mut table_numbers = HashSet::new();
    let mut manifests = Vec::new();
    let mut temps = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("list database directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list database directory", dir, e))?;
        let name = entry.file_name();
        match name.to_str().and_then(filename::parse) {
            Some(FileKind::Wal(n)) => wal_numbers.push(n),
            Some(FileKind::Table(n)) => {
                table_numbers.insert(n);
            }
            Some(FileKind::Manifest(n)) => manifests.push(n),
            Some(FileKind::Temp) => temps.push(entry.path()),
            _ => {}
        }
    }
    wal_numbers.sort_unstable();

    // Replay the MANIFEST.
    let mut file_set = FileSet::empty(opts.levels);
    let mut log_number = 0u64;
    let mut next_file_number = 2u64;
    let mut last_seqno: SeqNo = 0;
    let current = manifest::read_current(dir)?;
    match current {
        Some(n) => {
            let path = filename::manifest_path(dir, n);
            let mut edits = Vec::new();
            manifest::replay_manifest(&path, |e| {
                edits.push(e);
                Ok(())
            })?;
            // The first record (the base snapshot) was synced before CURRENT named the file,
            // so it cannot be a torn write: without it the MANIFEST is damaged, and opening
            // an empty database (and deleting its tables as orphans) would lose everything.
            if edits.is_empty() {
                return Err(Error::corruption(
                    &path,
                    0,
                    CorruptionKind::Invalid("MANIFEST has no intact base record"),
                ));
            }
            for e in &edits {
                if let Some(l) = e.log_number {
                    log_number = log_number.max(l);
                }
                if let Some(n) = e.next_file_number {
                    next_file_number = next_file_number.max(n);
                }
                if let Some(s) = e.last_seqno {
                    last_seqno = last_seqno.max(s);
                }
                file_set = file_set.apply(e, dir, &table_cache).map_err(|err| {
                    Error::corruption(
                        &path,
                        0,
                        CorruptionKind::Invalid(match err {
                            Error::InvalidArgument(m) => m,
                            _ => "invalid manifest edit",
                        }),
                    )
                })?;
            }
            next_file_number = next_file_number.max(n + 1);
        }
        None => {
            if !wal_numbers.is_empty() || !table_numbers.is_empty() {
                return Err(Error::corruption(
                    filename::current_path(dir),
                    0,
                    CorruptionKind::Invalid(
                        "CURRENT is missing but the directory holds data files",
                    ),
                ));
            }
        }
    }
    // Every live table must exist with its recorded size.
    for (_, f) in file_set.files() {
        let path = filename::table_path(dir, f.meta.number);
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::io("stat live sstable", &path, e))?
            .len();
        if size != f.meta.size_bytes {
            return Err(Error::corruption(
                &path,
                size,
                CorruptionKind::Truncated { size },
            ));
        }
        next_file_number = next_file_number.max(f.meta.number + 1);
    }
    if let Some(max) = wal_numbers
        .iter()
        .chain(table_numbers.iter())
        .chain(manifests.iter())
        .max()
    {
        next_file_number = next_file_number.max(max + 1);
    }

    // Replay WALs newer than the last flush into memtables, flushing each to L0.
    let mut edit = ManifestEdit::default();
    let mut counters_flush_bytes = 0u64;
    for &n in wal_numbers.iter().filter(|n| **n >= log_number) {
        let path = filename::wal_path(dir, n);
        let mem = Arc::new(Memtable::new(n));
        // A torn tail is logged by the WAL reader; those writes were never acknowledged.
        wal::replay_wal(&path, |offset, payload| {
            let ops = BatchOps::new(payload)
                .and_then(BatchOps::collect_all)
                .map_err(|e| {
                    Error::decode(&path, offset + cairn_codec::frame::HEADER_BYTES as u64, e)
                })?;
            for op in ops {
                mem.insert(op.seqno, op.kind, op.key, op.value);
                last_seqno = last_seqno.max(op.seqno);
            }
            Ok(())
        })?;
        if !mem.is_empty() {
            let number = next_file_number;
            next_file_number += 1;
            if let Some(meta) = build_table_from_memtable(dir, &opts, &mem, number)? {
                counters_flush_bytes += meta.size_bytes;
                edit.added_files.push((0, meta));
            }
        }
    }
    file_set = file_set.apply(&edit, dir, &table_cache)?;

    // Start a new WAL and a new MANIFEST holding the whole state.
    let wal_number = next_file_number;
    let manifest_number = next_file_number + 1;
    next_file_number += 2;
    let writer = WalWriter::create(dir, wal_number)?;
    let mut base = file_set.snapshot_edit();
    base.log_number = Some(wal_number);
    base.next_file_number = Some(next_file_number);
    base.last_seqno = Some(last_seqno);
    let manifest_writer = ManifestWriter::create(dir, manifest_number, &base)?;

    // Delete what the new state no longer needs: old WALs and manifests, orphan tables, temps.
    let live: HashSet<u64> = file_set.files().map(|(_, f)| f.meta.number).collect();
    for n in wal_numbers {
        remove_quietly(&filename::wal_path(dir, n));
    }
    for n in manifests.into_iter().filter(|n| *n != manifest_number) {
        remove_quietly(&filename::manifest_path(dir, n));
    }
    for n in table_numbers.into_iter().filter(|n| !live.contains(n)) {
        remove_quietly(&filename::table_path(dir, n));
    }
    for t in temps {
        remove_quietly(&t);
    }

    let mem = Arc::new(Memtable::new(wal_number));
    let file_set = Arc::new(file_set);
    let pending_compaction_bytes = compaction::pending_compaction_bytes(&file_set, &opts);
    let sv = Arc::new(ReadView {
        mem,
        imm: Vec::new(),
        files: file_set,
        pending_compaction_bytes,
    });
    let counters = Counters::default();
    counters
        .flush_bytes_written
        .fetch_add(counters_flush_bytes, Ordering::Relaxed);
    Ok(DbInner {
        dir: dir.to_path_buf(),
        opts: opts.clone(),
        _lock: lock,
        table_cache,
        block_cache,
        state: Mutex::new(State {
            sv,
            imm: VecDeque::new(),
            compaction: CompactionState::new(opts.levels),
            bg_error: None,
            flush_requested: false,
        }),
        state_cv: Condvar::new(),
        bg_cv: Condvar::new(),
        write_queue: Mutex::new(WriteQueue::default()),
        wal: Mutex::new(WalState {
            writer,
            next_seqno: last_seqno + 1,
        }),
        manifest: Mutex::new(manifest_writer),
        next_file_number: AtomicU64::new(next_file_number),
        last_seqno: AtomicU64::new(last_seqno),
        snapshots: Mutex::new(BTreeMap::new()),
        poisoned: AtomicBool::new(false),
        shutting_down: AtomicBool::new(false),
        counters,
        limiter: compaction::RateLimiter::new(opts.compaction_bytes_per_sec),
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "delete obsolete file");
        }
    }
}

/// Writes a memtable's content to a new table; `None` when it holds nothing.
fn build_table_from_memtable(
    dir: &Path,
    opts: &Options,
    mem: &Arc<Memtable>,
    number: u64,
) -> Result<Option<FileMeta>> {
    let tombstones = mem.all_range_tombstones();
    if mem.is_empty() {
        return Ok(None);
    }
    let path = filename::table_path(dir, number);
    let mut builder = TableBuilder::create(&path, TableBuilderOptions::from_options(opts))?;
    let filled = (|| {
        let mut it = mem.iter();
        it.seek_to_first()?;
        while it.valid() {
            builder.add(it.key(), it.value())?;
            it.next()?;
        }
        for t in &tombstones {
            builder.add_range_tombstone(&t.start, &t.end, t.seqno)?;
        }
        Ok(())
    })();
    if let Err(e) = filled {
        builder.abandon();
        return Err(e);
    }
    match builder.finish() {
        Ok(built) => Ok(Some(meta_from_built(number, &built, 0))),
        Err(e) => {
            remove_quietly(&path);
            Err(e)
        }
    }
}

/// File metadata for a table just built.
pub(crate) fn meta_from_built(
    number: u64,
    built: &crate::sst::BuiltTable,
    global_seqno: SeqNo,
) -> FileMeta {
    let p = &built.properties;
    FileMeta {
        number,
        size_bytes: built.size_bytes,
        smallest: p.smallest.clone(),
        largest: p.largest.clone(),
        seqno_smallest: p.seqno_smallest,
        seqno_largest: p.seqno_largest,
        entry_count: p.entry_count,
        tombstone_count: p.deletion_count + p.range_deletion_count,
        global_seqno,
    }
}

// ---------------------------------------------------------------------------------------------
// Writes

impl DbInner {
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    pub(crate) fn poison(&self, why: &str) {
        if !self.poisoned.swap(true, Ordering::AcqRel) {
            tracing::error!(
                reason = why,
                "storage engine poisoned; writes refused until reopen"
            );
        }
        let mut st = self.state.lock();
        if st.bg_error.is_none() {
            st.bg_error = Some(why.to_string());
        }
        self.state_cv.notify_all();
    }

    fn write(&self, batch: WriteBatch, wo: &WriteOptions) -> Result<()> {
        if self.is_poisoned() {
            return Err(Error::Poisoned);
        }
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if batch.is_empty() {
            return Ok(());
        }
        batch.check_limits().map_err(Error::InvalidArgument)?;
        let req = Arc::new(WriteReq {
            batch: Mutex::new(Some(batch)),
            sync: wo.sync,
            state: Mutex::new(WaitState::Pending),
            cv: Condvar::new(),
        });
        let lead = {
            let mut q = self.write_queue.lock();
            q.pending.push_back(Arc::clone(&req));
            if q.leader_active {
                false
            } else {
                q.leader_active = true;
                true
            }
        };
        if !lead {
            let mut s = req.state.lock();
            loop {
                match &*s {
                    WaitState::Pending => req.cv.wait(&mut s),
                    WaitState::Leader => break,
                    WaitState::Done(r) => {
                        return r.map_err(|()| Error::Poisoned);
                    }
                }
            }
        }
        self.lead_group(&req)
    }

    /// Runs one group as leader, then hands leadership on.
    fn lead_group(&self, me: &Arc<WriteReq>) -> Result<()> {
        let group: Vec<Arc<WriteReq>> = {
            let mut q = self.write_queue.lock();
            let mut group = Vec::new();
            let mut bytes = 0usize;
            while let Some(front) = q.pending.front() {
                let len = front
                    .batch
                    .lock()
                    .as_ref()
                    .map_or(0, WriteBatch::encoded_len);
                if !group.is_empty() && bytes + len > GROUP_BYTES_MAX {
                    break;
                }
                bytes += len;
                if let Some(r) = q.pending.pop_front() {
                    group.push(r);
                }
            }
            group
        };
        debug_assert!(
            group.first().is_some_and(|r| Arc::ptr_eq(r, me)),
            "leader heads its group"
        );
        let result = self.write_group(&group);
        let ok = result.is_ok();
        for r in &group {
            if !Arc::ptr_eq(r, me) {
                *r.state.lock() = WaitState::Done(if ok { Ok(()) } else { Err(()) });
                r.cv.notify_one();
            }
        }
        let mut q = self.write_queue.lock();
        match q.pending.front() {
            Some(next) => {
                *next.state.lock() = WaitState::Leader;
                next.cv.notify_one();
            }
            None => q.leader_active = false,
        }
        result
    }

    fn write_group(&self, group: &[Arc<WriteReq>]) -> Result<()> {
        let mut wal = self.wal.lock();
        self.make_room_for_write(&mut wal)?;
        let mut batches: Vec<WriteBatch> =
            group.iter().filter_map(|r| r.batch.lock().take()).collect();
        let sync = group.iter().any(|r| r.sync);
        let first_seqno = wal.next_seqno;
        let mut seqno = first_seqno;
        for b in &mut batches {
            b.seal(seqno);
            seqno += u64::from(b.count());
        }
        let last = seqno - 1;
        if last > ikey::SEQNO_MAX {
            return Err(Error::InvalidArgument("sequence numbers exhausted"));
        }
        let payloads: Vec<&[u8]> = batches.iter().map(WriteBatch::encoded).collect();
        if let Err(e) = wal.writer.append(&payloads) {
            self.poison("wal append failed");
            return Err(e);
        }
        let wal_bytes: usize = payloads
            .iter()
            .map(|p| cairn_codec::frame::framed_len(p.len()))
            .sum();
        if sync {
            if let Err(e) = wal.writer.sync() {
                self.poison("wal sync failed");
                return Err(e);
            }
            self.counters.wal_syncs.fetch_add(1, Ordering::Relaxed);
        }
        let mem = Arc::clone(&self.state.lock().sv.mem);
        let mut user_bytes = 0u64;
        for (b, payload) in batches.iter().zip(payloads.iter()) {
            user_bytes += b.user_bytes();
            // The batch was encoded by this process; a decode failure is our bug.
            let mut ops =
                BatchOps::new(payload).map_err(|e| Error::decode(wal.writer.path(), 0, e))?;
            while let Some(op) = ops.next_op() {
                let op = op.map_err(|e| Error::decode(wal.writer.path(), 0, e))?;
                mem.insert(op.seqno, op.kind, op.key, op.value);
            }
        }
        wal.next_seqno = seqno;
        self.last_seqno.store(last, Ordering::Release);
        self.counters
            .wal_bytes_written
            .fetch_add(wal_bytes as u64, Ordering::Relaxed);
        self.counters
            .user_bytes_written
            .fetch_add(user_bytes, Ordering::Relaxed);
        self.counters.write_groups.fetch_add(1, Ordering::Relaxed);
        self.counters
            .writes
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Freezes a full memtable (starting a new WAL) and applies write stalls. Called with the
    /// WAL lock held, so no other writer runs meanwhile.
    fn make_room_for_write(&self, wal: &mut WalState) -> Result<()> {
        let mut slowed = false;
        let mut stall_start: Option<Instant> = None;
        let result = loop {
            let mut st = self.state.lock();
            if let Some(e) = &st.bg_error {
                tracing::debug!(error = %e, "write refused after background error");
                break Err(Error::Poisoned);
            }
            if self.shutting_down.load(Ordering::Acquire) {
                break Err(Error::Closed);
            }
            let l0 = st.sv.files.levels.first().map_or(0, Vec::len);
            let pending = st.sv.pending_compaction_bytes;
            if l0 >= self.opts.l0_stop_trigger || pending >= self.opts.pending_compaction_stop_bytes
            {
                stall_start.get_or_insert_with(Instant::now);
                self.bg_cv.notify_all();
                self.state_cv.wait_for(&mut st, Duration::from_millis(100));
                continue;
            }
            if !slowed
                && (l0 >= self.opts.l0_slowdown_trigger
                    || pending >= self.opts.pending_compaction_slowdown_bytes)
            {
                slowed = true;
                drop(st);
                let t = Instant::now();
                std::thread::sleep(SLOWDOWN_STEP);
                self.counters
                    .stall_micros
                    .fetch_add(micros(t.elapsed()), Ordering::Relaxed);
                continue;
            }
            if st.sv.mem.approx_bytes() < self.opts.memtable_bytes && !st.flush_requested {
                break Ok(());
            }
            if st.flush_requested && st.sv.mem.is_empty() {
                st.flush_requested = false;
                break Ok(());
            }
            if st.imm.len() >= self.opts.immutable_memtables_max {
                stall_start.get_or_insert_with(Instant::now);
                self.state_cv.wait_for(&mut st, Duration::from_millis(100));
                continue;
            }
            drop(st);
            // Freeze: new WAL first (I/O outside the state lock), then swap memtables.
            let number = self.next_file_number.fetch_add(1, Ordering::AcqRel);
            let new_writer = match WalWriter::create(&self.dir, number) {
                Ok(w) => w,
                Err(e) => {
                    self.poison("create wal failed");
                    break Err(e);
                }
            };
            let mut old = std::mem::replace(&mut wal.writer, new_writer);
            // The frozen memtable's WAL is synced so that a later sync of the new WAL covers
            // every earlier write, as callers of sync writes expect.
            if let Err(e) = old.sync() {
                self.poison("wal sync failed");
                break Err(e);
            }
            let mut st = self.state.lock();
            let frozen = Arc::clone(&st.sv.mem);
            st.imm.push_back(frozen);
            st.flush_requested = false;
            let file_set = Arc::clone(&st.sv.files);
            st.install(Arc::new(Memtable::new(number)), file_set, &self.opts);
            self.bg_cv.notify_all();
        };
        if let Some(t) = stall_start {
            self.counters
                .stall_micros
                .fetch_add(micros(t.elapsed()), Ordering::Relaxed);
        }
        result
    }

    // -----------------------------------------------------------------------------------------
    // Reads

    fn read_view(&self) -> Arc<ReadView> {
        Arc::clone(&self.state.lock().sv)
    }

    fn get(&self, key: &[u8], ro: &ReadOptions) -> Result<Option<Vec<u8>>> {
        let snapshot = ro
            .snapshot
            .unwrap_or_else(|| self.last_seqno.load(Ordering::Acquire));
        let sv = self.read_view();
        let mut max_tomb: SeqNo = 0;
        let resolve = |seqno: SeqNo, kind: ValueKind, value: Vec<u8>, max_tomb: SeqNo| {
            if kind == ValueKind::Put && seqno >= max_tomb {
                Some(value)
            } else {
                None
            }
        };
        for mem in std::iter::once(&sv.mem).chain(sv.imm.iter()) {
            max_tomb = max_tomb.max(mem.max_covering_tombstone(key, snapshot));
            if let Lookup::Found { seqno, kind, value } = mem.get(key, snapshot) {
                return Ok(resolve(seqno, kind, value, max_tomb));
            }
        }
        let file_set = &sv.files;
        let target = ikey::seek_key(key, snapshot);
        let l0 = file_set.levels.first().map(Vec::as_slice).unwrap_or(&[]);
        let deeper = (1..file_set.levels.len()).filter_map(|l| file_set.file_for_key(l, &target));
        let candidates = l0
            .iter()
            .filter(|f| f.smallest_user_key() <= key && key <= f.largest_user_key())
            .chain(deeper);
        for f in candidates {
            let table = f.table()?;
            for t in table.range_tombstones() {
                if t.covers(key, snapshot) {
                    max_tomb = max_tomb.max(t.seqno);
                }
            }
            if let Some((seqno, kind, value)) = table.get(key, snapshot)? {
                return Ok(resolve(seqno, kind, value, max_tomb));
            }
        }
        Ok(None)
    }

    fn visit_newest_first(
        &self,
        start: &[u8],
        end: &[u8],
        prefix: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let snapshot = self.last_seqno.load(Ordering::Acquire);
        let sv = self.read_view();
        let seek = ikey::seek_key(start, snapshot);
        let upper: Arc<[u8]> = Arc::from(end);
        let overlaps = |t: &RangeTombstone| t.start.as_slice() < end && start < t.end.as_slice();
        // Range tombstones of the sources visited so far (newer ones hide older entries).
        let mut tombs: Vec<RangeTombstone> = Vec::new();
        for mem in std::iter::once(&sv.mem).chain(sv.imm.iter()) {
            tombs.extend(mem.range_tombstones(snapshot).into_iter().filter(overlaps));
            let mut it = mem.iter_bounded(Some(Arc::clone(&upper)));
            if visit_source(&mut it, &seek, end, snapshot, &tombs, visit)? == Visit::Stop {
                return Ok(());
            }
        }
        let strip = self.opts.bloom_strip_suffix_bytes;
        for (level, files) in sv.files.levels.iter().enumerate() {
            // L0 is kept newest first.
            for f in candidate_files(level, files, Some(start), Some(end)) {
                let table = f.table()?;
                if f.meta.tombstone_count > 0 {
                    tombs.extend(
                        table
                            .range_tombstones()
                            .iter()
                            .filter(|t| t.seqno <= snapshot && overlaps(t))
                            .cloned(),
                    );
                }
                if let Some(p) = prefix {
                    if strip > 0 && !table.may_contain_prefix(p, strip) {
                        self.counters
                            .prefix_filter_skips
                            .fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
                let mut it = table.iter();
                if visit_source(&mut it, &seek, end, snapshot, &tombs, visit)? == Visit::Stop {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn iter(&self, ro: ReadOptions) -> Result<DbIterator> {
        let snapshot = ro
            .snapshot
            .unwrap_or_else(|| self.last_seqno.load(Ordering::Acquire));
        let sv = self.read_view();
        let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
        let mut tombstones: Vec<RangeTombstone> = Vec::new();
        let upper: Option<Arc<[u8]>> = ro.upper_bound.as_deref().map(Arc::from);
        for mem in std::iter::once(&sv.mem).chain(sv.imm.iter()) {
            tombstones.extend(mem.range_tombstones(snapshot));
            children.push(Box::new(mem.iter_bounded(upper.clone())));
        }
        for (level, files) in sv.files.levels.iter().enumerate() {
            let relevant: Vec<Arc<LiveFile>> = candidate_files(
                level,
                files,
                ro.lower_bound.as_deref(),
                ro.upper_bound.as_deref(),
            )
            .cloned()
            .collect();
            for f in &relevant {
                if f.meta.tombstone_count > 0 {
                    let table = f.table()?;
                    tombstones.extend(
                        table
                            .range_tombstones()
                            .iter()
                            .filter(|t| t.seqno <= snapshot)
                            .cloned(),
                    );
                }
            }
            // Tables whose filter rules out the caller's prefix hold none of its keys; their
            // range tombstones (collected above) still apply. L0 tables opened for the check
            // are kept for their iterators.
            let mut opened: Vec<Arc<Table>> = Vec::new();
            let relevant = match &ro.prefix {
                Some(p) if self.opts.bloom_strip_suffix_bytes > 0 => {
                    let mut kept = Vec::with_capacity(relevant.len());
                    for f in relevant {
                        let table = f.table()?;
                        if table.may_contain_prefix(p, self.opts.bloom_strip_suffix_bytes) {
                            kept.push(f);
                            if level == 0 {
                                opened.push(table);
                            }
                        } else {
                            self.counters
                                .prefix_filter_skips
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    kept
                }
                _ => relevant,
            };
            if level == 0 {
                if opened.len() != relevant.len() {
                    opened = relevant.iter().map(|f| f.table()).collect::<Result<_>>()?;
                }
                for table in opened {
                    children.push(Box::new(table.iter()));
                }
            } else if !relevant.is_empty() {
                children.push(Box::new(LevelIter::new(relevant)));
            }
        }
        Ok(DbIterator::new(
            MergingIter::new(children),
            RangeDelIndex::new(tombstones),
            snapshot,
            ro.lower_bound,
            ro.upper_bound,
            Box::new(sv),
        ))
    }

    /// Live snapshot seqnos, ascending.
    pub(crate) fn snapshot_list(&self) -> Vec<SeqNo> {
        self.snapshots.lock().keys().copied().collect()
    }

    // -----------------------------------------------------------------------------------------
    // Flush and file set changes

    fn flush(&self) -> Result<()> {
        {
            // Taking the WAL lock waits out the current write group; freezing here is safe.
            let mut wal = self.wal.lock();
            let nonempty = !self.state.lock().sv.mem.is_empty();
            if nonempty {
                self.state.lock().flush_requested = true;
                self.make_room_for_write(&mut wal)?;
            }
        }
        let mut st = self.state.lock();
        loop {
            if let Some(e) = &st.bg_error {
                tracing::debug!(error = %e, "flush after background error");
                return Err(Error::Poisoned);
            }
            if st.imm.is_empty() {
                return Ok(());
            }
            self.bg_cv.notify_all();
            self.state_cv.wait_for(&mut st, Duration::from_millis(100));
        }
    }

    fn wait_idle(&self) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            if let Some(e) = &st.bg_error {
                tracing::debug!(error = %e, "wait after background error");
                return Err(Error::Poisoned);
            }
            if self.shutting_down.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            let idle = st.imm.is_empty()
                && st.compaction.running == 0
                && compaction::pick(&st, &self.opts).is_none();
            if idle {
                return Ok(());
            }
            self.bg_cv.notify_all();
            self.state_cv.wait_for(&mut st, Duration::from_millis(50));
        }
    }

    /// Logs `edit` to the MANIFEST (durably) and installs the resulting file set.
    pub(crate) fn log_and_apply(&self, mut edit: ManifestEdit) -> Result<()> {
        let mut manifest = self.manifest.lock();
        edit.next_file_number = Some(self.next_file_number.load(Ordering::Acquire));
        edit.last_seqno = Some(self.last_seqno.load(Ordering::Acquire));
        let current = Arc::clone(&self.state.lock().sv.files);
        let new_file_set = current.apply(&edit, &self.dir, &self.table_cache)?;
        if let Err(e) = manifest.append(&edit) {
            self.poison("manifest append failed");
            return Err(e);
        }
        let mut st = self.state.lock();
        let mem = Arc::clone(&st.sv.mem);
        st.install(mem, Arc::new(new_file_set), &self.opts);
        self.state_cv.notify_all();
        self.bg_cv.notify_all();
        Ok(())
    }

    fn flush_one(&self, mem: &Arc<Memtable>) -> Result<()> {
        let number = self.next_file_number.fetch_add(1, Ordering::AcqRel);
        let meta = build_table_from_memtable(&self.dir, &self.opts, mem, number)?;
        let mut edit = ManifestEdit::default();
        if let Some(meta) = meta {
            self.counters
                .flush_bytes_written
                .fetch_add(meta.size_bytes, Ordering::Relaxed);
            edit.added_files.push((0, meta));
        }
        // Every WAL older than the next memtable's is now covered by tables.
        let log_number = {
            let st = self.state.lock();
            st.imm
                .get(1)
                .map_or(st.sv.mem.wal_number(), |m| m.wal_number())
        };
        edit.log_number = Some(log_number);
        self.log_and_apply(edit)?;
        {
            let mut st = self.state.lock();
            st.imm.pop_front();
            let (mem, file_set) = (Arc::clone(&st.sv.mem), Arc::clone(&st.sv.files));
            st.install(mem, file_set, &self.opts);
            self.state_cv.notify_all();
            self.bg_cv.notify_all();
        }
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        remove_quietly(&filename::wal_path(&self.dir, mem.wal_number()));
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Ingestion and checkpoints

    fn ingest(&self, paths: &[PathBuf]) -> Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        // Validate before taking any lock.
        let mut tables = Vec::new();
        for p in paths {
            let t = crate::sst::Table::open(p.clone(), 0, 0, None)?;
            if t.properties().seqno_largest != 0 {
                return Err(Error::InvalidArgument(
                    "ingested tables must be written with sequence number 0",
                ));
            }
            if t.properties().entry_count == 0 && t.properties().range_deletion_count == 0 {
                return Err(Error::InvalidArgument("ingested table is empty"));
            }
            tables.push(t);
        }
        // Hold the WAL lock: no write runs while files enter, so the seqnos stay ordered.
        let mut wal = self.wal.lock();
        // Memtables overlapping the files must reach disk first so the files sort above them.
        if !self.state.lock().sv.mem.is_empty() {
            self.state.lock().flush_requested = true;
            self.make_room_for_write(&mut wal)?;
        }
        {
            let mut st = self.state.lock();
            while !st.imm.is_empty() {
                if st.bg_error.is_some() {
                    return Err(Error::Poisoned);
                }
                self.bg_cv.notify_all();
                self.state_cv.wait_for(&mut st, Duration::from_millis(50));
            }
        }
        let mut edit = ManifestEdit::default();
        let mut seqno = wal.next_seqno;
        for (p, t) in paths.iter().zip(tables.iter()) {
            let number = self.next_file_number.fetch_add(1, Ordering::AcqRel);
            let dest = filename::table_path(&self.dir, number);
            link_or_copy(p, &dest)?;
            let props = t.properties();
            let meta = FileMeta {
                number,
                size_bytes: t.size_bytes(),
                smallest: with_seqno(&props.smallest, seqno),
                largest: with_seqno(&props.largest, seqno),
                seqno_smallest: seqno,
                seqno_largest: seqno,
                entry_count: props.entry_count,
                tombstone_count: props.deletion_count + props.range_deletion_count,
                global_seqno: seqno,
            };
            edit.added_files.push((0, meta));
            seqno += 1;
        }
        filename::sync_dir(&self.dir)?;
        wal.next_seqno = seqno;
        self.last_seqno.store(seqno - 1, Ordering::Release);
        self.log_and_apply(edit)?;
        Ok(())
    }

    fn checkpoint(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(Error::InvalidArgument(
                "checkpoint directory already exists",
            ));
        }
        self.flush()?;
        // Holding the MANIFEST lock keeps the file set fixed while files are linked.
        let _manifest = self.manifest.lock();
        let file_set = Arc::clone(&self.state.lock().sv.files);
        std::fs::create_dir_all(dest)
            .map_err(|e| Error::io("create checkpoint directory", dest, e))?;
        let mut max_number = 0;
        for (_, f) in file_set.files() {
            let src = filename::table_path(&self.dir, f.meta.number);
            link_or_copy(&src, &filename::table_path(dest, f.meta.number))?;
            max_number = max_number.max(f.meta.number);
        }
        let next = self
            .next_file_number
            .load(Ordering::Acquire)
            .max(max_number + 1);
        let mut base = file_set.snapshot_edit();
        base.log_number = Some(next);
        base.next_file_number = Some(next + 1);
        base.last_seqno = Some(self.last_seqno.load(Ordering::Acquire));
        ManifestWriter::create(dest, next, &base)?;
        filename::sync_dir(dest)?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Statistics

    fn stats(&self) -> Stats {
        let sv = self.read_view();
        let imm_count = self.state.lock().imm.len();
        let levels: Vec<LevelStats> = sv
            .files
            .levels
            .iter()
            .map(|fs| LevelStats {
                file_count: fs.len() as u64,
                size_bytes: fs.iter().map(|f| f.meta.size_bytes).sum(),
            })
            .collect();
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            user_bytes_written: get(&c.user_bytes_written),
            writes: get(&c.writes),
            write_groups: get(&c.write_groups),
            wal_bytes_written: get(&c.wal_bytes_written),
            wal_syncs: get(&c.wal_syncs),
            flushes: get(&c.flushes),
            flush_bytes_written: get(&c.flush_bytes_written),
            compactions: get(&c.compactions),
            trivial_moves: get(&c.trivial_moves),
            compaction_bytes_read: get(&c.compaction_bytes_read),
            compaction_bytes_written: get(&c.compaction_bytes_written),
            stall_micros: get(&c.stall_micros),
            prefix_filter_skips: get(&c.prefix_filter_skips),
            block_cache_hits: self.block_cache.hits(),
            block_cache_misses: self.block_cache.misses(),
            block_cache_used_bytes: self.block_cache.used_bytes(),
            memtable_bytes: sv.mem.approx_bytes() as u64
                + sv.imm.iter().map(|m| m.approx_bytes() as u64).sum::<u64>(),
            immutable_memtables: imm_count as u64,
            live_sst_bytes: levels.iter().map(|l| l.size_bytes).sum(),
            levels,
            last_seqno: self.last_seqno.load(Ordering::Acquire),
        }
    }
}

/// `ikey` with its seqno replaced (for ingested files' bounds).
fn with_seqno(ik: &[u8], seqno: SeqNo) -> Vec<u8> {
    let user = ikey::user_key(ik);
    let kind = ikey::kind_of(ik);
    let s = if ikey::seqno_of(ik) == ikey::SEQNO_MAX {
        ikey::SEQNO_MAX
    } else {
        seqno
    };
    let mut out = Vec::with_capacity(ik.len());
    ikey::encode_into(&mut out, user, s, kind);
    out
}

fn link_or_copy(src: &Path, dest: &Path) -> Result<()> {
    if std::fs::hard_link(src, dest).is_ok() {
        return Ok(());
    }
    std::fs::copy(src, dest).map_err(|e| Error::io("copy sstable", dest, e))?;
    let f = File::open(dest).map_err(|e| Error::io("open copied sstable", dest, e))?;
    f.sync_all()
        .map_err(|e| Error::io("sync copied sstable", dest, e))
}

fn flush_loop(inner: &Arc<DbInner>) {
    loop {
        let mem = {
            let mut st = inner.state.lock();
            loop {
                if inner.shutting_down.load(Ordering::Acquire) || st.bg_error.is_some() {
                    return;
                }
                if let Some(m) = st.imm.front() {
                    break Arc::clone(m);
                }
                inner.bg_cv.wait(&mut st);
            }
        };
        if let Err(e) = inner.flush_one(&mem) {
            tracing::error!(error = %e, "flush failed");
            inner.poison("flush failed");
            return;
        }
    }
}

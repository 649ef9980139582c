//! Reading one SSTable: open (footer, index, filter, properties, range tombstones), point
//! reads, iteration, verification.
//!
//! Role: the engine's table cache opens a [`Table`] per live file and shares it (`Arc`)
//! between readers, iterators and compactions. A table reads data blocks through the shared
//! [`BlockCache`] when it has one.
//!
//! A point read ([`Table::get`]) is: bloom check (no I/O when it says absent), binary search
//! of the in-memory index, one data block fetch (a cache hit is an `Arc` clone), binary search
//! over the block's restart points, a short linear scan.
//!
//! Invariants:
//! 1. Every byte read from the file is checksummed before it is decoded; damage is
//!    `Error::Corruption` naming the path and the file offset of the damaged block or footer
//!    field, never a panic and never wrong data (tests `sst::tests::*corruption*`, fuzz
//!    target `sst_footer_index`).
//! 2. Index keys are strictly increasing and every data block handle lies inside the data
//!    region — checked in `Table::open`; [`Table::verify`] also checks every data block's keys
//!    against the index.
//! 3. With `global_seqno != 0` the file must have been written with seqno 0 everywhere
//!    (`seqno_largest == 0`, checked at open); every key, range tombstone and the properties'
//!    seqno bounds then read with `global_seqno` (test `global_seqno_overrides_every_seqno`).
//!
//! Concurrency: a `Table` is immutable after open apart from relaxed statistics counters;
//! any number of threads call `get`/`iter` concurrently. Reads are positional
//! (`read_exact_at`) on one shared file descriptor, so no read moves a shared cursor. A
//! [`TableIter`] belongs to one thread.

use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use cairn_codec::{DecodeError, Decoder};

use super::block::{cmp_to_target, Block, BlockIter, KeyCheck, Target};
use super::cache::BlockCache;
use super::filter::{filter_key, BloomFilter};
use super::format::{unseal_block, BlockHandle, Footer, BLOCK_TRAILER_BYTES, FOOTER_BYTES};
use super::properties::TableProperties;
use crate::error::{CorruptionKind, Error, Result};
use crate::ikey::{self, ParsedKey, SeqNo, ValueKind, SEQNO_MAX, TRAILER_BYTES};
use crate::iter::InternalIterator;
use crate::range_del::RangeTombstone;

/// Where a table's bytes come from: its file, or (fuzzing) a buffer.
#[derive(Debug)]
enum Source {
    File(std::fs::File),
    Memory(Vec<u8>),
}

impl Source {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            Source::File(f) => f.read_exact_at(buf, offset),
            Source::Memory(m) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let src = start
                    .checked_add(buf.len())
                    .and_then(|end| m.get(start..end));
                match src {
                    Some(s) => {
                        buf.copy_from_slice(s);
                        Ok(())
                    }
                    None => Err(io::ErrorKind::UnexpectedEof.into()),
                }
            }
        }
    }
}

/// One index entry: the separator key (in `Table::index_keys`) and its data block.
#[derive(Debug, Clone, Copy)]
struct IndexEntry {
    key_start: usize,
    key_end: usize,
    handle: BlockHandle,
}

/// Everything `open` reads besides data blocks.
#[derive(Debug)]
struct Meta {
    footer: Footer,
    index_keys: Vec<u8>,
    index: Vec<IndexEntry>,
    filter: Option<BloomFilter>,
    properties: TableProperties,
    range_tombstones: Vec<RangeTombstone>,
}

/// An open SSTable. See the module header.
pub struct Table {
    path: PathBuf,
    file_number: u64,
    size_bytes: u64,
    global_seqno: SeqNo,
    source: Source,
    cache: Option<Arc<BlockCache>>,
    meta: Meta,
    filter_useful: AtomicU64,
    blocks_read: AtomicU64,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("file_number", &self.file_number)
            .field("size_bytes", &self.size_bytes)
            .field("global_seqno", &self.global_seqno)
            .field("data_block_count", &self.meta.index.len())
            .finish_non_exhaustive()
    }
}

/// A corruption error for a decode failure inside `block` (a block at `block_offset`, which
/// was compressed or not). Offsets inside an uncompressed block are file offsets; inside a
/// compressed one only the block's start names a place in the file.
fn block_error(path: &Path, block_offset: u64, compressed: bool, e: DecodeError) -> Error {
    if compressed {
        Error::corruption(path, block_offset, CorruptionKind::Decode(e))
    } else {
        Error::decode(path, block_offset, e)
    }
}

fn invalid(path: &Path, offset: u64, what: &'static str) -> Error {
    Error::corruption(path, offset, CorruptionKind::Invalid(what))
}

/// `key` with its trailer's seqno replaced by `global_seqno` when its stored seqno is 0.
fn patch_bound(key: &mut [u8], global_seqno: SeqNo) {
    if global_seqno == 0 || key.len() < TRAILER_BYTES || ikey::seqno_of(key) != 0 {
        return;
    }
    let kind = u64::from(ikey::kind_of(key));
    let start = key.len() - TRAILER_BYTES;
    if let Some(t) = key.get_mut(start..) {
        t.copy_from_slice(&((global_seqno << 8) | kind).to_le_bytes());
    }
}

impl Table {
    /// Opens a table: reads and checksums footer, index, filter, properties and range-del
    /// blocks (kept in memory). `global_seqno` != 0 means the file was written with every
    /// seqno 0 and every key (and range tombstone) must be read as having seqno `global_seqno`.
    pub fn open(
        path: PathBuf,
        file_number: u64,
        global_seqno: SeqNo,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<Arc<Table>> {
        let file = std::fs::File::open(&path).map_err(|e| Error::io("open sstable", &path, e))?;
        let size_bytes = file
            .metadata()
            .map_err(|e| Error::io("stat sstable", &path, e))?
            .len();
        Table::open_source(
            Source::File(file),
            path,
            size_bytes,
            file_number,
            global_seqno,
            cache,
        )
    }

    /// Opens a table image held in memory (fuzzing and tests); `path` only names it in errors.
    pub(crate) fn open_in_memory(
        bytes: Vec<u8>,
        path: PathBuf,
        global_seqno: SeqNo,
    ) -> Result<Arc<Table>> {
        let size = bytes.len() as u64;
        Table::open_source(Source::Memory(bytes), path, size, 0, global_seqno, None)
    }

    fn open_source(
        source: Source,
        path: PathBuf,
        size_bytes: u64,
        file_number: u64,
        global_seqno: SeqNo,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<Arc<Table>> {
        if global_seqno > SEQNO_MAX {
            return Err(Error::InvalidArgument("global seqno exceeds SEQNO_MAX"));
        }
        let mut table = Table {
            path,
            file_number,
            size_bytes,
            global_seqno,
            source,
            cache,
            meta: Meta {
                footer: Footer::default(),
                index_keys: Vec::new(),
                index: Vec::new(),
                filter: None,
                properties: TableProperties::default(),
                range_tombstones: Vec::new(),
            },
            filter_useful: AtomicU64::new(0),
            blocks_read: AtomicU64::new(0),
        };
        table.meta = table.read_meta()?;
        Ok(Arc::new(table))
    }

    /// Reads `buf.len()` bytes at `offset`; running past the end of the file is corruption.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.source.read_exact_at(buf, offset).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                let kind = CorruptionKind::Truncated {
                    size: self.size_bytes,
                };
                Error::corruption(&self.path, offset, kind)
            } else {
                Error::io("read sstable", &self.path, e)
            }
        })
    }

    /// Reads, checksums and decompresses the block at `handle`.
    fn read_block(&self, handle: BlockHandle) -> Result<(Vec<u8>, bool)> {
        let end = handle.end_with_trailer();
        let len = usize::try_from(handle.size)
            .ok()
            .and_then(|s| s.checked_add(BLOCK_TRAILER_BYTES));
        let (Some(end), Some(len)) = (end, len) else {
            return Err(invalid(&self.path, handle.offset, "block handle overflows"));
        };
        if end > self.size_bytes {
            let kind = CorruptionKind::Truncated {
                size: self.size_bytes,
            };
            return Err(Error::corruption(&self.path, handle.offset, kind));
        }
        let mut buf = vec![0u8; len];
        self.read_at(&mut buf, handle.offset)?;
        self.blocks_read.fetch_add(1, AtomicOrdering::Relaxed);
        unseal_block(buf, &self.path, handle.offset)
    }

    fn read_decoded_block(&self, handle: BlockHandle) -> Result<Arc<Block>> {
        let (data, compressed) = self.read_block(handle)?;
        let block = Block::new(data, handle.offset, compressed)
            .map_err(|e| block_error(&self.path, handle.offset, compressed, e))?;
        Ok(Arc::new(block))
    }

    fn read_meta(&self) -> Result<Meta> {
        let path = &self.path;
        let footer_len = FOOTER_BYTES as u64;
        if self.size_bytes < footer_len {
            let kind = CorruptionKind::Truncated {
                size: self.size_bytes,
            };
            return Err(Error::corruption(path, 0, kind));
        }
        let footer_offset = self.size_bytes - footer_len;
        let mut footer_bytes = [0u8; FOOTER_BYTES];
        self.read_at(&mut footer_bytes, footer_offset)?;
        let footer = Footer::decode(&footer_bytes, path, footer_offset)?;

        // Properties first: the global-seqno check needs them.
        let (props_data, props_compressed) = self.read_block(footer.properties)?;
        let mut properties = TableProperties::decode(&props_data)
            .map_err(|e| block_error(path, footer.properties.offset, props_compressed, e))?;
        if self.global_seqno != 0 {
            if properties.seqno_largest != 0 {
                let what = "file opened with a global seqno has nonzero seqnos";
                return Err(invalid(path, footer.properties.offset, what));
            }
            properties.seqno_smallest = self.global_seqno;
            properties.seqno_largest = self.global_seqno;
            patch_bound(&mut properties.smallest, self.global_seqno);
            patch_bound(&mut properties.largest, self.global_seqno);
        }

        let (index_keys, index) = self.read_index(footer)?;

        let (filter_data, _) = self.read_block(footer.filter)?;
        let filter = BloomFilter::decode(filter_data)
            .map_err(|what| invalid(path, footer.filter.offset, what))?;

        let range_tombstones = self.read_range_tombstones(footer.range_del)?;
        Ok(Meta {
            footer,
            index_keys,
            index,
            filter,
            properties,
            range_tombstones,
        })
    }

    fn read_index(&self, footer: Footer) -> Result<(Vec<u8>, Vec<IndexEntry>)> {
        let path = &self.path;
        let handle = footer.index;
        let block = self.read_decoded_block(handle)?;
        let compressed = block.compressed;
        let err = |e| block_error(path, handle.offset, compressed, e);
        let mut it = BlockIter::new(block, KeyCheck::Any, 0);
        let mut keys: Vec<u8> = Vec::new();
        let mut index: Vec<IndexEntry> = Vec::new();
        let data_end = footer.range_del.offset;
        it.seek_to_first().map_err(err)?;
        while it.valid() {
            let mut d = Decoder::new(it.value());
            let block_handle = BlockHandle::decode_varint(&mut d).map_err(|e| {
                // The value's position inside the block is not tracked; name the block.
                Error::corruption(path, handle.offset, CorruptionKind::Decode(e))
            })?;
            if !d.is_empty() {
                return Err(invalid(
                    path,
                    handle.offset,
                    "index entry has trailing bytes",
                ));
            }
            if block_handle
                .end_with_trailer()
                .is_none_or(|end| end > data_end)
            {
                return Err(invalid(
                    path,
                    handle.offset,
                    "index entry points outside the data region",
                ));
            }
            let key_start = keys.len();
            if let Some(prev) = index.last() {
                let prev_key = keys.get(prev.key_start..prev.key_end).unwrap_or(&[]);
                // Compare stored keys (before patching): the index must be sorted as written.
                if ikey::compare(prev_key, it.key()) != std::cmp::Ordering::Less {
                    return Err(invalid(path, handle.offset, "index keys out of order"));
                }
            }
            keys.extend_from_slice(it.key());
            index.push(IndexEntry {
                key_start,
                key_end: keys.len(),
                handle: block_handle,
            });
            it.next().map_err(err)?;
        }
        if self.global_seqno != 0 {
            for e in &index {
                if let Some(k) = keys.get_mut(e.key_start..e.key_end) {
                    let kind = u64::from(ikey::kind_of(k));
                    let start = k.len() - TRAILER_BYTES;
                    if let Some(t) = k.get_mut(start..) {
                        t.copy_from_slice(&((self.global_seqno << 8) | kind).to_le_bytes());
                    }
                }
            }
        }
        Ok((keys, index))
    }

    fn read_range_tombstones(&self, handle: BlockHandle) -> Result<Vec<RangeTombstone>> {
        let path = &self.path;
        let block = self.read_decoded_block(handle)?;
        let compressed = block.compressed;
        let err = |e| block_error(path, handle.offset, compressed, e);
        let mut it = BlockIter::new(block, KeyCheck::RangeDel, self.global_seqno);
        let mut out: Vec<RangeTombstone> = Vec::new();
        it.seek_to_first().map_err(err)?;
        while it.valid() {
            let Some(p) = ParsedKey::parse(it.key()) else {
                return Err(invalid(path, handle.offset, "range tombstone key"));
            };
            if p.user_key >= it.value() {
                return Err(invalid(
                    path,
                    handle.offset,
                    "range tombstone start is not below its end",
                ));
            }
            if out
                .last()
                .is_some_and(|prev| prev.start.as_slice() > p.user_key)
            {
                return Err(invalid(
                    path,
                    handle.offset,
                    "range tombstones out of order",
                ));
            }
            out.push(RangeTombstone {
                start: p.user_key.to_vec(),
                end: it.value().to_vec(),
                seqno: p.seqno,
            });
            it.next().map_err(err)?;
        }
        Ok(out)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Properties as written, except that with a global seqno the seqno bounds and the
    /// trailers of `smallest`/`largest` (unless they are a range tombstone's end bound) read
    /// with the global seqno.
    pub fn properties(&self) -> &TableProperties {
        &self.meta.properties
    }

    /// Range tombstones, sorted by start (then seqno descending), global seqno applied.
    pub fn range_tombstones(&self) -> &[RangeTombstone] {
        &self.meta.range_tombstones
    }

    /// Bloom-filter check on a user key (true when no filter).
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        let strip = self.meta.properties.bloom_strip_suffix_bytes;
        self.probe(filter_key(user_key, strip))
    }

    /// Bloom-filter check on a prefix: may this table hold a key that is `prefix` once its
    /// last `strip_suffix_bytes` bytes are removed? True when the table has no filter or its
    /// filter was built another way.
    pub fn may_contain_prefix(&self, prefix: &[u8], strip_suffix_bytes: u32) -> bool {
        if strip_suffix_bytes == 0
            || self.meta.properties.bloom_strip_suffix_bytes != strip_suffix_bytes
        {
            return true;
        }
        self.probe(prefix)
    }

    fn probe(&self, filter_key: &[u8]) -> bool {
        match &self.meta.filter {
            None => true,
            Some(f) => {
                let present = f.may_contain(filter_key);
                if !present {
                    self.filter_useful.fetch_add(1, AtomicOrdering::Relaxed);
                }
                present
            }
        }
    }

    fn index_key(&self, i: usize) -> &[u8] {
        match self.meta.index.get(i) {
            Some(e) => self
                .meta
                .index_keys
                .get(e.key_start..e.key_end)
                .unwrap_or(&[]),
            None => &[],
        }
    }

    /// Position of the first index entry whose key is `>= target` (= entry count if none).
    fn index_search(&self, target: &Target<'_>) -> usize {
        let (mut lo, mut hi) = (0usize, self.meta.index.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if cmp_to_target(self.index_key(mid), target, 0) == std::cmp::Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Data block `i` of the index, from the cache or the file; a block read from the file is
    /// added to the cache when `fill_cache`.
    fn data_block(&self, i: usize, fill_cache: bool) -> Result<Arc<Block>> {
        let Some(entry) = self.meta.index.get(i) else {
            return Err(invalid(
                &self.path,
                self.meta.footer.index.offset,
                "index position out of range",
            ));
        };
        let offset = entry.handle.offset;
        if let Some(cache) = &self.cache {
            if let Some(block) = cache.get(self.file_number, offset) {
                return Ok(block);
            }
        }
        let block = self.read_decoded_block(entry.handle)?;
        if let (Some(cache), true) = (&self.cache, fill_cache) {
            cache.insert(self.file_number, offset, Arc::clone(&block));
        }
        Ok(block)
    }

    fn iter_error(&self, block: &Block, e: DecodeError) -> Error {
        block_error(&self.path, block.file_offset, block.compressed, e)
    }

    /// Newest POINT entry of `user_key` with seqno <= snapshot: `Some((seqno, kind, value))`.
    /// Consults the bloom filter first (no block read when it says absent). Ignores range
    /// tombstones.
    pub fn get(
        &self,
        user_key: &[u8],
        snapshot: SeqNo,
    ) -> Result<Option<(SeqNo, ValueKind, Vec<u8>)>> {
        if !self.may_contain(user_key) {
            return Ok(None);
        }
        let target = Target {
            user_key,
            trailer: ikey::trailer(snapshot.min(SEQNO_MAX), ValueKind::SEEK),
        };
        let i = self.index_search(&target);
        if i >= self.meta.index.len() {
            return Ok(None);
        }
        let block = self.data_block(i, true)?;
        let mut it = BlockIter::new(block, KeyCheck::Point, self.global_seqno);
        if let Err(e) = it.seek(&target) {
            return Err(self.iter_error(it.block(), e));
        }
        // A separator may sort after the block's last key: then the key is absent (the next
        // block starts with a larger user key).
        if !it.valid() || ikey::user_key(it.key()) != user_key {
            return Ok(None);
        }
        match ParsedKey::parse(it.key()) {
            Some(p) => Ok(Some((p.seqno, p.kind, it.value().to_vec()))),
            None => Err(invalid(
                &self.path,
                it.block().file_offset,
                "data block key",
            )),
        }
    }

    /// Iterator over point entries.
    pub fn iter(self: &Arc<Self>) -> TableIter {
        TableIter {
            table: Arc::clone(self),
            block_index: 0,
            iter: None,
            fill_cache: true,
        }
    }

    /// An iterator that reads through the cache but does not add the blocks it reads from
    /// the file (compaction: a one-pass scan must not evict the blocks readers use).
    pub fn iter_without_cache_fill(self: &Arc<Self>) -> TableIter {
        TableIter {
            fill_cache: false,
            ..self.iter()
        }
    }

    /// Reads every block from the file (bypassing the cache) and verifies checksums,
    /// decoding, key order and the index (used by `cairn debug check`).
    pub fn verify(&self) -> Result<()> {
        let meta = self.read_meta()?;
        let path = &self.path;
        let mut previous: Vec<u8> = Vec::new();
        let mut entries: u64 = 0;
        for (i, entry) in meta.index.iter().enumerate() {
            let block = self.read_decoded_block(entry.handle)?;
            let at = entry.handle.offset;
            let mut it = BlockIter::new(Arc::clone(&block), KeyCheck::Point, self.global_seqno);
            let sep = meta
                .index_keys
                .get(entry.key_start..entry.key_end)
                .unwrap_or(&[]);
            let previous_sep = match i.checked_sub(1).and_then(|p| meta.index.get(p)) {
                Some(p) => meta.index_keys.get(p.key_start..p.key_end),
                None => None,
            };
            it.seek_to_first().map_err(|e| self.iter_error(&block, e))?;
            if !it.valid() {
                return Err(invalid(path, at, "empty data block"));
            }
            while it.valid() {
                if entries > 0 && ikey::compare(&previous, it.key()) != std::cmp::Ordering::Less {
                    return Err(invalid(path, at, "data block keys out of order"));
                }
                if ikey::compare(it.key(), sep) == std::cmp::Ordering::Greater {
                    return Err(invalid(path, at, "data block key after its index key"));
                }
                let after_previous = previous_sep
                    .is_none_or(|p| ikey::compare(it.key(), p) == std::cmp::Ordering::Greater);
                if !after_previous {
                    return Err(invalid(
                        path,
                        at,
                        "data block key before the previous index key",
                    ));
                }
                previous.clear();
                previous.extend_from_slice(it.key());
                entries += 1;
                it.next().map_err(|e| self.iter_error(&block, e))?;
            }
        }
        if entries != meta.properties.entry_count {
            return Err(invalid(
                path,
                meta.footer.properties.offset,
                "entry count differs from the data blocks",
            ));
        }
        if meta.index.len() as u64 != meta.properties.data_block_count {
            return Err(invalid(
                path,
                meta.footer.index.offset,
                "index size differs from the block count",
            ));
        }
        Ok(())
    }

    /// Number of times the bloom filter said "absent" since open.
    pub fn filter_useful_count(&self) -> u64 {
        self.filter_useful.load(AtomicOrdering::Relaxed)
    }

    /// Number of blocks read from the file since open (cache misses and meta blocks).
    pub fn blocks_read_count(&self) -> u64 {
        self.blocks_read.load(AtomicOrdering::Relaxed)
    }
}

/// Iterator over a table's point entries (see [`InternalIterator`]). Keys carry the global
/// seqno when the table has one. Reuses one key buffer for the whole table.
#[derive(Debug)]
pub struct TableIter {
    table: Arc<Table>,
    /// Index position of the block `iter` is on.
    block_index: usize,
    iter: Option<BlockIter>,
    /// Add blocks read from the file to the block cache.
    fill_cache: bool,
}

impl TableIter {
    /// Makes the iterator not valid.
    fn clear(&mut self) {
        if let Some(it) = self.iter.as_mut() {
            let block = Arc::clone(it.block());
            it.reset(block);
        }
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        self.clear();
        Err(e)
    }

    /// Loads data block `i` (not positioned).
    fn load(&mut self, i: usize) -> Result<()> {
        let block = match self.table.data_block(i, self.fill_cache) {
            Ok(b) => b,
            Err(e) => return self.fail(e),
        };
        self.block_index = i;
        match self.iter.as_mut() {
            Some(it) => it.reset(block),
            None => {
                self.iter = Some(BlockIter::new(
                    block,
                    KeyCheck::Point,
                    self.table.global_seqno,
                ));
            }
        }
        Ok(())
    }

    /// Runs `f` on the block cursor, turning its error into a corruption error.
    fn on_block(
        &mut self,
        f: impl FnOnce(&mut BlockIter) -> Result<(), DecodeError>,
    ) -> Result<()> {
        let Some(it) = self.iter.as_mut() else {
            return Ok(());
        };
        match f(it) {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = self.table.iter_error(it.block(), e);
                self.fail(err)
            }
        }
    }

    fn skip_forward(&mut self) -> Result<()> {
        while !self.valid() && self.iter.is_some() {
            let next = self.block_index + 1;
            if next >= self.table.meta.index.len() {
                return Ok(());
            }
            self.load(next)?;
            self.on_block(BlockIter::seek_to_first)?;
        }
        Ok(())
    }

    fn skip_backward(&mut self) -> Result<()> {
        while !self.valid() && self.iter.is_some() {
            if self.block_index == 0 {
                return Ok(());
            }
            self.load(self.block_index - 1)?;
            self.on_block(BlockIter::seek_to_last)?;
        }
        Ok(())
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.iter.as_ref().is_some_and(BlockIter::valid)
    }

    fn seek_to_first(&mut self) -> Result<()> {
        if self.table.meta.index.is_empty() {
            self.clear();
            return Ok(());
        }
        self.load(0)?;
        self.on_block(BlockIter::seek_to_first)?;
        self.skip_forward()
    }

    fn seek_to_last(&mut self) -> Result<()> {
        let n = self.table.meta.index.len();
        if n == 0 {
            self.clear();
            return Ok(());
        }
        self.load(n - 1)?;
        self.on_block(BlockIter::seek_to_last)?;
        self.skip_backward()
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let t = Target::from_ikey(target);
        let i = self.table.index_search(&t);
        if i >= self.table.meta.index.len() {
            self.clear();
            return Ok(());
        }
        self.load(i)?;
        self.on_block(|it| it.seek(&t))?;
        self.skip_forward()
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        let t = Target::from_ikey(target);
        let i = self.table.index_search(&t);
        if i >= self.table.meta.index.len() {
            return self.seek_to_last();
        }
        self.load(i)?;
        self.on_block(|it| it.seek_for_prev(&t))?;
        self.skip_backward()
    }

    fn next(&mut self) -> Result<()> {
        self.on_block(BlockIter::next)?;
        self.skip_forward()
    }

    fn prev(&mut self) -> Result<()> {
        self.on_block(BlockIter::prev)?;
        self.skip_backward()
    }

    fn key(&self) -> &[u8] {
        self.iter.as_ref().map_or(&[], BlockIter::key)
    }

    fn value(&self) -> &[u8] {
        self.iter.as_ref().map_or(&[], BlockIter::value)
    }
}

/// Asserts at compile time that tables are shared across threads and iterators move.
#[expect(dead_code, reason = "compile-time check only")]
fn assert_thread_safety() {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<Table>();
    sent::<TableIter>();
}

#[cfg(test)]
impl Table {
    /// Every region of the file as (name, start, end): data blocks and meta blocks with
    /// their trailers, then the footer. Together they cover the whole file.
    pub(crate) fn regions_for_test(&self) -> Vec<(&'static str, u64, u64)> {
        let span = |h: BlockHandle| (h.offset, h.end_with_trailer().unwrap_or(u64::MAX));
        let mut out = Vec::new();
        for e in &self.meta.index {
            let (s, t) = span(e.handle);
            out.push(("data", s, t));
        }
        let f = self.meta.footer;
        for (name, h) in [
            ("range-del", f.range_del),
            ("filter", f.filter),
            ("properties", f.properties),
            ("index", f.index),
        ] {
            let (s, t) = span(h);
            out.push((name, s, t));
        }
        out.push((
            "footer",
            self.size_bytes - FOOTER_BYTES as u64,
            self.size_bytes,
        ));
        out
    }
}

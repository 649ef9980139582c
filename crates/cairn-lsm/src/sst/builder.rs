//! Writes one SSTable from sorted point entries plus range tombstones.
//!
//! Role: the flush and compaction code creates a [`TableBuilder`], feeds it entries in
//! internal-key order, and calls [`TableBuilder::finish`] (or [`TableBuilder::abandon`]). It
//! calls [`super::block::BlockBuilder`], [`super::filter::FilterBuilder`] and
//! [`super::format`] to produce the bytes laid out in `sst/mod.rs`.
//!
//! Invariants:
//! 1. Point keys are strictly increasing by `ikey::compare` and of kind Put or Delete —
//!    `assert!` in [`TableBuilder::add`] (test `out_of_order_add_panics`); the reader checks
//!    kinds again on decode.
//! 2. Each index key `s` of block `i` satisfies `last(i) <= s < first(i + 1)` (the separator
//!    is either `last(i)` or a shorter user key strictly between the two user keys, whose
//!    trailer therefore never matters) — `debug_assert!` in `add_index_entry`, and
//!    `Table::verify` re-checks it on read.
//! 3. Properties `smallest`/`largest` bound every point entry and range tombstone (test
//!    `range_tombstones_round_trip_and_widen_bounds`).
//! 4. Nothing is returned until the file is fsynced; a failed write or sync is returned and
//!    the caller abandons the builder (an fsync is never retried).
//!
//! Concurrency: one builder is used by one thread at a time (`Send`, not shared).

use std::cmp::Ordering;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::block::BlockBuilder;
use super::filter::{filter_key, FilterBuilder};
use super::format::{
    trailer_bytes, BlockCompressor, BlockHandle, Footer, BLOCK_TARGET_BYTES_MAX,
    BLOCK_TRAILER_BYTES, COMPRESSION_NONE, ENTRY_BYTES_MAX,
};
use super::properties::TableProperties;
use crate::error::{Error, Result};
use crate::ikey::{self, ParsedKey, SeqNo, ValueKind, SEQNO_MAX};
use crate::options::{Compression, Options};

/// Write buffer in front of the file; blocks are appended sequentially.
const WRITE_BUFFER_BYTES: usize = 256 << 10;

/// How a table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableBuilderOptions {
    /// Target uncompressed data block size; a block is cut once it reaches this
    /// (clamped to 1..=256 MiB).
    pub block_bytes: usize,
    /// Entries between restart points (at least 1).
    pub restart_interval: usize,
    pub compression: Compression,
    /// Bloom filter bits per key; 0 = no filter.
    pub bloom_bits_per_key: u32,
    /// The filter holds user keys without their last this-many bytes (0 = whole keys).
    pub bloom_strip_suffix_bytes: u32,
}

impl TableBuilderOptions {
    pub fn from_options(o: &Options) -> Self {
        TableBuilderOptions {
            block_bytes: o.block_bytes,
            restart_interval: o.block_restart_interval,
            compression: o.compression,
            bloom_bits_per_key: o.bloom_bits_per_key,
            bloom_strip_suffix_bytes: o.bloom_strip_suffix_bytes,
        }
    }
}

impl Default for TableBuilderOptions {
    fn default() -> Self {
        TableBuilderOptions::from_options(&Options::default())
    }
}

/// What [`TableBuilder::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltTable {
    /// Size of the file in bytes.
    pub size_bytes: u64,
    pub properties: TableProperties,
}

/// Writes one table. See the module header.
pub struct TableBuilder {
    path: PathBuf,
    writer: BufWriter<File>,
    block_target_bytes: usize,
    /// Bytes written to `writer` so far (= file offset of the next block).
    offset: u64,
    data_block: BlockBuilder,
    index_block: BlockBuilder,
    /// Handle of the last flushed data block, waiting for the next key to pick its separator.
    pending_index: Option<BlockHandle>,
    /// Last point key added (empty before the first).
    last_key: Vec<u8>,
    filter: FilterBuilder,
    /// Last key added to the filter (user keys with the suffix stripped repeat).
    last_filter_key: Vec<u8>,
    compressor: BlockCompressor,
    /// Range tombstones as (internal start key, end user key), sorted in `finish`.
    tombstones: Vec<(Vec<u8>, Vec<u8>)>,
    props: TableProperties,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for TableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableBuilder")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("entry_count", &self.props.entry_count)
            .finish_non_exhaustive()
    }
}

/// Writes `stored` plus its trailer at `*offset`, advancing it; returns the block's handle.
fn write_block(
    writer: &mut BufWriter<File>,
    path: &Path,
    offset: &mut u64,
    stored: &[u8],
    compression_type: u8,
) -> Result<BlockHandle> {
    let trailer = trailer_bytes(stored, compression_type);
    writer
        .write_all(stored)
        .map_err(|e| Error::io("write sstable", path, e))?;
    writer
        .write_all(&trailer)
        .map_err(|e| Error::io("write sstable", path, e))?;
    let handle = BlockHandle {
        offset: *offset,
        size: stored.len() as u64,
    };
    *offset += (stored.len() + BLOCK_TRAILER_BYTES) as u64;
    Ok(handle)
}

/// A key `s` with `a <= s < b` (internal-key order), shorter than `a` when possible.
fn separator(a: &[u8], b: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let (ua, ub) = (ikey::user_key(a), ikey::user_key(b));
    let p = ua.iter().zip(ub).take_while(|(x, y)| x == y).count();
    if let (Some(&c), Some(&d), Some(prefix)) = (ua.get(p), ub.get(p), ua.get(..p)) {
        // p + 1 + 8 < a.len() means the short key saves at least one byte.
        if c < 0xff && c + 1 < d && p + 1 < ua.len() {
            out.extend_from_slice(prefix);
            out.push(c + 1);
            ikey::encode_into(out, &[], SEQNO_MAX, ValueKind::SEEK);
            return;
        }
    }
    out.extend_from_slice(a);
}

impl TableBuilder {
    /// Creates the file (create_new) at `path`.
    pub fn create(path: &Path, opts: TableBuilderOptions) -> Result<TableBuilder> {
        let compressor = BlockCompressor::new(opts.compression)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io("create sstable", path, e))?;
        let props = TableProperties {
            compression: opts.compression.to_byte(),
            bloom_bits_per_key: opts.bloom_bits_per_key,
            bloom_strip_suffix_bytes: if opts.bloom_bits_per_key > 0 {
                opts.bloom_strip_suffix_bytes
            } else {
                0
            },
            ..TableProperties::default()
        };
        Ok(TableBuilder {
            path: path.to_path_buf(),
            writer: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            block_target_bytes: opts.block_bytes.clamp(1, BLOCK_TARGET_BYTES_MAX),
            offset: 0,
            data_block: BlockBuilder::new(opts.restart_interval),
            index_block: BlockBuilder::new(1),
            pending_index: None,
            last_key: Vec::new(),
            filter: FilterBuilder::new(opts.bloom_bits_per_key),
            last_filter_key: Vec::new(),
            compressor,
            tombstones: Vec::new(),
            props,
            scratch: Vec::new(),
        })
    }

    fn note_seqno(&mut self, seqno: SeqNo) {
        let first = self.props.entry_count == 0 && self.tombstones.is_empty();
        if first || seqno < self.props.seqno_smallest {
            self.props.seqno_smallest = seqno;
        }
        if first || seqno > self.props.seqno_largest {
            self.props.seqno_largest = seqno;
        }
    }

    /// Adds a point entry (kind Put or Delete). Keys must be strictly increasing by
    /// `ikey::compare`.
    ///
    /// # Panics
    /// If the key is not a point internal key or is not after the previous key: that is a bug
    /// in the caller, and writing on would produce a table readers mis-search.
    pub fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        let parsed = ParsedKey::parse(ikey);
        let kind = parsed.map(|p| p.kind);
        assert!(
            matches!(kind, Some(ValueKind::Put | ValueKind::Delete)),
            "sstable point entry needs a Put or Delete internal key, got kind {kind:?} in {ikey:x?}"
        );
        if self.props.entry_count > 0 {
            let order = ikey::compare(&self.last_key, ikey);
            assert!(
                order == Ordering::Less,
                "sstable keys out of order: {:x?} then {ikey:x?}",
                self.last_key
            );
        }
        if ikey.len().saturating_add(value.len()) > ENTRY_BYTES_MAX {
            return Err(Error::InvalidArgument("sstable entry larger than 512 MiB"));
        }
        if let Some(handle) = self.pending_index.take() {
            separator(&self.last_key, ikey, &mut self.scratch);
            self.add_index_entry(handle, Some(ikey));
        }
        let user_key = ikey::user_key(ikey);
        if self.props.entry_count == 0 || ikey::user_key(&self.last_key) != user_key {
            let filter_key = filter_key(user_key, self.props.bloom_strip_suffix_bytes);
            if self.props.entry_count == 0 || self.last_filter_key != filter_key {
                self.filter.add(filter_key);
                self.last_filter_key.clear();
                self.last_filter_key.extend_from_slice(filter_key);
            }
        }
        if let Some(p) = parsed {
            self.note_seqno(p.seqno);
            if p.kind == ValueKind::Delete {
                self.props.deletion_count += 1;
            }
        }
        if self.props.entry_count == 0 {
            self.props.smallest = ikey.to_vec();
        }
        self.props.entry_count += 1;
        self.props.raw_key_bytes += ikey.len() as u64;
        self.props.raw_value_bytes += value.len() as u64;
        self.data_block.add(ikey, value);
        self.last_key.clear();
        self.last_key.extend_from_slice(ikey);
        if self.data_block.estimated_bytes() >= self.block_target_bytes {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Adds the index entry `scratch -> handle`; `next` is the first key of the next block.
    fn add_index_entry(&mut self, handle: BlockHandle, next: Option<&[u8]>) {
        debug_assert!(ikey::compare(&self.last_key, &self.scratch) != Ordering::Greater);
        debug_assert!(next.is_none_or(|n| ikey::compare(&self.scratch, n) == Ordering::Less));
        let mut value = Vec::with_capacity(20);
        handle.encode_varint(&mut value);
        self.index_block.add(&self.scratch, &value);
    }

    fn flush_data_block(&mut self) -> Result<()> {
        if self.data_block.is_empty() {
            return Ok(());
        }
        let raw = self.data_block.finish();
        let (stored, compression_type) = self.compressor.compress(raw);
        let handle = write_block(
            &mut self.writer,
            &self.path,
            &mut self.offset,
            stored,
            compression_type,
        )?;
        self.props.data_block_count += 1;
        self.pending_index = Some(handle);
        self.data_block.reset();
        Ok(())
    }

    /// Adds a range tombstone deleting `[start, end)` at `seqno`; any order (the builder
    /// sorts them). `start < end` is required.
    pub fn add_range_tombstone(&mut self, start: &[u8], end: &[u8], seqno: SeqNo) -> Result<()> {
        if start >= end {
            return Err(Error::InvalidArgument(
                "range tombstone start must be below its end",
            ));
        }
        if start.len().saturating_add(end.len()) > ENTRY_BYTES_MAX {
            return Err(Error::InvalidArgument(
                "range tombstone larger than 512 MiB",
            ));
        }
        self.note_seqno(seqno);
        self.tombstones.push((
            ikey::encode(start, seqno, ValueKind::RangeDelete),
            end.to_vec(),
        ));
        Ok(())
    }

    /// Bytes written so far plus the block being filled.
    pub fn estimated_size_bytes(&self) -> u64 {
        self.offset + self.data_block.estimated_bytes() as u64
    }

    /// Point entries added.
    pub fn entry_count(&self) -> u64 {
        self.props.entry_count
    }

    /// True when no point entry and no range tombstone has been added.
    pub fn is_empty(&self) -> bool {
        self.props.entry_count == 0 && self.tombstones.is_empty()
    }

    /// Writes the meta blocks and footer, fsyncs the file (`sync_all`), returns what was built.
    pub fn finish(mut self) -> Result<BuiltTable> {
        self.flush_data_block()?;
        if let Some(handle) = self.pending_index.take() {
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.last_key);
            self.add_index_entry(handle, None);
        }
        self.props.data_bytes = self.offset;
        if self.props.entry_count > 0 {
            self.props.largest = self.last_key.clone();
        }

        // Range tombstones: sorted by internal start key; exact duplicates (same start and
        // seqno) keep the widest end.
        let mut tombstones = std::mem::take(&mut self.tombstones);
        tombstones.sort_by(|a, b| ikey::compare(&a.0, &b.0).then_with(|| b.1.cmp(&a.1)));
        tombstones.dedup_by(|later, kept| later.0 == kept.0);
        let mut range_del = BlockBuilder::new(16);
        for (start, end) in &tombstones {
            range_del.add(start, end);
            let start_cmp = ikey::compare(start, &self.props.smallest);
            if self.props.smallest.is_empty() || start_cmp == Ordering::Less {
                self.props.smallest = start.clone();
            }
            let end_key = ikey::encode(end, SEQNO_MAX, ValueKind::RangeDelete);
            let end_cmp = ikey::compare(&end_key, &self.props.largest);
            if self.props.largest.is_empty() || end_cmp == Ordering::Greater {
                self.props.largest = end_key;
            }
        }
        self.props.range_deletion_count = tombstones.len() as u64;

        let path = self.path.clone();
        let w = &mut self.writer;
        let off = &mut self.offset;
        let range_del_handle = write_block(w, &path, off, range_del.finish(), COMPRESSION_NONE)?;
        let filter_contents = self.filter.finish();
        let filter_handle = write_block(w, &path, off, &filter_contents, COMPRESSION_NONE)?;
        self.props.filter_bytes = filter_handle.size + BLOCK_TRAILER_BYTES as u64;
        let index_contents = self.index_block.finish();
        self.props.index_bytes = index_contents.len() as u64 + BLOCK_TRAILER_BYTES as u64;
        let props_contents = self.props.encode();
        let props_handle = write_block(w, &path, off, &props_contents, COMPRESSION_NONE)?;
        let index_handle = write_block(w, &path, off, index_contents, COMPRESSION_NONE)?;
        let footer = Footer {
            range_del: range_del_handle,
            filter: filter_handle,
            properties: props_handle,
            index: index_handle,
        };
        let footer_bytes = footer.encode();
        w.write_all(&footer_bytes)
            .map_err(|e| Error::io("write sstable", &path, e))?;
        *off += footer_bytes.len() as u64;
        w.flush()
            .map_err(|e| Error::io("write sstable", &path, e))?;
        w.get_ref()
            .sync_all()
            .map_err(|e| Error::io("sync sstable", &path, e))?;
        Ok(BuiltTable {
            size_bytes: self.offset,
            properties: self.props,
        })
    }

    /// Stops and deletes the partial file.
    pub fn abandon(self) {
        let path = self.path.clone();
        drop(self);
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "remove abandoned sstable");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_is_shorter_and_between() {
        let mut out = Vec::new();
        let a = ikey::encode(b"apple-pie", 5, ValueKind::Put);
        let b = ikey::encode(b"apricot", 9, ValueKind::Put);
        separator(&a, &b, &mut out);
        assert_eq!(ikey::user_key(&out), b"apq");
        assert_eq!(ikey::compare(&a, &out), Ordering::Less);
        assert_eq!(ikey::compare(&out, &b), Ordering::Less);
        // Adjacent bytes, prefix relation, equal user keys: no shortening.
        for (x, y) in [(&b"ab"[..], &b"ac"[..]), (b"ab", b"abc"), (b"k", b"k")] {
            let a = ikey::encode(x, 7, ValueKind::Put);
            let b = ikey::encode(y, 3, ValueKind::Put);
            separator(&a, &b, &mut out);
            assert_eq!(out, a);
        }
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn out_of_order_add_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = TableBuilder::create(&dir.path().join("1.sst"), TableBuilderOptions::default())
            .expect("create");
        b.add(&ikey::encode(b"b", 1, ValueKind::Put), b"")
            .expect("add");
        let _ = b.add(&ikey::encode(b"a", 1, ValueKind::Put), b"");
    }

    #[test]
    #[should_panic(expected = "Put or Delete")]
    fn range_delete_kind_in_add_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = TableBuilder::create(&dir.path().join("1.sst"), TableBuilderOptions::default())
            .expect("create");
        let _ = b.add(&ikey::encode(b"a", 1, ValueKind::RangeDelete), b"z");
    }

    #[test]
    fn create_refuses_existing_file_and_abandon_deletes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("1.sst");
        let b = TableBuilder::create(&path, TableBuilderOptions::default()).expect("create");
        assert!(TableBuilder::create(&path, TableBuilderOptions::default()).is_err());
        b.abandon();
        assert!(!path.exists());
    }

    #[test]
    fn builder_is_send() {
        fn check<T: Send>() {}
        check::<TableBuilder>();
    }
}

//! SSTables: immutable sorted files of internal keys, written once by flush or compaction and
//! read by point lookups, iterators and compactions.
//!
//! Role: flush and compaction write tables with [`TableBuilder`]; the engine opens them with
//! [`Table::open`] (sharing one [`BlockCache`]) and reads them with [`Table::get`] and
//! [`Table::iter`]. The file layout is mirrored in `docs/format/sstable.md`.
//!
//! Submodules: `format` (handles, block trailers, compression, footer), `block` (the
//! prefix-compressed block format and its cursor), `filter` (bloom filter), `properties`,
//! `builder`, `table` (reader and iterator), `cache`.
//!
//! # Invariants
//! 1. Tables store internal keys (`crate::ikey`) strictly increasing by `ikey::compare`;
//!    point entries are Put or Delete, range tombstones live in their own block —
//!    `assert!` in `TableBuilder::add`, checked again on decode and by `Table::verify`.
//! 2. Every block and the footer carry a masked CRC-32C verified before decoding; any damage
//!    is `Error::Corruption { path, offset, kind }` with the file offset of the damaged block
//!    or footer field — tests `every_single_byte_flip_is_detected_in_its_region`,
//!    `flipped_byte_in_*`, `truncated_file_is_corruption` (`sst/tests.rs`), fuzz targets
//!    `sst_block` and `sst_footer_index`.
//! 3. Reading never panics and never returns data a checksum did not vouch for (same tests,
//!    proptest `block_decoder_never_panics`).
//! 4. Builder -> reader round trip equals a sorted model for gets at every snapshot and every
//!    iterator movement — proptest `round_trip_matches_model`.
//!
//! # Concurrency
//! A [`TableBuilder`] is used by one thread. A [`Table`] is immutable after open and
//! `Send + Sync`; reads are positional (`read_exact_at`) on one shared file, so any number
//! of threads read at once without seeking. The [`BlockCache`] is sharded and internally
//! locked. A [`TableIter`] belongs to one thread.
//!
//! # Format (version 1, all integers little-endian)
//! ```text
//! +----------------------------+
//! | data block 0 | trailer (5) |   <- data region: entries in internal-key order
//! | ...                        |
//! | data block n | trailer (5) |
//! | range-del block | trailer  |   (always uncompressed; may be empty)
//! | filter block    | trailer  |   (empty contents = no filter)
//! | properties block| trailer  |
//! | index block     | trailer  |
//! | footer (80 bytes)          |
//! +----------------------------+
//! ```
//! **Block trailer** (5 bytes after every block's stored bytes):
//! `| compression type u8 (0 none, 1 lz4, 2 zstd) | masked CRC-32C u32 |`, the CRC covering the
//! stored bytes followed by the type byte. A compressed block is stored as
//! `| uncompressed length u32 | compressed payload |` (an LZ4 block or one zstd frame); a
//! block is stored compressed only if that saves at least 1/8 of its size. A **block
//! handle** is `(offset, size)` of the stored bytes, trailer excluded.
//!
//! **Block contents** (data, range-del and index blocks; see `block.rs`):
//! `entry*` then `restart offset u32 * n` then `n u32`, each entry
//! `| shared varint | unshared varint | value_len varint | key[shared..] | value |`, a full key
//! (`shared = 0`) every `restart_interval` entries.
//! - data block: key = internal key (Put/Delete), value = value; cut once the uncompressed
//!   size reaches `block_bytes`;
//! - range-del block: key = `ikey(start, seqno, RangeDelete)`, value = end user key, sorted
//!   by key (restart interval 16);
//! - index block: one entry per data block, key = a separator `s` with
//!   `last key of block i <= s < first key of block i+1` (the last key itself, or a shorter
//!   user key between the two with trailer `(SEQNO_MAX << 8) | 0xff`; the last block uses its
//!   last key), value = the block handle as two varints (offset, size); restart interval 1.
//!
//! **Filter block**: `filter.rs` (bloom bits then probe count u8). **Properties block**:
//! `properties.rs` (tagged varint fields).
//!
//! **Footer** (80 bytes at `file size - 80`):
//! ```text
//! 0   range-del handle  offset u64, size u64
//! 16  filter handle     offset u64, size u64
//! 32  properties handle offset u64, size u64
//! 48  index handle      offset u64, size u64
//! 64  format version u32 (= 1)
//! 68  magic u64 = 0x5453536e72696163 (bytes "cairnSST")
//! 76  masked CRC-32C u32 of bytes 0..76
//! ```
//! Checked in the order: file at least 80 bytes (else `Truncated`), magic (`BadMagic`),
//! checksum (`Checksum`), version (`UnsupportedVersion`), every handle ends before the footer.
//!
//! **Worked example**: one entry `("a", seqno 1, Put) -> "v"`, no compression, no filter;
//! 200 bytes, pinned by test `worked_example_file_bytes` (`sst/tests.rs`):
//! ```text
//! 0000  00 09 01 | 61 01 01 00 00 00 00 00 00 | 76   data block: shared 0, unshared 9,
//!                                                    value_len 1, key "a"@1 Put, value "v"
//! 000d  00 00 00 00 | 01 00 00 00                    restart [0], restart count 1
//! 0015  00 | 1a 0a e3 8e                             trailer: type 0, masked CRC
//! 001a  00 00 00 00 | 00 bc 75 ed 8e                 range-del block (empty) + trailer
//! 0023  00 d2 8f 25 49                               filter block (empty = none) + trailer
//! 0028  02 01 04 00 06 00 08 09 0a 01 0c 01 0e 1a    properties (48 bytes): entry_count 1,
//!       10 1b 12 05 14 01 16 01 19 09 61 01 01 00    ..., data_bytes 26, index_bytes 27,
//!       00 00 00 00 00 1b 09 61 01 .. 00 1c 00 1e 00 filter_bytes 5, seqnos 1..1, bounds,
//!                                                    compression 0, bloom bits 0
//! 0058  00 30 05 35 42                               trailer
//! 005d  00 09 02 | 61 01 01 00 .. 00 | 00 15         index: key "a"@1 -> handle (0, 21)
//! 006f  00 00 00 00 01 00 00 00 | 00 36 49 25 bf     restart [0], count 1; trailer
//! 0078  1a 00.. 04 00.. | 23 00.. 00 00.. |          footer: range-del (26, 4), filter (35, 0),
//!       28 00.. 30 00.. | 5d 00.. 16 00.. |          properties (40, 48), index (93, 22),
//!       01 00 00 00 | 63 61 69 72 6e 53 53 54 |      version 1, magic "cairnSST",
//!       21 68 cf 9a                                  masked CRC of the 76 bytes before
//! ```

mod block;
mod builder;
mod cache;
mod filter;
mod format;
mod properties;
mod table;

#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod tests;

pub use builder::{BuiltTable, TableBuilder, TableBuilderOptions};
pub use cache::BlockCache;
pub use properties::TableProperties;
pub use table::{Table, TableIter};

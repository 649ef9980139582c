//! Physical layer of the SSTable format: block handles, block trailers (compression type and
//! checksum), per-block compression, and the fixed-size footer.
//!
//! Role: [`super::builder`] turns finished block contents into stored bytes with
//! [`BlockCompressor`] and [`append_trailer`]; [`super::table`] checks stored bytes with
//! [`unseal_block`] and parses the footer with [`Footer::decode`]. The byte layout is
//! documented in the parent module (`sst/mod.rs`) and in `docs/format/sstable.md`.
//!
//! Invariants:
//! 1. A stored block is accepted only if its masked CRC-32C over `stored bytes ++ type byte`
//!    matches (test `sst::tests::flipped_byte_in_data_block_is_corruption_at_that_block`).
//! 2. Decompression never allocates more than [`BLOCK_BYTES_MAX`] nor more than the
//!    compressor could have produced from the stored size (fuzz target `sst_block`,
//!    test `decompress_rejects_absurd_sizes`).
//! 3. The footer is checked in the order magic, checksum, version, so that a file that is not
//!    an SSTable reports `BadMagic` and a damaged footer reports `Checksum`
//!    (tests `footer_*` below).
//!
//! Concurrency: pure functions, except [`BlockCompressor`] (one per builder) and the
//! per-thread zstd decompression context in [`unseal_block`].

use std::cell::RefCell;
use std::path::Path;

use cairn_codec::{crc, DecodeError, DecodeErrorReason, Decoder};

use crate::error::{CorruptionKind, Error, Result};
use crate::options::Compression;

/// Bytes after each stored block: compression type u8 + masked CRC-32C u32 LE.
pub(crate) const BLOCK_TRAILER_BYTES: usize = 5;

/// Size of the footer at the end of every table.
pub(crate) const FOOTER_BYTES: usize = 80;

/// The only footer format version this code reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Magic number closing the footer: the ASCII bytes `cairnSST` read as a little-endian u64.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"cairnSST");

/// Largest uncompressed block the reader accepts (1 GiB). The builder stays far below it: a
/// block is cut at `block_bytes` (clamped to [`BLOCK_TARGET_BYTES_MAX`]) and a single entry is
/// limited to [`ENTRY_BYTES_MAX`].
pub(crate) const BLOCK_BYTES_MAX: usize = 1 << 30;

/// Largest `block_bytes` the builder honours (256 MiB); larger settings are clamped.
pub(crate) const BLOCK_TARGET_BYTES_MAX: usize = 256 << 20;

/// Largest key plus value of one entry (512 MiB), so that a block stays below
/// [`BLOCK_BYTES_MAX`].
pub(crate) const ENTRY_BYTES_MAX: usize = 512 << 20;

/// Compression type byte: stored bytes are the block contents.
pub(crate) const COMPRESSION_NONE: u8 = 0;
/// Compression type byte: `u32 LE uncompressed length` ++ LZ4 block.
pub(crate) const COMPRESSION_LZ4: u8 = 1;
/// Compression type byte: `u32 LE uncompressed length` ++ one zstd frame.
pub(crate) const COMPRESSION_ZSTD: u8 = 2;

/// Largest expansion an LZ4 block can encode: a match token extends by at most 255 bytes of
/// output per input byte.
const LZ4_EXPANSION_MAX: usize = 255;

/// Largest expansion a zstd frame can encode (an RLE block of 128 KiB takes 4 bytes, so
/// ~32768x), used only as a sanity bound before allocating.
const ZSTD_EXPANSION_MAX: usize = 1 << 15;

/// Where a block's stored bytes are in the file (the trailer follows them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BlockHandle {
    /// File offset of the first stored byte.
    pub offset: u64,
    /// Stored bytes, excluding the 5-byte trailer.
    pub size: u64,
}

impl BlockHandle {
    /// Offset just past the block's trailer, `None` on overflow (a damaged handle).
    pub fn end_with_trailer(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(BLOCK_TRAILER_BYTES as u64)
    }

    /// Appends the handle as two varints (the form used in index entries).
    pub fn encode_varint(&self, out: &mut Vec<u8>) {
        cairn_codec::varint::put_u64(out, self.offset);
        cairn_codec::varint::put_u64(out, self.size);
    }

    /// Reads the two-varint form.
    pub fn decode_varint(d: &mut Decoder<'_>) -> Result<BlockHandle, DecodeError> {
        let offset = d.varint_u64()?;
        let size = d.varint_u64()?;
        Ok(BlockHandle { offset, size })
    }

    fn decode_fixed(d: &mut Decoder<'_>) -> Result<BlockHandle, DecodeError> {
        let offset = d.u64_le("block handle offset")?;
        let size = d.u64_le("block handle size")?;
        Ok(BlockHandle { offset, size })
    }

    fn encode_fixed(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
    }
}

/// The fixed-size record at the end of the file locating the meta blocks and the index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Footer {
    pub range_del: BlockHandle,
    pub filter: BlockHandle,
    pub properties: BlockHandle,
    pub index: BlockHandle,
}

impl Footer {
    /// The 80 footer bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_BYTES);
        self.range_del.encode_fixed(&mut out);
        self.filter.encode_fixed(&mut out);
        self.properties.encode_fixed(&mut out);
        self.index.encode_fixed(&mut out);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&MAGIC.to_le_bytes());
        let checksum = crc::mask(crc::crc32c(&out));
        out.extend_from_slice(&checksum.to_le_bytes());
        debug_assert_eq!(out.len(), FOOTER_BYTES);
        out
    }

    /// Parses the footer read from `footer_offset` of `path`. Every handle must end (trailer
    /// included) at or before the footer.
    pub fn decode(bytes: &[u8], path: &Path, footer_offset: u64) -> Result<Footer> {
        let at = |rel: usize| footer_offset + rel as u64;
        if bytes.len() != FOOTER_BYTES {
            let kind = CorruptionKind::Truncated {
                size: footer_offset + bytes.len() as u64,
            };
            return Err(Error::corruption(path, footer_offset, kind));
        }
        let dec_err = |e: DecodeError| Error::decode(path, footer_offset, e);
        let mut d = Decoder::new(bytes);
        let range_del = BlockHandle::decode_fixed(&mut d).map_err(dec_err)?;
        let filter = BlockHandle::decode_fixed(&mut d).map_err(dec_err)?;
        let properties = BlockHandle::decode_fixed(&mut d).map_err(dec_err)?;
        let index = BlockHandle::decode_fixed(&mut d).map_err(dec_err)?;
        let version = d.u32_le("footer version").map_err(dec_err)?;
        let magic_pos = d.position();
        let magic = d.u64_le("footer magic").map_err(dec_err)?;
        let crc_pos = d.position();
        let stored = d.u32_le("footer checksum").map_err(dec_err)?;
        if magic != MAGIC {
            return Err(Error::corruption(
                path,
                at(magic_pos),
                CorruptionKind::BadMagic { found: magic },
            ));
        }
        let covered = bytes.get(..crc_pos).unwrap_or(&[]);
        cairn_codec::verify_masked_crc(covered, stored, 0, "sstable footer").map_err(dec_err)?;
        if version != FORMAT_VERSION {
            return Err(Error::corruption(
                path,
                at(64),
                CorruptionKind::UnsupportedVersion(version),
            ));
        }
        let footer = Footer {
            range_del,
            filter,
            properties,
            index,
        };
        for (i, h) in [range_del, filter, properties, index].iter().enumerate() {
            let ok = h.end_with_trailer().is_some_and(|end| end <= footer_offset);
            if !ok {
                let kind = CorruptionKind::Invalid("footer block handle points past the footer");
                return Err(Error::corruption(path, at(i * 16), kind));
            }
        }
        Ok(footer)
    }
}

/// Appends the 5-byte trailer for `stored` (already in `out` or about to be written) to `out`.
pub(crate) fn trailer_bytes(stored: &[u8], compression_type: u8) -> [u8; BLOCK_TRAILER_BYTES] {
    let checksum = crc::mask(crc::crc32c_parts(&[stored, &[compression_type]]));
    let c = checksum.to_le_bytes();
    [compression_type, c[0], c[1], c[2], c[3]]
}

/// Compresses block contents for one builder, reusing its buffers and zstd context.
pub(crate) struct BlockCompressor {
    compression: Compression,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    /// Stored form of the last compressed block.
    out: Vec<u8>,
    /// zstd output before the length prefix is added.
    scratch: Vec<u8>,
}

impl BlockCompressor {
    pub fn new(compression: Compression) -> Result<BlockCompressor> {
        let zstd = match compression {
            Compression::Zstd(level) => {
                Some(zstd::bulk::Compressor::new(level).map_err(|_| {
                    Error::InvalidArgument("zstd compression level is not accepted")
                })?)
            }
            Compression::None | Compression::Lz4 => None,
        };
        Ok(BlockCompressor {
            compression,
            zstd,
            out: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// The stored bytes and compression type for `raw`. A block is stored compressed only if
    /// that saves at least 1/8 of its size, so reads of poorly compressible data do not pay
    /// for decompression.
    pub fn compress<'a>(&'a mut self, raw: &'a [u8]) -> (&'a [u8], u8) {
        assert!(
            raw.len() <= BLOCK_BYTES_MAX,
            "block of {} bytes exceeds the maximum",
            raw.len()
        );
        let limit = raw.len() - raw.len() / 8;
        let compressed_type = match self.compression {
            Compression::None => return (raw, COMPRESSION_NONE),
            Compression::Lz4 => {
                let max = lz4_flex::block::get_maximum_output_size(raw.len());
                self.out.clear();
                self.out.resize(4 + max, 0);
                let written = match self.out.get_mut(4..) {
                    Some(dst) => lz4_flex::block::compress_into(raw, dst).ok(),
                    None => None,
                };
                match written {
                    Some(n) => self.out.truncate(4 + n),
                    None => return (raw, COMPRESSION_NONE),
                }
                COMPRESSION_LZ4
            }
            Compression::Zstd(_) => {
                let Some(z) = self.zstd.as_mut() else {
                    return (raw, COMPRESSION_NONE);
                };
                self.scratch.clear();
                self.scratch
                    .reserve(zstd::zstd_safe::compress_bound(raw.len()));
                if z.compress_to_buffer(raw, &mut self.scratch).is_err() {
                    return (raw, COMPRESSION_NONE);
                }
                self.out.clear();
                self.out.extend_from_slice(&[0; 4]);
                self.out.extend_from_slice(&self.scratch);
                COMPRESSION_ZSTD
            }
        };
        // The prefix always fits: raw.len() <= BLOCK_BYTES_MAX < u32::MAX.
        let raw_len = u32::try_from(raw.len()).unwrap_or(u32::MAX).to_le_bytes();
        if let Some(prefix) = self.out.get_mut(..4) {
            prefix.copy_from_slice(&raw_len);
        }
        if self.out.len() <= limit {
            (&self.out, compressed_type)
        } else {
            (raw, COMPRESSION_NONE)
        }
    }
}

thread_local! {
    /// One zstd decompression context per reading thread: creating one per block would cost
    /// an allocation of ~100 KiB on every read.
    static ZSTD_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// Checks the trailer of a stored block and returns its uncompressed contents.
///
/// `buf` holds the stored bytes followed by the 5-byte trailer, exactly as read from the file
/// at `offset`. On success the returned vector is `buf` itself (uncompressed blocks, so no
/// copy) or a fresh decompressed buffer. The bool says whether the block was compressed.
pub(crate) fn unseal_block(mut buf: Vec<u8>, path: &Path, offset: u64) -> Result<(Vec<u8>, bool)> {
    let stored_len = match buf.len().checked_sub(BLOCK_TRAILER_BYTES) {
        Some(n) => n,
        None => {
            let kind = CorruptionKind::Invalid("block shorter than its trailer");
            return Err(Error::corruption(path, offset, kind));
        }
    };
    let (covered, crc_bytes) = buf.split_at(stored_len + 1);
    let mut d = Decoder::new(crc_bytes);
    let stored_crc = d
        .u32_le("block checksum")
        .map_err(|e| Error::decode(path, offset, e))?;
    let computed = crc::crc32c(covered);
    let stored = crc::unmask(stored_crc);
    if computed != stored {
        return Err(Error::corruption(
            path,
            offset,
            CorruptionKind::Checksum { stored, computed },
        ));
    }
    let compression_type = covered.get(stored_len).copied().unwrap_or(u8::MAX);
    let stored_bytes = covered.get(..stored_len).unwrap_or(&[]);
    match compression_type {
        COMPRESSION_NONE => {
            buf.truncate(stored_len);
            Ok((buf, false))
        }
        COMPRESSION_LZ4 | COMPRESSION_ZSTD => {
            let raw = decompress(compression_type, stored_bytes)
                .map_err(|kind| Error::corruption(path, offset, kind))?;
            Ok((raw, true))
        }
        other => Err(Error::decode(
            path,
            offset + stored_len as u64,
            DecodeError {
                offset: 0,
                what: "block compression type",
                reason: DecodeErrorReason::UnknownTag(u64::from(other)),
            },
        )),
    }
}

/// Decompresses `stored` (length prefix + compressed payload) of the given type.
pub(crate) fn decompress(compression_type: u8, stored: &[u8]) -> Result<Vec<u8>, CorruptionKind> {
    let mut d = Decoder::new(stored);
    let raw_len = d
        .u32_le("compressed block length")
        .map_err(CorruptionKind::Decode)?;
    let raw_len = usize::try_from(raw_len).unwrap_or(usize::MAX);
    let payload = d.remaining();
    let expansion_max = match compression_type {
        COMPRESSION_LZ4 => LZ4_EXPANSION_MAX,
        COMPRESSION_ZSTD => ZSTD_EXPANSION_MAX,
        _ => return Err(CorruptionKind::Invalid("unknown block compression type")),
    };
    let plausible = payload
        .len()
        .saturating_mul(expansion_max)
        .saturating_add(64);
    if raw_len > BLOCK_BYTES_MAX || raw_len > plausible {
        return Err(CorruptionKind::Invalid(
            "compressed block claims an impossible size",
        ));
    }
    if compression_type == COMPRESSION_LZ4 {
        let mut out = vec![0u8; raw_len];
        match lz4_flex::block::decompress_into(payload, &mut out) {
            Ok(n) if n == raw_len => Ok(out),
            _ => Err(CorruptionKind::Invalid("lz4 block does not decompress")),
        }
    } else {
        let mut out = Vec::with_capacity(raw_len);
        let result = ZSTD_DECOMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = zstd::bulk::Decompressor::new().ok();
            }
            match slot.as_mut() {
                Some(z) => z.decompress_to_buffer(payload, &mut out).ok(),
                None => None,
            }
        });
        match result {
            Some(n) if n == raw_len && out.len() == raw_len => Ok(out),
            _ => Err(CorruptionKind::Invalid("zstd block does not decompress")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(raw: &[u8], compression: Compression) -> Vec<u8> {
        let mut c = BlockCompressor::new(compression).expect("compressor");
        let (stored, t) = c.compress(raw);
        let mut out = stored.to_vec();
        out.extend_from_slice(&trailer_bytes(stored, t));
        out
    }

    #[test]
    fn sealed_block_round_trips_for_each_compression() {
        let raw: Vec<u8> = b"abcdefgh".iter().cycle().take(4000).copied().collect();
        for (compression, expect_type) in [
            (Compression::None, COMPRESSION_NONE),
            (Compression::Lz4, COMPRESSION_LZ4),
            (Compression::Zstd(3), COMPRESSION_ZSTD),
        ] {
            let sealed = seal(&raw, compression);
            assert_eq!(sealed.get(sealed.len() - 5).copied(), Some(expect_type));
            let (back, compressed) = unseal_block(sealed, Path::new("t"), 7).expect("unseal");
            assert_eq!(back, raw);
            assert_eq!(compressed, expect_type != COMPRESSION_NONE);
        }
    }

    #[test]
    fn incompressible_block_is_stored_raw() {
        // A de Bruijn-free pseudo-random block does not shrink by 1/8.
        let mut x = 0x1234_5678_9abc_def0u64;
        let raw: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect();
        for compression in [Compression::Lz4, Compression::Zstd(3)] {
            let sealed = seal(&raw, compression);
            assert_eq!(
                sealed.get(sealed.len() - 5).copied(),
                Some(COMPRESSION_NONE)
            );
        }
    }

    #[test]
    fn decompress_rejects_absurd_sizes() {
        let mut stored = u32::MAX.to_le_bytes().to_vec();
        stored.extend_from_slice(&[0, 1, 2]);
        assert!(decompress(COMPRESSION_LZ4, &stored).is_err());
        assert!(decompress(COMPRESSION_ZSTD, &stored).is_err());
        assert!(decompress(9, &stored).is_err());
        assert!(decompress(COMPRESSION_LZ4, &[1]).is_err());
    }

    #[test]
    fn footer_round_trips() {
        let h = |o, s| BlockHandle { offset: o, size: s };
        let f = Footer {
            range_del: h(10, 4),
            filter: h(19, 0),
            properties: h(24, 30),
            index: h(59, 9),
        };
        let bytes = f.encode();
        assert_eq!(bytes.len(), FOOTER_BYTES);
        assert_eq!(Footer::decode(&bytes, Path::new("t"), 73).ok(), Some(f));
    }

    #[test]
    fn footer_reports_magic_then_checksum_then_version() {
        let f = Footer::default().encode();
        let flipped = |at: usize| {
            let mut b = f.clone();
            if let Some(x) = b.get_mut(at) {
                *x ^= 1;
            }
            b
        };
        let bad_magic = flipped(70);
        let e = Footer::decode(&bad_magic, Path::new("t"), 100).err();
        assert!(
            matches!(
                e,
                Some(Error::Corruption {
                    offset: 168,
                    kind: CorruptionKind::BadMagic { .. },
                    ..
                })
            ),
            "{e:?}"
        );
        let bad_crc = flipped(3);
        let e = Footer::decode(&bad_crc, Path::new("t"), 100).err();
        assert!(
            matches!(
                e,
                Some(Error::Corruption {
                    kind: CorruptionKind::Checksum { .. },
                    ..
                })
            ),
            "{e:?}"
        );
        // A different version with a valid checksum is an unsupported version.
        let mut v2 = f.get(..64).expect("footer prefix").to_vec();
        v2.extend_from_slice(&2u32.to_le_bytes());
        v2.extend_from_slice(&MAGIC.to_le_bytes());
        let c = crc::mask(crc::crc32c(&v2));
        v2.extend_from_slice(&c.to_le_bytes());
        let e = Footer::decode(&v2, Path::new("t"), 100).err();
        assert!(
            matches!(
                e,
                Some(Error::Corruption {
                    offset: 164,
                    kind: CorruptionKind::UnsupportedVersion(2),
                    ..
                })
            ),
            "{e:?}"
        );
    }

    #[test]
    fn footer_rejects_handle_past_footer() {
        let f = Footer {
            index: BlockHandle {
                offset: 90,
                size: 20,
            },
            ..Footer::default()
        };
        let e = Footer::decode(&f.encode(), Path::new("t"), 100).err();
        assert!(
            matches!(e, Some(Error::Corruption { offset: 148, .. })),
            "{e:?}"
        );
    }
}

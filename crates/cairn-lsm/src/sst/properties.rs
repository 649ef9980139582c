//! Table properties: counts, sizes, key and seqno bounds of one table, stored in its
//! properties block.
//!
//! Role: computed by [`super::builder::TableBuilder`], returned by `finish` and
//! [`super::Table::properties`]; the engine copies the bounds into its `FileMeta`.
//!
//! # Format (contents of the properties block)
//! A sequence of fields, each `| tag varint | value |` with `tag = field_number << 1 | wire`:
//! wire 0 = value is a varint, wire 1 = value is a varint length then that many bytes.
//! Fields, in the order written:
//! ```text
//!  1 entry_count        2 deletion_count     3 range_deletion_count  4 raw_key_bytes
//!  5 raw_value_bytes    6 data_block_count   7 data_bytes            8 index_bytes
//!  9 filter_bytes      10 seqno_smallest    11 seqno_largest        12 smallest (bytes)
//! 13 largest (bytes)   14 compression       15 bloom_bits_per_key
//! 16 bloom_strip_suffix_bytes (only when non-zero: the filter holds user keys without
//!    their last n bytes)
//! ```
//! A missing field reads as zero/empty; an unknown field is skipped using its wire type, so a
//! later version may add fields. A field repeated reads as its last value.
//! Example: `{ entry_count: 3, smallest: "k" }` (other fields 0) starts `02 03 04 00 06 00 ...`
//! and contains `19 01 6b` (tag 12<<1|1 = 0x19, length 1, `k`).
//!
//! Invariants: `decode(encode(p)) == p` (proptest `properties_round_trip`); decoding never
//! panics (same test feeds arbitrary bytes).

use cairn_codec::{varint, DecodeError, DecodeErrorReason, Decoder};

use crate::ikey::SeqNo;

/// What a table holds, as recorded when it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableProperties {
    /// Point entries (puts and deletes).
    pub entry_count: u64,
    /// Point deletes among them.
    pub deletion_count: u64,
    /// Range tombstones.
    pub range_deletion_count: u64,
    /// Sum of the internal-key lengths of point entries (uncompressed).
    pub raw_key_bytes: u64,
    /// Sum of the value lengths of point entries (uncompressed).
    pub raw_value_bytes: u64,
    pub data_block_count: u64,
    /// Bytes of the data region: all stored data blocks including their 5-byte trailers.
    pub data_bytes: u64,
    /// Stored bytes of the index block including its trailer.
    pub index_bytes: u64,
    /// Stored bytes of the filter block including its trailer (5 when there is no filter).
    pub filter_bytes: u64,
    /// Smallest and largest seqno over point entries and range tombstones (0 if none).
    pub seqno_smallest: SeqNo,
    pub seqno_largest: SeqNo,
    /// Smallest / largest internal key covering point entries AND range tombstones: a tombstone
    /// [s,e)@n contributes ikey(s, n, RangeDelete) and ikey(e, SEQNO_MAX, RangeDelete).
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    /// Compression type byte the table was written with (per-block type may be 0 where
    /// compression did not pay off).
    pub compression: u8,
    pub bloom_bits_per_key: u32,
    /// The filter holds user keys without their last this-many bytes (0 = whole keys).
    /// Written only when non-zero.
    pub bloom_strip_suffix_bytes: u32,
}

const WIRE_VARINT: u64 = 0;
const WIRE_BYTES: u64 = 1;

fn put_varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    varint::put_u64(out, field << 1 | WIRE_VARINT);
    varint::put_u64(out, v);
}

fn put_bytes_field(out: &mut Vec<u8>, field: u64, v: &[u8]) {
    varint::put_u64(out, field << 1 | WIRE_BYTES);
    varint::put_len_prefixed(out, v);
}

impl TableProperties {
    /// The properties block contents.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.smallest.len() + self.largest.len());
        put_varint_field(&mut out, 1, self.entry_count);
        put_varint_field(&mut out, 2, self.deletion_count);
        put_varint_field(&mut out, 3, self.range_deletion_count);
        put_varint_field(&mut out, 4, self.raw_key_bytes);
        put_varint_field(&mut out, 5, self.raw_value_bytes);
        put_varint_field(&mut out, 6, self.data_block_count);
        put_varint_field(&mut out, 7, self.data_bytes);
        put_varint_field(&mut out, 8, self.index_bytes);
        put_varint_field(&mut out, 9, self.filter_bytes);
        put_varint_field(&mut out, 10, self.seqno_smallest);
        put_varint_field(&mut out, 11, self.seqno_largest);
        put_bytes_field(&mut out, 12, &self.smallest);
        put_bytes_field(&mut out, 13, &self.largest);
        put_varint_field(&mut out, 14, u64::from(self.compression));
        put_varint_field(&mut out, 15, u64::from(self.bloom_bits_per_key));
        if self.bloom_strip_suffix_bytes != 0 {
            put_varint_field(&mut out, 16, u64::from(self.bloom_strip_suffix_bytes));
        }
        out
    }

    /// Parses properties block contents; offsets in errors are relative to the block.
    pub(crate) fn decode(bytes: &[u8]) -> Result<TableProperties, DecodeError> {
        let mut p = TableProperties::default();
        let mut d = Decoder::new(bytes);
        while !d.is_empty() {
            let tag_at = d.position();
            let tag = d.varint_u64()?;
            let (field, wire) = (tag >> 1, tag & 1);
            if wire == WIRE_BYTES {
                let v = d.len_prefixed("property bytes")?;
                match field {
                    12 => p.smallest = v.to_vec(),
                    13 => p.largest = v.to_vec(),
                    1..=11 | 14..=16 => {
                        return Err(DecodeError {
                            offset: tag_at,
                            what: "property wire type",
                            reason: DecodeErrorReason::Malformed,
                        })
                    }
                    _ => {}
                }
                continue;
            }
            let value_at = d.position();
            let v = d.varint_u64()?;
            let out_of_range = || DecodeError {
                offset: value_at,
                what: "property value",
                reason: DecodeErrorReason::OutOfRange,
            };
            match field {
                1 => p.entry_count = v,
                2 => p.deletion_count = v,
                3 => p.range_deletion_count = v,
                4 => p.raw_key_bytes = v,
                5 => p.raw_value_bytes = v,
                6 => p.data_block_count = v,
                7 => p.data_bytes = v,
                8 => p.index_bytes = v,
                9 => p.filter_bytes = v,
                10 => p.seqno_smallest = v,
                11 => p.seqno_largest = v,
                14 => p.compression = u8::try_from(v).map_err(|_| out_of_range())?,
                15 => p.bloom_bits_per_key = u32::try_from(v).map_err(|_| out_of_range())?,
                16 => {
                    p.bloom_strip_suffix_bytes = u32::try_from(v).map_err(|_| out_of_range())?;
                }
                12 | 13 => {
                    return Err(DecodeError {
                        offset: tag_at,
                        what: "property wire type",
                        reason: DecodeErrorReason::Malformed,
                    })
                }
                _ => {}
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example_bytes() {
        let p = TableProperties {
            entry_count: 3,
            smallest: b"k".to_vec(),
            ..Default::default()
        };
        let bytes = p.encode();
        assert_eq!(
            bytes.get(..6),
            Some([0x02, 0x03, 0x04, 0x00, 0x06, 0x00].as_slice())
        );
        assert!(bytes.windows(3).any(|w| w == [0x19, 0x01, 0x6b]));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut bytes = TableProperties {
            entry_count: 9,
            ..Default::default()
        }
        .encode();
        put_varint_field(&mut bytes, 99, 5);
        put_bytes_field(&mut bytes, 100, b"future");
        let p = TableProperties::decode(&bytes).expect("decodes");
        assert_eq!(p.entry_count, 9);
    }

    proptest! {
        #[test]
        fn properties_round_trip(
            counts in proptest::array::uniform11(any::<u64>()),
            smallest: Vec<u8>, largest: Vec<u8>, compression: u8, bits: u32, strip: u32,
            garbage: Vec<u8>,
        ) {
            let [a, b, c, d, e, f, g, h, i, j, k] = counts;
            let p = TableProperties {
                entry_count: a, deletion_count: b, range_deletion_count: c, raw_key_bytes: d,
                raw_value_bytes: e, data_block_count: f, data_bytes: g, index_bytes: h,
                filter_bytes: i, seqno_smallest: j, seqno_largest: k, smallest, largest,
                compression, bloom_bits_per_key: bits, bloom_strip_suffix_bytes: strip,
            };
            prop_assert_eq!(TableProperties::decode(&p.encode()), Ok(p));
            let _ = TableProperties::decode(&garbage);
        }
    }
}

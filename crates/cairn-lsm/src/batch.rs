//! Write batches: a group of puts, deletes and range deletes applied atomically, and the
//! payload of one WAL record.
//!
//! # Format
//! ```text
//! +--------------+-------------+----------------------------------------------+
//! | seqno u64 LE | count u32 LE | op * count                                  |
//! +--------------+-------------+----------------------------------------------+
//! op = kind u8 | varint key_len | key | (Put, RangeDelete: varint len | value or end key)
//! ```
//! The i-th op (from 0) gets sequence number `seqno + i`. A Delete carries no value.
//! Example: a batch at seqno 7 holding `put("a", "b")`:
//! `07 00 00 00 00 00 00 00 | 01 00 00 00 | 01 01 61 01 62`.
//!
//! Invariants: `count` equals the number of ops (checked by [`BatchOps`] when decoding; a
//! mismatch is corruption); an empty batch is never written to the WAL.

use cairn_codec::{varint, DecodeError, DecodeErrorReason, Decoder};

use crate::ikey::{SeqNo, ValueKind};

/// Bytes of the batch header (seqno + count).
pub const HEADER_BYTES: usize = 12;

/// An atomic group of writes.
#[derive(Debug, Clone)]
pub struct WriteBatch {
    rep: Vec<u8>,
    count: u32,
    user_bytes: u64,
    /// Longest key and longest value (or range end) in the batch, checked against the limits.
    key_bytes_max: usize,
    value_bytes_max: usize,
}

/// Largest key the engine accepts (16 MiB).
pub const KEY_BYTES_MAX: usize = 16 << 20;
/// Largest value the engine accepts (256 MiB; a table block must hold one entry).
pub const VALUE_BYTES_MAX: usize = 256 << 20;
/// Largest encoded batch (512 MiB; one WAL record holds one batch).
pub const BATCH_BYTES_MAX: usize = 512 << 20;

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl WriteBatch {
    pub fn new() -> Self {
        WriteBatch {
            rep: vec![0; HEADER_BYTES],
            count: 0,
            user_bytes: 0,
            key_bytes_max: 0,
            value_bytes_max: 0,
        }
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.push(ValueKind::Put, key, Some(value));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: &[u8]) {
        self.push(ValueKind::Delete, key, None);
    }

    /// Deletes every key in `[start, end)`. An empty range (start >= end) is a no-op.
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) {
        if start < end {
            self.push(ValueKind::RangeDelete, start, Some(end));
        }
    }

    fn push(&mut self, kind: ValueKind, key: &[u8], value: Option<&[u8]>) {
        self.rep.push(kind as u8);
        varint::put_len_prefixed(&mut self.rep, key);
        if let Some(v) = value {
            varint::put_len_prefixed(&mut self.rep, v);
        }
        self.count += 1;
        self.user_bytes += (key.len() + value.map_or(0, <[u8]>::len)) as u64;
        self.key_bytes_max = self.key_bytes_max.max(key.len());
        self.value_bytes_max = self.value_bytes_max.max(value.map_or(0, <[u8]>::len));
    }

    /// Checks the size limits ([`KEY_BYTES_MAX`], [`VALUE_BYTES_MAX`], [`BATCH_BYTES_MAX`]).
    pub fn check_limits(&self) -> Result<(), &'static str> {
        if self.key_bytes_max > KEY_BYTES_MAX {
            return Err("key longer than 16 MiB");
        }
        if self.value_bytes_max > VALUE_BYTES_MAX {
            return Err("value longer than 256 MiB");
        }
        if self.rep.len() > BATCH_BYTES_MAX || self.count == u32::MAX {
            return Err("write batch larger than 512 MiB");
        }
        Ok(())
    }

    /// Number of operations.
    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Key and value bytes the user wrote (for write-amplification accounting).
    pub fn user_bytes(&self) -> u64 {
        self.user_bytes
    }

    /// Encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.rep.len()
    }

    /// Stamps the first sequence number and count into the header; returns the encoding.
    pub(crate) fn seal(&mut self, seqno: SeqNo) -> &[u8] {
        let count = self.count.to_le_bytes();
        let seq = seqno.to_le_bytes();
        for (dst, src) in self.rep.iter_mut().zip(seq.iter().chain(count.iter())) {
            *dst = *src;
        }
        &self.rep
    }

    /// The batch's operations in the order they were added, with sequence numbers from 0 (a
    /// layer that ships the batch elsewhere, such as the replicated MVCC commit, reads them
    /// here).
    pub fn ops(&self) -> Result<Vec<BatchOp<'_>>, DecodeError> {
        BatchOps {
            d: Decoder::new(self.rep.get(HEADER_BYTES..).unwrap_or(&[])),
            next_seqno: 0,
            remaining: self.count,
        }
        .collect_all()
    }

    /// The encoding (header as last sealed).
    pub(crate) fn encoded(&self) -> &[u8] {
        &self.rep
    }
}

/// One decoded operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOp<'a> {
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub key: &'a [u8],
    /// Value for Put, end key for RangeDelete, empty for Delete.
    pub value: &'a [u8],
}

/// Decodes an encoded batch (from the WAL): its first seqno and its ops.
pub struct BatchOps<'a> {
    d: Decoder<'a>,
    next_seqno: SeqNo,
    remaining: u32,
}

impl<'a> BatchOps<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<BatchOps<'a>, DecodeError> {
        let mut d = Decoder::new(bytes);
        let seqno = d.u64_le("batch seqno")?;
        let count = d.u32_le("batch count")?;
        let last = seqno.checked_add(u64::from(count).saturating_sub(1));
        if count == 0 || last.is_none_or(|l| l > crate::ikey::SEQNO_MAX) {
            return Err(d.error("batch count", DecodeErrorReason::OutOfRange));
        }
        Ok(BatchOps {
            d,
            next_seqno: seqno,
            remaining: count,
        })
    }

    /// Sequence number of the first op.
    pub fn first_seqno(&self) -> SeqNo {
        self.next_seqno
    }

    /// Decodes every op, checking that exactly `count` ops fill the payload.
    pub fn collect_all(mut self) -> Result<Vec<BatchOp<'a>>, DecodeError> {
        // Every op takes at least two bytes, which bounds a damaged count's allocation.
        let cap = (self.remaining as usize).min(self.d.remaining().len() / 2);
        let mut out = Vec::with_capacity(cap);
        while self.remaining > 0 {
            out.push(self.decode_op()?);
        }
        if !self.d.is_empty() {
            return Err(self
                .d
                .error("batch trailing bytes", DecodeErrorReason::Malformed));
        }
        Ok(out)
    }

    /// The next op, or `None` once all `count` ops were returned. Does not check for trailing
    /// bytes; [`Self::collect_all`] does.
    pub fn next_op(&mut self) -> Option<Result<BatchOp<'a>, DecodeError>> {
        if self.remaining == 0 {
            return None;
        }
        Some(self.decode_op())
    }

    fn decode_op(&mut self) -> Result<BatchOp<'a>, DecodeError> {
        let kind_byte = self.d.u8("batch op kind")?;
        let kind = ValueKind::from_u8(kind_byte).ok_or_else(|| {
            self.d.error(
                "batch op kind",
                DecodeErrorReason::UnknownTag(u64::from(kind_byte)),
            )
        })?;
        let key = self.d.len_prefixed("batch key")?;
        let value = match kind {
            ValueKind::Delete => &[][..],
            ValueKind::Put | ValueKind::RangeDelete => self.d.len_prefixed("batch value")?,
        };
        let op = BatchOp {
            seqno: self.next_seqno,
            kind,
            key,
            value,
        };
        self.next_seqno += 1;
        self.remaining -= 1;
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example() {
        let mut b = WriteBatch::new();
        b.put(b"a", b"b");
        let enc = b.seal(7).to_vec();
        assert_eq!(
            enc,
            vec![7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0x61, 1, 0x62]
        );
    }

    #[test]
    fn an_unsealed_batch_lists_its_ops_in_order() {
        let mut b = WriteBatch::new();
        assert!(b.ops().unwrap().is_empty());
        b.put(b"k1", b"v1");
        b.delete(b"k2");
        b.delete_range(b"a", b"c");
        let ops = b.ops().unwrap();
        let got: Vec<_> = ops.iter().map(|o| (o.kind, o.key, o.value)).collect();
        assert_eq!(
            got,
            vec![
                (ValueKind::Put, &b"k1"[..], &b"v1"[..]),
                (ValueKind::Delete, &b"k2"[..], &b""[..]),
                (ValueKind::RangeDelete, &b"a"[..], &b"c"[..]),
            ]
        );
    }

    #[test]
    fn ops_decode_with_consecutive_seqnos() {
        let mut b = WriteBatch::new();
        b.put(b"k1", b"v1");
        b.delete(b"k2");
        b.delete_range(b"a", b"c");
        b.delete_range(b"z", b"a"); // empty range: dropped
        assert_eq!(b.count(), 3);
        assert_eq!(b.user_bytes(), 2 + 2 + 2 + 1 + 1);
        let enc = b.seal(100).to_vec();
        let ops = BatchOps::new(&enc).and_then(BatchOps::collect_all);
        let ops = ops.ok().unwrap_or_default();
        assert_eq!(
            ops,
            vec![
                BatchOp {
                    seqno: 100,
                    kind: ValueKind::Put,
                    key: b"k1",
                    value: b"v1"
                },
                BatchOp {
                    seqno: 101,
                    kind: ValueKind::Delete,
                    key: b"k2",
                    value: b""
                },
                BatchOp {
                    seqno: 102,
                    kind: ValueKind::RangeDelete,
                    key: b"a",
                    value: b"c"
                },
            ]
        );
    }

    #[test]
    fn count_mismatch_is_an_error() {
        let mut b = WriteBatch::new();
        b.put(b"k", b"v");
        let mut enc = b.seal(1).to_vec();
        enc[8] = 2; // claims two ops
        assert!(BatchOps::new(&enc).and_then(BatchOps::collect_all).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes: Vec<u8>) {
            if let Ok(ops) = BatchOps::new(&bytes) {
                let _ = ops.collect_all();
            }
        }
    }
}

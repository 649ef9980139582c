//! The block format shared by data, range-deletion and index blocks: prefix-compressed
//! entries with restart points, plus a cursor ([`BlockIter`]) over a decoded block.
//!
//! Role: [`BlockBuilder`] is filled by [`super::builder::TableBuilder`]; [`Block`] and
//! [`BlockIter`] are used by [`super::table`] for point reads, iteration, the in-memory index
//! and the range tombstones.
//!
//! # Format (uncompressed contents; see `sst/mod.rs` for the trailer)
//! ```text
//! entry*: | shared varint | unshared varint | value_len varint | key[shared..] | value |
//! restart offsets: | u32 LE | * restart_count     (offset of an entry with shared = 0)
//! restart count:   | u32 LE |
//! ```
//! Every `restart_interval`-th entry starts a restart (full key, `shared = 0`); the first
//! entry is always one. An empty block is just `00 00 00 00` (no entries, no restarts).
//! Example (test `worked_example_bytes`): keys `ab`+t1, `ac`+t2 with trailer `t = 01 00..00`
//! (seqno 0, Put), values `x`, `` and restart interval 16:
//! ```text
//! 00 0a 01 61 62 01 00 00 00 00 00 00 00 78    entry 1: shared 0, unshared 10, value 1
//! 01 09 00 63 01 00 00 00 00 00 00 00          entry 2: shared 1 ("a"), unshared 9, value 0
//! 00 00 00 00 | 01 00 00 00                    restart offsets [0], restart count 1
//! ```
//!
//! Invariants:
//! 1. No input makes [`Block::new`] or [`BlockIter`] panic; damage is a [`DecodeError`] with
//!    the offset inside the block (proptest `block_decoder_never_panics`, fuzz `sst_block`).
//! 2. Restart offsets are strictly increasing, start at 0 and lie inside the entry region —
//!    checked by [`Block::new`]; the entry at a restart has `shared = 0` — checked on decode.
//! 3. With a global seqno, the key buffer holds the key *as read* (seqno replaced) but the
//!    next entry is decoded against the stored key: the stored trailer is put back before
//!    prefix decoding (test `global_seqno_patch_keeps_prefix_decoding_right`).
//!
//! Concurrency: a [`Block`] is immutable and shared (`Arc`) between the cache and cursors;
//! a [`BlockIter`] belongs to one thread.

use std::cmp::Ordering;
use std::sync::Arc;

use cairn_codec::{DecodeError, DecodeErrorReason, Decoder};

use crate::ikey::{self, SeqNo, ValueKind, TRAILER_BYTES};

/// Appends entries to one block.
#[derive(Debug)]
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    /// Entries since the last restart.
    since_restart: usize,
    last_key: Vec<u8>,
    entry_count: usize,
}

impl BlockBuilder {
    pub fn new(restart_interval: usize) -> BlockBuilder {
        BlockBuilder {
            buf: Vec::new(),
            restarts: Vec::new(),
            restart_interval: restart_interval.max(1),
            since_restart: 0,
            last_key: Vec::new(),
            entry_count: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entry_count == 0
    }

    /// Size of the block if it were finished now.
    pub fn estimated_bytes(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Appends one entry. The caller guarantees order (the table builder asserts it).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.since_restart >= self.restart_interval || self.entry_count == 0 {
            let offset = u32::try_from(self.buf.len()).expect("block offsets fit in u32");
            self.restarts.push(offset);
            self.since_restart = 0;
            0
        } else {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        let delta = key.get(shared..).unwrap_or(&[]);
        cairn_codec::varint::put_u64(&mut self.buf, shared as u64);
        cairn_codec::varint::put_u64(&mut self.buf, delta.len() as u64);
        cairn_codec::varint::put_u64(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(delta);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(delta);
        self.since_restart += 1;
        self.entry_count += 1;
    }

    /// Appends the restart array and returns the finished contents. Call [`Self::reset`]
    /// before adding again.
    pub fn finish(&mut self) -> &[u8] {
        for r in &self.restarts {
            self.buf.extend_from_slice(&r.to_le_bytes());
        }
        let count = u32::try_from(self.restarts.len()).expect("restart count fits in u32");
        self.buf.extend_from_slice(&count.to_le_bytes());
        &self.buf
    }

    pub fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.since_restart = 0;
        self.last_key.clear();
        self.entry_count = 0;
    }
}

/// A decoded (uncompressed) block whose restart array has been validated.
#[derive(Debug)]
pub(crate) struct Block {
    data: Vec<u8>,
    /// End of the entry region = start of the restart array.
    restarts_offset: usize,
    restart_count: usize,
    /// File offset of the stored block, for error reports.
    pub file_offset: u64,
    /// Whether the stored block was compressed (then offsets inside `data` are not file
    /// offsets, and errors name the block's start).
    pub compressed: bool,
}

/// Which keys a block may hold; anything else is damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyCheck {
    /// Data blocks: internal keys of kind Put or Delete.
    Point,
    /// Range-deletion blocks: internal keys of kind RangeDelete.
    RangeDel,
    /// Index blocks: any trailer (separators use the seek kind byte).
    Any,
}

impl KeyCheck {
    fn accepts(self, key: &[u8]) -> bool {
        if key.len() < TRAILER_BYTES {
            return false;
        }
        let kind = ikey::kind_of(key);
        match self {
            KeyCheck::Point => kind == ValueKind::Put as u8 || kind == ValueKind::Delete as u8,
            KeyCheck::RangeDel => kind == ValueKind::RangeDelete as u8,
            KeyCheck::Any => true,
        }
    }
}

/// A seek target: an internal key split into user key and trailer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub user_key: &'a [u8],
    pub trailer: u64,
}

impl<'a> Target<'a> {
    pub fn from_ikey(k: &'a [u8]) -> Target<'a> {
        Target {
            user_key: ikey::user_key(k),
            trailer: ikey::trailer_of(k),
        }
    }
}

/// The trailer of `key` as read from a table whose global seqno is `global_seqno`.
#[inline]
pub(crate) fn logical_trailer(key: &[u8], global_seqno: SeqNo) -> u64 {
    let t = ikey::trailer_of(key);
    if global_seqno == 0 {
        t
    } else {
        (global_seqno << 8) | (t & 0xff)
    }
}

/// Orders `key` (as read with `global_seqno`) against `target` in internal-key order.
#[inline]
pub(crate) fn cmp_to_target(key: &[u8], target: &Target<'_>, global_seqno: SeqNo) -> Ordering {
    match ikey::user_key(key).cmp(target.user_key) {
        Ordering::Equal => target.trailer.cmp(&logical_trailer(key, global_seqno)),
        o => o,
    }
}

fn err_at(offset: usize, what: &'static str, reason: DecodeErrorReason) -> DecodeError {
    DecodeError {
        offset,
        what,
        reason,
    }
}

fn shifted(mut e: DecodeError, by: usize) -> DecodeError {
    e.offset = e.offset.saturating_add(by);
    e
}

/// One decoded entry header.
struct Entry<'a> {
    shared: usize,
    delta: &'a [u8],
    value_start: usize,
    value_end: usize,
}

impl Block {
    /// Validates the restart array of `data` (uncompressed block contents).
    pub fn new(data: Vec<u8>, file_offset: u64, compressed: bool) -> Result<Block, DecodeError> {
        let len = data.len();
        let count_at = len
            .checked_sub(4)
            .ok_or_else(|| err_at(0, "block restart count", DecodeErrorReason::Truncated))?;
        let count = Decoder::new(data.get(count_at..).unwrap_or(&[]))
            .u32_le("block restart count")
            .map_err(|e| shifted(e, count_at))?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let restarts_offset = count
            .checked_mul(4)
            .and_then(|b| count_at.checked_sub(b))
            .ok_or_else(|| {
                err_at(
                    count_at,
                    "block restart count",
                    DecodeErrorReason::OutOfRange,
                )
            })?;
        let block = Block {
            data,
            restarts_offset,
            restart_count: count,
            file_offset,
            compressed,
        };
        if count == 0 {
            if restarts_offset != 0 {
                return Err(err_at(
                    count_at,
                    "block restart count",
                    DecodeErrorReason::Malformed,
                ));
            }
            return Ok(block);
        }
        let mut previous: Option<usize> = None;
        for i in 0..count {
            let r = block.restart(i);
            let ok = match previous {
                None => r == 0,
                Some(p) => r > p && r < restarts_offset,
            };
            if !ok || r >= restarts_offset {
                let at = restarts_offset + 4 * i;
                return Err(err_at(
                    at,
                    "block restart offset",
                    DecodeErrorReason::Malformed,
                ));
            }
            previous = Some(r);
        }
        Ok(block)
    }

    /// Bytes of decoded contents (the cache weight).
    pub fn size_bytes(&self) -> usize {
        self.data.len()
    }

    /// Restart offset `i`; validated by [`Block::new`] (0 if out of range).
    fn restart(&self, i: usize) -> usize {
        let at = self.restarts_offset + 4 * i;
        let bytes = self.data.get(at..at + 4).unwrap_or(&[0; 4]);
        let mut a = [0u8; 4];
        a.copy_from_slice(bytes);
        usize::try_from(u32::from_le_bytes(a)).unwrap_or(usize::MAX)
    }

    fn entry_at(&self, offset: usize) -> Result<Entry<'_>, DecodeError> {
        let region = self
            .data
            .get(offset..self.restarts_offset)
            .ok_or_else(|| err_at(offset, "block entry", DecodeErrorReason::Truncated))?;
        let mut d = Decoder::new(region);
        let mut e = read_entry(&mut d).map_err(|e| shifted(e, offset))?;
        e.value_start += offset;
        e.value_end += offset;
        Ok(e)
    }

    /// Full key stored at restart `i` (borrowed from the block).
    fn restart_key(&self, i: usize) -> Result<&[u8], DecodeError> {
        let at = self.restart(i);
        let e = self.entry_at(at)?;
        if e.shared != 0 {
            return Err(err_at(
                at,
                "restart entry shared length",
                DecodeErrorReason::Malformed,
            ));
        }
        Ok(e.delta)
    }
}

fn read_entry<'a>(d: &mut Decoder<'a>) -> Result<Entry<'a>, DecodeError> {
    let shared = d.varint_len("entry shared key length")?;
    let unshared = d.varint_len("entry key length")?;
    let value_len = d.varint_len("entry value length")?;
    let delta = d.bytes(unshared, "entry key")?;
    let value_start = d.position();
    d.bytes(value_len, "entry value")?;
    Ok(Entry {
        shared,
        delta,
        value_start,
        value_end: d.position(),
    })
}

/// A cursor over one block. Reuses its key buffer across blocks ([`BlockIter::reset`]).
#[derive(Debug)]
pub(crate) struct BlockIter {
    block: Arc<Block>,
    check: KeyCheck,
    global_seqno: SeqNo,
    key: Vec<u8>,
    /// Stored trailer of `key` while `key` carries the global seqno instead.
    saved_trailer: Option<[u8; TRAILER_BYTES]>,
    value_start: usize,
    value_end: usize,
    /// Offset of the current entry; `>= restarts_offset` when not valid.
    current: usize,
    next_offset: usize,
    /// Restart at or before `current`.
    restart_index: usize,
}

impl BlockIter {
    pub fn new(block: Arc<Block>, check: KeyCheck, global_seqno: SeqNo) -> BlockIter {
        let end = block.restarts_offset;
        BlockIter {
            block,
            check,
            global_seqno,
            key: Vec::new(),
            saved_trailer: None,
            value_start: 0,
            value_end: 0,
            current: end,
            next_offset: end,
            restart_index: 0,
        }
    }

    /// Moves to another block (not positioned), keeping the key buffer's allocation.
    pub fn reset(&mut self, block: Arc<Block>) {
        self.block = block;
        self.invalidate();
    }

    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }

    pub fn valid(&self) -> bool {
        self.current < self.block.restarts_offset
    }

    /// Current key (global seqno applied).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    pub fn value(&self) -> &[u8] {
        self.block
            .data
            .get(self.value_start..self.value_end)
            .unwrap_or(&[])
    }

    fn invalidate(&mut self) {
        self.current = self.block.restarts_offset;
        self.next_offset = self.block.restarts_offset;
        self.key.clear();
        self.saved_trailer = None;
        self.value_start = 0;
        self.value_end = 0;
    }

    fn fail<T>(&mut self, e: DecodeError) -> Result<T, DecodeError> {
        self.invalidate();
        Err(e)
    }

    /// Decodes the entry at `next_offset`; not valid afterwards at the end of the block.
    fn parse_next(&mut self) -> Result<(), DecodeError> {
        let offset = self.next_offset;
        if offset >= self.block.restarts_offset {
            self.invalidate();
            return Ok(());
        }
        if let Some(t) = self.saved_trailer.take() {
            let start = self.key.len().saturating_sub(TRAILER_BYTES);
            if let Some(dst) = self.key.get_mut(start..) {
                dst.copy_from_slice(&t);
            }
        }
        // Borrow the block field only, so the other fields stay writable (no Arc clone on
        // this per-entry path).
        let block: &Block = &self.block;
        let decoded = block.entry_at(offset).and_then(|e| {
            let mut ri = self.restart_index;
            while ri + 1 < block.restart_count && block.restart(ri + 1) <= offset {
                ri += 1;
            }
            let at_restart = block.restart_count > 0 && block.restart(ri) == offset;
            if e.shared > self.key.len() || (at_restart && e.shared != 0) {
                return Err(err_at(
                    offset,
                    "entry shared key length",
                    DecodeErrorReason::Malformed,
                ));
            }
            self.key.truncate(e.shared);
            self.key.extend_from_slice(e.delta);
            Ok((e.value_start, e.value_end, ri))
        });
        let (value_start, value_end, restart_index) = match decoded {
            Ok(d) => d,
            Err(e) => return self.fail(e),
        };
        if !self.check.accepts(&self.key) {
            return self.fail(err_at(
                offset,
                "entry internal key",
                DecodeErrorReason::Malformed,
            ));
        }
        self.restart_index = restart_index;
        self.current = offset;
        self.next_offset = value_end;
        self.value_start = value_start;
        self.value_end = value_end;
        if self.global_seqno != 0 {
            let start = self.key.len() - TRAILER_BYTES;
            if let Some(t) = self.key.get_mut(start..) {
                let mut stored = [0u8; TRAILER_BYTES];
                stored.copy_from_slice(t);
                let logical = (self.global_seqno << 8) | (u64::from_le_bytes(stored) & 0xff);
                t.copy_from_slice(&logical.to_le_bytes());
                self.saved_trailer = Some(stored);
            }
        }
        Ok(())
    }

    fn seek_to_restart(&mut self, i: usize) -> Result<(), DecodeError> {
        self.key.clear();
        self.saved_trailer = None;
        self.restart_index = i;
        self.next_offset = self.block.restart(i);
        self.parse_next()
    }

    pub fn seek_to_first(&mut self) -> Result<(), DecodeError> {
        if self.block.restart_count == 0 {
            self.invalidate();
            return Ok(());
        }
        self.seek_to_restart(0)
    }

    pub fn seek_to_last(&mut self) -> Result<(), DecodeError> {
        if self.block.restart_count == 0 {
            self.invalidate();
            return Ok(());
        }
        self.seek_to_restart(self.block.restart_count - 1)?;
        while self.valid() && self.next_offset < self.block.restarts_offset {
            self.parse_next()?;
        }
        Ok(())
    }

    /// Positions at the first entry `>= target`.
    pub fn seek(&mut self, target: &Target<'_>) -> Result<(), DecodeError> {
        let count = self.block.restart_count;
        if count == 0 {
            self.invalidate();
            return Ok(());
        }
        // Last restart whose key is < target (or restart 0).
        let (mut lo, mut hi) = (0usize, count - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let k = match self.block.restart_key(mid) {
                Ok(k) => k,
                Err(e) => return self.fail(e),
            };
            if cmp_to_target(k, target, self.global_seqno) == Ordering::Less {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        self.seek_to_restart(lo)?;
        while self.valid() && cmp_to_target(&self.key, target, 0) == Ordering::Less {
            self.parse_next()?;
        }
        Ok(())
    }

    /// Positions at the last entry `<= target`.
    pub fn seek_for_prev(&mut self, target: &Target<'_>) -> Result<(), DecodeError> {
        self.seek(target)?;
        if !self.valid() {
            return self.seek_to_last();
        }
        if cmp_to_target(&self.key, target, 0) == Ordering::Greater {
            self.prev()?;
        }
        Ok(())
    }

    pub fn next(&mut self) -> Result<(), DecodeError> {
        if !self.valid() {
            return Ok(());
        }
        self.parse_next()
    }

    pub fn prev(&mut self) -> Result<(), DecodeError> {
        if !self.valid() {
            return Ok(());
        }
        let original = self.current;
        let mut ri = self.restart_index;
        while self.block.restart(ri) >= original {
            if ri == 0 {
                self.invalidate();
                return Ok(());
            }
            ri -= 1;
        }
        self.seek_to_restart(ri)?;
        while self.valid() && self.next_offset < original {
            self.parse_next()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ikey::ValueKind;
    use proptest::prelude::*;

    fn build(entries: &[(Vec<u8>, Vec<u8>)], restart_interval: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(restart_interval);
        for (k, v) in entries {
            b.add(k, v);
        }
        let data = b.finish().to_vec();
        Arc::new(Block::new(data, 0, false).expect("valid block"))
    }

    fn sorted_entries(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let uk = format!("key{:05}", i / 2);
                let seq = 100 - (i % 2) as u64;
                (
                    ikey::encode(uk.as_bytes(), seq, ValueKind::Put),
                    vec![b'v'; i % 7],
                )
            })
            .collect()
    }

    fn collect_forward(it: &mut BlockIter) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        it.seek_to_first().expect("first");
        while it.valid() {
            out.push((it.key().to_vec(), it.value().to_vec()));
            it.next().expect("next");
        }
        out
    }

    #[test]
    fn worked_example_bytes() {
        let t = ikey::trailer(0, ValueKind::Put as u8).to_le_bytes();
        let k1 = [b"ab".as_slice(), &t].concat();
        let k2 = [b"ac".as_slice(), &t].concat();
        let block = build(&[(k1, b"x".to_vec()), (k2, Vec::new())], 16);
        let expected: Vec<u8> = vec![
            0x00, 0x0a, 0x01, 0x61, 0x62, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x78, //
            0x01, 0x09, 0x00, 0x63, 0x01, 0, 0, 0, 0, 0, 0, 0, //
            0, 0, 0, 0, 1, 0, 0, 0,
        ];
        assert_eq!(block.data, expected);
    }

    #[test]
    fn empty_block_decodes_as_no_entries() {
        let block = build(&[], 16);
        assert_eq!(block.data, vec![0, 0, 0, 0]);
        let mut it = BlockIter::new(block, KeyCheck::Point, 0);
        assert!(collect_forward(&mut it).is_empty());
        it.seek_to_last().expect("last");
        assert!(!it.valid());
    }

    #[test]
    fn forward_backward_and_seek_agree_with_model() {
        for interval in [1, 2, 3, 16] {
            let entries = sorted_entries(57);
            let block = build(&entries, interval);
            let mut it = BlockIter::new(block, KeyCheck::Point, 0);
            assert_eq!(collect_forward(&mut it), entries);
            let mut back = Vec::new();
            it.seek_to_last().expect("last");
            while it.valid() {
                back.push((it.key().to_vec(), it.value().to_vec()));
                it.prev().expect("prev");
            }
            back.reverse();
            assert_eq!(back, entries);
            for (i, (k, _)) in entries.iter().enumerate() {
                it.seek(&Target::from_ikey(k)).expect("seek");
                assert_eq!(it.key(), k.as_slice(), "interval {interval} entry {i}");
                it.seek_for_prev(&Target::from_ikey(k))
                    .expect("seek_for_prev");
                assert_eq!(it.key(), k.as_slice());
            }
            let past = ikey::encode(b"zzz", 1, ValueKind::Put);
            it.seek(&Target::from_ikey(&past)).expect("seek");
            assert!(!it.valid());
            it.seek_for_prev(&Target::from_ikey(&past))
                .expect("seek_for_prev");
            assert_eq!(Some(it.key()), entries.last().map(|e| e.0.as_slice()));
            let before = ikey::encode(b"a", 1, ValueKind::Put);
            it.seek_for_prev(&Target::from_ikey(&before))
                .expect("seek_for_prev");
            assert!(!it.valid());
        }
    }

    #[test]
    fn global_seqno_patch_keeps_prefix_decoding_right() {
        // User keys that extend into the previous key's trailer bytes: "a" + trailer(0, Put)
        // is a prefix of the next user key, so the second entry shares trailer bytes.
        let t = ikey::trailer(0, ValueKind::Put as u8).to_le_bytes();
        let uk2 = [b"a".as_slice(), &t, b"z"].concat();
        let k1 = ikey::encode(b"a", 0, ValueKind::Put);
        let k2 = ikey::encode(&uk2, 0, ValueKind::Put);
        let block = build(&[(k1, vec![]), (k2, vec![])], 16);
        let mut it = BlockIter::new(block, KeyCheck::Point, 77);
        let got: Vec<Vec<u8>> = collect_forward(&mut it).into_iter().map(|e| e.0).collect();
        assert_eq!(
            got,
            vec![
                ikey::encode(b"a", 77, ValueKind::Put),
                ikey::encode(&uk2, 77, ValueKind::Put)
            ]
        );
        it.seek(&Target::from_ikey(&ikey::seek_key(&uk2, 80)))
            .expect("seek");
        assert_eq!(it.key(), ikey::encode(&uk2, 77, ValueKind::Put).as_slice());
        it.seek(&Target::from_ikey(&ikey::seek_key(&uk2, 76)))
            .expect("seek");
        assert!(!it.valid());
    }

    #[test]
    fn wrong_kind_for_block_is_an_error() {
        let block = build(
            &[(ikey::encode(b"a", 1, ValueKind::RangeDelete), vec![])],
            16,
        );
        let mut it = BlockIter::new(block, KeyCheck::Point, 0);
        assert!(it.seek_to_first().is_err());
        assert!(!it.valid());
    }

    #[test]
    fn bad_restart_array_is_rejected() {
        // Restart count larger than the block.
        assert!(Block::new(vec![0, 0, 0, 0, 9, 0, 0, 0], 0, false).is_err());
        // Count zero with entries before it.
        assert!(Block::new(vec![1, 0, 0, 0, 0], 0, false).is_err());
        // First restart not at 0.
        assert!(Block::new(vec![0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0], 0, false).is_err());
        assert!(Block::new(vec![1, 2, 3], 0, false).is_err());
    }

    /// Walks a block every way a reader can; must not panic whatever the bytes.
    fn exercise(bytes: &[u8], check: KeyCheck, global_seqno: SeqNo) {
        crate::sst::fuzzing::block_contents(bytes, check, global_seqno);
    }

    proptest! {
        #[test]
        fn block_decoder_never_panics(bytes: Vec<u8>, seq in 0u64..3) {
            exercise(&bytes, KeyCheck::Point, seq);
            exercise(&bytes, KeyCheck::Any, seq);
        }

        #[test]
        fn block_decoder_never_panics_on_damaged_valid_block(
            n in 1usize..40, interval in 1usize..5, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut b = BlockBuilder::new(interval);
            for (k, v) in sorted_entries(n) {
                b.add(&k, &v);
            }
            let mut data = b.finish().to_vec();
            for (pos, x) in flips {
                let len = data.len();
                if let Some(byte) = data.get_mut(pos % len) {
                    *byte ^= x;
                }
            }
            exercise(&data, KeyCheck::Point, 0);
            exercise(&data, KeyCheck::Point, 5);
        }
    }
}

//! The memtable: recent writes in a concurrent skip list, until they are flushed to an L0 table.
//!
//! **Role**: the write leader (group commit, see `db`) inserts; any thread reads. A full memtable
//! is frozen (no more inserts) and flushed by the background flush thread.
//!
//! **Layout of an entry**: one allocation `internal key ++ value`, ordered by the internal key
//! alone (user key asc, seqno desc). Range tombstones sit in a separate small list.
//!
//! **Invariants**:
//! 1. An internal key is inserted at most once (sequence numbers are unique) — asserted in
//!    [`Memtable::insert`] (`debug_assert`, as the check costs a lookup).
//! 2. Entries are immutable once inserted, so iterators may hold clones of them while inserts
//!    continue.
//!
//! **Concurrency**: `crossbeam_skiplist::SkipMap` is lock-free; the tombstone list is behind a
//! `RwLock`. `approx_bytes` is an estimate updated with relaxed atomics.
//!
//! **Iteration**: a skip-list cursor borrows the map, which an iterator that owns an
//! `Arc<Memtable>` cannot hold; [`MemtableIter`] therefore copies out up to
//! [`ITER_CHUNK`] entry handles (reference-counted, no byte copies) per skip-list seek and
//! re-seeks past the last one when the chunk is used up. The first chunk after a seek holds
//! [`ITER_CHUNK_FIRST`] entries and each refill four times more, up to `ITER_CHUNK`, so that a
//! seek that reads one or two entries (an MVCC point read) copies only a few; a chunk also
//! stops at the iterator's upper bound.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use crossbeam_skiplist::SkipMap;
use parking_lot::RwLock;

use crate::error::Result;
use crate::ikey::{self, SeqNo, ValueKind};
use crate::iter::InternalIterator;
use crate::range_del::RangeTombstone;

/// Most entry handles copied per skip-list seek while iterating.
pub const ITER_CHUNK: usize = 64;
/// Entry handles copied by the first fill after a seek.
pub const ITER_CHUNK_FIRST: usize = 4;

/// Entries up to this size are assembled on the stack before their one allocation.
const STACK_ENTRY_BYTES: usize = 512;

/// Bytes charged per entry on top of its internal key and value, so that `approx_bytes`
/// tracks real memory: the skip-list node (key handle with its 16-byte prefix, reference
/// count, a tower of about two pointers: ~80 bytes, ~96 with the allocator's rounding) plus the
/// entry allocation's reference-count header and rounding (~24 bytes).
const ENTRY_OVERHEAD_BYTES: usize = 120;

/// The first 16 bytes of a user key, zero-padded, read as a big-endian integer.
///
/// Comparing two prefixes decides the order of their user keys whenever the prefixes differ
/// (a shorter key padded with zeros sorts before any longer key that has a non-zero byte
/// there, exactly as bytewise order says); only equal prefixes need the full comparison. The
/// prefix lives in the skip-list node itself, so most comparisons during a search touch no
/// other memory (test `prefix_order_agrees_with_key_order`).
fn key_prefix(user_key: &[u8]) -> u128 {
    let mut p = [0u8; 16];
    for (dst, src) in p.iter_mut().zip(user_key.iter()) {
        *dst = *src;
    }
    u128::from_be_bytes(p)
}

/// Something that exposes an internal key and its user-key prefix; lets the skip list be
/// searched with a borrowed key.
trait KeyView {
    fn ikey(&self) -> &[u8];
    fn prefix(&self) -> u128;
}

fn compare_views(a: &dyn KeyView, b: &dyn KeyView) -> Ordering {
    match a.prefix().cmp(&b.prefix()) {
        Ordering::Equal => ikey::compare(a.ikey(), b.ikey()),
        o => o,
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        compare_views(self, other) == Ordering::Equal
    }
}
impl Eq for dyn KeyView + '_ {}
impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_views(self, other)
    }
}

/// A stored entry: internal key followed by value, in one shared allocation.
#[derive(Clone)]
struct Entry {
    prefix: u128,
    buf: Arc<[u8]>,
    key_len: usize,
}

impl Entry {
    fn value(&self) -> &[u8] {
        self.buf.get(self.key_len..).unwrap_or(&[])
    }
}

impl KeyView for Entry {
    fn ikey(&self) -> &[u8] {
        self.buf.get(..self.key_len).unwrap_or(&[])
    }
    fn prefix(&self) -> u128 {
        self.prefix
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for Entry {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_views(self, other)
    }
}

/// A borrowed internal key used as a search target.
struct Probe<'a> {
    ikey: &'a [u8],
    prefix: u128,
}

impl<'a> Probe<'a> {
    fn new(ikey: &'a [u8]) -> Probe<'a> {
        Probe {
            ikey,
            prefix: key_prefix(ikey::user_key(ikey)),
        }
    }
}

impl KeyView for Probe<'_> {
    fn ikey(&self) -> &[u8] {
        self.ikey
    }
    fn prefix(&self) -> u128 {
        self.prefix
    }
}

/// A memtable. See the module documentation.
pub struct Memtable {
    map: SkipMap<Entry, ()>,
    range_dels: RwLock<Vec<RangeTombstone>>,
    approx_bytes: AtomicUsize,
    /// Number of the WAL file that holds this memtable's writes.
    wal_number: u64,
}

/// Result of a point lookup in one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Newest point entry visible at the snapshot.
    Found {
        seqno: SeqNo,
        kind: ValueKind,
        value: Vec<u8>,
    },
    NotFound,
}

impl Memtable {
    pub fn new(wal_number: u64) -> Self {
        Memtable {
            map: SkipMap::new(),
            range_dels: RwLock::new(Vec::new()),
            approx_bytes: AtomicUsize::new(0),
            wal_number,
        }
    }

    pub fn wal_number(&self) -> u64 {
        self.wal_number
    }

    /// Estimated memory use in bytes.
    pub fn approx_bytes(&self) -> usize {
        self.approx_bytes.load(AtomicOrdering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty() && self.range_dels.read().is_empty()
    }

    /// Inserts one operation.
    pub fn insert(&self, seqno: SeqNo, kind: ValueKind, key: &[u8], value: &[u8]) {
        let charged = key.len() + value.len() + ikey::TRAILER_BYTES + ENTRY_OVERHEAD_BYTES;
        if kind == ValueKind::RangeDelete {
            self.range_dels.write().push(RangeTombstone {
                start: key.to_vec(),
                end: value.to_vec(),
                seqno,
            });
        } else {
            let trailer = ikey::trailer(seqno, kind as u8).to_le_bytes();
            let key_len = key.len() + ikey::TRAILER_BYTES;
            let total = key_len + value.len();
            // One exact-size allocation. Small entries are assembled on the stack and copied
            // in with memcpy; larger ones are collected from the chained slices.
            let buf: Arc<[u8]> = if total <= STACK_ENTRY_BYTES {
                let mut stack = [0u8; STACK_ENTRY_BYTES];
                let mut at = 0;
                for part in [key, &trailer[..], value] {
                    if let Some(dst) = stack.get_mut(at..at + part.len()) {
                        dst.copy_from_slice(part);
                    }
                    at += part.len();
                }
                Arc::from(stack.get(..total).unwrap_or(&[]))
            } else {
                key.iter()
                    .chain(trailer.iter())
                    .chain(value.iter())
                    .copied()
                    .collect()
            };
            let entry = Entry {
                prefix: key_prefix(key),
                buf,
                key_len,
            };
            debug_assert!(
                self.map
                    .get::<dyn KeyView>(&entry as &dyn KeyView)
                    .is_none(),
                "internal key inserted twice (seqno {seqno})"
            );
            self.map.insert(entry, ());
        }
        self.approx_bytes
            .fetch_add(charged, AtomicOrdering::Relaxed);
    }

    /// Range tombstones visible at `snapshot`.
    pub fn range_tombstones(&self, snapshot: SeqNo) -> Vec<RangeTombstone> {
        self.range_dels
            .read()
            .iter()
            .filter(|t| t.seqno <= snapshot)
            .cloned()
            .collect()
    }

    /// Every range tombstone (for flushing).
    pub fn all_range_tombstones(&self) -> Vec<RangeTombstone> {
        self.range_dels.read().clone()
    }

    /// Highest seqno of a tombstone covering `user_key` at `snapshot` (0 if none).
    pub fn max_covering_tombstone(&self, user_key: &[u8], snapshot: SeqNo) -> SeqNo {
        let dels = self.range_dels.read();
        dels.iter()
            .filter(|t| t.covers(user_key, snapshot))
            .map(|t| t.seqno)
            .max()
            .unwrap_or(0)
    }

    /// Newest point entry of `user_key` with seqno <= `snapshot`.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Lookup {
        let target = ikey::seek_key(user_key, snapshot);
        let probe = Probe::new(&target);
        let Some(e) = self.map.lower_bound::<dyn KeyView>(Bound::Included(&probe)) else {
            return Lookup::NotFound;
        };
        let entry = e.key();
        match ikey::ParsedKey::parse(entry.ikey()) {
            Some(p) if p.user_key == user_key => Lookup::Found {
                seqno: p.seqno,
                kind: p.kind,
                value: entry.value().to_vec(),
            },
            _ => Lookup::NotFound,
        }
    }

    /// An iterator over point entries.
    pub fn iter(self: &Arc<Self>) -> MemtableIter {
        self.iter_bounded(None)
    }

    /// An iterator over point entries whose forward chunks stop before user key `upper`
    /// (exclusive); entries at or past it may still be returned, as from `iter`.
    pub fn iter_bounded(self: &Arc<Self>, upper: Option<Arc<[u8]>>) -> MemtableIter {
        MemtableIter {
            mem: Arc::clone(self),
            chunk: Vec::new(),
            pos: 0,
            forward: true,
            upper,
            chunk_max: ITER_CHUNK_FIRST,
        }
    }

    fn fill_forward(
        &self,
        from: Bound<&[u8]>,
        out: &mut Vec<Entry>,
        chunk_max: usize,
        upper: Option<&[u8]>,
    ) {
        out.clear();
        let start = match from {
            Bound::Included(k) => self
                .map
                .lower_bound::<dyn KeyView>(Bound::Included(&Probe::new(k))),
            Bound::Excluded(k) => self
                .map
                .lower_bound::<dyn KeyView>(Bound::Excluded(&Probe::new(k))),
            Bound::Unbounded => self.map.front(),
        };
        let mut cur = start;
        while let Some(e) = cur {
            if let Some(up) = upper {
                if ikey::user_key(e.key().ikey()) >= up {
                    break;
                }
            }
            out.push(e.key().clone());
            if out.len() >= chunk_max {
                break;
            }
            cur = e.next();
        }
    }

    fn fill_backward(&self, from: Bound<&[u8]>, out: &mut Vec<Entry>, chunk_max: usize) {
        out.clear();
        let start = match from {
            Bound::Included(k) => self
                .map
                .upper_bound::<dyn KeyView>(Bound::Included(&Probe::new(k))),
            Bound::Excluded(k) => self
                .map
                .upper_bound::<dyn KeyView>(Bound::Excluded(&Probe::new(k))),
            Bound::Unbounded => self.map.back(),
        };
        let mut cur = start;
        while let Some(e) = cur {
            out.push(e.key().clone());
            if out.len() >= chunk_max {
                break;
            }
            cur = e.prev();
        }
    }
}

/// Iterator over a memtable's point entries (see the module documentation on chunking).
/// `chunk` holds entries in iteration order: ascending when `forward`, descending otherwise.
pub struct MemtableIter {
    mem: Arc<Memtable>,
    chunk: Vec<Entry>,
    pos: usize,
    forward: bool,
    /// Forward fills stop before this user key (the reader's exclusive upper bound).
    upper: Option<Arc<[u8]>>,
    /// Size of the next fill: small right after a seek, growing while the reader moves on.
    chunk_max: usize,
}

impl MemtableIter {
    fn current(&self) -> Option<&Entry> {
        self.chunk.get(self.pos)
    }

    /// Sets the next fill's size: `ITER_CHUNK_FIRST` after a seek, else growing.
    fn grow(&mut self, after_seek: bool) {
        self.chunk_max = if after_seek {
            ITER_CHUNK_FIRST
        } else {
            (self.chunk_max * 4).min(ITER_CHUNK)
        };
    }

    fn refill_forward(&mut self, from: Bound<&[u8]>) {
        let mut chunk = std::mem::take(&mut self.chunk);
        self.mem
            .fill_forward(from, &mut chunk, self.chunk_max, self.upper.as_deref());
        self.chunk = chunk;
        self.pos = 0;
        self.forward = true;
    }

    fn refill_backward(&mut self, from: Bound<&[u8]>) {
        let mut chunk = std::mem::take(&mut self.chunk);
        self.mem.fill_backward(from, &mut chunk, self.chunk_max);
        self.chunk = chunk;
        self.pos = 0;
        self.forward = false;
    }
}

impl InternalIterator for MemtableIter {
    fn valid(&self) -> bool {
        self.pos < self.chunk.len()
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.grow(true);
        self.refill_forward(Bound::Unbounded);
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.grow(true);
        self.refill_backward(Bound::Unbounded);
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.grow(true);
        self.refill_forward(Bound::Included(target));
        Ok(())
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.grow(true);
        self.refill_backward(Bound::Included(target));
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        let Some(cur) = self.current().cloned() else {
            return Ok(());
        };
        if self.forward && self.pos + 1 < self.chunk.len() {
            self.pos += 1;
        } else {
            self.grow(!self.forward);
            self.refill_forward(Bound::Excluded(cur.ikey()));
        }
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        let Some(cur) = self.current().cloned() else {
            return Ok(());
        };
        if !self.forward && self.pos + 1 < self.chunk.len() {
            self.pos += 1;
        } else {
            self.grow(self.forward);
            self.refill_backward(Bound::Excluded(cur.ikey()));
        }
        Ok(())
    }

    fn key(&self) -> &[u8] {
        self.current().map_or(&[], KeyView::ikey)
    }

    fn value(&self) -> &[u8] {
        self.current().map_or(&[], Entry::value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect_forward(it: &mut MemtableIter) -> Vec<(Vec<u8>, u64)> {
        let mut out = Vec::new();
        it.seek_to_first().ok();
        while it.valid() {
            out.push((ikey::user_key(it.key()).to_vec(), ikey::seqno_of(it.key())));
            it.next().ok();
        }
        out
    }

    #[test]
    fn get_returns_newest_visible_version() {
        let m = Memtable::new(1);
        m.insert(1, ValueKind::Put, b"k", b"v1");
        m.insert(3, ValueKind::Put, b"k", b"v3");
        m.insert(5, ValueKind::Delete, b"k", b"");
        m.insert(2, ValueKind::Put, b"ka", b"x");
        assert_eq!(m.get(b"k", 0), Lookup::NotFound);
        assert_eq!(
            m.get(b"k", 2),
            Lookup::Found {
                seqno: 1,
                kind: ValueKind::Put,
                value: b"v1".to_vec()
            }
        );
        assert_eq!(
            m.get(b"k", 4),
            Lookup::Found {
                seqno: 3,
                kind: ValueKind::Put,
                value: b"v3".to_vec()
            }
        );
        assert_eq!(
            m.get(b"k", 9),
            Lookup::Found {
                seqno: 5,
                kind: ValueKind::Delete,
                value: vec![]
            }
        );
        assert_eq!(m.get(b"", 9), Lookup::NotFound);
        assert_eq!(m.get(b"kb", 9), Lookup::NotFound);
    }

    #[test]
    fn iteration_crosses_chunks_in_both_directions() {
        let m = Arc::new(Memtable::new(1));
        let n = (ITER_CHUNK * 3 + 5) as u64;
        for i in 0..n {
            m.insert(i + 1, ValueKind::Put, format!("key{i:05}").as_bytes(), b"v");
        }
        let mut it = m.iter();
        let fwd = collect_forward(&mut it);
        assert_eq!(fwd.len() as u64, n);
        assert!(fwd.windows(2).all(|w| w[0].0 < w[1].0));
        let mut back = Vec::new();
        it.seek_to_last().ok();
        while it.valid() {
            back.push(ikey::user_key(it.key()).to_vec());
            it.prev().ok();
        }
        back.reverse();
        assert_eq!(back, fwd.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>());
        // Direction change in the middle.
        it.seek(&ikey::seek_key(b"key00100", ikey::SEQNO_MAX)).ok();
        assert_eq!(ikey::user_key(it.key()), b"key00100");
        it.prev().ok();
        assert_eq!(ikey::user_key(it.key()), b"key00099");
        it.next().ok();
        assert_eq!(ikey::user_key(it.key()), b"key00100");
    }

    proptest::proptest! {
        #[test]
        fn prefix_order_agrees_with_key_order(
            a in proptest::collection::vec(0u8..3, 0..20),
            b in proptest::collection::vec(0u8..3, 0..20),
        ) {
            let (pa, pb) = (key_prefix(&a), key_prefix(&b));
            if pa != pb {
                proptest::prop_assert_eq!(pa.cmp(&pb), a.cmp(&b));
            }
        }
    }

    #[test]
    fn range_tombstones_cover_by_snapshot() {
        let m = Memtable::new(1);
        m.insert(4, ValueKind::RangeDelete, b"b", b"d");
        assert_eq!(m.max_covering_tombstone(b"c", 10), 4);
        assert_eq!(m.max_covering_tombstone(b"c", 3), 0);
        assert_eq!(m.max_covering_tombstone(b"d", 10), 0);
        assert_eq!(m.max_covering_tombstone(b"b", 10), 4);
    }
}

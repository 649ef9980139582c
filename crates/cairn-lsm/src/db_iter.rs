//! The user-facing iterator: user keys in order, newest version visible at a snapshot, with
//! point and range tombstones applied and bounds enforced.
//!
//! **Role**: wraps a [`MergingIter`] over every source of a pinned read view (memtables,
//! L0 tables, one [`crate::iter::LevelIter`] per deeper level) and a [`RangeDelIndex`] of the
//! range tombstones visible at the snapshot.
//!
//! **Direction**: forward, the merging iterator sits on the newest visible entry of the current
//! key; backward, it sits on the last entry of the key *before* the current one (the backward
//! step reads a whole key's versions to find its newest visible one). Changing direction
//! re-seeks, so the merging iterator only ever moves one way per pass.
//!
//! Invariants (tested by the model-based property test in `tests/model.rs`): keys returned are
//! strictly increasing going forward and strictly decreasing going backward; every key is
//! within `[lower_bound, upper_bound)`; a key is returned iff the model holds it at the snapshot.

use crate::error::{CorruptionKind, Error, Result};
use crate::ikey::{self, ParsedKey, SeqNo, ValueKind, SEQNO_MAX};
use crate::iter::{InternalIterator, MergingIter};
use crate::range_del::RangeDelIndex;

/// Iterator over a snapshot of the engine. Holds the files and memtables it reads.
pub struct DbIterator {
    merged: MergingIter,
    tombstones: RangeDelIndex,
    snapshot: SeqNo,
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
    valid: bool,
    forward: bool,
    /// Forward hits are read straight from the merging iterator (no copy); backward hits,
    /// which the merging iterator has already stepped past, are copied into `key`/`value`.
    key: Vec<u8>,
    value: Vec<u8>,
    /// Reused buffer for the user key being skipped while moving forward.
    skip: Vec<u8>,
    _pins: Box<dyn Send>,
}

fn parse(k: &[u8]) -> Result<ParsedKey<'_>> {
    ParsedKey::parse(k).ok_or_else(|| {
        Error::corruption(
            "<iterator>",
            0,
            CorruptionKind::Invalid("malformed internal key"),
        )
    })
}

impl DbIterator {
    pub(crate) fn new(
        merged: MergingIter,
        tombstones: RangeDelIndex,
        snapshot: SeqNo,
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
        pins: Box<dyn Send>,
    ) -> DbIterator {
        DbIterator {
            merged,
            tombstones,
            snapshot,
            lower,
            upper,
            valid: false,
            forward: true,
            key: Vec::new(),
            value: Vec::new(),
            skip: Vec::new(),
            _pins: pins,
        }
    }

    /// True while the iterator is positioned on a key.
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// Current user key. Empty when not valid.
    pub fn key(&self) -> &[u8] {
        if self.valid && self.forward {
            ikey::user_key(self.merged.key())
        } else {
            &self.key
        }
    }

    /// Current value. Empty when not valid.
    pub fn value(&self) -> &[u8] {
        if self.valid && self.forward {
            self.merged.value()
        } else {
            &self.value
        }
    }

    /// Positions at the first key `>= key` (and >= the lower bound).
    pub fn seek(&mut self, key: &[u8]) -> Result<()> {
        let start = match &self.lower {
            Some(lo) if lo.as_slice() > key => lo.clone(),
            _ => key.to_vec(),
        };
        self.forward = true;
        self.merged.seek(&ikey::seek_key(&start, self.snapshot))?;
        self.find_forward(false)
    }

    pub fn seek_to_first(&mut self) -> Result<()> {
        match self.lower.clone() {
            Some(lo) => self.seek(&lo),
            None => {
                self.forward = true;
                self.merged.seek_to_first()?;
                self.find_forward(false)
            }
        }
    }

    /// Positions at the last key `<= key` (and below the upper bound).
    pub fn seek_for_prev(&mut self, key: &[u8]) -> Result<()> {
        self.forward = false;
        match &self.upper {
            Some(up) if key >= up.as_slice() => {
                let target = smallest_ikey(up);
                self.merged.seek_for_prev(&target)?;
            }
            _ => {
                let target = ikey::encode(key, 0, ValueKind::Delete);
                self.merged.seek_for_prev(&target)?;
            }
        }
        self.find_backward()
    }

    pub fn seek_to_last(&mut self) -> Result<()> {
        match self.upper.clone() {
            Some(up) => {
                self.forward = false;
                self.merged.seek_for_prev(&smallest_ikey(&up))?;
                self.find_backward()
            }
            None => {
                self.forward = false;
                self.merged.seek_to_last()?;
                self.find_backward()
            }
        }
    }

    /// Moves to the next key. Only while valid.
    #[expect(
        clippy::should_implement_trait,
        reason = "fallible cursor, not an Iterator"
    )]
    pub fn next(&mut self) -> Result<()> {
        if !self.valid {
            return Ok(());
        }
        self.skip.clear();
        if self.forward {
            self.skip
                .extend_from_slice(ikey::user_key(self.merged.key()));
            self.merged.next()?;
        } else {
            self.skip.extend_from_slice(&self.key);
            self.forward = true;
            self.merged.seek(&smallest_ikey(&self.skip))?;
        }
        self.find_forward(true)
    }

    /// Moves to the previous key. Only while valid.
    pub fn prev(&mut self) -> Result<()> {
        if !self.valid {
            return Ok(());
        }
        if self.forward {
            let target = smallest_ikey(ikey::user_key(self.merged.key()));
            self.forward = false;
            self.merged.seek_for_prev(&target)?;
        }
        self.find_backward()
    }

    fn invalidate<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.valid = false;
            self.key.clear();
            self.value.clear();
        }
        r
    }

    /// Moves forward to the newest visible version of the next live key; with `skip_current`,
    /// entries of the user key in `self.skip` are passed over first.
    fn find_forward(&mut self, skip_current: bool) -> Result<()> {
        let mut skip = std::mem::take(&mut self.skip);
        let r = self.find_forward_inner(&mut skip, skip_current);
        self.skip = skip;
        self.invalidate(r)
    }

    fn find_forward_inner(&mut self, skip: &mut Vec<u8>, mut skipping: bool) -> Result<()> {
        self.valid = false;
        self.key.clear();
        self.value.clear();
        while self.merged.valid() {
            let p = parse(self.merged.key())?;
            if p.seqno > self.snapshot || (skipping && p.user_key == skip.as_slice()) {
                self.merged.next()?;
                continue;
            }
            if let Some(up) = &self.upper {
                if p.user_key >= up.as_slice() {
                    break;
                }
            }
            // The newest version of this key visible at the snapshot.
            if p.kind == ValueKind::Put && !self.tombstones.covers(p.user_key, p.seqno) {
                self.valid = true;
                return Ok(());
            }
            skip.clear();
            skip.extend_from_slice(p.user_key);
            skipping = true;
            self.merged.next()?;
        }
        Ok(())
    }

    fn find_backward(&mut self) -> Result<()> {
        let r = self.find_backward_inner();
        self.invalidate(r)
    }

    fn find_backward_inner(&mut self) -> Result<()> {
        self.valid = false;
        let mut user_key: Vec<u8> = Vec::new();
        let mut best_value: Vec<u8> = Vec::new();
        while self.merged.valid() {
            user_key.clear();
            user_key.extend_from_slice(ikey::user_key(self.merged.key()));
            if let Some(lo) = &self.lower {
                if user_key.as_slice() < lo.as_slice() {
                    break;
                }
            }
            // Walk this key's versions, oldest first; the last visible one is the newest.
            let mut best: Option<(ValueKind, SeqNo)> = None;
            while self.merged.valid() && ikey::user_key(self.merged.key()) == user_key.as_slice() {
                let p = parse(self.merged.key())?;
                if p.seqno <= self.snapshot {
                    best = Some((p.kind, p.seqno));
                    if p.kind == ValueKind::Put {
                        best_value.clear();
                        best_value.extend_from_slice(self.merged.value());
                    }
                }
                self.merged.prev()?;
            }
            if let Some((ValueKind::Put, seqno)) = best {
                if !self.tombstones.covers(&user_key, seqno) {
                    std::mem::swap(&mut self.key, &mut user_key);
                    std::mem::swap(&mut self.value, &mut best_value);
                    self.valid = true;
                    return Ok(());
                }
            }
        }
        self.key.clear();
        self.value.clear();
        Ok(())
    }
}

/// The smallest internal key of `user_key`: every real entry of it sorts after this.
fn smallest_ikey(user_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + ikey::TRAILER_BYTES);
    ikey::encode_into(&mut out, user_key, SEQNO_MAX, ValueKind::SEEK);
    out
}

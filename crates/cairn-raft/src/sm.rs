//! The replicated state machine interface.
//!
//! The driver applies each committed normal entry by calling [`StateMachine::apply`] with an
//! [`ApplyContext`]: reads see the engine plus every write already made in this turn's apply
//! batch, writes go into that batch (written without a sync, with the apply state, after all
//! entries of the turn). A state machine must be deterministic — same commands, same state —
//! and keep every key it writes inside its range's span (`cx.desc()`); the context refuses
//! keys outside it.
//!
//! The reads' view of the turn's writes is an [`Overlay`] built lazily: a write only appends to
//! the batch, and the first read after some writes indexes the batch's puts and deletes since
//! the last read. A turn that only writes (every SQL commit, every plain put) builds nothing.

use std::collections::BTreeMap;

use crate::engine::{Batch, Engine, Op};
use crate::error::Result;
use crate::keys;
use crate::types::RangeDescriptor;

/// The turn's writes, as reads see them: every put and delete of the apply batch up to
/// `indexed` ops, by key (the last write of a key wins). Range deletions in the batch remove
/// log and replica state, never keys a state machine reads, and are not indexed.
#[derive(Debug, Default)]
pub struct Overlay {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    indexed: usize,
}

impl Overlay {
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes the ops of `batch` added since the last call.
    fn catch_up(&mut self, batch: &Batch) {
        let ops = batch.ops();
        for op in ops.get(self.indexed..).unwrap_or(&[]) {
            match op {
                Op::Put(k, v) => {
                    self.writes.insert(k.clone(), Some(v.clone()));
                }
                Op::Delete(k) => {
                    self.writes.insert(k.clone(), None);
                }
                Op::DeleteRange(..) => {}
            }
        }
        self.indexed = ops.len();
    }
}

pub struct ApplyContext<'a> {
    pub(crate) engine: &'a dyn Engine,
    pub(crate) overlay: &'a mut Overlay,
    pub(crate) batch: &'a mut Batch,
    pub(crate) desc: &'a RangeDescriptor,
    /// The term of the entry being applied.
    pub(crate) term: u64,
}

/// A write outside the range's span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key is outside range {range}")]
pub struct OutsideRange {
    pub range: u64,
}

impl ApplyContext<'_> {
    pub fn desc(&self) -> &RangeDescriptor {
        self.desc
    }

    /// The term the entry being applied was appended in (the same on every replica).
    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn get(&mut self, user_key: &[u8]) -> Result<Option<Vec<u8>>> {
        let k = keys::data(user_key);
        self.overlay.catch_up(self.batch);
        if let Some(v) = self.overlay.writes.get(&k) {
            return Ok(v.clone());
        }
        self.engine.get(&k)
    }

    pub fn put(&mut self, user_key: &[u8], value: &[u8]) -> std::result::Result<(), OutsideRange> {
        self.check(user_key)?;
        self.batch.put(keys::data(user_key), value.to_vec());
        Ok(())
    }

    pub fn delete(&mut self, user_key: &[u8]) -> std::result::Result<(), OutsideRange> {
        self.check(user_key)?;
        self.batch.delete(keys::data(user_key));
        Ok(())
    }

    fn check(&self, user_key: &[u8]) -> std::result::Result<(), OutsideRange> {
        if self.desc.contains_key(user_key) {
            Ok(())
        } else {
            Err(OutsideRange {
                range: self.desc.range_id,
            })
        }
    }
}

pub trait StateMachine: Send {
    /// Applies the command of the committed entry at `index`; the returned bytes go to the
    /// proposer. Only an engine failure is an `Err` (the node stops); a command that fails on
    /// its own terms (a compare-and-set that does not match, a key outside the range) reports
    /// that in its response, identically on every replica.
    fn apply(&mut self, cx: &mut ApplyContext<'_>, index: u64, command: &[u8]) -> Result<Vec<u8>>;
}

//! The replicated state machine interface.
//!
//! The driver applies each committed normal entry by calling [`StateMachine::apply`] with an
//! [`ApplyContext`]: reads see the engine plus every write already made in this turn's apply
//! batch, writes go into that batch (written without a sync, with the apply state, after all
//! entries of the turn). A state machine must be deterministic — same commands, same state —
//! and keep every key it writes inside its range's span (`cx.desc()`); the context refuses
//! keys outside it.

use std::collections::BTreeMap;

use crate::engine::{Batch, Engine};
use crate::error::Result;
use crate::keys;
use crate::types::RangeDescriptor;

pub struct ApplyContext<'a> {
    pub(crate) engine: &'a dyn Engine,
    pub(crate) overlay: &'a mut BTreeMap<Vec<u8>, Option<Vec<u8>>>,
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

    pub fn get(&self, user_key: &[u8]) -> Result<Option<Vec<u8>>> {
        let k = keys::data(user_key);
        if let Some(v) = self.overlay.get(&k) {
            return Ok(v.clone());
        }
        self.engine.get(&k)
    }

    pub fn put(&mut self, user_key: &[u8], value: &[u8]) -> std::result::Result<(), OutsideRange> {
        self.check(user_key)?;
        let k = keys::data(user_key);
        self.batch.put(k.clone(), value.to_vec());
        self.overlay.insert(k, Some(value.to_vec()));
        Ok(())
    }

    pub fn delete(&mut self, user_key: &[u8]) -> std::result::Result<(), OutsideRange> {
        self.check(user_key)?;
        let k = keys::data(user_key);
        self.batch.delete(k.clone());
        self.overlay.insert(k, None);
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

//! The compaction filter hook: how a higher layer (MVCC garbage collection) drops entries
//! nobody can read any more while compaction rewrites them.
//!
//! The engine creates one [`CompactionFilter`] per compaction from the factory, and calls it
//! for each `Put` entry that is the newest version of its key in the compaction *and* older
//! than every live snapshot (so no reader can observe the decision). `Decision::Remove` drops
//! the value: at the bottom level the entry disappears; above it, it is replaced by a point
//! tombstone so that older versions in deeper levels stay hidden.

/// What the filter decided about one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Keep,
    Remove,
}

/// Facts about the running compaction that a filter may use.
#[derive(Debug, Clone)]
pub struct CompactionContext {
    /// Level the output is written to.
    pub output_level: usize,
    /// True when no deeper level holds data overlapping the compaction.
    pub is_bottommost: bool,
    /// The key range of the input files taken from each input level, one entry per level.
    /// A filter that must know whether it sees *every* entry of a run of keys (MVCC GC
    /// dropping a deletion only when no older version survives elsewhere) checks that the
    /// run lies inside every range whose `whole_level` is false: files of such a level that
    /// the compaction did not take hold only keys outside the range.
    pub inputs: Vec<InputRange>,
}

/// The user-key range of the files one input level contributes to a compaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRange {
    pub level: usize,
    /// Smallest user key of the level's input files (inclusive).
    pub smallest: Vec<u8>,
    /// Largest user key of the level's input files (inclusive).
    pub largest: Vec<u8>,
    /// True when the compaction takes every file of the level (L0 compactions do), so no
    /// key of this level is left behind whatever the range.
    pub whole_level: bool,
}

impl CompactionContext {
    /// True when every entry whose user key lies in `[first, last]` that exists in the input
    /// levels' sorted runs is part of this compaction. Deeper levels are not considered; use
    /// `is_bottommost` for them.
    pub fn covers(&self, first: &[u8], last: &[u8]) -> bool {
        self.inputs.iter().all(|r| {
            r.whole_level || (r.smallest.as_slice() <= first && last <= r.largest.as_slice())
        })
    }
}

/// Decides entry by entry during one compaction. Runs on a compaction thread.
pub trait CompactionFilter: Send {
    fn filter(&mut self, level: usize, key: &[u8], value: &[u8]) -> Decision;
}

/// Makes a filter for each compaction (the higher layer snapshots its GC threshold here).
pub trait CompactionFilterFactory: Send + Sync {
    fn create(&self, ctx: CompactionContext) -> Box<dyn CompactionFilter>;
}

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
#[derive(Debug, Clone, Copy)]
pub struct CompactionContext {
    /// Level the output is written to.
    pub output_level: usize,
    /// True when no deeper level holds data overlapping the compaction.
    pub is_bottommost: bool,
}

/// Decides entry by entry during one compaction. Runs on a compaction thread.
pub trait CompactionFilter: Send {
    fn filter(&mut self, level: usize, key: &[u8], value: &[u8]) -> Decision;
}

/// Makes a filter for each compaction (the higher layer snapshots its GC threshold here).
pub trait CompactionFilterFactory: Send + Sync {
    fn create(&self, ctx: CompactionContext) -> Box<dyn CompactionFilter>;
}

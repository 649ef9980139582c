//! Garbage collection of old versions: the low-water mark and the compaction filter that
//! drops versions below it that no reader can see.
//!
//! Role: every transaction registers its read timestamp here while it runs ([`Gc::register`]);
//! the storage engine asks [`GcFilterFactory`] for a filter at the start of each compaction,
//! which fixes the GC threshold for that compaction.
//!
//! The threshold (low-water mark) is `min(oldest registered read timestamp, newest readable
//! timestamp - history window)`. It only rises. A read below it is refused
//! (`Error::TimestampTooOld`), because its versions may be gone.
//!
//! What the filter drops, for each user key, looking at the versions compaction hands it
//! (newest first):
//! - versions newer than the threshold: kept;
//! - the newest version at or below the threshold: kept (it is what a reader at the threshold
//!   sees), unless it is a tombstone and no older version can survive anywhere: the
//!   compaction is bottommost and takes every file holding the key's versions
//!   (`CompactionContext::covers`); then the tombstone goes too;
//! - every older version: dropped (shadowed for every reader).
//!
//! Invariants:
//! 1. The threshold never passes a registered read timestamp
//!    (`gc_keeps_versions_pinned_by_a_long_reader`, tests/it/gc.rs).
//! 2. A read at or above the threshold returns the same result before and after GC
//!    (`gc_removes_shadowed_versions_after_reader_ends`, tests/it/gc.rs).
//! 3. Intents are never dropped by GC.
//! 4. The MVCC layer never takes storage-engine snapshots, so the engine passes the filter
//!    every newest entry and a dropped tombstone cannot uncover a version the filter did not
//!    see.
//!
//! Concurrency: one mutex guards the registry and the threshold together, so that a
//! registration either sees the new threshold (and is refused) or holds the threshold back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_lsm::{CompactionContext, CompactionFilter, CompactionFilterFactory, Decision};
use cairn_types::Timestamp;
use parking_lot::Mutex;

use crate::key::{self, Slot};

struct Registry {
    active: BTreeMap<Timestamp, usize>,
    threshold: Timestamp,
}

/// The registry of active read timestamps and the GC threshold.
pub struct Gc {
    registry: Mutex<Registry>,
    history_nanos: u64,
    versions_removed: AtomicU64,
    tombstones_removed: AtomicU64,
}

/// Counters of what GC removed since open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcStats {
    pub threshold: Timestamp,
    pub versions_removed: u64,
    pub tombstones_removed: u64,
    pub active_readers: usize,
}

impl Gc {
    pub fn new(history_nanos: u64) -> Gc {
        Gc {
            registry: Mutex::new(Registry {
                active: BTreeMap::new(),
                threshold: Timestamp::ZERO,
            }),
            history_nanos,
            versions_removed: AtomicU64::new(0),
            tombstones_removed: AtomicU64::new(0),
        }
    }

    /// Pins `ts`: GC keeps what a reader at `ts` sees until [`Gc::unregister`]. Refused when
    /// GC may already have passed `ts`.
    pub fn register(&self, ts: Timestamp) -> Result<(), Timestamp> {
        let mut r = self.registry.lock();
        if ts < r.threshold {
            return Err(r.threshold);
        }
        *r.active.entry(ts).or_insert(0) += 1;
        Ok(())
    }

    pub fn unregister(&self, ts: Timestamp) {
        let mut r = self.registry.lock();
        if let Some(n) = r.active.get_mut(&ts) {
            *n -= 1;
            if *n == 0 {
                r.active.remove(&ts);
            }
        }
    }

    /// Raises the threshold as far as the active readers and history window allow, given the
    /// newest timestamp any new reader could be handed (`readable`), and returns it.
    pub fn advance(&self, readable: Timestamp) -> Timestamp {
        let mut r = self.registry.lock();
        let mut lwm = readable.sub_nanos(self.history_nanos);
        if let Some((&oldest, _)) = r.active.first_key_value() {
            lwm = lwm.min(oldest);
        }
        if lwm > r.threshold {
            r.threshold = lwm;
        }
        r.threshold
    }

    pub fn threshold(&self) -> Timestamp {
        self.registry.lock().threshold
    }

    pub fn stats(&self) -> GcStats {
        let r = self.registry.lock();
        GcStats {
            threshold: r.threshold,
            versions_removed: self.versions_removed.load(Ordering::Relaxed),
            tombstones_removed: self.tombstones_removed.load(Ordering::Relaxed),
            active_readers: r.active.values().sum(),
        }
    }
}

/// Supplies the threshold to each compaction; the database implements it so that the
/// threshold is advanced from the current readable timestamp.
pub trait ThresholdSource: Send + Sync {
    fn gc_threshold(&self) -> Timestamp;
}

/// The storage engine's compaction filter factory for MVCC data.
pub struct GcFilterFactory {
    pub(crate) source: Arc<dyn ThresholdSource>,
    pub(crate) gc: Arc<Gc>,
}

impl CompactionFilterFactory for GcFilterFactory {
    fn create(&self, ctx: CompactionContext) -> Box<dyn CompactionFilter> {
        Box::new(GcFilter {
            threshold: self.source.gc_threshold(),
            ctx,
            gc: Arc::clone(&self.gc),
            prefix: Vec::new(),
            seen_visible: false,
        })
    }
}

struct GcFilter {
    threshold: Timestamp,
    ctx: CompactionContext,
    gc: Arc<Gc>,
    /// Prefix of the user key whose versions are being looked at.
    prefix: Vec<u8>,
    /// Whether a version at or below the threshold of this key was already seen.
    seen_visible: bool,
}

impl CompactionFilter for GcFilter {
    fn filter(&mut self, _level: usize, engine_key: &[u8], value: &[u8]) -> Decision {
        // Entries that are not MVCC versions (none today) are never touched.
        let Ok((pfx, slot)) = key::split(engine_key) else {
            return Decision::Keep;
        };
        if pfx != self.prefix.as_slice() {
            self.prefix.clear();
            self.prefix.extend_from_slice(pfx);
            self.seen_visible = false;
        }
        let ts = match slot {
            Slot::Intent => return Decision::Keep,
            Slot::Version(ts) => ts,
        };
        if ts > self.threshold {
            return Decision::Keep;
        }
        if self.seen_visible {
            self.gc.versions_removed.fetch_add(1, Ordering::Relaxed);
            return Decision::Remove;
        }
        self.seen_visible = true;
        let is_tombstone = matches!(key::decode_version_value(value), Ok(None));
        if is_tombstone && self.ctx.is_bottommost {
            let first = key::with_prefix(pfx, Slot::Intent);
            let last = key::with_prefix(pfx, Slot::Version(Timestamp::ZERO));
            if self.ctx.covers(&first, &last) {
                self.gc.tombstones_removed.fetch_add(1, Ordering::Relaxed);
                return Decision::Remove;
            }
        }
        Decision::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_lsm::InputRange;

    struct Fixed(Timestamp);
    impl ThresholdSource for Fixed {
        fn gc_threshold(&self) -> Timestamp {
            self.0
        }
    }

    fn t(w: u64) -> Timestamp {
        Timestamp::new(w, 0)
    }

    /// (user key, timestamp wall, value or tombstone)
    type Entry<'a> = (&'a [u8], u64, Option<&'a [u8]>);

    fn run(ctx: CompactionContext, threshold: u64, entries: &[Entry]) -> Vec<Decision> {
        let gc = Arc::new(Gc::new(0));
        let f = GcFilterFactory {
            source: Arc::new(Fixed(t(threshold))),
            gc,
        };
        let mut filter = f.create(ctx);
        entries
            .iter()
            .map(|(k, ts, v)| {
                filter.filter(
                    1,
                    &key::encode(k, Slot::Version(t(*ts))),
                    &key::encode_version_value(*v),
                )
            })
            .collect()
    }

    fn ctx(bottom: bool, covers_all: bool) -> CompactionContext {
        CompactionContext {
            output_level: 2,
            is_bottommost: bottom,
            inputs: vec![InputRange {
                level: 1,
                smallest: if covers_all {
                    Vec::new()
                } else {
                    b"m".to_vec()
                },
                largest: vec![0xFF; 4],
                whole_level: false,
            }],
        }
    }

    use Decision::{Keep, Remove};

    #[test]
    fn keeps_newest_visible_and_drops_shadowed() {
        let d = run(
            ctx(false, true),
            20,
            &[
                (b"a", 30, Some(b"x")),
                (b"a", 20, Some(b"y")),
                (b"a", 10, Some(b"z")),
                (b"b", 5, Some(b"w")),
            ],
        );
        assert_eq!(d, [Keep, Keep, Remove, Keep]);
    }

    #[test]
    fn drops_tombstone_only_at_bottom_when_all_versions_are_in_the_compaction() {
        let entries: &[Entry] = &[(b"a", 20, None), (b"a", 10, Some(b"z"))];
        assert_eq!(run(ctx(true, true), 25, entries), [Remove, Remove]);
        assert_eq!(run(ctx(false, true), 25, entries), [Keep, Remove]);
        // Key "a" lies outside the input level's range: other files may hold its versions.
        assert_eq!(run(ctx(true, false), 25, entries), [Keep, Remove]);
        // A tombstone above the threshold is kept.
        assert_eq!(run(ctx(true, true), 15, entries), [Keep, Keep]);
    }

    #[test]
    fn threshold_respects_oldest_reader_and_history() {
        let gc = Gc::new(100);
        gc.register(t(500)).unwrap();
        assert_eq!(gc.advance(t(1000)), t(500));
        gc.unregister(t(500));
        assert_eq!(gc.advance(t(1000)), t(900));
        assert_eq!(gc.register(t(899)), Err(t(900)));
        gc.register(t(900)).unwrap();
        // The threshold never goes down.
        assert_eq!(gc.advance(t(950)), t(900));
        assert_eq!(gc.stats().active_readers, 1);
    }
}

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
//! Concurrency: see [`Gc`]: fresh pins are lock-free slots; given timestamps and GC passes
//! serialise on one mutex.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_lsm::{CompactionContext, CompactionFilter, CompactionFilterFactory, Decision};
use cairn_types::Timestamp;
use parking_lot::Mutex;

use crate::key::{self, Slot};

/// Slots for pinned read timestamps; more concurrent readers than this use the overflow map.
const PIN_SLOTS: usize = 256;

/// One pinned timestamp: its wall time plus one (0 = free), alone on its cache line so that
/// threads pinning at once do not contend.
#[repr(align(64))]
struct PinSlot(AtomicU64);

/// A reader's hold on the GC threshold, returned by [`Gc::pin_fresh`] / [`Gc::pin_at`] and
/// given back to [`Gc::unpin`].
#[derive(Debug, PartialEq, Eq)]
pub struct Pin(PinKind);

#[derive(Debug, PartialEq, Eq)]
enum PinKind {
    Slot(usize),
    Overflow(u64),
}

/// The registry of pinned read timestamps and the GC threshold.
///
/// Pins hold wall times only (a timestamp `(w, l)` pins `(w, 0)`, which is at or below it),
/// and the threshold is a wall time too: GC keeps a little more than it must, never less.
///
/// Pinning a fresh timestamp takes no lock: the reader first stores the current threshold in
/// a free slot as a placeholder, then takes its timestamp and stores that. A GC pass that
/// scans the slot sees either the placeholder (and cannot rise above it) or the timestamp;
/// one that scanned before the placeholder took its own readable timestamp before the reader
/// took its, so it cannot pass it either (`readable` only rises). Pinning a given timestamp
/// (an `AS OF` read, a snapshot moving forward) and every GC pass take `advance_lock`, so a
/// given timestamp is either seen by the pass or checked against its result.
pub struct Gc {
    slots: Box<[PinSlot]>,
    overflow: Mutex<BTreeMap<u64, usize>>,
    /// Wall nanos of the threshold; only rises.
    threshold_wall: AtomicU64,
    advance_lock: Mutex<()>,
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
            slots: (0..PIN_SLOTS).map(|_| PinSlot(AtomicU64::new(0))).collect(),
            overflow: Mutex::new(BTreeMap::new()),
            threshold_wall: AtomicU64::new(0),
            advance_lock: Mutex::new(()),
            history_nanos,
            versions_removed: AtomicU64::new(0),
            tombstones_removed: AtomicU64::new(0),
        }
    }

    /// Claims a free slot holding `value_plus_one`, starting at a per-thread position.
    fn claim_slot(&self, value_plus_one: u64) -> Option<usize> {
        let start = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::thread::current().id().hash(&mut h);
            usize::try_from(h.finish() % PIN_SLOTS as u64).unwrap_or(0)
        };
        (0..PIN_SLOTS).map(|i| (start + i) % PIN_SLOTS).find(|&i| {
            self.slots.get(i).is_some_and(|s| {
                s.0.compare_exchange(0, value_plus_one, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            })
        })
    }

    /// Pins the timestamp `fresh()` returns (a new reader's, from the readable timestamp,
    /// which never goes back) and returns both. Never refused.
    pub fn pin_fresh(&self, fresh: impl FnOnce() -> Timestamp) -> (Pin, Timestamp) {
        let placeholder = self.threshold_wall.load(Ordering::SeqCst).saturating_add(1);
        if let Some(i) = self.claim_slot(placeholder) {
            let ts = fresh();
            if let Some(s) = self.slots.get(i) {
                s.0.store(ts.wall_nanos.saturating_add(1), Ordering::SeqCst);
            }
            return (Pin(PinKind::Slot(i)), ts);
        }
        let _guard = self.advance_lock.lock();
        let ts = fresh();
        *self.overflow.lock().entry(ts.wall_nanos).or_insert(0) += 1;
        (Pin(PinKind::Overflow(ts.wall_nanos)), ts)
    }

    /// Pins `ts`: GC keeps what a reader at `ts` sees until [`Gc::unpin`]. Refused, with the
    /// threshold, when GC may already have passed `ts`.
    pub fn pin_at(&self, ts: Timestamp) -> Result<Pin, Timestamp> {
        let _guard = self.advance_lock.lock();
        let threshold = self.threshold_wall.load(Ordering::SeqCst);
        if ts < Timestamp::new(threshold, 0) {
            return Err(Timestamp::new(threshold, 0));
        }
        if let Some(i) = self.claim_slot(ts.wall_nanos.saturating_add(1)) {
            return Ok(Pin(PinKind::Slot(i)));
        }
        *self.overflow.lock().entry(ts.wall_nanos).or_insert(0) += 1;
        Ok(Pin(PinKind::Overflow(ts.wall_nanos)))
    }

    pub fn unpin(&self, pin: Pin) {
        match pin.0 {
            PinKind::Slot(i) => {
                if let Some(s) = self.slots.get(i) {
                    s.0.store(0, Ordering::SeqCst);
                }
            }
            PinKind::Overflow(wall) => {
                let mut o = self.overflow.lock();
                if let Some(n) = o.get_mut(&wall) {
                    *n -= 1;
                    if *n == 0 {
                        o.remove(&wall);
                    }
                }
            }
        }
    }

    /// Raises the threshold as far as the pinned readers and the history window allow, given
    /// the newest timestamp any new reader could be handed (`readable`, called under the
    /// pass's lock), and returns it.
    pub fn advance(&self, readable: impl FnOnce() -> Timestamp) -> Timestamp {
        let _guard = self.advance_lock.lock();
        let mut lwm = readable().sub_nanos(self.history_nanos).wall_nanos;
        for s in self.slots.iter() {
            let v = s.0.load(Ordering::SeqCst);
            if v != 0 {
                lwm = lwm.min(v - 1);
            }
        }
        if let Some((&oldest, _)) = self.overflow.lock().first_key_value() {
            lwm = lwm.min(oldest);
        }
        let prev = self.threshold_wall.fetch_max(lwm, Ordering::SeqCst);
        Timestamp::new(prev.max(lwm), 0)
    }

    pub fn threshold(&self) -> Timestamp {
        Timestamp::new(self.threshold_wall.load(Ordering::SeqCst), 0)
    }

    pub fn stats(&self) -> GcStats {
        let pinned = self
            .slots
            .iter()
            .filter(|s| s.0.load(Ordering::Relaxed) != 0)
            .count();
        GcStats {
            threshold: self.threshold(),
            versions_removed: self.versions_removed.load(Ordering::Relaxed),
            tombstones_removed: self.tombstones_removed.load(Ordering::Relaxed),
            active_readers: pinned + self.overflow.lock().values().sum::<usize>(),
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
        // Entries that are not MVCC versions are never touched: the `00 00` namespace (this
        // layer's records, and a node's Raft keys sharing the engine) even when such a key
        // happens to end like a version, and anything else that does not parse.
        if engine_key.starts_with(&[0, 0]) {
            return Decision::Keep;
        }
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
    fn never_touches_the_reserved_namespace_even_when_keys_look_like_versions() {
        let gc = Arc::new(Gc::new(0));
        let f = GcFilterFactory {
            source: Arc::new(Fixed(t(100))),
            gc,
        };
        let mut filter = f.create(ctx(true, true));
        // Two "versions" of one key, both below the threshold, behind a `00 00` prefix (a
        // client key stored by the KV API could look like this).
        for ts in [20, 10] {
            let mut k = b"\0\0r\x02u".to_vec();
            k.extend_from_slice(&key::encode(b"a", Slot::Version(t(ts))));
            assert_eq!(filter.filter(1, &k, &key::encode_version_value(None)), Keep);
        }
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
        let pin = gc.pin_at(t(500)).unwrap();
        assert_eq!(gc.advance(|| t(1000)), t(500));
        gc.unpin(pin);
        assert_eq!(gc.advance(|| t(1000)), t(900));
        assert_eq!(gc.pin_at(t(899)), Err(t(900)));
        let _pin = gc.pin_at(t(900)).unwrap();
        // The threshold never goes down.
        assert_eq!(gc.advance(|| t(950)), t(900));
        assert_eq!(gc.stats().active_readers, 1);
    }

    #[test]
    fn fresh_pins_hold_the_threshold_and_overflow_beyond_the_slots() {
        let gc = Gc::new(0);
        let mut pins = Vec::new();
        for i in 0..(PIN_SLOTS as u64 + 10) {
            let (pin, ts) = gc.pin_fresh(|| t(100 + i));
            assert_eq!(ts, t(100 + i));
            pins.push(pin);
        }
        assert_eq!(gc.stats().active_readers, PIN_SLOTS + 10);
        assert_eq!(gc.advance(|| t(10_000)), t(100));
        // Release the oldest: the next oldest holds the threshold.
        let oldest = pins.remove(0);
        gc.unpin(oldest);
        assert_eq!(gc.advance(|| t(10_000)), t(101));
        for p in pins {
            gc.unpin(p);
        }
        assert_eq!(gc.stats().active_readers, 0);
        assert_eq!(gc.advance(|| t(10_000)), t(10_000));
    }

    #[test]
    fn concurrent_fresh_pins_are_never_passed_by_the_threshold() {
        use std::sync::atomic::AtomicU64 as Clock;
        let gc = Arc::new(Gc::new(0));
        let clock = Arc::new(Clock::new(1));
        std::thread::scope(|s| {
            for _ in 0..3 {
                let (gc, clock) = (Arc::clone(&gc), Arc::clone(&clock));
                s.spawn(move || {
                    for _ in 0..5_000 {
                        let (pin, ts) = gc.pin_fresh(|| t(clock.fetch_add(1, Ordering::SeqCst)));
                        assert!(gc.threshold() <= ts, "{} > {ts}", gc.threshold());
                        std::hint::spin_loop();
                        assert!(gc.threshold() <= ts, "{} > {ts}", gc.threshold());
                        gc.unpin(pin);
                    }
                });
            }
            let (gc, clock) = (Arc::clone(&gc), Arc::clone(&clock));
            s.spawn(move || {
                for _ in 0..5_000 {
                    gc.advance(|| t(clock.load(Ordering::SeqCst)));
                }
            });
        });
    }
}

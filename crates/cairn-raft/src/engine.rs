//! The key-value engine a node keeps its Raft logs, Raft states and replicated data in.
//!
//! One engine per node holds every range's log, hard state, apply state and data, so that one
//! loop turn of the driver writes all groups' log entries and hard states in **one batch with
//! one sync**, and applies committed entries in a second batch **without** a sync.
//!
//! Invariant every implementation must keep (the driver's crash recovery depends on it):
//! **writes become durable in the order they were made** — when a write is durable, every
//! earlier write is durable too. A crash therefore loses a suffix of the unsynced writes, never
//! a write in the middle. The storage engine (`cairn-lsm`) keeps it with its one write-ahead log;
//! [`MemEngine`] models it for the simulator, losing a chosen suffix of unsynced batches at a
//! simulated crash.
//!
//! Because of that ordering, applying without a sync is safe: after a crash the persisted
//! apply state (written in the same batch as the applied data) is at most as new as the data,
//! and the driver re-applies the log from there; log truncation rides in the apply batch, after
//! the data it depends on.

use std::collections::BTreeMap;
use std::ops::Bound;

use parking_lot::Mutex;

use crate::error::Result;

/// One change in a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Deletes every key in `[start, end)`.
    DeleteRange(Vec<u8>, Vec<u8>),
}

/// Changes applied atomically by [`Engine::write`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op::Put(key, value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push(Op::Delete(key));
    }

    pub fn delete_range(&mut self, start: Vec<u8>, end: Vec<u8>) {
        self.ops.push(Op::DeleteRange(start, end));
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Moves every change of `other` to the end of this batch.
    pub fn append(&mut self, other: &mut Batch) {
        self.ops.append(&mut other.ops);
    }
}

/// A node's engine. `Send + Sync`; the driver calls it from one thread.
pub trait Engine: Send + Sync {
    /// Applies `batch` atomically; with `sync`, returns once it (and every earlier write) is
    /// durable.
    fn write(&self, batch: Batch, sync: bool) -> Result<()>;

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Calls `visit` for each key in `[start, end)` in ascending order until it returns false.
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;
}

/// An in-memory [`Engine`] that models durability: writes since the last sync are kept in
/// order and [`MemEngine::crash`] keeps only a prefix of them.
#[derive(Default)]
pub struct MemEngine {
    inner: Mutex<MemInner>,
}

#[derive(Default)]
struct MemInner {
    /// What survives a crash.
    durable: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Unsynced batches, oldest first.
    pending: Vec<Batch>,
    /// `durable` with `pending` applied: what reads see.
    visible: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn apply_ops(map: &mut BTreeMap<Vec<u8>, Vec<u8>>, batch: &Batch) {
    for op in &batch.ops {
        match op {
            Op::Put(k, v) => {
                map.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                map.remove(k);
            }
            Op::DeleteRange(s, e) => {
                if s < e {
                    let doomed: Vec<Vec<u8>> = map
                        .range::<[u8], _>((Bound::Included(&s[..]), Bound::Excluded(&e[..])))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in doomed {
                        map.remove(&k);
                    }
                }
            }
        }
    }
}

impl MemEngine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of batches written since the last sync.
    pub fn unsynced_batches(&self) -> usize {
        self.inner.lock().pending.len()
    }

    /// Simulates a crash: keeps the first `keep` unsynced batches (clamped) and loses the rest.
    pub fn crash(&self, keep: usize) {
        let mut inner = self.inner.lock();
        let pending = std::mem::take(&mut inner.pending);
        for batch in pending.iter().take(keep) {
            apply_ops(&mut inner.durable, batch);
        }
        inner.visible = inner.durable.clone();
    }

    /// A copy of the durable state (for tests that model a disk that loses synced writes).
    pub fn durable_copy(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.inner.lock().durable.clone()
    }

    /// Replaces everything with `durable`, as a disk that lost synced writes would. Only for
    /// tests that check the checkers: Raft is not safe on such a disk.
    pub fn reset_to(&self, durable: BTreeMap<Vec<u8>, Vec<u8>>) {
        let mut inner = self.inner.lock();
        inner.pending.clear();
        inner.visible = durable.clone();
        inner.durable = durable;
    }

    /// Every visible key and value, for checksums in tests.
    pub fn dump(&self, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let inner = self.inner.lock();
        if start >= end {
            return Vec::new();
        }
        inner
            .visible
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Engine for MemEngine {
    fn write(&self, batch: Batch, sync: bool) -> Result<()> {
        let mut inner = self.inner.lock();
        apply_ops(&mut inner.visible, &batch);
        inner.pending.push(batch);
        if sync {
            let pending = std::mem::take(&mut inner.pending);
            for batch in &pending {
                apply_ops(&mut inner.durable, batch);
            }
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.lock().visible.get(key).cloned())
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        // Copy first: `visit` may call back into the engine.
        for (k, v) in self.dump(start, end) {
            if !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_keeps_a_prefix_of_unsynced_batches() {
        let e = MemEngine::new();
        let mut b = Batch::new();
        b.put(b"a".to_vec(), b"1".to_vec());
        e.write(b, true).unwrap();
        for (k, v) in [(b"b", b"2"), (b"c", b"3"), (b"d", b"4")] {
            let mut b = Batch::new();
            b.put(k.to_vec(), v.to_vec());
            e.write(b, false).unwrap();
        }
        assert_eq!(e.get(b"d").unwrap(), Some(b"4".to_vec()));
        e.crash(1);
        assert_eq!(e.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(e.get(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(e.get(b"c").unwrap(), None);
        assert_eq!(e.get(b"d").unwrap(), None);
    }
}

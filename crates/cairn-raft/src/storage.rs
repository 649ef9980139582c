//! One replica's Raft log and states: raft-rs's [`raft::Storage`] over the node's engine.
//!
//! The log entries `truncated_index + 1 ..= last_index` are cached in memory (the log is kept
//! short by compaction) and persisted under `keys::entry`; the driver stages every change into
//! the turn's batches through the `stage_*` methods, which update the cache at once, so raft-rs
//! reads what it has been told is stored. Invariants:
//! - `entries[i].index == truncated_index + 1 + i` (contiguous, no gaps);
//! - `truncated_index <= applied_index <= commit <= last_index` once initialized;
//! - a snapshot is built from the applied state: its index is `applied_index`, its conf state
//!   and descriptor those as of that index, its data the range's data span.
//!
//! Snapshot data encoding, version 1: `0x01 | descriptor | repeated (user key len-prefixed,
//! value len-prefixed)` in key order to the end of the buffer.

use std::collections::VecDeque;
use std::sync::Arc;

use cairn_codec::{varint, Decoder};
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::engine::{Batch, Engine};
use crate::error::{Error, Result};
use crate::keys;
use crate::state::{decode_hard_state, decode_pb, encode_pb, hex, ApplyState};
use crate::types::{RangeDescriptor, RangeId};

const SNAPSHOT_VERSION: u8 = 1;

/// An in-memory count of log entries as `usize` (saturating; a log never holds 2^32 entries).
fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The index and term a freshly bootstrapped range's log starts after (as in TiKV, a non-zero
/// start lets a bootstrapped replica tell itself apart from an uninitialized one).
pub const INIT_INDEX: u64 = 5;
pub const INIT_TERM: u64 = 5;

pub struct PeerStorage {
    range_id: RangeId,
    hard_state: HardState,
    apply: ApplyState,
    entries: VecDeque<Entry>,
    engine: Arc<dyn Engine>,
}

impl PeerStorage {
    /// Loads a replica's state from the engine; a range with no apply state is uninitialized
    /// (it waits for a snapshot).
    pub fn load(engine: Arc<dyn Engine>, range_id: RangeId) -> Result<Self> {
        let hs_key = keys::hard_state(range_id);
        let hard_state = match engine.get(&hs_key)? {
            Some(b) => decode_hard_state(&hs_key, &b)?,
            None => HardState::default(),
        };
        let as_key = keys::apply_state(range_id);
        let apply = match engine.get(&as_key)? {
            Some(b) => ApplyState::decode(&as_key, &b)?,
            None => ApplyState {
                desc: RangeDescriptor {
                    range_id,
                    ..Default::default()
                },
                ..Default::default()
            },
        };
        let mut entries = VecDeque::new();
        let mut failure = None;
        let start = keys::entry(range_id, apply.truncated_index.saturating_add(1));
        let end = keys::entry(range_id, u64::MAX);
        let mut expect = apply.truncated_index.saturating_add(1);
        engine.scan(
            &start,
            &end,
            &mut |k, v| match decode_pb::<Entry>(k, "log entry", v) {
                Ok(e) if e.index == expect => {
                    expect += 1;
                    entries.push_back(e);
                    true
                }
                Ok(e) => {
                    failure = Some(Error::Corrupt {
                        key: hex(k),
                        detail: format!("log entry {} where {expect} was expected", e.index),
                    });
                    false
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            },
        )?;
        if let Some(e) = failure {
            return Err(e);
        }
        let s = Self {
            range_id,
            hard_state,
            apply,
            entries,
            engine,
        };
        if s.hard_state.commit > s.last_index_inner() || s.apply.applied_index > s.hard_state.commit
        {
            return Err(Error::Corrupt {
                key: hex(&keys::hard_state(range_id)),
                detail: format!(
                    "commit {} outside applied {} ..= last {}",
                    s.hard_state.commit,
                    s.apply.applied_index,
                    s.last_index_inner()
                ),
            });
        }
        Ok(s)
    }

    /// Writes the initial state of a replica of a new range (bootstrap): the log starts after
    /// (`INIT_INDEX`, `INIT_TERM`) with every replica of `desc` a voter.
    pub fn bootstrap(batch: &mut Batch, desc: &RangeDescriptor) {
        let mut cs = ConfState::default();
        cs.voters = desc.replicas.iter().map(|r| r.replica_id).collect();
        let apply = ApplyState {
            applied_index: INIT_INDEX,
            applied_term: INIT_TERM,
            truncated_index: INIT_INDEX,
            truncated_term: INIT_TERM,
            conf_state: cs,
            desc: desc.clone(),
        };
        let mut hs = HardState::default();
        hs.term = INIT_TERM;
        hs.commit = INIT_INDEX;
        batch.put(keys::apply_state(desc.range_id), apply.encode());
        batch.put(keys::hard_state(desc.range_id), encode_pb(&hs));
    }

    pub fn range_id(&self) -> RangeId {
        self.range_id
    }

    pub fn apply_state(&self) -> &ApplyState {
        &self.apply
    }

    pub fn desc(&self) -> &RangeDescriptor {
        &self.apply.desc
    }

    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// True once the replica has a configuration (bootstrapped or from a snapshot).
    pub fn is_initialized(&self) -> bool {
        self.apply.truncated_index > 0 || !self.entries.is_empty()
    }

    fn first_index_inner(&self) -> u64 {
        self.apply.truncated_index + 1
    }

    fn last_index_inner(&self) -> u64 {
        self.apply.truncated_index + self.entries.len() as u64
    }

    /// The cached entry at `index`, if in the log.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let off = index.checked_sub(self.first_index_inner())?;
        self.entries.get(usize::try_from(off).ok()?)
    }

    /// Appends entries from a Ready, replacing any conflicting suffix.
    pub fn stage_append(&mut self, ents: &[Entry], batch: &mut Batch) {
        let Some(first) = ents.first() else { return };
        let first_index = first.index;
        if first_index <= self.apply.truncated_index {
            // raft-rs never appends below the snapshot; skip what is already compacted.
            let skip = count(self.apply.truncated_index + 1 - first_index);
            if skip >= ents.len() {
                return;
            }
            return self.stage_append(ents.get(skip..).unwrap_or_default(), batch);
        }
        let old_last = self.last_index_inner();
        let keep = count(first_index - self.first_index_inner());
        self.entries.truncate(keep.min(self.entries.len()));
        for e in ents {
            batch.put(keys::entry(self.range_id, e.index), encode_pb(e));
            self.entries.push_back(e.clone());
        }
        let new_last = self.last_index_inner();
        if old_last > new_last {
            batch.delete_range(
                keys::entry(self.range_id, new_last + 1),
                keys::entry(self.range_id, old_last + 1),
            );
        }
    }

    pub fn stage_hard_state(&mut self, hs: &HardState, batch: &mut Batch) {
        self.hard_state = hs.clone();
        batch.put(keys::hard_state(self.range_id), encode_pb(hs));
    }

    /// Records a commit index learned from a LightReady.
    pub fn stage_commit(&mut self, commit: u64, batch: &mut Batch) {
        if commit > self.hard_state.commit {
            let mut hs = self.hard_state.clone();
            hs.commit = commit;
            self.stage_hard_state(&hs, batch);
        }
    }

    /// Installs a snapshot received from the leader: replaces the range's data, empties the log
    /// and sets the apply state to the snapshot's. Returns the snapshot's descriptor.
    pub fn stage_snapshot(&mut self, snap: &Snapshot, batch: &mut Batch) -> Result<()> {
        let meta = snap.get_metadata();
        let (desc, pairs) = decode_snapshot_data(self.range_id, &snap.data)?;
        // Clear the new data span, and the old one if this replica had data.
        let (s, e) = keys::data_span(&desc);
        batch.delete_range(s, e);
        if self.is_initialized() && self.apply.desc != desc {
            let (s, e) = keys::data_span(&self.apply.desc);
            batch.delete_range(s, e);
        }
        for (k, v) in pairs {
            batch.put(keys::data(&k), v);
        }
        let last = self.last_index_inner();
        if last >= self.first_index_inner() {
            batch.delete_range(
                keys::entry(self.range_id, self.first_index_inner()),
                keys::entry(self.range_id, last + 1),
            );
        }
        self.entries.clear();
        self.apply = ApplyState {
            applied_index: meta.index,
            applied_term: meta.term,
            truncated_index: meta.index,
            truncated_term: meta.term,
            conf_state: meta.get_conf_state().clone(),
            desc,
        };
        if self.hard_state.commit < meta.index {
            self.hard_state.commit = meta.index;
        }
        if self.hard_state.term < meta.term {
            self.hard_state.term = meta.term;
        }
        batch.put(keys::apply_state(self.range_id), self.apply.encode());
        batch.put(keys::hard_state(self.range_id), encode_pb(&self.hard_state));
        Ok(())
    }

    /// Records that `index` (of `term`) has been applied; written with the applied data.
    pub fn set_applied(&mut self, index: u64, term: u64) {
        self.apply.applied_index = index;
        self.apply.applied_term = term;
    }

    pub fn set_conf(&mut self, cs: ConfState, desc: RangeDescriptor) {
        self.apply.conf_state = cs;
        self.apply.desc = desc;
    }

    pub fn stage_apply_state(&self, batch: &mut Batch) {
        batch.put(keys::apply_state(self.range_id), self.apply.encode());
    }

    /// Drops log entries up to `index` (which must be applied).
    pub fn stage_compact(&mut self, index: u64, batch: &mut Batch) {
        let index = index.min(self.apply.applied_index);
        if index <= self.apply.truncated_index {
            return;
        }
        let Some(term) = self.entry(index).map(|e| e.term) else {
            return;
        };
        let drop = count(index - self.apply.truncated_index);
        batch.delete_range(
            keys::entry(self.range_id, self.first_index_inner()),
            keys::entry(self.range_id, index + 1),
        );
        self.entries.drain(..drop.min(self.entries.len()));
        self.apply.truncated_index = index;
        self.apply.truncated_term = term;
        batch.put(keys::apply_state(self.range_id), self.apply.encode());
    }

    /// Builds a snapshot of the applied state.
    fn build_snapshot(&self) -> Result<Snapshot> {
        let mut data = vec![SNAPSHOT_VERSION];
        self.apply.desc.encode(&mut data);
        let (start, end) = keys::data_span(&self.apply.desc);
        self.engine.scan(&start, &end, &mut |k, v| {
            if let Some(user) = keys::user_key(k) {
                varint::put_len_prefixed(&mut data, user);
                varint::put_len_prefixed(&mut data, v);
            }
            true
        })?;
        let mut snap = Snapshot::default();
        snap.data = data.into();
        let meta = snap.mut_metadata();
        meta.index = self.apply.applied_index;
        meta.term = self.apply.applied_term;
        meta.set_conf_state(self.apply.conf_state.clone());
        Ok(snap)
    }
}

/// A user key and its value.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// Decodes snapshot data into its descriptor and (user key, value) pairs.
pub fn decode_snapshot_data(
    range_id: RangeId,
    data: &[u8],
) -> Result<(RangeDescriptor, Vec<KvPair>)> {
    let corrupt = |detail: String| Error::Corrupt {
        key: format!("snapshot of range {range_id}"),
        detail,
    };
    let mut d = Decoder::new(data);
    let v = d
        .u8("snapshot version")
        .map_err(|e| corrupt(e.to_string()))?;
    if v != SNAPSHOT_VERSION {
        return Err(corrupt(format!("unknown snapshot version {v}")));
    }
    let desc = RangeDescriptor::decode(&mut d).map_err(|e| corrupt(e.to_string()))?;
    if desc.range_id != range_id {
        return Err(corrupt(format!("snapshot is of range {}", desc.range_id)));
    }
    let mut pairs = Vec::new();
    while !d.is_empty() {
        let k = d
            .len_prefixed("snapshot key")
            .map_err(|e| corrupt(e.to_string()))?;
        let v = d
            .len_prefixed("snapshot value")
            .map_err(|e| corrupt(e.to_string()))?;
        pairs.push((k.to_vec(), v.to_vec()));
    }
    Ok((desc, pairs))
}

fn storage_err(e: Error) -> raft::Error {
    raft::Error::Store(StorageError::Other(Box::new(e)))
}

impl raft::Storage for PeerStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.apply.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.apply.truncated_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index_inner() + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let from = count(low - self.first_index_inner());
        let to = count(high - self.first_index_inner());
        let mut out: Vec<Entry> = self.entries.range(from..to).cloned().collect();
        raft::util::limit_size(&mut out, max_size.into());
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.apply.truncated_index {
            return Ok(self.apply.truncated_term);
        }
        if idx < self.apply.truncated_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        match self.entry(idx) {
            Some(e) => Ok(e.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first_index_inner())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index_inner())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if self.apply.applied_index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        self.build_snapshot().map_err(storage_err)
    }
}

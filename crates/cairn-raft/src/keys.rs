//! The engine key layout of the Raft layer.
//!
//! Node-local keys start with `0x01`, replicated data keys with `0x02`:
//!
//! | key | value |
//! |---|---|
//! | `0x01 'a' range_id(u64 BE)` | apply state ([`crate::state::ApplyState`]): applied and truncated index/term, conf state, descriptor |
//! | `0x01 'e' range_id(u64 BE) index(u64 BE)` | one Raft log entry (protobuf `eraftpb.Entry`) |
//! | `0x01 'h' range_id(u64 BE)` | hard state (protobuf `eraftpb.HardState`: term, vote, commit) |
//! | `0x01 't' range_id(u64 BE)` | tombstone: the replica id this node had before it was removed (u64 BE) |
//! | `0x02 user_key` | replicated data of whichever range contains `user_key` |
//!
//! Big-endian ids and indexes make the engine's order the numeric order, so one scan lists all
//! ranges (`'a'` keys) and one range's log is contiguous. A range's data occupies exactly
//! [`data_span`] of its descriptor: state machines must keep every replicated key there, so a
//! snapshot is a scan of that span and removing a replica deletes it.

use crate::types::{RangeDescriptor, RangeId};

const LOCAL: u8 = 0x01;
const DATA: u8 = 0x02;

fn local(kind: u8, range: RangeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(18);
    k.push(LOCAL);
    k.push(kind);
    k.extend_from_slice(&range.to_be_bytes());
    k
}

pub fn apply_state(range: RangeId) -> Vec<u8> {
    local(b'a', range)
}

pub fn hard_state(range: RangeId) -> Vec<u8> {
    local(b'h', range)
}

pub fn tombstone(range: RangeId) -> Vec<u8> {
    local(b't', range)
}

pub fn entry(range: RangeId, index: u64) -> Vec<u8> {
    let mut k = local(b'e', range);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// `[start, end)` of every apply-state key: all ranges on the node.
pub fn apply_states_span() -> (Vec<u8>, Vec<u8>) {
    (vec![LOCAL, b'a'], vec![LOCAL, b'a' + 1])
}

/// `[start, end)` of every tombstone key.
pub fn tombstones_span() -> (Vec<u8>, Vec<u8>) {
    (vec![LOCAL, b't'], vec![LOCAL, b't' + 1])
}

/// The range id of an apply-state or tombstone key.
pub fn range_of(key: &[u8]) -> Option<RangeId> {
    let id: [u8; 8] = key.get(2..10)?.try_into().ok()?;
    Some(RangeId::from_be_bytes(id))
}

/// The engine key of a replicated user key.
pub fn data(user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + 1);
    k.push(DATA);
    k.extend_from_slice(user_key);
    k
}

/// The user key of an engine data key.
pub fn user_key(data_key: &[u8]) -> Option<&[u8]> {
    match data_key.split_first() {
        Some((&DATA, rest)) => Some(rest),
        _ => None,
    }
}

/// `[start, end)` of the engine keys holding the data of `desc`'s span.
pub fn data_span(desc: &RangeDescriptor) -> (Vec<u8>, Vec<u8>) {
    let start = data(&desc.start_key);
    let end = if desc.end_key.is_empty() {
        vec![DATA + 1]
    } else {
        data(&desc.end_key)
    };
    (start, end)
}

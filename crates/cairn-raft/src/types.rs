//! Identifiers and the range descriptor.
//!
//! A **range** is a span `[start_key, end_key)` of the user key space (an empty `end_key` means
//! "to the end") replicated by one Raft group. Its **replicas** each have a `ReplicaId` unique
//! within the range (raft-rs's peer id; never reused, so a node removed and re-added gets a fresh
//! id and stale messages cannot confuse it) and live on a node. The descriptor is part of the
//! replicated state: conf changes update it in the same apply batch as the Raft `ConfState`, and
//! snapshots carry it. The meta range will store every descriptor under its start key.
//!
//! Encoding (`encode`/`decode`, inside the apply state and snapshots; varints are LEB128):
//! `range_id varint | generation varint | start len-prefixed | end len-prefixed |
//!  next_replica_id varint | n varint | n × (replica_id varint, node_id varint)`.

use cairn_codec::{varint, Decoder};

pub type NodeId = u64;
pub type RangeId = u64;
pub type ReplicaId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicaDescriptor {
    pub replica_id: ReplicaId,
    pub node_id: NodeId,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangeDescriptor {
    pub range_id: RangeId,
    /// Bumped by every change of span or replicas.
    pub generation: u64,
    pub start_key: Vec<u8>,
    /// Exclusive; empty = unbounded.
    pub end_key: Vec<u8>,
    /// The replicas in any role (voter, learner, outgoing voter of a joint configuration).
    pub replicas: Vec<ReplicaDescriptor>,
    /// The next replica id to hand out when adding a replica.
    pub next_replica_id: ReplicaId,
}

impl RangeDescriptor {
    pub fn replica(&self, id: ReplicaId) -> Option<&ReplicaDescriptor> {
        self.replicas.iter().find(|r| r.replica_id == id)
    }

    pub fn replica_on(&self, node: NodeId) -> Option<&ReplicaDescriptor> {
        self.replicas.iter().find(|r| r.node_id == node)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        key >= self.start_key.as_slice()
            && (self.end_key.is_empty() || key < self.end_key.as_slice())
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        varint::put_u64(out, self.range_id);
        varint::put_u64(out, self.generation);
        varint::put_len_prefixed(out, &self.start_key);
        varint::put_len_prefixed(out, &self.end_key);
        varint::put_u64(out, self.next_replica_id);
        varint::put_u64(out, self.replicas.len() as u64);
        for r in &self.replicas {
            varint::put_u64(out, r.replica_id);
            varint::put_u64(out, r.node_id);
        }
    }

    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, cairn_codec::DecodeError> {
        let range_id = d.varint_u64()?;
        let generation = d.varint_u64()?;
        let start_key = d.len_prefixed("range start key")?.to_vec();
        let end_key = d.len_prefixed("range end key")?.to_vec();
        let next_replica_id = d.varint_u64()?;
        let n = d.varint_len("replica count")?;
        let mut replicas = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let replica_id = d.varint_u64()?;
            let node_id = d.varint_u64()?;
            replicas.push(ReplicaDescriptor {
                replica_id,
                node_id,
            });
        }
        Ok(Self {
            range_id,
            generation,
            start_key,
            end_key,
            replicas,
            next_replica_id,
        })
    }
}

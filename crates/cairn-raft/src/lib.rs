//! cairn-raft: replication of ranges by Raft (raft-rs), many groups per node.
//!
//! Layer 3: depends on `cairn-codec` only. The logs and data live in an [`Engine`] (the
//! node adapts `cairn-lsm` to it; the simulator uses [`MemEngine`]).
//! It owns the log storage ([`storage`]), the per-node driver ([`RaftNode`]) that persists all
//! groups' logs in one synced batch per turn and applies committed entries to a
//! [`StateMachine`], and a key-value register state machine ([`kv`]). It has no network and no
//! clock: the node server (gRPC) and the simulator (`cairn-sim`) drive it. Design and formats:
//! `docs/replication.md`.
#![allow(clippy::field_reassign_with_default)] // protobuf messages have private-ish extra fields; raft-proto does the same
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )
)]

pub mod engine;
pub mod error;
pub mod keys;
pub mod kv;
mod logger;
pub mod node;
pub mod sm;
pub mod state;
pub mod storage;
pub mod types;

pub use engine::{Batch, Engine, MemEngine};
pub use error::{Error, ProposalError, Result};
pub use node::{
    Applied, Completion, MembershipChange, Output, ProposalId, RaftConfig, RaftMessage, RaftNode,
    ReadId, ReadMode, ReplicaStatus, NODE_BUSY_RANGE, NODE_HEARTBEAT_RANGE, QUIESCE_CONTEXT,
    REMOVED_CONTEXT,
};
pub use raft::eraftpb;
pub use raft::StateRole;
pub use sm::{ApplyContext, StateMachine};
pub use types::{NodeId, RangeDescriptor, RangeId, ReplicaDescriptor, ReplicaId};

//! Errors of the Raft layer.
//!
//! [`Error`] is what the driver itself can fail with (the engine, corrupt persisted state, a
//! raft-rs invariant); [`ProposalError`] is the outcome a client gets for one proposal or read
//! and says whether the command certainly did not take effect.

use crate::types::{RangeId, ReplicaId};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("engine: {0}")]
    Engine(String),
    /// Persisted Raft state that does not decode: which key, and what was wrong.
    #[error("corrupt raft state at key {key}: {detail}")]
    Corrupt { key: String, detail: String },
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    #[error("range {0} not found on this node")]
    RangeNotFound(RangeId),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a proposal or read did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// This replica is not the leader; `leader` is the replica it believes leads, if any. The
    /// command was not proposed.
    #[error("not leader (leader hint: {leader:?})")]
    NotLeader { leader: Option<ReplicaId> },
    #[error("range {0} not found on this node")]
    RangeNotFound(RangeId),
    /// The command's log entry was replaced by another leader's: it will never apply.
    #[error("proposal dropped: its log entry was overwritten by a new leader")]
    Dropped,
    /// The command is too large or otherwise refused before proposing.
    #[error("proposal refused: {0}")]
    Refused(String),
    /// The command may or may not have applied (its replica was replaced by a snapshot or
    /// destroyed before the outcome was known).
    #[error("outcome unknown: the command may or may not have applied")]
    Ambiguous,
    /// A read's ReadIndex round did not finish in time; it had no effect.
    #[error("read timed out waiting for the leader to confirm its term")]
    ReadTimeout,
}

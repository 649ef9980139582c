//! The SQL range: the range `["s", "u")` whose state is the node's replicated MVCC database.
//!
//! Every node opens its engine as a `cairn_mvcc::Db` whose [`cairn_mvcc::Replicator`] is a
//! [`SqlReplicator`]. The database's keys are the SQL range's data (the engine adapter stores
//! them bare, `lsm_engine.rs`), so the Raft state machine of that range writes exactly the
//! keys the database reads. The leader of the range evaluates transactions: it reads its own
//! engine, keeps the lock table and the recent-writes index in memory, and proposes each
//! commit's batch as one `TermBatch` command tagged with its term; every replica applies it
//! (into the same engine batch as the apply state) only if it was appended in that term.
//!
//! Invariants:
//! 1. A barrier answers only on the range's leader, after a lease or ReadIndex confirmation,
//!    once the replica has applied everything committed before: a transaction that begins
//!    after it reads every commit acknowledged before it began.
//! 2. `replicate` returns `Ok` only once the command applied on this node, so a commit is
//!    visible to the next transaction here; `Unavailable` only when it certainly did not
//!    apply (refused before proposing, dropped, or appended in another term);
//!    `AmbiguousCommit` otherwise (the outcome was lost, or did not come in time).
//!
//! Threading: both calls block the calling thread (a SQL session's own thread); the waiting
//! runs on the node's tokio runtime, so they may be called from inside another runtime.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cairn_lsm::ikey::ValueKind;
use cairn_mvcc::{Error, Replicator, Result};
use cairn_raft::kv::{Command, Response};
use cairn_raft::{NodeId, ProposalError, RangeDescriptor, RangeId};
use parking_lot::RwLock;

use crate::lsm_engine::SQL_PREFIX;
use crate::raft_loop::{LoopHandle, ReadKind, ReadResult, RoutingView};

/// How long a barrier waits for the leader's confirmation.
const BARRIER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a commit waits for its entry to apply before it reports an unknown outcome.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQL range of a layout: the range that holds the key `"s"`.
pub fn sql_range(layout: &[RangeDescriptor]) -> Option<RangeId> {
    layout
        .iter()
        .find(|d| d.start_key == [SQL_PREFIX])
        .map(|d| d.range_id)
}

struct Target {
    node_id: NodeId,
    loop_handle: LoopHandle,
    routing: Arc<RwLock<RoutingView>>,
    range: RangeId,
}

/// The replicated MVCC database's link to the Raft loop (see the module comment).
pub struct SqlReplicator {
    runtime: tokio::runtime::Handle,
    target: OnceLock<Target>,
}

impl SqlReplicator {
    pub fn new(runtime: tokio::runtime::Handle) -> Self {
        Self {
            runtime,
            target: OnceLock::new(),
        }
    }

    /// Connects to the Raft loop once the node runs (nothing is served before).
    pub(crate) fn connect(
        &self,
        node_id: NodeId,
        loop_handle: LoopHandle,
        routing: Arc<RwLock<RoutingView>>,
        range: RangeId,
    ) {
        let _ = self.target.set(Target {
            node_id,
            loop_handle,
            routing,
            range,
        });
    }

    /// The SQL range's id and the node this node believes leads it.
    pub fn leader(&self) -> Option<(RangeId, Option<NodeId>)> {
        let t = self.target.get()?;
        let leader = t.routing.read().ranges.get(&t.range).and_then(|(_, l)| *l);
        Some((t.range, leader))
    }

    fn target(&self) -> Result<&Target> {
        self.target.get().ok_or_else(|| {
            Error::Unavailable("this node has not joined a cluster yet (run `cairn init`)".into())
        })
    }

    /// Runs `fut` on the node's runtime and waits for it, at most `timeout`.
    fn wait<T: Send + 'static>(
        &self,
        timeout: Duration,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(tokio::time::timeout(timeout, fut).await.ok());
        });
        rx.recv().ok().flatten()
    }

    fn not_leader(&self, t: &Target) -> Error {
        let hint = match self.leader().and_then(|(_, l)| l) {
            Some(n) if n != t.node_id => format!("node {n} leads it"),
            _ => "it has no leader yet".into(),
        };
        Error::Unavailable(format!(
            "node {} does not lead the SQL range ({hint}); retry",
            t.node_id
        ))
    }
}

impl Replicator for SqlReplicator {
    fn barrier(&self) -> Result<u64> {
        let t = self.target()?;
        let h = t.loop_handle.clone();
        let range = t.range;
        match self.wait(BARRIER_TIMEOUT, async move {
            h.read(range, ReadKind::Barrier).await
        }) {
            Some(Ok(ReadResult::Term(term))) => Ok(term),
            Some(Ok(_)) => Err(Error::Unavailable("internal: wrong barrier answer".into())),
            Some(Err(ProposalError::NotLeader { .. })) => Err(self.not_leader(t)),
            Some(Err(e)) => Err(Error::Unavailable(format!("SQL range: {e}; retry"))),
            None => Err(Error::Unavailable(
                "SQL range: no leadership confirmation in time; retry".into(),
            )),
        }
    }

    fn replicate(&self, term: u64, batch: cairn_lsm::WriteBatch) -> Result<()> {
        let t = self.target()?;
        let ops = batch
            .ops()
            .map_err(|e| Error::Unavailable(format!("internal: undecodable commit batch: {e}")))?;
        let key = |k: &[u8]| {
            let mut out = Vec::with_capacity(k.len() + 1);
            out.push(SQL_PREFIX);
            out.extend_from_slice(k);
            out
        };
        let mut writes = Vec::with_capacity(ops.len());
        for op in ops {
            writes.push(match op.kind {
                ValueKind::Put => Command::Put {
                    key: key(op.key),
                    value: op.value.to_vec(),
                },
                ValueKind::Delete => Command::Delete { key: key(op.key) },
                ValueKind::RangeDelete => {
                    return Err(Error::Unavailable(
                        "internal: a range deletion in a commit batch".into(),
                    ))
                }
            });
        }
        let command = Command::TermBatch { term, writes }.encode();
        let h = t.loop_handle.clone();
        let range = t.range;
        let outcome = self.wait(
            COMMIT_TIMEOUT,
            async move { h.propose(range, command).await },
        );
        match outcome {
            Some(Ok(resp)) => match Response::decode(&resp) {
                Ok(Response::Done) => Ok(()),
                Ok(Response::StaleTerm) => Err(Error::Unavailable(
                    "leadership of the SQL range moved before the commit applied; nothing was written, retry".into(),
                )),
                Ok(other) => Err(Error::Unavailable(format!(
                    "the SQL range refused the commit: {other:?}"
                ))),
                Err(e) => Err(Error::AmbiguousCommit(format!(
                    "undecodable answer from the SQL range: {e}"
                ))),
            },
            Some(Err(ProposalError::NotLeader { .. })) => Err(self.not_leader(t)),
            Some(Err(e @ (ProposalError::Dropped | ProposalError::Refused(_) | ProposalError::RangeNotFound(_)))) => {
                Err(Error::Unavailable(format!("SQL range: {e}; nothing was written, retry")))
            }
            Some(Err(e)) => Err(Error::AmbiguousCommit(format!("SQL range: {e}"))),
            None => Err(Error::AmbiguousCommit(
                "the commit did not apply in time; it may still".into(),
            )),
        }
    }
}

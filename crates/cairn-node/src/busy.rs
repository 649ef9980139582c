//! Busy notices: how a node whose Raft loop is stuck in a long turn tells its peers that it is
//! alive, so that they neither campaign against it nor depose it (see "Busy peers" in
//! `cairn_raft::node`).
//!
//! The loop marks the start and end of every turn ([`Busy::begin_turn`], [`Busy::end_turn`]).
//! A task on the node's runtime ([`send_notices`], not the loop's thread) looks every
//! [`NOTICE_EVERY`]: while the current turn has lasted at least [`BUSY_AFTER`] and less than
//! [`BUSY_MAX`], it sends every peer node an empty message to [`NODE_BUSY_RANGE`] through the
//! transport's control connection (`Transport::send_control`: not queued behind a large append
//! on the Raft stream), which fault injection cuts exactly as it cuts Raft traffic. A peer's
//! transport records the notice ([`Busy::note_peer_busy`]) without queueing it to its loop, and
//! counts that node as busy for [`BUSY_GRACE`] after the last one; its loop hands the set to the
//! driver before each tick.
//!
//! Invariants:
//! 1. Notices stop once a turn has lasted [`BUSY_MAX`]: a loop that is wedged, not merely
//!    busy, is taken for dead about `BUSY_MAX + BUSY_GRACE` plus an election timeout later,
//!    and its ranges fail over.
//! 2. A node is busy at its peers only while notices keep arriving: [`BUSY_GRACE`] after the
//!    last one, Raft's own timers govern again.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_raft::eraftpb::Message;
use cairn_raft::{NodeId, RaftMessage, NODE_BUSY_RANGE};
use parking_lot::RwLock;

use crate::transport::{Addresses, Transport};

/// How often the notice task looks at the loop.
pub const NOTICE_EVERY: Duration = Duration::from_millis(20);
/// A turn this long is worth a notice (a tenth of a 150 ms heartbeat-free window, plus slack).
pub const BUSY_AFTER: Duration = Duration::from_millis(40);
/// No notices for a turn longer than this: the loop is taken to be wedged.
pub const BUSY_MAX: Duration = Duration::from_secs(2);
/// How long one notice counts.
pub const BUSY_GRACE: Duration = Duration::from_millis(100);

/// One node's view of its own loop and of its busy peers.
pub struct Busy {
    epoch: Instant,
    /// Milliseconds after `epoch` at which the current turn began, plus one; 0 between turns.
    turn_started: AtomicU64,
    /// Per peer node, until when it counts as busy.
    peers: RwLock<HashMap<NodeId, Instant>>,
}

impl Default for Busy {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            turn_started: AtomicU64::new(0),
            peers: RwLock::new(HashMap::new()),
        }
    }
}

impl Busy {
    pub fn begin_turn(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.turn_started.store(ms + 1, Ordering::Relaxed);
    }

    pub fn end_turn(&self) {
        self.turn_started.store(0, Ordering::Relaxed);
    }

    /// How long the current turn has lasted (None between turns).
    pub fn turn_age(&self) -> Option<Duration> {
        match self.turn_started.load(Ordering::Relaxed) {
            0 => None,
            started => {
                let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                Some(Duration::from_millis(now.saturating_sub(started - 1)))
            }
        }
    }

    /// Whether the loop is in a turn long enough for notices, and not so long that it is
    /// taken to be wedged.
    pub fn should_notify(&self) -> bool {
        self.turn_age()
            .is_some_and(|age| age >= BUSY_AFTER && age < BUSY_MAX)
    }

    /// Records a notice from `node`.
    pub fn note_peer_busy(&self, node: NodeId) {
        let now = Instant::now();
        if let Some(until) = self.peers.write().insert(node, now + BUSY_GRACE) {
            if until > now {
                return;
            }
        }
        tracing::debug!(node, "peer node busy in a long turn");
    }

    /// The peer nodes whose last notice still counts; forgets the others.
    pub fn busy_peers(&self) -> BTreeSet<NodeId> {
        let now = Instant::now();
        {
            let peers = self.peers.read();
            if peers.values().all(|&until| until > now) {
                return peers.keys().copied().collect();
            }
        }
        let mut peers = self.peers.write();
        peers.retain(|_, until| *until > now);
        peers.keys().copied().collect()
    }
}

/// Sends busy notices for node `me` while its loop is stuck in a turn (see the module header).
/// Runs until `busy` is the last reference left.
pub async fn send_notices(me: NodeId, busy: Arc<Busy>, addrs: Addresses, transport: Transport) {
    let mut every = tokio::time::interval(NOTICE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if Arc::strong_count(&busy) == 1 {
            return;
        }
        if !busy.should_notify() {
            continue;
        }
        let peers: Vec<NodeId> = addrs.read().keys().copied().filter(|&n| n != me).collect();
        tracing::trace!(age = ?busy.turn_age(), "busy notices sent");
        for to in peers {
            transport.send_control(RaftMessage {
                range_id: NODE_BUSY_RANGE,
                from_node: me,
                to_node: to,
                msg: Message::default(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_is_worth_notices_only_between_busy_after_and_busy_max() {
        let b = Busy::default();
        assert!(!b.should_notify(), "no turn, no notice");
        b.begin_turn();
        assert!(!b.should_notify(), "a turn that just began is not busy");
        std::thread::sleep(BUSY_AFTER + Duration::from_millis(10));
        assert!(b.should_notify());
        b.end_turn();
        assert!(!b.should_notify());
    }

    #[test]
    fn a_turn_older_than_busy_max_counts_as_wedged() {
        let Some(epoch) = Instant::now().checked_sub(BUSY_MAX + Duration::from_secs(1)) else {
            return; // a clock too young to go back that far
        };
        let b = Busy {
            epoch,
            ..Busy::default()
        };
        // The turn began at the epoch, BUSY_MAX + 1 s ago.
        b.turn_started.store(1, Ordering::Relaxed);
        assert!(b.turn_age().is_some_and(|a| a >= BUSY_MAX));
        assert!(!b.should_notify());
    }

    #[test]
    fn a_peer_stays_busy_for_the_grace_after_its_last_notice() {
        let b = Busy::default();
        b.note_peer_busy(7);
        assert_eq!(b.busy_peers(), BTreeSet::from([7]));
        std::thread::sleep(BUSY_GRACE + Duration::from_millis(20));
        assert!(b.busy_peers().is_empty());
    }
}

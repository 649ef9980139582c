//! The lock table: row locks taken by transactions.
//!
//! READ COMMITTED writers lock each row they write, and `SELECT ... FOR UPDATE` /
//! `SELECT ... FOR SHARE` take explicit row locks; both go through [`LockTable::acquire`].
//! A key is locked in [`LockMode::Shared`] (compatible with other sharers) or
//! [`LockMode::Exclusive`] (compatible with nothing), and a lock is held until the
//! transaction ends and calls [`LockTable::release_all`]. A request that cannot be granted
//! at once either waits in the key's FIFO queue ([`WaitPolicy::Block`], with an optional
//! timeout), fails at once ([`WaitPolicy::NoWait`]), or is skipped
//! ([`WaitPolicy::SkipLocked`]). Waiting requests take part in deadlock detection.
//!
//! # Invariants
//!
//! Each invariant is checked by the test named after it (and, for 1-5, by the test-only
//! `LockTable::assert_invariants`, which the stress test runs on every iteration of every
//! thread while other threads lock and unlock).
//!
//! 1. **Compatibility.** A key's holders are either one `Exclusive` holder or any number of
//!    `Shared` holders, and a transaction appears at most once among them (a re-entrant
//!    request or an upgrade changes its entry in place, keeping its grant position).
//!    Enforced by `shared_locks_are_compatible_exclusive_is_not`,
//!    `reentrant_acquire_and_sole_holder_upgrade`, and
//!    `stress_random_two_key_lockers_keep_mutual_exclusion`.
//! 2. **FIFO, no starvation.** Between operations, the request at the front of a key's
//!    queue conflicts with a current holder, and every queued request conflicts with a
//!    holder or with an earlier queued request. Waiters are granted strictly from the front,
//!    so a stream of `Shared` requests cannot overtake a waiting `Exclusive` one. The only
//!    request that is placed ahead of others is an upgrade (a `Shared` holder asking for
//!    `Exclusive` while others share): it goes behind earlier upgrades but ahead of plain
//!    waiters, which cannot be granted before it anyway. Enforced by
//!    `waiters_are_granted_in_fifo_order`, `shared_request_queues_behind_waiting_exclusive`,
//!    and `upgrade_waits_ahead_of_plain_waiters_without_false_deadlock`.
//! 3. **One home per waiter.** A waiting request is in its key's queue if and only if it is
//!    registered in the per-transaction wait index, if and only if its state is "waiting".
//!    Whoever ends a wait (grant, timeout, deadlock, cancel, `release_all`) removes it from
//!    both in the same critical section and then lets the waiters behind it through.
//!    Enforced by `lock_wait_timeout_fires`,
//!    `timed_out_waiter_lets_compatible_waiters_behind_it_through`,
//!    `cancel_wakes_blocked_waiter` and `release_all_of_a_blocked_txn_ends_its_wait`.
//! 4. **No leaks.** A key has an entry if and only if it has a holder or a waiter, and the
//!    per-transaction index of held keys lists exactly the keys where the transaction is a
//!    holder; `NoWait` and `SkipLocked` failures leave no trace. Enforced by
//!    `release_all_removes_entries_no_leak` and
//!    `skip_locked_returns_skipped_and_leaves_no_entry`.
//! 5. **Non-blocking policies never wait.** `NoWait` and `SkipLocked` decide under the same
//!    rules as a blocking request, without sleeping. Enforced by
//!    `nowait_fails_at_once_when_held` and `skip_locked_returns_skipped_and_leaves_no_entry`.
//! 6. **One victim per cycle.** A cycle is only ever reported to the transaction that found
//!    it (the victim), which leaves the queue in the same critical section in which it found
//!    the cycle, so the cycle is gone before anyone else can look. Enforced by
//!    `opposite_order_lockers_deadlock_one_victim`, `three_way_cycle_is_detected` and
//!    `upgrade_deadlock_between_two_sharers_is_detected`.
//!
//! # Concurrency
//!
//! One `parking_lot::Mutex` guards the whole table: the per-key state (holders in grant
//! order and the FIFO queue of waiters), the per-transaction index of held keys (so
//! `release_all` is O(keys held)), the per-transaction index of waiting requests, and the
//! set of cancelled transactions. Every operation does all its work inside one critical
//! section, and none of them does I/O or calls out, so the lock is held briefly.
//!
//! A blocked request owns a wait slot with its own `Condvar`, which it waits on with the
//! table mutex (all slots use the same mutex). The slot's state (waiting / granted /
//! removed) is an atomic only so that the slot can be shared between threads without
//! `unsafe`; it is read and written only with the table mutex held. Whoever changes the
//! state notifies that slot's condvar, so a grant wakes exactly the waiter granted. A waiter
//! also wakes by itself at its deadline and every `deadlock_check_interval`, never more
//! often. The deadlock counter is an atomic outside the mutex.
//!
//! # Deadlock detection
//!
//! The wait-for graph has an edge from each waiting transaction to each holder of its key
//! whose mode conflicts with the request, and to each earlier waiter in the same queue whose
//! mode conflicts (a transaction never waits for itself). When a request starts waiting,
//! and again every `deadlock_check_interval` while it waits, the requester runs a
//! depth-first search from itself over that graph, computing each transaction's edges
//! lazily from the wait index, so only the part of the graph reachable from the requester
//! is visited. If the search gets back to the requester, the requester is the victim: it
//! leaves the queue, the counter behind [`LockTable::deadlocks_detected`] goes up, and it
//! returns [`LockError::Deadlock`] with the cycle listed from the victim along the edges.
//! The victim's transaction is expected to abort and call `release_all`, which lets the
//! rest of the cycle proceed. A new cycle is closed by a transaction starting to wait (only
//! a new waiter adds edges out of a transaction), and that transaction searches at once, so
//! a cycle is normally found as it forms; the periodic re-check is a safety net.
//!
//! # Across nodes
//!
//! This table only sees local waits. The cluster layer can find cycles that span nodes by
//! edge chasing (as in Chandy-Misra-Haas): each node exposes its current local edges with
//! [`LockTable::wait_for_edges`]; a transaction blocked for a while sends a probe
//! `(initiator, from, to)` along each of its edges, a node receiving a probe forwards it
//! along the local edges leaving `to` (including edges into transactions waiting on other
//! nodes), and a probe that arrives back at its initiator proves a cycle. The detector then
//! aborts a victim through [`LockTable::cancel`] on the victim's home node, which ends the
//! victim's blocked `acquire` with [`LockError::Cancelled`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_types::TxnId;
use parking_lot::{Condvar, Mutex, MutexGuard};

/// How a key is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Compatible with other `Shared` locks (`FOR SHARE`).
    Shared,
    /// Compatible with nothing (writes, `FOR UPDATE`).
    Exclusive,
}

impl LockMode {
    /// Whether a lock in `self` and a lock in `other` cannot be held together by two
    /// different transactions.
    fn conflicts_with(self, other: LockMode) -> bool {
        self == LockMode::Exclusive || other == LockMode::Exclusive
    }

    /// Whether holding `self` already gives everything `wanted` asks for.
    fn covers(self, wanted: LockMode) -> bool {
        self == LockMode::Exclusive || wanted == LockMode::Shared
    }

    fn stronger(self, other: LockMode) -> LockMode {
        if self == LockMode::Exclusive || other == LockMode::Exclusive {
            LockMode::Exclusive
        } else {
            LockMode::Shared
        }
    }
}

/// What to do when a lock cannot be granted at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Wait in the key's FIFO queue; `None` waits without a time limit (deadlock detection still applies).
    Block { timeout: Option<Duration> },
    /// Fail at once with LockError::NotAvailable if the lock cannot be granted immediately.
    NoWait,
    /// Return Ok(LockOutcome::Skipped) at once if the lock cannot be granted immediately.
    SkipLocked,
}

/// The result of a successful [`LockTable::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOutcome {
    /// The lock is held (newly, re-entrantly, or by upgrade).
    Acquired,
    /// `SkipLocked` and the lock was not available; nothing was recorded.
    Skipped,
}

/// Why a lock was not obtained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// `NoWait` and the lock was not available; `holder` is a conflicting holder, or if
    /// there is none, the first queued request the caller would have had to wait behind.
    #[error("could not obtain lock: held by {holder}")]
    NotAvailable { holder: TxnId },
    /// The wait exceeded the `Block` timeout; `waited_ms` counts from the call.
    #[error("lock wait timed out after {waited_ms} ms")]
    Timeout { waited_ms: u64 },
    /// Waiting would close a cycle of waits; `cycle` starts with `victim` (the caller) and
    /// follows the wait-for edges.
    #[error("deadlock detected: {victim} was chosen as the victim")]
    Deadlock { victim: TxnId, cycle: Vec<TxnId> },
    /// The transaction was cancelled (or its locks released) while or before it asked.
    #[error("lock wait cancelled: {txn} was aborted")]
    Cancelled { txn: TxnId },
}

/// Tuning for a [`LockTable`].
#[derive(Debug, Clone)]
pub struct LockTableConfig {
    /// How often a blocked waiter re-runs deadlock detection from itself (default 20 ms).
    pub deadlock_check_interval: Duration,
}

impl Default for LockTableConfig {
    fn default() -> Self {
        LockTableConfig {
            deadlock_check_interval: Duration::from_millis(20),
        }
    }
}

/// The shortest re-check interval honoured, so that a zero interval cannot spin.
const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(1);

/// Where a wait slot is in its life. Stored as a `u8` in [`WaitSlot::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// In its key's queue and in the wait index.
    Waiting,
    /// Granted: the transaction is now a holder of the key.
    Granted,
    /// Taken out of the queue without a grant (cancel, release_all, or by the waiter itself
    /// on timeout or deadlock).
    Removed,
}

impl SlotState {
    fn to_u8(self) -> u8 {
        match self {
            SlotState::Waiting => 0,
            SlotState::Granted => 1,
            SlotState::Removed => 2,
        }
    }

    fn from_u8(v: u8) -> SlotState {
        match v {
            1 => SlotState::Granted,
            2 => SlotState::Removed,
            _ => SlotState::Waiting,
        }
    }
}

/// One blocked request.
struct WaitSlot {
    /// Unique per table, to find this slot in queues and indexes.
    id: u64,
    txn: TxnId,
    mode: LockMode,
    key: Box<[u8]>,
    /// A [`SlotState`]; only touched with the table mutex held (see the module docs).
    state: AtomicU8,
    /// Notified, with the table mutex held, whenever `state` changes.
    wakeup: Condvar,
}

impl WaitSlot {
    fn state(&self) -> SlotState {
        SlotState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Moves the slot to `state` and wakes its waiter. Call with the table mutex held.
    fn finish(&self, state: SlotState) {
        self.state.store(state.to_u8(), Ordering::Relaxed);
        self.wakeup.notify_one();
    }
}

/// The lock state of one key.
#[derive(Default)]
struct KeyState {
    /// Holders in grant order; each transaction at most once.
    holders: Vec<(TxnId, LockMode)>,
    /// Waiters; granted from the front only.
    queue: VecDeque<Arc<WaitSlot>>,
}

impl KeyState {
    fn holder_index(&self, txn: TxnId) -> Option<usize> {
        self.holders.iter().position(|&(t, _)| t == txn)
    }

    /// The mode `txn` holds, if it is a holder.
    fn holder_mode(&self, txn: TxnId) -> Option<LockMode> {
        self.holders
            .iter()
            .find(|&&(t, _)| t == txn)
            .map(|&(_, m)| m)
    }

    /// Changes the mode of holder `txn` in place (keeping its grant position).
    fn set_holder_mode(&mut self, txn: TxnId, mode: LockMode) {
        if let Some(h) = self.holders.iter_mut().find(|h| h.0 == txn) {
            h.1 = mode;
        }
    }

    /// The first holder other than `txn` whose lock conflicts with `mode`.
    fn conflicting_holder(&self, txn: TxnId, mode: LockMode) -> Option<TxnId> {
        self.holders
            .iter()
            .find(|&&(t, m)| t != txn && m.conflicts_with(mode))
            .map(|&(t, _)| t)
    }

    /// The first of the first `end` queued requests that is not `txn`'s and conflicts with
    /// `mode`.
    fn conflicting_waiter(&self, txn: TxnId, mode: LockMode, end: usize) -> Option<TxnId> {
        self.queue
            .iter()
            .take(end)
            .find(|s| s.txn != txn && s.mode.conflicts_with(mode))
            .map(|s| s.txn)
    }

    /// Appends the wait-for edges' targets of the request at `queue[pos]` to `out`.
    fn blockers_of(&self, pos: usize, out: &mut Vec<TxnId>) {
        let Some(slot) = self.queue.get(pos) else {
            return;
        };
        for &(t, m) in &self.holders {
            if t != slot.txn && m.conflicts_with(slot.mode) {
                out.push(t);
            }
        }
        for earlier in self.queue.iter().take(pos) {
            if earlier.txn != slot.txn && earlier.mode.conflicts_with(slot.mode) {
                out.push(earlier.txn);
            }
        }
    }

    fn is_idle(&self) -> bool {
        self.holders.is_empty() && self.queue.is_empty()
    }
}

/// Why a request could not be granted at once.
struct Blocked {
    /// A conflicting holder, or the first conflicting waiter if no holder conflicts.
    blocker: TxnId,
    /// The requester holds the key `Shared` and wants `Exclusive`.
    upgrade: bool,
}

type WaitIndex = HashMap<TxnId, Vec<Arc<WaitSlot>>>;

/// Everything behind the table mutex.
#[derive(Default)]
struct Inner {
    keys: HashMap<Vec<u8>, KeyState>,
    /// Keys where each transaction is a holder.
    held: HashMap<TxnId, Vec<Vec<u8>>>,
    /// Queued requests of each transaction (normally at most one).
    waiting: WaitIndex,
    /// Transactions whose acquires fail with `Cancelled` until their `release_all`.
    cancelled: HashSet<TxnId>,
    next_slot_id: u64,
}

/// Drops `slot` from the wait index.
fn unregister(waiting: &mut WaitIndex, slot: &WaitSlot) {
    if let Some(slots) = waiting.get_mut(&slot.txn) {
        slots.retain(|s| s.id != slot.id);
        if slots.is_empty() {
            waiting.remove(&slot.txn);
        }
    }
}

impl Inner {
    /// Grants `mode` on `key` to `txn` if that is possible without waiting, under the
    /// rules in the module docs; otherwise says who is in the way. Changes nothing when it
    /// fails.
    fn try_grant(&mut self, txn: TxnId, key: &[u8], mode: LockMode) -> Result<(), Blocked> {
        let Some(state) = self.keys.get_mut(key) else {
            let mut state = KeyState::default();
            state.holders.push((txn, mode));
            self.keys.insert(key.to_vec(), state);
            self.held.entry(txn).or_default().push(key.to_vec());
            return Ok(());
        };
        if let Some(held) = state.holder_mode(txn) {
            if held.covers(mode) {
                return Ok(());
            }
            // Shared held, Exclusive wanted: an upgrade, possible only as the sole holder.
            return match state.conflicting_holder(txn, mode) {
                None => {
                    state.set_holder_mode(txn, LockMode::Exclusive);
                    Ok(())
                }
                Some(blocker) => Err(Blocked {
                    blocker,
                    upgrade: true,
                }),
            };
        }
        let in_the_way = state
            .conflicting_holder(txn, mode)
            .or_else(|| state.conflicting_waiter(txn, mode, usize::MAX));
        if let Some(blocker) = in_the_way {
            return Err(Blocked {
                blocker,
                upgrade: false,
            });
        }
        state.holders.push((txn, mode));
        self.held.entry(txn).or_default().push(key.to_vec());
        Ok(())
    }

    /// Queues `slot` on its key (which exists: someone is in the way) and registers it.
    fn enqueue(&mut self, slot: &Arc<WaitSlot>, upgrade: bool) {
        if let Some(state) = self.keys.get_mut(&*slot.key) {
            if upgrade {
                // Behind earlier upgrades (waiters that already hold the key), ahead of the rest.
                let pos = state
                    .queue
                    .iter()
                    .take_while(|s| state.holder_index(s.txn).is_some())
                    .count();
                state.queue.insert(pos, Arc::clone(slot));
            } else {
                state.queue.push_back(Arc::clone(slot));
            }
        } else {
            // Unreachable: a blocked request always found an entry. Keep the invariants
            // anyway by making the entry.
            let mut state = KeyState::default();
            state.queue.push_back(Arc::clone(slot));
            self.keys.insert(slot.key.to_vec(), state);
        }
        self.waiting
            .entry(slot.txn)
            .or_default()
            .push(Arc::clone(slot));
    }

    /// Takes a still-waiting `slot` out of its queue and the wait index without granting
    /// it, wakes it, and lets the waiters behind it through.
    fn withdraw(&mut self, slot: &WaitSlot) {
        if slot.state() != SlotState::Waiting {
            return;
        }
        unregister(&mut self.waiting, slot);
        if let Some(state) = self.keys.get_mut(&*slot.key) {
            state.queue.retain(|s| s.id != slot.id);
        }
        slot.finish(SlotState::Removed);
        self.settle(&slot.key);
    }

    /// Grants waiters of `key` from the front of its queue while the front is compatible
    /// with the holders, then drops the entry if nobody holds or waits any more.
    fn settle(&mut self, key: &[u8]) {
        let Inner {
            keys,
            held,
            waiting,
            ..
        } = self;
        let Some(state) = keys.get_mut(key) else {
            return;
        };
        while let Some(front) = state.queue.front() {
            if state.conflicting_holder(front.txn, front.mode).is_some() {
                break;
            }
            let Some(slot) = state.queue.pop_front() else {
                break;
            };
            match state.holder_mode(slot.txn) {
                Some(held) => state.set_holder_mode(slot.txn, held.stronger(slot.mode)),
                None => {
                    state.holders.push((slot.txn, slot.mode));
                    held.entry(slot.txn).or_default().push(key.to_vec());
                }
            }
            unregister(waiting, &slot);
            slot.finish(SlotState::Granted);
        }
        if state.is_idle() {
            keys.remove(key);
        }
    }

    /// The transactions `txn` currently waits for (targets of its wait-for edges).
    fn waits_for(&self, txn: TxnId) -> Vec<TxnId> {
        let mut out = Vec::new();
        for slot in self.waiting.get(&txn).into_iter().flatten() {
            let Some(state) = self.keys.get(&*slot.key) else {
                continue;
            };
            if let Some(pos) = state.queue.iter().position(|s| s.id == slot.id) {
                state.blockers_of(pos, &mut out);
            }
        }
        // Keep the first occurrence of each, so the search follows grant/queue order.
        let mut seen = HashSet::new();
        out.retain(|t| seen.insert(*t));
        out
    }

    /// Depth-first search for a wait-for cycle through `start`; the cycle is returned
    /// starting with `start`, each transaction waiting for the next and the last for `start`.
    fn find_cycle(&self, start: TxnId) -> Option<Vec<TxnId>> {
        let mut path = vec![start];
        let mut pending = vec![self.waits_for(start).into_iter()];
        let mut visited = HashSet::from([start]);
        loop {
            let next = match pending.last_mut() {
                None => return None,
                Some(edges) => edges.next(),
            };
            match next {
                Some(t) if t == start => return Some(path),
                Some(t) => {
                    if visited.insert(t) {
                        path.push(t);
                        pending.push(self.waits_for(t).into_iter());
                    }
                }
                None => {
                    pending.pop();
                    path.pop();
                }
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The lock table. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct LockTable {
    inner: Mutex<Inner>,
    deadlock_check_interval: Duration,
    deadlocks: AtomicU64,
}

impl fmt::Debug for LockTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockTable")
            .field("deadlock_check_interval", &self.deadlock_check_interval)
            .field("deadlocks_detected", &self.deadlocks_detected())
            .finish_non_exhaustive()
    }
}

impl LockTable {
    /// An empty table. A `deadlock_check_interval` under 1 ms is treated as 1 ms.
    pub fn new(config: LockTableConfig) -> LockTable {
        LockTable {
            inner: Mutex::new(Inner::default()),
            deadlock_check_interval: config.deadlock_check_interval.max(MIN_CHECK_INTERVAL),
            deadlocks: AtomicU64::new(0),
        }
    }

    /// Blocks according to `wait`. Re-entrant: a holder asking again for the same or a weaker mode gets Acquired at once;
    /// a sole Shared holder asking for Exclusive is upgraded at once; a Shared holder asking for Exclusive while others
    /// share waits (and a cycle of two upgraders is a deadlock).
    pub fn acquire(
        &self,
        txn: TxnId,
        key: &[u8],
        mode: LockMode,
        wait: WaitPolicy,
    ) -> Result<LockOutcome, LockError> {
        let started = Instant::now();
        let mut inner = self.inner.lock();
        if inner.cancelled.contains(&txn) {
            return Err(LockError::Cancelled { txn });
        }
        let blocked = match inner.try_grant(txn, key, mode) {
            Ok(()) => return Ok(LockOutcome::Acquired),
            Err(blocked) => blocked,
        };
        match wait {
            WaitPolicy::NoWait => Err(LockError::NotAvailable {
                holder: blocked.blocker,
            }),
            WaitPolicy::SkipLocked => Ok(LockOutcome::Skipped),
            WaitPolicy::Block { timeout } => {
                let id = inner.next_slot_id;
                inner.next_slot_id = inner.next_slot_id.wrapping_add(1);
                let slot = Arc::new(WaitSlot {
                    id,
                    txn,
                    mode,
                    key: key.into(),
                    state: AtomicU8::new(SlotState::Waiting.to_u8()),
                    wakeup: Condvar::new(),
                });
                let deadline = timeout.and_then(|t| started.checked_add(t));
                self.wait_in_queue(inner, &slot, blocked.upgrade, started, deadline)
            }
        }
    }

    /// Queues the request and sleeps until it is granted, times out, is chosen as a
    /// deadlock victim, or is cancelled.
    fn wait_in_queue(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        slot: &Arc<WaitSlot>,
        upgrade: bool,
        started: Instant,
        deadline: Option<Instant>,
    ) -> Result<LockOutcome, LockError> {
        let (txn, mode) = (slot.txn, slot.mode);
        inner.enqueue(slot, upgrade);
        tracing::trace!(%txn, ?mode, upgrade, "lock table: waiting for a row lock");

        // Check for a deadlock at once, then every interval.
        let mut next_check = Some(Instant::now());
        loop {
            match slot.state() {
                SlotState::Granted => return Ok(LockOutcome::Acquired),
                SlotState::Removed => return Err(LockError::Cancelled { txn }),
                SlotState::Waiting => {}
            }
            if inner.cancelled.contains(&txn) {
                inner.withdraw(slot);
                return Err(LockError::Cancelled { txn });
            }
            let now = Instant::now();
            if next_check.is_some_and(|at| now >= at) {
                if let Some(cycle) = inner.find_cycle(txn) {
                    inner.withdraw(slot);
                    let total = self.deadlocks.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::debug!(victim = %txn, ?cycle, total, "lock table: deadlock detected");
                    return Err(LockError::Deadlock { victim: txn, cycle });
                }
                next_check = now.checked_add(self.deadlock_check_interval);
            }
            if deadline.is_some_and(|at| now >= at) {
                inner.withdraw(slot);
                let waited_ms = millis(started.elapsed());
                tracing::debug!(%txn, waited_ms, "lock table: lock wait timed out");
                return Err(LockError::Timeout { waited_ms });
            }
            let wake_at = match (deadline, next_check) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match wake_at {
                Some(at) => {
                    slot.wakeup.wait_until(&mut inner, at);
                }
                None => slot.wakeup.wait(&mut inner),
            }
        }
    }

    /// Releases every lock `txn` holds and removes it from any wait queue; grants the next compatible waiters in FIFO order and wakes them.
    ///
    /// A blocked `acquire` of `txn` on another thread returns `Cancelled`. This also ends a
    /// `cancel` of `txn`.
    pub fn release_all(&self, txn: TxnId) {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        let mut touched: Vec<Vec<u8>> = Vec::new();
        if let Some(slots) = inner.waiting.remove(&txn) {
            for slot in slots {
                if let Some(state) = inner.keys.get_mut(&*slot.key) {
                    state.queue.retain(|s| s.id != slot.id);
                }
                slot.finish(SlotState::Removed);
                touched.push(slot.key.to_vec());
            }
        }
        if let Some(keys) = inner.held.remove(&txn) {
            for key in keys {
                if let Some(state) = inner.keys.get_mut(&key) {
                    state.holders.retain(|&(t, _)| t != txn);
                }
                touched.push(key);
            }
        }
        for key in &touched {
            inner.settle(key);
        }
        inner.cancelled.remove(&txn);
    }

    /// Makes a blocked `acquire` of `txn` (if any) return Err(Cancelled) promptly, and any later acquire of txn too, until release_all(txn).
    ///
    /// Locks `txn` already holds stay held until its `release_all`.
    pub fn cancel(&self, txn: TxnId) {
        let mut inner = self.inner.lock();
        inner.cancelled.insert(txn);
        let slots = inner.waiting.get(&txn).cloned().unwrap_or_default();
        for slot in &slots {
            inner.withdraw(slot);
        }
    }

    /// Who holds `key`, in grant order (for tests and `cairn debug`).
    pub fn holders(&self, key: &[u8]) -> Vec<(TxnId, LockMode)> {
        self.inner
            .lock()
            .keys
            .get(key)
            .map(|state| state.holders.clone())
            .unwrap_or_default()
    }

    /// Number of keys with at least one holder or waiter.
    pub fn locked_key_count(&self) -> usize {
        self.inner.lock().keys.len()
    }

    /// Current wait-for edges (waiter, holder-or-earlier-incompatible-waiter), for a distributed detector and for tests.
    ///
    /// Sorted and without duplicates.
    pub fn wait_for_edges(&self) -> Vec<(TxnId, TxnId)> {
        let inner = self.inner.lock();
        let mut edges = Vec::new();
        let mut targets = Vec::new();
        for state in inner.keys.values() {
            for (pos, slot) in state.queue.iter().enumerate() {
                targets.clear();
                state.blockers_of(pos, &mut targets);
                edges.extend(targets.iter().map(|&t| (slot.txn, t)));
            }
        }
        edges.sort();
        edges.dedup();
        edges
    }

    /// Count of deadlocks detected (victims chosen) since creation.
    pub fn deadlocks_detected(&self) -> u64 {
        self.deadlocks.load(Ordering::Relaxed)
    }

    /// Panics unless invariants 1-4 of the module docs hold right now.
    #[cfg(test)]
    fn assert_invariants(&self) {
        let inner = self.inner.lock();
        for (key, state) in &inner.keys {
            assert!(!state.is_idle(), "idle entry left for {key:?}");
            let mut seen = HashSet::new();
            for &(t, _) in &state.holders {
                assert!(seen.insert(t), "{t} holds {key:?} twice");
                let listed = inner.held.get(&t).is_some_and(|ks| ks.contains(key));
                assert!(listed, "{t} holds {key:?} but the held index misses it");
            }
            if state.holders.iter().any(|&(_, m)| m == LockMode::Exclusive) {
                assert_eq!(state.holders.len(), 1, "exclusive lock shared on {key:?}");
            }
            if let Some(front) = state.queue.front() {
                assert!(
                    state.conflicting_holder(front.txn, front.mode).is_some(),
                    "front waiter {} on {key:?} is grantable but waits",
                    front.txn
                );
            }
            for (pos, slot) in state.queue.iter().enumerate() {
                assert_eq!(slot.state(), SlotState::Waiting);
                assert_eq!(&*slot.key, key.as_slice());
                let registered = inner
                    .waiting
                    .get(&slot.txn)
                    .is_some_and(|ss| ss.iter().any(|s| s.id == slot.id));
                assert!(
                    registered,
                    "queued slot of {} not in the wait index",
                    slot.txn
                );
                let mut blockers = Vec::new();
                state.blockers_of(pos, &mut blockers);
                assert!(!blockers.is_empty(), "{} waits for nobody", slot.txn);
            }
        }
        for (t, keys) in &inner.held {
            assert!(!keys.is_empty(), "empty held list for {t}");
            let distinct: HashSet<_> = keys.iter().collect();
            assert_eq!(distinct.len(), keys.len(), "duplicate held key for {t}");
            for key in keys {
                let holds = inner
                    .keys
                    .get(key)
                    .is_some_and(|s| s.holder_index(*t).is_some());
                assert!(holds, "held index says {t} holds {key:?}, table disagrees");
            }
        }
        for (t, slots) in &inner.waiting {
            assert!(!slots.is_empty(), "empty wait list for {t}");
            for slot in slots {
                let queued = inner
                    .keys
                    .get(&*slot.key)
                    .is_some_and(|s| s.queue.iter().any(|q| q.id == slot.id));
                assert!(queued, "registered slot of {t} is not queued");
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::Barrier;
    use std::thread;

    use LockMode::{Exclusive, Shared};

    /// Distinct in the high bits too, so `Display` tells them apart in failure messages.
    fn t(n: u128) -> TxnId {
        TxnId((n << 96) | n)
    }

    fn table() -> LockTable {
        LockTable::new(LockTableConfig::default())
    }

    /// Long enough never to fire in a passing test, short enough to fail instead of hang.
    const BLOCK: WaitPolicy = WaitPolicy::Block {
        timeout: Some(Duration::from_secs(3)),
    };

    /// Polls `cond` until it holds, failing after one second.
    fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn waits(table: &LockTable, waiter: TxnId, blocker: TxnId) -> bool {
        table.wait_for_edges().contains(&(waiter, blocker))
    }

    #[test]
    fn lock_table_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<LockTable>();
    }

    #[test]
    fn shared_locks_are_compatible_exclusive_is_not() {
        let lt = table();
        let (a, b, c, d) = (t(1), t(2), t(3), t(4));
        assert_eq!(
            lt.acquire(a, b"k", Shared, WaitPolicy::NoWait),
            Ok(LockOutcome::Acquired)
        );
        assert_eq!(
            lt.acquire(b, b"k", Shared, WaitPolicy::NoWait),
            Ok(LockOutcome::Acquired)
        );
        assert_eq!(lt.holders(b"k"), vec![(a, Shared), (b, Shared)]);
        assert_eq!(
            lt.acquire(c, b"k", Exclusive, WaitPolicy::NoWait),
            Err(LockError::NotAvailable { holder: a })
        );
        lt.release_all(a);
        lt.release_all(b);
        assert_eq!(
            lt.acquire(c, b"k", Exclusive, WaitPolicy::NoWait),
            Ok(LockOutcome::Acquired)
        );
        assert_eq!(
            lt.acquire(d, b"k", Shared, WaitPolicy::NoWait),
            Err(LockError::NotAvailable { holder: c })
        );
        assert_eq!(
            lt.acquire(d, b"k", Exclusive, WaitPolicy::NoWait),
            Err(LockError::NotAvailable { holder: c })
        );
        assert_eq!(lt.holders(b"k"), vec![(c, Exclusive)]);
        lt.assert_invariants();
        lt.release_all(c);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn reentrant_acquire_and_sole_holder_upgrade() {
        let lt = table();
        let (a, b, c) = (t(1), t(2), t(3));
        for mode in [Exclusive, Exclusive, Shared] {
            assert_eq!(
                lt.acquire(a, b"x", mode, WaitPolicy::NoWait),
                Ok(LockOutcome::Acquired)
            );
        }
        assert_eq!(lt.holders(b"x"), vec![(a, Exclusive)]);

        assert_eq!(
            lt.acquire(b, b"y", Shared, WaitPolicy::NoWait),
            Ok(LockOutcome::Acquired)
        );
        assert_eq!(
            lt.acquire(b, b"y", Shared, WaitPolicy::NoWait),
            Ok(LockOutcome::Acquired)
        );
        assert_eq!(
            lt.acquire(b, b"y", Exclusive, WaitPolicy::NoWait),
            Ok(LockOutcome::Acquired)
        );
        assert_eq!(lt.holders(b"y"), vec![(b, Exclusive)]);
        assert_eq!(
            lt.acquire(c, b"y", Shared, WaitPolicy::NoWait),
            Err(LockError::NotAvailable { holder: b })
        );

        // A re-entrant request does not queue behind a waiter.
        thread::scope(|s| {
            let waiter = s.spawn(|| lt.acquire(c, b"x", Exclusive, BLOCK));
            eventually("c to queue on x", || waits(&lt, c, a));
            assert_eq!(
                lt.acquire(a, b"x", Exclusive, WaitPolicy::NoWait),
                Ok(LockOutcome::Acquired)
            );
            assert_eq!(
                lt.acquire(a, b"x", Shared, WaitPolicy::NoWait),
                Ok(LockOutcome::Acquired)
            );
            lt.assert_invariants();
            lt.release_all(a);
            assert_eq!(waiter.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert_eq!(lt.holders(b"x"), vec![(c, Exclusive)]);
        lt.release_all(b);
        lt.release_all(c);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn nowait_fails_at_once_when_held() {
        let lt = table();
        let (holder, other) = (t(1), t(2));
        lt.acquire(holder, b"row", Exclusive, WaitPolicy::NoWait)
            .unwrap();
        let start = Instant::now();
        let got = lt.acquire(other, b"row", Shared, WaitPolicy::NoWait);
        assert!(start.elapsed() < Duration::from_millis(100));
        assert_eq!(got, Err(LockError::NotAvailable { holder }));
        assert_eq!(
            got.unwrap_err().to_string(),
            format!("could not obtain lock: held by {holder}")
        );
        assert!(lt.wait_for_edges().is_empty());
        assert_eq!(lt.holders(b"row"), vec![(holder, Exclusive)]);
        lt.assert_invariants();
        lt.release_all(holder);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn skip_locked_returns_skipped_and_leaves_no_entry() {
        let lt = table();
        let (holder, skipper) = (t(1), t(2));
        lt.acquire(holder, b"a", Exclusive, WaitPolicy::NoWait)
            .unwrap();
        let start = Instant::now();
        assert_eq!(
            lt.acquire(skipper, b"a", Shared, WaitPolicy::SkipLocked),
            Ok(LockOutcome::Skipped)
        );
        assert!(start.elapsed() < Duration::from_millis(100));
        assert_eq!(lt.holders(b"a"), vec![(holder, Exclusive)]);
        assert!(lt.wait_for_edges().is_empty());
        assert_eq!(lt.locked_key_count(), 1);
        lt.assert_invariants();
        // An unlocked key is simply acquired.
        assert_eq!(
            lt.acquire(skipper, b"b", Exclusive, WaitPolicy::SkipLocked),
            Ok(LockOutcome::Acquired)
        );
        lt.release_all(holder);
        lt.release_all(skipper);
        assert_eq!(lt.locked_key_count(), 0);
        lt.assert_invariants();
    }

    #[test]
    fn blocked_waiter_is_granted_after_release() {
        let lt = table();
        let (holder, waiter) = (t(1), t(2));
        lt.acquire(holder, b"k", Exclusive, WaitPolicy::NoWait)
            .unwrap();
        thread::scope(|s| {
            let h = s.spawn(|| lt.acquire(waiter, b"k", Exclusive, BLOCK));
            eventually("the waiter to queue", || waits(&lt, waiter, holder));
            assert_eq!(lt.locked_key_count(), 1);
            lt.assert_invariants();
            lt.release_all(holder);
            assert_eq!(h.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert_eq!(lt.holders(b"k"), vec![(waiter, Exclusive)]);
        assert!(lt.wait_for_edges().is_empty());
        lt.release_all(waiter);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn waiters_are_granted_in_fifo_order() {
        let lt = table();
        let holder = t(1);
        let waiters = [t(2), t(3), t(4)];
        let granted = parking_lot::Mutex::new(Vec::new());
        lt.acquire(holder, b"k", Exclusive, WaitPolicy::NoWait)
            .unwrap();
        thread::scope(|s| {
            let mut ahead = holder;
            for w in waiters {
                let (lt, granted) = (&lt, &granted);
                s.spawn(move || {
                    assert_eq!(
                        lt.acquire(w, b"k", Exclusive, BLOCK),
                        Ok(LockOutcome::Acquired)
                    );
                    granted.lock().push(w);
                    lt.release_all(w);
                });
                eventually("the waiter to queue", || waits(lt, w, ahead));
                ahead = w;
            }
            lt.assert_invariants();
            lt.release_all(holder);
        });
        assert_eq!(*granted.lock(), waiters);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn shared_request_queues_behind_waiting_exclusive() {
        let lt = table();
        let (reader, writer, late_reader) = (t(1), t(2), t(3));
        let granted = parking_lot::Mutex::new(Vec::new());
        lt.acquire(reader, b"k", Shared, WaitPolicy::NoWait)
            .unwrap();
        thread::scope(|s| {
            let w = s.spawn(|| {
                let got = lt.acquire(writer, b"k", Exclusive, BLOCK);
                granted.lock().push(writer);
                got
            });
            eventually("the writer to queue", || waits(&lt, writer, reader));
            // Compatible with the holder, but must not overtake the waiting writer.
            assert_eq!(
                lt.acquire(late_reader, b"k", Shared, WaitPolicy::NoWait),
                Err(LockError::NotAvailable { holder: writer })
            );
            assert_eq!(
                lt.acquire(late_reader, b"k", Shared, WaitPolicy::SkipLocked),
                Ok(LockOutcome::Skipped)
            );
            let r = s.spawn(|| {
                let got = lt.acquire(late_reader, b"k", Shared, BLOCK);
                granted.lock().push(late_reader);
                got
            });
            eventually("the late reader to queue", || {
                waits(&lt, late_reader, writer)
            });
            assert_eq!(lt.holders(b"k"), vec![(reader, Shared)]);
            lt.assert_invariants();
            lt.release_all(reader);
            assert_eq!(w.join().unwrap(), Ok(LockOutcome::Acquired));
            assert_eq!(lt.holders(b"k"), vec![(writer, Exclusive)]);
            lt.assert_invariants();
            lt.release_all(writer);
            assert_eq!(r.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert_eq!(*granted.lock(), vec![writer, late_reader]);
        lt.release_all(late_reader);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn lock_wait_timeout_fires() {
        let lt = table();
        let (holder, waiter) = (t(1), t(2));
        lt.acquire(holder, b"k", Exclusive, WaitPolicy::NoWait)
            .unwrap();
        let start = Instant::now();
        let got = lt.acquire(
            waiter,
            b"k",
            Shared,
            WaitPolicy::Block {
                timeout: Some(Duration::from_millis(100)),
            },
        );
        let elapsed = start.elapsed();
        match got {
            Err(LockError::Timeout { waited_ms }) => assert!(waited_ms >= 100, "{waited_ms}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
        assert!(lt.wait_for_edges().is_empty());
        assert_eq!(lt.holders(b"k"), vec![(holder, Exclusive)]);
        lt.assert_invariants();
        lt.release_all(holder);
        lt.release_all(waiter);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn timed_out_waiter_lets_compatible_waiters_behind_it_through() {
        let lt = table();
        let (reader, writer, late_reader) = (t(1), t(2), t(3));
        lt.acquire(reader, b"k", Shared, WaitPolicy::NoWait)
            .unwrap();
        thread::scope(|s| {
            let w = s.spawn(|| {
                let wait = WaitPolicy::Block {
                    timeout: Some(Duration::from_millis(150)),
                };
                lt.acquire(writer, b"k", Exclusive, wait)
            });
            eventually("the writer to queue", || waits(&lt, writer, reader));
            let r = s.spawn(|| lt.acquire(late_reader, b"k", Shared, BLOCK));
            eventually("the late reader to queue", || {
                waits(&lt, late_reader, writer)
            });
            // The writer gives up; the reader behind it now shares with the holder.
            assert!(matches!(w.join().unwrap(), Err(LockError::Timeout { .. })));
            assert_eq!(r.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert_eq!(
            lt.holders(b"k"),
            vec![(reader, Shared), (late_reader, Shared)]
        );
        lt.assert_invariants();
        lt.release_all(reader);
        lt.release_all(writer);
        lt.release_all(late_reader);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn opposite_order_lockers_deadlock_one_victim() {
        let lt = table();
        let (a, b) = (t(1), t(2));
        let barrier = Barrier::new(2);
        let start = Instant::now();
        let results = thread::scope(|s| {
            let run = |me: TxnId, first: &'static [u8], second: &'static [u8]| {
                let (lt, barrier) = (&lt, &barrier);
                s.spawn(move || {
                    lt.acquire(me, first, Exclusive, WaitPolicy::NoWait)
                        .unwrap();
                    barrier.wait();
                    let got =
                        lt.acquire(me, second, Exclusive, WaitPolicy::Block { timeout: None });
                    let at = start.elapsed();
                    // The victim aborts: its release lets the other one through.
                    if got.is_err() {
                        lt.release_all(me);
                    }
                    (me, got, at)
                })
            };
            let ha = run(a, b"k1", b"k2");
            let hb = run(b, b"k2", b"k1");
            [ha.join().unwrap(), hb.join().unwrap()]
        });
        let victims: Vec<_> = results.iter().filter(|(_, got, _)| got.is_err()).collect();
        assert_eq!(victims.len(), 1, "{results:?}");
        let (victim, err, at) = victims[0];
        assert!(*at < Duration::from_secs(1), "detected after {at:?}");
        let survivor = if *victim == a { b } else { a };
        assert_eq!(
            err,
            &Err(LockError::Deadlock {
                victim: *victim,
                cycle: vec![*victim, survivor],
            })
        );
        assert_eq!(lt.deadlocks_detected(), 1);
        let (k_first, k_second): (&[u8], &[u8]) = if survivor == a {
            (b"k1", b"k2")
        } else {
            (b"k2", b"k1")
        };
        assert_eq!(lt.holders(k_first), vec![(survivor, Exclusive)]);
        assert_eq!(lt.holders(k_second), vec![(survivor, Exclusive)]);
        lt.assert_invariants();
        lt.release_all(survivor);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn three_way_cycle_is_detected() {
        let lt = table();
        let (a, b, c) = (t(1), t(2), t(3));
        lt.acquire(a, b"k1", Exclusive, WaitPolicy::NoWait).unwrap();
        lt.acquire(b, b"k2", Exclusive, WaitPolicy::NoWait).unwrap();
        lt.acquire(c, b"k3", Shared, WaitPolicy::NoWait).unwrap();
        thread::scope(|s| {
            let ha = s.spawn(|| lt.acquire(a, b"k2", Shared, BLOCK));
            eventually("a to wait for b", || waits(&lt, a, b));
            let hb = s.spawn(|| lt.acquire(b, b"k3", Exclusive, BLOCK));
            eventually("b to wait for c", || waits(&lt, b, c));
            assert_eq!(lt.deadlocks_detected(), 0);
            let start = Instant::now();
            let got = lt.acquire(c, b"k1", Shared, BLOCK);
            assert!(start.elapsed() < Duration::from_millis(500));
            assert_eq!(
                got,
                Err(LockError::Deadlock {
                    victim: c,
                    cycle: vec![c, a, b],
                })
            );
            assert_eq!(lt.deadlocks_detected(), 1);
            lt.assert_invariants();
            lt.release_all(c);
            assert_eq!(hb.join().unwrap(), Ok(LockOutcome::Acquired));
            lt.release_all(b);
            assert_eq!(ha.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert_eq!(lt.deadlocks_detected(), 1);
        lt.release_all(a);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn upgrade_deadlock_between_two_sharers_is_detected() {
        let lt = table();
        let (a, b) = (t(1), t(2));
        lt.acquire(a, b"k", Shared, WaitPolicy::NoWait).unwrap();
        lt.acquire(b, b"k", Shared, WaitPolicy::NoWait).unwrap();
        // A sharer cannot upgrade at once while another shares.
        assert_eq!(
            lt.acquire(a, b"k", Exclusive, WaitPolicy::NoWait),
            Err(LockError::NotAvailable { holder: b })
        );
        thread::scope(|s| {
            let ha = s.spawn(|| lt.acquire(a, b"k", Exclusive, BLOCK));
            eventually("a's upgrade to wait for b", || waits(&lt, a, b));
            let start = Instant::now();
            let got = lt.acquire(b, b"k", Exclusive, BLOCK);
            assert!(start.elapsed() < Duration::from_millis(500));
            assert_eq!(
                got,
                Err(LockError::Deadlock {
                    victim: b,
                    cycle: vec![b, a],
                })
            );
            lt.release_all(b);
            assert_eq!(ha.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert_eq!(lt.holders(b"k"), vec![(a, Exclusive)]);
        assert_eq!(lt.deadlocks_detected(), 1);
        lt.assert_invariants();
        lt.release_all(a);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn upgrade_waits_ahead_of_plain_waiters_without_false_deadlock() {
        let lt = table();
        let (a, b, w) = (t(1), t(2), t(3));
        lt.acquire(a, b"k", Shared, WaitPolicy::NoWait).unwrap();
        lt.acquire(b, b"k", Shared, WaitPolicy::NoWait).unwrap();
        thread::scope(|s| {
            let hw = s.spawn(|| lt.acquire(w, b"k", Exclusive, BLOCK));
            eventually("w to queue", || waits(&lt, w, b));
            // a's upgrade must not wait for w (who waits for a): that would be a false cycle.
            let ha = s.spawn(|| lt.acquire(a, b"k", Exclusive, BLOCK));
            eventually("a's upgrade to queue", || waits(&lt, a, b));
            assert_eq!(lt.wait_for_edges(), vec![(a, b), (w, a), (w, b)]);
            lt.assert_invariants();
            lt.release_all(b);
            assert_eq!(ha.join().unwrap(), Ok(LockOutcome::Acquired));
            assert_eq!(lt.holders(b"k"), vec![(a, Exclusive)]);
            lt.release_all(a);
            assert_eq!(hw.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert_eq!(lt.deadlocks_detected(), 0);
        lt.release_all(w);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn cancel_wakes_blocked_waiter() {
        let lt = table();
        let (holder, victim) = (t(1), t(2));
        lt.acquire(holder, b"k", Exclusive, WaitPolicy::NoWait)
            .unwrap();
        lt.acquire(victim, b"mine", Exclusive, WaitPolicy::NoWait)
            .unwrap();
        thread::scope(|s| {
            let h = s.spawn(|| {
                let start = Instant::now();
                let got = lt.acquire(victim, b"k", Exclusive, WaitPolicy::Block { timeout: None });
                (got, start.elapsed())
            });
            eventually("the victim to queue", || waits(&lt, victim, holder));
            lt.cancel(victim);
            let (got, _) = h.join().unwrap();
            assert_eq!(got, Err(LockError::Cancelled { txn: victim }));
        });
        assert!(lt.wait_for_edges().is_empty());
        lt.assert_invariants();
        // Later requests fail too, even uncontended or re-entrant ones, until release_all.
        for policy in [BLOCK, WaitPolicy::NoWait, WaitPolicy::SkipLocked] {
            assert_eq!(
                lt.acquire(victim, b"free", Shared, policy),
                Err(LockError::Cancelled { txn: victim })
            );
        }
        assert_eq!(
            lt.acquire(victim, b"mine", Exclusive, WaitPolicy::NoWait),
            Err(LockError::Cancelled { txn: victim })
        );
        // Locks held before the cancel stay until release_all.
        assert_eq!(lt.holders(b"mine"), vec![(victim, Exclusive)]);
        lt.release_all(victim);
        assert_eq!(
            lt.acquire(victim, b"free", Shared, WaitPolicy::NoWait),
            Ok(LockOutcome::Acquired)
        );
        lt.release_all(victim);
        lt.release_all(holder);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn release_all_of_a_blocked_txn_ends_its_wait() {
        let lt = table();
        let (holder, waiter, behind) = (t(1), t(2), t(3));
        lt.acquire(holder, b"k", Shared, WaitPolicy::NoWait)
            .unwrap();
        thread::scope(|s| {
            let hw = s.spawn(|| lt.acquire(waiter, b"k", Exclusive, BLOCK));
            eventually("the waiter to queue", || waits(&lt, waiter, holder));
            let hb = s.spawn(|| lt.acquire(behind, b"k", Shared, BLOCK));
            eventually("the reader behind to queue", || waits(&lt, behind, waiter));
            // Aborting the waiter from elsewhere removes it and lets the reader through.
            lt.release_all(waiter);
            assert_eq!(
                hw.join().unwrap(),
                Err(LockError::Cancelled { txn: waiter })
            );
            assert_eq!(hb.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert_eq!(lt.holders(b"k"), vec![(holder, Shared), (behind, Shared)]);
        lt.assert_invariants();
        lt.release_all(holder);
        lt.release_all(behind);
        assert_eq!(lt.locked_key_count(), 0);
    }

    #[test]
    fn release_all_removes_entries_no_leak() {
        let lt = table();
        let (a, b) = (t(1), t(2));
        for i in 0..50u32 {
            let key = i.to_be_bytes();
            let mode = if i % 2 == 0 { Shared } else { Exclusive };
            lt.acquire(a, &key, mode, WaitPolicy::NoWait).unwrap();
            if mode == Shared {
                lt.acquire(b, &key, Shared, WaitPolicy::NoWait).unwrap();
            }
        }
        // Empty and long keys are keys like any other.
        lt.acquire(b, b"", Exclusive, WaitPolicy::NoWait).unwrap();
        lt.acquire(b, &[0xff; 1000], Exclusive, WaitPolicy::NoWait)
            .unwrap();
        assert_eq!(lt.locked_key_count(), 52);
        lt.assert_invariants();
        lt.release_all(a);
        assert_eq!(lt.locked_key_count(), 27);
        assert_eq!(lt.holders(&0u32.to_be_bytes()), vec![(b, Shared)]);
        assert!(lt.holders(&1u32.to_be_bytes()).is_empty());
        lt.assert_invariants();
        lt.release_all(b);
        lt.release_all(b);
        lt.release_all(t(99));
        assert_eq!(lt.locked_key_count(), 0);
        lt.assert_invariants();
    }

    #[test]
    fn wait_for_edges_name_conflicting_holders_and_earlier_waiters() {
        let lt = table();
        let (r1, r2, w, r3) = (t(1), t(2), t(3), t(4));
        lt.acquire(r1, b"k", Shared, WaitPolicy::NoWait).unwrap();
        lt.acquire(r2, b"k", Shared, WaitPolicy::NoWait).unwrap();
        thread::scope(|s| {
            let hw = s.spawn(|| lt.acquire(w, b"k", Exclusive, BLOCK));
            eventually("w to queue", || waits(&lt, w, r1));
            let h3 = s.spawn(|| lt.acquire(r3, b"k", Shared, BLOCK));
            eventually("r3 to queue", || waits(&lt, r3, w));
            // r3 conflicts with neither sharer, only with the writer ahead of it.
            assert_eq!(lt.wait_for_edges(), vec![(w, r1), (w, r2), (r3, w)]);
            lt.release_all(r1);
            lt.release_all(r2);
            assert_eq!(hw.join().unwrap(), Ok(LockOutcome::Acquired));
            assert_eq!(lt.wait_for_edges(), vec![(r3, w)]);
            lt.release_all(w);
            assert_eq!(h3.join().unwrap(), Ok(LockOutcome::Acquired));
        });
        assert!(lt.wait_for_edges().is_empty());
        lt.release_all(r3);
        assert_eq!(lt.locked_key_count(), 0);
    }

    /// xorshift64: enough randomness for scheduling tests, no dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Per-key witnesses of who is inside the critical section.
    #[derive(Default)]
    struct Witness {
        writer: AtomicBool,
        readers: AtomicUsize,
        counter: AtomicU64,
    }

    #[test]
    fn stress_random_two_key_lockers_keep_mutual_exclusion() {
        const THREADS: u64 = 8;
        const ITERS: u64 = 200;
        const KEYS: u64 = 4;
        let lt = table();
        let keys: Vec<Vec<u8>> = (0..KEYS).map(|i| format!("key-{i}").into_bytes()).collect();
        let witnesses: Vec<Witness> = (0..KEYS).map(|_| Witness::default()).collect();
        let wait = WaitPolicy::Block {
            timeout: Some(Duration::from_secs(2)),
        };
        let start = Instant::now();
        let per_thread: Vec<([u64; KEYS as usize], u64)> = thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|th| {
                    let (lt, keys, witnesses) = (&lt, &keys, &witnesses);
                    s.spawn(move || {
                        let mut rng = XorShift(
                            0x9E37_79B9_7F4A_7C15 ^ (th + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
                        );
                        let mut increments = [0u64; KEYS as usize];
                        let mut deadlocks = 0u64;
                        for iter in 0..ITERS {
                            let txn = TxnId((u128::from(th + 1) << 96) | u128::from(iter + 1));
                            let first = rng.below(KEYS) as usize;
                            let mut second = rng.below(KEYS - 1) as usize;
                            if second >= first {
                                second += 1;
                            }
                            let plan = [first, second].map(|k| {
                                let mode = if rng.below(4) == 0 { Shared } else { Exclusive };
                                (k, mode)
                            });
                            'attempt: loop {
                                for &(k, mode) in &plan {
                                    match lt.acquire(txn, &keys[k], mode, wait) {
                                        Ok(LockOutcome::Acquired) => {}
                                        Err(LockError::Deadlock { victim, cycle }) => {
                                            assert_eq!(victim, txn);
                                            assert_eq!(cycle[0], txn);
                                            deadlocks += 1;
                                            lt.release_all(txn);
                                            continue 'attempt;
                                        }
                                        other => panic!("{txn} on key {k}: {other:?}"),
                                    }
                                }
                                break;
                            }
                            for &(k, mode) in &plan {
                                let w = &witnesses[k];
                                match mode {
                                    Exclusive => {
                                        assert!(
                                            !w.writer.swap(true, Ordering::SeqCst),
                                            "two writers"
                                        );
                                        assert_eq!(
                                            w.readers.load(Ordering::SeqCst),
                                            0,
                                            "writer with readers"
                                        );
                                        let v = w.counter.load(Ordering::SeqCst);
                                        thread::yield_now();
                                        w.counter.store(v + 1, Ordering::SeqCst);
                                        increments[k] += 1;
                                    }
                                    Shared => {
                                        w.readers.fetch_add(1, Ordering::SeqCst);
                                        assert!(
                                            !w.writer.load(Ordering::SeqCst),
                                            "reader with writer"
                                        );
                                    }
                                }
                            }
                            thread::yield_now();
                            for &(k, mode) in &plan {
                                let w = &witnesses[k];
                                match mode {
                                    Exclusive => w.writer.store(false, Ordering::SeqCst),
                                    Shared => {
                                        w.readers.fetch_sub(1, Ordering::SeqCst);
                                    }
                                }
                            }
                            lt.release_all(txn);
                            lt.assert_invariants();
                        }
                        (increments, deadlocks)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for k in 0..KEYS as usize {
            let expected: u64 = per_thread.iter().map(|(inc, _)| inc[k]).sum();
            assert_eq!(
                witnesses[k].counter.load(Ordering::SeqCst),
                expected,
                "key {k}"
            );
        }
        let reported: u64 = per_thread.iter().map(|(_, d)| d).sum();
        assert_eq!(lt.deadlocks_detected(), reported);
        assert_eq!(lt.locked_key_count(), 0);
        assert!(lt.wait_for_edges().is_empty());
        lt.assert_invariants();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
}

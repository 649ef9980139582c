//! Sequences: `nextval` / `currval` / `setval` / `lastval`, and the allocator behind SERIAL
//! and IDENTITY columns.
//!
//! Role: the executor calls [`Sequences::nextval`] (through `ExecCtx`) when an expression
//! calls `nextval`; DDL creates and drops the descriptors (`ddl.rs`).
//!
//! Design: as in PostgreSQL, `nextval` is not transactional — a value handed out is never
//! handed out again, even if the transaction that took it rolls back. Each sequence's durable
//! state is one key (`keys::sequence_key`) holding the highest value reserved so far. The
//! engine reserves [`CACHE_VALUES`] values at a time in a separate, immediately committed
//! transaction and hands them out from memory, so concurrent inserters never conflict on the
//! sequence key. Values reserved but not used before a restart are skipped (gaps, as
//! PostgreSQL has after a crash or with CACHE > 1).
//!
//! Invariants:
//! 1. Values handed out by one engine are strictly increasing per sequence (for positive
//!    increments) and never repeat, across restarts too, because a block is durable before
//!    any of its values is used. Test: `sequences_and_serial_columns` (restart part).
//! 2. A sequence created by a transaction that has not committed yet is invisible to the
//!    allocator's own transaction; its values are then taken inside the creating transaction.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use cairn_sql_plan::{code, Result, SqlError};

use crate::catalog::{self, Descriptor, SequenceDesc};
use crate::keys;
use crate::kv::{IsolationLevel, KvStore, KvTxn};

/// Values reserved per durable write.
pub const CACHE_VALUES: i64 = 64;

/// Per-session `currval` / `lastval` state.
#[derive(Debug, Default)]
pub struct SessionSequences {
    pub current: HashMap<u32, i64>,
    pub last: Option<i64>,
}

#[derive(Clone, Copy, Debug)]
struct Block {
    next: i64,
    /// Values `< end` (for increasing sequences; `> end` for decreasing) are reserved.
    end: i64,
}

pub struct Sequences {
    store: Arc<dyn KvStore>,
    blocks: Mutex<HashMap<u32, Block>>,
}

fn read_last(txn: &mut dyn KvTxn, id: u32) -> Result<Option<i64>> {
    match txn.get(&keys::sequence_key(id))? {
        None => Ok(None),
        Some(b) => {
            let a: [u8; 8] = b.as_slice().try_into().map_err(|_| {
                SqlError::new(
                    code::DATA_CORRUPTED,
                    format!("sequence {id} state is not 8 bytes"),
                )
            })?;
            Ok(Some(i64::from_be_bytes(a)))
        }
    }
}

fn limit_error(s: &SequenceDesc, max: bool) -> SqlError {
    SqlError::new(
        "2200H",
        format!(
            "nextval: reached {} value of sequence \"{}\" ({})",
            if max { "maximum" } else { "minimum" },
            s.name,
            if max { s.max_value } else { s.min_value }
        ),
    )
}

/// The value after `last` (or the start value), within bounds.
fn step(s: &SequenceDesc, last: Option<i64>) -> Result<i64> {
    let v = match last {
        None => s.start,
        Some(l) => l
            .checked_add(s.increment)
            .ok_or_else(|| limit_error(s, s.increment > 0))?,
    };
    if v > s.max_value {
        if s.cycle {
            return Ok(s.min_value);
        }
        return Err(limit_error(s, true));
    }
    if v < s.min_value {
        if s.cycle {
            return Ok(s.max_value);
        }
        return Err(limit_error(s, false));
    }
    Ok(v)
}

impl Sequences {
    pub fn new(store: Arc<dyn KvStore>) -> Sequences {
        Sequences {
            store,
            blocks: Mutex::new(HashMap::new()),
        }
    }

    /// `nextval(seq)`. `txn` is the caller's transaction (used only for a sequence it created
    /// itself, invariant 2).
    pub fn nextval(
        &self,
        txn: &mut dyn KvTxn,
        s: &SequenceDesc,
        session: &RefCell<SessionSequences>,
    ) -> Result<i64> {
        let v = self.next_value(txn, s)?;
        let mut st = session.borrow_mut();
        st.current.insert(s.id, v);
        st.last = Some(v);
        Ok(v)
    }

    fn next_value(&self, txn: &mut dyn KvTxn, s: &SequenceDesc) -> Result<i64> {
        if !s.cycle {
            let mut blocks = self.blocks.lock();
            if let Some(b) = blocks.get_mut(&s.id) {
                let inside = if s.increment > 0 {
                    b.next < b.end
                } else {
                    b.next > b.end
                };
                if inside {
                    let v = b.next;
                    b.next = b.next.saturating_add(s.increment);
                    return Ok(v);
                }
            }
        }
        // Reserve a block durably in our own transaction.
        for _attempt in 0..20 {
            let mut own = self.store.begin(IsolationLevel::Serializable, false)?;
            if !matches!(
                catalog::read_descriptor(&mut *own, s.id)?,
                Some(Descriptor::Sequence(_))
            ) {
                own.rollback();
                // Created by the caller's uncommitted transaction: allocate inside it.
                let last = read_last(txn, s.id)?;
                let v = step(s, last)?;
                txn.put(&keys::sequence_key(s.id), &v.to_be_bytes())?;
                return Ok(v);
            }
            let last = read_last(&mut *own, s.id)?;
            let first = step(s, last)?;
            let count = if s.cycle { 1 } else { CACHE_VALUES };
            // The last value of the block, clamped to the bounds.
            let mut reserved_last = first;
            for _ in 1..count {
                match step(s, Some(reserved_last)) {
                    Ok(n) if (s.increment > 0) == (n > reserved_last) => reserved_last = n,
                    _ => break,
                }
            }
            own.put(&keys::sequence_key(s.id), &reserved_last.to_be_bytes())?;
            match own.commit() {
                Ok(()) => {
                    if !s.cycle {
                        let end = reserved_last.saturating_add(s.increment);
                        self.blocks.lock().insert(
                            s.id,
                            Block {
                                next: first.saturating_add(s.increment),
                                end,
                            },
                        );
                    }
                    return Ok(first);
                }
                Err(e) if e.is_retryable() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(SqlError::new(
            code::SERIALIZATION_FAILURE,
            format!("could not reserve values of sequence \"{}\"", s.name),
        ))
    }

    /// `setval(seq, value, is_called)`: the next `nextval` returns `value + increment` (or
    /// `value` when `is_called` is false).
    pub fn setval(
        &self,
        txn: &mut dyn KvTxn,
        s: &SequenceDesc,
        value: i64,
        is_called: bool,
        session: &RefCell<SessionSequences>,
    ) -> Result<i64> {
        if value < s.min_value || value > s.max_value {
            return Err(SqlError::new(
                "22003",
                format!(
                    "setval: value {value} is out of bounds for sequence \"{}\" ({}..{})",
                    s.name, s.min_value, s.max_value
                ),
            ));
        }
        let last = if is_called {
            value
        } else {
            value - s.increment
        };
        self.blocks.lock().remove(&s.id);
        let mut own = self.store.begin(IsolationLevel::Serializable, false)?;
        if matches!(
            catalog::read_descriptor(&mut *own, s.id)?,
            Some(Descriptor::Sequence(_))
        ) {
            own.put(&keys::sequence_key(s.id), &last.to_be_bytes())?;
            own.commit()?;
        } else {
            own.rollback();
            txn.put(&keys::sequence_key(s.id), &last.to_be_bytes())?;
        }
        if is_called {
            let mut st = session.borrow_mut();
            st.current.insert(s.id, value);
            st.last = Some(value);
        }
        Ok(value)
    }

    /// Forgets cached values of a dropped sequence.
    pub fn forget(&self, id: u32) {
        self.blocks.lock().remove(&id);
    }
}

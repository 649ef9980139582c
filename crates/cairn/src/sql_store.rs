//! The SQL layer's transactional key-value store over the single-node MVCC engine.
//!
//! Role: implements `cairn_sql_exec::kv::{KvStore, KvTxn}` with `cairn_mvcc::{Db, Transaction}`;
//! `cairn start` hands it to the SQL engine. When the distributed transaction layer lands, a
//! second implementation of the same traits replaces this one and the SQL layer is unchanged.
//!
//! Invariants:
//! 1. Every MVCC error becomes a `SqlError` with the SQLSTATE `cairn_mvcc::Error::sqlstate`
//!    chooses (40001 for conflicts, 40P01 deadlocks, ...), and its message.
//! 2. Commits are synced (the MVCC database is opened with durable commits), so a commit
//!    acknowledged to a client survives a crash.

use std::sync::Arc;

use cairn_mvcc::{
    AtomicOp, Db, LockMode, LockWait, SavepointId, ScanOptions, Transaction, TxnOptions,
};
use cairn_sql_exec::kv::{IsolationLevel, KvPair, KvStore, KvTxn};
use cairn_sql_plan::plan::{RowLockStrength, RowLockWait};
use cairn_sql_plan::{Result, SqlError};

pub(crate) fn sql_error(e: cairn_mvcc::Error) -> SqlError {
    SqlError::new(e.sqlstate(), e.report())
}

/// `KvStore` over a shared MVCC database.
pub struct MvccStore {
    db: Arc<Db>,
}

impl MvccStore {
    pub fn new(db: Arc<Db>) -> MvccStore {
        MvccStore { db }
    }
}

impl KvStore for MvccStore {
    fn begin(&self, isolation: IsolationLevel, read_only: bool) -> Result<Box<dyn KvTxn>> {
        let txn = self
            .db
            .begin_with(TxnOptions {
                isolation,
                read_only,
                ..Default::default()
            })
            .map_err(sql_error)?;
        Ok(Box::new(MvccTxn {
            txn,
            db: self.db.clone(),
        }))
    }
}

struct MvccTxn {
    txn: Transaction,
    db: Arc<Db>,
}

impl KvTxn for MvccTxn {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.txn.get(key).map_err(sql_error)
    }

    fn get_untracked(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.txn.get_untracked(key).map_err(sql_error)
    }

    fn track_read(&mut self, key: &[u8]) -> Result<()> {
        self.txn.track_read(key).map_err(sql_error)
    }

    fn add_u64(&mut self, key: &[u8], delta: u64) -> Result<()> {
        self.txn
            .atomic_op(key, AtomicOp::Add, &delta.to_le_bytes())
            .map_err(sql_error)
    }

    fn get_for_update(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self
            .txn
            .get_for_update(key, LockMode::Exclusive, LockWait::Block)
            .map_err(sql_error)?
        {
            cairn_mvcc::Locked::Acquired(v) => Ok(v),
            cairn_mvcc::Locked::Skipped => Err(SqlError::internal("a blocking lock was skipped")),
        }
    }

    fn lock_row(
        &mut self,
        key: &[u8],
        strength: RowLockStrength,
        wait: RowLockWait,
    ) -> Result<Option<Option<Vec<u8>>>> {
        let mode = match strength {
            RowLockStrength::Update => LockMode::Exclusive,
            RowLockStrength::Share => LockMode::Shared,
        };
        let wait = match wait {
            RowLockWait::Block => LockWait::Block,
            RowLockWait::NoWait => LockWait::NoWait,
            RowLockWait::SkipLocked => LockWait::SkipLocked,
        };
        match self
            .txn
            .get_for_update(key, mode, wait)
            .map_err(sql_error)?
        {
            cairn_mvcc::Locked::Acquired(v) => Ok(Some(v)),
            cairn_mvcc::Locked::Skipped => Ok(None),
        }
    }

    fn scan(
        &mut self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KvPair>> {
        self.txn
            .scan(start, Some(end), ScanOptions { limit, reverse })
            .map_err(sql_error)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.txn.put(key, value).map_err(sql_error)
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.txn.delete(key).map_err(sql_error)
    }

    fn commit(&mut self) -> Result<()> {
        self.txn.commit().map(|_| ()).map_err(sql_error)
    }

    fn rollback(&mut self) {
        self.txn.rollback();
    }

    fn savepoint(&mut self) -> Result<()> {
        self.txn.savepoint().map(|_| ()).map_err(sql_error)
    }

    fn rollback_to_savepoint(&mut self, depth: usize) -> Result<()> {
        self.txn
            .rollback_to_savepoint(SavepointId(depth))
            .map_err(sql_error)
    }

    fn release_savepoint(&mut self, depth: usize) -> Result<()> {
        self.txn
            .release_savepoint(SavepointId(depth))
            .map_err(sql_error)
    }

    fn isolation(&self) -> IsolationLevel {
        self.txn.isolation()
    }

    fn new_statement(&mut self) -> Result<()> {
        // READ COMMITTED transactions in cairn-mvcc read a fresh snapshot on every read, which
        // is at least as fresh as one per statement. A replicated store first confirms that
        // this node still leads (the other levels confirmed it when they began).
        if self.txn.isolation() == IsolationLevel::ReadCommitted {
            self.db.confirm_leadership().map_err(sql_error)?;
        }
        Ok(())
    }

    fn timestamp_micros(&self) -> i64 {
        (self.txn.start_ts().wall_nanos / 1000) as i64
    }
}

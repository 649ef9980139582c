//! The MVCC layer's error type. Callers branch on [`Error::is_retryable`] (run the
//! transaction again) and [`Error::sqlstate`] (what PostgreSQL would report), never on text.

use cairn_types::{Timestamp, TxnId};

use crate::hlc::ClockOffsetError;
use crate::key::FormatError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a transaction or the embedded database can fail with. User keys are kept in
/// fields, never in messages, so that logging an error does not leak data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("storage engine failed")]
    Storage(#[from] cairn_lsm::Error),
    #[error("decode mvcc entry")]
    Corrupt {
        engine_key: Vec<u8>,
        #[source]
        source: FormatError,
    },
    /// A key this transaction writes was written by a transaction that committed after this
    /// one's snapshot (first committer wins). PostgreSQL: 40001.
    #[error("could not serialize access due to concurrent update")]
    WriteConflict {
        key: Vec<u8>,
        committed_ts: Timestamp,
    },
    /// Something this transaction read changed before it could commit. PostgreSQL: 40001.
    #[error("could not serialize access due to read/write dependencies among transactions")]
    ReadConflict {
        key: Vec<u8>,
        committed_ts: Timestamp,
    },
    /// A read met a version inside the clock-uncertainty window; the transaction must restart
    /// at a timestamp at or above `value_ts`.
    #[error("read at {read_ts} met a version at {value_ts} within the clock uncertainty window")]
    Uncertain {
        read_ts: Timestamp,
        value_ts: Timestamp,
    },
    /// A read met another transaction's unresolved intent.
    #[error("met an unresolved intent of transaction {txn}")]
    IntentFound { key: Vec<u8>, txn: TxnId },
    /// This transaction was chosen as a deadlock victim. PostgreSQL: 40P01.
    #[error("deadlock detected")]
    Deadlock { cycle: Vec<TxnId> },
    /// `NOWAIT` met a held lock. PostgreSQL: 55P03.
    #[error("could not obtain lock on row: held by {holder}")]
    LockNotAvailable { key: Vec<u8>, holder: TxnId },
    /// A lock wait exceeded the lock timeout. PostgreSQL: 55P03.
    #[error("canceling statement due to lock timeout after {waited_ms} ms")]
    LockTimeout { key: Vec<u8>, waited_ms: u64 },
    #[error("key is {len} bytes, more than the limit of {max}")]
    KeyTooLarge { len: usize, max: usize },
    #[error("value is {len} bytes, more than the limit of {max}")]
    ValueTooLarge { len: usize, max: usize },
    #[error("transaction writes {bytes} bytes, more than the limit of {max}")]
    TxnTooLarge { bytes: u64, max: u64 },
    /// A read at a timestamp whose versions garbage collection may already have removed.
    #[error(
        "read timestamp {requested} is older than the garbage collection threshold {threshold}"
    )]
    TimestampTooOld {
        requested: Timestamp,
        threshold: Timestamp,
    },
    #[error("clock offset too large")]
    ClockOffset(#[from] ClockOffsetError),
    /// The transaction already committed, rolled back, or failed with an error that ended it.
    #[error("transaction is not active: it {0}")]
    NotActive(&'static str),
    /// `Db::transaction` gave up after its retry budget.
    #[error("transaction still conflicting after {attempts} attempts")]
    RetriesExhausted {
        attempts: u32,
        #[source]
        last: Box<Error>,
    },
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// A replicated database that cannot serve now (it does not lead its range, or lost
    /// leadership before a commit was applied): nothing was written; retry, here or on the
    /// leader.
    #[error("{0}")]
    Unavailable(String),
    /// A replicated commit whose outcome is unknown: it may or may not have been applied.
    #[error("commit outcome unknown: {0}")]
    AmbiguousCommit(String),
}

impl Error {
    /// True when running the whole transaction again may succeed (conflicts, deadlock victim,
    /// uncertainty restarts). Ambiguous or permanent failures are not retryable.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::WriteConflict { .. }
                | Error::ReadConflict { .. }
                | Error::Uncertain { .. }
                | Error::IntentFound { .. }
                | Error::Deadlock { .. }
                | Error::Unavailable(_)
        )
    }

    /// The PostgreSQL SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::WriteConflict { .. }
            | Error::ReadConflict { .. }
            | Error::Uncertain { .. }
            | Error::IntentFound { .. }
            | Error::Unavailable(_) => "40001",
            Error::AmbiguousCommit(_) => "40003",
            Error::RetriesExhausted { last, .. } => last.sqlstate(),
            Error::Deadlock { .. } => "40P01",
            Error::LockNotAvailable { .. } | Error::LockTimeout { .. } => "55P03",
            Error::KeyTooLarge { .. } | Error::ValueTooLarge { .. } => "54000",
            Error::TxnTooLarge { .. } => "54000",
            Error::TimestampTooOld { .. } | Error::ClockOffset(_) => "22023",
            Error::NotActive(_) => "25P02",
            Error::InvalidArgument(_) => "22023",
            Error::Storage(_) | Error::Corrupt { .. } => "XX000",
        }
    }

    /// The message with every source's after it (storage errors name file and offset there).
    pub fn report(&self) -> String {
        let mut msg = self.to_string();
        let mut src = std::error::Error::source(self);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        msg
    }

    /// Every SQLSTATE [`Error::sqlstate`] may return (a client that receives one as text
    /// maps it back with this list).
    pub const SQLSTATES: &'static [&'static str] = &[
        "40001", "40003", "40P01", "55P03", "54000", "22023", "25P02", "XX000",
    ];

    pub(crate) fn corrupt(engine_key: &[u8], source: FormatError) -> Error {
        Error::Corrupt {
            engine_key: engine_key.to_vec(),
            source,
        }
    }
}

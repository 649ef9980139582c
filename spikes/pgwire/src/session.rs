//! The proposed `cairn_pgwire::Session` trait.
//!
//! This is the *only* thing the wire-protocol layer knows about the SQL
//! engine. It speaks in SQL text, raw parameter bytes and already-encoded rows
//! (types from [`crate::cairn_types`]); it never sees a pgwire type, and the
//! protocol layer never sees a parse tree or a `Value`.
//!
//! One `Session` exists per client connection and is driven by exactly one
//! task, so methods take `&mut self` and the trait only needs `Send`.

use async_trait::async_trait;
use bytes::Bytes;

use crate::cairn_types::{
    BatchOutcome, Format, Oid, PreparedStatement, SqlError, StatementResult, TxStatus,
};

/// Startup information handed to the [`SessionFactory`] after authentication.
#[derive(Clone, Debug, Default)]
pub struct StartupInfo {
    pub user: String,
    pub database: Option<String>,
    pub application_name: Option<String>,
    /// All startup parameters as sent by the client (`options`, `DateStyle`,
    /// `client_encoding`, ...).
    pub parameters: Vec<(String, String)>,
}

/// Creates one [`Session`] per authenticated connection.
pub trait SessionFactory: Send + Sync + 'static {
    fn open(&self, info: StartupInfo) -> Result<Box<dyn Session>, SqlError>;
}

/// Per-connection SQL session as seen by the PostgreSQL wire-protocol layer.
///
/// # Cancellation
/// Every `async` method must be *cancel-safe*: the protocol layer implements
/// CancelRequest (and client disconnects) by dropping the in-flight future.
/// After such a drop the protocol layer calls [`Session::fail_transaction`];
/// the session must then still be usable.
///
/// # Transaction status
/// [`Session::transaction_status`] is the single source of truth for the
/// status byte of every ReadyForQuery; the protocol layer never infers it from
/// command tags (that cannot express `ROLLBACK TO SAVEPOINT` leaving 'E').
#[async_trait]
pub trait Session: Send + 'static {
    /// Simple-query protocol ('Q'): `sql` may hold zero or more
    /// `;`-separated statements.
    ///
    /// Execute them in order as PostgreSQL does (outside an explicit block the
    /// whole string is one implicit transaction) and stop at the first error:
    /// return the results of the statements that ran plus that error. Rows
    /// must be encoded in **text** format. An empty string yields a single
    /// [`StatementResult::Empty`].
    async fn simple_query(&mut self, sql: &str) -> BatchOutcome;

    /// Extended protocol Parse ('P'). `param_type_hints[i]` is the OID the
    /// client declared for `$i+1`, or 0 (unspecified). The number of
    /// parameters is decided by the statement, not by the hints.
    ///
    /// Must infer every parameter type (libpq's `PQprepare`, used by
    /// `pgbench -M prepared`, sends no hints at all) and return the result
    /// columns *without executing*, because Describe(statement) may come before
    /// any Bind.
    async fn prepare(
        &mut self,
        sql: &str,
        param_type_hints: &[Oid],
    ) -> Result<PreparedStatement, SqlError>;

    /// Extended protocol Execute ('E') of a bound portal.
    ///
    /// `params[i]` is the raw Bind value of `$i+1` (`None` = NULL) in
    /// `param_formats[i]` (already expanded to one entry per parameter) and
    /// must be decoded as `stmt.param_types[i]`. Rows must be encoded per
    /// `result_formats` (one entry per result column).
    ///
    /// The returned row stream is owned by the protocol layer; for an
    /// Execute with a row limit it is kept in the suspended portal and polled
    /// again by later Executes (until Sync, Close, or transaction end).
    async fn execute(
        &mut self,
        stmt: &PreparedStatement,
        params: &[Option<Bytes>],
        param_formats: &[Format],
        result_formats: &[Format],
    ) -> Result<StatementResult, SqlError>;

    /// Extended protocol Sync ('S'): end of an implicit transaction.
    /// Commit it if it succeeded, roll it back if anything in it failed. An
    /// explicit transaction block stays open (possibly Failed).
    async fn sync(&mut self);

    /// The protocol layer sent an error the session did not produce (unknown
    /// portal, bad Bind message, cancelled statement, ...). If an explicit
    /// block is open it must become [`TxStatus::Failed`]; the current implicit
    /// transaction must be rolled back at the next `sync`.
    fn fail_transaction(&mut self);

    /// Status byte for the next ReadyForQuery.
    fn transaction_status(&self) -> TxStatus;

    /// Reported settings (`TimeZone`, `DateStyle`, `application_name`,
    /// `client_encoding`, ...) changed since the last call, e.g. by `SET`.
    /// The protocol layer sends them as ParameterStatus before the next
    /// ReadyForQuery, as PostgreSQL does; drivers cache these values.
    fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// COPY ... FROM STDIN data ('d'). Only called after a statement returned
    /// [`StatementResult::CopyIn`]. Chunks are arbitrary slices of the copy
    /// stream, not necessarily whole rows.
    async fn copy_in_data(&mut self, _data: Bytes) -> Result<(), SqlError> {
        Err(SqlError::new(
            crate::cairn_types::sqlstate::FEATURE_NOT_SUPPORTED,
            "COPY is not supported",
        ))
    }

    /// CopyDone ('c'): return the final command tag, e.g. "COPY 3".
    /// (CopyFail is reported through [`Session::fail_transaction`].)
    async fn copy_in_done(&mut self) -> Result<StatementResult, SqlError> {
        Err(SqlError::new(
            crate::cairn_types::sqlstate::FEATURE_NOT_SUPPORTED,
            "COPY is not supported",
        ))
    }
}

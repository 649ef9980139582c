//! The engine-facing surface of the protocol layer: the [`Session`] and [`SessionFactory`]
//! traits and the vocabulary they speak (OIDs, formats, column descriptions, encoded rows,
//! statement results, SQL errors and notices).
//!
//! **Role**: the SQL engine (through the server binary) implements [`SessionFactory`] and
//! [`Session`]; the adapter (`crate::simple`, `crate::extended`) drives one `Session` per
//! client connection. Nothing here mentions `pgwire`: the engine sees SQL text, raw parameter
//! bytes and rows it already encoded, and the protocol layer never sees a parse tree or a value.
//!
//! # Invariants (the contract the adapter keeps)
//! 1. One connection, one `Session`, one driving task: methods take `&mut self` and never
//!    overlap. Test: every test in `tests/it` runs against a fake engine that would corrupt
//!    its state otherwise.
//! 2. A simple-query batch is pulled: `simple_query_next` is called again only after every
//!    row (or COPY chunk) of the previous result has been written to the socket, and never
//!    after it returned an `Err`. Test `it::raw_protocol::batch_statements_run_after_previous_rows_were_sent`.
//! 3. [`Session::transaction_status`] alone decides the status byte of every ReadyForQuery.
//!    Test `it::raw_protocol::transaction_status_bytes`.
//! 4. [`Session::terminate`] is called exactly once when the connection ends for any reason
//!    after the session was opened. Test `it::lifecycle::terminate_runs_when_client_disconnects_mid_transaction`.
//!
//! # Concurrency
//! A `Session` is owned by its connection task. Row, COPY and tag streams it returns are
//! `'static + Send` and are polled by that same task, possibly across several protocol
//! messages (a suspended portal), so they must own their state (an `Arc` to the transaction,
//! channels from other nodes), never borrow the session.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

/// A PostgreSQL type OID as it appears on the wire (`pg_type.oid`).
pub type Oid = u32;

/// Well-known type OIDs (a subset of `pg_type.oid`). [`oid::UNSPECIFIED`] (0) means "let the
/// server infer it" in a Parse message.
pub mod oid {
    use super::Oid;
    pub const UNSPECIFIED: Oid = 0;
    pub const BOOL: Oid = 16;
    pub const BYTEA: Oid = 17;
    pub const CHAR: Oid = 18;
    pub const NAME: Oid = 19;
    pub const INT8: Oid = 20;
    pub const INT2: Oid = 21;
    pub const INT4: Oid = 23;
    pub const TEXT: Oid = 25;
    pub const OID: Oid = 26;
    pub const JSON: Oid = 114;
    pub const FLOAT4: Oid = 700;
    pub const FLOAT8: Oid = 701;
    pub const UNKNOWN: Oid = 705;
    pub const BPCHAR: Oid = 1042;
    pub const VARCHAR: Oid = 1043;
    pub const DATE: Oid = 1082;
    pub const TIME: Oid = 1083;
    pub const TIMESTAMP: Oid = 1114;
    pub const TIMESTAMPTZ: Oid = 1184;
    pub const INTERVAL: Oid = 1186;
    pub const NUMERIC: Oid = 1700;
    pub const REGCLASS: Oid = 2205;
    pub const UUID: Oid = 2950;
    pub const JSONB: Oid = 3802;
}

/// Wire format of one value: PostgreSQL format code 0 (text) or 1 (binary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Text,
    Binary,
}

impl Format {
    /// The format code as sent on the wire.
    pub fn code(self) -> i16 {
        match self {
            Format::Text => 0,
            Format::Binary => 1,
        }
    }
}

/// One result column: one field of a RowDescription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDesc {
    pub name: String,
    pub type_oid: Oid,
    /// `pg_type.typlen`: -1 = varlena, -2 = C string.
    pub type_size: i16,
    /// `atttypmod`; -1 = none.
    pub type_modifier: i32,
    /// OID of the source table, 0 if the column is not a plain column reference.
    pub table_oid: u32,
    /// Attribute number within that table, 0 if none.
    pub column_attr: i16,
}

impl ColumnDesc {
    /// A computed column (no source table) of a built-in type, with `typlen` filled in for
    /// the fixed-size types in [`oid`].
    pub fn new(name: impl Into<String>, type_oid: Oid) -> Self {
        let type_size = match type_oid {
            oid::BOOL | oid::CHAR => 1,
            oid::INT2 => 2,
            oid::INT4 | oid::OID | oid::FLOAT4 | oid::DATE | oid::REGCLASS => 4,
            oid::INT8 | oid::FLOAT8 | oid::TIME | oid::TIMESTAMP | oid::TIMESTAMPTZ => 8,
            oid::INTERVAL | oid::UUID => 16,
            oid::NAME => 64,
            _ => -1,
        };
        ColumnDesc {
            name: name.into(),
            type_oid,
            type_size,
            type_modifier: -1,
            table_oid: 0,
            column_attr: 0,
        }
    }
}

/// A row whose values are already encoded in the format the client asked for (`None` = SQL
/// NULL). The protocol layer copies these bytes verbatim into a DataRow.
pub type EncodedRow = Vec<Option<Bytes>>;

/// An owned stream of encoded rows (see the module's concurrency notes).
pub type RowStream = Pin<Box<dyn Stream<Item = Result<EncodedRow, SqlError>> + Send>>;

/// An owned stream of COPY ... TO STDOUT data: each item becomes one CopyData message.
/// PostgreSQL sends one row per message; the protocol layer does not require it.
pub type CopyOutStream = Pin<Box<dyn Stream<Item = Result<Bytes, SqlError>> + Send>>;

/// Produces the CommandComplete tag of a COPY TO STDOUT once its data stream has ended, so the
/// tag can carry a row count the engine only knows then (`"COPY 42"`).
pub type CopyTag = Box<dyn FnOnce() -> String + Send>;

/// Outcome of one successfully started statement.
pub enum StatementResult {
    /// A row-returning statement. `tag` is the command word only ("SELECT", "FETCH",
    /// "SHOW" ...); the protocol layer appends the number of rows it sent.
    Rows {
        columns: Arc<Vec<ColumnDesc>>,
        /// Formats the rows are encoded in, one per column (always text in a simple query).
        formats: Arc<Vec<Format>>,
        tag: String,
        rows: RowStream,
    },
    /// A statement without a result set; `tag` is the complete CommandComplete text, e.g.
    /// "INSERT 0 1", "UPDATE 3", "BEGIN", "COMMIT", "ROLLBACK".
    Command { tag: String },
    /// The statement text contained no statement (only whitespace, `;` or comments).
    Empty,
    /// `COPY ... FROM STDIN` started: the client now streams CopyData, which the protocol
    /// layer forwards to [`Session::copy_in_data`], ending with [`Session::copy_in_done`].
    CopyIn { columns: usize, format: Format },
    /// `COPY ... TO STDOUT`: the protocol layer sends CopyOutResponse, one CopyData per item
    /// of `data`, CopyDone, then CommandComplete with `tag()`. Text vs CSV is the engine's
    /// business; `format` only says text (0) or binary (1) overall.
    CopyOut {
        columns: usize,
        format: Format,
        tag: CopyTag,
        data: CopyOutStream,
    },
}

impl fmt::Debug for StatementResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementResult::Rows { columns, tag, .. } => f
                .debug_struct("Rows")
                .field("columns", columns)
                .field("tag", tag)
                .finish_non_exhaustive(),
            StatementResult::Command { tag } => {
                f.debug_struct("Command").field("tag", tag).finish()
            }
            StatementResult::Empty => f.write_str("Empty"),
            StatementResult::CopyIn { columns, format } => f
                .debug_struct("CopyIn")
                .field("columns", columns)
                .field("format", format)
                .finish(),
            StatementResult::CopyOut {
                columns, format, ..
            } => f
                .debug_struct("CopyOut")
                .field("columns", columns)
                .field("format", format)
                .finish_non_exhaustive(),
        }
    }
}

/// Result of preparing (Parse) a statement.
#[derive(Clone)]
pub struct PreparedStatement {
    /// Parameter types after inference; length = number of `$n` placeholders.
    pub param_types: Vec<Oid>,
    /// Result columns, or `None` if the statement returns no rows (Describe answers NoData).
    pub columns: Option<Arc<Vec<ColumnDesc>>>,
    /// Engine-private plan or handle, opaque to the protocol layer. Dropping the last clone
    /// releases it, so Close needs no callback.
    pub plan: Arc<dyn std::any::Any + Send + Sync>,
}

impl fmt::Debug for PreparedStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedStatement")
            .field("param_types", &self.param_types)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

/// Transaction state reported in every ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// 'I': not in a transaction block.
    Idle,
    /// 'T': in a transaction block.
    InBlock,
    /// 'E': in a failed transaction block (commands rejected until ROLLBACK).
    Failed,
}

/// A five-character SQLSTATE code (PostgreSQL Appendix A), e.g. `42601`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlState([u8; 5]);

impl SqlState {
    /// From the five ASCII characters of a code. Codes are upper-case letters and digits;
    /// this is not checked, as every code is a constant of the engine.
    pub const fn new(code: &[u8; 5]) -> SqlState {
        SqlState(*code)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only `new` builds a SqlState; non-ASCII input would show as `?????`.
        std::str::from_utf8(&self.0).unwrap_or("?????")
    }

    pub const SUCCESSFUL_COMPLETION: SqlState = SqlState::new(b"00000");
    pub const WARNING: SqlState = SqlState::new(b"01000");
    pub const CONNECTION_EXCEPTION: SqlState = SqlState::new(b"08000");
    pub const PROTOCOL_VIOLATION: SqlState = SqlState::new(b"08P01");
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState::new(b"0A000");
    pub const NUMERIC_VALUE_OUT_OF_RANGE: SqlState = SqlState::new(b"22003");
    pub const DIVISION_BY_ZERO: SqlState = SqlState::new(b"22012");
    pub const CHARACTER_NOT_IN_REPERTOIRE: SqlState = SqlState::new(b"22021");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState::new(b"22023");
    pub const INVALID_TEXT_REPRESENTATION: SqlState = SqlState::new(b"22P02");
    pub const ACTIVE_SQL_TRANSACTION: SqlState = SqlState::new(b"25001");
    pub const NO_ACTIVE_SQL_TRANSACTION: SqlState = SqlState::new(b"25P01");
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState::new(b"25P02");
    pub const INVALID_SQL_STATEMENT_NAME: SqlState = SqlState::new(b"26000");
    pub const INVALID_AUTHORIZATION_SPECIFICATION: SqlState = SqlState::new(b"28000");
    pub const INVALID_PASSWORD: SqlState = SqlState::new(b"28P01");
    pub const INVALID_CURSOR_NAME: SqlState = SqlState::new(b"34000");
    pub const INVALID_CATALOG_NAME: SqlState = SqlState::new(b"3D000");
    pub const SERIALIZATION_FAILURE: SqlState = SqlState::new(b"40001");
    pub const SYNTAX_ERROR: SqlState = SqlState::new(b"42601");
    pub const UNDEFINED_OBJECT: SqlState = SqlState::new(b"42704");
    pub const DUPLICATE_PREPARED_STATEMENT: SqlState = SqlState::new(b"42P05");
    pub const TOO_MANY_CONNECTIONS: SqlState = SqlState::new(b"53300");
    pub const PROGRAM_LIMIT_EXCEEDED: SqlState = SqlState::new(b"54000");
    pub const QUERY_CANCELED: SqlState = SqlState::new(b"57014");
    pub const ADMIN_SHUTDOWN: SqlState = SqlState::new(b"57P01");
    pub const INTERNAL_ERROR: SqlState = SqlState::new(b"XX000");
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SqlState({})", self.as_str())
    }
}

/// Severity of an error sent as ErrorResponse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The statement failed; the connection stays usable.
    Error,
    /// The session ends: the protocol layer sends the error and closes the connection.
    Fatal,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }
}

/// An SQL-level error, sent to the client as ErrorResponse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    pub sqlstate: SqlState,
    pub severity: Severity,
    /// Primary message: lower case, no final period (PostgreSQL style).
    pub message: Cow<'static, str>,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character (not byte) position in the statement text.
    pub position: Option<u32>,
}

impl SqlError {
    /// An ERROR with the given code and message.
    pub fn new(sqlstate: SqlState, message: impl Into<Cow<'static, str>>) -> Self {
        SqlError {
            sqlstate,
            severity: Severity::Error,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
        }
    }

    /// A FATAL error: the connection is closed after it is sent.
    pub fn fatal(sqlstate: SqlState, message: impl Into<Cow<'static, str>>) -> Self {
        SqlError {
            severity: Severity::Fatal,
            ..SqlError::new(sqlstate, message)
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_position(mut self, position: u32) -> Self {
        self.position = Some(position);
        self
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.severity.as_str(),
            self.message,
            self.sqlstate
        )
    }
}

impl std::error::Error for SqlError {}

/// Severity of a NoticeResponse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeSeverity {
    Warning,
    Notice,
    Info,
    Log,
    Debug,
}

impl NoticeSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeSeverity::Warning => "WARNING",
            NoticeSeverity::Notice => "NOTICE",
            NoticeSeverity::Info => "INFO",
            NoticeSeverity::Log => "LOG",
            NoticeSeverity::Debug => "DEBUG",
        }
    }
}

/// A message for the client that is not an error ("there is already a transaction in
/// progress", `RAISE NOTICE`), sent as NoticeResponse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub severity: NoticeSeverity,
    pub sqlstate: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Notice {
    pub fn new(severity: NoticeSeverity, sqlstate: SqlState, message: impl Into<String>) -> Self {
        Notice {
            severity,
            sqlstate,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }
}

/// What the client said at startup, handed to the [`SessionFactory`] after authentication.
/// A prepared statement dropped by SQL `DEALLOCATE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deallocation {
    All,
    Named(String),
}

#[derive(Clone, Debug)]
pub struct StartupInfo {
    pub user: String,
    pub database: Option<String>,
    pub application_name: Option<String>,
    /// Every startup parameter as sent by the client (`options`, `DateStyle`, ...).
    pub parameters: Vec<(String, String)>,
    pub peer_addr: SocketAddr,
    /// The connection is TLS-encrypted.
    pub tls: bool,
}

/// Creates one [`Session`] per authenticated connection.
#[async_trait]
pub trait SessionFactory: Send + Sync {
    /// Open a session for an authenticated client. An error (for example 3D000 for an
    /// unknown database) is sent as FATAL and the connection is closed.
    async fn open(&self, info: StartupInfo) -> Result<Box<dyn Session>, SqlError>;
}

/// One client's SQL session, as driven by the PostgreSQL wire-protocol layer.
///
/// # Cancellation
/// Every `async` method must be cancel-safe: CancelRequest, server shutdown and client
/// disconnects are implemented by dropping the in-flight future (or row stream). The protocol
/// layer then calls [`Session::fail_transaction`] and keeps using the session.
///
/// # Transactions
/// Outside an explicit block, each simple-query batch is one implicit transaction (commit
/// when `simple_query_next` returns `None`), and each extended-protocol sequence up to Sync
/// is one implicit transaction (commit in [`Session::sync`]).
#[async_trait]
pub trait Session: Send {
    /// Simple query ('Q'): split `sql` into statements without running any. An `Err` (a
    /// syntax error, say) is sent and the batch is over. A batch abandoned part way (error,
    /// cancel, disconnect) is simply replaced by the next call.
    async fn simple_query_start(&mut self, sql: &str) -> Result<(), SqlError>;

    /// Run the next statement of the batch and return its result; `None` when the batch is
    /// done (commit the implicit transaction then). Rows must be encoded as text. A batch
    /// without statements (an empty string) yields [`StatementResult::Empty`] once. Called
    /// again only after the previous result was sent completely, and never after an `Err`.
    async fn simple_query_next(&mut self) -> Option<Result<StatementResult, SqlError>>;

    /// Parse ('P'). `param_type_hints[i]` is the OID the client declared for `$i+1`, or 0.
    /// Must infer every parameter type (libpq's `PQprepare` sends no hints) and the result
    /// columns without executing: Describe may come before any Bind.
    async fn prepare(
        &mut self,
        sql: &str,
        param_type_hints: &[Oid],
    ) -> Result<PreparedStatement, SqlError>;

    /// Execute ('E') of a bound portal. `params[i]` is the raw Bind value of `$i+1` (`None` =
    /// NULL) in `param_formats[i]`, to be decoded as `stmt.param_types[i]`; the count is not
    /// checked by the protocol layer (answer 08P01 if it is wrong). Rows must be encoded per
    /// `result_formats` (one entry per result column).
    async fn execute(
        &mut self,
        stmt: &PreparedStatement,
        params: &[Option<Bytes>],
        param_formats: &[Format],
        result_formats: &[Format],
    ) -> Result<StatementResult, SqlError>;

    /// Sync ('S'): end of an implicit transaction. Commit it if it succeeded, roll it back if
    /// anything in it failed. An explicit block stays open (possibly failed).
    async fn sync(&mut self);

    /// The current statement failed in a way the session did not see (a row stream error,
    /// a cancel, an error raised by the protocol layer, CopyFail). Roll back the implicit
    /// transaction; an explicit block becomes [`TxStatus::Failed`]. Must be idempotent.
    async fn fail_transaction(&mut self);

    /// Status byte for the next ReadyForQuery.
    fn transaction_status(&self) -> TxStatus;

    /// Reported settings changed since the last call (`SET TimeZone`, ...), sent as
    /// ParameterStatus before the next ReadyForQuery.
    fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Notices raised since the last call, sent as NoticeResponse before the next result
    /// or ReadyForQuery.
    fn take_notices(&mut self) -> Vec<Notice> {
        Vec::new()
    }

    /// Prepared statements the client dropped with SQL `DEALLOCATE` since the last call; the
    /// protocol layer removes them from its statement store before the next ReadyForQuery.
    fn take_deallocations(&mut self) -> Vec<Deallocation> {
        Vec::new()
    }

    /// COPY ... FROM STDIN data ('d') after a [`StatementResult::CopyIn`]. Chunks are
    /// arbitrary slices of the copy stream, not whole rows.
    async fn copy_in_data(&mut self, _data: Bytes) -> Result<(), SqlError> {
        Err(SqlError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "COPY FROM STDIN is not supported",
        ))
    }

    /// CopyDone ('c'): finish the COPY and return its [`StatementResult::Command`] ("COPY 3").
    /// CopyFail is reported through [`Session::fail_transaction`].
    async fn copy_in_done(&mut self) -> Result<StatementResult, SqlError> {
        Err(SqlError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "COPY FROM STDIN is not supported",
        ))
    }

    /// The connection ended (Terminate, disconnect, FATAL error, server shutdown). Roll back
    /// an open transaction and release everything; the session is dropped afterwards. Called
    /// once; the protocol layer bounds how long it waits for it.
    async fn terminate(&mut self);
}

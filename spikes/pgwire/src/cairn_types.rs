//! Stand-in for the future `cairn-types` crate.
//!
//! Everything the protocol layer and the SQL engine must agree on lives here,
//! and nothing here knows about `pgwire`, `tokio` or any SQL parser. The only
//! non-std dependencies are `bytes` (cheap shared buffers for encoded values)
//! and `futures-core`'s `Stream` (to stream rows).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;

/// A PostgreSQL type OID as it appears on the wire.
pub type Oid = u32;

/// Well-known type OIDs (subset of `pg_type.oid`). OID 0 means "unspecified"
/// in Parse messages.
pub mod oid {
    use super::Oid;
    pub const UNSPECIFIED: Oid = 0;
    pub const BOOL: Oid = 16;
    pub const INT8: Oid = 20;
    pub const INT2: Oid = 21;
    pub const INT4: Oid = 23;
    pub const TEXT: Oid = 25;
    pub const FLOAT8: Oid = 701;
    pub const UNKNOWN: Oid = 705;
    pub const VARCHAR: Oid = 1043;
}

/// Wire format of a single value: PostgreSQL format code 0 (text) or 1 (binary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Binary,
}

impl Format {
    /// Expand the Bind message's format-code list to one format per column,
    /// following the protocol rules: zero codes = all text, one code = applies
    /// to every column, otherwise one code per column.
    pub fn expand(codes: &[i16], n: usize) -> Vec<Format> {
        let one = |c: i16| if c == 1 { Format::Binary } else { Format::Text };
        match codes.len() {
            0 => vec![Format::Text; n],
            1 => vec![one(codes[0]); n],
            _ => (0..n)
                .map(|i| codes.get(i).copied().map(one).unwrap_or(Format::Text))
                .collect(),
        }
    }
}

/// One result column, i.e. one field of a RowDescription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDesc {
    pub name: String,
    pub type_oid: Oid,
    /// `pg_type.typlen` (-1 = varlena, -2 = cstring).
    pub type_size: i16,
    /// `atttypmod`; -1 = none.
    pub type_modifier: i32,
    /// OID of the source table, 0 if not a plain column reference.
    pub table_oid: u32,
    /// Attribute number within that table, 0 if none.
    pub column_attr: i16,
}

impl ColumnDesc {
    pub fn new(name: impl Into<String>, type_oid: Oid) -> Self {
        let type_size = match type_oid {
            oid::BOOL => 1,
            oid::INT2 => 2,
            oid::INT4 => 4,
            oid::INT8 | oid::FLOAT8 => 8,
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

/// A row whose values are already encoded in the wire format the client asked
/// for (`None` = SQL NULL). The protocol layer copies these bytes verbatim
/// into a DataRow message.
pub type EncodedRow = Vec<Option<Bytes>>;

/// An owned, `'static` stream of encoded rows. It must not borrow the session:
/// the protocol layer may keep it in a suspended portal across several Execute
/// messages and poll it later.
pub type RowStream = Pin<Box<dyn Stream<Item = Result<EncodedRow, SqlError>> + Send>>;

/// Outcome of one successfully executed statement.
pub enum StatementResult {
    /// A row-returning statement. `tag` is the command word only ("SELECT",
    /// "FETCH", "SHOW"...); the protocol layer appends the row count it sent.
    Rows {
        columns: Arc<Vec<ColumnDesc>>,
        /// Formats the rows are encoded in, one per column (always text for
        /// the simple protocol).
        formats: Arc<Vec<Format>>,
        tag: String,
        rows: RowStream,
    },
    /// A statement without a result set; `tag` is the complete CommandComplete
    /// text, e.g. "INSERT 0 1", "UPDATE 3", "BEGIN", "COMMIT", "ROLLBACK".
    Command { tag: String },
    /// The query string contained no statement at all.
    Empty,
    /// `COPY ... FROM STDIN` started: the client now streams CopyData; the
    /// protocol layer forwards it to `Session::copy_in_data` and finishes with
    /// `Session::copy_in_done`.
    CopyIn { columns: usize, format: Format },
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
        }
    }
}

/// Everything a simple-protocol Query produced: results of the statements that
/// ran, in order, and the error that stopped the batch (if any). Statements
/// after the failing one were not executed.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub results: Vec<StatementResult>,
    pub error: Option<SqlError>,
}

/// Result of preparing (Parse) a statement.
#[derive(Clone)]
pub struct PreparedStatement {
    /// Parameter types after inference; length = number of `$n` placeholders.
    pub param_types: Vec<Oid>,
    /// Result columns, or `None` if the statement returns no rows (the protocol
    /// layer then answers Describe with NoData).
    pub columns: Option<Arc<Vec<ColumnDesc>>>,
    /// Engine-private plan/handle; opaque to the protocol layer. Dropping the
    /// last clone releases it (so Close needs no callback).
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

/// An SQL-level error, sent to the client as ErrorResponse (severity ERROR).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    /// Five-character SQLSTATE, e.g. "42601".
    pub sqlstate: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the query string.
    pub position: Option<u32>,
}

impl SqlError {
    pub fn new(sqlstate: &'static str, message: impl Into<String>) -> Self {
        SqlError {
            sqlstate,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
        }
    }
    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(sqlstate::SYNTAX_ERROR, message)
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.sqlstate)
    }
}

impl std::error::Error for SqlError {}

/// SQLSTATE codes used by the spike.
pub mod sqlstate {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
    pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const QUERY_CANCELED: &str = "57014";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
}

//! SQL errors: one type for every error a SQL statement can end with, carrying the PostgreSQL
//! SQLSTATE that clients and ORMs branch on.
//!
//! Role: the binder, planner, evaluator (this crate) and the executor and session
//! (`cairn-sql-exec`) all return [`SqlError`]; the protocol layer copies its fields into an
//! ErrorResponse unchanged.
//!
//! Invariants:
//! 1. `code` is always a five-character SQLSTATE from PostgreSQL's table (Appendix A of its
//!    manual); the constants in [`code`] are the only ones used, so a grep finds every use.
//! 2. `message` is lowercase-first and has no final period, as PostgreSQL's are.

use std::fmt;

/// SQLSTATE codes Cairn reports, named as PostgreSQL's `errcodes.txt` names them.
pub mod code {
    pub const SUCCESSFUL_COMPLETION: &str = "00000";
    pub const WARNING: &str = "01000";
    pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
    pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";
    pub const INVALID_TRANSACTION_STATE: &str = "25000";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const SYNTAX_ERROR: &str = "42601";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const UNDEFINED_PARAMETER: &str = "42P02";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DUPLICATE_COLUMN: &str = "42701";
    pub const DUPLICATE_OBJECT: &str = "42710";
    pub const DUPLICATE_DATABASE: &str = "42P04";
    pub const UNDEFINED_DATABASE: &str = "3D000";
    pub const INVALID_CATALOG_NAME: &str = "3D000";
    pub const OBJECT_IN_USE: &str = "55006";
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    pub const GROUPING_ERROR: &str = "42803";
    pub const WINDOWING_ERROR: &str = "42P20";
    pub const INVALID_RECURSION: &str = "42P19";
    pub const INVALID_PRECEDING_OR_FOLLOWING_SIZE: &str = "22013";
    pub const NULL_VALUE_NOT_ALLOWED: &str = "22004";
    pub const INVALID_ARGUMENT_FOR_NTILE: &str = "22014";
    pub const INVALID_ARGUMENT_FOR_NTH_VALUE: &str = "22016";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const WRONG_OBJECT_TYPE: &str = "42809";
    pub const INVALID_COLUMN_REFERENCE: &str = "42P10";
    pub const INVALID_TABLE_DEFINITION: &str = "42P16";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const CANNOT_COERCE: &str = "42846";
    pub const UNDEFINED_FUNCTION_OR_OPERATOR: &str = "42883";
    pub const INDETERMINATE_DATATYPE: &str = "42P18";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const STRING_DATA_RIGHT_TRUNCATION: &str = "22001";
    pub const SUBSTRING_ERROR: &str = "22011";
    pub const INVALID_ESCAPE_SEQUENCE: &str = "22025";
    pub const CARDINALITY_VIOLATION: &str = "21000";
    pub const INVALID_ROW_COUNT_IN_LIMIT: &str = "2201W";
    pub const INVALID_ROW_COUNT_IN_OFFSET: &str = "2201X";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const INVALID_FOREIGN_KEY: &str = "42830";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const CHECK_VIOLATION: &str = "23514";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const QUERY_CANCELED: &str = "57014";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const INVALID_NAME: &str = "42602";
    pub const INVALID_SAVEPOINT_SPECIFICATION: &str = "3B001";
    pub const UNDEFINED_PREPARED_STATEMENT: &str = "26000";
    pub const DUPLICATE_PREPARED_STATEMENT: &str = "42P05";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const DATA_CORRUPTED: &str = "XX001";
    pub const INTERNAL_ERROR: &str = "XX000";
    pub const IO_ERROR: &str = "58030";
    pub const CANT_CHANGE_RUNTIME_PARAM: &str = "55P02";
    pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
}

/// An error that ends a SQL statement. Kept small (the optional fields are boxed) because
/// every `Result` in the SQL layer carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// SQLSTATE (see [`code`]).
    pub code: &'static str,
    pub message: String,
    pub details: Option<Box<ErrorDetails>>,
}

/// The optional ErrorResponse fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorDetails {
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement text, when known.
    pub position: Option<u32>,
    /// Constraint, table or column the error is about (ErrorResponse fields n, t, c).
    pub constraint: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

impl SqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> SqlError {
        SqlError {
            code,
            message: message.into(),
            details: None,
        }
    }

    fn details_mut(&mut self) -> &mut ErrorDetails {
        self.details.get_or_insert_with(Default::default)
    }

    /// The optional fields (all `None` when none were set).
    pub fn details(&self) -> ErrorDetails {
        self.details.as_deref().cloned().unwrap_or_default()
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> SqlError {
        self.details_mut().detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> SqlError {
        self.details_mut().hint = Some(hint.into());
        self
    }

    pub fn with_constraint(mut self, name: impl Into<String>) -> SqlError {
        self.details_mut().constraint = Some(name.into());
        self
    }

    pub fn with_table(mut self, name: impl Into<String>) -> SqlError {
        self.details_mut().table = Some(name.into());
        self
    }

    /// 0A000: a feature Cairn does not have yet. Every path a user can reach that is not built
    /// returns this rather than panicking or pretending.
    pub fn not_supported(what: impl fmt::Display) -> SqlError {
        SqlError::new(
            code::FEATURE_NOT_SUPPORTED,
            format!("{what} is not supported"),
        )
    }

    pub fn syntax(message: impl Into<String>) -> SqlError {
        SqlError::new(code::SYNTAX_ERROR, message)
    }

    pub fn internal(message: impl Into<String>) -> SqlError {
        SqlError::new(code::INTERNAL_ERROR, message)
    }

    pub fn undefined_table(name: &str) -> SqlError {
        SqlError::new(
            code::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        )
    }

    pub fn undefined_column(name: &str) -> SqlError {
        SqlError::new(
            code::UNDEFINED_COLUMN,
            format!("column \"{name}\" does not exist"),
        )
    }

    pub fn out_of_range(type_name: &str) -> SqlError {
        SqlError::new(
            code::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{type_name} out of range"),
        )
    }

    pub fn division_by_zero() -> SqlError {
        SqlError::new(code::DIVISION_BY_ZERO, "division by zero")
    }

    pub fn invalid_text(type_name: &str, input: &str) -> SqlError {
        SqlError::new(
            code::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type {type_name}: \"{input}\""),
        )
    }

    /// Whether a client retrying the whole transaction may succeed (40001, 40P01).
    pub fn is_retryable(&self) -> bool {
        self.code == code::SERIALIZATION_FAILURE || self.code == code::DEADLOCK_DETECTED
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SQLSTATE {})", self.message, self.code)
    }
}

impl std::error::Error for SqlError {}

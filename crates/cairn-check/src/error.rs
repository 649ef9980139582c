//! Errors of the history checkers.
//!
//! **What**: the one error enum of the crate, [`CheckError`], and the reasons a history can be
//! malformed, [`Malformed`].
//! **Role**: returned by the parser ([`crate::history`]) and by each workload checker when an
//! operation's shape does not match its workload (a `cas` whose argument is not a pair, a bank
//! read that is not an object, ...). A *violation* found in a well-formed history is never an
//! error: it is a verdict in the checker's report.
//!
//! **Invariants**
//! 1. Every malformed input is reported with the 1-based line number of the offending line
//!    (tests `it::malformed::*` check each reason and its line).
//! 2. Nothing read from the history causes a panic: the parser and checkers return
//!    [`CheckError::Malformed`] instead (the property tests feed random histories through them).

use thiserror::Error;

/// An error of the history checkers: the history could not be read or is not valid input.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The history file could not be read.
    #[error("read history file {path}")]
    Read {
        /// The path as given on the command line.
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A line of the history does not follow `history-format.md`.
    #[error("malformed history at line {line}")]
    Malformed {
        /// 1-based line number in the history file.
        line: usize,
        #[source]
        reason: Malformed,
    },
}

impl CheckError {
    /// The line number of a malformed history, if this is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            CheckError::Malformed { line, .. } => Some(*line),
            CheckError::Read { .. } => None,
        }
    }

    /// The reason, if the history is malformed.
    pub fn malformed(&self) -> Option<&Malformed> {
        match self {
            CheckError::Malformed { reason, .. } => Some(reason),
            CheckError::Read { .. } => None,
        }
    }

    pub(crate) fn at(line: usize, reason: Malformed) -> CheckError {
        CheckError::Malformed { line, reason }
    }
}

/// Why a history line is not valid input.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Malformed {
    #[error("line is not valid UTF-8")]
    NotUtf8,
    #[error("invalid JSON")]
    Json(#[source] serde_json::Error),
    #[error("event is not a JSON object")]
    NotObject,
    #[error("missing field `{field}`")]
    MissingField { field: &'static str },
    #[error("field `{field}` must be {expected}")]
    FieldType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("unknown event type `{found}` (expected invoke, ok, fail or info)")]
    UnknownType { found: String },
    #[error(
        "`time` is missing here but given on line {timed_line}: give it on every line or on none"
    )]
    TimeMissing { timed_line: usize },
    #[error(
        "`time` is given here but missing on line {untimed_line}: give it on every line or on none"
    )]
    TimeUnexpected { untimed_line: usize },
    #[error("time {found} is less than time {previous} of line {previous_line}")]
    TimeDecreased {
        found: u64,
        previous: u64,
        previous_line: usize,
    },
    #[error("process {process} invokes an operation while its operation of line {pending_line} is still in flight")]
    InvokeWhilePending { process: i64, pending_line: usize },
    #[error("process {process} completes an operation it never invoked")]
    CompletionWithoutInvoke { process: i64 },
    #[error(
        "completion has f `{completed}` but the invocation on line {invoke_line} has f `{invoked}`"
    )]
    FunctionMismatch {
        invoked: String,
        completed: String,
        invoke_line: usize,
    },
    #[error(
        "completion has key {completed} but the invocation on line {invoke_line} has key {invoked}"
    )]
    KeyMismatch {
        invoked: String,
        completed: String,
        invoke_line: usize,
    },
    #[error("f `{f}` is not an operation of the {workload} workload (expected {expected})")]
    UnknownFunction {
        workload: &'static str,
        f: String,
        expected: &'static str,
    },
    #[error("value of `{f}` must be {expected}")]
    BadValue {
        f: &'static str,
        expected: &'static str,
    },
    #[error("micro-operation {index} of the transaction must be {expected}")]
    BadMicroOp {
        index: usize,
        expected: &'static str,
    },
    #[error("element {element} is appended to key {key} again (first on line {first_line}): appended elements must be unique per key")]
    DuplicateAppend {
        key: String,
        element: String,
        first_line: usize,
    },
}

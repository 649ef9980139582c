//! Errors of the benchmark harness.
//!
//! The harness drives real engines, so most failures are the world misbehaving (disk full, an
//! engine refusing to open) and come back as [`BenchError::Engine`]. A wrong answer from an
//! engine (a key that was written is not found, a missing key is found) is reported as
//! [`BenchError::WrongResult`] rather than a panic: the engine under test may be buggy, and the
//! benchmark should say so instead of printing numbers for wrong work.
//!
//! The networked benchmark (`cairn bench kv`) adds [`BenchError::Connect`] (a host is not
//! there at the start) and [`BenchError::Unavailable`] (an operation's retries ran out); an
//! error a system answers that no retry can fix comes back as [`BenchError::Engine`].

use std::path::PathBuf;

/// Source error of a storage engine, boxed because each engine has its own error type.
pub type EngineSource = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// An engine call failed.
    #[error("{engine}: {action}")]
    Engine {
        engine: &'static str,
        /// The failed action, e.g. "open database" or "get".
        action: &'static str,
        #[source]
        source: EngineSource,
    },

    /// The engine named on the command line is not compiled into this binary.
    #[error("engine {engine} is not compiled in; rebuild with `--features {engine}`")]
    EngineNotBuilt { engine: &'static str },

    /// An engine returned a result that contradicts the data the benchmark wrote.
    #[error("{engine}: {workload} expected {expected} {what}, got {actual}")]
    WrongResult {
        engine: &'static str,
        workload: &'static str,
        what: &'static str,
        expected: u64,
        actual: u64,
    },

    /// Preparing the database directory failed.
    #[error("prepare database directory {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A settle (flush + wait for compactions) did not finish within its bound.
    #[error("{engine}: background work did not settle within {waited_secs} s")]
    SettleTimeout {
        engine: &'static str,
        waited_secs: u64,
    },

    /// `cairn bench kv`: a host of the cluster under test did not accept a connection.
    #[error("{target}: connect to {host}")]
    Connect {
        target: &'static str,
        host: String,
        #[source]
        source: EngineSource,
    },

    /// `cairn bench kv`: an operation kept failing with retryable errors (no leader, node
    /// down) for `waited_secs`; `source` is the last attempt's error.
    #[error("{target}: {workload} did not succeed within {waited_secs} s of retries")]
    Unavailable {
        target: &'static str,
        workload: &'static str,
        waited_secs: u64,
        #[source]
        source: EngineSource,
    },

    /// The async runtime of a networked benchmark could not be started.
    #[error("start the async runtime")]
    Runtime {
        #[source]
        source: std::io::Error,
    },

    /// The configuration cannot be run (zero threads, value too small, ...).
    #[error("invalid benchmark configuration: {reason}")]
    Config { reason: &'static str },
}

impl BenchError {
    /// Wraps an engine's own error.
    pub fn engine(
        engine: &'static str,
        action: &'static str,
        source: impl Into<EngineSource>,
    ) -> BenchError {
        BenchError::Engine {
            engine,
            action,
            source: source.into(),
        }
    }
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;

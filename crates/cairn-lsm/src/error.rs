//! The engine's error type.
//!
//! Classification for callers: [`Error::is_corruption`] (bytes on disk are damaged; the engine
//! refuses to return possibly wrong data), [`Error::Poisoned`] (an earlier write or sync failed;
//! every later write is refused until the engine is reopened, because the state of the failed
//! write on disk is unknown and an fsync is never retried), and I/O errors (with the action and
//! path that failed).

use std::path::PathBuf;

use cairn_codec::DecodeError;

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("{action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk fail a checksum or do not decode.
    #[error("corruption in {} at offset {offset}: {kind}", path.display())]
    Corruption {
        path: PathBuf,
        offset: u64,
        kind: CorruptionKind,
    },
    /// A previous WAL write or fsync failed; writes are refused until the engine is reopened.
    #[error("engine is poisoned by an earlier failed write or sync; reopen it to recover")]
    Poisoned,
    /// The caller passed something the engine does not accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The database directory is locked by another open engine.
    #[error("database directory {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    /// The engine has been closed.
    #[error("engine is closed")]
    Closed,
}

/// What kind of damage was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptionKind {
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum { stored: u32, computed: u32 },
    #[error("bad magic number {found:#018x}")]
    BadMagic { found: u64 },
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u32),
    #[error("file shorter than expected ({size} bytes)")]
    Truncated { size: u64 },
    #[error("{0}")]
    Decode(DecodeError),
    #[error("{0}")]
    Invalid(&'static str),
}

impl Error {
    /// An I/O error for `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// A corruption error at `offset` of `path`.
    pub fn corruption(path: impl Into<PathBuf>, offset: u64, kind: CorruptionKind) -> Self {
        Error::Corruption {
            path: path.into(),
            offset,
            kind,
        }
    }

    /// A decode failure inside a region that starts at `base_offset` of `path`. A checksum
    /// failure keeps its own kind so callers and tools see the stored and computed values.
    pub fn decode(path: impl Into<PathBuf>, base_offset: u64, e: DecodeError) -> Self {
        let offset = base_offset + e.offset as u64;
        let kind = match e.reason {
            cairn_codec::DecodeErrorReason::Checksum { stored, computed } => {
                CorruptionKind::Checksum { stored, computed }
            }
            _ => CorruptionKind::Decode(e),
        };
        Error::Corruption {
            path: path.into(),
            offset,
            kind,
        }
    }

    /// True when the error reports damaged bytes on disk.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}

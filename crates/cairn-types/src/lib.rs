//! cairn-types: the small value types every layer shares.
//!
//! Layer 0: depends on nothing. It holds no logic beyond ordering, encoding and display of
//! its types: [`Timestamp`] (a hybrid-logical-clock reading), [`TxnId`] and [`IsolationLevel`].
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt;

/// A hybrid-logical-clock reading: wall-clock nanoseconds since the Unix epoch plus a logical
/// counter that orders events within one nanosecond reading.
///
/// Ordering is lexicographic on `(wall_nanos, logical)`. [`Timestamp::ZERO`] sorts before every
/// timestamp a clock hands out and means "never"/"the beginning"; [`Timestamp::MAX`] sorts after
/// all of them and is reserved (an intent's slot in the key space uses it).
///
/// Encoded form (`to_bytes`): 12 bytes, `wall_nanos` as u64 big-endian then `logical` as u32
/// big-endian, so the bytes sort as the timestamps do.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub wall_nanos: u64,
    pub logical: u32,
}

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp {
        wall_nanos: 0,
        logical: 0,
    };
    pub const MAX: Timestamp = Timestamp {
        wall_nanos: u64::MAX,
        logical: u32::MAX,
    };
    /// Bytes of the encoded form.
    pub const ENCODED_BYTES: usize = 12;

    pub const fn new(wall_nanos: u64, logical: u32) -> Timestamp {
        Timestamp {
            wall_nanos,
            logical,
        }
    }

    /// The smallest timestamp greater than `self` (saturates at `MAX`).
    pub fn next(self) -> Timestamp {
        if self.logical < u32::MAX {
            Timestamp::new(self.wall_nanos, self.logical + 1)
        } else if self.wall_nanos < u64::MAX {
            Timestamp::new(self.wall_nanos + 1, 0)
        } else {
            Timestamp::MAX
        }
    }

    /// The largest timestamp smaller than `self` (saturates at `ZERO`).
    pub fn prev(self) -> Timestamp {
        if self.logical > 0 {
            Timestamp::new(self.wall_nanos, self.logical - 1)
        } else if self.wall_nanos > 0 {
            Timestamp::new(self.wall_nanos - 1, u32::MAX)
        } else {
            Timestamp::ZERO
        }
    }

    /// `self` moved forward by `nanos` of wall time (logical part kept; saturating).
    pub fn add_nanos(self, nanos: u64) -> Timestamp {
        Timestamp::new(self.wall_nanos.saturating_add(nanos), self.logical)
    }

    /// `self` moved back by `nanos` of wall time (logical part kept; saturating at zero).
    pub fn sub_nanos(self, nanos: u64) -> Timestamp {
        Timestamp::new(self.wall_nanos.saturating_sub(nanos), self.logical)
    }

    pub fn to_bytes(self) -> [u8; 12] {
        let mut out = [0u8; 12];
        let (wall, logical) = out.split_at_mut(8);
        wall.copy_from_slice(&self.wall_nanos.to_be_bytes());
        logical.copy_from_slice(&self.logical.to_be_bytes());
        out
    }

    /// Decodes the 12-byte form; `None` if `bytes` is not exactly 12 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Timestamp> {
        let wall: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
        let logical: [u8; 4] = bytes.get(8..12)?.try_into().ok()?;
        if bytes.len() != 12 {
            return None;
        }
        Some(Timestamp::new(
            u64::from_be_bytes(wall),
            u32::from_be_bytes(logical),
        ))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Timestamp {
    /// `<seconds>.<nanoseconds>,<logical>`, the form CockroachDB users know.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09},{}",
            self.wall_nanos / 1_000_000_000,
            self.wall_nanos % 1_000_000_000,
            self.logical
        )
    }
}

/// A transaction's identity: 128 random bits, unique across the cluster with overwhelming
/// probability. Zero is never handed out and means "no transaction".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TxnId(pub u128);

impl TxnId {
    pub const NONE: TxnId = TxnId(0);

    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<TxnId> {
        let arr: [u8; 16] = bytes.try_into().ok()?;
        Some(TxnId(u128::from_be_bytes(arr)))
    }
}

impl fmt::Debug for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TxnId {
    /// The first 8 hex digits, as in logs (the full id is in `{:x}` of `.0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "txn:{:08x}", (self.0 >> 96) as u32)
    }
}

/// Transaction isolation levels, named as PostgreSQL users know them. Each behaves as the
/// PostgreSQL level of the same name does (`SNAPSHOT` is PostgreSQL's `REPEATABLE READ`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum IsolationLevel {
    /// Each statement reads a fresh snapshot; writes lock and wait; no serialization failures
    /// for write-write conflicts.
    ReadCommitted,
    /// One snapshot for the whole transaction; first committer wins; write skew allowed.
    Snapshot,
    /// Snapshot plus read-set validation at commit: the committed history is serializable.
    #[default]
    Serializable,
}

impl IsolationLevel {
    /// The SQL spelling (`READ COMMITTED`, `REPEATABLE READ`, `SERIALIZABLE`).
    pub fn sql_name(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::Snapshot => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_bytes_sort_like_timestamps() {
        let a = Timestamp::new(5, u32::MAX);
        let b = Timestamp::new(6, 0);
        assert!(a < b);
        assert!(a.to_bytes() < b.to_bytes());
        assert_eq!(Timestamp::from_bytes(&a.to_bytes()), Some(a));
        assert_eq!(Timestamp::from_bytes(&[0u8; 11]), None);
        assert_eq!(Timestamp::from_bytes(&[0u8; 13]), None);
    }

    #[test]
    fn next_and_prev_are_inverse_and_carry() {
        let t = Timestamp::new(7, u32::MAX);
        assert_eq!(t.next(), Timestamp::new(8, 0));
        assert_eq!(t.next().prev(), t);
        assert_eq!(Timestamp::ZERO.prev(), Timestamp::ZERO);
        assert_eq!(Timestamp::MAX.next(), Timestamp::MAX);
    }

    #[test]
    fn display_shows_seconds_nanos_logical() {
        assert_eq!(
            Timestamp::new(1_500_000_001, 3).to_string(),
            "1.500000001,3"
        );
    }
}

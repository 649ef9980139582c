//! Internal keys: a user key tagged with the sequence number and kind of the write.
//!
//! # Format
//! ```text
//! +----------------------+---------------------------------------+
//! | user key (n bytes)   | trailer u64 LE = (seqno << 8) | kind   |
//! +----------------------+---------------------------------------+
//! ```
//! Example: user key `"ab"`, seqno 5, kind Put (1): `61 62 | 01 05 00 00 00 00 00 00`.
//!
//! # Order
//! User key ascending (bytewise), then trailer **descending**: the newest version of a key
//! comes first, and at equal seqno a higher kind first. This is not bytewise order of the
//! encoding (a user key may be a prefix of another), so every sorted structure holding internal
//! keys uses [`compare`].
//!
//! Invariants:
//! 1. `seqno <= SEQNO_MAX` (56 bits) — asserted in [`encode`]; test `seqno_max_fits`.
//! 2. `compare` is a total order consistent with (user key asc, seqno desc, kind desc) —
//!    property test `order_matches_tuple_order`.

use std::cmp::Ordering;

/// Sequence number: orders every write in an engine. 0 is "before every write" (and the
/// sequence number ingested files are written with); it rises by one per operation in a batch.
pub type SeqNo = u64;

/// Largest sequence number (56 bits, so that seqno and kind fit in one u64 trailer).
pub const SEQNO_MAX: SeqNo = (1 << 56) - 1;

/// Bytes of the trailer appended to a user key.
pub const TRAILER_BYTES: usize = 8;

/// What an entry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ValueKind {
    /// Point tombstone: the key has no value at this seqno.
    Delete = 0,
    /// The key has the entry's value.
    Put = 1,
    /// Range tombstone: keys in `[user key, value)` written before this seqno are deleted.
    /// Stored only in range-deletion structures (memtable list, SST range-del block).
    RangeDelete = 2,
}

impl ValueKind {
    /// Largest kind byte; seek keys use it so they sort before every entry of their seqno.
    pub const SEEK: u8 = 0xff;

    pub fn from_u8(b: u8) -> Option<ValueKind> {
        match b {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Put),
            2 => Some(ValueKind::RangeDelete),
            _ => None,
        }
    }
}

/// Packs seqno and kind into a trailer.
pub fn trailer(seqno: SeqNo, kind: u8) -> u64 {
    assert!(seqno <= SEQNO_MAX, "seqno {seqno} exceeds SEQNO_MAX");
    (seqno << 8) | u64::from(kind)
}

/// Appends the internal key for `(user_key, seqno, kind)` to `out`.
pub fn encode_into(out: &mut Vec<u8>, user_key: &[u8], seqno: SeqNo, kind: u8) {
    out.extend_from_slice(user_key);
    out.extend_from_slice(&trailer(seqno, kind).to_le_bytes());
}

/// The internal key for `(user_key, seqno, kind)`.
pub fn encode(user_key: &[u8], seqno: SeqNo, kind: ValueKind) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_BYTES);
    encode_into(&mut out, user_key, seqno, kind as u8);
    out
}

/// The smallest internal key of `user_key` visible at `snapshot`: seeking to it lands on the
/// newest version with seqno <= snapshot.
pub fn seek_key(user_key: &[u8], snapshot: SeqNo) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_BYTES);
    encode_into(&mut out, user_key, snapshot, ValueKind::SEEK);
    out
}

/// The user-key part. An internal key shorter than a trailer (never produced by this crate)
/// yields an empty user key; decoders validate lengths with [`ParsedKey::parse`].
pub fn user_key(ikey: &[u8]) -> &[u8] {
    ikey.get(..ikey.len().saturating_sub(TRAILER_BYTES))
        .unwrap_or(&[])
}

/// The trailer part (0 if the key is too short; see [`user_key`]).
pub fn trailer_of(ikey: &[u8]) -> u64 {
    let start = ikey.len().saturating_sub(TRAILER_BYTES);
    match ikey.get(start..) {
        Some(t) if t.len() == TRAILER_BYTES => {
            let mut a = [0u8; TRAILER_BYTES];
            a.copy_from_slice(t);
            u64::from_le_bytes(a)
        }
        _ => 0,
    }
}

/// Sequence number of an internal key.
pub fn seqno_of(ikey: &[u8]) -> SeqNo {
    trailer_of(ikey) >> 8
}

/// Kind byte of an internal key.
pub fn kind_of(ikey: &[u8]) -> u8 {
    (trailer_of(ikey) & 0xff) as u8
}

/// A decoded internal key that borrows its user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    pub user_key: &'a [u8],
    pub seqno: SeqNo,
    pub kind: ValueKind,
}

impl<'a> ParsedKey<'a> {
    /// Parses untrusted bytes; `None` if too short or the kind byte is unknown.
    pub fn parse(ikey: &'a [u8]) -> Option<ParsedKey<'a>> {
        if ikey.len() < TRAILER_BYTES {
            return None;
        }
        let t = trailer_of(ikey);
        let kind = ValueKind::from_u8((t & 0xff) as u8)?;
        Some(ParsedKey {
            user_key: user_key(ikey),
            seqno: t >> 8,
            kind,
        })
    }
}

/// Internal-key order: user key ascending, then trailer descending.
pub fn compare(a: &[u8], b: &[u8]) -> Ordering {
    match user_key(a).cmp(user_key(b)) {
        Ordering::Equal => trailer_of(b).cmp(&trailer_of(a)),
        o => o,
    }
}

/// An owned internal key ordered by [`compare`] (for ordered containers such as the memtable).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InternalKey(pub Vec<u8>);

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example() {
        let k = encode(b"ab", 5, ValueKind::Put);
        assert_eq!(k, vec![0x61, 0x62, 0x01, 0x05, 0, 0, 0, 0, 0, 0]);
        let p = ParsedKey::parse(&k);
        assert_eq!(
            p,
            Some(ParsedKey {
                user_key: b"ab",
                seqno: 5,
                kind: ValueKind::Put
            })
        );
    }

    #[test]
    fn seqno_max_fits() {
        let k = encode(b"k", SEQNO_MAX, ValueKind::Put);
        assert_eq!(seqno_of(&k), SEQNO_MAX);
    }

    #[test]
    #[should_panic(expected = "exceeds SEQNO_MAX")]
    fn seqno_above_max_is_refused() {
        let _ = trailer(SEQNO_MAX + 1, 1);
    }

    #[test]
    fn prefix_user_key_sorts_first_whatever_the_trailer() {
        let a = encode(b"a", 1, ValueKind::Put);
        let ab = encode(b"ab", SEQNO_MAX, ValueKind::Put);
        assert_eq!(compare(&a, &ab), Ordering::Less);
    }

    #[test]
    fn seek_key_lands_on_newest_visible_version() {
        let v7 = encode(b"k", 7, ValueKind::Put);
        let v5 = encode(b"k", 5, ValueKind::Delete);
        let seek6 = seek_key(b"k", 6);
        assert_eq!(compare(&v7, &seek6), Ordering::Less);
        assert_eq!(compare(&seek6, &v5), Ordering::Less);
        let seek5 = seek_key(b"k", 5);
        assert_eq!(compare(&seek5, &v5), Ordering::Less);
    }

    proptest! {
        #[test]
        fn order_matches_tuple_order(
            a in proptest::collection::vec(0u8..4, 0..4), sa in 0u64..100, ka in 0u8..3,
            b in proptest::collection::vec(0u8..4, 0..4), sb in 0u64..100, kb in 0u8..3,
        ) {
            let ea = { let mut v = Vec::new(); encode_into(&mut v, &a, sa, ka); v };
            let eb = { let mut v = Vec::new(); encode_into(&mut v, &b, sb, kb); v };
            let expected = a.cmp(&b).then(sb.cmp(&sa)).then(kb.cmp(&ka));
            prop_assert_eq!(compare(&ea, &eb), expected);
        }
    }
}

//! How MVCC versions and intents are laid out in the storage engine's key space.
//!
//! Role: every read and write of the MVCC layer encodes and decodes through this module; the
//! compaction filter (GC) decodes keys here too. Mirror: `docs/format/mvcc.md`.
//!
//! Format. An engine key is the user key, escaped so that the encoding preserves order and no
//! encoded key is a prefix of another, then a terminator, then a 12-byte suffix:
//!
//! ```text
//! +----------------------------+---------+-------------------------------------------+
//! | escape(user_key)           | 00 01   | suffix: 12 bytes                          |
//! | each 00 byte -> 00 FF      | (term.) | version: !wall_nanos u64 BE, !logical u32 BE |
//! |                            |         | intent:  00 x 12 (the slot of ts = MAX)    |
//! +----------------------------+---------+-------------------------------------------+
//! ```
//!
//! The bitwise NOT makes newer versions sort first, and the intent slot (the inverted form of
//! the reserved `Timestamp::MAX`) sorts before every version of its key. All entries of one
//! user key share the prefix `escape(user_key) 00 01`, and prefixes sort as user keys do.
//!
//! Values. A version's value starts with a tag byte: `01` then the user value, or `00` alone
//! for a tombstone (a deletion at that timestamp). An intent's value is:
//!
//! ```text
//! 02 | format u8 = 1 | txn_id 16 B BE | write_ts 12 B | record_key_len varint | record_key
//!    | 00 (tombstone), or 01 | value_len varint | user value
//! ```
//!
//! `record_key` is the user key where the transaction's record lives (its anchor), so that a
//! reader meeting the intent knows where to ask whether the transaction committed.
//!
//! Worked example: user key `61 00` ("a\0") at timestamp (wall 1, logical 2) with value `78`:
//! key `61 00 FF 00 01 FF FF FF FF FF FF FF FE FF FF FF FD`, value `01 78`.
//!
//! Invariants:
//! 1. `encode` then `decode` returns the user key and suffix (`roundtrip_and_order` proptest).
//! 2. Encoded keys sort by (user key ascending, timestamp descending), intent first
//!    (`roundtrip_and_order`).
//! 3. Decoding bytes that are not a valid encoding is an error, never a panic
//!    (`decode_rejects_malformed_keys`).

use cairn_codec::{varint, Decoder};
use cairn_types::{Timestamp, TxnId};

/// Bytes of the terminator plus the suffix.
const TAIL_BYTES: usize = 2 + SUFFIX_BYTES;
/// Bytes of the timestamp suffix.
pub const SUFFIX_BYTES: usize = Timestamp::ENCODED_BYTES;
/// The same, as the storage engine's `bloom_strip_suffix_bytes` wants it.
pub const SUFFIX_BYTES_U32: u32 = 12;
const _: () = assert!(SUFFIX_BYTES_U32 as usize == SUFFIX_BYTES);
const INTENT_SUFFIX: [u8; SUFFIX_BYTES] = [0; SUFFIX_BYTES];

const TAG_TOMBSTONE: u8 = 0x00;
const TAG_VALUE: u8 = 0x01;
const TAG_INTENT: u8 = 0x02;
const INTENT_FORMAT: u8 = 1;

/// What an engine key names: a committed version at a timestamp, or a key's intent slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Intent,
    Version(Timestamp),
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("mvcc key has no terminator or a bad escape")]
    BadKey,
    #[error("mvcc value has an unknown tag {0:#04x}")]
    BadValueTag(u8),
    #[error("mvcc intent is truncated or has an unknown format")]
    BadIntent,
}

/// Appends `escape(user_key) 00 01` to `out`: the prefix shared by all entries of `user_key`.
pub fn encode_prefix_into(out: &mut Vec<u8>, user_key: &[u8]) {
    out.reserve(user_key.len() + TAIL_BYTES + 2);
    for &b in user_key {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

pub fn prefix(user_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_prefix_into(&mut out, user_key);
    out
}

fn suffix(slot: Slot) -> [u8; SUFFIX_BYTES] {
    match slot {
        Slot::Intent => INTENT_SUFFIX,
        Slot::Version(ts) => {
            let mut b = ts.to_bytes();
            for x in b.iter_mut() {
                *x = !*x;
            }
            b
        }
    }
}

/// The engine key of `slot` of `user_key`.
pub fn encode(user_key: &[u8], slot: Slot) -> Vec<u8> {
    let mut out = Vec::new();
    encode_prefix_into(&mut out, user_key);
    out.extend_from_slice(&suffix(slot));
    out
}

/// The engine key of a version, built on an already encoded prefix.
pub fn with_prefix(prefix: &[u8], slot: Slot) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + SUFFIX_BYTES);
    out.extend_from_slice(prefix);
    out.extend_from_slice(&suffix(slot));
    out
}

/// The smallest engine key greater than every entry whose prefix is `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + SUFFIX_BYTES + 1);
    out.extend_from_slice(prefix);
    out.extend_from_slice(&[0xFF; SUFFIX_BYTES]);
    out.push(0x00);
    out
}

/// Splits an engine key into its prefix (`escape(user_key) 00 01`) and its slot.
pub fn split(engine_key: &[u8]) -> Result<(&[u8], Slot), FormatError> {
    let cut = engine_key
        .len()
        .checked_sub(SUFFIX_BYTES)
        .ok_or(FormatError::BadKey)?;
    let (prefix, sfx) = engine_key.split_at(cut);
    if !prefix.ends_with(&[0x00, 0x01]) {
        return Err(FormatError::BadKey);
    }
    let slot = if sfx == INTENT_SUFFIX {
        Slot::Intent
    } else {
        let mut b = [0u8; SUFFIX_BYTES];
        for (d, s) in b.iter_mut().zip(sfx) {
            *d = !*s;
        }
        Slot::Version(Timestamp::from_bytes(&b).ok_or(FormatError::BadKey)?)
    };
    Ok((prefix, slot))
}

/// Decodes a prefix (`escape(user_key) 00 01`) back into the user key.
///
/// Copies the runs between escapes whole (every scanned row's key passes through here, and
/// most keys have few zero bytes).
pub fn decode_prefix(prefix: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(prefix.len());
    let mut rest = prefix;
    loop {
        let zero = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(FormatError::BadKey)?;
        let (run, tail) = rest.split_at(zero);
        out.extend_from_slice(run);
        match tail {
            [0, 0xFF, after @ ..] => {
                out.push(0);
                rest = after;
            }
            [0, 0x01] => return Ok(out),
            _ => return Err(FormatError::BadKey),
        }
    }
}

/// Decodes a whole engine key into (user key, slot).
pub fn decode(engine_key: &[u8]) -> Result<(Vec<u8>, Slot), FormatError> {
    let (p, slot) = split(engine_key)?;
    Ok((decode_prefix(p)?, slot))
}

/// Encodes a committed version's value: `Some(v)` is a value, `None` a tombstone.
pub fn encode_version_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        Some(v) => {
            let mut out = Vec::with_capacity(v.len() + 1);
            out.push(TAG_VALUE);
            out.extend_from_slice(v);
            out
        }
        None => vec![TAG_TOMBSTONE],
    }
}

/// Decodes a committed version's value: `Ok(None)` is a tombstone.
pub fn decode_version_value(bytes: &[u8]) -> Result<Option<&[u8]>, FormatError> {
    match bytes.split_first() {
        Some((&TAG_VALUE, rest)) => Ok(Some(rest)),
        Some((&TAG_TOMBSTONE, [])) => Ok(None),
        Some((&tag, _)) => Err(FormatError::BadValueTag(tag)),
        None => Err(FormatError::BadValueTag(0xFF)),
    }
}

/// An intent: a provisional version written by a transaction that has not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub txn_id: TxnId,
    /// The timestamp the version will have if the transaction commits at its current timestamp.
    pub write_ts: Timestamp,
    /// The user key of the transaction's record.
    pub record_key: Vec<u8>,
    /// The provisional write: `None` is a deletion.
    pub value: Option<Vec<u8>>,
}

impl Intent {
    pub fn encode(&self) -> Vec<u8> {
        let value_len = self.value.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(2 + 16 + 12 + 10 + self.record_key.len() + 1 + value_len);
        out.push(TAG_INTENT);
        out.push(INTENT_FORMAT);
        out.extend_from_slice(&self.txn_id.to_bytes());
        out.extend_from_slice(&self.write_ts.to_bytes());
        varint::put_len_prefixed(&mut out, &self.record_key);
        match &self.value {
            Some(v) => {
                out.push(TAG_VALUE);
                varint::put_len_prefixed(&mut out, v);
            }
            None => out.push(TAG_TOMBSTONE),
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Intent, FormatError> {
        let bad = |_| FormatError::BadIntent;
        let mut d = Decoder::new(bytes);
        if d.u8("intent tag").map_err(bad)? != TAG_INTENT
            || d.u8("intent format").map_err(bad)? != INTENT_FORMAT
        {
            return Err(FormatError::BadIntent);
        }
        let txn_id = TxnId::from_bytes(d.bytes(16, "intent txn id").map_err(bad)?)
            .ok_or(FormatError::BadIntent)?;
        let write_ts = Timestamp::from_bytes(d.bytes(12, "intent write ts").map_err(bad)?)
            .ok_or(FormatError::BadIntent)?;
        let record_key = d.len_prefixed("intent record key").map_err(bad)?.to_vec();
        let value = match d.u8("intent value tag").map_err(bad)? {
            TAG_VALUE => Some(d.len_prefixed("intent value").map_err(bad)?.to_vec()),
            TAG_TOMBSTONE => None,
            _ => return Err(FormatError::BadIntent),
        };
        if !d.is_empty() {
            return Err(FormatError::BadIntent);
        }
        Ok(Intent {
            txn_id,
            write_ts,
            record_key,
            value,
        })
    }
}

/// True when an engine value is an intent (as opposed to a committed version).
pub fn is_intent_value(bytes: &[u8]) -> bool {
    bytes.first() == Some(&TAG_INTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example_matches_the_format_doc() {
        let k = encode(b"a\0", Slot::Version(Timestamp::new(1, 2)));
        assert_eq!(
            k,
            [
                0x61, 0x00, 0xFF, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF,
                0xFF, 0xFF, 0xFD
            ]
        );
        assert_eq!(encode_version_value(Some(b"x")), [0x01, 0x78]);
        assert_eq!(encode_version_value(None), [0x00]);
    }

    #[test]
    fn decode_rejects_malformed_keys() {
        for bad in [
            &b""[..],
            &[0u8; 11][..],
            &[0x61, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0x61, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        assert!(decode_version_value(&[]).is_err());
        assert!(decode_version_value(&[0x00, 0x01]).is_err());
        assert!(decode_version_value(&[0x07]).is_err());
        assert!(Intent::decode(&[0x02, 0x01, 0x00]).is_err());
    }

    #[test]
    fn intent_roundtrip() {
        let i = Intent {
            txn_id: TxnId(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
            write_ts: Timestamp::new(99, 3),
            record_key: b"anchor\0".to_vec(),
            value: Some(b"v".to_vec()),
        };
        let enc = i.encode();
        assert!(is_intent_value(&enc));
        assert_eq!(Intent::decode(&enc).unwrap(), i);
        let del = Intent { value: None, ..i };
        assert_eq!(Intent::decode(&del.encode()).unwrap(), del);
        // Every truncation is an error, not a panic.
        for n in 0..enc.len() {
            assert!(Intent::decode(&enc[..n]).is_err(), "prefix {n}");
        }
    }

    fn arb_slot() -> impl Strategy<Value = Slot> {
        prop_oneof![
            Just(Slot::Intent),
            (0u64..4, 0u32..3).prop_map(|(w, l)| Slot::Version(Timestamp::new(w, l))),
            (any::<u64>(), any::<u32>()).prop_map(|(w, l)| Slot::Version(Timestamp::new(w, l))),
        ]
        .prop_filter("MAX is the intent slot", |s| {
            *s != Slot::Version(Timestamp::MAX)
        })
    }

    fn order_key(k: &[u8], s: Slot) -> (Vec<u8>, u8, std::cmp::Reverse<Timestamp>) {
        match s {
            Slot::Intent => (k.to_vec(), 0, std::cmp::Reverse(Timestamp::MAX)),
            Slot::Version(t) => (k.to_vec(), 1, std::cmp::Reverse(t)),
        }
    }

    proptest! {
        #[test]
        fn roundtrip_and_order(
            a in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xFFu8), any::<u8>()], 0..6),
            b in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xFFu8), any::<u8>()], 0..6),
            sa in arb_slot(), sb in arb_slot(),
        ) {
            let ea = encode(&a, sa);
            let eb = encode(&b, sb);
            prop_assert_eq!(decode(&ea).unwrap(), (a.clone(), sa));
            prop_assert_eq!(ea.cmp(&eb), order_key(&a, sa).cmp(&order_key(&b, sb)));
            // Every entry of a key lies in [prefix, prefix_end).
            let p = prefix(&a);
            prop_assert!(ea >= p && ea < prefix_end(&p));
            prop_assert!(ea.starts_with(&p));
        }
    }
}

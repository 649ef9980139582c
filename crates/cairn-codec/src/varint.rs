//! LEB128 unsigned varints: 7 bits per byte, least significant group first, high bit set on
//! every byte but the last. A u32 takes 1..=5 bytes, a u64 1..=10.
//!
//! Example: 300 = 0b1_0010_1100 encodes as `ac 02`.
//!
//! Decoding lives in [`crate::Decoder`] (`varint_u32`, `varint_u64`), which rejects encodings
//! that are too long or overflow the type.

/// Appends the varint encoding of `v` to `out`.
#[expect(
    clippy::cast_possible_truncation,
    reason = "each byte is masked to 7 bits first"
)]
pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(((v & 0x7f) as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends the varint encoding of `v` to `out`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    put_u64(out, u64::from(v));
}

/// Number of bytes [`put_u64`] writes for `v`.
pub fn len_u64(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Appends `bytes` prefixed by its length as a varint.
pub fn put_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decoder;
    use proptest::prelude::*;

    #[test]
    fn worked_example_300() {
        let mut out = Vec::new();
        put_u64(&mut out, 300);
        assert_eq!(out, vec![0xac, 0x02]);
        assert_eq!(len_u64(300), 2);
    }

    proptest! {
        #[test]
        fn u64_round_trips(v: u64) {
            let mut out = Vec::new();
            put_u64(&mut out, v);
            prop_assert_eq!(out.len(), len_u64(v));
            let mut d = Decoder::new(&out);
            prop_assert_eq!(d.varint_u64().ok(), Some(v));
            prop_assert!(d.is_empty());
        }

        #[test]
        fn u32_round_trips(v: u32) {
            let mut out = Vec::new();
            put_u32(&mut out, v);
            let mut d = Decoder::new(&out);
            prop_assert_eq!(d.varint_u32().ok(), Some(v));
        }
    }
}

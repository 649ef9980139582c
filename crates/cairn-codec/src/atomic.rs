//! Atomic operations: read-modify-write updates of a value by an operand. MVCC evaluates
//! them at commit against the newest committed value (so concurrent transactions updating one
//! counter never conflict); the replicated KV state machine evaluates them when it applies
//! them. Pure functions over bytes; they live here so both layers share one definition.
//!
//! Semantics are FoundationDB's, on little-endian byte strings (`param` is the operand):
//! - `Add`: integer addition, wrapping. The existing value is zero-extended or truncated to
//!   `param`'s length first; a missing value counts as zero.
//! - `BitOr`, `BitXor`: bitwise, with the same extension rule (missing = zeros).
//! - `BitAnd`: bitwise, same extension rule, but a missing value stores `param` itself.
//! - `Max`: the larger as little-endian unsigned integers of `param`'s length (missing = zeros).
//! - `Min`: the smaller, likewise; a missing value stores `param` itself.
//!
//! Invariant: the result always has `param`'s length (`result_has_param_length` proptest).

/// One atomic operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    Add,
    BitAnd,
    BitOr,
    BitXor,
    Max,
    Min,
}

/// `existing` resized to `len` bytes: truncated, or zero-extended at the high end.
fn fit(existing: &[u8], len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = existing.iter().copied().take(len).collect();
    v.resize(len, 0);
    v
}

/// Little-endian unsigned comparison of two equal-length byte strings.
fn cmp_le(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// The value stored after applying `op` with `param` to `existing` (`None` = no value).
pub fn apply(op: AtomicOp, existing: Option<&[u8]>, param: &[u8]) -> Vec<u8> {
    let n = param.len();
    match (op, existing) {
        (AtomicOp::BitAnd | AtomicOp::Min, None) => param.to_vec(),
        (_, existing) => {
            let mut cur = fit(existing.unwrap_or(&[]), n);
            match op {
                AtomicOp::Add => {
                    let mut carry = 0u16;
                    for (c, p) in cur.iter_mut().zip(param) {
                        let sum = u16::from(*c) + u16::from(*p) + carry;
                        *c = sum.to_le_bytes()[0];
                        carry = sum >> 8;
                    }
                }
                AtomicOp::BitAnd => cur.iter_mut().zip(param).for_each(|(c, p)| *c &= p),
                AtomicOp::BitOr => cur.iter_mut().zip(param).for_each(|(c, p)| *c |= p),
                AtomicOp::BitXor => cur.iter_mut().zip(param).for_each(|(c, p)| *c ^= p),
                AtomicOp::Max => {
                    if cmp_le(param, &cur).is_gt() {
                        cur = param.to_vec();
                    }
                }
                AtomicOp::Min => {
                    if cmp_le(param, &cur).is_lt() {
                        cur = param.to_vec();
                    }
                }
            }
            cur
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn le(v: u64, n: usize) -> Vec<u8> {
        v.to_le_bytes()[..n].to_vec()
    }

    #[test]
    fn add_wraps_and_missing_is_zero() {
        assert_eq!(apply(AtomicOp::Add, None, &le(5, 8)), le(5, 8));
        assert_eq!(apply(AtomicOp::Add, Some(&le(7, 8)), &le(5, 8)), le(12, 8));
        assert_eq!(apply(AtomicOp::Add, Some(&[0xFF, 0xFF]), &[1, 0]), [0, 0]);
        // Negative numbers in two's complement: 10 + (-3) = 7.
        let minus3 = (-3i64).to_le_bytes();
        assert_eq!(apply(AtomicOp::Add, Some(&le(10, 8)), &minus3), le(7, 8));
        // Existing longer than param is truncated; shorter is zero-extended.
        assert_eq!(apply(AtomicOp::Add, Some(&[1, 2, 3]), &[1]), [2]);
        assert_eq!(apply(AtomicOp::Add, Some(&[1]), &[1, 1]), [2, 1]);
    }

    #[test]
    fn bit_ops_follow_foundationdb() {
        assert_eq!(apply(AtomicOp::BitAnd, None, &[0x0F]), [0x0F]);
        assert_eq!(apply(AtomicOp::BitAnd, Some(&[0x3C]), &[0x0F]), [0x0C]);
        assert_eq!(apply(AtomicOp::BitOr, None, &[0x0F]), [0x0F]);
        assert_eq!(apply(AtomicOp::BitOr, Some(&[0x30]), &[0x0F]), [0x3F]);
        assert_eq!(apply(AtomicOp::BitXor, Some(&[0xFF]), &[0x0F]), [0xF0]);
    }

    #[test]
    fn max_and_min_compare_little_endian() {
        // 0x0100 (256) > 0x00FF (255), although the first bytes compare the other way.
        assert_eq!(
            apply(AtomicOp::Max, Some(&[0xFF, 0x00]), &[0x00, 0x01]),
            [0x00, 0x01]
        );
        assert_eq!(
            apply(AtomicOp::Min, Some(&[0xFF, 0x00]), &[0x00, 0x01]),
            [0xFF, 0x00]
        );
        assert_eq!(apply(AtomicOp::Max, None, &[3]), [3]);
        assert_eq!(apply(AtomicOp::Min, None, &[3]), [3]);
        assert_eq!(apply(AtomicOp::Min, Some(&[1]), &[3]), [1]);
    }

    proptest! {
        #[test]
        fn result_has_param_length(
            op in prop_oneof![Just(AtomicOp::Add), Just(AtomicOp::BitAnd), Just(AtomicOp::BitOr),
                              Just(AtomicOp::BitXor), Just(AtomicOp::Max), Just(AtomicOp::Min)],
            existing in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10)),
            param in proptest::collection::vec(any::<u8>(), 0..10),
        ) {
            prop_assert_eq!(apply(op, existing.as_deref(), &param).len(), param.len());
        }

        #[test]
        fn add_matches_u64_wrapping_add(a: u64, b: u64) {
            let r = apply(AtomicOp::Add, Some(&a.to_le_bytes()), &b.to_le_bytes());
            prop_assert_eq!(r, a.wrapping_add(b).to_le_bytes().to_vec());
        }
    }
}

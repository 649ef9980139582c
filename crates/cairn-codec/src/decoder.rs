//! A bounds-checked cursor over untrusted bytes (from disk or network).
//!
//! Invariant: no method panics, whatever the input; every failure is a [`DecodeError`] naming
//! the offset (relative to the start of the decoder's slice) and what was being read. The
//! property test `decoder_never_panics_on_arbitrary_input` enforces it.

use crate::crc;

/// Why decoding failed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decode {what} at offset {offset}: {reason}")]
pub struct DecodeError {
    /// Offset from the start of the decoded slice.
    pub offset: usize,
    /// What was being decoded ("varint", "u32", a field name).
    pub what: &'static str,
    /// Why it failed.
    pub reason: DecodeErrorReason,
}

/// The ways bytes can fail to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorReason {
    #[error("input ends early")]
    Truncated,
    #[error("varint too long or overflows")]
    BadVarint,
    #[error("value out of range")]
    OutOfRange,
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum { stored: u32, computed: u32 },
    #[error("unknown tag {0}")]
    UnknownTag(u64),
    #[error("malformed")]
    Malformed,
}

/// Cursor over a byte slice. All integers are little-endian.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }

    /// Offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// An error at the current position.
    pub fn error(&self, what: &'static str, reason: DecodeErrorReason) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what,
            reason,
        }
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.error(what, DecodeErrorReason::Truncated))?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.error(what, DecodeErrorReason::Truncated))?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16_le(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64_le(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A LEB128 varint of at most 10 bytes that fits in a u64.
    #[inline]
    pub fn varint_u64(&mut self) -> Result<u64, DecodeError> {
        // Fast path: most varints in blocks (lengths, shared prefixes) fit in one byte.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_u64_slow()
    }

    fn varint_u64_slow(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut result: u64 = 0;
        for i in 0..10u32 {
            let byte = match self.buf.get(self.pos) {
                Some(b) => *b,
                None => {
                    return Err(DecodeError {
                        offset: start,
                        what: "varint",
                        reason: DecodeErrorReason::Truncated,
                    })
                }
            };
            self.pos += 1;
            let low = u64::from(byte & 0x7f);
            // The tenth byte may only contribute the top bit of a u64.
            if i == 9 && low > 1 {
                break;
            }
            result |= low << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(result);
            }
        }
        Err(DecodeError {
            offset: start,
            what: "varint",
            reason: DecodeErrorReason::BadVarint,
        })
    }

    /// A varint that must fit in a u32.
    #[inline]
    pub fn varint_u32(&mut self) -> Result<u32, DecodeError> {
        let start = self.pos;
        let v = self.varint_u64()?;
        u32::try_from(v).map_err(|_| DecodeError {
            offset: start,
            what: "varint",
            reason: DecodeErrorReason::BadVarint,
        })
    }

    /// A varint length that must fit in `usize`.
    #[inline]
    pub fn varint_len(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let start = self.pos;
        let v = self.varint_u64()?;
        usize::try_from(v).map_err(|_| DecodeError {
            offset: start,
            what,
            reason: DecodeErrorReason::OutOfRange,
        })
    }

    /// Bytes prefixed by a varint length.
    pub fn len_prefixed(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.varint_len(what)?;
        self.bytes(n, what)
    }
}

/// Checks that the masked CRC-32C stored for `data` matches; `offset` is reported on failure.
pub fn verify_masked_crc(
    data: &[u8],
    stored_masked: u32,
    offset: usize,
    what: &'static str,
) -> Result<(), DecodeError> {
    let computed = crc::crc32c(data);
    let stored = crc::unmask(stored_masked);
    if computed == stored {
        Ok(())
    } else {
        Err(DecodeError {
            offset,
            what,
            reason: DecodeErrorReason::Checksum { stored, computed },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn truncated_read_reports_offset() {
        let mut d = Decoder::new(&[1, 2, 3]);
        assert_eq!(d.u8("a").ok(), Some(1));
        let e = d.u32_le("field").err();
        assert_eq!(
            e,
            Some(DecodeError {
                offset: 1,
                what: "field",
                reason: DecodeErrorReason::Truncated
            })
        );
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let bytes = [0xffu8; 11];
        let mut d = Decoder::new(&bytes);
        assert_eq!(
            d.varint_u64().map_err(|e| e.reason),
            Err(DecodeErrorReason::BadVarint)
        );
        // u64::MAX is exactly ten bytes and decodes.
        let mut out = Vec::new();
        crate::varint::put_u64(&mut out, u64::MAX);
        assert_eq!(Decoder::new(&out).varint_u64().ok(), Some(u64::MAX));
    }

    proptest! {
        #[test]
        fn decoder_never_panics_on_arbitrary_input(bytes: Vec<u8>) {
            let mut d = Decoder::new(&bytes);
            while !d.is_empty() {
                if d.varint_u64().is_err() { break; }
                if d.len_prefixed("x").is_err() { break; }
                let _ = d.u32_le("y");
            }
        }
    }
}

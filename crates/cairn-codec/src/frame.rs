//! Checksummed record framing, shared by the write-ahead log and the MANIFEST.
//!
//! # Format
//! ```text
//! +-----------+-----------+---------------------+
//! | len u32LE | crc u32LE | payload (len bytes) |
//! +-----------+-----------+---------------------+
//! ```
//! `crc` is the masked CRC-32C (see [`crate::crc::mask`]) of the 4 `len` bytes followed by the
//! payload, so a flipped bit in the length is caught like one in the payload. Records follow
//! each other with no padding. Example: the payload `61 62` ("ab") frames as
//! `02 00 00 00 | <crc of 02 00 00 00 61 62, masked, LE> | 61 62`.
//!
//! # Reading
//! [`FrameReader`] walks a buffer and classifies how it ends:
//! - [`FrameEnd::Clean`]: the last record ends exactly at the end of the buffer;
//! - [`FrameEnd::TornTail`]: the last record is incomplete (its header or payload runs past the
//!   end), its checksum fails and it reaches exactly to the end, or only zero bytes remain —
//!   the signature of a write interrupted by a crash. Everything before `offset` is good;
//! - corruption ([`FrameError`]): a record whose checksum fails with more data after it. A
//!   crash cannot produce that (writes are appended), so it is reported, never skipped.
//!
//! Invariant: no input makes the reader panic (property test `reader_never_panics`).

use crate::crc;

/// Bytes of the `[len][crc]` header.
pub const HEADER_BYTES: usize = 8;

/// Largest payload a frame may carry (1 GiB); a larger length field is treated as damage.
pub const PAYLOAD_BYTES_MAX: u32 = 1 << 30;

/// Appends one framed record holding `payload` to `out`.
///
/// # Panics
/// If `payload` is longer than [`PAYLOAD_BYTES_MAX`]: callers bound their records well below.
pub fn encode(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| *l <= PAYLOAD_BYTES_MAX);
    let len = match len {
        Some(l) => l,
        None => panic!(
            "frame payload of {} bytes exceeds the maximum",
            payload.len()
        ),
    };
    let len_bytes = len.to_le_bytes();
    let checksum = crc::mask(crc::crc32c_parts(&[&len_bytes, payload]));
    out.extend_from_slice(&len_bytes);
    out.extend_from_slice(&checksum.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Total framed size of a payload of `payload_len` bytes.
pub fn framed_len(payload_len: usize) -> usize {
    HEADER_BYTES + payload_len
}

/// How a framed buffer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameEnd {
    /// Every byte belonged to a complete, valid record.
    Clean,
    /// The buffer ends in an incomplete or torn record starting at `offset`; `bytes` were dropped.
    TornTail { offset: u64, bytes: u64 },
}

/// A damaged record that is not at the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("framed record at offset {offset}: {reason}")]
pub struct FrameError {
    /// Offset of the damaged record's header.
    pub offset: u64,
    pub reason: FrameErrorReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameErrorReason {
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum { stored: u32, computed: u32 },
    #[error("length {0} exceeds the maximum")]
    LengthTooLarge(u32),
}

/// Iterates the records of a framed buffer. `base_offset` is added to every reported offset
/// (the buffer's position in its file).
#[derive(Debug)]
pub struct FrameReader<'a> {
    buf: &'a [u8],
    pos: usize,
    base_offset: u64,
    end: Option<FrameEnd>,
}

impl<'a> FrameReader<'a> {
    pub fn new(buf: &'a [u8], base_offset: u64) -> Self {
        FrameReader {
            buf,
            pos: 0,
            base_offset,
            end: None,
        }
    }

    /// How the buffer ended; `None` until iteration has returned `None`.
    pub fn end(&self) -> Option<FrameEnd> {
        self.end
    }

    /// Offset (in the file) just past the last good record returned so far.
    pub fn good_offset(&self) -> u64 {
        self.base_offset + self.pos as u64
    }

    fn torn(&mut self) -> Option<Result<(u64, &'a [u8]), FrameError>> {
        let rest = self.buf.len().saturating_sub(self.pos);
        self.end = Some(FrameEnd::TornTail {
            offset: self.good_offset(),
            bytes: rest as u64,
        });
        None
    }

    /// The next record as `(offset of its header, payload)`; `None` at the end (see [`Self::end`]).
    #[expect(
        clippy::should_implement_trait,
        reason = "fallible, borrowing cursor; not an Iterator"
    )]
    pub fn next(&mut self) -> Option<Result<(u64, &'a [u8]), FrameError>> {
        if self.end.is_some() {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            self.end = Some(FrameEnd::Clean);
            return None;
        }
        if rest.iter().all(|b| *b == 0) {
            // Zero fill past the last record: space the file system allocated but a crash kept
            // from being written.
            return self.torn();
        }
        let (Some(len_bytes), Some(crc_bytes)) = (rest.get(0..4), rest.get(4..8)) else {
            return self.torn();
        };
        let mut len_arr = [0u8; 4];
        len_arr.copy_from_slice(len_bytes);
        let mut crc_arr = [0u8; 4];
        crc_arr.copy_from_slice(crc_bytes);
        let len = u32::from_le_bytes(len_arr);
        let stored = crc::unmask(u32::from_le_bytes(crc_arr));
        let offset = self.good_offset();
        if len > PAYLOAD_BYTES_MAX {
            // A length this large can only be damage. At the tail it is a torn write of the
            // header; before the tail we cannot tell where the next record starts, so it is
            // corruption.
            self.end = Some(FrameEnd::TornTail {
                offset,
                bytes: rest.len() as u64,
            });
            return Some(Err(FrameError {
                offset,
                reason: FrameErrorReason::LengthTooLarge(len),
            }));
        }
        let payload_end = HEADER_BYTES + len as usize;
        let Some(payload) = rest.get(HEADER_BYTES..payload_end) else {
            return self.torn();
        };
        let computed = crc::crc32c_parts(&[&len_arr, payload]);
        if computed != stored {
            if payload_end == rest.len() {
                return self.torn();
            }
            self.end = Some(FrameEnd::TornTail {
                offset,
                bytes: rest.len() as u64,
            });
            return Some(Err(FrameError {
                offset,
                reason: FrameErrorReason::Checksum { stored, computed },
            }));
        }
        self.pos += payload_end;
        Some(Ok((offset, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode(&mut out, p);
        }
        out
    }

    fn read_all(buf: &[u8]) -> (Vec<Vec<u8>>, Option<FrameEnd>, Option<FrameError>) {
        let mut r = FrameReader::new(buf, 0);
        let mut out = Vec::new();
        let mut err = None;
        while let Some(rec) = r.next() {
            match rec {
                Ok((_, p)) => out.push(p.to_vec()),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        (out, r.end(), err)
    }

    #[test]
    fn clean_buffer_reads_every_record() {
        let buf = frames(&[b"ab", b"", b"hello"]);
        let (recs, end, err) = read_all(&buf);
        assert_eq!(recs, vec![b"ab".to_vec(), vec![], b"hello".to_vec()]);
        assert_eq!(end, Some(FrameEnd::Clean));
        assert_eq!(err, None);
    }

    #[test]
    fn truncated_last_record_is_a_torn_tail() {
        let buf = frames(&[b"first", b"second"]);
        for cut in 1..(framed_len(6)) {
            let (recs, end, err) = read_all(&buf[..buf.len() - cut]);
            assert_eq!(recs, vec![b"first".to_vec()], "cut {cut}");
            assert_eq!(
                end,
                Some(FrameEnd::TornTail {
                    offset: 13,
                    bytes: (14 - cut) as u64
                })
            );
            assert_eq!(err, None);
        }
    }

    #[test]
    fn bad_checksum_in_last_record_is_a_torn_tail() {
        let mut buf = frames(&[b"first", b"second"]);
        let last = buf.len() - 1;
        buf[last] ^= 0x01;
        let (recs, end, err) = read_all(&buf);
        assert_eq!(recs.len(), 1);
        assert!(matches!(end, Some(FrameEnd::TornTail { offset: 13, .. })));
        assert_eq!(err, None);
    }

    #[test]
    fn bad_checksum_before_the_tail_is_corruption() {
        let mut buf = frames(&[b"first", b"second"]);
        buf[9] ^= 0x40; // inside the first payload
        let (recs, _, err) = read_all(&buf);
        assert!(recs.is_empty());
        let err = err.map(|e| {
            (
                e.offset,
                matches!(e.reason, FrameErrorReason::Checksum { .. }),
            )
        });
        assert_eq!(err, Some((0, true)));
    }

    #[test]
    fn flipped_length_bit_is_detected() {
        let mut buf = frames(&[b"first", b"second", b"third"]);
        buf[0] ^= 0x01; // len 5 -> 4: the checksum covers the length
        let (recs, _, err) = read_all(&buf);
        assert!(recs.is_empty());
        assert!(err.is_some());
    }

    #[test]
    fn trailing_zeros_are_a_torn_tail() {
        let mut buf = frames(&[b"x"]);
        buf.extend_from_slice(&[0u8; 100]);
        let (recs, end, err) = read_all(&buf);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            end,
            Some(FrameEnd::TornTail {
                offset: 9,
                bytes: 100
            })
        );
        assert_eq!(err, None);
    }

    proptest! {
        #[test]
        fn reader_never_panics(bytes: Vec<u8>) {
            let _ = read_all(&bytes);
        }

        #[test]
        fn round_trip(payloads: Vec<Vec<u8>>) {
            let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_slice()).collect();
            let buf = frames(&refs);
            let (recs, end, err) = read_all(&buf);
            prop_assert_eq!(recs, payloads);
            prop_assert_eq!(end, Some(FrameEnd::Clean));
            prop_assert_eq!(err, None);
        }
    }
}

//! cairn-codec: the byte-level encodings every persisted or wire format in Cairn shares.
//!
//! Layer 1 (depends on nothing of ours). It owns:
//! - [`varint`]: LEB128 unsigned varints (u32, u64);
//! - [`Decoder`]: a cursor over untrusted bytes whose every read is bounds-checked and returns
//!   a [`DecodeError`] carrying the offset where decoding failed — never a panic;
//! - [`crc`]: CRC-32C and the masking applied to checksums stored next to the data they cover;
//! - [`atomic`]: FoundationDB-style atomic operations on little-endian byte strings;
//! - [`frame`]: the checksummed record framing `[len u32][crc u32][payload]` used by the
//!   write-ahead log and the MANIFEST.
//!
//! It does not know what the payloads mean. Pure functions; no I/O; no state.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )
)]

pub mod atomic;
pub mod crc;
pub mod frame;
pub mod keycode;
pub mod varint;

mod decoder;
pub use decoder::{verify_masked_crc, DecodeError, DecodeErrorReason, Decoder};

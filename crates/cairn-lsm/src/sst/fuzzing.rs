//! Entry points for the fuzz targets `sst_block` and `sst_footer_index` (and the property
//! tests that share them). Not part of the engine's API: each function feeds untrusted bytes
//! to a decoder, drives every read path over the result, and must return without panicking
//! whatever the input.
//!
//! Checksums stop random bytes early, so besides raw images these helpers also build inputs
//! whose checksums are valid around fuzzer-chosen contents ([`stored_block`],
//! [`table_from_parts`]); that lets the fuzzer reach the decoders behind the checksums.

use std::path::PathBuf;
use std::sync::Arc;

use super::block::{Block, BlockIter, KeyCheck, Target};
use super::format::{decompress, trailer_bytes, BlockHandle, Footer};
use super::table::Table;
use crate::ikey::{self, SeqNo, ValueKind};
use crate::iter::InternalIterator;

/// Most cursor steps one call takes, so a fuzz iteration stays fast.
const STEPS_MAX: usize = 10_000;

/// Decodes `bytes` as uncompressed block contents and walks it with each key check.
pub fn block(bytes: &[u8]) {
    for check in [KeyCheck::Point, KeyCheck::RangeDel, KeyCheck::Any] {
        for global_seqno in [0, 7] {
            block_contents(bytes, check, global_seqno);
        }
    }
}

/// The first byte is a compression type, the rest a stored block: decompress, then [`block`].
pub fn stored_block(bytes: &[u8]) {
    let Some((&compression_type, stored)) = bytes.split_first() else {
        return;
    };
    let raw = if compression_type == 0 {
        stored.to_vec()
    } else {
        match decompress(compression_type, stored) {
            Ok(raw) => raw,
            Err(_) => return,
        }
    };
    block(&raw);
}

/// Walks one block forward, backward and by seeks derived from its own keys.
pub(crate) fn block_contents(bytes: &[u8], check: KeyCheck, global_seqno: SeqNo) {
    let Ok(block) = Block::new(bytes.to_vec(), 0, false) else {
        return;
    };
    let mut it = BlockIter::new(Arc::new(block), check, global_seqno);
    let mut keys: Vec<Vec<u8>> = Vec::new();
    if it.seek_to_first().is_ok() {
        let mut steps = 0;
        while it.valid() && steps < STEPS_MAX {
            if keys.len() < 64 {
                keys.push(it.key().to_vec());
            }
            let _ = it.value();
            if it.next().is_err() {
                break;
            }
            steps += 1;
        }
    }
    if it.seek_to_last().is_ok() {
        let mut steps = 0;
        while it.valid() && steps < STEPS_MAX {
            if it.prev().is_err() {
                break;
            }
            steps += 1;
        }
    }
    keys.push(bytes.get(..bytes.len().min(12)).unwrap_or(&[]).to_vec());
    for k in &keys {
        let t = Target::from_ikey(k);
        let _ = it.seek(&t);
        let _ = it.seek_for_prev(&t);
        if it.valid() {
            let _ = it.prev();
            let _ = it.next();
        }
    }
}

/// Opens `bytes` as a whole table file and exercises every read path.
pub fn table_image(bytes: &[u8]) {
    for global_seqno in [0, 9] {
        if let Ok(t) = Table::open_in_memory(bytes.to_vec(), PathBuf::from("<fuzz>"), global_seqno)
        {
            exercise_table(&t);
        }
    }
}

/// Builds a table image with valid checksums around fuzzer-chosen block contents and opens
/// it. Input: five parts, each `| len u16 LE | bytes |` (data block, range-del, filter,
/// properties, index), then the data block's compression type byte.
pub fn table_from_parts(bytes: &[u8]) {
    let mut rest = bytes;
    let mut parts: Vec<&[u8]> = Vec::with_capacity(5);
    for _ in 0..5 {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let len = usize::from(u16::from_le_bytes(*len));
        let Some((part, tail)) = tail.split_at_checked(len.min(tail.len())) else {
            return;
        };
        parts.push(part);
        rest = tail;
    }
    let data_type = rest.first().copied().unwrap_or(0);
    let mut image: Vec<u8> = Vec::new();
    let mut handles = [BlockHandle::default(); 5];
    for (i, part) in parts.iter().enumerate() {
        let t = if i == 0 { data_type } else { 0 };
        if let Some(h) = handles.get_mut(i) {
            *h = BlockHandle {
                offset: image.len() as u64,
                size: part.len() as u64,
            };
        }
        image.extend_from_slice(part);
        image.extend_from_slice(&trailer_bytes(part, t));
    }
    let [_, range_del, filter, properties, index] = handles;
    image.extend_from_slice(
        &Footer {
            range_del,
            filter,
            properties,
            index,
        }
        .encode(),
    );
    table_image(&image);
}

fn exercise_table(t: &Arc<Table>) {
    let _ = t.verify();
    let _ = t.range_tombstones();
    let mut it = t.iter();
    let mut user_keys: Vec<Vec<u8>> = Vec::new();
    if it.seek_to_first().is_ok() {
        let mut steps = 0;
        while it.valid() && steps < STEPS_MAX {
            if user_keys.len() < 32 {
                user_keys.push(ikey::user_key(it.key()).to_vec());
            }
            if it.next().is_err() {
                break;
            }
            steps += 1;
        }
    }
    if it.seek_to_last().is_ok() {
        let mut steps = 0;
        while it.valid() && steps < STEPS_MAX {
            if it.prev().is_err() {
                break;
            }
            steps += 1;
        }
    }
    user_keys.push(b"k".to_vec());
    for uk in &user_keys {
        let _ = t.get(uk, ikey::SEQNO_MAX);
        let _ = t.get(uk, 1);
        let target = ikey::encode(uk, 5, ValueKind::Put);
        let _ = it.seek(&target);
        let _ = it.seek_for_prev(&target);
    }
}

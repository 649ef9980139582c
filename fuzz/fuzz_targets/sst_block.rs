//! Fuzz target: SSTable block decoding.
//!
//! The input is decoded twice: as uncompressed block contents (restart array, prefix-compressed
//! entries) walked forward, backward and by seeks; and as `compression type byte ++ stored
//! block` through decompression first. Neither may panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cairn_lsm::sst::fuzzing::block(data);
    cairn_lsm::sst::fuzzing::stored_block(data);
});

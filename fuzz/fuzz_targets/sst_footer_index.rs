//! Fuzz target: opening an SSTable image (footer, index, filter, properties, range-deletion
//! blocks) and reading it (gets, iteration both ways, seeks, verify).
//!
//! The input is used twice: as a raw file image, and as five length-prefixed block contents
//! that the harness wraps in valid trailers and a valid footer, so that the fuzzer also
//! reaches the decoders behind the checksums. Neither may panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cairn_lsm::sst::fuzzing::table_image(data);
    cairn_lsm::sst::fuzzing::table_from_parts(data);
});

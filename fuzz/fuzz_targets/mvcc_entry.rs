//! Feeds arbitrary bytes to the MVCC layer's decoders of engine keys and values
//! (`cairn_mvcc::key`): the keys and values every MVCC read and the GC filter decode.
//!
//! Checks, beyond "never panics":
//! - a key that decodes re-encodes to exactly the input (one encoding per user key and slot);
//! - a version value that decodes re-encodes to exactly the input;
//! - an intent that decodes re-encodes to bytes that decode to the same intent (its length
//!   varints may have been written with redundant continuation bytes, which the shared
//!   decoder accepts).
#![no_main]

use cairn_mvcc::key::{self, Intent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((user_key, slot)) = key::decode(data) {
        assert_eq!(key::encode(&user_key, slot), data, "key re-encodes to the input");
    }
    if let Ok(value) = key::decode_version_value(data) {
        assert_eq!(key::encode_version_value(value), data);
    }
    if let Ok(intent) = Intent::decode(data) {
        let again = Intent::decode(&intent.encode()).expect("a re-encoded intent decodes");
        assert_eq!(again, intent, "intent survives a re-encoding");
    }
});

//! Feeds arbitrary bytes to the MANIFEST decoders: `ManifestEdit::decode` on the raw input
//! and `replay_manifest_bytes` on the same input read as a framed MANIFEST.
//!
//! Checks, beyond "never panics":
//! - an edit that decodes re-encodes to bytes that decode to the same edit;
//! - every edit replay returns round-trips the same way, and replay fails only with a
//!   corruption report.
#![no_main]

use std::path::Path;

use cairn_lsm::manifest::{replay_manifest_bytes, ManifestEdit};
use cairn_lsm::Error;
use libfuzzer_sys::fuzz_target;

fn assert_round_trips(edit: &ManifestEdit) {
    let mut bytes = Vec::new();
    edit.encode(&mut bytes);
    assert_eq!(ManifestEdit::decode(&bytes).as_ref(), Ok(edit));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(edit) = ManifestEdit::decode(data) {
        assert_round_trips(&edit);
    }
    let mut edits = 0u64;
    let result = replay_manifest_bytes(Path::new("MANIFEST-fuzz"), data, |edit| {
        assert_round_trips(&edit);
        edits += 1;
        Ok(())
    });
    match result {
        Ok(n) => assert_eq!(n, edits),
        Err(Error::Corruption { offset, .. }) => {
            assert!(offset < data.len() as u64, "corruption offset lies inside the input")
        }
        Err(other) => panic!("replay over bytes can only fail with corruption: {other}"),
    }
});

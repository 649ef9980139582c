//! Feeds arbitrary bytes to WAL replay (`cairn_lsm::wal::replay_wal_bytes`), the path every
//! log takes on recovery.
//!
//! Checks, beyond "never panics":
//! - records arrive in file order, each at the offset where the previous one ended;
//! - on success the valid prefix re-frames to exactly the input's first `valid_bytes`, and
//!   the reported end accounts for every remaining byte;
//! - an error is a corruption report at a record boundary at or past the last good record.
#![no_main]

use std::path::Path;

use cairn_codec::frame::{self, FrameEnd};
use cairn_lsm::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reframed = Vec::new();
    let mut next_offset = 0u64;
    let result =
        cairn_lsm::wal::replay_wal_bytes(Path::new("fuzz.log"), data, |offset, payload| {
            assert_eq!(offset, next_offset, "records must be contiguous");
            frame::encode(&mut reframed, payload);
            next_offset = reframed.len() as u64;
            Ok(())
        });
    match result {
        Ok(replay) => {
            assert_eq!(replay.valid_bytes, next_offset);
            assert_eq!(Some(reframed.as_slice()), data.get(..reframed.len()));
            let total = data.len() as u64;
            match replay.end {
                FrameEnd::Clean => assert_eq!(replay.valid_bytes, total),
                FrameEnd::TornTail { offset, bytes } => {
                    assert_eq!(offset, replay.valid_bytes);
                    assert_eq!(offset + bytes, total);
                    assert!(bytes > 0);
                }
            }
        }
        Err(Error::Corruption { offset, .. }) => {
            assert_eq!(offset, next_offset, "corruption is reported at the damaged record");
            assert_eq!(Some(reframed.as_slice()), data.get(..reframed.len()));
        }
        Err(other) => panic!("replay over bytes can only fail with corruption: {other}"),
    }
});

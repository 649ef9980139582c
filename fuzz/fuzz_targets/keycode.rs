//! Feeds arbitrary bytes to the SQL index-key decoder (`cairn_codec::keycode`) for every
//! column kind and direction.
//!
//! Checks, beyond "never panics": `decode` and `encoded_len` agree, and a column that decodes
//! re-encodes to exactly the bytes it was read from.
#![no_main]

use cairn_codec::keycode::{self, ColumnKind, Direction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in [
        ColumnKind::Bool,
        ColumnKind::Int,
        ColumnKind::Float,
        ColumnKind::Bytes,
        ColumnKind::Uuid,
    ] {
        for dir in [Direction::Ascending, Direction::Descending] {
            let decoded = keycode::decode(data, kind, dir);
            let len = keycode::encoded_len(data, kind, dir);
            match (decoded, len) {
                (Ok((datum, used)), Ok(n)) => {
                    assert_eq!(used, n, "decode and encoded_len agree");
                    let mut again = Vec::new();
                    keycode::encode(&mut again, &datum, dir);
                    assert_eq!(Some(again.as_slice()), data.get(..used));
                }
                (Err(_), Err(_)) => {}
                (d, l) => panic!("decode {:?} and encoded_len {:?} disagree", d.is_ok(), l.is_ok()),
            }
        }
    }
});

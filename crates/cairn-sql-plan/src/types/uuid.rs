//! UUID: 16 bytes, PostgreSQL's text forms, and version-4 generation from caller-supplied
//! randomness.
//!
//! Role: `types` keeps a UUID as `Value::Uuid([u8; 16])`; the binary wire form and the key form
//! (`keycode::encode_uuid`) are the 16 bytes as they are, so byte order is UUID order (as in
//! PostgreSQL, which compares UUIDs with `memcmp`).
//!
//! Invariants:
//! 1. Output is always the canonical lowercase `8-4-4-4-12` form. Test: `text_forms_match_postgres`.
//! 2. Input accepts what PostgreSQL's `string_to_uuid` accepts: optional braces, a hyphen
//!    after any group of four hex digits, either case; anything else is 22P02 and nothing
//!    panics. Proptest: `parse_never_panics`.

use crate::error::{Result, SqlError};

pub fn format_uuid(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

pub fn parse_uuid(input: &str) -> Result<[u8; 16]> {
    let bad = || SqlError::invalid_text("uuid", input);
    let b = input.as_bytes();
    let mut i = 0;
    let braces = b.first() == Some(&b'{');
    if braces {
        i += 1;
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 16];
    for (k, slot) in out.iter_mut().enumerate() {
        let hi = b.get(i).and_then(|c| hex(*c)).ok_or_else(bad)?;
        let lo = b.get(i + 1).and_then(|c| hex(*c)).ok_or_else(bad)?;
        *slot = hi << 4 | lo;
        i += 2;
        if k % 2 == 1 && k < 15 && b.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    if braces {
        if b.get(i) != Some(&b'}') {
            return Err(bad());
        }
        i += 1;
    }
    if i != b.len() {
        return Err(bad());
    }
    Ok(out)
}

/// A version-4 (random) UUID from 16 random bytes.
pub fn uuid_v4(mut random: [u8; 16]) -> [u8; 16] {
    random[6] = (random[6] & 0x0f) | 0x40;
    random[8] = (random[8] & 0x3f) | 0x80;
    random
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_forms_match_postgres() {
        // Each accepted form is from PostgreSQL's documentation of the uuid type.
        let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for form in [
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
        ] {
            assert_eq!(format_uuid(&parse_uuid(form).unwrap()), canonical, "{form}");
        }
        for bad in [
            "",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ] {
            assert!(parse_uuid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn v4_sets_version_and_variant() {
        let u = uuid_v4([0xff; 16]);
        let s = format_uuid(&u);
        assert_eq!(&s[14..15], "4");
        assert_eq!(&s[19..20], "b");
        let u = uuid_v4([0; 16]);
        assert_eq!(format_uuid(&u), "00000000-0000-4000-8000-000000000000");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "[-{}0-9a-fA-Gx ]{0,40}") {
            let _ = parse_uuid(&s);
        }

        #[test]
        fn text_round_trips(b in any::<[u8; 16]>()) {
            prop_assert_eq!(parse_uuid(&format_uuid(&b)).unwrap(), b);
        }
    }
}

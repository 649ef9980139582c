//! Where SQL data lives in the key space.
//!
//! Role: the only module that builds or parses keys for table rows, index entries and the
//! system tables. `docs/format/sql.md` mirrors this header.
//!
//! Format (every component order-preserving keycode, `cairn_codec::keycode`):
//!
//! ```text
//! row / index entry   Int(table_id) Int(index_id) <key column values...> [<pk values> for
//!                     non-unique secondary indexes]
//! descriptor          Int(1) Int(1) Int(descriptor_id)                  -> JSON descriptor
//! namespace entry     Int(2) Int(1) Int(parent_id) Bytes(schema) Bytes(name) -> u32 BE id
//! id counter          Int(3) Int(1)                                     -> u64 BE next id
//! sequence value      Int(4) Int(1) Int(sequence_id)                    -> i64 BE last value
//! user (role)         Int(5) Int(1) Bytes(name)                         -> JSON role
//! statistics          Int(6) Int(1) Int(table_id)                       -> stats (analyze.rs)
//! catalog generation     Int(7) Int(1)                                     -> u64 LE (catalog.rs)
//! ```
//!
//! Column values (`encode_value`): NULL, bool, integers (and date, time, timestamp[tz] as
//! their i64), floats, text and bytea use the keycode encoder of that kind; uuid uses
//! `encode_uuid`; numeric, interval, jsonb and arrays are BYTES whose payload is the type's
//! own order-preserving form: `Numeric::key_bytes` (sign class, decimal exponent, digit
//! pairs), `Interval::key_bytes` (the 30-day-month span as a sign-flipped i128),
//! `Jsonb::key_bytes`, and for arrays the elements' ascending keycodes concatenated.
//! Values SQL calls equal encode identically (`1.0` and `1.00`, `'1 mon'` and `'30 days'`),
//! which is what grouping and unique keys need.
//!
//! Example: row with primary key 7 of table 100: `keycode(100) keycode(1) keycode(7)` =
//! `01 80 00 00 00 00 00 00 64 01 80 00 00 00 00 00 00 01 01 80 00 00 00 00 00 00 07`.
//!
//! Invariants:
//! 1. System tables use ids below [`FIRST_USER_ID`]; user descriptors are allocated from the
//!    id counter starting there, so the two never collide.
//! 2. All entries of one index share the prefix `Int(table_id) Int(index_id)` and nothing else
//!    does, so [`index_span`] bounds a full index scan exactly.

use cairn_codec::keycode::{self, Direction};

use cairn_sql_plan::types::Value;

pub const DESCRIPTOR_TABLE: u32 = 1;
pub const NAMESPACE_TABLE: u32 = 2;
pub const ID_COUNTER_TABLE: u32 = 3;
pub const SEQUENCE_TABLE: u32 = 4;
pub const ROLE_TABLE: u32 = 5;
/// Table statistics written by ANALYZE (`analyze.rs` has the value format).
pub const STATS_TABLE: u32 = 6;
/// The catalog generation: a counter every descriptor or name change adds to (`catalog.rs`).
pub const CATALOG_GENERATION_TABLE: u32 = 7;
/// The first id handed to user databases, tables, sequences.
pub const FIRST_USER_ID: u32 = 100;

pub fn index_prefix(table_id: u32, index_id: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(18);
    keycode::encode_i64(&mut k, table_id as i64, Direction::Ascending);
    keycode::encode_i64(&mut k, index_id as i64, Direction::Ascending);
    k
}

/// `[start, end)` covering every entry of one index.
pub fn index_span(table_id: u32, index_id: u32) -> (Vec<u8>, Vec<u8>) {
    (
        index_prefix(table_id, index_id),
        index_prefix(table_id, index_id + 1),
    )
}

/// The smallest key greater than every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xff; prefix.len() + 1]
}

/// Appends one SQL value in key order.
pub fn encode_value(out: &mut Vec<u8>, v: &Value, descending: bool) {
    let dir = if descending {
        Direction::Descending
    } else {
        Direction::Ascending
    };
    match v {
        Value::Null => keycode::encode_null(out, dir),
        Value::Bool(b) => keycode::encode_bool(out, *b, dir),
        Value::Int(i) => keycode::encode_i64(out, *i, dir),
        Value::Float(f) => keycode::encode_f64(out, *f, dir),
        Value::Text(s) => keycode::encode_bytes(out, s.as_bytes(), dir),
        Value::Bytes(b) => keycode::encode_bytes(out, b, dir),
        // The richer types carry their own order-preserving bytes (see each type's module),
        // wrapped as a keycode BYTES payload so the column stays prefix-free.
        Value::Numeric(n) => keycode::encode_bytes(out, &n.key_bytes(), dir),
        Value::Interval(iv) => keycode::encode_bytes(out, &iv.key_bytes(), dir),
        Value::Uuid(u) => keycode::encode_uuid(out, *u, dir),
        Value::Jsonb(j) => keycode::encode_bytes(out, &j.key_bytes(), dir),
        Value::Array(items) => {
            // Elements in ascending keycode, concatenated: element-wise order, NULL elements
            // after values, a shorter array before a longer one it prefixes.
            let mut inner = Vec::new();
            for item in items {
                encode_value(&mut inner, item, false);
            }
            keycode::encode_bytes(out, &inner, dir)
        }
    }
}

pub fn descriptor_key(id: u32) -> Vec<u8> {
    let mut k = index_prefix(DESCRIPTOR_TABLE, 1);
    keycode::encode_i64(&mut k, id as i64, Direction::Ascending);
    k
}

pub fn namespace_key(parent: u32, schema: &str, name: &str) -> Vec<u8> {
    let mut k = namespace_prefix(parent);
    keycode::encode_bytes(&mut k, schema.as_bytes(), Direction::Ascending);
    keycode::encode_bytes(&mut k, name.as_bytes(), Direction::Ascending);
    k
}

pub fn namespace_prefix(parent: u32) -> Vec<u8> {
    let mut k = index_prefix(NAMESPACE_TABLE, 1);
    keycode::encode_i64(&mut k, parent as i64, Direction::Ascending);
    k
}

pub fn id_counter_key() -> Vec<u8> {
    index_prefix(ID_COUNTER_TABLE, 1)
}

pub fn catalog_generation_key() -> Vec<u8> {
    index_prefix(CATALOG_GENERATION_TABLE, 1)
}

/// Raised by every transaction that writes or deletes table statistics (ANALYZE).
pub fn stats_generation_key() -> Vec<u8> {
    index_prefix(CATALOG_GENERATION_TABLE, 2)
}

pub fn sequence_key(id: u32) -> Vec<u8> {
    let mut k = index_prefix(SEQUENCE_TABLE, 1);
    keycode::encode_i64(&mut k, id as i64, Direction::Ascending);
    k
}

pub fn role_key(name: &str) -> Vec<u8> {
    let mut k = index_prefix(ROLE_TABLE, 1);
    keycode::encode_bytes(&mut k, name.as_bytes(), Direction::Ascending);
    k
}

pub fn stats_key(table_id: u32) -> Vec<u8> {
    let mut k = index_prefix(STATS_TABLE, 1);
    keycode::encode_i64(&mut k, table_id as i64, Direction::Ascending);
    k
}

/// The table id of a statistics key (`None` if `key` is not one).
pub fn stats_key_table(key: &[u8]) -> Option<u32> {
    let prefix = index_prefix(STATS_TABLE, 1);
    let rest = key.strip_prefix(prefix.as_slice())?;
    let mut probe = Vec::with_capacity(9);
    // Keys are written by `stats_key` only; decode by re-encoding the candidate id.
    let id = rest.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok())?;
    let raw = u64::from_be_bytes(id) ^ (1 << 63);
    let id = u32::try_from(raw).ok()?;
    keycode::encode_i64(&mut probe, id as i64, Direction::Ascending);
    (probe == rest).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_keys_round_trip() {
        for id in [100u32, 101, 65_536, u32::MAX] {
            assert_eq!(stats_key_table(&stats_key(id)), Some(id));
        }
        assert_eq!(stats_key_table(&descriptor_key(100)), None);
    }

    #[test]
    fn row_key_matches_the_documented_example() {
        let mut k = index_prefix(100, 1);
        encode_value(&mut k, &Value::Int(7), false);
        let hex: Vec<String> = k.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex.join(" "),
            "01 80 00 00 00 00 00 00 64 01 80 00 00 00 00 00 00 01 01 80 00 00 00 00 00 00 07"
        );
    }

    fn key(v: &Value, descending: bool) -> Vec<u8> {
        let mut k = Vec::new();
        encode_value(&mut k, v, descending);
        k
    }

    proptest::proptest! {
        /// Byte order of numeric keys is numeric order, in both directions (module header).
        #[test]
        fn numeric_key_order_is_numeric_order(
            a in -1_000_000_000i64..1_000_000_000, sa in 0u32..8,
            b in -1_000_000_000i64..1_000_000_000, sb in 0u32..8,
        ) {
            use cairn_sql_plan::types::{compare, Numeric};
            let x = Value::numeric(Numeric::from_i128(a as i128, sa));
            let y = Value::numeric(Numeric::from_i128(b as i128, sb));
            let want = compare(&x, &y).unwrap();
            proptest::prop_assert_eq!(key(&x, false).cmp(&key(&y, false)), want);
            proptest::prop_assert_eq!(key(&x, true).cmp(&key(&y, true)), want.reverse());
        }

        #[test]
        fn array_key_order_is_array_order(
            a in proptest::collection::vec(proptest::option::of(-5i64..5), 0..4),
            b in proptest::collection::vec(proptest::option::of(-5i64..5), 0..4),
        ) {
            use cairn_sql_plan::types::compare;
            let arr = |v: &[Option<i64>]| Value::Array(v.iter().map(|x| x.map_or(Value::Null, Value::Int)).collect());
            let (x, y) = (arr(&a), arr(&b));
            proptest::prop_assert_eq!(key(&x, false).cmp(&key(&y, false)), compare(&x, &y).unwrap());
        }
    }

    #[test]
    fn equal_values_of_different_forms_share_a_key() {
        use cairn_sql_plan::types::{parse_text, DataType};
        let k = |s: &str, t: &DataType| key(&parse_text(s, t).unwrap(), false);
        let n = DataType::Numeric(None);
        assert_eq!(k("1.0", &n), k("1.000", &n));
        assert_ne!(k("1.0", &n), k("1.01", &n));
        assert_eq!(
            k("1 mon", &DataType::Interval),
            k("30 days", &DataType::Interval)
        );
        assert_eq!(
            k("{\"a\": 1.0}", &DataType::Jsonb),
            k("{\"a\":1}", &DataType::Jsonb)
        );
    }

    #[test]
    fn index_span_bounds_exactly_one_index() {
        let (start, end) = index_span(100, 1);
        let mut inside = index_prefix(100, 1);
        encode_value(&mut inside, &Value::Int(i64::MAX), false);
        assert!(inside >= start && inside < end);
        let other = index_prefix(100, 2);
        assert!(other >= end);
        assert_eq!(prefix_end(&[1, 0xff]), vec![2]);
    }
}

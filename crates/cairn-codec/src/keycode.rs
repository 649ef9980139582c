//! Order-preserving encoding of SQL values for index keys ("keycode").
//!
//! Role: the SQL layer stores every table row and index entry in the ordered key-value store
//! under a key `/table_id/index_id/<key columns>`. This module encodes and decodes the
//! `<key columns>` part: one call per column, the results concatenated. The bytes of an encoded
//! key sort under plain bytewise comparison (`memcmp`, shorter-is-smaller) exactly as
//! PostgreSQL orders the column values, so an index scan over a byte range returns rows in SQL
//! order. Mirror: `docs/format/keycode.md`.
//!
//! # Layout
//!
//! Every column starts with a marker byte, then (for a non-NULL value) a payload that depends
//! on the column's type. The *ascending* form is:
//!
//! ```text
//! NULL                    02
//! value                   01 | payload
//!
//! BOOL      payload       00 (false) or 01 (true)
//! INT       payload       8 bytes: big-endian two's complement with the sign bit flipped
//! FLOAT     payload       8 bytes: big-endian IEEE-754 bits of the canonical value, then
//!                         all bits flipped if the sign bit is set, else only the sign bit
//! BYTES     payload       the bytes with every 00 replaced by 00 FF, then terminator 00 01
//! UUID      payload       the 16 bytes as they are
//! ```
//!
//! The *descending* form of a column is its ascending form with every byte inverted (`!b`),
//! marker and terminator included: NULL is `FD`, the value marker `FE`, the bytes escape
//! `FF 00` and the terminator `FF FE`.
//!
//! Marker bytes other than these two (per direction) are reserved and rejected by the decoder.
//!
//! Which SQL types use which encoder (the caller widens, and narrows back with `try_from`
//! after decoding, since the encoding does not record the width):
//!
//! | SQL type                       | encoder          | decoded as                 |
//! |--------------------------------|------------------|----------------------------|
//! | `BOOLEAN`                      | [`encode_bool`]  | [`Datum::Bool`]            |
//! | `SMALLINT`, `INT`, `BIGINT`    | [`encode_i64`]   | [`Datum::Int`]             |
//! | `DATE` (i32 days since 2000-01-01) | [`encode_i64`] | [`Datum::Int`]            |
//! | `TIME`, `TIMESTAMP`, `TIMESTAMPTZ` (i64 microseconds) | [`encode_i64`] | [`Datum::Int`] |
//! | `REAL` (widened), `DOUBLE PRECISION` | [`encode_f64`] | [`Datum::Float`]        |
//! | `TEXT` (UTF-8, C collation), `BYTEA` | [`encode_bytes`] | [`Datum::Bytes`]      |
//! | `UUID`                         | [`encode_uuid`]  | [`Datum::Uuid`]            |
//!
//! Floats are canonicalised before encoding: `-0.0` becomes `+0.0` and every NaN becomes the
//! one quiet NaN with bits `7FF8 0000 0000 0000`. The order is then PostgreSQL's:
//! `-Infinity < negatives < 0 < positives < +Infinity < NaN`, all NaNs equal. Widening a
//! `REAL` to `f64` is exact, so it preserves order.
//!
//! # Worked examples (hex; pinned by `worked_examples_match_the_format_doc`)
//!
//! ```text
//! value                     ascending                      descending
//! NULL (any type)           02                             FD
//! BOOL false                01 00                          FE FF
//! BOOL true                 01 01                          FE FE
//! INT 1                     01 80 00 00 00 00 00 00 01     FE 7F FF FF FF FF FF FF FE
//! INT -1                    01 7F FF FF FF FF FF FF FF     FE 80 00 00 00 00 00 00 00
//! FLOAT 1.0                 01 BF F0 00 00 00 00 00 00     FE 40 0F FF FF FF FF FF FF
//! FLOAT -1.0                01 40 0F FF FF FF FF FF FF     FE BF F0 00 00 00 00 00 00
//! FLOAT 0.0 and -0.0        01 80 00 00 00 00 00 00 00     FE 7F FF FF FF FF FF FF FF
//! FLOAT NaN (any)           01 FF F8 00 00 00 00 00 00     FE 00 07 FF FF FF FF FF FF
//! BYTES ""                  01 00 01                       FE FF FE
//! BYTES "a\0b" (61 00 62)   01 61 00 FF 62 00 01           FE 9E FF 00 9D FF FE
//! UUID 00112233-4455-6677-8899-aabbccddeeff
//!                           01 00 11 22 .. EE FF           FE FF EE DD .. 11 00
//! ```
//!
//! A composite key is the concatenation of its columns. For `(a INT ASC, b TEXT DESC)`, the row
//! `(7, 'hi')` encodes as `01 80 00 00 00 00 00 00 07 | FE 97 96 FF FE`.
//!
//! # Invariants (each checked by the named test)
//!
//! 1. Order: for every type and both directions, comparing two encodings bytewise gives the
//!    SQL order of the values, NULL included (NULLS LAST for ASC; DESC is the exact reverse,
//!    so NULLS FIRST); values SQL calls equal (`-0.0`/`+0.0`, any two NaNs) encode to identical
//!    bytes. Tests `order_matches_sql_bool`, `order_matches_sql_int`, `order_matches_sql_float`,
//!    `order_matches_sql_bytes`, `order_matches_sql_uuid`.
//! 2. Descending is the bytewise inverse of ascending (`descending_is_inverted_ascending`).
//! 3. Prefix-free: of two distinct values of one type, neither encoding is a prefix of the
//!    other (`encodings_are_prefix_free`).
//! 4. Tuples: concatenated encodings of rows with any mix of types and directions sort as the
//!    rows do, column by column (`tuple_order_is_lexicographic`).
//! 5. Round trip: [`decode`] returns the (canonicalised) value and the number of bytes written;
//!    [`encoded_len`] returns that number too; bytes after the column are left alone
//!    (`roundtrip_and_encoded_len`).
//! 6. Canonical and total: on any input, [`decode`] and [`encoded_len`] return without
//!    panicking, agree with each other, and accept only bytes the encoder produces: if `decode`
//!    returns `(d, n)` then encoding `d` gives exactly the first `n` bytes
//!    (`decode_is_total_and_canonical`, `corrupted_encodings_never_decode_differently`).
//! 7. Every strict prefix of an encoding fails to decode (`truncated_encodings_fail`).

use crate::{DecodeError, DecodeErrorReason, Decoder};

/// Sort direction of one key column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

impl Direction {
    /// Maps an ascending-form byte to this direction's form (and back: the map is an
    /// involution).
    #[inline]
    fn apply(self, b: u8) -> u8 {
        match self {
            Direction::Ascending => b,
            Direction::Descending => !b,
        }
    }
}

/// What the schema says a key column holds; selects the payload layout when decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Bool,
    Int,
    Float,
    Bytes,
    Uuid,
}

/// One decoded key column.
///
/// `Float` values coming out of [`decode`] are canonical: never `-0.0`, and every NaN is the
/// one NaN with bits `0x7FF8_0000_0000_0000` (so derived `==` still says NaN != NaN).
#[derive(Clone, Debug, PartialEq)]
pub enum Datum {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    Uuid([u8; 16]),
}

impl Datum {
    /// The column kind of a non-NULL datum; `None` for [`Datum::Null`], which fits every kind.
    pub fn kind(&self) -> Option<ColumnKind> {
        match self {
            Datum::Null => None,
            Datum::Bool(_) => Some(ColumnKind::Bool),
            Datum::Int(_) => Some(ColumnKind::Int),
            Datum::Float(_) => Some(ColumnKind::Float),
            Datum::Bytes(_) => Some(ColumnKind::Bytes),
            Datum::Uuid(_) => Some(ColumnKind::Uuid),
        }
    }
}

/// Marker of a non-NULL value, ascending form.
const MARKER_VALUE: u8 = 0x01;
/// Marker of NULL, ascending form; greater than [`MARKER_VALUE`] so NULL sorts last.
const MARKER_NULL: u8 = 0x02;
/// In the ascending form of a byte string: `00` starts a two-byte sequence.
const ESCAPE: u8 = 0x00;
/// `00 FF` stands for a literal `00` byte.
const ESCAPED_ZERO: u8 = 0xFF;
/// `00 01` ends the byte string.
const TERMINATOR: u8 = 0x01;

const SIGN_BIT: u64 = 1 << 63;
/// The one NaN that is ever encoded or decoded.
const CANONICAL_NAN_BITS: u64 = 0x7FF8_0000_0000_0000;
const NEGATIVE_ZERO_BITS: u64 = SIGN_BIT;

/// Inverts the bytes appended to `out` since `start` when the column is descending.
fn finish(out: &mut [u8], start: usize, dir: Direction) {
    if dir == Direction::Descending {
        if let Some(tail) = out.get_mut(start..) {
            for b in tail {
                *b = !*b;
            }
        }
    }
}

/// Appends a NULL column.
pub fn encode_null(out: &mut Vec<u8>, dir: Direction) {
    out.push(dir.apply(MARKER_NULL));
}

/// Appends a `BOOLEAN` column: false sorts before true.
pub fn encode_bool(out: &mut Vec<u8>, v: bool, dir: Direction) {
    out.push(dir.apply(MARKER_VALUE));
    out.push(dir.apply(u8::from(v)));
}

/// Appends an integer column. `SMALLINT`, `INT`, `BIGINT`, `DATE` (days since 2000-01-01),
/// `TIME`, `TIMESTAMP` and `TIMESTAMPTZ` (microseconds) all widen to `i64` and use this.
pub fn encode_i64(out: &mut Vec<u8>, v: i64, dir: Direction) {
    let start = out.len();
    out.push(MARKER_VALUE);
    // XOR with i64::MIN flips the sign bit: i64::MIN -> 00..00, -1 -> 7F FF.., 0 -> 80 00..
    out.extend_from_slice(&(v ^ i64::MIN).to_be_bytes());
    finish(out, start, dir);
}

/// `-0.0` -> `+0.0`, every NaN -> the canonical NaN; other values unchanged.
fn canonical_f64(v: f64) -> f64 {
    if v.is_nan() {
        f64::from_bits(CANONICAL_NAN_BITS)
    } else if v == 0.0 {
        0.0
    } else {
        v
    }
}

/// Appends a floating-point column (`DOUBLE PRECISION`; `REAL` widened to `f64`). Order:
/// `-Infinity < negatives < -0.0 = +0.0 < positives < +Infinity < NaN`, all NaNs equal.
pub fn encode_f64(out: &mut Vec<u8>, v: f64, dir: Direction) {
    let bits = canonical_f64(v).to_bits();
    // Negatives: larger magnitude sorts first, so flip every bit. Non-negatives: set the sign
    // bit so they sort after every negative. The canonical NaN is positive, so it sorts last.
    let ordered = if bits & SIGN_BIT != 0 {
        !bits
    } else {
        bits ^ SIGN_BIT
    };
    let start = out.len();
    out.push(MARKER_VALUE);
    out.extend_from_slice(&ordered.to_be_bytes());
    finish(out, start, dir);
}

/// Appends a byte-string column (`BYTEA`, or `TEXT` as UTF-8 under C collation, where byte
/// order is the collation order).
pub fn encode_bytes(out: &mut Vec<u8>, v: &[u8], dir: Direction) {
    let start = out.len();
    out.reserve(v.len() + 3);
    out.push(MARKER_VALUE);
    for &b in v {
        out.push(b);
        if b == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
    out.push(ESCAPE);
    out.push(TERMINATOR);
    finish(out, start, dir);
}

/// Appends a `UUID` column: its 16 bytes in order, compared as unsigned bytes (PostgreSQL's
/// `uuid` ordering).
pub fn encode_uuid(out: &mut Vec<u8>, v: [u8; 16], dir: Direction) {
    let start = out.len();
    out.push(MARKER_VALUE);
    out.extend_from_slice(&v);
    finish(out, start, dir);
}

/// Appends any datum with the encoder for its kind (NULL with [`encode_null`]).
pub fn encode(out: &mut Vec<u8>, datum: &Datum, dir: Direction) {
    match datum {
        Datum::Null => encode_null(out, dir),
        Datum::Bool(v) => encode_bool(out, *v, dir),
        Datum::Int(v) => encode_i64(out, *v, dir),
        Datum::Float(v) => encode_f64(out, *v, dir),
        Datum::Bytes(v) => encode_bytes(out, v, dir),
        Datum::Uuid(v) => encode_uuid(out, *v, dir),
    }
}

/// Reads the marker. `Ok(true)` for a value, `Ok(false)` for NULL.
fn read_marker(d: &mut Decoder<'_>, dir: Direction) -> Result<bool, DecodeError> {
    let at = d.position();
    let raw = d.u8("key marker")?;
    match dir.apply(raw) {
        MARKER_VALUE => Ok(true),
        MARKER_NULL => Ok(false),
        _ => Err(DecodeError {
            offset: at,
            what: "key marker",
            reason: DecodeErrorReason::UnknownTag(u64::from(raw)),
        }),
    }
}

/// Reads `N` bytes and maps them back to ascending form.
fn read_fixed<const N: usize>(
    d: &mut Decoder<'_>,
    dir: Direction,
    what: &'static str,
) -> Result<[u8; N], DecodeError> {
    let raw = d.bytes(N, what)?;
    let mut out = [0u8; N];
    for (o, &b) in out.iter_mut().zip(raw) {
        *o = dir.apply(b);
    }
    Ok(out)
}

fn read_bool(d: &mut Decoder<'_>, dir: Direction) -> Result<bool, DecodeError> {
    let at = d.position();
    match dir.apply(d.u8("bool")?) {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError {
            offset: at,
            what: "bool",
            reason: DecodeErrorReason::Malformed,
        }),
    }
}

fn read_i64(d: &mut Decoder<'_>, dir: Direction) -> Result<i64, DecodeError> {
    Ok(i64::from_be_bytes(read_fixed::<8>(d, dir, "int")?) ^ i64::MIN)
}

fn read_f64(d: &mut Decoder<'_>, dir: Direction) -> Result<f64, DecodeError> {
    let at = d.position();
    let ordered = u64::from_be_bytes(read_fixed::<8>(d, dir, "float")?);
    let bits = if ordered & SIGN_BIT != 0 {
        ordered ^ SIGN_BIT
    } else {
        !ordered
    };
    let v = f64::from_bits(bits);
    // The encoder never writes -0.0 or a NaN other than the canonical one.
    if bits == NEGATIVE_ZERO_BITS || (v.is_nan() && bits != CANONICAL_NAN_BITS) {
        return Err(DecodeError {
            offset: at,
            what: "float",
            reason: DecodeErrorReason::Malformed,
        });
    }
    Ok(v)
}

/// Reads an escaped byte string up to and including its terminator, appending the unescaped
/// bytes to `sink` if one is given.
fn read_bytes(
    d: &mut Decoder<'_>,
    dir: Direction,
    mut sink: Option<&mut Vec<u8>>,
) -> Result<(), DecodeError> {
    let start = d.position();
    let escape = dir.apply(ESCAPE);
    loop {
        let rest = d.remaining();
        let Some(run) = rest.iter().position(|&b| b == escape) else {
            return Err(DecodeError {
                offset: start,
                what: "bytes (no terminator)",
                reason: DecodeErrorReason::Truncated,
            });
        };
        let chunk = d.bytes(run, "bytes")?;
        if let Some(s) = sink.as_deref_mut() {
            s.extend(chunk.iter().map(|&b| dir.apply(b)));
        }
        d.u8("bytes escape")?;
        let at = d.position();
        match dir.apply(d.u8("bytes escape")?) {
            ESCAPED_ZERO => {
                if let Some(s) = sink.as_deref_mut() {
                    s.push(0);
                }
            }
            TERMINATOR => return Ok(()),
            _ => {
                return Err(DecodeError {
                    offset: at,
                    what: "bytes escape",
                    reason: DecodeErrorReason::Malformed,
                })
            }
        }
    }
}

/// Decodes one column of the given kind from the front of `input`, returning the datum and the
/// number of bytes it took. Bytes after the column are not looked at. Offsets in errors are
/// relative to the start of `input`.
pub fn decode(
    input: &[u8],
    kind: ColumnKind,
    dir: Direction,
) -> Result<(Datum, usize), DecodeError> {
    let mut d = Decoder::new(input);
    if !read_marker(&mut d, dir)? {
        return Ok((Datum::Null, d.position()));
    }
    let datum = match kind {
        ColumnKind::Bool => Datum::Bool(read_bool(&mut d, dir)?),
        ColumnKind::Int => Datum::Int(read_i64(&mut d, dir)?),
        ColumnKind::Float => Datum::Float(read_f64(&mut d, dir)?),
        ColumnKind::Bytes => {
            let mut v = Vec::new();
            read_bytes(&mut d, dir, Some(&mut v))?;
            Datum::Bytes(v)
        }
        ColumnKind::Uuid => Datum::Uuid(read_fixed::<16>(&mut d, dir, "uuid")?),
    };
    Ok((datum, d.position()))
}

/// Length of the encoded column at the front of `input`, without building the datum (to skip
/// columns). Validates exactly as [`decode`] does, so it fails exactly when `decode` fails.
pub fn encoded_len(input: &[u8], kind: ColumnKind, dir: Direction) -> Result<usize, DecodeError> {
    let mut d = Decoder::new(input);
    if read_marker(&mut d, dir)? {
        match kind {
            ColumnKind::Bool => {
                read_bool(&mut d, dir)?;
            }
            ColumnKind::Int => {
                d.bytes(8, "int")?;
            }
            ColumnKind::Float => {
                read_f64(&mut d, dir)?;
            }
            ColumnKind::Bytes => read_bytes(&mut d, dir, None)?,
            ColumnKind::Uuid => {
                d.bytes(16, "uuid")?;
            }
        }
    }
    Ok(d.position())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    const DIRS: [Direction; 2] = [Direction::Ascending, Direction::Descending];
    const KINDS: [ColumnKind; 5] = [
        ColumnKind::Bool,
        ColumnKind::Int,
        ColumnKind::Float,
        ColumnKind::Bytes,
        ColumnKind::Uuid,
    ];

    fn enc(datum: &Datum, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, datum, dir);
        out
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
            .collect()
    }

    /// PostgreSQL's float order, written independently of the encoding: NaN equals NaN and is
    /// greater than everything; otherwise IEEE comparison (where -0.0 == +0.0).
    fn float_cmp(a: f64, b: f64) -> Ordering {
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.partial_cmp(&b).expect("neither is NaN"),
        }
    }

    /// SQL order of two values of one column kind, ascending, NULLS LAST.
    fn sql_cmp(a: &Datum, b: &Datum) -> Ordering {
        match (a, b) {
            (Datum::Null, Datum::Null) => Ordering::Equal,
            (Datum::Null, _) => Ordering::Greater,
            (_, Datum::Null) => Ordering::Less,
            (Datum::Bool(x), Datum::Bool(y)) => x.cmp(y),
            (Datum::Int(x), Datum::Int(y)) => x.cmp(y),
            (Datum::Float(x), Datum::Float(y)) => float_cmp(*x, *y),
            (Datum::Bytes(x), Datum::Bytes(y)) => x.cmp(y),
            (Datum::Uuid(x), Datum::Uuid(y)) => x.cmp(y),
            _ => panic!("values of different kinds: {a:?} vs {b:?}"),
        }
    }

    fn sql_cmp_dir(a: &Datum, b: &Datum, dir: Direction) -> Ordering {
        match dir {
            Direction::Ascending => sql_cmp(a, b),
            Direction::Descending => sql_cmp(a, b).reverse(),
        }
    }

    /// The value decode is expected to return for `d`.
    fn canonical(d: &Datum) -> Datum {
        match d {
            Datum::Float(v) => Datum::Float(canonical_f64(*v)),
            other => other.clone(),
        }
    }

    /// Equality that treats floats by bit pattern (used on canonical values).
    fn same(a: &Datum, b: &Datum) -> bool {
        match (a, b) {
            (Datum::Float(x), Datum::Float(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        }
    }

    // ----- strategies -----

    fn dir_strategy() -> impl Strategy<Value = Direction> {
        prop_oneof![Just(Direction::Ascending), Just(Direction::Descending)]
    }

    fn kind_strategy() -> impl Strategy<Value = ColumnKind> {
        proptest::sample::select(KINDS.to_vec())
    }

    fn int_strategy() -> BoxedStrategy<i64> {
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MIN + 1),
            Just(i64::MAX),
            Just(i64::MAX - 1),
            Just(0i64),
            Just(-1i64),
            Just(1i64),
            -3i64..=3,
            any::<i64>(),
        ]
        .boxed()
    }

    fn float_strategy() -> BoxedStrategy<f64> {
        prop_oneof![
            Just(f64::NEG_INFINITY),
            Just(f64::INFINITY),
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(f64::from_bits(0x7FF0_0000_0000_0001)), // signalling NaN
            Just(f64::from_bits(0xFFF8_0000_0000_0001)), // negative NaN with payload
            Just(0.0f64),
            Just(-0.0f64),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MIN_POSITIVE),
            Just(f64::from_bits(1)), // smallest subnormal
            Just(-f64::from_bits(1)),
            Just(f64::from_bits(0x000F_FFFF_FFFF_FFFF)), // largest subnormal
            Just(f64::MAX),
            Just(f64::MIN),
            Just(1.0f64),
            Just(-1.0f64),
            any::<f64>(),
            any::<u64>().prop_map(f64::from_bits),
        ]
        .boxed()
    }

    fn bytes_strategy() -> BoxedStrategy<Vec<u8>> {
        let byte = prop_oneof![
            3 => Just(0x00u8),
            3 => Just(0xFFu8),
            1 => Just(0x01u8),
            1 => Just(0xFEu8),
            2 => any::<u8>(),
        ];
        prop_oneof![
            1 => Just(Vec::new()),
            6 => proptest::collection::vec(byte, 0..10),
        ]
        .boxed()
    }

    fn uuid_strategy() -> BoxedStrategy<[u8; 16]> {
        prop_oneof![
            Just([0u8; 16]),
            Just([0xFFu8; 16]),
            // Few distinct values in few positions, so ties and near-ties are common.
            (0u8..3, 0u8..3).prop_map(|(a, b)| {
                let mut u = [0u8; 16];
                u[0] = a;
                u[15] = b;
                u
            }),
            any::<[u8; 16]>(),
        ]
        .boxed()
    }

    fn value_strategy(kind: ColumnKind) -> BoxedStrategy<Datum> {
        match kind {
            ColumnKind::Bool => any::<bool>().prop_map(Datum::Bool).boxed(),
            ColumnKind::Int => int_strategy().prop_map(Datum::Int).boxed(),
            ColumnKind::Float => float_strategy().prop_map(Datum::Float).boxed(),
            ColumnKind::Bytes => bytes_strategy().prop_map(Datum::Bytes).boxed(),
            ColumnKind::Uuid => uuid_strategy().prop_map(Datum::Uuid).boxed(),
        }
    }

    /// A datum of `kind`, NULL about one time in six.
    fn datum_strategy(kind: ColumnKind) -> BoxedStrategy<Datum> {
        prop_oneof![1 => Just(Datum::Null), 5 => value_strategy(kind)].boxed()
    }

    /// Two datums of one random kind.
    fn pair_strategy() -> impl Strategy<Value = (Datum, Datum)> {
        kind_strategy().prop_flat_map(|k| (datum_strategy(k), datum_strategy(k)))
    }

    fn check_order(a: &Datum, b: &Datum, dir: Direction) -> Result<(), TestCaseError> {
        let (ea, eb) = (enc(a, dir), enc(b, dir));
        prop_assert_eq!(
            ea.cmp(&eb),
            sql_cmp_dir(a, b, dir),
            "{:?} vs {:?} {:?}: {:02x?} vs {:02x?}",
            a,
            b,
            dir,
            ea,
            eb
        );
        Ok(())
    }

    // ----- worked examples -----

    #[test]
    fn worked_examples_match_the_format_doc() {
        let uuid: [u8; 16] = hex("00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF")
            .try_into()
            .expect("16 bytes");
        let cases: Vec<(Datum, &str, &str)> = vec![
            (Datum::Null, "02", "FD"),
            (Datum::Bool(false), "01 00", "FE FF"),
            (Datum::Bool(true), "01 01", "FE FE"),
            (
                Datum::Int(1),
                "01 80 00 00 00 00 00 00 01",
                "FE 7F FF FF FF FF FF FF FE",
            ),
            (
                Datum::Int(-1),
                "01 7F FF FF FF FF FF FF FF",
                "FE 80 00 00 00 00 00 00 00",
            ),
            (
                Datum::Float(1.0),
                "01 BF F0 00 00 00 00 00 00",
                "FE 40 0F FF FF FF FF FF FF",
            ),
            (
                Datum::Float(-1.0),
                "01 40 0F FF FF FF FF FF FF",
                "FE BF F0 00 00 00 00 00 00",
            ),
            (
                Datum::Float(0.0),
                "01 80 00 00 00 00 00 00 00",
                "FE 7F FF FF FF FF FF FF FF",
            ),
            (
                Datum::Float(-0.0),
                "01 80 00 00 00 00 00 00 00",
                "FE 7F FF FF FF FF FF FF FF",
            ),
            (
                Datum::Float(f64::NAN),
                "01 FF F8 00 00 00 00 00 00",
                "FE 00 07 FF FF FF FF FF FF",
            ),
            (
                Datum::Float(f64::from_bits(0xFFF0_0000_0000_0042)),
                "01 FF F8 00 00 00 00 00 00",
                "FE 00 07 FF FF FF FF FF FF",
            ),
            (Datum::Bytes(Vec::new()), "01 00 01", "FE FF FE"),
            (
                Datum::Bytes(b"a\0b".to_vec()),
                "01 61 00 FF 62 00 01",
                "FE 9E FF 00 9D FF FE",
            ),
            (
                Datum::Uuid(uuid),
                "01 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF",
                "FE FF EE DD CC BB AA 99 88 77 66 55 44 33 22 11 00",
            ),
        ];
        for (datum, asc, desc) in &cases {
            assert_eq!(enc(datum, Direction::Ascending), hex(asc), "{datum:?} ASC");
            assert_eq!(
                enc(datum, Direction::Descending),
                hex(desc),
                "{datum:?} DESC"
            );
        }

        // Composite: (a INT ASC, b TEXT DESC) = (7, 'hi').
        let mut key = Vec::new();
        encode_i64(&mut key, 7, Direction::Ascending);
        encode_bytes(&mut key, b"hi", Direction::Descending);
        assert_eq!(key, hex("01 80 00 00 00 00 00 00 07 FE 97 96 FF FE"));
        let (a, n) = decode(&key, ColumnKind::Int, Direction::Ascending).expect("column a");
        assert_eq!((a, n), (Datum::Int(7), 9));
        let rest = key.get(n..).expect("in bounds");
        let (b, m) = decode(rest, ColumnKind::Bytes, Direction::Descending).expect("column b");
        assert_eq!((b, m), (Datum::Bytes(b"hi".to_vec()), 5));
    }

    #[test]
    fn malformed_inputs_report_where_and_why() {
        let err = |input: &str, kind, dir| decode(&hex(input), kind, dir).err();
        let asc = Direction::Ascending;
        let desc = Direction::Descending;
        assert_eq!(
            err("", ColumnKind::Int, asc),
            Some(DecodeError {
                offset: 0,
                what: "key marker",
                reason: DecodeErrorReason::Truncated
            })
        );
        assert_eq!(
            err("03", ColumnKind::Int, asc),
            Some(DecodeError {
                offset: 0,
                what: "key marker",
                reason: DecodeErrorReason::UnknownTag(3)
            })
        );
        // An ascending marker read as descending is unknown.
        assert_eq!(
            err("01 00", ColumnKind::Bool, desc).map(|e| e.reason),
            Some(DecodeErrorReason::UnknownTag(1))
        );
        assert_eq!(
            err("01 02", ColumnKind::Bool, asc),
            Some(DecodeError {
                offset: 1,
                what: "bool",
                reason: DecodeErrorReason::Malformed
            })
        );
        // -0.0 encoded the IEEE way (not canonical): 80 00.. -> !80 00.. = 7F FF..
        assert_eq!(
            err("01 7F FF FF FF FF FF FF FF", ColumnKind::Float, asc),
            Some(DecodeError {
                offset: 1,
                what: "float",
                reason: DecodeErrorReason::Malformed
            })
        );
        // A non-canonical NaN.
        assert_eq!(
            err("01 FF F8 00 00 00 00 00 01", ColumnKind::Float, asc).map(|e| e.reason),
            Some(DecodeErrorReason::Malformed)
        );
        assert_eq!(
            err("01 61 00 02", ColumnKind::Bytes, asc),
            Some(DecodeError {
                offset: 3,
                what: "bytes escape",
                reason: DecodeErrorReason::Malformed
            })
        );
        assert_eq!(
            err("01 61 62", ColumnKind::Bytes, asc),
            Some(DecodeError {
                offset: 1,
                what: "bytes (no terminator)",
                reason: DecodeErrorReason::Truncated
            })
        );
        assert_eq!(
            err("01 61 00", ColumnKind::Bytes, asc).map(|e| (e.offset, e.reason)),
            Some((3, DecodeErrorReason::Truncated))
        );
        assert_eq!(
            err("FE 00 00 00", ColumnKind::Uuid, desc).map(|e| (e.offset, e.reason)),
            Some((1, DecodeErrorReason::Truncated))
        );
    }

    #[test]
    fn float_edge_values_sort_in_postgres_order() {
        let ascending = [
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -f64::MIN_POSITIVE,
            -f64::from_bits(1),
            0.0,
            f64::from_bits(1),
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        for dir in DIRS {
            let encoded: Vec<Vec<u8>> = ascending
                .iter()
                .map(|&v| enc(&Datum::Float(v), dir))
                .chain(std::iter::once(enc(&Datum::Null, dir)))
                .collect();
            for pair in encoded.windows(2) {
                let want = match dir {
                    Direction::Ascending => Ordering::Less,
                    Direction::Descending => Ordering::Greater,
                };
                assert_eq!(pair[0].cmp(&pair[1]), want, "{dir:?}: {pair:02x?}");
            }
        }
    }

    // ----- properties -----

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn order_matches_sql_bool(
            a in datum_strategy(ColumnKind::Bool),
            b in datum_strategy(ColumnKind::Bool),
            dir in dir_strategy(),
        ) {
            check_order(&a, &b, dir)?;
        }

        #[test]
        fn order_matches_sql_int(
            a in datum_strategy(ColumnKind::Int),
            b in datum_strategy(ColumnKind::Int),
            dir in dir_strategy(),
        ) {
            check_order(&a, &b, dir)?;
        }

        #[test]
        fn order_matches_sql_float(
            a in datum_strategy(ColumnKind::Float),
            b in datum_strategy(ColumnKind::Float),
            dir in dir_strategy(),
        ) {
            check_order(&a, &b, dir)?;
        }

        #[test]
        fn order_matches_sql_bytes(
            a in datum_strategy(ColumnKind::Bytes),
            b in datum_strategy(ColumnKind::Bytes),
            dir in dir_strategy(),
        ) {
            check_order(&a, &b, dir)?;
        }

        #[test]
        fn order_matches_sql_uuid(
            a in datum_strategy(ColumnKind::Uuid),
            b in datum_strategy(ColumnKind::Uuid),
            dir in dir_strategy(),
        ) {
            check_order(&a, &b, dir)?;
        }

        #[test]
        fn descending_is_inverted_ascending(
            d in kind_strategy().prop_flat_map(datum_strategy),
        ) {
            let asc = enc(&d, Direction::Ascending);
            let inverted: Vec<u8> = asc.iter().map(|b| !b).collect();
            prop_assert_eq!(enc(&d, Direction::Descending), inverted);
        }

        #[test]
        fn encodings_are_prefix_free((a, b) in pair_strategy(), dir in dir_strategy()) {
            let (ea, eb) = (enc(&a, dir), enc(&b, dir));
            if sql_cmp(&a, &b) == Ordering::Equal {
                prop_assert_eq!(ea, eb);
            } else {
                prop_assert!(!ea.starts_with(&eb), "{:02x?} starts with {:02x?}", ea, eb);
                prop_assert!(!eb.starts_with(&ea), "{:02x?} starts with {:02x?}", eb, ea);
            }
        }

        #[test]
        fn roundtrip_and_encoded_len(
            (kind, d) in kind_strategy().prop_flat_map(|k| (Just(k), datum_strategy(k))),
            dir in dir_strategy(),
            trailing in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let mut buf = enc(&d, dir);
            let written = buf.len();
            buf.extend_from_slice(&trailing);
            let (got, n) = decode(&buf, kind, dir).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(same(&got, &canonical(&d)), "{:?} decoded as {:?}", d, got);
            prop_assert_eq!(n, written);
            prop_assert_eq!(encoded_len(&buf, kind, dir).ok(), Some(written));
        }

        #[test]
        fn tuple_order_is_lexicographic(
            (schema, row_a, row_b) in proptest::collection::vec((kind_strategy(), dir_strategy()), 1..=4)
                .prop_flat_map(|schema| {
                    let row = |schema: &[(ColumnKind, Direction)]| {
                        schema.iter().map(|&(k, _)| datum_strategy(k)).collect::<Vec<_>>()
                    };
                    let (a, b) = (row(&schema), row(&schema));
                    (Just(schema), a, b)
                })
        ) {
            let key = |row: &[Datum]| {
                let mut out = Vec::new();
                for (d, &(_, dir)) in row.iter().zip(&schema) {
                    encode(&mut out, d, dir);
                }
                out
            };
            let (ka, kb) = (key(&row_a), key(&row_b));
            let want = row_a
                .iter()
                .zip(&row_b)
                .zip(&schema)
                .map(|((a, b), &(_, dir))| sql_cmp_dir(a, b, dir))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal);
            prop_assert_eq!(ka.cmp(&kb), want, "{:?} {:?} vs {:?}", schema, row_a, row_b);

            // The key splits back into its columns, by decoding and by skipping.
            let mut rest: &[u8] = &ka;
            for (d, &(kind, dir)) in row_a.iter().zip(&schema) {
                let (got, n) = decode(rest, kind, dir).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(same(&got, &canonical(d)));
                prop_assert_eq!(encoded_len(rest, kind, dir).ok(), Some(n));
                rest = &rest[n..];
            }
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn truncated_encodings_fail(
            (kind, d) in kind_strategy().prop_flat_map(|k| (Just(k), datum_strategy(k))),
            dir in dir_strategy(),
        ) {
            let full = enc(&d, dir);
            for cut in 0..full.len() {
                let prefix = &full[..cut];
                prop_assert!(decode(prefix, kind, dir).is_err(), "prefix {:02x?} decoded", prefix);
                prop_assert!(encoded_len(prefix, kind, dir).is_err());
            }
        }

        #[test]
        fn decode_is_total_and_canonical(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(0x00u8), Just(0x01), Just(0x02), Just(0xFD), Just(0xFE), Just(0xFF),
                    any::<u8>(),
                ],
                0..24,
            ),
        ) {
            for kind in KINDS {
                for dir in DIRS {
                    check_canonical(&input, kind, dir)?;
                }
            }
        }

        #[test]
        fn corrupted_encodings_never_decode_differently(
            (kind, d) in kind_strategy().prop_flat_map(|k| (Just(k), datum_strategy(k))),
            dir in dir_strategy(),
            at in any::<prop::sample::Index>(),
            xor in 1u8..=255,
        ) {
            let mut buf = enc(&d, dir);
            let i = at.index(buf.len());
            buf[i] ^= xor;
            check_canonical(&buf, kind, dir)?;
        }
    }

    /// Decoding `input` does not panic; `decode` and `encoded_len` agree; whatever decodes
    /// re-encodes to exactly the bytes it was decoded from.
    fn check_canonical(
        input: &[u8],
        kind: ColumnKind,
        dir: Direction,
    ) -> Result<(), TestCaseError> {
        let decoded = decode(input, kind, dir);
        let len = encoded_len(input, kind, dir);
        match decoded {
            Ok((d, n)) => {
                prop_assert_eq!(len.ok(), Some(n));
                prop_assert!(n <= input.len());
                if let Some(k) = d.kind() {
                    prop_assert_eq!(k, kind);
                }
                prop_assert_eq!(
                    &enc(&d, dir)[..],
                    &input[..n],
                    "{:?} from {:02x?}",
                    d,
                    input
                );
            }
            Err(e) => {
                prop_assert_eq!(len.err(), Some(e.clone()));
                prop_assert!(e.offset <= input.len());
            }
        }
        Ok(())
    }
}

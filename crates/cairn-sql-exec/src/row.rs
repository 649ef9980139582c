//! Row encoding: the value stored under a row's primary key.
//!
//! Role: the executor encodes every row it writes with [`encode_row`] and decodes every row it
//! reads with [`decode_row`]; nothing else knows this layout. `docs/format/sql.md` mirrors it.
//!
//! Format (version 1):
//!
//! ```text
//! u8 version = 1
//! repeated, one per non-NULL column, in column order:
//!   varint column_id
//!   value        see below
//!
//! value := u8 tag, payload:
//!   0 null      (only inside arrays: a NULL column is absent instead)
//!   1 false | 2 true
//!   3 int       zigzag varint (every integer width; date = days, time/timestamp[tz] = µs)
//!   4 float     8 bytes f64 little-endian
//!   5 text      varint length + UTF-8 (every character type, and json)
//!   6 bytes     varint length + bytes
//!   7 numeric   varint length + PostgreSQL's text form at the value's display scale
//!               ("12.50", "NaN", "-Infinity"), so the scale survives
//!   8 interval  zigzag varint months, zigzag varint days, zigzag varint µs
//!   9 uuid      16 bytes
//!   10 jsonb    varint length + jsonb's canonical text (`types::json`)
//!   11 array    varint element count, then one value per element
//!   12 numeric  (finite, unscaled value within i64) varint scale, zigzag varint unscaled
//!               value: 12.50 is scale 2, 1250. Written instead of 7 whenever it fits; 7
//!               stays for the rest (and rows written before tag 12 existed)
//! ```
//!
//! NULL columns are simply absent. Example: `(id 1 = 7, id 2 = 'hi')` encodes as
//! `01 01 03 0e 02 05 02 68 69`; `(id 1 = 12.50::numeric)` as `01 01 0c 02 c4 13`.
//!
//! Invariants:
//! 1. Decoding is driven by the *current* table descriptor: a column id the descriptor no
//!    longer has (dropped column) is skipped; a column the row lacks (added later, or NULL)
//!    decodes as NULL. This is what makes ADD/DROP COLUMN free of rewrites.
//! 2. Decoding never panics: the bytes come from disk (checked by the storage engine's
//!    checksums, but a bug or a future format must still give an error). Test:
//!    `decode_rejects_truncated_rows`.
//! 3. Every value decodes to exactly the value encoded (numeric scale, interval fields, jsonb
//!    normalisation, array NULLs included). Test: `every_value_kind_round_trips`.
//! 4. A decode that names the columns it needs stops once it has them all: the bytes after
//!    the last needed column are not read (nor checked; a needed column that is NULL, absent
//!    from the row, makes it read to the end). Test:
//!    `decoding_stops_after_the_last_needed_column`.

use cairn_codec::varint;
use cairn_codec::Decoder;

use cairn_sql_plan::catalog::TableDef;
use cairn_sql_plan::types::json::parse_json;
use cairn_sql_plan::types::{Interval, Numeric, Value};
use cairn_sql_plan::{code, Result, SqlError};

const VERSION: u8 = 1;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INT: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_TEXT: u8 = 5;
const TAG_BYTES: u8 = 6;
const TAG_NUMERIC: u8 = 7;
const TAG_INTERVAL: u8 = 8;
const TAG_UUID: u8 = 9;
const TAG_JSONB: u8 = 10;
const TAG_ARRAY: u8 = 11;
const TAG_SMALL_NUMERIC: u8 = 12;
const TAG_NULL: u8 = 0;
/// Deepest array nesting the decoder follows (arrays are one-dimensional, so 1 is enough;
/// the bound keeps a corrupt row from recursing without end).
const ARRAY_DEPTH_MAX: u32 = 4;

fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

fn encode_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Int(i) => {
            out.push(TAG_INT);
            varint::put_u64(out, zigzag(*i));
        }
        Value::Float(f) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Text(s) => {
            out.push(TAG_TEXT);
            varint::put_len_prefixed(out, s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            varint::put_len_prefixed(out, b);
        }
        Value::Numeric(n) => match n.to_i128_scaled() {
            Some((unscaled, scale)) if i64::try_from(unscaled).is_ok() => {
                out.push(TAG_SMALL_NUMERIC);
                varint::put_u64(out, u64::from(scale));
                varint::put_u64(out, zigzag(unscaled as i64));
            }
            _ => {
                out.push(TAG_NUMERIC);
                varint::put_len_prefixed(out, n.to_string().as_bytes());
            }
        },
        Value::Interval(iv) => {
            out.push(TAG_INTERVAL);
            varint::put_u64(out, zigzag(iv.months as i64));
            varint::put_u64(out, zigzag(iv.days as i64));
            varint::put_u64(out, zigzag(iv.micros));
        }
        Value::Uuid(u) => {
            out.push(TAG_UUID);
            out.extend_from_slice(u);
        }
        Value::Jsonb(j) => {
            out.push(TAG_JSONB);
            varint::put_len_prefixed(out, j.to_text().as_bytes());
        }
        Value::Array(items) => {
            out.push(TAG_ARRAY);
            varint::put_u64(out, items.len() as u64);
            for item in items {
                encode_value(out, item);
            }
        }
    }
}

/// One value in this module's value encoding (used by the statistics format, analyze.rs).
pub(crate) fn encode_datum(out: &mut Vec<u8>, v: &Value) {
    encode_value(out, v)
}

/// Decodes one value written by [`encode_datum`]; errors name `table`.
pub(crate) fn decode_datum(table: &TableDef, d: &mut Decoder) -> Result<Value> {
    decode_value(table, d, 0)
}

pub fn encode_row(table: &TableDef, row: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + row.len() * 8);
    out.push(VERSION);
    for (col, v) in table.columns.iter().zip(row) {
        if v.is_null() {
            continue;
        }
        varint::put_u32(&mut out, col.id);
        encode_value(&mut out, v);
    }
    out
}

fn corrupt(table: &TableDef, what: String) -> SqlError {
    SqlError::new(
        code::DATA_CORRUPTED,
        format!("row of table \"{}\" is corrupt: {what}", table.name),
    )
}

fn decode_value(table: &TableDef, d: &mut Decoder, depth: u32) -> Result<Value> {
    let err = |e: cairn_codec::DecodeError| corrupt(table, e.to_string());
    fn str_of<'b>(table: &TableDef, b: &'b [u8], what: &str) -> Result<&'b str> {
        std::str::from_utf8(b).map_err(|_| corrupt(table, format!("{what} is not UTF-8")))
    }
    let text = |b: &[u8], what: &str| str_of(table, b, what).map(str::to_owned);
    let int = |d: &mut Decoder| d.varint_u64().map(unzigzag).map_err(err);
    let tag = d.u8("value tag").map_err(err)?;
    Ok(match tag {
        TAG_NULL => Value::Null,
        TAG_FALSE => Value::Bool(false),
        TAG_TRUE => Value::Bool(true),
        TAG_INT => Value::Int(int(d)?),
        TAG_FLOAT => {
            let b = d.bytes(8, "float").map_err(err)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Value::Float(f64::from_le_bytes(a))
        }
        TAG_TEXT => Value::Text(text(d.len_prefixed("text").map_err(err)?, "text")?),
        TAG_BYTES => Value::Bytes(d.len_prefixed("bytes").map_err(err)?.to_vec()),
        TAG_NUMERIC => {
            let s = str_of(table, d.len_prefixed("numeric").map_err(err)?, "numeric")?;
            Value::numeric(
                Numeric::parse(s).map_err(|_| corrupt(table, format!("bad numeric {s:?}")))?,
            )
        }
        TAG_SMALL_NUMERIC => {
            let scale = d.varint_u32().map_err(err)?;
            if scale > cairn_sql_plan::types::numeric::MAX_DSCALE {
                return Err(corrupt(
                    table,
                    format!("numeric scale {scale} out of range"),
                ));
            }
            Value::numeric(Numeric::from_i128(i128::from(int(d)?), scale))
        }
        TAG_INTERVAL => {
            let months = i32::try_from(int(d)?)
                .map_err(|_| corrupt(table, "interval months out of range".into()))?;
            let days = i32::try_from(int(d)?)
                .map_err(|_| corrupt(table, "interval days out of range".into()))?;
            Value::Interval(Interval::new(months, days, int(d)?))
        }
        TAG_UUID => {
            let b = d.bytes(16, "uuid").map_err(err)?;
            let mut u = [0u8; 16];
            u.copy_from_slice(b);
            Value::Uuid(u)
        }
        TAG_JSONB => {
            let s = text(d.len_prefixed("jsonb").map_err(err)?, "jsonb")?;
            Value::Jsonb(Box::new(
                parse_json(&s).map_err(|_| corrupt(table, "bad jsonb text".into()))?,
            ))
        }
        TAG_ARRAY => {
            let n = array_len(table, d, depth)?;
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                items.push(decode_value(table, d, depth + 1)?);
            }
            Value::Array(items)
        }
        other => return Err(corrupt(table, format!("unknown value tag {other}"))),
    })
}

pub fn decode_row(table: &TableDef, bytes: &[u8]) -> Result<Vec<Value>> {
    decode_row_needed(table, bytes, None)
}

/// [`decode_row`], but the columns whose position `needed` marks `false` are skipped over
/// undecoded and left NULL (a scan whose plan reads only some columns: `prune.rs`).
pub fn decode_row_needed(
    table: &TableDef,
    bytes: &[u8],
    needed: Option<&[bool]>,
) -> Result<Vec<Value>> {
    let mut row = null_row(table);
    decode_into(table, bytes, needed, &mut row)?;
    Ok(row)
}

/// A row of `table` with every column NULL (what [`decode_into`] fills).
pub fn null_row(table: &TableDef) -> Vec<Value> {
    let mut row = Vec::with_capacity(table.columns.len());
    row.resize_with(table.columns.len(), || Value::Null);
    row
}

/// Decodes the `needed` columns of the row in `bytes` into their positions of `row` (one
/// value per column of `table`), leaving the other positions as they are: a scan decodes its
/// filter's columns first and the rest only for the rows the filter keeps.
pub fn decode_into(
    table: &TableDef,
    bytes: &[u8],
    needed: Option<&[bool]>,
    row: &mut [Value],
) -> Result<()> {
    if row.len() != table.columns.len() {
        return Err(SqlError::internal(format!(
            "row of {} values for the {} columns of \"{}\"",
            row.len(),
            table.columns.len(),
            table.name
        )));
    }
    let mut d = Decoder::new(bytes);
    let version = d
        .u8("row version")
        .map_err(|e| corrupt(table, e.to_string()))?;
    if version != VERSION {
        return Err(corrupt(
            table,
            format!("unknown row format version {version}"),
        ));
    }
    if needed.is_some_and(|n| n.len() >= table.columns.len() && !n.contains(&true)) {
        // Nothing to read (`count(*)`); the storage engine's checksums cover the rest.
        return Ok(());
    }
    // Decoding stops once every needed column has been found: the bytes after it hold only
    // columns the caller skips (a scan reading `l_shipdate` never walks past it to
    // `l_comment`). A needed column that is NULL is absent, so such a row is walked to its
    // end.
    let mut wanted_left = match needed {
        None => table.columns.len(),
        // Positions past the end of `needed` are needed (as below).
        Some(n) => {
            n.iter().take(table.columns.len()).filter(|&&w| w).count()
                + table.columns.len().saturating_sub(n.len())
        }
    };
    // Rows are written in column order, so the next column is almost always the one after
    // the last one found.
    let mut next = 0;
    while !d.is_empty() && wanted_left > 0 {
        let err = |e: cairn_codec::DecodeError| corrupt(table, e.to_string());
        let id = d.varint_u32().map_err(err)?;
        let position = match table.columns.get(next) {
            Some(c) if c.id == id => Some(next),
            _ => table.column_by_id(id).map(|(i, _)| i),
        };
        if let Some(i) = position {
            next = i + 1;
        }
        let wanted = position.filter(|&i| needed.is_none_or(|n| n.get(i).copied().unwrap_or(true)));
        match wanted {
            Some(i) => {
                let v = decode_value(table, &mut d, 0)?;
                if v.is_null() {
                    return Err(corrupt(table, "NULL tag outside an array".into()));
                }
                row[i] = v;
                wanted_left -= 1;
            }
            None => skip_value(table, &mut d, 0)?,
        }
    }
    Ok(())
}

/// The element count of an array value at nesting `depth`, checked against the nesting
/// bound and the bytes left (every element takes at least one byte, so a corrupt count
/// cannot make the decoder allocate more than the input).
fn array_len(table: &TableDef, d: &mut Decoder, depth: u32) -> Result<u64> {
    if depth >= ARRAY_DEPTH_MAX {
        return Err(corrupt(table, "arrays nested too deeply".into()));
    }
    let n = d.varint_u64().map_err(|e| corrupt(table, e.to_string()))?;
    if n > d.remaining().len() as u64 {
        return Err(corrupt(table, "array longer than the row".into()));
    }
    Ok(n)
}

/// Moves `d` past one value without decoding it (the bytes are read as [`decode_value`]
/// reads them, so a truncated or unknown value is still an error).
fn skip_value(table: &TableDef, d: &mut Decoder, depth: u32) -> Result<()> {
    let err = |e: cairn_codec::DecodeError| corrupt(table, e.to_string());
    match d.u8("value tag").map_err(err)? {
        TAG_NULL | TAG_FALSE | TAG_TRUE => {}
        TAG_INT => {
            d.varint_u64().map_err(err)?;
        }
        TAG_FLOAT => {
            d.bytes(8, "float").map_err(err)?;
        }
        TAG_TEXT | TAG_BYTES | TAG_NUMERIC | TAG_JSONB => {
            d.len_prefixed("value").map_err(err)?;
        }
        TAG_SMALL_NUMERIC => {
            d.varint_u32().map_err(err)?;
            d.varint_u64().map_err(err)?;
        }
        TAG_INTERVAL => {
            for _ in 0..3 {
                d.varint_u64().map_err(err)?;
            }
        }
        TAG_UUID => {
            d.bytes(16, "uuid").map_err(err)?;
        }
        TAG_ARRAY => {
            for _ in 0..array_len(table, d, depth)? {
                skip_value(table, d, depth + 1)?;
            }
        }
        other => return Err(corrupt(table, format!("unknown value tag {other}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sql_plan::catalog::{ColumnDef, IndexColumn, IndexDef, PRIMARY_INDEX_ID};
    use cairn_sql_plan::types::DataType;

    pub(crate) fn table(cols: &[(u32, DataType)]) -> TableDef {
        TableDef {
            id: 100,
            database_id: 1,
            schema: "public".into(),
            name: "t".into(),
            columns: cols
                .iter()
                .map(|(id, ty)| ColumnDef {
                    id: *id,
                    name: format!("c{id}"),
                    ty: ty.clone(),
                    nullable: true,
                    default: None,
                    hidden: false,
                })
                .collect(),
            primary: IndexDef {
                id: PRIMARY_INDEX_ID,
                name: "t_pkey".into(),
                columns: vec![IndexColumn {
                    column_id: cols[0].0,
                    descending: false,
                }],
                unique: true,
                constraint: true,
            },
            indexes: vec![],
            checks: vec![],
            next_column_id: 10,
            next_index_id: 2,
            has_declared_primary_key: true,
            foreign_keys: Vec::new(),
            referenced_by: Vec::new(),
        }
    }

    #[test]
    fn encoding_matches_the_documented_example() {
        let t = table(&[(1, DataType::Int4), (2, DataType::Text)]);
        let b = encode_row(&t, &[Value::Int(7), Value::Text("hi".into())]);
        assert_eq!(
            b,
            vec![0x01, 0x01, 0x03, 0x0e, 0x02, 0x05, 0x02, 0x68, 0x69]
        );
    }

    #[test]
    fn round_trip_and_schema_changes() {
        let t = table(&[
            (1, DataType::Int8),
            (2, DataType::Float8),
            (3, DataType::Bool),
            (4, DataType::Bytea),
        ]);
        let row = vec![
            Value::Int(-5),
            Value::Float(1.5),
            Value::Null,
            Value::Bytes(vec![0, 255]),
        ];
        let b = encode_row(&t, &row);
        assert_eq!(decode_row(&t, &b).unwrap(), row);
        // Column 2 dropped, column 9 added: old rows read NULL for the new column.
        let t2 = table(&[
            (1, DataType::Int8),
            (3, DataType::Bool),
            (4, DataType::Bytea),
            (9, DataType::Int4),
        ]);
        assert_eq!(
            decode_row(&t2, &b).unwrap(),
            vec![
                Value::Int(-5),
                Value::Null,
                Value::Bytes(vec![0, 255]),
                Value::Null
            ]
        );
    }

    #[test]
    fn every_value_kind_round_trips() {
        use cairn_sql_plan::types::parse_text;
        let cases = [
            ("12.50", DataType::Numeric(None)),
            ("-Infinity", DataType::Numeric(None)),
            ("NaN", DataType::Numeric(None)),
            ("1 year 2 mons -3 days 04:05:06.5", DataType::Interval),
            ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", DataType::Uuid),
            (r#"{"a": [1, 2.50, null], "b": "x"}"#, DataType::Jsonb),
            ("{1,NULL,3}", DataType::Array(Box::new(DataType::Int4))),
            (
                r#"{"a b",NULL,""}"#,
                DataType::Array(Box::new(DataType::Text)),
            ),
            (
                "{1.50,NaN}",
                DataType::Array(Box::new(DataType::Numeric(None))),
            ),
            ("{}", DataType::Array(Box::new(DataType::Int8))),
            ("2024-03-01 12:34:56.789", DataType::Timestamp(None)),
        ];
        for (text, ty) in cases {
            let t = table(&[(1, DataType::Int4), (2, ty.clone())]);
            let v = parse_text(text, &ty).unwrap();
            let row = vec![Value::Int(1), v.clone()];
            let back = decode_row(&t, &encode_row(&t, &row)).unwrap();
            assert_eq!(back, row, "{text}");
            assert_eq!(back[1].to_text(&ty).unwrap(), v.to_text(&ty).unwrap());
        }
        let t = table(&[(1, DataType::Numeric(None))]);
        let b = encode_row(
            &t,
            &[parse_text("12.50", &DataType::Numeric(None)).unwrap()],
        );
        assert_eq!(b, vec![0x01, 0x01, 0x0c, 0x02, 0xc4, 0x13]);
        // Tag 7 (the text form) is what rows written before tag 12 hold, and what a
        // value beyond i64 unscaled still gets; both read back.
        assert_eq!(
            decode_row(&t, &[0x01, 0x01, 0x07, 0x05, 0x31, 0x32, 0x2e, 0x35, 0x30]).unwrap(),
            vec![parse_text("12.50", &DataType::Numeric(None)).unwrap()]
        );
        for text in [
            "-9223372036854775808",
            "9223372036854775808",
            "0.000",
            "-0.5",
        ] {
            let v = parse_text(text, &DataType::Numeric(None)).unwrap();
            let b = encode_row(&t, std::slice::from_ref(&v));
            let small = text != "9223372036854775808";
            assert_eq!(b[2] == 0x0c, small, "{text}");
            let back = decode_row(&t, &b).unwrap();
            assert_eq!(
                back[0].to_text(&DataType::Numeric(None)).as_deref(),
                Some(text)
            );
        }
        let big = parse_text("10000000000000000000", &DataType::Numeric(None)).unwrap();
        let mut want = vec![0x01, 0x01, 0x07, 0x14, b'1'];
        want.extend([b'0'; 19]);
        assert_eq!(encode_row(&t, &[big]), want);
        // A scale beyond numeric's is corrupt, not a huge allocation.
        assert!(decode_row(&t, &[0x01, 0x01, 0x0c, 0xff, 0xff, 0x03, 0x02]).is_err());
        // The other worked examples of docs/format/sql.md.
        let arr = DataType::Array(Box::new(DataType::Int4));
        let ta = table(&[(1, arr.clone())]);
        let b = encode_row(&ta, &[parse_text("{1,NULL}", &arr).unwrap()]);
        assert_eq!(b, vec![0x01, 0x01, 0x0b, 0x02, 0x03, 0x02, 0x00]);
        let ti = table(&[(1, DataType::Interval)]);
        let b = encode_row(&ti, &[parse_text("1 day", &DataType::Interval).unwrap()]);
        assert_eq!(b, vec![0x01, 0x01, 0x08, 0x00, 0x02, 0x00]);
        // A NULL tag may only appear inside an array; an array count beyond the row fails.
        assert!(decode_row(&t, &[1, 1, 0]).is_err());
        assert!(decode_row(&t, &[1, 1, 11, 100, 3, 2]).is_err());
        assert!(decode_row(&t, &[1, 1, 7, 1, b'x']).is_err());
    }

    #[test]
    fn unneeded_columns_are_skipped_and_left_null() {
        let t = table(&[
            (1, DataType::Int8),
            (2, DataType::Text),
            (3, DataType::Array(Box::new(DataType::Numeric(None)))),
            (4, DataType::Interval),
            (5, DataType::Bool),
        ]);
        let row = vec![
            Value::Int(-5),
            Value::Text("skip me".into()),
            cairn_sql_plan::types::parse_text(
                "{1.5,NULL,2}",
                &DataType::Array(Box::new(DataType::Numeric(None))),
            )
            .unwrap(),
            cairn_sql_plan::types::parse_text("1 day 2 hours", &DataType::Interval).unwrap(),
            Value::Bool(true),
        ];
        let b = encode_row(&t, &row);
        let needed = [true, false, false, true, true];
        let got = decode_row_needed(&t, &b, Some(&needed)).unwrap();
        let mut want = row.clone();
        want[1] = Value::Null;
        want[2] = Value::Null;
        assert_eq!(got, want);
        // Skipping still notices a row cut short.
        assert!(decode_row_needed(&t, &b[..b.len() - 3], Some(&needed)).is_err());
        // No column needed (count(*)): a row of NULLs, the values not even looked at; the
        // version byte is still checked.
        let none = [false; 5];
        assert_eq!(
            decode_row_needed(&t, &b, Some(&none)).unwrap(),
            vec![Value::Null; 5]
        );
        let mut bad = b.clone();
        bad[0] = 9;
        assert!(decode_row_needed(&t, &bad, Some(&none)).is_err());
        // Decoding in two parts (a scan's filter columns, then the rest) gives the row one
        // decoding gives, and leaves positions outside `needed` untouched.
        let first = [false, false, true, false, true];
        let rest = [true, false, false, true, false];
        let mut two = vec![Value::Null; 5];
        decode_into(&t, &b, Some(&first), &mut two).unwrap();
        assert_eq!(two[0], Value::Null);
        assert_eq!(two[4], Value::Bool(true));
        decode_into(&t, &b, Some(&rest), &mut two).unwrap();
        let mut want = row.clone();
        want[1] = Value::Null;
        assert_eq!(two, want);
        assert!(decode_into(&t, &b, Some(&rest), &mut [Value::Null]).is_err());
        // A `needed` shorter than the row reads the positions it does not cover.
        let got = decode_row_needed(&t, &b, Some(&[false; 4])).unwrap();
        assert_eq!(got[4], Value::Bool(true));
    }

    #[test]
    fn decoding_stops_after_the_last_needed_column() {
        let t = table(&[
            (1, DataType::Int8),
            (2, DataType::Text),
            (3, DataType::Int8),
        ]);
        let row = [Value::Int(7), Value::Text("tail".into()), Value::Int(9)];
        // An unknown tag after the first column: only a decoder that walks on sees it.
        let mut b = encode_row(&t, &[row[0].clone(), Value::Null, Value::Null]);
        b.extend_from_slice(&[2, 0xee]);
        let got = decode_row_needed(&t, &b, Some(&[true, false, false])).unwrap();
        assert_eq!(got, vec![Value::Int(7), Value::Null, Value::Null]);
        assert!(decode_row(&t, &b).is_err());
        assert!(decode_row_needed(&t, &b, Some(&[true, true, false])).is_err());
        // A needed column that is NULL (absent) makes the decoder read the whole row.
        let b = encode_row(&t, &[Value::Int(7), Value::Null, row[2].clone()]);
        let got = decode_row_needed(&t, &b, Some(&[false, true, true])).unwrap();
        assert_eq!(got, vec![Value::Null, Value::Null, Value::Int(9)]);
    }

    #[test]
    fn decode_rejects_truncated_rows() {
        let t = table(&[(1, DataType::Int8), (2, DataType::Text)]);
        let b = encode_row(&t, &[Value::Int(300), Value::Text("hello".into())]);
        for cut in 0..b.len() {
            let r = decode_row(&t, &b[..cut]);
            if cut == 0 {
                assert!(r.is_err());
            }
            if let Err(e) = r {
                assert_eq!(e.code, code::DATA_CORRUPTED);
            }
        }
        assert!(decode_row(&t, &[1, 1, 99]).is_err());
        assert!(decode_row(&t, &[7]).is_err());
    }
}

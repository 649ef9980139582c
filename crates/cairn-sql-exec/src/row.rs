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
//!   u8 tag       1 false | 2 true | 3 int | 4 float | 5 text | 6 bytes
//!   payload      int: zigzag varint; float: 8 bytes f64 little-endian;
//!                text / bytes: varint length + bytes
//! ```
//!
//! NULL columns are simply absent. Example: `(id 1 = 7, id 2 = 'hi')` encodes as
//! `01 01 03 0e 02 05 02 68 69`.
//!
//! Invariants:
//! 1. Decoding is driven by the *current* table descriptor: a column id the descriptor no
//!    longer has (dropped column) is skipped; a column the row lacks (added later, or NULL)
//!    decodes as NULL. This is what makes ADD/DROP COLUMN free of rewrites.
//! 2. Decoding never panics: the bytes come from disk (checked by the storage engine's
//!    checksums, but a bug or a future format must still give an error). Test:
//!    `decode_rejects_truncated_rows`.

use cairn_codec::varint;
use cairn_codec::Decoder;

use cairn_sql_plan::catalog::TableDef;
use cairn_sql_plan::types::Value;
use cairn_sql_plan::{code, Result, SqlError};

const VERSION: u8 = 1;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INT: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_TEXT: u8 = 5;
const TAG_BYTES: u8 = 6;

pub fn encode_row(table: &TableDef, row: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + row.len() * 8);
    out.push(VERSION);
    for (col, v) in table.columns.iter().zip(row) {
        if v.is_null() {
            continue;
        }
        varint::put_u32(&mut out, col.id);
        match v {
            Value::Null => {}
            Value::Bool(false) => out.push(TAG_FALSE),
            Value::Bool(true) => out.push(TAG_TRUE),
            Value::Int(i) => {
                out.push(TAG_INT);
                varint::put_u64(&mut out, ((i << 1) ^ (i >> 63)) as u64);
            }
            Value::Float(f) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&f.to_le_bytes());
            }
            Value::Text(s) => {
                out.push(TAG_TEXT);
                varint::put_len_prefixed(&mut out, s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(TAG_BYTES);
                varint::put_len_prefixed(&mut out, b);
            }
        }
    }
    out
}

fn corrupt(table: &TableDef, what: String) -> SqlError {
    SqlError::new(
        code::DATA_CORRUPTED,
        format!("row of table \"{}\" is corrupt: {what}", table.name),
    )
}

pub fn decode_row(table: &TableDef, bytes: &[u8]) -> Result<Vec<Value>> {
    let mut row = vec![Value::Null; table.columns.len()];
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
    while !d.is_empty() {
        let err = |e: cairn_codec::DecodeError| corrupt(table, e.to_string());
        let id = d.varint_u32().map_err(err)?;
        let tag = d.u8("value tag").map_err(err)?;
        let v = match tag {
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_INT => {
                let z = d.varint_u64().map_err(err)?;
                Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            TAG_FLOAT => {
                let b = d.bytes(8, "float").map_err(err)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Float(f64::from_le_bytes(a))
            }
            TAG_TEXT => {
                let b = d.len_prefixed("text").map_err(err)?;
                Value::Text(
                    String::from_utf8(b.to_vec())
                        .map_err(|_| corrupt(table, "text is not UTF-8".into()))?,
                )
            }
            TAG_BYTES => Value::Bytes(d.len_prefixed("bytes").map_err(err)?.to_vec()),
            other => return Err(corrupt(table, format!("unknown value tag {other}"))),
        };
        if let Some((i, _)) = table.column_by_id(id) {
            row[i] = v;
        }
    }
    Ok(row)
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
            },
            indexes: vec![],
            checks: vec![],
            next_column_id: 10,
            next_index_id: 2,
            has_declared_primary_key: true,
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

//! The types of PostgreSQL's system catalogs that clients see in catalog queries: `oid`,
//! `name`, `"char"`, the `reg*` object-identifier aliases, `int2vector`, `oidvector`,
//! `pg_node_tree`, `xid` and `aclitem` ([`SysType`], carried as [`DataType::Sys`]).
//!
//! Role: the virtual catalog tables (`cairn-sql-exec`'s `pg_catalog` module) declare their
//! columns with these types so RowDescription reports PostgreSQL's type OIDs (drivers decode by
//! OID: tokio-postgres reads an `oid` column only as `u32`, a `"char"` only as `i8`); the
//! binder casts to and from them (`'t'::regclass`, `c.oid::regclass::text`); `types.rs`
//! delegates their text and binary forms and casts here.
//!
//! Representation (`types` invariant 1 extended):
//! - `oid`, `xid` and every `reg*` type are `Value::Int` in `[0, 2^32)`.
//! - `name`, `"char"`, `pg_node_tree`, `aclitem` are `Value::Text`; a `"char"` holds at most
//!   one character.
//! - `int2vector` and `oidvector` are `Value::Array` of `Value::Int` (their text form is the
//!   elements separated by spaces, `"1 3"`; subscripts start at 0, see `bind::pg_ext`).
//!
//! Invariants:
//! 1. A stored or computed `oid`-like value is in `[0, 2^32)`: input wraps negative int4 values
//!    as PostgreSQL's `oidin` does (`-1` is 4294967295) and rejects anything outside
//!    `[-2^31, 2^32)`. Test: `oid_input_wraps_and_checks_range`.
//! 2. A `reg*` value prints as its number here; the names PostgreSQL prints (`regclassout`)
//!    need the catalog, so the binder wraps `reg*` output columns and `reg*`→text casts in
//!    catalog functions (`cairn-sql-exec` `pg_catalog`). Test (exec):
//!    `regclass_prints_relation_names`.
//! 3. Parsing never panics on any input (it comes from clients).

use serde::{Deserialize, Serialize};

use crate::error::{code, Result, SqlError};
use crate::types::{oid, DataType, Value};

/// Type OIDs of the system types (`pg_type.oid`), beside `types::oid`.
pub mod sys_oid {
    pub const INT2VECTOR: u32 = 22;
    pub const REGPROC: u32 = 24;
    pub const XID: u32 = 28;
    pub const OIDVECTOR: u32 = 30;
    pub const PG_NODE_TREE: u32 = 194;
    pub const ACLITEM: u32 = 1033;
    pub const REGCLASS: u32 = 2205;
    pub const REGTYPE: u32 = 2206;
    pub const REGNAMESPACE: u32 = 4089;
    pub const REGROLE: u32 = 4096;
}

/// A system-catalog type (see the module header for how each is represented).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SysType {
    Oid,
    /// `name`: an identifier, at most 63 bytes.
    Name,
    /// `"char"`: one byte (PostgreSQL's internal single-character type).
    Char,
    RegClass,
    RegType,
    RegProc,
    RegNamespace,
    RegRole,
    Int2Vector,
    OidVector,
    PgNodeTree,
    Xid,
    AclItem,
}

/// The longest `name` in bytes (PostgreSQL's NAMEDATALEN - 1).
pub const NAME_BYTES_MAX: usize = 63;

impl SysType {
    pub fn oid(self) -> u32 {
        match self {
            SysType::Oid => oid::OID,
            SysType::Name => oid::NAME,
            SysType::Char => oid::CHAR,
            SysType::RegClass => sys_oid::REGCLASS,
            SysType::RegType => sys_oid::REGTYPE,
            SysType::RegProc => sys_oid::REGPROC,
            SysType::RegNamespace => sys_oid::REGNAMESPACE,
            SysType::RegRole => sys_oid::REGROLE,
            SysType::Int2Vector => sys_oid::INT2VECTOR,
            SysType::OidVector => sys_oid::OIDVECTOR,
            SysType::PgNodeTree => sys_oid::PG_NODE_TREE,
            SysType::Xid => sys_oid::XID,
            SysType::AclItem => sys_oid::ACLITEM,
        }
    }

    pub fn from_oid(type_oid: u32) -> Option<SysType> {
        Some(match type_oid {
            oid::OID => SysType::Oid,
            oid::NAME => SysType::Name,
            oid::CHAR => SysType::Char,
            sys_oid::REGCLASS => SysType::RegClass,
            sys_oid::REGTYPE => SysType::RegType,
            sys_oid::REGPROC => SysType::RegProc,
            sys_oid::REGNAMESPACE => SysType::RegNamespace,
            sys_oid::REGROLE => SysType::RegRole,
            sys_oid::INT2VECTOR => SysType::Int2Vector,
            sys_oid::OIDVECTOR => SysType::OidVector,
            sys_oid::PG_NODE_TREE => SysType::PgNodeTree,
            sys_oid::XID => SysType::Xid,
            sys_oid::ACLITEM => SysType::AclItem,
            _ => return None,
        })
    }

    /// The OID of the array type of this type (`oid[]` is 1028), 0 if it has none.
    pub fn array_oid(self) -> u32 {
        match self {
            SysType::Oid => 1028,
            SysType::Name => 1003,
            SysType::Char => 1002,
            SysType::RegClass => 2210,
            SysType::RegType => 2211,
            SysType::RegProc => 1008,
            SysType::RegNamespace => 4090,
            SysType::RegRole => 4097,
            SysType::Int2Vector => 1006,
            SysType::OidVector => 1013,
            SysType::Xid => 1011,
            SysType::AclItem => 1034,
            SysType::PgNodeTree => 0,
        }
    }

    /// The system type whose array type has OID `array_oid`.
    pub fn from_array_oid(array_oid: u32) -> Option<SysType> {
        [
            SysType::Oid,
            SysType::Name,
            SysType::Char,
            SysType::RegClass,
            SysType::RegType,
            SysType::RegProc,
            SysType::RegNamespace,
            SysType::RegRole,
            SysType::Int2Vector,
            SysType::OidVector,
            SysType::Xid,
            SysType::AclItem,
        ]
        .into_iter()
        .find(|s| s.array_oid() == array_oid)
    }

    /// `format_type` of the array type (`oid[]`, `"char"[]`).
    pub fn array_sql_name(self) -> &'static str {
        match self {
            SysType::Oid => "oid[]",
            SysType::Name => "name[]",
            SysType::Char => "\"char\"[]",
            SysType::RegClass => "regclass[]",
            SysType::RegType => "regtype[]",
            SysType::RegProc => "regproc[]",
            SysType::RegNamespace => "regnamespace[]",
            SysType::RegRole => "regrole[]",
            SysType::Int2Vector => "int2vector[]",
            SysType::OidVector => "oidvector[]",
            SysType::Xid => "xid[]",
            SysType::AclItem => "aclitem[]",
            SysType::PgNodeTree => "anyarray",
        }
    }

    /// The type for a type name as SQL spells it (`oid`, `regclass`, `"char"`), if it is one.
    pub fn from_name(name: &str) -> Option<SysType> {
        Some(match name {
            "oid" => SysType::Oid,
            "name" => SysType::Name,
            "char" => SysType::Char,
            "regclass" => SysType::RegClass,
            "regtype" => SysType::RegType,
            "regproc" => SysType::RegProc,
            "regnamespace" => SysType::RegNamespace,
            "regrole" => SysType::RegRole,
            "int2vector" => SysType::Int2Vector,
            "oidvector" => SysType::OidVector,
            "pg_node_tree" => SysType::PgNodeTree,
            "xid" => SysType::Xid,
            "aclitem" => SysType::AclItem,
            _ => return None,
        })
    }

    /// `pg_type.typlen`.
    pub fn type_len(self) -> i16 {
        match self {
            SysType::Name => 64,
            SysType::Char => 1,
            SysType::AclItem => 12,
            SysType::Int2Vector | SysType::OidVector | SysType::PgNodeTree => -1,
            _ => 4,
        }
    }

    /// The name `format_type` prints (`"char"` keeps its quotes, as in PostgreSQL).
    pub fn sql_name(self) -> &'static str {
        match self {
            SysType::Oid => "oid",
            SysType::Name => "name",
            SysType::Char => "\"char\"",
            SysType::RegClass => "regclass",
            SysType::RegType => "regtype",
            SysType::RegProc => "regproc",
            SysType::RegNamespace => "regnamespace",
            SysType::RegRole => "regrole",
            SysType::Int2Vector => "int2vector",
            SysType::OidVector => "oidvector",
            SysType::PgNodeTree => "pg_node_tree",
            SysType::Xid => "xid",
            SysType::AclItem => "aclitem",
        }
    }

    /// `pg_type.typname`.
    pub fn type_name(self) -> &'static str {
        match self {
            SysType::Char => "char",
            other => other.sql_name(),
        }
    }

    /// Represented as `Value::Int` object identifiers (`oid`, `xid`, `reg*`).
    pub fn is_oid_like(self) -> bool {
        matches!(
            self,
            SysType::Oid
                | SysType::Xid
                | SysType::RegClass
                | SysType::RegType
                | SysType::RegProc
                | SysType::RegNamespace
                | SysType::RegRole
        )
    }

    /// The `reg*` aliases, whose output is a name looked up in the catalog.
    pub fn is_reg(self) -> bool {
        self.is_oid_like() && !matches!(self, SysType::Oid | SysType::Xid)
    }

    /// Behaves as a character string in operators and functions (compared as text).
    pub fn is_string(self) -> bool {
        matches!(self, SysType::Name | SysType::Char | SysType::PgNodeTree)
    }

    /// Text input (`oidin`, `namein`, `charin`, ...). `reg*` input here accepts only numbers:
    /// names need the catalog, which the binder consults for literals (invariant 2).
    pub fn parse_text(self, input: &str) -> Result<Value> {
        match self {
            SysType::Name => Ok(Value::Text(truncate_name(input).to_string())),
            SysType::Char => Ok(Value::Text(input.chars().take(1).collect())),
            SysType::PgNodeTree | SysType::AclItem => Ok(Value::Text(input.to_string())),
            SysType::Int2Vector | SysType::OidVector => {
                let elem = self.vector_element();
                input
                    .split_whitespace()
                    .map(|w| crate::types::parse_text(w, &elem))
                    .collect::<Result<Vec<_>>>()
                    .map(Value::Array)
            }
            _ => parse_oid(input, self),
        }
    }

    /// Text output; `None` for NULL.
    pub fn to_text(self, v: &Value) -> Option<String> {
        Some(match v {
            Value::Null => return None,
            Value::Int(i) => {
                if self == SysType::RegProc && *i == 0 {
                    "-".to_string()
                } else {
                    i.to_string()
                }
            }
            Value::Text(s) => s.clone(),
            Value::Array(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|v| match v {
                        Value::Int(i) => i.to_string(),
                        _ => "0".to_string(),
                    })
                    .collect();
                parts.join(" ")
            }
            other => format!("{other:?}"),
        })
    }

    /// The element type of `int2vector` (`int2`) and `oidvector` (`oid`).
    pub fn vector_element(self) -> DataType {
        match self {
            SysType::OidVector => DataType::Sys(SysType::Oid),
            _ => DataType::Int2,
        }
    }

    /// Binary output (`oidsend`: 4 bytes big-endian; `charsend`: 1 byte; strings as bytes).
    pub fn to_binary(self, v: &Value) -> Option<Vec<u8>> {
        Some(match v {
            Value::Null => return None,
            Value::Int(i) => (*i as u32).to_be_bytes().to_vec(),
            Value::Text(s) if self == SysType::Char => vec![s.bytes().next().unwrap_or(0)],
            Value::Text(s) => s.as_bytes().to_vec(),
            other => self.to_text(other).unwrap_or_default().into_bytes(),
        })
    }

    /// Binary input.
    pub fn parse_binary(self, input: &[u8]) -> Result<Value> {
        if self.is_oid_like() {
            let b: [u8; 4] = input.try_into().map_err(|_| {
                SqlError::new(
                    code::PROTOCOL_VIOLATION,
                    format!(
                        "incorrect binary data format for type {} ({} bytes)",
                        self.sql_name(),
                        input.len()
                    ),
                )
            })?;
            return Ok(Value::Int(u32::from_be_bytes(b) as i64));
        }
        if self == SysType::Char {
            return Ok(Value::Text(match input.first() {
                None | Some(0) => String::new(),
                Some(b) if b.is_ascii() => (*b as char).to_string(),
                Some(_) => String::from(char::REPLACEMENT_CHARACTER),
            }));
        }
        let s = std::str::from_utf8(input)
            .map_err(|_| SqlError::new("22021", "invalid byte sequence for encoding \"UTF8\""))?;
        self.parse_text(s)
    }
}

/// `name` input: at most [`NAME_BYTES_MAX`] bytes, cut at a character boundary.
pub fn truncate_name(s: &str) -> &str {
    if s.len() <= NAME_BYTES_MAX {
        return s;
    }
    let mut end = NAME_BYTES_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `oidin` (invariant 1).
fn parse_oid(input: &str, ty: SysType) -> Result<Value> {
    let t = input.trim();
    match t.parse::<i64>() {
        Ok(v) => oid_value(v, ty).map_err(|_| {
            SqlError::new(
                code::NUMERIC_VALUE_OUT_OF_RANGE,
                format!(
                    "value \"{input}\" is out of range for type {}",
                    ty.sql_name()
                ),
            )
        }),
        Err(_) if ty.is_reg() => Err(SqlError::new(
            code::FEATURE_NOT_SUPPORTED,
            format!(
                "{} input of a name here (use a literal, as in '{input}'::{})",
                ty.sql_name(),
                ty.sql_name()
            ),
        )),
        Err(_) => Err(SqlError::invalid_text(ty.sql_name(), input)),
    }
}

/// An integer as an object identifier: negative int4 values wrap (invariant 1).
pub fn oid_value(v: i64, ty: SysType) -> Result<Value> {
    if (0..=u32::MAX as i64).contains(&v) {
        Ok(Value::Int(v))
    } else if (i32::MIN as i64..0).contains(&v) {
        Ok(Value::Int(v + (1i64 << 32)))
    } else {
        Err(SqlError::out_of_range(ty.sql_name()))
    }
}

/// The common type of two operands when a system type is involved, if there is one
/// (PostgreSQL: integers convert implicitly to `oid` and the `reg*` types, which are `oid`s).
pub fn common(a: &DataType, b: &DataType) -> Option<DataType> {
    let oidish = |t: &DataType| matches!(t, DataType::Sys(s) if s.is_oid_like());
    match (a, b) {
        (DataType::Sys(SysType::Xid), t) | (t, DataType::Sys(SysType::Xid)) if t.is_integer() => {
            Some(DataType::Sys(SysType::Xid))
        }
        (x, y) if oidish(x) && (oidish(y) || y.is_integer()) => Some(DataType::Sys(SysType::Oid)),
        (x, y) if oidish(y) && x.is_integer() => Some(DataType::Sys(SysType::Oid)),
        _ => None,
    }
}

/// Casts involving system types that `types::cast`'s general rules do not cover; `None`
/// leaves the cast to them.
pub fn cast(v: &Value, from: &DataType, to: &DataType) -> Option<Result<Value>> {
    match (v, from, to) {
        // Integer or object identifier to an object identifier: range-checked, negative int4
        // values wrap (invariant 1).
        (Value::Int(i), f, DataType::Sys(t))
            if t.is_oid_like()
                && (f.is_integer() || matches!(f, DataType::Sys(s) if s.is_oid_like())) =>
        {
            Some(oid_value(*i, *t))
        }
        // Object identifiers to integers: oid -> int4 reinterprets the bits, as PostgreSQL's
        // binary-coercible cast does.
        (Value::Int(i), DataType::Sys(s), t) if s.is_oid_like() && t.is_integer() => {
            Some(match t {
                DataType::Int4 => Ok(Value::Int(*i as u32 as i32 as i64)),
                DataType::Int2 => i16::try_from(*i)
                    .map(|x| Value::Int(x as i64))
                    .map_err(|_| SqlError::out_of_range("smallint")),
                _ => Ok(Value::Int(*i)),
            })
        }
        // int2vector / oidvector to arrays of their elements.
        (Value::Array(items), DataType::Sys(s), DataType::Array(e))
            if matches!(s, SysType::Int2Vector | SysType::OidVector)
                && **e == s.vector_element() =>
        {
            Some(Ok(Value::Array(items.clone())))
        }
        // "char" to and from integers: the character's code (PostgreSQL's int4 <-> "char").
        (Value::Text(s), DataType::Sys(SysType::Char), DataType::Int4) => Some(Ok(Value::Int(
            s.bytes().next().map_or(0, |b| b as i8 as i64),
        ))),
        (Value::Int(i), DataType::Int4, DataType::Sys(SysType::Char)) => Some(
            u8::try_from(*i)
                .ok()
                .filter(|b| b.is_ascii())
                .map(|b| {
                    Value::Text(if b == 0 {
                        String::new()
                    } else {
                        (b as char).to_string()
                    })
                })
                .ok_or_else(|| SqlError::out_of_range("\"char\"")),
        ),
        _ => None,
    }
}

/// Assignment casts into system-type columns beyond the general rules (integers to `oid`).
pub fn assignable(from: &DataType, to: &DataType) -> bool {
    matches!(to, DataType::Sys(t) if t.is_oid_like())
        && (from.is_integer() || matches!(from, DataType::Sys(s) if s.is_oid_like()))
}

/// Whether an explicit `CAST` between these types exists.
pub fn castable(from: &DataType, to: &DataType) -> bool {
    let oidish = |t: &DataType| matches!(t, DataType::Sys(s) if s.is_oid_like());
    from == to
        || from.is_string()
        || to.is_string()
        || (oidish(from) && (oidish(to) || to.is_integer()))
        || (oidish(to) && from.is_integer())
        || matches!(
            (from, to),
            (DataType::Sys(SysType::Char), DataType::Int4)
                | (DataType::Int4, DataType::Sys(SysType::Char))
        )
        || matches!((from, to), (DataType::Sys(s @ (SysType::Int2Vector | SysType::OidVector)), DataType::Array(e)) if **e == s.vector_element())
}

/// OIDs of the schemas Cairn has (`pg_namespace.oid`): PostgreSQL's fixed ones for
/// `pg_catalog`, `pg_toast` (always empty here) and `public`, and PostgreSQL 15.18's initdb
/// value for `information_schema`.
pub mod namespace {
    pub const PG_CATALOG: u32 = 11;
    pub const PG_TOAST: u32 = 99;
    pub const PUBLIC: u32 = 2200;
    pub const INFORMATION_SCHEMA: u32 = 13207;

    /// `(oid, name)` of every schema.
    pub const ALL: &[(u32, &str)] = &[
        (PG_CATALOG, "pg_catalog"),
        (PG_TOAST, "pg_toast"),
        (PUBLIC, "public"),
        (INFORMATION_SCHEMA, "information_schema"),
    ];

    pub fn name(oid: u32) -> Option<&'static str> {
        ALL.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n)
    }

    pub fn oid(name: &str) -> Option<u32> {
        ALL.iter().find(|(_, n)| *n == name).map(|(o, _)| *o)
    }
}

/// One row of `pg_type` for a type Cairn has (PostgreSQL 15's values).
#[derive(Clone, Debug, PartialEq)]
pub struct TypeEntry {
    pub oid: u32,
    pub name: String,
    pub len: i16,
    pub by_value: bool,
    /// `typtype`: `b` base, `p` pseudo-type.
    pub kind: char,
    pub category: char,
    pub preferred: bool,
    pub elem: u32,
    pub array: u32,
    pub input: &'static str,
    pub output: &'static str,
    pub receive: &'static str,
    pub send: &'static str,
    pub align: char,
    pub storage: char,
    pub collation: u32,
}

/// `(oid, typname, typlen, typbyval, typcategory, typispreferred, typelem, typarray, in, out,
/// recv, send, typalign, typstorage, typcollation)` of the base types, from PostgreSQL 15.
#[expect(
    clippy::type_complexity,
    reason = "a literal table, one tuple per pg_type row"
)]
#[rustfmt::skip]
const BASE_TYPES: &[(u32, &str, i16, bool, char, bool, u32, u32, &str, &str, &str, &str, char, char, u32)] = &[
    (16, "bool", 1, true, 'B', true, 0, 1000, "boolin", "boolout", "boolrecv", "boolsend", 'c', 'p', 0),
    (17, "bytea", -1, false, 'U', false, 0, 1001, "byteain", "byteaout", "bytearecv", "byteasend", 'i', 'x', 0),
    (18, "char", 1, true, 'Z', false, 0, 1002, "charin", "charout", "charrecv", "charsend", 'c', 'p', 0),
    (19, "name", 64, false, 'S', false, 18, 1003, "namein", "nameout", "namerecv", "namesend", 'c', 'p', 950),
    (20, "int8", 8, true, 'N', false, 0, 1016, "int8in", "int8out", "int8recv", "int8send", 'd', 'p', 0),
    (21, "int2", 2, true, 'N', false, 0, 1005, "int2in", "int2out", "int2recv", "int2send", 's', 'p', 0),
    (22, "int2vector", -1, false, 'A', false, 21, 1006, "int2vectorin", "int2vectorout", "int2vectorrecv", "int2vectorsend", 'i', 'p', 0),
    (23, "int4", 4, true, 'N', false, 0, 1007, "int4in", "int4out", "int4recv", "int4send", 'i', 'p', 0),
    (24, "regproc", 4, true, 'N', false, 0, 1008, "regprocin", "regprocout", "regprocrecv", "regprocsend", 'i', 'p', 0),
    (25, "text", -1, false, 'S', true, 0, 1009, "textin", "textout", "textrecv", "textsend", 'i', 'x', 100),
    (26, "oid", 4, true, 'N', true, 0, 1028, "oidin", "oidout", "oidrecv", "oidsend", 'i', 'p', 0),
    (28, "xid", 4, true, 'U', false, 0, 1011, "xidin", "xidout", "xidrecv", "xidsend", 'i', 'p', 0),
    (30, "oidvector", -1, false, 'A', false, 26, 1013, "oidvectorin", "oidvectorout", "oidvectorrecv", "oidvectorsend", 'i', 'p', 0),
    (114, "json", -1, false, 'U', false, 0, 199, "json_in", "json_out", "json_recv", "json_send", 'i', 'x', 0),
    (194, "pg_node_tree", -1, false, 'Z', false, 0, 0, "pg_node_tree_in", "pg_node_tree_out", "pg_node_tree_recv", "pg_node_tree_send", 'i', 'x', 100),
    (700, "float4", 4, true, 'N', false, 0, 1021, "float4in", "float4out", "float4recv", "float4send", 'i', 'p', 0),
    (701, "float8", 8, true, 'N', true, 0, 1022, "float8in", "float8out", "float8recv", "float8send", 'd', 'p', 0),
    (705, "unknown", -2, false, 'X', false, 0, 0, "unknownin", "unknownout", "unknownrecv", "unknownsend", 'c', 'p', 0),
    (1033, "aclitem", 12, false, 'U', false, 0, 1034, "aclitemin", "aclitemout", "-", "-", 'i', 'p', 0),
    (1042, "bpchar", -1, false, 'S', false, 0, 1014, "bpcharin", "bpcharout", "bpcharrecv", "bpcharsend", 'i', 'x', 100),
    (1043, "varchar", -1, false, 'S', false, 0, 1015, "varcharin", "varcharout", "varcharrecv", "varcharsend", 'i', 'x', 100),
    (1082, "date", 4, true, 'D', false, 0, 1182, "date_in", "date_out", "date_recv", "date_send", 'i', 'p', 0),
    (1083, "time", 8, true, 'D', false, 0, 1183, "time_in", "time_out", "time_recv", "time_send", 'd', 'p', 0),
    (1114, "timestamp", 8, true, 'D', false, 0, 1115, "timestamp_in", "timestamp_out", "timestamp_recv", "timestamp_send", 'd', 'p', 0),
    (1184, "timestamptz", 8, true, 'D', true, 0, 1185, "timestamptz_in", "timestamptz_out", "timestamptz_recv", "timestamptz_send", 'd', 'p', 0),
    (1186, "interval", 16, false, 'T', true, 0, 1187, "interval_in", "interval_out", "interval_recv", "interval_send", 'd', 'p', 0),
    (1700, "numeric", -1, false, 'N', false, 0, 1231, "numeric_in", "numeric_out", "numeric_recv", "numeric_send", 'i', 'm', 0),
    (2205, "regclass", 4, true, 'N', false, 0, 2210, "regclassin", "regclassout", "regclassrecv", "regclasssend", 'i', 'p', 0),
    (2206, "regtype", 4, true, 'N', false, 0, 2211, "regtypein", "regtypeout", "regtyperecv", "regtypesend", 'i', 'p', 0),
    (2950, "uuid", 16, false, 'U', false, 0, 2951, "uuid_in", "uuid_out", "uuid_recv", "uuid_send", 'c', 'p', 0),
    (3802, "jsonb", -1, false, 'U', false, 0, 3807, "jsonb_in", "jsonb_out", "jsonb_recv", "jsonb_send", 'i', 'x', 0),
    (4089, "regnamespace", 4, true, 'N', false, 0, 4090, "regnamespacein", "regnamespaceout", "regnamespacerecv", "regnamespacesend", 'i', 'p', 0),
    (4096, "regrole", 4, true, 'N', false, 0, 4097, "regrolein", "regroleout", "regrolerecv", "regrolesend", 'i', 'p', 0),
];

/// Every `pg_type` row: the base types and, for each with an array type, that array type
/// (`_int4`, ...), in OID order.
pub fn type_entries() -> Vec<TypeEntry> {
    let mut out = Vec::with_capacity(BASE_TYPES.len() * 2);
    for &(
        oid,
        name,
        len,
        by_value,
        category,
        preferred,
        elem,
        array,
        input,
        output,
        receive,
        send,
        align,
        storage,
        collation,
    ) in BASE_TYPES
    {
        out.push(TypeEntry {
            oid,
            name: name.to_string(),
            len,
            by_value,
            kind: if oid == crate::types::oid::UNKNOWN {
                'p'
            } else {
                'b'
            },
            category,
            preferred,
            elem,
            array,
            input,
            output,
            receive,
            send,
            align,
            storage,
            collation,
        });
        if array != 0 {
            out.push(TypeEntry {
                oid: array,
                name: format!("_{name}"),
                len: -1,
                by_value: false,
                kind: 'b',
                category: 'A',
                preferred: false,
                elem: oid,
                array: 0,
                input: "array_in",
                output: "array_out",
                receive: "array_recv",
                send: "array_send",
                align: if align == 'd' { 'd' } else { 'i' },
                storage: 'x',
                collation,
            });
        }
    }
    out.sort_by_key(|t| t.oid);
    out
}

/// PostgreSQL's `format_type(type_oid, typmod)`: the SQL name of a type with its modifier
/// (`character varying(10)`, `integer[]`); `typmod = None` is the one-argument form
/// (`character` rather than `bpchar`). Unknown OIDs print as `???`, OID 0 as `-`.
pub fn format_type(type_oid: u32, typmod: Option<i32>) -> String {
    if type_oid == 0 {
        return "-".into();
    }
    let len = |t: i32| (t >= 4).then(|| t - 4);
    match type_oid {
        oid::BPCHAR => {
            return match typmod {
                None => "character".into(),
                Some(t) => match len(t) {
                    Some(n) => format!("character({n})"),
                    None => "bpchar".into(),
                },
            }
        }
        oid::VARCHAR => {
            return match typmod.and_then(len) {
                Some(n) => format!("character varying({n})"),
                None => "character varying".into(),
            }
        }
        _ => {}
    }
    if let Some(DataType::Array(elem)) = DataType::from_oid(type_oid) {
        return format!("{}[]", format_type(elem.oid(), typmod));
    }
    if let Some(t) = DataType::from_oid(type_oid) {
        // Types whose modifier is part of the name: numeric(p,s), time[stamp](p).
        let t = match (t, typmod) {
            (DataType::Numeric(_), Some(m)) if m >= 4 => {
                let m = m - 4;
                DataType::Numeric(Some(((m >> 16) & 0xffff, m & 0xffff)))
            }
            (DataType::Time(_), Some(m)) if m >= 0 => DataType::Time(Some(m as u32)),
            (DataType::Timestamp(_), Some(m)) if m >= 0 => DataType::Timestamp(Some(m as u32)),
            (DataType::Timestamptz(_), Some(m)) if m >= 0 => DataType::Timestamptz(Some(m as u32)),
            (t, _) => t,
        };
        return t.sql_name();
    }
    match type_entries()
        .into_iter()
        .find(|e| e.oid == type_oid && e.category == 'A' && e.name.starts_with('_'))
    {
        Some(e) => format!("{}[]", format_type(e.elem, typmod)),
        None => "???".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_input_wraps_and_checks_range() {
        assert_eq!(SysType::Oid.parse_text("16384").unwrap(), Value::Int(16384));
        assert_eq!(
            SysType::Oid.parse_text("-1").unwrap(),
            Value::Int(4_294_967_295)
        );
        assert_eq!(
            SysType::Oid.parse_text("4294967295").unwrap(),
            Value::Int(4_294_967_295)
        );
        assert_eq!(
            SysType::Oid.parse_text("4294967296").unwrap_err().code,
            code::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            SysType::Oid.parse_text("x").unwrap_err().code,
            code::INVALID_TEXT_REPRESENTATION
        );
        assert_eq!(
            SysType::RegClass.parse_text("pg_class").unwrap_err().code,
            code::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(
            cast(
                &Value::Int(-1),
                &DataType::Int4,
                &DataType::Sys(SysType::Oid)
            )
            .unwrap()
            .unwrap(),
            Value::Int(4_294_967_295)
        );
        assert_eq!(
            cast(
                &Value::Int(4_294_967_295),
                &DataType::Sys(SysType::Oid),
                &DataType::Int4
            )
            .unwrap()
            .unwrap(),
            Value::Int(-1)
        );
    }

    #[test]
    fn binary_forms_match_postgres() {
        assert_eq!(
            SysType::Oid.to_binary(&Value::Int(4_294_967_295)).unwrap(),
            vec![0xff; 4]
        );
        assert_eq!(
            SysType::Oid.parse_binary(&[0, 0, 0x40, 0]).unwrap(),
            Value::Int(16384)
        );
        assert!(SysType::Oid.parse_binary(&[1, 2]).is_err());
        assert_eq!(
            SysType::Char.to_binary(&Value::Text("r".into())).unwrap(),
            vec![b'r']
        );
        assert_eq!(
            SysType::Char
                .to_binary(&Value::Text(String::new()))
                .unwrap(),
            vec![0]
        );
        assert_eq!(
            SysType::Char.parse_binary(b"i").unwrap(),
            Value::Text("i".into())
        );
        assert_eq!(
            SysType::RegProc.to_text(&Value::Int(0)).unwrap(),
            "-".to_string()
        );
        let v = SysType::Int2Vector.parse_text("6 5").unwrap();
        assert_eq!(v, Value::Array(vec![Value::Int(6), Value::Int(5)]));
        assert_eq!(SysType::Int2Vector.to_text(&v).unwrap(), "6 5");
        assert!(SysType::Int2Vector.parse_text("1 x").is_err());
    }

    #[test]
    fn names_are_truncated_at_63_bytes_on_a_char_boundary() {
        let long = "é".repeat(40);
        let t = truncate_name(&long);
        assert!(t.len() <= NAME_BYTES_MAX);
        assert_eq!(t.chars().count(), 31);
        assert_eq!(truncate_name("abc"), "abc");
        for s in ["", "\u{0}", "-", "99999999999999999999", "é"] {
            for t in [
                SysType::Oid,
                SysType::Name,
                SysType::Char,
                SysType::RegClass,
                SysType::Xid,
                SysType::Int2Vector,
            ] {
                let _ = t.parse_text(s);
                let _ = t.parse_binary(s.as_bytes());
            }
        }
    }

    #[test]
    fn format_type_matches_postgres() {
        assert_eq!(format_type(23, Some(-1)), "integer");
        assert_eq!(format_type(1043, Some(104)), "character varying(100)");
        assert_eq!(format_type(1043, None), "character varying");
        assert_eq!(format_type(1042, Some(7)), "character(3)");
        assert_eq!(format_type(1042, Some(-1)), "bpchar");
        assert_eq!(format_type(1042, None), "character");
        assert_eq!(format_type(18, None), "\"char\"");
        assert_eq!(format_type(1007, Some(-1)), "integer[]");
        assert_eq!(format_type(1015, Some(14)), "character varying(10)[]");
        assert_eq!(format_type(701, None), "double precision");
        assert_eq!(format_type(1700, Some((10 << 16 | 2) + 4)), "numeric(10,2)");
        assert_eq!(format_type(1700, Some(-1)), "numeric");
        assert_eq!(format_type(1184, Some(3)), "timestamp(3) with time zone");
        assert_eq!(format_type(1114, Some(-1)), "timestamp without time zone");
        assert_eq!(format_type(0, None), "-");
        assert_eq!(format_type(99999, None), "???");
        let types = type_entries();
        assert!(
            types.windows(2).all(|w| w[0].oid < w[1].oid),
            "sorted, unique"
        );
        assert!(types
            .iter()
            .any(|t| t.oid == 1007 && t.name == "_int4" && t.elem == 23));
    }
}

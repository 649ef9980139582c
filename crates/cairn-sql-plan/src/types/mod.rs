//! The SQL type system: [`DataType`] (what a column or expression is) and [`Value`] (one datum),
//! with PostgreSQL's text and binary representations and its casts.
//!
//! Role: the binder types every expression with a `DataType`; the evaluator computes `Value`s;
//! the executor stores them (row encoding in `cairn-sql-exec`); the protocol layer sends them in
//! text or binary form through [`Value::to_text`] / [`Value::to_binary`] and reads parameters
//! through [`parse_text`] / [`parse_binary`]. The types with more machinery live in
//! submodules: [`numeric`], [`datetime`], [`uuid`], [`json`], [`array`].
//!
//! Invariants:
//! 1. A `Value` is only meaningful together with the `DataType` of the expression or column that
//!    produced it; integers of every width are `Value::Int`, floats of both widths are
//!    `Value::Float`, every character type (and `json`, kept as its input text) is
//!    `Value::Text`; `date` is `Value::Int(days since 2000-01-01)` and `time`, `timestamp`,
//!    `timestamptz` are `Value::Int(microseconds)` (see `datetime`). `Value::Null` belongs to
//!    every type.
//! 2. A value stored in a column of type T has already been through [`cast`] to T, so it is in
//!    range (an `int2` column never holds 40000) and rounded (a `real` holds an `f32`-exact
//!    number, a `numeric(5,2)` two fractional digits). Tests: `casts_check_ranges_and_round_real`,
//!    `numeric_casts_match_postgres`.
//! 3. Text output is byte-for-byte PostgreSQL 15's with default settings (`extra_float_digits = 1`,
//!    `bytea_output = hex`, `DateStyle = ISO, MDY`, `IntervalStyle = postgres`,
//!    `TimeZone = UTC`). Tests: `float_text_matches_postgres`, the submodules' tests.
//! 4. Parsing never panics on any input (the input comes from clients).
//! 5. [`compare`] is PostgreSQL's ordering for every type (NaN greatest for floats and numeric,
//!    intervals by their 30-day-month span, arrays element-wise, jsonb by its btree order).

pub mod array;
pub mod datetime;
pub mod json;
pub mod numeric;
pub mod uuid;

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::{code, Result, SqlError};
use crate::systypes::SysType;
pub use datetime::Interval;
pub use json::Jsonb;
pub use numeric::Numeric;

/// PostgreSQL type OIDs for the types Cairn has (`pg_type.oid`).
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
    // Array types.
    pub const JSON_ARRAY: u32 = 199;
    pub const BOOL_ARRAY: u32 = 1000;
    pub const BYTEA_ARRAY: u32 = 1001;
    pub const INT2_ARRAY: u32 = 1005;
    pub const INT4_ARRAY: u32 = 1007;
    pub const TEXT_ARRAY: u32 = 1009;
    pub const BPCHAR_ARRAY: u32 = 1014;
    pub const VARCHAR_ARRAY: u32 = 1015;
    pub const INT8_ARRAY: u32 = 1016;
    pub const FLOAT4_ARRAY: u32 = 1021;
    pub const FLOAT8_ARRAY: u32 = 1022;
    pub const TIMESTAMP_ARRAY: u32 = 1115;
    pub const DATE_ARRAY: u32 = 1182;
    pub const TIME_ARRAY: u32 = 1183;
    pub const TIMESTAMPTZ_ARRAY: u32 = 1185;
    pub const INTERVAL_ARRAY: u32 = 1187;
    pub const NUMERIC_ARRAY: u32 = 1231;
    pub const UUID_ARRAY: u32 = 2951;
    pub const JSONB_ARRAY: u32 = 3807;
}

/// The type of a column, parameter or expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Text,
    /// `varchar(n)`; `None` = no limit.
    Varchar(Option<u32>),
    /// `char(n)` (blank-padded to n characters).
    Char(u32),
    Bytea,
    /// A system-catalog type (`oid`, `name`, `"char"`, `regclass`, ...): `systypes`.
    Sys(SysType),
    /// A string literal or NULL whose type the context has not fixed yet (PostgreSQL's
    /// `unknown`). Sent to clients as `text`.
    Unknown,
    /// `numeric(precision, scale)`; `None` = any precision and scale.
    Numeric(Option<(i32, i32)>),
    Date,
    /// `time(p)` without time zone; `p` = fractional digits kept (`None` = all 6).
    Time(Option<u32>),
    /// `timestamp(p)` without time zone.
    Timestamp(Option<u32>),
    /// `timestamp(p)` with time zone.
    Timestamptz(Option<u32>),
    Interval,
    Uuid,
    Jsonb,
    /// `json`: validated, kept and printed as the input text.
    Json,
    /// A one-dimensional array of a scalar type.
    Array(Box<DataType>),
}

impl DataType {
    pub fn oid(&self) -> u32 {
        match self {
            DataType::Bool => oid::BOOL,
            DataType::Int2 => oid::INT2,
            DataType::Int4 => oid::INT4,
            DataType::Int8 => oid::INT8,
            DataType::Float4 => oid::FLOAT4,
            DataType::Float8 => oid::FLOAT8,
            DataType::Text | DataType::Unknown => oid::TEXT,
            DataType::Varchar(_) => oid::VARCHAR,
            DataType::Char(_) => oid::BPCHAR,
            DataType::Bytea => oid::BYTEA,
            DataType::Sys(s) => s.oid(),
            DataType::Numeric(_) => oid::NUMERIC,
            DataType::Date => oid::DATE,
            DataType::Time(_) => oid::TIME,
            DataType::Timestamp(_) => oid::TIMESTAMP,
            DataType::Timestamptz(_) => oid::TIMESTAMPTZ,
            DataType::Interval => oid::INTERVAL,
            DataType::Uuid => oid::UUID,
            DataType::Jsonb => oid::JSONB,
            DataType::Json => oid::JSON,
            DataType::Array(elem) => match elem.as_ref() {
                DataType::Bool => oid::BOOL_ARRAY,
                DataType::Bytea => oid::BYTEA_ARRAY,
                DataType::Int2 => oid::INT2_ARRAY,
                DataType::Int4 => oid::INT4_ARRAY,
                DataType::Int8 => oid::INT8_ARRAY,
                DataType::Float4 => oid::FLOAT4_ARRAY,
                DataType::Float8 => oid::FLOAT8_ARRAY,
                DataType::Varchar(_) => oid::VARCHAR_ARRAY,
                DataType::Char(_) => oid::BPCHAR_ARRAY,
                DataType::Numeric(_) => oid::NUMERIC_ARRAY,
                DataType::Date => oid::DATE_ARRAY,
                DataType::Time(_) => oid::TIME_ARRAY,
                DataType::Timestamp(_) => oid::TIMESTAMP_ARRAY,
                DataType::Timestamptz(_) => oid::TIMESTAMPTZ_ARRAY,
                DataType::Interval => oid::INTERVAL_ARRAY,
                DataType::Uuid => oid::UUID_ARRAY,
                DataType::Jsonb => oid::JSONB_ARRAY,
                DataType::Json => oid::JSON_ARRAY,
                DataType::Sys(s) => s.array_oid(),
                _ => oid::TEXT_ARRAY,
            },
        }
    }

    /// The type for a parameter or column OID a client names, if Cairn has it.
    pub fn from_oid(type_oid: u32) -> Option<DataType> {
        let array = |t: DataType| DataType::Array(Box::new(t));
        Some(match type_oid {
            oid::BOOL => DataType::Bool,
            oid::INT2 => DataType::Int2,
            oid::INT4 => DataType::Int4,
            oid::INT8 => DataType::Int8,
            oid::FLOAT4 => DataType::Float4,
            oid::FLOAT8 => DataType::Float8,
            oid::TEXT => DataType::Text,
            oid::VARCHAR => DataType::Varchar(None),
            oid::BPCHAR => DataType::Char(1),
            oid::BYTEA => DataType::Bytea,
            oid::UNKNOWN => DataType::Unknown,
            oid::NUMERIC => DataType::Numeric(None),
            oid::DATE => DataType::Date,
            oid::TIME => DataType::Time(None),
            oid::TIMESTAMP => DataType::Timestamp(None),
            oid::TIMESTAMPTZ => DataType::Timestamptz(None),
            oid::INTERVAL => DataType::Interval,
            oid::UUID => DataType::Uuid,
            oid::JSONB => DataType::Jsonb,
            oid::JSON => DataType::Json,
            oid::BOOL_ARRAY => array(DataType::Bool),
            oid::BYTEA_ARRAY => array(DataType::Bytea),
            oid::INT2_ARRAY => array(DataType::Int2),
            oid::INT4_ARRAY => array(DataType::Int4),
            oid::INT8_ARRAY => array(DataType::Int8),
            oid::TEXT_ARRAY => array(DataType::Text),
            oid::VARCHAR_ARRAY => array(DataType::Varchar(None)),
            oid::BPCHAR_ARRAY => array(DataType::Char(1)),
            oid::FLOAT4_ARRAY => array(DataType::Float4),
            oid::FLOAT8_ARRAY => array(DataType::Float8),
            oid::NUMERIC_ARRAY => array(DataType::Numeric(None)),
            oid::DATE_ARRAY => array(DataType::Date),
            oid::TIME_ARRAY => array(DataType::Time(None)),
            oid::TIMESTAMP_ARRAY => array(DataType::Timestamp(None)),
            oid::TIMESTAMPTZ_ARRAY => array(DataType::Timestamptz(None)),
            oid::INTERVAL_ARRAY => array(DataType::Interval),
            oid::UUID_ARRAY => array(DataType::Uuid),
            oid::JSONB_ARRAY => array(DataType::Jsonb),
            oid::JSON_ARRAY => array(DataType::Json),
            _ => {
                return SysType::from_oid(type_oid)
                    .map(DataType::Sys)
                    .or_else(|| SysType::from_array_oid(type_oid).map(|s| array(DataType::Sys(s))))
            }
        })
    }

    /// `pg_type.typlen`: the fixed width in bytes, or -1 for variable-length types.
    pub fn type_len(&self) -> i16 {
        match self {
            DataType::Bool => 1,
            DataType::Int2 => 2,
            DataType::Int4 | DataType::Float4 | DataType::Date => 4,
            DataType::Int8
            | DataType::Float8
            | DataType::Time(_)
            | DataType::Timestamp(_)
            | DataType::Timestamptz(_) => 8,
            DataType::Interval | DataType::Uuid => 16,
            DataType::Sys(s) => s.type_len(),
            _ => -1,
        }
    }

    /// `atttypmod` as PostgreSQL reports it (-1 = none; for character types n + 4, for
    /// numeric `(precision << 16 | scale) + 4`, for times the precision).
    pub fn type_modifier(&self) -> i32 {
        match self {
            DataType::Varchar(Some(n)) | DataType::Char(n) => *n as i32 + 4,
            DataType::Numeric(Some((p, s))) => ((p << 16) | (s & 0x7ff)) + 4,
            DataType::Time(Some(p))
            | DataType::Timestamp(Some(p))
            | DataType::Timestamptz(Some(p)) => *p as i32,
            DataType::Array(elem) => elem.type_modifier(),
            _ => -1,
        }
    }

    /// The name `format_type` prints (`integer`, `character varying(10)`, ...).
    pub fn sql_name(&self) -> String {
        let with_p = |base: &str, p: &Option<u32>, zone: &str| match p {
            Some(p) => format!("{base}({p}) {zone}"),
            None => format!("{base} {zone}"),
        };
        match self {
            DataType::Bool => "boolean".into(),
            DataType::Int2 => "smallint".into(),
            DataType::Int4 => "integer".into(),
            DataType::Int8 => "bigint".into(),
            DataType::Float4 => "real".into(),
            DataType::Float8 => "double precision".into(),
            DataType::Text => "text".into(),
            DataType::Varchar(None) => "character varying".into(),
            DataType::Varchar(Some(n)) => format!("character varying({n})"),
            DataType::Char(n) => format!("character({n})"),
            DataType::Bytea => "bytea".into(),
            DataType::Sys(s) => s.sql_name().into(),
            DataType::Unknown => "unknown".into(),
            DataType::Numeric(None) => "numeric".into(),
            DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            DataType::Date => "date".into(),
            DataType::Time(p) => with_p("time", p, "without time zone"),
            DataType::Timestamp(p) => with_p("timestamp", p, "without time zone"),
            DataType::Timestamptz(p) => with_p("timestamp", p, "with time zone"),
            DataType::Interval => "interval".into(),
            DataType::Uuid => "uuid".into(),
            DataType::Jsonb => "jsonb".into(),
            DataType::Json => "json".into(),
            DataType::Array(elem) => format!("{}[]", elem.sql_name()),
        }
    }

    /// The short name used in error messages (`integer`, `smallint`, ...).
    pub fn short_name(&self) -> &'static str {
        match self {
            DataType::Bool => "boolean",
            DataType::Int2 => "smallint",
            DataType::Int4 => "integer",
            DataType::Int8 => "bigint",
            DataType::Float4 => "real",
            DataType::Float8 => "double precision",
            DataType::Text => "text",
            DataType::Varchar(_) => "character varying",
            DataType::Char(_) => "character",
            DataType::Bytea => "bytea",
            DataType::Sys(s) => s.sql_name(),
            DataType::Unknown => "unknown",
            DataType::Numeric(_) => "numeric",
            DataType::Date => "date",
            DataType::Time(_) => "time without time zone",
            DataType::Timestamp(_) => "timestamp without time zone",
            DataType::Timestamptz(_) => "timestamp with time zone",
            DataType::Interval => "interval",
            DataType::Uuid => "uuid",
            DataType::Jsonb => "jsonb",
            DataType::Json => "json",
            DataType::Array(elem) => match elem.as_ref() {
                DataType::Bool => "boolean[]",
                DataType::Int2 => "smallint[]",
                DataType::Int4 => "integer[]",
                DataType::Int8 => "bigint[]",
                DataType::Float4 => "real[]",
                DataType::Float8 => "double precision[]",
                DataType::Text => "text[]",
                DataType::Varchar(_) => "character varying[]",
                DataType::Char(_) => "character[]",
                DataType::Bytea => "bytea[]",
                DataType::Numeric(_) => "numeric[]",
                DataType::Date => "date[]",
                DataType::Time(_) => "time without time zone[]",
                DataType::Timestamp(_) => "timestamp without time zone[]",
                DataType::Timestamptz(_) => "timestamp with time zone[]",
                DataType::Interval => "interval[]",
                DataType::Uuid => "uuid[]",
                DataType::Jsonb => "jsonb[]",
                DataType::Json => "json[]",
                DataType::Sys(s) => s.array_sql_name(),
                _ => "anyarray",
            },
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, DataType::Int2 | DataType::Int4 | DataType::Int8)
    }

    pub fn is_float(&self) -> bool {
        matches!(self, DataType::Float4 | DataType::Float8)
    }

    /// Integers, NUMERIC and floats: the types arithmetic operators take.
    pub fn is_numeric(&self) -> bool {
        self.is_integer() || self.is_float() || matches!(self, DataType::Numeric(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown
        ) || matches!(self, DataType::Sys(s) if s.is_string())
    }

    /// date, timestamp, timestamptz (the types that implicitly convert into each other).
    pub fn is_datetime(&self) -> bool {
        matches!(
            self,
            DataType::Date | DataType::Timestamp(_) | DataType::Timestamptz(_)
        )
    }

    /// The type without its modifier (`numeric(5,2)` → `numeric`), for type-family checks.
    pub fn unconstrained(&self) -> DataType {
        match self {
            DataType::Numeric(_) => DataType::Numeric(None),
            DataType::Time(_) => DataType::Time(None),
            DataType::Timestamp(_) => DataType::Timestamp(None),
            DataType::Timestamptz(_) => DataType::Timestamptz(None),
            DataType::Array(e) => DataType::Array(Box::new(e.unconstrained())),
            other => other.clone(),
        }
    }

    pub fn element(&self) -> Option<&DataType> {
        match self {
            DataType::Array(e) => Some(e),
            _ => None,
        }
    }

    /// Rank in PostgreSQL's implicit numeric promotion
    /// (int2 < int4 < int8 < numeric < float4 < float8).
    fn numeric_rank(&self) -> Option<u8> {
        Some(match self {
            DataType::Int2 => 0,
            DataType::Int4 => 1,
            DataType::Int8 => 2,
            DataType::Numeric(_) => 3,
            DataType::Float4 => 4,
            DataType::Float8 => 5,
            _ => return None,
        })
    }

    fn datetime_rank(&self) -> Option<u8> {
        Some(match self {
            DataType::Date => 0,
            DataType::Timestamp(_) => 1,
            DataType::Timestamptz(_) => 2,
            _ => return None,
        })
    }

    /// The common type two operands are promoted to for arithmetic or comparison, if one exists
    /// without an explicit cast. `Unknown` takes the other side's type.
    pub fn common(a: &DataType, b: &DataType) -> Option<DataType> {
        if a == b {
            return Some(a.clone());
        }
        match (a, b) {
            (DataType::Unknown, other) | (other, DataType::Unknown) => Some(other.clone()),
            (DataType::Array(x), DataType::Array(y)) => {
                DataType::common(x, y).map(|t| DataType::Array(Box::new(t)))
            }
            _ => {
                if let Some(t) = crate::systypes::common(a, b) {
                    return Some(t);
                }
                if a.unconstrained() == b.unconstrained() {
                    // Same type, different modifiers: the unconstrained type.
                    return Some(a.unconstrained());
                }
                if let (Some(x), Some(y)) = (a.numeric_rank(), b.numeric_rank()) {
                    return Some(if x >= y { a.clone() } else { b.clone() }.unconstrained());
                }
                if let (Some(x), Some(y)) = (a.datetime_rank(), b.datetime_rank()) {
                    return Some(if x >= y { a.clone() } else { b.clone() }.unconstrained());
                }
                if a.is_string() && b.is_string() {
                    // text wins over varchar and char, as in PostgreSQL's preferred type.
                    return Some(DataType::Text);
                }
                if matches!(
                    (a, b),
                    (DataType::Time(_), DataType::Interval)
                        | (DataType::Interval, DataType::Time(_))
                ) {
                    return Some(DataType::Interval);
                }
                None
            }
        }
    }
}

/// One datum. See invariant 1: the type lives beside it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Numeric(Box<Numeric>),
    Interval(Interval),
    Uuid([u8; 16]),
    Jsonb(Box<Jsonb>),
    /// Elements of the array's element type (one dimension, lower bound 1).
    Array(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn numeric(n: Numeric) -> Value {
        Value::Numeric(Box::new(n))
    }

    /// Three-valued truth: `None` for NULL.
    pub fn as_bool(&self) -> Result<Option<bool>> {
        match self {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            other => Err(SqlError::internal(format!(
                "expected a boolean value, found {other:?}"
            ))),
        }
    }

    /// PostgreSQL's text output of this value as type `ty`; `None` for NULL.
    pub fn to_text(&self, ty: &DataType) -> Option<String> {
        if let DataType::Sys(s) = ty {
            return s.to_text(self);
        }
        Some(match self {
            Value::Null => return None,
            Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
            Value::Int(i) => match ty {
                DataType::Date => datetime::format_date(*i),
                DataType::Time(_) => datetime::format_time(*i),
                DataType::Timestamp(_) => datetime::format_timestamp(*i, false),
                DataType::Timestamptz(_) => datetime::format_timestamp(*i, true),
                _ => i.to_string(),
            },
            Value::Float(f) => format_float(*f, matches!(ty, DataType::Float4)),
            Value::Text(s) => s.clone(),
            Value::Bytes(b) => {
                let mut s = String::with_capacity(2 + b.len() * 2);
                s.push_str("\\x");
                for byte in b {
                    let _ = write!(s, "{byte:02x}");
                }
                s
            }
            Value::Numeric(n) => n.to_string(),
            Value::Interval(iv) => datetime::format_interval(iv),
            Value::Uuid(u) => uuid::format_uuid(u),
            Value::Jsonb(j) => j.to_text(),
            Value::Array(items) => {
                let elem = ty.element().cloned().unwrap_or(DataType::Text);
                array::format_elements(items.iter().map(|v| v.to_text(&elem)))
            }
        })
    }

    /// PostgreSQL's binary (`typsend`) output of this value as type `ty`; `None` for NULL.
    pub fn to_binary(&self, ty: &DataType) -> Option<Vec<u8>> {
        if let DataType::Sys(s) = ty {
            return s.to_binary(self);
        }
        Some(match (self, ty) {
            (Value::Null, _) => return None,
            (Value::Bool(b), _) => vec![*b as u8],
            (Value::Int(i), DataType::Int2) => (*i as i16).to_be_bytes().to_vec(),
            (Value::Int(i), DataType::Int4 | DataType::Date) => (*i as i32).to_be_bytes().to_vec(),
            (Value::Int(i), _) => i.to_be_bytes().to_vec(),
            (Value::Float(f), DataType::Float4) => (*f as f32).to_be_bytes().to_vec(),
            (Value::Float(f), _) => f.to_be_bytes().to_vec(),
            (Value::Text(s), _) => s.as_bytes().to_vec(),
            (Value::Bytes(b), _) => b.clone(),
            (Value::Numeric(n), _) => n.to_binary(),
            (Value::Interval(iv), _) => iv.to_binary(),
            (Value::Uuid(u), _) => u.to_vec(),
            (Value::Jsonb(j), _) => {
                let mut out = vec![1u8];
                out.extend_from_slice(j.to_text().as_bytes());
                out
            }
            (Value::Array(items), _) => {
                let elem = ty.element().cloned().unwrap_or(DataType::Text);
                let encoded: Vec<Option<Vec<u8>>> =
                    items.iter().map(|v| v.to_binary(&elem)).collect();
                array::encode_binary(elem.oid(), &encoded)
            }
        })
    }
}

/// PostgreSQL 15's `float4out`/`float8out` with `extra_float_digits = 1`: the shortest decimal
/// that reads back as the same number, in positional notation for decimal exponents in
/// `[-4, 15)` (`[-4, 6)` for `real`) and as `d.ddde+XX` otherwise.
pub fn format_float(f: f64, single: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Shortest round-trip digits in scientific notation, e.g. "1.2345e6" or "-5e-7".
    let sci = if single {
        format!("{:e}", f as f32)
    } else {
        format!("{f:e}")
    };
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let limit = if single { 6 } else { 15 };
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if exp < -4 || exp >= limit {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// Parses PostgreSQL text input for type `ty` (parameters in text format, string literals
/// cast to a type, COPY text fields).
/// Parses PostgreSQL text input for type `ty` (parameters in text format, string literals
/// cast to a type, COPY text fields). Relative date/time words (`now`, `today`) are refused
/// here; see [`parse_text_at`].
pub fn parse_text(input: &str, ty: &DataType) -> Result<Value> {
    parse_text_at(input, ty, None)
}

/// [`parse_text`] with the transaction timestamp (µs since 2000-01-01 UTC) for `now`,
/// `today`, `tomorrow` and `yesterday`.
pub fn parse_text_at(input: &str, ty: &DataType, now: Option<i64>) -> Result<Value> {
    match ty {
        DataType::Sys(s) => s.parse_text(input),
        DataType::Bool => parse_bool(input).map(Value::Bool),
        DataType::Int2 | DataType::Int4 | DataType::Int8 => {
            let t = input.trim();
            let v: i64 = t.parse().map_err(|_| {
                if !t.is_empty()
                    && t.trim_start_matches(['-', '+'])
                        .chars()
                        .all(|c| c.is_ascii_digit())
                {
                    SqlError::new(
                        code::NUMERIC_VALUE_OUT_OF_RANGE,
                        format!(
                            "value \"{input}\" is out of range for type {}",
                            ty.short_name()
                        ),
                    )
                } else {
                    SqlError::invalid_text(ty.short_name(), input)
                }
            })?;
            check_int_range(v, ty).map_err(|_| {
                SqlError::new(
                    code::NUMERIC_VALUE_OUT_OF_RANGE,
                    format!(
                        "value \"{input}\" is out of range for type {}",
                        ty.short_name()
                    ),
                )
            })?;
            Ok(Value::Int(v))
        }
        DataType::Float4 | DataType::Float8 => {
            let t = input.trim();
            let v = match t.to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "infinity" | "+infinity" | "inf" | "+inf" => f64::INFINITY,
                "-infinity" | "-inf" => f64::NEG_INFINITY,
                _ => {
                    let v: f64 = t
                        .parse()
                        .map_err(|_| SqlError::invalid_text(ty.short_name(), input))?;
                    if v.is_infinite() {
                        return Err(SqlError::new(
                            code::NUMERIC_VALUE_OUT_OF_RANGE,
                            format!("\"{input}\" is out of range for type {}", ty.short_name()),
                        ));
                    }
                    v
                }
            };
            cast_float(v, ty)
        }
        DataType::Text | DataType::Unknown => Ok(Value::Text(input.to_string())),
        DataType::Varchar(_) | DataType::Char(_) => {
            cast(Value::Text(input.to_string()), &DataType::Text, ty, false)
        }
        DataType::Bytea => parse_bytea(input).map(Value::Bytes),
        DataType::Numeric(typmod) => {
            let n = Numeric::parse(input)?;
            apply_numeric_typmod(n, typmod)
        }
        DataType::Date => datetime::parse_date(input, now).map(|d| Value::Int(d as i64)),
        DataType::Time(p) => {
            let t = datetime::parse_time(input, now)?;
            Ok(Value::Int(round_time(t, p)))
        }
        DataType::Timestamp(p) | DataType::Timestamptz(p) => {
            let with_zone = matches!(ty, DataType::Timestamptz(_));
            let ts = datetime::parse_timestamp(input, with_zone, now)?;
            Ok(Value::Int(datetime::check_timestamp(round_time(ts, p))?))
        }
        DataType::Interval => datetime::parse_interval(input, None).map(Value::Interval),
        DataType::Uuid => uuid::parse_uuid(input).map(Value::Uuid),
        DataType::Jsonb => json::parse_json(input).map(|j| Value::Jsonb(Box::new(j))),
        DataType::Json => {
            json::parse_json(input)?;
            Ok(Value::Text(input.to_string()))
        }
        DataType::Array(elem) => {
            let mut out = Vec::new();
            for item in array::split_elements(input)? {
                out.push(match item {
                    None => Value::Null,
                    Some(s) => parse_text_at(&s, elem, now)?,
                });
            }
            Ok(Value::Array(out))
        }
    }
}

fn round_time(micros: i64, precision: &Option<u32>) -> i64 {
    match precision {
        Some(p) => datetime::round_to_precision(micros, *p),
        None => micros,
    }
}

fn apply_numeric_typmod(n: Numeric, typmod: &Option<(i32, i32)>) -> Result<Value> {
    Ok(Value::numeric(match typmod {
        Some((p, s)) => n.apply_typmod(*p, *s)?,
        None => n,
    }))
}

/// Decodes PostgreSQL binary (`typreceive`) input for type `ty`.
pub fn parse_binary(input: &[u8], ty: &DataType) -> Result<Value> {
    let bad = || {
        SqlError::new(
            code::PROTOCOL_VIOLATION,
            format!(
                "incorrect binary data format for type {} ({} bytes)",
                ty.short_name(),
                input.len()
            ),
        )
    };
    let text = || {
        std::str::from_utf8(input).map_err(|_| {
            SqlError::new(
                "22021",
                "invalid byte sequence for encoding \"UTF8\"".to_string(),
            )
        })
    };
    Ok(match ty {
        DataType::Bool => match input {
            [b] => Value::Bool(*b != 0),
            _ => return Err(bad()),
        },
        DataType::Int2 => {
            Value::Int(i16::from_be_bytes(input.try_into().map_err(|_| bad())?) as i64)
        }
        DataType::Int4 => {
            Value::Int(i32::from_be_bytes(input.try_into().map_err(|_| bad())?) as i64)
        }
        DataType::Int8 => Value::Int(i64::from_be_bytes(input.try_into().map_err(|_| bad())?)),
        DataType::Float4 => {
            Value::Float(f32::from_be_bytes(input.try_into().map_err(|_| bad())?) as f64)
        }
        DataType::Float8 => Value::Float(f64::from_be_bytes(input.try_into().map_err(|_| bad())?)),
        DataType::Sys(s) => return s.parse_binary(input),
        DataType::Bytea => Value::Bytes(input.to_vec()),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => {
            return parse_text(text()?, ty);
        }
        DataType::Numeric(typmod) => {
            return apply_numeric_typmod(Numeric::from_binary(input)?, typmod)
        }
        DataType::Date => {
            let d = i32::from_be_bytes(input.try_into().map_err(|_| bad())?) as i64;
            Value::Int(datetime::check_date(d)? as i64)
        }
        DataType::Time(p) => {
            let t = i64::from_be_bytes(input.try_into().map_err(|_| bad())?);
            if !(0..=datetime::USECS_PER_DAY).contains(&t) {
                return Err(SqlError::new(
                    datetime::DATETIME_FIELD_OVERFLOW,
                    "time out of range",
                ));
            }
            Value::Int(round_time(t, p))
        }
        DataType::Timestamp(p) | DataType::Timestamptz(p) => {
            let t = i64::from_be_bytes(input.try_into().map_err(|_| bad())?);
            Value::Int(datetime::check_timestamp(round_time(t, p))?)
        }
        DataType::Interval => Value::Interval(Interval::from_binary(input).ok_or_else(bad)?),
        DataType::Uuid => Value::Uuid(input.try_into().map_err(|_| bad())?),
        DataType::Jsonb => match input.split_first() {
            Some((1, rest)) => {
                let s = std::str::from_utf8(rest).map_err(|_| bad())?;
                Value::Jsonb(Box::new(json::parse_json(s)?))
            }
            Some((v, _)) => {
                return Err(SqlError::new(
                    code::PROTOCOL_VIOLATION,
                    format!("unsupported jsonb version number {v}"),
                ))
            }
            None => return Err(bad()),
        },
        DataType::Json => return parse_text(text()?, ty),
        DataType::Array(elem) => {
            let (elem_oid, items) = array::decode_binary(input)?;
            if elem_oid != elem.oid() {
                return Err(SqlError::new(
                    code::DATATYPE_MISMATCH,
                    format!(
                        "binary data has array element type {elem_oid} instead of expected {}",
                        elem.oid()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(match item {
                    None => Value::Null,
                    Some(b) => parse_binary(b, elem)?,
                });
            }
            Value::Array(out)
        }
    })
}

fn parse_bool(input: &str) -> Result<bool> {
    let t = input.trim().to_ascii_lowercase();
    let matches = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if matches("true", 1) || matches("yes", 1) || t == "on" || t == "1" {
        Ok(true)
    } else if matches("false", 1) || matches("no", 1) || matches("off", 2) || t == "0" {
        Ok(false)
    } else {
        Err(SqlError::invalid_text("boolean", input))
    }
}

fn parse_bytea(input: &str) -> Result<Vec<u8>> {
    if let Some(hex) = input.strip_prefix("\\x") {
        let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !digits.len().is_multiple_of(2) {
            return Err(SqlError::invalid_text("bytea", input));
        }
        let nibble = |c: u8| -> Result<u8> {
            (c as char)
                .to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| SqlError::invalid_text("bytea", input))
        };
        digits
            .chunks(2)
            .map(|p| Ok(nibble(p[0])? << 4 | nibble(p[1])?))
            .collect()
    } else {
        // Escape format: backslash followed by three octal digits or another backslash.
        let b = input.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'\\' {
                out.push(b[i]);
                i += 1;
            } else if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
            } else if i + 3 < b.len()
                && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
                && b[i + 1] <= b'3'
            {
                out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
                i += 4;
            } else {
                return Err(SqlError::invalid_text("bytea", input));
            }
        }
        Ok(out)
    }
}

fn check_int_range(v: i64, ty: &DataType) -> Result<()> {
    let ok = match ty {
        DataType::Int2 => i16::try_from(v).is_ok(),
        DataType::Int4 => i32::try_from(v).is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(SqlError::out_of_range(ty.short_name()))
    }
}

fn cast_float(v: f64, ty: &DataType) -> Result<Value> {
    if matches!(ty, DataType::Float4) {
        let s = v as f32;
        if s.is_infinite() && v.is_finite() {
            return Err(SqlError::new(
                code::NUMERIC_VALUE_OUT_OF_RANGE,
                "value out of range: overflow",
            ));
        }
        Ok(Value::Float(s as f64))
    } else {
        Ok(Value::Float(v))
    }
}

/// Converts `v` of type `from` to type `to`, as PostgreSQL's cast does. `explicit` is true for
/// `CAST`/`::` (which truncates over-long strings for varchar(n) instead of failing, as
/// PostgreSQL does).
pub fn cast(v: Value, from: &DataType, to: &DataType, explicit: bool) -> Result<Value> {
    cast_at(v, from, to, explicit, None)
}

fn int_bounds(t: &DataType) -> (i64, i64) {
    match t {
        DataType::Int2 => (i16::MIN as i64, i16::MAX as i64),
        DataType::Int4 => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

/// [`cast`] with the transaction timestamp for relative date/time words in text input.
pub fn cast_at(
    v: Value,
    from: &DataType,
    to: &DataType,
    explicit: bool,
    now: Option<i64>,
) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let modifies = matches!(
        to,
        DataType::Varchar(Some(_))
            | DataType::Char(_)
            | DataType::Numeric(Some(_))
            | DataType::Time(Some(_))
            | DataType::Timestamp(Some(_))
            | DataType::Timestamptz(Some(_))
            | DataType::Array(_)
    );
    if from == to && !modifies {
        return Ok(v);
    }
    if let Some(r) = crate::systypes::cast(&v, from, to) {
        return r;
    }
    match (v, to) {
        (Value::Text(s), DataType::Text) if from != &DataType::Json => Ok(Value::Text(s)),
        (Value::Text(s), DataType::Varchar(limit)) if from != &DataType::Json => {
            let s = if matches!(from, DataType::Char(_)) {
                s.trim_end_matches(' ').to_string()
            } else {
                s
            };
            match limit {
                Some(n) if s.chars().count() > *n as usize => {
                    let trimmed_ok = s.chars().skip(*n as usize).all(|c| c == ' ');
                    if explicit || trimmed_ok {
                        Ok(Value::Text(s.chars().take(*n as usize).collect()))
                    } else {
                        Err(SqlError::new(
                            code::STRING_DATA_RIGHT_TRUNCATION,
                            format!("value too long for type character varying({n})"),
                        ))
                    }
                }
                _ => Ok(Value::Text(s)),
            }
        }
        (Value::Text(s), DataType::Char(n)) if from != &DataType::Json => {
            let n = *n as usize;
            let len = s.chars().count();
            if len > n {
                let trimmed_ok = s.chars().skip(n).all(|c| c == ' ');
                if explicit || trimmed_ok {
                    Ok(Value::Text(s.chars().take(n).collect()))
                } else {
                    Err(SqlError::new(
                        code::STRING_DATA_RIGHT_TRUNCATION,
                        format!("value too long for type character({n})"),
                    ))
                }
            } else {
                let mut s = s;
                s.extend(std::iter::repeat_n(' ', n - len));
                Ok(Value::Text(s))
            }
        }
        (Value::Text(s), DataType::Jsonb) if from == &DataType::Json => {
            Ok(Value::Jsonb(Box::new(json::parse_json(&s)?)))
        }
        (Value::Text(s), _) if from.is_string() => {
            let s = if matches!(from, DataType::Char(_)) {
                s.trim_end_matches(' ').to_string()
            } else {
                s
            };
            parse_text_at(&s, to, now)
        }
        (Value::Jsonb(j), DataType::Json) => Ok(Value::Text(j.to_text())),
        (Value::Jsonb(j), t) if !t.is_string() => cast_jsonb(*j, t),
        (v, t) if t.is_string() => {
            let text = v.to_text(from).unwrap_or_default();
            cast_at(Value::Text(text), &DataType::Text, t, explicit, now)
        }
        (Value::Int(i), t) if t.is_integer() && from.is_integer() => {
            check_int_range(i, t)?;
            Ok(Value::Int(i))
        }
        (Value::Int(i), t) if t.is_float() && from.is_integer() => cast_float(i as f64, t),
        (Value::Int(i), DataType::Numeric(typmod)) if from.is_integer() => {
            apply_numeric_typmod(Numeric::from_i64(i), typmod)
        }
        (Value::Float(f), t) if t.is_integer() => {
            if f.is_nan() {
                return Err(SqlError::out_of_range(t.short_name()));
            }
            // PostgreSQL rounds half to even (rint).
            let r = f.round_ties_even();
            if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&r) {
                return Err(SqlError::out_of_range(t.short_name()));
            }
            let i = r as i64;
            check_int_range(i, t)?;
            Ok(Value::Int(i))
        }
        (Value::Float(f), t) if t.is_float() => cast_float(f, t),
        (Value::Float(f), DataType::Numeric(typmod)) => {
            // float8_numeric prints with DBL_DIG (15) significant digits, float4 with 6.
            let digits = if matches!(from, DataType::Float4) {
                6
            } else {
                15
            };
            apply_numeric_typmod(Numeric::from_f64(f, digits)?, typmod)
        }
        (Value::Numeric(n), DataType::Numeric(typmod)) => apply_numeric_typmod(*n, typmod),
        (Value::Numeric(n), t) if t.is_integer() => {
            let (min, max) = int_bounds(t);
            Ok(Value::Int(n.to_i64(min, max, t.short_name())?))
        }
        (Value::Numeric(n), t) if t.is_float() => {
            let f = n.to_f64();
            if f.is_infinite() && !matches!(*n, Numeric::PosInf | Numeric::NegInf) {
                return Err(SqlError::new(
                    code::NUMERIC_VALUE_OUT_OF_RANGE,
                    format!("\"{n}\" is out of range for type double precision"),
                ));
            }
            cast_float(f, t)
        }
        (Value::Bool(b), DataType::Int4) => Ok(Value::Int(b as i64)),
        (Value::Int(i), DataType::Bool) if from == &DataType::Int4 => Ok(Value::Bool(i != 0)),
        (Value::Bool(b), DataType::Bool) => Ok(Value::Bool(b)),
        (Value::Bytes(b), DataType::Bytea) => Ok(Value::Bytes(b)),
        // date / time / timestamp conversions.
        (Value::Int(d), DataType::Timestamp(p) | DataType::Timestamptz(p))
            if from == &DataType::Date =>
        {
            Ok(Value::Int(round_time(datetime::date_to_timestamp(d)?, p)))
        }
        (Value::Int(t), DataType::Timestamp(p) | DataType::Timestamptz(p))
            if matches!(from, DataType::Timestamp(_) | DataType::Timestamptz(_)) =>
        {
            // The session time zone is UTC (datetime invariant 2).
            Ok(Value::Int(round_time(t, p)))
        }
        (Value::Int(t), DataType::Date)
            if matches!(from, DataType::Timestamp(_) | DataType::Timestamptz(_)) =>
        {
            Ok(Value::Int(datetime::timestamp_to_date(t)))
        }
        (Value::Int(t), DataType::Time(p))
            if matches!(from, DataType::Timestamp(_) | DataType::Timestamptz(_)) =>
        {
            Ok(match datetime::timestamp_to_time(t) {
                Some(t) => Value::Int(round_time(t, p)),
                None => Value::Null,
            })
        }
        (Value::Int(t), DataType::Time(p)) if matches!(from, DataType::Time(_)) => {
            Ok(Value::Int(round_time(t, p)))
        }
        (Value::Int(t), DataType::Interval) if matches!(from, DataType::Time(_)) => {
            Ok(Value::Interval(Interval::new(0, 0, t)))
        }
        (Value::Interval(iv), DataType::Time(p)) => Ok(Value::Int(round_time(
            iv.micros.rem_euclid(datetime::USECS_PER_DAY),
            p,
        ))),
        (Value::Interval(iv), DataType::Interval) => Ok(Value::Interval(iv)),
        (Value::Uuid(u), DataType::Uuid) => Ok(Value::Uuid(u)),
        (Value::Array(items), DataType::Array(to_elem)) => {
            let from_elem = from.element().cloned().unwrap_or(DataType::Text);
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(cast_at(item, &from_elem, to_elem, explicit, now)?);
            }
            Ok(Value::Array(out))
        }
        (_, to) => Err(SqlError::new(
            code::CANNOT_COERCE,
            format!(
                "cannot cast type {} to {}",
                from.short_name(),
                to.short_name()
            ),
        )),
    }
}

/// jsonb → numeric, integer, float, boolean (PostgreSQL 11+): only from the matching scalar.
fn cast_jsonb(j: Jsonb, to: &DataType) -> Result<Value> {
    let wrong = |j: &Jsonb| {
        SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!(
                "cannot cast jsonb {} to type {}",
                match j {
                    Jsonb::Null => "null",
                    Jsonb::Bool(_) => "boolean",
                    Jsonb::Number(_) => "numeric",
                    Jsonb::String(_) => "string",
                    Jsonb::Array(_) => "array",
                    Jsonb::Object(_) => "object",
                },
                to.short_name()
            ),
        )
    };
    match (&j, to) {
        (Jsonb::Bool(b), DataType::Bool) => Ok(Value::Bool(*b)),
        (Jsonb::Number(n), t) if t.is_numeric() => {
            cast(Value::numeric(n.clone()), &DataType::Numeric(None), t, true)
        }
        _ => match to {
            DataType::Bool
            | DataType::Numeric(_)
            | DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8 => Err(wrong(&j)),
            _ => Err(SqlError::new(
                code::CANNOT_COERCE,
                format!("cannot cast type jsonb to {}", to.short_name()),
            )),
        },
    }
}

/// Whether an explicit `CAST(x AS to)` from `from` exists (PostgreSQL's `pg_cast` plus the
/// I/O conversions to and from text).
pub fn castable(from: &DataType, to: &DataType) -> bool {
    let (f, t) = (from.unconstrained(), to.unconstrained());
    f == t
        || from.is_string()
        || to.is_string()
        || (from.is_numeric() && to.is_numeric())
        || (f == DataType::Bool && t == DataType::Int4)
        || (f == DataType::Int4 && t == DataType::Bool)
        || (from.is_datetime() && to.is_datetime())
        || (from.is_datetime() && f != DataType::Date && matches!(t, DataType::Time(_)))
        || (matches!(f, DataType::Time(_)) && t == DataType::Interval)
        || (f == DataType::Interval && matches!(t, DataType::Time(_)))
        || (f == DataType::Json && t == DataType::Jsonb)
        || (f == DataType::Jsonb && (t == DataType::Json || t == DataType::Bool || to.is_numeric()))
        || crate::systypes::castable(from, to)
        || match (from, to) {
            (DataType::Array(a), DataType::Array(b)) => castable(a, b),
            _ => false,
        }
}

/// Whether a value of type `from` may be assigned to a column of type `to` without an explicit
/// cast (PostgreSQL's implicit and assignment casts: numeric to numeric, anything to text
/// types, unknown literals to anything, date/timestamp/timestamptz among themselves,
/// timestamps to time, time and interval both ways, json and jsonb both ways).
pub fn assignable(from: &DataType, to: &DataType) -> bool {
    let (f, t) = (from.unconstrained(), to.unconstrained());
    from == to
        || f == t
        || matches!(from, DataType::Unknown)
        || (from.is_numeric() && to.is_numeric())
        || (from.is_string() && to.is_string())
        || to.is_string()
        || (from.is_datetime() && to.is_datetime())
        || (matches!(from, DataType::Timestamp(_) | DataType::Timestamptz(_))
            && matches!(to, DataType::Time(_)))
        || (matches!(f, DataType::Time(_)) && t == DataType::Interval)
        || (f == DataType::Interval && matches!(t, DataType::Time(_)))
        || (f == DataType::Json && t == DataType::Jsonb)
        || (f == DataType::Jsonb && t == DataType::Json)
        || crate::systypes::assignable(from, to)
        || match (from, to) {
            (DataType::Array(a), DataType::Array(b)) => assignable(a, b),
            _ => false,
        }
}

/// SQL comparison of two non-null values of one (common) type; `None` when either is NULL.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    Some(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => return None,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => float_cmp(*x, *y),
        (Value::Int(x), Value::Float(y)) => float_cmp(*x as f64, *y),
        (Value::Float(x), Value::Int(y)) => float_cmp(*x, *y as f64),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
        (Value::Numeric(x), Value::Numeric(y)) => x.cmp_total(y),
        (Value::Int(x), Value::Numeric(y)) => Numeric::from_i64(*x).cmp_total(y),
        (Value::Numeric(x), Value::Int(y)) => x.cmp_total(&Numeric::from_i64(*y)),
        (Value::Interval(x), Value::Interval(y)) => x.cmp_span(y),
        (Value::Uuid(x), Value::Uuid(y)) => x.cmp(y),
        (Value::Jsonb(x), Value::Jsonb(y)) => json::compare(x, y, true),
        (Value::Array(x), Value::Array(y)) => {
            array::compare(x, y, |p, q| compare(p, q).unwrap_or(Ordering::Equal))
        }
        _ => return None,
    })
}
/// PostgreSQL orders NaN above every other float and equal to itself.
fn float_cmp(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// A total order for sorting and grouping: NULL sorts after every value (PostgreSQL's default
/// for ascending order).
pub fn sort_cmp(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => compare(a, b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_text_matches_postgres() {
        let cases: &[(f64, bool, &str)] = &[
            (1.0, false, "1"),
            (0.1, false, "0.1"),
            (-2.5, false, "-2.5"),
            (1e15, false, "1e+15"),
            (123456789012345.0, false, "123456789012345"),
            (0.0001, false, "0.0001"),
            (0.00001, false, "1e-05"),
            (1.0 / 3.0, false, "0.3333333333333333"),
            (1e100, false, "1e+100"),
            (-0.0, false, "-0"),
            (f64::INFINITY, false, "Infinity"),
            (f64::NAN, false, "NaN"),
            (0.1f32 as f64, true, "0.1"),
            (1234567.0, true, "1.234567e+06"),
            (123456.0, true, "123456"),
        ];
        for (v, single, want) in cases {
            assert_eq!(format_float(*v, *single), *want, "{v} single={single}");
        }
    }

    #[test]
    fn casts_check_ranges_and_round_real() {
        assert!(cast(Value::Int(40000), &DataType::Int4, &DataType::Int2, true).is_err());
        assert_eq!(
            cast(Value::Float(2.5), &DataType::Float8, &DataType::Int4, true).unwrap(),
            Value::Int(2)
        );
        assert_eq!(
            cast(Value::Float(3.5), &DataType::Float8, &DataType::Int4, true).unwrap(),
            Value::Int(4)
        );
        let r = cast(
            Value::Float(0.1),
            &DataType::Float8,
            &DataType::Float4,
            true,
        )
        .unwrap();
        assert_eq!(r, Value::Float(0.1f32 as f64));
        assert_eq!(
            cast(
                Value::Text("ab ".into()),
                &DataType::Text,
                &DataType::Varchar(Some(2)),
                false
            )
            .unwrap(),
            Value::Text("ab".into())
        );
        assert!(cast(
            Value::Text("abc".into()),
            &DataType::Text,
            &DataType::Varchar(Some(2)),
            false
        )
        .is_err());
        assert_eq!(
            cast(
                Value::Text("a".into()),
                &DataType::Text,
                &DataType::Char(3),
                false
            )
            .unwrap(),
            Value::Text("a  ".into())
        );
    }

    #[test]
    fn text_input_follows_postgres() {
        assert_eq!(parse_text(" 42 ", &DataType::Int4).unwrap(), Value::Int(42));
        assert_eq!(
            parse_text("99999", &DataType::Int2).unwrap_err().code,
            code::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            parse_text("4x", &DataType::Int4).unwrap_err().code,
            code::INVALID_TEXT_REPRESENTATION
        );
        for t in ["t", "TRUE", "yes", "on", "1", "y"] {
            assert_eq!(
                parse_text(t, &DataType::Bool).unwrap(),
                Value::Bool(true),
                "{t}"
            );
        }
        for f in ["f", "false", "no", "off", "0"] {
            assert_eq!(
                parse_text(f, &DataType::Bool).unwrap(),
                Value::Bool(false),
                "{f}"
            );
        }
        assert!(parse_text("o", &DataType::Bool).is_err());
        assert_eq!(
            parse_text("\\x0aff", &DataType::Bytea).unwrap(),
            Value::Bytes(vec![10, 255])
        );
        assert_eq!(
            parse_text("a\\\\b\\001", &DataType::Bytea).unwrap(),
            Value::Bytes(vec![b'a', b'\\', b'b', 1])
        );
        assert_eq!(
            Value::Bytes(vec![10, 255])
                .to_text(&DataType::Bytea)
                .unwrap(),
            "\\x0aff"
        );
    }

    #[test]
    fn binary_round_trips() {
        let cases = [
            (Value::Int(-7), DataType::Int2),
            (Value::Int(1 << 20), DataType::Int4),
            (Value::Int(i64::MIN), DataType::Int8),
            (Value::Float(0.5), DataType::Float4),
            (Value::Float(-1e300), DataType::Float8),
            (Value::Bool(true), DataType::Bool),
            (Value::Text("héllo".into()), DataType::Text),
            (Value::Bytes(vec![0, 1, 2]), DataType::Bytea),
        ];
        for (v, t) in cases {
            let b = v.to_binary(&t).unwrap();
            assert_eq!(parse_binary(&b, &t).unwrap(), v, "{t:?}");
        }
        assert!(parse_binary(&[1, 2, 3], &DataType::Int4).is_err());
    }

    fn text(s: &str, t: &DataType) -> Value {
        parse_text(s, t).unwrap()
    }

    #[test]
    fn numeric_casts_match_postgres() {
        // Verified against PostgreSQL 15.
        let n = DataType::Numeric(None);
        let n52 = DataType::Numeric(Some((5, 2)));
        let show = |v: Value, t: &DataType| v.to_text(t).unwrap();
        let c = |v: Value, from: &DataType, to: &DataType| cast(v, from, to, true);
        assert_eq!(
            show(c(Value::Int(5), &DataType::Int4, &n52).unwrap(), &n52),
            "5.00"
        );
        assert_eq!(
            c(Value::Int(1000), &DataType::Int4, &n52).unwrap_err().code,
            code::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            show(
                c(Value::Float(1.0 / 3.0), &DataType::Float8, &n).unwrap(),
                &n
            ),
            "0.333333333333333"
        );
        assert_eq!(
            show(
                c(Value::Float(0.1f32 as f64), &DataType::Float4, &n).unwrap(),
                &n
            ),
            "0.1"
        );
        assert_eq!(
            c(text("2.5", &n), &n, &DataType::Int4).unwrap(),
            Value::Int(3)
        );
        assert_eq!(
            c(text("-2.5", &n), &n, &DataType::Int2).unwrap(),
            Value::Int(-3)
        );
        assert_eq!(
            c(text("40000", &n), &n, &DataType::Int2)
                .unwrap_err()
                .message,
            "smallint out of range"
        );
        assert_eq!(
            c(text("1e400", &n), &n, &DataType::Float8)
                .unwrap_err()
                .code,
            code::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            c(text("0.1", &n), &n, &DataType::Float8).unwrap(),
            Value::Float(0.1)
        );
        assert_eq!(
            show(
                c(
                    Value::Text("12.345".into()),
                    &DataType::Text,
                    &DataType::Numeric(Some((6, 1)))
                )
                .unwrap(),
                &n
            ),
            "12.3"
        );
        let j = DataType::Jsonb;
        assert_eq!(
            c(text("5", &j), &j, &DataType::Int4).unwrap(),
            Value::Int(5)
        );
        assert_eq!(
            c(text("\"a\"", &j), &j, &DataType::Int4)
                .unwrap_err()
                .message,
            "cannot cast jsonb string to type integer"
        );
        assert_eq!(
            c(Value::Text("{\"a\" :1}".into()), &DataType::Json, &j).unwrap(),
            text("{\"a\": 1}", &j)
        );
    }

    #[test]
    fn datetime_casts_match_postgres() {
        // Verified against PostgreSQL 15.
        let ts = DataType::Timestamp(None);
        let tz = DataType::Timestamptz(None);
        let show = |v: Value, t: &DataType| v.to_text(t).unwrap();
        let c = |v: Value, from: &DataType, to: &DataType| cast(v, from, to, true).unwrap();
        let d = text("2024-03-01", &DataType::Date);
        assert_eq!(
            show(c(d, &DataType::Date, &tz), &tz),
            "2024-03-01 00:00:00+00"
        );
        let t = text("2024-03-01 12:34:56.789", &ts);
        assert_eq!(
            show(c(t.clone(), &ts, &DataType::Date), &DataType::Date),
            "2024-03-01"
        );
        assert_eq!(
            show(
                c(t.clone(), &ts, &DataType::Time(None)),
                &DataType::Time(None)
            ),
            "12:34:56.789"
        );
        assert_eq!(
            show(c(t, &ts, &DataType::Timestamp(Some(0))), &ts),
            "2024-03-01 12:34:57"
        );
        let iv = text("-1 day -01:00", &DataType::Interval);
        assert_eq!(
            show(
                c(iv, &DataType::Interval, &DataType::Time(None)),
                &DataType::Time(None)
            ),
            "23:00:00"
        );
        assert_eq!(
            c(text("infinity", &ts), &ts, &DataType::Time(None)),
            Value::Null
        );
        let arr = DataType::Array(Box::new(DataType::Int4));
        let arr_t = DataType::Array(Box::new(DataType::Text));
        assert_eq!(
            show(c(text("{1,NULL}", &arr), &arr, &arr_t), &arr_t),
            "{1,NULL}"
        );
    }

    #[test]
    fn cast_and_assignment_rules_follow_pg_cast() {
        let n = DataType::Numeric(None);
        let ts = DataType::Timestamp(None);
        assert!(assignable(&DataType::Float8, &n));
        assert!(assignable(&DataType::Timestamptz(None), &ts));
        assert!(assignable(&ts, &DataType::Date));
        assert!(assignable(&DataType::Json, &DataType::Jsonb));
        assert!(!assignable(&DataType::Date, &DataType::Time(None)));
        assert!(!assignable(&DataType::Uuid, &DataType::Int4));
        assert!(castable(&DataType::Jsonb, &DataType::Int8));
        assert!(!castable(&DataType::Int8, &DataType::Jsonb));
        assert!(!castable(&DataType::Date, &DataType::Interval));
        assert_eq!(DataType::common(&DataType::Int8, &n), Some(n.clone()));
        assert_eq!(
            DataType::common(&n, &DataType::Float4),
            Some(DataType::Float4)
        );
        assert_eq!(
            DataType::common(
                &DataType::Numeric(Some((5, 2))),
                &DataType::Numeric(Some((6, 1)))
            ),
            Some(n)
        );
        assert_eq!(
            DataType::common(&DataType::Date, &DataType::Timestamptz(Some(3))),
            Some(DataType::Timestamptz(None))
        );
        assert_eq!(DataType::common(&DataType::Json, &DataType::Jsonb), None);
    }

    #[test]
    fn new_types_round_trip_in_binary() {
        let cases = [
            ("12.50", DataType::Numeric(None)),
            ("2024-03-01", DataType::Date),
            ("-infinity", DataType::Date),
            ("12:34:56.789", DataType::Time(None)),
            ("2024-03-01 12:34:56.789", DataType::Timestamp(None)),
            ("2024-03-01 12:34:56.789+00", DataType::Timestamptz(None)),
            ("1 year 2 mons -3 days 04:05:06", DataType::Interval),
            ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", DataType::Uuid),
            ("{\"a\": [1, 2.5]}", DataType::Jsonb),
            ("{\"a\" : 1}", DataType::Json),
            ("{1,NULL,3}", DataType::Array(Box::new(DataType::Int8))),
            ("{\"a b\",c}", DataType::Array(Box::new(DataType::Text))),
            ("{2024-03-01}", DataType::Array(Box::new(DataType::Date))),
        ];
        for (s, t) in cases {
            let v = text(s, &t);
            let b = v.to_binary(&t).unwrap();
            let back = parse_binary(&b, &t).unwrap();
            assert_eq!(back.to_text(&t), v.to_text(&t), "{s}");
        }
        // PostgreSQL's date_send of 2024-03-01 and interval_send of '1 day'.
        assert_eq!(
            text("2024-03-01", &DataType::Date)
                .to_binary(&DataType::Date)
                .unwrap(),
            8826i32.to_be_bytes()
        );
        assert_eq!(
            text("1 day", &DataType::Interval)
                .to_binary(&DataType::Interval)
                .unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
        );
        let arr_int = DataType::Array(Box::new(DataType::Int4));
        let wrong = text("{1}", &DataType::Array(Box::new(DataType::Int8)))
            .to_binary(&DataType::Array(Box::new(DataType::Int8)))
            .unwrap();
        assert_eq!(
            parse_binary(&wrong, &arr_int).unwrap_err().code,
            code::DATATYPE_MISMATCH
        );
        assert!(parse_binary(&[2, b'{', b'}'], &DataType::Jsonb).is_err());
    }

    #[test]
    fn compare_orders_every_new_type() {
        let n = DataType::Numeric(None);
        assert_eq!(
            compare(&text("1.0", &n), &text("1.00", &n)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(&Value::Int(2), &text("1.5", &n)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&text("NaN", &n), &text("Infinity", &n)),
            Some(Ordering::Greater)
        );
        let i = DataType::Interval;
        assert_eq!(
            compare(&text("1 mon", &i), &text("30 days", &i)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(&text("1 mon", &i), &text("31 days", &i)),
            Some(Ordering::Less)
        );
        let a = DataType::Array(Box::new(DataType::Int4));
        assert_eq!(
            compare(&text("{1,2}", &a), &text("{1,2,3}", &a)),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(&text("{1,NULL}", &a), &text("{1,5}", &a)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&text("{}", &a), &text("{1}", &a)),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn parsers_never_panic_on_odd_input() {
        for s in [
            "", "-", "\\x", "\\x0", "\\", "\\4", "\\377", "1e400", "\u{0}", "++1",
        ] {
            for t in [
                DataType::Bool,
                DataType::Int2,
                DataType::Int8,
                DataType::Float4,
                DataType::Float8,
                DataType::Bytea,
                DataType::Char(2),
                DataType::Numeric(Some((5, 2))),
                DataType::Date,
                DataType::Time(Some(2)),
                DataType::Timestamptz(None),
                DataType::Interval,
                DataType::Uuid,
                DataType::Jsonb,
                DataType::Json,
                DataType::Array(Box::new(DataType::Int4)),
            ] {
                let _ = parse_text(s, &t);
            }
        }
    }
}

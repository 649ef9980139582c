//! The SQL type system: [`DataType`] (what a column or expression is) and [`Value`] (one datum),
//! with PostgreSQL's text and binary representations and its casts.
//!
//! Role: the binder types every expression with a `DataType`; the evaluator computes `Value`s;
//! the executor stores them (row encoding in `cairn-sql-exec`); the protocol layer sends them in
//! text or binary form through [`Value::to_text`] / [`Value::to_binary`] and reads parameters
//! through [`parse_text`] / [`parse_binary`].
//!
//! Invariants:
//! 1. A `Value` is only meaningful together with the `DataType` of the expression or column that
//!    produced it; integers of every width are `Value::Int`, floats of both widths are
//!    `Value::Float`, every character type is `Value::Text`. `Value::Null` belongs to every type.
//! 2. A value stored in a column of type T has already been through [`cast`] to T, so it is in
//!    range (an `int2` column never holds 40000) and rounded (a `real` holds an `f32`-exact
//!    number). Test: `casts_check_ranges_and_round_real`.
//! 3. Text output is byte-for-byte PostgreSQL 15's with default settings (`extra_float_digits = 1`,
//!    `bytea_output = hex`, `DateStyle = ISO`). Tests: `float_text_matches_postgres`, ...
//! 4. Parsing never panics on any input (the input comes from clients).

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::{code, Result, SqlError};

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
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
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
    /// A string literal or NULL whose type the context has not fixed yet (PostgreSQL's
    /// `unknown`). Sent to clients as `text`.
    Unknown,
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
        }
    }

    /// The type for a parameter or column OID a client names, if Cairn has it.
    pub fn from_oid(type_oid: u32) -> Option<DataType> {
        Some(match type_oid {
            oid::BOOL => DataType::Bool,
            oid::INT2 => DataType::Int2,
            oid::INT4 => DataType::Int4,
            oid::INT8 => DataType::Int8,
            oid::FLOAT4 => DataType::Float4,
            oid::FLOAT8 => DataType::Float8,
            oid::TEXT | oid::NAME => DataType::Text,
            oid::VARCHAR => DataType::Varchar(None),
            oid::BPCHAR => DataType::Char(1),
            oid::BYTEA => DataType::Bytea,
            oid::UNKNOWN => DataType::Unknown,
            _ => return None,
        })
    }

    /// `pg_type.typlen`: the fixed width in bytes, or -1 for variable-length types.
    pub fn type_len(&self) -> i16 {
        match self {
            DataType::Bool => 1,
            DataType::Int2 => 2,
            DataType::Int4 | DataType::Float4 => 4,
            DataType::Int8 | DataType::Float8 => 8,
            _ => -1,
        }
    }

    /// `atttypmod` as PostgreSQL reports it (-1 = none; for character types n + 4).
    pub fn type_modifier(&self) -> i32 {
        match self {
            DataType::Varchar(Some(n)) | DataType::Char(n) => *n as i32 + 4,
            _ => -1,
        }
    }

    /// The name `format_type` prints (`integer`, `character varying(10)`, ...).
    pub fn sql_name(&self) -> String {
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
            DataType::Unknown => "unknown".into(),
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
            DataType::Unknown => "unknown",
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, DataType::Int2 | DataType::Int4 | DataType::Int8)
    }

    pub fn is_float(&self) -> bool {
        matches!(self, DataType::Float4 | DataType::Float8)
    }

    pub fn is_numeric(&self) -> bool {
        self.is_integer() || self.is_float()
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown
        )
    }

    /// Rank in PostgreSQL's implicit numeric promotion (int2 < int4 < int8 < float4 < float8).
    fn numeric_rank(&self) -> Option<u8> {
        Some(match self {
            DataType::Int2 => 0,
            DataType::Int4 => 1,
            DataType::Int8 => 2,
            DataType::Float4 => 3,
            DataType::Float8 => 4,
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
            _ => {
                if let (Some(x), Some(y)) = (a.numeric_rank(), b.numeric_rank()) {
                    return Some(if x >= y { a.clone() } else { b.clone() });
                }
                if a.is_string() && b.is_string() {
                    // text wins over varchar and char, as in PostgreSQL's preferred type.
                    return Some(DataType::Text);
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
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
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
        Some(match self {
            Value::Null => return None,
            Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
            Value::Int(i) => i.to_string(),
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
        })
    }

    /// PostgreSQL's binary (`typsend`) output of this value as type `ty`; `None` for NULL.
    pub fn to_binary(&self, ty: &DataType) -> Option<Vec<u8>> {
        Some(match (self, ty) {
            (Value::Null, _) => return None,
            (Value::Bool(b), _) => vec![*b as u8],
            (Value::Int(i), DataType::Int2) => (*i as i16).to_be_bytes().to_vec(),
            (Value::Int(i), DataType::Int4) => (*i as i32).to_be_bytes().to_vec(),
            (Value::Int(i), _) => i.to_be_bytes().to_vec(),
            (Value::Float(f), DataType::Float4) => (*f as f32).to_be_bytes().to_vec(),
            (Value::Float(f), _) => f.to_be_bytes().to_vec(),
            (Value::Text(s), _) => s.as_bytes().to_vec(),
            (Value::Bytes(b), _) => b.clone(),
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
pub fn parse_text(input: &str, ty: &DataType) -> Result<Value> {
    match ty {
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
    }
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
        DataType::Bytea => Value::Bytes(input.to_vec()),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => {
            let s = std::str::from_utf8(input).map_err(|_| {
                SqlError::new(
                    "22021",
                    "invalid byte sequence for encoding \"UTF8\"".to_string(),
                )
            })?;
            return parse_text(s, ty);
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
    if v.is_null() {
        return Ok(Value::Null);
    }
    if from == to && !matches!(to, DataType::Varchar(Some(_)) | DataType::Char(_)) {
        return Ok(v);
    }
    match (v, to) {
        (Value::Text(s), DataType::Text) => Ok(Value::Text(s)),
        (Value::Text(s), DataType::Varchar(limit)) => {
            let s = if from == &DataType::Char(0) || matches!(from, DataType::Char(_)) {
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
        (Value::Text(s), DataType::Char(n)) => {
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
        (Value::Text(s), _) if from.is_string() => {
            let s = if matches!(from, DataType::Char(_)) {
                s.trim_end_matches(' ').to_string()
            } else {
                s
            };
            parse_text(&s, to)
        }
        (v, t) if t.is_string() => {
            let text = v.to_text(from).unwrap_or_default();
            cast(Value::Text(text), &DataType::Text, t, explicit)
        }
        (Value::Int(i), t) if t.is_integer() => {
            check_int_range(i, t)?;
            Ok(Value::Int(i))
        }
        (Value::Int(i), t) if t.is_float() => cast_float(i as f64, t),
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
        (Value::Bool(b), DataType::Int4) => Ok(Value::Int(b as i64)),
        (Value::Int(i), DataType::Bool) if from == &DataType::Int4 => Ok(Value::Bool(i != 0)),
        (Value::Bool(b), DataType::Bool) => Ok(Value::Bool(b)),
        (Value::Bytes(b), DataType::Bytea) => Ok(Value::Bytes(b)),
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

/// Whether a value of type `from` may be assigned to a column of type `to` without an explicit
/// cast (PostgreSQL's assignment casts: numeric to numeric, anything to text types, unknown
/// literals to anything).
pub fn assignable(from: &DataType, to: &DataType) -> bool {
    from == to
        || matches!(from, DataType::Unknown)
        || (from.is_numeric() && to.is_numeric())
        || (from.is_string() && to.is_string())
        || to.is_string()
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
            ] {
                let _ = parse_text(s, &t);
            }
        }
    }
}

//! Evaluation of the built-in functions and operators of the richer types (NUMERIC, date/time,
//! interval, UUID, JSONB, arrays): [`Builtin`], reached through `Func::Builtin`.
//!
//! Role: the binder (`bind::types_ext`) decides which `Builtin` an operator or call is and
//! coerces its arguments; `Expr::eval` hands the call here. Like the rest of `expr`, this is
//! pure: the transaction timestamp comes in `EvalContext::now_micros` and the wall clock and
//! randomness through the [`Volatile`] the executor supplies.
//!
//! Invariants:
//! 1. Every builtin but [`Builtin::ArrayConstruct`] and [`Builtin::AnyOp`] is strict: a NULL
//!    argument gives NULL without calling the implementation. Test: `strict_builtins_pass_null`.
//! 2. The argument values have the types the binder coerced them to; a mismatch is an internal
//!    error (XX000), never a panic.
//! 3. `now()` and friends return `EvalContext::now_micros`, so they are constant within a
//!    statement (and within a transaction, as far as `KvTxn::timestamp_micros` is).

use std::cmp::Ordering;
use std::fmt;

use super::{BinaryOp, EvalContext, Expr};
use crate::error::{code, Result, SqlError};
use crate::types::datetime::{self, Interval, Kind};
use crate::types::json::Jsonb;
use crate::types::uuid::uuid_v4;
use crate::types::{compare, DataType, Numeric, Value};

/// The nondeterministic inputs of evaluation, supplied by the executor so a simulator can
/// replace them.
pub trait Volatile: Send + Sync + fmt::Debug {
    /// Wall-clock time now, in µs since 2000-01-01 UTC (`clock_timestamp()`).
    fn clock_micros(&self) -> i64;
    /// 16 random bytes (`gen_random_uuid()`).
    fn random_bytes(&self) -> [u8; 16];
}

/// Which built-in a `Func::Builtin` call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    // NUMERIC math.
    NumericAbs,
    NumericSign,
    NumericFloor,
    NumericCeil,
    /// `round(numeric[, int])`.
    NumericRound,
    /// `trunc(numeric[, int])`.
    NumericTrunc,
    NumericSqrt,
    /// `trunc(float8)`.
    FloatTrunc,
    // date/time arithmetic.
    DatePlusDays,
    DateMinusDays,
    DateMinusDate,
    DatePlusTime,
    TimestampPlusInterval,
    TimestampMinusInterval,
    TimestampMinusTimestamp,
    TimePlusInterval,
    TimeMinusInterval,
    TimeMinusTime,
    IntervalPlus,
    IntervalMinus,
    /// `interval * float8` (either order; the interval is argument 0).
    IntervalMul,
    IntervalDiv,
    // date/time functions.
    /// `now()`, `current_timestamp`, `transaction_timestamp()`, `statement_timestamp()`.
    Now,
    ClockTimestamp,
    CurrentDate,
    /// `localtimestamp`.
    LocalTimestamp,
    /// `localtime`.
    LocalTime,
    /// `extract(unit from x)` (numeric) or `date_part(unit, x)` (float8), by the source kind;
    /// `None` = interval.
    Extract(Option<Kind>, bool),
    /// `date_trunc(unit, x)`; `None` = interval.
    DateTrunc(Option<Kind>),
    Age,
    JustifyHours,
    JustifyDays,
    JustifyInterval,
    /// `to_timestamp(float8)`: Unix epoch seconds to timestamptz.
    ToTimestamp,
    MakeDate,
    // UUID.
    GenRandomUuid,
    /// `random()`: a float8 uniformly in [0, 1).
    Random,
    // JSON: `->` / `->>` with a text or integer key; `json` inputs are parsed first.
    JsonGet {
        as_text: bool,
        by_index: bool,
    },
    JsonContains,
    JsonContained,
    JsonHasKey,
    JsonTypeof,
    JsonArrayLength,
    // Arrays.
    /// `ARRAY[a, b, ...]` (not strict: NULL elements are kept).
    ArrayConstruct,
    ArraySubscript,
    ArrayLength,
    Cardinality,
    ArrayLower,
    ArrayUpper,
    /// `array || element`, `element || array`, `array || array`, by argument 0/1 kinds.
    ArrayConcat,
    /// `x op ANY(array)` / `x op ALL(array)` (not strict: SQL's three-valued rules).
    AnyOp {
        op: BinaryOp,
        all: bool,
    },
}

fn mismatch(b: Builtin, vals: &[Value]) -> SqlError {
    SqlError::internal(format!("{b:?} applied to {vals:?}"))
}

fn num(v: &Value) -> Option<&Numeric> {
    match v {
        Value::Numeric(n) => Some(n),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

fn interval(v: &Value) -> Option<&Interval> {
    match v {
        Value::Interval(iv) => Some(iv),
        _ => None,
    }
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

/// The jsonb value of a `json` (text) or `jsonb` argument.
fn jsonb(v: &Value) -> Result<Option<std::borrow::Cow<'_, Jsonb>>> {
    Ok(match v {
        Value::Jsonb(j) => Some(std::borrow::Cow::Borrowed(j.as_ref())),
        Value::Text(s) => Some(std::borrow::Cow::Owned(crate::types::json::parse_json(s)?)),
        _ => None,
    })
}

/// Applies an arithmetic operator to INTERVAL operands (from `expr::binary`, which does
/// numeric arithmetic itself).
pub fn binary(op: BinaryOp, l: Value, r: Value) -> Result<Value> {
    match (op, &l, &r) {
        (BinaryOp::Add, Value::Interval(a), Value::Interval(b)) => {
            Ok(Value::Interval(a.checked_add(b)?))
        }
        (BinaryOp::Sub, Value::Interval(a), Value::Interval(b)) => {
            Ok(Value::Interval(a.checked_sub(b)?))
        }
        _ => Err(op_error(op, &l, &r)),
    }
}

fn op_error(op: BinaryOp, l: &Value, r: &Value) -> SqlError {
    SqlError::internal(format!("operator {} on {l:?} and {r:?}", op.symbol()))
}

/// `-x` for NUMERIC and INTERVAL.
pub fn negate(v: Value) -> Result<Value> {
    match v {
        Value::Numeric(n) => Ok(Value::numeric(n.neg())),
        Value::Interval(iv) => Ok(Value::Interval(iv.checked_neg()?)),
        other => Err(SqlError::internal(format!("cannot negate {other:?}"))),
    }
}

fn timestamp_value(ts: i64, ty: &DataType) -> Value {
    let p = match ty {
        DataType::Timestamp(p) | DataType::Timestamptz(p) | DataType::Time(p) => *p,
        _ => None,
    };
    Value::Int(match p {
        Some(p) => datetime::round_to_precision(ts, p),
        None => ts,
    })
}

fn part_value(p: Option<datetime::Part>, numeric: bool) -> Value {
    match p {
        None => Value::Null,
        Some(p) if numeric => Value::numeric(p.numeric),
        Some(p) => Value::Float(p.float),
    }
}

pub fn eval(
    b: Builtin,
    args: &[Expr],
    ty: &DataType,
    row: &[Value],
    ctx: &EvalContext,
) -> Result<Value> {
    match b {
        Builtin::ArrayConstruct => {
            let mut items = Vec::with_capacity(args.len());
            for a in args {
                items.push(a.eval(row, ctx)?);
            }
            return Ok(Value::Array(items));
        }
        Builtin::AnyOp { op, all } => {
            let x = eval_arg(args, 0, row, ctx)?;
            let arr = eval_arg(args, 1, row, ctx)?;
            return any_op(op, all, x, arr);
        }
        _ => {}
    }
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        let v = a.eval(row, ctx)?;
        if v.is_null() {
            return Ok(Value::Null);
        }
        vals.push(v);
    }
    let v0 = vals.first();
    let v1 = vals.get(1);
    let bad = || mismatch(b, &vals);
    Ok(match b {
        Builtin::NumericAbs => Value::numeric(num(v0.ok_or_else(bad)?).ok_or_else(bad)?.abs()),
        Builtin::NumericSign => Value::numeric(num(v0.ok_or_else(bad)?).ok_or_else(bad)?.sign()),
        Builtin::NumericFloor => Value::numeric(num(v0.ok_or_else(bad)?).ok_or_else(bad)?.floor()),
        Builtin::NumericCeil => Value::numeric(num(v0.ok_or_else(bad)?).ok_or_else(bad)?.ceil()),
        Builtin::NumericRound | Builtin::NumericTrunc => {
            let n = num(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let scale = match v1 {
                None => 0,
                Some(v) => int(v)
                    .ok_or_else(bad)?
                    .clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            };
            Value::numeric(if b == Builtin::NumericRound {
                n.round(scale)
            } else {
                n.trunc(scale)
            })
        }
        Builtin::NumericSqrt => Value::numeric(num(v0.ok_or_else(bad)?).ok_or_else(bad)?.sqrt()?),
        Builtin::FloatTrunc => Value::Float(float(v0.ok_or_else(bad)?).ok_or_else(bad)?.trunc()),
        Builtin::DatePlusDays | Builtin::DateMinusDays => {
            let d = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let n = int(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            let n = if b == Builtin::DateMinusDays { -n } else { n };
            Value::Int(datetime::date_add_days(d, n)? as i64)
        }
        Builtin::DateMinusDate => {
            let a = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let c = int(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            Value::Int(datetime::date_diff(a, c)?)
        }
        Builtin::DatePlusTime => {
            let d = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let t = int(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            let ts = datetime::date_to_timestamp(d)?;
            if ts == datetime::TS_NOBEGIN || ts == datetime::TS_NOEND {
                Value::Int(ts)
            } else {
                Value::Int(datetime::check_timestamp(ts.checked_add(t).ok_or_else(
                    || SqlError::new(datetime::DATETIME_FIELD_OVERFLOW, "timestamp out of range"),
                )?)?)
            }
        }
        Builtin::TimestampPlusInterval | Builtin::TimestampMinusInterval => {
            let ts = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let iv = interval(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            let r = if b == Builtin::TimestampPlusInterval {
                datetime::timestamp_add_interval(ts, iv)?
            } else {
                datetime::timestamp_sub_interval(ts, iv)?
            };
            timestamp_value(r, ty)
        }
        Builtin::TimestampMinusTimestamp => {
            let a = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let c = int(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            Value::Interval(datetime::timestamp_diff(a, c)?)
        }
        Builtin::TimePlusInterval | Builtin::TimeMinusInterval => {
            let t = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let iv = interval(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            let iv = if b == Builtin::TimeMinusInterval {
                iv.checked_neg()?
            } else {
                *iv
            };
            Value::Int(datetime::time_add_interval(t, &iv))
        }
        Builtin::TimeMinusTime => {
            let a = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let c = int(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            Value::Interval(Interval::new(0, 0, a - c))
        }
        Builtin::IntervalPlus | Builtin::IntervalMinus => {
            let x = interval(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let y = interval(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            Value::Interval(if b == Builtin::IntervalPlus {
                x.checked_add(y)?
            } else {
                x.checked_sub(y)?
            })
        }
        Builtin::IntervalMul | Builtin::IntervalDiv => {
            let x = interval(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let f = float(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            Value::Interval(if b == Builtin::IntervalMul {
                x.mul(f)?
            } else {
                x.div(f)?
            })
        }
        Builtin::Now => timestamp_value(ctx.now_micros, ty),
        Builtin::ClockTimestamp => Value::Int(match ctx.volatile {
            Some(v) => v.clock_micros(),
            None => ctx.now_micros,
        }),
        Builtin::CurrentDate => Value::Int(datetime::timestamp_to_date(ctx.now_micros)),
        Builtin::LocalTimestamp => timestamp_value(ctx.now_micros, ty),
        Builtin::LocalTime => {
            timestamp_value(datetime::timestamp_to_time(ctx.now_micros).unwrap_or(0), ty)
        }
        Builtin::Extract(kind, numeric) => {
            let unit = text(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let x = v1.ok_or_else(bad)?;
            let part = match (kind, x) {
                (Some(Kind::Date), Value::Int(d)) => datetime::extract_date(unit, *d)?,
                (Some(Kind::Time), Value::Int(t)) => datetime::extract_time(unit, *t)?,
                (Some(Kind::Timestamp), Value::Int(t)) => {
                    datetime::extract_timestamp(unit, *t, false)?
                }
                (Some(Kind::Timestamptz), Value::Int(t)) => {
                    datetime::extract_timestamp(unit, *t, true)?
                }
                (None, Value::Interval(iv)) => datetime::extract_interval(unit, iv)?,
                _ => return Err(bad()),
            };
            part_value(part, numeric)
        }
        Builtin::DateTrunc(kind) => {
            let unit = text(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            match (kind, v1.ok_or_else(bad)?) {
                (Some(k), Value::Int(t)) => {
                    Value::Int(datetime::trunc_timestamp(unit, *t, k == Kind::Timestamptz)?)
                }
                (None, Value::Interval(iv)) => Value::Interval(datetime::trunc_interval(unit, iv)?),
                _ => return Err(bad()),
            }
        }
        Builtin::Age => {
            let a = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let c = match v1 {
                Some(v) => int(v).ok_or_else(bad)?,
                // age(x) = age(current_date at midnight, x).
                None => datetime::date_to_timestamp(datetime::timestamp_to_date(ctx.now_micros))?,
            };
            if v1.is_some() {
                Value::Interval(datetime::age(a, c)?)
            } else {
                Value::Interval(datetime::age(c, a)?)
            }
        }
        Builtin::JustifyHours | Builtin::JustifyDays | Builtin::JustifyInterval => {
            let x = interval(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            Value::Interval(match b {
                Builtin::JustifyHours => x.justify_hours()?,
                Builtin::JustifyDays => x.justify_days()?,
                _ => x.justify_interval()?,
            })
        }
        Builtin::ToTimestamp => {
            let secs = float(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            if secs.is_nan() {
                return Err(SqlError::new(
                    datetime::DATETIME_FIELD_OVERFLOW,
                    "timestamp cannot be NaN",
                ));
            }
            if secs.is_infinite() {
                return Ok(Value::Int(if secs > 0.0 {
                    datetime::TS_NOEND
                } else {
                    datetime::TS_NOBEGIN
                }));
            }
            let micros = (secs * 1e6).round_ties_even() - datetime::UNIX_EPOCH_OFFSET_MICROS as f64;
            if !(-9.2e18..9.2e18).contains(&micros) {
                return Err(SqlError::new(
                    datetime::DATETIME_FIELD_OVERFLOW,
                    format!(
                        "timestamp out of range: \"{}\"",
                        crate::types::format_float(secs, false)
                    ),
                ));
            }
            Value::Int(datetime::check_timestamp(micros as i64)?)
        }
        Builtin::MakeDate => {
            let y = int(v0.ok_or_else(bad)?).ok_or_else(bad)?;
            let m = int(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            let d = int(vals.get(2).ok_or_else(bad)?).ok_or_else(bad)?;
            let y2 = if y < 0 { y + 1 } else { y };
            if y == 0 || !(1..=12).contains(&m) || d < 1 || d > datetime::days_in_month(y2, m) {
                return Err(SqlError::new(
                    datetime::DATETIME_FIELD_OVERFLOW,
                    format!("date field value out of range: {y}-{m:02}-{d:02}"),
                ));
            }
            Value::Int(datetime::check_date(datetime::days_from_parts(y2, m, d))? as i64)
        }
        Builtin::GenRandomUuid => {
            let v = ctx
                .volatile
                .ok_or_else(|| SqlError::internal("no source of randomness for gen_random_uuid"))?;
            Value::Uuid(uuid_v4(v.random_bytes()))
        }
        Builtin::Random => {
            let v = ctx
                .volatile
                .ok_or_else(|| SqlError::internal("no source of randomness for random"))?;
            let b = v.random_bytes();
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[..8]);
            // The top 53 bits as a fraction: every value a multiple of 2^-53 in [0, 1).
            Value::Float((u64::from_le_bytes(w) >> 11) as f64 / (1u64 << 53) as f64)
        }
        Builtin::JsonGet { as_text, by_index } => {
            let j = jsonb(v0.ok_or_else(bad)?)?.ok_or_else(bad)?;
            let found = if by_index {
                j.element(int(v1.ok_or_else(bad)?).ok_or_else(bad)?)
            } else {
                j.field(text(v1.ok_or_else(bad)?).ok_or_else(bad)?)
            };
            match found {
                None => Value::Null,
                Some(x) if as_text => x.as_text().map_or(Value::Null, Value::Text),
                Some(x) if *ty == DataType::Json => Value::Text(x.to_text()),
                Some(x) => Value::Jsonb(Box::new(x.clone())),
            }
        }
        Builtin::JsonContains | Builtin::JsonContained => {
            let x = jsonb(v0.ok_or_else(bad)?)?.ok_or_else(bad)?;
            let y = jsonb(v1.ok_or_else(bad)?)?.ok_or_else(bad)?;
            Value::Bool(if b == Builtin::JsonContains {
                x.contains(&y)
            } else {
                y.contains(&x)
            })
        }
        Builtin::JsonHasKey => {
            let x = jsonb(v0.ok_or_else(bad)?)?.ok_or_else(bad)?;
            Value::Bool(x.has_key(text(v1.ok_or_else(bad)?).ok_or_else(bad)?))
        }
        Builtin::JsonTypeof => {
            let x = jsonb(v0.ok_or_else(bad)?)?.ok_or_else(bad)?;
            Value::Text(x.type_name().to_string())
        }
        Builtin::JsonArrayLength => {
            let x = jsonb(v0.ok_or_else(bad)?)?.ok_or_else(bad)?;
            match x.as_ref() {
                Jsonb::Array(items) => Value::Int(items.len() as i64),
                Jsonb::Object(_) => {
                    return Err(SqlError::new(
                        code::INVALID_PARAMETER_VALUE,
                        "cannot get array length of a non-array",
                    ))
                }
                _ => {
                    return Err(SqlError::new(
                        code::INVALID_PARAMETER_VALUE,
                        "cannot get array length of a scalar",
                    ))
                }
            }
        }
        Builtin::ArraySubscript => {
            let Some(Value::Array(items)) = v0 else {
                return Err(bad());
            };
            let i = int(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            usize::try_from(i - 1)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .unwrap_or(Value::Null)
        }
        Builtin::ArrayLength | Builtin::ArrayLower | Builtin::ArrayUpper => {
            let Some(Value::Array(items)) = v0 else {
                return Err(bad());
            };
            let dim = int(v1.ok_or_else(bad)?).ok_or_else(bad)?;
            if dim != 1 || items.is_empty() {
                Value::Null
            } else {
                Value::Int(match b {
                    Builtin::ArrayLower => 1,
                    _ => items.len() as i64,
                })
            }
        }
        Builtin::Cardinality => {
            let Some(Value::Array(items)) = v0 else {
                return Err(bad());
            };
            Value::Int(items.len() as i64)
        }
        Builtin::ArrayConcat => match (vals.first(), vals.get(1)) {
            (Some(Value::Array(a)), Some(Value::Array(c))) => {
                let mut out = a.clone();
                out.extend(c.iter().cloned());
                Value::Array(out)
            }
            (Some(Value::Array(a)), Some(x)) => {
                let mut out = a.clone();
                out.push(x.clone());
                Value::Array(out)
            }
            (Some(x), Some(Value::Array(c))) => {
                let mut out = vec![x.clone()];
                out.extend(c.iter().cloned());
                Value::Array(out)
            }
            _ => return Err(bad()),
        },
        Builtin::ArrayConstruct | Builtin::AnyOp { .. } => {
            return Err(SqlError::internal(format!("{b:?} evaluated twice")))
        }
    })
}

fn eval_arg(args: &[Expr], i: usize, row: &[Value], ctx: &EvalContext) -> Result<Value> {
    args.get(i)
        .ok_or_else(|| SqlError::internal("missing function argument"))?
        .eval(row, ctx)
}

/// `x op ANY/ALL (array)` with SQL's NULL rules: a definite answer wins over NULLs.
fn any_op(op: BinaryOp, all: bool, x: Value, arr: Value) -> Result<Value> {
    let items = match arr {
        Value::Null => return Ok(Value::Null),
        Value::Array(items) => items,
        other => return Err(SqlError::internal(format!("ANY over {other:?}"))),
    };
    if items.is_empty() {
        return Ok(Value::Bool(all));
    }
    if x.is_null() {
        return Ok(Value::Null);
    }
    let mut saw_null = false;
    for item in &items {
        let hit = match compare(&x, item) {
            None => {
                saw_null = true;
                continue;
            }
            Some(o) => match op {
                BinaryOp::Eq => o == Ordering::Equal,
                BinaryOp::NotEq => o != Ordering::Equal,
                BinaryOp::Lt => o == Ordering::Less,
                BinaryOp::LtEq => o != Ordering::Greater,
                BinaryOp::Gt => o == Ordering::Greater,
                BinaryOp::GtEq => o != Ordering::Less,
                _ => return Err(SqlError::internal(format!("ANY with {}", op.symbol()))),
            },
        };
        if hit != all {
            // ANY: one true decides; ALL: one false decides.
            return Ok(Value::Bool(!all));
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Func;
    use crate::types::parse_text;

    fn lit(s: &str, ty: DataType) -> Expr {
        Expr::literal(parse_text(s, &ty).unwrap(), ty)
    }

    fn call(b: Builtin, args: Vec<Expr>, ty: DataType) -> Result<Value> {
        Expr::Func {
            func: Func::Builtin(b),
            args,
            ty,
        }
        .eval(&[], &EvalContext::default())
    }

    #[test]
    fn strict_builtins_pass_null() {
        let null = Expr::literal(Value::Null, DataType::Interval);
        let r = call(
            Builtin::IntervalPlus,
            vec![lit("1 day", DataType::Interval), null],
            DataType::Interval,
        );
        assert_eq!(r.unwrap(), Value::Null);
        let arr = call(
            Builtin::ArrayConstruct,
            vec![
                lit("1", DataType::Int4),
                Expr::literal(Value::Null, DataType::Int4),
            ],
            DataType::Array(Box::new(DataType::Int4)),
        );
        assert_eq!(arr.unwrap(), Value::Array(vec![Value::Int(1), Value::Null]));
    }

    #[test]
    fn any_and_all_follow_three_valued_logic() {
        let arr = |v: Vec<Value>| v;
        let cases = [
            (
                BinaryOp::Eq,
                false,
                2,
                arr(vec![Value::Int(1), Value::Int(2)]),
                Value::Bool(true),
            ),
            (
                BinaryOp::Eq,
                false,
                3,
                arr(vec![Value::Int(1), Value::Null]),
                Value::Null,
            ),
            (
                BinaryOp::NotEq,
                true,
                3,
                arr(vec![Value::Int(1), Value::Int(2)]),
                Value::Bool(true),
            ),
            (
                BinaryOp::NotEq,
                true,
                1,
                arr(vec![Value::Int(1), Value::Null]),
                Value::Bool(false),
            ),
            (BinaryOp::Eq, false, 1, arr(vec![]), Value::Bool(false)),
            (BinaryOp::Eq, true, 1, arr(vec![]), Value::Bool(true)),
        ];
        for (op, all, x, items, want) in cases {
            assert_eq!(
                any_op(op, all, Value::Int(x), Value::Array(items.clone())).unwrap(),
                want,
                "{x} {op:?} {all} {items:?}"
            );
        }
    }

    #[test]
    fn now_is_the_context_timestamp() {
        let ctx = EvalContext {
            now_micros: 1234,
            ..EvalContext::default()
        };
        let e = Expr::Func {
            func: Func::Builtin(Builtin::Now),
            args: vec![],
            ty: DataType::Timestamptz(None),
        };
        assert_eq!(e.eval(&[], &ctx).unwrap(), Value::Int(1234));
    }
}

//! Binding for NUMERIC, date/time, interval, UUID, JSON and array types: type names, the
//! operators and functions over them, and the expression forms only they use (`INTERVAL '..'`,
//! `EXTRACT`, `AT TIME ZONE`, `ARRAY[..]`, `x = ANY(arr)`, `arr[i]`).
//!
//! Role: a child of `bind` so the main binder only delegates here (its fallbacks call in);
//! the functions choose an `expr::Builtin` and coerce arguments as PostgreSQL's operator and
//! function resolution would, following bind invariant 2 (every operand coerced, type errors
//! reported here with PostgreSQL's SQLSTATE).
//!
//! Invariants:
//! 1. Operator resolution follows PostgreSQL's catalog for these types: `date ± int`,
//!    `date - date` (int), `date + time`, `timestamp ± interval`, `timestamp - timestamp`
//!    (interval), `time ± interval`, `time - time`, `interval ± interval`,
//!    `interval * / float8`; mixed date/timestamp operands are cast to the wider one first.
//!    Anything else is 42883 "operator does not exist". Tests: `tests/pg/sql_types.rs`.
//! 2. Deviations are 0A000 with the construct named: `time with time zone`,
//!    multidimensional arrays, array slices, `AT TIME ZONE` other than UTC, `#>`/`#>>`.

use sqlparser::ast;

use super::{no_function, unsupported, Binder, Scope};
use crate::error::{code, Result, SqlError};
use crate::expr::{BinaryOp, Builtin, Expr, Func};
use crate::types::datetime::{self, IntervalField, Kind};
use crate::types::{DataType, Value};

fn builtin(b: Builtin, args: Vec<Expr>, ty: DataType) -> Expr {
    Expr::Func {
        func: Func::Builtin(b),
        args,
        ty,
    }
}

fn operator_error(lt: &DataType, op: &str, rt: &DataType) -> SqlError {
    SqlError::new(
        code::UNDEFINED_FUNCTION,
        format!(
            "operator does not exist: {} {op} {}",
            lt.short_name(),
            rt.short_name()
        ),
    )
    .with_hint(
        "No operator matches the given name and argument types. You might need to add explicit type casts.",
    )
}

fn check_precision(p: u64, what: &str) -> u32 {
    // PostgreSQL warns and reduces a precision above 6 to 6.
    let _ = what;
    p.min(6) as u32
}

/// Maps the SQL type names of the types this module owns (called by `bind::data_type` for
/// names it does not know).
pub(super) fn data_type_ext(t: &ast::DataType) -> Result<DataType> {
    use ast::DataType as T;
    Ok(match t {
        T::Numeric(info) | T::Decimal(info) | T::Dec(info) => numeric_type(info)?,
        T::Date => DataType::Date,
        T::Time(p, tz) => match tz {
            ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone => {
                DataType::Time(p.map(|p| check_precision(p, "TIME")))
            }
            _ => return unsupported("type time with time zone"),
        },
        T::Timestamp(p, tz) => {
            let p = p.map(|p| check_precision(p, "TIMESTAMP"));
            match tz {
                ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone => {
                    DataType::Timestamp(p)
                }
                ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz => DataType::Timestamptz(p),
            }
        }
        T::Interval { .. } => DataType::Interval,
        T::Uuid => DataType::Uuid,
        T::JSONB => DataType::Jsonb,
        T::JSON => DataType::Json,
        T::Array(def) => {
            let elem = match def {
                ast::ArrayElemTypeDef::SquareBracket(t, _)
                | ast::ArrayElemTypeDef::AngleBracket(t)
                | ast::ArrayElemTypeDef::Parenthesis(t)
                | ast::ArrayElemTypeDef::Qualified(t, _) => super::data_type(t)?,
                ast::ArrayElemTypeDef::None => {
                    return unsupported("type ARRAY without an element type")
                }
            };
            // int[][] is int[] in PostgreSQL: the dimensions are not part of the type.
            match elem {
                DataType::Array(e) => DataType::Array(e),
                e => DataType::Array(Box::new(e)),
            }
        }
        other => return unsupported(format!("type {other}")),
    })
}

fn numeric_type(info: &ast::ExactNumberInfo) -> Result<DataType> {
    let (p, s) = match info {
        ast::ExactNumberInfo::None => return Ok(DataType::Numeric(None)),
        ast::ExactNumberInfo::Precision(p) => (*p as i64, 0),
        ast::ExactNumberInfo::PrecisionAndScale(p, s) => (*p as i64, *s),
    };
    if !(1..=crate::types::numeric::MAX_PRECISION as i64).contains(&p) {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("NUMERIC precision {p} must be between 1 and 1000"),
        ));
    }
    if !(-1000..=1000).contains(&s) {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("NUMERIC scale {s} must be between -1000 and 1000"),
        ));
    }
    Ok(DataType::Numeric(Some((p as i32, s as i32))))
}

/// Type names that reach `bind::data_type` as custom names.
pub(super) fn custom_type(name: &str) -> Result<Option<DataType>> {
    Ok(Some(match name {
        "numeric" | "decimal" => DataType::Numeric(None),
        "date" => DataType::Date,
        "time" => DataType::Time(None),
        "timestamp" => DataType::Timestamp(None),
        "timestamptz" => DataType::Timestamptz(None),
        "interval" => DataType::Interval,
        "uuid" => DataType::Uuid,
        "jsonb" => DataType::Jsonb,
        "json" => DataType::Json,
        "timetz" => return unsupported("type time with time zone"),
        _ => return Ok(None),
    }))
}

/// The label of `CAST(x AS t)` columns for the types of this module (`int4` for `int[]`).
pub(super) fn type_label(t: &DataType) -> Option<&'static str> {
    Some(match t {
        DataType::Numeric(_) => "numeric",
        DataType::Date => "date",
        DataType::Time(_) => "time",
        DataType::Timestamp(_) => "timestamp",
        DataType::Timestamptz(_) => "timestamptz",
        DataType::Interval => "interval",
        DataType::Uuid => "uuid",
        DataType::Jsonb => "jsonb",
        DataType::Json => "json",
        DataType::Array(e) => match e.as_ref() {
            DataType::Int2 => "int2",
            DataType::Int4 => "int4",
            DataType::Int8 => "int8",
            DataType::Float4 => "float4",
            DataType::Float8 => "float8",
            DataType::Bool => "bool",
            DataType::Text => "text",
            DataType::Varchar(_) => "varchar",
            DataType::Char(_) => "bpchar",
            DataType::Bytea => "bytea",
            other => type_label(other)?,
        },
        _ => return None,
    })
}

/// Labels of unaliased select-list expressions this module binds.
pub(super) fn column_label(e: &ast::Expr) -> Option<String> {
    Some(match e {
        ast::Expr::Extract { .. } => "extract".into(),
        ast::Expr::Array(_) => "array".into(),
        ast::Expr::Interval(_) => "interval".into(),
        ast::Expr::AtTimeZone { .. } => "timezone".into(),
        ast::Expr::CompoundFieldAccess { root, .. } => super::column_label(root),
        _ => return None,
    })
}

fn field_name(f: &ast::DateTimeField) -> String {
    match f {
        ast::DateTimeField::Custom(i) => i.value.to_lowercase(),
        ast::DateTimeField::Millenium => "millennium".into(),
        other => other.to_string().to_lowercase(),
    }
}

fn interval_field(f: &ast::DateTimeField) -> Result<IntervalField> {
    use ast::DateTimeField as F;
    Ok(match f {
        F::Year | F::Years => IntervalField::Year,
        F::Month | F::Months => IntervalField::Month,
        F::Day | F::Days => IntervalField::Day,
        F::Hour | F::Hours => IntervalField::Hour,
        F::Minute | F::Minutes => IntervalField::Minute,
        F::Second | F::Seconds => IntervalField::Second,
        other => return Err(SqlError::syntax(format!("invalid interval field {other}"))),
    })
}

fn kind_of(t: &DataType) -> Option<Option<Kind>> {
    Some(match t {
        DataType::Date => Some(Kind::Date),
        DataType::Time(_) => Some(Kind::Time),
        DataType::Timestamp(_) => Some(Kind::Timestamp),
        DataType::Timestamptz(_) => Some(Kind::Timestamptz),
        DataType::Interval => None,
        _ => return None,
    })
}

fn is_utc(zone: &str) -> bool {
    matches!(
        zone.trim().to_ascii_lowercase().as_str(),
        "utc"
            | "gmt"
            | "z"
            | "zulu"
            | "ut"
            | "etc/utc"
            | "etc/gmt"
            | "uct"
            | "universal"
            | "+00"
            | "+00:00"
            | "-00"
            | "00:00"
    )
}

impl Binder<'_> {
    /// Arithmetic involving date/time types and array concatenation; `Err` hands the operands
    /// back to the generic rules.
    pub(super) fn binary_ext(
        &mut self,
        op: BinaryOp,
        l: Expr,
        r: Expr,
    ) -> Result<std::result::Result<Expr, (Expr, Expr)>> {
        let (lt, rt) = (l.ty(), r.ty());
        if op == BinaryOp::Concat
            && (matches!(lt, DataType::Array(_)) || matches!(rt, DataType::Array(_)))
        {
            return self.array_concat(l, r).map(Ok);
        }
        let timeish =
            |t: &DataType| t.is_datetime() || matches!(t, DataType::Time(_) | DataType::Interval);
        if !matches!(
            op,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div
        ) || !(timeish(&lt) || timeish(&rt))
        {
            return Ok(Err((l, r)));
        }
        // date + unknown: date + integer, date + interval and date + time all fit.
        if op == BinaryOp::Add
            && matches!(
                (&lt, &rt),
                (DataType::Date, DataType::Unknown) | (DataType::Unknown, DataType::Date)
            )
        {
            return Err(SqlError::new(
                "42725",
                format!(
                    "operator is not unique: {} + {}",
                    lt.short_name(),
                    rt.short_name()
                ),
            )
            .with_hint("Could not choose a best candidate operator. You might need to add explicit type casts."));
        }
        // An unknown literal takes the other side's type where `T op T` exists, else interval.
        let unknown_as = |other: &DataType| match (op, other) {
            (BinaryOp::Sub, t) if t.is_datetime() || matches!(t, DataType::Time(_)) => t.clone(),
            (BinaryOp::Mul | BinaryOp::Div, DataType::Interval) => DataType::Float8,
            _ => DataType::Interval,
        };
        let (l, lt) = if lt == DataType::Unknown {
            let t = unknown_as(&rt);
            (self.coerce(l, &t)?, t)
        } else {
            (l, lt)
        };
        let (r, rt) = if rt == DataType::Unknown {
            let t = unknown_as(&lt);
            (self.coerce(r, &t)?, t)
        } else {
            (r, rt)
        };
        use DataType as D;
        let sym = op.symbol();
        let ts_of = |t: &DataType| t.unconstrained();
        let e = match (op, &lt, &rt) {
            (BinaryOp::Add, D::Date, t) | (BinaryOp::Sub, D::Date, t) if t.is_integer() => {
                let b = if op == BinaryOp::Add {
                    Builtin::DatePlusDays
                } else {
                    Builtin::DateMinusDays
                };
                builtin(b, vec![l, r], D::Date)
            }
            (BinaryOp::Add, t, D::Date) if t.is_integer() => {
                builtin(Builtin::DatePlusDays, vec![r, l], D::Date)
            }
            (BinaryOp::Sub, D::Date, D::Date) => {
                builtin(Builtin::DateMinusDate, vec![l, r], D::Int4)
            }
            (BinaryOp::Add, D::Date, D::Time(_)) => {
                builtin(Builtin::DatePlusTime, vec![l, r], D::Timestamp(None))
            }
            (BinaryOp::Add, D::Time(_), D::Date) => {
                builtin(Builtin::DatePlusTime, vec![r, l], D::Timestamp(None))
            }
            (BinaryOp::Add | BinaryOp::Sub, t, D::Interval) if t.is_datetime() => {
                let target = if *t == D::Date {
                    D::Timestamp(None)
                } else {
                    ts_of(t)
                };
                let l = self.coerce(l, &target)?;
                let b = if op == BinaryOp::Add {
                    Builtin::TimestampPlusInterval
                } else {
                    Builtin::TimestampMinusInterval
                };
                builtin(b, vec![l, r], target)
            }
            (BinaryOp::Add, D::Interval, t) if t.is_datetime() => {
                let target = if *t == D::Date {
                    D::Timestamp(None)
                } else {
                    ts_of(t)
                };
                let r = self.coerce(r, &target)?;
                builtin(Builtin::TimestampPlusInterval, vec![r, l], target)
            }
            (BinaryOp::Sub, a, b) if a.is_datetime() && b.is_datetime() => {
                let common = D::common(a, b).ok_or_else(|| operator_error(a, sym, b))?;
                let common = if common == D::Date {
                    D::Timestamp(None)
                } else {
                    common
                };
                let l = self.coerce(l, &common)?;
                let r = self.coerce(r, &common)?;
                builtin(Builtin::TimestampMinusTimestamp, vec![l, r], D::Interval)
            }
            (BinaryOp::Add | BinaryOp::Sub, D::Time(_), D::Interval) => {
                let b = if op == BinaryOp::Add {
                    Builtin::TimePlusInterval
                } else {
                    Builtin::TimeMinusInterval
                };
                builtin(b, vec![l, r], D::Time(None))
            }
            (BinaryOp::Add, D::Interval, D::Time(_)) => {
                builtin(Builtin::TimePlusInterval, vec![r, l], D::Time(None))
            }
            (BinaryOp::Sub, D::Time(_), D::Time(_)) => {
                builtin(Builtin::TimeMinusTime, vec![l, r], D::Interval)
            }
            (BinaryOp::Add | BinaryOp::Sub, D::Interval, D::Interval) => {
                let b = if op == BinaryOp::Add {
                    Builtin::IntervalPlus
                } else {
                    Builtin::IntervalMinus
                };
                builtin(b, vec![l, r], D::Interval)
            }
            (BinaryOp::Mul | BinaryOp::Div, D::Interval, t) if t.is_numeric() => {
                let r = self.coerce(r, &D::Float8)?;
                let b = if op == BinaryOp::Mul {
                    Builtin::IntervalMul
                } else {
                    Builtin::IntervalDiv
                };
                builtin(b, vec![l, r], D::Interval)
            }
            (BinaryOp::Mul, t, D::Interval) if t.is_numeric() => {
                let l = self.coerce(l, &D::Float8)?;
                builtin(Builtin::IntervalMul, vec![r, l], D::Interval)
            }
            _ => return Err(operator_error(&lt, sym, &rt)),
        };
        Ok(Ok(e))
    }

    fn array_concat(&mut self, l: Expr, r: Expr) -> Result<Expr> {
        // An unknown literal beside an array is an array too (array || array is preferred).
        let (lt, rt) = match (l.ty(), r.ty()) {
            (a @ DataType::Array(_), DataType::Unknown) => (a.clone(), a),
            (DataType::Unknown, a @ DataType::Array(_)) => (a.clone(), a),
            other => other,
        };
        let elem = match (&lt, &rt) {
            (DataType::Array(a), DataType::Array(b)) => {
                DataType::common(a, b).ok_or_else(|| operator_error(&lt, "||", &rt))?
            }
            (DataType::Array(a), other) | (other, DataType::Array(a)) => {
                DataType::common(a, other).ok_or_else(|| operator_error(&lt, "||", &rt))?
            }
            _ => return Err(operator_error(&lt, "||", &rt)),
        };
        let arr = DataType::Array(Box::new(elem.clone()));
        let side = |b: &mut Self, e: Expr, t: &DataType| -> Result<Expr> {
            if matches!(t, DataType::Array(_)) {
                b.coerce(e, &arr)
            } else {
                b.coerce(e, &elem)
            }
        };
        let l = side(self, l, &lt)?;
        let r = side(self, r, &rt)?;
        Ok(builtin(Builtin::ArrayConcat, vec![l, r], arr.clone()))
    }

    /// Operators sqlparser knows that only these types have (JSON's `->`, `->>`, `@>`, `<@`,
    /// `?`).
    pub(super) fn operator_ext(
        &mut self,
        op: &ast::BinaryOperator,
        left: &ast::Expr,
        right: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        use ast::BinaryOperator as B;
        if !matches!(
            op,
            B::Arrow | B::LongArrow | B::AtArrow | B::ArrowAt | B::Question
        ) {
            return unsupported(format!("operator {op}"));
        }
        let l = self.bind_expr(left, scope)?;
        let r = self.bind_expr(right, scope)?;
        let (lt, rt) = (l.ty(), r.ty());
        let json_side = |b: &mut Self, e: Expr| -> Result<Expr> {
            match e.ty() {
                DataType::Jsonb | DataType::Json => Ok(e),
                DataType::Unknown => b.coerce(e, &DataType::Jsonb),
                _ => Err(operator_error(&lt, &op.to_string(), &rt)),
            }
        };
        match op {
            B::Arrow | B::LongArrow => {
                let l = json_side(self, l)?;
                let by_index = rt.is_integer();
                let r = if by_index {
                    r
                } else if rt.is_string() {
                    self.coerce(r, &DataType::Text)?
                } else {
                    return Err(operator_error(&lt, &op.to_string(), &rt));
                };
                let as_text = matches!(op, B::LongArrow);
                let ty = if as_text { DataType::Text } else { l.ty() };
                Ok(builtin(
                    Builtin::JsonGet { as_text, by_index },
                    vec![l, r],
                    ty,
                ))
            }
            B::AtArrow | B::ArrowAt => {
                if matches!(lt, DataType::Array(_)) || matches!(rt, DataType::Array(_)) {
                    return unsupported("array containment operators");
                }
                if lt == DataType::Json || rt == DataType::Json {
                    return Err(operator_error(&lt, &op.to_string(), &rt));
                }
                let l = json_side(self, l)?;
                let r = json_side(self, r)?;
                let b = if matches!(op, B::AtArrow) {
                    Builtin::JsonContains
                } else {
                    Builtin::JsonContained
                };
                Ok(builtin(b, vec![l, r], DataType::Bool))
            }
            _ => {
                if lt == DataType::Json {
                    return Err(operator_error(&lt, "?", &rt));
                }
                let l = json_side(self, l)?;
                if !rt.is_string() {
                    return Err(operator_error(&lt, "?", &rt));
                }
                let r = self.coerce(r, &DataType::Text)?;
                Ok(builtin(Builtin::JsonHasKey, vec![l, r], DataType::Bool))
            }
        }
    }

    /// Functions over the types of this module; `Err` hands the arguments back.
    pub(super) fn scalar_function_ext(
        &mut self,
        name: &str,
        mut args: Vec<Expr>,
    ) -> Result<std::result::Result<Expr, Vec<Expr>>> {
        let types: Vec<DataType> = args.iter().map(|a| a.ty()).collect();
        let n = args.len();
        let first_numeric = matches!(types.first(), Some(DataType::Numeric(_)));
        let numeric = DataType::Numeric(None);
        let arity = |ok: bool| -> Result<()> {
            if ok {
                Ok(())
            } else {
                Err(no_function(name, &types))
            }
        };
        let e = match name {
            "abs" | "sign" | "floor" | "ceil" | "ceiling" | "sqrt" if n == 1 && first_numeric => {
                let b = match name {
                    "abs" => Builtin::NumericAbs,
                    "sign" => Builtin::NumericSign,
                    "floor" => Builtin::NumericFloor,
                    "sqrt" => Builtin::NumericSqrt,
                    _ => Builtin::NumericCeil,
                };
                builtin(b, args, numeric)
            }
            "round" | "trunc" if n == 2 || (n == 1 && first_numeric) => {
                let x = args.remove(0);
                if x.ty().is_float() {
                    return Err(no_function(name, &types));
                }
                if !(x.ty().is_numeric() || x.ty() == DataType::Unknown) {
                    return Err(no_function(name, &types));
                }
                let mut v = vec![self.coerce(x, &numeric)?];
                if let Some(s) = args.pop() {
                    if !(s.ty().is_integer() || s.ty() == DataType::Unknown) {
                        return Err(no_function(name, &types));
                    }
                    v.push(self.coerce(s, &DataType::Int4)?);
                }
                let b = if name == "round" {
                    Builtin::NumericRound
                } else {
                    Builtin::NumericTrunc
                };
                builtin(b, v, numeric)
            }
            "trunc" if n == 1 => {
                let x = args.remove(0);
                if !(x.ty().is_numeric() || x.ty() == DataType::Unknown) {
                    return Err(no_function(name, &types));
                }
                builtin(
                    Builtin::FloatTrunc,
                    vec![self.coerce(x, &DataType::Float8)?],
                    DataType::Float8,
                )
            }
            "mod" => {
                arity(n == 2)?;
                let r = args.pop().ok_or_else(|| no_function(name, &types))?;
                let l = args.pop().ok_or_else(|| no_function(name, &types))?;
                let common = DataType::common(&l.ty(), &r.ty())
                    .filter(|t| {
                        t.is_integer() || matches!(t, DataType::Numeric(_) | DataType::Unknown)
                    })
                    .ok_or_else(|| no_function(name, &types))?;
                let common = if common == DataType::Unknown {
                    numeric
                } else {
                    common
                };
                let l = self.coerce(l, &common)?;
                let r = self.coerce(r, &common)?;
                Expr::Binary {
                    op: BinaryOp::Mod,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty: common,
                }
            }
            "now"
            | "transaction_timestamp"
            | "statement_timestamp"
            | "current_timestamp"
            | "localtimestamp"
            | "localtime" => {
                let p = self.precision_arg(name, &args, &types)?;
                let ty = match name {
                    "localtimestamp" => DataType::Timestamp(p),
                    "localtime" => DataType::Time(p),
                    _ => DataType::Timestamptz(p),
                };
                let b = if name == "localtime" {
                    Builtin::LocalTime
                } else if name == "localtimestamp" {
                    Builtin::LocalTimestamp
                } else {
                    Builtin::Now
                };
                builtin(b, Vec::new(), ty)
            }
            "clock_timestamp" => {
                arity(n == 0)?;
                builtin(
                    Builtin::ClockTimestamp,
                    Vec::new(),
                    DataType::Timestamptz(None),
                )
            }
            "current_date" => {
                arity(n == 0)?;
                builtin(Builtin::CurrentDate, Vec::new(), DataType::Date)
            }
            "current_time" => return unsupported("current_time (type time with time zone)"),
            "date_part" | "date_trunc" => {
                if name == "date_trunc" && n == 3 {
                    return unsupported("date_trunc with a time zone");
                }
                arity(n == 2)?;
                let x = args.pop().ok_or_else(|| no_function(name, &types))?;
                let unit = args.pop().ok_or_else(|| no_function(name, &types))?;
                if !unit.ty().is_string() {
                    return Err(no_function(name, &types));
                }
                let unit = self.coerce(unit, &DataType::Text)?;
                let x = match x.ty() {
                    DataType::Unknown => self.coerce(x, &DataType::Timestamptz(None))?,
                    // date_trunc(unit, date) is date_trunc(unit, timestamptz) in PostgreSQL.
                    DataType::Date if name == "date_trunc" => {
                        self.coerce(x, &DataType::Timestamptz(None))?
                    }
                    DataType::Time(_) if name == "date_trunc" => {
                        return Err(no_function(name, &types))
                    }
                    _ => x,
                };
                let xt = x.ty();
                let kind = kind_of(&xt).ok_or_else(|| no_function(name, &types))?;
                if name == "date_part" {
                    builtin(
                        Builtin::Extract(kind, false),
                        vec![unit, x],
                        DataType::Float8,
                    )
                } else {
                    builtin(Builtin::DateTrunc(kind), vec![unit, x], xt.unconstrained())
                }
            }
            "age" => {
                arity(n == 1 || n == 2)?;
                let common = types.iter().try_fold(DataType::Unknown, |acc, t| {
                    DataType::common(&acc, t).filter(|c| c.is_datetime() || *c == DataType::Unknown)
                });
                let common = match common {
                    Some(DataType::Timestamptz(_)) => DataType::Timestamptz(None),
                    Some(_) => DataType::Timestamp(None),
                    None => return Err(no_function(name, &types)),
                };
                let mut v = Vec::new();
                for a in args {
                    v.push(self.coerce(a, &common)?);
                }
                builtin(Builtin::Age, v, DataType::Interval)
            }
            "justify_hours" | "justify_days" | "justify_interval" => {
                arity(n == 1)?;
                let x = self.coerce(args.remove(0), &DataType::Interval)?;
                if x.ty() != DataType::Interval {
                    return Err(no_function(name, &types));
                }
                let b = match name {
                    "justify_hours" => Builtin::JustifyHours,
                    "justify_days" => Builtin::JustifyDays,
                    _ => Builtin::JustifyInterval,
                };
                builtin(b, vec![x], DataType::Interval)
            }
            "to_timestamp" if n == 1 => {
                let x = args.remove(0);
                if !(x.ty().is_numeric() || x.ty() == DataType::Unknown) {
                    return Err(no_function(name, &types));
                }
                builtin(
                    Builtin::ToTimestamp,
                    vec![self.coerce(x, &DataType::Float8)?],
                    DataType::Timestamptz(None),
                )
            }
            "to_timestamp" | "to_char" | "to_date" | "to_number" => {
                return unsupported(format!("{name} with a format"))
            }
            "make_date" => {
                arity(n == 3)?;
                let mut v = Vec::new();
                for a in args {
                    if !(a.ty().is_integer() || a.ty() == DataType::Unknown) {
                        return Err(no_function(name, &types));
                    }
                    v.push(self.coerce(a, &DataType::Int4)?);
                }
                builtin(Builtin::MakeDate, v, DataType::Date)
            }
            "pg_typeof" => {
                // regtype's output is format_type of the type (no modifier); Cairn returns it
                // as text.
                arity(n == 1)?;
                let name = types[0].unconstrained().sql_name();
                Expr::Func {
                    func: Func::SessionConstant,
                    args: vec![Expr::literal(Value::Text(name), DataType::Text)],
                    ty: DataType::Text,
                }
            }
            "gen_random_uuid" => {
                arity(n == 0)?;
                builtin(Builtin::GenRandomUuid, Vec::new(), DataType::Uuid)
            }
            "random" => {
                arity(n == 0)?;
                builtin(Builtin::Random, Vec::new(), DataType::Float8)
            }
            "jsonb_typeof" | "json_typeof" | "jsonb_array_length" | "json_array_length" => {
                arity(n == 1)?;
                let want = if name.starts_with("jsonb") {
                    DataType::Jsonb
                } else {
                    DataType::Json
                };
                let x = self.coerce(args.remove(0), &want)?;
                if x.ty() != want {
                    return Err(no_function(name, &types));
                }
                if name.ends_with("typeof") {
                    builtin(Builtin::JsonTypeof, vec![x], DataType::Text)
                } else {
                    builtin(Builtin::JsonArrayLength, vec![x], DataType::Int4)
                }
            }
            "array_length" | "array_lower" | "array_upper" | "cardinality" => {
                arity(if name == "cardinality" {
                    n == 1
                } else {
                    n == 2
                })?;
                if !matches!(types.first(), Some(DataType::Array(_))) {
                    return Err(no_function(name, &types));
                }
                let mut v = vec![args.remove(0)];
                if let Some(d) = args.pop() {
                    if !(d.ty().is_integer() || d.ty() == DataType::Unknown) {
                        return Err(no_function(name, &types));
                    }
                    v.push(self.coerce(d, &DataType::Int4)?);
                }
                let b = match name {
                    "array_length" => Builtin::ArrayLength,
                    "array_lower" => Builtin::ArrayLower,
                    "array_upper" => Builtin::ArrayUpper,
                    _ => Builtin::Cardinality,
                };
                builtin(b, v, DataType::Int4)
            }
            "array_append" | "array_prepend" | "array_cat" => {
                arity(n == 2)?;
                let r = args.pop().ok_or_else(|| no_function(name, &types))?;
                let l = args.pop().ok_or_else(|| no_function(name, &types))?;
                let ok = match name {
                    "array_append" => matches!(l.ty(), DataType::Array(_)),
                    "array_prepend" => matches!(r.ty(), DataType::Array(_)),
                    _ => {
                        matches!(l.ty(), DataType::Array(_)) && matches!(r.ty(), DataType::Array(_))
                    }
                };
                if !ok {
                    return Err(no_function(name, &types));
                }
                // The element side of append/prepend is an element, even as a literal.
                let (l, r) = match name {
                    "array_append" => {
                        let elem = l.ty().element().cloned().unwrap_or(DataType::Text);
                        let r = self.coerce(r, &elem)?;
                        (l, r)
                    }
                    "array_prepend" => {
                        let elem = r.ty().element().cloned().unwrap_or(DataType::Text);
                        (self.coerce(l, &elem)?, r)
                    }
                    _ => (l, r),
                };
                self.array_concat(l, r)?
            }
            _ => return Ok(Err(args)),
        };
        Ok(Ok(e))
    }

    /// The optional precision argument of `current_timestamp(p)` and friends.
    fn precision_arg(&self, name: &str, args: &[Expr], types: &[DataType]) -> Result<Option<u32>> {
        match args {
            [] => Ok(None),
            [Expr::Literal {
                value: Value::Int(p),
                ..
            }] if matches!(name, "current_timestamp" | "localtimestamp" | "localtime") => {
                if *p < 0 {
                    return Err(SqlError::new(
                        code::INVALID_PARAMETER_VALUE,
                        format!("{} precision must not be negative", name.to_uppercase()),
                    ));
                }
                Ok(Some((*p).min(6) as u32))
            }
            _ => Err(no_function(name, types)),
        }
    }

    /// An empty `ARRAY[]` under a cast to an array type (PostgreSQL needs the cast to type it).
    pub(super) fn empty_array_cast(
        &mut self,
        inner: &ast::Expr,
        target: &DataType,
    ) -> Option<Expr> {
        match (inner, target) {
            (ast::Expr::Array(a), DataType::Array(_)) if a.elem.is_empty() => {
                Some(Expr::literal(Value::Array(Vec::new()), target.clone()))
            }
            _ => None,
        }
    }

    /// Expression forms only these types use.
    pub(super) fn bind_expr_ext(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        use ast::Expr as E;
        match e {
            E::Interval(iv) => {
                let text = match iv.value.as_ref() {
                    E::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        ast::Value::Number(n, _) => n.clone(),
                        other => return unsupported(format!("INTERVAL {other}")),
                    },
                    other => return unsupported(format!("INTERVAL {other}")),
                };
                let leading = iv.leading_field.as_ref().map(interval_field).transpose()?;
                let last = iv.last_field.as_ref().map(interval_field).transpose()?;
                let default_unit = match (leading, last) {
                    (_, Some(l)) => Some(l),
                    (l, None) => l,
                };
                let mut value = datetime::parse_interval(&text, default_unit)?;
                if let Some(f) = last.or(leading) {
                    value = datetime::restrict_interval(value, f);
                }
                Ok(Expr::literal(Value::Interval(value), DataType::Interval))
            }
            E::Extract { field, expr, .. } => {
                let x = self.bind_expr(expr, scope)?;
                let x = if x.ty() == DataType::Unknown {
                    self.coerce(x, &DataType::Timestamptz(None))?
                } else {
                    x
                };
                let xt = x.ty();
                let kind = kind_of(&xt)
                    .ok_or_else(|| no_function("extract", &[DataType::Unknown, xt.clone()]))?;
                let unit = Expr::literal(Value::Text(field_name(field)), DataType::Text);
                Ok(builtin(
                    Builtin::Extract(kind, true),
                    vec![unit, x],
                    DataType::Numeric(None),
                ))
            }
            E::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                let zone = match time_zone.as_ref() {
                    E::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        other => return unsupported(format!("AT TIME ZONE {other}")),
                    },
                    other => return unsupported(format!("AT TIME ZONE {other}")),
                };
                if !is_utc(&zone) {
                    return unsupported(format!("time zone \"{zone}\" (only UTC)"));
                }
                let x = self.bind_expr(timestamp, scope)?;
                let target = match x.ty() {
                    DataType::Timestamp(_) => DataType::Timestamptz(None),
                    DataType::Timestamptz(_) | DataType::Unknown => DataType::Timestamp(None),
                    DataType::Date => DataType::Timestamp(None),
                    other => {
                        return Err(no_function("timezone", &[DataType::Text, other]));
                    }
                };
                let x = if x.ty() == DataType::Unknown {
                    self.coerce(x, &DataType::Timestamptz(None))?
                } else {
                    x
                };
                Ok(Expr::Cast {
                    expr: Box::new(x),
                    ty: target,
                })
            }
            E::Array(arr) => {
                let mut items = Vec::with_capacity(arr.elem.len());
                for item in &arr.elem {
                    items.push(self.bind_expr(item, scope)?);
                }
                if items.is_empty() {
                    return Err(SqlError::new(
                        code::INDETERMINATE_DATATYPE,
                        "cannot determine type of empty array",
                    )
                    .with_hint(
                        "Explicitly cast to the desired type, for example ARRAY[]::integer[].",
                    ));
                }
                let mut elem = DataType::Unknown;
                for i in &items {
                    elem = DataType::common(&elem, &i.ty()).ok_or_else(|| {
                        SqlError::new(
                            code::DATATYPE_MISMATCH,
                            format!(
                                "ARRAY types {} and {} cannot be matched",
                                elem.short_name(),
                                i.ty().short_name()
                            ),
                        )
                    })?;
                }
                if matches!(elem, DataType::Array(_)) {
                    return unsupported("multidimensional arrays");
                }
                if elem == DataType::Unknown {
                    elem = DataType::Text;
                }
                let mut args = Vec::with_capacity(items.len());
                for i in items {
                    args.push(self.coerce(i, &elem)?);
                }
                Ok(builtin(
                    Builtin::ArrayConstruct,
                    args,
                    DataType::Array(Box::new(elem)),
                ))
            }
            E::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | E::AllOp {
                left,
                compare_op,
                right,
            } => {
                if matches!(right.as_ref(), E::Subquery(_)) {
                    return unsupported("subqueries");
                }
                let all = matches!(e, E::AllOp { .. });
                let op = match compare_op {
                    ast::BinaryOperator::Eq => BinaryOp::Eq,
                    ast::BinaryOperator::NotEq => BinaryOp::NotEq,
                    ast::BinaryOperator::Lt => BinaryOp::Lt,
                    ast::BinaryOperator::LtEq => BinaryOp::LtEq,
                    ast::BinaryOperator::Gt => BinaryOp::Gt,
                    ast::BinaryOperator::GtEq => BinaryOp::GtEq,
                    other => return unsupported(format!("{other} ANY/ALL")),
                };
                let x = self.bind_expr(left, scope)?;
                let arr = self.bind_expr(right, scope)?;
                let arr = match arr.ty() {
                    DataType::Unknown => {
                        let elem = match x.ty() {
                            DataType::Unknown => DataType::Text,
                            t => t,
                        };
                        self.coerce(arr, &DataType::Array(Box::new(elem)))?
                    }
                    _ => arr,
                };
                let Some(elem) = arr.ty().element().cloned() else {
                    return Err(SqlError::new(
                        code::WRONG_OBJECT_TYPE,
                        format!(
                            "op ANY/ALL (array) requires array on right side, not {}",
                            arr.ty().short_name()
                        ),
                    ));
                };
                let common = DataType::common(&x.ty(), &elem)
                    .ok_or_else(|| operator_error(&x.ty(), op.symbol(), &elem))?;
                let common = match common {
                    DataType::Unknown => DataType::Text,
                    t if t.is_string() => DataType::Text,
                    t => t,
                };
                let x = self.coerce(x, &common)?;
                let arr_t = DataType::Array(Box::new(common.clone()));
                let arr = if arr.ty().unconstrained() == arr_t.unconstrained()
                    || elem.is_string() && common == DataType::Text
                {
                    arr
                } else {
                    Expr::Cast {
                        expr: Box::new(arr),
                        ty: arr_t,
                    }
                };
                Ok(builtin(
                    Builtin::AnyOp { op, all },
                    vec![x, arr],
                    DataType::Bool,
                ))
            }
            E::CompoundFieldAccess { root, access_chain } => {
                let [ast::AccessExpr::Subscript(sub)] = access_chain.as_slice() else {
                    return unsupported("multidimensional subscripts and field access");
                };
                let ast::Subscript::Index { index } = sub else {
                    return unsupported("array slices");
                };
                let base = self.bind_expr(root, scope)?;
                let Some(elem) = base.ty().element().cloned() else {
                    return Err(SqlError::new(
                        code::DATATYPE_MISMATCH,
                        format!(
                            "cannot subscript type {} because it does not support subscripting",
                            base.ty().short_name()
                        ),
                    ));
                };
                let i = self.bind_expr(index, scope)?;
                if !(i.ty().is_integer() || i.ty() == DataType::Unknown) {
                    return Err(SqlError::new(
                        code::DATATYPE_MISMATCH,
                        "array subscript must have type integer",
                    ));
                }
                let i = self.coerce(i, &DataType::Int4)?;
                Ok(builtin(Builtin::ArraySubscript, vec![base, i], elem))
            }
            other => unsupported(format!("expression {other}")),
        }
    }
}

//! PostgreSQL's catalog and introspection functions and its regular-expression operators, as
//! `Func::Pg(PgFunc)` calls: what psql's `\d` family and drivers' introspection queries call
//! (`format_type`, `pg_get_indexdef`, `pg_table_is_visible`, `~`, ...).
//!
//! Role: the binder (`bind::pg_ext`) builds these calls; [`eval`] evaluates them. Functions
//! that need only their arguments are computed here; the ones that read the catalog
//! (`PgFunc::needs_catalog`) are passed to the executor through
//! `SubqueryRunner::call_host`, which answers them from the statement's view of the catalog
//! (`cairn-sql-exec`'s `pg_catalog` module), so they see the same transaction as the query.
//!
//! Invariants:
//! 1. Every function here is strict except `format_type`, whose type modifier may be NULL
//!    (the one-argument form): a NULL argument gives NULL, never an error.
//!    Test: `functions_are_strict_and_format_type_is_not`.
//! 2. Regular expressions follow PostgreSQL's ARE dialect where the `regex` crate agrees with
//!    it (everything psql and the common drivers send); back-references and lookaround, which
//!    the crate lacks, are SQLSTATE 2201B. `.` matches a newline, as in PostgreSQL's default
//!    (non-newline-sensitive) mode. Compiled patterns are cached per thread, at most
//!    [`REGEX_CACHE_ENTRIES_MAX`] of them. Test: `regex_operators_match_postgres`.

use std::cell::RefCell;

use crate::error::{code, Result, SqlError};
use crate::expr::{EvalContext, Expr, Func};
use crate::systypes::{format_type, namespace};
use crate::types::{DataType, Value};

/// A catalog or introspection function (see the module header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgFunc {
    /// `format_type(type_oid, typmod)`.
    FormatType,
    /// `pg_encoding_to_char(int)`.
    EncodingToChar,
    /// `quote_ident(text)`.
    QuoteIdent,
    /// `text ~ pattern` and its case-insensitive and negated forms (`~*`, `!~`, `!~*`).
    RegexMatch {
        case_insensitive: bool,
        negated: bool,
    },
    /// `regtype`, `regnamespace`, `regproc` values as names (their output functions).
    RegTypeOut,
    RegNamespaceOut,
    RegProcOut,
    /// Text to `regtype` at run time (`$1::regtype`, `to_regtype`); `missing_ok` gives NULL
    /// instead of 42704 for an unknown name.
    ToRegType {
        missing_ok: bool,
    },
    /// Text to `regnamespace` at run time.
    ToRegNamespace,
    // ----- these read the catalog (executed by the host) -----
    /// `regclass` / `regrole` values as names.
    RegClassOut,
    RegRoleOut,
    /// Text to `regclass` / `regrole` at run time (`$1::regclass`, `to_regclass`).
    ToRegClass {
        missing_ok: bool,
    },
    ToRegRole,
    /// `pg_get_expr(pg_node_tree, relation_oid [, pretty])`.
    GetExpr,
    /// `pg_get_indexdef(index_oid [, column, pretty])`.
    GetIndexDef,
    /// `pg_get_constraintdef(constraint_oid [, pretty])`.
    GetConstraintDef,
    /// `pg_get_userbyid(role_oid)`.
    GetUserById,
    /// `pg_table_is_visible(relation_oid)`.
    TableIsVisible,
    /// `pg_get_serial_sequence(table, column)`.
    GetSerialSequence,
    // ----- pure again -----
    /// `array_to_string(array, delimiter [, null_string])`.
    ArrayToString,
    /// `int2vector[i]` / `oidvector[i]` (subscripts from 0, as in PostgreSQL).
    VectorSubscript,
    /// `json_build_object(key, value, ...)` (not strict: values may be NULL).
    JsonBuildObject,
    /// A set-returning function where no set can be returned: evaluating it is 0A000.
    SetReturning(Srf),
    /// A set-returning function's rows as an array, expanded by `Plan::ProjectSet`.
    SetValues(Srf),
}

/// The set-returning functions Cairn has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Srf {
    /// `unnest(array)` (also of int2vector/oidvector).
    Unnest,
    /// `generate_subscripts(array, dim)`: 1..n for arrays, 0..n-1 for int2vector/oidvector.
    Subscripts { zero_based: bool },
    /// `generate_series(start, stop [, step])` over integers.
    Series,
    /// `pg_partition_ancestors(regclass)`: the relation and its partitioned ancestors; Cairn
    /// has no partitions, so the relation alone.
    Ancestors,
}

/// Most values one `generate_series` call produces (it is materialised as an array).
pub const SERIES_VALUES_MAX: i64 = 10_000_000;

impl PgFunc {
    /// Whether the function reads the catalog (and so runs through `call_host`).
    pub fn needs_catalog(self) -> bool {
        matches!(
            self,
            PgFunc::RegClassOut
                | PgFunc::RegRoleOut
                | PgFunc::ToRegClass { .. }
                | PgFunc::ToRegRole
                | PgFunc::GetExpr
                | PgFunc::GetIndexDef
                | PgFunc::GetConstraintDef
                | PgFunc::GetUserById
                | PgFunc::TableIsVisible
                | PgFunc::GetSerialSequence
        )
    }
}

/// Most compiled regular expressions one thread keeps.
pub const REGEX_CACHE_ENTRIES_MAX: usize = 32;

/// Evaluates `func` over `args` (invariant 1).
pub fn eval(func: PgFunc, args: &[Expr], row: &[Value], ctx: &EvalContext) -> Result<Value> {
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        vals.push(a.eval(row, ctx)?);
    }
    if func == PgFunc::FormatType {
        return Ok(match vals.first() {
            Some(Value::Int(t)) => {
                let typmod = match vals.get(1) {
                    Some(Value::Int(m)) => Some(*m as i32),
                    _ => None,
                };
                Value::Text(format_type(*t as u32, typmod))
            }
            _ => Value::Null,
        });
    }
    match func {
        PgFunc::JsonBuildObject => return json_build_object(args, &vals),
        PgFunc::SetReturning(f) => {
            return Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                format!(
                    "set-returning function {}() is supported only as a whole select-list item or in FROM",
                    match f {
                        Srf::Unnest => "unnest",
                        Srf::Subscripts { .. } => "generate_subscripts",
                        Srf::Series => "generate_series",
                        Srf::Ancestors => "pg_partition_ancestors",
                    }
                ),
            ))
        }
        PgFunc::ArrayToString => {
            let elem = args
                .first()
                .and_then(|a| a.ty().element().cloned())
                .unwrap_or(DataType::Text);
            return array_to_string(&vals, &elem);
        }
        _ => {}
    }
    if vals.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    if func.needs_catalog() {
        let host = ctx.subqueries.ok_or_else(|| {
            SqlError::not_supported(format!("catalog function {func:?} in this context"))
        })?;
        return host.call_host(Func::Pg(func), &vals);
    }
    eval_pure(func, &vals)
}

fn text_arg(vals: &[Value], i: usize) -> Result<&str> {
    match vals.get(i) {
        Some(Value::Text(s)) => Ok(s),
        other => Err(SqlError::internal(format!("expected text, got {other:?}"))),
    }
}

fn int_arg(vals: &[Value], i: usize) -> Result<i64> {
    match vals.get(i) {
        Some(Value::Int(v)) => Ok(*v),
        other => Err(SqlError::internal(format!(
            "expected an integer, got {other:?}"
        ))),
    }
}

fn eval_pure(func: PgFunc, vals: &[Value]) -> Result<Value> {
    Ok(match func {
        PgFunc::EncodingToChar => Value::Text(
            match int_arg(vals, 0)? {
                0 => "SQL_ASCII",
                6 => "UTF8",
                _ => "",
            }
            .into(),
        ),
        PgFunc::QuoteIdent => Value::Text(crate::deparse::quote_ident(text_arg(vals, 0)?)),
        PgFunc::RegexMatch {
            case_insensitive,
            negated,
        } => {
            let m = regex_match(text_arg(vals, 0)?, text_arg(vals, 1)?, case_insensitive)?;
            Value::Bool(m != negated)
        }
        PgFunc::RegTypeOut => {
            let t = int_arg(vals, 0)?;
            let name = format_type(t as u32, None);
            Value::Text(if name == "???" { t.to_string() } else { name })
        }
        PgFunc::RegNamespaceOut => {
            let n = int_arg(vals, 0)?;
            Value::Text(
                namespace::name(n as u32)
                    .map(str::to_string)
                    .unwrap_or_else(|| n.to_string()),
            )
        }
        PgFunc::RegProcOut => match vals.first() {
            // Catalog columns of type regproc hold the function's name already.
            Some(Value::Text(name)) => Value::Text(name.clone()),
            _ => {
                let p = int_arg(vals, 0)?;
                Value::Text(if p == 0 { "-".into() } else { p.to_string() })
            }
        },
        PgFunc::ToRegType { missing_ok } => {
            let name = text_arg(vals, 0)?;
            match lookup_type(name) {
                Some(oid) => Value::Int(oid as i64),
                None if missing_ok => Value::Null,
                None => {
                    return Err(SqlError::new(
                        code::UNDEFINED_OBJECT,
                        format!("type \"{name}\" does not exist"),
                    ))
                }
            }
        }
        PgFunc::ToRegNamespace => {
            let name = text_arg(vals, 0)?;
            Value::Int(lookup_namespace(name)? as i64)
        }
        PgFunc::VectorSubscript => {
            let i = int_arg(vals, 1)?;
            match vals.first() {
                Some(Value::Array(items)) => usize::try_from(i)
                    .ok()
                    .and_then(|i| items.get(i).cloned())
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            }
        }
        PgFunc::SetValues(srf) => set_values(srf, vals)?,
        other => {
            return Err(SqlError::internal(format!(
                "{other:?} needs the catalog but was evaluated without it"
            )))
        }
    })
}

/// The values of a set-returning function, as one array.
fn set_values(srf: Srf, vals: &[Value]) -> Result<Value> {
    Ok(match srf {
        Srf::Unnest => match vals.first() {
            Some(Value::Array(items)) => Value::Array(items.clone()),
            _ => Value::Array(Vec::new()),
        },
        Srf::Subscripts { zero_based } => {
            let n = match vals.first() {
                Some(Value::Array(items)) => items.len() as i64,
                _ => 0,
            };
            // One-dimensional arrays only: any other dimension has no subscripts.
            let n = if int_arg(vals, 1)? == 1 { n } else { 0 };
            let base = if zero_based { 0 } else { 1 };
            Value::Array((0..n).map(|i| Value::Int(i + base)).collect())
        }
        Srf::Ancestors => Value::Array(vals.first().cloned().into_iter().collect()),
        Srf::Series => {
            let start = int_arg(vals, 0)?;
            let stop = int_arg(vals, 1)?;
            let step = if vals.len() > 2 { int_arg(vals, 2)? } else { 1 };
            if step == 0 {
                return Err(SqlError::new(
                    code::INVALID_PARAMETER_VALUE,
                    "step size cannot equal zero",
                ));
            }
            let count = if (step > 0 && start > stop) || (step < 0 && start < stop) {
                0
            } else {
                (stop as i128 - start as i128) / step as i128 + 1
            };
            if count > SERIES_VALUES_MAX as i128 {
                return Err(SqlError::new(
                    code::PROGRAM_LIMIT_EXCEEDED,
                    format!("generate_series of more than {SERIES_VALUES_MAX} values"),
                ));
            }
            let mut out = Vec::with_capacity(count as usize);
            let mut v = start as i128;
            for _ in 0..count {
                out.push(Value::Int(v as i64));
                v += step as i128;
            }
            Value::Array(out)
        }
    })
}

/// `array_to_string`: the elements' text joined by the delimiter; NULL elements are left out,
/// or shown as the third argument when there is one.
fn array_to_string(vals: &[Value], elem: &DataType) -> Result<Value> {
    let (Some(Value::Array(items)), Some(Value::Text(delim))) = (vals.first(), vals.get(1)) else {
        return Ok(Value::Null);
    };
    let null_text = match vals.get(2) {
        Some(Value::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    let mut parts = Vec::with_capacity(items.len());
    for v in items {
        match v.to_text(elem) {
            Some(t) => parts.push(t),
            None => {
                if let Some(n) = null_text {
                    parts.push(n.to_string());
                }
            }
        }
    }
    Ok(Value::Text(parts.join(delim)))
}

/// `json_build_object`: PostgreSQL's text form (`{"a" : 1, "b" : "x"}`).
fn json_build_object(args: &[Expr], vals: &[Value]) -> Result<Value> {
    if !vals.len().is_multiple_of(2) {
        return Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            "argument list must have even number of elements",
        )
        .with_hint(
            "The arguments of json_build_object() must consist of alternating keys and values.",
        ));
    }
    let mut out = String::from("{");
    for (k, pair) in vals.chunks(2).enumerate() {
        let (key, value) = (&pair[0], &pair[1]);
        if key.is_null() {
            return Err(SqlError::new(
                code::INVALID_PARAMETER_VALUE,
                "null value not allowed for object key",
            ));
        }
        if k > 0 {
            out.push_str(", ");
        }
        let key_ty = args.get(2 * k).map(|a| a.ty()).unwrap_or(DataType::Text);
        json_string(&mut out, &key.to_text(&key_ty).unwrap_or_default());
        out.push_str(" : ");
        let value_ty = args
            .get(2 * k + 1)
            .map(|a| a.ty())
            .unwrap_or(DataType::Text);
        json_value(&mut out, value, &value_ty);
    }
    out.push('}');
    Ok(Value::Text(out))
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One value as JSON (PostgreSQL's `to_json` for the scalar types).
fn json_value(out: &mut String, v: &Value, ty: &DataType) {
    match (v, ty) {
        (Value::Null, _) => out.push_str("null"),
        (Value::Bool(b), _) => out.push_str(if *b { "true" } else { "false" }),
        (Value::Float(f), _) if !f.is_finite() => {
            json_string(out, &v.to_text(ty).unwrap_or_default())
        }
        (Value::Int(_) | Value::Float(_) | Value::Numeric(_), t) if t.is_numeric() => {
            out.push_str(&v.to_text(ty).unwrap_or_default())
        }
        (_, DataType::Json | DataType::Jsonb) => out.push_str(&v.to_text(ty).unwrap_or_default()),
        (Value::Array(items), t) => {
            let elem = t.element().cloned().unwrap_or(DataType::Text);
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_value(out, x, &elem);
            }
            out.push(']');
        }
        _ => json_string(out, &v.to_text(ty).unwrap_or_default()),
    }
}

/// The type OID a `regtype` input names (`int4`, `integer`, `character varying(10)`,
/// `pg_catalog.text`, an OID in digits), if it is one of Cairn's types.
pub fn lookup_type(name: &str) -> Option<u32> {
    let t = name.trim();
    if let Ok(n) = t.parse::<u32>() {
        return Some(n);
    }
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let parsed = sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(t)
        .and_then(|mut p| p.parse_data_type())
        .ok()?;
    crate::bind::data_type(&parsed).ok().map(|d| d.oid())
}

/// The OID of a schema name given to `regnamespace` (3F000 if there is none).
pub fn lookup_namespace(name: &str) -> Result<u32> {
    let t = name.trim();
    if let Ok(n) = t.parse::<u32>() {
        return Ok(n);
    }
    let unquoted = match t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(q) => q.replace("\"\"", "\""),
        None => t.to_lowercase(),
    };
    namespace::oid(&unquoted)
        .ok_or_else(|| SqlError::new("3F000", format!("schema \"{unquoted}\" does not exist")))
}

thread_local! {
    /// Recently compiled patterns, most recent last (invariant 2).
    static REGEX_CACHE: RefCell<Vec<(String, bool, regex::Regex)>> = const { RefCell::new(Vec::new()) };
}

/// Whether `text` matches the PostgreSQL regular expression `pattern` (invariant 2).
pub fn regex_match(text: &str, pattern: &str, case_insensitive: bool) -> Result<bool> {
    REGEX_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(pos) = cache
            .iter()
            .position(|(p, ci, _)| p == pattern && *ci == case_insensitive)
        {
            let entry = cache.remove(pos);
            let m = entry.2.is_match(text);
            cache.push(entry);
            return Ok(m);
        }
        let re = regex::RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .dot_matches_new_line(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                SqlError::new(
                    "2201B",
                    format!("invalid regular expression: {}", last_line(&e.to_string())),
                )
            })?;
        let m = re.is_match(text);
        if cache.len() >= REGEX_CACHE_ENTRIES_MAX {
            cache.remove(0);
        }
        cache.push((pattern.to_string(), case_insensitive, re));
        Ok(m)
    })
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DataType;

    fn call(f: PgFunc, args: Vec<Value>, types: &[DataType]) -> Result<Value> {
        let args: Vec<Expr> = args
            .into_iter()
            .zip(types)
            .map(|(v, t)| Expr::literal(v, t.clone()))
            .collect();
        eval(f, &args, &[], &EvalContext::default())
    }

    #[test]
    fn regex_operators_match_postgres() {
        let m = |t: &str, p: &str, ci: bool| regex_match(t, p, ci).unwrap();
        assert!(m("t", "^(t)$", false));
        assert!(!m("tt", "^(t)$", false));
        assert!(m("pg_toast_1", "^pg_toast", false));
        assert!(!m("public", "^pg_", false));
        assert!(m("ABC", "b", true));
        assert!(!m("ABC", "b", false));
        assert!(m("a\nb", "a.b", false), ". matches newline");
        let e = regex_match("x", "(", false).unwrap_err();
        assert_eq!(e.code, "2201B");
        assert!(
            regex_match("aa", "(a)\\1", false).is_err(),
            "no back-references"
        );
        for i in 0..(REGEX_CACHE_ENTRIES_MAX * 2) {
            assert!(m(&format!("x{i}"), &format!("^x{i}$"), false));
        }
        REGEX_CACHE.with(|c| assert!(c.borrow().len() <= REGEX_CACHE_ENTRIES_MAX));
    }

    #[test]
    fn functions_are_strict_and_format_type_is_not() {
        let t = [DataType::Text, DataType::Text];
        let re = PgFunc::RegexMatch {
            case_insensitive: false,
            negated: true,
        };
        assert_eq!(
            call(re, vec![Value::Null, Value::Text("x".into())], &t).unwrap(),
            Value::Null
        );
        assert_eq!(
            call(
                re,
                vec![Value::Text("y".into()), Value::Text("x".into())],
                &t
            )
            .unwrap(),
            Value::Bool(true)
        );
        let ft = [DataType::Int4, DataType::Int4];
        assert_eq!(
            call(PgFunc::FormatType, vec![Value::Int(1042), Value::Null], &ft).unwrap(),
            Value::Text("character".into())
        );
        assert_eq!(
            call(PgFunc::FormatType, vec![Value::Null, Value::Int(4)], &ft).unwrap(),
            Value::Null
        );
        // A catalog function without a host is an error, not a panic.
        assert!(call(PgFunc::GetUserById, vec![Value::Int(10)], &ft[..1]).is_err());
        assert_eq!(
            call(PgFunc::EncodingToChar, vec![Value::Int(6)], &ft[..1]).unwrap(),
            Value::Text("UTF8".into())
        );
        assert_eq!(lookup_type("integer"), Some(23));
        assert_eq!(lookup_type("pg_catalog.int4"), Some(23));
        assert_eq!(lookup_type("character varying(10)"), Some(1043));
        assert_eq!(lookup_type("regclass"), Some(2205));
        assert_eq!(lookup_type("nosuchtype"), None);
        assert_eq!(lookup_namespace("public").unwrap(), 2200);
        assert_eq!(lookup_namespace("nope").unwrap_err().code, "3F000");
    }
}

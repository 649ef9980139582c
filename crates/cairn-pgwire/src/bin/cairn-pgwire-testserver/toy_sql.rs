//! The fake engine's toy SQL dialect: statement splitting and a parser into [`Plan`]s, just
//! enough to exercise the protocol layer. Test code only.
//!
//! Understood: `SELECT <item>, ...` without FROM (integers, `'strings'`, `$n`, `$n::type`,
//! each optionally `+ k`, `- k` or `/ k`; `/ 0` raises 22012), `SELECT * FROM five_rows`,
//! `slow_rows` (5 rows, 150 ms apart), `generate_series(a, b)`, `SELECT pg_sleep(s)`,
//! `SELECT raise_notice('text')`, `SELECT cairn_test_panic()`, transaction control with
//! savepoints, `INSERT INTO sink ...`, `COPY sink FROM STDIN`, `COPY five_rows TO STDOUT`,
//! `COPY (<select>) TO STDOUT`, `SET name = value`, `SHOW name`, `SHOW events`.

use cairn_pgwire::{oid, ColumnDesc, Oid, SqlError, SqlState};

/// A scalar expression.
#[derive(Clone, Debug)]
pub enum Expr {
    Int(i64, Oid),
    Str(String),
    Param { index: usize, ty: Oid },
    Arith(Box<Expr>, char, i64),
}

/// A parsed statement: the engine-private "plan" kept in `PreparedStatement::plan`.
#[derive(Clone, Debug)]
pub enum Plan {
    Select(Vec<Expr>),
    FiveRows,
    SlowRows,
    Series(i64, i64),
    Sleep(f64),
    RaiseNotice(String),
    Panic,
    Begin,
    Commit,
    Rollback,
    Savepoint,
    Release,
    RollbackTo,
    Insert { params: usize },
    CopyIn,
    CopyOut(Box<Plan>),
    Set(String, String),
    Show(String),
    Events,
}

impl Plan {
    pub fn is_tx_control(&self) -> bool {
        matches!(self, Plan::Commit | Plan::Rollback | Plan::RollbackTo)
    }
}

/// Split on `;` outside single quotes; empty statements are dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quote = false;
    for (i, c) in sql.char_indices() {
        match c {
            '\'' => in_quote = !in_quote,
            ';' if !in_quote => {
                out.push(&sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&sql[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Split a select list on top-level commas.
fn split_items(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut in_quote, mut start) = (0i32, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '\'' => in_quote = !in_quote,
            '(' if !in_quote => depth += 1,
            ')' if !in_quote => depth -= 1,
            ',' if !in_quote && depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

fn type_by_name(name: &str) -> Option<Oid> {
    match name.to_ascii_lowercase().as_str() {
        "int4" | "int" | "integer" => Some(oid::INT4),
        "int8" | "bigint" => Some(oid::INT8),
        "text" | "varchar" => Some(oid::TEXT),
        _ => None,
    }
}

fn unsupported(what: impl Into<String>) -> SqlError {
    SqlError::new(SqlState::FEATURE_NOT_SUPPORTED, what.into())
}

fn parse_term(t: &str, hints: &[Oid]) -> Result<Expr, SqlError> {
    let t = t.trim();
    if let Some(rest) = t.strip_prefix('$') {
        let (num, cast) = match rest.split_once("::") {
            Some((n, c)) => (n, Some(c.trim())),
            None => (rest, None),
        };
        let index: usize = num.trim().parse().ok().filter(|i| *i >= 1).ok_or_else(|| {
            SqlError::new(
                SqlState::SYNTAX_ERROR,
                format!("invalid parameter reference \"{t}\""),
            )
        })?;
        let hinted = hints
            .get(index - 1)
            .copied()
            .filter(|o| *o != oid::UNSPECIFIED);
        let ty = match cast {
            Some(c) => type_by_name(c)
                .ok_or_else(|| unsupported(format!("type \"{c}\" is not supported")))?,
            None => hinted.unwrap_or(oid::TEXT),
        };
        return Ok(Expr::Param { index, ty });
    }
    if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        return Ok(Expr::Str(t[1..t.len() - 1].replace("''", "'")));
    }
    if let Ok(v) = t.parse::<i64>() {
        let ty = if i32::try_from(v).is_ok() {
            oid::INT4
        } else {
            oid::INT8
        };
        return Ok(Expr::Int(v, ty));
    }
    Err(unsupported(format!(
        "expression \"{t}\" is not supported by the fake engine"
    )))
}

fn parse_expr(item: &str, hints: &[Oid]) -> Result<Expr, SqlError> {
    // <term> [ (+|-|/) <int> ]: look for the operator after the first character.
    let item = item.trim();
    let skip = usize::from(item.starts_with('-'));
    let op_pos = if item.starts_with('\'') {
        None
    } else {
        item[skip..].find(['+', '-', '/']).map(|p| p + skip)
    };
    if let Some(pos) = op_pos {
        let op = item.as_bytes()[pos] as char;
        let lhs = parse_term(&item[..pos], hints)?;
        let rhs: i64 = item[pos + 1..]
            .trim()
            .parse()
            .map_err(|_| unsupported(format!("unsupported expression \"{item}\"")))?;
        return Ok(Expr::Arith(Box::new(lhs), op, rhs));
    }
    parse_term(item, hints)
}

pub fn expr_type(e: &Expr) -> Oid {
    match e {
        Expr::Int(_, ty) => *ty,
        Expr::Str(_) => oid::TEXT,
        Expr::Param { ty, .. } => *ty,
        Expr::Arith(lhs, _, _) => match expr_type(lhs) {
            oid::INT8 => oid::INT8,
            _ => oid::INT4,
        },
    }
}

fn max_param(e: &Expr) -> usize {
    match e {
        Expr::Param { index, .. } => *index,
        Expr::Arith(lhs, _, _) => max_param(lhs),
        _ => 0,
    }
}

fn unsupported_select(stmt: &str) -> SqlError {
    unsupported("this SELECT is not supported by the fake engine")
        .with_detail(stmt.chars().take(200).collect::<String>())
}

/// `name(arg)` with `lower` already lower-cased; returns the argument text.
fn call_arg<'a>(lower: &'a str, name: &str) -> Option<&'a str> {
    lower
        .strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn parse_select(stmt: &str, body: &str, hints: &[Oid]) -> Result<Plan, SqlError> {
    let lower = body.to_ascii_lowercase();
    if let Some(args) = call_arg(&lower, "* from generate_series") {
        let parts: Vec<&str> = args.split(',').map(str::trim).collect();
        return match parts.as_slice() {
            [a, b] => match (a.parse::<i64>(), b.parse::<i64>()) {
                (Ok(a), Ok(b)) => Ok(Plan::Series(a, b)),
                _ => Err(unsupported_select(stmt)),
            },
            _ => Err(unsupported_select(stmt)),
        };
    }
    if let Some(arg) = call_arg(&lower, "pg_sleep") {
        return arg
            .trim()
            .parse()
            .map(Plan::Sleep)
            .map_err(|_| unsupported_select(stmt));
    }
    if lower.starts_with("raise_notice(") {
        let arg = body["raise_notice(".len()..].trim_end_matches(')').trim();
        return Ok(Plan::RaiseNotice(arg.trim_matches('\'').to_owned()));
    }
    if lower == "cairn_test_panic()" {
        return Ok(Plan::Panic);
    }
    if lower.split_whitespace().any(|w| w == "from") || body.is_empty() {
        return Err(unsupported_select(stmt));
    }
    let exprs = split_items(body)
        .into_iter()
        .map(|i| parse_expr(i, hints))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Plan::Select(exprs))
}

/// `COPY (<select>) TO STDOUT` or `COPY five_rows TO STDOUT`.
fn parse_copy_out(stmt: &str, hints: &[Oid]) -> Option<Result<Plan, SqlError>> {
    let lower = stmt.to_ascii_lowercase();
    let rest = lower.strip_prefix("copy")?.trim_start();
    if let Some(inner) = rest.strip_prefix('(') {
        let close = inner.rfind(')')?;
        if inner[close + 1..].split_whitespace().collect::<Vec<_>>() != ["to", "stdout"] {
            return None;
        }
        // same offsets in the original text: "copy" + spaces + "("
        let start = stmt.len() - inner.len();
        let inner_sql = &stmt[start..start + close];
        let plan = parse_statement(inner_sql.trim(), hints);
        return Some(plan.map(|p| Plan::CopyOut(Box::new(p))));
    }
    if rest.split_whitespace().collect::<Vec<_>>() == ["five_rows", "to", "stdout"] {
        return Some(Ok(Plan::CopyOut(Box::new(Plan::FiveRows))));
    }
    None
}

pub fn parse_statement(stmt: &str, hints: &[Oid]) -> Result<Plan, SqlError> {
    let words: Vec<String> = stmt
        .split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    if let Some(plan) = parse_copy_out(stmt, hints) {
        return plan;
    }
    let plan = match w.as_slice() {
        ["begin"] | ["begin", "transaction"] | ["begin", "work"] | ["start", "transaction"] => {
            Plan::Begin
        }
        ["commit"] | ["end"] | ["commit", "transaction"] | ["commit", "work"] => Plan::Commit,
        ["rollback"] | ["abort"] | ["rollback", "transaction"] | ["rollback", "work"] => {
            Plan::Rollback
        }
        ["savepoint", _] => Plan::Savepoint,
        ["release", _] | ["release", "savepoint", _] => Plan::Release,
        ["rollback", "to", _] | ["rollback", "to", "savepoint", _] => Plan::RollbackTo,
        ["select", "*", "from", "five_rows"] => Plan::FiveRows,
        ["select", "*", "from", "slow_rows"] => Plan::SlowRows,
        ["copy", "sink", "from", "stdin"] => Plan::CopyIn,
        ["show", "events"] => Plan::Events,
        ["set", name, "=" | "to", ..] => {
            let value = stmt
                .splitn(4, char::is_whitespace)
                .nth(3)
                .unwrap_or("")
                .trim()
                .trim_matches('\'')
                .to_owned();
            Plan::Set(name.to_string(), value)
        }
        ["show", name] => Plan::Show(name.to_string()),
        ["insert", "into", "sink", ..] => {
            let n = (1..=32)
                .filter(|i| stmt.contains(&format!("${i}")))
                .max()
                .unwrap_or(0);
            Plan::Insert { params: n }
        }
        ["select", ..] => return parse_select(stmt, stmt.trim()[6..].trim(), hints),
        _ => {
            let tok = stmt.split_whitespace().next().unwrap_or(stmt);
            return Err(SqlError::new(
                SqlState::SYNTAX_ERROR,
                format!("syntax error at or near \"{tok}\""),
            )
            .with_position(1));
        }
    };
    Ok(plan)
}

pub fn columns_of(plan: &Plan) -> Option<Vec<ColumnDesc>> {
    match plan {
        Plan::Select(exprs) => Some(
            exprs
                .iter()
                .map(|e| ColumnDesc::new("?column?", expr_type(e)))
                .collect(),
        ),
        Plan::FiveRows | Plan::SlowRows => Some(vec![
            ColumnDesc::new("n", oid::INT4),
            ColumnDesc::new("label", oid::TEXT),
        ]),
        Plan::Series(..) => Some(vec![ColumnDesc::new("generate_series", oid::INT4)]),
        Plan::Sleep(_) => Some(vec![ColumnDesc::new("pg_sleep", oid::TEXT)]),
        Plan::RaiseNotice(_) => Some(vec![ColumnDesc::new("raise_notice", oid::TEXT)]),
        Plan::Show(name) => Some(vec![ColumnDesc::new(name.clone(), oid::TEXT)]),
        Plan::Events => Some(vec![ColumnDesc::new("event", oid::TEXT)]),
        _ => None,
    }
}

pub fn param_types_of(plan: &Plan) -> Vec<Oid> {
    fn collect(e: &Expr, types: &mut [Oid]) {
        match e {
            Expr::Param { index, ty } => {
                if let Some(slot) = types.get_mut(index - 1) {
                    *slot = *ty;
                }
            }
            Expr::Arith(lhs, _, _) => collect(lhs, types),
            _ => {}
        }
    }
    match plan {
        Plan::Select(exprs) => {
            let n = exprs.iter().map(max_param).max().unwrap_or(0);
            let mut types = vec![oid::TEXT; n];
            for e in exprs {
                collect(e, &mut types);
            }
            types
        }
        Plan::Insert { params } => vec![oid::TEXT; *params],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_outside_quotes() {
        assert_eq!(
            split_statements("SELECT 1; SELECT ';'"),
            vec!["SELECT 1", "SELECT ';'"]
        );
        assert!(split_statements(" ; ;").is_empty());
    }

    #[test]
    fn infers_param_types() {
        let p = parse_statement("SELECT $1::int4 + 1", &[]).unwrap();
        assert_eq!(param_types_of(&p), vec![oid::INT4]);
        assert_eq!(columns_of(&p).unwrap()[0].type_oid, oid::INT4);
        let p = parse_statement("SELECT $1, $2::int8", &[oid::INT4]).unwrap();
        assert_eq!(param_types_of(&p), vec![oid::INT4, oid::INT8]);
    }

    #[test]
    fn copy_out_forms() {
        assert!(matches!(
            parse_statement("COPY ( SELECT 1, 'a' ) TO STDOUT", &[]),
            Ok(Plan::CopyOut(_))
        ));
        assert!(matches!(
            parse_statement("copy five_rows to stdout", &[]),
            Ok(Plan::CopyOut(_))
        ));
    }
}

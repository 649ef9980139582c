//! A toy "SQL engine" behind the [`Session`] trait, just smart enough to
//! exercise the protocol layer. It understands:
//!
//! * `SELECT <item>, ...` without FROM, where an item is an integer, a
//!   `'string'`, `$n`, `$n::int4|int8|text`, optionally followed by `+ k`,
//!   `- k` or `/ k` (`/ 0` raises 22012);
//! * `SELECT * FROM five_rows` (5 rows: n int4, label text);
//! * `SELECT * FROM slow_rows` (5 rows, 150 ms apart; for streaming tests);
//! * `SELECT * FROM generate_series(a, b)`;
//! * `SELECT pg_sleep(secs)` (for cancel tests);
//! * `BEGIN`/`START TRANSACTION`, `COMMIT`/`END`, `ROLLBACK`/`ABORT`,
//!   `SAVEPOINT x`, `RELEASE [SAVEPOINT] x`, `ROLLBACK TO [SAVEPOINT] x`;
//! * `INSERT INTO sink VALUES (...)` (discarded), `COPY sink FROM STDIN`;
//! * `SET name = value` / `SET name TO value`, `SHOW name`.
//!
//! Anything else: a SELECT it cannot handle gives 0A000, any other statement
//! 42601. No data is stored anywhere.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::cairn_types::{
    BatchOutcome, ColumnDesc, EncodedRow, Format, Oid, PreparedStatement, RowStream, SqlError,
    StatementResult, TxStatus, oid, sqlstate,
};
use crate::session::{Session, SessionFactory, StartupInfo};

/// Creates [`FakeSession`]s.
#[derive(Default)]
pub struct FakeEngine;

impl SessionFactory for FakeEngine {
    fn open(&self, info: StartupInfo) -> Result<Box<dyn Session>, SqlError> {
        Ok(Box::new(FakeSession {
            user: info.user,
            in_block: false,
            failed: false,
            copy_bytes: None,
            changed: Vec::new(),
        }))
    }
}

pub struct FakeSession {
    user: String,
    /// Inside an explicit BEGIN ... COMMIT block.
    in_block: bool,
    /// The current (explicit or implicit) transaction hit an error.
    failed: bool,
    /// Some(rows seen so far) while a COPY FROM STDIN is running.
    copy_bytes: Option<Vec<u8>>,
    /// Reported GUCs changed by SET, not yet sent as ParameterStatus.
    changed: Vec<(String, String)>,
}

/// A scalar expression of the toy language.
#[derive(Clone, Debug)]
enum Expr {
    Int(i64, Oid),
    Str(String),
    Param { index: usize, ty: Oid },
    Arith(Box<Expr>, char, i64),
}

/// Parsed statement = the engine-private "plan" stored in PreparedStatement.
#[derive(Clone, Debug)]
enum Plan {
    Select(Vec<Expr>),
    FiveRows,
    SlowRows,
    Series(i64, i64),
    Sleep(f64),
    Begin,
    Commit,
    Rollback,
    Savepoint,
    Release,
    RollbackTo,
    Insert { params: usize },
    CopyIn,
    Set(String, String),
    Show(String),
}

impl Plan {
    fn is_tx_control(&self) -> bool {
        matches!(self, Plan::Commit | Plan::Rollback | Plan::RollbackTo)
    }
}

// ---------------------------------------------------------------- parsing ---

/// Split on `;` outside single quotes.
fn split_statements(sql: &str) -> Vec<&str> {
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
        .collect()
}

/// Split a select list on top-level commas (outside quotes and parentheses).
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

fn parse_term(t: &str, hints: &[Oid]) -> Result<Expr, SqlError> {
    let t = t.trim();
    if let Some(rest) = t.strip_prefix('$') {
        let (num, cast) = match rest.split_once("::") {
            Some((n, c)) => (n, Some(c.trim())),
            None => (rest, None),
        };
        let index: usize = num
            .trim()
            .parse()
            .ok()
            .filter(|i| *i >= 1)
            .ok_or_else(|| SqlError::syntax(format!("invalid parameter reference \"{t}\"")))?;
        let hinted = hints
            .get(index - 1)
            .copied()
            .filter(|o| *o != oid::UNSPECIFIED);
        let ty = match cast {
            Some(c) => type_by_name(c).ok_or_else(|| {
                SqlError::new(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    format!("type \"{c}\" is not supported"),
                )
            })?,
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
    Err(SqlError::new(
        sqlstate::FEATURE_NOT_SUPPORTED,
        format!("expression \"{t}\" is not supported by the fake engine"),
    ))
}

fn parse_expr(item: &str, hints: &[Oid]) -> Result<Expr, SqlError> {
    // <term> [ (+|-|/) <int> ]; look for the operator after the first token.
    let item = item.trim();
    let skip = if item.starts_with('-') { 1 } else { 0 };
    if !item.starts_with('\'')
        && let Some(pos) = item[skip..].find(['+', '-', '/']).map(|p| p + skip)
    {
        let op = item.as_bytes()[pos] as char;
        let lhs = parse_term(&item[..pos], hints)?;
        let rhs: i64 = item[pos + 1..].trim().parse().map_err(|_| {
            SqlError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!("unsupported expression \"{item}\""),
            )
        })?;
        return Ok(Expr::Arith(Box::new(lhs), op, rhs));
    }
    parse_term(item, hints)
}

fn expr_type(e: &Expr) -> Oid {
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

fn lower_words(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

fn parse_statement(stmt: &str, hints: &[Oid]) -> Result<Plan, SqlError> {
    let words = lower_words(stmt);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let first = w.first().copied().unwrap_or("");
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
        _ if first == "select" => {
            let body = stmt.trim()[6..].trim();
            let lower = body.to_ascii_lowercase();
            if let Some(args) = lower
                .strip_prefix("* from generate_series(")
                .and_then(|r| r.strip_suffix(')'))
            {
                let parts: Vec<&str> = args.split(',').map(str::trim).collect();
                match parts.as_slice() {
                    [a, b] => match (a.parse::<i64>(), b.parse::<i64>()) {
                        (Ok(a), Ok(b)) => Plan::Series(a, b),
                        _ => return Err(unsupported_select(stmt)),
                    },
                    _ => return Err(unsupported_select(stmt)),
                }
            } else if let Some(arg) = lower
                .strip_prefix("pg_sleep(")
                .and_then(|r| r.strip_suffix(')'))
            {
                Plan::Sleep(arg.trim().parse().map_err(|_| unsupported_select(stmt))?)
            } else if w.contains(&"from") || body.is_empty() {
                return Err(unsupported_select(stmt));
            } else {
                let exprs = split_items(body)
                    .into_iter()
                    .map(|i| parse_expr(i, hints))
                    .collect::<Result<Vec<_>, _>>()?;
                Plan::Select(exprs)
            }
        }
        _ => {
            let tok = stmt.split_whitespace().next().unwrap_or(stmt);
            let mut e = SqlError::syntax(format!("syntax error at or near \"{tok}\""));
            e.position = Some(1);
            return Err(e);
        }
    };
    Ok(plan)
}

fn unsupported_select(stmt: &str) -> SqlError {
    let mut e = SqlError::new(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "this SELECT is not supported by the fake engine",
    );
    e.detail = Some(stmt.chars().take(200).collect());
    e
}

// ------------------------------------------------------------- execution ---

#[derive(Clone, Debug)]
enum Value {
    Null,
    Int4(i32),
    Int8(i64),
    Text(String),
}

fn encode(v: &Value, fmt: Format) -> Option<Bytes> {
    match (v, fmt) {
        (Value::Null, _) => None,
        (Value::Int4(i), Format::Text) => Some(Bytes::from(i.to_string())),
        (Value::Int4(i), Format::Binary) => Some(Bytes::copy_from_slice(&i.to_be_bytes())),
        (Value::Int8(i), Format::Text) => Some(Bytes::from(i.to_string())),
        (Value::Int8(i), Format::Binary) => Some(Bytes::copy_from_slice(&i.to_be_bytes())),
        (Value::Text(s), _) => Some(Bytes::from(s.clone())),
    }
}

fn decode_param(raw: Option<&Bytes>, fmt: Format, ty: Oid) -> Result<Value, SqlError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    let bad = |what: &str| {
        SqlError::new(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type {what}"),
        )
    };
    match (ty, fmt) {
        (oid::INT4, Format::Binary) => {
            let b: [u8; 4] = raw[..].try_into().map_err(|_| {
                SqlError::new(
                    sqlstate::PROTOCOL_VIOLATION,
                    "incorrect binary data format in bind parameter",
                )
            })?;
            Ok(Value::Int4(i32::from_be_bytes(b)))
        }
        (oid::INT8, Format::Binary) => {
            let b: [u8; 8] = raw[..].try_into().map_err(|_| {
                SqlError::new(
                    sqlstate::PROTOCOL_VIOLATION,
                    "incorrect binary data format in bind parameter",
                )
            })?;
            Ok(Value::Int8(i64::from_be_bytes(b)))
        }
        (oid::INT4, Format::Text) => std::str::from_utf8(raw)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Value::Int4)
            .ok_or_else(|| bad("integer")),
        (oid::INT8, Format::Text) => std::str::from_utf8(raw)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Value::Int8)
            .ok_or_else(|| bad("bigint")),
        (_, _) => std::str::from_utf8(raw)
            .map(|s| Value::Text(s.to_owned()))
            .map_err(|_| SqlError::new("22021", "invalid byte sequence for encoding \"UTF8\"")),
    }
}

fn eval(e: &Expr, params: &[Value]) -> Result<Value, SqlError> {
    Ok(match e {
        Expr::Int(v, oid::INT4) => Value::Int4(*v as i32),
        Expr::Int(v, _) => Value::Int8(*v),
        Expr::Str(s) => Value::Text(s.clone()),
        Expr::Param { index, .. } => params.get(index - 1).cloned().unwrap_or(Value::Null),
        Expr::Arith(lhs, op, rhs) => {
            let l = eval(lhs, params)?;
            let wide = matches!(l, Value::Int8(_));
            let lv = match l {
                Value::Null => return Ok(Value::Null),
                Value::Int4(i) => i as i64,
                Value::Int8(i) => i,
                Value::Text(t) => t.trim().parse::<i64>().map_err(|_| {
                    SqlError::new(
                        sqlstate::INVALID_TEXT_REPRESENTATION,
                        format!("invalid input syntax for type integer: \"{t}\""),
                    )
                })?,
            };
            let r = match op {
                '+' => lv.checked_add(*rhs),
                '-' => lv.checked_sub(*rhs),
                '/' => {
                    if *rhs == 0 {
                        return Err(SqlError::new(
                            sqlstate::DIVISION_BY_ZERO,
                            "division by zero",
                        ));
                    }
                    lv.checked_div(*rhs)
                }
                _ => None,
            };
            let overflow =
                || SqlError::new(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range");
            let r = r.ok_or_else(overflow)?;
            if wide {
                Value::Int8(r)
            } else {
                Value::Int4(i32::try_from(r).map_err(|_| overflow())?)
            }
        }
    })
}

fn columns_of(plan: &Plan) -> Option<Vec<ColumnDesc>> {
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
        Plan::Show(name) => Some(vec![ColumnDesc::new(name.clone(), oid::TEXT)]),
        _ => None,
    }
}

fn param_types_of(plan: &Plan) -> Vec<Oid> {
    match plan {
        Plan::Select(exprs) => {
            let n = exprs.iter().map(max_param).max().unwrap_or(0);
            let mut types = vec![oid::TEXT; n];
            fn collect(e: &Expr, types: &mut Vec<Oid>) {
                match e {
                    Expr::Param { index, ty } => types[index - 1] = *ty,
                    Expr::Arith(lhs, _, _) => collect(lhs, types),
                    _ => {}
                }
            }
            for e in exprs {
                collect(e, &mut types);
            }
            types
        }
        Plan::Insert { params } => vec![oid::TEXT; *params],
        _ => vec![],
    }
}

fn rows_stream(rows: Vec<Vec<Value>>, formats: Arc<Vec<Format>>) -> RowStream {
    Box::pin(futures::stream::iter(rows.into_iter().map(move |row| {
        Ok(row
            .iter()
            .zip(formats.iter())
            .map(|(v, f)| encode(v, *f))
            .collect::<EncodedRow>())
    })))
}

fn five(i: i32) -> Vec<Value> {
    vec![Value::Int4(i), Value::Text(format!("row-{i}"))]
}

impl FakeSession {
    fn status(&self) -> TxStatus {
        match (self.in_block, self.failed) {
            (false, _) => TxStatus::Idle,
            (true, false) => TxStatus::InBlock,
            (true, true) => TxStatus::Failed,
        }
    }

    /// Run one planned statement. On error the caller marks the transaction
    /// failed.
    async fn run(
        &mut self,
        plan: &Plan,
        params: &[Value],
        formats: Vec<Format>,
    ) -> Result<StatementResult, SqlError> {
        if self.in_block && self.failed && !plan.is_tx_control() {
            return Err(SqlError::new(
                sqlstate::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let cmd = |t: &str| Ok(StatementResult::Command { tag: t.to_owned() });
        let columns = columns_of(plan).map(Arc::new);
        let formats = Arc::new(formats);
        let rows = |values: Vec<Vec<Value>>| -> Result<StatementResult, SqlError> {
            Ok(StatementResult::Rows {
                columns: columns.clone().expect("row plan has columns"),
                formats: formats.clone(),
                tag: "SELECT".into(),
                rows: rows_stream(values, formats.clone()),
            })
        };
        match plan {
            Plan::Begin => {
                // PostgreSQL only warns if a block is already open.
                self.in_block = true;
                cmd("BEGIN")
            }
            Plan::Commit => {
                let tag = if self.failed { "ROLLBACK" } else { "COMMIT" };
                self.in_block = false;
                self.failed = false;
                cmd(tag)
            }
            Plan::Rollback => {
                self.in_block = false;
                self.failed = false;
                cmd("ROLLBACK")
            }
            Plan::Savepoint | Plan::Release | Plan::RollbackTo if !self.in_block => {
                Err(SqlError::new(
                    sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                    "savepoint commands can only be used in transaction blocks",
                ))
            }
            Plan::Savepoint => cmd("SAVEPOINT"),
            Plan::Release => cmd("RELEASE"),
            Plan::RollbackTo => {
                // The interesting case: 'E' -> 'T' without ending the block.
                self.failed = false;
                cmd("ROLLBACK")
            }
            Plan::Set(name, value) => {
                const REPORTED: [&str; 5] = [
                    "timezone",
                    "datestyle",
                    "application_name",
                    "intervalstyle",
                    "client_encoding",
                ];
                if REPORTED.contains(&name.as_str()) {
                    let canonical = match name.as_str() {
                        "timezone" => "TimeZone",
                        "datestyle" => "DateStyle",
                        "intervalstyle" => "IntervalStyle",
                        other => other,
                    };
                    self.changed.push((canonical.to_owned(), value.clone()));
                }
                cmd("SET")
            }
            Plan::Insert { .. } => cmd("INSERT 0 1"),
            Plan::CopyIn => {
                self.copy_bytes = Some(Vec::new());
                Ok(StatementResult::CopyIn {
                    columns: 1,
                    format: Format::Text,
                })
            }
            Plan::Show(name) => {
                let v = match name.as_str() {
                    "server_version" => "15.0".to_owned(),
                    "transaction_isolation" => "read committed".to_owned(),
                    "session_user" | "user" => self.user.clone(),
                    _ => {
                        return Err(SqlError::new(
                            "42704",
                            format!("unrecognized configuration parameter \"{name}\""),
                        ));
                    }
                };
                rows(vec![vec![Value::Text(v)]])
            }
            Plan::Select(exprs) => {
                let row = exprs
                    .iter()
                    .map(|e| eval(e, params))
                    .collect::<Result<Vec<_>, _>>()?;
                rows(vec![row])
            }
            Plan::FiveRows => rows((1..=5).map(five).collect()),
            Plan::Series(a, b) => rows((*a..=*b).map(|i| vec![Value::Int4(i as i32)]).collect()),
            Plan::SlowRows => {
                let formats2 = formats.clone();
                let stream = futures::stream::iter(1..=5).then(move |i| {
                    let formats = formats2.clone();
                    async move {
                        tokio::time::sleep(Duration::from_millis(150)).await;
                        Ok(five(i)
                            .iter()
                            .zip(formats.iter())
                            .map(|(v, f)| encode(v, *f))
                            .collect::<EncodedRow>())
                    }
                });
                Ok(StatementResult::Rows {
                    columns: columns.clone().expect("row plan has columns"),
                    formats,
                    tag: "SELECT".into(),
                    rows: Box::pin(stream),
                })
            }
            Plan::Sleep(secs) => {
                // Sleeping here (not inside the row stream) models a query
                // that is busy before producing its first row.
                tokio::time::sleep(Duration::from_secs_f64(*secs)).await;
                rows(vec![vec![Value::Text(String::new())]])
            }
        }
    }
}

#[async_trait]
impl Session for FakeSession {
    async fn simple_query(&mut self, sql: &str) -> BatchOutcome {
        let mut out = BatchOutcome::default();
        let stmts = split_statements(sql);
        if stmts.is_empty() {
            out.results.push(StatementResult::Empty);
            return out;
        }
        for stmt in stmts {
            let res = match parse_statement(stmt, &[]) {
                Ok(plan) => {
                    let n = columns_of(&plan).map(|c| c.len()).unwrap_or(0);
                    self.run(&plan, &[], vec![Format::Text; n]).await
                }
                Err(e) => Err(e),
            };
            match res {
                Ok(r) => {
                    let copy = matches!(r, StatementResult::CopyIn { .. });
                    out.results.push(r);
                    if copy {
                        // COPY must be the last statement we run before the
                        // copy sub-protocol takes over.
                        break;
                    }
                }
                Err(e) => {
                    self.failed = true;
                    out.error = Some(e);
                    break;
                }
            }
        }
        if !self.in_block {
            // end of the implicit transaction of this Query message
            self.failed = false;
        }
        out
    }

    async fn prepare(
        &mut self,
        sql: &str,
        param_type_hints: &[Oid],
    ) -> Result<PreparedStatement, SqlError> {
        let stmts = split_statements(sql);
        let res = match stmts.as_slice() {
            [one] => parse_statement(one, param_type_hints),
            [] => Err(SqlError::syntax(
                "empty statements are handled by the protocol layer",
            )),
            _ => Err(SqlError::syntax(
                "cannot insert multiple commands into a prepared statement",
            )),
        };
        let plan = match res {
            Ok(p) => p,
            Err(e) => {
                self.failed = true;
                return Err(e);
            }
        };
        Ok(PreparedStatement {
            param_types: param_types_of(&plan),
            columns: columns_of(&plan).map(Arc::new),
            plan: Arc::new(plan),
        })
    }

    async fn execute(
        &mut self,
        stmt: &PreparedStatement,
        params: &[Option<Bytes>],
        param_formats: &[Format],
        result_formats: &[Format],
    ) -> Result<StatementResult, SqlError> {
        let plan = stmt
            .plan
            .downcast_ref::<Plan>()
            .expect("statement prepared by this engine");
        let res = async {
            if params.len() != stmt.param_types.len() {
                return Err(SqlError::new(
                    sqlstate::PROTOCOL_VIOLATION,
                    format!(
                        "bind message supplies {} parameters, but prepared statement requires {}",
                        params.len(),
                        stmt.param_types.len()
                    ),
                ));
            }
            let values = params
                .iter()
                .zip(param_formats)
                .zip(&stmt.param_types)
                .map(|((p, f), t)| decode_param(p.as_ref(), *f, *t))
                .collect::<Result<Vec<_>, _>>()?;
            self.run(plan, &values, result_formats.to_vec()).await
        }
        .await;
        if res.is_err() {
            self.failed = true;
        }
        res
    }

    async fn sync(&mut self) {
        if !self.in_block {
            self.failed = false;
        }
    }

    fn fail_transaction(&mut self) {
        self.failed = true;
        self.copy_bytes = None;
    }

    fn transaction_status(&self) -> TxStatus {
        self.status()
    }

    fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.changed)
    }

    async fn copy_in_data(&mut self, data: Bytes) -> Result<(), SqlError> {
        match self.copy_bytes.as_mut() {
            Some(buf) => {
                buf.extend_from_slice(&data);
                Ok(())
            }
            None => Err(SqlError::new(
                sqlstate::PROTOCOL_VIOLATION,
                "no COPY in progress",
            )),
        }
    }

    async fn copy_in_done(&mut self) -> Result<StatementResult, SqlError> {
        let buf = self
            .copy_bytes
            .take()
            .ok_or_else(|| SqlError::new(sqlstate::PROTOCOL_VIOLATION, "no COPY in progress"))?;
        let text = String::from_utf8_lossy(&buf);
        let n = text.lines().filter(|l| *l != "\\.").count();
        Ok(StatementResult::Command {
            tag: format!("COPY {n}"),
        })
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
}

//! A toy engine behind the `Session` trait for the protocol tests. Stores nothing.
//!
//! Besides answering the toy dialect (`toy_sql`), it makes protocol-layer behaviour
//! observable: every executed statement is logged as `exec <sql>` and the end of its row
//! stream as `end <sql>` (readable with `SHOW events`), and connection-level events are
//! printed to stdout as `EVENT ...` lines for the test harness (`terminate`, `sleep-start`).

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cairn_pgwire::{
    EncodedRow, Format, Notice, NoticeSeverity, Oid, PreparedStatement, RowStream, Session,
    SessionFactory, SqlError, SqlState, StartupInfo, StatementResult, TxStatus,
};
use futures::StreamExt;

use crate::toy_sql::{columns_of, param_types_of, parse_statement, split_statements, Expr, Plan};

/// Print a line for the test harness (stdout is read line by line by the tests).
pub fn event(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "EVENT {line}");
    let _ = out.flush();
}

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

pub struct FakeEngine;

#[async_trait]
impl SessionFactory for FakeEngine {
    async fn open(&self, info: StartupInfo) -> Result<Box<dyn Session>, SqlError> {
        if info.database.as_deref() == Some("no_such_db") {
            return Err(SqlError::fatal(
                SqlState::INVALID_CATALOG_NAME,
                "database \"no_such_db\" does not exist",
            ));
        }
        Ok(Box::new(FakeSession {
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            user: info.user,
            app: info.application_name.unwrap_or_default(),
            in_block: false,
            failed: false,
            copy_bytes: None,
            changed: Vec::new(),
            notices: Vec::new(),
            batch: VecDeque::new(),
            batch_is_empty: false,
            log: Arc::new(Mutex::new(Vec::new())),
        }))
    }
}

pub struct FakeSession {
    id: u64,
    user: String,
    app: String,
    in_block: bool,
    /// The current (explicit or implicit) transaction hit an error.
    failed: bool,
    /// Some(bytes so far) while COPY FROM STDIN runs.
    copy_bytes: Option<Vec<u8>>,
    changed: Vec<(String, String)>,
    notices: Vec<Notice>,
    /// Statements of the current simple-query batch not yet run.
    batch: VecDeque<String>,
    /// The current batch had no statement: yield Empty once.
    batch_is_empty: bool,
    log: Arc<Mutex<Vec<String>>>,
}

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
    let bad_binary = || {
        SqlError::new(
            SqlState::PROTOCOL_VIOLATION,
            "incorrect binary data format in bind parameter",
        )
    };
    let bad_text = |what: &str| {
        SqlError::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type {what}"),
        )
    };
    let text = || std::str::from_utf8(raw).ok().map(str::trim);
    match (ty, fmt) {
        (cairn_pgwire::oid::INT4, Format::Binary) => <[u8; 4]>::try_from(&raw[..])
            .map(|b| Value::Int4(i32::from_be_bytes(b)))
            .map_err(|_| bad_binary()),
        (cairn_pgwire::oid::INT8, Format::Binary) => <[u8; 8]>::try_from(&raw[..])
            .map(|b| Value::Int8(i64::from_be_bytes(b)))
            .map_err(|_| bad_binary()),
        (cairn_pgwire::oid::INT4, Format::Text) => text()
            .and_then(|s| s.parse().ok())
            .map(Value::Int4)
            .ok_or_else(|| bad_text("integer")),
        (cairn_pgwire::oid::INT8, Format::Text) => text()
            .and_then(|s| s.parse().ok())
            .map(Value::Int8)
            .ok_or_else(|| bad_text("bigint")),
        _ => std::str::from_utf8(raw)
            .map(|s| Value::Text(s.to_owned()))
            .map_err(|_| {
                SqlError::new(
                    SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\"",
                )
            }),
    }
}

fn eval(e: &Expr, params: &[Value]) -> Result<Value, SqlError> {
    Ok(match e {
        Expr::Int(v, cairn_pgwire::oid::INT4) => Value::Int4(*v as i32),
        Expr::Int(v, _) => Value::Int8(*v),
        Expr::Str(s) => Value::Text(s.clone()),
        Expr::Param { index, .. } => params.get(index - 1).cloned().unwrap_or(Value::Null),
        Expr::Arith(lhs, op, rhs) => {
            let l = eval(lhs, params)?;
            let wide = matches!(l, Value::Int8(_));
            let lv = match l {
                Value::Null => return Ok(Value::Null),
                Value::Int4(i) => i64::from(i),
                Value::Int8(i) => i,
                Value::Text(t) => t.trim().parse::<i64>().map_err(|_| {
                    SqlError::new(
                        SqlState::INVALID_TEXT_REPRESENTATION,
                        format!("invalid input syntax for type integer: \"{t}\""),
                    )
                })?,
            };
            let r = match op {
                '+' => lv.checked_add(*rhs),
                '-' => lv.checked_sub(*rhs),
                '/' if *rhs == 0 => {
                    return Err(SqlError::new(
                        SqlState::DIVISION_BY_ZERO,
                        "division by zero",
                    ))
                }
                '/' => lv.checked_div(*rhs),
                _ => None,
            };
            let overflow =
                || SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range");
            let r = r.ok_or_else(overflow)?;
            if wide {
                Value::Int8(r)
            } else {
                Value::Int4(i32::try_from(r).map_err(|_| overflow())?)
            }
        }
    })
}

fn encode_row(row: &[Value], formats: &[Format]) -> EncodedRow {
    row.iter()
        .zip(formats.iter())
        .map(|(v, f)| encode(v, *f))
        .collect()
}

fn five(i: i32) -> Vec<Value> {
    vec![Value::Int4(i), Value::Text(format!("row-{i}"))]
}

/// Append `end <label>` to the log when the stream is exhausted.
fn log_end(rows: RowStream, log: Arc<Mutex<Vec<String>>>, label: String) -> RowStream {
    let tail = futures::stream::once(async move {
        if let Ok(mut l) = log.lock() {
            l.push(format!("end {label}"));
        }
        None
    })
    .filter_map(|x: Option<Result<EncodedRow, SqlError>>| async move { x });
    Box::pin(rows.chain(tail))
}

/// Text-format COPY line of a row: tab-separated, `\N` for NULL.
fn copy_line(row: EncodedRow) -> Bytes {
    let mut line = Vec::new();
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            line.push(b'\t');
        }
        match v {
            None => line.extend_from_slice(b"\\N"),
            Some(b) => line.extend_from_slice(b),
        }
    }
    line.push(b'\n');
    Bytes::from(line)
}

impl FakeSession {
    fn status(&self) -> TxStatus {
        match (self.in_block, self.failed) {
            (false, _) => TxStatus::Idle,
            (true, false) => TxStatus::InBlock,
            (true, true) => TxStatus::Failed,
        }
    }

    fn log(&self, line: String) {
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }

    /// A row result; `run` fills in the columns.
    fn rows(&self, values: Vec<Vec<Value>>, formats: Vec<Format>, label: &str) -> StatementResult {
        let formats = Arc::new(formats);
        let f = formats.clone();
        let stream: RowStream = Box::pin(futures::stream::iter(
            values.into_iter().map(move |row| Ok(encode_row(&row, &f))),
        ));
        StatementResult::Rows {
            columns: Arc::new(vec![]),
            formats,
            tag: "SELECT".to_owned(),
            rows: log_end(stream, self.log.clone(), label.to_owned()),
        }
    }

    /// Run one planned statement; the caller marks the transaction failed on error.
    async fn run(
        &mut self,
        plan: &Plan,
        params: &[Value],
        formats: Vec<Format>,
        label: &str,
    ) -> Result<StatementResult, SqlError> {
        if self.in_block && self.failed && !plan.is_tx_control() {
            return Err(SqlError::new(
                SqlState::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let cmd = |t: &str| Ok(StatementResult::Command { tag: t.to_owned() });
        let columns = columns_of(plan).map(Arc::new);
        let with_columns = |r: StatementResult| match (r, &columns) {
            (
                StatementResult::Rows {
                    formats, tag, rows, ..
                },
                Some(cols),
            ) => StatementResult::Rows {
                columns: cols.clone(),
                formats,
                tag,
                rows,
            },
            (other, _) => other,
        };
        let result = match plan {
            Plan::Begin => {
                if self.in_block {
                    self.notices.push(Notice::new(
                        NoticeSeverity::Warning,
                        SqlState::ACTIVE_SQL_TRANSACTION,
                        "there is already a transaction in progress",
                    ));
                }
                self.in_block = true;
                return cmd("BEGIN");
            }
            Plan::Commit => {
                let tag = if self.failed && self.in_block {
                    "ROLLBACK"
                } else {
                    "COMMIT"
                };
                self.in_block = false;
                self.failed = false;
                return cmd(tag);
            }
            Plan::Rollback => {
                self.in_block = false;
                self.failed = false;
                return cmd("ROLLBACK");
            }
            Plan::Savepoint | Plan::Release | Plan::RollbackTo if !self.in_block => {
                return Err(SqlError::new(
                    SqlState::NO_ACTIVE_SQL_TRANSACTION,
                    "savepoint commands can only be used in transaction blocks",
                ))
            }
            Plan::Savepoint => return cmd("SAVEPOINT"),
            Plan::Release => return cmd("RELEASE"),
            Plan::RollbackTo => {
                // 'E' -> 'T' without ending the block
                self.failed = false;
                return cmd("ROLLBACK");
            }
            Plan::Set(name, value) => {
                let canonical = match name.as_str() {
                    "timezone" => Some("TimeZone"),
                    "datestyle" => Some("DateStyle"),
                    "intervalstyle" => Some("IntervalStyle"),
                    "application_name" => Some("application_name"),
                    "client_encoding" => Some("client_encoding"),
                    _ => None,
                };
                if let Some(c) = canonical {
                    self.changed.push((c.to_owned(), value.clone()));
                }
                return cmd("SET");
            }
            Plan::Insert { .. } => return cmd("INSERT 0 1"),
            Plan::CopyIn => {
                self.copy_bytes = Some(Vec::new());
                return Ok(StatementResult::CopyIn {
                    columns: 1,
                    format: Format::Text,
                });
            }
            Plan::CopyOut(inner) => {
                let n = columns_of(inner).map_or(0, |c| c.len());
                let StatementResult::Rows { rows, .. } =
                    Box::pin(self.run(inner, params, vec![Format::Text; n], label)).await?
                else {
                    return Err(SqlError::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        "COPY needs a query",
                    ));
                };
                let count = Arc::new(AtomicUsize::new(0));
                let counted = count.clone();
                let data = rows.map(move |r| {
                    r.map(|row| {
                        counted.fetch_add(1, Ordering::Relaxed);
                        copy_line(row)
                    })
                });
                return Ok(StatementResult::CopyOut {
                    columns: n,
                    format: Format::Text,
                    tag: Box::new(move || format!("COPY {}", count.load(Ordering::Relaxed))),
                    data: Box::pin(data),
                });
            }
            Plan::Show(name) => {
                let v = match name.as_str() {
                    "server_version" => "15.0".to_owned(),
                    "transaction_isolation" => "read committed".to_owned(),
                    "session_user" | "user" => self.user.clone(),
                    _ => {
                        return Err(SqlError::new(
                            SqlState::UNDEFINED_OBJECT,
                            format!("unrecognized configuration parameter \"{name}\""),
                        ))
                    }
                };
                self.rows(vec![vec![Value::Text(v)]], formats, label)
            }
            Plan::Events => {
                let events = self.log.lock().map(|l| l.clone()).unwrap_or_default();
                let rows = events.into_iter().map(|e| vec![Value::Text(e)]).collect();
                self.rows(rows, formats, label)
            }
            Plan::Select(exprs) => {
                let row = exprs
                    .iter()
                    .map(|e| eval(e, params))
                    .collect::<Result<Vec<_>, _>>()?;
                self.rows(vec![row], formats, label)
            }
            Plan::FiveRows => self.rows((1..=5).map(five).collect(), formats, label),
            Plan::Series(a, b) => {
                let rows = (*a..=*b).map(|i| vec![Value::Int4(i as i32)]).collect();
                self.rows(rows, formats, label)
            }
            Plan::SlowRows => {
                let formats = Arc::new(formats);
                let f = formats.clone();
                let stream = futures::stream::iter(1..=5).then(move |i| {
                    let f = f.clone();
                    async move {
                        tokio::time::sleep(Duration::from_millis(150)).await;
                        Ok(encode_row(&five(i), &f))
                    }
                });
                StatementResult::Rows {
                    columns: Arc::new(vec![]),
                    formats,
                    tag: "SELECT".into(),
                    rows: log_end(Box::pin(stream), self.log.clone(), label.to_owned()),
                }
            }
            Plan::Sleep(secs) => {
                event(&format!("sleep-start app={}", self.app));
                // Busy before the first row, like a query that scans first.
                tokio::time::sleep(Duration::from_secs_f64(*secs)).await;
                self.rows(vec![vec![Value::Text(String::new())]], formats, label)
            }
            Plan::RaiseNotice(text) => {
                self.notices.push(Notice::new(
                    NoticeSeverity::Notice,
                    SqlState::SUCCESSFUL_COMPLETION,
                    text.clone(),
                ));
                self.rows(vec![vec![Value::Text(String::new())]], formats, label)
            }
            Plan::Panic => panic!("cairn_test_panic() called"),
        };
        Ok(with_columns(result))
    }
}

#[async_trait]
impl Session for FakeSession {
    async fn simple_query_start(&mut self, sql: &str) -> Result<(), SqlError> {
        self.batch = split_statements(sql).into();
        self.batch_is_empty = self.batch.is_empty();
        Ok(())
    }

    async fn simple_query_next(&mut self) -> Option<Result<StatementResult, SqlError>> {
        if std::mem::take(&mut self.batch_is_empty) {
            return Some(Ok(StatementResult::Empty));
        }
        let Some(stmt) = self.batch.pop_front() else {
            // end of the batch = end of its implicit transaction
            if !self.in_block {
                self.failed = false;
            }
            return None;
        };
        self.log(format!("exec {stmt}"));
        let res = match parse_statement(&stmt, &[]) {
            Ok(plan) => {
                let n = columns_of(&plan).map_or(0, |c| c.len());
                self.run(&plan, &[], vec![Format::Text; n], &stmt).await
            }
            Err(e) => Err(e),
        };
        if res.is_err() {
            self.batch.clear();
            self.failed = self.in_block;
        }
        Some(res)
    }

    async fn prepare(
        &mut self,
        sql: &str,
        param_type_hints: &[Oid],
    ) -> Result<PreparedStatement, SqlError> {
        let stmts = split_statements(sql);
        let res = match stmts.as_slice() {
            [one] => parse_statement(one, param_type_hints),
            _ => Err(SqlError::new(
                SqlState::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            )),
        };
        let plan = res.inspect_err(|_| self.failed = true)?;
        let mut param_types = param_types_of(&plan);
        // declared types the toy parser does not know still win (e.g. custom OIDs)
        for (t, hint) in param_types.iter_mut().zip(param_type_hints) {
            if *hint != 0 {
                *t = *hint;
            }
        }
        Ok(PreparedStatement {
            param_types,
            columns: columns_of(&plan).map(Arc::new),
            plan: Arc::new((plan, stmts.into_iter().next().unwrap_or_default())),
        })
    }

    async fn execute(
        &mut self,
        stmt: &PreparedStatement,
        params: &[Option<Bytes>],
        param_formats: &[Format],
        result_formats: &[Format],
    ) -> Result<StatementResult, SqlError> {
        let Some((plan, sql)) = stmt.plan.downcast_ref::<(Plan, String)>() else {
            return Err(SqlError::new(SqlState::INTERNAL_ERROR, "foreign statement"));
        };
        if params.len() != stmt.param_types.len() {
            self.failed = true;
            return Err(SqlError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    params.len(),
                    stmt.param_types.len()
                ),
            ));
        }
        self.log(format!("exec {sql}"));
        let values = params
            .iter()
            .zip(param_formats)
            .zip(&stmt.param_types)
            .map(|((p, f), t)| decode_param(p.as_ref(), *f, *t))
            .collect::<Result<Vec<_>, _>>();
        let res = match values {
            Ok(values) => self.run(plan, &values, result_formats.to_vec(), sql).await,
            Err(e) => Err(e),
        };
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

    async fn fail_transaction(&mut self) {
        self.failed = true;
        self.copy_bytes = None;
        self.batch.clear();
        if !self.in_block {
            self.failed = false;
        }
    }

    fn transaction_status(&self) -> TxStatus {
        self.status()
    }

    fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.changed)
    }

    fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    async fn copy_in_data(&mut self, data: Bytes) -> Result<(), SqlError> {
        match self.copy_bytes.as_mut() {
            Some(buf) => {
                buf.extend_from_slice(&data);
                Ok(())
            }
            None => Err(SqlError::new(
                SqlState::PROTOCOL_VIOLATION,
                "no COPY in progress",
            )),
        }
    }

    async fn copy_in_done(&mut self) -> Result<StatementResult, SqlError> {
        let buf = self
            .copy_bytes
            .take()
            .ok_or_else(|| SqlError::new(SqlState::PROTOCOL_VIOLATION, "no COPY in progress"))?;
        let text = String::from_utf8_lossy(&buf);
        let n = text.lines().filter(|l| *l != "\\.").count();
        Ok(StatementResult::Command {
            tag: format!("COPY {n}"),
        })
    }

    async fn terminate(&mut self) {
        let status = match self.status() {
            TxStatus::Idle => 'I',
            TxStatus::InBlock => 'T',
            TxStatus::Failed => 'E',
        };
        event(&format!(
            "terminate session={} app={} status={status}",
            self.id, self.app
        ));
        self.in_block = false;
        self.batch.clear();
    }
}

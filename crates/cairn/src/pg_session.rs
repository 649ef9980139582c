//! The PostgreSQL protocol layer's `Session` over the SQL engine's session.
//!
//! Role: `cairn start` serves `cairn_pgwire::serve` with [`SqlFactory`]; every connection gets a
//! [`PgSession`] wrapping one `cairn_sql_exec::Session`. This module is the one place that maps
//! between the two: values to text/binary wire form (the formats are PostgreSQL's, defined in
//! `cairn_sql_plan::types`), SQL errors to ErrorResponse fields, engine results to protocol
//! results.
//!
//! Threading: engine calls are synchronous (they do disk I/O and may wait on row locks).
//! `cairn_pgwire::serve` runs each connection on a thread of its own with a current-thread
//! runtime, where they simply run; on a multi-thread runtime (a caller that drives sessions
//! itself) they run under `tokio::task::block_in_place`, which lets the runtime move other
//! tasks off this worker thread meanwhile.
//!
//! Invariants:
//! 1. Every engine error reaches the client with its SQLSTATE unchanged.
//! 2. Parameters are decoded with the types the statement was prepared with (binary or text as
//!    the client says), and a wrong count is 08P01 before anything runs.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream;

use cairn_pgwire::{
    ColumnDesc, CredentialStore, Deallocation, Format, Notice, NoticeSeverity, Oid,
    PreparedStatement, ScramVerifier, Session, SessionFactory, SqlState, StartupInfo,
    StatementResult, TxStatus,
};
use cairn_sql_exec::{Engine, ExecResult, Prepared};
use cairn_sql_plan::plan::OutputColumn;
use cairn_sql_plan::types::{parse_binary, parse_text, DataType, Value};

type PgError = cairn_pgwire::SqlError;

/// Converts an engine error into the protocol's error (invariant 1).
pub fn pg_error(e: cairn_sql_plan::SqlError) -> PgError {
    let code: [u8; 5] = e.code.as_bytes().try_into().unwrap_or(*b"XX000");
    let d = e.details();
    let mut out = PgError::new(SqlState::new(&code), e.message);
    if let Some(x) = d.detail {
        out = out.with_detail(x);
    }
    if let Some(h) = d.hint {
        out = out.with_hint(h);
    }
    if let Some(p) = d.position {
        out = out.with_position(p);
    }
    out
}

/// Runs a blocking engine call (see the module's threading notes).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn column_desc(c: &OutputColumn) -> ColumnDesc {
    let mut d = ColumnDesc::new(c.name.clone(), c.ty.oid());
    d.type_size = c.ty.type_len();
    d.type_modifier = c.ty.type_modifier();
    if let Some((table, column)) = c.source {
        d.table_oid = table;
        d.column_attr = i16::try_from(column).unwrap_or(0);
    }
    d
}

/// `SELECT 3` -> `SELECT`, `INSERT 0 2` -> `INSERT 0`: the protocol layer appends the row count
/// it actually sent.
fn verb(tag: &str) -> String {
    match tag.rsplit_once(' ') {
        Some((v, n)) if n.chars().all(|c| c.is_ascii_digit()) => v.to_string(),
        _ => tag.to_string(),
    }
}

fn encode(v: &Value, ty: &DataType, format: Format) -> Option<Bytes> {
    match format {
        Format::Text => v.to_text(ty).map(Bytes::from),
        Format::Binary => v.to_binary(ty).map(Bytes::from),
    }
}

fn result(r: ExecResult, formats: Option<&[Format]>) -> StatementResult {
    match r {
        ExecResult::Rows { columns, rows, tag } => {
            let formats: Vec<Format> = (0..columns.len())
                .map(|i| {
                    formats
                        .and_then(|f| f.get(i).copied())
                        .unwrap_or(Format::Text)
                })
                .collect();
            let types: Vec<DataType> = columns.iter().map(|c| c.ty.clone()).collect();
            let descs: Vec<ColumnDesc> = columns.iter().map(column_desc).collect();
            let fmts = formats.clone();
            let encoded = rows.into_iter().map(move |row| {
                Ok(row
                    .iter()
                    .zip(&types)
                    .zip(&fmts)
                    .map(|((v, t), f)| encode(v, t, *f))
                    .collect())
            });
            StatementResult::Rows {
                columns: Arc::new(descs),
                formats: Arc::new(formats),
                tag: verb(&tag),
                rows: Box::pin(stream::iter(encoded)),
            }
        }
        ExecResult::Command { tag } => StatementResult::Command { tag },
        ExecResult::Empty => StatementResult::Empty,
        ExecResult::CopyIn { columns } => StatementResult::CopyIn {
            columns,
            format: Format::Text,
        },
        ExecResult::CopyOut {
            columns,
            data,
            rows,
        } => {
            // One CopyData message per row, as PostgreSQL sends (clients such as psycopg's
            // `Copy.rows()` rely on it).
            let chunks: Vec<Result<Bytes, PgError>> =
                data.into_iter().map(|r| Ok(Bytes::from(r))).collect();
            StatementResult::CopyOut {
                columns,
                format: Format::Text,
                tag: Box::new(move || format!("COPY {rows}")),
                data: Box::pin(stream::iter(chunks)),
            }
        }
    }
}

/// Opens a [`PgSession`] per connection.
pub struct SqlFactory {
    engine: Arc<Engine>,
}

impl SqlFactory {
    pub fn new(engine: Arc<Engine>) -> SqlFactory {
        SqlFactory { engine }
    }
}

#[async_trait]
impl SessionFactory for SqlFactory {
    async fn open(&self, info: StartupInfo) -> Result<Box<dyn Session>, PgError> {
        let database = info.database.clone().unwrap_or_else(|| info.user.clone());
        let engine = self.engine.clone();
        let mut session = blocking(|| engine.open_session(&info.user, &database)).map_err(|e| {
            let mut e = pg_error(e);
            e.severity = cairn_pgwire::Severity::Fatal;
            e
        })?;
        // Startup parameters become session settings, as in PostgreSQL: each plain one
        // (`application_name`, `DateStyle`, ...) and each `-c name=value` / `--name=value` of
        // `options` (what libpq's PGOPTIONS sends). A bad plain parameter is ignored, as
        // before; a bad `options` entry refuses the connection, as PostgreSQL does.
        let mut sets: Vec<(String, String, bool)> = Vec::new();
        for (name, value) in &info.parameters {
            match name.as_str() {
                "user" | "database" | "replication" => {}
                "options" => {
                    let opts = parse_startup_options(value).map_err(|m| {
                        let mut e = PgError::new(cairn_pgwire::SqlState::SYNTAX_ERROR, m);
                        e.severity = cairn_pgwire::Severity::Fatal;
                        e
                    })?;
                    sets.extend(opts.into_iter().map(|(n, v)| (n, v, true)));
                }
                _ => sets.push((name.clone(), value.clone(), false)),
            }
        }
        if info.application_name.is_some() && !sets.iter().any(|(n, _, _)| n == "application_name")
        {
            let app = info.application_name.clone().unwrap_or_default();
            sets.push(("application_name".into(), app, false));
        }
        for (name, value, strict) in sets {
            let r = blocking(|| {
                session.start_batch(&format!(
                    "SET \"{}\" = '{}'",
                    name.to_ascii_lowercase().replace('"', "\"\""),
                    value.replace('\'', "''")
                ))?;
                while let Some(r) = session.next_in_batch() {
                    r?;
                }
                Ok::<(), cairn_sql_plan::SqlError>(())
            });
            if let Err(e) = r {
                if strict {
                    let mut e = pg_error(e);
                    e.severity = cairn_pgwire::Severity::Fatal;
                    return Err(e);
                }
            }
        }
        session.take_parameter_changes();
        Ok(Box::new(PgSession { inner: session }))
    }
}

/// The settings in a startup packet's `options` parameter: whitespace-separated
/// `-c name=value` (or `-cname=value`) and `--name=value` items, with `\` escaping the next
/// character (so `read\ committed` is one value), as PostgreSQL's backend reads them.
/// Dashes in names become underscores, as PostgreSQL does.
fn parse_startup_options(options: &str) -> Result<Vec<(String, String)>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = options.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    let mut out = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let item = if w == "-c" {
            it.next()
                .ok_or_else(|| "invalid command-line argument for server process: -c".to_string())?
        } else if let Some(rest) = w.strip_prefix("-c") {
            rest.to_string()
        } else if let Some(rest) = w.strip_prefix("--") {
            rest.to_string()
        } else {
            return Err(format!(
                "invalid command-line argument for server process: {w}"
            ));
        };
        let Some((name, value)) = item.split_once('=') else {
            return Err(format!("-c {item} requires a value"));
        };
        out.push((name.replace('-', "_"), value.to_string()));
    }
    Ok(out)
}

pub struct PgSession {
    inner: cairn_sql_exec::Session,
}

#[async_trait]
impl Session for PgSession {
    async fn simple_query_start(&mut self, sql: &str) -> Result<(), PgError> {
        blocking(|| self.inner.start_batch(sql)).map_err(pg_error)
    }

    async fn simple_query_next(&mut self) -> Option<Result<StatementResult, PgError>> {
        let r = blocking(|| self.inner.next_in_batch())?;
        Some(r.map(|r| result(r, None)).map_err(pg_error))
    }

    async fn prepare(
        &mut self,
        sql: &str,
        param_type_hints: &[Oid],
    ) -> Result<PreparedStatement, PgError> {
        let p = blocking(|| self.inner.prepare(sql, param_type_hints)).map_err(pg_error)?;
        Ok(PreparedStatement {
            param_types: p.param_types.iter().map(|t| t.oid()).collect(),
            columns: p
                .columns
                .as_ref()
                .map(|c| Arc::new(c.iter().map(column_desc).collect())),
            plan: Arc::new(p),
        })
    }

    async fn execute(
        &mut self,
        stmt: &PreparedStatement,
        params: &[Option<Bytes>],
        param_formats: &[Format],
        result_formats: &[Format],
    ) -> Result<StatementResult, PgError> {
        let prepared = stmt.plan.downcast_ref::<Prepared>().ok_or_else(|| {
            PgError::new(
                SqlState::INTERNAL_ERROR,
                "prepared statement of another engine",
            )
        })?;
        if params.len() != prepared.param_types.len() {
            return Err(PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    params.len(),
                    prepared.param_types.len()
                ),
            ));
        }
        let mut values = Vec::with_capacity(params.len());
        for (i, (p, ty)) in params.iter().zip(&prepared.param_types).enumerate() {
            let fmt = param_formats.get(i).copied().unwrap_or(Format::Text);
            values.push(match p {
                None => Value::Null,
                Some(b) => match fmt {
                    Format::Binary => parse_binary(b, ty).map_err(pg_error)?,
                    Format::Text => {
                        let s = std::str::from_utf8(b).map_err(|_| {
                            PgError::new(
                                SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                                "invalid byte sequence for encoding \"UTF8\"",
                            )
                        })?;
                        parse_text(s, ty).map_err(pg_error)?
                    }
                },
            });
        }
        let r = blocking(|| self.inner.execute_prepared(prepared, &values)).map_err(pg_error)?;
        Ok(result(r, Some(result_formats)))
    }

    async fn sync(&mut self) {
        // Statements outside a block commit as they finish; nothing is pending at Sync.
    }

    async fn fail_transaction(&mut self) {
        self.inner.fail_block();
    }

    fn transaction_status(&self) -> TxStatus {
        match self.inner.status() {
            cairn_sql_exec::TxStatus::Idle => TxStatus::Idle,
            cairn_sql_exec::TxStatus::InBlock => TxStatus::InBlock,
            cairn_sql_exec::TxStatus::Failed => TxStatus::Failed,
        }
    }

    fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        self.inner.take_parameter_changes()
    }

    fn take_deallocations(&mut self) -> Vec<Deallocation> {
        self.inner
            .take_deallocations()
            .into_iter()
            .map(|d| d.map_or(Deallocation::All, Deallocation::Named))
            .collect()
    }

    fn take_notices(&mut self) -> Vec<Notice> {
        self.inner
            .take_notices()
            .into_iter()
            .map(|m| Notice::new(NoticeSeverity::Warning, SqlState::WARNING, m))
            .collect()
    }

    async fn copy_in_data(&mut self, data: Bytes) -> Result<(), PgError> {
        blocking(|| self.inner.copy_data(&data)).map_err(pg_error)
    }

    async fn copy_in_done(&mut self) -> Result<StatementResult, PgError> {
        let r = blocking(|| self.inner.copy_done()).map_err(pg_error)?;
        Ok(result(r, None))
    }

    async fn terminate(&mut self) {
        blocking(|| self.inner.terminate());
    }
}

/// SCRAM verifiers from the catalog's roles.
pub struct RoleCredentials {
    engine: Arc<Engine>,
}

impl RoleCredentials {
    pub fn new(engine: Arc<Engine>) -> RoleCredentials {
        RoleCredentials { engine }
    }
}

impl CredentialStore for RoleCredentials {
    fn scram_verifier(&self, user: &str) -> Option<ScramVerifier> {
        let role = blocking(|| self.engine.role(user)).ok()??;
        let s = role.scram?;
        let hex = |h: &str| -> Option<Vec<u8>> {
            (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect()
        };
        Some(ScramVerifier {
            salt: hex(&s.salt_hex)?,
            iterations: s.iterations,
            stored_key: hex(&s.stored_key_hex)?.try_into().ok()?,
            server_key: hex(&s.server_key_hex)?.try_into().ok()?,
        })
    }
}

/// The catalog form of a SCRAM verifier.
pub fn scram_secret(v: &ScramVerifier) -> cairn_sql_exec::catalog::ScramSecret {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    cairn_sql_exec::catalog::ScramSecret {
        salt_hex: hex(&v.salt),
        iterations: v.iterations,
        stored_key_hex: hex(&v.stored_key),
        server_key_hex: hex(&v.server_key),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_startup_options;

    #[test]
    fn startup_options_parse_as_postgres_reads_them() {
        let got = parse_startup_options(
            "-c default_transaction_isolation=read\\ committed  -cstatement-timeout=5s --search_path=a,b",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                (
                    "default_transaction_isolation".into(),
                    "read committed".into()
                ),
                ("statement_timeout".into(), "5s".into()),
                ("search_path".into(), "a,b".into()),
            ]
        );
        assert_eq!(parse_startup_options("  ").unwrap(), vec![]);
        assert!(parse_startup_options("-c").is_err());
        assert!(parse_startup_options("-c novalue").is_err());
        assert!(parse_startup_options("stray").is_err());
    }
}

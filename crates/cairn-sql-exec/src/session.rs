//! SQL sessions: one per client connection. A session owns the connection's transaction state
//! (idle, in a block, or in a failed block), its settings, and runs statements.
//!
//! Role: the protocol adapter (in the `cairn` binary) calls [`Session::start_batch`] /
//! [`Session::next_in_batch`] for simple queries and [`Session::prepare`] /
//! [`Session::execute_prepared`] for the extended protocol; the session parses, binds
//! (`cairn-sql-plan`), optimises, and runs (`exec.rs`, `ddl.rs`) inside a `KvTxn`.
//!
//! Transactions, as PostgreSQL has them:
//! - Outside `BEGIN` every statement runs in its own transaction and commits when it ends
//!   (PostgreSQL runs a multi-statement simple query as one implicit transaction; Cairn
//!   commits per statement — see docs/sql.md).
//! - `BEGIN` / `START TRANSACTION` opens a block; an error inside it makes the block failed:
//!   every statement but `COMMIT`/`ROLLBACK` then gets 25P02, and `COMMIT` rolls back and
//!   answers `ROLLBACK`.
//! - A failed commit (40001) ends the block: the session is idle again.
//!
//! Caches: table lookups of queries and DML go through the engine's [`CatalogCache`], and a
//! prepared statement keeps its optimised plan in its [`PlanSlot`] (`plan_cache.rs`), both
//! valid for one catalog generation. A block that ran anything but queries and DML is
//! `catalog_dirty` and uses neither until it ends (its own DDL is not the generation's).
//!
//! Invariants:
//! 1. At most one `KvTxn` is open per session, and it is open exactly while `block` is `Some`
//!    (or during one autocommit statement). Test: `tests/sql.rs` `failed_block_...`.
//! 2. Dropping a session (client gone) drops its transaction, which rolls it back.
//! 3. Only a statement for which [`reads_catalog_only`] holds runs with the caches, and only
//!    in a transaction where no other kind ran (catalog_cache.rs invariant 2).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use sqlparser::ast;

use cairn_sql_plan::bind::{ident_name, object_name, Binder, SessionInfo};
use cairn_sql_plan::catalog::Catalog;
use cairn_sql_plan::catalog::TableDef;
use cairn_sql_plan::expr::Expr;
use cairn_sql_plan::maintenance::AnalyzeStmt;
use cairn_sql_plan::plan::{Bound, OnConflict, OutputColumn, Plan};
use cairn_sql_plan::types::{DataType, Value};
use cairn_sql_plan::{code, rules, Result, SqlError};

use crate::analyze;
use crate::auto_analyze::{Activity, AutoAnalyzeConfig, Change, Worker};
use crate::catalog::{self, DatabaseDesc, TxnCatalog};
use crate::catalog_cache::CatalogCache;
use crate::copy::{self, CopyFormat, CopyParser};
use crate::ddl;
use crate::exec::{self, ExecCtx, ExecLimits, Row, SubqueryCache};
use crate::kv::{IsolationLevel, KvStore, KvTxn};
use crate::plan_cache::{CachedPlan, PlanSlot};
use crate::sequence::{Sequences, SessionSequences};

/// The PostgreSQL version Cairn reports (drivers choose their queries by it).
pub const SERVER_VERSION: &str = "15.0";

/// Settings of an [`Engine`] (the `cairn start` config file sets them; docs/operations.md).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineConfig {
    /// Automatic ANALYZE after enough changes (auto_analyze.rs).
    pub auto_analyze: AutoAnalyzeConfig,
}

/// Shared by every session of one server.
pub struct Engine {
    store: Arc<dyn KvStore>,
    pub limits: ExecLimits,
    pub sequences: Sequences,
    /// Per-table change counters (auto-analyze, `pg_stat_user_tables`).
    activity: Arc<Activity>,
    /// The background auto-analyze thread; stopped by [`Engine::stop_background`] or drop.
    auto_analyze: Worker,
    /// Decoded table descriptors of the current catalog generation.
    catalog_cache: CatalogCache,
    /// Whether the `postgres` database and role are known to exist.
    bootstrapped: std::sync::atomic::AtomicBool,
}

impl Engine {
    /// Opens the engine over a store, creating the `postgres` database and role if the store
    /// is empty.
    pub fn new(store: Arc<dyn KvStore>) -> Result<Arc<Engine>> {
        Self::with_config(store, EngineConfig::default())
    }

    /// [`Engine::new`] with explicit settings.
    pub fn with_config(store: Arc<dyn KvStore>, config: EngineConfig) -> Result<Arc<Engine>> {
        let engine = Self::deferred(store, config)?;
        engine.ensure_bootstrapped()?;
        Ok(engine)
    }

    /// [`Engine::with_config`] without touching the store: the `postgres` database and role
    /// are created by the first session instead (a cluster node's store may not serve yet).
    pub fn deferred(store: Arc<dyn KvStore>, config: EngineConfig) -> Result<Arc<Engine>> {
        let sequences = Sequences::new(store.clone());
        let activity = Arc::new(Activity::new(config.auto_analyze));
        let auto_analyze = Worker::start(store.clone(), activity.clone())
            .map_err(|e| SqlError::internal(format!("start the auto-analyze thread: {e}")))?;
        let engine = Arc::new(Engine {
            store,
            limits: ExecLimits::default(),
            sequences,
            activity,
            auto_analyze,
            catalog_cache: CatalogCache::new(),
            bootstrapped: std::sync::atomic::AtomicBool::new(false),
        });
        Ok(engine)
    }

    /// Creates the `postgres` database and role unless this engine saw them already.
    pub fn ensure_bootstrapped(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if !self.bootstrapped.load(Ordering::Acquire) {
            self.with_txn(|txn| catalog::bootstrap(txn).map(|_| ()))?;
            self.bootstrapped.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Stops background work (the auto-analyze thread) and waits for it; call before closing
    /// the store. Dropping the engine does the same.
    pub fn stop_background(&self) {
        self.auto_analyze.stop();
    }

    /// Per-table change counters and analyze times of this node.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// The shared table-descriptor cache.
    pub fn catalog_cache(&self) -> &CatalogCache {
        &self.catalog_cache
    }

    /// Runs `f` in a fresh SERIALIZABLE transaction and commits it, retrying serialization
    /// failures a few times (used for bootstrap and session setup, never for user SQL).
    fn with_txn<T>(&self, mut f: impl FnMut(&mut dyn KvTxn) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            let mut txn = self.store.begin(IsolationLevel::Serializable, false)?;
            let r = f(&mut *txn).and_then(|v| txn.commit().map(|_| v));
            match r {
                Err(e) if e.is_retryable() && attempt < 20 => attempt += 1,
                other => return other,
            }
        }
    }

    /// Opens a session for `user` on `database` (3D000 if it does not exist).
    pub fn open_session(self: &Arc<Self>, user: &str, database: &str) -> Result<Session> {
        self.ensure_bootstrapped()?;
        let db = self
            .with_txn(|txn| catalog::database(txn, database))?
            .ok_or_else(|| {
                SqlError::new(
                    code::UNDEFINED_DATABASE,
                    format!("database \"{database}\" does not exist"),
                )
            })?;
        Ok(Session::new(self.clone(), user.to_string(), db))
    }

    /// The SCRAM verifier stored for `user`, if the role exists and has a password.
    pub fn role(&self, user: &str) -> Result<Option<catalog::RoleDesc>> {
        self.with_txn(|txn| catalog::role(txn, user))
    }

    /// Creates or updates a role (used by `cairn start --password`).
    pub fn set_role(&self, role: catalog::RoleDesc) -> Result<()> {
        self.with_txn(|txn| catalog::write_role(txn, &role))
    }
}

/// The status byte of ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    Idle,
    InBlock,
    Failed,
}

/// What one statement produced.
#[derive(Debug)]
pub enum ExecResult {
    /// Rows, with the command tag to send after them ("SELECT 3", "INSERT 0 2", ...).
    Rows {
        columns: Vec<OutputColumn>,
        rows: Vec<Row>,
        tag: String,
    },
    Command {
        tag: String,
    },
    /// The empty query.
    Empty,
    /// `COPY ... FROM STDIN` started: the client now sends data ([`Session::copy_data`]).
    CopyIn {
        columns: usize,
    },
    /// `COPY ... TO STDOUT`: the formatted rows (each with its newline; a header line counts
    /// as a row here, as each is one CopyData message) and the data row count.
    CopyOut {
        columns: usize,
        data: Vec<Vec<u8>>,
        rows: u64,
    },
}

/// An open `COPY ... FROM STDIN`.
struct CopyIn {
    table: Arc<TableDef>,
    targets: Vec<usize>,
    defaults: Vec<(usize, Expr)>,
    parser: CopyParser,
    pending: Vec<Row>,
    count: u64,
    /// The COPY's own transaction when it runs outside a block.
    txn: Option<Box<dyn KvTxn>>,
}

/// Rows buffered before a COPY writes them.
const COPY_BATCH_ROWS: usize = 1024;

fn copy_format(
    options: &[ast::CopyOption],
    legacy: &[ast::CopyLegacyOption],
) -> Result<CopyFormat> {
    let mut f = CopyFormat::text();
    let mut explicit_delim = None;
    let mut explicit_null = None;
    let mut header = false;
    let mut quote = None;
    let mut escape = None;
    for o in options {
        match o {
            ast::CopyOption::Format(name) => match name.value.to_lowercase().as_str() {
                "text" => f = CopyFormat::text(),
                "csv" => f = CopyFormat::csv(),
                other => return Err(SqlError::not_supported(format!("COPY format {other}"))),
            },
            ast::CopyOption::Freeze(_) | ast::CopyOption::Encoding(_) => {}
            ast::CopyOption::Delimiter(c) => explicit_delim = Some(*c),
            ast::CopyOption::Null(n) => explicit_null = Some(n.clone()),
            ast::CopyOption::Header(h) => header = *h,
            ast::CopyOption::Quote(c) => quote = Some(*c),
            ast::CopyOption::Escape(c) => escape = Some(*c),
            other => return Err(SqlError::not_supported(format!("COPY option {other}"))),
        }
    }
    for o in legacy {
        match o {
            ast::CopyLegacyOption::Csv(opts) => {
                f = CopyFormat::csv();
                for c in opts {
                    match c {
                        ast::CopyLegacyCsvOption::Header => header = true,
                        ast::CopyLegacyCsvOption::Quote(q) => quote = Some(*q),
                        ast::CopyLegacyCsvOption::Escape(e) => escape = Some(*e),
                        other => {
                            return Err(SqlError::not_supported(format!("COPY option {other}")))
                        }
                    }
                }
            }
            ast::CopyLegacyOption::Delimiter(c) => explicit_delim = Some(*c),
            ast::CopyLegacyOption::Null(n) => explicit_null = Some(n.clone()),
            ast::CopyLegacyOption::Header => header = true,
            ast::CopyLegacyOption::Binary => return Err(SqlError::not_supported("COPY BINARY")),
            other => return Err(SqlError::not_supported(format!("COPY option {other}"))),
        }
    }
    let byte = |c: char| -> Result<u8> {
        u8::try_from(c as u32)
            .ok()
            .filter(|b| b.is_ascii())
            .ok_or_else(|| {
                SqlError::new(
                    code::FEATURE_NOT_SUPPORTED,
                    "COPY delimiter, quote and escape must be single one-byte characters",
                )
            })
    };
    if let Some(d) = explicit_delim {
        f.delimiter = byte(d)?;
    }
    if let Some(n) = explicit_null {
        f.null = n;
    }
    if let Some(q) = quote {
        f.quote = byte(q)?;
        if escape.is_none() {
            f.escape = f.quote;
        }
    }
    if let Some(e) = escape {
        f.escape = byte(e)?;
    }
    if header && !f.csv {
        return Err(SqlError::not_supported("COPY HEADER in text format"));
    }
    f.header = header;
    Ok(f)
}

/// A parsed (and, for queries and DML, bound) statement, as the extended protocol keeps it.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub statement: Option<ast::Statement>,
    pub param_types: Vec<DataType>,
    /// Result columns, or `None` for statements that return no rows. Fixed at Parse: an
    /// execution whose binding gives other columns fails (plan_cache.rs).
    pub columns: Option<Vec<OutputColumn>>,
    /// The plan of the last execution, for the next one.
    pub plan: PlanSlot,
}

/// Statements that read the catalog but never change it: the ones that may use the caches
/// (invariant 3). Anything else marks its block `catalog_dirty`.
fn reads_catalog_only(stmt: &ast::Statement) -> bool {
    use ast::Statement as S;
    matches!(
        stmt,
        S::Query(_)
            | S::Insert(_)
            | S::Update(_)
            | S::Delete(_)
            | S::Explain { .. }
            | S::ShowVariable { .. }
            | S::Set(_)
            | S::Copy { .. }
            | S::Deallocate { .. }
    )
}

/// EXPLAIN's result: one text column of plan lines.
fn explain_columns() -> Vec<OutputColumn> {
    vec![OutputColumn::new("QUERY PLAN", DataType::Text)]
}

/// PostgreSQL's test for a cached plan's result (`equalTupleDescs` in PostgreSQL 15): the
/// same column names and types.
fn same_result_shape(a: Option<&[OutputColumn]>, b: Option<&[OutputColumn]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.name == y.name && x.ty == y.ty)
        }
        _ => false,
    }
}

/// The result columns a bound statement returns (`None`: no rows).
fn result_columns(b: &Bound) -> Option<&[OutputColumn]> {
    match b {
        Bound::Query { columns, .. } => Some(columns),
        Bound::Insert { returning, .. }
        | Bound::Update { returning, .. }
        | Bound::Delete { returning, .. } => returning.as_ref().map(|(_, c)| c.as_slice()),
    }
}

struct Block {
    txn: Box<dyn KvTxn>,
    failed: bool,
    /// The open savepoints, oldest first; index = the KV savepoint's depth.
    savepoints: Vec<SavepointMark>,
    /// The session's settings when the block began: ROLLBACK puts them back.
    settings_at_begin: BTreeMap<String, String>,
    /// Settings changed by session-scope SET in this block: COMMIT keeps them (over
    /// `settings_at_begin`), while SET LOCAL changes end with the block.
    session_sets: BTreeMap<String, String>,
    /// A statement that may change the catalog ran in this block: no caches until it ends
    /// (invariant 3).
    catalog_dirty: bool,
}

/// A savepoint's name and the settings to go back to at ROLLBACK TO it.
struct SavepointMark {
    name: String,
    settings: BTreeMap<String, String>,
    session_sets: BTreeMap<String, String>,
}

impl Block {
    fn new(txn: Box<dyn KvTxn>, settings: &BTreeMap<String, String>) -> Block {
        Block {
            txn,
            failed: false,
            savepoints: Vec::new(),
            settings_at_begin: settings.clone(),
            session_sets: BTreeMap::new(),
            catalog_dirty: false,
        }
    }

    /// The newest open savepoint called `name`.
    fn find_savepoint(&self, name: &str) -> Result<usize> {
        self.savepoints
            .iter()
            .rposition(|m| m.name == name)
            .ok_or_else(|| {
                SqlError::new(
                    code::INVALID_SAVEPOINT_SPECIFICATION,
                    format!("savepoint \"{name}\" does not exist"),
                )
            })
    }
}

/// Settings reported to clients with ParameterStatus when they change.
const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "datestyle",
    "intervalstyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "timezone",
    "integer_datetimes",
];

fn default_settings(user: &str) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    for (k, v) in [
        ("application_name", ""),
        ("client_encoding", "UTF8"),
        ("datestyle", "ISO, MDY"),
        ("default_transaction_isolation", "serializable"),
        ("default_transaction_read_only", "off"),
        ("extra_float_digits", "1"),
        ("integer_datetimes", "on"),
        ("intervalstyle", "postgres"),
        ("is_superuser", "on"),
        ("lock_timeout", "0"),
        ("max_identifier_length", "63"),
        ("search_path", "\"$user\", public"),
        ("server_encoding", "UTF8"),
        ("server_version", SERVER_VERSION),
        ("server_version_num", "150000"),
        ("standard_conforming_strings", "on"),
        ("statement_timeout", "0"),
        ("timezone", "UTC"),
        ("transaction_isolation", "serializable"),
        ("transaction_read_only", "off"),
    ] {
        s.insert(k.to_string(), v.to_string());
    }
    s.insert("session_authorization".into(), user.to_string());
    s
}

/// The name a setting is reported under (PostgreSQL's capitalisation).
fn display_name(name: &str) -> String {
    match name {
        "datestyle" => "DateStyle".into(),
        "intervalstyle" => "IntervalStyle".into(),
        "timezone" => "TimeZone".into(),
        other => other.to_string(),
    }
}

fn isolation_name(i: IsolationLevel) -> &'static str {
    match i {
        IsolationLevel::ReadCommitted => "read committed",
        IsolationLevel::Snapshot => "repeatable read",
        IsolationLevel::Serializable => "serializable",
    }
}

fn parse_isolation(s: &str) -> Result<IsolationLevel> {
    match s.trim().to_lowercase().as_str() {
        "read committed" | "read uncommitted" => Ok(IsolationLevel::ReadCommitted),
        "repeatable read" | "snapshot" => Ok(IsolationLevel::Snapshot),
        "serializable" => Ok(IsolationLevel::Serializable),
        other => Err(SqlError::new(
            code::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"transaction_isolation\": \"{other}\""),
        )),
    }
}

pub struct Session {
    engine: Arc<Engine>,
    user: String,
    db: DatabaseDesc,
    block: Option<Block>,
    batch: VecDeque<ast::Statement>,
    batch_was_empty: bool,
    settings: BTreeMap<String, String>,
    /// Isolation for the next transaction (SET TRANSACTION before BEGIN's first statement).
    block_isolation: Option<IsolationLevel>,
    parameter_changes: Vec<(String, String)>,
    notices: Vec<String>,
    copy: Option<CopyIn>,
    seq_state: RefCell<SessionSequences>,
    /// Prepared statements dropped by SQL DEALLOCATE (`None` = all), for the protocol layer.
    deallocations: Vec<Option<String>>,
    /// Rows changed by the open transaction, `(table id, change, rows)`: handed to the
    /// auto-analyze counters when the transaction ends, so the worker never analyses a
    /// snapshot that lacks the changes that woke it (and then overwrites a later ANALYZE).
    pending_activity: RefCell<Vec<(u32, Change, u64)>>,
}

struct Info<'a> {
    user: &'a str,
    db: &'a str,
    settings: &'a BTreeMap<String, String>,
}

impl SessionInfo for Info<'_> {
    fn current_database(&self) -> String {
        self.db.to_string()
    }
    fn current_user(&self) -> String {
        self.user.to_string()
    }
    fn server_version(&self) -> String {
        SERVER_VERSION.to_string()
    }
    fn settings(&self) -> Vec<(String, String)> {
        self.settings
            .iter()
            .map(|(k, v)| (display_name(k), v.clone()))
            .collect()
    }
}

impl Session {
    fn new(engine: Arc<Engine>, user: String, db: DatabaseDesc) -> Session {
        let settings = default_settings(&user);
        Session {
            engine,
            user,
            db,
            block: None,
            batch: VecDeque::new(),
            batch_was_empty: false,
            settings,
            block_isolation: None,
            parameter_changes: Vec::new(),
            notices: Vec::new(),
            copy: None,
            seq_state: RefCell::new(SessionSequences::default()),
            deallocations: Vec::new(),
            pending_activity: RefCell::new(Vec::new()),
        }
    }

    pub fn database(&self) -> &str {
        &self.db.name
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// Settings to report with ParameterStatus at startup (name, value).
    pub fn reported_settings(&self) -> Vec<(String, String)> {
        REPORTED
            .iter()
            .filter_map(|k| self.settings.get(*k).map(|v| (display_name(k), v.clone())))
            .collect()
    }

    pub fn status(&self) -> TxStatus {
        match &self.block {
            None => TxStatus::Idle,
            Some(b) if b.failed => TxStatus::Failed,
            Some(_) => TxStatus::InBlock,
        }
    }

    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.parameter_changes)
    }

    pub fn take_deallocations(&mut self) -> Vec<Option<String>> {
        std::mem::take(&mut self.deallocations)
    }

    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// The open transaction ended (committed or not: rolled-back changes count too, as
    /// auto_analyze.rs documents): its changes reach the auto-analyze counters.
    fn flush_activity(&self) {
        for (table_id, change, rows) in self.pending_activity.borrow_mut().drain(..) {
            self.engine
                .activity
                .note(self.db.id, table_id, change, rows);
        }
    }

    /// The protocol layer saw an error the session did not produce: a block becomes failed.
    pub fn fail_block(&mut self) {
        // An unfinished COPY is abandoned: its own transaction (if any) rolls back on drop.
        self.copy = None;
        if let Some(b) = &mut self.block {
            b.failed = true;
            // The statement failed already; a late error of its writes adds nothing.
            let _ = b.txn.end_statement();
        }
    }

    /// CopyData of a `COPY ... FROM STDIN`.
    pub fn copy_data(&mut self, data: &[u8]) -> Result<()> {
        let r = self.copy_data_inner(data);
        if r.is_err() {
            self.fail_block();
        }
        r
    }

    fn copy_data_inner(&mut self, data: &[u8]) -> Result<()> {
        let mut c = self
            .copy
            .take()
            .ok_or_else(|| SqlError::new(code::PROTOCOL_VIOLATION, "no COPY in progress"))?;
        let rows = c.parser.feed(data)?;
        self.copy_rows(&mut c, rows)?;
        if c.pending.len() >= COPY_BATCH_ROWS {
            self.copy_flush(&mut c)?;
        }
        self.copy = Some(c);
        Ok(())
    }

    /// CopyDone: writes what is left and returns the `COPY n` tag.
    pub fn copy_done(&mut self) -> Result<ExecResult> {
        let r = self.copy_done_inner();
        if r.is_err() {
            self.fail_block();
        }
        r
    }

    fn copy_done_inner(&mut self) -> Result<ExecResult> {
        let mut c = self
            .copy
            .take()
            .ok_or_else(|| SqlError::new(code::PROTOCOL_VIOLATION, "no COPY in progress"))?;
        let rows = c.parser.finish()?;
        self.copy_rows(&mut c, rows)?;
        self.copy_flush(&mut c)?;
        if let Some(mut txn) = c.txn.take() {
            let r = txn.commit();
            self.flush_activity();
            r?;
        } else if let Some(b) = self.block.as_mut() {
            b.txn.end_statement()?;
        }
        Ok(ExecResult::Command {
            tag: format!("COPY {}", c.count),
        })
    }

    fn copy_rows(&self, c: &mut CopyIn, rows: Vec<Vec<Option<String>>>) -> Result<()> {
        for fields in rows {
            if fields.len() != c.targets.len() {
                let msg = if fields.len() > c.targets.len() {
                    "extra data after last expected column".to_string()
                } else {
                    let missing = &c.table.columns[c.targets[fields.len()]].name;
                    format!("missing data for column \"{missing}\"")
                };
                return Err(SqlError::new("22P04", msg).with_detail(format!(
                    "COPY {}, line {}",
                    c.table.name,
                    c.count + c.pending.len() as u64 + 1
                )));
            }
            let mut row = Vec::with_capacity(fields.len());
            for (f, &ti) in fields.into_iter().zip(&c.targets) {
                row.push(match f {
                    None => Value::Null,
                    Some(s) => cairn_sql_plan::types::parse_text(&s, &c.table.columns[ti].ty)?,
                });
            }
            c.pending.push(row);
        }
        Ok(())
    }

    fn copy_flush(&mut self, c: &mut CopyIn) -> Result<()> {
        if c.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut c.pending);
        let n = rows.len() as u64;
        let schema = c
            .targets
            .iter()
            .map(|i| {
                OutputColumn::new(
                    c.table.columns[*i].name.clone(),
                    c.table.columns[*i].ty.clone(),
                )
            })
            .collect();
        let bound = Bound::Insert {
            table: c.table.clone(),
            source: Plan::Rows { rows, schema },
            targets: c.targets.clone(),
            defaults: c.defaults.clone(),
            on_conflict: OnConflict::Error,
            returning: None,
        };
        let info = Info {
            user: &self.user,
            db: &self.db.name,
            settings: &self.settings,
        };
        let limits = self.engine.limits;
        let run = |txn: &mut dyn KvTxn| -> Result<()> {
            let cell = RefCell::new(txn);
            let cache = SubqueryCache::default();
            let cx = ExecCtx {
                txn: &cell,
                params: &[],
                outer: &[],
                limits,
                session: &info,
                cache: &cache,
                sequences: &self.engine.sequences,
                seq_session: &self.seq_state,
                database_id: self.db.id,
                activity: &self.engine.activity,
            };
            exec::run_dml(&bound, &cx).map(|_| ())
        };
        match (&mut c.txn, &mut self.block) {
            (Some(t), _) => run(&mut **t)?,
            (None, Some(b)) => run(&mut *b.txn)?,
            (None, None) => return Err(SqlError::internal("COPY without a transaction")),
        }
        self.pending_activity
            .borrow_mut()
            .push((c.table.id, Change::Insert, n));
        c.count += n;
        Ok(())
    }

    /// Starts `COPY table [(cols)] FROM STDIN`.
    #[expect(
        clippy::type_complexity,
        reason = "a private helper's tuple of the COPY state parts"
    )]
    fn start_copy_in(
        &self,
        txn: &mut dyn KvTxn,
        table_name: &ast::ObjectName,
        columns: &[ast::Ident],
        fmt: CopyFormat,
    ) -> Result<(Arc<TableDef>, Vec<usize>, Vec<(usize, Expr)>, CopyParser)> {
        let (schema, name) = object_name(table_name)?;
        let cat = TxnCatalog::new(txn, self.db.id);
        let table = cat
            .table(schema.as_deref(), &name)?
            .ok_or_else(|| SqlError::undefined_table(&name))?;
        let targets: Vec<usize> = if columns.is_empty() {
            table.visible_columns().map(|(i, _)| i).collect()
        } else {
            let mut t = Vec::new();
            for c in columns {
                let n = ident_name(c);
                t.push(
                    table
                        .column_index(&n)
                        .filter(|i| !table.columns[*i].hidden)
                        .ok_or_else(|| {
                            SqlError::new(
                                code::UNDEFINED_COLUMN,
                                format!("column \"{n}\" of relation \"{name}\" does not exist"),
                            )
                        })?,
                );
            }
            t
        };
        let info = Info {
            user: &self.user,
            db: &self.db.name,
            settings: &self.settings,
        };
        let mut binder = Binder::new(&cat as &dyn Catalog, &info, Vec::new());
        let mut defaults = Vec::new();
        for (i, c) in table.columns.iter().enumerate() {
            if !targets.contains(&i) && !c.hidden {
                defaults.push((i, binder.default_expr(&table, i)?));
            }
        }
        Ok((table, targets, defaults, CopyParser::new(fmt)))
    }

    /// The client is gone: roll back whatever is open.
    pub fn terminate(&mut self) {
        if let Some(mut b) = self.block.take() {
            b.txn.rollback();
        }
        self.flush_activity();
        self.batch.clear();
    }

    // ----- simple query -----

    /// Parses a simple-query string; its statements then run one per [`Self::next_in_batch`].
    pub fn start_batch(&mut self, sql: &str) -> Result<()> {
        self.batch.clear();
        let stmts = cairn_sql_plan::parse(sql);
        match stmts {
            Ok(s) => {
                self.batch_was_empty = s.is_empty();
                self.batch = s.into();
                Ok(())
            }
            Err(e) => {
                self.fail_block();
                Err(e)
            }
        }
    }

    /// Runs the next statement of the batch; `None` when the batch is done. After an error
    /// the rest of the batch is dropped, as PostgreSQL does.
    pub fn next_in_batch(&mut self) -> Option<Result<ExecResult>> {
        if self.batch_was_empty {
            self.batch_was_empty = false;
            return Some(Ok(ExecResult::Empty));
        }
        let stmt = self.batch.pop_front()?;
        let r = self.run_statement(&stmt, &[], &[], None);
        if r.is_err() {
            self.batch.clear();
        }
        Some(r)
    }

    // ----- extended protocol -----

    /// Parse: one statement (or none), its parameter types (`hints[i]` = client-declared OID
    /// or 0) and result columns, without running it.
    pub fn prepare(&mut self, sql: &str, hints: &[u32]) -> Result<Prepared> {
        let mut stmts = cairn_sql_plan::parse(sql)?;
        if stmts.len() > 1 {
            return Err(SqlError::syntax(
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(stmt) = stmts.pop() else {
            return Ok(Prepared {
                statement: None,
                param_types: Vec::new(),
                columns: None,
                plan: PlanSlot::default(),
            });
        };
        let mut hint_types = Vec::with_capacity(hints.len());
        for &h in hints {
            hint_types.push(if h == 0 {
                DataType::Unknown
            } else {
                DataType::from_oid(h).ok_or_else(|| {
                    SqlError::new(
                        code::UNDEFINED_OBJECT,
                        format!("type with OID {h} does not exist"),
                    )
                })?
            });
        }
        match &stmt {
            ast::Statement::Query(_)
            | ast::Statement::Insert(_)
            | ast::Statement::Update(_)
            | ast::Statement::Delete(_) => {
                let (bound, params) = self.with_read_txn(|s, txn, cached| {
                    s.bind(txn, &stmt, hint_types.clone(), cached)
                })?;
                let columns = match &bound {
                    Bound::Query { columns, .. } => Some(columns.clone()),
                    Bound::Insert { returning, .. }
                    | Bound::Update { returning, .. }
                    | Bound::Delete { returning, .. } => returning.as_ref().map(|(_, c)| c.clone()),
                };
                Ok(Prepared {
                    statement: Some(stmt),
                    param_types: params,
                    columns,
                    plan: PlanSlot::default(),
                })
            }
            ast::Statement::Explain { statement, .. } => {
                // The parameters are the explained statement's; the result is the plan text.
                let params = match statement.as_ref() {
                    ast::Statement::Query(_)
                    | ast::Statement::Insert(_)
                    | ast::Statement::Update(_)
                    | ast::Statement::Delete(_) => {
                        self.with_read_txn(|s, txn, cached| {
                            s.bind(txn, statement, hint_types.clone(), cached)
                        })?
                        .1
                    }
                    _ => hint_types.iter().map(|_| DataType::Text).collect(),
                };
                Ok(Prepared {
                    statement: Some(stmt),
                    param_types: params,
                    columns: Some(explain_columns()),
                    plan: PlanSlot::default(),
                })
            }
            ast::Statement::ShowVariable { variable } => {
                let name = show_name(variable);
                Ok(Prepared {
                    statement: Some(stmt),
                    param_types: Vec::new(),
                    columns: Some(vec![OutputColumn::new(name, DataType::Text)]),
                    plan: PlanSlot::default(),
                })
            }
            _ => Ok(Prepared {
                statement: Some(stmt),
                param_types: hint_types.iter().map(|_| DataType::Text).collect(),
                columns: None,
                plan: PlanSlot::default(),
            }),
        }
    }

    /// Execute of a bound portal: `params` already decoded to `prepared.param_types`.
    pub fn execute_prepared(
        &mut self,
        prepared: &Prepared,
        params: &[Value],
    ) -> Result<ExecResult> {
        let Some(stmt) = &prepared.statement else {
            return Ok(ExecResult::Empty);
        };
        if params.len() != prepared.param_types.len() {
            return Err(SqlError::new(
                code::PROTOCOL_VIOLATION,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    params.len(),
                    prepared.param_types.len()
                ),
            ));
        }
        self.run_statement(stmt, params, &prepared.param_types, Some(prepared))
    }

    /// Runs `f` with the block's transaction, or a fresh one rolled back afterwards; the
    /// flag says whether that transaction may use the caches (invariant 3).
    fn with_read_txn<T>(
        &mut self,
        f: impl FnOnce(&Session, &mut dyn KvTxn, bool) -> Result<T>,
    ) -> Result<T> {
        if let Some(mut b) = self.block.take() {
            let r = f(self, &mut *b.txn, !b.catalog_dirty);
            self.block = Some(b);
            return r;
        }
        let mut txn = self.engine.store.begin(IsolationLevel::Snapshot, true)?;
        let r = f(self, &mut *txn, true);
        txn.rollback();
        r
    }

    /// Binds a query or DML statement, through the descriptor cache if `cached`.
    fn bind(
        &self,
        txn: &mut dyn KvTxn,
        stmt: &ast::Statement,
        hints: Vec<DataType>,
        cached: bool,
    ) -> Result<(Bound, Vec<DataType>)> {
        let cat = if cached {
            TxnCatalog::with_cache(txn, self.db.id, &self.engine.catalog_cache, None)
        } else {
            TxnCatalog::new(txn, self.db.id)
        };
        self.bind_in(&cat, stmt, hints)
    }

    fn bind_in(
        &self,
        cat: &TxnCatalog<'_>,
        stmt: &ast::Statement,
        hints: Vec<DataType>,
    ) -> Result<(Bound, Vec<DataType>)> {
        let info = Info {
            user: &self.user,
            db: &self.db.name,
            settings: &self.settings,
        };
        let mut binder = Binder::new(cat as &dyn Catalog, &info, hints);
        let bound = binder.bind_statement(stmt)?;
        Ok((bound, binder.param_types()))
    }

    /// The optimised plan of a query or DML statement: from the prepared statement's slot if
    /// it holds one for this catalog generation and these settings, else bound now (and then
    /// stored in the slot). A prepared statement whose result columns changed since Parse
    /// fails with 0A000, as in PostgreSQL.
    fn plan_for(
        &self,
        txn: &mut dyn KvTxn,
        stmt: &ast::Statement,
        param_types: &[DataType],
        prepared: Option<&Prepared>,
        cached: bool,
    ) -> Result<Arc<Bound>> {
        let (bound, reads, generation) = if cached {
            let generation = catalog::generation(txn)?;
            let stats_generation = catalog::stats_generation(txn)?;
            let generations = (generation, stats_generation);
            if let Some(p) = prepared.and_then(|p| p.plan.get(generations, &self.settings)) {
                // plan_cache.rs invariant 2.
                for k in &p.read_keys {
                    txn.track_read(k)?;
                }
                return Ok(p.bound.clone());
            }
            let cat = TxnCatalog::with_cache(
                txn,
                self.db.id,
                &self.engine.catalog_cache,
                Some(generation),
            );
            let cat = if prepared.is_some() {
                cat.recording()
            } else {
                cat
            };
            let (bound, _) = self.bind_in(&cat, stmt, param_types.to_vec())?;
            (bound, cat.take_reads(), Some(generations))
        } else {
            (
                self.bind(txn, stmt, param_types.to_vec(), false)?.0,
                None,
                None,
            )
        };
        if let Some(p) = prepared {
            if !same_result_shape(result_columns(&bound), p.columns.as_deref()) {
                return Err(SqlError::new(
                    code::FEATURE_NOT_SUPPORTED,
                    "cached plan must not change result type",
                ));
            }
        }
        let bound = Arc::new(optimize_bound(bound, txn));
        if let (Some(p), Some(read_keys), Some((generation, stats_generation))) =
            (prepared, reads, generation)
        {
            // At READ COMMITTED each read takes a fresh snapshot: the plan is the generations'
            // only if no catalog or statistics change committed while it was bound.
            if txn.isolation() != IsolationLevel::ReadCommitted
                || (catalog::generation(txn)?, catalog::stats_generation(txn)?)
                    == (generation, stats_generation)
            {
                p.plan.set(CachedPlan {
                    catalog_generation: generation,
                    stats_generation,
                    settings: self.settings.clone(),
                    bound: bound.clone(),
                    read_keys,
                });
            }
        }
        Ok(bound)
    }

    // ----- statements -----

    fn default_isolation(&self) -> Result<IsolationLevel> {
        parse_isolation(
            self.settings
                .get("default_transaction_isolation")
                .map(String::as_str)
                .unwrap_or("serializable"),
        )
    }

    fn run_statement(
        &mut self,
        stmt: &ast::Statement,
        params: &[Value],
        param_types: &[DataType],
        prepared: Option<&Prepared>,
    ) -> Result<ExecResult> {
        use ast::Statement as S;
        // Transaction control first: it works in a failed block too.
        match stmt {
            S::StartTransaction { modes, begin, .. } => {
                if self.block.is_some() {
                    self.notices
                        .push("there is already a transaction in progress".into());
                    return Ok(ExecResult::Command {
                        tag: if *begin { "BEGIN" } else { "START TRANSACTION" }.into(),
                    });
                }
                let mut iso = self.default_isolation()?;
                let mut read_only = false;
                for m in modes {
                    match m {
                        ast::TransactionMode::IsolationLevel(l) => iso = map_isolation(l)?,
                        ast::TransactionMode::AccessMode(a) => {
                            read_only = matches!(a, ast::TransactionAccessMode::ReadOnly)
                        }
                    }
                }
                let txn = self.engine.store.begin(iso, read_only)?;
                self.block = Some(Block::new(txn, &self.settings));
                self.block_isolation = Some(iso);
                self.settings
                    .insert("transaction_isolation".into(), isolation_name(iso).into());
                return Ok(ExecResult::Command {
                    tag: if *begin { "BEGIN" } else { "START TRANSACTION" }.into(),
                });
            }
            S::Commit { chain, .. } => {
                if *chain {
                    return Err(SqlError::not_supported("COMMIT AND CHAIN"));
                }
                return self.finish_block(true);
            }
            S::Rollback { chain, savepoint } => {
                if *chain {
                    return Err(SqlError::not_supported("ROLLBACK AND CHAIN"));
                }
                if let Some(name) = savepoint {
                    return self.rollback_to_savepoint(&ident_name(name));
                }
                return self.finish_block(false);
            }
            S::Savepoint { name } => return self.savepoint(ident_name(name)),
            S::ReleaseSavepoint { name } => return self.release_savepoint(&ident_name(name)),
            _ => {}
        }
        if let Some(b) = &self.block {
            if b.failed {
                return Err(SqlError::new(
                    code::IN_FAILED_SQL_TRANSACTION,
                    "current transaction is aborted, commands ignored until end of transaction block",
                ));
            }
        }
        let r = self.run_in_transaction(stmt, params, param_types, prepared);
        if r.is_err() {
            self.fail_block();
        }
        r
    }

    /// The open transaction block for a savepoint command, or PostgreSQL's errors: 25P01
    /// outside a block, 25P02 in a failed one (unless `in_failed` is allowed, as for ROLLBACK
    /// TO).
    fn savepoint_block(&mut self, what: &str, in_failed: bool) -> Result<&mut Block> {
        let Some(b) = self.block.as_mut() else {
            return Err(SqlError::new(
                code::NO_ACTIVE_SQL_TRANSACTION,
                format!("{what} can only be used in transaction blocks"),
            ));
        };
        if b.failed && !in_failed {
            return Err(SqlError::new(
                code::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        Ok(b)
    }

    fn savepoint(&mut self, name: String) -> Result<ExecResult> {
        let settings = self.settings.clone();
        let b = self.savepoint_block("SAVEPOINT", false)?;
        let r = b.txn.savepoint();
        match r {
            Ok(()) => {
                let session_sets = b.session_sets.clone();
                b.savepoints.push(SavepointMark {
                    name,
                    settings,
                    session_sets,
                });
                Ok(ExecResult::Command {
                    tag: "SAVEPOINT".into(),
                })
            }
            Err(e) => {
                self.fail_block();
                Err(e)
            }
        }
    }

    /// `ROLLBACK TO [SAVEPOINT] name`: undoes the writes since the savepoint, keeps it open,
    /// and leaves a failed block usable again. A transaction the KV layer has ended (a
    /// serialization failure or deadlock) cannot be resumed: that is 25P02 and the block stays
    /// failed.
    fn rollback_to_savepoint(&mut self, name: &str) -> Result<ExecResult> {
        let b = self.savepoint_block("ROLLBACK TO SAVEPOINT", true)?;
        let r = b.find_savepoint(name).and_then(|depth| {
            b.txn.rollback_to_savepoint(depth)?;
            Ok(depth)
        });
        match r {
            Ok(depth) => {
                b.savepoints.truncate(depth + 1);
                b.failed = false;
                let mark = b
                    .savepoints
                    .last()
                    .map(|m| (m.settings.clone(), m.session_sets.clone()));
                if let Some((mut settings, session_sets)) = mark {
                    b.session_sets = session_sets;
                    // The block's isolation is not a savepoint's to undo.
                    if let Some(iso) = self.settings.get("transaction_isolation") {
                        settings.insert("transaction_isolation".into(), iso.clone());
                    }
                    self.replace_settings(settings);
                }
                // An unfinished COPY belonged to the undone part.
                self.copy = None;
                Ok(ExecResult::Command {
                    tag: "ROLLBACK".into(),
                })
            }
            Err(e) => {
                self.fail_block();
                Err(e)
            }
        }
    }

    fn release_savepoint(&mut self, name: &str) -> Result<ExecResult> {
        let b = self.savepoint_block("RELEASE SAVEPOINT", false)?;
        let r = b.find_savepoint(name).and_then(|depth| {
            b.txn.release_savepoint(depth)?;
            Ok(depth)
        });
        match r {
            Ok(depth) => {
                b.savepoints.truncate(depth);
                Ok(ExecResult::Command {
                    tag: "RELEASE".into(),
                })
            }
            Err(e) => {
                self.fail_block();
                Err(e)
            }
        }
    }

    fn finish_block(&mut self, commit: bool) -> Result<ExecResult> {
        let Some(mut b) = self.block.take() else {
            self.notices
                .push("there is no transaction in progress".into());
            return Ok(ExecResult::Command {
                tag: if commit { "COMMIT" } else { "ROLLBACK" }.into(),
            });
        };
        // Settings: a committed block keeps its session-scope SETs, a rolled-back one
        // keeps none, and SET LOCAL ends with the block either way (PostgreSQL).
        let mut settings = std::mem::take(&mut b.settings_at_begin);
        if commit && !b.failed {
            settings.extend(std::mem::take(&mut b.session_sets));
        }
        self.replace_settings(settings);
        self.restore_isolation_setting();
        if commit && !b.failed {
            let r = b.txn.commit();
            self.flush_activity();
            r?;
            Ok(ExecResult::Command {
                tag: "COMMIT".into(),
            })
        } else {
            b.txn.rollback();
            self.flush_activity();
            Ok(ExecResult::Command {
                tag: "ROLLBACK".into(),
            })
        }
    }

    fn restore_isolation_setting(&mut self) {
        self.block_isolation = None;
        let d = self
            .settings
            .get("default_transaction_isolation")
            .cloned()
            .unwrap_or_else(|| "serializable".into());
        self.settings.insert("transaction_isolation".into(), d);
    }

    /// Runs a non-transaction-control statement in the block's transaction, or in its own
    /// autocommit transaction.
    fn run_in_transaction(
        &mut self,
        stmt: &ast::Statement,
        params: &[Value],
        param_types: &[DataType],
        prepared: Option<&Prepared>,
    ) -> Result<ExecResult> {
        use ast::Statement as S;
        // Statements that do not touch the store.
        match stmt {
            S::Set(set) => return self.set(set),
            S::ShowVariable { variable } => {
                let name = show_name(variable);
                let key = name.to_lowercase();
                let value = self.settings.get(&key).cloned().ok_or_else(|| {
                    SqlError::new(
                        code::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{name}\""),
                    )
                })?;
                return Ok(ExecResult::Rows {
                    columns: vec![OutputColumn::new(key, DataType::Text)],
                    rows: vec![vec![Value::Text(value)]],
                    tag: "SHOW".into(),
                });
            }
            S::CreateDatabase {
                db_name,
                if_not_exists,
                ..
            } => {
                if self.block.is_some() {
                    return Err(SqlError::new(
                        code::ACTIVE_SQL_TRANSACTION,
                        "CREATE DATABASE cannot run inside a transaction block",
                    ));
                }
                let name = object_name(db_name)?.1;
                let owner = self.user.clone();
                self.engine
                    .with_txn(|txn| ddl::create_database(txn, &name, &owner, *if_not_exists))?;
                return Ok(ExecResult::Command {
                    tag: "CREATE DATABASE".into(),
                });
            }
            S::Drop {
                object_type: ast::ObjectType::Database,
                if_exists,
                names,
                ..
            } => {
                if self.block.is_some() {
                    return Err(SqlError::new(
                        code::ACTIVE_SQL_TRANSACTION,
                        "DROP DATABASE cannot run inside a transaction block",
                    ));
                }
                for n in names {
                    let name = object_name(n)?.1;
                    let current = self.db.name.clone();
                    self.engine
                        .with_txn(|txn| ddl::drop_database(txn, &name, &current, *if_exists))?;
                }
                return Ok(ExecResult::Command {
                    tag: "DROP DATABASE".into(),
                });
            }
            S::Copy {
                source:
                    ast::CopySource::Table {
                        table_name,
                        columns,
                    },
                to: false,
                target: ast::CopyTarget::Stdin,
                options,
                legacy_options,
                ..
            } => {
                let fmt = copy_format(options, legacy_options)?;
                let (started, own) = match self.block.take() {
                    Some(mut b) => {
                        let r = self.start_copy_in(&mut *b.txn, table_name, columns, fmt);
                        self.block = Some(b);
                        (r, None)
                    }
                    None => {
                        let iso = self.default_isolation()?;
                        let mut t = self.engine.store.begin(iso, false)?;
                        let r = self.start_copy_in(&mut *t, table_name, columns, fmt);
                        (r, Some(t))
                    }
                };
                let (table, targets, defaults, parser) = started?;
                let columns = targets.len();
                self.copy = Some(CopyIn {
                    table,
                    targets,
                    defaults,
                    parser,
                    pending: Vec::new(),
                    count: 0,
                    txn: own,
                });
                return Ok(ExecResult::CopyIn { columns });
            }
            S::Copy { to: false, .. } => {
                return Err(SqlError::not_supported(
                    "COPY FROM a file or program (use FROM STDIN)",
                ))
            }
            S::Deallocate { name, .. } => {
                // The statements live in the protocol layer; it drops them when it takes
                // this list (`take_deallocations`).
                let all = name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all");
                self.deallocations
                    .push(if all { None } else { Some(ident_name(name)) });
                return Ok(ExecResult::Command {
                    tag: if all { "DEALLOCATE ALL" } else { "DEALLOCATE" }.into(),
                });
            }
            S::Vacuum(_) => {
                if self.block.is_some() {
                    return Err(SqlError::new(
                        code::ACTIVE_SQL_TRANSACTION,
                        "VACUUM cannot run inside a transaction block",
                    ));
                }
                return Ok(ExecResult::Command {
                    tag: "VACUUM".into(),
                });
            }
            S::Analyze(a) => {
                let stmt = AnalyzeStmt::from_ast(a)
                    .ok_or_else(|| SqlError::not_supported("this form of ANALYZE"))?;
                if stmt.vacuum && self.block.is_some() {
                    return Err(SqlError::new(
                        code::ACTIVE_SQL_TRANSACTION,
                        "VACUUM cannot run inside a transaction block",
                    ));
                }
                let mut notices = Vec::new();
                let r = match self.block.take() {
                    Some(mut b) => {
                        let r = b.txn.new_statement().and_then(|_| {
                            analyze::run(
                                &*self.engine.store,
                                &self.engine.activity,
                                Some(&mut *b.txn),
                                &self.db,
                                &stmt,
                                &mut notices,
                            )
                        });
                        let ended = b.txn.end_statement();
                        self.block = Some(b);
                        r.and_then(|v| ended.map(|()| v))
                    }
                    None => analyze::run(
                        &*self.engine.store,
                        &self.engine.activity,
                        None,
                        &self.db,
                        &stmt,
                        &mut notices,
                    ),
                };
                self.notices.extend(notices);
                r?;
                return Ok(ExecResult::Command {
                    tag: if stmt.vacuum { "VACUUM" } else { "ANALYZE" }.into(),
                });
            }
            S::Discard { .. } => {
                return Ok(ExecResult::Command {
                    tag: "DISCARD ALL".into(),
                })
            }
            _ => {}
        }
        let catalog_only = reads_catalog_only(stmt);
        match self.block.take() {
            Some(mut b) => {
                // Marked before it runs: a failed statement may have written part of its
                // change, and ROLLBACK TO can revive the block.
                b.catalog_dirty |= !catalog_only;
                let cached = !b.catalog_dirty;
                let r = b.txn.new_statement().and_then(|_| {
                    self.run_with(&mut *b.txn, stmt, params, param_types, prepared, cached)
                });
                let ended = b.txn.end_statement();
                self.block = Some(b);
                r.and_then(|v| ended.map(|()| v))
            }
            None => {
                let iso = self.default_isolation()?;
                let mut txn = self.engine.store.begin(iso, false)?;
                let r = self.run_with(&mut *txn, stmt, params, param_types, prepared, catalog_only);
                let r = match r {
                    Ok(v) => txn.commit().map(|()| v),
                    Err(e) => {
                        txn.rollback();
                        Err(e)
                    }
                };
                self.flush_activity();
                r
            }
        }
    }

    /// Runs an optimised query or DML statement with its parameter values.
    fn run_bound(
        &self,
        txn: &mut dyn KvTxn,
        bound: &Bound,
        params: &[Value],
    ) -> Result<ExecResult> {
        self.run_bound_with(txn, bound, params, &SubqueryCache::default())
    }

    /// As `run_bound`, with the statement's cache given (a profiling one for EXPLAIN
    /// ANALYZE).
    fn run_bound_with(
        &self,
        txn: &mut dyn KvTxn,
        bound: &Bound,
        params: &[Value],
        cache: &SubqueryCache,
    ) -> Result<ExecResult> {
        let info = Info {
            user: &self.user,
            db: &self.db.name,
            settings: &self.settings,
        };
        let cell = RefCell::new(txn);

        let cx = ExecCtx {
            txn: &cell,
            params,
            outer: &[],
            limits: self.engine.limits,
            session: &info,
            cache,
            sequences: &self.engine.sequences,
            seq_session: &self.seq_state,
            database_id: self.db.id,
            activity: &self.engine.activity,
        };
        let (tag, table, change) = match bound {
            Bound::Query { plan, columns } => {
                let mut rows = exec::run(plan, &cx)?;
                // Hidden trailing columns (sort keys) were already projected away; keep
                // only as many values as there are output columns.
                for r in rows.iter_mut() {
                    r.truncate(columns.len());
                }
                let tag = format!("SELECT {}", rows.len());
                return Ok(ExecResult::Rows {
                    columns: columns.clone(),
                    rows,
                    tag,
                });
            }
            Bound::Insert { table, .. } => ("INSERT 0", table, Change::Insert),
            Bound::Update { table, .. } => ("UPDATE", table, Change::Update),
            Bound::Delete { table, .. } => ("DELETE", table, Change::Delete),
        };
        let out = exec::run_dml(bound, &cx)?;
        let tag = format!("{tag} {}", out.count);
        self.pending_activity
            .borrow_mut()
            .push((table.id, change, out.count));
        match result_columns(bound) {
            Some(columns) => Ok(ExecResult::Rows {
                columns: columns.to_vec(),
                rows: out.returned,
                tag,
            }),
            None => Ok(ExecResult::Command { tag }),
        }
    }

    /// `CREATE TABLE name AS query`: a table whose columns are the query's output columns
    /// (names and types; an untyped literal's column is text, as in PostgreSQL), then
    /// `INSERT INTO name query`, both in the statement's transaction (so a rolled-back
    /// CREATE TABLE AS leaves nothing). The tag is PostgreSQL's `SELECT n`.
    fn create_table_as(
        &mut self,
        txn: &mut dyn KvTxn,
        ct: &ast::CreateTable,
        params: &[Value],
        param_types: &[DataType],
    ) -> Result<ExecResult> {
        let Some(query) = &ct.query else {
            return Err(SqlError::internal("CREATE TABLE AS without a query"));
        };
        // `CREATE TABLE t (a, b) AS`: names only (the parser marks them, lib.rs); a column
        // with a type is PostgreSQL's syntax error.
        let mut names = Vec::with_capacity(ct.columns.len());
        for c in &ct.columns {
            let name_only = matches!(&c.data_type, ast::DataType::Custom(n, args)
                if args.is_empty() && n.to_string() == cairn_sql_plan::CTAS_NAME_ONLY);
            if !name_only || !c.options.is_empty() {
                return Err(SqlError::syntax(
                    "syntax error: CREATE TABLE ... AS takes column names without types",
                ));
            }
            names.push(cairn_sql_plan::bind::ident_name(&c.name));
        }
        let select = ast::Statement::Query(query.clone());
        let (bound, _) = self.bind(txn, &select, param_types.to_vec(), false)?;
        let Bound::Query { mut columns, .. } = bound else {
            return Err(SqlError::internal("CREATE TABLE AS over a non-query"));
        };
        if names.len() > columns.len() {
            return Err(SqlError::syntax("too many column names were specified"));
        }
        for (c, n) in columns.iter_mut().zip(names) {
            c.name = n;
        }
        let quote = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
        let defs: Vec<String> = columns
            .iter()
            .map(|c| {
                let ty = match &c.ty {
                    DataType::Unknown => DataType::Text,
                    t => t.clone(),
                };
                format!("{} {}", quote(&c.name), ty.sql_name())
            })
            .collect();
        let if_not_exists = if ct.if_not_exists {
            "IF NOT EXISTS "
        } else {
            ""
        };
        let create = format!(
            "CREATE TABLE {if_not_exists}{} ({})",
            ct.name,
            defs.join(", ")
        );
        let one = |sql: &str| -> Result<ast::Statement> {
            let mut stmts = cairn_sql_plan::parse(sql)?;
            match (stmts.pop(), stmts.is_empty()) {
                (Some(stmt), true) => Ok(stmt),
                _ => Err(SqlError::internal(format!("CREATE TABLE AS made {sql:?}"))),
            }
        };
        let ast::Statement::CreateTable(plain) = one(&create)? else {
            return Err(SqlError::internal(format!(
                "CREATE TABLE AS made {create:?}"
            )));
        };
        if !ddl::create_table(txn, &self.db, &plain)? {
            self.notices
                .push(format!("relation \"{}\" already exists, skipping", ct.name));
            return Ok(ExecResult::Command {
                tag: "CREATE TABLE AS".into(),
            });
        }
        if ct.with_data.is_some_and(|w| !w.data) {
            // WITH NO DATA: the table alone.
            return Ok(ExecResult::Command {
                tag: "CREATE TABLE AS".into(),
            });
        }
        let insert = one(&format!("INSERT INTO {} {query}", ct.name))?;
        let rows = match self.run_with(txn, &insert, params, param_types, None, false)? {
            ExecResult::Command { tag } => tag
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0),
            _ => 0,
        };
        Ok(ExecResult::Command {
            tag: format!("SELECT {rows}"),
        })
    }

    fn run_with(
        &mut self,
        txn: &mut dyn KvTxn,
        stmt: &ast::Statement,
        params: &[Value],
        param_types: &[DataType],
        prepared: Option<&Prepared>,
        cached: bool,
    ) -> Result<ExecResult> {
        use ast::Statement as S;
        match stmt {
            S::Query(_) | S::Insert(_) | S::Update(_) | S::Delete(_) => {
                let bound = self.plan_for(txn, stmt, param_types, prepared, cached)?;
                self.run_bound(txn, &bound, params)
            }
            S::Explain {
                statement, analyze, ..
            } => {
                let (bound, _) = self.bind(txn, statement, param_types.to_vec(), cached)?;
                let bound = {
                    let stats = crate::analyze::PlannerStats::new(txn);
                    let est = cairn_sql_plan::cost::Estimator::new(&stats);
                    optimize_bound_with(bound, &est)
                };
                let cache = SubqueryCache::profiling();
                let mut elapsed = None;
                if *analyze {
                    // As in PostgreSQL, the statement runs (DML included) and its rows are
                    // discarded; operators are timed as they go.
                    let start = std::time::Instant::now();
                    self.run_bound_with(txn, &bound, params, &cache)?;
                    elapsed = Some(start.elapsed());
                }
                let stats = crate::analyze::PlannerStats::new(txn);
                let est = cairn_sql_plan::cost::Estimator::new(&stats);
                let plan = bound_plan(&bound);
                let mut lines = match elapsed {
                    None => cairn_sql_plan::explain::explain_estimated(plan, &est),
                    Some(_) => {
                        let actual = |p: &Plan| {
                            cache
                                .node_stats(p)
                                .map(|s| cairn_sql_plan::explain::Actual {
                                    rows: s.rows,
                                    loops: s.loops,
                                    millis: s.nanos as f64 / 1e6,
                                })
                        };
                        cairn_sql_plan::explain::explain_analyzed(plan, &est, &actual)
                    }
                };
                if let Some(t) = elapsed {
                    lines.push(format!("Execution Time: {:.3} ms", t.as_secs_f64() * 1e3));
                }
                let rows = lines.into_iter().map(|l| vec![Value::Text(l)]).collect();
                Ok(ExecResult::Rows {
                    columns: explain_columns(),
                    rows,
                    tag: "EXPLAIN".into(),
                })
            }
            S::Copy {
                source,
                to: true,
                target: ast::CopyTarget::Stdout,
                options,
                legacy_options,
                ..
            } => {
                let fmt = copy_format(options, legacy_options)?;
                let query = match source {
                    ast::CopySource::Query(q) => ast::Statement::Query(q.clone()),
                    ast::CopySource::Table {
                        table_name,
                        columns,
                    } => {
                        let cols = if columns.is_empty() {
                            "*".to_string()
                        } else {
                            columns
                                .iter()
                                .map(|c| format!("\"{}\"", ident_name(c)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        let mut stmts =
                            cairn_sql_plan::parse(&format!("SELECT {cols} FROM {table_name}"))?;
                        stmts
                            .pop()
                            .ok_or_else(|| SqlError::internal("COPY query"))?
                    }
                };
                let (columns, rows) =
                    match self.run_with(txn, &query, params, param_types, None, cached)? {
                        ExecResult::Rows { columns, rows, .. } => (columns, rows),
                        _ => return Err(SqlError::internal("COPY query returned no rows")),
                    };
                let mut data = Vec::with_capacity(rows.len() + 1);
                if fmt.header {
                    let names: Vec<Option<String>> =
                        columns.iter().map(|c| Some(c.name.clone())).collect();
                    let mut line = Vec::new();
                    copy::format_row(&mut line, &names, &fmt);
                    data.push(line);
                }
                for r in &rows {
                    let fields: Vec<Option<String>> = r
                        .iter()
                        .zip(&columns)
                        .map(|(v, c)| v.to_text(&c.ty))
                        .collect();
                    let mut line = Vec::new();
                    copy::format_row(&mut line, &fields, &fmt);
                    data.push(line);
                }
                Ok(ExecResult::CopyOut {
                    columns: columns.len(),
                    data,
                    rows: rows.len() as u64,
                })
            }
            S::Copy { .. } => Err(SqlError::not_supported(
                "COPY TO a file or program (use TO STDOUT)",
            )),
            S::CreateTable(ct) if ct.query.is_some() => {
                self.create_table_as(txn, ct, params, param_types)
            }
            S::CreateTable(ct) => {
                ddl::create_table(txn, &self.db, ct)?;
                Ok(ExecResult::Command {
                    tag: "CREATE TABLE".into(),
                })
            }
            S::Drop {
                object_type: ast::ObjectType::Table,
                if_exists,
                names,
                cascade,
                ..
            } => {
                let (_, notices) = ddl::drop_tables(txn, &self.db, names, *if_exists, *cascade)?;
                self.notices.extend(notices);
                Ok(ExecResult::Command {
                    tag: "DROP TABLE".into(),
                })
            }
            S::CreateSequence {
                temporary,
                if_not_exists,
                name,
                data_type,
                sequence_options,
                owned_by,
            } => {
                if *temporary || owned_by.is_some() {
                    return Err(SqlError::not_supported("TEMPORARY or OWNED BY sequences"));
                }
                ddl::create_sequence(
                    txn,
                    &self.db,
                    name,
                    *if_not_exists,
                    data_type.as_ref(),
                    sequence_options,
                )?;
                Ok(ExecResult::Command {
                    tag: "CREATE SEQUENCE".into(),
                })
            }
            S::Drop {
                object_type: ast::ObjectType::Sequence,
                if_exists,
                names,
                ..
            } => {
                for id in ddl::drop_sequences(txn, &self.db, names, *if_exists)? {
                    self.engine.sequences.forget(id);
                }
                Ok(ExecResult::Command {
                    tag: "DROP SEQUENCE".into(),
                })
            }
            S::CreateView(cv) => {
                if cv.materialized {
                    return Err(SqlError::not_supported("materialized views"));
                }
                let query = ast::Statement::Query(cv.query.clone());
                let (bound, params) = self.bind(txn, &query, Vec::new(), false)?;
                if !params.is_empty() {
                    return Err(SqlError::new(
                        code::UNDEFINED_PARAMETER,
                        "views cannot have parameters",
                    ));
                }
                let Bound::Query { columns, .. } = bound else {
                    return Err(SqlError::internal("a view query bound to DML"));
                };
                let mut names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
                if !cv.columns.is_empty() {
                    if cv.columns.len() > names.len() {
                        return Err(SqlError::syntax(
                            "CREATE VIEW specifies more column names than columns",
                        ));
                    }
                    for (i, c) in cv.columns.iter().enumerate() {
                        names[i] = ident_name(&c.name);
                    }
                }
                ddl::create_view(
                    txn,
                    &self.db,
                    &cv.name,
                    cv.query.to_string(),
                    names,
                    cv.or_replace,
                )?;
                Ok(ExecResult::Command {
                    tag: "CREATE VIEW".into(),
                })
            }
            S::Drop {
                object_type: ast::ObjectType::View,
                if_exists,
                names,
                ..
            } => {
                ddl::drop_views(txn, &self.db, names, *if_exists)?;
                Ok(ExecResult::Command {
                    tag: "DROP VIEW".into(),
                })
            }
            S::AlterTable(at) => {
                let notices = crate::alter::alter_table(txn, &self.db, at)?;
                self.notices.extend(notices);
                Ok(ExecResult::Command {
                    tag: "ALTER TABLE".into(),
                })
            }
            S::CreateIndex(ci) => {
                if ci.concurrently {
                    self.notices.push(
                        "CONCURRENTLY is accepted; the index is built in this transaction".into(),
                    );
                }
                ddl::create_index(txn, &self.db, ci)?;
                Ok(ExecResult::Command {
                    tag: "CREATE INDEX".into(),
                })
            }
            S::Drop {
                object_type: ast::ObjectType::Index,
                if_exists,
                names,
                cascade,
                ..
            } => {
                let notices = ddl::drop_indexes(txn, &self.db, names, *if_exists, *cascade)?;
                self.notices.extend(notices);
                Ok(ExecResult::Command {
                    tag: "DROP INDEX".into(),
                })
            }
            S::Truncate(t) => {
                let names: Vec<ast::ObjectName> =
                    t.table_names.iter().map(|n| n.name.clone()).collect();
                let cascade = matches!(t.cascade, Some(ast::CascadeOption::Cascade));
                let notices = ddl::truncate(txn, &self.db, &names, cascade)?;
                self.notices.extend(notices);
                Ok(ExecResult::Command {
                    tag: "TRUNCATE TABLE".into(),
                })
            }
            other => Err(SqlError::not_supported(format!(
                "statement {}",
                first_words(other)
            ))),
        }
    }

    fn set(&mut self, set: &ast::Set) -> Result<ExecResult> {
        match set {
            ast::Set::SingleAssignment {
                variable,
                values,
                scope,
                ..
            } => {
                let name = object_name(variable)?.1;
                let value = values
                    .iter()
                    .map(setting_value)
                    .collect::<Vec<_>>()
                    .join(", ");
                let local = matches!(scope, Some(ast::ContextModifier::Local));
                if local && self.block.is_none() {
                    self.notices
                        .push("SET LOCAL can only be used in transaction blocks".into());
                    return Ok(ExecResult::Command { tag: "SET".into() });
                }
                // Inside a block, a session-scope SET is remembered for COMMIT to keep.
                let before = (!local && self.block.is_some()).then(|| self.settings.clone());
                self.set_setting(&name, &value)?;
                if let Some(before) = before {
                    self.note_session_sets(&before);
                }
                Ok(ExecResult::Command { tag: "SET".into() })
            }
            ast::Set::SetTimeZone { value, .. } => {
                self.set_setting("timezone", &setting_value(value))?;
                Ok(ExecResult::Command { tag: "SET".into() })
            }
            ast::Set::SetNames { charset_name, .. } => {
                self.set_setting("client_encoding", &ident_name(charset_name))?;
                Ok(ExecResult::Command { tag: "SET".into() })
            }
            ast::Set::SetTransaction { modes, session, .. } => {
                for m in modes {
                    if let ast::TransactionMode::IsolationLevel(l) = m {
                        let iso = map_isolation(l)?;
                        if *session {
                            self.set_setting("default_transaction_isolation", isolation_name(iso))?;
                        } else if self.block.is_some() {
                            self.set_block_isolation(iso)?;
                        } else {
                            self.notices.push(
                                "SET TRANSACTION can only be used in transaction blocks".into(),
                            );
                        }
                    }
                }
                Ok(ExecResult::Command { tag: "SET".into() })
            }
            other => Err(SqlError::not_supported(format!("{other}"))),
        }
    }

    /// Changes the isolation of the open block. Cairn begins the block's transaction at
    /// `BEGIN`, so it is restarted at the new level (nothing has run in it yet when clients
    /// use `SET TRANSACTION` correctly: as the block's first statement).
    fn set_block_isolation(&mut self, iso: IsolationLevel) -> Result<()> {
        if let Some(b) = &mut self.block {
            if b.txn.isolation() != iso {
                b.txn.rollback();
                b.txn = self.engine.store.begin(iso, false)?;
            }
        }
        self.block_isolation = Some(iso);
        self.settings
            .insert("transaction_isolation".into(), isolation_name(iso).into());
        Ok(())
    }

    fn set_setting(&mut self, name: &str, value: &str) -> Result<()> {
        let key = name.to_lowercase();
        match key.as_str() {
            "transaction_isolation" => {
                let iso = parse_isolation(value)?;
                return self.set_block_isolation(iso);
            }
            "default_transaction_isolation" => {
                let iso = parse_isolation(value)?;
                self.settings.insert(key, isolation_name(iso).into());
                // Outside a block, `transaction_isolation` shows the default (PostgreSQL).
                if self.block.is_none() && self.block_isolation.is_none() {
                    self.settings
                        .insert("transaction_isolation".into(), isolation_name(iso).into());
                }
                return Ok(());
            }
            "server_version"
            | "server_encoding"
            | "server_version_num"
            | "integer_datetimes"
            | "max_identifier_length"
            | "is_superuser" => {
                return Err(SqlError::new(
                    code::CANT_CHANGE_RUNTIME_PARAM,
                    format!("parameter \"{name}\" cannot be changed"),
                ));
            }
            "timezone" => {
                // Values are computed and printed in UTC (cairn_sql_plan::types::datetime
                // invariant 2), so only zones equal to UTC can be set.
                let v = value.trim().trim_matches('\'');
                let utc = matches!(
                    v.to_ascii_lowercase().as_str(),
                    "utc"
                        | "etc/utc"
                        | "gmt"
                        | "etc/gmt"
                        | "z"
                        | "zulu"
                        | "uct"
                        | "universal"
                        | "ut"
                        | "0"
                        | "+0"
                        | "-0"
                        | "00:00"
                        | "+00"
                        | "+00:00"
                        | "utc0"
                        | "default"
                        | "local"
                );
                if !utc {
                    return Err(SqlError::not_supported(format!(
                        "time zone \"{v}\" (only UTC)"
                    )));
                }
                let shown = if matches!(v.to_ascii_lowercase().as_str(), "default" | "local") {
                    "UTC"
                } else {
                    v
                };
                self.record("timezone", shown);
                return Ok(());
            }
            "client_encoding" => {
                let v = value.to_uppercase().replace('-', "");
                if v != "UTF8" && v != "UNICODE" {
                    return Err(SqlError::not_supported(format!("client_encoding {value}")));
                }
                self.record("client_encoding", "UTF8");
                return Ok(());
            }
            _ => {}
        }
        let value = if value.eq_ignore_ascii_case("default") {
            default_settings(&self.user)
                .get(&key)
                .cloned()
                .unwrap_or_default()
        } else {
            value.to_string()
        };
        self.record(&key, &value);
        Ok(())
    }

    /// Inside a block, remembers the settings a session-scope SET changed (against
    /// `before`), for COMMIT to keep.
    fn note_session_sets(&mut self, before: &BTreeMap<String, String>) {
        let Some(b) = self.block.as_mut() else {
            return;
        };
        for (k, v) in &self.settings {
            if k != "transaction_isolation" && before.get(k) != Some(v) {
                b.session_sets.insert(k.clone(), v.clone());
            }
        }
    }

    /// Replaces all settings (end of a block, ROLLBACK TO), reporting changed reported ones
    /// to the client with ParameterStatus.
    fn replace_settings(&mut self, settings: BTreeMap<String, String>) {
        for key in REPORTED {
            if let Some(v) = settings.get(*key) {
                if self.settings.get(*key) != Some(v) {
                    self.parameter_changes.push((display_name(key), v.clone()));
                }
            }
        }
        self.settings = settings;
    }

    fn record(&mut self, key: &str, value: &str) {
        self.settings.insert(key.to_string(), value.to_string());
        if REPORTED.contains(&key) {
            self.parameter_changes
                .push((display_name(key), value.to_string()));
        }
    }
}

/// Runs the optimiser over every plan of a bound statement, with the tables' statistics.
fn optimize_bound(b: Bound, txn: &mut dyn KvTxn) -> Bound {
    let stats = crate::analyze::PlannerStats::new(txn);
    optimize_bound_with(b, &cairn_sql_plan::cost::Estimator::new(&stats))
}

/// The plan a bound statement runs: a query's, or the one producing DML's rows.
fn bound_plan(b: &Bound) -> &Plan {
    match b {
        Bound::Query { plan, .. } => plan,
        Bound::Insert { source, .. } => source,
        Bound::Update { input, .. } | Bound::Delete { input, .. } => input,
    }
}

/// Runs the optimiser over every plan of a bound statement, estimating with `est`, and
/// prunes the columns of the plans whose rows are not written back (queries and INSERT's
/// source; UPDATE and DELETE rewrite whole rows).
fn optimize_bound_with(b: Bound, est: &cairn_sql_plan::cost::Estimator) -> Bound {
    let optimize = |p: Plan| rules::optimize_with(p, est);
    let optimize_pruned = |p: Plan| {
        let mut p = optimize(p);
        cairn_sql_plan::prune::prune_columns(&mut p);
        p
    };
    match b {
        Bound::Update {
            table,
            input,
            assignments,
            predicate,
            returning,
        } => Bound::Update {
            table,
            input: optimize(input),
            assignments,
            predicate,
            returning,
        },
        Bound::Delete {
            table,
            input,
            predicate,
            returning,
        } => Bound::Delete {
            table,
            input: optimize(input),
            predicate,
            returning,
        },
        Bound::Insert {
            table,
            source,
            targets,
            defaults,
            on_conflict,
            returning,
        } => Bound::Insert {
            table,
            source: optimize_pruned(source),
            targets,
            defaults,
            on_conflict,
            returning,
        },
        Bound::Query { plan, columns } => Bound::Query {
            plan: optimize_pruned(plan),
            columns,
        },
    }
}

fn map_isolation(l: &ast::TransactionIsolationLevel) -> Result<IsolationLevel> {
    Ok(match l {
        ast::TransactionIsolationLevel::ReadUncommitted
        | ast::TransactionIsolationLevel::ReadCommitted => IsolationLevel::ReadCommitted,
        ast::TransactionIsolationLevel::RepeatableRead
        | ast::TransactionIsolationLevel::Snapshot => IsolationLevel::Snapshot,
        ast::TransactionIsolationLevel::Serializable => IsolationLevel::Serializable,
    })
}

fn show_name(variable: &[ast::Ident]) -> String {
    let words: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
    match words.join(" ").as_str() {
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "timezone".into(),
        other => other.replace(' ', "_"),
    }
}

fn setting_value(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            ast::Value::Number(n, _) => n.clone(),
            ast::Value::Boolean(b) => if *b { "on" } else { "off" }.into(),
            other => other.to_string(),
        },
        ast::Expr::Identifier(id) => id.value.clone(),
        other => other.to_string(),
    }
}

fn first_words(s: &ast::Statement) -> String {
    s.to_string()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

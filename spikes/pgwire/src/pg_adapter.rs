//! The would-be `cairn-pgwire` crate: pgwire handlers driving a
//! [`Session`]. This file is the only place that touches pgwire types.
//!
//! One [`ConnHandlers`] value is created per accepted TCP connection (pgwire's
//! `process_socket` takes the handlers by value), so per-connection state —
//! the `Session` — lives directly in it.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::{BufMut, BytesMut};
use futures::future::{Either, select};
use futures::{FutureExt, Sink, SinkExt, StreamExt};
use pgwire::api::auth::driver::AuthOutcome;
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::sasl::scram::{ScramAuth, ScramSecret, gen_salted_password};
use pgwire::api::auth::{
    AuthDriver, AuthSource, LoginInfo, Password, ServerParameterProvider, StartupHandler,
    protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format as PgFormat, Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    CopyResponse, DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo,
    QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionHandle, ConnectionManager, DEFAULT_NAME, ErrorHandler,
    PgWireConnectionState, PgWireServerHandlers, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult, SEVERITY_ERROR};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::PgWireFrontendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyInResponse};
use pgwire::messages::data::{
    DataRow, FieldDescription, NoData, ParameterDescription, RowDescription,
};
use pgwire::messages::extendedquery::{
    Describe, Execute, Sync as PgSync, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus,
};
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::ParameterStatus;
use postgres_types::Kind;
use tokio::sync::Mutex;

use crate::cairn_types::{
    ColumnDesc, EncodedRow, Format, Oid, PreparedStatement, SqlError, StatementResult, TxStatus,
    sqlstate,
};
use crate::session::{Session, SessionFactory, StartupInfo};

// ------------------------------------------------------------ config ------

/// How clients authenticate.
#[derive(Clone, Debug)]
pub enum AuthMode {
    /// No password at all (pg_hba "trust").
    Trust,
    /// SCRAM-SHA-256 against one fixed user/password.
    Scram { user: String, password: String },
}

/// Server-wide state shared by all connections.
pub struct Shared {
    pub factory: Arc<dyn SessionFactory>,
    driver: AuthDriver<Arc<ServerParams>>,
    scram: Option<ScramAuth>,
    pub cancel: Arc<ConnectionManager>,
    pub log_queries: bool,
    /// Use pgwire's default Execute path (buffers the whole portal) even for
    /// max_rows = 0; for comparison tests.
    pub buffered_execute: bool,
}

impl Shared {
    pub fn new(
        factory: Arc<dyn SessionFactory>,
        auth: AuthMode,
        log_queries: bool,
        buffered_execute: bool,
    ) -> Arc<Self> {
        let cancel = Arc::new(ConnectionManager::new());
        let driver =
            AuthDriver::new(Arc::new(ServerParams)).with_connection_manager(cancel.clone());
        let scram = match auth {
            AuthMode::Trust => None,
            AuthMode::Scram { user, password } => {
                Some(ScramAuth::new(Arc::new(FixedUser::new(user, password))))
            }
        };
        Arc::new(Shared {
            factory,
            driver,
            scram,
            cancel,
            log_queries,
            buffered_execute,
        })
    }
}

/// ParameterStatus values sent after AuthenticationOk.
#[derive(Debug)]
pub struct ServerParams;

impl ServerParameterProvider for ServerParams {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let user = client.metadata().get("user").cloned().unwrap_or_default();
        let app = client
            .metadata()
            .get("application_name")
            .cloned()
            .unwrap_or_default();
        let p = [
            // drivers parse this (psql: PQserverVersion -> picks catalog queries)
            ("server_version", "15.0".to_owned()),
            ("server_encoding", "UTF8".to_owned()),
            ("client_encoding", "UTF8".to_owned()),
            ("DateStyle", "ISO, MDY".to_owned()),
            ("IntervalStyle", "postgres".to_owned()),
            ("integer_datetimes", "on".to_owned()),
            ("TimeZone", "UTC".to_owned()),
            ("standard_conforming_strings", "on".to_owned()),
            ("is_superuser", "on".to_owned()),
            ("default_transaction_read_only", "off".to_owned()),
            ("in_hot_standby", "off".to_owned()),
            ("session_authorization", user),
            ("application_name", app),
        ];
        Some(p.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

/// SCRAM credential source for one fixed user. The verifier is derived once
/// (4096 PBKDF2 rounds) instead of per login.
#[derive(Debug)]
struct FixedUser {
    user: String,
    salt: Vec<u8>,
    salted_password: Vec<u8>,
}

impl FixedUser {
    fn new(user: String, password: String) -> Self {
        let salt = b"cairn-spike-salt".to_vec();
        let salted_password = gen_salted_password(&password, &salt, 4096);
        FixedUser {
            user,
            salt,
            salted_password,
        }
    }
}

#[async_trait]
impl AuthSource for FixedUser {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        if login.user() != Some(self.user.as_str()) {
            return Err(PgWireError::InvalidPassword(
                login.user().unwrap_or_default().to_owned(),
            ));
        }
        Ok(Password::new(
            Some(self.salt.clone()),
            self.salted_password.clone(),
        ))
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        if login.user() != Some(self.user.as_str()) {
            return Err(PgWireError::InvalidPassword(
                login.user().unwrap_or_default().to_owned(),
            ));
        }
        // What Cairn would store in its catalog: a PostgreSQL-style verifier,
        // never the password.
        let secret = ScramSecret::verifier_from_salted_password(
            self.salt.clone(),
            self.salted_password.clone(),
            4096,
        );
        Ok((secret, None))
    }
}

// ------------------------------------------------------- conversions ------

fn pg_type(oid: Oid) -> Type {
    Type::from_oid(oid).unwrap_or_else(|| {
        // pgwire only speaks postgres_types::Type; a Cairn-specific OID needs
        // a synthetic Type so its OID still reaches the wire.
        Type::new(
            format!("cairn_{oid}"),
            oid,
            Kind::Simple,
            "pg_catalog".to_owned(),
        )
    })
}

fn field_info(c: &ColumnDesc, f: Format) -> FieldInfo {
    let format = match f {
        Format::Text => FieldFormat::Text,
        Format::Binary => FieldFormat::Binary,
    };
    FieldInfo::new(
        c.name.clone(),
        Some(c.table_oid as i32),
        Some(c.column_attr),
        pg_type(c.type_oid),
        format,
    )
    .with_type_size(c.type_size)
    .with_type_modifier(c.type_modifier)
}

fn row_description(cols: &[ColumnDesc], formats: &[Format]) -> RowDescription {
    RowDescription::new(
        cols.iter()
            .zip(formats)
            .map(|(c, f)| {
                FieldDescription::new(
                    c.name.clone(),
                    c.table_oid as i32,
                    c.column_attr,
                    c.type_oid,
                    c.type_size,
                    c.type_modifier,
                    if *f == Format::Binary { 1 } else { 0 },
                )
            })
            .collect(),
    )
}

fn data_row(row: EncodedRow) -> DataRow {
    let len: usize = row
        .iter()
        .map(|v| 4 + v.as_ref().map_or(0, |b| b.len()))
        .sum();
    let mut buf = BytesMut::with_capacity(len);
    for v in &row {
        match v {
            None => buf.put_i32(-1),
            Some(b) => {
                buf.put_i32(b.len() as i32);
                buf.put_slice(b);
            }
        }
    }
    DataRow::new(buf, row.len() as i16)
}

fn error_info(e: &SqlError) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        SEVERITY_ERROR.to_owned(),
        e.sqlstate.to_owned(),
        e.message.clone(),
    );
    info.detail = e.detail.clone();
    info.hint = e.hint.clone();
    info.position = e.position.map(|p| p.to_string());
    info
}

fn user_error(e: &SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

fn tx_byte(s: TxStatus) -> TransactionStatus {
    match s {
        TxStatus::Idle => TransactionStatus::Idle,
        TxStatus::InBlock => TransactionStatus::Transaction,
        TxStatus::Failed => TransactionStatus::Error,
    }
}

/// Expand pgwire's portal format into one format per value, rejecting a code
/// list of the wrong length (pgwire's own `Format::format_for` would index out
/// of bounds and panic the connection task).
fn expand_formats(f: &PgFormat, n: usize, what: &str) -> Result<Vec<Format>, SqlError> {
    let codes: Vec<i16> = match f {
        PgFormat::UnifiedText => vec![],
        PgFormat::UnifiedBinary => vec![1],
        PgFormat::Individual(v) => {
            if v.len() != n {
                return Err(SqlError::new(
                    sqlstate::PROTOCOL_VIOLATION,
                    format!(
                        "bind message has {} {what} formats but query has {n} {what}s",
                        v.len()
                    ),
                ));
            }
            v.clone()
        }
    };
    Ok(Format::expand(&codes, n))
}

async fn cancel_receiver<C: ClientInfo>(
    client: &C,
) -> Option<futures::channel::oneshot::Receiver<()>> {
    let handle = client.session_extensions().get::<Arc<ConnectionHandle>>()?;
    Some(handle.start_query().await)
}

// ------------------------------------------------------- connection -------

type SessionSlot = Arc<Mutex<Option<Box<dyn Session>>>>;

/// Per-connection handler set.
pub struct ConnHandlers {
    state: Arc<ConnState>,
}

impl ConnHandlers {
    pub fn new(shared: Arc<Shared>) -> Self {
        let session: SessionSlot = Arc::new(Mutex::new(None));
        ConnHandlers {
            state: Arc::new(ConnState {
                parser: Arc::new(SessionParser {
                    session: session.clone(),
                    log: shared.log_queries,
                }),
                shared,
                session,
                protocol_error: AtomicBool::new(false),
            }),
        }
    }
}

pub struct ConnState {
    shared: Arc<Shared>,
    session: SessionSlot,
    parser: Arc<SessionParser>,
    /// Set by the ErrorHandler whenever pgwire itself reports an error
    /// (unknown portal, cancelled Execute, ...); the session hears about it
    /// through `fail_transaction` before the next Sync/Query.
    protocol_error: AtomicBool,
}

impl PgWireServerHandlers for ConnHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.state.clone()
    }
    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.state.clone()
    }
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.state.clone()
    }
    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        self.state.clone()
    }
    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        self.state.clone()
    }
    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(DefaultCancelHandler::new(self.state.shared.cancel.clone()))
    }
}

impl ConnState {
    fn open_session<C: ClientInfo>(&self, client: &C) -> PgWireResult<Box<dyn Session>> {
        let md = client.metadata();
        let info = StartupInfo {
            user: md.get("user").cloned().unwrap_or_default(),
            database: md.get("database").cloned(),
            application_name: md.get("application_name").cloned(),
            parameters: md.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        self.shared.factory.open(info).map_err(|e| {
            let mut info = error_info(&e);
            info.severity = "FATAL".to_owned();
            PgWireError::UserError(Box::new(info))
        })
    }

    /// Lock the session, first telling it about protocol-level errors.
    async fn session(&self) -> PgWireResult<SessionGuard<'_>> {
        let mut guard = self.session.lock().await;
        let Some(session) = guard.as_mut() else {
            return Err(PgWireError::NotReadyForQuery);
        };
        if self.protocol_error.swap(false, Ordering::SeqCst) {
            session.fail_transaction();
        }
        Ok(SessionGuard(guard))
    }
}

/// Locked, known-to-be-open session.
struct SessionGuard<'a>(tokio::sync::MutexGuard<'a, Option<Box<dyn Session>>>);

impl std::ops::Deref for SessionGuard<'_> {
    type Target = Box<dyn Session>;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("checked in ConnState::session")
    }
}

impl std::ops::DerefMut for SessionGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_mut().expect("checked in ConnState::session")
    }
}

impl ErrorHandler for ConnState {
    fn on_error<C: ClientInfo>(&self, _client: &C, error: &mut PgWireError) {
        self.protocol_error.store(true, Ordering::SeqCst);
        if self.shared.log_queries {
            eprintln!("[pgwire error] {error}");
        }
    }
}

// ----------------------------------------------------------- startup ------

#[async_trait]
impl StartupHandler for ConnState {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                match &self.shared.scram {
                    None => {
                        let session = self.open_session(client)?;
                        *self.session.lock().await = Some(session);
                        self.shared
                            .driver
                            .complete_authentication(client, None)
                            .await?;
                    }
                    Some(scram) => {
                        // begin() of SCRAM always answers InProgress (AuthenticationSASL)
                        self.shared
                            .driver
                            .begin_authentication(client, scram.create())
                            .await?;
                    }
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                match self
                    .shared
                    .driver
                    .advance_authentication(client, msg)
                    .await?
                {
                    AuthOutcome::InProgress => {}
                    AuthOutcome::Authenticated { final_message, .. } => {
                        let session = self.open_session(client)?;
                        *self.session.lock().await = Some(session);
                        self.shared
                            .driver
                            .complete_authentication(client, final_message)
                            .await?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

// ------------------------------------------------------ simple query ------

/// What happened when a statement result was sent.
enum Sent {
    Done,
    /// CopyInResponse sent; the copy sub-protocol takes over.
    CopyStarted,
}

/// Send one statement result. `describe`: send RowDescription first (simple
/// protocol; in the extended protocol Describe does that). Rows are streamed
/// one by one with *flush-on-idle*: DataRows are buffered while the stream has
/// rows ready and flushed as soon as it would block, so a slow query shows
/// its first rows early and a fast one still gets large writes. The inner
/// `Err` is an SQL error raised by the row stream (not yet sent).
async fn send_result<C>(
    client: &mut C,
    result: StatementResult,
    describe: bool,
    extended: bool,
) -> PgWireResult<Result<Sent, SqlError>>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    match result {
        StatementResult::Empty => {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
        }
        StatementResult::Command { tag } => {
            client
                .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    tag,
                )))
                .await?;
        }
        StatementResult::Rows {
            columns,
            formats,
            tag,
            mut rows,
        } => {
            if describe {
                client
                    .feed(PgWireBackendMessage::RowDescription(row_description(
                        &columns, &formats,
                    )))
                    .await?;
            }
            let mut n = 0usize;
            loop {
                let next = match rows.next().now_or_never() {
                    Some(item) => item,
                    None => {
                        client.flush().await?;
                        rows.next().await
                    }
                };
                match next {
                    None => break,
                    Some(Ok(row)) => {
                        client
                            .feed(PgWireBackendMessage::DataRow(data_row(row)))
                            .await?;
                        n += 1;
                    }
                    Some(Err(e)) => return Ok(Err(e)),
                }
            }
            client
                .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    format!("{tag} {n}"),
                )))
                .await?;
        }
        StatementResult::CopyIn { columns, format } => {
            let code: i8 = if format == Format::Binary { 1 } else { 0 };
            client
                .send(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(
                    code,
                    columns as i16,
                    vec![code as i16; columns],
                )))
                .await?;
            client.set_state(PgWireConnectionState::CopyInProgress(extended));
            return Ok(Ok(Sent::CopyStarted));
        }
    }
    Ok(Ok(Sent::Done))
}

async fn send_parameter_changes<C>(
    client: &mut C,
    changes: Vec<(String, String)>,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for (k, v) in changes {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                k, v,
            )))
            .await?;
    }
    Ok(())
}

/// Run a simple-protocol batch and send every result. Returns `Ok(true)` if a
/// COPY FROM STDIN was started (no ReadyForQuery must follow yet).
async fn send_batch<C>(
    client: &mut C,
    session: &mut Box<dyn Session>,
    sql: &str,
) -> PgWireResult<bool>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let batch = session.simple_query(sql).await;
    for result in batch.results {
        match send_result(client, result, true, false).await? {
            Ok(Sent::Done) => {}
            Ok(Sent::CopyStarted) => return Ok(true),
            Err(e) => {
                // error while streaming rows: report it, skip the rest
                session.fail_transaction();
                client
                    .feed(PgWireBackendMessage::ErrorResponse(error_info(&e).into()))
                    .await?;
                return Ok(false);
            }
        }
    }
    if let Some(e) = batch.error {
        client
            .feed(PgWireBackendMessage::ErrorResponse(error_info(&e).into()))
            .await?;
    }
    Ok(false)
}

#[async_trait]
impl SimpleQueryHandler for ConnState {
    /// Replaces pgwire's default `on_query`: the default derives the
    /// ReadyForQuery status from `Response` variants (TransactionStart/End/
    /// Error), which cannot express e.g. `ROLLBACK TO SAVEPOINT` ('E' -> 'T'),
    /// and it keeps sending results after a `Response::Error`.
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        if self.shared.log_queries {
            eprintln!("[Q] {}", query.query);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let mut session = self.session().await?;
        let cancel = cancel_receiver(client).await;

        let outcome = {
            let work = Box::pin(send_batch(client, &mut session, &query.query));
            match cancel {
                None => Some(work.await),
                Some(rx) => match select(work, rx).await {
                    Either::Left((res, _)) => Some(res),
                    // Dropping the future cancels the statement (and any row
                    // streaming in progress).
                    Either::Right((_, work)) => {
                        drop(work);
                        None
                    }
                },
            }
        };
        let copy_started = match outcome {
            Some(res) => res?,
            None => {
                session.fail_transaction();
                let e = SqlError::new(
                    sqlstate::QUERY_CANCELED,
                    "canceling statement due to user request",
                );
                client
                    .feed(PgWireBackendMessage::ErrorResponse(error_info(&e).into()))
                    .await?;
                false
            }
        };
        if copy_started {
            return Ok(());
        }
        let status = tx_byte(session.transaction_status());
        let changes = session.take_parameter_changes();
        drop(session);
        send_parameter_changes(client, changes).await?;
        if status == TransactionStatus::Idle {
            client.portal_store().clear_portals();
        }
        client.set_transaction_status(status);
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        Ok(())
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        unreachable!("on_query is overridden")
    }
}

// ---------------------------------------------------- extended query ------

/// pgwire's `QueryParser`: Parse goes straight to `Session::prepare`.
pub struct SessionParser {
    session: SessionSlot,
    log: bool,
}

#[async_trait]
impl QueryParser for SessionParser {
    type Statement = PreparedStatement;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<PreparedStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if self.log {
            eprintln!("[Parse] {sql}");
        }
        // NB: pgwire already mapped the Parse OIDs through Type::from_oid, so
        // an OID unknown to postgres-types arrives here as None (= 0).
        let hints: Vec<Oid> = types
            .iter()
            .map(|t| t.as_ref().map_or(0, |t| t.oid()))
            .collect();
        let mut guard = self.session.lock().await;
        let session = guard.as_mut().ok_or(PgWireError::NotReadyForQuery)?;
        session
            .prepare(sql, &hints)
            .await
            .map(Some)
            .map_err(|e| user_error(&e))
    }

    fn get_parameter_types(&self, stmt: &PreparedStatement) -> PgWireResult<Vec<Type>> {
        Ok(stmt.param_types.iter().map(|o| pg_type(*o)).collect())
    }

    fn get_result_schema(
        &self,
        stmt: &PreparedStatement,
        column_format: Option<&PgFormat>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let Some(cols) = &stmt.columns else {
            return Ok(vec![]);
        };
        let formats = match column_format {
            None => vec![Format::Text; cols.len()],
            Some(f) => expand_formats(f, cols.len(), "result").map_err(|e| user_error(&e))?,
        };
        Ok(cols
            .iter()
            .zip(formats)
            .map(|(c, f)| field_info(c, f))
            .collect())
    }
}

impl ConnState {
    /// Bind values + formats of a portal -> `Session::execute`.
    async fn execute_portal(
        &self,
        portal: &Portal<PreparedStatement>,
    ) -> PgWireResult<StatementResult> {
        let stmt = &portal.statement.statement;
        let ncols = stmt.columns.as_ref().map_or(0, |c| c.len());
        let prep = (|| {
            let pf = expand_formats(
                &portal.parameter_format,
                portal.parameters.len(),
                "parameter",
            )?;
            let rf = expand_formats(&portal.result_column_format, ncols, "result")?;
            Ok::<_, SqlError>((pf, rf))
        })();
        let (param_formats, result_formats) = prep.map_err(|e| user_error(&e))?;
        let mut session = self.session().await?;
        session
            .execute(stmt, &portal.parameters, &param_formats, &result_formats)
            .await
            .map_err(|e| user_error(&e))
    }

    /// Execute with max_rows = 0 on a fresh portal, streaming rows straight to
    /// the socket. pgwire's default `_on_execute` routes every Execute through
    /// `Portal::fetch`, which collects *all* rows into a Vec before sending the
    /// first one. Returns `None` when the default path should handle it.
    async fn execute_streaming<C>(
        &self,
        client: &mut C,
        message: &Execute,
    ) -> Option<PgWireResult<()>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = PreparedStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if message.max_rows != 0 || self.shared.buffered_execute {
            return None;
        }
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Some(Err(PgWireError::NotReadyForQuery));
        }
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let Some(Entry::Value(portal)) = client.portal_store().get_portal(name) else {
            return None; // empty or unknown portal: default path answers
        };
        {
            let mut state = portal.state.lock().await;
            if !matches!(*state, PortalExecutionState::Initial) {
                return None; // suspended portal: let pgwire fetch the rest
            }
            *state = PortalExecutionState::Finished;
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let cancel = cancel_receiver(client).await;
        let outcome = {
            let work = Box::pin(async {
                let result = self.execute_portal(&portal).await?;
                send_result(client, result, false, true).await
            });
            match cancel {
                None => Some(work.await),
                Some(rx) => match select(work, rx).await {
                    Either::Left((res, _)) => Some(res),
                    Either::Right((_, work)) => {
                        drop(work);
                        None
                    }
                },
            }
        };
        let res = match outcome {
            None => Err(PgWireError::QueryCanceled),
            Some(Err(e)) => Err(e),
            Some(Ok(Err(e))) => Err(user_error(&e)),
            Some(Ok(Ok(Sent::CopyStarted))) => return Some(Ok(())),
            Some(Ok(Ok(Sent::Done))) => Ok(()),
        };
        client.set_state(PgWireConnectionState::ReadyForQuery);
        Some(res)
    }
}

#[async_trait]
impl ExtendedQueryHandler for ConnState {
    type Statement = PreparedStatement;
    type QueryParser = SessionParser;

    fn query_parser(&self) -> Arc<SessionParser> {
        self.parser.clone()
    }

    /// Wraps the default Execute so the transaction status pgwire stores is
    /// the session's, not one derived from the Response variant.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.shared.log_queries {
            eprintln!("[Execute] {:?} max_rows={}", message.name, message.max_rows);
        }
        let res = match self.execute_streaming(client, &message).await {
            Some(res) => res,
            None => self._on_execute(client, message).await,
        };
        if let Some(s) = self.session.lock().await.as_ref() {
            client.set_transaction_status(tx_byte(s.transaction_status()));
        }
        res
    }

    /// Describe(statement): pgwire sends an empty RowDescription instead of
    /// NoData when the statement has parameters but no result columns; do it
    /// ourselves. Portals use the default path.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.shared.log_queries {
            eprintln!(
                "[Describe {}] {:?}",
                message.target_type as char, message.name
            );
        }
        if message.target_type != TARGET_TYPE_BYTE_STATEMENT {
            return self._on_describe(client, message).await;
        }
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        match client.portal_store().get_statement(name) {
            Some(Entry::Value(stmt)) => {
                let p = &stmt.statement;
                client
                    .send(PgWireBackendMessage::ParameterDescription(
                        ParameterDescription::new(p.param_types.clone()),
                    ))
                    .await?;
                match &p.columns {
                    Some(cols) => {
                        let fmts = vec![Format::Text; cols.len()];
                        client
                            .send(PgWireBackendMessage::RowDescription(row_description(
                                cols, &fmts,
                            )))
                            .await?;
                    }
                    None => {
                        client
                            .send(PgWireBackendMessage::NoData(NoData::new()))
                            .await?
                    }
                }
                Ok(())
            }
            _ => self._on_describe(client, message).await,
        }
    }

    /// Sync ends the implicit transaction: the session decides the status.
    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.shared.log_queries {
            eprintln!("[Sync]");
        }
        let (status, changes) = {
            let mut s = self.session().await?;
            s.sync().await;
            (tx_byte(s.transaction_status()), s.take_parameter_changes())
        };
        send_parameter_changes(client, changes).await?;
        client.portal_store().rm_portal(DEFAULT_NAME);
        if status == TransactionStatus::Idle {
            // portals do not outlive their transaction
            client.portal_store().clear_portals();
        }
        client.set_transaction_status(status);
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        client.flush().await?;
        Ok(())
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        target: &StoredStatement<PreparedStatement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let p = self.parser.get_parameter_types(&target.statement)?;
        let f = self.parser.get_result_schema(&target.statement, None)?;
        Ok(DescribeStatementResponse::new(p, f))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<PreparedStatement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let f = self.parser.get_result_schema(
            &portal.statement.statement,
            Some(&portal.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(f))
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        portal: &Portal<PreparedStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let result = self.execute_portal(portal).await?;
        Ok(match result {
            StatementResult::Empty => Response::EmptyQuery,
            StatementResult::Command { tag } => Response::Execution(Tag::new(&tag)),
            StatementResult::Rows {
                columns,
                formats,
                tag,
                rows,
            } => {
                let fields: Vec<FieldInfo> = columns
                    .iter()
                    .zip(formats.iter())
                    .map(|(c, f)| field_info(c, *f))
                    .collect();
                let stream = rows.map(|r| r.map(data_row).map_err(|e| user_error(&e)));
                let mut resp = QueryResponse::new(Arc::new(fields), stream);
                resp.set_command_tag(&tag);
                Response::Query(resp)
            }
            StatementResult::CopyIn { columns, format } => {
                let code: i8 = if format == Format::Binary { 1 } else { 0 };
                Response::CopyIn(CopyResponse::new(
                    code,
                    columns,
                    futures::stream::empty::<PgWireResult<CopyData>>(),
                ))
            }
        })
    }
}

// -------------------------------------------------------------- copy ------

#[async_trait]
impl CopyHandler for ConnState {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut s = self.session().await?;
        s.copy_in_data(copy_data.data)
            .await
            .map_err(|e| user_error(&e))
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut s = self.session().await?;
        match s.copy_in_done().await.map_err(|e| user_error(&e))? {
            StatementResult::Command { tag } => {
                client
                    .send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                        tag,
                    )))
                    .await?;
                client.set_transaction_status(tx_byte(s.transaction_status()));
                Ok(())
            }
            other => Err(PgWireError::ApiError(
                format!("unexpected COPY result {other:?}").into(),
            )),
        }
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Ok(mut s) = self.session().await {
            s.fail_transaction();
        }
        user_error(&SqlError::new(
            sqlstate::QUERY_CANCELED,
            format!("COPY from stdin failed: {}", fail.message),
        ))
    }
}

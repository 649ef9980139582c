//! Per-connection adapter state and the startup/authentication handler.
//!
//! **Role**: `crate::server` creates one [`ConnState`] per accepted connection and passes it
//! to pgwire's `process_message` as startup, simple-query and extended-query handler
//! (`crate::simple`, `crate::extended` hold those impls). It owns the connection's
//! [`Session`] once authentication succeeded. [`ServerShared`] is the part common to all
//! connections (factory, auth driver, cancel registry, ParameterStatus values).
//!
//! # Invariants
//! 1. The session is opened only after authentication succeeded, and at most once. Test
//!    `it::tokio_postgres::scram_sha_256_auth` (a wrong password never reaches the factory).
//! 2. The guard's phase ([`GuardShared`]) says `Sasl` from the moment SCRAM begins and `Done`
//!    only after AuthenticationOk was queued, so no session message is accepted earlier.
//!    Test `it::guard::query_before_authentication_is_rejected`.
//!
//! # Concurrency
//! pgwire's handlers take `&self`, so the session sits behind a `tokio::sync::Mutex`; only the
//! connection task locks it, so it is never contended.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::channel::oneshot;
use futures::future::{select, Either};
use futures::Sink;
use pgwire::api::auth::driver::{AuthDriver, AuthOutcome};
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::auth::{
    protocol_negotiation, save_startup_parameters_to_metadata, ServerParameterProvider,
    StartupHandler,
};
use pgwire::api::{ClientInfo, ConnectionHandle, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::{Mutex, MutexGuard};

use crate::auth::{AuthConfig, AuthMode, CredentialStore, StoreAuthSource};
use crate::guard::{AuthPhase, GuardShared};
use crate::session::{
    Format, Oid, PreparedStatement, Session, SessionFactory, SqlError, SqlState, StartupInfo,
    StatementResult, TxStatus,
};
use crate::wire::{tx_byte, user_error};

/// ParameterStatus values sent after AuthenticationOk, plus the per-connection
/// `session_authorization` and `application_name`.
#[derive(Debug)]
pub(crate) struct ServerParams {
    pub(crate) fixed: Vec<(String, String)>,
}

impl ServerParameterProvider for ServerParams {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let mut params: HashMap<String, String> = self.fixed.iter().cloned().collect();
        let md = client.metadata();
        params.insert(
            "session_authorization".to_owned(),
            md.get("user").cloned().unwrap_or_default(),
        );
        params.insert(
            "application_name".to_owned(),
            md.get("application_name").cloned().unwrap_or_default(),
        );
        Some(params)
    }
}

/// State shared by every connection of one server.
pub(crate) struct ServerShared {
    pub(crate) factory: Arc<dyn SessionFactory>,
    pub(crate) driver: AuthDriver<Arc<ServerParams>>,
    pub(crate) scram: ScramAuth,
    pub(crate) auth: AuthConfig,
    pub(crate) cancel: Arc<ConnectionManager>,
}

impl ServerShared {
    pub(crate) fn new(
        factory: Arc<dyn SessionFactory>,
        auth: AuthConfig,
        credentials: Option<Arc<dyn CredentialStore>>,
        parameters: Vec<(String, String)>,
    ) -> Self {
        let cancel = Arc::new(ConnectionManager::new());
        let driver = AuthDriver::new(Arc::new(ServerParams { fixed: parameters }))
            .with_connection_manager(cancel.clone());
        ServerShared {
            factory,
            driver,
            scram: ScramAuth::new(Arc::new(StoreAuthSource::new(credentials))),
            auth,
            cancel,
        }
    }
}

/// One connection's adapter: pgwire handlers around its [`Session`].
pub(crate) struct ConnState {
    pub(crate) server: Arc<ServerShared>,
    pub(crate) guard: Arc<GuardShared>,
    pub(crate) peer: SocketAddr,
    pub(crate) tls: bool,
    session: Mutex<Box<dyn Session>>,
    /// A simple-query batch is paused in COPY FROM STDIN; CopyDone resumes it.
    pub(crate) copy_resumes_batch: std::sync::atomic::AtomicBool,
    /// Names of the named prepared statements, so SQL `DEALLOCATE ALL` can drop them
    /// (pgwire's statement store cannot list its entries).
    pub(crate) statement_names: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

pub(crate) type SessionGuard<'a> = MutexGuard<'a, Box<dyn Session>>;

/// Stands in for the session before authentication and after termination. Unreachable for
/// session messages (the guard rejects them before authentication completed); every
/// method fails or does nothing.
struct NotOpen;

fn not_open() -> SqlError {
    SqlError::fatal(SqlState::PROTOCOL_VIOLATION, "no session is open")
}

#[async_trait]
impl Session for NotOpen {
    async fn simple_query_start(&mut self, _sql: &str) -> Result<(), SqlError> {
        Err(not_open())
    }
    async fn simple_query_next(&mut self) -> Option<Result<StatementResult, SqlError>> {
        Some(Err(not_open()))
    }
    async fn prepare(&mut self, _sql: &str, _hints: &[Oid]) -> Result<PreparedStatement, SqlError> {
        Err(not_open())
    }
    async fn execute(
        &mut self,
        _stmt: &PreparedStatement,
        _params: &[Option<Bytes>],
        _param_formats: &[Format],
        _result_formats: &[Format],
    ) -> Result<StatementResult, SqlError> {
        Err(not_open())
    }
    async fn sync(&mut self) {}
    async fn fail_transaction(&mut self) {}
    fn transaction_status(&self) -> TxStatus {
        TxStatus::Idle
    }
    async fn terminate(&mut self) {}
}

impl ConnState {
    pub(crate) fn new(
        server: Arc<ServerShared>,
        guard: Arc<GuardShared>,
        peer: SocketAddr,
        tls: bool,
    ) -> Self {
        ConnState {
            server,
            guard,
            peer,
            tls,
            session: Mutex::new(Box::new(NotOpen)),
            copy_resumes_batch: std::sync::atomic::AtomicBool::new(false),
            statement_names: std::sync::Mutex::new(std::collections::BTreeSet::new()),
        }
    }

    /// The session (a [`NotOpen`] placeholder until authentication succeeded; the guard
    /// keeps session messages away until then).
    pub(crate) async fn session(&self) -> SessionGuard<'_> {
        self.session.lock().await
    }

    /// Tell the session about a failure it did not see, and copy its status into pgwire's
    /// client state.
    pub(crate) async fn fail_transaction<C: ClientInfo>(&self, client: &mut C) {
        let mut s = self.session().await;
        s.fail_transaction().await;
        client.set_transaction_status(tx_byte(s.transaction_status()));
    }

    /// End of connection: let the session roll back and release resources. Runs once: the
    /// session is taken out of the slot.
    pub(crate) async fn terminate(&self) {
        let mut slot = self.session.lock().await;
        let mut session = std::mem::replace(&mut *slot, Box::new(NotOpen));
        session.terminate().await;
    }

    async fn open_session<C: ClientInfo>(&self, client: &C) -> PgWireResult<()> {
        let md = client.metadata();
        let user = md.get("user").cloned().unwrap_or_default();
        if user.is_empty() {
            return Err(user_error(&SqlError::fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                "no PostgreSQL user name specified in startup packet",
            )));
        }
        let mut parameters: Vec<(String, String)> =
            md.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        parameters.sort();
        let info = StartupInfo {
            user,
            database: md.get("database").cloned(),
            application_name: md.get("application_name").cloned(),
            parameters,
            peer_addr: self.peer,
            tls: self.tls,
        };
        let session = self.server.factory.open(info).await.map_err(|mut e| {
            // Failing to open a session always ends the connection.
            e.severity = crate::session::Severity::Fatal;
            user_error(&e)
        })?;
        *self.session.lock().await = session;
        Ok(())
    }
}

/// Receiver fired by a CancelRequest for this connection (None before authentication).
pub(crate) async fn cancel_receiver<C: ClientInfo>(client: &C) -> Option<oneshot::Receiver<()>> {
    let handle = client.session_extensions().get::<Arc<ConnectionHandle>>()?;
    Some(handle.start_query().await)
}

/// Run `work` unless a CancelRequest fires first; `None` = cancelled (the work future was
/// dropped, which is how statements are interrupted). A cancel channel that closes without
/// firing does not count.
pub(crate) async fn run_cancellable<F: Future>(
    work: F,
    cancel: Option<oneshot::Receiver<()>>,
) -> Option<F::Output> {
    let Some(rx) = cancel else {
        return Some(work.await);
    };
    let mut work = std::pin::pin!(work);
    match select(work.as_mut(), rx).await {
        Either::Left((out, _)) => Some(out),
        Either::Right((Ok(()), _)) => None,
        Either::Right((Err(_), _)) => Some(work.await),
    }
}

/// The error sent for a cancelled statement.
pub(crate) fn canceled() -> SqlError {
    SqlError::new(
        SqlState::QUERY_CANCELED,
        "canceling statement due to user request",
    )
}

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
            PgWireFrontendMessage::Startup(startup) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                match self.server.auth.mode_for(self.peer.ip()) {
                    AuthMode::Trust => {
                        self.open_session(client).await?;
                        self.server
                            .driver
                            .complete_authentication(client, None)
                            .await?;
                        self.guard.set_auth(AuthPhase::Done);
                    }
                    AuthMode::ScramSha256 => {
                        self.guard.set_auth(AuthPhase::Sasl);
                        // SCRAM's begin always answers AuthenticationSASL (InProgress).
                        self.server
                            .driver
                            .begin_authentication(client, self.server.scram.create())
                            .await?;
                    }
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                let outcome = self.server.driver.advance_authentication(client, msg).await;
                match outcome {
                    Ok(AuthOutcome::InProgress) => {}
                    Ok(AuthOutcome::Authenticated { final_message, .. }) => {
                        self.open_session(client).await?;
                        self.server
                            .driver
                            .complete_authentication(client, final_message)
                            .await?;
                        self.guard.set_auth(AuthPhase::Done);
                    }
                    Err(e) => {
                        self.guard.set_auth(AuthPhase::None);
                        return Err(e);
                    }
                }
            }
            // The guard lets nothing else through before authentication.
            _ => {}
        }
        Ok(())
    }
}

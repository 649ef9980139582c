//! The listener and the per-connection message loop: [`serve`], [`ServerConfig`].
//!
//! **Role**: the server binary calls [`serve`] with a bound listener and its
//! [`SessionFactory`]. Each accepted connection runs on a thread of its own (with a
//! current-thread runtime, see [`on_own_thread`]): pgwire's
//! `negotiate_tls`, then our message loop (the equivalent of pgwire's private
//! `process_socket_messages!`) over a `Framed` rebuilt around a
//! [`FrameGuard`](crate::guard::FrameGuard), dispatching each message with pgwire's
//! `process_message` to the handlers in `crate::adapter`, `crate::simple` and
//! `crate::extended`.
//!
//! # Invariants
//! 1. A malformed frontend message gets FATAL (08P01, or 0A000 for an unsupported protocol
//!    version) and closes only its own connection; it is never decoded by pgwire. Tests
//!    `it::guard::*` (including against a server that aborts on any panic).
//! 2. At most `max_connections` connections are served; the next ones get FATAL 53300 "sorry,
//!    too many clients already" (at most `REJECTING_CONNECTIONS_MAX` of those at a time, the
//!    rest are closed silently). Test `it::lifecycle::connection_limit_refuses_with_53300`.
//! 3. Shutdown: the listener is closed first; idle connections are closed at once with
//!    FATAL 57P01; busy ones (a statement running, a transaction block open, an unfinished
//!    extended-protocol sequence) get `shutdown_grace` to reach idle, then are closed the same
//!    way; `serve` returns when every connection task has ended. Test
//!    `it::lifecycle::shutdown_lets_running_statement_finish_then_closes`.
//! 4. [`Session::terminate`](crate::Session::terminate) runs once per opened session when its
//!    connection ends, bounded by `TERMINATE_TIMEOUT`.
//!
//! # Concurrency
//! One thread per connection, each running its connection task on a current-thread runtime
//! (so a [`Session`](crate::Session) may block that thread in its calls: disk I/O, row-lock
//! waits), plus the accept loop on the caller's runtime, which keeps one waiter task per
//! connection thread. They share [`ServerShared`] (immutable apart from pgwire's cancel
//! registry) and a `watch` channel carrying the server phase.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::{ClientInfo, NoopHandler, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{
    negotiate_tls, process_error, process_message, PgWireMessageServerCodec,
};
use pgwire::tokio::tokio_rustls::rustls;
use pgwire::tokio::TlsAcceptor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::codec::{Framed, FramedParts};
use tracing::Instrument;

use crate::adapter::{ConnState, ServerShared};
use crate::auth::{AuthConfig, CredentialStore};
use crate::error::Error;
use crate::frame::{Limits, Refusal, LARGE_MESSAGE_BYTES_MAX};
use crate::guard::{violation_of, AuthPhase, FrameGuard, GuardShared};
use crate::session::{PreparedStatement, SessionFactory, SqlError, SqlState};
use crate::simple::{feed_error, ready_for_query};
use crate::wire::{error_info, tx_byte, user_error};

/// Over-limit connections being answered with 53300 at the same time; beyond this they are
/// closed without a message, so a connection flood cannot create unbounded tasks.
const REJECTING_CONNECTIONS_MAX: usize = 64;
/// How long an over-limit or closing connection may take to receive its FATAL message.
const FATAL_SEND_TIMEOUT: Duration = Duration::from_secs(1);
/// Bound on `Session::terminate` when a connection ends.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the grace period, how long closing connections get before their tasks are aborted.
const FORCE_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause after a failed `accept` (EMFILE and the like) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

type Socket = Framed<
    FrameGuard<pgwire::tokio::server::MaybeTls>,
    PgWireMessageServerCodec<PreparedStatement>,
>;

/// A TLS server configuration (certificate chain and key), cheap to clone.
#[derive(Clone)]
pub struct TlsConfig(TlsAcceptor);

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig")
    }
}

/// TLS from PEM files: a certificate chain and its private key (TLS 1.2 and 1.3, ring).
/// Plain connections are still accepted; SSLRequest is answered 'S'.
pub fn tls_from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| Error::TlsCertificates {
            path: cert.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(Error::TlsNoCertificate {
            path: cert.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| Error::TlsPrivateKey {
        path: key.to_owned(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|source| Error::TlsConfig { source })?;
    // PostgreSQL 17+ "direct SSL" (sslnegotiation=direct) requires this ALPN.
    cfg.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsConfig(TlsAcceptor::from(Arc::new(cfg))))
}

/// ParameterStatus values reported after authentication. `server_version` decides which
/// catalog queries psql and drivers send, so it names a real PostgreSQL release.
pub fn default_parameters() -> Vec<(String, String)> {
    [
        ("server_version", "15.0"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("IntervalStyle", "postgres"),
        ("integer_datetimes", "on"),
        ("TimeZone", "UTC"),
        ("standard_conforming_strings", "on"),
        ("is_superuser", "on"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Everything [`serve`] needs besides the listener and the engine.
#[derive(Clone)]
pub struct ServerConfig {
    pub tls: Option<TlsConfig>,
    pub auth: AuthConfig,
    /// SCRAM verifiers; `None` = no user can log in with SCRAM.
    pub credentials: Option<Arc<dyn CredentialStore>>,
    /// ParameterStatus values sent after AuthenticationOk; `session_authorization` and
    /// `application_name` are added per connection.
    pub parameters: Vec<(String, String)>,
    pub max_connections: usize,
    /// How long busy connections may run on after shutdown began.
    pub shutdown_grace: Duration,
    /// Time from accept to the end of authentication.
    pub startup_timeout: Duration,
    /// Limit for Query, Parse, Bind and CopyData messages, at most 1 GiB - 2.
    pub large_message_bytes_max: usize,
    /// Stack of each connection's thread, where the session's calls run (SQL engines
    /// recurse as deep as the statements nest).
    pub connection_stack_bytes: usize,
}

/// Default [`ServerConfig::connection_stack_bytes`]: what Cairn's binder and executor need
/// for the deepest nesting they accept (`cairn_sql_plan::NESTING_DEPTH_MAX`).
pub const CONNECTION_STACK_BYTES_DEFAULT: usize = 16 << 20;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tls: None,
            auth: AuthConfig::default(),
            credentials: None,
            parameters: default_parameters(),
            max_connections: 256,
            shutdown_grace: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(60),
            large_message_bytes_max: LARGE_MESSAGE_BYTES_MAX,
            connection_stack_bytes: CONNECTION_STACK_BYTES_DEFAULT,
        }
    }
}

/// Server lifecycle as seen by connection tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    /// Shutdown began: close connections as soon as they are idle.
    Draining,
    /// Grace period over: close every connection now.
    Closing,
}

/// Per-server context of connection tasks.
struct ConnContext {
    shared: Arc<ServerShared>,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    startup_timeout: Duration,
    connection_stack_bytes: usize,
}

/// Serve PostgreSQL clients on `listener` until `shutdown` completes, then shut down as
/// described in the module docs. Returns when every connection task has ended.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    factory: Arc<dyn SessionFactory>,
    shutdown: impl Future<Output = ()>,
) {
    let ctx = Arc::new(ConnContext {
        shared: Arc::new(ServerShared::new(
            factory,
            config.auth,
            config.credentials.clone(),
            config.parameters.clone(),
        )),
        tls: config.tls.as_ref().map(|t| t.0.clone()),
        limits: Limits {
            large_message_bytes_max: config.large_message_bytes_max.min(LARGE_MESSAGE_BYTES_MAX),
        },
        startup_timeout: config.startup_timeout,
        connection_stack_bytes: config.connection_stack_bytes,
    });
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let reject_slots = Arc::new(Semaphore::new(REJECTING_CONNECTIONS_MAX));
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => log_task_end(done),
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let span = tracing::debug_span!("pg_connection", %peer);
                        let fut = on_own_thread(sock, peer, ctx.clone(), phase_rx.clone(), slot, span);
                        tasks.spawn(fut);
                    }
                    Err(_) => match reject_slots.clone().try_acquire_owned() {
                        Ok(slot) => {
                            tasks.spawn(reject_too_many(sock, slot));
                        }
                        Err(_) => drop(sock),
                    },
                },
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    tracing::info!(connections = tasks.len(), "shutting down: listener closed");
    let _ = phase_tx.send(Phase::Draining);
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            log_task_end(done);
        }
    };
    if timeout(config.shutdown_grace, drain).await.is_err() {
        let _ = phase_tx.send(Phase::Closing);
        let close = async {
            while let Some(done) = tasks.join_next().await {
                log_task_end(done);
            }
        };
        if timeout(FORCE_CLOSE_TIMEOUT, close).await.is_err() {
            tracing::warn!(connections = tasks.len(), "aborting connection tasks");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }
    tracing::info!("shut down");
}

fn log_task_end(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            tracing::error!(error = %e, "connection task panicked");
        }
    }
}

fn fatal_bytes(e: &SqlError) -> BytesMut {
    let mut buf = BytesMut::new();
    let msg = PgWireBackendMessage::ErrorResponse(error_info(e).into());
    if let Err(err) = msg.encode(&mut buf) {
        tracing::debug!(error = %err, "encode error response");
    }
    buf
}

/// Answer a connection over `max_connections` with FATAL 53300 and close it. The client's
/// startup bytes are read and dropped after the message, so closing does not reset the
/// connection before the client read it.
async fn reject_too_many(mut sock: TcpStream, _slot: OwnedSemaphorePermit) {
    let e = SqlError::fatal(
        SqlState::TOO_MANY_CONNECTIONS,
        "sorry, too many clients already",
    );
    let bytes = fatal_bytes(&e);
    let _ = timeout(FATAL_SEND_TIMEOUT, async {
        sock.write_all(&bytes).await?;
        sock.shutdown().await?;
        let mut sink = [0u8; 1024];
        for _ in 0..64 {
            if sock.read(&mut sink).await? == 0 {
                break;
            }
        }
        Ok::<(), io::Error>(())
    })
    .await;
}

/// Runs [`connection`] on a new thread with a current-thread runtime; the returned future
/// ends when the connection does, and dropping it (`JoinSet::abort_all` at shutdown) drops
/// the connection's future on its thread, as aborting a task would.
///
/// Why a thread per connection: the engine's calls are synchronous and may block (disk I/O,
/// row-lock waits). On a shared multi-thread runtime each such call needs
/// `block_in_place`, which hands the worker's run queue to another thread and back on every
/// statement (futex wake-ups and context switches were about a tenth of the server's CPU in
/// pgbench). On its own thread a blocking call stalls only its own connection, as a backend
/// process does in PostgreSQL. The socket moves to the thread's runtime, so its reads and
/// writes are driven there with no cross-thread wake-up.
async fn on_own_thread(
    sock: TcpStream,
    peer: SocketAddr,
    ctx: Arc<ConnContext>,
    phase: watch::Receiver<Phase>,
    slot: OwnedSemaphorePermit,
    span: tracing::Span,
) {
    let sock = match sock.into_std() {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "detach an accepted socket");
            return;
        }
    };
    let stack_bytes = ctx.connection_stack_bytes;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let (abort_tx, abort_rx) = tokio::sync::oneshot::channel::<()>();
    let run = move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::warn!(error = %e, "build a connection runtime");
                return;
            }
        };
        rt.block_on(
            async move {
                let sock = match TcpStream::from_std(sock) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!(error = %e, "attach an accepted socket");
                        return;
                    }
                };
                tokio::select! {
                    () = connection(sock, peer, ctx, phase, slot) => {}
                    // The waiter was dropped (aborted): drop the connection now.
                    _ = abort_rx => {}
                }
            }
            .instrument(span),
        );
        // Dropping the runtime here closes whatever the connection left open.
        drop(rt);
        let _ = done_tx.send(());
    };
    if let Err(e) = std::thread::Builder::new()
        .name("pg-connection".into())
        .stack_size(stack_bytes)
        .spawn(run)
    {
        tracing::warn!(error = %e, "spawn a connection thread");
        return;
    }
    // Holds `abort_tx` until the thread is done; dropped early, it ends the connection.
    let _abort = abort_tx;
    let _ = done_rx.await;
}

async fn connection(
    sock: TcpStream,
    peer: SocketAddr,
    ctx: Arc<ConnContext>,
    mut phase: watch::Receiver<Phase>,
    _slot: OwnedSemaphorePermit,
) {
    let deadline = Instant::now() + ctx.startup_timeout;
    let negotiated = tokio::select! {
        r = negotiate_tls::<PreparedStatement>(sock, ctx.tls.clone()) => r,
        () = sleep_until(deadline) => return,
        _ = phase.wait_for(|p| *p != Phase::Running) => return,
    };
    let framed = match negotiated {
        Ok(Some(framed)) => framed,
        // direct TLS without TLS configured
        Ok(None) => return,
        Err(e) => {
            tracing::debug!(error = %e, "tls negotiation failed");
            return;
        }
    };
    let tls = framed.is_secure();
    let parts = framed.into_parts();
    let guard_shared = Arc::new(GuardShared::default());
    let guard = FrameGuard::new(
        parts.io,
        parts.read_buf,
        tls,
        ctx.limits,
        guard_shared.clone(),
    );
    let mut rebuilt = FramedParts::new::<PgWireBackendMessage>(guard, parts.codec);
    rebuilt.write_buf = parts.write_buf;
    let mut socket: Socket = Framed::from_parts(rebuilt);
    let conn = Arc::new(ConnState::new(ctx.shared.clone(), guard_shared, peer, tls));

    if let Err(e) = message_loop(&mut socket, &conn, &mut phase, deadline).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
    if timeout(TERMINATE_TIMEOUT, conn.terminate()).await.is_err() {
        tracing::warn!("session terminate timed out");
    }
    let _ = timeout(FATAL_SEND_TIMEOUT, socket.close()).await;
}

async fn send_fatal(socket: &mut Socket, e: SqlError) {
    let msg = PgWireBackendMessage::ErrorResponse(error_info(&e).into());
    let _ = timeout(FATAL_SEND_TIMEOUT, socket.send(msg)).await;
}

fn shutdown_error() -> SqlError {
    SqlError::fatal(
        SqlState::ADMIN_SHUTDOWN,
        "terminating connection due to administrator command",
    )
}

/// pgwire errors whose text or code differ from PostgreSQL's.
fn postgres_error(e: PgWireError, socket: &Socket) -> PgWireError {
    match e {
        // pgwire names the (usually empty) SCRAM user and capitalises the message.
        PgWireError::InvalidPassword(_) => {
            let user = socket.metadata().get("user").cloned().unwrap_or_default();
            user_error(&SqlError::fatal(
                SqlState::INVALID_PASSWORD,
                format!("password authentication failed for user \"{user}\""),
            ))
        }
        PgWireError::PortalNotFound(name) => user_error(&SqlError::new(
            SqlState::INVALID_CURSOR_NAME,
            format!("portal \"{}\" does not exist", shown_name(&name)),
        )),
        PgWireError::StatementNotFound(name) => user_error(&SqlError::new(
            SqlState::INVALID_SQL_STATEMENT_NAME,
            format!(
                "prepared statement \"{}\" does not exist",
                shown_name(&name)
            ),
        )),
        other => other,
    }
}

/// pgwire's internal name of the unnamed statement/portal is shown as "", as PostgreSQL does.
fn shown_name(name: &str) -> &str {
    if name == pgwire::api::DEFAULT_NAME {
        ""
    } else {
        name
    }
}

enum Event {
    Message(Option<Result<PgWireFrontendMessage, PgWireError>>),
    StartupTimeout,
    PhaseChanged,
}

/// Read, validate (via the guard) and dispatch messages until the connection ends.
async fn message_loop(
    socket: &mut Socket,
    conn: &Arc<ConnState>,
    phase: &mut watch::Receiver<Phase>,
    deadline: Instant,
) -> Result<(), PgWireError> {
    let cancel_handler = Arc::new(DefaultCancelHandler::new(conn.server.cancel.clone()));
    let copy_handler = Arc::new(NoopHandler);
    // The last message sent was ReadyForQuery: nothing is in progress.
    let mut at_ready = false;
    loop {
        let authenticated = conn.guard.auth() == AuthPhase::Done;
        let idle = authenticated
            && at_ready
            && matches!(socket.state(), PgWireConnectionState::ReadyForQuery)
            && socket.transaction_status() == TransactionStatus::Idle;
        let current = *phase.borrow_and_update();
        if current == Phase::Closing || (current == Phase::Draining && (idle || !authenticated)) {
            send_fatal(socket, shutdown_error()).await;
            return Ok(());
        }
        let event = tokio::select! {
            m = socket.next() => Event::Message(m),
            () = sleep_until(deadline), if !authenticated => Event::StartupTimeout,
            changed = phase.changed() => match changed {
                Ok(()) => Event::PhaseChanged,
                // serve() is gone: treat as the end of the grace period
                Err(_) => return Ok(()),
            },
        };
        let msg = match event {
            Event::PhaseChanged => continue,
            Event::StartupTimeout => {
                tracing::debug!("startup timed out");
                return Ok(());
            }
            Event::Message(None) => return Ok(()),
            Event::Message(Some(Err(e))) => {
                let fatal = match &e {
                    PgWireError::IoError(io) => violation_of(io).map(|v| {
                        SqlError::fatal(v.sqlstate(), format!("invalid frontend message: {v}"))
                    }),
                    _ => None,
                };
                let Some(fatal) = fatal else {
                    return Err(e);
                };
                send_fatal(socket, fatal).await;
                return Ok(());
            }
            Event::Message(Some(Ok(msg))) => msg,
        };
        if matches!(msg, PgWireFrontendMessage::Terminate(_)) {
            return Ok(());
        }
        let is_cancel = matches!(msg, PgWireFrontendMessage::CancelRequest(_));
        let copy_state = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => Some(extended),
            _ => None,
        };
        let refusal = match msg {
            PgWireFrontendMessage::Flush(_) => conn.guard.take_refusal(),
            _ => None,
        };
        let wait_for_sync = match (copy_state, refusal) {
            (Some(extended), _) => extended,
            (None, Some(Refusal::InvalidUtf8 { extended })) => extended,
            (None, Some(Refusal::FunctionCall)) => false,
            (None, None) => msg.is_extended_query(),
        };
        at_ready = matches!(
            msg,
            PgWireFrontendMessage::Query(_)
                | PgWireFrontendMessage::Sync(_)
                | PgWireFrontendMessage::Startup(_)
                | PgWireFrontendMessage::PasswordMessageFamily(_)
                | PgWireFrontendMessage::CopyDone(_)
                | PgWireFrontendMessage::CopyFail(_)
        ) || refusal.is_some_and(|_| !wait_for_sync);

        let work = async {
            match (copy_state, refusal) {
                (_, Some(r)) => refused(socket, conn, r, copy_state).await,
                (Some(extended), None) => conn.copy_message(socket, msg, extended).await,
                (None, None) => {
                    process_message(
                        msg,
                        socket,
                        conn.clone(),
                        conn.clone(),
                        conn.clone(),
                        copy_handler.clone(),
                        cancel_handler.clone(),
                    )
                    .await
                }
            }
        };
        let result = tokio::select! {
            r = work => Some(r),
            _ = phase.wait_for(|p| *p == Phase::Closing) => None,
        };
        let Some(result) = result else {
            // Grace period over while a statement ran: it was dropped above.
            send_fatal(socket, shutdown_error()).await;
            return Ok(());
        };
        if is_cancel {
            return Ok(());
        }
        let Err(e) = result else {
            continue;
        };
        let e = postgres_error(e, socket);
        if e.is_fatal() {
            let info: ErrorInfo = e.into();
            let _ = timeout(
                FATAL_SEND_TIMEOUT,
                socket.send(PgWireBackendMessage::ErrorResponse(info.into())),
            )
            .await;
            return Ok(());
        }
        if authenticated {
            conn.fail_transaction(socket).await;
        }
        process_error(socket, e, wait_for_sync).await?;
    }
}

/// Answer a message the guard withheld (see `crate::frame::Refusal`). Skipped while the
/// extended protocol discards messages until Sync; during COPY it fails the COPY.
async fn refused(
    socket: &mut Socket,
    conn: &ConnState,
    refusal: Refusal,
    copy_state: Option<bool>,
) -> Result<(), PgWireError> {
    if matches!(socket.state(), PgWireConnectionState::AwaitingSync) {
        return Ok(());
    }
    let e = match refusal {
        Refusal::FunctionCall => SqlError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "fast-path function calls are not supported",
        ),
        Refusal::InvalidUtf8 { .. } => SqlError::new(
            SqlState::CHARACTER_NOT_IN_REPERTOIRE,
            "invalid byte sequence for encoding \"UTF8\"",
        ),
    };
    if let Some(extended) = copy_state {
        return conn.copy_failed(socket, e, extended).await;
    }
    if let Refusal::InvalidUtf8 { extended: true } = refusal {
        // the loop sends it and skips to Sync
        return Err(user_error(&e));
    }
    let mut session = conn.session().await;
    session.fail_transaction().await;
    socket.set_transaction_status(tx_byte(session.transaction_status()));
    feed_error(socket, user_error(&e)).await?;
    ready_for_query(socket, &mut **session).await
}

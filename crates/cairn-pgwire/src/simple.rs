//! Simple query protocol ('Q') and COPY FROM STDIN, driving the session's pull-based batch.
//!
//! **Role**: pgwire's `process_message` calls [`ConnState`]'s `on_query` for 'Q'; the
//! connection loop (`crate::server`) calls [`ConnState::copy_message`] for every message while
//! a COPY FROM STDIN runs, because pgwire's own copy dispatch sends ReadyForQuery after
//! CopyDone, which would cut off the rest of a batch.
//!
//! # Invariants
//! 1. Statement N+1 of a batch is pulled only after every message of statement N was queued
//!    (invariant 2 of `crate::session`). Test
//!    `it::raw_protocol::batch_statements_run_after_previous_rows_were_sent`.
//! 2. The first error ends the batch: ErrorResponse, then ReadyForQuery with the session's
//!    status. Test `it::raw_protocol::simple_query_message_sequences`.
//! 3. A COPY FROM STDIN inside a batch pauses it; CopyDone resumes it with the next
//!    statement; CopyFail or a COPY error ends it (ErrorResponse + ReadyForQuery).
//!    Tests `it::raw_protocol::copy_in_inside_a_batch_resumes_the_batch`,
//!    `it::psql::psql_copy_from_stdin`.
//! 4. ParameterStatus for changed settings and pending notices precede every ReadyForQuery;
//!    notices raised by a statement precede its result. Test `it::raw_protocol::notices_precede_results`.
//!
//! # Concurrency
//! Runs on the connection task. The whole batch runs inside `run_cancellable`, so a
//! CancelRequest drops it at any await point, including while rows stream.

use std::fmt::Debug;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::response::{CommandComplete, ReadyForQuery, TransactionStatus};
use pgwire::messages::simplequery::Query;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::adapter::{cancel_receiver, canceled, run_cancellable, ConnState};
use crate::results::{send_result, Sent};
use crate::session::{Deallocation, Session, SqlError, SqlState, StatementResult};
use crate::wire::{feed_session_messages, tx_byte, user_error};

/// How a batch stopped.
pub(crate) enum BatchEnd {
    Done,
    /// Paused in COPY FROM STDIN.
    CopyIn,
}

/// Queue an error for the client; a FATAL one is returned instead, so the connection loop
/// sends it and closes.
pub(crate) async fn feed_error<C>(client: &mut C, e: PgWireError) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    if e.is_fatal() {
        return Err(e);
    }
    let info: ErrorInfo = e.into();
    client
        .feed(PgWireBackendMessage::ErrorResponse(info.into()))
        .await?;
    Ok(())
}

/// Pull and send statements until the batch ends, fails or enters COPY FROM STDIN.
pub(crate) async fn continue_batch<C>(
    client: &mut C,
    session: &mut dyn Session,
) -> PgWireResult<BatchEnd>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    loop {
        let next = session.simple_query_next().await;
        feed_session_messages(client, session.take_notices(), Vec::new()).await?;
        let result = match next {
            None => return Ok(BatchEnd::Done),
            Some(Err(e)) => {
                feed_error(client, user_error(&e)).await?;
                return Ok(BatchEnd::Done);
            }
            Some(Ok(result)) => result,
        };
        match send_result(client, result, true, false).await? {
            Sent::Done => {}
            Sent::CopyIn => return Ok(BatchEnd::CopyIn),
            Sent::Failed(e) => {
                session.fail_transaction().await;
                feed_error(client, e).await?;
                return Ok(BatchEnd::Done);
            }
        }
    }
}

async fn run_batch<C>(
    client: &mut C,
    session: &mut dyn Session,
    sql: &str,
) -> PgWireResult<BatchEnd>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let started = session.simple_query_start(sql).await;
    feed_session_messages(client, session.take_notices(), Vec::new()).await?;
    if let Err(e) = started {
        feed_error(client, user_error(&e)).await?;
        return Ok(BatchEnd::Done);
    }
    continue_batch(client, session).await
}

/// Run a batch (or its rest) under the connection's cancel signal.
pub(crate) async fn run_batch_cancellable<C>(
    client: &mut C,
    session: &mut dyn Session,
    sql: Option<&str>,
) -> PgWireResult<BatchEnd>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let cancel = cancel_receiver(client).await;
    let outcome = match sql {
        Some(sql) => run_cancellable(run_batch(client, session, sql), cancel).await,
        None => run_cancellable(continue_batch(client, session), cancel).await,
    };
    match outcome {
        Some(end) => end,
        None => {
            session.fail_transaction().await;
            feed_error(client, user_error(&canceled())).await?;
            Ok(BatchEnd::Done)
        }
    }
}

/// End of a simple-query cycle: session messages, portal cleanup, ReadyForQuery (flushed).
pub(crate) async fn ready_for_query<C>(
    client: &mut C,
    session: &mut dyn Session,
) -> PgWireResult<()>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send,
    C::PortalStore: PortalStore,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    feed_session_messages(
        client,
        session.take_notices(),
        session.take_parameter_changes(),
    )
    .await?;
    let status = tx_byte(session.transaction_status());
    if status == TransactionStatus::Idle {
        // PostgreSQL drops every portal at transaction end; pgwire keeps named ones.
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

#[async_trait]
impl SimpleQueryHandler for ConnState {
    /// Replaces pgwire's `on_query`, which needs every statement executed before the first
    /// result is sent, derives the status byte from `Response` variants (no savepoint
    /// recovery E -> T) and keeps sending results after an error.
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.set_state(PgWireConnectionState::QueryInProgress);
        let mut session = self.session().await;
        let end = run_batch_cancellable(client, &mut **session, Some(&query.query)).await?;
        match end {
            BatchEnd::CopyIn => {
                self.copy_resumes_batch.store(true, Ordering::Relaxed);
                client.set_transaction_status(tx_byte(session.transaction_status()));
                Ok(())
            }
            BatchEnd::Done => {
                self.apply_deallocations(client, &mut **session);
                ready_for_query(client, &mut **session).await
            }
        }
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // on_query is overridden and never calls do_query.
        Err(PgWireError::ApiError("simple do_query is not used".into()))
    }
}

impl ConnState {
    /// A COPY FROM STDIN failed (engine error, CopyFail, unexpected message). Simple
    /// protocol: ErrorResponse + ReadyForQuery now, the rest of the batch is dropped.
    /// Extended: the error is returned, so the loop sends it and skips to Sync.
    /// Drops the statements the session's SQL `DEALLOCATE` named.
    fn apply_deallocations<C>(&self, client: &mut C, session: &mut dyn Session)
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        for d in session.take_deallocations() {
            let Ok(mut names) = self.statement_names.lock() else {
                return;
            };
            match d {
                Deallocation::All => {
                    for n in std::mem::take(&mut *names) {
                        client.portal_store().rm_statement(&n);
                    }
                }
                Deallocation::Named(n) => {
                    names.remove(&n);
                    client.portal_store().rm_statement(&n);
                }
            }
        }
    }

    pub(crate) async fn copy_failed<C>(
        &self,
        client: &mut C,
        e: SqlError,
        extended: bool,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.copy_resumes_batch.store(false, Ordering::Relaxed);
        let mut session = self.session().await;
        session.fail_transaction().await;
        if extended {
            client.set_state(PgWireConnectionState::ReadyForQuery);
            client.set_transaction_status(tx_byte(session.transaction_status()));
            return Err(user_error(&e));
        }
        feed_error(client, user_error(&e)).await?;
        ready_for_query(client, &mut **session).await
    }

    /// One frontend message while the connection is in COPY FROM STDIN.
    pub(crate) async fn copy_message<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
        extended: bool,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::CopyData(data) => {
                let res = self.session().await.copy_in_data(data.data).await;
                match res {
                    Ok(()) => Ok(()),
                    Err(e) => self.copy_failed(client, e, extended).await,
                }
            }
            PgWireFrontendMessage::CopyDone(_) => {
                let res = self.session().await.copy_in_done().await;
                let tag = match res {
                    Ok(StatementResult::Command { tag }) => tag,
                    Ok(other) => {
                        let e = SqlError::new(
                            SqlState::INTERNAL_ERROR,
                            format!("COPY finished with {other:?} instead of a command tag"),
                        );
                        return self.copy_failed(client, e, extended).await;
                    }
                    Err(e) => return self.copy_failed(client, e, extended).await,
                };
                client
                    .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                        tag,
                    )))
                    .await?;
                client.set_state(PgWireConnectionState::ReadyForQuery);
                let mut session = self.session().await;
                client.set_transaction_status(tx_byte(session.transaction_status()));
                if extended {
                    // Sync follows and sends ReadyForQuery.
                    return Ok(());
                }
                if self.copy_resumes_batch.swap(false, Ordering::Relaxed) {
                    client.set_state(PgWireConnectionState::QueryInProgress);
                    if let BatchEnd::CopyIn =
                        run_batch_cancellable(client, &mut **session, None).await?
                    {
                        self.copy_resumes_batch.store(true, Ordering::Relaxed);
                        return Ok(());
                    }
                }
                ready_for_query(client, &mut **session).await
            }
            PgWireFrontendMessage::CopyFail(fail) => {
                let e = SqlError::new(
                    SqlState::QUERY_CANCELED,
                    format!("COPY from stdin failed: {}", fail.message),
                );
                self.copy_failed(client, e, extended).await
            }
            // PostgreSQL ignores Flush and Sync during copy-in; drivers pipeline a Sync
            // right after the Execute that starts a COPY.
            PgWireFrontendMessage::Flush(_) | PgWireFrontendMessage::Sync(_) => Ok(()),
            other => {
                let e = SqlError::new(
                    SqlState::PROTOCOL_VIOLATION,
                    format!(
                        "unexpected message during COPY from stdin: {}",
                        message_name(&other)
                    ),
                );
                self.copy_failed(client, e, extended).await
            }
        }
    }
}

/// Short name of a frontend message for error texts.
pub(crate) fn message_name(m: &PgWireFrontendMessage) -> &'static str {
    match m {
        PgWireFrontendMessage::Query(_) => "Query",
        PgWireFrontendMessage::Parse(_) => "Parse",
        PgWireFrontendMessage::Bind(_) => "Bind",
        PgWireFrontendMessage::Describe(_) => "Describe",
        PgWireFrontendMessage::Execute(_) => "Execute",
        PgWireFrontendMessage::Close(_) => "Close",
        PgWireFrontendMessage::Sync(_) => "Sync",
        PgWireFrontendMessage::Flush(_) => "Flush",
        PgWireFrontendMessage::Terminate(_) => "Terminate",
        PgWireFrontendMessage::CopyData(_) => "CopyData",
        PgWireFrontendMessage::CopyDone(_) => "CopyDone",
        PgWireFrontendMessage::CopyFail(_) => "CopyFail",
        PgWireFrontendMessage::PasswordMessageFamily(_) => "PasswordMessage",
        _ => "startup message",
    }
}

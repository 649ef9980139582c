//! Extended query protocol (Parse, Bind, Describe, Execute, Sync, Close, Flush) on top of the
//! session.
//!
//! **Role**: pgwire's `process_message` calls these [`ExtendedQueryHandler`] methods. Bind,
//! Close and Flush use pgwire's defaults (portal bookkeeping in its `MemPortalStore`); Parse,
//! Describe(statement), Execute and Sync are replaced.
//!
//! # Invariants
//! 1. Parse hands the raw parameter OIDs to the session (pgwire's default maps them through
//!    `Type::from_oid` and loses unknown ones). Test `it::raw_protocol::parse_keeps_unknown_parameter_oids`.
//! 2. Execute streams rows straight to the socket for any row limit; a limited Execute sends
//!    PortalSuspended and keeps the rest of the stream in the portal. A row limit <= 0 means
//!    "all", as in PostgreSQL (pgwire's default casts it to `usize` and panics allocating).
//!    Tests `it::raw_protocol::execute_with_row_limit_suspends_portal`,
//!    `it::raw_protocol::negative_row_limit_means_all_rows`.
//! 3. Describe(statement) of a statement without result columns answers NoData (pgwire sends
//!    an empty RowDescription when it has parameters). Test
//!    `it::raw_protocol::describe_statement_without_rows_sends_nodata`.
//! 4. Sync lets the session end the implicit transaction and reports its status; portals are
//!    dropped when the status returns to Idle. Test `it::raw_protocol::execute_with_row_limit_suspends_portal`.
//!
//! # Concurrency
//! Runs on the connection task. Execute runs under `run_cancellable`.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format as PgFormat, Portal, PortalExecutionState};
use pgwire::api::query::ExtendedQueryHandler;
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse, Response,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState, Type, DEFAULT_NAME};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Describe, Execute, Parse, ParseComplete, PortalSuspended, Sync as PgSync,
    TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus,
};
use pgwire::messages::PgWireBackendMessage;

use crate::adapter::{cancel_receiver, canceled, run_cancellable, ConnState};
use crate::results::{data_rows, pump_rows, send_result, Pumped, Sent};
use crate::session::{Format, PreparedStatement, SqlError, SqlState, StatementResult};
use crate::wire::{
    expand_formats, feed_session_messages, field_info, pg_type, row_description, tx_byte,
    user_error,
};

/// pgwire's statement-metadata interface over [`PreparedStatement`]. Parsing itself happens
/// in `on_parse`, which calls the session directly.
pub(crate) struct StatementMeta;

#[async_trait]
impl QueryParser for StatementMeta {
    type Statement = PreparedStatement;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        _sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<PreparedStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        Err(PgWireError::ApiError("parse_sql is not used".into()))
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

/// PostgreSQL treats a query of only whitespace and semicolons as empty.
fn is_empty_query(sql: &str) -> bool {
    sql.chars().all(|c| c == ';' || c.is_whitespace())
}

impl ConnState {
    /// Run a portal: start it (Initial) or continue it (Suspended), sending at most `limit`
    /// rows. Returns the error to report, if the statement or its rows failed.
    async fn execute_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<PreparedStatement>,
        limit: Option<usize>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut state = portal.state.lock().await;
        if let PortalExecutionState::Suspended(resp) = &mut *state {
            let tag = resp.command_tag().to_owned();
            let pumped = pump_rows(client, resp.data_rows(), limit).await?;
            return self.finish_rows(client, &mut state, pumped, tag).await;
        }
        if let PortalExecutionState::Finished = &*state {
            // PostgreSQL answers a completed portal with an empty result.
            client
                .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    "SELECT 0".to_owned(),
                )))
                .await?;
            return Ok(());
        }
        *state = PortalExecutionState::Finished;

        let stmt = &portal.statement.statement;
        let ncols = stmt.columns.as_ref().map_or(0, |c| c.len());
        let param_formats = expand_formats(
            &portal.parameter_format,
            portal.parameters.len(),
            "parameter",
        )
        .map_err(|e| user_error(&e))?;
        let result_formats = expand_formats(&portal.result_column_format, ncols, "result")
            .map_err(|e| user_error(&e))?;
        let (result, notices) = {
            let mut session = self.session().await;
            let r = session
                .execute(stmt, &portal.parameters, &param_formats, &result_formats)
                .await;
            (r, session.take_notices())
        };
        feed_session_messages(client, notices, Vec::new()).await?;
        match result.map_err(|e| user_error(&e))? {
            StatementResult::Rows { tag, rows, .. } => {
                let mut rows = data_rows(rows);
                let pumped = pump_rows(client, &mut rows, limit).await?;
                let mut response = QueryResponse::new(Arc::new(vec![]), rows);
                response.set_command_tag(&tag);
                *state = PortalExecutionState::Suspended(response);
                self.finish_rows(client, &mut state, pumped, tag).await
            }
            other => match send_result(client, other, false, true).await? {
                Sent::Done | Sent::CopyIn => Ok(()),
                Sent::Failed(e) => Err(e),
            },
        }
    }

    /// After pumping: CommandComplete (stream ended; the portal keeps the empty stream so a
    /// re-Execute answers "TAG 0"), PortalSuspended (limit reached), or the row error.
    async fn finish_rows<C>(
        &self,
        client: &mut C,
        state: &mut PortalExecutionState,
        pumped: Pumped,
        tag: String,
    ) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match pumped {
            Pumped::End(n) => {
                client
                    .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                        format!("{tag} {n}"),
                    )))
                    .await?;
                Ok(())
            }
            Pumped::Limit(_) => {
                client
                    .feed(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                    .await?;
                Ok(())
            }
            Pumped::Failed(e) => {
                *state = PortalExecutionState::Finished;
                Err(e)
            }
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for ConnState {
    type Statement = PreparedStatement;
    type QueryParser = StatementMeta;

    fn query_parser(&self) -> Arc<StatementMeta> {
        Arc::new(StatementMeta)
    }

    /// Parse goes straight to `Session::prepare` with the client's raw type OIDs.
    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.unwrap_or_else(|| DEFAULT_NAME.to_owned());
        if name != DEFAULT_NAME && client.portal_store().get_statement(&name).is_some() {
            return Err(user_error(&SqlError::new(
                SqlState::DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            )));
        }
        if is_empty_query(&message.query) {
            client.portal_store().put_empty_statement(&name);
        } else {
            let (prepared, notices) = {
                let mut session = self.session().await;
                let r = session.prepare(&message.query, &message.type_oids).await;
                (r, session.take_notices())
            };
            feed_session_messages(client, notices, Vec::new()).await?;
            let prepared = prepared.map_err(|e| user_error(&e))?;
            if name != DEFAULT_NAME {
                if let Ok(mut names) = self.statement_names.lock() {
                    names.insert(name.clone());
                }
            }
            client
                .portal_store()
                .put_statement(Arc::new(StoredStatement::new(name, prepared, vec![])));
        }
        client
            .feed(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    /// Every Execute runs here: rows are streamed, never collected (see the module docs).
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let limit = usize::try_from(message.max_rows).ok().filter(|n| *n > 0);
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal = match client.portal_store().get_portal(name) {
            Some(Entry::Value(portal)) => portal,
            Some(Entry::Empty) => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?;
                return Ok(());
            }
            None => {
                let shown = if name == DEFAULT_NAME { "" } else { name };
                return Err(user_error(&SqlError::new(
                    SqlState::INVALID_CURSOR_NAME,
                    format!("portal \"{shown}\" does not exist"),
                )));
            }
        };
        client.set_state(PgWireConnectionState::QueryInProgress);
        let cancel = cancel_receiver(client).await;
        let outcome = run_cancellable(self.execute_portal(client, &portal, limit), cancel).await;
        if matches!(client.state(), PgWireConnectionState::QueryInProgress) {
            client.set_state(PgWireConnectionState::ReadyForQuery);
        }
        let status = tx_byte(self.session().await.transaction_status());
        client.set_transaction_status(status);
        outcome.unwrap_or_else(|| Err(user_error(&canceled())))
    }

    /// Describe(statement) answers NoData for statements without result columns; portals
    /// use pgwire's default (which calls `do_describe_portal`).
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if message.target_type != TARGET_TYPE_BYTE_STATEMENT {
            return self._on_describe(client, message).await;
        }
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let Some(Entry::Value(stmt)) = client.portal_store().get_statement(name) else {
            return self._on_describe(client, message).await;
        };
        let p = &stmt.statement;
        client
            .feed(PgWireBackendMessage::ParameterDescription(
                ParameterDescription::new(p.param_types.clone()),
            ))
            .await?;
        let msg = match &p.columns {
            Some(cols) => PgWireBackendMessage::RowDescription(row_description(cols, &[])),
            None => PgWireBackendMessage::NoData(NoData::new()),
        };
        client.feed(msg).await?;
        Ok(())
    }

    /// Sync ends the implicit transaction; the session decides the status byte.
    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (status, notices, changes) = {
            let mut s = self.session().await;
            s.sync().await;
            (
                tx_byte(s.transaction_status()),
                s.take_notices(),
                s.take_parameter_changes(),
            )
        };
        feed_session_messages(client, notices, changes).await?;
        client.portal_store().rm_portal(DEFAULT_NAME);
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
        let p = StatementMeta.get_parameter_types(&target.statement)?;
        let f = StatementMeta.get_result_schema(&target.statement, None)?;
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
        let f = StatementMeta.get_result_schema(
            &portal.statement.statement,
            Some(&portal.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(f))
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        _portal: &Portal<PreparedStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // on_execute is overridden and never calls do_query.
        Err(PgWireError::ApiError(
            "extended do_query is not used".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_queries() {
        assert!(is_empty_query(""));
        assert!(is_empty_query(" ;\n;"));
        assert!(!is_empty_query("SELECT 1;"));
    }
}

//! Streaming statement results to the client: rows, COPY TO STDOUT data and the messages
//! around them.
//!
//! **Role**: `crate::simple` and `crate::extended` hand every [`StatementResult`] to
//! [`send_result`] (or [`pump_rows`] for row-limited portals).
//!
//! # Invariants
//! 1. Flush-on-idle: rows that are ready are queued without flushing; the socket is flushed
//!    whenever the stream would block. A slow query shows its first row early and a fast one
//!    still gets large writes. Test `it::raw_protocol::first_row_is_sent_before_the_last_is_produced`.
//! 2. Rows are never collected: memory is one row plus the socket buffer, whatever the row
//!    limit (pgwire's `Portal::fetch` would `Vec::with_capacity(max_rows)` them first).
//!    Test `it::raw_protocol::execute_with_row_limit_suspends_portal`.
//! 3. A row or chunk error ends the result without CommandComplete; the caller reports it.
//!
//! # Concurrency
//! Runs on the connection task; the futures here are dropped on cancel (cancel-safe: the
//! stream keeps its position, the client gets an error instead of the remaining rows).

use std::fmt::Debug;

use futures::{FutureExt, Sink, SinkExt, StreamExt};
use pgwire::api::results::SendableRowStream;
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use pgwire::messages::PgWireBackendMessage;

use crate::session::{CopyOutStream, RowStream, SqlError, SqlState, StatementResult};
use crate::wire::{data_row, row_description, user_error};

/// How sending one result ended.
pub(crate) enum Sent {
    Done,
    /// CopyInResponse was sent; the COPY FROM STDIN sub-protocol takes over.
    CopyIn,
    /// The row or COPY stream failed part way; nothing more was sent for this result.
    Failed(PgWireError),
}

/// How pumping rows ended.
pub(crate) enum Pumped {
    /// The stream ended after this many rows.
    End(usize),
    /// The row limit was reached after this many rows; more may follow.
    Limit(usize),
    Failed(PgWireError),
}

/// Engine rows as pgwire DataRows (an encoding error is reported like a row error).
pub(crate) fn data_rows(rows: RowStream) -> SendableRowStream {
    Box::pin(rows.map(|r| r.and_then(data_row).map_err(|e| user_error(&e))))
}

/// Send rows until the stream ends or `limit` rows were sent (`None` = no limit).
pub(crate) async fn pump_rows<C>(
    client: &mut C,
    rows: &mut SendableRowStream,
    limit: Option<usize>,
) -> PgWireResult<Pumped>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let mut sent = 0usize;
    loop {
        if limit.is_some_and(|max| sent >= max) {
            return Ok(Pumped::Limit(sent));
        }
        let next = match rows.next().now_or_never() {
            Some(item) => item,
            None => {
                client.flush().await?;
                rows.next().await
            }
        };
        match next {
            None => return Ok(Pumped::End(sent)),
            Some(Ok(row)) => {
                client.feed(PgWireBackendMessage::DataRow(row)).await?;
                sent += 1;
            }
            Some(Err(e)) => return Ok(Pumped::Failed(e)),
        }
    }
}

async fn pump_copy_out<C>(
    client: &mut C,
    data: &mut CopyOutStream,
) -> PgWireResult<Option<SqlError>>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    loop {
        let next = match data.next().now_or_never() {
            Some(item) => item,
            None => {
                client.flush().await?;
                data.next().await
            }
        };
        match next {
            None => return Ok(None),
            Some(Ok(chunk)) => {
                client
                    .feed(PgWireBackendMessage::CopyData(CopyData::new(chunk)))
                    .await?
            }
            Some(Err(e)) => return Ok(Some(e)),
        }
    }
}

fn column_count(columns: usize) -> PgWireResult<i16> {
    i16::try_from(columns).map_err(|_| {
        user_error(&SqlError::new(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            format!("COPY of {columns} columns exceeds the protocol limit"),
        ))
    })
}

/// Send one statement result. `describe`: send the RowDescription first (simple protocol;
/// in the extended protocol Describe does that). `extended` decides which COPY-in state the
/// connection enters.
pub(crate) async fn send_result<C>(
    client: &mut C,
    result: StatementResult,
    describe: bool,
    extended: bool,
) -> PgWireResult<Sent>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
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
            rows,
        } => {
            if describe {
                client
                    .feed(PgWireBackendMessage::RowDescription(row_description(
                        &columns, &formats,
                    )))
                    .await?;
            }
            let mut rows = data_rows(rows);
            match pump_rows(client, &mut rows, None).await? {
                Pumped::End(n) | Pumped::Limit(n) => {
                    client
                        .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                            format!("{tag} {n}"),
                        )))
                        .await?;
                }
                Pumped::Failed(e) => return Ok(Sent::Failed(e)),
            }
        }
        StatementResult::CopyIn { columns, format } => {
            let n = column_count(columns)?;
            let code = format.code();
            client
                .send(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(
                    code as i8,
                    n,
                    vec![code; columns],
                )))
                .await?;
            client.set_state(PgWireConnectionState::CopyInProgress(extended));
            return Ok(Sent::CopyIn);
        }
        StatementResult::CopyOut {
            columns,
            format,
            tag,
            mut data,
        } => {
            let n = column_count(columns)?;
            let code = format.code();
            client
                .feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
                    code as i8,
                    n,
                    vec![code; columns],
                )))
                .await?;
            if let Some(e) = pump_copy_out(client, &mut data).await? {
                return Ok(Sent::Failed(user_error(&e)));
            }
            client
                .feed(PgWireBackendMessage::CopyDone(CopyDone::new()))
                .await?;
            client
                .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    tag(),
                )))
                .await?;
        }
    }
    Ok(Sent::Done)
}

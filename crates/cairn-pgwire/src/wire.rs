//! Conversions between the session vocabulary (`crate::session`) and pgwire's message types,
//! plus the small send helpers every handler shares.
//!
//! **Role**: used by `crate::adapter`, `crate::simple`, `crate::extended` and `crate::server`;
//! the only other place besides those that names pgwire types. No state.
//!
//! # Invariants
//! 1. Every `SqlError` field reaches the ErrorResponse (severity, code, message, detail, hint,
//!    position). Test `error_info_carries_every_field`.
//! 2. A format-code list whose length matches neither 0, 1 nor the number of values is an
//!    08P01 error, never an index panic (pgwire's `Format::format_for` indexes unchecked).
//!    Test `expand_formats_rejects_wrong_count`, `it::raw_protocol::bad_result_format_count_is_an_error_not_a_panic`.
//!
//! # Concurrency
//! Pure functions; the send helpers run on the connection task.

use std::fmt::Debug;

use bytes::{BufMut, BytesMut};
use futures::{Sink, SinkExt};
use pgwire::api::portal::Format as PgFormat;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::{DataRow, FieldDescription, RowDescription};
use pgwire::messages::response::{NoticeResponse, TransactionStatus};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;
use postgres_types::Kind;

use crate::session::{ColumnDesc, EncodedRow, Format, Notice, Oid, SqlError, SqlState, TxStatus};

/// pgwire speaks `postgres_types::Type`; an OID it does not know (a Cairn type, say) gets a
/// synthetic `Type` so the OID still reaches the wire.
pub(crate) fn pg_type(oid: Oid) -> Type {
    Type::from_oid(oid).unwrap_or_else(|| {
        Type::new(
            format!("cairn_{oid}"),
            oid,
            Kind::Simple,
            "pg_catalog".to_owned(),
        )
    })
}

fn field_format(f: Format) -> FieldFormat {
    match f {
        Format::Text => FieldFormat::Text,
        Format::Binary => FieldFormat::Binary,
    }
}

/// Table OIDs are unsigned on the wire but pgwire stores them as `i32`: reinterpret the bits.
fn table_oid_i32(oid: u32) -> i32 {
    i32::from_be_bytes(oid.to_be_bytes())
}

pub(crate) fn field_info(c: &ColumnDesc, f: Format) -> FieldInfo {
    FieldInfo::new(
        c.name.clone(),
        Some(table_oid_i32(c.table_oid)),
        Some(c.column_attr),
        pg_type(c.type_oid),
        field_format(f),
    )
    .with_type_size(c.type_size)
    .with_type_modifier(c.type_modifier)
}

pub(crate) fn row_description(cols: &[ColumnDesc], formats: &[Format]) -> RowDescription {
    RowDescription::new(
        cols.iter()
            .enumerate()
            .map(|(i, c)| {
                let format = formats.get(i).copied().unwrap_or(Format::Text);
                FieldDescription::new(
                    c.name.clone(),
                    table_oid_i32(c.table_oid),
                    c.column_attr,
                    c.type_oid,
                    c.type_size,
                    c.type_modifier,
                    format.code(),
                )
            })
            .collect(),
    )
}

/// Encodes an engine row as a DataRow body (`[len i32 | bytes]*`, -1 = NULL). Values and
/// column counts beyond the protocol's integer widths are an engine bug reported as XX000.
pub(crate) fn data_row(row: EncodedRow) -> Result<DataRow, SqlError> {
    let too_big = || {
        SqlError::new(
            SqlState::INTERNAL_ERROR,
            "row does not fit in a DataRow message",
        )
    };
    let columns = i16::try_from(row.len()).map_err(|_| too_big())?;
    let len: usize = row
        .iter()
        .map(|v| 4 + v.as_ref().map_or(0, |b| b.len()))
        .sum();
    let mut buf = BytesMut::with_capacity(len);
    for v in &row {
        match v {
            None => buf.put_i32(-1),
            Some(b) => {
                buf.put_i32(i32::try_from(b.len()).map_err(|_| too_big())?);
                buf.put_slice(b);
            }
        }
    }
    Ok(DataRow::new(buf, columns))
}

pub(crate) fn error_info(e: &SqlError) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        e.severity.as_str().to_owned(),
        e.sqlstate.as_str().to_owned(),
        e.message.to_string(),
    );
    info.detail = e.detail.clone();
    info.hint = e.hint.clone();
    info.position = e.position.map(|p| p.to_string());
    info
}

pub(crate) fn user_error(e: &SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

pub(crate) fn notice_response(n: &Notice) -> NoticeResponse {
    let mut info = ErrorInfo::new(
        n.severity.as_str().to_owned(),
        n.sqlstate.as_str().to_owned(),
        n.message.clone(),
    );
    info.detail = n.detail.clone();
    info.hint = n.hint.clone();
    info.into()
}

pub(crate) fn tx_byte(s: TxStatus) -> TransactionStatus {
    match s {
        TxStatus::Idle => TransactionStatus::Idle,
        TxStatus::InBlock => TransactionStatus::Transaction,
        TxStatus::Failed => TransactionStatus::Error,
    }
}

/// Expand a Bind format-code list to one format per value: no codes = all text, one code =
/// every value, otherwise exactly one code per value.
pub(crate) fn expand_formats(f: &PgFormat, n: usize, what: &str) -> Result<Vec<Format>, SqlError> {
    let one = |code: i16| {
        if code == 1 {
            Format::Binary
        } else {
            Format::Text
        }
    };
    match f {
        PgFormat::UnifiedText => Ok(vec![Format::Text; n]),
        PgFormat::UnifiedBinary => Ok(vec![Format::Binary; n]),
        PgFormat::Individual(codes) if codes.len() == n => {
            Ok(codes.iter().map(|c| one(*c)).collect())
        }
        PgFormat::Individual(codes) => Err(SqlError::new(
            SqlState::PROTOCOL_VIOLATION,
            format!(
                "bind message has {} {what} formats but {n} {what}s",
                codes.len()
            ),
        )),
    }
}

/// Queue (without flushing) the notices and reported-parameter changes the session collected.
pub(crate) async fn feed_session_messages<C>(
    client: &mut C,
    notices: Vec<Notice>,
    changes: Vec<(String, String)>,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for n in notices {
        let msg = PgWireBackendMessage::NoticeResponse(notice_response(&n));
        client.feed(msg).await?;
    }
    for (k, v) in changes {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                k, v,
            )))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_info_carries_every_field() {
        let e = SqlError::fatal(SqlState::SYNTAX_ERROR, "syntax error at or near \"x\"")
            .with_detail("d")
            .with_hint("h")
            .with_position(7);
        let info = error_info(&e);
        assert_eq!(
            (
                info.severity.as_str(),
                info.code.as_str(),
                info.message.as_str()
            ),
            ("FATAL", "42601", "syntax error at or near \"x\"")
        );
        assert_eq!(info.detail.as_deref(), Some("d"));
        assert_eq!(info.hint.as_deref(), Some("h"));
        assert_eq!(info.position.as_deref(), Some("7"));
    }

    #[test]
    fn expand_formats_rejects_wrong_count() {
        let two = PgFormat::Individual(vec![0, 1]);
        assert_eq!(
            expand_formats(&two, 2, "result").unwrap(),
            [Format::Text, Format::Binary]
        );
        let e = expand_formats(&two, 3, "result").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::PROTOCOL_VIOLATION);
        assert_eq!(
            expand_formats(&PgFormat::UnifiedBinary, 2, "result").unwrap(),
            [Format::Binary; 2]
        );
        assert_eq!(
            expand_formats(&PgFormat::UnifiedText, 0, "parameter").unwrap(),
            []
        );
    }

    #[test]
    fn data_row_encodes_nulls_and_values() {
        let row = data_row(vec![Some(bytes::Bytes::from_static(b"ab")), None]).unwrap();
        let mut buf = BytesMut::new();
        PgWireBackendMessage::DataRow(row).encode(&mut buf).unwrap();
        assert_eq!(
            &buf[..],
            b"D\x00\x00\x00\x10\x00\x02\x00\x00\x00\x02ab\xff\xff\xff\xff"
        );
    }

    #[test]
    fn unknown_oid_keeps_its_number() {
        assert_eq!(pg_type(23), Type::INT4);
        assert_eq!(pg_type(987_654).oid(), 987_654);
    }
}

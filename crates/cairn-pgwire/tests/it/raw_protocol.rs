//! Byte-level checks with a hand-written frontend: exact message sequences, ReadyForQuery
//! status bytes, PortalSuspended, COPY, notices and the pull-based batch order.

use std::time::{Duration, Instant};

use crate::common::*;

#[tokio::test]
async fn startup_reports_parameter_status() {
    let srv = Server::trust();
    let (_c, msgs) = Raw::connect(srv.port).await;
    assert_eq!(msgs[0].kind(), 'R', "AuthenticationOk first: {msgs:?}");
    let params: Vec<(String, String)> = msgs
        .iter()
        .filter(|m| m.tag == b'S')
        .map(|m| {
            let mut parts = m.body.split(|b| *b == 0);
            let k = String::from_utf8_lossy(parts.next().unwrap()).into_owned();
            let v = String::from_utf8_lossy(parts.next().unwrap()).into_owned();
            (k, v)
        })
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("server_version"), Some("15.0"));
    assert_eq!(get("server_encoding"), Some("UTF8"));
    assert_eq!(get("client_encoding"), Some("UTF8"));
    assert_eq!(get("DateStyle"), Some("ISO, MDY"));
    assert_eq!(get("integer_datetimes"), Some("on"));
    assert_eq!(get("TimeZone"), Some("UTC"));
    assert_eq!(get("standard_conforming_strings"), Some("on"));
    assert_eq!(get("session_authorization"), Some("postgres"));
    assert!(
        msgs.iter().any(|m| m.tag == b'K'),
        "BackendKeyData (for cancel)"
    );
    assert_eq!(status(&msgs), 'I');
}

#[tokio::test]
async fn simple_query_message_sequences() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;

    let m = c.simple("SELECT 1").await;
    assert_eq!(kinds(&m), "TDCZ");
    assert_eq!(m[0].row_description(), vec![("?column?".into(), 23, 0)]);
    assert_eq!(m[1].data_row(), vec![Some(b"1".to_vec())]);
    assert_eq!(m[2].text(), "SELECT 1");

    let m = c.simple("SELECT 'a', 2").await;
    assert_eq!(kinds(&m), "TDCZ");
    let oids: Vec<u32> = m[0].row_description().iter().map(|f| f.1).collect();
    assert_eq!(oids, vec![25, 23]);

    let m = c.simple("SELECT 1; SELECT 2").await;
    assert_eq!(kinds(&m), "TDCTDCZ");
    assert_eq!(m[4].data_row(), vec![Some(b"2".to_vec())]);

    assert_eq!(kinds(&c.simple("").await), "IZ", "EmptyQueryResponse");
    assert_eq!(kinds(&c.simple(" ; ").await), "IZ");

    // an error in the middle stops the batch, like PostgreSQL
    let m = c.simple("SELECT 1; SELECT 1/0; SELECT 3").await;
    assert_eq!(kinds(&m), "TDCEZ");
    assert_eq!(m[3].sqlstate().as_deref(), Some("22012"));
}

/// Statement 2 of a batch runs only after statement 1's rows were all sent: the fake engine
/// logs `exec` when a statement starts and `end` when its row stream is exhausted.
#[tokio::test]
async fn batch_statements_run_after_previous_rows_were_sent() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    let m = c
        .simple("SELECT * FROM generate_series(1, 3); SELECT * FROM five_rows; SHOW events")
        .await;
    assert_eq!(kinds(&m), "TDDDCTDDDDDCTDDDDDCZ");
    let events: Vec<String> = m[13..m.len() - 2].iter().map(Msg::first_text).collect();
    assert_eq!(
        events,
        [
            "exec SELECT * FROM generate_series(1, 3)",
            "end SELECT * FROM generate_series(1, 3)",
            "exec SELECT * FROM five_rows",
            "end SELECT * FROM five_rows",
            "exec SHOW events",
        ]
    );
}

#[tokio::test]
async fn notices_precede_results() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    // PostgreSQL: WARNING 25001 before the CommandComplete of the second BEGIN
    let m = c.simple("BEGIN; BEGIN").await;
    assert_eq!(kinds(&m), "CNCZ");
    assert_eq!(m[1].field(b'S').as_deref(), Some("WARNING"));
    assert_eq!(m[1].sqlstate().as_deref(), Some("25001"));
    assert_eq!(
        m[1].field(b'M').as_deref(),
        Some("there is already a transaction in progress")
    );
    assert_eq!(status(&m), 'T');
    // extended protocol: the notice comes before the statement's result
    c.send_all(&[
        parse_msg("", "SELECT raise_notice('hello')", &[]),
        bind_msg("", "", &[], &[], &[]),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "12NDCZ");
    assert_eq!(m[2].field(b'M').as_deref(), Some("hello"));
    assert_eq!(m[2].field(b'S').as_deref(), Some("NOTICE"));
}

#[tokio::test]
async fn transaction_status_bytes() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;

    let m = c.simple("BEGIN").await;
    assert_eq!(
        (kinds(&m).as_str(), m[0].text().as_str(), status(&m)),
        ("CZ", "BEGIN", 'T')
    );
    assert_eq!(status(&c.simple("SELECT 1").await), 'T');
    let m = c.simple("SELECT 1/0").await;
    assert_eq!((kinds(&m).as_str(), status(&m)), ("EZ", 'E'));
    let m = c.simple("SELECT 1").await;
    assert_eq!(m[0].sqlstate().as_deref(), Some("25P02"));
    assert_eq!(status(&m), 'E');
    // COMMIT of a failed block reports ROLLBACK and ends it
    let m = c.simple("COMMIT").await;
    assert_eq!((m[0].text().as_str(), status(&m)), ("ROLLBACK", 'I'));
    // errors outside a block leave the status Idle
    assert_eq!(status(&c.simple("SELECT 1/0").await), 'I');
    // savepoint recovery: E -> T without leaving the block
    c.simple("BEGIN").await;
    c.simple("SAVEPOINT s1").await;
    assert_eq!(status(&c.simple("SELECT 1/0").await), 'E');
    let m = c.simple("ROLLBACK TO SAVEPOINT s1").await;
    assert_eq!((m[0].text().as_str(), status(&m)), ("ROLLBACK", 'T'));
    let m = c.simple("COMMIT").await;
    assert_eq!((m[0].text().as_str(), status(&m)), ("COMMIT", 'I'));
    // a block inside one query string
    let m = c.simple("BEGIN; SELECT 1; COMMIT").await;
    assert_eq!((kinds(&m).as_str(), status(&m)), ("CTDCCZ", 'I'));
}

#[tokio::test]
async fn set_reports_parameter_status() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    let m = c.simple("SET application_name = 'spike'").await;
    assert_eq!(kinds(&m), "CSZ");
    assert_eq!(m[1].body, b"application_name\0spike\0");
    // extended protocol: reported at Sync
    c.send_all(&[
        parse_msg("", "SET TimeZone TO 'Europe/Paris'", &[]),
        bind_msg("", "", &[], &[], &[]),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "12CSZ");
    assert_eq!(m[3].body, b"TimeZone\0Europe/Paris\0");
}

#[tokio::test]
async fn unknown_statement_error_keeps_connection_usable() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    let m = c.simple("FROBNICATE everything").await;
    assert_eq!(kinds(&m), "EZ");
    assert_eq!(m[0].field(b'S').as_deref(), Some("ERROR"));
    assert_eq!(m[0].sqlstate().as_deref(), Some("42601"));
    assert_eq!(m[0].field(b'P').as_deref(), Some("1"), "position field");
    let m = c.simple("SELECT * FROM some_table").await;
    assert_eq!(m[0].sqlstate().as_deref(), Some("0A000"));
    assert!(m[0].field(b'D').is_some(), "detail field");
    let m = c.simple("SELECT 41").await;
    assert_eq!(m[1].data_row(), vec![Some(b"41".to_vec())]);
}

#[tokio::test]
async fn extended_text_and_binary_formats() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    // text parameter, text result
    c.send_all(&[
        parse_msg("", "SELECT $1::int4 + 1", &[]),
        describe_msg(b'S', ""),
        bind_msg("", "", &[], &[Some(b"41")], &[]),
        describe_msg(b'P', ""),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "1tT2TDCZ");
    assert_eq!(
        m[1].body,
        [0, 1, 0, 0, 0, 23],
        "ParameterDescription: one int4"
    );
    assert_eq!(m[4].row_description(), vec![("?column?".into(), 23, 0)]);
    assert_eq!(m[5].data_row(), vec![Some(b"42".to_vec())]);
    assert_eq!(m[6].text(), "SELECT 1");
    assert_eq!(status(&m), 'I');
    // binary parameter, binary result
    c.send_all(&[
        parse_msg("", "SELECT $1::int4 + 1", &[23]),
        bind_msg("", "", &[1], &[Some(&41i32.to_be_bytes())], &[1]),
        describe_msg(b'P', ""),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "12TDCZ");
    assert_eq!(m[2].row_description(), vec![("?column?".into(), 23, 1)]);
    assert_eq!(m[3].data_row(), vec![Some(42i32.to_be_bytes().to_vec())]);
    // mixed per-column formats
    c.send_all(&[
        parse_msg("", "SELECT 'x', 7", &[]),
        bind_msg("", "", &[], &[], &[0, 1]),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "12DCZ");
    assert_eq!(
        m[2].data_row(),
        vec![Some(b"x".to_vec()), Some(7i32.to_be_bytes().to_vec())]
    );
}

#[tokio::test]
async fn parse_keeps_unknown_parameter_oids() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    // 987654 is no PostgreSQL type: pgwire's default Parse would hand the engine `None`
    c.send_all(&[
        parse_msg("", "SELECT $1", &[987_654]),
        describe_msg(b'S', ""),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "1tTZ");
    assert_eq!(m[1].body[2..6], 987_654u32.to_be_bytes());
}

#[tokio::test]
async fn named_statement_reused_across_executions() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    c.send_all(&[
        parse_msg("plus_one", "SELECT $1::int4 + 1", &[]),
        sync_msg(),
    ])
    .await;
    assert_eq!(kinds(&c.until_ready().await), "1Z");
    for i in [1i32, 10, 100] {
        let arg = i.to_string();
        c.send_all(&[
            bind_msg("", "plus_one", &[], &[Some(arg.as_bytes())], &[]),
            execute_msg("", 0),
            sync_msg(),
        ])
        .await;
        let m = c.until_ready().await;
        assert_eq!(kinds(&m), "2DCZ");
        assert_eq!(
            m[1].data_row(),
            vec![Some((i + 1).to_string().into_bytes())]
        );
    }
    // a second Parse of the same name is an error (42P05), as in PostgreSQL
    c.send_all(&[parse_msg("plus_one", "SELECT 2", &[]), sync_msg()])
        .await;
    let m = c.until_ready().await;
    assert_eq!(
        (kinds(&m).as_str(), m[0].sqlstate().as_deref()),
        ("EZ", Some("42P05"))
    );
    // Close, then it is gone (26000)
    c.send_all(&[close_msg(b'S', "plus_one"), sync_msg()]).await;
    assert_eq!(kinds(&c.until_ready().await), "3Z");
    c.send_all(&[
        bind_msg("", "plus_one", &[], &[Some(b"1")], &[]),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "EZ");
    assert_eq!(m[0].sqlstate().as_deref(), Some("26000"));
    assert_eq!(
        m[0].field(b'M').as_deref(),
        Some("prepared statement \"plus_one\" does not exist")
    );
    c.send_all(&[describe_msg(b'S', ""), sync_msg()]).await;
    let m = c.until_ready().await;
    assert_eq!(
        m[0].field(b'M').as_deref(),
        Some("prepared statement \"\" does not exist")
    );
}

#[tokio::test]
async fn execute_with_row_limit_suspends_portal() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    c.send_all(&[
        parse_msg("five", "SELECT * FROM five_rows", &[]),
        bind_msg("cur", "five", &[], &[], &[]),
        execute_msg("cur", 2),
        execute_msg("cur", 2),
        execute_msg("cur", 2),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "12DDsDDsDCZ");
    let firsts: Vec<String> = m
        .iter()
        .filter(|x| x.tag == b'D')
        .map(Msg::first_text)
        .collect();
    assert_eq!(firsts, ["1", "2", "3", "4", "5"]);
    assert_eq!(
        m[9].text(),
        "SELECT 1",
        "the tag counts the last Execute's rows"
    );

    // inside a transaction block the named portal survives Sync
    c.simple("BEGIN").await;
    c.send_all(&[
        bind_msg("cur2", "five", &[], &[], &[]),
        execute_msg("cur2", 3),
        sync_msg(),
    ])
    .await;
    assert_eq!(kinds(&c.until_ready().await), "2DDDsZ");
    c.send_all(&[execute_msg("cur2", 0), sync_msg()]).await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "DDCZ");
    assert_eq!(status(&m), 'T');
    // at transaction end the portal is dropped
    assert_eq!(status(&c.simple("COMMIT").await), 'I');
    c.send_all(&[execute_msg("cur2", 0), sync_msg()]).await;
    let m = c.until_ready().await;
    assert_eq!(
        (kinds(&m).as_str(), m[0].sqlstate().as_deref()),
        ("EZ", Some("34000"))
    );
}

#[tokio::test]
async fn negative_row_limit_means_all_rows() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    // pgwire's default Execute casts -1 to usize and panics allocating a Vec of that size
    for limit in [-1, i32::MIN, i32::MAX] {
        c.send_all(&[
            parse_msg("", "SELECT * FROM five_rows", &[]),
            bind_msg("", "", &[], &[], &[]),
            execute_msg("", limit),
            sync_msg(),
        ])
        .await;
        let m = c.until_ready().await;
        assert_eq!(kinds(&m), "12DDDDDCZ", "limit {limit}");
        assert_eq!(m[7].text(), "SELECT 5");
    }
}

#[tokio::test]
async fn extended_error_discards_until_sync() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    c.simple("BEGIN").await;
    c.send_all(&[
        parse_msg("", "SELECT 1/0", &[]),
        bind_msg("", "", &[], &[], &[]),
        execute_msg("", 0),
        // skipped after the error:
        parse_msg("", "SELECT 1", &[]),
        bind_msg("", "", &[], &[], &[]),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "12EZ");
    assert_eq!(m[2].sqlstate().as_deref(), Some("22012"));
    assert_eq!(status(&m), 'E');
    // an error raised by the protocol layer itself must also fail the block
    c.simple("ROLLBACK").await;
    c.simple("BEGIN").await;
    c.send_all(&[execute_msg("no_such_portal", 0), sync_msg()])
        .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "EZ");
    assert_eq!(m[0].sqlstate().as_deref(), Some("34000"), "as PostgreSQL");
    assert_eq!(status(&m), 'E');
    c.send_all(&[describe_msg(b'P', "nope"), sync_msg()]).await;
    let m = c.until_ready().await;
    assert_eq!(m[0].sqlstate().as_deref(), Some("34000"));
    assert_eq!(status(&c.simple("ROLLBACK").await), 'I');
}

#[tokio::test]
async fn describe_statement_without_rows_sends_nodata() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    c.send_all(&[
        parse_msg("ins", "INSERT INTO sink VALUES ($1)", &[]),
        describe_msg(b'S', "ins"),
        bind_msg("", "ins", &[], &[Some(b"x")], &[]),
        describe_msg(b'P', ""),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    // ParseComplete, ParameterDescription, NoData, BindComplete, NoData, CommandComplete
    assert_eq!(kinds(&m), "1tn2nCZ");
    assert_eq!(m[5].text(), "INSERT 0 1");
}

#[tokio::test]
async fn bad_result_format_count_is_an_error_not_a_panic() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    // 2 result format codes for a 3-column statement
    c.send_all(&[
        parse_msg("", "SELECT 1, 2, 3", &[]),
        bind_msg("", "", &[], &[], &[0, 1]),
        describe_msg(b'P', ""),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "12EZ");
    assert_eq!(m[2].sqlstate().as_deref(), Some("08P01"));
    assert_eq!(kinds(&c.simple("SELECT 5").await), "TDCZ");
}

#[tokio::test]
async fn copy_out_message_sequences() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    let m = c.simple("COPY five_rows TO STDOUT; SELECT 1").await;
    assert_eq!(kinds(&m), "HdddddcCTDCZ");
    assert_eq!(m[0].body, [0, 0, 2, 0, 0, 0, 0], "text, 2 columns");
    assert_eq!(m[1].body, b"1\trow-1\n");
    assert_eq!(m[7].text(), "COPY 5");
    // extended protocol
    c.send_all(&[
        parse_msg("", "COPY (SELECT 1, 'a') TO STDOUT", &[]),
        bind_msg("", "", &[], &[], &[]),
        execute_msg("", 0),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "12HdcCZ");
    assert_eq!(m[3].body, b"1\ta\n");
    assert_eq!(m[5].text(), "COPY 1");
}

#[tokio::test]
async fn copy_in_inside_a_batch_resumes_the_batch() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    c.send(&query_msg(
        "COPY sink FROM STDIN; SELECT 9; COPY sink FROM STDIN",
    ))
    .await;
    assert_eq!(c.recv().await.unwrap().kind(), 'G');
    c.send_all(&[framed(b'd', b"a\nb\n"), framed(b'c', &[])])
        .await;
    let mut m = Vec::new();
    for _ in 0..5 {
        m.push(c.recv().await.unwrap());
    }
    // COPY 2, then SELECT 9, then the second COPY starts
    assert_eq!(kinds(&m), "CTDCG");
    assert_eq!(m[0].text(), "COPY 2");
    let mut fail = Vec::new();
    cstr(&mut fail, "client gave up");
    c.send(&framed(b'f', &fail)).await;
    let m = c.until_ready().await;
    assert_eq!(kinds(&m), "EZ");
    assert_eq!(m[0].sqlstate().as_deref(), Some("57014"));
    // CopyData arriving after the COPY ended is dropped, the session goes on
    c.send(&framed(b'd', b"late\n")).await;
    assert_eq!(kinds(&c.simple("SELECT 1").await), "TDCZ");
}

#[tokio::test]
async fn function_call_and_invalid_utf8_are_errors_not_disconnects() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    // FunctionCall: oid, 0 formats, 0 args, text result
    let mut f = 1234i32.to_be_bytes().to_vec();
    f.extend([0, 0, 0, 0, 0, 0]);
    c.send(&framed(b'F', &f)).await;
    let m = c.until_ready().await;
    assert_eq!(
        (kinds(&m).as_str(), m[0].sqlstate().as_deref()),
        ("EZ", Some("0A000"))
    );
    // Latin-1 bytes in a query: rejected, not silently replaced
    c.send(&framed(b'Q', b"SELECT '\xe9'\0")).await;
    let m = c.until_ready().await;
    assert_eq!(
        (kinds(&m).as_str(), m[0].sqlstate().as_deref()),
        ("EZ", Some("22021"))
    );
    // ... and in Parse: error, then skip to Sync
    c.send_all(&[
        framed(b'P', b"\0SELECT '\xe9'\0\0\0"),
        bind_msg("", "", &[], &[], &[]),
        sync_msg(),
    ])
    .await;
    let m = c.until_ready().await;
    assert_eq!(
        (kinds(&m).as_str(), m[0].sqlstate().as_deref()),
        ("EZ", Some("22021"))
    );
    assert_eq!(kinds(&c.simple("SELECT 'é'").await), "TDCZ");
}

async fn first_row_after(c: &mut Raw, parts: &[Vec<u8>]) -> (Duration, Duration) {
    let t0 = Instant::now();
    c.send_all(parts).await;
    let mut first = None;
    loop {
        let m = c.recv().await.unwrap();
        if m.tag == b'D' && first.is_none() {
            first = Some(t0.elapsed());
        }
        if m.tag == b'Z' {
            return (first.expect("no DataRow"), t0.elapsed());
        }
    }
}

/// `slow_rows` yields 5 rows 150 ms apart; with flush-on-idle the first row arrives after
/// about 150 ms in both protocols, not after all five (pgwire's default Execute collected
/// them into a Vec first).
#[tokio::test]
async fn first_row_is_sent_before_the_last_is_produced() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    let (simple, total) = first_row_after(&mut c, &[query_msg("SELECT * FROM slow_rows")]).await;
    assert!(total >= Duration::from_millis(700), "{total:?}");
    assert!(
        simple < Duration::from_millis(500),
        "simple query streams: {simple:?}"
    );
    let extended = [
        parse_msg("", "SELECT * FROM slow_rows", &[]),
        bind_msg("", "", &[], &[], &[]),
        execute_msg("", 0),
        sync_msg(),
    ];
    let (ext, _) = first_row_after(&mut c, &extended).await;
    assert!(ext < Duration::from_millis(500), "Execute streams: {ext:?}");
}

#[tokio::test]
async fn startup_without_user_is_fatal_28000() {
    let srv = Server::trust();
    let mut c = Raw::open(srv.port).await;
    c.send(&startup_msg(&[("database", "postgres")])).await;
    let m = c.until_eof().await;
    assert_eq!(kinds(&m), "E");
    assert_eq!(m[0].field(b'S').as_deref(), Some("FATAL"));
    assert_eq!(m[0].sqlstate().as_deref(), Some("28000"));
}

/// A 3 MB query crosses the guard in many reads and reaches the engine intact.
#[tokio::test]
async fn large_query_passes_the_guard() {
    let srv = Server::trust();
    let (mut c, _) = Raw::connect(srv.port).await;
    let big = "x".repeat(3 << 20);
    let m = c.simple(&format!("SELECT '{big}'")).await;
    assert_eq!(kinds(&m), "TDCZ");
    assert_eq!(m[1].first_text().len(), big.len());
    assert_eq!(kinds(&c.simple("SELECT 1").await), "TDCZ");
}

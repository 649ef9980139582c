//! Connection lifecycle: `Session::terminate`, the connection limit, graceful shutdown.
//! Multi-threaded runtimes: `Server::wait_event` blocks its thread while spawned client
//! connection tasks must keep running.

use std::time::{Duration, Instant};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_runs_when_client_disconnects_mid_transaction() {
    let srv = Server::trust();
    let (mut c, _) =
        Raw::connect_with(srv.port, &[("user", "u"), ("application_name", "victim")]).await;
    assert_eq!(status(&c.simple("BEGIN").await), 'T');
    drop(c); // no Terminate message: the TCP connection just goes away
    let ev = srv.wait_event(WAIT, |e| {
        e.starts_with("terminate") && e.contains("app=victim")
    });
    assert!(ev.ends_with("status=T"), "{ev}");

    // a polite Terminate ('X') ends the session too
    let (mut c, _) =
        Raw::connect_with(srv.port, &[("user", "u"), ("application_name", "polite")]).await;
    c.send(&framed(b'X', &[])).await;
    assert!(c.until_eof().await.is_empty());
    let ev = srv.wait_event(WAIT, |e| e.contains("app=polite"));
    assert!(ev.ends_with("status=I"), "{ev}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_refuses_with_53300() {
    let srv = Server::start(&["--max-connections", "2"]);
    let a = srv.connect_as("postgres", "application_name=a").await;
    let b = srv.connect_as("postgres", "application_name=b").await;
    let conn_str = srv.conn_str("postgres");
    let err = tokio_postgres::connect(&conn_str, tokio_postgres::NoTls)
        .await
        .err()
        .expect("third connection refused");
    let db = err.as_db_error().expect("an ErrorResponse, not a reset");
    assert_eq!(
        (db.severity(), db.code().code(), db.message()),
        ("FATAL", "53300", "sorry, too many clients already")
    );
    // the two admitted clients are unaffected
    assert_eq!(
        a.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0),
        1
    );
    // a slot frees up when a client leaves
    drop(a);
    srv.wait_event(WAIT, |e| e.starts_with("terminate") && e.contains("app=a"));
    let deadline = Instant::now() + WAIT;
    let c = loop {
        match tokio_postgres::connect(&conn_str, tokio_postgres::NoTls).await {
            Ok((c, conn)) => {
                tokio::spawn(conn);
                break c;
            }
            // the slot is released just after the terminate event
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.code().map(|c| c.code()), Some("53300"), "{e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("no slot freed: {e}"),
        }
    };
    assert_eq!(
        c.query_one("SELECT 3", &[]).await.unwrap().get::<_, i32>(0),
        3
    );
    drop(b);
}

/// Shutdown closes the listener and idle connections at once, lets a running statement
/// finish, and closes a connection idle in a transaction block when the grace period ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_statement_finish_then_closes() {
    let mut srv = Server::start(&["--shutdown-grace-ms", "1500"]);
    let params = |app| [("user", "u"), ("application_name", app)];
    let (mut idle, _) = Raw::connect_with(srv.port, &params("idle")).await;
    let (mut in_tx, _) = Raw::connect_with(srv.port, &params("intx")).await;
    assert_eq!(status(&in_tx.simple("BEGIN").await), 'T');
    let (mut busy, _) = Raw::connect_with(srv.port, &params("busy")).await;
    busy.send(&query_msg("SELECT pg_sleep(0.7)")).await;
    srv.wait_event(WAIT, |e| e == "sleep-start app=busy");

    let t0 = Instant::now();
    srv.command("shutdown");
    let fatal_57p01 = |m: &[Msg], who: &str| {
        assert_eq!(kinds(m), "E", "{who}: {m:?}");
        assert_eq!(m[0].field(b'S').as_deref(), Some("FATAL"), "{who}");
        assert_eq!(m[0].sqlstate().as_deref(), Some("57P01"), "{who}");
    };

    fatal_57p01(&idle.until_eof().await, "idle");
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "idle closed at once"
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", srv.port))
            .await
            .is_err(),
        "listener closed"
    );

    let m = busy.until_ready().await;
    assert_eq!(kinds(&m), "TDCZ", "the running statement completed");
    fatal_57p01(&busy.until_eof().await, "busy");
    let busy_done = t0.elapsed();
    assert!(
        busy_done < Duration::from_millis(1400),
        "busy closed when idle: {busy_done:?}"
    );

    fatal_57p01(&in_tx.until_eof().await, "in transaction");
    let grace_done = t0.elapsed();
    assert!(grace_done >= Duration::from_millis(1500), "{grace_done:?}");
    assert!(grace_done < Duration::from_secs(5), "{grace_done:?}");
    let ev = srv.wait_event(WAIT, |e| e.contains("app=intx"));
    assert!(ev.ends_with("status=T"), "{ev}");

    srv.wait_event(WAIT, |e| e == "serve-returned");
    assert_eq!(srv.wait_exit(WAIT), Some(0));
}

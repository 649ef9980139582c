//! The test server driven by an unmodified `tokio-postgres` client.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use tokio_postgres::{types::Type, NoTls, SimpleQueryMessage};

use crate::common::Server;

fn simple_rows(msgs: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter().map(|s| Some(s.to_string())).collect()
}

#[tokio::test]
async fn simple_query() {
    let srv = Server::trust();
    let c = srv.connect().await;
    assert_eq!(
        simple_rows(&c.simple_query("SELECT 1").await.unwrap()),
        vec![some(&["1"])]
    );
    let msgs = c.simple_query("SELECT 1; SELECT 2").await.unwrap();
    assert_eq!(simple_rows(&msgs), vec![some(&["1"]), some(&["2"])]);
    let completes = msgs
        .iter()
        .filter(|m| matches!(m, SimpleQueryMessage::CommandComplete(1)))
        .count();
    assert_eq!(completes, 2);
}

#[tokio::test]
async fn prepared_statement_with_parameter() {
    let srv = Server::trust();
    let c = srv.connect().await;
    let stmt = c.prepare("SELECT $1::int4 + 1").await.unwrap();
    assert_eq!(stmt.params(), &[Type::INT4]);
    assert_eq!(stmt.columns()[0].type_(), &Type::INT4);
    // one named statement, several executions, binary parameters and results
    for i in [0i32, 41, -5] {
        let row = c.query_one(&stmt, &[&i]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), i + 1);
    }
    let row = c
        .query_one("SELECT $1::int8 + 1, $2", &[&9i64, &"txt"])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 10);
    assert_eq!(row.get::<_, &str>(1), "txt");
    let err = c.query_one(&stmt, &[&i32::MAX]).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22003");
}

#[tokio::test]
async fn binary_results_of_multi_row_query() {
    let srv = Server::trust();
    let c = srv.connect().await;
    let rows = c.query("SELECT * FROM five_rows", &[]).await.unwrap();
    let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got[0], (1, "row-1".to_owned()));
    assert_eq!(got.len(), 5);
    let txt = simple_rows(&c.simple_query("SELECT * FROM five_rows").await.unwrap());
    assert_eq!(txt[4], some(&["5", "row-5"]));
}

#[tokio::test]
async fn portal_with_row_limit() {
    let srv = Server::trust();
    let mut c = srv.connect().await;
    let tx = c.transaction().await.unwrap();
    let stmt = tx.prepare("SELECT * FROM five_rows").await.unwrap();
    let portal = tx.bind(&stmt, &[]).await.unwrap();
    let mut sizes = Vec::new();
    let mut all = Vec::new();
    loop {
        let chunk = tx.query_portal(&portal, 2).await.unwrap();
        if chunk.is_empty() {
            break;
        }
        sizes.push(chunk.len());
        all.extend(chunk.iter().map(|r| r.get::<_, i32>(0)));
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(all, [1, 2, 3, 4, 5]);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn transaction_status() {
    let srv = Server::trust();
    let mut c = srv.connect().await;
    c.batch_execute("BEGIN").await.unwrap();
    let e = c.simple_query("SELECT 1/0").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "22012");
    let e = c.query_one("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "25P02");
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        c.query_one("SELECT 7", &[]).await.unwrap().get::<_, i32>(0),
        7
    );

    let tx = c.transaction().await.unwrap();
    tx.execute("INSERT INTO sink VALUES ($1)", &[&"x"])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // savepoints via nested transactions
    let mut tx = c.transaction().await.unwrap();
    {
        let sp = tx.transaction().await.unwrap();
        assert!(sp.simple_query("SELECT 1/0").await.is_err());
        sp.rollback().await.unwrap();
    }
    assert_eq!(
        tx.query_one("SELECT 3", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        3
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn errors_keep_connection_usable() {
    let srv = Server::trust();
    let c = srv.connect().await;
    let e = c.simple_query("DO SOMETHING WEIRD").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42601");
    let e = c.prepare("SELECT x FROM nowhere").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "0A000");
    assert_eq!(
        c.query_one("SELECT 8", &[]).await.unwrap().get::<_, i32>(0),
        8
    );
}

#[tokio::test]
async fn copy_out_and_copy_in() {
    let srv = Server::trust();
    let c = srv.connect().await;
    let chunks: Vec<bytes::Bytes> = c
        .copy_out("COPY five_rows TO STDOUT")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let text: String = chunks.iter().map(|b| String::from_utf8_lossy(b)).collect();
    assert_eq!(text.lines().count(), 5);
    assert!(text.starts_with("1\trow-1\n"), "{text}");

    use futures::SinkExt;
    let sink = c.copy_in("COPY sink FROM STDIN").await.unwrap();
    let mut sink = std::pin::pin!(sink);
    sink.send(bytes::Bytes::from_static(b"a\nb\nc\n"))
        .await
        .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 3);
    assert_eq!(
        c.query_one("SELECT 4", &[]).await.unwrap().get::<_, i32>(0),
        4
    );
}

#[tokio::test]
async fn scram_sha_256_auth() {
    let srv = Server::start(&["--auth", "scram", "--user", "alice", "--password", "s3cret"]);
    let base = format!("host=127.0.0.1 port={} dbname=postgres", srv.port);
    let (c, conn) = tokio_postgres::connect(&format!("{base} user=alice password=s3cret"), NoTls)
        .await
        .expect("scram login");
    tokio::spawn(conn);
    assert_eq!(
        c.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0),
        1
    );

    // wrong password and unknown user fail the same way (mock authentication)
    for (bad, user) in [
        ("user=alice password=wrong", "alice"),
        ("user=bob password=s3cret", "bob"),
    ] {
        let err = tokio_postgres::connect(&format!("{base} {bad}"), NoTls)
            .await
            .err()
            .unwrap();
        let db = err.as_db_error().unwrap_or_else(|| panic!("{bad}: {err}"));
        assert_eq!(db.code().code(), "28P01", "{bad}");
        assert_eq!(db.severity(), "FATAL");
        assert_eq!(
            db.message(),
            format!("password authentication failed for user \"{user}\"")
        );
    }
}

#[tokio::test]
async fn unknown_database_is_fatal_3d000() {
    let srv = Server::trust();
    let err = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname=no_such_db",
            srv.port
        ),
        NoTls,
    )
    .await
    .err()
    .unwrap();
    let db = err.as_db_error().expect("db error");
    assert_eq!((db.severity(), db.code().code()), ("FATAL", "3D000"));
}

#[tokio::test]
async fn cancel_request_interrupts_running_query() {
    let srv = Server::trust();
    let c = srv.connect().await;
    let token = c.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let t0 = Instant::now();
    let err = c.simple_query("SELECT pg_sleep(10)").await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "57014");
    assert!(t0.elapsed() < Duration::from_secs(5));
    canceller.await.unwrap();

    // also while rows stream through the extended protocol
    let token = c.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let err = c.query("SELECT * FROM slow_rows", &[]).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "57014");
    assert_eq!(
        c.query_one("SELECT 4", &[]).await.unwrap().get::<_, i32>(0),
        4
    );
}

/// `AuthConfig { local: Trust, remote: ScramSha256 }`: the test connects over loopback, so
/// no password is asked for.
#[tokio::test]
async fn local_trust_lets_loopback_in_without_password() {
    let srv = Server::start(&[
        "--auth",
        "local-trust",
        "--user",
        "alice",
        "--password",
        "pw",
    ]);
    let c = srv.connect_as("bob", "").await;
    assert_eq!(
        c.query_one("SELECT 5", &[]).await.unwrap().get::<_, i32>(0),
        5
    );
}

//! The spike server driven by an unmodified `tokio-postgres` client.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use tokio_postgres::{NoTls, SimpleQueryMessage, types::Type};

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
    assert_eq!(
        simple_rows(&c.simple_query("SELECT 'a', 2").await.unwrap()),
        vec![some(&["a", "2"])]
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
    // the same named statement, several executions (tokio-postgres sends
    // parameters and requests results in *binary* format)
    for i in [0i32, 41, -5] {
        let row = c.query_one(&stmt, &[&i]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), i + 1);
    }
    // one-shot prepared query (unnamed statement) with type inference
    let row = c
        .query_one("SELECT $1::int8 + 1, $2", &[&9i64, &"txt"])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 10);
    assert_eq!(row.get::<_, &str>(1), "txt");
    // overflow is a proper SQL error
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
    // same data through the text path
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
    // tokio-postgres doesn't expose the ReadyForQuery byte, so check behaviour:
    // an error inside a block makes later statements fail with 25P02 until
    // ROLLBACK; outside a block an error has no lasting effect.
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

    // Transaction API (BEGIN/COMMIT through the driver)
    let tx = c.transaction().await.unwrap();
    tx.execute("INSERT INTO sink VALUES ($1)", &[&"x"])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // savepoints via nested transactions
    let mut tx = c.transaction().await.unwrap();
    {
        let sp = tx.transaction().await.unwrap(); // SAVEPOINT
        assert!(sp.simple_query("SELECT 1/0").await.is_err());
        sp.rollback().await.unwrap(); // ROLLBACK TO SAVEPOINT
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

    for bad in ["user=alice password=wrong", "user=bob password=s3cret"] {
        let err = tokio_postgres::connect(&format!("{base} {bad}"), NoTls)
            .await
            .err()
            .unwrap();
        assert_eq!(err.code().map(|c| c.code()), Some("28P01"), "{bad}: {err}");
    }
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

    // also during an extended-protocol Execute
    let token = c.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let err = c.query("SELECT pg_sleep(10)", &[]).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "57014");
    // connection still fine
    assert_eq!(
        c.query_one("SELECT 4", &[]).await.unwrap().get::<_, i32>(0),
        4
    );
}

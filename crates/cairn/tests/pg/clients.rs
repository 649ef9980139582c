//! tokio-postgres against `cairn start`: simple and extended protocol, binary and text
//! parameters, transactions and SQLSTATEs as drivers see them.

use crate::server::{connect, runtime, TestServer};

#[test]
fn tokio_postgres_simple_and_prepared_queries() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = connect(&server.config()).await;
        c.batch_execute("CREATE TABLE kv (k INT PRIMARY KEY, v TEXT, f FLOAT8, b BOOL, n BIGINT)")
            .await
            .unwrap();
        let ins = c
            .prepare("INSERT INTO kv VALUES ($1, $2, $3, $4, $5)")
            .await
            .unwrap();
        assert_eq!(ins.params().len(), 5);
        for i in 0..10i32 {
            let n = c
                .execute(
                    &ins,
                    &[
                        &i,
                        &format!("v{i}"),
                        &(i as f64 / 2.0),
                        &(i % 2 == 0),
                        &(i as i64 * 1_000_000_000),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(n, 1);
        }
        // Binary results through the extended protocol.
        let rows = c
            .query(
                "SELECT k, v, f, b, n FROM kv WHERE k >= $1 ORDER BY k",
                &[&7i32],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        let k: i32 = rows[0].get(0);
        let v: String = rows[0].get(1);
        let f: f64 = rows[0].get(2);
        let b: bool = rows[0].get(3);
        let n: i64 = rows[0].get(4);
        assert_eq!(
            (k, v.as_str(), f, b, n),
            (7, "v7", 3.5, false, 7_000_000_000)
        );
        // Text results through the simple protocol.
        let msgs = c
            .simple_query("SELECT count(*), max(v) FROM kv")
            .await
            .unwrap();
        let row = msgs
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .expect("a row");
        assert_eq!(row.get(0), Some("10"));
        assert_eq!(row.get(1), Some("v9"));
        // NULL parameters and results.
        c.execute(
            "UPDATE kv SET v = $1 WHERE k = $2",
            &[&Option::<String>::None, &3i32],
        )
        .await
        .unwrap();
        let r = c
            .query_one("SELECT v FROM kv WHERE k = 3", &[])
            .await
            .unwrap();
        assert_eq!(r.get::<_, Option<String>>(0), None);
        // EXPLAIN through the extended protocol: the explained statement's parameter types,
        // one text column of plan lines (Describe used to answer NoData).
        let explain = c
            .prepare("EXPLAIN SELECT v FROM kv WHERE k = $1")
            .await
            .unwrap();
        assert_eq!(explain.params(), &[tokio_postgres::types::Type::INT4]);
        assert_eq!(explain.columns().len(), 1);
        assert_eq!(explain.columns()[0].name(), "QUERY PLAN");
        let plan: Vec<String> = c
            .query(&explain, &[&3i32])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            plan.iter().any(|l| l.contains("Index Scan using kv_pkey")),
            "{plan:?}"
        );
        let analyzed = c
            .query(
                "EXPLAIN ANALYZE SELECT count(*) FROM kv WHERE k < $1",
                &[&5i32],
            )
            .await
            .unwrap();
        let last: String = analyzed.last().expect("lines").get(0);
        assert!(last.starts_with("Execution Time"), "{last}");
    });
}

#[test]
fn errors_carry_sqlstates_and_keep_the_connection_usable() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = connect(&server.config()).await;
        c.batch_execute("CREATE TABLE t (a INT PRIMARY KEY)")
            .await
            .unwrap();
        c.batch_execute("INSERT INTO t VALUES (1)").await.unwrap();
        let e = c
            .batch_execute("INSERT INTO t VALUES (1)")
            .await
            .unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("23505"));
        let e = c.batch_execute("SELEC 1").await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("42601"));
        let e = c.query("SELECT * FROM missing", &[]).await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("42P01"));
        let e = c.batch_execute("SAVEPOINT x").await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("25P01"));
        assert_eq!(
            c.query_one("SELECT 1 + 1", &[])
                .await
                .unwrap()
                .get::<_, i32>(0),
            2
        );
    });
}

#[test]
fn transactions_and_serialization_failures_reach_the_client() {
    let server = TestServer::start();
    runtime().block_on(async {
        let mut a = connect(&server.config()).await;
        let mut b = connect(&server.config()).await;
        a.batch_execute("CREATE TABLE acct (id INT PRIMARY KEY, bal INT); INSERT INTO acct VALUES (1, 100), (2, 100)")
            .await
            .unwrap();
        // A rolled-back transaction leaves nothing.
        {
            let t = a.transaction().await.unwrap();
            t.execute("UPDATE acct SET bal = 0", &[]).await.unwrap();
            t.rollback().await.unwrap();
        }
        let sum: i64 = a.query_one("SELECT sum(bal) FROM acct", &[]).await.unwrap().get(0);
        assert_eq!(sum, 200);
        // Write skew under SERIALIZABLE: one of the two commits fails with 40001.
        let ta = a.transaction().await.unwrap();
        let tb = b.transaction().await.unwrap();
        ta.query("SELECT sum(bal) FROM acct", &[]).await.unwrap();
        tb.query("SELECT sum(bal) FROM acct", &[]).await.unwrap();
        ta.execute("UPDATE acct SET bal = bal - 150 WHERE id = 1", &[]).await.unwrap();
        tb.execute("UPDATE acct SET bal = bal - 150 WHERE id = 2", &[]).await.unwrap();
        let ra = ta.commit().await;
        let rb = tb.commit().await;
        let codes: Vec<Option<String>> = [&ra, &rb]
            .iter()
            .map(|r| r.as_ref().err().and_then(|e| e.code().map(|c| c.code().to_string())))
            .collect();
        assert!(ra.is_ok() || rb.is_ok(), "{codes:?}");
        assert!(codes.contains(&Some("40001".into())), "{codes:?}");
        // A failed statement in a block: 25P02 until ROLLBACK.
        a.batch_execute("BEGIN").await.unwrap();
        assert!(a.batch_execute("INSERT INTO acct VALUES (1, 0)").await.is_err());
        let e = a.batch_execute("SELECT 1").await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("25P02"));
        a.batch_execute("ROLLBACK").await.unwrap();
    });
}

#[test]
fn disconnect_mid_transaction_rolls_back() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = connect(&server.config()).await;
        a.batch_execute("CREATE TABLE t (a INT PRIMARY KEY)")
            .await
            .unwrap();
        {
            let b = connect(&server.config()).await;
            b.batch_execute("BEGIN; INSERT INTO t VALUES (1)")
                .await
                .unwrap();
            drop(b);
        }
        // The abandoned transaction's row lock is released: this insert must not wait forever.
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            a.batch_execute("INSERT INTO t VALUES (1)"),
        )
        .await;
        assert!(matches!(r, Ok(Ok(()))), "{r:?}");
    });
}

#[test]
fn databases_are_created_and_connected_to() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = connect(&server.config()).await;
        c.batch_execute("CREATE DATABASE shop").await.unwrap();
        let shop = connect(&format!(
            "host=127.0.0.1 port={} user=postgres dbname=shop",
            server.port
        ))
        .await;
        shop.batch_execute("CREATE TABLE items (id INT PRIMARY KEY)")
            .await
            .unwrap();
        let n: i64 = shop
            .query_one("SELECT count(*) FROM items", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0);
        let e = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=nosuch",
                server.port
            ),
            tokio_postgres::NoTls,
        )
        .await
        .err()
        .expect("unknown database refused");
        assert_eq!(e.code().map(|c| c.code()), Some("3D000"));
    });
}

#[test]
fn committed_rows_survive_sigkill_and_garbage_does_not_kill_the_server() {
    use std::io::{Read, Write};
    let mut server = TestServer::start();
    assert!(server.data_dir().exists());
    runtime().block_on(async {
        let c = connect(&server.config()).await;
        c.batch_execute("CREATE TABLE t (a INT PRIMARY KEY, b TEXT)")
            .await
            .unwrap();
        for i in 0..50 {
            c.execute("INSERT INTO t VALUES ($1, 'x')", &[&i])
                .await
                .unwrap();
        }
    });
    // Malformed frontend messages end that connection only.
    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &b"\x00\x00\x00\x08\x04\xd2\x16\x2f"[..],
        &b"\x00\x00\x00\x02"[..],
    ] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let _ = s.write_all(garbage);
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
    }
    assert!(
        server.alive(),
        "the server died on malformed input: {}",
        server.log()
    );
    let dir = server.kill();
    let server = TestServer::start_in(dir, &[]);
    runtime().block_on(async {
        let c = connect(&server.config()).await;
        let n: i64 = c
            .query_one("SELECT count(*) FROM t", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 50);
    });
}

fn sqlstate(r: &Result<impl Sized, tokio_postgres::Error>) -> Option<String> {
    r.as_ref()
        .err()
        .and_then(|e| e.code().map(|c| c.code().to_string()))
}

#[test]
fn select_for_update_blocks_skips_and_rechecks_like_postgres() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = connect(&server.config()).await;
        let b = std::sync::Arc::new(connect(&server.config()).await);
        a.batch_execute(
            "CREATE TABLE jobs (id INT PRIMARY KEY, state TEXT, prio INT);
             INSERT INTO jobs VALUES (1, 'new', 1), (2, 'new', 2), (3, 'new', 3)",
        )
        .await
        .unwrap();
        a.batch_execute("BEGIN").await.unwrap();
        let r = a
            .query("SELECT id FROM jobs WHERE id = 1 FOR UPDATE", &[])
            .await
            .unwrap();
        assert_eq!(r.len(), 1);
        // NOWAIT: 55P03 at once, as PostgreSQL's "could not obtain lock on row".
        b.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .unwrap();
        let r = b
            .query("SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT", &[])
            .await;
        assert_eq!(sqlstate(&r).as_deref(), Some("55P03"));
        b.batch_execute("ROLLBACK").await.unwrap();
        // SKIP LOCKED: the queue pattern takes the next free row, and LIMIT counts only
        // rows it locked.
        b.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .unwrap();
        let r = b
            .query(
                "SELECT id FROM jobs WHERE state = 'new' ORDER BY prio LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .await
            .unwrap();
        let got: Vec<i32> = r.iter().map(|r| r.get(0)).collect();
        assert_eq!(got, vec![2]);
        // Row 3 was not locked by that LIMIT 1: A can lock it without waiting.
        let r = a
            .query("SELECT id FROM jobs WHERE id = 3 FOR UPDATE NOWAIT", &[])
            .await
            .unwrap();
        assert_eq!(r.len(), 1);
        b.batch_execute("ROLLBACK").await.unwrap();
        // READ COMMITTED waits for the holder, then rechecks the row's newest version:
        // row 1 no longer matches, row 3 comes back with its new value.
        b.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .unwrap();
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move {
                b.query(
                    "SELECT id, prio FROM jobs WHERE state = 'new' AND id IN (1, 3) ORDER BY id FOR UPDATE",
                    &[],
                )
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiter.is_finished(), "FOR UPDATE did not wait for the lock");
        a.batch_execute(
            "UPDATE jobs SET state = 'taken' WHERE id = 1; UPDATE jobs SET prio = 30 WHERE id = 3; COMMIT",
        )
        .await
        .unwrap();
        let rows = waiter.await.unwrap().unwrap();
        let got: Vec<(i32, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(got, vec![(3, 30)]);
        b.batch_execute("COMMIT").await.unwrap();
        // SERIALIZABLE (and REPEATABLE READ): locking a row changed since the snapshot is 40001.
        b.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .unwrap();
        b.query("SELECT count(*) FROM jobs", &[]).await.unwrap();
        a.batch_execute("UPDATE jobs SET prio = 4 WHERE id = 2")
            .await
            .unwrap();
        let r = b
            .query("SELECT id FROM jobs WHERE id = 2 FOR UPDATE", &[])
            .await;
        assert_eq!(sqlstate(&r).as_deref(), Some("40001"));
        b.batch_execute("ROLLBACK").await.unwrap();
    });
}

#[test]
fn startup_options_set_session_defaults_as_pgoptions_does() {
    let server = TestServer::start();
    runtime().block_on(async {
        let config = format!(
            "{} options='-c default_transaction_isolation=read\\\\ committed --application-name=bench'",
            server.config()
        );
        let c = connect(&config).await;
        let row = c.query_one("SHOW transaction_isolation", &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), "read committed");
        let row = c.query_one("SHOW application_name", &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), "bench");
        // A malformed `options` refuses the connection (FATAL), as in PostgreSQL.
        let bad = format!("{} options='stray'", server.config());
        let e = tokio_postgres::connect(&bad, tokio_postgres::NoTls)
            .await
            .err()
            .expect("connection with a bad options parameter was accepted");
        assert_eq!(e.code().map(|c| c.code()), Some("42601"), "{e}");
    });
}

#[test]
fn read_committed_updates_lose_nothing_and_recheck_where() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = connect(&server.config()).await;
        a.batch_execute(
            "CREATE TABLE counter (id INT PRIMARY KEY, n INT, tag TEXT);
             INSERT INTO counter VALUES (1, 0, 'old'), (2, 0, 'old')",
        )
        .await
        .unwrap();
        // Concurrent read-modify-write UPDATEs at READ COMMITTED: each waits for the row
        // lock and recomputes from the newest version, so no increment is lost.
        let config = format!(
            "{} options='-c default_transaction_isolation=read\\\\ committed'",
            server.config()
        );
        run_concurrently(&config, 4, 50, "UPDATE counter SET n = n + 1 WHERE id = 1").await;
        assert_eq!(int_of(&a, "SELECT n FROM counter WHERE id = 1").await, 200);
        // A waiting UPDATE rechecks WHERE against the version it waited for.
        let b = std::sync::Arc::new(connect(&server.config()).await);
        a.batch_execute(
            "BEGIN ISOLATION LEVEL READ COMMITTED; UPDATE counter SET tag = 'new' WHERE id = 2",
        )
        .await
        .unwrap();
        b.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .unwrap();
        let updated = waits_for_commit(
            &a,
            &b,
            "UPDATE counter SET n = n + 100 WHERE tag = 'old'",
            vec![],
        )
        .await;
        // Row 1 ('old') is updated; row 2 became 'new' while B waited and is left alone.
        assert_eq!(updated, 1);
        b.batch_execute("COMMIT").await.unwrap();
        let rows = a
            .query("SELECT id, n, tag FROM counter ORDER BY id", &[])
            .await
            .unwrap();
        let got: Vec<(i32, i32, String)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(got, vec![(1, 300, "old".into()), (2, 0, "new".into())]);
    });
}

/// `clients` connections to `config` each run `sql` `times` times, concurrently; any error
/// fails the test (no retries).
async fn run_concurrently(config: &str, clients: usize, times: usize, sql: &'static str) {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let config = config.to_string();
        tasks.push(tokio::spawn(async move {
            let c = connect(&config).await;
            for _ in 0..times {
                c.execute(sql, &[]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Runs `sql` (int4 parameters `params`) on `waiter` while `holder` has the rows it writes
/// locked in an open transaction: asserts that it is still waiting after 300 ms, commits
/// `holder`, and returns the rows `sql` then changed.
async fn waits_for_commit(
    holder: &tokio_postgres::Client,
    waiter: &std::sync::Arc<tokio_postgres::Client>,
    sql: &'static str,
    params: Vec<i32>,
) -> u64 {
    let task = {
        let w = waiter.clone();
        tokio::spawn(async move {
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p as _).collect();
            w.execute(sql, &refs).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "UPDATE did not wait for the row lock");
    holder.batch_execute("COMMIT").await.unwrap();
    task.await.unwrap().unwrap()
}

/// The one int4 value `sql` returns.
async fn int_of(c: &tokio_postgres::Client, sql: &str) -> i32 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// SERIALIZABLE (the default) read-modify-write UPDATEs of one row named by its primary
/// key, as pgbench's tpcb-like script does to its branch rows: the second writer waits for
/// the first one's row lock and then, nothing else it read having changed, moves its
/// snapshot past the first one's commit and commits instead of failing with 40001. A
/// transaction that had read the row before the other's commit still fails.
#[test]
fn serializable_point_updates_wait_for_the_row_and_commit() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = connect(&server.config()).await;
        a.batch_execute(
            "CREATE TABLE acct (id INT PRIMARY KEY, n INT);
             CREATE TABLE other (id INT PRIMARY KEY, v INT);
             INSERT INTO acct VALUES (1, 0), (2, 0);
             INSERT INTO other VALUES (1, 5)",
        )
        .await
        .unwrap();
        let b = std::sync::Arc::new(connect(&server.config()).await);
        a.batch_execute("BEGIN; UPDATE acct SET n = n + 1 WHERE id = 1")
            .await
            .unwrap();
        b.batch_execute("BEGIN").await.unwrap();
        assert_eq!(int_of(&b, "SELECT v FROM other WHERE id = 1").await, 5);
        let updated =
            waits_for_commit(&a, &b, "UPDATE acct SET n = n + 10 WHERE id = $1", vec![1]).await;
        assert_eq!(updated, 1);
        assert_eq!(
            int_of(&b, "SELECT n FROM acct WHERE id = 1").await,
            11,
            "the update did not start from the committed row"
        );
        b.batch_execute("COMMIT").await.unwrap();

        // Concurrent increments, each its own transaction, no client retries: none fails.
        run_concurrently(
            &server.config(),
            4,
            50,
            "UPDATE acct SET n = n + 1 WHERE id = 2",
        )
        .await;
        assert_eq!(int_of(&a, "SELECT n FROM acct WHERE id = 2").await, 200);

        // The row read before the other commit: its update would start from a stale value.
        b.batch_execute("BEGIN").await.unwrap();
        b.query_one("SELECT n FROM acct WHERE id = 1", &[])
            .await
            .unwrap();
        a.batch_execute("UPDATE acct SET n = n + 1 WHERE id = 1")
            .await
            .unwrap();
        let e = b
            .execute("UPDATE acct SET n = n + 10 WHERE id = 1", &[])
            .await
            .unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("40001"), "{e}");
        b.batch_execute("ROLLBACK").await.unwrap();
        assert_eq!(int_of(&a, "SELECT n FROM acct WHERE id = 1").await, 12);
    });
}

/// Prepared statements after schema changes by another session, as PostgreSQL 15 answers:
/// they re-plan transparently (a prepared INSERT fills a column added since, and writes the
/// entries of an index created since), `SELECT *` whose columns changed fails with 0A000
/// "cached plan must not change result type", a dropped table is 42P01, and a re-created one
/// of the same shape works again.
#[test]
fn prepared_statements_follow_schema_changes_like_postgres() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = connect(&server.config()).await;
        let ddl = connect(&server.config()).await;
        a.batch_execute(
            "CREATE TABLE t (a INT PRIMARY KEY, b TEXT); INSERT INTO t VALUES (1, 'x')",
        )
        .await
        .unwrap();
        let star = a.prepare("SELECT * FROM t WHERE a = $1").await.unwrap();
        let just_b = a.prepare("SELECT b FROM t WHERE a = $1").await.unwrap();
        let ins = a
            .prepare("INSERT INTO t (a, b) VALUES ($1, $2)")
            .await
            .unwrap();
        let by_b = a.prepare("SELECT a FROM t WHERE b = $1").await.unwrap();
        // Twice each: the second execution runs from the cached plan.
        for _ in 0..2 {
            assert_eq!(a.query_one(&star, &[&1i32]).await.unwrap().len(), 2);
            let b: String = a.query_one(&just_b, &[&1i32]).await.unwrap().get(0);
            assert_eq!(b, "x");
            assert_eq!(a.query(&by_b, &[&"x"]).await.unwrap().len(), 1);
        }
        a.execute(&ins, &[&2i32, &"y"]).await.unwrap();

        ddl.batch_execute("ALTER TABLE t ADD COLUMN c INT DEFAULT 7")
            .await
            .unwrap();
        let b: String = a.query_one(&just_b, &[&1i32]).await.unwrap().get(0);
        assert_eq!(b, "x");
        let r = a.query(&star, &[&1i32]).await;
        assert_eq!(sqlstate(&r).as_deref(), Some("0A000"), "{r:?}");
        let e = r.unwrap_err();
        let msg = e.as_db_error().map(|d| d.message().to_string());
        assert_eq!(
            msg.as_deref(),
            Some("cached plan must not change result type")
        );
        a.execute(&ins, &[&3i32, &"z"]).await.unwrap();
        let c: i32 = a
            .query_one("SELECT c FROM t WHERE a = 3", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(c, 7, "the prepared INSERT used the new column's default");

        ddl.batch_execute("CREATE INDEX t_b ON t (b)")
            .await
            .unwrap();
        let plan: Vec<String> = a
            .simple_query("EXPLAIN SELECT a FROM t WHERE b = 'w'")
            .await
            .unwrap()
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .collect();
        assert!(plan.join("\n").contains("t_b"), "{plan:?}");
        a.execute(&ins, &[&4i32, &"w"]).await.unwrap();
        let found: Vec<i32> = a
            .query(&by_b, &[&"w"])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            found,
            vec![4],
            "the prepared INSERT wrote the new index's entry"
        );

        ddl.batch_execute("DROP TABLE t").await.unwrap();
        let r = a.query(&just_b, &[&1i32]).await;
        assert_eq!(sqlstate(&r).as_deref(), Some("42P01"), "{r:?}");
        let r = a.execute(&ins, &[&5i32, &"v"]).await;
        assert_eq!(sqlstate(&r).as_deref(), Some("42P01"), "{r:?}");
        ddl.batch_execute(
            "CREATE TABLE t (a INT PRIMARY KEY, b TEXT); INSERT INTO t VALUES (1, 'new')",
        )
        .await
        .unwrap();
        let b: String = a.query_one(&just_b, &[&1i32]).await.unwrap().get(0);
        assert_eq!(b, "new");
        // The original shape again: SELECT * works again, as in PostgreSQL.
        let row = a.query_one(&star, &[&1i32]).await.unwrap();
        assert_eq!(row.get::<_, String>(1), "new");
    });
}

/// A prepared statement folds `current_setting()` when it is bound; a SET makes the next
/// execution bind again, so it sees the new value as PostgreSQL's does.
#[test]
fn prepared_statement_sees_settings_changes() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = connect(&server.config()).await;
        let s = a
            .prepare("SELECT current_setting('application_name')")
            .await
            .unwrap();
        a.batch_execute("SET application_name = 'one'")
            .await
            .unwrap();
        for _ in 0..2 {
            let v: String = a.query_one(&s, &[]).await.unwrap().get(0);
            assert_eq!(v, "one");
        }
        a.batch_execute("SET application_name = 'two'")
            .await
            .unwrap();
        let v: String = a.query_one(&s, &[]).await.unwrap().get(0);
        assert_eq!(v, "two");
    });
}

/// DDL in an open block is seen by that block (through prepared statements too) and by no
/// other session; rolled back, it leaves nothing behind in any cache; committed, everyone
/// sees it.
#[test]
fn ddl_in_a_block_is_seen_by_it_alone_until_commit() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = connect(&server.config()).await;
        let b = connect(&server.config()).await;
        a.batch_execute("CREATE TABLE t (a INT PRIMARY KEY); INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let count_a = a.prepare("SELECT count(*) FROM t").await.unwrap();
        let count_b = b.prepare("SELECT count(*) FROM t").await.unwrap();
        for c in [&a, &b] {
            c.batch_execute("SELECT * FROM t").await.unwrap();
        }
        a.query_one(&count_a, &[]).await.unwrap();
        b.query_one(&count_b, &[]).await.unwrap();

        for commit in [false, true] {
            a.batch_execute("BEGIN; ALTER TABLE t ADD COLUMN c INT DEFAULT 5; DROP TABLE t; CREATE TABLE t (a INT PRIMARY KEY, c INT DEFAULT 5)")
                .await
                .unwrap();
            let n: i64 = a.query_one(&count_a, &[]).await.unwrap().get(0);
            assert_eq!(n, 0, "a sees its own re-created, empty table");
            a.execute("INSERT INTO t (a) VALUES (2)", &[]).await.unwrap();
            let c: i32 = a
                .query_one("SELECT c FROM t WHERE a = 2", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(c, 5);
            // b still sees the committed table, from its cache or not.
            let n: i64 = b.query_one(&count_b, &[]).await.unwrap().get(0);
            assert_eq!(n, 1);
            let r = b.query("SELECT c FROM t", &[]).await;
            assert_eq!(sqlstate(&r).as_deref(), Some("42703"), "{r:?}");
            a.batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
                .await
                .unwrap();
            for (who, c, count) in [("a", &a, &count_a), ("b", &b, &count_b)] {
                let n: i64 = c.query_one(count, &[]).await.unwrap().get(0);
                let r = c.query("SELECT c FROM t", &[]).await;
                if commit {
                    assert_eq!(n, 1, "{who}: the committed table has a's row 2");
                    assert!(r.is_ok(), "{who}: {r:?}");
                } else {
                    assert_eq!(n, 1, "{who}: the rolled-back block left the old table");
                    assert_eq!(sqlstate(&r).as_deref(), Some("42703"), "{who}: {r:?}");
                }
            }
        }

        // Inside the block the catalog generation counts the block's own changes; after a
        // rollback, the same kind of change committed by b brings the generation to that
        // number again, with another catalog. What a saw in its block must not be served.
        a.batch_execute("CREATE TABLE u (a INT PRIMARY KEY)")
            .await
            .unwrap();
        let star_u = a.prepare("SELECT * FROM u").await.unwrap();
        a.batch_execute("BEGIN; ALTER TABLE u ADD COLUMN rolled_back INT")
            .await
            .unwrap();
        a.batch_execute("SELECT * FROM u").await.unwrap();
        let r = a.query(&star_u, &[]).await;
        assert_eq!(sqlstate(&r).as_deref(), Some("0A000"), "{r:?}");
        a.batch_execute("ROLLBACK").await.unwrap();
        b.batch_execute("ALTER TABLE u ADD COLUMN committed INT")
            .await
            .unwrap();
        for c in [&a, &b] {
            let cols: Vec<String> = c
                .prepare("SELECT * FROM u")
                .await
                .unwrap()
                .columns()
                .iter()
                .map(|c| c.name().to_string())
                .collect();
            assert_eq!(cols, ["a", "committed"]);
        }
    });
}

/// A SERIALIZABLE transaction whose statements found their table in the descriptor cache or
/// ran a cached plan still conflicts with a concurrent ALTER of that table (40001 at COMMIT,
/// as when it read the descriptor itself), and not with DDL on another table.
#[test]
fn serializable_writer_conflicts_with_ddl_on_its_table_despite_cache() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = connect(&server.config()).await;
        let ddl = connect(&server.config()).await;
        a.batch_execute("CREATE TABLE t (a INT PRIMARY KEY, b INT); INSERT INTO t VALUES (1, 0)")
            .await
            .unwrap();
        let upd = a
            .prepare("UPDATE t SET b = b + 1 WHERE a = $1")
            .await
            .unwrap();
        let mut cases = Vec::new();
        for conflict in [true, false] {
            for prepared in [true, false] {
                cases.push((conflict, prepared));
            }
        }
        for (i, (conflict, prepared)) in cases.into_iter().enumerate() {
            // Warm both caches at the current catalog generation.
            for _ in 0..2 {
                a.execute(&upd, &[&1i32]).await.unwrap();
                a.batch_execute("UPDATE t SET b = b + 1 WHERE a = 1")
                    .await
                    .unwrap();
            }
            a.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                .await
                .unwrap();
            if prepared {
                a.execute(&upd, &[&1i32]).await.unwrap();
            } else {
                a.batch_execute("UPDATE t SET b = b + 1 WHERE a = 1")
                    .await
                    .unwrap();
            }
            ddl.batch_execute(&format!("CREATE TABLE other{i} (x INT)"))
                .await
                .unwrap();
            if conflict {
                ddl.batch_execute(&format!("ALTER TABLE t ADD COLUMN c{i} INT"))
                    .await
                    .unwrap();
            }
            let r = a.batch_execute("COMMIT").await;
            let want = conflict.then(|| "40001".to_string());
            assert_eq!(
                sqlstate(&r),
                want,
                "conflict={conflict} prepared={prepared}: {r:?}"
            );
        }
    });
}

/// Subqueries nested as deep as the parser accepts run on a connection's own thread without
/// exhausting its stack (`ServerConfig::connection_stack_bytes`; a stack overflow would abort
/// the server), deeper ones are 54001, and the connection stays usable.
#[test]
fn deeply_nested_statements_fit_the_connection_thread_stack() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = connect(&server.config()).await;
        let nested =
            |depth: usize| format!("SELECT {}1{}", "(SELECT -".repeat(depth), ")".repeat(depth));
        let mut deepest = None;
        for depth in (1..=20).map(|i| i * 25) {
            match c.simple_query(&nested(depth)).await {
                Ok(_) => deepest = Some(depth),
                Err(e) => {
                    assert_eq!(e.code().map(|c| c.code()), Some("54001"), "{depth}: {e}");
                    break;
                }
            }
        }
        assert!(deepest >= Some(100), "deepest accepted nesting {deepest:?}");
        let r = c.simple_query(&nested(5_000)).await;
        assert_eq!(sqlstate(&r).as_deref(), Some("54001"), "{r:?}");
        let one: String = c
            .simple_query("SELECT 1")
            .await
            .unwrap()
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap();
        assert_eq!(one, "1");
    });
}

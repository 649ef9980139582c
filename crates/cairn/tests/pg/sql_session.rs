//! SQL sessions over the real storage stack (MVCC + LSM on disk), without the wire protocol:
//! the behaviour of statements, types, constraints and transactions, checked statement by
//! statement. Results are compared with what PostgreSQL 15 returns for the same SQL.

use std::sync::Arc;

use cairn::sql_store::MvccStore;

use crate::session_fixture::{fixture, one, run};
use cairn_sql_exec::{Engine, ExecResult, Session, TxStatus};
use cairn_sql_plan::types::Value;

#[test]
fn select_without_from_evaluates_expressions() {
    let f = fixture();
    let mut s = f.session();
    assert_eq!(
        one(&mut s, "SELECT 1 + 2, 'a' || 'b', 7 / 2, -7 % 3"),
        "3|ab|3|-1"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT NULL IS NULL, 1 = NULL, true OR NULL, false AND NULL"
        ),
        "t|NULL|t|f"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT CASE WHEN 1 > 2 THEN 'x' ELSE 'y' END, coalesce(NULL, 3), nullif(2, 2)"
        ),
        "y|3|NULL"
    );
    assert_eq!(
        one(&mut s, "SELECT 2147483647 + 1")
            .split(' ')
            .take(2)
            .collect::<Vec<_>>()
            .join(" "),
        "ERROR 22003"
    );
    assert!(one(&mut s, "SELECT 1/0").starts_with("ERROR 22012"));
    assert_eq!(
        one(
            &mut s,
            "SELECT 'abc' LIKE 'a%', 'ABC' ILIKE 'a_c', 3 BETWEEN 1 AND 5, 4 IN (1, 2, NULL)"
        ),
        "t|t|t|NULL"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT CAST('42' AS INT) + 1, '7'::bigint * 2, 3::float8 / 2"
        ),
        "43|14|1.5"
    );
}

#[test]
fn create_insert_select_update_delete() {
    let f = fixture();
    let mut s = f.session();
    assert_eq!(
        run(
            &mut s,
            "CREATE TABLE t (a INT PRIMARY KEY, b TEXT NOT NULL, c FLOAT8 DEFAULT 0.5)"
        ),
        vec!["CREATE TABLE"]
    );
    assert_eq!(
        one(
            &mut s,
            "INSERT INTO t VALUES (1, 'one'), (2, 'two', 2.5), (3, 'three')"
        ),
        "INSERT 0 3"
    );
    assert_eq!(
        one(&mut s, "SELECT * FROM t ORDER BY a"),
        "1|one|0.5\n2|two|2.5\n3|three|0.5"
    );
    assert_eq!(one(&mut s, "SELECT b FROM t WHERE a = 2"), "two");
    assert_eq!(one(&mut s, "SELECT a FROM t WHERE a >= 2 AND a < 3"), "2");
    assert_eq!(
        one(&mut s, "UPDATE t SET c = c * 10 WHERE a <> 2"),
        "UPDATE 2"
    );
    assert_eq!(
        one(&mut s, "SELECT a, c FROM t ORDER BY c DESC"),
        "1|5\n3|5\n2|2.5"
    );
    assert_eq!(one(&mut s, "DELETE FROM t WHERE b LIKE 't%'"), "DELETE 2");
    assert_eq!(
        one(&mut s, "SELECT count(*), sum(a), min(b) FROM t"),
        "1|1|one"
    );
    assert_eq!(
        one(
            &mut s,
            "INSERT INTO t (a, b) VALUES (9, 'nine') RETURNING a * 2, c"
        ),
        "18|0.5"
    );
}

#[test]
fn constraint_violations_have_postgres_sqlstates() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE t (a INT PRIMARY KEY, b INT NOT NULL CHECK (b > 0), v VARCHAR(3))",
    );
    assert_eq!(one(&mut s, "INSERT INTO t VALUES (1, 1)"), "INSERT 0 1");
    assert!(
        one(&mut s, "INSERT INTO t VALUES (1, 2)").starts_with("ERROR 23505"),
        "primary key"
    );
    assert!(
        one(&mut s, "INSERT INTO t VALUES (2, NULL)").starts_with("ERROR 23502"),
        "not null"
    );
    assert!(
        one(&mut s, "INSERT INTO t VALUES (3, 0)").starts_with("ERROR 23514"),
        "check"
    );
    assert!(
        one(&mut s, "INSERT INTO t VALUES (4, 1, 'abcd')").starts_with("ERROR 22001"),
        "varchar length"
    );
    assert!(
        one(&mut s, "INSERT INTO t VALUES ('x', 1)").starts_with("ERROR 22P02"),
        "bad int text"
    );
    assert_eq!(
        one(&mut s, "INSERT INTO t VALUES (1, 5) ON CONFLICT DO NOTHING"),
        "INSERT 0 0"
    );
    assert_eq!(
        one(&mut s, "INSERT INTO t VALUES (1, 5) ON CONFLICT (a) DO UPDATE SET b = t.b + excluded.b RETURNING b"),
        "6"
    );
    assert!(one(&mut s, "SELECT nosuch FROM t").starts_with("ERROR 42703"));
    assert!(one(&mut s, "SELECT * FROM nosuch").starts_with("ERROR 42P01"));
    assert!(one(&mut s, "SELEC 1").starts_with("ERROR 42601"));
    assert!(one(&mut s, "SELECT a FROM t GROUP BY b").starts_with("ERROR 42803"));
    assert!(one(&mut s, "SELECT 'a' + 1").starts_with("ERROR 22P02"));
}

#[test]
fn aggregates_group_by_having_order_limit() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE e (id INT PRIMARY KEY, dept TEXT, pay INT)",
    );
    run(
        &mut s,
        "INSERT INTO e VALUES (1,'a',10),(2,'a',20),(3,'b',5),(4,'c',NULL),(5,'b',5)",
    );
    assert_eq!(
        one(&mut s, "SELECT dept, count(*), count(pay), sum(pay), max(pay) FROM e GROUP BY dept ORDER BY dept"),
        "a|2|2|30|20\nb|2|2|10|5\nc|1|0|NULL|NULL"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT dept FROM e GROUP BY dept HAVING sum(pay) > 15"
        ),
        "a"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT count(DISTINCT pay), string_agg(dept, ',') FILTER (WHERE pay = 5) FROM e"
        ),
        "3|b,b"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT id FROM e ORDER BY pay NULLS FIRST, id DESC LIMIT 3 OFFSET 1"
        ),
        "5\n3\n1"
    );
    assert_eq!(
        one(&mut s, "SELECT DISTINCT dept FROM e ORDER BY 1"),
        "a\nb\nc"
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM e WHERE false"), "0");
    assert_eq!(one(&mut s, "SELECT sum(pay) FROM e WHERE false"), "NULL");
}

#[test]
fn joins_and_set_operations() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE l (k INT PRIMARY KEY, v TEXT); CREATE TABLE r (k INT PRIMARY KEY, w TEXT)",
    );
    run(&mut s, "INSERT INTO l VALUES (1,'a'),(2,'b'),(3,'c'); INSERT INTO r VALUES (2,'x'),(3,'y'),(4,'z')");
    assert_eq!(
        one(
            &mut s,
            "SELECT l.k, v, w FROM l JOIN r ON l.k = r.k ORDER BY 1"
        ),
        "2|b|x\n3|c|y"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT l.k, w FROM l LEFT JOIN r USING (k) ORDER BY 1"
        ),
        "1|NULL\n2|x\n3|y"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT r.k, v FROM l RIGHT JOIN r ON l.k = r.k ORDER BY 1"
        ),
        "2|b\n3|c\n4|NULL"
    );
    assert_eq!(
        one(&mut s, "SELECT count(*) FROM l FULL JOIN r ON l.k = r.k"),
        "4"
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM l, r"), "9");
    assert_eq!(
        one(&mut s, "SELECT k FROM l UNION SELECT k FROM r ORDER BY 1"),
        "1\n2\n3\n4"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT k FROM l INTERSECT SELECT k FROM r ORDER BY 1"
        ),
        "2\n3"
    );
    assert_eq!(one(&mut s, "SELECT k FROM l EXCEPT SELECT k FROM r"), "1");
    assert_eq!(
        one(
            &mut s,
            "WITH big AS (SELECT k FROM r WHERE k > 2) SELECT sum(k) FROM big"
        ),
        "7"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT x.a FROM (SELECT k * 10 AS a FROM l) AS x WHERE x.a > 10 ORDER BY 1"
        ),
        "20\n30"
    );
}

#[test]
fn transaction_blocks_commit_roll_back_and_fail() {
    let f = fixture();
    let mut s = f.session();
    run(&mut s, "CREATE TABLE t (a INT PRIMARY KEY)");
    assert_eq!(
        run(&mut s, "BEGIN; INSERT INTO t VALUES (1); ROLLBACK"),
        vec!["BEGIN", "INSERT 0 1", "ROLLBACK"]
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "0");
    assert_eq!(run(&mut s, "BEGIN"), vec!["BEGIN"]);
    assert_eq!(s.status(), TxStatus::InBlock);
    assert_eq!(one(&mut s, "INSERT INTO t VALUES (1)"), "INSERT 0 1");
    assert!(one(&mut s, "INSERT INTO t VALUES (1)").starts_with("ERROR 23505"));
    assert_eq!(s.status(), TxStatus::Failed);
    assert!(one(&mut s, "SELECT 1").starts_with("ERROR 25P02"));
    assert_eq!(one(&mut s, "COMMIT"), "ROLLBACK");
    assert_eq!(s.status(), TxStatus::Idle);
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "0");
    assert_eq!(run(&mut s, "START TRANSACTION ISOLATION LEVEL REPEATABLE READ; SHOW transaction_isolation; INSERT INTO t VALUES (5); COMMIT"),
        vec!["START TRANSACTION", "repeatable read", "INSERT 0 1", "COMMIT"]);
    assert_eq!(one(&mut s, "SELECT a FROM t"), "5");
}

#[test]
fn rolled_back_create_table_leaves_nothing_and_ddl_is_atomic() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "BEGIN; CREATE TABLE gone (a INT); INSERT INTO gone VALUES (1); ROLLBACK",
    );
    assert!(one(&mut s, "SELECT * FROM gone").starts_with("ERROR 42P01"));
    // A second session does not see an uncommitted table.
    let mut other = f.session();
    run(&mut s, "BEGIN; CREATE TABLE later (a INT)");
    assert!(one(&mut other, "SELECT * FROM later").starts_with("ERROR 42P01"));
    run(&mut s, "COMMIT");
    assert_eq!(run(&mut other, "SELECT * FROM later"), Vec::<String>::new());
    assert_eq!(one(&mut s, "DROP TABLE later"), "DROP TABLE");
    assert!(one(&mut other, "SELECT * FROM later").starts_with("ERROR 42P01"));
    assert_eq!(one(&mut s, "DROP TABLE IF EXISTS later"), "DROP TABLE");
}

#[test]
fn create_table_as_copies_the_query_columns_and_rows() {
    // Expected tags, rows and column types as PostgreSQL 15 gives them.
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE src (a int PRIMARY KEY, b numeric(6,2), c varchar(5)); \
         INSERT INTO src VALUES (1, 1.50, 'x'), (2, 2.25, 'yy'), (3, NULL, NULL)",
    );
    assert_eq!(
        one(
            &mut s,
            "CREATE TABLE dst AS SELECT a, b * 2 AS twice, c, 'lit' AS lit, a > 1 AS big \
             FROM src WHERE a < 3"
        ),
        "SELECT 2"
    );
    assert_eq!(
        run(&mut s, "SELECT * FROM dst ORDER BY a"),
        ["1|3.00|x|lit|f", "2|4.50|yy|lit|t"]
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_name = 'dst' ORDER BY ordinal_position"
        ),
        [
            "a|integer",
            "twice|numeric",
            "c|character varying",
            "lit|text",
            "big|boolean"
        ]
    );
    assert_eq!(
        one(&mut s, "CREATE TABLE IF NOT EXISTS dst AS SELECT 1"),
        "CREATE TABLE AS"
    );
    assert_eq!(
        one(
            &mut s,
            "CREATE TABLE empty AS SELECT a, c FROM src WITH NO DATA"
        ),
        "CREATE TABLE AS"
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM empty"), "0");
    // The new table is an ordinary one.
    assert_eq!(one(&mut s, "INSERT INTO dst (a) VALUES (9)"), "INSERT 0 1");
    // Rolled back, it leaves nothing.
    run(&mut s, "BEGIN; CREATE TABLE r AS SELECT 1 AS x; ROLLBACK");
    assert!(one(&mut s, "SELECT * FROM r").starts_with("ERROR 42P01"));
}

#[test]
fn serialization_failure_is_40001_at_commit() {
    let f = fixture();
    let mut a = f.session();
    let mut b = f.session();
    run(&mut a, "CREATE TABLE acct (id INT PRIMARY KEY, bal INT); INSERT INTO acct VALUES (1, 100), (2, 100)");
    // Write skew: each reads both rows and writes one; SERIALIZABLE must abort one of them.
    run(&mut a, "BEGIN; SELECT sum(bal) FROM acct");
    run(&mut b, "BEGIN; SELECT sum(bal) FROM acct");
    run(&mut a, "UPDATE acct SET bal = bal - 150 WHERE id = 1");
    run(&mut b, "UPDATE acct SET bal = bal - 150 WHERE id = 2");
    let ra = one(&mut a, "COMMIT");
    let rb = one(&mut b, "COMMIT");
    let outcomes = [ra.clone(), rb.clone()];
    assert!(outcomes.iter().any(|o| o == "COMMIT"), "{outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o.starts_with("ERROR 40001")),
        "{outcomes:?}"
    );
    assert_eq!(a.status(), TxStatus::Idle);
    assert_eq!(b.status(), TxStatus::Idle);
}

#[test]
fn tables_without_primary_key_get_hidden_rowids() {
    let f = fixture();
    let mut s = f.session();
    run(&mut s, "CREATE TABLE t1 (a INTEGER, b INTEGER)");
    run(&mut s, "INSERT INTO t1 VALUES (1, 2), (1, 2), (NULL, 3)");
    assert_eq!(
        one(&mut s, "SELECT * FROM t1 ORDER BY b"),
        "1|2\n1|2\nNULL|3"
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM t1 WHERE a IS NULL"), "1");
    assert_eq!(one(&mut s, "TRUNCATE t1"), "TRUNCATE TABLE");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t1"), "0");
}

#[test]
fn databases_can_be_created_used_and_dropped() {
    let f = fixture();
    let mut s = f.session();
    assert_eq!(one(&mut s, "CREATE DATABASE shop"), "CREATE DATABASE");
    assert!(one(&mut s, "CREATE DATABASE shop").starts_with("ERROR 42P04"));
    let mut shop = f
        .engine
        .open_session("postgres", "shop")
        .expect("open shop");
    run(&mut shop, "CREATE TABLE items (id INT PRIMARY KEY)");
    assert!(
        one(&mut s, "SELECT * FROM items").starts_with("ERROR 42P01"),
        "tables are per database"
    );
    assert_eq!(shop.database(), "shop");
    drop(shop);
    assert_eq!(one(&mut s, "DROP DATABASE shop"), "DROP DATABASE");
    assert_eq!(
        f.engine
            .open_session("postgres", "shop")
            .err()
            .map(|e| e.code),
        Some("3D000")
    );
    assert!(one(&mut s, "DROP DATABASE postgres").starts_with("ERROR 55006"));
}

#[test]
fn prepared_statements_infer_parameter_types() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE acc (aid INT PRIMARY KEY, abalance INT)",
    );
    run(&mut s, "INSERT INTO acc VALUES (1, 10)");
    let up = s
        .prepare(
            "UPDATE acc SET abalance = abalance + $1 WHERE aid = $2",
            &[],
        )
        .expect("prepare");
    assert_eq!(up.param_types.len(), 2);
    assert!(up
        .param_types
        .iter()
        .all(|t| *t == cairn_sql_plan::types::DataType::Int4));
    assert!(up.columns.is_none());
    let r = s
        .execute_prepared(&up, &[Value::Int(5), Value::Int(1)])
        .expect("execute");
    assert!(matches!(r, ExecResult::Command { ref tag } if tag == "UPDATE 1"));
    let sel = s
        .prepare("SELECT abalance FROM acc WHERE aid = $1", &[])
        .expect("prepare");
    assert_eq!(sel.columns.as_ref().map(|c| c.len()), Some(1));
    match s.execute_prepared(&sel, &[Value::Int(1)]).expect("execute") {
        ExecResult::Rows { rows, .. } => assert_eq!(rows, vec![vec![Value::Int(15)]]),
        other => panic!("expected rows, got {other:?}"),
    }
    assert_eq!(s.execute_prepared(&sel, &[]).unwrap_err().code, "08P01");
}

/// Parameters in a window call: a ROWS offset (typed int8) and lag's offset (int4), bound
/// per execution, so one prepared statement serves several frames.
#[test]
fn window_calls_take_parameters() {
    let f = fixture();
    let mut s = f.session();
    run(&mut s, "CREATE TABLE w (id INT PRIMARY KEY, v INT)");
    run(
        &mut s,
        "INSERT INTO w VALUES (1, 10), (2, 20), (3, 30), (4, 40)",
    );
    let q = s
        .prepare(
            "SELECT id, sum(v) OVER (ORDER BY id ROWS BETWEEN $1 PRECEDING AND CURRENT ROW), \
             lag(v, $2) OVER (ORDER BY id) FROM w ORDER BY id",
            &[],
        )
        .expect("prepare");
    use cairn_sql_plan::types::DataType;
    assert_eq!(q.param_types, vec![DataType::Int8, DataType::Int4]);
    let rows = |s: &mut Session, frame: i64, lag: i64| match s
        .execute_prepared(&q, &[Value::Int(frame), Value::Int(lag)])
        .expect("execute")
    {
        ExecResult::Rows { rows, .. } => rows,
        other => panic!("expected rows, got {other:?}"),
    };
    let expect = |v: &[(i64, i64, Option<i64>)]| -> Vec<Vec<Value>> {
        v.iter()
            .map(|&(id, sum, lag)| {
                vec![
                    Value::Int(id),
                    Value::Int(sum),
                    lag.map_or(Value::Null, Value::Int),
                ]
            })
            .collect()
    };
    assert_eq!(
        rows(&mut s, 1, 1),
        expect(&[
            (1, 10, None),
            (2, 30, Some(10)),
            (3, 50, Some(20)),
            (4, 70, Some(30))
        ])
    );
    assert_eq!(
        rows(&mut s, 0, 2),
        expect(&[
            (1, 10, None),
            (2, 20, None),
            (3, 30, Some(10)),
            (4, 40, Some(20))
        ])
    );
    // A negative frame offset is PostgreSQL's 22013, raised when the statement runs.
    let err = s
        .execute_prepared(&q, &[Value::Int(-1), Value::Int(1)])
        .unwrap_err();
    assert_eq!(err.code, "22013");
}

/// EXPLAIN ANALYZE runs the statement (DML included) and reports each operator's actual
/// rows and loops next to its estimate.
#[test]
fn explain_analyze_reports_actual_rows_and_runs_dml() {
    let f = fixture();
    let mut s = f.session();
    run(&mut s, "CREATE TABLE ea (id INT PRIMARY KEY, v INT)");
    run(
        &mut s,
        "INSERT INTO ea SELECT g, g % 10 FROM generate_series(1, 100) g",
    );
    let lines = run(
        &mut s,
        "EXPLAIN ANALYZE SELECT v, count(*) FROM ea WHERE v < 3 GROUP BY v",
    );
    assert_actual(&lines, "Seq Scan on ea", "actual rows=30 loops=1");
    assert_actual(&lines, "Aggregate", "actual rows=3 loops=1");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("Execution Time: ")),
        "{lines:?}"
    );
    // With a correlated subquery in the filter: the 5 rows read all pass it.
    let lines = run(
        &mut s,
        "EXPLAIN ANALYZE SELECT id FROM ea o WHERE id <= 5 AND v = (SELECT max(v) FROM ea i WHERE i.id = o.id)",
    );
    assert!(
        lines.iter().any(|l| l.contains("actual rows=5 loops=1")),
        "{lines:?}"
    );
    // The UPDATE ran: its rows changed.
    run(
        &mut s,
        "EXPLAIN ANALYZE UPDATE ea SET v = 100 WHERE id <= 4",
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM ea WHERE v = 100"), "4");
    // Plain EXPLAIN runs nothing and shows no actual figures.
    let lines = run(&mut s, "EXPLAIN DELETE FROM ea");
    assert!(lines.iter().all(|l| !l.contains("actual")), "{lines:?}");
    assert_eq!(one(&mut s, "SELECT count(*) FROM ea"), "100");
}

/// A prepared statement keeps its plan between executions until ANALYZE changes the
/// statistics it was planned with; then it plans again (at the new statistics generation).
#[test]
fn prepared_plans_are_made_again_after_analyze() {
    let f = fixture();
    let mut s = f.session();
    run(&mut s, "CREATE TABLE pa (id INT PRIMARY KEY, v INT)");
    run(
        &mut s,
        "INSERT INTO pa SELECT g, g % 3 FROM generate_series(1, 30) g",
    );
    let q = s
        .prepare("SELECT count(*) FROM pa WHERE v = $1", &[])
        .expect("prepare");
    let count = |s: &mut Session| match s.execute_prepared(&q, &[Value::Int(1)]) {
        Ok(ExecResult::Rows { rows, .. }) => rows,
        other => panic!("expected rows, got {other:?}"),
    };
    assert_eq!(count(&mut s), vec![vec![Value::Int(10)]]);
    let first = q.plan.planned_at().expect("a plan is kept");
    assert_eq!(count(&mut s), vec![vec![Value::Int(10)]]);
    assert_eq!(
        q.plan.planned_at(),
        Some(first),
        "same statistics, same plan"
    );
    run(&mut s, "ANALYZE pa");
    assert_eq!(count(&mut s), vec![vec![Value::Int(10)]]);
    let second = q.plan.planned_at().expect("a plan is kept");
    assert_eq!(second.0, first.0, "no catalog change");
    assert!(
        second.1 > first.1,
        "planned again after ANALYZE: {first:?} then {second:?}"
    );
}

/// ORDER BY ... LIMIT keeps only the first offset + limit rows while sorting (exec.rs
/// `top_n`); its rows must be those a full stable sort puts first, ties in input order, also
/// through a projection that drops a hidden sort column and with NULLs first. The
/// derived-table form (`OFFSET 0` inside) sorts everything.
#[test]
fn order_by_limit_keeps_the_rows_a_full_sort_would() {
    let f = fixture();
    let mut s = f.session();
    run(&mut s, "CREATE TABLE tn (id INT PRIMARY KEY, k INT)");
    run(
        &mut s,
        "INSERT INTO tn SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE (g * 7919) % 100 END \
         FROM generate_series(1, 5000) g",
    );
    let cases = [
        ("id, k", "k DESC", "20 OFFSET 7"),
        ("id, k", "k NULLS FIRST", "60"),
        ("id", "k + id % 3, id DESC", "15 OFFSET 1000"),
        ("id, k", "k", "3000"),
    ];
    for (cols, order, limit) in cases {
        let top = run(
            &mut s,
            &format!("SELECT {cols} FROM tn ORDER BY {order} LIMIT {limit}"),
        );
        let full = run(
            &mut s,
            &format!(
                "SELECT {cols} FROM (SELECT * FROM tn ORDER BY {order} OFFSET 0) s LIMIT {limit}"
            ),
        );
        assert!(!top.is_empty() && !top[0].starts_with("ERROR"), "{top:?}");
        assert_eq!(top, full, "ORDER BY {order} LIMIT {limit}");
    }
    // The sort kept 27 rows, not 5,000: the top-N path ran.
    let lines = run(
        &mut s,
        "EXPLAIN ANALYZE SELECT id FROM tn ORDER BY k DESC LIMIT 20 OFFSET 7",
    );
    assert_actual(&lines, "Sort", "actual rows=27 loops=1");
}

/// The first EXPLAIN ANALYZE line naming `operator` says `actual`.
fn assert_actual(lines: &[String], operator: &str, actual: &str) {
    let line = lines
        .iter()
        .find(|l| l.contains(operator))
        .unwrap_or_else(|| panic!("no {operator} line in {lines:?}"));
    assert!(line.contains(actual), "{lines:?}");
}

#[test]
fn data_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = cairn::Db::open(dir.path(), cairn::DbOptions::default()).expect("open");
        let engine = Engine::new(Arc::new(MvccStore::new(Arc::new(db)))).expect("engine");
        let mut s = engine
            .open_session("postgres", "postgres")
            .expect("session");
        run(
            &mut s,
            "CREATE TABLE k (a INT PRIMARY KEY, b TEXT); INSERT INTO k VALUES (1, 'kept')",
        );
    }
    let db = cairn::Db::open(dir.path(), cairn::DbOptions::default()).expect("reopen");
    let engine = Engine::new(Arc::new(MvccStore::new(Arc::new(db)))).expect("engine");
    let mut s = engine
        .open_session("postgres", "postgres")
        .expect("session");
    assert_eq!(one(&mut s, "SELECT b FROM k WHERE a = 1"), "kept");
}

#[test]
fn subqueries_scalar_in_exists_and_correlated() {
    let f = fixture();
    let mut s = f.session();
    run(&mut s, "CREATE TABLE t1 (a INT, b INT); INSERT INTO t1 VALUES (1, 10), (2, 20), (3, 30), (NULL, 5)");
    run(&mut s, "CREATE TABLE t2 (x INT PRIMARY KEY, y TEXT); INSERT INTO t2 VALUES (2, 'two'), (3, 'three')");
    assert_eq!(
        one(
            &mut s,
            "SELECT a FROM t1 WHERE b > (SELECT avg(b) FROM t1) ORDER BY a"
        ),
        "2\n3"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT a FROM t1 WHERE a IN (SELECT x FROM t2) ORDER BY a"
        ),
        "2\n3"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT a FROM t1 WHERE a NOT IN (SELECT x FROM t2) ORDER BY a"
        ),
        "1"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT count(*) FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.x = t1.a)"
        ),
        "2"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT count(*) FROM t1 WHERE NOT EXISTS (SELECT 1 FROM t2 WHERE t2.x = t1.a)"
        ),
        "2"
    );
    // Correlated scalar subquery in the select list (the sqllogictest corpus is full of these).
    assert_eq!(
        one(&mut s, "SELECT a, (SELECT count(*) FROM t1 AS x WHERE x.b < t1.b) FROM t1 WHERE a IS NOT NULL ORDER BY a"),
        "1|1\n2|2\n3|3"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT (SELECT y FROM t2 WHERE x = 3), (SELECT y FROM t2 WHERE x = 9)"
        ),
        "three|NULL"
    );
    assert!(one(&mut s, "SELECT (SELECT x FROM t2)").starts_with("ERROR 21000"));
    assert!(one(&mut s, "SELECT (SELECT x, y FROM t2)").starts_with("ERROR 42601"));
    // NULL semantics of IN: 1 NOT IN (2, NULL) is NULL.
    assert_eq!(
        one(
            &mut s,
            "SELECT 1 NOT IN (SELECT a FROM t1 WHERE a IS NULL OR a = 2)"
        ),
        "NULL"
    );
    // Aggregates inside a subquery do not make the outer query aggregate.
    assert_eq!(
        one(
            &mut s,
            "SELECT a, (SELECT max(x) FROM t2) FROM t1 WHERE a = 1"
        ),
        "1|3"
    );
    // A subquery in an aggregating query may use grouped columns.
    assert_eq!(
        one(&mut s, "SELECT a, (SELECT y FROM t2 WHERE x = t1.a) FROM t1 GROUP BY a HAVING a >= 2 ORDER BY a"),
        "2|two\n3|three"
    );
}

#[test]
fn secondary_indexes_answer_queries_and_stay_in_step() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE p (id INT PRIMARY KEY, email TEXT UNIQUE, city TEXT, age INT)",
    );
    run(&mut s, "INSERT INTO p VALUES (1,'a@x','oslo',30),(2,'b@x','rome',40),(3,'c@x','oslo',50),(4,NULL,'rome',NULL),(5,NULL,NULL,20)");
    assert_eq!(one(&mut s, "CREATE INDEX ON p (city, age)"), "CREATE INDEX");
    assert_eq!(
        one(&mut s, "CREATE INDEX p_age ON p (age DESC)"),
        "CREATE INDEX"
    );
    assert!(one(&mut s, "CREATE INDEX p_age ON p (age)").starts_with("ERROR 42P07"));
    assert_eq!(
        one(&mut s, "CREATE INDEX IF NOT EXISTS p_age ON p (age)"),
        "CREATE INDEX"
    );
    // Queries through the indexes return what a full scan would.
    assert_eq!(
        one(&mut s, "SELECT id FROM p WHERE city = 'oslo' ORDER BY id"),
        "1\n3"
    );
    assert_eq!(
        one(&mut s, "SELECT id FROM p WHERE city = 'oslo' AND age > 30"),
        "3"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT id FROM p WHERE city = 'rome' AND age >= 40 AND age <= 40"
        ),
        "2"
    );
    assert_eq!(one(&mut s, "SELECT id FROM p WHERE email = 'b@x'"), "2");
    assert_eq!(
        without_estimate(
            &run(
                &mut s,
                "EXPLAIN SELECT id FROM p WHERE city = 'oslo' AND age > 30"
            )[1]
        ),
        "  ->  Index Scan using p_city_age_idx on p (1 equal, lower bound)"
    );
    assert_eq!(
        without_estimate(&run(&mut s, "EXPLAIN SELECT id FROM p WHERE email = 'b@x'")[1]),
        "  ->  Index Scan using p_email_key on p (1 equal)"
    );
    assert_eq!(
        without_estimate(&run(&mut s, "EXPLAIN SELECT id FROM p WHERE id = 2")[1]),
        "  ->  Index Scan using p_pkey on p (1 equal)"
    );
    assert_eq!(
        without_estimate(&run(&mut s, "EXPLAIN SELECT id FROM p WHERE id + 0 = 2")[1]),
        "  ->  Seq Scan on p"
    );
    assert_eq!(one(&mut s, "SELECT id FROM p WHERE age = 20"), "5");
    // Unique: duplicates refused, NULLs allowed many times.
    assert!(one(&mut s, "INSERT INTO p VALUES (6, 'a@x', 'x', 1)").starts_with("ERROR 23505"));
    assert_eq!(
        one(&mut s, "INSERT INTO p VALUES (6, NULL, 'x', 1)"),
        "INSERT 0 1"
    );
    // Updates and deletes move and remove entries.
    assert_eq!(
        one(&mut s, "UPDATE p SET city = 'oslo' WHERE id = 2"),
        "UPDATE 1"
    );
    assert_eq!(
        one(&mut s, "SELECT id FROM p WHERE city = 'oslo' ORDER BY id"),
        "1\n2\n3"
    );
    assert_eq!(
        one(&mut s, "SELECT count(*) FROM p WHERE city = 'rome'"),
        "1"
    );
    assert_eq!(
        one(&mut s, "UPDATE p SET email = 'z@x' WHERE id = 1"),
        "UPDATE 1"
    );
    assert_eq!(
        one(&mut s, "INSERT INTO p VALUES (7, 'a@x', 'y', 2)"),
        "INSERT 0 1"
    );
    assert!(one(&mut s, "UPDATE p SET email = 'z@x' WHERE id = 7").starts_with("ERROR 23505"));
    assert_eq!(one(&mut s, "DELETE FROM p WHERE city = 'oslo'"), "DELETE 3");
    assert_eq!(
        one(&mut s, "SELECT count(*) FROM p WHERE city = 'oslo'"),
        "0"
    );
    assert_eq!(
        one(&mut s, "INSERT INTO p VALUES (8, 'z@x', 'q', 3)"),
        "INSERT 0 1"
    );
    // CREATE UNIQUE INDEX on duplicates fails; DROP INDEX removes the name.
    assert_eq!(
        one(&mut s, "INSERT INTO p VALUES (9, NULL, 'rome', 9)"),
        "INSERT 0 1"
    );
    assert!(one(&mut s, "CREATE UNIQUE INDEX ON p (city)").starts_with("ERROR 23505"));
    assert_eq!(one(&mut s, "DROP INDEX p_age"), "DROP INDEX");
    assert!(one(&mut s, "DROP INDEX p_age").starts_with("ERROR 42704"));
    assert_eq!(one(&mut s, "SELECT id FROM p WHERE age = 20"), "5");
    // Rolled-back index creation leaves no index.
    run(&mut s, "BEGIN; CREATE INDEX tmp_idx ON p (age); ROLLBACK");
    assert!(one(&mut s, "DROP INDEX tmp_idx").starts_with("ERROR 42704"));
    assert_eq!(one(&mut s, "DROP TABLE p"), "DROP TABLE");
    assert_eq!(
        one(&mut s, "CREATE TABLE p (id INT PRIMARY KEY)"),
        "CREATE TABLE"
    );
    assert_eq!(
        one(&mut s, "CREATE INDEX p_city_age_idx ON p (id)"),
        "CREATE INDEX"
    );
}

#[test]
fn copy_from_stdin_and_to_stdout() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE c (id INT PRIMARY KEY, name TEXT, note TEXT DEFAULT 'none')",
    );
    s.start_batch("COPY c (id, name) FROM STDIN").unwrap();
    assert!(matches!(
        s.next_in_batch(),
        Some(Ok(ExecResult::CopyIn { columns: 2 }))
    ));
    s.copy_data(b"1\talpha\n2\t\\N\n3\tga").unwrap();
    s.copy_data(b"mma\n").unwrap();
    match s.copy_done().unwrap() {
        ExecResult::Command { tag } => assert_eq!(tag, "COPY 3"),
        other => panic!("{other:?}"),
    }
    assert!(s.next_in_batch().is_none());
    assert_eq!(
        one(&mut s, "SELECT id, name, note FROM c ORDER BY id"),
        "1|alpha|none\n2|NULL|none\n3|gamma|none"
    );
    // CSV with a header, inside a block that then rolls back.
    run(&mut s, "BEGIN");
    s.start_batch("COPY c FROM STDIN WITH (FORMAT csv, HEADER true)")
        .unwrap();
    assert!(matches!(
        s.next_in_batch(),
        Some(Ok(ExecResult::CopyIn { columns: 3 }))
    ));
    s.copy_data(b"id,name,note\n10,\"x,y\",\n").unwrap();
    s.copy_done().unwrap();
    assert_eq!(
        one(&mut s, "SELECT name, note IS NULL FROM c WHERE id = 10"),
        "x,y|t"
    );
    run(&mut s, "ROLLBACK");
    assert_eq!(one(&mut s, "SELECT count(*) FROM c"), "3");
    // A bad row fails the COPY and writes nothing.
    s.start_batch("COPY c (id, name) FROM STDIN").unwrap();
    assert!(matches!(
        s.next_in_batch(),
        Some(Ok(ExecResult::CopyIn { .. }))
    ));
    let e = s.copy_data(b"4\tok\nfive\tbad\n").unwrap_err();
    assert_eq!(e.code, "22P02");
    assert_eq!(one(&mut s, "SELECT count(*) FROM c"), "3");
    // COPY TO STDOUT in text and CSV.
    s.start_batch("COPY c TO STDOUT").unwrap();
    match s.next_in_batch() {
        Some(Ok(ExecResult::CopyOut { data, rows, .. })) => {
            assert_eq!(rows, 3);
            assert_eq!(data.len(), 3, "one CopyData per row");
            assert_eq!(
                String::from_utf8(data.concat()).unwrap(),
                "1\talpha\tnone\n2\t\\N\tnone\n3\tgamma\tnone\n"
            );
        }
        other => panic!("{other:?}"),
    }
    s.start_batch("COPY (SELECT id, name FROM c WHERE id < 3 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)").unwrap();
    match s.next_in_batch() {
        Some(Ok(ExecResult::CopyOut { data, .. })) => {
            assert_eq!(
                String::from_utf8(data.concat()).unwrap(),
                "id,name\n1,alpha\n2,\n"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn alter_table_adds_primary_key_and_columns() {
    let f = fixture();
    let mut s = f.session();
    // The pgbench -i sequence: create without a key, load, then add the primary key.
    run(
        &mut s,
        "CREATE TABLE acc (aid INT NOT NULL, bid INT, abalance INT, filler CHAR(84))",
    );
    run(
        &mut s,
        "INSERT INTO acc (aid, bid, abalance) VALUES (1, 1, 0), (2, 1, 0), (3, 1, 5)",
    );
    run(&mut s, "CREATE INDEX acc_bid ON acc (bid)");
    assert_eq!(
        one(&mut s, "ALTER TABLE acc ADD PRIMARY KEY (aid)"),
        "ALTER TABLE"
    );
    assert_eq!(
        without_estimate(&run(&mut s, "EXPLAIN SELECT abalance FROM acc WHERE aid = 3")[1]),
        "  ->  Index Scan using acc_pkey on acc (1 equal)"
    );
    assert_eq!(one(&mut s, "SELECT abalance FROM acc WHERE aid = 3"), "5");
    assert_eq!(one(&mut s, "SELECT count(*) FROM acc WHERE bid = 1"), "3");
    assert!(one(&mut s, "INSERT INTO acc (aid) VALUES (2)").starts_with("ERROR 23505"));
    assert!(one(&mut s, "ALTER TABLE acc ADD PRIMARY KEY (bid)").starts_with("ERROR 42P16"));
    // Duplicate keys refuse the primary key and change nothing.
    run(
        &mut s,
        "CREATE TABLE d (a INT); INSERT INTO d VALUES (1), (1)",
    );
    assert!(one(&mut s, "ALTER TABLE d ADD PRIMARY KEY (a)").starts_with("ERROR 23505"));
    assert_eq!(one(&mut s, "SELECT count(*) FROM d"), "2");
    // ADD COLUMN with a default fills existing rows; DROP and RENAME.
    assert_eq!(
        one(&mut s, "ALTER TABLE acc ADD COLUMN note TEXT DEFAULT 'x'"),
        "ALTER TABLE"
    );
    assert_eq!(one(&mut s, "SELECT DISTINCT note FROM acc"), "x");
    assert_eq!(
        one(&mut s, "ALTER TABLE acc ADD COLUMN extra INT"),
        "ALTER TABLE"
    );
    assert_eq!(
        one(&mut s, "SELECT count(*) FROM acc WHERE extra IS NULL"),
        "3"
    );
    assert!(one(&mut s, "ALTER TABLE acc ADD COLUMN must INT NOT NULL").starts_with("ERROR 23502"));
    assert_eq!(
        one(&mut s, "ALTER TABLE acc RENAME COLUMN note TO remark"),
        "ALTER TABLE"
    );
    assert_eq!(one(&mut s, "SELECT remark FROM acc WHERE aid = 1"), "x");
    assert_eq!(
        one(&mut s, "ALTER TABLE acc DROP COLUMN remark"),
        "ALTER TABLE"
    );
    assert!(one(&mut s, "SELECT remark FROM acc").starts_with("ERROR 42703"));
    assert_eq!(
        one(&mut s, "ALTER TABLE acc ADD COLUMN remark INT"),
        "ALTER TABLE"
    );
    assert_eq!(
        one(&mut s, "SELECT remark FROM acc WHERE aid = 1"),
        "NULL",
        "a re-added column must not see the dropped one's data"
    );
    assert!(one(&mut s, "ALTER TABLE acc DROP COLUMN aid").starts_with("ERROR 2BP01"));
    // Constraints.
    assert!(one(
        &mut s,
        "ALTER TABLE acc ADD CONSTRAINT pos CHECK (abalance > 0)"
    )
    .starts_with("ERROR 23514"));
    assert_eq!(
        one(
            &mut s,
            "ALTER TABLE acc ADD CONSTRAINT nonneg CHECK (abalance >= 0)"
        ),
        "ALTER TABLE"
    );
    assert!(one(&mut s, "UPDATE acc SET abalance = -1").starts_with("ERROR 23514"));
    assert_eq!(
        one(&mut s, "ALTER TABLE acc DROP CONSTRAINT nonneg"),
        "ALTER TABLE"
    );
    assert_eq!(
        one(&mut s, "UPDATE acc SET abalance = -1 WHERE aid = 1"),
        "UPDATE 1"
    );
    assert_eq!(
        one(
            &mut s,
            "ALTER TABLE acc ADD CONSTRAINT one_bid UNIQUE (abalance)"
        ),
        "ALTER TABLE"
    );
    assert!(one(&mut s, "UPDATE acc SET abalance = 5 WHERE aid = 2").starts_with("ERROR 23505"));
    assert_eq!(
        one(&mut s, "ALTER TABLE acc ALTER COLUMN bid SET NOT NULL"),
        "ALTER TABLE"
    );
    assert!(one(&mut s, "INSERT INTO acc (aid, abalance) VALUES (9, 9)").starts_with("ERROR 23502"));
    assert_eq!(
        one(&mut s, "ALTER TABLE acc RENAME TO accounts"),
        "ALTER TABLE"
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM accounts"), "3");
    assert!(one(&mut s, "SELECT count(*) FROM acc").starts_with("ERROR 42P01"));
}

#[test]
fn sequences_and_serial_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || {
        let db = cairn::Db::open(dir.path(), cairn::DbOptions::default()).expect("open");
        Engine::new(Arc::new(MvccStore::new(Arc::new(db)))).expect("engine")
    };
    let engine = open();
    let mut s = engine
        .open_session("postgres", "postgres")
        .expect("session");
    run(
        &mut s,
        "CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT)",
    );
    assert_eq!(
        one(
            &mut s,
            "INSERT INTO users (name) VALUES ('a'), ('b') RETURNING id"
        ),
        "1\n2"
    );
    assert_eq!(
        one(&mut s, "SELECT currval('users_id_seq'), lastval()"),
        "2|2"
    );
    // nextval is not rolled back.
    run(
        &mut s,
        "BEGIN; INSERT INTO users (name) VALUES ('gone'); ROLLBACK",
    );
    assert_eq!(
        one(&mut s, "INSERT INTO users (name) VALUES ('c') RETURNING id"),
        "4"
    );
    assert_eq!(
        one(
            &mut s,
            "CREATE SEQUENCE s INCREMENT BY 5 MAXVALUE 20 START WITH 10"
        ),
        "CREATE SEQUENCE"
    );
    assert_eq!(
        one(&mut s, "SELECT nextval('s'), nextval('s'), nextval('s')"),
        "10|15|20"
    );
    assert!(one(&mut s, "SELECT nextval('s')").starts_with("ERROR 2200H"));
    assert_eq!(
        one(&mut s, "SELECT setval('s', 11, false), nextval('s')"),
        "11|11"
    );
    assert!(one(&mut s, "SELECT currval('nosuch')").starts_with("ERROR 42P01"));
    let mut other = engine
        .open_session("postgres", "postgres")
        .expect("session");
    assert!(one(&mut other, "SELECT currval('s')").starts_with("ERROR 55000"));
    run(
        &mut s,
        "CREATE TABLE ev (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v INT)",
    );
    assert_eq!(
        one(&mut s, "INSERT INTO ev (v) VALUES (7) RETURNING id"),
        "1"
    );
    // A sequence created in an open transaction works inside it.
    run(&mut s, "BEGIN; CREATE TABLE t2 (id SERIAL, x INT)");
    assert_eq!(
        one(&mut s, "INSERT INTO t2 (x) VALUES (1), (2) RETURNING id"),
        "1\n2"
    );
    run(&mut s, "COMMIT");
    // Values never repeat across a restart.
    drop(s);
    drop(other);
    drop(engine);
    let engine = open();
    let mut s = engine
        .open_session("postgres", "postgres")
        .expect("session");
    let id: i64 = one(&mut s, "INSERT INTO users (name) VALUES ('d') RETURNING id")
        .parse()
        .expect("int");
    assert!(id > 4, "got {id}");
    assert_eq!(one(&mut s, "DROP TABLE users"), "DROP TABLE");
    assert!(
        one(&mut s, "SELECT nextval('users_id_seq')").starts_with("ERROR 42P01"),
        "owned sequence dropped with its table"
    );
    assert_eq!(one(&mut s, "DROP SEQUENCE s"), "DROP SEQUENCE");
}

#[test]
fn catalog_sees_own_transaction_ddl() {
    let f = fixture();
    let mut a = f.session();
    let mut b = f.session();
    run(
        &mut a,
        "BEGIN; CREATE TABLE cat_t (id INT PRIMARY KEY, v TEXT UNIQUE)",
    );
    assert_eq!(
        one(
            &mut a,
            "SELECT relname, relkind FROM pg_class WHERE relname LIKE 'cat_t%' ORDER BY 1"
        ),
        "cat_t|r\ncat_t_pkey|i\ncat_t_v_key|i"
    );
    // Another transaction does not see the uncommitted table, in any catalog.
    assert_eq!(
        one(
            &mut b,
            "SELECT (SELECT count(*) FROM pg_class WHERE relname = 'cat_t'), \
             (SELECT count(*) FROM information_schema.tables WHERE table_name = 'cat_t')"
        ),
        "0|0"
    );
    run(&mut a, "COMMIT");
    assert_eq!(
        one(
            &mut b,
            "SELECT count(*) FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid \
             WHERE c.relname = 'cat_t'"
        ),
        "2"
    );
    // A rolled-back DROP leaves the catalog as it was.
    run(&mut a, "BEGIN; DROP TABLE cat_t");
    assert_eq!(
        one(
            &mut a,
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'cat_t'::regclass"
        ),
        "ERROR 42P01 relation \"cat_t\" does not exist"
    );
    run(&mut a, "ROLLBACK");
    assert_eq!(
        one(
            &mut a,
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
             WHERE attrelid = 'cat_t'::regclass AND attnum > 0 ORDER BY attnum"
        ),
        "id|integer|t\nv|text|f"
    );
}

#[test]
fn regclass_prints_relation_names() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE rc (id INT PRIMARY KEY); CREATE INDEX rc_idx ON rc (id)",
    );
    let oid = one(&mut s, "SELECT oid FROM pg_class WHERE relname = 'rc'");
    assert_eq!(one(&mut s, "SELECT 'rc'::regclass::oid"), oid);
    assert_eq!(
        one(
            &mut s,
            &format!("SELECT {oid}::regclass, '{oid}'::regclass::text")
        ),
        "rc|rc"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT 'rc_idx'::regclass, 'pg_catalog.pg_class'::regclass, \
             'information_schema.tables'::regclass, 'rc_pkey'::regclass::text"
        ),
        "rc_idx|pg_class|information_schema.tables|rc_pkey"
    );
    assert_eq!(
        one(&mut s, "SELECT 'nope'::regclass"),
        "ERROR 42P01 relation \"nope\" does not exist"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT to_regclass('nope') IS NULL, 'int4'::regtype, 'varchar(3)'::regtype::oid, \
             'public'::regnamespace::oid"
        ),
        "t|integer|1043|2200"
    );
    // pg_catalog is searched before public, as in PostgreSQL.
    run(&mut s, "CREATE TABLE pg_am (x INT)");
    assert_eq!(
        one(&mut s, "SELECT count(*) FROM pg_am WHERE amname = 'btree'"),
        "1"
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM public.pg_am"), "0");
}

#[test]
fn catalog_tables_reject_writes() {
    let f = fixture();
    let mut s = f.session();
    for sql in [
        "INSERT INTO pg_class (relname) VALUES ('x')",
        "UPDATE pg_namespace SET nspname = 'x'",
        "DELETE FROM information_schema.tables",
    ] {
        assert!(
            one(&mut s, sql).starts_with("ERROR 42809"),
            "{sql}: {}",
            one(&mut s, sql)
        );
    }
    assert!(one(&mut s, "DROP TABLE pg_class").starts_with("ERROR 42P01"));
    assert_eq!(one(&mut s, "SELECT count(*) > 0 FROM pg_class"), "t");
}

#[test]
fn set_returning_functions_and_array_aggregates() {
    let f = fixture();
    let mut s = f.session();
    assert_eq!(
        one(&mut s, "SELECT unnest(ARRAY[1, 2, 3]) AS x, 'k'"),
        "1|k\n2|k\n3|k"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT unnest(ARRAY['a', 'b']), generate_subscripts(ARRAY['a', 'b'], 1), \
             unnest(ARRAY[10, 20, 30])"
        ),
        "a|1|10\nb|2|20\nNULL|NULL|30"
    );
    assert_eq!(
        one(&mut s, "SELECT s * 2 FROM generate_series(1, 7, 3) AS s"),
        "2\n8\n14"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT g.x FROM generate_series(3, 1, -1) AS g(x) ORDER BY 1"
        ),
        "1\n2\n3"
    );
    // PostgreSQL also allows set-returning functions inside select-list expressions; Cairn
    // only as whole select-list items or in FROM.
    assert!(one(&mut s, "SELECT unnest(ARRAY[1]) + 1").starts_with("ERROR 0A000"));
    run(
        &mut s,
        "CREATE TABLE agg (g INT, v TEXT, o INT); \
         INSERT INTO agg VALUES (1, 'b', 2), (1, 'a', 1), (2, NULL, 1), (1, 'c', 3)",
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT g, array_agg(v ORDER BY o DESC), array_agg(o ORDER BY v NULLS FIRST) \
             FROM agg GROUP BY g ORDER BY g"
        ),
        "1|{c,b,a}|{1,2,3}\n2|{NULL}|{1}"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT ARRAY(SELECT v FROM agg WHERE v IS NOT NULL ORDER BY v), \
             ARRAY(SELECT o FROM agg WHERE false), array_to_string(ARRAY['x', NULL, 'y'], ',', '*')"
        ),
        "{a,b,c}|{}|x,*,y"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT json_build_object('a', 1, 'b', 'x\"y', 'c', NULL, 'd', true)"
        ),
        "{\"a\" : 1, \"b\" : \"x\\\"y\", \"c\" : null, \"d\" : true}"
    );
}

/// The first error of a batch, with its DETAIL and HINT (PostgreSQL 15's texts).
fn error_of(s: &mut Session, sql: &str) -> (String, String, String, String) {
    if let Err(e) = s.start_batch(sql) {
        panic!("batch did not start: {e}");
    }
    while let Some(r) = s.next_in_batch() {
        if let Err(e) = r {
            let d = e.details();
            return (
                e.code.to_string(),
                e.message.clone(),
                d.detail.unwrap_or_default(),
                d.hint.unwrap_or_default(),
            );
        }
    }
    panic!("no error from {sql}");
}

#[test]
fn foreign_key_errors_carry_postgres_detail_and_hint() {
    let f = fixture();
    let mut s = f.session();
    run(
        &mut s,
        "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p);
         CREATE TABLE m (a int, b int, PRIMARY KEY (a, b));
         CREATE TABLE mc (x int, y int, FOREIGN KEY (x, y) REFERENCES m MATCH FULL);
         INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1)",
    );
    assert_eq!(
        error_of(&mut s, "INSERT INTO c VALUES (2, 5)"),
        (
            "23503".into(),
            "insert or update on table \"c\" violates foreign key constraint \"c_p_fkey\"".into(),
            "Key (p)=(5) is not present in table \"p\".".into(),
            String::new()
        )
    );
    assert_eq!(
        error_of(&mut s, "DELETE FROM p"),
        (
            "23503".into(),
            "update or delete on table \"p\" violates foreign key constraint \"c_p_fkey\" on table \"c\"".into(),
            "Key (id)=(1) is still referenced from table \"c\".".into(),
            String::new()
        )
    );
    assert_eq!(
        error_of(&mut s, "INSERT INTO mc VALUES (1, NULL)").2,
        "MATCH FULL does not allow mixing of null and nonnull key values."
    );
    assert_eq!(
        error_of(&mut s, "INSERT INTO mc VALUES (1, 2)").2,
        "Key (x, y)=(1, 2) is not present in table \"m\"."
    );
    assert_eq!(
        error_of(&mut s, "DROP TABLE p"),
        (
            "2BP01".into(),
            "cannot drop table p because other objects depend on it".into(),
            "constraint c_p_fkey on table c depends on table p".into(),
            "Use DROP ... CASCADE to drop the dependent objects too.".into()
        )
    );
    assert_eq!(
        error_of(&mut s, "TRUNCATE p"),
        (
            "0A000".into(),
            "cannot truncate a table referenced in a foreign key constraint".into(),
            "Table \"c\" references \"p\".".into(),
            "Truncate table \"c\" at the same time, or use TRUNCATE ... CASCADE.".into()
        )
    );
    assert_eq!(
        error_of(&mut s, "CREATE TABLE bad (a text REFERENCES p)").2,
        "Key columns \"a\" and \"id\" are of incompatible types: text and integer."
    );
    let (code, message, _, _) = error_of(
        &mut s,
        "CREATE TABLE d (a int REFERENCES p DEFERRABLE INITIALLY DEFERRED)",
    );
    assert_eq!(code, "0A000");
    assert!(message.contains("DEFERRABLE"), "{message}");
    run(&mut s, "DROP TABLE p CASCADE");
    assert_eq!(
        s.take_notices(),
        vec!["drop cascades to constraint c_p_fkey on table c".to_string()]
    );
    assert_eq!(
        run(&mut s, "INSERT INTO c VALUES (3, 99)"),
        vec!["INSERT 0 1"]
    );
}

/// A child insert and a concurrent delete of its parent never both commit, at each isolation
/// level (module header of `cairn-sql-exec/src/fk.rs`).
#[test]
fn child_insert_and_concurrent_parent_delete_do_not_both_commit() {
    for level in ["SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"] {
        let f = fixture();
        let mut a = f.session();
        let mut b = f.session();
        run(
            &mut a,
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p);
             INSERT INTO p VALUES (1)",
        );
        // The delete goes first and holds the parent row's lock (or, at SERIALIZABLE, has it in
        // its write set); the insert's check waits for it or conflicts, whichever commits
        // first.
        run(&mut a, &format!("BEGIN ISOLATION LEVEL {level}"));
        run(&mut b, &format!("BEGIN ISOLATION LEVEL {level}"));
        run(&mut b, "SELECT 1");
        assert_eq!(run(&mut a, "DELETE FROM p WHERE id = 1"), vec!["DELETE 1"]);
        let handle = std::thread::spawn(move || {
            let r = run(&mut b, "INSERT INTO c VALUES (1, 1)");
            let c = run(&mut b, "COMMIT");
            (r, c)
        });
        let ca = run(&mut a, "COMMIT");
        let (rb, cb) = handle.join().expect("insert thread");
        let committed_insert = rb == vec!["INSERT 0 1"] && cb == vec!["COMMIT"];
        let committed_delete = ca == vec!["COMMIT"];
        assert!(
            !(committed_insert && committed_delete),
            "{level}: both committed: {ca:?} {rb:?} {cb:?}"
        );
        let mut s = f.session();
        assert_eq!(
            run(
                &mut s,
                "SELECT count(*) FROM c WHERE p NOT IN (SELECT id FROM p)"
            ),
            vec!["0"],
            "{level}"
        );
    }
}

// ----- ANALYZE and statistics -----

/// A fixture whose engine has the given auto-analyze settings, and its store (for reading
/// the catalog as the planner does).
fn stats_fixture(
    auto: cairn_sql_exec::auto_analyze::AutoAnalyzeConfig,
) -> (tempfile::TempDir, Arc<MvccStore>, Arc<Engine>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = cairn::Db::open(dir.path(), cairn::DbOptions::default()).expect("open");
    let store = Arc::new(MvccStore::new(Arc::new(db)));
    let config = cairn_sql_exec::session::EngineConfig { auto_analyze: auto };
    let engine = Engine::with_config(store.clone(), config).expect("engine");
    (dir, store, engine)
}

fn no_auto() -> cairn_sql_exec::auto_analyze::AutoAnalyzeConfig {
    cairn_sql_exec::auto_analyze::AutoAnalyzeConfig {
        enabled: false,
        ..Default::default()
    }
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// 50 000 rows with known distributions (see each column), analysed: the statistics in
/// pg_stats, pg_class and the planner API are within the stated tolerances of the truth.
#[test]
fn analyze_fills_pg_stats_within_tolerances() {
    let (_dir, store, engine) = stats_fixture(no_auto());
    let mut s = engine
        .open_session("postgres", "postgres")
        .expect("session");
    // id: unique, inserted in order (correlation 1); uni: 1000 values, 50 rows each;
    // skew: 0 in half the rows, 1 in a quarter, the rest unique; nully: 90% NULL, else 0..6;
    // txt: 'v0'..'v99' (avg width (2*10 + 3*90)/100 + 1 = 3.9); rev: descending (correlation -1).
    assert_eq!(
        run(
            &mut s,
            "CREATE TABLE big (id INT PRIMARY KEY, uni INT, skew INT, nully INT, txt TEXT, rev INT); \
             CREATE INDEX big_uni ON big (uni, skew); \
             INSERT INTO big SELECT g, g % 1000, \
               CASE WHEN g % 2 = 0 THEN 0 WHEN g % 4 = 1 THEN 1 ELSE g END, \
               CASE WHEN g % 10 < 9 THEN NULL ELSE g % 7 END, 'v' || (g % 100), -g \
             FROM generate_series(1, 50000) AS g"
        ),
        vec!["CREATE TABLE", "CREATE INDEX", "INSERT 0 50000"]
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT reltuples FROM pg_class WHERE relname = 'big'"
        ),
        "-1"
    );
    assert_eq!(one(&mut s, "ANALYZE big"), "ANALYZE");
    assert_eq!(
        one(
            &mut s,
            "SELECT reltuples FROM pg_class WHERE relname = 'big'"
        ),
        "50000"
    );
    assert!(
        num(&one(
            &mut s,
            "SELECT relpages FROM pg_class WHERE relname = 'big'"
        )) > 0.0
    );
    let col = |s: &mut Session, attname: &str, what: &str| {
        one(
            s,
            &format!(
                "SELECT {what} FROM pg_stats WHERE tablename = 'big' AND attname = '{attname}'"
            ),
        )
    };
    // id: unique -> n_distinct about -1 (HLL: within 5%), no MCVs, full histogram.
    let nd = num(&col(&mut s, "id", "n_distinct"));
    assert!((-1.0..=-0.95).contains(&nd), "id n_distinct {nd}");
    assert_eq!(col(&mut s, "id", "most_common_vals IS NULL"), "t");
    assert_eq!(
        col(&mut s, "id", "array_length(histogram_bounds, 1)"),
        "101"
    );
    assert_eq!(col(&mut s, "id", "correlation"), "1");
    assert_eq!(col(&mut s, "rev", "correlation"), "-1");
    // uni: 1000 distinct of 50 000 (2%: a count): within 5%.
    let nd = num(&col(&mut s, "uni", "n_distinct"));
    assert!((950.0..=1050.0).contains(&nd), "uni n_distinct {nd}");
    assert_eq!(col(&mut s, "uni", "null_frac"), "0");
    assert_eq!(col(&mut s, "uni", "avg_width"), "4");
    // Uniform: few if any MCVs pass the significance test.
    let n_mcv = col(
        &mut s,
        "uni",
        "coalesce(array_length(most_common_vals, 1), 0)",
    );
    assert!(num(&n_mcv) <= 10.0, "uni has {n_mcv} MCVs");
    // skew: MCVs 0 and 1 first, with frequencies within 0.02 of 0.5 and 0.25.
    assert_eq!(col(&mut s, "skew", "most_common_vals[1]"), "0");
    assert_eq!(col(&mut s, "skew", "most_common_vals[2]"), "1");
    let f0 = num(&col(&mut s, "skew", "most_common_freqs[1]"));
    let f1 = num(&col(&mut s, "skew", "most_common_freqs[2]"));
    assert!(
        (f0 - 0.5).abs() < 0.02 && (f1 - 0.25).abs() < 0.02,
        "{f0} {f1}"
    );
    // nully: null fraction counted over every row (exact); 7 distinct values, all MCVs.
    assert_eq!(col(&mut s, "nully", "null_frac"), "0.9");
    assert_eq!(col(&mut s, "nully", "n_distinct"), "7");
    assert_eq!(
        col(&mut s, "nully", "array_length(most_common_vals, 1)"),
        "7"
    );
    // txt: 100 distinct values (a count), average width 3.9 rounded down.
    assert_eq!(col(&mut s, "txt", "n_distinct"), "100");
    assert_eq!(col(&mut s, "txt", "avg_width"), "3");

    // The planner's view: Catalog::table_stats and the estimators.
    use cairn_sql_exec::kv::{IsolationLevel, KvStore};
    use cairn_sql_plan::catalog::Catalog;
    let mut txn = store.begin(IsolationLevel::Snapshot, true).expect("begin");
    let db = cairn_sql_exec::catalog::database(&mut *txn, "postgres")
        .expect("read")
        .expect("postgres");
    let cat = cairn_sql_exec::catalog::TxnCatalog::new(&mut *txn, db.id);
    let table = cat.table(None, "big").expect("read").expect("big");
    let stats = cat.table_stats(&table).expect("read").expect("analysed");
    assert_eq!(stats.row_count, 50_000.0);
    let by_name = |n: &str| {
        let id = table.columns[table.column_index(n).expect("column")].id;
        stats.column(id).expect("column stats").clone()
    };
    let skew = by_name("skew");
    let rows = stats.row_count;
    let eq0 = skew.eq_selectivity(&Value::Int(0), rows);
    assert!((eq0 - 0.5).abs() < 0.02, "skew = 0: {eq0}");
    let eq_rare = skew.eq_selectivity(&Value::Int(7), rows);
    assert!(eq_rare < 1e-3, "skew = 7 (true 2e-5): {eq_rare}");
    let uni = by_name("uni");
    let lt = uni.lt_selectivity(&Value::Int(250), false);
    assert!((lt - 0.25).abs() < 0.02, "uni < 250: {lt}");
    let range = uni.range_selectivity(
        Some((&Value::Int(100), true)),
        Some((&Value::Int(199), true)),
    );
    assert!(
        (range - 0.1).abs() < 0.02,
        "uni between 100 and 199: {range}"
    );
    let eq = uni.eq_selectivity(&Value::Int(5), rows);
    assert!((eq - 0.001).abs() < 0.0005, "uni = 5: {eq}");
    let nully = by_name("nully");
    assert!((nully.is_null_selectivity() - 0.9).abs() < 1e-9);
    let eq = nully.eq_selectivity(&Value::Int(3), rows);
    assert!((eq - 0.1 / 7.0).abs() < 0.005, "nully = 3: {eq}");
    // Index stats: distinct (uni, skew) pairs: uni fixes skew's parity pattern, so about
    // 1000 + 12 500 + ... count them exactly with SQL and compare within 5%.
    drop(cat);
    drop(txn);
    let truth = num(&one(
        &mut s,
        "SELECT count(*) FROM (SELECT DISTINCT uni, skew FROM big) d",
    ));
    let idx = table
        .indexes
        .iter()
        .find(|i| i.name == "big_uni")
        .expect("index");
    let est = stats.index(idx.id).expect("index stats").distinct_keys;
    assert!(
        (est - truth).abs() <= 0.05 * truth,
        "index keys {est} vs {truth}"
    );

    // ALTER TABLE keeps them consistent; DROP TABLE removes them.
    run(&mut s, "ALTER TABLE big ALTER COLUMN txt TYPE varchar(10)");
    assert_eq!(
        one(
            &mut s,
            "SELECT count(*) FROM pg_stats WHERE tablename = 'big' AND attname = 'txt'"
        ),
        "0"
    );
    // DROP TABLE makes them unreachable at once; a database-wide ANALYZE deletes them.
    run(&mut s, "DROP TABLE big");
    assert_eq!(
        one(
            &mut s,
            "SELECT count(*) FROM pg_stats WHERE tablename = 'big'"
        ),
        "0"
    );
    let key = cairn_sql_exec::keys::stats_key(table.id);
    let mut txn = store.begin(IsolationLevel::Snapshot, true).expect("begin");
    assert!(txn.get(&key).expect("get").is_some());
    drop(txn);
    assert_eq!(one(&mut s, "ANALYZE"), "ANALYZE");
    let mut txn = store.begin(IsolationLevel::Snapshot, true).expect("begin");
    assert_eq!(txn.get(&key).expect("get"), None);
}

/// ANALYZE inside a block joins the block: ROLLBACK leaves no statistics.
#[test]
fn analyze_in_rolled_back_block_leaves_no_stats() {
    let (_dir, _store, engine) = stats_fixture(no_auto());
    let mut s = engine
        .open_session("postgres", "postgres")
        .expect("session");
    run(
        &mut s,
        "CREATE TABLE b (a INT); INSERT INTO b VALUES (1), (2)",
    );
    assert_eq!(
        run(&mut s, "BEGIN; INSERT INTO b VALUES (3); ANALYZE b; SELECT reltuples FROM pg_class WHERE relname = 'b'; ROLLBACK"),
        vec!["BEGIN", "INSERT 0 1", "ANALYZE", "3", "ROLLBACK"]
    );
    assert_eq!(
        one(&mut s, "SELECT reltuples FROM pg_class WHERE relname = 'b'"),
        "-1"
    );
    assert_eq!(
        run(&mut s, "BEGIN; CREATE TABLE c (x INT); ANALYZE c; COMMIT; SELECT reltuples FROM pg_class WHERE relname = 'c'"),
        vec!["BEGIN", "CREATE TABLE", "ANALYZE", "COMMIT", "0"]
    );
    assert_eq!(one(&mut s, "VACUUM ANALYZE b"), "VACUUM");
    assert_eq!(
        one(&mut s, "SELECT reltuples FROM pg_class WHERE relname = 'b'"),
        "2"
    );
    assert_eq!(
        // The rolled-back ANALYZE counts too (the counters are not transactional).
        one(&mut s, "SELECT analyze_count, last_analyze IS NOT NULL, n_live_tup FROM pg_stat_user_tables WHERE relname = 'b'"),
        "2|t|2"
    );
}

/// Enough changes make the background worker analyse the table; stopping the engine's
/// background work stops it.
#[test]
fn auto_analyze_fires_after_enough_changes() {
    let (_dir, _store, engine) = stats_fixture(cairn_sql_exec::auto_analyze::AutoAnalyzeConfig {
        naptime_ms: 10,
        ..Default::default()
    });
    let mut s = engine
        .open_session("postgres", "postgres")
        .expect("session");
    run(&mut s, "CREATE TABLE auto (a INT)");
    // 50 changes are not above the threshold of 50 + 0.1 x 0.
    run(
        &mut s,
        "INSERT INTO auto SELECT g FROM generate_series(1, 50) AS g",
    );
    let stat = "SELECT autoanalyze_count, n_mod_since_analyze, n_tup_ins FROM pg_stat_user_tables WHERE relname = 'auto'";
    assert_eq!(one(&mut s, stat), "0|50|50");
    run(&mut s, "UPDATE auto SET a = a + 1 WHERE a <= 10");
    // Now 60 > 50: the worker analyses the table in the background. Wait for it (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = one(
            &mut s,
            "SELECT reltuples FROM pg_class WHERE relname = 'auto'",
        );
        if r == "50" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "auto-analyze did not run: {r}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        one(&mut s, "SELECT autoanalyze_count, last_autoanalyze IS NOT NULL, analyze_count FROM pg_stat_user_tables WHERE relname = 'auto'"),
        "1|t|0"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT n_distinct < -0.9 FROM pg_stats WHERE tablename = 'auto'"
        ),
        "t"
    );
    // After stopping, changes are still counted but nothing is analysed.
    engine.stop_background();
    run(
        &mut s,
        "DELETE FROM auto; INSERT INTO auto SELECT g FROM generate_series(1, 500) AS g",
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT reltuples FROM pg_class WHERE relname = 'auto'"
        ),
        "50"
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'auto'"
        ),
        "550"
    );
}

/// An EXPLAIN line without its `  (cost=C rows=N)` estimate.
fn without_estimate(line: &str) -> &str {
    line.split("  (cost=").next().unwrap_or(line)
}

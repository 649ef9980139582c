"""psycopg 3 against a running Cairn server (URL in CAIRN_URL).

Covers what the issue names: server-side prepared statements, binary parameters, COPY in
both directions, and the retry loop drivers run on SQLSTATE 40001.
"""
import os
import sys
import threading

import psycopg
from psycopg import errors

URL = os.environ["CAIRN_URL"]


def test_prepared_and_binary():
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id INT PRIMARY KEY, name TEXT, price FLOAT8, qty BIGINT)")
        with conn.cursor() as cur:
            # prepare=True makes psycopg use a named server-side prepared statement.
            for i in range(20):
                cur.execute(
                    "INSERT INTO items VALUES (%s, %s, %s, %s)",
                    (i, f"item{i}", i * 1.5, i * 1000),
                    prepare=True,
                )
            # binary=True asks for binary results; parameters go binary with %b.
            cur.execute("SELECT id, name, price, qty FROM items WHERE id >= %b ORDER BY id", (17,), binary=True)
            rows = cur.fetchall()
            assert rows == [(17, "item17", 25.5, 17000), (18, "item18", 27.0, 18000), (19, "item19", 28.5, 19000)], rows
            cur.execute("SELECT count(*), sum(qty) FROM items")
            assert cur.fetchone() == (20, 190000)
            cur.execute("SELECT name FROM items WHERE id = %s", (None,))
            assert cur.fetchall() == []


def test_copy():
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("CREATE TABLE people (id INT PRIMARY KEY, name TEXT)")
        with conn.cursor() as cur:
            with cur.copy("COPY people (id, name) FROM STDIN") as copy:
                for i in range(1000):
                    copy.write_row((i, f"p{i}" if i % 10 else None))
            cur.execute("SELECT count(*), count(name) FROM people")
            assert cur.fetchone() == (1000, 900)
            out = []
            with cur.copy("COPY (SELECT id, name FROM people WHERE id < 3 ORDER BY id) TO STDOUT") as copy:
                for row in copy.rows():
                    out.append(row)
            assert out == [("0", None), ("1", "p1"), ("2", "p2")], out


def test_transactions_and_40001_retry():
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("CREATE TABLE counter (id INT PRIMARY KEY, n INT)")
        conn.execute("INSERT INTO counter VALUES (1, 0)")

    retries = [0]
    failures = []

    def worker():
        try:
            with psycopg.connect(URL) as conn:
                for _ in range(15):
                    while True:
                        try:
                            with conn.transaction():
                                n = conn.execute("SELECT n FROM counter WHERE id = 1").fetchone()[0]
                                conn.execute("UPDATE counter SET n = %s WHERE id = 1", (n + 1,))
                            break
                        except errors.SerializationFailure:
                            retries[0] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    with psycopg.connect(URL) as conn:
        assert conn.execute("SELECT n FROM counter WHERE id = 1").fetchone()[0] == 60
    print(f"  (40001 retries: {retries[0]})")

    with psycopg.connect(URL) as conn:
        try:
            with conn.transaction():
                conn.execute("INSERT INTO counter VALUES (1, 5)")
            raise AssertionError("duplicate key accepted")
        except errors.UniqueViolation:
            pass
        assert conn.execute("SELECT count(*) FROM counter").fetchone()[0] == 1


def test_nested_transactions_use_savepoints():
    """psycopg runs a nested `conn.transaction()` as SAVEPOINT / RELEASE / ROLLBACK TO."""
    with psycopg.connect(URL) as conn:
        with conn.transaction():
            conn.execute("CREATE TABLE ledger (id INT PRIMARY KEY, note TEXT)")
            conn.execute("INSERT INTO ledger VALUES (1, 'kept')")
            try:
                with conn.transaction():
                    conn.execute("INSERT INTO ledger VALUES (2, 'undone')")
                    conn.execute("INSERT INTO ledger VALUES (1, 'duplicate')")
                raise AssertionError("duplicate key accepted")
            except errors.UniqueViolation:
                pass
            # The outer transaction goes on after the inner one rolled back.
            with conn.transaction():
                conn.execute("INSERT INTO ledger VALUES (3, 'released')")
            # psycopg's type lookup inside a transaction uses a savepoint too.
            info = psycopg.types.TypeInfo.fetch(conn, "int4")
            assert info is not None and info.oid == 23, info
        rows = conn.execute("SELECT id, note FROM ledger ORDER BY id").fetchall()
        assert rows == [(1, "kept"), (3, "released")], rows


if __name__ == "__main__":
    failed = 0
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print(f"ok {name}")
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"FAILED {name}: {e!r}")
    sys.exit(1 if failed else 0)

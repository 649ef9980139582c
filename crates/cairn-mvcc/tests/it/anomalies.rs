//! The Hermitage anomaly table (<https://github.com/ept/hermitage>, `postgres.md`) replayed
//! at the KV level: one test per (anomaly, isolation level), each running the Hermitage
//! script for PostgreSQL statement by statement, in the same order, and asserting what every
//! statement returns, which statement fails with which error, and the committed table at the
//! end.
//!
//! # The table and the statements
//!
//! `create table test (id int primary key, value int)` holding (1, 10), (2, 20) is the keys
//! `test/1` and `test/2` with the values `"10"` and `"20"` (a fresh database per script).
//! - `select * from test where id = x` (and `id in (1, 2)`): `get` of each key.
//! - `select * from test [where p(value)]`: a scan of the prefix `test/` filtered on the
//!   value, so a SERIALIZABLE reader records the whole prefix as its predicate read.
//! - `update test set value = v where id = x` and `insert into test values (x, v)`: `put`.
//! - `update test set value = value + d where id = x`: read the row, then `put`.
//! - `update ... / delete from test where p(value)`: the rows matching `p` in the
//!   statement's snapshot, then a `put` or `delete` of each.
//! - At READ COMMITTED the two last forms read the row with `get_for_update`, which waits for
//!   the row's lock and then reads its newest committed version, and re-check `p` on it:
//!   PostgreSQL's EvalPlanQual recheck.
//! - `begin`: `Db::begin` right before the transaction's first statement, because
//!   PostgreSQL takes a REPEATABLE READ / SERIALIZABLE snapshot at the first statement.
//! - A statement run after the transaction's `commit` (`select * from test; -- T1`) is a
//!   fresh snapshot read.
//!
//! # How our levels differ from PostgreSQL's
//!
//! READ COMMITTED behaves as PostgreSQL's: every statement reads a fresh snapshot and every
//! written row is locked first, waiting behind the row's other writers. Where a Hermitage
//! statement blocks, the test runs it in a second thread and checks that it waits (the lock
//! table shows the wait-for edge, and it has not returned after 100 ms) and that it goes on
//! once the lock holder commits.
//!
//! SNAPSHOT (REPEATABLE READ) and SERIALIZABLE buffer writes until commit and take no row
//! lock before it. A write to a row that another transaction committed after our snapshot
//! fails at once with `WriteConflict` (early abort); otherwise write-write conflicts are
//! found at commit (first committer wins). Where PostgreSQL makes the second writer wait on
//! the row lock and fails it with 40001 when the first one commits, our second writer does
//! not wait and fails with `WriteConflict` at its next write to a committed row or at its
//! commit: the same transaction fails, with the same SQLSTATE, and the final state is the
//! same; only the failing statement differs. SERIALIZABLE also validates every key read and
//! range scanned at commit (`ReadConflict`, 40001), where PostgreSQL's SSI fails the pivot of
//! a dangerous structure, in these scripts at commit too, except in Fekete's example.
//!
//! # The table
//!
//! RC = READ COMMITTED, RR = REPEATABLE READ (`IsolationLevel::Snapshot`), SER =
//! SERIALIZABLE. Cells marked `*` are not in Hermitage's `postgres.md` (which runs each
//! script only at some levels); they are what PostgreSQL does with the same script.
//!
//! ```text
//! anomaly   lvl  PostgreSQL                                ours (asserted)
//! --------  ---  ----------------------------------------  --------------------------------------
//! G0        RC   prevented: T2's update of row 1 blocks    same: T2's put waits for T1's row
//!                on T1's row lock until T1 commits; final  lock; final (12, 22)
//!                (12, 22)
//!           RR*  prevented: T2 blocks, then 40001          prevented: T2's put of row 1 is
//!                (concurrent update) when T1 commits;      buffered, its put of row 2 (T1 has
//!                final (11, 21)                            committed it) fails at once with
//!                                                          WriteConflict; final (11, 21)
//!           SER* as RR                                     as RR
//! G1a       all  prevented: T2 reads 10 before and after   same
//!                T1's abort (RR*, SER*)
//! G1b       all  prevented: T2 never reads 101; after      same
//!                T1's commit RC reads 11, RR*/SER* 10
//! G1c       RC   prevented: each reads the other's old     same
//!                value; both commit; final (11, 22)
//!           RR*  as RC                                     same
//!           SER* prevented; the script is also a write     prevented: ReadConflict at T2's
//!                skew: SSI fails T2 with 40001 at commit   commit; final (11, 20)
//! OTV       RC   prevented: T2 blocks on T1's row lock;    same: T2's put waits for T1's row lock
//!                T3 reads 11, 19, then 18, 12
//!           RR*  prevented: T2 blocks, then 40001 when     prevented: T2's put of row 2 fails at
//!                T1 commits; T3 reads 11, 19, 19, 11       once (WriteConflict); T3 reads 11,
//!                                                          19, 19, 11
//!           SER* as RR                                     as RR
//! PMP       RC   allowed: T1's 2nd predicate read sees     same: T2's delete waits for T1's row
//!                T2's insert; write predicate: T2's        lock, re-checks row 2 (now 30) and
//!                delete blocks, then deletes nothing:      deletes nothing; final (20, 30)
//!                row 1 = 20 remains
//!           RR   prevented: T1 still reads nothing; write  prevented: read predicate same; T2's
//!                predicate: T2 blocks, then 40001          delete is buffered, WriteConflict at
//!                                                          T2's commit; final (20, 30)
//!           SER* as RR                                     as RR
//! P4        RC   allowed: T2's update blocks, then         same: T2's put waits; both commit,
//!                overwrites T1's; both commit              T2's version after T1's
//!           RR   prevented: T2 blocks, then 40001 when     prevented: T2's put is buffered;
//!                T1 commits                                WriteConflict at T2's commit
//!           SER* as RR                                     as RR
//! G-single  RC   allowed: T1 reads 10 then 18; predicate   same
//!                read sees 12; delete where value = 20
//!                deletes nothing
//!           RR   prevented: T1 reads 20; predicate read    same; the delete fails at once with
//!                returns nothing; delete where value = 20  WriteConflict (early abort)
//!                fails with 40001 at that statement
//!           SER* as RR                                     as RR
//! G2-item   RC*  allowed: both commit; final (11, 21)      same
//!           RR   allowed: both commit; final (11, 21)      same
//!           SER  prevented: T2's commit fails with 40001   prevented: ReadConflict at T2's
//!                (read/write dependencies)                 commit; final (11, 20)
//! G2        RC*  allowed: both inserts commit; Fekete:     same
//!                T1's update commits
//!           RR   allowed (Fekete*: T1's update commits)    same
//!           SER  prevented: T2's commit fails with 40001;  prevented: ReadConflict at T2's
//!                Fekete: T1's update fails with 40001      commit; Fekete: T1's update is
//!                                                          buffered, ReadConflict at T1's commit
//! ```

use std::fmt::Debug;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use cairn_mvcc::{
    Db, DbOptions, Error, IsolationLevel, LockMode, LockWait, Locked, Result, ScanOptions,
    Transaction, TxnId,
};
use tempfile::TempDir;

use IsolationLevel::{ReadCommitted, Serializable, Snapshot};

const PREFIX: &[u8] = b"test/";
/// The first key after every key starting with `test/`.
const PREFIX_END: &[u8] = b"test0";
/// How long a blocked statement must stay blocked.
const BLOCKED_FOR: Duration = Duration::from_millis(100);
/// How long a statement may take to start waiting, or to go on once unblocked.
const WAIT_LIMIT: Duration = Duration::from_secs(5);

/// Rows of the table: (id, value), in id order.
type Rows = Vec<(u32, i64)>;

/// A fresh database holding the Hermitage table: (1, 10), (2, 20).
fn open() -> (TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = DbOptions {
        sync_commits: false,
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    db.transaction(|t| {
        t.put(b"test/1", b"10")?;
        t.put(b"test/2", b"20")
    })
    .expect("setup");
    (dir, db)
}

fn begin(db: &Db, level: IsolationLevel) -> Transaction {
    db.begin(level).expect("begin")
}

fn row_key(id: u32) -> Vec<u8> {
    format!("test/{id}").into_bytes()
}

fn parse_value(v: &[u8]) -> i64 {
    std::str::from_utf8(v)
        .expect("utf-8 value")
        .parse()
        .expect("numeric value")
}

fn parse_row(k: &[u8], v: &[u8]) -> (u32, i64) {
    let id = std::str::from_utf8(k.strip_prefix(PREFIX).expect("a row key"))
        .expect("utf-8 key")
        .parse()
        .expect("numeric id");
    (id, parse_value(v))
}

/// `select * from test where id = {id}`.
fn get(t: &mut Transaction, id: u32) -> Result<Option<i64>> {
    Ok(t.get(&row_key(id))?.map(|v| parse_value(&v)))
}

/// `select * from test where {pred(value)}`: a scan of the whole table, filtered.
fn select(t: &mut Transaction, pred: impl Fn(i64) -> bool) -> Result<Rows> {
    let rows = t.scan(PREFIX, Some(PREFIX_END), ScanOptions::default())?;
    Ok(rows
        .iter()
        .map(|(k, v)| parse_row(k, v))
        .filter(|&(_, v)| pred(v))
        .collect())
}

/// `select * from test`.
fn select_all(t: &mut Transaction) -> Result<Rows> {
    select(t, |_| true)
}

/// `update test set value = {value} where id = {id}`.
fn set(t: &mut Transaction, id: u32, value: i64) -> Result<()> {
    t.put(&row_key(id), value.to_string().as_bytes())
}

/// `insert into test (id, value) values ({id}, {value})`: a put of a new key.
fn insert(t: &mut Transaction, id: u32, value: i64) -> Result<()> {
    set(t, id, value)
}

/// The current value of a row an UPDATE or DELETE is about to write. At READ COMMITTED it
/// waits for the row's lock and reads the newest committed version, as PostgreSQL does; at
/// SNAPSHOT and SERIALIZABLE it reads the snapshot (the write is validated instead).
fn row_to_write(t: &mut Transaction, id: u32) -> Result<Option<i64>> {
    if t.isolation() != ReadCommitted {
        return get(t, id);
    }
    match t.get_for_update(&row_key(id), LockMode::Exclusive, LockWait::Block)? {
        Locked::Acquired(v) => Ok(v.map(|v| parse_value(&v))),
        Locked::Skipped => unreachable!("a blocking lock request is never skipped"),
    }
}

/// `update test set value = value + {delta} where id = {id}`.
fn add(t: &mut Transaction, id: u32, delta: i64) -> Result<()> {
    let v = row_to_write(t, id)?.expect("the row exists");
    set(t, id, v + delta)
}

/// `update test set value = new(value) where pred(value)` (`new` returning `None`: `delete`
/// instead): the rows matching in the statement's snapshot; at READ COMMITTED each is then
/// locked and `pred` re-checked on its newest committed version. Returns the ids written
/// (PostgreSQL's row count).
fn write_where(
    t: &mut Transaction,
    pred: impl Fn(i64) -> bool,
    new: impl Fn(i64) -> Option<i64>,
) -> Result<Vec<u32>> {
    let candidates = select(t, &pred)?;
    let mut written = Vec::new();
    for (id, _) in candidates {
        let Some(v) = row_to_write(t, id)? else {
            continue;
        };
        if !pred(v) {
            continue;
        }
        match new(v) {
            Some(n) => set(t, id, n)?,
            None => t.delete(&row_key(id))?,
        }
        written.push(id);
    }
    Ok(written)
}

/// `update test set value = new(value) where pred(value)`.
fn update_where(
    t: &mut Transaction,
    pred: impl Fn(i64) -> bool,
    new: impl Fn(i64) -> i64,
) -> Result<Vec<u32>> {
    write_where(t, pred, |v| Some(new(v)))
}

/// `delete from test where pred(value)`.
fn delete_where(t: &mut Transaction, pred: impl Fn(i64) -> bool) -> Result<Vec<u32>> {
    write_where(t, pred, |_| None)
}

/// The committed table, read by a fresh snapshot.
fn committed(db: &Db) -> Rows {
    select_all(&mut db.snapshot().expect("snapshot")).expect("select committed")
}

/// Which serialization failure a statement is expected to fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conflict {
    /// `WriteConflict`: a written row has a commit newer than the snapshot.
    Write,
    /// `ReadConflict`: a row read or a range scanned has a commit newer than the snapshot.
    Read,
}

/// Asserts that `r` failed with `kind` on row `id`, as SQLSTATE 40001, retryable.
#[track_caller]
fn assert_conflict<T: Debug>(r: Result<T>, kind: Conflict, id: u32) {
    let e = match r {
        Ok(v) => panic!("expected a {kind:?} conflict on test/{id}, got Ok({v:?})"),
        Err(e) => e,
    };
    let on = match (&e, kind) {
        (Error::WriteConflict { key, .. }, Conflict::Write) => key,
        (Error::ReadConflict { key, .. }, Conflict::Read) => key,
        _ => panic!("expected a {kind:?} conflict on test/{id}, got {e:?}"),
    };
    assert_eq!(
        *on,
        row_key(id),
        "{kind:?} conflict on the wrong row: {e:?}"
    );
    assert_eq!(e.sqlstate(), "40001");
    assert!(e.is_retryable());
}

#[track_caller]
fn assert_write_conflict<T: Debug>(r: Result<T>, id: u32) {
    assert_conflict(r, Conflict::Write, id);
}

#[track_caller]
fn assert_read_conflict<T: Debug>(r: Result<T>, id: u32) {
    assert_conflict(r, Conflict::Read, id);
}

/// A statement after a failed one: PostgreSQL's "current transaction is aborted"; a
/// `commit` of a failed transaction rolls it back.
#[track_caller]
fn assert_not_active<T: Debug>(r: Result<T>) {
    assert!(
        matches!(r, Err(Error::NotActive(_))),
        "expected NotActive, got {r:?}"
    );
}

/// Cancels `txn`'s lock wait when the test panics while `txn` is blocked, so that the
/// thread scope can join instead of hanging.
struct CancelWaitOnPanic<'a> {
    db: &'a Db,
    txn: TxnId,
}

impl Drop for CancelWaitOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.db.lock_table().cancel(self.txn);
        }
    }
}

/// Runs `step` on `waiter` in a second thread and checks that it blocks on a row lock held
/// by `holder`: the lock table shows the wait-for edge and the step has not returned after
/// [`BLOCKED_FOR`]. Then runs `unblock` (which ends `holder`) on this thread, checks that
/// the step finishes, and returns the waiter, the step's result and `unblock`'s.
fn blocks_until<T: Send, U>(
    db: &Db,
    what: &str,
    mut waiter: Transaction,
    holder: TxnId,
    step: impl FnOnce(&mut Transaction) -> T + Send,
    unblock: impl FnOnce() -> U,
) -> (Transaction, T, U) {
    let waiter_id = waiter.id();
    thread::scope(|s| {
        let (done_tx, done_rx) = mpsc::channel();
        let handle = s.spawn(move || {
            let out = step(&mut waiter);
            // The receiver is gone only if the test already failed.
            let _ = done_tx.send(());
            (waiter, out)
        });
        let _guard = CancelWaitOnPanic { db, txn: waiter_id };
        let deadline = Instant::now() + WAIT_LIMIT;
        while !db
            .lock_table()
            .wait_for_edges()
            .contains(&(waiter_id, holder))
        {
            assert_eq!(
                done_rx.recv_timeout(Duration::from_millis(1)),
                Err(RecvTimeoutError::Timeout),
                "{what}: finished without waiting for the other transaction's row lock"
            );
            assert!(
                Instant::now() < deadline,
                "{what}: not waiting for the lock holder after {WAIT_LIMIT:?}"
            );
        }
        assert_eq!(
            done_rx.recv_timeout(BLOCKED_FOR),
            Err(RecvTimeoutError::Timeout),
            "{what}: stopped waiting while the lock holder was still running"
        );
        let unblocked = unblock();
        assert_eq!(
            done_rx.recv_timeout(WAIT_LIMIT),
            Ok(()),
            "{what}: still blocked after the lock holder finished"
        );
        let (waiter, out) = handle.join().expect("the blocked step panicked");
        (waiter, out, unblocked)
    })
}

// ---------------------------------------------------------------------------------------
// G0: write cycles (dirty writes).

/// T1 and T2 update both rows; T2's update of row 1 waits for T1's row lock, and T2 ends
/// up last on both rows: no interleaving of the two transactions' writes.
#[test]
fn g0_prevented_at_read_committed() {
    let (_dir, db) = open();
    let mut t1 = begin(&db, ReadCommitted);
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    let t2 = begin(&db, ReadCommitted);
    let t1_id = t1.id();
    let (mut t2, updated, ()) = blocks_until(
        &db,
        "T2: update id = 1",
        t2,
        t1_id,
        |t2| set(t2, 1, 12),
        || {
            set(&mut t1, 2, 21).expect("T1: update id = 2");
            t1.commit().expect("T1: commit");
        },
    );
    updated.expect("T2: update id = 1, after T1's commit");
    assert_eq!(
        committed(&db),
        [(1, 11), (2, 21)],
        "select (T1, after its commit)"
    );
    set(&mut t2, 2, 22).expect("T2: update id = 2");
    t2.commit().expect("T2: commit");
    assert_eq!(committed(&db), [(1, 12), (2, 22)]);
}

/// PostgreSQL: T2's update of row 1 blocks on T1's row lock and fails with 40001 when T1
/// commits. Ours: T2's write of row 1 is buffered without waiting (T1 has not committed
/// yet); its write of row 2, which T1 committed after T2's snapshot, fails at once with
/// `WriteConflict`. Either way T1 alone commits.
fn g0_first_committer_wins(level: IsolationLevel) {
    let (_dir, db) = open();
    let mut t1 = begin(&db, level);
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    let mut t2 = begin(&db, level);
    set(&mut t2, 1, 12).expect("T2: update id = 1 (buffered; PostgreSQL blocks here)");
    set(&mut t1, 2, 21).expect("T1: update id = 2");
    t1.commit().expect("T1: commit");
    assert_eq!(
        committed(&db),
        [(1, 11), (2, 21)],
        "select (T1, after its commit)"
    );
    assert_write_conflict(set(&mut t2, 2, 22), 2);
    assert_not_active(t2.commit());
    assert_eq!(committed(&db), [(1, 11), (2, 21)]);
}

#[test]
fn g0_prevented_at_snapshot() {
    g0_first_committer_wins(Snapshot);
}

#[test]
fn g0_prevented_at_serializable() {
    g0_first_committer_wins(Serializable);
}

// ---------------------------------------------------------------------------------------
// G1a: aborted reads. The same at every level: T2 never sees T1's aborted write.

fn g1a(level: IsolationLevel) {
    let (_dir, db) = open();
    let mut t1 = begin(&db, level);
    set(&mut t1, 1, 101).expect("T1: update id = 1");
    let mut t2 = begin(&db, level);
    assert_eq!(select_all(&mut t2).expect("T2: select"), [(1, 10), (2, 20)]);
    t1.rollback();
    assert_eq!(select_all(&mut t2).expect("T2: select"), [(1, 10), (2, 20)]);
    t2.commit().expect("T2: commit");
    assert_eq!(committed(&db), [(1, 10), (2, 20)]);
}

#[test]
fn g1a_prevented_at_read_committed() {
    g1a(ReadCommitted);
}

#[test]
fn g1a_prevented_at_snapshot() {
    g1a(Snapshot);
}

#[test]
fn g1a_prevented_at_serializable() {
    g1a(Serializable);
}

// ---------------------------------------------------------------------------------------
// G1b: intermediate reads. T2 never sees T1's intermediate 101; after T1's commit it sees
// the final 11 at READ COMMITTED (a fresh snapshot per statement) and still 10 at
// SNAPSHOT and SERIALIZABLE (its snapshot predates T1's commit).

fn g1b(level: IsolationLevel, after_t1_commit: Rows) {
    let (_dir, db) = open();
    let mut t1 = begin(&db, level);
    set(&mut t1, 1, 101).expect("T1: update id = 1");
    let mut t2 = begin(&db, level);
    assert_eq!(select_all(&mut t2).expect("T2: select"), [(1, 10), (2, 20)]);
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    t1.commit().expect("T1: commit");
    assert_eq!(select_all(&mut t2).expect("T2: select"), after_t1_commit);
    t2.commit().expect("T2: commit");
    assert_eq!(committed(&db), [(1, 11), (2, 20)]);
}

#[test]
fn g1b_prevented_at_read_committed() {
    g1b(ReadCommitted, vec![(1, 11), (2, 20)]);
}

#[test]
fn g1b_prevented_at_snapshot() {
    g1b(Snapshot, vec![(1, 10), (2, 20)]);
}

#[test]
fn g1b_prevented_at_serializable() {
    g1b(Serializable, vec![(1, 10), (2, 20)]);
}

// ---------------------------------------------------------------------------------------
// G1c: circular information flow. Each transaction reads the other's row before the other
// commits and sees the old value. At SERIALIZABLE the script is also a write skew (each
// read a row the other wrote), so the second committer fails, as with PostgreSQL's SSI.

/// Runs the script up to T2's commit and returns T2's commit result.
fn g1c(db: &Db, level: IsolationLevel) -> Result<cairn_mvcc::CommitInfo> {
    let mut t1 = begin(db, level);
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    let mut t2 = begin(db, level);
    set(&mut t2, 2, 22).expect("T2: update id = 2");
    assert_eq!(get(&mut t1, 2).expect("T1: select id = 2"), Some(20));
    assert_eq!(get(&mut t2, 1).expect("T2: select id = 1"), Some(10));
    t1.commit().expect("T1: commit");
    t2.commit()
}

#[test]
fn g1c_prevented_at_read_committed() {
    let (_dir, db) = open();
    g1c(&db, ReadCommitted).expect("T2: commit");
    assert_eq!(committed(&db), [(1, 11), (2, 22)]);
}

#[test]
fn g1c_prevented_at_snapshot() {
    let (_dir, db) = open();
    g1c(&db, Snapshot).expect("T2: commit");
    assert_eq!(committed(&db), [(1, 11), (2, 22)]);
}

#[test]
fn g1c_prevented_at_serializable() {
    let (_dir, db) = open();
    assert_read_conflict(g1c(&db, Serializable), 1);
    assert_eq!(committed(&db), [(1, 11), (2, 20)]);
}

// ---------------------------------------------------------------------------------------
// OTV: observed transaction vanishes. T3 reads rows written by T1 and T2 and never sees a
// write of T1 replaced by an older state.

/// T2's update of row 1 waits for T1's row lock; once T1 commits, T3 sees T1's writes, then
/// T2's, never a mix that loses T1's.
#[test]
fn otv_prevented_at_read_committed() {
    let (_dir, db) = open();
    let mut t1 = begin(&db, ReadCommitted);
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    set(&mut t1, 2, 19).expect("T1: update id = 2");
    let t2 = begin(&db, ReadCommitted);
    let t1_id = t1.id();
    let (mut t2, updated, ()) = blocks_until(
        &db,
        "T2: update id = 1",
        t2,
        t1_id,
        |t2| set(t2, 1, 12),
        || t1.commit().map(drop).expect("T1: commit"),
    );
    updated.expect("T2: update id = 1, after T1's commit");
    let mut t3 = begin(&db, ReadCommitted);
    assert_eq!(get(&mut t3, 1).expect("T3: select id = 1"), Some(11));
    set(&mut t2, 2, 18).expect("T2: update id = 2");
    assert_eq!(get(&mut t3, 2).expect("T3: select id = 2"), Some(19));
    t2.commit().expect("T2: commit");
    assert_eq!(get(&mut t3, 2).expect("T3: select id = 2"), Some(18));
    assert_eq!(get(&mut t3, 1).expect("T3: select id = 1"), Some(12));
    t3.commit().expect("T3: commit");
    assert_eq!(committed(&db), [(1, 12), (2, 18)]);
}

/// PostgreSQL: T2's update of row 1 blocks, then fails with 40001 when T1 commits. Ours: it
/// is buffered; T2's update of row 2, which T1 committed after T2's snapshot, fails at once.
/// T3 (snapshot taken after T1's commit) reads T1's values throughout.
fn otv_first_committer_wins(level: IsolationLevel) {
    let (_dir, db) = open();
    let mut t1 = begin(&db, level);
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    set(&mut t1, 2, 19).expect("T1: update id = 2");
    let mut t2 = begin(&db, level);
    set(&mut t2, 1, 12).expect("T2: update id = 1 (buffered; PostgreSQL blocks here)");
    t1.commit().expect("T1: commit");
    let mut t3 = begin(&db, level);
    assert_eq!(get(&mut t3, 1).expect("T3: select id = 1"), Some(11));
    assert_write_conflict(set(&mut t2, 2, 18), 2);
    assert_eq!(get(&mut t3, 2).expect("T3: select id = 2"), Some(19));
    assert_not_active(t2.commit());
    assert_eq!(get(&mut t3, 2).expect("T3: select id = 2"), Some(19));
    assert_eq!(get(&mut t3, 1).expect("T3: select id = 1"), Some(11));
    t3.commit().expect("T3: commit");
    assert_eq!(committed(&db), [(1, 11), (2, 19)]);
}

#[test]
fn otv_prevented_at_snapshot() {
    otv_first_committer_wins(Snapshot);
}

#[test]
fn otv_prevented_at_serializable() {
    otv_first_committer_wins(Serializable);
}

// ---------------------------------------------------------------------------------------
// PMP: predicate-many-preceders. A predicate read (or a predicate write) sees some but not
// all of the effects of a concurrent transaction.

/// Read predicate: T1's second predicate read sees T2's insert. Write predicate (the
/// example of PostgreSQL's documentation): T2's `delete where value = 20` picks row 2,
/// waits for T1's row lock, re-checks row 2 (now 30) and deletes nothing, while row 1 now
/// holds 20.
#[test]
fn pmp_allowed_at_read_committed() {
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, ReadCommitted);
        assert_eq!(select(&mut t1, |v| v == 30).expect("T1: select"), []);
        let mut t2 = begin(&db, ReadCommitted);
        insert(&mut t2, 3, 30).expect("T2: insert (3, 30)");
        t2.commit().expect("T2: commit");
        assert_eq!(
            select(&mut t1, |v| v % 3 == 0).expect("T1: select"),
            [(3, 30)],
            "T1 sees T2's insert"
        );
        t1.commit().expect("T1: commit");
    }
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, ReadCommitted);
        assert_eq!(
            update_where(&mut t1, |_| true, |v| v + 10).expect("T1: update all"),
            [1, 2]
        );
        let t2 = begin(&db, ReadCommitted);
        let t1_id = t1.id();
        let (mut t2, deleted, ()) = blocks_until(
            &db,
            "T2: delete where value = 20",
            t2,
            t1_id,
            |t2| delete_where(t2, |v| v == 20),
            || t1.commit().map(drop).expect("T1: commit"),
        );
        assert_eq!(
            deleted.expect("T2: delete where value = 20"),
            [],
            "DELETE 0"
        );
        assert_eq!(
            select(&mut t2, |v| v == 20).expect("T2: select where value = 20"),
            [(1, 20)]
        );
        t2.commit().expect("T2: commit");
        assert_eq!(committed(&db), [(1, 20), (2, 30)]);
    }
}

/// Read predicate: T1's snapshot does not contain T2's insert. Write predicate: PostgreSQL
/// blocks T2's delete on T1's row lock and fails it with 40001 when T1 commits; ours
/// buffers the delete and fails T2 with `WriteConflict` at its commit.
fn pmp_prevented(level: IsolationLevel) {
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, level);
        assert_eq!(select(&mut t1, |v| v == 30).expect("T1: select"), []);
        let mut t2 = begin(&db, level);
        insert(&mut t2, 3, 30).expect("T2: insert (3, 30)");
        t2.commit().expect("T2: commit");
        assert_eq!(select(&mut t1, |v| v % 3 == 0).expect("T1: select"), []);
        t1.commit().expect("T1: commit");
        assert_eq!(committed(&db), [(1, 10), (2, 20), (3, 30)]);
    }
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, level);
        assert_eq!(
            update_where(&mut t1, |_| true, |v| v + 10).expect("T1: update all"),
            [1, 2]
        );
        let mut t2 = begin(&db, level);
        assert_eq!(
            delete_where(&mut t2, |v| v == 20)
                .expect("T2: delete where value = 20 (buffered; PostgreSQL blocks here)"),
            [2]
        );
        t1.commit().expect("T1: commit");
        assert_write_conflict(t2.commit(), 2);
        assert_eq!(committed(&db), [(1, 20), (2, 30)]);
    }
}

#[test]
fn pmp_prevented_at_snapshot() {
    pmp_prevented(Snapshot);
}

#[test]
fn pmp_prevented_at_serializable() {
    pmp_prevented(Serializable);
}

// ---------------------------------------------------------------------------------------
// P4: lost update. Both read 10 and set 11; the second writer must not overwrite the first
// writer's update unseen.

/// T2's update waits for T1's row lock, then overwrites T1's update: both commit, T2's
/// version (computed from its read of 10) after T1's.
#[test]
fn lost_update_p4_allowed_at_read_committed() {
    let (_dir, db) = open();
    let mut t1 = begin(&db, ReadCommitted);
    assert_eq!(get(&mut t1, 1).expect("T1: select id = 1"), Some(10));
    let mut t2 = begin(&db, ReadCommitted);
    assert_eq!(get(&mut t2, 1).expect("T2: select id = 1"), Some(10));
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    let t1_id = t1.id();
    let (mut t2, updated, t1_commit) = blocks_until(
        &db,
        "T2: update id = 1",
        t2,
        t1_id,
        |t2| set(t2, 1, 11),
        || t1.commit().expect("T1: commit"),
    );
    updated.expect("T2: update id = 1, after T1's commit");
    let t2_commit = t2.commit().expect("T2: commit");
    assert!(t2_commit.commit_ts > t1_commit.commit_ts);
    assert_eq!(committed(&db), [(1, 11), (2, 20)]);
    assert_eq!(
        db.stored_versions(&row_key(1)).expect("versions").len(),
        3,
        "setup, T1 and T2 all wrote row 1"
    );
}

/// PostgreSQL: T2's update blocks, then fails with 40001 when T1 commits. Ours: T2's update
/// is buffered and T2 fails with `WriteConflict` at its commit.
fn lost_update_prevented(level: IsolationLevel) {
    let (_dir, db) = open();
    let mut t1 = begin(&db, level);
    assert_eq!(get(&mut t1, 1).expect("T1: select id = 1"), Some(10));
    let mut t2 = begin(&db, level);
    assert_eq!(get(&mut t2, 1).expect("T2: select id = 1"), Some(10));
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    set(&mut t2, 1, 11).expect("T2: update id = 1 (buffered; PostgreSQL blocks here)");
    t1.commit().expect("T1: commit");
    assert_write_conflict(t2.commit(), 1);
    assert_eq!(committed(&db), [(1, 11), (2, 20)]);
    assert_eq!(
        db.stored_versions(&row_key(1)).expect("versions").len(),
        2,
        "only setup and T1 wrote row 1"
    );
}

#[test]
fn lost_update_p4_prevented_at_snapshot() {
    lost_update_prevented(Snapshot);
}

#[test]
fn lost_update_p4_prevented_at_serializable() {
    lost_update_prevented(Serializable);
}

// ---------------------------------------------------------------------------------------
// G-single: read skew. T2 moves 10 -> 12 and 20 -> 18 (sum kept at 30); T1 reads one row
// before T2's commit and one after.

/// T1 sees row 1 before T2 and row 2 after T2 (10 + 18); its predicate read sees T2's 12;
/// its `delete where value = 20` finds no row (row 2 is now 18).
#[test]
fn read_skew_g_single_allowed_at_read_committed() {
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, ReadCommitted);
        assert_eq!(get(&mut t1, 1).expect("T1: select id = 1"), Some(10));
        let mut t2 = begin(&db, ReadCommitted);
        assert_eq!(get(&mut t2, 1).expect("T2: select id = 1"), Some(10));
        assert_eq!(get(&mut t2, 2).expect("T2: select id = 2"), Some(20));
        set(&mut t2, 1, 12).expect("T2: update id = 1");
        set(&mut t2, 2, 18).expect("T2: update id = 2");
        t2.commit().expect("T2: commit");
        assert_eq!(
            get(&mut t1, 2).expect("T1: select id = 2"),
            Some(18),
            "skew"
        );
        t1.commit().expect("T1: commit");
    }
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, ReadCommitted);
        assert_eq!(
            select(&mut t1, |v| v % 5 == 0).expect("T1: select"),
            [(1, 10), (2, 20)]
        );
        let mut t2 = begin(&db, ReadCommitted);
        assert_eq!(
            update_where(&mut t2, |v| v == 10, |_| 12).expect("T2: update where value = 10"),
            [1]
        );
        t2.commit().expect("T2: commit");
        assert_eq!(
            select(&mut t1, |v| v % 3 == 0).expect("T1: select"),
            [(1, 12)]
        );
        t1.commit().expect("T1: commit");
    }
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, ReadCommitted);
        assert_eq!(get(&mut t1, 1).expect("T1: select id = 1"), Some(10));
        let mut t2 = begin(&db, ReadCommitted);
        assert_eq!(select_all(&mut t2).expect("T2: select"), [(1, 10), (2, 20)]);
        set(&mut t2, 1, 12).expect("T2: update id = 1");
        set(&mut t2, 2, 18).expect("T2: update id = 2");
        t2.commit().expect("T2: commit");
        assert_eq!(
            delete_where(&mut t1, |v| v == 20).expect("T1: delete where value = 20"),
            [],
            "DELETE 0"
        );
        t1.commit().expect("T1: commit");
        assert_eq!(committed(&db), [(1, 12), (2, 18)]);
    }
}

/// T1 reads its snapshot throughout (10 and 20; the predicate read finds no multiple of 3);
/// its `delete where value = 20` matches row 2 in its snapshot, which T2 has since
/// updated: it fails at that statement, in PostgreSQL (40001) as in ours (`WriteConflict`,
/// early abort).
fn read_skew_prevented(level: IsolationLevel) {
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, level);
        assert_eq!(get(&mut t1, 1).expect("T1: select id = 1"), Some(10));
        let mut t2 = begin(&db, level);
        assert_eq!(get(&mut t2, 1).expect("T2: select id = 1"), Some(10));
        assert_eq!(get(&mut t2, 2).expect("T2: select id = 2"), Some(20));
        set(&mut t2, 1, 12).expect("T2: update id = 1");
        set(&mut t2, 2, 18).expect("T2: update id = 2");
        t2.commit().expect("T2: commit");
        assert_eq!(get(&mut t1, 2).expect("T1: select id = 2"), Some(20));
        t1.commit().expect("T1: commit");
        assert_eq!(committed(&db), [(1, 12), (2, 18)]);
    }
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, level);
        assert_eq!(
            select(&mut t1, |v| v % 5 == 0).expect("T1: select"),
            [(1, 10), (2, 20)]
        );
        let mut t2 = begin(&db, level);
        assert_eq!(
            update_where(&mut t2, |v| v == 10, |_| 12).expect("T2: update where value = 10"),
            [1]
        );
        t2.commit().expect("T2: commit");
        assert_eq!(select(&mut t1, |v| v % 3 == 0).expect("T1: select"), []);
        t1.commit().expect("T1: commit");
        assert_eq!(committed(&db), [(1, 12), (2, 20)]);
    }
    {
        let (_dir, db) = open();
        let mut t1 = begin(&db, level);
        assert_eq!(get(&mut t1, 1).expect("T1: select id = 1"), Some(10));
        let mut t2 = begin(&db, level);
        assert_eq!(select_all(&mut t2).expect("T2: select"), [(1, 10), (2, 20)]);
        set(&mut t2, 1, 12).expect("T2: update id = 1");
        set(&mut t2, 2, 18).expect("T2: update id = 2");
        t2.commit().expect("T2: commit");
        assert_write_conflict(delete_where(&mut t1, |v| v == 20), 2);
        t1.rollback();
        assert_eq!(committed(&db), [(1, 12), (2, 18)]);
    }
}

#[test]
fn read_skew_g_single_prevented_at_snapshot() {
    read_skew_prevented(Snapshot);
}

#[test]
fn read_skew_g_single_prevented_at_serializable() {
    read_skew_prevented(Serializable);
}

// ---------------------------------------------------------------------------------------
// G2-item: write skew. Both read rows 1 and 2; T1 updates row 1, T2 updates row 2.

/// Runs the script up to T2's commit and returns T2's commit result.
fn write_skew(db: &Db, level: IsolationLevel) -> Result<cairn_mvcc::CommitInfo> {
    let mut t1 = begin(db, level);
    assert_eq!(get(&mut t1, 1).expect("T1: select id = 1"), Some(10));
    assert_eq!(get(&mut t1, 2).expect("T1: select id = 2"), Some(20));
    let mut t2 = begin(db, level);
    assert_eq!(get(&mut t2, 1).expect("T2: select id = 1"), Some(10));
    assert_eq!(get(&mut t2, 2).expect("T2: select id = 2"), Some(20));
    set(&mut t1, 1, 11).expect("T1: update id = 1");
    set(&mut t2, 2, 21).expect("T2: update id = 2");
    t1.commit().expect("T1: commit");
    t2.commit()
}

#[test]
fn write_skew_g2_item_allowed_at_read_committed() {
    let (_dir, db) = open();
    write_skew(&db, ReadCommitted).expect("T2: commit");
    assert_eq!(committed(&db), [(1, 11), (2, 21)]);
}

#[test]
fn write_skew_g2_item_allowed_at_snapshot() {
    let (_dir, db) = open();
    write_skew(&db, Snapshot).expect("T2: commit");
    assert_eq!(committed(&db), [(1, 11), (2, 21)]);
}

/// PostgreSQL fails T2's commit (read/write dependencies); ours fails it with
/// `ReadConflict` on row 1, which T2 read and T1 wrote.
#[test]
fn write_skew_g2_item_prevented_at_serializable() {
    let (_dir, db) = open();
    assert_read_conflict(write_skew(&db, Serializable), 1);
    assert_eq!(committed(&db), [(1, 11), (2, 20)]);
}

// ---------------------------------------------------------------------------------------
// G2: anti-dependency cycles with predicate reads. Each transaction reads "no multiple of 3"
// and inserts one; and Fekete et al.'s example, where a read-only T3 observes T2's commit
// and T1, which read before T2, then writes.

/// Both read "no row with value % 3 = 0", insert one each, and commit: returns T2's commit.
fn g2_predicates(db: &Db, level: IsolationLevel) -> Result<cairn_mvcc::CommitInfo> {
    let mut t1 = begin(db, level);
    assert_eq!(select(&mut t1, |v| v % 3 == 0).expect("T1: select"), []);
    let mut t2 = begin(db, level);
    assert_eq!(select(&mut t2, |v| v % 3 == 0).expect("T2: select"), []);
    insert(&mut t1, 3, 30).expect("T1: insert (3, 30)");
    insert(&mut t2, 4, 42).expect("T2: insert (4, 42)");
    t1.commit().expect("T1: commit");
    t2.commit()
}

/// Fekete et al.: T1 reads all; T2 adds 5 to row 2 and commits; T3 reads all (10, 25) and
/// commits; T1 sets row 1 to 0 and commits. Returns the first error of T1's update and
/// commit, or T1's commit.
fn g2_fekete(db: &Db, level: IsolationLevel) -> Result<cairn_mvcc::CommitInfo> {
    let mut t1 = begin(db, level);
    assert_eq!(select_all(&mut t1).expect("T1: select"), [(1, 10), (2, 20)]);
    let mut t2 = begin(db, level);
    add(&mut t2, 2, 5).expect("T2: update id = 2 by +5");
    t2.commit().expect("T2: commit");
    let mut t3 = begin(db, level);
    assert_eq!(select_all(&mut t3).expect("T3: select"), [(1, 10), (2, 25)]);
    t3.commit().expect("T3: commit");
    set(&mut t1, 1, 0)?;
    t1.commit()
}

fn g2_allowed(level: IsolationLevel) {
    {
        let (_dir, db) = open();
        g2_predicates(&db, level).expect("T2: commit");
        assert_eq!(
            select(&mut db.snapshot().expect("snapshot"), |v| v % 3 == 0).expect("select"),
            [(3, 30), (4, 42)]
        );
    }
    {
        let (_dir, db) = open();
        g2_fekete(&db, level).expect("T1: update id = 1, commit");
        assert_eq!(committed(&db), [(1, 0), (2, 25)]);
    }
}

#[test]
fn anti_dependency_g2_allowed_at_read_committed() {
    g2_allowed(ReadCommitted);
}

#[test]
fn anti_dependency_g2_allowed_at_snapshot() {
    g2_allowed(Snapshot);
}

/// PostgreSQL fails T2's commit (read/write dependencies); ours fails it with
/// `ReadConflict` on T1's insert into the range T2 scanned. Fekete: PostgreSQL fails T1's
/// update; ours buffers it and fails T1's commit with `ReadConflict` on row 2 (T2's
/// commit, inside the range T1 scanned).
#[test]
fn anti_dependency_g2_prevented_at_serializable() {
    {
        let (_dir, db) = open();
        assert_read_conflict(g2_predicates(&db, Serializable), 3);
        assert_eq!(committed(&db), [(1, 10), (2, 20), (3, 30)]);
    }
    {
        let (_dir, db) = open();
        assert_read_conflict(g2_fekete(&db, Serializable), 2);
        assert_eq!(committed(&db), [(1, 10), (2, 25)]);
    }
}

//! Row locks as a user sees them through `Db` and `Transaction`: deadlocks between explicit
//! lockers and between READ COMMITTED writers are found at once with exactly one victim,
//! `SKIP LOCKED` never hands one job to two workers (READ COMMITTED and SERIALIZABLE),
//! `NOWAIT` and the lock timeout fail with 55P03, shared locks hold writers back until they
//! are released, and every way a transaction ends releases its locks.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use cairn_mvcc::{
    Db, DbOptions, Error, IsolationLevel, LockMode, LockWait, Locked, ScanOptions, Transaction,
};

/// How long a test waits for a thread that should finish before calling it stuck.
const STUCK: Duration = Duration::from_secs(10);

fn open(dir: &Path) -> Db {
    open_with(dir, DbOptions::default())
}

fn open_with(dir: &Path, opts: DbOptions) -> Db {
    Db::open(
        dir,
        DbOptions {
            sync_commits: false,
            ..opts
        },
    )
    .expect("open db")
}

fn read_committed(db: &Db) -> Transaction {
    db.begin(IsolationLevel::ReadCommitted)
        .expect("begin READ COMMITTED")
}

fn committed_value(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
    db.snapshot().expect("snapshot").get(key).expect("get")
}

/// Takes `key`'s row lock with `FOR UPDATE`, waiting as long as it takes.
fn lock_for_update(t: &mut Transaction, key: &[u8]) -> Result<(), Error> {
    match t.get_for_update(key, LockMode::Exclusive, LockWait::Block)? {
        Locked::Acquired(_) => Ok(()),
        Locked::Skipped => panic!("a blocking lock request was skipped"),
    }
}

/// Takes `key`'s row lock the way a READ COMMITTED writer does: by writing it.
fn lock_by_writing(t: &mut Transaction, key: &[u8]) -> Result<(), Error> {
    t.put(key, b"locking write")
}

type LockStep = fn(&mut Transaction, &[u8]) -> Result<(), Error>;

/// What one side of the deadlock reported: the outcome of its second lock request, when that
/// request returned, and the outcome of its commit (if the lock was granted).
struct SideReport {
    id: cairn_mvcc::TxnId,
    second_lock: Result<(), Error>,
    returned_at: Instant,
    commit: Option<Result<(), Error>>,
    /// The next call after a failed lock request.
    after_failure: Option<Result<Option<Vec<u8>>, Error>>,
}

/// T1 locks `a`, T2 locks `b`; then, released together from a barrier, T1 asks for `b` and
/// T2 for `a` in two threads. Each side that gets both locks writes its name to both keys
/// and commits. Repeated `rounds` times on one database.
fn opposite_order_lockers(lock: LockStep, rounds: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    for round in 0..rounds {
        let a = format!("acct/{round}/a").into_bytes();
        let b = format!("acct/{round}/b").into_bytes();
        let mut t1 = read_committed(&db);
        let mut t2 = read_committed(&db);
        lock(&mut t1, &a).expect("T1 locks a");
        lock(&mut t2, &b).expect("T2 locks b");
        let names = BTreeMap::from([(t1.id(), "T1"), (t2.id(), "T2")]);

        let barrier = Arc::new(Barrier::new(3));
        let (tx, rx) = mpsc::channel::<SideReport>();
        for (mut t, second, first) in [(t1, b.clone(), a.clone()), (t2, a.clone(), b.clone())] {
            let barrier = Arc::clone(&barrier);
            let tx = tx.clone();
            let name = names[&t.id()];
            thread::spawn(move || {
                barrier.wait();
                let second_lock = lock(&mut t, &second);
                let returned_at = Instant::now();
                let mut report = SideReport {
                    id: t.id(),
                    second_lock,
                    returned_at,
                    commit: None,
                    after_failure: None,
                };
                if report.second_lock.is_ok() {
                    let done = t
                        .put(&first, name.as_bytes())
                        .and_then(|()| t.put(&second, name.as_bytes()))
                        .and_then(|()| t.commit().map(|_| ()));
                    report.commit = Some(done);
                } else {
                    report.after_failure = Some(t.get(&first));
                }
                let _ = tx.send(report);
            });
        }
        drop(tx);
        barrier.wait();
        // Both requests are made after this instant, so the cycle forms after it.
        let released = Instant::now();
        let mut reports: Vec<SideReport> = (0..2)
            .map(|_| {
                rx.recv_timeout(STUCK).unwrap_or_else(|_| {
                    panic!(
                        "round {round}: a locker is still blocked after {STUCK:?}; wait-for edges: {:?}",
                        db.lock_table().wait_for_edges()
                    )
                })
            })
            .collect();
        reports.sort_by_key(|r| r.second_lock.is_ok());
        let survivor = reports.pop().expect("two reports");
        let victim = reports.pop().expect("two reports");

        match &victim.second_lock {
            Err(e @ Error::Deadlock { cycle }) => {
                assert!(e.is_retryable(), "a deadlock victim may retry");
                assert_eq!(e.sqlstate(), "40P01");
                assert_eq!(
                    cycle.first(),
                    Some(&victim.id),
                    "cycle starts at the victim"
                );
                assert!(
                    cycle.contains(&survivor.id),
                    "cycle {cycle:?} lists both lockers"
                );
            }
            other => panic!(
                "round {round}: expected exactly one deadlock victim, got {:?} and {:?}",
                other.as_ref().err(),
                survivor.second_lock.as_ref().err()
            ),
        }
        let waited = victim.returned_at.saturating_duration_since(released);
        assert!(
            waited < Duration::from_secs(1),
            "round {round}: the deadlock was reported {waited:?} after the cycle formed"
        );
        assert!(
            matches!(victim.after_failure, Some(Err(Error::NotActive(_)))),
            "round {round}: the victim's transaction must be failed, got {:?}",
            victim.after_failure
        );
        assert!(
            matches!(survivor.commit, Some(Ok(()))),
            "round {round}: the survivor must commit, got {:?}",
            survivor.commit
        );
        assert_eq!(
            db.stats().deadlocks,
            round as u64 + 1,
            "round {round}: one deadlock per round"
        );

        // The survivor's writes are there and none of the victim's: both keys carry the
        // survivor's name.
        let survivor_name = names[&survivor.id].as_bytes().to_vec();
        assert_eq!(committed_value(&db, &a), Some(survivor_name.clone()));
        assert_eq!(committed_value(&db, &b), Some(survivor_name));
        assert_eq!(db.lock_table().locked_key_count(), 0);

        // Running the victim again succeeds now.
        let victim_name = names[&victim.id];
        let mut again = read_committed(&db);
        for key in [&a, &b] {
            lock(&mut again, key).expect("retry locks");
            again.put(key, victim_name.as_bytes()).expect("retry put");
        }
        again.commit().expect("retry commits");
        assert_eq!(
            committed_value(&db, &a),
            Some(victim_name.as_bytes().to_vec())
        );
        assert_eq!(
            committed_value(&db, &b),
            Some(victim_name.as_bytes().to_vec())
        );
    }
}

#[test]
fn opposite_order_lockers_deadlock_and_one_victim_is_aborted_within_a_second() {
    opposite_order_lockers(lock_for_update, 5);
}

#[test]
fn deadlock_between_read_committed_writers_is_detected() {
    opposite_order_lockers(lock_by_writing, 5);
}

const JOBS: usize = 200;
const WORKERS: usize = 4;
const QUEUE_START: &[u8] = b"job/";
const QUEUE_END: &[u8] = b"job0";

fn job_key(i: usize) -> Vec<u8> {
    format!("job/{i:03}").into_bytes()
}

/// One attempt to claim a job: lock the first queued job nobody else has locked, and move it
/// from the queue (`job/<id>`) to `done/<id>`. A claimed job must leave the queue: with
/// claimed rows left in place, `LIMIT 1` would keep returning the first (claimed) row and the
/// queue would only advance when workers happened to collide on it.
fn claim_one(db: &Db, worker: usize, isolation: IsolationLevel) -> Result<Option<String>, Error> {
    let mut t = db.begin(isolation)?;
    let rows = t.scan_for_update(
        QUEUE_START,
        Some(QUEUE_END),
        ScanOptions {
            limit: 1,
            ..ScanOptions::default()
        },
        LockMode::Exclusive,
        LockWait::SkipLocked,
    )?;
    assert!(rows.len() <= 1, "limit 1 returned {} rows", rows.len());
    let Some((key, value)) = rows.into_iter().next() else {
        t.rollback();
        return Ok(None);
    };
    assert_eq!(
        value,
        b"pending",
        "{} has an unexpected value",
        String::from_utf8_lossy(&key)
    );
    let id = String::from_utf8(key[QUEUE_START.len()..].to_vec()).expect("job id");
    t.delete(&key)?;
    t.put(
        format!("done/{id}").as_bytes(),
        format!("done:{worker}").as_bytes(),
    )?;
    t.commit()?;
    Ok(Some(id))
}

/// True when a plain snapshot sees no queued job. Jobs only ever leave the queue, so once
/// this is true it stays true: a worker that sees it may stop.
fn queue_is_empty(db: &Db) -> bool {
    let mut s = db.snapshot().expect("snapshot");
    s.scan(
        QUEUE_START,
        Some(QUEUE_END),
        ScanOptions {
            limit: 1,
            ..ScanOptions::default()
        },
    )
    .expect("scan queue")
    .is_empty()
}

/// Runs a worker until the queue is empty; returns the job ids it claimed and how many of its
/// attempts failed with a retryable error.
fn job_worker(db: Db, worker: usize, isolation: IsolationLevel) -> (Vec<String>, u64) {
    let mut claimed = Vec::new();
    let mut retries = 0u64;
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < give_up,
            "worker {worker} still running after 30 s"
        );
        match claim_one(&db, worker, isolation) {
            Ok(Some(id)) => claimed.push(id),
            Ok(None) => {
                if queue_is_empty(&db) {
                    return (claimed, retries);
                }
                // Every queued job is locked by another worker right now.
                thread::yield_now();
            }
            Err(e) if e.is_retryable() => {
                retries += 1;
                thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("worker {worker}: {e:?}"),
        }
    }
}

fn job_queue_hands_out_each_job_once(isolation: IsolationLevel) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let mut t = read_committed(&db);
    for i in 0..JOBS {
        t.put(&job_key(i), b"pending").expect("queue a job");
    }
    t.commit().expect("commit the queue");

    let start = Instant::now();
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let db = db.clone();
            thread::spawn(move || job_worker(db, w, isolation))
        })
        .collect();
    let mut claims: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut per_worker = Vec::new();
    let mut retries = 0;
    for (w, h) in handles.into_iter().enumerate() {
        let (ids, r) = h.join().expect("worker panicked");
        per_worker.push(ids.len());
        retries += r;
        for id in ids {
            claims.entry(id).or_default().push(w);
        }
    }
    println!(
        "{}: {JOBS} jobs in {:?}, claims per worker {per_worker:?}, {retries} retries",
        isolation.sql_name(),
        start.elapsed()
    );

    let twice: Vec<_> = claims.iter().filter(|(_, ws)| ws.len() > 1).collect();
    assert!(twice.is_empty(), "jobs claimed more than once: {twice:?}");
    let missing: Vec<_> = (0..JOBS)
        .map(|i| format!("{i:03}"))
        .filter(|id| !claims.contains_key(id))
        .collect();
    assert!(missing.is_empty(), "jobs never claimed: {missing:?}");
    assert_eq!(claims.len(), JOBS);

    // The database agrees with what the workers reported.
    assert!(queue_is_empty(&db));
    let done = db
        .snapshot()
        .expect("snapshot")
        .scan(b"done/", Some(b"done0"), ScanOptions::default())
        .expect("scan done");
    assert_eq!(done.len(), JOBS);
    for (key, value) in done {
        let id = String::from_utf8(key[b"done/".len()..].to_vec()).expect("id");
        let worker = claims[&id][0];
        assert_eq!(value, format!("done:{worker}").into_bytes(), "job {id}");
    }
    assert_eq!(db.lock_table().locked_key_count(), 0);
}

#[test]
fn skip_locked_job_queue_never_hands_a_job_to_two_workers() {
    job_queue_hands_out_each_job_once(IsolationLevel::ReadCommitted);
}

#[test]
fn skip_locked_job_queue_never_hands_a_job_to_two_serializable_workers() {
    job_queue_hands_out_each_job_once(IsolationLevel::Serializable);
}

#[test]
fn nowait_fails_at_once_when_row_is_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let mut setup = read_committed(&db);
    setup.put(b"k", b"v").expect("put");
    setup.commit().expect("commit");

    let mut holder = read_committed(&db);
    assert_eq!(
        holder
            .get_for_update(b"k", LockMode::Exclusive, LockWait::Block)
            .expect("lock"),
        Locked::Acquired(Some(b"v".to_vec()))
    );

    for mode in [LockMode::Exclusive, LockMode::Shared] {
        let mut t = read_committed(&db);
        let started = Instant::now();
        let err = t
            .get_for_update(b"k", mode, LockWait::NoWait)
            .expect_err("NOWAIT on a locked row");
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(100),
            "{mode:?} NOWAIT took {elapsed:?}"
        );
        match &err {
            Error::LockNotAvailable { key, holder: h } => {
                assert_eq!(key, b"k");
                assert_eq!(*h, holder.id(), "the error names the holder");
            }
            other => panic!("{mode:?} NOWAIT: expected LockNotAvailable, got {other:?}"),
        }
        assert_eq!(err.sqlstate(), "55P03");
        assert!(!err.is_retryable());
        assert!(
            matches!(t.get(b"k"), Err(Error::NotActive(_))),
            "the failed transaction refuses further calls"
        );
    }

    // SKIP LOCKED on the same row skips it and leaves the transaction usable.
    let mut skipper = read_committed(&db);
    assert_eq!(
        skipper
            .get_for_update(b"k", LockMode::Exclusive, LockWait::SkipLocked)
            .expect("skip"),
        Locked::Skipped
    );
    assert_eq!(skipper.get(b"k").expect("get"), Some(b"v".to_vec()));
    skipper.commit().expect("commit");

    holder.commit().expect("holder commits");
    let mut after = read_committed(&db);
    assert_eq!(
        after
            .get_for_update(b"k", LockMode::Exclusive, LockWait::NoWait)
            .expect("free row"),
        Locked::Acquired(Some(b"v".to_vec()))
    );
    after.commit().expect("commit");
    assert_eq!(db.lock_table().locked_key_count(), 0);
}

#[test]
fn lock_timeout_fires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_with(
        dir.path(),
        DbOptions {
            lock_timeout: Some(Duration::from_millis(200)),
            ..DbOptions::default()
        },
    );
    let mut holder = read_committed(&db);
    lock_for_update(&mut holder, b"k").expect("lock");

    let mut waiter = read_committed(&db);
    let started = Instant::now();
    let err = waiter
        .get_for_update(b"k", LockMode::Exclusive, LockWait::Block)
        .expect_err("the wait must time out");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2),
        "timed out after {elapsed:?}"
    );
    match &err {
        Error::LockTimeout { key, waited_ms } => {
            assert_eq!(key, b"k");
            assert!(*waited_ms >= 200, "waited_ms = {waited_ms}");
        }
        other => panic!("expected LockTimeout, got {other:?}"),
    }
    assert_eq!(err.sqlstate(), "55P03");
    assert!(matches!(waiter.get(b"k"), Err(Error::NotActive(_))));
    assert!(matches!(
        waiter.put(b"other", b"x"),
        Err(Error::NotActive(_))
    ));
    assert!(matches!(waiter.commit(), Err(Error::NotActive(_))));

    // The holder is unaffected.
    holder.put(b"k", b"holder").expect("holder writes");
    holder.commit().expect("holder commits");
    assert_eq!(committed_value(&db, b"k"), Some(b"holder".to_vec()));
    assert_eq!(db.lock_table().locked_key_count(), 0);
    assert!(db.lock_table().wait_for_edges().is_empty());
}

/// Runs `f` on another thread; its result arrives on the returned channel.
fn in_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// Waits until `waiter` waits for `holder` in the lock table.
fn wait_for_edge(db: &Db, waiter: cairn_mvcc::TxnId, holder: cairn_mvcc::TxnId) {
    let until = Instant::now() + STUCK;
    while !db.lock_table().wait_for_edges().contains(&(waiter, holder)) {
        assert!(
            Instant::now() < until,
            "{waiter} never waited for {holder}: {:?}",
            db.lock_table().wait_for_edges()
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn shared_locks_block_writers_until_release() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let mut setup = read_committed(&db);
    setup.put(b"k", b"v0").expect("put");
    setup.commit().expect("commit");

    // A READ COMMITTED writer waits at its write.
    let mut sharer = read_committed(&db);
    assert_eq!(
        sharer
            .get_for_update(b"k", LockMode::Shared, LockWait::Block)
            .expect("share"),
        Locked::Acquired(Some(b"v0".to_vec()))
    );
    // Shared locks are compatible with each other.
    let mut other_sharer = read_committed(&db);
    assert_eq!(
        other_sharer
            .get_for_update(b"k", LockMode::Shared, LockWait::NoWait)
            .expect("second sharer"),
        Locked::Acquired(Some(b"v0".to_vec()))
    );
    other_sharer.commit().expect("commit");

    let mut writer = read_committed(&db);
    let writer_id = writer.id();
    let wrote = in_thread(move || {
        let r = writer.put(b"k", b"v1");
        let at = Instant::now();
        (r, at, writer)
    });
    wait_for_edge(&db, writer_id, sharer.id());
    thread::sleep(Duration::from_millis(50));
    assert!(
        wrote.try_recv().is_err(),
        "the writer went past a shared lock"
    );
    let released = Instant::now();
    sharer.commit().expect("sharer commits");
    let (r, at, mut writer) = wrote.recv_timeout(STUCK).expect("writer unblocked");
    r.expect("the write proceeds once the shared lock is gone");
    assert!(at >= released);
    writer.commit().expect("writer commits");
    assert_eq!(committed_value(&db, b"k"), Some(b"v1".to_vec()));

    // A SERIALIZABLE writer takes its locks at commit, and waits there.
    let mut sharer = read_committed(&db);
    assert!(matches!(
        sharer
            .get_for_update(b"k", LockMode::Shared, LockWait::Block)
            .expect("share"),
        Locked::Acquired(_)
    ));
    let mut ser = db.begin(IsolationLevel::Serializable).expect("begin");
    let ser_id = ser.id();
    ser.put(b"k", b"v2").expect("buffered write does not wait");
    let committed = in_thread(move || {
        let r = ser.commit();
        (r, Instant::now())
    });
    wait_for_edge(&db, ser_id, sharer.id());
    thread::sleep(Duration::from_millis(50));
    assert!(
        committed.try_recv().is_err(),
        "the SERIALIZABLE commit went past a shared lock"
    );
    let released = Instant::now();
    sharer.commit().expect("sharer commits");
    let (r, at) = committed.recv_timeout(STUCK).expect("commit unblocked");
    r.expect("the SERIALIZABLE commit succeeds once the shared lock is gone");
    assert!(at >= released);
    assert_eq!(committed_value(&db, b"k"), Some(b"v2".to_vec()));
    assert_eq!(db.lock_table().locked_key_count(), 0);
}

/// Locks three keys in `t` (exclusive, shared, and by a write) and checks that the lock table
/// gained three locked keys.
fn take_three_locks(db: &Db, t: &mut Transaction, tag: &str) {
    let keys = [format!("{tag}/x"), format!("{tag}/s"), format!("{tag}/w")];
    let before = db.lock_table().locked_key_count();
    lock_for_update(t, keys[0].as_bytes()).expect("exclusive");
    assert!(matches!(
        t.get_for_update(keys[1].as_bytes(), LockMode::Shared, LockWait::Block)
            .expect("shared"),
        Locked::Acquired(_)
    ));
    t.put(keys[2].as_bytes(), b"w").expect("write");
    assert_eq!(db.lock_table().locked_key_count(), before + 3, "{tag}");
}

/// Every key `tag` locked can be locked exclusively at once by another transaction.
fn assert_free(db: &Db, tag: &str) {
    let mut t = read_committed(db);
    for k in ["x", "s", "w"] {
        let key = format!("{tag}/{k}");
        assert!(
            matches!(
                t.get_for_update(key.as_bytes(), LockMode::Exclusive, LockWait::NoWait),
                Ok(Locked::Acquired(_))
            ),
            "{key} still locked"
        );
    }
    t.rollback();
    assert_eq!(db.lock_table().locked_key_count(), 0, "{tag}");
}

#[test]
fn locks_are_released_on_commit_rollback_and_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    assert_eq!(db.lock_table().locked_key_count(), 0);

    let mut t = read_committed(&db);
    take_three_locks(&db, &mut t, "commit");
    t.commit().expect("commit");
    assert_eq!(db.lock_table().locked_key_count(), 0);
    assert_free(&db, "commit");

    let mut t = read_committed(&db);
    take_three_locks(&db, &mut t, "rollback");
    t.rollback();
    assert_eq!(db.lock_table().locked_key_count(), 0);
    assert_free(&db, "rollback");
    assert_eq!(committed_value(&db, b"rollback/w"), None);

    let mut t = read_committed(&db);
    take_three_locks(&db, &mut t, "drop");
    drop(t);
    assert_eq!(db.lock_table().locked_key_count(), 0);
    assert_free(&db, "drop");
    assert_eq!(committed_value(&db, b"drop/w"), None);

    // A transaction failed by a lock error releases its locks at once, before rollback.
    let mut blocker = read_committed(&db);
    lock_for_update(&mut blocker, b"blocked").expect("lock");
    let mut t = read_committed(&db);
    take_three_locks(&db, &mut t, "failed");
    assert_eq!(db.lock_table().locked_key_count(), 4);
    let err = t
        .get_for_update(b"blocked", LockMode::Exclusive, LockWait::NoWait)
        .expect_err("NOWAIT on a locked row");
    assert!(matches!(err, Error::LockNotAvailable { .. }), "{err:?}");
    assert_eq!(
        db.lock_table().locked_key_count(),
        1,
        "only the blocker's lock"
    );
    blocker.rollback();
    assert_free(&db, "failed");
    drop(t);

    // A SERIALIZABLE writer holds its locks only while committing.
    let mut t = db.begin(IsolationLevel::Serializable).expect("begin");
    t.put(b"ser/a", b"1").expect("put");
    t.put(b"ser/b", b"1").expect("put");
    assert_eq!(db.lock_table().locked_key_count(), 0);
    t.commit().expect("commit");
    assert_eq!(db.lock_table().locked_key_count(), 0);
    assert!(db.lock_table().wait_for_edges().is_empty());
}

//! The embedded `Db` itself: clocks across restarts and skew, limits, reads of one's own
//! writes, early aborts and snapshot moves, read-only transactions, untracked and
//! tracked-without-reading keys.

use std::sync::Arc;

use cairn_env::ManualClock;
use cairn_mvcc::{
    AtomicOp, Db, DbOptions, Error, IsolationLevel, LockMode, LockWait, Locked, ScanOptions,
    Timestamp, TxnOptions,
};

const SEC: u64 = 1_000_000_000;

fn opts(clock: Option<Arc<ManualClock>>) -> DbOptions {
    let mut o = DbOptions {
        sync_commits: false,
        ..DbOptions::default()
    };
    if let Some(c) = clock {
        o.clock = c;
    }
    o
}

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(None)).unwrap();
    (dir, db)
}

fn put(db: &Db, k: &[u8], v: &[u8]) -> Timestamp {
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    t.put(k, v).unwrap();
    t.commit().unwrap().commit_ts.unwrap()
}

#[test]
fn reopen_keeps_clock_ahead_when_wall_clock_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000 * SEC));
    let db = Db::open(dir.path(), opts(Some(clock.clone()))).unwrap();
    let first = put(&db, b"k", b"old");
    db.close().unwrap();
    // The machine comes back with its clock 900 s behind.
    clock.set(100 * SEC);
    let db = Db::open(dir.path(), opts(Some(clock.clone()))).unwrap();
    let second = put(&db, b"k", b"new");
    assert!(second > first, "{second} <= {first}");
    assert_eq!(db.snapshot().unwrap().get(b"k").unwrap().unwrap(), b"new");
    assert_eq!(db.stored_versions(b"k").unwrap(), vec![second, first]);
}

#[test]
fn remote_clock_too_far_ahead_is_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000 * SEC));
    let db = Db::open(dir.path(), opts(Some(clock.clone()))).unwrap();
    let far = Timestamp::new(1_000 * SEC + 600_000_000, 0);
    let err = db.hlc().update(far).unwrap_err();
    assert_eq!(err.max_offset_nanos, 500_000_000);
    assert_eq!(db.hlc().refused_count(), 1);
    // A read at such a timestamp is refused the same way.
    let e = db
        .begin_with(TxnOptions {
            read_ts: Some(far),
            ..TxnOptions::default()
        })
        .err()
        .unwrap();
    assert!(matches!(e, Error::ClockOffset(_)), "{e:?}");
    // Within the offset it is accepted and later commits are above it.
    let near = Timestamp::new(1_000 * SEC + 400_000_000, 0);
    db.hlc().update(near).unwrap();
    assert!(put(&db, b"k", b"v") > near);
}

#[test]
fn read_meeting_uncertain_version_restarts_above_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000 * SEC));
    let db = Db::open(dir.path(), opts(Some(clock.clone()))).unwrap();
    put(&db, b"k", b"v1");
    clock.advance(SEC);
    let written = put(&db, b"k", b"v2");
    // A coordinator whose clock lags 100 ms picks a read timestamp below the write, which may
    // nonetheless have happened before the read began in real time.
    let read_ts = written.sub_nanos(100_000_000);
    let limit = read_ts.add_nanos(500_000_000);
    let opts = TxnOptions {
        read_ts: Some(read_ts),
        uncertainty_limit: Some(limit),
        ..TxnOptions::default()
    };
    let mut t = db.begin_with(opts.clone()).unwrap();
    match t.get(b"k") {
        Err(e @ Error::Uncertain { .. }) => {
            assert!(e.is_retryable());
            assert_eq!(e.sqlstate(), "40001");
        }
        other => panic!("expected an uncertainty restart, got {other:?}"),
    }
    drop(t);
    // The retry loop restarts at the uncertain value's timestamp and sees it.
    let seen = db.transaction_with(opts, |t| t.get(b"k")).unwrap();
    assert_eq!(seen.unwrap(), b"v2");
    // Without an uncertainty window the old value is read, no restart.
    let mut t = db
        .begin_with(TxnOptions {
            read_ts: Some(read_ts),
            ..TxnOptions::default()
        })
        .unwrap();
    assert_eq!(t.get(b"k").unwrap().unwrap(), b"v1");
}

#[test]
fn limits_are_typed_errors_that_leave_the_transaction_usable() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        DbOptions {
            write_set_bytes_max: 1_000,
            ..opts(None)
        },
    )
    .unwrap();
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    let big_key = vec![b'k'; 10 * 1024 + 1];
    assert!(matches!(
        t.put(&big_key, b"v"),
        Err(Error::KeyTooLarge {
            len: 10241,
            max: 10240
        })
    ));
    assert!(matches!(t.get(&big_key), Err(Error::KeyTooLarge { .. })));
    let big_value = vec![0u8; 100 * 1024 + 1];
    let e = t.put(b"k", &big_value).unwrap_err();
    assert!(matches!(e, Error::ValueTooLarge { max: 102400, .. }));
    assert_eq!(e.sqlstate(), "54000");
    t.put(b"a", &[1u8; 600]).unwrap();
    assert!(matches!(
        t.put(b"b", &[1u8; 600]),
        Err(Error::TxnTooLarge { max: 1000, .. })
    ));
    // Replacing a value counts its new size, not both.
    t.put(b"a", &[2u8; 900]).unwrap();
    t.commit().unwrap();
    assert_eq!(
        db.snapshot().unwrap().get(b"a").unwrap().unwrap(),
        vec![2u8; 900]
    );
}

#[test]
fn value_limit_is_configurable_up_to_16_mib() {
    let dir = tempfile::tempdir().unwrap();
    let too_big = Db::open(
        dir.path(),
        DbOptions {
            value_bytes_max: (16 << 20) + 1,
            ..opts(None)
        },
    );
    assert!(matches!(too_big, Err(Error::InvalidArgument(_))));
    let db = Db::open(
        dir.path(),
        DbOptions {
            value_bytes_max: 16 << 20,
            write_set_bytes_max: 32 << 20,
            ..opts(None)
        },
    )
    .unwrap();
    let v = vec![7u8; 16 << 20];
    db.transaction(|t| t.put(b"big", &v)).unwrap();
    assert_eq!(
        db.snapshot().unwrap().get(b"big").unwrap().unwrap().len(),
        16 << 20
    );
}

#[test]
fn transaction_reads_its_own_writes_in_gets_and_scans() {
    let (_d, db) = open();
    db.transaction(|t| {
        for k in [&b"a"[..], b"b", b"c", b"d"] {
            t.put(k, k)?;
        }
        Ok(())
    })
    .unwrap();
    let mut t = db.begin(IsolationLevel::Snapshot).unwrap();
    t.delete(b"b").unwrap();
    t.put(b"bb", b"new").unwrap();
    t.put(b"c", b"C").unwrap();
    t.atomic_op(b"n", AtomicOp::Add, &5u64.to_le_bytes())
        .unwrap();
    t.atomic_op(b"n", AtomicOp::Add, &2u64.to_le_bytes())
        .unwrap();
    assert_eq!(t.get(b"b").unwrap(), None);
    assert_eq!(t.get(b"c").unwrap().unwrap(), b"C");
    assert_eq!(t.get(b"n").unwrap().unwrap(), 7u64.to_le_bytes());
    let keys = |rows: Vec<(Vec<u8>, Vec<u8>)>| rows.into_iter().map(|r| r.0).collect::<Vec<_>>();
    let all = t.scan(b"", None, ScanOptions::default()).unwrap();
    assert_eq!(
        keys(all),
        vec![
            b"a".to_vec(),
            b"bb".to_vec(),
            b"c".to_vec(),
            b"d".to_vec(),
            b"n".to_vec()
        ]
    );
    let two = t
        .scan(
            b"a",
            Some(b"d"),
            ScanOptions {
                limit: 2,
                reverse: false,
            },
        )
        .unwrap();
    assert_eq!(
        two,
        vec![
            (b"a".to_vec(), b"a".to_vec()),
            (b"bb".to_vec(), b"new".to_vec())
        ]
    );
    let back = t
        .scan(
            b"a",
            Some(b"d"),
            ScanOptions {
                limit: 2,
                reverse: true,
            },
        )
        .unwrap();
    assert_eq!(
        back,
        vec![
            (b"c".to_vec(), b"C".to_vec()),
            (b"bb".to_vec(), b"new".to_vec())
        ]
    );
    // Nobody else sees any of it before commit.
    assert_eq!(db.snapshot().unwrap().get(b"b").unwrap().unwrap(), b"b");
    t.commit().unwrap();
    let mut s = db.snapshot().unwrap();
    assert_eq!(s.get(b"b").unwrap(), None);
    assert_eq!(s.get(b"n").unwrap().unwrap(), 7u64.to_le_bytes());
}

#[test]
fn write_after_a_read_fails_early_when_key_changed_since_snapshot() {
    let (_d, db) = open();
    put(&db, b"k", b"0");
    let mut t = db.begin(IsolationLevel::Snapshot).unwrap();
    assert_eq!(t.get(b"other").unwrap(), None);
    put(&db, b"k", b"1");
    let e = t.put(b"k", b"2").unwrap_err();
    assert!(matches!(e, Error::WriteConflict { .. }), "{e:?}");
    assert!(e.is_retryable());
    // The transaction is over: later calls say so.
    assert!(matches!(t.get(b"k"), Err(Error::NotActive(_))));
    assert_eq!(db.stats().write_conflicts, 1);
}

#[test]
fn blind_writer_moves_its_snapshot_instead_of_aborting() {
    let (_d, db) = open();
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    let before = t.read_ts();
    let other = put(&db, b"k", b"theirs");
    t.put(b"k", b"mine").unwrap();
    assert!(t.read_ts() >= other && t.read_ts() > before);
    t.commit().unwrap();
    assert_eq!(db.snapshot().unwrap().get(b"k").unwrap().unwrap(), b"mine");
    // But not when a key it already wrote changed meanwhile (first committer wins).
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    t.put(b"x", b"mine").unwrap();
    put(&db, b"x", b"theirs");
    put(&db, b"y", b"theirs");
    assert!(matches!(
        t.put(b"y", b"mine"),
        Err(Error::WriteConflict { .. })
    ));
}

/// SERIALIZABLE: a row lock or write of a key with a commit newer than the snapshot moves
/// the snapshot past that commit when nothing the transaction read, scanned or wrote
/// changed meanwhile (a read refresh), and is a conflict otherwise. `start_ts` stays.
#[test]
fn serializable_snapshot_moves_past_a_newer_commit_when_its_reads_still_hold() {
    let (_d, db) = open();
    put(&db, b"a", b"0");
    put(&db, b"b", b"0");
    let lock = |t: &mut cairn_mvcc::Transaction, k: &[u8]| {
        t.get_for_update(k, LockMode::Exclusive, LockWait::Block)
    };

    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    let start = t.read_ts();
    assert_eq!(t.get(b"a").unwrap().unwrap(), b"0");
    assert_eq!(
        t.scan(b"c", Some(b"d"), ScanOptions::default()).unwrap(),
        vec![]
    );
    let theirs = put(&db, b"b", b"1");
    // The lock comes before the read of b: b is read at the moved snapshot.
    assert_eq!(
        lock(&mut t, b"b").unwrap(),
        Locked::Acquired(Some(b"1".to_vec()))
    );
    assert!(t.read_ts() >= theirs, "{:?} < {theirs:?}", t.read_ts());
    assert_eq!(t.start_ts(), start);
    t.put(b"b", b"2").unwrap();
    t.commit().expect("nothing read changed");
    assert_eq!(db.stats().snapshot_moves, 1);
    assert_eq!(db.snapshot().unwrap().get(b"b").unwrap().unwrap(), b"2");

    // A key read, a key read before being locked, a range scanned, a key written: each one
    // changed keeps the snapshot where it is.
    type Setup = fn(&mut cairn_mvcc::Transaction, &Db);
    let cases: [(&str, Setup); 4] = [
        ("read", |t, db| {
            t.get(b"a").unwrap();
            put(db, b"a", b"x");
        }),
        ("locked key read first", |t, _| {
            t.get(b"b").unwrap();
        }),
        ("scanned", |t, db| {
            t.scan(b"c", Some(b"d"), ScanOptions::default()).unwrap();
            put(db, b"c1", b"x");
        }),
        ("written", |t, db| {
            t.put(b"w", b"mine").unwrap();
            put(db, b"w", b"theirs");
        }),
    ];
    for (what, setup) in cases {
        let mut t = db.begin(IsolationLevel::Serializable).unwrap();
        setup(&mut t, &db);
        put(&db, b"b", what.as_bytes());
        let e = lock(&mut t, b"b").unwrap_err();
        assert!(matches!(e, Error::WriteConflict { .. }), "{what}: {e:?}");
    }
    assert_eq!(db.stats().snapshot_moves, 1);

    // SNAPSHOT records no reads: after one it cannot move.
    let mut t = db.begin(IsolationLevel::Snapshot).unwrap();
    t.get(b"a").unwrap();
    put(&db, b"b", b"y");
    let e = lock(&mut t, b"b").unwrap_err();
    assert!(matches!(e, Error::WriteConflict { .. }), "{e:?}");
}

/// `get_untracked` reads at the snapshot but a later change of its key does not fail a
/// SERIALIZABLE commit; `track_read` makes a key's later change fail it without reading it.
/// Both pin the snapshot, so a blind write afterwards no longer moves it.
#[test]
fn untracked_reads_do_not_conflict_and_tracked_keys_do() {
    let (_d, db) = open();
    put(&db, b"version", b"1");
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    assert_eq!(t.get_untracked(b"version").unwrap().unwrap(), b"1");
    put(&db, b"version", b"2");
    // Still the snapshot's value.
    assert_eq!(t.get_untracked(b"version").unwrap().unwrap(), b"1");
    t.put(b"row", b"x").unwrap();
    t.commit()
        .expect("an untracked key's change is no conflict");

    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    t.track_read(b"descriptor").unwrap();
    put(&db, b"descriptor", b"changed");
    t.put(b"row", b"y").unwrap();
    let e = t.commit().unwrap_err();
    assert!(matches!(e, Error::ReadConflict { .. }), "{e:?}");

    // A tracked key that changed keeps the snapshot from moving past a newer commit of a
    // key written; at SNAPSHOT, which tracks nothing, any read does.
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    t.track_read(b"descriptor").unwrap();
    put(&db, b"descriptor", b"changed twice");
    put(&db, b"row", b"theirs");
    let e = t.put(b"row", b"mine").unwrap_err();
    assert!(matches!(e, Error::WriteConflict { .. }), "{e:?}");
    for untracked in [false, true] {
        let mut t = db.begin(IsolationLevel::Snapshot).unwrap();
        if untracked {
            t.get_untracked(b"version").unwrap();
        } else {
            t.track_read(b"descriptor").unwrap();
        }
        put(&db, b"row", b"theirs");
        let e = t.put(b"row", b"mine").unwrap_err();
        assert!(matches!(e, Error::WriteConflict { .. }), "{e:?}");
    }

    // The control: without track_read the same history commits.
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    t.get_untracked(b"version").unwrap();
    put(&db, b"descriptor", b"changed again");
    t.put(b"row", b"z").unwrap();
    t.commit().expect("no tracked key changed");
}

#[test]
fn read_only_transactions_refuse_writes_and_commit_without_a_timestamp() {
    let (_d, db) = open();
    put(&db, b"k", b"v");
    let mut s = db.snapshot().unwrap();
    assert!(matches!(s.put(b"k", b"w"), Err(Error::InvalidArgument(_))));
    // A concurrent write does not disturb it or its commit.
    put(&db, b"k", b"w");
    assert_eq!(s.get(b"k").unwrap().unwrap(), b"v");
    assert_eq!(s.commit().unwrap().commit_ts, None);
}

#[test]
fn read_committed_sees_each_statement_fresh() {
    let (_d, db) = open();
    put(&db, b"k", b"1");
    let mut t = db.begin(IsolationLevel::ReadCommitted).unwrap();
    assert_eq!(t.get(b"k").unwrap().unwrap(), b"1");
    put(&db, b"k", b"2");
    assert_eq!(t.get(b"k").unwrap().unwrap(), b"2");
    let mut s = db.begin(IsolationLevel::Snapshot).unwrap();
    assert_eq!(s.get(b"k").unwrap().unwrap(), b"2");
    put(&db, b"k", b"3");
    assert_eq!(s.get(b"k").unwrap().unwrap(), b"2");
}

#[test]
fn commit_is_visible_to_transactions_begun_after_it_returns() {
    let (_d, db) = open();
    std::thread::scope(|s| {
        for w in 0..2u8 {
            let db = db.clone();
            s.spawn(move || {
                for i in 0..300u32 {
                    let key = [b'w', w];
                    let val = i.to_le_bytes();
                    db.transaction(|t| t.put(&key, &val)).unwrap();
                    let mut r = db.begin(IsolationLevel::Serializable).unwrap();
                    assert_eq!(r.get(&key).unwrap().unwrap(), val, "writer {w} op {i}");
                }
            });
        }
    });
}

#[test]
fn durable_commit_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    db.transaction(|t| {
        t.put(b"a", b"1")?;
        t.atomic_op(b"c", AtomicOp::Add, &[1])
    })
    .unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let mut s = db.snapshot().unwrap();
    assert_eq!(s.get(b"a").unwrap().unwrap(), b"1");
    assert_eq!(s.get(b"c").unwrap().unwrap(), [1]);
}

#[test]
fn conflicting_retries_wait_for_the_commit_they_lost_to_instead_of_spinning() {
    let dir = tempfile::tempdir().unwrap();
    // fsync'd commits keep each commit in flight long enough for the other thread to meet it.
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    const OPS: u64 = 300;
    std::thread::scope(|s| {
        for _ in 0..2 {
            let db = db.clone();
            s.spawn(move || {
                for _ in 0..OPS {
                    // Retried at once, without back-off, as a benchmark client does.
                    loop {
                        let mut t = db.begin(IsolationLevel::Serializable).unwrap();
                        let attempt = t.get(b"counter").and_then(|v| {
                            let mut n = [0u8; 8];
                            n.iter_mut()
                                .zip(&v.unwrap_or_default())
                                .for_each(|(d, s)| *d = *s);
                            t.put(b"counter", &(u64::from_le_bytes(n) + 1).to_le_bytes())?;
                            t.commit()
                        });
                        match attempt {
                            Ok(_) => break,
                            Err(e) if e.is_retryable() => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let v = db.snapshot().unwrap().get(b"counter").unwrap().unwrap();
    assert_eq!(v, (2 * OPS).to_le_bytes());
    let stats = db.stats();
    // A conflict is with one commit, which the failed transaction waits for before its
    // caller retries; so there are at most about as many conflicts as commits. Retrying
    // while that commit is still in flight would fail again and again.
    assert!(
        stats.write_conflicts + stats.read_conflicts <= 2 * OPS,
        "{stats:?}"
    );
}

#[test]
fn rollback_to_savepoint_restores_writes_and_keeps_the_savepoint() {
    let (_dir, db) = open();
    put(&db, b"a", b"committed");
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    t.put(b"a", b"before").unwrap();
    let bytes_before = t.write_set_bytes();
    let sp = t.savepoint().unwrap();
    t.put(b"a", b"after").unwrap();
    t.put(b"b", b"new").unwrap();
    t.delete(b"a").unwrap();
    t.atomic_op(b"c", AtomicOp::Add, &1u64.to_le_bytes())
        .unwrap();
    t.rollback_to_savepoint(sp).unwrap();
    assert_eq!(t.get(b"a").unwrap().unwrap(), b"before");
    assert_eq!(t.get(b"b").unwrap(), None);
    assert_eq!(t.write_set_bytes(), bytes_before);
    // The savepoint is still open: roll back to it a second time.
    t.put(b"b", b"again").unwrap();
    t.rollback_to_savepoint(sp).unwrap();
    assert_eq!(t.get(b"b").unwrap(), None);
    t.commit().unwrap();
    let mut r = db.snapshot().unwrap();
    assert_eq!(r.get(b"a").unwrap().unwrap(), b"before");
    assert_eq!(r.get(b"b").unwrap(), None);
    assert_eq!(r.get(b"c").unwrap(), None);
}

#[test]
fn nested_savepoints_release_into_their_parent() {
    let (_dir, db) = open();
    let mut t = db.begin(IsolationLevel::Serializable).unwrap();
    t.put(b"k", b"0").unwrap();
    let outer = t.savepoint().unwrap();
    t.put(b"k", b"1").unwrap();
    let inner = t.savepoint().unwrap();
    t.put(b"k", b"2").unwrap();
    t.put(b"j", b"2").unwrap();
    // Released: its writes now belong to `outer`.
    t.release_savepoint(inner).unwrap();
    assert_eq!(t.savepoint_depth(), 1);
    assert!(t.rollback_to_savepoint(inner).is_err());
    assert_eq!(t.get(b"k").unwrap().unwrap(), b"2");
    t.rollback_to_savepoint(outer).unwrap();
    assert_eq!(t.get(b"k").unwrap().unwrap(), b"0");
    assert_eq!(t.get(b"j").unwrap(), None);
    // Rolling back to an outer savepoint closes the inner ones.
    let inner = t.savepoint().unwrap();
    t.put(b"k", b"3").unwrap();
    let innermost = t.savepoint().unwrap();
    t.put(b"k", b"4").unwrap();
    t.rollback_to_savepoint(outer).unwrap();
    assert_eq!(t.savepoint_depth(), 1);
    assert!(t.rollback_to_savepoint(inner).is_err());
    assert!(t.release_savepoint(innermost).is_err());
    assert_eq!(t.get(b"k").unwrap().unwrap(), b"0");
    t.commit().unwrap();
    assert_eq!(db.snapshot().unwrap().get(b"k").unwrap().unwrap(), b"0");
}

#[test]
fn savepoints_match_a_model_of_the_write_set() {
    use rand::{Rng, SeedableRng};
    for seed in 0..50u64 {
        let (_dir, db) = open();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut t = db.begin(IsolationLevel::Snapshot).unwrap();
        // The model: the visible write set, and a copy of it per open savepoint.
        let mut model: std::collections::BTreeMap<u8, Option<u8>> = Default::default();
        let mut stack: Vec<std::collections::BTreeMap<u8, Option<u8>>> = Vec::new();
        for _ in 0..200 {
            let key = rng.gen_range(0..8u8);
            match rng.gen_range(0..10) {
                0..=3 => {
                    let v = rng.gen::<u8>();
                    t.put(&[key], &[v]).unwrap();
                    model.insert(key, Some(v));
                }
                4 => {
                    t.delete(&[key]).unwrap();
                    model.insert(key, None);
                }
                5 | 6 => {
                    let sp = t.savepoint().unwrap();
                    assert_eq!(sp.0, stack.len());
                    stack.push(model.clone());
                }
                7 if !stack.is_empty() => {
                    let i = rng.gen_range(0..stack.len());
                    t.rollback_to_savepoint(cairn_mvcc::SavepointId(i)).unwrap();
                    stack.truncate(i + 1);
                    model = stack[i].clone();
                }
                8 if !stack.is_empty() => {
                    let i = rng.gen_range(0..stack.len());
                    t.release_savepoint(cairn_mvcc::SavepointId(i)).unwrap();
                    stack.truncate(i);
                }
                _ => {}
            }
            for k in 0..8u8 {
                let want = model.get(&k).copied().flatten();
                let got = t.get(&[k]).unwrap();
                assert_eq!(got, want.map(|v| vec![v]), "seed {seed} key {k}");
            }
        }
        let expected_bytes: u64 = model.values().map(|v| 1 + u64::from(v.is_some())).sum();
        assert_eq!(t.write_set_bytes(), expected_bytes, "seed {seed}");
        t.commit().unwrap();
        let mut r = db.snapshot().unwrap();
        for k in 0..8u8 {
            let want = model.get(&k).copied().flatten();
            assert_eq!(r.get(&[k]).unwrap(), want.map(|v| vec![v]), "seed {seed}");
        }
    }
}

#[test]
fn savepoints_refuse_use_after_the_transaction_fails() {
    let (_dir, db) = open();
    put(&db, b"k", b"0");
    let mut t = db.begin(IsolationLevel::Snapshot).unwrap();
    let sp = t.savepoint().unwrap();
    // A read pins the snapshot; a newer commit then makes the write conflict.
    t.get(b"k").unwrap();
    put(&db, b"k", b"1");
    assert!(matches!(
        t.put(b"k", b"2"),
        Err(Error::WriteConflict { .. })
    ));
    assert!(matches!(
        t.rollback_to_savepoint(sp),
        Err(Error::NotActive(_))
    ));
}

//! Garbage collection of old versions, counted in the storage engine: a live reader pins the
//! versions it sees, shadowed versions go once no reader or history window needs them, deleted
//! keys disappear entirely at the bottom level, reads below the GC threshold are refused, and
//! `AS OF` reads inside the history window still see old values after compaction.
//!
//! Each scenario runs twice: with `Db::compact_all` on a fresh database (whose data would
//! reach the bottom by trivial moves alone, were `compact_all` not to turn them off and
//! rewrite the bottom level under a compaction filter), and in the `_in_merging_compactions`
//! variants, which first write keys below and above every test key so that compactions must
//! merge every file with them.

use std::path::Path;
use std::time::Duration;

use cairn_mvcc::{Db, DbOptions, Error, IsolationLevel, ScanOptions, Timestamp, Transaction};

fn open(dir: &Path, gc_history: Duration) -> Db {
    Db::open(
        dir,
        DbOptions {
            sync_commits: false,
            gc_history,
            ..DbOptions::default()
        },
    )
    .expect("open db")
}

/// How a test compacts.
#[derive(Clone, Copy, Debug)]
enum Compaction {
    /// `Db::compact_all` and nothing else.
    Plain,
    /// `Db::compact_all` after writing keys below and above every test key, twice: the first
    /// round leaves a bottom-level file spanning the whole key space, the second makes a file
    /// that overlaps all of it, so every stored version goes through a bottommost merge.
    Merging,
}

/// Keys outside every test key's range (test keys are printable ASCII).
const LOW: &[u8] = b"\x01";
const HIGH: &[u8] = b"\xfe\xfe";

fn compact(db: &Db, how: Compaction) {
    if let Compaction::Merging = how {
        for _ in 0..2 {
            let mut t = db.begin(IsolationLevel::ReadCommitted).expect("begin");
            t.put(LOW, b"span").expect("put low");
            t.put(HIGH, b"span").expect("put high");
            t.commit().expect("commit span");
            drop(t);
            db.compact_all().expect("compact");
        }
    } else {
        db.compact_all().expect("compact");
    }
}

/// Writes `value` to `key` in its own transaction; returns the commit timestamp.
fn write(db: &Db, key: &[u8], value: &[u8]) -> Timestamp {
    let mut t = db.begin(IsolationLevel::Serializable).expect("begin");
    t.put(key, value).expect("put");
    t.commit()
        .expect("commit")
        .commit_ts
        .expect("a write has a commit timestamp")
}

fn read(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
    db.snapshot().expect("snapshot").get(key).expect("get")
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}").into_bytes()
}

/// Ten commits to `k`; a reader opened after the third. Returns the commit timestamps (oldest
/// first) and the reader.
fn ten_versions_with_reader_after_third(db: &Db) -> (Vec<Timestamp>, Transaction) {
    let mut commits = Vec::new();
    let mut reader = None;
    for i in 1..=10 {
        commits.push(write(db, b"k", &value(i)));
        if i == 3 {
            reader = Some(db.snapshot().expect("reader"));
        }
    }
    (commits, reader.expect("reader opened"))
}

fn keeps_versions_pinned_by_a_long_reader(how: Compaction) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path(), Duration::ZERO);
    let (commits, mut reader) = ten_versions_with_reader_after_third(&db);
    let pinned = reader.read_ts();
    assert!(commits[2] <= pinned && pinned < commits[3]);

    compact(&db, how);
    let gc = db.stats().gc;
    assert!(
        gc.threshold <= pinned,
        "threshold {} passed the reader at {pinned}",
        gc.threshold
    );
    assert_eq!(gc.active_readers, 1);

    let stored = db.stored_versions(b"k").expect("stored versions");
    // What the reader sees, and everything newer, is still in the engine.
    for (i, ts) in commits.iter().enumerate().skip(2) {
        assert!(
            stored.contains(ts),
            "version {} at {ts} is gone while a reader at {pinned} lives; stored: {stored:?}",
            i + 1
        );
    }
    assert_eq!(
        reader.get(b"k").expect("reader get"),
        Some(value(3)),
        "the reader still sees the third value"
    );
    assert_eq!(
        reader
            .scan(b"a", Some(b"z"), ScanOptions::default())
            .expect("reader scan"),
        vec![(b"k".to_vec(), value(3))]
    );
    assert_eq!(read(&db, b"k"), Some(value(10)));

    // The two versions older than the one the reader sees are shadowed for every reader; with
    // no history window GC drops them, and nothing else.
    assert_eq!(
        stored,
        commits[2..].iter().rev().copied().collect::<Vec<_>>(),
        "stored versions (newest first) should be exactly the third to the tenth commit"
    );
    assert!(gc.versions_removed >= 2);
    drop(reader);
}

#[test]
fn gc_keeps_versions_pinned_by_a_long_reader() {
    keeps_versions_pinned_by_a_long_reader(Compaction::Plain);
}

#[test]
fn gc_keeps_versions_pinned_by_a_long_reader_in_merging_compactions() {
    keeps_versions_pinned_by_a_long_reader(Compaction::Merging);
}

fn removes_shadowed_versions_after_reader_ends(how: Compaction) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path(), Duration::ZERO);
    let (commits, reader) = ten_versions_with_reader_after_third(&db);
    compact(&db, how);
    drop(reader);
    assert_eq!(db.stats().gc.active_readers, 0);

    compact(&db, how);
    let stored = db.stored_versions(b"k").expect("stored versions");
    assert_eq!(
        stored,
        vec![commits[9]],
        "only the newest version of k should be left"
    );
    assert!(db.stats().gc.versions_removed >= 9);
    assert_eq!(read(&db, b"k"), Some(value(10)));

    // Many keys, five versions each, one transaction per round.
    const KEYS: usize = 200;
    const ROUNDS: usize = 5;
    let key = |i: usize| format!("many/{i:04}").into_bytes();
    let removed_before = db.stats().gc.versions_removed;
    for round in 0..ROUNDS {
        let mut t = db.begin(IsolationLevel::Serializable).expect("begin");
        for i in 0..KEYS {
            t.put(&key(i), format!("{i}@{round}").as_bytes())
                .expect("put");
        }
        t.commit().expect("commit");
    }
    for i in 0..KEYS {
        assert_eq!(db.stored_versions(&key(i)).expect("stored").len(), ROUNDS);
    }
    compact(&db, how);
    for i in 0..KEYS {
        let stored = db.stored_versions(&key(i)).expect("stored");
        assert_eq!(
            stored.len(),
            1,
            "key {i}: {} versions left after compaction",
            stored.len()
        );
    }
    let removed = db.stats().gc.versions_removed - removed_before;
    assert!(
        removed >= (KEYS * (ROUNDS - 1)) as u64,
        "only {removed} versions counted as removed"
    );
    let rows = db
        .snapshot()
        .expect("snapshot")
        .scan(b"many/", Some(b"many0"), ScanOptions::default())
        .expect("scan");
    assert_eq!(rows.len(), KEYS);
    for (i, (k, v)) in rows.into_iter().enumerate() {
        assert_eq!(k, key(i));
        assert_eq!(v, format!("{i}@{}", ROUNDS - 1).into_bytes());
    }
    assert_eq!(read(&db, b"k"), Some(value(10)));
}

#[test]
fn gc_removes_shadowed_versions_after_reader_ends() {
    removes_shadowed_versions_after_reader_ends(Compaction::Plain);
}

#[test]
fn gc_removes_shadowed_versions_after_reader_ends_in_merging_compactions() {
    removes_shadowed_versions_after_reader_ends(Compaction::Merging);
}

fn drops_deleted_keys_entirely_at_the_bottom(how: Compaction) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path(), Duration::ZERO);
    const KEYS: usize = 50;
    let key = |i: usize| format!("gone/{i:03}").into_bytes();
    for round in 0..2 {
        let mut t = db.begin(IsolationLevel::Serializable).expect("begin");
        for i in 0..KEYS {
            t.put(&key(i), format!("{i}@{round}").as_bytes())
                .expect("put");
        }
        t.commit().expect("commit");
    }
    let while_present = db.now();
    let mut t = db.begin(IsolationLevel::Serializable).expect("begin");
    for i in 0..KEYS {
        t.delete(&key(i)).expect("delete");
    }
    t.commit().expect("commit deletes");
    drop(t);
    write(&db, b"kept", b"yes");
    assert_eq!(db.stored_versions(&key(0)).expect("stored").len(), 3);

    compact(&db, how);
    for i in 0..KEYS {
        let stored = db.stored_versions(&key(i)).expect("stored");
        assert!(
            stored.is_empty(),
            "deleted key {i} still has versions {stored:?}"
        );
        assert_eq!(read(&db, &key(i)), None);
    }
    let gc = db.stats().gc;
    assert!(gc.tombstones_removed >= KEYS as u64, "{gc:?}");
    assert!(gc.versions_removed >= 2 * KEYS as u64, "{gc:?}");
    let mut s = db.snapshot().expect("snapshot");
    assert!(s
        .scan(b"gone/", Some(b"gone0"), ScanOptions::default())
        .expect("scan")
        .is_empty());
    assert_eq!(s.get(b"kept").expect("get"), Some(b"yes".to_vec()));
    assert_eq!(db.stored_versions(b"kept").expect("stored").len(), 1);

    let err = match db.snapshot_at(while_present) {
        Ok(_) => panic!(
            "a read at {while_present} below the GC threshold {} was allowed",
            db.stats().gc.threshold
        ),
        Err(e) => e,
    };
    match &err {
        Error::TimestampTooOld {
            requested,
            threshold,
        } => {
            assert_eq!(*requested, while_present);
            assert!(*threshold > while_present);
        }
        other => panic!("expected TimestampTooOld, got {other:?}"),
    }
    assert_eq!(err.sqlstate(), "22023");
    assert!(!err.is_retryable());
}

#[test]
fn gc_drops_deleted_keys_entirely_at_the_bottom() {
    drops_deleted_keys_entirely_at_the_bottom(Compaction::Plain);
}

#[test]
fn gc_drops_deleted_keys_entirely_at_the_bottom_in_merging_compactions() {
    drops_deleted_keys_entirely_at_the_bottom(Compaction::Merging);
}

#[test]
fn as_of_reads_within_history_see_old_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path(), Duration::from_secs(60));
    let v1 = write(&db, b"k", b"v1");
    let recorded = db.now();
    assert!(recorded >= v1);
    let v2 = write(&db, b"k", b"v2");
    write(&db, b"other", b"x");
    for how in [Compaction::Plain, Compaction::Merging] {
        compact(&db, how);
        assert!(db.stats().gc.threshold <= recorded, "{how:?}");
        let mut past = db
            .snapshot_at(recorded)
            .expect("AS OF inside the history window");
        assert_eq!(
            past.get(b"k").expect("get"),
            Some(b"v1".to_vec()),
            "{how:?}"
        );
        assert_eq!(past.get(b"other").expect("get"), None, "{how:?}");
        assert_eq!(read(&db, b"k"), Some(b"v2".to_vec()));
        assert_eq!(db.stored_versions(b"k").expect("stored"), vec![v2, v1]);
    }
    assert_eq!(db.stats().gc.versions_removed, 0);
}

/// A transaction that has committed is over; it should not hold GC back until the object is
/// dropped.
#[test]
fn finished_transactions_no_longer_pin_gc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path(), Duration::ZERO);
    let mut committed = db.begin(IsolationLevel::Serializable).expect("begin");
    committed.put(b"x", b"1").expect("put");
    committed.commit().expect("commit");
    let mut rolled_back = db.begin(IsolationLevel::Serializable).expect("begin");
    rolled_back.rollback();
    assert_eq!(
        db.stats().gc.active_readers,
        0,
        "finished transactions still count as GC readers"
    );
    drop((committed, rolled_back));
}

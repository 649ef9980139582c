//! Behaviour of the whole engine: concurrency, background work, snapshots, range deletes,
//! compaction filter, ingestion, checkpoints, recovery and corruption on open.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cairn_lsm::sst::{TableBuilder, TableBuilderOptions};
use cairn_lsm::{
    ikey, CompactionContext, CompactionFilter, CompactionFilterFactory, Db, Decision, Error,
    Options, ReadOptions, Visit, WriteOptions,
};

use crate::model::tiny_options;

fn key(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

fn count_keys(db: &Db) -> usize {
    let mut it = db.iter(ReadOptions::default()).expect("iter");
    it.seek_to_first().expect("seek");
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next().expect("next");
    }
    n
}

#[test]
fn concurrent_writers_share_groups_and_readers_see_acknowledged_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), tiny_options()).expect("open");
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..500u64 {
                    let k = key(t * 1000 + i);
                    db.put(&k, &k, &WriteOptions { sync: i % 50 == 0 })
                        .expect("put");
                    // Acknowledged means visible.
                    assert_eq!(
                        db.get(&k, &ReadOptions::default()).expect("get"),
                        Some(k.clone())
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    db.wait_for_compactions().expect("settle");
    assert_eq!(count_keys(&db), 2000);
    let s = db.stats();
    assert_eq!(s.writes, 2000);
    assert!(s.write_groups <= s.writes);
    assert!(s.flushes > 0, "tiny memtables must have flushed: {s:?}");
    assert!(
        s.compactions + s.trivial_moves > 0,
        "compactions must have run: {s:?}"
    );
    assert!(
        s.levels[0].file_count < 8,
        "L0 kept small by compaction: {s:?}"
    );
}

#[test]
fn snapshot_keeps_old_versions_through_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), tiny_options()).expect("open");
    let wo = WriteOptions::default();
    for i in 0..200 {
        db.put(&key(i), b"old", &wo).expect("put");
    }
    let snap = db.snapshot();
    for i in 0..200 {
        db.put(&key(i), b"new", &wo).expect("put");
    }
    db.delete_range(&key(50), &key(150), &wo)
        .expect("delete_range");
    db.compact_all().expect("compact");
    let at = ReadOptions {
        snapshot: Some(snap.seqno()),
        ..ReadOptions::default()
    };
    for i in [0, 60, 149, 199] {
        assert_eq!(
            db.get(&key(i), &at).expect("get").as_deref(),
            Some(&b"old"[..])
        );
    }
    assert_eq!(
        db.get(&key(60), &ReadOptions::default()).expect("get"),
        None
    );
    assert_eq!(
        db.get(&key(10), &ReadOptions::default())
            .expect("get")
            .as_deref(),
        Some(&b"new"[..])
    );
    assert_eq!(count_keys(&db), 100);
    // Once the snapshot is gone, compaction drops the shadowed versions and the deleted range.
    let before = db.stats().live_sst_bytes;
    drop(snap);
    db.compact_all().expect("compact");
    // Force a rewrite of the bottom level by compacting again after more writes.
    let after = db.stats();
    assert!(
        after.live_sst_bytes <= before,
        "{} > {before}",
        after.live_sst_bytes
    );
    assert_eq!(count_keys(&db), 100);
}

#[test]
fn range_delete_is_one_write_and_hides_keys_in_every_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), tiny_options()).expect("open");
    let wo = WriteOptions::default();
    for i in 0..1000 {
        db.put(&key(i), &[b'x'; 40], &wo).expect("put");
    }
    db.compact_all().expect("compact");
    let writes_before = db.stats().writes;
    db.delete_range(&key(100), &key(900), &wo)
        .expect("delete_range");
    assert_eq!(db.stats().writes, writes_before + 1);
    assert_eq!(count_keys(&db), 200);
    assert_eq!(
        db.get(&key(500), &ReadOptions::default()).expect("get"),
        None
    );
    assert!(db
        .get(&key(99), &ReadOptions::default())
        .expect("get")
        .is_some());
    assert!(db
        .get(&key(900), &ReadOptions::default())
        .expect("get")
        .is_some());
    db.compact_all().expect("compact");
    assert_eq!(count_keys(&db), 200);
    // The deleted data is gone from disk, not only hidden.
    let s = db.stats();
    assert!(s.live_sst_bytes < 1000 * 50 / 2, "{s:?}");
}

struct DropPrefix(Arc<AtomicUsize>);
struct DropPrefixFilter(Arc<AtomicUsize>);
impl CompactionFilter for DropPrefixFilter {
    fn filter(&mut self, _level: usize, key: &[u8], _value: &[u8]) -> Decision {
        if key.starts_with(b"gc/") {
            self.0.fetch_add(1, Ordering::Relaxed);
            Decision::Remove
        } else {
            Decision::Keep
        }
    }
}
impl CompactionFilterFactory for DropPrefix {
    fn create(&self, _ctx: CompactionContext) -> Box<dyn CompactionFilter> {
        Box::new(DropPrefixFilter(Arc::clone(&self.0)))
    }
}

/// A small engine whose compaction filter drops every `gc/` key, and the filter's call count.
fn open_with_drop_prefix_filter() -> (tempfile::TempDir, Db, Arc<AtomicUsize>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let calls = Arc::new(AtomicUsize::new(0));
    let opts = Options {
        compaction_filter: Some(Arc::new(DropPrefix(Arc::clone(&calls)))),
        ..tiny_options()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    (dir, db, calls)
}

#[test]
fn compaction_filter_removes_entries_it_rejects() {
    let (_dir, db, calls) = open_with_drop_prefix_filter();
    let wo = WriteOptions::default();
    for i in 0..300 {
        db.put(format!("gc/{i:05}").as_bytes(), b"garbage", &wo)
            .expect("put");
        db.put(format!("keep/{i:05}").as_bytes(), b"value", &wo)
            .expect("put");
    }
    db.compact_all().expect("compact");
    // Make sure every file went through a real (non-trivial) compaction at least once.
    db.put(b"gc/", b"x", &wo).expect("put");
    db.put(b"keep/~", b"x", &wo).expect("put");
    db.compact_all().expect("compact");
    assert!(calls.load(Ordering::Relaxed) > 0);
    let mut it = db.iter(ReadOptions::default()).expect("iter");
    it.seek(b"gc/").expect("seek");
    let mut gc_left = 0;
    while it.valid() && it.key().starts_with(b"gc/") {
        gc_left += 1;
        it.next().expect("next");
    }
    assert!(gc_left < 300, "filter removed nothing ({gc_left} left)");
    assert_eq!(
        db.get(b"keep/00007", &ReadOptions::default())
            .expect("get")
            .as_deref(),
        Some(&b"value"[..])
    );
}

#[test]
fn compact_all_passes_every_entry_through_the_filter_on_a_fresh_database() {
    let (_dir, db, calls) = open_with_drop_prefix_filter();
    let wo = WriteOptions::default();
    for i in 0..50 {
        db.put(format!("gc/{i:05}").as_bytes(), b"garbage", &wo)
            .expect("put");
    }
    // One flushed table could reach the bottom by trivial moves alone; compact_all must not
    // let it skip the filter, and a second call rewrites the bottom level again.
    db.compact_all().expect("compact");
    db.compact_all().expect("compact again");
    assert_eq!(calls.load(Ordering::Relaxed), 50);
    let mut it = db.iter(ReadOptions::default()).expect("iter");
    it.seek_to_first().expect("seek");
    assert!(!it.valid(), "every entry was filtered out");
}

#[test]
fn prefix_bloom_skips_tables_without_the_prefix_and_keeps_reads_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        bloom_strip_suffix_bytes: 4,
        l0_compaction_trigger: 100,
        l0_slowdown_trigger: 100,
        l0_stop_trigger: 100,
        ..tiny_options()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    let wo = WriteOptions::default();
    // Ten tables whose key ranges all overlap: table t holds the prefixes t, t+10, t+20, ...
    // (four keys each, like four versions of one row), so only filters can tell them apart.
    for t in 0..10u32 {
        for p in 0..10u32 {
            for v in 0..4u32 {
                let k = format!("p{:03}{v:04}", p * 10 + t);
                db.put(k.as_bytes(), k.as_bytes(), &wo).expect("put");
            }
        }
        db.flush().expect("flush");
    }
    assert!(
        db.stats().levels[0].file_count >= 10,
        "{:?}",
        db.stats().levels
    );
    let skipped_before = db.stats().prefix_filter_skips;
    for n in [0u32, 37, 99] {
        let prefix = format!("p{n:03}");
        let mut upper = prefix.clone().into_bytes();
        upper.push(0xFF);
        let mut it = db
            .iter(ReadOptions {
                lower_bound: Some(prefix.clone().into_bytes()),
                upper_bound: Some(upper),
                prefix: Some(prefix.clone().into_bytes()),
                ..ReadOptions::default()
            })
            .expect("iter");
        it.seek_to_first().expect("seek");
        let mut got = Vec::new();
        while it.valid() {
            got.push(String::from_utf8_lossy(it.key()).into_owned());
            it.next().expect("next");
        }
        let want: Vec<String> = (0..4).map(|v| format!("{prefix}{v:04}")).collect();
        assert_eq!(got, want);
        // Whole-key gets consult the same (prefix) filters and stay exact.
        let k = format!("{prefix}0002");
        assert_eq!(
            db.get(k.as_bytes(), &ReadOptions::default())
                .expect("get")
                .as_deref(),
            Some(k.as_bytes())
        );
        assert_eq!(
            db.get(format!("{prefix}0009").as_bytes(), &ReadOptions::default())
                .expect("get"),
            None
        );
    }
    // Prefix 37 lies inside every table's key range (0 and 99 fall outside all but one), so
    // only the filters could rule out the nine tables without it; allow one false positive.
    let skipped = db.stats().prefix_filter_skips - skipped_before;
    assert!(skipped >= 8, "only {skipped} tables skipped");
}

#[test]
fn ingested_table_is_newer_than_existing_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path().join("db"), tiny_options()).expect("open");
    let wo = WriteOptions::default();
    for i in 0..100 {
        db.put(&key(i), b"before", &wo).expect("put");
    }
    let ext = dir.path().join("external.sst");
    let mut b = TableBuilder::create(&ext, TableBuilderOptions::from_options(&Options::default()))
        .expect("builder");
    for i in 50..150 {
        b.add(&ikey::encode(&key(i), 0, ikey::ValueKind::Put), b"ingested")
            .expect("add");
    }
    b.finish().expect("finish");
    db.ingest(std::slice::from_ref(&ext)).expect("ingest");
    assert!(ext.exists(), "caller's file is left in place");
    let ro = ReadOptions::default();
    assert_eq!(
        db.get(&key(10), &ro).expect("get").as_deref(),
        Some(&b"before"[..])
    );
    assert_eq!(
        db.get(&key(60), &ro).expect("get").as_deref(),
        Some(&b"ingested"[..])
    );
    assert_eq!(
        db.get(&key(149), &ro).expect("get").as_deref(),
        Some(&b"ingested"[..])
    );
    db.put(&key(60), b"after", &wo).expect("put");
    assert_eq!(
        db.get(&key(60), &ro).expect("get").as_deref(),
        Some(&b"after"[..])
    );
    assert_eq!(count_keys(&db), 150);
    db.compact_all().expect("compact");
    assert_eq!(count_keys(&db), 150);
    assert_eq!(
        db.get(&key(60), &ro).expect("get").as_deref(),
        Some(&b"after"[..])
    );
    assert_eq!(
        db.get(&key(70), &ro).expect("get").as_deref(),
        Some(&b"ingested"[..])
    );
    // A table whose entries carry real seqnos is refused.
    let bad = dir.path().join("bad.sst");
    let mut b = TableBuilder::create(&bad, TableBuilderOptions::from_options(&Options::default()))
        .expect("builder");
    b.add(&ikey::encode(b"z", 7, ikey::ValueKind::Put), b"v")
        .expect("add");
    b.finish().expect("finish");
    assert!(matches!(db.ingest(&[bad]), Err(Error::InvalidArgument(_))));
    db.close().expect("close");
    let db = Db::open(dir.path().join("db"), tiny_options()).expect("reopen");
    assert_eq!(
        db.get(&key(70), &ro).expect("get").as_deref(),
        Some(&b"ingested"[..])
    );
}

#[test]
fn checkpoint_opens_as_a_consistent_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path().join("db"), tiny_options()).expect("open");
    let wo = WriteOptions::default();
    for i in 0..500 {
        db.put(&key(i), b"v1", &wo).expect("put");
    }
    let cp = dir.path().join("cp");
    db.checkpoint(&cp).expect("checkpoint");
    for i in 0..500 {
        db.put(&key(i), b"v2", &wo).expect("put");
    }
    db.compact_all().expect("compact");
    let copy = Db::open(&cp, tiny_options()).expect("open checkpoint");
    assert_eq!(count_keys(&copy), 500);
    assert_eq!(
        copy.get(&key(7), &ReadOptions::default())
            .expect("get")
            .as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(
        db.get(&key(7), &ReadOptions::default())
            .expect("get")
            .as_deref(),
        Some(&b"v2"[..])
    );
}

#[test]
fn second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _db = Db::open(dir.path(), tiny_options()).expect("open");
    assert!(matches!(
        Db::open(dir.path(), tiny_options()),
        Err(Error::Locked { .. })
    ));
}

#[test]
fn unflushed_writes_survive_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        memtable_bytes: 64 << 20,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).expect("open");
    for i in 0..100 {
        db.put(&key(i), b"v", &WriteOptions::default())
            .expect("put");
    }
    db.delete_range(&key(10), &key(20), &WriteOptions::default())
        .expect("delete_range");
    drop(db);
    let db = Db::open(dir.path(), opts).expect("reopen");
    assert_eq!(count_keys(&db), 90);
    assert_eq!(
        db.stats().levels[0].file_count,
        1,
        "recovered memtable was flushed to L0"
    );
}

fn only_wal(dir: &std::path::Path) -> std::path::PathBuf {
    let mut wals: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    wals.sort();
    wals.pop().expect("a wal")
}

/// A database with ten synced writes still in its WAL; returns it closed, with the WAL's
/// path and its bytes as they were before close.
fn closed_db_with_wal(value: &[u8]) -> (tempfile::TempDir, Options, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        memtable_bytes: 64 << 20,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).expect("open");
    for i in 0..10 {
        db.put(&key(i), value, &WriteOptions::SYNC).expect("put");
    }
    let wal = only_wal(dir.path());
    let bytes = std::fs::read(&wal).expect("read wal");
    db.close().expect("close");
    (dir, opts, wal, bytes)
}

#[test]
fn torn_wal_tail_is_dropped_but_earlier_writes_recover() {
    let (dir, opts, wal, mut bytes) = closed_db_with_wal(b"v");
    bytes.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3]); // a header that promises more than is there
    std::fs::write(&wal, &bytes).expect("write wal");
    let db = Db::open(dir.path(), opts).expect("reopen with torn tail");
    assert_eq!(count_keys(&db), 10);
}

#[test]
fn damaged_wal_record_before_the_tail_fails_open_with_its_offset() {
    let (dir, opts, wal, mut bytes) = closed_db_with_wal(b"value");
    bytes[20] ^= 0xff; // inside the first record's payload
    std::fs::write(&wal, &bytes).expect("write wal");
    match Db::open(dir.path(), opts) {
        Err(Error::Corruption { path, offset, .. }) => {
            assert_eq!(path, wal);
            assert_eq!(offset, 0);
        }
        Err(e) => panic!("expected corruption, got {e}"),
        Ok(_) => panic!("expected corruption, open succeeded"),
    }
}

#[test]
fn poisoned_engine_refuses_writes_until_reopened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), tiny_options()).expect("open");
    for i in 0..10 {
        db.put(&key(i), b"kept", &WriteOptions::SYNC).expect("put");
    }
    // Occupy the next file names, so that starting a new WAL (or table) fails with an I/O
    // error, as a full or failing disk would make it.
    let next = db.stats().last_seqno + 1000;
    let mut blockers = Vec::new();
    for n in 0..next {
        for ext in ["log", "sst"] {
            let p = dir.path().join(format!("{n:06}.{ext}"));
            if !p.exists() {
                std::fs::write(&p, b"").expect("blocker");
                blockers.push(p);
            }
        }
    }
    assert!(
        db.flush().is_err(),
        "flush must fail when no new file can be created"
    );
    assert!(matches!(
        db.put(b"after", b"x", &WriteOptions::default()),
        Err(Error::Poisoned)
    ));
    // Reads still work on what was acknowledged.
    assert_eq!(
        db.get(&key(3), &ReadOptions::default())
            .expect("get")
            .as_deref(),
        Some(&b"kept"[..])
    );
    drop(db);
    for p in blockers {
        std::fs::remove_file(p).expect("remove blocker");
    }
    let db = Db::open(dir.path(), tiny_options()).expect("reopen");
    assert_eq!(count_keys(&db), 10);
    db.put(b"after", b"x", &WriteOptions::default())
        .expect("writes work after reopen");
}

#[test]
fn settings_that_would_deadlock_are_refused_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = Options {
        immutable_memtables_max: 0,
        ..Options::default()
    };
    assert!(matches!(
        Db::open(dir.path(), bad),
        Err(Error::InvalidArgument(_))
    ));
    let bad = Options {
        l0_stop_trigger: 2,
        ..Options::default()
    };
    assert!(matches!(
        Db::open(dir.path(), bad),
        Err(Error::InvalidArgument(_))
    ));
    assert!(Db::open(dir.path(), Options::default()).is_ok());
}

#[test]
fn oversized_key_is_refused_and_the_engine_keeps_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), tiny_options()).expect("open");
    let huge_key = vec![b'k'; (16 << 20) + 1];
    assert!(matches!(
        db.put(&huge_key, b"v", &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    db.put(b"small", b"v", &WriteOptions::default())
        .expect("later writes work");
    db.flush().expect("flush");
    assert_eq!(count_keys(&db), 1);
}

/// Collects what `visit_newest_first` says about `[start, end)`: each key's first entry in
/// source order decides it.
fn visit_all(db: &Db, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut decided: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> = Default::default();
    db.visit_newest_first(start, end, None, &mut |k, v| {
        decided
            .entry(k.to_vec())
            .or_insert_with(|| v.map(<[u8]>::to_vec));
        Visit::Continue
    })
    .expect("visit");
    decided
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

fn iterate_all(db: &Db, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut it = db
        .iter(ReadOptions {
            lower_bound: Some(start.to_vec()),
            upper_bound: Some(end.to_vec()),
            ..ReadOptions::default()
        })
        .expect("iter");
    it.seek_to_first().expect("seek");
    let mut out = Vec::new();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next().expect("next");
    }
    out
}

#[test]
fn visit_newest_first_agrees_with_the_merging_iterator() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), tiny_options()).expect("open");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let wo = WriteOptions::default();
    let key = |i: u32| format!("k{i:03}").into_bytes();
    for round in 0..2_000u32 {
        let k = key(rng.gen_range(0..120));
        match rng.gen_range(0..100) {
            0..=69 => db
                .put(&k, format!("v{round}").as_bytes(), &wo)
                .expect("put"),
            70..=89 => db.delete(&k, &wo).expect("delete"),
            90..=93 => {
                let a = rng.gen_range(0..120);
                let b = a + rng.gen_range(1..15);
                db.delete_range(&key(a), &key(b), &wo)
                    .expect("delete_range");
            }
            94..=97 => db.flush().expect("flush"),
            _ => db.wait_for_compactions().expect("compact"),
        }
        if round % 50 == 49 {
            for _ in 0..10 {
                let a = rng.gen_range(0..125);
                let b = a + rng.gen_range(1..40);
                let (s, e) = (key(a), key(b));
                assert_eq!(
                    visit_all(&db, &s, &e),
                    iterate_all(&db, &s, &e),
                    "round {round} [{a}, {b})"
                );
            }
        }
    }
    assert!(db.stats().levels.iter().map(|l| l.file_count).sum::<u64>() > 1);
}

#[test]
fn visit_newest_first_stops_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), tiny_options()).expect("open");
    let wo = WriteOptions::default();
    for k in [&b"a"[..], b"b", b"c"] {
        db.put(k, b"old", &wo).expect("put");
    }
    db.flush().expect("flush");
    db.put(b"b", b"new", &wo).expect("put");
    let mut seen = Vec::new();
    db.visit_newest_first(b"a", b"z", None, &mut |k, v| {
        seen.push((k.to_vec(), v.map(<[u8]>::to_vec)));
        Visit::Stop
    })
    .expect("visit");
    // The memtable is the newest source: its one entry comes first, and nothing after it.
    assert_eq!(seen, vec![(b"b".to_vec(), Some(b"new".to_vec()))]);
}

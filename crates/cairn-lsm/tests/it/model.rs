//! Model-based property test: random sequences of engine operations checked against a
//! `BTreeMap` (one per live snapshot), with tiny size thresholds so flushes, compactions,
//! trivial moves and range-tombstone clipping all happen within a few hundred operations.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_lsm::{Db, Options, ReadOptions, Snapshot, WriteBatch, WriteOptions};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

pub fn tiny_options() -> Options {
    Options {
        memtable_bytes: 2048,
        block_bytes: 256,
        block_restart_interval: 4,
        sst_bytes_target: 4096,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 8,
        l0_stop_trigger: 12,
        l1_bytes_target: 8192,
        level_size_multiplier: 4,
        levels: 5,
        block_cache_bytes: 1 << 20,
        ..Options::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    Get(Vec<u8>),
    Scan {
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
        reverse: bool,
    },
    Walk(Vec<u8>, Vec<bool>),
    TakeSnapshot,
    ReadSnapshot(usize, Vec<u8>),
    ScanSnapshot(usize),
    DropSnapshot(usize),
    Flush,
    CompactAll,
    Reopen,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // Few distinct keys, some of them prefixes of others.
    prop_oneof![
        (0u8..40).prop_map(|i| format!("k{i:02}").into_bytes()),
        prop::sample::select(vec![
            b"".to_vec(),
            b"a".to_vec(),
            b"ab".to_vec(),
            b"abc".to_vec(),
            b"k".to_vec()
        ]),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..8),
        (0usize..300).prop_map(|n| vec![b'v'; n]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        6 => key().prop_map(Op::Delete),
        3 => (key(), key()).prop_map(|(a, b)| Op::DeleteRange(a, b)),
        4 => prop::collection::vec((key(), prop::option::of(value())), 1..6).prop_map(Op::Batch),
        10 => key().prop_map(Op::Get),
        4 => (prop::option::of(key()), prop::option::of(key()), any::<bool>())
            .prop_map(|(lower, upper, reverse)| Op::Scan { lower, upper, reverse }),
        4 => (key(), prop::collection::vec(any::<bool>(), 1..12)).prop_map(|(k, d)| Op::Walk(k, d)),
        3 => Just(Op::TakeSnapshot),
        3 => (any::<usize>(), key()).prop_map(|(i, k)| Op::ReadSnapshot(i, k)),
        2 => any::<usize>().prop_map(Op::ScanSnapshot),
        2 => any::<usize>().prop_map(Op::DropSnapshot),
        2 => Just(Op::Flush),
        1 => Just(Op::CompactAll),
        1 => Just(Op::Reopen),
    ]
}

fn scan_db(db: &Db, ro: ReadOptions, reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut it = db.iter(ro).expect("iter");
    let mut out = Vec::new();
    if reverse {
        it.seek_to_last().expect("seek_to_last");
    } else {
        it.seek_to_first().expect("seek_to_first");
    }
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        if reverse {
            it.prev().expect("prev")
        } else {
            it.next().expect("next")
        }
    }
    out
}

fn scan_model(
    m: &Model,
    lower: &Option<Vec<u8>>,
    upper: &Option<Vec<u8>>,
    reverse: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<_> = m
        .iter()
        .filter(|(k, _)| {
            lower.as_ref().is_none_or(|l| *k >= l) && upper.as_ref().is_none_or(|u| *k < u)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if reverse {
        v.reverse();
    }
    v
}

/// Read options for reading at `s`.
fn at(s: &Snapshot) -> ReadOptions {
    ReadOptions {
        snapshot: Some(s.seqno()),
        ..ReadOptions::default()
    }
}

fn run(ops: Vec<Op>, dir: &Path) {
    let mut db = Some(Db::open(dir, tiny_options()).expect("open"));
    let mut model = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();
    let wo = WriteOptions::default();
    for op in ops {
        let d = db.as_ref().expect("db open");
        match op {
            Op::Put(k, v) => {
                d.put(&k, &v, &wo).expect("put");
                model.insert(k, v);
            }
            Op::Delete(k) => {
                d.delete(&k, &wo).expect("delete");
                model.remove(&k);
            }
            Op::DeleteRange(a, b) => {
                d.delete_range(&a, &b, &wo).expect("delete_range");
                let doomed: Vec<_> = model
                    .keys()
                    .filter(|k| **k >= a && **k < b)
                    .cloned()
                    .collect();
                for k in doomed {
                    model.remove(&k);
                }
            }
            Op::Batch(items) => {
                let mut b = WriteBatch::new();
                for (k, v) in &items {
                    match v {
                        Some(v) => b.put(k, v),
                        None => b.delete(k),
                    }
                }
                d.write(b, &wo).expect("write batch");
                for (k, v) in items {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            Op::Get(k) => {
                assert_eq!(
                    d.get(&k, &ReadOptions::default()).expect("get"),
                    model.get(&k).cloned(),
                    "get {k:?}"
                );
            }
            Op::Scan {
                lower,
                upper,
                reverse,
            } => {
                let ro = ReadOptions {
                    lower_bound: lower.clone(),
                    upper_bound: upper.clone(),
                    ..ReadOptions::default()
                };
                assert_eq!(
                    scan_db(d, ro, reverse),
                    scan_model(&model, &lower, &upper, reverse),
                    "scan {lower:?}..{upper:?} rev={reverse}"
                );
            }
            Op::Walk(start, dirs) => {
                // seek, then a random walk of next/prev compared step by step with the model.
                let keys: Vec<&Vec<u8>> = model.keys().collect();
                let mut it = d.iter(ReadOptions::default()).expect("iter");
                it.seek(&start).expect("seek");
                let mut pos = keys.partition_point(|k| **k < start);
                for fwd in dirs {
                    match keys.get(pos) {
                        Some(k) => {
                            assert!(it.valid(), "walk: expected {k:?}");
                            assert_eq!(it.key(), k.as_slice());
                            assert_eq!(it.value(), model[*k].as_slice());
                        }
                        None => {
                            assert!(!it.valid(), "walk: expected end, at {:?}", it.key());
                            break;
                        }
                    }
                    if fwd {
                        it.next().expect("next");
                        pos += 1;
                    } else {
                        it.prev().expect("prev");
                        if pos == 0 {
                            assert!(!it.valid());
                            break;
                        }
                        pos -= 1;
                    }
                }
            }
            Op::TakeSnapshot => snaps.push((d.snapshot(), model.clone())),
            Op::ReadSnapshot(i, k) => {
                if !snaps.is_empty() {
                    let (s, m) = &snaps[i % snaps.len()];
                    let ro = at(s);
                    assert_eq!(
                        d.get(&k, &ro).expect("get"),
                        m.get(&k).cloned(),
                        "snapshot get {k:?}"
                    );
                }
            }
            Op::ScanSnapshot(i) => {
                if !snaps.is_empty() {
                    let (s, m) = &snaps[i % snaps.len()];
                    let ro = at(s);
                    assert_eq!(
                        scan_db(d, ro, false),
                        scan_model(m, &None, &None, false),
                        "snapshot scan"
                    );
                }
            }
            Op::DropSnapshot(i) => {
                if !snaps.is_empty() {
                    let n = snaps.len();
                    snaps.remove(i % n);
                }
            }
            Op::Flush => d.flush().expect("flush"),
            Op::CompactAll => d.compact_all().expect("compact_all"),
            Op::Reopen => {
                snaps.clear();
                db.take().expect("db").close().expect("close");
                db = Some(Db::open(dir, tiny_options()).expect("reopen"));
            }
        }
    }
    // Final full check, then once more after a reopen.
    let d = db.take().expect("db");
    assert_eq!(
        scan_db(&d, ReadOptions::default(), false),
        scan_model(&model, &None, &None, false)
    );
    snaps.clear();
    d.close().expect("close");
    let d = Db::open(dir, tiny_options()).expect("reopen");
    assert_eq!(
        scan_db(&d, ReadOptions::default(), true),
        scan_model(&model, &None, &None, true)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn engine_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let dir = tempfile::tempdir().expect("tempdir");
        run(ops, dir.path());
    }
}

/// The long version: `CAIRN_MODEL_CASES=2000 cargo test -p cairn-lsm --test it -- --ignored model`.
#[test]
#[ignore]
fn engine_matches_btreemap_model_long() {
    let cases = std::env::var("CAIRN_MODEL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&prop::collection::vec(op(), 1..1500), |ops| {
            let dir = tempfile::tempdir().expect("tempdir");
            run(ops, dir.path());
            Ok(())
        })
        .expect("model test");
}

//! Table-level tests: builder -> file -> reader against a sorted model, range tombstones,
//! compression, global seqno, bloom filter effect, and corruption of every region.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::error::{CorruptionKind, Error};
use crate::ikey::{self, SeqNo, ValueKind, SEQNO_MAX};
use crate::iter::InternalIterator;
use crate::options::Compression;
use crate::range_del::RangeTombstone;

type Entry = (Vec<u8>, Vec<u8>);

fn opts(
    block_bytes: usize,
    restart_interval: usize,
    compression: Compression,
    bits: u32,
) -> TableBuilderOptions {
    TableBuilderOptions {
        block_bytes,
        restart_interval,
        compression,
        bloom_bits_per_key: bits,
        bloom_strip_suffix_bytes: 0,
    }
}

fn write_table(
    path: &Path,
    o: TableBuilderOptions,
    entries: &[Entry],
    tombstones: &[(Vec<u8>, Vec<u8>, SeqNo)],
) -> BuiltTable {
    let mut b = TableBuilder::create(path, o).expect("create");
    for (k, v) in entries {
        b.add(k, v).expect("add");
    }
    for (s, e, n) in tombstones {
        b.add_range_tombstone(s, e, *n).expect("add tombstone");
    }
    assert_eq!(b.entry_count(), entries.len() as u64);
    b.finish().expect("finish")
}

/// Sorts by internal key and drops exact duplicates.
fn normalize(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| ikey::compare(&a.0, &b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    entries
}

fn model_get(
    entries: &[Entry],
    user_key: &[u8],
    snapshot: SeqNo,
) -> Option<(SeqNo, ValueKind, Vec<u8>)> {
    entries.iter().find_map(|(k, v)| {
        let p = ikey::ParsedKey::parse(k)?;
        (p.user_key == user_key && p.seqno <= snapshot).then(|| (p.seqno, p.kind, v.clone()))
    })
}

fn collect_forward(it: &mut TableIter) -> Vec<Entry> {
    let mut out = Vec::new();
    it.seek_to_first().expect("seek_to_first");
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next().expect("next");
    }
    out
}

fn collect_backward(it: &mut TableIter) -> Vec<Entry> {
    let mut out = Vec::new();
    it.seek_to_last().expect("seek_to_last");
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.prev().expect("prev");
    }
    out.reverse();
    out
}

fn current(it: &TableIter) -> Option<Vec<u8>> {
    it.valid().then(|| it.key().to_vec())
}

fn expect_corruption_in(e: Option<Error>, path: &Path, start: u64, end: u64) {
    match e {
        Some(Error::Corruption {
            path: p, offset, ..
        }) => {
            assert_eq!(p, path);
            assert!(
                offset >= start && offset < end,
                "offset {offset} outside [{start}, {end})"
            );
        }
        other => panic!("expected corruption in [{start}, {end}), got {other:?}"),
    }
}

fn arb_user_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => proptest::collection::vec(0u8..4, 0..4),
        3 => proptest::collection::vec(any::<u8>(), 0..20),
        1 => proptest::collection::vec(any::<u8>(), 100..400),
    ]
}

fn arb_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        5 => proptest::collection::vec(any::<u8>(), 0..40),
        2 => (any::<u8>(), 0usize..3000).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn arb_entries() -> impl Strategy<Value = Vec<Entry>> {
    proptest::collection::vec(
        (arb_user_key(), 0u64..50, any::<bool>(), arb_value()),
        0..250,
    )
    .prop_map(|raw| {
        let entries = raw
            .into_iter()
            .map(|(uk, seq, delete, v)| {
                let kind = if delete {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                let v = if delete { Vec::new() } else { v };
                (ikey::encode(&uk, seq, kind), v)
            })
            .collect();
        normalize(entries)
    })
}

fn arb_compression() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Lz4),
        Just(Compression::Zstd(3))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip_matches_model(
        entries in arb_entries(),
        block_bytes in 64usize..2048,
        restart_interval in 1usize..20,
        compression in arb_compression(),
        filter in any::<bool>(),
        cached in any::<bool>(),
        targets in proptest::collection::vec((arb_user_key(), 0u64..60, any::<u8>()), 0..40),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("000001.sst");
        let o = opts(block_bytes, restart_interval, compression, if filter { 10 } else { 0 });
        let built = write_table(&path, o, &entries, &[]);
        prop_assert_eq!(built.size_bytes, std::fs::metadata(&path).expect("stat").len());
        prop_assert_eq!(built.properties.entry_count, entries.len() as u64);
        let cache = cached.then(|| BlockCache::new(1 << 20));
        let t = Table::open(path.clone(), 1, 0, cache).expect("open");
        prop_assert_eq!(t.properties(), &built.properties);
        prop_assert_eq!(t.properties().smallest.clone(), entries.first().map(|e| e.0.clone()).unwrap_or_default());
        prop_assert_eq!(t.properties().largest.clone(), entries.last().map(|e| e.0.clone()).unwrap_or_default());
        t.verify().expect("verify");

        // Point reads at several snapshots, present and absent keys.
        let mut user_keys: Vec<Vec<u8>> = entries.iter().map(|e| ikey::user_key(&e.0).to_vec()).collect();
        user_keys.extend(targets.iter().map(|t| t.0.clone()));
        user_keys.push(b"\xff\xff\xff absent".to_vec());
        for uk in &user_keys {
            for snap in [0, 1, 10, 25, 49, SEQNO_MAX, u64::MAX] {
                let got = t.get(uk, snap).expect("get");
                prop_assert_eq!(got, model_get(&entries, uk, snap.min(SEQNO_MAX)), "key {:?} snap {}", uk, snap);
            }
        }

        // Full iteration both ways.
        let mut it = t.iter();
        prop_assert_eq!(&collect_forward(&mut it), &entries);
        prop_assert_eq!(&collect_backward(&mut it), &entries);

        // Seeks to random targets, then a step each way.
        for (uk, seq, kind) in &targets {
            let mut target = Vec::new();
            ikey::encode_into(&mut target, uk, *seq, *kind);
            let ge = entries.partition_point(|e| ikey::compare(&e.0, &target) == Ordering::Less);
            it.seek(&target).expect("seek");
            prop_assert_eq!(current(&it), entries.get(ge).map(|e| e.0.clone()));
            if it.valid() {
                prop_assert_eq!(it.value(), entries.get(ge).map(|e| e.1.as_slice()).unwrap_or_default());
                it.prev().expect("prev");
                prop_assert_eq!(current(&it), ge.checked_sub(1).and_then(|i| entries.get(i)).map(|e| e.0.clone()));
            }
            let le = entries.partition_point(|e| ikey::compare(&e.0, &target) != Ordering::Greater);
            it.seek_for_prev(&target).expect("seek_for_prev");
            let expected = le.checked_sub(1).and_then(|i| entries.get(i));
            prop_assert_eq!(current(&it), expected.map(|e| e.0.clone()));
            if it.valid() {
                it.next().expect("next");
                prop_assert_eq!(current(&it), entries.get(le).map(|e| e.0.clone()));
            }
        }
    }
}

#[test]
fn empty_table_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let b = TableBuilder::create(&path, TableBuilderOptions::default()).expect("create");
    assert!(b.is_empty());
    let built = b.finish().expect("finish");
    let t = Table::open(path, 1, 0, None).expect("open");
    assert_eq!(t.properties(), &built.properties);
    assert_eq!(t.get(b"k", SEQNO_MAX).expect("get"), None);
    let mut it = t.iter();
    assert!(collect_forward(&mut it).is_empty());
    it.seek(&ikey::encode(b"k", 1, ValueKind::Put))
        .expect("seek");
    assert!(!it.valid());
    it.seek_for_prev(&ikey::encode(b"k", 1, ValueKind::Put))
        .expect("seek_for_prev");
    assert!(!it.valid());
    t.verify().expect("verify");
}

#[test]
fn range_tombstones_round_trip_and_widen_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let entries = normalize(vec![
        (ikey::encode(b"c", 5, ValueKind::Put), b"v".to_vec()),
        (ikey::encode(b"d", 6, ValueKind::Delete), Vec::new()),
    ]);
    let tombstones = vec![
        (b"m".to_vec(), b"q".to_vec(), 9),
        (b"a".to_vec(), b"b".to_vec(), 3),
        (b"a".to_vec(), b"z".to_vec(), 12),
        (b"a".to_vec(), b"b".to_vec(), 3), // exact duplicate: kept once
    ];
    let built = write_table(&path, TableBuilderOptions::default(), &entries, &tombstones);
    let p = &built.properties;
    assert_eq!(p.range_deletion_count, 3);
    assert_eq!(p.deletion_count, 1);
    assert_eq!((p.seqno_smallest, p.seqno_largest), (3, 12));
    assert_eq!(p.smallest, ikey::encode(b"a", 12, ValueKind::RangeDelete));
    assert_eq!(
        p.largest,
        ikey::encode(b"z", SEQNO_MAX, ValueKind::RangeDelete)
    );
    let t = Table::open(path, 1, 0, None).expect("open");
    let expected = vec![
        RangeTombstone {
            start: b"a".to_vec(),
            end: b"z".to_vec(),
            seqno: 12,
        },
        RangeTombstone {
            start: b"a".to_vec(),
            end: b"b".to_vec(),
            seqno: 3,
        },
        RangeTombstone {
            start: b"m".to_vec(),
            end: b"q".to_vec(),
            seqno: 9,
        },
    ];
    assert_eq!(t.range_tombstones(), expected.as_slice());
    // Tombstones do not hide point entries at this level.
    assert_eq!(
        t.get(b"c", 20).expect("get"),
        Some((5, ValueKind::Put, b"v".to_vec()))
    );
    assert_eq!(collect_forward(&mut t.iter()), entries);
}

#[test]
fn range_tombstone_only_table_has_tombstone_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let built = write_table(
        &path,
        TableBuilderOptions::default(),
        &[],
        &[(b"k".to_vec(), b"p".to_vec(), 4)],
    );
    assert_eq!(
        built.properties.smallest,
        ikey::encode(b"k", 4, ValueKind::RangeDelete)
    );
    assert_eq!(
        built.properties.largest,
        ikey::encode(b"p", SEQNO_MAX, ValueKind::RangeDelete)
    );
    let t = Table::open(path, 1, 0, None).expect("open");
    assert_eq!(t.range_tombstones().len(), 1);
    assert!(collect_forward(&mut t.iter()).is_empty());
}

#[test]
fn invalid_range_tombstone_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = TableBuilder::create(&dir.path().join("1.sst"), TableBuilderOptions::default())
        .expect("create");
    assert!(matches!(
        b.add_range_tombstone(b"b", b"a", 1),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        b.add_range_tombstone(b"b", b"b", 1),
        Err(Error::InvalidArgument(_))
    ));
    assert!(b.is_empty());
    b.abandon();
}

fn compressible_entries(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            let k = ikey::encode(
                format!("user/{i:08}").as_bytes(),
                1_000_000 - i as u64,
                ValueKind::Put,
            );
            (k, format!("value-{i}-").repeat(20).into_bytes())
        })
        .collect()
}

#[test]
fn each_compression_type_round_trips_and_shrinks_data() {
    let entries = compressible_entries(2000);
    let raw: u64 = entries.iter().map(|e| (e.0.len() + e.1.len()) as u64).sum();
    for compression in [
        Compression::None,
        Compression::Lz4,
        Compression::Zstd(1),
        Compression::Zstd(19),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("1.sst");
        let built = write_table(&path, opts(4096, 16, compression, 10), &entries, &[]);
        assert_eq!(built.properties.compression, compression.to_byte());
        if compression == Compression::None {
            // Only keys are prefix-compressed.
            assert!(built.properties.data_bytes > raw * 3 / 4);
        } else {
            assert!(
                built.properties.data_bytes < raw / 4,
                "{compression:?}: {} vs {raw}",
                built.properties.data_bytes
            );
        }
        let t = Table::open(path, 1, 0, Some(BlockCache::new(1 << 20))).expect("open");
        t.verify().expect("verify");
        assert_eq!(collect_forward(&mut t.iter()), entries);
        assert_eq!(collect_backward(&mut t.iter()), entries);
        for (k, v) in entries.iter().step_by(97) {
            let p = ikey::ParsedKey::parse(k).expect("key");
            assert_eq!(
                t.get(p.user_key, SEQNO_MAX).expect("get"),
                Some((p.seqno, p.kind, v.clone()))
            );
        }
    }
}

#[test]
fn global_seqno_overrides_every_seqno() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let entries: Vec<Entry> = (0..500)
        .map(|i| {
            let kind = if i % 5 == 0 {
                ValueKind::Delete
            } else {
                ValueKind::Put
            };
            (
                ikey::encode(format!("k{i:04}").as_bytes(), 0, kind),
                format!("v{i}").into_bytes(),
            )
        })
        .collect();
    write_table(
        &path,
        opts(256, 4, Compression::Lz4, 10),
        &entries,
        &[(b"k0100".to_vec(), b"k0200".to_vec(), 0)],
    );
    let g = 1234;
    let t = Table::open(path.clone(), 1, g, None).expect("open");
    let p = t.properties();
    assert_eq!((p.seqno_smallest, p.seqno_largest), (g, g));
    assert_eq!(p.smallest, ikey::encode(b"k0000", g, ValueKind::Delete));
    assert_eq!(p.largest, ikey::encode(b"k0499", g, ValueKind::Put));
    assert_eq!(
        t.range_tombstones(),
        [RangeTombstone {
            start: b"k0100".to_vec(),
            end: b"k0200".to_vec(),
            seqno: g
        }]
    );
    let logical: Vec<Entry> = entries
        .iter()
        .map(|(k, v)| {
            let p = ikey::ParsedKey::parse(k).expect("key");
            (ikey::encode(p.user_key, g, p.kind), v.clone())
        })
        .collect();
    let mut it = t.iter();
    assert_eq!(collect_forward(&mut it), logical);
    assert_eq!(collect_backward(&mut it), logical);
    for (i, (k, v)) in logical.iter().enumerate() {
        let p = ikey::ParsedKey::parse(k).expect("key");
        assert_eq!(
            t.get(p.user_key, g).expect("get"),
            Some((g, p.kind, v.clone()))
        );
        assert_eq!(
            t.get(p.user_key, g + 1).expect("get"),
            Some((g, p.kind, v.clone()))
        );
        assert_eq!(t.get(p.user_key, g - 1).expect("get"), None);
        it.seek(&ikey::seek_key(p.user_key, g)).expect("seek");
        assert_eq!(current(&it), Some(k.clone()));
        it.seek(&ikey::seek_key(p.user_key, g - 1)).expect("seek");
        assert_eq!(current(&it), logical.get(i + 1).map(|e| e.0.clone()));
        it.seek_for_prev(&ikey::seek_key(p.user_key, g - 1))
            .expect("seek_for_prev");
        assert_eq!(current(&it), Some(k.clone()));
    }
    t.verify().expect("verify");
    // The same file opened without a global seqno shows the stored zeros.
    let t0 = Table::open(path, 1, 0, None).expect("open");
    assert_eq!(collect_forward(&mut t0.iter()), entries);
}

#[test]
fn global_seqno_on_file_with_seqnos_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    write_table(
        &path,
        TableBuilderOptions::default(),
        &[(ikey::encode(b"a", 3, ValueKind::Put), vec![])],
        &[],
    );
    assert!(Table::open(path, 1, 10, None).is_err_and(|e| e.is_corruption()));
}

#[test]
fn bloom_filter_avoids_block_reads_for_absent_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let entries = compressible_entries(5000);
    write_table(&path, opts(4096, 16, Compression::Lz4, 10), &entries, &[]);
    let t = Table::open(path, 1, 0, None).expect("open");
    let reads_after_open = t.blocks_read_count();
    let absent = 10_000;
    for i in 0..absent {
        assert_eq!(
            t.get(format!("missing/{i}").as_bytes(), SEQNO_MAX)
                .expect("get"),
            None
        );
    }
    let useful = t.filter_useful_count();
    assert!(
        useful >= absent * 98 / 100,
        "filter useful only {useful} of {absent}"
    );
    assert_eq!(t.blocks_read_count() - reads_after_open, absent - useful);
    let false_positive_rate = (absent - useful) as f64 / absent as f64;
    assert!(
        false_positive_rate < 0.02,
        "false-positive rate {false_positive_rate}"
    );
}

#[test]
fn block_cache_serves_repeated_reads_without_io() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let entries = compressible_entries(100);
    write_table(&path, TableBuilderOptions::default(), &entries, &[]);
    let cache = BlockCache::new(1 << 20);
    let t = Table::open(path, 7, 0, Some(Arc::clone(&cache))).expect("open");
    let p = ikey::ParsedKey::parse(&entries.get(3).expect("entry").0).expect("key");
    t.get(p.user_key, SEQNO_MAX).expect("get");
    let reads = t.blocks_read_count();
    t.get(p.user_key, SEQNO_MAX).expect("get");
    assert_eq!(t.blocks_read_count(), reads);
    assert_eq!((cache.hits(), cache.misses()), (1, 1));
    assert!(cache.used_bytes() > 0 && cache.used_bytes() <= cache.capacity_bytes());
}

#[test]
fn concurrent_readers_see_the_same_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let entries = compressible_entries(3000);
    write_table(&path, opts(1024, 16, Compression::Lz4, 10), &entries, &[]);
    let t = Table::open(path, 1, 0, Some(BlockCache::new(64 << 10))).expect("open");
    std::thread::scope(|s| {
        for offset in 0..4 {
            let t = &t;
            let entries = &entries;
            s.spawn(move || {
                for (k, v) in entries.iter().skip(offset).step_by(4) {
                    let p = ikey::ParsedKey::parse(k).expect("key");
                    assert_eq!(
                        t.get(p.user_key, SEQNO_MAX).expect("get"),
                        Some((p.seqno, p.kind, v.clone()))
                    );
                }
                assert_eq!(collect_forward(&mut t.iter()).len(), entries.len());
            });
        }
    });
}

// ---------------------------------------------------------------------------------------
// Corruption.

fn small_table(dir: &Path, compression: Compression) -> (PathBuf, Vec<Entry>) {
    let path = dir.join("000009.sst");
    let entries = compressible_entries(300);
    write_table(
        &path,
        opts(1024, 8, compression, 10),
        &entries,
        &[(b"a".to_vec(), b"b".to_vec(), 7)],
    );
    (path, entries)
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).expect("read");
    let i = usize::try_from(at).expect("offset");
    if let Some(b) = bytes.get_mut(i) {
        *b ^= 0x10;
    }
    std::fs::write(path, bytes).expect("write");
}

fn region(path: &Path, name: &str) -> (u64, u64) {
    let t = Table::open(path.to_path_buf(), 1, 0, None).expect("open before damage");
    let r = t
        .regions_for_test()
        .into_iter()
        .find(|r| r.0 == name)
        .expect("region");
    (r.1, r.2)
}

#[test]
fn flipped_byte_in_data_block_is_corruption_at_that_block() {
    for compression in [Compression::None, Compression::Lz4] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, entries) = small_table(dir.path(), compression);
        let (start, end) = region(&path, "data");
        flip(&path, start + (end - start) / 2);
        let t = Table::open(path.clone(), 1, 0, None).expect("meta blocks are intact");
        let p = ikey::ParsedKey::parse(&entries.first().expect("entry").0).expect("key");
        expect_corruption_in(t.get(p.user_key, SEQNO_MAX).err(), &path, start, end);
        expect_corruption_in(t.verify().err(), &path, start, end);
        let mut it = t.iter();
        expect_corruption_in(it.seek_to_first().err(), &path, start, end);
        assert!(!it.valid());
        // Other blocks still read fine.
        let last = ikey::ParsedKey::parse(&entries.last().expect("entry").0).expect("key");
        assert!(t.get(last.user_key, SEQNO_MAX).expect("get").is_some());
    }
}

#[test]
fn flipped_byte_in_each_meta_block_or_footer_fails_open() {
    for name in ["index", "filter", "properties", "range-del", "footer"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = small_table(dir.path(), Compression::Lz4);
        let (start, end) = region(&path, name);
        for at in [start, start + (end - start) / 2, end - 1] {
            flip(&path, at);
            expect_corruption_in(
                Table::open(path.clone(), 1, 0, None).err(),
                &path,
                start,
                end,
            );
            flip(&path, at); // undo
        }
    }
}

#[test]
fn footer_damage_reports_magic_and_version_kinds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = small_table(dir.path(), Compression::None);
    let size = std::fs::metadata(&path).expect("stat").len();
    flip(&path, size - 12 + 2); // inside the magic
    let e = Table::open(path.clone(), 1, 0, None).err();
    assert!(
        matches!(
            e,
            Some(Error::Corruption {
                kind: CorruptionKind::BadMagic { .. },
                ..
            })
        ),
        "{e:?}"
    );
    flip(&path, size - 12 + 2);
    flip(&path, size - 16); // version: caught by the footer checksum first
    let e = Table::open(path, 1, 0, None).err();
    assert!(
        matches!(
            e,
            Some(Error::Corruption {
                kind: CorruptionKind::Checksum { .. },
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn truncated_file_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = small_table(dir.path(), Compression::Lz4);
    let bytes = std::fs::read(&path).expect("read");
    for keep in [
        0,
        1,
        40,
        79,
        80,
        81,
        bytes.len() / 2,
        bytes.len() - 81,
        bytes.len() - 1,
    ] {
        let cut = dir.path().join(format!("cut{keep}.sst"));
        std::fs::write(&cut, bytes.get(..keep).expect("prefix")).expect("write");
        let e = Table::open(cut.clone(), 1, 0, None).err();
        assert!(
            matches!(&e, Some(Error::Corruption { path, .. }) if path == &cut),
            "keep {keep}: {e:?}"
        );
        if keep < 80 {
            assert!(matches!(
                e,
                Some(Error::Corruption {
                    offset: 0,
                    kind: CorruptionKind::Truncated { .. },
                    ..
                })
            ));
        }
    }
}

/// Every byte of a table is covered by a checksum: a single flipped byte anywhere is caught
/// by open or verify, and reported inside the region that holds it.
#[test]
fn every_single_byte_flip_is_detected_in_its_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let entries: Vec<Entry> = (0..40)
        .map(|i| {
            (
                ikey::encode(format!("k{i:03}").as_bytes(), 5, ValueKind::Put),
                vec![b'x'; i % 9],
            )
        })
        .collect();
    write_table(
        &path,
        opts(200, 4, Compression::Lz4, 10),
        &entries,
        &[(b"k".to_vec(), b"l".to_vec(), 9)],
    );
    let bytes = std::fs::read(&path).expect("read");
    let clean = Table::open_in_memory(bytes.clone(), PathBuf::from("mem"), 0).expect("open");
    let regions = clean.regions_for_test();
    let covered: u64 = regions.iter().map(|r| r.2 - r.1).sum();
    assert_eq!(covered, bytes.len() as u64, "regions tile the file");
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        if let Some(b) = damaged.get_mut(i) {
            *b ^= 0x01;
        }
        let at = i as u64;
        let (name, start, end) = regions
            .iter()
            .copied()
            .find(|r| r.1 <= at && at < r.2)
            .expect("byte in a region");
        let err = match Table::open_in_memory(damaged, PathBuf::from("mem"), 0) {
            Err(e) => Some(e),
            Ok(t) => t.verify().err(),
        };
        match err {
            Some(Error::Corruption { offset, .. }) => {
                assert!(
                    offset >= start && offset < end,
                    "byte {i} in {name} [{start},{end}) reported at {offset}"
                );
            }
            other => panic!("flip of byte {i} in {name} not detected: {other:?}"),
        }
    }
}

#[test]
fn worked_example_file_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("1.sst");
    let entries = vec![(ikey::encode(b"a", 1, ValueKind::Put), b"v".to_vec())];
    let built = write_table(&path, opts(4096, 16, Compression::None, 0), &entries, &[]);
    let bytes = std::fs::read(&path).expect("read");
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        println!("{:04x}  {}", i * 16, hex.join(" "));
    }
    assert_eq!(built.size_bytes, bytes.len() as u64);
    assert_eq!(bytes, WORKED_EXAMPLE);
    assert_eq!(
        bytes.get(bytes.len() - 12..bytes.len() - 4),
        Some(b"cairnSST".as_slice())
    );
}

/// The bytes of the worked example in `sst/mod.rs` and `docs/format/sstable.md`.
#[rustfmt::skip]
const WORKED_EXAMPLE: [u8; 200] = [
    // 0000
    0x00, 0x09, 0x01, 0x61, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x76, 0x00, 0x00, 0x00,
    // 0010
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x1a, 0x0a, 0xe3, 0x8e, 0x00, 0x00, 0x00, 0x00, 0x00, 0xbc,
    // 0020
    0x75, 0xed, 0x8e, 0x00, 0xd2, 0x8f, 0x25, 0x49, 0x02, 0x01, 0x04, 0x00, 0x06, 0x00, 0x08, 0x09,
    // 0030
    0x0a, 0x01, 0x0c, 0x01, 0x0e, 0x1a, 0x10, 0x1b, 0x12, 0x05, 0x14, 0x01, 0x16, 0x01, 0x19, 0x09,
    // 0040
    0x61, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1b, 0x09, 0x61, 0x01, 0x01, 0x00, 0x00,
    // 0050
    0x00, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x1e, 0x00, 0x00, 0x30, 0x05, 0x35, 0x42, 0x00, 0x09, 0x02,
    // 0060
    0x61, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x00, 0x01,
    // 0070
    0x00, 0x00, 0x00, 0x00, 0x36, 0x49, 0x25, 0xbf, 0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // 0080
    0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // 0090
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // 00a0
    0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // 00b0
    0x16, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x63, 0x61, 0x69, 0x72,
    // 00c0
    0x6e, 0x53, 0x53, 0x54, 0x21, 0x68, 0xcf, 0x9a,
];

#[test]
fn fuzz_entry_points_accept_garbage_and_valid_tables() {
    super::fuzzing::block(&[]);
    super::fuzzing::block(&[1, 2, 3, 4, 5, 6, 7, 8]);
    super::fuzzing::stored_block(&[1, 200, 0, 0, 0, 1, 2]);
    super::fuzzing::stored_block(&[2, 200, 0, 0, 0, 1, 2]);
    super::fuzzing::table_image(&[0; 100]);
    super::fuzzing::table_from_parts(&[3, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = small_table(dir.path(), Compression::Lz4);
    super::fuzzing::table_image(&std::fs::read(path).expect("read"));
}

proptest! {
    #[test]
    fn fuzz_table_entry_points_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        super::fuzzing::table_image(&bytes);
        super::fuzzing::table_from_parts(&bytes);
        super::fuzzing::stored_block(&bytes);
    }
}

//! Damage to each kind of file is detected: `check_dir` (behind `cairn debug check`) reports
//! a corruption error naming the file and an offset in the damaged region; opening or reading
//! returns an error, never a panic and never wrong data.

use std::path::{Path, PathBuf};

use cairn_lsm::check::check_dir;
use cairn_lsm::{Db, Error, Options, ReadOptions, WriteOptions};

const FOOTER_BYTES: u64 = 80;

fn build_db(dir: &Path) {
    let opts = Options {
        memtable_bytes: 32 << 10,
        ..Options::default()
    };
    let db = Db::open(dir, opts).expect("open");
    for i in 0..2000u32 {
        db.put(
            format!("key{i:06}").as_bytes(),
            &[b'v'; 50],
            &WriteOptions::default(),
        )
        .expect("put");
    }
    db.compact_all().expect("compact");
    // A few writes that stay in the WAL.
    for i in 0..20u32 {
        db.put(
            format!("wal{i:03}").as_bytes(),
            b"in the log",
            &WriteOptions::SYNC,
        )
        .expect("put");
    }
    // Drop without close would sync too; skip the close to keep the WAL un-flushed.
    drop(db);
}

fn files_with(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&pred))
        .collect();
    v.sort();
    v
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).expect("read");
    let i = usize::try_from(offset).expect("offset");
    bytes[i] ^= 0x5a;
    std::fs::write(path, bytes).expect("write");
}

/// Flips one byte at `offset_of(file)` in the first file matching `pred`, in a fresh copy of
/// a database, and asserts that check reports corruption in that file within `range`.
fn assert_detected(
    what: &str,
    pred: impl Fn(&str) -> bool,
    offset_of: impl Fn(u64) -> u64,
    range_of: impl Fn(u64) -> std::ops::RangeInclusive<u64>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    build_db(dir.path());
    let clean = check_dir(dir.path()).expect("check");
    assert!(
        clean.is_clean(),
        "{what}: fresh database reported damage: {:?}",
        clean.problems
    );
    let target = files_with(dir.path(), &pred)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{what}: no file"));
    let size = std::fs::metadata(&target).expect("stat").len();
    flip(&target, offset_of(size));
    let report = check_dir(dir.path()).expect("check");
    let hit = report.problems.iter().find_map(|e| match e {
        Error::Corruption { path, offset, .. } if *path == target => Some(*offset),
        _ => None,
    });
    let offset =
        hit.unwrap_or_else(|| panic!("{what}: damage not reported: {:?}", report.problems));
    assert!(
        range_of(size).contains(&offset),
        "{what}: offset {offset} outside {:?}",
        range_of(size)
    );
    // Opening and reading everything must fail cleanly or return correct data — never panic.
    if let Ok(db) = Db::open(dir.path(), Options::default()) {
        let mut it = db.iter(ReadOptions::default()).expect("iter");
        let mut r = it.seek_to_first();
        while r.is_ok() && it.valid() {
            assert!(
                it.value() == [b'v'; 50] || it.value() == b"in the log",
                "{what}: wrong data"
            );
            r = it.next();
        }
        if what.contains("data block") {
            assert!(r.is_err(), "{what}: a full scan must hit the damaged block");
        }
    }
}

fn is_sst(n: &str) -> bool {
    n.ends_with(".sst")
}

#[test]
fn flipped_byte_in_sst_data_block_is_reported_at_that_block() {
    assert_detected("sst data block", is_sst, |_| 10, |_| 0..=4096 + 5);
}

#[test]
fn flipped_byte_in_sst_index_block_is_reported() {
    // The byte just before the footer is the index block's checksum trailer.
    assert_detected(
        "sst index block",
        is_sst,
        |size| size - FOOTER_BYTES - 1,
        |size| 0..=size - FOOTER_BYTES,
    );
}

#[test]
fn flipped_byte_in_sst_footer_is_reported_at_the_footer() {
    assert_detected(
        "sst footer",
        is_sst,
        |size| size - 20,
        |size| size - FOOTER_BYTES..=size,
    );
}

#[test]
fn flipped_byte_in_manifest_is_reported() {
    assert_detected(
        "manifest",
        |n| n.starts_with("MANIFEST-"),
        |_| 12,
        |_| 0..=0,
    );
}

#[test]
fn flipped_byte_in_wal_record_is_reported_at_the_record() {
    assert_detected("wal", |n| n.ends_with(".log"), |_| 12, |_| 0..=8);
}

#[test]
fn damaged_manifest_base_record_fails_open_instead_of_losing_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_db(dir.path());
    let manifest = files_with(dir.path(), |n| n.starts_with("MANIFEST-"))
        .pop()
        .expect("manifest");
    // The new MANIFEST written at open holds only its base record: damage it.
    let db = Db::open(dir.path(), Options::default()).expect("open");
    drop(db);
    let manifest_now = files_with(dir.path(), |n| n.starts_with("MANIFEST-"))
        .pop()
        .expect("manifest");
    assert_ne!(manifest, manifest_now);
    let size = std::fs::metadata(&manifest_now).expect("stat").len();
    flip(&manifest_now, size - 1);
    let tables_before = files_with(dir.path(), is_sst).len();
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(Error::Corruption { .. })
    ));
    assert_eq!(
        files_with(dir.path(), is_sst).len(),
        tables_before,
        "no table was deleted"
    );
}

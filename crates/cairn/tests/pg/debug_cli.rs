//! The `cairn debug` tools, run as a user would run them: the real binary on a real database.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_lsm::{Db, Options, WriteOptions};

fn cairn(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .output()
        .expect("run cairn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn make_db(dir: &Path) -> PathBuf {
    let db = Db::open(dir, Options::default()).expect("open");
    for i in 0..3000u32 {
        db.put(
            format!("key{i:06}").as_bytes(),
            &[b'v'; 60],
            &WriteOptions::default(),
        )
        .expect("put");
    }
    db.compact_all().expect("compact");
    db.close().expect("close");
    let mut tables: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    tables.sort();
    tables.pop().expect("a table")
}

#[test]
fn debug_check_exits_zero_on_a_clean_database_and_nonzero_naming_the_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = make_db(dir.path());
    let d = dir.path().to_str().expect("utf-8 path");
    let (ok, text) = cairn(&["debug", "check", d]);
    assert!(ok, "clean database reported damage:\n{text}");
    assert!(text.contains("ok: no damage found"), "{text}");

    let mut bytes = std::fs::read(&table).expect("read table");
    bytes[100] ^= 0x20;
    std::fs::write(&table, bytes).expect("write table");
    let (ok, text) = cairn(&["debug", "check", d]);
    assert!(!ok, "damaged table passed the check:\n{text}");
    let name = table.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(text.contains(name), "report does not name {name}:\n{text}");
    assert!(
        text.contains("offset 0"),
        "report does not give the block offset:\n{text}"
    );
}

#[test]
fn debug_sst_and_manifest_print_what_the_files_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = make_db(dir.path());
    let (ok, text) = cairn(&[
        "debug",
        "sst",
        table.to_str().expect("path"),
        "--limit",
        "3",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("entries: 3000"), "{text}");
    assert!(text.contains("key000000 @"), "{text}");
    let (ok, text) = cairn(&["debug", "manifest", dir.path().to_str().expect("path")]);
    assert!(ok, "{text}");
    assert!(text.contains("CURRENT -> "), "{text}");
    assert!(text.contains(".sst"), "{text}");
}

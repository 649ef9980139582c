//! Names of the files in a database directory, and fsync of the directory itself.
//!
//! **Role**: the engine builds every path it creates through the `*_path` functions and
//! classifies what it finds on open (obsolete-file cleanup, recovery) with [`parse`]. The WAL
//! and MANIFEST writers call [`sync_dir`] after creating or renaming a file.
//!
//! | file                | name                         | example           |
//! |---------------------|------------------------------|-------------------|
//! | write-ahead log     | `{number:06}.log`            | `000012.log`      |
//! | SSTable             | `{number:06}.sst`            | `000013.sst`      |
//! | MANIFEST            | `MANIFEST-{number:06}`       | `MANIFEST-000004` |
//! | current manifest    | `CURRENT`                    |                   |
//! | directory lock      | `LOCK`                       |                   |
//! | temporary           | anything ending in `.tmp`    | `CURRENT.000004.tmp` |
//!
//! WALs, tables and manifests draw their numbers from one counter (the MANIFEST's
//! `next_file_number`), so a number names at most one file. Numbers are zero-padded to six
//! digits and simply grow wider past 999999.
//!
//! # Invariants
//! 1. Names are canonical: [`parse`] accepts exactly the names the `*_path` functions produce
//!    (no `+` sign, no extra leading zeros, no overflow), so parsing and formatting are
//!    inverse and a stranger's file such as `7.log` is never mistaken for WAL 7 and deleted
//!    as obsolete — tests `names_round_trip_through_parse` and
//!    `non_canonical_names_are_not_ours`.
//! 2. [`parse`] never panics, whatever the name — proptest `parse_never_panics`.
//!
//! # Concurrency
//! Pure functions, except [`sync_dir`], which may run from any thread at any time.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What a file in a database directory is, judged by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Write-ahead log `{number:06}.log`.
    Wal(u64),
    /// SSTable `{number:06}.sst`.
    Table(u64),
    /// FileSet-edit log `MANIFEST-{number:06}`.
    Manifest(u64),
    /// `CURRENT`: names the live MANIFEST.
    Current,
    /// `LOCK`: held while an engine has the directory open.
    Lock,
    /// A `*.tmp` file: a write that was never renamed into place; safe to delete on open.
    Temp,
}

const WAL_SUFFIX: &str = ".log";
const TABLE_SUFFIX: &str = ".sst";
const MANIFEST_PREFIX: &str = "MANIFEST-";
const TEMP_SUFFIX: &str = ".tmp";
const CURRENT_NAME: &str = "CURRENT";
const LOCK_NAME: &str = "LOCK";

/// Path of write-ahead log `number`: `{dir}/{number:06}.log`.
pub fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}{WAL_SUFFIX}"))
}

/// Path of SSTable `number`: `{dir}/{number:06}.sst`.
pub fn table_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}{TABLE_SUFFIX}"))
}

/// Path of manifest `number`: `{dir}/MANIFEST-{number:06}`.
pub fn manifest_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(manifest_file_name(number))
}

/// File name of manifest `number` (what `CURRENT` holds, before its newline).
pub(crate) fn manifest_file_name(number: u64) -> String {
    format!("{MANIFEST_PREFIX}{number:06}")
}

/// Path of `CURRENT`.
pub fn current_path(dir: &Path) -> PathBuf {
    dir.join(CURRENT_NAME)
}

/// Path of `LOCK`.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK_NAME)
}

/// Classifies a file name (the last path component, not a path). `None` for names the engine
/// did not write; the engine leaves such files alone.
pub fn parse(file_name: &str) -> Option<FileKind> {
    if file_name == CURRENT_NAME {
        return Some(FileKind::Current);
    }
    if file_name == LOCK_NAME {
        return Some(FileKind::Lock);
    }
    if file_name.ends_with(TEMP_SUFFIX) {
        return Some(FileKind::Temp);
    }
    if let Some(digits) = file_name.strip_prefix(MANIFEST_PREFIX) {
        return parse_number(digits).map(FileKind::Manifest);
    }
    if let Some(digits) = file_name.strip_suffix(WAL_SUFFIX) {
        return parse_number(digits).map(FileKind::Wal);
    }
    if let Some(digits) = file_name.strip_suffix(TABLE_SUFFIX) {
        return parse_number(digits).map(FileKind::Table);
    }
    None
}

/// A file number written as `{number:06}`: ASCII digits only (`u64::from_str` would also take
/// a `+`), fitting a u64, and in canonical form (six digits, or more without a leading zero).
fn parse_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u64 = digits.parse().ok()?;
    (format!("{number:06}") == digits).then_some(number)
}

/// Opens directory `dir` and fsyncs it, making file creations, renames and deletions in it
/// durable. A failure is returned as is and never retried: after a failed fsync the state of
/// the directory on disk is unknown, and the caller poisons the engine.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> Result<()> {
    let handle = std::fs::File::open(dir).map_err(|e| Error::io("open directory", dir, e))?;
    handle
        .sync_all()
        .map_err(|e| Error::io("sync directory", dir, e))
}

/// Elsewhere directories cannot be opened as files; the file system journals creations and
/// renames itself (NTFS), so there is nothing to do.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name_of(path: &Path) -> &str {
        path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    }

    #[test]
    fn paths_have_the_documented_names() {
        let dir = Path::new("/db");
        assert_eq!(wal_path(dir, 12), PathBuf::from("/db/000012.log"));
        assert_eq!(table_path(dir, 13), PathBuf::from("/db/000013.sst"));
        assert_eq!(manifest_path(dir, 4), PathBuf::from("/db/MANIFEST-000004"));
        assert_eq!(current_path(dir), PathBuf::from("/db/CURRENT"));
        assert_eq!(lock_path(dir), PathBuf::from("/db/LOCK"));
        assert_eq!(wal_path(dir, 1_234_567), PathBuf::from("/db/1234567.log"));
    }

    #[test]
    fn names_round_trip_through_parse() {
        let dir = Path::new("db");
        for n in [0, 1, 999_999, 1_000_000, 123_456_789, u64::MAX] {
            assert_eq!(
                parse(name_of(&wal_path(dir, n))),
                Some(FileKind::Wal(n)),
                "{n}"
            );
            assert_eq!(
                parse(name_of(&table_path(dir, n))),
                Some(FileKind::Table(n)),
                "{n}"
            );
            assert_eq!(
                parse(name_of(&manifest_path(dir, n))),
                Some(FileKind::Manifest(n)),
                "{n}"
            );
        }
        assert_eq!(parse(name_of(&current_path(dir))), Some(FileKind::Current));
        assert_eq!(parse(name_of(&lock_path(dir))), Some(FileKind::Lock));
        assert_eq!(parse("CURRENT.000004.tmp"), Some(FileKind::Temp));
        assert_eq!(parse("000013.sst.tmp"), Some(FileKind::Temp));
    }

    #[test]
    fn non_canonical_names_are_not_ours() {
        for name in [
            "",
            "7.log",
            "00007.log",
            "0000007.log",
            "+00007.log",
            "000007.LOG",
            "000007.log.bak",
            ".log",
            "abcdef.sst",
            "-00001.sst",
            "MANIFEST-",
            "MANIFEST-7",
            "MANIFEST-0000007",
            "MANIFEST-00000a",
            "manifest-000007",
            "CURRENT\n",
            "LOCK2",
            "18446744073709551616.log",
            "000007 .sst",
            "٠٠٠٠٠٧.log",
        ] {
            assert_eq!(parse(name), None, "{name:?}");
        }
    }

    #[test]
    fn sync_dir_succeeds_on_a_directory_and_fails_on_a_missing_one() {
        let dir = tempfile::tempdir().expect("create temp dir");
        assert!(sync_dir(dir.path()).is_ok());
        let missing = dir.path().join("no-such-directory");
        assert!(matches!(
            sync_dir(&missing),
            Err(Error::Io {
                action: "open directory",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(name in ".{0,40}") {
            let _ = parse(&name);
        }

        #[test]
        fn any_number_round_trips(n: u64) {
            let dir = Path::new("d");
            prop_assert_eq!(parse(name_of(&wal_path(dir, n))), Some(FileKind::Wal(n)));
            prop_assert_eq!(parse(name_of(&manifest_path(dir, n))), Some(FileKind::Manifest(n)));
        }
    }
}

//! Offline verification of a database directory (`cairn debug check`).
//!
//! **Role**: reads files directly, without opening (or locking) the engine, so it also works on
//! a copy taken from a broken node. It checks: CURRENT names a readable MANIFEST whose edits
//! decode and form a valid file set; every live table exists with its recorded size, opens
//! (footer, index, filter, properties, range-del block checksums) and passes
//! [`crate::sst::Table::verify`] (every data block's checksum, decoding and key order); every
//! WAL that recovery would replay has intact records that decode as write batches. A torn WAL
//! tail is reported as a note, not a problem: recovery drops it by design.
//!
//! Every problem names the file and the byte offset (the [`Error`] it carries).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::batch::BatchOps;
use crate::error::{CorruptionKind, Error, Result};
use crate::file_meta::FileMeta;
use crate::filename::{self, FileKind};
use crate::manifest;
use crate::sst::Table;
use crate::wal;

/// What a check found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// The MANIFEST that CURRENT names.
    pub manifest: Option<PathBuf>,
    /// Live tables checked, by level.
    pub tables_checked: u64,
    /// Bytes of live tables read.
    pub table_bytes: u64,
    /// WAL files checked and the batches they hold.
    pub wals_checked: u64,
    pub wal_batches: u64,
    /// Damage found. Empty means the directory is clean.
    pub problems: Vec<Error>,
    /// Torn WAL tails (file, offset, bytes), which recovery drops.
    pub torn_tails: Vec<(PathBuf, u64, u64)>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies every live file of the database in `dir`. `Err` only when the directory cannot be
/// read at all; damage is reported in [`CheckReport::problems`].
pub fn check_dir(dir: &Path) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let number = match manifest::read_current(dir) {
        Ok(Some(n)) => n,
        Ok(None) => {
            report.problems.push(Error::corruption(
                filename::current_path(dir),
                0,
                CorruptionKind::Invalid("CURRENT is missing"),
            ));
            return Ok(report);
        }
        Err(e) => {
            report.problems.push(e);
            return Ok(report);
        }
    };
    let manifest_path = filename::manifest_path(dir, number);
    report.manifest = Some(manifest_path.clone());
    let mut live: BTreeMap<u64, (usize, FileMeta)> = BTreeMap::new();
    let mut log_number = 0u64;
    let replayed = manifest::replay_manifest(&manifest_path, |edit| {
        for (_, n) in &edit.deleted_files {
            live.remove(n);
        }
        for (level, meta) in &edit.added_files {
            live.insert(meta.number, (*level, meta.clone()));
        }
        if let Some(l) = edit.log_number {
            log_number = log_number.max(l);
        }
        Ok(())
    });
    match replayed {
        Err(e) => {
            report.problems.push(e);
            return Ok(report);
        }
        Ok(0) => {
            report.problems.push(Error::corruption(
                &manifest_path,
                0,
                CorruptionKind::Invalid("MANIFEST has no intact base record"),
            ));
            return Ok(report);
        }
        Ok(_) => {}
    }
    for (number, (_level, meta)) in &live {
        let path = filename::table_path(dir, *number);
        match std::fs::metadata(&path) {
            Ok(m) if m.len() != meta.size_bytes => {
                report.problems.push(Error::corruption(
                    &path,
                    m.len(),
                    CorruptionKind::Truncated { size: m.len() },
                ));
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                report
                    .problems
                    .push(Error::io("stat live sstable", &path, e));
                continue;
            }
        }
        let checked = Table::open(path, *number, meta.global_seqno, None).and_then(|t| t.verify());
        report.tables_checked += 1;
        report.table_bytes += meta.size_bytes;
        if let Err(e) = checked {
            report.problems.push(e);
        }
    }
    let mut wals: Vec<u64> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("list database directory", dir, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| match e.file_name().to_str().and_then(filename::parse) {
            Some(FileKind::Wal(n)) if n >= log_number => Some(n),
            _ => None,
        })
        .collect();
    wals.sort_unstable();
    for n in wals {
        let path = filename::wal_path(dir, n);
        let mut batches = 0u64;
        let r = wal::replay_wal(&path, |offset, payload| {
            BatchOps::new(payload)
                .and_then(BatchOps::collect_all)
                .map_err(|e| {
                    Error::decode(&path, offset + cairn_codec::frame::HEADER_BYTES as u64, e)
                })?;
            batches += 1;
            Ok(())
        });
        report.wals_checked += 1;
        report.wal_batches += batches;
        match r {
            Ok(replay) => {
                if let cairn_codec::frame::FrameEnd::TornTail { offset, bytes } = replay.end {
                    report.torn_tails.push((path, offset, bytes));
                }
            }
            Err(e) => report.problems.push(e),
        }
    }
    Ok(report)
}

//! `cairn debug ...`: offline inspection of a storage directory (tables, MANIFEST, whole-
//! database checks). Each subcommand reads files directly and never opens the database for
//! writing, so it is safe on a copy taken from a broken node.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn_lsm::check::check_dir;
use cairn_lsm::filename::{self, FileKind};
use cairn_lsm::ikey::ParsedKey;
use cairn_lsm::iter::InternalIterator;
use cairn_lsm::manifest;
use cairn_lsm::sst::Table;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print the properties, entries and range tombstones of one SSTable file.
    Sst {
        /// The `.sst` file.
        file: PathBuf,
        /// Print at most this many entries (0 = properties only).
        #[arg(long, default_value_t = 1000)]
        limit: u64,
    },
    /// Print the manifest edits of a database directory's MANIFEST.
    Manifest {
        /// The database directory.
        dir: PathBuf,
    },
    /// Verify every checksum of every live file of a database directory; exits non-zero,
    /// naming file and offset, when anything is damaged.
    Check {
        /// The database directory.
        dir: PathBuf,
    },
}

pub fn run(command: &DebugCommand) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        DebugCommand::Sst { file, limit } => dump_sst(file, *limit, &mut out),
        DebugCommand::Manifest { dir } => dump_manifest(dir, &mut out),
        DebugCommand::Check { dir } => check(dir, &mut out),
    }
}

/// Bytes as text where printable, `\xNN` otherwise; cut after `max` bytes.
fn escape(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    for b in bytes.iter().take(max) {
        if b.is_ascii_graphic() || *b == b' ' {
            s.push(char::from(*b));
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > max {
        s.push_str(&format!("...({} bytes)", bytes.len()));
    }
    s
}

fn dump_sst(file: &Path, limit: u64, out: &mut impl Write) -> anyhow::Result<()> {
    let number = match file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(filename::parse)
    {
        Some(FileKind::Table(n)) => n,
        _ => 0,
    };
    let table = Table::open(file.to_path_buf(), number, 0, None)?;
    let p = table.properties();
    writeln!(
        out,
        "file: {} ({} bytes)",
        file.display(),
        table.size_bytes()
    )?;
    writeln!(
        out,
        "entries: {} (deletes {}, range deletes {})",
        p.entry_count, p.deletion_count, p.range_deletion_count
    )?;
    writeln!(
        out,
        "raw key bytes: {}, raw value bytes: {}",
        p.raw_key_bytes, p.raw_value_bytes
    )?;
    writeln!(
        out,
        "data blocks: {} ({} bytes), index {} bytes, filter {} bytes",
        p.data_block_count, p.data_bytes, p.index_bytes, p.filter_bytes
    )?;
    writeln!(
        out,
        "seqno range: {}..={}",
        p.seqno_smallest, p.seqno_largest
    )?;
    writeln!(
        out,
        "compression: {}, bloom bits/key: {}",
        p.compression, p.bloom_bits_per_key
    )?;
    writeln!(out, "smallest: {}", describe_ikey(&p.smallest))?;
    writeln!(out, "largest: {}", describe_ikey(&p.largest))?;
    for t in table.range_tombstones() {
        writeln!(
            out,
            "range tombstone: [{}, {}) @{}",
            escape(&t.start, 64),
            escape(&t.end, 64),
            t.seqno
        )?;
    }
    if limit > 0 {
        let mut it = table.iter();
        it.seek_to_first()?;
        let mut n = 0u64;
        while it.valid() && n < limit {
            writeln!(
                out,
                "{} => {}",
                describe_ikey(it.key()),
                escape(it.value(), 64)
            )?;
            it.next()?;
            n += 1;
        }
        if it.valid() {
            writeln!(out, "... (more entries; raise --limit)")?;
        }
    }
    Ok(())
}

fn describe_ikey(k: &[u8]) -> String {
    match ParsedKey::parse(k) {
        Some(p) => format!("{} @{} {:?}", escape(p.user_key, 64), p.seqno, p.kind),
        None => format!("<malformed internal key {}>", escape(k, 64)),
    }
}

fn dump_manifest(dir: &Path, out: &mut impl Write) -> anyhow::Result<()> {
    let number = manifest::read_current(dir)?
        .with_context(|| format!("no CURRENT file in {}", dir.display()))?;
    let path = filename::manifest_path(dir, number);
    writeln!(out, "CURRENT -> {}", path.display())?;
    let mut index = 0u64;
    manifest::replay_manifest(&path, |edit| {
        let mut line = format!("edit {index}:");
        if let Some(n) = edit.log_number {
            line.push_str(&format!(" log_number={n}"));
        }
        if let Some(n) = edit.next_file_number {
            line.push_str(&format!(" next_file_number={n}"));
        }
        if let Some(n) = edit.last_seqno {
            line.push_str(&format!(" last_seqno={n}"));
        }
        let _ = writeln!(out, "{line}");
        for (level, n) in &edit.deleted_files {
            let _ = writeln!(out, "  - L{level} {n:06}.sst");
        }
        for (level, m) in &edit.added_files {
            let _ = writeln!(
                out,
                "  + L{level} {:06}.sst {} bytes, {} entries, seqno {}..={}, [{} .. {}]{}",
                m.number,
                m.size_bytes,
                m.entry_count,
                m.seqno_smallest,
                m.seqno_largest,
                describe_ikey(&m.smallest),
                describe_ikey(&m.largest),
                if m.global_seqno != 0 {
                    format!(" global_seqno={}", m.global_seqno)
                } else {
                    String::new()
                },
            );
        }
        index += 1;
        Ok(())
    })?;
    Ok(())
}

fn check(dir: &Path, out: &mut impl Write) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    let report = check_dir(dir)?;
    if let Some(m) = &report.manifest {
        writeln!(out, "manifest: {}", m.display())?;
    }
    writeln!(
        out,
        "tables checked: {} ({} bytes)",
        report.tables_checked, report.table_bytes
    )?;
    writeln!(
        out,
        "wals checked: {} ({} batches)",
        report.wals_checked, report.wal_batches
    )?;
    for (path, offset, bytes) in &report.torn_tails {
        writeln!(
            out,
            "note: torn tail in {} at offset {offset} ({bytes} bytes); recovery drops it",
            path.display()
        )?;
    }
    for p in &report.problems {
        writeln!(out, "CORRUPT: {}", error_chain(p))?;
    }
    if report.is_clean() {
        writeln!(out, "ok: no damage found")?;
        Ok(())
    } else {
        anyhow::bail!(
            "{} problem(s) found in {}",
            report.problems.len(),
            dir.display()
        )
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

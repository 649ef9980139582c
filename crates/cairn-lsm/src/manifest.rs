//! The MANIFEST: a log of manifest edits that records which files make up the database, and
//! `CURRENT`, which names the live MANIFEST.
//!
//! **Role**: the engine records every change to the set of live files (flush, compaction,
//! ingest, WAL rotation) as one [`ManifestEdit`] appended with [`ManifestWriter::append`], which
//! returns only once the edit is durable; only then may files the edit deletes be removed.
//! On open the engine reads `CURRENT` ([`read_current`]), replays that MANIFEST
//! ([`replay_manifest`]) and folds the edits into a file set. It then (and whenever the log
//! grows too long) starts a new MANIFEST with [`ManifestWriter::create`], whose first record
//! is a snapshot of the whole file set, and which switches `CURRENT` over atomically
//! ([`set_current`]). Framing and torn-tail handling are shared with the WAL
//! (`crate::wal`, built on `cairn_codec::frame`).
//!
//! # Invariants
//! 1. `encode` then `decode` gives back the same edit — proptest `edit_round_trips`;
//!    decoding never panics on arbitrary bytes — proptest `edit_decode_never_panics`,
//!    fuzz target `manifest_edit`.
//! 2. Decoding is strict: an unknown tag, a level above [`LEVEL_MAX`] or a repeated scalar
//!    field is an error, never skipped, so an edit written by a newer format is refused rather
//!    than half-applied — tests `edit_decode_rejects_*`.
//! 3. An edit is durable when `append` returns; a torn last record is an edit that was never
//!    acknowledged, so replay ignores it (with a warning) — test
//!    `manifest_torn_last_edit_is_ignored`. Damage before the tail, or a record whose checksum
//!    holds but does not decode, is `Corruption` at the record's offset — tests
//!    `manifest_damaged_middle_edit_is_corruption` and
//!    `manifest_undecodable_edit_is_corruption_at_its_record`.
//! 4. `CURRENT` always names a complete MANIFEST: it is switched only after the new MANIFEST
//!    and its directory entry are synced, by renaming a synced temporary file over it — tests
//!    `manifest_create_points_current_at_it`, `set_current_replaces_the_manifest_name`.
//! 5. The first record of every MANIFEST is a full snapshot (log number, next file number and
//!    last seqno all set, nothing deleted) — `assert!`s in [`ManifestWriter::create`].
//! 6. After a failed write or sync a writer refuses all work with [`Error::Poisoned`]; fsync
//!    is never retried — same rule and reasoning as `crate::wal`.
//!
//! # Concurrency
//! One [`ManifestWriter`] per open engine, used under the engine's file set lock (`&mut self`).
//! [`set_current`] must not race with itself; only the writer's owner calls it. Decoding and
//! replay are pure functions.
//!
//! # Format
//! A MANIFEST file `MANIFEST-{number:06}` is a sequence of frames exactly like the WAL
//! (`[len u32LE][masked crc32c u32LE][payload]`, see `crate::wal`), one [`ManifestEdit`] per
//! payload. A payload is a sequence of fields, each a varint tag followed by its value:
//! ```text
//! tag 1  log_number        varint u64
//! tag 2  next_file_number  varint u64
//! tag 3  last_seqno        varint u64
//! tag 4  deleted file      level u8 (0..=63) | file number varint u64
//! tag 5  added file        level u8 (0..=63) | number varint | size_bytes varint
//!                          | smallest: varint len + bytes | largest: varint len + bytes
//!                          | seqno_smallest varint | seqno_largest varint
//!                          | entry_count varint | tombstone_count varint | global_seqno varint
//! ```
//! Tags 1–3 appear at most once; 4 and 5 once per file. The encoder writes tags in the order
//! above; the decoder accepts any order. Tag 0 is never used, so zero fill never decodes.
//! There is no version byte: the format grows by new tags (a new field of an added file gets a
//! new tag for the whole record), and an older reader refuses a tag it does not know.
//!
//! Example (test `edit_worked_example_bytes`): log_number 5, next_file_number 9, last_seqno
//! 300, delete file 4 from L1, add file 8 to L2 (4096 bytes, keys `a`@1 to `b`@2, seqnos
//! 1..=2, 2 entries) encodes as
//! ```text
//! 01 05  02 09  03 ac 02  04 01 04
//! 05 02 08 80 20  09 61 01 01 00 00 00 00 00 00  09 62 01 02 00 00 00 00 00 00  01 02 02 00 00
//! ```
//! `CURRENT` holds the name of the live MANIFEST and a newline, e.g. `MANIFEST-000007\n`
//! (`4d 41 4e 49 46 45 53 54 2d 30 30 30 30 30 37 0a`); anything else is corruption.
//! `docs/format/manifest.md` mirrors this section.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use cairn_codec::frame;
use cairn_codec::varint;
use cairn_codec::{DecodeError, DecodeErrorReason, Decoder};

use crate::error::{CorruptionKind, Error, Result};
use crate::file_meta::FileMeta;
use crate::filename::{self, FileKind};
use crate::ikey::SeqNo;
use crate::wal;

/// Highest level number an edit may name (levels are stored in one byte; `Options::levels`
/// is far below this).
pub const LEVEL_MAX: usize = 63;

const TAG_LOG_NUMBER: u64 = 1;
const TAG_NEXT_FILE_NUMBER: u64 = 2;
const TAG_LAST_SEQNO: u64 = 3;
const TAG_DELETED_FILE: u64 = 4;
const TAG_ADDED_FILE: u64 = 5;

/// One change to the set of live files, or (as the first record of a MANIFEST) the whole set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestEdit {
    /// WALs numbered below this are fully flushed and no longer needed for recovery.
    pub log_number: Option<u64>,
    /// The next unused file number (WALs, tables and manifests share the counter).
    pub next_file_number: Option<u64>,
    /// Highest sequence number written to any file named by the file set.
    pub last_seqno: Option<SeqNo>,
    /// Files removed: (level, file number).
    pub deleted_files: Vec<(usize, u64)>,
    /// Files added: (level, metadata).
    pub added_files: Vec<(usize, FileMeta)>,
}

impl ManifestEdit {
    /// Appends the encoding of this edit to `out` (see the module docs for the layout).
    ///
    /// # Panics
    /// If a level exceeds [`LEVEL_MAX`]: the engine never builds such a level.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(n) = self.log_number {
            varint::put_u64(out, TAG_LOG_NUMBER);
            varint::put_u64(out, n);
        }
        if let Some(n) = self.next_file_number {
            varint::put_u64(out, TAG_NEXT_FILE_NUMBER);
            varint::put_u64(out, n);
        }
        if let Some(s) = self.last_seqno {
            varint::put_u64(out, TAG_LAST_SEQNO);
            varint::put_u64(out, s);
        }
        for &(level, number) in &self.deleted_files {
            varint::put_u64(out, TAG_DELETED_FILE);
            put_level(out, level);
            varint::put_u64(out, number);
        }
        for (level, meta) in &self.added_files {
            varint::put_u64(out, TAG_ADDED_FILE);
            put_level(out, *level);
            varint::put_u64(out, meta.number);
            varint::put_u64(out, meta.size_bytes);
            varint::put_len_prefixed(out, &meta.smallest);
            varint::put_len_prefixed(out, &meta.largest);
            varint::put_u64(out, meta.seqno_smallest);
            varint::put_u64(out, meta.seqno_largest);
            varint::put_u64(out, meta.entry_count);
            varint::put_u64(out, meta.tombstone_count);
            varint::put_u64(out, meta.global_seqno);
        }
    }

    /// Decodes one edit from untrusted bytes. Offsets in the error are relative to `bytes`.
    /// Checks structure only; whether the edit makes sense for a file set (files exist, key
    /// ranges ordered) is the file set builder's to check.
    pub fn decode(bytes: &[u8]) -> std::result::Result<ManifestEdit, DecodeError> {
        let mut d = Decoder::new(bytes);
        let mut edit = ManifestEdit::default();
        while !d.is_empty() {
            let tag_offset = d.position();
            let tag = d.varint_u64()?;
            match tag {
                TAG_LOG_NUMBER => {
                    let v = d.varint_u64()?;
                    set_once(&mut edit.log_number, v, tag_offset, "log number")?;
                }
                TAG_NEXT_FILE_NUMBER => {
                    let v = d.varint_u64()?;
                    set_once(
                        &mut edit.next_file_number,
                        v,
                        tag_offset,
                        "next file number",
                    )?;
                }
                TAG_LAST_SEQNO => {
                    let v = d.varint_u64()?;
                    set_once(&mut edit.last_seqno, v, tag_offset, "last seqno")?;
                }
                TAG_DELETED_FILE => {
                    let level = get_level(&mut d)?;
                    let number = d.varint_u64()?;
                    edit.deleted_files.push((level, number));
                }
                TAG_ADDED_FILE => {
                    let level = get_level(&mut d)?;
                    let meta = get_file_meta(&mut d)?;
                    edit.added_files.push((level, meta));
                }
                unknown => {
                    return Err(DecodeError {
                        offset: tag_offset,
                        what: "manifest edit tag",
                        reason: DecodeErrorReason::UnknownTag(unknown),
                    });
                }
            }
        }
        Ok(edit)
    }
}

fn put_level(out: &mut Vec<u8>, level: usize) {
    let byte = u8::try_from(level)
        .ok()
        .filter(|b| usize::from(*b) <= LEVEL_MAX);
    let Some(byte) = byte else {
        panic!("level {level} exceeds LEVEL_MAX ({LEVEL_MAX})");
    };
    out.push(byte);
}

fn get_level(d: &mut Decoder<'_>) -> std::result::Result<usize, DecodeError> {
    let offset = d.position();
    let level = usize::from(d.u8("level")?);
    if level > LEVEL_MAX {
        return Err(DecodeError {
            offset,
            what: "level",
            reason: DecodeErrorReason::OutOfRange,
        });
    }
    Ok(level)
}

fn set_once(
    field: &mut Option<u64>,
    value: u64,
    tag_offset: usize,
    what: &'static str,
) -> std::result::Result<(), DecodeError> {
    if field.is_some() {
        return Err(DecodeError {
            offset: tag_offset,
            what,
            reason: DecodeErrorReason::Malformed,
        });
    }
    *field = Some(value);
    Ok(())
}

fn get_file_meta(d: &mut Decoder<'_>) -> std::result::Result<FileMeta, DecodeError> {
    Ok(FileMeta {
        number: d.varint_u64()?,
        size_bytes: d.varint_u64()?,
        smallest: d.len_prefixed("smallest key")?.to_vec(),
        largest: d.len_prefixed("largest key")?.to_vec(),
        seqno_smallest: d.varint_u64()?,
        seqno_largest: d.varint_u64()?,
        entry_count: d.varint_u64()?,
        tombstone_count: d.varint_u64()?,
        global_seqno: d.varint_u64()?,
    })
}

/// Appends manifest edits to one MANIFEST file, each durable before `append` returns.
pub struct ManifestWriter {
    file: File,
    path: PathBuf,
    number: u64,
    /// Bytes written and synced so far.
    size_bytes: u64,
    /// Set by a failed write or sync; every later call returns [`Error::Poisoned`].
    failed: bool,
}

impl std::fmt::Debug for ManifestWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestWriter")
            .field("path", &self.path)
            .field("size_bytes", &self.size_bytes)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl ManifestWriter {
    /// Creates `MANIFEST-{number:06}` in `dir` (failing if it exists), writes `base` as its
    /// first record, fsyncs the file and the directory, then points `CURRENT` at it with
    /// [`set_current`]. On error the new file may remain; `CURRENT` then still names the old
    /// MANIFEST (or, if only the final directory sync failed, either one), and the engine
    /// treats the error as fatal.
    ///
    /// # Panics
    /// If `base` is not a full snapshot: `log_number`, `next_file_number` and `last_seqno`
    /// must be set and `deleted_files` empty, because replay starts from this record alone.
    pub fn create(dir: &Path, number: u64, base: &ManifestEdit) -> Result<ManifestWriter> {
        assert!(
            base.log_number.is_some(),
            "manifest base edit lacks log_number"
        );
        assert!(
            base.next_file_number.is_some(),
            "manifest base edit lacks next_file_number"
        );
        assert!(
            base.last_seqno.is_some(),
            "manifest base edit lacks last_seqno"
        );
        assert!(
            base.deleted_files.is_empty(),
            "manifest base edit deletes {} files",
            base.deleted_files.len()
        );
        let path = filename::manifest_path(dir, number);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create manifest", &path, e))?;
        let mut writer = ManifestWriter {
            file,
            path,
            number,
            size_bytes: 0,
            failed: false,
        };
        writer.append(base)?;
        filename::sync_dir(dir)?;
        set_current(dir, number)?;
        Ok(writer)
    }

    /// Appends `edit` as one framed record and fsyncs it: the edit is durable when this
    /// returns `Ok`. A failure poisons the writer; the edit may or may not survive a crash.
    pub fn append(&mut self, edit: &ManifestEdit) -> Result<()> {
        if self.failed {
            return Err(Error::Poisoned);
        }
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        if payload.len() as u64 > u64::from(frame::PAYLOAD_BYTES_MAX) {
            return Err(Error::InvalidArgument(
                "manifest edit exceeds the 1 GiB record limit",
            ));
        }
        let mut record = Vec::with_capacity(frame::framed_len(payload.len()));
        frame::encode(&mut record, &payload);
        if let Err(e) = self.file.write_all(&record) {
            self.failed = true;
            return Err(Error::io("append manifest", &self.path, e));
        }
        if let Err(e) = self.file.sync_data() {
            self.failed = true;
            return Err(Error::io("sync manifest", &self.path, e));
        }
        self.size_bytes += record.len() as u64;
        Ok(())
    }

    /// Bytes of the MANIFEST so far (the engine starts a new one past a size limit).
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The MANIFEST's file number.
    pub fn number(&self) -> u64 {
        self.number
    }
}

/// The MANIFEST number `CURRENT` names; `Ok(None)` when `dir` has no `CURRENT` (no database).
/// Content other than exactly `MANIFEST-{number:06}\n` is `Corruption` at offset 0.
pub fn read_current(dir: &Path) -> Result<Option<u64>> {
    let path = filename::current_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read CURRENT", &path, e)),
    };
    let name = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.strip_suffix('\n'));
    match name.and_then(filename::parse) {
        Some(FileKind::Manifest(number)) => Ok(Some(number)),
        _ => Err(Error::corruption(
            &path,
            0,
            CorruptionKind::Invalid("CURRENT does not hold a manifest name and a newline"),
        )),
    }
}

/// Atomically points `CURRENT` at `MANIFEST-{number:06}`: writes `CURRENT.{number:06}.tmp`,
/// fsyncs it, renames it over `CURRENT` and fsyncs the directory. A crash at any point leaves
/// `CURRENT` naming either the old or the new MANIFEST, never a partial name. On failure the
/// temporary file is removed if possible (a leftover is a `Temp` file, deleted on open).
pub fn set_current(dir: &Path, number: u64) -> Result<()> {
    let current = filename::current_path(dir);
    let tmp = dir.join(format!("CURRENT.{number:06}.tmp"));
    let contents = format!("{}\n", filename::manifest_file_name(number));
    let replace = || -> Result<()> {
        let mut file = File::create(&tmp).map_err(|e| Error::io("create CURRENT temp", &tmp, e))?;
        file.write_all(contents.as_bytes())
            .map_err(|e| Error::io("write CURRENT temp", &tmp, e))?;
        file.sync_all()
            .map_err(|e| Error::io("sync CURRENT temp", &tmp, e))?;
        std::fs::rename(&tmp, &current).map_err(|e| Error::io("rename CURRENT", &current, e))
    };
    if let Err(e) = replace() {
        // Best effort: the error that matters is `e`; a leftover temp file is harmless.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    filename::sync_dir(dir)
}

/// Reads MANIFEST `path` and calls `f` with each edit in order; returns the number of edits.
/// See [`replay_manifest_bytes`].
pub fn replay_manifest(path: &Path, f: impl FnMut(ManifestEdit) -> Result<()>) -> Result<u64> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read manifest", path, e))?;
    replay_manifest_bytes(path, &bytes, f)
}

/// Replays a MANIFEST held in memory; `path` only names it in errors and logs.
///
/// A torn last record (an edit whose `append` never returned) is ignored and logged with a
/// warning. Damage before the tail is `Corruption` at the damaged record's offset. A record
/// whose checksum holds but which does not decode is `Corruption` at the record's offset,
/// with kind `Decode` giving the offset inside its payload. An error from `f` stops replay
/// and is returned unchanged.
pub fn replay_manifest_bytes(
    path: &Path,
    bytes: &[u8],
    mut f: impl FnMut(ManifestEdit) -> Result<()>,
) -> Result<u64> {
    let replay = wal::replay_frames(path, bytes, "manifest", |offset, payload| {
        let edit = ManifestEdit::decode(payload)
            .map_err(|e| Error::corruption(path, offset, CorruptionKind::Decode(e)))?;
        f(edit)
    })?;
    Ok(replay.records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ikey::{self, ValueKind};
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn meta(number: u64) -> FileMeta {
        FileMeta {
            number,
            size_bytes: 4096,
            smallest: ikey::encode(b"a", 1, ValueKind::Put),
            largest: ikey::encode(b"b", 2, ValueKind::Put),
            seqno_smallest: 1,
            seqno_largest: 2,
            entry_count: 2,
            tombstone_count: 0,
            global_seqno: 0,
        }
    }

    fn base() -> ManifestEdit {
        ManifestEdit {
            log_number: Some(3),
            next_file_number: Some(10),
            last_seqno: Some(42),
            deleted_files: vec![],
            added_files: vec![(0, meta(7)), (1, meta(8))],
        }
    }

    fn encoded(edit: &ManifestEdit) -> Vec<u8> {
        let mut out = Vec::new();
        edit.encode(&mut out);
        out
    }

    fn replay_all(path: &Path) -> Result<(Vec<ManifestEdit>, u64)> {
        let mut edits = Vec::new();
        let n = replay_manifest(path, |e| {
            edits.push(e);
            Ok(())
        })?;
        Ok((edits, n))
    }

    /// A manifest with `base()` and three more edits; returns (path, edits, record offsets).
    fn four_edit_manifest(dir: &Path) -> (PathBuf, Vec<ManifestEdit>, Vec<u64>) {
        let mut edits = vec![base()];
        let mut offsets = vec![0];
        let mut w = ManifestWriter::create(dir, 2, &base()).expect("create manifest");
        for i in 0..3u64 {
            let edit = ManifestEdit {
                log_number: Some(4 + i),
                deleted_files: vec![(0, 7 + i)],
                added_files: vec![(1, meta(20 + i))],
                ..ManifestEdit::default()
            };
            offsets.push(w.size_bytes());
            w.append(&edit).expect("append");
            edits.push(edit);
        }
        (filename::manifest_path(dir, 2), edits, offsets)
    }

    fn edit_strategy() -> impl Strategy<Value = ManifestEdit> {
        let meta = (
            any::<u64>(),
            any::<u64>(),
            vec(any::<u8>(), 0..24),
            vec(any::<u8>(), 0..24),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        )
            .prop_map(
                |(number, size_bytes, smallest, largest, s0, s1, entries, tombs, global)| {
                    FileMeta {
                        number,
                        size_bytes,
                        smallest,
                        largest,
                        seqno_smallest: s0,
                        seqno_largest: s1,
                        entry_count: entries,
                        tombstone_count: tombs,
                        global_seqno: global,
                    }
                },
            );
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
            vec((0..=LEVEL_MAX, any::<u64>()), 0..6),
            vec((0..=LEVEL_MAX, meta), 0..6),
        )
            .prop_map(
                |(log_number, next_file_number, last_seqno, deleted_files, added_files)| {
                    ManifestEdit {
                        log_number,
                        next_file_number,
                        last_seqno,
                        deleted_files,
                        added_files,
                    }
                },
            )
    }

    #[test]
    fn edit_worked_example_bytes() {
        let edit = ManifestEdit {
            log_number: Some(5),
            next_file_number: Some(9),
            last_seqno: Some(300),
            deleted_files: vec![(1, 4)],
            added_files: vec![(2, meta(8))],
        };
        let bytes = encoded(&edit);
        #[rustfmt::skip]
        let expected = [
            0x01, 0x05, 0x02, 0x09, 0x03, 0xac, 0x02, 0x04, 0x01, 0x04,
            0x05, 0x02, 0x08, 0x80, 0x20,
            0x09, 0x61, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x09, 0x62, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x01, 0x02, 0x02, 0x00, 0x00,
        ];
        assert_eq!(bytes, expected);
        assert_eq!(ManifestEdit::decode(&bytes), Ok(edit));
        // A framed record holding the edit {log_number 5}, as in docs/format/manifest.md.
        let mut record = Vec::new();
        frame::encode(&mut record, &[0x01, 0x05]);
        assert_eq!(
            record,
            [0x02, 0x00, 0x00, 0x00, 0xc2, 0x40, 0xc8, 0x42, 0x01, 0x05]
        );
    }

    #[test]
    fn empty_edit_encodes_to_nothing() {
        assert!(encoded(&ManifestEdit::default()).is_empty());
        assert_eq!(ManifestEdit::decode(&[]), Ok(ManifestEdit::default()));
    }

    #[test]
    fn edit_decode_rejects_unknown_tag() {
        let mut bytes = encoded(&ManifestEdit {
            log_number: Some(1),
            ..ManifestEdit::default()
        });
        bytes.extend_from_slice(&[0x06, 0x00]);
        let e = ManifestEdit::decode(&bytes).err();
        assert_eq!(
            e.map(|e| (e.offset, e.reason)),
            Some((2, DecodeErrorReason::UnknownTag(6)))
        );
        let e = ManifestEdit::decode(&[0x00]).err();
        assert_eq!(e.map(|e| e.reason), Some(DecodeErrorReason::UnknownTag(0)));
    }

    #[test]
    fn edit_decode_rejects_level_above_max() {
        let ok = ManifestEdit::decode(&[0x04, 63, 0x01]);
        assert_eq!(ok.map(|e| e.deleted_files), Ok(vec![(63, 1)]));
        for bytes in [[0x04u8, 64, 0x01], [0x05, 0xff, 0x01]] {
            let e = ManifestEdit::decode(&bytes).err();
            assert_eq!(
                e.map(|e| (e.offset, e.reason)),
                Some((1, DecodeErrorReason::OutOfRange))
            );
        }
    }

    #[test]
    fn edit_decode_rejects_repeated_scalar_field() {
        let e = ManifestEdit::decode(&[0x03, 0x01, 0x03, 0x02]).err();
        assert_eq!(
            e.map(|e| (e.offset, e.reason)),
            Some((2, DecodeErrorReason::Malformed))
        );
    }

    #[test]
    fn edit_decode_rejects_truncated_added_file() {
        let bytes = encoded(&ManifestEdit {
            added_files: vec![(3, meta(9))],
            ..Default::default()
        });
        for cut in 1..bytes.len() {
            let short = bytes.get(..cut).unwrap_or(&[]);
            let e = ManifestEdit::decode(short).err();
            assert_eq!(
                e.map(|e| e.reason),
                Some(DecodeErrorReason::Truncated),
                "cut {cut}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "exceeds LEVEL_MAX")]
    fn edit_encode_refuses_level_above_max() {
        let edit = ManifestEdit {
            deleted_files: vec![(64, 1)],
            ..ManifestEdit::default()
        };
        let _ = encoded(&edit);
    }

    #[test]
    fn manifest_replay_returns_base_then_edits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, edits, _) = four_edit_manifest(dir.path());
        let (got, n) = replay_all(&path).expect("replay");
        assert_eq!(got, edits);
        assert_eq!(n, 4);
    }

    #[test]
    fn manifest_create_points_current_at_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(read_current(dir.path()).expect("read CURRENT"), None);
        let w = ManifestWriter::create(dir.path(), 5, &base()).expect("create manifest");
        assert_eq!(w.number(), 5);
        let len = std::fs::metadata(filename::manifest_path(dir.path(), 5))
            .expect("stat")
            .len();
        assert_eq!(w.size_bytes(), len);
        assert_eq!(read_current(dir.path()).expect("read CURRENT"), Some(5));
        let again = ManifestWriter::create(dir.path(), 5, &base());
        assert!(
            matches!(
                again,
                Err(Error::Io {
                    action: "create manifest",
                    ..
                })
            ),
            "{again:?}"
        );
    }

    #[test]
    #[should_panic(expected = "lacks next_file_number")]
    fn manifest_create_refuses_a_base_that_is_not_a_snapshot() {
        let dir = tempfile::tempdir().expect("temp dir");
        let partial = ManifestEdit {
            next_file_number: None,
            ..base()
        };
        let _ = ManifestWriter::create(dir.path(), 1, &partial);
    }

    #[test]
    fn manifest_torn_last_edit_is_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, edits, offsets) = four_edit_manifest(dir.path());
        let len = std::fs::metadata(&path).expect("stat").len();
        let last = offsets.last().copied().expect("offsets");
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        for cut in (last + 1..len).rev() {
            file.set_len(cut).expect("truncate");
            let (got, n) = replay_all(&path).expect("torn tail is not an error");
            assert_eq!(Some(got.as_slice()), edits.get(..3), "cut at {cut}");
            assert_eq!(n, 3);
        }
    }

    #[test]
    fn manifest_damaged_middle_edit_is_corruption() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, _, offsets) = four_edit_manifest(dir.path());
        let mut bytes = std::fs::read(&path).expect("read");
        let second = offsets.get(2).copied().expect("offsets");
        if let Some(b) = bytes.get_mut(usize::try_from(second).expect("offset") + 9) {
            *b ^= 0x04;
        }
        std::fs::write(&path, &bytes).expect("write");
        match replay_all(&path) {
            Err(Error::Corruption {
                offset,
                kind: CorruptionKind::Checksum { .. },
                ..
            }) => {
                assert_eq!(offset, second);
            }
            other => panic!("expected a checksum corruption, got {other:?}"),
        }
    }

    #[test]
    fn manifest_undecodable_edit_is_corruption_at_its_record() {
        let mut bytes = Vec::new();
        frame::encode(&mut bytes, &encoded(&base()));
        let bad_at = bytes.len() as u64;
        frame::encode(&mut bytes, &[0x01, 0x05, 0x09, 0x00]); // tag 9 is unknown
        frame::encode(&mut bytes, &encoded(&ManifestEdit::default()));
        let mut seen = 0;
        let path = Path::new("MANIFEST-000001");
        let result = replay_manifest_bytes(path, &bytes, |_| {
            seen += 1;
            Ok(())
        });
        assert_eq!(seen, 1);
        match result {
            Err(Error::Corruption {
                offset,
                kind: CorruptionKind::Decode(e),
                ..
            }) => {
                assert_eq!(offset, bad_at);
                assert_eq!((e.offset, e.reason), (2, DecodeErrorReason::UnknownTag(9)));
            }
            other => panic!("expected a decode corruption, got {other:?}"),
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn manifest_failed_append_poisons_the_writer() {
        // /dev/full fails every write with ENOSPC.
        let file = OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full");
        let mut w = ManifestWriter {
            file,
            path: PathBuf::from("/dev/full"),
            number: 1,
            size_bytes: 0,
            failed: false,
        };
        let first = w.append(&base());
        assert!(
            matches!(
                first,
                Err(Error::Io {
                    action: "append manifest",
                    ..
                })
            ),
            "{first:?}"
        );
        assert!(matches!(w.append(&base()), Err(Error::Poisoned)));
        assert_eq!(w.size_bytes(), 0);
    }

    #[test]
    fn current_set_and_read_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        for n in [7, 1_234_567] {
            set_current(dir.path(), n).expect("set CURRENT");
            assert_eq!(read_current(dir.path()).expect("read CURRENT"), Some(n));
        }
        let raw = std::fs::read(filename::current_path(dir.path())).expect("read");
        assert_eq!(raw, b"MANIFEST-1234567\n");
    }

    #[test]
    fn current_with_garbage_is_corruption() {
        let dir = tempfile::tempdir().expect("temp dir");
        let current = filename::current_path(dir.path());
        let garbage: [&[u8]; 8] = [
            b"",
            b"MANIFEST-000007",
            b"MANIFEST-7\n",
            b"MANIFEST-000007\n\n",
            b"000007.log\n",
            b"\xff\xfe\n",
            b"MANIFEST-000007\r\n",
            b"\0\0\0\0",
        ];
        for content in garbage {
            std::fs::write(&current, content).expect("write CURRENT");
            match read_current(dir.path()) {
                Err(Error::Corruption {
                    path, offset: 0, ..
                }) => assert_eq!(path, current),
                other => panic!("{content:?}: expected corruption at offset 0, got {other:?}"),
            }
        }
    }

    #[test]
    fn set_current_replaces_the_manifest_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let _old = ManifestWriter::create(dir.path(), 2, &base()).expect("create manifest 2");
        assert_eq!(read_current(dir.path()).expect("read CURRENT"), Some(2));
        let _new = ManifestWriter::create(dir.path(), 9, &base()).expect("create manifest 9");
        assert_eq!(read_current(dir.path()).expect("read CURRENT"), Some(9));
        // A stale temp file from a crashed switch does not get in the way.
        std::fs::write(dir.path().join("CURRENT.000011.tmp"), b"MANIF").expect("write");
        set_current(dir.path(), 11).expect("set CURRENT");
        assert_eq!(read_current(dir.path()).expect("read CURRENT"), Some(11));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        assert_eq!(names, ["CURRENT", "MANIFEST-000002", "MANIFEST-000009"]);
    }

    proptest! {
        #[test]
        fn edit_round_trips(edit in edit_strategy()) {
            let bytes = encoded(&edit);
            prop_assert_eq!(ManifestEdit::decode(&bytes), Ok(edit));
        }

        #[test]
        fn edit_decode_never_panics(bytes in vec(any::<u8>(), 0..256)) {
            if let Ok(edit) = ManifestEdit::decode(&bytes) {
                // Whatever decodes re-encodes to something that decodes the same.
                prop_assert_eq!(ManifestEdit::decode(&encoded(&edit)), Ok(edit));
            }
        }

        #[test]
        fn manifest_replay_never_panics(bytes in vec(any::<u8>(), 0..512)) {
            let _ = replay_manifest_bytes(Path::new("m"), &bytes, |_| Ok(()));
        }

        #[test]
        fn manifest_replay_returns_framed_edits(edits in vec(edit_strategy(), 0..6)) {
            let mut bytes = Vec::new();
            for e in &edits {
                frame::encode(&mut bytes, &encoded(e));
            }
            let mut got = Vec::new();
            let n = replay_manifest_bytes(Path::new("m"), &bytes, |e| { got.push(e); Ok(()) });
            prop_assert_eq!(n.ok(), Some(edits.len() as u64));
            prop_assert_eq!(got, edits);
        }
    }
}

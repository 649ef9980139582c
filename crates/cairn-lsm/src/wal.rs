//! Write-ahead log: an append-only file of checksummed records, one record per write batch.
//!
//! **Role**: the engine's group-commit leader appends the batches of every waiting writer with
//! one [`WalWriter::append`] (one `write_all`), then [`WalWriter::sync`]s when any of them asked
//! for durability, and only then applies them to the memtable. On open the engine calls
//! [`replay_wal`] on every log at or above the MANIFEST's `log_number` and re-applies the
//! batches. This module does not know what a batch contains: payloads are opaque bytes. It
//! builds on `cairn_codec::frame` for the framing and its torn-tail classification.
//!
//! # Format
//! A log `{number:06}.log` is a sequence of frames with no file header and no padding:
//! ```text
//! +-----------+-----------+------------------------+-----------+-----------+---------
//! | len u32LE | crc u32LE | payload (len bytes)    | len u32LE | crc u32LE | ...
//! +-----------+-----------+------------------------+-----------+-----------+---------
//!   offset 0    offset 4    offset 8                 offset 8+len
//! ```
//! `crc` is the masked CRC-32C of the four `len` bytes followed by the payload; `len` is at
//! most 2^30. The format carries no version byte: the payload (the write batch encoding)
//! carries its own. Example: one record with payload `"ab"` is the 10 bytes
//! `02 00 00 00 | a3 29 de a7 | 61 62` (test `worked_example_bytes`). `docs/format/wal.md`
//! mirrors this section.
//!
//! # Reading a log back
//! - Every record is returned in order with the file offset of its header.
//! - The log may end in a *torn tail*: a record cut short, a last record whose checksum fails,
//!   or zero bytes — what a crash during the final write leaves. Replay stops before it,
//!   reports it as [`FrameEnd::TornTail`] and logs a warning; such a write was never
//!   acknowledged as durable.
//! - A damaged record with more data after it cannot come from a crash of an append-only file,
//!   so it is [`Error::Corruption`] at the record's offset, never skipped.
//! - Known limit of the framing: a bit flip that makes a middle record's length run past the
//!   end of the file is indistinguishable from a torn tail (the length has no checksum of its
//!   own), so the records after it are dropped as a tail.
//!
//! # Invariants
//! 1. Records replay in append order, each exactly as appended — test
//!    `wal_replays_every_record_in_order_across_groups`; fuzz target `wal_record` re-frames
//!    the replayed payloads and compares them with the valid prefix.
//! 2. A cut anywhere inside the last record loses only that record — test
//!    `wal_truncated_inside_last_record_is_a_torn_tail`.
//! 3. Damage before the tail is `Corruption` with the damaged record's offset — test
//!    `wal_flipped_byte_in_middle_record_is_corruption_at_its_offset`.
//! 4. Bytes from disk never cause a panic — fuzz target `wal_record`, proptest
//!    `replay_never_panics`.
//! 5. After a failed write or sync the writer refuses all further work with
//!    [`Error::Poisoned`]: the bytes on disk are unknown, and an fsync that failed must not be
//!    retried (a retry can report success for pages the kernel already dropped) — test
//!    `wal_failed_write_poisons_the_writer`.
//! 6. A log is never appended to after a crash: the engine replays old logs and starts a new
//!    number, so a torn tail never becomes damage in the middle. There is deliberately no
//!    "open for append".
//!
//! # Concurrency
//! A [`WalWriter`] has one owner (`&mut self`); the engine serialises appends under its write
//! lock. Replay functions are pure over the bytes they are given and may run on any thread.
//! [`replay_wal`] reads the whole log into memory: a log holds at most about one memtable of
//! batches (`Options::memtable_bytes`) plus the group being written when it was rotated.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use cairn_codec::frame::{self, FrameEnd, FrameError, FrameErrorReason, FrameReader};

use crate::error::{CorruptionKind, Error, Result};
use crate::filename;

/// Capacity of the framing buffer kept between appends. A larger group allocates for itself
/// and the buffer shrinks back, so one huge batch does not pin its memory for the log's life.
const APPEND_BUFFER_BYTES_RETAINED_MAX: usize = 1 << 20;

/// Appends framed records to one write-ahead log file.
pub struct WalWriter {
    file: File,
    path: PathBuf,
    number: u64,
    /// Bytes successfully handed to the OS (written, maybe not yet synced).
    size_bytes: u64,
    /// Reused framing buffer, at most [`APPEND_BUFFER_BYTES_RETAINED_MAX`] between appends.
    buf: Vec<u8>,
    /// Set by a failed write or sync; every later call returns [`Error::Poisoned`].
    failed: bool,
}

impl std::fmt::Debug for WalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter")
            .field("path", &self.path)
            .field("size_bytes", &self.size_bytes)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl WalWriter {
    /// Creates `{number:06}.log` in `dir` (failing if it exists) and fsyncs the directory so
    /// the new name survives a crash.
    pub fn create(dir: &Path, number: u64) -> Result<WalWriter> {
        let path = filename::wal_path(dir, number);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create wal", &path, e))?;
        filename::sync_dir(dir)?;
        Ok(WalWriter {
            file,
            path,
            number,
            size_bytes: 0,
            buf: Vec::new(),
            failed: false,
        })
    }

    /// Frames every payload (one record each, in order) and writes them all with one
    /// `write_all`: a group commit of many batches costs one system call. Not durable until
    /// [`Self::sync`]. An empty `payloads` writes nothing.
    ///
    /// A payload longer than 1 GiB (`frame::PAYLOAD_BYTES_MAX`) is refused with
    /// `InvalidArgument` before anything is written. A failed write poisons the writer.
    pub fn append(&mut self, payloads: &[&[u8]]) -> Result<()> {
        if self.failed {
            return Err(Error::Poisoned);
        }
        if payloads.is_empty() {
            return Ok(());
        }
        let payload_max = u64::from(frame::PAYLOAD_BYTES_MAX);
        if payloads.iter().any(|p| p.len() as u64 > payload_max) {
            return Err(Error::InvalidArgument(
                "write batch exceeds the 1 GiB wal record limit",
            ));
        }
        let group_bytes: usize = payloads.iter().map(|p| frame::framed_len(p.len())).sum();
        self.buf.clear();
        self.buf.reserve(group_bytes);
        for payload in payloads {
            frame::encode(&mut self.buf, payload);
        }
        debug_assert_eq!(self.buf.len(), group_bytes);
        if let Err(e) = self.file.write_all(&self.buf) {
            self.failed = true;
            return Err(Error::io("append wal", &self.path, e));
        }
        self.size_bytes += self.buf.len() as u64;
        self.buf.clear();
        self.buf.shrink_to(APPEND_BUFFER_BYTES_RETAINED_MAX);
        Ok(())
    }

    /// Makes every appended record durable (`fdatasync`). A failure poisons the writer and is
    /// never retried.
    pub fn sync(&mut self) -> Result<()> {
        if self.failed {
            return Err(Error::Poisoned);
        }
        self.file.sync_data().map_err(|e| {
            self.failed = true;
            Error::io("sync wal", &self.path, e)
        })
    }

    /// Bytes appended so far (synced or not); the file's length if no write failed.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The log's file number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Path of the log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Outcome of replaying a log (or a MANIFEST, which uses the same framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalReplay {
    /// Complete records passed to the callback.
    pub records: u64,
    /// `Clean`, or `TornTail` with the offset and length of the dropped tail.
    pub end: FrameEnd,
    /// Length of the valid prefix: the offset just past the last complete record.
    pub valid_bytes: u64,
}

/// Reads log `path` and calls `f(offset, payload)` for each complete record, in order;
/// `offset` is the file offset of the record's header. See [`replay_wal_bytes`].
pub fn replay_wal(path: &Path, f: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<WalReplay> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read wal", path, e))?;
    replay_wal_bytes(path, &bytes, f)
}

/// Replays a log held in memory; `path` only names it in errors and logs.
///
/// A torn tail ends replay normally: it is reported in the result and logged with a warning
/// naming the file, offset and bytes dropped. A damaged record followed by more data is
/// `Err(Error::Corruption)` at the record's offset, after the records before it were passed
/// to `f`. An error returned by `f` stops replay and is returned unchanged.
pub fn replay_wal_bytes(
    path: &Path,
    bytes: &[u8],
    f: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<WalReplay> {
    replay_frames(path, bytes, "wal", f)
}

/// The replay loop shared by the WAL and the MANIFEST. `log` names the kind of file in the
/// torn-tail warning.
pub(crate) fn replay_frames(
    path: &Path,
    bytes: &[u8],
    log: &'static str,
    mut f: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<WalReplay> {
    let mut reader = FrameReader::new(bytes, 0);
    let mut records = 0u64;
    while let Some(next) = reader.next() {
        let (offset, payload) = next.map_err(|e| frame_corruption(path, e))?;
        f(offset, payload)?;
        records += 1;
    }
    let valid_bytes = reader.good_offset();
    let Some(end) = reader.end() else {
        unreachable!("FrameReader::end is set once next has returned None");
    };
    match end {
        FrameEnd::Clean => debug_assert_eq!(valid_bytes, bytes.len() as u64),
        FrameEnd::TornTail {
            offset,
            bytes: dropped,
        } => {
            debug_assert_eq!(offset, valid_bytes);
            debug_assert_eq!(offset + dropped, bytes.len() as u64);
            tracing::warn!(
                file = %path.display(),
                offset,
                bytes_dropped = dropped,
                records,
                "{log} ends in a torn record (a write cut short by a crash); replay stops before it"
            );
        }
    }
    Ok(WalReplay {
        records,
        end,
        valid_bytes,
    })
}

/// Converts a framing error (damage before the tail) into the engine's corruption error.
pub(crate) fn frame_corruption(path: &Path, e: FrameError) -> Error {
    let kind = match e.reason {
        FrameErrorReason::Checksum { stored, computed } => {
            CorruptionKind::Checksum { stored, computed }
        }
        FrameErrorReason::LengthTooLarge(_) => {
            CorruptionKind::Invalid("record length exceeds the 1 GiB maximum")
        }
        _ => CorruptionKind::Invalid("damaged record frame"),
    };
    Error::corruption(path, e.offset, kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Records = Vec<(u64, Vec<u8>)>;

    fn collect(path: &Path, bytes: &[u8]) -> (Records, Result<WalReplay>) {
        let mut seen = Vec::new();
        let result = replay_wal_bytes(path, bytes, |offset, payload| {
            seen.push((offset, payload.to_vec()));
            Ok(())
        });
        (seen, result)
    }

    fn collect_file(path: &Path) -> (Records, Result<WalReplay>) {
        let mut seen = Vec::new();
        let result = replay_wal(path, |offset, payload| {
            seen.push((offset, payload.to_vec()));
            Ok(())
        });
        (seen, result)
    }

    /// Writes `payloads` as one group each and returns the expected `(offset, payload)` list.
    fn write_groups(wal: &mut WalWriter, groups: &[Vec<Vec<u8>>]) -> Records {
        let mut expected = Vec::new();
        for group in groups {
            let mut offset = wal.size_bytes();
            for p in group {
                expected.push((offset, p.clone()));
                offset += frame::framed_len(p.len()) as u64;
            }
            let refs: Vec<&[u8]> = group.iter().map(Vec::as_slice).collect();
            wal.append(&refs).expect("append");
            assert_eq!(wal.size_bytes(), offset);
        }
        wal.sync().expect("sync");
        expected
    }

    fn three_records(dir: &Path) -> (PathBuf, Records) {
        let mut wal = WalWriter::create(dir, 3).expect("create wal");
        let groups = vec![
            vec![b"first record".to_vec()],
            vec![b"the middle record".to_vec()],
            vec![vec![0x5a; 40]],
        ];
        let expected = write_groups(&mut wal, &groups);
        (wal.path().to_path_buf(), expected)
    }

    #[test]
    fn worked_example_bytes() {
        let mut out = Vec::new();
        frame::encode(&mut out, b"ab");
        assert_eq!(
            out,
            [0x02, 0x00, 0x00, 0x00, 0xa3, 0x29, 0xde, 0xa7, 0x61, 0x62]
        );
        let (seen, result) = collect(Path::new("000001.log"), &out);
        assert_eq!(seen, vec![(0, b"ab".to_vec())]);
        let replay = result.expect("replay");
        assert_eq!(
            replay,
            WalReplay {
                records: 1,
                end: FrameEnd::Clean,
                valid_bytes: 10
            }
        );
    }

    #[test]
    fn wal_replays_every_record_in_order_across_groups() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut wal = WalWriter::create(dir.path(), 7).expect("create wal");
        assert_eq!(wal.number(), 7);
        assert_eq!(wal.path(), filename::wal_path(dir.path(), 7));
        let groups: Vec<Vec<Vec<u8>>> = (0..60u32)
            .map(|g| {
                (0..g % 7)
                    .map(|r| {
                        let mut p = format!("group {g} record {r}").into_bytes();
                        p.resize(p.len() + usize::try_from(g * r).unwrap_or(0), 0xab);
                        if r == 2 {
                            p.clear();
                        }
                        p
                    })
                    .collect()
            })
            .collect();
        let expected = write_groups(&mut wal, &groups);
        let size = wal.size_bytes();
        drop(wal);
        let len = std::fs::metadata(filename::wal_path(dir.path(), 7))
            .expect("stat")
            .len();
        assert_eq!(len, size);

        let (seen, result) = collect_file(&filename::wal_path(dir.path(), 7));
        let replay = result.expect("replay");
        assert_eq!(seen, expected);
        assert_eq!(replay.records, expected.len() as u64);
        assert_eq!(replay.end, FrameEnd::Clean);
        assert_eq!(replay.valid_bytes, size);
    }

    #[test]
    fn wal_empty_log_replays_clean() {
        let dir = tempfile::tempdir().expect("temp dir");
        let wal = WalWriter::create(dir.path(), 1).expect("create wal");
        let (seen, result) = collect_file(wal.path());
        assert!(seen.is_empty());
        let replay = result.expect("replay");
        assert_eq!(
            replay,
            WalReplay {
                records: 0,
                end: FrameEnd::Clean,
                valid_bytes: 0
            }
        );
    }

    #[test]
    fn wal_truncated_inside_last_record_is_a_torn_tail() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, expected) = three_records(dir.path());
        let file_len = std::fs::metadata(&path).expect("stat").len();
        let last_start = expected.last().map(|r| r.0).expect("records");
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        for cut in (last_start + 1..file_len).rev() {
            file.set_len(cut).expect("truncate");
            let (seen, result) = collect_file(&path);
            let replay = result.expect("torn tail is not an error");
            assert_eq!(Some(seen.as_slice()), expected.get(..2), "cut at {cut}");
            assert_eq!(
                replay,
                WalReplay {
                    records: 2,
                    end: FrameEnd::TornTail {
                        offset: last_start,
                        bytes: cut - last_start
                    },
                    valid_bytes: last_start,
                },
                "cut at {cut}"
            );
        }
        // Cut exactly at a record boundary: a clean log of the earlier records.
        file.set_len(last_start).expect("truncate");
        let (seen, result) = collect_file(&path);
        assert_eq!(Some(seen.as_slice()), expected.get(..2));
        assert_eq!(result.expect("replay").end, FrameEnd::Clean);
    }

    #[test]
    fn wal_flipped_byte_in_middle_record_is_corruption_at_its_offset() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, expected) = three_records(dir.path());
        let clean = std::fs::read(&path).expect("read");
        let middle_start = expected.get(1).map(|r| r.0).expect("records");
        let last_start = expected.get(2).map(|r| r.0).expect("records");

        // On disk, through replay_wal.
        let mut damaged = clean.clone();
        if let Some(b) = damaged.get_mut(usize::try_from(middle_start).expect("offset") + 10) {
            *b ^= 0x20;
        }
        std::fs::write(&path, &damaged).expect("write");
        let (seen, result) = collect_file(&path);
        assert_eq!(Some(seen.as_slice()), expected.get(..1));
        match result {
            Err(Error::Corruption {
                path: p,
                offset,
                kind: CorruptionKind::Checksum { .. },
            }) => {
                assert_eq!(p, path);
                assert_eq!(offset, middle_start);
            }
            other => panic!("expected a checksum corruption, got {other:?}"),
        }

        // Every byte of the middle record's checksum and payload, and the low bit of its length.
        for at in middle_start..last_start {
            if (middle_start + 1..middle_start + 4).contains(&at) {
                continue; // high length bytes: see "Known limit" in the module docs
            }
            let flip = if at == middle_start { 0x01 } else { 0x80 };
            let mut damaged = clean.clone();
            if let Some(b) = damaged.get_mut(usize::try_from(at).expect("offset")) {
                *b ^= flip;
            }
            let (seen, result) = collect(&path, &damaged);
            assert_eq!(Some(seen.as_slice()), expected.get(..1), "flip at {at}");
            assert!(
                matches!(result, Err(Error::Corruption { offset, .. }) if offset == middle_start),
                "flip at {at}: {result:?}"
            );
        }
    }

    #[test]
    fn wal_trailing_zeros_are_a_torn_tail() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, expected) = three_records(dir.path());
        let mut bytes = std::fs::read(&path).expect("read");
        let len = bytes.len() as u64;
        bytes.extend_from_slice(&[0u8; 4096]);
        let (seen, result) = collect(&path, &bytes);
        assert_eq!(seen, expected);
        let replay = result.expect("replay");
        assert_eq!(
            replay.end,
            FrameEnd::TornTail {
                offset: len,
                bytes: 4096
            }
        );
        assert_eq!(replay.valid_bytes, len);
    }

    #[test]
    fn wal_callback_error_stops_replay_and_is_returned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, _) = three_records(dir.path());
        let mut calls = 0;
        let result = replay_wal(&path, |_, _| {
            calls += 1;
            Err(Error::InvalidArgument("stop here"))
        });
        assert_eq!(calls, 1);
        assert!(matches!(result, Err(Error::InvalidArgument("stop here"))));
    }

    #[test]
    fn wal_create_refuses_an_existing_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let _first = WalWriter::create(dir.path(), 5).expect("create wal");
        let again = WalWriter::create(dir.path(), 5);
        assert!(
            matches!(
                again,
                Err(Error::Io {
                    action: "create wal",
                    ..
                })
            ),
            "{again:?}"
        );
    }

    #[test]
    fn wal_replay_of_a_missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let result = replay_wal(&filename::wal_path(dir.path(), 9), |_, _| Ok(()));
        assert!(
            matches!(
                result,
                Err(Error::Io {
                    action: "read wal",
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn wal_failed_write_poisons_the_writer() {
        // /dev/full fails every write with ENOSPC.
        let file = OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full");
        let mut wal = WalWriter {
            file,
            path: PathBuf::from("/dev/full"),
            number: 1,
            size_bytes: 0,
            buf: Vec::new(),
            failed: false,
        };
        let first = wal.append(&[b"batch"]);
        assert!(
            matches!(
                first,
                Err(Error::Io {
                    action: "append wal",
                    ..
                })
            ),
            "{first:?}"
        );
        assert_eq!(wal.size_bytes(), 0);
        assert!(matches!(wal.append(&[b"batch"]), Err(Error::Poisoned)));
        assert!(matches!(wal.sync(), Err(Error::Poisoned)));
    }

    proptest! {
        #[test]
        fn replay_never_panics(bytes: Vec<u8>) {
            let _ = collect(Path::new("fuzz.log"), &bytes);
        }

        #[test]
        fn replay_returns_what_was_framed(payloads: Vec<Vec<u8>>, junk: Vec<u8>) {
            let mut bytes = Vec::new();
            for p in &payloads {
                frame::encode(&mut bytes, p);
            }
            let (seen, result) = collect(Path::new("p.log"), &bytes);
            let got: Vec<Vec<u8>> = seen.into_iter().map(|(_, p)| p).collect();
            prop_assert_eq!(&got, &payloads);
            prop_assert_eq!(result.ok().map(|r| r.end), Some(FrameEnd::Clean));
            // Whatever follows, every framed record still replays first, in order.
            bytes.extend_from_slice(&junk);
            let (seen, _) = collect(Path::new("p.log"), &bytes);
            let got: Vec<Vec<u8>> = seen.into_iter().map(|(_, p)| p).collect();
            prop_assert_eq!(got.get(..payloads.len()), Some(payloads.as_slice()));
        }
    }
}

//! Leveled compaction: picking work by score, and merging a level's file into the next level.
//!
//! **Role**: `compaction_loop` runs on `Options::compaction_threads` background threads. Each
//! picks a compaction under the state lock ([`pick`]), marks its input files busy, runs it
//! without locks, and installs the result with one MANIFEST edit.
//!
//! **Picking**: L0's score is its file count over `l0_compaction_trigger`; level `n >= 1`
//! scores its bytes over its target (`l1_bytes_target * multiplier^(n-1)`). The highest
//! score of at least 1 whose files are free wins. L0 compacts all its files with the overlapping L1 files;
//! a deeper level compacts one file (round robin by key) with the overlapping files below.
//! When nothing overlaps below (and, for L0, the L0 files do not overlap each other), files
//! move down by a MANIFEST edit alone (a *trivial move*).
//!
//! **Merging** keeps, for each user key, the newest entry in each *snapshot stripe* (the
//! entries a given live snapshot could see), and drops:
//! - entries shadowed by a newer entry of the same key in the same stripe;
//! - entries covered by a range tombstone of the same stripe;
//! - point deletes, and range tombstones, at the bottommost level when no snapshot is older
//!   than them (nothing beneath can reappear, and nobody can read what they hid);
//! - values the compaction filter removes (only entries newer than every snapshot: the
//!   filter's owner decides for the latest readers only). Above the bottom level a removed
//!   value becomes a point delete so older versions below stay hidden.
//!
//! **Output**: files of about `sst_bytes_target`, cut only between user keys, so each user key
//! lives in one file per level. Range tombstones are clipped to each output file's key span
//! `[first key, next file's first key)`, and the file bounds include them (an exclusive end is
//! the sentinel internal key `(end, SEQNO_MAX, RangeDelete)`), which keeps a level's files
//! disjoint.
//!
//! **Invariants**: (1) two running compactions never share a file (busy set) and never write
//! overlapping ranges into one level (inputs include every overlapping file of the output
//! level); (2) the file set after a compaction passes `FileSet::check_invariants`;
//! (3) a compaction never changes what any snapshot reads (model property test with
//! snapshots and forced compactions).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::compaction_filter::{CompactionContext, CompactionFilter, Decision, InputRange};
use crate::db::{meta_from_built, DbInner, State};
use crate::error::{CorruptionKind, Error, Result};
use crate::file_meta::FileMeta;
use crate::file_set::{FileSet, LiveFile};
use crate::filename;
use crate::ikey::{self, ParsedKey, SeqNo, ValueKind};
use crate::iter::{InternalIterator, MergingIter};
use crate::manifest::ManifestEdit;
use crate::options::Options;
use crate::range_del::{RangeDelIndex, RangeTombstone};
use crate::sst::{TableBuilder, TableBuilderOptions};

/// Compaction bookkeeping kept under the engine's state lock.
pub(crate) struct CompactionState {
    pub running: usize,
    busy: HashSet<u64>,
    /// Per level: the largest user key of the last file compacted (round robin).
    pointer: Vec<Vec<u8>>,
    /// Compact every level down to the bottom (set by `Db::compact_all`).
    pub force_full: bool,
    /// During a `compact_all` with a compaction filter: bottom-level files numbered below
    /// this were written before the call and are rewritten once each, so the filter sees
    /// every entry; trivial moves are off so that it sees every entry moving down too.
    pub rewrite_below: Option<u64>,
}

impl CompactionState {
    pub fn new(levels: usize) -> CompactionState {
        CompactionState {
            running: 0,
            busy: HashSet::new(),
            pointer: vec![Vec::new(); levels],
            force_full: false,
            rewrite_below: None,
        }
    }
}

/// One unit of compaction work.
pub(crate) struct Compaction {
    pub level: usize,
    pub output_level: usize,
    pub inputs: Vec<Arc<LiveFile>>,
    pub next_inputs: Vec<Arc<LiveFile>>,
    pub bottommost: bool,
    pub trivial_move: bool,
}

impl Compaction {
    fn all_inputs(&self) -> impl Iterator<Item = &Arc<LiveFile>> {
        self.inputs.iter().chain(self.next_inputs.iter())
    }
}

/// Target bytes of `level` (>= 1).
pub(crate) fn level_target(opts: &Options, level: usize) -> u64 {
    let mut t = opts.l1_bytes_target.max(1);
    for _ in 1..level {
        t = t.saturating_mul(opts.level_size_multiplier.max(2));
    }
    t
}

/// Bytes that compaction still has to rewrite to bring every level within its target (an
/// estimate that drives write slowdowns).
pub(crate) fn pending_compaction_bytes(v: &FileSet, opts: &Options) -> u64 {
    let mut pending = 0u64;
    if v.levels.first().map_or(0, Vec::len) >= opts.l0_compaction_trigger {
        pending += v.level_bytes(0);
    }
    for level in 1..v.levels.len() {
        pending += v
            .level_bytes(level)
            .saturating_sub(level_target(opts, level));
    }
    pending
}

fn key_range(files: &[Arc<LiveFile>]) -> Option<(Vec<u8>, Vec<u8>)> {
    let lo = files.iter().map(|f| f.smallest_user_key()).min()?;
    let hi = files.iter().map(|f| f.largest_user_key()).max()?;
    Some((lo.to_vec(), hi.to_vec()))
}

/// The per-level input ranges handed to the compaction filter. L0 compactions take every L0
/// file (see `pick_l0`), so L0's range is marked whole.
fn input_ranges(c: &Compaction) -> Vec<InputRange> {
    let mut out = Vec::with_capacity(2);
    for (level, files) in [(c.level, &c.inputs), (c.output_level, &c.next_inputs)] {
        if let Some((smallest, largest)) = key_range(files) {
            out.push(InputRange {
                level,
                smallest,
                largest,
                whole_level: level == 0,
            });
        }
    }
    out
}

fn is_bottommost(v: &FileSet, output_level: usize, lo: &[u8], hi: &[u8]) -> bool {
    (output_level + 1..v.levels.len()).all(|l| v.overlapping(l, lo, hi).is_empty())
}

/// Chooses the next compaction, if any level needs one and its files are free.
pub(crate) fn pick(st: &State, opts: &Options) -> Option<Compaction> {
    let v = &st.sv.files;
    let cs = &st.compaction;
    let last = v.levels.len().saturating_sub(1);
    let mut scored: Vec<(f64, usize)> = Vec::new();
    let l0 = v.levels.first().map_or(0, Vec::len);
    let mut l0_score = l0 as f64 / opts.l0_compaction_trigger.max(1) as f64;
    if cs.force_full && l0 > 0 {
        l0_score = l0_score.max(1.0);
    }
    scored.push((l0_score, 0));
    for level in 1..last {
        let bytes = v.level_bytes(level);
        let mut score = bytes as f64 / level_target(opts, level) as f64;
        if cs.force_full && bytes > 0 {
            score = score.max(1.0);
        }
        scored.push((score, level));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (score, level) in scored {
        if score < 1.0 {
            break;
        }
        let picked = if level == 0 {
            pick_l0(v, cs)
        } else {
            pick_level(v, cs, level)
        };
        if picked.is_some() {
            return picked.map(|mut c| {
                if cs.rewrite_below.is_some() {
                    c.trivial_move = false;
                }
                c
            });
        }
    }
    pick_bottom_rewrite(v, cs)
}

/// During a filtered `compact_all`, once the levels above are empty: one bottom-level file
/// written before the call, compacted into the bottom level again.
fn pick_bottom_rewrite(v: &FileSet, cs: &CompactionState) -> Option<Compaction> {
    let below = cs.rewrite_below?;
    let last = v.levels.len().checked_sub(1)?;
    if v.levels.iter().take(last).any(|files| !files.is_empty()) {
        return None;
    }
    let f = v
        .levels
        .get(last)?
        .iter()
        .find(|f| f.meta.number < below && !cs.busy.contains(&f.meta.number))?;
    Some(Compaction {
        level: last,
        output_level: last,
        inputs: vec![Arc::clone(f)],
        next_inputs: Vec::new(),
        bottommost: true,
        trivial_move: false,
    })
}

fn pick_l0(v: &FileSet, cs: &CompactionState) -> Option<Compaction> {
    let inputs: Vec<Arc<LiveFile>> = v.levels.first()?.clone();
    if inputs.is_empty() || inputs.iter().any(|f| cs.busy.contains(&f.meta.number)) {
        return None;
    }
    let (lo, hi) = key_range(&inputs)?;
    let next_inputs = v.overlapping(1, &lo, &hi);
    if next_inputs.iter().any(|f| cs.busy.contains(&f.meta.number)) {
        return None;
    }
    let mut sorted = inputs.clone();
    sorted.sort_by(|a, b| ikey::compare(&a.meta.smallest, &b.meta.smallest));
    let disjoint = sorted.windows(2).all(|w| match w {
        [a, b] => a.largest_user_key() < b.smallest_user_key(),
        _ => true,
    });
    let trivial_move = next_inputs.is_empty() && disjoint;
    // The output spans the L1 inputs too, which may reach beyond the L0 files' range.
    let mut all = next_inputs.clone();
    all.extend(inputs.iter().cloned());
    let (lo, hi) = key_range(&all)?;
    Some(Compaction {
        level: 0,
        output_level: 1,
        bottommost: is_bottommost(v, 1, &lo, &hi),
        inputs,
        next_inputs,
        trivial_move,
    })
}

fn pick_level(v: &FileSet, cs: &CompactionState, level: usize) -> Option<Compaction> {
    let files = v.levels.get(level)?;
    let pointer = cs.pointer.get(level).map(Vec::as_slice).unwrap_or(&[]);
    let start = files.partition_point(|f| f.smallest_user_key() <= pointer && !pointer.is_empty());
    let order = files.iter().skip(start).chain(files.iter().take(start));
    for f in order {
        if cs.busy.contains(&f.meta.number) {
            continue;
        }
        let (lo, hi) = (
            f.smallest_user_key().to_vec(),
            f.largest_user_key().to_vec(),
        );
        let next_inputs = v.overlapping(level + 1, &lo, &hi);
        if next_inputs.iter().any(|n| cs.busy.contains(&n.meta.number)) {
            continue;
        }
        let mut all = next_inputs.clone();
        all.push(Arc::clone(f));
        let (lo, hi) = key_range(&all)?;
        return Some(Compaction {
            level,
            output_level: level + 1,
            bottommost: is_bottommost(v, level + 1, &lo, &hi),
            trivial_move: next_inputs.is_empty(),
            inputs: vec![Arc::clone(f)],
            next_inputs,
        });
    }
    None
}

/// Limits compaction write bandwidth across all compaction threads (token bucket refilled
/// continuously; a writer that overdraws sleeps off its debt).
pub(crate) struct RateLimiter {
    bytes_per_sec: u64,
    state: Mutex<(Instant, f64)>,
}

impl RateLimiter {
    pub fn new(bytes_per_sec: u64) -> RateLimiter {
        RateLimiter {
            bytes_per_sec,
            state: Mutex::new((Instant::now(), 0.0)),
        }
    }

    fn charge(&self, bytes: u64) {
        if self.bytes_per_sec == 0 {
            return;
        }
        let rate = self.bytes_per_sec as f64;
        let sleep = {
            let mut s = self.state.lock();
            let now = Instant::now();
            // Credit accrued since the last charge, capped at one second's worth.
            let credit = (now - s.0).as_secs_f64() * rate;
            s.1 = (s.1 - credit).max(-rate) + bytes as f64;
            s.0 = now;
            if s.1 > 0.0 {
                Some(Duration::from_secs_f64(s.1 / rate))
            } else {
                None
            }
        };
        if let Some(d) = sleep {
            std::thread::sleep(d);
        }
    }
}

/// Body of each compaction thread.
pub(crate) fn compaction_loop(inner: &Arc<DbInner>) {
    loop {
        let c = {
            let mut st = inner.state.lock();
            loop {
                if inner.shutting_down.load(Ordering::Acquire) || st.bg_error.is_some() {
                    return;
                }
                if let Some(c) = pick(&st, &inner.opts) {
                    for f in c.all_inputs() {
                        st.compaction.busy.insert(f.meta.number);
                    }
                    st.compaction.running += 1;
                    break c;
                }
                inner.bg_cv.wait_for(&mut st, Duration::from_secs(1));
            }
        };
        let result = run(inner, &c);
        {
            let mut st = inner.state.lock();
            for f in c.all_inputs() {
                st.compaction.busy.remove(&f.meta.number);
            }
            st.compaction.running -= 1;
            if c.level > 0 {
                if let (Some(p), Some(f)) =
                    (st.compaction.pointer.get_mut(c.level), c.inputs.last())
                {
                    *p = f.largest_user_key().to_vec();
                }
            }
            inner.state_cv.notify_all();
            inner.bg_cv.notify_all();
        }
        if let Err(e) = result {
            if matches!(e, Error::Closed) {
                // Shutdown interrupted the merge; its partial outputs were removed.
                return;
            }
            tracing::error!(error = %e, level = c.level, "compaction failed");
            inner.poison("compaction failed");
            return;
        }
    }
}

fn run(inner: &Arc<DbInner>, c: &Compaction) -> Result<()> {
    let mut edit = ManifestEdit::default();
    for f in &c.inputs {
        edit.deleted_files.push((c.level, f.meta.number));
    }
    if c.trivial_move {
        for f in &c.inputs {
            edit.added_files.push((c.output_level, f.meta.clone()));
        }
        inner.log_and_apply(edit)?;
        inner.counters.trivial_moves.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(level = c.level, files = c.inputs.len(), "trivial move");
        return Ok(());
    }
    for f in &c.next_inputs {
        edit.deleted_files.push((c.output_level, f.meta.number));
    }
    let started = Instant::now();
    let outputs = merge(inner, c)?;
    let read: u64 = c.all_inputs().map(|f| f.meta.size_bytes).sum();
    let written: u64 = outputs.iter().map(|m| m.size_bytes).sum();
    for m in outputs {
        edit.added_files.push((c.output_level, m));
    }
    inner.log_and_apply(edit)?;
    inner.counters.compactions.fetch_add(1, Ordering::Relaxed);
    inner
        .counters
        .compaction_bytes_read
        .fetch_add(read, Ordering::Relaxed);
    inner
        .counters
        .compaction_bytes_written
        .fetch_add(written, Ordering::Relaxed);
    tracing::info!(
        level = c.level,
        inputs = c.inputs.len() + c.next_inputs.len(),
        read_bytes = read,
        written_bytes = written,
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "compaction done"
    );
    Ok(())
}

/// Index of the snapshot stripe of `seqno`: the number of snapshots below it. Two entries
/// are in the same stripe when no snapshot separates them. The last stripe
/// (`snapshots.len()`) is seen only by the latest readers.
fn stripe(snapshots: &[SeqNo], seqno: SeqNo) -> usize {
    snapshots.partition_point(|s| *s < seqno)
}

/// Writes the compaction's output tables.
struct Outputs<'a> {
    inner: &'a DbInner,
    builder: Option<(u64, TableBuilder)>,
    /// User key where the current output file's span starts (None: unbounded).
    lower: Option<Vec<u8>>,
    tombstones: Vec<RangeTombstone>,
    done: Vec<FileMeta>,
}

impl Outputs<'_> {
    fn builder(&mut self) -> Result<&mut TableBuilder> {
        if self.builder.is_none() {
            let number = self.inner.next_file_number.fetch_add(1, Ordering::AcqRel);
            let path = filename::table_path(&self.inner.dir, number);
            let b =
                TableBuilder::create(&path, TableBuilderOptions::from_options(&self.inner.opts))?;
            self.builder = Some((number, b));
        }
        match self.builder.as_mut() {
            Some((_, b)) => Ok(b),
            None => Err(Error::InvalidArgument("compaction output builder missing")),
        }
    }

    /// Finishes the current file; its span ends at `upper` (None: unbounded).
    fn finish_file(&mut self, upper: Option<&[u8]>) -> Result<()> {
        let lower = self.lower.clone();
        let clipped: Vec<RangeTombstone> = self
            .tombstones
            .iter()
            .filter_map(|t| {
                let start = match &lower {
                    Some(lo) if lo > &t.start => lo.clone(),
                    _ => t.start.clone(),
                };
                let end = match upper {
                    Some(up) if up < t.end.as_slice() => up.to_vec(),
                    _ => t.end.clone(),
                };
                (start < end).then_some(RangeTombstone {
                    start,
                    end,
                    seqno: t.seqno,
                })
            })
            .collect();
        if self.builder.is_none() && clipped.is_empty() {
            return Ok(());
        }
        {
            let b = self.builder()?;
            for t in &clipped {
                b.add_range_tombstone(&t.start, &t.end, t.seqno)?;
            }
        }
        if let Some((number, b)) = self.builder.take() {
            match b.finish() {
                Ok(built) => self.done.push(meta_from_built(number, &built, 0)),
                Err(e) => {
                    let _ = std::fs::remove_file(filename::table_path(&self.inner.dir, number));
                    return Err(e);
                }
            }
        }
        self.lower = upper.map(<[u8]>::to_vec);
        Ok(())
    }

    fn abandon(&mut self) {
        if let Some((_, b)) = self.builder.take() {
            b.abandon();
        }
        for m in &self.done {
            let _ = std::fs::remove_file(filename::table_path(&self.inner.dir, m.number));
        }
    }
}

fn merge(inner: &Arc<DbInner>, c: &Compaction) -> Result<Vec<FileMeta>> {
    let snapshots = inner.snapshot_list();
    let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
    let mut tombstones: Vec<RangeTombstone> = Vec::new();
    for f in c.all_inputs() {
        let t = f.table()?;
        tombstones.extend(t.range_tombstones().iter().cloned());
        children.push(Box::new(t.iter_without_cache_fill()));
    }
    let index = RangeDelIndex::new(tombstones.clone());
    // Tombstones that must survive: all but those at the bottom that no snapshot predates.
    tombstones.retain(|t| !(c.bottommost && stripe(&snapshots, t.seqno) == 0));
    tombstones.sort_by(|a, b| a.start.cmp(&b.start).then(b.seqno.cmp(&a.seqno)));
    let mut filter: Option<Box<dyn CompactionFilter>> =
        inner.opts.compaction_filter.as_ref().map(|f| {
            f.create(CompactionContext {
                output_level: c.output_level,
                is_bottommost: c.bottommost,
                inputs: input_ranges(c),
            })
        });
    let mut out = Outputs {
        inner,
        builder: None,
        lower: None,
        tombstones,
        done: Vec::new(),
    };
    let r = merge_into(
        inner,
        c,
        &snapshots,
        &index,
        filter.as_deref_mut(),
        MergingIter::new(children),
        &mut out,
    );
    match r {
        Ok(()) => Ok(out.done),
        Err(e) => {
            out.abandon();
            Err(e)
        }
    }
}

fn merge_into(
    inner: &DbInner,
    c: &Compaction,
    snapshots: &[SeqNo],
    index: &RangeDelIndex,
    mut filter: Option<&mut (dyn CompactionFilter + 'static)>,
    mut merged: MergingIter,
    out: &mut Outputs<'_>,
) -> Result<()> {
    let limiter = &inner.limiter;
    let target = inner.opts.sst_bytes_target;
    let latest_stripe = snapshots.len();
    let mut current_key: Vec<u8> = Vec::new();
    let mut have_key = false;
    let mut last_stripe: Option<usize> = None;
    let mut key_buf: Vec<u8> = Vec::new();
    let mut since_charge = 0u64;
    merged.seek_to_first()?;
    while merged.valid() {
        if inner.shutting_down.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let Some(p) = ParsedKey::parse(merged.key()) else {
            return Err(Error::corruption(
                "<compaction input>",
                0,
                CorruptionKind::Invalid("malformed internal key"),
            ));
        };
        let new_key = !have_key || p.user_key != current_key.as_slice();
        if new_key {
            // Cut the output file only between user keys.
            if out
                .builder
                .as_ref()
                .is_some_and(|(_, b)| b.estimated_size_bytes() >= target)
            {
                out.finish_file(Some(p.user_key))?;
            }
            current_key.clear();
            current_key.extend_from_slice(p.user_key);
            have_key = true;
            last_stripe = None;
        }
        let st = stripe(snapshots, p.seqno);
        if last_stripe == Some(st) {
            merged.next()?;
            continue;
        }
        last_stripe = Some(st);
        if let Some(t) = index.covering_seqno_above(p.user_key, p.seqno) {
            if stripe(snapshots, t) == st {
                merged.next()?;
                continue;
            }
        }
        let mut kind = p.kind;
        if kind == ValueKind::Delete && c.bottommost && st == 0 {
            merged.next()?;
            continue;
        }
        if kind == ValueKind::Put && new_key && st == latest_stripe {
            if let Some(f) = filter.as_deref_mut() {
                if f.filter(c.output_level, p.user_key, merged.value()) == Decision::Remove {
                    if c.bottommost && st == 0 {
                        merged.next()?;
                        continue;
                    }
                    kind = ValueKind::Delete;
                }
            }
        }
        key_buf.clear();
        ikey::encode_into(&mut key_buf, p.user_key, p.seqno, kind as u8);
        let value: &[u8] = if kind == ValueKind::Delete {
            &[]
        } else {
            merged.value()
        };
        let bytes = (key_buf.len() + value.len()) as u64;
        out.builder()?.add(&key_buf, value)?;
        since_charge += bytes;
        if since_charge >= 1 << 20 {
            limiter.charge(since_charge);
            since_charge = 0;
        }
        merged.next()?;
    }
    out.finish_file(None)?;
    limiter.charge(since_charge);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_split_at_snapshots() {
        let snaps = [10, 20];
        assert_eq!(stripe(&snaps, 5), 0);
        assert_eq!(stripe(&snaps, 10), 0);
        assert_eq!(stripe(&snaps, 11), 1);
        assert_eq!(stripe(&snaps, 20), 1);
        assert_eq!(stripe(&snaps, 21), 2);
        assert_eq!(stripe(&[], 99), 0);
    }

    #[test]
    fn level_targets_grow_by_the_multiplier() {
        let o = Options {
            l1_bytes_target: 100,
            level_size_multiplier: 10,
            ..Options::default()
        };
        assert_eq!(level_target(&o, 1), 100);
        assert_eq!(level_target(&o, 3), 10_000);
    }

    #[test]
    fn rate_limiter_makes_writers_wait_for_their_bytes() {
        // A lower bound only: the limiter must sleep at least bytes / rate.
        let limiter = RateLimiter::new(8 << 20);
        let start = Instant::now();
        limiter.charge(2 << 20);
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
        let unlimited = RateLimiter::new(0);
        let start = Instant::now();
        unlimited.charge(1 << 30);
        assert!(start.elapsed() < Duration::from_millis(200));
    }
}

//! Reading and writing versions in the storage engine: the MVCC commands that both the
//! single-node transaction layer and (later) the replicated state machine apply.
//!
//! Role: `txn` and `db` call these functions; they call the storage engine (`cairn_lsm::Db`)
//! and decode with `key`. Nothing here assumes a single node: reads take an explicit read
//! timestamp and uncertainty limit, and intents are reported to the caller, which knows how
//! to find the owning transaction's record.
//!
//! Visibility rule for a read at `read_ts` with uncertainty limit `limit >= read_ts`:
//! 1. an intent of the reader's own transaction is read as its provisional value;
//! 2. an intent of another transaction with `write_ts <= limit` is reported
//!    (`Error::IntentFound`); a newer one is ignored;
//! 3. a version with `read_ts < ts <= limit` is reported (`Error::Uncertain`): it may have
//!    committed before the read began on a clock that runs ahead;
//! 4. otherwise the newest version with `ts <= read_ts` is the answer; a tombstone means
//!    "no value".
//!
//! Tests: `tests::*` below cover each rule, forward and reverse scans, and limits.

use cairn_lsm::{DbIterator, ReadOptions, Visit, WriteBatch};
use cairn_types::{Timestamp, TxnId};

use crate::error::{Error, Result};
use crate::key::{self, Intent, Slot};

/// Parameters of one MVCC read.
#[derive(Debug, Clone, Copy)]
pub struct ReadAt {
    pub read_ts: Timestamp,
    /// Versions in `(read_ts, uncertainty_limit]` make the read uncertain. Equal to
    /// `read_ts` when the reader's timestamp came from this node's own clock.
    pub uncertainty_limit: Timestamp,
    /// The reading transaction, whose own intents it sees.
    pub txn: Option<TxnId>,
}

impl ReadAt {
    /// A read at `ts` with no uncertainty and no transaction.
    pub fn at(ts: Timestamp) -> ReadAt {
        ReadAt {
            read_ts: ts,
            uncertainty_limit: ts,
            txn: None,
        }
    }

    /// The newest committed state: every version, no uncertainty.
    pub fn latest() -> ReadAt {
        ReadAt::at(Timestamp::MAX.prev())
    }
}

/// A visible version: its timestamp and value (`None` for a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub ts: Timestamp,
    pub value: Option<Vec<u8>>,
}

/// One key-value pair returned by a scan.
pub type Row = (Vec<u8>, Vec<u8>);

/// The result of a scan: rows in scan order and whether it stopped at the limit (then
/// `last_key` is the last key examined, which bounds what the scan has read).
#[derive(Debug, Default)]
pub struct ScanResult {
    pub rows: Vec<Row>,
    pub truncated: bool,
}

fn iter_for(engine: &cairn_lsm::Db, lower: Vec<u8>, upper: Option<Vec<u8>>) -> Result<DbIterator> {
    Ok(engine.iter(ReadOptions {
        lower_bound: Some(lower),
        upper_bound: upper,
        ..ReadOptions::default()
    })?)
}

/// Applies visibility rules 1-3 to one entry; `Ok(Some(v))` when the entry is the answer
/// (`v` = `None` is a tombstone), `Ok(None)` when it is to be skipped.
fn judge(
    engine_key: &[u8],
    slot: Slot,
    value: &[u8],
    at: &ReadAt,
    user_key: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<Option<Versioned>> {
    match slot {
        Slot::Intent => {
            let intent = Intent::decode(value).map_err(|e| Error::corrupt(engine_key, e))?;
            if Some(intent.txn_id) == at.txn {
                return Ok(Some(Versioned {
                    ts: intent.write_ts,
                    value: intent.value,
                }));
            }
            if intent.write_ts <= at.uncertainty_limit {
                return Err(Error::IntentFound {
                    key: user_key()?,
                    txn: intent.txn_id,
                });
            }
            Ok(None)
        }
        Slot::Version(ts) if ts > at.read_ts => {
            if ts <= at.uncertainty_limit {
                return Err(Error::Uncertain {
                    read_ts: at.read_ts,
                    value_ts: ts,
                });
            }
            Ok(None)
        }
        Slot::Version(ts) => {
            let v = key::decode_version_value(value).map_err(|e| Error::corrupt(engine_key, e))?;
            Ok(Some(Versioned {
                ts,
                value: v.map(<[u8]>::to_vec),
            }))
        }
    }
}

/// The version of `user_key` visible at `at`, if any (a tombstone is returned as a
/// `Versioned` with `value: None`).
pub fn get(engine: &cairn_lsm::Db, user_key: &[u8], at: &ReadAt) -> Result<Option<Versioned>> {
    let mut found = None;
    visit_key(engine, user_key, &mut |ek, value| {
        let (_, slot) = key::split(ek).map_err(|e| Error::corrupt(ek, e))?;
        found = judge(ek, slot, value, at, || Ok(user_key.to_vec()))?;
        Ok(found.is_some())
    })?;
    Ok(found)
}

/// Timestamp of the newest committed version of `user_key` (tombstones included), ignoring
/// intents.
pub fn newest_version_ts(engine: &cairn_lsm::Db, user_key: &[u8]) -> Result<Option<Timestamp>> {
    let mut found = None;
    visit_key(engine, user_key, &mut |ek, _| match key::split(ek)
        .map_err(|e| Error::corrupt(ek, e))?
    {
        (_, Slot::Intent) => Ok(false),
        (_, Slot::Version(ts)) => {
            found = Some(ts);
            Ok(true)
        }
    })?;
    Ok(found)
}

/// Called with (engine key, value) for each live entry; returns true to stop.
type EntryFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;

/// Feeds `f` the live entries of `user_key` (its intent slot, then versions newest first),
/// until `f` returns true. Reads source by source, newest first, and stops as soon as `f`
/// does: because every key's versions reach the engine in timestamp order (`db.rs`
/// invariant 1), an older source only holds older versions. Entries seen in a newer source
/// shadow their copies in older ones (an engine-level deletion hides an entry for good).
fn visit_key(engine: &cairn_lsm::Db, user_key: &[u8], f: &mut EntryFn<'_>) -> Result<()> {
    let pfx = key::prefix(user_key);
    let end = key::prefix_end(&pfx);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut outcome = Ok(());
    engine.visit_newest_first(&pfx, &end, Some(&pfx), &mut |ek, value| {
        if seen.iter().any(|s| s.as_slice() == ek) {
            return Visit::Continue;
        }
        seen.push(ek.to_vec());
        let Some(value) = value else {
            return Visit::Continue;
        };
        match f(ek, value) {
            Ok(false) => Visit::Continue,
            Ok(true) => Visit::Stop,
            Err(e) => {
                outcome = Err(e);
                Visit::Stop
            }
        }
    })?;
    outcome
}

/// The newest committed version newer than `after` among keys in `[start, end)`
/// (`end = None`: to the end of the key space): `(user key, ts)` of one such version, the
/// first found in key order.
pub fn first_write_after(
    engine: &cairn_lsm::Db,
    start: &[u8],
    end: Option<&[u8]>,
    after: Timestamp,
) -> Result<Option<(Vec<u8>, Timestamp)>> {
    let lower = key::prefix(start);
    let upper = end.map(key::prefix);
    let mut it = iter_for(engine, lower.clone(), upper)?;
    it.seek(&lower)?;
    while it.valid() {
        let (pfx, slot) = key::split(it.key()).map_err(|e| Error::corrupt(it.key(), e))?;
        match slot {
            Slot::Intent => it.next()?,
            Slot::Version(ts) => {
                if ts > after {
                    let k = key::decode_prefix(pfx).map_err(|e| Error::corrupt(it.key(), e))?;
                    return Ok(Some((k, ts)));
                }
                let next = key::prefix_end(pfx);
                it.seek(&next)?;
            }
        }
    }
    Ok(None)
}

/// Rows visible at `at` in `[start, end)`, ascending (or descending when `reverse`), at most
/// `limit` of them.
pub fn scan(
    engine: &cairn_lsm::Db,
    start: &[u8],
    end: Option<&[u8]>,
    at: &ReadAt,
    limit: usize,
    reverse: bool,
) -> Result<ScanResult> {
    let lower = key::prefix(start);
    let upper = end.map(key::prefix);
    let mut it = iter_for(engine, lower.clone(), upper)?;
    let mut out = ScanResult::default();
    if limit == 0 {
        out.truncated = true;
        return Ok(out);
    }
    if reverse {
        it.seek_to_last()?;
        // Entries of one key arrive oldest version first, its intent last; keep the best so far.
        let mut cur: Option<Vec<u8>> = None;
        let mut best: Option<Versioned> = None;
        let mut decided = false;
        while it.valid() {
            let (pfx, slot) = key::split(it.key()).map_err(|e| Error::corrupt(it.key(), e))?;
            if cur.as_deref() != Some(pfx) {
                if let (Some(p), Some(v)) = (cur.take(), best.take()) {
                    if emit(&mut out, &p, v, limit)? {
                        return Ok(out);
                    }
                }
                cur = Some(pfx.to_vec());
                decided = false;
            }
            let ek = it.key();
            let verdict = judge(ek, slot, it.value(), at, || {
                key::decode_prefix(pfx).map_err(|e| Error::corrupt(ek, e))
            })?;
            match (slot, verdict) {
                // The reader's own intent overrides every committed version.
                (Slot::Intent, Some(v)) => {
                    best = Some(v);
                    decided = true;
                }
                (Slot::Version(_), Some(v)) if !decided => best = Some(v),
                _ => {}
            }
            it.prev()?;
        }
        if let (Some(p), Some(v)) = (cur, best) {
            emit(&mut out, &p, v, limit)?;
        }
        return Ok(out);
    }
    it.seek(&lower)?;
    let mut done = Vec::new();
    while it.valid() {
        let (pfx, slot) = key::split(it.key()).map_err(|e| Error::corrupt(it.key(), e))?;
        let ek = it.key();
        let verdict = judge(ek, slot, it.value(), at, || {
            key::decode_prefix(pfx).map_err(|e| Error::corrupt(ek, e))
        })?;
        match verdict {
            Some(v) => {
                done.clear();
                done.extend_from_slice(pfx);
                if emit(&mut out, pfx, v, limit)? {
                    return Ok(out);
                }
                skip_key(&mut it, &done)?;
            }
            None => it.next()?,
        }
    }
    Ok(out)
}

/// Older versions of a key stepped over with `next` before a scan seeks past them instead:
/// most keys have one or two versions, and a seek costs a search in every level.
const SKIP_STEPS_BEFORE_SEEK: usize = 8;

/// Moves `it` past the remaining entries of the key whose encoded prefix is `pfx`.
fn skip_key(it: &mut DbIterator, pfx: &[u8]) -> Result<()> {
    for _ in 0..SKIP_STEPS_BEFORE_SEEK {
        it.next()?;
        if !it.valid() {
            return Ok(());
        }
        let (p, _) = key::split(it.key()).map_err(|e| Error::corrupt(it.key(), e))?;
        if p != pfx {
            return Ok(());
        }
    }
    it.seek(&key::prefix_end(pfx))?;
    Ok(())
}

/// Adds a visible version to the result (tombstones add nothing); true when the limit is hit.
fn emit(out: &mut ScanResult, pfx: &[u8], v: Versioned, limit: usize) -> Result<bool> {
    if let Some(value) = v.value {
        let k = key::decode_prefix(pfx).map_err(|e| Error::corrupt(pfx, e))?;
        out.rows.push((k, value));
        if out.rows.len() >= limit {
            out.truncated = true;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Adds a committed version (a value, or a tombstone when `value` is `None`) to `batch`.
pub fn put_version(batch: &mut WriteBatch, user_key: &[u8], ts: Timestamp, value: Option<&[u8]>) {
    batch.put(
        &key::encode(user_key, Slot::Version(ts)),
        &key::encode_version_value(value),
    );
}

/// Adds an intent for `user_key` to `batch`, replacing any earlier intent of the key.
pub fn put_intent(batch: &mut WriteBatch, user_key: &[u8], intent: &Intent) {
    batch.put(&key::encode(user_key, Slot::Intent), &intent.encode());
}

/// How an intent's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Committed(Timestamp),
    Aborted,
}

/// Turns `intent` (found at `user_key`) into a committed version, or removes it.
pub fn resolve_intent(batch: &mut WriteBatch, user_key: &[u8], intent: &Intent, how: Resolution) {
    if let Resolution::Committed(ts) = how {
        put_version(batch, user_key, ts, intent.value.as_deref());
    }
    batch.delete(&key::encode(user_key, Slot::Intent));
}

/// The intent at `user_key`, if one is there.
pub fn get_intent(engine: &cairn_lsm::Db, user_key: &[u8]) -> Result<Option<Intent>> {
    let ek = key::encode(user_key, Slot::Intent);
    match engine.get(&ek, &ReadOptions::default())? {
        Some(v) => Ok(Some(
            Intent::decode(&v).map_err(|e| Error::corrupt(&ek, e))?,
        )),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_lsm::{Options, WriteOptions};

    fn ts(w: u64) -> Timestamp {
        Timestamp::new(w, 0)
    }

    fn open() -> (tempfile::TempDir, cairn_lsm::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = cairn_lsm::Db::open(dir.path(), Options::default()).unwrap();
        (dir, db)
    }

    fn write(db: &cairn_lsm::Db, k: &[u8], t: u64, v: Option<&[u8]>) {
        let mut b = WriteBatch::new();
        put_version(&mut b, k, ts(t), v);
        db.write(b, &WriteOptions::NO_SYNC).unwrap();
    }

    #[test]
    fn get_returns_newest_version_at_or_below_read_ts() {
        let (_d, db) = open();
        write(&db, b"k", 10, Some(b"v10"));
        write(&db, b"k", 20, Some(b"v20"));
        write(&db, b"k", 30, None);
        write(&db, b"k\0", 5, Some(b"other"));
        let g = |t| get(&db, b"k", &ReadAt::at(ts(t))).unwrap();
        assert_eq!(g(9), None);
        assert_eq!(g(10).unwrap().value.as_deref(), Some(&b"v10"[..]));
        assert_eq!(g(25).unwrap().value.as_deref(), Some(&b"v20"[..]));
        assert_eq!(
            g(30).unwrap(),
            Versioned {
                ts: ts(30),
                value: None
            }
        );
        assert_eq!(newest_version_ts(&db, b"k").unwrap(), Some(ts(30)));
        assert_eq!(newest_version_ts(&db, b"j").unwrap(), None);
    }

    /// Keys with few versions are stepped over, keys with many are sought past; either way
    /// a scan returns each key once, at the version its timestamp sees, tombstones hidden.
    #[test]
    fn scan_skips_old_versions_by_steps_and_by_seeks() {
        let (_d, db) = open();
        let versions = [1, 2, SKIP_STEPS_BEFORE_SEEK, SKIP_STEPS_BEFORE_SEEK + 1, 30];
        for (i, &n) in versions.iter().enumerate() {
            let k = [b'a' + i as u8];
            for t in 1..=n as u64 {
                write(
                    &db,
                    &k,
                    t * 10,
                    Some(format!("{}{t}", k[0] as char).as_bytes()),
                );
            }
        }
        write(&db, b"z", 10, Some(b"z1"));
        write(&db, b"z", 20, None);
        let keys_at = |t: u64, limit: usize| -> Vec<(Vec<u8>, Vec<u8>)> {
            scan(&db, b"", None, &ReadAt::at(ts(t)), limit, false)
                .unwrap()
                .rows
        };
        let want = |t: u64| -> Vec<(Vec<u8>, Vec<u8>)> {
            let mut w: Vec<(Vec<u8>, Vec<u8>)> = versions
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let c = b'a' + i as u8;
                    let v = (t / 10).min(n as u64);
                    (vec![c], format!("{}{v}", c as char).into_bytes())
                })
                .collect();
            if t < 20 {
                w.push((b"z".to_vec(), b"z1".to_vec()));
            }
            w
        };
        for t in [10, 15, 20, 85, 95, 1000] {
            assert_eq!(keys_at(t, usize::MAX), want(t), "at {t}");
        }
        assert_eq!(keys_at(1000, 3), want(1000)[..3].to_vec());
    }

    #[test]
    fn version_inside_uncertainty_window_is_reported() {
        let (_d, db) = open();
        write(&db, b"k", 10, Some(b"a"));
        write(&db, b"k", 15, Some(b"b"));
        let at = ReadAt {
            read_ts: ts(12),
            uncertainty_limit: ts(20),
            txn: None,
        };
        match get(&db, b"k", &at) {
            Err(Error::Uncertain { read_ts, value_ts }) => {
                assert_eq!((read_ts, value_ts), (ts(12), ts(15)));
            }
            other => panic!("expected uncertainty, got {other:?}"),
        }
        // Beyond the limit the newer version is simply invisible.
        let at = ReadAt {
            uncertainty_limit: ts(14),
            ..at
        };
        assert_eq!(get(&db, b"k", &at).unwrap().unwrap().ts, ts(10));
    }

    #[test]
    fn intents_are_seen_by_their_owner_and_reported_to_others() {
        let (_d, db) = open();
        write(&db, b"k", 10, Some(b"old"));
        let intent = Intent {
            txn_id: TxnId(7),
            write_ts: ts(20),
            record_key: b"k".to_vec(),
            value: Some(b"new".to_vec()),
        };
        let mut b = WriteBatch::new();
        put_intent(&mut b, b"k", &intent);
        db.write(b, &WriteOptions::NO_SYNC).unwrap();
        let own = ReadAt {
            txn: Some(TxnId(7)),
            ..ReadAt::at(ts(25))
        };
        assert_eq!(
            get(&db, b"k", &own).unwrap().unwrap().value.unwrap(),
            b"new"
        );
        assert!(matches!(
            get(&db, b"k", &ReadAt::at(ts(25))),
            Err(Error::IntentFound { txn: TxnId(7), .. })
        ));
        // A reader below the intent's timestamp does not care about it.
        assert_eq!(
            get(&db, b"k", &ReadAt::at(ts(15)))
                .unwrap()
                .unwrap()
                .value
                .unwrap(),
            b"old"
        );
        let found = get_intent(&db, b"k").unwrap().unwrap();
        let mut b = WriteBatch::new();
        resolve_intent(&mut b, b"k", &found, Resolution::Committed(ts(22)));
        db.write(b, &WriteOptions::NO_SYNC).unwrap();
        assert!(get_intent(&db, b"k").unwrap().is_none());
        let v = get(&db, b"k", &ReadAt::at(ts(25))).unwrap().unwrap();
        assert_eq!((v.ts, v.value.unwrap()), (ts(22), b"new".to_vec()));
    }

    #[test]
    fn scans_forward_and_reverse_with_limits_and_tombstones() {
        let (_d, db) = open();
        for (k, t, v) in [
            (&b"a"[..], 1, Some(&b"a1"[..])),
            (b"a", 5, Some(b"a5")),
            (b"b", 2, Some(b"b2")),
            (b"b", 4, None),
            (b"c", 3, Some(b"c3")),
            (b"c\0", 3, Some(b"c0")),
            (b"d", 9, Some(b"d9")),
        ] {
            write(&db, k, t, v);
        }
        let rows = |r: ScanResult| -> Vec<(Vec<u8>, Vec<u8>)> { r.rows };
        let at = ReadAt::at(ts(6));
        let fwd = rows(scan(&db, b"", None, &at, usize::MAX, false).unwrap());
        let expect: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (b"a".to_vec(), b"a5".to_vec()),
            (b"c".to_vec(), b"c3".to_vec()),
            (b"c\0".to_vec(), b"c0".to_vec()),
        ];
        assert_eq!(fwd, expect);
        let mut rev = rows(scan(&db, b"", None, &at, usize::MAX, true).unwrap());
        rev.reverse();
        assert_eq!(rev, expect);
        let lim = scan(&db, b"a\0", Some(b"d"), &at, 1, false).unwrap();
        assert!(lim.truncated);
        assert_eq!(lim.rows, vec![(b"c".to_vec(), b"c3".to_vec())]);
        let lim = scan(&db, b"a", Some(b"d"), &at, 2, true).unwrap();
        assert_eq!(
            lim.rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            vec![b"c\0".to_vec(), b"c".to_vec()]
        );
        assert_eq!(
            first_write_after(&db, b"a", Some(b"c"), ts(4)).unwrap(),
            Some((b"a".to_vec(), ts(5)))
        );
        assert_eq!(
            first_write_after(&db, b"b", Some(b"d"), ts(4)).unwrap(),
            None
        );
        assert_eq!(
            first_write_after(&db, b"b", None, ts(4)).unwrap(),
            Some((b"d".to_vec(), ts(9)))
        );
    }
}

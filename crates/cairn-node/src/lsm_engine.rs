//! The storage engine (`cairn-lsm`) as the Raft layer's [`Engine`]: every range's log, states
//! and data in one LSM tree, so one synced write per loop turn covers all groups. The LSM's
//! single write-ahead log makes writes durable in order, which `Engine` requires.
//!
//! The tree is shared with the node's replicated MVCC database (`cairn_mvcc::Db`, the SQL
//! range's state), which reads its own keys directly. So that both fit in one key space, this
//! adapter maps the Raft layer's keys (`cairn_raft::keys`) onto engine keys:
//!
//! ```text
//! Raft-layer key                          engine key
//! 02 's' k   (data of the SQL range)      k              the MVCC key itself
//! anything else, x                        00 00 'r' x
//! ```
//!
//! Invariants: MVCC keys never begin `00 00` except its own records (`00 00 "hlc-ceiling/"`),
//! so the `00 00 'r'` namespace is this adapter's alone; a write of a SQL-range key whose
//! engine key would fall in that namespace, or begin with `FF` (no MVCC key of SQL data does:
//! they begin with a keycode tag), is refused. Each of the three Raft-layer pieces maps onto
//! the engine keys in order, so a scan visits them piece by piece, in ascending Raft-layer
//! order; the SQL piece's image is every engine key outside `[00 00 'r', 00 00 's')`.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use cairn_raft::engine::{Batch, Engine, Op};
use cairn_raft::{Error, Result};

/// [`Engine`] over Cairn's storage engine.
pub struct LsmEngine {
    db: Arc<cairn_lsm::Db>,
}

impl LsmEngine {
    pub fn new(db: Arc<cairn_lsm::Db>) -> Self {
        Self { db }
    }

    /// Opens (or creates) the storage engine in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = cairn_lsm::Db::open(dir, cairn_lsm::Options::default())
            .map_err(|e| Error::Engine(format!("open {}: {e}", dir.display())))?;
        Ok(Self { db: Arc::new(db) })
    }

    pub fn db(&self) -> &Arc<cairn_lsm::Db> {
        &self.db
    }
}

/// The first byte (after the Raft layer's data prefix) of every SQL-range key.
pub const SQL_PREFIX: u8 = b's';
/// The Raft layer's data prefix (`cairn_raft::keys::data`).
const DATA: u8 = 0x02;
const SQL_LO: &[u8] = &[DATA, SQL_PREFIX];
const SQL_HI: &[u8] = &[DATA, SQL_PREFIX + 1];
/// Engine keys of everything but the SQL range's data.
const NS: &[u8] = b"\0\0r";
const NS_END: &[u8] = b"\0\0s";
/// Above every engine key of the SQL range's data.
const SQL_RAW_END: &[u8] = &[0xFF];

fn in_sql(k: &[u8]) -> bool {
    k >= SQL_LO && k < SQL_HI
}

/// The engine key of a Raft-layer key.
fn to_engine(k: &[u8]) -> Cow<'_, [u8]> {
    match k.get(2..) {
        Some(raw) if in_sql(k) => Cow::Borrowed(raw),
        _ => {
            let mut out = Vec::with_capacity(NS.len() + k.len());
            out.extend_from_slice(NS);
            out.extend_from_slice(k);
            Cow::Owned(out)
        }
    }
}

/// The Raft-layer key of an engine key.
fn from_engine(raw: &[u8]) -> Vec<u8> {
    match raw.strip_prefix(NS) {
        Some(k) => k.to_vec(),
        None => [SQL_LO, raw].concat(),
    }
}

/// The engine key of a write, refused if a SQL-range key would leave its image.
fn write_key(k: &[u8]) -> Result<Cow<'_, [u8]>> {
    let e = to_engine(k);
    if in_sql(k) && (e.starts_with(NS) || e.as_ref() >= SQL_RAW_END) {
        return Err(Error::Engine(
            "a SQL-range key outside the MVCC key space".into(),
        ));
    }
    Ok(e)
}

/// The engine-key intervals `[lo, hi)` (`hi` None: unbounded) holding the Raft-layer keys
/// in `[start, end)`, in ascending Raft-layer order.
fn engine_intervals(start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let ns = |k: &[u8]| [NS, k].concat();
    let mut out = Vec::new();
    // Below the SQL range's data.
    let hi = end.min(SQL_LO);
    if start < hi {
        out.push((ns(start), Some(ns(hi))));
    }
    // The SQL range's data, around the adapter's namespace.
    let (a, b) = (start.max(SQL_LO), end.min(SQL_HI));
    if a < b {
        let lo = a.get(2..).unwrap_or(&[]);
        let hi: Option<&[u8]> = if b == SQL_HI { None } else { b.get(2..) };
        let below = hi.map_or(NS, |h| h.min(NS));
        if lo < below {
            out.push((lo.to_vec(), Some(below.to_vec())));
        }
        let from = lo.max(NS_END);
        if hi.is_none_or(|h| from < h) {
            out.push((from.to_vec(), hi.map(<[u8]>::to_vec)));
        }
    }
    // Above it.
    let lo = start.max(SQL_HI);
    if lo < end {
        out.push((ns(lo), Some(ns(end))));
    }
    out
}

impl Engine for LsmEngine {
    fn write(&self, batch: Batch, sync: bool) -> Result<()> {
        let mut wb = cairn_lsm::WriteBatch::new();
        for op in batch.ops() {
            match op {
                Op::Put(k, v) => wb.put(&write_key(k)?, v),
                Op::Delete(k) => wb.delete(&write_key(k)?),
                Op::DeleteRange(s, e) => {
                    for (lo, hi) in engine_intervals(s, e) {
                        wb.delete_range(&lo, hi.as_deref().unwrap_or(SQL_RAW_END));
                    }
                }
            }
        }
        let wo = if sync {
            cairn_lsm::WriteOptions::SYNC
        } else {
            cairn_lsm::WriteOptions::NO_SYNC
        };
        self.db
            .write(wb, &wo)
            .map_err(|e| Error::Engine(format!("write: {e}")))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db
            .get(&to_engine(key), &cairn_lsm::ReadOptions::default())
            .map_err(|e| Error::Engine(format!("get: {e}")))
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        for (lo, hi) in engine_intervals(start, end) {
            let ro = cairn_lsm::ReadOptions {
                lower_bound: Some(lo.clone()),
                upper_bound: hi,
                ..Default::default()
            };
            let mut it = self
                .db
                .iter(ro)
                .map_err(|e| Error::Engine(format!("scan: {e}")))?;
            it.seek(&lo)
                .map_err(|e| Error::Engine(format!("scan: {e}")))?;
            while it.valid() {
                if !visit(&from_engine(it.key()), it.value()) {
                    return Ok(());
                }
                it.next().map_err(|e| Error::Engine(format!("scan: {e}")))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_raft::MemEngine;

    #[test]
    fn delete_range_and_scan_agree_with_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let lsm = LsmEngine::open(dir.path()).unwrap();
        let mem = MemEngine::new();
        for engine in [&lsm as &dyn Engine, &mem as &dyn Engine] {
            let mut b = Batch::new();
            for i in 0..20u8 {
                b.put(vec![b'k', i], vec![i]);
            }
            b.delete_range(vec![b'k', 5], vec![b'k', 10]);
            b.delete(vec![b'k', 15]);
            engine.write(b, true).unwrap();
        }
        let collect = |e: &dyn Engine| {
            let mut out = Vec::new();
            e.scan(&[b'k', 3], &[b'k', 17], &mut |k, v| {
                out.push((k.to_vec(), v.to_vec()));
                true
            })
            .unwrap();
            out
        };
        let a = collect(&lsm);
        assert_eq!(a, collect(&mem));
        let keys: Vec<u8> = a.iter().map(|(k, _)| k[1]).collect();
        assert_eq!(keys, vec![3, 4, 10, 11, 12, 13, 14, 16]);
    }

    /// Keys of every piece of the mapping: local Raft keys, data below, inside and above the
    /// SQL range (MVCC keys and the MVCC layer's own `00 00` records in it).
    fn key(rng: &mut u64) -> Vec<u8> {
        let mut next = || {
            *rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*rng >> 33) as u8
        };
        let prefixes: [&[u8]; 7] = [
            &[0x01, b'a'],
            &[0x01, b'e', 0, 0],
            &[0x02, b'm'],
            &[0x02, b's', 0x01],
            &[0x02, b's', 0x00, 0x00, b'h'],
            &[0x02, b't'],
            &[0x02, b'u', 0xFF],
        ];
        let mut k = prefixes[usize::from(next()) % prefixes.len()].to_vec();
        for _ in 0..next() % 3 {
            k.push(next() % 4);
        }
        k
    }

    #[test]
    fn the_key_space_mapping_keeps_order_and_agrees_with_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let lsm = LsmEngine::open(dir.path()).unwrap();
        let mem = MemEngine::new();
        let mut rng = 7u64;
        for round in 0..200 {
            let mut b = Batch::new();
            for _ in 0..10 {
                b.put(key(&mut rng), vec![round as u8]);
            }
            b.delete(key(&mut rng));
            if round % 5 == 0 {
                let (x, y) = (key(&mut rng), key(&mut rng));
                b.delete_range(x.clone().min(y.clone()), x.max(y));
            }
            lsm.write(b.clone(), false).unwrap();
            mem.write(b, false).unwrap();
            let (x, y) = (key(&mut rng), key(&mut rng));
            for (s, e) in [
                (x.clone().min(y.clone()), x.max(y)),
                (vec![0x00], vec![0x03]),
            ] {
                let collect = |eng: &dyn Engine| {
                    let mut out = Vec::new();
                    eng.scan(&s, &e, &mut |k, v| {
                        out.push((k.to_vec(), v.to_vec()));
                        true
                    })
                    .unwrap();
                    out
                };
                assert_eq!(collect(&lsm), collect(&mem), "scan {s:?}..{e:?}");
            }
        }
        // SQL-range data is stored as the bare MVCC key; everything else in the namespace.
        let mut b = Batch::new();
        b.put(vec![0x02, b's', 0x01, 0x80], b"row".to_vec());
        b.put(vec![0x01, b'h', 9], b"hs".to_vec());
        lsm.write(b, true).unwrap();
        let ro = cairn_lsm::ReadOptions::default();
        assert_eq!(
            lsm.db().get(&[0x01, 0x80], &ro).unwrap(),
            Some(b"row".to_vec())
        );
        assert_eq!(
            lsm.db().get(b"\0\0r\x01h\x09", &ro).unwrap(),
            Some(b"hs".to_vec())
        );
        // A SQL-range key that would land in the namespace, or above the MVCC keys, is refused.
        for bad in [&b"\x02s\0\0r1"[..], &[0x02, b's', 0xFF]] {
            let mut b = Batch::new();
            b.put(bad.to_vec(), vec![]);
            assert!(lsm.write(b, false).is_err(), "{bad:?}");
        }
    }
}

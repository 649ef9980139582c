//! The storage engine (`cairn-lsm`) as the Raft layer's [`Engine`]: every range's log, states
//! and data in one LSM tree, so one synced write per loop turn covers all groups. The LSM's
//! single write-ahead log makes writes durable in order, which `Engine` requires.

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

impl Engine for LsmEngine {
    fn write(&self, batch: Batch, sync: bool) -> Result<()> {
        let mut wb = cairn_lsm::WriteBatch::new();
        for op in batch.ops() {
            match op {
                Op::Put(k, v) => wb.put(k, v),
                Op::Delete(k) => wb.delete(k),
                Op::DeleteRange(s, e) => wb.delete_range(s, e),
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
            .get(key, &cairn_lsm::ReadOptions::default())
            .map_err(|e| Error::Engine(format!("get: {e}")))
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let ro = cairn_lsm::ReadOptions {
            lower_bound: Some(start.to_vec()),
            upper_bound: Some(end.to_vec()),
            ..Default::default()
        };
        let mut it = self
            .db
            .iter(ro)
            .map_err(|e| Error::Engine(format!("scan: {e}")))?;
        it.seek(start)
            .map_err(|e| Error::Engine(format!("scan: {e}")))?;
        while it.valid() {
            if !visit(it.key(), it.value()) {
                break;
            }
            it.next().map_err(|e| Error::Engine(format!("scan: {e}")))?;
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
}

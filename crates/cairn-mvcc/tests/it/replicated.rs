//! A replicated database (`DbOptions::replicator`): only the leader serves, commits carry the
//! leader's term, and a leader rebuilds its in-memory state from the engine when its term is
//! new. The "cluster" here is a model: `replicate` writes a batch into every replica's engine
//! when it was validated in the current term, as Raft replicas would apply it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use cairn_env::ManualClock;
use cairn_lsm::{WriteBatch, WriteOptions};
use cairn_mvcc::{Db, DbOptions, Error, IsolationLevel, Replicator};
use parking_lot::Mutex;

/// Two replicas; one leads in the current term.
#[derive(Default)]
struct Cluster {
    engines: Mutex<Vec<cairn_lsm::Db>>,
    term: AtomicU64,
    leader: AtomicUsize,
    replicated: AtomicU64,
}

struct Member {
    cluster: Arc<Cluster>,
    me: usize,
}

impl Replicator for Member {
    fn barrier(&self) -> cairn_mvcc::Result<u64> {
        if self.cluster.leader.load(Ordering::SeqCst) == self.me {
            Ok(self.cluster.term.load(Ordering::SeqCst))
        } else {
            Err(Error::Unavailable("not the leader".into()))
        }
    }

    fn replicate(&self, term: u64, batch: WriteBatch) -> cairn_mvcc::Result<()> {
        if term != self.cluster.term.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("appended in another term".into()));
        }
        for e in self.cluster.engines.lock().iter() {
            e.write(batch.clone(), &WriteOptions::NO_SYNC)?;
        }
        self.cluster.replicated.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn open(cluster: &Arc<Cluster>, me: usize, dir: &std::path::Path, clock: Arc<ManualClock>) -> Db {
    let opts = DbOptions {
        clock,
        replicator: Some(Arc::new(Member {
            cluster: Arc::clone(cluster),
            me,
        })),
        ..DbOptions::default()
    };
    let db = Db::open(dir, opts).unwrap();
    cluster.engines.lock().push(db.engine().clone());
    db
}

const SECOND: u64 = 1_000_000_000;

#[test]
fn only_the_leader_serves_and_a_new_leader_sees_every_earlier_commit() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let cluster = Arc::new(Cluster::default());
    cluster.term.store(1, Ordering::SeqCst);
    // Replica 1's clock runs 10 s ahead of replica 0's.
    let a = open(
        &cluster,
        0,
        dirs[0].path(),
        Arc::new(ManualClock::new(100 * SECOND)),
    );
    let b = open(
        &cluster,
        1,
        dirs[1].path(),
        Arc::new(ManualClock::new(110 * SECOND)),
    );

    // Term 1: replica 0 leads; its commit reaches both engines through `replicate`.
    a.transaction(|t| t.put(b"k", b"a1")).unwrap();
    assert_eq!(cluster.replicated.load(Ordering::SeqCst), 1);
    let Err(err) = b.begin(IsolationLevel::Serializable) else {
        panic!("a follower began a transaction")
    };
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(err.sqlstate(), "40001");

    // A transaction that reads `k` in term 1 and commits after the term changed.
    let mut stale = a.begin(IsolationLevel::Serializable).unwrap();
    assert_eq!(stale.get(b"k").unwrap().as_deref(), Some(&b"a1"[..]));
    stale.put(b"other", b"x").unwrap();

    // Term 2: replica 1 leads and overwrites `k` (its clock is ahead).
    cluster.term.store(2, Ordering::SeqCst);
    cluster.leader.store(1, Ordering::SeqCst);
    let mut t = b.begin(IsolationLevel::Serializable).unwrap();
    assert_eq!(t.get(b"k").unwrap().as_deref(), Some(&b"a1"[..]));
    t.put(b"k", b"b2").unwrap();
    let b_commit = t.commit().unwrap().commit_ts.unwrap();
    assert!(matches!(
        a.begin(IsolationLevel::Snapshot).err(),
        Some(Error::Unavailable(_))
    ));

    // Term 3: replica 0 leads again. The stale transaction's read of `k` no longer holds:
    // its validation finds replica 1's commit in the engine (the recent-writes index was
    // rebuilt for the new term), and nothing of it is written.
    cluster.term.store(3, Ordering::SeqCst);
    cluster.leader.store(0, Ordering::SeqCst);
    let err = stale.commit().unwrap_err();
    assert!(matches!(err, Error::ReadConflict { .. }), "{err:?}");
    let mut r = a.begin(IsolationLevel::Snapshot).unwrap();
    assert_eq!(r.get(b"k").unwrap().as_deref(), Some(&b"b2"[..]));
    assert_eq!(r.get(b"other").unwrap(), None);
    drop(r);
    // Its clock moved above replica 1's commits although its wall clock is 10 s behind.
    let mut w = a.begin(IsolationLevel::Serializable).unwrap();
    w.put(b"k", b"a3").unwrap();
    let a_commit = w.commit().unwrap().commit_ts.unwrap();
    assert!(a_commit > b_commit, "{a_commit} <= {b_commit}");
    assert_eq!(
        b.engine().get(b"x", &Default::default()).unwrap(),
        None,
        "sanity: engines hold MVCC keys only"
    );
}

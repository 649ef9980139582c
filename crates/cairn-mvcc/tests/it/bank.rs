//! The bank invariant: money moves between ten accounts but is never created or destroyed.
//!
//! Four threads move random amounts between random pairs of accounts while a fifth takes
//! `Db::snapshot` over and over and sums every account. The sum seen by every snapshot, and
//! the final sum, must be the starting total (10,000).
//!
//! Why this proves something: each transfer reads two balances and writes both, so a lost
//! update (two transfers from one account both based on the same old balance) or a torn
//! commit (one leg of a transfer visible without the other) changes the total. A snapshot
//! that mixed versions from before and after a commit, or missed a commit below its read
//! timestamp, sums to something else. The transfers run at SERIALIZABLE, at SNAPSHOT (where
//! first committer wins on both written keys prevents lost updates), at READ COMMITTED
//! with `get_for_update` row locks taken in random order (so deadlocks happen, their victims
//! retry, and the locks alone must keep the total), and as blind `AtomicOp::Add`s (which
//! must never conflict at all). The number of committed transfers is asserted positive, so
//! a run where every transfer failed cannot pass vacuously.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use cairn_mvcc::{
    AtomicOp, Db, DbOptions, Error, IsolationLevel, LockMode, LockWait, Locked, ScanOptions,
    Transaction, TxnOptions,
};

const ACCOUNTS: usize = 10;
const TOTAL: i64 = 10_000;
const TRANSFER_THREADS: u64 = 4;
/// How long the transfer threads run.
const RUN_FOR: Duration = Duration::from_millis(1500);
/// At most this many transfers per thread, so a fast machine does not spend the whole
/// budget on one test.
const TRANSFERS_MAX: u64 = 2_000;

/// A tiny deterministic PRNG (xorshift64), seeded per thread: no new dependency.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Never zero: xorshift would stay at zero forever.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Two different account numbers, in random order.
    fn pair(&mut self) -> (usize, usize) {
        let from = self.below(ACCOUNTS as u64) as usize;
        let to = (from + 1 + self.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
        (from, to)
    }
}

fn account(i: usize) -> Vec<u8> {
    format!("acct/{i:02}").into_bytes()
}

fn decode(v: &[u8]) -> i64 {
    let bytes: [u8; 8] = v
        .try_into()
        .unwrap_or_else(|_| panic!("balance is {} bytes, not 8: {v:?}", v.len()));
    i64::from_le_bytes(bytes)
}

fn balance(txn: &mut Transaction, i: usize) -> Result<i64, Error> {
    let v = txn.get(&account(i))?;
    Ok(decode(
        &v.unwrap_or_else(|| panic!("account {i} is missing")),
    ))
}

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(
        dir.path(),
        DbOptions {
            sync_commits: false,
            ..DbOptions::default()
        },
    )
    .expect("open");
    db.transaction(|txn| {
        for i in 0..ACCOUNTS {
            txn.put(&account(i), &(TOTAL / ACCOUNTS as i64).to_le_bytes())?;
        }
        Ok(())
    })
    .expect("seed the accounts");
    (dir, db)
}

/// Every balance as one snapshot sees it.
fn balances(txn: &mut Transaction) -> Vec<i64> {
    let rows = txn
        .scan(b"acct/", Some(b"acct0"), ScanOptions::default())
        .expect("scan accounts");
    let keys: Vec<Vec<u8>> = rows.iter().map(|(k, _)| k.clone()).collect();
    let expected: Vec<Vec<u8>> = (0..ACCOUNTS).map(account).collect();
    assert_eq!(keys, expected, "a snapshot lost or invented accounts");
    rows.iter().map(|(_, v)| decode(v)).collect()
}

#[derive(Debug, Default)]
struct Outcome {
    /// Transfers that committed (read-only ones included).
    committed: u64,
    /// Transfers given up after `Db::transaction_with` ran out of retries.
    exhausted: u64,
    /// Snapshots the auditor summed.
    audits: u64,
}

/// Runs `transfer` on four threads (each with its own PRNG) while a fifth thread audits
/// snapshots; then checks the final balances. `transfer` returns `Err` only for errors that
/// `Db::transaction_with` already gave up on.
fn run_bank(db: &Db, transfer: impl Fn(&Db, &mut XorShift) -> Result<(), Error> + Sync) -> Outcome {
    let stop = AtomicBool::new(false);
    let committed = AtomicU64::new(0);
    let exhausted = AtomicU64::new(0);
    let start = Barrier::new(TRANSFER_THREADS as usize + 1);
    let audits = std::thread::scope(|s| {
        let auditor = s.spawn(|| {
            start.wait();
            let mut audits = 0u64;
            // At least one audit after the last transfer is checked below; here, as many as
            // fit while the transfers run.
            while !stop.load(Ordering::Acquire) {
                let mut snap = db.snapshot().expect("snapshot");
                let seen = balances(&mut snap);
                let sum: i64 = seen.iter().sum();
                assert_eq!(
                    sum,
                    TOTAL,
                    "snapshot at {} sums to {sum}: {seen:?}",
                    snap.read_ts()
                );
                audits += 1;
            }
            audits
        });
        let workers: Vec<_> = (0..TRANSFER_THREADS)
            .map(|t| {
                let (transfer, start, committed, exhausted) =
                    (&transfer, &start, &committed, &exhausted);
                s.spawn(move || {
                    let mut rng = XorShift::new(t + 1);
                    start.wait();
                    let began = Instant::now();
                    for _ in 0..TRANSFERS_MAX {
                        if began.elapsed() >= RUN_FOR {
                            break;
                        }
                        match transfer(db, &mut rng) {
                            Ok(()) => committed.fetch_add(1, Ordering::Relaxed),
                            Err(Error::RetriesExhausted { .. }) => {
                                exhausted.fetch_add(1, Ordering::Relaxed)
                            }
                            Err(e) => panic!("transfer failed: {e:?}"),
                        };
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("transfer thread panicked");
        }
        stop.store(true, Ordering::Release);
        auditor.join().expect("auditor panicked")
    });
    // After every transfer returned: a new snapshot and a SERIALIZABLE transaction agree.
    let mut snap = db.snapshot().expect("final snapshot");
    let last = balances(&mut snap);
    assert_eq!(last.iter().sum::<i64>(), TOTAL, "final balances {last:?}");
    let again = db
        .transaction(|txn| {
            (0..ACCOUNTS)
                .map(|i| balance(txn, i))
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("final read");
    assert_eq!(again, last);
    Outcome {
        committed: committed.into_inner(),
        exhausted: exhausted.into_inner(),
        audits: audits + 1,
    }
}

fn report(name: &str, db: &Db, out: &Outcome) {
    let s = db.stats();
    println!(
        "{name}: {} transfers committed, {} gave up; {} audits; commits {} (read-only {}), \
         write conflicts {}, read conflicts {}, retries {}, deadlocks {}",
        out.committed,
        out.exhausted,
        out.audits,
        s.commits,
        s.read_only_commits,
        s.write_conflicts,
        s.read_conflicts,
        s.retries,
        s.deadlocks
    );
    assert!(out.committed > 0, "no transfer committed");
    assert!(s.commits > 1, "no transfer wrote anything");
}

/// A transfer that reads both balances and writes both, never overdrawing: the amount is
/// capped by the source balance (a zero amount writes nothing).
fn read_write_transfer(
    isolation: IsolationLevel,
) -> impl Fn(&Db, &mut XorShift) -> Result<(), Error> + Sync {
    move |db, rng| {
        let (from, to) = rng.pair();
        let want = 1 + rng.below(200) as i64;
        let opts = TxnOptions {
            isolation,
            ..TxnOptions::default()
        };
        db.transaction_with(opts, |txn| {
            let a = balance(txn, from)?;
            let b = balance(txn, to)?;
            let amount = want.min(a);
            if amount > 0 {
                txn.put(&account(from), &(a - amount).to_le_bytes())?;
                txn.put(&account(to), &(b + amount).to_le_bytes())?;
            }
            Ok(())
        })
    }
}

fn assert_no_overdraft(db: &Db) {
    let mut snap = db.snapshot().expect("snapshot");
    let last = balances(&mut snap);
    assert!(
        last.iter().all(|b| *b >= 0),
        "an account was overdrawn: {last:?}"
    );
}

#[test]
fn bank_transfers_keep_total_under_serializable() {
    let (_dir, db) = open();
    let out = run_bank(&db, read_write_transfer(IsolationLevel::Serializable));
    report("serializable", &db, &out);
    assert_no_overdraft(&db);
}

#[test]
fn bank_transfers_keep_total_under_snapshot() {
    let (_dir, db) = open();
    let out = run_bank(&db, read_write_transfer(IsolationLevel::Snapshot));
    report("snapshot", &db, &out);
    // Both balances a transfer reads are also written, so first committer wins prevents
    // the write skew that could otherwise overdraw an account.
    assert_no_overdraft(&db);
    assert_eq!(
        db.stats().read_conflicts,
        0,
        "SNAPSHOT never validates reads"
    );
}

#[test]
fn bank_with_atomic_adds_never_conflicts() {
    let (_dir, db) = open();
    let out = run_bank(&db, |db, rng| {
        let (from, to) = rng.pair();
        let amount = 1 + rng.below(200) as i64;
        db.transaction(|txn| {
            // Two's complement: adding the bytes of -amount subtracts it.
            txn.atomic_op(&account(from), AtomicOp::Add, &(-amount).to_le_bytes())?;
            txn.atomic_op(&account(to), AtomicOp::Add, &amount.to_le_bytes())
        })
    });
    report("atomic adds", &db, &out);
    let s = db.stats();
    assert_eq!(s.write_conflicts, 0, "blind atomic adds conflicted: {s:?}");
    assert_eq!(s.read_conflicts, 0, "blind atomic adds conflicted: {s:?}");
    assert_eq!(s.retries, 0, "blind atomic adds were retried: {s:?}");
    assert_eq!(out.exhausted, 0);
    // Every transfer wrote, so every one is a commit (the seeding transaction is one more).
    assert_eq!(s.commits, out.committed + 1, "{s:?}");
}

#[test]
fn bank_transfers_keep_total_under_read_committed_with_locks() {
    let (_dir, db) = open();
    let out = run_bank(&db, |db, rng| {
        // `pair` returns the two accounts in random order, so two transfers between the
        // same accounts often lock them in opposite orders and deadlock; the victim's
        // `Deadlock` error is retryable and `transaction_with` runs it again.
        let (from, to) = rng.pair();
        let want = 1 + rng.below(200) as i64;
        let opts = TxnOptions {
            isolation: IsolationLevel::ReadCommitted,
            ..TxnOptions::default()
        };
        db.transaction_with(opts, |txn| {
            let mut locked = |i: usize| -> Result<i64, Error> {
                match txn.get_for_update(&account(i), LockMode::Exclusive, LockWait::Block)? {
                    Locked::Acquired(Some(v)) => Ok(decode(&v)),
                    other => panic!("get_for_update of account {i}: {other:?}"),
                }
            };
            let a = locked(from)?;
            let b = locked(to)?;
            let amount = want.min(a);
            if amount > 0 {
                txn.put(&account(from), &(a - amount).to_le_bytes())?;
                txn.put(&account(to), &(b + amount).to_le_bytes())?;
            }
            Ok(())
        })
    });
    report("read committed", &db, &out);
    let s = db.stats();
    assert_eq!(
        (s.write_conflicts, s.read_conflicts),
        (0, 0),
        "READ COMMITTED raised serialization failures: {s:?}"
    );
    assert_no_overdraft(&db);
}

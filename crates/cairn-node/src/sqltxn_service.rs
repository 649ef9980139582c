//! The `SqlTxn` service: transactions on this node's replicated MVCC database for SQL
//! sessions on other nodes (`proto/sqltxn.proto`).
//!
//! One stream is one transaction. Requests are served in order on the blocking pool (a
//! request may wait for a row lock or for its commit to apply); the requests that have
//! arrived together (a gateway pipelines its writes) go in one trip. The transaction is rolled
//! back when the stream ends without a commit, so a gateway that dies or drops its connection
//! leaves no locks behind.
//!
//! Invariants: every request gets exactly one response; a request before `begin`, or a second
//! `begin`, is answered with SQLSTATE 08P01 and changes nothing. The database itself refuses
//! to begin or commit unless this node leads the SQL range (`sql_range.rs`).

use std::pin::Pin;
use std::sync::Arc;

use cairn_mvcc::{
    AtomicOp, Db, IsolationLevel, LockMode, LockWait, Locked, SavepointId, ScanOptions,
    Transaction, TxnOptions,
};
use cairn_proto::sqltxn::sql_txn_server::SqlTxn;
use cairn_proto::sqltxn::txn_request::Op;
use cairn_proto::sqltxn::{Pair, TxnRequest, TxnResponse};
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::server::Shared;

pub struct SqlTxnService {
    shared: Arc<Shared>,
}

impl SqlTxnService {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn failure(code: &str, message: impl Into<String>) -> TxnResponse {
    TxnResponse {
        sqlstate: code.into(),
        message: message.into(),
        ..Default::default()
    }
}

fn mvcc_failure(e: &cairn_mvcc::Error) -> TxnResponse {
    failure(e.sqlstate(), e.report())
}

fn isolation(code: u32) -> Option<IsolationLevel> {
    Some(match code {
        0 => IsolationLevel::ReadCommitted,
        1 => IsolationLevel::Snapshot,
        2 => IsolationLevel::Serializable,
        _ => return None,
    })
}

fn value(v: Option<Vec<u8>>) -> TxnResponse {
    TxnResponse {
        found: v.is_some(),
        value: v.unwrap_or_default(),
        ..Default::default()
    }
}

/// Serves one request against the stream's transaction.
fn serve(db: &Db, txn: &mut Option<Transaction>, op: Op) -> TxnResponse {
    if let Op::Begin(b) = &op {
        if txn.is_some() {
            return failure("08P01", "a transaction is already open on this stream");
        }
        let Some(isolation) = isolation(b.isolation) else {
            return failure("08P01", format!("unknown isolation level {}", b.isolation));
        };
        return match db.begin_with(TxnOptions {
            isolation,
            read_only: b.read_only,
            ..TxnOptions::default()
        }) {
            Ok(t) => {
                let micros = i64::try_from(t.start_ts().wall_nanos / 1000).unwrap_or(i64::MAX);
                *txn = Some(t);
                TxnResponse {
                    timestamp_micros: micros,
                    ..Default::default()
                }
            }
            Err(e) => mvcc_failure(&e),
        };
    }
    let Some(t) = txn.as_mut() else {
        return failure("08P01", "no transaction begun on this stream");
    };
    let done = |r: cairn_mvcc::Result<()>| match r {
        Ok(()) => TxnResponse::default(),
        Err(e) => mvcc_failure(&e),
    };
    match op {
        Op::Begin(_) => failure("08P01", "unreachable"),
        Op::Get(k) => t.get(&k).map_or_else(|e| mvcc_failure(&e), value),
        Op::GetUntracked(k) => t.get_untracked(&k).map_or_else(|e| mvcc_failure(&e), value),
        Op::TrackRead(k) => done(t.track_read(&k)),
        Op::AddU64(kd) => done(t.atomic_op(&kd.key, AtomicOp::Add, &kd.delta.to_le_bytes())),
        Op::LockRow(l) => {
            let mode = if l.strength == 1 {
                LockMode::Shared
            } else {
                LockMode::Exclusive
            };
            let wait = match l.wait {
                1 => LockWait::NoWait,
                2 => LockWait::SkipLocked,
                _ => LockWait::Block,
            };
            match t.get_for_update(&l.key, mode, wait) {
                Ok(Locked::Acquired(v)) => value(v),
                Ok(Locked::Skipped) => TxnResponse {
                    skipped: true,
                    ..Default::default()
                },
                Err(e) => mvcc_failure(&e),
            }
        }
        Op::Scan(s) => {
            let limit = usize::try_from(s.limit).unwrap_or(usize::MAX);
            match t.scan(
                &s.start,
                Some(&s.end),
                ScanOptions {
                    limit,
                    reverse: s.reverse,
                },
            ) {
                Ok(pairs) => TxnResponse {
                    pairs: pairs
                        .into_iter()
                        .map(|(key, value)| Pair { key, value })
                        .collect(),
                    ..Default::default()
                },
                Err(e) => mvcc_failure(&e),
            }
        }
        Op::Put(p) => done(t.put(&p.key, &p.value)),
        Op::Delete(k) => done(t.delete(&k)),
        Op::Commit(_) => done(t.commit().map(|_| ())),
        Op::Rollback(_) => {
            t.rollback();
            TxnResponse::default()
        }
        Op::Savepoint(_) => done(t.savepoint().map(|_| ())),
        Op::RollbackToSavepoint(d) => match usize::try_from(d) {
            Ok(d) => done(t.rollback_to_savepoint(SavepointId(d))),
            Err(_) => failure("08P01", "savepoint depth out of range"),
        },
        Op::ReleaseSavepoint(d) => match usize::try_from(d) {
            Ok(d) => done(t.release_savepoint(SavepointId(d))),
            Err(_) => failure("08P01", "savepoint depth out of range"),
        },
        Op::NewStatement(_) => {
            if t.isolation() == IsolationLevel::ReadCommitted {
                done(db.confirm_leadership())
            } else {
                TxnResponse::default()
            }
        }
    }
}

/// Most requests served in one trip to the blocking pool.
const BATCH_MAX: usize = 256;

/// `f`'s output if it is ready without waiting.
fn ready_now<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

type TxnStream = Pin<Box<dyn Stream<Item = Result<TxnResponse, Status>> + Send>>;

#[tonic::async_trait]
impl SqlTxn for SqlTxnService {
    type TxnStream = TxnStream;

    async fn txn(
        &self,
        req: Request<Streaming<TxnRequest>>,
    ) -> Result<Response<TxnStream>, Status> {
        let mut input = req.into_inner();
        let db = self.shared.sql_db.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut txn: Option<Transaction> = None;
            // Ends when the gateway ends the stream, drops it, or sends garbage.
            'serve: loop {
                let first = match input.message().await {
                    Ok(Some(req)) => req,
                    Ok(None) => break,
                    Err(status) => {
                        tracing::warn!(error = %status, "SqlTxn stream failed; rolling back");
                        break;
                    }
                };
                // A gateway pipelines writes: serve whatever has arrived in one trip to the
                // blocking pool.
                let mut ops = vec![first.op];
                while ops.len() < BATCH_MAX {
                    match ready_now(input.message()) {
                        Some(Ok(Some(req))) => ops.push(req.op),
                        // Pending, or the end (which the `message` above sees again).
                        None | Some(Ok(None)) => break,
                        Some(Err(status)) => {
                            // Reported once: the stream yields nothing more.
                            tracing::warn!(error = %status, "SqlTxn stream failed; rolling back");
                            ops.clear();
                            break;
                        }
                    }
                }
                let db = db.clone();
                let mut t = txn.take();
                let served = tokio::task::spawn_blocking(move || {
                    let resps: Vec<TxnResponse> = ops
                        .into_iter()
                        .map(|op| match op {
                            Some(op) => serve(&db, &mut t, op),
                            None => failure("08P01", "empty request"),
                        })
                        .collect();
                    (t, resps)
                })
                .await;
                let (t, resps) = match served {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::error!(error = %e, "SqlTxn request failed; closing its stream");
                        break;
                    }
                };
                txn = t;
                for resp in resps {
                    if tx.send(Ok(resp)).await.is_err() {
                        break 'serve;
                    }
                }
            }
            // Rolls back unless committed (the lock release may wait for nothing, but keep
            // it off the async workers all the same).
            if let Some(mut t) = txn {
                let _ = tokio::task::spawn_blocking(move || t.rollback()).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

//! The SQL layer's transactional store on a cluster node: transactions on the SQL range.
//!
//! Role: implements `cairn_sql_exec::kv::KvStore` for `cairn start --grpc-addr`. A
//! transaction runs where the SQL range's leader is: on this node's replicated MVCC
//! database when this node leads ([`MvccStore`]), otherwise on the leader through one
//! `SqlTxn` stream per transaction (`proto/sqltxn.proto`), so a SQL session works on any node.
//!
//! Invariants:
//! 1. `begin` waits up to [`BEGIN_WAIT`] for the range to have a reachable leader (during an
//!    election, or while routing catches up), then fails with 40001; a transaction never
//!    moves between nodes once begun.
//! 2. A remote transaction's errors keep the leader's SQLSTATE; losing the stream is 40001
//!    before a commit was sent and 40003 (outcome unknown) after.
//! 3. Dropping a remote transaction ends its stream, which rolls it back on the leader.
//! 4. Requests whose answer carries no data (writes, read tracking, the statement barrier)
//!    are pipelined: sent without waiting for their answers, which the stream returns in
//!    order. The first error among them is returned by the next request that waits for an
//!    answer, or by `end_statement`, which the session calls after every statement; so an
//!    error still fails the statement that caused it. `commit` first waits for every answer
//!    and sends the commit only if none was an error.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_node::server::Shared;
use cairn_proto::sqltxn::sql_txn_client::SqlTxnClient;
use cairn_proto::sqltxn::txn_request::Op;
use cairn_proto::sqltxn::{Begin, Empty, KeyDelta, LockRow, Pair, Scan, TxnRequest, TxnResponse};
use cairn_sql_exec::kv::{IsolationLevel, KvPair, KvStore, KvTxn};
use cairn_sql_plan::plan::{RowLockStrength, RowLockWait};
use cairn_sql_plan::{Result, SqlError};
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;
use tonic::transport::Channel;

use crate::sql_store::MvccStore;

/// How long `begin` waits for the SQL range to have a reachable leader.
const BEGIN_WAIT: Duration = Duration::from_secs(5);
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// `KvStore` over the SQL range, wherever its leader is.
pub struct ClusterStore {
    local: MvccStore,
    node: Arc<Shared>,
    clients: Mutex<HashMap<String, SqlTxnClient<Channel>>>,
}

impl ClusterStore {
    pub fn new(node: Arc<Shared>) -> Self {
        Self {
            local: MvccStore::new(Arc::new(node.sql_db.clone())),
            node,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, addr: &str) -> Result<SqlTxnClient<Channel>> {
        let mut clients = self.clients.lock();
        if let Some(c) = clients.get(addr) {
            return Ok(c.clone());
        }
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| retry_error(format!("bad address {addr}: {e}")))?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(2))
            // A leader that vanishes without closing the connection ends the stream.
            .http2_keep_alive_interval(Duration::from_secs(2))
            .keep_alive_timeout(Duration::from_secs(4));
        let c = {
            let _guard = self.node.runtime.enter();
            SqlTxnClient::new(endpoint.connect_lazy())
        };
        clients.insert(addr.to_string(), c.clone());
        Ok(c)
    }
}

fn retry_error(msg: impl Into<String>) -> SqlError {
    SqlError::new("40001", msg)
}

/// The SQLSTATE a remote error names, as one of the codes the database can send.
fn sqlstate(code: &str) -> &'static str {
    cairn_mvcc::Error::SQLSTATES
        .iter()
        .chain(&["08P01"])
        .find(|c| **c == code)
        .copied()
        .unwrap_or("XX000")
}

impl KvStore for ClusterStore {
    fn begin(&self, isolation: IsolationLevel, read_only: bool) -> Result<Box<dyn KvTxn>> {
        let deadline = Instant::now() + BEGIN_WAIT;
        let me = self.node.running.get().map(|r| r.node_id);
        loop {
            let leader = self.node.sql.leader().and_then(|(_, l)| l);
            let attempt = match leader {
                Some(l) if Some(l) == me => self.local.begin(isolation, read_only),
                Some(l) => match self.node.addrs.read().get(&l).cloned() {
                    Some(addr) => self.client(&addr).and_then(|c| {
                        RemoteTxn::begin(&self.node.runtime, c, isolation, read_only)
                            .map(|t| Box::new(t) as Box<dyn KvTxn>)
                    }),
                    None => Err(retry_error(format!("no address known for node {l}"))),
                },
                None => Err(retry_error(match me {
                    Some(_) => "the SQL range has no leader yet; retry".to_string(),
                    None => "this node has not joined a cluster yet (run `cairn init`)".into(),
                })),
            };
            match attempt {
                Err(e) if e.code == "40001" && Instant::now() < deadline => {
                    std::thread::sleep(RETRY_PAUSE);
                }
                other => return other,
            }
        }
    }
}

/// A transaction on the SQL range's leader, over one `SqlTxn` stream.
struct RemoteTxn {
    requests: UnboundedSender<TxnRequest>,
    responses: Receiver<std::result::Result<TxnResponse, tonic::Status>>,
    isolation: IsolationLevel,
    start_micros: i64,
    /// A commit was sent: losing the stream now leaves the outcome unknown.
    committing: bool,
    /// Pipelined requests whose answers have not been read yet (invariant 4).
    unanswered: usize,
    /// The first error among the pipelined answers read so far, not yet reported.
    deferred: Option<SqlError>,
}

impl RemoteTxn {
    fn begin(
        runtime: &tokio::runtime::Handle,
        mut client: SqlTxnClient<Channel>,
        isolation: IsolationLevel,
        read_only: bool,
    ) -> Result<RemoteTxn> {
        let (requests, rx) = tokio::sync::mpsc::unbounded_channel::<TxnRequest>();
        let (tx, responses) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
            match client.txn(stream).await {
                Ok(resp) => {
                    let mut s = resp.into_inner();
                    loop {
                        match s.message().await {
                            Ok(Some(m)) => {
                                if tx.send(Ok(m)).is_err() {
                                    break;
                                }
                            }
                            Ok(None) => break,
                            Err(status) => {
                                tracing::warn!(error = %status, "SqlTxn stream to the leader failed");
                                let _ = tx.send(Err(status));
                                break;
                            }
                        }
                    }
                }
                Err(status) => {
                    let _ = tx.send(Err(status));
                }
            }
        });
        let mut t = RemoteTxn {
            requests,
            responses,
            isolation,
            start_micros: 0,
            committing: false,
            unanswered: 0,
            deferred: None,
        };
        let code = match isolation {
            IsolationLevel::ReadCommitted => 0,
            IsolationLevel::Snapshot => 1,
            IsolationLevel::Serializable => 2,
        };
        let r = t.call(Op::Begin(Begin {
            isolation: code,
            read_only,
        }))?;
        t.start_micros = r.timestamp_micros;
        Ok(t)
    }

    /// The error for a stream that broke: retryable unless a commit was under way.
    fn lost(&self, why: &str) -> SqlError {
        if self.committing {
            SqlError::new(
                "40003",
                format!("lost the SQL range's leader during commit; the outcome is unknown: {why}"),
            )
        } else {
            retry_error(format!("lost the SQL range's leader: {why}"))
        }
    }

    /// Sends `op` without reading its answer.
    fn send(&mut self, op: Op) -> Result<()> {
        if self.requests.send(TxnRequest { op: Some(op) }).is_err() {
            return Err(self.lost("stream closed"));
        }
        self.unanswered += 1;
        Ok(())
    }

    /// Reads the next answer in stream order: the outer error is a broken stream, the inner
    /// one the leader's answer to this request.
    fn answer(&mut self) -> Result<Result<TxnResponse>> {
        let r = match self.responses.recv() {
            Ok(Ok(r)) if r.sqlstate.is_empty() => Ok(Ok(r)),
            Ok(Ok(r)) => Ok(Err(SqlError::new(sqlstate(&r.sqlstate), r.message))),
            Ok(Err(status)) => Err(self.lost(status.message())),
            Err(_) => Err(self.lost("stream closed")),
        };
        self.unanswered = self.unanswered.saturating_sub(1);
        r
    }

    /// Reads the answers of the pipelined requests but the newest `keep`, keeping their
    /// first error for later.
    fn drain(&mut self, keep: usize) -> Result<()> {
        while self.unanswered > keep {
            if let Err(e) = self.answer()? {
                self.deferred.get_or_insert(e);
            }
        }
        Ok(())
    }

    /// Sends `op` and waits for its answer (after those of the requests pipelined before
    /// it); the first error of those comes first.
    fn call(&mut self, op: Op) -> Result<TxnResponse> {
        self.send(op)?;
        self.drain(1)?;
        let r = self.answer()?;
        self.report_deferred()?;
        r
    }

    /// Returns (once) the kept error of an earlier pipelined request.
    fn report_deferred(&mut self) -> Result<()> {
        self.deferred.take().map_or(Ok(()), Err)
    }

    /// Sends `op`, whose answer carries no data, without waiting (invariant 4).
    fn pipeline(&mut self, op: Op) -> Result<()> {
        self.report_deferred()?;
        self.send(op)
    }

    fn key_op(&mut self, op: Op) -> Result<Option<Vec<u8>>> {
        let r = self.call(op)?;
        Ok(r.found.then_some(r.value))
    }
}

impl KvTxn for RemoteTxn {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.key_op(Op::Get(key.to_vec()))
    }

    fn get_untracked(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.key_op(Op::GetUntracked(key.to_vec()))
    }

    fn track_read(&mut self, key: &[u8]) -> Result<()> {
        self.pipeline(Op::TrackRead(key.to_vec()))
    }

    fn add_u64(&mut self, key: &[u8], delta: u64) -> Result<()> {
        self.pipeline(Op::AddU64(KeyDelta {
            key: key.to_vec(),
            delta,
        }))
    }

    fn get_for_update(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.lock_row(key, RowLockStrength::Update, RowLockWait::Block)? {
            Some(v) => Ok(v),
            None => Err(SqlError::internal("a blocking lock was skipped")),
        }
    }

    fn lock_row(
        &mut self,
        key: &[u8],
        strength: RowLockStrength,
        wait: RowLockWait,
    ) -> Result<Option<Option<Vec<u8>>>> {
        let r = self.call(Op::LockRow(LockRow {
            key: key.to_vec(),
            strength: match strength {
                RowLockStrength::Update => 0,
                RowLockStrength::Share => 1,
            },
            wait: match wait {
                RowLockWait::Block => 0,
                RowLockWait::NoWait => 1,
                RowLockWait::SkipLocked => 2,
            },
        }))?;
        Ok((!r.skipped).then(|| r.found.then_some(r.value)))
    }

    fn scan(
        &mut self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KvPair>> {
        let r = self.call(Op::Scan(Scan {
            start: start.to_vec(),
            end: end.to_vec(),
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            reverse,
        }))?;
        Ok(r.pairs.into_iter().map(|p| (p.key, p.value)).collect())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.pipeline(Op::Put(Pair {
            key: key.to_vec(),
            value: value.to_vec(),
        }))
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.pipeline(Op::Delete(key.to_vec()))
    }

    fn commit(&mut self) -> Result<()> {
        // A refused pipelined write must not let the rest commit: an autocommit statement
        // reaches here without `end_statement`, and the leader would commit what it has.
        self.end_statement()?;
        self.committing = true;
        self.call(Op::Commit(Empty {})).map(|_| ())
    }

    fn rollback(&mut self) {
        let _ = self.call(Op::Rollback(Empty {}));
    }

    fn savepoint(&mut self) -> Result<()> {
        self.call(Op::Savepoint(Empty {})).map(|_| ())
    }

    fn rollback_to_savepoint(&mut self, depth: usize) -> Result<()> {
        self.call(Op::RollbackToSavepoint(depth as u64)).map(|_| ())
    }

    fn release_savepoint(&mut self, depth: usize) -> Result<()> {
        self.call(Op::ReleaseSavepoint(depth as u64)).map(|_| ())
    }

    fn isolation(&self) -> IsolationLevel {
        self.isolation
    }

    fn new_statement(&mut self) -> Result<()> {
        // Only READ COMMITTED statements confirm leadership again (see `MvccStore`).
        if self.isolation == IsolationLevel::ReadCommitted {
            self.pipeline(Op::NewStatement(Empty {}))?;
        }
        Ok(())
    }

    fn end_statement(&mut self) -> Result<()> {
        self.drain(0)?;
        self.report_deferred()
    }

    fn timestamp_micros(&self) -> i64 {
        self.start_micros
    }
}

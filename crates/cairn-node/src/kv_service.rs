//! The client KV service (`cairn.kv.Kv`).
//!
//! A request for key `k` works on stored key `"u" + k`, in the range that contains it. If this
//! node leads that range, the request is proposed (writes) or served after a linearizable
//! confirmation (reads) here. Otherwise it is forwarded, once, to the node believed to lead
//! (the `cairn-forwarded` metadata marks forwarded requests so they are never forwarded
//! again); a node that cannot tell answers NOT_LEADER with its best hint. Errors use the codes
//! documented in `kv.proto`.

// `dispatch!` builds every response type the same way; for the ones with only an `error`
// field its `..Default::default()` is redundant.
#![allow(clippy::needless_update)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_proto::kv::kv_client::KvClient;
use cairn_proto::kv::kv_server::Kv;
use cairn_proto::kv::{
    txn_op, AtomicOpRequest, AtomicOpResponse, CasRequest, CasResponse, DeleteRequest,
    DeleteResponse, ErrorCode, GetRequest, GetResponse, KeyValue, KvError, PutRequest, PutResponse,
    ScanRequest, ScanResponse, TxnRequest, TxnResponse,
};
use cairn_raft::kv::{atomic_op_from_code, Command, Response, Txn};
use cairn_raft::{NodeId, ProposalError, RangeDescriptor, RangeId};
use parking_lot::Mutex;
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::raft_loop::{ReadKind, ReadResult};
use crate::server::{running, Shared, USER_PREFIX};

const FORWARDED: &str = "cairn-forwarded";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const KEY_BYTES_MAX: usize = 64 << 10;
const VALUE_BYTES_MAX: usize = 16 << 20;
const SCAN_LIMIT_DEFAULT: usize = 1000;

pub struct KvService {
    shared: Arc<Shared>,
    clients: Mutex<HashMap<NodeId, KvClient<Channel>>>,
}

fn kv_error(code: ErrorCode, message: impl Into<String>, leader_hint: NodeId) -> Option<KvError> {
    Some(KvError {
        code: code as i32,
        message: message.into(),
        leader_hint,
    })
}

/// Where a request for a range should run.
enum Route {
    Local(RangeId),
    Remote(RangeId, NodeId),
    Unknown(RangeId, NodeId),
}

fn stored_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(USER_PREFIX);
    k.extend_from_slice(key);
    k
}

impl KvService {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn check_key(key: &[u8]) -> Result<(), Option<KvError>> {
        if key.len() > KEY_BYTES_MAX {
            return Err(kv_error(
                ErrorCode::InvalidArgument,
                "key longer than 64 KiB",
                0,
            ));
        }
        Ok(())
    }

    /// The range holding stored key `k`, and where to run a request on it.
    fn route(&self, k: &[u8]) -> Result<(RangeDescriptor, Route), Status> {
        let r = running(&self.shared)?;
        let routing = r.routing.read();
        let me = r.node_id;
        // A local replica knows the current descriptor and leader.
        for (id, (desc, leader)) in &routing.ranges {
            if desc.contains_key(k) {
                return Ok(match leader {
                    Some(l) if *l == me => (desc.clone(), Route::Local(*id)),
                    Some(l) => (desc.clone(), Route::Remote(*id, *l)),
                    None => (desc.clone(), Route::Unknown(*id, 0)),
                });
            }
        }
        // Otherwise the bootstrap layout says who had replicas.
        for desc in &r.layout {
            if desc.contains_key(k) {
                let first = desc.replicas.first().map_or(0, |d| d.node_id);
                return Ok((desc.clone(), Route::Remote(desc.range_id, first)));
            }
        }
        Err(Status::internal("no range covers the key"))
    }

    /// [`Self::route`], waiting up to 2 s for a range without a known leader (just after a
    /// start or during an election) to get one.
    async fn route_wait(&self, k: &[u8]) -> Result<(RangeDescriptor, Route), Status> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            let r = self.route(k)?;
            if matches!(r.1, Route::Unknown(..)) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            return Ok(r);
        }
    }

    fn client(&self, node: NodeId) -> Option<KvClient<Channel>> {
        if self.shared.faults.read().contains(&node) {
            return None; // fault injection: partitioned from that node
        }
        if let Some(c) = self.clients.lock().get(&node) {
            return Some(c.clone());
        }
        let addr = self.shared.addrs.read().get(&node).cloned()?;
        let ep = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).ok()?;
        let ch = ep
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .connect_lazy();
        let c = KvClient::new(ch);
        self.clients.lock().insert(node, c.clone());
        Some(c)
    }

    fn leader_hint(&self, range: RangeId, e: &ProposalError) -> NodeId {
        if let ProposalError::NotLeader { .. } = e {
            if let Ok(r) = running(&self.shared) {
                if let Some((_, Some(l))) = r.routing.read().ranges.get(&range) {
                    return *l;
                }
            }
        }
        0
    }

    fn map_error(&self, range: RangeId, e: ProposalError) -> Option<KvError> {
        let hint = self.leader_hint(range, &e);
        let code = match &e {
            ProposalError::NotLeader { .. } | ProposalError::Dropped => ErrorCode::NotLeader,
            ProposalError::RangeNotFound(_) => ErrorCode::RangeNotFound,
            ProposalError::Ambiguous => ErrorCode::AmbiguousResult,
            ProposalError::Refused(_) => ErrorCode::InvalidArgument,
            ProposalError::ReadTimeout => ErrorCode::Timeout,
        };
        kv_error(code, e.to_string(), hint)
    }

    async fn propose(&self, range: RangeId, cmd: Command) -> Result<Response, Option<KvError>> {
        let r =
            running(&self.shared).map_err(|s| kv_error(ErrorCode::Unavailable, s.message(), 0))?;
        let fut = r.loop_handle.propose(range, cmd.encode());
        match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
            Err(_) => Err(kv_error(
                ErrorCode::Timeout,
                "no answer in 5 s; the write may or may not have applied",
                0,
            )),
            Ok(Err(e)) => Err(self.map_error(range, e)),
            Ok(Ok(bytes)) => Response::decode(&bytes).map_err(|e| {
                kv_error(
                    ErrorCode::AmbiguousResult,
                    format!("undecodable result: {e}"),
                    0,
                )
            }),
        }
    }

    async fn read(&self, range: RangeId, kind: ReadKind) -> Result<ReadResult, Option<KvError>> {
        let r =
            running(&self.shared).map_err(|s| kv_error(ErrorCode::Unavailable, s.message(), 0))?;
        let fut = r.loop_handle.read(range, kind);
        match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
            Err(_) => Err(kv_error(ErrorCode::Timeout, "no answer in 5 s", 0)),
            Ok(Err(e)) => Err(self.map_error(range, e)),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

/// A transaction's operation as a state machine command (stored keys).
fn txn_command(op: &cairn_proto::kv::TxnOp) -> Result<Command, String> {
    match &op.op {
        Some(txn_op::Op::Put(p)) => Ok(Command::Put {
            key: stored_key(&p.key),
            value: p.value.clone(),
        }),
        Some(txn_op::Op::Delete(d)) => Ok(Command::Delete {
            key: stored_key(&d.key),
        }),
        Some(txn_op::Op::Atomic(a)) => atomic_command(a),
        None => Err("empty transaction operation".into()),
    }
}

fn atomic_command(a: &AtomicOpRequest) -> Result<Command, String> {
    let op = u8::try_from(a.op)
        .ok()
        .and_then(atomic_op_from_code)
        .ok_or_else(|| format!("unknown atomic operation {}", a.op))?;
    Ok(Command::Atomic {
        key: stored_key(&a.key),
        op,
        operand: a.operand.clone(),
    })
}

/// The first key a transaction touches (it routes the request).
fn txn_first_key(t: &TxnRequest) -> Vec<u8> {
    t.compares
        .first()
        .map(|c| c.key.clone())
        .or_else(|| {
            t.success
                .iter()
                .chain(&t.failure)
                .find_map(|o| match &o.op {
                    Some(txn_op::Op::Put(p)) => Some(p.key.clone()),
                    Some(txn_op::Op::Delete(d)) => Some(d.key.clone()),
                    Some(txn_op::Op::Atomic(a)) => Some(a.key.clone()),
                    None => None,
                })
        })
        .unwrap_or_default()
}

fn forwarded<T>(req: &Request<T>) -> bool {
    req.metadata().contains_key(FORWARDED)
}

fn mark<T>(inner: T) -> Request<T> {
    let mut r = Request::new(inner);
    r.metadata_mut()
        .insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
    r
}

/// Runs a request locally or forwards it; `$local` evaluates to the response for a local
/// range, `$forward` calls the same RPC on a client.
macro_rules! dispatch {
    ($self:ident, $req:ident, $key:expr, $resp:ident, |$range:ident| $local:expr, |$client:ident, $inner:ident| $forward:expr) => {{
        let is_forwarded = forwarded(&$req);
        let $inner = $req.into_inner();
        if let Err(error) = KvService::check_key(&($key)(&$inner)) {
            return Ok(tonic::Response::new($resp {
                error,
                ..Default::default()
            }));
        }
        let (_, route) = $self.route_wait(&stored_key(&($key)(&$inner))).await?;
        let target = match route {
            Route::Local($range) => return Ok(tonic::Response::new($local)),
            Route::Remote(range, node) | Route::Unknown(range, node) => (range, node),
        };
        if is_forwarded || target.1 == 0 {
            return Ok(tonic::Response::new($resp {
                error: kv_error(
                    ErrorCode::NotLeader,
                    "this node does not lead the key's range",
                    target.1,
                ),
                ..Default::default()
            }));
        }
        match $self.client(target.1) {
            Some(mut $client) => match tokio::time::timeout(REQUEST_TIMEOUT, $forward).await {
                Ok(Ok(resp)) => Ok(resp),
                // The request may have reached the leader before the connection failed.
                Ok(Err(status)) => Ok(tonic::Response::new($resp {
                    error: kv_error(
                        ErrorCode::AmbiguousResult,
                        format!("forwarding to node {}: {}", target.1, status.message()),
                        target.1,
                    ),
                    ..Default::default()
                })),
                Err(_) => Ok(tonic::Response::new($resp {
                    error: kv_error(
                        ErrorCode::Timeout,
                        format!("node {} did not answer in 5 s", target.1),
                        target.1,
                    ),
                    ..Default::default()
                })),
            },
            None => Ok(tonic::Response::new($resp {
                error: kv_error(
                    ErrorCode::NotLeader,
                    format!("no address for node {}", target.1),
                    target.1,
                ),
                ..Default::default()
            })),
        }
    }};
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn get(&self, req: Request<GetRequest>) -> Result<tonic::Response<GetResponse>, Status> {
        dispatch!(
            self,
            req,
            |r: &GetRequest| r.key.clone(),
            GetResponse,
            |range| match self
                .read(range, ReadKind::Get(stored_key(&inner.key)))
                .await
            {
                Ok(ReadResult::Value(v)) => GetResponse {
                    error: None,
                    found: v.is_some(),
                    value: v.unwrap_or_default()
                },
                Ok(ReadResult::Pairs { .. } | ReadResult::Term(_)) => GetResponse {
                    error: kv_error(ErrorCode::Unavailable, "internal: wrong read result", 0),
                    ..Default::default()
                },
                Err(error) => GetResponse {
                    error,
                    ..Default::default()
                },
            },
            |client, inner| client.get(mark(inner))
        )
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<tonic::Response<PutResponse>, Status> {
        if req.get_ref().value.len() > VALUE_BYTES_MAX {
            return Ok(tonic::Response::new(PutResponse {
                error: kv_error(ErrorCode::InvalidArgument, "value larger than 16 MiB", 0),
            }));
        }
        dispatch!(
            self,
            req,
            |r: &PutRequest| r.key.clone(),
            PutResponse,
            |range| match self
                .propose(
                    range,
                    Command::Put {
                        key: stored_key(&inner.key),
                        value: inner.value.clone()
                    }
                )
                .await
            {
                Ok(Response::Done) => PutResponse { error: None },
                Ok(other) => PutResponse {
                    error: kv_error(ErrorCode::InvalidArgument, format!("{other:?}"), 0)
                },
                Err(error) => PutResponse { error },
            },
            |client, inner| client.put(mark(inner))
        )
    }

    async fn delete(
        &self,
        req: Request<DeleteRequest>,
    ) -> Result<tonic::Response<DeleteResponse>, Status> {
        dispatch!(
            self,
            req,
            |r: &DeleteRequest| r.key.clone(),
            DeleteResponse,
            |range| match self
                .propose(
                    range,
                    Command::Delete {
                        key: stored_key(&inner.key)
                    }
                )
                .await
            {
                Ok(Response::Done) => DeleteResponse { error: None },
                Ok(other) => DeleteResponse {
                    error: kv_error(ErrorCode::InvalidArgument, format!("{other:?}"), 0)
                },
                Err(error) => DeleteResponse { error },
            },
            |client, inner| client.delete(mark(inner))
        )
    }

    async fn cas(&self, req: Request<CasRequest>) -> Result<tonic::Response<CasResponse>, Status> {
        if req.get_ref().new_value.len() > VALUE_BYTES_MAX {
            return Ok(tonic::Response::new(CasResponse {
                error: kv_error(ErrorCode::InvalidArgument, "value larger than 16 MiB", 0),
                ..Default::default()
            }));
        }
        dispatch!(
            self,
            req,
            |r: &CasRequest| r.key.clone(),
            CasResponse,
            |range| {
                let cmd = Command::Cas {
                    key: stored_key(&inner.key),
                    expected: inner.expected_present.then(|| inner.expected.clone()),
                    new: inner.new_present.then(|| inner.new_value.clone()),
                };
                match self.propose(range, cmd).await {
                    Ok(Response::Done) => CasResponse {
                        error: None,
                        succeeded: true,
                        ..Default::default()
                    },
                    Ok(Response::CompareFailed { current }) => CasResponse {
                        error: None,
                        succeeded: false,
                        current_present: current.is_some(),
                        current: current.unwrap_or_default(),
                    },
                    Ok(Response::Refused(why)) => CasResponse {
                        error: kv_error(ErrorCode::InvalidArgument, why, 0),
                        ..Default::default()
                    },
                    Ok(other @ (Response::TxnDone { .. } | Response::StaleTerm)) => CasResponse {
                        error: kv_error(ErrorCode::InvalidArgument, format!("{other:?}"), 0),
                        ..Default::default()
                    },
                    Err(error) => CasResponse {
                        error,
                        ..Default::default()
                    },
                }
            },
            |client, inner| client.cas(mark(inner))
        )
    }

    async fn atomic_op(
        &self,
        req: Request<AtomicOpRequest>,
    ) -> Result<tonic::Response<AtomicOpResponse>, Status> {
        dispatch!(
            self,
            req,
            |r: &AtomicOpRequest| r.key.clone(),
            AtomicOpResponse,
            |range| match atomic_command(&inner) {
                Err(why) => AtomicOpResponse {
                    error: kv_error(ErrorCode::InvalidArgument, why, 0)
                },
                Ok(cmd) => match self.propose(range, cmd).await {
                    Ok(Response::Done) => AtomicOpResponse { error: None },
                    Ok(other) => AtomicOpResponse {
                        error: kv_error(ErrorCode::InvalidArgument, format!("{other:?}"), 0)
                    },
                    Err(error) => AtomicOpResponse { error },
                },
            },
            |client, inner| client.atomic_op(mark(inner))
        )
    }

    async fn txn(&self, req: Request<TxnRequest>) -> Result<tonic::Response<TxnResponse>, Status> {
        dispatch!(
            self,
            req,
            txn_first_key,
            TxnResponse,
            |range| {
                let build = || -> Result<Command, String> {
                    let mut t = Txn::default();
                    for c in &inner.compares {
                        t.compares.push((
                            stored_key(&c.key),
                            c.expected_present.then(|| c.expected.clone()),
                        ));
                    }
                    for o in &inner.success {
                        t.success.push(txn_command(o)?);
                    }
                    for o in &inner.failure {
                        t.failure.push(txn_command(o)?);
                    }
                    Ok(Command::Txn(t))
                };
                match build() {
                    Err(why) => TxnResponse {
                        error: kv_error(ErrorCode::InvalidArgument, why, 0),
                        succeeded: false,
                    },
                    Ok(cmd) => match self.propose(range, cmd).await {
                        Ok(Response::TxnDone { succeeded }) => TxnResponse {
                            error: None,
                            succeeded,
                        },
                        Ok(Response::Refused(why)) => TxnResponse {
                            error: kv_error(ErrorCode::InvalidArgument, why, 0),
                            succeeded: false,
                        },
                        Ok(other) => TxnResponse {
                            error: kv_error(ErrorCode::InvalidArgument, format!("{other:?}"), 0),
                            succeeded: false,
                        },
                        Err(error) => TxnResponse {
                            error,
                            succeeded: false,
                        },
                    },
                }
            },
            |client, inner| client.txn(mark(inner))
        )
    }

    async fn scan(
        &self,
        req: Request<ScanRequest>,
    ) -> Result<tonic::Response<ScanResponse>, Status> {
        // A scan is served range by range: each piece [start, min(end, range end)) runs where
        // that range is led, as a Scan of its own.
        let is_forwarded = forwarded(&req);
        let inner = req.into_inner();
        let limit = match inner.limit {
            0 => SCAN_LIMIT_DEFAULT,
            n => usize::try_from(n)
                .unwrap_or(SCAN_LIMIT_DEFAULT)
                .min(100_000),
        };
        let mut pairs = Vec::new();
        let mut start = inner.start.clone();
        loop {
            let (desc, route) = self.route_wait(&stored_key(&start)).await?;
            // The piece's end, in client key space.
            let range_end: Option<Vec<u8>> =
                desc.end_key.split_first().map(|(_, rest)| rest.to_vec());
            let piece_end = match (&range_end, inner.end.is_empty()) {
                (None, true) => Vec::new(),
                (None, false) => inner.end.clone(),
                (Some(re), true) => re.clone(),
                (Some(re), false) => re.clone().min(inner.end.clone()),
            };
            let want = limit - pairs.len();
            let piece = match route {
                Route::Local(range) => {
                    let s = stored_key(&start);
                    let e = if piece_end.is_empty() {
                        Vec::new()
                    } else {
                        stored_key(&piece_end)
                    };
                    match self
                        .read(
                            range,
                            ReadKind::Scan {
                                start: s,
                                end: e,
                                limit: want,
                            },
                        )
                        .await
                    {
                        Ok(ReadResult::Pairs { pairs, more }) => ScanResponse {
                            error: None,
                            pairs: pairs
                                .into_iter()
                                .map(|(k, v)| KeyValue {
                                    key: k.get(1..).map(<[u8]>::to_vec).unwrap_or_default(),
                                    value: v,
                                })
                                .collect(),
                            more,
                        },
                        Ok(ReadResult::Value(_) | ReadResult::Term(_)) => ScanResponse {
                            error: kv_error(
                                ErrorCode::Unavailable,
                                "internal: wrong read result",
                                0,
                            ),
                            ..Default::default()
                        },
                        Err(error) => ScanResponse {
                            error,
                            ..Default::default()
                        },
                    }
                }
                Route::Remote(_, node) | Route::Unknown(_, node) => {
                    if is_forwarded || node == 0 {
                        ScanResponse {
                            error: kv_error(
                                ErrorCode::NotLeader,
                                "this node does not lead the range",
                                node,
                            ),
                            ..Default::default()
                        }
                    } else if let Some(mut c) = self.client(node) {
                        let sub = ScanRequest {
                            start: start.clone(),
                            end: piece_end.clone(),
                            limit: u32::try_from(want).unwrap_or(u32::MAX),
                        };
                        match tokio::time::timeout(REQUEST_TIMEOUT, c.scan(mark(sub))).await {
                            Ok(Ok(r)) => r.into_inner(),
                            Ok(Err(s)) => ScanResponse {
                                error: kv_error(ErrorCode::NotLeader, s.message(), node),
                                ..Default::default()
                            },
                            Err(_) => ScanResponse {
                                error: kv_error(ErrorCode::Timeout, "no answer in 5 s", node),
                                ..Default::default()
                            },
                        }
                    } else {
                        ScanResponse {
                            error: kv_error(
                                ErrorCode::NotLeader,
                                "no address for the leader",
                                node,
                            ),
                            ..Default::default()
                        }
                    }
                }
            };
            if piece.error.is_some() {
                return Ok(tonic::Response::new(ScanResponse {
                    error: piece.error,
                    pairs: Vec::new(),
                    more: false,
                }));
            }
            pairs.extend(piece.pairs);
            let done_here = piece.more || pairs.len() >= limit;
            let at_end = range_end.is_none() || (!inner.end.is_empty() && piece_end >= inner.end);
            if done_here || at_end || is_forwarded {
                let more = piece.more || (pairs.len() >= limit && !at_end);
                return Ok(tonic::Response::new(ScanResponse {
                    error: None,
                    pairs,
                    more,
                }));
            }
            start = piece_end;
        }
    }
}

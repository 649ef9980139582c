//! The two systems `cairn bench kv` drives, behind one small async interface.
//!
//! **What**: [`Conn`], one gRPC connection to one host of either a Cairn cluster
//! (`cairn.kv.Kv`, generated in `cairn-proto`) or an etcd cluster (`etcdserverpb.KV`, generated
//! here from `proto/etcd_kv.proto`), with a put and a linearizable get of one key.
//! **Role**: the runner (`super`) opens `--conns` connections per host, hands each client task
//! one per host, and retries an attempt that fails with [`Attempt::Retry`] on the next host.
//!
//! **Error classification** (the whole retry policy hangs on it):
//! - Cairn answers in-band (`KvError` in the response): NOT_LEADER, RANGE_NOT_FOUND and
//!   UNAVAILABLE say nothing was done; TIMEOUT and AMBIGUOUS_RESULT say a put may or may not
//!   have applied. The benchmark writes a fixed value per (key, round), so repeating a put
//!   whose outcome is unknown is harmless: all of them are retried. INVALID_ARGUMENT is fatal.
//! - Both systems also fail at the gRPC level: a dead node (connection refused or reset), an
//!   attempt timeout, or etcd's own errors, which it sends as `UNAVAILABLE` ("no leader",
//!   "leader changed", "request timed out"). Those are retried; only statuses that no retry can
//!   fix (bad argument, unimplemented, permission) are fatal.
//!
//! **Concurrency**: a [`Conn`] is a cheap handle over a shared HTTP/2 connection (tonic
//! `Channel`); clones multiplex their requests on it. Nothing here holds a lock.

use std::time::Duration;

use cairn_proto::kv::kv_client::KvClient as CairnKvClient;
use cairn_proto::kv::{ErrorCode, GetRequest, KvError, PutRequest};
use tonic::transport::{Channel, Endpoint};

use super::Target;
use crate::error::EngineSource;

/// The generated client of etcd's KV service.
pub mod etcd {
    #![allow(clippy::all)] // generated code
    tonic::include_proto!("etcdserverpb");
}

/// How long one attempt may take before it is abandoned (and retried). Longer than Cairn's own
/// 5 s request timeout, so a node's in-band TIMEOUT arrives first.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection attempt to a host may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// An error a system answered in its response body (Cairn's `KvError`).
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct KvApiError {
    pub code: String,
    pub message: String,
}

impl KvApiError {
    fn from_cairn(e: &KvError) -> KvApiError {
        let code = ErrorCode::try_from(e.code).map_or_else(
            |_| format!("code {}", e.code),
            |c| c.as_str_name().to_owned(),
        );
        KvApiError {
            code,
            message: e.message.clone(),
        }
    }
}

/// Outcome of one failed attempt.
#[derive(Debug)]
pub enum Attempt {
    /// Try again (on another host): nothing was done, or a put's outcome is unknown.
    Retry(EngineSource),
    /// No retry can succeed.
    Fatal(EngineSource),
}

/// One connection to one host.
#[derive(Debug, Clone)]
pub enum Conn {
    Cairn(CairnKvClient<Channel>),
    Etcd(etcd::kv_client::KvClient<Channel>),
}

impl Conn {
    /// Connects to `host` (`HOST:PORT`), failing if it does not accept within
    /// [`CONNECT_TIMEOUT`]. Later reconnects (after the host died, say) happen by themselves.
    pub async fn connect(target: Target, host: &str) -> Result<Conn, EngineSource> {
        let endpoint = Endpoint::from_shared(format!("http://{host}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            .tcp_nodelay(true);
        let channel = endpoint.connect().await?;
        Ok(match target {
            Target::Cairn => Conn::Cairn(CairnKvClient::new(channel)),
            Target::Etcd => Conn::Etcd(etcd::kv_client::KvClient::new(channel)),
        })
    }

    pub async fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), Attempt> {
        match self {
            Conn::Cairn(c) => {
                let resp = c
                    .put(PutRequest {
                        key: key.to_vec(),
                        value: value.to_vec(),
                    })
                    .await
                    .map_err(classify_status)?
                    .into_inner();
                match resp.error {
                    None => Ok(()),
                    Some(e) => Err(classify_cairn(&e)),
                }
            }
            Conn::Etcd(c) => {
                c.put(etcd::PutRequest {
                    key: key.to_vec(),
                    value: value.to_vec(),
                    ..Default::default()
                })
                .await
                .map_err(classify_status)?;
                Ok(())
            }
        }
    }

    /// A linearizable read of `key`: its value, or `None` if it has none.
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, Attempt> {
        match self {
            Conn::Cairn(c) => {
                let resp = c
                    .get(GetRequest { key: key.to_vec() })
                    .await
                    .map_err(classify_status)?
                    .into_inner();
                match resp.error {
                    None => Ok(resp.found.then_some(resp.value)),
                    Some(e) => Err(classify_cairn(&e)),
                }
            }
            Conn::Etcd(c) => {
                let resp = c
                    .range(etcd::RangeRequest {
                        key: key.to_vec(),
                        // Linearizable: etcd runs a ReadIndex round before answering.
                        serializable: false,
                        ..Default::default()
                    })
                    .await
                    .map_err(classify_status)?
                    .into_inner();
                Ok(resp.kvs.into_iter().next().map(|kv| kv.value))
            }
        }
    }
}

fn classify_cairn(e: &KvError) -> Attempt {
    let source: EngineSource = Box::new(KvApiError::from_cairn(e));
    match ErrorCode::try_from(e.code) {
        Ok(
            ErrorCode::NotLeader
            | ErrorCode::RangeNotFound
            | ErrorCode::Unavailable
            | ErrorCode::Timeout
            | ErrorCode::AmbiguousResult,
        ) => Attempt::Retry(source),
        Ok(ErrorCode::Ok | ErrorCode::InvalidArgument) | Err(_) => Attempt::Fatal(source),
    }
}

fn classify_status(status: tonic::Status) -> Attempt {
    use tonic::Code;
    match status.code() {
        Code::InvalidArgument
        | Code::Unimplemented
        | Code::Unauthenticated
        | Code::PermissionDenied
        | Code::OutOfRange => Attempt::Fatal(Box::new(status)),
        _ => Attempt::Retry(Box::new(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cairn_error(code: ErrorCode) -> KvError {
        KvError {
            code: code as i32,
            message: "m".into(),
            leader_hint: 0,
        }
    }

    #[test]
    fn cairn_errors_that_leave_nothing_or_an_unknown_put_are_retried() {
        for code in [
            ErrorCode::NotLeader,
            ErrorCode::RangeNotFound,
            ErrorCode::Unavailable,
            ErrorCode::Timeout,
            ErrorCode::AmbiguousResult,
        ] {
            assert!(
                matches!(classify_cairn(&cairn_error(code)), Attempt::Retry(_)),
                "{code:?}"
            );
        }
        assert!(matches!(
            classify_cairn(&cairn_error(ErrorCode::InvalidArgument)),
            Attempt::Fatal(_)
        ));
        let unknown = KvError {
            code: 99,
            message: String::new(),
            leader_hint: 0,
        };
        assert!(matches!(classify_cairn(&unknown), Attempt::Fatal(_)));
    }

    #[test]
    fn transport_failures_are_retried_and_bad_requests_are_not() {
        assert!(matches!(
            classify_status(tonic::Status::unavailable("etcdserver: no leader")),
            Attempt::Retry(_)
        ));
        assert!(matches!(
            classify_status(tonic::Status::deadline_exceeded("t")),
            Attempt::Retry(_)
        ));
        assert!(matches!(
            classify_status(tonic::Status::invalid_argument("key is empty")),
            Attempt::Fatal(_)
        ));
        assert!(matches!(
            classify_status(tonic::Status::unimplemented("no such method")),
            Attempt::Fatal(_)
        ));
    }
}

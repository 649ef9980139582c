//! The node's setup errors: a message saying what failed (opening the store, listening,
//! bootstrapping). Request errors are gRPC statuses or `KvError`s instead.

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NodeError(pub String);

pub type Result<T> = std::result::Result<T, NodeError>;

pub fn err(s: impl Into<String>) -> NodeError {
    NodeError(s.into())
}

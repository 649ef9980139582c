//! cairn-proto: Cairn's gRPC services, generated from `proto/*.proto` by tonic with protox
//! (no `protoc`). No logic lives here; the `.proto` files document the messages and error
//! codes.
//!
//! - [`raft`]: the node-to-node Raft transport (batched message streams, chunked snapshots);
//! - [`kv`]: the client key-value API;
//! - [`node`]: cluster bootstrap, join, membership changes and status;
//! - [`sqltxn`]: transactions on the SQL range's leader for SQL sessions on other nodes.
#![allow(clippy::all)] // generated code

pub mod raft {
    tonic::include_proto!("cairn.raft");
}

pub mod kv {
    tonic::include_proto!("cairn.kv");
}

pub mod node {
    tonic::include_proto!("cairn.node");
}

pub mod sqltxn {
    tonic::include_proto!("cairn.sqltxn");
}

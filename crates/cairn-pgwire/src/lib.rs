//! cairn-pgwire: Cairn's PostgreSQL wire-protocol server.
//!
//! Layer 7; depends on no other Cairn crate. It speaks the PostgreSQL frontend/backend
//! protocol 3.0 (and 3.2) to clients — startup, TLS, SCRAM-SHA-256, simple and extended
//! queries, COPY, cancel — and drives an engine-provided [`Session`] per connection. It does
//! not know SQL or storage: statements reach the engine as text, parameters as raw bytes,
//! and rows come back already encoded ([`session`] defines that vocabulary).
//!
//! Built on the `pgwire` crate (0.42.1) for message types, codecs, SCRAM and portal
//! bookkeeping, with four of its default handlers replaced (simple query, Execute, Sync,
//! Describe; see `NOTES.md` of the spike for why) and its connection loop replaced by our own,
//! which reads through a [`guard::FrameGuard`]: pgwire's frontend decoders panic on malformed
//! input, so every message is checked against the protocol grammar ([`frame`]) before pgwire
//! sees it.
//!
//! Main items: [`serve`], [`ServerConfig`], [`Session`], [`SessionFactory`],
//! [`CredentialStore`]. Threading: one thread per connection, running the connection's task
//! on a current-thread runtime; a `Session` is only ever used by its connection's task and
//! may block that thread in its calls.

pub mod auth;
pub mod frame;
pub mod guard;
pub mod session;

mod adapter;
mod error;
mod extended;
mod results;
mod server;
mod simple;
mod wire;

pub use auth::{AuthConfig, AuthMode, CredentialStore, ScramVerifier};
pub use error::Error;
pub use server::{default_parameters, serve, tls_from_pem_files, ServerConfig, TlsConfig};
pub use session::{
    oid, ColumnDesc, CopyOutStream, CopyTag, Deallocation, EncodedRow, Format, Notice,
    NoticeSeverity, Oid, PreparedStatement, RowStream, Session, SessionFactory, Severity, SqlError,
    SqlState, StartupInfo, StatementResult, TxStatus,
};

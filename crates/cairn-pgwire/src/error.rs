//! Errors of the crate's configuration API (TLS files, SCRAM verifiers). Errors on a client
//! connection never surface here: they are sent to that client and logged at DEBUG.

use std::path::PathBuf;

use pgwire::tokio::tokio_rustls::rustls;

/// Why building server configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("scram iteration count must be at least 1")]
    ScramIterations,
    #[error("derive scram verifier: key of {len} bytes, expected 32")]
    ScramKeyLength { len: usize },
    #[error("read tls certificates from {path}")]
    TlsCertificates {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("no certificate in {path}")]
    TlsNoCertificate { path: PathBuf },
    #[error("read tls private key from {path}")]
    TlsPrivateKey {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("build tls configuration")]
    TlsConfig {
        #[source]
        source: rustls::Error,
    },
}

//! Client authentication: which method a connection must use, where SCRAM-SHA-256 verifiers
//! come from, and the adapter from [`CredentialStore`] to pgwire's `AuthSource`.
//!
//! **Role**: the engine implements [`CredentialStore`] over its catalog (what `pg_authid`
//! stores: salt, iteration count, StoredKey, ServerKey; never a password) and creates
//! verifiers with [`ScramVerifier::from_password`]. `crate::adapter` picks the [`AuthMode`]
//! from the peer address and runs pgwire's SCRAM state machine against [`StoreAuthSource`].
//!
//! # Invariants
//! 1. Loopback peers (127.0.0.0/8, ::1, and IPv4-mapped loopback) use `AuthConfig::local`,
//!    every other peer `AuthConfig::remote`. Test `auth_mode_by_peer`.
//! 2. An unknown user goes through the whole SCRAM exchange against a made-up verifier and
//!    fails at the end with 28P01 exactly like a wrong password, so user names cannot be
//!    probed (PostgreSQL's "mock authentication"). Test `it::tokio_postgres::scram_sha_256_auth`.
//! 3. A verifier built here is the one PostgreSQL builds from the same password, salt and
//!    iteration count. Test `verifier_matches_rfc7677_example`.
//!
//! # Concurrency
//! `CredentialStore` is called from any connection task at the same time.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramSecret};
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::error::{PgWireError, PgWireResult};

use crate::error::Error;

/// How a client proves who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Anyone may connect as any user (pg_hba `trust`).
    Trust,
    /// SCRAM-SHA-256 against the [`CredentialStore`].
    ScramSha256,
}

/// Authentication method per kind of peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// For peers on a loopback address.
    pub local: AuthMode,
    /// For every other peer.
    pub remote: AuthMode,
}

impl AuthConfig {
    /// Trust everyone (tests, development).
    pub fn trust() -> Self {
        AuthConfig {
            local: AuthMode::Trust,
            remote: AuthMode::Trust,
        }
    }

    /// SCRAM-SHA-256 for everyone.
    pub fn scram() -> Self {
        AuthConfig {
            local: AuthMode::ScramSha256,
            remote: AuthMode::ScramSha256,
        }
    }

    /// The method a client at `peer` must use.
    pub fn mode_for(&self, peer: IpAddr) -> AuthMode {
        if peer.to_canonical().is_loopback() {
            self.local
        } else {
            self.remote
        }
    }
}

impl Default for AuthConfig {
    /// Trust loopback clients, SCRAM-SHA-256 for everyone else.
    fn default() -> Self {
        AuthConfig {
            local: AuthMode::Trust,
            remote: AuthMode::ScramSha256,
        }
    }
}

/// A SCRAM-SHA-256 verifier as PostgreSQL keeps it in `pg_authid.rolpassword`
/// (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// `SHA-256(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; 32],
}

impl ScramVerifier {
    /// Derive the verifier of `password` (normalised with SASLprep, as PostgreSQL does) for
    /// storing in the catalog. Costs `iterations` rounds of PBKDF2-HMAC-SHA-256; PostgreSQL's
    /// default is 4096.
    pub fn from_password(password: &str, salt: &[u8], iterations: u32) -> Result<Self, Error> {
        if iterations == 0 {
            return Err(Error::ScramIterations);
        }
        let rounds = iterations as usize;
        let salted = gen_salted_password(password, salt, rounds);
        let ScramSecret::Verifier {
            stored_key,
            server_key,
            ..
        } = ScramSecret::verifier_from_salted_password(salt.to_vec(), salted, rounds)
        else {
            // verifier_from_salted_password only builds Verifier
            return Err(Error::ScramKeyLength { len: 0 });
        };
        let key = |k: Vec<u8>| -> Result<[u8; 32], Error> {
            let len = k.len();
            k.try_into().map_err(|_| Error::ScramKeyLength { len })
        };
        Ok(ScramVerifier {
            salt: salt.to_vec(),
            iterations,
            stored_key: key(stored_key)?,
            server_key: key(server_key)?,
        })
    }

    fn to_secret(&self) -> ScramSecret {
        ScramSecret::Verifier {
            salt: self.salt.clone(),
            iterations: self.iterations as usize,
            stored_key: self.stored_key.to_vec(),
            server_key: self.server_key.to_vec(),
        }
    }
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // salt and iterations travel in clear text during SCRAM; the keys do not
        f.debug_struct("ScramVerifier")
            .field("salt", &self.salt)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Where SCRAM verifiers come from (the engine's catalog of roles).
pub trait CredentialStore: Send + Sync {
    /// The verifier of `user`, or `None` if the user does not exist or may not log in.
    fn scram_verifier(&self, user: &str) -> Option<ScramVerifier>;
}

/// pgwire `AuthSource` over an optional [`CredentialStore`]; no store = no users.
pub(crate) struct StoreAuthSource {
    store: Option<Arc<dyn CredentialStore>>,
    /// Keys the made-up salt of unknown users: stable per user within this process, so
    /// repeated probes see the same salt, and unpredictable across processes.
    mock_salt_key: RandomState,
}

impl StoreAuthSource {
    pub(crate) fn new(store: Option<Arc<dyn CredentialStore>>) -> Self {
        StoreAuthSource {
            store,
            mock_salt_key: RandomState::new(),
        }
    }

    /// A verifier no password matches: StoredKey is all zeros, and finding a ClientKey whose
    /// SHA-256 is zero is a preimage attack.
    fn mock_verifier(&self, user: &str) -> ScramVerifier {
        let mut salt = Vec::with_capacity(16);
        salt.extend(self.mock_salt_key.hash_one((0u8, user)).to_be_bytes());
        salt.extend(self.mock_salt_key.hash_one((1u8, user)).to_be_bytes());
        ScramVerifier {
            salt,
            iterations: 4096,
            stored_key: [0; 32],
            server_key: [0; 32],
        }
    }
}

impl fmt::Debug for StoreAuthSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreAuthSource")
            .field("has_store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl AuthSource for StoreAuthSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        // Only SCRAM is offered, which calls get_scram_secret instead.
        Err(PgWireError::InvalidPassword(
            login.user().unwrap_or_default().to_owned(),
        ))
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let user = login.user().unwrap_or_default();
        let verifier = self
            .store
            .as_ref()
            .and_then(|s| s.scram_verifier(user))
            .unwrap_or_else(|| self.mock_verifier(user));
        Ok((verifier.to_secret(), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_mode_by_peer() {
        let cfg = AuthConfig::default();
        for local in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(
                cfg.mode_for(local.parse().unwrap()),
                AuthMode::Trust,
                "{local}"
            );
        }
        for remote in ["10.0.0.1", "192.168.1.2", "::ffff:10.0.0.1", "2001:db8::1"] {
            assert_eq!(
                cfg.mode_for(remote.parse().unwrap()),
                AuthMode::ScramSha256,
                "{remote}"
            );
        }
        assert_eq!(
            AuthConfig::scram().mode_for("127.0.0.1".parse().unwrap()),
            AuthMode::ScramSha256
        );
    }

    /// RFC 7677 section 3: password "pencil", salt base64 "W22ZaJ0SNY7soEsUEjb6gQ==", 4096
    /// iterations. The expected keys were computed independently (Python hashlib/hmac), and
    /// that ServerKey reproduces the RFC's server signature `v=6rriTRBi23...95G4=`; as
    /// `pg_authid` text: `SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=`.
    #[test]
    fn verifier_matches_rfc7677_example() {
        let salt = [
            0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36,
            0xfa, 0x81,
        ];
        let v = ScramVerifier::from_password("pencil", &salt, 4096).unwrap();
        assert_eq!(
            v.stored_key,
            [
                0x58, 0x6e, 0x5d, 0xf2, 0x83, 0xe6, 0xdc, 0xeb, 0x5c, 0x3e, 0x79, 0x1d, 0x8b, 0x85,
                0x28, 0xec, 0x19, 0x1e, 0x66, 0x40, 0x45, 0xce, 0x97, 0x17, 0x92, 0xe2, 0xe6, 0xb5,
                0xbb, 0x13, 0xe2, 0xa6
            ]
        );
        assert_eq!(
            v.server_key,
            [
                0xc1, 0xf3, 0xcb, 0xc1, 0xc1, 0x3a, 0x9d, 0x35, 0xa1, 0x4c, 0x09, 0x90, 0xee, 0xd9,
                0x76, 0x29, 0xea, 0x22, 0x58, 0x63, 0xe5, 0x66, 0xa4, 0x31, 0x4a, 0xb9, 0x9f, 0x3f,
                0x00, 0xe5, 0xd9, 0xd5
            ]
        );
        assert_eq!(v.iterations, 4096);
        assert!(ScramVerifier::from_password("pencil", &salt, 0).is_err());
        assert!(!format!("{v:?}").contains("stored_key"));
    }

    #[test]
    fn unknown_user_gets_stable_unmatchable_verifier() {
        let src = StoreAuthSource::new(None);
        let a = src.mock_verifier("mallory");
        assert_eq!(a, src.mock_verifier("mallory"));
        assert_ne!(a.salt, src.mock_verifier("eve").salt);
        assert_eq!(a.stored_key, [0; 32]);
    }
}

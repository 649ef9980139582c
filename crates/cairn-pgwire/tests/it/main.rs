//! Integration tests of cairn-pgwire against `cairn-pgwire-testserver` (a real server process
//! over a toy engine), driven by a hand-written frontend, tokio-postgres, psql and pgbench.
//! One test binary, so the suite links once (STYLE.md section 8).

mod common;
mod guard;
mod lifecycle;
mod psql;
mod raw_protocol;
mod tokio_postgres;

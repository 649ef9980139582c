//! Real drivers in other languages against `cairn start`: psycopg 3 and SQLAlchemy 2 (Python)
//! and node-postgres (npm `pg`). `tests/clients/setup.sh` installs them once into
//! `target/client-libs` (a venv and a node_modules), so the first run needs PyPI and npm.

use std::path::PathBuf;
use std::process::Command;

use crate::server::TestServer;

pub(crate) fn client_libs() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dest = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target"))
        .join("client-libs");
    let status = Command::new("bash")
        .arg(manifest.join("tests/clients/setup.sh"))
        .arg(&dest)
        .status()
        .expect("run tests/clients/setup.sh");
    assert!(
        status.success(),
        "installing the client libraries failed (needs python3-venv, PyPI and npm access)"
    );
    dest
}

pub(crate) fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

#[test]
fn psycopg3_prepared_binary_copy_and_retries() {
    let libs = client_libs();
    let server = TestServer::start();
    let out = Command::new(libs.join("venv/bin/python"))
        .arg(script("test_psycopg.py"))
        .env("CAIRN_URL", server.url())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(stdout.contains("ok test_copy"), "{stdout}");
}

#[test]
fn sqlalchemy_core_and_orm() {
    let libs = client_libs();
    let server = TestServer::start();
    let out = Command::new(libs.join("venv/bin/python"))
        .arg(script("test_sqlalchemy_orm.py"))
        .env("CAIRN_URL", server.url())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(
        stdout.contains("ok test_nested_transaction_and_integrity_error"),
        "{stdout}"
    );
}

#[test]
fn node_postgres_parameters_and_transaction() {
    let libs = client_libs();
    let server = TestServer::start();
    let out = Command::new("node")
        .arg(script("test_node_pg.js"))
        .env("CAIRN_URL", server.url())
        .env("NODE_PATH", libs.join("node/node_modules"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(stdout.contains("ok node-postgres"));
}

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

/// Runs a client script (`program script`, with `CAIRN_URL` pointing at `server`) and
/// returns its standard output; fails with its output and the server's log when it exits
/// non-zero.
pub(crate) fn run_client(
    server: &TestServer,
    program: &std::path::Path,
    name: &str,
    env: &[(&str, std::ffi::OsString)],
) -> String {
    let mut cmd = Command::new(program);
    cmd.arg(script(name)).env("CAIRN_URL", server.url());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    stdout
}

#[test]
fn psycopg3_prepared_binary_copy_and_retries() {
    let libs = client_libs();
    let server = TestServer::start();
    let stdout = run_client(
        &server,
        &libs.join("venv/bin/python"),
        "test_psycopg.py",
        &[],
    );
    assert!(stdout.contains("ok test_copy"), "{stdout}");
}

#[test]
fn sqlalchemy_core_and_orm() {
    let libs = client_libs();
    let server = TestServer::start();
    let stdout = run_client(
        &server,
        &libs.join("venv/bin/python"),
        "test_sqlalchemy_orm.py",
        &[],
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
    let stdout = run_client(
        &server,
        std::path::Path::new("node"),
        "test_node_pg.js",
        &[("NODE_PATH", libs.join("node/node_modules").into_os_string())],
    );
    assert!(stdout.contains("ok node-postgres"), "{stdout}");
}

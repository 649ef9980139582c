//! The test server driven by the real `psql` and `pgbench` 15 (libpq).

use std::process::{Command, Stdio};

use crate::common::{psql, Server};

#[test]
fn psql_select_1() {
    let srv = Server::trust();
    let out = psql(srv.port, &["-c", "SELECT 1"], &[], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("?column?") && out.stdout.contains("(1 row)"),
        "{}",
        out.stdout
    );
    let out = psql(srv.port, &["-X", "-At", "-c", "SELECT 'a', 2"], &[], None);
    assert_eq!(out.stdout, "a|2\n");
}

#[test]
fn psql_multi_statement_and_errors() {
    let srv = Server::trust();
    let out = psql(
        srv.port,
        &["-X", "-At", "-c", "SELECT 1; SELECT 2"],
        &[],
        None,
    );
    assert_eq!((out.code, out.stdout.as_str()), (0, "1\n2\n"));
    let out = psql(srv.port, &["-X", "-c", "THIS IS NOT SQL"], &[], None);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("syntax error at or near \"THIS\""),
        "{}",
        out.stderr
    );
    // a script goes on after an error (ON_ERROR_STOP off), same session
    let script = "SELECT 1/0;\n\\echo :LAST_ERROR_SQLSTATE\nSELECT 5;\n";
    let out = psql(srv.port, &["-X", "-At"], &[], Some(script));
    assert_eq!(out.stdout, "22012\n5\n", "stderr: {}", out.stderr);
    // notices reach psql's stderr
    let out = psql(srv.port, &["-X", "-At", "-c", "BEGIN; BEGIN"], &[], None);
    assert!(
        out.stderr
            .contains("WARNING:  there is already a transaction in progress"),
        "{}",
        out.stderr
    );
}

/// psql's ON_ERROR_ROLLBACK reads the ReadyForQuery status byte (PQtransactionStatus).
#[test]
fn psql_on_error_rollback_uses_transaction_status() {
    let srv = Server::trust();
    let script = "\\set ON_ERROR_ROLLBACK on\nBEGIN;\nSELECT 1/0;\nSELECT 42;\nCOMMIT;\n";
    let out = psql(srv.port, &["-X", "-At", "-e"], &[], Some(script));
    assert!(
        out.stdout.contains("42\n"),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("COMMIT"), "{}", out.stdout);
    assert!(
        !out.stderr.contains("25P02") && !out.stderr.contains("aborted"),
        "{}",
        out.stderr
    );
    // without it the block fails ('E') and COMMIT reports ROLLBACK
    let script = "BEGIN;\nSELECT 1/0;\nSELECT 42;\nCOMMIT;\n";
    let out = psql(srv.port, &["-X", "-At"], &[], Some(script));
    assert!(
        out.stderr.contains("current transaction is aborted"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("ROLLBACK"), "{}", out.stdout);
}

#[test]
fn psql_copy_from_stdin() {
    let srv = Server::trust();
    let out = psql(
        srv.port,
        &["-X", "-c", "COPY sink FROM STDIN"],
        &[],
        Some("1\n2\n3\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "COPY 3");
    let script = "\\copy sink from stdin\na\nb\n\\.\nSELECT 9;\n";
    let out = psql(srv.port, &["-X", "-At"], &[], Some(script));
    assert_eq!(out.stdout, "COPY 2\n9\n", "stderr: {}", out.stderr);
}

#[test]
fn psql_copy_to_stdout() {
    let srv = Server::trust();
    let out = psql(
        srv.port,
        &["-X", "-c", "COPY five_rows TO STDOUT"],
        &[],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().next(), Some("1\trow-1"));
    assert_eq!(out.stdout.lines().count(), 5);
    // \copy (query) to stdout; the session goes on afterwards
    let script = "\\copy (SELECT 1, 'a') to stdout\nSELECT 7;\n";
    let out = psql(srv.port, &["-X", "-At"], &[], Some(script));
    assert_eq!(out.stdout, "1\ta\n7\n", "stderr: {}", out.stderr);
}

#[test]
fn psql_scram_sha_256() {
    let srv = Server::start(&[
        "--auth",
        "scram",
        "--user",
        "postgres",
        "--password",
        "pw-123",
    ]);
    let ok = psql(
        srv.port,
        &["-X", "-At", "-c", "SELECT 1"],
        &[("PGPASSWORD", "pw-123")],
        None,
    );
    assert_eq!((ok.code, ok.stdout.as_str()), (0, "1\n"), "{}", ok.stderr);
    let bad = psql(
        srv.port,
        &["-X", "-c", "SELECT 1"],
        &[("PGPASSWORD", "nope")],
        None,
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("FATAL:  password authentication failed for user \"postgres\""),
        "{}",
        bad.stderr
    );
    // -w: no password available at all -> fails instead of prompting
    let none = psql(srv.port, &["-X", "-w", "-c", "SELECT 1"], &[], None);
    assert_eq!(none.code, 2, "{}", none.stderr);
}

#[test]
fn psql_over_tls() {
    let dir = std::env::temp_dir().join(format!("cairn-pgwire-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success());
    let srv = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let out = psql(
        srv.port,
        &["-X", "-c", "\\conninfo"],
        &[("PGSSLMODE", "require")],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("SSL connection (protocol: TLSv1.3"),
        "{}",
        out.stdout
    );
    let out = psql(
        srv.port,
        &["-X", "-At", "-c", "SELECT 1"],
        &[("PGSSLMODE", "require")],
        None,
    );
    assert_eq!(out.stdout, "1\n");
    // plain connections are still accepted when TLS is configured
    let out = psql(
        srv.port,
        &["-X", "-At", "-c", "SELECT 2"],
        &[("PGSSLMODE", "disable")],
        None,
    );
    assert_eq!(out.stdout, "2\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pgbench -M prepared`: named prepared statements with text parameters and no type hints.
#[test]
fn pgbench_prepared_custom_script() {
    let srv = Server::trust();
    let dir = std::env::temp_dir().join(format!("cairn-pgwire-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("bench.sql");
    std::fs::write(
        &script,
        "\\set x random(1, 100000)\nBEGIN;\nSELECT :x::int4 + 1;\nINSERT INTO sink VALUES (:x);\nEND;\n",
    )
    .unwrap();
    let out = Command::new("pgbench")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &srv.port.to_string(),
            "-U",
            "postgres",
        ])
        .args([
            "-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "200", "-f",
        ])
        .arg(&script)
        .output()
        .expect("pgbench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("number of transactions actually processed: 400/400"),
        "{stdout}"
    );
    assert!(
        stdout.contains("number of failed transactions: 0"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

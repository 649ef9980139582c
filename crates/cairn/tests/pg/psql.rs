//! psql and pgbench (PostgreSQL 15 clients) against `cairn start`.

use std::process::Command;

use crate::server::{have, TestServer};

fn psql(server: &TestServer, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut cmd = Command::new("psql");
    cmd.arg(server.url())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(args);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn psql");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("psql output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn psql_runs_a_script_with_copy() {
    if !have("psql") {
        eprintln!("skipping: psql is not installed");
        return;
    }
    let server = TestServer::start();
    let script = "CREATE TABLE fruit (id INT PRIMARY KEY, name TEXT NOT NULL);\n\
                  COPY fruit FROM STDIN;\n1\tapple\n2\tpear\n\\.\n\
                  INSERT INTO fruit VALUES (3, 'fig');\n\
                  SELECT name FROM fruit ORDER BY id;\n";
    let (ok, out, err) = psql(&server, &["-A", "-t"], Some(script));
    assert!(ok, "psql failed: {err}\n{}", server.log());
    assert_eq!(out.trim(), "apple\npear\nfig");
    let (ok, out, err) = psql(
        &server,
        &[
            "-A",
            "-t",
            "-c",
            "\\copy (SELECT id, name FROM fruit ORDER BY id) TO STDOUT WITH (FORMAT csv)",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1,apple\n2,pear\n3,fig");
    // ON_ERROR_STOP: the error is reported with its SQLSTATE and psql exits non-zero.
    let (ok, _, err) = psql(
        &server,
        &["-c", "INSERT INTO fruit VALUES (1, 'dup')"],
        None,
    );
    assert!(!ok);
    assert!(
        err.contains("duplicate key value violates unique constraint \"fruit_pkey\""),
        "{err}"
    );
}

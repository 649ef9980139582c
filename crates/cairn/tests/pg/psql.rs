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

/// Runs pgbench against `server` with `args` (in a temporary working directory); returns its
/// output, or panics with it and the server's log.
fn pgbench(server: &TestServer, args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("pgbench")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-U",
            "postgres",
        ])
        .args(args)
        .arg("postgres")
        .current_dir(dir.path())
        .output()
        .expect("run pgbench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "pgbench {args:?} failed:\n{text}\n{}",
        server.log()
    );
    text
}

fn pgbench_count(out: &str, prefix: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} in pgbench output:\n{out}"))
}

/// `pgbench -i -s scale`, then select-only and tpcb-like for `seconds` each with `clients`
/// clients (`-M prepared`, serialization failures retried as applications do), then the
/// consistency check: sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta).
fn pgbench_load_run_check(scale: u32, clients: u32, seconds: u32) {
    if !have("pgbench") || !have("psql") {
        eprintln!("skipping: pgbench/psql are not installed");
        return;
    }
    let server = TestServer::start();
    let (scale, clients, seconds) = (scale.to_string(), clients.to_string(), seconds.to_string());
    pgbench(&server, &["-i", "-q", "-s", &scale]);
    let (ok, out, err) = psql(
        &server,
        &["-A", "-t", "-c", "SELECT count(*) FROM pgbench_accounts"],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(
        out.trim().parse::<u64>().ok(),
        Some(100_000 * scale.parse::<u64>().unwrap_or(0))
    );
    let run = |extra: &[&str]| {
        let mut a = vec![
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients,
            "-j",
            &clients,
            "-T",
            &seconds,
            "--max-tries=0",
        ];
        a.extend_from_slice(extra);
        pgbench(&server, &a)
    };
    let select_only = run(&["-S"]);
    assert!(pgbench_count(&select_only, "number of transactions actually processed:") > 0);
    assert_eq!(
        pgbench_count(&select_only, "number of failed transactions:"),
        0,
        "{select_only}"
    );
    let tpcb = run(&[]);
    let processed = pgbench_count(&tpcb, "number of transactions actually processed:");
    assert!(processed > 0, "{tpcb}");
    assert_eq!(
        pgbench_count(&tpcb, "number of failed transactions:"),
        0,
        "{tpcb}"
    );
    let value = |sql: &str| {
        let (ok, out, err) = psql(&server, &["-A", "-t", "-c", sql], None);
        assert!(ok, "{sql}: {err}");
        out.trim().to_string()
    };
    let history = value("SELECT count(*) || ' ' || coalesce(sum(delta), 0) FROM pgbench_history");
    let (rows, delta) = history.split_once(' ').unwrap_or_default();
    assert_eq!(
        rows.parse::<u64>().ok(),
        Some(processed),
        "one history row per committed transaction"
    );
    for (table, col) in [
        ("pgbench_accounts", "abalance"),
        ("pgbench_tellers", "tbalance"),
        ("pgbench_branches", "bbalance"),
    ] {
        assert_eq!(
            value(&format!("SELECT coalesce(sum({col}), 0) FROM {table}")),
            delta,
            "{table}"
        );
    }
}

#[test]
fn pgbench_initialises_runs_both_scripts_and_stays_consistent() {
    pgbench_load_run_check(1, 4, 3);
}

/// The full run: scale 10, 8 clients, 30 s per script (about two minutes with the
/// load). `cargo test -p cairn --test pg -- --ignored pgbench_scale_10`.
#[test]
#[ignore]
fn pgbench_scale_10_eight_clients_thirty_seconds() {
    pgbench_load_run_check(10, 8, 30);
}

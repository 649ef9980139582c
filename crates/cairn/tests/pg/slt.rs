//! Runs `tests/slt/*.slt` (sqllogictest format; expected results are PostgreSQL 15's) against
//! one `cairn start` server, each file in a fresh database, through tokio-postgres's simple
//! query protocol, as the sqllogictest-rs `postgres` engine does.

use std::path::PathBuf;

use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

use crate::server::{connect, runtime, TestServer};

struct Db {
    client: tokio_postgres::Client,
}

#[derive(Debug)]
struct DbError(tokio_postgres::Error);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(e) => write!(f, "{}: {}", e.code().code(), e.message()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for DbError {}

#[async_trait::async_trait]
impl AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let msgs = self.client.simple_query(sql).await.map_err(DbError)?;
        let mut rows = Vec::new();
        let mut width = None;
        let mut complete = None;
        for m in msgs {
            match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    width = Some(r.len());
                    rows.push(
                        (0..r.len())
                            .map(|i| match r.get(i) {
                                None => "NULL".to_string(),
                                Some("") => "(empty)".to_string(),
                                Some(s) => s.to_string(),
                            })
                            .collect(),
                    );
                }
                tokio_postgres::SimpleQueryMessage::RowDescription(cols) => {
                    width = Some(cols.len())
                }
                tokio_postgres::SimpleQueryMessage::CommandComplete(n) => complete = Some(n),
                _ => {}
            }
        }
        match width {
            Some(w) => Ok(DBOutput::Rows {
                types: vec![DefaultColumnType::Any; w],
                rows,
            }),
            None => Ok(DBOutput::StatementComplete(complete.unwrap_or(0))),
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "postgres"
    }

    fn error_sql_state(err: &DbError) -> Option<String> {
        err.0.code().map(|c| c.code().to_string())
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    files
}

/// With `CAIRN_SLT_POSTGRES="host=.. port=.. user=.."` the files run against that server
/// instead (how their expected results are checked against a real PostgreSQL).
#[test]
fn sqllogictest_files_pass() {
    let external = std::env::var("CAIRN_SLT_POSTGRES").ok();
    let server = match external {
        Some(_) => None,
        None => Some(TestServer::start()),
    };
    let base = match (&external, &server) {
        (Some(e), _) => e.clone(),
        (None, Some(s)) => format!("host=127.0.0.1 port={} user=postgres", s.port),
        (None, None) => unreachable!("one of the two is set"),
    };
    let run_id = std::process::id();
    let rt = runtime();
    let mut failures = Vec::new();
    let files = slt_files();
    assert!(!files.is_empty());
    for (i, file) in files.iter().enumerate() {
        let db = format!("slt_{run_id}_{i}");
        rt.block_on(async {
            let admin = connect(&format!("{base} dbname=postgres")).await;
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .expect("create database");
        });
        let config = format!("{base} dbname={db}");
        let result = rt.block_on(async {
            let mut runner = sqllogictest::Runner::new(|| {
                let config = config.clone();
                async move {
                    Ok::<_, DbError>(Db {
                        client: connect(&config).await,
                    })
                }
            });
            runner.add_label("postgresql");
            runner.run_file_async(file).await
        });
        if let Err(e) = result {
            failures.push(format!("{}: {}", file.display(), e.display(false)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// The shared conformance corpus (`../shared/conformance/sqllogictest`, or
/// `CAIRN_SLT_CORPUS`), one fresh database per file, reporting the pass rate. Long; run with
/// `cargo test --release -p cairn --test pg -- --ignored --nocapture sqllogictest_corpus`.
/// `CAIRN_SLT_FILTER=substring` limits the files.
#[test]
#[ignore = "long: the shared sqllogictest corpus"]
fn sqllogictest_corpus() {
    let root = std::env::var_os("CAIRN_SLT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/conformance/sqllogictest")
        });
    let filter = std::env::var("CAIRN_SLT_FILTER").unwrap_or_default();
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("corpus directory").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "test" || x == "slt")
                && p.to_string_lossy().contains(&filter)
            {
                files.push(p);
            }
        }
    }
    files.sort();
    let server = TestServer::start();
    let rt = runtime();
    let (mut passed, mut failed) = (0, 0);
    for (i, file) in files.iter().enumerate() {
        let db = format!("corpus_{i}");
        rt.block_on(async {
            let admin = connect(&server.config()).await;
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .expect("create database");
        });
        let config = format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            server.port
        );
        let started = std::time::Instant::now();
        let result = rt.block_on(async {
            let mut runner = sqllogictest::Runner::new(|| {
                let config = config.clone();
                async move {
                    Ok::<_, DbError>(Db {
                        client: connect(&config).await,
                    })
                }
            });
            runner.add_label("postgresql");
            let limit = std::time::Duration::from_secs(
                std::env::var("CAIRN_SLT_TIMEOUT")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(600),
            );
            tokio::time::timeout(limit, runner.run_file_async(file)).await
        });
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        match result {
            Ok(Ok(())) => {
                passed += 1;
                println!("PASS {rel} ({:.1} s)", started.elapsed().as_secs_f64());
            }
            Ok(Err(e)) => {
                failed += 1;
                let msg = e.display(false).to_string();
                let first: String = msg.lines().take(6).collect::<Vec<_>>().join(" | ");
                println!(
                    "FAIL {rel} ({:.1} s): {first}",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(_) => {
                failed += 1;
                println!("FAIL {rel}: timed out");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
}

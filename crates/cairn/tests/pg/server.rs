//! A `cairn start` child process for one test: its own data directory, free ports, killed on
//! drop, and (through `--exit-on-stdin-eof`) gone as soon as the test process is.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> TestServer {
        Self::start_in(tempfile::tempdir().expect("tempdir"), extra)
    }

    /// Starts a server on an existing directory (a restart after `kill`).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> TestServer {
        let _ = std::fs::remove_file(dir.path().join("port"));
        let port_file = dir.path().join("port");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("start")
            .arg("--store")
            .arg(dir.path().join("data"))
            .args([
                "--sql-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
                "--exit-on-stdin-eof",
            ])
            .arg("--port-file")
            .arg(&port_file)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn cairn start");
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            if let Ok(s) = std::fs::read_to_string(&port_file) {
                if let Ok(p) = s.trim().parse::<u16>() {
                    break p;
                }
            }
            assert!(
                Instant::now() < deadline,
                "cairn start did not listen within 60 s: {}",
                Self::log_of(&dir.path().join("server.log"))
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        TestServer { child, port, dir }
    }

    fn log_of(p: &std::path::Path) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(p) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn log(&self) -> String {
        Self::log_of(&self.dir.path().join("server.log"))
    }

    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn config(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// SIGKILLs the server and hands back its directory for a restart.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tokio runtime for client code in synchronous tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A two-worker runtime for tests whose clients run concurrently with blocking code.
pub fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Connects tokio-postgres and drives the connection in the background.
pub async fn connect(config: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(config, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Whether an external client binary is installed (tests that need it skip otherwise).
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

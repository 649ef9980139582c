//! Shared test helpers: the test server as a child process, and a hand-written frontend for
//! byte-level protocol checks.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running `cairn-pgwire-testserver`. Dropping it kills the process; independently the
/// server exits when our end of its stdin closes (the test process died) and after
/// `--max-lifetime-secs`.
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
    events: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-pgwire-testserver"))
            .args([
                "--port",
                "0",
                "--exit-on-stdin-eof",
                "--max-lifetime-secs",
                "120",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn test server");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read LISTENING line");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected server output {line:?}"));
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if let Some(ev) = line.strip_prefix("EVENT ") {
                    if tx.send(ev.to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        Server {
            child,
            stdin,
            port,
            events,
        }
    }

    pub fn trust() -> Server {
        Server::start(&[])
    }

    pub fn conn_str(&self, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres",
            self.port
        )
    }

    pub async fn connect(&self) -> tokio_postgres::Client {
        self.connect_as("postgres", "").await
    }

    /// Connect with extra libpq-style options (e.g. `application_name=x`).
    pub async fn connect_as(&self, user: &str, extra: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(
            &format!("{} {extra}", self.conn_str(user)),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// Is the process still alive?
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait (at most `within`) for the process to exit; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Send a line to the server's stdin (`shutdown`).
    pub fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to server stdin");
        stdin.flush().expect("flush server stdin");
    }

    /// The next `EVENT` line matching `pred`, waiting at most `within`; other lines are
    /// skipped.
    pub fn wait_event(&self, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(ev) if pred(&ev) => return ev,
                Ok(_) => {}
                Err(e) => panic!("no matching server event within {within:?}: {e}"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ raw client --

/// One backend message: type byte and body (without the length word).
#[derive(Debug, Clone)]
pub struct Msg {
    pub tag: u8,
    pub body: Vec<u8>,
}

impl Msg {
    pub fn kind(&self) -> char {
        self.tag as char
    }

    /// Field `code` ('C' = SQLSTATE, 'M' = message, 'S' = severity) of an ErrorResponse or
    /// NoticeResponse.
    pub fn field(&self, code: u8) -> Option<String> {
        let mut rest = &self.body[..];
        while let Some((&c, tail)) = rest.split_first() {
            if c == 0 {
                break;
            }
            let end = tail.iter().position(|b| *b == 0)?;
            if c == code {
                return Some(String::from_utf8_lossy(&tail[..end]).into_owned());
            }
            rest = &tail[end + 1..];
        }
        None
    }

    pub fn sqlstate(&self) -> Option<String> {
        self.field(b'C')
    }

    /// DataRow columns (None = NULL).
    pub fn data_row(&self) -> Vec<Option<Vec<u8>>> {
        assert_eq!(self.tag, b'D', "not a DataRow: {self:?}");
        let n = i16::from_be_bytes([self.body[0], self.body[1]]) as usize;
        let mut pos = 2;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let len = i32::from_be_bytes(self.body[pos..pos + 4].try_into().unwrap());
            pos += 4;
            if len < 0 {
                out.push(None);
            } else {
                out.push(Some(self.body[pos..pos + len as usize].to_vec()));
                pos += len as usize;
            }
        }
        out
    }

    /// First column of a DataRow as text.
    pub fn first_text(&self) -> String {
        String::from_utf8(self.data_row()[0].clone().expect("not NULL")).expect("utf8")
    }

    /// (name, type oid, format code) of each RowDescription field.
    pub fn row_description(&self) -> Vec<(String, u32, i16)> {
        assert_eq!(self.tag, b'T', "not a RowDescription: {self:?}");
        let n = i16::from_be_bytes([self.body[0], self.body[1]]) as usize;
        let mut pos = 2;
        let mut out = Vec::new();
        for _ in 0..n {
            let end = pos + self.body[pos..].iter().position(|b| *b == 0).unwrap();
            let name = String::from_utf8_lossy(&self.body[pos..end]).into_owned();
            pos = end + 1;
            let oid = u32::from_be_bytes(self.body[pos + 6..pos + 10].try_into().unwrap());
            let fmt = i16::from_be_bytes(self.body[pos + 16..pos + 18].try_into().unwrap());
            pos += 18;
            out.push((name, oid, fmt));
        }
        out
    }

    /// Body without the trailing NUL (CommandComplete tag and the like).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.body.strip_suffix(&[0]).unwrap_or(&self.body)).into_owned()
    }
}

pub struct Raw {
    pub stream: TcpStream,
}

pub fn cstr(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(s.as_bytes());
    buf.push(0);
}

pub fn framed(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

pub fn startup_msg(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608i32.to_be_bytes()); // protocol 3.0
    for (k, v) in params {
        cstr(&mut body, k);
        cstr(&mut body, v);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

pub fn query_msg(sql: &str) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, sql);
    framed(b'Q', &b)
}

pub fn parse_msg(name: &str, sql: &str, oids: &[u32]) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, name);
    cstr(&mut b, sql);
    b.extend_from_slice(&(oids.len() as i16).to_be_bytes());
    for o in oids {
        b.extend_from_slice(&o.to_be_bytes());
    }
    framed(b'P', &b)
}

pub fn bind_msg(
    portal: &str,
    stmt: &str,
    param_formats: &[i16],
    params: &[Option<&[u8]>],
    result_formats: &[i16],
) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, portal);
    cstr(&mut b, stmt);
    b.extend_from_slice(&(param_formats.len() as i16).to_be_bytes());
    for f in param_formats {
        b.extend_from_slice(&f.to_be_bytes());
    }
    b.extend_from_slice(&(params.len() as i16).to_be_bytes());
    for p in params {
        match p {
            None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                b.extend_from_slice(v);
            }
        }
    }
    b.extend_from_slice(&(result_formats.len() as i16).to_be_bytes());
    for f in result_formats {
        b.extend_from_slice(&f.to_be_bytes());
    }
    framed(b'B', &b)
}

pub fn describe_msg(kind: u8, name: &str) -> Vec<u8> {
    let mut b = vec![kind];
    cstr(&mut b, name);
    framed(b'D', &b)
}

pub fn execute_msg(portal: &str, max_rows: i32) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, portal);
    b.extend_from_slice(&max_rows.to_be_bytes());
    framed(b'E', &b)
}

pub fn sync_msg() -> Vec<u8> {
    framed(b'S', &[])
}

pub fn close_msg(kind: u8, name: &str) -> Vec<u8> {
    let mut b = vec![kind];
    cstr(&mut b, name);
    framed(b'C', &b)
}

impl Raw {
    /// Connect and complete a trust startup; returns the client and the startup messages
    /// (R, S..., K, Z).
    pub async fn connect(port: u16) -> (Raw, Vec<Msg>) {
        Raw::connect_with(port, &[("user", "postgres"), ("database", "postgres")]).await
    }

    pub async fn connect_with(port: u16, params: &[(&str, &str)]) -> (Raw, Vec<Msg>) {
        let mut raw = Raw::open(port).await;
        raw.send(&startup_msg(params)).await;
        let msgs = raw.until_ready().await;
        (raw, msgs)
    }

    /// A bare TCP connection.
    pub async fn open(port: u16) -> Raw {
        Raw {
            stream: TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect"),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    pub async fn send_all(&mut self, parts: &[Vec<u8>]) {
        self.send(&parts.concat()).await;
    }

    /// Next backend message, or None on EOF / reset. Panics after 10 s.
    pub async fn recv(&mut self) -> Option<Msg> {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut hdr = [0u8; 5];
            if self.stream.read_exact(&mut hdr).await.is_err() {
                return None;
            }
            let len = i32::from_be_bytes(hdr[1..].try_into().unwrap()) as usize;
            let mut body = vec![0u8; len - 4];
            self.stream.read_exact(&mut body).await.ok()?;
            Some(Msg { tag: hdr[0], body })
        })
        .await
        .expect("timed out waiting for a backend message")
    }

    /// Read messages up to and including ReadyForQuery.
    pub async fn until_ready(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        loop {
            let m = self.recv().await.unwrap_or_else(|| {
                panic!(
                    "connection closed before ReadyForQuery; got {}",
                    kinds(&out)
                )
            });
            let done = m.tag == b'Z';
            out.push(m);
            if done {
                return out;
            }
        }
    }

    /// Read messages until the server closes the connection.
    pub async fn until_eof(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            out.push(m);
        }
        out
    }

    pub async fn simple(&mut self, sql: &str) -> Vec<Msg> {
        self.send(&query_msg(sql)).await;
        self.until_ready().await
    }
}

/// "TDCZ"-style summary of message kinds.
pub fn kinds(msgs: &[Msg]) -> String {
    msgs.iter().map(Msg::kind).collect()
}

/// Transaction status byte of the final ReadyForQuery.
pub fn status(msgs: &[Msg]) -> char {
    let z = msgs.last().expect("no messages");
    assert_eq!(z.tag, b'Z', "last message is not ReadyForQuery: {msgs:?}");
    z.body[0] as char
}

/// Run psql with a hard 20 s deadline (killed if it hangs).
pub struct PsqlOut {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn psql(port: u16, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> PsqlOut {
    let mut cmd = Command::new("psql");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(args)
        .env_remove("PGPASSWORD")
        .env_remove("PGSSLMODE")
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("psql in PATH");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("psql hung: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    PsqlOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

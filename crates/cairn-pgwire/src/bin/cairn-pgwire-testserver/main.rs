//! `cairn-pgwire-testserver`: `cairn_pgwire::serve` over a toy engine, for the crate's
//! integration tests (`tests/it`). Not a product; it stores nothing.
//!
//! ```text
//! cairn-pgwire-testserver --port N [--auth trust|scram|local-trust] [--user U --password P]
//!     [--tls-cert F --tls-key F] [--max-connections N] [--shutdown-grace-ms N]
//!     [--abort-on-panic] [--exit-on-stdin-eof] [--max-lifetime-secs N]
//! ```
//! Prints `LISTENING 127.0.0.1:<port>` once bound, then `EVENT ...` lines (see `fake.rs`).
//! A line `shutdown` on stdin starts a graceful shutdown; `EVENT serve-returned` is printed
//! when `serve` returns, then the process exits 0. `--abort-on-panic` turns any panic into a
//! process abort, the behaviour of Cairn's release profile (`panic = "abort"`).

mod fake;
mod toy_sql;

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn_pgwire::{AuthConfig, AuthMode, CredentialStore, ScramVerifier, ServerConfig};

struct Args {
    port: u16,
    auth: String,
    user: String,
    password: String,
    tls: Option<(String, String)>,
    max_connections: Option<usize>,
    shutdown_grace_ms: Option<u64>,
    abort_on_panic: bool,
    exit_on_stdin_eof: bool,
    max_lifetime_secs: Option<u64>,
}

fn usage(msg: &str) -> ! {
    eprintln!("cairn-pgwire-testserver: {msg}");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 0,
        auth: "trust".into(),
        user: "postgres".into(),
        password: "cairn".into(),
        tls: None,
        max_connections: None,
        shutdown_grace_ms: None,
        abort_on_panic: false,
        exit_on_stdin_eof: false,
        max_lifetime_secs: None,
    };
    let mut port = None;
    let (mut cert, mut key) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |v: String| -> u64 { v.parse().unwrap_or_else(|_| usage("bad number")) };
        match flag.as_str() {
            "--port" => port = Some(num(val()) as u16),
            "--auth" => a.auth = val(),
            "--user" => a.user = val(),
            "--password" => a.password = val(),
            "--tls-cert" => cert = Some(val()),
            "--tls-key" => key = Some(val()),
            "--max-connections" => a.max_connections = Some(num(val()) as usize),
            "--shutdown-grace-ms" => a.shutdown_grace_ms = Some(num(val())),
            "--max-lifetime-secs" => a.max_lifetime_secs = Some(num(val())),
            "--abort-on-panic" => a.abort_on_panic = true,
            "--exit-on-stdin-eof" => a.exit_on_stdin_eof = true,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    a.port = port.unwrap_or_else(|| usage("--port is required"));
    if a.port == 5432 {
        usage("refusing to use port 5432");
    }
    a.tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => usage("--tls-cert and --tls-key go together"),
    };
    a
}

/// One user with a fixed password.
struct OneUser {
    user: String,
    verifier: ScramVerifier,
}

impl CredentialStore for OneUser {
    fn scram_verifier(&self, user: &str) -> Option<ScramVerifier> {
        (user == self.user).then(|| self.verifier.clone())
    }
}

fn main() {
    let args = parse_args();
    if args.abort_on_panic {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("cairn-pgwire-testserver: {info}; aborting (panic = \"abort\" semantics)");
            std::process::abort();
        }));
    }
    let mut config = ServerConfig {
        auth: match args.auth.as_str() {
            "trust" => AuthConfig::trust(),
            "scram" => AuthConfig::scram(),
            "local-trust" => AuthConfig {
                local: AuthMode::Trust,
                remote: AuthMode::ScramSha256,
            },
            other => usage(&format!("unknown --auth {other}")),
        },
        ..ServerConfig::default()
    };
    let verifier = ScramVerifier::from_password(&args.password, b"cairn-test-salt", 4096)
        .unwrap_or_else(|e| usage(&e.to_string()));
    config.credentials = Some(Arc::new(OneUser {
        user: args.user.clone(),
        verifier,
    }));
    if let Some((cert, key)) = &args.tls {
        let tls = cairn_pgwire::tls_from_pem_files(Path::new(cert), Path::new(key))
            .unwrap_or_else(|e| usage(&format!("{e}: {:?}", std::error::Error::source(&e))));
        config.tls = Some(tls);
    }
    if let Some(n) = args.max_connections {
        config.max_connections = n;
    }
    if let Some(ms) = args.shutdown_grace_ms {
        config.shutdown_grace = Duration::from_millis(ms);
    }

    // stdin: "shutdown" starts a graceful shutdown; EOF (the test process died) exits.
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let exit_on_eof = args.exit_on_stdin_eof;
    std::thread::spawn(move || {
        let mut shutdown_tx = Some(shutdown_tx);
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) if l.trim() == "shutdown" => {
                    if let Some(tx) = shutdown_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if exit_on_eof {
            std::process::exit(0);
        }
    });
    if let Some(secs) = args.max_lifetime_secs {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            eprintln!("cairn-pgwire-testserver: max lifetime reached, exiting");
            std::process::exit(0);
        });
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| usage(&format!("start runtime: {e}")));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .unwrap_or_else(|e| usage(&format!("bind: {e}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| usage(&format!("local_addr: {e}")));
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "LISTENING {addr}");
            let _ = out.flush();
        }
        let shutdown = async move {
            let _ = shutdown_rx.await;
        };
        cairn_pgwire::serve(listener, config, Arc::new(fake::FakeEngine), shutdown).await;
    });
    fake::event("serve-returned");
    std::process::exit(0);
}

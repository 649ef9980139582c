//! Spike server: `scratch-pgwire --port N [options]`
//!
//! Options:
//!   --port N                 port on 127.0.0.1 (0 = pick a free one); required
//!   --auth trust|scram       default trust
//!   --user U --password P    SCRAM credentials (default postgres / cairn)
//!   --tls-cert F --tls-key F enable TLS (PEM files)
//!   --log-queries            log SQL from Query/Parse to stderr
//!   --buffered-execute       use pgwire's default Execute path for max_rows=0
//!                            (collects the whole result before sending)
//!   --exit-on-stdin-eof      exit when stdin closes (tests use this so the
//!                            server dies with the test process)
//!   --max-lifetime-secs N    exit after N seconds no matter what
//!
//! Prints `LISTENING 127.0.0.1:<port>` on stdout once bound.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::process_socket;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use scratch_pgwire::fake_engine::FakeEngine;
use scratch_pgwire::pg_adapter::{AuthMode, ConnHandlers, Shared};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

struct Args {
    port: u16,
    auth: String,
    user: String,
    password: String,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    log_queries: bool,
    buffered_execute: bool,
    exit_on_stdin_eof: bool,
    max_lifetime: Option<u64>,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "error: {msg}\nusage: scratch-pgwire --port N [--auth trust|scram] [--user U] [--password P] [--tls-cert F --tls-key F] [--log-queries] [--buffered-execute] [--exit-on-stdin-eof] [--max-lifetime-secs N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 0,
        auth: "trust".into(),
        user: "postgres".into(),
        password: "cairn".into(),
        tls_cert: None,
        tls_key: None,
        log_queries: false,
        buffered_execute: false,
        exit_on_stdin_eof: false,
        max_lifetime: None,
    };
    let mut port = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--port" => port = Some(val().parse().unwrap_or_else(|_| usage("bad --port"))),
            "--auth" => a.auth = val(),
            "--user" => a.user = val(),
            "--password" => a.password = val(),
            "--tls-cert" => a.tls_cert = Some(val()),
            "--tls-key" => a.tls_key = Some(val()),
            "--max-lifetime-secs" => {
                a.max_lifetime = Some(
                    val()
                        .parse()
                        .unwrap_or_else(|_| usage("bad --max-lifetime-secs")),
                )
            }
            "--log-queries" => a.log_queries = true,
            "--buffered-execute" => a.buffered_execute = true,
            "--exit-on-stdin-eof" => a.exit_on_stdin_eof = true,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    a.port = port.unwrap_or_else(|| usage("--port is required"));
    if a.port == 5432 {
        usage("refusing to use port 5432");
    }
    a
}

fn tls_acceptor(cert: &str, key: &str) -> std::io::Result<TlsAcceptor> {
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    // needed only for PG17+ "direct SSL" (sslnegotiation=direct)
    cfg.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = parse_args();
    let auth = match args.auth.as_str() {
        "trust" => AuthMode::Trust,
        "scram" => AuthMode::Scram {
            user: args.user.clone(),
            password: args.password.clone(),
        },
        other => usage(&format!("unknown --auth {other}")),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(tls_acceptor(c, k)?),
        (None, None) => None,
        _ => usage("--tls-cert and --tls-key go together"),
    };
    let shared = Shared::new(
        Arc::new(FakeEngine),
        auth,
        args.log_queries,
        args.buffered_execute,
    );

    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let addr = listener.local_addr()?;
    println!("LISTENING {addr}");
    std::io::stdout().flush()?;

    if args.exit_on_stdin_eof {
        tokio::spawn(async {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
            eprintln!("stdin closed, exiting");
            std::process::exit(0);
        });
    }
    if let Some(secs) = args.max_lifetime {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            eprintln!("max lifetime reached, exiting");
            std::process::exit(0);
        });
    }

    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let handlers = ConnHandlers::new(shared.clone());
        let tls = tls.clone();
        let log = args.log_queries;
        // One task per connection: an error — or even a panic — in one
        // connection ends only that task.
        let task = tokio::spawn(async move { process_socket(socket, tls, handlers).await });
        tokio::spawn(async move {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if log => eprintln!("connection {peer} ended with error: {e}"),
                Ok(Err(_)) => {}
                Err(e) => eprintln!("connection {peer} task failed: {e}"),
            }
        });
    }
}

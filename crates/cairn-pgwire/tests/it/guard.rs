//! Malformed frontend input: each gets FATAL (08P01, or 0A000 for a protocol version) on its
//! own connection, and the server process survives and serves new clients — also when any
//! panic aborts the process, as under Cairn's release profile (`panic = "abort"`), which
//! pgwire 0.42.1's decoders alone would turn into a server crash.

use std::time::Duration;

use crate::common::*;

/// (what, bytes sent after a completed trust startup or instead of it, expected SQLSTATE).
fn malformed_inputs() -> Vec<(&'static str, bool, Vec<u8>, &'static str)> {
    let mut bad_format = Vec::new();
    cstr(&mut bad_format, "");
    cstr(&mut bad_format, "");
    bad_format.extend([0, 1, 0, 7, 0, 0, 0, 0]);
    let mut old_protocol = 8i32.to_be_bytes().to_vec();
    old_protocol.extend((2i32 << 16).to_be_bytes());
    vec![
        (
            "http instead of a startup packet",
            false,
            b"\xde\xad\xbe\xef GET / HTTP/1.1\r\nHost: x\r\n\r\n garbage".to_vec(),
            "08P01",
        ),
        ("protocol 2.0 startup", false, old_protocol, "0A000"),
        (
            "unknown message type",
            true,
            b"\x01\x00\x00\x00\x08junk".to_vec(),
            "08P01",
        ),
        (
            "negative length",
            true,
            b"Q\xff\xff\xff\xfeSELECT 1\x00".to_vec(),
            "08P01",
        ),
        (
            "length below 4",
            true,
            b"B\x00\x00\x00\x02".to_vec(),
            "08P01",
        ),
        (
            "bind counts past the end",
            true,
            b"B\x00\x00\x00\x0c\x00\x00\x00\x05\x00\x07\x00\x00".to_vec(),
            "08P01",
        ),
        (
            "length that cuts the query before its NUL",
            true,
            b"Q\x00\x00\x00\x0cSELECT 1\x00S\x00\x00\x00\x04".to_vec(),
            "08P01",
        ),
        (
            "length of 2 GiB",
            true,
            b"Q\x7f\xff\xff\xff".to_vec(),
            "08P01",
        ),
        (
            "small message over 10,000 bytes",
            true,
            b"E\x00\x01\x00\x00".to_vec(),
            "08P01",
        ),
        ("format code 7", true, framed(b'B', &bad_format), "08P01"),
        ("describe of kind X", true, framed(b'D', b"X\0"), "08P01"),
        ("sync with a body", true, framed(b'S', b"x"), "08P01"),
    ]
}

/// Send every malformed input on its own connection; each must end with exactly one FATAL
/// ErrorResponse carrying the expected code. The server must be alive after each.
async fn each_malformed_input_gets_fatal(srv: &mut Server) {
    for (what, after_startup, bytes, code) in malformed_inputs() {
        let mut c = if after_startup {
            Raw::connect(srv.port).await.0
        } else {
            Raw::open(srv.port).await
        };
        c.send(&bytes).await;
        let m = c.until_eof().await;
        assert_eq!(kinds(&m), "E", "{what}: {m:?}");
        assert_eq!(m[0].field(b'S').as_deref(), Some("FATAL"), "{what}");
        assert_eq!(m[0].sqlstate().as_deref(), Some(code), "{what}");
        let text = m[0].field(b'M').unwrap_or_default();
        assert!(
            text.starts_with("invalid frontend message: "),
            "{what}: {text}"
        );
        assert!(srv.alive(), "server died after: {what}");
    }
}

async fn still_serves(srv: &Server) {
    let (mut c, _) = Raw::connect(srv.port).await;
    assert_eq!(kinds(&c.simple("SELECT 1").await), "TDCZ");
    let client = srv.connect().await;
    let row = client.query_one("SELECT 2", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
}

#[tokio::test]
async fn garbage_bytes_close_connection_but_server_survives() {
    let mut srv = Server::trust();
    each_malformed_input_gets_fatal(&mut srv).await;
    still_serves(&srv).await;
}

/// The same inputs against a server that aborts on any panic. The spike's server died on
/// the 6-byte Bind here.
#[tokio::test]
async fn malformed_input_does_not_kill_a_panic_abort_server() {
    let mut srv = Server::start(&["--abort-on-panic"]);
    each_malformed_input_gets_fatal(&mut srv).await;
    still_serves(&srv).await;
    assert!(srv.alive());
}

/// Control for the test above: a panic in a connection task does kill an `--abort-on-panic`
/// server, so that test would notice a decoder panic.
#[tokio::test]
async fn abort_on_panic_server_dies_on_a_panic() {
    let mut srv = Server::start(&["--abort-on-panic"]);
    let (mut c, _) = Raw::connect(srv.port).await;
    c.send(&query_msg("SELECT cairn_test_panic()")).await;
    assert!(c.until_eof().await.is_empty());
    assert!(srv
        .wait_exit(Duration::from_secs(10))
        .is_none_or(|code| code != 0));
    assert!(!srv.alive());
}

#[tokio::test]
async fn query_before_authentication_is_rejected() {
    let srv = Server::start(&["--auth", "scram"]);
    let mut c = Raw::open(srv.port).await;
    c.send(&startup_msg(&[("user", "postgres")])).await;
    let sasl = c.recv().await.expect("AuthenticationSASL");
    assert_eq!(
        (sasl.kind(), &sasl.body[..4]),
        ('R', &10i32.to_be_bytes()[..])
    );
    c.send(&query_msg("SELECT 1")).await;
    let m = c.until_eof().await;
    assert_eq!(kinds(&m), "E");
    assert_eq!(m[0].sqlstate().as_deref(), Some("08P01"));
    assert_eq!(
        m[0].field(b'M').as_deref(),
        Some("invalid frontend message: message type 'Q' is not allowed before authentication completed")
    );
    // a password message larger than the pre-authentication limit
    let mut c = Raw::open(srv.port).await;
    c.send(&startup_msg(&[("user", "postgres")])).await;
    c.recv().await.expect("AuthenticationSASL");
    c.send(&framed(b'p', &vec![b'x'; 10_001])).await;
    let m = c.until_eof().await;
    assert_eq!(m[0].sqlstate().as_deref(), Some("08P01"));
}

/// Startup and queries in one write: the bytes after the startup packet sit in pgwire's
/// negotiation buffer and must still go through the guard, with the phase the startup set.
#[tokio::test]
async fn pipelined_startup_and_queries_are_served() {
    let srv = Server::trust();
    let mut c = Raw::open(srv.port).await;
    let mut bytes = startup_msg(&[("user", "postgres")]);
    bytes.extend(query_msg("SELECT 1"));
    bytes.extend(query_msg("SELECT 2"));
    c.send(&bytes).await;
    c.until_ready().await;
    assert_eq!(kinds(&c.until_ready().await), "TDCZ");
    let m = c.until_ready().await;
    assert_eq!(m[1].first_text(), "2");
}

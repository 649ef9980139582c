//! Feeds arbitrary bytes, as a client would send them, through cairn-pgwire's frame grammar
//! (`cairn_pgwire::frame::next_frame`) and its socket wrapper (`cairn_pgwire::guard::FrameGuard`),
//! and every message they accept through pgwire 0.42.1's own decoder.
//!
//! Input: byte 0 picks the authentication phase (Session / SCRAM / none) and whether a valid
//! startup packet is prepended; byte 1 seeds the socket's read sizes and the reader's buffer
//! size; the rest is the client's byte stream.
//!
//! Checks, beyond "never panics":
//! - `PgWireFrontendMessage::decode` (with the server's `DecodeContext` for that phase)
//!   decodes every accepted message and consumes exactly its bytes, so framing cannot
//!   desynchronise; password-family messages also go through pgwire's coercion and its SCRAM
//!   parsers (reachable before authentication);
//! - `FrameGuard` hands out exactly the accepted messages (with a Flush for each refused one),
//!   whatever the socket's read sizes and the reader's buffer size.
#![no_main]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use cairn_pgwire::frame::{self, AuthExpect, Expect, FrameKind, Limits};
use cairn_pgwire::guard::{AuthPhase, FrameGuard, GuardShared};
use libfuzzer_sys::fuzz_target;
use pgwire::api::auth::sasl::scram::{ScramSecret, ScramServerAuth};
use pgwire::messages::startup::PasswordMessageFamily;
use pgwire::messages::{DecodeContext, PgWireFrontendMessage, ProtocolVersion};
use tokio::io::{AsyncRead, ReadBuf};

const FLUSH: &[u8] = b"H\x00\x00\x00\x04";

fn startup_packet() -> Vec<u8> {
    let mut body = 196_608i32.to_be_bytes().to_vec();
    body.extend(b"user\0postgres\0database\0postgres\0\0");
    let mut p = (body.len() as i32 + 4).to_be_bytes().to_vec();
    p.extend(body);
    p
}

fn verifier() -> ScramSecret {
    ScramSecret::Verifier {
        salt: b"fuzz-salt".to_vec(),
        iterations: 4096,
        stored_key: vec![0; 32],
        server_key: vec![0; 32],
    }
}

/// Decode one accepted message the way the server's codec would, and push password-family
/// messages through pgwire's coercion and SCRAM parsing.
fn decode_with_pgwire(bytes: &[u8], expect: Expect, scram: &mut Option<Box<dyn FnOnce(&[u8])>>) {
    // Before startup the server's client info still has the default protocol (3.2), which
    // reads a cancel key of any length as bytes.
    let mut ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_2);
    ctx.awaiting_frontend_ssl = false;
    ctx.awaiting_frontend_startup = expect == Expect::StartupPacket;
    let mut buf = BytesMut::from(bytes);
    let decoded = PgWireFrontendMessage::decode(&mut buf, &ctx);
    let Ok(Some(msg)) = decoded else {
        panic!("pgwire rejected an accepted message {bytes:?}: {decoded:?}");
    };
    assert!(buf.is_empty(), "pgwire left {} bytes of {bytes:?}", buf.len());
    let PgWireFrontendMessage::PasswordMessageFamily(p) = msg else {
        return;
    };
    match expect {
        Expect::Auth(AuthExpect::SaslInitialResponse) => {
            let initial = p.into_sasl_initial_response().expect("accepted SASLInitialResponse");
            if let Some(data) = initial.data {
                if let Ok((_, waiting)) =
                    ScramServerAuth::new().on_client_first_message_with_secret(&data, verifier())
                {
                    *scram = Some(Box::new(move |final_msg: &[u8]| {
                        let _ = waiting.on_client_final_message(final_msg);
                    }));
                }
            }
        }
        Expect::Auth(AuthExpect::SaslResponse) => {
            let response = p.into_sasl_response().expect("accepted SASLResponse");
            if let Some(f) = scram.take() {
                f(&response.data);
            }
        }
        _ => {
            let _ = PasswordMessageFamily::into_password(p);
        }
    }
}

/// The grammar alone: the bytes the guard must hand out, message by message.
fn accepted_stream(stream: &[u8], phase: AuthPhase) -> Vec<u8> {
    let limits = Limits::default();
    let mut expect = Expect::StartupPacket;
    let mut sasl_first_seen = false;
    let mut scram = None;
    let mut rest = stream;
    let mut out = Vec::new();
    while let Ok(Some(f)) = frame::next_frame(rest, expect, &limits) {
        let (bytes, tail) = rest.split_at(f.len);
        match f.kind {
            FrameKind::Refused(_) => out.extend_from_slice(FLUSH),
            _ => {
                decode_with_pgwire(bytes, expect, &mut scram);
                out.extend_from_slice(bytes);
            }
        }
        if expect == Expect::Auth(AuthExpect::SaslInitialResponse) {
            sasl_first_seen = true;
        }
        expect = match (f.kind, phase) {
            (FrameKind::CancelRequest, _) => Expect::Closed,
            (_, AuthPhase::Done) => Expect::Session,
            (_, AuthPhase::None) => Expect::Auth(AuthExpect::Nothing),
            (_, AuthPhase::Sasl) if sasl_first_seen => Expect::Auth(AuthExpect::SaslResponse),
            (_, AuthPhase::Sasl) => Expect::Auth(AuthExpect::SaslInitialResponse),
        };
        rest = tail;
    }
    out
}

/// A socket that returns `data` in reads of varying sizes.
struct Chunked<'a> {
    data: &'a [u8],
    seed: u32,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.seed = self.seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let want = 1 + (self.seed >> 16) as usize % 300;
        let n = want.min(self.data.len()).min(buf.remaining());
        let (head, tail) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = tail;
        Poll::Ready(Ok(()))
    }
}

/// What the guard hands out, read with a buffer of `read_size` bytes.
fn guard_stream(stream: &[u8], phase: AuthPhase, seed: u8, read_size: usize) -> Vec<u8> {
    let shared = Arc::new(GuardShared::default());
    shared.set_auth(phase);
    let io = Chunked {
        data: stream,
        seed: u32::from(seed),
    };
    let mut guard = FrameGuard::new(io, BytesMut::new(), false, Limits::default(), shared);
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    let mut chunk = vec![0u8; read_size];
    loop {
        let mut rb = ReadBuf::new(&mut chunk);
        match Pin::new(&mut guard).poll_read(&mut cx, &mut rb) {
            Poll::Ready(Ok(())) if rb.filled().is_empty() => return out,
            Poll::Ready(Ok(())) => out.extend_from_slice(rb.filled()),
            Poll::Ready(Err(_)) => return out,
            Poll::Pending => unreachable!("the fake socket is always ready"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [config, seed, rest @ ..] = data else {
        return;
    };
    let phase = match config & 3 {
        0 | 3 => AuthPhase::Done,
        1 => AuthPhase::Sasl,
        _ => AuthPhase::None,
    };
    let mut stream = Vec::new();
    if config & 4 != 0 {
        stream.extend(startup_packet());
    }
    stream.extend_from_slice(rest);
    let expected = accepted_stream(&stream, phase);
    let read_size = 1 + usize::from(seed >> 2) * 4;
    assert_eq!(guard_stream(&stream, phase, *seed, read_size), expected);
});

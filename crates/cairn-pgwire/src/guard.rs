//! `FrameGuard`: the socket wrapper that lets pgwire read only validated frontend messages.
//!
//! **Role**: after pgwire's `negotiate_tls`, `crate::server` rebuilds the connection's
//! `Framed` around `FrameGuard<MaybeTls>`. pgwire's codec reads through it; the guard reads the
//! socket into its own buffer, cuts it into messages with [`crate::frame::next_frame`] and hands
//! out the bytes of one validated message at a time. Writes pass straight through.
//!
//! # Invariants
//! 1. No byte reaches pgwire before the complete message containing it was accepted by
//!    `frame::next_frame` — including bytes `negotiate_tls` had already buffered, which are
//!    the guard's initial input. Tests `it::guard::*`, fuzz target `pgwire_frames`.
//! 2. At most one message is handed out per read that finds the previous one fully consumed.
//!    pgwire's `Framed` only reads when its buffer holds no complete message, so when the
//!    guard parses message N+1, message N has been fully processed: the phase set through
//!    [`GuardShared`] (authentication done, SASL started) is current. Test
//!    `guard_releases_one_message_per_read`.
//! 3. After a violation every read fails with the same `FrameViolation` (wrapped in an
//!    `io::Error` of kind `InvalidData`); the connection loop sends FATAL and closes.
//! 4. Buffering is bounded by the current message's validated length plus one read chunk:
//!    the guard reads only while it lacks a complete message, and grows its buffer with the
//!    data that arrives, never by a length field alone (`READ_CHUNK_BYTES`); an emptied buffer
//!    above `INPUT_RETAINED_BYTES_MAX` is released.
//!
//! # Concurrency
//! One guard per connection, polled by the connection task. [`GuardShared`] is written by the
//! adapter (same task) between messages; atomics only because it is shared through an `Arc`.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::frame::{self, AuthExpect, Expect, FrameKind, FrameViolation, Limits, Refusal};

/// Bytes requested from the socket per read when more input is needed.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// An empty input buffer bigger than this is dropped, so one large message does not pin its
/// memory for the rest of the connection.
const INPUT_RETAINED_BYTES_MAX: usize = 1024 * 1024;

/// The Flush message handed to pgwire in place of a refused message (see [`Refusal`]).
const FLUSH_MESSAGE: &[u8] = b"H\x00\x00\x00\x04";

/// Authentication phase, as set by the startup handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AuthPhase {
    /// No authentication exchange running (before it began, or after it failed).
    None = 0,
    /// SCRAM-SHA-256 exchange running.
    Sasl = 1,
    /// Authenticated: session messages are allowed.
    Done = 2,
}

/// State shared between the guard and the adapter of one connection.
#[derive(Debug, Default)]
pub struct GuardShared {
    auth: AtomicU8,
    /// The refusal behind the Flush most recently handed out instead of a refused message;
    /// 0 = none. Read (and cleared) by the connection loop when it sees that Flush.
    refused: AtomicU8,
}

impl GuardShared {
    pub fn set_auth(&self, phase: AuthPhase) {
        self.auth.store(phase as u8, Ordering::Release);
    }

    pub fn auth(&self) -> AuthPhase {
        match self.auth.load(Ordering::Acquire) {
            1 => AuthPhase::Sasl,
            2 => AuthPhase::Done,
            _ => AuthPhase::None,
        }
    }

    /// If the Flush just received stands for a refused message, which one.
    pub fn take_refusal(&self) -> Option<Refusal> {
        match self.refused.swap(0, Ordering::AcqRel) {
            1 => Some(Refusal::FunctionCall),
            2 => Some(Refusal::InvalidUtf8 { extended: false }),
            3 => Some(Refusal::InvalidUtf8 { extended: true }),
            _ => None,
        }
    }

    fn set_refusal(&self, refusal: Refusal) {
        let code = match refusal {
            Refusal::FunctionCall => 1,
            Refusal::InvalidUtf8 { extended: false } => 2,
            Refusal::InvalidUtf8 { extended: true } => 3,
        };
        self.refused.store(code, Ordering::Release);
    }
}

/// Where the connection is in its message sequence (guard-local).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    StartupPacket,
    /// After the startup packet; `sasl_first_seen` = the SASLInitialResponse went through.
    Typed {
        sasl_first_seen: bool,
    },
    /// After a CancelRequest.
    Closed,
}

/// An `AsyncRead + AsyncWrite` wrapper that only lets validated frontend messages through.
pub struct FrameGuard<IO> {
    io: IO,
    /// Bytes read from `io` and not yet validated.
    input: BytesMut,
    /// Validated bytes not yet handed out.
    ready: Bytes,
    stage: Stage,
    limits: Limits,
    shared: Arc<GuardShared>,
    violation: Option<FrameViolation>,
}

impl<IO> FrameGuard<IO> {
    /// `buffered`: bytes already read from the client during TLS negotiation. Over TLS these
    /// were received before the handshake, in plain text, so any such byte is a violation
    /// (the CVE-2021-23214 injection PostgreSQL also refuses).
    pub fn new(
        io: IO,
        buffered: BytesMut,
        tls: bool,
        limits: Limits,
        shared: Arc<GuardShared>,
    ) -> Self {
        let violation =
            (tls && !buffered.is_empty()).then(|| FrameViolation::UnencryptedAfterTls {
                bytes: buffered.len(),
            });
        FrameGuard {
            io,
            input: buffered,
            ready: Bytes::new(),
            stage: Stage::StartupPacket,
            limits,
            shared,
            violation,
        }
    }

    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    fn expect(&self) -> Expect {
        match self.stage {
            Stage::StartupPacket => Expect::StartupPacket,
            Stage::Closed => Expect::Closed,
            Stage::Typed { sasl_first_seen } => match self.shared.auth() {
                AuthPhase::Done => Expect::Session,
                AuthPhase::None => Expect::Auth(AuthExpect::Nothing),
                AuthPhase::Sasl if sasl_first_seen => Expect::Auth(AuthExpect::SaslResponse),
                AuthPhase::Sasl => Expect::Auth(AuthExpect::SaslInitialResponse),
            },
        }
    }

    /// Validate the next message in `input` and move it to `ready`. `Ok(false)` = incomplete.
    fn advance(&mut self) -> Result<bool, FrameViolation> {
        let expect = self.expect();
        let Some(frame) = frame::next_frame(&self.input, expect, &self.limits)? else {
            return Ok(false);
        };
        let bytes = self.input.split_to(frame.len).freeze();
        if self.input.is_empty() && self.input.capacity() > INPUT_RETAINED_BYTES_MAX {
            self.input = BytesMut::new();
        }
        self.ready = match frame.kind {
            FrameKind::Refused(refusal) => {
                self.shared.set_refusal(refusal);
                Bytes::from_static(FLUSH_MESSAGE)
            }
            FrameKind::Startup | FrameKind::CancelRequest | FrameKind::Typed(_) => bytes,
        };
        self.stage = match (self.stage, frame.kind, expect) {
            (_, FrameKind::CancelRequest, _) => Stage::Closed,
            (Stage::StartupPacket, _, _) => Stage::Typed {
                sasl_first_seen: false,
            },
            (_, _, Expect::Auth(AuthExpect::SaslInitialResponse)) => Stage::Typed {
                sasl_first_seen: true,
            },
            (stage, _, _) => stage,
        };
        Ok(true)
    }
}

fn violation_error(v: &FrameViolation) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, v.clone())
}

/// The frame violation carried by an I/O error from a [`FrameGuard`], if it is one.
pub fn violation_of(err: &io::Error) -> Option<&FrameViolation> {
    err.get_ref()?.downcast_ref::<FrameViolation>()
}

impl<IO: AsyncRead + Unpin> AsyncRead for FrameGuard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if let Some(v) = &this.violation {
                return Poll::Ready(Err(violation_error(v)));
            }
            match this.advance() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(v) => {
                    tracing::debug!(violation = %v, "rejected frontend message");
                    this.violation = Some(v);
                    continue;
                }
            }
            // Need more input for the current message.
            this.input.reserve(READ_CHUNK_BYTES);
            let n = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut this.io),
                cx,
                &mut this.input
            ))?;
            if n == 0 {
                // EOF; a partial message at the end is dropped like PostgreSQL's
                // "unexpected EOF on client connection".
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for FrameGuard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn startup() -> Vec<u8> {
        let mut body = 196_608i32.to_be_bytes().to_vec();
        body.extend(b"user\0u\0\0");
        let mut p = (body.len() as i32 + 4).to_be_bytes().to_vec();
        p.extend(body);
        p
    }

    fn guard(
        input: Vec<u8>,
        buffered: &[u8],
        tls: bool,
    ) -> (FrameGuard<&'static [u8]>, Arc<GuardShared>) {
        let shared = Arc::new(GuardShared::default());
        let io: &'static [u8] = Box::leak(input.into_boxed_slice());
        let g = FrameGuard::new(
            io,
            BytesMut::from(buffered),
            tls,
            Limits::default(),
            shared.clone(),
        );
        (g, shared)
    }

    async fn read_some(g: &mut FrameGuard<&'static [u8]>) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = g.read(&mut buf).await?;
        buf.truncate(n);
        Ok(buf)
    }

    #[tokio::test]
    async fn guard_releases_one_message_per_read() {
        let mut input = startup();
        input.extend(b"S\0\0\0\x04");
        input.extend(b"Q\0\0\0\x06x\0");
        // the startup packet arrives partly pre-buffered by TLS negotiation
        let (mut g, shared) = guard(input[3..].to_vec(), &input[..3], false);
        assert_eq!(read_some(&mut g).await.unwrap(), startup());
        shared.set_auth(AuthPhase::Done);
        assert_eq!(read_some(&mut g).await.unwrap(), b"S\0\0\0\x04");
        assert_eq!(read_some(&mut g).await.unwrap(), b"Q\0\0\0\x06x\0");
        assert_eq!(read_some(&mut g).await.unwrap(), b"", "EOF");
    }

    #[tokio::test]
    async fn guard_applies_phase_set_between_messages() {
        let mut input = startup();
        input.extend(b"Q\0\0\0\x06x\0");
        let (mut g, _shared) = guard(input, &[], false);
        read_some(&mut g).await.unwrap();
        // authentication never completed: a query is a violation
        let err = read_some(&mut g).await.unwrap_err();
        assert_eq!(
            violation_of(&err),
            Some(&FrameViolation::UnexpectedDuringAuth {
                tag: frame::MessageType(b'Q')
            })
        );
        // and it stays failed
        assert!(violation_of(&read_some(&mut g).await.unwrap_err()).is_some());
    }

    #[tokio::test]
    async fn guard_substitutes_flush_for_refused_message() {
        let mut input = startup();
        input.extend(b"Q\0\0\0\x06\xff\0");
        let (mut g, shared) = guard(input, &[], false);
        read_some(&mut g).await.unwrap();
        shared.set_auth(AuthPhase::Done);
        assert_eq!(read_some(&mut g).await.unwrap(), FLUSH_MESSAGE);
        assert_eq!(
            shared.take_refusal(),
            Some(Refusal::InvalidUtf8 { extended: false })
        );
        assert_eq!(shared.take_refusal(), None);
    }

    #[tokio::test]
    async fn plaintext_bytes_buffered_before_tls_are_a_violation() {
        let (mut g, _) = guard(startup(), b"Q\0\0\0\x05\0", true);
        let err = read_some(&mut g).await.unwrap_err();
        assert_eq!(
            violation_of(&err),
            Some(&FrameViolation::UnencryptedAfterTls { bytes: 6 })
        );
        // without TLS the same bytes are simply the start of the stream
        let (mut g, _) = guard(startup()[4..].to_vec(), &startup()[..4], false);
        assert_eq!(read_some(&mut g).await.unwrap(), startup());
    }

    #[tokio::test]
    async fn bad_length_is_rejected_without_waiting_for_the_body() {
        let mut input = startup();
        input.extend(b"Q\x7f\xff\xff\xff");
        let (mut g, shared) = guard(input, &[], false);
        read_some(&mut g).await.unwrap();
        shared.set_auth(AuthPhase::Done);
        let err = read_some(&mut g).await.unwrap_err();
        assert!(matches!(
            violation_of(&err),
            Some(FrameViolation::LengthTooLarge { .. })
        ));
    }
}

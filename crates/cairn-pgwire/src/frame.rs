//! The frontend message grammar: splits the client's byte stream into messages and checks
//! each complete message against the protocol's message formats before anything decodes it.
//!
//! **Role**: [`crate::guard::FrameGuard`] calls [`next_frame`] on the bytes it read from the
//! socket and releases a message to pgwire's decoder only once it passed. pgwire 0.42.1's
//! frontend decoders read with unchecked `bytes::Buf::get_*` from the whole connection buffer,
//! not from the message, so a short or inconsistent message panics the connection task (a
//! process abort under `panic = "abort"`) or desynchronises the framing. Everything that
//! reaches pgwire has passed this module. The fuzz target `pgwire_frames` checks that pgwire
//! decodes every accepted message without panicking and consumes exactly its bytes.
//!
//! # Format (PostgreSQL "Message Formats", protocol 3.0/3.2; integers big-endian)
//! ```text
//! startup packet:  [len i32][code i32][body]           len counts itself, no type byte
//!   StartupMessage   code = 3 << 16 | minor; body = (name\0 value\0)* \0
//!   CancelRequest    code = 80877102;        body = pid i32, key (4..=256 bytes)
//! typed message:   [type u8][len i32][body]            len counts itself, not the type byte
//! ```
//! Example: `Sync` is the five bytes `53 00 00 00 04`; `Query "SELECT 1"` is
//! `51 00 00 00 0d` followed by `SELECT 1\0` (test `worked_example_bytes`).
//! `docs/format/pgwire.md` mirrors this section and lists every message body.
//!
//! # Invariants
//! 1. An accepted frame's length field is >= 4 (>= 8 for a startup packet) and within the
//!    limit of its type and phase. Tests `length_field_below_four_or_negative`,
//!    `length_above_limits`, `startup_packet_bad_layout_or_length`.
//! 2. Every count, length and C string inside an accepted body lies within the body, and the
//!    body has no bytes after its last field. Tests `bind_*`, `parse_*`, ...; fuzz target.
//! 3. A message type that is unknown, or not allowed in the current phase, is rejected as soon
//!    as its type byte arrives, before any body is buffered. Test `unknown_type_rejected_early`.
//! 4. Counts are unsigned 16-bit, as PostgreSQL reads them (libpq allows 65535 parameters);
//!    a value length may be -1 (NULL) but no other negative number. Test
//!    `bind_negative_value_length_other_than_null_is_rejected`.
//!
//! # Concurrency
//! Pure functions over byte slices; no state.

use std::fmt;

/// Maximum length field of a startup packet (PostgreSQL's `MAX_STARTUP_PACKET_LENGTH`).
pub const STARTUP_PACKET_BYTES_MAX: usize = 10_000;
/// Maximum length field of any message before authentication completed, and of the small
/// message types afterwards (PostgreSQL's `PQ_SMALL_MESSAGE_LIMIT`).
pub const SMALL_MESSAGE_BYTES_MAX: usize = 10_000;
/// Maximum length field of Query, Parse, Bind, CopyData and FunctionCall after
/// authentication (PostgreSQL's `PQ_LARGE_MESSAGE_LIMIT`, 1 GiB - 2).
pub const LARGE_MESSAGE_BYTES_MAX: usize = 0x3fff_ffff - 1;

/// Request codes of the untyped packets.
const CANCEL_REQUEST_CODE: i32 = 80_877_102;
const SSL_REQUEST_CODE: i32 = 80_877_103;
const GSSENC_REQUEST_CODE: i32 = 80_877_104;
/// CancelRequest: length, code, pid, then a secret key of 4 to 256 bytes (protocol 3.2).
const CANCEL_REQUEST_BYTES_MIN: usize = 16;
const CANCEL_REQUEST_BYTES_MAX: usize = 12 + 256;

/// What the next frame on the connection must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The untyped first packet after TLS negotiation: StartupMessage or CancelRequest.
    StartupPacket,
    /// Typed messages while authentication has not completed.
    Auth(AuthExpect),
    /// Typed messages of an authenticated connection.
    Session,
    /// Nothing more: a CancelRequest connection carries exactly one packet.
    Closed,
}

/// Which password-family ('p') message the running authentication exchange expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthExpect {
    /// No exchange is running: only Terminate is allowed.
    Nothing,
    SaslInitialResponse,
    SaslResponse,
    /// Cleartext or MD5 password.
    Password,
}

/// Limits that depend on configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Limit for the large message types, at most [`LARGE_MESSAGE_BYTES_MAX`].
    pub large_message_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            large_message_bytes_max: LARGE_MESSAGE_BYTES_MAX,
        }
    }
}

/// A complete message that passed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    /// Total bytes on the wire: type byte (if any), length field and body.
    pub len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    Startup,
    CancelRequest,
    /// A typed message for pgwire; the byte is its type.
    Typed(u8),
    /// A well-formed message pgwire cannot handle or must not see: the guard withholds it and
    /// the connection answers it with a (non-fatal) error.
    Refused(Refusal),
}

/// Why a well-formed message is withheld from pgwire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// FunctionCall ('F'): the fast-path interface is not supported (0A000).
    FunctionCall,
    /// A statement, portal or query text that is not valid UTF-8 (22021). pgwire would
    /// replace the bad bytes silently. `extended` = the message belongs to the extended
    /// protocol, so the error makes the server skip messages until Sync.
    InvalidUtf8 { extended: bool },
}

/// A message type byte, shown as a character when printable.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MessageType(pub u8);

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", self.0 as char)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Debug for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A frame the grammar rejects. The connection gets FATAL with [`FrameViolation::sqlstate`]
/// and is closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameViolation {
    #[error("message type {tag} is unknown")]
    UnknownType { tag: MessageType },
    #[error("message type {tag} is not allowed before authentication completed")]
    UnexpectedDuringAuth { tag: MessageType },
    #[error("unexpected password message")]
    UnexpectedPassword,
    #[error("message type {tag} has invalid length {len}")]
    LengthTooSmall { tag: MessageType, len: i32 },
    #[error("message type {tag} of {len} bytes exceeds the limit of {max} bytes")]
    LengthTooLarge {
        tag: MessageType,
        len: usize,
        max: usize,
    },
    #[error("invalid length {len} of startup packet")]
    StartupLength { len: i32 },
    #[error("invalid startup packet layout: expected terminator as last byte")]
    StartupLayout,
    #[error("unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.2")]
    UnsupportedProtocol { major: u16, minor: u16 },
    #[error("request code {code} after the connection was already negotiated")]
    NegotiationRepeated { code: i32 },
    #[error("invalid length {len} of cancel request")]
    CancelLength { len: usize },
    #[error("data after a cancel request")]
    AfterCancel,
    #[error("received unencrypted data after SSL request ({bytes} bytes)")]
    UnencryptedAfterTls { bytes: usize },
    #[error("message type {tag}: {field} runs past the end of the message")]
    Truncated {
        tag: MessageType,
        field: &'static str,
    },
    #[error("message type {tag}: {extra} bytes after the last field")]
    TrailingBytes { tag: MessageType, extra: usize },
    #[error("message type {tag}: invalid {field} {value}")]
    NegativeLength {
        tag: MessageType,
        field: &'static str,
        value: i32,
    },
    #[error("message type {tag}: unsupported format code {code}")]
    FormatCode { tag: MessageType, code: i16 },
    #[error("message type {tag}: target {kind} is neither 'S' nor 'P'")]
    TargetKind { tag: MessageType, kind: MessageType },
    #[error("bind message has {formats} parameter formats but {params} parameters")]
    FormatCount { formats: u16, params: u16 },
}

impl FrameViolation {
    /// SQLSTATE of the FATAL error: 0A000 for an unsupported protocol version, 08P01 for
    /// everything else.
    pub fn sqlstate(&self) -> crate::session::SqlState {
        match self {
            FrameViolation::UnsupportedProtocol { .. } => {
                crate::session::SqlState::FEATURE_NOT_SUPPORTED
            }
            _ => crate::session::SqlState::PROTOCOL_VIOLATION,
        }
    }
}

fn be_i32(bytes: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

/// Look for the next complete frame at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, and rejects a frame as soon as its type
/// or length field shows it is invalid, so an invalid frame never makes the caller buffer
/// its claimed body.
pub fn next_frame(
    buf: &[u8],
    expect: Expect,
    limits: &Limits,
) -> Result<Option<Frame>, FrameViolation> {
    match expect {
        Expect::Closed if buf.is_empty() => Ok(None),
        Expect::Closed => Err(FrameViolation::AfterCancel),
        Expect::StartupPacket => startup_packet(buf),
        Expect::Auth(_) | Expect::Session => typed_message(buf, expect, limits),
    }
}

fn startup_packet(buf: &[u8]) -> Result<Option<Frame>, FrameViolation> {
    let Some(len) = be_i32(buf) else {
        return Ok(None);
    };
    let len_bytes = usize::try_from(len).map_err(|_| FrameViolation::StartupLength { len })?;
    if !(8..=STARTUP_PACKET_BYTES_MAX).contains(&len_bytes) {
        return Err(FrameViolation::StartupLength { len });
    }
    let Some(packet) = buf.get(..len_bytes) else {
        return Ok(None);
    };
    let code =
        be_i32(packet.get(4..).unwrap_or_default()).ok_or(FrameViolation::StartupLength { len })?;
    let body = packet.get(8..).unwrap_or_default();
    let kind = match code {
        CANCEL_REQUEST_CODE => {
            if !(CANCEL_REQUEST_BYTES_MIN..=CANCEL_REQUEST_BYTES_MAX).contains(&len_bytes) {
                return Err(FrameViolation::CancelLength { len: len_bytes });
            }
            FrameKind::CancelRequest
        }
        SSL_REQUEST_CODE | GSSENC_REQUEST_CODE => {
            return Err(FrameViolation::NegotiationRepeated { code })
        }
        _ => {
            let major = (code as u32 >> 16) as u16;
            let minor = (code as u32 & 0xffff) as u16;
            if major != 3 {
                return Err(FrameViolation::UnsupportedProtocol { major, minor });
            }
            startup_parameters(body)?;
            FrameKind::Startup
        }
    };
    Ok(Some(Frame {
        kind,
        len: len_bytes,
    }))
}

/// `(name\0 value\0)* \0`, the terminator being the last byte.
fn startup_parameters(mut body: &[u8]) -> Result<(), FrameViolation> {
    loop {
        let end = body
            .iter()
            .position(|b| *b == 0)
            .ok_or(FrameViolation::StartupLayout)?;
        let rest = body.get(end + 1..).unwrap_or_default();
        if end == 0 {
            // the empty name terminates the list
            return if rest.is_empty() {
                Ok(())
            } else {
                Err(FrameViolation::StartupLayout)
            };
        }
        let value_end = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or(FrameViolation::StartupLayout)?;
        body = rest.get(value_end + 1..).unwrap_or_default();
    }
}

/// Largest length field a typed message may carry in this phase; `None` = type not allowed.
fn length_max(tag: u8, expect: Expect, limits: &Limits) -> Result<usize, FrameViolation> {
    let tag_t = MessageType(tag);
    match expect {
        Expect::Auth(auth) => match (tag, auth) {
            (b'p', AuthExpect::Nothing) => Err(FrameViolation::UnexpectedPassword),
            (b'p' | b'X', _) => Ok(SMALL_MESSAGE_BYTES_MAX),
            _ => Err(FrameViolation::UnexpectedDuringAuth { tag: tag_t }),
        },
        _ => match tag {
            b'Q' | b'P' | b'B' | b'd' | b'F' => Ok(limits.large_message_bytes_max),
            b'D' | b'E' | b'S' | b'H' | b'C' | b'X' | b'c' | b'f' => Ok(SMALL_MESSAGE_BYTES_MAX),
            b'p' => Err(FrameViolation::UnexpectedPassword),
            _ => Err(FrameViolation::UnknownType { tag: tag_t }),
        },
    }
}

fn typed_message(
    buf: &[u8],
    expect: Expect,
    limits: &Limits,
) -> Result<Option<Frame>, FrameViolation> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    let max = length_max(tag, expect, limits)?;
    let Some(len) = be_i32(buf.get(1..).unwrap_or_default()) else {
        return Ok(None);
    };
    let tag_t = MessageType(tag);
    let len_bytes = match usize::try_from(len) {
        Ok(n) if n >= 4 => n,
        _ => return Err(FrameViolation::LengthTooSmall { tag: tag_t, len }),
    };
    if len_bytes > max {
        return Err(FrameViolation::LengthTooLarge {
            tag: tag_t,
            len: len_bytes,
            max,
        });
    }
    let Some(body) = buf.get(5..1 + len_bytes) else {
        return Ok(None);
    };
    let kind = check_body(tag, body, expect)?;
    Ok(Some(Frame {
        kind,
        len: 1 + len_bytes,
    }))
}

/// Bounds-checked cursor over one message body.
struct Body<'a> {
    tag: MessageType,
    rest: &'a [u8],
}

impl<'a> Body<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FrameViolation> {
        if n > self.rest.len() {
            return Err(FrameViolation::Truncated {
                tag: self.tag,
                field,
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, FrameViolation> {
        Ok(self.take(1, field)?.first().copied().unwrap_or_default())
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, FrameViolation> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([
            b.first().copied().unwrap_or_default(),
            b.get(1).copied().unwrap_or_default(),
        ]))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, FrameViolation> {
        be_i32(self.take(4, field)?).ok_or(FrameViolation::Truncated {
            tag: self.tag,
            field,
        })
    }

    /// A NUL-terminated string; returns it without the NUL.
    fn cstring(&mut self, field: &'static str) -> Result<&'a [u8], FrameViolation> {
        let end = self
            .rest
            .iter()
            .position(|b| *b == 0)
            .ok_or(FrameViolation::Truncated {
                tag: self.tag,
                field,
            })?;
        let s = self.take(end + 1, field)?;
        Ok(s.get(..end).unwrap_or_default())
    }

    /// A format code: 0 (text) or 1 (binary).
    fn format_code(&mut self, field: &'static str) -> Result<(), FrameViolation> {
        let b = self.take(2, field)?;
        let code = i16::from_be_bytes([
            b.first().copied().unwrap_or_default(),
            b.get(1).copied().unwrap_or_default(),
        ]);
        if code == 0 || code == 1 {
            Ok(())
        } else {
            Err(FrameViolation::FormatCode {
                tag: self.tag,
                code,
            })
        }
    }

    /// `count` values, each `len i32` then `len` bytes, or `-1` for NULL.
    fn values(&mut self, count: u16, field: &'static str) -> Result<(), FrameViolation> {
        for _ in 0..count {
            let len = self.i32(field)?;
            if len == -1 {
                continue;
            }
            let n = usize::try_from(len).map_err(|_| FrameViolation::NegativeLength {
                tag: self.tag,
                field,
                value: len,
            })?;
            self.take(n, field)?;
        }
        Ok(())
    }

    fn target_kind(&mut self) -> Result<(), FrameViolation> {
        let kind = self.u8("target kind")?;
        if kind == b'S' || kind == b'P' {
            Ok(())
        } else {
            Err(FrameViolation::TargetKind {
                tag: self.tag,
                kind: MessageType(kind),
            })
        }
    }

    fn end(&self) -> Result<(), FrameViolation> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(FrameViolation::TrailingBytes {
                tag: self.tag,
                extra: self.rest.len(),
            })
        }
    }
}

/// Checks `body` of message `tag` (already allowed by [`length_max`]).
fn check_body(tag: u8, body: &[u8], expect: Expect) -> Result<FrameKind, FrameViolation> {
    let mut b = Body {
        tag: MessageType(tag),
        rest: body,
    };
    // Texts pgwire would decode lossily; all must be UTF-8 for the message to pass as is.
    let mut texts: [&[u8]; 2] = [&[], &[]];
    let mut extended = true;
    match (tag, expect) {
        (b'p', Expect::Auth(AuthExpect::SaslInitialResponse)) => {
            b.cstring("SASL mechanism")?;
            b.values(1, "SASL data")?;
        }
        (b'p', Expect::Auth(AuthExpect::Password)) => {
            b.cstring("password")?;
        }
        (b'p', _) | (b'd', _) => b.rest = &[],
        (b'Q', _) => {
            texts[0] = b.cstring("query")?;
            extended = false;
        }
        (b'P', _) => {
            texts[0] = b.cstring("statement name")?;
            texts[1] = b.cstring("query")?;
            let n = b.u16("parameter type count")?;
            b.take(4 * usize::from(n), "parameter types")?;
        }
        (b'B', _) => {
            texts[0] = b.cstring("portal name")?;
            texts[1] = b.cstring("statement name")?;
            let formats = b.u16("parameter format count")?;
            for _ in 0..formats {
                b.format_code("parameter format")?;
            }
            let params = b.u16("parameter count")?;
            b.values(params, "parameter value")?;
            let results = b.u16("result format count")?;
            for _ in 0..results {
                b.format_code("result format")?;
            }
            if formats > 1 && formats != params {
                return Err(FrameViolation::FormatCount { formats, params });
            }
        }
        (b'D' | b'C', _) => {
            b.target_kind()?;
            texts[0] = b.cstring("name")?;
        }
        (b'E', _) => {
            texts[0] = b.cstring("portal name")?;
            b.i32("row limit")?;
        }
        (b'f', _) => {
            b.cstring("error message")?;
        }
        (b'F', _) => {
            b.i32("function oid")?;
            let formats = b.u16("argument format count")?;
            for _ in 0..formats {
                b.format_code("argument format")?;
            }
            let args = b.u16("argument count")?;
            b.values(args, "argument")?;
            b.format_code("result format")?;
            b.end()?;
            return Ok(FrameKind::Refused(Refusal::FunctionCall));
        }
        // Sync, Flush, Terminate and CopyDone have no body.
        _ => {}
    }
    b.end()?;
    if texts.iter().any(|t| std::str::from_utf8(t).is_err()) {
        return Ok(FrameKind::Refused(Refusal::InvalidUtf8 { extended }));
    }
    Ok(FrameKind::Typed(tag))
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;

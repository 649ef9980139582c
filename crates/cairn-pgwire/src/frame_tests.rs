//! Unit tests of the frontend message grammar: for each message type, well-formed messages
//! pass with their exact length and malformed ones are rejected with the matching violation.

use super::*;

const S: Expect = Expect::Session;

fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn check(expect: Expect, bytes: &[u8]) -> Result<Option<Frame>, FrameViolation> {
    next_frame(bytes, expect, &Limits::default())
}

/// A complete, valid message: accepted as `kind` with its full length, and every strict
/// prefix asks for more bytes (never accepted, never rejected).
fn accepted(expect: Expect, bytes: &[u8], kind: FrameKind) {
    assert_eq!(
        check(expect, bytes),
        Ok(Some(Frame {
            kind,
            len: bytes.len()
        })),
        "{bytes:?}"
    );
    for cut in 0..bytes.len() {
        assert_eq!(
            check(expect, &bytes[..cut]),
            Ok(None),
            "prefix {cut} of {bytes:?}"
        );
    }
    // a following message does not change the verdict
    let mut two = bytes.to_vec();
    two.extend_from_slice(&msg(b'S', &[]));
    assert_eq!(
        check(expect, &two),
        Ok(Some(Frame {
            kind,
            len: bytes.len()
        }))
    );
}

fn rejected(expect: Expect, bytes: &[u8]) -> FrameViolation {
    match check(expect, bytes) {
        Err(v) => v,
        other => panic!("expected a violation for {bytes:?}, got {other:?}"),
    }
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn startup(params: &[(&str, &str)], code: i32) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend(cstr(k));
        body.extend(cstr(v));
    }
    body.push(0);
    let mut p = (body.len() as i32 + 4).to_be_bytes().to_vec();
    p.extend(body);
    p
}

struct BindSpec<'a> {
    formats: &'a [i16],
    params: &'a [Option<&'a [u8]>],
    results: &'a [i16],
}

fn bind_body(spec: &BindSpec<'_>) -> Vec<u8> {
    let mut b = cstr("portal");
    b.extend(cstr("stmt"));
    b.extend((spec.formats.len() as u16).to_be_bytes());
    for f in spec.formats {
        b.extend(f.to_be_bytes());
    }
    b.extend((spec.params.len() as u16).to_be_bytes());
    for p in spec.params {
        match p {
            None => b.extend((-1i32).to_be_bytes()),
            Some(v) => {
                b.extend((v.len() as i32).to_be_bytes());
                b.extend_from_slice(v);
            }
        }
    }
    b.extend((spec.results.len() as u16).to_be_bytes());
    for f in spec.results {
        b.extend(f.to_be_bytes());
    }
    b
}

#[test]
fn worked_example_bytes() {
    assert_eq!(msg(b'S', &[]), [0x53, 0, 0, 0, 4]);
    let q = msg(b'Q', &cstr("SELECT 1"));
    assert_eq!(&q[..5], &[0x51, 0, 0, 0, 0x0d]);
    accepted(S, &q, FrameKind::Typed(b'Q'));
}

#[test]
fn startup_packet_good() {
    let p = startup(&[("user", "alice"), ("database", "db")], 196_608);
    accepted(Expect::StartupPacket, &p, FrameKind::Startup);
    // protocol 3.2 and a minor version the server will negotiate down
    accepted(
        Expect::StartupPacket,
        &startup(&[("user", "a")], 196_610),
        FrameKind::Startup,
    );
    accepted(
        Expect::StartupPacket,
        &startup(&[], 3 << 16 | 9999),
        FrameKind::Startup,
    );
    // an empty value is allowed
    accepted(
        Expect::StartupPacket,
        &startup(&[("options", "")], 196_608),
        FrameKind::Startup,
    );
}

#[test]
fn startup_packet_bad_layout_or_length() {
    // no terminator at all: length 8, only the version
    let mut p = 8i32.to_be_bytes().to_vec();
    p.extend(196_608i32.to_be_bytes());
    assert_eq!(
        rejected(Expect::StartupPacket, &p),
        FrameViolation::StartupLayout
    );
    // bytes after the terminator
    let mut p = startup(&[("user", "a")], 196_608);
    p.push(b'x');
    let len = p.len() as i32;
    p[..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(
        rejected(Expect::StartupPacket, &p),
        FrameViolation::StartupLayout
    );
    // a name without value
    let mut body = 196_608i32.to_be_bytes().to_vec();
    body.extend(b"user\0");
    let mut p = (body.len() as i32 + 4).to_be_bytes().to_vec();
    p.extend(body);
    assert_eq!(
        rejected(Expect::StartupPacket, &p),
        FrameViolation::StartupLayout
    );
    // lengths: below 8, negative, above the limit (rejected from the header alone)
    for len in [0i32, 4, 7, -1, i32::MIN, 10_001, i32::MAX] {
        assert_eq!(
            rejected(Expect::StartupPacket, &len.to_be_bytes()),
            FrameViolation::StartupLength { len }
        );
    }
    // HTTP instead of PostgreSQL
    assert!(matches!(
        rejected(Expect::StartupPacket, b"GET / HTTP/1.1\r\n"),
        FrameViolation::StartupLength { .. }
    ));
}

#[test]
fn startup_packet_protocol_and_negotiation_codes() {
    let v = rejected(Expect::StartupPacket, &startup(&[], 2 << 16));
    assert_eq!(
        v,
        FrameViolation::UnsupportedProtocol { major: 2, minor: 0 }
    );
    assert_eq!(
        v.sqlstate(),
        crate::session::SqlState::FEATURE_NOT_SUPPORTED
    );
    for code in [SSL_REQUEST_CODE, GSSENC_REQUEST_CODE] {
        let mut p = 8i32.to_be_bytes().to_vec();
        p.extend(code.to_be_bytes());
        assert_eq!(
            rejected(Expect::StartupPacket, &p),
            FrameViolation::NegotiationRepeated { code }
        );
    }
}

#[test]
fn cancel_request_lengths() {
    let cancel = |key_len: usize| {
        let mut p = ((12 + key_len) as i32).to_be_bytes().to_vec();
        p.extend(CANCEL_REQUEST_CODE.to_be_bytes());
        p.extend(1234i32.to_be_bytes());
        p.extend(vec![7u8; key_len]);
        p
    };
    accepted(Expect::StartupPacket, &cancel(4), FrameKind::CancelRequest);
    accepted(Expect::StartupPacket, &cancel(32), FrameKind::CancelRequest);
    accepted(
        Expect::StartupPacket,
        &cancel(256),
        FrameKind::CancelRequest,
    );
    for bad in [0usize, 3, 257] {
        assert_eq!(
            rejected(Expect::StartupPacket, &cancel(bad)),
            FrameViolation::CancelLength { len: 12 + bad }
        );
    }
    assert_eq!(check(Expect::Closed, &[]), Ok(None));
    assert_eq!(rejected(Expect::Closed, b"Q"), FrameViolation::AfterCancel);
}

#[test]
fn length_field_below_four_or_negative() {
    for len in [0i32, 2, 3, -1, -2, i32::MIN] {
        let mut m = vec![b'B'];
        m.extend(len.to_be_bytes());
        assert_eq!(
            rejected(S, &m),
            FrameViolation::LengthTooSmall {
                tag: MessageType(b'B'),
                len
            }
        );
    }
}

#[test]
fn length_above_limits() {
    // small types: 10,000
    let mut m = vec![b'E'];
    m.extend(10_001i32.to_be_bytes());
    assert!(matches!(
        rejected(S, &m),
        FrameViolation::LengthTooLarge { max: 10_000, .. }
    ));
    // large types: 1 GiB - 2, or the configured lower limit
    let mut m = vec![b'Q'];
    m.extend(0x3fff_ffffi32.to_be_bytes());
    assert!(matches!(
        rejected(S, &m),
        FrameViolation::LengthTooLarge { .. }
    ));
    let mut m = vec![b'Q'];
    m.extend(20_000i32.to_be_bytes());
    assert_eq!(
        check(S, &m),
        Ok(None),
        "20 kB query is fine after authentication"
    );
    let small = Limits {
        large_message_bytes_max: 1000,
    };
    assert!(matches!(
        next_frame(&m, S, &small),
        Err(FrameViolation::LengthTooLarge { max: 1000, .. })
    ));
    // before authentication everything is small
    let mut m = vec![b'p'];
    m.extend(20_000i32.to_be_bytes());
    assert!(matches!(
        rejected(Expect::Auth(AuthExpect::SaslResponse), &m),
        FrameViolation::LengthTooLarge { max: 10_000, .. }
    ));
}

#[test]
fn unknown_type_rejected_early() {
    for tag in [0u8, 1, b'A', b'Z', b'p', 0xff] {
        let v = rejected(S, &[tag]);
        assert!(
            matches!(
                v,
                FrameViolation::UnknownType { .. } | FrameViolation::UnexpectedPassword
            ),
            "{tag}: {v:?}"
        );
    }
    assert_eq!(
        rejected(Expect::Auth(AuthExpect::SaslInitialResponse), b"Q"),
        FrameViolation::UnexpectedDuringAuth {
            tag: MessageType(b'Q')
        }
    );
    assert_eq!(
        rejected(Expect::Auth(AuthExpect::Nothing), b"p"),
        FrameViolation::UnexpectedPassword
    );
    accepted(
        Expect::Auth(AuthExpect::Nothing),
        &msg(b'X', &[]),
        FrameKind::Typed(b'X'),
    );
}

#[test]
fn query_good_and_bad() {
    accepted(S, &msg(b'Q', &cstr("")), FrameKind::Typed(b'Q'));
    accepted(
        S,
        &msg(b'Q', &cstr("SELECT 1; SELECT 2")),
        FrameKind::Typed(b'Q'),
    );
    // no terminator, NUL inside, nothing at all
    assert!(matches!(
        rejected(S, &msg(b'Q', b"SELECT 1")),
        FrameViolation::Truncated { .. }
    ));
    assert!(matches!(
        rejected(S, &msg(b'Q', b"SELECT 1\0x\0")),
        FrameViolation::TrailingBytes { extra: 2, .. }
    ));
    assert!(matches!(
        rejected(S, &msg(b'Q', b"")),
        FrameViolation::Truncated { .. }
    ));
    // invalid UTF-8 is withheld, not fatal
    accepted(
        S,
        &msg(b'Q', b"SELECT '\xff'\0"),
        FrameKind::Refused(Refusal::InvalidUtf8 { extended: false }),
    );
}

#[test]
fn parse_good_and_bad() {
    let parse = |oids: &[u32], count: u16| {
        let mut b = cstr("s1");
        b.extend(cstr("SELECT $1"));
        b.extend(count.to_be_bytes());
        for o in oids {
            b.extend(o.to_be_bytes());
        }
        msg(b'P', &b)
    };
    accepted(S, &parse(&[], 0), FrameKind::Typed(b'P'));
    accepted(
        S,
        &parse(&[23, 0, 4_000_000_000], 3),
        FrameKind::Typed(b'P'),
    );
    assert!(matches!(
        rejected(S, &parse(&[23], 2)),
        FrameViolation::Truncated { .. }
    ));
    assert!(matches!(
        rejected(S, &parse(&[23, 25], 1)),
        FrameViolation::TrailingBytes { extra: 4, .. }
    ));
    // "negative" (>= 0x8000) counts are large unsigned counts that must still fit
    assert!(matches!(
        rejected(S, &parse(&[], 0xffff)),
        FrameViolation::Truncated { .. }
    ));
    // query without terminator / missing count
    assert!(matches!(
        rejected(S, &msg(b'P', b"s1\0SELECT")),
        FrameViolation::Truncated { .. }
    ));
    assert!(matches!(
        rejected(S, &msg(b'P', b"\0\0\0")),
        FrameViolation::Truncated { .. }
    ));
    let mut b = cstr("\u{e9}");
    b[0] = 0xe9; // Latin-1 e-acute: not UTF-8
    b.extend(cstr("SELECT 1"));
    b.extend(0u16.to_be_bytes());
    accepted(
        S,
        &msg(b'P', &b),
        FrameKind::Refused(Refusal::InvalidUtf8 { extended: true }),
    );
}

#[test]
fn bind_good() {
    let cases = [
        BindSpec {
            formats: &[],
            params: &[],
            results: &[],
        },
        BindSpec {
            formats: &[1],
            params: &[Some(&42i32.to_be_bytes()), None],
            results: &[1],
        },
        BindSpec {
            formats: &[0, 1],
            params: &[Some(b"x"), Some(b"")],
            results: &[0, 1, 0],
        },
    ];
    for spec in &cases {
        accepted(S, &msg(b'B', &bind_body(spec)), FrameKind::Typed(b'B'));
    }
}

#[test]
fn bind_counts_past_the_end_are_rejected() {
    // the spike's crashing input: 5 parameter formats in 4 bytes (the second is 7)
    let m = b"B\x00\x00\x00\x0c\x00\x00\x00\x05\x00\x07\x00\x00";
    assert!(matches!(
        rejected(S, m),
        FrameViolation::FormatCode { code: 7, .. }
    ));
    let m = b"B\x00\x00\x00\x0c\x00\x00\x00\x05\x00\x01\x00\x00";
    assert!(matches!(rejected(S, m), FrameViolation::Truncated { .. }));
    // a parameter longer than what is left
    let mut b = bind_body(&BindSpec {
        formats: &[],
        params: &[Some(b"abc")],
        results: &[],
    });
    let at = b.len() - 2 - 3 - 4; // length field of the value
    b[at..at + 4].copy_from_slice(&100i32.to_be_bytes());
    assert!(matches!(
        rejected(S, &msg(b'B', &b)),
        FrameViolation::Truncated { .. }
    ));
    // result format count without codes
    let mut b = bind_body(&BindSpec {
        formats: &[],
        params: &[],
        results: &[],
    });
    let n = b.len();
    b[n - 2..].copy_from_slice(&3u16.to_be_bytes());
    assert!(matches!(
        rejected(S, &msg(b'B', &b)),
        FrameViolation::Truncated { .. }
    ));
    // the spike's length-2 Bind
    assert!(matches!(
        rejected(S, b"B\x00\x00\x00\x02"),
        FrameViolation::LengthTooSmall { .. }
    ));
}

#[test]
fn bind_negative_value_length_other_than_null_is_rejected() {
    let mut b = bind_body(&BindSpec {
        formats: &[],
        params: &[None],
        results: &[],
    });
    let at = b.len() - 2 - 4;
    b[at..at + 4].copy_from_slice(&(-2i32).to_be_bytes());
    assert_eq!(
        rejected(S, &msg(b'B', &b)),
        FrameViolation::NegativeLength {
            tag: MessageType(b'B'),
            field: "parameter value",
            value: -2
        }
    );
}

#[test]
fn bind_format_codes_and_counts() {
    let b = bind_body(&BindSpec {
        formats: &[2],
        params: &[Some(b"1")],
        results: &[],
    });
    assert!(matches!(
        rejected(S, &msg(b'B', &b)),
        FrameViolation::FormatCode { code: 2, .. }
    ));
    let b = bind_body(&BindSpec {
        formats: &[],
        params: &[],
        results: &[-1],
    });
    assert!(matches!(
        rejected(S, &msg(b'B', &b)),
        FrameViolation::FormatCode { code: -1, .. }
    ));
    let b = bind_body(&BindSpec {
        formats: &[0, 0],
        params: &[Some(b"1")],
        results: &[],
    });
    assert_eq!(
        rejected(S, &msg(b'B', &b)),
        FrameViolation::FormatCount {
            formats: 2,
            params: 1
        }
    );
    let mut b = bind_body(&BindSpec {
        formats: &[],
        params: &[],
        results: &[],
    });
    b.push(0);
    assert!(matches!(
        rejected(S, &msg(b'B', &b)),
        FrameViolation::TrailingBytes { extra: 1, .. }
    ));
}

#[test]
fn describe_and_close_good_and_bad() {
    for tag in [b'D', b'C'] {
        accepted(S, &msg(tag, b"S\0"), FrameKind::Typed(tag));
        accepted(S, &msg(tag, b"Pcursor\0"), FrameKind::Typed(tag));
        assert!(matches!(
            rejected(S, &msg(tag, b"X\0")),
            FrameViolation::TargetKind { .. }
        ));
        assert!(matches!(
            rejected(S, &msg(tag, b"S")),
            FrameViolation::Truncated { .. }
        ));
        assert!(matches!(
            rejected(S, &msg(tag, b"")),
            FrameViolation::Truncated { .. }
        ));
        assert!(matches!(
            rejected(S, &msg(tag, b"Sa\0b")),
            FrameViolation::TrailingBytes { .. }
        ));
    }
}

#[test]
fn execute_good_and_bad() {
    let exec = |name: &str, rows: i32| {
        let mut b = cstr(name);
        b.extend(rows.to_be_bytes());
        msg(b'E', &b)
    };
    accepted(S, &exec("", 0), FrameKind::Typed(b'E'));
    accepted(S, &exec("c", -1), FrameKind::Typed(b'E'));
    assert!(matches!(
        rejected(S, &msg(b'E', b"\0\0\0")),
        FrameViolation::Truncated { .. }
    ));
    assert!(matches!(
        rejected(S, &msg(b'E', b"\0\0\0\0\0\0")),
        FrameViolation::TrailingBytes { .. }
    ));
}

#[test]
fn empty_body_messages() {
    for tag in [b'S', b'H', b'c', b'X'] {
        accepted(S, &msg(tag, &[]), FrameKind::Typed(tag));
        assert!(matches!(
            rejected(S, &msg(tag, b"x")),
            FrameViolation::TrailingBytes { extra: 1, .. }
        ));
    }
}

#[test]
fn copy_messages() {
    accepted(S, &msg(b'd', b""), FrameKind::Typed(b'd'));
    accepted(
        S,
        &msg(b'd', b"1\t\xff\0anything\n"),
        FrameKind::Typed(b'd'),
    );
    accepted(
        S,
        &msg(b'f', &cstr("client gave up")),
        FrameKind::Typed(b'f'),
    );
    assert!(matches!(
        rejected(S, &msg(b'f', b"no nul")),
        FrameViolation::Truncated { .. }
    ));
}

#[test]
fn function_call_is_checked_then_refused() {
    let mut b = 1234i32.to_be_bytes().to_vec();
    b.extend(1u16.to_be_bytes());
    b.extend(1i16.to_be_bytes());
    b.extend(2u16.to_be_bytes());
    b.extend(4i32.to_be_bytes());
    b.extend(7i32.to_be_bytes());
    b.extend((-1i32).to_be_bytes());
    b.extend(0i16.to_be_bytes());
    accepted(S, &msg(b'F', &b), FrameKind::Refused(Refusal::FunctionCall));
    b.pop();
    assert!(matches!(
        rejected(S, &msg(b'F', &b)),
        FrameViolation::Truncated { .. }
    ));
}

#[test]
fn sasl_messages() {
    let initial = |data: Option<&[u8]>| {
        let mut b = cstr("SCRAM-SHA-256");
        match data {
            None => b.extend((-1i32).to_be_bytes()),
            Some(d) => {
                b.extend((d.len() as i32).to_be_bytes());
                b.extend_from_slice(d);
            }
        }
        msg(b'p', &b)
    };
    let first = Expect::Auth(AuthExpect::SaslInitialResponse);
    accepted(
        first,
        &initial(Some(b"n,,n=,r=abc")),
        FrameKind::Typed(b'p'),
    );
    accepted(first, &initial(None), FrameKind::Typed(b'p'));
    let mut short = initial(Some(b"n,,n=,r=abc"));
    short.pop();
    let len = (short.len() - 1) as i32;
    short[1..5].copy_from_slice(&len.to_be_bytes());
    assert!(matches!(
        rejected(first, &short),
        FrameViolation::Truncated { .. }
    ));
    let mut neg = cstr("SCRAM-SHA-256");
    neg.extend((-5i32).to_be_bytes());
    assert!(matches!(
        rejected(first, &msg(b'p', &neg)),
        FrameViolation::NegativeLength { .. }
    ));
    // SASLResponse is opaque
    accepted(
        Expect::Auth(AuthExpect::SaslResponse),
        &msg(b'p', b"c=biws,r=x,p=y"),
        FrameKind::Typed(b'p'),
    );
    accepted(
        Expect::Auth(AuthExpect::SaslResponse),
        &msg(b'p', b""),
        FrameKind::Typed(b'p'),
    );
    // cleartext password
    let pw = Expect::Auth(AuthExpect::Password);
    accepted(pw, &msg(b'p', &cstr("secret")), FrameKind::Typed(b'p'));
    assert!(matches!(
        rejected(pw, &msg(b'p', b"secret")),
        FrameViolation::Truncated { .. }
    ));
}

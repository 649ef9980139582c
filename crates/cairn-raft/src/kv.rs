//! A replicated key-value state machine: put, delete, compare-and-set, atomic operations, and
//! transactions confined to one range.
//!
//! This is the state machine of the KV service until the MVCC commands take over; the
//! simulator drives it. Reads do not go through the log: a leader confirms its term
//! (ReadIndex or lease), waits until it has applied that far, then reads [`get`].
//!
//! Command encoding (varints LEB128, byte strings len-prefixed):
//! - `0x01 key value` — put;
//! - `0x02 key` — delete;
//! - `0x03 key expected new`, where `expected`/`new` are `0x00` (absent) or `0x01 bytes` — set
//!   `key` to `new` (absent = delete) if its value is `expected`;
//! - `0x04 key op operand` — an atomic operation (`op`: 0 add, 1 bit-and, 2 bit-or, 3 bit-xor,
//!   4 max, 5 min; FoundationDB semantics, `cairn_codec::atomic`);
//! - `0x05 n (key expected)×n m (command)×m k (command)×k` — a transaction: if every `key`
//!   has its `expected` value, apply the first `m` commands (each len-prefixed, put / delete /
//!   atomic only), else the other `k`. All or nothing; every key must be in the range.
//! - `0x06 term m (command)×m` — a batch of puts and deletes (each len-prefixed) applied only
//!   if the entry was appended in `term`: a commit its leader validated against its own state
//!   in that term (the replicated MVCC database's commit, `cairn_mvcc::Replicator`). Appended
//!   in any other term it is refused on every replica alike, with no effect.
//!
//! Response encoding: `0x00` done; `0x01 current` (current as in `expected`) — compare failed;
//! `0x02 message` — refused (malformed command, key outside the range); `0x03 succeeded(u8)`
//! — a transaction's outcome (1: its compares held and the success branch ran); `0x04` — a
//! term batch appended in another term, not applied.

use cairn_codec::{varint, Decoder};

use cairn_codec::atomic::{self, AtomicOp};

use crate::engine::Engine;
use crate::error::Result;
use crate::keys;
use crate::sm::{ApplyContext, StateMachine};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
    Cas {
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    },
    Atomic {
        key: Vec<u8>,
        op: AtomicOp,
        operand: Vec<u8>,
    },
    Txn(Txn),
    /// Puts and deletes applied only if the entry's term is `term`.
    TermBatch {
        term: u64,
        writes: Vec<Command>,
    },
}

/// A transaction confined to one range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Txn {
    /// (key, expected value; None = absent).
    pub compares: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Put / delete / atomic commands run when every compare holds.
    pub success: Vec<Command>,
    /// ... and when one does not.
    pub failure: Vec<Command>,
}

fn op_code(op: AtomicOp) -> u8 {
    match op {
        AtomicOp::Add => 0,
        AtomicOp::BitAnd => 1,
        AtomicOp::BitOr => 2,
        AtomicOp::BitXor => 3,
        AtomicOp::Max => 4,
        AtomicOp::Min => 5,
    }
}

pub fn atomic_op_from_code(c: u8) -> Option<AtomicOp> {
    Some(match c {
        0 => AtomicOp::Add,
        1 => AtomicOp::BitAnd,
        2 => AtomicOp::BitOr,
        3 => AtomicOp::BitXor,
        4 => AtomicOp::Max,
        5 => AtomicOp::Min,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Done,
    CompareFailed {
        current: Option<Vec<u8>>,
    },
    Refused(String),
    TxnDone {
        succeeded: bool,
    },
    /// A term batch appended in another term than its own: not applied.
    StaleTerm,
}

fn put_opt(out: &mut Vec<u8>, v: &Option<Vec<u8>>) {
    match v {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            varint::put_len_prefixed(out, b);
        }
    }
}

fn get_opt(d: &mut Decoder<'_>) -> std::result::Result<Option<Vec<u8>>, cairn_codec::DecodeError> {
    match d.u8("option tag")? {
        0 => Ok(None),
        1 => Ok(Some(d.len_prefixed("value")?.to_vec())),
        t => Err(d.error(
            "option tag",
            cairn_codec::DecodeErrorReason::UnknownTag(u64::from(t)),
        )),
    }
}

impl Command {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Command::Put { key, value } => {
                out.push(1);
                varint::put_len_prefixed(&mut out, key);
                varint::put_len_prefixed(&mut out, value);
            }
            Command::Delete { key } => {
                out.push(2);
                varint::put_len_prefixed(&mut out, key);
            }
            Command::Cas { key, expected, new } => {
                out.push(3);
                varint::put_len_prefixed(&mut out, key);
                put_opt(&mut out, expected);
                put_opt(&mut out, new);
            }
            Command::Atomic { key, op, operand } => {
                out.push(4);
                varint::put_len_prefixed(&mut out, key);
                out.push(op_code(*op));
                varint::put_len_prefixed(&mut out, operand);
            }
            Command::Txn(t) => {
                out.push(5);
                varint::put_u64(&mut out, t.compares.len() as u64);
                for (k, e) in &t.compares {
                    varint::put_len_prefixed(&mut out, k);
                    put_opt(&mut out, e);
                }
                for branch in [&t.success, &t.failure] {
                    put_commands(&mut out, branch);
                }
            }
            Command::TermBatch { term, writes } => {
                out.push(6);
                varint::put_u64(&mut out, *term);
                put_commands(&mut out, writes);
            }
        }
        out
    }

    /// The keys the command writes or reads.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            Command::Put { key, .. }
            | Command::Delete { key }
            | Command::Cas { key, .. }
            | Command::Atomic { key, .. } => vec![key.as_slice()],
            Command::Txn(t) => t
                .compares
                .iter()
                .map(|(k, _)| k.as_slice())
                .chain(t.success.iter().chain(&t.failure).flat_map(|c| c.keys()))
                .collect(),
            Command::TermBatch { writes, .. } => writes.iter().flat_map(|c| c.keys()).collect(),
        }
    }

    pub fn decode(bytes: &[u8]) -> std::result::Result<Self, cairn_codec::DecodeError> {
        let mut d = Decoder::new(bytes);
        let cmd = match d.u8("command tag")? {
            1 => Command::Put {
                key: d.len_prefixed("key")?.to_vec(),
                value: d.len_prefixed("value")?.to_vec(),
            },
            2 => Command::Delete {
                key: d.len_prefixed("key")?.to_vec(),
            },
            3 => Command::Cas {
                key: d.len_prefixed("key")?.to_vec(),
                expected: get_opt(&mut d)?,
                new: get_opt(&mut d)?,
            },
            4 => {
                let key = d.len_prefixed("key")?.to_vec();
                let code = d.u8("atomic op")?;
                let op = atomic_op_from_code(code).ok_or_else(|| {
                    d.error(
                        "atomic op",
                        cairn_codec::DecodeErrorReason::UnknownTag(u64::from(code)),
                    )
                })?;
                let operand = d.len_prefixed("operand")?.to_vec();
                Command::Atomic { key, op, operand }
            }
            5 => {
                let mut t = Txn::default();
                let n = d.varint_len("compare count")?;
                for _ in 0..n {
                    let k = d.len_prefixed("compare key")?.to_vec();
                    t.compares.push((k, get_opt(&mut d)?));
                }
                for branch in [&mut t.success, &mut t.failure] {
                    *branch = get_commands(&mut d, |c| {
                        !matches!(
                            c,
                            Command::Txn(_) | Command::Cas { .. } | Command::TermBatch { .. }
                        )
                    })?;
                }
                Command::Txn(t)
            }
            6 => Command::TermBatch {
                term: d.varint_u64()?,
                writes: get_commands(&mut d, |c| {
                    matches!(c, Command::Put { .. } | Command::Delete { .. })
                })?,
            },
            t => {
                return Err(d.error(
                    "command tag",
                    cairn_codec::DecodeErrorReason::UnknownTag(u64::from(t)),
                ))
            }
        };
        Ok(cmd)
    }
}

fn put_commands(out: &mut Vec<u8>, commands: &[Command]) {
    varint::put_u64(out, commands.len() as u64);
    for c in commands {
        varint::put_len_prefixed(out, &c.encode());
    }
}

/// A count and that many len-prefixed commands, each of which `allowed` must accept.
fn get_commands(
    d: &mut Decoder<'_>,
    allowed: impl Fn(&Command) -> bool,
) -> std::result::Result<Vec<Command>, cairn_codec::DecodeError> {
    let n = d.varint_len("command count")?;
    let mut out = Vec::new();
    for _ in 0..n {
        let inner = Command::decode(d.len_prefixed("command")?)?;
        if !allowed(&inner) {
            return Err(d.error("nested command", cairn_codec::DecodeErrorReason::Malformed));
        }
        out.push(inner);
    }
    Ok(out)
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Response::Done => out.push(0),
            Response::CompareFailed { current } => {
                out.push(1);
                put_opt(&mut out, current);
            }
            Response::Refused(msg) => {
                out.push(2);
                varint::put_len_prefixed(&mut out, msg.as_bytes());
            }
            Response::TxnDone { succeeded } => {
                out.push(3);
                out.push(u8::from(*succeeded));
            }
            Response::StaleTerm => out.push(4),
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> std::result::Result<Self, cairn_codec::DecodeError> {
        let mut d = Decoder::new(bytes);
        Ok(match d.u8("response tag")? {
            0 => Response::Done,
            1 => Response::CompareFailed {
                current: get_opt(&mut d)?,
            },
            2 => {
                Response::Refused(String::from_utf8_lossy(d.len_prefixed("message")?).into_owned())
            }
            3 => Response::TxnDone {
                succeeded: d.u8("txn outcome")? != 0,
            },
            4 => Response::StaleTerm,
            t => {
                return Err(d.error(
                    "response tag",
                    cairn_codec::DecodeErrorReason::UnknownTag(u64::from(t)),
                ))
            }
        })
    }
}

/// The KV register state machine. Stateless: everything lives in the engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct KvStateMachine;

impl StateMachine for KvStateMachine {
    fn apply(&mut self, cx: &mut ApplyContext<'_>, _index: u64, command: &[u8]) -> Result<Vec<u8>> {
        let cmd = match Command::decode(command) {
            Ok(c) => c,
            Err(e) => return Ok(Response::Refused(format!("malformed command: {e}")).encode()),
        };
        // Every key in the range, before anything is written: a transaction is all or nothing.
        if let Some(k) = cmd.keys().into_iter().find(|k| !cx.desc().contains_key(k)) {
            let _ = k;
            return Ok(Response::Refused(format!(
                "a key is outside range {} (transactions spanning ranges are not supported yet)",
                cx.desc().range_id
            ))
            .encode());
        }
        let outcome = match cmd {
            Command::Txn(t) => {
                let mut holds = true;
                for (k, expected) in &t.compares {
                    if &cx.get(k)? != expected {
                        holds = false;
                        break;
                    }
                }
                let branch = if holds { &t.success } else { &t.failure };
                let mut r = Ok(Response::TxnDone { succeeded: holds });
                for c in branch {
                    if let Err(e) = write(cx, c)? {
                        r = Err(e);
                        break;
                    }
                }
                r
            }
            Command::Put { .. } | Command::Delete { .. } | Command::Atomic { .. } => {
                write(cx, &cmd)?.map(|_| Response::Done)
            }
            Command::TermBatch { term, writes } if term == cx.term() => {
                let mut r = Ok(Response::Done);
                for c in &writes {
                    if let Err(e) = write(cx, c)? {
                        r = Err(e);
                        break;
                    }
                }
                r
            }
            Command::TermBatch { .. } => Ok(Response::StaleTerm),
            Command::Cas { key, expected, new } => {
                let current = cx.get(&key)?;
                if current != expected {
                    Ok(Response::CompareFailed { current })
                } else {
                    match new {
                        Some(v) => cx.put(&key, &v),
                        None => cx.delete(&key),
                    }
                    .map(|_| Response::Done)
                }
            }
        };
        Ok(match outcome {
            Ok(r) => r,
            Err(e) => Response::Refused(e.to_string()),
        }
        .encode())
    }
}

/// Applies a put, delete or atomic operation.
fn write(
    cx: &mut ApplyContext<'_>,
    c: &Command,
) -> Result<std::result::Result<(), crate::sm::OutsideRange>> {
    Ok(match c {
        Command::Put { key, value } => cx.put(key, value),
        Command::Delete { key } => cx.delete(key),
        Command::Atomic { key, op, operand } => {
            let current = cx.get(key)?;
            let new = atomic::apply(*op, current.as_deref(), operand);
            cx.put(key, &new)
        }
        // Refused at decoding inside transactions; a top-level one never gets here.
        Command::Cas { .. } | Command::Txn(_) | Command::TermBatch { .. } => Ok(()),
    })
}

/// Reads a key's applied value.
pub fn get(engine: &dyn Engine, key: &[u8]) -> Result<Option<Vec<u8>>> {
    engine.get(&keys::data(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_responses_round_trip_and_reject_garbage() {
        let cmds = [
            Command::Put {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            },
            Command::Delete { key: b"".to_vec() },
            Command::Cas {
                key: b"k".to_vec(),
                expected: None,
                new: Some(b"x".to_vec()),
            },
            Command::Cas {
                key: b"k".to_vec(),
                expected: Some(vec![]),
                new: None,
            },
        ];
        for c in cmds {
            let b = c.encode();
            assert_eq!(Command::decode(&b).unwrap(), c);
            for cut in 0..b.len() {
                assert!(Command::decode(&b[..cut]).is_err());
            }
        }
        assert!(Command::decode(&[9]).is_err());
        for r in [
            Response::Done,
            Response::CompareFailed {
                current: Some(b"a".to_vec()),
            },
            Response::Refused("no".into()),
        ] {
            assert_eq!(Response::decode(&r.encode()).unwrap(), r);
        }
    }

    fn run(engine: &crate::MemEngine, desc: &crate::RangeDescriptor, cmd: &Command) -> Response {
        run_in_term(engine, desc, cmd, 1)
    }

    fn run_in_term(
        engine: &crate::MemEngine,
        desc: &crate::RangeDescriptor,
        cmd: &Command,
        term: u64,
    ) -> Response {
        let mut overlay = crate::sm::Overlay::new();
        let mut batch = crate::Batch::new();
        let mut cx = ApplyContext {
            engine,
            overlay: &mut overlay,
            batch: &mut batch,
            desc,
            term,
        };
        let r = KvStateMachine.apply(&mut cx, 1, &cmd.encode()).unwrap();
        engine.write(batch, false).unwrap();
        Response::decode(&r).unwrap()
    }

    /// Several commands applied in one turn share one batch, written only at the turn's end:
    /// reads (compares, CAS, atomic operations) must see the writes of the commands before
    /// them, and of the same transaction.
    #[test]
    fn reads_in_a_turn_see_the_turns_earlier_writes() {
        let e = crate::MemEngine::new();
        let desc = crate::RangeDescriptor {
            range_id: 7,
            end_key: b"m".to_vec(),
            ..Default::default()
        };
        let mut overlay = crate::sm::Overlay::new();
        let mut batch = crate::Batch::new();
        let apply = |cmd: Command, batch: &mut crate::Batch, overlay: &mut crate::sm::Overlay| {
            let mut cx = ApplyContext {
                engine: &e,
                overlay,
                batch,
                desc: &desc,
                term: 1,
            };
            Response::decode(&KvStateMachine.apply(&mut cx, 1, &cmd.encode()).unwrap()).unwrap()
        };
        let one = 1u64.to_le_bytes().to_vec();
        let put = |k: &str, v: &[u8]| Command::Put {
            key: k.into(),
            value: v.to_vec(),
        };
        assert_eq!(
            apply(put("a", &one), &mut batch, &mut overlay),
            Response::Done
        );
        // Another command of the same turn adds to the value just put.
        let add = Command::Atomic {
            key: b"a".to_vec(),
            op: AtomicOp::Add,
            operand: one.clone(),
        };
        assert_eq!(apply(add, &mut batch, &mut overlay), Response::Done);
        // CAS sees 2, not the engine's nothing.
        let two = 2u64.to_le_bytes().to_vec();
        let cas = |expected: Option<Vec<u8>>| Command::Cas {
            key: b"a".to_vec(),
            expected,
            new: Some(b"x".to_vec()),
        };
        assert_eq!(
            apply(cas(None), &mut batch, &mut overlay),
            Response::CompareFailed {
                current: Some(two.clone())
            }
        );
        assert_eq!(
            apply(cas(Some(two)), &mut batch, &mut overlay),
            Response::Done
        );
        // A delete then a transaction comparing against absence, in the same turn.
        assert_eq!(
            apply(
                Command::Delete { key: b"a".to_vec() },
                &mut batch,
                &mut overlay
            ),
            Response::Done
        );
        let txn = Command::Txn(Txn {
            compares: vec![(b"a".to_vec(), None)],
            success: vec![put("b", b"seen-delete")],
            failure: vec![put("b", b"missed-delete")],
        });
        assert_eq!(
            apply(txn, &mut batch, &mut overlay),
            Response::TxnDone { succeeded: true }
        );
        e.write(batch, false).unwrap();
        assert_eq!(get(&e, b"a").unwrap(), None);
        assert_eq!(get(&e, b"b").unwrap(), Some(b"seen-delete".to_vec()));
    }

    #[test]
    fn transactions_are_all_or_nothing_and_atomic_ops_apply() {
        let e = crate::MemEngine::new();
        let desc = crate::RangeDescriptor {
            range_id: 7,
            end_key: b"m".to_vec(),
            ..Default::default()
        };
        let put = |k: &str, v: &str| Command::Put {
            key: k.into(),
            value: v.into(),
        };
        assert_eq!(run(&e, &desc, &put("a", "1")), Response::Done);
        let txn = |expected: &str| {
            Command::Txn(Txn {
                compares: vec![(b"a".to_vec(), Some(expected.into()))],
                success: vec![put("b", "yes"), Command::Delete { key: b"a".to_vec() }],
                failure: vec![put("c", "no")],
            })
        };
        assert_eq!(
            run(&e, &desc, &txn("2")),
            Response::TxnDone { succeeded: false }
        );
        assert_eq!(get(&e, b"c").unwrap(), Some(b"no".to_vec()));
        assert_eq!(get(&e, b"b").unwrap(), None);
        assert_eq!(
            run(&e, &desc, &txn("1")),
            Response::TxnDone { succeeded: true }
        );
        assert_eq!(get(&e, b"b").unwrap(), Some(b"yes".to_vec()));
        assert_eq!(get(&e, b"a").unwrap(), None);
        // A key outside the range refuses the whole transaction: nothing is written.
        let spanning = Command::Txn(Txn {
            compares: vec![],
            success: vec![put("d", "1"), put("z", "1")],
            failure: vec![],
        });
        assert!(matches!(run(&e, &desc, &spanning), Response::Refused(_)));
        assert_eq!(get(&e, b"d").unwrap(), None);
        // Atomic add on a missing key, then again.
        let add = Command::Atomic {
            key: b"k".to_vec(),
            op: AtomicOp::Add,
            operand: 5u64.to_le_bytes().to_vec(),
        };
        run(&e, &desc, &add);
        run(&e, &desc, &add);
        assert_eq!(get(&e, b"k").unwrap(), Some(10u64.to_le_bytes().to_vec()));
        // Round trips; nested transactions are malformed.
        assert_eq!(Command::decode(&txn("1").encode()).unwrap(), txn("1"));
        let nested = Command::Txn(Txn {
            compares: vec![],
            success: vec![txn("1")],
            failure: vec![],
        });
        assert!(Command::decode(&nested.encode()).is_err());
    }

    #[test]
    fn a_term_batch_applies_only_in_its_own_term() {
        let e = crate::MemEngine::new();
        let desc = crate::RangeDescriptor {
            range_id: 7,
            end_key: b"m".to_vec(),
            ..Default::default()
        };
        let batch = |term: u64, v: &str| Command::TermBatch {
            term,
            writes: vec![
                Command::Put {
                    key: b"a".to_vec(),
                    value: v.into(),
                },
                Command::Delete { key: b"b".to_vec() },
            ],
        };
        run(
            &e,
            &desc,
            &Command::Put {
                key: b"b".to_vec(),
                value: b"old".to_vec(),
            },
        );
        assert_eq!(
            run_in_term(&e, &desc, &batch(3, "x"), 4),
            Response::StaleTerm
        );
        assert_eq!(get(&e, b"a").unwrap(), None);
        assert_eq!(get(&e, b"b").unwrap(), Some(b"old".to_vec()));
        assert_eq!(run_in_term(&e, &desc, &batch(4, "y"), 4), Response::Done);
        assert_eq!(get(&e, b"a").unwrap(), Some(b"y".to_vec()));
        assert_eq!(get(&e, b"b").unwrap(), None);
        // Round trip; only puts and deletes may be inside, and truncations fail.
        let b = batch(9, "z").encode();
        assert_eq!(Command::decode(&b).unwrap(), batch(9, "z"));
        for cut in 0..b.len() {
            assert!(Command::decode(&b[..cut]).is_err());
        }
        let cas = Command::TermBatch {
            term: 1,
            writes: vec![Command::Cas {
                key: b"a".to_vec(),
                expected: None,
                new: None,
            }],
        };
        assert!(Command::decode(&cas.encode()).is_err());
        assert_eq!(
            Response::decode(&Response::StaleTerm.encode()).unwrap(),
            Response::StaleTerm
        );
    }
}

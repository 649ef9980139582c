//! A replicated key-value register state machine: put, delete, compare-and-set.
//!
//! This is the state machine of the KV service until the MVCC commands take over; the
//! simulator drives it. Reads do not go through the log: a leader confirms its term
//! (ReadIndex or lease), waits until it has applied that far, then reads [`get`].
//!
//! Command encoding (varints LEB128, byte strings len-prefixed):
//! - `0x01 key value` — put;
//! - `0x02 key` — delete;
//! - `0x03 key expected new`, where `expected`/`new` are `0x00` (absent) or `0x01 bytes` — set
//!   `key` to `new` (absent = delete) if its value is `expected`.
//!
//! Response encoding: `0x00` done; `0x01 current` (current as in `expected`) — compare failed;
//! `0x02 message` — refused (malformed command, key outside the range).

use cairn_codec::{varint, Decoder};

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Done,
    CompareFailed { current: Option<Vec<u8>> },
    Refused(String),
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
        }
        out
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
        let outcome = match cmd {
            Command::Put { key, value } => cx.put(&key, &value).map(|_| Response::Done),
            Command::Delete { key } => cx.delete(&key).map(|_| Response::Done),
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
}

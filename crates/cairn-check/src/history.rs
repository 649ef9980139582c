//! Parsing of chaos-test histories.
//!
//! **What**: turns a JSON Lines history (`/work/shared/conformance/history-format.md`, mirrored
//! in `docs/history-checker.md`) into a [`History`]: a list of [`Op`]s, each an invocation paired
//! with its completion.
//! **Role**: called by every workload checker and by [`crate::run_cli`]; calls only serde_json.
//!
//! **Format read** (one JSON object per line, UTF-8; blank lines and lines starting with `#` are
//! skipped; fields other than these are ignored):
//!
//! ```text
//! {"process": 3, "type": "invoke", "f": "write", "key": "k7", "value": 42, "time": 1700000000123456789}
//! {"process": 3, "type": "ok",     "f": "write", "key": "k7", "value": 42, "time": 1700000000124001234}
//! ```
//!
//! `process` is an integer, `type` one of `invoke`/`ok`/`fail`/`info`, `f` a string, `key` any
//! JSON value (optional; a completion without it takes the invocation's), `value` any JSON value
//! (optional, `null` when absent), `time` a non-negative integer in nanoseconds.
//!
//! **Invariants** (each enforced by a check returning [`Malformed`], tested in `it::malformed`):
//! 1. `time` is given on every event line or on none; without it the 1-based line number is the
//!    clock, so every event still has a time and two events never tie.
//! 2. Times never decrease from one event line to the next.
//! 3. A process has at most one operation in flight: after `invoke`, its next event is the
//!    completion, with the same `f` and (if given) the same `key`.
//! 4. An invocation never completed counts as `info` ([`Op::complete_line`] is `None`).
//! 5. [`History::ops`] is in invocation order, so `ops[i].invoke_time <= ops[i+1].invoke_time`.
//!
//! **Concurrency**: pure functions over a byte slice.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::{CheckError, Malformed};

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It definitely happened and `complete_value` is its result.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// Unknown: it may have taken effect at any moment after its invocation, or never. Also the
    /// outcome of an invocation without a completion.
    Info,
}

/// One client operation: an invocation and its completion.
#[derive(Debug, Clone)]
pub struct Op {
    /// The logical client.
    pub process: i64,
    /// Operation name (`read`, `write`, `cas`, `transfer`, `txn`, ...).
    pub f: String,
    /// The object acted on; `None` when neither event named one.
    pub key: Option<Value>,
    /// The invocation's `value` (the argument).
    pub invoke_value: Value,
    /// The completion's `value` (the result); `null` when there is no completion.
    pub complete_value: Value,
    pub outcome: Outcome,
    /// Time of the invocation: the `time` field, or the line number when the history has none.
    pub invoke_time: u64,
    /// Time of the completion event, `None` when there is none.
    pub complete_time: Option<u64>,
    /// 1-based line of the invocation.
    pub invoke_line: usize,
    /// 1-based line of the completion, `None` when there is none.
    pub complete_line: Option<usize>,
}

/// A parsed history.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Operations in invocation order.
    pub ops: Vec<Op>,
    /// Whether the events carried `time` (otherwise line numbers are the clock).
    pub timed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EventType {
    Invoke,
    Complete(Outcome),
}

/// Parses a history from the bytes of a JSON Lines file.
pub fn parse(bytes: &[u8]) -> Result<History, CheckError> {
    let mut ops: Vec<Op> = Vec::new();
    // process -> index in `ops` of its operation in flight.
    let mut in_flight: HashMap<i64, usize> = HashMap::new();
    let mut timed_line: Option<usize> = None;
    let mut untimed_line: Option<usize> = None;
    let mut previous: Option<(u64, usize)> = None;

    for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = index + 1;
        let text =
            std::str::from_utf8(raw).map_err(|_| CheckError::at(line, Malformed::NotUtf8))?;
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let event: Value =
            serde_json::from_str(text).map_err(|e| CheckError::at(line, Malformed::Json(e)))?;
        let Some(object) = event.as_object() else {
            return Err(CheckError::at(line, Malformed::NotObject));
        };
        let bad = |reason| CheckError::at(line, reason);

        let process = match object.get("process") {
            None => return Err(bad(Malformed::MissingField { field: "process" })),
            Some(v) => v.as_i64().ok_or(bad(Malformed::FieldType {
                field: "process",
                expected: "an integer",
            }))?,
        };
        let event_type = match object.get("type") {
            None => return Err(bad(Malformed::MissingField { field: "type" })),
            Some(Value::String(s)) => match s.as_str() {
                "invoke" => EventType::Invoke,
                "ok" => EventType::Complete(Outcome::Ok),
                "fail" => EventType::Complete(Outcome::Fail),
                "info" => EventType::Complete(Outcome::Info),
                other => {
                    return Err(bad(Malformed::UnknownType {
                        found: other.to_owned(),
                    }))
                }
            },
            Some(_) => {
                return Err(bad(Malformed::FieldType {
                    field: "type",
                    expected: "a string",
                }))
            }
        };
        let f = match object.get("f") {
            None => return Err(bad(Malformed::MissingField { field: "f" })),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(bad(Malformed::FieldType {
                    field: "f",
                    expected: "a string",
                }))
            }
        };
        let key = object.get("key").cloned();
        let value = object.get("value").cloned().unwrap_or(Value::Null);

        // Invariant 1: time on every line or on none.
        let time = match object.get("time") {
            None => {
                if let Some(timed_line) = timed_line {
                    return Err(bad(Malformed::TimeMissing { timed_line }));
                }
                untimed_line.get_or_insert(line);
                line as u64
            }
            Some(v) => {
                if let Some(untimed_line) = untimed_line {
                    return Err(bad(Malformed::TimeUnexpected { untimed_line }));
                }
                timed_line.get_or_insert(line);
                v.as_u64().ok_or(bad(Malformed::FieldType {
                    field: "time",
                    expected: "a non-negative integer (nanoseconds)",
                }))?
            }
        };
        // Invariant 2: the clock never goes back.
        if let Some((previous_time, previous_line)) = previous {
            if time < previous_time {
                return Err(bad(Malformed::TimeDecreased {
                    found: time,
                    previous: previous_time,
                    previous_line,
                }));
            }
        }
        previous = Some((time, line));

        // Invariant 3: one operation in flight per process.
        match event_type {
            EventType::Invoke => {
                if let Some(&pending) = in_flight.get(&process) {
                    let pending_line = ops.get(pending).map_or(0, |op| op.invoke_line);
                    return Err(bad(Malformed::InvokeWhilePending {
                        process,
                        pending_line,
                    }));
                }
                in_flight.insert(process, ops.len());
                ops.push(Op {
                    process,
                    f,
                    key,
                    invoke_value: value,
                    complete_value: Value::Null,
                    outcome: Outcome::Info,
                    invoke_time: time,
                    complete_time: None,
                    invoke_line: line,
                    complete_line: None,
                });
            }
            EventType::Complete(outcome) => {
                let Some(op) = in_flight.remove(&process).and_then(|i| ops.get_mut(i)) else {
                    return Err(bad(Malformed::CompletionWithoutInvoke { process }));
                };
                if op.f != f {
                    return Err(bad(Malformed::FunctionMismatch {
                        invoked: op.f.clone(),
                        completed: f,
                        invoke_line: op.invoke_line,
                    }));
                }
                match (&op.key, key) {
                    (_, None) => {}
                    (None, Some(k)) => op.key = Some(k),
                    (Some(invoked), Some(completed)) => {
                        if canonical(invoked) != canonical(&completed) {
                            return Err(bad(Malformed::KeyMismatch {
                                invoked: canonical(invoked),
                                completed: canonical(&completed),
                                invoke_line: op.invoke_line,
                            }));
                        }
                    }
                }
                op.outcome = outcome;
                op.complete_value = value;
                op.complete_time = Some(time);
                op.complete_line = Some(line);
            }
        }
    }
    Ok(History {
        ops,
        timed: timed_line.is_some(),
    })
}

/// A canonical text form of a JSON value: object members sorted by name, no spaces. Two values
/// are equal as register values, keys or list elements exactly when their canonical forms are.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_object_members_at_every_depth() {
        let a: Value = serde_json::from_str(r#"{"b": [1, {"y": 2, "x": 1}], "a": null}"#).unwrap();
        assert_eq!(canonical(&a), r#"{"a":null,"b":[1,{"x":1,"y":2}]}"#);
    }

    #[test]
    fn untimed_history_uses_line_numbers_as_clock() {
        let h = parse(
            b"# comment\n{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\n{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n",
        )
        .unwrap();
        assert!(!h.timed);
        assert_eq!(h.ops.len(), 1);
        assert_eq!(h.ops[0].invoke_time, 2);
        assert_eq!(h.ops[0].complete_time, Some(4));
        assert_eq!(h.ops[0].outcome, Outcome::Ok);
    }
}

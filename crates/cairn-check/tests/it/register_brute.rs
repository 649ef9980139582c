//! Differential test: the register checker against a brute-force search over all orders, on
//! small random histories (linearizable or not) with repeated values, ties and `info` ops.

use cairn_check::register::{check, RegisterOptions};
use cairn_check::{history, Verdict};
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
struct GenOp {
    process: usize,
    /// 0 read, 1 write, 2 cas.
    f: u8,
    a: u8,
    b: u8,
    /// 0 ok, 1 fail, 2 info, 3 no completion.
    outcome: u8,
    start: u64,
    end: u64,
}

fn value(v: u8) -> Value {
    if v == 0 {
        Value::Null
    } else {
        json!(v)
    }
}

fn gen_ops(raw: &[(usize, u8, u8, u8, u8, u64, u64)]) -> Vec<GenOp> {
    let mut clock = [0u64; 4];
    raw.iter()
        .map(|&(process, f, a, b, outcome, gap, duration)| {
            let start = clock[process] + gap;
            let end = start + duration;
            clock[process] = end + 1;
            GenOp {
                process,
                f,
                a,
                b,
                outcome,
                start,
                end,
            }
        })
        .collect()
}

fn to_history(ops: &[GenOp]) -> String {
    // (time, completion before invocation at equal times, op index, line)
    let mut events: Vec<(u64, u8, usize, String)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let f = ["read", "write", "cas"][op.f as usize];
        let arg = match op.f {
            0 => Value::Null,
            1 => value(op.a),
            _ => json!([value(op.a), value(op.b)]),
        };
        let process = op.process as i64 + 100 * i as i64; // fresh process per op
        events.push((
            op.start,
            1,
            i,
            json!({"process": process, "type": "invoke", "f": f, "key": "x", "value": arg, "time": op.start}).to_string(),
        ));
        let ty = match op.outcome {
            0 => "ok",
            1 => "fail",
            2 => "info",
            _ => continue,
        };
        let result = if op.f == 0 { value(op.a) } else { arg };
        // At equal times completions come first, except an op's own (zero-length) completion.
        events.push((
            op.end,
            if op.end == op.start { 2 } else { 0 },
            i,
            json!({"process": process, "type": ty, "f": f, "key": "x", "value": result, "time": op.end}).to_string(),
        ));
    }
    events.sort_by_key(|e| (e.0, e.1, e.2));
    events.into_iter().map(|e| e.3 + "\n").collect()
}

/// All orders of the required ops plus any subset of the optional ones, from `initial`.
fn brute_force(ops: &[GenOp]) -> bool {
    brute_force_from(ops, 0)
}

fn brute_force_from(ops: &[GenOp], initial: u8) -> bool {
    // (op, required)
    let parts: Vec<(&GenOp, bool)> = ops
        .iter()
        .filter_map(|op| match (op.f, op.outcome) {
            (_, 1) => None,
            (0, 0) => Some((op, true)),
            (0, _) => None,
            (_, 0) => Some((op, true)),
            _ => Some((op, false)),
        })
        .collect();
    fn go(parts: &[(&GenOp, bool)], placed: &mut Vec<bool>, state: u8) -> bool {
        if parts
            .iter()
            .zip(placed.iter())
            .all(|((_, req), p)| !req || *p)
        {
            return true;
        }
        for i in 0..parts.len() {
            if placed[i] {
                continue;
            }
            let (op, _) = parts[i];
            // Every unplaced required op that completed before `op` began must come first.
            let blocked = parts
                .iter()
                .zip(placed.iter())
                .any(|((other, req), p)| *req && !*p && other.end < op.start);
            if blocked {
                continue;
            }
            let next = match op.f {
                0 if op.a == state => state,
                0 => continue,
                1 => op.a,
                _ if op.a == state => op.b,
                _ => continue,
            };
            placed[i] = true;
            if go(parts, placed, next) {
                return true;
            }
            placed[i] = false;
        }
        false
    }
    let mut placed = vec![false; parts.len()];
    go(&parts, &mut placed, initial)
}

fn small(v: &Value) -> u8 {
    v.as_u64().map_or(0, |x| x as u8)
}

/// The window of a counterexample as brute-force input (`?` ops become info).
fn window_ops(window: &[cairn_check::register::OpView]) -> Vec<GenOp> {
    window
        .iter()
        .map(|o| {
            let f = match o.f.as_str() {
                "read" => 0,
                "write" => 1,
                _ => 2,
            };
            let (a, b) = match f {
                0 => (small(&o.result), 0),
                1 => (small(&o.value), 0),
                _ => (small(&o.value[0]), small(&o.value[1])),
            };
            GenOp {
                process: 0,
                f,
                a,
                b,
                outcome: if o.maybe { 2 } else { 0 },
                start: o.invoke_time,
                end: o.complete_time.unwrap_or(u64::MAX),
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn checker_agrees_with_brute_force(
        raw in proptest::collection::vec(
            (0usize..4, 0u8..3, 0u8..3, 0u8..3, 0u8..4, 0u64..3, 0u64..4),
            0..9,
        )
    ) {
        let ops = gen_ops(&raw);
        let text = to_history(&ops);
        let h = history::parse(text.as_bytes()).unwrap();
        let report = check(&h, &RegisterOptions::default()).unwrap();
        let expected = if brute_force(&ops) { Verdict::Valid } else { Verdict::Invalid };
        prop_assert_eq!(report.verdict, expected, "{}", text);
        if let Some(cx) = report.keys.first().and_then(|k| k.counterexample.as_ref()) {
            // The failing op is a required op of the window, and the window has no
            // linearization from its start value (any value when unknown).
            prop_assert!(cx.window.iter().any(|o| !o.maybe && o.invoke_line == cx.op.invoke_line));
            let ops = window_ops(&cx.window);
            let starts: Vec<u8> = match &cx.window_initial {
                Some(v) => vec![small(v)],
                None => vec![0, 1, 2, 3],
            };
            for start in starts {
                prop_assert!(!brute_force_from(&ops, start), "window linearizable from {}: {}", start, text);
            }
            // Minimal: the next later window (built by the same rule: ops invoked from T on
            // stay, earlier ones still running at T become optional, reads among them and
            // finished ones go) has a linearization from some value.
            if cx.window_initial.is_none() {
                let required: Vec<&GenOp> = ops.iter().filter(|o| o.outcome == 0).collect();
                let start = required.iter().map(|o| o.start).min().unwrap_or(0);
                let failing_start = cx.op.invoke_time;
                let next = required.iter().map(|o| o.start).filter(|&t| t > start).min();
                if let Some(t) = next.filter(|&t| t <= failing_start) {
                    let later: Vec<GenOp> = ops
                        .iter()
                        .filter_map(|o| {
                            if o.outcome != 0 || o.start >= t {
                                Some(o.clone())
                            } else if o.end >= t && o.f != 0 {
                                Some(GenOp { outcome: 2, ..o.clone() })
                            } else {
                                None
                            }
                        })
                        .collect();
                    prop_assert!(
                        (0..4).any(|s| brute_force_from(&later, s)),
                        "window not minimal: {}", text
                    );
                }
            }
        }
    }
}

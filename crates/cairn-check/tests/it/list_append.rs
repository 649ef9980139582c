//! List-append checker: histories with known anomalies.

use cairn_check::list_append::{check, ListAppendOptions, ListAppendReport};
use cairn_check::{history, Verdict};
use serde_json::{json, Value};

/// Builds a list-append history; times are line numbers.
#[derive(Default)]
struct Txns {
    lines: Vec<String>,
}

impl Txns {
    fn invoke(&mut self, p: i64, ops: Value) -> &mut Txns {
        // Invocations carry reads as null.
        let ops = match ops {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|m| match m {
                        Value::Array(ref parts) if parts[0] == "r" => json!(["r", parts[1], null]),
                        other => other,
                    })
                    .collect(),
            ),
            other => other,
        };
        self.lines
            .push(json!({"process": p, "type": "invoke", "f": "txn", "value": ops}).to_string());
        self
    }

    fn complete(&mut self, p: i64, ty: &str, ops: Value) -> &mut Txns {
        self.lines
            .push(json!({"process": p, "type": ty, "f": "txn", "value": ops}).to_string());
        self
    }

    /// A whole transaction, invoked and completed `ok` back to back.
    fn ok(&mut self, p: i64, ops: Value) -> &mut Txns {
        self.invoke(p, ops.clone()).complete(p, "ok", ops)
    }

    fn run(&self, realtime: bool) -> ListAppendReport {
        let text = self.lines.join("\n");
        let h = history::parse(text.as_bytes()).unwrap();
        check(&h, &ListAppendOptions { realtime }).unwrap()
    }
}

fn kinds(report: &ListAppendReport) -> Vec<&str> {
    report.counts.keys().map(String::as_str).collect()
}

#[test]
fn serial_history_is_valid() {
    let mut t = Txns::default();
    t.ok(0, json!([["append", "x", 1], ["r", "x", [1]]]))
        .ok(
            1,
            json!([["r", "x", [1]], ["append", "x", 2], ["append", "y", 1]]),
        )
        .ok(0, json!([["r", "x", [1, 2]], ["r", "y", [1]]]))
        .ok(1, json!([["r", "z", null]]));
    for realtime in [false, true] {
        let report = t.run(realtime);
        assert_eq!(report.verdict, Verdict::Valid, "{report:?}");
    }
}

#[test]
fn write_skew_is_g2_item() {
    let mut t = Txns::default();
    t.invoke(
        0,
        json!([["r", "x", []], ["r", "y", []], ["append", "x", 1]]),
    )
    .invoke(
        1,
        json!([["r", "x", []], ["r", "y", []], ["append", "y", 1]]),
    )
    .complete(
        0,
        "ok",
        json!([["r", "x", []], ["r", "y", []], ["append", "x", 1]]),
    )
    .complete(
        1,
        "ok",
        json!([["r", "x", []], ["r", "y", []], ["append", "y", 1]]),
    )
    .ok(2, json!([["r", "x", [1]], ["r", "y", [1]]]));
    let report = t.run(false);
    assert_eq!(kinds(&report), vec!["G2-item"], "{report:#?}");
    let cycle = &report.anomalies[0].cycle;
    assert_eq!(cycle.len(), 2);
    assert!(cycle
        .iter()
        .all(|s| s.kind == cairn_check::list_append::EdgeKind::Rw));
}

#[test]
fn lost_update_is_g_single() {
    // Both read [1] and append: one update is based on a stale read.
    let mut t = Txns::default();
    t.ok(0, json!([["append", "x", 1]]))
        .invoke(1, json!([["r", "x", [1]], ["append", "x", 2]]))
        .invoke(2, json!([["r", "x", [1]], ["append", "x", 3]]))
        .complete(1, "ok", json!([["r", "x", [1]], ["append", "x", 2]]))
        .complete(2, "ok", json!([["r", "x", [1]], ["append", "x", 3]]))
        .ok(3, json!([["r", "x", [1, 2, 3]]]));
    let report = t.run(false);
    assert_eq!(kinds(&report), vec!["G-single"], "{report:#?}");
}

#[test]
fn write_cycle_is_g0() {
    let mut t = Txns::default();
    t.invoke(0, json!([["append", "x", 1], ["append", "y", 1]]))
        .invoke(1, json!([["append", "x", 2], ["append", "y", 2]]))
        .complete(0, "ok", json!([["append", "x", 1], ["append", "y", 1]]))
        .complete(1, "ok", json!([["append", "x", 2], ["append", "y", 2]]))
        .ok(2, json!([["r", "x", [1, 2]], ["r", "y", [2, 1]]]));
    let report = t.run(false);
    assert_eq!(kinds(&report), vec!["G0"], "{report:#?}");
}

#[test]
fn circular_information_flow_is_g1c() {
    let mut t = Txns::default();
    t.invoke(0, json!([["append", "x", 1], ["r", "y", [1]]]))
        .invoke(1, json!([["append", "y", 1], ["r", "x", [1]]]))
        .complete(0, "ok", json!([["append", "x", 1], ["r", "y", [1]]]))
        .complete(1, "ok", json!([["append", "y", 1], ["r", "x", [1]]]));
    let report = t.run(false);
    assert_eq!(kinds(&report), vec!["G1c"], "{report:#?}");
}

#[test]
fn aborted_and_garbage_and_duplicate_reads() {
    let mut t = Txns::default();
    t.invoke(0, json!([["append", "x", 1]]))
        .complete(0, "fail", json!([["append", "x", 1]]))
        .ok(1, json!([["r", "x", [1]]]))
        .ok(1, json!([["r", "y", [9]]]))
        .ok(2, json!([["append", "z", 1]]))
        .ok(1, json!([["r", "z", [1, 1]]]));
    let report = t.run(false);
    assert_eq!(
        kinds(&report),
        vec!["G1a", "duplicate-elements", "garbage-read"],
        "{report:#?}"
    );
}

#[test]
fn intermediate_read_is_g1b() {
    let mut t = Txns::default();
    t.invoke(0, json!([["append", "x", 1], ["append", "x", 2]]))
        .ok(1, json!([["r", "x", [1]]]))
        .complete(0, "ok", json!([["append", "x", 1], ["append", "x", 2]]));
    let report = t.run(false);
    assert!(report.counts.contains_key("G1b"), "{report:#?}");
}

#[test]
fn transaction_not_seeing_its_own_append_is_internal() {
    let mut t = Txns::default();
    t.ok(0, json!([["append", "x", 1], ["r", "x", []]]));
    let report = t.run(false);
    assert!(report.counts.contains_key("internal"), "{report:#?}");

    let mut t = Txns::default();
    t.ok(0, json!([["append", "x", 1]])).ok(
        1,
        json!([["r", "x", [1]], ["append", "x", 2], ["r", "x", [1, 2]]]),
    );
    assert_eq!(t.run(false).verdict, Verdict::Valid);
}

#[test]
fn reads_disagreeing_on_order_are_incompatible() {
    let mut t = Txns::default();
    t.ok(0, json!([["append", "x", 1]]))
        .ok(1, json!([["append", "x", 2]]))
        .ok(2, json!([["r", "x", [1, 2]]]))
        .ok(3, json!([["r", "x", [2, 1]]]));
    let report = t.run(false);
    assert!(
        report.counts.contains_key("incompatible-order"),
        "{report:#?}"
    );
}

#[test]
fn stale_read_after_commit_is_only_a_realtime_anomaly() {
    let mut t = Txns::default();
    t.ok(0, json!([["append", "x", 1]]))
        .ok(1, json!([["r", "x", []]]));
    assert_eq!(t.run(false).verdict, Verdict::Valid);
    let report = t.run(true);
    assert_eq!(kinds(&report), vec!["G-single-realtime"], "{report:#?}");
}

#[test]
fn info_transaction_whose_write_was_read_takes_part_in_cycles() {
    // T0 (info) appended x=1 and read y=[]; T1 read x=[1] and appended y=1: T0 -rw-> T1 -wr-> T0
    // is impossible as T0 read y before T1's append... G-single.
    let mut t = Txns::default();
    t.invoke(0, json!([["r", "y", []], ["append", "x", 1]]))
        .ok(1, json!([["r", "x", [1]], ["append", "y", 1]]))
        .complete(0, "info", Value::Null)
        .ok(2, json!([["r", "y", [1]]]));
    // T0's read result is unknown (info), so no rw edge from it: valid.
    assert_eq!(t.run(false).verdict, Verdict::Valid);
}

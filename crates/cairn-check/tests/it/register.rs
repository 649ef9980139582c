//! Hand-written register histories with known verdicts.

use cairn_check::register::{check, RegisterOptions, RegisterReport};
use cairn_check::{history, Verdict};
use serde_json::{json, Value};

use crate::Hist;

fn run(h: &Hist) -> RegisterReport {
    run_with(h, RegisterOptions::default())
}

fn run_with(h: &Hist, options: RegisterOptions) -> RegisterReport {
    let parsed = history::parse(h.text().as_bytes()).unwrap();
    check(&parsed, &options).unwrap()
}

const N: Value = Value::Null;

#[test]
fn sequential_write_then_read_is_linearizable() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(1), 0)
        .ev(0, "ok", "write", json!(1), 1)
        .ev(1, "invoke", "read", N, 2)
        .ev(1, "ok", "read", json!(1), 3);
    assert_eq!(run(&h).verdict, Verdict::Valid);
}

#[test]
fn stale_read_after_completed_write_is_not_linearizable() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(1), 0) // line 1
        .ev(0, "ok", "write", json!(1), 1)
        .ev(0, "invoke", "write", json!(2), 2) // line 3
        .ev(0, "ok", "write", json!(2), 3)
        .ev(1, "invoke", "read", N, 4) // line 5
        .ev(1, "ok", "read", json!(1), 5);
    let report = run(&h);
    assert_eq!(report.verdict, Verdict::Invalid);
    assert_eq!(report.keys.len(), 1);
    let cx = report.keys[0].counterexample.as_ref().unwrap();
    assert_eq!(cx.op.invoke_line, 5, "the read is where it breaks");
    // Minimal window: the second write and the read, from an unknown value.
    let lines: Vec<usize> = cx.window.iter().map(|o| o.invoke_line).collect();
    assert_eq!(lines, vec![3, 5]);
    assert_eq!(cx.window_initial, None);
    assert!(cx.window.iter().all(|o| !o.maybe));
    // The longest partial linearization is the write alone.
    assert_eq!(cx.longest_linearization.len(), 1);
    assert_eq!(cx.longest_linearization[0].invoke_line, 3);
}

#[test]
fn read_concurrent_with_write_may_see_either_value() {
    for seen in [json!(1), N] {
        let mut h = Hist::new();
        h.ev(0, "invoke", "write", json!(1), 0)
            .ev(1, "invoke", "read", N, 2)
            .ev(1, "ok", "read", seen.clone(), 5)
            .ev(0, "ok", "write", json!(1), 10);
        assert_eq!(run(&h).verdict, Verdict::Valid, "read saw {seen}");
    }
}

#[test]
fn concurrent_writes_linearize_in_either_order() {
    for last in [1, 2] {
        let mut h = Hist::new();
        h.ev(0, "invoke", "write", json!(1), 0)
            .ev(1, "invoke", "write", json!(2), 0)
            .ev(0, "ok", "write", json!(1), 5)
            .ev(1, "ok", "write", json!(2), 5)
            .ev(2, "invoke", "read", N, 6)
            .ev(2, "ok", "read", json!(last), 7);
        assert_eq!(run(&h).verdict, Verdict::Valid, "last write {last}");
    }
}

#[test]
fn reads_seeing_new_then_old_value_are_not_linearizable() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(1), 0)
        .ev(1, "invoke", "read", N, 1)
        .ev(1, "ok", "read", json!(1), 2)
        .ev(2, "invoke", "read", N, 3)
        .ev(2, "ok", "read", N, 4)
        .ev(0, "ok", "write", json!(1), 10);
    let report = run(&h);
    assert_eq!(report.verdict, Verdict::Invalid);
    let cx = report.keys[0].counterexample.as_ref().unwrap();
    assert_eq!(
        cx.op.invoke_line, 4,
        "breaks when the second read completes"
    );
    // The window keeps the write (concurrent) as a required op, since it completes later.
    assert!(cx.window.iter().any(|o| o.invoke_line == 1));
}

#[test]
fn cas_success_and_failure() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(0), 0)
        .ev(0, "ok", "write", json!(0), 1)
        .ev(0, "invoke", "cas", json!([0, 1]), 2)
        .ev(0, "ok", "cas", json!([0, 1]), 3)
        .ev(1, "invoke", "cas", json!([0, 5]), 4)
        .ev(1, "fail", "cas", json!([0, 5]), 5)
        .ev(1, "invoke", "read", N, 6)
        .ev(1, "ok", "read", json!(1), 7);
    assert_eq!(run(&h).verdict, Verdict::Valid);

    // A cas that claims success although the value was not its expected one.
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(0), 0)
        .ev(0, "ok", "write", json!(0), 1)
        .ev(0, "invoke", "cas", json!([7, 1]), 2)
        .ev(0, "ok", "cas", json!([7, 1]), 3);
    assert_eq!(run(&h).verdict, Verdict::Invalid);
}

#[test]
fn failed_write_is_ignored() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(5), 0)
        .ev(0, "fail", "write", json!(5), 1)
        .ev(1, "invoke", "read", N, 2)
        .ev(1, "ok", "read", json!(5), 3);
    assert_eq!(
        run(&h).verdict,
        Verdict::Invalid,
        "a failed write had no effect"
    );
}

#[test]
fn info_write_may_take_effect_after_its_info_line() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(7), 0)
        .ev(0, "info", "write", json!(7), 1)
        .ev(1, "invoke", "read", N, 5)
        .ev(1, "ok", "read", N, 6)
        .ev(2, "invoke", "read", N, 10)
        .ev(2, "ok", "read", json!(7), 11);
    assert_eq!(run(&h).verdict, Verdict::Valid);
}

#[test]
fn info_write_may_never_take_effect() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(7), 0)
        .ev(0, "info", "write", json!(7), 1)
        .ev(1, "invoke", "write", json!(8), 2)
        .ev(1, "ok", "write", json!(8), 3)
        .ev(1, "invoke", "read", N, 5)
        .ev(1, "ok", "read", json!(8), 6);
    assert_eq!(run(&h).verdict, Verdict::Valid);
}

#[test]
fn info_write_cannot_take_effect_before_its_invocation() {
    let mut h = Hist::new();
    h.ev(1, "invoke", "read", N, 0)
        .ev(1, "ok", "read", json!(7), 1)
        .ev(0, "invoke", "write", json!(7), 2)
        .ev(0, "info", "write", json!(7), 3);
    assert_eq!(run(&h).verdict, Verdict::Invalid);
}

#[test]
fn info_write_takes_effect_at_most_once() {
    // Reading 7, then 8, then 7 again needs two writes of 7; there is one (info) write.
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(7), 0)
        .ev(0, "info", "write", json!(7), 1)
        .ev(1, "invoke", "read", N, 2)
        .ev(1, "ok", "read", json!(7), 3) // line 4
        .ev(1, "invoke", "write", json!(8), 4)
        .ev(1, "ok", "write", json!(8), 5)
        .ev(1, "invoke", "read", N, 6) // line 7
        .ev(1, "ok", "read", json!(7), 7);
    let report = run(&h);
    assert_eq!(report.verdict, Verdict::Invalid);
    let cx = report.keys[0].counterexample.as_ref().unwrap();
    assert_eq!(cx.op.invoke_line, 7);
    // The info write is in the window, marked as maybe-taken-effect.
    let info = cx.window.iter().find(|o| o.invoke_line == 1).unwrap();
    assert!(info.maybe);
}

#[test]
fn pending_invocation_without_completion_counts_as_info() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(7), 0)
        .ev(1, "invoke", "read", N, 5)
        .ev(1, "ok", "read", json!(7), 6);
    assert_eq!(run(&h).verdict, Verdict::Valid);
}

#[test]
fn equal_timestamps_are_concurrent() {
    // The read is invoked at the time the write completes: concurrent, may see the old value.
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(1), 0)
        .ev(0, "ok", "write", json!(1), 5)
        .ev(1, "invoke", "read", N, 5)
        .ev(1, "ok", "read", N, 6);
    assert_eq!(run(&h).verdict, Verdict::Valid);
    // One nanosecond later it is not concurrent any more.
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(1), 0)
        .ev(0, "ok", "write", json!(1), 5)
        .ev(1, "invoke", "read", N, 6)
        .ev(1, "ok", "read", N, 7);
    assert_eq!(run(&h).verdict, Verdict::Invalid);
}

#[test]
fn timeless_history_uses_line_order() {
    let mut h = Hist::new();
    h.ev_untimed(0, "invoke", "write", json!(1))
        .ev_untimed(0, "ok", "write", json!(1))
        .ev_untimed(1, "invoke", "read", N)
        .ev_untimed(1, "ok", "read", N);
    assert_eq!(run(&h).verdict, Verdict::Invalid);
    let mut h = Hist::new();
    h.ev_untimed(0, "invoke", "write", json!(1))
        .ev_untimed(1, "invoke", "read", N)
        .ev_untimed(1, "ok", "read", N)
        .ev_untimed(0, "ok", "write", json!(1));
    assert_eq!(run(&h).verdict, Verdict::Valid);
}

#[test]
fn initial_value_option_is_used() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "read", N, 0)
        .ev(0, "ok", "read", json!(0), 1);
    assert_eq!(run(&h).verdict, Verdict::Invalid);
    let report = run_with(
        &h,
        RegisterOptions {
            initial: json!(0),
            ..RegisterOptions::default()
        },
    );
    assert_eq!(report.verdict, Verdict::Valid);
}

#[test]
fn violation_from_initial_value_reports_window_with_known_start() {
    // Only the known initial value (null) makes this fail: the window is the whole prefix.
    let mut h = Hist::new();
    h.ev(0, "invoke", "read", N, 0)
        .ev(0, "ok", "read", json!(3), 1);
    let report = run(&h);
    let cx = report.keys[0].counterexample.as_ref().unwrap();
    assert_eq!(cx.window_initial, Some(Value::Null));
    assert_eq!(cx.window.len(), 1);
    assert!(cx.longest_linearization.is_empty());
}

#[test]
fn reads_that_did_not_complete_ok_are_ignored() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "read", N, 0)
        .ev(0, "info", "read", json!(99), 1)
        .ev(1, "invoke", "read", N, 2)
        .ev(1, "fail", "read", json!(98), 3);
    assert_eq!(run(&h).verdict, Verdict::Valid);
}

#[test]
fn keys_are_checked_independently() {
    // x alone is fine, y alone is fine; a single register holding both would not be.
    let text = r#"{"process":0,"type":"invoke","f":"write","key":"x","value":1,"time":0}
{"process":0,"type":"ok","f":"write","value":1,"time":1}
{"process":1,"type":"invoke","f":"read","key":"y","value":null,"time":2}
{"process":1,"type":"ok","f":"read","key":"y","value":null,"time":3}
{"process":1,"type":"invoke","f":"read","key":"y","value":null,"time":4}
{"process":1,"type":"ok","f":"read","key":"y","value":5,"time":5}
"#;
    let parsed = history::parse(text.as_bytes()).unwrap();
    let report = check(&parsed, &RegisterOptions::default()).unwrap();
    assert_eq!(report.key_count, 2);
    assert_eq!(report.verdict, Verdict::Invalid);
    assert_eq!(report.keys.len(), 1, "only the bad key is listed");
    assert_eq!(report.keys[0].key, json!("y"));
}

#[test]
fn step_budget_gives_unknown() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "write", json!(1), 0)
        .ev(1, "invoke", "write", json!(2), 0)
        .ev(0, "ok", "write", json!(1), 5)
        .ev(1, "ok", "write", json!(2), 5);
    let report = run_with(
        &h,
        RegisterOptions {
            max_steps: 0,
            ..RegisterOptions::default()
        },
    );
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(run(&h).verdict, Verdict::Valid);
}

#[test]
fn many_pending_info_writes_do_not_explode_a_failing_search() {
    // 40 crashed writers, none of whose values is ever read, then a stale read: the memo's
    // subset rule must keep the failing search small.
    let mut h = Hist::new();
    let mut t = 0;
    for p in 0..40 {
        h.ev(100 + p, "invoke", "write", json!(1000 + p), t).ev(
            100 + p,
            "info",
            "write",
            json!(1000 + p),
            t + 1,
        );
        t += 2;
    }
    for v in 0..20 {
        h.ev(0, "invoke", "write", json!(v), t)
            .ev(0, "ok", "write", json!(v), t + 1)
            .ev(1, "invoke", "read", N, t + 2)
            .ev(1, "ok", "read", json!(v), t + 3);
        t += 4;
    }
    h.ev(1, "invoke", "read", N, t)
        .ev(1, "ok", "read", json!(3), t + 1);
    let started = std::time::Instant::now();
    let report = run_with(
        &h,
        RegisterOptions {
            max_steps: 2_000_000,
            ..RegisterOptions::default()
        },
    );
    assert_eq!(report.verdict, Verdict::Invalid);
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
}

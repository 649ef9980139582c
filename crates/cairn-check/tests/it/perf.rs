//! Performance checks: large simulated histories must be checked quickly.

use std::time::Instant;

use cairn_check::register::{check, RegisterOptions};
use cairn_check::{history, Verdict};

use crate::sim::{tape, to_text, Event, Sim};

/// Interleaves per-key simulations by time (each key has its own processes).
fn multi_key(keys: usize, decisions_per_key: usize, processes: usize) -> Vec<Event> {
    let mut all: Vec<Event> = Vec::new();
    for k in 0..keys {
        let sim = Sim::run(
            &tape(k as u64 + 1, decisions_per_key),
            processes,
            &format!("k{k}"),
            (k * 1_000_000) as i64,
            0,
        );
        all.extend(sim.events);
    }
    all.sort_by_key(|e| e.time); // stable: each key's own order is kept
    all
}

fn check_timed(events: &[Event]) -> (Verdict, usize, std::time::Duration) {
    let text = to_text(events);
    let started = Instant::now();
    let h = history::parse(text.as_bytes()).unwrap();
    let report = check(&h, &RegisterOptions::default()).unwrap();
    (report.verdict, h.ops.len(), started.elapsed())
}

#[test]
fn two_thousand_ops_on_one_key_with_five_processes_check_quickly() {
    let events = multi_key(1, 6_000, 5);
    let (verdict, ops, elapsed) = check_timed(&events);
    eprintln!("{ops} ops, 1 key: {elapsed:?}");
    assert!(ops >= 1_900, "{ops} ops");
    assert_eq!(verdict, Verdict::Valid);
    assert!(elapsed.as_secs_f64() < 5.0, "took {elapsed:?}");
}

#[test]
#[ignore = "large: run with --ignored --nocapture to measure"]
fn twenty_thousand_ops_on_ten_keys() {
    let events = multi_key(10, 6_000, 10);
    let (verdict, ops, elapsed) = check_timed(&events);
    eprintln!("{ops} ops, 10 keys: {elapsed:?}");
    assert_eq!(verdict, Verdict::Valid);
}

#[test]
#[ignore = "large: run with --ignored --nocapture to measure"]
fn twenty_thousand_ops_on_ten_keys_with_a_stale_read() {
    let mut events = multi_key(10, 6_000, 10);
    // A stale read of k3's initial null at the very end, after many writes completed.
    let t = events.last().map_or(0, |e| e.time) + 1;
    for (ty, time, value) in [
        ("invoke", t, serde_json::Value::Null),
        ("ok", t + 1, serde_json::Value::Null),
    ] {
        events.push(Event {
            process: 99_999_999,
            ty,
            f: "read",
            key: "k3".into(),
            value,
            time,
        });
    }
    let (verdict, ops, elapsed) = check_timed(&events);
    eprintln!("{ops} ops, 10 keys, with a violation explained: {elapsed:?}");
    assert_eq!(verdict, Verdict::Invalid);
}

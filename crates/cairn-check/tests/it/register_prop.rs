//! Property tests: histories of a simulated linearizable register are accepted; mutated ones
//! that no register could produce are rejected, at the mutated operation.

use cairn_check::register::{check, RegisterOptions};
use cairn_check::{history, Verdict};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::sim::{to_text, Event, Sim};

fn verdict_of(events: &[Event]) -> cairn_check::register::RegisterReport {
    let h = history::parse(to_text(events).as_bytes()).unwrap();
    check(&h, &RegisterOptions::default()).unwrap()
}

/// Appends, after everything, an ok write of a fresh value by a fresh process and then an ok
/// read by another fresh process returning `seen`. Returns the read's invocation line.
fn append_write_then_read(sim: &Sim, events: &mut Vec<Event>, seen: Value, fresh: i64) -> usize {
    let t = sim.end_time() + 1;
    let fresh_value = json!(sim.next_value + 1_000);
    let mut push = |process, ty, f, value, time| {
        events.push(Event {
            process,
            ty,
            f,
            key: sim.key.clone(),
            value,
            time,
        })
    };
    push(fresh, "invoke", "write", fresh_value.clone(), t);
    push(fresh, "ok", "write", fresh_value, t + 1);
    push(fresh + 1, "invoke", "read", Value::Null, t + 2);
    push(fresh + 1, "ok", "read", seen, t + 3);
    events.len() - 1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn simulated_register_histories_are_linearizable(
        tape in proptest::collection::vec(any::<u32>(), 1..400),
        processes in 1usize..6,
    ) {
        let sim = Sim::run(&tape, processes, "k", 0, 0);
        let report = verdict_of(&sim.events);
        prop_assert_eq!(report.verdict, Verdict::Valid, "{}", to_text(&sim.events));
    }

    #[test]
    fn read_of_a_value_never_written_is_rejected(
        tape in proptest::collection::vec(any::<u32>(), 1..400),
        processes in 1usize..6,
        pick in any::<prop::sample::Index>(),
    ) {
        let sim = Sim::run(&tape, processes, "k", 0, 0);
        let mut events = sim.events.clone();
        let reads: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.ty == "ok" && e.f == "read")
            .map(|(i, _)| i)
            .collect();
        prop_assume!(!reads.is_empty());
        let i = reads[pick.index(reads.len())];
        events[i].value = json!(-7); // no operation ever writes a negative value
        let report = verdict_of(&events);
        prop_assert_eq!(report.verdict, Verdict::Invalid);
        let cx = report.keys[0].counterexample.as_ref().unwrap();
        prop_assert_eq!(cx.op.complete_line, Some(i + 1), "fails at the mutated read");
    }

    #[test]
    fn stale_read_after_a_newer_write_completed_is_rejected(
        tape in proptest::collection::vec(any::<u32>(), 1..400),
        processes in 1usize..6,
        pick in any::<prop::sample::Index>(),
    ) {
        let sim = Sim::run(&tape, processes, "k", 0, 0);
        // Control: reading the new value is fine.
        let mut control = sim.events.clone();
        let fresh = 10_000;
        let new_value = json!(sim.next_value + 1_000);
        append_write_then_read(&sim, &mut control, new_value, fresh);
        prop_assert_eq!(verdict_of(&control).verdict, Verdict::Valid);

        // Reading any older value (or the initial null) is not.
        let mut older: Vec<Value> = sim.ok_written.clone();
        older.push(Value::Null);
        let stale = older[pick.index(older.len())].clone();
        let mut events = sim.events.clone();
        let read_line = append_write_then_read(&sim, &mut events, stale, fresh) + 1;
        let report = verdict_of(&events);
        prop_assert_eq!(report.verdict, Verdict::Invalid);
        let cx = report.keys[0].counterexample.as_ref().unwrap();
        prop_assert_eq!(cx.op.complete_line, Some(read_line));
        // The minimal window needs the new write and the read, nothing before the write.
        prop_assert!(cx.window.iter().filter(|o| !o.maybe).count() >= 2);
    }
}

//! A simulated linearizable register that records histories, driven by a tape of random
//! decisions (so proptest can shrink it).

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Event {
    pub process: i64,
    pub ty: &'static str,
    pub f: &'static str,
    pub key: String,
    pub value: Value,
    pub time: u64,
}

impl Event {
    pub fn to_line(&self) -> String {
        json!({"process": self.process, "type": self.ty, "f": self.f, "key": self.key,
               "value": self.value, "time": self.time})
        .to_string()
    }
}

#[derive(Debug, Clone)]
enum Pending {
    Read,
    Write(i64),
    Cas(Value, i64),
}

#[derive(Debug, Clone)]
struct InFlight {
    op: Pending,
    /// Some(result) once the operation took effect (its linearization point passed).
    applied: Option<Result<Value, ()>>,
}

/// Runs the simulation. `tape` supplies decisions; `processes` clients work concurrently.
/// Returns the events and the register's final value.
pub struct Sim {
    pub events: Vec<Event>,
    pub key: String,
    pub state: Value,
    pub next_value: i64,
    /// Every value an ok write or cas wrote.
    pub ok_written: Vec<Value>,
    time: u64,
    next_process: i64,
}

impl Sim {
    pub fn run(
        tape: &[u32],
        processes: usize,
        key: &str,
        first_process: i64,
        value_base: i64,
    ) -> Sim {
        let mut sim = Sim {
            events: Vec::new(),
            key: key.to_owned(),
            state: Value::Null,
            next_value: value_base,
            ok_written: Vec::new(),
            time: 0,
            next_process: first_process + processes as i64,
        };
        let mut procs: Vec<(i64, Option<InFlight>)> = (0..processes)
            .map(|i| (first_process + i as i64, None))
            .collect();
        // Crashed (info) operations that have not taken effect yet and still may.
        let mut lingering: Vec<Pending> = Vec::new();
        for &d in tape {
            // Time advances by 0 or 1 per event: equal times are legal and concurrent.
            let choice = d % 100;
            if choice < 3 && !lingering.is_empty() {
                let i = (d as usize / 100) % lingering.len();
                let op = lingering.swap_remove(i);
                let _ = sim.apply(&op);
                continue;
            }
            let p = (d as usize / 100) % procs.len();
            let sub = (d / 7) % 20;
            let Some((process, slot)) = procs.get_mut(p) else {
                continue;
            };
            let process = *process;
            match slot.take() {
                None => {
                    let op = match sub % 3 {
                        0 => Pending::Read,
                        1 => {
                            sim.next_value += 1;
                            Pending::Write(sim.next_value)
                        }
                        _ => {
                            sim.next_value += 1;
                            // Expect the current value half of the time, else a recent one.
                            let expected = if sub < 10 {
                                sim.state.clone()
                            } else {
                                json!(sim.next_value - 2)
                            };
                            Pending::Cas(expected, sim.next_value)
                        }
                    };
                    let (f, value) = describe(&op);
                    sim.emit(process, "invoke", f, value, d);
                    *slot = Some(InFlight { op, applied: None });
                }
                Some(mut inflight) => match inflight.applied.clone() {
                    None => {
                        if sub == 0 && !matches!(inflight.op, Pending::Read) {
                            // Crash before taking effect: info now, maybe effect later.
                            let (f, value) = describe(&inflight.op);
                            sim.emit(process, "info", f, value, d);
                            lingering.push(inflight.op);
                            let fresh = sim.next_process;
                            sim.next_process += 1;
                            if let Some(entry) = procs.get_mut(p) {
                                *entry = (fresh, None);
                            }
                        } else {
                            inflight.applied = Some(sim.apply(&inflight.op));
                            *slot = Some(inflight);
                        }
                    }
                    Some(result) => {
                        let (f, value) = describe(&inflight.op);
                        let crashed = sub == 1 && !matches!(inflight.op, Pending::Read);
                        match (result, crashed) {
                            (_, true) => {
                                sim.emit(process, "info", f, value, d);
                                let fresh = sim.next_process;
                                sim.next_process += 1;
                                if let Some(entry) = procs.get_mut(p) {
                                    *entry = (fresh, None);
                                }
                                continue;
                            }
                            (Ok(v), false) => {
                                let shown = if matches!(inflight.op, Pending::Read) {
                                    v
                                } else {
                                    value
                                };
                                if let Pending::Write(x) | Pending::Cas(_, x) = inflight.op {
                                    sim.ok_written.push(json!(x));
                                }
                                sim.emit(process, "ok", f, shown, d);
                            }
                            (Err(()), false) => sim.emit(process, "fail", f, value, d),
                        }
                    }
                },
            }
        }
        sim
    }

    fn apply(&mut self, op: &Pending) -> Result<Value, ()> {
        match op {
            Pending::Read => Ok(self.state.clone()),
            Pending::Write(v) => {
                self.state = json!(v);
                Ok(Value::Null)
            }
            Pending::Cas(e, n) => {
                if *e == self.state {
                    self.state = json!(n);
                    Ok(Value::Null)
                } else {
                    Err(())
                }
            }
        }
    }

    fn emit(&mut self, process: i64, ty: &'static str, f: &'static str, value: Value, d: u32) {
        self.time += u64::from(d % 2);
        self.events.push(Event {
            process,
            ty,
            f,
            key: self.key.clone(),
            value,
            time: self.time,
        });
    }

    pub fn end_time(&self) -> u64 {
        self.time
    }
}

fn describe(op: &Pending) -> (&'static str, Value) {
    match op {
        Pending::Read => ("read", Value::Null),
        Pending::Write(v) => ("write", json!(v)),
        Pending::Cas(e, n) => ("cas", json!([e, n])),
    }
}

pub fn to_text(events: &[Event]) -> String {
    let mut s = String::new();
    for e in events {
        s.push_str(&e.to_line());
        s.push('\n');
    }
    s
}

/// A deterministic tape (splitmix64) for non-proptest tests.
pub fn tape(seed: u64, len: usize) -> Vec<u32> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u32
        })
        .collect()
}

//! Integration tests of cairn-check (one binary: each module is a group of tests).

mod bank;
mod cli;
mod list_append;
mod malformed;
mod perf;
mod register;
mod register_brute;
mod register_prop;
mod sim;

use serde_json::{json, Value};

/// Builds history text, one event per call.
#[derive(Default)]
pub struct Hist {
    lines: Vec<String>,
}

impl Hist {
    pub fn new() -> Hist {
        Hist::default()
    }

    /// An event on key "x" with a time.
    pub fn ev(&mut self, process: i64, ty: &str, f: &str, value: Value, time: u64) -> &mut Hist {
        self.lines.push(
            json!({"process": process, "type": ty, "f": f, "key": "x", "value": value, "time": time})
                .to_string(),
        );
        self
    }

    /// An event on key "x" without a time (line order is the clock).
    pub fn ev_untimed(&mut self, process: i64, ty: &str, f: &str, value: Value) -> &mut Hist {
        self.lines.push(
            json!({"process": process, "type": ty, "f": f, "key": "x", "value": value}).to_string(),
        );
        self
    }

    pub fn raw(&mut self, line: &str) -> &mut Hist {
        self.lines.push(line.to_owned());
        self
    }

    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

//! raft-rs logs through `slog`; this drain forwards its records to `tracing` (target
//! `cairn_raft::raft`), so one subscriber sees everything. raft-rs's info-level chatter
//! (elections, conf changes) becomes `debug`, its debug/trace `trace`.

use slog::{Drain, Level, OwnedKVList, Record, KV};

struct TracingDrain;

struct KvCollector(String);

impl slog::Serializer for KvCollector {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let enabled = match record.level() {
            Level::Critical | Level::Error | Level::Warning => {
                tracing::enabled!(target: "cairn_raft::raft", tracing::Level::WARN)
            }
            Level::Info => tracing::enabled!(target: "cairn_raft::raft", tracing::Level::DEBUG),
            Level::Debug | Level::Trace => {
                tracing::enabled!(target: "cairn_raft::raft", tracing::Level::TRACE)
            }
        };
        if !enabled {
            return Ok(());
        }
        let mut kv = KvCollector(String::new());
        let _ = record.kv().serialize(record, &mut kv);
        let _ = values.serialize(record, &mut kv);
        let msg = record.msg();
        match record.level() {
            Level::Critical | Level::Error | Level::Warning => {
                tracing::warn!(target: "cairn_raft::raft", "{msg}{}", kv.0)
            }
            Level::Info => tracing::debug!(target: "cairn_raft::raft", "{msg}{}", kv.0),
            Level::Debug | Level::Trace => {
                tracing::trace!(target: "cairn_raft::raft", "{msg}{}", kv.0)
            }
        }
        Ok(())
    }
}

/// A logger for raft-rs tagged with the node and range.
pub fn raft_logger(node: u64, range: u64) -> slog::Logger {
    slog::Logger::root(
        TracingDrain.fuse(),
        slog::o!("node" => node, "range" => range),
    )
}

//! One result line per (engine, workload): the JSON object `--json` prints and the row of the
//! human table.

use serde::Serialize;

/// Result of one workload on one engine.
///
/// The serialized field set and names are an interface (scripts compare runs by them):
/// `engine, workload, threads, num, ops_per_sec, p50_us, p99_us, p999_us, write_amp,
/// space_amp, peak_rss_mb`. Fields marked `skip` appear only in the human table.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadReport {
    pub engine: &'static str,
    pub workload: &'static str,
    pub threads: usize,
    /// Operations the workload performed.
    pub num: u64,
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// `None` for reads and for engines that do not count table writes.
    pub write_amp: Option<f64>,
    /// `None` for reads.
    pub space_amp: Option<f64>,
    /// Process-wide peak resident set (VmHWM) after the workload; `None` off Linux.
    pub peak_rss_mb: Option<f64>,
    /// Wall time of the operation loop.
    #[serde(skip)]
    pub elapsed_secs: f64,
    /// Wall time of the flush + compaction wait after a write workload.
    #[serde(skip)]
    pub settle_secs: Option<f64>,
    /// Reads: gets that found their key, or entries returned by scans.
    #[serde(skip)]
    pub found: Option<u64>,
}

impl WorkloadReport {
    /// The `--json` line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a report of plain numbers and strings serializes")
    }

    /// Header of the human table, matching [`WorkloadReport::table_row`].
    pub fn table_header() -> String {
        format!(
            "{:<8} {:<11} {:>3} {:>9} {:>11} {:>9} {:>9} {:>9} {:>6} {:>6} {:>8} {:>8} {:>10}",
            "engine",
            "workload",
            "thr",
            "num",
            "ops/s",
            "p50 us",
            "p99 us",
            "p99.9 us",
            "w-amp",
            "s-amp",
            "settle s",
            "rss MB",
            "found"
        )
    }

    pub fn table_row(&self) -> String {
        let amp = |a: Option<f64>| a.map_or_else(|| "-".to_owned(), |a| format!("{a:.2}"));
        format!(
            "{:<8} {:<11} {:>3} {:>9} {:>11.0} {:>9.2} {:>9.2} {:>9.2} {:>6} {:>6} {:>8} {:>8} {:>10}",
            self.engine,
            self.workload,
            self.threads,
            self.num,
            self.ops_per_sec,
            self.p50_us,
            self.p99_us,
            self.p999_us,
            amp(self.write_amp),
            amp(self.space_amp),
            self.settle_secs.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}")),
            self.peak_rss_mb.map_or_else(|| "-".to_owned(), |m| format!("{m:.0}")),
            self.found.map_or_else(|| "-".to_owned(), |f| f.to_string()),
        )
    }
}

/// Peak resident set size of this process in MiB (`VmHWM` of `/proc/self/status`), or
/// `None` where that file does not exist or lacks the line.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm_kb(&status).map(|kb| kb as f64 / 1024.0)
}

/// Parses the `VmHWM:     1234 kB` line of `/proc/<pid>/status`.
fn parse_vm_hwm_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let kb = fields.next()?.parse().ok()?;
    (fields.next() == Some("kB")).then_some(kb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> WorkloadReport {
        WorkloadReport {
            engine: "cairn",
            workload: "fillseq",
            threads: 2,
            num: 1000,
            ops_per_sec: 12345.6,
            p50_us: 1.5,
            p99_us: 10.0,
            p999_us: 100.25,
            write_amp: Some(1.5),
            space_amp: None,
            peak_rss_mb: Some(64.0),
            elapsed_secs: 0.1,
            settle_secs: Some(0.2),
            found: None,
        }
    }

    #[test]
    fn json_line_has_exactly_the_documented_fields() {
        let value: serde_json::Value =
            serde_json::from_str(&report().to_json_line()).expect("report line is JSON");
        let object = value.as_object().expect("report line is an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "engine",
                "num",
                "ops_per_sec",
                "p50_us",
                "p999_us",
                "p99_us",
                "peak_rss_mb",
                "space_amp",
                "threads",
                "workload",
                "write_amp"
            ]
        );
        assert_eq!(object["space_amp"], serde_json::Value::Null);
        assert_eq!(object["write_amp"], serde_json::json!(1.5));
        assert_eq!(object["engine"], serde_json::json!("cairn"));
    }

    #[test]
    fn table_row_lines_up_with_header() {
        assert_eq!(
            WorkloadReport::table_header().len(),
            report().table_row().len()
        );
    }

    #[test]
    fn vm_hwm_parses_from_status_text() {
        let status = "Name:\tcairn\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm_kb(status), Some(2048));
        assert_eq!(parse_vm_hwm_kb("Name:\tcairn\n"), None);
        assert_eq!(parse_vm_hwm_kb("VmHWM:\t 12 MB\n"), None);
    }
}

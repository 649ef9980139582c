//! The `check-history` command line.
//!
//! **What**: argument parsing, running one checker, and printing its report as text or JSON.
//! **Role**: [`run_cli`] is called by the `cairn-check-history` binary and (later) by the
//! `cairn` CLI; it calls the parser and the checkers.
//!
//! **Invariants**
//! 1. Exit status: 0 valid/linearizable, 1 violation, 2 unknown (search budget exhausted),
//!    3 malformed history, unreadable file or bad arguments (`it::cli::*`).
//! 2. Everything, errors included, is written to `out`; with `--json` it is one JSON document.
//!
//! **Concurrency**: none.

use std::io::Write;

use serde_json::{json, Value};

use crate::bank::{self, BankOptions, BankViolation};
use crate::error::CheckError;
use crate::history::{self, Outcome};
use crate::list_append::{self, ListAppendOptions};
use crate::register::{self, OpView, RegisterOptions, Verdict};

const USAGE: &str = "usage: check-history [--workload register|bank|list-append] [--initial V] \
[--max-steps N] [--json] [--total N] [--accounts a,b] [--allow-negative] [--realtime] FILE
exit status: 0 valid, 1 violation, 2 unknown (budget exhausted), 3 malformed input or bad arguments";

/// Exit status: the history is valid (linearizable).
pub const EXIT_VALID: i32 = 0;
/// Exit status: a violation was found.
pub const EXIT_VIOLATION: i32 = 1;
/// Exit status: the search budget ran out.
pub const EXIT_UNKNOWN: i32 = 2;
/// Exit status: malformed history, unreadable file or bad arguments.
pub const EXIT_MALFORMED: i32 = 3;

/// Number of entries of a long partial linearization shown in text output.
const LINEARIZATION_SHOWN_MAX: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Register,
    Bank,
    ListAppend,
}

#[derive(Debug)]
struct Args {
    workload: Workload,
    json: bool,
    register: RegisterOptions,
    bank: BankOptions,
    list_append: ListAppendOptions,
    file: String,
}

/// Runs `check-history` with `args` (the arguments after the program or subcommand name; a
/// leading `check-history` is skipped), writing the report to `out`. Returns the exit status.
pub fn run_cli(args: &[String], out: &mut dyn Write) -> i32 {
    let args = match args.split_first() {
        Some((first, rest)) if first == "check-history" => rest,
        _ => args,
    };
    if args.iter().any(|a| a == "--help" || a == "-h") {
        let _ = writeln!(out, "{USAGE}");
        return EXIT_VALID;
    }
    let parsed = match parse_args(args) {
        Ok(a) => a,
        Err(message) => {
            let _ = writeln!(out, "check-history: {message}\n{USAGE}");
            return EXIT_MALFORMED;
        }
    };
    match run(&parsed, out) {
        Ok(code) => code,
        Err(error) => {
            let message = error_chain(&error);
            if parsed.json {
                let doc = json!({"verdict": "malformed", "error": message, "line": error.line()});
                let _ = writeln!(out, "{doc}");
            } else {
                let _ = writeln!(out, "{message}");
            }
            EXIT_MALFORMED
        }
    }
}

fn error_chain(error: &CheckError) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        workload: Workload::Register,
        json: false,
        register: RegisterOptions::default(),
        bank: BankOptions::default(),
        list_append: ListAppendOptions::default(),
        file: String::new(),
    };
    let mut file: Option<String> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--workload" => {
                parsed.workload = match value("--workload")?.as_str() {
                    "register" => Workload::Register,
                    "bank" => Workload::Bank,
                    "list-append" => Workload::ListAppend,
                    other => return Err(format!("unknown workload `{other}`")),
                }
            }
            "--initial" => {
                let v = value("--initial")?;
                // A JSON value, or else the text as a string.
                parsed.register.initial = serde_json::from_str(&v).unwrap_or(Value::String(v));
            }
            "--max-steps" => {
                let v = value("--max-steps")?;
                parsed.register.max_steps = v.parse().map_err(|_| {
                    format!("--max-steps must be a non-negative integer, not `{v}`")
                })?;
            }
            "--total" => {
                let v = value("--total")?;
                parsed.bank.total = Some(
                    v.parse()
                        .map_err(|_| format!("--total must be an integer, not `{v}`"))?,
                );
            }
            "--accounts" => {
                let v = value("--accounts")?;
                parsed.bank.accounts = Some(
                    v.split(',')
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned)
                        .collect(),
                );
            }
            "--json" => parsed.json = true,
            "--allow-negative" => parsed.bank.allow_negative = true,
            "--realtime" => parsed.list_append.realtime = true,
            other if other.starts_with("--") => return Err(format!("unknown option `{other}`")),
            other => {
                if file.is_some() {
                    return Err(format!("more than one history file (`{other}`)"));
                }
                file = Some(other.to_owned());
            }
        }
    }
    parsed.file = file.ok_or("no history file given")?;
    Ok(parsed)
}

fn exit_code(verdict: Verdict) -> i32 {
    match verdict {
        Verdict::Valid => EXIT_VALID,
        Verdict::Invalid => EXIT_VIOLATION,
        Verdict::Unknown => EXIT_UNKNOWN,
    }
}

fn run(args: &Args, out: &mut dyn Write) -> Result<i32, CheckError> {
    let bytes = std::fs::read(&args.file).map_err(|source| CheckError::Read {
        path: args.file.clone(),
        source,
    })?;
    let history = history::parse(&bytes)?;
    let code = match args.workload {
        Workload::Register => {
            let report = register::check(&history, &args.register)?;
            if args.json {
                let doc =
                    json!({"workload": "register", "verdict": report.verdict, "report": report});
                let _ = writeln!(out, "{doc}");
            } else {
                let _ = write_register(&report, out);
            }
            exit_code(report.verdict)
        }
        Workload::Bank => {
            let report = bank::check(&history, &args.bank)?;
            if args.json {
                let doc = json!({"workload": "bank", "verdict": report.verdict, "report": report});
                let _ = writeln!(out, "{doc}");
            } else {
                let _ = write_bank(&report, out);
            }
            exit_code(report.verdict)
        }
        Workload::ListAppend => {
            let report = list_append::check(&history, &args.list_append)?;
            if args.json {
                let doc =
                    json!({"workload": "list-append", "verdict": report.verdict, "report": report});
                let _ = writeln!(out, "{doc}");
            } else {
                let _ = write_list_append(&report, out);
            }
            exit_code(report.verdict)
        }
    };
    Ok(code)
}

fn show_op(op: &OpView) -> String {
    let what = match (op.f.as_str(), op.outcome) {
        ("read", Outcome::Ok) => format!("read -> {}", op.result),
        ("read", _) => "read".to_owned(),
        (f, _) => format!("{f} {}", op.value),
    };
    let outcome = match op.outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info if op.complete_line.is_some() => "info",
        Outcome::Info => "pending",
    };
    let lines = match op.complete_line {
        Some(c) => format!("lines {}..{}", op.invoke_line, c),
        None => format!("line {}..", op.invoke_line),
    };
    format!("p{} {what} ({outcome}, {lines})", op.process)
}

fn write_register(report: &register::RegisterReport, out: &mut dyn Write) -> std::io::Result<()> {
    match report.verdict {
        Verdict::Valid => writeln!(
            out,
            "linearizable ({} keys, {} operations)",
            report.key_count, report.op_count
        )?,
        Verdict::Invalid => writeln!(out, "NOT linearizable")?,
        Verdict::Unknown => writeln!(out, "unknown: search budget exhausted")?,
    }
    for key in &report.keys {
        match key.verdict {
            Verdict::Unknown => {
                writeln!(
                    out,
                    "key {}: unknown (gave up after {} search steps, {} operations)",
                    key.key, key.steps, key.op_count
                )?;
                continue;
            }
            Verdict::Valid => continue,
            Verdict::Invalid => {}
        }
        writeln!(
            out,
            "key {}: NOT linearizable ({} operations)",
            key.key, key.op_count
        )?;
        let Some(cx) = &key.counterexample else {
            continue;
        };
        writeln!(out, "  fails at the completion of: {}", show_op(&cx.op))?;
        let start = match &cx.window_initial {
            None => "any value".to_owned(),
            Some(v) => v.to_string(),
        };
        writeln!(
            out,
            "  window: {} operations, register starting at {start} (? = may or may not have taken effect):",
            cx.window.len()
        )?;
        for op in &cx.window {
            writeln!(
                out,
                "    {} {}",
                if op.maybe { "?" } else { " " },
                show_op(op)
            )?;
        }
        let n = cx.longest_linearization.len();
        let ok_placed = cx.longest_linearization.iter().filter(|o| !o.maybe).count();
        writeln!(
            out,
            "  longest partial linearization of the window ({n} operations; {ok_placed} of its {} ok operations){}:",
            cx.window_ok_count,
            if n > LINEARIZATION_SHOWN_MAX {
                format!(", last {LINEARIZATION_SHOWN_MAX} shown")
            } else {
                String::new()
            }
        )?;
        for op in cx
            .longest_linearization
            .iter()
            .skip(n.saturating_sub(LINEARIZATION_SHOWN_MAX))
        {
            writeln!(
                out,
                "    {} {}",
                if op.maybe { "?" } else { " " },
                show_op(op)
            )?;
        }
        if cx.approximate {
            writeln!(
                out,
                "  (a search budget ran out while explaining: the window may not be minimal)"
            )?;
        }
    }
    Ok(())
}

fn write_bank(report: &bank::BankReport, out: &mut dyn Write) -> std::io::Result<()> {
    let total = report.total.map_or("-".to_owned(), |t| t.to_string());
    match report.verdict {
        Verdict::Valid => writeln!(out, "valid ({} reads, total {total})", report.read_count)?,
        _ => writeln!(
            out,
            "NOT valid: {} violations in {} reads (total {total})",
            report.violations.len(),
            report.read_count
        )?,
    }
    for v in &report.violations {
        match v {
            BankViolation::WrongTotal {
                line,
                expected,
                found,
            } => writeln!(
                out,
                "  line {line}: balances sum to {found}, expected {expected}"
            )?,
            BankViolation::MissingAccount { line, account } => {
                writeln!(out, "  line {line}: account {account} missing")?
            }
            BankViolation::UnexpectedAccount { line, account } => {
                writeln!(out, "  line {line}: unexpected account {account}")?
            }
            BankViolation::NegativeBalance {
                line,
                account,
                balance,
            } => writeln!(
                out,
                "  line {line}: account {account} has negative balance {balance}"
            )?,
        }
    }
    Ok(())
}

fn write_list_append(
    report: &list_append::ListAppendReport,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if report.verdict == Verdict::Valid {
        return writeln!(
            out,
            "valid ({} transactions, no anomaly found)",
            report.txn_count
        );
    }
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    writeln!(out, "NOT valid: {}", counts.join(", "))?;
    for a in &report.anomalies {
        let lines: Vec<String> = a
            .txns
            .iter()
            .map(|t| format!("{} (p{})", t.invoke_line, t.process))
            .collect();
        writeln!(
            out,
            "  {}: {} [transactions at lines {}]",
            a.kind,
            a.explanation,
            lines.join(", ")
        )?;
    }
    Ok(())
}

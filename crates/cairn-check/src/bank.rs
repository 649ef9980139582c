//! Bank invariant checker.
//!
//! **What**: checks every `ok` read of a bank history: the balances sum to the total, the
//! accounts are exactly the expected ones, and (unless allowed) no balance is negative.
//! **Role**: called by [`crate::run_cli`] for `--workload bank`; reads a parsed [`History`].
//!
//! **Format read**: `read` ok values are `{"account": balance, ...}` or
//! `{"accounts": {"account": balance, ...}}`; balances are integers. `transfer` invocations carry
//! `{"from": a, "to": b, "amount": n}`; transfers are only validated for shape, since the
//! invariant is about what reads saw. `key` is ignored.
//!
//! **Invariants**
//! 1. The expected total is `--total`, else the sum of the first `ok` read (in history order);
//!    every other `ok` read is compared with it (`it::bank::*`).
//! 2. Reads that did not complete `ok` are ignored: their values are not results.
//!
//! **Concurrency**: pure function.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{CheckError, Malformed};
use crate::history::{History, Outcome};
use crate::register::Verdict;

/// Options of the bank checker.
#[derive(Debug, Clone, Default)]
pub struct BankOptions {
    /// The invariant total; `None` takes the first `ok` read's sum.
    pub total: Option<i64>,
    /// The exact set of accounts every read must contain; `None` does not check it.
    pub accounts: Option<Vec<String>>,
    /// Accept negative balances.
    pub allow_negative: bool,
}

/// One broken invariant in one read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BankViolation {
    WrongTotal {
        line: usize,
        expected: i128,
        found: i128,
    },
    MissingAccount {
        line: usize,
        account: String,
    },
    UnexpectedAccount {
        line: usize,
        account: String,
    },
    NegativeBalance {
        line: usize,
        account: String,
        balance: i64,
    },
}

/// Result of the bank checker.
#[derive(Debug, Clone, Serialize)]
pub struct BankReport {
    pub verdict: Verdict,
    /// Number of `ok` reads checked.
    pub read_count: usize,
    /// The total reads were compared with (`None` when there was no read).
    pub total: Option<i128>,
    pub violations: Vec<BankViolation>,
}

/// Checks a bank history.
pub fn check(history: &History, options: &BankOptions) -> Result<BankReport, CheckError> {
    let mut total: Option<i128> = options.total.map(i128::from);
    let expected_accounts: Option<BTreeSet<&str>> = options
        .accounts
        .as_ref()
        .map(|a| a.iter().map(String::as_str).collect());
    let mut report = BankReport {
        verdict: Verdict::Valid,
        read_count: 0,
        total: None,
        violations: Vec::new(),
    };
    for op in &history.ops {
        match op.f.as_str() {
            "transfer" => {
                let ok = op.invoke_value.as_object().is_some_and(|o| {
                    o.contains_key("from")
                        && o.contains_key("to")
                        && o.get("amount").is_some_and(Value::is_number)
                });
                if !ok {
                    return Err(CheckError::at(
                        op.invoke_line,
                        Malformed::BadValue {
                            f: "transfer",
                            expected: r#"an object {"from": a, "to": b, "amount": n}"#,
                        },
                    ));
                }
            }
            "read" => {
                if op.outcome != Outcome::Ok {
                    continue;
                }
                let line = op.complete_line.unwrap_or(op.invoke_line);
                let balances = balances(&op.complete_value, line)?;
                report.read_count += 1;
                let sum: i128 = balances.iter().map(|(_, b)| i128::from(*b)).sum();
                let expected = *total.get_or_insert(sum);
                if sum != expected {
                    report.violations.push(BankViolation::WrongTotal {
                        line,
                        expected,
                        found: sum,
                    });
                }
                if let Some(expected_accounts) = &expected_accounts {
                    let seen: BTreeSet<&str> = balances.iter().map(|(a, _)| *a).collect();
                    for missing in expected_accounts.difference(&seen) {
                        report.violations.push(BankViolation::MissingAccount {
                            line,
                            account: (*missing).to_owned(),
                        });
                    }
                    for extra in seen.difference(expected_accounts) {
                        report.violations.push(BankViolation::UnexpectedAccount {
                            line,
                            account: (*extra).to_owned(),
                        });
                    }
                }
                if !options.allow_negative {
                    for (account, balance) in &balances {
                        if *balance < 0 {
                            report.violations.push(BankViolation::NegativeBalance {
                                line,
                                account: (*account).to_owned(),
                                balance: *balance,
                            });
                        }
                    }
                }
            }
            other => {
                return Err(CheckError::at(
                    op.invoke_line,
                    Malformed::UnknownFunction {
                        workload: "bank",
                        f: other.to_owned(),
                        expected: "read or transfer",
                    },
                ))
            }
        }
    }
    report.total = total;
    if !report.violations.is_empty() {
        report.verdict = Verdict::Invalid;
    }
    Ok(report)
}

/// The balances of a read result, in account order.
fn balances(value: &Value, line: usize) -> Result<Vec<(&str, i64)>, CheckError> {
    let bad = || {
        CheckError::at(
            line,
            Malformed::BadValue {
                f: "read",
                expected: r#"an object of integer balances {"account": n, ...} or {"accounts": {...}}"#,
            },
        )
    };
    let object: &Map<String, Value> = match value {
        Value::Object(o) => match o.get("accounts") {
            Some(Value::Object(inner)) if o.len() == 1 => inner,
            _ => o,
        },
        _ => return Err(bad()),
    };
    let mut out = Vec::with_capacity(object.len());
    for (account, balance) in object {
        out.push((account.as_str(), balance.as_i64().ok_or_else(bad)?));
    }
    out.sort_unstable();
    Ok(out)
}

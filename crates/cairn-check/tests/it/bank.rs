//! Bank invariant checker.

use cairn_check::bank::{check, BankOptions, BankReport, BankViolation};
use cairn_check::{history, Verdict};

fn run(text: &str, options: BankOptions) -> BankReport {
    check(&history::parse(text.as_bytes()).unwrap(), &options).unwrap()
}

const HISTORY: &str = r#"{"process":0,"type":"invoke","f":"read","value":null}
{"process":0,"type":"ok","f":"read","value":{"a":60,"b":40}}
{"process":1,"type":"invoke","f":"transfer","value":{"from":"a","to":"b","amount":70}}
{"process":1,"type":"ok","f":"transfer","value":{"from":"a","to":"b","amount":70}}
{"process":0,"type":"invoke","f":"read","value":null}
{"process":0,"type":"ok","f":"read","value":{"accounts":{"a":-10,"b":110}}}
{"process":2,"type":"invoke","f":"read","value":null}
{"process":2,"type":"info","f":"read","value":{"a":1000}}
"#;

#[test]
fn consistent_reads_are_valid_when_negative_balances_are_allowed() {
    let report = run(
        HISTORY,
        BankOptions {
            allow_negative: true,
            ..BankOptions::default()
        },
    );
    assert_eq!(report.verdict, Verdict::Valid, "{report:?}");
    assert_eq!(report.read_count, 2, "the info read is ignored");
    assert_eq!(report.total, Some(100), "total taken from the first read");
}

#[test]
fn negative_balance_is_a_violation_by_default() {
    let report = run(HISTORY, BankOptions::default());
    assert_eq!(report.verdict, Verdict::Invalid);
    assert_eq!(
        report.violations,
        vec![BankViolation::NegativeBalance {
            line: 6,
            account: "a".into(),
            balance: -10
        }]
    );
}

#[test]
fn wrong_total_is_reported_with_its_line() {
    let report = run(
        HISTORY,
        BankOptions {
            total: Some(90),
            allow_negative: true,
            ..BankOptions::default()
        },
    );
    assert_eq!(report.verdict, Verdict::Invalid);
    assert_eq!(
        report.violations,
        vec![
            BankViolation::WrongTotal {
                line: 2,
                expected: 90,
                found: 100
            },
            BankViolation::WrongTotal {
                line: 6,
                expected: 90,
                found: 100
            },
        ]
    );
}

#[test]
fn lost_money_between_reads() {
    let text = r#"{"process":0,"type":"invoke","f":"read"}
{"process":0,"type":"ok","f":"read","value":{"a":50,"b":50}}
{"process":0,"type":"invoke","f":"read"}
{"process":0,"type":"ok","f":"read","value":{"a":20,"b":50}}
"#;
    let report = run(text, BankOptions::default());
    assert_eq!(
        report.violations,
        vec![BankViolation::WrongTotal {
            line: 4,
            expected: 100,
            found: 70
        }]
    );
}

#[test]
fn account_set_is_checked_when_given() {
    let report = run(
        HISTORY,
        BankOptions {
            accounts: Some(vec!["a".into(), "c".into()]),
            allow_negative: true,
            ..BankOptions::default()
        },
    );
    assert!(report.violations.contains(&BankViolation::MissingAccount {
        line: 2,
        account: "c".into()
    }));
    assert!(report
        .violations
        .contains(&BankViolation::UnexpectedAccount {
            line: 6,
            account: "b".into()
        }));
    assert_eq!(report.violations.len(), 4);
}

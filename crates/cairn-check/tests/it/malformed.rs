//! Every malformed-input path, with the line number it must report.

use cairn_check::{history, Malformed};

use crate::Hist;

/// Parses `text` and returns the error's line and reason.
fn parse_err(text: &str) -> (usize, Malformed) {
    match history::parse(text.as_bytes()) {
        Ok(h) => panic!("expected an error, parsed {} ops", h.ops.len()),
        Err(e) => {
            let line = e.line().expect("a line number");
            match e {
                cairn_check::CheckError::Malformed { reason, .. } => (line, reason),
                other => panic!("unexpected error {other}"),
            }
        }
    }
}

const INV: &str = r#"{"process":0,"type":"invoke","f":"read","key":"x","value":null}"#;
const OK: &str = r#"{"process":0,"type":"ok","f":"read","key":"x","value":null}"#;

#[test]
fn invalid_json_reports_its_line_after_comments_and_blank_lines() {
    let (line, reason) = parse_err(&format!("# a comment\n\n{INV}\n{{not json\n"));
    assert_eq!(line, 4);
    assert!(matches!(reason, Malformed::Json(_)), "{reason:?}");
}

#[test]
fn non_object_line() {
    let (line, reason) = parse_err("[1, 2]\n");
    assert_eq!(line, 1);
    assert!(matches!(reason, Malformed::NotObject));
}

#[test]
fn missing_fields() {
    for (text, field) in [
        (r#"{"type":"invoke","f":"read"}"#, "process"),
        (r#"{"process":1,"f":"read"}"#, "type"),
        (r#"{"process":1,"type":"invoke"}"#, "f"),
    ] {
        let (line, reason) = parse_err(&format!("{INV}\n{OK}\n{text}\n"));
        assert_eq!(line, 3);
        assert!(
            matches!(reason, Malformed::MissingField { field: f } if f == field),
            "{reason:?}"
        );
    }
}

#[test]
fn wrongly_typed_fields() {
    for (text, field) in [
        (r#"{"process":"a","type":"invoke","f":"read"}"#, "process"),
        (r#"{"process":1.5,"type":"invoke","f":"read"}"#, "process"),
        (r#"{"process":1,"type":3,"f":"read"}"#, "type"),
        (r#"{"process":1,"type":"invoke","f":null}"#, "f"),
    ] {
        let (line, reason) = parse_err(&format!("{text}\n"));
        assert_eq!(line, 1);
        assert!(
            matches!(reason, Malformed::FieldType { field: f, .. } if f == field),
            "{text}: {reason:?}"
        );
    }
}

#[test]
fn unknown_event_type() {
    let (line, reason) = parse_err(&format!("{INV}\n{}\n", OK.replace("\"ok\"", "\"done\"")));
    assert_eq!(line, 2);
    assert!(matches!(reason, Malformed::UnknownType { found } if found == "done"));
}

#[test]
fn negative_or_fractional_time() {
    for t in ["-1", "1.5", "\"5\""] {
        let text = format!(r#"{{"process":0,"type":"invoke","f":"read","time":{t}}}"#);
        let (line, reason) = parse_err(&format!("{text}\n"));
        assert_eq!(line, 1);
        assert!(
            matches!(reason, Malformed::FieldType { field: "time", .. }),
            "{t}: {reason:?}"
        );
    }
}

#[test]
fn time_on_some_lines_only() {
    let timed = r#"{"process":0,"type":"invoke","f":"read","time":5}"#;
    let untimed_ok = r#"{"process":0,"type":"ok","f":"read"}"#;
    let (line, reason) = parse_err(&format!("{timed}\n{untimed_ok}\n"));
    assert_eq!(line, 2);
    assert!(matches!(reason, Malformed::TimeMissing { timed_line: 1 }));

    let timed_ok = r#"{"process":0,"type":"ok","f":"read","time":5}"#;
    let (line, reason) = parse_err(&format!("{INV}\n\n{timed_ok}\n"));
    assert_eq!(line, 3);
    assert!(matches!(
        reason,
        Malformed::TimeUnexpected { untimed_line: 1 }
    ));
}

#[test]
fn decreasing_time() {
    let mut h = Hist::new();
    h.ev(0, "invoke", "read", serde_json::Value::Null, 10).ev(
        0,
        "ok",
        "read",
        serde_json::Value::Null,
        9,
    );
    let (line, reason) = parse_err(&h.text());
    assert_eq!(line, 2);
    assert!(matches!(
        reason,
        Malformed::TimeDecreased {
            found: 9,
            previous: 10,
            previous_line: 1
        }
    ));
}

#[test]
fn second_invocation_while_in_flight() {
    let (line, reason) = parse_err(&format!("{INV}\n{INV}\n"));
    assert_eq!(line, 2);
    assert!(matches!(
        reason,
        Malformed::InvokeWhilePending {
            process: 0,
            pending_line: 1
        }
    ));
}

#[test]
fn completion_without_invocation() {
    let (line, reason) = parse_err(&format!("{INV}\n{OK}\n{OK}\n"));
    assert_eq!(line, 3);
    assert!(matches!(
        reason,
        Malformed::CompletionWithoutInvoke { process: 0 }
    ));
}

#[test]
fn completion_with_other_function_or_key() {
    let (line, reason) = parse_err(&format!("{INV}\n{}\n", OK.replace("read", "write")));
    assert_eq!(line, 2);
    assert!(matches!(
        reason,
        Malformed::FunctionMismatch { invoke_line: 1, .. }
    ));

    let (line, reason) = parse_err(&format!("{INV}\n{}\n", OK.replace("\"x\"", "\"y\"")));
    assert_eq!(line, 2);
    assert!(matches!(
        reason,
        Malformed::KeyMismatch { invoke_line: 1, .. }
    ));
}

#[test]
fn completion_may_omit_the_key() {
    let h =
        history::parse(format!("{INV}\n{}\n", OK.replace(r#","key":"x""#, "")).as_bytes()).unwrap();
    assert_eq!(h.ops[0].key, Some(serde_json::json!("x")));
}

#[test]
fn extra_fields_are_ignored() {
    let text = r#"{"process":0,"type":"invoke","f":"read","node":"n2","error":null}"#;
    assert!(history::parse(format!("{text}\n").as_bytes()).is_ok());
}

#[test]
fn invalid_utf8() {
    let mut bytes = format!("{INV}\n{OK}\n").into_bytes();
    bytes.extend_from_slice(b"{\"process\":0,\"type\":\"invoke\",\"f\":\"r\xff\"}\n");
    let err = history::parse(&bytes).unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert!(matches!(err.malformed(), Some(Malformed::NotUtf8)));
}

fn register_err(text: &str) -> (usize, String) {
    let h = history::parse(text.as_bytes()).unwrap();
    let e = cairn_check::register::check(&h, &Default::default()).unwrap_err();
    (e.line().unwrap(), e.malformed().unwrap().to_string())
}

#[test]
fn register_workload_rejects_unknown_function_and_bad_cas() {
    let text = format!(
        "{INV}\n{OK}\n{}\n",
        r#"{"process":1,"type":"invoke","f":"incr","key":"x","value":1}"#
    );
    let (line, message) = register_err(&text);
    assert_eq!(line, 3);
    assert!(message.contains("incr"), "{message}");

    let text = r#"{"process":1,"type":"invoke","f":"cas","key":"x","value":[1]}
{"process":1,"type":"ok","f":"cas","key":"x","value":[1]}
"#;
    let (line, message) = register_err(text);
    assert_eq!(line, 1);
    assert!(message.contains("pair"), "{message}");
}

#[test]
fn bank_workload_rejects_bad_values() {
    let check = |text: &str| {
        let h = history::parse(text.as_bytes()).unwrap();
        let e = cairn_check::bank::check(&h, &Default::default()).unwrap_err();
        e.line().unwrap()
    };
    let bad_read = r#"{"process":0,"type":"invoke","f":"read"}
{"process":0,"type":"ok","f":"read","value":{"a":"ten"}}
"#;
    assert_eq!(check(bad_read), 2);
    let bad_transfer = r#"{"process":0,"type":"invoke","f":"transfer","value":{"from":"a"}}
"#;
    assert_eq!(check(bad_transfer), 1);
    let unknown = r#"{"process":0,"type":"invoke","f":"read"}
{"process":0,"type":"ok","f":"read","value":{"a":1}}
{"process":0,"type":"invoke","f":"deposit"}
"#;
    assert_eq!(check(unknown), 3);
}

#[test]
fn list_append_workload_rejects_bad_values() {
    let check = |text: &str| {
        let h = history::parse(text.as_bytes()).unwrap();
        let e = cairn_check::list_append::check(&h, &Default::default()).unwrap_err();
        (e.line().unwrap(), e.malformed().unwrap().to_string())
    };
    let bad_micro = r#"{"process":0,"type":"invoke","f":"txn","value":[["append","x",1],["incr","x"]]}
{"process":0,"type":"ok","f":"txn","value":[["append","x",1],["incr","x"]]}
"#;
    let (line, message) = check(bad_micro);
    assert_eq!(line, 2, "an ok transaction is read from its completion");
    assert!(message.contains("micro-operation 1"), "{message}");

    let duplicate = r#"{"process":0,"type":"invoke","f":"txn","value":[["append","x",1]]}
{"process":0,"type":"ok","f":"txn","value":[["append","x",1]]}
{"process":1,"type":"invoke","f":"txn","value":[["append","x",1]]}
{"process":1,"type":"ok","f":"txn","value":[["append","x",1]]}
"#;
    let (line, message) = check(duplicate);
    assert_eq!(line, 3);
    assert!(message.contains("line 1"), "{message}");

    let not_txn = r#"{"process":0,"type":"invoke","f":"read","value":null}
"#;
    assert_eq!(check(not_txn).0, 1);

    let not_list = r#"{"process":0,"type":"invoke","f":"txn","value":{"append":1}}
{"process":0,"type":"fail","f":"txn","value":null}
"#;
    assert_eq!(check(not_list).0, 1);

    let read_not_list = r#"{"process":0,"type":"invoke","f":"txn","value":[["r","x",null]]}
{"process":0,"type":"ok","f":"txn","value":[["r","x",5]]}
"#;
    assert_eq!(check(read_not_list).0, 2);
}

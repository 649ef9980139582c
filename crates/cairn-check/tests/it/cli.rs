//! The `check-history` command line: exit statuses and output.

use std::path::PathBuf;

use cairn_check::run_cli;

/// Writes `text` to a fresh file in the temporary directory.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-check-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn cli(args: &[&str]) -> (i32, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let code = run_cli(&args, &mut out);
    (code, String::from_utf8(out).unwrap())
}

const GOOD: &str = r#"{"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"process":0,"type":"ok","f":"write","key":"x","value":1}
{"process":1,"type":"invoke","f":"read","key":"x","value":null}
{"process":1,"type":"ok","f":"read","key":"x","value":1}
"#;

const BAD: &str = r#"{"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"process":0,"type":"ok","f":"write","key":"x","value":1}
{"process":1,"type":"invoke","f":"read","key":"x","value":null}
{"process":1,"type":"ok","f":"read","key":"x","value":2}
"#;

#[test]
fn linearizable_history_exits_zero() {
    let path = file("good.jsonl", GOOD);
    let (code, out) = cli(&[path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("linearizable"), "{out}");
}

#[test]
fn violation_exits_one_and_explains() {
    let path = file("bad.jsonl", BAD);
    let (code, out) = cli(&[
        "check-history",
        "--workload",
        "register",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("NOT linearizable"), "{out}");
    assert!(
        out.contains("fails at the completion of: p1 read -> 2"),
        "{out}"
    );
    assert!(out.contains("window"), "{out}");
}

#[test]
fn json_output_is_one_document() {
    let path = file("bad-json.jsonl", BAD);
    let (code, out) = cli(&["--json", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(doc["verdict"], "invalid");
    assert_eq!(doc["report"]["keys"][0]["key"], "x");
    assert_eq!(
        doc["report"]["keys"][0]["counterexample"]["op"]["invoke_line"],
        3
    );
}

#[test]
fn exhausted_budget_exits_two() {
    let path = file("budget.jsonl", GOOD);
    let (code, out) = cli(&["--max-steps", "0", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn malformed_history_exits_three_with_line() {
    let path = file("malformed.jsonl", &format!("{GOOD}{{oops\n"));
    let (code, out) = cli(&[path.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(out.contains("line 5"), "{out}");
    let (code, out) = cli(&["--json", path.to_str().unwrap()]);
    assert_eq!(code, 3);
    let doc: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(doc["line"], 5);
}

#[test]
fn bad_arguments_and_missing_file_exit_three() {
    assert_eq!(cli(&[]).0, 3);
    assert_eq!(cli(&["--workload", "queue", "f"]).0, 3);
    assert_eq!(cli(&["--max-steps", "many", "f"]).0, 3);
    assert_eq!(cli(&["--frobnicate", "f"]).0, 3);
    let (code, out) = cli(&["/nonexistent/cairn-history.jsonl"]);
    assert_eq!(code, 3);
    assert!(out.contains("read history file"), "{out}");
    assert_eq!(cli(&["--help"]).0, 0);
}

#[test]
fn initial_value_is_parsed_as_json_or_text() {
    let text = r#"{"process":0,"type":"invoke","f":"read","key":"x"}
{"process":0,"type":"ok","f":"read","key":"x","value":"a"}
"#;
    let path = file("initial.jsonl", text);
    let p = path.to_str().unwrap();
    assert_eq!(cli(&[p]).0, 1);
    assert_eq!(cli(&["--initial", "a", p]).0, 0);
    assert_eq!(cli(&["--initial", "\"a\"", p]).0, 0);
    assert_eq!(cli(&["--initial", "0", p]).0, 1);
}

#[test]
fn bank_and_list_append_workloads() {
    let bank = r#"{"process":0,"type":"invoke","f":"read"}
{"process":0,"type":"ok","f":"read","value":{"a":5,"b":5}}
"#;
    let path = file("bank.jsonl", bank);
    let p = path.to_str().unwrap();
    assert_eq!(cli(&["--workload", "bank", p]).0, 0);
    assert_eq!(cli(&["--workload", "bank", "--total", "11", p]).0, 1);
    assert_eq!(cli(&["--workload", "bank", "--accounts", "a,b", p]).0, 0);
    assert_eq!(cli(&["--workload", "bank", "--accounts", "a", p]).0, 1);

    let la = r#"{"process":0,"type":"invoke","f":"txn","value":[["append","x",1]]}
{"process":0,"type":"ok","f":"txn","value":[["append","x",1]]}
{"process":1,"type":"invoke","f":"txn","value":[["r","x",null]]}
{"process":1,"type":"ok","f":"txn","value":[["r","x",[]]]}
"#;
    let path = file("la.jsonl", la);
    let p = path.to_str().unwrap();
    assert_eq!(cli(&["--workload", "list-append", p]).0, 0);
    let (code, out) = cli(&["--workload", "list-append", "--realtime", p]);
    assert_eq!(code, 1);
    assert!(out.contains("G-single-realtime"), "{out}");
}

//! Golden planner test: the plans the optimiser chooses for a fixed set of queries over
//! tables with known statistics (`tests/golden/plans.sql`), checked against
//! `tests/golden/plans.out`. A change of plan shows up as a diff of that file to review;
//! `CAIRN_BLESS=1 cargo test -p cairn --test pg planner` rewrites it.

use crate::session_fixture::{fixture, run};

const SQL: &str = include_str!("../golden/plans.sql");

fn golden_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/plans.out")
}

/// Splits the file into statements: one per line that ends with `;`, comments dropped.
fn statements(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("--") && !l.trim().is_empty())
        .map(|l| l.trim().trim_end_matches(';').to_string())
        .collect()
}

#[test]
fn planner_golden_plans() {
    let (setup, queries) = SQL
        .split_once("\n-- queries\n")
        .expect("plans.sql has a `-- queries` line");
    let f = fixture();
    let mut s = f.session();
    for stmt in statements(setup) {
        let out = run(&mut s, &stmt);
        assert!(
            !out.iter().any(|l| l.starts_with("ERROR")),
            "{stmt}: {out:?}"
        );
    }
    let mut got = String::new();
    for q in statements(queries) {
        got.push_str(&format!("{q}\n"));
        for line in run(&mut s, &format!("EXPLAIN {q}")) {
            got.push_str(&format!("  {line}\n"));
        }
        got.push('\n');
    }
    let path = golden_path();
    if std::env::var_os("CAIRN_BLESS").is_some() {
        std::fs::write(&path, &got).expect("write plans.out");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != got {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}:\n  want: {a}\n  got:  {b}", i + 1))
            .collect();
        panic!(
            "plans changed (review, then CAIRN_BLESS=1 to accept):\n{}\n--- got ---\n{got}",
            diff.join("\n")
        );
    }
}

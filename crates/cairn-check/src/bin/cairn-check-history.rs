//! `cairn-check-history`: checks a chaos-test history file; see `docs/history-checker.md`.
//! A thin wrapper over [`cairn_check::run_cli`]; the exit status is its result.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout().lock();
    let code = cairn_check::run_cli(&args, &mut out);
    std::process::exit(code);
}

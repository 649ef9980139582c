//! cairn-check: checkers for the histories that Cairn's chaos tests record.
//!
//! Test tier (like cairn-sim and cairn-testkit): it depends on no other Cairn crate, and the
//! `cairn` binary will expose it as a subcommand. It is an offline analysis tool: it reads a
//! finished history (JSON Lines, `docs/history-checker.md`) and decides whether a correct
//! database could have produced it. It does not record histories or talk to a cluster.
//!
//! Modules:
//! - [`history`]: parsing and validation of the history format into [`History`] / [`Op`];
//! - [`register`]: per-key linearizability of read/write/cas registers (the main checker),
//!   with counterexamples;
//! - [`bank`]: the bank invariant (every read sums to the total, no negative balance);
//! - [`list_append`]: Elle-style anomalies and dependency cycles of list-append transactions;
//! - [`cli`]: [`run_cli`], the `check-history` command line (exit status 0/1/2/3).
//!
//! Errors: [`CheckError`]; a malformed history carries the line number. Single-threaded,
//! pure functions apart from reading the history file in [`run_cli`].
//!
//! ```
//! let text = br#"{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1}
//! {"process": 0, "type": "ok", "f": "write", "key": "x", "value": 1}
//! {"process": 1, "type": "invoke", "f": "read", "key": "x", "value": null}
//! {"process": 1, "type": "ok", "f": "read", "key": "x", "value": null}
//! "#;
//! let history = cairn_check::history::parse(text)?;
//! let report = cairn_check::register::check(&history, &Default::default())?;
//! // The read began after the write completed, so it must see 1.
//! assert_eq!(report.verdict, cairn_check::Verdict::Invalid);
//! # Ok::<(), cairn_check::CheckError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod bank;
pub mod cli;
pub mod error;
pub mod history;
pub mod list_append;
pub mod register;

pub use cli::run_cli;
pub use error::{CheckError, Malformed};
pub use history::{History, Op, Outcome};
pub use register::Verdict;

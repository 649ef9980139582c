//! The in-process session fixture the `sql_session` and `sql_types` tests share: an engine
//! over a fresh on-disk MVCC database, and helpers that run SQL and render outcomes as text.

use std::sync::Arc;

use cairn::sql_store::MvccStore;
use cairn_sql_exec::{Engine, ExecResult, Session};

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub engine: Arc<Engine>,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = cairn::Db::open(dir.path(), cairn::DbOptions::default()).expect("open");
    let engine = Engine::new(Arc::new(MvccStore::new(Arc::new(db)))).expect("engine");
    Fixture { _dir: dir, engine }
}

impl Fixture {
    pub fn session(&self) -> Session {
        self.engine
            .open_session("postgres", "postgres")
            .expect("session")
    }
}

/// Runs a batch and returns each statement's outcome as text: rows as `a|b` lines (NULL as
/// `NULL`), commands as their tag, errors as `ERROR <sqlstate> <message>`.
pub fn run(s: &mut Session, sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = s.start_batch(sql) {
        return vec![format!("ERROR {} {}", e.code, e.message)];
    }
    while let Some(r) = s.next_in_batch() {
        match r {
            Ok(ExecResult::Rows { columns, rows, .. }) => {
                for row in rows {
                    let cells: Vec<String> = row
                        .iter()
                        .zip(&columns)
                        .map(|(v, c)| v.to_text(&c.ty).unwrap_or_else(|| "NULL".into()))
                        .collect();
                    out.push(cells.join("|"));
                }
            }
            Ok(ExecResult::Command { tag }) => out.push(tag),
            Ok(ExecResult::Empty) => out.push("EMPTY".into()),
            Ok(ExecResult::CopyIn { .. }) => out.push("COPY IN".into()),
            Ok(ExecResult::CopyOut { data, .. }) => {
                out.push(String::from_utf8_lossy(&data.concat()).into_owned())
            }
            Err(e) => out.push(format!("ERROR {} {}", e.code, e.message)),
        }
    }
    out
}

pub fn one(s: &mut Session, sql: &str) -> String {
    run(s, sql).join("\n")
}

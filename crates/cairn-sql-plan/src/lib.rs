//! `cairn-sql-plan`: the front half of Cairn's SQL engine.
//!
//! What it is: parsing (sqlparser, PostgreSQL dialect), binding against a catalog
//! ([`bind::Binder`], [`catalog::Catalog`]), the type system ([`types`]), bound expressions and
//! their evaluation ([`expr`]), plans ([`plan`]) and the rewrite rules that turn a logical plan
//! into the physical one ([`rules`]). What it is not: it does no I/O and holds no state across
//! statements; the catalog and the executor live in `cairn-sql-exec`.
//!
//! Layer 6 (STYLE.md §1): depends on `cairn-types` and `cairn-codec` only.
//! Threading: everything here is plain data and pure functions, `Send + Sync`.

pub mod bind;
pub mod catalog;
pub mod error;
pub mod explain;
pub mod expr;
pub mod plan;
pub mod rules;
pub mod types;

pub use error::{code, Result, SqlError};

/// How deeply expressions may nest. Generated queries (ORMs, the sqllogictest corpus) nest
/// parentheses a few hundred levels deep; the binder and evaluator recurse as deep, which the
/// server's 16 MiB worker stacks hold.
pub const NESTING_DEPTH_MAX: usize = 500;

/// Parses SQL text into statements (PostgreSQL dialect). Parse errors are SQLSTATE 42601;
/// nesting beyond [`NESTING_DEPTH_MAX`] is 54001.
pub fn parse(sql: &str) -> Result<Vec<sqlparser::ast::Statement>> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    sqlparser::parser::Parser::new(&dialect)
        .with_recursion_limit(NESTING_DEPTH_MAX)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| {
            if matches!(e, sqlparser::parser::ParserError::RecursionLimitExceeded) {
                return SqlError::new(
                    "54001",
                    "statement is too complex: expressions nest too deeply",
                );
            }
            let msg = e.to_string();
            let msg = msg
                .strip_prefix("sql parser error: ")
                .unwrap_or(&msg)
                .to_string();
            SqlError::syntax(format!("syntax error: {msg}"))
        })
}

pub use sqlparser::ast;

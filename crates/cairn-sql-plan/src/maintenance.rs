//! PostgreSQL's `ANALYZE` and `VACUUM` statements, parsed here because sqlparser knows only
//! Hive's ANALYZE and Redshift's VACUUM.
//!
//! Role: [`crate::parse`] hands every statement that starts with `ANALYZE`, `ANALYSE` or
//! `VACUUM` to [`parse_tokens`], which returns an ordinary `ast::Statement`: a bare
//! `Statement::Vacuum` for a VACUUM without ANALYZE (it does nothing in Cairn: storage
//! reclaims space in compaction) or a `Statement::Analyze` that [`AnalyzeStmt::from_ast`] turns
//! back into what was written. The session runs the latter (`cairn-sql-exec/src/analyze.rs`).
//!
//! Grammar (PostgreSQL 15):
//!
//! ```text
//! ANALYZE|ANALYSE [ ( option [, ...] ) ] [ VERBOSE ] [ table [ ( column [, ...] ) ] [, ...] ]
//! VACUUM [ ( option [, ...] ) ] [ FULL ] [ FREEZE ] [ VERBOSE ] [ ANALYZE ] [ table_and_columns [, ...] ]
//! ```
//!
//! Encoding in `ast::Analyze` (the struct has no fields for PostgreSQL's options, so they
//! ride on Hive's, which Cairn otherwise never produces): `partitions = Some(targets)` marks
//! a statement built here, one expression per target — `CompoundIdentifier(table)`, or
//! `Tuple([CompoundIdentifier(table), Identifier(column), ...])` with a column list;
//! `cache_metadata` = VERBOSE; `noscan` = SKIP_LOCKED; `compute_statistics` = written as
//! `VACUUM ... ANALYZE` (its command tag is VACUUM). `table_name` is always `None`.
//!
//! Invariants:
//! 1. `from_ast(to_ast(s)) == s` for every statement this module parses. Test:
//!    `encoding_round_trips`.
//! 2. Errors are PostgreSQL's: an unknown option is 42601 "unrecognized ANALYZE option", a
//!    VACUUM column list without ANALYZE is 0A000. Test: `errors_match_postgres`.

use sqlparser::ast;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::{code, Result, SqlError};

/// One `table [(columns)]` of an ANALYZE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalyzeTarget {
    pub schema: Option<String>,
    pub table: String,
    /// Empty: every column.
    pub columns: Vec<String>,
}

/// An ANALYZE (or VACUUM ... ANALYZE) as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnalyzeStmt {
    pub verbose: bool,
    pub skip_locked: bool,
    /// Written as VACUUM with ANALYZE (command tag VACUUM; not allowed in a transaction block).
    pub vacuum: bool,
    /// Empty: every table of the current database.
    pub targets: Vec<AnalyzeTarget>,
}

/// Whether a statement's first token makes it one of ours.
pub fn is_maintenance_word(t: &Token) -> bool {
    match t {
        Token::Word(w) if w.quote_style.is_none() => {
            let v = w.value.to_ascii_lowercase();
            v == "analyze" || v == "analyse" || v == "vacuum"
        }
        _ => false,
    }
}

fn ident(parts: &[String]) -> ast::Expr {
    ast::Expr::CompoundIdentifier(parts.iter().map(|p| ast::Ident::new(p.as_str())).collect())
}

impl AnalyzeStmt {
    pub fn to_ast(&self) -> ast::Statement {
        let targets = self
            .targets
            .iter()
            .map(|t| {
                let mut name = Vec::new();
                if let Some(s) = &t.schema {
                    name.push(s.clone());
                }
                name.push(t.table.clone());
                if t.columns.is_empty() {
                    ident(&name)
                } else {
                    let mut items = vec![ident(&name)];
                    items.extend(
                        t.columns
                            .iter()
                            .map(|c| ast::Expr::Identifier(ast::Ident::new(c.as_str()))),
                    );
                    ast::Expr::Tuple(items)
                }
            })
            .collect();
        ast::Statement::Analyze(ast::Analyze {
            has_table_keyword: false,
            table_name: None,
            for_columns: false,
            columns: Vec::new(),
            partitions: Some(targets),
            cache_metadata: self.verbose,
            noscan: self.skip_locked,
            compute_statistics: self.vacuum,
        })
    }

    /// The statement [`to_ast`](Self::to_ast) encoded; `None` for an `ast::Analyze` that did
    /// not come from this module.
    pub fn from_ast(a: &ast::Analyze) -> Option<AnalyzeStmt> {
        let parts = |e: &ast::Expr| -> Option<(Option<String>, String)> {
            match e {
                ast::Expr::CompoundIdentifier(ids) => match ids.as_slice() {
                    [t] => Some((None, t.value.clone())),
                    [s, t] => Some((Some(s.value.clone()), t.value.clone())),
                    _ => None,
                },
                _ => None,
            }
        };
        let mut targets = Vec::new();
        for e in a.partitions.as_ref()? {
            let t = match e {
                ast::Expr::Tuple(items) => {
                    let (first, rest) = items.split_first()?;
                    let (schema, table) = parts(first)?;
                    let mut columns = Vec::new();
                    for c in rest {
                        match c {
                            ast::Expr::Identifier(i) => columns.push(i.value.clone()),
                            _ => return None,
                        }
                    }
                    AnalyzeTarget {
                        schema,
                        table,
                        columns,
                    }
                }
                other => {
                    let (schema, table) = parts(other)?;
                    AnalyzeTarget {
                        schema,
                        table,
                        columns: Vec::new(),
                    }
                }
            };
            targets.push(t);
        }
        Some(AnalyzeStmt {
            verbose: a.cache_metadata,
            skip_locked: a.noscan,
            vacuum: a.compute_statistics,
            targets,
        })
    }
}

/// A cursor over one statement's tokens, whitespace skipped.
struct Cursor<'a> {
    tokens: Vec<&'a Token>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.pos).copied()
    }
    fn advance(&mut self) -> Option<&'a Token> {
        let t = self.peek();
        self.pos += 1;
        t
    }
    /// Consumes an unquoted keyword (case-insensitive).
    fn keyword(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }
    fn token(&mut self, t: &Token) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
}

fn syntax_at(t: Option<&Token>) -> SqlError {
    match t {
        Some(t) => SqlError::syntax(format!("syntax error at or near \"{t}\"")),
        None => SqlError::syntax("syntax error at end of input"),
    }
}

/// An identifier: unquoted words fold to lower case, quoted ones keep their case.
fn identifier(c: &mut Cursor) -> Result<String> {
    match c.advance() {
        Some(Token::Word(w)) => Ok(if w.quote_style.is_some() {
            w.value.clone()
        } else {
            w.value.to_lowercase()
        }),
        other => Err(syntax_at(other)),
    }
}

/// An option's optional value: a boolean word or number (`VERBOSE off`, `PARALLEL 2`); returns
/// whether the option is on.
fn option_value(c: &mut Cursor) -> Result<bool> {
    match c.peek() {
        Some(Token::Word(w)) if w.quote_style.is_none() => {
            let v = w.value.to_ascii_lowercase();
            let on = match v.as_str() {
                "true" | "on" | "yes" | "auto" => true,
                "false" | "off" | "no" => false,
                _ => return Ok(true),
            };
            c.pos += 1;
            Ok(on)
        }
        Some(Token::Number(n, _)) => {
            let on = n != "0";
            c.pos += 1;
            Ok(on)
        }
        Some(Token::SingleQuotedString(s)) => {
            let on = !matches!(
                s.to_ascii_lowercase().as_str(),
                "false" | "off" | "no" | "0"
            );
            c.pos += 1;
            Ok(on)
        }
        _ => Ok(true),
    }
}

/// Parses one ANALYZE/ANALYSE/VACUUM statement (its tokens, without the `;`).
pub fn parse_tokens(tokens: &[TokenWithSpan]) -> Result<ast::Statement> {
    let mut c = Cursor {
        tokens: tokens
            .iter()
            .map(|t| &t.token)
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect(),
        pos: 0,
    };
    let vacuum = c.keyword("vacuum");
    if !vacuum && !c.keyword("analyze") && !c.keyword("analyse") {
        return Err(syntax_at(c.peek()));
    }
    let what = if vacuum { "VACUUM" } else { "ANALYZE" };
    let mut s = AnalyzeStmt {
        vacuum,
        ..Default::default()
    };
    let mut analyze = !vacuum;
    if c.token(&Token::LParen) {
        loop {
            let name = identifier(&mut c)?;
            let on = option_value(&mut c)?;
            match (name.as_str(), vacuum) {
                ("verbose", _) => s.verbose = on,
                ("skip_locked", _) => s.skip_locked = on,
                ("analyze", true) => analyze = on,
                (
                    "full"
                    | "freeze"
                    | "disable_page_skipping"
                    | "index_cleanup"
                    | "process_toast"
                    | "truncate"
                    | "parallel",
                    true,
                ) => {}
                _ => {
                    return Err(SqlError::new(
                        code::SYNTAX_ERROR,
                        format!("unrecognized {what} option \"{name}\""),
                    ))
                }
            }
            if c.token(&Token::Comma) {
                continue;
            }
            if c.token(&Token::RParen) {
                break;
            }
            return Err(syntax_at(c.peek()));
        }
    } else {
        if vacuum {
            c.keyword("full");
            c.keyword("freeze");
        }
        if c.keyword("verbose") {
            s.verbose = true;
        }
        if vacuum && (c.keyword("analyze") || c.keyword("analyse")) {
            analyze = true;
        }
    }
    let mut any_columns = false;
    if c.peek().is_some() {
        loop {
            let first = identifier(&mut c)?;
            let (schema, table) = if c.token(&Token::Period) {
                (Some(first), identifier(&mut c)?)
            } else {
                (None, first)
            };
            let mut columns = Vec::new();
            if c.token(&Token::LParen) {
                loop {
                    columns.push(identifier(&mut c)?);
                    if c.token(&Token::Comma) {
                        continue;
                    }
                    if c.token(&Token::RParen) {
                        break;
                    }
                    return Err(syntax_at(c.peek()));
                }
            }
            any_columns |= !columns.is_empty();
            s.targets.push(AnalyzeTarget {
                schema,
                table,
                columns,
            });
            if c.token(&Token::Comma) {
                continue;
            }
            if c.peek().is_none() {
                break;
            }
            return Err(syntax_at(c.peek()));
        }
    }
    if vacuum && !analyze {
        if any_columns {
            return Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                "ANALYZE option must be specified when a column list is provided",
            ));
        }
        return Ok(ast::Statement::Vacuum(ast::VacuumStatement {
            full: false,
            sort_only: false,
            delete_only: false,
            reindex: false,
            recluster: false,
            table_name: None,
            threshold: None,
            boost: false,
        }));
    }
    Ok(s.to_ast())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(sql: &str) -> Result<ast::Statement> {
        let mut v = crate::parse(sql)?;
        assert_eq!(v.len(), 1, "{sql}");
        Ok(v.remove(0))
    }

    fn analyze(sql: &str) -> AnalyzeStmt {
        match parse_one(sql) {
            Ok(ast::Statement::Analyze(a)) => AnalyzeStmt::from_ast(&a).expect("ours"),
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn target(schema: Option<&str>, table: &str, cols: &[&str]) -> AnalyzeTarget {
        AnalyzeTarget {
            schema: schema.map(str::to_string),
            table: table.into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn forms_parse_like_postgres() {
        assert_eq!(analyze("ANALYZE"), AnalyzeStmt::default());
        assert_eq!(analyze("analyse t").targets, vec![target(None, "t", &[])]);
        let s = analyze("ANALYZE VERBOSE public.\"T\" (a, \"B\"), u");
        assert!(s.verbose && !s.vacuum);
        assert_eq!(
            s.targets,
            vec![
                target(Some("public"), "T", &["a", "B"]),
                target(None, "u", &[])
            ]
        );
        let s = analyze("analyze (verbose off, skip_locked) t");
        assert!(!s.verbose && s.skip_locked);
        let s = analyze("VACUUM ANALYZE t");
        assert!(s.vacuum && s.targets == vec![target(None, "t", &[])]);
        let s = analyze("vacuum full freeze verbose analyze t (a)");
        assert!(s.vacuum && s.verbose);
        assert_eq!(s.targets, vec![target(None, "t", &["a"])]);
        let s = analyze("VACUUM (ANALYZE, PARALLEL 2, INDEX_CLEANUP off) t");
        assert!(s.vacuum);
        assert!(matches!(
            parse_one("VACUUM (FULL) t"),
            Ok(ast::Statement::Vacuum(_))
        ));
        assert!(matches!(
            parse_one("vacuum (analyze false) t"),
            Ok(ast::Statement::Vacuum(_))
        ));
        assert!(matches!(parse_one("VACUUM"), Ok(ast::Statement::Vacuum(_))));
    }

    #[test]
    fn errors_match_postgres() {
        let code_of = |sql: &str| parse_one(sql).err().map(|e| e.code);
        assert_eq!(code_of("analyze (foo) t"), Some("42601"));
        assert_eq!(code_of("vacuum (foo) t"), Some("42601"));
        assert_eq!(code_of("vacuum t (a)"), Some("0A000"));
        assert_eq!(code_of("analyze t ("), Some("42601"));
        assert_eq!(code_of("analyze t u"), Some("42601"));
        assert_eq!(code_of("analyze (full) t"), Some("42601"));
    }

    #[test]
    fn encoding_round_trips() {
        let s = AnalyzeStmt {
            verbose: true,
            skip_locked: false,
            vacuum: true,
            targets: vec![target(Some("s"), "t", &["x", "y"]), target(None, "u", &[])],
        };
        match s.to_ast() {
            ast::Statement::Analyze(a) => assert_eq!(AnalyzeStmt::from_ast(&a), Some(s)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statements_around_maintenance_still_parse() {
        let v = crate::parse("select 1; analyze t; select 'a;b'; vacuum; vacuum analyze")
            .expect("parse");
        assert_eq!(v.len(), 5);
        assert!(matches!(v[1], ast::Statement::Analyze(_)));
        assert!(matches!(v[3], ast::Statement::Vacuum(_)));
        assert!(crate::parse("select 1; analyze t u").is_err());
    }
}

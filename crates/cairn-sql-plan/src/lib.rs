//! `cairn-sql-plan`: the front half of Cairn's SQL engine.
//!
//! What it is: parsing (sqlparser, PostgreSQL dialect), binding against a catalog
//! ([`bind::Binder`], [`catalog::Catalog`]), the type system ([`types`], with the system
//! catalogs' types in [`systypes`]), bound expressions and their evaluation ([`expr`]), plans
//! ([`plan`]), the rewrite rules that turn a logical plan into the physical one ([`rules`]),
//! and PostgreSQL-style printing of stored expressions for the catalogs ([`deparse`]),
//! PostgreSQL's ANALYZE/VACUUM syntax ([`maintenance`]), and table statistics with the
//! selectivity estimators the optimiser will use ([`stats`]). What it is not: it does no I/O and holds no state across
//! statements; the catalog and the executor live in `cairn-sql-exec`.
//!
//! Layer 6 (STYLE.md §1): depends on `cairn-types` and `cairn-codec` only.
//! Threading: everything here is plain data and pure functions, `Send + Sync`.

pub mod bind;
pub mod catalog;
pub mod cost;
pub mod decorrelate;
pub mod deparse;
pub mod error;
pub mod explain;
pub mod expr;
pub mod join_order;
pub mod maintenance;
pub mod plan;
pub mod prune;
pub mod rules;
pub mod stats;
pub mod systypes;
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
    let sql = copy_boolean_options(sql);
    // One tokenization serves the rewrites, the split and the parser.
    let mut tokens = sqlparser::tokenizer::Tokenizer::new(&dialect, &sql)
        .tokenize_with_location()
        .map_err(|e| {
            parser_error(sqlparser::parser::ParserError::TokenizerError(
                e.to_string(),
            ))
        })?;
    drop_key_lock_words(&mut tokens);
    mark_ctas_column_names(&mut tokens);
    // ANALYZE and VACUUM are PostgreSQL's, which sqlparser does not parse (maintenance.rs):
    // when a statement starts with one, the batch is split at its top-level semicolons and
    // each statement parsed by whichever parser knows it.
    let statements = split_statements(&tokens);
    if statements.iter().any(|s| starts_maintenance(s)) {
        let mut out = Vec::new();
        for s in statements {
            if starts_maintenance(s) {
                out.push(maintenance::parse_tokens(s)?);
            } else if s
                .iter()
                .any(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
            {
                let mut p = sqlparser::parser::Parser::new(&dialect)
                    .with_recursion_limit(NESTING_DEPTH_MAX)
                    .with_tokens_with_locations(s.to_vec());
                out.extend(p.parse_statements().map_err(parser_error)?);
            }
        }
        return Ok(out);
    }
    sqlparser::parser::Parser::new(&dialect)
        .with_recursion_limit(NESTING_DEPTH_MAX)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(parser_error)
}

use sqlparser::tokenizer::{Token, TokenWithSpan};

fn parser_error(e: sqlparser::parser::ParserError) -> SqlError {
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
}

/// The statements of a token stream, split at semicolons (the tokenizer has already taken
/// strings, quoted identifiers, comments and dollar-quoted bodies apart, so every `;` token
/// ends a statement). The `;` and the final EOF are left out.
fn split_statements(tokens: &[TokenWithSpan]) -> Vec<&[TokenWithSpan]> {
    tokens
        .split(|t| matches!(t.token, Token::SemiColon | Token::EOF))
        .collect()
}

fn starts_maintenance(s: &[TokenWithSpan]) -> bool {
    s.iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))
        .is_some_and(|t| maintenance::is_maintenance_word(&t.token))
}

pub use sqlparser::ast;

/// PostgreSQL accepts `on`/`off` for COPY's boolean options (`WITH (FREEZE on)`, which
/// pgbench sends); sqlparser takes only `true`/`false`. Rewrites those two words after
/// `FREEZE` and `HEADER` in statements that start with COPY; everything else is untouched.
fn copy_boolean_options(sql: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = sql.trim_start();
    if !trimmed
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("copy"))
    {
        return std::borrow::Cow::Borrowed(sql);
    }
    let words: Vec<&str> = sql
        .split_inclusive(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .collect();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut prev_option = false;
    for w in words {
        let core =
            w.trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')');
        let tail = &w[core.len()..];
        let lower = core.to_ascii_lowercase();
        if prev_option && (lower == "on" || lower == "off") {
            out.push_str(if lower == "on" { "true" } else { "false" });
            out.push_str(tail);
        } else {
            out.push_str(w);
        }
        if !core.is_empty() {
            prev_option = lower == "freeze" || lower == "header";
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Positions in `tokens` of the tokens that are not whitespace (or comments).
fn significant(tokens: &[TokenWithSpan]) -> Vec<usize> {
    (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect()
}

/// Whether the `w`-th significant token is the unquoted keyword `k`.
fn is_keyword(
    tokens: &[TokenWithSpan],
    words: &[usize],
    w: usize,
    k: sqlparser::keywords::Keyword,
) -> bool {
    words.get(w).is_some_and(|&i| {
        matches!(&tokens[i].token, Token::Word(x) if x.quote_style.is_none() && x.keyword == k)
    })
}

/// The type name [`mark_ctas_column_names`] gives the bare column names of a
/// `CREATE TABLE name (a, b) AS query`; `CREATE TABLE AS` reads it as "name only".
pub const CTAS_NAME_ONLY: &str = "__cairn_ctas_name_only";

/// PostgreSQL's `CREATE TABLE name (a, b) AS query` names the query's columns without types;
/// sqlparser wants a type after every column name. In a statement of exactly that shape
/// (`CREATE [TEMP | TEMPORARY | UNLOGGED] TABLE [IF NOT EXISTS] name (ident [, ...]) AS`),
/// each name gets the placeholder type [`CTAS_NAME_ONLY`]; nothing else is touched.
fn mark_ctas_column_names(tokens: &mut Vec<TokenWithSpan>) {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::Word;
    let words = significant(tokens);
    let kw = |w: usize, k: Keyword| is_keyword(tokens, &words, w, k);
    let tok = |w: usize| words.get(w).map(|&i| &tokens[i].token);
    let mut inserts = Vec::new();
    let mut w = 0;
    while w < words.len() {
        if !kw(w, Keyword::CREATE) {
            w += 1;
            continue;
        }
        let start = w;
        w += 1;
        while kw(w, Keyword::TEMP) || kw(w, Keyword::TEMPORARY) || kw(w, Keyword::UNLOGGED) {
            w += 1;
        }
        if !kw(w, Keyword::TABLE) {
            continue;
        }
        w += 1;
        if kw(w, Keyword::IF) && kw(w + 1, Keyword::NOT) && kw(w + 2, Keyword::EXISTS) {
            w += 3;
        }
        // The (possibly qualified) table name.
        if !matches!(tok(w), Some(Token::Word(_))) {
            continue;
        }
        w += 1;
        while matches!(tok(w), Some(Token::Period)) && matches!(tok(w + 1), Some(Token::Word(_))) {
            w += 2;
        }
        if !matches!(tok(w), Some(Token::LParen)) {
            continue;
        }
        w += 1;
        let mut names = Vec::new();
        loop {
            if !matches!(tok(w), Some(Token::Word(_))) {
                break;
            }
            names.push(words[w]);
            match tok(w + 1) {
                Some(Token::Comma) => w += 2,
                Some(Token::RParen) => {
                    w += 2;
                    if kw(w, Keyword::AS) {
                        inserts.extend(names.iter().copied());
                    }
                    break;
                }
                _ => break,
            }
        }
        w = w.max(start + 1);
    }
    // Back to front, so earlier positions stay valid.
    for &i in inserts.iter().rev() {
        let span = tokens[i].span;
        let marker = Token::Word(Word {
            value: CTAS_NAME_ONLY.to_string(),
            quote_style: None,
            keyword: Keyword::NoKeyword,
        });
        tokens.insert(i + 1, TokenWithSpan::new(marker, span));
        tokens.insert(
            i + 1,
            TokenWithSpan::new(
                Token::Whitespace(sqlparser::tokenizer::Whitespace::Space),
                span,
            ),
        );
    }
}

/// sqlparser knows `FOR UPDATE` and `FOR SHARE` only; PostgreSQL also has `FOR NO KEY
/// UPDATE` and `FOR KEY SHARE`, which ORMs send (Django, Hibernate). Cairn's row locks have two
/// strengths, so the first is taken as `FOR UPDATE` and the second as `FOR SHARE` (each locks
/// at least as much as PostgreSQL's): the words `NO KEY` / `KEY` are dropped from the token
/// stream, so strings, identifiers and comments are never touched.
fn drop_key_lock_words(tokens: &mut Vec<TokenWithSpan>) {
    use sqlparser::keywords::Keyword;
    let words = significant(tokens);
    let is = |w: usize, k: Keyword| is_keyword(tokens, &words, w, k);
    // Token positions (into `tokens`) of the words to drop.
    let mut drop = Vec::new();
    for w in 0..words.len() {
        if !is(w, Keyword::FOR) {
            continue;
        }
        if is(w + 1, Keyword::NO) && is(w + 2, Keyword::KEY) && is(w + 3, Keyword::UPDATE) {
            drop.extend([words[w + 1], words[w + 2]]);
        } else if is(w + 1, Keyword::KEY) && is(w + 2, Keyword::SHARE) {
            drop.push(words[w + 1]);
        }
    }
    if drop.is_empty() {
        return;
    }
    let mut i = 0;
    tokens.retain(|_| {
        let keep = !drop.contains(&i);
        i += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    /// Only a `CREATE TABLE name (names) AS` column list gets the name-only marker.
    #[test]
    fn ctas_column_names_are_marked_and_nothing_else() {
        let columns = |q: &str| -> Vec<String> {
            match super::parse(q).expect("parses").pop() {
                Some(sqlparser::ast::Statement::CreateTable(ct)) => {
                    ct.columns.iter().map(|c| c.data_type.to_string()).collect()
                }
                other => panic!("not a CREATE TABLE: {other:?}"),
            }
        };
        let marker = super::CTAS_NAME_ONLY.to_string();
        assert_eq!(
            columns("CREATE TEMP TABLE IF NOT EXISTS s.t (a, \"B\") AS SELECT 1, 2"),
            vec![marker.clone(), marker]
        );
        assert_eq!(
            columns("CREATE TABLE t (a int, b text)"),
            vec!["INT", "TEXT"]
        );
        assert_eq!(columns("CREATE TABLE t (a int) AS SELECT 1"), vec!["INT"]);
        // Without AS, a column list without types stays a syntax error.
        assert!(super::parse("CREATE TABLE t (a, b)").is_err());
    }

    #[test]
    fn key_lock_strengths_become_update_and_share() {
        let sql = |q: &str| {
            super::parse(q)
                .map(|v| {
                    v.iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_else(|e| e.message)
        };
        assert_eq!(
            sql("SELECT 1 FROM t\nFOR NO KEY UPDATE"),
            "SELECT 1 FROM t FOR UPDATE"
        );
        assert_eq!(
            sql("select 'for key share' from t for key share"),
            "SELECT 'for key share' FROM t FOR SHARE"
        );
        assert_eq!(
            sql("SELECT key FROM t FOR UPDATE"),
            "SELECT key FROM t FOR UPDATE"
        );
        assert!(super::parse("SELECT a FROM t FOR NO KEY UPDATE SKIP LOCKED").is_ok());
    }

    #[test]
    fn copy_on_off_options_parse() {
        assert_eq!(
            super::copy_boolean_options("copy t from stdin with (freeze on)"),
            "copy t from stdin with (freeze true)"
        );
        assert_eq!(
            super::copy_boolean_options("COPY t TO STDOUT (FORMAT csv, HEADER off)"),
            "COPY t TO STDOUT (FORMAT csv, HEADER false)"
        );
        assert_eq!(
            super::copy_boolean_options("select 'freeze on'"),
            "select 'freeze on'"
        );
        assert!(super::parse("copy pgbench_accounts from stdin with (freeze on)").is_ok());
        assert_eq!(
            super::parse("vacuum analyze pgbench_branches; select 1").map(|v| v.len()),
            Ok(2)
        );
        assert!(super::parse("VACUUM (ANALYZE) t").is_ok());
        assert!(super::parse("vacuumx").is_err());
    }
}

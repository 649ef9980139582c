//! JSONB (and JSON): parsing, PostgreSQL's jsonb normalisation and text form, the `->`,
//! `->>`, `@>` and `?` operators, and jsonb's sort order.
//!
//! Role: `types` keeps a jsonb value as `Value::Jsonb(Box<Jsonb>)` and a json value as the
//! validated input text (`Value::Text`, printed back unchanged as PostgreSQL does); the
//! evaluator calls the operators here; `cairn-sql-exec` stores jsonb as its canonical text
//! and keys it with [`Jsonb::key_bytes`].
//!
//! Invariants:
//! 1. A `Jsonb` is normalised: object keys are unique (the last duplicate wins) and sorted by
//!    length, then bytewise, as PostgreSQL stores them; numbers are NUMERIC, so `1.50` keeps
//!    its text and `1.0` equals `1`. Test: `normalisation_matches_postgres`.
//! 2. [`Jsonb::to_text`] is PostgreSQL's jsonb output (`{"a": 1, "b": [1, 2]}`), and parsing
//!    it gives the same value back. Proptest: `text_round_trips`.
//! 3. [`compare`] is PostgreSQL's jsonb btree order (Object > Array > Boolean > Number >
//!    String > Null; containers by element count first; an empty top-level array sorts below
//!    every scalar) and [`Jsonb::key_bytes`] sorts bytewise the same way. Test:
//!    `order_matches_postgres`, proptest `key_bytes_follow_compare`.
//! 4. Parsing never panics and nests at most [`MAX_DEPTH`] levels (54001 beyond).

use std::cmp::Ordering;

use super::numeric::Numeric;
use crate::error::{code, Result, SqlError};

/// Deepest nesting accepted (PostgreSQL's limit comes from its stack depth; this is ours).
pub const MAX_DEPTH: usize = 1000;

#[derive(Clone, Debug, PartialEq)]
pub enum Jsonb {
    Null,
    Bool(bool),
    Number(Numeric),
    String(String),
    Array(Vec<Jsonb>),
    /// Sorted by (key length, key bytes), keys unique.
    Object(Vec<(String, Jsonb)>),
}

fn syntax_error(detail: impl Into<String>) -> SqlError {
    SqlError::new(
        code::INVALID_TEXT_REPRESENTATION,
        "invalid input syntax for type json",
    )
    .with_detail(detail.into())
}

fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn token_error(&self) -> SqlError {
        // PostgreSQL names the offending token; we name what follows the error position.
        let rest: String = self.text[self.i.min(self.text.len())..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ':' | ']' | '}'))
            .take(20)
            .collect();
        if rest.is_empty() && self.i >= self.s.len() {
            syntax_error("The input string ended unexpectedly.")
        } else {
            syntax_error(format!("Token \"{rest}\" is invalid."))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Jsonb> {
        if depth > MAX_DEPTH {
            return Err(SqlError::new("54001", "stack depth limit exceeded"));
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut pairs: Vec<(String, Jsonb)> = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Jsonb::Object(pairs));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.token_error());
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return Err(self.token_error());
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    pairs.push((k, v));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            break;
                        }
                        _ => return Err(self.token_error()),
                    }
                }
                Ok(normalize_object(pairs))
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Jsonb::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        _ => return Err(self.token_error()),
                    }
                }
                Ok(Jsonb::Array(items))
            }
            Some(b'"') => Ok(Jsonb::String(self.string()?)),
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                self.literal_end()?;
                Ok(Jsonb::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                self.literal_end()?;
                Ok(Jsonb::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                self.literal_end()?;
                Ok(Jsonb::Null)
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.token_error()),
        }
    }

    fn literal_end(&self) -> Result<()> {
        match self.s.get(self.i) {
            Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => Err(self.token_error()),
            _ => Ok(()),
        }
    }

    fn number(&mut self) -> Result<Jsonb> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.s.get(p.i).is_some_and(|c| c.is_ascii_digit()) {
                p.i += 1;
            }
            p.i - s
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            self.i = start;
            return Err(self.token_error());
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                self.i = start;
                return Err(self.token_error());
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                self.i = start;
                return Err(self.token_error());
            }
        }
        if self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
        {
            self.i = start;
            return Err(self.token_error());
        }
        Numeric::parse(&self.text[start..self.i]).map(Jsonb::Number)
    }

    fn hex4(&mut self) -> Result<u32> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .filter(|h| h.iter().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| syntax_error("\"\\u\" must be followed by four hexadecimal digits."))?;
        let v = h.iter().fold(0u32, |acc, c| {
            acc * 16 + (*c as char).to_digit(16).unwrap_or(0)
        });
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String> {
        // At the opening quote.
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&c) = self.s.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                None => return Err(syntax_error("The input string ended unexpectedly.")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let e = *self
                        .s
                        .get(self.i)
                        .ok_or_else(|| syntax_error("The input string ended unexpectedly."))?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(unicode_error(
                                        "Unicode high surrogate must not follow a high surrogate.",
                                    ));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(unicode_error(
                                        "Unicode low surrogate must follow a high surrogate.",
                                    ));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return Err(unicode_error(
                                    "Unicode low surrogate must follow a high surrogate.",
                                ));
                            }
                            if cp == 0 {
                                return Err(SqlError::new(
                                    "22P05",
                                    "unsupported Unicode escape sequence",
                                )
                                .with_detail("\\u0000 cannot be converted to text."));
                            }
                            out.push(
                                char::from_u32(cp)
                                    .ok_or_else(|| unicode_error("invalid Unicode code point"))?,
                            );
                        }
                        _ => {
                            return Err(syntax_error(format!(
                                "Escape sequence \"\\{}\" is invalid.",
                                e as char
                            )))
                        }
                    }
                }
                Some(_) => {
                    return Err(syntax_error(
                        "Character with value 0x00-0x1f must be escaped.",
                    ))
                }
            }
        }
    }
}

fn unicode_error(detail: &str) -> SqlError {
    SqlError::new(
        code::INVALID_TEXT_REPRESENTATION,
        "invalid input syntax for type json",
    )
    .with_detail(detail.to_string())
}

/// Sorts keys as PostgreSQL stores them and keeps the last of duplicate keys.
fn normalize_object(mut pairs: Vec<(String, Jsonb)>) -> Jsonb {
    // Stable sort keeps input order among equal keys; then the last one wins.
    pairs.sort_by(|a, b| key_order(&a.0, &b.0));
    let mut out: Vec<(String, Jsonb)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 = v,
            _ => out.push((k, v)),
        }
    }
    Jsonb::Object(out)
}

/// Parses JSON text (for both `json` validation and `jsonb` input).
pub fn parse_json(input: &str) -> Result<Jsonb> {
    let mut p = Parser {
        s: input.as_bytes(),
        text: input,
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.token_error());
    }
    Ok(v)
}

/// PostgreSQL's `escape_json`.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Jsonb {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Jsonb::Null => out.push_str("null"),
            Jsonb::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Jsonb::Number(n) => out.push_str(&n.to_string()),
            Jsonb::String(s) => push_json_string(out, s),
            Jsonb::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Jsonb::Object(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    push_json_string(out, k);
                    out.push_str(": ");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Jsonb::Null => "null",
            Jsonb::Bool(_) => "boolean",
            Jsonb::Number(_) => "number",
            Jsonb::String(_) => "string",
            Jsonb::Array(_) => "array",
            Jsonb::Object(_) => "object",
        }
    }

    /// `-> text`: the field of an object (None for other values or a missing key).
    pub fn field(&self, key: &str) -> Option<&Jsonb> {
        match self {
            Jsonb::Object(pairs) => pairs
                .binary_search_by(|(k, _)| key_order(k, key))
                .ok()
                .and_then(|i| pairs.get(i))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// `-> int`: an array element; negative indexes count from the end.
    pub fn element(&self, index: i64) -> Option<&Jsonb> {
        match self {
            Jsonb::Array(items) => {
                let i = if index < 0 {
                    items.len() as i64 + index
                } else {
                    index
                };
                usize::try_from(i).ok().and_then(|i| items.get(i))
            }
            _ => None,
        }
    }

    /// What `->>` returns: strings unquoted, JSON null as SQL NULL, the rest as jsonb text.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Jsonb::Null => None,
            Jsonb::String(s) => Some(s.clone()),
            other => Some(other.to_text()),
        }
    }

    /// `?`: a top-level key, array string element, or the scalar string itself.
    pub fn has_key(&self, key: &str) -> bool {
        match self {
            Jsonb::Object(_) => self.field(key).is_some(),
            Jsonb::Array(items) => items
                .iter()
                .any(|v| matches!(v, Jsonb::String(s) if s == key)),
            Jsonb::String(s) => s == key,
            _ => false,
        }
    }

    /// `@>` at the top level (a top-level array contains a scalar it holds).
    pub fn contains(&self, other: &Jsonb) -> bool {
        match (self, other) {
            (Jsonb::Array(items), scalar) if is_scalar(scalar) => items
                .iter()
                .any(|v| is_scalar(v) && compare(v, scalar, false) == Ordering::Equal),
            _ => deep_contains(self, other),
        }
    }

    /// Order-preserving, prefix-free bytes (invariant 3).
    pub fn key_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Jsonb::Array(items) if items.is_empty() => out.push(0),
            Jsonb::Array(_) => {
                out.push(2);
                self.encode(&mut out);
            }
            Jsonb::Object(_) => {
                out.push(3);
                self.encode(&mut out);
            }
            scalar => {
                out.push(1);
                scalar.encode(&mut out);
            }
        }
        out
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Jsonb::Null => out.push(0),
            Jsonb::String(s) => {
                out.push(1);
                push_escaped(out, s.as_bytes());
            }
            Jsonb::Number(n) => {
                out.push(2);
                push_escaped(out, &n.key_bytes());
            }
            Jsonb::Bool(b) => {
                out.push(3);
                out.push(*b as u8);
            }
            Jsonb::Array(items) => {
                out.push(4);
                out.extend_from_slice(&(items.len() as u32).to_be_bytes());
                for v in items {
                    v.encode(out);
                }
            }
            Jsonb::Object(pairs) => {
                out.push(5);
                out.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
                for (k, v) in pairs {
                    push_escaped(out, k.as_bytes());
                    v.encode(out);
                }
            }
        }
    }
}

/// Bytes with 00 escaped as 00 FF, terminated by 00 01: order-preserving and prefix-free.
fn push_escaped(out: &mut Vec<u8>, b: &[u8]) {
    for &c in b {
        out.push(c);
        if c == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 1]);
}

fn is_scalar(v: &Jsonb) -> bool {
    !matches!(v, Jsonb::Array(_) | Jsonb::Object(_))
}

/// PostgreSQL's `JsonbDeepContains`.
fn deep_contains(a: &Jsonb, b: &Jsonb) -> bool {
    match (a, b) {
        (Jsonb::Object(_), Jsonb::Object(bp)) => bp.iter().all(|(k, bv)| match a.field(k) {
            None => false,
            Some(av) => {
                if is_scalar(bv) || is_scalar(av) {
                    compare(av, bv, false) == Ordering::Equal
                } else {
                    deep_contains(av, bv)
                }
            }
        }),
        (Jsonb::Array(ai), Jsonb::Array(bi)) => bi.iter().all(|bv| {
            if is_scalar(bv) {
                ai.iter()
                    .any(|av| is_scalar(av) && compare(av, bv, false) == Ordering::Equal)
            } else {
                ai.iter().any(|av| {
                    std::mem::discriminant(av) == std::mem::discriminant(bv)
                        && deep_contains(av, bv)
                })
            }
        }),
        (x, y) if is_scalar(x) && is_scalar(y) => compare(x, y, false) == Ordering::Equal,
        _ => false,
    }
}

fn rank(v: &Jsonb) -> u8 {
    match v {
        Jsonb::Null => 0,
        Jsonb::String(_) => 1,
        Jsonb::Number(_) => 2,
        Jsonb::Bool(_) => 3,
        Jsonb::Array(_) => 4,
        Jsonb::Object(_) => 5,
    }
}

/// jsonb's btree order; `top` applies the top-level rule for empty arrays.
pub fn compare(a: &Jsonb, b: &Jsonb, top: bool) -> Ordering {
    if top {
        let class = |v: &Jsonb| match v {
            Jsonb::Array(items) if items.is_empty() => 0,
            Jsonb::Array(_) => 2,
            Jsonb::Object(_) => 3,
            _ => 1,
        };
        let (ca, cb) = (class(a), class(b));
        if ca != cb {
            return ca.cmp(&cb);
        }
    }
    match (a, b) {
        (Jsonb::Null, Jsonb::Null) => Ordering::Equal,
        (Jsonb::String(x), Jsonb::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Jsonb::Number(x), Jsonb::Number(y)) => x.cmp_total(y),
        (Jsonb::Bool(x), Jsonb::Bool(y)) => x.cmp(y),
        (Jsonb::Array(x), Jsonb::Array(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|(p, q)| compare(p, q, false))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        }),
        (Jsonb::Object(x), Jsonb::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|((kp, vp), (kq, vq))| {
                    escaped_cmp(kp, kq).then_with(|| compare(vp, vq, false))
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        }),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Key comparison consistent with `push_escaped` bytes (plain bytewise order).
fn escaped_cmp(a: &str, b: &str) -> Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn j(s: &str) -> Jsonb {
        parse_json(s).unwrap()
    }

    #[test]
    fn normalisation_matches_postgres() {
        // Verified against PostgreSQL 15.
        let cases = [
            (
                r#"{"b": 1, "a": [1, 2.50, 1e2], "aa": {"x": null}, "a": true}"#,
                r#"{"a": true, "b": 1, "aa": {"x": null}}"#,
            ),
            ("\"a\\u00e9\\n/\"", "\"aé\\n/\""),
            ("[]", "[]"),
            ("{}", "{}"),
            (" [1 , 2] ", "[1, 2]"),
            ("\"\\u0001\"", "\"\\u0001\""),
            ("[1.50, -0, 1E+2, 2e-2]", "[1.50, 0, 100, 0.02]"),
            ("\"\\ud83d\\ude00\"", "\"😀\""),
        ];
        for (input, want) in cases {
            assert_eq!(j(input).to_text(), want, "{input}");
        }
        assert_eq!(compare(&j("1.0"), &j("1"), true), Ordering::Equal);
        for bad in [
            "{\"a\":}",
            "",
            "[1,]",
            "01",
            "1.",
            ".5",
            "tru",
            "nul",
            "[1] x",
            "{\"a\" 1}",
            "\"\\x\"",
            "\"a",
            "-",
            "1e",
            "+1",
            "\"\\ud800\"",
            "[",
            "{",
        ] {
            assert_eq!(
                parse_json(bad).unwrap_err().code,
                code::INVALID_TEXT_REPRESENTATION,
                "{bad}"
            );
        }
        assert_eq!(parse_json("\"\\u0000\"").unwrap_err().code, "22P05");
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert_eq!(parse_json(&deep).unwrap_err().code, "54001");
    }

    #[test]
    fn operators_match_postgres() {
        // Verified against PostgreSQL 15.
        let o = j(r#"{"a": {"b": 1}}"#);
        assert_eq!(o.field("a").unwrap().to_text(), r#"{"b": 1}"#);
        let arr = j("[1,2,3]");
        assert_eq!(arr.element(-1).unwrap().to_text(), "3");
        assert!(arr.element(5).is_none());
        assert!(arr.element(-4).is_none());
        assert_eq!(
            j(r#"{"a": "x"}"#).field("a").unwrap().as_text().unwrap(),
            "x"
        );
        assert!(j(r#"{"a": null}"#).field("a").unwrap().as_text().is_none());
        assert!(j(r#"{"a":1,"b":2}"#).contains(&j(r#"{"a":1}"#)));
        assert!(!j("[1,[2]]").contains(&j("[2]")));
        assert!(j("[1,[2]]").contains(&j("[[2]]")));
        assert!(j(r#"["foo"]"#).contains(&j(r#""foo""#)));
        assert!(j(r#"{"a":[1,2,3]}"#).contains(&j(r#"{"a":[3,1]}"#)));
        assert!(!j(r#"{"a":{"b":1}}"#).contains(&j(r#"{"a":1}"#)));
        assert!(j(r#"{"a":1}"#).has_key("a"));
        assert!(j(r#"["a"]"#).has_key("a"));
        assert!(j(r#""a""#).has_key("a"));
        assert!(!j(r#"{"b":{"a":1}}"#).has_key("a"));
    }

    #[test]
    fn order_matches_postgres() {
        // Verified against PostgreSQL 15: each pair is (smaller, larger).
        let pairs = [
            ("[]", "1"),
            ("[]", "null"),
            ("1", "[0]"),
            ("[3]", "[1,2]"),
            ("\"a\"", "1"),
            ("null", "\"a\""),
            ("1", "true"),
            ("false", "true"),
            ("[1,2]", "{}"),
            ("{\"a\":1}", "{\"a\":2}"),
            ("{\"b\":1}", "{\"a\":1,\"b\":1}"),
        ];
        for (a, b) in pairs {
            let (x, y) = (j(a), j(b));
            assert_eq!(compare(&x, &y, true), Ordering::Less, "{a} < {b}");
            assert!(x.key_bytes() < y.key_bytes(), "{a} < {b} (key bytes)");
        }
    }

    fn arb_json() -> impl Strategy<Value = Jsonb> {
        let leaf = prop_oneof![
            Just(Jsonb::Null),
            any::<bool>().prop_map(Jsonb::Bool),
            (-1000i64..1000, 0u32..3)
                .prop_map(|(v, s)| Jsonb::Number(Numeric::from_i128(v as i128, s))),
            "[a-c\\\\\"\n]{0,3}".prop_map(Jsonb::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Jsonb::Array),
                prop::collection::vec(("[a-c]{0,2}", inner), 0..4).prop_map(normalize_object),
            ]
        })
    }

    proptest! {
        #[test]
        fn text_round_trips(v in arb_json()) {
            let text = v.to_text();
            let back = parse_json(&text).unwrap();
            prop_assert_eq!(back.to_text(), text);
        }

        #[test]
        fn key_bytes_follow_compare(a in arb_json(), b in arb_json()) {
            prop_assert_eq!(a.key_bytes().cmp(&b.key_bytes()), compare(&a, &b, true), "{} vs {}", a.to_text(), b.to_text());
        }

        #[test]
        fn parse_never_panics(s in "[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ ]{0,30}") {
            let _ = parse_json(&s);
        }
    }
}

//! One-dimensional arrays of the scalar types: PostgreSQL's text form (`{1,2,NULL}` with its
//! quoting rules) and binary form, and array ordering.
//!
//! Role: `types` keeps an array as `Value::Array(Vec<Value>)` whose elements have the array's
//! element type; this module converts between that and the wire forms.
//!
//! Invariants:
//! 1. Arrays are one-dimensional with lower bound 1 (the empty array has no dimension).
//!    Input with several dimensions or explicit bounds is 0A000, never silently reshaped.
//! 2. Text output quotes an element exactly when PostgreSQL's `array_out` does (empty,
//!    `NULL` in any case, or containing `{},"\` or white space), escaping `"` and `\`; parsing
//!    the output gives the same elements back. Tests: `text_forms_match_postgres`,
//!    proptest `text_round_trips`.
//! 3. Parsing never panics. Proptest: `parse_never_panics`.

use std::cmp::Ordering;

use super::Value;
use crate::error::{code, Result, SqlError};

fn malformed(input: &str, detail: &str) -> SqlError {
    SqlError::new(
        code::INVALID_TEXT_REPRESENTATION,
        format!("malformed array literal: \"{input}\""),
    )
    .with_detail(detail.to_string())
}

fn is_array_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits `{...}` text into element strings (`None` = NULL), undoing quotes and escapes.
pub fn split_elements(input: &str) -> Result<Vec<Option<String>>> {
    let b = input.as_bytes();
    let mut i = 0;
    while i < b.len() && is_array_space(b[i]) {
        i += 1;
    }
    match b.get(i) {
        Some(b'{') => i += 1,
        Some(b'[') => return Err(SqlError::not_supported("array bounds decoration")),
        _ => {
            return Err(malformed(
                input,
                "Array value must start with \"{\" or dimension information.",
            ))
        }
    }
    let mut out = Vec::new();
    loop {
        while i < b.len() && is_array_space(b[i]) {
            i += 1;
        }
        match b.get(i) {
            None => return Err(malformed(input, "Unexpected end of input.")),
            Some(b'}') if out.is_empty() => {
                i += 1;
                break;
            }
            Some(b'{') => return Err(SqlError::not_supported("multidimensional arrays")),
            _ => {}
        }
        // One element.
        let mut text = Vec::new();
        let mut quoted_any = false;
        let mut trailing_space_start: Option<usize> = None;
        loop {
            match b.get(i) {
                None => return Err(malformed(input, "Unexpected end of input.")),
                Some(b'"') => {
                    if quoted_any || !text.is_empty() {
                        return Err(malformed(input, "Unexpected array element."));
                    }
                    quoted_any = true;
                    i += 1;
                    loop {
                        match b.get(i) {
                            None => return Err(malformed(input, "Unexpected end of input.")),
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(b'\\') => {
                                let c = *b
                                    .get(i + 1)
                                    .ok_or_else(|| malformed(input, "Unexpected end of input."))?;
                                text.push(c);
                                i += 2;
                            }
                            Some(&c) => {
                                text.push(c);
                                i += 1;
                            }
                        }
                    }
                    // Only white space may follow a quoted element.
                    while i < b.len() && is_array_space(b[i]) {
                        i += 1;
                    }
                    if !matches!(b.get(i), Some(b',' | b'}')) {
                        return Err(malformed(input, "Unexpected array element."));
                    }
                }
                Some(b',') | Some(b'}') => break,
                Some(b'{') => return Err(malformed(input, "Unexpected \"{\" character.")),
                Some(b'\\') => {
                    let c = *b
                        .get(i + 1)
                        .ok_or_else(|| malformed(input, "Unexpected end of input."))?;
                    text.push(c);
                    i += 2;
                    trailing_space_start = None;
                }
                Some(&c) => {
                    if is_array_space(c) {
                        if trailing_space_start.is_none() {
                            trailing_space_start = Some(text.len());
                        }
                    } else {
                        trailing_space_start = None;
                    }
                    text.push(c);
                    i += 1;
                }
            }
        }
        if !quoted_any {
            if let Some(t) = trailing_space_start {
                text.truncate(t);
            }
            if text.is_empty() {
                return Err(malformed(input, "Unexpected \",\" character."));
            }
        }
        let s = String::from_utf8(text)
            .map_err(|_| malformed(input, "Invalid UTF-8 in an element."))?;
        if !quoted_any && s.eq_ignore_ascii_case("null") {
            out.push(None);
        } else {
            out.push(Some(s));
        }
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => return Err(malformed(input, "Unexpected end of input.")),
        }
    }
    while i < b.len() && is_array_space(b[i]) {
        i += 1;
    }
    if i != b.len() {
        return Err(malformed(input, "Junk after closing right brace."));
    }
    Ok(out)
}

/// `array_out` from the elements' text (`None` = NULL).
pub fn format_elements(items: impl Iterator<Item = Option<String>>) -> String {
    let mut out = String::from("{");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            None => out.push_str("NULL"),
            Some(s) => {
                let quote = s.is_empty()
                    || s.eq_ignore_ascii_case("null")
                    || s.bytes().any(|c| {
                        matches!(c, b'{' | b'}' | b',' | b'"' | b'\\') || is_array_space(c)
                    });
                if quote {
                    out.push('"');
                    for c in s.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(&s);
                }
            }
        }
    }
    out.push('}');
    out
}

/// `array_send`: ndim, has-nulls flag, element OID, (length, lower bound) per dimension, then
/// each element as i32 length (-1 = NULL) and bytes.
pub fn encode_binary(elem_oid: u32, items: &[Option<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + items.len() * 8);
    let ndim: i32 = if items.is_empty() { 0 } else { 1 };
    out.extend_from_slice(&ndim.to_be_bytes());
    out.extend_from_slice(&(items.iter().any(|i| i.is_none()) as i32).to_be_bytes());
    out.extend_from_slice(&elem_oid.to_be_bytes());
    if ndim == 1 {
        out.extend_from_slice(&(items.len() as i32).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    for item in items {
        match item {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    out
}

/// `array_recv`: the element OID and the elements' bytes.
pub fn decode_binary(b: &[u8]) -> Result<(u32, Vec<Option<&[u8]>>)> {
    let bad = |what: &str| {
        SqlError::new(
            code::PROTOCOL_VIOLATION,
            format!("invalid array binary data: {what}"),
        )
    };
    let word = |i: usize| -> Result<i32> {
        b.get(i..i + 4)
            .and_then(|w| w.try_into().ok())
            .map(i32::from_be_bytes)
            .ok_or_else(|| bad("truncated"))
    };
    let ndim = word(0)?;
    let flags = word(4)?;
    let oid = word(8)? as u32;
    if !(0..=1).contains(&flags) {
        return Err(bad("invalid flags"));
    }
    let mut pos = 12;
    let count = match ndim {
        0 => 0,
        1 => {
            let n = word(12)?;
            let lower = word(16)?;
            pos = 20;
            if n < 0 {
                return Err(bad("negative dimension"));
            }
            if lower != 1 {
                return Err(SqlError::not_supported(
                    "arrays with a lower bound other than 1",
                ));
            }
            n as usize
        }
        n if n > 1 => return Err(SqlError::not_supported("multidimensional arrays")),
        _ => return Err(bad("invalid number of dimensions")),
    };
    // Each element takes at least 4 bytes: bound the allocation by the input.
    if count > b.len() / 4 {
        return Err(bad("truncated"));
    }
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let len = word(pos)?;
        pos += 4;
        if len == -1 {
            items.push(None);
            continue;
        }
        let len = usize::try_from(len).map_err(|_| bad("invalid element length"))?;
        let e = b.get(pos..pos + len).ok_or_else(|| bad("truncated"))?;
        pos += len;
        items.push(Some(e));
    }
    if pos != b.len() {
        return Err(bad("trailing bytes"));
    }
    Ok((oid, items))
}

/// `array_cmp`: element by element (NULL sorts after every value), then by length.
pub fn compare(a: &[Value], b: &[Value], elem: impl Fn(&Value, &Value) -> Ordering) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => elem(x, y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(s: &str) -> Vec<Option<String>> {
        split_elements(s).unwrap()
    }

    fn some(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn text_forms_match_postgres() {
        // Verified against PostgreSQL 15.
        assert_eq!(
            split("{1,2,NULL}"),
            vec![Some("1".into()), Some("2".into()), None]
        );
        assert_eq!(
            split(r#"{"a b","c,d",NULL,"NULL","","x\"y", plain, " sp "}"#),
            vec![
                Some("a b".into()),
                Some("c,d".into()),
                None,
                Some("NULL".into()),
                Some("".into()),
                Some("x\"y".into()),
                Some("plain".into()),
                Some(" sp ".into())
            ]
        );
        assert_eq!(split("{}"), vec![]);
        assert_eq!(split(" { 1 , 2 } "), some(&["1", "2"]));
        assert_eq!(split(r"{a\,b}"), some(&["a,b"]));
        assert_eq!(split("{a b , c}"), some(&["a b", "c"]));
        assert_eq!(
            split("{1, NULL , null}"),
            vec![Some("1".into()), None, None]
        );
        let fmt = |v: &[Option<&str>]| format_elements(v.iter().map(|s| s.map(String::from)));
        assert_eq!(
            fmt(&[
                Some("a b"),
                Some("c,d"),
                None,
                Some("NULL"),
                Some(""),
                Some("x\"y"),
                Some("plain"),
                Some(" sp ")
            ]),
            r#"{"a b","c,d",NULL,"NULL","","x\"y",plain," sp "}"#
        );
        assert_eq!(
            fmt(&[Some("a"), Some("b\""), Some("null"), Some(" ")]),
            r#"{a,"b\"","null"," "}"#
        );
        assert_eq!(fmt(&[Some("a\\b")]), r#"{"a\\b"}"#);
        assert_eq!(fmt(&[Some("{x}")]), r#"{"{x}"}"#);
        assert_eq!(fmt(&[]), "{}");
        for bad in [
            "{1,2",
            "1,2}",
            "{1,,2}",
            "{,}",
            r#"{"a"b}"#,
            "{1} x",
            "{",
            "",
            r#"{"a}"#,
        ] {
            assert_eq!(
                split_elements(bad).unwrap_err().code,
                code::INVALID_TEXT_REPRESENTATION,
                "{bad}"
            );
        }
        assert_eq!(
            split_elements("{{1,2},{3,4}}").unwrap_err().code,
            code::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(
            split_elements("[0:1]={1,2}").unwrap_err().code,
            code::FEATURE_NOT_SUPPORTED
        );
    }

    #[test]
    fn binary_form_matches_postgres() {
        // array_send(ARRAY[1,NULL,3]) and array_send('{}'::int[]) in PostgreSQL 15.
        let one = |v: i32| Some(v.to_be_bytes().to_vec());
        let b = encode_binary(23, &[one(1), None, one(3)]);
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(
            hex,
            "00000001000000010000001700000003000000010000000400000001ffffffff0000000400000003"
        );
        let (oid, items) = decode_binary(&b).unwrap();
        assert_eq!((oid, items.len()), (23, 3));
        assert!(items[1].is_none());
        let e = encode_binary(23, &[]);
        assert_eq!(e, vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x17]);
        assert!(decode_binary(&e).unwrap().1.is_empty());
        assert!(decode_binary(&b[..b.len() - 1]).is_err());
        assert!(
            decode_binary(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0x7f, 0, 0, 0, 0, 0, 0, 1])
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn text_round_trips(items in prop::collection::vec(prop::option::of("[a-c {},\"\\\\Nul]{0,5}"), 0..6)) {
            let text = format_elements(items.iter().cloned());
            prop_assert_eq!(split_elements(&text).unwrap(), items);
        }

        #[test]
        fn parse_never_panics(s in "[{}\",\\\\a-c NUL\\[\\]:=0-9]{0,20}") {
            let _ = split_elements(&s);
        }
    }
}

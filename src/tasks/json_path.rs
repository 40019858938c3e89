//! A small JSONPath subset for picking one value out of a JSON document
//! (e.g. an HTTP response body).
//!
//! Grammar (no whitespace anywhere):
//!
//! ```text
//! path  := '$' step*
//! step  := '.' name                 name: [A-Za-z0-9_-]+
//!        | '[' quoted ']'           quoted: '...' or "..." with \\ \' \" escapes
//!        | '[' index ']'            index: 0 | [1-9][0-9]* | -[1-9][0-9]*
//! ```
//!
//! `[N]` picks element N of an array, `[-N]` the N-th from the end (`[-1]`
//! is the last). `.name` and `['name']` pick an object member. Wildcards,
//! recursive descent, filters, slices and unions are rejected with a
//! message saying they are not supported. Columns in error messages are
//! 1-based and count characters.
//!
//! # Why not `serde_json_path` (RFC 9535)
//!
//! Measured against serde_json_path 0.7.2 with this module's test inputs (issue 13):
//! - RFC 9535 member shorthand must start with a letter or `_` and has no `-`, so
//!   `$.data.x-y_z9`, `$.0` and `$.request-id`, which this module accepts and users were
//!   told to write as `.name`, fail to parse ("at position 8, parser error"): workflows
//!   applied today would stop applying.
//! - It accepts wildcards, `..`, slices, unions and filters, and keeps the singular-query
//!   check private, so `pgdag apply` could no longer refuse a path that may pick several
//!   values; the mistake would surface only at run time, and only for some responses.
//! - Its errors are a byte offset and often just "parser error", where ours name the
//!   column and the reason ("wildcard `*` is not supported").
//! - Its `Display` does not escape quotes (`$['it's']`) and prints `$..a` as `$...a`,
//!   and we print paths in run-time errors.
//! - It brings seven crates (a second `nom`, `inventory`, its macros) for what is here
//!   about 330 lines of code.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object member.
    Key(String),
    /// Array element from the start (0-based).
    Index(usize),
    /// Array element from the end: `FromEnd(1)` is the last.
    FromEnd(usize),
}

/// A parsed path: a sequence of steps from the document root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn err(col: usize, why: impl fmt::Display) -> String {
    format!("column {col}: {why}")
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }
    /// The 1-based column of the current position.
    fn col(&self) -> usize {
        self.pos + 1
    }

    fn dot_step(&mut self) -> Result<Step, String> {
        let dot_col = self.col();
        self.pos += 1; // '.'
        match self.peek() {
            None => Err(err(dot_col, "expected a name after `.`, found end of path")),
            Some('.') => Err(err(dot_col, "recursive descent `..` is not supported")),
            Some('*') => Err(err(self.col(), "wildcard `*` is not supported")),
            Some('[') => Err(err(
                self.col(),
                "unexpected `[` after `.`; write `['name']` or `[N]` without the dot",
            )),
            Some(c) if is_name_char(c) => {
                let start = self.pos;
                while self.peek().is_some_and(is_name_char) {
                    self.pos += 1;
                }
                Ok(Step::Key(self.chars[start..self.pos].iter().collect()))
            }
            Some(c) => Err(err(
                self.col(),
                format!(
                    "unexpected {c:?} after `.`; names after `.` may only contain A-Z a-z 0-9 _ -, use ['...'] for others"
                ),
            )),
        }
    }

    fn bracket_step(&mut self) -> Result<Step, String> {
        let open_col = self.col();
        self.pos += 1; // '['
        let step = match self.peek() {
            None => return Err(err(open_col, "unclosed `[`")),
            Some(q @ ('\'' | '"')) => Step::Key(self.quoted(q)?),
            Some('*') => return Err(err(self.col(), "wildcard `*` is not supported")),
            Some('?') => {
                return Err(err(
                    self.col(),
                    "filter expressions `[?(...)]` are not supported",
                ));
            }
            Some('(') => {
                return Err(err(
                    self.col(),
                    "script expressions `[(...)]` are not supported",
                ));
            }
            Some(':') => return Err(err(self.col(), "slices `[a:b]` are not supported")),
            Some(c) if c == '-' || c.is_ascii_digit() => self.index()?,
            Some(']') => {
                return Err(err(
                    self.col(),
                    "empty brackets `[]`; expected an index or a quoted name",
                ));
            }
            Some(c) if c.is_whitespace() => {
                return Err(err(self.col(), "whitespace is not allowed inside brackets"));
            }
            Some(c) => {
                return Err(err(
                    self.col(),
                    format!(
                        "unexpected {c:?} after `[`; expected an index like [0] or [-1], or a quoted name like ['a b']"
                    ),
                ));
            }
        };
        match self.peek() {
            Some(']') => {
                self.pos += 1;
                Ok(step)
            }
            None => Err(err(
                open_col,
                "unclosed `[`: expected `]` before end of path",
            )),
            Some(':') => Err(err(self.col(), "slices `[a:b]` are not supported")),
            Some(',') => Err(err(self.col(), "unions `[a,b]` are not supported")),
            Some(c) if c.is_whitespace() => {
                Err(err(self.col(), "whitespace is not allowed inside brackets"))
            }
            Some(c) => Err(err(self.col(), format!("expected `]`, found {c:?}"))),
        }
    }

    /// A quoted name; the current char is the opening quote `q`.
    fn quoted(&mut self, q: char) -> Result<String, String> {
        let open_col = self.col();
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(err(
                        open_col,
                        format!("unterminated quoted name: missing closing {q}"),
                    ));
                }
                Some(c) if c == q => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    let esc_col = self.col();
                    match self.peek_at(1) {
                        Some(e @ ('\\' | '\'' | '"')) => {
                            out.push(e);
                            self.pos += 2;
                        }
                        None => {
                            return Err(err(
                                esc_col,
                                format!(
                                    "unterminated quoted name: `\\` at end of path, missing closing {q}"
                                ),
                            ));
                        }
                        Some(e) => {
                            return Err(err(
                                esc_col,
                                format!("unknown escape `\\{e}`; only \\\\ \\' \\\" are allowed"),
                            ));
                        }
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `0`, `[1-9][0-9]*` or `-[1-9][0-9]*`.
    fn index(&mut self) -> Result<Step, String> {
        let start_col = self.col();
        let negative = self.peek() == Some('-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[digits_start..self.pos].iter().collect();
        if digits.is_empty() {
            return Err(err(self.col(), "expected digits after `-`"));
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(err(
                start_col,
                format!("leading zeros are not allowed in index {digits}"),
            ));
        }
        let n: usize = digits.parse().map_err(|_| {
            err(
                start_col,
                format!(
                    "index {}{digits} is too large",
                    if negative { "-" } else { "" }
                ),
            )
        })?;
        if negative {
            if n == 0 {
                return Err(err(
                    start_col,
                    "index -0 is not valid; use [-1] for the last element",
                ));
            }
            Ok(Step::FromEnd(n))
        } else {
            Ok(Step::Index(n))
        }
    }
}

/// Parse a path. Errors say the column (1-based, in characters) and why.
pub fn parse(text: &str) -> Result<JsonPath, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    match p.peek() {
        None => return Err(err(1, "empty path; a path starts with `$`")),
        Some('$') => p.pos += 1,
        Some(c) => return Err(err(1, format!("a path must start with `$`, found {c:?}"))),
    }
    let mut steps = Vec::new();
    while let Some(c) = p.peek() {
        let step = match c {
            '.' => p.dot_step()?,
            '[' => p.bracket_step()?,
            c if c.is_whitespace() => {
                return Err(err(p.col(), "whitespace is not allowed in a path"));
            }
            c => return Err(err(p.col(), format!("expected `.` or `[`, found {c:?}"))),
        };
        steps.push(step);
    }
    Ok(JsonPath { steps })
}

impl FromStr for JsonPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse(s)
    }
}

impl JsonPath {
    /// The value at this path, or `None` when a step finds no such member,
    /// an index out of range, or a value of the wrong kind.
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        let mut cur = value;
        for step in &self.steps {
            cur = match step {
                Step::Key(k) => cur.as_object()?.get(k)?,
                Step::Index(i) => cur.as_array()?.get(*i)?,
                Step::FromEnd(n) => {
                    let arr = cur.as_array()?;
                    arr.get(arr.len().checked_sub(*n)?)?
                }
            };
        }
        Some(cur)
    }

    /// True for `$`, the whole document.
    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Canonical text: `.name` where the name allows it, else `['...']` with
/// `\` and `'` escaped; `[N]` / `[-N]` for indices. Parses back to an equal
/// path.
impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for step in &self.steps {
            match step {
                Step::Key(k) if !k.is_empty() && k.chars().all(is_name_char) => write!(f, ".{k}")?,
                Step::Key(k) => {
                    f.write_str("['")?;
                    for c in k.chars() {
                        if c == '\\' || c == '\'' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("']")?;
                }
                Step::Index(i) => write!(f, "[{i}]")?,
                Step::FromEnd(n) => write!(f, "[-{n}]")?,
            }
        }
        Ok(())
    }
}

/// The text a picked value becomes as a parameter: strings as is (no
/// quotes), null as "", other values as compact JSON.
pub fn to_param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(text: &str) -> JsonPath {
        parse(text).unwrap_or_else(|e| panic!("parse {text:?}: {e}"))
    }

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    fn doc() -> Value {
        json!({
            "data": {
                "items": [
                    {"id": 1, "name": "first"},
                    {"id": 2, "name": "second", "tags": ["a", "b"]},
                    {"id": 3, "name": null}
                ],
                "count": 3,
                "ok": true,
                "weird key": {"it's": "q", "back\\slash": "bs", "say \"hi\"": "dq"},
                "": "empty key",
                "0": "zero key",
                "a.b": "dotted",
                "x-y_z9": "dashed"
            },
            "token": "abc def",
            "nothing": null,
            "float": 1.5,
            "neg": -7
        })
    }

    // ---- parse: accepted forms ----

    #[test]
    fn parse_root() {
        assert_eq!(p("$").steps, vec![]);
        assert!(p("$").is_root());
        assert!(!p("$.a").is_root());
    }

    #[test]
    fn parse_dot_names() {
        assert_eq!(p("$.a").steps, vec![key("a")]);
        assert_eq!(
            p("$.a.b_c.D-9").steps,
            vec![key("a"), key("b_c"), key("D-9")]
        );
        assert_eq!(p("$.0").steps, vec![key("0")]);
        assert_eq!(p("$.-").steps, vec![key("-")]);
    }

    #[test]
    fn parse_quoted_names() {
        assert_eq!(p("$['a b']").steps, vec![key("a b")]);
        assert_eq!(p("$[\"a b\"]").steps, vec![key("a b")]);
        assert_eq!(p("$['']").steps, vec![key("")]);
        assert_eq!(p("$['it\\'s']").steps, vec![key("it's")]);
        assert_eq!(p("$[\"say \\\"hi\\\"\"]").steps, vec![key("say \"hi\"")]);
        assert_eq!(p("$['back\\\\slash']").steps, vec![key("back\\slash")]);
        assert_eq!(p("$['\\\"']").steps, vec![key("\"")]);
        assert_eq!(p("$[\"\\'\"]").steps, vec![key("'")]);
        // the other quote needs no escape
        assert_eq!(p("$['say \"hi\"']").steps, vec![key("say \"hi\"")]);
        assert_eq!(p("$[\"it's\"]").steps, vec![key("it's")]);
        // anything else inside quotes is literal
        assert_eq!(p("$['a.b[0]*..?($)']").steps, vec![key("a.b[0]*..?($)")]);
        assert_eq!(p("$['héllo ✓']").steps, vec![key("héllo ✓")]);
        assert_eq!(p("$[']']").steps, vec![key("]")]);
    }

    #[test]
    fn parse_indices() {
        assert_eq!(p("$[0]").steps, vec![Step::Index(0)]);
        assert_eq!(p("$[12]").steps, vec![Step::Index(12)]);
        assert_eq!(p("$[-1]").steps, vec![Step::FromEnd(1)]);
        assert_eq!(p("$[-30]").steps, vec![Step::FromEnd(30)]);
        assert_eq!(
            p("$[0][1][-2]").steps,
            vec![Step::Index(0), Step::Index(1), Step::FromEnd(2)]
        );
    }

    #[test]
    fn parse_mixed() {
        assert_eq!(
            p("$.data.items[1]['tags'][-1]").steps,
            vec![
                key("data"),
                key("items"),
                Step::Index(1),
                key("tags"),
                Step::FromEnd(1)
            ]
        );
    }

    // ---- parse: errors ----

    fn parse_err(text: &str) -> String {
        match parse(text) {
            Ok(path) => panic!("{text:?} parsed as {path:?}, expected an error"),
            Err(e) => e,
        }
    }

    fn assert_err(text: &str, col: usize, needle: &str) {
        let e = parse_err(text);
        assert!(e.starts_with(&format!("column {col}: ")), "{text:?}: {e}");
        assert!(e.contains(needle), "{text:?}: {e:?} lacks {needle:?}");
    }

    #[test]
    fn error_start() {
        assert_err("", 1, "empty path");
        assert_err("a.b", 1, "must start with `$`");
        assert_err(".a", 1, "must start with `$`");
        assert_err(" $", 1, "must start with `$`");
        assert_err("@.a", 1, "must start with `$`");
    }

    #[test]
    fn error_after_root() {
        assert_err("$a", 2, "expected `.` or `[`");
        assert_err("$$", 2, "expected `.` or `[`");
        assert_err("$ ", 2, "whitespace");
        assert_err("$.a ", 4, "whitespace");
        assert_err("$.a]", 4, "expected `.` or `[`");
    }

    #[test]
    fn error_dot() {
        assert_err("$.", 2, "end of path");
        assert_err("$.a.", 4, "end of path");
        assert_err("$.a b", 4, "whitespace");
        assert_err("$.a$", 4, "expected `.` or `[`");
        assert_err("$.é", 3, "names after `.`");
        assert_err("$. a", 3, "names after `.`");
        assert_err("$.[0]", 3, "without the dot");
        assert_err("$.'a'", 3, "use ['...']");
    }

    #[test]
    fn error_unsupported_features() {
        assert_err("$..a", 2, "recursive descent `..` is not supported");
        assert_err("$.a..b", 4, "recursive descent `..` is not supported");
        assert_err("$.*", 3, "wildcard `*` is not supported");
        assert_err("$[*]", 3, "wildcard `*` is not supported");
        assert_err("$.a[*]", 5, "wildcard `*` is not supported");
        assert_err(
            "$[?(@.id==1)]",
            3,
            "filter expressions `[?(...)]` are not supported",
        );
        assert_err("$[?@.a]", 3, "filter");
        assert_err("$[(@.length-1)]", 3, "script expressions");
        assert_err("$[0:2]", 4, "slices");
        assert_err("$[:2]", 3, "slices");
        assert_err("$[0,1]", 4, "unions");
        assert_err("$['a','b']", 6, "unions");
    }

    #[test]
    fn error_brackets() {
        assert_err("$[", 2, "unclosed `[`");
        assert_err("$[0", 2, "unclosed `[`");
        assert_err("$['a']x", 7, "expected `.` or `[`");
        assert_err("$['a'", 2, "unclosed `[`");
        assert_err("$[]", 3, "empty brackets");
        assert_err("$[ 0]", 3, "whitespace");
        assert_err("$[0 ]", 4, "whitespace");
        assert_err("$[a]", 3, "quoted name");
        assert_err("$[0a]", 4, "expected `]`");
        assert_err("$['a'b]", 6, "expected `]`");
        assert_err("$[1]]", 5, "expected `.` or `[`");
    }

    #[test]
    fn error_quotes() {
        assert_err("$['a", 3, "unterminated");
        assert_err("$[\"a']", 3, "missing closing \"");
        assert_err("$['a\\", 5, "unterminated");
        assert_err("$['a\\n']", 5, "unknown escape `\\n`");
        assert_err("$['\\x']", 4, "unknown escape");
        assert_err("$['a\\']", 3, "unterminated");
    }

    #[test]
    fn error_indices() {
        assert_err("$[-]", 4, "digits after `-`");
        assert_err("$[-a]", 4, "digits after `-`");
        assert_err("$[--1]", 4, "digits after `-`");
        assert_err("$[-0]", 3, "-0");
        assert_err("$[01]", 3, "leading zeros");
        assert_err("$[-01]", 3, "leading zeros");
        assert_err("$[00]", 3, "leading zeros");
        assert_err("$[99999999999999999999999999]", 3, "too large");
        assert_err("$[-99999999999999999999999999]", 3, "too large");
        assert_err("$[+1]", 3, "unexpected '+'");
        assert_err("$[1.5]", 4, "expected `]`");
    }

    #[test]
    fn error_columns_count_characters() {
        // 'é' is two bytes but one column: the space is character 9, byte 10
        assert_err("$['é'].a b", 9, "whitespace");
    }

    // ---- get ----

    #[test]
    fn get_root_is_whole_document() {
        let d = doc();
        assert_eq!(p("$").get(&d), Some(&d));
        let scalar = json!(5);
        assert_eq!(p("$").get(&scalar), Some(&scalar));
    }

    #[test]
    fn get_members_and_indices() {
        let d = doc();
        assert_eq!(p("$.token").get(&d), Some(&json!("abc def")));
        assert_eq!(p("$.data.count").get(&d), Some(&json!(3)));
        assert_eq!(p("$.data.items[0].id").get(&d), Some(&json!(1)));
        assert_eq!(
            p("$['data']['items'][1]['name']").get(&d),
            Some(&json!("second"))
        );
        assert_eq!(p("$.data.items[-1].id").get(&d), Some(&json!(3)));
        assert_eq!(p("$.data.items[-3].id").get(&d), Some(&json!(1)));
        assert_eq!(p("$.data.items[1].tags[-1]").get(&d), Some(&json!("b")));
        assert_eq!(p("$.data.items[1].tags").get(&d), Some(&json!(["a", "b"])));
        assert_eq!(p("$.nothing").get(&d), Some(&Value::Null));
        assert_eq!(p("$.data.items[2].name").get(&d), Some(&Value::Null));
    }

    #[test]
    fn get_odd_keys() {
        let d = doc();
        assert_eq!(
            p("$.data['weird key']['it\\'s']").get(&d),
            Some(&json!("q"))
        );
        assert_eq!(
            p("$.data[\"weird key\"][\"it's\"]").get(&d),
            Some(&json!("q"))
        );
        assert_eq!(
            p("$.data['weird key']['back\\\\slash']").get(&d),
            Some(&json!("bs"))
        );
        assert_eq!(
            p("$.data['weird key']['say \"hi\"']").get(&d),
            Some(&json!("dq"))
        );
        assert_eq!(p("$.data['']").get(&d), Some(&json!("empty key")));
        assert_eq!(p("$.data['a.b']").get(&d), Some(&json!("dotted")));
        assert_eq!(p("$.data.x-y_z9").get(&d), Some(&json!("dashed")));
        // `.0` / ['0'] is a member name, not an index
        assert_eq!(p("$.data.0").get(&d), Some(&json!("zero key")));
        assert_eq!(p("$.data['0']").get(&d), Some(&json!("zero key")));
        assert_eq!(p("$.data[0]").get(&d), None);
        assert_eq!(p("$.data.items.0").get(&d), None);
        assert_eq!(p("$.data.a.b").get(&d), None);
    }

    #[test]
    fn get_missing() {
        let d = doc();
        assert_eq!(p("$.nope").get(&d), None);
        assert_eq!(p("$.data.nope.deeper").get(&d), None);
        assert_eq!(p("$.data.items[3]").get(&d), None);
        assert_eq!(p("$.data.items[-4]").get(&d), None);
        assert_eq!(p(&format!("$.data.items[{}]", usize::MAX)).get(&d), None);
        assert_eq!(p(&format!("$.data.items[-{}]", usize::MAX)).get(&d), None);
        assert_eq!(p("$[0]").get(&json!([])), None);
        assert_eq!(p("$[-1]").get(&json!([])), None);
    }

    #[test]
    fn get_wrong_kind() {
        let d = doc();
        assert_eq!(p("$.token.length").get(&d), None);
        assert_eq!(p("$.token[0]").get(&d), None);
        assert_eq!(p("$.nothing.x").get(&d), None);
        assert_eq!(p("$.nothing[0]").get(&d), None);
        assert_eq!(p("$.data.count[0]").get(&d), None);
        assert_eq!(p("$.data.ok.x").get(&d), None);
        assert_eq!(p("$.a").get(&json!([1, 2])), None);
        assert_eq!(p("$[0]").get(&json!({"0": 1})), None);
    }

    // ---- Display ----

    #[test]
    fn display_canonical() {
        let cases = [
            ("$", "$"),
            ("$.a", "$.a"),
            ("$['a']", "$.a"),
            ("$[\"a\"]", "$.a"),
            ("$['a-b_9']", "$.a-b_9"),
            ("$['a b']", "$['a b']"),
            ("$[\"a b\"]", "$['a b']"),
            ("$['']", "$['']"),
            ("$[\"it's\"]", "$['it\\'s']"),
            ("$['it\\'s']", "$['it\\'s']"),
            ("$['b\\\\s']", "$['b\\\\s']"),
            ("$[\"\\\"q\\\"\"]", "$['\"q\"']"),
            ("$['a.b']", "$['a.b']"),
            ("$['é']", "$['é']"),
            ("$[0]", "$[0]"),
            ("$[-1]", "$[-1]"),
            ("$.data.items[1]['tags'][-1]", "$.data.items[1].tags[-1]"),
        ];
        for (input, canonical) in cases {
            assert_eq!(p(input).to_string(), canonical, "input {input:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        let keys = [
            "", "a", "a b", "'", "\"", "\\", "\\'", "''", "]", "[", "$", ".", "..", "*", "?(",
            "é✓", "\n", "-", "0",
        ];
        for k in keys {
            let path = JsonPath {
                steps: vec![key(k), Step::Index(3), Step::FromEnd(2), key(k)],
            };
            let text = path.to_string();
            assert_eq!(parse(&text), Ok(path.clone()), "key {k:?} text {text:?}");
        }
    }

    #[test]
    fn from_str_works() {
        let path: JsonPath = "$.a[0]".parse().unwrap();
        assert_eq!(path, p("$.a[0]"));
        assert!("nope".parse::<JsonPath>().is_err());
    }

    // ---- to_param_text ----

    #[test]
    fn param_text() {
        assert_eq!(to_param_text(&json!("abc def")), "abc def");
        assert_eq!(to_param_text(&json!("")), "");
        assert_eq!(to_param_text(&json!("say \"hi\"\n")), "say \"hi\"\n");
        assert_eq!(to_param_text(&Value::Null), "");
        assert_eq!(to_param_text(&json!(true)), "true");
        assert_eq!(to_param_text(&json!(false)), "false");
        assert_eq!(to_param_text(&json!(42)), "42");
        assert_eq!(to_param_text(&json!(-7)), "-7");
        assert_eq!(to_param_text(&json!(1.5)), "1.5");
        assert_eq!(to_param_text(&json!([1, "a", null])), r#"[1,"a",null]"#);
        assert_eq!(
            to_param_text(&json!({"k": [1, {"x": "y z"}]})),
            r#"{"k":[1,{"x":"y z"}]}"#
        );
        assert_eq!(to_param_text(&json!([])), "[]");
        assert_eq!(to_param_text(&json!({})), "{}");
    }

    #[test]
    fn pick_then_param_text() {
        let d = doc();
        let pick = |t: &str| p(t).get(&d).map(to_param_text);
        assert_eq!(pick("$.token").as_deref(), Some("abc def"));
        assert_eq!(pick("$.nothing").as_deref(), Some(""));
        assert_eq!(
            pick("$.data.items[1].tags").as_deref(),
            Some(r#"["a","b"]"#)
        );
        assert_eq!(pick("$.float").as_deref(), Some("1.5"));
        assert_eq!(pick("$.missing"), None);
    }

    // ---- never panics ----

    #[test]
    fn no_panic_on_any_short_input() {
        // Every string of length <= 4 over an alphabet of the interesting
        // characters, with and without a leading `$`.
        let alphabet = [
            '$', '.', '[', ']', '\'', '"', '\\', '-', '0', '1', 'a', '*', '?', '(', ' ', 'é', ':',
            ',',
        ];
        let d = doc();
        let mut inputs = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for s in &inputs {
                for c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    next.push(t);
                }
            }
            for s in &next {
                for text in [s.clone(), format!("${s}"), format!("$.data{s}")] {
                    if let Ok(path) = parse(&text) {
                        let _ = path.get(&d);
                        let canon = path.to_string();
                        assert_eq!(parse(&canon).as_ref(), Ok(&path), "{text:?} -> {canon:?}");
                    }
                }
            }
            inputs = next;
        }
    }

    #[test]
    fn no_panic_on_long_or_odd_input() {
        let long = format!("${}", ".a".repeat(10_000));
        let path = p(&long);
        assert_eq!(path.get(&json!({"a": 1})), None);
        let deep = format!("${}", "[0]".repeat(5_000));
        assert!(parse(&deep).is_ok());
        for text in [
            "$\u{0}",
            "$[\u{0}]",
            "$['\u{0}']",
            "$.\u{feff}",
            "$[-\u{0}]",
            "\u{feff}$",
        ] {
            let _ = parse(text);
        }
    }
}

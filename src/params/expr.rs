//! Boolean expressions over string parameters, for the scheduler's `switch`
//! and `conditions` tasks.
//!
//! Grammar (whitespace is insignificant between tokens):
//!
//! ```text
//! or      := and ('||' and)*
//! and     := not ('&&' not)*
//! not     := '!' not | cmp
//! cmp     := operand (('==' | '!=' | '<' | '<=' | '>' | '>=') operand)?
//! operand := number | string | '${' name '}' | 'true' | 'false' | '(' or ')'
//! name    := [A-Za-z_][A-Za-z0-9_.]*
//! ```
//!
//! * Numbers: `3`, `-2.5`, `.5`, `1e3`, `1.5E-2` (must be finite).
//! * Strings: `'single'` or `"double"` quoted; escapes `\\ \' \" \n \t \$`.
//!   `${name}` inside a string is substituted at evaluation time, so
//!   `'${x}' == 'a'` and `${x} == 'a'` mean the same. A literal `${` in a
//!   string is written `\${`; a lone `$` not followed by `{` is literal.
//! * `!` binds tighter than `&&`, which binds tighter than `||`; `!` applies
//!   to a whole comparison (`!${x} == 'a'` is `!(${x} == 'a')`), and
//!   comparisons do not chain (`1 < 2 < 3` is a parse error).
//!
//! Evaluation: every value is text, a number literal, or a boolean.
//! Comparisons are numeric when both sides are numbers (number literals, or
//! texts that parse as a finite `f64` after trimming), otherwise byte-wise
//! lexical on the texts (a number literal's text is its source spelling).
//! When either side is a boolean, only `==`/`!=` are allowed and the other
//! side is coerced to a boolean. Wherever a boolean is needed (the result,
//! operands of `!`, `&&`, `||`), a text is `true` for "true" (any case) or a
//! non-zero number, `false` for "false" (any case), "0" (any zero) or
//! blank; anything else is an evaluation error. `&&`/`||` short-circuit, so
//! parameters on the skipped side need not be set.

use std::collections::BTreeSet;
use std::fmt;

/// Maximum input length in characters.
pub const MAX_LEN: usize = 4096;
/// Maximum nesting depth of parentheses and `!`.
pub const MAX_DEPTH: usize = 64;

/// A parse error: 0-based character offset into the text and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.offset + 1, self.message)
    }
}

impl std::error::Error for ExprError {}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    root: Node,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Num { value: f64, text: String },
    Str(Vec<Part>),
    Param(String),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Cmp(Box<Node>, CmpOp, Box<Node>),
    /// An operand and its source text (used in error messages).
    Atom(Atom, String),
}

// ---------------------------------------------------------------- lexer ---

#[derive(Debug, Clone, PartialEq)]
enum TokKind {
    Num(f64),
    Str(Vec<Part>),
    Param(String),
    True,
    False,
    Ident,
    LParen,
    RParen,
    And,
    Or,
    Not,
    Cmp(CmpOp),
}

#[derive(Debug, Clone)]
struct Tok {
    kind: TokKind,
    start: usize,
    end: usize,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        offset,
        message: message.into(),
    })
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Parses `${name}` starting at `i` (which holds `$`). Returns the name and
/// the index just past `}`.
fn lex_param(cs: &[char], i: usize) -> Result<(String, usize), ExprError> {
    if cs.get(i + 1) != Some(&'{') {
        return err(
            i,
            "expected `{` after `$` (parameters are written `${name}`)",
        );
    }
    let mut j = i + 2;
    if !cs.get(j).is_some_and(|&c| is_name_start(c)) {
        return err(j, "expected a parameter name after `${`");
    }
    while cs.get(j).is_some_and(|&c| is_name_char(c)) {
        j += 1;
    }
    if cs.get(j) != Some(&'}') {
        return err(j, "expected `}` to close `${`");
    }
    Ok((cs[i + 2..j].iter().collect(), j + 1))
}

fn lex_string(cs: &[char], start: usize) -> Result<(Vec<Part>, usize), ExprError> {
    let quote = cs[start];
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = cs.get(i) else {
            return err(start, "unterminated string");
        };
        match c {
            _ if c == quote => {
                i += 1;
                break;
            }
            '\\' => {
                let e = match cs.get(i + 1) {
                    Some('\\') => '\\',
                    Some('\'') => '\'',
                    Some('"') => '"',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('$') => '$',
                    Some(&o) => return err(i, format!("unknown escape `\\{o}` in string")),
                    None => return err(start, "unterminated string"),
                };
                lit.push(e);
                i += 2;
            }
            '$' if cs.get(i + 1) == Some(&'{') => {
                let (name, next) = lex_param(cs, i)?;
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Param(name));
                i = next;
            }
            _ => {
                lit.push(c);
                i += 1;
            }
        }
    }
    if !lit.is_empty() || parts.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok((parts, i))
}

fn lex_number(cs: &[char], start: usize) -> Result<(f64, usize), ExprError> {
    let mut i = start;
    if cs[i] == '-' {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while cs.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
        *i - s
    };
    let mut n = digits(&mut i);
    if cs.get(i) == Some(&'.') {
        i += 1;
        n += digits(&mut i);
    }
    let bad = |end: usize| {
        let mut end = end;
        while cs
            .get(end)
            .is_some_and(|&c| is_name_char(c) || c == '-' || c == '+')
        {
            end += 1;
        }
        let text: String = cs[start..end].iter().collect();
        err(start, format!("invalid number `{text}`"))
    };
    if n == 0 {
        return if cs[start] == '-' && i == start + 1 {
            err(start, "expected a digit after `-`")
        } else {
            bad(i)
        };
    }
    if matches!(cs.get(i), Some('e' | 'E')) {
        i += 1;
        if matches!(cs.get(i), Some('+' | '-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return bad(i);
        }
    }
    if cs.get(i).is_some_and(|&c| is_name_char(c)) {
        return bad(i);
    }
    let text: String = cs[start..i].iter().collect();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((v, i)),
        Ok(_) => err(start, format!("number `{text}` is out of range")),
        Err(_) => err(start, format!("invalid number `{text}`")),
    }
}

fn lex(cs: &[char]) -> Result<Vec<Tok>, ExprError> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let next = cs.get(i + 1).copied();
        let start = i;
        let kind = match c {
            _ if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                TokKind::LParen
            }
            ')' => {
                i += 1;
                TokKind::RParen
            }
            '&' if next == Some('&') => {
                i += 2;
                TokKind::And
            }
            '&' => return err(i, "`&` is not an operator (use `&&`)"),
            '|' if next == Some('|') => {
                i += 2;
                TokKind::Or
            }
            '|' => return err(i, "`|` is not an operator (use `||`)"),
            '!' if next == Some('=') => {
                i += 2;
                TokKind::Cmp(CmpOp::Ne)
            }
            '!' => {
                i += 1;
                TokKind::Not
            }
            '=' if next == Some('=') => {
                i += 2;
                TokKind::Cmp(CmpOp::Eq)
            }
            '=' => return err(i, "`=` is not an operator (use `==`)"),
            '<' | '>' => {
                let eq = next == Some('=');
                i += if eq { 2 } else { 1 };
                TokKind::Cmp(match (c, eq) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    (_, false) => CmpOp::Gt,
                    (_, true) => CmpOp::Ge,
                })
            }
            '\'' | '"' => {
                let (parts, end) = lex_string(cs, i)?;
                i = end;
                TokKind::Str(parts)
            }
            '$' => {
                let (name, end) = lex_param(cs, i)?;
                i = end;
                TokKind::Param(name)
            }
            '0'..='9' | '.' | '-' => {
                let (v, end) = lex_number(cs, i)?;
                i = end;
                TokKind::Num(v)
            }
            _ if is_name_start(c) => {
                while cs.get(i).is_some_and(|&c| is_name_char(c)) {
                    i += 1;
                }
                match cs[start..i].iter().collect::<String>().as_str() {
                    "true" => TokKind::True,
                    "false" => TokKind::False,
                    _ => TokKind::Ident,
                }
            }
            _ => return err(i, format!("unexpected character `{c}`")),
        };
        toks.push(Tok {
            kind,
            start,
            end: i,
        });
    }
    Ok(toks)
}

// --------------------------------------------------------------- parser ---

struct Parser<'a> {
    cs: &'a [char],
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn src(&self, start: usize, end: usize) -> String {
        self.cs[start..end].iter().collect()
    }

    fn tok_src(&self, t: &Tok) -> String {
        self.src(t.start, t.end)
    }

    /// Offset of the current token, or the end of input.
    fn here(&self) -> usize {
        self.peek().map_or(self.cs.len(), |t| t.start)
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(t) => format!("`{}`", self.tok_src(t)),
            None => "end of input".to_string(),
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        if self.depth >= MAX_DEPTH {
            return err(
                self.here(),
                format!("expression nests too deeply (limit {MAX_DEPTH})"),
            );
        }
        self.depth += 1;
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Node, ExprError> {
        let mut items = vec![self.parse_and()?];
        while self.peek().is_some_and(|t| t.kind == TokKind::Or) {
            self.pos += 1;
            items.push(self.parse_and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Node::Or(items)
        })
    }

    fn parse_and(&mut self) -> Result<Node, ExprError> {
        let mut items = vec![self.parse_not()?];
        while self.peek().is_some_and(|t| t.kind == TokKind::And) {
            self.pos += 1;
            items.push(self.parse_not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Node::And(items)
        })
    }

    fn parse_not(&mut self) -> Result<Node, ExprError> {
        if self.peek().is_some_and(|t| t.kind == TokKind::Not) {
            self.enter()?;
            self.pos += 1;
            let inner = self.parse_not()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.parse_cmp()
    }

    fn parse_cmp(&mut self) -> Result<Node, ExprError> {
        let lhs = self.parse_operand()?;
        let Some(&Tok {
            kind: TokKind::Cmp(op),
            ..
        }) = self.peek()
        else {
            return Ok(lhs);
        };
        self.pos += 1;
        let rhs = self.parse_operand()?;
        if let Some(t) = self.peek()
            && matches!(t.kind, TokKind::Cmp(_))
        {
            return err(
                t.start,
                format!(
                    "comparisons cannot be chained: `{}` after a comparison (use parentheses or `&&`)",
                    self.tok_src(t)
                ),
            );
        }
        Ok(Node::Cmp(Box::new(lhs), op, Box::new(rhs)))
    }

    fn parse_operand(&mut self) -> Result<Node, ExprError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.expected_operand());
        };
        let src = self.tok_src(&t);
        let atom = match t.kind {
            TokKind::Num(value) => Atom::Num {
                value,
                text: src.clone(),
            },
            TokKind::Str(parts) => Atom::Str(parts),
            TokKind::Param(name) => Atom::Param(name),
            TokKind::True => Atom::Bool(true),
            TokKind::False => Atom::Bool(false),
            TokKind::Ident => {
                return err(
                    t.start,
                    format!(
                        "unexpected `{src}` (parameters are written `${{{src}}}`, strings are quoted)"
                    ),
                );
            }
            TokKind::LParen => {
                self.enter()?;
                self.pos += 1;
                let inner = self.parse_or()?;
                match self.peek() {
                    Some(c) if c.kind == TokKind::RParen => self.pos += 1,
                    None => {
                        return err(
                            self.cs.len(),
                            format!("unclosed parenthesis opened at column {}", t.start + 1),
                        );
                    }
                    Some(_) => {
                        return err(
                            self.here(),
                            format!(
                                "expected `)` to close parenthesis opened at column {}, found {}",
                                t.start + 1,
                                self.found()
                            ),
                        );
                    }
                }
                self.depth -= 1;
                return Ok(inner);
            }
            _ => return Err(self.expected_operand()),
        };
        self.pos += 1;
        Ok(Node::Atom(atom, src))
    }

    fn expected_operand(&self) -> ExprError {
        let message = if self.pos == 0 {
            match self.peek() {
                None => "empty expression".to_string(),
                Some(_) => format!("expected an operand, found {}", self.found()),
            }
        } else {
            let prev = self.tok_src(&self.toks[self.pos - 1]);
            format!("expected an operand after `{prev}`")
        };
        ExprError {
            offset: self.here(),
            message,
        }
    }
}

/// Parses an expression.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let len = text.chars().take(MAX_LEN + 1).count();
    if len > MAX_LEN {
        return err(
            MAX_LEN,
            format!("expression is too long (limit {MAX_LEN} characters)"),
        );
    }
    let cs: Vec<char> = text.chars().collect();
    let toks = lex(&cs)?;
    let mut p = Parser {
        cs: &cs,
        toks,
        pos: 0,
        depth: 0,
    };
    let root = p.parse_or()?;
    if let Some(t) = p.peek() {
        if t.kind == TokKind::RParen {
            return err(t.start, "unexpected `)`");
        }
        let rest = p.src(t.start, cs.len());
        let rest = rest.trim_end();
        let shown: String = if rest.chars().count() > 30 {
            rest.chars().take(30).chain(['…']).collect()
        } else {
            rest.to_string()
        };
        return err(t.start, format!("trailing input `{shown}`"));
    }
    Ok(Expr { root })
}

// ------------------------------------------------------------ evaluator ---

enum Value {
    Bool(bool),
    Num(f64, String),
    /// A text and the source of the operand it came from.
    Text(String, String),
}

/// A text's numeric value: parses as a finite `f64` after trimming.
fn text_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Num(n, _) => Ok(*n != 0.0),
        Value::Text(s, src) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if t.eq_ignore_ascii_case("false") || t.is_empty() {
                Ok(false)
            } else if let Some(n) = text_number(t) {
                Ok(n != 0.0)
            } else {
                Err(format!("`{src}` is {s:?}, not a boolean"))
            }
        }
    }
}

fn lookup_param(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<String, String> {
    lookup(name).ok_or_else(|| format!("parameter `{name}` is not set"))
}

fn eval_node(n: &Node, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    Ok(match n {
        Node::Or(items) => {
            for it in items {
                if to_bool(&eval_node(it, lookup)?)? {
                    return Ok(Value::Bool(true));
                }
            }
            Value::Bool(false)
        }
        Node::And(items) => {
            for it in items {
                if !to_bool(&eval_node(it, lookup)?)? {
                    return Ok(Value::Bool(false));
                }
            }
            Value::Bool(true)
        }
        Node::Not(inner) => Value::Bool(!to_bool(&eval_node(inner, lookup)?)?),
        Node::Cmp(l, op, r) => {
            let l = eval_node(l, lookup)?;
            let r = eval_node(r, lookup)?;
            Value::Bool(compare(&l, *op, &r)?)
        }
        Node::Atom(atom, src) => match atom {
            Atom::Num { value, text } => Value::Num(*value, text.clone()),
            Atom::Bool(b) => Value::Bool(*b),
            Atom::Param(name) => Value::Text(lookup_param(lookup, name)?, src.clone()),
            Atom::Str(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        Part::Lit(l) => s.push_str(l),
                        Part::Param(name) => s.push_str(&lookup_param(lookup, name)?),
                    }
                }
                Value::Text(s, src.clone())
            }
        },
    })
}

fn compare(l: &Value, op: CmpOp, r: &Value) -> Result<bool, String> {
    use std::cmp::Ordering;
    if matches!(l, Value::Bool(_)) || matches!(r, Value::Bool(_)) {
        let (a, b) = (to_bool(l)?, to_bool(r)?);
        return match op {
            CmpOp::Eq => Ok(a == b),
            CmpOp::Ne => Ok(a != b),
            _ => Err(format!("`{}` cannot compare boolean values", op.symbol())),
        };
    }
    let num = |v: &Value| match v {
        Value::Num(n, _) => Some(*n),
        Value::Text(s, _) => text_number(s),
        Value::Bool(_) => None,
    };
    let text = |v: &Value| -> String {
        match v {
            Value::Num(_, t) | Value::Text(t, _) => t.clone(),
            Value::Bool(b) => b.to_string(),
        }
    };
    let ord = match (num(l), num(r)) {
        // Both finite, so partial_cmp always succeeds.
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        _ => text(l).as_bytes().cmp(text(r).as_bytes()),
    };
    Ok(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

fn collect_params(n: &Node, out: &mut BTreeSet<String>) {
    match n {
        Node::Or(items) | Node::And(items) => items.iter().for_each(|i| collect_params(i, out)),
        Node::Not(inner) => collect_params(inner, out),
        Node::Cmp(l, _, r) => {
            collect_params(l, out);
            collect_params(r, out);
        }
        Node::Atom(Atom::Param(name), _) => {
            out.insert(name.clone());
        }
        Node::Atom(Atom::Str(parts), _) => {
            for p in parts {
                if let Part::Param(name) = p {
                    out.insert(name.clone());
                }
            }
        }
        Node::Atom(..) => {}
    }
}

impl Expr {
    /// Names of the `${params}` the expression reads (sorted, deduplicated),
    /// including those inside quoted strings.
    pub fn params(&self) -> Vec<String> {
        let mut set = BTreeSet::new();
        collect_params(&self.root, &mut set);
        set.into_iter().collect()
    }

    /// Evaluates with `lookup` giving a parameter's text (`None` = not set,
    /// an error if that parameter is actually reached).
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<bool, String> {
        to_bool(&eval_node(&self.root, lookup)?)
    }
}

// ---------------------------------------------------------------- tests ---

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| v.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn ev(text: &str, pairs: &[(&str, &str)]) -> Result<bool, String> {
        parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .eval(&env(pairs))
    }

    fn t(text: &str, pairs: &[(&str, &str)]) -> bool {
        ev(text, pairs).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn perr(text: &str) -> ExprError {
        match parse(text) {
            Ok(e) => panic!("{text}: expected a parse error, got {e:?}"),
            Err(e) => e,
        }
    }

    fn assert_perr(text: &str, offset: usize, message: &str) {
        assert_eq!(
            perr(text),
            ExprError {
                offset,
                message: message.into()
            },
            "{text}"
        );
    }

    #[test]
    fn literals() {
        assert!(t("true", &[]));
        assert!(!t("false", &[]));
        assert!(t("  ( true )  ", &[]));
        assert!(t("1", &[]));
        assert!(!t("0", &[]));
        assert!(!t("0.0", &[]));
        assert!(t("-2.5", &[]));
        assert!(t("'yes' == \"yes\"", &[]));
        assert!(t("1e3 == 1000", &[]));
        assert!(t("1.5E-1 == .15", &[]));
        assert!(t("-2.5 < -2", &[]));
    }

    #[test]
    fn precedence() {
        let a = |a: bool, b: bool, c: bool| {
            let s = |x: bool| if x { "true" } else { "false" };
            t(
                "!${a} && ${b} || ${c}",
                &[("a", s(a)), ("b", s(b)), ("c", s(c))],
            )
        };
        for bits in 0..8 {
            let (x, y, z) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
            assert_eq!(a(x, y, z), (!x && y) || z, "{x} {y} {z}");
        }
        assert!(t("true || false && false", &[])); // && binds tighter
        assert!(!t("(true || false) && false", &[]));
        assert!(t("!false && true", &[]));
        assert!(!t("!(false || true)", &[]));
        assert!(t("!!true", &[]));
        // `!` applies to the whole comparison.
        assert!(t("!${x} == 'a'", &[("x", "b")]));
        assert!(t("1 < 2 && 'b' > 'a' || false", &[]));
    }

    #[test]
    fn numeric_vs_string_comparison() {
        assert!(t("${x} > 3", &[("x", "10")]));
        assert!(t("'10' > '9'", &[])); // both numeric texts → numeric
        assert!(t("'abc' < 'abd'", &[]));
        assert!(t("'10' > 'a9'", &[]) == ("10" > "a9")); // string compare
        assert!(t("${x} == 1", &[("x", " 1.0 ")])); // trimmed, numeric
        assert!(t("${x} == '1e0'", &[("x", "1")]));
        assert!(t("${x} != 'abc'", &[("x", "1")]));
        assert!(!t("3 == 'abc'", &[]));
        assert!(t("3 != 'abc'", &[]));
        // number vs non-number: lexical on the literal's spelling
        assert!(t("1e3 < 'a'", &[]));
        assert!(t("${x} == 1e3", &[("x", "1e3")]));
        assert!(t("${x} >= 2 && ${x} <= 2", &[("x", "2")]));
        assert!(t("${x} < 10", &[("x", "9")]));
        assert!(!t("${x} < '10'", &[("x", "9x")])); // "9x" > "10" lexically
        assert!(t("'B' < 'a'", &[])); // byte-wise
        assert!(t("'' < 'a'", &[]));
        assert!(t("${x} == ''", &[("x", "")]));
        // inf/nan and out-of-range texts are not numbers
        assert!(t("${x} > 5", &[("x", "nan")]));
        assert!(t("${x} == 'inf'", &[("x", "inf")]));
        assert!(t("${x} > 2", &[("x", "1e400")]) == ("1e400" > "2"));
    }

    #[test]
    fn string_templates_and_escapes() {
        assert!(t("\"${x}\" == 'a'", &[("x", "a")]));
        assert!(t("'${x}' == 'a'", &[("x", "a")]));
        assert!(t("${x} == 'a'", &[("x", "a")]));
        assert!(t("'${x}-${y}' == 'a-b'", &[("x", "a"), ("y", "b")]));
        assert!(t("'${x}' > 3", &[("x", "10")]));
        assert!(t("'it\\'s' == \"it's\"", &[]));
        assert!(t("'a\\\\b' == \"a\\\\b\"", &[]));
        assert!(t("'\"' == \"\\\"\"", &[]));
        assert!(t("${x} == 'a\\nb\\tc'", &[("x", "a\nb\tc")]));
        assert!(t("'\\${x}' == \"\\${x}\"", &[]));
        assert!(t("'$5' == \"$5\"", &[])); // lone `$` is literal
        assert!(t("'é✓' == \"é✓\"", &[]));
        assert_eq!(parse("'\\${x}'").unwrap().params(), Vec::<String>::new());
    }

    #[test]
    fn params_listing() {
        let e = parse("${b} == 1 && '${a}' == ${b} || ${c.d_1} || \"x${a}y\" < ${_z}").unwrap();
        assert_eq!(e.params(), vec!["_z", "a", "b", "c.d_1"]);
        assert!(parse("true").unwrap().params().is_empty());
    }

    #[test]
    fn missing_param() {
        assert_eq!(ev("${x} == 1", &[]), Err("parameter `x` is not set".into()));
        assert_eq!(
            ev("'${y}' == 1", &[("x", "1")]),
            Err("parameter `y` is not set".into())
        );
        // short-circuit: unset params on the skipped side are fine
        assert!(!t("false && ${nope}", &[]));
        assert!(t("true || ${nope}", &[]));
        assert!(t("${x} == 1 || ${nope}", &[("x", "1")]));
        assert_eq!(
            ev("false || ${nope}", &[]),
            Err("parameter `nope` is not set".into())
        );
    }

    #[test]
    fn boolean_coercion() {
        for v in [
            "true", "TRUE", "True", " true ", "1", "-1", "2.5", "1e3", " 7 ",
        ] {
            assert!(t("${f}", &[("f", v)]), "{v:?}");
            assert!(!t("!${f}", &[("f", v)]), "{v:?}");
        }
        for v in ["false", "FALSE", "0", "0.0", "-0", "", "  "] {
            assert!(!t("${f}", &[("f", v)]), "{v:?}");
        }
        assert!(t("${flag} && ${x} > 1", &[("flag", "true"), ("x", "2")]));
        assert!(!t("${flag} && ${x} > 1", &[("flag", "false"), ("x", "2")]));
        assert_eq!(
            ev("${flag}", &[("flag", "abc")]),
            Err("`${flag}` is \"abc\", not a boolean".into())
        );
        assert_eq!(
            ev("${flag} && true", &[("flag", "yes")]),
            Err("`${flag}` is \"yes\", not a boolean".into())
        );
        assert_eq!(
            ev("'abc'", &[]),
            Err("`'abc'` is \"abc\", not a boolean".into())
        );
        assert!(t("'true'", &[]));
        assert!(t("(${f})", &[("f", "true")]));
        // parenthesised operand keeps its text value for comparison
        assert!(t("(${x}) == 'a'", &[("x", "a")]));
        // comparing booleans
        assert!(t("(${a} > 1) == true", &[("a", "2")]));
        assert!(t("(${a} > 1) != true", &[("a", "0")]));
        assert!(t("(${a} > 1) == ${b}", &[("a", "2"), ("b", "TRUE")]));
        assert!(t("true == 1", &[]));
        assert!(t("false == ''", &[]));
        assert!(t("true != false", &[]));
        assert_eq!(
            ev("(${a} > 1) == ${b}", &[("a", "2"), ("b", "x")]),
            Err("`${b}` is \"x\", not a boolean".into())
        );
        assert_eq!(
            ev("true < false", &[]),
            Err("`<` cannot compare boolean values".into())
        );
        assert_eq!(
            ev("(1 < 2) >= 1", &[]),
            Err("`>=` cannot compare boolean values".into())
        );
    }

    #[test]
    fn parse_errors() {
        assert_perr("${a} && ", 8, "expected an operand after `&&`");
        assert_perr("${a} &&)", 7, "expected an operand after `&&`");
        assert_perr("${a} || || true", 8, "expected an operand after `||`");
        assert_perr("${a} == ", 8, "expected an operand after `==`");
        assert_perr("!", 1, "expected an operand after `!`");
        assert_perr("()", 1, "expected an operand after `(`");
        assert_perr("", 0, "empty expression");
        assert_perr("   ", 3, "empty expression");
        assert_perr("&& true", 0, "expected an operand, found `&&`");
        assert_perr("1 (2", 2, "trailing input `(2`");
        assert_perr("1 <(((2 ", 8, "unclosed parenthesis opened at column 6");
        assert_perr(
            "((${a} && true)",
            15,
            "unclosed parenthesis opened at column 1",
        );
        assert_perr(
            "(1 2)",
            3,
            "expected `)` to close parenthesis opened at column 1, found `2`",
        );
        assert_perr("'abc", 0, "unterminated string");
        assert_perr("1 == \"ab\\\"", 5, "unterminated string");
        assert_perr("1 == 'ab\\", 5, "unterminated string");
        assert_perr("true)", 4, "unexpected `)`");
        assert_perr("(1 == 1))", 8, "unexpected `)`");
        assert_perr(")", 0, "expected an operand, found `)`");
        assert_perr("${x} = 'a'", 5, "`=` is not an operator (use `==`)");
        // lexical errors are found before syntax errors
        assert_perr("a & b", 2, "`&` is not an operator (use `&&`)");
        assert_perr("true & false", 5, "`&` is not an operator (use `&&`)");
        assert_perr("true | false", 5, "`|` is not an operator (use `||`)");
        assert_perr("1 == 1 foo", 7, "trailing input `foo`");
        assert_perr("1 == 1 foo bar  ", 7, "trailing input `foo bar`");
        assert_perr(
            &format!("true {}", "x".repeat(40)),
            5,
            &format!("trailing input `{}…`", "x".repeat(30)),
        );
        assert_perr("1 == 1 2", 7, "trailing input `2`");
        assert_perr("true true", 5, "trailing input `true`");
        assert_perr(
            "1 < 2 < 3",
            6,
            "comparisons cannot be chained: `<` after a comparison (use parentheses or `&&`)",
        );
        assert_perr(
            "x == 1",
            0,
            "unexpected `x` (parameters are written `${x}`, strings are quoted)",
        );
        assert_perr(
            "$x",
            0,
            "expected `{` after `$` (parameters are written `${name}`)",
        );
        assert_perr("${} == 1", 2, "expected a parameter name after `${`");
        assert_perr("${1a}", 2, "expected a parameter name after `${`");
        assert_perr("${a b}", 3, "expected `}` to close `${`");
        assert_perr("${a", 3, "expected `}` to close `${`");
        assert_perr("'x${a'", 5, "expected `}` to close `${`");
        assert_perr("'\\q'", 1, "unknown escape `\\q` in string");
        assert_perr("1 == 1e", 5, "invalid number `1e`");
        assert_perr("1 == 3abc", 5, "invalid number `3abc`");
        assert_perr("1.2.3", 0, "invalid number `1.2.3`");
        assert_perr(".", 0, "invalid number `.`");
        assert_perr("- 2", 0, "expected a digit after `-`");
        assert_perr("1e999 > 1", 0, "number `1e999` is out of range");
        assert_perr("1 @ 2", 2, "unexpected character `@`");
        // offsets are in chars, not bytes
        assert_perr("'éé' = 'a'", 5, "`=` is not an operator (use `==`)");
    }

    #[test]
    fn error_display() {
        let e = perr("${a} && ");
        assert_eq!(e.to_string(), "at column 9: expected an operand after `&&`");
    }

    #[test]
    fn limits() {
        let ok = format!("{}true{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(t(&ok, &[]));
        let deep = format!(
            "{}true{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert_perr(&deep, MAX_DEPTH, "expression nests too deeply (limit 64)");
        assert!(t(&format!("{}true", "!".repeat(MAX_DEPTH)), &[]));
        assert_perr(
            &format!("{}true", "!".repeat(MAX_DEPTH + 1)),
            MAX_DEPTH,
            "expression nests too deeply (limit 64)",
        );
        // a mix of both counts together
        assert!(parse(&format!("{}true{}", "!(".repeat(40), ")".repeat(40))).is_err());
        // only unbalanced nesting counts: siblings are fine
        let wide = vec!["(((true)))"; 200].join(" && ");
        assert!(t(&wide, &[]));
        // length
        let long = format!("true{}", " ".repeat(MAX_LEN - 4));
        assert!(t(&long, &[]));
        let too_long = format!("true{}", " ".repeat(MAX_LEN - 3));
        assert_perr(
            &too_long,
            MAX_LEN,
            "expression is too long (limit 4096 characters)",
        );
        assert!(parse(&"(".repeat(1_000_000)).is_err());
        // long flat chains don't recurse
        let chain = vec!["${x} == 1"; 300].join(" || ");
        assert!(t(&chain, &[("x", "1")]));
        assert_eq!(parse(&chain).unwrap().params(), vec!["x"]);
    }

    /// Never panics on arbitrary input (xorshift-driven fuzzing, no deps).
    #[test]
    fn fuzz_no_panic() {
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        const PIECES: &[&str] = &[
            "${x}", "${y}", "${", "}", "$", "'", "\"", "\\", "(", ")", "!", "&&", "||", "&", "|",
            "==", "!=", "=", "<", "<=", ">", ">=", "true", "false", "1", "-2.5", "1e3", "e", "-",
            ".", " ", "'a'", "\"${x}\"", "abc", "é", "\n", "0", "1e999",
        ];
        let values = ["1", "abc", "true", "", "0", "-3.5", "FALSE", "nan"];
        for round in 0..20_000 {
            let len = (next() % 16) as usize;
            let text: String = if round % 3 == 0 {
                let bytes: Vec<u8> = (0..len * 2).map(|_| next() as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                (0..len)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            };
            if let Ok(e) = parse(&text) {
                let xv = values[(next() % values.len() as u64) as usize];
                let set = next() % 4 != 0;
                let lookup = move |n: &str| {
                    if set || n == "y" {
                        Some(xv.to_string())
                    } else {
                        None
                    }
                };
                let _ = e.eval(&lookup);
                let _ = e.params();
            } else if let Err(e) = parse(&text) {
                assert!(e.offset <= text.chars().count(), "{text:?}: {e:?}");
                let _ = e.to_string();
            }
        }
    }
}

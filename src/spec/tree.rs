//! Source text → a generic tree of YAML nodes that remember where they were written.
//!
//! serde-saphyr does the parsing (panic-free, bounded by its budget: nesting depth 64,
//! alias expansion, event counts) into `Spanned` values; this module turns them into
//! [`Node`]s that `parse.rs` walks. Scalars keep their source text, so a parameter
//! written `1.10` stays `"1.10"` and never becomes `1.1`. JSON goes through the same parser
//! (JSON is YAML flow syntax) so that its errors have positions too.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

use super::types::Pos;

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in source order; repeated keys are kept (the walker reports them).
    Map(Vec<(Node, Node)>),
}

/// A non-null scalar: its text and what YAML (1.2 core schema) would make of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    /// The source text of a plain scalar (`1.10`, `0x1F`, `true`), the content of a quoted
    /// or block one.
    pub text: String,
    pub ty: ScalarType,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ScalarType {
    Str,
    Bool(bool),
    Int(i128),
    Float,
}

impl Node {
    /// "a string", "a list", ... for messages.
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar(s) => match s.ty {
                ScalarType::Str => "a string",
                ScalarType::Bool(_) => "a boolean",
                ScalarType::Int(_) => "an integer",
                ScalarType::Float => "a number",
            },
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A parse failure of the whole text, with the parser's position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Deepest nesting of mappings and lists accepted. The format needs about 6 levels; the
/// limit keeps the recursive descent of the parser far from the end of a small thread stack
/// (a tokio worker's 2 MiB), which the library defaults (64 block, 255 flow) do not.
pub(crate) const MAX_DEPTH: usize = 24;

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
        },
        // YAML 1.2 booleans only: `no`, `on`, `y` stay strings (the "Norway problem").
        strict_booleans: true,
        // Repeated keys reach the walker, which reports every one of them with its position.
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        with_snippet: false,
    }
}

/// Every non-empty document of a YAML stream.
pub(crate) fn load_yaml(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let docs: Vec<Spanned<Raw>> =
        serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| syntax_error(&e))?;
    Ok(docs.into_iter().map(|d| convert(d, text)).collect())
}

/// One JSON value. Strict JSON syntax is checked by serde_json; positions come from reading
/// the same text as YAML, or are `0:0` in the unlikely case that YAML reads it differently.
pub(crate) fn load_json(text: &str) -> Result<Node, SyntaxError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| SyntaxError {
        pos: Pos {
            line: e.line(),
            column: e.column(),
        },
        message: json_message(&e),
    })?;
    let unplaced = from_json(&value);
    if let Ok(mut docs) = serde_saphyr::from_multiple_with_options::<Spanned<Raw>>(text, options())
        && docs.len() == 1
        && let Some(doc) = docs.pop()
    {
        let placed = convert(doc, text);
        if same_shape(&placed, &unplaced) {
            return Ok(placed);
        }
    }
    Ok(unplaced)
}

/// serde_json's message without its " at line L column C" suffix (the position is kept apart).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn syntax_error(e: &serde_saphyr::Error) -> SyntaxError {
    let inner = e.without_snippet();
    let message: String = UserMessageFormatter
        .format_message(inner)
        .chars()
        .flat_map(|c| -> Box<dyn Iterator<Item = char>> {
            if c.is_control() {
                Box::new(c.escape_debug())
            } else {
                Box::new(std::iter::once(c))
            }
        })
        .collect();
    SyntaxError {
        pos: e.location().map(pos_of).unwrap_or_default(),
        message,
    }
}

fn pos_of(loc: Location) -> Pos {
    Pos {
        line: usize::try_from(loc.line()).unwrap_or(0),
        column: usize::try_from(loc.column()).unwrap_or(0),
    }
}

/// What serde-saphyr hands over: a value whose children carry their own spans.
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(i128::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

/// The source text of a node, when the span points at a plain scalar.
fn plain_source<'t>(loc: &Location, text: &'t str) -> Option<&'t str> {
    let span = loc.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let src = text.get(start..start.checked_add(len)?)?;
    // Quoted scalars, aliases and block scalars are not plain source text.
    match src.chars().next() {
        None | Some('"' | '\'' | '*' | '|' | '>' | '&' | '!') => None,
        Some(_) => Some(src),
    }
}

fn convert(raw: Spanned<Raw>, text: &str) -> Node {
    let pos = pos_of(raw.referenced);
    let typed = |ty: ScalarType, shown: String| {
        let text = plain_source(&raw.referenced, text).map_or(Cow::Owned(shown), Cow::Borrowed);
        Value::Scalar(Scalar {
            text: text.into_owned(),
            ty,
        })
    };
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => typed(ScalarType::Bool(b), b.to_string()),
        Raw::Int(i) => typed(ScalarType::Int(i), i.to_string()),
        Raw::Float(f) => typed(ScalarType::Float, f.to_string()),
        Raw::Str(s) => Value::Scalar(Scalar {
            text: s,
            ty: ScalarType::Str,
        }),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|i| convert(i, text)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(k, text), convert(v, text)))
                .collect(),
        ),
    };
    Node { pos, value }
}

fn from_json(value: &serde_json::Value) -> Node {
    use serde_json::Value as J;
    let scalar = |text: String, ty| Value::Scalar(Scalar { text, ty });
    let value = match value {
        J::Null => Value::Null,
        J::Bool(b) => scalar(b.to_string(), ScalarType::Bool(*b)),
        J::Number(n) => {
            let int = n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from));
            match int {
                Some(i) => scalar(n.to_string(), ScalarType::Int(i)),
                None => scalar(n.to_string(), ScalarType::Float),
            }
        }
        J::String(s) => scalar(s.clone(), ScalarType::Str),
        J::Array(items) => Value::Seq(items.iter().map(from_json).collect()),
        J::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = Node {
                        pos: Pos::default(),
                        value: scalar(k.clone(), ScalarType::Str),
                    };
                    (key, from_json(v))
                })
                .collect(),
        ),
    };
    Node {
        pos: Pos::default(),
        value,
    }
}

/// Same structure and scalar values, positions aside (the YAML reading of a JSON text is
/// only used for its positions). Map entries are compared as sets of keys because
/// serde_json sorts keys and keeps only the last of repeated ones.
fn same_shape(placed: &Node, json: &Node) -> bool {
    match (&placed.value, &json.value) {
        (Value::Null, Value::Null) => true,
        (Value::Scalar(a), Value::Scalar(b)) => match (a.ty, b.ty) {
            (ScalarType::Str, ScalarType::Str) => a.text == b.text,
            (ScalarType::Bool(x), ScalarType::Bool(y)) => x == y,
            (ScalarType::Int(x), ScalarType::Int(y)) => x == y,
            // The same number may be spelled differently (`1e5` / `100000.0`).
            (ScalarType::Float, ScalarType::Float) => true,
            _ => false,
        },
        (Value::Seq(a), Value::Seq(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_shape(x, y))
        }
        (Value::Map(a), Value::Map(b)) => {
            // serde_json keeps the last of repeated keys; the YAML reading keeps all.
            b.iter().all(|(bk, bv)| {
                a.iter()
                    .rev()
                    .find(|(ak, _)| same_shape(ak, bk))
                    .is_some_and(|(_, av)| same_shape(av, bv))
            }) && a
                .iter()
                .all(|(ak, _)| b.iter().any(|(bk, _)| same_shape(ak, bk)))
        }
        _ => false,
    }
}

//! `${secret.NAME}` references: marked by the master, filled by the worker.
//!
//! The master never sees a secret's value. When it builds a task's payload it rewrites each
//! `${secret.NAME}` written in the task's own keys (and `env`) as `${secret.NAME@NONCE}`,
//! with a random nonce per payload, before it expands params. The worker fills only marked
//! references whose nonce is its payload's. So a `${secret.NAME}` that arrives through a
//! param value (a start param, a webhook body, an upstream out param) stays text: whoever
//! can start a run but not edit the workflow cannot make a task read a secret.
//!
//! Pure: no I/O.

use std::collections::BTreeMap;

const OPEN: &str = "${secret.";

/// A secret name as documents write it: letters, digits, `_`, `.`, `-`.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Every `${secret.NAME}` of `text` as `${secret.NAME@nonce}`; true when any was marked.
pub fn mark(text: &str, nonce: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut marked = false;
    while let Some(pos) = rest.find(OPEN) {
        let after = &rest[pos + OPEN.len()..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                out.push_str(&rest[..pos]);
                out.push_str(OPEN);
                out.push_str(&after[..close]);
                out.push('@');
                out.push_str(nonce);
                out.push('}');
                rest = &after[close + 1..];
                marked = true;
            }
            _ => {
                out.push_str(&rest[..pos + OPEN.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, marked)
}

/// The names of the references of `text` marked with `nonce`, in order (repeats kept).
pub fn marked_names(text: &str, nonce: &str) -> Vec<String> {
    let mut names = Vec::new();
    fill_with(text, nonce, &mut |name| {
        names.push(name.to_string());
        None
    });
    names
}

/// `text` with each reference marked with `nonce` replaced by the value `values` has for it
/// (kept as written when it has none).
pub fn fill(text: &str, nonce: &str, values: &BTreeMap<String, String>) -> String {
    fill_with(text, nonce, &mut |name| values.get(name).cloned())
}

fn fill_with(text: &str, nonce: &str, lookup: &mut dyn FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(OPEN) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + OPEN.len()..];
        if let Some(close) = after.find('}')
            && let Some((name, n)) = after[..close].rsplit_once('@')
            && n == nonce
            && is_name(name)
            && let Some(value) = lookup(name)
        {
            out.push_str(&value);
            rest = &after[close + 1..];
            continue;
        }
        out.push_str(OPEN);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Applies `f` to every string inside `value` (map keys are left as written).
pub fn for_each_string(value: &mut serde_json::Value, f: &mut dyn FnMut(&mut String)) {
    match value {
        serde_json::Value::String(text) => f(text),
        serde_json::Value::Array(items) => {
            for item in items {
                for_each_string(item, f);
            }
        }
        serde_json::Value::Object(map) => {
            for (_, item) in map.iter_mut() {
                for_each_string(item, f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_references_marked_with_the_nonce_are_filled() {
        let (marked, any) = mark(
            "curl -H 'k: ${secret.API_KEY}' ${secret.} ${secret.a b} ${x}",
            "N1",
        );
        assert!(any);
        assert_eq!(
            marked,
            "curl -H 'k: ${secret.API_KEY@N1}' ${secret.} ${secret.a b} ${x}"
        );
        assert_eq!(marked_names(&marked, "N1"), ["API_KEY"]);
        let values = BTreeMap::from([("API_KEY".to_string(), "s3cr3t".to_string())]);
        assert_eq!(
            fill(&marked, "N1", &values),
            "curl -H 'k: s3cr3t' ${secret.} ${secret.a b} ${x}"
        );
        // A reference that came through a param value (not marked, or with a guessed
        // nonce) stays text.
        assert_eq!(
            fill("${secret.API_KEY}", "N1", &values),
            "${secret.API_KEY}"
        );
        assert_eq!(
            fill("${secret.API_KEY@N2}", "N1", &values),
            "${secret.API_KEY@N2}"
        );
        assert!(marked_names("${secret.API_KEY@N2}", "N1").is_empty());
        assert!(!mark("no refs", "N").1);
    }
}

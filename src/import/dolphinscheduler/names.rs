//! pgdag names from DolphinScheduler names. A name pgdag accepts is kept as it is; any other
//! is transliterated (Chinese to pinyin, accents dropped), every other character becomes
//! `_`, and the result is cut to the length limit. The same original always gives the same
//! name, whatever else is imported with it, so references between files imported on
//! different days still meet. When two originals of one scope still end up equal, each
//! changed one gets a short hash of its original appended.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::spec::{MAX_NAME_LEN, name_problem};

/// The readable pgdag form of `original`; `fallback` when nothing readable is left.
pub fn derive(original: &str, fallback: &str) -> String {
    if name_problem(original).is_none() {
        return original.to_string();
    }
    let mut out = String::new();
    for c in original.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            out.push(c);
        } else if c.is_ascii() {
            out.push('_');
        } else {
            let ascii = deunicode::deunicode_char(c).unwrap_or("_");
            out.push('_');
            for a in ascii.chars() {
                if a.is_ascii_alphanumeric() {
                    out.push(a.to_ascii_lowercase());
                } else {
                    out.push('_');
                }
            }
            out.push('_');
        }
    }
    let mut collapsed = String::with_capacity(out.len());
    for c in out.chars() {
        if c == '_' && collapsed.ends_with('_') {
            continue;
        }
        collapsed.push(c);
    }
    let trimmed = collapsed.trim_matches('_');
    let mut name: String = trimmed.chars().take(MAX_NAME_LEN).collect();
    if name.is_empty() || name == "." || name == ".." {
        name = format!("{fallback}_{}", short_hash(original));
    }
    name
}

/// Eight hex digits of SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..4])
}

/// Names of one scope (the workflows of a project, the tasks of a workflow): original →
/// pgdag name, with no two originals on one name.
#[derive(Debug, Default)]
pub struct Scope {
    names: BTreeMap<String, String>,
}

impl Scope {
    /// Names every original of the scope. Originals pgdag accepts are kept; derived names
    /// that collide with a kept name or with each other get the hash of their original.
    pub fn new<'a>(originals: impl IntoIterator<Item = &'a str>, fallback: &str) -> Scope {
        let originals: BTreeSet<&str> = originals.into_iter().collect();
        let kept: BTreeSet<&str> = originals
            .iter()
            .copied()
            .filter(|o| name_problem(o).is_none())
            .collect();
        let mut derived: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for o in originals.iter().filter(|o| !kept.contains(*o)) {
            derived.entry(derive(o, fallback)).or_default().push(o);
        }
        let mut names = BTreeMap::new();
        for o in &kept {
            names.insert(o.to_string(), o.to_string());
        }
        for (name, group) in derived {
            let clash = group.len() > 1 || kept.contains(name.as_str());
            for o in group {
                let final_name = if clash {
                    let hash = short_hash(o);
                    let room = MAX_NAME_LEN - hash.len() - 1;
                    let base: String = name.chars().take(room).collect();
                    format!("{base}_{hash}")
                } else {
                    name.clone()
                };
                names.insert(o.to_string(), final_name);
            }
        }
        Scope { names }
    }

    /// The pgdag name of an original of this scope.
    pub fn get(&self, original: &str) -> Option<&str> {
        self.names.get(original).map(String::as_str)
    }

    /// Adds one more original (a helper task), named without clashing with the others.
    pub fn add(&mut self, original: &str, wanted: &str) -> String {
        let taken = |n: &str| self.names.values().any(|v| v == n);
        let mut name: String = wanted.chars().take(MAX_NAME_LEN).collect();
        if taken(&name) {
            let hash = short_hash(original);
            let base: String = wanted.chars().take(MAX_NAME_LEN - 9).collect();
            name = format!("{base}_{hash}");
        }
        self.names.insert(original.to_string(), name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_kept_and_others_become_readable() {
        assert_eq!(derive("shell_1", "task"), "shell_1");
        assert_eq!(derive("jifeng-sql", "task"), "jifeng-sql");
        assert_eq!(
            derive("display available version", "task"),
            "display_available_version"
        );
        assert_eq!(derive("shell节点", "task"), "shell_jie_dian");
        assert_eq!(derive("依赖节点测试", "wf"), "yi_lai_jie_dian_ce_shi");
        assert_eq!(derive("继风-flow", "wf"), "ji_feng_-flow");
        assert_eq!(derive("a (b) [c]", "t"), "a_b_c");
        let empty = derive("()", "task");
        assert!(empty.starts_with("task_") && empty.len() == 13, "{empty}");
        let long = "名".repeat(200);
        assert!(derive(&long, "t").len() <= MAX_NAME_LEN);
        assert!(name_problem(&derive(&long, "t")).is_none());
    }

    #[test]
    fn a_scope_never_puts_two_originals_on_one_name() {
        let scope = Scope::new(["a b", "a_b", "a(b", "x"], "task");
        assert_eq!(scope.get("a_b"), Some("a_b"));
        assert_eq!(scope.get("x"), Some("x"));
        let one = scope.get("a b").unwrap();
        let two = scope.get("a(b").unwrap();
        assert!(one.starts_with("a_b_") && two.starts_with("a_b_") && one != two);
        // Deterministic: the same set in another order names the same.
        let again = Scope::new(["x", "a(b", "a_b", "a b"], "task");
        assert_eq!(again.get("a b"), Some(one));
    }
}

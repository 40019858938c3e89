//! Tests of the house's shape, read from the source files: no file imports a file that
//! imports it back (directly or around a circle), and the layers below the roles (`tasks`,
//! `store` and the pure core) import no role (`master`, `worker`, `alert`, `api`, `cli`,
//! `server`). A `use` inside a file's `#[cfg(test)] mod tests` does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every `.rs` file under `src/`, by module path (`src/master/mod.rs` is `master`).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(src)
                    .expect("under src")
                    .with_extension("");
                let mut parts: Module = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                out.insert(parts, path);
            }
        }
    }
    out
}

/// The text that counts: comments and the trailing test module removed.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_lowercase() || c == '_'
}

/// Module paths named after `crate::` or `super::` (with `{a, b::c}` groups expanded), as
/// segment lists relative to the crate root.
fn referenced_paths(module: &Module, code: &str) -> Vec<Module> {
    let mut out = Vec::new();
    // `super` of module `a::b` is `a`, whether it lives in `a/b.rs` or `a/b/mod.rs`.
    let parent = module[..module.len().saturating_sub(1)].to_vec();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let mut path = base.clone();
            let mut chars = rest.char_indices().peekable();
            let mut segment = String::new();
            let mut group = None;
            while let Some((i, c)) = chars.next() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    segment.push(c);
                } else if c == ':' && chars.peek().is_some_and(|(_, n)| *n == ':') {
                    chars.next();
                    if !segment.is_empty() {
                        path.push(std::mem::take(&mut segment));
                    }
                    if chars.peek().is_some_and(|(_, n)| *n == '{') {
                        let start = i + 3;
                        if let Some(end) = rest[start..].find('}') {
                            group = Some(&rest[start..start + end]);
                        }
                        break;
                    }
                } else {
                    break;
                }
            }
            if !segment.is_empty() {
                path.push(segment);
            }
            path.retain(|s| s.chars().next().is_some_and(is_ident_start));
            if let Some(group) = group {
                for item in group.split(',') {
                    let item = item.split(" as ").next().unwrap_or("").trim();
                    let mut full = path.clone();
                    full.extend(
                        item.split("::")
                            .map(str::trim)
                            .filter(|s| {
                                s.chars().next().is_some_and(is_ident_start) && *s != "self"
                            })
                            .map(String::from),
                    );
                    out.push(full);
                }
            }
            out.push(path);
        }
    }
    out
}

/// The module file a path lands in: its longest prefix that is a module.
fn resolve(path: &[String], modules: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains_key(prefix))
}

/// Which module imports which (a parent module's declaration of its children excluded).
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let mut edges = BTreeMap::new();
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path).expect("read source");
        let is_mod_file = path
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        let mut deps = BTreeSet::new();
        for referenced in referenced_paths(module, &code(&text)) {
            if let Some(target) = resolve(&referenced, &modules) {
                let own_child = is_mod_file
                    && target.len() > module.len()
                    && target[..module.len()] == module[..];
                if target != *module && !own_child {
                    deps.insert(target);
                }
            }
        }
        edges.insert(module.clone(), deps);
    }
    edges
}

fn name(module: &Module) -> String {
    module.join("::")
}

/// A circle through `start`, if any (depth-first search back to it).
fn circle_through(
    start: &Module,
    edges: &BTreeMap<Module, BTreeSet<Module>>,
) -> Option<Vec<Module>> {
    let mut stack = vec![(start.clone(), vec![start.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in edges.get(&at).into_iter().flatten() {
            if next == start {
                let mut circle = path.clone();
                circle.push(start.clone());
                return Some(circle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let edges = graph();
    assert!(
        edges.len() > 50,
        "the source tree was read ({} files)",
        edges.len()
    );
    let circles: Vec<String> = edges
        .keys()
        .filter_map(|m| circle_through(m, &edges))
        .map(|c| c.iter().map(name).collect::<Vec<_>>().join(" -> "))
        .collect();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_layers_below_the_roles_import_no_role() {
    const ROLES: [&str; 6] = ["master", "worker", "alert", "api", "cli", "server"];
    const BELOW: [&str; 9] = [
        "tasks", "store", "dag", "params", "cron", "model", "spec", "text", "view",
    ];
    let edges = graph();
    let mut wrong = Vec::new();
    for (module, deps) in &edges {
        if !module.first().is_some_and(|m| BELOW.contains(&m.as_str())) {
            continue;
        }
        for dep in deps {
            if dep.first().is_some_and(|d| ROLES.contains(&d.as_str())) {
                wrong.push(format!("{} imports {}", name(module), name(dep)));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reader_finds_grouped_and_relative_imports() {
    let module = vec!["master".to_string(), "evaluator".to_string()];
    let found = referenced_paths(
        &module,
        "use super::start::{self, StartRequest};\nuse crate::store::{Result, instances::{self, X}};\nlet y = crate::params::json_to_params(v);",
    );
    let found: Vec<String> = found.iter().map(name).collect();
    for expected in [
        "master::start",
        "store::instances",
        "params::json_to_params",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(expected)),
            "{expected} in {found:?}"
        );
    }
}

#[test]
fn a_circle_of_three_is_found_from_each_member() {
    let m = |s: &str| vec![s.to_string()];
    let mut edges = BTreeMap::new();
    edges.insert(m("a"), BTreeSet::from([m("b")]));
    edges.insert(m("b"), BTreeSet::from([m("c"), m("d")]));
    edges.insert(m("c"), BTreeSet::from([m("a")]));
    edges.insert(m("d"), BTreeSet::new());
    let circle = circle_through(&m("b"), &edges).expect("b -> c -> a -> b");
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 4);
    assert!(circle_through(&m("d"), &edges).is_none());
}

//! pgdag's YAML documents (DESIGN §6 "Workflow YAML") → typed, validated specs, and a
//! workflow spec back to YAML.
//!
//! Pure: callers hand in a file name (only used in messages) and the text. Parsing goes in
//! three steps: serde-saphyr reads the text into a tree of nodes with positions
//! (`tree.rs`); a walker checks every key and value and builds the specs (`parse.rs`); the
//! tasks of a workflow are checked against each other (`check.rs`). Every problem becomes a
//! [`SpecError`] with `file:line:column`, and all of them are returned together.
//!
//! Features that parse but do not run yet are reported separately by
//! [`unavailable_features`], so the format (and stored definitions) never change when they
//! land.
//!
//! YAML reading follows YAML 1.2: only `true`/`false` are booleans (`no`, `on` are
//! strings); numbers and booleans given where text is expected keep their source spelling
//! (`version: 1.10` is the parameter `"1.10"`); an empty value (`key:`) means the key is not
//! set. Anchors, aliases and `<<` merges work. Nesting deeper than 24 levels is refused
//! (the format needs about 6), which keeps parsing safe on small thread stacks.

mod check;
mod draft;
pub(crate) mod export;
mod features;
mod parse;
mod tree;
mod types;

#[cfg(test)]
mod tests;

pub use parse::{
    COMMON_TASK_KEYS, MAX_NAME_LEN, MAX_VALUE_BYTES, MAX_VARIABLES, name_problem, type_keys,
};
pub use types::*;

/// One problem in a spec file. `line`/`column` are 1-based; 0 when unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses every `---` document of one file, validates each fully, and returns all documents
/// (in file order; empty documents are left out, so an empty file gives none) or every error
/// found, sorted by position. A YAML syntax error stops the reading of the whole file and is
/// then the only error.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Document>, Vec<SpecError>> {
    let mut ctx = draft::Ctx::new(file);
    let nodes = match tree::load_yaml(text) {
        Ok(nodes) => nodes,
        Err(e) => {
            ctx.err(e.pos, e.message);
            return Err(ctx.errors);
        }
    };
    let mut docs = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let before = ctx.errors.len();
        match parse::document(&mut ctx, node) {
            Some(doc) => docs.push(doc),
            None if ctx.errors.len() == before => {
                ctx.err(node.pos, "invalid document");
            }
            None => {}
        }
    }
    duplicate_documents(&mut ctx, &docs);
    if ctx.errors.is_empty() {
        Ok(docs)
    } else {
        ctx.errors.sort_by_key(|e| (e.line, e.column));
        Err(ctx.errors)
    }
}

/// Two documents of one file that define the same thing.
fn duplicate_documents(ctx: &mut draft::Ctx, docs: &[Document]) {
    let key = |doc: &Document| match doc {
        Document::Workflow(w) => format!("workflow {}/{}", w.project, w.name),
        Document::Datasource(d) => format!("datasource {}/{}", d.project, d.name),
        Document::AlertGroup(a) => format!("alert_group {}", a.name),
        Document::TaskGroup(g) => format!("task_group {}", g.name),
        Document::Tenant(t) => format!("tenant {}", t.name),
        Document::Schedule(s) => format!(
            "schedule {}/{} {:?} {} {:?}-{:?} {}",
            s.project,
            s.workflow,
            s.schedule.cron,
            s.schedule.timezone,
            s.schedule.start,
            s.schedule.end,
            s.schedule.misfire
        ),
        Document::Variables(v) => format!("variables of project {}", v.project),
        Document::Secret(s) => format!("secret {}/{}", s.project, s.name),
    };
    for (i, doc) in docs.iter().enumerate() {
        let k = key(doc);
        if let Some(first) = docs[..i].iter().find(|d| key(d) == k) {
            ctx.err(
                doc.source().pos("name"),
                format!(
                    "{k} is defined twice in this file (first at line {})",
                    first.source().pos("name").line
                ),
            );
        }
    }
}

/// The REST API's JSON form of a workflow document: same keys, same validation. Positions
/// come from the JSON text where possible, else are 0.
pub fn parse_workflow_json(file: &str, text: &str) -> Result<WorkflowSpec, Vec<SpecError>> {
    let mut ctx = draft::Ctx::new(file);
    let node = match tree::load_json(text) {
        Ok(node) => node,
        Err(e) => {
            ctx.err(e.pos, e.message);
            return Err(ctx.errors);
        }
    };
    match parse::document(&mut ctx, &node) {
        Some(Document::Workflow(w)) => {
            if ctx.errors.is_empty() {
                return Ok(w);
            }
        }
        Some(other) => {
            let pos = other.source().pos("kind");
            ctx.err(
                pos,
                format!("expected a workflow document, not kind {}", other.kind()),
            );
        }
        None => {
            if ctx.errors.is_empty() {
                ctx.err(node.pos, "invalid document");
            }
        }
    }
    ctx.errors.sort_by_key(|e| (e.line, e.column));
    Err(ctx.errors)
}

/// Features of the format that this build cannot run yet, as errors at their line: `notify`
/// with `when` other than none, a sql task's `send_result_to`, and documents of kind
/// alert_group.
pub fn unavailable_features(file: &str, doc: &Document) -> Vec<SpecError> {
    features::unavailable(file, doc)
}

/// YAML that [`parse_documents`] accepts and that parses back to an equal spec (defaults
/// are left out). One document, without a leading `---`.
pub fn to_yaml(spec: &WorkflowSpec) -> String {
    export::to_yaml(spec)
}

/// Any document as YAML that [`parse_documents`] reads back to an equal document (`kind:`
/// first; a workflow without it). One document, without a leading `---`.
pub fn document_to_yaml(document: &Document) -> String {
    export::document_to_yaml(document)
}

//! From YAML files (or a request body) to validated workflow specs ready to store.
//! Reads files and nothing else; the caller stores the result in one transaction, so a
//! bad document means nothing is written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::spec::{self, Document, SpecError, WorkflowSpec};

/// Parse and check one file's text: every error of every document, or the workflows.
pub fn check_text(file: &str, text: &str) -> Result<Vec<WorkflowSpec>, Vec<SpecError>> {
    let documents = spec::parse_documents(file, text)?;
    let mut errors = Vec::new();
    let mut workflows = Vec::new();
    for document in documents {
        errors.extend(spec::unavailable_features(file, &document));
        if let Document::Workflow(workflow) = &document {
            if let Err(message) = crate::store::schedules::YamlSchedule::from_spec(workflow) {
                let pos = workflow.source.pos("schedule");
                errors.push(SpecError {
                    file: file.to_string(),
                    line: pos.line,
                    column: pos.column,
                    message: format!("schedule: {message}"),
                });
            }
        }
        if let Document::Workflow(workflow) = document {
            workflows.push(workflow);
        }
    }
    if errors.is_empty() {
        Ok(workflows)
    } else {
        Err(errors)
    }
}

/// The YAML files named: files as given, directories walked for `*.yaml` / `*.yml` in
/// name order.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<String>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files, &mut errors);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            errors.push(format!("{}: no such file or directory", path.display()));
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files, errors);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
}

/// Read, parse and check every file; a workflow defined twice is an error too.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<WorkflowSpec>, Vec<String>> {
    let files = collect_files(paths)?;
    let mut errors: Vec<String> = Vec::new();
    let mut workflows = Vec::new();
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for file in &files {
        let name = file.display().to_string();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        match check_text(&name, &text) {
            Ok(found) => {
                for workflow in found {
                    let key = (workflow.project.clone(), workflow.name.clone());
                    if let Some(first) = seen.get(&key) {
                        errors.push(format!(
                            "{name}: workflow {}/{} is also defined in {first}",
                            workflow.project, workflow.name
                        ));
                    } else {
                        seen.insert(key, name.clone());
                        workflows.push(workflow);
                    }
                }
            }
            Err(found) => errors.extend(found.into_iter().map(|e| e.to_string())),
        }
    }
    if files.is_empty() && errors.is_empty() {
        errors.push("no YAML files found (expected *.yaml or *.yml)".into());
    }
    if errors.is_empty() {
        Ok(workflows)
    } else {
        Err(errors)
    }
}

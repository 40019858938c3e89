//! `pgdag import dolphinscheduler`: reads the files, runs the pure converter
//! (`crate::import::dolphinscheduler`), and prints, writes or applies what it made.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{CliError, CliResult};
use crate::import::dolphinscheduler::{self, Imported, Input, MAX_FILE_BYTES, Options};

/// Reads one file, refusing one larger than the converter takes.
fn read_bounded(path: &Path) -> Result<String, String> {
    let name = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{name}:1:1: file is larger than {} MiB",
            MAX_FILE_BYTES / 1024 / 1024
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{name}:1:1: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

pub async fn dolphinscheduler(
    files: &[PathBuf],
    project: Option<String>,
    out: Option<&Path>,
    apply: bool,
    allow_unsupported: bool,
) -> CliResult {
    let mut texts = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        match read_bounded(path) {
            Ok(text) => texts.push((path.display().to_string(), text)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(CliError::usage(errors.join("\n")));
    }
    let inputs: Vec<Input> = texts
        .iter()
        .map(|(file, text)| Input { file, text })
        .collect();
    let options = Options {
        project,
        allow_unsupported,
    };
    let imported = dolphinscheduler::import(&inputs, &options).map_err(|problems| {
        let mut lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        lines.push(format!(
            "{} problem{}; nothing was written{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            if problems.iter().any(|p| p.task.is_some()) && !allow_unsupported {
                " (--allow-unsupported turns unsupported tasks into shell tasks that fail)"
            } else {
                ""
            }
        ));
        CliError::usage(lines.join("\n"))
    })?;
    eprintln!(
        "imported {} workflow{}: {}",
        imported.workflows.len(),
        if imported.workflows.len() == 1 {
            ""
        } else {
            "s"
        },
        imported.report.summary()
    );
    if let Some(dir) = out {
        write_out(dir, &imported)?;
        eprintln!(
            "wrote {} (apply with `pgdag apply -f {}`); the report is {}",
            dir.display(),
            dir.display(),
            dir.join("IMPORT.md").display()
        );
        return Ok(0);
    }
    if apply {
        let checked = crate::apply::check_documents("import", &imported.yaml()).map_err(|e| {
            CliError::runtime(format!(
                "the converted documents do not check (an importer bug): {}",
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        for entry in &imported.report.entries {
            eprintln!("report: {entry}");
        }
        return super::setup::apply_checked(checked, true).await;
    }
    for entry in &imported.report.entries {
        eprintln!("report: {entry}");
    }
    print!("{}", imported.yaml());
    Ok(0)
}

/// Writes every file into `dir` (created if missing). Paths come from pgdag names (letters,
/// digits, `_`, `.`, `-`), so they cannot leave `dir`.
fn write_out(dir: &Path, imported: &Imported) -> Result<(), CliError> {
    let io = |path: &Path, e: std::io::Error| CliError::runtime(format!("{}: {e}", path.display()));
    for (relative, text) in imported.files() {
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    let report = dir.join("IMPORT.md");
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    std::fs::write(&report, imported.report.to_markdown()).map_err(|e| io(&report, e))?;
    Ok(())
}

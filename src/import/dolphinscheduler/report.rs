//! What an import did and could not do: the problems that stop it, and the report of a
//! successful one (renames, defaults taken, unsupported parts turned into failing tasks,
//! notes), rendered as `IMPORT.md`.

use std::fmt;

/// One thing that stops the import: it names the file (with the line and column of the
/// workflow, or of the JSON error), the workflow, the task and the field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub workflow: Option<String>,
    pub task: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(w) = &self.workflow {
            write!(f, "workflow {w:?}: ")?;
        }
        if let Some(t) = &self.task {
            write!(f, "task {t:?}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// What kind of report line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// A name pgdag does not accept, replaced by a derived one.
    Rename,
    /// Something the export did not say, or said in a way pgdag spells differently.
    Default,
    /// A part pgdag cannot carry, replaced by a failing shell task (`--allow-unsupported`).
    Unsupported,
    /// Something to do by hand after the import (datasource passwords, task groups...).
    ToDo,
}

impl EntryKind {
    fn heading(self) -> &'static str {
        match self {
            EntryKind::Rename => "Renamed",
            EntryKind::Default => "Defaults taken and conversions",
            EntryKind::Unsupported => "Unsupported, replaced by failing shell tasks",
            EntryKind::ToDo => "To do by hand",
        }
    }
}

/// One report line: where (`project/workflow`, task) and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub kind: EntryKind,
    pub file: String,
    pub workflow: String,
    pub task: Option<String>,
    pub text: String,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.workflow)?;
        if let Some(t) = &self.task {
            write!(f, ", task {t}")?;
        }
        write!(f, ": {}", self.text)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: Vec<Entry>,
    /// `(file, format, workflows)` for each file read.
    pub files: Vec<(String, String, usize)>,
}

impl Report {
    pub fn count(&self, kind: EntryKind) -> usize {
        self.entries.iter().filter(|e| e.kind == kind).count()
    }

    /// The report as Markdown (`IMPORT.md`). Lines are sorted, so the same import always
    /// writes the same report.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("# Import from DolphinScheduler\n\n");
        out.push_str("| file | format | workflows |\n|---|---|---|\n");
        for (file, format, n) in &self.files {
            out.push_str(&format!("| {} | {format} | {n} |\n", md_cell(file)));
        }
        let mut entries = self.entries.clone();
        entries.sort();
        entries.dedup();
        for kind in [
            EntryKind::Rename,
            EntryKind::Unsupported,
            EntryKind::ToDo,
            EntryKind::Default,
        ] {
            let lines: Vec<&Entry> = entries.iter().filter(|e| e.kind == kind).collect();
            out.push_str(&format!("\n## {} ({})\n\n", kind.heading(), lines.len()));
            if lines.is_empty() {
                out.push_str("None.\n");
            }
            for e in lines {
                out.push_str(&format!("- {}\n", md_line(&e.to_string())));
            }
        }
        out
    }

    /// A short summary for the terminal: counts per kind.
    pub fn summary(&self) -> String {
        format!(
            "{} renamed, {} unsupported (failing shell tasks), {} to do by hand, {} defaults taken",
            self.count(EntryKind::Rename),
            self.count(EntryKind::Unsupported),
            self.count(EntryKind::ToDo),
            self.count(EntryKind::Default)
        )
    }
}

fn md_cell(text: &str) -> String {
    md_line(text).replace('|', "\\|")
}

/// One line of Markdown: newlines folded, characters that would start markup escaped.
fn md_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' | '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

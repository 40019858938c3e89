//! Parts of the format that this build parses but cannot run yet. Kept apart from parsing so
//! that each line here can be deleted when the feature lands.

use super::SpecError;
use super::types::{Document, NotifyWhen, Pos};

pub(crate) fn unavailable(file: &str, doc: &Document) -> Vec<SpecError> {
    let mut out = Vec::new();
    let mut flag = |pos: Pos, message: String| {
        out.push(SpecError {
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            message,
        })
    };
    match doc {
        Document::Workflow(w) => {
            if let Some(notify) = &w.notify
                && notify.when != NotifyWhen::None
            {
                flag(w.source.pos("notify"), "notify is not available yet".into());
            }
            for task in &w.tasks {
                let ty = task.task_type();
                if !ty.is_available() {
                    flag(
                        task.source.pos("type"),
                        format!("task type {ty} is not available yet"),
                    );
                }
            }
        }
        Document::Datasource(d) => flag(
            d.source.pos(""),
            "documents of kind datasource are not available yet".into(),
        ),
        Document::TaskGroup(_) => {}
        Document::AlertGroup(a) => flag(
            a.source.pos(""),
            "documents of kind alert_group are not available yet".into(),
        ),
    }
    out.sort_by_key(|e| (e.line, e.column));
    out
}

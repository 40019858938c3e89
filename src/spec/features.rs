//! Parts of the format that this build parses but cannot run yet. Kept apart from parsing so
//! that each line here can be deleted when the feature lands.

use super::SpecError;
use super::types::{Document, NotifyWhen, Pos, TaskKind};

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
                if let TaskKind::Sql(sql) = &task.kind
                    && sql.send_result_to.is_some()
                {
                    flag(
                        task.source.pos("send_result_to"),
                        "send_result_to is not available yet (alerts are not sent yet)".into(),
                    );
                }
            }
        }
        Document::Datasource(_) | Document::TaskGroup(_) => {}
        Document::AlertGroup(a) => flag(
            a.source.pos(""),
            "documents of kind alert_group are not available yet".into(),
        ),
    }
    out.sort_by_key(|e| (e.line, e.column));
    out
}

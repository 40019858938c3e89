//! What the parser and the cross-task checks share: the errors of one file ([`Ctx`]) and
//! what each task of a workflow looked like ([`Draft`]), kept apart so that the parser
//! (`parse`) calls the checks (`check`) without the checks reaching back into the parser.

use super::SpecError;
use super::types::{Pos, TaskSpec};
use crate::model::TaskType;

/// Collects the errors of one file.
pub(crate) struct Ctx<'f> {
    pub file: &'f str,
    pub errors: Vec<SpecError>,
}

impl<'f> Ctx<'f> {
    pub fn new(file: &'f str) -> Self {
        Ctx {
            file,
            errors: Vec::new(),
        }
    }
    pub fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push(SpecError {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }
}

/// What the cross-task checks need from one task, even when the task itself is invalid.
pub(crate) struct Draft {
    pub pos: Pos,
    pub name: Option<(String, Pos)>,
    pub spec: Option<TaskSpec>,
    /// `depends_on` entries with their positions.
    pub deps: Vec<(String, Pos)>,
    /// Tasks named by a conditions/switch branch, with their positions and the type.
    pub branches: Vec<(String, Pos, TaskType)>,
}

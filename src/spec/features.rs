//! Parts of the format that this build parses but cannot run yet. Kept apart from parsing so
//! that each can be added here when the format names something before it is built, and
//! deleted when it lands. Every part of the format runs at the moment.

use super::SpecError;
use super::types::Document;

pub(crate) fn unavailable(_file: &str, _doc: &Document) -> Vec<SpecError> {
    Vec::new()
}

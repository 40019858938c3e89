//! The bodies of the list endpoints, shared with the CLI's `--json` listings (`pgdag
//! projects|workflows|instances --json` print exactly what these endpoints answer).

use crate::store::definitions::{ProjectSummary, WorkflowSummary};
use crate::store::instances::InstanceDetail;

/// `GET /api/v1/projects`.
pub fn projects(list: &[ProjectSummary]) -> serde_json::Value {
    serde_json::json!({ "projects": list })
}

/// `GET /api/v1/projects/{p}/workflows`.
pub fn workflows(list: &[WorkflowSummary]) -> serde_json::Value {
    serde_json::json!({ "workflows": list })
}

/// `GET /api/v1/instances`.
pub fn instances(list: &[InstanceDetail]) -> serde_json::Value {
    serde_json::json!({ "instances": list })
}

//! The audit trail (`pgdag.audit`): who did what, written in the transaction of the action.
//!
//! Commands are recorded by a trigger on `pgdag.command` (from the row's `created_by`), so a
//! command inserted through SQL is recorded too; everything else calls [`record`] in the
//! transaction of its change. Rows are never updated; the leader's pruner deletes them past
//! retention like instances (`cluster::prune`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Result;
use super::db::{Conn, query};

/// One audited action.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub project: Option<String>,
    pub target: Option<String>,
    pub detail: serde_json::Value,
}

/// Record `action` by `actor` (on `project`'s `target`, when it has them).
pub async fn record(
    client: &impl Conn,
    actor: &str,
    action: &str,
    project: Option<&str>,
    target: Option<&str>,
    detail: serde_json::Value,
) -> Result<()> {
    client
        .exec(
            query!("audit/record"),
            &[&actor, &action, &project, &target, &detail],
        )
        .await?;
    Ok(())
}

/// What the audit list is filtered by; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A part of the actor (case-insensitive): `alice` finds `alice (token ci)`.
    pub actor: Option<String>,
    pub project: Option<String>,
    /// An action, or its kind: `command` finds `command.start` and `command.stop`.
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// Events newest first.
pub async fn list(client: &impl Conn, f: &Filter) -> Result<Vec<Event>> {
    let rows = client
        .fetch(
            query!("audit/list"),
            &[
                &f.actor, &f.project, &f.action, &f.from, &f.to, &f.before, &f.limit,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Event {
            id: r.get("id"),
            at: r.get("at"),
            actor: r.get("actor"),
            action: r.get("action"),
            project: r.get("project"),
            target: r.get("target"),
            detail: r.get("detail"),
        })
        .collect())
}

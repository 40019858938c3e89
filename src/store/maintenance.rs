//! Upkeep of pgdag's hot tables where the server runs without autovacuum
//! (`master::keeper` decides when).

use super::Result;
use super::db::{Conn, query};

/// The tables whose rows pgdag changes all the time: dead rows pile up in them, and their
/// statistics go stale as they grow.
pub const HOT_TABLES: [&str; 5] = [
    "task_instance",
    "task_queue",
    "instance_event",
    "workflow_instance",
    "command",
];

/// The hot tables that every ended attempt changed: its task row updated (three times),
/// its queue row taken, its outcome's evaluation event consumed — one event per flush of
/// outcomes since V25, so fewer than the attempts there; counting them as many costs a
/// vacuum of a table of a few rows, and keeps it from waiting a thousand attempts more
/// behind lagging statistics. `workflow_instance` and `command` change once per run.
pub const PER_ATTEMPT_TABLES: [&str; 3] = ["task_instance", "task_queue", "instance_event"];

/// What `pg_stat_user_tables` says of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableHealth {
    pub table: String,
    pub live: i64,
    pub dead: i64,
    pub changed_since_analyze: i64,
}

/// The hot tables' health; nothing when the server runs autovacuum.
pub async fn health(client: &impl Conn) -> Result<Vec<TableHealth>> {
    let tables: Vec<&str> = HOT_TABLES.to_vec();
    Ok(client
        .fetch(query!("maintenance/table_health"), &[&tables])
        .await?
        .into_iter()
        .map(|r| TableHealth {
            table: r.get(0),
            live: r.get(1),
            dead: r.get(2),
            changed_since_analyze: r.get(3),
        })
        .collect())
}

/// `VACUUM (ANALYZE)` of one hot table, or `ANALYZE` alone. `SKIP_LOCKED`: another
/// master already at it is left to it. Must run outside a transaction block.
pub async fn vacuum(client: &impl Conn, table: &str, analyze_only: bool) -> Result<()> {
    // Only names of HOT_TABLES are ever put in the statement.
    let Some(table) = HOT_TABLES.iter().find(|t| **t == table) else {
        return Err(super::StoreError::Invalid(format!(
            "{table} is not one of pgdag's hot tables"
        )));
    };
    let text = if analyze_only {
        format!("analyze (skip_locked) pgdag.{table}")
    } else {
        format!("vacuum (analyze, skip_locked) pgdag.{table}")
    };
    client.exec_simple(&text).await
}

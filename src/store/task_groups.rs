//! Task groups: named concurrency limits shared across workflows.

use serde::Serialize;

use super::Result;
use super::db::{Conn, query};

pub async fn upsert(client: &impl Conn, name: &str, size: i32) -> Result<()> {
    client
        .exec(query!("task_groups/upsert"), &[&name, &size])
        .await?;
    Ok(())
}

/// The group's (size, slots in use), with its row locked; None when it does not exist.
pub async fn lock(client: &impl Conn, name: &str) -> Result<Option<(i64, i64)>> {
    let Some(row) = client
        .fetch_opt(query!("task_groups/lock"), &[&name])
        .await?
    else {
        return Ok(None);
    };
    let size = row.get::<_, i32>(0) as i64;
    let busy: i64 = client
        .fetch_one(query!("task_groups/busy"), &[&name])
        .await?
        .get(0);
    Ok(Some((size, busy)))
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskGroupRow {
    pub name: String,
    pub size: i32,
    pub busy: i64,
    pub waiting: i64,
}

pub async fn list(client: &impl Conn) -> Result<Vec<TaskGroupRow>> {
    Ok(client
        .fetch(query!("task_groups/list"), &[])
        .await?
        .iter()
        .map(|r| TaskGroupRow {
            name: r.get(0),
            size: r.get(1),
            busy: r.get(2),
            waiting: r.get(3),
        })
        .collect())
}

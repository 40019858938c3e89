//! Task groups: named concurrency limits shared across workflows.

use deadpool_postgres::GenericClient;
use serde::Serialize;

use super::Result;

pub async fn upsert(client: &impl GenericClient, name: &str, size: i32) -> Result<()> {
    crate::metrics::query();
    client
        .execute(
            include_str!("../../sql/queries/task_groups/upsert.sql"),
            &[&name, &size],
        )
        .await?;
    Ok(())
}

/// The group's (size, slots in use), with its row locked; None when it does not exist.
pub async fn lock(client: &impl GenericClient, name: &str) -> Result<Option<(i64, i64)>> {
    crate::metrics::add(&crate::metrics::QUERIES, 2);
    let Some(row) = client
        .query_opt(
            include_str!("../../sql/queries/task_groups/lock.sql"),
            &[&name],
        )
        .await?
    else {
        return Ok(None);
    };
    let size = row.get::<_, i32>(0) as i64;
    let busy: i64 = client
        .query_one(
            include_str!("../../sql/queries/task_groups/busy.sql"),
            &[&name],
        )
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

pub async fn list(client: &impl GenericClient) -> Result<Vec<TaskGroupRow>> {
    crate::metrics::query();
    Ok(client
        .query(include_str!("../../sql/queries/task_groups/list.sql"), &[])
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

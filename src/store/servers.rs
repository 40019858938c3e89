//! The `pgdag.server` registry.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::Result;

pub async fn register(
    client: &impl GenericClient,
    name: &str,
    roles: &[String],
    host: &str,
    pid: i32,
    worker_groups: &[String],
) -> Result<i64> {
    let row = client
        .query_one(
            include_str!("../../sql/queries/servers/register.sql"),
            &[
                &name,
                &roles,
                &host,
                &pid,
                &worker_groups,
                &env!("CARGO_PKG_VERSION"),
            ],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn heartbeat(client: &impl GenericClient, id: i64, running_tasks: i32) -> Result<()> {
    client
        .execute(
            include_str!("../../sql/queries/servers/heartbeat.sql"),
            &[&id, &running_tasks],
        )
        .await?;
    Ok(())
}

pub async fn stop(client: &impl GenericClient, id: i64) -> Result<()> {
    client
        .execute(include_str!("../../sql/queries/servers/stop.sql"), &[&id])
        .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerRow {
    pub id: i64,
    pub name: String,
    pub roles: Vec<String>,
    pub host: String,
    pub pid: i32,
    pub worker_groups: Vec<String>,
    pub running_tasks: i32,
    pub started_at: DateTime<Utc>,
    pub heartbeat_age_ms: i64,
}

pub async fn list(client: &impl GenericClient) -> Result<Vec<ServerRow>> {
    let rows = client
        .query(include_str!("../../sql/queries/servers/list.sql"), &[])
        .await?;
    Ok(rows
        .iter()
        .map(|r| ServerRow {
            id: r.get("id"),
            name: r.get("name"),
            roles: r.get("roles"),
            host: r.get("host"),
            pid: r.get("pid"),
            worker_groups: r.get("worker_groups"),
            running_tasks: r.get("running_tasks"),
            started_at: r.get("started_at"),
            heartbeat_age_ms: r.get("heartbeat_age_ms"),
        })
        .collect())
}

//! The `pgdag.server` registry and the advisory locks that prove a server alive.
//!
//! The lock functions run on a process's dedicated lock connection (a [`Session`]): session
//! advisory locks must live on a connection the process owns.
//!
//! [`Session`]: super::db::Session

use super::Now;
use chrono::{DateTime, Utc};

use super::Result;
use super::db::{Conn, query};

/// Advisory lock key of a server's liveness lock (the high bits keep it clear of other keys).
pub fn liveness_key(server_id: i64) -> i64 {
    0x7067_0000_0000_0000 | (server_id & 0x0000_ffff_ffff_ffff)
}

/// Advisory lock key of the leader.
pub const LEADER_KEY: i64 = 0x7067_6461_675f_6c64; // "pgdag_ld"

pub async fn register(
    client: &impl Conn,
    name: &str,
    roles: &[String],
    host: &str,
    pid: i32,
    worker_groups: &[String],
    max_tasks: Option<i32>,
) -> Result<i64> {
    let row = client
        .fetch_one(
            query!("servers/register"),
            &[
                &name,
                &roles,
                &host,
                &pid,
                &worker_groups,
                &env!("CARGO_PKG_VERSION"),
                &max_tasks,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// Take a session advisory lock without waiting; true when taken.
pub async fn try_lock(client: &impl Conn, key: i64) -> Result<bool> {
    Ok(client
        .fetch_one(query!("servers/try_lock"), &[&key])
        .await?
        .get(0))
}

/// Waits for the session advisory lock `key` (blocked in the server until it is free).
pub async fn lock(client: &impl Conn, key: i64) -> Result<()> {
    client.fetch_one(query!("servers/lock"), &[&key]).await?;
    Ok(())
}

pub async fn unlock(client: &impl Conn, key: i64) -> Result<()> {
    client.exec(query!("servers/unlock"), &[&key]).await?;
    Ok(())
}

/// Returns false when the row was declared dead or stopped: the caller lost its identity.
pub async fn heartbeat(
    client: &impl Conn,
    id: i64,
    running_tasks: i32,
    load_avg: Option<f32>,
    now: Now,
) -> Result<bool> {
    Ok(client
        .fetch_opt(
            query!("servers/heartbeat"),
            &[&id, &running_tasks, &load_avg, &now],
        )
        .await?
        .is_some())
}

/// Does the connection answer?
pub async fn ping(client: &impl Conn) -> Result<()> {
    client.fetch_one(query!("servers/ping"), &[]).await?;
    Ok(())
}

/// End this session when it has been idle for `ms` (a hung process stops holding its locks).
pub async fn set_idle_session_timeout(client: &impl Conn, ms: u64) -> Result<()> {
    client
        .fetch_one(query!("servers/idle_session_timeout"), &[&ms.to_string()])
        .await?;
    Ok(())
}

/// Name this session `name` in `pg_stat_activity` (a session the process owns).
pub async fn set_application_name(client: &impl Conn, name: &str) -> Result<()> {
    client
        .fetch_one(query!("servers/application_name"), &[&name])
        .await?;
    Ok(())
}

/// The `application_name` of a server's connections: `pgdag:<roles>:<server id>`, roles
/// joined by `+` (`pgdag:api+master+worker+alert:12`).
pub fn application_name(roles: &[String], server_id: Option<i64>) -> String {
    match server_id {
        Some(id) => format!("pgdag:{}:{id}", roles.join("+")),
        None => format!("pgdag:{}", roles.join("+")),
    }
}

pub async fn stop(client: &impl Conn, id: i64) -> Result<()> {
    client.exec(query!("servers/stop"), &[&id]).await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerRow {
    pub id: i64,
    pub name: String,
    pub roles: Vec<String>,
    pub host: String,
    pub pid: i32,
    pub leader: bool,
    pub worker_groups: Vec<String>,
    pub heartbeat_age_ms: i64,
    pub running_tasks: i32,
    pub started_at: DateTime<Utc>,
    /// A worker's slots (`PGDAG_MAX_TASKS`); null for a process without the worker role.
    pub max_tasks: Option<i32>,
    /// The host's 1-minute load average at the last heartbeat (0 where unknown).
    pub load_avg: f32,
    pub version: String,
}

/// Live servers per role.
pub async fn live_by_role(client: &impl Conn) -> Result<Vec<(String, i64)>> {
    let rows = client.fetch(query!("servers/live_by_role"), &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Live servers (neither stopped nor declared dead), with the leader marked.
pub async fn list(client: &impl Conn) -> Result<Vec<ServerRow>> {
    let rows = client.fetch(query!("servers/list"), &[]).await?;
    Ok(rows
        .iter()
        .map(|r| ServerRow {
            id: r.get("id"),
            name: r.get("name"),
            roles: r.get("roles"),
            host: r.get("host"),
            pid: r.get("pid"),
            leader: r.get("leader"),
            worker_groups: r.get("worker_groups"),
            heartbeat_age_ms: r.get("heartbeat_age_ms"),
            running_tasks: r.get("running_tasks"),
            started_at: r.get("started_at"),
            max_tasks: r.get("max_tasks"),
            load_avg: r.get("load_avg"),
            version: r.get("version"),
        })
        .collect())
}

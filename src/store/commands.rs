//! The `pgdag.command` queue: requests to act, inserted by anyone, claimed by masters.

use super::db::{Conn, query};
use super::{Result, StoreError};
use crate::model::CommandType;

#[derive(Debug, Clone)]
pub struct Command {
    pub id: i64,
    pub command_type: String,
    pub project: Option<String>,
    pub workflow: Option<String>,
    pub params: serde_json::Value,
    pub workflow_instance_id: i64,
    pub options: serde_json::Value,
}

/// Insert a command; returns `(command id, workflow instance id)`.
pub async fn insert(
    client: &impl Conn,
    command_type: CommandType,
    project: Option<&str>,
    workflow: Option<&str>,
    params: &serde_json::Value,
    options: &serde_json::Value,
    workflow_instance_id: Option<i64>,
) -> Result<(i64, i64)> {
    let row = client
        .fetch_one(
            query!("commands/insert"),
            &[
                &command_type.as_str(),
                &project,
                &workflow,
                params,
                options,
                &workflow_instance_id,
            ],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Insert a control command (pause, resume, stop, rerun, start_failed) for an instance;
/// returns the command id.
pub async fn insert_control(
    client: &impl Conn,
    command_type: CommandType,
    workflow_instance_id: i64,
) -> Result<i64> {
    let empty = serde_json::json!({});
    let (id, _) = insert(
        client,
        command_type,
        None,
        None,
        &empty,
        &empty,
        Some(workflow_instance_id),
    )
    .await?;
    Ok(id)
}

/// Insert a command that forces a failed or killed task of an instance to success;
/// returns the command id.
pub async fn insert_force_success(
    client: &impl Conn,
    workflow_instance_id: i64,
    task_instance_id: i64,
) -> Result<i64> {
    let (id, _) = insert(
        client,
        CommandType::ForceSuccess,
        None,
        None,
        &serde_json::json!({}),
        &serde_json::json!({ "task_instance_id": task_instance_id }),
        Some(workflow_instance_id),
    )
    .await?;
    Ok(id)
}

/// Lock up to `limit` of the oldest pending commands (skipping ones other masters hold).
pub async fn claim(client: &impl Conn, limit: i64) -> Result<Vec<Command>> {
    let rows = client.fetch(query!("commands/claim"), &[&limit]).await?;
    for r in &rows {
        crate::metrics::COMMAND_LATENCY.observe("", r.get("waited_s"));
    }
    Ok(rows
        .iter()
        .map(|r| Command {
            id: r.get("id"),
            command_type: r.get("command_type"),
            project: r.get("project"),
            workflow: r.get("workflow"),
            params: r.get("params"),
            workflow_instance_id: r.get("workflow_instance_id"),
            options: r.get("options"),
        })
        .collect())
}

/// A processed command leaves the queue (the instance records its type).
pub async fn delete(client: &impl Conn, id: i64) -> Result<()> {
    client.exec(query!("commands/delete"), &[&id]).await?;
    Ok(())
}

/// An invalid command is kept, `failed`, with a readable error.
pub async fn fail(client: &impl Conn, id: i64, error: &str) -> Result<()> {
    client.exec(query!("commands/fail"), &[&id, &error]).await?;
    Ok(())
}

/// The state and error of the newest command for an instance id, if it is still there.
/// The latest command for an instance id: its state, error, and project (a start's; `None`
/// for a control command).
pub async fn state_for_instance(
    client: &impl Conn,
    instance_id: i64,
) -> Result<Option<(String, Option<String>, Option<String>)>> {
    let row = client
        .fetch_opt(query!("commands/get"), &[&instance_id])
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

pub fn parse_type(text: &str) -> Result<CommandType> {
    text.parse()
        .map_err(|e: crate::model::ParseEnumError| StoreError::Invalid(e.to_string()))
}

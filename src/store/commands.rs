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

/// Who the scheduler itself acts as (a stop or pause reaching a child instance).
pub const SYSTEM_ACTOR: &str = "pgdag";

/// Insert a command on behalf of `actor` (recorded on the row and, by a trigger, in the
/// audit trail); returns `(command id, workflow instance id)`.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    client: &impl Conn,
    actor: &str,
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
                &actor,
            ],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Insert a control command (pause, resume, stop, rerun, start_failed) for an instance;
/// returns the command id.
pub async fn insert_control(
    client: &impl Conn,
    actor: &str,
    command_type: CommandType,
    workflow_instance_id: i64,
) -> Result<i64> {
    let empty = serde_json::json!({});
    let (id, _) = insert(
        client,
        actor,
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

/// Insert a command about one task of an instance (`force_success`, `retry_task`), the
/// task named in `options.task_instance_id`; returns the command id.
pub async fn insert_task_command(
    client: &impl Conn,
    actor: &str,
    kind: CommandType,
    workflow_instance_id: i64,
    task_instance_id: i64,
) -> Result<i64> {
    let (id, _) = insert(
        client,
        actor,
        kind,
        None,
        None,
        &serde_json::json!({}),
        &serde_json::json!({ "task_instance_id": task_instance_id }),
        Some(workflow_instance_id),
    )
    .await?;
    Ok(id)
}

/// Insert a `retry_task` command for a task instance after checking what the master will
/// check (so that people get the refusal at once, as a conflict with the reason); returns
/// `(instance id, command id)`. The master checks again under the instance's lock.
pub async fn insert_retry_task(
    client: &impl Conn,
    actor: &str,
    task_instance_id: i64,
) -> Result<(i64, i64)> {
    let (instance, task_state, instance_state) =
        super::instances::task_states(client, task_instance_id)
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!("task instance {task_instance_id} does not exist"))
            })?;
    if let Some(why) = crate::model::retry_task_refusal(instance_state, task_state) {
        return Err(StoreError::Conflict(format!(
            "cannot retry task instance {task_instance_id}: {why}"
        )));
    }
    let command = insert_task_command(
        client,
        actor,
        CommandType::RetryTask,
        instance,
        task_instance_id,
    )
    .await?;
    Ok((instance, command))
}

/// Insert a `hold` (`hold`) or `release` command for a task instance after checking what
/// the master will check, as [`insert_retry_task`] does; returns `(instance id, command id)`.
pub async fn insert_hold(
    client: &impl Conn,
    actor: &str,
    task_instance_id: i64,
    hold: bool,
) -> Result<(i64, i64)> {
    let (instance, task_state, instance_state, held) =
        super::instances::task_hold_states(client, task_instance_id)
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!("task instance {task_instance_id} does not exist"))
            })?;
    let (kind, refusal) = if hold {
        (
            CommandType::Hold,
            crate::model::hold_refusal(instance_state, task_state, held),
        )
    } else {
        (CommandType::Release, crate::model::release_refusal(held))
    };
    if let Some(why) = refusal {
        return Err(StoreError::Conflict(format!(
            "cannot {kind} task instance {task_instance_id}: {why}"
        )));
    }
    let command = insert_task_command(client, actor, kind, instance, task_instance_id).await?;
    Ok((instance, command))
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

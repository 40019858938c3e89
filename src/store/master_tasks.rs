//! State of the tasks the master carries out itself (`switch`, `conditions`, `sub_process`,
//! `dependent`): starting and ending them, their branch decisions, their log lines, the
//! child instances of sub-processes, and the instance lookups of dependent checks. Every
//! function runs inside the evaluator's transaction, under the instance's row lock.

use chrono::{DateTime, Utc};

use super::Result;
use super::db::{Conn, query};
use crate::model::{TaskState, WorkflowState};

/// Marks the task running; returns (attempt, started_at).
pub async fn start(client: &impl Conn, task_id: i64, host: &str) -> Result<(i32, DateTime<Utc>)> {
    let row = client
        .fetch_one(query!("master_tasks/start"), &[&task_id, &host])
        .await?;
    Ok((row.get(0), row.get(1)))
}

pub async fn set_branch(
    client: &impl Conn,
    task_id: i64,
    taken: &[String],
    host: &str,
) -> Result<()> {
    client
        .exec(
            query!("master_tasks/set_branch"),
            &[&task_id, &taken, &host],
        )
        .await?;
    Ok(())
}

/// Ends a running or waiting task; false when it was neither any more.
pub async fn end_task(
    client: &impl Conn,
    task_id: i64,
    state: TaskState,
    error: Option<&str>,
    out_params: &serde_json::Value,
) -> Result<bool> {
    Ok(client
        .exec(
            query!("master_tasks/end_task"),
            &[&task_id, &state.as_str(), &error, out_params],
        )
        .await?
        > 0)
}

pub async fn append_log(client: &impl Conn, task_id: i64, text: &str) -> Result<()> {
    client
        .exec(query!("master_tasks/append_log"), &[&task_id, &text])
        .await?;
    Ok(())
}

/// The newest child instance of a sub_process task: (id, state).
pub async fn child_of(client: &impl Conn, task_id: i64) -> Result<Option<(i64, WorkflowState)>> {
    let Some(row) = client
        .fetch_opt(query!("master_tasks/child_of"), &[&task_id])
        .await?
    else {
        return Ok(None);
    };
    let state: String = row.get(1);
    let state = state
        .parse()
        .map_err(|e: crate::model::ParseEnumError| super::StoreError::Invalid(e.to_string()))?;
    Ok(Some((row.get(0), state)))
}

/// Child instances of `instance_id` in one of `states`.
pub async fn children(
    client: &impl Conn,
    instance_id: i64,
    states: &[WorkflowState],
) -> Result<Vec<i64>> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    Ok(client
        .fetch(query!("master_tasks/children"), &[&instance_id, &states])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// How deep an instance is nested under sub_process parents (0: a top-level instance).
pub async fn depth(client: &impl Conn, instance_id: i64) -> Result<i32> {
    Ok(client
        .fetch_one(query!("master_tasks/depth"), &[&instance_id])
        .await?
        .get::<_, Option<i32>>(0)
        .unwrap_or(0))
}

/// The out params of a child instance's succeeded tasks, merged.
pub async fn child_outs(client: &impl Conn, instance_id: i64) -> Result<serde_json::Value> {
    Ok(client
        .fetch_one(query!("master_tasks/child_outs"), &[&instance_id])
        .await?
        .get(0))
}

/// Paused sub_process tasks of the instance back to running; their ids.
pub async fn resume_sub_tasks(client: &impl Conn, instance_id: i64) -> Result<Vec<i64>> {
    Ok(client
        .fetch(query!("master_tasks/resume_sub_tasks"), &[&instance_id])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// What a dependent check found in one interval.
#[derive(Debug, Clone)]
pub struct Found {
    pub instance_id: i64,
    pub instance_state: String,
    pub task_state: Option<String>,
}

pub async fn latest_in_window(
    client: &impl Conn,
    workflow_code: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    asking_instance: i64,
    task: Option<&str>,
) -> Result<Option<Found>> {
    Ok(client
        .fetch_opt(
            query!("master_tasks/latest_in_window"),
            &[
                &workflow_code,
                &start,
                &end,
                &asking_instance,
                &task.unwrap_or(""),
            ],
        )
        .await?
        .map(|r| Found {
            instance_id: r.get(0),
            instance_state: r.get(1),
            task_state: r.get(2),
        }))
}

/// Remembers a dependent task's latest explanation.
pub async fn set_explanation(client: &impl Conn, task_id: i64, text: &str) -> Result<()> {
    client
        .exec(query!("master_tasks/set_explanation"), &[&task_id, &text])
        .await?;
    Ok(())
}

/// A dependent task's latest explanation.
pub async fn explanation(client: &impl Conn, task_id: i64) -> Result<Option<String>> {
    Ok(client
        .fetch_opt(query!("master_tasks/explanation"), &[&task_id])
        .await?
        .and_then(|r| r.get(0)))
}

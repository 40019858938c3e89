//! Workflow and task instances: creation, evaluation locking, state changes, reads.

use super::Now;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::db::{Conn, query};
use super::{Result, StoreError};
use crate::model::{FailureStrategy, TaskState, WorkflowState};

/// One task instance row to create, as decided from a workflow version.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub code: i64,
    pub version: i32,
    pub name: String,
    pub task_type: String,
    pub retries: i32,
    pub retry_interval_ms: i64,
    pub priority: i16,
    pub worker_group: String,
    pub on_worker_loss: crate::model::OnWorkerLoss,
    pub task_group: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewInstance {
    pub id: i64,
    pub project_id: i64,
    pub workflow_code: i64,
    pub workflow_version: i32,
    pub command_type: String,
    pub params: serde_json::Value,
    pub schedule_time: Option<DateTime<Utc>>,
    pub priority: i16,
    pub failure_strategy: FailureStrategy,
    pub host: String,
    /// `running`, or `waiting` / `stopped` as the execution type or backfill decides.
    pub state: WorkflowState,
    pub backfill_id: Option<i64>,
    pub start_nodes: Option<Vec<String>>,
    /// A sub_process child: (parent instance, parent task instance).
    pub parent: Option<(i64, i64)>,
}

/// A fresh workflow instance id (from the sequence command rows draw from too).
pub async fn allocate_id(client: &impl Conn) -> Result<i64> {
    Ok(client
        .fetch_one(query!("instances/allocate_id"), &[])
        .await?
        .get(0))
}

pub async fn create(client: &impl Conn, instance: &NewInstance, tasks: &[NewTask]) -> Result<()> {
    client
        .exec(
            query!("instances/create"),
            &[
                &instance.id,
                &instance.project_id,
                &instance.workflow_code,
                &instance.workflow_version,
                &instance.command_type,
                &instance.params,
                &instance.schedule_time,
                &instance.priority,
                &instance.failure_strategy.as_str(),
                &instance.host,
                &instance.state.as_str(),
                &instance.backfill_id,
                &instance.start_nodes,
                &instance.parent.map(|p| p.0),
                &instance.parent.map(|p| p.1),
            ],
        )
        .await?;
    let codes: Vec<i64> = tasks.iter().map(|t| t.code).collect();
    let versions: Vec<i32> = tasks.iter().map(|t| t.version).collect();
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let types: Vec<&str> = tasks.iter().map(|t| t.task_type.as_str()).collect();
    let retries: Vec<i32> = tasks.iter().map(|t| t.retries).collect();
    let intervals: Vec<i64> = tasks.iter().map(|t| t.retry_interval_ms).collect();
    let priorities: Vec<i16> = tasks.iter().map(|t| t.priority).collect();
    let losses: Vec<&str> = tasks.iter().map(|t| t.on_worker_loss.as_str()).collect();
    let task_groups: Vec<Option<&str>> = tasks.iter().map(|t| t.task_group.as_deref()).collect();
    let groups: Vec<&str> = tasks.iter().map(|t| t.worker_group.as_str()).collect();
    client
        .exec(
            query!("instances/create_tasks"),
            &[
                &instance.id,
                &codes,
                &versions,
                &names,
                &types,
                &retries,
                &intervals,
                &priorities,
                &groups,
                &losses,
                &task_groups,
            ],
        )
        .await?;
    Ok(())
}

/// The instance row as the evaluator needs it.
#[derive(Debug, Clone)]
pub struct InstanceRow {
    pub id: i64,
    pub state: WorkflowState,
    pub workflow_code: i64,
    pub workflow_version: i32,
    pub params: serde_json::Value,
    pub schedule_time: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub priority: i16,
    pub failure_strategy: FailureStrategy,
    /// The database's clock at the start of the evaluating transaction: due times are
    /// judged by it, never by the master's own clock.
    pub db_now: DateTime<Utc>,
    /// A workflow-timeout alert was written for this run.
    pub timeout_alerted: bool,
    /// When the run should be final (`sla:`); None without an SLA.
    pub sla_due_at: Option<DateTime<Utc>>,
    /// The run's `sla_miss` alert was written.
    pub sla_alerted: bool,
    pub backfill_id: Option<i64>,
    /// Start from these tasks (and their downstream); None: the whole workflow.
    pub start_nodes: Option<Vec<String>>,
    pub parent_instance_id: Option<i64>,
    /// Set when the instance is the child of a sub_process task.
    pub parent_task_instance_id: Option<i64>,
    pub project_id: i64,
    /// The server that created the instance.
    pub host: Option<String>,
    /// The project's variables as they are now (`${var.NAME}`), read with the instance.
    pub variables: crate::params::ParamMap,
}

fn parse<T: std::str::FromStr<Err = crate::model::ParseEnumError>>(text: &str) -> Result<T> {
    text.parse()
        .map_err(|e: crate::model::ParseEnumError| StoreError::Invalid(e.to_string()))
}

fn instance_row(r: &tokio_postgres::Row) -> Result<InstanceRow> {
    Ok(InstanceRow {
        id: r.get("id"),
        state: parse(r.get("state"))?,
        workflow_code: r.get("workflow_code"),
        workflow_version: r.get("workflow_version"),
        params: r.get("params"),
        schedule_time: r.get("schedule_time"),
        started_at: r.get("started_at"),
        priority: r.get("priority"),
        failure_strategy: parse(r.get("failure_strategy"))?,
        db_now: r.get("db_now"),
        timeout_alerted: r.get("timeout_alerted"),
        sla_due_at: r.get("sla_due_at"),
        sla_alerted: r.get("sla_alerted"),
        backfill_id: r.get("backfill_id"),
        start_nodes: r.get("start_nodes"),
        parent_instance_id: r.get("parent_instance_id"),
        parent_task_instance_id: r.get("parent_task_instance_id"),
        project_id: r.get("project_id"),
        host: r.get("host"),
        variables: crate::params::json_to_params(
            &r.get::<_, Option<serde_json::Value>>("variables")
                .unwrap_or_default(),
        ),
    })
}

/// The due events an evaluation consumed.
#[derive(Debug, Clone, Default)]
pub struct ConsumedEvents {
    /// Task instances whose attempt ended (events written by workers).
    pub ended_tasks: Vec<i64>,
    /// Some event was not about an ended attempt (creation, wake-up time, control).
    pub other: bool,
    /// The task codes of `ended_tasks`.
    pub ended_codes: Vec<i64>,
    /// Every attempt of `ended_tasks` succeeded.
    pub all_succeeded: bool,
}

/// Let the evaluation in `tx` commit without waiting for its WAL to reach the disk.
/// Safe because of what an evaluation that leaves its instance running writes: rows that
/// nothing outside the database has acted on yet. Whatever acts on them commits durably
/// after it — the claim of an attempt it queued, above all — and a commit's flush carries
/// all the WAL before it, so that one is durable with it. A crash of Postgres before then
/// undoes the evaluation as a whole, and its events (consumed in it) bring it back. An
/// evaluation that writes what others act on at once (an instance's end, its triggers, an
/// alert) calls [`commit_durably`] first.
pub async fn commit_lazily(tx: &impl Conn) -> Result<()> {
    tx.exec_simple("set local synchronous_commit = off").await
}

/// Undo [`commit_lazily`]: this transaction commits at the durability configured for the
/// session (the server's `synchronous_commit`).
pub async fn commit_durably(tx: &impl Conn) -> Result<()> {
    tx.exec_simple("set local synchronous_commit to default")
        .await
}

/// Lock one instance that has due evaluation events (skipping ones other masters hold)
/// and consume its due events. Must run inside a transaction.
pub async fn claim_for_evaluation(
    client: &impl Conn,
    now: Now,
) -> Result<Option<(InstanceRow, ConsumedEvents)>> {
    let Some(row) = client
        .fetch_opt(query!("instances/claim_eval"), &[&now])
        .await?
    else {
        return Ok(None);
    };
    let instance = instance_row(&row)?;
    let events = ConsumedEvents {
        ended_tasks: row.get("ended_tasks"),
        other: row.get("other_events"),
        ended_codes: row.get("ended_codes"),
        all_succeeded: row.get("ended_all_succeeded"),
    };
    Ok(Some((instance, events)))
}

/// Whether the instance has a task that is not final (`quick_check.sql`).
pub async fn has_unfinished_tasks(client: &impl Conn, instance_id: i64) -> Result<bool> {
    let row = client
        .fetch_one(query!("instances/quick_check"), &[&instance_id])
        .await?;
    Ok(row.get(0))
}

/// Lock a given instance (the master that just created it evaluates it at once); its
/// `db_now` is `now` (the database's when None).
pub async fn lock(client: &impl Conn, id: i64, now: Now) -> Result<InstanceRow> {
    let row = client
        .fetch_opt(query!("instances/lock"), &[&id, &now])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("workflow instance {id} does not exist")))?;
    instance_row(&row)
}

/// Milliseconds until the next evaluation event is due (negative: overdue), if any.
pub async fn next_due_ms(client: &impl Conn, now: Now) -> Result<Option<f64>> {
    let row = client
        .fetch_one(query!("instances/next_due"), &[&now])
        .await?;
    Ok(row.try_get::<_, Option<f64>>(0)?)
}

pub async fn insert_event(
    client: &impl Conn,
    id: i64,
    due_at: Option<DateTime<Utc>>,
) -> Result<()> {
    client
        .exec(query!("instances/insert_event"), &[&id, &due_at])
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: i64,
    pub task_code: i64,
    pub state: TaskState,
    pub attempt: i32,
    pub ended_at: Option<DateTime<Utc>>,
    pub retry_at: Option<DateTime<Utc>>,
    pub wait_until: Option<DateTime<Utc>>,
    pub kill_requested: bool,
    /// A decided switch/conditions task: the successors it took.
    pub branch: Option<Vec<String>>,
    pub started_at: Option<DateTime<Utc>>,
    /// Held (`pgdag ctl hold`): not dispatched until released.
    pub held: bool,
    /// An item of a mapped task: its index in the list.
    pub map_index: Option<i32>,
    /// A mapped task's parent row, expanded: how many items it has.
    pub map_count: Option<i32>,
}

pub async fn load_tasks(client: &impl Conn, instance_id: i64) -> Result<Vec<TaskRow>> {
    let rows = client
        .fetch(query!("instances/load_tasks"), &[&instance_id])
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TaskRow {
                id: r.get("id"),
                task_code: r.get("task_code"),
                state: parse(r.get("state"))?,
                attempt: r.get("attempt"),
                ended_at: r.get("ended_at"),
                retry_at: r.get("retry_at"),
                wait_until: r.get("wait_until"),
                kill_requested: r.get("kill_requested"),
                branch: r.get("branch"),
                started_at: r.get("started_at"),
                held: r.get("held"),
                map_index: r.get("map_index"),
                map_count: r.get("map_count"),
            })
        })
        .collect()
}

/// Out params of the given task instances (only the ones an evaluation needs).
pub async fn out_params(
    client: &impl Conn,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, serde_json::Value>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows = client
        .fetch(query!("instances/out_params"), &[&ids])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Queue attempts with their expanded payloads; wakes workers of the instance's groups.
pub async fn queue_tasks(
    client: &impl Conn,
    ids: &[i64],
    payloads: &[serde_json::Value],
    workflow_priority: i16,
    retry_delays_ms: &[Option<i64>],
) -> Result<()> {
    client
        .exec(
            query!("instances/queue_tasks"),
            &[
                &ids,
                &payloads,
                &workflow_priority,
                &retry_delays_ms,
                &crate::model::TaskType::in_process_names(),
            ],
        )
        .await?;
    Ok(())
}

/// Plain state changes decided by the master: skipped, succeeded (master-side), waiting.
pub async fn set_states(
    client: &impl Conn,
    ids: &[i64],
    states: &[&str],
    wait_until: &[Option<DateTime<Utc>>],
    errors: &[Option<String>],
) -> Result<()> {
    client
        .exec(
            query!("instances/set_states"),
            &[&ids, &states, &wait_until, &errors],
        )
        .await?;
    Ok(())
}

/// Queued attempts are taken out of the queue and killed at once; dispatched or running
/// ones are flagged for their worker.
pub async fn request_kill(client: &impl Conn, ids: &[i64]) -> Result<()> {
    client
        .exec(query!("instances/request_kill"), &[&ids])
        .await?;
    Ok(())
}

pub async fn finish(client: &impl Conn, id: i64, state: WorkflowState) -> Result<()> {
    client
        .exec(query!("instances/finish"), &[&id, &state.as_str()])
        .await?;
    Ok(())
}

/// Wake the listeners of `channel` when the transaction commits.
pub async fn notify(client: &impl Conn, channel: super::Channel, payload: &str) -> Result<()> {
    client
        .exec(query!("instances/notify"), &[&channel.name(), &payload])
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskDetail {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub task_type: String,
    pub state: String,
    pub attempt: i32,
    pub host: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub out_params: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `sql`: the rows kept (or rows affected); `dependent`: its latest explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// `switch`/`conditions`: the successors taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<Vec<String>>,
    /// `sub_process`: the child instance it started last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_instance_id: Option<i64>,
    /// What the last attempt's process cost: CPU time in user and system mode
    /// (milliseconds) and peak resident set (KiB); null when it ran no process.
    pub cpu_user_ms: Option<i64>,
    pub cpu_system_ms: Option<i64>,
    pub max_rss_kib: Option<i64>,
    /// Held (`pgdag ctl hold`): not dispatched until released. Only written when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// An item of a mapped task (`foreach:`): its index in the list (its name is
    /// `task[index]`). Only written for items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_index: Option<i32>,
    /// A mapped task's own row, once its list is expanded: how many items it has. Only
    /// written for expanded mapped tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_count: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceDetail {
    pub id: i64,
    pub project: String,
    pub workflow: String,
    pub version: i32,
    pub state: String,
    pub command_type: String,
    pub schedule_time: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub params: serde_json::Value,
    pub priority: String,
    pub parent_instance_id: Option<i64>,
    /// Who asked for it: a user (`alice`, `alice (token ci)`), `cli:<os user>`,
    /// `sql:<role>`, `schedule`, `hook:<id>`, `trigger:P/W#<instance>` (the end of that
    /// instance started it), or `pgdag` for a sub-workflow's child of an old parent.
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<TaskDetail>>,
}

fn detail_row(r: &tokio_postgres::Row) -> InstanceDetail {
    InstanceDetail {
        id: r.get("id"),
        project: r.get("project"),
        workflow: r.get("workflow"),
        version: r.get("workflow_version"),
        state: r.get("state"),
        command_type: r.get("command_type"),
        schedule_time: r.get("schedule_time"),
        started_at: r.get("started_at"),
        ended_at: r.get("ended_at"),
        params: r.get("params"),
        priority: crate::model::Priority::from_rank(r.get("priority"))
            .as_str()
            .to_string(),
        parent_instance_id: r.get("parent_instance_id"),
        created_by: r.get("created_by"),
        error: r.get("error"),
        tasks: None,
    }
}

pub async fn get_tasks(client: &impl Conn, id: i64) -> Result<Vec<TaskDetail>> {
    let rows = client.fetch(query!("instances/get_tasks"), &[&id]).await?;
    Ok(rows.iter().map(task_detail).collect())
}

fn task_detail(r: &tokio_postgres::Row) -> TaskDetail {
    TaskDetail {
        id: r.get("id"),
        name: r.get("name"),
        task_type: r.get("task_type"),
        state: r.get("state"),
        attempt: r.get("attempt"),
        host: r.get("host"),
        started_at: r.get("started_at"),
        ended_at: r.get("ended_at"),
        exit_code: r.get("exit_code"),
        out_params: r.get("out_params"),
        error: r.get("error"),
        result: r.get("result"),
        branch: r.get("branch"),
        child_instance_id: r.get("child_instance_id"),
        cpu_user_ms: r.get("cpu_user_ms"),
        cpu_system_ms: r.get("cpu_system_ms"),
        max_rss_kib: r.get("max_rss_kib"),
        held: r.get("held"),
        map_index: r.get("map_index"),
        map_count: r.get("map_count"),
    }
}

/// Which tasks of an instance one page shows: those after a task id, in id order.
#[derive(Debug, Clone, Default)]
pub struct TaskPageFilter {
    /// Any of these states (`TaskState::as_str`); empty: any state.
    pub states: Vec<String>,
    /// Names starting with this; empty: any name.
    pub name_prefix: String,
    /// Only ids above this (the last id of the previous page).
    pub after: Option<i64>,
    pub limit: i64,
}

/// One page of an instance's tasks (keyset on the task instance id), every task instance
/// row counted, whatever it stands for.
pub async fn task_page(
    client: &impl Conn,
    id: i64,
    filter: &TaskPageFilter,
) -> Result<Vec<TaskDetail>> {
    let states = (!filter.states.is_empty()).then_some(&filter.states);
    let prefix = (!filter.name_prefix.is_empty()).then_some(filter.name_prefix.as_str());
    let after = filter.after.unwrap_or(i64::MIN);
    let rows = client
        .fetch(
            query!("instances/task_page"),
            &[&id, &states, &prefix, &after, &filter.limit],
        )
        .await?;
    Ok(rows.iter().map(task_detail).collect())
}

/// A task instance in brief, for counting and drawing an instance too big to list.
#[derive(Debug, Clone)]
pub struct TaskBrief {
    pub id: i64,
    pub task_code: i64,
    pub name: String,
    pub state: String,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

pub async fn task_briefs(client: &impl Conn, id: i64) -> Result<Vec<TaskBrief>> {
    let rows = client
        .fetch(query!("instances/task_briefs"), &[&id])
        .await?;
    Ok(rows
        .iter()
        .map(|r| TaskBrief {
            id: r.get(0),
            task_code: r.get(1),
            name: r.get(2),
            state: r.get(3),
            started_at: r.get(4),
            ended_at: r.get(5),
        })
        .collect())
}

/// The dependencies among the tasks of an instance's workflow version, as `(upstream,
/// downstream)` task codes.
pub async fn task_edges(client: &impl Conn, id: i64) -> Result<Vec<(i64, i64)>> {
    let rows = client.fetch(query!("instances/task_edges"), &[&id]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// An instance with its tasks (the shape of `GET /api/v1/instances/{id}`), if it exists.
/// A start command that no master has taken yet shows as its instance in state
/// `submitted`, with no tasks, so a caller can poll an id as soon as it has one.
pub async fn get(client: &impl Conn, id: i64) -> Result<Option<InstanceDetail>> {
    let Some(mut detail) = get_head(client, id).await? else {
        return Ok(None);
    };
    if detail.tasks.is_none() {
        detail.tasks = Some(get_tasks(client, id).await?);
    }
    Ok(Some(detail))
}

/// [`get`] without reading the tasks: `tasks` is `None` for a created instance (read them
/// with [`get_tasks`] or [`task_page`]) and `Some` empty list for one still submitted.
pub async fn get_head(client: &impl Conn, id: i64) -> Result<Option<InstanceDetail>> {
    async fn get_row(client: &impl Conn, id: i64) -> Result<Option<tokio_postgres::Row>> {
        client.fetch_opt(query!("instances/get"), &[&id]).await
    }
    if let Some(row) = get_row(client, id).await? {
        return Ok(Some(detail_row(&row)));
    }
    let Some(row) = client
        .fetch_opt(query!("instances/get_submitted"), &[&id])
        .await?
    else {
        // The command may have been carried out between the two reads: look again.
        return Ok(get_row(client, id).await?.as_ref().map(detail_row));
    };
    Ok(Some(InstanceDetail {
        id: row.get("id"),
        project: row.get::<_, Option<String>>("project").unwrap_or_default(),
        workflow: row.get::<_, Option<String>>("workflow").unwrap_or_default(),
        version: row.get::<_, Option<i32>>("version").unwrap_or(0),
        state: crate::model::WorkflowState::Submitted.as_str().to_string(),
        command_type: row.get("command_type"),
        schedule_time: row.get("schedule_time"),
        started_at: None,
        ended_at: None,
        params: row.get("params"),
        priority: row.get("priority"),
        parent_instance_id: None,
        created_by: row.get("created_by"),
        error: None,
        tasks: Some(Vec::new()),
    }))
}

#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    pub project: Option<String>,
    pub workflow: Option<String>,
    pub state: Option<String>,
    /// Only ids below this one (keyset pagination, newest first).
    pub before_id: Option<i64>,
    pub limit: i64,
    /// Only projects this user may read (`None`: an admin, every project).
    pub viewer: Option<i64>,
    /// Created at or after / before these times.
    pub created_from: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

pub async fn list(client: &impl Conn, filter: &InstanceFilter) -> Result<Vec<InstanceDetail>> {
    let rows = client
        .fetch(
            query!("instances/list"),
            &[
                &filter.project,
                &filter.workflow,
                &filter.state,
                &filter.before_id,
                &filter.limit,
                &filter.viewer,
                &filter.created_from,
                &filter.created_before,
            ],
        )
        .await?;
    Ok(rows.iter().map(detail_row).collect())
}

/// Set an instance's state for a control command; `restart` clears `ended_at` and sets a
/// new `started_at`.
pub async fn control_state(
    client: &impl Conn,
    id: i64,
    state: WorkflowState,
    restart: bool,
) -> Result<()> {
    client
        .exec(
            query!("instances/control_state"),
            &[&id, &state.as_str(), &restart],
        )
        .await?;
    Ok(())
}

/// Reset the instance's tasks in these states to `pending`; returns how many.
pub async fn reset_tasks(client: &impl Conn, id: i64, states: &[TaskState]) -> Result<u64> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    client
        .exec(query!("instances/reset_tasks"), &[&id, &states])
        .await
}

/// Put these final tasks of the instance back to `pending` (retry in place); returns how
/// many.
pub async fn retry_tasks(client: &impl Conn, id: i64, task_ids: &[i64]) -> Result<u64> {
    client
        .exec(query!("instances/retry_tasks"), &[&id, &task_ids])
        .await
}

/// Lock a workflow definition's row for the execution-type decision.
pub async fn lock_definition(client: &impl Conn, workflow_code: i64) -> Result<()> {
    client
        .exec(query!("instances/lock_definition"), &[&workflow_code])
        .await?;
    Ok(())
}

/// Instances of the workflow that are running, pausing or stopping.
pub async fn active_count(client: &impl Conn, workflow_code: i64) -> Result<i64> {
    Ok(client
        .fetch_one(query!("instances/active_count"), &[&workflow_code])
        .await?
        .get(0))
}

/// The waiting instance whose turn is next (not locked: the caller holds the definition's
/// row lock, which serializes every admission of the workflow).
pub async fn first_waiting(
    client: &impl Conn,
    workflow_code: i64,
    by_priority: bool,
) -> Result<Option<i64>> {
    Ok(client
        .fetch_opt(
            query!("instances/first_waiting"),
            &[&workflow_code, &by_priority],
        )
        .await?
        .map(|r| r.get(0)))
}

/// Whether a start submitted before instance `id` is still ahead of it: a start command
/// of the workflow not carried out yet, or (`count_waiting`) an earlier waiting instance.
pub async fn ahead_in_line(
    client: &impl Conn,
    workflow_code: i64,
    id: i64,
    count_waiting: bool,
) -> Result<bool> {
    Ok(client
        .fetch_one(
            query!("instances/ahead_in_line"),
            &[&workflow_code, &id, &count_waiting],
        )
        .await?
        .get(0))
}

/// A start of `project/workflow` failed: wake the first instance waiting behind it.
/// Returns whether one was woken.
pub async fn wake_first_waiting(client: &impl Conn, project: &str, workflow: &str) -> Result<bool> {
    Ok(client
        .fetch_opt(
            query!("instances/wake_first_waiting"),
            &[&project, &workflow],
        )
        .await?
        .is_some())
}

/// Evaluate the instance again `after_ms` from `now` (the database's when None).
pub async fn wake_after(client: &impl Conn, id: i64, after_ms: i64, now: Now) -> Result<()> {
    client
        .exec(query!("instances/wake_after"), &[&id, &after_ms, &now])
        .await?;
    Ok(())
}

/// Set when the run should be final (`sla: { finish_within }`): from its schedule time,
/// or from `now` for a run without one; returns that time.
pub async fn set_sla_due(
    client: &impl Conn,
    id: i64,
    schedule_time: Option<DateTime<Utc>>,
    within_ms: i64,
    now: Now,
) -> Result<DateTime<Utc>> {
    Ok(client
        .fetch_one(
            query!("instances/set_sla_due"),
            &[&id, &schedule_time, &within_ms, &now],
        )
        .await?
        .get(0))
}

/// Write the `sla_miss` alert of this run, once.
pub async fn sla_alert(client: &impl Conn, id: i64, message: &str) -> Result<()> {
    client
        .exec(query!("instances/sla_alert"), &[&id, &message])
        .await?;
    Ok(())
}

/// Write the workflow-timeout alert of this run, once.
pub async fn timeout_alert(client: &impl Conn, id: i64, message: &str) -> Result<()> {
    client
        .exec(query!("instances/timeout_alert"), &[&id, &message])
        .await?;
    Ok(())
}

/// Mark a failed or killed task of the instance `forced_success`; false when it is not one.
pub async fn force_success(client: &impl Conn, task_id: i64, instance_id: i64) -> Result<bool> {
    Ok(client
        .fetch_opt(query!("instances/force_success"), &[&task_id, &instance_id])
        .await?
        .is_some())
}

/// The instance a task instance belongs to, and the task's state.
pub async fn task_owner(client: &impl Conn, task_id: i64) -> Result<Option<(i64, String)>> {
    Ok(client
        .fetch_opt(query!("instances/task_owner"), &[&task_id])
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// A task instance's instance, its own state, its instance's state, and whether it is held.
pub async fn task_hold_states(
    client: &impl Conn,
    task_id: i64,
) -> Result<Option<(i64, TaskState, WorkflowState, bool)>> {
    let Some(row) = client
        .fetch_opt(query!("instances/task_hold_states"), &[&task_id])
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        row.get("workflow_instance_id"),
        parse(row.get("task_state"))?,
        parse(row.get("instance_state"))?,
        row.get("held"),
    )))
}

/// Hold (`held`) or release task `task_id` of instance `instance_id`; false when it was
/// not in a state for that (see `set_held.sql`).
pub async fn set_held(
    client: &impl Conn,
    task_id: i64,
    instance_id: i64,
    held: bool,
) -> Result<bool> {
    Ok(client
        .fetch_opt(
            query!("instances/set_held"),
            &[&task_id, &instance_id, &held],
        )
        .await?
        .is_some())
}

/// The backfill of workflow `workflow_code` whose instance waits longest for a slot.
pub async fn first_waiting_backfill(client: &impl Conn, workflow_code: i64) -> Result<Option<i64>> {
    Ok(client
        .fetch_opt(
            query!("instances/first_waiting_backfill"),
            &[&workflow_code],
        )
        .await?
        .map(|r| r.get(0)))
}

/// A task instance's instance, its own state and its instance's state.
pub async fn task_states(
    client: &impl Conn,
    task_id: i64,
) -> Result<Option<(i64, TaskState, WorkflowState)>> {
    let Some(row) = client
        .fetch_opt(query!("instances/task_states"), &[&task_id])
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        row.get("workflow_instance_id"),
        parse(row.get("task_state"))?,
        parse(row.get("instance_state"))?,
    )))
}

/// Instances created per UTC day over the last `days` days (oldest first), as
/// `(day, succeeded, failed, other)`.
pub async fn day_counts(
    client: &impl Conn,
    days: i32,
    viewer: Option<i64>,
) -> Result<Vec<(chrono::NaiveDate, i64, i64, i64)>> {
    let rows = client
        .fetch(query!("instances/day_counts"), &[&days, &viewer])
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get("day"),
                r.get("succeeded"),
                r.get("failed"),
                r.get("other"),
            )
        })
        .collect())
}

/// Instances created today (UTC), counted by state.
pub async fn today_by_state(client: &impl Conn, viewer: Option<i64>) -> Result<Vec<(String, i64)>> {
    let rows = client
        .fetch(query!("instances/today_by_state"), &[&viewer])
        .await?;
    Ok(rows.iter().map(|r| (r.get("state"), r.get("n"))).collect())
}

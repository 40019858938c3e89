//! Creating a workflow instance: for a `start`/`schedule` command and for a sub_process
//! task's child. Checks the target (exists, online), the params and options, decides the
//! instance's first state (execution type, backfill parallelism) under the definition's or
//! the backfill's row lock, and writes the instance with all its task instances (`pending`).
//! It never evaluates: whoever creates the instance decides when it is evaluated, so no
//! transaction here reaches into another instance.

use crate::store::db::Conn;
use chrono::{DateTime, Utc};

use super::compiled::Cache;
use crate::model::{ExecutionType, Release, WorkflowState};
use crate::store::instances::{self, NewInstance, NewTask};
use crate::store::{DbFailure, Result, StoreError, backfills, definitions};

/// What starts a workflow instance: a `start`/`schedule` command, or a sub_process task.
pub struct StartRequest<'a> {
    pub project: &'a str,
    pub workflow: &'a str,
    /// Startup params (a JSON object).
    pub params: &'a serde_json::Value,
    /// `schedule_time`, `start_nodes`, `backfill_id`.
    pub options: &'a serde_json::Value,
    pub instance_id: i64,
    pub command_type: &'a str,
    pub host: &'a str,
    /// (parent instance, parent task instance) of a sub_process child.
    pub parent: Option<(i64, i64)>,
    /// The `$now` a timeout is counted from (the process's clock).
    pub now: crate::store::Now,
}

/// The target of a start, checked before anything is written: the current version of an
/// online workflow.
pub async fn startable(
    tx: &impl Conn,
    project: &str,
    workflow: &str,
) -> Result<definitions::CurrentWorkflow> {
    let current = definitions::find_workflow(tx, project, workflow)
        .await?
        .ok_or_else(|| {
            StoreError::Invalid(format!("workflow {project}/{workflow} does not exist"))
        })?;
    if current.release == Release::Offline {
        return Err(StoreError::Invalid(format!(
            "workflow {project}/{workflow} is offline: new runs are refused until it is put back online (pgdag workflow online {project}/{workflow})"
        )));
    }
    Ok(current)
}

/// Creates the instance with all its task instances, in the state its execution type or
/// backfill decides (`running`, `waiting` or `stopped`), and returns that state. It does
/// not evaluate the instance: the caller does (a command consumer, in the same
/// transaction) or hands it an evaluation event (a sub_process parent).
pub async fn create_instance(
    tx: &impl Conn,
    cache: &Cache,
    request: &StartRequest<'_>,
) -> Result<WorkflowState> {
    let (project, workflow) = (request.project, request.workflow);
    if !request.params.is_object() {
        return Err(StoreError::Invalid(format!(
            "params must be a JSON object, not {}",
            request.params
        )));
    }
    let current = startable(tx, project, workflow).await?;
    let options = request.options;
    let schedule_time = match options.get("schedule_time") {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(
            value
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "options.schedule_time {value} is not an RFC 3339 time"
                    ))
                })?,
        ),
    };
    let compiled = cache.get(tx, current.code, current.version).await?;
    let spec = &compiled.version.spec;
    let overrides =
        crate::model::RunOverrides::from_options(options).map_err(StoreError::Invalid)?;
    let default_group = overrides
        .worker_group
        .clone()
        .unwrap_or_else(|| spec.worker_group.clone());
    let tasks: Vec<NewTask> = spec
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| NewTask {
            code: compiled.version.task_codes[i],
            version: compiled.version.task_versions[i],
            name: task.name.clone(),
            task_type: task.task_type().as_str().to_string(),
            retries: task.retries as i32,
            retry_interval_ms: task.retry_interval.map(|d| d.millis as i64).unwrap_or(0),
            priority: task.priority.unwrap_or_default().rank(),
            worker_group: task
                .worker_group
                .clone()
                .unwrap_or_else(|| default_group.clone()),
            on_worker_loss: task.on_worker_loss,
            task_group: task.task_group.clone(),
        })
        .collect();
    let start_nodes = match options.get("start_nodes") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(items)) => {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                let name = item.as_str().ok_or_else(|| {
                    StoreError::Invalid(format!("options.start_nodes: {item} is not a task name"))
                })?;
                if !spec.tasks.iter().any(|t| t.name == name) {
                    return Err(StoreError::Invalid(format!(
                        "start node {name} is not a task of {project}/{workflow}"
                    )));
                }
                names.push(name.to_string());
            }
            if names.is_empty() {
                return Err(StoreError::Invalid("options.start_nodes is empty".into()));
            }
            Some(names)
        }
        Some(other) => {
            return Err(StoreError::Invalid(format!(
                "options.start_nodes {other} is not a list of task names"
            )));
        }
    };
    let backfill_id =
        match options.get("backfill_id") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(v.as_i64().ok_or_else(|| {
                StoreError::Invalid(format!("options.backfill_id {v} is not an id"))
            })?),
        };
    let state = match backfill_id {
        // A backfill's own parallelism decides, under a row lock on the backfill.
        Some(bid) => {
            // `max_active_runs` counts a backfill's runs too (the definition's lock first,
            // then the backfill's, as when an instance ends).
            let full = match spec.max_active_runs {
                Some(max) => {
                    instances::lock_definition(tx, current.code).await?;
                    instances::active_count(tx, current.code).await? >= i64::from(max)
                }
                None => false,
            };
            let backfill = backfills::lock(tx, bid).await?;
            if backfill.state != "running" {
                WorkflowState::Stopped
            } else if !full && backfills::running_count(tx, bid).await? < backfill.parallelism {
                WorkflowState::Running
            } else {
                WorkflowState::Waiting
            }
        }
        None => {
            execution_state(
                tx,
                current.code,
                request.instance_id,
                spec.execution,
                spec.active_limit(),
            )
            .await?
        }
    };
    let instance = NewInstance {
        id: request.instance_id,
        project_id: current.project_id,
        workflow_code: current.code,
        workflow_version: current.version,
        command_type: request.command_type.to_string(),
        params: request.params.clone(),
        schedule_time,
        priority: overrides.priority.unwrap_or(spec.priority).rank(),
        failure_strategy: overrides.failure_strategy.unwrap_or(spec.failure_strategy),
        host: request.host.to_string(),
        state,
        backfill_id,
        start_nodes,
        parent: request.parent,
    };
    instances::create(tx, &instance, &tasks)
        .await
        .map_err(|e| match e.failure() {
            Some(DbFailure::UniqueViolation) => {
                StoreError::Invalid(format!("workflow instance {} already exists", instance.id))
            }
            _ => e,
        })?;
    if let Some(sla) = &spec.sla {
        // Wake the evaluator when the run should be final, to check it is.
        let within = i64::try_from(sla.finish_within.millis).unwrap_or(i64::MAX);
        let due =
            instances::set_sla_due(tx, instance.id, schedule_time, within, request.now).await?;
        instances::insert_event(tx, instance.id, Some(due)).await?;
    }
    if let Some(timeout) = spec.timeout {
        // Wake the evaluator when the run is due to time out.
        instances::wake_after(tx, instance.id, timeout.millis as i64, request.now).await?;
    }
    if state != WorkflowState::Running {
        tracing::info!(instance_id = instance.id, %state, execution = %spec.execution, "instance not started now");
    }
    Ok(state)
}

/// The execution type is decided under a row lock on the definition, so simultaneous
/// starts of one workflow cannot race. Turns go in submission order (instance ids): a new
/// instance also waits (or, `serial_discard`, is discarded) while a start submitted before
/// it is still a command held by another consumer, or still waits for its own turn.
/// `limit` is [`crate::spec::WorkflowSpec::active_limit`]: 1 for serial types,
/// `max_active_runs` for parallel ones (`None`: no turns).
async fn execution_state(
    tx: &impl Conn,
    code: i64,
    id: i64,
    execution: ExecutionType,
    limit: Option<i64>,
) -> Result<WorkflowState> {
    let Some(limit) = limit else {
        return Ok(WorkflowState::Running);
    };
    instances::lock_definition(tx, code).await?;
    let active = instances::active_count(tx, code).await?;
    let busy = active >= limit || instances::ahead_in_line(tx, code, id, true).await?;
    if !busy && active + 1 < limit {
        // A start that was ahead of waiting instances (a command another consumer held)
        // leaves slots free: the first of them gets its turn now, not at the next end.
        wake_next(tx, code).await?;
    }
    Ok(match execution {
        _ if !busy => WorkflowState::Running,
        ExecutionType::SerialDiscard => WorkflowState::Stopped,
        _ => WorkflowState::Waiting,
    })
}

/// Hands an evaluation event to the first instance of workflow `code` waiting for its turn
/// (FIFO), which is admitted in its own evaluation.
pub(super) async fn wake_next(tx: &impl Conn, code: i64) -> Result<()> {
    if let Some(next) = instances::first_waiting(tx, code, false).await? {
        instances::insert_event(tx, next, None).await?;
        instances::notify(tx, crate::store::Channel::Eval, "").await?;
    }
    Ok(())
}

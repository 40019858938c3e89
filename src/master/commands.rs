//! The command consumer: claims rows of `pgdag.command` one at a time with `SKIP LOCKED`,
//! acts on them, and deletes them in the same transaction. A command that cannot be
//! carried out (unknown workflow, offline, bad params...) is kept with `state = 'failed'`
//! and a readable `error`; it never stops the master. A database error rolls the claim
//! back, so the command is retried by this or another master.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_util::sync::CancellationToken;

use super::compiled::Cache;
use super::evaluator;
use crate::cluster::{Wakeups, backoff, jittered};
use crate::config::Config;
use crate::model::{CommandType, ExecutionType, Release, WorkflowState};
use crate::store::commands::{self, Command};
use crate::store::instances::{self, NewInstance, NewTask};
use crate::store::{DbFailure, Result, Store, StoreError, backfills, definitions};

pub async fn run(
    store: Store,
    config: Config,
    wakeups: Wakeups,
    cache: Cache,
    cancel: CancellationToken,
) {
    let mut failures = 0u32;
    while !cancel.is_cancelled() {
        match drain(&store, &config, &cache, &wakeups, &cancel).await {
            Ok(()) => {
                failures = 0;
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = wakeups.command.notified() => {}
                    _ = tokio::time::sleep(jittered(config.poll_interval.as_std())) => {}
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "command consumer round failed");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff(failures)) => {}
                }
            }
        }
    }
}

/// Commands taken in one transaction (each still in its own savepoint).
const COMMAND_BATCH: i64 = 8;

async fn drain(
    store: &Store,
    config: &Config,
    cache: &Cache,
    wakeups: &Wakeups,
    cancel: &CancellationToken,
) -> Result<()> {
    let mut client = store.client().await?;
    while !cancel.is_cancelled() {
        let mut tx = client.transaction().await?;
        let batch = commands::claim(&tx, COMMAND_BATCH).await?;
        if batch.is_empty() {
            tx.commit().await?;
            return Ok(());
        }
        if batch.len() as i64 == COMMAND_BATCH {
            // More may wait: wake another consumer to take the next batch meanwhile.
            wakeups.command.notify_one();
        }
        // Each command in a savepoint of its own: one that fails is rolled back alone and
        // kept as failed; the batch shares one commit.
        for command in &batch {
            crate::metrics::add(&crate::metrics::COMMANDS, 1);
            let savepoint = tx.transaction().await?;
            match handle(&savepoint, config, cache, command).await {
                Ok(()) => {
                    savepoint.commit().await?;
                    commands::delete(&tx, command.id).await?;
                }
                Err(e) if e.is_unavailable() => return Err(e),
                Err(e) => {
                    savepoint.rollback().await?;
                    tracing::info!(command = command.id, error = %e, "command failed");
                    commands::fail(&tx, command.id, &e.to_string()).await?;
                }
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn handle(
    tx: &impl GenericClient,
    config: &Config,
    cache: &Cache,
    command: &Command,
) -> Result<()> {
    match commands::parse_type(&command.command_type)? {
        CommandType::Start | CommandType::Schedule => start(tx, config, cache, command).await,
        kind @ (CommandType::Pause
        | CommandType::Resume
        | CommandType::Stop
        | CommandType::Rerun
        | CommandType::StartFailed
        | CommandType::ForceSuccess) => control(tx, cache, command, kind).await,
        other => Err(StoreError::Invalid(format!(
            "command type {other} is not carried out from the command table: start a backfill with `pgdag backfill` or POST .../runs with a backfill body"
        ))),
    }
}

async fn start(
    tx: &impl GenericClient,
    config: &Config,
    cache: &Cache,
    command: &Command,
) -> Result<()> {
    let (Some(project), Some(workflow)) = (command.project.as_deref(), command.workflow.as_deref())
    else {
        return Err(StoreError::Invalid(format!(
            "a {} command needs project and workflow",
            command.command_type
        )));
    };
    start_instance(
        tx,
        cache,
        &StartRequest {
            project,
            workflow,
            params: &command.params,
            options: &command.options,
            instance_id: command.workflow_instance_id,
            command_type: &command.command_type,
            host: &config.server_name,
            parent: None,
        },
    )
    .await
}

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
}

/// The target of a start, checked before anything is written: the current version of an
/// online workflow.
pub async fn startable(
    tx: &impl GenericClient,
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
            "workflow {project}/{workflow} is offline"
        )));
    }
    Ok(current)
}

/// Creates the instance with all its task instances and, when it may run now, evaluates it
/// at once (so its entry tasks are queued in this transaction).
pub async fn start_instance(
    tx: &impl GenericClient,
    cache: &Cache,
    request: &StartRequest<'_>,
) -> Result<()> {
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
            let backfill = backfills::lock(tx, bid).await?;
            if backfill.state != "running" {
                WorkflowState::Stopped
            } else if backfills::running_count(tx, bid).await? < backfill.parallelism {
                WorkflowState::Running
            } else {
                WorkflowState::Waiting
            }
        }
        None => execution_state(tx, current.code, spec.execution).await?,
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
    if let Some(timeout) = spec.timeout {
        // Wake the evaluator when the run is due to time out.
        instances::wake_after(tx, instance.id, timeout.millis as i64).await?;
    }
    if state != WorkflowState::Running {
        tracing::info!(instance = instance.id, %state, execution = %spec.execution, "instance not started now");
        return Ok(());
    }
    // Evaluate at once: the entry tasks are queued in the transaction that creates the run.
    let row = instances::lock(tx, instance.id).await?;
    evaluator::evaluate(tx, cache, &row).await
}

/// The execution type is decided under a row lock on the definition, so simultaneous
/// starts of one workflow cannot race.
async fn execution_state(
    tx: &impl GenericClient,
    code: i64,
    execution: ExecutionType,
) -> Result<WorkflowState> {
    if execution == ExecutionType::Parallel {
        return Ok(WorkflowState::Running);
    }
    instances::lock_definition(tx, code).await?;
    let busy = instances::active_count(tx, code).await? > 0;
    Ok(match execution {
        _ if !busy => WorkflowState::Running,
        ExecutionType::SerialDiscard => WorkflowState::Stopped,
        _ => WorkflowState::Waiting,
    })
}

/// Pause, resume, stop, rerun, start_failed: change the instance (and, for restarts, its
/// tasks) under its row lock, then evaluate it at once.
async fn control(
    tx: &impl GenericClient,
    cache: &Cache,
    command: &Command,
    kind: CommandType,
) -> Result<()> {
    use crate::model::{TaskState as T, WorkflowState as W};
    let id = command.workflow_instance_id;
    let instance = instances::lock(tx, id).await?;
    let state = instance.state;
    let refuse = |what: &str| {
        Err(StoreError::Invalid(format!(
            "cannot {what} instance {id}: it is {state}"
        )))
    };
    match kind {
        CommandType::Pause => match state {
            W::Running => instances::control_state(tx, id, W::Pausing, false).await?,
            _ => return refuse("pause"),
        },
        CommandType::Resume => match state {
            W::Paused | W::Pausing => instances::control_state(tx, id, W::Running, false).await?,
            _ => return refuse("resume"),
        },
        CommandType::Stop => match state {
            W::Running | W::Pausing | W::Paused => {
                instances::control_state(tx, id, W::Stopping, false).await?
            }
            _ => return refuse("stop"),
        },
        CommandType::Rerun => match state {
            W::Succeeded | W::Failed | W::Stopped | W::Paused => {
                let all = [
                    T::Succeeded,
                    T::Failed,
                    T::Skipped,
                    T::Killed,
                    T::Paused,
                    T::ForcedSuccess,
                    T::Pending,
                    T::Waiting,
                    T::Retrying,
                    T::NeedFailover,
                ];
                instances::reset_tasks(tx, id, &all).await?;
                instances::control_state(tx, id, W::Running, true).await?;
            }
            _ => return refuse("rerun"),
        },
        CommandType::StartFailed => match state {
            W::Failed | W::Stopped | W::Paused => {
                // Succeeded tasks are kept; skipped ones are decided again by the plan.
                let redo = [
                    T::Failed,
                    T::Killed,
                    T::Paused,
                    T::Skipped,
                    T::Retrying,
                    T::NeedFailover,
                ];
                instances::reset_tasks(tx, id, &redo).await?;
                instances::control_state(tx, id, W::Running, true).await?;
            }
            _ => return refuse("start failed tasks of"),
        },
        CommandType::ForceSuccess => {
            let task = command
                .options
                .get("task_instance_id")
                .and_then(|v| v.as_i64())
                .ok_or_else(|| {
                    StoreError::Invalid("force_success needs options.task_instance_id".into())
                })?;
            if matches!(state, W::Pausing | W::Stopping) {
                return refuse("force a task of");
            }
            if !instances::force_success(tx, task, id).await? {
                return Err(StoreError::Invalid(format!(
                    "task instance {task} is not a failed or killed task of instance {id}"
                )));
            }
            // Its successors are decided again; the instance goes on.
            instances::reset_tasks(tx, id, &[T::Skipped]).await?;
            if state.is_final() {
                instances::control_state(tx, id, W::Running, true).await?;
            }
        }
        other => {
            return Err(StoreError::Invalid(format!(
                "{other} is not a control command"
            )));
        }
    }
    propagate_to_children(tx, id, kind).await?;
    let row = instances::lock(tx, id).await?;
    evaluator::evaluate(tx, cache, &row).await
}

/// Pause and resume reach the child instances of the instance's sub_process tasks, as
/// commands of their own (so grandchildren follow the same way).
async fn propagate_to_children(tx: &impl GenericClient, id: i64, kind: CommandType) -> Result<()> {
    use crate::store::master_tasks;
    use WorkflowState as W;
    // A stop reaches children through the plan: it kills the running sub_process tasks.
    let states: &[W] = match kind {
        CommandType::Pause => &[W::Running],
        CommandType::Resume => {
            master_tasks::resume_sub_tasks(tx, id).await?;
            &[W::Paused, W::Pausing]
        }
        _ => return Ok(()),
    };
    for child in master_tasks::children(tx, id, states).await? {
        commands::insert(
            tx,
            kind,
            None,
            None,
            &serde_json::json!({}),
            &serde_json::json!({}),
            Some(child),
        )
        .await?;
    }
    Ok(())
}

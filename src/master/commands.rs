//! The command consumer: claims rows of `pgdag.command` one at a time with `SKIP LOCKED`,
//! acts on them, and deletes them in the same transaction. A command that cannot be
//! carried out (unknown workflow, offline, bad params...) is kept with `state = 'failed'`
//! and a readable `error`; it never stops the master. A database error rolls the claim
//! back, so the command is retried by this or another master.

use crate::store::db::Conn;
use tokio_util::sync::CancellationToken;

use super::compiled::Cache;
use super::evaluator;
use super::start::{StartRequest, create_instance};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::model::{CommandType, WorkflowState};
use crate::service::{Next, Round};
use crate::store::commands::{self, Command};
use crate::store::instances;
use crate::store::{Result, Store, StoreError};

/// The command consumer's settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Consumers per master sharing the command queue (`SKIP LOCKED`).
    pub consumers: usize,
    /// Commands taken in one transaction (each still in its own savepoint).
    pub batch: i64,
    /// Fallback poll of the first consumer; the others only wake on notifications.
    pub poll_interval: Duration,
    /// The `host` recorded on the instances it creates.
    pub server_name: String,
    pub clock: crate::clock::Clock,
}

impl ConsumerConfig {
    pub const DEFAULT_CONSUMERS: usize = 3;
    pub const DEFAULT_BATCH: i64 = 8;

    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.consumers == 0 || self.batch < 1 || self.poll_interval.is_zero() {
            return Err(format!(
                "command consumer: {self:?} needs consumers, batch and poll above zero"
            ));
        }
        Ok(())
    }
}

/// One command consumer: a round takes batches until the queue is empty.
pub struct Consumer {
    pub store: Store,
    pub config: ConsumerConfig,
    pub cache: Cache,
    /// Woken (one other consumer) when a full batch suggests more are waiting.
    pub wake: Arc<Notify>,
    pub cancel: CancellationToken,
}

impl Round for Consumer {
    async fn round(&mut self) -> Result<Next> {
        drain(
            &self.store,
            &self.config,
            &self.cache,
            &self.wake,
            &self.cancel,
        )
        .await?;
        Ok(Next::Idle)
    }
}

async fn drain(
    store: &Store,
    config: &ConsumerConfig,
    cache: &Cache,
    wake: &Notify,
    cancel: &CancellationToken,
) -> Result<()> {
    let mut client = store.client().await?;
    while !cancel.is_cancelled() {
        let mut tx = client.transaction().await?;
        let batch = commands::claim(&tx, config.batch).await?;
        if batch.is_empty() {
            tx.commit().await?;
            return Ok(());
        }
        if batch.len() as i64 == config.batch {
            // More may wait: wake another consumer to take the next batch meanwhile.
            wake.notify_one();
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
                    if let (Some(project), Some(workflow)) =
                        (command.project.as_deref(), command.workflow.as_deref())
                    {
                        // An instance may be waiting for this start's turn to pass.
                        if instances::wake_first_waiting(&tx, project, workflow).await? {
                            instances::notify(&tx, crate::store::Channel::Eval, "").await?;
                        }
                    }
                }
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Why a command row of a type the master does not carry out (`backfill`) failed; quoted
/// in docs/lifecycle.md.
const NOT_FROM_THE_TABLE: &str = "is not carried out from the command table: start a backfill with `pgdag backfill` or POST .../runs with a backfill body";

async fn handle(
    tx: &impl Conn,
    config: &ConsumerConfig,
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
        | CommandType::ForceSuccess
        | CommandType::RetryTask
        | CommandType::Hold
        | CommandType::Release) => control(tx, cache, command, kind, config.clock.now()).await,
        other => Err(StoreError::Invalid(format!(
            "command type {other} {NOT_FROM_THE_TABLE}"
        ))),
    }
}

async fn start(
    tx: &impl Conn,
    config: &ConsumerConfig,
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
    let state = create_instance(
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
            now: config.clock.now(),
        },
    )
    .await?;
    if state != WorkflowState::Running {
        return Ok(());
    }
    // Evaluate at once: the entry tasks are queued in the transaction that creates the run.
    let row = instances::lock(tx, command.workflow_instance_id, config.clock.now()).await?;
    evaluator::evaluate(tx, cache, &row, "").await.map(|_| ())
}

/// Pause, resume, stop, rerun, start_failed: change the instance (and, for restarts, its
/// tasks) under its row lock, then evaluate it at once.
async fn control(
    tx: &impl Conn,
    cache: &Cache,
    command: &Command,
    kind: CommandType,
    now: crate::store::Now,
) -> Result<()> {
    use crate::model::{TaskState as T, WorkflowState as W};
    let id = command.workflow_instance_id;
    let instance = instances::lock(tx, id, now).await?;
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
                // Mapped tasks expand their lists again.
                crate::store::mapped::forget_items(tx, id, None).await?;
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
            let task = task_option(command)?;
            if matches!(state, W::Pausing | W::Stopping) {
                return refuse("force a task of");
            }
            if !instances::force_success(tx, task, id).await? {
                return Err(StoreError::Invalid(format!(
                    "task instance {task} is not a failed or killed task of instance {id}"
                )));
            }
            // An item's ended mapped task is resumed (it ends again with this item counted).
            crate::store::mapped::reopen_parent(tx, task).await?;
            // Its successors are decided again; the instance goes on.
            instances::reset_tasks(tx, id, &[T::Skipped]).await?;
            if state.is_final() {
                instances::control_state(tx, id, W::Running, true).await?;
            }
        }
        CommandType::RetryTask => retry_task(tx, cache, &instance, task_option(command)?).await?,
        CommandType::Hold | CommandType::Release => {
            hold(tx, id, task_option(command)?, kind == CommandType::Hold).await?
        }
        other => {
            return Err(StoreError::Invalid(format!(
                "{other} is not a control command"
            )));
        }
    }
    propagate_to_children(tx, id, kind).await?;
    let row = instances::lock(tx, id, now).await?;
    evaluator::evaluate(tx, cache, &row, "").await.map(|_| ())
}

/// The task a `force_success` or `retry_task` command names (`options.task_instance_id`).
fn task_option(command: &Command) -> Result<i64> {
    command
        .options
        .get("task_instance_id")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "{} needs options.task_instance_id",
                command.command_type
            ))
        })
}

/// Retry a final task in place, with everything downstream of it (Airflow's "clear with
/// downstream"): those tasks back to `pending` (the attempt goes on counting), the others
/// keep their results, and a finished instance runs again. Refused with the reason while
/// the instance is being paused or stopped, while the task has not ended, or while a task
/// downstream of it is still running.
async fn retry_task(
    tx: &impl Conn,
    cache: &Cache,
    instance: &instances::InstanceRow,
    task: i64,
) -> Result<()> {
    use crate::model::{TaskState as T, WorkflowState as W};
    let id = instance.id;
    let refuse = |why: String| {
        Err(StoreError::Invalid(format!(
            "cannot retry task instance {task}: {why}"
        )))
    };
    let tasks = instances::load_tasks(tx, id).await?;
    let Some(row) = tasks.iter().find(|t| t.id == task) else {
        return refuse(format!("it is not a task of instance {id}"));
    };
    if let Some(why) = crate::model::retry_task_refusal(instance.state, row.state) {
        return refuse(why);
    }
    let compiled = cache
        .get(tx, instance.workflow_code, instance.workflow_version)
        .await?;
    let Some(&index) = compiled.index_by_code.get(&row.task_code) else {
        return refuse(format!(
            "its task is not in version {}",
            instance.workflow_version
        ));
    };
    let downstream = compiled.dag.downstream(&[index]);
    // An item of a mapped task is retried alone: the other items keep their results and
    // its parent is resumed. Any other retry makes the mapped tasks it reaches expand
    // their lists again (the list may come out different).
    let item = row.map_index.is_some();
    let mut again = Vec::new();
    let mut remap = Vec::new();
    for t in &tasks {
        let Some(&i) = compiled.index_by_code.get(&t.task_code) else {
            continue;
        };
        if !downstream[i] || (item && t.task_code == row.task_code) {
            continue;
        }
        if !t.state.is_final() && t.state != T::Pending {
            return refuse(format!(
                "task {} downstream of it is still running ({})",
                compiled.dag.tasks[i].name, t.state
            ));
        }
        if t.map_index.is_some() {
            continue;
        }
        if t.map_count.is_some() {
            remap.push(t.task_code);
        }
        again.push(t.id);
    }
    if item {
        again.push(task);
        crate::store::mapped::reopen_parent(tx, task).await?;
    }
    if !remap.is_empty() {
        crate::store::mapped::forget_items(tx, id, Some(&remap)).await?;
    }
    instances::retry_tasks(tx, id, &again).await?;
    if instance.state.is_final() {
        instances::control_state(tx, id, W::Running, true).await?;
    }
    Ok(())
}

/// Hold (`hold`) or release a task of the instance, checked again under the instance's
/// lock. A held task is not started by the plan; a released one is judged again in the
/// evaluation that follows.
async fn hold(tx: &impl Conn, id: i64, task: i64, hold: bool) -> Result<()> {
    let verb = if hold { "hold" } else { "release" };
    let refuse = |why: String| {
        Err(StoreError::Invalid(format!(
            "cannot {verb} task instance {task}: {why}"
        )))
    };
    let Some((instance, task_state, instance_state, held)) =
        instances::task_hold_states(tx, task).await?
    else {
        return refuse("it does not exist".into());
    };
    if instance != id {
        return refuse(format!("it is not a task of instance {id}"));
    }
    let refusal = if hold {
        crate::model::hold_refusal(instance_state, task_state, held)
    } else {
        crate::model::release_refusal(held)
    };
    if let Some(why) = refusal {
        return refuse(why);
    }
    if !instances::set_held(tx, task, id, hold).await? {
        return refuse(format!("it is {task_state}"));
    }
    Ok(())
}

/// Pause and resume reach the child instances of the instance's sub_process tasks, as
/// commands of their own (so grandchildren follow the same way).
async fn propagate_to_children(tx: &impl Conn, id: i64, kind: CommandType) -> Result<()> {
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
            commands::SYSTEM_ACTOR,
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIFECYCLE: &str = include_str!("../../docs/lifecycle.md");

    /// The paragraph of docs/lifecycle.md that lists the command types, joined into one line.
    fn command_paragraph() -> String {
        let start = LIFECYCLE
            .find("Command types in the table:")
            .expect("docs/lifecycle.md lists the command types");
        let end = LIFECYCLE[start..]
            .find("\n\n")
            .map_or(LIFECYCLE.len(), |e| start + e);
        LIFECYCLE[start..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_lifecycle_doc_names_every_command_type() {
        let paragraph = command_paragraph();
        let list = paragraph
            .strip_prefix("Command types in the table: `")
            .and_then(|rest| rest.split('`').next())
            .expect("the types are listed in backticks");
        let mut listed: Vec<&str> = list.split(", ").collect();
        listed.sort();
        let mut kinds: Vec<&str> = CommandType::ALL.iter().map(|k| k.as_str()).collect();
        kinds.sort();
        assert_eq!(listed, kinds, "docs/lifecycle.md lists other command types");
    }

    #[test]
    fn the_lifecycle_doc_quotes_the_error_a_backfill_row_gets() {
        let quoted = format!("command type backfill {NOT_FROM_THE_TABLE}");
        assert!(
            command_paragraph().contains(&quoted),
            "docs/lifecycle.md must quote: {quoted}"
        );
    }
}

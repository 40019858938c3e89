//! The evaluator: advances workflow instances.
//!
//! Owns nothing in memory. Each round locks one instance with due evaluation events
//! (`FOR UPDATE SKIP LOCKED`, so two masters never advance one instance at once), consumes
//! the events, loads the task states, calls the pure `dag::plan`, and applies the actions
//! in the same transaction. Woken by `pgdag_eval`, by its own wake-up times and by a
//! jittered poll. A database error rolls the round back and is retried after a backoff;
//! an instance whose definition cannot be loaded is failed with the reason.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_util::sync::CancellationToken;

use super::compiled::{Cache, Compiled};
use crate::cluster::{Wakeups, backoff, jittered};
use crate::config::Config;
use crate::dag::{self, Action, InstanceView, TaskView};
use crate::model::TaskState;
use crate::params::{self, ParamMap, RunContext};
use crate::store::instances::{self, InstanceRow, TaskRow};
use crate::store::{Result, Store, StoreError};

pub async fn run(
    store: Store,
    config: Config,
    wakeups: Wakeups,
    cache: Cache,
    cancel: CancellationToken,
) {
    let mut failures = 0u32;
    while !cancel.is_cancelled() {
        match drain(&store, &cache, &cancel).await {
            Ok(next_due) => {
                failures = 0;
                let poll = jittered(config.poll_interval.as_std());
                let wait = next_due.map(|d| d.min(poll)).unwrap_or(poll);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = wakeups.eval.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "evaluator round failed");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff(failures)) => {}
                }
            }
        }
    }
}

/// Evaluate instances until none is due; returns how long until the next event is due.
async fn drain(
    store: &Store,
    cache: &Cache,
    cancel: &CancellationToken,
) -> Result<Option<std::time::Duration>> {
    let mut client = store.client().await?;
    while !cancel.is_cancelled() {
        let tx = client.transaction().await?;
        let Some((instance, events)) = instances::claim_for_evaluation(&tx).await? else {
            tx.commit().await?;
            break;
        };
        crate::metrics::add(&crate::metrics::EVALUATIONS, 1);
        if !nothing_to_do(&tx, cache, &instance, &events).await? {
            evaluate(&tx, cache, &instance).await?;
        }
        tx.commit().await?;
    }
    let next = instances::next_due_ms(&client).await?;
    Ok(next.map(|ms| std::time::Duration::from_millis(ms.max(0.0) as u64)))
}

/// True when the consumed events cannot change anything: they only report attempts that
/// succeeded, none of those tasks has a successor, and the instance still has unfinished
/// tasks (so it cannot finish either). Such a completion can only ever lead to `Finish`,
/// so `plan` would return nothing. This keeps a wide fan-out from re-reading every task
/// state after each completed leaf.
async fn nothing_to_do(
    tx: &impl GenericClient,
    cache: &Cache,
    instance: &InstanceRow,
    events: &instances::ConsumedEvents,
) -> Result<bool> {
    if events.other
        || events.ended_tasks.is_empty()
        || instance.state != crate::model::WorkflowState::Running
    {
        return Ok(false);
    }
    let compiled = cache
        .get(tx, instance.workflow_code, instance.workflow_version)
        .await?;
    let check = instances::quick_check(tx, instance.id, &events.ended_tasks).await?;
    let leaves_only = check.task_codes.iter().all(|code| {
        compiled
            .index_by_code
            .get(code)
            .is_some_and(|&i| !compiled.has_successors[i])
    });
    Ok(check.all_succeeded && check.unfinished && leaves_only)
}

/// Plan and apply one instance, locked by the caller's transaction.
pub async fn evaluate(
    tx: &impl GenericClient,
    cache: &Cache,
    instance: &InstanceRow,
) -> Result<()> {
    if instance.state.is_final() {
        return Ok(());
    }
    let compiled = cache
        .get(tx, instance.workflow_code, instance.workflow_version)
        .await?;
    let rows = instances::load_tasks(tx, instance.id).await?;
    let now: DateTime<Utc> = instance.db_now;

    // Index-align task rows with the DAG.
    let mut by_index: Vec<Option<&TaskRow>> = vec![None; compiled.dag.tasks.len()];
    for row in &rows {
        match compiled.index_by_code.get(&row.task_code) {
            Some(&i) => by_index[i] = Some(row),
            None => {
                return Err(StoreError::Invalid(format!(
                    "instance {}: task code {} is not in its workflow version",
                    instance.id, row.task_code
                )));
            }
        }
    }
    let mut views = Vec::with_capacity(by_index.len());
    let mut task_rows = Vec::with_capacity(by_index.len());
    for (i, row) in by_index.iter().enumerate() {
        let row = row.ok_or_else(|| {
            StoreError::Invalid(format!(
                "instance {}: task {} has no task instance",
                instance.id, compiled.dag.tasks[i].name
            ))
        })?;
        views.push(TaskView {
            state: row.state,
            ended_at: row.ended_at,
            retry_at: row.retry_at,
            wait_until: row.wait_until,
            kill_requested: row.kill_requested,
        });
        task_rows.push(row);
    }

    if let (Some(limit), Some(started)) = (compiled.version.spec.timeout, instance.started_at) {
        if !instance.timeout_alerted
            && instance.state == crate::model::WorkflowState::Running
            && now - started >= limit.as_chrono()
        {
            let message = format!(
                "workflow instance {} ran longer than its timeout {limit}",
                instance.id
            );
            tracing::warn!(instance = instance.id, "{message}");
            instances::timeout_alert(tx, instance.id, &message).await?;
        }
    }

    // Start from chosen nodes: everything not downstream of them is passed over.
    let restricted;
    let dag = match &instance.start_nodes {
        None => &compiled.dag,
        Some(nodes) => {
            restricted = compiled.starting_from(nodes);
            &restricted
        }
    };
    let plan = dag::plan(
        dag,
        &views,
        &InstanceView {
            state: instance.state,
            failure_strategy: instance.failure_strategy,
        },
        now,
    );

    // Out params flow from succeeded ancestors; load them only for the tasks queued now.
    let mut wanted = Vec::new();
    for action in &plan.actions {
        if let Action::Queue(i) = *action {
            for &a in &compiled.ancestors[i] {
                if task_rows[a].state.is_success() {
                    wanted.push(task_rows[a].id);
                }
            }
        }
    }
    wanted.sort_unstable();
    wanted.dedup();
    let outs = instances::out_params(tx, &wanted).await?;

    // Lock the task groups this plan queues into, in name order (no deadlock between two
    // masters), and remember their (size, slots in use).
    let mut groups: std::collections::BTreeMap<String, Option<(i64, i64)>> = Default::default();
    for action in &plan.actions {
        if let Action::Queue(i) = *action {
            if let Some(group) = &compiled.version.spec.tasks[i].task_group {
                groups.insert(group.clone(), None);
            }
        }
    }
    for (group, slot) in groups.iter_mut() {
        *slot = crate::store::task_groups::lock(tx, group).await?;
    }
    let mut admitted: HashMap<String, i64> = HashMap::new();
    let mut group_errors: HashMap<usize, String> = HashMap::new();
    let mut queue_ids = Vec::new();
    let mut payloads = Vec::new();
    let mut state_ids = Vec::new();
    let mut states: Vec<&str> = Vec::new();
    let mut waits = Vec::new();
    let mut errors: Vec<Option<String>> = Vec::new();
    let mut kills = Vec::new();
    let mut finish = None;
    let mut wake_at = None;
    for action in &plan.actions {
        match *action {
            Action::Queue(i)
                if !group_slot(&compiled, i, &groups, &mut admitted, &mut group_errors) =>
            {
                match group_errors.remove(&i) {
                    // The group does not exist: the task fails with the reason.
                    Some(message) => {
                        state_ids.push(task_rows[i].id);
                        states.push(TaskState::Failed.as_str());
                        waits.push(None);
                        errors.push(Some(message));
                        wake_at = Some(now);
                    }
                    // The group is full: wait, and look again when a slot frees (a
                    // completion wakes this instance) or after a second at the latest.
                    None => {
                        let until = now + chrono::Duration::seconds(1);
                        state_ids.push(task_rows[i].id);
                        states.push(TaskState::Waiting.as_str());
                        waits.push(Some(until));
                        errors.push(None);
                        wake_at = Some(wake_at.map_or(until, |w: DateTime<Utc>| w.min(until)));
                    }
                }
            }
            Action::Queue(i) => match payload(&compiled, instance, &task_rows, &outs, i) {
                Ok(p) => {
                    queue_ids.push(task_rows[i].id);
                    payloads.push(p);
                }
                Err(message) => {
                    // A parameter error fails the task without running it; the next round
                    // sees the failure and applies the failure strategy.
                    tracing::info!(instance = instance.id, task = %compiled.dag.tasks[i].name, %message, "task fails before dispatch");
                    state_ids.push(task_rows[i].id);
                    states.push(TaskState::Failed.as_str());
                    waits.push(None);
                    errors.push(Some(message));
                    wake_at = Some(now);
                }
            },
            Action::CompleteOnMaster(i) => {
                state_ids.push(task_rows[i].id);
                states.push(TaskState::Succeeded.as_str());
                waits.push(None);
                errors.push(None);
            }
            Action::Skip(i) => {
                state_ids.push(task_rows[i].id);
                states.push(TaskState::Skipped.as_str());
                waits.push(None);
                errors.push(None);
            }
            Action::Wait { task, until } => {
                state_ids.push(task_rows[task].id);
                states.push(TaskState::Waiting.as_str());
                waits.push(Some(until));
                errors.push(None);
            }
            Action::Kill(i) => kills.push(task_rows[i].id),
            Action::Finish(state) => finish = Some(state),
            Action::WakeAt(at) => wake_at = Some(wake_at.map_or(at, |w: DateTime<Utc>| w.min(at))),
        }
    }
    if !state_ids.is_empty() {
        instances::set_states(tx, &state_ids, &states, &waits, &errors).await?;
    }
    if !queue_ids.is_empty() {
        instances::queue_tasks(tx, &queue_ids, &payloads, instance.priority).await?;
        instances::notify(tx, "pgdag_task", "").await?;
    }
    if !kills.is_empty() {
        instances::request_kill(tx, &kills).await?;
        instances::notify(tx, "pgdag_control", "kill").await?;
    }
    if let Some(state) = finish {
        instances::finish(tx, instance.id, state).await?;
        if let Some(backfill) = instance.backfill_id {
            Box::pin(backfill_progress(tx, cache, backfill)).await?;
        } else if compiled.version.spec.execution != crate::model::ExecutionType::Parallel {
            Box::pin(start_next_waiting(tx, cache, &compiled)).await?;
        }
    } else if let Some(at) = wake_at {
        instances::insert_event(tx, instance.id, Some(at)).await?;
    }
    Ok(())
}

/// Whether task `i` may be queued now as far as its task group goes (true without a
/// group). `groups` holds the locked groups' (size, slots in use); `admitted` counts the
/// slots this plan already gave out.
fn group_slot(
    compiled: &Compiled,
    i: usize,
    groups: &std::collections::BTreeMap<String, Option<(i64, i64)>>,
    admitted: &mut HashMap<String, i64>,
    errors: &mut HashMap<usize, String>,
) -> bool {
    let Some(group) = &compiled.version.spec.tasks[i].task_group else {
        return true;
    };
    let Some(Some((size, busy))) = groups.get(group) else {
        errors.insert(i, format!("task group {group} does not exist"));
        return false;
    };
    let taken = admitted.entry(group.clone()).or_insert(0);
    if busy + *taken < *size {
        *taken += 1;
        true
    } else {
        false
    }
}

/// Serial execution types: when an instance of the workflow ends, the next waiting one
/// starts (FIFO; by priority first for `serial_priority`), decided under the definition's
/// row lock like the start itself.
async fn start_next_waiting(
    tx: &impl GenericClient,
    cache: &Cache,
    compiled: &Compiled,
) -> Result<()> {
    let code = compiled.version.code;
    instances::lock_definition(tx, code).await?;
    if instances::active_count(tx, code).await? > 0 {
        return Ok(());
    }
    let by_priority =
        compiled.version.spec.execution == crate::model::ExecutionType::SerialPriority;
    let Some(next) = instances::next_waiting(tx, code, by_priority).await? else {
        return Ok(());
    };
    instances::control_state(tx, next, crate::model::WorkflowState::Running, true).await?;
    let row = instances::lock(tx, next).await?;
    evaluate(tx, cache, &row).await
}

/// A backfill instance ended: stop the rest after a failure when `stop_on_failure`, else
/// start waiting dates up to the parallelism; mark the backfill done when nothing is left.
async fn backfill_progress(tx: &impl GenericClient, cache: &Cache, id: i64) -> Result<()> {
    use crate::store::backfills;
    let backfill = backfills::lock(tx, id).await?;
    if backfill.state == "running" {
        let (_, failed, _) = backfills::summary(tx, id).await?;
        if failed > 0 && backfill.stop_on_failure {
            backfills::stop_waiting(
                tx,
                id,
                "stopped: an earlier date failed and stop_on_failure is set",
            )
            .await?;
            backfills::set_state(tx, id, "failed").await?;
            return Ok(());
        }
        while backfills::running_count(tx, id).await? < backfill.parallelism {
            let Some(next) = backfills::next_waiting(tx, id).await? else {
                break;
            };
            instances::control_state(tx, next, crate::model::WorkflowState::Running, true).await?;
            let row = instances::lock(tx, next).await?;
            evaluate(tx, cache, &row).await?;
        }
    }
    let (open, failed, _) = backfills::summary(tx, id).await?;
    if open == 0 {
        backfills::set_state(tx, id, if failed > 0 { "failed" } else { "succeeded" }).await?;
    }
    Ok(())
}

/// What the worker runs for task `i`: the task's spec with its parameters resolved and
/// its script expanded. An `Err` is a parameter error, reported on the task.
fn payload(
    compiled: &Compiled,
    instance: &InstanceRow,
    rows: &[&TaskRow],
    outs: &HashMap<i64, serde_json::Value>,
    i: usize,
) -> Result<serde_json::Value, String> {
    let spec = &compiled.version.spec;
    let task = &spec.tasks[i];
    let ctx = RunContext {
        schedule_time: instance
            .schedule_time
            .or(instance.started_at)
            .unwrap_or(instance.db_now),
        timezone: compiled.timezone,
        project: compiled.version.project.clone(),
        workflow: spec.name.clone(),
        workflow_instance_id: instance.id,
        task_instance_id: rows[i].id,
    };
    let startup = json_to_params(&instance.params);
    let mut upstream = ParamMap::new();
    for &a in &compiled.ancestors[i] {
        if let Some(out) = outs.get(&rows[a].id) {
            upstream.extend(json_to_params(out));
        }
    }
    let resolved = params::resolve(&ctx, &spec.params, &startup, &upstream, &task.params)
        .map_err(|e| e.to_string())?;
    let mut value = serde_json::to_value(task).map_err(|e| e.to_string())?;
    if let Some(script) = value.get("script").and_then(|s| s.as_str()) {
        let expanded = params::expand(script, &resolved, &ctx).map_err(|e| e.to_string())?;
        value["script"] = serde_json::Value::String(expanded);
    }
    value["params"] = serde_json::to_value(&resolved).map_err(|e| e.to_string())?;
    Ok(value)
}

/// A JSON object of params as strings (numbers and booleans by their text).
pub fn json_to_params(value: &serde_json::Value) -> ParamMap {
    let mut map = BTreeMap::new();
    if let Some(object) = value.as_object() {
        for (k, v) in object {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            map.insert(k.clone(), text);
        }
    }
    map
}

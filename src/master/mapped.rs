//! The evaluator's side of mapped tasks (`foreach:`): expanding a parent when the plan
//! starts it, planning its items each round with [`dag::mapped::plan_items`], and ending
//! the parent with its aggregated outputs. Items are queued, killed and skipped by the
//! evaluator with the rest of the round's changes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::compiled::Compiled;
use crate::dag::mapped::{self as plan, ItemAction, ItemMode, ParentEnd};
use crate::dag::{self, Dag, InstanceView, TaskView};
use crate::model::{TaskState, WorkflowState};
use crate::store::Result;
use crate::store::db::Conn;
use crate::store::instances::{self, TaskRow};
use crate::store::mapped as store;

/// Whether task `i` is a mapped task.
pub fn is_mapped(compiled: &Compiled, i: usize) -> bool {
    compiled.version.spec.tasks[i].foreach.is_some()
}

/// What one evaluation knows, for planning the items of every expanded parent.
pub struct MappedRound<'a, 'r> {
    pub compiled: &'a Compiled,
    pub dag: &'a Dag,
    pub instance: &'a InstanceView,
    pub task_rows: &'a [&'r TaskRow],
    pub items: &'a HashMap<usize, Vec<&'r TaskRow>>,
    pub views: &'a mut [TaskView],
    pub now: DateTime<Utc>,
}

/// The item changes of one round.
#[derive(Default)]
pub struct ItemWork<'r> {
    /// (the mapped task's index, the item) to queue.
    pub queue: Vec<(usize, &'r TaskRow)>,
    pub kill: Vec<i64>,
    pub skip: Vec<i64>,
    /// Parents that end (or are suspended by a pause) this round.
    pub ends: Vec<(usize, ParentEnd)>,
    pub wake_at: Option<DateTime<Utc>>,
}

fn item_view(row: &TaskRow) -> TaskView {
    TaskView {
        state: row.state,
        ended_at: row.ended_at,
        retry_at: row.retry_at,
        wait_until: row.wait_until,
        kill_requested: row.kill_requested,
        held: row.held,
        taken: None,
    }
}

/// Plan the items of every expanded, running parent. A parent that ends is marked so in
/// `views` (ended now), so the DAG plan of the same round already judges its successors.
pub fn plan_all<'r>(round: MappedRound<'_, 'r>) -> ItemWork<'r> {
    let mut work = ItemWork::default();
    let mode = match round.instance.state {
        WorkflowState::Running
            if dag::ends_after_failure(round.dag, round.views, round.instance) =>
        {
            ItemMode::Ending
        }
        WorkflowState::Running => ItemMode::Running,
        WorkflowState::Pausing => ItemMode::Pausing,
        WorkflowState::Stopping => ItemMode::Stopping,
        _ => return work,
    };
    for (i, parent) in round.task_rows.iter().enumerate() {
        if parent.map_count.is_none() || parent.state != TaskState::Running {
            continue;
        }
        let list: &[&TaskRow] = round.items.get(&i).map_or(&[], Vec::as_slice);
        let views: Vec<TaskView> = list.iter().map(|r| item_view(r)).collect();
        let max_parallel = round.compiled.version.spec.tasks[i].max_parallel;
        let planned = plan::plan_items(&views, max_parallel, mode, round.now);
        for action in planned.actions {
            match action {
                ItemAction::Queue(k) => work.queue.push((i, list[k])),
                ItemAction::Kill(k) => work.kill.push(list[k].id),
                ItemAction::Skip(k) => work.skip.push(list[k].id),
            }
        }
        if let Some(at) = planned.wake_at {
            work.wake_at = Some(work.wake_at.map_or(at, |w: DateTime<Utc>| w.min(at)));
        }
        if let Some(end) = planned.end {
            let view = &mut round.views[i];
            view.state = end.state();
            view.ended_at = view.state.is_final().then_some(round.now);
            work.ends.push((i, end));
        }
    }
    work
}

/// Write the parents that end this round: state, error, and for a success the items'
/// out params aggregated (`dag::mapped::aggregate_outputs`).
pub async fn apply_ends(
    tx: &impl Conn,
    compiled: &Compiled,
    task_rows: &[&TaskRow],
    items: &HashMap<usize, Vec<&TaskRow>>,
    ends: &[(usize, ParentEnd)],
) -> Result<()> {
    for (i, end) in ends {
        let name = &compiled.version.spec.tasks[*i].name;
        let list: &[&TaskRow] = items.get(i).map_or(&[], Vec::as_slice);
        let (error, outs) = match end {
            ParentEnd::Succeeded => {
                let ids: Vec<i64> = list.iter().map(|r| r.id).collect();
                let by_id = instances::out_params(tx, &ids).await?;
                let outs: Vec<serde_json::Value> = ids
                    .iter()
                    .map(|id| by_id.get(id).cloned().unwrap_or_default())
                    .collect();
                (None, plan::aggregate_outputs(name, &outs))
            }
            ParentEnd::Failed(failed) => (
                Some(plan::failed_items_message(name, failed, list.len())),
                serde_json::json!({}),
            ),
            ParentEnd::Killed => (
                Some(format!("task {name}: its items were stopped")),
                serde_json::json!({}),
            ),
            ParentEnd::Suspended => (None, serde_json::json!({})),
        };
        store::set_parent(tx, task_rows[*i].id, end.state(), error.as_deref(), &outs).await?;
    }
    Ok(())
}

/// What starting a mapped parent comes to.
pub enum Start {
    /// Expanded into this many items, or resumed (already expanded): running.
    Running,
    /// An empty list: the task is skipped.
    Skipped,
    /// The list could not be had or is too long: the task fails with this reason.
    Failed(String),
}

/// The plan queued mapped task `i`: resume its items when it is already expanded, else
/// expand `foreach` with `params` (what the task would see) and create the items. Writes
/// the parent's new state except for a failure (the caller fails it with the reason).
pub async fn start(
    tx: &impl Conn,
    compiled: &Compiled,
    parent: &TaskRow,
    i: usize,
    params: std::result::Result<(crate::params::ParamMap, crate::params::RunContext), String>,
    max_items: usize,
) -> Result<Start> {
    let task = &compiled.version.spec.tasks[i];
    if parent.map_count.is_some() {
        store::set_parent(
            tx,
            parent.id,
            TaskState::Running,
            None,
            &serde_json::json!({}),
        )
        .await?;
        return Ok(Start::Running);
    }
    let expr = task.foreach.as_deref().unwrap_or_default();
    let list = params.and_then(|(params, ctx)| {
        let text = crate::params::expand(expr, &params, &ctx)
            .map_err(|e| format!("task {}: `foreach`: {e}", task.name))?;
        plan::parse_list(&task.name, &text)
    });
    let list = match list {
        Ok(list) => list,
        Err(why) => return Ok(Start::Failed(why)),
    };
    if list.is_empty() {
        instances::set_states(
            tx,
            &[parent.id],
            &[TaskState::Skipped.as_str()],
            &[None],
            &[Some(format!(
                "task {}: the foreach list is empty",
                task.name
            ))],
        )
        .await?;
        return Ok(Start::Skipped);
    }
    if list.len() > max_items {
        return Ok(Start::Failed(plan::too_long_message(
            &task.name,
            list.len(),
            max_items,
        )));
    }
    store::expand(tx, parent.id, &list, task.task_group.as_deref()).await?;
    Ok(Start::Running)
}

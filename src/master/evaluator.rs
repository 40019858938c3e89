//! The evaluator: advances workflow instances.
//!
//! Owns nothing in memory. Each round locks one instance with due evaluation events
//! (`FOR UPDATE SKIP LOCKED`, so two masters never advance one instance at once), consumes
//! the events, loads the task states, calls the pure `dag::plan`, and applies the actions
//! in the same transaction. Woken by `pgdag_eval`, by its own wake-up times and by a
//! jittered poll. A database error rolls the round back and is retried after a backoff;
//! an instance whose definition cannot be loaded is failed with the reason.

use std::collections::HashMap;

use crate::store::db::Conn;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::compiled::{Cache, Compiled};
use super::mapped::{self, MappedRound};
use super::master_tasks;
use crate::dag::{self, Action, InstanceView, TaskView};
use crate::model::{TaskState, TaskType, WorkflowState};
use crate::params::{self, ParamMap, RunContext};
use crate::service::{Next, Round};
use crate::spec::TaskKind;
use crate::store::instances::{self, InstanceRow, TaskRow};
use crate::store::master_tasks as master_tasks_store;
use crate::store::{Channel, Result, Store, StoreError};

/// The evaluator's settings.
#[derive(Debug, Clone)]
pub struct EvaluatorConfig {
    /// Fallback poll for a lost `pgdag_eval`.
    pub poll_interval: std::time::Duration,
    pub clock: crate::clock::Clock,
    /// The longest list a mapped task may expand (`PGDAG_MAX_MAP_ITEMS`).
    pub max_map_items: usize,
}

impl EvaluatorConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.poll_interval.is_zero() {
            return Err("evaluator: the poll interval must be above zero".into());
        }
        Ok(())
    }
}

/// The evaluator service: a round evaluates instances until none is due.
pub struct Evaluator {
    pub store: Store,
    pub cache: Cache,
    pub clock: crate::clock::Clock,
    /// Told how many attempts ended (the table keeper's trigger).
    pub keeper: super::keeper::Trigger,
    /// This process's fetcher claims at once after an evaluation queued attempts.
    pub wakeups: crate::cluster::Wakeups,
    pub cancel: CancellationToken,
}

impl Round for Evaluator {
    async fn round(&mut self) -> Result<Next> {
        // An event still due after the round belongs to an instance another master holds.
        Ok(Next::due_in_ms(
            drain(
                &self.store,
                &self.cache,
                &self.clock,
                &self.keeper,
                &self.wakeups,
                &self.cancel,
            )
            .await?,
        ))
    }
}

/// Most attempts one evaluation queues while its instance has none in flight. Writing them
/// is most of a wide round (2,000 `sql` tasks spent a third of their instance's time before
/// the first could be claimed, all queued in one transaction); the rest are queued by the
/// next round, at once.
const QUEUE_PER_ROUND: usize = 256;
/// Most attempts one evaluation queues at all.
const QUEUE_MOST_PER_ROUND: usize = 4_096;

/// How many attempts this round may queue, with `in_flight` of its instance's attempts
/// queued, dispatched or running. The first round is kept short so that workers start at
/// once; once they have attempts in hand, a round may queue four times as many as are in
/// flight: each round reads every task row of its instance, and a 2,000-wide fan-out queued
/// 256 at a time read its 2,000 rows eight times.
fn round_limit(in_flight: usize) -> usize {
    in_flight
        .saturating_mul(4)
        .clamp(QUEUE_PER_ROUND, QUEUE_MOST_PER_ROUND)
}

/// Evaluate instances until none is due; returns the milliseconds until the next event is
/// due (`None`: no event waits).
async fn drain(
    store: &Store,
    cache: &Cache,
    clock: &crate::clock::Clock,
    keeper: &super::keeper::Trigger,
    wakeups: &crate::cluster::Wakeups,
    cancel: &CancellationToken,
) -> Result<Option<f64>> {
    let mut client = store.client().await?;
    while !cancel.is_cancelled() {
        let started = std::time::Instant::now();
        let tx = client.transaction().await?;
        // Sent together, one round trip: the setting, the claim, and the next due time
        // among the events the claim left (read after it, in its transaction).
        let now = clock.now();
        let (lazily, claimed, next) = futures_util::future::join3(
            instances::commit_lazily(&tx),
            instances::claim_for_evaluation(&tx, now),
            instances::next_due_ms(&tx, now),
        )
        .await;
        lazily?;
        let next = next?;
        let Some((instance, events)) = claimed? else {
            // Nothing to claim: an idle round is one transaction.
            tx.commit().await?;
            return Ok(next);
        };
        crate::metrics::add(&crate::metrics::EVALUATIONS, 1);
        let mut done = Evaluated::default();
        if !nothing_to_do(&tx, cache, &instance, &events).await? {
            let span = tracing::info_span!("evaluation", instance_id = instance.id);
            let evaluation = evaluate(&tx, cache, &instance, &wakeups.own);
            done = tracing::Instrument::instrument(evaluation, span).await?;
        }
        // Committed at once, so that the queued successors' `pgdag_task` goes out now.
        let committed = tx.commit().await;
        if done.queued {
            // This process's `pgdag_task` comes back to it only to be dropped. Woken also
            // when the commit's outcome is unknown (the connection lost in it): a claim
            // that finds nothing costs less than waiting for the poll.
            wakeups.attempts_queued();
        }
        committed?;
        keeper.ended(events.ended_tasks.len() as u64);
        crate::metrics::EVALUATION_ROUND.since("", started);
        // Another round only when something may be due now: an event this evaluation left
        // for its instance, or one the claim left (another instance's). A round that asked
        // again after each evaluation found nothing most of the time — four round trips
        // per outcome flush of a fan-out. Events committed since the claim announced
        // themselves (`pgdag_eval`), which wakes this service again.
        if done.left.is_none() && next.is_none_or(|ms| ms > 0.0) {
            return Ok(next);
        }
    }
    Ok(None)
}

/// True when the consumed events cannot change anything: they only report attempts that
/// succeeded, none of those tasks has a successor, and the instance still has unfinished
/// tasks (so it cannot finish either). Such a completion can only ever lead to `Finish`,
/// so `plan` would return nothing. This keeps a wide fan-out from re-reading every task
/// state after each completed leaf. An item of a mapped task counts as such a leaf while
/// another item of its task is still active and none waits to be queued: its parent
/// cannot end and no `max_parallel` slot is wanted.
async fn nothing_to_do(
    tx: &impl Conn,
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
    if !events.all_succeeded {
        return Ok(false);
    }
    let compiled = cache
        .get(tx, instance.workflow_code, instance.workflow_version)
        .await?;
    // The ended tasks' codes and states came with the claim (`claim_eval.sql`): a task
    // with successors (a chain's hop) is known to need an evaluation without a query.
    let mut mapped_codes = Vec::new();
    for code in &events.ended_codes {
        match compiled.index_by_code.get(code) {
            Some(&i) if compiled.version.spec.tasks[i].foreach.is_some() => {
                mapped_codes.push(*code)
            }
            Some(&i) if !compiled.has_successors[i] => {}
            _ => return Ok(false),
        }
    }
    if !instances::has_unfinished_tasks(tx, instance.id).await? {
        return Ok(false);
    }
    if mapped_codes.is_empty() {
        return Ok(true);
    }
    mapped_codes.sort_unstable();
    mapped_codes.dedup();
    let busy = crate::store::mapped::busy_codes(tx, instance.id, &mapped_codes).await?;
    Ok(busy.len() == mapped_codes.len())
}

/// What one evaluation did that its caller acts on after the commit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluated {
    /// When the evaluation event it left for the instance is due, if it left one.
    pub left: Option<DateTime<Utc>>,
    /// It queued attempts (and sent `pgdag_task` with the caller's `notice` as payload).
    pub queued: bool,
}

/// Plan and apply one instance, locked by the caller's transaction. The `pgdag_task` it
/// sends when it queues attempts carries `notice`: a caller that wakes its own process's
/// fetcher after the commit passes `Wakeups::own` (see `cluster::listener`), others "".
pub async fn evaluate(
    tx: &impl Conn,
    cache: &Cache,
    instance: &InstanceRow,
    notice: &str,
) -> Result<Evaluated> {
    if instance.state.is_final() {
        return Ok(Evaluated::default());
    }
    let compiled = cache
        .get(tx, instance.workflow_code, instance.workflow_version)
        .await?;
    // `sla:` the run is not final by when it should be (waiting for a turn counts too).
    if let Some(due) = instance.sla_due_at
        && !instance.sla_alerted
        && instance.db_now >= due
    {
        let message = match compiled.version.spec.sla.as_ref() {
            Some(sla) => format!(
                "workflow instance {} is not finished within {} of its {} (due {due}); it is {}",
                instance.id,
                sla.finish_within,
                if instance.schedule_time.is_some() {
                    "schedule time"
                } else {
                    "start"
                },
                instance.state
            ),
            None => format!(
                "workflow instance {} missed its SLA (due {due})",
                instance.id
            ),
        };
        tracing::warn!(instance_id = instance.id, "{message}");
        instances::commit_durably(tx).await?;
        instances::sla_alert(tx, instance.id, &message).await?;
    }
    // A serial workflow's waiting instance is evaluated when its turn may have come.
    let admitted;
    let instance = if instance.state == WorkflowState::Waiting && instance.backfill_id.is_none() {
        if compiled.version.spec.active_limit().is_none()
            || !admit(tx, &compiled, instance.id).await?
        {
            return Ok(Evaluated::default());
        }
        admitted = instances::lock(tx, instance.id, Some(instance.db_now)).await?;
        &admitted
    } else {
        instance
    };
    let rows = instances::load_tasks(tx, instance.id).await?;
    let now: DateTime<Utc> = instance.db_now;

    // Index-align task rows with the DAG. The items of a mapped task share its code; the
    // DAG sees its parent row, the items are planned apart (`dag::mapped`).
    let mut by_index: Vec<Option<&TaskRow>> = vec![None; compiled.dag.tasks.len()];
    let mut items: HashMap<usize, Vec<&TaskRow>> = HashMap::new();
    for row in &rows {
        match compiled.index_by_code.get(&row.task_code) {
            Some(&i) if row.map_index.is_some() => items.entry(i).or_default().push(row),
            Some(&i) => by_index[i] = Some(row),
            None => {
                return Err(StoreError::Invalid(format!(
                    "instance {}: task code {} is not in its workflow version",
                    instance.id, row.task_code
                )));
            }
        }
    }
    let name_index: HashMap<&str, usize> = compiled
        .dag
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
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
            held: row.held,
            taken: row.branch.as_ref().map(|names| {
                names
                    .iter()
                    .filter_map(|n| name_index.get(n.as_str()).copied())
                    .collect()
            }),
        });
        task_rows.push(row);
    }

    if let (Some(limit), Some(started)) = (compiled.version.spec.timeout, instance.started_at)
        && !instance.timeout_alerted
        && instance.state == crate::model::WorkflowState::Running
        && now - started >= limit.as_chrono()
    {
        let message = format!(
            "workflow instance {} ran longer than its timeout {limit}",
            instance.id
        );
        tracing::warn!(instance_id = instance.id, "{message}");
        instances::commit_durably(tx).await?;
        instances::timeout_alert(tx, instance.id, &message).await?;
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
    let instance_view = InstanceView {
        state: instance.state,
        failure_strategy: instance.failure_strategy,
    };
    for list in items.values_mut() {
        list.sort_by_key(|r| r.map_index);
    }
    let item_work = mapped::plan_all(MappedRound {
        compiled: &compiled,
        dag,
        instance: &instance_view,
        task_rows: &task_rows,
        items: &items,
        views: &mut views,
        now,
    });
    // Written now: a successor queued by this round's plan reads the outputs.
    mapped::apply_ends(tx, &compiled, &task_rows, &items, &item_work.ends).await?;
    let mut plan = dag::plan(dag, &views, &instance_view, now);

    // Switch tasks are decided here (their expressions read parameters), then the plan is
    // made again with the decisions in place, so the chosen branch starts in this round.
    let mut decisions: Vec<(usize, master_tasks::SwitchDecision)> = Vec::new();
    loop {
        let deciding: Vec<usize> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Decide(i) => Some(*i),
                _ => None,
            })
            .collect();
        if deciding.is_empty() {
            break;
        }
        let outs = ancestor_outs(tx, &compiled, &task_rows, &views, &deciding).await?;
        for i in deciding {
            let decision = resolve_params(&compiled, instance, &task_rows, &outs, i)
                .and_then(|params| master_tasks::decide_switch(&compiled, i, &params));
            views[i].ended_at = Some(now);
            match &decision {
                Ok((taken, _)) => {
                    views[i].state = TaskState::Succeeded;
                    views[i].taken = Some(taken.clone());
                }
                Err(_) => views[i].state = TaskState::Failed,
            }
            decisions.push((i, decision));
        }
        plan = dag::plan(dag, &views, &instance_view, now);
    }

    // A wide plan is queued over several rounds, each committed on its own: workers start
    // on the first attempts while this master writes the next ones.
    let in_flight = views.iter().filter(|v| v.state.is_active()).count();
    plan.queue_at_most(
        round_limit(in_flight),
        |i| {
            (!mapped::is_mapped(&compiled, i)).then(|| {
                compiled.version.spec.tasks[i]
                    .priority
                    .unwrap_or_default()
                    .rank()
            })
        },
        now,
    );

    // Out params flow from succeeded ancestors; load them only for the tasks started now.
    // Items started now see what their mapped task would see.
    let starting: Vec<usize> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Queue(i) | Action::StartOnMaster(i) => Some(*i),
            _ => None,
        })
        .chain(item_work.queue.iter().map(|(i, _)| *i))
        .collect();
    let item_ids: Vec<i64> = item_work.queue.iter().map(|(_, r)| r.id).collect();

    // The workflow's tenant, resolved (and its project checked again) when this round
    // queues anything: a tenant removed or narrowed since apply fails the tasks it would run.
    // A workflow that names none runs as its project's default tenant, if there is one.
    let queues = !item_work.queue.is_empty()
        || plan
            .actions
            .iter()
            .any(|a| matches!(*a, Action::Queue(i) if !mapped::is_mapped(&compiled, i)));
    let tenant = async {
        Ok::<_, StoreError>(match &compiled.version.spec.tenant {
            None if queues => crate::store::tenants::default_of(tx, &compiled.version.project)
                .await?
                .map(Ok),
            Some(name) if queues => {
                let found = crate::store::tenants::get(tx, name).await?;
                let project = &compiled.version.project;
                Some(
                    match crate::store::tenants::refusal(found.as_ref(), name, project) {
                        Some(why) => Err(why),
                        None => Ok(found.expect("a tenant without refusal exists")),
                    },
                )
            }
            _ => None,
        })
    };
    // Independent reads, sent together.
    let (outs, item_values, tenant) = futures_util::future::join3(
        ancestor_outs(tx, &compiled, &task_rows, &views, &starting),
        crate::store::mapped::values(tx, &item_ids),
        tenant,
    )
    .await;
    let (outs, item_values, tenant) = (outs?, item_values?, tenant?);

    // Lock the task groups this plan queues into, in name order (no deadlock between two
    // masters), and remember their (size, slots in use).
    let mut groups: std::collections::BTreeMap<String, Option<(i64, i64)>> = Default::default();
    // A mapped task's parent takes no slot; its items do.
    let queued_tasks = plan
        .actions
        .iter()
        .filter_map(|a| match *a {
            Action::Queue(i) if !mapped::is_mapped(&compiled, i) => Some(i),
            _ => None,
        })
        .chain(item_work.queue.iter().map(|(i, _)| *i));
    for i in queued_tasks {
        if let Some(group) = &compiled.version.spec.tasks[i].task_group {
            groups.insert(group.clone(), None);
        }
    }
    for (group, slot) in groups.iter_mut() {
        *slot = crate::store::task_groups::lock(tx, group).await?;
    }
    let mut admitted: HashMap<String, i64> = HashMap::new();
    let mut group_errors: HashMap<usize, String> = HashMap::new();
    let mut batch = Batch {
        wake_at: item_work.wake_at,
        ..Batch::default()
    };
    let mut kills = Vec::new();
    let mut finish = None;
    let mut mapped_starts = Vec::new();
    // Queue attempt `id` of task `i` (the task's own row, or an item with its `extra`
    // params): into its task group if it names one with a free slot, with its payload.
    let mut queue_attempt = |batch: &mut Batch,
                             id: i64,
                             attempt: i32,
                             i: usize,
                             extra: &[(String, String)]| {
        if !group_slot(&compiled, i, &groups, &mut admitted, &mut group_errors) {
            match group_errors.remove(&i) {
                // The group does not exist: the task fails with the reason.
                Some(message) => batch.set(id, TaskState::Failed, None, Some(message), now),
                // The group is full: wait, and look again when a slot frees (a
                // completion wakes this instance) or after a second at the latest.
                None => {
                    let until = now + chrono::Duration::seconds(1);
                    batch.set(id, TaskState::Waiting, Some(until), None, until);
                }
            }
            return;
        }
        match tenant.clone().transpose().and_then(|t| {
            payload(
                &compiled,
                instance,
                &task_rows,
                &outs,
                i,
                (id, extra),
                t.as_ref(),
            )
        }) {
            Ok(p) => {
                batch.queue_ids.push(id);
                batch.payloads.push(p);
                batch.retry_delays.push(retry_delay(&compiled, i, attempt));
            }
            Err(message) => {
                // A parameter error fails the task without running it; the next round
                // sees the failure and applies the failure strategy.
                tracing::info!(instance_id = instance.id, task = %compiled.dag.tasks[i].name, %message, "task fails before dispatch");
                batch.set(id, TaskState::Failed, None, Some(message), now);
            }
        }
    };
    // Items first: they were running before anything this plan starts.
    for &(i, item) in &item_work.queue {
        let value = item_values.get(&item.id).cloned().unwrap_or_default();
        let extra = crate::dag::mapped::item_params(&value, item.map_index.unwrap_or(0) as usize);
        queue_attempt(&mut batch, item.id, item.attempt, i, &extra);
    }
    for &id in &item_work.skip {
        batch.set(id, TaskState::Skipped, None, None, None);
    }
    kills.extend(item_work.kill.iter().copied());
    for action in &plan.actions {
        match *action {
            // Expanded (or resumed) below; its items are queued from the next round.
            Action::Queue(i) if mapped::is_mapped(&compiled, i) => mapped_starts.push(i),
            // Its items are killed by the item plan (`dag::mapped`), the parent ends then.
            Action::Kill(i) if mapped::is_mapped(&compiled, i) => {}
            Action::Queue(i) => {
                queue_attempt(&mut batch, task_rows[i].id, task_rows[i].attempt, i, &[])
            }
            Action::CompleteOnMaster(i) => {
                batch.set(task_rows[i].id, TaskState::Succeeded, None, None, None)
            }
            Action::Skip(i) => batch.set(task_rows[i].id, TaskState::Skipped, None, None, None),
            Action::Wait { task, until } => batch.set(
                task_rows[task].id,
                TaskState::Waiting,
                Some(until),
                None,
                None,
            ),
            Action::Kill(i) => kills.push(task_rows[i].id),
            // Carried out below, after the batched state changes.
            Action::Branch { .. } | Action::StartOnMaster(_) => {}
            Action::Decide(_) => unreachable!("decisions are made before the plan is applied"),
            Action::Finish(state) => finish = Some(state),
            Action::WakeAt(at) => batch.wake(at),
        }
    }
    let Batch {
        queue_ids,
        payloads,
        retry_delays,
        state_ids,
        states,
        waits,
        errors,
        mut wake_at,
    } = batch;
    if !state_ids.is_empty() {
        instances::set_states(tx, &state_ids, &states, &waits, &errors).await?;
    }
    for i in mapped_starts {
        let params = resolve_params(&compiled, instance, &task_rows, &outs, i)
            .map(|p| (p, run_context(&compiled, instance, &task_rows, i)));
        let row = task_rows[i];
        match mapped::start(tx, &compiled, row, i, params, cache.max_map_items).await? {
            mapped::Start::Failed(why) => {
                tracing::info!(instance_id = instance.id, task = %compiled.dag.tasks[i].name, %why, "mapped task fails before expanding");
                fail_on_master(tx, row.id, &why).await?;
            }
            mapped::Start::Running | mapped::Start::Skipped => {}
        }
        // The items (or the skip's successors) are planned in the next round.
        wake_at = Some(now);
    }
    let queued = !queue_ids.is_empty();
    if queued {
        // Sent together (the notification is delivered at the commit either way).
        let (written, notified) = futures_util::future::join(
            instances::queue_tasks(tx, &queue_ids, &payloads, instance.priority, &retry_delays),
            instances::notify(tx, Channel::Task, notice),
        )
        .await;
        written?;
        notified?;
    }
    if !kills.is_empty() {
        instances::request_kill(tx, &kills).await?;
        instances::notify(tx, Channel::Control, "kill").await?;
        for action in &plan.actions {
            if let Action::Kill(i) = *action
                && compiled.dag.tasks[i].task_type == TaskType::SubProcess
                && !mapped::is_mapped(&compiled, i)
            {
                stop_child(tx, task_rows[i].id).await?;
            }
        }
    }
    for (i, decision) in decisions {
        let task_id = task_rows[i].id;
        match decision {
            Ok((taken, log)) => {
                let names: Vec<String> = taken
                    .iter()
                    .map(|&t| compiled.dag.tasks[t].name.clone())
                    .collect();
                master_tasks_store::set_branch(tx, task_id, &names, MASTER_HOST).await?;
                master_tasks_store::append_log(tx, task_id, &log).await?;
            }
            Err(message) => {
                fail_on_master(tx, task_id, &message).await?;
                wake_at = Some(now);
            }
        }
    }
    for action in &plan.actions {
        match action {
            Action::Branch { task, taken } => {
                let names: Vec<String> = taken
                    .iter()
                    .map(|&t| compiled.dag.tasks[t].name.clone())
                    .collect();
                let took_success = match &compiled.dag.tasks[*task].branch {
                    dag::Branch::Conditions { success, .. } => *taken == *success,
                    _ => true,
                };
                let log = format!(
                    "[pgdag] upstream {}: taking the {} branch [{}]\n",
                    if took_success {
                        "did not fail"
                    } else {
                        "failed"
                    },
                    if took_success { "success" } else { "failure" },
                    names.join(", ")
                );
                master_tasks_store::set_branch(tx, task_rows[*task].id, &names, MASTER_HOST)
                    .await?;
                master_tasks_store::append_log(tx, task_rows[*task].id, &log).await?;
            }
            Action::StartOnMaster(i) => {
                if let Some(at) =
                    start_on_master(tx, cache, &compiled, instance, &task_rows, &outs, *i).await?
                {
                    wake_at = Some(wake_at.map_or(at, |w: DateTime<Utc>| w.min(at)));
                }
            }
            _ => {}
        }
    }
    if let Some(state) = finish {
        // Seen outside at once: `run --wait`, alerts, triggered runs.
        instances::commit_durably(tx).await?;
        instances::finish(tx, instance.id, state).await?;
        if let Some(group) = notify_group(compiled.version.spec.notify.as_ref(), state) {
            crate::store::alerts::instance_end(tx, instance.id, group).await?;
        }
        master_tasks::child_finished(tx, instance, state).await?;
        // Under this instance's lock: its end starts each triggered run exactly once.
        crate::store::triggers::fire(
            tx,
            instance.id,
            &compiled.version.project,
            &compiled.version.spec.name,
            state,
        )
        .await?;
        if let Some(backfill) = instance.backfill_id {
            if compiled.version.spec.max_active_runs.is_some() {
                // Lock order: the definition, then the backfill (as hand_over_turn does).
                instances::lock_definition(tx, compiled.version.code).await?;
            }
            backfill_progress(tx, backfill, &compiled).await?;
        }
        if instance.backfill_id.is_none() || compiled.version.spec.max_active_runs.is_some() {
            // With max_active_runs a backfill's end frees a slot for the others too.
            hand_over_turn(tx, &compiled).await?;
        }
    } else if let Some(at) = wake_at {
        // Due now (the rest of a wide fan-out, a mapped task's items): announced, for this
        // may be a command consumer's transaction, which no evaluator waits on; a start of
        // 2,000 `sql` tasks waited for its first attempts to end (30–80 ms) before its next
        // 256 were queued. Sent together, delivered at the commit.
        let announce = async {
            if at <= now {
                instances::notify(tx, Channel::Eval, "").await
            } else {
                Ok(())
            }
        };
        let (inserted, notified) = futures_util::future::join(
            instances::insert_event(tx, instance.id, Some(at)),
            announce,
        )
        .await;
        inserted?;
        notified?;
        return Ok(Evaluated {
            left: Some(at),
            queued,
        });
    }
    Ok(Evaluated { left: None, queued })
}

/// What one evaluation writes, gathered so that each kind is one statement: attempts to
/// queue with their payloads, state changes, and the earliest time to evaluate again.
#[derive(Default)]
struct Batch {
    queue_ids: Vec<i64>,
    payloads: Vec<serde_json::Value>,
    retry_delays: Vec<Option<i64>>,
    state_ids: Vec<i64>,
    states: Vec<&'static str>,
    waits: Vec<Option<DateTime<Utc>>>,
    errors: Vec<Option<String>>,
    wake_at: Option<DateTime<Utc>>,
}

impl Batch {
    /// Task instance `id` goes to `state`; evaluate again by `wake` at the latest.
    fn set(
        &mut self,
        id: i64,
        state: TaskState,
        wait: Option<DateTime<Utc>>,
        error: Option<String>,
        wake: impl Into<Option<DateTime<Utc>>>,
    ) {
        self.state_ids.push(id);
        self.states.push(state.as_str());
        self.waits.push(wait);
        self.errors.push(error);
        if let Some(at) = wake.into() {
            self.wake(at);
        }
    }

    fn wake(&mut self, at: DateTime<Utc>) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }
}

/// The wait before the next attempt should the attempt queued now (after `attempt` earlier
/// ones) fail, for a task with `retry_backoff: exponential`: decided (and jittered) now and
/// stored with the attempt, so the worker's completion only adds it. None: the task's fixed
/// `retry_interval`.
fn retry_delay(compiled: &Compiled, i: usize, attempt: i32) -> Option<i64> {
    let task = &compiled.version.spec.tasks[i];
    if task.retry_backoff == crate::model::RetryBackoff::Fixed || task.retries == 0 {
        return None;
    }
    let k = u32::try_from(attempt).unwrap_or(0).saturating_add(1);
    let delay = crate::model::retry_delay_ms(
        task.retry_backoff,
        task.retry_interval.map_or(0, |d| d.millis),
        task.retry_max_interval.map(|d| d.millis),
        k,
        fastrand::f64(),
    );
    Some(i64::try_from(delay).unwrap_or(i64::MAX))
}

/// The group to alert when an instance ends in `state`, as the workflow's `notify` says:
/// `success` for succeeded, `failure` for failed, `always` for those and stopped. A pause
/// is not an end.
pub fn notify_group(
    notify: Option<&crate::spec::NotifySpec>,
    state: WorkflowState,
) -> Option<&str> {
    use crate::spec::NotifyWhen;
    let notify = notify?;
    let wanted = match notify.when {
        NotifyWhen::None => false,
        NotifyWhen::Success => state == WorkflowState::Succeeded,
        NotifyWhen::Failure => state == WorkflowState::Failed,
        NotifyWhen::Always => matches!(
            state,
            WorkflowState::Succeeded | WorkflowState::Failed | WorkflowState::Stopped
        ),
    };
    if wanted {
        notify.group.as_deref()
    } else {
        None
    }
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

/// Serial execution types and `max_active_runs`: when an instance of the workflow ends,
/// the instance whose turn is next (FIFO; by priority first for `serial_priority`) is
/// handed an evaluation event. It is admitted in its own evaluation (`admit`), so this
/// transaction never evaluates another instance. With `max_active_runs`, when no instance
/// waits outside a backfill, a backfill of the workflow with waiting dates goes on.
async fn hand_over_turn(tx: &impl Conn, compiled: &Compiled) -> Result<()> {
    let Some(limit) = compiled.version.spec.active_limit() else {
        return Ok(());
    };
    let code = compiled.version.code;
    instances::lock_definition(tx, code).await?;
    if instances::active_count(tx, code).await? >= limit {
        return Ok(());
    }
    let by_priority =
        compiled.version.spec.execution == crate::model::ExecutionType::SerialPriority;
    if let Some(next) = instances::first_waiting(tx, code, by_priority).await? {
        instances::insert_event(tx, next, None).await?;
        instances::notify(tx, Channel::Eval, "").await?;
    } else if compiled.version.spec.max_active_runs.is_some()
        && let Some(backfill) = instances::first_waiting_backfill(tx, code).await?
    {
        backfill_progress(tx, backfill, compiled).await?;
    }
    Ok(())
}

/// Whether a waiting instance may start now, decided under the definition's row lock like
/// every start: fewer than the workflow's limit are active (1 for serial types), no start
/// submitted before it is still a command (another consumer or master may hold it), and
/// it is first in line. A later instance found first in line gets the turn handed on.
/// Admitted, it becomes `running` with its start time taken now, and when slots remain the
/// next in line is woken too.
async fn admit(tx: &impl Conn, compiled: &Compiled, id: i64) -> Result<bool> {
    let Some(limit) = compiled.version.spec.active_limit() else {
        return Ok(false);
    };
    let code = compiled.version.code;
    instances::lock_definition(tx, code).await?;
    let active = instances::active_count(tx, code).await?;
    if active >= limit || instances::ahead_in_line(tx, code, id, false).await? {
        return Ok(false);
    }
    let by_priority =
        compiled.version.spec.execution == crate::model::ExecutionType::SerialPriority;
    match instances::first_waiting(tx, code, by_priority).await? {
        Some(first) if first == id => {
            instances::control_state(tx, id, WorkflowState::Running, true).await?;
            if active + 1 < limit {
                super::start::wake_next(tx, code).await?;
            }
            Ok(true)
        }
        Some(first) => {
            instances::insert_event(tx, first, None).await?;
            instances::notify(tx, Channel::Eval, "").await?;
            Ok(false)
        }
        None => Ok(false),
    }
}

/// A backfill instance ended: stop the rest after a failure when `stop_on_failure`, else
/// start waiting dates up to the parallelism (each is evaluated in a transaction of its
/// own, woken by an event); mark the backfill done when nothing is left.
async fn backfill_progress(tx: &impl Conn, id: i64, compiled: &Compiled) -> Result<()> {
    use crate::store::backfills;
    let backfill = backfills::lock(tx, id).await?;
    // `max_active_runs` bounds the backfill too, counting every active run of the workflow.
    let max_active = compiled.version.spec.max_active_runs.map(i64::from);
    let code = compiled.version.code;
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
            if let Some(max) = max_active
                && instances::active_count(tx, code).await? >= max
            {
                break;
            }
            let Some(next) = backfills::next_waiting(tx, id).await? else {
                break;
            };
            instances::control_state(tx, next, crate::model::WorkflowState::Running, true).await?;
            instances::insert_event(tx, next, None).await?;
            instances::notify(tx, Channel::Eval, "").await?;
        }
    }
    let (open, failed, _) = backfills::summary(tx, id).await?;
    if open == 0 {
        backfills::set_state(tx, id, if failed > 0 { "failed" } else { "succeeded" }).await?;
    }
    Ok(())
}

/// Every parameter of task `i` resolved: global, startup, upstream out params, local.
fn resolve_params(
    compiled: &Compiled,
    instance: &InstanceRow,
    rows: &[&TaskRow],
    outs: &HashMap<i64, serde_json::Value>,
    i: usize,
) -> Result<ParamMap, String> {
    resolve_params_for(compiled, instance, rows, outs, i, (rows[i].id, &[]))
}

/// [`resolve_params`] for task instance `id` of task `i` (an item of a mapped task), with
/// `extra` params (the item's) laid over the upstream out params.
fn resolve_params_for(
    compiled: &Compiled,
    instance: &InstanceRow,
    rows: &[&TaskRow],
    outs: &HashMap<i64, serde_json::Value>,
    i: usize,
    (id, extra): (i64, &[(String, String)]),
) -> Result<ParamMap, String> {
    let spec = &compiled.version.spec;
    let task = &spec.tasks[i];
    let mut ctx = run_context(compiled, instance, rows, i);
    ctx.task_instance_id = id;
    let startup = params::json_to_params(&instance.params);
    let mut upstream = ParamMap::new();
    for &a in &compiled.ancestors[i] {
        if let Some(out) = outs.get(&rows[a].id) {
            upstream.extend(params::json_to_params(out));
        }
    }
    upstream.extend(extra.iter().cloned());
    // The project's variables as `var.NAME`, under the workflow's own params (a workflow
    // param named `var.NAME` wins).
    let mut global: ParamMap = instance
        .variables
        .iter()
        .map(|(k, v)| (format!("var.{k}"), v.clone()))
        .collect();
    global.extend(spec.params.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut resolved = params::resolve(&ctx, &global, &startup, &upstream, &task.params)
        .map_err(|e| e.to_string())?;
    if !extra.is_empty()
        && let Some(expr) = &task.foreach
    {
        // An item sees its element, not the whole list: 10,000 payloads must not each
        // carry a 10,000-element param.
        for name in dag::mapped::list_params(expr) {
            resolved.remove(&name);
        }
    }
    Ok(resolved)
}

fn run_context(
    compiled: &Compiled,
    instance: &InstanceRow,
    rows: &[&TaskRow],
    i: usize,
) -> RunContext {
    RunContext {
        schedule_time: instance
            .schedule_time
            .or(instance.started_at)
            .unwrap_or(instance.db_now),
        timezone: compiled.timezone,
        project: compiled.version.project.clone(),
        workflow: compiled.version.spec.name.clone(),
        workflow_instance_id: instance.id,
        task_instance_id: rows[i].id,
    }
}

/// What the worker runs as task instance `id` of task `i` (its own row, or an item with
/// its `extra` params): the task's spec with its parameters resolved and the strings of
/// its type's expanded keys expanded. An `Err` is a parameter error, reported on the task.
fn payload(
    compiled: &Compiled,
    instance: &InstanceRow,
    rows: &[&TaskRow],
    outs: &HashMap<i64, serde_json::Value>,
    i: usize,
    (id, extra): (i64, &[(String, String)]),
    tenant: Option<&crate::store::tenants::Tenant>,
) -> Result<serde_json::Value, String> {
    let resolved = resolve_params_for(compiled, instance, rows, outs, i, (id, extra))?;
    let mut ctx = run_context(compiled, instance, rows, i);
    ctx.task_instance_id = id;
    // A fresh nonce per payload marks the `${secret.NAME}` the task itself writes.
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut value = crate::tasks::expand::expanded_task(
        &compiled.version.spec,
        i,
        &resolved,
        &ctx,
        Some(&nonce),
    )?;
    // The worker reads the params only to export them as `PGDAG_PARAM_<NAME>`, which only
    // names of letters, digits and `_` can be: every `${...}` in the task's keys is
    // expanded above. The rest (the built-in `system.*`, `var.*`) were 250 of a `sql`
    // task's 350 payload bytes, parsed at each queueing, copied into each of an attempt's
    // three task row versions and sent back with its claim.
    let exported: ParamMap = resolved
        .into_iter()
        .filter(|(name, _)| crate::tasks::env::is_env_name(name))
        .collect();
    value["params"] = serde_json::to_value(&exported).map_err(|e| e.to_string())?;
    value["project"] = serde_json::Value::String(compiled.version.project.clone());
    if let Some(t) = tenant {
        value["tenant"] = serde_json::json!({ "name": t.name, "os_user": t.os_user });
    }
    Ok(value)
}

/// Out params of the succeeded ancestors of `tasks`, by task instance id.
async fn ancestor_outs(
    tx: &impl Conn,
    compiled: &Compiled,
    rows: &[&TaskRow],
    views: &[TaskView],
    tasks: &[usize],
) -> Result<HashMap<i64, serde_json::Value>> {
    let mut wanted = Vec::new();
    for &i in tasks {
        for &a in &compiled.ancestors[i] {
            if views[a].state.is_success() {
                wanted.push(rows[a].id);
            }
        }
    }
    wanted.sort_unstable();
    wanted.dedup();
    instances::out_params(tx, &wanted).await
}

/// The `host` of tasks the master carries out.
const MASTER_HOST: &str = "master";

async fn fail_on_master(tx: &impl Conn, task_id: i64, message: &str) -> Result<()> {
    instances::set_states(
        tx,
        &[task_id],
        &[TaskState::Failed.as_str()],
        &[None],
        &[Some(message.to_string())],
    )
    .await?;
    master_tasks_store::append_log(tx, task_id, &format!("[pgdag] failed: {message}\n")).await
}

/// A running sub_process task is killed by stopping its child; the child's end kills the task.
async fn stop_child(tx: &impl Conn, task_id: i64) -> Result<()> {
    match master_tasks_store::child_of(tx, task_id).await? {
        Some((child, state)) if !state.is_final() => {
            crate::store::commands::insert(
                tx,
                crate::store::commands::SYSTEM_ACTOR,
                crate::model::CommandType::Stop,
                None,
                None,
                &serde_json::json!({}),
                &serde_json::json!({}),
                Some(child),
            )
            .await?;
            master_tasks_store::append_log(
                tx,
                task_id,
                &format!("[pgdag] stopping child instance {child}\n"),
            )
            .await
        }
        _ => {
            master_tasks_store::end_task(
                tx,
                task_id,
                TaskState::Killed,
                Some("killed"),
                &serde_json::json!({}),
            )
            .await?;
            Ok(())
        }
    }
}

/// Starts a sub_process or checks a dependent task; returns when to evaluate again.
async fn start_on_master(
    tx: &impl Conn,
    cache: &Cache,
    compiled: &Compiled,
    instance: &InstanceRow,
    rows: &[&TaskRow],
    outs: &HashMap<i64, serde_json::Value>,
    i: usize,
) -> Result<Option<DateTime<Utc>>> {
    let task = &compiled.version.spec.tasks[i];
    let task_id = rows[i].id;
    let now = instance.db_now;
    let (attempt, started_at) = master_tasks_store::start(tx, task_id, MASTER_HOST).await?;
    match &task.kind {
        TaskKind::SubProcess(sub) => {
            let params = match resolve_params(compiled, instance, rows, outs, i) {
                Ok(all) => {
                    // The child gets the run's startup params and the task's own params.
                    let startup = params::json_to_params(&instance.params);
                    all.into_iter()
                        .filter(|(k, _)| task.params.contains_key(k) || startup.contains_key(k))
                        .collect::<ParamMap>()
                }
                Err(message) => {
                    fail_on_master(tx, task_id, &message).await?;
                    return Ok(Some(now));
                }
            };
            master_tasks_store::append_log(
                tx,
                task_id,
                &format!(
                    "[pgdag] attempt {attempt} of task {} on the master\n",
                    task.name
                ),
            )
            .await?;
            match master_tasks::start_sub_process(
                tx,
                cache,
                compiled,
                instance,
                task_id,
                &sub.workflow,
                &params,
            )
            .await?
            {
                Ok(child) => {
                    master_tasks_store::append_log(
                        tx,
                        task_id,
                        &format!(
                            "[pgdag] started child instance {child} of {}\n",
                            sub.workflow
                        ),
                    )
                    .await?;
                    Ok(None)
                }
                Err(message) => {
                    fail_on_master(tx, task_id, &message).await?;
                    Ok(Some(now))
                }
            }
        }
        TaskKind::Dependent(dependent) => {
            let last = master_tasks_store::explanation(tx, task_id).await?;
            let outcome = master_tasks::check_dependent(
                tx,
                compiled,
                instance,
                task_id,
                started_at,
                dependent,
                last.as_deref(),
            )
            .await?;
            match outcome {
                master_tasks::DependentOutcome::Succeeded => {
                    master_tasks_store::end_task(
                        tx,
                        task_id,
                        TaskState::Succeeded,
                        None,
                        &serde_json::json!({}),
                    )
                    .await?;
                    Ok(Some(now))
                }
                master_tasks::DependentOutcome::Failed(why) => {
                    master_tasks_store::end_task(
                        tx,
                        task_id,
                        TaskState::Failed,
                        Some(&why),
                        &serde_json::json!({}),
                    )
                    .await?;
                    let found = master_tasks_store::explanation(tx, task_id)
                        .await?
                        .unwrap_or_default();
                    instances::commit_durably(tx).await?;
                    crate::store::alerts::master_task_alert(
                        tx,
                        task_id,
                        "dependent_failed",
                        &why,
                        &found,
                    )
                    .await?;
                    Ok(Some(now))
                }
                master_tasks::DependentOutcome::WaitUntil(at) => {
                    instances::set_states(
                        tx,
                        &[task_id],
                        &[TaskState::Waiting.as_str()],
                        &[Some(at)],
                        &[None],
                    )
                    .await?;
                    Ok(Some(at))
                }
            }
        }
        other => {
            let message = format!("{} tasks are not started on the master", other.task_type());
            fail_on_master(tx, task_id, &message).await?;
            Ok(Some(now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{NotifySpec, NotifyWhen};

    #[test]
    fn notify_when_decides_which_ends_alert() {
        let spec = |when| NotifySpec {
            when,
            group: Some("oncall".into()),
        };
        let cases = [
            (NotifyWhen::Failure, WorkflowState::Failed, true),
            (NotifyWhen::Failure, WorkflowState::Succeeded, false),
            (NotifyWhen::Failure, WorkflowState::Stopped, false),
            (NotifyWhen::Success, WorkflowState::Succeeded, true),
            (NotifyWhen::Success, WorkflowState::Failed, false),
            (NotifyWhen::Always, WorkflowState::Stopped, true),
            (NotifyWhen::Always, WorkflowState::Failed, true),
            (NotifyWhen::Always, WorkflowState::Paused, false),
            (NotifyWhen::None, WorkflowState::Failed, false),
        ];
        for (when, state, alerts) in cases {
            let s = spec(when);
            assert_eq!(
                notify_group(Some(&s), state).is_some(),
                alerts,
                "{when} {state}"
            );
        }
        assert_eq!(notify_group(None, WorkflowState::Failed), None);
    }

    #[test]
    fn a_round_queues_few_until_attempts_are_in_flight_then_four_times_as_many() {
        assert_eq!(round_limit(0), QUEUE_PER_ROUND);
        assert_eq!(round_limit(10), QUEUE_PER_ROUND);
        assert_eq!(round_limit(256), 1_024);
        assert_eq!(round_limit(1_280), QUEUE_MOST_PER_ROUND);
        assert_eq!(round_limit(usize::MAX), QUEUE_MOST_PER_ROUND);
    }
}

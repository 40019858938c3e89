//! The master-side task types carried out inside an evaluation (see `crate::tasks` for
//! their checks): deciding a `switch`, starting a `sub_process` child and ending the parent
//! task when the child ends, and checking a `dependent` task's windows. All writes happen in
//! the evaluator's transaction under the instance's row lock, and every decision leaves a
//! line in the task's log saying why.

use crate::store::db::Conn;
use chrono::{DateTime, Utc};

use super::compiled::{Cache, Compiled};
use super::start::{self, StartRequest};
use crate::cron::window::{self, Interval, Window};
use crate::model::{Duration, TaskState, WorkflowState};
use crate::params::ParamMap;
use crate::spec::{
    DependentEntry, DependentFailure, DependentItem, DependentOp, DependentTask, DependentWindow,
    split_workflow_ref,
};
use crate::store::instances::InstanceRow;
use crate::store::{Result, StoreError, definitions, master_tasks};

/// How deep sub-processes may nest (a guard against workflows that start each other).
pub const MAX_SUB_PROCESS_DEPTH: i32 = 100;
/// Time between checks of a dependent task without `check_interval`.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration { millis: 10_000 };
/// How long a dependent task waits without `wait_limit`.
pub const DEFAULT_WAIT_LIMIT: Duration = Duration {
    millis: 7 * 24 * 3600 * 1000,
};

/// The successor task indexes a switch takes and the log text saying why, or why it
/// could not decide.
pub type SwitchDecision = Result<(Vec<usize>, String), String>;

/// The successors a switch takes: the first case whose expression holds, else the default
/// (none when there is no default). Returns the taken task indexes and the log text.
pub fn decide_switch(compiled: &Compiled, i: usize, params: &ParamMap) -> SwitchDecision {
    let switch = compiled
        .switches
        .get(&i)
        .ok_or_else(|| "switch task has no cases".to_string())?;
    let lookup = |name: &str| params.get(name).cloned();
    let mut log = String::new();
    for (expr, text, target) in &switch.cases {
        let holds = expr
            .eval(&lookup)
            .map_err(|e| format!("case `{text}`: {e}"))?;
        log.push_str(&format!("[pgdag] case `{text}`: {holds}\n"));
        if holds {
            let name = &compiled.dag.tasks[*target].name;
            log.push_str(&format!("[pgdag] taking {name}\n"));
            return Ok((vec![*target], log));
        }
    }
    match switch.default {
        Some(d) => {
            log.push_str(&format!(
                "[pgdag] no case holds: taking the default {}\n",
                compiled.dag.tasks[d].name
            ));
            Ok((vec![d], log))
        }
        None => {
            log.push_str("[pgdag] no case holds and there is no default: no branch runs\n");
            Ok((Vec::new(), log))
        }
    }
}

/// Starts the child instance of a sub_process task. An `Err(message)` fails the task (the
/// target is missing or offline, or the nesting is too deep); database errors propagate.
#[allow(clippy::too_many_arguments)]
pub async fn start_sub_process(
    tx: &impl Conn,
    cache: &Cache,
    compiled: &Compiled,
    instance: &InstanceRow,
    task_id: i64,
    target: &str,
    params: &ParamMap,
) -> Result<std::result::Result<i64, String>> {
    let (project, workflow) = split_workflow_ref(target);
    let project = project.unwrap_or(&compiled.version.project);
    let depth = master_tasks::depth(tx, instance.id).await?;
    if depth + 1 > MAX_SUB_PROCESS_DEPTH {
        return Ok(Err(format!(
            "sub_process nesting is deeper than {MAX_SUB_PROCESS_DEPTH} levels (do workflows start each other?)"
        )));
    }
    match start::startable(tx, project, workflow).await {
        Ok(_) => {}
        Err(StoreError::Invalid(message)) => return Ok(Err(message)),
        Err(e) => return Err(e),
    }
    let id = crate::store::instances::allocate_id(tx).await?;
    let params = serde_json::to_value(params).unwrap_or_default();
    let options = serde_json::json!({
        "schedule_time": instance.schedule_time.map(|t| t.to_rfc3339()),
    });
    let host = instance.host.clone().unwrap_or_default();
    let state = start::create_instance(
        tx,
        cache,
        &StartRequest {
            project,
            workflow,
            params: &params,
            options: &options,
            instance_id: id,
            command_type: "start",
            host: &host,
            parent: Some((instance.id, task_id)),
            now: Some(instance.db_now),
        },
    )
    .await?;
    if state == WorkflowState::Running {
        // The child is evaluated in a transaction of its own: this one belongs to the parent.
        crate::store::instances::insert_event(tx, id, None).await?;
        crate::store::instances::notify(tx, crate::store::Channel::Eval, "").await?;
    }
    Ok(Ok(id))
}

/// A child instance ended: its sub_process task ends the same way (stopped → killed), with
/// the child's out params, and the parent instance is evaluated again.
pub async fn child_finished(
    tx: &impl Conn,
    instance: &InstanceRow,
    state: WorkflowState,
) -> Result<()> {
    let Some(task_id) = instance.parent_task_instance_id else {
        return Ok(());
    };
    let (task_state, error) = match state {
        WorkflowState::Succeeded => (TaskState::Succeeded, None),
        WorkflowState::Paused => (TaskState::Paused, None),
        WorkflowState::Stopped => (
            TaskState::Killed,
            Some(format!("child instance {} was stopped", instance.id)),
        ),
        _ => (
            TaskState::Failed,
            Some(format!("child instance {} {state}", instance.id)),
        ),
    };
    let outs = if task_state == TaskState::Succeeded {
        master_tasks::child_outs(tx, instance.id).await?
    } else {
        serde_json::json!({})
    };
    if master_tasks::end_task(tx, task_id, task_state, error.as_deref(), &outs).await? {
        master_tasks::append_log(
            tx,
            task_id,
            &format!(
                "[pgdag] child instance {} ended {state}\n[pgdag] {task_state}\n",
                instance.id
            ),
        )
        .await?;
    }
    if let Some(parent) = instance.parent_instance_id {
        crate::store::instances::insert_event(tx, parent, None).await?;
        // A child can end outside the evaluator's loop (in the transaction of a start or
        // control command); without a wake-up its parent would wait for the next poll.
        // Postgres sends one notification per channel and payload per transaction.
        crate::store::instances::notify(tx, crate::store::Channel::Eval, "").await?;
    }
    Ok(())
}

/// What one dependent check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Satisfied,
    Waiting,
    Failed,
}

/// What was found for one interval of one item.
#[derive(Debug, Clone)]
pub struct IntervalFinding {
    pub label: String,
    pub verdict: Verdict,
    pub why: String,
}

/// Judges one interval from the newest instance found in it (pure).
pub fn judge_interval(
    item: &DependentItem,
    found: Option<&master_tasks::Found>,
) -> (Verdict, String) {
    let Some(found) = found else {
        return (Verdict::Waiting, "no instance yet".into());
    };
    let id = found.instance_id;
    let instance_final = matches!(
        found.instance_state.as_str(),
        "succeeded" | "failed" | "stopped"
    );
    match &item.task {
        None => match found.instance_state.as_str() {
            "succeeded" => (Verdict::Satisfied, format!("instance {id} succeeded")),
            "failed" | "stopped" => (
                Verdict::Failed,
                format!("instance {id} {}", found.instance_state),
            ),
            other => (Verdict::Waiting, format!("instance {id} is {other}")),
        },
        Some(task) => match found.task_state.as_deref() {
            Some("succeeded" | "forced_success") => (
                Verdict::Satisfied,
                format!("task {task} of instance {id} succeeded"),
            ),
            Some(state @ ("failed" | "killed")) => (
                Verdict::Failed,
                format!("task {task} of instance {id} {state}"),
            ),
            Some(state) if instance_final => (
                Verdict::Failed,
                format!(
                    "task {task} of instance {id} is {state} and its instance ended {}",
                    found.instance_state
                ),
            ),
            Some(state) => (
                Verdict::Waiting,
                format!("task {task} of instance {id} is {state}"),
            ),
            None => (
                if instance_final {
                    Verdict::Failed
                } else {
                    Verdict::Waiting
                },
                format!(
                    "instance {id} ({}) has no task {task}",
                    found.instance_state
                ),
            ),
        },
    }
}

/// Every interval must be satisfied; a failure decides over waiting.
pub fn all_intervals(findings: &[IntervalFinding]) -> Verdict {
    combine(DependentOp::All, findings.iter().map(|f| f.verdict))
}

/// `all`: failed if any failed, else waiting if any waits; `any`: satisfied if any is, else
/// waiting if any waits, else failed.
pub fn combine(op: DependentOp, verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    let verdicts: Vec<Verdict> = verdicts.into_iter().collect();
    let has = |v: Verdict| verdicts.contains(&v);
    match op {
        DependentOp::All if has(Verdict::Failed) => Verdict::Failed,
        DependentOp::All if has(Verdict::Waiting) => Verdict::Waiting,
        DependentOp::All => Verdict::Satisfied,
        DependentOp::Any if has(Verdict::Satisfied) => Verdict::Satisfied,
        DependentOp::Any if has(Verdict::Waiting) => Verdict::Waiting,
        DependentOp::Any => Verdict::Failed,
    }
}

pub fn window_of(w: DependentWindow) -> Window {
    use DependentWindow as D;
    match w {
        D::Today => Window::Today,
        D::Last1Days => Window::Last1Days,
        D::Last2Days => Window::Last2Days,
        D::Last3Days => Window::Last3Days,
        D::Last4Days => Window::Last4Days,
        D::Last5Days => Window::Last5Days,
        D::Last6Days => Window::Last6Days,
        D::Last7Days => Window::Last7Days,
        D::ThisWeek => Window::ThisWeek,
        D::LastWeek => Window::LastWeek,
        D::ThisMonth => Window::ThisMonth,
        D::LastMonth => Window::LastMonth,
        D::LastMonthBegin => Window::LastMonthBegin,
        D::LastMonthEnd => Window::LastMonthEnd,
        D::LastMonday => Window::LastMonday,
        D::LastTuesday => Window::LastTuesday,
        D::LastWednesday => Window::LastWednesday,
        D::LastThursday => Window::LastThursday,
        D::LastFriday => Window::LastFriday,
        D::LastSaturday => Window::LastSaturday,
        D::LastSunday => Window::LastSunday,
        D::CurrentHour => Window::CurrentHour,
        D::Last1Hour => Window::Last1Hour,
        D::Last2Hours => Window::Last2Hours,
        D::Last3Hours => Window::Last3Hours,
        D::Last24Hours => Window::Last24Hours,
    }
}

/// The outcome of one check of a dependent task.
pub enum DependentOutcome {
    Succeeded,
    Failed(String),
    /// Check again at this time.
    WaitUntil(DateTime<Utc>),
}

/// Checks a dependent task: every item's intervals against the newest instance in each,
/// combined by `all`/`any` at both levels. Logs the explanation when it changed since the
/// last check (and always when the task ends).
pub async fn check_dependent(
    tx: &impl Conn,
    compiled: &Compiled,
    instance: &InstanceRow,
    task_id: i64,
    started_at: DateTime<Utc>,
    dependent: &DependentTask,
    last_explanation: Option<&str>,
) -> Result<DependentOutcome> {
    let now = instance.db_now;
    let base = instance.schedule_time.unwrap_or(now);
    let tz = compiled.timezone;
    let project = &compiled.version.project;
    let mut text = format!(
        "[pgdag] dependent check, base time {}\n",
        base.with_timezone(&tz)
    );

    let mut top = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for entry in &dependent.items {
        let verdict = match entry {
            DependentEntry::Item(item) => {
                check_item(
                    tx,
                    instance,
                    project,
                    item,
                    base,
                    tz,
                    "",
                    &mut text,
                    &mut missing,
                )
                .await?
            }
            DependentEntry::Group { op, items } => {
                text.push_str(&format!("  {} of:\n", op_word(*op)));
                let mut verdicts = Vec::new();
                for item in items {
                    verdicts.push(
                        check_item(
                            tx,
                            instance,
                            project,
                            item,
                            base,
                            tz,
                            "  ",
                            &mut text,
                            &mut missing,
                        )
                        .await?,
                    );
                }
                let v = combine(*op, verdicts);
                text.push_str(&format!("  => {}\n", verdict_word(v)));
                v
            }
        };
        top.push(verdict);
    }
    let verdict = combine(dependent.op, top);
    text.push_str(&format!(
        "[pgdag] {} of the above: {}\n",
        op_word(dependent.op),
        verdict_word(verdict)
    ));

    let limit = dependent.wait_limit.unwrap_or(DEFAULT_WAIT_LIMIT);
    let waited = now - started_at;
    let outcome = match verdict {
        Verdict::Satisfied => DependentOutcome::Succeeded,
        // Whatever `failure` says: an instance of a deleted workflow will never come.
        _ if !missing.is_empty() => DependentOutcome::Failed(format!(
            "workflow {} does not exist (deleted?)",
            missing.join(", ")
        )),
        Verdict::Failed if dependent.failure == DependentFailure::Fail => {
            DependentOutcome::Failed("a dependency failed (failure: fail)".into())
        }
        _ if waited >= limit.as_chrono() => DependentOutcome::Failed(format!(
            "gave up after waiting {limit} (wait_limit) for its dependencies"
        )),
        _ => {
            let interval = dependent.check_interval.unwrap_or(DEFAULT_CHECK_INTERVAL);
            DependentOutcome::WaitUntil(now + interval.as_chrono())
        }
    };
    let changed = last_explanation != Some(text.as_str());
    match &outcome {
        DependentOutcome::Succeeded => {
            text.push_str("[pgdag] dependencies met\n");
            master_tasks::append_log(tx, task_id, &text).await?;
        }
        DependentOutcome::Failed(why) => {
            text.push_str(&format!("[pgdag] failed: {why}\n"));
            master_tasks::append_log(tx, task_id, &text).await?;
        }
        DependentOutcome::WaitUntil(at) => {
            if changed {
                let mut logged = text.clone();
                logged.push_str(&format!(
                    "[pgdag] waiting; checking again every {} (until {} at the latest)\n",
                    dependent.check_interval.unwrap_or(DEFAULT_CHECK_INTERVAL),
                    (started_at + limit.as_chrono()).with_timezone(&tz)
                ));
                master_tasks::append_log(tx, task_id, &logged).await?;
            }
            let _ = at;
        }
    }
    master_tasks::set_explanation(tx, task_id, &text).await?;
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
async fn check_item(
    tx: &impl Conn,
    instance: &InstanceRow,
    project: &str,
    item: &DependentItem,
    base: DateTime<Utc>,
    tz: chrono_tz::Tz,
    indent: &str,
    text: &mut String,
    missing: &mut Vec<String>,
) -> Result<Verdict> {
    let (p, w) = split_workflow_ref(&item.workflow);
    let p = p.unwrap_or(project);
    let code = definitions::workflow_code(p, w);
    let what = match &item.task {
        Some(t) => format!("{p}/{w} task {t}"),
        None => format!("{p}/{w}"),
    };
    text.push_str(&format!("{indent}  {what}, window {}:\n", item.window));
    if !definitions::workflow_exists(tx, code).await? {
        // Deleted (or never applied): no instance will ever come, so waiting would hang.
        text.push_str(&format!(
            "{indent}    workflow {p}/{w} does not exist (deleted?) (failed)\n"
        ));
        missing.push(format!("{p}/{w}"));
        return Ok(Verdict::Failed);
    }
    let intervals: Vec<Interval> = window::intervals(window_of(item.window), base, tz);
    let mut findings = Vec::with_capacity(intervals.len());
    for interval in intervals {
        let found = master_tasks::latest_in_window(
            tx,
            code,
            interval.start,
            interval.end,
            instance.id,
            item.task.as_deref(),
        )
        .await?;
        let (verdict, why) = judge_interval(item, found.as_ref());
        let label = interval.label(tz);
        text.push_str(&format!(
            "{indent}    {label}: {why} ({})\n",
            verdict_word(verdict)
        ));
        findings.push(IntervalFinding {
            label,
            verdict,
            why,
        });
    }
    let verdict = all_intervals(&findings);
    Ok(verdict)
}

fn op_word(op: DependentOp) -> &'static str {
    match op {
        DependentOp::All => "all",
        DependentOp::Any => "any",
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Satisfied => "met",
        Verdict::Waiting => "waiting",
        Verdict::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(task: Option<&str>) -> DependentItem {
        DependentItem {
            workflow: "w".into(),
            task: task.map(str::to_string),
            window: DependentWindow::Today,
        }
    }

    fn found(state: &str, task: Option<&str>) -> master_tasks::Found {
        master_tasks::Found {
            instance_id: 7,
            instance_state: state.into(),
            task_state: task.map(str::to_string),
        }
    }

    #[test]
    fn no_instance_waits_and_states_decide() {
        assert_eq!(judge_interval(&item(None), None).0, Verdict::Waiting);
        assert_eq!(
            judge_interval(&item(None), Some(&found("succeeded", None))).0,
            Verdict::Satisfied
        );
        assert_eq!(
            judge_interval(&item(None), Some(&found("failed", None))).0,
            Verdict::Failed
        );
        assert_eq!(
            judge_interval(&item(None), Some(&found("running", None))).0,
            Verdict::Waiting
        );
    }

    #[test]
    fn task_items_look_at_the_task() {
        let t = item(Some("load"));
        assert_eq!(
            judge_interval(&t, Some(&found("running", Some("succeeded")))).0,
            Verdict::Satisfied
        );
        assert_eq!(
            judge_interval(&t, Some(&found("running", Some("running")))).0,
            Verdict::Waiting
        );
        assert_eq!(
            judge_interval(&t, Some(&found("failed", Some("skipped")))).0,
            Verdict::Failed
        );
        assert_eq!(
            judge_interval(&t, Some(&found("succeeded", None))).0,
            Verdict::Failed
        );
        assert_eq!(
            judge_interval(&t, Some(&found("running", None))).0,
            Verdict::Waiting
        );
    }

    #[test]
    fn all_and_any_combine_like_logic_with_waiting_in_between() {
        use Verdict::*;
        assert_eq!(combine(DependentOp::All, [Satisfied, Waiting]), Waiting);
        assert_eq!(combine(DependentOp::All, [Failed, Waiting]), Failed);
        assert_eq!(combine(DependentOp::All, [Satisfied, Satisfied]), Satisfied);
        assert_eq!(combine(DependentOp::Any, [Failed, Satisfied]), Satisfied);
        assert_eq!(combine(DependentOp::Any, [Failed, Waiting]), Waiting);
        assert_eq!(combine(DependentOp::Any, [Failed, Failed]), Failed);
        assert_eq!(combine(DependentOp::All, []), Satisfied);
    }
}

//! Instances: the filtered list, one instance (its DAG by state, a Gantt chart, the task
//! table and the control buttons) and a task's live log.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use warp::http::{Response, StatusCode};

use super::{Ctx, parse_id, redirect, render, workflow_href};
use crate::api::error::ApiError;
use crate::api::pages::{
    self, Action, Filter, InstanceLive, InstancePage, InstanceTable, InstancesPage, LogPage,
    StateCount, TaskLine,
};
use crate::api::{Reply, percent_encode};
use crate::model::{CommandType, TaskState, WorkflowState};
use crate::store::instances::{self, InstanceDetail, InstanceFilter, TaskDetail};
use crate::store::members::{Access, Owned};
use crate::store::{commands, definitions, logs};
use crate::tasks::usage::{show_cpu, show_memory};
use crate::view::svg;

/// Instances per page of the list.
const PAGE: i64 = 50;

pub(super) async fn list(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let q = ctx.request.query_map();
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let filter = Filter {
        project: get("project"),
        workflow: get("workflow"),
        state: get("state"),
        from: get("from"),
        to: get("to"),
    };
    let client = ctx.client().await?;
    if !filter.project.is_empty() {
        ctx.who
            .require_project(&client, &filter.project, Access::Read)
            .await?;
    }
    if !filter.state.is_empty() {
        filter
            .state
            .parse::<WorkflowState>()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let before = match q.get("before").filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => Some(parse_id(b)?),
    };
    let today = Utc::now().date_naive();
    let day = |text: &str, what: &str| -> Result<Option<NaiveDate>, ApiError> {
        match text {
            "" => Ok(None),
            "today" => Ok(Some(today)),
            t => NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    ApiError::bad_request(format!("{what} {t:?} is not a date (YYYY-MM-DD)"))
                }),
        }
    };
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let from = day(&filter.from, "from")?;
    let to = day(&filter.to, "to")?;
    let none_if_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let store_filter = InstanceFilter {
        project: none_if_empty(&filter.project),
        workflow: none_if_empty(&filter.workflow),
        state: none_if_empty(&filter.state),
        before_id: before,
        // One more than a page tells whether there is an older page.
        limit: PAGE + 1,
        viewer: ctx.who.viewer(),
        created_from: from.and_then(midnight),
        created_before: to.and_then(|d| d.succ_opt()).and_then(midnight),
    };
    let mut rows = instances::list(&client, &store_filter).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let now = Utc::now();
    let query = |before: Option<i64>| {
        let mut parts: Vec<String> = [
            ("project", &filter.project),
            ("workflow", &filter.workflow),
            ("state", &filter.state),
            ("from", &filter.from),
            ("to", &filter.to),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
        if let Some(b) = before {
            parts.push(format!("before={b}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    };
    let table = InstanceTable {
        older: more.then(|| query(rows.last().map(|r| r.id))),
        newest: before.map(|_| query(None)),
        refresh: before.is_none().then(|| {
            let q = query(None);
            if q.is_empty() {
                "/instances?partial=table".to_string()
            } else {
                format!("/instances{q}&partial=table")
            }
        }),
        rows: rows
            .iter()
            .map(|d| super::home::instance_row(d, now))
            .collect(),
    };
    if q.get("partial").map(String::as_str) == Some("table") {
        return render(&table);
    }
    let projects = definitions::list_projects(&client, ctx.who.viewer())
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    render(&InstancesPage {
        nav: ctx.nav("instances"),
        filter,
        projects,
        states: WorkflowState::ALL.iter().map(|s| s.as_str()).collect(),
        table,
    })
}

pub(super) async fn instance(ctx: &Ctx<'_>, id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(id)?;
    let client = ctx.client().await?;
    let project = ctx
        .who
        .require_owner(&client, Owned::Instance(id), Access::Read)
        .await?;
    let can_write = ctx.who.can_write(&client, &project).await?;
    let detail = instances::get(&client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("instance {id} does not exist")))?;
    let tasks = detail.tasks.clone().unwrap_or_default();
    let (spec, _) = definitions::get_spec(
        &client,
        &detail.project,
        &detail.workflow,
        Some(detail.version),
    )
    .await?
    .ok_or_else(|| {
        ApiError::not_found(format!(
            "workflow {}/{} has no version {}",
            detail.project, detail.workflow, detail.version
        ))
    })?;
    // A control command not carried out yet will change the state: keep refreshing.
    let pending = matches!(
        commands::state_for_instance(&client, id).await?,
        Some((state, _, _)) if state == "pending"
    );
    let mut live = live(ctx, &detail, &tasks, &spec, can_write);
    live.is_final &= !pending;
    if ctx.request.query_map().get("partial").map(String::as_str) == Some("live") {
        return render(&live);
    }
    render(&InstancePage {
        nav: ctx.nav("instances"),
        id,
        workflow_href: workflow_href(&detail.project, &detail.workflow),
        project: detail.project.clone(),
        workflow: detail.workflow.clone(),
        version: detail.version,
        command_type: detail.command_type.clone(),
        schedule_time: pages::time(detail.schedule_time),
        priority: detail.priority.clone(),
        params: detail.params.to_string(),
        parent_instance_id: detail.parent_instance_id,
        created_by: detail.created_by.clone().unwrap_or_default(),
        live,
    })
}

/// The changing part of the instance page.
fn live(
    ctx: &Ctx<'_>,
    detail: &InstanceDetail,
    tasks: &[TaskDetail],
    spec: &crate::spec::WorkflowSpec,
    can_write: bool,
) -> InstanceLive {
    let now = Utc::now();
    let state: Option<WorkflowState> = detail.state.parse().ok();
    // Paused counts as final here too: nothing changes until someone resumes it.
    let is_final = state.is_some_and(|s| s.is_final());
    let task_state = |t: &TaskDetail| t.state.parse::<TaskState>().ok();
    let done = tasks
        .iter()
        .filter(|t| task_state(t).is_some_and(|s| s.is_final()))
        .count();
    let mut counts: BTreeMap<usize, StateCount> = BTreeMap::new();
    for t in tasks {
        let rank = TaskState::ALL
            .iter()
            .position(|s| s.as_str() == t.state)
            .unwrap_or(usize::MAX);
        counts
            .entry(rank)
            .or_insert_with(|| StateCount {
                state: t.state.clone(),
                count: 0,
            })
            .count += 1;
    }
    let by_name: BTreeMap<&str, &TaskDetail> = tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let items = item_counts(tasks);
    let nodes: Vec<svg::DagNode> = spec
        .tasks
        .iter()
        .map(|t| {
            let found = by_name.get(t.name.as_str());
            svg::DagNode {
                name: t.name.clone(),
                // A mapped task is one node: its items' counts stand for its type.
                task_type: items
                    .get(t.name.as_str())
                    .map(ItemCounts::line)
                    .unwrap_or_else(|| t.task_type().as_str().to_string()),
                state: found.map(|d| d.state.clone()),
                href: found.map(|d| format!("/task-instances/{}/log", d.id)),
                title: found.map(|d| {
                    format!(
                        "attempt {}{}",
                        d.attempt,
                        d.host
                            .as_deref()
                            .map(|h| format!(" on {h}"))
                            .unwrap_or_default()
                    )
                }),
            }
        })
        .collect();
    let edges = super::workflows::dag_edges(spec);
    // The Gantt chart lists tasks in the order they started (unstarted ones last).
    let mut ordered: Vec<&TaskDetail> = tasks.iter().collect();
    ordered.sort_by_key(|t| (t.started_at.is_none(), t.started_at, t.id));
    let bars: Vec<svg::GanttBar> = ordered
        .iter()
        .map(|t| svg::GanttBar {
            name: t.name.clone(),
            state: t.state.clone(),
            start: t.started_at,
            end: t.ended_at,
            href: Some(format!("/task-instances/{}/log", t.id)),
        })
        .collect();
    let instance_busy = matches!(
        state,
        Some(WorkflowState::Pausing | WorkflowState::Stopping)
    );
    InstanceLive {
        id: detail.id,
        csrf: ctx.who.csrf_token().to_string(),
        state: detail.state.clone(),
        is_final,
        done,
        total: tasks.len(),
        percent: if tasks.is_empty() {
            0
        } else {
            done * 100 / tasks.len()
        },
        counts: counts.into_values().collect(),
        actions: state.map(actions).unwrap_or_default(),
        dag_svg: svg::dag_svg(&nodes, &edges),
        gantt_svg: svg::gantt_svg(&bars, now),
        tasks: tasks
            .iter()
            .map(|t| TaskLine {
                id: t.id,
                name: t.name.clone(),
                task_type: t.task_type.clone(),
                state: t.state.clone(),
                attempt: t.attempt,
                host: t.host.clone().unwrap_or_default(),
                started_at: pages::time(t.started_at),
                ended_at: pages::time(t.ended_at),
                duration: pages::duration(t.started_at, t.ended_at, now),
                exit_code: t.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                cpu_user: t
                    .cpu_user_ms
                    .map(|ms| show_cpu(Some(ms)))
                    .unwrap_or_default(),
                cpu_system: t
                    .cpu_system_ms
                    .map(|ms| show_cpu(Some(ms)))
                    .unwrap_or_default(),
                max_rss: t
                    .max_rss_kib
                    .map(|k| show_memory(Some(k)))
                    .unwrap_or_default(),
                error: t.error.clone().unwrap_or_default(),
                child_instance_id: t.child_instance_id,
                can_force: !instance_busy
                    && matches!(task_state(t), Some(TaskState::Failed | TaskState::Killed)),
                can_retry: match (state, task_state(t)) {
                    (Some(instance), Some(task)) => {
                        crate::model::retry_task_refusal(instance, task).is_none()
                    }
                    _ => false,
                },
                held: t.held,
                can_hold: match (state, task_state(t)) {
                    (Some(instance), Some(task)) => {
                        crate::model::hold_refusal(instance, task, t.held).is_none()
                    }
                    _ => false,
                },
            })
            .collect(),
        started_at: pages::time(detail.started_at),
        ended_at: pages::time(detail.ended_at),
        duration: pages::duration(detail.started_at, detail.ended_at, now),
        error: detail.error.clone().unwrap_or_default(),
        can_write,
        refresh_secs: if tasks.len() > 200 { 5 } else { 2 },
    }
}

/// The control buttons an instance in `state` offers (the commands it would accept).
fn actions(state: WorkflowState) -> Vec<Action> {
    use WorkflowState as W;
    let pause = Action {
        label: "Pause",
        action: "pause",
        confirm: "",
    };
    let resume = Action {
        label: "Resume",
        action: "resume",
        confirm: "",
    };
    let stop = Action {
        label: "Stop",
        action: "stop",
        confirm: "Stop this instance and kill its running tasks?",
    };
    let rerun = Action {
        label: "Rerun",
        action: "rerun",
        confirm: "Run the whole instance again from the start?",
    };
    let start_failed = Action {
        label: "Rerun from failed",
        action: "start-failed",
        confirm: "",
    };
    match state {
        W::Running => vec![pause, stop],
        W::Pausing => vec![resume, stop],
        W::Paused => vec![resume, stop, start_failed, rerun],
        W::Failed | W::Stopped => vec![start_failed, rerun],
        W::Succeeded => vec![rerun],
        W::Submitted | W::Waiting | W::Stopping => vec![],
    }
}

pub(super) async fn control(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<Reply, ApiError> {
    let id = parse_id(id)?;
    let kind = CommandType::from_action(action).ok_or_else(|| {
        ApiError::not_found(format!(
            "no action {action} (pause, resume, stop, rerun, start-failed)"
        ))
    })?;
    let client = ctx.client().await?;
    ctx.who
        .require_owner(&client, Owned::Instance(id), Access::Write)
        .await?;
    if crate::api::references::starts_tasks(kind) {
        crate::api::references::require_for_instance(ctx.who, &client, id).await?;
    }
    commands::insert_control(&client, &ctx.who.actor(), kind, id).await?;
    Ok(redirect(&format!("/instances/{id}")))
}

pub(super) async fn force_success(ctx: &Ctx<'_>, id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(id)?;
    let client = ctx.client().await?;
    ctx.who
        .require_owner(&client, Owned::TaskInstance(id), Access::Write)
        .await?;
    let (instance, _) = instances::task_owner(&client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task instance {id} does not exist")))?;
    commands::insert_task_command(
        &client,
        &ctx.who.actor(),
        CommandType::ForceSuccess,
        instance,
        id,
    )
    .await?;
    Ok(redirect(&format!("/instances/{instance}")))
}

/// The instance page's "retry" button: the task and its downstream run again.
pub(super) async fn retry_task(ctx: &Ctx<'_>, id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(id)?;
    let client = ctx.client().await?;
    ctx.who
        .require_owner(&client, Owned::TaskInstance(id), Access::Write)
        .await?;
    if let Some((instance, _)) = instances::task_owner(&client, id).await? {
        crate::api::references::require_for_instance(ctx.who, &client, instance).await?;
    }
    let (instance, _) = commands::insert_retry_task(&client, &ctx.who.actor(), id).await?;
    Ok(redirect(&format!("/instances/{instance}")))
}

/// The instance page's "hold" and "release" buttons.
pub(super) async fn hold_task(ctx: &Ctx<'_>, id: &str, hold: bool) -> Result<Reply, ApiError> {
    let id = parse_id(id)?;
    let client = ctx.client().await?;
    ctx.who
        .require_owner(&client, Owned::TaskInstance(id), Access::Write)
        .await?;
    let (instance, _) = commands::insert_hold(&client, &ctx.who.actor(), id, hold).await?;
    Ok(redirect(&format!("/instances/{instance}")))
}

/// Chunks shown on the log page: its end (at most `logs::TAIL_PAGE_BYTES` of it); "Load
/// earlier output" fetches the part before, as many again.
pub(crate) const TAIL_CHUNKS: i64 = 500;

/// A task's log page. A long log shows its end (`?before=SEQ`: the part before chunk SEQ,
/// for a browser without script) and tails live while the task runs; `?download=1` sends
/// the whole log, read from the database a page at a time.
pub(super) async fn log(ctx: &Ctx<'_>, id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(id)?;
    let client = ctx.client().await?;
    ctx.who
        .require_owner(&client, Owned::TaskInstance(id), Access::Read)
        .await?;
    let (instance_id, _) = instances::task_owner(&client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task instance {id} does not exist")))?;
    let query = ctx.request.query_map();
    if query.contains_key("download") {
        let head = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "text/plain; charset=utf-8")
            .header(
                "content-disposition",
                format!("attachment; filename=\"task-{id}.log\""),
            );
        let pages = logs::stream_pages(client, id, logs::DEFAULT_PAGE_CHUNKS);
        return Ok(crate::api::Streamed::reply(head, pages));
    }
    let before =
        match query.get("before") {
            None => None,
            Some(v) => Some(v.parse::<i32>().ok().filter(|b| *b >= 0).ok_or_else(|| {
                ApiError::bad_request(format!("before={v:?} is not a chunk number"))
            })?),
        };
    let page = logs::read_tail(&client, id, before, TAIL_CHUNKS).await?;
    let detail = instances::get_tasks(&client, instance_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found(format!("task instance {id} does not exist")))?;
    render(&LogPage {
        nav: ctx.nav("instances"),
        task_id: id,
        task_name: detail.name,
        instance_id,
        state: detail.state,
        attempt: detail.attempt,
        host: detail.host.unwrap_or_default(),
        text: page.text,
        next_seq: page.next_seq,
        first_seq: page.first_seq.unwrap_or(0),
        // An earlier part is not tailed: what follows it is on the log's own page.
        part: before.is_some(),
        finished: page.finished || before.is_some(),
    })
}

/// The items of one mapped task by state, for its DAG node.
#[derive(Default)]
struct ItemCounts {
    succeeded: usize,
    active: usize,
    failed: usize,
    total: usize,
}

impl ItemCounts {
    /// `12 ✓ 3 ▶ 1 ✗ / 16`: succeeded (or forced), queued or running, failed, of all items.
    fn line(&self) -> String {
        format!(
            "{} ✓ {} ▶ {} ✗ / {}",
            self.succeeded, self.active, self.failed, self.total
        )
    }
}

/// The item counts of each mapped task with items, by the mapped task's name (an item
/// is named `NAME[i]`).
fn item_counts(tasks: &[TaskDetail]) -> BTreeMap<&str, ItemCounts> {
    let mut counts: BTreeMap<&str, ItemCounts> = BTreeMap::new();
    for t in tasks.iter().filter(|t| t.map_index.is_some()) {
        let Some((parent, _)) = t.name.rsplit_once('[') else {
            continue;
        };
        let c = counts.entry(parent).or_default();
        c.total += 1;
        match t.state.parse::<TaskState>() {
            Ok(s) if s.is_success() => c.succeeded += 1,
            Ok(s) if s.is_active() => c.active += 1,
            Ok(TaskState::Failed) => c.failed += 1,
            _ => {}
        }
    }
    counts
}

//! Instances: the filtered list, one instance (its DAG by state, a Gantt chart, the task
//! table and the control buttons) and a task's live log.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, Utc};
use warp::http::{Response, StatusCode};

use super::{Ctx, parse_id, redirect, render, workflow_href};
use crate::api::error::ApiError;
use crate::api::pages::{
    self, Action, BigInstance, Filter, InstanceLive, InstancePage, InstanceTable, InstancesPage,
    LogPage, StateCount, TaskLine,
};
use crate::api::{Reply, percent_encode};
use crate::model::{CommandType, TaskState, WorkflowState};
use crate::store::instances::{self, InstanceDetail, InstanceFilter, TaskBrief, TaskDetail};
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

/// Above this many tasks the instance page shows an overview by layer, the Gantt chart of
/// the slowest tasks and a page of the table instead of every task (a 10,000-task instance
/// drawn whole is 11 MiB of HTML).
pub(crate) const OVERVIEW_TASKS: usize = 300;
/// Rows in a page of a big instance's task table.
const TASK_PAGE: i64 = 100;
/// Bars in a big instance's Gantt chart when no filter picks the tasks.
const GANTT_SLOWEST: usize = 50;

/// The task table's filter and page, from the query: `state=`, `prefix=`, `after=`.
struct TaskQuery {
    state: String,
    prefix: String,
    after: Option<i64>,
}

impl TaskQuery {
    fn of(q: &std::collections::HashMap<String, String>) -> Result<TaskQuery, ApiError> {
        let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let state = get("state");
        if !state.is_empty() {
            state
                .parse::<TaskState>()
                .map_err(|e| ApiError::bad_request(format!("state: {e}")))?;
        }
        let after = match q.get("after").filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(parse_id(a)?),
        };
        Ok(TaskQuery {
            state,
            prefix: get("prefix"),
            after,
        })
    }

    fn state_list(&self) -> Vec<String> {
        if self.state.is_empty() {
            Vec::new()
        } else {
            vec![self.state.clone()]
        }
    }

    fn filtered(&self) -> bool {
        !self.state.is_empty() || !self.prefix.is_empty() || self.after.is_some()
    }

    /// `&state=…&prefix=…[&after=…]`, the parameters set.
    fn params(&self, after: Option<i64>) -> String {
        let mut out = String::new();
        for (k, v) in [("state", &self.state), ("prefix", &self.prefix)] {
            if !v.is_empty() {
                out.push_str(&format!("&{k}={}", percent_encode(v)));
            }
        }
        if let Some(a) = after {
            out.push_str(&format!("&after={a}"));
        }
        out
    }

    fn href(&self, id: i64, after: Option<i64>) -> String {
        let q = self.params(after);
        match q.strip_prefix('&') {
            Some(q) => format!("/instances/{id}?{q}#tasks"),
            None => format!("/instances/{id}#tasks"),
        }
    }
}

pub(super) async fn instance(ctx: &Ctx<'_>, id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(id)?;
    let query = ctx.request.query_map();
    let wanted = TaskQuery::of(&query)?;
    let client = ctx.client().await?;
    let project = ctx
        .who
        .require_owner(&client, Owned::Instance(id), Access::Read)
        .await?;
    let can_write = ctx.who.can_write(&client, &project).await?;
    // A control command not carried out yet will change the state: keep refreshing. Read
    // before the state: the master ends a command in the transaction that changes the
    // state, so once it is seen gone the state read next is the new one. Read after, a
    // command carried out between the two reads left a page showing the old final state
    // that never refreshed ("Rerun from failed" seemed to do nothing).
    let pending = matches!(
        commands::state_for_instance(&client, id).await?,
        Some((state, _, _)) if state == "pending"
    );
    let detail = instances::get_head(&client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("instance {id} does not exist")))?;
    // A created instance's tasks in brief: enough to count them, and to draw a big one.
    let briefs = match detail.tasks {
        Some(_) => Vec::new(),
        None => instances::task_briefs(&client, id).await?,
    };
    let big = briefs.len() > OVERVIEW_TASKS;
    let (tasks, drawn) = if big {
        let filter = instances::TaskPageFilter {
            states: wanted.state_list(),
            name_prefix: wanted.prefix.clone(),
            after: wanted.after,
            // One more than the page tells whether another follows.
            limit: TASK_PAGE + 1,
        };
        let tasks = instances::task_page(&client, id, &filter).await?;
        // Laid out from the stored relations: parsing a 10,000-task spec costs more than
        // the rest of the page.
        let edges = instances::task_edges(&client, id).await?;
        (tasks, Drawn::Overview(edges))
    } else {
        let tasks = if briefs.is_empty() {
            Vec::new()
        } else {
            instances::get_tasks(&client, id).await?
        };
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
        (tasks, Drawn::Whole(Box::new(spec)))
    };
    let shown = Shown {
        briefs: &briefs,
        tasks: &tasks,
        drawn,
        wanted: &wanted,
    };
    let mut live = live(ctx, &detail, shown, can_write);
    live.is_final &= !pending;
    if query.get("partial").map(String::as_str) == Some("live") {
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

/// What the instance page shows of the tasks: all of them in brief, and in full either all
/// of them (drawn whole, from the spec) or one page plus one row of those `wanted` (drawn
/// as an overview, from the relations between task codes).
struct Shown<'a> {
    briefs: &'a [TaskBrief],
    tasks: &'a [TaskDetail],
    drawn: Drawn,
    wanted: &'a TaskQuery,
}

enum Drawn {
    Whole(Box<crate::spec::WorkflowSpec>),
    Overview(Vec<(i64, i64)>),
}

/// The changing part of the instance page.
fn live(ctx: &Ctx<'_>, detail: &InstanceDetail, shown: Shown<'_>, can_write: bool) -> InstanceLive {
    let now = Utc::now();
    let state: Option<WorkflowState> = detail.state.parse().ok();
    // Paused counts as final here too: nothing changes until someone resumes it.
    let is_final = state.is_some_and(|s| s.is_final());
    let briefs = shown.briefs;
    let rank = |state: &str| {
        TaskState::ALL
            .iter()
            .position(|s| s.as_str() == state)
            .unwrap_or(usize::MAX)
    };
    let done = briefs
        .iter()
        .filter(|t| t.state.parse::<TaskState>().is_ok_and(|s| s.is_final()))
        .count();
    let mut counts: BTreeMap<usize, StateCount> = BTreeMap::new();
    for t in briefs {
        counts
            .entry(rank(&t.state))
            .or_insert_with(|| StateCount {
                state: t.state.clone(),
                count: 0,
            })
            .count += 1;
    }
    let mut tasks: &[TaskDetail] = shown.tasks;
    let wanted = shown.wanted;
    let (dag_svg, gantt_svg, big) = match &shown.drawn {
        Drawn::Whole(spec) => (
            small_dag(tasks, spec),
            gantt(tasks.iter().map(bar_of_detail).collect(), now),
            None,
        ),
        Drawn::Overview(edges) => {
            let more = tasks.len() as i64 > TASK_PAGE;
            tasks = &tasks[..tasks.len().min(TASK_PAGE as usize)];
            let (overview, layers) = overview(detail.id, briefs, edges, &rank);
            let (bars, gantt_note) = if wanted.filtered() {
                (
                    tasks.iter().map(bar_of_detail).collect(),
                    "The tasks listed below, in the order they started.".to_string(),
                )
            } else {
                (
                    slowest(briefs, now),
                    format!(
                        "The {GANTT_SLOWEST} slowest of {} tasks (running ones count until now), in the order they started; filter the table to chart others.",
                        briefs.len()
                    ),
                )
            };
            let matching = briefs
                .iter()
                .filter(|t| wanted.state.is_empty() || t.state == wanted.state)
                .filter(|t| t.name.starts_with(&wanted.prefix))
                .collect::<Vec<_>>();
            let first_row = tasks.first().map_or(0, |t| {
                matching.iter().take_while(|b| b.id < t.id).count() + 1
            });
            let view = BigInstance {
                layers,
                gantt_note,
                state: wanted.state.clone(),
                prefix: wanted.prefix.clone(),
                states: TaskState::ALL.iter().map(|s| s.as_str()).collect(),
                matching: matching.len(),
                first_row,
                next: more
                    .then(|| tasks.last().map(|t| wanted.href(detail.id, Some(t.id))))
                    .flatten(),
                first: wanted.after.map(|_| wanted.href(detail.id, None)),
                refresh_query: wanted.params(wanted.after),
            };
            (overview, gantt(bars, now), Some(view))
        }
    };
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
        total: briefs.len(),
        percent: if briefs.is_empty() {
            0
        } else {
            done * 100 / briefs.len()
        },
        counts: counts.into_values().collect(),
        actions: state.map(actions).unwrap_or_default(),
        dag_svg,
        gantt_svg,
        tasks: tasks
            .iter()
            .map(|t| task_line(t, state, instance_busy))
            .collect(),
        started_at: pages::time(detail.started_at),
        ended_at: pages::time(detail.ended_at),
        duration: pages::duration(detail.started_at, detail.ended_at, now),
        error: detail.error.clone().unwrap_or_default(),
        can_write,
        refresh_secs: if briefs.len() > 200 { 5 } else { 2 },
        big,
    }
}

/// The DAG of a small instance, every task a box colored by its state.
fn small_dag(tasks: &[TaskDetail], spec: &crate::spec::WorkflowSpec) -> String {
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
    svg::dag_svg(&nodes, &super::workflows::dag_edges(spec))
}

/// The overview of a big instance: its tasks by topological layer (from `edges` between
/// task codes) and state, each state linking to the table filtered by it; and the number of
/// layers. Task instances sharing a code (the items of a mapped task) share its layer.
fn overview(
    id: i64,
    briefs: &[TaskBrief],
    edges: &[(i64, i64)],
    rank: &dyn Fn(&str) -> usize,
) -> (String, usize) {
    let mut index: HashMap<i64, usize> = HashMap::with_capacity(briefs.len());
    for t in briefs {
        let next = index.len();
        index.entry(t.task_code).or_insert(next);
    }
    let edges: Vec<(usize, usize)> = edges
        .iter()
        .filter_map(|(a, b)| Some((*index.get(a)?, *index.get(b)?)))
        .collect();
    let depth = crate::dag::layers(index.len(), &edges);
    let layers = depth.iter().max().map_or(0, |d| d + 1);
    // layer -> state rank -> (state, count)
    let mut grid: Vec<BTreeMap<usize, (String, usize)>> = vec![BTreeMap::new(); layers];
    for t in briefs {
        grid[depth[index[&t.task_code]]]
            .entry(rank(&t.state))
            .or_insert_with(|| (t.state.clone(), 0))
            .1 += 1;
    }
    let rows: Vec<svg::LayerCounts> = grid
        .into_iter()
        .map(|states| states.into_values().collect())
        .collect();
    let svg = svg::overview_svg(&rows, |state| {
        Some(format!(
            "/instances/{id}?state={}#tasks",
            percent_encode(state)
        ))
    });
    (svg, layers)
}

/// The [`GANTT_SLOWEST`] longest-running tasks (running ones until `now`).
fn slowest(briefs: &[TaskBrief], now: chrono::DateTime<Utc>) -> Vec<svg::GanttBar> {
    let took = |t: &TaskBrief| {
        t.started_at
            .map(|s| t.ended_at.unwrap_or(now) - s)
            .unwrap_or_default()
    };
    let mut started: Vec<&TaskBrief> = briefs.iter().filter(|t| t.started_at.is_some()).collect();
    started.sort_by_key(|t| (std::cmp::Reverse(took(t)), t.id));
    started.truncate(GANTT_SLOWEST);
    started
        .into_iter()
        .map(|t| svg::GanttBar {
            name: t.name.clone(),
            state: t.state.clone(),
            start: t.started_at,
            end: t.ended_at,
            href: Some(format!("/task-instances/{}/log", t.id)),
        })
        .collect()
}

fn bar_of_detail(t: &TaskDetail) -> svg::GanttBar {
    svg::GanttBar {
        name: t.name.clone(),
        state: t.state.clone(),
        start: t.started_at,
        end: t.ended_at,
        href: Some(format!("/task-instances/{}/log", t.id)),
    }
}

/// The Gantt chart lists tasks in the order they started (unstarted ones last).
fn gantt(mut bars: Vec<svg::GanttBar>, now: chrono::DateTime<Utc>) -> String {
    bars.sort_by_key(|b| (b.start.is_none(), b.start));
    svg::gantt_svg(&bars, now)
}

fn task_line(t: &TaskDetail, state: Option<WorkflowState>, instance_busy: bool) -> TaskLine {
    let now = Utc::now();
    let task_state = t.state.parse::<TaskState>().ok();
    TaskLine {
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
            && matches!(task_state, Some(TaskState::Failed | TaskState::Killed)),
        can_retry: match (state, task_state) {
            (Some(instance), Some(task)) => {
                crate::model::retry_task_refusal(instance, task).is_none()
            }
            _ => false,
        },
        held: t.held,
        can_hold: match (state, task_state) {
            (Some(instance), Some(task)) => {
                crate::model::hold_refusal(instance, task, t.held).is_none()
            }
            _ => false,
        },
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
    // The one task (an instance may have 10,000): the page of one after the id before it.
    let one = instances::TaskPageFilter {
        after: Some(id - 1),
        limit: 1,
        ..Default::default()
    };
    let detail = instances::task_page(&client, instance_id, &one)
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

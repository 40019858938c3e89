//! One askama template struct per page or fragment of the web admin, and the display rows
//! they show. Handlers (`api::ui`) load data and fill these; nothing here does I/O.
//!
//! Every string shown is escaped by askama (the templates are `.html`). The only markup
//! inserted unescaped is SVG that `view::svg` rendered, which escapes user data itself;
//! those fields are named `*_svg`.

use askama::Template;
use chrono::{DateTime, Utc};

/// The header every signed-in page shows.
#[derive(Debug, Clone)]
pub struct Nav {
    pub user: String,
    pub is_admin: bool,
    pub csrf: String,
    /// Which top-level section is open: home, projects, instances, schedules, servers,
    /// users, tokens, audit.
    pub section: &'static str,
    pub htmx: &'static str,
    pub css: &'static str,
    pub js: &'static str,
}

impl Nav {
    pub fn is(&self, section: &str) -> bool {
        self.section == section
    }
}

#[derive(Template)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    pub css: &'static str,
    pub login_token: String,
    pub name: String,
    pub next: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    pub nav: Nav,
    pub status: u16,
    pub title: String,
    pub message: String,
}

// ---- home ----

pub struct StateCount {
    pub state: String,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "pages/home.html")]
pub struct HomePage {
    pub nav: Nav,
    pub today: Vec<StateCount>,
    pub today_total: i64,
    pub chart_svg: String,
    pub recent_failures: Vec<InstanceRow>,
    pub running: Vec<InstanceRow>,
}

// ---- projects and workflows ----

pub struct ProjectRow {
    pub name: String,
    pub description: String,
    pub workflows: i64,
}

#[derive(Template)]
#[template(path = "pages/projects.html")]
pub struct ProjectsPage {
    pub nav: Nav,
    pub projects: Vec<ProjectRow>,
}

pub struct RunDot {
    pub id: i64,
    pub state: String,
}

pub struct WorkflowRow {
    pub name: String,
    pub href: String,
    pub version: i32,
    pub description: String,
    pub release: String,
    pub schedule: Option<String>,
    pub schedule_on: bool,
    pub next_fire: String,
    pub runs: Vec<RunDot>,
}

#[derive(Template)]
#[template(path = "pages/project.html")]
pub struct ProjectPage {
    pub nav: Nav,
    pub project: String,
    pub description: String,
    pub workflows: Vec<WorkflowRow>,
    pub can_write: bool,
}

/// The confirm step of deleting a workflow or a project (admins).
#[derive(Template)]
#[template(path = "pages/confirm_delete.html")]
pub struct ConfirmDeletePage {
    pub nav: Nav,
    /// `workflow P/W` or `project P`.
    pub what: String,
    pub whole_project: bool,
    /// Where the form posts.
    pub action: String,
    /// The page to go back to.
    pub back: String,
}

pub struct VersionRow {
    pub version: i32,
    pub created_at: String,
    pub created_by: String,
    pub current: bool,
    pub shown: bool,
}

pub struct TaskRowSpec {
    pub name: String,
    pub task_type: String,
    pub depends_on: String,
}

/// The run dialog's fields, as submitted (so that an error shows them again).
#[derive(Default)]
pub struct RunForm {
    pub params: String,
    pub start_nodes: Vec<String>,
    pub backfill: bool,
    pub from: String,
    pub to: String,
    pub dates: String,
    pub mode: String,
    pub parallelism: String,
    pub order: String,
    pub stop_on_failure: bool,
    /// Execution options; empty: the workflow's own.
    pub priority: String,
    pub failure_strategy: String,
    pub worker_group: String,
    pub error: Option<String>,
}

impl RunForm {
    pub fn starts_at(&self, task: &str) -> bool {
        self.start_nodes.iter().any(|n| n == task)
    }
}

/// The choices of the run dialog's execution options.
pub const PRIORITIES: [&str; 5] = ["highest", "high", "medium", "low", "lowest"];
pub const FAILURE_STRATEGIES: [&str; 2] = ["continue", "end"];

/// A line of the YAML editor's error listing.
pub struct EditorLine {
    pub number: usize,
    pub text: String,
    pub errors: Vec<String>,
}

/// The YAML editor: its text, and the errors of the last save, by line.
#[derive(Default)]
pub struct EditForm {
    pub text: String,
    pub errors: Vec<String>,
    pub lines: Vec<EditorLine>,
    pub saved: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/workflow.html")]
pub struct WorkflowPage {
    pub nav: Nav,
    pub project: String,
    pub project_href: String,
    pub name: String,
    pub base: String,
    pub description: String,
    pub release: String,
    /// The current version is online (the Online/Offline button).
    pub online: bool,
    pub version: i32,
    pub current_version: i32,
    pub schedule: Option<String>,
    pub params: Vec<(String, String)>,
    pub tasks: Vec<TaskRowSpec>,
    pub dag_svg: String,
    pub versions: Vec<VersionRow>,
    pub yaml: String,
    pub runs: Vec<InstanceRow>,
    pub can_write: bool,
    pub run: RunForm,
    pub edit: EditForm,
    pub open: &'static str,
    /// The workflow's own execution options, named in the dialog's defaults.
    pub own_priority: String,
    pub own_failure_strategy: String,
    pub own_worker_group: String,
    pub priorities: [&'static str; 5],
    pub failure_strategies: [&'static str; 2],
}

pub struct DiffRow {
    pub kind: &'static str,
    pub old_no: String,
    pub new_no: String,
    pub text: String,
}

pub struct DiffHunk {
    pub header: String,
    pub rows: Vec<DiffRow>,
}

#[derive(Template)]
#[template(path = "pages/diff.html")]
pub struct DiffPage {
    pub nav: Nav,
    pub project: String,
    pub name: String,
    pub base: String,
    pub from: i32,
    pub to: i32,
    pub versions: Vec<i32>,
    pub hunks: Vec<DiffHunk>,
    pub added: usize,
    pub removed: usize,
}

// ---- instances ----

pub struct InstanceRow {
    pub id: i64,
    pub project: String,
    pub workflow: String,
    pub workflow_href: String,
    pub version: i32,
    pub state: String,
    pub command_type: String,
    pub schedule_time: String,
    pub started_at: String,
    pub duration: String,
}

pub struct Filter {
    pub project: String,
    pub workflow: String,
    pub state: String,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "pages/instances.html")]
pub struct InstancesPage {
    pub nav: Nav,
    pub filter: Filter,
    pub projects: Vec<String>,
    pub states: Vec<&'static str>,
    pub table: InstanceTable,
}

/// The instance table, also served alone for htmx's refresh of the first page.
#[derive(Template)]
#[template(path = "partials/instance_table.html")]
pub struct InstanceTable {
    pub rows: Vec<InstanceRow>,
    /// `?…` of the next (older) page, when there is one.
    pub older: Option<String>,
    /// `?…` of the newest page with the same filter (shown when not on it).
    pub newest: Option<String>,
    /// The URL htmx refreshes this table from (first page only).
    pub refresh: Option<String>,
}

pub struct TaskLine {
    pub id: i64,
    pub name: String,
    pub task_type: String,
    pub state: String,
    pub attempt: i32,
    pub host: String,
    pub started_at: String,
    pub ended_at: String,
    pub duration: String,
    pub exit_code: String,
    /// What the last attempt's process cost (empty when it ran none): CPU user and system
    /// time, peak resident set.
    pub cpu_user: String,
    pub cpu_system: String,
    pub max_rss: String,
    pub error: String,
    pub child_instance_id: Option<i64>,
    pub can_force: bool,
    /// Final, in an instance not being stopped: the "retry" button (with downstream).
    pub can_retry: bool,
    /// Held: shown as such, with the "release" button.
    pub held: bool,
    /// Not started yet in an unfinished instance: the "hold" button.
    pub can_hold: bool,
}

pub struct Action {
    pub label: &'static str,
    pub action: &'static str,
    pub confirm: &'static str,
}

/// The part of the instance page that changes while it runs; htmx replaces it every few
/// seconds until the instance reaches a final state.
#[derive(Template)]
#[template(path = "partials/instance_live.html")]
pub struct InstanceLive {
    pub id: i64,
    pub csrf: String,
    pub state: String,
    pub is_final: bool,
    pub done: usize,
    pub total: usize,
    pub percent: usize,
    pub counts: Vec<StateCount>,
    pub actions: Vec<Action>,
    pub dag_svg: String,
    pub gantt_svg: String,
    pub tasks: Vec<TaskLine>,
    pub started_at: String,
    pub ended_at: String,
    pub duration: String,
    pub error: String,
    pub can_write: bool,
    /// Seconds between refreshes: a big instance's fragment is big (about 1 KiB a task).
    pub refresh_secs: u32,
    /// An instance of more than `OVERVIEW_TASKS` tasks: `dag_svg` is the overview by layer,
    /// `gantt_svg` shows the slowest tasks (or the listed ones) and `tasks` is one page.
    pub big: Option<BigInstance>,
}

/// How the instance page shows an instance too big to list whole.
pub struct BigInstance {
    /// Topological layers of its DAG.
    pub layers: usize,
    /// What the Gantt chart shows.
    pub gantt_note: String,
    /// The table's filter: a task state (empty: any) and a name prefix.
    pub state: String,
    pub prefix: String,
    pub states: Vec<&'static str>,
    /// Tasks matching the filter, and the number of the first one listed (from 1).
    pub matching: usize,
    pub first_row: usize,
    /// Links to the next page and back to the first (when not on it).
    pub next: Option<String>,
    pub first: Option<String>,
    /// The query the refresh carries, so it shows the same page (`&state=…&after=…`).
    pub refresh_query: String,
}

#[derive(Template)]
#[template(path = "pages/instance.html")]
pub struct InstancePage {
    pub nav: Nav,
    pub id: i64,
    pub project: String,
    pub workflow: String,
    pub workflow_href: String,
    pub version: i32,
    pub command_type: String,
    pub schedule_time: String,
    pub priority: String,
    pub params: String,
    pub parent_instance_id: Option<i64>,
    /// Who asked for it (empty when unknown).
    pub created_by: String,
    pub live: InstanceLive,
}

#[derive(Template)]
#[template(path = "pages/log.html")]
pub struct LogPage {
    pub nav: Nav,
    pub task_id: i64,
    pub task_name: String,
    pub instance_id: i64,
    pub state: String,
    pub attempt: i32,
    pub host: String,
    pub text: String,
    pub next_seq: i32,
    /// The first chunk shown: "Load earlier output" fetches the part before it (none at 0).
    pub first_seq: i32,
    /// An earlier part (`?before=`), not the log's end.
    pub part: bool,
    pub finished: bool,
}

// ---- schedules ----

pub struct ScheduleLine {
    pub id: i64,
    pub project: String,
    pub workflow: String,
    pub workflow_href: String,
    pub source: String,
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    pub online: bool,
    pub next_fire: String,
    pub last_fire: String,
    pub can_write: bool,
}

/// The cron builder's fields and its preview.
#[derive(Default)]
pub struct CronBuilder {
    pub target: String,
    pub expr: String,
    pub second: String,
    pub minute: String,
    pub hour: String,
    pub day: String,
    pub month: String,
    pub weekday: String,
    pub timezone: String,
    pub preview: CronPreview,
}

#[derive(Template, Default)]
#[template(path = "partials/cron_preview.html")]
pub struct CronPreview {
    pub expr: String,
    pub timezone: String,
    pub times: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/schedules.html")]
pub struct SchedulesPage {
    pub nav: Nav,
    pub schedules: Vec<ScheduleLine>,
    pub builder: CronBuilder,
    pub workflows: Vec<String>,
    pub error: Option<String>,
}

// ---- servers ----

pub struct ServerLine {
    pub id: i64,
    pub name: String,
    pub roles: String,
    pub host: String,
    pub pid: i32,
    pub leader: bool,
    pub worker_groups: String,
    pub heartbeat_age: String,
    pub running_tasks: i32,
    pub slots: String,
    pub load: String,
    pub started_at: String,
    pub version: String,
}

#[derive(Template)]
#[template(path = "pages/servers.html")]
pub struct ServersPage {
    pub nav: Nav,
    pub servers: Vec<ServerLine>,
}

// ---- admin ----

pub struct UserLine {
    pub name: String,
    pub is_admin: bool,
    pub has_password: bool,
    pub tokens: i64,
    pub created_at: String,
}

pub struct MemberLine {
    pub project: String,
    pub user: String,
    pub access: String,
}

#[derive(Template)]
#[template(path = "pages/users.html")]
pub struct UsersPage {
    pub nav: Nav,
    pub users: Vec<UserLine>,
    pub members: Vec<MemberLine>,
    pub projects: Vec<String>,
    pub message: Option<String>,
    pub error: Option<String>,
}

pub struct TokenLine {
    pub id: i64,
    pub name: String,
    pub user: String,
    pub created_at: String,
    pub last_used_at: String,
    /// When it expires (`never`), and whether it has.
    pub expires_at: String,
    pub expired: bool,
}

#[derive(Template)]
#[template(path = "pages/tokens.html")]
pub struct TokensPage {
    pub nav: Nav,
    pub tokens: Vec<TokenLine>,
    pub users: Vec<String>,
    /// A token just created: shown this once.
    pub created: Option<(String, String)>,
    pub error: Option<String>,
}

// ---- display helpers ----

/// `2026-12-01 19:33:06` (UTC), or empty.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `1h 02m`, `3m 05s`, `4.2s`, `35ms`; empty without a start.
pub fn duration(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> String {
    let Some(start) = start else {
        return String::new();
    };
    let ms = (end.unwrap_or(now) - start).num_milliseconds().max(0);
    human_ms(ms)
}

pub fn human_ms(ms: i64) -> String {
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if s < 60 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_ms(35), "35ms");
        assert_eq!(human_ms(4_200), "4.2s");
        assert_eq!(human_ms(185_000), "3m 05s");
        assert_eq!(human_ms(3_720_000), "1h 02m");
        assert_eq!(human_ms(90_000_000), "1d 01h");
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(duration(None, None, t), "");
        assert_eq!(
            duration(Some(t), None, t + chrono::Duration::seconds(2)),
            "2.0s"
        );
    }
}

/// Import from DolphinScheduler: the pasted or uploaded export, and after a preview its
/// report (or its problems) with a button that confirms.
#[derive(Template)]
#[template(path = "pages/import.html")]
pub struct ImportPage {
    pub nav: Nav,
    pub project: String,
    /// The export text, sent again with the confirmation.
    pub text: String,
    pub allow_unsupported: bool,
    /// Problems that stop the import (one line each).
    pub problems: Vec<String>,
    /// The report (`IMPORT.md`), when the preview converted.
    pub report: Option<String>,
    /// Workflows the import would apply, `project/name`.
    pub workflows: Vec<String>,
}

//! The typed specs that YAML and JSON documents parse into.
//!
//! The serde form of these types is the stored form of a definition (`serde_json` into
//! Postgres, hashed for versioning), so it is deterministic (`BTreeMap`, fixed field order)
//! and canonical: a value equal to its default is left out, which also keeps the hash of an
//! old definition stable when a new optional key is added. A task serializes exactly as the
//! user writes it in YAML (`type: shell` and `script:` side by side). Source positions are
//! kept beside the data (`line`, [`SourceMap`]), never serialized and ignored by `==`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{
    Condition, Duration, ExecutionType, FailureStrategy, OnWorkerLoss, Priority, Release,
    RetryBackoff, TaskType, WorkflowState,
};

/// Parameter name → value. YAML scalars (numbers, booleans) keep their source text.
pub type ParamMap = BTreeMap<String, String>;

/// A 1-based line and column in a source file; `0:0` when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Where each key of one mapping was written (key → position of the key; `""` → the mapping
/// itself). Empty for specs that were not parsed from text. Not serialized; every two
/// `SourceMap`s compare equal, so positions never make two specs differ.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    keys: BTreeMap<String, Pos>,
}

impl SourceMap {
    pub(crate) fn insert(&mut self, key: &str, pos: Pos) {
        self.keys.entry(key.to_string()).or_insert(pos);
    }
    /// Position of `key` (`""`: of the mapping), when known.
    pub fn get(&self, key: &str) -> Option<Pos> {
        self.keys.get(key).copied()
    }
    /// Position of `key`, else of the mapping, else `0:0`.
    pub fn pos(&self, key: &str) -> Pos {
        self.get(key).or_else(|| self.get("")).unwrap_or_default()
    }
}

impl PartialEq for SourceMap {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for SourceMap {}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
fn is_true(value: &bool) -> bool {
    *value
}
fn yes() -> bool {
    true
}

pub const DEFAULT_WORKER_GROUP: &str = "default";
pub const DEFAULT_TIMEZONE: &str = "UTC";

fn default_worker_group() -> String {
    DEFAULT_WORKER_GROUP.to_string()
}
fn is_default_worker_group(group: &String) -> bool {
    group == DEFAULT_WORKER_GROUP
}
fn default_timezone() -> String {
    DEFAULT_TIMEZONE.to_string()
}
fn is_default_timezone(tz: &String) -> bool {
    tz == DEFAULT_TIMEZONE
}

/// Rows a `sql` query task reads at most when `max_rows` is not set.
pub const DEFAULT_MAX_ROWS: u32 = 100;
/// The largest `max_rows` a `sql` task may ask for.
pub const MAX_MAX_ROWS: u32 = 10_000;

fn default_max_rows() -> u32 {
    DEFAULT_MAX_ROWS
}
fn is_default_max_rows(rows: &u32) -> bool {
    *rows == DEFAULT_MAX_ROWS
}

// Enums that exist only in the workflow format, built like the `model` enums.
use crate::model::string_enum as spec_enum;

spec_enum!(
    /// When a workflow instance sends an alert to its `notify.group`.
    NotifyWhen, "notify condition", default Failure, {
    None => "none",
    Success => "success",
    Failure => "failure",
    Always => "always",
});

spec_enum!(
    /// What the cron firer does about fire times missed while no leader ran.
    Misfire, "misfire policy", default FireOnce, {
    FireOnce => "fire_once",
    Skip => "skip",
});

spec_enum!(
    /// What happens when a task runs longer than its `timeout.after`.
    TimeoutStrategy, "timeout strategy", default Fail, {
    Warn => "warn",
    Fail => "fail",
    WarnAndFail => "warn_and_fail",
});

spec_enum!(
    /// Whether a `sql` task returns rows (`query`) or only changes data (`statement`).
    SqlKind, "sql kind", default Query, {
    Query => "query",
    Statement => "statement",
});

spec_enum!(
    /// HTTP method of an `http` task (YAML accepts any letter case).
    HttpMethod, "http method", default Get, {
    Get => "GET",
    Post => "POST",
    Put => "PUT",
    Patch => "PATCH",
    Delete => "DELETE",
    Head => "HEAD",
    Options => "OPTIONS",
});

spec_enum!(
    /// The date window a `dependent` item looks at, relative to the instance's base date.
    DependentWindow, "dependent window", default Today, {
    Today => "today",
    Last1Days => "last_1_days",
    Last2Days => "last_2_days",
    Last3Days => "last_3_days",
    Last4Days => "last_4_days",
    Last5Days => "last_5_days",
    Last6Days => "last_6_days",
    Last7Days => "last_7_days",
    ThisWeek => "this_week",
    LastWeek => "last_week",
    LastMonday => "last_monday",
    LastTuesday => "last_tuesday",
    LastWednesday => "last_wednesday",
    LastThursday => "last_thursday",
    LastFriday => "last_friday",
    LastSaturday => "last_saturday",
    LastSunday => "last_sunday",
    ThisMonth => "this_month",
    LastMonth => "last_month",
    LastMonthBegin => "last_month_begin",
    LastMonthEnd => "last_month_end",
    CurrentHour => "current_hour",
    Last1Hour => "last_1_hour",
    Last2Hours => "last_2_hours",
    Last3Hours => "last_3_hours",
    Last24Hours => "last_24_hours",
});

spec_enum!(
    /// What a `dependent` task does when a dependency it looks at has failed: fail at once,
    /// or keep waiting (until `wait_limit`) in case it is rerun and succeeds.
    DependentFailure, "dependent failure policy", default Fail, {
    Fail => "fail",
    Wait => "wait",
});

spec_enum!(
    /// `spark-submit --deploy-mode`.
    DeployMode, "deploy mode", default Client, {
    Client => "client",
    Cluster => "cluster",
});

spec_enum!(
    /// Database engine of a datasource.
    DatasourceType, "datasource type", default Postgres, {
    Postgres => "postgres",
    Mysql => "mysql",
});

/// One workflow definition: the `kind: workflow` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowSpec {
    pub project: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Global parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: ParamMap,
    #[serde(default, skip_serializing_if = "is_default")]
    pub failure_strategy: FailureStrategy,
    #[serde(default, skip_serializing_if = "is_default")]
    pub priority: Priority,
    #[serde(default, skip_serializing_if = "is_default")]
    pub execution: ExecutionType,
    #[serde(
        default = "default_worker_group",
        skip_serializing_if = "is_default_worker_group"
    )]
    pub worker_group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// With `execution: parallel`: at most this many instances run at once (1 to
    /// [`MAX_ACTIVE_RUNS`]); the others wait in submission order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active_runs: Option<u32>,
    /// `sla: { finish_within }`: an `sla_miss` alert when a run is not final in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifySpec>,
    /// How long finished instances (with their tasks and logs) are kept; `None`: the global
    /// `PGDAG_RETENTION_DAYS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Duration>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub release: Release,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    /// The tenant (a `kind: tenant` document) whose OS user runs this workflow's process
    /// tasks; `None`: the worker's own user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Environment variables every process task of the workflow gets (a task's own `env`
    /// wins over these).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `triggers:`: runs of this workflow started by the end of other workflows' runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<TriggerSpec>,
    pub tasks: Vec<TaskSpec>,
    /// Positions of the top-level keys.
    #[serde(skip)]
    pub source: SourceMap,
}

/// The most `max_active_runs` a workflow may ask for.
pub const MAX_ACTIVE_RUNS: u32 = 10_000;

/// `sla:` of a workflow: a run should be final within `finish_within` of its schedule time
/// (of its submission for runs without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaSpec {
    pub finish_within: Duration,
}

impl WorkflowSpec {
    /// How many instances (outside backfills) may be active at once, when instances must
    /// wait for a turn: 1 for the serial execution types, `max_active_runs` for parallel.
    /// `None`: every start runs at once.
    pub fn active_limit(&self) -> Option<i64> {
        match self.execution {
            ExecutionType::Parallel => self.max_active_runs.map(i64::from),
            _ => Some(1),
        }
    }

    /// The task called `name`.
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// The alert groups this workflow names, with what names each: `notify` (its group
    /// also gets the run's timeout and failover alerts) and the `send_result_to` of sql
    /// tasks.
    pub fn alert_group_uses(&self) -> Vec<(&str, String)> {
        let mut uses = Vec::new();
        if let Some(group) = self.notify.as_ref().and_then(|n| n.group.as_deref()) {
            uses.push((group, "notify".to_string()));
        }
        for task in &self.tasks {
            if let TaskKind::Sql(sql) = &task.kind
                && let Some(group) = sql.send_result_to.as_deref()
            {
                uses.push((group, format!("send_result_to of task {}", task.name)));
            }
        }
        uses
    }
}

/// `notify: { when, group }`: alert `group` when an instance ends as `when` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifySpec {
    pub when: NotifyWhen,
    /// Alert group name; required unless `when` is `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `schedule:` of a workflow. Cron syntax itself is checked by the cron module at apply time;
/// here only its shape (5, 6 or 7 fields) is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    pub cron: String,
    /// IANA time zone name.
    #[serde(
        default = "default_timezone",
        skip_serializing_if = "is_default_timezone"
    )]
    pub timezone: String,
    /// Validity window, as written: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` (local to `timezone`;
    /// a space may replace the `T`) or RFC 3339 with an offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub misfire: Misfire,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

/// One task of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskSpec {
    pub name: String,
    /// `type:` and that type's keys, flattened into the task (as in YAML).
    #[serde(flatten)]
    pub kind: TaskKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependsOn>,
    /// Local parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: ParamMap,
    /// `None`: the workflow's priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// `None`: the workflow's worker group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_group: Option<String>,
    /// Retries after the first attempt, at most [`MAX_RETRIES`].
    #[serde(default, skip_serializing_if = "is_default")]
    pub retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<Duration>,
    /// How the wait between attempts grows (`fixed` or `exponential`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub retry_backoff: RetryBackoff,
    /// The longest wait of an `exponential` backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_max_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TaskTimeout>,
    /// `false`: the task is skipped but its successors run.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub run: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_worker_loss: OnWorkerLoss,
    /// Environment variables the task's process gets (see [`MAX_ENV_ENTRIES`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `foreach:` a mapped task: an expression expanding to a JSON list; the master runs
    /// one item of the task per element (worker-side types only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<String>,
    /// `max_parallel:` the most items of a mapped task active at once (only with `foreach`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// 1-based line of the task's `name` (0 when not parsed from text). Ignored by `==`.
    #[serde(skip)]
    pub line: usize,
    /// Positions of the task's keys. Ignored by `==`.
    #[serde(skip)]
    pub source: SourceMap,
}

/// The most `retries` a task may ask for.
pub const MAX_RETRIES: u32 = 100;

/// The most entries of one `env:` (a workflow's, a task's).
pub const MAX_ENV_ENTRIES: usize = 100;
/// The longest value of one `env:` entry, in bytes.
pub const MAX_ENV_VALUE: usize = 32 * 1024;
/// The most bytes (names and values) of one `env:`.
pub const MAX_ENV_TOTAL: usize = 128 * 1024;

impl TaskSpec {
    pub fn task_type(&self) -> TaskType {
        self.kind.task_type()
    }
}

impl PartialEq for TaskSpec {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let TaskSpec {
            name,
            kind,
            depends_on,
            params,
            priority,
            worker_group,
            task_group,
            retries,
            retry_interval,
            retry_backoff,
            retry_max_interval,
            timeout,
            run,
            on_worker_loss,
            env,
            foreach,
            max_parallel,
            line: _,
            source: _,
        } = self;
        *name == other.name
            && *kind == other.kind
            && *depends_on == other.depends_on
            && *params == other.params
            && *priority == other.priority
            && *worker_group == other.worker_group
            && *task_group == other.task_group
            && *retries == other.retries
            && *retry_interval == other.retry_interval
            && *retry_backoff == other.retry_backoff
            && *retry_max_interval == other.retry_max_interval
            && *timeout == other.timeout
            && *run == other.run
            && *on_worker_loss == other.on_worker_loss
            && *env == other.env
            && *foreach == other.foreach
            && *max_parallel == other.max_parallel
    }
}
impl Eq for TaskSpec {}

/// A task's type and that type's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskKind {
    Shell(ScriptTask),
    Python(ScriptTask),
    Sql(SqlTask),
    Procedure(ProcedureTask),
    Http(HttpTask),
    SubProcess(SubProcessTask),
    Dependent(DependentTask),
    Conditions(ConditionsTask),
    Switch(SwitchTask),
    Spark(SparkTask),
    Mr(MrTask),
    Empty,
}

impl TaskKind {
    pub fn task_type(&self) -> TaskType {
        match self {
            TaskKind::Shell(_) => TaskType::Shell,
            TaskKind::Python(_) => TaskType::Python,
            TaskKind::Sql(_) => TaskType::Sql,
            TaskKind::Procedure(_) => TaskType::Procedure,
            TaskKind::Http(_) => TaskType::Http,
            TaskKind::SubProcess(_) => TaskType::SubProcess,
            TaskKind::Dependent(_) => TaskType::Dependent,
            TaskKind::Conditions(_) => TaskType::Conditions,
            TaskKind::Switch(_) => TaskType::Switch,
            TaskKind::Spark(_) => TaskType::Spark,
            TaskKind::Mr(_) => TaskType::Mr,
            TaskKind::Empty => TaskType::Empty,
        }
    }
}

/// `shell` and `python`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptTask {
    pub script: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlTask {
    pub datasource: String,
    pub sql: String,
    #[serde(default, skip_serializing_if = "is_default")]
    pub kind: SqlKind,
    /// Alert group that receives the query result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_result_to: Option<String>,
    /// Values bound to the `?` / `$n` placeholders of `sql`, in order (never spliced into
    /// the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bind: Vec<String>,
    /// Statements run before `sql`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre: Vec<String>,
    /// Statements run after `sql`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post: Vec<String>,
    /// Columns of the first row that become out params of the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out: Vec<String>,
    /// Out param that receives all rows read, as a JSON list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_rows: Option<String>,
    /// Rows read at most, `1..=`[`MAX_MAX_ROWS`]; default [`DEFAULT_MAX_ROWS`].
    #[serde(
        default = "default_max_rows",
        skip_serializing_if = "is_default_max_rows"
    )]
    pub max_rows: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedureTask {
    pub datasource: String,
    /// A procedure name, `name` or `schema.name` (arguments are in `args`).
    pub call: String,
    /// IN argument values, bound in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// OUT parameters (after the IN ones, in order), each read into the out param of that
    /// name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpTask {
    pub url: String,
    #[serde(default, skip_serializing_if = "is_default")]
    pub method: HttpMethod,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `None`: any 2xx status succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<ExpectStatus>,
    /// The response body must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body_contains: Option<String>,
    /// Limit on one request, from connecting to the end of the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<Duration>,
    /// Out param name → JSON path (starting with `$`) into the response body.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub out: BTreeMap<String, String>,
    /// Follow 3xx answers (each hop checked by the network guard again); else a 3xx is
    /// the answer.
    #[serde(default, skip_serializing_if = "is_default")]
    pub follow_redirects: bool,
}

/// Statuses that make an `http` task succeed: a list of codes (`[200, 204]`; a single code
/// `201` is read as `[201]`) or an inclusive range written as a string (`"200-299"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectStatus {
    Codes(Vec<u16>),
    Range { from: u16, to: u16 },
}

impl ExpectStatus {
    pub fn matches(&self, status: u16) -> bool {
        match self {
            ExpectStatus::Codes(codes) => codes.contains(&status),
            ExpectStatus::Range { from, to } => (*from..=*to).contains(&status),
        }
    }

    /// Parses `"200-299"`; both ends within 100..=599 and `from <= to`.
    pub fn parse_range(text: &str) -> Result<ExpectStatus, String> {
        let bad = || format!("{text:?} is not a status range (write e.g. \"200-299\")");
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let from: u16 = a.trim().parse().map_err(|_| bad())?;
        let to: u16 = b.trim().parse().map_err(|_| bad())?;
        if !(STATUS_CODES.contains(&from) && STATUS_CODES.contains(&to)) || from > to {
            return Err(bad());
        }
        Ok(ExpectStatus::Range { from, to })
    }
}

/// HTTP status codes that `expect_status` may name.
pub const STATUS_CODES: std::ops::RangeInclusive<u16> = 100..=599;

impl Serialize for ExpectStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ExpectStatus::Codes(codes) => codes.serialize(s),
            ExpectStatus::Range { from, to } => s.collect_str(&format_args!("{from}-{to}")),
        }
    }
}

impl<'de> Deserialize<'de> for ExpectStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Codes(Vec<u16>),
            Code(u16),
            Range(String),
        }
        match Raw::deserialize(d)? {
            Raw::Codes(codes) => Ok(ExpectStatus::Codes(codes)),
            Raw::Code(code) => Ok(ExpectStatus::Codes(vec![code])),
            Raw::Range(text) => ExpectStatus::parse_range(&text).map_err(serde::de::Error::custom),
        }
    }
}

/// `sub_process {workflow}`: `W` (same project) or `P/W`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubProcessTask {
    pub workflow: String,
}

impl SubProcessTask {
    /// `(project, workflow)`; the project is `None` when it is the parent's.
    pub fn target(&self) -> (Option<&str>, &str) {
        split_workflow_ref(&self.workflow)
    }
}

/// Splits `P/W` into `(Some(P), W)` and `W` into `(None, W)`.
pub fn split_workflow_ref(text: &str) -> (Option<&str>, &str) {
    match text.split_once('/') {
        Some((project, workflow)) => (Some(project), workflow),
        None => (None, text),
    }
}

/// Whether all or any of the dependent items must be satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DependentOp {
    All,
    Any,
}

impl DependentOp {
    /// The YAML key: `all` or `any`.
    pub fn key(self) -> &'static str {
        match self {
            DependentOp::All => "all",
            DependentOp::Any => "any",
        }
    }
}

/// `dependent {all: [...]}` or `dependent {any: [...]}` (exactly one of the two), with
/// `check_interval`, `failure` and `wait_limit` beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependentTask {
    pub op: DependentOp,
    pub items: Vec<DependentEntry>,
    /// Time between two checks while waiting; at least 1s. `None`: the master's default.
    pub check_interval: Option<Duration>,
    pub failure: DependentFailure,
    /// How long to wait in all before failing. `None`: the master's default.
    pub wait_limit: Option<Duration>,
}

/// One entry of a dependent task's `all`/`any`: an item, or a group `{all: [items]}` /
/// `{any: [items]}` of plain items (groups do not nest further).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependentEntry {
    Item(DependentItem),
    Group {
        op: DependentOp,
        items: Vec<DependentItem>,
    },
}

impl Serialize for DependentTask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(self.op.key(), &self.items)?;
        if let Some(interval) = &self.check_interval {
            map.serialize_entry("check_interval", interval)?;
        }
        if !is_default(&self.failure) {
            map.serialize_entry("failure", &self.failure)?;
        }
        if let Some(limit) = &self.wait_limit {
            map.serialize_entry("wait_limit", limit)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for DependentTask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            all: Option<Vec<DependentEntry>>,
            any: Option<Vec<DependentEntry>>,
            #[serde(default)]
            check_interval: Option<Duration>,
            #[serde(default)]
            failure: DependentFailure,
            #[serde(default)]
            wait_limit: Option<Duration>,
        }
        let raw = Raw::deserialize(d)?;
        let (op, items) = match (raw.all, raw.any) {
            (Some(items), None) => (DependentOp::All, items),
            (None, Some(items)) => (DependentOp::Any, items),
            _ => {
                return Err(serde::de::Error::custom(
                    "a dependent task needs exactly one of `all` and `any`",
                ));
            }
        };
        Ok(DependentTask {
            op,
            items,
            check_interval: raw.check_interval,
            failure: raw.failure,
            wait_limit: raw.wait_limit,
        })
    }
}

impl Serialize for DependentEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            DependentEntry::Item(item) => item.serialize(s),
            DependentEntry::Group { op, items } => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(op.key(), items)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for DependentEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // One map that may hold either shape; which keys are present decides.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            all: Option<Vec<DependentItem>>,
            #[serde(default)]
            any: Option<Vec<DependentItem>>,
            #[serde(default)]
            workflow: Option<String>,
            #[serde(default)]
            task: Option<String>,
            #[serde(default)]
            window: Option<DependentWindow>,
        }
        let raw = Raw::deserialize(d)?;
        let item_keys = raw.workflow.is_some() || raw.task.is_some() || raw.window.is_some();
        match (raw.all, raw.any, item_keys) {
            (Some(items), None, false) => Ok(DependentEntry::Group {
                op: DependentOp::All,
                items,
            }),
            (None, Some(items), false) => Ok(DependentEntry::Group {
                op: DependentOp::Any,
                items,
            }),
            (None, None, true) => match (raw.workflow, raw.window) {
                (Some(workflow), Some(window)) => Ok(DependentEntry::Item(DependentItem {
                    workflow,
                    task: raw.task,
                    window,
                })),
                _ => Err(serde::de::Error::custom(
                    "a dependent item needs `workflow` and `window`",
                )),
            },
            _ => Err(serde::de::Error::custom(
                "a dependent entry is an item {workflow, task, window} or a group {all: [...]} / {any: [...]}",
            )),
        }
    }
}

/// One condition of a `dependent` task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependentItem {
    /// `W` (same project) or `P/W`.
    pub workflow: String,
    /// `None`: the whole workflow instance must have succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    pub window: DependentWindow,
}

/// `conditions {success: [tasks], failure: [tasks]}`: which branch runs after the upstream
/// tasks succeeded or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionsTask {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchTask {
    pub cases: Vec<SwitchCase>,
    /// Task that runs when no case matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// `{when: "${x} > 3", then: task}`; the expression is checked by the evaluator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchCase {
    pub when: String,
    pub then: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkTask {
    /// The application jar or Python file.
    pub main: String,
    /// `--class`, for a jar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_mode: Option<DeployMode>,
    /// `--name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// `--driver-cores`, `1..=`[`MAX_CORES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_cores: Option<u32>,
    /// `--driver-memory`: digits and an optional unit k, m, g or t (`512m`, `2g`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_memory: Option<String>,
    /// `--num-executors`, `1..=`[`MAX_EXECUTORS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_executors: Option<u32>,
    /// `--executor-cores`, `1..=`[`MAX_CORES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_cores: Option<u32>,
    /// `--executor-memory`, as `driver_memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_memory: Option<String>,
    /// `--queue` (YARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conf: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrTask {
    pub jar: String,
    /// `None`: the jar manifest's `Main-Class`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_class: Option<String>,
    /// `-D mapreduce.job.name=...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// `-D mapreduce.job.queuename=...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Passed as `-D key=value`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conf: BTreeMap<String, String>,
}

/// The most cores `driver_cores` and `executor_cores` may ask for.
pub const MAX_CORES: u32 = 1024;
/// The most executors `num_executors` may ask for.
pub const MAX_EXECUTORS: u32 = 100_000;

/// One `depends_on` entry: the relation `task -> this task`. Serialized as the plain task
/// name when `on` is `success` and there is no delay, as users write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependsOn {
    pub task: String,
    pub on: Condition,
    pub delay: Option<Duration>,
}

impl DependsOn {
    /// `depends_on: [task]`.
    pub fn on_success(task: impl Into<String>) -> Self {
        DependsOn {
            task: task.into(),
            on: Condition::Success,
            delay: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct DependsOnMap {
    task: String,
    #[serde(default, skip_serializing_if = "is_default")]
    on: Condition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay: Option<Duration>,
}

impl Serialize for DependsOn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.on == Condition::Success && self.delay.is_none() {
            return s.serialize_str(&self.task);
        }
        DependsOnMap {
            task: self.task.clone(),
            on: self.on,
            delay: self.delay,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for DependsOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Map(DependsOnMap),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Name(task) => DependsOn::on_success(task),
            Raw::Map(m) => DependsOn {
                task: m.task,
                on: m.on,
                delay: m.delay,
            },
        })
    }
}

/// `timeout: {after, strategy}` of a task (`timeout: 10m` is short for `{after: 10m}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTimeout {
    pub after: Duration,
    /// Default `fail`: a limit that only warns must be asked for.
    #[serde(default, skip_serializing_if = "is_default")]
    pub strategy: TimeoutStrategy,
}

/// A `kind: datasource` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasourceSpec {
    pub project: String,
    pub name: String,
    #[serde(rename = "type")]
    pub db_type: DatasourceType,
    pub url: String,
    /// Name of the environment variable that holds the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The url may reach the scheduler's own database: only an admin may say so.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_scheduler_database: bool,
    #[serde(skip)]
    pub source: SourceMap,
}

/// A `kind: alert_group` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertGroupSpec {
    pub name: String,
    pub channels: Vec<AlertChannel>,
    #[serde(skip)]
    pub source: SourceMap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertChannel {
    Email(EmailChannel),
    Webhook(WebhookChannel),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailChannel {
    pub to: Vec<String>,
    pub smtp: SmtpSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpSpec {
    pub host: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "is_default")]
    pub starttls: bool,
    /// Implicit TLS (SMTPS); exclusive with `starttls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookChannel {
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// One parsed document of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
// A handful per file, moved rarely: boxing the workflow would only add noise to every match.
#[allow(clippy::large_enum_variant)]
pub enum Document {
    Workflow(WorkflowSpec),
    Datasource(DatasourceSpec),
    AlertGroup(AlertGroupSpec),
    TaskGroup(TaskGroupSpec),
    Tenant(TenantSpec),
    Schedule(ScheduleDocSpec),
    Variables(VariablesSpec),
    Secret(SecretSpec),
}

/// A `kind: schedule` document: a schedule of a workflow besides the one its own
/// `schedule:` declares (what `POST /api/v1/schedules` adds). Applying it again changes
/// nothing; a schedule is known by its workflow, expression, zone, window and misfire
/// policy, and `enabled` is its on/off state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDocSpec {
    pub project: String,
    pub workflow: String,
    #[serde(flatten)]
    pub schedule: ScheduleSpec,
    #[serde(skip)]
    pub source: SourceMap,
}

/// A `kind: variables` document: the whole set of one project's variables (`${var.NAME}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariablesSpec {
    pub project: String,
    pub values: BTreeMap<String, String>,
    pub source: SourceMap,
}

/// A `kind: secret` document: one named value of a project (`${secret.NAME}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    pub project: String,
    pub name: String,
    pub value: SecretSource,
    pub source: SourceMap,
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the document; encrypted with `PGDAG_SECRET_KEY` before it is stored.
    Value(SecretText),
    /// This environment variable of the worker that runs the task.
    Env(String),
}

/// A secret's plain text: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(***)")
    }
}

/// A `kind: tenant` document: a name for an OS user that process tasks run as, and the
/// projects whose workflows may name it. Defined by the operator (CLI) or an admin (REST).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSpec {
    pub name: String,
    pub os_user: String,
    pub projects: Vec<String>,
    /// Projects (each also in `projects`) whose workflows that name no `tenant:` run as
    /// this one; a project has at most one default tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_for: Vec<String>,
    #[serde(skip)]
    pub source: SourceMap,
}

/// A `kind: task_group` document: a named concurrency limit shared across workflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskGroupSpec {
    pub name: String,
    /// Task attempts of the group that may be queued or running at once.
    pub size: u32,
    #[serde(skip)]
    pub source: SourceMap,
}

impl Document {
    /// The `kind:` spelling.
    pub fn kind(&self) -> &'static str {
        match self {
            Document::Workflow(_) => "workflow",
            Document::Datasource(_) => "datasource",
            Document::AlertGroup(_) => "alert_group",
            Document::TaskGroup(_) => "task_group",
            Document::Tenant(_) => "tenant",
            Document::Schedule(_) => "schedule",
            Document::Variables(_) => "variables",
            Document::Secret(_) => "secret",
        }
    }
    /// Positions of the document's top-level keys.
    pub fn source(&self) -> &SourceMap {
        match self {
            Document::Workflow(w) => &w.source,
            Document::Datasource(d) => &d.source,
            Document::AlertGroup(a) => &a.source,
            Document::TaskGroup(g) => &g.source,
            Document::Tenant(t) => &t.source,
            Document::Schedule(s) => &s.source,
            Document::Variables(v) => &v.source,
            Document::Secret(s) => &s.source,
        }
    }
}

// ---- triggers: runs started by the end of another workflow's runs ----
//
// `triggers: [{ after: W | P/W, state: succeeded }]`: each instance of the workflow named by
// `after` that ends in `state` starts one instance of this workflow (the master does it in
// the transaction that ends the other instance, `store::triggers`). The parser checks the
// shape; cycles through other workflows are refused when the definition is stored.

/// Most triggers one workflow may list.
pub const MAX_TRIGGERS: usize = 100;

spec_enum!(
    /// The end of the other workflow's instance that starts a run: `any` is any of the
    /// three final states (a pause is not an end).
    TriggerState, "trigger state", default Succeeded, {
    Succeeded => "succeeded",
    Failed => "failed",
    Stopped => "stopped",
    Any => "any",
});

impl TriggerState {
    /// The instance states this trigger fires on.
    pub fn states(self) -> &'static [WorkflowState] {
        match self {
            TriggerState::Succeeded => &[WorkflowState::Succeeded],
            TriggerState::Failed => &[WorkflowState::Failed],
            TriggerState::Stopped => &[WorkflowState::Stopped],
            TriggerState::Any => &[
                WorkflowState::Succeeded,
                WorkflowState::Failed,
                WorkflowState::Stopped,
            ],
        }
    }
}

fn is_succeeded(state: &TriggerState) -> bool {
    *state == TriggerState::Succeeded
}

/// One entry of `triggers:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerSpec {
    /// The other workflow, `W` (this project) or `P/W`, as written.
    pub after: String,
    #[serde(default, skip_serializing_if = "is_succeeded")]
    pub state: TriggerState,
}

/// One row of the reverse index: an end of `project/workflow` in `state` starts a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub project: String,
    pub workflow: String,
    pub state: WorkflowState,
}

impl WorkflowSpec {
    /// The `(project, workflow, state)` ends that start a run of this workflow, `after: W`
    /// read as this project's `W`, `state: any` as its three states.
    pub fn trigger_upstreams(&self) -> Vec<Upstream> {
        let mut out = Vec::new();
        for trigger in &self.triggers {
            let (project, workflow) = split_workflow_ref(&trigger.after);
            for &state in trigger.state.states() {
                out.push(Upstream {
                    project: project.unwrap_or(&self.project).to_string(),
                    workflow: workflow.to_string(),
                    state,
                });
            }
        }
        out
    }
}

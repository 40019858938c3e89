//! Task types behind one trait.
//!
//! Every task type is a [`TaskPlugin`]: it names the keys whose text gets `${...}` expanded
//! before a run, checks a task's keys beyond their YAML shape when the workflow is applied
//! (expressions, JSON paths, references), and — for worker-side types — runs one attempt
//! with a [`RunContext`] (parameters, log sink, cancellation) and reports an [`Outcome`].
//! Master-side types (`empty`, `conditions`, `switch`, `sub_process`, `dependent`) share the
//! validation and are carried out by the master's evaluator; they never reach a worker.
//!
//! Adding a type: a variant in `model::TaskType` and `spec::TaskKind` with its keys parsed in
//! `spec::parse`, a file here with a unit struct implementing `TaskPlugin`, and one line in
//! [`plugin`]. `docs/task-types.md` walks through `http` as the example.

pub mod command_line;
pub mod datasource;
pub mod env;
pub mod expand;
pub mod http;
pub mod json_path;
pub mod mask;
pub mod master_side;
pub mod net;
pub mod pool;
pub mod procedure;
pub mod run_as;
pub mod script;
pub mod sql;
pub mod tls;
pub mod usage;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::model::TaskType;
use crate::params::ParamMap;
use crate::spec::{Document, Pos, TaskKind, TaskSpec, WorkflowSpec};
use crate::store::queue::ClaimedTask;

/// Where a type's tasks are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Decided by the master inside its evaluation transaction; holds no worker slot.
    Master,
    /// Claimed and run by a worker.
    Worker,
}

/// A problem found by [`TaskPlugin::validate`]: the task key it is about and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: &'static str,
    pub message: String,
}

impl Problem {
    pub fn new(key: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            key,
            message: message.into(),
        }
    }
}

/// How one attempt ended, as the type saw it. The executor turns a kill into `killed` and a
/// failing timeout into `failed`, whatever the type reports after its cancellation.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub succeeded: bool,
    pub exit_code: Option<i32>,
    pub out_params: ParamMap,
    /// Kept with the task instance (`sql`: rows or rows affected).
    pub result: Option<serde_json::Value>,
    /// Why it failed, in one line.
    pub error: Option<String>,
    /// A failure that another attempt cannot mend (the task's tenant cannot run on this
    /// worker): the task fails now, whatever retries it has left.
    pub no_retry: bool,
    /// What the attempt's process cost (process types only).
    pub usage: Option<usage::Usage>,
}

impl Outcome {
    pub fn success() -> Outcome {
        Outcome {
            succeeded: true,
            ..Outcome::default()
        }
    }
    /// A failure that retries cannot mend (see [`Outcome::no_retry`]).
    pub fn final_failure(error: impl Into<String>) -> Outcome {
        Outcome {
            no_retry: true,
            ..Outcome::failure(error)
        }
    }
    pub fn failure(error: impl Into<String>) -> Outcome {
        Outcome {
            succeeded: false,
            error: Some(error.into()),
            ..Outcome::default()
        }
    }
}

/// Where an attempt's output goes: the worker's log shipper, which writes it to Postgres.
pub trait LogSink: Send + Sync {
    /// Appends `text` (whole lines) to the attempt's log.
    fn log(&self, task: &ClaimedTask, text: String);

    /// As [`log`](LogSink::log), but waits while the sink holds too much not yet written
    /// (backpressure for a program's output: a task that prints faster than the database
    /// takes it is slowed down instead of filling the worker's memory).
    fn log_waiting<'a>(&'a self, task: &'a ClaimedTask, text: String) -> BoxFuture<'a, ()> {
        self.log(task, text);
        Box::pin(async {})
    }
}

/// Records the process groups of running scripts, so that a crashed worker's successor on
/// the same host can kill what it left.
pub trait ProcessRegistry: Send + Sync {
    fn add(&self, pgid: i32);
    fn remove(&self, pgid: i32);
}

/// What a worker-side run may use besides its task.
pub struct Resources {
    pub config: crate::config::Config,
    pub store: crate::store::Store,
    /// Opens stored datasource passwords; `None` when `PGDAG_SECRET_KEY` is unset.
    pub secret_key: Option<crate::secret::SecretKey>,
    /// Process groups of running scripts, for orphan reaping after a crash.
    pub registry: Arc<dyn ProcessRegistry>,
    pub http: reqwest::Client,
    /// Connection pools of the datasources that `sql` and `procedure` attempts use.
    pub pools: Arc<pool::Pools>,
}

/// One attempt's world: its task, parameters, log and cancellation.
pub struct RunContext {
    pub task: ClaimedTask,
    /// Every parameter resolved for this attempt (global, startup, upstream out, local).
    pub params: ParamMap,
    /// Fired when the attempt must stop (a kill, or a timeout with a failing strategy). The
    /// run should end promptly; what it reports then is overridden.
    pub cancel: CancellationToken,
    pub resources: Arc<Resources>,
    log_sink: Arc<dyn LogSink>,
}

impl RunContext {
    pub fn new(
        task: ClaimedTask,
        cancel: CancellationToken,
        resources: Arc<Resources>,
        log_sink: Arc<dyn LogSink>,
    ) -> RunContext {
        let params = crate::params::json_to_params(
            task.payload
                .get("params")
                .unwrap_or(&serde_json::Value::Null),
        );
        RunContext {
            task,
            params,
            cancel,
            resources,
            log_sink,
        }
    }

    /// Appends text to the task's log (add the newline yourself).
    pub fn log(&self, text: impl Into<String>) {
        self.log_sink.log(&self.task, text.into());
    }

    /// The task's type and keys, as the master expanded them.
    pub fn kind(&self) -> Result<TaskKind, String> {
        serde_json::from_value(self.task.payload.clone())
            .map_err(|e| format!("the task's payload does not describe a task: {e}"))
    }

    /// The project of the task's workflow.
    pub fn project(&self) -> &str {
        self.task
            .payload
            .get("project")
            .and_then(|p| p.as_str())
            .unwrap_or_default()
    }

    pub(crate) fn log_sink(&self) -> &Arc<dyn LogSink> {
        &self.log_sink
    }
}

/// One task type.
pub trait TaskPlugin: Sync {
    fn task_type(&self) -> TaskType;

    fn side(&self) -> Side;

    /// Keys whose strings get `${param}` and `$[time]` expansion before the run. Keys not
    /// listed (names, JSON paths, expressions) are passed as written.
    fn expanded_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks of the task's keys beyond their shape, at apply time.
    fn validate(&self, _task: &TaskSpec, _workflow: &WorkflowSpec) -> Vec<Problem> {
        Vec::new()
    }

    /// Runs one attempt on a worker. Master-side types are never dispatched.
    fn run<'a>(&'a self, _ctx: &'a RunContext) -> BoxFuture<'a, Result<Outcome, String>> {
        let ty = self.task_type();
        Box::pin(async move { Err(format!("{ty} tasks run on the master, not on a worker")) })
    }
}

/// The plugin of a task type.
pub fn plugin(ty: TaskType) -> &'static dyn TaskPlugin {
    match ty {
        TaskType::Shell => &script::Shell,
        TaskType::Python => &script::Python,
        TaskType::Spark => &script::Spark,
        TaskType::Mr => &script::MapReduce,
        TaskType::Sql => &sql::Sql,
        TaskType::Procedure => &procedure::Procedure,
        TaskType::Http => &http::Http,
        TaskType::Empty => &master_side::Empty,
        TaskType::Conditions => &master_side::Conditions,
        TaskType::Switch => &master_side::Switch,
        TaskType::SubProcess => &master_side::SubProcess,
        TaskType::Dependent => &master_side::Dependent,
    }
}

/// Every task type's own checks over one document: (position, message) pairs.
pub fn validate_document(document: &Document) -> Vec<(Pos, String)> {
    let Document::Workflow(workflow) = document else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in &workflow.tasks {
        let plugin = plugin(task.task_type());
        let mut problems = plugin.validate(task, workflow);
        if plugin.side() == Side::Master {
            problems.extend(master_side::common_problems(task));
        }
        for problem in problems {
            out.push((
                task.source.pos(problem.key),
                format!("task {}: {}", task.name, problem.message),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_plugin_of_that_type() {
        for ty in TaskType::ALL {
            let p = plugin(*ty);
            assert_eq!(p.task_type(), *ty);
            assert_eq!(p.side() == Side::Master, ty.runs_on_master(), "{ty}");
        }
    }
}

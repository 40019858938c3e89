//! Command-line interface (DESIGN §6). Commands talk to Postgres directly through `store`;
//! none needs the API to be running.

mod alerts;
mod hooks;
mod import;
mod inspect;
mod listings;
mod overrides;
mod plan;
mod porting;
mod setup;
mod values;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::store::StoreError;

#[derive(Parser, Debug)]
#[command(
    name = "pgdag",
    version,
    about = "A workflow scheduler coordinated by PostgreSQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create or upgrade the schema (idempotent); creates the database if missing.
    Migrate,
    /// Run every role in one process, after migrating and applying the bundled examples.
    Standalone,
    /// Run the given roles.
    Server {
        /// Comma-separated roles: api, master, worker, alert (default: all four).
        #[arg(long, default_value = "api,master,worker,alert")]
        roles: String,
        /// Comma-separated worker groups this worker serves (default: PGDAG_WORKER_GROUPS).
        #[arg(long)]
        worker_groups: Option<String>,
    },
    /// Create or update definitions from YAML files or directories.
    Apply {
        #[arg(short = 'f', long = "file", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Write nothing: print per document `created`, `unchanged` or `changed` with a
        /// unified diff against the stored version.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a project as YAML that `apply` accepts: its tenants, task groups, alert groups,
    /// datasources and workflows, with their on/off state (secrets left out, said in
    /// comments).
    Export {
        #[arg(long)]
        project: String,
        #[arg(long)]
        workflow: Option<String>,
    },
    /// Start a workflow; prints the instance id.
    Run {
        /// PROJECT/WORKFLOW
        target: String,
        /// A startup parameter, NAME=VALUE (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Wait for the end; exit 0 only if the instance succeeded.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        overrides: overrides::RunFlags,
        /// Run this task and everything downstream of it (repeatable); the other tasks
        /// are passed over.
        #[arg(long = "start-node", value_name = "TASK")]
        start_nodes: Vec<String>,
    },
    /// Print the tasks of a workflow in the order they would run, layer by layer, with
    /// their parameters expanded; writes nothing.
    Plan {
        /// PROJECT/WORKFLOW
        target: String,
        /// The schedule date (YYYY-MM-DD, or RFC 3339) the built-ins are computed from;
        /// default: now.
        #[arg(long)]
        date: Option<String>,
        /// A startup parameter, NAME=VALUE (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// List projects.
    Projects {
        #[arg(long)]
        json: bool,
    },
    /// List workflows: release state, version, schedule.
    Workflows {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List workflow instances, newest first.
    Instances {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        workflow: Option<String>,
        /// Only instances in this state.
        #[arg(long)]
        state: Option<String>,
        /// At most this many (1-1000, default 50).
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Show an instance and its task instances.
    Status {
        instance_id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Print a task instance's log.
    Logs {
        task_instance_id: i64,
        /// Keep printing until the task ends.
        #[arg(long)]
        follow: bool,
    },
    /// Run a workflow for past dates: its schedule's fire times in a range of days (midnight
    /// of each day without a schedule), or on listed days. Prints `backfill <id>`, then the
    /// instance ids in run order.
    Backfill {
        /// PROJECT/WORKFLOW
        #[arg(required_unless_present = "cancel")]
        target: Option<String>,
        /// First day (YYYY-MM-DD), with --to.
        #[arg(long, requires = "to", conflicts_with = "dates")]
        from: Option<chrono::NaiveDate>,
        /// Last day, included.
        #[arg(long, requires = "from")]
        to: Option<chrono::NaiveDate>,
        /// Comma-separated days.
        #[arg(long, value_delimiter = ',')]
        dates: Vec<chrono::NaiveDate>,
        #[arg(long, default_value = "serial", value_parser = ["serial", "parallel"])]
        mode: String,
        /// Instances at once in parallel mode.
        #[arg(long, default_value_t = 1)]
        parallelism: i32,
        #[arg(long, default_value = "asc", value_parser = ["asc", "desc"])]
        order: String,
        /// Stop the remaining dates when one fails.
        #[arg(long)]
        stop_on_failure: bool,
        /// A startup parameter, NAME=VALUE (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[command(flatten)]
        overrides: overrides::RunFlags,
        /// Cancel the backfill with this id instead.
        #[arg(long, value_name = "BACKFILL_ID", conflicts_with_all = ["target", "from", "dates"])]
        cancel: Option<i64>,
    },
    /// Control a running or finished instance (pause, resume, stop, rerun, start-failed
    /// INSTANCE_ID) or one of its tasks (retry-task, force-success, hold, release
    /// TASK_INSTANCE_ID).
    Ctl {
        #[arg(value_parser = [
            "pause", "resume", "stop", "rerun", "start-failed", "retry-task", "force-success",
            "hold", "release",
        ])]
        action: String,
        /// INSTANCE_ID, or TASK_INSTANCE_ID for retry-task, force-success, hold and release.
        #[arg(value_name = "ID")]
        instance_id: i64,
    },
    /// Put a workflow online or offline, or delete it.
    Workflow {
        #[command(subcommand)]
        command: WorkflowCommand,
    },
    /// Delete a project.
    Project {
        #[command(subcommand)]
        command: ProjectCommand,
    },
    /// Switch a workflow's schedule on or off.
    Schedule {
        /// on | off
        #[arg(value_parser = ["on", "off"])]
        switch: String,
        /// PROJECT/WORKFLOW
        target: String,
    },
    /// Cron expressions.
    Cron {
        #[command(subcommand)]
        command: CronCommand,
    },
    /// Live processes: roles, leader, heartbeat age, running tasks.
    Servers {
        #[arg(long)]
        json: bool,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Webhooks that start a workflow (`POST /hooks/{token}`).
    Hook {
        #[command(subcommand)]
        command: HookCommand,
    },
    /// Database roles as SQL clients of projects (docs/security.md).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Alerts.
    Alert {
        #[command(subcommand)]
        command: AlertCommand,
    },
    /// Convert another scheduler's export files into pgdag documents.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// DolphinScheduler export files (1.3, 2.x-3.2, 3.3+) → YAML on stdout, files in a
    /// directory (`--out`), or applied in one transaction (`--apply`). Exits 2, writing
    /// nothing, when a file is not an export or a task cannot be carried.
    Dolphinscheduler {
        #[arg(required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Put every workflow and datasource into this project (required for 2.x/3.x
        /// exports, which name projects by code only).
        #[arg(long)]
        project: Option<String>,
        /// Write PROJECT/WORKFLOW.yaml files, PROJECT/datasources.yaml and IMPORT.md here.
        #[arg(long, conflicts_with = "apply")]
        out: Option<PathBuf>,
        /// Apply everything in one transaction (datasources that exist are left as they are).
        #[arg(long)]
        apply: bool,
        /// Turn tasks pgdag cannot carry into shell tasks that fail with what to port.
        #[arg(long)]
        allow_unsupported: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum WorkflowCommand {
    /// Offline: its schedules do not fire and new starts are refused (runs in progress
    /// finish). A new version whose only change is `release: offline`.
    Offline {
        /// PROJECT/WORKFLOW
        target: String,
    },
    /// Back online: startable and scheduled again.
    Online {
        /// PROJECT/WORKFLOW
        target: String,
    },
    /// Delete a workflow and its schedules; refused while instances of it have not ended.
    /// Its finished instances stay readable unless `--with-history`.
    Delete {
        /// PROJECT/WORKFLOW
        target: String,
        /// Also remove its finished instances, their logs and its versions.
        #[arg(long)]
        with_history: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// Delete a project: its workflows, schedules and datasources; refused while instances
    /// of it have not ended. Its finished instances stay readable unless `--with-history`.
    Delete {
        project: String,
        #[arg(long)]
        with_history: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AlertCommand {
    /// Send a test message to every channel of an alert group, from this process, and
    /// print per channel `sent` or why not. Exits 2 for an unknown group, 1 when a channel
    /// fails.
    Test {
        /// The alert group.
        group: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user.
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password, read from standard input (first line). Ends the user's web
    /// sessions and revokes their API tokens, unless `--keep-tokens`.
    Passwd {
        name: String,
        /// Accepted for symmetry with `user add`: the password is always read from stdin.
        #[arg(long)]
        password_stdin: bool,
        /// Leave the user's API tokens alive.
        #[arg(long)]
        keep_tokens: bool,
    },
    /// List users (name, role, whether a password is set, tokens).
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum CronCommand {
    /// Print the next fire times of an expression (Quartz 6/7 fields or Unix 5 fields),
    /// one RFC 3339 time a line, as the scheduler would fire them.
    Next {
        expr: String,
        /// IANA time zone.
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Start after this time (RFC 3339; default: now).
        #[arg(long)]
        from: Option<String>,
        #[arg(long, default_value_t = 5)]
        count: usize,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Make an existing database role a client of a project: it may start that project's
    /// workflows and read its instances through the SQL API, and nothing else.
    Grant { role: String, project: String },
    /// Take a project from a client role (with its last project, `pgdag_client` too).
    Revoke { role: String, project: String },
}

#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// Create a webhook for PROJECT/WORKFLOW; prints its URL (shown only once).
    Create { target: String },
    /// List the webhooks of PROJECT or PROJECT/WORKFLOW (never their tokens).
    List {
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a webhook: calls to it answer 404 at once.
    Revoke { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a user; prints only the token.
    Create {
        #[arg(long)]
        user: String,
        /// A name for the token, unique per user (`admin (token ci)` in the audit trail).
        #[arg(long)]
        name: Option<String>,
        /// The token stops working after this long (`30d`, `12h`); default: never.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens (id, name, user, created, last used, expires), newest first.
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: requests with it answer 401 at once.
    Revoke { id: i64 },
}

impl Command {
    /// `standalone` and `server`: long-running processes, not commands whose output is read.
    pub fn runs_a_server(&self) -> bool {
        matches!(self, Command::Standalone | Command::Server { .. })
    }
}

/// A failure with its exit code: 2 for usage and validation errors, 1 for the rest.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: 2,
            message: message.into(),
        }
    }
    pub fn runtime(message: impl Into<String>) -> CliError {
        CliError {
            code: 1,
            message: message.into(),
        }
    }
}

/// A driver error of a command's own transaction (`begin`, `commit`) reads as the store's.
impl From<tokio_postgres::Error> for CliError {
    fn from(e: tokio_postgres::Error) -> CliError {
        StoreError::from(e).into()
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        match e {
            StoreError::NotFound(_) | StoreError::Invalid(_) | StoreError::Conflict(_) => {
                CliError::usage(e.to_string())
            }
            other => {
                let mut message = other.to_string();
                if other.failure() == Some(crate::store::DbFailure::NoDatabase)
                    || message.contains("FATAL: database")
                {
                    message.push_str(" (run `pgdag migrate` or `pgdag standalone` first)");
                }
                CliError::runtime(message)
            }
        }
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> CliError {
        CliError::usage(e.to_string())
    }
}

pub type CliResult = Result<i32, CliError>;

pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Migrate => setup::migrate().await,
        Command::Standalone => setup::standalone().await,
        Command::Server {
            roles,
            worker_groups,
        } => setup::server(&roles, worker_groups.as_deref()).await,
        Command::Apply { files, dry_run } => match dry_run {
            true => porting::dry_run(&files).await,
            false => setup::apply(&files).await,
        },
        Command::Export { project, workflow } => {
            porting::export(&project, workflow.as_deref()).await
        }
        Command::Run {
            target,
            params,
            wait,
            overrides,
            start_nodes,
        } => inspect::run(&target, &params, wait, &overrides, &start_nodes).await,
        Command::Plan {
            target,
            date,
            params,
        } => plan::plan(&target, date.as_deref(), &params).await,
        Command::Projects { json } => listings::projects(json).await,
        Command::Workflows { project, json } => listings::workflows(project.as_deref(), json).await,
        Command::Instances {
            project,
            workflow,
            state,
            limit,
            json,
        } => {
            listings::instances(
                project.as_deref(),
                workflow.as_deref(),
                state.as_deref(),
                limit,
                json,
            )
            .await
        }
        Command::Status { instance_id, json } => inspect::status(instance_id, json).await,
        Command::Logs {
            task_instance_id,
            follow,
        } => inspect::logs(task_instance_id, follow).await,
        Command::Servers { json } => inspect::servers(json).await,
        Command::Backfill {
            target,
            from,
            to,
            dates,
            mode,
            parallelism,
            order,
            stop_on_failure,
            params,
            overrides,
            cancel,
        } => match cancel {
            Some(id) => inspect::backfill_cancel(id).await,
            None => {
                let span = match (from, to) {
                    (Some(from), Some(to)) => Some(crate::cron::backfill::Span::Range { from, to }),
                    _ if !dates.is_empty() => Some(crate::cron::backfill::Span::Dates(dates)),
                    _ => None,
                };
                match (target, span) {
                    (Some(target), Some(span)) => {
                        inspect::backfill(
                            &target,
                            span,
                            &mode,
                            parallelism,
                            &order,
                            stop_on_failure,
                            &params,
                            &overrides,
                        )
                        .await
                    }
                    _ => Err(CliError::usage(
                        "backfill needs PROJECT/WORKFLOW and --from/--to or --dates",
                    )),
                }
            }
        },
        Command::Ctl {
            action,
            instance_id,
        } => inspect::ctl(&action, instance_id).await,
        Command::Workflow {
            command: WorkflowCommand::Offline { target },
        } => inspect::set_release(&target, crate::model::Release::Offline).await,
        Command::Workflow {
            command: WorkflowCommand::Online { target },
        } => inspect::set_release(&target, crate::model::Release::Online).await,
        Command::Workflow {
            command:
                WorkflowCommand::Delete {
                    target,
                    with_history,
                },
        } => inspect::delete_workflow(&target, with_history).await,
        Command::Project {
            command:
                ProjectCommand::Delete {
                    project,
                    with_history,
                },
        } => inspect::delete_project(&project, with_history).await,
        Command::Schedule { switch, target } => {
            inspect::schedule_switch(&target, switch == "on").await
        }
        Command::Cron {
            command:
                CronCommand::Next {
                    expr,
                    tz,
                    from,
                    count,
                },
        } => inspect::cron_next(&expr, &tz, from.as_deref(), count),
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    admin,
                    password_stdin,
                },
        } => setup::user_add(&name, admin, password_stdin).await,
        Command::User {
            command:
                UserCommand::Passwd {
                    name,
                    password_stdin: _,
                    keep_tokens,
                },
        } => setup::user_passwd(&name, keep_tokens).await,
        Command::User {
            command: UserCommand::List { json },
        } => setup::user_list(json).await,
        Command::Token {
            command:
                TokenCommand::Create {
                    user,
                    name,
                    expires_in,
                },
        } => setup::token_create(&user, name.as_deref(), expires_in.as_deref()).await,
        Command::Token {
            command: TokenCommand::List { user, json },
        } => setup::token_list(user.as_deref(), json).await,
        Command::Token {
            command: TokenCommand::Revoke { id },
        } => setup::token_revoke(id).await,
        Command::Hook { command } => match command {
            HookCommand::Create { target } => hooks::create(&target).await,
            HookCommand::List { target, json } => hooks::list(target.as_deref(), json).await,
            HookCommand::Revoke { id } => hooks::revoke(id).await,
        },
        Command::Client {
            command: ClientCommand::Grant { role, project },
        } => setup::client_grant(&role, &project).await,
        Command::Client {
            command: ClientCommand::Revoke { role, project },
        } => setup::client_revoke(&role, &project).await,
        Command::Alert {
            command: AlertCommand::Test { group },
        } => alerts::test(&group).await,
        Command::Import {
            command:
                ImportCommand::Dolphinscheduler {
                    files,
                    project,
                    out,
                    apply,
                    allow_unsupported,
                },
        } => {
            import::dolphinscheduler(&files, project, out.as_deref(), apply, allow_unsupported)
                .await
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.message);
            e.code
        }
    }
}

/// Who a CLI command acts as in the audit trail: `cli:<os user>`.
pub fn actor() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    format!("cli:{user}")
}

/// A small pool for one CLI command; sessions (migrations) on `PGDAG_SESSION_DATABASE_URL`
/// when set, and unnamed statements on the pool in `PGDAG_POLL_ONLY` mode (PgBouncer).
fn connect(config: &crate::config::Config) -> Result<crate::store::Store, CliError> {
    let mut store = crate::store::Store::connect(&config.database_url, "pgdag:cli", 2)?;
    if let Some(url) = &config.session_database_url {
        store = store.with_session_url(url, "pgdag:cli")?;
    }
    if config.poll_only {
        crate::store::db::use_unnamed_statements();
    }
    Ok(store)
}

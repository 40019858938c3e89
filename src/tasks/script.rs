//! Types that run a program: `shell` and `python` scripts, `spark` (spark-submit) and `mr`
//! (hadoop jar). Each attempt runs in its own process group; stdout and stderr go to the
//! log line by line, `${setValue(k=v)}` lines on stdout become out params, and the exit code
//! decides the outcome. On cancellation the whole group gets SIGTERM, then SIGKILL after a
//! grace period; whatever the program left running in its group is killed when it exits.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures_util::future::BoxFuture;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::command_line::{self, MrJob, SparkJob};
use super::{Outcome, RunContext, Side, TaskPlugin};
use crate::model::TaskType;
use crate::params;
use crate::spec::TaskKind;

/// Time between SIGTERM and SIGKILL when a task is killed.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

pub struct Shell;
pub struct Python;
pub struct Spark;
pub struct MapReduce;

impl TaskPlugin for Shell {
    fn task_type(&self) -> TaskType {
        TaskType::Shell
    }
    fn side(&self) -> Side {
        Side::Worker
    }
    fn expanded_keys(&self) -> &'static [&'static str] {
        &["script"]
    }
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(run_script(ctx, "bash".to_string(), "sh"))
    }
}

impl TaskPlugin for Python {
    fn task_type(&self) -> TaskType {
        TaskType::Python
    }
    fn side(&self) -> Side {
        Side::Worker
    }
    fn expanded_keys(&self) -> &'static [&'static str] {
        &["script"]
    }
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(run_script(ctx, ctx.resources.config.python.clone(), "py"))
    }
}

impl TaskPlugin for Spark {
    fn task_type(&self) -> TaskType {
        TaskType::Spark
    }
    fn side(&self) -> Side {
        Side::Worker
    }
    fn expanded_keys(&self) -> &'static [&'static str] {
        &[
            "main",
            "main_class",
            "app_name",
            "queue",
            "args",
            "conf",
            "master",
        ]
    }
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(async move {
            let TaskKind::Spark(spark) = ctx.kind()? else {
                return Err("not a spark task".into());
            };
            let deploy_mode = spark.deploy_mode.map(|d| d.as_str());
            let argv = command_line::spark_submit(
                &SparkJob {
                    main: &spark.main,
                    main_class: spark.main_class.as_deref(),
                    master: spark.master.as_deref(),
                    deploy_mode,
                    app_name: spark.app_name.as_deref(),
                    driver_cores: spark.driver_cores,
                    driver_memory: spark.driver_memory.as_deref(),
                    num_executors: spark.num_executors,
                    executor_cores: spark.executor_cores,
                    executor_memory: spark.executor_memory.as_deref(),
                    queue: spark.queue.as_deref(),
                    conf: &spark.conf,
                    args: &spark.args,
                },
                env_home("SPARK_HOME").as_deref(),
            );
            run_program(ctx, argv, None).await
        })
    }
}

impl TaskPlugin for MapReduce {
    fn task_type(&self) -> TaskType {
        TaskType::Mr
    }
    fn side(&self) -> Side {
        Side::Worker
    }
    fn expanded_keys(&self) -> &'static [&'static str] {
        &["jar", "main_class", "app_name", "queue", "args", "conf"]
    }
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(async move {
            let TaskKind::Mr(mr) = ctx.kind()? else {
                return Err("not an mr task".into());
            };
            let argv = command_line::hadoop_jar(
                &MrJob {
                    jar: &mr.jar,
                    main_class: mr.main_class.as_deref(),
                    app_name: mr.app_name.as_deref(),
                    queue: mr.queue.as_deref(),
                    conf: &mr.conf,
                    args: &mr.args,
                },
                env_home("HADOOP_HOME").as_deref(),
            );
            run_program(ctx, argv, None).await
        })
    }
}

fn env_home(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// Largest script passed inline with `-c`.
const INLINE_SCRIPT_MAX: usize = 100 * 1024;

async fn run_script(
    ctx: &RunContext,
    interpreter: String,
    extension: &str,
) -> Result<Outcome, String> {
    let task = &ctx.task;
    let script = task
        .payload
        .get("script")
        .and_then(|s| s.as_str())
        .ok_or_else(|| "the task has no script".to_string())?;
    // Scripts up to INLINE_SCRIPT_MAX go as `-c` arguments; larger ones through a file
    // (the kernel limits one argument to 128 KiB). Creating and deleting a file and a
    // directory per attempt cost more than the process spawn itself.
    if script.len() <= INLINE_SCRIPT_MAX {
        return run_program(
            ctx,
            vec![interpreter, "-c".into(), script.to_string()],
            None,
        )
        .await;
    }
    let path = work_dir().join(format!("task-{}-{}.{extension}", task.id, task.attempt));
    let text = script.to_string();
    let target = path.clone();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(target.parent().expect("a file in a directory"))?;
        std::fs::write(&target, text)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let argv = vec![interpreter, path.display().to_string()];
    let outcome = run_program(ctx, argv, Some(&path)).await;
    let _ = tokio::fs::remove_file(&path).await;
    outcome
}

/// Runs `argv` in its own process group until it exits or `ctx.cancel` fires.
async fn run_program(
    ctx: &RunContext,
    argv: Vec<String>,
    script_file: Option<&std::path::Path>,
) -> Result<Outcome, String> {
    let task = &ctx.task;
    let program = argv.first().cloned().unwrap_or_default();
    if script_file.is_some() || !matches!(task.task_type.as_str(), "shell" | "python") {
        ctx.log(format!(
            "[pgdag] running: {}\n",
            command_line::display(&argv)
        ));
    }
    // A tenant's task runs as its OS user, decided (and looked up) before the fork.
    let run_as = match super::run_as::TenantRef::from_payload(&task.payload) {
        None => None,
        Some(tenant) => {
            match super::run_as::plan(&tenant, &ctx.resources.config.server_name).await {
                Ok(plan) => Some(plan),
                Err(message) => return Ok(Outcome::final_failure(message)),
            }
        }
    };
    // Resolved here only when the task runs as the worker's own user: a tenant's user may
    // not reach what the worker's PATH finds first (root's pyenv, say), and the exec after
    // its user switch searches PATH itself, skipping what it may not run. (A user switch
    // means fork and exec anyway.)
    let switches_user = run_as.as_ref().is_some_and(|plan| plan.switch);
    let program_path = if switches_user {
        PathBuf::from(&program)
    } else {
        resolve_program(&program)
    };
    let mut command = Command::new(program_path);
    command
        .args(&argv[1..])
        .current_dir(work_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        // Nothing of the worker's own environment but the allow-list (tasks::env).
        .env_clear()
        .envs(super::env::inherited(
            std::env::vars_os(),
            &ctx.resources.config.task_env_passthrough,
            matches!(task.task_type.as_str(), "spark" | "mr"),
        ))
        .env("PGDAG_TASK_INSTANCE_ID", task.id.to_string())
        .env(
            "PGDAG_WORKFLOW_INSTANCE_ID",
            task.workflow_instance_id.to_string(),
        )
        .env("PGDAG_ATTEMPT", task.attempt.to_string());
    if let Some(plan) = &run_as {
        command.envs(super::run_as::identity_env(&plan.user));
        if plan.switch {
            // SAFETY: the closure makes only async-signal-safe system calls on data
            // prepared before the fork (run_as::switch_user).
            unsafe {
                command.pre_exec(super::run_as::switch_user(&plan.user));
            }
            ctx.log(format!(
                "[pgdag] running as OS user {} (uid {}) of tenant {}\n",
                plan.user.name,
                plan.user.uid,
                task.payload["tenant"]["name"].as_str().unwrap_or_default()
            ));
        }
    }
    for (name, value) in &ctx.params {
        if super::env::is_env_name(name) {
            command.env(format!("PGDAG_PARAM_{}", name.to_uppercase()), value);
        }
    }
    // The task's own declared `env:` entries, when its payload carries them.
    if let Some(serde_json::Value::Object(declared)) = task.payload.get("env") {
        for (name, value) in declared {
            if super::env::is_env_name(name) && !name.starts_with(super::env::RESERVED_PREFIX) {
                let value = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                command.env(name, value);
            }
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let registry = &ctx.resources.registry;
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    if let Some(pgid) = pgid {
        registry.add(pgid.as_raw());
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let budget = std::sync::Arc::new(Budget {
        used: Default::default(),
        max: ctx.resources.config.task_log_max,
        cut: Default::default(),
    });
    let out_reader = tokio::spawn(pump(
        stdout,
        ctx.task.clone(),
        ctx.log_sink().clone(),
        true,
        budget.clone(),
    ));
    let err_reader = tokio::spawn(pump(
        stderr,
        ctx.task.clone(),
        ctx.log_sink().clone(),
        false,
        budget.clone(),
    ));
    // First the exit, seen without reaping so that its resource usage can be read (see
    // tasks::usage); then tokio reaps the zombie and gives the status.
    let mut terminating = false;
    let usage = match child.id() {
        None => None,
        Some(pid) => {
            let exited = super::usage::wait_exited(pid);
            tokio::pin!(exited);
            tokio::select! {
                usage = &mut exited => usage,
                _ = ctx.cancel.cancelled() => {
                    terminating = true;
                    ctx.log("[pgdag] terminating the process group\n");
                    if let Some(pgid) = pgid {
                        let _ = killpg(pgid, Signal::SIGTERM);
                    }
                    match tokio::time::timeout(KILL_GRACE, &mut exited).await {
                        Ok(usage) => usage,
                        Err(_) => {
                            if let Some(pgid) = pgid {
                                let _ = killpg(pgid, Signal::SIGKILL);
                            }
                            exited.await
                        }
                    }
                }
            }
        }
    };
    // Immediate once the child has exited; the full wait when the usage could not be read.
    let status = tokio::select! {
        status = child.wait() => status,
        _ = ctx.cancel.cancelled(), if !terminating => {
            ctx.log("[pgdag] terminating the process group\n");
            terminate(&mut child, pgid).await
        }
    };
    // Whatever the program left in its process group dies with it (and closes the pipes).
    if let Some(pgid) = pgid {
        let _ = killpg(pgid, Signal::SIGKILL);
        registry.remove(pgid.as_raw());
    }
    let out_params = out_reader.await.unwrap_or_default();
    let _ = err_reader.await;
    if budget.cut.load(std::sync::atomic::Ordering::Relaxed) {
        ctx.log(format!(
            "\n[pgdag] log cut: output beyond {} bytes of this attempt was not kept (PGDAG_TASK_LOG_MAX)\n",
            budget.max
        ));
    }
    let status = status.map_err(|e| format!("waiting for the task process failed: {e}"))?;
    let exit_code = status.code().or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        status.signal().map(|s| 128 + s)
    });
    ctx.log(format!("[pgdag] exit code {}\n", exit_code.unwrap_or(-1)));
    Ok(Outcome {
        succeeded: status.success(),
        exit_code,
        out_params,
        result: None,
        error: (!status.success()).then(|| format!("exit code {}", exit_code.unwrap_or(-1))),
        no_retry: false,
        usage,
    })
}

/// SIGTERM to the process group, SIGKILL after `KILL_GRACE`; the program's exit status.
async fn terminate(
    child: &mut tokio::process::Child,
    pgid: Option<Pid>,
) -> std::io::Result<std::process::ExitStatus> {
    if let Some(pgid) = pgid {
        let _ = killpg(pgid, Signal::SIGTERM);
    }
    match tokio::time::timeout(KILL_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            if let Some(pgid) = pgid {
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            child.wait().await
        }
    }
}

/// Longest piece of one output line logged at once: a longer line is cut there and goes on
/// in the next piece (no newline added), so no line is ever held in memory whole.
pub const LINE_MAX: usize = 64 * 1024;

/// What the output pumps of one attempt share: bytes logged so far and the cap.
struct Budget {
    used: std::sync::atomic::AtomicU64,
    max: u64,
    cut: std::sync::atomic::AtomicBool,
}

impl Budget {
    /// Whether `n` more bytes may be logged; the first refusal marks the log as cut.
    fn take(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        if self.cut.load(Ordering::Relaxed) {
            return false;
        }
        let before = self.used.fetch_add(n as u64, Ordering::Relaxed);
        if before + n as u64 > self.max {
            self.cut.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// Forward output to the log in pieces of at most [`LINE_MAX`] bytes, waiting when the
/// shipper is behind; past the attempt's cap, output is read and dropped. On stdout, whole
/// lines with `${setValue(k=v)}` set out params.
async fn pump(
    stream: impl AsyncRead + Unpin,
    task: crate::store::queue::ClaimedTask,
    sink: std::sync::Arc<dyn super::LogSink>,
    collect: bool,
    budget: std::sync::Arc<Budget>,
) -> params::ParamMap {
    let mut out = params::ParamMap::new();
    // The default 8 KiB buffer: a line longer than it is gathered in `line` up to LINE_MAX.
    let mut reader = BufReader::new(stream);
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    // The current line was already cut (its first piece is gone): not an out param.
    let mut continued = false;
    loop {
        let (taken, complete) = match reader.fill_buf().await {
            Ok([]) | Err(_) => (0, true),
            Ok(buf) => {
                let room = LINE_MAX - line.len();
                match buf.iter().take(room).position(|b| *b == b'\n') {
                    Some(at) => {
                        line.extend_from_slice(&buf[..=at]);
                        (at + 1, true)
                    }
                    None => {
                        let n = buf.len().min(room);
                        line.extend_from_slice(&buf[..n]);
                        (n, false)
                    }
                }
            }
        };
        let eof = taken == 0;
        reader.consume(taken);
        if !line.is_empty() && (complete || line.len() >= LINE_MAX) {
            let text = String::from_utf8_lossy(&line).into_owned();
            let whole = complete && !continued;
            if collect && whole && text.contains("${setValue(") {
                out.extend(params::parse_set_value(&text));
            }
            continued = !complete;
            if budget.take(text.len()) {
                sink.log_waiting(&task, text).await;
            }
            line.clear();
        }
        if eof {
            break;
        }
    }
    out
}

/// `program` as an absolute path found on the worker's `PATH` (the task's `PATH` is the
/// same: the clean environment passes it through). A name found nowhere is left as it is,
/// so the spawn reports it. Why: a child environment that sets `PATH` makes the standard
/// library look the program up itself and give up `posix_spawn` for fork and exec, which
/// costs a third of the fan-out rate in a process the size of a worker; an absolute path
/// keeps `posix_spawn`.
fn resolve_program(program: &str) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    let Some(path) = std::env::var_os("PATH") else {
        return PathBuf::from(program);
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| PathBuf::from(program))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The directory tasks run in: the system temp directory, where every task can write
/// scratch files (`mktemp` for private ones).
fn work_dir() -> PathBuf {
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    #[test]
    fn programs_are_found_on_the_path_or_left_as_named() {
        let bash = super::resolve_program("bash");
        assert!(bash.is_absolute(), "{bash:?}");
        assert!(bash.ends_with("bash"));
        assert_eq!(
            super::resolve_program("/bin/sh"),
            std::path::PathBuf::from("/bin/sh")
        );
        assert_eq!(
            super::resolve_program("no-such-program-pgdag"),
            std::path::PathBuf::from("no-such-program-pgdag")
        );
    }

    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);

    impl crate::tasks::LogSink for Collect {
        fn log(&self, _task: &crate::store::queue::ClaimedTask, text: String) {
            self.0.lock().unwrap().push(text);
        }
    }

    fn claimed() -> crate::store::queue::ClaimedTask {
        crate::store::queue::ClaimedTask {
            id: 1,
            workflow_instance_id: 1,
            name: "t".into(),
            task_type: "shell".into(),
            attempt: 1,
            claim_token: uuid::Uuid::nil(),
            payload: serde_json::json!({}),
            next_seq: 0,
            order_key: (0, 0, 0, 0),
            datasource: None,
        }
    }

    fn budget(max: u64) -> Arc<Budget> {
        Arc::new(Budget {
            used: Default::default(),
            max,
            cut: Default::default(),
        })
    }

    #[tokio::test]
    async fn long_lines_go_in_pieces_and_set_value_only_from_whole_lines() {
        let mut input = vec![b'x'; LINE_MAX * 2 + 10];
        input.extend_from_slice(b"${setValue(a=1)}\nshort\n${setValue(b=2)}");
        let sink = Arc::new(Collect::default());
        let out = pump(&input[..], claimed(), sink.clone(), true, budget(u64::MAX)).await;
        let pieces = sink.0.lock().unwrap().clone();
        assert!(pieces.iter().all(|p| p.len() <= LINE_MAX));
        assert_eq!(pieces.concat().as_bytes(), &input[..]);
        assert_eq!(
            pieces.len(),
            5,
            "two full pieces, the rest of the line, short, last"
        );
        // `a` rode on a cut line; `b` is a whole (last) line.
        assert!(!out.contains_key("a"));
        assert_eq!(out.get("b").map(String::as_str), Some("2"));
    }

    #[tokio::test]
    async fn past_the_cap_output_is_dropped_and_the_log_marked_cut() {
        let input = vec![b'y'; LINE_MAX * 4];
        let sink = Arc::new(Collect::default());
        let b = budget((LINE_MAX * 2) as u64);
        pump(&input[..], claimed(), sink.clone(), false, b.clone()).await;
        let kept: usize = sink.0.lock().unwrap().iter().map(String::len).sum();
        assert_eq!(kept, LINE_MAX * 2);
        assert!(b.cut.load(std::sync::atomic::Ordering::Relaxed));
    }
}

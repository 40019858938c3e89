//! Runs one attempt: a shell or python script in its own process group, its stdout and
//! stderr streamed to the shipper line by line, `${setValue(k=v)}` lines collected as out
//! params, the exit code deciding the outcome. A kill request terminates the whole process
//! group (SIGTERM, then SIGKILL after a grace period). When the script exits, whatever it
//! left running in its group is killed too, so no task leaves processes behind.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::Stop;
use super::orphans::Registry;
use super::shipper::Shipper;
use crate::config::Config;
use crate::params;
use crate::spec::{TaskTimeout, TimeoutStrategy};
use crate::store::queue::{ClaimedTask, Completion};

/// Time between SIGTERM and SIGKILL when a task is killed.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

pub async fn run(
    config: &Config,
    task: ClaimedTask,
    shipper: &Shipper,
    stop: &Stop,
    registry: &Registry,
) {
    let kill = &stop.kill;
    if stop.hand_back.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    if kill.is_cancelled() {
        // Killed while it waited for a slot: it never ran.
        shipper.complete(Completion {
            task_instance_id: task.id,
            claim_token: task.claim_token,
            outcome: "killed",
            exit_code: None,
            out_params: serde_json::json!({}),
            error: Some("killed before it started".into()),
        });
        return;
    }
    shipper.started(&task);
    shipper.log(
        &task,
        format!(
            "[pgdag] attempt {} of task {} on {}\n",
            task.attempt, task.name, config.server_name
        ),
    );
    let outcome = match task.task_type.as_str() {
        "shell" => run_script(&task, shipper, kill, registry, "bash", "sh").await,
        "python" => run_script(&task, shipper, kill, registry, &config.python, "py").await,
        other => Err(format!("this worker cannot run task type {other}")),
    };
    let completion = match outcome {
        Ok(done) => done,
        Err(message) => {
            shipper.log(&task, format!("[pgdag] error: {message}\n"));
            Completion {
                task_instance_id: task.id,
                claim_token: task.claim_token,
                outcome: "failed",
                exit_code: None,
                out_params: serde_json::json!({}),
                error: Some(message),
            }
        }
    };
    if stop.hand_back.load(std::sync::atomic::Ordering::SeqCst) {
        // Given back (shutdown or fencing): whoever re-queues it owns the outcome now.
        shipper.log(
            &task,
            "[pgdag] attempt handed back, not reported\n".to_string(),
        );
        return;
    }
    shipper.complete(completion);
}

async fn run_script(
    task: &ClaimedTask,
    shipper: &Shipper,
    kill: &CancellationToken,
    registry: &Registry,
    interpreter: &str,
    extension: &str,
) -> Result<Completion, String> {
    let script = task
        .payload
        .get("script")
        .and_then(|s| s.as_str())
        .ok_or_else(|| "the task has no script".to_string())?;
    let workdir = work_dir();
    // Scripts up to INLINE_SCRIPT_MAX go as `-c` arguments; larger ones through a file
    // (the kernel limits one argument to 128 KiB). Creating and deleting a file and a
    // directory per attempt cost more than the process spawn itself.
    let script_file = if script.len() > INLINE_SCRIPT_MAX {
        let path = workdir.join(format!("task-{}-{}.{extension}", task.id, task.attempt));
        let text = script.to_string();
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(target.parent().expect("a file in a directory"))?;
            std::fs::write(&target, text)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Some(path)
    } else {
        None
    };

    let mut command = Command::new(interpreter);
    command
        .current_dir(&workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .env("PGDAG_TASK_INSTANCE_ID", task.id.to_string())
        .env(
            "PGDAG_WORKFLOW_INSTANCE_ID",
            task.workflow_instance_id.to_string(),
        )
        .env("PGDAG_ATTEMPT", task.attempt.to_string());
    if let Some(params) = task.payload.get("params").and_then(|p| p.as_object()) {
        for (name, value) in params {
            if let Some(value) = value.as_str() {
                if is_env_name(name) {
                    command.env(format!("PGDAG_PARAM_{}", name.to_uppercase()), value);
                }
            }
        }
    }
    match &script_file {
        Some(path) => command.arg(path),
        None => command.arg("-c").arg(script),
    };
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {interpreter}: {e}"))?;
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    if let Some(pgid) = pgid {
        registry.add(pgid.as_raw());
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = tokio::spawn(pump(stdout, task.clone(), shipper.clone(), true));
    let err_reader = tokio::spawn(pump(stderr, task.clone(), shipper.clone(), false));

    let timeout: Option<TaskTimeout> = task
        .payload
        .get("timeout")
        .and_then(|t| serde_json::from_value(t.clone()).ok());
    let deadline = timeout
        .as_ref()
        .map(|t| tokio::time::Instant::now() + t.after.as_std());
    let mut killed = false;
    let mut timed_out: Option<String> = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = kill.cancelled() => {
                killed = true;
                shipper.log(task, "[pgdag] kill requested: terminating the process group\n".to_string());
                break terminate(&mut child, pgid).await;
            }
            _ = sleep_until_some(deadline), if timed_out.is_none() && deadline.is_some() => {
                let limit = timeout.as_ref().expect("a deadline comes from a timeout");
                let message = format!("timed out: ran longer than {}", limit.after);
                shipper.log(task, format!("[pgdag] {message} (strategy {})\n", limit.strategy));
                if matches!(limit.strategy, TimeoutStrategy::Warn | TimeoutStrategy::WarnAndFail) {
                    shipper.alert(task, "task_timeout", message.clone());
                }
                timed_out = Some(message);
                if matches!(limit.strategy, TimeoutStrategy::Fail | TimeoutStrategy::WarnAndFail) {
                    break terminate(&mut child, pgid).await;
                }
            }
        }
    };
    let timeout_failed = timed_out.is_some()
        && timeout
            .as_ref()
            .is_some_and(|t| !matches!(t.strategy, TimeoutStrategy::Warn));
    // Whatever the script left in its process group dies with it (and closes the pipes).
    if let Some(pgid) = pgid {
        let _ = killpg(pgid, Signal::SIGKILL);
        registry.remove(pgid.as_raw());
    }
    let out_params = out_reader.await.unwrap_or_default();
    let _ = err_reader.await;
    if let Some(path) = script_file {
        let _ = tokio::fs::remove_file(path).await;
    }
    let status = status.map_err(|e| format!("waiting for the task process failed: {e}"))?;
    let exit_code = status.code().or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        status.signal().map(|s| 128 + s)
    });
    let outcome = if killed {
        "killed"
    } else if timeout_failed {
        "failed"
    } else if status.success() {
        "succeeded"
    } else {
        "failed"
    };
    shipper.log(
        task,
        format!(
            "[pgdag] exit code {} ({outcome})\n",
            exit_code.unwrap_or(-1)
        ),
    );
    Ok(Completion {
        task_instance_id: task.id,
        claim_token: task.claim_token,
        outcome,
        exit_code,
        out_params: serde_json::to_value(out_params).unwrap_or_default(),
        error: if timeout_failed { timed_out } else { None },
    })
}

/// SIGTERM to the process group, SIGKILL after `KILL_GRACE`; the script's exit status.
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

async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Forward lines to the shipper; on stdout, collect `${setValue(k=v)}` out params.
async fn pump(
    stream: impl AsyncRead + Unpin,
    task: ClaimedTask,
    shipper: Shipper,
    collect: bool,
) -> params::ParamMap {
    let mut out = params::ParamMap::new();
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).into_owned();
                if collect && text.contains("${setValue(") {
                    out.extend(params::parse_set_value(&text));
                }
                shipper.log(&task, text);
            }
        }
    }
    out
}

/// Largest script passed inline with `-c`.
const INLINE_SCRIPT_MAX: usize = 100 * 1024;

/// The directory tasks run in: the system temp directory, where every task can write
/// scratch files (`mktemp` for private ones).
fn work_dir() -> PathBuf {
    std::env::temp_dir()
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
